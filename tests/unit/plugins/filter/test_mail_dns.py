"""The DNS records a mail server's domains need, and the zone-file text they are printed as."""

import base64
import os
import re
import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter.mail_dns import (
    mail_dkim_keys,
    mail_dkim_txt,
    mail_dns_merge,
    mail_dns_records,
    mail_dns_zone,
    mail_peer_list,
    reverse_zone,
    txt_strings,
)

# A 2048-bit key's p= is 392 base64 characters: longer than one 255-octet TXT string.
P = base64.b64encode(bytes(range(256)) + bytes(range(38))).decode()
DKIM = "v=DKIM1; h=sha256; k=rsa; p=" + P

# What opendkim-genkey writes (Debian 12 and 13): the value split into quoted strings.
GENKEY_TXT = (
    'mail._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; "\n'
    '\t  "p=' + P[:250] + '"\n'
    '\t  "' + P[250:] + '" )  ; ----- DKIM key mail for my-site.com\n'
)


def records(**kwargs):
    args = {"server": "bigboy.my-site.com", "addresses": ["192.0.2.25", "2001:db8::25"],
            "dkim": {"my-site.com": {"selector": "mail", "value": DKIM}}}
    args.update(kwargs)
    return mail_dns_records(["my-site.com", "another-site.com"], **args)


def by_name(recs):
    return {(r["name"], r["type"]): r for r in recs}


def test_every_domain_gets_mx_spf_dmarc_and_dkim_when_it_has_a_key():
    recs = by_name(records())
    assert recs[("my-site.com.", "MX")]["value"] == "10 bigboy.my-site.com."
    assert recs[("my-site.com.", "TXT")]["value"] == "v=spf1 mx ip4:192.0.2.25 ip6:2001:db8::25 -all"
    assert recs[("mail._domainkey.my-site.com.", "TXT")]["value"] == DKIM
    assert recs[("_dmarc.my-site.com.", "TXT")]["value"] == "v=DMARC1; p=none; rua=mailto:postmaster@my-site.com"
    assert recs[("another-site.com.", "MX")]["value"] == "10 bigboy.my-site.com."
    assert ("mail._domainkey.another-site.com.", "TXT") not in recs
    assert recs[("_dmarc.another-site.com.", "TXT")]["zone"] == "another-site.com."


def test_server_gets_a_aaaa_and_ptr_that_names_it():
    recs = by_name(records())
    assert recs[("bigboy.my-site.com.", "A")]["value"] == "192.0.2.25"
    assert recs[("bigboy.my-site.com.", "AAAA")]["value"] == "2001:db8::25"
    ptr4 = recs[("25.2.0.192.in-addr.arpa.", "PTR")]
    assert ptr4["value"] == "bigboy.my-site.com." and ptr4["zone"] == "2.0.192.in-addr.arpa."
    ptr6 = [r for r in recs.values() if r["type"] == "PTR" and r["name"].endswith("ip6.arpa.")][0]
    assert ptr6["zone"] == "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."


def test_no_address_means_no_a_and_no_ptr_and_spf_by_mx_only():
    recs = records(addresses=[])
    assert {r["type"] for r in recs} == {"MX", "TXT"}
    assert by_name(recs)[("my-site.com.", "TXT")]["value"] == "v=spf1 mx -all"


def test_dmarc_policy_and_rua_are_choices():
    recs = by_name(records(dmarc_policy="reject", dmarc_rua=""))
    assert recs[("_dmarc.another-site.com.", "TXT")]["value"] == "v=DMARC1; p=reject"


def test_long_txt_is_split_at_255_octets():
    rec = by_name(records())[("mail._domainkey.my-site.com.", "TXT")]
    assert len(rec["strings"]) == 2
    assert all(len(s) <= 255 for s in rec["strings"])
    assert "".join(rec["strings"]) == DKIM
    assert txt_strings("") == [""]


@pytest.mark.parametrize("kwargs, message", [
    ({"server": "bad_host..name"}, "server"),
    ({"addresses": ["192.0.2.300"]}, r"addresses\[0\]: '192.0.2.300' is not valid: an IP address"),
    ({"dkim": {"other.example": {"selector": "mail", "value": DKIM}}}, "not among the domains"),
    ({"dkim": {"my-site.com": {"selector": "mail", "value": "p=abc"}}}, "DKIM key record"),
    ({"dkim": {"my-site.com": {"selector": "bad selector", "value": DKIM}}}, "selector"),
    ({"spf_all": "+all"}, "spf_all"),
    ({"dmarc_policy": "block"}, "dmarc_policy"),
    ({"ttl": -1}, "ttl"),
])
def test_bad_input_names_what_is_wrong(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        records(**kwargs)


def test_duplicate_domain_is_refused():
    with pytest.raises(AnsibleFilterError, match="listed twice"):
        mail_dns_records(["my-site.com", "My-Site.com."], server="bigboy.my-site.com")


def test_reverse_zone():
    assert reverse_zone("127.0.0.1") == "0.0.127.in-addr.arpa."


def test_zone_text_groups_by_zone_and_quotes_txt():
    text = mail_dns_zone(records())
    lines = text.splitlines()
    assert lines[0].startswith("; ")
    assert "; zone my-site.com." in lines and "; zone 2.0.192.in-addr.arpa." in lines
    assert 'my-site.com.\t3600\tIN\tTXT\t"v=spf1 mx ip4:192.0.2.25 ip6:2001:db8::25 -all"' in lines
    dkim_line = [line for line in lines if line.startswith("mail._domainkey.")][0]
    assert dkim_line.count('"') == 4
    assert '"v=DMARC1; p=none; rua=mailto:postmaster@my-site.com"' in text


def test_txt_quote_and_backslash_are_escaped():
    recs = records()
    recs[1]["strings"] = ['say "hi" \\ bye']
    assert '"say \\"hi\\" \\\\ bye"' in mail_dns_zone(recs)


def _parse_with_dnspython(text):
    zone = pytest.importorskip("dns.zone")
    import dns.rdatatype  # noqa: PLC0415 (needs the importorskip above)

    # Origin "." takes every absolute name; check_origin=False: a snippet has no SOA/NS.
    parsed = zone.from_text(text, origin=".", relativize=False, check_origin=False)
    out = {}
    for name, node in parsed.nodes.items():
        for rdataset in node.rdatasets:
            for rdata in rdataset:
                out[(name.to_text(), dns.rdatatype.to_text(rdataset.rdtype))] = rdata
    return out


def test_zone_text_is_valid_zone_syntax_for_dnspython():
    parsed = _parse_with_dnspython(mail_dns_zone(records()))
    dkim = parsed[("mail._domainkey.my-site.com.", "TXT")]
    assert b"".join(dkim.strings).decode() == DKIM
    assert parsed[("my-site.com.", "MX")].exchange.to_text() == "bigboy.my-site.com."
    assert parsed[("25.2.0.192.in-addr.arpa.", "PTR")].target.to_text() == "bigboy.my-site.com."
    assert len(parsed) == len(records())


def test_zone_text_passes_named_checkzone(tmp_path):
    text = mail_dns_zone(records())
    for zone in sorted({r["zone"] for r in records()}):
        body = "\n".join(line for line in text.splitlines()
                         if line.split("\t", 1)[0].endswith(zone) or line.startswith(";"))
        path = tmp_path / (zone + "zone")
        path.write_text(f"$TTL 3600\n{zone} IN SOA ns.{zone} hostmaster.{zone} 1 3600 600 86400 300\n"
                        f"{zone} IN NS ns.{zone}\nns.{zone} IN A 192.0.2.53\n{body}\n")
        result = subprocess.run(["named-checkzone", zone, os.fspath(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_genkey_txt_file_is_read_back_to_the_record_value():
    assert mail_dkim_txt(GENKEY_TXT) == DKIM


def test_genkey_txt_without_key_is_refused():
    with pytest.raises(AnsibleFilterError, match="no DKIM key record"):
        mail_dkim_txt('mail._domainkey IN TXT ( "v=spf1 -all" )')


def test_peer_list_from_the_chapters_relay_keys():
    keys = ["192.168.1.16", "192.168.2", "my-site.com", "127.0.0.1", "IPv6:2001:db8::1", "10", "Connect:localhost"]
    assert mail_peer_list(keys) == [
        "192.168.1.16", "192.168.2.0/24", "my-site.com", ".my-site.com", "127.0.0.1", "2001:db8::1",
        "10.0.0.0/8", "localhost",
    ]
    with pytest.raises(AnsibleFilterError, match="mail_peer_list: 'user@my-site.com' is not valid: an address, a network or a host"):
        mail_peer_list(["user@my-site.com"])
    with pytest.raises(AnsibleFilterError, match="mail_peer_list: '300.1' is not valid: an IPv4 address or a prefix"):
        mail_peer_list(["300.1"])


def test_dkim_keys_one_directory_per_domain_and_selector_overrides():
    keys = mail_dkim_keys(["my-site.com", "another-site.com"], "mail", {"another-site.com": "s2026"}, "/etc/dkimkeys/")
    assert keys == [
        {"domain": "my-site.com", "selector": "mail", "dir": "/etc/dkimkeys/my-site.com",
         "private": "/etc/dkimkeys/my-site.com/mail.private", "txt": "/etc/dkimkeys/my-site.com/mail.txt"},
        {"domain": "another-site.com", "selector": "s2026", "dir": "/etc/dkimkeys/another-site.com",
         "private": "/etc/dkimkeys/another-site.com/s2026.private", "txt": "/etc/dkimkeys/another-site.com/s2026.txt"},
    ]


@pytest.mark.parametrize("args, message", [
    ((["my-site.com"], "mail", {"other.example": "x"}, "/etc/dkimkeys"), "not signing domains"),
    ((["my-site.com"], "../x", {}, "/etc/dkimkeys"), "selector"),
    ((["my-site.com"], "mail", {}, "keys"), "absolute path"),
    ((["bad domain"], "mail", {}, "/etc/dkimkeys"), "mail_dkim_keys: domain"),
])
def test_dkim_keys_bad_input(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        mail_dkim_keys(*args)


# Two servers of one domain: the primary bigboy and a backup MX.
DKIM2 = "v=DKIM1; k=rsa; p=" + base64.b64encode(b"backup key").decode()


def two_servers(**backup):
    args = {"server": "backupmx.my-site.com", "addresses": ["192.0.2.26"], "mx_priority": 20,
            "dkim": {"my-site.com": {"selector": "backupmx", "value": DKIM2}}}
    args.update(backup)
    return {"bigboy.my-site.com": records(),
            "backupmx.my-site.com": mail_dns_records(["my-site.com", "another-site.com"], **args)}


def test_merge_joins_mx_and_addresses_and_keeps_one_spf_and_one_dmarc_per_domain():
    merged = mail_dns_merge(two_servers())
    mx = sorted(r["value"] for r in merged if r["type"] == "MX" and r["name"] == "my-site.com.")
    assert mx == ["10 bigboy.my-site.com.", "20 backupmx.my-site.com."]
    spf = [r for r in merged if r["type"] == "TXT" and r["value"].startswith("v=spf1") and r["name"] == "my-site.com."]
    assert [r["value"] for r in spf] == ["v=spf1 mx ip4:192.0.2.25 ip6:2001:db8::25 ip4:192.0.2.26 -all"]
    assert spf[0]["strings"] == [spf[0]["value"]]
    assert len([r for r in merged if r["name"] == "_dmarc.my-site.com."]) == 1
    keys = {r["name"]: r["value"] for r in merged if "._domainkey." in r["name"]}
    assert keys == {"mail._domainkey.my-site.com.": DKIM, "backupmx._domainkey.my-site.com.": DKIM2}
    assert {r["value"] for r in merged if r["type"] == "PTR"} == {"bigboy.my-site.com.", "backupmx.my-site.com."}


def test_merge_of_one_server_is_that_server_and_repeats_are_dropped():
    alone = mail_dns_merge({"bigboy": records()})
    assert sorted(map(str, alone)) == sorted(map(str, records()))
    assert mail_dns_merge({"a": records(), "b": records()}) == alone


def test_merged_zone_lists_mx_by_priority_then_spf_dkim_dmarc():
    merged = [r for r in mail_dns_merge(two_servers()) if r["zone"] == "my-site.com."]
    kinds = [r["type"] if r["type"] != "TXT" else r["value"].split("1", 1)[0] for r in merged]
    assert kinds[:6] == ["MX", "MX", "v=spf", "v=DKIM", "v=DKIM", "v=DMARC"]
    assert merged[0]["value"].startswith("10 ") and merged[1]["value"].startswith("20 ")


def test_merged_zone_has_no_duplicate_spf_or_dmarc_and_passes_named_checkzone(tmp_path):
    merged = mail_dns_merge(two_servers())
    parsed = _parse_with_dnspython(mail_dns_zone(merged))
    assert parsed  # dnspython read every line
    text = mail_dns_zone(merged)
    zone = "my-site.com."
    body = "\n".join(line for line in text.splitlines() if line.split("\t", 1)[0].endswith(zone))
    assert body.count("v=spf1") == 1 and body.count("v=DMARC1") == 1
    path = tmp_path / "zone"
    path.write_text(f"$TTL 3600\n{zone} IN SOA ns.{zone} hostmaster.{zone} 1 3600 600 86400 300\n"
                    f"{zone} IN NS ns.{zone}\nns.{zone} IN A 192.0.2.53\n{body}\n")
    result = subprocess.run(["named-checkzone", zone, os.fspath(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("backup", "message"), [
    ({"dkim": {"my-site.com": {"selector": "mail", "value": DKIM2}}}, "different DKIM key at mail._domainkey.my-site.com."),
    ({"dmarc_policy": "reject"}, "different DMARC policy at _dmarc.my-site.com."),
    ({"spf_all": "~all"}, "ends in -all on bigboy.my-site.com but ~all on backupmx.my-site.com"),
    ({"addresses": ["192.0.2.25"]}, "different reverse name at 25.2.0.192.in-addr.arpa."),
])
def test_merge_refuses_what_two_servers_cannot_both_publish(backup, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        mail_dns_merge(two_servers(**backup))


@pytest.mark.parametrize("bad", [[], {"a": "text"}, {"a": [{"name": "x."}]}])
def test_merge_bad_input_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="mail_dns_merge: input"):
        mail_dns_merge(bad)

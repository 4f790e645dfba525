"""Deliverability, proved with real mail over 127.0.0.0/8 inside the container.

bigboy.my-site.com (127.0.0.1:25) signs with OpenDKIM and checks SPF (pyspf-milter,
spf role) and DMARC (OpenDMARC); the lab name server on 127.0.0.2 serves the records that
playbooks/dns_records.yml printed; "remote.example" is the SMTP sink on 127.0.0.3.
Its SPF record allows 127.0.0.4, not 127.0.0.5; strict.example publishes p=reject.
Signatures are checked with dkimpy's dkimverify, not by the signer.
side_effect.yml ran the tag and tempfail policies and left reject in force.
"""

import hashlib
import json
import os
import re
import stat
import uuid
from email.utils import parseaddr

import pytest

PROBE = "python3 /usr/local/sbin/deliverability_probe.py"
AUTHSERV = "bigboy.my-site.com"


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def probe(host, *args):
    result = host.run(PROBE + " " + " ".join(quote(a) for a in args))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def python_json(host, script):
    """Run a Python script inside the container and return the JSON it prints."""
    result = host.run("python3 -c " + quote(script))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def token(kind):
    return f"{kind}-{uuid.uuid4().hex[:10]}"


def results(entry, method):
    """The method's results (spf=..., dkim=...) in the Authentication-Results fields under our authserv-id."""
    fields = (entry.get("delivered") or {}).get("authentication_results") or []
    found = []
    for field in fields:
        if field.split(";", 1)[0].strip() == AUTHSERV:
            found += re.findall(r"\b%s=(\w+)" % method, field)
    return found


@pytest.fixture(scope="module")
def outbound(host):
    """A local user's mail to an outside address, as the sink received it, with dkimverify's verdicts."""
    return probe(host, "outbound", token("out"))


@pytest.fixture(scope="module")
def outbound_without_from(host):
    """marc's mail with only To and Subject (as `mail` and cron send it): the MSP writes From."""
    return probe(host, "outbound-nofrom", token("nofrom"))


@pytest.fixture(scope="module")
def inbound(host, outbound):
    """Inbound sessions under the reject policies side_effect.yml left in force."""
    sink = re.search(r"Subject: dkim (\S+)", outbound["message"]).group(1)
    cases = [
        {"name": "spf_fail", "src": "127.0.0.5", "helo": "untrusted.example", "mail_from": "someone@remote.example",
         "rcpt": "marc@my-site.com", "from": "someone@remote.example", "token": token("in")},
        {"name": "spf_pass", "src": "127.0.0.4", "helo": "good.remote.example", "mail_from": "someone@remote.example",
         "rcpt": "marc@my-site.com", "from": "someone@remote.example", "token": token("in")},
        {"name": "dmarc_forged", "src": "127.0.0.4", "helo": "good.remote.example", "mail_from": "bounce@remote.example",
         "rcpt": "marc@my-site.com", "from": "ceo@strict.example", "token": token("in")},
        {"name": "dkim_signed", "src": "127.0.0.4", "helo": "good.remote.example", "mail_from": "bounce@remote.example",
         "rcpt": "peter@my-site.com", "user": "peter", "from": "", "token": sink, "sink_token": sink},
        {"name": "dkim_tampered", "src": "127.0.0.4", "helo": "good.remote.example",
         "mail_from": "bounce@remote.example", "rcpt": "mary@my-site.com", "user": "mary", "from": "", "token": sink,
         "sink_token": sink, "tamper": True, "opendkim_log": "bad signature data"},
    ]
    return {entry["case"]: entry for entry in probe(host, "inbound", json.dumps(cases))}


@pytest.fixture(scope="module")
def side_effect(host):
    return {name: json.loads(host.file(f"/var/tmp/deliverability/{name}.json").content_string)
            for name in ("policies", "bad_input")}


# --- the milters and sendmail -----------------------------------------------------------

def test_milters_run_and_sendmail_calls_them_in_order(host):
    for service in ("opendkim", "pyspf-milter", "opendmarc", "sendmail"):
        assert host.service(service).is_running, service
    filters = [line.split(",")[0] for line in host.file("/etc/mail/sendmail.cf").content_string.splitlines()
               if line.startswith("X")]
    assert filters == ["Xopendkim", "Xpyspf", "Xopendmarc"]
    assert "O InputMailFilters=opendkim, pyspf, opendmarc" in host.file("/etc/mail/sendmail.cf").content_string


def test_private_keys_stay_private(host):
    for domain in ("my-site.com", "another-site.com"):
        key = host.file(f"/etc/dkimkeys/{domain}/mail.private")
        assert key.mode == 0o600 and key.user == "opendkim", domain
        assert host.file(f"/etc/dkimkeys/{domain}").mode == 0o700


# --- DKIM -------------------------------------------------------------------------------

def test_every_server_holds_the_key_shared_from_the_controller(host):
    """opendkim_key_source controller: the key on the host is the controller's, kept 0700/0600 there too."""
    shared = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "dkim-keys")
    for domain in ("my-site.com", "another-site.com"):
        for name in ("mail.private", "mail.txt"):
            path = os.path.join(shared, domain, name)
            with open(path, "rb") as f:
                want = hashlib.sha256(f.read()).hexdigest()
            assert host.file(f"/etc/dkimkeys/{domain}/{name}").sha256sum == want, (domain, name)
        assert stat.S_IMODE(os.stat(os.path.join(shared, domain)).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(os.path.join(shared, domain, "mail.private")).st_mode) == 0o600


def test_local_mail_leaves_signed_with_the_domains_selector(outbound):
    assert outbound["sent_rc"] == 0, outbound
    assert outbound.get("signature"), outbound.get("log") or outbound.get("message")
    tags = dict(part.strip().split("=", 1) for part in outbound["signature"].split(";") if "=" in part)
    assert tags["d"] == "my-site.com" and tags["s"] == "mail"
    assert tags["c"] == "relaxed/relaxed"


def test_signature_verifies_against_the_published_record(outbound):
    assert outbound["verify"] == {"rc": 0, "out": "signature ok"}


def test_tampered_body_fails_verification(outbound):
    assert outbound["tampered_verify"]["rc"] != 0
    assert "body hash mismatch" in outbound["tampered_verify"]["out"]


def test_mail_without_from_leaves_masqueraded_by_the_msp(outbound_without_from):
    """The example masquerades as my-site.com (envelope too): the MSP did it, not the MTA after signing."""
    out = outbound_without_from
    assert out["sent_rc"] == 0, out
    assert out.get("from"), out.get("log")
    assert parseaddr(out["from"])[1] == "marc@my-site.com", out["from"]
    assert out["envelope_from"] == "<marc@my-site.com>"


def test_mail_without_from_is_signed_and_its_signature_verifies(outbound_without_from):
    """Signed over the masqueraded From, which the MTA then leaves as it is: dkimverify accepts it."""
    assert outbound_without_from.get("signature"), outbound_without_from.get("log") or outbound_without_from.get("message")
    tags = dict(part.strip().split("=", 1) for part in outbound_without_from["signature"].split(";") if "=" in part)
    assert tags["d"] == "my-site.com" and tags["s"] == "mail"
    assert outbound_without_from["verify"] == {"rc": 0, "out": "signature ok"}, outbound_without_from["message"]


def test_inbound_signature_is_verified_into_authentication_results(inbound):
    assert inbound["dkim_signed"]["data"][0] == 250
    assert results(inbound["dkim_signed"], "dkim") == ["pass"]
    assert results(inbound["dkim_signed"], "dmarc") == ["pass"]


def test_inbound_tampered_signature_fails_and_dmarc_refuses_it(inbound):
    # my-site.com publishes p=reject (converge.yml), and the reject policies are in force:
    # with its DKIM signature broken and SPF (remote.example) not aligned, the forged
    # my-site.com mail is refused after DATA, so no mailbox holds its Authentication-Results.
    # OpenDKIM's own verdict on the signature is in its log.
    tampered = inbound["dkim_tampered"]
    assert tampered["data"][0] == 550, tampered
    assert "my-site.com" in tampered["data"][1]
    assert any("bad signature data" in line for line in tampered["opendkim_log"]), tampered["opendkim_log"]
    # the same message untampered passed (test above): the body change is what failed it


# --- SPF ---------------------------------------------------------------------------------

def test_spf_fail_is_marked_under_the_tag_policy(side_effect):
    tagged = {entry["case"]: entry for entry in side_effect["policies"]["tag"]}
    assert tagged["spf_fail"]["data"][0] == 250
    assert "fail" in results(tagged["spf_fail"], "spf")


def test_spf_fail_is_deferred_under_the_tempfail_policy(side_effect):
    deferred = side_effect["policies"]["tempfail"][0]
    assert deferred["mail"][0] == 451, deferred
    assert "4.7.23" in deferred["mail"][1]


def test_spf_fail_is_refused_under_the_reject_policy(inbound):
    refused = inbound["spf_fail"]
    assert refused["mail"][0] == 550, refused
    assert "5.7.23" in refused["mail"][1]


def test_spf_role_configured_pyspf_milter(host):
    """pyspf-milter.conf is the spf role's, with the reject policy side_effect.yml left and the relay client skipped."""
    conf = host.file("/etc/pyspf-milter/pyspf-milter.conf").content_string
    assert "spf_policy: reject" in conf
    skipped = next(line for line in conf.splitlines() if line.startswith("skip_addresses = "))
    assert {"127.0.0.1", "127.0.0.2"} <= set(skipped.split(" = ", 1)[1].split(","))


def test_spf_allowed_sender_passes(inbound):
    assert inbound["spf_pass"]["data"][0] == 250
    assert set(results(inbound["spf_pass"], "spf")) == {"pass"}


# --- DMARC --------------------------------------------------------------------------------

def test_forged_dmarc_reject_domain_is_marked_under_the_tag_policy(side_effect):
    tagged = {entry["case"]: entry for entry in side_effect["policies"]["tag"]}
    assert tagged["dmarc_forged"]["data"][0] == 250
    assert results(tagged["dmarc_forged"], "dmarc") == ["fail"]


def test_forged_dmarc_reject_domain_is_refused_under_the_reject_policy(inbound):
    forged = inbound["dmarc_forged"]
    assert forged["mail"][0] == 250 and forged["rcpt"][0] == 250
    assert forged["data"][0] == 550, forged
    assert "strict.example" in forged["data"][1]


# --- the published records ------------------------------------------------------------------

def test_printed_zone_snippet_parses_with_dnspython(host):
    script = (
        "import dns.zone, dns.rdatatype, json\n"
        "z = dns.zone.from_text(open('/var/tmp/published.zone').read(), origin='.', relativize=False,"
        " check_origin=False)\n"
        "print(json.dumps(sorted('%s %s' % (n.to_text(), dns.rdatatype.to_text(r.rdtype))"
        " for n, node in z.nodes.items() for r in node.rdatasets)))\n"
    )
    names = python_json(host, script)
    for domain in ("my-site.com.", "another-site.com."):
        assert {f"{domain} MX", f"{domain} TXT", f"mail._domainkey.{domain} TXT", f"_dmarc.{domain} TXT"} <= set(names)
    assert "bigboy.my-site.com. A" in names
    assert "1.0.0.127.in-addr.arpa. PTR" in names


def test_printed_zone_snippet_passes_named_checkzone(host):
    """Each zone of the snippet, with a SOA and NS added, loads in BIND's own checker."""
    text = host.file("/var/tmp/published.zone").content_string
    zones = re.findall(r"^; zone (\S+)$", text, re.M)
    assert set(zones) == {"another-site.com.", "my-site.com.", "0.0.127.in-addr.arpa."}
    for zone in zones:
        body = "\n".join(line for line in text.splitlines() if line.split("\t", 1)[0].endswith(zone))
        content = (f"$TTL 3600\n{zone} IN SOA ns.{zone} hostmaster.{zone} 1 3600 600 86400 300\n"
                   f"{zone} IN NS ns.{zone}\nns.{zone} IN A 192.0.2.53\n{body}\n")
        result = host.run(f"f=$(mktemp); printf '%s' {quote(content)} > $f; named-checkzone {zone} $f; rc=$?; rm -f $f;"
                          " exit $rc")
        assert result.rc == 0, result.stdout + result.stderr


def test_lab_resolver_serves_what_was_printed(host):
    text = host.file("/var/tmp/published.zone").content_string
    printed = re.search(r'^mail\._domainkey\.my-site\.com\.\t\d+\tIN\tTXT\t"(.*)"$', text, re.M).group(1)
    script = (
        "import dns.resolver, json\n"
        "r = dns.resolver.Resolver(configure=False)\n"
        "r.nameservers = ['127.0.0.2']\n"
        "print(json.dumps([b''.join(x.strings).decode() for x in r.resolve('mail._domainkey.my-site.com', 'TXT')]))\n"
    )
    assert python_json(host, script) == [re.sub(r'"\s+"', "", printed)]


# --- bad input ---------------------------------------------------------------------------

def test_bad_opendkim_setting_refused_and_running_configuration_kept(host, side_effect):
    bad = side_effect["bad_input"]
    assert bad["failed"], bad
    assert "NoSuchSetting" in bad["msg"] or "unrecognized parameter" in bad["msg"], bad["msg"]
    assert bad["before"] == bad["after"]
    assert "NoSuchSetting" not in host.file("/etc/opendkim.conf").content_string
    assert host.service("opendkim").is_running

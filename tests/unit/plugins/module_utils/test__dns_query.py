"""_dns_query: queries against a fake name server on 127.0.0.1, and crafted packets fed to the parser."""

import struct

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query as dns

from .dns_fakes import answer, fake_dns, wire_name

__all__ = ["fake_dns"]

LOCAL = ["127.0.0.1"]
# nothing listens on this loopback address: UDP queries to it go unanswered
DEAD = "127.0.0.254"
KEY = ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAz" + "x" * 300 + "IDAQAB")


def ask(server, name, rtype, servers=None, timeout=1.0):
    return dns.query(name, rtype, servers or LOCAL, timeout, port=server.port)


# ---------------------------------------------------------------- records
def test_mx_records_with_preference(fake_dns):
    fake_dns.zone[("my-site.com", "MX")] = [(20, "backup.my-site.com"), (10, "BigBoy.my-site.com")]
    found = ask(fake_dns, "my-site.com.", "MX")
    assert found.status == dns.OK and found.answered
    assert sorted(found.records) == [(10, "bigboy.my-site.com"), (20, "backup.my-site.com")]
    assert found.server == "127.0.0.1"
    assert found.describe() == "20 backup.my-site.com, 10 bigboy.my-site.com"


def test_txt_strings_of_one_record_are_joined_and_records_kept_apart(fake_dns):
    fake_dns.zone[("mail._domainkey.my-site.com", "TXT")] = [
        ["v=DKIM1; h=sha256; k=rsa; p=" + KEY[:200], KEY[200:]],
    ]
    fake_dns.zone[("my-site.com", "TXT")] = [["v=spf1 mx -all"], ["google-site-verification=abc"]]
    dkim = ask(fake_dns, "mail._domainkey.my-site.com", "TXT")
    assert dkim.records == ["v=DKIM1; h=sha256; k=rsa; p=" + KEY]
    apex = ask(fake_dns, "my-site.com", "TXT")
    assert apex.records == ["v=spf1 mx -all", "google-site-verification=abc"]


def test_ptr_a_and_aaaa(fake_dns):
    fake_dns.zone[("1.0.0.127.in-addr.arpa", "PTR")] = ["bigboy.my-site.com"]
    fake_dns.zone[("bigboy.my-site.com", "A")] = ["192.0.2.25"]
    fake_dns.zone[("bigboy.my-site.com", "AAAA")] = ["2001:db8::25"]
    assert ask(fake_dns, "1.0.0.127.in-addr.arpa", "ptr").records == ["bigboy.my-site.com"]
    assert ask(fake_dns, "bigboy.my-site.com", "A").records == ["192.0.2.25"]
    assert ask(fake_dns, "bigboy.my-site.com", "AAAA").records == ["2001:db8::25"]


# ---------------------------------------------------------------- why there is no record
def test_nxdomain(fake_dns):
    found = ask(fake_dns, "_dmarc.nowhere.example", "TXT")
    assert found.status == dns.NXDOMAIN and found.answered and found.records == []
    assert "NXDOMAIN" in found.error and "NXDOMAIN" in found.describe()


def test_name_without_records_of_the_type_is_nodata(fake_dns):
    fake_dns.zone[("my-site.com", "MX")] = [(10, "bigboy.my-site.com")]
    found = ask(fake_dns, "my-site.com", "TXT")
    assert found.status == dns.NODATA and found.answered and found.records == []
    assert found.describe() == "no record of this type"


def test_timeout_when_no_server_answers(fake_dns):
    fake_dns.silent.add("my-site.com")
    found = ask(fake_dns, "my-site.com", "MX", servers=["127.0.0.1", DEAD], timeout=0.2)
    assert found.status == dns.TIMEOUT and not found.answered
    assert found.timed_out == ["127.0.0.1", DEAD]
    assert DEAD in found.error and "timed out" in found.error


def test_next_server_asked_after_a_timeout(fake_dns):
    fake_dns.zone[("my-site.com", "MX")] = [(10, "bigboy.my-site.com")]
    found = ask(fake_dns, "my-site.com", "MX", servers=[DEAD, "127.0.0.1"], timeout=0.2)
    assert found.status == dns.OK and found.server == "127.0.0.1"
    assert found.timed_out == [DEAD]


@pytest.mark.parametrize(("rcode", "status", "words"), [
    (2, dns.SERVFAIL, "rcode 2 (SERVFAIL)"),
    (5, dns.ERROR, "rcode 5 (REFUSED)"),
])
def test_servfail_and_refused(fake_dns, rcode, status, words):
    fake_dns.rcode = rcode
    found = ask(fake_dns, "my-site.com", "MX", servers=["127.0.0.1", "127.0.0.1"])
    assert found.status == status and not found.answered
    assert words in found.error
    # the next name server is asked too
    assert len(fake_dns.queries) == 2


def test_truncated_answer_is_asked_again_over_tcp(fake_dns):
    fake_dns.zone[("my-site.com", "TXT")] = [["v=spf1 mx ", "-all"]]
    fake_dns.truncate.add("my-site.com")
    found = ask(fake_dns, "my-site.com", "TXT")
    assert found.status == dns.OK and found.records == ["v=spf1 mx -all"]
    assert [q[2] for q in fake_dns.queries] == ["udp", "tcp"]


def test_unsupported_type_and_bad_name_are_errors():
    assert dns.query("my-site.com", "SRV", LOCAL).status == dns.ERROR
    found = dns.query("x" * 64 + ".my-site.com", "A", LOCAL)
    assert found.status == dns.ERROR and "63 octets" in found.error
    assert dns.query("a..b", "A", LOCAL).status == dns.ERROR


# ---------------------------------------------------------------- crafted packets
def _query(name, rtype, qid=4242):
    return dns.build_query(name, rtype, qid)


def test_build_query_wire_form():
    packet = _query("_dmarc.my-site.com.", "TXT", 7)
    assert packet[:12] == struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    assert packet[12:] == wire_name("_dmarc.my-site.com") + struct.pack(">HH", 16, 1)
    assert dns.encode_name(".") == b"\0"


def test_parse_reply_of_the_fake_server_packets():
    zone = {("my-site.com", "MX"): [(10, "bigboy.my-site.com")]}
    reply = answer(_query("my-site.com", "MX"), zone)
    assert dns.parse_reply(reply, 4242, "My-Site.com.", "MX") == (0, False, [(10, "bigboy.my-site.com")])
    assert dns.parse_reply(answer(_query("other.example", "MX"), zone), 4242, "other.example", "MX")[0] == 3


def test_parse_reply_skips_records_of_other_types():
    """A CNAME chain before the TXT record: only the TXT record counts."""
    query = _query("www.my-site.com", "TXT")
    cname = wire_name("my-site.com")
    txt = b"\x07v=spf1 " + b"\x04-all"
    reply = (struct.pack(">HHHHHH", 4242, 0x8180, 1, 2, 0, 0) + query[12:]
             + b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, len(cname)) + cname
             + b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(txt)) + txt)
    assert dns.parse_reply(reply, 4242, "www.my-site.com", "TXT") == (0, False, ["v=spf1 -all"])


@pytest.mark.parametrize(("mangle", "words"), [
    (lambda r: r[:8], "shorter than a DNS header"),
    (lambda r: b"\x00\x01" + r[2:], "another query"),
    (lambda r: r[:2] + b"\x01\x00" + r[4:], "QR bit"),
    (lambda r: r[:-3], "past"),
    (lambda r: r[:12] + b"\xc0\x0c" + r[12 + len(wire_name("my-site.com")):], "compression loop"),
])
def test_malformed_replies(mangle, words):
    reply = answer(_query("my-site.com", "TXT"), {("my-site.com", "TXT"): [["v=spf1 -all"]]})
    with pytest.raises(dns.DNSFormatError, match=words):
        dns.parse_reply(mangle(reply), 4242, "my-site.com", "TXT")


def test_answer_for_another_name_is_refused():
    reply = answer(_query("other.example", "TXT"), {})
    with pytest.raises(dns.DNSFormatError, match="another name"):
        dns.parse_reply(reply, 4242, "my-site.com", "TXT")


def test_nameservers_parsed(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search my-site.com\nnameserver 127.0.0.2\n# nameserver 9.9.9.9\nnameserver ::1\noptions ndots:1\n")
    assert dns.nameservers(str(conf)) == ["127.0.0.2", "::1"]
    assert dns.nameservers(str(tmp_path / "missing")) == ["127.0.0.1"]

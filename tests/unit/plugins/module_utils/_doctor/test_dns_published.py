"""dns_published: a fake name server on 127.0.0.1 serving (or not) the records mail_dns_records builds."""

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import dns_published as unit
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import result

from .helpers import KEY, OTHER_KEY, expected_records, serve


def published(fake, records, timeout=1.0):
    return unit.check(records, ["127.0.0.1"], timeout, port=fake.port)


def test_dns_published_all_found(fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    check = published(fake_dns, records)
    assert check["name"] == "dns_published"
    assert check["ok"] is True, check["detail"]
    assert check["detail"] == "all 6 records published (1 MX, 1 SPF, 1 DKIM, 1 DMARC, 1 A, 1 PTR), asked 127.0.0.1"


# (zone change, True when it must still be OK, else the words the FAIL line names)
DNS_CASES = {
    "mx other preference": ({("my-site.com", "MX"): [(20, "bigboy.my-site.com")]},
                            "WRONG my-site.com. MX 10 bigboy.my-site.com. -- DNS answered: 20 bigboy.my-site.com"
                            " (preference 20, expected 10)"),
    "mx other exchanger": ({("my-site.com", "MX"): [(10, "mx.example.net")]},
                           "(bigboy.my-site.com is not an exchanger)"),
    "mx and a backup": ({("my-site.com", "MX"): [(10, "bigboy.my-site.com"), (20, "backup.example.net")]}, True),
    "mx missing": ({("my-site.com", "MX"): None},
                   "MISSING my-site.com. MX 10 bigboy.my-site.com. -- DNS answered: no record of this type"),
    "spf softfail": ({("my-site.com", "TXT"): [["v=spf1 mx ip4:192.0.2.25 ~all"]]},
                     '"v=spf1 mx ip4:192.0.2.25 ~all" (ends with ~all, expected -all)'),
    "spf without the address": ({("my-site.com", "TXT"): [["v=spf1 mx -all"]]}, "(lacks ip4:192.0.2.25)"),
    "spf with more": ({("my-site.com", "TXT"): [
        ["v=spf1 +mx ip4:192.0.2.25 ", "include:_spf.example.net -all"], ["site-verification=1234"]]}, True),
    "spf twice": ({("my-site.com", "TXT"): [["v=spf1 mx ip4:192.0.2.25 -all"], ["v=spf1 -all"]]},
                  "(2 SPF records (receivers treat more than one as an error))"),
    "spf absent": ({("my-site.com", "TXT"): [["site-verification=1234"]]},
                   'MISSING my-site.com. TXT "v=spf1 mx ip4:192.0.2.25 -all" -- DNS answered: "site-verification=1234"'
                   " (no SPF record among the TXT records)"),
    "dmarc other policy": ({("_dmarc.my-site.com", "TXT"): [["v=DMARC1; p=reject; rua=mailto:postmaster@my-site.com"]]},
                           'WRONG _dmarc.my-site.com. TXT "v=DMARC1; p=none; rua=mailto:postmaster@my-site.com"'
                           ' -- DNS answered: "v=DMARC1; p=reject; rua=mailto:postmaster@my-site.com"'
                           " (p=reject, expected p=none)"),
    "dmarc spelled otherwise, more reports": (
        {("_dmarc.my-site.com", "TXT"): [["v=DMARC1;p=None;  pct=100; rua=mailto:dmarc@reports.example,",
                                          "mailto:Postmaster@my-site.com"]]}, True),
    "dmarc reports elsewhere": ({("_dmarc.my-site.com", "TXT"): [["v=DMARC1; p=none; rua=mailto:d@reports.example"]]},
                                "(rua lacks mailto:postmaster@my-site.com)"),
    "dmarc absent": ({("_dmarc.my-site.com", "TXT"): None}, "MISSING _dmarc.my-site.com. TXT"),
    "dkim other key": ({("mail._domainkey.my-site.com", "TXT"): [["v=DKIM1; k=rsa; p=" + OTHER_KEY[:200],
                                                                 OTHER_KEY[200:]]]},
                       'WRONG mail._domainkey.my-site.com. TXT "v=DKIM1; h=sha256; k=rsa; s=email;'
                       ' p=MIIBIjANBgkq...kkIDAQAB" -- DNS answered: "v=DKIM1; k=rsa; p=MIIBIjANBgkq...qqIDAQAB"'
                       " (another key)"),
    "dkim same key, other tags and spaces": (
        {("mail._domainkey.my-site.com", "TXT"): [["k=rsa; p=" + KEY[:100] + " ", KEY[100:]]]}, True),
    "dkim revoked": ({("mail._domainkey.my-site.com", "TXT"): [["v=DKIM1; p="]]}, "(the key is revoked (empty p=))"),
    "dkim not served": ({("mail._domainkey.my-site.com", "TXT"): None},
                        "MISSING mail._domainkey.my-site.com. TXT \"v=DKIM1; h=sha256; k=rsa; s=email;"
                        " p=MIIBIjANBgkq...kkIDAQAB\" -- DNS answered: NXDOMAIN (the name does not exist)"),
    "ptr other name": ({("25.2.0.192.in-addr.arpa", "PTR"): ["host-192-0-2-25.isp.example"]},
                       "WRONG 25.2.0.192.in-addr.arpa. PTR bigboy.my-site.com. -- DNS answered:"
                       " host-192-0-2-25.isp.example"),
    "ptr absent": ({("25.2.0.192.in-addr.arpa", "PTR"): None}, "MISSING 25.2.0.192.in-addr.arpa. PTR"),
    "a other address": ({("bigboy.my-site.com", "A"): ["198.51.100.7"]},
                        "WRONG bigboy.my-site.com. A 192.0.2.25 -- DNS answered: 198.51.100.7"),
}


@pytest.mark.parametrize("case", sorted(DNS_CASES))
def test_dns_published_each_record_kind(fake_dns, case):
    change, outcome = DNS_CASES[case]
    records = expected_records()
    serve(fake_dns, records)
    for key, values in change.items():
        if values is None:
            del fake_dns.zone[key]
        else:
            fake_dns.zone[key] = values
    check = published(fake_dns, records)
    if outcome is True:
        assert check["ok"] is True, check["detail"]
        return
    assert check["ok"] is False
    head, *lines = check["detail"].splitlines()
    assert head == "1 of 6 records missing or different (asked 127.0.0.1):"
    assert len(lines) == 1 and outcome in lines[0], lines


def test_dns_published_names_every_problem(fake_dns):
    records = expected_records(dmarc_policy="reject")
    serve(fake_dns, expected_records())
    del fake_dns.zone[("mail._domainkey.my-site.com", "TXT")]
    check = published(fake_dns, records)
    assert check["ok"] is False
    lines = check["detail"].splitlines()
    assert lines[0] == "2 of 6 records missing or different (asked 127.0.0.1):"
    assert lines[1].startswith("MISSING mail._domainkey.my-site.com. TXT")
    assert lines[2].startswith("WRONG _dmarc.my-site.com. TXT") and "(p=none, expected p=reject)" in lines[2]


def test_dns_published_undecided_without_records_or_answers(fake_dns):
    assert published(fake_dns, []) == result("dns_published", None, "no records to check (dns_records is empty)")
    records = expected_records()
    fake_dns.silent.update({"my-site.com", "_dmarc.my-site.com"})
    check = published(fake_dns, records, timeout=0.2)
    assert check["ok"] is None
    assert check["detail"] == "cannot resolve any of the 6 records: name server 127.0.0.1: timed out"
    # after the first query went unanswered, the others were not asked
    assert fake_dns.queries == [("my-site.com", "MX", "udp")]


def test_dns_published_partly_unresolved(fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    fake_dns.silent.add("_dmarc.my-site.com")
    check = published(fake_dns, records, timeout=0.2)
    assert check["ok"] is None
    assert check["detail"].splitlines() == [
        "1 of 6 records could not be resolved (asked 127.0.0.1); the others are published:",
        'NOT RESOLVED _dmarc.my-site.com. TXT "v=DMARC1; p=none; rua=mailto:postmaster@my-site.com"'
        " -- DNS answered: name server 127.0.0.1: timed out",
    ]
    # a problem elsewhere is still a FAIL
    del fake_dns.zone[("bigboy.my-site.com", "A")]
    check = published(fake_dns, records, timeout=0.2)
    assert check["ok"] is False
    assert [line.split()[0] for line in check["detail"].splitlines()[1:]] == ["MISSING", "NOT"]


def test_dns_published_servfail_is_undecided(fake_dns):
    fake_dns.rcode = 2
    check = published(fake_dns, expected_records())
    assert check["ok"] is None
    assert check["detail"] == "cannot resolve any of the 6 records: name server 127.0.0.1 answered rcode 2 (SERVFAIL)"


def test_dns_published_asks_a_silent_name_server_last(fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    check = unit.check(records, ["127.0.0.254", "127.0.0.1"], 0.2, port=fake_dns.port)
    assert check["ok"] is True
    # 127.0.0.254 (nothing listens) cost one timeout, not one a record
    assert len(fake_dns.queries) == 6

"""_dns_compare: the dns_records option's checks and the comparison of one record with a DNS answer."""

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query as dns
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import _dns_compare as compare

from .helpers import expected_records


@pytest.mark.parametrize(("records", "words"), [
    (["my-site.com MX"], "entry 1 is not a dictionary"),
    ([{"name": "my-site.com", "type": "MX"}], "entry 1 has no value"),
    ([{"name": "", "type": "", "value": "x"}], "entry 1 has no name and no type"),
    ([{"name": "my-site.com", "type": "SRV", "value": "x"}], "type SRV is not one of MX, TXT, PTR, A, AAAA"),
    ([{"name": "my-site.com", "type": "MX", "value": "bigboy.my-site.com."}], "an MX value is 'PREFERENCE EXCHANGER'"),
    ([{"name": "bigboy.my-site.com", "type": "A", "value": "192.0.2.256"}], "'192.0.2.256' is not an address"),
])
def test_dns_records_option_checked(records, words):
    assert words in compare.records_option_problem(records)


@pytest.mark.parametrize(("value", "ok"), [
    ("10 bigboy.my-site.com.", True), ("0  mx.example.net", True), ("65535 mx", True),
    ("65536 mx.example.net", False), ("-1 mx.example.net", False), ("10 mx_1.example.net", False),
    ("10 mx.example.net extra", False), ("10", False), ("ten mx.example.net", False),
])
def test_mx_value_exchanger_is_a_host_name(value, ok):
    assert compare.is_mx_value(value) is ok
    problem = compare.records_option_problem([{"name": "my-site.com", "type": "MX", "value": value}])
    assert (problem == "") is ok


def test_dns_records_option_as_mail_dns_records_builds_it():
    assert compare.records_option_problem(expected_records()) == ""
    assert compare.records_option_problem([]) == ""


@pytest.mark.parametrize(("value", "kind"), [
    ("v=spf1 mx -all", "SPF"), ("V=DMARC1 ; p=none", "DMARC"), ("v=DKIM1; p=abc", "DKIM"),
    ("v=spf10 mx", "TXT"), ("site-verification=1234", "TXT"),
])
def test_txt_kind(value, kind):
    assert compare.txt_kind(value) == kind


@pytest.mark.parametrize(("record", "answer", "state"), [
    ({"type": "MX", "value": "10 bigboy.my-site.com."}, dns.Answer(dns.OK, [(10, "bigboy.my-site.com")]), "ok"),
    ({"type": "MX", "value": "10 bigboy.my-site.com."}, dns.Answer(dns.OK, [(20, "bigboy.my-site.com")]), "different"),
    ({"type": "MX", "value": "10 bigboy.my-site.com."}, dns.Answer(dns.NXDOMAIN), "missing"),
    ({"type": "MX", "value": "10 bigboy.my-site.com."}, dns.Answer(dns.TIMEOUT), "unresolved"),
    ({"type": "AAAA", "value": "2001:db8::25"}, dns.Answer(dns.OK, ["2001:db8:0:0::25"]), "ok"),
    ({"type": "PTR", "value": "bigboy.my-site.com."}, dns.Answer(dns.OK, ["mail.my-site.com"]), "different"),
])
def test_compare_record(record, answer, state):
    assert compare.compare_record(dict(record, name="my-site.com"), answer)[0] == state

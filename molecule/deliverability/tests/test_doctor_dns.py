"""The doctor's dns_published check against the records the lab name server serves.

converge.yml printed the records with playbooks/dns_records.yml (the tasks file that
playbooks/verify.yml shares), copied the zone snippet to /var/tmp/published.zone and
made dnsmasq on 127.0.0.2, the container's only name server, serve them. The doctor
gets those records as dns_records, as verify.yml passes them; for the failures it gets
a deliberately different expected record, while DNS stays as it is.
"""

import copy
import re

import pytest

FQDN = "bigboy.my-site.com"
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def zone_records(text):
    """(name, type, value) of each record line of a mail_dns_zone snippet, TXT strings joined."""
    records = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        name, _ttl, _cls, rtype, rdata = line.split("\t", 4)
        if rtype == "TXT":
            rdata = "".join(re.sub(r"\\(.)", r"\1", s) for s in QUOTED.findall(rdata))
        records.append({"name": name, "type": rtype, "value": rdata})
    return records


@pytest.fixture(scope="module")
def served(host):
    records = zone_records(host.file("/var/tmp/published.zone").content_string)
    # 2 domains x (MX, SPF, DKIM, DMARC), bigboy's A and its PTR
    assert len(records) == 10, records
    return records


def doctor(ansible_module, records, check=False):
    result = ansible_module("homelab.mailserver.mail_doctor",
                            {"fqdn": FQDN, "checks": ["dns_published"], "dns_records": records}, check=check)
    assert result.get("changed") is False, result
    assert [c["name"] for c in result["checks"]] == ["dns_published"], result
    return result["checks"][0]


def find(records, name):
    return next(r for r in records if r["name"] == name)


def test_name_server_is_the_lab_one(host):
    assert host.file("/etc/resolv.conf").content_string.split("nameserver", 1)[1].split()[0] == "127.0.0.2"


@pytest.mark.parametrize("check", [False, True], ids=["run", "check_mode"])
def test_served_records_are_found(ansible_module, served, check):
    found = doctor(ansible_module, served, check=check)
    assert found["ok"] is True, found["detail"]
    assert found["detail"] == "all 10 records published (2 MX, 2 SPF, 2 DKIM, 2 DMARC, 1 A, 1 PTR), asked 127.0.0.2"


def test_other_dmarc_policy_than_served_fails_naming_it(ansible_module, served):
    expected = copy.deepcopy(served)
    dmarc = find(expected, "_dmarc.my-site.com.")
    # converge.yml published p=reject
    assert "p=reject" in dmarc["value"]
    dmarc["value"] = dmarc["value"].replace("p=reject", "p=quarantine")
    found = doctor(ansible_module, expected)
    assert found["ok"] is False, found["detail"]
    head, *lines = found["detail"].splitlines()
    assert head == "1 of 10 records missing or different (asked 127.0.0.2):"
    assert len(lines) == 1
    assert lines[0].startswith('WRONG _dmarc.my-site.com. TXT "v=DMARC1; p=quarantine;'), lines
    assert 'DNS answered: "v=DMARC1; p=reject;' in lines[0]
    assert lines[0].endswith("(p=reject, expected p=quarantine)")


def test_dkim_keys_not_served_fail_naming_them(ansible_module, served):
    expected = copy.deepcopy(served)
    # a selector the name server does not have, and another-site.com's key expected for my-site.com
    find(expected, "mail._domainkey.another-site.com.")["name"] = "rotated._domainkey.another-site.com."
    mine = find(expected, "mail._domainkey.my-site.com.")
    other_key = find(served, "mail._domainkey.another-site.com.")["value"].split("p=", 1)[1]
    assert other_key != mine["value"].split("p=", 1)[1]
    mine["value"] = mine["value"].split("p=", 1)[0] + "p=" + other_key
    found = doctor(ansible_module, expected)
    assert found["ok"] is False, found["detail"]
    head, *lines = found["detail"].splitlines()
    assert head == "2 of 10 records missing or different (asked 127.0.0.2):"
    wrong = next(line for line in lines if line.startswith("WRONG "))
    assert wrong.startswith('WRONG mail._domainkey.my-site.com. TXT "v=DKIM1;') and wrong.endswith("(another key)")
    missing = next(line for line in lines if line.startswith("MISSING "))
    assert missing.startswith('MISSING rotated._domainkey.another-site.com. TXT "v=DKIM1;'), missing
    assert "DNS answered: NXDOMAIN" in missing or "DNS answered: no record" in missing, missing

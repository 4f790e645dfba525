"""mail_doctor, the module: its documentation against the registry, the dispatch and the report.

Each check is tested on its own under tests/unit/plugins/module_utils/_doctor/ (one file a check).
"""

import json
import os
import re

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.mailserver.plugins.module_utils import _dns_query, _doctor
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import result, summary_table
from ansible_collections.homelab.mailserver.plugins.modules import mail_doctor as doctor

from ..module_utils._doctor.helpers import (
    ALIASES,
    FQDN,
    MASQUERADING_MSP,
    VIRTUSERTABLE,
    expected_records,
    serve,
    smtp_server,
    write,
)

__all__ = ["smtp_server"]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DOCUMENTATION = yaml.safe_load(doctor.DOCUMENTATION)


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        doctor.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- documentation and registry
def test_documented_choices_are_the_registry():
    """DOCUMENTATION lists the checks as static text: it must name the registry's checks, in its order."""
    assert DOCUMENTATION["options"]["checks"]["choices"] == list(_doctor.REGISTRY)
    assert doctor.ARGUMENT_SPEC["checks"]["choices"] == list(_doctor.REGISTRY)


def test_documented_options_are_the_argument_spec():
    options = DOCUMENTATION["options"]
    assert set(options) == set(doctor.ARGUMENT_SPEC)
    for name, spec in doctor.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("elements") == spec.get("elements"), name


def doctor_md_table():
    """{check: row cells} of the table under "## The checks" in docs/doctor.md."""
    with open(os.path.join(ROOT, "docs", "doctor.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("\n## The checks\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        found = re.match(r"^\| `([a-z0-9_]+)` \|(.*)\|$", line)
        if found:
            rows[found.group(1)] = [cell.strip() for cell in found.group(2).split(" | ")]
    return rows


def test_doctor_md_lists_exactly_the_registry():
    rows = doctor_md_table()
    assert list(rows) == list(_doctor.REGISTRY)


@pytest.mark.parametrize("name", list(_doctor.REGISTRY))
def test_doctor_md_names_the_chapter_sections_of_each_check(name):
    sections_cell = doctor_md_table()[name][-1]
    for section in _doctor.REGISTRY[name].sections:
        assert section in sections_cell, (name, section)


# ---------------------------------------------------------------- dispatch and report
def test_summary_table():
    table = summary_table([
        result("smtp_banner", True, "220 ready"),
        result("listening", False, "not listening: *:993\nlistening: 0.0.0.0:25"),
        result("dovecot_mail_location", None, "Dovecot is not installed"),
    ])
    assert table.splitlines() == [
        "CHECK                  RESULT  DETAIL",
        "smtp_banner            ok      220 ready",
        "listening              FAIL    not listening: *:993",
        "                               listening: 0.0.0.0:25",
        "dovecot_mail_location  -       Dovecot is not installed",
    ]


@pytest.fixture
def fake_checks(monkeypatch):
    """Every registered check answers from OUTCOMES (name -> ok) instead of looking at this host."""
    outcomes = {}
    for name, check in _doctor.REGISTRY.items():
        monkeypatch.setitem(_doctor.REGISTRY, name, check._replace(
            run=lambda _inputs, name=name: result(name, outcomes.get(name, True), "%s looked\nsecond line" % name)))
    return outcomes


def test_module_runs_every_check_by_default_in_registry_order(capsys, fake_checks):
    fake_checks.update(maps_fresh=False, listening=None)
    code, out = run_main(capsys, {"fqdn": FQDN, "_ansible_check_mode": True})
    assert code == 0 and out["changed"] is False
    assert [c["name"] for c in out["checks"]] == list(_doctor.REGISTRY)
    assert out["failed_checks"] == ["maps_fresh"]
    assert out["summary"] == summary_table(out["checks"])
    assert "maps_fresh             FAIL    maps_fresh looked" in out["summary"].splitlines()


def test_module_runs_the_checks_given_in_their_order(capsys, fake_checks):
    fake_checks.update(system_mail=False, hosts_fqdn_first=False)
    code, out = run_main(capsys, {"fqdn": FQDN, "checks": ["system_mail", "listening", "hosts_fqdn_first"],
                                  "fail_on_problem": True})
    assert code == 1 and out["failed"] is True
    assert [c["name"] for c in out["checks"]] == ["system_mail", "listening", "hosts_fqdn_first"]
    assert out["msg"] == "mail doctor: not OK: system_mail, hosts_fqdn_first"


def test_module_refuses_an_unknown_check(capsys, fake_checks):
    code, out = run_main(capsys, {"fqdn": FQDN, "checks": ["mail_log"]})
    assert code == 1 and "value of checks must be one or more of: hosts_fqdn_first, " in out["msg"]


def test_module_reports_without_failing_the_task(tmp_path, capsys, smtp_server):
    _state, port = smtp_server
    mc = write(tmp_path / "sendmail.mc", "dnl", age=10)
    cf = write(tmp_path / "sendmail.cf", "V10", age=100)
    args = {"fqdn": FQDN, "checks": ["smtp_banner", "sendmail_cf_fresh"], "smtp_port": port,
            "sendmail_mc": mc, "sendmail_cf": cf, "_ansible_check_mode": True}
    code, out = run_main(capsys, args)
    assert code == 0 and "failed" not in out and out["changed"] is False
    assert [c["name"] for c in out["checks"]] == ["smtp_banner", "sendmail_cf_fresh"]
    assert out["failed_checks"] == ["sendmail_cf_fresh"]
    assert "sendmail_cf_fresh  FAIL" in out["summary"]
    code, out = run_main(capsys, dict(args, fail_on_problem=True))
    assert code == 1 and out["failed"] is True and out["msg"] == "mail doctor: not OK: sendmail_cf_fresh"


def test_module_passes_dns_records(capsys, monkeypatch, fake_dns):
    records = expected_records()
    serve(fake_dns, records)
    monkeypatch.setattr(_dns_query, "nameservers", lambda: ["127.0.0.1"])
    real_query = _dns_query.query
    monkeypatch.setattr(_dns_query, "query", lambda *args, port: real_query(*args, port=fake_dns.port))
    args = {"fqdn": FQDN, "checks": ["dns_published"], "dns_records": records, "timeout": 2,
            "_ansible_check_mode": True}
    code, out = run_main(capsys, args)
    assert code == 0 and out["changed"] is False and out["failed_checks"] == []
    assert out["checks"][0]["ok"] is True
    records[4]["value"] = "198.51.100.7"
    code, out = run_main(capsys, dict(args, dns_records=records, fail_on_problem=True))
    assert code == 1 and out["msg"] == "mail doctor: not OK: dns_published"


def test_module_checks_dns_records_whatever_checks_run(capsys, fake_checks):
    """An unusable dns_records fails the task before any check runs, as a wrong option does."""
    args = {"fqdn": FQDN, "checks": ["listening"], "dns_records": [{"name": "my-site.com", "type": "CAA", "value": "0 x"}]}
    code, out = run_main(capsys, args)
    assert code == 1 and "type CAA is not one of" in out["msg"] and "checks" not in out


def test_module_runs_system_mail_from_the_files(tmp_path, capsys):
    submit = write(tmp_path / "submit.cf", MASQUERADING_MSP)
    virtusertable = write(tmp_path / "virtusertable", VIRTUSERTABLE)
    aliases = write(tmp_path / "aliases", ALIASES)
    code, out = run_main(capsys, {"fqdn": FQDN, "checks": ["system_mail"], "submit_cf": submit,
                                  "maps": [virtusertable], "aliases_path": aliases})
    assert code == 0 and out["failed_checks"] == ["system_mail"]
    assert "root@my-site.com" in out["checks"][0]["detail"]

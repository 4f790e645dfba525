"""homelab.mailserver.watch_config: the watch role's settings from its variables, bad values named.

Every value reaches the settings file of homelab-mailserver-watch, its timer or a mail header: arbitrary
text in any variable is refused naming that variable, and the role's defaults are valid.
"""

from __future__ import annotations

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.watch_checks import (
    TLS_PORTS,
    FilterModule,
    is_recipient,
    watch_config,
)
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor.certificate_expiry import (
    TLS_PORTS as DOCTOR_TLS_PORTS,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from role_harness import ROOT, load_yaml, strings

PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
DANGER = "\n\r\x00\x0b\x85\u2028 '\"$`;|&<>()[]{}#%\\*?~:@=,"
ANY = st.one_of(st.text(max_size=40), st.text(st.sampled_from(list("abc/.-_09" + DANGER)), max_size=40))
VALUES = st.one_of(ANY, st.integers(min_value=-5, max_value=70000), st.booleans(), st.none(), st.lists(ANY, max_size=2))

DEFAULTS = load_yaml(ROOT / "roles" / "watch" / "defaults" / "main.yml")
INTERNAL = {
    "state_file": "/var/lib/homelab-mailserver/watch/state.json",
    "module_utils_path": "/usr/local/lib/homelab-mailserver/python",
    "sendmail": ["/usr/sbin/sendmail", "-oi", "-t"],
    "log_identifiers": {"mta": ["sm-mta", "sendmail"], "spam": ["spamd"], "greylist": ["milter-greylist"], "junk": ["dovecot"]},
    "timeout": 10,
}
BASE = {**{name.removeprefix("watch_"): value for name, value in DEFAULTS.items()}, **INTERNAL}
VARIABLES = [name.removeprefix("watch_") for name in DEFAULTS]


def test_registered():
    assert set(FilterModule().filters()) == {"watch_config"}


def test_the_defaults():
    result = watch_config(BASE)
    assert result["errors"] == []
    config = result["config"]
    assert config["interval_seconds"] == 900
    assert config["queue"] == {"dir": "/var/spool/mqueue", "max_messages": 100, "max_age_seconds": 14400}
    assert config["tls"] == {"address": "127.0.0.1", "ports": [25, 465, 587, 993, 995], "min_days": 14, "timeout": 10}
    assert config["services"] == ["sendmail", "dovecot"]
    assert config["dnsbl"] == {"addresses": [], "zones": []}
    assert config["backup"] == {"status_file": "", "max_age_hours": 26}
    assert config["alert_to"] == config["summary_to"] == "postmaster"


def test_the_ports_are_the_doctors():
    """The watch asks the doctor's certificate check for the ports it knows how to speak TLS on."""
    assert sorted(TLS_PORTS) == sorted(port for port, _starttls in DOCTOR_TLS_PORTS)


def test_dependent_services_are_added_once():
    config = watch_config(dict(BASE, dependent_services=["opendkim", "sendmail", "spamd", "opendkim"]))["config"]
    assert config["services"] == ["sendmail", "dovecot", "opendkim", "spamd"]


def test_settings_of_the_scenario():
    result = watch_config(dict(BASE, interval="1h30m", queue_max_age="30s", dnsbl_addresses=["192.0.2.25"],
                               dnsbl_zones=["bl.spamcop.net"], backup_status_file="/var/lib/homelab-mailserver/backup.last",
                               alert_to="admin@my-site.com", tls_ports=[993]))
    assert result["errors"] == []
    assert result["config"]["interval_seconds"] == 5400
    assert result["config"]["queue"]["max_age_seconds"] == 30
    assert result["config"]["backup"]["status_file"] == "/var/lib/homelab-mailserver/backup.last"


@pytest.mark.parametrize("key, value", [
    ("interval", "30s"), ("interval", "15 minutes"), ("interval", ""), ("alert_to", "root\nBcc: x@y.example"),
    ("alert_to", ""), ("alert_to", "a b@example.com"), ("summary_to", ["postmaster"]), ("summary_enabled", "yes"),
    ("queue_dir", "relative"), ("queue_dir", "/"), ("queue_max_messages", -1), ("queue_max_messages", "ten"),
    ("queue_max_age", "4 hours"), ("tls_ports", [25, 2525]), ("tls_ports", ["25"]), ("tls_ports", 25),
    ("cert_min_days", -3), ("services", ["sendmail; reboot"]), ("services", "sendmail"),
    ("dependent_services", ["$(id)"]), ("disk_paths", ["/var/mail", "../home"]), ("disk_paths", ["/"]),
    ("disk_min_free_percent", 101), ("dnsbl_addresses", ["2001:db8::1"]), ("dnsbl_addresses", ["192.0.2.300"]),
    ("dnsbl_zones", ["spamcop"]), ("backup_status_file", "backup.last"), ("backup_max_age_hours", 0),
])
def test_bad_values_are_named(key, value):
    result = watch_config(dict(BASE, **{key: value}))
    assert result["config"] == {}
    assert any(error.startswith("watch_" + key) for error in result["errors"]), result["errors"]
    assert all(" is not valid: " in error for error in result["errors"])


def test_not_a_dictionary():
    assert watch_config(["x"])["errors"] == ["watch_config input: ['x'] is not valid: a dictionary of the settings"]


@PROPERTY
@given(value=ANY)
def test_recipients_go_into_a_header_safely(value):
    if is_recipient(value):
        assert not set(value) & set("\n\r\x00 ,<>:;\"()[]\\")


@PROPERTY
@given(key=st.sampled_from(VARIABLES), value=VALUES)
def test_any_value_is_refused_naming_its_variable_or_rendered_safely(key, value):
    result = watch_config(dict(BASE, **{key: value}))
    if result["errors"]:
        assert result["config"] == {}
        assert all(error.startswith("watch_") and " is not valid: " in error for error in result["errors"])
        assert any(error.startswith("watch_" + key) for error in result["errors"]), (key, value, result["errors"])
        return

    # the values reach a JSON file, a unit file and mail headers: nothing that ends a line, a header or a word
    for text in strings(result["config"]):
        assert not set(text) & set("\n\r\x00\x0b\x85\u2028 \"<>(),:;\\"), (key, value, text)

"""Per-client connection limits (sendmail_client_rate_limit, _connection_limit, _limits_exempt): sendmail.mc's
FEATURE(ratecontrol) and FEATURE(conncontrol), the access entries they read, and the checks."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(__file__))  # pytest.ini: --import-mode=importlib
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V  # noqa: E402
from sendmail_render import CHECKS, ROLE, m4_build, render, role_vars  # noqa: E402

RATE = "FEATURE(`ratecontrol', `nodelay', `terminate')dnl"
CONN = "FEATURE(`conncontrol', `nodelay', `terminate')dnl"
DELAY_CHECKS = "FEATURE(`delay_checks')dnl"


def mc(**overrides):
    return render(role_vars("Debian", overrides)).splitlines()


def access(**overrides):
    """vars/main.yml's __sendmail_client_limits_access with Ansible's own templar (zip_longest, combine)."""
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values.update(overrides)
    values.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    values = {key: trust_as_template(value) if isinstance(value, str) else value for key, value in values.items()}
    return Templar(loader=DataLoader(), variables=values).template(values["__sendmail_client_limits_access"])


def test_no_limits_by_default():
    lines = mc()
    assert RATE not in lines and CONN not in lines
    assert access() == {}


def test_limits_enable_their_feature_after_delay_checks():
    lines = mc(sendmail_client_rate_limit=30, sendmail_client_connection_limit=5)
    assert lines.index(RATE) > lines.index(DELAY_CHECKS) and lines.index(CONN) > lines.index(DELAY_CHECKS)
    assert CONN not in mc(sendmail_client_rate_limit=30) and RATE not in mc(sendmail_client_connection_limit=5)
    # without delay_checks the checks run at connect anyway: no nodelay
    plain = mc(sendmail_client_rate_limit=30, sendmail_client_connection_limit=5, sendmail_delay_checks=False)
    assert "FEATURE(`ratecontrol', `', `terminate')dnl" in plain and "FEATURE(`conncontrol', `', `terminate')dnl" in plain


@pytest.mark.parametrize("delay_checks", [True, False])
def test_limits_build_with_m4_without_errors(tmp_path, delay_checks):
    proc = m4_build(tmp_path, "\n".join(mc(sendmail_mode="server", sendmail_client_rate_limit=30,
                                           sendmail_client_connection_limit=5, sendmail_delay_checks=delay_checks)) + "\n")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    # the rulesets the features add: the access map's ClientRate and ClientConn lookups, 421 with terminate
    assert "<! ClientRate>" in proc.stdout and "<! ClientConn>" in proc.stdout
    assert "421 Connection rate limit exceeded." in proc.stdout and "421 Too many open connections." in proc.stdout


def test_access_entries_hold_the_limit_and_exempt_the_listed_clients():
    assert access(sendmail_client_rate_limit=30, sendmail_client_connection_limit=5,
                  sendmail_client_limits_exempt=["127.0.0.1", "192.168.1"]) == {
        "ClientRate:": "30", "ClientRate:127.0.0.1": "0", "ClientRate:192.168.1": "0",
        "ClientConn:": "5", "ClientConn:127.0.0.1": "0", "ClientConn:192.168.1": "0"}
    assert access(sendmail_client_connection_limit=2, sendmail_client_limits_exempt=[]) == {"ClientConn:": "2"}


def test_every_entry_passes_the_access_map_rules():
    entries = access(sendmail_client_rate_limit=30, sendmail_client_connection_limit=5,
                     sendmail_client_limits_exempt=["127.0.0.1", "10.1", "IPv6:2001:db8"])
    for key, value in entries.items():
        assert V.check_access_key(key, "k") is None and V.check_access_value(value, "v", key) is None, (key, value)


def config(**overrides):
    values = role_vars("Debian", overrides)
    return {name: values[name] for name in ("sendmail_client_rate_limit", "sendmail_client_connection_limit",
                                            "sendmail_client_limits_exempt")}


@pytest.mark.parametrize("overrides, name", [
    ({"sendmail_client_rate_limit": -1}, "sendmail_client_rate_limit"),
    ({"sendmail_client_connection_limit": "ten"}, "sendmail_client_connection_limit"),
    ({"sendmail_client_limits_exempt": "127.0.0.1"}, "sendmail_client_limits_exempt"),
    ({"sendmail_client_limits_exempt": ["127.0.0.0/8"]}, "sendmail_client_limits_exempt[0]"),
    ({"sendmail_client_limits_exempt": ["localhost"]}, "sendmail_client_limits_exempt[0]"),
    ({"sendmail_client_limits_exempt": ["127.0.0.1", "10.1\tRELAY"]}, "sendmail_client_limits_exempt[1]"),
    ({"sendmail_client_limits_exempt": ["::1"]}, "sendmail_client_limits_exempt[0]"),
])
def test_bad_limits_name_the_variable(overrides, name):
    errors = CHECKS.sendmail_config_errors(config(**overrides))
    assert any(error.startswith(name + ":") for error in errors), errors


def test_good_limits_pass():
    assert CHECKS.sendmail_config_errors(config(sendmail_client_rate_limit=30, sendmail_client_connection_limit=5,
                                                sendmail_client_limits_exempt=["127.0.0.1", "192.168.1",
                                                                               "IPv6:2001:db8"])) == []

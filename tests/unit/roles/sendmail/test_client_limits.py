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
from sendmail_render import CHECKS, ROLE, render, role_vars  # noqa: E402

RATE = "FEATURE(`ratecontrol', `nodelay', `terminate')dnl"
CONN = "FEATURE(`conncontrol', `nodelay', `terminate')dnl"
ACCESS_DB = "FEATURE(`access_db'"


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


def test_limits_enable_their_feature_after_the_access_map():
    lines = mc(sendmail_client_rate_limit=30, sendmail_client_connection_limit=5)
    access_db = next(i for i, line in enumerate(lines) if line.startswith(ACCESS_DB))
    assert lines.index(RATE) > access_db and lines.index(CONN) > access_db
    assert CONN not in mc(sendmail_client_rate_limit=30) and RATE not in mc(sendmail_client_connection_limit=5)


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

"""sendmail_listen_queue_size: Listen= on every daemon socket sendmail.mc opens, and what m4 makes of it."""

from __future__ import annotations

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # pytest.ini: --import-mode=importlib
from sendmail_render import CHECKS, m4_build, render, role_vars  # noqa: E402


def daemons(**overrides):
    return [line for line in render(role_vars("Debian", overrides)).splitlines() if line.startswith("DAEMON_OPTIONS(")]


def test_sendmails_own_listen_queue_by_default():
    lines = daemons(sendmail_mode="server", sendmail_smtps_enabled=True)
    assert lines and not any("Listen=" in line for line in lines)


def test_every_daemon_socket_gets_the_listen_queue():
    lines = daemons(sendmail_mode="server", sendmail_smtps_enabled=True, sendmail_listen_addresses=["127.0.0.2", "::1"],
                    sendmail_listen_queue_size=256)
    # MTA, MSA and SMTPS on each of the two addresses
    assert len(lines) == 6 and all(line.endswith(", Listen=256')dnl") for line in lines), lines
    client = daemons(sendmail_mode="client", sendmail_smart_host="[bigboy.my-site.com]", sendmail_listen_queue_size=1024)
    assert client and all(line.endswith(", Listen=1024')dnl") for line in client), client


def test_m4_builds_the_listen_queue_into_daemon_port_options(tmp_path):
    mc_text = render(role_vars("Debian", {"sendmail_mode": "server", "sendmail_listen_queue_size": 256}))
    proc = m4_build(tmp_path, mc_text)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    ports = re.findall(r"^O DaemonPortOptions=(.*)$", proc.stdout, re.MULTILINE)
    assert ports and all(p.endswith(", Listen=256") for p in ports), ports


@pytest.mark.parametrize("value", [0, -1, 65536, "128; rm", "1e3", True])
def test_out_of_range_or_not_a_number_is_refused_by_name(value):
    errors = CHECKS.sendmail_config_errors({"sendmail_listen_queue_size": value})
    assert any(error.startswith("sendmail_listen_queue_size:") for error in errors), errors


@pytest.mark.parametrize("value", [None, 1, 128, 65535, "4096"])
def test_null_or_a_queue_size_passes(value):
    errors = CHECKS.sendmail_config_errors({"sendmail_listen_queue_size": value})
    assert errors == [], errors

"""The local mailer another role hands over: a program (dovecot-lda) or an LMTP server's socket (Dovecot's LMTP)."""

from __future__ import annotations

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # pytest.ini: --import-mode=importlib
from sendmail_render import CHECKS, m4_build, render, role_vars  # noqa: E402

LDA = {"path": "/usr/lib/dovecot/dovecot-lda", "args": "dovecot-lda -e -d $u"}
LMTP = {"lmtp_socket": "/run/dovecot/lmtp"}


def mlocal(tmp_path, mailer):
    """The Mlocal definition m4 builds from the role's sendmail.mc, continuation lines joined."""
    mc_text = render(role_vars("Debian", {"sendmail_mode": "server", "sendmail_dependent_local_mailer": mailer}))
    proc = m4_build(tmp_path, mc_text)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    found = re.search(r"^Mlocal,.*(?:\n[ \t]+.*)*", proc.stdout, re.MULTILINE)
    assert found, "no Mlocal in the built sendmail.cf"
    return " ".join(found.group(0).split()), mc_text


def flags(definition):
    return set(re.search(r"\bF=([^,]*)", definition).group(1))


def test_lmtp_socket_becomes_an_ipc_mailer_speaking_lmtp(tmp_path):
    definition, mc_text = mlocal(tmp_path, LMTP)
    assert "FEATURE(`local_lmtp', `[IPC]', `FILE /run/dovecot/lmtp')dnl" in mc_text.splitlines()
    assert "P=[IPC]" in definition and "A=FILE /run/dovecot/lmtp" in definition, definition
    assert r"E=\r\n" in definition, definition
    # z: LMTP; m: several recipients in one transaction; no P: Dovecot's LMTP adds Return-Path itself
    assert {"z", "m", "l"} <= flags(definition) and "P" not in flags(definition), definition


def test_a_program_stays_feature_local_procmail_without_f(tmp_path):
    definition, mc_text = mlocal(tmp_path, LDA)
    assert "P=/usr/lib/dovecot/dovecot-lda" in definition and "A=dovecot-lda -e -d $u" in definition, definition
    assert "f" not in flags(definition) and "z" not in flags(definition), definition
    assert "local_lmtp" not in mc_text


@pytest.mark.parametrize("value, where", [
    ({"lmtp_socket": "run/dovecot/lmtp"}, "sendmail_dependent_local_mailer.lmtp_socket"),
    ({"lmtp_socket": "/run/dovecot/lmtp')dnl\nFEATURE(`x"}, "sendmail_dependent_local_mailer.lmtp_socket"),
    ({"lmtp_socket": "/run/dovecot/lmtp", "path": "/usr/lib/dovecot/dovecot-lda"}, "sendmail_dependent_local_mailer"),
    ({"socket": "/run/dovecot/lmtp"}, "sendmail_dependent_local_mailer"),
])
def test_a_bad_local_mailer_is_refused_by_name(value, where):
    errors = CHECKS.sendmail_config_errors({"sendmail_dependent_local_mailer": value})
    assert any(error.startswith(where + ":") for error in errors), errors


@pytest.mark.parametrize("value", [{}, LDA, LMTP])
def test_good_local_mailers_pass(value):
    assert CHECKS.sendmail_config_errors({"sendmail_dependent_local_mailer": value}) == []

"""The dovecot role's global spam script (templates/sieve/homelab-spam.sieve.j2), rendered with jinja2.

spamc runs for every message unless the wiring names a header that marks mail already scanned at
SMTP time (spamass-milter on): then the filter runs only for mail without it, and Junk filing stays.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

TEMPLATE = Path(__file__).resolve().parents[4] / "roles" / "dovecot" / "templates" / "sieve" / "homelab-spam.sieve.j2"


def render(**values):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["bool"] = bool  # Ansible's filter; the values here are already booleans
    settings = {"dovecot_dependent_spamc": ["/usr/bin/spamc"], "dovecot_dependent_spam_scanned_header": "",
                "dovecot_sieve_junk": True, **values}
    return env.from_string(TEMPLATE.read_text()).render(**settings)


def statements(text):
    """The script without comments and blank lines, whitespace squeezed."""
    lines = (re.sub(r"\s+", " ", line).strip() for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [line for line in lines if line]


def test_every_message_is_scanned_without_a_scanned_header():
    assert statements(render()) == [
        'require ["vnd.dovecot.filter", "fileinto"];', 'filter "homelab-spamc";',
        'if header :is "X-Spam-Flag" "YES" {', 'fileinto "Junk";', "stop;", "}"]


def test_mail_scanned_at_smtp_time_is_not_scanned_again():
    assert statements(render(dovecot_dependent_spam_scanned_header="X-Spam-Checker-Version")) == [
        'require ["vnd.dovecot.filter", "fileinto"];',
        'if not exists "X-Spam-Checker-Version" {', 'filter "homelab-spamc";', "}",
        'if header :is "X-Spam-Flag" "YES" {', 'fileinto "Junk";', "stop;", "}"]


@pytest.mark.parametrize("header", ["", "X-Spam-Checker-Version"])
def test_no_spamc_no_filter_whatever_the_header(header):
    text = render(dovecot_dependent_spamc=[], dovecot_dependent_spam_scanned_header=header)
    assert "filter" not in " ".join(statements(text)) and 'fileinto "Junk";' in statements(text)

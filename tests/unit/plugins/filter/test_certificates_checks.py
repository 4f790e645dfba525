"""homelab.mailserver.certificates_checks and certificates_uncovered: the certificates role's variables, bad values named.

Every variable of the role reaches a file name, a module option or a systemd unit: arbitrary values are
refused naming that variable (never a crash, never a message without the variable), and the
defaults with a host's FQDN are valid for each source.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible_collections.homelab.mailserver.plugins.filter.certificates_checks import (
    FilterModule,
    certificates_checks,
    certificates_uncovered,
    is_cert_name,
    is_https_url,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[4]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "certificates" / "defaults" / "main.yml").read_text(encoding="utf-8"))
PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
VALUES = st.one_of(st.text(max_size=40), st.integers(min_value=-10, max_value=5000), st.booleans(), st.none(),
                   st.lists(st.text(max_size=10), max_size=2), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))
ACME = {"certificates_source": "acme", "certificates_acme_directory": "https://acme-v02.api.letsencrypt.org/directory",
        "certificates_acme_email": "postmaster@example.com", "certificates_acme_terms_agreed": True}
FILES = {"certificates_source": "files", "certificates_files_cert": "/etc/letsencrypt/live/x/cert.pem",
         "certificates_files_key": "/etc/letsencrypt/live/x/privkey.pem"}


def config(**changes):
    return {**DEFAULTS, "fqdn": "bigboy.my-site.com", **changes}


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"certificates_checks": certificates_checks,
                                        "certificates_uncovered": certificates_uncovered}


PEM = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"


@pytest.mark.parametrize("changes", [{}, ACME, FILES, dict(FILES, certificates_files_cert="", certificates_files_cert_content=PEM)])
def test_the_defaults_are_valid_for_each_source(changes):
    assert certificates_checks(config(**changes)) == []


@pytest.mark.parametrize("name, value, valid", [
    ("certificates_source", "letsencrypt", "selfsigned or acme or files"),
    ("certificates_names", ["mail.my-site.com", "bad name"], "a host name"),
    ("certificates_names", "mail.my-site.com", "a list of host names"),
    ("certificates_days", 0, "1-3650"),
    ("certificates_days", "397", "1-3650"),
    ("certificates_days", 825, "398 days or fewer"),
    ("certificates_renew_days", True, "1-3650"),
    ("certificates_force_renew", "yes", "a boolean"),
    ("certificates_cert_path", "relative/cert.pem", "an absolute path"),
    ("certificates_key_path", "/etc/ssl/o'brien.key", "an absolute path"),
    ("certificates_chain_path", "/tmp/x\nO Foo=bar", "an absolute path"),
    ("certificates_key_dir_mode", 700, "an octal file mode"),
    ("certificates_subject", {"OU": "IT; rm -rf /"}, "subject fields"),
    ("certificates_subject", {"C": "USA"}, "C two letters"),
    ("certificates_subject", {"CN": "not a name"}, "a host name"),
    ("certificates_subject", {"emailAddress": "nobody"}, "a mail address"),
    ("certificates_services", [{"name": "sendmail"}], "a list of services"),
    ("certificates_dependent_services", [{"name": "sendmail", "state": "stopped"}], "restarted or reloaded"),
    ("certificates_dependent_services", [{"name": "send mail", "state": "restarted"}], "a systemd unit name"),
])
def test_a_bad_value_is_named(name, value, valid):
    problems = certificates_checks(config(**{name: value}))
    assert problems, (name, value)
    assert any(p.startswith(name) and valid in p for p in problems), problems


def test_the_four_paths_differ():
    problems = certificates_checks(config(certificates_chain_path=DEFAULTS["certificates_cert_path"]))
    assert any(p.startswith("certificates_*_path") for p in problems), problems


def test_a_long_selfsigned_lifetime_needs_the_switch():
    assert certificates_checks(config(certificates_days=825, certificates_allow_long_lifetime=True)) == []
    # the lifetime of an ACME or files certificate is the CA's
    assert certificates_checks(config(certificates_days=825, **ACME)) == []


def test_a_host_without_an_fqdn_is_refused():
    problems = certificates_checks(config(fqdn="bigboy"))
    assert any("FQDN" in p and "bigboy" in p for p in problems), problems


@pytest.mark.parametrize("name, value, valid", [
    ("certificates_acme_directory", "http://acme.example/directory", "an https URL"),
    ("certificates_acme_directory", "", "an https URL"),
    ("certificates_acme_directory", "https://user:pw@acme.example/dir", "an https URL"),
    ("certificates_acme_directory", "https://acme.example/dir?x=1", "an https URL"),
    ("certificates_acme_email", "postmaster", "a mail address"),
    ("certificates_acme_terms_agreed", False, "agree to them"),
    ("certificates_acme_ca_bundle", "ca.pem", "an absolute path"),
    ("certificates_acme_webroot", "/var/www/my site", "an absolute path"),
    ("certificates_names", ["*.my-site.com"], "without a wildcard"),
])
def test_acme_inputs(name, value, valid):
    problems = certificates_checks(config(**dict(ACME, **{name: value})))
    assert any(p.startswith(name) and valid in p for p in problems), problems


def test_files_inputs():
    problems = certificates_checks(config(certificates_source="files"))
    assert any(p.startswith("certificates_files_cert:") for p in problems), problems
    assert any(p.startswith("certificates_files_key:") for p in problems), problems
    both = certificates_checks(config(**{**FILES, "certificates_files_cert_content": "-----BEGIN CERTIFICATE-----\n-----END "}))
    assert any("give the file or its content, not both" in p for p in both), both
    bad = certificates_checks(config(**{**FILES, "certificates_files_key": "", "certificates_files_key_content": "secret"}))
    assert any(p.startswith("certificates_files_key_content") and "secret" not in p for p in bad), bad


@pytest.mark.parametrize("url, ok", [
    ("https://acme-v02.api.letsencrypt.org/directory", True),
    ("https://127.0.0.9:14000/dir", True),
    ("https://[::1]:14000/dir", True),
    ("https://acme.example", True),
    ("https://acme.example:0/dir", False),
    ("https://acme.example:99999/dir", False),
    ("ftp://acme.example/dir", False),
    ("https://acme.example/dir#frag", False),
    ("https://acme example/dir", False),
    ("https://acme.example/dir\n", False),
    (None, False),
])
def test_https_url(url, ok):
    assert is_https_url(url) is ok


@pytest.mark.parametrize("name, ok", [
    ("mail.my-site.com", True), ("*.my-site.com", True), ("my-site.com", True), ("bigboy", False),
    ("*.com", False), ("a.*.my-site.com", False), ("mail.my-site.com.", False), ("-x.my-site.com", False), (3, False),
])
def test_cert_name(name, ok):
    assert is_cert_name(name) is ok


def test_uncovered_names():
    san = ["DNS:bigboy.my-site.com", "DNS:*.another-site.com", "IP:127.0.0.1"]
    assert certificates_uncovered(san, ["bigboy.my-site.com", "mail.another-site.com"]) == []
    assert certificates_uncovered(san, ["mail.my-site.com", "a.b.another-site.com", "another-site.com", "127.0.0.1"]) == [
        "mail.my-site.com", "a.b.another-site.com", "another-site.com", "127.0.0.1"]
    assert certificates_uncovered(san, ["BigBoy.My-Site.com."]) == []
    assert certificates_uncovered(None, ["x.y"]) == ["x.y"]


NAMES = [n for n in DEFAULTS if n.startswith("certificates_")]


@PROPERTY
@given(name=st.sampled_from(NAMES), value=VALUES, source=st.sampled_from(["selfsigned", "acme", "files"]))
def test_any_value_is_accepted_or_refused_naming_its_variable(name, value, source):
    """Never a crash; a problem names a variable of the role (or the FQDN), and the shape is the collection's."""
    base = {"selfsigned": {}, "acme": ACME, "files": FILES}[source]
    problems = certificates_checks(config(**dict(base, **{name: value})))
    assert isinstance(problems, list)
    for problem in problems:
        assert problem.startswith("certificates_"), problem
        assert " is not valid: " in problem, problem
    if name == "certificates_files_key_content" and isinstance(value, str) and problems:
        assert all(value not in p or not value for p in problems if p.startswith(name)), problems


@PROPERTY
@given(st.text(max_size=60))
def test_an_accepted_url_is_one_line_https_without_credentials(text):
    if is_https_url(text):
        assert text.startswith("https://") and "\n" not in text and "@" not in text.split("/")[2] and " " not in text


def test_not_a_dictionary():
    assert certificates_checks("x")[0].startswith("certificates_checks input")

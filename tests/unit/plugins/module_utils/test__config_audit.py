"""_config_audit, the second line of defence: real sendmail.cf files built with m4 from the role's sendmail.mc,
dovecot.conf rendered by the role's filter, the expected lists as the roles' vars/main.yml compute them
(resolved by Ansible's own templating), injections that must be named, and properties of the parsers."""

from __future__ import annotations

import functools
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml
from ansible.template import Templar, trust_as_template
from ansible_collections.homelab.mailserver.plugins.filter import dovecot as dovecot_filter
from ansible_collections.homelab.mailserver.plugins.module_utils import _config_audit as A
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[4]
CF_DIR = pathlib.Path("/usr/share/sendmail/cf")
HAVE_M4 = shutil.which("m4") is not None and (CF_DIR / "m4" / "cf.m4").exists()
needs_m4 = pytest.mark.skipif(not HAVE_M4, reason="needs m4 and Debian's sendmail-cf (scripts/bootstrap.sh installs them)")
# Fixed seed (derandomize) and a bounded number of examples: the properties run in the fast subset.
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
PROPERTY_BIG = settings(PROPERTY, max_examples=50)  # each example reads a whole sendmail.cf or dovecot.conf


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _trusted(value):
    """Mark the strings of a vars file as templates, as Ansible's loader does for role files."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def resolved(role, name, inventory=None, extra=None, platform="Debian"):
    """NAME as ROLE sees it: defaults < INVENTORY < vars/main.yml < vars/PLATFORM.yml < EXTRA."""
    variables = {}
    for layer in ("defaults/main.yml", "vars/main.yml", "vars/%s.yml" % platform):
        variables.update(_trusted(_yaml(ROOT / "roles" / role / layer)))
        if layer.startswith("defaults"):
            variables.update(inventory or {})
    variables.update(extra or {})
    return Templar(variables=variables).template(trust_as_template("{{ %s }}" % name))


# --- sendmail.cf ---------------------------------------------------------------------------------------


def _load_render():
    path = ROOT / "tests" / "unit" / "roles" / "sendmail" / "sendmail_render.py"
    spec = importlib.util.spec_from_file_location("homelab_test_sendmail_render", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RENDER = _load_render()
BIGBOY = ["mail_servers", "my_site_com", "another_site_com"]
SMALLFRY = ["mail_clients"]
MASQUERADE = "MASQUERADE_AS(`my-site.com')dnl"


def render_mc(groups, template="sendmail.mc.j2", platform="Debian", **overrides):
    """The role's sendmail.mc (or submit.mc) for a host of inventories/example, and the inventory values used.

    The RPMs' cf package is not installed here: a RedHat .mc includes Debian's cf.m4 (same cf version
    family, OSTYPE(linux) is in both).
    """
    inventory, domains = RENDER.example_host_vars(groups)
    inventory.update(overrides)
    mc = RENDER.render(RENDER.role_vars(platform, inventory, domains), template)
    return mc.replace("/usr/share/sendmail-cf/m4/cf.m4", str(CF_DIR / "m4" / "cf.m4")), inventory


def m4(mc, tmp_path):
    """sendmail.cf built from MC with the real m4 and Debian's cf package: (cf text, m4's stderr)."""
    path = tmp_path / "sendmail.mc"
    path.write_text(mc, encoding="utf-8")
    proc = subprocess.run(["m4", str(path)], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def expect_mc(inventory, name="__sendmail_audit_mc", platform="Debian"):
    return resolved("sendmail", name, inventory, platform=platform)


def inject(mc, text, after=MASQUERADE):
    """MC with TEXT put into the masquerade line, as an unquoted value would, or after another line."""
    assert after in mc
    if after == MASQUERADE:
        return mc.replace(MASQUERADE, "MASQUERADE_AS(`my-site.com')" + text + "dnl", 1)
    return mc.replace(after, after + "\n" + text, 1)


@needs_m4
@pytest.mark.parametrize("platform", ["Debian", "RedHat"])
@pytest.mark.parametrize("groups, template, name", [
    (BIGBOY, "sendmail.mc.j2", "__sendmail_audit_mc"),
    (BIGBOY, "submit.mc.j2", "__sendmail_audit_submit_mc"),
    (SMALLFRY, "sendmail.mc.j2", "__sendmail_audit_mc"),
    (SMALLFRY, "submit.mc.j2", "__sendmail_audit_submit_mc"),
])
def test_a_clean_build_of_the_example_inventory_passes(groups, template, name, platform, tmp_path):
    mc, inventory = render_mc(groups, template, platform)
    cf, _err = m4(mc, tmp_path)
    found = A.parse_sendmail_cf(cf)
    assert {f.category for f in found} >= {"relay_files", "trusted_users", "mailers"}, "the parser must see the entries"
    if platform == "RedHat" and template == "sendmail.mc.j2":
        assert ("mailers", "procmail") in {(f.category, f.entry) for f in found}, "the RPMs deliver through procmail"
    assert A.audit_sendmail_cf(cf, expect_mc(inventory, name, platform)) == []


@needs_m4
def test_a_clean_build_with_procmail_relay_features_and_raw_lines_passes(tmp_path):
    raw_features = ["RELAY_DOMAIN(`example.org other.example')dnl", "define(`confTRUSTED_USERS', `www-data')dnl",
                    "FEATURE(`relay_entire_domain')dnl"]
    raw_end = ["MAILER(`cyrusv2')dnl", "LOCAL_CONFIG", "C{R}third.example"]
    mc, inventory = render_mc(BIGBOY, sendmail_use_procmail=True, sendmail_relay_based_on_mx=True,
                              sendmail_accept_unresolvable_domains=True, sendmail_mc_raw_features=raw_features,
                              sendmail_mc_raw_end=raw_end)
    cf, _err = m4(mc, tmp_path)
    expect = expect_mc(inventory)
    assert "procmail" in expect["mailers"] and set(expect["relay_features"]) == {"relay_based_on_MX", "accept_unresolvable_domains"}
    found = {(f.category, f.entry) for f in A.parse_sendmail_cf(cf)}
    for item in [("mailers", "procmail"), ("mailers", "cyrusv2"), ("relay_domains", "example.org"),
                 ("relay_domains", "third.example"), ("trusted_users", "www-data"), ("relay_features", "relay_based_on_MX"),
                 ("relay_features", "relay_entire_domain"), ("relay_features", "accept_unresolvable_domains")]:
        assert item in found, item
    assert A.audit_sendmail_cf(cf, expect) == []
    # the same build without the raw lines in the expectation: each is named
    named = {(p.category, p.entry) for p in A.audit_sendmail_cf(cf, dict(expect, mc_lines=[]))}
    assert named == {("mailers", "cyrusv2"), ("relay_domains", "example.org"), ("relay_domains", "other.example"),
                     ("relay_domains", "third.example"), ("trusted_users", "www-data"), ("relay_features", "relay_entire_domain")}


# An injected piece of .mc text, what it makes appear in sendmail.cf, and where it goes in the .mc.
INJECTIONS = [
    ("RELAY_DOMAIN(`com')", ("relay_domains", "com"), MASQUERADE),
    ("RELAY_DOMAIN_FILE(`-o /tmp/relay')", ("relay_files", "/tmp/relay"), MASQUERADE),
    ("VIRTUSER_DOMAIN(`example.net')", ("relay_domains", "$={VirtHost}"), MASQUERADE),
    ("define(`confTRUSTED_USERS', `mallory')", ("trusted_users", "mallory"), MASQUERADE),
    ("define(`confTRUSTED_USER', `mallory')", ("trusted_users", "mallory"), MASQUERADE),
    ("define(`confCT_FILE', `/tmp/evil')", ("trusted_files", "/tmp/evil"), MASQUERADE),
    ("MAILER(`pop')", ("mailers", "pop"), MASQUERADE),
    ("MAILER(`uucp')dnl", ("mailers", "uucp-dom"), "MAILER(`smtp')dnl"),
    ("FEATURE(`relay_entire_domain')", ("relay_features", "relay_entire_domain"), MASQUERADE),
    ("FEATURE(`loose_relay_check')", ("relay_features", "loose_relay_check"), MASQUERADE),
    ("LOCAL_CONFIG\nCRcom net\nTmallory\ndnl", ("relay_domains", "net"), MASQUERADE),
    ("MAILER_DEFINITIONS\nMevil, P=/bin/sh, F=lsDFMoqeu9, A=sh -c $u", ("mailers", "evil"), "MAILER(`smtp')dnl"),
]


@needs_m4
@pytest.mark.parametrize("text, appeared, after", INJECTIONS, ids=[i[0].split("(")[0].split("\n")[0] for i in INJECTIONS])
def test_an_injected_entry_is_named_and_the_same_line_as_a_raw_variable_passes(text, appeared, after, tmp_path):
    mc, inventory = render_mc(BIGBOY)
    expect = expect_mc(inventory)
    cf, _err = m4(inject(mc, text, after), tmp_path)
    problems = A.audit_sendmail_cf(cf, expect)
    named = {(p.category, p.entry) for p in problems}
    assert appeared in named, problems
    for problem in problems:
        assert problem.line > 0 and cf.split("\n")[problem.line - 1] == problem.text
        described = problem.describe("sendmail.cf")
        assert repr(problem.entry) in described and "sendmail.cf line %d" % problem.line in described
        assert re.search(problem.source, inject(mc, text, after), re.M), "the source pattern must find the .mc line"
    # the same text handed over as raw .mc lines (sendmail_mc_raw_*) is what the variables ask for
    assert A.audit_sendmail_cf(cf, dict(expect, mc_lines=text.split("\n"))) == []


@needs_m4
def test_the_issue_18_masquerade_value_names_the_relay_entry(tmp_path):
    mc, inventory = render_mc(BIGBOY, sendmail_masquerade_as="my-site.com")
    cf, _err = m4(mc.replace("`my-site.com')dnl\nMASQUERADE_DOMAIN", "`my-site.com')RELAY_DOMAIN(`com')dnl\nMASQUERADE_DOMAIN", 1),
                  tmp_path)
    assert "C{R}com" in cf.split("\n")
    [problem] = A.audit_sendmail_cf(cf, expect_mc(inventory))
    assert problem.describe("sendmail.cf").startswith("relay class R entry 'com' (sendmail.cf line ")


@pytest.mark.skipif(not (CF_DIR / "mailer").is_dir(), reason="needs Debian's sendmail-cf")
def test_the_mailer_table_matches_the_cf_package():
    for path in sorted((CF_DIR / "mailer").glob("*.m4")):
        names = tuple(re.findall(r"^M([A-Za-z0-9_-]+),", path.read_text(encoding="utf-8", errors="replace"), re.M))
        assert A.MAILER_DEFINES[path.stem] == names, path.name


@pytest.mark.skipif(not (CF_DIR / "feature").is_dir(), reason="needs Debian's sendmail-cf")
def test_every_watched_relay_feature_exists_and_writes_its_banner():
    for name in A.RELAY_FEATURES:
        text = (CF_DIR / "feature" / (name + ".m4")).read_text(encoding="utf-8", errors="replace")
        assert "$Id: %s.m4," % name in text


@pytest.mark.parametrize("text, expected", [
    ("C{R}a b\tc\n", [("relay_domains", "a"), ("relay_domains", "b"), ("relay_domains", "c")]),
    ("CRa\n b\n\tc\n", [("relay_domains", "a"), ("relay_domains", "b"), ("relay_domains", "c")]),
    ("CRa # b c\n", [("relay_domains", "a")]),
    ("CRa#b\n", [("relay_domains", "a")]),
    ("CRa\\#b\n", [("relay_domains", "a#b")]),
    ("CRa$#b\n", [("relay_domains", "a$#b")]),
    ("# CRa\n", []),
    ("#comment\n\tCRa\n", []),
    ("CRa\r\nCRb\n", [("relay_domains", "a"), ("relay_domains", "b")]),
    ("CRa\x0bb\n", [("relay_domains", "a"), ("relay_domains", "b")]),
    ("CRa\x1cb\u2028c\n", [("relay_domains", "a\x1cb\u2028c")]),
    ("C{Rx}a\nC{VirtHost}b\nCwc\n", []),
    ("FR-o /etc/mail/relay-domains %[^\\#]\n", [("relay_files", "/etc/mail/relay-domains")]),
    ("F{R}|/bin/echo com\n", [("relay_files", "|/bin/echo com")]),
    ("F{R}/etc/x\n", [("relay_files", "/etc/x")]),
    ("Ft/etc/mail/trusted-users %[^\\#]\nC{t}a\nCtb\nTc d\n",
     [("trusted_files", "/etc/mail/trusted-users"), ("trusted_users", "a"), ("trusted_users", "b"), ("trusted_users", "c"),
      ("trusted_users", "d")]),
    ("O TrustedUser=smmta\no trusteduser = x\n#O TrustedUser=root\nO TrustedUser=\n", [("trusted_users", "smmta")]),
    ("Mlocal,\t\tP=/bin/x\nM*file*, P=[FILE]\nMrelay, P=[IPC],\n\tA=TCP $h\n",
     [("mailers", "local"), ("mailers", "*file*"), ("mailers", "relay")]),
    ("#####  $Id: promiscuous_relay.m4,v 8.13 2013-11-22 ca Exp $  #####\n#####  $Id: smtp.m4,v 8.66 $  #####\n",
     [("relay_features", "promiscuous_relay")]),
    ("R$* $| @ RELAY\t$@ RELAY\nDRcom\nKR hash /x\nS0\n", []),
])
def test_the_cf_parser_reads_lines_as_sendmail_does(text, expected):
    assert [(f.category, f.entry) for f in A.parse_sendmail_cf(text)] == expected


def test_the_relay_class_is_compared_without_case():
    assert A.audit_sendmail_cf("C{R}Example.ORG\n", {"relay_domains": ["example.org"]}) == []
    assert A.audit_sendmail_cf("C{R}Example.ORG\n", {}) != []


@pytest.mark.parametrize("line, name, calls", [
    ("RELAY_DOMAIN(`a b')dnl", "RELAY_DOMAIN", [["a b"]]),
    ("RELAY_DOMAIN(a)RELAY_DOMAIN(`b')", "RELAY_DOMAIN", [["a"], ["b"]]),
    ("RELAY_DOMAIN_FILE(`/x')", "RELAY_DOMAIN", []),
    ("define(`confTRUSTED_USERS', `a b')dnl", "define", [["confTRUSTED_USERS", "a b"]]),
    ("define( `X' ,  ``nested'' )", "define", [["X ", "`nested' "]]),
    ("FEATURE(`access_db', `hash -o /etc/mail/access.db')", "FEATURE", [["access_db", "hash -o /etc/mail/access.db"]]),
    ("MAILER(f(x))", "MAILER", [["f(x)"]]),
    ("MAILER(`unclosed", "MAILER", []),
])
def test_m4_calls(line, name, calls):
    assert A.m4_calls(line, name) == calls


def test_mc_declarations_cover_the_macros_and_literal_lines():
    declared = A.mc_declarations([
        "RELAY_DOMAIN(`a.example b.example')dnl", "RELAY_DOMAIN_FILE(`-o /etc/mail/relay2')dnl",
        "define(`confCR_FILE', `-o /etc/mail/relay3')dnl", "define(`confCT_FILE', `/etc/mail/trusted2')dnl",
        "define(`confTRUSTED_USERS', `u1 u2')dnl", "define(`confTRUSTED_USER', `u3')dnl", "MAILER(`smtp')dnl",
        "MAILER(`mine')dnl", "FEATURE(`relay_mail_from')dnl", "VIRTUSER_DOMAIN_FILE(`/etc/mail/vd')dnl",
        "CRc.example", "Tu4", "Mmine2, P=/x", "CLIENT_OPTIONS(`Family=inet, Addr=127.0.0.3')dnl",
        "TRUST_AUTH_MECH(`PLAIN')dnl",
    ])
    assert declared["relay_domains"] == {"a.example", "b.example", "$={VirtHost}", "c.example"}
    assert declared["relay_files"] == {"/etc/mail/relay2", "/etc/mail/relay3"}
    assert declared["trusted_users"] == {"u1", "u2", "u3", "u4"}
    assert declared["trusted_files"] == {"/etc/mail/trusted2"}
    assert declared["mailers"] == {"smtp", "esmtp", "smtp8", "dsmtp", "relay", "mine", "mine2"}
    assert declared["relay_features"] == {"relay_mail_from"}


@pytest.mark.parametrize("kind, expect, words", [
    ("sendmail_cf", {"relay_domains": ["a"], "mc_lines": []}, []),
    ("dovecot_conf", {"entries": ["a"], "extra_config": ""}, []),
    ("sendmail_cf", {"relay": ["a"]}, ["audit.expect.relay is not a key"]),
    ("sendmail_cf", {"mailers": "smtp"}, ["audit.expect.mailers must be a list of strings"]),
    ("sendmail_cf", {"mailers": [["smtp"]]}, ["audit.expect.mailers must be a list of strings"]),
    ("dovecot_conf", {"extra_config": ["x"]}, ["audit.expect.extra_config must be a string"]),
    ("dovecot_conf", {"relay_domains": []}, ["audit.expect.relay_domains is not a key of the dovecot_conf audit"]),
    ("postfix", {}, ["audit.kind 'postfix' is not one of"]),
])
def test_expect_problems(kind, expect, words):
    problems = A.expect_problems(kind, expect)
    assert len(problems) == len(words)
    for problem, word in zip(problems, words, strict=True):
        assert word in problem


# --- dovecot.conf ------------------------------------------------------------------------------------------

PLATFORM = {
    "ssl_cert": "/etc/dovecot/private/dovecot-server.pem",
    "ssl_key": "/etc/dovecot/private/dovecot-server.key",
    "ssl_dh": "/usr/share/dovecot/dh.pem",
    "mail_privileged_group": "mail",
    "sieve_dir": "/etc/dovecot/sieve",
    "sieve_bin_dir": "/etc/dovecot/sieve/bin",
    "quota_users_path": "/etc/dovecot/quota-users",
    "quota_warning_script": "/etc/dovecot/quota-warning.sh",
    "lmtp_socket": "/run/dovecot/lmtp",
}
CERT_ONLY = ("dovecot_ssl_cert", "dovecot_ssl_key", "dovecot_ssl_selfsigned", "dovecot_ssl_subject", "dovecot_ssl_alt_names",
             "dovecot_ssl_days", "dovecot_ssl_renew_days", "dovecot_sendmail_local_mailer")
MAILBOX = {"dovecot_lda": True, "dovecot_sieve": True, "dovecot_managesieve": True, "dovecot_quota": "1G",
           "dovecot_quota_users": {"john2": "1M"}, "dovecot_dependent_spamc": ["/usr/bin/spamc", "-s", "512000"]}
EXTRA = "protocol imap {\n  mail_max_userip_connections = 5 # per user\n}\n!include_try /etc/dovecot/local.conf\n"
DOVECOT_CASES = {
    "defaults": {},
    "chapter": {"dovecot_listen": "*, ::", "dovecot_listeners": {"imaps": {"port": 993, "address": "127.0.0.1"},
                                                                 "imap": {"port": 0}, "pop3s": {"port": 995}}},
    "everything": {"dovecot_listen": ["127.0.0.1"], "dovecot_login_trusted_networks": ["10.0.0.0/8"],
                   "dovecot_mailbox_format": "maildir", "dovecot_verbose_ssl": True, "dovecot_ssl_required": True,
                   "dovecot_settings": {"mail_max_userip_connections": 20, "login_greeting": "hello"},
                   "dovecot_listeners": {"pop3": {"address": "127.0.0.1"}}, "dovecot_extra_config": EXTRA},
    "imap only": {"dovecot_protocols": ["imap"], "dovecot_listeners": {"imap": {"port": 1143}}},
    "mailbox side": MAILBOX,
    "mailbox side over lmtp": {**MAILBOX, "dovecot_lmtp": True},
    "lmtp without sieve": {"dovecot_lda": True, "dovecot_lmtp": True, "dovecot_sieve_junk": False},
    "mailbox side with scripts": {**MAILBOX, "dovecot_sieve_before": "keep;\n", "dovecot_sieve_default": "keep;\n"},
    "lda, junk filing and a quota only": {"dovecot_lda": True, "dovecot_sieve": True, "dovecot_quota": "0",
                                          "dovecot_quota_warning": 0, "dovecot_quota_exceeded": "defer"},
}


def dovecot_data(**overrides):
    data = {k: v for k, v in _yaml(ROOT / "roles" / "dovecot" / "defaults" / "main.yml").items() if k not in CERT_ONLY}
    data.update(PLATFORM)
    data.update(overrides)
    return data


@functools.cache
def _clean_dovecot(version):
    return render_dovecot(version), dovecot_expect(version)


def dovecot_expect(version, **overrides):
    entries = resolved("dovecot", "__dovecot_audit_entries", overrides, {"__dovecot_version": version})
    return {"entries": list(entries), "extra_config": overrides.get("dovecot_extra_config", "")}


def render_dovecot(version, **overrides):
    return dovecot_filter.dovecot_config(dovecot_data(**overrides), version)


@pytest.mark.parametrize("version", ["2.3.19.1 (9b53102964)", "2.4.1-4 (7d8c0e5759)"])
@pytest.mark.parametrize("case", sorted(DOVECOT_CASES))
def test_the_roles_expected_entries_match_what_the_filter_renders(version, case):
    overrides = DOVECOT_CASES[case]
    text = render_dovecot(version, **overrides)
    expect = dovecot_expect(version, **overrides)
    assert A.audit_dovecot_conf(text, expect) == []
    parsed = [f.entry for f in A.parse_dovecot_conf(text)]
    assert "ssl" in parsed and "namespace inbox/mailbox Sent/special_use" in parsed


@pytest.mark.parametrize("version", ["2.3.19.1", "2.4.1"])
@pytest.mark.parametrize("line, entry", [
    ("login_trusted_networks = 0.0.0.0/0 ::/0", "login_trusted_networks"),
    ("!include /tmp/x", "!include /tmp/x"),
    ("!include_try /tmp/x", "!include_try /tmp/x"),
    ("passdb {\n  driver = static\n  args = nopassword=y\n}", "passdb"),
    ("auth_mechanisms = anonymous", "auth_mechanisms"),
    ("ssl = no", "ssl"),
    ("}", "}"),
])
def test_a_line_added_after_a_value_is_named_with_the_variable_it_follows(version, line, entry):
    overrides = {"dovecot_login_trusted_networks": ["10.0.0.0/8"]} if entry == "login_trusted_networks" else {}
    clean = render_dovecot(version, **overrides)
    text = clean.replace("log_path = syslog\n", "log_path = syslog\n" + line + "\n", 1)
    problems = A.audit_dovecot_conf(text, dovecot_expect(version, **overrides))
    assert problems and problems[0].entry == entry and not problems[0].missing, problems
    assert text.split("\n")[problems[0].line - 1] == problems[0].text
    assert "# from: dovecot_log_path" in text.split("\n")[problems[0].line - 3], "the line follows the log_path value"


def test_a_line_inside_a_section_is_named_by_its_path():
    text = render_dovecot("2.3.19", dovecot_listeners={"imaps": {"port": 993}})
    text = text.replace("    port = 993\n", "    port = 993\n    ssl = no\n", 1)
    [problem] = A.audit_dovecot_conf(text, dovecot_expect("2.3.19", dovecot_listeners={"imaps": {"port": 993}}))
    assert problem.entry == "service imap-login/inet_listener imaps/ssl"


def test_a_value_ending_in_a_backslash_swallows_the_next_line_and_that_is_named():
    text = render_dovecot("2.3.19").replace("log_path = syslog\n", "log_path = syslog\\\n", 1)
    [problem] = A.audit_dovecot_conf(text, dovecot_expect("2.3.19"))
    assert problem.missing and problem.entry == "auth_verbose"
    assert problem.describe("dovecot.conf") == "setting, section or include 'auth_verbose' is missing from dovecot.conf (0 of 1)"


def test_extra_config_entries_are_expected_as_often_as_it_has_them():
    expect = {"entries": ["a"], "extra_config": "b = 1\nb = 2\n"}
    assert A.audit_dovecot_conf("a = 1\nb = 1\nb = 2\n", expect) == []
    [problem] = A.audit_dovecot_conf("a = 1\nb = 1\nb = 2\nb = 3\n", expect)
    assert (problem.entry, problem.line, problem.count, problem.wanted) == ("b", 4, 3, 2)
    assert problem.describe("d.conf") == (
        "setting, section or include 'b' (d.conf line 4 'b = 3'), 3 times where the variables ask for 2 (lines 2, 3, 4)")


@pytest.mark.parametrize("text, paths", [
    ("a = 1\n  b=2\n\tc = x # y\n", ["a", "b", "c"]),
    ("# a = 1\n   # b = 2\n\n", []),
    ('a = "x # y"\nb = \'#\' # c = 1\n', ["a", "b"]),
    ("service imap-login {\n  inet_listener  imaps {\n    port = 993\n  }\n}\nd = 1\n",
     ["service imap-login", "service imap-login/inet_listener imaps", "service imap-login/inet_listener imaps/port", "d"]),
    ("a = 1 \\\n b = 2\nc = 3\n", ["a", "c"]),
    ("a = 1\\\n# comment\n\n b = 2\nc = 3\n", ["a", "c"]),
    ("a = 1\x0bb = 2\u2028c = 3\n", ["a"]),
    ("a = 1\r\nb = 2\r\n", ["a", "b"]),
    ("!include conf.d/*.conf\n!include_try  /x.conf\n", ["!include conf.d/*.conf", "!include_try /x.conf"]),
    ("}\nx {\n", ["}", "x"]),
    ("bare\n", ["bare"]),
])
def test_the_dovecot_parser(text, paths):
    assert [f.entry for f in A.parse_dovecot_conf(text)] == paths


# --- properties --------------------------------------------------------------------------------------------

# A word of a sendmail.cf class: no ASCII white space (readcf's isspace), no #, no backslash.
CF_WORD = st.text(st.characters(blacklist_characters=" \t\n\v\f\r#\\", blacklist_categories=("Cs",)), min_size=1, max_size=12)
CF_GAP = st.text(st.sampled_from(" \t\v\f"), min_size=1, max_size=3)


@PROPERTY
@given(st.lists(st.lists(CF_WORD, min_size=1, max_size=4), min_size=1, max_size=4), st.sampled_from(["R", "{R}"]),
       st.lists(CF_GAP, min_size=4, max_size=4), st.lists(st.sampled_from([" ", "\t"]), min_size=4, max_size=4), st.booleans(),
       st.sampled_from(["", " # a comment", "\t#x y"]))
def test_property_relay_words_survive_folding_and_comments(chunks, name, gaps, leads, crlf, comment):
    """However a class line is folded, spaced and commented, the parser returns its words and the audit names the unasked."""
    physical = []
    for index, chunk in enumerate(chunks):
        body = gaps[index].join(chunk)
        physical.append(("C" + name + body) if index == 0 else (leads[index] + body))
    physical[-1] += comment
    text = ("\r\n" if crlf else "\n").join(["# head", *physical, "Cwlocalhost", ""])
    words = [w for chunk in chunks for w in chunk]
    found = A.parse_sendmail_cf(text)
    assert [(f.category, f.entry, f.line) for f in found] == [("relay_domains", w, 2) for w in words]
    assert A.audit_sendmail_cf(text, {"relay_domains": words}) == []
    assert {p.entry for p in A.audit_sendmail_cf(text, {"relay_domains": words[1:]})} == (
        {words[0]} if words[0].lower() not in {w.lower() for w in words[1:]} else set())


@PROPERTY
@given(st.text(max_size=300))
def test_property_the_cf_parser_reads_any_text_and_points_at_real_lines(text):
    lines = text.split("\n")
    for found in A.parse_sendmail_cf(text):
        assert 1 <= found.line <= len(lines)
        assert lines[found.line - 1].removesuffix("\r") == found.text
        assert found.text[:1] in ("C", "F", "T", "M", "O", "#")


_CLEAN_CF = {}


def clean_cf():
    if "cf" not in _CLEAN_CF:
        mc, inventory = render_mc(BIGBOY)
        path = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
        proc = subprocess.run(["m4", "-"], input=mc, capture_output=True, text=True, check=True, cwd=path)
        _CLEAN_CF["cf"] = (proc.stdout, expect_mc(inventory))
    return _CLEAN_CF["cf"]


@needs_m4
@PROPERTY_BIG
@given(st.data(), CF_WORD, st.sampled_from(["C{R}", "CR", "T", "C{t}", "M"]))
def test_property_any_line_added_to_a_clean_build_is_named(data, word, prefix):
    """An entry line put anywhere between the lines of a clean sendmail.cf is reported with its word."""
    cf, expect = clean_cf()
    assume_new = word not in {"root", "daemon", "uucp", "smmta", "local", "prog", "smtp", "esmtp", "smtp8", "dsmtp", "relay"}
    lines = cf.split("\n")
    at = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    entry = word.split(",")[0] if prefix == "M" else word
    text = "\n".join(lines[:at] + [prefix + word + ("," if prefix == "M" else "")] + lines[at:])
    problems = A.audit_sendmail_cf(text, expect)
    if assume_new and entry:
        assert any(p.entry.lower() == entry.lower() and p.line == at + 1 for p in problems), problems


_LETTERS = "abcdefghijklmnopqrstuvwxyz_"
DOVECOT_KEY = st.builds(str.__add__, st.sampled_from(_LETTERS), st.text(_LETTERS + "0123456789", max_size=11))
DOVECOT_VALUE = st.text(st.characters(blacklist_characters="\n\r#\\\"'{}", blacklist_categories=("Cs",)), max_size=15)
DOVECOT_TREE = st.recursive(
    st.tuples(st.just("set"), DOVECOT_KEY, DOVECOT_VALUE)
    | st.tuples(st.just("include"), st.sampled_from(["!include", "!include_try"]),
                st.sampled_from(["/x", "/etc/dovecot/conf.d/*.conf", "local.conf"])),
    lambda children: st.tuples(st.just("section"), st.tuples(DOVECOT_KEY, st.none() | DOVECOT_KEY), st.lists(children, max_size=4)),
    max_leaves=12,
)


def _render_tree(items, depth, out, paths, prefix, indent):
    for item in items:
        pad = indent * depth
        if item[0] == "set":
            out.append("%s%s = %s" % (pad, item[1], item[2]))
            paths.append(prefix + item[1])
        elif item[0] == "include":
            out.append("%s%s %s" % (pad, item[1], item[2]))
            paths.append(prefix + item[1] + " " + item[2])
        else:
            header = item[1][0] + ("" if item[1][1] is None else " " + item[1][1])
            out.append("%s%s {" % (pad, header))
            out.append("%s# from: somewhere" % pad)
            paths.append(prefix + header)
            _render_tree(item[2], depth + 1, out, paths, prefix + header + "/", indent)
            out.append("%s}" % pad)


@PROPERTY_BIG
@given(st.lists(DOVECOT_TREE, max_size=6), st.sampled_from(["  ", "\t", ""]))
def test_property_dovecot_paths_round_trip(items, indent):
    out, paths = [], []
    _render_tree(items, 0, out, paths, "", indent)
    text = "\n".join(out) + "\n"
    assert [f.entry for f in A.parse_dovecot_conf(text)] == paths
    assert A.audit_dovecot_conf(text, {"entries": paths}) == []


@PROPERTY
@given(st.data(), DOVECOT_KEY, DOVECOT_VALUE, st.sampled_from(["2.3.19", "2.4.1"]))
def test_property_any_setting_added_to_a_clean_dovecot_conf_is_named(data, key, value, version):
    text, expect = _clean_dovecot(version)
    lines = text.split("\n")
    at = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    added = "\n".join(lines[:at] + ["%s = %s" % (key, value)] + lines[at:])
    problems = A.audit_dovecot_conf(added, expect)
    assert any(at + 1 in (p.lines or (p.line,)) and not p.missing and p.entry.split("/")[-1] == key for p in problems), problems


@PROPERTY
@given(st.text(max_size=300))
def test_property_the_dovecot_parser_reads_any_text(text):
    lines = text.split("\n")
    for found in A.parse_dovecot_conf(text):
        assert 1 <= found.line <= len(lines) and lines[found.line - 1] == found.text

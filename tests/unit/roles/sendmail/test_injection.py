"""No inventory value reaches sendmail.mc or submit.mc outside its m4 quotes.

Each variable the templates put between m4 quotes gets arbitrary strings: sendmail_config_errors (or
the domain model, for the masquerade domains) must refuse the value naming the variable, or the
rendered sendmail.mc must be the one a reference value gives with only the value changed, and m4 must
build a sendmail.cf from it (with the installed sendmail-cf) that differs from the reference build in
nothing but the value: no line, quote, class (C{R} relaying) or macro more or less. The concrete
exploits of the issue are regression tests of their own.
"""

from __future__ import annotations

import ast
import os
import shutil
import string
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))  # pytest.ini: --import-mode=importlib
from sendmail_render import CHECKS, MAIL_DOMAINS, ROLE, _environment, _resolve, role_vars  # noqa: E402

CF_M4 = "/usr/share/sendmail/cf/m4/cf.m4"
ENV = _environment()
TEMPLATES = {name: ENV.get_template(name) for name in ("sendmail.mc.j2", "submit.mc.j2")}
RAW = {mode: role_vars("Debian", {"sendmail_mode": mode}) for mode in ("server", "client")}
BASE = {mode: _resolve(ENV, RAW[mode]) for mode in RAW}
# vars/main.yml values computed from the public variables the specs below change
# (in the order they are computed: the certificate in use, then the CA file that defaults to it)
DERIVED = {"sendmail_tls_cert": ("__sendmail_tls_cert", "__sendmail_tls_verify_file"),
           "sendmail_tls_key": ("__sendmail_tls_key",),
           "sendmail_tls_ca_file": ("__sendmail_tls_verify_file",),
           "sendmail_listen_addresses": ("__sendmail_listen",)}
BASE["client"]["sendmail_smart_host"] = "mail.my-site.com"
# bounded and reproducible: every property test of this file together takes a few seconds
PROPERTY = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def m4(tmp_path_factory):
    """Build a .mc text with the real m4 and sendmail-cf: (returncode, sendmail.cf text, stderr)."""
    if not (shutil.which("m4") and os.path.exists(CF_M4)):
        pytest.fail("install m4 and sendmail-cf (scripts/bootstrap.sh does)")
    folder = tmp_path_factory.mktemp("m4")

    def build(text):
        path = folder / "candidate.mc"
        path.write_text(text, encoding="utf-8")
        proc = subprocess.run(["m4", str(path)], capture_output=True, text=True, check=False, cwd=folder, timeout=20)
        return proc.returncode, proc.stdout, proc.stderr

    return build


def _model(masquerade_domains):
    server = {"access": {}, "virtusertable": {}, "genericstable": {}, "aliases": {}, "local_host_names": [],
              "relay_domains": [], "generics_domains": [], "masquerade_domains": masquerade_domains}
    return MAIL_DOMAINS.mail_domains_server(MAIL_DOMAINS.mail_domains({}), server)


def values_with(mode, overrides):
    """The template's variables (Debian, MODE) with OVERRIDES, wired as vars/main.yml wires them."""
    values = dict(BASE[mode])
    values.update(overrides)
    for name in dict.fromkeys(name for key in overrides for name in DERIVED.get(key, ())):
        text = ENV.from_string(RAW[mode][name]).render(**values).strip()
        values[name] = ast.literal_eval(text) if text[:1] == "[" else text
    if "sendmail_milters" in overrides:
        values["__sendmail_milters"] = values["sendmail_dependent_milters"] + overrides["sendmail_milters"]
    if "sendmail_masquerade_domains" in overrides:
        values["__sendmail_model"] = _model(overrides["sendmail_masquerade_domains"])
    return values


def render(mode, overrides, template="sendmail.mc.j2"):
    return TEMPLATES[template].render(**values_with(mode, overrides))


def problems(mode, overrides):
    """What the role's checks say before anything changes: sendmail_config_errors, and the domain model's merge."""
    config = dict(overrides)
    config.setdefault("sendmail_mode", mode)
    if mode == "client":
        config.setdefault("sendmail_smart_host", BASE["client"]["sendmail_smart_host"])
    errors = CHECKS.sendmail_config_errors(config)
    if "sendmail_masquerade_domains" in overrides:
        try:
            _model(overrides["sendmail_masquerade_domains"])
        except Exception as exc:  # noqa: BLE001 - AnsibleFilterError: the domain model's message
            errors.append(str(exc).removeprefix("mail_domains: sendmail_masquerade_domains: "))
    return errors


# ---------------------------------------------------------------- what each variable may be given
LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True)
MACRO_WORDS = ["dnl", "divert", "m4exit", "undivert", "RELAY_DOMAIN", "LOCAL_CONFIG", "confCACERT", "_DNSBL_SRV_", "FEATURE",
               "DOMAIN", "include", "sm_version", "HACK"]
DANGER = "`'(),#\"\\$\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00\t é{}[]:;%<>|&*"
PIECE = st.one_of(LABEL, LABEL, LABEL, st.sampled_from(MACRO_WORDS), st.text(st.sampled_from(list(DANGER)), min_size=1, max_size=2))
ANY = st.one_of(st.text(max_size=24), st.text(st.sampled_from(list(string.printable + DANGER)), max_size=24))


def joined(separators, min_size=1, max_size=4):
    return st.lists(st.tuples(PIECE, st.sampled_from(separators)), min_size=min_size, max_size=max_size).map(
        lambda parts: "".join(p + s for p, s in parts)[: -len(parts[-1][1]) or None])


DOMAINS = st.one_of(joined(["."], 2, 4), ANY)
PATHS = st.one_of(joined(["/"], 1, 4).map(lambda p: "/" + p), ANY)
DURATIONS = st.one_of(st.from_regex(r"[0-9]{1,3}[smhdw]?(?:[0-9]{1,2}[smhdw])?", fullmatch=True), joined(["", "m"], 1, 2), ANY)
MESSAGES = st.one_of(joined([" ", " - ", ": ", "/", "\" $&{client_addr} \""], 1, 5), ANY)
MECHANISMS = st.one_of(st.from_regex(r"[A-Z][A-Z0-9-]{0,10}", fullmatch=True), st.sampled_from(MACRO_WORDS), ANY)
SOCKETS = st.one_of(PATHS.map(lambda p: "local:" + p), DOMAINS.map(lambda h: "inet:8891@" + h), ANY)
MACROS = st.one_of(LABEL.map(lambda w: "{" + w.replace("-", "_") + "}"), st.sampled_from(MACRO_WORDS).map(lambda w: "{" + w + "}"),
                   st.sampled_from(list("jib_")), ANY)
USERS = st.one_of(LABEL, st.sampled_from(MACRO_WORDS), ANY)
SMART_HOSTS = st.one_of(DOMAINS, DOMAINS.map(lambda h: "[" + h + "]"), DOMAINS.map(lambda h: "relay:[" + h + "]"), ANY)
PORTS = st.one_of(st.integers(-5, 70000), st.integers(1, 65535).map(str), ANY)
ADDRESSES = st.one_of(st.ip_addresses(v=4).map(str), ANY)


# name, mode, overrides(value), where, reference, strategy, templates, skip(value)
SPECS = [
    ("sendmail_masquerade_as", "server", lambda v: {"sendmail_masquerade_as": v}, "sendmail_masquerade_as",
     "zzref.example", DOMAINS, ("sendmail.mc.j2", "submit.mc.j2"), ("",)),
    ("sendmail_smart_host", "client", lambda v: {"sendmail_smart_host": v}, "sendmail_smart_host",
     "zzref.example", SMART_HOSTS, ("sendmail.mc.j2",), ("",)),
    ("sendmail_connection_rate_window_size", "server", lambda v: {"sendmail_connection_rate_window_size": v},
     "sendmail_connection_rate_window_size", "4321s", DURATIONS, ("sendmail.mc.j2",), (None,)),
    ("sendmail_auth_mechanisms[0]", "server", lambda v: {"sendmail_auth_mechanisms": [v]}, "sendmail_auth_mechanisms[0]",
     "ZZREF", MECHANISMS, ("sendmail.mc.j2",), ()),
    ("sendmail_tls_cert", "server", lambda v: {"sendmail_tls_cert": v}, "sendmail_tls_cert",
     "/zzref/cert.pem", PATHS, ("sendmail.mc.j2",), ()),
    ("sendmail_tls_key", "server", lambda v: {"sendmail_tls_key": v}, "sendmail_tls_key",
     "/zzref/key.pem", PATHS, ("sendmail.mc.j2",), ()),
    ("sendmail_tls_ca_file", "server", lambda v: {"sendmail_tls_ca_file": v}, "sendmail_tls_ca_file",
     "/zzref/ca.pem", PATHS, ("sendmail.mc.j2",), ("",)),
    ("sendmail_dnsbl[0].zone", "server", lambda v: {"sendmail_dnsbl": [{"zone": v}]}, "sendmail_dnsbl[0].zone",
     "bl.zzref.example", DOMAINS, ("sendmail.mc.j2",), ()),
    ("sendmail_dnsbl[0].message", "server", lambda v: {"sendmail_dnsbl": [{"zone": "bl.example.org", "message": v}]},
     "sendmail_dnsbl[0].message", "zzref listed", MESSAGES, ("sendmail.mc.j2",), ("", "quarantine", "discard")),
    ("sendmail_milters[0].name", "server", lambda v: {"sendmail_milters": [{"name": v, "socket": "local:/run/m.sock"}]},
     "sendmail_milters[0].name", "zzref", USERS, ("sendmail.mc.j2",), ()),
    ("sendmail_milters[0].socket", "server", lambda v: {"sendmail_milters": [{"name": "m", "socket": v}]},
     "sendmail_milters[0].socket", "local:/run/zzref.sock", SOCKETS, ("sendmail.mc.j2",), ()),
    ("sendmail_milters[0].timeouts.S", "server",
     lambda v: {"sendmail_milters": [{"name": "m", "socket": "local:/run/m.sock", "timeouts": {"S": v}}]},
     "sendmail_milters[0].timeouts.S", "4321s", DURATIONS, ("sendmail.mc.j2",), ()),
    ("sendmail_milters[0].macros.connect[0]", "server",
     lambda v: {"sendmail_milters": [{"name": "m", "socket": "local:/run/m.sock", "macros": {"connect": [v]}}]},
     "sendmail_milters[0].macros.connect[0]", "{zzref}", MACROS, ("sendmail.mc.j2",), ()),
    ("sendmail_exposed_users[0]", "server", lambda v: {"sendmail_exposed_users": [v], "sendmail_masquerade_as": "my-site.com"},
     "sendmail_exposed_users[0]", "zzref", USERS, ("sendmail.mc.j2", "submit.mc.j2"), ()),
    ("sendmail_masquerade_domains[0]", "server",
     lambda v: {"sendmail_masquerade_domains": [v], "sendmail_masquerade_as": "my-site.com"},
     "sendmail_masquerade_domains[0]", "zzref.example", DOMAINS, ("sendmail.mc.j2", "submit.mc.j2"), ()),
    ("sendmail_listen_addresses[0]", "server", lambda v: {"sendmail_listen_addresses": [v]}, "sendmail_listen_addresses[0]",
     "192.0.2.77", ADDRESSES, ("sendmail.mc.j2", "submit.mc.j2"), ("0.0.0.0", "127.0.0.1")),
    ("sendmail_smtp_port", "server", lambda v: {"sendmail_smtp_port": v}, "sendmail_smtp_port",
     "2345", PORTS, ("sendmail.mc.j2",), ()),
]


def _same_but_the_value(reference_text, text, reference, value):
    """TEXT is REFERENCE_TEXT with REFERENCE replaced by VALUE, line for line."""
    expected = reference_text.splitlines()
    lines = text.splitlines()
    assert len(lines) == len(expected), "a line was added or removed"
    for want, got in zip(expected, lines, strict=True):
        assert got == want.replace(reference, value), (want, got)


@pytest.fixture(scope="module")
def references(m4):
    """Per variable: the reference value's rendered templates and their sendmail.cf builds."""
    out = {}
    for name, mode, overrides, _where, reference, _strategy, templates, _skip in SPECS:
        assert problems(mode, overrides(reference)) == [], name
        built = {}
        for template in templates:
            text = render(mode, overrides(reference), template)
            assert text.count(reference) >= 1, (name, template)
            rc, cf, err = m4(text)
            assert rc == 0 and err == "", (name, template, err)
            assert reference in cf, (name, template)
            built[template] = (text, cf)
        out[name] = built
    return out


@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_any_value_is_refused_naming_the_variable_or_renders_as_itself(spec, references, m4):
    name, mode, overrides, where, reference, strategy, templates, skip = spec

    @PROPERTY
    @given(strategy)
    def check(value):
        errors = problems(mode, overrides(value))
        if errors:
            assert all(error.startswith(where + ": ") for error in errors), errors
            return
        assume(value not in skip and str(value) != reference)
        text_value = str(value)
        for template in templates:
            ref_text, ref_cf = references[name][template]
            text = render(mode, overrides(value), template)
            _same_but_the_value(ref_text, text, reference, text_value)
            rc, cf, err = m4(text)
            assert rc == 0 and err == "", err
            _same_but_the_value(ref_cf, cf, reference, text_value)
            relay = [line for line in cf.splitlines() if line.startswith(("C{R}", "CR", "FR", "F{R}"))]
            assert relay == [line for line in ref_cf.splitlines() if line.startswith(("C{R}", "CR", "FR", "F{R}"))]

    check()


# ---------------------------------------------------------------- the exploits, one by one
EXPLOIT = "')RELAY_DOMAIN(`com')dnl"


def test_the_masquerade_exploit_would_open_the_relay_and_is_refused(m4):
    """The issue's case: sendmail_masquerade_as built with m4 rc 0 and put C{R}com into sendmail.cf."""
    value = "my-site.com" + EXPLOIT
    rc, cf, err = m4(render("server", {"sendmail_masquerade_as": value}))
    assert rc == 0 and "C{R}com" in cf.splitlines()  # what the template alone lets through
    errors = problems("server", {"sendmail_masquerade_as": value})
    assert errors and errors[0].startswith(f"sendmail_masquerade_as: {value!r} is not valid: a mail domain")


@pytest.mark.parametrize("where, overrides", [
    ("sendmail_dnsbl[0].message", {"sendmail_dnsbl": [{"zone": "bl.spamcop.net", "message": "Rejected" + EXPLOIT}]}),
    ("sendmail_milters[0].socket", {"sendmail_milters": [{"name": "m", "socket": "local:/run/m.sock" + EXPLOIT}]}),
    ("sendmail_auth_mechanisms[0]", {"sendmail_auth_mechanisms": ["PLAIN" + EXPLOIT]}),
    ("sendmail_tls_ca_file", {"sendmail_tls_ca_file": "/etc/ssl/ca.crt" + EXPLOIT}),
    ("sendmail_smart_host", {"sendmail_smart_host": "mail.my-site.com" + EXPLOIT}),
    ("sendmail_connection_rate_window_size", {"sendmail_connection_rate_window_size": "10m" + EXPLOIT}),
    ("sendmail_tls_cert", {"sendmail_tls_cert": "/etc/mail/tls/o'brien.crt"}),
    ("sendmail_tls_key", {"sendmail_tls_key": "/etc/mail/tls/smtpd.key" + EXPLOIT}),
    ("sendmail_exposed_users[0]", {"sendmail_exposed_users": ["root" + EXPLOIT]}),
    ("sendmail_dnsbl[0].zone", {"sendmail_dnsbl": [{"zone": "bl.m4exit.org"}]}),
])
def test_each_exploit_is_refused_before_anything_changes(where, overrides, m4):
    mode = "client" if "sendmail_smart_host" in overrides else "server"
    errors = problems(mode, overrides)
    assert errors and all(error.startswith(where + ": ") for error in errors), errors


def test_a_quote_in_a_path_no_longer_becomes_another_path(m4):
    """o'brien.crt: the quote ended the m4 string, sendmail.cf named another file; refused now."""
    rc, cf, _err = m4(render("server", {"sendmail_tls_cert": "/etc/mail/tls/o'brien.crt"}))
    assert "O ServerCertFile=/etc/mail/tls/o'brien.crt" not in cf.splitlines()
    assert problems("server", {"sendmail_tls_cert": "/etc/mail/tls/o'brien.crt"})[0].startswith("sendmail_tls_cert: ")


def test_a_macro_name_in_a_value_would_cut_sendmail_cf_and_is_refused(m4):
    """m4exit inside a valid-looking domain ends sendmail.cf there with rc 0: the m4 rule refuses it."""
    rc, cf, err = m4(render("server", {"sendmail_masquerade_as": "x.m4exit.com"}))
    assert rc == 0 and "DMx.m4exit.com" not in cf and "Mlocal" not in cf  # truncated, silently
    assert problems("server", {"sendmail_masquerade_as": "x.m4exit.com"})[0].startswith("sendmail_masquerade_as: ")


# ---------------------------------------------------------------- the role hands every one of them to the check
# Every variable the two templates put into sendmail.mc/submit.mc, as the role's validate step must pass it to
# homelab.mailserver.sendmail_config_errors (vars/main.yml __sendmail_checked). Internal values of the
# platform's vars files (__sendmail_*) and the domain model (checked by homelab.mailserver.mail_domains) are
# not inventory and not listed.
TEMPLATE_VARIABLES = (
    "sendmail_mode", "sendmail_smart_host", "sendmail_listen_addresses", "sendmail_smtp_port", "sendmail_submission_port",
    "sendmail_listen_queue_size", "sendmail_max_daemon_children", "sendmail_queue_la", "sendmail_refuse_la",
    "sendmail_connection_rate_throttle",
    "sendmail_connection_rate_window_size", "sendmail_delivery_mode", "sendmail_max_queue_children",
    "sendmail_max_runners_per_queue", "sendmail_tls_cert", "sendmail_tls_key", "sendmail_tls_ca_file",
    "sendmail_auth_mechanisms", "sendmail_dnsbl", "sendmail_masquerade_as", "sendmail_exposed_users", "sendmail_milters",
    "sendmail_mc_raw_features", "sendmail_mc_raw_end", "sendmail_local_mailbox", "sendmail_procmail_locksleep",
)


def test_every_template_variable_is_one_the_check_knows():
    for name in TEMPLATE_VARIABLES:
        text = open(ROLE / "templates" / "sendmail.mc.j2", encoding="utf-8").read() + open(
            ROLE / "templates" / "submit.mc.j2", encoding="utf-8").read() + open(
            ROLE / "templates" / "procmailrc.j2", encoding="utf-8").read()
        assert name in text or f"__{name}" in text, name
        bad = {"sendmail_mode": "relay", "sendmail_dnsbl": "x", "sendmail_milters": "x", "sendmail_mc_raw_features": "x",
               "sendmail_mc_raw_end": "x", "sendmail_listen_addresses": "x", "sendmail_auth_mechanisms": "x",
               "sendmail_exposed_users": "x", "sendmail_delivery_mode": "x"}.get(name, "x\ny')dnl")
        errors = CHECKS.sendmail_config_errors({name: bad})
        assert errors and errors[0].startswith(name), (name, errors)


def test_the_role_passes_every_template_variable_to_the_check():
    checked = yaml.safe_load(open(ROLE / "vars" / "main.yml", encoding="utf-8"))["__sendmail_checked"]
    missing = [name for name in TEMPLATE_VARIABLES if name not in checked]
    assert missing == []

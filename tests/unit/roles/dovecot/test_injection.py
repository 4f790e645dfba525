"""No inventory value adds a line or a section to dovecot.conf.

dovecot.conf.j2 is the filter homelab.mailserver.dovecot_config: every string variable it renders gets
arbitrary text. dovecot_config_errors must name the variable, or dovecot.conf (2.3 and 2.4 syntax) must
be the reference render with only the value changed: the same lines, the same settings, the same sections.
"""

from __future__ import annotations

import pathlib
import string

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter import dovecot
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[4]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "dovecot" / "defaults" / "main.yml").read_text(encoding="utf-8"))
CERT_ONLY = ("dovecot_ssl_cert", "dovecot_ssl_key", "dovecot_ssl_selfsigned", "dovecot_ssl_subject", "dovecot_ssl_alt_names",
             "dovecot_ssl_days", "dovecot_ssl_renew_days")
PLATFORM = {"ssl_cert": "/etc/dovecot/private/dovecot-server.pem", "ssl_key": "/etc/dovecot/private/dovecot-server.key",
            "ssl_dh": "/usr/share/dovecot/dh.pem", "mail_privileged_group": "mail",
            "sieve_dir": "/etc/dovecot/sieve", "sieve_bin_dir": "/etc/dovecot/sieve/bin",
            "quota_users_path": "/etc/dovecot/quota-users", "quota_warning_script": "/etc/dovecot/quota-warning.sh",
            "lmtp_socket": "/run/dovecot/lmtp"}
VERSIONS = ("2.3.19", "2.4.1")
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
DANGER = LINE_BREAKS + "{}#<$%\"'` \t=;:,!"
ANY = st.one_of(st.text(max_size=30), st.text(st.sampled_from(list(string.ascii_letters + string.digits + "./-_" + DANGER)), max_size=30))
PATHS = st.one_of(st.lists(st.from_regex(r"[a-z0-9._-]{1,8}", fullmatch=True), min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
                  ANY.map(lambda t: "/var/log/" + t), ANY)
WORDS = st.one_of(st.from_regex(r"[A-Za-z0-9 ._-]{1,20}", fullmatch=True), ANY)


def role_input(**overrides):
    data = {k: v for k, v in DEFAULTS.items() if k not in CERT_ONLY}
    data.update(PLATFORM)
    data.update(overrides)
    return data


# variable (as errors name it), overrides(value), reference, strategy, skip
SPECS = [
    ("dovecot_log_path", lambda v: {"dovecot_log_path": v}, "/var/log/zzref.log", PATHS, ("syslog",)),
    ("dovecot_ssl_cert", lambda v: {"ssl_cert": v}, "/etc/zzref/cert.pem", PATHS, ()),
    ("dovecot_ssl_key", lambda v: {"ssl_key": v}, "/etc/zzref/key.pem", PATHS, ()),
    ("dovecot_ssl_cipher_list", lambda v: {"dovecot_ssl_cipher_list": v}, "ZZREF-CIPHER:HIGH", WORDS, ()),
    ("dovecot_auth_mechanisms", lambda v: {"dovecot_auth_mechanisms": [v]}, "zzref", WORDS, ()),
    ("dovecot_login_trusted_networks", lambda v: {"dovecot_login_trusted_networks": [v]}, "192.0.2.0/24",
     st.one_of(st.ip_addresses().map(str), ANY), ()),
    ("dovecot_settings", lambda v: {"dovecot_settings": {"login_greeting": v}}, "zzref ready", WORDS, ()),
    ("dovecot_settings", lambda v: {"dovecot_settings": {v: "1"}}, "zzref_setting",
     st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), ANY), ()),
]


def _structure(text):
    """The setting names and section lines of a dovecot.conf, in order."""
    out = []
    for line in text.splitlines():
        bare = line.strip()
        if not bare or bare.startswith("#"):
            continue
        out.append(bare.split("=", 1)[0].strip() if "=" in bare else bare)
    return out


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SPECS)])
@pytest.mark.parametrize("version", VERSIONS)
def test_any_value_is_refused_naming_the_variable_or_renders_as_itself(spec, version):
    name, overrides, reference, strategy, skip = spec
    assert dovecot.dovecot_config_errors(role_input(**overrides(reference))) == []
    ref_text = dovecot.dovecot_config(role_input(**overrides(reference)), version)
    assert ref_text.count(reference) >= 1

    @PROPERTY
    @given(strategy)
    def check(value):
        data = role_input(**overrides(value))
        errors = dovecot.dovecot_config_errors(data)
        if errors:
            assert all(error.startswith(name) for error in errors), errors
            with pytest.raises(AnsibleFilterError):
                dovecot.dovecot_config(data, version)
            return
        assume(value not in skip and value != reference)
        text = dovecot.dovecot_config(data, version)
        shown = value.strip() if name == "dovecot_ssl_cipher_list" else value
        expected = ref_text.splitlines()
        lines = text.splitlines()
        assert len(lines) == len(expected)
        for want, got in zip(expected, lines, strict=True):
            assert got == want.replace(reference, shown)
        if name != "dovecot_settings" or "login_greeting" in data["dovecot_settings"]:
            assert _structure(text) == _structure(ref_text)

    check()


@PROPERTY
@given(st.one_of(ANY, st.lists(ANY, max_size=3)))
def test_listen_addresses_never_add_a_line(value):
    data = role_input(dovecot_listen=value, dovecot_listeners={"imaps": {"address": value, "port": 993}})
    errors = dovecot.dovecot_config_errors(data)
    if errors:
        assert all(error.startswith(("dovecot_listen", "dovecot_listeners.imaps.address")) for error in errors), errors
        return
    reference = dovecot.dovecot_config(role_input(dovecot_listen="*", dovecot_listeners={"imaps": {"address": "*", "port": 993}}),
                                       "2.3.19")
    text = dovecot.dovecot_config(data, "2.3.19")
    assert _structure(text) == _structure(reference) or _structure(text) == [
        line for line in _structure(reference) if line not in ("listen", "address")]


# ---------------------------------------------------------------- the cases
@pytest.mark.parametrize("overrides, where", [
    ({"dovecot_log_path": "/var/log/dovecot.log\nlogin_trusted_networks = 0.0.0.0/0 ::/0"}, "dovecot_log_path"),
    ({"ssl_cert": "/etc/dovecot/private/dovecot.pem\nlogin_trusted_networks = 0.0.0.0/0"}, "dovecot_ssl_cert"),
    ({"ssl_key": "/etc/dovecot/private/dovecot.key\rssl = no"}, "dovecot_ssl_key"),
    ({"ssl_cert": "/etc/dovecot/private/dovecot.pem\u2028ssl = no"}, "dovecot_ssl_cert"),
    ({"dovecot_log_path": "/var/log/dovecot.log\x0bauth_allow_cleartext = yes"}, "dovecot_log_path"),
    ({"dovecot_ssl_cipher_list": "HIGH\nssl_min_protocol = TLSv1"}, "dovecot_ssl_cipher_list"),
    ({"dovecot_ssl_cipher_list": "HIGH #x"}, "dovecot_ssl_cipher_list"),
    ({"dovecot_settings": {"login_greeting": "hi\nlogin_trusted_networks = 0.0.0.0/0"}}, "dovecot_settings.login_greeting"),
])
def test_a_value_that_would_add_a_line_is_refused(overrides, where):
    data = role_input(**overrides)
    errors = dovecot.dovecot_config_errors(data)
    assert errors and all(error.startswith(where) for error in errors), errors
    for version in VERSIONS:
        with pytest.raises(AnsibleFilterError, match=where):
            dovecot.dovecot_config(data, version)

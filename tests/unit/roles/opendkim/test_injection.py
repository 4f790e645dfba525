"""No inventory value adds a line or a field to OpenDKIM's files.

opendkim.conf, key.table and internal.hosts are rendered from the role's templates. Each variable that
reaches them gets arbitrary strings: homelab.mailserver.milter_config_errors names the variable, or the
rendered files are the reference render with only the value changed (no line or field more).
"""

from __future__ import annotations

import pathlib
import string

import jinja2
import pytest
import yaml
from ansible_collections.homelab.mailserver.plugins.filter import mail_dns, milter_checks
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "opendkim"
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), trim_blocks=True, keep_trailing_newline=True,
                         undefined=jinja2.StrictUndefined)
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
ANY = st.one_of(st.text(max_size=30),
                st.text(st.sampled_from(list(string.ascii_lowercase + string.digits + ".-_/:@ \t#," + LINE_BREAKS)), max_size=30))
HOSTS = st.one_of(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True), min_size=1, max_size=3).map(".".join),
                  st.ip_addresses().map(str), ANY)
PATHS = st.one_of(st.lists(st.from_regex(r"[a-z0-9._-]{1,8}", fullmatch=True), min_size=1, max_size=3).map(lambda p: "/" + "/".join(p)),
                  ANY.map(lambda t: "/etc/" + t), ANY)


def _yaml(path):
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def role_values(overrides):
    values = dict(_yaml(ROLE / "defaults" / "main.yml"))
    values.update(_yaml(ROLE / "vars" / "Debian.yml"))
    values.update({k: v for k, v in _yaml(ROLE / "vars" / "main.yml").items() if not str(v).startswith("{{")})
    values.update(overrides)
    values.update({"ansible_managed": "Ansible managed", "__opendkim_fqdn": {"stdout": "bigboy.my-site.com"},
                   "__opendkim_signing_hosts": values["opendkim_internal_hosts"]})
    values["__opendkim_keys"] = mail_dns.mail_dkim_keys(["my-site.com"], values["opendkim_selector"], {},
                                                        values["opendkim_key_dir"] or values["__opendkim_default_key_dir"])
    return values


def render(overrides):
    values = role_values(overrides)
    return {name: ENV.get_template(name).render(**values) for name in ("opendkim.conf.j2", "key.table.j2", "internal.hosts.j2")}


SPECS = [
    ("opendkim_authserv_id", lambda v: {"opendkim_authserv_id": v}, "zzref.example", HOSTS, ("",)),
    ("opendkim_socket", lambda v: {"opendkim_socket": v}, "local:/run/zzref.sock",
     st.one_of(PATHS.map(lambda p: "local:" + p), HOSTS.map(lambda h: "inet:8891@" + h), ANY), ()),
    ("opendkim_nameservers", lambda v: {"opendkim_nameservers": [v]}, "192.0.2.53", st.one_of(st.ip_addresses().map(str), ANY), ()),
    ("opendkim_internal_hosts", lambda v: {"opendkim_internal_hosts": [v]}, "zzref.example", HOSTS, ()),
    ("opendkim_extra_config", lambda v: {"opendkim_extra_config": {"On-Default": v}}, "zzref", ANY, ()),
    ("opendkim_extra_config", lambda v: {"opendkim_extra_config": {v: "yes"}}, "ZzrefSetting",
     st.one_of(st.from_regex(r"[A-Z][A-Za-z]{0,10}", fullmatch=True), ANY), ()),
    ("opendkim_key_dir", lambda v: {"opendkim_key_dir": v}, "/etc/zzref", PATHS, ("",)),
    ("opendkim_selector", lambda v: {"opendkim_selector": v}, "zzref", HOSTS, ()),
]


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SPECS)])
def test_any_value_is_refused_naming_the_variable_or_renders_as_itself(spec):
    name, overrides, reference, strategy, skip = spec
    assert milter_checks.milter_config_errors(overrides(reference)) == []
    expected = render(overrides(reference))
    assert any(reference in text for text in expected.values())

    @PROPERTY
    @given(strategy)
    def check(value):
        errors = milter_checks.milter_config_errors(overrides(value))
        if errors:
            assert all(error.startswith(name) for error in errors), errors
            return
        assume(value not in skip and value != reference and not value.endswith("/"))  # key_dir: one trailing / is dropped
        for template, text in render(overrides(value)).items():
            want = expected[template].splitlines()
            got = text.splitlines()
            assert len(got) == len(want), template
            for line_want, line_got in zip(want, got, strict=True):
                assert line_got == line_want.replace(reference, value)
                assert len(line_got.split()) == len(line_want.split()) or " " in value

    check()


# ---------------------------------------------------------------- the case
@pytest.mark.parametrize("config, where", [
    ({"opendkim_authserv_id": "bigboy.my-site.com\nInternalHosts 0.0.0.0/0"}, "opendkim_authserv_id"),
    ({"opendkim_authserv_id": "bigboy.my-site.com\r"}, "opendkim_authserv_id"),
    ({"opendkim_socket": "local:/run/opendkim/opendkim.sock\nMode s"}, "opendkim_socket"),
    ({"opendkim_internal_hosts": ["127.0.0.1\n0.0.0.0/0"]}, "opendkim_internal_hosts[0]"),
    ({"opendkim_nameservers": ["192.0.2.53\u2028Mode s"]}, "opendkim_nameservers[0]"),
    ({"opendkim_extra_config": {"On-Default": "accept\nMode s"}}, "opendkim_extra_config.On-Default"),
    ({"opendkim_extra_config": {"Mode s\nX": "1"}}, "opendkim_extra_config"),
    ({"opendkim_key_dir": "/etc/dkim:keys"}, "opendkim_key_dir"),
])
def test_a_value_that_would_add_a_line_or_field_is_refused(config, where):
    errors = milter_checks.milter_config_errors(config)
    assert errors and all(error.startswith(where + ": ") for error in errors), errors


def test_the_role_defaults_pass():
    defaults = _yaml(ROLE / "defaults" / "main.yml")
    assert milter_checks.milter_config_errors({k: v for k, v in defaults.items() if k in milter_checks.RULES}) == []

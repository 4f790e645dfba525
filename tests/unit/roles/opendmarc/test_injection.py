"""No inventory value adds a line to OpenDMARC's files.

opendmarc.conf and ignore.hosts come from the role's templates: each variable that reaches them gets
arbitrary strings, and homelab.mailserver.milter_config_errors names the variable, or the files are the
reference render with only the value changed.
"""

from __future__ import annotations

import pathlib
import string

import jinja2
import pytest
import yaml
from ansible_collections.homelab.mailserver.plugins.filter import milter_checks
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "opendmarc"
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), trim_blocks=True, keep_trailing_newline=True,
                         undefined=jinja2.StrictUndefined)
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
ANY = st.one_of(st.text(max_size=30),
                st.text(st.sampled_from(list(string.ascii_lowercase + string.digits + ".-_/:@ \t#," + LINE_BREAKS)), max_size=30))
HOSTS = st.one_of(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True), min_size=1, max_size=3).map(".".join),
                  st.ip_addresses().map(str), ANY)


def _yaml(path):
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def render(overrides):
    values = dict(_yaml(ROLE / "defaults" / "main.yml"))
    values.update(_yaml(ROLE / "vars" / "Debian.yml"))
    values.update({k: v for k, v in _yaml(ROLE / "vars" / "main.yml").items() if not str(v).startswith("{{")})
    values.update(overrides)
    values.update({"ansible_managed": "Ansible managed", "__opendmarc_trust_spf_results": True,
                   "__opendmarc_authserv_id": values["opendmarc_authserv_id"] or "bigboy.my-site.com",
                   "__opendmarc_skipped_hosts": values["opendmarc_ignore_hosts"]})
    return {name: ENV.get_template(name).render(**values) for name in ("opendmarc.conf.j2", "ignore.hosts.j2")}


SPECS = [
    ("opendmarc_authserv_id", lambda v: {"opendmarc_authserv_id": v}, "zzref.example", HOSTS, ("",)),
    ("opendmarc_socket", lambda v: {"opendmarc_socket": v}, "local:/run/zzref.sock",
     st.one_of(HOSTS.map(lambda h: "inet:8893@" + h), ANY.map(lambda t: "local:/run/" + t), ANY), ()),
    ("opendmarc_ignore_hosts", lambda v: {"opendmarc_ignore_hosts": [v]}, "zzref.example", HOSTS, ()),
    ("opendmarc_extra_config", lambda v: {"opendmarc_extra_config": {"HistoryFile": v}}, "/var/run/zzref.dat", ANY, ()),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_any_value_is_refused_naming_the_variable_or_renders_as_itself(spec):
    name, overrides, reference, strategy, skip = spec
    assert milter_checks.milter_config_errors(overrides(reference)) == []
    expected = render(overrides(reference))

    @PROPERTY
    @given(strategy)
    def check(value):
        errors = milter_checks.milter_config_errors(overrides(value))
        if errors:
            assert all(error.startswith(name) for error in errors), errors
            return
        assume(value not in skip and value != reference)
        for template, text in render(overrides(value)).items():
            want = expected[template].splitlines()
            got = text.splitlines()
            assert len(got) == len(want), template
            assert got == [line.replace(reference, value) for line in want]

    check()


@pytest.mark.parametrize("config, where", [
    ({"opendmarc_authserv_id": "bigboy.my-site.com\nIgnoreAuthenticatedClients false"}, "opendmarc_authserv_id"),
    ({"opendmarc_ignore_hosts": ["127.0.0.1\n0.0.0.0/0"]}, "opendmarc_ignore_hosts[0]"),
    ({"opendmarc_socket": "local:/run/opendmarc.sock\x0bRejectFailures false"}, "opendmarc_socket"),
    ({"opendmarc_extra_config": {"RejectFailures": "true\nRejectFailures false"}}, "opendmarc_extra_config.RejectFailures"),
])
def test_a_value_that_would_add_a_line_is_refused(config, where):
    errors = milter_checks.milter_config_errors(config)
    assert errors and all(error.startswith(where + ": ") for error in errors), errors

"""No inventory value adds a line to pyspf-milter.conf.

The role's template writes the authserv-id, the socket and the skipped networks; each gets arbitrary
strings: homelab.mailserver.milter_config_errors names the variable, or pyspf-milter.conf is the
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
ROLE = ROOT / "roles" / "spf"
TEMPLATE = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), trim_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined).get_template("pyspf-milter.conf.j2")
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
ANY = st.one_of(st.text(max_size=30),
                st.text(st.sampled_from(list(string.ascii_lowercase + string.digits + ".-_/:@ \t#,=" + LINE_BREAKS)), max_size=30))
HOSTS = st.one_of(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True), min_size=1, max_size=3).map(".".join),
                  st.ip_addresses().map(str), st.ip_addresses().map(lambda a: f"{a}/{24 if a.version == 4 else 64}"), ANY)


def render(overrides):
    values = dict(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8")))
    values.update(yaml.safe_load((ROLE / "vars" / "Debian.yml").read_text(encoding="utf-8")))
    values.update(overrides)
    values.update({"ansible_managed": "Ansible managed", "__spf_policy": values["spf_policy"], "__spf_socket": values["spf_socket"],
                   "__spf_authserv_id": values["spf_authserv_id"] or "bigboy.my-site.com",
                   "__spf_skipped_networks": values["spf_ignore_hosts"]})
    return TEMPLATE.render(**values)


SPECS = [
    ("spf_authserv_id", lambda v: {"spf_authserv_id": v}, "zzref.example", HOSTS, ("",)),
    ("spf_socket", lambda v: {"spf_socket": v}, "inet:8893@zzref.example",
     st.one_of(HOSTS.map(lambda h: "inet:8893@" + h), ANY.map(lambda t: "local:/run/" + t), ANY), ()),
    ("spf_ignore_hosts", lambda v: {"spf_ignore_hosts": [v]}, "192.0.2.77", HOSTS, ()),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_any_value_is_refused_naming_the_variable_or_renders_as_itself(spec):
    name, overrides, reference, strategy, skip = spec
    assert milter_checks.milter_config_errors(overrides(reference)) == []
    expected = render(overrides(reference)).splitlines()

    @PROPERTY
    @given(strategy)
    def check(value):
        errors = milter_checks.milter_config_errors(overrides(value))
        if errors:
            assert all(error.startswith(name) for error in errors), errors
            return
        assume(value not in skip and value != reference)
        assert render(overrides(value)).splitlines() == [line.replace(reference, value) for line in expected]

    check()


@pytest.mark.parametrize("config, where", [
    ({"spf_authserv_id": "bigboy.my-site.com\nTestOnly = 0"}, "spf_authserv_id"),
    ({"spf_ignore_hosts": ["127.0.0.1\n"]}, "spf_ignore_hosts[0]"),
    ({"spf_ignore_hosts": ["0.0.0.0/0,::/0"]}, "spf_ignore_hosts[0]"),
    ({"spf_socket": "inet:8893@127.0.0.1\nUserID = root"}, "spf_socket"),
    ({"opendmarc_spf_socket": "inet:8893@127.0.0.1\r"}, "opendmarc_spf_socket"),
])
def test_a_value_that_would_add_a_line_is_refused(config, where):
    errors = milter_checks.milter_config_errors(config)
    assert errors and all(error.startswith(where + ": ") for error in errors), errors

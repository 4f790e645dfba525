"""No inventory value adds a line to /etc/hosts or /etc/resolv.conf.

/etc/hosts is written by the filters hosts_entries and hosts_loopback, resolv.conf by the role's
template; resolver_problems checks their variables first. Arbitrary strings: the check names the
variable, or the files get exactly the lines the role means (the 127.0.0.1 line keeps localhost).
"""

from __future__ import annotations

import pathlib
import string

import jinja2
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter import resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[4]
TEMPLATE = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "roles" / "resolver" / "templates")), trim_blocks=True,
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined).get_template("resolv.conf.j2")
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n# a comment\n192.0.2.9\tprinter\n"
FIXED = ["localhost.localdomain", "localhost"]
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
ANY = st.one_of(st.text(max_size=30),
                st.text(st.sampled_from(list(string.ascii_lowercase + string.digits + ".-_ \t#" + LINE_BREAKS)), max_size=30))
NAMES = st.one_of(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True), min_size=1, max_size=3).map(".".join),
                  ANY.map(lambda t: "bigboy.my-site.com" + t), ANY)


def variables(**overrides):
    data = {"resolver_hostname": "bigboy", "resolver_domain": "my-site.com", "resolver_fqdn": "bigboy.my-site.com",
            "resolver_loopback_aliases": [], "__resolver_loopback_fixed": FIXED, "resolver_hosts_entries": [],
            "resolver_manage_resolv_conf": True, "resolver_nameservers": ["192.0.2.53"], "resolver_search": [],
            "resolver_mail_domains": ["my-site.com"], "resolver_dependent_mail_domains": []}
    data.update(overrides)
    return data


def hosts_file(data):
    names = [data["resolver_fqdn"], *FIXED, data["resolver_hostname"], *data["resolver_loopback_aliases"]]
    return resolver.hosts_loopback(resolver.hosts_entries(HOSTS, data["resolver_hosts_entries"]), names)


def resolv_conf(data):
    return TEMPLATE.render(ansible_managed="Ansible managed", **data)


def _check_hosts(text, data):
    lines = text.splitlines()
    loopback = [line for line in lines if line.split()[:1] == ["127.0.0.1"]]
    assert len(loopback) == 1 and loopback[0].split()[1:3] == [data["resolver_fqdn"], "localhost.localdomain"]
    assert "localhost" in loopback[0].split()
    others = [line for line in lines if line.split()[:1] != ["127.0.0.1"]]
    expected = [line for line in HOSTS.splitlines() if line.split()[:1] != ["127.0.0.1"]]
    entries = {entry["address"] for entry in data["resolver_hosts_entries"]}
    assert [line for line in others if line.split()[:1] not in ([a] for a in entries)] == [
        line for line in expected if line.split()[:1] not in ([a] for a in entries)]
    assert len(lines) == len(HOSTS.splitlines()) + len([a for a in entries if a not in HOSTS])


@pytest.mark.parametrize("name, overrides", [
    ("resolver_fqdn", lambda v: {"resolver_fqdn": v}),
    # resolver_fqdn's default is resolver_hostname.resolver_domain (defaults/main.yml)
    ("resolver_hostname", lambda v: {"resolver_hostname": v, "resolver_fqdn": f"{v}.my-site.com"}),
    ("resolver_loopback_aliases", lambda v: {"resolver_loopback_aliases": [v]}),
    ("resolver_hosts_entries", lambda v: {"resolver_hosts_entries": [{"address": "192.0.2.10", "names": [v]}]}),
])
def test_hosts_names_are_refused_naming_the_variable_or_written_on_their_line(name, overrides):
    @PROPERTY
    @given(NAMES)
    def check(value):
        data = variables(**overrides(value))
        problems = resolver.resolver_problems(data)
        if problems:  # a derived resolver_fqdn may be refused too
            assert any(p.startswith(name) for p in problems), problems
            return
        _check_hosts(hosts_file(data), data)

    check()


@pytest.mark.parametrize("name, overrides", [
    ("resolver_domain", lambda v: {"resolver_domain": v, "resolver_fqdn": f"bigboy.{v}" if v else "bigboy"}),
    ("resolver_search", lambda v: {"resolver_search": [v]}),
    ("resolver_nameservers", lambda v: {"resolver_nameservers": [v]}),
])
def test_resolv_conf_values_are_refused_naming_the_variable_or_stay_on_their_line(name, overrides):
    @PROPERTY
    @given(st.one_of(NAMES, st.ip_addresses().map(str)))
    def check(value):
        data = variables(**overrides(value))
        problems = resolver.resolver_problems(data)
        if problems:  # a derived resolver_fqdn may be refused too; its message names resolver_domain then
            assert any(p.startswith(name) or name in p.split(" is not valid: ")[1] for p in problems), problems
            return
        lines = resolv_conf(data).splitlines()
        assert [line.split()[0] for line in lines] == ["#", "domain"] + (["search"] if data["resolver_search"] else []) + [
            "nameserver"] * len(data["resolver_nameservers"])
        assert len(lines[1].split()) == 2 and all(len(line.split()) == 2 for line in lines if line.startswith("nameserver"))

    check()


# ---------------------------------------------------------------- the case
@pytest.mark.parametrize("overrides, where", [
    ({"resolver_fqdn": "bigboy.my-site.com\n"}, "resolver_fqdn"),
    ({"resolver_hostname": "bigboy\n", "resolver_fqdn": "bigboy.my-site.com"}, "resolver_hostname"),
    ({"resolver_domain": "my-site.com\nnameserver 203.0.113.66"}, "resolver_domain"),
    ({"resolver_search": ["my-site.com\nnameserver 203.0.113.66"]}, "resolver_search[0]"),
    ({"resolver_loopback_aliases": ["mail\u2028evil"]}, "resolver_loopback_aliases[0]"),
])
def test_a_trailing_newline_is_refused_before_hosts_loses_localhost(overrides, where):
    """'bigboy.my-site.com\\n' passed a '$'-anchored pattern and /etc/hosts lost localhost on the 127.0.0.1 line."""
    problems = resolver.resolver_problems(variables(**overrides))
    assert problems and any(p.startswith(where + ": ") for p in problems), problems


@pytest.mark.parametrize("names", [["bigboy.my-site.com\n", "localhost"], ["bigboy my-site.com"], ["a\x0bb"], [""]])
def test_the_hosts_filters_refuse_a_name_that_is_not_one(names):
    """Applied on their own (not through the role), the filters still never write a broken line."""
    with pytest.raises(AnsibleFilterError, match="names"):
        resolver.hosts_loopback(HOSTS, names)
    with pytest.raises(AnsibleFilterError, match="names"):
        resolver.hosts_entries(HOSTS, [{"address": "192.0.2.10", "names": names}])
    with pytest.raises(AnsibleFilterError, match="address"):
        resolver.hosts_entries(HOSTS, [{"address": "192.0.2.10\n10.0.0.1", "names": ["x"]}])

"""The opendkim, spf and opendmarc roles: variables, argument specs, and the files their templates render.

The spf role's own templates and values: tests/unit/roles/spf.
"""

from __future__ import annotations

import jinja2
import pytest
from ansible.template import Templar, trust_as_template
from role_harness import ROOT, trusted
from role_harness import load_yaml as _yaml

ROLES = {name: ROOT / "roles" / name for name in ("opendkim", "spf", "opendmarc")}
TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict, "path": str}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_default_is_documented_in_readme(role):
    readme = (ROLES[role] / "README.md").read_text(encoding="utf-8")
    missing = [name for name in _yaml(ROLES[role] / "defaults" / "main.yml") if f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_platform_file_sets_the_same_variables(role):
    debian = _yaml(ROLES[role] / "vars" / "Debian.yml")
    redhat = _yaml(ROLES[role] / "vars" / "RedHat.yml")
    assert sorted(debian) == sorted(redhat)


def render(role, template, **values):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLES[role] / "templates")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    return env.get_template(template).render(ansible_managed="Ansible managed", **values)


def _conf(text, sep=None):
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _sep, value = line.partition("=") if sep == "=" else line.partition("\t")
            out[key.strip()] = value.strip()
    return out


def opendkim_values(**overrides):
    values = dict(_yaml(ROLES["opendkim"] / "defaults" / "main.yml"))
    values.update(_yaml(ROLES["opendkim"] / "vars" / "main.yml"))
    values.update(_yaml(ROLES["opendkim"] / "vars" / "Debian.yml"))
    values.update({
        "__opendkim_fqdn": {"stdout": "bigboy.my-site.com"},
        "__opendkim_keys": [{"domain": "my-site.com", "selector": "mail",
                             "private": "/etc/dkimkeys/my-site.com/mail.private"}],
        "__opendkim_signing_hosts": ["127.0.0.1", "192.168.2.0/24", "my-site.com", ".my-site.com"],
    })
    values.update(overrides)
    return values


def test_opendkim_conf_signs_from_the_tables_and_strips_forged_results():
    conf = _conf(render("opendkim", "opendkim.conf.j2", **opendkim_values()))
    assert conf["Mode"] == "sv"
    assert conf["KeyTable"] == "file:/etc/opendkim/key.table"
    assert conf["SigningTable"] == "refile:/etc/opendkim/signing.table"
    assert conf["InternalHosts"] == "/etc/opendkim/internal.hosts"
    assert conf["AuthservID"] == conf["RemoveARFrom"] == "bigboy.my-site.com"
    assert conf["RemoveARAll"] == "yes"
    assert conf["Canonicalization"] == "relaxed/relaxed"
    assert conf["Socket"] == "local:/run/opendkim/opendkim.sock"
    assert conf["TrustAnchorFile"] == "/usr/share/dns/root.key"
    assert "Nameservers" not in conf


def test_opendkim_conf_lab_resolver_without_dnssec_and_extra_settings():
    conf = _conf(render("opendkim", "opendkim.conf.j2", **opendkim_values(
        opendkim_nameservers=["127.0.0.2"], opendkim_dnssec=False, opendkim_authserv_id="mx.example",
        opendkim_extra_config={"LogWhy": "yes"})))
    assert conf["Nameservers"] == "127.0.0.2"
    assert "TrustAnchorFile" not in conf
    assert conf["AuthservID"] == "mx.example"
    assert conf["LogWhy"] == "yes"


def test_opendkim_tables():
    values = opendkim_values()
    assert "my-site.com\tmy-site.com:mail:/etc/dkimkeys/my-site.com/mail.private" in render(
        "opendkim", "key.table.j2", **values).splitlines()
    signing = render("opendkim", "signing.table.j2", **values).splitlines()
    assert "*@my-site.com\tmy-site.com" in signing and "*@*.my-site.com\tmy-site.com" in signing
    signing = render("opendkim", "signing.table.j2", **opendkim_values(opendkim_sign_subdomains=False)).splitlines()
    assert "*@*.my-site.com\tmy-site.com" not in signing
    hosts = render("opendkim", "internal.hosts.j2", **values).splitlines()
    assert hosts[-4:] == ["127.0.0.1", "192.168.2.0/24", "my-site.com", ".my-site.com"]


def opendmarc_values(**inventory):
    """The opendmarc role's values, with INVENTORY over its defaults; the computed ones resolved by Ansible."""
    values = dict(_yaml(ROLES["opendmarc"] / "defaults" / "main.yml"))
    values.update(inventory)
    values.update(_yaml(ROLES["opendmarc"] / "vars" / "main.yml"))
    values.update(_yaml(ROLES["opendmarc"] / "vars" / "Debian.yml"))
    values.update({"__opendmarc_fqdn": {"stdout": "bigboy.my-site.com"},
                   "mail_domains_model": {"relay_clients": ["192.168.2.0/24", "my-site.com", ".my-site.com"]}})
    templar = Templar(variables={k: trusted(v) for k, v in values.items()})
    for name in ("__opendmarc_authserv_id", "__opendmarc_skipped_hosts", "__opendmarc_trust_spf_results",
                 "opendmarc_sendmail_milters"):
        values[name] = templar.template(trust_as_template("{{ %s }}" % name))
    return values


@pytest.mark.parametrize("policy, reject", [("tag", "false"), ("reject", "true")])
def test_dmarc_policy(policy, reject):
    conf = _conf(render("opendmarc", "opendmarc.conf.j2", **opendmarc_values(opendmarc_dmarc_policy=policy)))
    assert conf["RejectFailures"] == reject
    assert conf["AuthservID"] == conf["TrustedAuthservIDs"] == "bigboy.my-site.com"
    assert conf["IgnoreHosts"] == "/etc/opendmarc/ignore.hosts"
    assert conf["SPFSelfValidate"] == "true"


def test_ignore_hosts_take_the_relay_clients_and_host_names():
    hosts = render("opendmarc", "ignore.hosts.j2", **opendmarc_values()).splitlines()
    assert hosts[-5:] == ["127.0.0.1", "::1", "192.168.2.0/24", "my-site.com", ".my-site.com"]


@pytest.mark.parametrize("inventory, ignore", [
    ({}, "false"),
    ({"opendmarc_trust_spf_results": False}, "true"),
    # the deprecated switch of the SPF milter the role ran before homelab.mailserver.spf
    ({"opendmarc_spf_enabled": False}, "true"),
    ({"opendmarc_spf_enabled": True}, "false"),
], ids=["default", "not-trusted", "old-spf-off", "old-spf-on"])
def test_dmarc_trusts_spf_results_only_when_an_spf_milter_runs_before_it(inventory, ignore):
    conf = _conf(render("opendmarc", "opendmarc.conf.j2", **opendmarc_values(**inventory)))
    assert conf["SPFIgnoreResults"] == ignore


@pytest.mark.parametrize("enabled, names", [(True, ["opendmarc"]), (False, [])])
def test_exported_milters_are_opendmarc_only(enabled, names):
    milters = opendmarc_values(opendmarc_dmarc_enabled=enabled)["opendmarc_sendmail_milters"]
    assert [m["name"] for m in milters] == names
    if enabled:
        assert milters[0]["socket"] == "local:/run/opendmarc/opendmarc.sock"
        assert milters[0]["timeouts"] == {"C": "10s", "S": "10s", "R": "10s", "E": "30s"}

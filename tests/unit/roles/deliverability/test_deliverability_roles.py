"""The opendkim and opendmarc roles: variables, argument specs, and the files their templates render."""

from __future__ import annotations

import pathlib

import jinja2
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLES = {name: ROOT / "roles" / name for name in ("opendkim", "opendmarc")}
TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict, "path": str}


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_defaults_and_argument_specs_are_identical(role):
    defaults = _yaml(ROLES[role] / "defaults" / "main.yml")
    options = _yaml(ROLES[role] / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options)
    for name, value in defaults.items():
        # a default computed from other variables is a template string until Ansible renders it
        computed = isinstance(value, str) and value.startswith("{{")
        if computed and options[name]["type"] in ("list", "dict"):
            # a template string is no list or dictionary: the spec names no default
            # (antsibull-docs checks default types) and its description quotes the expression
            assert "default" not in options[name], name
            description = options[name]["description"]
            description = " ".join(description) if isinstance(description, list) else description
            assert " ".join(value.split()) in " ".join(description.split()), name
        else:
            assert options[name].get("default") == value, name
        assert options[name].get("description"), name
        if not computed:
            assert isinstance(value, TYPES[options[name]["type"]]), name
        if "choices" in options[name]:
            assert value in options[name]["choices"], name


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


def opendmarc_values(**overrides):
    values = dict(_yaml(ROLES["opendmarc"] / "defaults" / "main.yml"))
    values.update(_yaml(ROLES["opendmarc"] / "vars" / "main.yml"))
    values.update(_yaml(ROLES["opendmarc"] / "vars" / "Debian.yml"))
    values.update({"__opendmarc_authserv_id": "bigboy.my-site.com",
                   "__opendmarc_skipped_networks": ["127.0.0.1", "::1", "192.168.2.0/24"],
                   "__opendmarc_skipped_hosts": ["127.0.0.1", "::1", "192.168.2.0/24", "my-site.com"]})
    values.update(overrides)
    return values


@pytest.mark.parametrize("policy, reject, defer, dropin", [
    ("tag", "False", "False", False),
    ("tempfail", "Fail", "True", True),
    ("reject", "Fail", "True", False),
])
def test_spf_policy(policy, reject, defer, dropin):
    values = opendmarc_values(opendmarc_spf_policy=policy)
    conf = _conf(render("opendmarc", "pyspf-milter.conf.j2", **values), sep="=")
    assert conf["Mail_From_reject"] == conf["HELO_reject"] == reject
    assert conf["TempError_Defer"] == defer
    assert conf["Header_Type"] == "AR" and conf["Authserv_Id"] == "bigboy.my-site.com"
    assert conf["skip_addresses"] == conf["InternalHosts"] == "127.0.0.1,::1,192.168.2.0/24"
    assert conf["Socket"] == "inet:8893@127.0.0.1"
    unit = render("opendmarc", "pyspf-milter.dropin.j2", **values)
    assert ("ExecStart=/usr/bin/python3 /usr/local/lib/homelab-mailserver/pyspf-milter-tempfail.py "
            "/etc/pyspf-milter/pyspf-milter.conf" in unit) is dropin


@pytest.mark.parametrize("policy, reject", [("tag", "false"), ("reject", "true")])
def test_dmarc_policy(policy, reject):
    conf = _conf(render("opendmarc", "opendmarc.conf.j2", **opendmarc_values(opendmarc_dmarc_policy=policy)))
    assert conf["RejectFailures"] == reject
    assert conf["AuthservID"] == conf["TrustedAuthservIDs"] == "bigboy.my-site.com"
    assert conf["IgnoreHosts"] == "/etc/opendmarc/ignore.hosts"
    assert conf["SPFSelfValidate"] == "true"


@pytest.mark.parametrize("spf_enabled, ignore", [(True, "false"), (False, "true")])
def test_dmarc_trusts_spf_headers_only_when_our_spf_milter_runs(spf_enabled, ignore):
    conf = _conf(render("opendmarc", "opendmarc.conf.j2", **opendmarc_values(opendmarc_spf_enabled=spf_enabled)))
    assert conf["SPFIgnoreResults"] == ignore

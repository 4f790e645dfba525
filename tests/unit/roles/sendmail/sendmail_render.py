"""Render roles/sendmail/templates/sendmail.mc.j2 the way the role does, without a host.

Variables are layered like Ansible does for the role: defaults/main.yml, then the
inventory's group_vars (all, then the host's groups), then the role's vars/ for
the platform. The domain model comes from the real mail_domains filter.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import pathlib
import shutil
import subprocess

import jinja2
import jinja2.nativetypes
import yaml
from ansible.plugins.filter.core import FilterModule as AnsibleCoreFilters
from ansible.plugins.test.core import TestModule as AnsibleCoreTests

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "sendmail"
EXAMPLE = ROOT / "inventories" / "example"
GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"


def load_plugin(name):
    path = ROOT / "plugins" / "filter" / (name + ".py")
    spec = importlib.util.spec_from_file_location("homelab_filter_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAIL_DOMAINS = load_plugin("mail_domains")
CHECKS = load_plugin("sendmail_checks")


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def role_vars(platform="Debian", overrides=None, domain_vars=None, primary_domain_vars=None, own_names=()):
    """Variables as the template sees them (defaults < overrides < role vars).

    PRIMARY_DOMAIN_VARS: the primary's mailserver_domain_* variables, read through hostvars
    in backup_mx mode (vars/main.yml's __sendmail_backup_mx_data, computed here in Python).
    """
    values = dict(_yaml(ROLE / "defaults" / "main.yml"))
    values.update(overrides or {})
    values.update(_yaml(ROLE / "vars" / "main.yml"))
    values.update(_yaml(ROLE / "vars" / (platform + ".yml")))
    backup = values["sendmail_mode"] == "backup_mx"
    values["__sendmail_backup_mx"] = backup
    values["__sendmail_backup_mx_host"] = values["sendmail_backup_mx_primary_host"] or values["sendmail_backup_mx_primary"]
    values["__sendmail_backup_mx_data"] = (
        MAIL_DOMAINS.mail_backup_mx(MAIL_DOMAINS.mail_domains(primary_domain_vars or {}), values["__sendmail_backup_mx_host"],
                                    values["sendmail_backup_mx_check_recipients"], list(own_names))
        if backup else {"relay_domains": [], "mailertable": {}, "access": {}})
    values["__sendmail_mailertable"] = {**values["__sendmail_backup_mx_data"]["mailertable"], **values["sendmail_mailertable"]}
    server = {
        "access": {**values["sendmail_access"], **values["__sendmail_backup_mx_data"]["access"]},
        "virtusertable": values["sendmail_virtusertable"],
        "genericstable": values["sendmail_genericstable"],
        "aliases": values["sendmail_aliases"],
        "local_host_names": values["sendmail_local_host_names"],
        "relay_domains": values["sendmail_relay_domains"] + values["__sendmail_backup_mx_data"]["relay_domains"],
        "generics_domains": values["sendmail_generics_domains"],
        "masquerade_domains": values["sendmail_masquerade_domains"],
    }
    # the mail_domains role exports the model; the sendmail role adds its server-wide entries
    values["__sendmail_model"] = MAIL_DOMAINS.mail_domains_server(MAIL_DOMAINS.mail_domains(domain_vars or {}), server)
    # The wiring merge of vars/main.yml (plain Jinja, no Ansible filters), evaluated as Ansible would.
    native = jinja2.nativetypes.NativeEnvironment()
    for key in WIRED:
        values[key] = native.from_string(values[key]).render(values)
    return values


# vars/main.yml values that merge sendmail_dependent_* with the inventory's values.
WIRED = ("__sendmail_milters", "__sendmail_procmail_recipes", "__sendmail_mc_raw_features",
         "__sendmail_local_mailbox", "__sendmail_wants_procmail", "__sendmail_smrsh_programs", "__sendmail_local_mailer")


def example_host_vars(groups):
    """Inventory variables of a host of inventories/example in the given groups (in order)."""
    overrides = {}
    domain_vars = {}
    for group in ["all"] + list(groups):
        data = _yaml(EXAMPLE / "group_vars" / (group + ".yml"))
        for key, value in data.items():
            if key.startswith("mailserver_domain_"):
                domain_vars[key] = value
            else:
                overrides[key] = value
    return overrides, domain_vars


def _environment():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROLE / "templates")),
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["homelab.mailserver.sendmail_milter_macros"] = CHECKS.sendmail_milter_macros
    # ansible-core's bool filter (a -e value arrives as text)
    env.filters["bool"] = AnsibleCoreFilters().filters()["bool"]
    # ansible-core's own tests (match, search, ...), which the role's values use
    env.tests.update(AnsibleCoreTests().tests())
    return env


def _resolve(env, values):
    """Evaluate the role's templated internal values that are plain expressions (e.g. __sendmail_use_procmail)."""
    resolved = dict(values)
    for key, value in values.items():
        if key.startswith("__sendmail_") and isinstance(value, str) and value.strip().startswith("{{"):
            try:
                text = env.from_string(value).render(**resolved).strip()
            except jinja2.TemplateError:
                continue  # needs Ansible (lookups, queries): not used by the templates
            if text[:1] in "[{":
                try:  # a list or dictionary, as Ansible's native types would give it
                    text = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    pass
            resolved[key] = {"True": True, "False": False}.get(text, text) if isinstance(text, str) else text
    return resolved


def render(values, template="sendmail.mc.j2"):
    env = _environment()
    return env.get_template(template).render(**_resolve(env, values))


def render_example(host_groups, platform="Debian", template="sendmail.mc.j2"):
    overrides, domain_vars = example_host_vars(host_groups)
    return render(role_vars(platform, overrides, domain_vars), template)


def golden(name):
    return (GOLDEN / name).read_text(encoding="utf-8")


def assert_golden(name, text):
    """text is the reviewed golden file name, byte for byte (UPDATE_GOLDEN=1 rewrites the file instead)."""
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(text, encoding="utf-8")
    assert text == golden(name)


def m4_build(tmp_path, mc_text):
    """sendmail.cf as m4 builds it from MC_TEXT with the platform's cf files (scripts/bootstrap.sh installs
    m4 and sendmail-cf, macro files only, no daemon): the finished process, stdout the .cf."""
    assert shutil.which("m4") and os.path.exists("/usr/share/sendmail/cf/m4/cf.m4"), "install m4 and sendmail-cf"
    src = tmp_path / "sendmail.mc"
    src.write_text(mc_text)
    return subprocess.run(["m4", str(src)], capture_output=True, text=True, check=False)

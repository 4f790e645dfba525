"""The spf role: the values in force (vars/main.yml), the files its templates render, and the
deprecated opendmarc_spf_* names, which win while they are set and draw a warning.

The values are resolved by Ansible's own templating (defaults, then vars/main.yml, then the
Debian platform file, as the role loads them); the validate entry point and site.yml's
switch and wiring are run by ansible-playbook on this machine (connection local, read-only).
"""

from __future__ import annotations

import json

import jinja2
import pytest
from ansible.template import Templar, trust_as_template
from role_harness import ROOT, local_host, never_roles, run_playbook, trusted
from role_harness import load_yaml as _yaml

ROLE = ROOT / "roles" / "spf"
RELAY_CLIENTS = ["192.168.2.0/24", "my-site.com", ".my-site.com"]
# old name, new name, a value other than the default
RENAMED = [
    ("opendmarc_spf_policy", "spf_policy", "reject"),
    ("opendmarc_spf_socket", "spf_socket", "inet:9999@127.0.0.1"),
    ("opendmarc_spf_milter_flags", "spf_milter_flags", "T"),
]


def resolved(*names, **inventory):
    """The values of NAMES as the role sees them, with INVENTORY over the role's defaults."""
    variables = {}
    for layer in (ROLE / "defaults" / "main.yml", ROLE / "vars" / "main.yml", ROLE / "vars" / "Debian.yml"):
        variables.update(trusted(_yaml(layer)))
        if layer.parent.name == "defaults":
            # inventory sits above the role's defaults and below its vars
            variables.update(inventory)
    variables["mail_domains_model"] = {"relay_clients": RELAY_CLIENTS}
    variables["__spf_fqdn"] = {"stdout": "bigboy.my-site.com"}
    templar = Templar(variables=variables)
    return {name: templar.template(trust_as_template("{{ %s }}" % name)) for name in names}


TEMPLATE_VALUES = ("__spf_policy", "__spf_socket", "__spf_skipped_networks", "__spf_authserv_id", "__spf_pid_file",
                   "__spf_user", "__spf_python", "__spf_tempfail_script", "__spf_conf_path")


def render(template, **inventory):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    return env.get_template(template).render(ansible_managed="Ansible managed",
                                             **resolved(*TEMPLATE_VALUES, **inventory))


def _conf(text):
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _sep, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


@pytest.mark.parametrize("policy, reject, defer, dropin", [
    ("tag", "False", "False", False),
    ("tempfail", "Fail", "True", True),
    ("reject", "Fail", "True", False),
])
def test_spf_policy(policy, reject, defer, dropin):
    conf = _conf(render("pyspf-milter.conf.j2", spf_policy=policy))
    assert conf["Mail_From_reject"] == conf["HELO_reject"] == reject
    assert conf["TempError_Defer"] == defer
    assert conf["Header_Type"] == "AR" and conf["Authserv_Id"] == "bigboy.my-site.com"
    # the relay clients' networks are skipped, their host names left out (pyspf-milter takes addresses only)
    assert conf["skip_addresses"] == conf["InternalHosts"] == "127.0.0.1,::1,192.168.2.0/24"
    assert conf["Socket"] == "inet:8893@127.0.0.1"
    assert conf["PidFile"] == "/run/pyspf-milter/pyspf-milter.pid" and conf["UserID"] == "pyspf-milter"
    unit = render("pyspf-milter.dropin.j2", spf_policy=policy)
    assert ("ExecStart=/usr/bin/python3 /usr/local/lib/homelab-mailserver/pyspf-milter-tempfail.py "
            "/etc/pyspf-milter/pyspf-milter.conf" in unit) is dropin


def test_ignored_hosts_without_the_relay_clients_and_another_authserv_id():
    conf = _conf(render("pyspf-milter.conf.j2", spf_ignore_hosts=["10.0.0.0/8", "relay.my-site.com"],
                        spf_ignore_relay_clients=False, spf_authserv_id="mx.my-site.com"))
    assert conf["skip_addresses"] == "10.0.0.0/8"
    assert conf["Authserv_Id"] == "mx.my-site.com"


def test_exported_milter_entry_is_the_pyspf_one():
    milter = resolved("spf_sendmail_milter")["spf_sendmail_milter"]
    assert milter["name"] == "pyspf"
    assert milter["socket"] == "inet:8893@127.0.0.1" and milter["flags"] == ""
    assert milter["timeouts"] == {"C": "10s", "S": "30s", "R": "30s", "E": "30s"}
    assert milter["macros"]["envfrom"][0] == "i" and milter["macros"]["eom"] == ["{msg_id}"]


@pytest.mark.parametrize("old, new, value", RENAMED, ids=[r[0] for r in RENAMED])
def test_new_name_is_used_when_the_old_one_is_not_set(old, new, value):
    assert resolved("__" + new, **{new: value})["__" + new] == value


@pytest.mark.parametrize("old, new, value", RENAMED, ids=[r[0] for r in RENAMED])
def test_deprecated_name_wins_while_it_is_set(old, new, value):
    # the new name is set too, to a third value: the old one still wins (the warning says so)
    other = {"spf_policy": "tempfail", "spf_socket": "local:/run/pyspf/pyspf.sock", "spf_milter_flags": "R"}[new]
    got = resolved("__" + new, "spf_sendmail_milter", **{old: value, new: other})
    assert got["__" + new] == value
    if new != "spf_policy":
        # what sendmail is told matches what pyspf-milter is configured with
        assert got["spf_sendmail_milter"][new.removeprefix("spf_").replace("milter_", "")] == value


def test_deprecated_policy_reaches_the_rendered_files():
    conf = _conf(render("pyspf-milter.conf.j2", opendmarc_spf_policy="tempfail", opendmarc_spf_socket="inet:8894@127.0.0.1"))
    assert conf["Mail_From_reject"] == "Fail" and conf["Socket"] == "inet:8894@127.0.0.1"
    assert "pyspf-milter-tempfail.py" in render("pyspf-milter.dropin.j2", opendmarc_spf_policy="tempfail")


# --- ansible-playbook: the validate entry point and site.yml's switch ---------------------------

PLAYBOOK = """
- name: The spf role's checks and site.yml's wiring, on this machine
  hosts: mail_servers
  gather_facts: true
  gather_subset: [min]
  vars_files:
    - {root}/playbooks/vars/mail_server_wiring.yml
  vars:
    # as site.yml sets it for a host of mail_servers
    __mailserver_server: true
  # the roles' defaults visible as in site.yml (the wiring reads them); "never" keeps their tasks out
  roles: {roles}
  tasks:
    - name: Check the spf variables as site.yml's first play does
      ansible.builtin.import_role:
        name: homelab.mailserver.spf
        tasks_from: validate
    - name: Write what the role and the wiring decided
      ansible.builtin.copy:
        dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.json"
        mode: "0644"
        content: "{{{{ {{'policy': __spf_policy, 'milter': spf_sendmail_milter,
                       'milters': sendmail_dependent_milters | map(attribute='name') | list,
                       'validate_when': ({validate_when}), 'role_when': ({role_when})}} | to_json }}}}"
"""

# host (one per case): its inventory
CASES = {
    "defaults": {},
    "deprecated": {"opendmarc_spf_policy": "reject", "opendmarc_spf_socket": "inet:8894@127.0.0.1",
                   "spf_policy": "tempfail"},
    "old-opendmarc-spf-enabled-false": {"opendmarc_spf_enabled": False},
    "mailserver-dmarc-false": {"mailserver_dmarc": False},
    "mailserver-spf-wins-over-dmarc": {"mailserver_dmarc": False, "mailserver_spf": True},
    "mailserver-spf-wins-over-old": {"opendmarc_spf_enabled": False, "mailserver_spf": True},
    "mailserver-spf-false": {"mailserver_spf": False},
}


def _site_whens():
    """The `when` of site.yml's spf validate task (first play) and of its spf role entry."""
    plays = _yaml(ROOT / "playbooks" / "site.yml")
    imports = [(t["ansible.builtin.import_role"], t["when"]) for p in plays for t in p.get("tasks", [])
               if t.get("ansible.builtin.import_role", {}).get("name") == "homelab.mailserver.spf"]
    imports = [(args, " and ".join(f"({w})" for w in when) if isinstance(when, list) else when) for args, when in imports]
    validate = [when for args, when in imports if args.get("tasks_from") == "validate"]
    role = [when for args, when in imports if "tasks_from" not in args]
    assert len(validate) == 1 and len(role) == 1, (validate, role)
    return validate[0], role[0]


def _run(tmp_path, cases):
    """ansible-playbook with one host per case (its inventory); returns (rc, output, {case: result})."""
    hosts = {name: local_host(out=str(tmp_path),
                              mailserver_domain_example_test={"domain": "example.test", "relay_from": ["192.168.2"]},
                              **host_vars)
             for name, host_vars in cases.items()}
    validate_when, role_when = _site_whens()
    roles = never_roles("sendmail", "resolver", "mail_domains")
    playbook = PLAYBOOK.format(root=ROOT, roles=roles, validate_when=validate_when, role_when=role_when)
    rc, out = run_playbook(tmp_path, hosts, playbook)
    results = {name: json.loads((tmp_path / f"{name}.json").read_text())
               for name in cases if (tmp_path / f"{name}.json").exists()}
    return rc, out, results


def _warnings(out):
    """The deprecation warnings printed, per host (the debug task's "ok: [HOST] => ... msg" blocks)."""
    found = {}
    for block in out.split("ok: [")[1:]:
        host, _sep, rest = block.partition("]")
        text = " ".join(rest.split("ok: [", 1)[0].split())
        if "[DEPRECATION WARNING]" in text:
            found[host] = text
    return found


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    rc, out, results = _run(tmp_path_factory.mktemp("spf"), CASES)
    assert rc == 0, out
    assert sorted(results) == sorted(CASES), out
    return results, _warnings(out)


def test_site_yml_checks_and_applies_spf_under_the_same_switch():
    validate_when, role_when = _site_whens()
    assert validate_when == role_when


def test_defaults_run_spf_between_dkim_and_dmarc_without_a_warning(played):
    results, warnings = played
    assert "defaults" not in warnings
    assert results["defaults"]["policy"] == "tag"
    assert results["defaults"]["milters"] == ["greylist", "opendkim", "pyspf", "opendmarc"]
    assert results["defaults"]["validate_when"] is True and results["defaults"]["role_when"] is True


def test_deprecated_names_work_with_a_warning(played):
    results, warnings = played
    assert sorted(warnings) == ["deprecated"], warnings
    assert ("[DEPRECATION WARNING] opendmarc_spf_policy, opendmarc_spf_socket will be removed in homelab.mailserver"
            " 1.0.0") in warnings["deprecated"]
    assert "rename them to spf_policy, spf_socket" in warnings["deprecated"]
    assert results["deprecated"]["policy"] == "reject"
    assert results["deprecated"]["milter"]["socket"] == "inet:8894@127.0.0.1"


@pytest.mark.parametrize("case, on", [
    ("old-opendmarc-spf-enabled-false", False),
    ("mailserver-dmarc-false", False),
    ("mailserver-spf-wins-over-dmarc", True),
    ("mailserver-spf-wins-over-old", True),
    ("mailserver-spf-false", False),
])
def test_site_yml_switch(played, case, on):
    result = played[0][case]
    assert result["validate_when"] is on and result["role_when"] is on
    assert ("pyspf" in result["milters"]) is on


def test_deprecated_name_is_checked_against_its_choices(tmp_path):
    rc, out, results = _run(tmp_path, {"bad": {"opendmarc_spf_policy": "bounce"}})
    assert rc != 0
    assert "opendmarc_spf_policy" in out and "bounce" in out
    assert results == {}

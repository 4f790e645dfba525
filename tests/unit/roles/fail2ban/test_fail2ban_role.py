"""The fail2ban role: its validate entry point and the jail file its template renders, run by
ansible-playbook on this machine (connection local, read-only: it writes only into the test's
temporary directory), one host per inventory case.

The defaults and the molecule scenario's lab settings render the three jails; a bad value stops the
run in the validate entry point (the argument specs, then homelab.mailserver.fail2ban_jail_conf)
naming the variable, and renders nothing. Every error of the filter names one of the role's
public variables: the jail list of vars/main.yml and the defaults agree on the names.
"""

from __future__ import annotations

import configparser

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.fail2ban_checks import fail2ban_jail_conf
from role_harness import RESCUE_FAILURE, ROOT, play_cases
from role_harness import load_yaml as _yaml

ROLE = ROOT / "roles" / "fail2ban"
DEFAULTS = _yaml(ROLE / "defaults" / "main.yml")
LAB = _yaml(ROOT / "molecule" / "dovecot" / "vars" / "fail2ban.yml")

PLAYBOOK = """
- name: The fail2ban role's checks and its jail file, on this machine
  hosts: mail_servers
  gather_facts: false
  tasks:
    - name: Check the variables, render the jail file; note the failure
      block:
        - name: Check the fail2ban variables as site.yml's first play does
          ansible.builtin.include_role:
            name: homelab.mailserver.fail2ban
            tasks_from: validate
            public: true
        - name: Render the jail file with the role's template
          ansible.builtin.template:
            src: {root}/roles/fail2ban/templates/homelab-mailserver.local.j2
            dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.local"
            mode: "0644"
""" + RESCUE_FAILURE

# host (one per case): its inventory, and for a bad one what the failure names
CASES = {
    "defaults": ({}, None),
    "lab": (LAB, None),
    "dovecot-off": ({"fail2ban_dovecot_enabled": False, "fail2ban_dovecot_ports": []}, None),
    "smtps": ({"fail2ban_sendmail_auth_ports": [587, 465], "fail2ban_banaction": "nftables-allports"}, None),
    "bantime-zero": ({"fail2ban_bantime": "0"}, "fail2ban_bantime: '0' is not valid: a duration"),
    "bantime-section": ({"fail2ban_bantime": "1h\n[sshd]\nenabled = false"}, "fail2ban_bantime: '1h\\n[sshd]"),
    "maxretry-zero": ({"fail2ban_maxretry": 0}, "fail2ban_maxretry: 0 is not valid: a whole number, 1 or more"),
    "ignoreip-bad": ({"fail2ban_ignoreip": ["10.0.0.0/33"]}, "fail2ban_ignoreip[0]: '10.0.0.0/33' is not valid"),
    "ports-empty": ({"fail2ban_sendmail_auth_ports": []}, "fail2ban_sendmail_auth_ports: [] is not valid"),
    "port-zero": ({"fail2ban_dovecot_ports": [993, 0]}, "fail2ban_dovecot_ports[1]: 0 is not valid"),
    # the argument specs refuse what is not in their choices, naming the variable too
    "banaction-iptables": ({"fail2ban_banaction": "iptables-multiport"}, "fail2ban_banaction"),
}


def _parsed(text):
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.read_string(text)
    return {section: dict(parser[section]) for section in parser.sections()}


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    rc, out, read = play_cases(tmp_path_factory.mktemp("fail2ban"), CASES, PLAYBOOK.format(root=ROOT), ("failed", "local"))
    assert rc == 0, out[-3000:]
    return rc, out, read["failed"], read["local"]


def test_the_defaults_render_the_three_jails(played):
    _rc, out, failed, files = played
    assert not set(failed) & {"defaults", "lab", "dovecot-off", "smtps"}, failed
    jails = _parsed(files["defaults"])
    assert list(jails) == ["sendmail-auth", "sendmail-reject", "dovecot"], out
    assert jails["sendmail-auth"] == {
        "enabled": "true", "filter": "sendmail-auth", "backend": "systemd", "banaction": "nftables-multiport",
        "port": "25,465,587", "bantime": "1h", "findtime": "10m", "maxretry": "5", "ignoreip": "127.0.0.0/8 ::1/128"}
    assert jails["sendmail-reject"]["filter"] == "homelab-sendmail-reject"
    assert jails["dovecot"]["port"] == "110,143,993,995"
    assert files["defaults"].startswith("#\n# Ansible managed")


def test_the_lab_settings_render_as_the_molecule_tests_expect(played):
    jails = _parsed(played[3]["lab"])
    for jail in jails.values():
        assert (jail["bantime"], jail["maxretry"]) == ("60s", "3")
        assert jail["ignoreip"] == "127.0.0.1/32 ::1/128 127.0.0.5/32"


def test_switches_and_ports(played):
    files = played[3]
    assert _parsed(files["dovecot-off"])["dovecot"] == {"enabled": "false"}
    smtps = _parsed(files["smtps"])["sendmail-auth"]
    assert (smtps["port"], smtps["banaction"]) == ("587,465", "nftables-allports")


@pytest.mark.parametrize("case", [name for name, (_inv, expected) in CASES.items() if expected])
def test_a_bad_value_stops_the_run_naming_the_variable(played, case):
    _rc, out, failed, files = played
    assert case in failed, out[-3000:]
    assert CASES[case][1] in failed[case], failed[case]
    assert case not in files


def test_every_error_names_a_public_variable():
    """Each variable a jail's error names (fail2ban_<jail>_enabled, _ports) is a default of the role."""
    jails = [{"name": j["name"], "filter": j["filter"], "enabled": "no", "ports": "none"}
             for j in _yaml(ROLE / "vars" / "main.yml")["__fail2ban_jails"]]
    errors = fail2ban_jail_conf({"bantime": "1h", "findtime": "10m", "maxretry": 5, "ignoreip": [],
                                 "banaction": "nftables-multiport", "jails": jails})["errors"]
    named = {error.split(":", 1)[0] for error in errors}
    assert len(named) == 2 * len(jails)
    assert named <= set(DEFAULTS), sorted(named - set(DEFAULTS))

"""The watch role: its validate entry point, the settings file and the timer it renders, run by
ansible-playbook on this machine (connection local, read-only: it writes only into the test's temporary
directory), one host per inventory case; and site.yml's wiring of the daemons it checks.

The defaults and the molecule scenario's settings render; a bad value stops the run in the validate entry
point (the argument specs, then homelab.mailserver.watch_config) naming the variable, and renders nothing.
"""

from __future__ import annotations

import json

import pytest
from role_harness import ROOT, checked_render_playbook, load_yaml, play_cases

ROLE = ROOT / "roles" / "watch"
SCENARIO = load_yaml(ROOT / "molecule" / "watch" / "vars" / "watch.yml")

PLAYBOOK = checked_render_playbook("watch", "its settings and timer", """\
        - name: Write the settings as the role does
          ansible.builtin.copy:
            dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.json"
            mode: "0644"
            content: "{{{{ __watch_conf.config | to_nice_json }}}}"
        - name: Render the timer with the role's template
          ansible.builtin.template:
            src: {root}/roles/watch/templates/timer.j2
            dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.timer"
            mode: "0644"
""", wiring=True)

# host (one per case): its inventory, and for a bad one what the failure names
CASES = {
    "defaults": ({"__mailserver_server": True}, None),
    "scenario": ({"__mailserver_server": True, **SCENARIO}, None),
    "bare": ({"__mailserver_server": True, "mailserver_spamassassin": False, "mailserver_greylisting": False,
              "mailserver_dkim": False, "mailserver_spf": False, "mailserver_dmarc": False}, None),
    "interval": ({"watch_interval": "10s"}, "watch_interval: '10s' is not valid: a duration"),
    "alert-header": ({"watch_alert_to": "root\nBcc: x@example.com"}, "watch_alert_to: 'root\\nBcc: x@example.com' is not valid"),
    "port": ({"watch_tls_ports": [25, 143]}, "watch_tls_ports"),
    "percent": ({"watch_disk_min_free_percent": 120}, "watch_disk_min_free_percent: 120 is not valid: a whole number of percent"),
    "zone": ({"watch_dnsbl_zones": ["bl"]}, "watch_dnsbl_zones[0]: 'bl' is not valid"),
    "unit": ({"watch_services": ["sendmail", "dovecot;reboot"]}, "watch_services[1]: 'dovecot;reboot' is not valid"),
    "hours": ({"watch_backup_max_age_hours": 0}, "watch_backup_max_age_hours: 0 is not valid: a whole number of hours"),
}


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    return play_cases(tmp_path_factory.mktemp("watch"), CASES, PLAYBOOK, ("failed", "json", "timer"))


def test_the_defaults_render_with_the_wired_daemons(played):
    out, read = played
    assert not set(read["failed"]) & {"defaults", "scenario", "bare"}, read["failed"]
    config = json.loads(read["json"]["defaults"])
    # site.yml's defaults switch every daemon on but fail2ban: the wiring adds them after watch_services
    assert config["services"] == ["sendmail", "dovecot", "spamd", "milter-greylist", "opendkim", "pyspf-milter", "opendmarc"]
    assert json.loads(read["json"]["bare"])["services"] == ["sendmail", "dovecot"]
    assert config["tls"]["ports"] == [25, 465, 587, 993, 995], out
    assert "OnUnitActiveSec=900\n" in read["timer"]["defaults"]


def test_the_scenario_settings(played):
    config = json.loads(played[1]["json"]["scenario"])
    assert config["backup"]["status_file"] == "/var/lib/homelab-mailserver/backup.last"
    assert config["dnsbl"]["zones"] and config["dnsbl"]["addresses"]


@pytest.mark.parametrize("case", [name for name, (_inv, expected) in CASES.items() if expected])
def test_a_bad_value_stops_the_run_naming_the_variable(played, case):
    _out, read = played
    assert case in read["failed"], _out[-3000:]
    assert CASES[case][1] in read["failed"][case], read["failed"][case]
    assert case not in read["json"]


def test_the_site_playbook_checks_and_applies_the_role_behind_its_switch():
    site = (ROOT / "playbooks" / "site.yml").read_text(encoding="utf-8")
    assert site.count("mailserver_watch | default(false) | bool") == 2
    example = load_yaml(ROOT / "inventories" / "example" / "group_vars" / "mail_servers.yml")
    assert example["mailserver_watch"] is True

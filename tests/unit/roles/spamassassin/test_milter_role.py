"""The spamassassin role's spamass-milter settings, run by ansible-playbook on this machine (connection
local, read-only: it writes only into the test's temporary directory), one host per inventory case.

The validate entry point (argument specs, then homelab.mailserver.spamassassin_milter_options) stops a bad
value naming the variable; a good one renders /etc/default/spamass-milter's template, the procmail
recipe (the milter's scan not repeated at delivery) and the sendmail milter entry the wiring hands over.
"""

from __future__ import annotations

import json
import shlex

import pytest
from role_harness import ROOT, checked_render_playbook, play_cases
from role_harness import load_yaml as _yaml

ROLE = ROOT / "roles" / "spamassassin"
DEFAULTS = _yaml(ROLE / "defaults" / "main.yml")
LAB = {name: value for name, value in _yaml(ROOT / "molecule" / "spam" / "vars" / "lab.yml").items()
       if name.startswith("spamassassin_")}

PLAYBOOK = checked_render_playbook("spamassassin", "its milter options file, recipe and milter entry", """\
        - name: Render spamass-milter's options file with the role's template
          ansible.builtin.template:
            src: {root}/roles/spamassassin/templates/spamass-milter.default.j2
            dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.default"
            mode: "0644"
        - name: Write the procmail recipe and the milter entry
          ansible.builtin.copy:
            dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.json"
            mode: "0644"
            content: "{{{{ {{'recipe': spamassassin_procmail_recipe, 'milter': spamassassin_sendmail_milter,
                           'packages': __spamassassin_install_packages}} | to_json }}}}"
""")

# host (one per case): its inventory, and for a bad one what the failure names
CASES = {
    "off": ({}, None),
    "on": ({"spamassassin_milter": True}, None),
    "lab": (LAB, None),
    "pass": ({"spamassassin_milter": True, "spamassassin_milter_on_failure": "pass",
              "spamassassin_milter_scan_authenticated": True, "spamassassin_milter_ignore_networks": []}, None),
    "lan": ({"spamassassin_milter": True, "spamassassin_milter_ignore_networks": ["127.0.0.1", "192.168.1.9/24"]}, None),
    "score-below-required": ({"spamassassin_milter": True, "spamassassin_milter_reject_score": 4},
                             "spamassassin_milter_reject_score: 4 is not valid: a whole number (an integer) from "
                             "spamassassin_required_score (5.0)"),
    "score-over": ({"spamassassin_milter_reject_score": 5000}, "spamassassin_milter_reject_score: 5000 is not valid"),
    "network-bad": ({"spamassassin_milter_ignore_networks": ["127.0.0.1", "10.0.0.0/33"]},
                    "spamassassin_milter_ignore_networks[1]: '10.0.0.0/33' is not valid"),
    "network-shell": ({"spamassassin_milter_ignore_networks": ['127.0.0.1" ; touch /tmp/x ; "']},
                      "spamassassin_milter_ignore_networks[0]:"),
    "socket-relative": ({"spamassassin_milter_socket": "spamass.sock"}, "spamassassin_milter_socket: 'spamass.sock'"),
    "timeout-bad": ({"spamassassin_milter_timeouts": {"E": "ten minutes"}}, "spamassassin_milter_timeouts.E:"),
    # the argument specs refuse what is not in their choices or of their type, naming the variable too
    "on-failure-accept": ({"spamassassin_milter_on_failure": "accept"}, "spamassassin_milter_on_failure"),
    "score-text": ({"spamassassin_milter_reject_score": "fifteen"}, "spamassassin_milter_reject_score"),
}


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    out, read = play_cases(tmp_path_factory.mktemp("spamassassin"), CASES, PLAYBOOK, ("failed", "default", "json"))
    return out, read["failed"], read["default"], {name: json.loads(text) for name, text in read["json"].items()}


def _sourced(text):
    """The variables of the options file as the init script's sh sees them (one assignment a line)."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            words = shlex.split(line)
            assert len(words) == 1 and "=" in words[0], line
            name, _sep, value = words[0].partition("=")
            values[name] = value
    return values


def test_the_good_cases_render(played):
    out, failed, _files, _data = played
    assert not set(failed) & {"off", "on", "lab", "pass", "lan"}, (failed, out[-2000:])


def test_the_defaults_file(played):
    assert _sourced(played[2]["on"]) == {
        "OPTIONS": "-u spamass-milter -i 127.0.0.1/32,::1/128 -I -r 15 -- -s 512000",
        "SOCKET": "/run/spamass/spamass.sock", "SOCKETOWNER": "root:root", "SOCKETMODE": "0600",
        "RUNAS": "spamass-milter"}
    assert played[2]["on"].startswith("#\n# Ansible managed") or "homelab.mailserver.spamassassin" in played[2]["on"]


def test_authenticated_scanned_and_nothing_ignored_on_request(played):
    assert _sourced(played[2]["pass"])["OPTIONS"] == "-u spamass-milter -r 15 -- -s 512000"
    assert _sourced(played[2]["lan"])["OPTIONS"].startswith("-u spamass-milter -i 127.0.0.1/32,192.168.1.0/24 -I ")


def test_the_lab_refuses_at_15_and_ignores_the_server_only(played):
    assert _sourced(played[2]["lab"])["OPTIONS"] == "-u spamass-milter -i 127.0.0.1/32,::1/128 -I -r 15 -- -s 512000"
    assert "spamass-milter" in played[3]["lab"]["packages"]


def test_the_recipe_skips_what_the_milter_scanned_only_while_it_is_on(played):
    data = played[3]
    off = [line for line in data["off"]["recipe"].splitlines() if not line.startswith("#")]
    assert off == [":0fw", "* < 512000", "| /usr/bin/spamc -s 512000"]
    on = [line for line in data["on"]["recipe"].splitlines() if not line.startswith("#")]
    assert on == [":0fw", "* < 512000", "* !^X-Spam-Checker-Version:", "| /usr/bin/spamc -s 512000"]
    # on_failure pass lets mail in unscanned while the milter is down: every message is scanned at delivery
    passing = [line for line in data["pass"]["recipe"].splitlines() if not line.startswith("#")]
    assert passing == off
    assert "spamass-milter" not in data["off"]["packages"]


def test_the_milter_entry(played):
    data = played[3]
    assert data["on"]["milter"] == {
        "name": "spamassassin", "socket": "local:/run/spamass/spamass.sock", "flags": "T",
        "timeouts": {"C": "10s", "S": "4m", "R": "4m", "E": "10m"},
        "macros": {"connect": ["j", "_", "{daemon_name}", "{if_name}", "{if_addr}"],
                   "envfrom": ["i", "{auth_type}", "{auth_authen}", "{auth_ssf}"],
                   "envrcpt": ["i", "b", "r", "v", "Z"]}}
    assert data["pass"]["milter"]["flags"] == ""


def test_the_milter_entry_has_the_shape_of_greylistings():
    grey = _yaml(ROOT / "roles" / "milter_greylist" / "defaults" / "main.yml")["milter_greylist_sendmail_milter"]
    assert set(DEFAULTS["spamassassin_sendmail_milter"]) == set(grey)


@pytest.mark.parametrize("case", [name for name, (_inv, expected) in CASES.items() if expected])
def test_a_bad_value_stops_the_run_naming_the_variable(played, case):
    _out, failed, files, _data = played
    assert case in failed, _out[-3000:]
    assert CASES[case][1] in failed[case], failed[case]
    assert case not in files

"""The real wiring, run by ansible-playbook: inventory values are merged with the roles', never dropped.

site.yml's playbooks/vars/mail_server_wiring.yml hands sendmail the other roles' milters,
procmail recipe and mailbox format through sendmail_dependent_*; the sendmail role merges
them with the inventory's sendmail_milters, sendmail_mc_raw_features, ... Here a host's
inventory sets its own milter and raw sendmail.mc line, ansible-playbook runs the real
wiring file and the sendmail role's validate entry point (as site.yml's first play does)
on this machine (connection local, read-only), renders the role's sendmail.mc template,
and m4 builds sendmail.cf from it: both the user's and the roles' entries must be there.
A milter name in both lists must fail the run and name both variables.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from role_harness import ROOT, local_host, never_roles, run_playbook

CF_M4 = "/usr/share/sendmail/cf/m4/cf.m4"

PLAYBOOK = """
- name: The wiring of site.yml, on this machine
  hosts: mail_servers
  gather_facts: true
  gather_subset: [min]
  vars_files:
    - {root}/playbooks/vars/mail_server_wiring.yml
  # the roles' defaults visible as in site.yml (the wiring reads them); "never" keeps their tasks out
  roles: {roles}
  tasks:
    - name: Check the sendmail variables as site.yml's first play does
      ansible.builtin.import_role:
        name: homelab.mailserver.sendmail
        tasks_from: validate
    - name: Render sendmail.mc with the role's template
      ansible.builtin.template:
        src: {root}/roles/sendmail/templates/sendmail.mc.j2
        dest: "{{{{ wiring_out }}}}/sendmail.mc"
        mode: "0644"
"""


def _run(tmp_path, host_vars):
    """ansible-playbook with HOST_VARS as the host's inventory; returns (rc, output, sendmail.mc path)."""
    host = local_host(
        sendmail_mode="server",
        sendmail_conflicting_mta="remove",
        wiring_out=str(tmp_path),
        mailserver_domain_example_test={
            "domain": "example.test",
            "users": [{"name": "alice", "addresses": ["alice", "postmaster"]}],
        },
    )
    host.update(host_vars)
    rc, out = run_playbook(tmp_path, {"wiring-host": host},
                           PLAYBOOK.format(root=ROOT, roles=never_roles("sendmail")))
    return rc, out, tmp_path / "sendmail.mc"


USER_MILTER = {"name": "archiver", "socket": "local:/run/archiver/archiver.sock", "flags": "T"}
USER_LINE = "define(`confMAX_HEADERS_LENGTH', `32768')dnl"


@pytest.fixture(scope="module")
def wired(tmp_path_factory):
    if not (shutil.which("m4") and os.path.exists(CF_M4)):
        pytest.fail("install m4 and sendmail-cf (scripts/bootstrap.sh does)")
    tmp = tmp_path_factory.mktemp("wiring")
    rc, out, mc = _run(tmp, {
        "sendmail_milters": [USER_MILTER],
        "sendmail_mc_raw_features": [USER_LINE],
        "spamassassin_smrsh_programs": ["/usr/bin/formail"],
        "sendmail_smtps_enabled": True,
    })
    assert rc == 0, out
    cf = subprocess.run(["m4", str(mc)], capture_output=True, text=True, check=False)
    assert cf.returncode == 0 and cf.stderr == "", cf.stderr
    return mc.read_text(encoding="utf-8"), cf.stdout


def test_the_users_and_the_roles_milters_are_in_sendmail_cf(wired):
    mc, cf = wired
    milters = [line.split(",")[0] for line in cf.splitlines() if line.startswith("X")]
    # the roles' (greylisting, DKIM, SPF and DMARC, in the wiring's order), then the inventory's own
    assert milters[0] == "Xgreylist"
    assert milters[1:-1] == ["Xopendkim", "Xpyspf", "Xopendmarc"]
    assert milters[-1] == "Xarchiver"
    assert "Xarchiver, S=local:/run/archiver/archiver.sock, F=T" in cf
    assert "dnl # from: sendmail_milters[0]" in mc
    assert "dnl # from: sendmail_dependent_milters[0] (the playbook's wiring)" in mc


def test_the_users_raw_line_and_the_roles_are_in_sendmail_cf(wired):
    mc, cf = wired
    assert "O MaxHeadersLength=32768" in cf.splitlines()
    assert "dnl # from: sendmail_mc_raw_features[0]" in mc
    # the spamassassin role's procmail recipe makes procmail the local mailer (wired, not set here)
    assert "Mlocal,\t\tP=/usr/bin/procmail," in cf
    # the deprecated spamassassin_smrsh_programs still brings FEATURE(smrsh) (now the sendmail role's)
    assert "Mprog,\t\tP=/usr/lib/sm.bin/smrsh," in cf


def test_a_milter_name_in_both_lists_fails_naming_both(tmp_path):
    rc, out, mc = _run(tmp_path, {"sendmail_milters": [dict(USER_MILTER, name="greylist")]})
    assert rc != 0
    assert "sendmail_milters: greylist is also a milter the playbook wires in (sendmail_dependent_milters)" in out
    assert not mc.exists()


def test_a_mailbox_format_against_dovecots_fails_naming_both(tmp_path):
    rc, out, mc = _run(tmp_path, {"dovecot_mailbox_format": "maildir", "sendmail_local_mailbox": "mbox"})
    assert rc != 0
    assert "sendmail_local_mailbox: mbox differs from maildir" in out and "sendmail_dependent_local_mailbox" in out
    assert not mc.exists()


def test_ansible_renders_auth_on_the_submission_ports_only(wired):
    """vars/main.yml's __sendmail_smtps and __sendmail_auth_enabled, as Ansible evaluates them."""
    _mc, cf = wired
    daemons = [line for line in cf.splitlines() if line.startswith("O DaemonPortOptions=")]
    assert daemons == ["O DaemonPortOptions=Family=inet, Name=MTA, Port=25, M=A",
                       "O DaemonPortOptions=Family=inet, Name=MSA, Port=587, M=Ea",
                       "O DaemonPortOptions=Family=inet, Name=SMTPS, Port=465, M=Eas"], daemons
    assert "O AuthOptions=A,p,y" in cf.splitlines()

"""playbooks/site.yml, verify.yml and dns_records.yml run on the groups the extra vars name."""

import os
import subprocess

import pytest
import yaml
from role_harness import ROOT

INVENTORY = {"all": {"children": {
    "mx": {"hosts": {"primary.example": {}, "backup.example": {}}},
    "satellites": {"hosts": {"laptop.example": {}}},
    "mail_servers": {"hosts": {"old.example": {}}},
}}}


def list_hosts(tmp_path, playbook, *extra):
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(INVENTORY), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    out = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(ROOT / playbook),
                          "--list-hosts", *extra], capture_output=True, text=True, env=env, check=False, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return [line.strip() for line in out.stdout.splitlines() if line.startswith("      ")]


GROUPS = ["-e", "mailserver_servers_group=mx", "-e", "mailserver_clients_group=satellites"]


@pytest.mark.parametrize(("playbook", "want"), [
    ("site.yml", {"primary.example", "backup.example", "laptop.example"}),
    ("playbooks/verify.yml", {"primary.example", "backup.example", "laptop.example"}),
    ("playbooks/dns_records.yml", {"primary.example", "backup.example"}),
])
def test_playbooks_run_on_the_groups_the_extra_vars_name(tmp_path, playbook, want):
    assert set(list_hosts(tmp_path, playbook, *GROUPS)) == want


def test_without_extra_vars_the_groups_are_mail_servers_and_mail_clients(tmp_path):
    assert set(list_hosts(tmp_path, "site.yml")) == {"old.example"}

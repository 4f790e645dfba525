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


def test_backup_mx_hosts_run_in_site_dns_records_and_verify_by_their_group(tmp_path):
    """mail_backup_mx by default, mailserver_backup_mx_group when given; the doctor examines them too."""
    INVENTORY["all"]["children"]["mail_backup_mx"] = {"hosts": {"mx2.example": {}}}
    INVENTORY["all"]["children"]["secondaries"] = {"hosts": {"mx3.example": {}}}
    try:
        assert set(list_hosts(tmp_path, "site.yml")) == {"old.example", "mx2.example"}
        assert set(list_hosts(tmp_path, "playbooks/dns_records.yml")) == {"old.example", "mx2.example"}
        assert set(list_hosts(tmp_path, "playbooks/verify.yml")) == {"old.example", "mx2.example"}
        assert set(list_hosts(tmp_path, "site.yml", "-e", "mailserver_backup_mx_group=secondaries")) == {
            "old.example", "mx3.example"}
    finally:
        del INVENTORY["all"]["children"]["mail_backup_mx"], INVENTORY["all"]["children"]["secondaries"]

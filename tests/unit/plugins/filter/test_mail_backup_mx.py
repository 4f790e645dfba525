"""homelab.mailserver.mail_backup_mx: what a backup MX takes from its primary's domain model."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter.mail_domains import (
    BACKUP_MX_UNKNOWN,
    FilterModule,
    mail_backup_mx,
    mail_domains,
)

EXAMPLE = pathlib.Path(__file__).resolve().parents[4] / "inventories" / "example" / "group_vars"


@pytest.fixture
def bigboy():
    """bigboy's domain model, built from inventories/example as the backup reads it through hostvars."""
    data = {}
    for name in ("my_site_com", "another_site_com"):
        data.update(yaml.safe_load((EXAMPLE / (name + ".yml")).read_text()))
    return mail_domains(data)


def test_registered():
    assert FilterModule().filters()["mail_backup_mx"] is mail_backup_mx


def test_relays_and_hands_on_the_primary_domains_only(bigboy):
    data = mail_backup_mx(bigboy, "bigboy.my-site.com")
    assert data["relay_domains"] == ["another-site.com", "my-site.com"]
    assert data["mailertable"] == {"another-site.com": "esmtp:[bigboy.my-site.com]",
                                   "my-site.com": "esmtp:[bigboy.my-site.com]"}


def test_accepts_exactly_the_addresses_the_primary_accepts(bigboy):
    access = mail_backup_mx(bigboy, "bigboy.my-site.com")["access"]
    routed = {entry["key"] for entry in bigboy["virtusertable"]
              if entry["key"].endswith("@my-site.com") and not entry["key"].startswith("@")}
    assert {key[3:] for key, value in access.items() if value == "RELAY"} == routed
    assert access["To:my-site.com"] == BACKUP_MX_UNKNOWN == "ERROR:5.1.1:550 User unknown"
    # the catch-all of another-site.com delivers to marc: every address is good, nothing to refuse
    assert not [key for key in access if "another-site.com" in key]


def test_own_names_under_a_checked_domain_are_not_refused(bigboy):
    access = mail_backup_mx(bigboy, "bigboy.my-site.com", True, ["BackupMX.my-site.com.", "mx2.elsewhere.example"])["access"]
    assert access["To:backupmx.my-site.com"] == "OK"
    assert not any("elsewhere" in key for key in access)


def test_no_recipient_check(bigboy):
    assert mail_backup_mx(bigboy, "bigboy.my-site.com", False)["access"] == {}


def test_errors_name_the_variable(bigboy):
    with pytest.raises(AnsibleFilterError, match="sendmail_backup_mx_primary: the primary has no local mail domain"):
        mail_backup_mx(mail_domains({}), "bigboy.my-site.com")
    with pytest.raises(AnsibleFilterError, match="sendmail_backup_mx_primary_host"):
        mail_backup_mx(bigboy, "bigboy my-site.com")
    with pytest.raises(AnsibleFilterError, match="sendmail_backup_mx_check_recipients"):
        mail_backup_mx(bigboy, "bigboy.my-site.com", "yes")
    with pytest.raises(AnsibleFilterError, match="the primary's domain model"):
        mail_backup_mx(["my-site.com"], "bigboy.my-site.com")

"""hosts_fqdn_first: the 127.0.0.1 line of a hosts file under tmp_path."""

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import hosts_fqdn_first as unit

from .helpers import FQDN, write

CHAPTER_LINE = "127.0.0.1 bigboy.my-site.com localhost.localdomain localhost bigboy"
FEDORA_LINE = "127.0.0.1     bigboy    localhost.localdomain    localhost"
BARE_DOMAIN_LINE = "127.0.0.1   my-site.com  localhost.localdomain   localhost  # (Wrong!!!)"


@pytest.mark.parametrize(
    ("lines", "ok", "words"),
    [
        ([CHAPTER_LINE], True, CHAPTER_LINE),
        (["# 127.0.0.1 old.example.com", "::1 localhost", CHAPTER_LINE, "127.0.0.1 other"], True, CHAPTER_LINE),
        (["127.0.0.1\tBigBoy.My-Site.com. localhost"], True, "BigBoy"),
        ([FEDORA_LINE], False, "local host name (bigboy) is not qualified"),
        ([BARE_DOMAIN_LINE], False, "relays for all of .com"),
        (["127.0.0.1 localhost", "127.0.1.1 bigboy.my-site.com bigboy"], False, "must come first, before localhost"),
        (["127.0.0.1 bigboy.my-site.com bigboy"], False, "localhost is missing"),
        (["127.0.0.1 mail.other.org localhost"], False, "'mail.other.org' comes first"),
        (["::1 localhost"], False, "no 127.0.0.1 line"),
    ],
)
def test_hosts_fqdn_first(tmp_path, lines, ok, words):
    hosts = write(tmp_path / "hosts", "\n".join(lines) + "\n")
    check = unit.check(FQDN, hosts)
    assert check["name"] == "hosts_fqdn_first"
    assert check["ok"] is ok
    assert words in check["detail"]


def test_hosts_unqualified_fqdn_and_missing_file(tmp_path):
    hosts = write(tmp_path / "hosts", FEDORA_LINE + "\n")
    assert unit.check("bigboy", hosts)["ok"] is False
    assert "cannot be read" in unit.check(FQDN, str(tmp_path / "none"))["detail"]

"""aliases_fresh: an aliases file and its database under tmp_path with given ages."""

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import aliases_fresh as unit

from .helpers import write


def test_aliases_fresh(tmp_path):
    cf = str(tmp_path / "sendmail.cf")
    aliases = write(tmp_path / "aliases", "root: marc\n", age=10)
    write(tmp_path / "aliases.db", age=100)
    check = unit.check(aliases, cf)
    assert check["name"] == "aliases_fresh"
    assert check["ok"] is False and "newaliases" in check["detail"]
    write(tmp_path / "aliases.db", age=0)
    assert unit.check(aliases, cf) == {"name": "aliases_fresh", "ok": True, "detail": "%s is up to date" % aliases}
    assert unit.check(str(tmp_path / "none"), cf)["ok"] is None

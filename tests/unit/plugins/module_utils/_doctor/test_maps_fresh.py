"""maps_fresh: map texts and databases under tmp_path with given ages."""

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import maps_fresh as unit

from .helpers import write


def test_maps_fresh_stale_and_missing(tmp_path):
    cf = str(tmp_path / "sendmail.cf")
    access = write(tmp_path / "access", "localhost RELAY\n", age=100)
    write(tmp_path / "access.db", age=50)
    virt = write(tmp_path / "virtusertable", "@my-site.com marc\n", age=100)
    maps = [access, virt, str(tmp_path / "mailertable")]
    check = unit.check(maps, cf)
    assert check["name"] == "maps_fresh" and check["ok"] is False
    assert "virtusertable.db missing" in check["detail"] and "access:" not in check["detail"]
    write(tmp_path / "virtusertable.db", age=100)
    assert unit.check(maps, cf)["ok"] is True
    write(tmp_path / "access", "localhost RELAY\n127.0.0.1 RELAY\n", age=10)
    check = unit.check(maps, cf)
    assert check["ok"] is False and "access.db older than the text" in check["detail"]
    assert unit.check([str(tmp_path / "none")], cf)["ok"] is None


def test_maps_fresh_follows_the_cf_map_type(tmp_path):
    access = write(tmp_path / "access", "localhost RELAY\n", age=100)
    write(tmp_path / "access.db", age=50)
    cf = write(tmp_path / "sendmail.cf", "Kaccess cdb -T<TMPF> %s\n" % access)
    check = unit.check([access], cf)
    assert check["ok"] is False and "access.cdb missing" in check["detail"]
    write(tmp_path / "access.cdb", age=50)
    assert unit.check([access], cf)["ok"] is True

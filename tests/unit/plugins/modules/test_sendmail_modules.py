"""The modules end to end against tmp_path, with fake makemap / sendmail executables."""

import errno
import os
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils import (
    _sendmail_map as engine,
)
from ansible_collections.homelab.mailserver.plugins.modules import (
    sendmail_access,
    sendmail_aliases,
    sendmail_classfile,
    sendmail_map,
    sendmail_virtusertable,
)

from ..module_utils.chapter import ALIASES, VIRTUSERTABLE
from .sendmail_fakes import write_tool

GOLDEN = Path(__file__).parents[1] / "module_utils" / "golden"
ENTRIES = [{"key": "127.0.0.1", "value": "RELAY"}, {"key": "192.168.2", "value": "RELAY"}]


def snapshot(*paths):
    """Bytes, inode and mtime of each path (None when missing) plus the directory listing."""
    out = []
    for p in map(Path, paths):
        out.append((p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns) if p.exists() else None)
    return out, sorted(os.listdir(Path(paths[0]).parent))


@pytest.fixture
def access(tmp_path, tools, run_module):
    path = tmp_path / "access"

    def run(entries=None, **kw):
        entries = ENTRIES if entries is None else entries
        check, diff = kw.pop("check", False), kw.pop("diff", False)
        args = {"path": str(path), "entries": entries, "makemap": tools["makemap"], "sendmail_cf": tools["cf"], **kw}
        return run_module(sendmail_access, args, check=check, diff=diff)

    run.path, run.db = path, tmp_path / "access.db"
    return run


def test_apply_creates_text_and_db(access):
    r = access()
    assert r["changed"] and r["db_rebuilt"] and r["added"] == ["127.0.0.1", "192.168.2"]
    assert r["map_type"] == "hash" and r["removed"] == [] and r["updated"] == [] and r["backup_file"] == ""
    assert access.path.read_text() == "127.0.0.1\tRELAY\n192.168.2\tRELAY\n"
    assert access.db.read_text() == "hash\n127.0.0.1\tRELAY\n192.168.2\tRELAY\n"
    assert sorted(os.listdir(access.path.parent)) == [".access.lock", "access", "access.db", "bin"]


def test_check_mode_writes_nothing_new_file(access):
    before = snapshot(access.path, access.db)
    r = access(check=True, diff=True)
    assert r["changed"] and r["db_rebuilt"] and r["added"] == ["127.0.0.1", "192.168.2"]
    assert r["diff"]["before"] == "" and r["diff"]["after"] == "127.0.0.1\tRELAY\n192.168.2\tRELAY\n"
    assert snapshot(access.path, access.db) == before


def test_check_mode_writes_nothing_existing_file(access):
    access()
    before = snapshot(access.path, access.db)
    r = access([{"key": "127.0.0.1", "state": "absent"}, {"key": "10", "value": "REJECT"}], check=True, exclusive=True)
    assert r["changed"] and r["removed"] == ["127.0.0.1", "192.168.2"] and r["added"] == ["10"]
    assert snapshot(access.path, access.db) == before


def test_noop_reapply_does_not_touch_db(access):
    access()
    before = snapshot(access.path, access.db)
    r = access()
    assert not r["changed"] and not r["db_rebuilt"] and r["added"] == r["removed"] == r["updated"] == []
    assert snapshot(access.path, access.db) == before


def test_diff_only_when_text_changes(access):
    access()
    assert "diff" not in access(diff=True)  # no-op: the whole file is not echoed back twice
    access.db.unlink()
    r = access(diff=True)
    assert r["changed"] and r["db_rebuilt"] and "diff" not in r  # database rebuilt, text unchanged
    r = access([{"key": "192.168.2", "value": "REJECT"}], diff=True)
    assert r["diff"]["before"] == "127.0.0.1\tRELAY\n192.168.2\tRELAY\n"
    assert r["diff"]["after"] == "127.0.0.1\tRELAY\n192.168.2\tREJECT\n"


def test_stale_db_is_rebuilt_text_untouched(access):
    access()
    st = access.path.stat()
    os.utime(access.db, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    text_before = snapshot(access.path)[0]
    r = access()
    assert r["changed"] and r["db_rebuilt"] and r["added"] == r["updated"] == []
    assert snapshot(access.path)[0] == text_before
    assert access.db.stat().st_mtime_ns >= st.st_mtime_ns


def test_missing_db_is_rebuilt(access):
    access()
    access.db.unlink()
    r = access()
    assert r["changed"] and r["db_rebuilt"] and access.db.exists()


def test_rebuild_false_leaves_db_alone(access):
    r = access(rebuild=False)
    assert r["changed"] and not r["db_rebuilt"] and not access.db.exists()


def test_makemap_failure_leaves_both_files_byte_identical(access, tools):
    access()
    before = snapshot(access.path, access.db)
    r = access([{"key": "10", "value": "REJECT"}], makemap=tools["makemap_fail"])
    assert r["failed"] and r["rc"] == 3
    assert "bad entry" in r["stderr"] and "fake makemap output" in r["stdout"]
    assert "left unchanged" in r["msg"]
    assert snapshot(access.path, access.db) == before  # includes: no temp files left behind


def test_makemap_missing_fails_before_writing(access, tmp_path):
    r = access(makemap=str(tmp_path / "no-such-makemap"))
    assert r["failed"] and not access.path.exists() and not access.db.exists()


def test_invalid_entry_fails_and_writes_nothing(access):
    access()
    before = snapshot(access.path, access.db)
    r = access([{"key": "10.0.0.0/8", "value": "ACCEPT"}, {"key": "fine.example", "value": "OK"}])
    assert r["failed"] and "nothing was written" in r["msg"]
    assert "'10'" in r["msg"] and "use OK (not ACCEPT)" in r["msg"] and len(r["errors"]) == 1
    assert snapshot(access.path, access.db) == before


def test_update_absent_exclusive_and_backup(access):
    access.path.write_text("# keep me\n127.0.0.1   RELAY\nold.example REJECT\n192.168.2   RELAY\n")
    r = access([{"key": "192.168.2", "value": "REJECT"}, {"key": "old.example", "state": "absent"}], backup=True)
    assert r["updated"] == ["192.168.2"] and r["removed"] == ["old.example"] and r["backup_file"]
    assert access.path.read_text() == "# keep me\n127.0.0.1   RELAY\n192.168.2\tREJECT\n"
    assert Path(r["backup_file"]).read_text().startswith("# keep me\n127.0.0.1   RELAY\nold.example")
    r = access([{"key": "new.example", "value": "OK"}], exclusive=True)
    assert access.path.read_text() == "# keep me\nnew.example\tOK\n" and r["removed"] == ["127.0.0.1", "192.168.2"]


def test_map_type_from_sendmail_cf(access, tools):
    Path(tools["cf"]).write_text(f"Kaccess btree -T<TMPF> -o {access.path}.db\n")
    r = access()
    assert r["map_type"] == "btree" and access.db.read_text().startswith("btree\n")
    assert access(map_type="hash", entries=[{"key": "x.example", "value": "OK"}])["map_type"] == "hash"


def test_mode_and_existing_mode_kept(access):
    access(mode="0640")
    assert access.path.stat().st_mode & 0o777 == 0o640
    access([{"key": "x.example", "value": "OK"}])
    assert access.path.stat().st_mode & 0o777 == 0o640


def test_ebusy_falls_back_to_in_place_write(access, monkeypatch):
    access()
    inode = access.path.stat().st_ino
    real_rename = os.rename

    def busy(src, dst):
        if str(dst) == str(access.path):
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_rename(src, dst)

    monkeypatch.setattr(engine.os, "rename", busy)
    r = access([{"key": "x.example", "value": "OK"}])
    assert r["changed"] and access.path.stat().st_ino == inode
    assert access.path.read_text().endswith("x.example\tOK\n")
    assert sorted(os.listdir(access.path.parent)) == [".access.lock", "access", "access.db", "bin"]


def test_create_false_missing_file_fails(access):
    r = access(create=False)
    assert r["failed"] and "create is false" in r["msg"] and not access.path.exists()


def test_virtusertable_chapter(tmp_path, tools, run_module):
    path = tmp_path / "virtusertable"
    args = {"path": str(path), "entries": VIRTUSERTABLE, "makemap": tools["makemap"], "sendmail_cf": tools["cf"]}
    r = run_module(sendmail_virtusertable, args)
    assert r["changed"] and path.read_text() == (GOLDEN / "virtusertable.txt").read_text()
    assert not run_module(sendmail_virtusertable, args)["changed"]


def test_map_genericstable_and_authinfo_password_hidden(tmp_path, tools, run_module):
    base = {"makemap": tools["makemap"], "sendmail_cf": tools["cf"]}
    r = run_module(sendmail_map, dict(base, path=str(tmp_path / "genericstable"), kind="genericstable",
                                      entries=[{"key": "apache", "value": "mailer@my-site.com"}]))
    assert r["added"] == ["apache"]
    bad = run_module(sendmail_map, dict(base, path=str(tmp_path / "genericstable"), kind="genericstable",
                                        entries=[{"key": "apache", "value": "mailer"}]))
    assert bad["failed"] and "user@domain" in bad["msg"]
    r = run_module(sendmail_map, dict(base, path=str(tmp_path / "authinfo"), kind="authinfo",
                                      entries=[{"key": "AuthInfo:relay.example", "value": '"U:me" "P:s3cret"'}]),
                   diff=True)
    assert "s3cret" not in str(r) and "s3cret" in (tmp_path / "authinfo").read_text()


def test_classfile_no_db_and_exclusive(tmp_path, run_module):
    path = tmp_path / "local-host-names"
    path.write_text("# mine\nold.example\nmy-site.com\n")
    r = run_module(sendmail_classfile, {"path": str(path), "exclusive": True,
                                        "entries": ["my-site.com", {"key": "another-site.com"}]})
    assert r["added"] == ["another-site.com"] and r["removed"] == ["old.example"] and not r["db_rebuilt"]
    assert path.read_text() == "# mine\nmy-site.com\nanother-site.com\n"
    assert sorted(os.listdir(tmp_path)) == [".local-host-names.lock", "local-host-names"]


@pytest.fixture
def aliases(tmp_path, tools, run_module):
    path = tmp_path / "aliases"

    def run(entries=None, **kw):
        entries = ALIASES if entries is None else entries
        check = kw.pop("check", False)
        args = {"path": str(path), "aliases": entries, "sendmail": tools["sendmail"], "sendmail_cf": tools["cf"],
                **kw}
        return run_module(sendmail_aliases, args, check=check)

    run.path, run.db = path, tmp_path / "aliases.db"
    return run


def test_aliases_apply_rebuild_noop(aliases):
    r = aliases()
    assert r["changed"] and r["db_rebuilt"]
    assert aliases.path.read_text() == (GOLDEN / "aliases.txt").read_text()
    assert aliases.db.read_text() == aliases.path.read_text()
    before = snapshot(aliases.path, aliases.db)
    assert not aliases()["changed"] and snapshot(aliases.path, aliases.db) == before


def test_aliases_failure_leaves_old_files(aliases, tools):
    aliases()
    before = snapshot(aliases.path, aliases.db)
    r = aliases([{"name": "x", "members": ["y"]}], sendmail=tools["sendmail_fail"])
    assert r["failed"] and r["rc"] == 65 and "missing colon" in r["stderr"] and "-bi" in r["cmd"]
    assert snapshot(aliases.path, aliases.db) == before


def test_aliases_warns_without_postmaster(aliases, monkeypatch):
    # record warnings directly: where they end up depends on whether controller code was imported in this process
    warned = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, msg, **kw: warned.append(msg))
    aliases([{"name": "root", "members": ["marc"]}])
    assert any("has no 'postmaster' alias" in w for w in warned)
    assert any("has no 'mailer-daemon' alias" in w for w in warned)
    warned.clear()
    aliases()
    assert warned == []


def test_aliases_members_string_is_error(aliases):
    r = aliases([{"name": "root", "members": "marc,webmaster@my-site.com"}])
    assert r["failed"] and "YAML list" in r["msg"] and not aliases.path.exists()


def test_aliases_check_mode(aliases):
    r = aliases(check=True)
    assert r["changed"] and r["db_rebuilt"] and not aliases.path.exists() and not aliases.db.exists()


def test_pairs_write_the_same_bytes_as_entries(access, tmp_path):
    r = access(entries=[], pairs={"127.0.0.1": "RELAY", "192.168.2": "RELAY"})
    assert r["changed"] and r["added"] == ["127.0.0.1", "192.168.2"]
    assert access.path.read_text() == "127.0.0.1\tRELAY\n192.168.2\tRELAY\n"
    # the same map given as entries is a no-op
    again = access()
    assert not again["changed"] and not again["db_rebuilt"]


def test_pairs_and_entries_combine_and_conflicts_are_errors(access):
    r = access(entries=[{"key": "127.0.0.1", "value": "RELAY"}], pairs={"192.168.2": "RELAY"})
    assert r["added"] == ["127.0.0.1", "192.168.2"]
    clash = access(entries=[{"key": "192.168.2", "value": "RELAY"}], pairs={"192.168.2": "REJECT"})
    assert clash.get("failed") and "192.168.2" in clash["msg"]


def test_pairs_are_validated_like_entries(access):
    bad = access(entries=[], pairs={"192.168.2.0/24": "ACCEPT", "ok.example": ["RELAY"]})
    assert bad.get("failed")
    assert "192.168.2" in bad["msg"] and "OK (not ACCEPT)" in bad["msg"]
    assert "ok.example" in bad["msg"] and "must be a string" in bad["msg"]
    assert not access.path.exists()


# ------------------------------------------------------------------ makemap's cache (-c) for large maps
OPTION_MAKEMAP = """\
#!{python}
# fake makemap taking options: records its arguments, then writes <base>.db like the plain fake
import sys
args = sys.argv[1:]
with open(sys.argv[0] + ".argv", "a") as log:
    log.write(" ".join(args) + "\\n")
opts = {{}}
while args[0].startswith("-"):
    opts[args[0]] = args[1]
    args = args[2:]
typ, base = args
lines = [l for l in sys.stdin.read().split("\\n") if l and l[0] not in "# \\t"]
open(base + ".db", "w").write(typ + "\\n" + "\\n".join(sorted(lines)) + "\\n")
"""


def test_makemap_cache_args():
    big = engine.MAKEMAP_CACHE_FROM
    assert engine.makemap_cache_args(big - 1, "hash") == []
    assert engine.makemap_cache_args(big, "hash") == ["-c", str(4 * big)]
    assert engine.makemap_cache_args(3_000_000, "btree") == ["-c", "12000000"]
    assert engine.makemap_cache_args(10**9, "hash") == ["-c", str(engine.MAKEMAP_CACHE_MAX)]
    assert engine.makemap_cache_args(10**7, "dbm") == engine.makemap_cache_args(10**7, "cdb") == []


def test_large_map_gets_a_cache_that_holds_its_database(access, tmp_path):
    makemap = write_tool(tmp_path / "bin", "makemap-opts", OPTION_MAKEMAP)
    argv = Path(makemap + ".argv")
    entries = [{"key": f"host{i}.example.com", "value": "RELAY"} for i in range(12_000)]
    r = access(entries, makemap=makemap)
    size = access.path.stat().st_size
    assert r["db_rebuilt"] and size >= engine.MAKEMAP_CACHE_FROM
    (call,) = argv.read_text().splitlines()
    cache, typ, tmp = call.split()[1:]
    assert call.startswith("-c ") and int(cache) == 4 * size and typ == "hash"
    assert os.path.dirname(tmp) == str(tmp_path) and not os.path.exists(tmp)  # built from the temp text
    assert access.db.read_text().splitlines()[1:] == sorted(access.path.read_text().splitlines())
    # no-op: makemap does not run; an out-of-date database is rebuilt from the unchanged text, with the cache
    assert not access(entries, makemap=makemap)["changed"] and len(argv.read_text().splitlines()) == 1
    st = access.path.stat()
    os.utime(access.db, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    r = access(entries, makemap=makemap)
    assert r["changed"] and r["db_rebuilt"] and r["added"] == r["updated"] == []
    assert argv.read_text().splitlines()[1].startswith(f"-c {4 * size} hash ")


def test_small_map_runs_makemap_without_options(access, tmp_path):
    makemap = write_tool(tmp_path / "bin", "makemap-opts", OPTION_MAKEMAP)
    access(makemap=makemap)
    (call,) = Path(makemap + ".argv").read_text().splitlines()
    assert call.split()[0] == "hash"

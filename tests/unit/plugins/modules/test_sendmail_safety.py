"""The map modules end to end: injected lines, authinfo secrets and modes, the EBUSY fallback
under a full disk, and two runs on one map at the same time."""

import errno
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils import (
    _sendmail_map as engine,
)
from ansible_collections.homelab.mailserver.plugins.modules import (
    sendmail_access,
    sendmail_aliases,
    sendmail_map,
)

from .sendmail_fakes import FAKE_MAKEMAP, write_tool

COLLECTIONS = Path(__file__).resolve().parents[4] / "build" / "collections"
PASSWORD = "hunter2 with spaces"
AUTHINFO = [{"key": "AuthInfo:relay.example", "value": f'"U:me" "P:{PASSWORD}" "M:PLAIN"'}]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def authinfo(tmp_path, tools, run_module):
    path = tmp_path / "authinfo"

    def run(entries=None, **kw):
        check, diff = kw.pop("check", False), kw.pop("diff", False)
        args = {"path": str(path), "kind": "authinfo", "entries": AUTHINFO if entries is None else entries,
                "makemap": tools["makemap"], "sendmail_cf": tools["cf"], **kw}
        return run_module(sendmail_map, args, check=check, diff=diff)

    run.path, run.db = path, tmp_path / "authinfo.db"
    return run


# ------------------------------------------------------------------ finding 2
def test_second_run_does_not_read_an_injected_line(tmp_path, tools, run_module):
    """A file an older run wrote with a VT inside a value: evil.example is not an entry of it."""
    path = tmp_path / "access"
    line = "spam.example\tERROR:550 go away\vevil.example RELAY\n"
    path.write_text(line)
    args = {"path": str(path), "makemap": tools["makemap"], "sendmail_cf": tools["cf"],
            "entries": [{"key": "evil.example", "value": "REJECT"}]}
    r = run_module(sendmail_access, args)
    assert r["added"] == ["evil.example"] and r["updated"] == []
    assert path.read_text() == line + "evil.example\tREJECT\n"
    # and the value itself is refused today, whatever the separator
    for sep in ("\v", "\x85", "\u2028"):
        entry = {"key": "a.example", "value": f"ERROR:550 go away{sep}evil.example RELAY"}
        bad = run_module(sendmail_access, dict(args, entries=[entry]))
        assert bad["failed"] and "nothing was written" in bad["msg"]
    assert path.read_text() == line + "evil.example\tREJECT\n"


# ------------------------------------------------------------------ finding 5: modes
def test_authinfo_files_have_the_requested_mode_before_any_password(authinfo, tmp_path, tools, monkeypatch):
    seen = {}
    real_fdopen = os.fdopen

    class Recording:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

        def write(self, data):
            seen.setdefault("text mode at write", mode(self.f.fileno()))
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(engine.os, "fdopen", lambda fd, *a, **kw: Recording(real_fdopen(fd, *a, **kw)))
    # the fake makemap creates the database as makemap does, under the umask it inherits
    makemap = write_tool(tmp_path / "bin", "makemap-umask", FAKE_MAKEMAP.replace(
        'open(base + ".db", "w")', 'open(base + ".db", "w", opener=lambda p, f: os.open(p, f, 0o644))').replace(
        "import sys", "import os, sys"))
    r = authinfo(mode="0600", makemap=makemap)
    assert r["changed"] and r["db_rebuilt"]
    assert seen == {"text mode at write": 0o600}
    assert mode(authinfo.path) == 0o600 and mode(authinfo.db) == 0o600
    assert PASSWORD in authinfo.path.read_text() and PASSWORD in authinfo.db.read_text()


def test_database_created_by_makemap_is_private_until_it_has_its_mode(authinfo, tmp_path):
    umask_file = tmp_path / "makemap.umask"
    # the fake makemap records the umask it inherits: the mode bits of every file it creates are cut by it
    makemap = write_tool(tmp_path / "bin", "makemap-probe", FAKE_MAKEMAP.replace(
        "import sys", f"import os, sys\nopen({str(umask_file)!r}, 'w').write(oct(os.umask(0)))"))
    authinfo(mode="0640", makemap=makemap)
    assert umask_file.read_text() == "0o77"
    assert mode(authinfo.db) == 0o640


def test_database_with_a_wider_mode_is_fixed_on_a_no_op_run(authinfo):
    authinfo()
    authinfo.db.chmod(0o644)  # what earlier versions left: the database readable by everyone
    st = authinfo.path.stat()
    os.utime(authinfo.db, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # not stale: no rebuild
    r = authinfo(mode="0600")
    assert r["changed"] and not r["db_rebuilt"] and r["added"] == r["updated"] == []
    assert mode(authinfo.db) == 0o600 and mode(authinfo.path) == 0o600
    assert not authinfo(mode="0600")["changed"]


# ------------------------------------------------------------------ finding 5: the password is never shown
def test_authinfo_password_never_in_the_result(authinfo):
    authinfo.path.write_text('# AuthInfo:old.example "U:old" "P:old hunter3"\n')
    r = authinfo(diff=True)
    out = json.dumps(r)
    assert r["changed"] and "hunter2" not in out and "hunter3" not in out
    assert r["diff"]["after"].endswith('AuthInfo:relay.example\t"U:me" "P:********" "M:PLAIN"\n')
    assert PASSWORD in authinfo.path.read_text()
    # a change of the password: the diff shows neither
    r = authinfo([{"key": "AuthInfo:relay.example", "value": '"U:me" "P:new hunter4"'}], diff=True)
    assert r["updated"] == ["AuthInfo:relay.example"]
    assert not {"hunter2", "hunter4", "hunter3"} & set(json.dumps(r).replace('"', " ").split())
    assert "hunter" not in json.dumps(r)


def test_invalid_authinfo_value_is_not_echoed(authinfo):
    r = authinfo([{"key": "AuthInfo:relay.example", "value": '"U:me" P:my hunter2'},
                  {"key": "AuthInfo:other.example", "value": '"U:me" "P:fine hunter5" junk'}])
    assert r["failed"] and "nothing was written" in r["msg"] and "AuthInfo:relay.example" in r["msg"]
    out = json.dumps(r)
    assert "hunter" not in out, out
    assert "P:my" not in out and not authinfo.path.exists()


def test_authinfo_password_not_in_the_hosts_syslog_line(authinfo, monkeypatch):
    logged = []
    monkeypatch.setattr(AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    authinfo()
    assert any("Invoked with" in m for m in logged) and not any("hunter2" in m for m in logged), logged


# ------------------------------------------------------------------ finding 6: EBUSY, then a full disk
class FullDisk:
    """After LIMIT bytes written into DEST in place, every further write fails with ENOSPC.

    Faults both ways a fallback can write in place: os.pwrite/os.write on a descriptor of DEST, and the
    write() of a file object open()ed on DEST by the engine."""

    def __init__(self, monkeypatch, dest, limit):
        self.dest, self.left = str(dest), limit
        real_pwrite, real_write, real_open = os.pwrite, os.write, open

        def is_dest(fd):
            try:
                return os.readlink(f"/proc/self/fd/{fd}") == self.dest
            except OSError:
                return False

        def take(data):
            if self.left <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            n = min(len(data), self.left)
            self.left -= n
            return n

        def pwrite(fd, data, offset):
            return real_pwrite(fd, bytes(data)[:take(data)], offset) if is_dest(fd) else real_pwrite(fd, data, offset)

        def write(fd, data):
            return real_write(fd, bytes(data)[:take(data)]) if is_dest(fd) else real_write(fd, data)

        def faulty_open(file, mode="r", *args, **kw):
            f = real_open(file, mode, *args, **kw)
            if str(file) == self.dest and any(m in mode for m in "wa+"):
                raw_write = f.write

                def limited(data):  # a buffered write retries a short write: it ends in ENOSPC
                    n = take(data)
                    raw_write(bytes(data)[:n])
                    f.flush()
                    if n < len(data):
                        raise OSError(errno.ENOSPC, "No space left on device")
                    return n
                f.write = limited
            return f

        monkeypatch.setattr(engine.os, "pwrite", pwrite)
        monkeypatch.setattr(engine.os, "write", write)
        monkeypatch.setattr(engine, "open", faulty_open, raising=False)


def test_ebusy_then_enospc_keeps_the_complete_copy_and_says_where(tmp_path, tools, run_module, monkeypatch):
    path = tmp_path / "aliases"
    aliases = [{"name": "mailer-daemon", "members": ["postmaster"]}, {"name": "postmaster", "members": ["root"]}]
    aliases += [{"name": f"user{i}", "members": [f"person{i}@example.com"]} for i in range(2000)]
    args = {"path": str(path), "aliases": aliases, "sendmail": tools["sendmail"], "sendmail_cf": tools["cf"]}
    run_module(sendmail_aliases, args)
    before = path.read_text()
    inode = path.stat().st_ino
    real_rename = os.rename

    def busy(src, dst):
        if str(dst) == str(path):
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_rename(src, dst)

    monkeypatch.setattr(engine.os, "rename", busy)
    FullDisk(monkeypatch, path, limit=len(before) // 3)
    r = run_module(sendmail_aliases, dict(args, aliases=[{"name": "new", "members": ["marc"]}]))
    assert r["failed"] and "No space left on device" in r["msg"]
    kept = Path(r["kept_file"])
    assert str(kept) in r["msg"] and kept.parent == tmp_path
    assert kept.read_text() == before + "new:\tmarc\n"  # the complete new file survived
    assert path.stat().st_ino == inode
    monkeypatch.undo()
    # once there is room again, the kept copy is what the file should have been
    path.write_text(kept.read_text())
    r = run_module(sendmail_aliases, dict(args, aliases=[{"name": "new", "members": ["marc"]}]))
    assert r["added"] == r["updated"] == r["removed"] == []


def test_ebusy_in_place_write_succeeds_and_removes_the_copy(tmp_path, tools, run_module, monkeypatch):
    path = tmp_path / "access"
    args = {"path": str(path), "makemap": tools["makemap"], "sendmail_cf": tools["cf"],
            "entries": [{"key": "a.example", "value": "OK"}]}
    run_module(sendmail_access, args)
    real_rename, real_fsync, synced = os.rename, os.fsync, []

    def busy(src, dst):
        if str(dst) == str(path):
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_rename(src, dst)

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(engine.os, "rename", busy)
    monkeypatch.setattr(engine.os, "fsync", fsync)
    r = run_module(sendmail_access, dict(args, entries=[{"key": "b.example", "value": "OK"}]))
    assert r["changed"] and path.read_text() == "a.example\tOK\nb.example\tOK\n" and str(path) in synced
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


# ------------------------------------------------------------------ finding 6: two runs at once
GATED_MAKEMAP = """\
#!{python}
# fake makemap that says it started, then waits for a release file before building (fail={fail})
import os, sys, time
here = os.path.dirname(os.path.abspath(sys.argv[0]))
open(os.path.join(here, "started"), "w").close()
while not os.path.exists(os.path.join(here, "release")):
    time.sleep(0.02)
typ, base = sys.argv[1], sys.argv[2]
lines = [l for l in sys.stdin.read().split("\\n") if l and l[0] not in "# \\t"]
open(base + ".db", "w").write(typ + "\\n" + "\\n".join(sorted(lines)) + "\\n")
"""


def start_module(tmp_path, name, args):
    """The module as ansible runs it on a host: its own process, arguments from a JSON file."""
    args_file = tmp_path / f"{name}.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(COLLECTIONS), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "ansible_collections.homelab.mailserver.plugins.modules.sendmail_access",
                             str(args_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            cwd=tmp_path)


def test_two_runs_on_one_map_serialise_and_keep_both_entries(tmp_path, tools):
    path = tmp_path / "access"
    path.write_text("old.example\tOK\n")
    gate = tmp_path / "gate"
    gate.mkdir()
    gated = write_tool(gate, "makemap", GATED_MAKEMAP)
    base = {"path": str(path), "sendmail_cf": tools["cf"]}
    first = start_module(tmp_path, "first", dict(base, makemap=gated, entries=[{"key": "a.example", "value": "OK"}]))
    deadline = time.monotonic() + 30
    while not (gate / "started").exists():  # the first run has read the map and is building its database
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    second = start_module(tmp_path, "second", dict(base, makemap=tools["makemap"],
                                                   entries=[{"key": "b.example", "value": "OK"}]))
    try:
        second.wait(timeout=4)
    except subprocess.TimeoutExpired:
        pass
    waited = second.poll() is None  # the second run waits for the first one's lock
    (gate / "release").touch()
    results = [json.loads(p.communicate(timeout=60)[0]) for p in (first, second)]
    assert [r["changed"] for r in results] == [True, True] and [r["added"] for r in results] == [["a.example"],
                                                                                                 ["b.example"]]
    assert path.read_text() == "old.example\tOK\na.example\tOK\nb.example\tOK\n"
    assert waited

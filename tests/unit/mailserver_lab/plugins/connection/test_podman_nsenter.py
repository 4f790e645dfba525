"""podman_nsenter: the container's PID looked up once and checked, commands and files through nsenter."""

import subprocess

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible_collections.homelab.mailserver_lab.plugins.connection import podman_nsenter

CONTAINER_ID = "cbb569dc274acd78704c3c64eca17dfa266a688c3c71bccbcca54ddcbd906dac"


class Completed:
    def __init__(self, returncode=0, stdout=b"", stderr=b""):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


class FakePopen:
    """Records the argv and stdin of each command; answers with the queued results."""

    calls = []
    results = []

    def __init__(self, argv, **kwargs):
        self.argv = argv
        self.kwargs = kwargs
        self.returncode = None

    def communicate(self, data=None):
        FakePopen.calls.append((self.argv, data))
        rc, out, err = FakePopen.results.pop(0) if FakePopen.results else (0, b"", b"")
        self.returncode = rc
        return out, err


@pytest.fixture
def conn(tmp_path, monkeypatch):
    FakePopen.calls, FakePopen.results = [], []
    monkeypatch.setattr(podman_nsenter.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(podman_nsenter.os, "geteuid", lambda: 0)
    connection = podman_nsenter.Connection(PlayContext(), None)
    options = {"remote_addr": "bigboy", "pid_cache_dir": str(tmp_path / "pids"),
               "podman_executable": "podman", "nsenter_executable": "nsenter"}
    monkeypatch.setattr(connection, "get_option", options.__getitem__)
    return connection


def inspect_returns(monkeypatch, answers):
    """podman container inspect answers (one per call); returns the list of calls."""
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        return answers.pop(0)

    monkeypatch.setattr(podman_nsenter.subprocess, "run", run)
    return calls


def fake_cgroup(monkeypatch, owners):
    """/proc/PID/cgroup: PID -> container ID (absent PIDs have exited)."""
    monkeypatch.setattr(podman_nsenter, "pid_belongs_to", lambda pid, cid: owners.get(pid) == cid)


def test_the_pid_is_looked_up_once_and_cached(conn, monkeypatch, tmp_path):
    calls = inspect_returns(monkeypatch, [Completed(0, f"{CONTAINER_ID} 4242\n".encode())])
    fake_cgroup(monkeypatch, {4242: CONTAINER_ID})
    rc, _out, _err = conn.exec_command("true")
    assert rc == 0 and len(calls) == 1
    assert calls[0][-1] == "bigboy" and "{{.Id}} {{.State.Pid}}" in calls[0]
    assert (tmp_path / "pids" / "bigboy").read_text() == f"{CONTAINER_ID} 4242\n"
    # a later task (a new connection object in a new worker) reads the cache: no podman call
    conn.close()
    conn._connected = False
    conn.exec_command("true")
    assert len(calls) == 1


def test_a_cached_pid_of_another_container_is_looked_up_again(conn, monkeypatch, tmp_path):
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "bigboy").write_text(f"{CONTAINER_ID} 4242\n")
    calls = inspect_returns(monkeypatch, [Completed(0, b"newid 5151\n")])
    fake_cgroup(monkeypatch, {4242: "someone-else", 5151: "newid"})
    conn.exec_command("true")
    assert len(calls) == 1
    assert FakePopen.calls[0][0][1] == "--target=5151"


def test_commands_run_in_the_containers_namespaces_with_a_clean_environment(conn, monkeypatch):
    inspect_returns(monkeypatch, [Completed(0, f"{CONTAINER_ID} 4242\n".encode())])
    fake_cgroup(monkeypatch, {4242: CONTAINER_ID})
    FakePopen.results = [(3, b"out", b"err")]
    rc, out, err = conn.exec_command("echo $HOME", in_data=b"module source")
    assert (rc, out, err) == (3, b"out", b"err")
    argv, data = FakePopen.calls[0]
    assert argv[:2] == ["nsenter", "--target=4242"]
    assert {"--mount", "--uts", "--ipc", "--net", "--pid"} <= set(argv)
    rest = argv[argv.index("--") + 1:]
    assert rest[:2] == ["/usr/bin/env", "-i"] and "HOME=/root" in rest
    assert rest[-3:] == ["/bin/sh", "-c", "echo $HOME"]
    assert data == b"module source"


def test_pipelining_is_supported():
    assert podman_nsenter.Connection.has_pipelining is True


def test_put_and_fetch_go_through_the_entered_shell(conn, monkeypatch, tmp_path):
    inspect_returns(monkeypatch, [Completed(0, f"{CONTAINER_ID} 4242\n".encode())])
    fake_cgroup(monkeypatch, {4242: CONTAINER_ID})
    source = tmp_path / "in.txt"
    source.write_bytes(b"payload")
    conn.put_file(str(source), "/root/.ansible/tmp/x y")
    argv, data = FakePopen.calls[0]
    assert argv[-1] == "cat > '/root/.ansible/tmp/x y'" and data == b"payload"
    FakePopen.results = [(0, b"remote bytes", b"")]
    conn.fetch_file("/etc/mailname", str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b"remote bytes"
    FakePopen.results = [(1, b"", b"No such file")]
    with pytest.raises(AnsibleError, match="No such file"):
        conn.fetch_file("/nonexistent", str(tmp_path / "out2"))


def test_a_stopped_container_is_a_clear_connection_failure(conn, monkeypatch):
    inspect_returns(monkeypatch, [Completed(0, f"{CONTAINER_ID} 0\n".encode())])
    with pytest.raises(AnsibleConnectionFailure, match="container bigboy is not running"):
        conn.exec_command("true")
    inspect_returns(monkeypatch, [Completed(125, b"", b"no such container bigboy")])
    with pytest.raises(AnsibleConnectionFailure, match="no such container"):
        conn.exec_command("true")


def test_root_is_required(conn, monkeypatch):
    monkeypatch.setattr(podman_nsenter.os, "geteuid", lambda: 1000)
    with pytest.raises(AnsibleConnectionFailure, match="needs root"):
        conn.exec_command("true")


def test_pid_belongs_to_reads_the_cgroup_file(tmp_path, monkeypatch):
    real_open = open
    cgroup = tmp_path / "cgroup"
    cgroup.write_text(f"0::/libpod_parent/libpod-{CONTAINER_ID}\n")
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cgroup if path == "/proc/7/cgroup" else path, *a, **k))
    namespaces = {f"/proc/7/ns/{ns}" for ns in podman_nsenter.NAMESPACE_FILES}
    monkeypatch.setattr(podman_nsenter.os.path, "exists", lambda path: path in namespaces)
    assert podman_nsenter.pid_belongs_to(7, CONTAINER_ID)
    assert not podman_nsenter.pid_belongs_to(7, "other")
    assert not podman_nsenter.pid_belongs_to(8, CONTAINER_ID)
    # the old container's init, hung in its shutdown: its cgroup still names the ID, its namespaces are gone
    namespaces.discard("/proc/7/ns/net")
    assert not podman_nsenter.pid_belongs_to(7, CONTAINER_ID)


def test_subprocess_module_is_the_real_one():
    # the plugin must not shell out through anything but subprocess (no os.system, no shell=True)
    assert podman_nsenter.subprocess is subprocess


def test_shared_helpers_used_by_the_testinfra_backend(monkeypatch):
    # tests/harness/nsenter_backend.py imports these three instead of repeating them
    argv = podman_nsenter.nsenter_argv("nsenter", 42, "id -u")
    assert argv[:2] == ["nsenter", "--target=42"] and argv[-3:] == ["/bin/sh", "-c", "id -u"]
    assert "/usr/bin/env" in argv and "-i" in argv
    monkeypatch.setattr(podman_nsenter.subprocess, "run",
                        lambda *a, **k: Completed(0, (CONTAINER_ID + " 4242\n").encode()))
    assert podman_nsenter.inspect_container("podman", "bigboy") == (CONTAINER_ID, 4242)
    monkeypatch.setattr(podman_nsenter.subprocess, "run", lambda *a, **k: Completed(0, (CONTAINER_ID + " 0\n").encode()))
    with pytest.raises(LookupError, match="container bigboy is not running here"):
        podman_nsenter.inspect_container("podman", "bigboy")

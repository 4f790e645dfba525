"""listening_ports: listeners and their processes read from a fake /proc, and from this host's own."""

import os
import socket
import threading
import time

import pytest
from ansible_collections.homelab.mailserver.plugins.modules import listening_ports as lp

TCP_HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
UNIX_HEAD = "Num       RefCount Protocol Flags    Type St Inode Path\n"


def _hex4(address, port):
    packed = socket.inet_aton(address)
    return "%s:%04X" % (packed[::-1].hex().upper(), port)


def _hex6(address, port):
    packed = socket.inet_pton(socket.AF_INET6, address)
    words = b"".join(packed[i:i + 4][::-1] for i in range(0, 16, 4))
    return "%s:%04X" % (words.hex().upper(), port)


class FakeProc:
    """A /proc tree: listening sockets in net/, processes with comm, cmdline, exe and socket fds."""

    def __init__(self, root):
        self.root = root
        (root / "net").mkdir(parents=True)
        self.tcp, self.tcp6, self.unix = [], [], []
        self.inode = 1000
        self.write()

    def write(self):
        (self.root / "net" / "tcp").write_text(TCP_HEAD + "".join(self.tcp))
        (self.root / "net" / "tcp6").write_text(TCP_HEAD + "".join(self.tcp6))
        (self.root / "net" / "unix").write_text(UNIX_HEAD + "".join(self.unix))

    def process(self, pid, comm, argv, exe):
        base = self.root / str(pid)
        (base / "fd").mkdir(parents=True)
        (base / "comm").write_text(comm + "\n")
        (base / "cmdline").write_text("\0".join(argv) + "\0")
        (base / "exe").symlink_to(exe)
        return pid

    def listen(self, pid, address, port=None, state="0A"):
        self.inode += 1
        if port is None:
            line = "0000000000000000: 00000002 00000000 00010000 0001 01 %d %s\n" % (self.inode, address)
            self.unix.append(line)
        elif ":" in address:
            self.tcp6.append("   0: %s %s %s 00000000:00000000 00:00000000 00000000 0 0 %d 1\n"
                             % (_hex6(address, port), _hex6("::", 0), state, self.inode))
        else:
            self.tcp.append("   0: %s %s %s 00000000:00000000 00:00000000 00000000 0 0 %d 1\n"
                            % (_hex4(address, port), _hex4("0.0.0.0", 0), state, self.inode))
        if pid is not None:
            fd = len(list((self.root / str(pid) / "fd").iterdir())) + 3
            (self.root / str(pid) / "fd" / str(fd)).symlink_to("socket:[%d]" % self.inode)
        self.write()
        return self.inode


@pytest.fixture
def proc(tmp_path, monkeypatch):
    fake = FakeProc(tmp_path / "proc")
    monkeypatch.setattr(lp, "PROC", str(fake.root))
    monkeypatch.setattr(lp, "INTERVAL", 0.01)
    return fake


def sendmail(proc, pid=1247):
    return proc.process(pid, "sendmail-mta", ["sendmail: MTA: accepting connections"], "/usr/libexec/sendmail/sendmail")


def python_server(proc, pid=812):
    return proc.process(pid, "python3", ["python3", "-m", "http.server", "25", "--bind", "127.0.0.1"],
                        "/usr/bin/python3.13")


def run(run_module, proc, **args):
    args.setdefault("timeout", 0)
    return run_module(lp, args)


# ---------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, kind, addresses, port", [
    ("25", "tcp", [None], 25),
    ("*:587", "tcp", [None], 587),
    ("0.0.0.0:25", "tcp", ["0.0.0.0"], 25),
    ("127.0.0.1:143", "tcp", ["127.0.0.1"], 143),
    ("[::1]:993", "tcp", ["::1"], 993),
    ("[::]:995", "tcp", ["::"], 995),
    ("inet:8893@127.0.0.1", "tcp", ["127.0.0.1"], 8893),
    ("inet6:8893@::1", "tcp", ["::1"], 8893),
    ("inet:8891", "tcp", [None], 8891),
    ("localhost:25", "tcp", None, 25),
])
def test_tcp_forms(text, kind, addresses, port):
    spec = lp.parse_spec(text)
    assert spec["kind"] == kind and spec["port"] == port
    if addresses is not None:
        assert [str(a) if a is not None else None for a in spec["addresses"]] == addresses
    else:
        assert "127.0.0.1" in [str(a) for a in spec["addresses"]]


@pytest.mark.parametrize("text", ["local:/run/opendkim/opendkim.sock", "unix:/run/opendkim/opendkim.sock",
                                  "/run/opendkim/opendkim.sock"])
def test_unix_forms(text):
    assert lp.parse_spec(text) == {"kind": "unix", "path": "/run/opendkim/opendkim.sock"}


@pytest.mark.parametrize("text, words", [
    ("smtp", "ports: 'smtp' is not valid: PORT, ADDRESS:PORT"), ("127.0.0.1:0", "is not valid: a spec with a TCP port 1-65535"),
    ("70000", "ports: '70000' is not valid: a spec with a TCP port 1-65535"), ("inet:8891@bad host", "is not valid: PORT"),
    ("nosuchhost.invalid:25", "does not resolve"),
])
def test_bad_forms_fail_naming_the_spec(run_module, proc, text, words):
    result = run(run_module, proc, ports=[text])
    assert result["failed"] and words in result["msg"] and text in result["msg"]


# ---------------------------------------------------------------- state=listening
def test_daemon_on_its_ports_passes(run_module, proc):
    pid = sendmail(proc)
    proc.listen(pid, "0.0.0.0", 25)
    proc.listen(pid, "0.0.0.0", 587)
    result = run(run_module, proc, ports=["0.0.0.0:25", "0.0.0.0:587"], processes=["sendmail-mta"], name="sendmail")
    assert not result.get("failed"), result
    assert result["changed"] is False and result["problems"] == []
    assert [s["ok"] for s in result["sockets"]] == [True, True]
    holder = result["sockets"][0]["holders"][0]
    assert holder["address"] == "0.0.0.0:25" and holder["pids"] == [pid] and holder["allowed"]
    assert holder["processes"][0]["name"] == "sendmail-mta"


def test_rewritten_command_line_and_executable_name_also_match(run_module, proc):
    pid = sendmail(proc)
    proc.listen(pid, "127.0.0.1", 25)
    for name in ("sendmail", "sendmail-mta"):
        result = run(run_module, proc, ports=["127.0.0.1:25"], processes=[name])
        assert not result.get("failed"), (name, result)


def test_script_run_by_an_interpreter_matches_by_its_file_name(run_module, proc):
    pid = proc.process(700, "python3", ["/usr/bin/python3", "/usr/bin/pyspf-milter", "/etc/pyspf-milter.conf"],
                       "/usr/bin/python3.13")
    proc.listen(pid, "127.0.0.1", 8893)
    result = run(run_module, proc, ports=["inet:8893@127.0.0.1"], processes=["pyspf-milter"])
    assert not result.get("failed"), result


def test_wildcard_listener_serves_a_specific_address_and_ipv6_wildcard_serves_ipv4(run_module, proc):
    pid = proc.process(900, "dovecot", ["/usr/sbin/dovecot", "-F"], "/usr/sbin/dovecot")
    proc.listen(pid, "0.0.0.0", 993)
    proc.listen(pid, "::", 995)
    result = run(run_module, proc, ports=["127.0.0.1:993", "*:993", "127.0.0.1:995", "[::1]:995"],
                 processes=["dovecot"])
    assert not result.get("failed"), result


def test_ipv4_wildcard_does_not_serve_ipv6(run_module, proc):
    pid = proc.process(900, "dovecot", ["/usr/sbin/dovecot"], "/usr/sbin/dovecot")
    proc.listen(pid, "0.0.0.0", 993)
    result = run(run_module, proc, ports=["[::1]:993"], processes=["dovecot"])
    assert result["failed"] and "nothing listens on port 993" in result["msg"]


def test_another_process_on_the_port_is_named_with_its_pid_and_command_line(run_module, proc):
    """The issue: sendmail 'active', but another process holds port 25."""
    sendmail(proc)
    python = python_server(proc)
    proc.listen(python, "127.0.0.1", 25)
    result = run(run_module, proc, ports=["0.0.0.0:25"], processes=["sendmail-mta", "sendmail"], name="sendmail")
    assert result["failed"]
    msg = result["msg"]
    assert "sendmail does not listen on 0.0.0.0:25" in msg
    assert "port 25 is held by python3 (pid 812, on 127.0.0.1:25: python3 -m http.server 25 --bind 127.0.0.1)" in msg
    assert result["problems"] == [msg.rsplit(" (after", 1)[0]]
    assert result["sockets"][0]["holders"][0]["allowed"] is False


def test_postfix_master_on_the_wildcard_blocks_a_loopback_address(run_module, proc):
    master = proc.process(99, "master", ["/usr/lib/postfix/sbin/master", "-w"], "/usr/lib/postfix/sbin/master")
    proc.listen(master, "0.0.0.0", 25)
    result = run(run_module, proc, ports=["127.0.0.1:25", "127.0.0.1:587"], processes=["sendmail-mta"],
                 name="sendmail")
    assert result["failed"]
    assert "sendmail does not listen on 127.0.0.1:25: port 25 is held by master (pid 99" in result["msg"]
    assert "sendmail does not listen on 127.0.0.1:587: nothing listens on port 587" in result["msg"]


def test_listener_on_another_loopback_address_is_no_conflict_but_no_service(run_module, proc):
    sink = proc.process(50, "python3", ["/usr/bin/python3", "/usr/local/sbin/smtp_sink.py"], "/usr/bin/python3")
    proc.listen(sink, "127.0.0.3", 25)
    result = run(run_module, proc, ports=["127.0.0.1:25"], processes=["sendmail-mta"], name="sendmail")
    assert result["failed"] and "nothing listens on port 25" in result["msg"]
    assert result["sockets"][0]["holders"] == []


def test_only_sockets_in_listen_state_count(run_module, proc):
    pid = sendmail(proc)
    proc.listen(pid, "127.0.0.1", 25, state="01")
    result = run(run_module, proc, ports=["25"], processes=["sendmail-mta"])
    assert result["failed"] and "nothing listens on port 25" in result["msg"]


def test_empty_processes_accepts_any_listener(run_module, proc):
    proc.listen(python_server(proc), "127.0.0.1", 25)
    assert not run(run_module, proc, ports=["25"]).get("failed")


def test_socket_whose_holder_cannot_be_seen(run_module, proc):
    proc.listen(None, "0.0.0.0", 25)
    result = run(run_module, proc, ports=["0.0.0.0:25"], processes=["sendmail-mta"], name="sendmail")
    assert result["failed"] and "a process that cannot be seen" in result["msg"]


def test_unix_socket_of_a_milter(run_module, proc):
    pid = proc.process(300, "opendkim", ["/usr/sbin/opendkim", "-x", "/etc/opendkim.conf"], "/usr/sbin/opendkim")
    proc.listen(pid, "/run/opendkim/opendkim.sock")
    ok = run(run_module, proc, ports=["local:/run/opendkim/opendkim.sock"], processes=["opendkim"])
    assert not ok.get("failed"), ok
    missing = run(run_module, proc, ports=["local:/run/opendmarc/opendmarc.sock"], processes=["opendmarc"])
    assert missing["failed"]
    assert "opendmarc does not listen on local:/run/opendmarc/opendmarc.sock: nothing listens on" in missing["msg"]


# ---------------------------------------------------------------- state=free
def test_free_passes_when_only_the_allowed_daemon_or_nobody_listens(run_module, proc):
    proc.listen(sendmail(proc), "127.0.0.1", 25)
    result = run(run_module, proc, ports=["0.0.0.0:25", "0.0.0.0:587"], processes=["sendmail-mta"], state="free")
    assert not result.get("failed"), result


def test_free_names_the_stale_process(run_module, proc):
    master = proc.process(99, "master", ["/usr/lib/postfix/sbin/master", "-w"], "/usr/lib/postfix/sbin/master")
    proc.listen(master, "0.0.0.0", 25)
    result = run(run_module, proc, ports=["0.0.0.0:25"], processes=["sendmail-mta"], state="free", name="sendmail")
    assert result["failed"]
    assert ("sendmail cannot listen on 0.0.0.0:25: port 25 is held by master (pid 99, on 0.0.0.0:25:"
            " /usr/lib/postfix/sbin/master -w)") in result["msg"]


def test_free_with_no_processes_refuses_any_holder(run_module, proc):
    proc.listen(sendmail(proc), "0.0.0.0", 25)
    assert run(run_module, proc, ports=["25"], state="free")["failed"]


# ---------------------------------------------------------------- waiting
def test_waits_for_a_daemon_that_binds_late(monkeypatch):
    looks = []

    def fake_examine(specs, processes, state, proc=None):
        looks.append(1)
        return [{"spec": "25", "ok": len(looks) >= 3, "holders": [], "_spec": specs[0]}]

    clock = iter(x * 0.5 for x in range(100))
    monkeypatch.setattr(lp, "examine", fake_examine)
    sockets, waited = lp.wait_for([{"kind": "tcp", "port": 25, "addresses": [None]}], [], "listening", 30,
                                  sleep=lambda _s: None, clock=lambda: next(clock))
    # the clock reads 0 at the start, then 0.5 after each look: the third look succeeds
    assert sockets[0]["ok"] and len(looks) == 3 and waited == 1.5


def test_gives_up_after_the_timeout(run_module, proc):
    start = time.monotonic()
    result = run(run_module, proc, ports=["25"], processes=["sendmail-mta"], timeout=1)
    assert result["failed"] and 1.0 <= result["waited"] < 2.0
    assert time.monotonic() - start < 5
    assert "(after 1." in result["msg"]


def test_check_mode_reads_the_same(run_module, proc):
    proc.listen(sendmail(proc), "0.0.0.0", 25)
    result = run_module(lp, {"ports": ["25"], "processes": ["sendmail-mta"], "timeout": 0}, check=True)
    assert not result.get("failed") and result["changed"] is False


def test_negative_timeout_is_refused(run_module, proc):
    assert "negative" in run(run_module, proc, ports=["25"], timeout=-1)["msg"]


# ---------------------------------------------------------------- this host's real /proc
def test_real_listener_of_this_process_is_found_with_its_pid():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        spec = dict(lp.parse_spec("127.0.0.1:%d" % port), text="127.0.0.1:%d" % port)
        sockets, _waited = lp.wait_for([spec], [], "listening", 0)
    finally:
        server.close()
    assert sockets[0]["ok"]
    assert os.getpid() in sockets[0]["holders"][0]["pids"]


def test_real_daemon_binding_after_a_delay_is_waited_for():
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def bind_late():
        time.sleep(0.6)
        server.bind(("127.0.0.1", port))
        server.listen(1)

    thread = threading.Thread(target=bind_late)
    thread.start()
    try:
        spec = dict(lp.parse_spec(str(port)), text=str(port))
        sockets, waited = lp.wait_for([spec], [], "listening", 10)
    finally:
        thread.join()
        server.close()
    assert sockets[0]["ok"] and 0.5 <= waited < 10

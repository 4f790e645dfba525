#!/usr/bin/python
# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait until a daemon really listens on its sockets, or until other processes have left them."""

DOCUMENTATION = r"""
---
module: listening_ports
short_description: Check that a daemon really listens on its ports, naming the process that holds a port instead
version_added: "0.1.0"
description:
  - Reads the host's listening sockets and the processes that hold them, as C(ss -ltnpx) shows them. TCP over IPv4
    and IPv6 comes from C(/proc/net/tcp) and C(/proc/net/tcp6), Unix stream sockets from C(/proc/net/unix), and each
    socket's processes from the socket links among C(/proc/PID/fd).
  - With O(state=listening) (the default) it waits until every socket of O(ports) is listened on by one of
    O(processes), and fails when one is not after O(timeout) seconds, naming the socket and the process that holds
    its port instead, if any. A service manager's "active" says only that a process runs; a daemon that could not
    bind its port (C(cannot bind) in its log) is caught here.
  - With O(state=free) it waits until no process other than O(processes) listens where the sockets of O(ports)
    would bind, and fails naming the processes that still do; before a daemon starts (a daemon that cannot bind
    may never report its start), or after another daemon was stopped or removed (its stale process).
  - Reads only; never changes the host.
options:
  ports:
    description:
      - The sockets, each a string in one of these forms.
      - C(25) or C(*:25) for a TCP port on any address.
      - C(127.0.0.1:25), C(0.0.0.0:25), C([::1]:993), C([::]:993) or C(host.name:25) for a TCP port on one address
        (a name is resolved on the host). A listener on the wildcard address (C(0.0.0.0), or C(::), which also
        takes IPv4) counts for every address of its family.
      - C(inet:8893@127.0.0.1), C(inet6:8893@::1) or C(inet:8893), the milter socket forms that sendmail and the
        milters read.
      - C(local:/run/opendkim/opendkim.sock), C(unix:/path) or C(/path) for a Unix stream socket.
    type: list
    elements: str
    required: true
  processes:
    description:
      - Names of the processes that may hold the sockets, matched against each holder's command name (C(comm), as
        C(ss -p) shows it), its executable's file name and the file names of its first two command-line words (a
        script run by an interpreter).
      - Empty accepts any process for O(state=listening) and no process for O(state=free).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(listening) waits until each socket is listened on by one of O(processes).
      - V(free) waits until no process other than O(processes) listens where the sockets would bind.
    type: str
    choices: [listening, free]
    default: listening
  timeout:
    description:
      - Seconds to wait for the state, looking again every half second; a daemon that was just started or restarted
        gets this long to bind. V(0) looks once.
    type: int
    default: 30
  name:
    description: The daemon's name in the messages; default the first of O(processes).
    type: str
    default: ""
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; it checks and waits the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details: Linux (C(/proc)).
notes:
  - Run it as root (C(become)). The holders of a socket are found through C(/proc/PID/fd), which only root can read
    for other users' processes; a socket whose holder cannot be read counts as held by an unknown process.
  - It reads the network namespace it runs in; in a container, run it inside the container.
seealso:
  - module: homelab.mailserver.mail_doctor
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Check that sendmail listens on the SMTP and submission ports
  homelab.mailserver.listening_ports:
    name: sendmail
    ports: ["0.0.0.0:25", "0.0.0.0:587"]
    processes: [sendmail-mta, sendmail]

- name: Check a milter's Unix socket and the SPF milter's TCP socket
  homelab.mailserver.listening_ports:
    name: OpenDMARC and pyspf-milter
    ports: [local:/run/opendmarc/opendmarc.sock, inet:8893@127.0.0.1]
    processes: [opendmarc, pyspf-milter]
    timeout: 15

- name: Wait until no other mail server is left on the ports sendmail needs
  homelab.mailserver.listening_ports:
    name: sendmail
    ports: ["25", "587"]
    processes: [sendmail-mta, sendmail]
    state: free
"""

RETURN = r"""
sockets:
  description: One entry a socket of O(ports), in the order given, as last seen.
  returned: always
  type: list
  elements: dict
  contains:
    spec:
      description: The socket as given.
      type: str
    ok:
      description: Whether the socket is in the requested state.
      type: bool
    holders:
      description:
        - The listeners on the socket's port (the socket's path for a Unix socket) that overlap its address, each
          C(address) (C(127.0.0.1:25), C([::]:993) or the path), C(inode), C(pids) and C(processes) (C(pid),
          C(name), C(cmdline)), and C(allowed), whether one of them is in O(processes).
      type: list
      elements: dict
  sample:
    - spec: "0.0.0.0:25"
      ok: false
      holders:
        - address: "127.0.0.1:25"
          inode: 81234
          pids: [812]
          processes: [{pid: 812, name: python3, cmdline: "python3 -m http.server 25 --bind 127.0.0.1"}]
          allowed: false
problems:
  description: One sentence a socket that is not in the requested state; empty on success.
  returned: always
  type: list
  elements: str
  sample: ["sendmail does not listen on 0.0.0.0:25: port 25 is held by python3 (pid 812, on 127.0.0.1:25:
            python3 -m http.server 25 --bind 127.0.0.1)",
           "sendmail cannot listen on 0.0.0.0:25: port 25 is held by master (pid 99, on 0.0.0.0:25:
            /usr/lib/postfix/sbin/master -w)"]
waited:
  description: Seconds spent waiting for the state.
  returned: always
  type: float
  sample: 1.5
"""

import ipaddress
import os
import re
import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

PROC = "/proc"
TCP_LISTEN = "0A"
UNIX_ACCEPTCON = 0x10000
UNIX_STREAM = ("0001", "0005")
INTERVAL = 0.5
ANY4 = ipaddress.ip_address("0.0.0.0")
ANY6 = ipaddress.ip_address("::")


# ---------------------------------------------------------------- the sockets asked for
VALID_SPEC = ("PORT, ADDRESS:PORT, [IPV6]:PORT, /PATH or a milter socket (local:/PATH, unix:/PATH, inet:PORT, "
              "inet:PORT@ADDRESS, inet6:PORT@ADDRESS), PORT 1-65535")


def parse_spec(text):
    """A spec string as {'kind': 'tcp', 'addresses': [ip or None], 'port': int} or {'kind': 'unix', 'path': str}.

    Raises ValueError naming the problem (the shape of _validate.problem)."""
    spec = str(text).strip()
    family, sep, rest = spec.partition(":")
    if sep and family in ("inet", "inet6") and (rest.endswith("@*") or "@" not in rest):
        spec = rest.removesuffix("@*")  # a daemon's inet:PORT (every address): the PORT form
    milter = V.parse_milter_socket(spec)
    if milter and milter["family"] == "local":
        return {"kind": "unix", "path": norm_path(milter["path"])}
    if milter:
        port, host = milter["port"], milter["host"]
    elif spec.startswith("/") and V.is_abs_path(spec):
        return {"kind": "unix", "path": norm_path(spec)}
    else:
        found = (re.fullmatch(r"([0-9]+)", spec) or re.fullmatch(r"\[([^\]]+)\]:([0-9]+)", spec)
                 or re.fullmatch(r"([^:\[\]]+):([0-9]+)", spec))
        if not found:
            raise ValueError(V.problem("ports", text, VALID_SPEC))
        host, port = (None, found.group(1)) if found.lastindex == 1 else (found.group(1), found.group(2))
        port = int(port)
    if not (V.is_port(port) and port > 0):
        raise ValueError(V.problem("ports", text, "a spec with a TCP port 1-65535 (%d is not one)" % port))
    if host in (None, "*"):
        return {"kind": "tcp", "addresses": [None], "port": port}
    return {"kind": "tcp", "addresses": resolve(host, text), "port": port}


def norm_path(path):
    """PATH with its directories' links resolved (/var/run/x.sock and /run/x.sock are one socket)."""
    head, tail = os.path.split(path)
    return os.path.join(os.path.realpath(head), tail)


def resolve(host, text):
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ValueError(V.problem("ports", text, "a spec whose host resolves: %s does not resolve (%s)" % (host, exc))) from None
    return sorted({ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}, key=str)


# ---------------------------------------------------------------- what the host has
def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _proc_address(hex_addr):
    raw = bytes.fromhex(hex_addr)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def tcp_listeners(proc=None):
    """[(ip address, port, inode)] of the listening TCP sockets."""
    proc = proc or PROC
    found = []
    for table in ("tcp", "tcp6"):
        for line in _read(os.path.join(proc, "net", table)).splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_LISTEN:
                continue
            hex_addr, _sep, hex_port = fields[1].partition(":")
            address = _proc_address(hex_addr)
            if address.version == 6 and address.ipv4_mapped:
                address = address.ipv4_mapped
            found.append((address, int(hex_port, 16), int(fields[9])))
    return found


def unix_listeners(proc=None):
    """[(path, inode)] of the listening Unix stream sockets that have a path."""
    proc = proc or PROC
    found = []
    for line in _read(os.path.join(proc, "net", "unix")).splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or not int(fields[3], 16) & UNIX_ACCEPTCON or fields[4] not in UNIX_STREAM:
            continue
        found.append((norm_path(fields[7]), int(fields[6])))
    return found


def socket_owners(inodes, proc=None):
    """{inode: [pid, ...]} for the socket inodes asked for, from the socket links in /proc/PID/fd."""
    proc = proc or PROC
    wanted = {"socket:[%d]" % inode: inode for inode in inodes}
    owners = {}
    if not wanted:
        return owners
    try:
        pids = sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())
    except OSError:
        return owners
    for pid in pids:
        fd_dir = os.path.join(proc, str(pid), "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target in wanted:
                owners.setdefault(wanted[target], [])
                if pid not in owners[wanted[target]]:
                    owners[wanted[target]].append(pid)
    return owners


def process_info(pid, proc=None):
    """{pid, name, cmdline, names}: names are what O(processes) is matched against."""
    proc = proc or PROC
    base = os.path.join(proc, str(pid))
    comm = _read(os.path.join(base, "comm")).strip()
    argv = [a for a in _read(os.path.join(base, "cmdline")).split("\0") if a]
    try:
        exe = os.readlink(os.path.join(base, "exe"))
    except OSError:
        exe = ""
    names = {comm, os.path.basename(exe.replace(" (deleted)", ""))}
    for word in argv[:2]:
        first = word.split()[0] if word.split() else word
        names.add(os.path.basename(first.rstrip(":")))
    names.discard("")
    return {"pid": pid, "name": comm or "?", "cmdline": " ".join(argv), "names": sorted(names)}


def allowed_process(info, processes):
    for wanted in processes:
        if wanted in info["names"] or (len(wanted) > 15 and wanted[:15] in info["names"]):
            return True
    return False


# ---------------------------------------------------------------- matching
def _show(address, port):
    return "[%s]:%d" % (address, port) if address.version == 6 else "%s:%d" % (address, port)


def satisfies(listener_address, wanted):
    """A listener on LISTENER_ADDRESS accepts connections for the WANTED address (None: any)."""
    if wanted is None or listener_address == wanted:
        return True
    if listener_address == ANY6:
        return True
    return listener_address == ANY4 and wanted.version == 4


def overlaps(listener_address, wanted):
    """A listener on LISTENER_ADDRESS keeps a daemon from binding WANTED (None: any address)."""
    if satisfies(listener_address, wanted):
        return True
    # a daemon binding a wildcard address is refused by any listener of that family on the port
    return wanted in (ANY4, ANY6) and (wanted == ANY6 or listener_address.version == 4)


def examine(specs, processes, state, proc=None):
    """One look at the host: (sockets as RETURN documents them, problems without the wait's wording)."""
    tcp = tcp_listeners(proc) if any(s["kind"] == "tcp" for s in specs) else []
    unix = unix_listeners(proc) if any(s["kind"] == "unix" for s in specs) else []
    relevant = {}
    for spec in specs:
        if spec["kind"] == "tcp":
            for address, port, inode in tcp:
                if port == spec["port"] and any(overlaps(address, w) for w in spec["addresses"]):
                    relevant[inode] = _show(address, port)
        else:
            for path, inode in unix:
                if path == spec["path"]:
                    relevant[inode] = path
    owners = socket_owners(relevant, proc)
    infos = {}
    for pids in owners.values():
        for pid in pids:
            infos.setdefault(pid, process_info(pid, proc))

    def holder(inode, where):
        pids = owners.get(inode, [])
        found = [infos[p] for p in pids]
        allowed = any(allowed_process(i, processes) for i in found) if processes else (state == "listening")
        return {"address": where, "inode": inode, "pids": pids, "allowed": allowed,
                "processes": [{"pid": i["pid"], "name": i["name"], "cmdline": i["cmdline"]} for i in found]}

    sockets = []
    for spec in specs:
        holders, serving = [], []
        if spec["kind"] == "tcp":
            for address, port, inode in tcp:
                if port != spec["port"] or not any(overlaps(address, w) for w in spec["addresses"]):
                    continue
                holders.append(holder(inode, _show(address, port)))
                if any(satisfies(address, w) for w in spec["addresses"]):
                    serving.append(holders[-1])
        else:
            holders = [holder(inode, path) for path, inode in unix if path == spec["path"]]
            serving = holders
        if state == "listening":
            ok = any(h["allowed"] for h in serving)
        else:
            ok = all(h["allowed"] for h in holders)
        sockets.append({"spec": spec["text"], "ok": ok, "holders": holders, "_spec": spec})
    return sockets


def _who(holder):
    if not holder["processes"]:
        return "a process that cannot be seen (socket inode %d, on %s)" % (holder["inode"], holder["address"])
    return ", ".join("%s (pid %d, on %s: %s)" % (p["name"], p["pid"], holder["address"], p["cmdline"] or p["name"])
                     for p in holder["processes"])


def describe(entry, name, state):
    spec = entry["_spec"]
    what = "port %d" % spec["port"] if spec["kind"] == "tcp" else spec["path"]
    foreign = [h for h in entry["holders"] if not h["allowed"]]
    holders = "; ".join(_who(h) for h in foreign)
    if state == "free":
        return "%s cannot listen on %s: %s is held by %s" % (name, entry["spec"], what, holders)
    head = "%s does not listen on %s" % (name, entry["spec"])
    if foreign:
        return "%s: %s is held by %s" % (head, what, holders)
    if entry["holders"]:
        return "%s: only %s listen%s there" % (
            head, ", ".join(h["address"] for h in entry["holders"]), "s" if len(entry["holders"]) == 1 else "")
    return "%s: nothing listens on %s" % (head, what)


def wait_for(specs, processes, state, timeout, proc=None, sleep=time.sleep, clock=time.monotonic):
    """Look until every socket is in STATE or TIMEOUT seconds have passed: (sockets, waited seconds)."""
    start = clock()
    while True:
        sockets = examine(specs, processes, state, proc)
        waited = clock() - start
        if all(s["ok"] for s in sockets) or waited >= timeout:
            return sockets, round(waited, 1)
        sleep(INTERVAL)


def main():
    module = AnsibleModule(
        argument_spec={
            "ports": {"type": "list", "elements": "str", "required": True},
            "processes": {"type": "list", "elements": "str", "default": []},
            "state": {"type": "str", "choices": ["listening", "free"], "default": "listening"},
            "timeout": {"type": "int", "default": 30},
            "name": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    name = p["name"] or (p["processes"][0] if p["processes"] else "the daemon")
    specs = []
    for text in p["ports"]:
        try:
            spec = parse_spec(text)
        except ValueError as exc:
            module.fail_json(msg=str(exc), sockets=[], problems=[str(exc)], waited=0.0)
        spec["text"] = str(text).strip()
        specs.append(spec)
    if p["timeout"] < 0:
        module.fail_json(msg="timeout: %d is negative" % p["timeout"], sockets=[], problems=[], waited=0.0)
    sockets, waited = wait_for(specs, p["processes"], p["state"], p["timeout"])
    problems = [describe(s, name, p["state"]) for s in sockets if not s["ok"]]
    for entry in sockets:
        del entry["_spec"]
    result = {"changed": False, "sockets": sockets, "problems": problems, "waited": waited}
    if problems:
        module.fail_json(msg="%s (after %s s)" % ("; ".join(problems), waited), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

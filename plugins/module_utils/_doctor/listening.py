# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""listening: the expected sockets listen (the chapter's netstat -ta, read from /proc/net/tcp*)."""

import ipaddress

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import (
    Check,
    read_text,
    refuse_la_hint,
    result,
)

NAME = "listening"
TCP_LISTEN = "0A"


def _proc_address(hex_addr):
    raw = bytes.fromhex(hex_addr)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def parse_proc_net_tcp(text):
    """(address, port) of the LISTEN sockets in a /proc/net/tcp or tcp6 text."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == TCP_LISTEN:
            addr, _sep, port = fields[1].partition(":")
            found.append((_proc_address(addr), int(port, 16)))
    return found


def _covers(listener, wanted):
    (addr, port), (want_addr, want_port) = listener, wanted
    if port != want_port:
        return False
    if want_addr is None or addr == want_addr:
        return True
    if addr.is_unspecified:
        return addr.version == 6 or want_addr.version == 4
    return addr.version == 6 and addr.ipv4_mapped == want_addr


def show(addr, port):
    """ADDR:PORT as the detail shows it ([v6]:port, [::ffff:v4]:port for a mapped address)."""
    if addr.version == 4:
        return "%s:%d" % (addr, port)
    return "[%s]:%d" % ("::ffff:%s" % addr.ipv4_mapped if addr.ipv4_mapped else addr, port)


def check(expected, proc_files=("/proc/net/tcp", "/proc/net/tcp6"), sendmail_cf=None):
    """The chapter's `netstat -ta | egrep 'pop|imap'`, read from /proc/net/tcp*."""
    listeners = []
    for path in proc_files:
        listeners.extend(parse_proc_net_tcp(read_text(path) or ""))
    listeners = sorted(set(listeners), key=lambda la: (la[1], la[0].version, la[0]))
    shown = "listening: " + (" ".join(show(a, p) for a, p in listeners) or "nothing")
    missing = []
    for item in expected:
        addr, _sep, port = item.rpartition(":")
        addr = addr.strip("[]")
        try:
            wanted = (None if addr in ("*", "") else ipaddress.ip_address(addr), int(port))
        except ValueError:
            missing.append("%s (not address:port)" % item)
            continue
        if not any(_covers(listener, wanted) for listener in listeners):
            missing.append(item)
    if missing:
        hint = refuse_la_hint(sendmail_cf)
        return result(NAME, False, "not listening: %s\n%s%s" % (", ".join(missing), shown, "\n" + hint if hint else ""))
    return result(NAME, True if expected else None, shown)


CHECK = Check(
    name=NAME,
    sections=("Verifiying Whether Dovecot is Listening", "Troubleshooting Dovecot Mail"),
    doc="Reads the LISTEN sockets of /proc/net/tcp and /proc/net/tcp6 (the chapter's netstat -ta) and lists them."
        " OK when every address:port of the listening option listens; *:port means any address, and a wildcard"
        " listener (0.0.0.0, ::) counts for every address of its family. Undecided when nothing is expected. A"
        " missing socket is explained when the load average is at or above sendmail's RefuseLA.",
    inputs=("listening", "sendmail_cf"),
    run=lambda i: check(i.listening, sendmail_cf=i.sendmail_cf),
)

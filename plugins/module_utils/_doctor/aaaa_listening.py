# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""aaaa_listening: every AAAA the server's name publishes is an address of this host that the MTA listens on."""

import ipaddress

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, read_text, result
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._dns_compare import dns_name
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor.listening import parse_proc_net_tcp

NAME = "aaaa_listening"


def local_ipv6(text):
    """The addresses of /proc/net/if_inet6 (32 hex digits in network order, then index, prefix, scope, flags, name)."""
    found = set()
    for line in text.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                found.add(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
            except ValueError:
                continue
    return found


def check(records, fqdn, port=25, proc_tcp6="/proc/net/tcp6", if_inet6="/proc/net/if_inet6"):
    """Each AAAA record of FQDN among RECORDS: assigned here, and a LISTEN socket on PORT covers it."""
    wanted = []
    for record in records or []:
        if str(record.get("type", "")).upper() == "AAAA" and dns_name(record["name"]) == dns_name(fqdn):
            try:
                wanted.append(ipaddress.IPv6Address(str(record["value"])))
            except ValueError:
                return result(NAME, False, "the AAAA record of %s is not an IPv6 address: %r" % (fqdn, record["value"]))
    if not wanted:
        return result(NAME, None, "%s publishes no AAAA record: nothing to check" % fqdn)
    listeners = [(addr, p) for addr, p in parse_proc_net_tcp(read_text(proc_tcp6) or "") if p == port]
    local = local_ipv6(read_text(if_inet6) or "")
    problems, fine = [], []
    for addr in wanted:
        if addr not in local:
            problems.append("%s is not an address of this host (%s)" % (addr, if_inet6))
        elif not any(listener == addr or listener.is_unspecified for listener, _port in listeners):
            problems.append("nothing listens on [%s]:%d" % (addr, port))
        else:
            fine.append("[%s]:%d" % (addr, port))
    shown = "listening on port %d over IPv6: %s" % (port, " ".join("[%s]" % a for a, _p in listeners) or "nothing")
    if problems:
        return result(NAME, False, "AAAA of %s: %s\n%s" % (fqdn, "; ".join(problems), shown))
    return result(NAME, True, "AAAA of %s listening: %s" % (fqdn, ", ".join(fine)))


CHECK = Check(
    name=NAME,
    sections=("Configure Your Mail Server's Name In DNS",),
    doc="Reads each AAAA record of the server's name (fqdn) in dns_records, as playbooks/dns_records.yml publishes"
        " it, the host's addresses (/proc/net/if_inet6) and the LISTEN sockets of /proc/net/tcp6. OK when every"
        " such address is one of this host's and a LISTEN socket on smtp_port covers it (that address, or ::):"
        " a published AAAA that nothing answers on sends every IPv6-capable sender to a dead address first."
        " Undecided when the name publishes no AAAA.",
    inputs=("dns_records", "fqdn", "smtp_port"),
    run=lambda i: check(i.dns_records, i.fqdn, i.smtp_port),
)

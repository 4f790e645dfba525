# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the resolver role: the /etc/hosts loopback line and name checks."""

import re

from ansible.errors import AnsibleFilterError

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def hostname_problem(name):
    """Return why NAME is not a valid DNS host name, or an empty string."""
    if not isinstance(name, str) or not name:
        return "it is empty"
    if len(name) > 253:
        return "it is longer than 253 characters"
    for label in name.rstrip(".").split("."):
        if not _LABEL.match(label):
            return "label '%s' is not 1-63 letters, digits or inner hyphens" % label
    return ""


def hosts_entries(content, entries):
    """Return CONTENT with one line per entry ``{address, names}``.

    An existing line for the address is replaced in place; otherwise the line
    is appended. Other lines are kept as they were.
    """
    out = (content or "").splitlines()
    for entry in entries or []:
        address, names = entry.get("address"), entry.get("names") or []
        if not address or not names:
            raise AnsibleFilterError("hosts_entries: each entry needs an address and a list of names: %r" % (entry,))
        line = "%s\t%s" % (address, " ".join(names))
        for index, existing in enumerate(out):
            if existing.split("#", 1)[0].split()[:1] == [address]:
                out[index] = line
                break
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def hosts_loopback(content, names):
    """Return CONTENT (an /etc/hosts text) with NAMES as the 127.0.0.1 line.

    The first 127.0.0.1 line becomes ``127.0.0.1<TAB>names...``; the names are
    taken off any later 127.0.0.1 line (a line left with no name is dropped);
    every other line is kept as it was.
    """
    if not names:
        raise AnsibleFilterError("hosts_loopback: no names given for the 127.0.0.1 line")
    wanted = set(names)
    new_line = "127.0.0.1\t" + " ".join(names)
    out = []
    placed = False
    for line in (content or "").splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields or fields[0] != "127.0.0.1":
            out.append(line)
            continue
        if not placed:
            out.append(new_line)
            placed = True
            continue
        rest = [n for n in fields[1:] if n not in wanted]
        if rest:
            out.append("127.0.0.1\t" + " ".join(rest))
    if not placed:
        out.insert(0, new_line)
    return "\n".join(out) + "\n"


class FilterModule:
    """Resolver filters."""

    def filters(self):
        return {
            "hosts_loopback": hosts_loopback,
            "hosts_entries": hosts_entries,
            "hostname_problem": hostname_problem,
        }

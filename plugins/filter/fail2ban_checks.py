# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fail2ban role's jail file from its variables, every value checked before anything changes."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: fail2ban_jail_conf.yml beside this file (ansible-doc -t filter homelab.mailserver.fail2ban_jail_conf).

# Kinds _validate.py does not have, kept here: a duration of more than 0 seconds (a ban or find time of 0
# bans for nothing or counts nothing), a count of 1 or more, a TCP port 1-65535 (0 is no port to ban), and
# the jail, filter and action names that become a section name or an option value of the jail file.
BANACTIONS = ("nftables-multiport", "nftables-allports")
BACKENDS = ("systemd", "auto", "polling", "pyinotify")
NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,63}")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART_RE = re.compile(r"([0-9]+)([smhdw]?)")

VALID_DURATION = V.VALID_DURATION + ", more than 0 seconds"
VALID_RETRIES = "a whole number, 1 or more (an integer, or text of the digits 0-9)"
VALID_PORT = "a TCP port number 1-65535 (an integer)"
VALID_PORTS = "a list of TCP port numbers 1-65535 (integers)"
VALID_ADDRESSES = "a list of IP addresses or networks in CIDR notation (e.g. [127.0.0.1/8, '::1', 192.168.1.0/24])"
VALID_NAME = "a name of 1-64 lower-case letters, digits and '-', starting with a letter"
VALID_BANACTION = " or ".join(BANACTIONS)
VALID_BACKEND = ", ".join(BACKENDS)
VALID_JAILS = "a list of jails, each a dictionary with the keys name, filter, enabled and ports"


def seconds(value):
    """The seconds of a valid duration ('1h30m' -> 5400); None when VALUE is not one."""
    if not V.is_duration(value):
        return None
    return sum(int(number) * _UNIT_SECONDS[unit or "s"] for number, unit in _PART_RE.findall(value))


def _text(value):
    """YAML numbers (bantime: 600, maxretry: 5) as the text the jail file gets."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _duration(where, value, errors):
    value = _text(value)
    if not seconds(value):
        errors.add(where, value, VALID_DURATION)
        return None
    return value


def _retries(where, value, errors):
    if not V.is_count(value) or int(value) < 1:
        errors.add(where, value, VALID_RETRIES)
        return None
    return str(int(value))


def _addresses(where, value, errors):
    if not isinstance(value, list):
        errors.add(where, value, VALID_ADDRESSES)
        return None
    out = []
    for index, item in enumerate(value):
        if errors.check(V.check_ip_network, item, f"{where}[{index}]"):
            network = ipaddress.ip_network(item, strict=False).with_prefixlen
            if network not in out:
                out.append(network)
    return out


def _ports(where, value, enabled, errors):
    if not isinstance(value, list):
        errors.add(where, value, VALID_PORTS)
        return None
    out = []
    for index, port in enumerate(value):
        if not V.is_port(port) or port == 0:
            errors.add(f"{where}[{index}]", port, VALID_PORT)
        elif port not in out:
            out.append(port)
    if enabled and not value:
        errors.add(where, value, VALID_PORTS + ", at least one while the jail is enabled")
    return out


def _name(where, value, errors):
    if V.is_str(value) and NAME_RE.fullmatch(value):
        return value
    errors.add(where, value, VALID_NAME)
    return None


def _choice(where, value, choices, valid, errors):
    if V.is_str(value) and value in choices:
        return value
    errors.add(where, value, valid)
    return None


def _jail(entry, index, common, errors):
    """The lines of one jail; the variables it names are fail2ban_<name with '_' for '-'>_enabled and _ports."""
    if not isinstance(entry, dict) or not set(entry) <= {"name", "filter", "enabled", "ports"}:
        errors.add(f"fail2ban_jail_conf input jails[{index}]", entry, VALID_JAILS)
        return []
    name = _name(f"fail2ban_jail_conf input jails[{index}].name", entry.get("name"), errors)
    if name:
        where_enabled, where_ports = (f"fail2ban_{name.replace('-', '_')}_{key}" for key in ("enabled", "ports"))
    else:
        where_enabled, where_ports = (f"fail2ban_jail_conf input jails[{index}].{key}" for key in ("enabled", "ports"))
    enabled = entry.get("enabled")
    if not isinstance(enabled, bool):
        errors.add(where_enabled, enabled, "a boolean")
        enabled = False
    ports = _ports(where_ports, entry.get("ports"), enabled, errors)
    jail_filter = _name(f"fail2ban_jail_conf input jails[{index}].filter", entry.get("filter"), errors)
    if not name:
        return []
    if not enabled:
        return ["", f"[{name}]", "enabled = false"]
    lines = ["", f"[{name}]", "enabled = true", f"filter = {jail_filter}"]
    lines.append(f"backend = {common['backend']}")
    lines.append(f"banaction = {common['banaction']}")
    if ports:
        lines.append("port = " + ",".join(str(port) for port in ports))
    for key in ("bantime", "findtime", "maxretry"):
        lines.append(f"{key} = {common[key]}")
    lines.append(("ignoreip = " + " ".join(common["ignoreip"] or [])).rstrip())  # (lines of a run with errors are dropped)
    return lines


def fail2ban_jail_conf(settings):
    """Return {lines, errors}: the sections of the role's jail file, and what is wrong with its variables."""
    errors = V.Problems()
    if not isinstance(settings, dict):
        return {"lines": [], "errors": [V.problem("fail2ban_jail_conf input", settings, "a dictionary of the settings")]}
    common = {
        "bantime": _duration("fail2ban_bantime", settings.get("bantime"), errors),
        "findtime": _duration("fail2ban_findtime", settings.get("findtime"), errors),
        "maxretry": _retries("fail2ban_maxretry", settings.get("maxretry"), errors),
        "ignoreip": _addresses("fail2ban_ignoreip", settings.get("ignoreip"), errors),
        "banaction": _choice("fail2ban_banaction", settings.get("banaction"), BANACTIONS, VALID_BANACTION, errors),
        "backend": _choice("fail2ban_jail_conf input backend", settings.get("backend", "systemd"), BACKENDS,
                           VALID_BACKEND, errors),
    }
    jails = settings.get("jails")
    if not isinstance(jails, list):
        errors.add("fail2ban_jail_conf input jails", jails, VALID_JAILS)
        jails = []
    lines = []
    names = set()
    for index, entry in enumerate(jails):
        jail_lines = _jail(entry, index, common, errors)
        if jail_lines and jail_lines[1] in names:
            errors.add(f"fail2ban_jail_conf input jails[{index}].name", entry.get("name"), "a name no other jail has")
        names.add(jail_lines[1] if jail_lines else None)
        lines.extend(jail_lines)
    if errors:
        return {"lines": [], "errors": list(errors)}
    return {"lines": lines[1:], "errors": []}


class FilterModule:
    """homelab.mailserver fail2ban filters."""

    def filters(self):
        return {"fail2ban_jail_conf": fail2ban_jail_conf}

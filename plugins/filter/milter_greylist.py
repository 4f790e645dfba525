# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""greylist.conf lines from the milter_greylist role's variables, checked before anything changes."""

from __future__ import annotations

import ipaddress
import re

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

_DURATION_RE = re.compile(r"^(\d+[smhdw]?)+$")
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_ADDRESS_RE = re.compile(r"^[^\s@\"<>]*@?[A-Za-z0-9.-]+$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$")
_MODE_RE = re.compile(r"^0?[0-7]{3}$")


def _is_str(value):
    return isinstance(value, str)


def _quote(value):
    return '"%s"' % value


def _duration(name, value, errors):
    text = str(value).strip() if value is not None else ""
    if isinstance(value, bool) or not _DURATION_RE.match(text):
        errors.append("milter_greylist_%s must be a duration such as 5m, 30s, 25h or 1d12h, got %r" % (name, value))
        return None
    return text


def _path(name, value, errors):
    if not _is_str(value) or not value.startswith("/") or any(ch.isspace() or ch == '"' for ch in value):
        errors.append("milter_greylist_%s must be an absolute path without spaces or quotes, got %r" % (name, value))
        return None
    return value


def _list(name, value, errors):
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append("milter_greylist_%s must be a list, got %r" % (name, value))
        return []
    return value


def milter_greylist_conf(settings):
    """Return {lines, errors} for greylist.conf."""
    errors = []
    if not isinstance(settings, dict):
        return {"lines": [], "errors": ["milter_greylist_conf: the settings must be a dictionary"]}
    lines = []
    pidfile = _path("pidfile", settings.get("pidfile"), errors)
    socket = _path("socket", settings.get("socket"), errors)
    socket_mode = settings.get("socket_mode")
    dumpfile = _path("dumpfile", settings.get("dumpfile"), errors)
    dumpfile_mode = settings.get("dumpfile_mode", "600")
    dumpfreq = _duration("dumpfreq", settings.get("dumpfreq", "10m"), errors)
    user = settings.get("user")
    delay = _duration("delay", settings.get("delay"), errors)
    autowhite = _duration("autowhite", settings.get("autowhite"), errors)

    for name, mode in (("socket_mode", socket_mode), ("dumpfile_mode", dumpfile_mode)):
        if mode not in (None, "") and not _MODE_RE.match(str(mode)):
            errors.append("milter_greylist_%s must be an octal mode such as 660, got %r" % (name, mode))
    if not _is_str(user) or not _USER_RE.match(user):
        errors.append("milter_greylist_user must be a user name (optionally user:group), got %r" % (user,))

    if pidfile:
        lines.append("pidfile %s" % _quote(pidfile))
    if socket:
        lines.append(("socket %s %s" % (_quote(socket), socket_mode or "")).rstrip())
    if dumpfile:
        lines.append(("dumpfile %s %s" % (_quote(dumpfile), dumpfile_mode or "")).rstrip())
    if dumpfreq:
        lines.append("dumpfreq %s" % dumpfreq)
    if _is_str(user):
        lines.append("user %s" % _quote(user))
    if settings.get("quiet", False):
        lines.append("quiet")
    spf_bypass = settings.get("spf_bypass", True)
    if not isinstance(spf_bypass, bool):
        errors.append("milter_greylist_spf_bypass must be a boolean, got %r" % (spf_bypass,))
    elif not spf_bypass:
        lines.append("nospf")
    if delay:
        lines.append("greylist %s" % delay)
    if autowhite:
        lines.append("autowhite %s" % autowhite)

    for index, addr in enumerate(_list("whitelist_addresses", settings.get("whitelist_addresses"), errors)):
        try:
            net = ipaddress.ip_network(str(addr), strict=False)
        except ValueError:
            errors.append("milter_greylist_whitelist_addresses[%d]: %r is not an IP address or network such as 192.168.0.0/16" % (index, addr))
            continue
        lines.append("acl whitelist addr %s" % net.with_prefixlen)
    for index, domain in enumerate(_list("whitelist_domains", settings.get("whitelist_domains"), errors)):
        if not _is_str(domain) or not _DOMAIN_RE.match(domain):
            errors.append("milter_greylist_whitelist_domains[%d]: %r is not a domain name such as example.com" % (index, domain))
            continue
        lines.append("acl whitelist domain %s" % domain)
    for key, clause in (("whitelist_senders", "from"), ("whitelist_recipients", "rcpt")):
        for index, address in enumerate(_list(key, settings.get(key), errors)):
            if not _is_str(address) or not _ADDRESS_RE.match(address):
                errors.append("milter_greylist_%s[%d]: %r is not an address such as user@example.com or @example.com" % (key, index, address))
                continue
            lines.append("acl whitelist %s %s" % (clause, address))
    for index, line in enumerate(_list("extra_lines", settings.get("extra_lines"), errors)):
        if not _is_str(line) or "\n" in line:
            errors.append("milter_greylist_extra_lines[%d] must be a one-line string, got %r" % (index, line))
            continue
        lines.append(line)
    by_default = settings.get("greylist_by_default", True)
    if not isinstance(by_default, bool):
        errors.append("milter_greylist_greylist_by_default must be a boolean, got %r" % (by_default,))
        by_default = True
    lines.append("acl greylist default" if by_default else "acl whitelist default")
    return {"lines": lines, "errors": errors}


def milter_greylist_flags(on_failure):
    """sendmail's F= flag for what happens to mail when the milter is down: 'pass' -> '', 'tempfail' -> 'T', 'reject' -> 'R'."""
    flags = {"pass": "", "tempfail": "T", "reject": "R"}
    if on_failure not in flags:
        raise ValueError("milter_greylist_on_failure must be pass, tempfail or reject, got %r" % (on_failure,))
    return flags[on_failure]


class FilterModule:
    """homelab.mailserver milter-greylist filters."""

    def filters(self):
        return {
            "milter_greylist_conf": milter_greylist_conf,
            "milter_greylist_flags": milter_greylist_flags,
        }

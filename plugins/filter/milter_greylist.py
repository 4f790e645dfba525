# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""greylist.conf lines from the milter_greylist role's variables, checked before anything changes."""

from __future__ import annotations

import ipaddress

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

VALID_ACL_ADDRESS = "an address such as user@example.com, or @example.com for a whole domain"
VALID_ACL_DOMAIN = V.VALID_MAIL_DOMAIN + "; a leading dot is allowed (.example.com)"


def _quote(value):
    return '"%s"' % value


def _text(value):
    """YAML numbers (delay: 300, socket_mode: 660) as the text greylist.conf gets."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _duration(name, value, errors):
    value = _text(value)
    return value if errors.check(V.check_duration, value, "milter_greylist_" + name) else None


def _path(name, value, errors):
    return value if errors.check(V.check_abs_path, value, "milter_greylist_" + name) else None


def _list(name, value, errors):
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add("milter_greylist_" + name, value, "a list")
        return []
    return value


def is_acl_address(value):
    """user@domain, or @domain for every address of a domain."""
    return V.is_mail_address(value) or (V.is_str(value) and value[:1] == "@" and V.is_domain(value[1:]))


def is_acl_domain(value):
    return V.is_str(value) and V.is_mail_domain(value.removeprefix("."))


def milter_greylist_conf(settings):
    """Return {lines, errors} for greylist.conf."""
    errors = V.Problems()
    if not isinstance(settings, dict):
        return {"lines": [], "errors": [V.problem("milter_greylist_conf input", settings, "a dictionary of the settings")]}
    lines = []
    pidfile = _path("pidfile", settings.get("pidfile"), errors)
    socket = _path("socket", settings.get("socket"), errors)
    socket_mode = _text(settings.get("socket_mode"))
    dumpfile = _path("dumpfile", settings.get("dumpfile"), errors)
    dumpfile_mode = _text(settings.get("dumpfile_mode", "600"))
    dumpfreq = _duration("dumpfreq", settings.get("dumpfreq", "10m"), errors)
    user = settings.get("user")
    delay = _duration("delay", settings.get("delay"), errors)
    autowhite = _duration("autowhite", settings.get("autowhite"), errors)

    for name, mode in (("socket_mode", socket_mode), ("dumpfile_mode", dumpfile_mode)):
        if mode not in (None, ""):
            errors.check(V.check_file_mode, mode, "milter_greylist_" + name)
    errors.check(V.check_user_group, user, "milter_greylist_user")

    if pidfile:
        lines.append("pidfile %s" % _quote(pidfile))
    if socket:
        lines.append(("socket %s %s" % (_quote(socket), socket_mode or "")).rstrip())
    if dumpfile:
        lines.append(("dumpfile %s %s" % (_quote(dumpfile), dumpfile_mode or "")).rstrip())
    if dumpfreq:
        lines.append("dumpfreq %s" % dumpfreq)
    if V.is_str(user):
        lines.append("user %s" % _quote(user))
    if settings.get("quiet", False):
        lines.append("quiet")
    spf_bypass = settings.get("spf_bypass", True)
    if not isinstance(spf_bypass, bool):
        errors.add("milter_greylist_spf_bypass", spf_bypass, "a boolean")
    elif not spf_bypass:
        lines.append("nospf")
    if delay:
        lines.append("greylist %s" % delay)
    if autowhite:
        lines.append("autowhite %s" % autowhite)

    for index, addr in enumerate(_list("whitelist_addresses", settings.get("whitelist_addresses"), errors)):
        if errors.check(V.check_ip_network, addr, "milter_greylist_whitelist_addresses[%d]" % index):
            lines.append("acl whitelist addr %s" % ipaddress.ip_network(addr, strict=False).with_prefixlen)
    for index, domain in enumerate(_list("whitelist_domains", settings.get("whitelist_domains"), errors)):
        if not is_acl_domain(domain):
            errors.add("milter_greylist_whitelist_domains[%d]" % index, domain, VALID_ACL_DOMAIN)
            continue
        lines.append("acl whitelist domain %s" % domain)
    for key, clause in (("whitelist_senders", "from"), ("whitelist_recipients", "rcpt")):
        for index, address in enumerate(_list(key, settings.get(key), errors)):
            if not is_acl_address(address):
                errors.add("milter_greylist_%s[%d]" % (key, index), address, VALID_ACL_ADDRESS)
                continue
            lines.append("acl whitelist %s %s" % (clause, address))
    for index, line in enumerate(_list("extra_lines", settings.get("extra_lines"), errors)):
        if errors.check(V.check_message, line, "milter_greylist_extra_lines[%d]" % index):
            lines.append(line)
    by_default = settings.get("greylist_by_default", True)
    if not isinstance(by_default, bool):
        errors.add("milter_greylist_greylist_by_default", by_default, "a boolean")
        by_default = True
    lines.append("acl greylist default" if by_default else "acl whitelist default")
    return {"lines": lines, "errors": list(errors)}


def milter_greylist_flags(on_failure):
    """sendmail's F= flag for what happens to mail when the milter is down: 'pass' -> '', 'tempfail' -> 'T', 'reject' -> 'R'."""
    flags = {"pass": "", "tempfail": "T", "reject": "R"}
    if on_failure not in flags:
        raise ValueError(V.problem("milter_greylist_on_failure", on_failure, "pass, tempfail or reject"))
    return flags[on_failure]


class FilterModule:
    """homelab.mailserver milter-greylist filters."""

    def filters(self):
        return {
            "milter_greylist_conf": milter_greylist_conf,
            "milter_greylist_flags": milter_greylist_flags,
        }

# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks for the sendmail role's structured variables, run before anything changes."""

from __future__ import annotations

import ipaddress
import re

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

_ZONE_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_MILTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SOCKET_RE = re.compile(r"^((local|unix):/\S+|inet6?:\d{1,5}@[A-Za-z0-9.:_\[\]-]+)$")
_TIMEOUT_RE = re.compile(r"^\d+[smhd]?$")
_MACRO_RE = re.compile(r"^([A-Za-z_]|\{[A-Za-z0-9_]+\})$")
MILTER_STAGES = ("connect", "helo", "envfrom", "envrcpt", "data", "eoh", "eom")
_MILTER_KEYS = ("name", "socket", "flags", "timeouts", "macros")
_DNSBL_KEYS = ("zone", "message", "tempfail")


def m4_problems(text):
    """Return a description of unbalanced m4 quotes or parentheses in text, or None."""
    depth = 0
    parens = 0
    for index, char in enumerate(text):
        if char == "`":
            depth += 1
        elif char == "'" and depth > 0:
            depth -= 1
        elif depth == 0 and char == "(":
            parens += 1
        elif depth == 0 and char == ")":
            parens -= 1
            if parens < 0:
                return "closing parenthesis without an opening one at character %d" % (index + 1)
    if depth:
        return "%d m4 quote(s) opened with ` and never closed with '" % depth
    if parens:
        return "%d parenthesis(es) not closed" % parens
    return None


def _is_str(value):
    return isinstance(value, str) and not isinstance(value, bool)


def _dict_items(name, value, allowed, errors):
    """Yield (index, 'name[index]', entry) for each dictionary of a list, reporting what is not one."""
    if not isinstance(value, list):
        errors.append("%s must be a list of {%s}" % (name, ", ".join(allowed)))
        return
    for index, entry in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(entry, dict):
            errors.append(f"{where} must be a dictionary with the keys {', '.join(allowed)}, got {entry!r}")
            continue
        for key in entry:
            if key not in allowed:
                errors.append("{}: unknown key '{}'; allowed keys: {}".format(where, key, ", ".join(allowed)))
        yield index, where, entry


def _check_dnsbl(name, value, errors):
    for _index, where, entry in _dict_items(name, value, _DNSBL_KEYS, errors):
        zone = entry.get("zone")
        if not _is_str(zone) or not _ZONE_RE.match(zone):
            errors.append(f"{where}: 'zone' must be a DNS zone such as bl.spamcop.net, got {zone!r}")
        message = entry.get("message")
        if message is not None:
            if not _is_str(message) or "\n" in message:
                errors.append(f"{where}: 'message' must be a one-line string")
            else:
                problem = m4_problems(message)
                if problem:
                    errors.append(f"{where}: 'message' has {problem}")
        if "tempfail" in entry and not isinstance(entry["tempfail"], bool):
            errors.append(f"{where}: 'tempfail' must be a boolean")


def _check_milters(name, value, errors):
    seen = {}
    for index, where, entry in _dict_items(name, value, _MILTER_KEYS, errors):
        mname = entry.get("name")
        if not _is_str(mname) or not _MILTER_NAME_RE.match(mname):
            errors.append(f"{where}: 'name' must be letters, digits, '-' or '_', got {mname!r}")
        elif mname in seen:
            errors.append("%s: milter '%s' is already defined by %s[%d]" % (where, mname, name, seen[mname]))
        else:
            seen[mname] = index
        socket = entry.get("socket")
        if not _is_str(socket) or not _SOCKET_RE.match(socket):
            errors.append(f"{where}: 'socket' must look like local:/path or inet:PORT@HOST, got {socket!r}")
        flags = entry.get("flags", "")
        if flags is None:
            flags = ""
        if flags not in ("", "R", "T", "4"):
            errors.append(f"{where}: 'flags' must be '', 'R' (reject), 'T' (tempfail) or '4', got {flags!r}")
        timeouts = entry.get("timeouts", {}) or {}
        if not isinstance(timeouts, dict):
            errors.append(f"{where}: 'timeouts' must be a dictionary such as {{S: 10s, R: 10s, E: 5m}}")
        else:
            for key, tval in timeouts.items():
                if key not in ("C", "S", "R", "E"):
                    errors.append(f"{where}: timeouts key '{key}' must be one of C, S, R, E")
                if not _TIMEOUT_RE.match(str(tval)):
                    errors.append(f"{where}: timeouts {key}={tval!r} must be a number with an optional s, m, h or d")
        macros = entry.get("macros", {}) or {}
        if not isinstance(macros, dict):
            errors.append(f"{where}: 'macros' must be a dictionary of stage to list of macros")
            continue
        for stage, names in macros.items():
            if stage not in MILTER_STAGES:
                errors.append("{}: macros stage '{}' must be one of {}".format(where, stage, ", ".join(MILTER_STAGES)))
            if not isinstance(names, list):
                errors.append(f"{where}: macros.{stage} must be a list such as ['j', '{{if_addr}}']")
                continue
            for macro in names:
                if not _is_str(macro) or not _MACRO_RE.match(macro):
                    errors.append(f"{where}: macros.{stage}: {macro!r} is not a macro name (one character or {{name}})")


def _check_raw(name, value, errors):
    if not isinstance(value, list):
        errors.append(f"{name} must be a list of sendmail.mc lines")
        return
    for index, line in enumerate(value):
        if not _is_str(line):
            errors.append("%s[%d] must be a string, got %r" % (name, index, line))
            continue
        problem = m4_problems(line)
        if problem:
            errors.append("%s[%d] %r has %s" % (name, index, line, problem))


def _check_listen(name, value, errors):
    if not isinstance(value, list):
        errors.append(f"{name} must be a list of IP addresses")
        return
    for index, addr in enumerate(value):
        try:
            ipaddress.ip_address(str(addr))
        except ValueError:
            errors.append("%s[%d]: %r is not an IP address" % (name, index, addr))


def _check_recipes(name, value, errors):
    """Each procmail recipe block needs a recipe start line (:0 with optional flags)."""
    if not isinstance(value, list):
        errors.append(f"{name} must be a list of procmail recipe blocks (strings)")
        return
    for index, recipe in enumerate(value):
        if not _is_str(recipe):
            errors.append("%s[%d] must be a string (a procmail recipe block), got %r" % (name, index, recipe))
            continue
        starts = [line for line in recipe.splitlines() if line.strip().startswith(":0")]
        if not starts:
            errors.append(
                "%s[%d] has no recipe start line; a procmail recipe begins with ':0' and its flags, "
                "e.g. ':0fw' followed by '| /usr/bin/spamc'" % (name, index)
            )


def sendmail_config_errors(config):
    """Return a list of error messages for the given sendmail variables."""
    errors = []
    if not isinstance(config, dict):
        return ["sendmail_config_errors: input must be a dictionary"]
    mode = config.get("sendmail_mode")
    if "sendmail_mode" in config and mode not in ("server", "client"):
        errors.append(f"sendmail_mode must be 'server' or 'client', got {mode!r}")
    if mode == "client" and not config.get("sendmail_smart_host"):
        errors.append("sendmail_smart_host is required when sendmail_mode is 'client' (the mail server to relay through)")
    if "sendmail_dnsbl" in config:
        _check_dnsbl("sendmail_dnsbl", config["sendmail_dnsbl"], errors)
    if "sendmail_milters" in config:
        _check_milters("sendmail_milters", config["sendmail_milters"], errors)
    for name in ("sendmail_mc_raw_features", "sendmail_mc_raw_end"):
        if name in config:
            _check_raw(name, config[name], errors)
    if "sendmail_procmail_recipes" in config:
        _check_recipes("sendmail_procmail_recipes", config["sendmail_procmail_recipes"], errors)
    if "sendmail_listen_addresses" in config:
        _check_listen("sendmail_listen_addresses", config["sendmail_listen_addresses"], errors)
    _check_queue(config, errors)
    return errors


DELIVERY_MODES = ("background", "interactive", "queue", "deferred")
QUEUE_INTERVAL = re.compile(r"^p?[0-9]+[smhdw]?$")


def _check_queue(config, errors):
    """The delivery mode and queue runner variables (their null defaults cannot be argument_specs choices)."""
    mode = config.get("sendmail_delivery_mode")
    if mode is not None and mode not in DELIVERY_MODES:
        errors.append("sendmail_delivery_mode must be one of %s (or null for sendmail's default), got %r"
                      % (", ".join(DELIVERY_MODES), mode))
    for name, minimum in (("sendmail_max_queue_children", 0), ("sendmail_max_runners_per_queue", 1)):
        value = config.get(name)
        if value is None:
            continue
        if _is_str(value) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            errors.append("%s must be an integer of at least %d (or null for sendmail's default), got %r"
                          % (name, minimum, value))
    interval = config.get("sendmail_queue_interval")
    if interval is None:
        return
    if not _is_str(interval) or not QUEUE_INTERVAL.match(interval):
        errors.append("sendmail_queue_interval must be digits with an optional unit s, m, h, d or w, and 'p' in "
                      "front for persistent queue runners (e.g. '10m', 'p5s'), got %r" % (interval,))
    elif config.get("os_family") not in (None, "", "Debian"):
        errors.append("sendmail_queue_interval is applied through Debian's /etc/mail/sendmail.conf; on %s set the "
                      "daemon's queue interval in its service configuration and leave sendmail_queue_interval null"
                      % config["os_family"])


def sendmail_milter_macros(milters):
    """Union of the milters' macros per stage: {stage: 'j, {if_addr}'} for stages that have any."""
    out = {}
    for milter in milters or []:
        for stage in MILTER_STAGES:
            for macro in (milter.get("macros") or {}).get(stage, []) or []:
                out.setdefault(stage, [])
                if macro not in out[stage]:
                    out[stage].append(macro)
    return {stage: ", ".join(out[stage]) for stage in MILTER_STAGES if stage in out}


def sendmail_m4_origin(mc_text, line_number):
    """Name the source of line N of a rendered sendmail.mc from its nearest 'dnl # from:' marker."""
    lines = mc_text.splitlines()
    try:
        line_number = int(line_number)
    except (TypeError, ValueError):
        return ""
    if line_number < 1 or line_number > len(lines):
        return ""
    origin = "the role's template"
    for line in reversed(lines[:line_number]):
        if line.startswith("dnl # from: "):
            origin = line[len("dnl # from: "):].strip()
            break
    return "sendmail.mc line %d %r comes from %s" % (line_number, lines[line_number - 1], origin)


class FilterModule:
    """homelab.mailserver sendmail checks."""

    def filters(self):
        return {
            "sendmail_config_errors": sendmail_config_errors,
            "sendmail_milter_macros": sendmail_milter_macros,
            "sendmail_m4_origin": sendmail_m4_origin,
        }

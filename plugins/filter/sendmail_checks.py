# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks for the sendmail role's structured variables, run before anything changes."""

from __future__ import annotations

import re

from ansible_collections.homelab.mailserver.plugins.module_utils import _sendmail_validate as M
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

MILTER_STAGES = ("connect", "helo", "envfrom", "envrcpt", "data", "eoh", "eom")
_MILTER_KEYS = ("name", "socket", "flags", "timeouts", "macros")
_DNSBL_KEYS = ("zone", "message", "tempfail")


def m4_problems(text):
    """Return a description of unbalanced m4 quotes or parentheses in one sendmail.mc line, or None.

    Outside quotes, '#' starts an m4 comment that runs to the end of the line: what follows it is not
    read as quotes or parentheses (a ')' there does not close anything).
    """
    depth = 0
    parens = 0
    for index, char in enumerate(text):
        if char == "`":
            depth += 1
        elif char == "'" and depth > 0:
            depth -= 1
        elif depth == 0 and char == "#":
            break
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


def _dict_items(name, value, allowed, errors):
    """Yield (index, 'name[index]', entry) for each dictionary of a list, reporting what is not one."""
    if not isinstance(value, list):
        errors.add(name, value, "a list of {%s}" % ", ".join(allowed))
        return
    for index, entry in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(entry, dict):
            errors.add(where, entry, f"a dictionary with the keys {', '.join(allowed)}")
            continue
        for key in entry:
            if key not in allowed:
                errors.add(where + " key", key, "one of the keys " + ", ".join(allowed))
        yield index, where, entry


def _m4_line(errors, where, text):
    """TEXT (a string) must be one sendmail.mc line with balanced m4 quotes and parentheses."""
    if not errors.check(lambda v, w: V.check_message(v, w) and V.problem(w, v, VALID_RAW_LINE), text, where):
        return
    problem = m4_problems(text)
    if problem:
        errors.add(where, text, f"text with balanced m4 quotes and parentheses (it has {problem})")


# The values the templates put inside m4 quotes (sendmail.mc, submit.mc): each kind, then the m4 rule.
IN_M4 = {kind: V.in_m4(V.KINDS[kind][1]) for kind in (
    "dnsbl_zone", "smtp_text", "milter_name", "milter_socket", "duration", "macro_name", "ip_address", "smart_host",
    "abs_path", "sasl_mechanism", "mail_domain", "user_name", "cipher_list", "relay_host")}
VALID_RAW_LINE = "one sendmail.mc line, without newlines or other control characters"
_M4_LISTS = {
    "sendmail_auth_mechanisms": ("sasl_mechanism", "a non-empty list of SASL mechanisms (PLAIN, LOGIN, ...)"),
    "sendmail_exposed_users": ("user_name", "a list of user names (root)"),
    "sendmail_masquerade_domains": ("mail_domain", "a list of mail domains"),
    "sendmail_relay_auth_mechanisms": ("sasl_mechanism", "a non-empty list of SASL mechanisms (PLAIN, LOGIN, ...)"),
}
_ALWAYS = object()  # a variable that is always rendered: no value of it means "not set"
# name -> (kind, the value that means "not set": the template renders nothing of it, or the platform's default)
_M4_SCALARS = {
    "sendmail_smart_host": ("smart_host", ""),
    "sendmail_relay_host": ("relay_host", ""),
    "sendmail_masquerade_as": ("mail_domain", ""),
    "sendmail_tls_cert": ("abs_path", _ALWAYS),
    "sendmail_tls_key": ("abs_path", _ALWAYS),
    "sendmail_tls_ca_file": ("abs_path", ""),
    "sendmail_connection_rate_window_size": ("duration", None),
    "sendmail_queue_return": ("duration", None),
    "sendmail_queue_warn": ("duration", None),
    "sendmail_tls_cipher_list": ("cipher_list", _ALWAYS),
}
# whole numbers: name -> (minimum, maximum, null allowed)
_NUMBERS = {
    "sendmail_smtp_port": (1, 65535, False),
    "sendmail_submission_port": (1, 65535, False),
    "sendmail_smtps_port": (1, 65535, False),
    "sendmail_relay_port": (1, 65535, False),
    "sendmail_relay_tunnel_port": (1, 65535, False),
    "sendmail_max_message_size": (0, None, False),
    "sendmail_listen_queue_size": (1, 65535, True),
    "sendmail_max_daemon_children": (0, None, True),
    "sendmail_queue_la": (0, None, True),
    "sendmail_refuse_la": (0, None, True),
    "sendmail_connection_rate_throttle": (0, None, True),
    "sendmail_client_rate_limit": (0, None, False),
    "sendmail_client_connection_limit": (0, None, False),
    "sendmail_procmail_locksleep": (0, None, False),
    "sendmail_max_queue_children": (0, None, True),
    "sendmail_max_runners_per_queue": (1, None, True),
}
LOCAL_MAILBOXES = ("", "mbox", "maildir")


def _check_client_limits_exempt(value, errors):
    """Each entry becomes the access keys ClientRate:ENTRY and ClientConn:ENTRY: an address or network."""
    name = "sendmail_client_limits_exempt"
    if not isinstance(value, list):
        errors.add(name, value, "a list of client addresses or networks (127.0.0.1, 192.168.1, IPv6:2001:db8)")
        return
    for index, entry in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(entry, str) or not (V.is_ip_address(entry) and ":" not in entry
                                              or re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", entry)
                                              or re.fullmatch(r"IPv6:[0-9A-Fa-f:]+", entry)):
            errors.add(where, entry, "a client address or network as an access map key: 127.0.0.1, 192.168.1 "
                       "(a /24 and the like by its leading octets), IPv6:2001:db8")
            continue
        errors.check(V.check_access_key, "ClientRate:" + entry, where)


def _check_dnsbl(name, value, errors):
    for _index, where, entry in _dict_items(name, value, _DNSBL_KEYS, errors):
        errors.check(IN_M4["dnsbl_zone"], entry.get("zone"), where + ".zone")
        message = entry.get("message")
        if message is not None and message != "":
            errors.check(IN_M4["smtp_text"], message, where + ".message")
        if "tempfail" in entry and not isinstance(entry["tempfail"], bool):
            errors.add(where + ".tempfail", entry["tempfail"], "a boolean")


def _check_m4_scalars(config, errors):
    for name, (kind, unset) in _M4_SCALARS.items():
        if name in config and (unset is _ALWAYS or config[name] != unset):
            errors.check(IN_M4[kind], config[name], name)


def _check_m4_lists(config, errors):
    for name, (kind, valid) in _M4_LISTS.items():
        if name not in config:
            continue
        value = config[name]
        if not isinstance(value, list) or (name.endswith("_auth_mechanisms") and not value):
            errors.add(name, value, valid)
            continue
        for index, item in enumerate(value):
            errors.check(IN_M4[kind], item, f"{name}[{index}]")


def _number(value):
    """VALUE as an int when it is a whole number written with 0-9 (an int, or text of digits only), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if V.is_str(value) and V.NUMBER_RE.fullmatch(value) else None


def _check_numbers(config, errors):
    for name, (minimum, maximum, nullable) in _NUMBERS.items():
        if name not in config or (nullable and config[name] is None):
            continue
        value = config[name]
        number = _number(value)
        if number is None or number < minimum or (maximum is not None and number > maximum):
            valid = "an integer %s" % (f"{minimum}-{maximum}" if maximum is not None else f"of at least {minimum}")
            errors.add(name, value, valid + ", written with the digits 0-9 only" + (" (or null for the default)" if nullable else ""))


def _check_milters(name, value, errors):
    seen = {}
    for index, where, entry in _dict_items(name, value, _MILTER_KEYS, errors):
        mname = entry.get("name")
        if errors.check(IN_M4["milter_name"], mname, where + ".name"):
            if mname in seen:
                errors.add(where + ".name", mname, "a name of its own: milter '%s' is already defined by %s[%d]" % (
                    mname, name, seen[mname]))
            else:
                seen[mname] = index
        errors.check(IN_M4["milter_socket"], entry.get("socket"), where + ".socket")
        flags = entry.get("flags", "")
        if flags is None:
            flags = ""
        if flags not in ("", "R", "T", "4"):
            errors.add(where + ".flags", flags, "'', 'R' (reject), 'T' (tempfail) or '4'")
        timeouts = entry.get("timeouts", {}) or {}
        if not isinstance(timeouts, dict):
            errors.add(where + ".timeouts", timeouts, "a dictionary such as {S: 10s, R: 10s, E: 5m}")
        else:
            for key, tval in timeouts.items():
                if key not in ("C", "S", "R", "E"):
                    errors.add(where + ".timeouts key", key, "one of C, S, R, E")
                errors.check(IN_M4["duration"], str(tval) if isinstance(tval, int) and not isinstance(tval, bool) else tval,
                             f"{where}.timeouts.{key}")
        macros = entry.get("macros", {}) or {}
        if not isinstance(macros, dict):
            errors.add(where + ".macros", macros, "a dictionary of stage to list of macros")
            continue
        for stage, names in macros.items():
            if stage not in MILTER_STAGES:
                errors.add(where + ".macros stage", stage, "one of " + ", ".join(MILTER_STAGES))
            if not isinstance(names, list):
                errors.add(f"{where}.macros.{stage}", names, "a list such as ['j', '{if_addr}']")
                continue
            for position, macro in enumerate(names):
                errors.check(IN_M4["macro_name"], macro, f"{where}.macros.{stage}[{position}]")


def _check_raw(name, value, errors):
    if not isinstance(value, list):
        errors.add(name, value, "a list of sendmail.mc lines")
        return
    for index, line in enumerate(value):
        where = "%s[%d]" % (name, index)
        if not V.is_str(line):
            errors.add(where, line, "a string (one sendmail.mc line)")
            continue
        _m4_line(errors, where, line)


def _check_local_mailer(name, value, errors):
    """{path, args}: a program and its argument vector as sendmail.mc's FEATURE(local_procmail) takes them;
    {lmtp_socket}: an LMTP server's Unix socket, as FEATURE(local_lmtp) with [IPC] and FILE takes it."""
    if value in ({}, None):
        return
    if isinstance(value, dict) and set(value) == {"lmtp_socket"}:
        errors.check(IN_M4["abs_path"], value["lmtp_socket"], name + ".lmtp_socket")
        return
    if not isinstance(value, dict) or set(value) != {"path", "args"}:
        errors.add(name, value, "{}, a dictionary with exactly the keys path and args "
                   "(e.g. {path: /usr/lib/dovecot/dovecot-lda, args: 'dovecot-lda -e -d $u'}), or one with the key "
                   "lmtp_socket alone (e.g. {lmtp_socket: /run/dovecot/lmtp})")
        return
    errors.check(IN_M4["abs_path"], value["path"], name + ".path")
    args = value["args"]
    if errors.check(V.check_m4_text, args, name + ".args") and "$u" not in args.split():
        errors.add(name + ".args", args, "the program's name and arguments with $u, the recipient's user name, as a word")


def _check_listen(name, value, errors):
    if not isinstance(value, list):
        errors.add(name, value, "a list of IP addresses")
        return
    for index, addr in enumerate(value):
        errors.check(IN_M4["ip_address"], addr, "%s[%d]" % (name, index))


def _check_recipes(name, value, errors):
    """Each procmail recipe block needs a recipe start line (:0 with optional flags)."""
    if not isinstance(value, list):
        errors.add(name, value, "a list of procmail recipe blocks (strings)")
        return
    for index, recipe in enumerate(value):
        where = "%s[%d]" % (name, index)
        if not V.is_str(recipe):
            errors.add(where, recipe, "a string (a procmail recipe block)")
            continue
        starts = [line for line in recipe.splitlines() if line.strip().startswith(":0")]
        if not starts:
            errors.add(where, recipe, "a procmail recipe: it has no recipe start line; a recipe begins with ':0' and "
                       "its flags, e.g. ':0fw' followed by '| /usr/bin/spamc'")


INCLUDE = ":include:"
VALID_INCLUDE_FILES = "a dictionary of list file path (absolute) to a list of members"
VALID_LIST_MEMBER = ("a member a list file can hold: a local user, an alias or user@domain; |program, /file and "
                     ":include:/path members go into an alias, and a line starting with '#' is a comment to sendmail")


def _alias_members(aliases):
    """(alias name, member, member text without quotes) of ALIASES: the domain model's [{name, members}] or a dict,
    members a list or a comma string."""
    if isinstance(aliases, dict):
        aliases = [{"name": name, "members": members} for name, members in aliases.items()]
    for entry in aliases if isinstance(aliases, list) else []:
        if not isinstance(entry, dict):
            continue
        members = entry.get("members")
        if isinstance(members, str):
            members = members.split(",")
        for member in members if isinstance(members, list) else []:
            yield entry.get("name"), member, member.strip().strip('"').strip() if isinstance(member, str) else ""


def include_paths(aliases):
    """{path: [alias names]} of the :include: members of ALIASES (see _alias_members)."""
    paths = {}
    for name, _member, text in _alias_members(aliases):
        if text.startswith(INCLUDE):
            paths.setdefault(text[len(INCLUDE):].strip(), []).append(str(name))
    return paths


def _check_include_files(name, value, aliases, errors):
    """Each list file: an absolute path an :include: alias of the host reads (when ALIASES is given), and members."""
    if not isinstance(value, dict):
        errors.add(name, value, VALID_INCLUDE_FILES)
        return
    used = include_paths(aliases) if aliases is not None else None
    for path, members in value.items():
        where = f"{name}[{path!r}]"
        if not errors.check(V.check_abs_path, path, name + " key"):
            continue
        if path.endswith("/") or any(part in (".", "..") for part in path.split("/")):
            errors.add(name + " key", path, "a file's path: no trailing '/' and no '.' or '..' component")
            continue
        if used is not None and path not in used:
            known = ", ".join(sorted(used)) or "none"
            errors.add(name + " key", path, "the path of an :include: alias member of this host (\":include:%s\" "
                       "in sendmail_aliases or a domain's aliases); the host's list files: %s" % (path, known))
        if not errors.check(M.alias_members, path, members, where):
            continue
        for index, member in enumerate(members):
            text = member.strip().strip('"')
            if text.startswith(("|", "/", INCLUDE, "#")):
                errors.add(f"{where}[{index}]", member, VALID_LIST_MEMBER)


TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
# alias member kinds that run a program or write a file as root's delegate: each needs sendmail_aliases_allow
SPECIAL_MEMBERS = (("program", "|", "|command"), ("file", "/", "/path"), ("include", INCLUDE, ":include:/path"))


def _check_tls(config, errors):
    """The TLS policy: a known oldest version, and a client-certificate CA file that is no public bundle."""
    version = config.get("sendmail_tls_min_version", TLS_VERSIONS[0])
    if version not in TLS_VERSIONS:
        errors.add("sendmail_tls_min_version", version, " or ".join(TLS_VERSIONS))
    ca_file = config.get("sendmail_tls_ca_file")
    if ca_file and ca_file in (config.get("tls_public_bundles") or ()):
        errors.add("sendmail_tls_ca_file", ca_file,
                   "a file of the CA certificates that sign the client certificates allowed to relay, or empty; not "
                   "the public CA bundle, whose every certificate holder would pass a CERTISSUER: relay entry")


def _check_special_members(config, errors):
    """|program, /file and :include: members of the host's aliases only where sendmail_aliases_allow lists the kind."""
    allowed = config.get("sendmail_aliases_allow", [])
    kinds = [kind for kind, _prefix, _form in SPECIAL_MEMBERS]
    if not isinstance(allowed, list) or any(item not in kinds for item in allowed):
        errors.add("sendmail_aliases_allow", allowed, "a list of: " + ", ".join(kinds))
        return
    sources = config.get("alias_sources") or {}
    for name, member, text in _alias_members(config.get("aliases")):
        for kind, prefix, form in SPECIAL_MEMBERS:
            if text.startswith(prefix) and kind not in allowed:
                errors.add("%s: alias %s" % (sources.get(name, "sendmail_aliases"), name), member,
                           "an address, user or alias; a %s member runs as sendmail's delegate "
                           "and needs %r in sendmail_aliases_allow" % (form, kind))
                break


def sendmail_config_errors(config):
    """Return a list of error messages for the given sendmail variables."""
    errors = V.Problems()
    if not isinstance(config, dict):
        return [V.problem("sendmail_config_errors input", config, "a dictionary of the sendmail variables")]
    mode = config.get("sendmail_mode")
    if "sendmail_mode" in config and mode not in ("server", "client", "backup_mx"):
        errors.add("sendmail_mode", mode, "'server', 'client' or 'backup_mx'")
    if mode == "backup_mx":
        _check_backup_mx(config, errors)
    if mode == "client" and not config.get("sendmail_smart_host") and not config.get("sendmail_relay_host"):
        errors.add("sendmail_smart_host", config.get("sendmail_smart_host"),
                   "required when sendmail_mode is 'client' (the mail server to relay through), "
                   "unless sendmail_relay_host names the provider's relay")
    _check_relay(config, errors)
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
    if "sendmail_client_limits_exempt" in config:
        _check_client_limits_exempt(config["sendmail_client_limits_exempt"], errors)
    for name in ("sendmail_local_mailbox", "sendmail_dependent_local_mailbox"):  # a sendmail.mc comment, procmailrc
        if name in config and config[name] not in LOCAL_MAILBOXES:
            errors.add(name, config[name], "'', 'mbox' or 'maildir'")
    for name in ("sendmail_local_mailer", "sendmail_dependent_local_mailer"):
        if name in config:
            _check_local_mailer(name, config[name], errors)
    if "sendmail_include_files" in config:
        _check_include_files("sendmail_include_files", config["sendmail_include_files"], config.get("aliases"), errors)
    if config.get("sendmail_smtps_enabled") is True and config.get("sendmail_tls_enabled") is False:
        errors.add("sendmail_smtps_enabled", True, "false while sendmail_tls_enabled is false: port 465 speaks TLS "
                   "from the first byte, which needs the certificate of sendmail_tls_*")
    if "sendmail_tls_min_version" in config or "sendmail_tls_ca_file" in config:
        _check_tls(config, errors)
    if "sendmail_aliases_allow" in config:
        _check_special_members(config, errors)
    _check_m4_scalars(config, errors)
    _check_m4_lists(config, errors)
    _check_numbers(config, errors)
    _check_queue(config, errors)
    return list(errors)


RELAY_TLS_MODES = ("starttls", "implicit")


def _check_backup_mx(config, errors):
    """backup_mx mode: a primary of this inventory, the host its mail goes to, no smart host or relay."""
    primary = config.get("sendmail_backup_mx_primary", "")
    if not primary:
        errors.add("sendmail_backup_mx_primary", primary, "the inventory name of the primary mail server, required "
                   "when sendmail_mode is 'backup_mx' (its mailserver_domain_* variables name the domains queued here)")
    elif config.get("backup_mx_primary_in_inventory") is False:
        errors.add("sendmail_backup_mx_primary", primary, "a host of this inventory (the primary mail server whose "
                   "domains this backup MX queues for)")
    host = config.get("sendmail_backup_mx_primary_host", "")
    if host:
        errors.check(V.check_hostname, host, "sendmail_backup_mx_primary_host")
    for name in ("sendmail_smart_host", "sendmail_relay_host"):
        if config.get(name):
            errors.add(name, config[name], "empty when sendmail_mode is 'backup_mx': a backup MX hands its mail to the "
                       "primary (sendmail_backup_mx_primary) and sends nothing else")


def _check_relay(config, errors):
    """The provider's relay: host, TLS mode, and a login (user and password together, never shown)."""
    host = config.get("sendmail_relay_host", "")
    if not host:
        return
    if config.get("sendmail_smart_host"):
        errors.add("sendmail_smart_host", config.get("sendmail_smart_host"),
                   "empty while sendmail_relay_host is set: the provider's relay is the smart host (one of the two)")
    tls = config.get("sendmail_relay_tls", RELAY_TLS_MODES[0])
    if tls not in RELAY_TLS_MODES:
        errors.add("sendmail_relay_tls", tls, "'starttls' (port 587: STARTTLS, required before the login) or "
                   "'implicit' (port 465: TLS from the first byte, through a local stunnel client)")
    user = config.get("sendmail_relay_user", "")
    password = config.get("sendmail_relay_password", "")
    if user:
        errors.check(V.check_sasl_login, user, "sendmail_relay_user")
        errors.check(V.check_secret, password, "sendmail_relay_password")
    elif password:
        errors.append("sendmail_relay_password: (value not shown) is set while sendmail_relay_user is empty: "
                      "set the login name too, or leave both empty for a relay that takes mail without a login")
    ca_file = config.get("sendmail_relay_ca_file", "")
    if ca_file:
        errors.check(V.check_abs_path, ca_file, "sendmail_relay_ca_file")


DELIVERY_MODES = ("background", "interactive", "queue", "deferred")


def _check_queue(config, errors):
    """The delivery mode and queue runner variables (their null defaults cannot be argument_specs choices)."""
    mode = config.get("sendmail_delivery_mode")
    if mode is not None and mode not in DELIVERY_MODES:
        errors.add("sendmail_delivery_mode", mode,
                   "one of %s (or null for sendmail's default)" % ", ".join(DELIVERY_MODES))
    interval = config.get("sendmail_queue_interval")
    if interval is None:
        return
    if not errors.check(V.check_queue_interval, interval, "sendmail_queue_interval"):
        return
    if config.get("os_family") not in (None, "", "Debian"):
        errors.add("sendmail_queue_interval", interval,
                   "null on %s: the role applies it through Debian's /etc/mail/sendmail.conf; on %s set the daemon's "
                   "queue interval in its service configuration" % (config["os_family"], config["os_family"]))


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

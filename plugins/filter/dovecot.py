# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the dovecot role's variables into dovecot.conf for Dovecot 2.3 or 2.4."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

# Mozilla's "intermediate" TLS configuration (ciphers for TLS 1.2; TLS 1.3 suites are OpenSSL's).
MOZILLA_INTERMEDIATE = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)

# The chapter's two mail_location lines (2.3 syntax), one per mailbox format.
MAIL_LOCATIONS = {
    "mbox": "mbox:~/mail:INBOX=/var/mail/%u",
    "maildir": "maildir:~/Maildir",
}
# The same locations as Dovecot 2.4 settings.
MAIL_LOCATIONS_24 = {
    "mbox": {"mail_driver": "mbox", "mail_path": "~/mail", "mail_inbox_path": "/var/mail/%{user}"},
    "maildir": {"mail_driver": "maildir", "mail_path": "~/Maildir"},
}

PLAINTEXT_WARNING = (
    "dovecot_allow_plaintext_auth is true: Dovecot accepts passwords on POP3 (110) and IMAP (143) "
    "connections without TLS, readable by anyone on the network path (the chapter's "
    "disable_plaintext_auth = no). Prefer POP3S/IMAPS or STARTTLS, or trust only your own networks "
    "with dovecot_login_trusted_networks."
)

PROTOCOLS = ("imap", "pop3")
# listener name -> (protocol, TLS from the first byte)
LISTENERS = {"imap": ("imap", False), "imaps": ("imap", True), "pop3": ("pop3", False), "pop3s": ("pop3", True)}
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

# Settings the role renders itself: dovecot_settings may not set them (name -> variable to use).
_OWNED = {
    "protocols": "dovecot_protocols",
    "listen": "dovecot_listen",
    "ssl": "dovecot_ssl_required",
    "ssl_cert": "dovecot_ssl_cert",
    "ssl_key": "dovecot_ssl_key",
    "ssl_dh": "the platform's vars (__dovecot_ssl_dh)",
    "ssl_server_cert_file": "dovecot_ssl_cert",
    "ssl_server_key_file": "dovecot_ssl_key",
    "ssl_server_dh_file": "the platform's vars (__dovecot_ssl_dh)",
    "ssl_min_protocol": "dovecot_ssl_min_protocol",
    "ssl_cipher_list": "dovecot_ssl_cipher_list",
    "ssl_prefer_server_ciphers": "dovecot_ssl_cipher_list",
    "ssl_server_prefer_ciphers": "dovecot_ssl_cipher_list",
    "disable_plaintext_auth": "dovecot_allow_plaintext_auth",
    "auth_allow_cleartext": "dovecot_allow_plaintext_auth",
    "auth_mechanisms": "dovecot_auth_mechanisms",
    "login_trusted_networks": "dovecot_login_trusted_networks",
    "mail_location": "dovecot_mailbox_format",
    "mail_driver": "dovecot_mailbox_format",
    "mail_path": "dovecot_mailbox_format",
    "mail_inbox_path": "dovecot_mailbox_format",
    "auth_verbose": "dovecot_auth_verbose",
    "auth_debug": "dovecot_auth_debug",
    "mail_debug": "dovecot_mail_debug",
    "verbose_ssl": "dovecot_verbose_ssl",
    "log_debug": "dovecot_verbose_ssl",
    "log_path": "dovecot_log_path",
    "dovecot_config_version": "the role (it follows the installed version)",
    "dovecot_storage_version": "the role (it follows the installed version)",
}

_SETTING_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_MECH_RE = re.compile(r"^[A-Za-z0-9-]+$")
_SUBJECT_KEYS = ("C", "ST", "L", "O", "OU", "CN", "emailAddress")
_ORIGIN_RE = re.compile(r"^\s*# from: (.+)$")


def syntax_of(version):
    """'2.3' or '2.4' for a Dovecot version string; an error for what the role cannot configure."""
    match = re.match(r"^\s*(\d+)\.(\d+)", str(version or ""))
    if not match:
        raise AnsibleFilterError(f"dovecot_config: cannot read a Dovecot version from '{version}' (expected e.g. 2.3.19 or 2.4.1)")
    major, minor = int(match.group(1)), int(match.group(2))
    if (major, minor) < (2, 3):
        raise AnsibleFilterError(f"dovecot_config: Dovecot {version} is older than 2.3, which this role does not configure")
    return "2.3" if (major, minor) == (2, 3) else "2.4"


def _yes(value):
    return "yes" if value else "no"


def _is_str(value):
    return isinstance(value, str) and not isinstance(value, bool)


def _addresses(name, value, errors, host_addresses=None):
    """A list of listen addresses from a string or a list; problems go to errors.

    With host_addresses (the host's own IP addresses), an IP address that is neither a
    wildcard, nor loopback, nor one of them is a problem too: Dovecot 2.3 and 2.4 stop
    (assertion failure) when a reload meets a listener they cannot bind.
    """
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not _is_str(item) or not item.strip():
            errors.append(f"{name}: '{item}' is not an address (use an IP address, a host name, * or ::)")
            continue
        for part in re.split(r"[\s,]+", item.strip()):
            if part in ("*", "::"):
                out.append(part)
                continue
            try:
                address = ipaddress.ip_address(part.strip("[]"))
            except ValueError:
                if not _HOST_RE.match(part):
                    errors.append(f"{name}: '{part}' is not an address (use an IP address, a host name, * or ::)")
                    continue
            else:
                if host_addresses is not None and not address.is_loopback and str(address) not in host_addresses:
                    errors.append(
                        f"{name}: {part} is not an address of this host, so Dovecot could not listen there "
                        "(a reload would stop it); the host has " + (", ".join(host_addresses) or "no address besides loopback")
                    )
                    continue
            out.append(part)
    return out


def _networks(name, value, errors):
    out = []
    for item in value or []:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            errors.append(f"{name}: '{item}' is not a network (use e.g. 192.168.1.0/24 or 127.0.0.1)")
            continue
        out.append(str(item))
    return out


def _value(value):
    """A dovecot.conf value from a YAML scalar or list."""
    if isinstance(value, bool):
        return _yes(value)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _mapping(data, name, what, errors):
    """The dictionary variable name of data ({} when unset); a problem goes to errors."""
    value = data.get(name) or {}
    if isinstance(value, dict):
        return value
    errors.append(f"{name}: give a dictionary of {what}")
    return {}


def check(data):
    """Return the list of problems with the role's variables (empty when they can be rendered)."""
    errors = []
    protocols = data.get("dovecot_protocols", list(PROTOCOLS))
    if not isinstance(protocols, list) or not protocols:
        errors.append("dovecot_protocols: give a non-empty list of imap and/or pop3")
        protocols = []
    for proto in protocols:
        if proto not in PROTOCOLS:
            errors.append(f"dovecot_protocols: '{proto}' is not a protocol this role serves (imap, pop3)")
    host_addresses = data.get("host_addresses")
    if host_addresses is not None:
        host_addresses = [str(a).split("%", maxsplit=1)[0] for a in host_addresses]
    _addresses("dovecot_listen", data.get("dovecot_listen"), errors, host_addresses)

    listeners = _mapping(data, "dovecot_listeners", "listener name (imap, imaps, pop3, pop3s) to {port, address}", errors)
    for lname, spec in listeners.items():
        where = f"dovecot_listeners.{lname}"
        if lname not in LISTENERS:
            errors.append(f"{where}: unknown listener; the listeners are imap, imaps, pop3 and pop3s")
            continue
        if not isinstance(spec, dict):
            errors.append(f"{where}: give a dictionary {{port, address}}, got {type(spec).__name__}")
            continue
        unknown = sorted(set(spec) - {"port", "address"})
        if unknown:
            errors.append(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: port, address")
        port = spec.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
            errors.append(f"{where}.port: '{port}' is not a TCP port (0-65535; 0 disables the listener)")
        _addresses(where + ".address", spec.get("address"), errors, host_addresses)
        proto = LISTENERS[lname][0]
        if proto not in protocols and port != 0:
            errors.append(f"{where}: {proto} is not in dovecot_protocols; add it there or set port: 0")

    if data.get("dovecot_mailbox_format", "mbox") not in MAIL_LOCATIONS:
        errors.append("dovecot_mailbox_format: '{}' is not mbox or maildir".format(data.get("dovecot_mailbox_format")))
    if data.get("dovecot_ssl_min_protocol", "TLSv1.2") not in TLS_VERSIONS:
        errors.append("dovecot_ssl_min_protocol: '{}' is not one of {}".format(data.get("dovecot_ssl_min_protocol"), ", ".join(TLS_VERSIONS)))
    ciphers = data.get("dovecot_ssl_cipher_list", MOZILLA_INTERMEDIATE)
    if not _is_str(ciphers) or not ciphers.strip() or any(c.isspace() for c in ciphers.strip()):
        errors.append("dovecot_ssl_cipher_list: give one OpenSSL cipher string without spaces (e.g. ECDHE-RSA-AES128-GCM-SHA256:...)")
    for key in ("ssl_cert", "ssl_key"):
        path = data.get(key)
        if not _is_str(path) or not path.startswith("/"):
            errors.append(f"dovecot_{key}: '{path}' is not an absolute path")
    for mech in data.get("dovecot_auth_mechanisms", ["plain"]) or []:
        if not _is_str(mech) or not _MECH_RE.match(mech):
            errors.append(f"dovecot_auth_mechanisms: '{mech}' is not a SASL mechanism name (plain, login, ...)")
    if not data.get("dovecot_auth_mechanisms", ["plain"]):
        errors.append("dovecot_auth_mechanisms: give at least one mechanism (plain)")
    _networks("dovecot_login_trusted_networks", data.get("dovecot_login_trusted_networks"), errors)
    log_path = data.get("dovecot_log_path", "syslog")
    if not _is_str(log_path) or not (log_path == "syslog" or log_path.startswith("/")):
        errors.append(f"dovecot_log_path: '{log_path}' is neither syslog nor an absolute path")

    for name, value in _mapping(data, "dovecot_settings", "setting name to value", errors).items():
        where = f"dovecot_settings.{name}"
        if not _is_str(name) or not _SETTING_RE.match(name):
            errors.append(f"{where}: not a Dovecot setting name (lower case letters, digits and _)")
        elif name in _OWNED:
            errors.append(f"{where}: the role renders {name} itself; set {_OWNED[name]} instead")
        if isinstance(value, dict) or value is None:
            errors.append(f"{where}: give a string, number, boolean or list, got {type(value).__name__}")
        elif "\n" in _value(value):
            errors.append(f"{where}: the value must be one line (blocks go into dovecot_extra_config)")
    extra = data.get("dovecot_extra_config", "")
    if not _is_str(extra):
        errors.append("dovecot_extra_config: give the raw configuration text as one string")
    return errors


def _listener_block(lname, spec, syntax, lines, listener_origin):
    address_key = "listen" if syntax == "2.4" else "address"
    joiner = " " if syntax == "2.4" else ", "
    lines.append(f"  # from: {listener_origin}.{lname}")
    lines.append(f"  inet_listener {lname} {{")
    addresses = _addresses("", spec.get("address"), [])
    if addresses:
        lines.append(f"    {address_key} = {joiner.join(addresses)}")
    if spec.get("port") is not None:
        lines.append("    port = {}".format(spec["port"]))
    lines.append("  }")


def dovecot_config(data, version):
    """Return the dovecot.conf text for the given variables and Dovecot version."""
    if not isinstance(data, dict):
        raise AnsibleFilterError("dovecot_config: the input must be a dictionary of the dovecot role's variables")
    syntax = syntax_of(version)
    errors = check(data)
    if errors:
        raise AnsibleFilterError("Invalid dovecot variables: " + "; ".join(errors))

    new = syntax == "2.4"
    out = []

    def setting(origin, name, value):
        out.append(f"# from: {origin}")
        out.append(f"{name} = {value}")

    if new:
        out.append("# Dovecot 2.4 requires the version header as the first setting: settings")
        out.append("# keep the defaults of this version even when a newer Dovecot is installed.")
        setting("the role (Dovecot 2.4 syntax)", "dovecot_config_version", "2.4.0")
        setting("the role (Dovecot 2.4 syntax)", "dovecot_storage_version", "2.4.0")

    protocols = data.get("dovecot_protocols", list(PROTOCOLS))
    setting("dovecot_protocols", "protocols", " ".join(protocols))
    listen = _addresses("", data.get("dovecot_listen"), [])
    if listen:
        setting("dovecot_listen", "listen", (" " if new else ", ").join(listen))

    out.append("")
    out.append("# TLS (the chapter: \"Required to make POPS / IMAPS to work with certificates\")")
    setting("dovecot_ssl_required", "ssl", "required" if data.get("dovecot_ssl_required") else "yes")
    if new:
        setting("dovecot_ssl_cert", "ssl_server_cert_file", data["ssl_cert"])
        setting("dovecot_ssl_key", "ssl_server_key_file", data["ssl_key"])
        if data.get("ssl_dh"):
            setting("the platform's DH parameters", "ssl_server_dh_file", data["ssl_dh"])
    else:
        setting("dovecot_ssl_cert", "ssl_cert", "<" + data["ssl_cert"])
        setting("dovecot_ssl_key", "ssl_key", "<" + data["ssl_key"])
        if data.get("ssl_dh"):
            setting("the platform's DH parameters", "ssl_dh", "<" + data["ssl_dh"])
    setting("dovecot_ssl_min_protocol", "ssl_min_protocol", data.get("dovecot_ssl_min_protocol", "TLSv1.2"))
    setting("dovecot_ssl_cipher_list", "ssl_cipher_list", data.get("dovecot_ssl_cipher_list", MOZILLA_INTERMEDIATE).strip())
    # Mozilla's intermediate profile lets the client pick among the (all strong) ciphers.
    if new:
        setting("dovecot_ssl_cipher_list (Mozilla intermediate: the client chooses)", "ssl_server_prefer_ciphers", "client")
    else:
        setting("dovecot_ssl_cipher_list (Mozilla intermediate: the client chooses)", "ssl_prefer_server_ciphers", "no")

    out.append("")
    out.append("# Authentication: the Linux accounts (PAM, /etc/passwd)")
    plaintext = bool(data.get("dovecot_allow_plaintext_auth"))
    if plaintext and not data.get("dovecot_ssl_required"):
        Display().warning(PLAINTEXT_WARNING)
    if new:
        setting("dovecot_allow_plaintext_auth", "auth_allow_cleartext", _yes(plaintext))
    else:
        setting("dovecot_allow_plaintext_auth", "disable_plaintext_auth", _yes(not plaintext))
    setting("dovecot_auth_mechanisms", "auth_mechanisms", " ".join(data.get("dovecot_auth_mechanisms", ["plain"])))
    trusted = _networks("", data.get("dovecot_login_trusted_networks"), [])
    if trusted:
        setting("dovecot_login_trusted_networks", "login_trusted_networks", " ".join(trusted))
    if new:
        out += ["passdb pam {", "}", "userdb passwd {", "}"]
    else:
        out += ["passdb {", "  driver = pam", "}", "userdb {", "  driver = passwd", "}"]

    out.append("")
    mailbox = data.get("dovecot_mailbox_format", "mbox")
    out.append(f"# Mailboxes: where sendmail delivers ({mailbox}); the chapter's mail_location = {MAIL_LOCATIONS[mailbox]}")
    if new:
        for name, value in MAIL_LOCATIONS_24[mailbox].items():
            setting("dovecot_mailbox_format", name, value)
    else:
        setting("dovecot_mailbox_format", "mail_location", MAIL_LOCATIONS[mailbox])
    if data.get("mail_privileged_group"):
        setting("the platform (dotlocks in the mail spool)", "mail_privileged_group", data["mail_privileged_group"])
    out.append("namespace inbox {")
    out.append("  inbox = yes")
    for folder, use in (("Drafts", "Drafts"), ("Junk", "Junk"), ("Trash", "Trash"), ("Sent", "Sent")):
        out += [f"  mailbox {folder} {{", f"    special_use = \\{use}", "  }"]
    out.append("}")

    out.append("")
    out.append("# Logging (the chapter's \"Always Start with Logging\"); syslog facility mail")
    setting("dovecot_log_path", "log_path", data.get("dovecot_log_path", "syslog"))
    setting("dovecot_auth_verbose", "auth_verbose", _yes(data.get("dovecot_auth_verbose")))
    setting("dovecot_auth_debug", "auth_debug", _yes(data.get("dovecot_auth_debug")))
    setting("dovecot_mail_debug", "mail_debug", _yes(data.get("dovecot_mail_debug")))
    if new:
        if data.get("dovecot_verbose_ssl"):
            setting("dovecot_verbose_ssl (2.4 has no verbose_ssl: debug logging of the ssl category)", "log_debug", "category=ssl")
    else:
        setting("dovecot_verbose_ssl", "verbose_ssl", _yes(data.get("dovecot_verbose_ssl")))

    settings = data.get("dovecot_settings") or {}
    if settings:
        out.append("")
        for name, value in settings.items():
            setting(f"dovecot_settings.{name}", name, _value(value))

    listeners = data.get("dovecot_listeners") or {}
    for proto in protocols:
        names = [n for n in LISTENERS if LISTENERS[n][0] == proto and n in listeners]
        if not names:
            continue
        out.append("")
        out.append(f"service {proto}-login {{")
        for lname in names:
            _listener_block(lname, listeners[lname], syntax, out, "dovecot_listeners")
        out.append("}")

    extra = (data.get("dovecot_extra_config") or "").strip()
    if extra:
        out.append("")
        out.append("# from: dovecot_extra_config")
        out.append(extra)
    return "\n".join(out) + "\n"


def dovecot_config_errors(data):
    """The list of problems with the role's variables (empty when they are fine)."""
    return check(data)


def dovecot_config_origin(text, line):
    """Name the variable behind a line of the rendered dovecot.conf (from the nearest '# from:' comment)."""
    try:
        number = int(line)
    except (TypeError, ValueError):
        return ""
    lines = str(text).splitlines()
    if not 1 <= number <= len(lines):
        return ""
    for index in range(number - 1, -1, -1):
        match = _ORIGIN_RE.match(lines[index])
        if match:
            return match.group(1)
    return ""


def dovecot_mail_location(value):
    """The mail_location in the chapter's 2.3 form.

    From a mailbox format (mbox, maildir), or from Dovecot 2.4's settings as a dictionary
    (mail_driver, mail_path, mail_inbox_path: what `doveconf mail_driver mail_path mail_inbox_path`
    shows) so that a check can compare one string on either version.
    """
    if _is_str(value):
        if value in MAIL_LOCATIONS:
            return MAIL_LOCATIONS[value]
        return value.strip()
    if not isinstance(value, dict):
        raise AnsibleFilterError("dovecot_mail_location: give a mailbox format or a dictionary of the 2.4 mail_* settings")
    if value.get("mail_location"):
        return str(value["mail_location"]).strip()
    driver = str(value.get("mail_driver") or "").strip()
    if not driver:
        return ""

    def short(path):
        path = str(path or "").strip()
        path = re.sub(r"^%\{home\}", "~", path)
        return path.replace("%{user | username}", "%n").replace("%{user}", "%u")

    location = driver + ":" + short(value.get("mail_path"))
    if value.get("mail_inbox_path"):
        location += ":INBOX=" + short(value.get("mail_inbox_path"))
    return location


class FilterModule:
    """Dovecot filters."""

    def filters(self):
        return {
            "dovecot_config": dovecot_config,
            "dovecot_config_errors": dovecot_config_errors,
            "dovecot_config_origin": dovecot_config_origin,
            "dovecot_mail_location": dovecot_mail_location,
        }

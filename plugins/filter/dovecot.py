# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the dovecot role's variables into dovecot.conf for Dovecot 2.3 or 2.4."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: one NAME.yml per filter beside this file (ansible-doc -t filter
# homelab.mailserver.NAME); a file holding several filters has no DOCUMENTATION.

# The role's variables the filters read: the role passes every one (vars/main.yml __dovecot_settings); their
# defaults live only in roles/dovecot/defaults/main.yml (the filter has no fallbacks of its own).
REQUIRED = (
    "dovecot_protocols", "dovecot_listen", "dovecot_listeners", "dovecot_ssl_required", "dovecot_ssl_min_protocol",
    "dovecot_ssl_cipher_list", "dovecot_allow_plaintext_auth", "dovecot_auth_mechanisms", "dovecot_login_trusted_networks",
    "dovecot_mailbox_format", "dovecot_auth_verbose", "dovecot_auth_debug", "dovecot_mail_debug", "dovecot_verbose_ssl",
    "dovecot_log_path", "dovecot_settings", "dovecot_extra_config", "ssl_cert", "ssl_key",
    "dovecot_lda", "dovecot_lmtp", "dovecot_quota_exceeded", "dovecot_sieve", "dovecot_managesieve", "dovecot_managesieve_port",
    "dovecot_sieve_before", "dovecot_sieve_default", "dovecot_sieve_junk", "dovecot_spam_learning", "dovecot_quota",
    "dovecot_quota_users", "dovecot_quota_warning", "dovecot_dependent_spamc", "dovecot_dependent_spam_scanned_header",
)
# Platform paths the delivery features use (vars/main.yml passes them with the variables).
FEATURE_PATHS = ("sieve_dir", "sieve_bin_dir", "quota_users_path", "quota_warning_script", "lmtp_socket")
QUOTA_EXCEEDED = ("refuse", "defer")
# Where Sieve's vacation replies and redirects go with dovecot_lmtp: the MTA's loopback listener, where
# sendmail's own submission program (the MSP, submit.cf) hands mail too. The LMTP server runs inside
# Dovecot's unit (NoNewPrivileges), where the setgid sendmail program cannot queue mail.
LMTP_SUBMISSION_HOST = "127.0.0.1:25"
VALID_ADDRESS = "an IP address, a host name, * or ::"

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
# Settings the role renders while dovecot_lda is true (before, dovecot_settings may set them).
_OWNED_LDA = {
    "mail_plugins": "dovecot_lda, dovecot_sieve and dovecot_quota",
    "lda_mailbox_autocreate": "dovecot_lda",
    "lda_mailbox_autosubscribe": "dovecot_lda",
    "quota_full_tempfail": "dovecot_quota_exceeded",
    "quota_storage_size": "dovecot_quota",
    "sieve_plugins": "dovecot_sieve",
    "sieve_global_extensions": "dovecot_sieve",
    "sieve_pipe_bin_dir": "dovecot_spam_learning",
    "sieve_filter_bin_dir": "dovecot_sieve (the spamc filter)",
}

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
        if not V.is_str(item) or not item.strip():
            errors.add(name, item, VALID_ADDRESS)
            continue
        for part in re.split(r"[\s,]+", item.strip()):
            if part in ("*", "::"):
                out.append(part)
                continue
            bare = part[1:-1] if part.startswith("[") and part.endswith("]") else part
            if V.is_ip_address(bare):
                address = ipaddress.ip_address(bare)
                if host_addresses is not None and not address.is_loopback and str(address) not in host_addresses:
                    errors.add(name, part, (
                        "an address of this host: Dovecot could not listen there (a reload would stop it); the host has "
                        + (", ".join(host_addresses) or "no address besides loopback")))
                    continue
            elif not V.is_hostname(part) or part.endswith("."):
                errors.add(name, part, VALID_ADDRESS)
                continue
            out.append(part)
    return out


def _networks(name, value, errors):
    out = []
    for item in value or []:
        if errors.check(V.check_ip_network, item, name):
            out.append(item)
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
    errors.add(name, value, f"a dictionary of {what}")
    return {}


def check(data):
    """Return the list of problems with the role's variables (empty when they can be rendered)."""
    errors = V.Problems()
    for name in REQUIRED:
        if name not in data:
            errors.add(name, None, "required: the dovecot role passes it (its default is in roles/dovecot/defaults/main.yml)")
    if errors:
        return list(errors)
    protocols = data["dovecot_protocols"]
    if not isinstance(protocols, list) or not protocols:
        errors.add("dovecot_protocols", protocols, "a non-empty list of imap and/or pop3")
        protocols = []
    for proto in protocols:
        if proto not in PROTOCOLS:
            errors.add("dovecot_protocols", proto, "a protocol this role serves: imap or pop3")
    host_addresses = data.get("host_addresses")
    if host_addresses is not None:
        host_addresses = [str(a).split("%", maxsplit=1)[0] for a in host_addresses]
    _addresses("dovecot_listen", data["dovecot_listen"], errors, host_addresses)

    listeners = _mapping(data, "dovecot_listeners", "listener name (imap, imaps, pop3, pop3s) to {port, address}", errors)
    for lname, spec in listeners.items():
        where = f"dovecot_listeners.{lname}"
        if lname not in LISTENERS:
            errors.add(where, lname, "a known listener: imap, imaps, pop3 or pop3s")
            continue
        if not isinstance(spec, dict):
            errors.add(where, spec, "a dictionary {port, address}")
            continue
        for key in sorted(set(spec) - {"port", "address"}):
            errors.add(where + " key", key, "one of the keys allowed: port, address")
        port = spec.get("port")
        if port is not None:
            errors.check(lambda v, w: V.check_port(v, w) and V.problem(w, v, V.VALID_PORT + " (0 disables the listener)"),
                         port, where + ".port")
        _addresses(where + ".address", spec.get("address"), errors, host_addresses)
        proto = LISTENERS[lname][0]
        if proto not in protocols and port != 0:
            errors.add(where, spec, f"a listener of a served protocol: {proto} is not in dovecot_protocols; add it there "
                       "or set port: 0")

    if data["dovecot_mailbox_format"] not in MAIL_LOCATIONS:
        errors.add("dovecot_mailbox_format", data["dovecot_mailbox_format"], "mbox or maildir")
    if data["dovecot_ssl_min_protocol"] not in TLS_VERSIONS:
        errors.add("dovecot_ssl_min_protocol", data["dovecot_ssl_min_protocol"], "one of " + ", ".join(TLS_VERSIONS))
    ciphers = data["dovecot_ssl_cipher_list"]
    errors.check(V.check_cipher_list, ciphers.strip() if V.is_str(ciphers) else ciphers, "dovecot_ssl_cipher_list")
    for key in ("ssl_cert", "ssl_key"):
        errors.check(V.check_abs_path, data[key], f"dovecot_{key}")
    mechanisms = data["dovecot_auth_mechanisms"]
    if not isinstance(mechanisms, list) or not mechanisms:
        errors.add("dovecot_auth_mechanisms", mechanisms, "a list of at least one SASL mechanism (plain, login, ...)")
    else:
        for mech in mechanisms:
            errors.check(V.check_sasl_mechanism, mech, "dovecot_auth_mechanisms")
    _networks("dovecot_login_trusted_networks", data["dovecot_login_trusted_networks"], errors)
    log_path = data["dovecot_log_path"]
    if log_path != "syslog" and not V.is_abs_path(log_path):
        errors.add("dovecot_log_path", log_path, "syslog or " + V.VALID_ABS_PATH)

    _check_delivery(data, errors)

    for name, value in _mapping(data, "dovecot_settings", "setting name to value", errors).items():
        where = f"dovecot_settings.{name}"
        if not V.is_dovecot_setting(name):
            errors.add("dovecot_settings", name, V.VALID_DOVECOT_SETTING)
        elif name in _OWNED:
            errors.add("dovecot_settings", name, f"a setting the role does not render itself; set {_OWNED[name]} instead")
        elif name == "submission_host" and data["dovecot_lmtp"] is True and data["dovecot_lda"] is True:
            errors.add("dovecot_settings", name, "a setting the role renders itself while dovecot_lmtp is true "
                       f"({LMTP_SUBMISSION_HOST}, where sendmail's own submission program sends)")
        elif name in _OWNED_LDA and data["dovecot_lda"] is True:
            errors.add("dovecot_settings", name, f"a setting the role does not render itself while dovecot_lda is true; "
                       f"set {_OWNED_LDA[name]} instead")
        if isinstance(value, dict) or value is None:
            errors.add(where, value, f"a string, number, boolean or list, not {type(value).__name__}")
        elif not V.one_line(_value(value)) and _value(value) != "":
            errors.add(where, value, "one line (blocks go into dovecot_extra_config)")
    if not V.is_str(data["dovecot_extra_config"]):
        errors.add("dovecot_extra_config", data["dovecot_extra_config"], "the raw configuration text as one string")
    return list(errors)


def _bool(data, name, errors):
    value = data[name]
    if not isinstance(value, bool):
        errors.add(name, value, "true or false")
        return False
    return value


def _check_delivery(data, errors):
    """dovecot-lda, Sieve, ManageSieve, spam learning and quotas."""
    lda = _bool(data, "dovecot_lda", errors)
    lmtp = _bool(data, "dovecot_lmtp", errors)
    sieve = _bool(data, "dovecot_sieve", errors)
    managesieve = _bool(data, "dovecot_managesieve", errors)
    _bool(data, "dovecot_sieve_junk", errors)
    _bool(data, "dovecot_spam_learning", errors)
    if data["dovecot_quota_exceeded"] not in QUOTA_EXCEEDED:
        errors.add("dovecot_quota_exceeded", data["dovecot_quota_exceeded"],
                   "refuse (the message bounces) or defer (it stays queued until the user makes room)")
    if sieve and not lda:
        errors.add("dovecot_sieve", True, "false while dovecot_lda is false: Sieve filters at delivery, which needs "
                   "Dovecot's LDA (set dovecot_lda: true)")
    if lmtp and not lda:
        errors.add("dovecot_lmtp", True, "false while dovecot_lda is false: LMTP is how sendmail hands mail to Dovecot "
                   "(set dovecot_lda: true as well)")
    if managesieve and not sieve:
        errors.add("dovecot_managesieve", True, "false while dovecot_sieve is false: uploaded scripts would never run")
    port = data["dovecot_managesieve_port"]
    if not (isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536):
        errors.add("dovecot_managesieve_port", port, "a TCP port number 1-65535")
    for name in ("dovecot_sieve_before", "dovecot_sieve_default"):
        value = data[name]
        if value in ("", None):
            continue
        if errors.check(V.check_sieve_script, value, name) and not sieve:
            errors.add(name, "(a script)", "empty while dovecot_sieve is false: no Sieve runs at delivery")
    spamc = data["dovecot_dependent_spamc"]
    if isinstance(spamc, list):  # a templated number ("{{ spamassassin_spamc_max_size }}") arrives as an int
        spamc = [str(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in spamc]
    if not isinstance(spamc, list) or not all(isinstance(a, str) for a in spamc):
        errors.add("dovecot_dependent_spamc", spamc, "the spamc command as a list of strings (the playbook's wiring, "
                   "from spamassassin_spamc_command), or [] when SpamAssassin is off")
    elif spamc:
        errors.check(V.check_abs_path, spamc[0], "dovecot_dependent_spamc[0]")
        for index, arg in enumerate(spamc[1:], 1):
            if not (V.one_line(arg) and re.fullmatch(r"[A-Za-z0-9._=/:-]+", arg)):
                errors.add(f"dovecot_dependent_spamc[{index}]", arg, "an argument of letters, digits and ._=/:-")
        scanned = data["dovecot_dependent_spam_scanned_header"]
        if scanned not in ("", None):
            errors.check(V.check_header_name, scanned, "dovecot_dependent_spam_scanned_header")
        if lda and not sieve:
            errors.add("dovecot_sieve", False, "true: with dovecot_lda, SpamAssassin scans each message in the "
                       "global Sieve script (spamc through Sieve's filter extension); set dovecot_sieve: true, or "
                       "switch SpamAssassin off (mailserver_spamassassin: false)")
    quota = data["dovecot_quota"]
    users = _mapping(data, "dovecot_quota_users", "user name to quota size", errors)
    if quota not in ("", None):
        errors.check(V.check_quota_size, str(quota) if isinstance(quota, int) and not isinstance(quota, bool) else quota,
                     "dovecot_quota")
    for user, size in users.items():
        errors.check(V.check_user_name, user, "dovecot_quota_users")
        errors.check(V.check_quota_size, str(size) if isinstance(size, int) and not isinstance(size, bool) else size,
                     f"dovecot_quota_users.{user}")
    if (quota not in ("", None) or users) and not lda:
        errors.add("dovecot_quota" if quota not in ("", None) else "dovecot_quota_users", quota or users,
                   "unset while dovecot_lda is false: procmail writes mailboxes past any quota (set dovecot_lda: true)")
    warning = data["dovecot_quota_warning"]
    if not (isinstance(warning, int) and not isinstance(warning, bool) and 0 <= warning < 100):
        errors.add("dovecot_quota_warning", warning, "a percentage 0-99 (0: no warning message)")
    for key in FEATURE_PATHS:
        if key not in data:
            errors.add(key, None, "required: the dovecot role passes it from its vars")
        else:
            errors.check(V.check_abs_path, data[key], key)


def _size(value):
    return str(value)


def quota_on(data):
    """Whether the quota plugin is configured."""
    return data.get("dovecot_quota") not in ("", None) or bool(data.get("dovecot_quota_users"))


def learning_on(data):
    """Whether moves into and out of Junk teach SpamAssassin."""
    return bool(data["dovecot_sieve"] and data["dovecot_spam_learning"] and data["dovecot_dependent_spamc"])


def sieve_scripts(data):
    """The global Sieve scripts the role installs: {name: role of the script} in sieve_dir."""
    out = {}
    if data["dovecot_sieve"] and (data["dovecot_dependent_spamc"] or data["dovecot_sieve_junk"]):
        out["homelab-spam.sieve"] = "before"
    if data["dovecot_sieve"] and data["dovecot_sieve_before"]:
        out["before.sieve"] = "before"
    if data["dovecot_sieve"] and data["dovecot_sieve_default"]:
        out["default.sieve"] = "default"
    if learning_on(data):
        out["learn-spam.sieve"] = "imapsieve"
        out["learn-ham.sieve"] = "imapsieve"
    return out


def _lmtp_protocol(data, out, new):
    """protocol lmtp: Sieve as at the LDA's delivery, and no STARTTLS on the local socket (after the global
    mail_plugins: 2.3 expands $mail_plugins where it reads it)."""
    if not data["dovecot_lmtp"]:
        return
    out.append("# from: dovecot_lmtp (no STARTTLS on the local socket)" + (", dovecot_sieve" if data["dovecot_sieve"] else ""))
    out.append("protocol lmtp {")
    if data["dovecot_sieve"]:
        out += (["  mail_plugins {", "    sieve = yes", "  }"] if new else ["  mail_plugins = $mail_plugins sieve"])
    out += ["  ssl = no", "}"]


def _delivery_head(data, out, setting):
    """What both syntaxes start the delivery section with; returns (sieve_dir, scripts, extprograms)."""
    out.append("")
    if data["dovecot_lmtp"]:
        out.append("# Local delivery: sendmail's local mailer speaks LMTP to Dovecot on " + data["lmtp_socket"])
    else:
        out.append("# Local delivery: sendmail's local mailer is dovecot-lda (it reads this file)")
    setting("dovecot_lda (folders Sieve files into are made and subscribed)", "lda_mailbox_autocreate", "yes")
    setting("dovecot_lda", "lda_mailbox_autosubscribe", "yes")
    if data["dovecot_lmtp"]:
        setting("dovecot_lmtp (vacation replies and redirects over SMTP to the MTA on loopback, as sendmail's own MSP "
                "sends; the setgid sendmail program cannot queue under Dovecot's NoNewPrivileges)",
                "submission_host", LMTP_SUBMISSION_HOST)
    extprograms = bool(data["dovecot_sieve"] and (data["dovecot_dependent_spamc"] or learning_on(data)))
    return data["sieve_dir"], sieve_scripts(data), extprograms


def _delivery_24(data, out, setting):
    sieve_dir, scripts, extprograms = _delivery_head(data, out, setting)
    if quota_on(data):
        out.append("# from: dovecot_quota, dovecot_quota_users")
        out += ["mail_plugins {", "  quota = yes", "}"]
    imap_plugins = (["imap_quota"] if quota_on(data) else []) + (["imap_sieve"] if learning_on(data) else [])
    if imap_plugins:
        out.append("# from: dovecot_quota (IMAP GETQUOTAROOT), dovecot_spam_learning (IMAPSieve)")
        out += ["protocol imap {", "  mail_plugins {"] + [f"    {p} = yes" for p in imap_plugins] + ["  }", "}"]
    _lmtp_protocol(data, out, True)
    if data["dovecot_sieve"]:
        out.append("# from: dovecot_sieve")
        out += ["protocol lda {", "  mail_plugins {", "    sieve = yes", "  }", "}"]
        out += ["sieve_script personal {", "  driver = file", "  path = ~/sieve", "  active_path = ~/.dovecot.sieve", "}"]
        for name, kind in scripts.items():
            if kind == "imapsieve":
                continue
            label = name.rsplit(".", 1)[0]
            origin = {"homelab-spam": "dovecot_sieve_junk, dovecot_dependent_spamc", "before": "dovecot_sieve_before",
                      "default": "dovecot_sieve_default"}[label]
            out.append(f"# from: {origin}")
            out += [f"sieve_script {label} {{", f"  type = {kind}", f"  path = {sieve_dir}/{name}", "}"]
        if extprograms:
            out.append("# from: dovecot_dependent_spamc, dovecot_spam_learning (programs in sieve_bin_dir only)")
            out += ["sieve_plugins {", "  sieve_extprograms = yes"] + (["  sieve_imapsieve = yes"] if learning_on(data) else [])
            out += ["}", "sieve_global_extensions {"]
            out += (["  vnd.dovecot.filter = yes"] if data["dovecot_dependent_spamc"] else [])
            out += (["  vnd.dovecot.pipe = yes"] if learning_on(data) else []) + ["}"]
            if data["dovecot_dependent_spamc"]:
                setting("dovecot_dependent_spamc", "sieve_filter_bin_dir", data["sieve_bin_dir"])
                setting("dovecot_dependent_spamc (a scan may take long on a busy host)", "sieve_filter_exec_timeout", "120s")
            if learning_on(data):
                setting("dovecot_spam_learning", "sieve_pipe_bin_dir", data["sieve_bin_dir"])
        if learning_on(data):
            out.append("# from: dovecot_spam_learning (moved into Junk: spam; out of Junk, not to Trash: ham)")
            out += ["namespace inbox {", "  mailbox Junk {", "    sieve_script learn-spam {", "      type = before",
                    "      cause = copy", f"      path = {sieve_dir}/learn-spam.sieve", "    }", "  }", "}"]
            out += ["imapsieve_from Junk {", "  sieve_script learn-ham {", "    type = before", "    cause = copy",
                    f"    path = {sieve_dir}/learn-ham.sieve", "  }", "}"]
    if quota_on(data):
        quota = data["dovecot_quota"]
        out.append("# from: dovecot_quota (count: Dovecot counts the mailbox sizes itself)")
        out += ['quota "User quota" {', "  driver = count"]
        if data["dovecot_quota_warning"]:
            pct = data["dovecot_quota_warning"]
            out += [f"  quota_warning warn-{pct} {{", f"    quota_storage_percentage = {pct}",
                    "    execute quota-warning {", f"      args = {pct} %{{user}}", "    }", "  }"]
        out.append("}")
        if quota not in ("", None):
            setting("dovecot_quota", "quota_storage_size", "unlimited" if str(quota) == "0" else _size(quota))
        setting("dovecot_quota_exceeded", "quota_full_tempfail", _yes(data["dovecot_quota_exceeded"] == "defer"))


def _delivery_23(data, out, setting):
    sieve_dir, scripts, extprograms = _delivery_head(data, out, setting)
    if quota_on(data):
        setting("dovecot_quota, dovecot_quota_users", "mail_plugins", "$mail_plugins quota")
    imap_plugins = (["imap_quota"] if quota_on(data) else []) + (["imap_sieve"] if learning_on(data) else [])
    if imap_plugins:
        out.append("# from: dovecot_quota (IMAP GETQUOTAROOT), dovecot_spam_learning (IMAPSieve)")
        out += ["protocol imap {", "  mail_plugins = $mail_plugins " + " ".join(imap_plugins), "}"]
    _lmtp_protocol(data, out, False)
    if data["dovecot_sieve"]:
        out.append("# from: dovecot_sieve")
        out += ["protocol lda {", "  mail_plugins = $mail_plugins sieve", "}"]
    plugin = []
    if data["dovecot_sieve"]:
        plugin += ["  # from: dovecot_sieve", "  sieve = file:~/sieve;active=~/.dovecot.sieve"]
        before = 0
        for name, kind in scripts.items():
            if kind == "default":
                plugin += ["  # from: dovecot_sieve_default", f"  sieve_default = {sieve_dir}/{name}"]
            elif kind == "before":
                before += 1
                origin = "dovecot_sieve_before" if name == "before.sieve" else "dovecot_sieve_junk, dovecot_dependent_spamc"
                plugin += [f"  # from: {origin}", f"  sieve_before{before if before > 1 else ''} = {sieve_dir}/{name}"]
        if extprograms:
            plugin.append("  # from: dovecot_dependent_spamc, dovecot_spam_learning (programs in sieve_bin_dir only)")
            plugin.append("  sieve_plugins = sieve_extprograms" + (" sieve_imapsieve" if learning_on(data) else ""))
            exts = (["+vnd.dovecot.filter"] if data["dovecot_dependent_spamc"] else []) + (
                ["+vnd.dovecot.pipe"] if learning_on(data) else [])
            plugin.append("  sieve_global_extensions = " + " ".join(exts))
            if data["dovecot_dependent_spamc"]:
                plugin += [f"  sieve_filter_bin_dir = {data['sieve_bin_dir']}", "  sieve_filter_exec_timeout = 120s"]
            if learning_on(data):
                plugin += [f"  sieve_pipe_bin_dir = {data['sieve_bin_dir']}",
                           "  # from: dovecot_spam_learning (moved into Junk: spam; out of Junk, not to Trash: ham)",
                           "  imapsieve_mailbox1_name = Junk", "  imapsieve_mailbox1_causes = COPY",
                           f"  imapsieve_mailbox1_before = file:{sieve_dir}/learn-spam.sieve",
                           "  imapsieve_mailbox2_name = *", "  imapsieve_mailbox2_from = Junk",
                           "  imapsieve_mailbox2_causes = COPY",
                           f"  imapsieve_mailbox2_before = file:{sieve_dir}/learn-ham.sieve"]
    if quota_on(data):
        quota = data["dovecot_quota"]
        plugin += ["  # from: dovecot_quota (count: Dovecot counts the mailbox sizes itself)",
                   "  quota = count:User quota", "  quota_vsizes = yes"]
        if quota not in ("", None):
            plugin.append(f"  quota_rule = *:storage={_size(quota)}")
        if data["dovecot_quota_warning"]:
            pct = data["dovecot_quota_warning"]
            plugin += ["  # from: dovecot_quota_warning",
                       f"  quota_warning = storage={pct}%% quota-warning {pct} %u"]
        plugin += ["  # from: dovecot_quota_exceeded",
                   "  quota_full_tempfail = " + _yes(data["dovecot_quota_exceeded"] == "defer")]
    if plugin:
        out += ["plugin {"] + plugin + ["}"]


def _delivery_services(data, syntax, out):
    """LMTP's socket, ManageSieve's listener and the quota warning service."""
    if data["dovecot_lmtp"]:
        socket = data["lmtp_socket"]
        out.append("# from: dovecot_lmtp (%s for root alone: sendmail delivers as root, and no other local user"
                   % socket)
        out.append("# may hand mail to a mailbox past sendmail's checks)")
        out += ["service lmtp {", "  unix_listener %s {" % socket.rsplit("/", 1)[1], "    mode = 0600", "    user = root",
                "  }", "}"]
    if data["dovecot_managesieve"]:
        out.append("# from: dovecot_managesieve_port (STARTTLS and AUTH as for IMAP)")
        out += ["service managesieve-login {", "  inet_listener sieve {",
                "    port = {}".format(data["dovecot_managesieve_port"]), "  }", "}"]
    if quota_on(data) and data["dovecot_quota_warning"]:
        out.append("# from: dovecot_quota_warning (every mail user's delivery and IMAP processes may ask for a warning)")
        # root: Dovecot's unit sets NoNewPrivileges, so as another user sendmail (setgid smmsp) refuses to queue
        out += ["service quota-warning {", "  executable = script " + data["quota_warning_script"], "  user = root",
                "  unix_listener quota-warning {", "    mode = 0666", "  }", "}"]


def _quota_userdb(data, new, out):
    """The per-user limits as a passwd-file userdb consulted before the system accounts."""
    if not data.get("dovecot_quota_users"):
        return
    out.append("# from: dovecot_quota_users (per-user limits; the accounts themselves come from passwd)")
    if new:
        out += ["userdb quota_users {", "  driver = passwd-file", f"  passwd_file_path = {data['quota_users_path']}"]
    else:
        out += ["userdb {", "  driver = passwd-file", f"  args = {data['quota_users_path']}"]
    out += ["  result_success = continue-ok", "  result_failure = continue", "}"]


def _listener_block(lname, spec, syntax, lines, listener_origin):
    address_key = "listen" if syntax == "2.4" else "address"
    joiner = " " if syntax == "2.4" else ", "
    lines.append(f"  # from: {listener_origin}.{lname}")
    lines.append(f"  inet_listener {lname} {{")
    addresses = _addresses("", spec.get("address"), V.Problems())
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

    protocols = data["dovecot_protocols"]
    if data["dovecot_lda"] and data["dovecot_lmtp"]:
        setting("dovecot_protocols, dovecot_lmtp" + (", dovecot_managesieve" if data["dovecot_managesieve"] else ""),
                "protocols", " ".join(protocols + ["lmtp"] + (["sieve"] if data["dovecot_managesieve"] else [])))
    elif data["dovecot_managesieve"]:
        setting("dovecot_protocols, dovecot_managesieve", "protocols", " ".join(protocols + ["sieve"]))
    else:
        setting("dovecot_protocols", "protocols", " ".join(protocols))
    listen = _addresses("", data["dovecot_listen"], V.Problems())
    if listen:
        setting("dovecot_listen", "listen", (" " if new else ", ").join(listen))

    out.append("")
    out.append("# TLS (the chapter: \"Required to make POPS / IMAPS to work with certificates\")")
    setting("dovecot_ssl_required", "ssl", "required" if data["dovecot_ssl_required"] else "yes")
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
    setting("dovecot_ssl_min_protocol", "ssl_min_protocol", data["dovecot_ssl_min_protocol"])
    setting("dovecot_ssl_cipher_list", "ssl_cipher_list", data["dovecot_ssl_cipher_list"].strip())
    # Mozilla's intermediate profile lets the client pick among the (all strong) ciphers.
    if new:
        setting("dovecot_ssl_cipher_list (Mozilla intermediate: the client chooses)", "ssl_server_prefer_ciphers", "client")
    else:
        setting("dovecot_ssl_cipher_list (Mozilla intermediate: the client chooses)", "ssl_prefer_server_ciphers", "no")

    out.append("")
    out.append("# Authentication: the Linux accounts (PAM, /etc/passwd)")
    plaintext = bool(data["dovecot_allow_plaintext_auth"])
    if plaintext and not data["dovecot_ssl_required"]:
        Display().warning(PLAINTEXT_WARNING)
    if new:
        setting("dovecot_allow_plaintext_auth", "auth_allow_cleartext", _yes(plaintext))
    else:
        setting("dovecot_allow_plaintext_auth", "disable_plaintext_auth", _yes(not plaintext))
    setting("dovecot_auth_mechanisms", "auth_mechanisms", " ".join(data["dovecot_auth_mechanisms"]))
    trusted = _networks("", data["dovecot_login_trusted_networks"], V.Problems())
    if trusted:
        setting("dovecot_login_trusted_networks", "login_trusted_networks", " ".join(trusted))
    if new:
        out += ["passdb pam {", "}"]
        _quota_userdb(data, new, out)
        out += ["userdb passwd {", "}"]
    else:
        out += ["passdb {", "  driver = pam", "}"]
        _quota_userdb(data, new, out)
        out += ["userdb {", "  driver = passwd", "}"]

    out.append("")
    mailbox = data["dovecot_mailbox_format"]
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
    if data["dovecot_lda"]:
        (_delivery_24 if new else _delivery_23)(data, out, setting)
        _delivery_services(data, syntax, out)

    out.append("")
    out.append("# Logging (the chapter's \"Always Start with Logging\"); syslog facility mail")
    setting("dovecot_log_path", "log_path", data["dovecot_log_path"])
    setting("dovecot_auth_verbose", "auth_verbose", _yes(data["dovecot_auth_verbose"]))
    setting("dovecot_auth_debug", "auth_debug", _yes(data["dovecot_auth_debug"]))
    setting("dovecot_mail_debug", "mail_debug", _yes(data["dovecot_mail_debug"]))
    if new:
        if data["dovecot_verbose_ssl"]:
            setting("dovecot_verbose_ssl (2.4 has no verbose_ssl: debug logging of the ssl category)", "log_debug", "category=ssl")
    else:
        setting("dovecot_verbose_ssl", "verbose_ssl", _yes(data["dovecot_verbose_ssl"]))

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
    if V.is_str(value):
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

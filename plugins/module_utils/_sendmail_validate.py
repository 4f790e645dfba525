# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validators for sendmail map keys and values (the kinds of the sendmail_map module).

Every validator returns ``None`` when the input is valid, otherwise one message in the shape of
``_validate.problem``: ``key: 'x y' is not valid: <what is valid>`` (or ``value: ...``); the map
module prefixes the entry.  The kinds of value themselves (domain, local part, access key and
value, ...) are defined once in ``_validate``; this file only says which kind each map side is.
Only plain ``str`` checks and anchored, non-nested regular expressions are used so that 100,000
entries validate in well under a second.
"""

from __future__ import annotations

import re

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# map-specific forms (no other part of the collection checks these)
MAILER_RE = re.compile(r"[A-Za-z0-9_-]+")
SUBST_RE = re.compile(r"%(.)")
AUTHINFO_RE = re.compile(r'"(?:[UIPRM]:[^"]*|P=[^"]*)"(?:[ \t]+"(?:[UIPRM]:[^"]*|P=[^"]*)")*')
SYSEXITS = frozenset(("nouser", "nohost", "unavailable", "tempfail", "software", "config", "dataerr",
                      "noinput", "noperm", "oserr", "osfile", "osserr", "protocol", "usage", "cantcreat", "ioerr"))
HAS_SPACE = V.HAS_SPACE
problem = V.problem

ONE_TOKEN = "one token: not empty, without whitespace"
VALID_VIRTUSER_KEY = "a virtusertable key: user@domain, @domain, user+*@domain or user+detail@domain"
VALID_VIRTUSER_VALUE = ("one local user, alias name or user@domain address (%1/%2/%3 with a catch-all key), "
                        "or error:nouser text, error:NNN text, error:D.S.N:NNN text")
VALID_MAIL_ERROR = "error:nouser text, error:NNN text or error:D.S.N:NNN text (e.g. error:5.7.0:550 Address invalid)"
VALID_MAILERTABLE_KEY = "a mailertable key: domain or .domain (all subdomains)"
VALID_MAILERTABLE_VALUE = ("mailer:host, e.g. esmtp:[mail.example.com], smtp:relay.example.com, local:user, "
                           "or " + VALID_MAIL_ERROR)
VALID_AUTHINFO_KEY = "AuthInfo:host, AuthInfo:IP or AuthInfo: (default)"
VALID_AUTHINFO_VALUE = 'quoted items like "U:user" "P:secret" "M:PLAIN"'
VALID_GENERICS_KEY = "a local user name or user@domain"
VALID_MEMBERS = ("a YAML list, one member per item (e.g. members: [marc, webmaster@my-site.com]); only |program, "
                 "/file and :include:/path members may contain spaces")


def no_space(text, what):
    if not text or HAS_SPACE(text):
        return problem(what, text, ONE_TOKEN)
    return None


def one_line(text, what):
    return None if V.one_line(text) else problem(what, text, V.VALID_MAP_VALUE)


def domain(text, what="key"):
    return V.check_domain(text, what)


def ip_or_host(text, what="key"):
    """IPv4 whole-octet prefix, IPv6:..., or a domain/host name."""
    reason = V.host_reason(text, "it")
    return None if reason is None else problem(what, text, reason)


def address(text, what="key", allow_user_only=True):
    """user@domain, user@ (any domain), or host/IP forms."""
    reason = V.address_reason(text, allow_user_only, "it")
    return None if reason is None else problem(what, text, reason)


# ---------------------------------------------------------------- access
def access_key(key):
    return V.check_access_key(key, "key")


def access_value(key, value):
    return V.check_access_value(value, "value", key)


# ---------------------------------------------------------------- virtusertable
def _virt_split(key):
    user, _sep, dom = key.rpartition("@")
    return user, dom


def virtuser_key(key, where="key"):
    err = no_space(key, where)
    if err:
        return err
    if "@" not in key:
        return problem(where, key, VALID_VIRTUSER_KEY)
    user, dom = _virt_split(key)
    if user and not V.is_local_part(user):
        return problem(where, key, f"{VALID_VIRTUSER_KEY} (the local part {user!r} is not {V.VALID_LOCAL_PART})")
    if not dom:
        return problem(where, key, f"{VALID_VIRTUSER_KEY} (it needs a domain after @)")
    return None if V.is_domain(dom) else problem(where, key, f"{VALID_VIRTUSER_KEY} (the domain {dom!r} is not {V.VALID_DOMAIN})")


def virtuser_substitutions(key):
    """Which %n the key can supply: @domain and user+*/user++ keys supply %1 (user), %2 (detail), %3 (+detail)."""
    user = _virt_split(key)[0]
    return "123" if (not user or user.endswith(("+*", "++"))) else ""


def mail_error(text, what="value"):
    """error:nouser text, error:NNN text, error:D.S.N:NNN text (virtusertable / mailertable)."""
    if text[6:].partition(" ")[0].lower() in SYSEXITS:
        return None
    reason = V.smtp_error_reason(text, text[:6])
    if reason is None:
        return None
    return problem(what, text, reason if text[6:7].isdigit() else VALID_MAIL_ERROR)


def virtuser_value(key, value, where="value"):
    err = one_line(value, where)
    if err:
        return err
    if value[:6].lower() == "error:":
        return mail_error(value, where)
    if "," in value or HAS_SPACE(value):
        return problem(where, value, "a virtusertable entry maps to exactly one address; to deliver to several, "
                       "point it at an alias in /etc/aliases")
    allowed = virtuser_substitutions(key)
    for digit in SUBST_RE.findall(value):
        if digit not in "123":
            return problem(where, value, f"only %1 (user), %2 (detail) and %3 (+detail) exist, not %{digit}")
        if digit not in allowed:
            return problem(where, value, f"it uses %{digit} but key {key!r} supplies no substitutions; "
                           "%1/%2/%3 need a catch-all @domain or a user+*@domain key")
    plain = SUBST_RE.sub("x", value)
    if "@" in plain:
        return address(plain, where, allow_user_only=False)
    return None if V.is_local_part(plain) else problem(where, value, VALID_VIRTUSER_VALUE)


# ---------------------------------------------------------------- sendmail_map kinds
def generics_key(key, where="key"):
    err = no_space(key, where)
    if err:
        return err
    if "@" in key:
        return address(key, where, allow_user_only=False)
    return None if V.is_local_part(key) else problem(where, key, VALID_GENERICS_KEY)


def address_value(key, value, where="value"):
    err = no_space(value, where)
    if err:
        return err
    if "@" not in value:
        return problem(where, value, V.VALID_MAIL_ADDRESS)
    return address(value, where, allow_user_only=False)


def mailertable_key(key):
    err = no_space(key, "key")
    if err:
        return err
    if V.is_domain(key.removeprefix(".")):
        return None
    return problem("key", key, VALID_MAILERTABLE_KEY + "; " + V.VALID_DOMAIN)


def mailertable_value(key, value):
    err = one_line(value, "value")
    if err:
        return err
    if value[:6].lower() == "error:":
        return mail_error(value)
    mailer, sep, host = value.partition(":")
    if not sep or not MAILER_RE.fullmatch(mailer):
        return problem("value", value, VALID_MAILERTABLE_VALUE)
    if HAS_SPACE(host):
        return problem("value", value, "mailer:host where the host part has no whitespace")
    return None


def domain_key(key):
    return no_space(key, "key") or domain(key, "key")


def domain_value(key, value):
    return no_space(value, "value") or domain(value, "value")


def authinfo_key(key):
    err = no_space(key, "key")
    if err:
        return err
    if key[:9].lower() != "authinfo:":
        return problem("key", key, VALID_AUTHINFO_KEY)
    return ip_or_host(key[9:], "key") if key[9:] else None


def authinfo_value(key, value):
    err = one_line(value, "value")
    if err:
        return err
    return None if AUTHINFO_RE.fullmatch(value) else problem("value", value, VALID_AUTHINFO_VALUE)


def generic_value(key, value):
    return one_line(value, "value")


# ---------------------------------------------------------------- class files
def class_token(kind):
    def check(key):
        err = no_space(key, "entry")
        if err or kind == "any":
            return err
        if kind == "users":
            return V.check_user_name(key, "entry")
        if key.startswith("[") and key.endswith("]"):
            return ip_or_host(key[1:-1], "entry")
        return ip_or_host(key, "entry")
    return check


# ---------------------------------------------------------------- aliases
def alias_name(name):
    return no_space(name, "alias name") or V.check_alias_name(name, "alias name")


def alias_members(name, members, where="members"):
    if isinstance(members, str):
        return problem(where, members, VALID_MEMBERS + " (not a string)")
    if not isinstance(members, list) or not members:
        return problem(where, members, "a non-empty list")
    for m in members:
        if not isinstance(m, str) or not m.strip():
            return problem(f"{where} item", m, "a non-empty string")
        if not V.one_line(m) or '"' in m.strip('"'):
            return problem(f"{where} item", m, "one line without inner double quotes")
        s = m.strip('"')
        if s.startswith(("|", "/", ":include:")):
            continue
        if "," in s or HAS_SPACE(s):
            return problem(f"{where} item", m, "it contains a comma or space; give each member as its own YAML list item "
                           "(only |program, /file and :include:/path members may contain spaces)")
    return None

# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validators for sendmail map keys and values.

Every validator returns ``None`` when the input is valid, otherwise a message
that says what is wrong and what would be valid.  The caller prefixes the
entry's key.  Only plain ``str`` checks and anchored, non-nested regular
expressions are used so that 100,000 entries validate in well under a second.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
DOMAIN_RE = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?\Z")
LOCAL_RE = re.compile(r"[A-Za-z0-9!#$&'*+/=?^_`{|}~.%-]+\Z")
OCTET_PREFIX_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){0,3}\Z")
IPV6_RE = re.compile(r"[0-9A-Fa-f:.]+\Z")
SMTP_REPLY_RE = re.compile(r"(?:([245])\.[0-9]{1,3}\.[0-9]{1,3}:)?([45])[0-9]{2}(?:[ \t]+\S.*)?\Z", re.DOTALL)
MAILER_RE = re.compile(r"[A-Za-z0-9_-]+\Z")
HAS_SPACE = re.compile(r"\s").search
SUBST_RE = re.compile(r"%(.)")
TLS_RE = re.compile(r"(?:(?:PERM|TEMP)\+)?(?:VERIFY(?::[0-9]+)?|ENCR:[0-9]+)"
                    r"(?:\+(?:CN(?::\S+)?|CS:\S+|CI:\S+))*\Z", re.IGNORECASE)
FEATURES_RE = re.compile(r"[A-Za-z](?:[ \t]+[A-Za-z])*\Z")
_OCTET = r"(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])"
# Fast paths only: a key that matches one of these gets exactly the answer (None) the full checks would give.
PLAIN_HOST_RE = re.compile(rf"(?:{_OCTET}(?:\.{_OCTET}){{0,3}}|[A-Za-z_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.{_LABEL})*\.?)\Z")
AUTHINFO_RE = re.compile(r'"(?:[UIPRM]:[^"]*|P=[^"]*)"(?:[ \t]+"(?:[UIPRM]:[^"]*|P=[^"]*)")*\Z')
USER_RE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*\$?\Z")

ACCESS_ACTIONS = ("OK", "RELAY", "REJECT", "DISCARD", "SKIP")
ACCESS_TAGS = {t.lower(): t for t in (
    "Connect", "From", "To", "Spam", "GreetPause", "ClientRate", "ClientConn",
    "TLS_Clt", "TLS_Srv", "TLS_Rcpt", "Try_TLS", "Srv_Features", "Clt_Features",
    "CERTISSUER", "CERTSUBJECT")}
# tags whose key may be the bare tag (the default entry for that tag)
ACCESS_DEFAULT_TAGS = frozenset(("greetpause", "clientrate", "clientconn", "srv_features", "clt_features"))
ACCESS_NUMERIC_TAGS = frozenset(("greetpause", "clientrate", "clientconn"))
ACCESS_TLS_TAGS = frozenset(("tls_clt", "tls_srv", "tls_rcpt"))
ACCESS_HOST_TAGS = frozenset(("connect", "greetpause", "clientrate", "clientconn",
                              "tls_clt", "tls_srv", "try_tls", "srv_features", "clt_features"))
SYSEXITS = frozenset(("nouser", "nohost", "unavailable", "tempfail", "software", "config", "dataerr",
                      "noinput", "noperm", "oserr", "osfile", "osserr", "protocol", "usage", "cantcreat", "ioerr"))
# tags whose entries take something other than an action on the right-hand side
ACCESS_VALUE_TAGS = frozenset(("spam", "try_tls", "srv_features", "clt_features")) | ACCESS_NUMERIC_TAGS | ACCESS_TLS_TAGS
ACCESS_ACTION_SET = frozenset(ACCESS_ACTIONS)
ACCESS_KEY_FORMS = ("an IPv4 address or whole-octet prefix (192.168.2), IPv6:<address or prefix>, "
                    "a domain (example.com), user@domain or user@, optionally after a tag "
                    "({})".format(", ".join(t + ":" for t in ACCESS_TAGS.values())))


def no_space(text, what):
    if not text:
        return f"{what} is empty"
    if HAS_SPACE(text):
        return f"{what} {text!r} contains whitespace; it must be one token"
    return None


def one_line(text, what):
    if not text or not text.strip():
        return f"{what} is empty"
    if "\n" in text or "\r" in text:
        return f"{what} must be a single line"
    return None


def domain(text):
    if DOMAIN_RE.match(text):
        return None
    return f"{text!r} is not a valid domain name (letters, digits, '-', '_', labels separated by dots)"


def cidr_hint(text):
    """Explain which whole-octet prefixes a CIDR block means (sendmail has no CIDR)."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"CIDR notation is not supported by sendmail and {text!r} is not a valid network either"
    if net.version == 6:
        return f"CIDR notation ({text}) is not supported; write IPv6:<prefix> with whole 16-bit groups"
    if net.prefixlen == 0:
        return f"CIDR {text} would match every address; it is not supported"
    bits = -(-net.prefixlen // 8) * 8

    def prefix(n):
        return ".".join(str(n.network_address).split(".")[:bits // 8])

    if bits == net.prefixlen:
        return f"CIDR notation is not supported by sendmail; {text} means the octet prefix {prefix(net)!r}"
    parts = list(net.subnets(new_prefix=bits))
    if len(parts) <= 16:
        return (f"CIDR notation is not supported by sendmail and /{net.prefixlen} is not on an octet boundary; "
                f"split {text} into whole-octet prefixes: {', '.join(prefix(n) for n in parts)}")
    return (f"CIDR notation is not supported by sendmail and /{net.prefixlen} is not on an octet boundary; "
            f"{text} must be split into {len(parts)} whole-octet /{bits} prefixes")


def ip_or_host(text):
    """IPv4 whole-octet prefix, IPv6:..., or a domain/host name."""
    if "/" in text:
        return cidr_hint(text[5:] if text[:5].lower() == "ipv6:" else text)
    if text[:5].lower() == "ipv6:":
        rest = text[5:]
        if rest and IPV6_RE.match(rest) and ":" in rest:
            return None
        return f"{text!r} is not a valid IPv6: form; write IPv6:2001:db8::1 or a prefix IPv6:2001:db8"
    if text[0].isdigit() and text.replace(".", "").isdigit():
        if not OCTET_PREFIX_RE.match(text) or any(int(o) > 255 for o in text.split(".")):
            return f"{text!r} is not an IPv4 address or prefix of 1-4 whole octets, each 0-255 (e.g. 192.168.2)"
        return None
    return domain(text)


def address(text, allow_user_only=True):
    """user@domain, user@ (any domain), or host/IP forms."""
    if "@" not in text:
        return ip_or_host(text)
    user, dummy, dom = text.rpartition("@")
    if not user:
        return f"{text!r}: a leading @ is not an access map form; use the bare domain {dom!r} to match a domain"
    if not LOCAL_RE.match(user):
        return f"{text!r} has an invalid local part {user!r}"
    if not dom:
        return None if allow_user_only else f"{text!r} needs a domain after @"
    return domain(dom)


# ---------------------------------------------------------------- access
def access_key(key):
    if PLAIN_HOST_RE.match(key):  # fast path: untagged domain or IPv4 (prefix), the bulk of a large access map
        return None
    err = no_space(key, "key")
    if err:
        return err
    tag, sep, rest = key.partition(":")
    ltag = tag.lower()
    if not sep or ltag == "ipv6":
        rest, ltag = key, ""
    elif ltag not in ACCESS_TAGS:
        if tag.isalpha() or "_" in tag:
            valid = ", ".join(v + ":" for v in ACCESS_TAGS.values())
            return f"unknown tag {tag + ':'!r}; valid tags: {valid}"
        rest, ltag = key, ""
    if not rest:
        if ltag in ACCESS_DEFAULT_TAGS:
            return None
        return f"tag {tag}: needs something after the colon; valid forms: {ACCESS_KEY_FORMS}"
    if ltag in ("certissuer", "certsubject"):
        return None
    if ltag == "from" and rest == "<>":
        return None
    if ltag in ACCESS_HOST_TAGS and "@" in rest:
        return f"tag {ACCESS_TAGS[ltag]}: takes a host, domain or IP address, not an e-mail address"
    err = address(rest)
    if err is None or "CIDR" in err:
        return err
    return f"{err}; valid forms: {ACCESS_KEY_FORMS}"


def smtp_error(text, prefix):
    """ERROR:[D.S.N:]NNN text (optionally the part after ERROR: in double quotes)."""
    body = text[len(prefix):]
    if len(body) >= 2 and body[0] == body[-1] == '"':
        body = body[1:-1]
    m = SMTP_REPLY_RE.match(body)
    if not m:
        return (f"{text!r}: write {prefix}[D.S.N:]NNN text with a 4xx/5xx reply code, "
                f"e.g. {prefix}5.7.1:550 Access denied or {prefix}\"550 Access denied\"")
    if m.group(1) and m.group(1) != m.group(2):
        return f"{text!r}: enhanced status {m.group(1)}.x.x does not match reply code {m.group(2)}xx"
    return None


def access_value(key, value):
    if value in ACCESS_ACTION_SET and (":" not in key or key.partition(":")[0].lower() not in ACCESS_VALUE_TAGS):
        return None  # fast path: OK/RELAY/REJECT/DISCARD/SKIP as written, for a key whose tag takes actions
    err = one_line(value, "value")
    if err:
        return err
    ltag = key.partition(":")[0].lower() if ":" in key else ""
    up = value.upper()
    if ltag == "spam":
        return None if up in ("FRIEND", "HATER") else f"Spam: entries take FRIEND or HATER, not {value!r}"
    if ltag in ACCESS_NUMERIC_TAGS:
        return None if value.isdigit() else f"{ACCESS_TAGS[ltag]}: entries take a number (0 or more), not {value!r}"
    if ltag in ACCESS_TLS_TAGS:
        return None if TLS_RE.match(value) else (
            f"{ACCESS_TAGS[ltag]}: entries take a TLS requirement such as VERIFY, VERIFY:112, ENCR:128, optionally "
            f"PERM+/TEMP+ prefixed and +CN:name/+CS:subject/+CI:issuer suffixed; not {value!r}")
    if ltag == "try_tls":
        return None if up in ("YES", "NO") else f"Try_TLS: entries take YES or NO, not {value!r}"
    if ltag in ("srv_features", "clt_features"):
        return None if FEATURES_RE.match(value) else (
            f"{ACCESS_TAGS[ltag]}: entries take feature letters separated by spaces (e.g. 'V l'), not {value!r}")
    if up in ACCESS_ACTIONS:
        return None
    if up == "ACCEPT":
        return "use OK (not ACCEPT); valid actions: {}, ERROR:..., QUARANTINE:reason".format(", ".join(ACCESS_ACTIONS))
    if up.startswith("ERROR:"):
        return smtp_error(value, value[:6])
    if up.startswith("QUARANTINE:"):
        return None if value[11:].strip() else "QUARANTINE: needs a reason, e.g. QUARANTINE:suspicious sender"
    return ("unknown action {!r}; valid: {}, ERROR:[D.S.N:]NNN text, QUARANTINE:reason "
            "(FRIEND/HATER with Spam:, numbers with GreetPause:/ClientRate:/ClientConn:, "
            "VERIFY/ENCR:bits with TLS_*:)".format(value, ", ".join(ACCESS_ACTIONS)))


# ---------------------------------------------------------------- virtusertable
def _virt_split(key):
    user, dummy, dom = key.rpartition("@")
    return user, dom


def virtuser_key(key):
    err = no_space(key, "key")
    if err:
        return err
    if "@" not in key:
        return f"virtusertable keys are user@domain, @domain, user+*@domain or user+detail@domain, not {key!r}"
    user, dom = _virt_split(key)
    if user and not LOCAL_RE.match(user):
        return f"{key!r} has an invalid local part {user!r}"
    return domain(dom) if dom else f"{key!r} needs a domain after @"


def virtuser_substitutions(key):
    """Which %n the key can supply: @domain and user+*/user++ keys supply %1 (user), %2 (detail), %3 (+detail)."""
    user = _virt_split(key)[0]
    return "123" if (not user or user.endswith(("+*", "++"))) else ""


def mail_error(text):
    """error:nouser text, error:NNN text, error:D.S.N:NNN text (virtusertable / mailertable)."""
    if text[6:].partition(" ")[0].lower() in SYSEXITS:
        return None
    err = smtp_error(text, text[:6])
    if err is None or text[6:7].isdigit():
        return err
    return (f"{text!r}: write error:nouser text, error:NNN text or error:D.S.N:NNN text "
            "(e.g. error:5.7.0:550 Address invalid)")


def virtuser_value(key, value):
    err = one_line(value, "value")
    if err:
        return err
    if value[:6].lower() == "error:":
        return mail_error(value)
    if "," in value or HAS_SPACE(value):
        return (f"{value!r}: a virtusertable entry maps to exactly one address; to deliver to several, "
                "point it at an alias in /etc/aliases")
    allowed = virtuser_substitutions(key)
    for digit in SUBST_RE.findall(value):
        if digit not in "123":
            return f"{value!r}: only %1 (user), %2 (detail) and %3 (+detail) exist, not %{digit}"
        if digit not in allowed:
            return (f"{value!r} uses %{digit} but key {key!r} supplies no substitutions; "
                    "%1/%2/%3 need a catch-all @domain or a user+*@domain key")
    plain = SUBST_RE.sub("x", value)
    return address(plain, allow_user_only=False) if "@" in plain else (
        None if LOCAL_RE.match(plain) else f"{value!r} is not a local user, alias name or user@domain address")


# ---------------------------------------------------------------- sendmail_map kinds
def generics_key(key):
    err = no_space(key, "key")
    if err:
        return err
    if "@" in key:
        return address(key, allow_user_only=False)
    return None if LOCAL_RE.match(key) else f"{key!r} is not a local user name or user@domain"


def address_value(key, value):
    err = no_space(value, "value")
    if err:
        return err
    if "@" not in value:
        return f"{value!r} must be an address user@domain"
    return address(value, allow_user_only=False)


def mailertable_key(key):
    err = no_space(key, "key")
    if err:
        return err
    err = domain(key.removeprefix("."))
    return None if err is None else err + "; mailertable keys are domain or .domain (all subdomains)"


def mailertable_value(key, value):
    err = one_line(value, "value")
    if err:
        return err
    if value[:6].lower() == "error:":
        return mail_error(value)
    mailer, sep, host = value.partition(":")
    if not sep or not MAILER_RE.match(mailer):
        return f"{value!r}: write mailer:host, e.g. esmtp:[mail.example.com], smtp:relay.example.com, local:user"
    if HAS_SPACE(host):
        return f"{value!r}: the host part must not contain whitespace"
    return None


def domain_key(key):
    return no_space(key, "key") or domain(key)


def domain_value(key, value):
    return no_space(value, "value") or domain(value)


def authinfo_key(key):
    err = no_space(key, "key")
    if err:
        return err
    if key[:9].lower() != "authinfo:":
        return f"{key!r}: authinfo keys are AuthInfo:host, AuthInfo:IP or AuthInfo: (default)"
    return ip_or_host(key[9:]) if key[9:] else None


def authinfo_value(key, value):
    err = one_line(value, "value")
    if err:
        return err
    if AUTHINFO_RE.match(value):
        return None
    return f'{value!r}: write quoted items like "U:user" "P:secret" "M:PLAIN"'


def generic_value(key, value):
    return one_line(value, "value")


# ---------------------------------------------------------------- class files
def class_token(kind):
    def check(key):
        err = no_space(key, "entry")
        if err or kind == "any":
            return err
        if kind == "users":
            return None if USER_RE.match(key) else f"{key!r} is not a user name"
        if key.startswith("[") and key.endswith("]"):
            return ip_or_host(key[1:-1])
        return ip_or_host(key)
    return check


# ---------------------------------------------------------------- aliases
def alias_name(name):
    err = no_space(name, "alias name")
    if err:
        return err
    if ":" in name or "," in name or name.startswith("#"):
        return f"alias name {name!r} must not contain ':' or ',' or start with '#'"
    return None


def alias_members(name, members):
    if isinstance(members, str):
        return ("members must be a YAML list, one member per item (e.g. members: [marc, webmaster@my-site.com]), "
                f"not the string {members!r}")
    if not isinstance(members, list) or not members:
        return "members must be a non-empty list"
    for m in members:
        if not isinstance(m, str) or not m.strip():
            return f"member {m!r} is not a non-empty string"
        if "\n" in m or '"' in m.strip('"'):
            return f"member {m!r} must be one line without inner double quotes"
        s = m.strip('"')
        if s.startswith(("|", "/", ":include:")):
            continue
        if "," in s or HAS_SPACE(s):
            return (f"member {m!r} contains a comma or space; give each member as its own YAML list item "
                    "(only |program, /file and :include:/path members may contain spaces)")
    return None

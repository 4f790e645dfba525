# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One definition of every kind of value the collection checks, and one shape for its error messages.

API
===
Every kind K below has three names:

``is_K(value) -> bool``
    True when VALUE is a valid K.  Anything that is not a ``str`` is not valid (a YAML number or
    boolean never is); every pattern must match the whole string (``re.fullmatch``), so a trailing
    newline, NUL or other control character is never part of a valid value.
``check_K(value, where) -> str | None``
    None when valid, else ``problem(where, value, <what is valid>)``.
``VALID_K``
    The "what is valid" text of the messages.

The access map kinds take the key as context: ``is_access_value(value, key)`` and
``check_access_value(value, where, key)``.

Kinds (``KINDS`` maps each name to ``(is_K, check_K)``):

=================  ==========================================================================
label              DNS label: 1-63 of ``[A-Za-z0-9_-]``, no '-' at either end
domain             DNS domain name: labels joined by dots, <= 253 characters, one trailing dot
hostname           host name (RFC 1123): like domain without '_'
short_hostname     one host-name label (the chapter's ``bigboy``)
fqdn               host name of two or more labels, no trailing dot
mail_domain        mail domain (RFC 5321): host name without the trailing dot
dnsbl_zone         DNSBL zone: an fqdn such as ``bl.spamcop.net``
dkim_selector      DKIM selector: DNS labels joined by dots, <= 63 characters
local_part         local part of an address: 1-64 of RFC 5322 atext and '.'
mail_address       local_part@domain
user_name          Linux account: ``[a-z_][a-z0-9_.-]{0,31}``
user_group         user_name or user_name:user_name
alias_name         /etc/aliases name: a local part not starting with '#'
access_key         sendmail access map key, tagged or not (cf/README "access")
access_value       what the key's tag takes: actions, ERROR:[D.S.N:]NNN text, FRIEND/HATER, numbers, ...
map_value          any other map value: one line
message            one line of text (DNSBL messages, extra config lines)
abs_path           absolute path of '/' and the portable file name characters ``[A-Za-z0-9._-]`` and '+'
                   (nothing a configuration syntax reads as a separator, quote, comment or variable)
duration           sendmail / milter-greylist time: ``300``, ``5m``, ``1h30m``
queue_interval     duration with an optional ``p`` (persistent queue runners)
sasl_mechanism     SASL mechanism name (RFC 4422 characters)
milter_socket      ``local:/path``, ``unix:/path``, ``inet:PORT@HOST``, ``inet6:PORT@HOST``
milter_name        sendmail milter name
macro_name         sendmail macro name: one character or ``{name}``
ip_address         IPv4 or IPv6 address (ASCII, no scope, no blanks)
ip_network         IP address or CIDR network
ipv4_prefix        sendmail's whole-octet IPv4 prefix (``192.168.2``)
port               TCP port 0-65535 (an int)
file_mode          octal file mode as text: ``660``, ``0640``
dovecot_setting    Dovecot setting name
sa_option          SpamAssassin local.cf option name
sa_language        SpamAssassin ok_languages code
sa_locale          SpamAssassin ok_locales code
m4_text            text sendmail.mc can hold inside m4 quotes: printable ASCII without `` ` ' ( ) , # ``
                   and without a word that names an m4 or sendmail.cf macro (``m4_reason(value)`` says why not)
smtp_text          sendmail error reply text (FEATURE(dnsbl) messages): printable ASCII, '"' in pairs, no backslash,
                   '$' only in macro references such as ``$&{client_addr}``, at most 400 characters
smart_host         SMART_HOST: host, [host], [IPv4], [IPv6:addr], optionally after ``mailer:``
count              whole number 0 or more: an int, or text of the digits 0-9 only
cipher_list        OpenSSL cipher string (letters, digits and ``_+!@=.:-``)
setting_name       name of an extra setting (OpenDKIM/OpenDMARC): a letter, then letters, digits, '_', '-'
milter_peer        OpenDKIM/OpenDMARC/pyspf-milter peer: IP address, CIDR network, host name or .domain
relay_domain       relay-domains line: a mail domain of two or more labels
relay_key          access key allowed to RELAY: an access key narrower than a top-level domain (localhost
                   excepted), a one-octet IPv4 prefix (/8) or a one-group IPv6 prefix
relay_host         a provider's relay to log in to: a host name (``smtp.provider.example``) or an IP address
sasl_login         a SASL login name (authinfo ``"U:..."``): 1-255 printable ASCII characters without space,
                   '"' or '\\' (``user``, ``user@provider.example``, ``apikey``)
sieve_script       Sieve script text (Dovecot's global and default scripts): lines of text, tab, CR and LF the
                   only control characters, not blank, at most 65536 characters; ``sievec`` compiles it on the host
quota_size         Dovecot quota limit: ``0`` (none) or whole bytes with an optional unit K, M, G, T (``500M``)
systemd_unit       systemd unit name: ``sendmail``, ``opendkim.service``, ``stunnel@relay`` (letters, digits, ``_.@-``)
=================  ==========================================================================

Secrets
=======
``is_secret(value)`` / ``check_secret(value, where)``: a password (the relay's login, ...) is any
non-empty text on one line without control characters. It is not a kind of ``KINDS``: its message
never shows the value (``"<where>: (value not shown) is not valid: ..."``), so that a wrong password
never reaches a log or an error.

Values inside m4 quotes
=======================
``in_m4(check_K)`` is the checker for a K that the sendmail templates put between m4 quotes: check_K,
then the m4 rule of ``m4_text`` (cf.m4 reads such a value again unquoted: a quote, parenthesis, comma
or '#' ends the argument or opens a comment, and a macro name in it runs the macro). ``m4_macro_name``
says whether a word is, or may be, one (GNU m4's builtins, sendmail-cf's macros and name patterns).

Error shape
===========
``problem(where, value, valid) -> str``
    ``"<where>: <repr of value> is not valid: <what is valid>"``; WHERE names the variable or the
    entry (``resolver_hostname``, ``sendmail_milters[0].socket``, ``key``).
``Problems``
    A list of such messages: ``Problems.add(where, value, valid)`` appends one,
    ``Problems.check(check_K, value, where, *context) -> bool`` appends the checker's message if
    there is one and says whether the value was valid; ``Problems.items(where, value, is_K, valid)``
    keeps the good items of a list once each and names each bad one by its index.

Other helpers: ``is_str(value)``, ``one_line(value)`` (non-empty text without control characters
other than tab), ``name_reason(value, host=True)`` (why a name is not one, or None),
``parse_milter_socket(value) -> dict | None``, ``duration_seconds(value)`` (a duration's seconds, or None), ``access_tag(key)``, the access map reasons
``access_key_reason(key)``, ``access_value_reason(value, key)``, ``host_reason(text)``,
``address_reason(text)``, ``relay_key_reason(key)``, ``smtp_error_reason(text, prefix)``, ``cidr_hint(text)`` (used by the
sendmail map module), ``is_dkim_record(value)`` and ``dkim_txt_value(text) -> str | None`` (the
record of an opendkim-genkey .txt file).

Performance: the access key and value checks have fast paths (PLAIN_HOST_RE, ADDRESS_KEY_RE,
ACCESS_ACTION_SET) that give exactly the full check's answer; 100,000 map entries check in well
under a second.
"""

from __future__ import annotations

import ipaddress
import re


# ---------------------------------------------------------------- error shape
def problem(where, value, valid):
    """The one message shape: '<where>: <repr of value> is not valid: <what is valid>'."""
    return f"{where}: {value!r} is not valid: {valid}"


class Problems(list):
    """A list of problem() messages."""

    def add(self, where, value, valid):
        self.append(problem(where, value, valid))

    def check(self, checker, value, where, *context):
        """Run check_K(value, where, *context); keep its message; True when the value is valid."""
        message = checker(value, where, *context)
        if message:
            self.append(message)
        return message is None

    def items(self, where, value, is_item, valid):
        """The items of list VALUE that IS_ITEM accepts, each once, in order; a VALUE that is not a list,
        and each refused item (named ``where[index]``), is a problem with VALID as what is valid."""
        if not isinstance(value, list):
            self.add(where, value, valid)
            return []
        out = []
        for index, item in enumerate(value):
            if not is_item(item):
                self.add(f"{where}[{index}]", item, valid)
            elif item not in out:
                out.append(item)
        return out


def is_str(value):
    return isinstance(value, str)


def _checker(is_valid, valid, reason=None):
    """check_K from is_K; REASON(value) may say more precisely what is wrong."""

    def check(value, where):
        if is_valid(value):
            return None
        detail = reason(value) if reason is not None and is_str(value) else None
        return problem(where, value, f"{valid} ({detail})" if detail else valid)

    return check


_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x80-\x9f\u2028\u2029]")


def one_line(value):
    """Non-empty (not only blanks) text on one line, without control characters other than tab."""
    return is_str(value) and bool(value.strip()) and _CONTROL_RE.search(value) is None


# ---------------------------------------------------------------- names
_DNS_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
LABEL_RE = re.compile(_DNS_LABEL)
HOST_LABEL_RE = re.compile(_HOST_LABEL)
DOMAIN_RE = re.compile(rf"(?:{_DNS_LABEL}\.)*{_DNS_LABEL}\.?")
HOSTNAME_RE = re.compile(rf"(?:{_HOST_LABEL}\.)*{_HOST_LABEL}\.?")
MAX_NAME = 253

VALID_LABEL = "a DNS label: 1-63 letters, digits, '_' or '-', not starting or ending with '-'"
VALID_DOMAIN = ("a domain name: DNS labels (1-63 letters, digits, '_' or '-', not starting or ending with '-') "
                "joined by dots, at most 253 characters, one trailing dot allowed")
VALID_HOSTNAME = ("a host name: labels of 1-63 letters, digits or inner hyphens joined by dots, "
                  "at most 253 characters, one trailing dot allowed")
VALID_SHORT_HOSTNAME = "a short host name: one label of 1-63 letters, digits or inner hyphens, without a dot"
VALID_FQDN = ("a fully qualified host name: two or more labels of 1-63 letters, digits or inner hyphens "
              "joined by dots (host.example.com), at most 253 characters")
VALID_MAIL_DOMAIN = ("a mail domain: labels of 1-63 letters, digits or inner hyphens joined by dots "
                     "(example.com), at most 253 characters, no trailing dot")
VALID_DNSBL_ZONE = "a DNS zone such as bl.spamcop.net: two or more labels of letters, digits or inner hyphens"
VALID_DKIM_SELECTOR = "a DKIM selector: DNS labels joined by dots, at most 63 characters (e.g. mail or 2025a)"


def _length_ok(value):
    return 0 < len(value.removesuffix(".")) <= MAX_NAME


def is_label(value):
    return is_str(value) and LABEL_RE.fullmatch(value) is not None


def is_domain(value):
    return is_str(value) and _length_ok(value) and DOMAIN_RE.fullmatch(value) is not None


def is_hostname(value):
    return is_str(value) and _length_ok(value) and HOSTNAME_RE.fullmatch(value) is not None


def is_short_hostname(value):
    return is_str(value) and HOST_LABEL_RE.fullmatch(value) is not None


def is_fqdn(value):
    return is_hostname(value) and "." in value.removesuffix(".") and not value.endswith(".")


def is_mail_domain(value):
    return is_hostname(value) and not value.endswith(".")


def is_dnsbl_zone(value):
    return is_fqdn(value)


def is_dkim_selector(value):
    return is_domain(value) and not value.endswith(".") and len(value) <= 63


def name_reason(value, host=True):
    """Why VALUE (a str) is not a host name (HOST) or domain name: a short sentence, or None."""
    if not value:
        return "it is empty"
    if len(value.removesuffix(".")) > MAX_NAME:
        return f"it is longer than {MAX_NAME} characters"
    label_re = HOST_LABEL_RE if host else LABEL_RE
    for label in value.removesuffix(".").split("."):
        if not label:
            return "it has an empty label: a leading, doubled or extra trailing dot"
        if len(label) > 63:
            return f"label {label!r} is longer than 63 characters"
        if not label_re.fullmatch(label):
            chars = "letters, digits or inner hyphens" if host else "letters, digits, '_' or inner hyphens"
            return f"label {label!r} is not 1-63 {chars}"
    return None


check_label = _checker(is_label, VALID_LABEL)
check_domain = _checker(is_domain, VALID_DOMAIN, lambda v: name_reason(v, host=False))
check_hostname = _checker(is_hostname, VALID_HOSTNAME, name_reason)
check_short_hostname = _checker(is_short_hostname, VALID_SHORT_HOSTNAME,
                                lambda v: "it contains a dot" if "." in v else name_reason(v))
check_fqdn = _checker(is_fqdn, VALID_FQDN,
                      lambda v: name_reason(v) or ("it ends with a dot" if v.endswith(".") else "it has only one label"))
check_mail_domain = _checker(is_mail_domain, VALID_MAIL_DOMAIN,
                             lambda v: name_reason(v) or ("it ends with a dot" if v.endswith(".") else None))
check_dnsbl_zone = _checker(is_dnsbl_zone, VALID_DNSBL_ZONE)
check_dkim_selector = _checker(is_dkim_selector, VALID_DKIM_SELECTOR)


# ---------------------------------------------------------------- mail addresses and accounts
LOCAL_PART_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
USER_NAME_RE = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")

VALID_LOCAL_PART = "a local part: 1-64 letters, digits or !#$%&'*+/=?^_`{|}~.- (the part before @)"
VALID_MAIL_ADDRESS = "a mail address user@domain (e.g. postmaster@example.com)"
VALID_USER_NAME = "a Linux user name: a lower-case letter or '_', then up to 31 lower-case letters, digits, '_', '.' or '-'"
VALID_USER_GROUP = "a Linux user name, optionally with a group as user:group"
VALID_ALIAS_NAME = "an alias name: a local part (letters, digits, !#$%&'*+/=?^_`{|}~.-) not starting with '#'"


def is_local_part(value):
    return is_str(value) and LOCAL_PART_RE.fullmatch(value) is not None


def is_mail_address(value):
    if not is_str(value):
        return False
    local, sep, dom = value.rpartition("@")
    return bool(sep) and is_local_part(local) and is_domain(dom)


def is_user_name(value):
    return is_str(value) and USER_NAME_RE.fullmatch(value) is not None


def is_user_group(value):
    if not is_str(value):
        return False
    user, sep, group = value.partition(":")
    return is_user_name(user) and (not sep or is_user_name(group))


def is_alias_name(value):
    return is_local_part(value) and not value.startswith("#")


check_local_part = _checker(is_local_part, VALID_LOCAL_PART)
check_mail_address = _checker(is_mail_address, VALID_MAIL_ADDRESS)
check_user_name = _checker(is_user_name, VALID_USER_NAME)
check_user_group = _checker(is_user_group, VALID_USER_GROUP)
check_alias_name = _checker(is_alias_name, VALID_ALIAS_NAME)


# ---------------------------------------------------------------- addresses and networks
IPV4_PREFIX_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){0,3}")
VALID_IP_ADDRESS = "an IP address, IPv4 or IPv6 (e.g. 192.168.1.10 or 2001:db8::1)"
VALID_IP_NETWORK = "an IP address or network in CIDR notation (e.g. 192.168.1.0/24, 2001:db8::/32, 127.0.0.1)"
VALID_IPV4_PREFIX = "an IPv4 address or a prefix of 1-4 whole octets, each 0-255 (e.g. 192.168.2)"
VALID_PORT = "a TCP port number 0-65535"


def _ip_text(value):
    return is_str(value) and value.isascii() and value != "" and not any(c.isspace() or c in "%\x00" for c in value)


def is_ip_address(value):
    if not _ip_text(value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_ip_network(value):
    if not _ip_text(value):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def is_ipv4_prefix(value):
    return (is_str(value) and IPV4_PREFIX_RE.fullmatch(value) is not None
            and all(int(octet) <= 255 for octet in value.split(".")))


def is_port(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535


check_ip_address = _checker(is_ip_address, VALID_IP_ADDRESS)
check_ip_network = _checker(is_ip_network, VALID_IP_NETWORK)
check_ipv4_prefix = _checker(is_ipv4_prefix, VALID_IPV4_PREFIX)
check_port = _checker(is_port, VALID_PORT)


# ---------------------------------------------------------------- text, paths, times, modes
DURATION_RE = re.compile(r"(?:[0-9]+[smhdw])*[0-9]+[smhdw]?")
FILE_MODE_RE = re.compile(r"[0-7]{3,4}")
SASL_MECHANISM_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
# The portable file name characters (POSIX) and '+': nothing a configuration syntax reads as a separator,
# a quote, a comment, a variable or a section (dovecot.conf, key.table, greylist.conf, sendmail.mc).
ABS_PATH_RE = re.compile(r"/[A-Za-z0-9._+/-]*")
CIPHER_LIST_RE = re.compile(r"[A-Za-z0-9_+!@=.:-]{1,1000}")

VALID_MESSAGE = "one line of text, without newlines or other control characters"
VALID_MAP_VALUE = "a non-empty value on one line, without control characters"
VALID_ABS_PATH = ("an absolute path: / and names of letters, digits, '.', '_', '-' and '+' (no spaces, quotes, "
                  "':', '#', ',', '$', '%', parentheses or control characters)")
VALID_DURATION = ("a duration: a number of seconds or numbers with units s, m, h, d, w "
                  "(e.g. 300, 30s, 5m, 1h30m, 1d12h)")
VALID_QUEUE_INTERVAL = "a duration such as 10m or 1h30m, with 'p' in front for persistent queue runners (p5s)"
VALID_FILE_MODE = "an octal file mode such as 660 or 0640"
VALID_SASL_MECHANISM = "a SASL mechanism name: 1-20 letters, digits, '-' or '_' (plain, login, cram-md5, ...)"


def is_message(value):
    return one_line(value)


def is_map_value(value):
    return one_line(value)


def is_abs_path(value):
    return is_str(value) and ABS_PATH_RE.fullmatch(value) is not None


def is_duration(value):
    return is_str(value) and DURATION_RE.fullmatch(value) is not None


def is_queue_interval(value):
    return is_str(value) and is_duration(value.removeprefix("p"))


def is_file_mode(value):
    return is_str(value) and FILE_MODE_RE.fullmatch(value) is not None


def is_sasl_mechanism(value):
    return is_str(value) and SASL_MECHANISM_RE.fullmatch(value) is not None


check_message = _checker(is_message, VALID_MESSAGE)
check_map_value = _checker(is_map_value, VALID_MAP_VALUE)
check_abs_path = _checker(is_abs_path, VALID_ABS_PATH)
check_duration = _checker(is_duration, VALID_DURATION)
_DURATION_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART_RE = re.compile(r"([0-9]+)([smhdw]?)")


def duration_seconds(value):
    """The seconds of a valid duration ('1h30m' -> 5400; an int counts as seconds); None when VALUE is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not is_duration(value):
        return None
    return sum(int(number) * _DURATION_UNIT_SECONDS[unit or "s"] for number, unit in _DURATION_PART_RE.findall(value))


check_queue_interval = _checker(is_queue_interval, VALID_QUEUE_INTERVAL)
check_file_mode = _checker(is_file_mode, VALID_FILE_MODE)
check_sasl_mechanism = _checker(is_sasl_mechanism, VALID_SASL_MECHANISM)


# ---------------------------------------------------------------- milters and sendmail macros
MILTER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MACRO_NAME_RE = re.compile(r"[A-Za-z_]|\{[A-Za-z0-9_]+\}")
_INET_RE = re.compile(r"(inet6?):([0-9]{1,5})@(.+)")
VALID_MILTER_SOCKET = ("a milter socket: local:/path, unix:/path, inet:PORT@HOST or inet6:PORT@HOST "
                       "(HOST a host name or IP address, PORT 1-65535)")
VALID_MILTER_NAME = "a milter name: a letter or digit, then letters, digits, '-' or '_'"
VALID_MACRO_NAME = "a sendmail macro name: one letter or '_', or {name}"


def parse_milter_socket(value):
    """{'family': 'local', 'path': ...} or {'family': 'inet'/'inet6', 'port': int, 'host': str}; None if invalid."""
    if not is_str(value):
        return None
    family, sep, rest = value.partition(":")
    if sep and family in ("local", "unix"):
        return {"family": "local", "path": rest} if is_abs_path(rest) else None
    match = _INET_RE.fullmatch(value)
    if not match:
        return None
    port, host = int(match.group(2)), match.group(3)
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not 0 < port <= 65535 or not (is_ip_address(bare) or (bare == host and is_hostname(host))):
        return None
    return {"family": match.group(1), "port": port, "host": bare}


def is_milter_socket(value):
    return parse_milter_socket(value) is not None


def is_milter_name(value):
    return is_str(value) and MILTER_NAME_RE.fullmatch(value) is not None


def is_macro_name(value):
    return is_str(value) and MACRO_NAME_RE.fullmatch(value) is not None


check_milter_socket = _checker(is_milter_socket, VALID_MILTER_SOCKET)
check_milter_name = _checker(is_milter_name, VALID_MILTER_NAME)
check_macro_name = _checker(is_macro_name, VALID_MACRO_NAME)


# ---------------------------------------------------------------- sendmail.mc: values inside m4 quotes
# A value the sendmail templates put between m4 quotes (`value') is read again, unquoted, when cf.m4
# expands the macro it went into (MASQUERADE_AS, SMART_HOST, confCACERT, FEATURE(dnsbl), ...): a quote,
# parenthesis, comma or '#' then ends the argument or opens a comment, and a word that names a macro
# runs it (dnl eats the rest of the line, m4exit ends sendmail.cf there, FEATURE or LOCAL_CONFIG move
# text elsewhere). So such a value is printable ASCII without those characters and without macro names.
M4_SPECIALS = "`'(),#"
M4_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# GNU m4's builtins (m4 1.4), with and without arguments.
M4_BUILTINS = frozenset((
    "__file__", "__gnu__", "__line__", "__os2__", "__program__", "__unix__", "__windows__", "builtin", "changecom",
    "changequote", "changeword", "debugfile", "debugmode", "decr", "define", "defn", "divert", "divnum", "dnl", "dumpdef",
    "errprint", "esyscmd", "eval", "format", "ifdef", "ifelse", "include", "incr", "index", "indir", "len", "m4exit",
    "m4wrap", "maketemp", "mkstemp", "patsubst", "popdef", "pushdef", "regexp", "shift", "sinclude", "substr",
    "syscmd", "sysval", "traceoff", "traceon", "translit", "undefine", "undivert",
))
# sendmail's cf macros that the rules of m4_macro_name() do not already cover (cf/m4, feature, mailer, ...).
SENDMAIL_CF_MACROS = frozenset((
    "CHKORX", "CONCAT", "DOL", "DOMAIN", "FEATURE", "HACK", "MAILER", "OSTYPE", "POPDIVERT", "PUSHDIVERT", "SITE",
    "SITECONFIG", "TEMPFILE", "UUCPSMTP", "VERSIONID", "hpux", "lower", "strcasecmp",
))
VALID_M4_TEXT = ("text that sendmail.mc can hold inside m4 quotes: printable ASCII without ` ' ( ) , # "
                 "and without a word that names an m4 or sendmail.cf macro (dnl, divert, m4exit, FEATURE, "
                 "LOCAL_CONFIG, confX, _X_, ...)")


def m4_macro_name(word):
    """True when WORD (an m4 word) is, or may be, an m4 builtin or a sendmail.cf macro."""
    return (word in M4_BUILTINS or word in SENDMAIL_CF_MACROS or word.startswith(("m4_", "sm_"))
            or (word[0] == "_" and len(word) > 1)  # _DNSBL_SRV_, _hd_, _MAILER_local_ (a lone _ is a sendmail macro)
            or (word.startswith("conf") and word[4:5].isupper())  # confCACERT, confAUTH_OPTIONS
            or ("_" in word and word.upper() == word != "_"))  # LOCAL_CONFIG, RELAY_DOMAIN, LOCAL_RULE_0


def m4_reason(value):
    """Why VALUE (a str) cannot sit inside m4 quotes in sendmail.mc, or None."""
    for char in value:
        if not " " <= char <= "~":
            return f"it contains {char!r}, which is not printable ASCII"
        if char in M4_SPECIALS:
            return f"it contains {char!r}, which ends an m4 quote or argument, or opens a comment"
    for word in M4_WORD_RE.findall(value):
        if m4_macro_name(word):
            return f"{word!r} names an m4 or sendmail.cf macro, which m4 would run"
    return None


def is_m4_text(value):
    return is_str(value) and value.strip() != "" and m4_reason(value) is None


check_m4_text = _checker(is_m4_text, VALID_M4_TEXT, m4_reason)


def in_m4(check):
    """The checker CHECK (a check_K) for a value that sits inside m4 quotes: check_K, then the m4 rule."""

    def check_in_m4(value, where, *context):
        message = check(value, where, *context)
        if message is not None or not is_str(value):
            return message
        reason = m4_reason(value)
        return None if reason is None else problem(where, value, f"{VALID_M4_TEXT} ({reason})")

    return check_in_m4


# ---------------------------------------------------------------- sendmail settings
# The text of a sendmail error reply (FEATURE(dnsbl)'s message): the $: part of a rule in sendmail.cf,
# "quoted strings" and macro references ("550 Rejected: " $&{client_addr} " listed"). '$' starts an
# operator there ($#, $@, $:), so it appears only in macro references; a '"' left open or a '\' would
# change where a quoted string ends.
SMTP_TEXT_RE = re.compile(r"(?:[ !\"#%&'()*+,\-./0-9:;<=>?@A-Z\[\]^_`a-z{|}~]|\$&?(?:[A-Za-z]|\{[A-Za-z0-9_]+\}))+")
SMTP_TEXT_MAX = 400
SMART_HOST_RE = re.compile(r"(?:([a-z][a-z0-9_-]*):)?(\[(?:IPv6:)?([^\]]*)\]|[^\[\]]*)")
VALID_SMTP_TEXT = ("reply text of at most 400 printable ASCII characters, without \\, with \" only in pairs "
                   "(\"quoted strings\") and $ only in sendmail macro references such as $&{client_addr}")
VALID_SMART_HOST = ("a host name (mail.example.com) or, without the MX lookup, [host name] or [IP address] "
                    "([192.0.2.1], [IPv6:2001:db8::1]), optionally after a mailer (relay:, esmtp:, smtp:)")
VALID_COUNT = "a whole number, 0 or more (an integer, or text of the digits 0-9)"
VALID_CIPHER_LIST = "an OpenSSL cipher string: letters, digits and _ + ! @ = . : - (e.g. ECDHE-RSA-AES128-GCM-SHA256:...)"
VALID_SETTING_NAME = "a setting name: a letter, then letters, digits, '_' and '-' (Canonicalization, On-Default)"
SETTING_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def is_smtp_text(value):
    return (is_str(value) and value.strip() != "" and len(value) <= SMTP_TEXT_MAX
            and SMTP_TEXT_RE.fullmatch(value) is not None and value.count('"') % 2 == 0)


def is_smart_host(value):
    if not is_str(value):
        return False
    match = SMART_HOST_RE.fullmatch(value)
    if not match:
        return False
    host = match.group(2)
    if host.startswith("[IPv6:"):
        return is_ip_address(match.group(3)) and ":" in match.group(3)
    name = match.group(3) if host.startswith("[") else host
    if name.replace(".", "").isdigit():  # a dotted number is an IPv4 address, and only in brackets
        return host.startswith("[") and is_ip_address(name)
    return is_mail_domain(name)


def is_count(value):
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and value >= 0) or (is_str(value) and NUMBER_RE.fullmatch(value) is not None)


def is_cipher_list(value):
    return is_str(value) and CIPHER_LIST_RE.fullmatch(value) is not None


def is_setting_name(value):
    return is_str(value) and SETTING_NAME_RE.fullmatch(value) is not None


check_smtp_text = _checker(is_smtp_text, VALID_SMTP_TEXT)
check_smart_host = _checker(is_smart_host, VALID_SMART_HOST)
check_count = _checker(is_count, VALID_COUNT)
check_cipher_list = _checker(is_cipher_list, VALID_CIPHER_LIST)
check_setting_name = _checker(is_setting_name, VALID_SETTING_NAME)


# ---------------------------------------------------------------- milter peer lists
VALID_MILTER_PEER = ("an IP address, a network in CIDR notation (192.168.1.0/24) or a host name, optionally with a "
                     "leading '.' for every host under it (.example.com)")


def is_milter_peer(value):
    """An OpenDKIM/OpenDMARC/pyspf-milter peer list entry."""
    return is_str(value) and (is_ip_network(value) or is_mail_domain(value.removeprefix(".")))


check_milter_peer = _checker(is_milter_peer, VALID_MILTER_PEER)


# ---------------------------------------------------------------- relaying through a provider (smart host with a login)
SASL_LOGIN_RE = re.compile(r'[!#-\[\]-~]{1,255}')
SECRET_MAX = 1024
VALID_RELAY_HOST = ("the relay's host name (smtp.provider.example) or IP address (192.0.2.25, 2001:db8::25), "
                    "without brackets, port or mailer")
VALID_SASL_LOGIN = ("a login name of 1-255 printable ASCII characters without spaces, '\"' or '\\' "
                    "(user, user@provider.example, apikey)")
VALID_SECRET = ("a non-empty password on one line, at most 1024 characters, without newlines or other control "
                "characters (a password read from a file often ends with a newline: strip it)")


def is_relay_host(value):
    if not is_str(value):
        return False
    if value.replace(".", "").isdigit() or ":" in value:
        return is_ip_address(value)
    return is_mail_domain(value)


def is_sasl_login(value):
    return is_str(value) and SASL_LOGIN_RE.fullmatch(value) is not None


def is_secret(value):
    return is_str(value) and len(value) <= SECRET_MAX and one_line(value) and "\t" not in value


def check_secret(value, where):
    """None for a valid secret, else a message that names WHERE and never shows the value."""
    return None if is_secret(value) else f"{where}: (value not shown) is not valid: {VALID_SECRET}"


check_relay_host = _checker(is_relay_host, VALID_RELAY_HOST)
check_sasl_login = _checker(is_sasl_login, VALID_SASL_LOGIN)


# ---------------------------------------------------------------- program settings
DOVECOT_SETTING_RE = re.compile(r"[a-z][a-z0-9_]*")
SA_OPTION_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SA_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:_[a-z]{2,3})?|all")
SA_LOCALE_RE = re.compile(r"[a-z]{2}|all")
VALID_DOVECOT_SETTING = "a Dovecot setting name: a lower-case letter, then lower-case letters, digits and _"
VALID_SA_OPTION = "a local.cf option name: a letter or '_', then letters, digits and '_'"
VALID_SA_LANGUAGE = "a language code such as en or pt_br, or all"
VALID_SA_LOCALE = "a locale code such as en, ja, ko, ru, th, zh, or all"


def is_dovecot_setting(value):
    return is_str(value) and DOVECOT_SETTING_RE.fullmatch(value) is not None


def is_sa_option(value):
    return is_str(value) and SA_OPTION_RE.fullmatch(value) is not None


def is_sa_language(value):
    return is_str(value) and SA_LANGUAGE_RE.fullmatch(value) is not None


def is_sa_locale(value):
    return is_str(value) and SA_LOCALE_RE.fullmatch(value) is not None


check_dovecot_setting = _checker(is_dovecot_setting, VALID_DOVECOT_SETTING)
check_sa_option = _checker(is_sa_option, VALID_SA_OPTION)
check_sa_language = _checker(is_sa_language, VALID_SA_LANGUAGE)
check_sa_locale = _checker(is_sa_locale, VALID_SA_LOCALE)


# ---------------------------------------------------------------- DKIM records
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def is_dkim_record(value):
    return is_str(value) and value.startswith("v=DKIM1") and "p=" in value


def dkim_txt_value(text):
    """The TXT value of an opendkim-genkey .txt file (its quoted strings joined), or None if it holds no DKIM key."""
    if not is_str(text):
        return None
    body = text.split("(", 1)[1].rsplit(")", 1)[0] if "(" in text else text
    joined = "".join(s.replace('\\"', '"').replace("\\\\", "\\") for s in _QUOTED_RE.findall(body))
    value = " ".join(joined.split())
    return value if is_dkim_record(value) else None


# ---------------------------------------------------------------- sendmail access map (cf/README "access")
_OCTET = r"(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])"
# Fast path only: a key that matches gets exactly the answer (None) the full check would give.
PLAIN_HOST_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{0,3}}|[A-Za-z_](?:[A-Za-z0-9_-]{{0,61}}[A-Za-z0-9_])?"
                           rf"(?:\.{_DNS_LABEL})*\.?")
# untagged user@domain: exactly the keys address_reason() accepts with a local part and a domain of at most 253 characters
ADDRESS_KEY_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@" + rf"(?:{_DNS_LABEL}\.)*{_DNS_LABEL}\.?")
IPV6_TEXT_RE = re.compile(r"[0-9A-Fa-f:.]+")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]").search
SMTP_REPLY_RE = re.compile(r"(?:([245])\.[0-9]{1,3}\.[0-9]{1,3}:)?([45])[0-9]{2}(?:[ \t]+\S.*)?", re.DOTALL)
TLS_RE = re.compile(r"(?:(?:PERM|TEMP)\+)?(?:VERIFY(?::[0-9]+)?|ENCR:[0-9]+)"
                    r"(?:\+(?:CN(?::\S+)?|CS:\S+|CI:\S+))*", re.IGNORECASE)
FEATURES_RE = re.compile(r"[A-Za-z](?:[ \t]+[A-Za-z])*")
NUMBER_RE = re.compile(r"[0-9]+")
HAS_SPACE = re.compile(r"\s").search

ACCESS_ACTIONS = ("OK", "RELAY", "REJECT", "DISCARD", "SKIP")
ACCESS_ACTION_SET = frozenset(ACCESS_ACTIONS)
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
# tags whose entries take something other than an action on the right-hand side
ACCESS_VALUE_TAGS = frozenset(("spam", "try_tls", "srv_features", "clt_features")) | ACCESS_NUMERIC_TAGS | ACCESS_TLS_TAGS
VALID_ACCESS_KEY = ("an access map key: an IPv4 address or whole-octet prefix (192.168.2), IPv6:<address or prefix>, "
                    "a domain (example.com), user@domain or user@, optionally after a tag "
                    "({})".format(", ".join(t + ":" for t in ACCESS_TAGS.values())))
VALID_ACCESS_ACTION = ("OK, RELAY, REJECT, DISCARD, SKIP, ERROR:[D.S.N:]NNN text (NNN a 4xx/5xx reply code, "
                       "e.g. ERROR:5.7.1:550 Access denied or ERROR:\"550 Access denied\") or QUARANTINE:reason")
VALID_ACCESS_VALUE = (VALID_ACCESS_ACTION + "; FRIEND or HATER with Spam:, a number with GreetPause:/ClientRate:/"
                      "ClientConn:, VERIFY/ENCR:bits with TLS_*:, YES/NO with Try_TLS:, letters with *_Features:")


def access_tag(key):
    """The lower-case tag of an access key ('' for none or IPv6:)."""
    tag, sep, _rest = key.partition(":")
    ltag = tag.lower()
    return ltag if sep and ltag in ACCESS_TAGS else ""


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


def host_reason(text, name=None):
    """Why TEXT is not an access map host part (IPv4 prefix, IPv6:..., domain), or None; NAME: how to call TEXT."""
    name = name or repr(text)
    if "/" in text:
        return cidr_hint(text[5:] if text[:5].lower() == "ipv6:" else text)
    if text[:5].lower() == "ipv6:":
        rest = text[5:]
        if rest and IPV6_TEXT_RE.fullmatch(rest) and ":" in rest:
            return None
        return f"{name} is not a valid IPv6: form; write IPv6:2001:db8::1 or a prefix IPv6:2001:db8"
    if text[:1].isdigit() and text.replace(".", "").isdigit():
        return None if is_ipv4_prefix(text) else f"{name} is not {VALID_IPV4_PREFIX}"
    return None if is_domain(text) else f"{name} is not {VALID_DOMAIN}"


def address_reason(text, allow_user_only=True, name=None):
    """Why TEXT is not user@domain, user@ (ALLOW_USER_ONLY) or an access map host part, or None."""
    if "@" not in text:
        return host_reason(text, name)
    user, _sep, dom = text.rpartition("@")
    if not user:
        return f"a leading @ is not an access map form; use the bare domain {dom!r} to match a domain"
    if LOCAL_PART_RE.fullmatch(user) is None:
        return f"the local part {user!r} is not {VALID_LOCAL_PART}"
    if not dom:
        return None if allow_user_only else "it needs a domain after @"
    return None if _length_ok(dom) and DOMAIN_RE.fullmatch(dom) else f"the domain {dom!r} is not {VALID_DOMAIN}"


def access_key_reason(key):
    """Why KEY is not an access map key (cf/README), or None."""
    if not key:
        return "it is empty; " + VALID_ACCESS_KEY
    if _SPACE_OR_CONTROL(key):
        return "it contains whitespace or control characters; it must be one token; " + VALID_ACCESS_KEY
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
        return f"tag {tag}: needs something after the colon; {VALID_ACCESS_KEY}"
    if ltag in ("certissuer", "certsubject"):
        return None
    if ltag == "from" and rest == "<>":
        return None
    if ltag in ACCESS_HOST_TAGS and "@" in rest:
        return f"tag {ACCESS_TAGS[ltag]}: takes a host, domain or IP address, not an e-mail address"
    err = address_reason(rest, name="it" if rest == key else None)
    if err is None or "CIDR" in err:
        return err
    return f"{err}; {VALID_ACCESS_KEY}"


def is_access_key(value):
    return check_access_key(value, "") is None


def check_access_key(value, where):
    if isinstance(value, str):  # Ansible hands filters str subclasses (tagged strings)
        # fast paths, the bulk of a large access map: untagged domain, IPv4 (prefix) or user@domain
        if len(value) <= MAX_NAME and (PLAIN_HOST_RE.fullmatch(value) or ADDRESS_KEY_RE.fullmatch(value)):
            return None
        reason = access_key_reason(value)
        return None if reason is None else problem(where, value, reason)
    return problem(where, value, VALID_ACCESS_KEY)


def smtp_error_reason(text, prefix):
    """PREFIX[D.S.N:]NNN text, the part after PREFIX optionally in double quotes (cf/README); why not, or None."""
    body = text[len(prefix):]
    if len(body) >= 2 and body[0] == body[-1] == '"':
        body = body[1:-1]
    m = SMTP_REPLY_RE.fullmatch(body)
    if not m:
        return (f"write {prefix}[D.S.N:]NNN text with a 4xx/5xx reply code, "
                f"e.g. {prefix}5.7.1:550 Access denied or {prefix}\"550 Access denied\"")
    if m.group(1) and m.group(1) != m.group(2):
        return f"enhanced status {m.group(1)}.x.x does not match reply code {m.group(2)}xx"
    return None


def access_value_reason(value, key=""):
    """Why VALUE is not the right-hand side of access map KEY (what its tag takes), or None."""
    if not value.strip() or _CONTROL_RE.search(value):
        return "it is empty or not one line; valid: " + VALID_ACCESS_VALUE
    ltag = access_tag(key) if ":" in key else ""
    up = value.upper()
    if ltag == "spam":
        return None if up in ("FRIEND", "HATER") else "Spam: entries take FRIEND or HATER"
    if ltag in ACCESS_NUMERIC_TAGS:
        return None if NUMBER_RE.fullmatch(value) else f"{ACCESS_TAGS[ltag]}: entries take a number (0 or more)"
    if ltag in ACCESS_TLS_TAGS:
        return None if TLS_RE.fullmatch(value) else (
            f"{ACCESS_TAGS[ltag]}: entries take a TLS requirement such as VERIFY, VERIFY:112, ENCR:128, optionally "
            "PERM+/TEMP+ prefixed and +CN:name/+CS:subject/+CI:issuer suffixed")
    if ltag == "try_tls":
        return None if up in ("YES", "NO") else "Try_TLS: entries take YES or NO"
    if ltag in ("srv_features", "clt_features"):
        return None if FEATURES_RE.fullmatch(value) else (
            f"{ACCESS_TAGS[ltag]}: entries take feature letters separated by spaces (e.g. 'V l')")
    if up in ACCESS_ACTIONS:
        return None
    if up == "ACCEPT":
        return "use OK (not ACCEPT); valid: " + VALID_ACCESS_ACTION
    if up.startswith("ERROR:"):
        return smtp_error_reason(value, value[:6])
    if up.startswith("QUARANTINE:"):
        return None if value[11:].strip() else "QUARANTINE: needs a reason, e.g. QUARANTINE:suspicious sender"
    if SMTP_REPLY_RE.fullmatch(value.strip('"')):
        return f"the bare reply code form is deprecated (cf/README); write ERROR:{value.strip(chr(34))}"
    return VALID_ACCESS_VALUE


def is_access_value(value, key=""):
    return check_access_value(value, "", key) is None


def check_access_value(value, where, key=""):
    if not isinstance(value, str):  # Ansible hands filters str subclasses (tagged strings)
        return problem(where, value, VALID_ACCESS_VALUE)
    if not isinstance(key, str):
        key = ""
    if value in ACCESS_ACTION_SET and (":" not in key or key.partition(":")[0].lower() not in ACCESS_VALUE_TAGS):
        return None  # fast path: OK/RELAY/REJECT/DISCARD/SKIP as written, for a key whose tag takes actions
    reason = access_value_reason(value, key)
    return None if reason is None else problem(where, value, reason)


# ---------------------------------------------------------------- relaying
# An access key with RELAY, or a relay-domains line, opens relaying for everything under it: a single
# label is a whole top-level domain (com RELAY relays to and from every .com host), a one-octet prefix
# 16,777,216 addresses. localhost is the one single-label name that means one host.
RELAY_TAGS = ("", "connect", "from", "to")
VALID_RELAY_DOMAIN = ("a domain of two or more labels (example.com): a single label such as com would relay for a "
                      "whole top-level domain")
VALID_RELAY_KEY = ("a relay client or domain narrower than a top-level domain or a /8: a domain of two or more labels "
                   "(or localhost), an IPv4 prefix of two or more octets (192.168.2), an IPv6 prefix of two or more groups")


def is_relay_domain(value):
    return is_mail_domain(value) and "." in value


def relay_key_reason(key):
    """Why access key KEY (a valid one) is too broad to RELAY, or None."""
    tag = access_tag(key)
    if tag not in RELAY_TAGS or (not tag and key[:5].lower() != "ipv6:" and ":" in key):
        return None
    rest = key.partition(":")[2] if tag else key
    if "@" in rest:
        return None
    if rest[:5].lower() == "ipv6:":
        if "::" not in rest and len([group for group in rest[5:].split(":") if group]) < 2:
            return f"{rest} is one 16-bit group: it would let a whole /16 relay"
        return None
    if rest.replace(".", "").isdigit():
        if "." not in rest:
            return f"{rest} is a one-octet prefix: it would let all of {rest}.0.0.0/8 (16,777,216 addresses) relay"
        return None
    name = rest.removesuffix(".")
    if is_domain(rest) and "." not in name and name.lower() != "localhost":
        return f"{rest} is a single label: it would relay for every host under it, a whole top-level domain"
    return None


def is_relay_key(value):
    return is_access_key(value) and relay_key_reason(value) is None


def check_relay_key(value, where):
    message = check_access_key(value, where)
    if message is not None:
        return message
    reason = relay_key_reason(value)
    return None if reason is None else problem(where, value, f"{VALID_RELAY_KEY} ({reason})")


check_relay_domain = _checker(is_relay_domain, VALID_RELAY_DOMAIN,
                              lambda v: name_reason(v) or ("it ends with a dot" if v.endswith(".") else
                                                           "it is a single label" if "." not in v else None))


# ---------------------------------------------------------------- scripts and sizes
SIEVE_SCRIPT_MAX = 65536
# Lines of text: tab, CR and LF are the only control characters a script may hold.
_SCRIPT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
QUOTA_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,12}[KMGT]?")
VALID_SIEVE_SCRIPT = ("a Sieve script: text of one or more lines (tab, CR and LF are the only control characters), "
                      "not blank, at most 65536 characters")
VALID_QUOTA_SIZE = "a size: 0 (no limit) or a whole number of bytes with an optional unit K, M, G or T (e.g. 500M, 2G)"


def is_sieve_script(value):
    return (is_str(value) and bool(value.strip()) and len(value) <= SIEVE_SCRIPT_MAX
            and _SCRIPT_CONTROL_RE.search(value) is None)


def is_quota_size(value):
    return is_str(value) and QUOTA_SIZE_RE.fullmatch(value) is not None


check_sieve_script = _checker(is_sieve_script, VALID_SIEVE_SCRIPT)
check_quota_size = _checker(is_quota_size, VALID_QUOTA_SIZE)


# ---------------------------------------------------------------- systemd
SYSTEMD_UNIT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")
VALID_SYSTEMD_UNIT = "a systemd unit name (sendmail, dovecot, opendkim.service): letters, digits and _ . @ -"


def is_systemd_unit(value):
    return is_str(value) and SYSTEMD_UNIT_RE.fullmatch(value) is not None


check_systemd_unit = _checker(is_systemd_unit, VALID_SYSTEMD_UNIT)


# ---------------------------------------------------------------- message headers
# RFC 5322 2.2: a field name is printable US-ASCII but the colon; here letters, digits and - (every
# header the collection names, and safe inside a Sieve string and a procmail pattern).
HEADER_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,75}")
VALID_HEADER_NAME = "a message header name (X-Spam-Checker-Version): a letter, then letters, digits and -"


def is_header_name(value):
    return is_str(value) and HEADER_NAME_RE.fullmatch(value) is not None


check_header_name = _checker(is_header_name, VALID_HEADER_NAME)


# ---------------------------------------------------------------- registry
KINDS = {
    name: (globals()["is_" + name], globals()["check_" + name])
    for name in (
        "label", "domain", "hostname", "short_hostname", "fqdn", "mail_domain", "dnsbl_zone", "dkim_selector",
        "local_part", "mail_address", "user_name", "user_group", "alias_name", "access_key", "access_value",
        "map_value", "message", "abs_path", "duration", "queue_interval", "sasl_mechanism", "milter_socket",
        "milter_name", "macro_name", "ip_address", "ip_network", "ipv4_prefix", "port", "file_mode",
        "dovecot_setting", "sa_option", "sa_language", "sa_locale", "m4_text", "smtp_text", "smart_host", "count",
        "cipher_list", "setting_name", "milter_peer", "relay_domain", "relay_key", "relay_host", "sasl_login",
        "sieve_script", "quota_size", "systemd_unit", "header_name",
    )
}

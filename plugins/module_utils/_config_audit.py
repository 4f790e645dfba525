# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The second line of defence: what a built configuration holds, compared with what the variables ask for.

Pure functions (no files, no commands): homelab.mailserver.config_build runs them on its candidate
after the daemon's own check and before anything is installed.

sendmail_cf
    The entries of sendmail.cf (or submit.cf) that widen who may relay or who is trusted, or that add
    a way to deliver: the relay class R (``C{R}``/``CR`` words, ``F{R}``/``FR`` files), the trusted
    users (class t: ``T`` lines, ``Ct``/``C{t}`` words, ``Ft``/``F{t}`` files, and the ``TrustedUser``
    option), the mailers (``M`` lines) and the relay-widening FEATUREs (their ``$Id`` banner in the
    built file). Each must be in the expected lists, or be declared by one of the raw .mc lines the
    variables hand over (``mc_lines``: ``RELAY_DOMAIN()``, ``MAILER()``, ``FEATURE()``, literal
    ``C{R}``/``T``/``M`` lines and so on).
dovecot_conf
    Every setting, section and ``!include`` of dovecot.conf by its path (``service imap-login/
    inet_listener imaps/port``): the candidate must hold exactly the expected entries, each as often
    as expected, plus those of the raw ``extra_config`` text. An entry that appeared (or appears once
    more) is reported, and so is an expected one that is missing (a value ending in a backslash
    would swallow the next line).

The parsers follow the daemons' own readers: sendmail's readcf (lines end at a newline only, a line
starting with a space or a tab continues the previous one, ``#`` after the first character starts a
comment unless it follows ``$`` or ``\\``, words are separated by ASCII white space), and Dovecot's
config parser (lines end at a newline only, ``#`` outside quotes starts a comment, a trailing
backslash continues the line in the next one that is not empty or a comment, ``{``/``}`` open and close
sections).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

KINDS = ("sendmail_cf", "dovecot_conf")

# --- sendmail.cf ------------------------------------------------------------------------------------

# The M definitions each MAILER() of the cf package writes (cf/mailer/NAME.m4).
MAILER_DEFINES = {
    "local": ("local", "prog"),
    "smtp": ("smtp", "esmtp", "smtp8", "dsmtp", "relay"),
    "procmail": ("procmail",),
    "cyrus": ("cyrus", "cyrusbb"),
    "cyrusv2": ("cyrusv2",),
    "fax": ("fax",),
    "mail11": ("mail11",),
    "phquery": ("ph",),
    "pop": ("pop",),
    "qpage": ("qpage",),
    "ssh": ("ssh",),
    "usenet": ("usenet",),
    "uucp": ("uucp", "uucp-old", "suucp", "uucp-new", "uucp-dom", "uucp-uudom"),
    "xagent": ("xagent",),
}
# FEATUREs that let more clients relay or more mail in (cf/README "Anti-spam configuration control").
RELAY_FEATURES = (
    "promiscuous_relay", "relay_entire_domain", "relay_local_from", "relay_mail_from", "relay_based_on_MX",
    "loose_relay_check", "accept_unqualified_senders", "accept_unresolvable_domains",
)
SENDMAIL_EXPECT = ("relay_domains", "relay_files", "trusted_users", "trusted_files", "mailers", "relay_features", "mc_lines")
DOVECOT_EXPECT = ("entries", "extra_config")

# What each category is called in a message.
LABELS = {
    "relay_domains": "relay class R entry",
    "relay_files": "relay class R file",
    "trusted_users": "trusted user (class t)",
    "trusted_files": "trusted users file (class t)",
    "mailers": "mailer",
    "relay_features": "relay-widening FEATURE",
}
DOVECOT_LABEL = "setting, section or include"

_CF_SPACE = re.compile(r"[ \t\n\v\f\r]+")  # C isspace() in the C locale: what readcf splits words at
_ID_BANNER = re.compile(r"^#####\s+\$Id:\s*([A-Za-z0-9_.+-]+?)\.m4\b")
_TRUSTED_OPTION = re.compile(r"^O[ \t]+TrustedUser[ \t]*=[ \t]*(.*)$", re.IGNORECASE | re.DOTALL)
_MACRO_CALL = re.compile(r"^\s*(?:dnl\b|[A-Za-z_][A-Za-z0-9_]*\()")


@dataclass(frozen=True)
class Found:
    """One entry of a parsed file: what it is, and where."""

    category: str
    entry: str
    line: int
    text: str


@dataclass(frozen=True)
class Problem:
    """An entry the audit did not expect (or an expected one that is missing)."""

    category: str
    entry: str
    line: int = 0
    text: str = ""
    missing: bool = False
    count: int = 1  # how often the entry is there
    wanted: int = 0  # how often the variables ask for it
    lines: tuple = ()  # every line the entry is on, when it is there more often than asked for
    source: str = ""  # regular expression of the source line (.mc) that makes such an entry

    def describe(self, name, origin=""):
        """The problem in words; NAME is the file's name, ORIGIN what the line comes from (if known)."""
        label = LABELS.get(self.category, DOVECOT_LABEL)
        if self.missing:
            return "%s %r is missing from %s (%d of %d)" % (label, self.entry, name, self.count, self.wanted)
        where = ""
        if self.line:
            where = " (%s line %d %r%s)" % (name, self.line, self.text, " comes from " + origin if origin else "")
        times = ""
        if self.wanted:
            times = ", %d times where the variables ask for %d (lines %s)" % (
                self.count, self.wanted, ", ".join(str(n) for n in self.lines))
        return "%s %r%s%s" % (label, self.entry, where, times)


def _lines(text):
    """Physical lines as both daemons read them: split at a newline only (not VT, FF, NEL, U+2028 ...)."""
    return text.split("\n")


def _cf_uncomment(line):
    """One physical line without its readcf comment (ConfigLevel 3 and later; never the first character)."""
    out = []
    index = 0
    while index < len(line):
        char = line[index]
        if char == "#" and out and out[-1] != "$":
            if out[-1] == "\\":
                out[-1] = "#"  # \# is a literal #
                index += 1
                continue
            while out and out[-1] in " \t\v\f\r":
                out.pop()
            break
        out.append(char)
        index += 1
    return "".join(out)


def cf_logical_lines(text):
    """(line number, text, first physical line) of each line of a sendmail.cf that readcf interprets.

    A line that starts with a space or a tab continues the previous one (sendmail's fgetfolded);
    a CR right before the newline is dropped; comment lines and comments are left out.
    """
    folded = []
    for number, raw in enumerate(_lines(text), 1):
        raw = raw.removesuffix("\r")
        if raw[:1] in (" ", "\t") and folded:
            folded[-1][1].append(raw)
        else:
            folded.append((number, [raw]))
    for number, parts in folded:
        if parts[0][:1] in ("", "#"):
            continue
        yield number, "\n".join(_cf_uncomment(part) for part in parts), parts[0]


def _class_name(rest):
    """(class name, the rest of the line) after C or F: {name} or one character; {x} is x."""
    if rest.startswith("{"):
        end = rest.find("}")
        if end < 0:
            return None, ""
        name = rest[1:end]
        return name, rest[end + 1:]
    if not rest:
        return None, ""
    return rest[0], rest[1:]


def _words(text):
    return [w for w in _CF_SPACE.split(text) if w]


def _file_of(rest):
    """The file (or |program, @map) of an F line: readcf's fileclass() arguments."""
    rest = rest.lstrip(" \t\n\v\f\r")
    if rest.startswith("-o"):
        parts = _CF_SPACE.split(rest, maxsplit=1)
        rest = parts[1] if len(parts) > 1 else ""
    if rest.startswith("|"):
        return rest.strip(" \t\n\v\f\r")
    return (_words(rest) or [""])[0]


def parse_sendmail_cf(text):
    """The audited entries of a sendmail.cf text, a list of Found in file order."""
    found = []
    for number, raw in enumerate(_lines(text), 1):
        raw = raw.removesuffix("\r")
        match = _ID_BANNER.match(raw)
        if match and match.group(1) in RELAY_FEATURES:
            found.append(Found("relay_features", match.group(1), number, raw))
    for number, line, first in cf_logical_lines(text):
        kind = line[0]
        if kind in "CF":
            name, rest = _class_name(line[1:])
            if name == "R":
                if kind == "C":
                    found += [Found("relay_domains", w, number, first) for w in _words(rest)]
                else:
                    found.append(Found("relay_files", _file_of(rest), number, first))
            elif name == "t":
                if kind == "C":
                    found += [Found("trusted_users", w, number, first) for w in _words(rest)]
                else:
                    found.append(Found("trusted_files", _file_of(rest), number, first))
        elif kind == "T":
            found += [Found("trusted_users", w, number, first) for w in _words(line[1:])]
        elif kind == "M":
            match = re.match(r"[^, \t\n\v\f\r]*", line[1:])
            found.append(Found("mailers", match.group(0), number, first))
        elif kind == "O":
            match = _TRUSTED_OPTION.match(line)
            if match and match.group(1).strip():
                found.append(Found("trusted_users", match.group(1).strip(), number, first))
    return found


def m4_calls(line, name):
    """The argument lists of each call NAME(...) in an m4 line, one level of `quotes' removed."""
    calls = []
    for match in re.finditer(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"\(", line):
        args, current, quote, paren = [], [], 0, 0
        index = match.end()
        skipping = True  # m4 skips unquoted white space before each argument
        while index < len(line):
            char = line[index]
            index += 1
            if skipping and quote == 0 and char in " \t\n":
                continue
            skipping = False
            if char == "`":
                quote += 1
                if quote == 1:
                    continue
            elif char == "'" and quote > 0:
                quote -= 1
                if quote == 0:
                    continue
            elif quote == 0 and char == "(":
                paren += 1
            elif quote == 0 and char == ")":
                if paren == 0:
                    args.append("".join(current))
                    calls.append(args)
                    break
                paren -= 1
            elif quote == 0 and paren == 0 and char == ",":
                args.append("".join(current))
                current = []
                skipping = True
                continue
            current.append(char)
    return calls


def _strip_optional(value):
    value = value.strip()
    return value[2:].strip() if value.startswith("-o") else value


def mc_declarations(lines):
    """What raw .mc lines ask for, by category: the entries they make sendmail.cf hold."""
    declared = {key: set() for key in LABELS}
    for line in lines or []:
        line = str(line)
        for args in m4_calls(line, "RELAY_DOMAIN"):
            declared["relay_domains"].update(_words(args[0]) if args else [])
        for args in m4_calls(line, "RELAY_DOMAIN_FILE"):
            declared["relay_files"].update([_file_of(args[0])] if args else [])
        if m4_calls(line, "VIRTUSER_DOMAIN") or m4_calls(line, "VIRTUSER_DOMAIN_FILE"):
            declared["relay_domains"].add("$={VirtHost}")  # proto.m4 then writes CR$={VirtHost}
        for args in m4_calls(line, "MAILER"):
            if args and args[0].strip():
                declared["mailers"].update(MAILER_DEFINES.get(args[0].strip(), (args[0].strip(),)))
        for args in m4_calls(line, "FEATURE"):
            if args and args[0].strip():
                declared["relay_features"].add(args[0].strip())
        for args in m4_calls(line, "define"):
            if len(args) < 2:
                continue
            macro, value = args[0].strip(), args[1]
            if macro == "confTRUSTED_USERS":
                declared["trusted_users"].update(_words(value))
            elif macro == "confTRUSTED_USER":
                declared["trusted_users"].add(value.strip())
            elif macro == "confCR_FILE":
                declared["relay_files"].add(_strip_optional(value))
            elif macro == "confCT_FILE":
                declared["trusted_files"].add(_strip_optional(value))
        if not _MACRO_CALL.match(line):
            # a literal sendmail.cf line (after LOCAL_CONFIG or MAILER_DEFINITIONS)
            for item in parse_sendmail_cf(line):
                declared[item.category].add(item.entry)
    return declared


def _source_pattern(category, entry):
    """A regular expression of the .mc lines that can make ENTRY of CATEGORY."""
    word = re.escape(entry)
    if category == "relay_domains":
        return r"(RELAY_DOMAIN|VIRTUSER_DOMAIN|^\s*C(\{R\}|R)).*" + (word if not entry.startswith("$") else "")
    if category == "relay_files":
        return r"(RELAY_DOMAIN_FILE|confCR_FILE|^\s*F(\{R\}|R)).*" + word
    if category == "trusted_users":
        return r"(TRUSTED_USER|^\s*T|^\s*C(\{t\}|t)).*" + word
    if category == "trusted_files":
        return r"(confCT_FILE|^\s*F(\{t\}|t)).*" + word
    if category == "mailers":
        files = [name for name, defines in MAILER_DEFINES.items() if entry in defines] or [entry]
        return r"MAILER\(\W*(%s)\b|^\s*M%s," % ("|".join(re.escape(f) for f in files), word)
    if category == "relay_features":
        return r"FEATURE\(\W*%s" % word
    return ""


def _string_list(expect, key):
    value = expect.get(key) or []
    return [str(v) for v in value]


def audit_sendmail_cf(text, expect):
    """The problems of a built sendmail.cf: entries that neither EXPECT nor its mc_lines ask for."""
    declared = mc_declarations(_string_list(expect, "mc_lines"))
    allowed = {}
    for key in LABELS:
        values = set(_string_list(expect, key)) | declared[key]
        if key == "mailers":
            values = {m for v in values for m in MAILER_DEFINES.get(v, (v,))}
        allowed[key] = values
    allowed["relay_domains"] = {v.lower() for v in allowed["relay_domains"]}
    problems = []
    for item in parse_sendmail_cf(text):
        entry = item.entry.lower() if item.category == "relay_domains" else item.entry
        if entry not in allowed[item.category]:
            problems.append(Problem(item.category, item.entry, item.line, item.text,
                                    source=_source_pattern(item.category, item.entry)))
    return problems


# --- dovecot.conf ----------------------------------------------------------------------------------------


def _dovecot_clean(line):
    """A physical line as Dovecot's parser sees it: leading and trailing blanks and the comment removed."""
    line = line.lstrip(" \t")
    if line.startswith("#"):
        return ""
    index = 0
    while index < len(line):
        char = line[index]
        if char in "\"'":
            end = index + 1
            while end < len(line) and line[end] != char:
                end += 2 if line[end] == "\\" else 1
            if end >= len(line):
                break
            index = end + 1
            continue
        if char == "#":
            line = line[:index]
            break
        index += 1
    return line.rstrip(" \t")


def parse_dovecot_conf(text):
    """The settings, sections and includes of a dovecot.conf text, as Found("entry", PATH, line, text).

    PATH is the names of the enclosing sections and the entry's own, joined by "/": "protocols",
    "service imap-login", "service imap-login/inet_listener imaps/port", "!include conf.d/*.conf".
    A "}" without a section is the entry "}".
    """
    found = []
    stack = []
    lines = _lines(text)
    index = 0
    while index < len(lines):
        number = index + 1
        first = lines[index]
        line = _dovecot_clean(first)
        index += 1
        while line.endswith("\\") and index < len(lines):
            # the line continues in the next one that is neither empty nor a comment
            more = _dovecot_clean(lines[index])
            index += 1
            if more:
                line = line[:-1].rstrip(" \t") + " " + more
        line = line.strip(" \t")
        if not line:
            continue
        if line.startswith("!"):
            words = line.split(None, 1)
            name = words[0] + (" " + words[1].strip() if len(words) > 1 else "")
            found.append(Found("entry", "/".join(stack + [name]), number, first))
            continue
        if line == "}":
            if stack:
                stack.pop()
            else:
                found.append(Found("entry", "}", number, first))
            continue
        if line.endswith("{") and "=" not in line:
            name = re.sub(r"[ \t]+", " ", line[:-1].strip())
            stack.append(name)
            found.append(Found("entry", "/".join(stack), number, first))
            continue
        key = re.split(r"[ \t]*=", line, maxsplit=1)[0].strip() if "=" in line else line
        found.append(Found("entry", "/".join(stack + [key]), number, first))
    return found


def audit_dovecot_conf(text, expect):
    """The problems of a dovecot.conf: entries more often than EXPECT's entries and extra_config have them, and the missing."""
    expected = Counter(_string_list(expect, "entries"))
    extra = expect.get("extra_config") or ""
    expected.update(item.entry for item in parse_dovecot_conf(str(extra)))
    seen = {}
    for item in parse_dovecot_conf(text):
        seen.setdefault(item.entry, []).append(item)
    problems = []
    for entry, items in seen.items():
        wanted = expected[entry]
        if len(items) > wanted:
            first = items[wanted]  # the first one more than asked for
            problems.append(Problem("dovecot_entries", entry, first.line, first.text, count=len(items), wanted=wanted,
                                    lines=tuple(item.line for item in items)))
    for entry, wanted in expected.items():
        count = len(seen.get(entry, []))
        if count < wanted:
            problems.append(Problem("dovecot_entries", entry, missing=True, count=count, wanted=wanted))
    problems.sort(key=lambda p: (p.missing, p.line))
    return problems


# --- entry points ---------------------------------------------------------------------------------------


def expect_problems(kind, expect):
    """What is wrong with an audit's options (empty when the audit can run)."""
    if kind not in KINDS:
        return ["audit.kind %r is not one of %s" % (kind, ", ".join(KINDS))]
    if not isinstance(expect, dict):
        return ["audit.expect must be a dictionary"]
    keys = SENDMAIL_EXPECT if kind == "sendmail_cf" else DOVECOT_EXPECT
    problems = ["audit.expect.%s is not a key of the %s audit (%s)" % (k, kind, ", ".join(keys)) for k in expect if k not in keys]
    for key, value in expect.items():
        if key not in keys:
            continue
        if key == "extra_config":
            if value is not None and not isinstance(value, str):
                problems.append("audit.expect.extra_config must be a string")
        elif value is not None and (not isinstance(value, list) or any(isinstance(v, (dict, list)) or v is None for v in value)):
            problems.append("audit.expect.%s must be a list of strings" % key)
    return problems


def audit_config(kind, text, expect):
    """The problems of TEXT for an audit of KIND (see the module's documentation)."""
    if kind == "sendmail_cf":
        return audit_sendmail_cf(text, expect)
    if kind == "dovecot_conf":
        return audit_dovecot_conf(text, expect)
    raise ValueError("unknown audit kind %r" % kind)

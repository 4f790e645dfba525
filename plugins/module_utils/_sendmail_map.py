# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One engine for every sendmail map module of homelab.mailserver.

parse -> validate -> apply -> render -> (diff, backup) -> build .db from a temp
copy -> move text and .db into place.  A file is a list of records
``(norm, key, value, raw)`` (lists for aliases, whose continuation lines are
appended); ``norm`` is ``None`` for comments, blank lines and lines the format
does not understand, which are kept byte for byte.  Only
records the call names (or, with ``exclusive``, does not name) are touched.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shlex
import tempfile
import time

from ansible_collections.homelab.mailserver.plugins.module_utils import (
    _sendmail_validate as v,
)
from ansible_collections.homelab.mailserver.plugins.module_utils import (
    _validate as V,
)

MAP_TYPES = ("hash", "btree", "dbm", "cdb")
DB_SUFFIXES = {"hash": (".db",), "btree": (".db",), "dbm": (".dir", ".pag"), "cdb": (".cdb",)}
SENDMAIL_CF = "/etc/mail/sendmail.cf"
BIN_DIRS = ["/usr/sbin", "/usr/lib/sendmail", "/usr/lib", "/usr/libexec/sendmail"]


# ---------------------------------------------------------------- parsing
# A map file is read the way makemap and sendmail read it: lines end at \n only (str.splitlines() also ends
# them at VT, FF, 0x1c-0x1e, NEL, U+2028 and U+2029, so a value holding one would read as two entries), and
# a key ends at C's isspace() in the C locale.  str.split() with no argument also splits at 0x1c-0x1f and at
# non-ASCII spaces; it is used only on text that has none of them.
C_SPACE = " \t\n\v\f\r"
_C_TOKEN = re.compile(r"[^ \t\n\v\f\r]+")
_PY_ONLY_SPACE = re.compile(r"[\x1c-\x1f]").search
_KV_UNMANAGED_START = frozenset(("#", " ", "\t", "\n", "\r", "\v", "\f", ""))


def split_lines(text):
    """The lines of TEXT split at \\n only, each keeping its \\n (the last one may have none)."""
    lines = text.split("\n")
    last = lines.pop()
    lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def _split_is_c_split(text):
    """True when str.split()/strip() without arguments split TEXT exactly where C's isspace() does."""
    return text.isascii() and _PY_ONLY_SPACE(text) is None


def parse_kv(text):
    """makemap input: ``key<whitespace>value``; '#' and blank lines are comments."""
    records = []
    add = records.append
    plain = _split_is_c_split(text)
    token = _C_TOKEN.match
    for raw in split_lines(text):
        if raw[:1] in _KV_UNMANAGED_START:  # makemap skips these (comment, blank, "leading space" error)
            add((None, None, None, raw))
            continue
        if plain:
            parts = raw.split(None, 1)
            key, value = parts[0], parts[1].strip() if len(parts) > 1 else ""
        else:
            key = token(raw).group()
            value = raw[len(key):].strip(C_SPACE)
        add((key.lower(), key, value, raw))
    return records


def parse_class(text, fold=True):
    """One token a line (local-host-names, relay-domains, ...); other lines are kept as they are."""
    records = []
    split = str.split if _split_is_c_split(text) else _C_TOKEN.findall
    for raw in split_lines(text):
        parts = split(raw)
        if len(parts) != 1 or parts[0][0] == "#":
            records.append([None, None, None, raw])
        else:
            records.append([parts[0].lower() if fold else parts[0], parts[0], None, raw])
    return records


def parse_aliases(text):
    """aliases(5): ``name: member, member``; lines starting with blank continue the previous entry."""
    records = []
    for raw in split_lines(text):
        first, blank = raw[:1], not raw.strip(C_SPACE)
        if first in (" ", "\t") and records and records[-1][0] is not None and not blank:
            records[-1][2] += raw
            records[-1][3] += raw
        elif first in ("#", "") or blank or ":" not in raw or first in C_SPACE:
            records.append([None, None, None, raw])
        else:
            name, rest = raw.split(":", 1)
            name = name.strip(C_SPACE)
            records.append([name.lower(), name, rest, raw])
    return records


def split_members(text):
    """Members of an aliases line: commas outside double quotes separate; quotes are removed."""
    out, cur, quoted = [], [], False
    for c in text:
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            out.append("".join(cur).strip(C_SPACE))
            cur = []
            continue
        cur.append(c)
    out.append("".join(cur).strip(C_SPACE))
    return [m.strip(C_SPACE).strip('"') for m in out if m.strip(C_SPACE)]


def quote_member(member):
    m = member.strip(C_SPACE)
    if m.startswith('"'):
        return m
    if m.startswith(("|", ":include:")) or any(c in m for c in ' \t,"#'):
        return f'"{m}"'
    return m


# ---------------------------------------------------------------- secrets (authinfo)
# An authinfo value is quoted items, "P:password" or "P=base64 password" among them (AUTHINFO_RE).
_SECRET_ITEM = re.compile(r'"(P[:=][^"\n]*)')
HIDDEN = "********"
HIDDEN_VALUE = "<not shown: an authinfo value may hold a password>"


def mask_secrets(text):
    """TEXT with the password of every "P:..."/"P=..." item replaced by ********."""
    return _SECRET_ITEM.sub(lambda m: m.group()[:3] + HIDDEN, text)


def show_secret(value):
    """What a message may show of an authinfo value: its items with the password masked, or nothing."""
    if isinstance(value, str) and v.AUTHINFO_RE.fullmatch(value):
        return repr(mask_secrets(value))
    return HIDDEN_VALUE


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def secrets(items=(), texts=()):
    """The strings ansible must mask (module.no_log_values) so that no authinfo password is ever shown.

    For each value of ITEMS (dicts with ``key``/``value``, or (key, value) pairs): every "P:..." item of a
    well-formed value, and the whole of any other value, which might be a password in a form not foreseen.
    For each of TEXTS (the map file before and after): every "P:..." item, comments included.
    Each string also in its repr() form (the host's syslog line of the invocation shows the arguments that way).
    """
    found = set()
    for item in items:
        if isinstance(item, tuple):
            values = item[1:]
        elif isinstance(item, dict):
            values = [val for name, val in item.items() if name not in ("key", "state")]
        else:
            values = []
        for text in _strings(values):
            if v.AUTHINFO_RE.fullmatch(text):
                found.update(m.group(1) for m in _SECRET_ITEM.finditer(text))
            elif text.strip():
                found.add(text)
    for text in texts:
        found.update(m.group(1) for m in _SECRET_ITEM.finditer(text))
    # as repr() shows them inside a longer string (the syslog line): in single quotes, or in double ones
    found.update([form for s in list(found) for form in (repr(s)[1:-1], s.replace("\\", "\\\\").replace("'", "\\'"))])
    return {s for s in found if len(s) > 2}  # "P:" alone (an empty password) would mask every "P:" of the output


def hide_secrets(module, kind, *texts):
    """Add the passwords of an authinfo call to module.no_log_values (nothing for the other kinds)."""
    if kind.secret:
        p = module.params
        items = list(p.get("entries") or []) + list((p.get("pairs") or {}).items())
        module.no_log_values.update(secrets(items, texts))


# ---------------------------------------------------------------- kinds
class Kind:
    """How one file format is parsed, compared, rendered and validated."""

    def __init__(self, name, check_key, check_value=None, *, parse=parse_kv, db="makemap",
                 key_field="key", value_field="value", fold=True, secret=False):
        self.name, self.parse, self.db = name, parse, db
        self.check_key, self.check_value = check_key, check_value
        self.key_field, self.value_field, self.fold = key_field, value_field, fold
        # secret: values may hold passwords; messages show them masked (show), never as given
        self.secret, self.show = secret, show_secret if secret else repr
        if secret and check_value is not None:
            self.check_value = _masked(check_value)

    def render(self, key, value):
        if self.value_field is None:
            return key + "\n"
        if self.db == "aliases":
            return "{}:\t{}\n".format(key, ",".join(quote_member(m) for m in value))
        return f"{key}\t{value}\n"

    def same(self, old, new):
        if self.db == "aliases":
            return split_members(old) == [m.strip(C_SPACE).strip('"') for m in new]
        return self.value_field is None or old == new


def _masked(check):
    """CHECK(key, value) whose message shows the value through show_secret(), never as given."""

    def checked(key, value):
        message = check(key, value)
        if message is None:
            return None
        shown = message.replace(repr(value), show_secret(value))
        return shown if repr(value) in message else f"value {show_secret(value)} is not valid"

    return checked


def _one_token(check, what):
    """CHECK, then one line without control characters (_validate.one_line) for the kinds whose own check
    only rejects whitespace: a generic map's key, a class file's entry of kind any."""
    def checked(key):
        err = check(key)
        if err or V.one_line(key):
            return err
        return V.problem(what, key, "one token without control characters")
    return checked


KINDS = {
    "access": Kind("access", v.access_key, v.access_value),
    "virtusertable": Kind("virtusertable", v.virtuser_key, v.virtuser_value),
    "genericstable": Kind("genericstable", v.generics_key, v.address_value),
    "mailertable": Kind("mailertable", v.mailertable_key, v.mailertable_value),
    "domaintable": Kind("domaintable", v.domain_key, v.domain_value),
    "authinfo": Kind("authinfo", v.authinfo_key, v.authinfo_value, secret=True),
    "generic": Kind("generic", _one_token(lambda k: v.no_space(k, "key"), "key"), v.generic_value),
    "aliases": Kind("aliases", v.alias_name, v.alias_members, parse=parse_aliases, db="aliases",
                    key_field="name", value_field="members"),
}
for _k in ("hosts", "users", "any"):
    _check = v.class_token(_k)
    KINDS["class_" + _k] = Kind("class_" + _k, _one_token(_check, "entry") if _k == "any" else _check, None,
                                db=None, value_field=None,
                                parse=parse_class if _k == "hosts" else (lambda t: parse_class(t, False)),
                                fold=_k == "hosts")


# ---------------------------------------------------------------- validate + apply
def collect(items, kind):
    """Validate the requested entries; return ({norm: (key, value, state)}, [error messages])."""
    wanted, errors = {}, []
    kf, vf, check_key, check_value = kind.key_field, kind.value_field, kind.check_key, kind.check_value
    fields = {f for f in (kf, vf, "state") if f}
    fold, fast_value, setdefault, show = kind.fold, list if kind.db == "aliases" else str, wanted.setdefault, kind.show
    for raw_item in items:
        if raw_item.__class__ is tuple:  # (key, value) from the pairs option: always present
            key, value = raw_item
            if (key.__class__ is str and value.__class__ is fast_value
                    and check_key(key) is None and check_value(key, value) is None):
                entry = (key, value, "present")
                norm = key.lower() if fold else key
                if setdefault(norm, entry) is not entry:
                    _store(wanted, errors, norm, entry, kind)
                continue
            raw_item = {kf: key, vf: value}
        # Fast path for the usual well-formed item: a dict (a bare string for class files) naming a str key,
        # the value as str (aliases: list), state absent/None/present, and both validators passing.  Anything
        # else (including every invalid entry) goes through the full path below, which reports the errors.
        if vf:
            if raw_item.__class__ is dict:
                key, value, state = raw_item.get(kf), raw_item.get(vf), raw_item.get("state")
                if (key.__class__ is str and value.__class__ is fast_value and (state is None or state == "present")
                        and fields.issuperset(raw_item) and check_key(key) is None and check_value(key, value) is None):
                    entry = (key, value, "present")
                    norm = key.lower() if fold else key
                    if setdefault(norm, entry) is not entry:
                        _store(wanted, errors, norm, entry, kind)
                    continue
        elif raw_item.__class__ is str and check_key(raw_item) is None:
            entry = (raw_item, None, "present")
            norm = raw_item.lower() if fold else raw_item
            if setdefault(norm, entry) is not entry:
                _store(wanted, errors, norm, entry, kind)
            continue

        item = {kf: raw_item} if isinstance(raw_item, str) else raw_item
        if not isinstance(item, dict) or not fields.issuperset(item):
            errors.append(f"entry {_show_item(item, kind)}: must be a dict with the keys {', '.join(sorted(fields))}")
            continue
        key, value, state = item.get(kf), item.get(vf) if vf else None, item.get("state") or "present"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # GreetPause: 5000 written unquoted in YAML
        if not isinstance(key, str) or state not in ("present", "absent"):
            errors.append(f"entry {_show_item(item, kind)}: {kf} must be a string and state present or absent")
            continue
        errs = [check_key(key)]
        if state == "present" and vf:
            if value is None:
                errs.append(f"{vf} is required when state is present")
            elif fast_value is str and not isinstance(value, str):  # a list, dict or YAML bool: not a map value
                errs.append(f"{vf} must be a string, not {type(value).__name__} {show(value)}")
            else:
                errs.append(check_value(key, value))
        errs = [e for e in errs if e]
        if errs:
            errors.append("entry {!r}: {}".format(key, "; ".join(errs)))
            continue
        if state == "absent":
            value = None
        _store(wanted, errors, key.lower() if fold else key, (key, value, state), kind)
    return wanted, errors


def _show_item(item, kind):
    """An item as error messages show it: repr(), or only its key for a kind whose values are secret."""
    if not kind.secret:
        return repr(item)
    key = item.get(kind.key_field) if isinstance(item, dict) else None
    return f"with key {key!r} ({HIDDEN_VALUE})" if isinstance(key, str) else f"({HIDDEN_VALUE})"


def _store(wanted, errors, norm, entry, kind):
    """The last item for a key wins; the same key given again with another value or state is an error."""
    prev = wanted.get(norm)
    if prev is not None and (prev[1] != entry[1] or prev[2] != entry[2]):
        errors.append(f"entry {entry[0]!r}: given twice with different settings: "
                      f"{_describe(prev, kind)} and {_describe(entry, kind)}")
    wanted[norm] = entry


def _describe(entry, kind):
    key, value, state = entry
    vf = kind.value_field
    return "{!r} ({})".format(key, "absent" if state == "absent" else f"{vf}={kind.show(value)}" if vf else "present")


class LineError(ValueError):
    """An entry rendered to more or less than one line (the validators should have refused it)."""


def apply(records, wanted, exclusive, kind):
    """Single pass over the file. Returns (lines, added, removed, updated)."""
    out, added, removed, updated, seen, fresh = [], [], [], [], set(), []
    keep, get, same = out.append, wanted.get, kind.same
    plain = kind.value_field is not None and kind.db != "aliases"  # same() is plain string equality
    for norm, key, value, raw in records:
        if norm is None:
            keep(raw)
            continue
        w = get(norm)
        if w is None:
            if exclusive:
                removed.append(key)
            else:
                keep(raw)
            continue
        if w[2] == "absent":
            removed.append(key)
        elif norm in seen:
            updated.append(key)  # later duplicate line of a managed key: makemap would ignore it
        else:
            seen.add(norm)
            if (value == w[1] if plain else same(value, w[1])):
                keep(raw)
            else:
                line = kind.render(w[0], w[1])
                fresh.append(line)
                keep(line)
                updated.append(w[0])
    if len(seen) < len(wanted):  # seen is a subset of wanted: equal sizes mean nothing is left to append
        for norm, (key, value, state) in wanted.items():
            if state == "present" and norm not in seen:
                if out and not out[-1].endswith("\n"):
                    out[-1] += "\n"
                line = kind.render(key, value)
                fresh.append(line)
                out.append(line)
                added.append(key)
    # Second line of defence against line injection: makemap and sendmail end a line at \n only.
    if "".join(fresh).count("\n") != len(fresh):
        raise LineError([line.partition("\t")[0].rstrip(":") for line in fresh if line.count("\n") != 1])
    return out, added, sorted(set(removed)), sorted(set(updated))


def update_text(text, items, exclusive, kind):
    """Pure function used by modules and tests: returns (new_text, added, removed, updated, errors)."""
    wanted, errors = collect(items, kind)
    if errors:
        return text, [], [], [], errors
    try:
        lines, added, removed, updated = apply(kind.parse(text), wanted, exclusive, kind)
    except LineError as e:
        return text, [], [], [], [f"entry {key!r}: it would not be one line of the file" for key in e.args[0]]
    return "".join(lines), added, removed, updated, []


# ---------------------------------------------------------------- sendmail.cf
def _same_base(a, b):
    for suffix in (".db", ".cdb", ".dir", ".pag"):
        a = a.removesuffix(suffix)
    return os.path.realpath(a) == os.path.realpath(b)


def cf_map_type(path, cf=SENDMAIL_CF):
    """Type of the ``K<name> <type> ... <file>`` line in sendmail.cf whose file is ``path``."""
    try:
        with open(cf, errors="replace") as f:
            for line in f:
                if line[:1] != "K":
                    continue
                parts = line.split()
                if len(parts) >= 3 and parts[1] in MAP_TYPES and _same_base(parts[-1], path):
                    return parts[1]
    except OSError:
        pass
    return None


def cf_alias_files(cf=SENDMAIL_CF):
    """The files of ``O AliasFile=[type:]path[,...]`` in sendmail.cf (empty when unreadable)."""
    try:
        with open(cf, errors="replace") as f:
            for line in f:
                if line.startswith("O AliasFile="):
                    return [spec.strip().rpartition(":")[2] for spec in line.split("=", 1)[1].strip().split(",")]
    except OSError:
        pass
    return []


def alias_file_problem(path, cf=SENDMAIL_CF):
    """Why sendmail would not read the database built next to PATH, or ''.

    Debian's sendmail.cf names /etc/mail/aliases, a link to /etc/aliases: the
    database sendmail opens is then /etc/mail/aliases.db, not /etc/aliases.db.
    """
    files = cf_alias_files(cf)
    if not files or path in files:
        return ""
    linked = [f for f in files if os.path.realpath(f) == os.path.realpath(path)]
    if linked:
        return (f"{cf} reads aliases from {linked[0]} (a link to {path}), so sendmail opens the database next to "
                f"{linked[0]}, not the one built next to {path}: give path: {linked[0]}, or define ALIAS_FILE as {path}")
    return f"{cf} does not read {path} (AliasFile={','.join(files)}): sendmail will not see these aliases"


def cf_alias_type(path, cf=SENDMAIL_CF):
    """Type prefix from ``O AliasFile=[type:]path[,...]`` for ``path``, or None."""
    try:
        with open(cf, errors="replace") as f:
            for line in f:
                if line.startswith("O AliasFile="):
                    for spec in line.split("=", 1)[1].strip().split(","):
                        kind, sep, file = spec.strip().rpartition(":")
                        if _same_base(file, path):
                            return kind if sep and kind in MAP_TYPES else None
    except OSError:
        pass
    return None


# ---------------------------------------------------------------- files
def db_files(base, map_type):
    return [base + s for s in DB_SUFFIXES.get(map_type, (".db",))]


def db_stale(path, dbs):
    """True when a .db is missing or older than the text file."""
    try:
        text_mtime = os.stat(path).st_mtime_ns
        return any(os.stat(d).st_mtime_ns < text_mtime for d in dbs)
    except OSError:
        return True


def _copy_attrs(module, src_like, target, default_mode):
    """Give ``target`` the mode/owner/SELinux context of ``src_like`` (or default_mode when it is missing)."""
    try:
        st = os.stat(src_like)
    except OSError:
        os.chmod(target, default_mode)
        return
    os.chmod(target, st.st_mode & 0o7777)
    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(target, st.st_uid, st.st_gid)
        except OSError:
            pass
    if module.selinux_enabled():
        module.set_context_if_different(target, module.selinux_context(src_like), False)


def apply_requested_attrs(module, target):
    """Give TARGET the owner, group and mode the task asks for (a symbolic mode applies to its current mode)."""
    p = module.params
    module.set_owner_if_different(target, p.get("owner"), False)
    module.set_group_if_different(target, p.get("group"), False)
    module.set_mode_if_different(target, p.get("mode"), False)


def prepare(module, target, like, default_mode):
    """Before anything is written to TARGET: the attributes of LIKE (DEFAULT_MODE when it is missing), then the
    owner, group and mode the task asks for, so that no content is ever readable under a wider mode."""
    _copy_attrs(module, like, target, default_mode)
    apply_requested_attrs(module, target)


class InPlaceError(OSError):
    """Writing a temporary file's bytes into its destination in place failed; the temporary file is kept."""

    def __init__(self, tmp, dest, cause):
        super().__init__(cause.errno, cause.strerror)
        self.tmp, self.dest, self.cause = tmp, dest, cause


IN_PLACE_CHUNK = 1024 * 1024


def write_in_place(tmp, dest):
    """Write TMP's bytes into DEST keeping DEST's inode (a bind-mounted file cannot be renamed over).

    DEST first gets TMP's mode (and owner when possible), then room for the new size is reserved
    (posix_fallocate: a full file system fails here, before any byte of DEST is overwritten), then the
    bytes are written, the file truncated to their length and fsynced.  TMP is left alone.
    """
    st = os.stat(tmp)
    fd = os.open(dest, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.fchmod(fd, st.st_mode & 0o7777)
        old = os.fstat(fd)
        if (old.st_uid, old.st_gid) != (st.st_uid, st.st_gid):
            try:
                os.fchown(fd, st.st_uid, st.st_gid)
            except OSError:
                pass
        if st.st_size > old.st_size:
            try:
                os.posix_fallocate(fd, 0, st.st_size)
            except OSError as e:
                if os.fstat(fd).st_size != old.st_size:
                    os.ftruncate(fd, old.st_size)
                if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise
        with open(tmp, "rb") as src:
            offset = 0
            while chunk := src.read(IN_PLACE_CHUNK):
                view = memoryview(chunk)
                while view:
                    written = os.pwrite(fd, view, offset)
                    offset += written
                    view = view[written:]
        os.ftruncate(fd, st.st_size)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(module, tmp, dest):
    """Rename ``tmp`` over ``dest``; on EBUSY (bind-mounted file) write it in place keeping the inode.

    In place, ``tmp`` is removed only once ``dest`` holds all of its bytes and is synced; when that fails,
    InPlaceError says where the complete ``tmp`` is kept.
    """
    try:
        os.rename(tmp, dest)
        return
    except OSError as e:
        if e.errno != errno.EBUSY:
            # tmp already has the attributes dest must have: do not copy the old file's over them
            module.atomic_move(tmp, dest, unsafe_writes=module.params.get("unsafe_writes", False), keep_dest_attrs=False)
            return
    try:
        write_in_place(tmp, dest)
    except OSError as e:
        raise InPlaceError(tmp, dest, e) from e
    os.unlink(tmp)


def _umask_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# ---------------------------------------------------------------- lock
LOCK_TIMEOUT = 600  # seconds a run waits for another run on the same map


def lock_path(path):
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.lock")


def lock_map(module, path, timeout=LOCK_TIMEOUT):
    """Take an exclusive advisory lock (flock) on ``.<name>.lock`` beside PATH; return its fd, or None.

    Two runs on the same map (two plays, two hosts' delegated tasks, a play and a cron job using the
    module) then read, change and write it one after the other, so neither loses the other's entries.
    The lock file stays (removing it would let a third run lock a new file while the second holds the
    old one).  None when the directory is missing or not writable: no run can write the map then.
    """
    name = lock_path(path)
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS):
            return None
        module.fail_json(msg=f"cannot open the lock file {name}: {e}; nothing was written")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                module.fail_json(msg=f"another run has held the lock {name} for {timeout} s; nothing was written")
            time.sleep(0.05)


# makemap's Berkeley DB cache (-c) defaults to 1 MB; a hash or btree database that does not fit is written
# page by page while makemap runs (100,000 entries, 5 MB: 1.3-1.8 s, against 0.4-0.8 s with the whole database
# in the cache, benchmarks/maps).  The database is about twice the text; 4 times the text leaves room.
MAKEMAP_CACHE_FROM = 256 * 1024  # text bytes: smaller maps fit the default cache, makemap runs without -c
MAKEMAP_CACHE_MAX = 256 * 1024 * 1024


def makemap_cache_args(text_size, map_type):
    """``["-c", bytes]`` for makemap when the database would not fit its default cache, else ``[]``."""
    if map_type not in ("hash", "btree") or text_size < MAKEMAP_CACHE_FROM:
        return []
    return ["-c", str(min(4 * text_size, MAKEMAP_CACHE_MAX))]


def build_db(module, kind, tmp_text, map_type):
    """Run makemap / sendmail -bi on the temp text; return {temp db: suffix} or fail leaving originals alone."""
    p = module.params
    if kind.db == "aliases":
        tool = p.get("sendmail") or module.get_bin_path("sendmail", opt_dirs=BIN_DIRS)
        spec = f"{map_type}:{tmp_text}" if map_type else tmp_text
        cmd, data = [tool, "-bi", "-oA" + spec], None
        map_type = map_type or "hash"
    else:
        tool = p.get("makemap") or module.get_bin_path("makemap", opt_dirs=BIN_DIRS)
        # stdin comes from the file itself: feeding it through a pipe races with a
        # makemap that exits before reading (EPIPE instead of its own exit code).
        cache = makemap_cache_args(os.path.getsize(tmp_text), map_type)
        cmd, data = [tool, *cache, map_type, tmp_text], tmp_text
    if not tool:
        name = "sendmail" if kind.db == "aliases" else "makemap"
        msg = f"{name} not found; install sendmail (Debian: sendmail-bin) or set the {name} option; nothing was written"
        return None, {"msg": msg}
    # umask 077: the database makemap creates is readable by its owner only until prepare() gives it its mode
    if data is None:
        rc, out, err = module.run_command(cmd, umask=0o077)
    else:
        shell_cmd = " ".join(shlex.quote(c) for c in cmd) + " < " + shlex.quote(data)
        rc, out, err = module.run_command(shell_cmd, use_unsafe_shell=True, umask=0o077)
    built = db_files(tmp_text, map_type)
    if rc != 0 or not all(os.path.exists(b) for b in built):
        return None, {"msg": "{} failed (rc={}); {} and its database were left unchanged".format(
            " ".join(cmd), rc, p["path"]), "rc": rc, "stdout": out, "stderr": err, "cmd": cmd}
    return built, None


def run(module, kind, items):
    """Everything a map module does.  Fails before writing when any entry is invalid.

    Runs under an exclusive lock on the map (lock_map), except in check mode, which writes nothing.
    """
    hide_secrets(module, kind)  # first: authinfo passwords never appear in a message or the invocation
    lock = None if module.check_mode else lock_map(module, module.params["path"])
    try:
        _run(module, kind, items)
    finally:
        if lock is not None:
            os.close(lock)


def _run(module, kind, items):
    p = module.params
    path = p["path"]
    pairs = p.get("pairs") or {}
    if pairs:
        items = list(items) + list(pairs.items())
    try:
        with open(path, "rb") as f:
            old_bytes = f.read()
    except FileNotFoundError:
        old_bytes = None
        if not p.get("create", True):
            module.fail_json(msg=f"{path} does not exist and create is false")
    except OSError as e:
        module.fail_json(msg=f"cannot read {path}: {e}")
    old_text = (old_bytes or b"").decode("utf-8", "surrogateescape")
    new_text, added, removed, updated, errors = update_text(old_text, items, p["exclusive"], kind)
    hide_secrets(module, kind, old_text)
    if errors:
        module.fail_json(msg="invalid entries, nothing was written:\n- " + "\n- ".join(errors), errors=errors)
    new_bytes = new_text.encode("utf-8", "surrogateescape")
    text_changed = old_bytes is None or new_bytes != old_bytes

    map_type, dbs, rebuild = None, [], bool(kind.db and p.get("rebuild"))
    if kind.db == "aliases":
        map_type = cf_alias_type(path, p.get("sendmail_cf") or SENDMAIL_CF)
        dbs = db_files(path, map_type or "hash")
        problem = alias_file_problem(path, p.get("sendmail_cf") or SENDMAIL_CF)
        if problem:
            module.warn(problem)
    elif kind.db:
        map_type = p.get("map_type") or cf_map_type(path, p.get("sendmail_cf") or SENDMAIL_CF) or "hash"
        dbs = db_files(path, map_type)
    db_rebuilt = rebuild and (text_changed or db_stale(path, dbs))

    args = dict(p)
    if len(items) > 100:  # keep exit_json from scanning and echoing 100,000 entries back
        args["aliases" if kind.db == "aliases" else "entries"] = f"<{len(items) - len(pairs)} items>"
        if pairs:
            args["pairs"] = f"<{len(pairs)} items>"
    result = {"invocation": {"module_args": args}, "changed": text_changed or db_rebuilt,
              "added": added, "removed": removed, "updated": updated, "db_rebuilt": db_rebuilt,
              "backup_file": "", "map_type": map_type, "path": path}
    if module._diff and text_changed:  # no diff for an unchanged text: it would echo the whole file twice
        before, after = (mask_secrets(old_text), mask_secrets(new_text)) if kind.secret else (old_text, new_text)
        result["diff"] = {"before": before, "after": after, "before_header": path, "after_header": path}
    if kind.db == "aliases":
        present = {r[0] for r in kind.parse(new_text) if r[0]}
        for must in ("mailer-daemon", "postmaster"):
            if must not in present:
                module.warn(f"{path} has no {must!r} alias; RFC 5321 and sendmail expect mailer-daemon and "
                            "postmaster to be present")

    if result["changed"] and not module.check_mode:
        plan = {"path": path, "old_bytes": old_bytes, "new_bytes": new_bytes, "text_changed": text_changed,
                "db_rebuilt": db_rebuilt, "map_type": map_type, "dbs": dbs}
        _commit(module, kind, plan, result)
    # mode, owner, group, SELinux context and attributes of the task: the text file and its database alike
    # (the database holds the same entries, authinfo's passwords included)
    for target in [path] + dbs:
        if os.path.exists(target):
            result["changed"] = module.set_fs_attributes_if_different(
                module.load_file_common_arguments(p, path=target), result["changed"])
    parts = [f"{len(added)} added", f"{len(removed)} removed", f"{len(updated)} updated"]
    result["msg"] = "{}: {}{}".format(path, ", ".join(parts), "; database rebuilt" if db_rebuilt else "")
    module.exit_json(**result)


def _commit(module, kind, plan, result):
    """Write the temp text, build the database from it, then move database and text into place.

    Every file gets its final mode, owner and group before any content is written to it: the temp text
    right after mkstemp (0600, empty), the database as makemap creates it under umask 077.
    """
    path, old_bytes, new_bytes, text_changed, db_rebuilt, map_type, dbs = (plan[k] for k in (
        "path", "old_bytes", "new_bytes", "text_changed", "db_rebuilt", "map_type", "dbs"))
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg=f"directory {directory} does not exist")
    fd, tmp_text = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    built, keep = [], set()
    try:
        with os.fdopen(fd, "wb") as f:
            prepare(module, tmp_text, path, _umask_mode())
            f.write(new_bytes)
            f.flush()
            os.fsync(f.fileno())
        if db_rebuilt:
            built, failure = build_db(module, kind, tmp_text, map_type)
            if failure:
                module.fail_json(**failure)
            for tmp_db, final in zip(built, dbs, strict=True):
                prepare(module, tmp_db, final if os.path.exists(final) else tmp_text, 0o600)
        if text_changed and module.params.get("backup") and old_bytes is not None:
            result["backup_file"] = module.backup_local(path)
        try:
            for tmp_db, final in zip(built or [], dbs if built else [], strict=True):
                replace(module, tmp_db, final)
            if text_changed:
                replace(module, tmp_text, path)
        except InPlaceError as e:
            keep.add(e.tmp)
            _in_place_failed(module, e, path, result)
    finally:
        for leftover in [tmp_text] + db_files(tmp_text, map_type or "hash"):
            if leftover not in keep and os.path.exists(leftover):
                os.unlink(leftover)


def _in_place_failed(module, e, path, result):
    if e.dest != path:
        # a half-written database under an older text would pass for up to date (db_stale compares mtimes)
        try:
            os.utime(e.dest, ns=(0, 0))
        except OSError:
            pass
    what = "its database" if e.dest != path else "it"
    module.fail_json(
        msg=f"{e.dest} could not be renamed over (EBUSY: a bind-mounted file?) and writing it in place failed: "
            f"{e.cause}. {e.dest} may be incomplete. The complete new file is kept at {e.tmp}: once the cause is "
            f"fixed, copy it over (cat {shlex.quote(e.tmp)} > {shlex.quote(e.dest)}), or run the task again"
            + ("" if e.dest == path else f" ({path} was not changed; {what} is rebuilt on the next run)"),
        kept_file=e.tmp, path=path, backup_file=result.get("backup_file", ""))


# ---------------------------------------------------------------- argument specs
def _common_spec(path_default):
    spec = {
        "path": {"type": "path", "aliases": ["dest"]},
        "exclusive": {"type": "bool", "default": False},
        "backup": {"type": "bool", "default": False},
        "create": {"type": "bool", "default": True},
    }
    if path_default is None:
        spec["path"]["required"] = True
    else:
        spec["path"]["default"] = path_default
    return spec


def map_argument_spec(path_default=None, **extra):
    """Options of the key/value modules (access, virtusertable, map)."""
    spec = _common_spec(path_default)
    spec.update(
        # items are checked by collect(); argument-spec suboptions would cost ~1 s per 10,000 entries
        entries={"type": "list", "elements": "dict", "default": []},
        pairs={"type": "dict", "default": {}},
        rebuild={"type": "bool", "default": True},
        map_type={"type": "str", "choices": list(MAP_TYPES)},
        makemap={"type": "path"},
        sendmail_cf={"type": "path", "default": SENDMAIL_CF},
        **extra)
    return spec


def class_argument_spec():
    spec = _common_spec(None)
    spec.update(entries={"type": "list", "elements": "raw", "default": []},
                kind={"type": "str", "default": "hosts", "choices": ["hosts", "users", "any"]})
    return spec


def aliases_argument_spec():
    spec = _common_spec("/etc/aliases")
    spec.update(
        aliases={"type": "list", "elements": "dict", "default": []},
        rebuild={"type": "bool", "default": True},
        sendmail={"type": "path"},
        sendmail_cf={"type": "path", "default": SENDMAIL_CF})
    return spec

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
import os
import shlex
import shutil
import tempfile

from ansible_collections.homelab.mailserver.plugins.module_utils import (
    _sendmail_validate as v,
)

MAP_TYPES = ("hash", "btree", "dbm", "cdb")
DB_SUFFIXES = {"hash": (".db",), "btree": (".db",), "dbm": (".dir", ".pag"), "cdb": (".cdb",)}
SENDMAIL_CF = "/etc/mail/sendmail.cf"
BIN_DIRS = ["/usr/sbin", "/usr/lib/sendmail", "/usr/lib", "/usr/libexec/sendmail"]


# ---------------------------------------------------------------- parsing
_KV_UNMANAGED_START = frozenset(("#", " ", "\t", "\n", "\r", ""))


def parse_kv(text):
    """makemap input: ``key<whitespace>value``; '#' and blank lines are comments."""
    records = []
    add = records.append
    for raw in text.splitlines(True):
        if raw[:1] in _KV_UNMANAGED_START:
            add((None, None, None, raw))
            continue
        parts = raw.split(None, 1)
        if not parts:  # only whitespace split() knows but the test above does not (form feed, NBSP, ...)
            add((None, None, None, raw))
            continue
        key = parts[0]
        add((key.lower(), key, parts[1].strip() if len(parts) > 1 else "", raw))
    return records


def parse_class(text, fold=True):
    """One token a line (local-host-names, relay-domains, ...); other lines are kept as they are."""
    records = []
    for raw in text.splitlines(True):
        parts = raw.split()
        if len(parts) != 1 or parts[0][0] == "#":
            records.append([None, None, None, raw])
        else:
            records.append([parts[0].lower() if fold else parts[0], parts[0], None, raw])
    return records


def parse_aliases(text):
    """aliases(5): ``name: member, member``; lines starting with blank continue the previous entry."""
    records = []
    for raw in text.splitlines(True):
        first = raw[:1]
        if first in (" ", "\t") and records and records[-1][0] is not None and raw.strip():
            records[-1][2] += raw
            records[-1][3] += raw
        elif first in ("#", "\n", "\r", "") or not raw.strip() or ":" not in raw or first in (" ", "\t"):
            records.append([None, None, None, raw])
        else:
            name, rest = raw.split(":", 1)
            name = name.strip()
            records.append([name.lower(), name, rest, raw])
    return records


def split_members(text):
    """Members of an aliases line: commas outside double quotes separate; quotes are removed."""
    out, cur, quoted = [], [], False
    for c in text:
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(c)
    out.append("".join(cur).strip())
    return [m.strip().strip('"') for m in out if m.strip()]


def quote_member(member):
    m = member.strip()
    if m.startswith('"'):
        return m
    if m.startswith(("|", ":include:")) or any(c in m for c in ' \t,"#'):
        return f'"{m}"'
    return m


# ---------------------------------------------------------------- kinds
class Kind:
    """How one file format is parsed, compared, rendered and validated."""

    def __init__(self, name, check_key, check_value=None, *, parse=parse_kv, db="makemap",
                 key_field="key", value_field="value", fold=True):
        self.name, self.parse, self.db = name, parse, db
        self.check_key, self.check_value = check_key, check_value
        self.key_field, self.value_field, self.fold = key_field, value_field, fold

    def render(self, key, value):
        if self.value_field is None:
            return key + "\n"
        if self.db == "aliases":
            return "{}:\t{}\n".format(key, ",".join(quote_member(m) for m in value))
        return f"{key}\t{value}\n"

    def same(self, old, new):
        if self.db == "aliases":
            return split_members(old) == [m.strip().strip('"') for m in new]
        return self.value_field is None or old == new


KINDS = {
    "access": Kind("access", v.access_key, v.access_value),
    "virtusertable": Kind("virtusertable", v.virtuser_key, v.virtuser_value),
    "genericstable": Kind("genericstable", v.generics_key, v.address_value),
    "mailertable": Kind("mailertable", v.mailertable_key, v.mailertable_value),
    "domaintable": Kind("domaintable", v.domain_key, v.domain_value),
    "authinfo": Kind("authinfo", v.authinfo_key, v.authinfo_value),
    "generic": Kind("generic", lambda k: v.no_space(k, "key"), v.generic_value),
    "aliases": Kind("aliases", v.alias_name, v.alias_members, parse=parse_aliases, db="aliases",
                    key_field="name", value_field="members"),
}
for _k in ("hosts", "users", "any"):
    KINDS["class_" + _k] = Kind("class_" + _k, v.class_token(_k), None, db=None, value_field=None,
                                parse=parse_class if _k == "hosts" else (lambda t: parse_class(t, False)),
                                fold=_k == "hosts")


# ---------------------------------------------------------------- validate + apply
def collect(items, kind):
    """Validate the requested entries; return ({norm: (key, value, state)}, [error messages])."""
    wanted, errors = {}, []
    kf, vf, check_key, check_value = kind.key_field, kind.value_field, kind.check_key, kind.check_value
    fields = {f for f in (kf, vf, "state") if f}
    fold, fast_value, setdefault = kind.fold, list if kind.db == "aliases" else str, wanted.setdefault
    for raw_item in items:
        if raw_item.__class__ is tuple:  # (key, value) from the pairs option: always present
            key, value = raw_item
            if (key.__class__ is str and value.__class__ is fast_value
                    and check_key(key) is None and check_value(key, value) is None):
                entry = (key, value, "present")
                norm = key.lower() if fold else key
                if setdefault(norm, entry) is not entry:
                    _store(wanted, errors, norm, entry, vf)
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
                        _store(wanted, errors, norm, entry, vf)
                    continue
        elif raw_item.__class__ is str and check_key(raw_item) is None:
            entry = (raw_item, None, "present")
            norm = raw_item.lower() if fold else raw_item
            if setdefault(norm, entry) is not entry:
                _store(wanted, errors, norm, entry, vf)
            continue

        item = {kf: raw_item} if isinstance(raw_item, str) else raw_item
        if not isinstance(item, dict) or not fields.issuperset(item):
            errors.append(f"entry {item!r}: must be a dict with the keys {', '.join(sorted(fields))}")
            continue
        key, value, state = item.get(kf), item.get(vf) if vf else None, item.get("state") or "present"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # GreetPause: 5000 written unquoted in YAML
        if not isinstance(key, str) or state not in ("present", "absent"):
            errors.append(f"entry {item!r}: {kf} must be a string and state present or absent")
            continue
        errs = [check_key(key)]
        if state == "present" and vf:
            if value is None:
                errs.append(f"{vf} is required when state is present")
            elif fast_value is str and not isinstance(value, str):  # a list, dict or YAML bool: not a map value
                errs.append(f"{vf} must be a string, not {type(value).__name__} {value!r}")
            else:
                errs.append(check_value(key, value))
        errs = [e for e in errs if e]
        if errs:
            errors.append("entry {!r}: {}".format(key, "; ".join(errs)))
            continue
        if state == "absent":
            value = None
        _store(wanted, errors, key.lower() if fold else key, (key, value, state), vf)
    return wanted, errors


def _store(wanted, errors, norm, entry, vf):
    """The last item for a key wins; the same key given again with another value or state is an error."""
    prev = wanted.get(norm)
    if prev is not None and (prev[1] != entry[1] or prev[2] != entry[2]):
        errors.append(f"entry {entry[0]!r}: given twice with different settings: "
                      f"{_describe(prev, vf)} and {_describe(entry, vf)}")
    wanted[norm] = entry


def _describe(entry, vf):
    key, value, state = entry
    return "{!r} ({})".format(key, "absent" if state == "absent" else f"{vf}={value!r}" if vf else "present")


def apply(records, wanted, exclusive, kind):
    """Single pass over the file. Returns (lines, added, removed, updated)."""
    out, added, removed, updated, seen = [], [], [], [], set()
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
                keep(kind.render(w[0], w[1]))
                updated.append(w[0])
    if len(seen) < len(wanted):  # seen is a subset of wanted: equal sizes mean nothing is left to append
        for norm, (key, value, state) in wanted.items():
            if state == "present" and norm not in seen:
                if out and not out[-1].endswith("\n"):
                    out[-1] += "\n"
                out.append(kind.render(key, value))
                added.append(key)
    return out, added, sorted(set(removed)), sorted(set(updated))


def update_text(text, items, exclusive, kind):
    """Pure function used by modules and tests: returns (new_text, added, removed, updated, errors)."""
    wanted, errors = collect(items, kind)
    if errors:
        return text, [], [], [], errors
    lines, added, removed, updated = apply(kind.parse(text), wanted, exclusive, kind)
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


def replace(module, tmp, dest):
    """Rename ``tmp`` over ``dest``; on EBUSY (bind-mounted file) copy in place keeping the inode."""
    try:
        os.rename(tmp, dest)
    except OSError as e:
        if e.errno != errno.EBUSY:
            module.atomic_move(tmp, dest, unsafe_writes=module.params.get("unsafe_writes", False))
            return
        with open(tmp, "rb") as src, open(dest, "r+b") as out:
            shutil.copyfileobj(src, out)
            out.truncate()
        os.unlink(tmp)


def _umask_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
        cmd, data = [tool, map_type, tmp_text], tmp_text
    if not tool:
        name = "sendmail" if kind.db == "aliases" else "makemap"
        msg = f"{name} not found; install sendmail (Debian: sendmail-bin) or set the {name} option; nothing was written"
        return None, {"msg": msg}
    if data is None:
        rc, out, err = module.run_command(cmd)
    else:
        shell_cmd = " ".join(shlex.quote(c) for c in cmd) + " < " + shlex.quote(data)
        rc, out, err = module.run_command(shell_cmd, use_unsafe_shell=True)
    built = db_files(tmp_text, map_type)
    if rc != 0 or not all(os.path.exists(b) for b in built):
        return None, {"msg": "{} failed (rc={}); {} and its database were left unchanged".format(
            " ".join(cmd), rc, p["path"]), "rc": rc, "stdout": out, "stderr": err, "cmd": cmd}
    return built, None


def run(module, kind, items):
    """Everything a map module does.  Fails before writing when any entry is invalid."""
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
    if kind.name == "authinfo":
        module.no_log_values.update(w for w in new_text.split() if w.startswith('"P'))

    args = dict(p)
    if len(items) > 100:  # keep exit_json from scanning and echoing 100,000 entries back
        args["aliases" if kind.db == "aliases" else "entries"] = f"<{len(items) - len(pairs)} items>"
        if pairs:
            args["pairs"] = f"<{len(pairs)} items>"
    result = {"invocation": {"module_args": args}, "changed": text_changed or db_rebuilt,
              "added": added, "removed": removed, "updated": updated, "db_rebuilt": db_rebuilt,
              "backup_file": "", "map_type": map_type, "path": path}
    if module._diff and text_changed:  # no diff for an unchanged text: it would echo the whole file twice
        result["diff"] = {"before": old_text, "after": new_text, "before_header": path, "after_header": path}
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
    if os.path.exists(path):
        result["changed"] = module.set_fs_attributes_if_different(
            module.load_file_common_arguments(p), result["changed"])
    parts = [f"{len(added)} added", f"{len(removed)} removed", f"{len(updated)} updated"]
    result["msg"] = "{}: {}{}".format(path, ", ".join(parts), "; database rebuilt" if db_rebuilt else "")
    module.exit_json(**result)


def _commit(module, kind, plan, result):
    """Write the temp text, build the database from it, then move database and text into place."""
    path, old_bytes, new_bytes, text_changed, db_rebuilt, map_type, dbs = (plan[k] for k in (
        "path", "old_bytes", "new_bytes", "text_changed", "db_rebuilt", "map_type", "dbs"))
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg=f"directory {directory} does not exist")
    fd, tmp_text = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    built = []
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(new_bytes)
        _copy_attrs(module, path, tmp_text, _umask_mode())
        if db_rebuilt:
            built, failure = build_db(module, kind, tmp_text, map_type)
            if failure:
                module.fail_json(**failure)
            for tmp_db, final in zip(built, dbs, strict=True):
                _copy_attrs(module, final if os.path.exists(final) else tmp_text, tmp_db, 0o644)
        if text_changed and module.params.get("backup") and old_bytes is not None:
            result["backup_file"] = module.backup_local(path)
        for tmp_db, final in zip(built or [], dbs if built else [], strict=True):
            replace(module, tmp_db, final)
        if text_changed:
            replace(module, tmp_text, path)
    finally:
        for leftover in [tmp_text] + db_files(tmp_text, map_type or "hash"):
            if os.path.exists(leftover):
                os.unlink(leftover)


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

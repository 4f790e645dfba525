#!/usr/bin/python
# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: EXE001  (ansible-test: modules carry a shebang but must not be executable)

from __future__ import annotations

DOCUMENTATION = r"""
module: opendkim_keys
short_description: Generate OpenDKIM keys for many domains in one call and return their DNS records
version_added: 0.1.0
description:
  - For every key of O(keys), in one module run, the module makes sure its directory exists (mode O(dir_mode), owned by
    O(user)/O(group)), generates the key pair with C(opendkim-genkey) when the private key does not exist, gives the
    private key mode O(private_mode) and the C(.txt) record file mode O(txt_mode), both owned by O(user)/O(group), and
    reads the public record back from the C(.txt) file.
  - A key is generated into a temporary directory inside the key's directory and moved into place only when
    C(opendkim-genkey) succeeded and wrote both files. The private key is linked into place, which fails rather than
    replace a file of that name, so an existing private key is never overwritten or regenerated.
  - With O(generate=false) nothing is created, generated or changed; the module only reads the records that exist and
    reports the keys that have none.
  - Private key material is never read, returned or shown in a diff.
options:
  keys:
    description:
      - The keys to manage, one per domain (the opendkim role passes C(__opendkim_keys), built by the filter
        C(homelab.mailserver.mail_dkim_keys)).
      - A domain may appear only once (the records are returned by domain).
    type: list
    elements: dict
    required: true
    suboptions:
      domain:
        description: The signing domain (C(d=)); the record is published at C(SELECTOR._domainkey.DOMAIN).
        type: str
        required: true
      selector:
        description: The DKIM selector (C(s=)); C(opendkim-genkey) names its files C(SELECTOR.private) and C(SELECTOR.txt).
        type: str
        required: true
      dir:
        description: Absolute path of the directory that holds this key's files.
        type: path
        required: true
      private:
        description: The private key file; must be C(DIR/SELECTOR.private), the name C(opendkim-genkey) writes.
        type: path
      txt:
        description: The public record file; must be C(DIR/SELECTOR.txt), the name C(opendkim-genkey) writes.
        type: path
  generate:
    description:
      - V(true) creates the directories, generates missing keys and corrects owners and modes.
      - V(false) only reads the public records that exist; a key without one is listed in RV(missing).
    type: bool
    default: true
  missing_ok:
    description:
      - What to do with a key that has no public record after the run (with O(generate=false) a key that was never
        generated; with either setting a C(.txt) file missing next to an existing private key, which is not
        regenerated).
      - V(false) fails the module, naming the domains; V(true) leaves the domain out of RV(dns_keys) and lists it in
        RV(missing).
      - A key that check mode would generate is never missing.
    type: bool
    default: false
  bits:
    description: RSA key size of generated keys (C(opendkim-genkey -b)). Existing keys are kept whatever their size.
    type: int
    default: 2048
  restricted:
    description: Generate records restricted to email use (C(opendkim-genkey -r), the record carries C(s=email)).
    type: bool
    default: true
  user:
    description: Owner of the key directories and files (the user OpenDKIM runs as). Required when O(generate=true).
    type: str
  group:
    description: Group of the key directories and files; default is the primary group of O(user).
    type: str
  dir_mode:
    description: Mode of each key directory (and of any parent directory the module creates), octal.
    type: raw
    default: '0700'
  private_mode:
    description: Mode of the private keys, octal.
    type: raw
    default: '0600'
  txt_mode:
    description: Mode of the public record files, octal.
    type: raw
    default: '0644'
  genkey:
    description: Path of C(opendkim-genkey); default is the one found on the C(PATH) or in C(/usr/sbin), C(/usr/bin).
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Everything is computed and reported; nothing is written. A key that would be generated is listed in
      RV(generated) and has no record yet (its RV(key_results[].value) is null and its domain is not in RV(dns_keys)).
  diff_mode:
    support: partial
    details: Before and after of the directories' and key files' existence, owner, group and mode, and whether a key
      is generated; never the content of a key file.
  platform:
    platforms: posix
notes:
  - The module runs C(opendkim-genkey -b BITS -h sha256 [-r] -d DOMAIN -s SELECTOR -D TMPDIR) once per key that does
    not exist; a run in which every key exists runs no command.
  - A C(.txt) file next to a missing private key belongs to a lost key and is replaced by the new key's.
  - When C(opendkim-genkey) fails for a key, its temporary directory is removed (no partial files are left), the other
    keys are still processed, and the module fails naming each domain that failed.
seealso:
  - module: homelab.mailserver.sendmail_map
author:
  - Homelab Mailserver Developers (@homelab-mailserver)
"""

EXAMPLES = r"""
- name: Keys for two domains, owned by the opendkim user (the opendkim role's call)
  homelab.mailserver.opendkim_keys:
    keys:
      - {domain: my-site.com, selector: mail, dir: /etc/dkimkeys/my-site.com}
      - {domain: another-site.com, selector: mail, dir: /etc/dkimkeys/another-site.com}
    user: opendkim
    group: opendkim
    bits: 2048
  register: dkim

- name: Print the record of my-site.com
  ansible.builtin.debug:
    msg: "{{ dkim.dns_keys['my-site.com'].selector }}._domainkey.my-site.com TXT {{ dkim.dns_keys['my-site.com'].value }}"

- name: Only read the records that exist (the doctor), without failing on a domain that has no key yet
  homelab.mailserver.opendkim_keys:
    keys: "{{ __opendkim_keys }}"
    generate: false
    missing_ok: true
  register: dkim_read
"""

RETURN = r"""
dns_keys:
  description: The record of every key that has one, by domain (the shape of the opendkim role's C(opendkim_dns_keys)).
    C(value) is the TXT value, the quoted strings of the C(.txt) file joined.
  returned: always
  type: dict
  sample: {my-site.com: {selector: mail, value: "v=DKIM1; h=sha256; k=rsa; s=email; p=MIIBIjANBgkq..."}}
key_results:
  description: One entry per key of O(keys), in the order given. Not named C(keys), which Jinja's dot notation would
    resolve to the result dictionary's C(keys) method.
  returned: always
  type: list
  elements: dict
  contains:
    domain:
      description: The domain.
      type: str
      sample: my-site.com
    selector:
      description: The selector.
      type: str
      sample: mail
    name:
      description: The DNS name of the record.
      type: str
      sample: mail._domainkey.my-site.com
    state:
      description: V(present) the key existed, V(generated) it was (in check mode would be) generated, V(missing) it
        has no public record, V(failed) it could not be generated or read (the module then fails, naming it).
      type: str
      sample: present
    value:
      description: The TXT value; null when the key is missing or (check mode) not generated yet.
      type: str
      sample: "v=DKIM1; h=sha256; k=rsa; s=email; p=MIIBIjANBgkq..."
    changes:
      description: What was (in check mode would be) changed for this key.
      type: list
      elements: str
      sample: ["mode of /etc/dkimkeys/my-site.com/mail.private 0644 -> 0600"]
generated:
  description: Domains whose key was (in check mode would be) generated.
  returned: always
  type: list
  elements: str
  sample: [another-site.com]
missing:
  description: Domains that have no public record (see O(missing_ok)).
  returned: always
  type: list
  elements: str
  sample: []
msg:
  description: Summary.
  returned: always
  type: str
  sample: "2 keys: 1 generated, 0 corrected, 0 missing"
"""

import errno
import grp
import os
import pwd
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

GENKEY_DIRS = ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]


def record_value(text):
    """The TXT value of an opendkim-genkey .txt file (the filter mail_dkim_txt computes the same), or None."""
    return V.dkim_txt_value(text)


def octal(module, name):
    value = module.params[name]
    try:
        mode = value if isinstance(value, int) else int(str(value), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        module.fail_json(msg=V.problem(name, value, "an octal mode such as '0600'"))
    return mode


def owner_ids(module):
    """(uid, gid) of user/group; None for a name the host does not know (tolerated in check mode only)."""
    user, group = module.params["user"], module.params["group"]
    uid = gid = None
    try:
        entry = pwd.getpwnam(user)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            gid = None
    unknown = [f"user {user}"] * (uid is None) + [f"group {group or '(of ' + user + ')'}"] * (gid is None)
    if unknown:
        text = " and ".join(unknown) + " not found on the host"
        if not module.check_mode:
            module.fail_json(msg=text + "; nothing was changed")
        module.warn(text + " (check mode: assumed to be created by an earlier task, e.g. a package install)")
    return uid, gid


def check_keys(keys):
    """Errors in the key list: names, paths, duplicates."""
    errors, seen = V.Problems(), set()
    for index, key in enumerate(keys):
        domain, selector, folder = key["domain"], key["selector"], key["dir"]
        where = f"keys[{index}]"
        errors.check(V.check_domain, domain, where + ".domain")
        errors.check(V.check_dkim_selector, selector, where + ".selector")
        errors.check(V.check_abs_path, folder, where + ".dir")
        for field, suffix in (("private", ".private"), ("txt", ".txt")):
            expected = os.path.join(folder, selector + suffix)
            if key[field] and os.path.normpath(key[field]) != os.path.normpath(expected):
                errors.add(f"{where}.{field}", key[field], f"{expected} (opendkim-genkey writes that name)")
        if domain.rstrip(".").lower() in seen:
            errors.add(where + ".domain", domain, "a domain given once: it is given more than once")
        seen.add(domain.rstrip(".").lower())
    return list(errors)


class Keys:
    """The work of one module run: plan and apply each key, collect results and diff lines."""

    def __init__(self, module):
        self.module = module
        p = module.params
        self.write = p["generate"] and not module.check_mode
        self.modes = {"dir": octal(module, "dir_mode"), "private": octal(module, "private_mode"),
                      "txt": octal(module, "txt_mode")}
        self.uid, self.gid = owner_ids(module) if p["generate"] else (None, None)
        self.names = (p["user"], p["group"] or self.group_name(self.gid, p["user"]))
        self.genkey = None
        self.before, self.after, self.errors = [], [], []
        self.planned = set()  # directories this run creates (in check mode: would create)

    @staticmethod
    def group_name(gid, fallback):
        try:
            return grp.getgrgid(gid).gr_name
        except (KeyError, TypeError):
            return fallback

    # -------------------------------------------------------------- metadata
    def describe(self, st):
        try:
            user = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            user = str(st.st_uid)
        return f"{stat.S_IMODE(st.st_mode):04o} {user}:{self.group_name(st.st_gid, str(st.st_gid))}"

    def wanted(self, kind):
        return f"{self.modes[kind]:04o} {self.names[0]}:{self.names[1]}"

    def fix(self, path, kind, changes, st=None):
        """Give PATH its mode and owner; record what differs. ST: its lstat, when already known."""
        st = st or os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise OSError(errno.ELOOP, "is a symbolic link; refusing to follow it", path)
        mode, differs = stat.S_IMODE(st.st_mode), []
        if mode != self.modes[kind]:
            differs.append(f"mode of {path} {mode:04o} -> {self.modes[kind]:04o}")
        if self.uid is None or self.gid is None or (st.st_uid, st.st_gid) != (self.uid, self.gid):
            differs.append("owner of {} {} -> {}:{}".format(path, self.describe(st).split(" ", 1)[1], *self.names))
        if not differs:
            return
        changes.extend(differs)
        self.before.append(f"{path}: {self.describe(st)}")
        self.after.append(f"{path}: {self.wanted(kind)}")
        if self.write:
            os.chown(path, self.uid, self.gid)
            os.chmod(path, self.modes[kind])

    def ensure_dir(self, path, changes):
        if path in self.planned:
            return
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None:
            if not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, "exists and is not a directory", path)
            self.fix(path, "dir", changes, st)
            return
        parent = os.path.dirname(path.rstrip("/"))
        if parent and parent != path and not os.path.isdir(parent):
            self.ensure_dir(parent, changes)
        self.planned.add(path)
        changes.append(f"created directory {path}")
        self.before.append(f"{path}: absent")
        self.after.append(f"{path}: directory {self.wanted('dir')}")
        if self.write:
            os.mkdir(path, self.modes["dir"])
            os.chown(path, self.uid, self.gid)
            os.chmod(path, self.modes["dir"])  # mkdir's mode is masked by the umask

    # -------------------------------------------------------------- generation
    def find_genkey(self):
        path = self.module.params["genkey"] or self.module.get_bin_path("opendkim-genkey", opt_dirs=GENKEY_DIRS)
        if path and os.access(path, os.X_OK) and os.path.isfile(path):
            return path
        return None

    def generate(self, key, private, txt, changes):
        """Run opendkim-genkey into a temporary directory beside the key, then move its files into place."""
        p = self.module.params
        changes.append("key generated")
        self.before.append(f"{key['domain']} {key['selector']}: no key")
        self.after.append(f"{key['domain']} {key['selector']}: key generated ({private} {self.wanted('private')}, "
                          f"{txt} {self.wanted('txt')})")
        if not self.write:
            return None
        tmp = tempfile.mkdtemp(prefix=f".{key['selector']}.genkey-", dir=key["dir"])
        try:
            argv = [self.genkey, "-b", str(p["bits"]), "-h", "sha256"] + ["-r"] * p["restricted"] + [
                "-d", key["domain"].rstrip("."), "-s", key["selector"], "-D", tmp]
            rc, out, err = self.module.run_command(argv)
            new_private = os.path.join(tmp, key["selector"] + ".private")
            new_txt = os.path.join(tmp, key["selector"] + ".txt")
            if rc != 0:
                raise GenkeyError(f"opendkim-genkey failed (rc={rc}): {(err or out).strip()}")
            if not (os.path.isfile(new_private) and os.path.isfile(new_txt)):
                raise GenkeyError(f"opendkim-genkey exited 0 but did not write {key['selector']}.private and "
                                  f"{key['selector']}.txt")
            with open(new_txt, encoding="utf-8", errors="replace") as f:
                value = record_value(f.read())
            if value is None:
                raise GenkeyError(f"opendkim-genkey wrote no DKIM record (v=DKIM1; ... p=...) in {key['selector']}.txt")
            for path, kind in ((new_private, "private"), (new_txt, "txt")):
                os.chown(path, self.uid, self.gid)
                os.chmod(path, self.modes[kind])
            try:
                os.link(new_private, private)  # fails with EEXIST rather than replace a key
            except OSError as e:
                if e.errno == errno.EEXIST:
                    raise GenkeyError(f"{private} appeared while the key was generated; it was kept") from None
                if os.path.lexists(private):
                    raise
                os.rename(new_private, private)  # a file system without hard links
            os.replace(new_txt, txt)
            return value
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -------------------------------------------------------------- one key
    def run_key(self, key, result):
        """Fill RESULT (state, value, changes) for KEY; raises OSError or GenkeyError on failure."""
        private, txt = paths(key)
        changes = result["changes"]
        generate = self.module.params["generate"]
        if generate:
            self.ensure_dir(os.path.normpath(key["dir"]), changes)
        has_private = os.path.lexists(private)
        if generate and not has_private:
            result["state"] = "generated"
            result["value"] = self.generate(key, private, txt, changes)
            return
        if generate:
            self.fix(private, "private", changes)
        try:
            with open(txt, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            result["state"] = "missing"
            return
        if generate:
            self.fix(txt, "txt", changes)
        result["value"] = record_value(text)
        if result["value"] is None:
            raise GenkeyError(f"{txt} holds no DKIM record (v=DKIM1; ... p=...)")
        if not has_private:
            result["state"] = "missing"  # generate=false: a record without its key is not published
            result["value"] = None

    def run(self, keys):
        if self.module.params["generate"] and any(not os.path.lexists(paths(k)[0]) for k in keys):
            self.genkey = self.find_genkey()
            if self.genkey is None:
                where = self.module.params["genkey"] or "opendkim-genkey"
                if not self.module.check_mode:
                    self.module.fail_json(msg=f"{where} not found or not executable (Debian: opendkim-tools); "
                                              "nothing was changed")
                self.module.warn(f"{where} not found (check mode: assumed to be installed by an earlier task)")
        results = []
        for key in keys:
            domain, selector = key["domain"].rstrip("."), key["selector"]
            result = {"domain": domain, "selector": selector, "name": f"{selector}._domainkey.{domain}",
                      "state": "present", "value": None, "changes": []}
            results.append(result)
            try:
                self.run_key(key, result)
            except (OSError, GenkeyError) as e:
                self.errors.append(f"{domain}: {e}")
                result["state"], result["value"] = "failed", None
        return results


def paths(key):
    """(private key, public record) files of KEY."""
    return (key["private"] or os.path.join(key["dir"], key["selector"] + ".private"),
            key["txt"] or os.path.join(key["dir"], key["selector"] + ".txt"))


class GenkeyError(Exception):
    """A key that could not be generated or read (reported with its domain)."""


def main():
    module = AnsibleModule(
        argument_spec={
            "keys": {"type": "list", "elements": "dict", "required": True, "no_log": False, "options": {
                "domain": {"type": "str", "required": True},
                "selector": {"type": "str", "required": True},
                "dir": {"type": "path", "required": True},
                "private": {"type": "path"},
                "txt": {"type": "path"},
            }},
            "generate": {"type": "bool", "default": True},
            "missing_ok": {"type": "bool", "default": False},
            "bits": {"type": "int", "default": 2048},
            "restricted": {"type": "bool", "default": True},
            "user": {"type": "str"},
            "group": {"type": "str"},
            "dir_mode": {"type": "raw", "default": "0700"},
            "private_mode": {"type": "raw", "default": "0600"},
            "txt_mode": {"type": "raw", "default": "0644"},
            "genkey": {"type": "path", "no_log": False},
        },
        required_if=[("generate", True, ("user",))],
        supports_check_mode=True,
    )
    p = module.params
    errors = check_keys(p["keys"])
    if p["bits"] < 1024:
        errors.append(V.problem("bits", p["bits"], "at least 1024"))
    if errors:
        module.fail_json(msg="invalid keys, nothing was changed:\n- " + "\n- ".join(errors), errors=errors)

    work = Keys(module)
    results = work.run(p["keys"])
    generated = [r["domain"] for r in results if r["state"] == "generated"]
    missing = [r["domain"] for r in results if r["state"] == "missing"]
    corrected = [r["domain"] for r in results if r["changes"] and r["state"] != "generated"]
    out = {
        "changed": any(r["changes"] for r in results),
        "key_results": results,
        "dns_keys": {r["domain"]: {"selector": r["selector"], "value": r["value"]} for r in results if r["value"]},
        "generated": generated,
        "missing": missing,
        "msg": f"{len(results)} keys: {len(generated)} generated, {len(corrected)} corrected, {len(missing)} missing",
    }
    if module._diff and (work.before or work.after):
        out["diff"] = {"before": "\n".join(work.before) + "\n", "after": "\n".join(work.after) + "\n",
                       "before_header": "opendkim keys", "after_header": "opendkim keys"}
    if work.errors:
        out["msg"] = "; ".join(work.errors)
        module.fail_json(errors=work.errors, **out)
    if missing and not p["missing_ok"]:
        out["msg"] = "no DKIM key record for {} (missing_ok is false)".format(", ".join(missing))
        module.fail_json(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()

# Copyright: (c) 2025, homelab.mailserver developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build, check and install a daemon's configuration (the code of homelab.mailserver.config_build).

The candidate files are written into a private directory (inside the live file's directory,
or next to the live directory when the check needs a copy of it), built and checked there,
and only when every step passed are the files whose bytes differ renamed over the live ones
with module.atomic_move. A failure removes the private directory and leaves every live file
as it was.
"""

from __future__ import annotations

import contextlib
import fnmatch
import grp
import os
import pwd
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.homelab.mailserver.plugins.module_utils._config_audit import KINDS as AUDIT_KINDS
from ansible_collections.homelab.mailserver.plugins.module_utils._config_audit import audit_config, expect_problems

TEMP_TAG = ".config_build-"
OUTPUT_TAIL = 30  # lines of a failing command's stdout/stderr quoted in the message
AUDIT_SHOWN = 10  # problems of a failing audit the message names
_PLACEHOLDER = re.compile(r"%([sd%])")


def argument_spec():
    """The module's options (owner, group, mode of the main file come from add_file_common_args)."""
    return dict(
        content=dict(type="str", required=True),
        dest=dict(type="path", required=True),
        extra_files=dict(type="list", elements="dict", default=[], options=dict(
            dest=dict(type="path", required=True),
            content=dict(type="str", required=True),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="raw"),
        )),
        build=dict(type="dict", options=dict(
            argv=dict(type="list", elements="str", required=True),
            output=dict(type="path", required=True),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="raw"),
            stderr_fails=dict(type="bool", default=True),
        )),
        check=dict(type="list", elements="str", required=True),
        check_as=dict(type="str"),
        check_env=dict(type="dict", default={}),
        check_dir=dict(type="bool", default=False),
        check_stderr_fails=dict(type="bool", default=False),
        dir_edits=dict(type="list", elements="dict", default=[], options=dict(
            glob=dict(type="str", required=True),
            regexp=dict(type="str", required=True),
            replace=dict(type="str", required=True),
        )),
        restart_when_changed=dict(type="list", elements="str"),
        line_regex=dict(type="str"),
        report_regex=dict(type="str"),
        origin_regex=dict(type="str"),
        fail_hint=dict(type="str", default=""),
        audit=dict(type="dict", options=dict(
            kind=dict(type="str", required=True, choices=list(AUDIT_KINDS)),
            expect=dict(type="dict", default={}),
        )),
    )


@contextlib.contextmanager
def stdin_from_devnull():
    """Give the commands run inside the block /dev/null as standard input (run_command passes its own on).

    The builds and checks read no input, but one waits for it: `sendmail -bt` reads test addresses
    until end of file. Over SSH without pipelining (ansible-core's default, and how AWX and
    ansible-navigator run) the module's standard input is the session's terminal (ssh -tt), which
    never ends: `sendmail -bt` would wait forever. /dev/null ends at once.
    """
    try:
        saved = os.dup(0)
    except OSError:
        saved = None
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        yield
    finally:
        os.close(null)
        if saved is not None:
            os.dup2(saved, 0)
            os.close(saved)


class StepFailed(Exception):
    """A build, check or audit step failed; the live files are untouched."""


@dataclass
class Candidate:
    """One file the module may install: its live path and its candidate in the private directory."""

    dest: str
    path: str
    kind: str  # main, extra, built or edited
    owner: str | None = None
    group: str | None = None
    mode: object = None
    live: bytes | None = None
    data: bytes | None = None

    @property
    def differs(self):
        return self.live != self.data


def substitute(arg, file_path, dir_path):
    """Replace %s by the candidate file, %d by the candidate directory and %% by %."""
    return _PLACEHOLDER.sub(lambda m: {"s": file_path, "d": dir_path, "%": "%"}[m.group(1)], arg)


def command_text(argv, file_name, dir_label):
    """The command as a message shows it: the program's base name, placeholders named."""
    shown = [os.path.basename(argv[0])] + [substitute(a, file_name, dir_label) for a in argv[1:]]
    return "`" + " ".join(shown) + "`"


def read_bytes(path):
    """The bytes of a regular file (following links), None when there is none."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def find_line(outputs, name, line_regex=None):
    """The first line number the outputs name: NAME:N, NAME line N, NAME (line N), then any "line N"."""
    if line_regex:
        patterns = [line_regex]
    else:
        patterns = [re.escape(name) + r"""["']?(?::(\d+)|,? line (\d+)| \(line (\d+)\))""", r"\bline (\d+)\b"]
    for pattern in patterns:
        for text in outputs:
            match = re.search(pattern, text or "")
            if match:
                groups = [g for g in match.groups() if g is not None] or [match.group(0)]
                digits = re.search(r"\d+", groups[0])
                if digits:
                    return int(digits.group(0))
    return 0


def origin_of(lines, number, origin_regex):
    """The first group of the nearest line at or above NUMBER that matches ORIGIN_REGEX."""
    if not origin_regex:
        return ""
    pattern = re.compile(origin_regex)
    for index in range(min(number, len(lines)) - 1, -1, -1):
        match = pattern.search(lines[index])
        if match:
            return (match.group(1) if pattern.groups else match.group(0)).strip()
    return ""


def text_lines(data):
    """The lines of a file's bytes as the daemons and m4 count them: ended by a newline only."""
    return [line.removesuffix("\r") for line in to_text(data or b"", errors="surrogate_or_replace").split("\n")]


def describe_line(name, data, number, origin_regex):
    """'NAME line N 'text' comes from ORIGIN', or '' when N is not a line of DATA."""
    lines = text_lines(data)
    if not 1 <= number <= len(lines):
        return ""
    text = "%s line %d %r" % (name, number, lines[number - 1])
    origin = origin_of(lines, number, origin_regex)
    return text + (" comes from " + origin if origin else "")


def tail(text, keep=OUTPUT_TAIL):
    lines = (text or "").strip().splitlines()
    if len(lines) > keep:
        lines = ["[... %d lines left out]" % (len(lines) - keep)] + lines[-keep:]
    return "\n".join(lines)


def restart_lines(data, patterns):
    text = to_text(data or b"", errors="surrogate_or_replace")
    return [line for line in text.splitlines() if any(p.search(line) for p in patterns)]


class ConfigBuild:
    """One run of the module: prepare, build, check, compare, install."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.work = None
        self.result = dict(changed=False, changed_files=[], restart_needed=False, line=0, origin="",
                           checked=False, check_rc=None, check_stdout="", check_stderr="")
        self.dest = os.path.abspath(self.p["dest"])
        self.live_dir = os.path.dirname(self.dest)
        self.candidates = []

    # --- input --------------------------------------------------------------------------

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result, **extra))

    def validate(self):
        p = self.p
        if not os.path.isdir(self.live_dir):
            self.fail("%s: its directory %s does not exist (is the daemon's package installed?)" % (self.dest, self.live_dir))
        if os.path.isdir(self.dest):
            self.fail("%s is a directory, not a file" % self.dest)
        names = {os.path.basename(self.dest): "dest"}
        others = [(f["dest"], "extra_files") for f in p["extra_files"]]
        if p["build"]:
            others.append((p["build"]["output"], "build.output"))
        for path, what in others:
            path = os.path.abspath(path)
            if os.path.dirname(path) != self.live_dir:
                self.fail("%s %s must be in the directory of dest (%s)" % (what, path, self.live_dir))
            if os.path.basename(path) in names:
                self.fail("%s %s names the same file as %s" % (what, path, names[os.path.basename(path)]))
            names[os.path.basename(path)] = what
        if p["dir_edits"] and not p["check_dir"]:
            self.fail("dir_edits needs check_dir=true (the edits are made in the copy of the directory)")
        if not p["check"]:
            self.fail("check must name a command")
        if p["build"] and not p["build"]["argv"]:
            self.fail("build.argv must name a command")
        for what, pattern in ([("restart_when_changed", r) for r in p["restart_when_changed"] or []]
                              + [("line_regex", p["line_regex"]), ("origin_regex", p["origin_regex"])]
                              + [("report_regex", p["report_regex"])]
                              + [("dir_edits.regexp", e["regexp"]) for e in p["dir_edits"]]):
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                self.fail("%s %r is not a valid regular expression: %s" % (what, pattern, exc))
        for owner in [p["owner"]] + [f["owner"] for f in p["extra_files"]] + [(p["build"] or {}).get("owner")]:
            self.uid(owner)
        for group in [p["group"]] + [f["group"] for f in p["extra_files"]] + [(p["build"] or {}).get("group")]:
            self.gid(group)
        if p["check_as"]:
            self.user(p["check_as"])
        if p["audit"]:
            problems = expect_problems(p["audit"]["kind"], p["audit"]["expect"])
            if problems:
                self.fail("; ".join(problems))

    def uid(self, owner):
        if owner is None:
            return None
        if str(owner).isdigit():
            return int(owner)
        try:
            return pwd.getpwnam(owner).pw_uid
        except KeyError:
            return self.fail("owner %s: no such user" % owner)

    def gid(self, group):
        if group is None:
            return None
        if str(group).isdigit():
            return int(group)
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return self.fail("group %s: no such group" % group)

    def user(self, name):
        try:
            return pwd.getpwuid(int(name)) if str(name).isdigit() else pwd.getpwnam(name)
        except KeyError:
            return self.fail("check_as %s: no such user" % name)

    # --- the private directory ----------------------------------------------------------

    def make_work_dir(self):
        live = os.stat(self.live_dir)
        if self.p["check_dir"]:
            parent = os.path.dirname(self.live_dir) or "/"
            self.work = tempfile.mkdtemp(prefix="." + os.path.basename(self.live_dir) + TEMP_TAG, dir=parent)
            shutil.copytree(self.live_dir, self.work, symlinks=True, dirs_exist_ok=True, ignore=_special_files,
                            copy_function=_copy_keeping_owner)
            self._like(self.work, live)
        else:
            self.work = tempfile.mkdtemp(prefix="." + os.path.basename(self.dest) + TEMP_TAG, dir=self.live_dir)
            if self.p["check_as"]:
                # the check's user reads the candidate as it reads the live directory
                self._like(self.work, live)

    @staticmethod
    def _like(path, st):
        if os.geteuid() == 0:
            os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, stat.S_IMODE(st.st_mode))

    def work_path(self, dest):
        return os.path.join(self.work, os.path.basename(dest))

    def write(self, candidate, data):
        """Write a candidate file (never through a link the copy of the directory holds)."""
        candidate.data = data
        if os.path.lexists(candidate.path):
            os.unlink(candidate.path)
        fd = os.open(candidate.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self.give_attributes(candidate)

    def give_attributes(self, candidate):
        """Owner, group and mode the file will have live: the options', else the live file's, else the defaults."""
        try:
            live = os.stat(candidate.dest)
        except FileNotFoundError:
            live = None
        uid = self.uid(candidate.owner)
        gid = self.gid(candidate.group)
        if uid is None and live is not None:
            uid = live.st_uid
        if gid is None and live is not None:
            gid = live.st_gid
        current = os.stat(candidate.path)
        if (uid is not None and uid != current.st_uid) or (gid is not None and gid != current.st_gid):
            os.chown(candidate.path, -1 if uid is None else uid, -1 if gid is None else gid)
        mode = self.mode(candidate, current)
        if mode is None:
            mode = stat.S_IMODE(live.st_mode) if live is not None else 0o666 & ~_umask()
        os.chmod(candidate.path, mode)

    def mode(self, candidate, st):
        mode = candidate.mode
        if mode is None:
            return None
        if isinstance(mode, int):
            return mode
        mode = str(mode)
        if re.fullmatch(r"0?[0-7]{3,4}", mode):
            return int(mode, 8)
        try:
            return self.module._symbolic_mode_to_octal(st, mode)
        except ValueError as exc:
            return self.fail("mode %r of %s: %s" % (mode, candidate.dest, exc))

    # --- steps ----------------------------------------------------------------------------

    def prepare(self):
        p = self.p
        main = Candidate(self.dest, self.work_path(self.dest), "main", p["owner"], p["group"], p["mode"],
                         live=read_bytes(self.dest))
        self.write(main, to_bytes(p["content"], errors="surrogate_or_strict"))
        self.candidates.append(main)
        for item in p["extra_files"]:
            dest = os.path.abspath(item["dest"])
            extra = Candidate(dest, self.work_path(dest), "extra", item["owner"], item["group"], item["mode"],
                              live=read_bytes(dest))
            self.write(extra, to_bytes(item["content"], errors="surrogate_or_strict"))
            self.candidates.append(extra)
        taken = {os.path.basename(c.dest) for c in self.candidates}
        if p["build"]:
            taken.add(os.path.basename(p["build"]["output"]))
        for edit in p["dir_edits"]:
            self.edit(edit, taken)

    def edit(self, edit, taken):
        """Apply one line-by-line replacement to the copies of the directory's other files."""
        pattern = re.compile(edit["regexp"])
        replace = edit["replace"]
        for name in sorted(os.listdir(self.work)):
            path = os.path.join(self.work, name)
            if name in taken or not fnmatch.fnmatch(name, edit["glob"]) or os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as handle:
                before = handle.read()
            text = to_text(before, errors="surrogate_or_strict")
            lines = text.splitlines(keepends=True)
            out = []
            for line in lines:
                body = line.rstrip("\r\n")
                end = line[len(body):]
                out.append((pattern.sub(replace, body) if pattern.search(body) else body) + end)
            after = to_bytes("".join(out), errors="surrogate_or_strict")
            if after == before:
                continue
            edited = Candidate(os.path.join(self.live_dir, name), path, "edited",
                               live=read_bytes(os.path.join(self.live_dir, name)))
            self.candidates.append(edited)
            self.write(edited, after)

    def run(self, argv, stdout_path=None, user=None, extra_env=None):
        """Run ARGV in the live directory through run_command; return (rc, stdout, stderr).

        USER (a pwd entry) runs it as that user, through setpriv, with that user's groups, HOME,
        USER and LOGNAME; EXTRA_ENV is set last. With STDOUT_PATH the standard output goes to that
        file. Neither ~ nor $VAR in ARGV is expanded: the arguments reach the program as written.
        """
        env = {"LC_ALL": "C", "LANG": "C"}
        if user is not None:
            env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
            if user.pw_uid != os.geteuid():
                groups = ",".join(str(g) for g in os.getgrouplist(user.pw_name, user.pw_gid))
                argv = [self.module.get_bin_path("setpriv", required=True), "--reuid=%d" % user.pw_uid,
                        "--regid=%d" % user.pw_gid, "--groups=%s" % groups, "--"] + list(argv)
        env.update({str(k): str(v) for k, v in (extra_env or {}).items()})
        try:
            with stdin_from_devnull():
                rc, out, err = self.module.run_command(argv, cwd=self.live_dir, environ_update=env, encoding=None,
                                                       expand_user_and_vars=False, handle_exceptions=False)
        except OSError as exc:
            rc, out, err = 127, b"", to_bytes("cannot run %s: %s" % (argv[0], exc))
        if stdout_path:
            with open(stdout_path, "wb") as handle:
                handle.write(out or b"")
            out = b""
        return rc, to_text(out or b"", errors="surrogate_or_replace"), to_text(err, errors="surrogate_or_replace")

    def build(self):
        spec = self.p["build"]
        main = self.candidates[0]
        output = os.path.abspath(spec["output"])
        built = Candidate(output, self.work_path(output), "built", spec["owner"], spec["group"], spec["mode"],
                          live=read_bytes(output))
        argv = [substitute(a, main.path, self.work) for a in spec["argv"]]
        if os.path.lexists(built.path):
            os.unlink(built.path)
        rc, _out, err = self.run(argv, stdout_path=built.path)
        self.result.update(build_rc=rc, build_stderr=err)
        if rc != 0 or (spec["stderr_fails"] and err.strip()):
            number = find_line([err], os.path.basename(main.path), self.p["line_regex"])
            self.step_failed("build", number, main, "%s could not build %s from the candidate %s (rc=%d%s): %s" % (
                os.path.basename(spec["argv"][0]), os.path.basename(output), self.dest, rc,
                ", but it wrote to stderr" if rc == 0 else "", self.clean(tail(err)) or "(no output)"))
        built.data = read_bytes(built.path)
        self.give_attributes(built)
        self.candidates.append(built)
        return built

    def check(self, checked):
        argv = [substitute(a, checked.path, self.work) for a in self.p["check"]]
        user = self.user(self.p["check_as"]) if self.p["check_as"] else None
        rc, out, err = self.run(argv, user=user, extra_env=self.p["check_env"])
        self.result.update(check_rc=rc, check_stdout=out, check_stderr=err)
        if rc != 0 or (self.p["check_stderr_fails"] and err.strip()):
            name = os.path.basename(checked.dest)
            number = find_line([err, out], name, self.p["line_regex"])
            what = self.dest if checked.kind == "main" else "%s built from %s" % (checked.dest, self.dest)
            dir_label = "<copy of %s>" % self.live_dir if self.p["check_dir"] else "<candidate dir>"
            report = self.report(err, out)
            self.step_failed("check", number, checked, "%s rejected the candidate %s (%s, rc=%d): %s" % (
                os.path.basename(self.p["check"][0]), what, command_text(self.p["check"], name, dir_label), rc, report))

    def audit(self, audited):
        """Compare the checked candidate with what the variables ask for (module_utils/_config_audit.py)."""
        spec = self.p["audit"]
        text = to_text(audited.data or b"", errors="surrogate_or_replace")
        problems = audit_config(spec["kind"], text, spec["expect"])
        name = os.path.basename(audited.dest)
        lines = text_lines(audited.data)
        origins = [origin_of(lines, p.line, self.p["origin_regex"]) if p.line else "" for p in problems]
        self.result["audit"] = [p.describe(name, o) for p, o in zip(problems, origins, strict=True)]
        if not problems:
            return
        shown = self.result["audit"][:AUDIT_SHOWN]
        if len(problems) > AUDIT_SHOWN:
            shown.append("and %d more (see audit)" % (len(problems) - AUDIT_SHOWN))
        what = self.dest if audited.kind == "main" else "%s built from %s" % (audited.dest, self.dest)
        msg = "the %s audit found in the candidate %s what the variables do not ask for: %s" % (
            spec["kind"], what, "; ".join(shown))
        origin = origins[0]
        source = self.source_of(problems) if audited.kind == "built" else None
        if source:
            number, origin = source
            main = self.candidates[0]
            msg += " -- made by %s" % describe_line(os.path.basename(main.dest), main.data, number, self.p["origin_regex"])
        self.step_failed("audit", problems[0].line, audited, msg, origin=origin)

    def source_of(self, problems):
        """(line, origin) of the first line of the candidate of dest that can make one of the problems, or None."""
        lines = text_lines(self.candidates[0].data)
        for problem in problems:
            if not problem.source:
                continue
            pattern = re.compile(problem.source)
            for number, line in enumerate(lines, 1):
                if line.lstrip().startswith("dnl") or not pattern.search(line):
                    continue
                return number, origin_of(lines, number, self.p["origin_regex"])
        return None

    def report(self, *outputs):
        """The output lines a failure message quotes: those matching report_regex if any do, else the last ones."""
        if self.p["report_regex"]:
            pattern = re.compile(self.p["report_regex"])
            picked = [line for text in outputs for line in (text or "").splitlines() if pattern.search(line)]
            if picked:
                return self.clean(tail("\n".join(picked)))
        return "\n".join(x for x in (self.clean(tail(text)) for text in outputs) if x) or "(no output)"

    def clean(self, text):
        """A command's output with the private directory's path left out."""
        return text.replace(self.work + "/", "").replace(self.work, "<candidate dir>")

    def step_failed(self, step, number, candidate, msg, origin=None):
        """Fail naming the line NUMBER of CANDIDATE and its origin (ORIGIN: the message names them already)."""
        self.result.update(failed_step=step, line=number)
        if origin is not None:
            self.result["origin"] = origin
        else:
            where = describe_line(os.path.basename(candidate.dest), candidate.data, number, self.p["origin_regex"])
            if where:
                self.result["origin"] = origin_of(text_lines(candidate.data), number, self.p["origin_regex"])
                msg += " (%s)" % where
        if self.p["fail_hint"]:
            msg += " -- " + self.p["fail_hint"]
        lives = [c.dest for c in self.candidates if c.kind in ("main", "extra")]
        if self.p["build"]:
            lives.append(os.path.abspath(self.p["build"]["output"]))
        msg += " -- nothing was installed: the live %s %s unchanged, and so are the running daemon and its queue." % (
            " and ".join(lives), "is" if len(lives) == 1 else "are")
        raise StepFailed(msg)

    # --- result and install -------------------------------------------------------------------------

    def file_args(self, candidate):
        if candidate.kind == "main":
            return self.module.load_file_common_arguments(self.p, path=candidate.dest)
        return self.module.load_file_common_arguments(
            dict(owner=candidate.owner, group=candidate.group, mode=candidate.mode), path=candidate.dest)

    def compare(self):
        diffs = []
        for c in self.candidates:
            if c.kind == "built":
                continue
            if c.kind == "main" or c.differs:
                diffs.append(dict(before_header=c.dest, after_header=c.dest,
                                  before=to_text(c.live or b"", errors="surrogate_or_replace"),
                                  after=to_text(c.data, errors="surrogate_or_replace")))
        if self.module._diff:
            self.result["diff"] = diffs
        patterns = [re.compile(r) for r in self.p["restart_when_changed"] or []]
        main = self.candidates[0]
        if patterns:
            self.result["restart_needed"] = restart_lines(main.live, patterns) != restart_lines(main.data, patterns)
        else:
            self.result["restart_needed"] = any(c.differs for c in self.candidates)

    def install(self):
        changed_files = self.result["changed_files"]  # filled as it goes: an error midway reports what was done
        order = {"edited": 0, "extra": 1, "main": 2, "built": 3}
        for c in sorted(self.candidates, key=lambda c: order[c.kind]):
            changed = c.differs
            if changed and not self.module.check_mode:
                try:
                    self.module.atomic_move(c.path, c.dest, unsafe_writes=self.p.get("unsafe_writes", False))
                except Exception as exc:  # atomic_move raises plain Exception for a failed rename
                    raise OSError("could not move the checked %s into place: %s" % (c.dest, exc)) from exc
            if c.live is not None or not self.module.check_mode:
                changed = self.module.set_fs_attributes_if_different(self.file_args(c), changed)
            if changed:
                changed_files.append(c.dest)
        self.result.update(changed=bool(changed_files), changed_files=changed_files)

    def main(self):
        self.validate()
        try:
            self.make_work_dir()
            self.prepare()
            checked = self.build() if self.p["build"] else self.candidates[0]
            # Files that are byte for byte the live ones were checked when they were installed:
            # with nothing to install there is nothing to check (spamassassin --lint alone takes seconds).
            self.result["checked"] = any(c.differs for c in self.candidates)
            if self.result["checked"]:
                self.check(checked)
                if self.p["audit"]:
                    self.audit(checked)
            self.compare()
            self.install()
        except StepFailed as exc:
            self.cleanup()
            self.fail(str(exc))
        except OSError as exc:
            self.cleanup()
            done = self.result["changed_files"]
            state = ("installed before the error: " + ", ".join(done)) if done else "nothing was installed: the live files are unchanged"
            self.fail("%s: %s -- %s" % (self.dest, exc, state))
        finally:
            self.cleanup()  # also when fail_json exits
        if self.result["changed"]:
            self.result["msg"] = "installed " + ", ".join(self.result["changed_files"])
        else:
            self.result["msg"] = "%s and the files built with it are as checked: nothing to change" % self.dest
        self.module.exit_json(**self.result)

    def cleanup(self):
        if self.work:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work = None


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _special_files(directory, names):
    """copytree's ignore: sockets, pipes and devices are not configuration and cannot be copied."""
    skipped = []
    for name in names:
        try:
            mode = os.lstat(os.path.join(directory, name)).st_mode
        except OSError:
            skipped.append(name)
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            skipped.append(name)
    return skipped


def _copy_keeping_owner(src, dst):
    shutil.copy2(src, dst, follow_symlinks=False)
    if os.geteuid() == 0:
        st = os.lstat(src)
        os.lchown(dst, st.st_uid, st.st_gid)
    return dst

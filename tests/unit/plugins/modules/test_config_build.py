"""config_build end to end in real temporary directories, with fake checks run through sh -c, as the current user."""

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils import _config_build as cb
from ansible_collections.homelab.mailserver.plugins.modules import config_build

ME = pwd.getpwuid(os.getuid()).pw_name
OLD = "# live\nsocket /run/old.sock\ndelay 5m\n"
NEW = "# candidate\nsocket /run/old.sock\ndelay 10m\n"


def snapshot(root):
    """Every path under ROOT with its mode, inode, mtime and content (files)."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        st = path.lstat()
        out[str(path)] = (st.st_mode, st.st_ino, st.st_mtime_ns, path.read_bytes() if path.is_file() else None)
    return out


def sh(script, *args):
    """A check or build command: sh -c SCRIPT with $1.. = ARGS (placeholders such as %s pass through)."""
    return ["sh", "-c", script, "sh", *args]


@pytest.fixture
def etc(tmp_path):
    """A daemon's live directory with its config file, and a log directory outside it."""
    live = tmp_path / "etc" / "daemon"
    live.mkdir(parents=True)
    conf = live / "daemon.conf"
    conf.write_text(OLD)
    conf.chmod(0o644)
    log = tmp_path / "log"
    log.mkdir()
    return live, conf, log


def run(run_module, args, **kw):
    return run_module(config_build, args, **kw)


# --- install only what passed, only when it differs ---------------------------------------------


def test_a_candidate_that_passes_replaces_the_live_file_by_rename(etc, run_module):
    live, conf, _log = etc
    inode = conf.stat().st_ino
    result = run(run_module, dict(content=NEW, dest=str(conf), mode="0640", check=["true"]))
    assert result["changed"] is True
    assert result["changed_files"] == [str(conf)]
    assert conf.read_text() == NEW
    assert conf.stat().st_mode & 0o7777 == 0o640
    assert conf.stat().st_ino != inode, "the live file must be replaced by a rename, not rewritten in place"
    assert result["restart_needed"] is True
    assert result["check_rc"] == 0
    assert sorted(os.listdir(live)) == ["daemon.conf"], "no candidate or private directory may be left behind"


def test_same_bytes_and_attributes_change_nothing_and_keep_the_file(etc, run_module):
    live, conf, _log = etc
    before = snapshot(live)
    result = run(run_module, dict(content=OLD, dest=str(conf), mode="0644", check=["true"]))
    assert result["changed"] is False and result["changed_files"] == []
    assert result["restart_needed"] is False
    assert snapshot(live) == before


def test_the_check_does_not_run_when_nothing_differs_and_runs_when_something_does(etc, run_module):
    _live, conf, log = etc
    check = sh('echo ran >> "$1/ran"; exit 1', str(log))
    same = run(run_module, dict(content=OLD, dest=str(conf), check=check))
    assert same["changed"] is False and same["checked"] is False and same["check_rc"] is None
    assert not (log / "ran").exists(), "a candidate equal to the live file needs no check"
    new = run(run_module, dict(content=NEW, dest=str(conf), check=check))
    assert new["failed"] is True and new["checked"] is True and new["check_rc"] == 1
    assert (log / "ran").read_text() == "ran\n" and conf.read_text() == OLD


def test_a_mode_difference_alone_is_a_change_without_rewriting_the_bytes(etc, run_module):
    live, conf, _log = etc
    inode = conf.stat().st_ino
    result = run(run_module, dict(content=OLD, dest=str(conf), mode="0600", check=["true"]))
    assert result["changed"] is True and result["changed_files"] == [str(conf)]
    assert conf.stat().st_mode & 0o7777 == 0o600
    assert conf.stat().st_ino == inode and conf.read_text() == OLD
    assert result["restart_needed"] is False


def test_a_new_file_is_created_with_the_given_mode(tmp_path, run_module):
    dest = tmp_path / "new.conf"
    result = run(run_module, dict(content="x 1\n", dest=str(dest), mode="0600", check=["true"]))
    assert result["changed"] is True
    assert dest.read_text() == "x 1\n" and dest.stat().st_mode & 0o7777 == 0o600
    again = run(run_module, dict(content="x 1\n", dest=str(dest), mode="0600", check=["true"]))
    assert again["changed"] is False


def test_the_check_sees_the_candidate_while_the_live_file_is_still_the_old_one(etc, run_module):
    live, conf, log = etc
    script = 'cat "$1" > "$3/candidate"; cat "$2" > "$3/live"; pwd > "$3/cwd"; ls -a "$4" > "$3/dir"'
    run(run_module, dict(content=NEW, dest=str(conf), check=sh(script, "%s", str(conf), str(log), "%d")))
    assert (log / "candidate").read_text() == NEW
    assert (log / "live").read_text() == OLD, "nothing may go live before the check passed"
    assert (log / "cwd").read_text().strip() == str(live), "the check runs in the target's directory"
    assert "daemon.conf" in (log / "dir").read_text().split()


def test_the_candidate_has_its_final_mode_when_checked(etc, run_module):
    _live, conf, log = etc
    run(run_module, dict(content=NEW, dest=str(conf), mode="0640", check=sh('stat -c %a "$1" > "$2/mode"', "%s", str(log))))
    assert (log / "mode").read_text().strip() == "640"


# --- failures leave everything as it was -------------------------------------------------------------


def test_a_failing_check_leaves_the_live_file_byte_identical_and_names_file_rc_and_stderr(etc, run_module):
    live, conf, _log = etc
    before = snapshot(live)
    script = 'echo "daemon.conf line 3: bad delay" >&2; echo "some stdout"; exit 4'
    result = run(run_module, dict(content=NEW, dest=str(conf), check=sh(script, "%s"), fail_hint="fix daemon_delay"))
    assert result["failed"] is True
    assert result["failed_step"] == "check"
    assert result["check_rc"] == 4
    assert "bad delay" in result["check_stderr"] and "some stdout" in result["check_stdout"]
    msg = result["msg"]
    for word in ("sh rejected the candidate " + str(conf), "rc=4", "bad delay", "fix daemon_delay",
                 "the live " + str(conf) + " is unchanged", "daemon and its queue"):
        assert word in msg, msg
    assert result["line"] == 3
    assert "daemon.conf line 3 'delay 10m'" in msg, msg
    assert snapshot(live) == before, "the live directory must be exactly as it was"


def test_output_on_stderr_fails_the_check_only_when_asked(etc, run_module):
    _live, conf, _log = etc
    check = sh("echo warning >&2; exit 0")
    assert run(run_module, dict(content=NEW, dest=str(conf), check=check, check_stderr_fails=True))["failed"] is True
    assert conf.read_text() == OLD
    result = run(run_module, dict(content=NEW, dest=str(conf), check=check))
    assert result["changed"] is True and conf.read_text() == NEW


def test_report_regex_picks_the_lines_the_message_quotes(etc, run_module):
    _live, conf, _log = etc
    script = 'echo "Version 8.18.1"; echo "Compiled with: DANE"; echo "$1: line 2: unknown option"; exit 70'
    result = run(run_module, dict(content=NEW, dest=str(conf), check=sh(script, "%s"), report_regex=r"line [0-9]+"))
    assert result["failed"] is True
    quoted = result["msg"].split("rc=70):")[1]  # what follows the command
    assert "daemon.conf: line 2: unknown option" in quoted
    assert "Compiled with" not in quoted and "Compiled with" in result["check_stdout"]
    fallback = run(run_module, dict(content=NEW, dest=str(conf), check=sh(script, "%s"), report_regex="no such text"))
    assert "Compiled with" in fallback["msg"].split("rc=70):")[1], "no matching line: the message quotes the output"


def test_a_missing_check_program_fails_with_rc_127_and_changes_nothing(etc, run_module):
    live, conf, _log = etc
    before = snapshot(live)
    result = run(run_module, dict(content=NEW, dest=str(conf), check=[str(live / "no-such-tool"), "%s"]))
    assert result["failed"] is True and result["check_rc"] == 127
    assert "cannot run" in result["msg"] and "unchanged" in result["msg"]
    assert snapshot(live) == before


def test_a_missing_directory_is_named(tmp_path, run_module):
    result = run(run_module, dict(content="x", dest=str(tmp_path / "nope" / "x.conf"), check=["true"]))
    assert result["failed"] is True and "does not exist" in result["msg"]
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("args, words", [
    (dict(extra_files=[{"dest": "/elsewhere/x.pre", "content": ""}]), ["must be in the directory of dest"]),
    (dict(dir_edits=[{"glob": "*", "regexp": "a", "replace": "b"}]), ["dir_edits needs check_dir=true"]),
    (dict(restart_when_changed=["("]), ["restart_when_changed", "not a valid regular expression"]),
    (dict(owner="no-such-user-here"), ["no such user"]),
    (dict(build={"argv": ["cat", "%s"], "output": "/elsewhere/x.cf"}), ["build.output", "must be in the directory"]),
])
def test_bad_arguments_fail_before_anything_is_written(etc, run_module, args, words):
    live, conf, _log = etc
    before = snapshot(live)
    result = run(run_module, dict(dict(content=NEW, dest=str(conf), check=["true"]), **args))
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"], result["msg"]
    assert snapshot(live) == before


# --- check mode and diff ---------------------------------------------------------------------------


def test_check_mode_runs_the_check_reports_the_change_and_writes_nothing(etc, run_module):
    live, conf, log = etc
    before = snapshot(live)
    result = run(run_module, dict(content=NEW, dest=str(conf), mode="0600",
                                  check=sh('cat "$1" > "$2/checked"', "%s", str(log))), check=True, diff=True)
    assert result["changed"] is True and result["changed_files"] == [str(conf)]
    assert (log / "checked").read_text() == NEW, "check mode must still run the check"
    assert result["diff"][0]["before"] == OLD and result["diff"][0]["after"] == NEW
    assert result["diff"][0]["before_header"] == str(conf)
    assert snapshot(live) == before


def test_check_mode_with_a_failing_check_fails_and_writes_nothing(etc, run_module):
    live, conf, _log = etc
    before = snapshot(live)
    result = run(run_module, dict(content=NEW, dest=str(conf), check=["false"]), check=True)
    assert result["failed"] is True and result["check_rc"] == 1
    assert snapshot(live) == before


def test_check_mode_reports_a_mode_change_without_making_it(etc, run_module):
    _live, conf, _log = etc
    result = run(run_module, dict(content=OLD, dest=str(conf), mode="0600", check=["true"]), check=True)
    assert result["changed"] is True
    assert conf.stat().st_mode & 0o7777 == 0o644


def test_diff_is_only_returned_in_diff_mode(etc, run_module):
    _live, conf, _log = etc
    assert "diff" not in run(run_module, dict(content=NEW, dest=str(conf), check=["true"]), check=True)


# --- build step (m4) --------------------------------------------------------------------------------------


MC = "divert(-1)\ndnl # from: daemon_options\ndefine(`X', `1')\ndnl # from: daemon_raw_end[0]\nBROKEN(`here')dnl\ndivert(0)\nX\n"


@pytest.fixture
def mail(tmp_path):
    live = tmp_path / "mail"
    live.mkdir()
    mc, cf = live / "sendmail.mc", live / "sendmail.cf"
    mc.write_text("old mc\n")
    cf.write_text("old cf\n")
    return live, mc, cf


def test_the_build_output_is_checked_and_installed_with_the_candidate(mail, run_module, tmp_path):
    live, mc, cf = mail
    log = tmp_path / "log"
    log.mkdir()
    result = run(run_module, dict(
        content="hello\n", dest=str(mc), mode="0644",
        build=dict(argv=sh('tr a-z A-Z < "$1"', "%s"), output=str(cf), mode="0640"),
        check=sh('cat "$1" > "$2/checked"', "%s", str(log))))
    assert result["changed"] is True and result["changed_files"] == [str(mc), str(cf)]
    assert mc.read_text() == "hello\n" and cf.read_text() == "HELLO\n"
    assert cf.stat().st_mode & 0o7777 == 0o640
    assert (log / "checked").read_text() == "HELLO\n", "the check tests the built file"
    assert result["build_rc"] == 0
    assert sorted(os.listdir(live)) == ["sendmail.cf", "sendmail.mc"]


def test_a_changed_build_output_alone_is_a_change(mail, run_module):
    _live, mc, cf = mail
    args = dict(content="old mc\n", dest=str(mc), build=dict(argv=sh('echo "new cf"'), output=str(cf)), check=["true"])
    result = run(run_module, args)
    assert result["changed"] is True and result["changed_files"] == [str(cf)]
    assert mc.read_text() == "old mc\n" and cf.read_text() == "new cf\n"
    assert run(run_module, args)["changed"] is False


def test_m4_stderr_with_rc_0_fails_the_build_with_the_mc_line_and_its_origin(mail, run_module):
    live, mc, cf = mail
    before = snapshot(live)
    script = 'echo "m4:$1:5: cannot open \\`feature/nope.m4\'"  >&2; cat "$1"; exit 0'
    result = run(run_module, dict(
        content=MC, dest=str(mc), build=dict(argv=sh(script, "%s"), output=str(cf)),
        check=["true"], origin_regex=r"^dnl # from: (.+)$", fail_hint="check the raw lines"))
    assert result["failed"] is True and result["failed_step"] == "build"
    assert result["build_rc"] == 0 and "cannot open" in result["build_stderr"]
    assert result["line"] == 5 and result["origin"] == "daemon_raw_end[0]"
    msg = result["msg"]
    for word in ("could not build sendmail.cf from the candidate " + str(mc), "m4:sendmail.mc:5: cannot open",
                 "sendmail.mc line 5 \"BROKEN(`here')dnl\" comes from daemon_raw_end[0]", "check the raw lines",
                 str(mc) + " and " + str(cf) + " are unchanged"):
        assert word in msg, msg
    assert result["check_rc"] is None, "a failed build must not be checked"
    assert snapshot(live) == before


@pytest.mark.skipif(shutil.which("m4") is None, reason="needs m4")
def test_real_m4_errprint_is_a_failure_although_m4_exits_0(mail, run_module):
    live, mc, cf = mail
    before = snapshot(live)
    content = "line one\nline two\nerrprint(__file__:__line__: `no such feature')dnl\n"
    result = run(run_module, dict(content=content, dest=str(mc), build=dict(argv=["m4", "%s"], output=str(cf)),
                                  check=["true"]))
    assert result["failed"] is True and result["build_rc"] == 0
    assert result["line"] == 3, result
    assert "sendmail.mc line 3" in result["msg"]
    assert snapshot(live) == before


@pytest.mark.skipif(shutil.which("m4") is None, reason="needs m4")
def test_real_m4_builds_and_a_second_run_changes_nothing(mail, run_module):
    _live, mc, cf = mail
    args = dict(content="define(`NAME', `world')dnl\nhello NAME\n", dest=str(mc),
                build=dict(argv=["m4", "%s"], output=str(cf)), check=sh('grep -qx "hello world" "$1"', "%s"))
    assert run(run_module, args)["changed"] is True
    assert cf.read_text() == "hello world\n"
    inodes = (mc.stat().st_ino, cf.stat().st_ino)
    assert run(run_module, args)["changed"] is False
    assert (mc.stat().st_ino, cf.stat().st_ino) == inodes


def test_a_check_after_a_build_names_the_line_of_the_built_file(mail, run_module):
    _live, mc, cf = mail
    result = run(run_module, dict(
        content="a\nb\n", dest=str(mc), build=dict(argv=sh('printf "A\\nB\\n"'), output=str(cf)),
        check=sh('echo "$1: line 2: unknown configuration line" >&2; exit 78', "%s")))
    assert result["failed"] is True and result["failed_step"] == "check" and result["line"] == 2
    assert "sh rejected the candidate %s built from %s" % (cf, mc) in result["msg"]
    assert "sendmail.cf line 2 'B'" in result["msg"]
    assert cf.read_text() == "old cf\n"


# --- a check that reads the whole directory, as another user ----------------------------------------------


@pytest.fixture
def sa(tmp_path):
    live = tmp_path / "spamassassin"
    live.mkdir()
    (live / "local.cf").write_text("required_score 5\n")
    (live / "v310.pre").write_text("loadplugin Mail::SpamAssassin::Plugin::Pyzor\nloadplugin Other\n")
    (live / "v320.pre").write_text("# nothing managed here\nloadplugin Another\n")
    (live / "v320.pre").chmod(0o600)
    (live / "sub").mkdir()
    (live / "sub" / "hook").write_text("hook\n")
    return live


def test_check_dir_checks_a_copy_of_the_directory_and_installs_edits_and_extra_files(sa, run_module, tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    stock_inode = (sa / "v320.pre").stat().st_ino
    script = 'cd "$1" && cat local.cf homelab.pre v310.pre v320.pre sub/hook > "$2/seen" && pwd > "$2/dir"'
    result = run(run_module, dict(
        content="required_score 4\n", dest=str(sa / "local.cf"), mode="0644",
        extra_files=[{"dest": str(sa / "homelab.pre"), "content": "loadplugin Mail::SpamAssassin::Plugin::Pyzor\n",
                      "mode": "0644"}],
        check_dir=True,
        dir_edits=[{"glob": "*.pre", "regexp": r"^([ \t]*loadplugin[ \t]+Mail::SpamAssassin::Plugin::Pyzor\b.*)$",
                    "replace": r"# managed by homelab.pre: \1"}],
        check=sh(script, "%d", str(log))), diff=True)
    assert result["changed"] is True
    assert sorted(result["changed_files"]) == sorted(str(sa / n) for n in ("local.cf", "homelab.pre", "v310.pre"))
    seen = (log / "seen").read_text()
    assert seen.startswith("required_score 4\nloadplugin Mail::SpamAssassin::Plugin::Pyzor\n")
    assert "# managed by homelab.pre: loadplugin Mail::SpamAssassin::Plugin::Pyzor\nloadplugin Other\n" in seen
    assert seen.endswith("loadplugin Another\nhook\n")
    assert os.path.dirname((log / "dir").read_text().strip()) == str(tmp_path), "the copy is next to the live directory"
    assert (sa / "v310.pre").read_text() == "# managed by homelab.pre: loadplugin Mail::SpamAssassin::Plugin::Pyzor\nloadplugin Other\n"
    assert (sa / "v320.pre").stat().st_ino == stock_inode and (sa / "v320.pre").stat().st_mode & 0o777 == 0o600
    assert [d["before_header"] for d in result["diff"]] == [str(sa / n) for n in ("local.cf", "homelab.pre", "v310.pre")]
    assert sorted(os.listdir(tmp_path)) == ["log", "spamassassin"], "the copy must be removed"
    again = run(run_module, dict(
        content="required_score 4\n", dest=str(sa / "local.cf"), mode="0644",
        extra_files=[{"dest": str(sa / "homelab.pre"), "content": "loadplugin Mail::SpamAssassin::Plugin::Pyzor\n",
                      "mode": "0644"}],
        check_dir=True,
        dir_edits=[{"glob": "*.pre", "regexp": r"^([ \t]*loadplugin[ \t]+Mail::SpamAssassin::Plugin::Pyzor\b.*)$",
                    "replace": r"# managed by homelab.pre: \1"}],
        check=["true"]))
    assert again["changed"] is False, "an edit must not apply twice"


def test_a_failing_directory_check_installs_neither_candidates_nor_edits(sa, run_module, tmp_path):
    before = snapshot(sa)
    result = run(run_module, dict(
        content="bogus 1\n", dest=str(sa / "local.cf"), check_dir=True,
        extra_files=[{"dest": str(sa / "homelab.pre"), "content": "x\n"}],
        dir_edits=[{"glob": "*.pre", "regexp": "^loadplugin", "replace": "# loadplugin"}],
        check=sh('echo "config: failed to parse line, skipping, in \\"$1/local.cf\\": bogus 1" >&2; exit 2', "%d")))
    assert result["failed"] is True and result["check_rc"] == 2
    assert 'in "local.cf": bogus 1' in result["msg"], result["msg"]
    assert "the live %s and %s are unchanged" % (sa / "local.cf", sa / "homelab.pre") in result["msg"]
    assert snapshot(sa) == before
    assert sorted(os.listdir(tmp_path)) == ["spamassassin"]


def test_a_link_in_the_live_directory_is_replaced_not_written_through(sa, run_module, tmp_path):
    target = tmp_path / "elsewhere.cf"
    target.write_text("required_score 5\n")
    (sa / "local.cf").unlink()
    (sa / "local.cf").symlink_to(target)
    run(run_module, dict(content="required_score 3\n", dest=str(sa / "local.cf"), check_dir=True, check=["true"]))
    assert target.read_text() == "required_score 5\n", "the check's copy must not write through the link"


def test_check_as_sets_the_users_home_and_the_extra_environment(etc, run_module):
    _live, conf, log = etc
    result = run(run_module, dict(content=NEW, dest=str(conf), check_as=ME, check_env={"SPAM": "eggs"},
                                  check=sh('echo "$USER $SPAM $(id -un)" > "$1/env"', str(log))))
    assert result["changed"] is True
    assert (log / "env").read_text().split() == [ME, "eggs", ME]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_check_as_another_user_runs_with_that_users_ids_groups_and_home(run_module):
    nobody = pwd.getpwnam("nobody")
    top = Path(tempfile.mkdtemp(prefix="config-build-"))
    try:
        top.chmod(0o755)
        live = top / "etc"
        live.mkdir(mode=0o755)
        conf = live / "daemon.conf"
        conf.write_text(OLD)
        log = top / "log"
        log.mkdir()
        log.chmod(0o777)
        script = 'echo "$(id -u) $(id -g) $(id -G) $HOME $USER" > "$1/who"; cat "$2" > "$1/seen"'
        result = run(run_module, dict(content=NEW, dest=str(conf), check_as="nobody", check=sh(script, str(log), "%s")))
        assert result["changed"] is True
        groups = sorted(str(g) for g in os.getgrouplist("nobody", nobody.pw_gid))
        who = (log / "who").read_text().split()
        assert who[:2] == [str(nobody.pw_uid), str(nobody.pw_gid)]
        assert sorted(who[2:-2]) == groups, "the check must get the user's groups, not root's"
        assert who[-2:] == [nobody.pw_dir, "nobody"]
        assert (log / "seen").read_text() == NEW, "the user must read the candidate"
        assert conf.read_text() == NEW
    finally:
        shutil.rmtree(top)


def test_check_env_does_not_reach_the_build(mail, run_module):
    _live, mc, cf = mail
    run(run_module, dict(content="x\n", dest=str(mc), check_env={"SPAM": "eggs"},
                         build=dict(argv=sh('echo "[$SPAM]"'), output=str(cf)), check=["true"]))
    assert cf.read_text() == "[]\n"


# --- restart_needed ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, restart", [
    (OLD, False),
    (OLD.replace("delay 5m", "delay 10m"), False),
    (OLD.replace("old.sock", "new.sock"), True),
    (OLD + "user milter\n", True),
])
def test_restart_is_needed_only_when_a_startup_line_changes(etc, run_module, content, restart):
    _live, conf, _log = etc
    result = run(run_module, dict(content=content, dest=str(conf), check=["true"],
                                  restart_when_changed=[r"^(pidfile|socket|dumpfile|user)\s"]))
    assert result["changed"] is (content != OLD)
    assert result["restart_needed"] is restart


# --- helpers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outputs, name, number", [
    (["m4:/etc/mail/.x/sendmail.mc:212: cannot open"], "sendmail.mc", 212),
    (["doveconf: Fatal: Error in configuration file /etc/dovecot/.x/dovecot.conf line 42: Invalid number"], "dovecot.conf", 42),
    (['config: failed to parse line in "/x/local.cf" (line 7): bogus'], "local.cf", 7),
    (["", "config error at line 9: syntax error"], "greylist.conf", 9),
    (["warning, other.cf:3: x", "sendmail.mc:4: y"], "sendmail.mc", 4),
    (["nothing here"], "x.conf", 0),
])
def test_find_line(outputs, name, number):
    assert cb.find_line(outputs, name) == number


def test_find_line_with_its_own_regex():
    assert cb.find_line(["error in entry #12"], "x", r"entry #(\d+)") == 12


def test_substitute_placeholders():
    assert cb.substitute("--siteconfigpath=%d", "/f", "/d") == "--siteconfigpath=/d"
    assert cb.substitute("%s", "/f", "/d") == "/f"
    assert cb.substitute("100%%", "/f", "/d") == "100%"
    assert cb.substitute("%x", "/f", "/d") == "%x"


def test_origin_is_the_nearest_marker_above():
    lines = ["# from: a", "x", "# from: b", "y"]
    assert cb.origin_of(lines, 2, r"^# from: (.+)$") == "a"
    assert cb.origin_of(lines, 4, r"^# from: (.+)$") == "b"
    assert cb.origin_of(lines, 3, r"^# from: (.+)$") == "b"
    assert cb.origin_of(lines, 2, None) == ""


# --- audit: the second line of defence ------------------------------------------------------------------

CF_EXPECT = {"relay_files": ["/etc/mail/relay-domains"], "trusted_users": ["root", "daemon", "uucp", "smmta"],
             "trusted_files": ["/etc/mail/trusted-users"], "mailers": ["local", "smtp"]}
CLEAN_CF = "Cwlocalhost\nFR-o /etc/mail/relay-domains %[^\\#]\nO TrustedUser=smmta\nTroot\nTdaemon\nMlocal, P=x\nMsmtp, P=[IPC]\n"
SOURCE_MC = "divert(-1)\ndnl # from: sendmail_smart_host\ndefine(`SMART_HOST', `x')dnl\ndnl # from: sendmail_masquerade_as\n" \
            "MASQUERADE_AS(`my-site.com')RELAY_DOMAIN(`com')dnl\n"


def test_an_audit_finding_fails_before_install_naming_the_entry_and_the_mc_line_that_made_it(mail, run_module):
    live, mc, cf = mail
    before = snapshot(live)
    built = CLEAN_CF.replace("Troot\n", "Troot\nC{R}com\n")
    result = run(run_module, dict(content=SOURCE_MC, dest=str(mc), build=dict(argv=sh('printf "%%s" "$1"', built), output=str(cf)),
                                  check=["true"], origin_regex=r"^dnl # from: (.+)$", fail_hint="check the variables",
                                  audit=dict(kind="sendmail_cf", expect=CF_EXPECT)))
    assert result["failed"] is True and result["failed_step"] == "audit"
    assert result["check_rc"] == 0, "the audit runs after the check"
    assert result["audit"] == ["relay class R entry 'com' (sendmail.cf line 5 'C{R}com')"]
    assert result["line"] == 5 and result["origin"] == "sendmail_masquerade_as"
    msg = result["msg"]
    for word in ("the sendmail_cf audit found in the candidate %s built from %s" % (cf, mc), "relay class R entry 'com'",
                 "made by sendmail.mc line 5 \"MASQUERADE_AS(`my-site.com')RELAY_DOMAIN(`com')dnl\" comes from sendmail_masquerade_as",
                 "check the variables", "%s and %s are unchanged" % (mc, cf)):
        assert word in msg, msg
    assert snapshot(live) == before, "nothing may be installed"


def test_a_clean_audit_installs_and_returns_an_empty_list(mail, run_module):
    _live, mc, cf = mail
    result = run(run_module, dict(content="x\n", dest=str(mc), build=dict(argv=sh('printf "%%s" "$1"', CLEAN_CF), output=str(cf)),
                                  check=["true"], audit=dict(kind="sendmail_cf", expect=CF_EXPECT)))
    assert result["changed"] is True and result["audit"] == []
    assert cf.read_text() == CLEAN_CF


def test_raw_mc_lines_in_the_expectation_let_their_entries_through(mail, run_module):
    _live, mc, cf = mail
    built = CLEAN_CF + "C{R}example.org\nMcyrusv2, P=[IPC]\n"
    args = dict(content="x\n", dest=str(mc), build=dict(argv=sh('printf "%%s" "$1"', built), output=str(cf)), check=["true"])
    refused = run(run_module, dict(args, audit=dict(kind="sendmail_cf", expect=CF_EXPECT)))
    assert refused["failed"] is True and len(refused["audit"]) == 2
    raw = ["RELAY_DOMAIN(`example.org')dnl", "MAILER(`cyrusv2')dnl"]
    passed = run(run_module, dict(args, audit=dict(kind="sendmail_cf", expect=dict(CF_EXPECT, mc_lines=raw))))
    assert passed["changed"] is True and cf.read_text() == built


DOVECOT_CONF = "# from: dovecot_protocols\nprotocols = imap\n# from: dovecot_log_path\nlog_path = syslog\nservice imap-login {\n" \
               "  inet_listener imaps {\n    port = 993\n  }\n}\n"
DOVECOT_ENTRIES = ["protocols", "log_path", "service imap-login", "service imap-login/inet_listener imaps",
                   "service imap-login/inet_listener imaps/port"]


@pytest.mark.parametrize("content, words", [
    (DOVECOT_CONF.replace("syslog\n", "syslog\nlogin_trusted_networks = 0.0.0.0/0\n"),
     ["'login_trusted_networks' (daemon.conf line 5 'login_trusted_networks = 0.0.0.0/0' comes from dovecot_log_path)"]),
    (DOVECOT_CONF.replace("syslog\n", "syslog\n!include /tmp/x\n"), ["'!include /tmp/x' (daemon.conf line 5"]),
    (DOVECOT_CONF.replace("syslog\n", "syslog\nprotocols = imap pop3\n"), ["'protocols' (daemon.conf line 5", "2 times"]),
    (DOVECOT_CONF.replace("port = 993\n", "port = 993\n    ssl = no\n"), ["'service imap-login/inet_listener imaps/ssl'"]),
    (DOVECOT_CONF.replace("syslog\n", "syslog\\\n"), ["'service imap-login' is missing"]),
])
def test_a_dovecot_conf_audit_names_what_appeared_and_where_it_comes_from(etc, run_module, content, words):
    live, conf, _log = etc
    before = snapshot(live)
    result = run(run_module, dict(content=content, dest=str(conf), check=["true"], origin_regex=r"^\s*# from: (.+)$",
                                  audit=dict(kind="dovecot_conf", expect=dict(entries=DOVECOT_ENTRIES, extra_config=""))))
    assert result["failed"] is True and result["failed_step"] == "audit", result
    for word in words:
        assert word in result["msg"], result["msg"]
    assert snapshot(live) == before


def test_a_dovecot_conf_audit_passes_the_intended_file_and_its_extra_config(etc, run_module):
    _live, conf, _log = etc
    extra = "!include_try /etc/dovecot/local.conf\n"
    result = run(run_module, dict(content=DOVECOT_CONF + extra, dest=str(conf), check=["true"],
                                  audit=dict(kind="dovecot_conf", expect=dict(entries=DOVECOT_ENTRIES, extra_config=extra))))
    assert result["changed"] is True and result["audit"] == []


def test_check_mode_runs_the_audit_and_writes_nothing(etc, run_module):
    live, conf, _log = etc
    before = snapshot(live)
    result = run(run_module, dict(content="a = 1\nb = 2\n", dest=str(conf), check=["true"],
                                  audit=dict(kind="dovecot_conf", expect=dict(entries=["a"]))), check=True)
    assert result["failed"] is True and result["audit"] == ["setting, section or include 'b' (daemon.conf line 2 'b = 2')"]
    assert snapshot(live) == before


@pytest.mark.parametrize("audit, words", [
    (dict(kind="sendmail_cf", expect={"relay": []}), ["audit.expect.relay is not a key of the sendmail_cf audit"]),
    (dict(kind="dovecot_conf", expect={"entries": "protocols"}), ["audit.expect.entries must be a list of strings"]),
    (dict(kind="postfix", expect={}), ["audit", "kind", "postfix"]),
])
def test_a_bad_audit_fails_before_anything_is_written(etc, run_module, audit, words):
    live, conf, _log = etc
    before = snapshot(live)
    result = run(run_module, dict(content=NEW, dest=str(conf), check=["true"], audit=audit))
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"], result["msg"]
    assert snapshot(live) == before


GOLDEN_MC = Path(__file__).resolve().parents[2] / "roles" / "sendmail" / "golden" / "bigboy-Debian.sendmail.mc"
HAVE_CF = shutil.which("m4") is not None and os.path.exists("/usr/share/sendmail/cf/m4/cf.m4")


@pytest.mark.skipif(not HAVE_CF, reason="needs m4 and Debian's sendmail-cf")
@pytest.mark.parametrize("injected, words", [
    ("RELAY_DOMAIN(`com')", ["relay class R entry 'com'", "'C{R}com'"]),
    ("define(`confTRUSTED_USERS', `mallory')", ["trusted user (class t) 'mallory'", "'Tmallory'"]),
    ("define(`confCT_FILE', `/tmp/trusted')", ["trusted users file (class t) '/tmp/trusted'", "'Ft/tmp/trusted'"]),
    ("MAILER(`pop')", ["mailer 'pop'", "'Mpop,"]),
    ("FEATURE(`relay_entire_domain')", ["relay-widening FEATURE 'relay_entire_domain'"]),
])
def test_real_m4_a_clean_build_installs_and_an_injected_entry_fails_leaving_the_live_files(mail, run_module, injected, words):
    live, mc, cf = mail
    clean = GOLDEN_MC.read_text(encoding="utf-8")
    masquerade = "MASQUERADE_AS(`my-site.com')dnl"
    assert masquerade in clean
    args = dict(dest=str(mc), build=dict(argv=["m4", "%s"], output=str(cf)), check=["true"],
                origin_regex=r"^dnl # from: (.+)$", audit=dict(kind="sendmail_cf", expect=CF_EXPECT))
    installed = run(run_module, dict(args, content=clean))
    assert installed["changed"] is True and installed["audit"] == [], installed
    before = snapshot(live)
    result = run(run_module, dict(args, content=clean.replace(masquerade, masquerade[:-3] + injected + "dnl", 1)))
    assert result["failed"] is True and result["failed_step"] == "audit"
    for word in words + ["made by sendmail.mc line", "comes from sendmail_masquerade_*"]:
        assert word in result["msg"], result["msg"]
    assert result["origin"].startswith("sendmail_masquerade_*")
    assert snapshot(live) == before, "the live sendmail.mc and sendmail.cf must be byte-identical"


# --- standard input ------------------------------------------------------------------------------


def test_a_check_that_reads_standard_input_gets_end_of_file_not_the_modules_input(etc, run_module):
    """sendmail -bt reads until end of file; over SSH without pipelining the module's stdin is a terminal that never ends."""
    _live, conf, _log = etc
    reader, writer = os.pipe()  # a standard input that never ends while the writer stays open
    saved = os.dup(0)
    os.dup2(reader, 0)
    try:
        result = run(run_module, dict(content=NEW, dest=str(conf), check=sh("timeout 10 cat >/dev/null")))
    finally:
        os.dup2(saved, 0)
        for fd in (saved, reader, writer):
            os.close(fd)
    assert result["check_rc"] == 0, "the check waited on the module's standard input (timeout's rc 124)"
    assert conf.read_text() == NEW

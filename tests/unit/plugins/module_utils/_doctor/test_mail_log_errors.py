"""mail_log_errors: log lines of the chapter, a log file under tmp_path and a fake journalctl."""

import os

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import mail_log_errors as unit

from .helpers import fake_run, write

CHAPTER_LOG = [
    "Oct 16 10:20:04 bigboy sendmail[2500]: g9GHK3iQ002500: SYSERR(root): savemail: cannot save rejected email"
    " anywhere",
    "Oct 16 10:20:04 bigboy sendmail[2500]: g9GHK3iQ002500: Losing ./qfg9GHK3iQ002500: savemail panic",
    "Oct 16 10:23:58 bigboy sendmail[2582]: My unqualified host name (bigboy) unknown; sleeping for retry",
]


def test_tail_reads_only_the_end(tmp_path):
    log = tmp_path / "maillog"
    log.write_text("".join("line %d\n" % i for i in range(5000)))
    assert unit.tail(str(log), 3, block=64) == ["line 4997", "line 4998", "line 4999"]
    assert unit.tail(str(log), 10000) == ["line %d" % i for i in range(5000)]


def test_mail_log_errors():
    quiet = ["Dec  5 20:49:47 bigboy sendmail[1]: from=<a@b>, size=1, nrcpts=1"] * 3
    check = unit.check(quiet, "maillog")
    assert check == {"name": "mail_log_errors", "ok": True, "detail": "nothing alarming in the last 3 lines of maillog"}
    warn = quiet + ["Dec  5 20:49:48 bigboy dovecot: pop3(user1): Error: mail_location not set"]
    check = unit.check(warn, "maillog")
    assert check["ok"] is None and "mail_location not set" in check["detail"]
    for line in CHAPTER_LOG:
        assert unit.check([*quiet, line, quiet[0]], "maillog")["ok"] is False
    many = ["warning %d" % i for i in range(9)] + CHAPTER_LOG
    check = unit.check(many, "maillog")
    assert check["detail"].splitlines()[1:] == ["warning 7", "warning 8"] + CHAPTER_LOG
    assert unit.check([], "the journal")["ok"] is None
    assert unit.check(None, "no log")["ok"] is None


def test_read_mail_log_file_then_journal(tmp_path):
    log = write(tmp_path / "maillog", "a\nb\nc\n")
    run = fake_run({"--no-pager": (0, "x\ny\n", "")})
    assert unit.read_mail_log(log, 2, run, "journalctl") == (["b", "c"], log)
    lines, source = unit.read_mail_log(None, 5, run, "journalctl")
    if not any(os.path.exists(p) for p in unit.MAIL_LOGS):
        assert (lines, source) == (["x", "y"], "the journal (sendmail, dovecot)")
        assert run.calls[0][0] == ["journalctl", "-q", "-n", "5", "-u", "sendmail", "-u", "dovecot", "--no-pager"]
    assert unit.read_mail_log(str(tmp_path / "none"), 5, run, "journalctl")[0] is None

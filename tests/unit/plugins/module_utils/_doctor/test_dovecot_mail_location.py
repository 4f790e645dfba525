"""dovecot_mail_location: fake doveconf answers, sendmail.cf and procmailrc under tmp_path."""

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import dovecot_mail_location as unit

from .helpers import fake_run, write

PROCMAIL_CF = "Mlocal,\t\tP=/usr/bin/procmail, F=SAw5:|/@qSPfhn9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL,\n"
DOVECOT_23_MBOX = {("doveconf", "-h", "mail_location"): (0, "mbox:~/mail:INBOX=/var/mail/%u\n", "")}
DOVECOT_23_MAILDIR = {("doveconf", "-h", "mail_location"): (0, "maildir:~/Maildir\n", "")}
DOVECOT_24_MBOX = {
    ("doveconf", "-h", "mail_driver"): (0, "mbox\n", ""),
    ("doveconf", "-h", "mail_path"): (0, "~/mail\n", ""),
    ("doveconf", "-h", "mail_inbox_path"): (0, "/var/mail/%{user}\n", ""),
}
DOVECOT_24_MAILDIR = {
    ("doveconf", "-h", "mail_driver"): (0, "maildir\n", ""),
    ("doveconf", "-h", "mail_path"): (0, "%{home}/Maildir\n", ""),
    ("doveconf", "-h", "mail_inbox_path"): (0, "\n", ""),
}


@pytest.mark.parametrize(
    ("procmailrc", "dovecot", "ok"),
    [
        ("DEFAULT=$HOME/Maildir/\n", DOVECOT_23_MBOX, False),
        ("DEFAULT=$HOME/Maildir/\n", DOVECOT_23_MAILDIR, True),
        ("MAILDIR=$HOME\nDEFAULT=Maildir/\n", DOVECOT_24_MAILDIR, True),
        ("DEFAULT=$HOME/Maildir/\n", DOVECOT_24_MBOX, False),
        (None, DOVECOT_23_MBOX, True),
        (None, DOVECOT_24_MBOX, True),
        (None, DOVECOT_23_MAILDIR, False),
        ("DEFAULT=$HOME/Mail/\n", DOVECOT_23_MAILDIR, False),
        ('DEFAULT="/var/mail/$LOGNAME"\n', DOVECOT_23_MBOX, True),
        (None, {("doveconf", "-h", "mail_location"): (0, "mbox:~/mail\n", "")}, False),
    ],
)
def test_dovecot_mail_location(tmp_path, procmailrc, dovecot, ok):
    cf = write(tmp_path / "sendmail.cf", PROCMAIL_CF)
    rc = write(tmp_path / "procmailrc", procmailrc) if procmailrc else str(tmp_path / "none")
    check = unit.check(unit.dovecot_storage(fake_run(dovecot), "doveconf"), unit.delivery_storage(rc, cf))
    assert check["name"] == "dovecot_mail_location"
    assert check["ok"] is ok, check["detail"]
    assert ("wrong place" in check["detail"]) is (not ok)


def test_dovecot_wrong_mail_location_names_both(tmp_path):
    cf = write(tmp_path / "sendmail.cf", PROCMAIL_CF)
    rc = write(tmp_path / "procmailrc", "DEFAULT=$HOME/Maildir/\n")
    check = unit.check(unit.dovecot_storage(fake_run(DOVECOT_23_MBOX), "doveconf"), unit.delivery_storage(rc, cf))
    assert "mail_location = mbox:~/mail:INBOX=/var/mail/%u" in check["detail"]
    assert "DEFAULT=$HOME/Maildir/" in check["detail"] and "maildir:$HOME/Maildir/" in check["detail"]


def test_dovecot_autodetect_and_lda(tmp_path):
    unset = unit.dovecot_storage(fake_run({("doveconf", "-h", "mail_location"): (0, "\n", "")}), "doveconf")
    check = unit.check(unset, unit.delivery_storage(str(tmp_path / "none"), "/none"))
    assert check["ok"] is None and "autodetection failed" in check["detail"]
    cf = write(tmp_path / "sendmail.cf", "Mlocal,\t\tP=/usr/lib/dovecot/dovecot-lda, F=DFMPhnu9,\n")
    assert unit.delivery_storage(str(tmp_path / "none"), cf) is None
    assert unit.check(unset, None)["ok"] is True

    # LMTP over Dovecot's socket: the A= on sendmail.cf's continuation line
    cf = write(tmp_path / "sendmail.cf", "Mlocal,\t\tP=[IPC], F=lsDFMAw5:/|@qSXnz9m, S=EnvFromSMTP/HdrFromL,\n"
               "\t\tT=DNS/RFC822/SMTP,\n\t\tA=FILE /run/dovecot/lmtp\nMprog,\t\tP=/bin/sh, F=lsDFMoqeu9,\n")
    assert unit.delivery_storage(str(tmp_path / "none"), cf) is None
    other = write(tmp_path / "other.cf", "Mlocal,\t\tP=[IPC], F=lsDFMAw5:/|@qSXnz9m,\n\t\tA=FILE /run/cyrus/lmtp\n")
    assert unit.delivery_storage(str(tmp_path / "none"), other)["source"] == "[IPC] (local mailer)"


@pytest.mark.parametrize(
    ("mailer", "driver"),
    [("/usr/lib/sm.bin/sensible-mda", "maildir"), ("/usr/bin/procmail", "maildir"),
     ("/usr/lib/sm.bin/mail.local", "mbox")],
)
def test_local_mailer_decides_whether_procmailrc_counts(tmp_path, mailer, driver):
    """Debian's sensible-mda runs procmail; mail.local writes /var/mail whatever procmailrc says."""
    cf = write(tmp_path / "sendmail.cf", "Mlocal,\t\tP=%s, F=lsDFMAw5:/|@qPn9S,\n" % mailer)
    rc = write(tmp_path / "procmailrc", "DEFAULT=$HOME/Maildir/\n")
    assert unit.delivery_storage(rc, cf)["driver"] == driver

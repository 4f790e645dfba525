"""The doctor (homelab.mailserver.mail_doctor) on the chapter's server: a problem planted, named, undone.

mail_log_errors: the chapter's log lines ("The /var/log/maillog File": savemail panic, unqualified host
name) planted through syslog into /var/log/mail.log (rsyslog, prepare.yml), the file the doctor reads
first; found; removed again.
system_mail: the MSP qualifying `sendmail root` with the masquerade domain, whose catch-all
refuses root@my-site.com; planted as a submit.cf built from the live submit.mc with masquerade_envelope
before FEATURE(msp), and as an alias member the catch-all refuses. Nothing live is changed for it.
"""

import json
import time
import uuid

import pytest

FQDN = "bigboy.my-site.com"
MAIL_LOG = "/var/log/mail.log"
TRAP_DIR = "/var/tmp/doctor-trap"


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def doctor(ansible_module, check, **args):
    """The one check's result ({name, ok, detail}) of mail_doctor run on the instance."""
    result = ansible_module("homelab.mailserver.mail_doctor", {"fqdn": FQDN, "checks": [check], **args})
    found = [c for c in result.get("checks", []) if c["name"] == check]
    assert len(found) == 1, result
    return found[0]


# --- mail_log_errors: the chapter's maillog errors --------------------------------------------

def chapter_lines(qid):
    """The chapter's examples, as sendmail writes them (a queue ID of this test's own)."""
    return [
        f"{qid}: SYSERR(root): savemail: cannot save rejected email anywhere",
        f"{qid}: Losing ./qf{qid}: savemail panic",
        "My unqualified host name (bigboy) unknown; sleeping for retry",
    ]


def remove_lines_after(host, offset, texts):
    """Drop the lines after byte OFFSET of the mail log that carry one of TEXTS, in place (same inode,
    so rsyslog goes on appending to the file the doctor reads)."""
    script = (
        "import json, sys\n"
        "path, offset, texts = json.loads(sys.argv[1])\n"
        "with open(path, 'r+b') as handle:\n"
        "    data = handle.read()\n"
        "    head, tail = data[:offset], data[offset:].splitlines(keepends=True)\n"
        "    keep = [line for line in tail if not any(t.encode() in line for t in texts)]\n"
        "    handle.seek(0)\n"
        "    handle.write(head + b''.join(keep))\n"
        "    handle.truncate()\n"
    )
    args = json.dumps([MAIL_LOG, offset, texts])
    result = host.run(f"python3 -c {quote(script)} {quote(args)}")
    assert result.rc == 0, result.stderr


def test_the_mail_log_is_sendmails(host):
    """/var/log/mail.log exists and has the daemon's own lines: the doctor reads the real mail log."""
    log = host.file(MAIL_LOG)
    assert log.exists
    assert "starting daemon" in log.content_string


def test_doctor_finds_the_chapters_maillog_errors(host, ansible_module):
    before = doctor(ansible_module, "mail_log_errors")
    assert before["ok"] is not False, before
    assert MAIL_LOG in before["detail"], before
    qid = "zz" + uuid.uuid4().hex[:12]
    lines = chapter_lines(qid)
    offset = int(host.check_output(f"stat -c %s {MAIL_LOG}"))
    try:
        for line in lines:
            # through syslog (journald forwards to rsyslog), tagged as sendmail logs them
            assert host.run(f"logger -p mail.crit -t sendmail -- {quote(line)}").rc == 0
        deadline = time.time() + 60
        while not all(line in host.file(MAIL_LOG).content_string for line in lines):
            assert time.time() < deadline, "the planted lines never reached " + MAIL_LOG
            time.sleep(1)
        found = doctor(ansible_module, "mail_log_errors")
    finally:
        remove_lines_after(host, offset, lines)
    assert found["ok"] is False, found
    assert MAIL_LOG in found["detail"], found
    for line in lines:
        assert line in found["detail"], found
    # removed again: the doctor is back where it was
    assert not any(line in host.file(MAIL_LOG).content_string for line in lines)
    after = doctor(ansible_module, "mail_log_errors")
    assert after["ok"] is not False, after
    assert "savemail" not in after["detail"] and "unqualified" not in after["detail"], after


# --- system_mail: the trap ---------------------------------------------------------------

@pytest.fixture(scope="module")
def trap(host):
    """TRAP_DIR/submit.cf: the live submit.mc with masquerade_envelope before FEATURE(msp), built with m4;
    TRAP_DIR/aliases: the live aliases plus a list whose member the catch-all refuses."""
    mc = host.file("/etc/mail/submit.mc").content_string
    fixed = "define(`_MASQUERADE_ENVELOPE_', `1')dnl\n"
    assert fixed in mc and "FEATURE(`msp'" in mc, mc
    trapped = mc.replace(fixed, "").replace("FEATURE(`msp'", "FEATURE(`masquerade_envelope')dnl\nFEATURE(`msp'", 1)
    aliases = host.file("/etc/aliases").content_string + "lab-trap: nobody-here@my-site.com\n"
    result = host.run(
        f"install -d -m 0755 {TRAP_DIR} && printf %s {quote(trapped)} > {TRAP_DIR}/submit.mc"
        f" && m4 {TRAP_DIR}/submit.mc > {TRAP_DIR}/submit.cf && printf %s {quote(aliases)} > {TRAP_DIR}/aliases")
    assert result.rc == 0, result.stderr
    yield {"submit_cf": f"{TRAP_DIR}/submit.cf", "aliases": f"{TRAP_DIR}/aliases"}
    host.run(f"rm -rf {TRAP_DIR}")


def rcpt_reply(host, rcpt):
    """The live MTA's reply to RCPT TO:<rcpt> from this host (127.0.0.1), as the MSP meets it."""
    script = ("import smtplib, sys\n"
              "s = smtplib.SMTP('127.0.0.1', 25, timeout=60, local_hostname='bigboy.my-site.com')\n"
              "s.ehlo(); s.mail('marc@my-site.com'); code, text = s.rcpt(sys.argv[1]); s.quit()\n"
              "print(code, text.decode())\n")
    result = host.run(f"python3 -c {quote(script)} {quote(rcpt)}")
    assert result.rc == 0, result.stderr
    code, _sep, text = result.stdout.strip().partition(" ")
    return int(code), text


def msp_recipient(host, config, rcpt="root"):
    """Where the MSP built from CONFIG sends `sendmail root` (sendmail -bv: nothing is sent)."""
    return host.run(f"/usr/sbin/sendmail -C {config} -bv {rcpt}").stdout.strip()


def test_system_mail_ok_on_the_live_msp(host, ansible_module):
    check = doctor(ansible_module, "system_mail")
    assert check["ok"] is True, check
    assert "bigboy.my-site.com" in check["detail"], check
    assert "user root@bigboy.my-site.com" in msp_recipient(host, "/etc/mail/submit.cf")


def test_doctor_finds_recipient_masquerading_into_the_catchall(host, ansible_module, trap):
    """The planted trap: `sendmail root` would go to root@my-site.com; the doctor names it, and the live MTA
    refuses exactly that address."""
    assert "user root@my-site.com" in msp_recipient(host, trap["submit_cf"])
    check = doctor(ansible_module, "system_mail", submit_cf=trap["submit_cf"])
    assert check["ok"] is False, check
    assert "sendmail root on this host sends to root@my-site.com" in check["detail"], check
    assert "error:nouser User unknown" in check["detail"], check
    code, text = rcpt_reply(host, "root@my-site.com")
    assert code in (550, 553) and "User unknown" in text, (code, text)


def test_doctor_names_an_alias_member_the_catchall_refuses(host, ansible_module, trap):
    check = doctor(ansible_module, "system_mail", aliases_path=trap["aliases"])
    assert check["ok"] is False, check
    assert "alias lab-trap: member nobody-here@my-site.com (error:nouser User unknown)" in check["detail"], check
    code, text = rcpt_reply(host, "nobody-here@my-site.com")
    assert code in (550, 553) and "User unknown" in text, (code, text)

"""Outbound mail through the provider's authenticating relay (sendmail_relay_*).

bigboy sends every message that is not for its own domains through the lab provider's
relay (container provider, relay.outside.example on 127.0.0.4, group lab_provider), which
demands a login over TLS on 587 and delivers outside.example to local mailboxes. The tests:
  - a message from bigboy to alice@outside.example arrives in provider's mailbox, and the
    relay's Received header and both logs show TLS and the login labrelay;
  - a wrong password, set by a real ansible run (-e sendmail_relay_password=...), is refused
    by the relay's 535 when the role logs in before the login goes live: the run fails naming
    the variables, shows no password, leaves the authinfo map as it was, and mail keeps
    arriving exactly once. (sendmail itself would go on without AUTH after a 535, and the
    relay's 530 to MAIL would bounce the message: the role never lets a refused login live.)
"""

import base64
import os
import shlex
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT, wait  # noqa: E402

MAILBOX = "/var/mail/alice"
SEND = """
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "marc@my-site.com"
m["To"] = "alice@outside.example"
m["Subject"] = "relay test " + sys.argv[1]
m["Message-ID"] = "<" + sys.argv[1] + "@my-site.com>"
m.set_content("through the provider's relay\\n")
with smtplib.SMTP("127.0.0.1", 25, local_hostname="bigboy.my-site.com", timeout=30) as s:
    s.send_message(m)
"""


def send(bigboy, tok):
    out = bigboy.run("python3 -c %s %s" % (shlex.quote(SEND), shlex.quote(tok)))
    assert out.rc == 0, out.stderr


def copies(provider, tok):
    out = provider.run("grep -c %s %s" % (shlex.quote("^Subject: relay test " + tok), MAILBOX))
    return int(out.stdout.strip() or 0)


def journal(host, since, ident="sm-mta"):
    return host.run("journalctl -q -o cat -t %s --since %s" % (ident, shlex.quote(since))).stdout


def now(host):
    return host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()


def converge_sendmail(*extra, expect_ok=True):
    """site.yml on bigboy, the sendmail role only (--tags sendmail): the role's own path."""
    run = subprocess.run(["ansible-playbook", "-i", "inventories/lab", "site.yml", "--limit", "bigboy.my-site.com",
                          "--tags", "sendmail", *extra], cwd=ROOT, capture_output=True, text=True, check=False)
    if expect_ok:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return run


def message_block(mailbox_text, tok):
    """The headers of the one message with TOK in its subject."""
    for block in mailbox_text.split("\nFrom "):
        if "relay test " + tok in block:
            return block.split("\n\n", 1)[0]
    return ""


def test_outside_mail_leaves_through_the_relay_with_tls_and_login(bigboy, provider):
    since_b, since_p = now(bigboy), now(provider)
    tok = "ok-" + uuid.uuid4().hex[:12]
    send(bigboy, tok)
    assert wait(lambda: copies(provider, tok) == 1), f"not in {MAILBOX} on provider:\n" + bigboy.run("mailq").stdout
    headers = message_block(provider.run("cat " + MAILBOX).stdout, tok)
    received = headers.split("\nReceived: ")[1] if "\nReceived: " in headers else headers
    # the relay's own Received header: AUTH (ESMTPSA, authenticated) inside TLS
    assert "by relay.outside.example" in received and "with ESMTPSA" in received, headers
    assert "(authenticated bits=" in received and "version=TLSv1." in received, headers
    plog, blog = journal(provider, since_p), journal(bigboy, since_b)
    assert "AUTH=server" in plog and "authid=labrelay" in plog, plog[-2000:]
    assert "STARTTLS=client, relay=relay.outside.example" in blog, blog[-2000:]
    assert "relay=relay.outside.example. [127.0.0.4]" in blog and "stat=Sent" in blog, blog[-2000:]


def test_tls_is_required_before_the_login(bigboy):
    """The role's TLS_Srv entry for the relay: no STARTTLS means no session (454, the mail stays queued).

    sendmail's tls_server ruleset runs with the relay's name and address as the real delivery sets them
    (relay=relay.outside.example in its log line, no trailing dot)."""
    queries = (".D{server_name}relay.outside.example\n.D{server_addr}127.0.0.4\n.D{cipher_bits}0\ntls_server NONE\n"
               ".D{cipher_bits}256\ntls_server FAIL\n")
    out = bigboy.run("printf %s | sendmail -bt" % shlex.quote(queries)).stdout
    answers = [line for line in out.splitlines() if line.startswith("tls_server ") and "returns:" in line]
    assert len(answers) == 2, out
    assert "encryption too weak" in answers[0] and "4 . 7 . 0" in answers[0], answers
    assert answers[1].split("returns:")[1].strip() == "OK", answers


def test_authinfo_is_root_only(bigboy):
    """The login's text and database: root:root 0600, nothing for anyone else."""
    for path in ("/etc/mail/authinfo", "/etc/mail/authinfo.db"):
        assert bigboy.run("stat -c '%U:%G %a' " + path).stdout.strip() == "root:root 600", path
    assert "AuthInfo:relay.outside.example" in bigboy.run("cat /etc/mail/authinfo").stdout


def test_mail_between_the_local_domains_stays_local(bigboy):
    """my-site.com to another-site.com is delivered on bigboy: no relay line in the log."""
    since = now(bigboy)
    sent = bigboy.run("printf 'Subject: local\\n\\nstays here\\n' | sendmail -f marc@my-site.com john@another-site.com")
    assert sent.rc == 0
    assert wait(lambda: "mailer=local" in journal(bigboy, since) or "mailer=procmail" in journal(bigboy, since), 60)
    assert "relay.outside.example" not in journal(bigboy, since)


def test_wrong_password_is_refused_before_it_goes_live_and_mail_keeps_flowing(bigboy, provider):
    """A wrong password (a real ansible run with -e) fails the run, names the variables, shows no password,
    and leaves the authinfo map with the login that works: the next message still arrives, once."""
    before = bigboy.run("sha256sum /etc/mail/authinfo /etc/mail/authinfo.db").stdout
    wrong = "wrong-password-of-the-test"
    run = converge_sendmail("-e", "sendmail_relay_password=" + wrong, expect_ok=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "sendmail_relay_user / sendmail_relay_password" in output and "refused the login of labrelay" in output
    assert "535" in output, output[-3000:]
    assert wrong not in output and base64.b64encode(wrong.encode()).decode() not in output
    assert "Write the login for the provider's relay" not in output, "the map task ran after the refused login"
    assert bigboy.run("sha256sum /etc/mail/authinfo /etc/mail/authinfo.db").stdout == before
    # the relay saw the wrong login (its log names the failure) and nothing else changed on bigboy
    since = now(bigboy)
    tok = "after-" + uuid.uuid4().hex[:12]
    send(bigboy, tok)
    assert wait(lambda: copies(provider, tok) == 1), journal(bigboy, since)[-3000:]
    bigboy.run("sendmail -q")
    time.sleep(3)
    assert copies(provider, tok) == 1
    assert "dsn=5" not in journal(bigboy, since)

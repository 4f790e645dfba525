"""The backup MX (container backupmx, 127.0.0.11, group mail_backup_mx, sendmail_mode backup_mx).

The lab name server gives my-site.com two MX records: bigboy (priority 10) and backupmx (20).
The sender is a real MTA that looks them up: the provider's sendmail (relay.outside.example,
127.0.0.4), which has no mailertable or smart host for my-site.com. The tests:
  - bigboy's sendmail stopped, 200 messages (distinct Message-IDs) from alice@outside.example to
    my-site.com users: the provider finds bigboy refusing and hands every message to backupmx,
    where all 200 wait in the queue and none reaches bigboy; a queue run of backupmx while bigboy
    is still down (down longer than a queue run) keeps all 200 queued and bounces none; bigboy
    started, backupmx's queue run hands them on (mailertable esmtp:[bigboy.my-site.com]): each
    Message-ID is in bigboy's mailboxes exactly once, none lost, none twice;
  - from an untrusted address (127.0.0.5) backupmx refuses to relay to an outside domain
    (550 5.7.1) and refuses an address bigboy would refuse (550 5.1.1 User unknown) at RCPT;
  - bigboy refusing one recipient that backupmx queued (bigboy's virtusertable changed after the
    backup took the message): the bounce (DSN) comes from backupmx to the sender, naming the
    recipient and bigboy's 550.
Every connection stays on 127.0.0.0/8 inside the pod's network namespace.
"""

import collections
import os
import shlex
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import _lab_host, wait  # noqa: E402

COUNT = 200
USERS = ("marc", "peter", "mary", "grandma", "brother", "sister")
SENDER = "alice@outside.example"
SENDER_MAILBOX = "/var/mail/alice"
QUEUE = "/var/spool/mqueue"
# Into the provider's own MTA (127.0.0.4 may relay there), which resolves my-site.com's MX records.
SEND = """
import smtplib, sys
from email.message import EmailMessage
run, first, count, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
with smtplib.SMTP("127.0.0.4", 25, source_address=("127.0.0.4", 0), local_hostname="relay.outside.example",
                  timeout=120) as s:
    for i in range(first, first + count):
        m = EmailMessage()
        m["From"] = "alice@outside.example"
        m["To"] = users[i % len(users)] + "@my-site.com"
        m["Subject"] = "backup mx %s %d" % (run, i)
        m["Message-ID"] = "<bmx-%s-%d@outside.example>" % (run, i)
        m.set_content("sent by MX lookup while bigboy was down\\n")
        s.send_message(m)
print(count)
"""


@pytest.fixture(scope="module")
def backupmx():
    return _lab_host("backupmx")


def ids(host, run, where):
    """Message-IDs of RUN found in WHERE (files or directories) on HOST, with how often each occurs."""
    pattern = shlex.quote(f"message-id: *<bmx-{run}-[0-9]+@outside[.]example>")
    out = host.run("grep -rhoiE %s %s 2>/dev/null" % (pattern, where))
    return collections.Counter(line.split("<", 1)[1].rstrip(">") for line in out.stdout.splitlines())


def queued(host, run):
    """Message-IDs of RUN in HOST's mail queue (the qf files hold the headers)."""
    return ids(host, run, QUEUE)


def delivered(bigboy, run):
    """Message-IDs of RUN in bigboy's mailboxes (mbox: /var/mail and ~/mail, Dovecot's folders)."""
    return ids(bigboy, run, "/var/mail /home")


def send(provider, run, first, count, users=USERS):
    out = provider.run("python3 -c %s %s %d %d %s" % (shlex.quote(SEND), run, first, count, ",".join(users)))
    assert out.rc == 0, out.stderr[-2000:]


def set_bigboy(bigboy, state):
    out = bigboy.run(f"systemctl {state} sendmail")
    assert out.rc == 0, out.stderr
    listening = state == "start"
    assert wait(lambda: (bigboy.run("ss -ltn 'sport = :25' | grep -q 127.0.0.2:25").rc == 0) == listening, 60), \
        f"bigboy's sendmail is {'not ' if listening else 'still '}listening on 127.0.0.2:25"


def listen_overflows(host):
    """The pod's count of connections the kernel dropped because a listen queue was full (/proc/net/netstat)."""
    out = host.run("cat /proc/net/netstat").stdout.splitlines()
    for names, values in zip(out[::2], out[1::2], strict=False):
        fields = dict(zip(names.split(), values.split(), strict=True))
        if "ListenOverflows" in fields:
            return int(fields["ListenOverflows"])
    return 0


def queue_run(backupmx):
    """One queue run of backupmx now (its cached host status first forgotten, as after Timeout.hoststatus)."""
    backupmx.run("sendmail -bH")
    out = backupmx.run("sendmail -q")
    assert out.rc == 0, out.stderr


@pytest.fixture
def bigboy_down(bigboy, provider, backupmx):
    set_bigboy(bigboy, "stop")
    try:
        yield
    finally:
        if bigboy.run("systemctl is-active sendmail").stdout.strip() != "active":
            set_bigboy(bigboy, "start")
        # forget "bigboy refused" in the provider's and the backup's host status, for the next tests
        provider.run("sendmail -bH")
        backupmx.run("sendmail -bH")


def test_backup_mx_queues_while_bigboy_is_down_and_delivers_each_message_once(bigboy, provider, backupmx, bigboy_down):
    run = uuid.uuid4().hex[:10]
    sent = {f"bmx-{run}-{i}@outside.example" for i in range(COUNT)}
    started = time.time()
    overflows = listen_overflows(backupmx)
    send(provider, run, 0, COUNT)
    # the provider hands every message on by MX: bigboy (10) refuses, backupmx (20) accepts; its burst of
    # deliveries fits backupmx's listen queue (sendmail_listen_queue_size), so no sender waits for a greeting
    assert wait(lambda: not queued(provider, run) and len(queued(backupmx, run)) == COUNT, 300), (
        f"on the provider {len(queued(provider, run))} still queued, on backupmx {len(queued(backupmx, run))} of {COUNT};"
        f" connections dropped on a full listen queue: {listen_overflows(backupmx) - overflows}")
    accepted = queued(backupmx, run)
    assert set(accepted) == sent and max(accepted.values()) == 1
    assert not delivered(bigboy, run)
    # bigboy down for longer than a queue run: the run keeps everything, bounces nothing
    queue_run(backupmx)
    assert set(queued(backupmx, run)) == sent
    assert not ids(provider, run, SENDER_MAILBOX), "backupmx bounced mail while bigboy was only down"
    set_bigboy(bigboy, "start")
    queue_run(backupmx)
    assert wait(lambda: not queued(backupmx, run) and len(delivered(bigboy, run)) >= COUNT, 600), (
        f"{len(queued(backupmx, run))} still queued on backupmx, {len(delivered(bigboy, run))} of {COUNT} delivered")
    time.sleep(5)  # a late duplicate would show up now
    got = delivered(bigboy, run)
    lost = sent - set(got)
    duplicated = {mid: n for mid, n in got.items() if n > 1}
    print(f"\nbackup MX: sent {len(sent)}, accepted by backupmx {len(accepted)}, delivered {len(set(got) & sent)}, "
          f"lost {len(lost)}, duplicated {len(duplicated)} ({time.time() - started:.0f} s)")
    assert not lost, sorted(lost)[:10]
    assert not duplicated, duplicated
    assert set(got) == sent
    assert not ids(provider, run, SENDER_MAILBOX), "a message was bounced"


def rcpt_from_untrusted(backupmx, recipient):
    """RCPT's reply of backupmx to RECIPIENT in a session from 127.0.0.5, an address nobody lets relay."""
    script = """
import smtplib, sys
with smtplib.SMTP("127.0.0.11", 25, source_address=("127.0.0.5", 0), local_hostname="untrusted.example",
                  timeout=30) as s:
    s.ehlo()
    s.mail("alice@outside.example")
    code, text = s.rcpt(sys.argv[1])
    print(code, text.decode())
"""
    out = backupmx.run("python3 -c %s %s" % (shlex.quote(script), shlex.quote(recipient)))
    assert out.rc == 0, out.stderr
    code, text = out.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(code), text


def test_backup_mx_is_no_open_relay(backupmx):
    code, text = rcpt_from_untrusted(backupmx, "victim@outside.example")
    assert code == 550 and "Relaying denied" in text, text
    code, text = rcpt_from_untrusted(backupmx, "victim@another-web-site.example")
    assert code == 550 and "Relaying denied" in text, text


def test_backup_mx_refuses_unknown_recipients_and_takes_known_ones(backupmx):
    code, text = rcpt_from_untrusted(backupmx, "nosuchuser@my-site.com")
    assert code == 550 and "5.1.1" in text and "User unknown" in text, text
    # john1 is a user of bigboy, but bigboy's catch-all refuses john1@my-site.com (only john@ is routed)
    code, text = rcpt_from_untrusted(backupmx, "john1@my-site.com")
    assert code == 550 and "5.1.1" in text, text
    for address in ("marc@my-site.com", "postmaster@my-site.com", "anyone@another-site.com"):
        code, text = rcpt_from_untrusted(backupmx, address)
        assert code == 250, (address, text)


REFUSED = "sister@my-site.com"


@pytest.fixture
def bigboy_refuses_sister(bigboy):
    """bigboy's virtusertable refuses REFUSED (a user gone on the primary, the backup not yet told)."""
    # the text and the database as the role wrote them, put back byte for byte afterwards
    bigboy.run("cp -p /etc/mail/virtusertable /etc/mail/virtusertable.bmx-test"
               " && cp -p /etc/mail/virtusertable.db /etc/mail/virtusertable.db.bmx-test")
    try:
        out = bigboy.run(f"sed -i '/^{REFUSED}\\s/d' /etc/mail/virtusertable"
                         f" && printf '%s\\terror:5.1.1:550 Mailbox gone\\n' {REFUSED} >> /etc/mail/virtusertable"
                         " && makemap hash /etc/mail/virtusertable < /etc/mail/virtusertable")
        assert out.rc == 0, out.stderr
        yield
    finally:
        bigboy.run("mv /etc/mail/virtusertable.bmx-test /etc/mail/virtusertable"
                   " && mv /etc/mail/virtusertable.db.bmx-test /etc/mail/virtusertable.db")


def test_bounce_for_a_recipient_bigboy_refuses_comes_from_backup_mx(bigboy, provider, backupmx, bigboy_down,
                                                                    bigboy_refuses_sister):
    run = uuid.uuid4().hex[:10]
    # message 5 goes to sister (USERS[5]), 0 to marc
    send(provider, run, 0, 6)
    assert wait(lambda: len(queued(backupmx, run)) == 6, 120), queued(backupmx, run)
    set_bigboy(bigboy, "start")
    queue_run(backupmx)
    assert wait(lambda: not queued(backupmx, run) and len(delivered(bigboy, run)) == 5, 180), (
        queued(backupmx, run), delivered(bigboy, run))
    assert f"bmx-{run}-5@outside.example" not in delivered(bigboy, run)
    # the DSN reaches alice@outside.example through the provider (outside.example's MX)
    marker = f"bmx-{run}-5@outside.example"
    assert wait(lambda: provider.run(f"grep -c {shlex.quote(marker)} {SENDER_MAILBOX}").stdout.strip() not in ("", "0"),
                120), "no bounce reached the sender"
    bounce = provider.run(
        "python3 -c %s %s %s" % (shlex.quote(FIND_BOUNCE), SENDER_MAILBOX, shlex.quote(marker))).stdout
    assert "Reporting-MTA: dns; backupmx.my-site.com" in bounce, bounce[-3000:]
    assert f"Final-Recipient: RFC822; {REFUSED}" in bounce, bounce[-3000:]
    assert "Status: 5.1.1" in bounce and "Mailbox gone" in bounce, bounce[-3000:]
    assert "MAILER-DAEMON@backupmx.my-site.com" in bounce.split("\n\n", 1)[0], bounce[:1000]


# The message in an mbox that mentions MARKER and is a delivery status notification.
FIND_BOUNCE = """
import mailbox, sys
for message in mailbox.mbox(sys.argv[1]):
    text = message.as_string()
    if sys.argv[2] in text and "Reporting-MTA" in text:
        print(text)
        break
"""

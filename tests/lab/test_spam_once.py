"""Each message is scanned by spamd once: by spamass-milter at SMTP time or by Sieve's spamc at delivery.

With spamass-milter on and Dovecot's LDA delivering, the global Sieve script filters a message through
spamc only when it has no X-Spam-Checker-Version header: the milter scanned mail from outside at SMTP
time and replaced or removed a sender's own (site.yml's wiring: dovecot_dependent_spam_scanned_header).
  - a message from smallfry (127.0.0.3, scanned by the milter): spamd processed it once, it is tagged
    and filed into paul's Junk by the milter's verdict;
  - a message from the server itself (127.0.0.1, which the milter leaves alone): spamd processed it
    once, at delivery.
"""

import re
import shlex
import time
import uuid

SEND = """
import smtplib, sys
src, tok, body = sys.argv[1], sys.argv[2], sys.argv[3]
msg = ("From: sender@another-web-site.example\\r\\nTo: paul@my-site.com\\r\\nSubject: once " + tok
       + "\\r\\nMessage-ID: <" + tok + "@lab.example>\\r\\n\\r\\n" + body + " " + tok + "\\r\\n")
with smtplib.SMTP("127.0.0.1", 25, source_address=(src, 0), timeout=60) as s:
    s.sendmail("sender@another-web-site.example", ["paul@my-site.com"], msg)
"""


def send(bigboy, src, tok, body):
    out = bigboy.run("python3 -c %s %s %s %s" % (shlex.quote(SEND), src, tok, shlex.quote(body)))
    assert out.rc == 0, out.stderr


# paul's mail wherever the lab's mailbox format keeps it: the mbox INBOX and folders (~/mail/NAME)
# or Maildir (~/Maildir and its .NAME folders)
MAIL = "/var/mail/paul /home/paul/mail /home/paul/Maildir"


def delivered(bigboy, tok, timeout=90):
    """The files of paul's mail (any folder) that hold TOK, once one does."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        # not Dovecot's own index and cache files (~/mail/.imap, dovecot.*), which quote the message too
        found = bigboy.run("grep -rl --exclude-dir=.imap --exclude='dovecot*' -- %s %s 2>/dev/null"
                           % (shlex.quote(tok), MAIL)).stdout.split()
        if found:
            return found
        time.sleep(2)
    return []


def headers(bigboy, path, tok):
    """The header block of the message in PATH (an mbox of several, or one Maildir file) that holds TOK."""
    text = bigboy.file(path).content_string
    at = text.find(tok)
    start = text.rfind("\nFrom ", 0, at) + 1
    return text[start:].split("\n\n", 1)[0]


def scans(bigboy, tok):
    """spamd's "processing message <TOK@lab.example>" lines: one per scan."""
    needle = "processing message <%s@lab.example>" % tok
    return bigboy.run("journalctl --no-pager -o cat -t spamd").stdout.count(needle)


def test_mail_the_milter_scanned_is_not_scanned_again_at_delivery(bigboy):
    tok = "mild" + uuid.uuid4().hex[:12]
    send(bigboy, "127.0.0.3", tok, "homelab-lab-mildly-spammy")
    files = delivered(bigboy, tok)
    assert len(files) == 1 and "Junk" in files[0], files
    head = headers(bigboy, files[0], tok)
    assert "X-Spam-Flag: YES" in head, head
    assert len(re.findall(r"^X-Spam-Checker-Version:", head, re.M)) == 1, head
    time.sleep(2)  # a second scan would have been logged by now: the delivery is done
    assert scans(bigboy, tok) == 1


def test_mail_the_milter_leaves_alone_is_scanned_once_at_delivery(bigboy):
    tok = "local" + uuid.uuid4().hex[:12]
    send(bigboy, "127.0.0.1", tok, "an ordinary message")
    files = delivered(bigboy, tok)
    assert len(files) == 1 and "Junk" not in files[0], files
    head = headers(bigboy, files[0], tok)
    assert "X-Spam-Status: No" in head, head
    time.sleep(2)
    assert scans(bigboy, tok) == 1

"""The watch scenario's probe, run inside the container; every exchange is on loopback.

    watch_probe.py send RCPT MESSAGE-ID    SMTP to 127.0.0.1:25 from paul@my-site.com
    watch_probe.py mails                   the watch's mails in marc's mailbox (postmaster -> root -> marc):
                                           [{"id", "subject", "body"}, ...] in mailbox order
    watch_probe.py queue                   the number of qf files under /var/spool/mqueue
Prints one JSON document.
"""

import email.utils
import json
import mailbox
import os
import smtplib
import sys

SERVER = "127.0.0.1"
MAILBOX = "/var/mail/marc"
QUEUE = "/var/spool/mqueue"
PREFIX = "[homelab-mailserver watch]"


def send(rcpt, message_id):
    text = (f"From: Paul <paul@my-site.com>\r\nTo: <{rcpt}>\r\nSubject: watch test {message_id}\r\n"
            f"Message-ID: {message_id}\r\nDate: {email.utils.formatdate()}\r\n\r\n"
            f"Message {message_id} for the watch scenario.\r\n")
    with smtplib.SMTP(SERVER, 25, source_address=(SERVER, 0), timeout=60) as smtp:
        smtp.ehlo("trusted.example")
        refused = smtp.sendmail("paul@my-site.com", [rcpt], text)
    return {"refused": {k: list(v) for k, v in refused.items()}}


def mails():
    if not os.path.exists(MAILBOX):
        return []
    out = []
    box = mailbox.mbox(MAILBOX, create=False)
    try:
        for message in box:
            subject = " ".join(str(message.get("Subject", "")).split())
            if not subject.startswith(PREFIX):
                continue
            payload = message.get_payload(decode=True) or b""
            out.append({"id": message.get("Message-ID", ""), "subject": subject,
                        "body": payload.decode("utf-8", "replace")})
    finally:
        box.close()
    return out


def queue():
    return sum(1 for _root, _dirs, files in os.walk(QUEUE) for name in files if name.startswith("qf"))


def main(argv):
    if argv[:1] == ["send"]:
        result = send(argv[1], argv[2])
    elif argv[:1] == ["mails"]:
        result = mails()
    elif argv[:1] == ["queue"]:
        result = queue()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The backup scenario's probe, run inside the container; every exchange is on loopback.

    backup_probe.py send JSON        [{"id", "rcpt"}, ...]: SMTP to 127.0.0.1:25 from paul@my-site.com
    backup_probe.py imap JSON        {"users": {user: password}, "expect": [ids], "timeout": s}:
                                     the Message-IDs of each user's INBOX over IMAPS (993), waiting
                                     until every expected id is there or the timeout passes
    backup_probe.py queue            the Message-IDs of the queue's control files (/var/spool/mqueue)
    backup_probe.py sink JSON        {"expect": [ids], "timeout": s, "mbox": path}: Message-IDs the remote.example
                                     sink got (or, with "mbox", an mbox file holds: the lab's outside mailbox)
    backup_probe.py dkim JSON        {"id", "record", "mbox": path}: verify the DKIM signature of the sink's (or the
                                     mbox file's) message ID against the TXT record text given (the one published before)
    backup_probe.py keys             sha256 of every file under /etc/dkimkeys, /etc/mail/tls, /etc/dovecot/private, /etc/ssl/homelab-mailserver,
                                     and the DKIM records by domain
Prints one JSON document.
"""

import email.utils
import glob
import hashlib
import imaplib
import json
import mailbox
import os
import re
import smtplib
import ssl
import sys
import time

import dkim  # python3-dkim, installed by prepare.yml

SERVER = "127.0.0.1"
SINK = "/var/tmp/smtp-sink"
QUEUE = "/var/spool/mqueue"
KEY_DIRS = ("/etc/dkimkeys", "/etc/mail/tls", "/etc/dovecot/private", "/etc/ssl/homelab-mailserver")


def send(items):
    out = {}
    for item in items:
        text = (f"From: Paul <paul@my-site.com>\r\nTo: <{item['rcpt']}>\r\nSubject: backup test {item['id']}\r\n"
                f"Message-ID: {item['id']}\r\nDate: {email.utils.formatdate()}\r\n\r\n"
                f"Message {item['id']} for the backup scenario.\r\n")
        try:
            with smtplib.SMTP(SERVER, 25, source_address=(SERVER, 0), timeout=60) as smtp:
                smtp.ehlo("trusted.example")
                refused = smtp.sendmail("paul@my-site.com", [item["rcpt"]], text)
                out[item["id"]] = "refused: %s" % refused if refused else "accepted"
        except (OSError, smtplib.SMTPException) as exc:
            out[item["id"]] = "error: %s" % exc
    return out


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's self-signed certificate
    return ctx


def inbox_ids(user, password):
    imap = imaplib.IMAP4_SSL(SERVER, 993, ssl_context=tls_context(), timeout=30)
    try:
        imap.login(user, password)
        imap.select("INBOX", readonly=True)
        _typ, data = imap.search(None, "ALL")
        ids = []
        numbers = data[0].split()
        if numbers:
            _typ, fetched = imap.fetch(b",".join(numbers), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for part in fetched:
                if isinstance(part, tuple):
                    match = re.search(rb"<[^>]+>", part[1])
                    ids.append(match.group(0).decode() if match else "")
        return ids
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def imap(args):
    deadline = time.monotonic() + args.get("timeout", 0)
    expect = set(args.get("expect", []))
    while True:
        result, errors = {}, {}
        for user, password in args["users"].items():
            try:
                result[user] = inbox_ids(user, password)
            except (OSError, imaplib.IMAP4.error) as exc:
                errors[user] = str(exc)
        seen = {mid for ids in result.values() for mid in ids}
        if (not errors and expect <= seen) or time.monotonic() > deadline:
            return {"ids": result, "errors": errors, "missing": sorted(expect - seen)}
        time.sleep(2)


def queue(_args=None):
    out = []
    for path in sorted(glob.glob(os.path.join(QUEUE, "**", "qf*"), recursive=True)):
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        match = re.search(r"^H(?:\?[^?]*\?)?Message-Id:\s*(<[^>]+>)", text, re.M | re.I)
        out.append({"file": path, "id": match.group(1) if match else ""})
    return out


def sink_messages(mbox=None):
    """{Message-ID: [the message's bytes, ...]} of the sink's files, or of the mbox file MBOX."""
    out = {}
    if mbox:
        datas = [message.as_bytes() for message in mailbox.mbox(mbox)] if os.path.exists(mbox) else []
    else:
        datas = []
        for path in sorted(glob.glob(os.path.join(SINK, "*.eml"))):
            with open(path, "rb") as handle:
                datas.append(handle.read())
    for data in datas:
        match = re.search(rb"^Message-ID:\s*(<[^>]+>)", data, re.M | re.I)
        out.setdefault(match.group(1).decode() if match else "", []).append(data)
    return out


def sink(args):
    deadline = time.monotonic() + args.get("timeout", 0)
    expect = set(args.get("expect", []))
    while True:
        got = sink_messages(args.get("mbox"))
        if expect <= set(got) or time.monotonic() > deadline:
            return {"ids": {mid: len(paths) for mid, paths in got.items()}, "missing": sorted(expect - set(got))}
        time.sleep(2)


def dkim_check(args):
    found = sink_messages(args.get("mbox")).get(args["id"], [])
    if not found:
        return {"verified": False, "msg": "no such message at the sink"}
    data = found[0]
    record = args["record"].encode()
    signature = re.search(rb"^DKIM-Signature:.*?(?=^\S)", data, re.M | re.S)
    try:
        ok = dkim.verify(data, dnsfunc=lambda _name, timeout=5: record)
    except dkim.DKIMException as exc:
        return {"verified": False, "msg": str(exc)}
    return {"verified": bool(ok), "signed": signature is not None,
            "signature": signature.group(0).decode("ascii", "replace") if signature else ""}


def keys(_args=None):
    """sha256 of every key and certificate file; the DKIM records (.txt files: the quoted strings joined)."""
    hashes, records = {}, {}
    for top in KEY_DIRS:
        for directory, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(directory, name)
                if os.path.islink(path):
                    continue  # Debian's links to the host's own snakeoil pair: restored as links
                with open(path, "rb") as handle:
                    data = handle.read()
                hashes[path] = hashlib.sha256(data).hexdigest()
                if top == "/etc/dkimkeys" and name.endswith(".txt"):
                    records[os.path.basename(directory)] = "".join(re.findall(r'"([^"]*)"', data.decode()))
    return {"hashes": hashes, "records": records}


def main():
    command = sys.argv[1]
    args = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    handler = {"send": send, "imap": imap, "queue": queue, "sink": sink, "dkim": dkim_check, "keys": keys}[command]
    print(json.dumps(handler(args), sort_keys=True))


if __name__ == "__main__":
    main()

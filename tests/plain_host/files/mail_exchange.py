"""Run inside a plain-host container: send one message over SMTP on 127.0.0.1:25,
then fetch it over IMAPS on 127.0.0.1:993 with the recipient's password.

    python3 mail_exchange.py TOKEN PASSWORD
Prints one JSON line. Every connection stays on 127.0.0.1.
"""

import imaplib
import json
import smtplib
import ssl
import sys
import time

TOKEN, PASSWORD = sys.argv[1], sys.argv[2]
SENDER, RECIPIENT, USER = "marc@my-site.com", "paul@my-site.com", "paul"
out = {"token": TOKEN}

message = (
    f"From: Marc <{SENDER}>\r\nTo: Paul <{RECIPIENT}>\r\nSubject: plain-host {TOKEN}\r\n"
    f"Message-ID: <{TOKEN}@plain-host.my-site.com>\r\n\r\nHello Paul, this is {TOKEN}.\r\n"
)
with smtplib.SMTP("127.0.0.1", 25, local_hostname="plain-host-test.my-site.com", timeout=120) as smtp:
    out["banner"] = smtp.ehlo()[0]
    code, text = smtp.mail(SENDER)
    out["mail"] = [code, text.decode()]
    code, text = smtp.rcpt(RECIPIENT)
    out["rcpt"] = [code, text.decode()]
    code, text = smtp.data(message)
    out["data"] = [code, text.decode()]

context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE  # the server's certificate is self-signed
deadline = time.monotonic() + 180
out["found"] = False
while time.monotonic() < deadline and not out["found"]:
    with imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=context, timeout=60) as imap:
        imap.login(USER, PASSWORD)
        imap.select("INBOX", readonly=True)
        _typ, data = imap.search(None, "SUBJECT", f'"{TOKEN}"')
        ids = data[0].split()
        if ids:
            _typ, fetched = imap.fetch(ids[-1], "(RFC822)")
            body = fetched[0][1].decode("utf-8", "replace")
            out.update(found=True, body_has_token=f"this is {TOKEN}" in body,
                       spam_checked="X-Spam-Checker-Version" in body, seconds=round(180 - (deadline - time.monotonic()), 1))
    if not out["found"]:
        time.sleep(2)

try:
    with imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=context, timeout=60) as imap:
        imap.login(USER, PASSWORD + "-wrong")
        out["wrong_password"] = "accepted"
except imaplib.IMAP4.error as exc:
    out["wrong_password"] = str(exc)
print(json.dumps(out))

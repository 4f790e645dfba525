"""Prove the chapter's mail flow on a lab host with real SMTP over loopback.

Run on a lab host (ansible.builtin.script) with one argument, the role:
  server   on bigboy: the chapter's SMTP conversation, virtusertable and
           aliases deliveries, relay refused and allowed
  client   on smallfry: a message submitted on smallfry through its own
           sendmail (SMART_HOST) to marc@my-site.com; its token is printed
  arrived TOKEN   on bigboy: the client's message is in marc's mailbox, and
           with which envelope sender and From: header
Prints one JSON list of {check, ok, detail}. Only loopback addresses are used;
no message ever leaves the machine (relay checks stop after RCPT).
"""

import glob
import json
import os
import smtplib
import sys
import time
import uuid

SERVER = "127.0.0.1"


def token():
    return "proof-" + uuid.uuid4().hex[:12]


def message(tok, sender, to):
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {tok}\r\nMessage-ID: <{tok}@lab.my-site.com>\r\n\r\n"
        f"Testing sendmail interactively ({tok})\r\n"
    )


def converse(src, sender, rcpts, body=None, host=SERVER, port=25):
    """One SMTP session from loopback address SRC; returns the replies."""
    replies = {"rcpt": []}
    with smtplib.SMTP(host, port, source_address=(src, 0), timeout=30) as smtp:
        replies["banner"] = smtp.ehlo("another-web-site.example")
        replies["mail"] = smtp.mail(sender)
        for rcpt in rcpts:
            code, text = smtp.rcpt(rcpt)
            replies["rcpt"].append((code, text.decode(errors="replace")))
        if body is not None and any(code == 250 for code, _text in replies["rcpt"]):
            replies["data"] = smtp.data(body.encode())
        else:
            smtp.rset()
    return replies


def mailbox_has(user, tok, timeout=60):
    """Wait for TOK in USER's mbox (/var/mail) or Maildir; return the message text."""
    deadline = time.time() + timeout
    paths = [f"/var/mail/{user}"]
    while time.time() < deadline:
        candidates = paths + glob.glob(os.path.expanduser(f"~{user}/Maildir/*/*"))
        for path in candidates:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
            except OSError:
                continue
            if tok in text:
                start = text.rfind("\nFrom ", 0, text.find(tok))
                return text[start + 1 if start >= 0 else 0:text.find(tok) + 200]
        time.sleep(1)
    return None


def check(name, ok, detail):
    return {"check": name, "ok": bool(ok), "detail": detail}


def server_checks():
    results = []
    tok = token()
    r = converse("127.0.0.3", "sender@another-web-site.example", ["paul@my-site.com"],
                 message(tok, "sender@another-web-site.example", "paul@my-site.com"))
    ok = r["banner"][0] == 250 and r["rcpt"][0][0] == 250 and r.get("data", (0,))[0] == 250
    results.append(check("SMTP conversation as in the chapter (EHLO, MAIL, RCPT, DATA)", ok,
                         f"RCPT {r['rcpt'][0][0]}, DATA {r.get('data', (None,))[0]}"))
    results.append(check("delivered to paul's mailbox", mailbox_has("paul", tok), "/var/mail/paul"))

    tok = token()
    r = converse("127.0.0.3", "sender@another-web-site.example", ["finance@my-site.com"],
                 message(tok, "sender@another-web-site.example", "finance@my-site.com"))
    results.append(check("virtusertable: finance@my-site.com reaches paul",
                         r["rcpt"][0][0] == 250 and mailbox_has("paul", tok), "finance@my-site.com -> paul"))
    tok = token()
    r = converse("127.0.0.3", "sender@another-web-site.example", ["john@another-site.com"],
                 message(tok, "sender@another-web-site.example", "john@another-site.com"))
    results.append(check("virtusertable: john@another-site.com reaches john2, not john1",
                         r["rcpt"][0][0] == 250 and mailbox_has("john2", tok) and not mailbox_has("john1", tok, 2),
                         "john@another-site.com -> john2"))
    r = converse("127.0.0.3", "sender@another-web-site.example", ["nobody@my-site.com"])
    code, text = r["rcpt"][0]
    results.append(check("virtusertable: unknown my-site.com user bounced 'User unknown'",
                         code >= 500 and "User unknown" in text, f"{code} {text}"))
    tok = token()
    r = converse("127.0.0.3", "sender@another-web-site.example", ["directors@my-site.com"],
                 message(tok, "sender@another-web-site.example", "directors@my-site.com"))
    got = [u for u in ("peter", "paul", "mary") if mailbox_has(u, tok)]
    results.append(check("aliases: directors reaches peter, paul and mary", len(got) == 3, ", ".join(got)))
    r = converse("127.0.0.5", "sender@another-web-site.example", ["victim@relay-probe.invalid"])
    code, text = r["rcpt"][0]
    results.append(check("relay refused from an untrusted address (127.0.0.5)",
                         code == 550 and "5.7.1" in text, f"{code} {text}"))
    r = converse("127.0.0.3", "marc@my-site.com", ["friend@relay-probe.invalid"])
    code, text = r["rcpt"][0]
    results.append(check("relay allowed from a trusted client (127.0.0.3, smallfry; stopped after RCPT)",
                         code == 250, f"{code} {text}"))
    return results


def client_send():
    tok = token()
    # A local program on smallfry (127.0.0.1, which smallfry trusts) hands the
    # message to smallfry's own daemon (127.0.0.3), which relays it to bigboy.
    r = converse("127.0.0.1", "marc@smallfry.my-site.com", ["marc@my-site.com"],
                 message(tok, "marc@smallfry.my-site.com", "marc@my-site.com"), host="127.0.0.3")
    ok = r["rcpt"][0][0] == 250 and r.get("data", (0,))[0] == 250
    return [check("smallfry's sendmail accepted a message for marc@my-site.com", ok, tok)]


def arrived(tok):
    text = mailbox_has("marc", tok, timeout=120)
    if not text:
        return [check("smallfry's message delivered to marc on bigboy through SMART_HOST", False, "not in /var/mail/marc")]
    envelope = text.splitlines()[0]
    header = next((line for line in text.splitlines() if line.lower().startswith("from:")), "")
    return [
        check("smallfry's message delivered to marc on bigboy through SMART_HOST", True, envelope),
        check("it arrived from smallfry's sendmail (Received: from smallfry)",
              "smallfry" in text.split(tok)[0], "Received header names smallfry"),
        check("From: header as smallfry sent it", "marc@" in header, header),
    ]


def main():
    role = sys.argv[1]
    if role == "server":
        out = server_checks()
    elif role == "client":
        out = client_send()
    else:
        out = arrived(sys.argv[2])
    print(json.dumps(out))


if __name__ == "__main__":
    main()

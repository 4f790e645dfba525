"""Mail exchanges for the deliverability tests, run inside the container; prints JSON.

  probe.py outbound TOKEN   a local user (marc) mails someone@remote.example through
                            /usr/sbin/sendmail; the message the SMTP sink stored is
                            checked with dkimpy's dkimverify (against the lab name
                            server's TXT record), then with its body tampered.
  probe.py outbound-nofrom TOKEN
                            the same without a From header (as `mail` and cron send):
                            the MSP writes From and masquerades it before the MTA's
                            milters sign the message.
  probe.py inbound JSON     SMTP sessions from loopback sources, each
                            {src, helo, mail_from, rcpt, from, token, and
                            sink_token/tamper to re-send what the sink got}; for
                            accepted mail the delivered message's
                            Authentication-Results headers are returned.

Network: 127.0.0.0/8 only (bigboy on 127.0.0.1:25, the sink on 127.0.0.3).
"""

import email
import glob
import json
import mailbox
import os
import smtplib
import subprocess
import sys
import time

SINK = "/var/tmp/smtp-sink"


def wait_for(find, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = find()
        if found is not None:
            return found
        subprocess.run(["/usr/sbin/sendmail", "-q"], check=False, capture_output=True)
        time.sleep(1)
    return None


def sink_file(token):
    """What the sink stored for the message carrying token (its X-Envelope-* lines first), or None."""
    for name in sorted(glob.glob(os.path.join(SINK, "*.eml"))):
        with open(name, "rb") as handle:
            data = handle.read()
        if token.encode() in data:
            return data
    return None


def sink_envelope_from(token):
    """The MAIL FROM the sink recorded (its X-Envelope-From line) for the message carrying token."""
    first = (sink_file(token) or b"").split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return first.split(":", 1)[1].strip() if first.startswith("X-Envelope-From:") else None


def sink_message(token):
    def find():
        data = sink_file(token)
        if data is None:
            return None
        # drop the sink's own X-Envelope-* lines: they are not part of the message
        lines = data.split(b"\r\n") if b"\r\n" in data else data.split(b"\n")
        return b"\r\n".join(line for line in lines if not line.startswith(b"X-Envelope-"))

    return wait_for(find)


def dkimverify(message):
    result = subprocess.run(["dkimverify"], input=message, capture_output=True, check=False)
    return {"rc": result.returncode, "out": (result.stdout + result.stderr).decode("utf-8", "replace").strip()}


def outbound(token, with_from=True):
    text = (
        ("From: Marc <marc@my-site.com>\n" if with_from else "")
        + f"To: someone@remote.example\nSubject: dkim {token}\n\n"
        + f"Signed body {token}\n.leading dot line\n"
    )
    sent = subprocess.run(["runuser", "-u", "marc", "--", "/usr/sbin/sendmail", "-t", "-i"],
                          input=text.encode(), capture_output=True, check=False)
    out = {"sent_rc": sent.returncode, "sent_err": sent.stderr.decode()}
    message = sink_message(token)
    if message is None:
        out["log"] = subprocess.run(["tail", "-n", "30", "/var/log/mail.log"], capture_output=True,
                                    check=False).stdout.decode("utf-8", "replace")
        return out
    parsed = email.message_from_bytes(message)
    out["from"] = parsed.get("From")
    out["envelope_from"] = sink_envelope_from(token)
    out["signature"] = parsed.get("DKIM-Signature")
    out["verify"] = dkimverify(message)
    head, _sep, body = message.partition(b"\r\n\r\n")
    out["tampered_verify"] = dkimverify(head + b"\r\n\r\n" + body.replace(b"Signed body", b"Forged body"))
    out["message"] = message.decode("utf-8", "replace")
    return out


def sink_body(case):
    """The message the sink stored for case['sink_token'] (tampered when case['tamper']), re-sent inbound."""
    if not case.get("sink_token"):
        return None
    message = sink_message(case["sink_token"]) or b""
    if case.get("tamper"):
        message = message.replace(b"Signed body", b"Forged body")
    return message


def opendkim_log_since(started, pattern, timeout=20):
    """OpenDKIM's log lines since the epoch second STARTED, once one contains PATTERN (or what there is)."""
    lines = []

    def find():
        out = subprocess.run(["journalctl", "-t", "opendkim", "-o", "cat", "--since", f"@{int(started)}"],
                             capture_output=True, check=False).stdout.decode("utf-8", "replace")
        lines[:] = out.splitlines()
        return lines if any(pattern in line for line in lines) else None

    return wait_for(find, timeout) or lines


def smtp_session(case):
    result = {"case": case.get("name"), "mail": None, "rcpt": None, "data": None}
    started = time.time() - 1
    client = smtplib.SMTP(timeout=120, source_address=(case["src"], 0), local_hostname=case["helo"])
    client.connect("127.0.0.1", 25)
    client.ehlo(case["helo"])
    code, msg = client.mail(case["mail_from"])
    result["mail"] = [code, msg.decode()]
    if code == 250:
        code, msg = client.rcpt(case["rcpt"])
        result["rcpt"] = [code, msg.decode()]
        if code in (250, 251):
            body = case.get("body") or sink_body(case) or (
                f"From: {case['from']}\r\nTo: {case['rcpt']}\r\nSubject: probe {case['token']}\r\n"
                f"Message-ID: <{case['token']}@{case['helo']}>\r\n\r\nbody {case['token']}\r\n"
            )
            try:
                code, msg = client.data(body.encode() if isinstance(body, str) else body)
            except smtplib.SMTPDataError as err:
                code, msg = err.smtp_code, err.smtp_error
            result["data"] = [code, msg.decode() if isinstance(msg, bytes) else msg]
    try:
        client.quit()
    except smtplib.SMTPException:
        pass
    if case.get("opendkim_log"):
        result["opendkim_log"] = opendkim_log_since(started, case["opendkim_log"])
    return result


def delivered(user, token):
    def find():
        path = f"/var/mail/{user}"
        if not os.path.exists(path):
            return None
        for message in mailbox.mbox(path):
            if token in (message.get("Subject") or "") or token in str(message.get("Message-ID") or ""):
                return {
                    "authentication_results": [" ".join(v.split()) for v in message.get_all("Authentication-Results", [])],
                    "received_spf": message.get_all("Received-SPF", []),
                }
        return None

    return wait_for(find)


def inbound(cases):
    out = []
    for case in cases:
        result = smtp_session(case)
        if result["data"] and result["data"][0] == 250:
            result["delivered"] = delivered(case.get("user", "marc"), case["token"])
        out.append(result)
    return out


def main():
    if sys.argv[1] == "outbound":
        print(json.dumps(outbound(sys.argv[2])))
    elif sys.argv[1] == "outbound-nofrom":
        print(json.dumps(outbound(sys.argv[2], with_from=False)))
    elif sys.argv[1] == "inbound":
        print(json.dumps(inbound(json.loads(sys.argv[2]))))
    else:
        sys.exit("usage: probe.py outbound TOKEN | outbound-nofrom TOKEN | inbound JSON")


if __name__ == "__main__":
    main()

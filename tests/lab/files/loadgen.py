"""A steady SMTP load over loopback, and a count of what arrived (runs inside a lab host).

  loadgen.py send OUT --duration 60 --rate 5 --threads 4 --to marc@my-site.com,finance@my-site.com
      Sends messages at RATE per second for DURATION seconds from --source to
      --host:--port, each with a unique Message-ID. A 4xx reply or a refused
      connection is a deferral: the message is tried again a second later, as a
      real client would, until --deadline. Writes OUT (JSON) when done:
      {"accepted": {token: rcpt}, "deferrals": n, "connect_errors": n,
       "rejected": {token: reply}, "pending": [tokens never accepted]}.
  loadgen.py count OUT --timeout 180
      Waits until every accepted message is in its recipient's mailbox (mbox
      under /var/mail or ~/Maildir) and prints JSON:
      {"accepted": n, "delivered_once": n, "missing": [...], "duplicated": {...}}.

Only the standard library; only 127.0.0.0/8 addresses are used.
"""

import argparse
import collections
import glob
import json
import os
import queue
import re
import smtplib
import socket
import sys
import threading
import time
import uuid

MSGID = re.compile(r"^Message-ID:\s*<(load-[0-9a-f]+-[0-9]+)@loadgen\.lab>", re.IGNORECASE | re.MULTILINE)


def build(token, sender, rcpt):
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: load {token}\r\n"
        f"Message-ID: <{token}@loadgen.lab>\r\n\r\nA load test message ({token}).\r\n"
    ).encode()


def attempt(args, token, rcpt):
    """One SMTP transaction: ('ok'|'defer'|'reject'|'connect', detail)."""
    try:
        with smtplib.SMTP(args.host, args.port, source_address=(args.source, 0), timeout=60) as smtp:
            smtp.ehlo("loadgen.lab")
            code, text = smtp.mail(args.sender)
            if code >= 300:
                return ("defer" if code < 500 else "reject"), f"MAIL {code} {text.decode(errors='replace')}"
            code, text = smtp.rcpt(rcpt)
            if code >= 300:
                return ("defer" if code < 500 else "reject"), f"RCPT {code} {text.decode(errors='replace')}"
            code, text = smtp.data(build(token, args.sender, rcpt))
            if code >= 300:
                return ("defer" if code < 500 else "reject"), f"DATA {code} {text.decode(errors='replace')}"
            return "ok", ""
    except smtplib.SMTPResponseException as exc:  # e.g. a 421 greeting while the daemon restarts
        return ("defer" if exc.smtp_code < 500 else "reject"), f"{exc.smtp_code} {exc.smtp_error!r}"
    except (OSError, smtplib.SMTPException) as exc:
        return "connect", repr(exc)


def send(args):
    run = uuid.uuid4().hex[:8]
    rcpts = args.to.split(",")
    work = queue.Queue()
    state = {"accepted": {}, "rejected": {}, "deferrals": 0, "connect_errors": 0, "first_reply": {}}
    lock = threading.Lock()
    stop_new = time.time() + args.duration
    deadline = stop_new + args.deadline

    def producer():
        seq = 0
        while time.time() < stop_new:
            token = f"load-{run}-{seq}"
            work.put((token, rcpts[seq % len(rcpts)], 0.0))
            seq += 1
            time.sleep(1.0 / args.rate)

    def worker():
        while True:
            try:
                token, rcpt, not_before = work.get(timeout=1)
            except queue.Empty:
                if time.time() > stop_new and work.empty():
                    return
                continue
            if time.time() > deadline:
                with lock:
                    state.setdefault("pending", []).append(token)
                continue
            wait = not_before - time.time()
            if wait > 0:
                time.sleep(wait)
            outcome, detail = attempt(args, token, rcpt)
            with lock:
                if outcome == "ok":
                    state["accepted"][token] = rcpt
                elif outcome == "reject":
                    state["rejected"][token] = detail
                else:
                    state["deferrals" if outcome == "defer" else "connect_errors"] += 1
                    state["first_reply"].setdefault(outcome, detail)
            if outcome in ("defer", "connect"):
                work.put((token, rcpt, time.time() + 1.0))

    threads = [threading.Thread(target=producer)] + [threading.Thread(target=worker) for _unused in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state.setdefault("pending", [])
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(tmp, args.out)
    print(json.dumps({k: (len(v) if isinstance(v, (dict, list)) else v) for k, v in state.items() if k != "first_reply"}))


def mailbox_counts():
    """Message-ID tokens of the load test found in every mbox and Maildir: {token: count}."""
    counts = collections.Counter()
    paths = glob.glob("/var/mail/*") + glob.glob("/home/*/Maildir/new/*") + glob.glob("/home/*/Maildir/cur/*")
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                counts.update(MSGID.findall(handle.read()))
        except OSError:
            continue
    return counts


def count(args):
    with open(args.out, encoding="utf-8") as handle:
        state = json.load(handle)
    accepted = state["accepted"]
    deadline = time.time() + args.timeout
    while True:
        counts = mailbox_counts()
        missing = [token for token in accepted if counts.get(token, 0) == 0]
        if not missing or time.time() > deadline:
            break
        time.sleep(2)
    duplicated = {token: counts[token] for token in accepted if counts.get(token, 0) > 1}
    print(json.dumps({
        "accepted": len(accepted),
        "delivered_once": sum(1 for token in accepted if counts.get(token, 0) == 1),
        "missing": missing,
        "duplicated": duplicated,
        "deferrals": state["deferrals"],
        "connect_errors": state["connect_errors"],
        "rejected": state["rejected"],
        "pending": state["pending"],
        "first_reply": state.get("first_reply", {}),
    }))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_send = sub.add_parser("send")
    p_send.add_argument("out")
    p_send.add_argument("--duration", type=float, default=60)
    p_send.add_argument("--rate", type=float, default=5)
    p_send.add_argument("--threads", type=int, default=4)
    p_send.add_argument("--deadline", type=float, default=120, help="seconds after the last new message to keep retrying")
    p_send.add_argument("--to", required=True)
    p_send.add_argument("--sender", default="marc@my-site.com")
    p_send.add_argument("--source", default="127.0.0.1")
    p_send.add_argument("--host", default="127.0.0.1")
    p_send.add_argument("--port", type=int, default=25)
    p_count = sub.add_parser("count")
    p_count.add_argument("out")
    p_count.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args(argv)
    for addr in (getattr(args, "source", "127.0.0.1"), getattr(args, "host", "127.0.0.1")):
        if not addr.startswith("127."):
            sys.exit(f"loadgen: {addr} is not a loopback address; the load stays on 127.0.0.0/8")
    socket.setdefaulttimeout(60)
    if args.command == "send":
        send(args)
    else:
        count(args)


if __name__ == "__main__":
    main()

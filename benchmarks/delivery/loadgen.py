"""SMTP load generator and delivery counter; runs inside a lab container (Python 3 stdlib only).

  podman exec -i CONTAINER python3 - --count 2000 --concurrency 10 \
      --from marc@my-site.com --rcpt finance@my-site.com=paul --rcpt marc@bigboy.my-site.com=marc \
      < benchmarks/delivery/loadgen.py

Sends COUNT messages over SMTP to HOST:25 (127.0.0.1 by default, from the client address
--bind) with CONCURRENCY parallel clients, each message to the next recipient of the list
(ADDRESS=USER names the mailbox it must land in), one SMTP session per message unless
--per-session says more. A refused connection or a temporary error (sendmail refuses
connections above RefuseLA, and this machine's load average is the containers') is
retried a second later, as a client MTA would, for up to --give-up seconds. Every message carries a unique token (subject and body). Then it
watches the mailboxes (/var/mail/USER and ~USER/Maildir) until every token is there, or
until nothing new arrived for --stall seconds, and prints one JSON object: messages per
second end to end (first connection to last message found in its mailbox), lost messages,
messages found in the wrong mailbox, duplicates, and what is left in the queue.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import re
import smtplib
import subprocess
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


def build_message(args, index, token, rcpt):
    msg = EmailMessage()
    msg["From"] = args.sender
    msg["To"] = rcpt
    msg["Subject"] = f"Benchmark message {index} {token}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=token, domain="bench.invalid")
    body = [f"Hello,\n\nthis is benchmark message number {index} of run {args.run}.\n", f"Token: {token}\n"]
    body += ["The quick brown fox jumps over the lazy dog, and the meeting is on Tuesday.\n"] * args.body_lines
    msg.set_content("".join(body))
    return msg


def sender_thread(args, jobs, lock, stats):
    """Take messages off the list and send them; a refused or broken session is retried
    (after a second, as a client MTA would retry later) until --give-up seconds have passed."""
    while True:
        with lock:
            if not jobs:
                return
            batch = [jobs.pop() for _unused in range(min(args.per_session, len(jobs)))]
        deadline = time.monotonic() + args.give_up
        while batch:
            try:
                with smtplib.SMTP(args.host, args.port, timeout=args.timeout,
                                  source_address=(args.bind, 0)) as smtp:
                    smtp.ehlo(args.helo)
                    while batch:
                        index, token, rcpt = batch[0]
                        smtp.send_message(build_message(args, index, token, rcpt), args.sender, [rcpt])
                        batch.pop(0)
                        with lock:
                            stats["accepted"] += 1
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _text in exc.recipients.values()]
                if codes and min(codes) >= 500:
                    # refused for good: the message is lost, not retried
                    with lock:
                        stats["refused"] += 1
                        text = f"refused: {exc.recipients}"[:160]
                        stats["errors"][text] = stats["errors"].get(text, 0) + 1
                    batch.pop(0)
                    continue
                batch = retry_later(args, batch, deadline, lock, stats, exc)
            except (smtplib.SMTPException, OSError) as exc:
                batch = retry_later(args, batch, deadline, lock, stats, exc)


def retry_later(args, batch, deadline, lock, stats, exc):
    """Count a temporary failure; wait a second and keep the batch, or give it up."""
    with lock:
        stats["retries"] += 1
        text = f"{type(exc).__name__}: {exc}"[:160]
        stats["errors"][text] = stats["errors"].get(text, 0) + 1
    if time.monotonic() > deadline:
        with lock:
            stats["refused"] += len(batch)
        return []
    time.sleep(1)
    return batch


def mailbox_files(users):
    files = {}
    for user in users:
        files[f"/var/mail/{user}"] = user
        try:
            home = pwd.getpwnam(user).pw_dir
        except KeyError:
            continue
        for sub in ("new", "cur"):
            for path in glob.glob(os.path.join(home, "Maildir", sub, "*")):
                files[path] = user
    return files


SPAM_STATUS = re.compile(rb"(?mi)^X-Spam-Status:")


def messages(path, data):
    """The messages of a mailbox file: an mbox holds many (each begins with a From_ line), a Maildir file one."""
    if path.startswith("/var/mail/"):
        return re.split(rb"(?m)^From ", data)
    return [data]


def scan(users, run):
    """token -> list of users whose mailbox holds it; "#count": token -> copies; "#scanned": the tokens of
    messages that carry a spam filter's X-Spam-Status header."""
    pattern = re.compile(rb"Token: (" + re.escape(run.encode()) + rb"-\d+)")
    found = {"#count": {}, "#scanned": set()}
    for path, user in mailbox_files(users).items():
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        for message in messages(path, data):
            tokens = {match.decode() for match in pattern.findall(message)}
            if tokens and SPAM_STATUS.search(message.split(b"\n\n", 1)[0]):
                found["#scanned"].update(tokens)
            for token in tokens:
                found.setdefault(token, []).append(user)
                # a token twice in one mailbox is a duplicate delivery
                found["#count"][token] = found["#count"].get(token, 0) + 1
    return found


def queue_size():
    try:
        return len(glob.glob("/var/spool/mqueue/qf*")) + len(glob.glob("/var/spool/mqueue/*/qf*"))
    except OSError:
        return -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--per-session", type=int, default=1, help="messages per SMTP session")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--bind", default="127.0.0.1", help="client address (a trusted one)")
    parser.add_argument("--helo", default="localhost")
    parser.add_argument("--from", dest="sender", required=True)
    parser.add_argument("--rcpt", action="append", required=True, help="ADDRESS=USER, repeatable")
    parser.add_argument("--body-lines", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--stall", type=float, default=120, help="stop waiting after so long without progress")
    parser.add_argument("--give-up", type=float, default=900, help="seconds a client retries a refused message")
    parser.add_argument("--run", default=uuid.uuid4().hex[:12])
    parser.add_argument("--phase", choices=("all", "send", "collect"), default="all",
                        help="send: send and print, without watching the mailboxes; collect: send nothing, watch the"
                             " mailboxes for the --count messages an earlier send of the same --run sent")
    args = parser.parse_args()

    rcpts = [r.split("=", 1) for r in args.rcpt]
    users = sorted({u for _addr, u in rcpts})
    expected = {}
    jobs = []
    for index in range(args.count):
        address, user = rcpts[index % len(rcpts)]
        token = f"{args.run}-{index:06d}"
        expected[token] = user
        jobs.append((index, token, address))
    jobs.reverse()

    stats = {"accepted": 0, "refused": 0, "retries": 0, "errors": {}}
    lock = threading.Lock()
    start = time.monotonic()
    if args.phase == "collect":
        stats["accepted"] = args.count
        jobs = []
    threads = [threading.Thread(target=sender_thread, args=(args, jobs, lock, stats))
               for _unused in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_at = time.monotonic() - start
    if args.phase == "send":
        print(json.dumps({"run": args.run, "count": args.count, "accepted": stats["accepted"], "refused": stats["refused"],
                          "retries": stats["retries"], "errors": stats["errors"], "send_seconds": round(sent_at, 2),
                          "accept_rate": round(stats["accepted"] / sent_at, 2) if sent_at else None,
                          "queue_left": queue_size()}))
        return

    last_count, last_progress, last_found_at = -1, time.monotonic(), None
    found = {}
    while True:
        found = scan(users, args.run)
        count = sum(1 for t in expected if t in found)
        now = time.monotonic()
        if count != last_count:
            last_count, last_progress, last_found_at = count, now, now - start
        if count >= stats["accepted"] or now - last_progress > args.stall:
            break
        time.sleep(0.5)

    counts = found.pop("#count", {})
    scanned = found.pop("#scanned", set())
    delivered = [t for t in expected if t in found]
    wrong = [t for t in delivered if expected[t] not in found[t]]
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    seconds = last_found_at or 0.0
    mailq = subprocess.run(["sh", "-c", "mailq 2>/dev/null | tail -n 1"], capture_output=True, text=True,
                           check=False).stdout.strip()
    print(json.dumps({
        "run": args.run,
        "count": args.count,
        "concurrency": args.concurrency,
        "per_session": args.per_session,
        "accepted": stats["accepted"],
        "refused": stats["refused"],
        "retries": stats["retries"],
        "errors": dict(sorted(stats["errors"].items(), key=lambda kv: -kv[1])[:10]),
        "send_seconds": round(sent_at, 2),
        "accept_rate": round(stats["accepted"] / sent_at, 2) if sent_at else None,
        "delivered": len(delivered),
        "lost": args.count - len(delivered),
        "wrong_mailbox": len(wrong),
        "duplicates": duplicates,
        "scanned": len(scanned & set(delivered)),
        "end_to_end_seconds": round(seconds, 2),
        "msg_per_s": round(len(delivered) / seconds, 2) if seconds else None,
        "queue_left": queue_size(),
        "mailq": mailq,
    }))


if __name__ == "__main__":
    main()

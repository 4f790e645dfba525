"""The mailbox side of the dovecot scenario, run inside the container: delivery through dovecot-lda,
Sieve over ManageSieve, vacation, spam into Junk and learned, quotas.

    python3 mailbox_probe.py run '{"passwords": {...}}'

Prints one JSON document. Mail goes in over SMTP to 127.0.0.1:25 (sendmail hands it to
dovecot-lda), scripts go up over ManageSieve on 127.0.0.1:4190 after STARTTLS, and everything
is read back over IMAPS on 127.0.0.1:993. Nothing leaves 127.0.0.0/8.
"""

import base64
import imaplib
import json
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid

SERVER = "127.0.0.1"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
PAUL_SCRIPT = """require ["fileinto", "vacation"];
if header :contains "subject" "[project-x]" {
  fileinto "Projects";
  stop;
}
vacation :days 1 :addresses ["paul@my-site.com"] :subject "Away: out of office" "Paul is away until Monday.";
"""


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the self-signed certificate is checked by test_dovecot.py
    return ctx


def send(sender, rcpt, subject, body="", headers=None, from_header=None, msgid=None):
    """One message over SMTP from 127.0.0.1 (a relay client of the lab); 'accepted' or the refusal."""
    head = {"From": from_header or sender or "MAILER-DAEMON@my-site.com", "To": rcpt, "Subject": subject,
            "Message-ID": msgid or f"<{uuid.uuid4().hex}@client.my-site.com>"}
    head.update(headers or {})
    text = "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n" + (body or "body of " + subject) + "\r\n"
    client = smtplib.SMTP(SERVER, 25, timeout=120, local_hostname="client.my-site.com")
    try:
        client.sendmail(sender, [rcpt], text)
        return "accepted"
    except smtplib.SMTPException as exc:
        return f"refused: {exc}"
    finally:
        client.quit()


class Imap:
    def __init__(self, user, password):
        # generous: a machine running the whole test suite answers slowly (one IMAP read took over 60 s)
        self.conn = imaplib.IMAP4_SSL(SERVER, 993, ssl_context=tls_context(), timeout=180)
        self.conn.login(user, password)

    def uids(self, mailbox, *criteria):
        typ, _data = self.conn.select(f'"{mailbox}"')
        if typ != "OK":
            return []
        quoted = [c if re.fullmatch(r"[A-Z]+", c) else '"' + c.replace('"', '') + '"' for c in criteria]
        _typ, data = self.conn.uid("SEARCH", None, *quoted)
        return data[0].split() if data and data[0] else []

    def headers(self, mailbox, criteria):
        out = []
        for uid in self.uids(mailbox, *criteria):
            _typ, parts = self.conn.uid("FETCH", uid, "(BODY.PEEK[])")
            out.append(parts[0][1].decode(errors="replace"))
        return out

    def wait(self, mailbox, criteria, count=1, timeout=120):
        deadline = time.time() + timeout
        while True:
            found = self.uids(mailbox, *criteria)
            if len(found) >= count or time.time() > deadline:
                return found
            run(["/usr/sbin/sendmail", "-q"])
            time.sleep(2)

    def move(self, uid, mailbox):
        return self.conn.uid("MOVE", uid, mailbox)[0]

    def quota(self, mailbox="INBOX"):
        """GETQUOTAROOT's answer: the STORAGE usage and limit in KiB, and the raw lines."""
        typ, data = self.conn.getquotaroot(mailbox)
        lines = [d.decode() if isinstance(d, bytes) else str(d) for part in data for d in part]
        match = re.search(r"STORAGE (\d+) (\d+)", " ".join(lines))
        return {"status": typ, "lines": lines,
                "usage": int(match.group(1)) if match else None, "limit": int(match.group(2)) if match else None}

    def logout(self):
        self.conn.logout()


def managesieve_put(user, password, name, script):
    """Upload and activate a script over ManageSieve (RFC 5804): STARTTLS, AUTHENTICATE PLAIN, PUTSCRIPT, SETACTIVE."""
    log = []
    sock = socket.create_connection((SERVER, 4190), timeout=30)
    reader = sock.makefile("rb")

    def response():
        lines = []
        while True:
            line = reader.readline().decode().rstrip("\r\n")
            lines.append(line)
            if re.match(r"^(OK|NO|BYE)\b", line):
                return lines

    greeting = response()
    log.append(greeting[-1])
    sock.sendall(b"STARTTLS\r\n")
    log.append(response()[-1])
    sock = tls_context().wrap_socket(sock, server_hostname="mail.my-site.com")
    reader = sock.makefile("rb")
    capabilities = response()  # capabilities again after STARTTLS
    log.append("tls " + sock.version())
    auth = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    sock.sendall(f'AUTHENTICATE "PLAIN" "{auth}"\r\n'.encode())
    log.append(response()[-1])
    data = script.encode()
    sock.sendall(f'PUTSCRIPT "{name}" {{{len(data)}+}}\r\n'.encode() + data + b"\r\n")
    log.append(response()[-1])
    sock.sendall(f'SETACTIVE "{name}"\r\n'.encode())
    log.append(response()[-1])
    sock.sendall(b"LOGOUT\r\n")
    sock.close()
    return {"greeting": greeting, "capabilities": capabilities, "log": log}


def bayes_counts():
    """nspam and nham of the site-wide Bayes database, read as the spamd user (0 before the first learning)."""
    _code, out, _err = run(["runuser", "-u", "debian-spamd", "--", "sa-learn", "--dump", "magic"])
    counts = {"nspam": 0, "nham": 0}
    for line in out.splitlines():
        match = re.search(r"\s(\d+)\s+\d+\s+non-token data: (nspam|nham)$", line)
        if match:
            counts[match.group(2)] = int(match.group(1))
    return counts


def main():
    args = json.loads(sys.argv[2])
    pw = args["passwords"]
    tok = uuid.uuid4().hex[:10]
    out = {"token": tok}

    # ManageSieve: paul uploads his filter and vacation script
    out["managesieve"] = managesieve_put("paul", pw["paul"], "paul-rules", PAUL_SCRIPT)
    out["paul_active"] = run(["doveadm", "sieve", "list", "-u", "paul"])[1]

    # plain delivery through the LDA, filed by subject, spam into Junk
    out["sent"] = {
        "plain": send("john@my-site.com", "john@my-site.com", f"plain {tok}", msgid=f"<plain-{tok}@client.my-site.com>"),
        "project": send("john@my-site.com", "paul@my-site.com", f"[project-x] {tok}"),
        "gtube": send("john@my-site.com", "john@my-site.com", f"gtube {tok}", body=GTUBE),
        "ham_to_learn": send("paul@my-site.com", "john@my-site.com", f"learn {tok}",
                             body="Minutes of the garden club meeting, with the dates of the next three meetings."),
    }
    john1 = Imap("john1", pw["john1"])
    paul = Imap("paul", pw["paul"])
    out["plain_in_inbox"] = bool(john1.wait("INBOX", ["SUBJECT", f"plain {tok}"]))
    plain = john1.headers("INBOX", ["SUBJECT", f"plain {tok}"])
    out["plain_headers"] = plain[0].split("\r\n\r\n", 1)[0] if plain else ""
    # Dovecot's log line of the delivery, and sendmail's of the hand-over to its local mailer
    _code, log, _err = run(["journalctl", "--no-pager", "-o", "cat", "--since", "-10min"])
    # sendmail.cf's local mailer: Dovecot's LMTP server over its socket (P=[IPC]) or dovecot-lda
    with open("/etc/mail/sendmail.cf", encoding="utf-8") as handle:
        mlocal = next((line for line in handle if line.startswith("Mlocal,")), "")
    out["local_mailer"] = "lmtp" if "P=[IPC]" in mlocal else "lda"
    out["lda_log"] = [line for line in log.splitlines() if f"plain-{tok}@" in line and f"{out['local_mailer']}(" in line]
    out["sendmail_local"] = [line for line in log.splitlines() if "mailer=local" in line and "stat=Sent" in line][-3:]
    out["project_in_projects"] = bool(paul.wait("Projects", ["SUBJECT", f"[project-x] {tok}"]))
    out["project_in_inbox"] = bool(paul.uids("INBOX", "SUBJECT", f"[project-x] {tok}"))
    out["gtube_in_junk"] = bool(john1.wait("Junk", ["SUBJECT", f"gtube {tok}"]))
    out["gtube_in_inbox"] = bool(john1.uids("INBOX", "SUBJECT", f"gtube {tok}"))
    gtube = john1.headers("Junk", ["SUBJECT", f"gtube {tok}"])
    out["gtube_flag"] = bool(gtube) and "X-Spam-Flag: YES" in gtube[0]

    # learning: a ham message moved into Junk teaches spam, the GTUBE message moved out teaches ham
    learn = john1.wait("INBOX", ["SUBJECT", f"learn {tok}"])
    out["bayes_before"] = bayes_counts()
    out["move_to_junk"] = john1.move(learn[0], "Junk") if learn else "not delivered"
    time.sleep(2)
    out["bayes_after_junk"] = bayes_counts()
    gtube_uids = john1.uids("Junk", "SUBJECT", f"gtube {tok}")
    out["move_from_junk"] = john1.move(gtube_uids[0], "INBOX") if gtube_uids else "not in Junk"
    time.sleep(2)
    out["bayes_after_inbox"] = bayes_counts()

    # vacation: john1 writes twice (one reply), a list, a bulk message and a bounce get none
    out["sent"]["vacation"] = [
        send("john@my-site.com", "paul@my-site.com", f"question 1 {tok}"),
        send("john@my-site.com", "paul@my-site.com", f"question 2 {tok}"),
        send("john@another-site.com", "paul@my-site.com", f"list {tok}", headers={"List-Id": "<garden.lists.my-site.com>"},
             from_header="john@another-site.com"),
        send("john@another-site.com", "paul@my-site.com", f"bulk {tok}", headers={"Precedence": "bulk"},
             from_header="john@another-site.com"),
        send("", "paul@my-site.com", f"bounce {tok}", from_header="john@another-site.com"),
    ]
    for subject in ("question 1", "question 2", "list", "bulk", "bounce"):
        paul.wait("INBOX", ["SUBJECT", f"{subject} {tok}"])
    out["paul_inbox"] = {s: bool(paul.uids("INBOX", "SUBJECT", f"{s} {tok}"))
                         for s in ("question 1", "question 2", "list", "bulk", "bounce")}
    john1.wait("INBOX", ["SUBJECT", "Away: out of office"], count=1, timeout=60)
    time.sleep(5)  # a second reply, if one were sent, would be here by now
    run(["/usr/sbin/sendmail", "-q"])
    out["replies_to_john1"] = len(john1.uids("INBOX", "SUBJECT", "Away: out of office"))
    john2 = Imap("john2", pw["john2"])
    out["replies_to_john2"] = len(john2.uids("INBOX", "SUBJECT", "Away: out of office"))

    # quotas: GETQUOTAROOT, the warning at 90 %, a message that no longer fits bounces
    out["quota_paul"] = paul.quota()
    out["quota_john2_before"] = john2.quota()
    big = ("x" * 76 + "\r\n") * 12600  # 960 KiB of john2's 1 MiB: over the 90 % of the warning
    out["sent"]["fill"] = send("john@my-site.com", "john@another-site.com", f"fill {tok}", body=big)
    out["fill_delivered"] = bool(john2.wait("INBOX", ["SUBJECT", f"fill {tok}"]))
    out["warning"] = bool(john2.wait("INBOX", ["SUBJECT", "Your mailbox is 90% full"], timeout=60))
    out["quota_john2_full"] = john2.quota()
    # Dovecot lets the last message that crosses the limit in within its grace (2.3: 10 % of the
    # limit, 2.4: 10M): after the first 380 KiB message john2 is over the limit either way, and the
    # second one (over2) no longer fits.
    over = ("y" * 76 + "\r\n") * 5000
    out["sent"]["over"] = send("john@my-site.com", "john@another-site.com", f"over1 {tok}", body=over)
    time.sleep(3)
    john2.wait("INBOX", ["SUBJECT", f"over1 {tok}"], timeout=20)
    out["sent"]["over2"] = send("john@my-site.com", "john@another-site.com", f"over2 {tok}", body=over)
    bounce = john1.wait("INBOX", ["BODY", f"over2 {tok}", "FROM", "MAILER-DAEMON"], timeout=90)
    out["over_delivered"] = bool(john2.uids("INBOX", "SUBJECT", f"over2 {tok}"))
    dsn = john1.headers("INBOX", ["BODY", f"over2 {tok}", "FROM", "MAILER-DAEMON"]) if bounce else []
    out["over_bounce"] = dsn[0][:6000] if dsn else ""
    out["quota_john2_after"] = john2.quota()
    _code, mailq, _err = run(["mailq"])
    out["queue"] = mailq[-3000:]
    for conn in (john1, john2, paul):
        conn.logout()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

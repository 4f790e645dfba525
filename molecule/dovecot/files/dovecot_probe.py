"""Real-client probe of the dovecot scenario, run inside the container.

    python3 dovecot_probe.py state '{"cert": "/path"}'       Dovecot's config, pid, sockets, certificate
                                                             (+ "login": {...} a plaintext login, "since": debug lines)
    python3 dovecot_probe.py plainlogin '{...}'              one plaintext IMAP login from a loopback address
    python3 dovecot_probe.py exchange '{"passwords": {...}}' SMTP in, IMAPS/POP3S out, logins, TLS versions

Each prints one JSON document. Every connection stays on 127.0.0.0/8; a client
bound to 127.0.0.5 is a remote client for Dovecot (remote IP != local IP), one
from 127.0.0.1 to 127.0.0.1 is treated as secured.
"""

import hashlib
import imaplib
import json
import poplib
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid

SERVER = "127.0.0.1"
REMOTE_CLIENT = "127.0.0.5"


def run(argv, stdin=""):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed: the subject is checked separately
    return ctx


class Bound:
    """A client (imaplib.IMAP4, poplib.POP3) whose socket is bound to a chosen loopback address."""

    def __init__(self, host, port, source):
        self.source = source
        super().__init__(host, port, timeout=30)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))


class IMAP(Bound, imaplib.IMAP4):
    """IMAP from a chosen loopback address."""


class POP3(Bound, poplib.POP3):
    """POP3 from a chosen loopback address."""


def text(value):
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (list, tuple)):
        return " ".join(text(v) for v in value)
    return str(value)


def dovecot_pid():
    return run(["systemctl", "show", "-p", "MainPID", "--value", "dovecot"])[1].strip()


def sockets():
    """Listening TCP sockets of Dovecot's processes, as address:port."""
    out = run(["ss", "-ltnpH"])[1]
    found = set()
    for line in out.splitlines():
        if '"dovecot"' not in line:
            continue
        found.add(line.split()[3])
    return sorted(found)


def cert_of_file(path):
    code, out, err = run(["openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256", "-subject", "-nameopt", "RFC2253", "-enddate"])
    return {"rc": code, "text": out + err}


def served_cert(port, address=SERVER):
    code, out, err = run(["openssl", "s_client", "-connect", f"{address}:{port}", "-showcerts"], stdin="")
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    if not pem:
        return {"rc": code, "error": err[-500:]}
    code, info, err = run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-ext", "subjectAltName", "-fingerprint", "-sha256"],
                          stdin=pem.group(0))
    return {"rc": code, "text": info}


def state(args):
    with open("/etc/dovecot/dovecot.conf", "rb") as handle:
        conf = handle.read()
    out = {"time": time.time(), "conf_sha256": hashlib.sha256(conf).hexdigest(), "pid": dovecot_pid(), "sockets": sockets(),
           "active": run(["systemctl", "is-active", "dovecot"])[1].strip()}
    if args.get("login"):
        out["login"] = plainlogin(args["login"])
    if args.get("since"):
        out["debug_lines"] = debug_lines(args["since"])
    if args.get("cert"):
        out["cert"] = cert_of_file(args["cert"])
    for sock in out["sockets"]:
        address, _sep, port = sock.rpartition(":")
        if port in ("993", "995"):
            out["served_cert"] = served_cert(port, address)
            break
    return out


def plainlogin(args):
    """A plaintext IMAP LOGIN (no TLS) from args['src'] to args['address']:args['port']."""
    out = {}
    try:
        imap = IMAP(args.get("address", SERVER), args.get("port", 143), args.get("src", REMOTE_CLIENT))
        out["capabilities"] = sorted(text(c) for c in imap.capabilities)
        try:
            out["login"] = text(imap.login(args["user"], args["password"]))
            out["ok"] = True
            imap.logout()
        except imaplib.IMAP4.error as exc:
            out["login"] = text(exc.args)
            out["ok"] = False
    except OSError as exc:
        out["error"] = str(exc)
        out["ok"] = False
    return out


def debug_lines(since):
    """Dovecot's debug lines in the journal since an epoch time (syslog facility mail)."""
    code, out, _err = run(["journalctl", "--no-pager", "-o", "cat", f"--since=@{int(since)}", "SYSLOG_FACILITY=2", "SYSLOG_IDENTIFIER=dovecot"])
    return [line for line in out.splitlines() if "Debug:" in line]


def send(rcpt, token):
    client = smtplib.SMTP(timeout=60, source_address=(REMOTE_CLIENT, 0), local_hostname="client.my-site.com")
    client.connect(SERVER, 25)
    client.ehlo("client.my-site.com")
    body = f"From: marc@my-site.com\r\nTo: {rcpt}\r\nSubject: {token}\r\n\r\nbody {token}\r\n"
    try:
        client.sendmail("marc@my-site.com", [rcpt], body)
        result = "accepted"
    except smtplib.SMTPException as exc:
        result = f"refused: {exc}"
    client.quit()
    return result


def imaps_search(user, password, token):
    """Log in over IMAPS (993) and search INBOX for the token; return (login result, found, body)."""
    try:
        imap = imaplib.IMAP4_SSL(SERVER, 993, ssl_context=tls_context(), timeout=30)
    except OSError as exc:
        return f"connect failed: {exc}", False, ""
    try:
        imap.login(user, password)
    except imaplib.IMAP4.error as exc:
        return f"refused: {text(exc.args)}", False, ""
    imap.select("INBOX")
    _typ, data = imap.search(None, "BODY", token)
    numbers = data[0].split()
    body = ""
    if numbers:
        _typ, parts = imap.fetch(numbers[-1], "(RFC822)")
        body = text(parts[0][1])
    imap.logout()
    return "ok", bool(numbers), body


def pop3s_find(user, password, token):
    """Log in over POP3S (995) and look for the token in every message; return (login result, found)."""
    try:
        pop = poplib.POP3_SSL(SERVER, 995, context=tls_context(), timeout=30)
    except OSError as exc:
        return f"connect failed: {exc}", False
    try:
        pop.user(user)
        pop.pass_(password)
    except poplib.error_proto as exc:
        return f"refused: {text(exc.args)}", False
    found = False
    count = len(pop.list()[1])
    for number in range(1, count + 1):
        if token in text(b"\n".join(pop.retr(number)[1])):
            found = True
    pop.quit()
    return "ok", found


def imap_plain_then_starttls(user, password):
    """From 127.0.0.5 to 143: plaintext LOGIN, then the same login after STARTTLS."""
    out = plainlogin({"user": user, "password": password, "port": 143})
    try:
        imap = IMAP(SERVER, 143, REMOTE_CLIENT)
        imap.starttls(ssl_context=tls_context())
        imap.login(user, password)
        out["after_starttls"] = "ok"
        imap.logout()
    except (imaplib.IMAP4.error, OSError) as exc:
        out["after_starttls"] = f"refused: {text(exc.args)}"
    return out


def pop3_plain_then_stls(user, password):
    """From 127.0.0.5 to 110: USER/PASS in clear, then after STLS."""
    out = {}
    try:
        pop = POP3(SERVER, 110, REMOTE_CLIENT)
        try:
            pop.user(user)
            pop.pass_(password)
            out["plain"] = "ok"
        except poplib.error_proto as exc:
            out["plain"] = f"refused: {text(exc.args)}"
        pop.quit()
    except OSError as exc:
        out["plain"] = f"connect failed: {exc}"
    try:
        pop = POP3(SERVER, 110, REMOTE_CLIENT)
        pop.stls(context=tls_context())
        pop.user(user)
        pop.pass_(password)
        out["after_stls"] = "ok"
        pop.quit()
    except (poplib.error_proto, OSError) as exc:
        out["after_stls"] = f"refused: {text(exc.args)}"
    return out


def tls_versions(port):
    """Handshake with each TLS version; the client allows old ones (SECLEVEL=0), so a refusal is the server's."""
    out = {}
    for flag in ("-tls1", "-tls1_1", "-tls1_2"):
        _code, stdout, stderr = run(["openssl", "s_client", "-connect", f"{SERVER}:{port}", flag, "-cipher", "DEFAULT@SECLEVEL=0"], stdin="")
        match = re.search(r"New, (\S+), Cipher is (\S+)", stdout)
        ok = bool(match) and match.group(2) != "(NONE)"
        out[flag.lstrip("-")] = {"handshake": ok, "protocol": match.group(1) if ok else "",
                                 "error": "" if ok else (stderr.strip().splitlines() or ["no handshake"])[-1][-300:]}
    return out


def journal_cursor():
    out = run(["journalctl", "--no-pager", "-n", "0", "--show-cursor"])[1]
    return out.strip().rpartition("cursor: ")[2]


def server_tls_refusals(cursor):
    """Dovecot's log lines of TLS handshakes it refused for their version, after a journal cursor."""
    time.sleep(1)
    out = run(["journalctl", "--no-pager", "-o", "cat", f"--after-cursor={cursor}", "SYSLOG_IDENTIFIER=dovecot"])[1]
    return [line for line in out.splitlines() if "SSL_accept() failed" in line and "unsupported protocol" in line]


def mail_location():
    version = run(["dovecot", "--version"])[1].strip()
    if version.startswith("2.3"):
        names = ["mail_location"]
    else:
        names = ["mail_driver", "mail_path", "mail_inbox_path"]
    values = run(["doveconf", "-h", *names])[1].splitlines()
    return version, dict(zip(names, values, strict=False))


def exchange(args):
    passwords = args["passwords"]
    started = time.time()
    out = {}
    out["version"], out["doveconf"] = mail_location()
    tokens = {"paul": "tok-" + uuid.uuid4().hex[:12], "john": "tok-" + uuid.uuid4().hex[:12]}
    out["smtp"] = {"paul@my-site.com": send("paul@my-site.com", tokens["paul"]),
                   "john@another-site.com": send("john@another-site.com", tokens["john"])}

    # Wait for sendmail to deliver, looking with the client.
    deadline = time.time() + 90
    found = False
    while time.time() < deadline:
        login, found, _body = imaps_search("paul", passwords["paul"], tokens["paul"])
        john2 = imaps_search("john2", passwords["john2"], tokens["john"])[1]
        if found and john2:
            break
        run(["/usr/sbin/sendmail", "-q"])
        time.sleep(2)
    out["delivery_wait_s"] = round(time.time() - started, 1)

    login, found, body = imaps_search("paul", passwords["paul"], tokens["paul"])
    out["imaps_paul"] = {"login": login, "found": found, "body_has_token": tokens["paul"] in body}
    login, found = pop3s_find("paul", passwords["paul"], tokens["paul"])
    out["pop3s_paul"] = {"login": login, "found": found}
    login, found, _body = imaps_search("john2", passwords["john2"], tokens["john"])
    out["imaps_john2"] = {"login": login, "found": found}
    login, found, _body = imaps_search("john1", passwords["john1"], tokens["john"])
    out["imaps_john1"] = {"login": login, "found": found}

    # Where sendmail put paul's message: the place Dovecot reads.
    _code, files, _err = run(["grep", "-rl", tokens["paul"], "/var/mail/paul", "/home/paul/Maildir"])
    out["paul_files"] = sorted(files.split())

    out["wrong_password"] = {"imaps": imaps_search("paul", passwords["paul"] + "x", tokens["paul"])[0],
                             "pop3s": pop3s_find("paul", passwords["paul"] + "x", tokens["paul"])[0]}
    out["imap_143"] = imap_plain_then_starttls("paul", passwords["paul"])
    out["pop3_110"] = pop3_plain_then_stls("paul", passwords["paul"])
    cursor = journal_cursor()
    out["tls"] = {"993": tls_versions(993), "995": tls_versions(995)}
    out["tls_refused_by_server"] = server_tls_refusals(cursor)
    out["served_cert"] = served_cert(993)
    out["debug_lines"] = debug_lines(started - 1)
    return out


def main():
    command = sys.argv[1]
    args = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    handlers = {"state": state, "plainlogin": plainlogin, "exchange": exchange}
    print(json.dumps(handlers[command](args)))


if __name__ == "__main__":
    main()

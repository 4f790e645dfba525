"""Clients for the fail2ban tests, run inside the container from a chosen loopback source address.

    python3 fail2ban_probe.py smtp_auth '{"src": ..., "user": ..., "password": ..., "count": N}'
        N connections to 587, each STARTTLS then one AUTH PLAIN: one AUTH failure line each
    python3 fail2ban_probe.py imaps_login '{"src": ..., "user": ..., "password": ..., "count": N}'
        N IMAPS (993) connections, each one LOGIN
    python3 fail2ban_probe.py relay '{"src": ..., "count": N}'
        N SMTP sessions on 25, each one RCPT to a domain the server does not relay for
    python3 fail2ban_probe.py unknown_rcpt '{"src": ..., "count": N}'
        N SMTP sessions on 25, each one RCPT to an unknown local user
    python3 fail2ban_probe.py connect '{"src": ..., "ports": [...]}'
        a TCP connect to each port of 127.0.0.1: open, refused or timeout
    python3 fail2ban_probe.py deliver '{"src": ..., "rcpt": ...}'
        one message over SMTP (25): accepted, or why not

Each prints one JSON document. Every connection goes from 127.0.0.0/8 to 127.0.0.1.
"""

import imaplib
import json
import smtplib
import socket
import ssl
import sys
import uuid

SERVER = "127.0.0.1"
TIMEOUT = 10


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's self-signed certificate
    return ctx


def refused(exc):
    """How a connection that did not open failed: refused, timeout, or the error."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    return f"error: {exc!r}"


class IMAPS(imaplib.IMAP4_SSL):
    """IMAPS from a chosen loopback address."""

    def __init__(self, source):
        self.source = source
        super().__init__(SERVER, 993, ssl_context=tls_context(), timeout=TIMEOUT)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def smtp(src, port):
    client = smtplib.SMTP(SERVER, port, timeout=TIMEOUT, source_address=(src, 0), local_hostname="client.example")
    client.ehlo()
    return client


def close(client, method):
    """End a session; the ban may have cut it already (the server's answer never comes)."""
    try:
        getattr(client, method)()
    except (OSError, imaplib.IMAP4.error):
        pass


def smtp_auth(args):
    results = []
    for _attempt in range(args["count"]):
        try:
            client = smtp(args["src"], 587)
        except OSError as exc:
            results.append(refused(exc))
            continue
        try:
            client.starttls(context=tls_context())
            client.ehlo()
            client.user, client.password = args["user"], args["password"]
            client.auth("PLAIN", client.auth_plain)
            results.append("authenticated")
        except smtplib.SMTPAuthenticationError as exc:
            results.append(f"failed: {exc.smtp_code}")
        except OSError as exc:  # smtplib's errors are OSErrors too: no STARTTLS, no AUTH, a cut session
            results.append(f"error: {exc!r}")
        close(client, "quit")
    return results


def imaps_login(args):
    results = []
    for _attempt in range(args["count"]):
        try:
            imap = IMAPS(args["src"])
        except OSError as exc:
            results.append(refused(exc))
            continue
        try:
            imap.login(args["user"], args["password"])
            results.append("authenticated")
        except imaplib.IMAP4.error as exc:
            results.append(f"failed: {exc}")
        except OSError as exc:
            results.append(f"error: {exc!r}")
        close(imap, "logout")
    return results


def rcpt_sessions(args, rcpt):
    results = []
    for _attempt in range(args["count"]):
        try:
            client = smtp(args["src"], 25)
        except OSError as exc:
            results.append(refused(exc))
            continue
        try:
            client.mail("probe@client.example")
            results.append(client.rcpt(rcpt())[0])
        except OSError as exc:
            results.append(f"error: {exc!r}")
        close(client, "quit")
    return results


def relay(args):
    return rcpt_sessions(args, lambda: f"victim-{uuid.uuid4().hex[:8]}@elsewhere.example")


def unknown_rcpt(args):
    return rcpt_sessions(args, lambda: f"nobody-{uuid.uuid4().hex[:8]}@my-site.com")


def connect(args):
    out = {}
    for port in args["ports"]:
        try:
            socket.create_connection((SERVER, port), 5, source_address=(args["src"], 0)).close()
            out[str(port)] = "open"
        except OSError as exc:
            out[str(port)] = refused(exc)
    return out


def deliver(args):
    token = "f2b-" + uuid.uuid4().hex[:12]
    try:
        client = smtp(args["src"], 25)
    except OSError as exc:
        return refused(exc)
    body = f"From: marc@my-site.com\r\nTo: {args['rcpt']}\r\nSubject: {token}\r\n\r\n{token}\r\n"
    try:
        client.sendmail("marc@my-site.com", [args["rcpt"]], body)
        result = "accepted"
    except smtplib.SMTPException as exc:
        result = f"refused: {exc}"
    close(client, "quit")
    return result


def main():
    handlers = {"smtp_auth": smtp_auth, "imaps_login": imaps_login, "relay": relay, "unknown_rcpt": unknown_rcpt,
                "connect": connect, "deliver": deliver}
    print(json.dumps(handlers[sys.argv[1]](json.loads(sys.argv[2]))))


if __name__ == "__main__":
    main()

"""TLS probe, run inside a container (python3 - PORTS_JSON): the versions each port speaks.

For each port of PORTS_JSON on 127.0.0.1 (25 and 587 with STARTTLS, any other with implicit
TLS): a handshake with TLS 1.0, with TLS 1.1 and with the client's defaults, and for 25 and 587
whether AUTH is offered before and after STARTTLS. First a control: the same old-version
clients against a server of the probe's own (the mail server's certificate: the certificates
role's, else sendmail's own in /etc/mail/tls) that
allows them, so that a refusal by a port is the server's, not the client's. Prints JSON.
"""

import json
import os
import smtplib
import socket
import ssl
import sys
import threading
import warnings

OLD = ("TLSv1", "TLSv1_1")
CERT_PAIRS = (("/etc/ssl/homelab-mailserver/fullchain.pem", "/etc/ssl/homelab-mailserver/private/privkey.pem"),
              ("/etc/mail/tls/smtpd.crt", "/etc/mail/tls/smtpd.key"))
STARTTLS_PORTS = (25, 587)


def client(version=None):
    """A client context; with VERSION, one that speaks only that version (security level 0 allows it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def control():
    """The old-version clients against a server of our own that allows them."""
    srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.minimum_version = ssl.TLSVersion.TLSv1
    srv.set_ciphers("DEFAULT:@SECLEVEL=0")
    srv.load_cert_chain(*next(pair for pair in CERT_PAIRS if os.path.exists(pair[0])))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(len(OLD))

    def serve():
        for _version in OLD:
            conn, _peer = listener.accept()
            try:
                srv.wrap_socket(conn, server_side=True).close()
            except ssl.SSLError:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    out = {}
    for version in OLD:
        try:
            with socket.create_connection(listener.getsockname(), timeout=30) as raw, \
                    client(version).wrap_socket(raw) as tls:
                out["control " + version] = tls.version()
        except ssl.SSLError as exc:
            out["control " + version] = "refused: %s" % exc
    return out


def handshake(port, version):
    """[TLS version] (and, on the STARTTLS ports, AUTH before and after STARTTLS), or ["refused: ..."]."""
    ctx = client(version)
    try:
        if port in STARTTLS_PORTS:
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
            smtp.ehlo()
            before = smtp.has_extn("auth")
            smtp.starttls(context=ctx)
            smtp.ehlo()
            result = [smtp.sock.version(), before, smtp.has_extn("auth")]
            smtp.quit()
            return result
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, ctx.wrap_socket(raw) as tls:
            return [tls.version()]
    except (ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        return ["refused: %s" % type(exc).__name__]


def main():
    warnings.simplefilter("ignore")  # ssl warns that TLS 1.0 and 1.1 are deprecated: that is the point
    out = control()
    for port in json.loads(sys.argv[1]):
        for version in OLD + (None,):
            out["%d %s" % (port, version or "default")] = handshake(port, version)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

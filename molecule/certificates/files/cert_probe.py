"""Certificate probe, run inside the container: python3 cert_probe.py ROOT_PEM NAME PORT...

For each PORT on 127.0.0.1 (25 and 587 with STARTTLS, any other with TLS from the first byte) a
handshake that trusts ROOT_PEM alone and checks that the certificate names NAME (SNI NAME). Prints
JSON {port: {"verified": bool, "error": text, "serial": hex, "issuer": CN}}; a failed verification
is reported, then the port is read again without verification to tell which certificate it serves.
"""

import json
import smtplib
import socket
import ssl
import subprocess
import sys

STARTTLS_PORTS = (25, 587)


def handshake(port, ctx, name):
    if port in STARTTLS_PORTS:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        try:
            smtp.ehlo("probe.my-site.com")
            _starttls(smtp, ctx, name)
            return smtp.sock.getpeercert(binary_form=True)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            ctx.wrap_socket(raw, server_hostname=name) as tls:
        return tls.getpeercert(binary_form=True)


def _starttls(smtp, ctx, name):
    """SMTP.starttls() checks the name it connected to (127.0.0.1): STARTTLS with NAME as SNI and the name checked."""
    code, reply = smtp.docmd("STARTTLS")
    if code != 220:
        raise smtplib.SMTPResponseException(code, reply)
    smtp.sock = ctx.wrap_socket(smtp.sock, server_hostname=name)
    smtp.file = None
    smtp.helo_resp = smtp.ehlo_resp = None
    smtp.esmtp_features = {}
    smtp.does_esmtp = False


def describe(der):
    """serial and issuer CN of a DER certificate, read with openssl."""
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-issuer", "-nameopt", "RFC2253"],
                         input=pem, capture_output=True, text=True, check=True).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines())
    return {"serial": fields["serial"].upper(), "issuer": fields["issuer"]}


def main():
    root, name, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    out = {}
    for port in ports:
        ctx = ssl.create_default_context(cafile=root)
        # with cafile, create_default_context trusts ROOT alone (no system CA) and checks the host name
        result = {"verified": False, "error": ""}
        try:
            result.update(describe(handshake(port, ctx, name)))
            result["verified"] = True
        except (ssl.SSLError, ssl.CertificateError, smtplib.SMTPException, OSError) as exc:
            result["error"] = "%s: %s" % (type(exc).__name__, exc)
            loose = ssl.create_default_context()
            loose.check_hostname = False
            loose.verify_mode = ssl.CERT_NONE
            try:
                result.update(describe(handshake(port, loose, name)))
            except (ssl.SSLError, smtplib.SMTPException, OSError) as again:
                result["error"] += "; unverified: %s" % again
        out[str(port)] = result
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""The TLS policy on every TLS port of the configured lab server, from inside bigboy over loopback.

25 and 587 (STARTTLS), 465 (implicit TLS, sendmail_smtps_enabled in the example), 993 and 995
(Dovecot): TLS 1.0 and 1.1 are refused, TLS 1.2 or newer is spoken. A control server of the
probe's own proves that the client can speak the old versions, so a refusal is the server's.
AUTH is never offered on 25.
"""

import json

PROBE = r'''
import json, smtplib, socket, ssl, threading, warnings
warnings.simplefilter("ignore")
out = {}

def client(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx

OLD = ("TLSv1", "TLSv1_1")
srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
srv.minimum_version = ssl.TLSVersion.TLSv1
srv.set_ciphers("DEFAULT:@SECLEVEL=0")
srv.load_cert_chain("/etc/mail/tls/smtpd.crt", "/etc/mail/tls/smtpd.key")
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(4)

def serve():
    for _ in OLD:
        conn, _ = listener.accept()
        try:
            srv.wrap_socket(conn, server_side=True).close()
        except ssl.SSLError:
            conn.close()

threading.Thread(target=serve, daemon=True).start()
for version in OLD:
    try:
        with socket.create_connection(listener.getsockname(), timeout=30) as raw:
            with client(version).wrap_socket(raw) as tls:
                out["control " + version] = tls.version()
    except ssl.SSLError as exc:
        out["control " + version] = "refused: %s" % exc

def handshake(port, version):
    ctx = client(version)
    try:
        if port in (25, 587):
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            s.ehlo()
            before = s.has_extn("auth")
            s.starttls(context=ctx)
            s.ehlo()
            result = [s.sock.version(), before, s.has_extn("auth")]
            s.quit()
            return result
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw) as tls:
                return [tls.version()]
    except (ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        return ["refused: %s" % type(exc).__name__]

for port in (25, 587, 465, 993, 995):
    for version in OLD + (None,):
        out["%d %s" % (port, version or "default")] = handshake(port, version)
print(json.dumps(out))
'''


def test_tls_1_2_or_newer_on_every_tls_port(bigboy):
    result = bigboy.run(f"python3 - <<'PYEOF'\n{PROBE}\nPYEOF")
    assert result.rc == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["control TLSv1"] == "TLSv1" and out["control TLSv1_1"] == "TLSv1.1", out
    for port in (25, 587, 465, 993, 995):
        for version in ("TLSv1", "TLSv1_1"):
            assert out[f"{port} {version}"][0].startswith("refused"), (port, version, out)
        assert out[f"{port} default"][0] in ("TLSv1.2", "TLSv1.3"), (port, out)
    # AUTH: never on the MTA port; on 587 only after STARTTLS
    assert out["25 default"][1:] == [False, False], out
    assert out["587 default"][1:] == [False, True], out

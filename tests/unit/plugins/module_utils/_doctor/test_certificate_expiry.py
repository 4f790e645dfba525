"""certificate_expiry: fake openssl answers, and real certificates when the openssl command is here."""

import datetime
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor import certificate_expiry as unit

from .helpers import fake_run, real_run, write


def test_certificates_discovered_from_dovecot_and_sendmail(tmp_path):
    d24 = fake_run({("doveconf", "-h", "ssl_server_cert_file"): (0, "/etc/dovecot/private/dovecot.pem\n", "")})
    d23 = fake_run({("doveconf", "-h", "ssl_cert"): (0, "</etc/pki/dovecot/certs/dovecot.pem\n", "")})
    assert unit.dovecot_certificates(d24, "doveconf") == ["/etc/dovecot/private/dovecot.pem"]
    assert unit.dovecot_certificates(d23, "doveconf") == ["/etc/pki/dovecot/certs/dovecot.pem"]
    cf = write(tmp_path / "sendmail.cf", "O ServerCertFile=/etc/mail/tls/sendmail-server.crt\n")
    assert unit.sendmail_certificates(cf) == ["/etc/mail/tls/sendmail-server.crt"]


def _x509(end, fingerprint="AA:BB", names="DNS:bigboy.my-site.com, DNS:mail.my-site.com", serial="01"):
    return (0, "notAfter=%s\nserial=%s\nsha256 Fingerprint=%s\nsubject=CN=bigboy.my-site.com\n"
               "X509v3 Subject Alternative Name: \n    %s\n" % (end, serial, fingerprint, names), "")


def test_certificate_expiry_mocked_openssl():
    now = datetime.datetime(2029, 12, 1, tzinfo=datetime.UTC)
    run = fake_run({"/c/soon.pem": _x509("Jan  1 00:00:00 2030 GMT"),
                    "/c/late.pem": _x509("Dec 31 23:59:59 2031 GMT")})
    check = unit.check(["/c/late.pem"], run, "openssl", 30, now=now)
    assert check["name"] == "certificate_expiry"
    assert check["ok"] is True and "in 760 days" in check["detail"]
    check = unit.check(["/c/late.pem", "/c/soon.pem"], run, "openssl", 30, now=now)
    assert check["ok"] is True and "in 31 days" in check["detail"]
    check = unit.check(["/c/soon.pem"], run, "openssl", 32, now=now)
    assert check["ok"] is False and "fewer than 32 days" in check["detail"]
    assert run.calls[0][0] == ["openssl", "x509", "-noout"] + unit.OPENSSL_FIELDS + ["-in", "/c/late.pem"]
    assert unit.check(["/c/x.pem"], run, None)["ok"] is None
    assert unit.check([], run, "openssl")["ok"] is None


def test_the_names_must_cover_the_fqdn():
    now = datetime.datetime(2029, 12, 1, tzinfo=datetime.UTC)
    run = fake_run({"/c/other.pem": _x509("Dec 31 23:59:59 2031 GMT", names="DNS:mail.my-site.com"),
                    "/c/wild.pem": _x509("Dec 31 23:59:59 2031 GMT", names="DNS:*.my-site.com")})
    bad = unit.check(["/c/other.pem"], run, "openssl", 30, now=now, fqdn="bigboy.my-site.com")
    assert bad["ok"] is False and "does not name bigboy.my-site.com" in bad["detail"]
    assert unit.check(["/c/wild.pem"], run, "openssl", 30, now=now, fqdn="bigboy.my-site.com")["ok"] is True
    assert unit.check(["/c/wild.pem"], run, "openssl", 30, now=now, fqdn="a.b.my-site.com")["ok"] is False


def _served_run(files, ports):
    """openssl answers: for a path from FILES, for piped PEM text from PORTS (the PEM text is the key)."""
    def run(argv, data=None):
        run.calls.append(argv)
        return files[argv[-1]] if data is None else ports[data]
    run.calls = []
    return run


def test_every_listening_port_must_serve_the_current_certificate():
    now = datetime.datetime(2029, 12, 1, tzinfo=datetime.UTC)
    current = _x509("Dec 31 23:59:59 2031 GMT", fingerprint="NEW", serial="02")
    old = _x509("Jan 31 23:59:59 2030 GMT", fingerprint="OLD", serial="01")
    run = _served_run({"/c/full.pem": current}, {"new": current, "old": old})
    served = {25: ("new", ""), 465: (None, "not listening"), 587: ("new", ""), 993: ("new", ""), 995: ("new", "")}
    good = unit.check(["/c/full.pem"], run, "openssl", 30, now=now, fqdn="bigboy.my-site.com", served=served)
    assert good["ok"] is True, good
    assert "port 465: not listening" in good["detail"] and "ports 25, 587, 993, 995 serve the same" in good["detail"]
    # sendmail not restarted after a renewal: 25 and 587 serve the old certificate
    served.update({25: ("old", ""), 587: ("old", "")})
    bad = unit.check(["/c/full.pem"], run, "openssl", 30, now=now, fqdn="bigboy.my-site.com", served=served)
    assert bad["ok"] is False
    assert "port 25: serial 01" in bad["detail"] and "restart or reload the daemon" in bad["detail"]
    assert "the ports serve different certificates" in bad["detail"]
    # a port that listens but speaks no TLS
    served = {25: (None, "offers no STARTTLS")}
    assert unit.check(["/c/full.pem"], run, "openssl", 30, now=now, served=served)["ok"] is False


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl binary here")
def test_certificate_expiry_real_openssl(tmp_path):
    def cert(days):
        path = str(tmp_path / ("cert%d.pem" % days))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mail.my-site.com",
                        "-keyout", str(tmp_path / "key.pem"), "-out", path, "-days", str(days)],
                       check=True, capture_output=True)
        return path

    openssl = shutil.which("openssl")
    assert unit.check([cert(365)], real_run, openssl, 30)["ok"] is True
    named = unit.check([cert(365)], real_run, openssl, 30, fqdn="mail.my-site.com")
    assert named["ok"] is True, named
    other = unit.check([cert(365)], real_run, openssl, 30, fqdn="bigboy.my-site.com")
    assert other["ok"] is False and "does not name bigboy.my-site.com" in other["detail"]
    soon = unit.check([cert(10)], real_run, openssl, 30)
    assert soon["ok"] is False and "fewer than 30 days" in soon["detail"]
    missing = unit.check([str(tmp_path / "none.pem")], real_run, openssl, 30)
    assert missing["ok"] is False and "does not exist" in missing["detail"]


def test_served_certificate_of_a_real_tls_server(tmp_path):
    """A TLS server of the test's own on 127.0.0.1: its certificate is read; a closed port does not listen."""
    key, crt = str(tmp_path / "k.pem"), str(tmp_path / "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=bigboy.my-site.com",
                    "-keyout", key, "-out", crt, "-days", "30"], check=True, capture_output=True)
    srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.load_cert_chain(crt, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _peer = listener.accept()
        try:
            srv.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    pem, why = unit.served_certificate("127.0.0.1", listener.getsockname()[1], False, 10)
    assert why == "" and pem.strip() == open(crt, encoding="ascii").read().strip()
    listener.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert unit.served_certificate("127.0.0.1", port, False, 10) == (None, "not listening")


def test_days_left_of_openssl_end_dates():
    now = datetime.datetime(2029, 12, 1, tzinfo=datetime.UTC)
    assert unit.days_left("Jan  1 00:00:00 2030 GMT", now) == 31
    assert unit.days_left("Nov 30 00:00:00 2029 GMT", now) == -1
    assert unit.days_left("not a date", now) is None


def test_served_days_left_of_each_port_kind(monkeypatch):
    """The watch's question: how many days the certificate a port serves has left, or why it cannot tell."""
    now = datetime.datetime(2029, 12, 1, tzinfo=datetime.UTC)
    asked = []

    def served(address, port, starttls, timeout):
        asked.append((address, port, starttls))
        return ({25: ("PEM", ""), 465: ("PEM", "")}.get(port) or (None, "not listening"))

    monkeypatch.setattr(unit, "served_certificate", served)
    run = fake_run({"PEM": _x509("Jan  1 00:00:00 2030 GMT", serial="0A")})

    def fake(argv, data=None):
        return run(argv + [data] if data else argv)

    assert unit.served_days_left("127.0.0.1", 25, 5, fake, "openssl", now=now) == (
        31, "serial 0A, expires Jan  1 00:00:00 2030 GMT, in 31 days")
    assert unit.served_days_left("127.0.0.1", 993, 5, fake, "openssl", now=now) == (None, "not listening")
    assert asked == [("127.0.0.1", 25, True), ("127.0.0.1", 993, False)]
    broken = fake_run({"PEM": (1, "", "unable to load certificate")})
    days, why = unit.served_days_left("127.0.0.1", 465, 5, lambda argv, data=None: broken(argv + [data]), "openssl", now=now)
    assert days is None and "openssl cannot read it" in why

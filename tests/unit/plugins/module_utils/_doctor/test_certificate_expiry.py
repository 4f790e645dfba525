"""certificate_expiry: fake openssl answers, and real certificates when the openssl command is here."""

import datetime
import shutil
import subprocess

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


def test_certificate_expiry_mocked_openssl():
    now = datetime.datetime(2029, 12, 1, tzinfo=datetime.UTC)
    run = fake_run({"/c/soon.pem": (0, "notAfter=Jan  1 00:00:00 2030 GMT\n", ""),
                    "/c/late.pem": (0, "notAfter=Dec 31 23:59:59 2031 GMT\n", "")})
    check = unit.check(["/c/late.pem"], run, "openssl", 30, now=now)
    assert check["name"] == "certificate_expiry"
    assert check["ok"] is True and "in 760 days" in check["detail"]
    check = unit.check(["/c/late.pem", "/c/soon.pem"], run, "openssl", 30, now=now)
    assert check["ok"] is True and "in 31 days" in check["detail"]
    check = unit.check(["/c/soon.pem"], run, "openssl", 32, now=now)
    assert check["ok"] is False and "fewer than 32 days" in check["detail"]
    assert run.calls[0][0] == ["openssl", "x509", "-enddate", "-noout", "-in", "/c/late.pem"]
    assert unit.check(["/c/x.pem"], run, None)["ok"] is None
    assert unit.check([], run, "openssl")["ok"] is None


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
    soon = unit.check([cert(10)], real_run, openssl, 30)
    assert soon["ok"] is False and "fewer than 30 days" in soon["detail"]
    missing = unit.check([str(tmp_path / "none.pem")], real_run, openssl, 30)
    assert missing["ok"] is False and "does not exist" in missing["detail"]

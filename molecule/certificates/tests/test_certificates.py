"""The mail server's one certificate from an ACME CA (pebble), proved with TLS clients inside the container.

pebble (prepare.yml) issued the certificate through the certificates role's HTTP-01 listener;
sendmail and Dovecot read the role's files (site.yml's wiring). The probe (files/cert_probe.py)
trusts pebble's root alone (fetched from pebble's management endpoint by side_effect.yml) and
checks the host name: 25 and 587 with STARTTLS, 465, 993 and 995. side_effect.yml recorded in
/var/tmp/certificates/ what every port served before and after a forced renewal, and ran the
selfsigned and files sources beside the live certificate.
"""

import datetime
import json

from harness import tls_policy

PORTS = (25, 465, 587, 993, 995)
DIR = "/etc/ssl/homelab-mailserver"
OUT = "/var/tmp/certificates"
ROOT_PEM = f"{OUT}/pebble-root.pem"


def probe(host, name="bigboy.my-site.com", ports=PORTS):
    result = host.run(f"python3 /usr/local/sbin/cert_probe.py {ROOT_PEM} {name} " + " ".join(map(str, ports)))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def recorded(host, name):
    return json.loads(host.file(f"{OUT}/{name}.json").content_string)


def serial(host, path):
    out = host.run(f"openssl x509 -in {path} -noout -serial")
    assert out.rc == 0, out.stderr
    return out.stdout.strip().split("=", 1)[1].upper()


def x509_text(host, path, *options):
    out = host.run(f"openssl x509 -in {path} -noout " + " ".join(options))
    assert out.rc == 0, out.stderr
    return out.stdout


def days_valid(host, path):
    text = x509_text(host, path, "-startdate", "-enddate")
    dates = dict(line.split("=", 1) for line in text.splitlines())

    def parse(value):
        return datetime.datetime.strptime(value.replace("  ", " "), "%b %d %H:%M:%S %Y %Z")

    return (parse(dates["notAfter"]) - parse(dates["notBefore"])).days


def assert_one_verified_certificate(served, expected_serial):
    for port in PORTS:
        entry = served[str(port)]
        assert entry["verified"], (port, entry)
        assert entry["serial"] == expected_serial, (port, entry, expected_serial)
        assert "Pebble" in entry["issuer"] or "pebble" in entry["issuer"], entry


def test_every_tls_port_serves_the_acme_chain_for_the_fqdn(host):
    """pebble's root alone verifies the chain on all five ports, with the host name checked."""
    assert_one_verified_certificate(probe(host), serial(host, f"{DIR}/cert.pem"))


def test_the_second_name_verifies_too(host):
    served = probe(host, "mail.my-site.com", [587, 993])
    assert all(entry["verified"] for entry in served.values()), served


def test_another_name_is_refused_by_the_hostname_check(host):
    """The check can fail: a name the certificate does not carry does not verify."""
    served = probe(host, "other.my-site.com", [993])
    assert not served["993"]["verified"], served
    assert "hostname" in served["993"]["error"].lower() or "match" in served["993"]["error"].lower(), served


def test_sendmail_and_dovecot_read_the_roles_files(host):
    cf = host.file("/etc/mail/sendmail.cf").content_string.splitlines()
    assert f"O ServerCertFile={DIR}/fullchain.pem" in cf
    assert f"O ServerKeyFile={DIR}/private/privkey.pem" in cf
    # sendmail loads only the first certificate of ServerCertFile: OpenSSL sends the intermediates of its
    # CACertFile (no trust anchor there: the CA's root is not in it)
    assert f"O CACertFile={DIR}/fullchain.pem" in cf
    # doveconf -n hides the key's setting: the file names it
    assert f"{DIR}/fullchain.pem" in host.run("doveconf -n").stdout
    assert f"{DIR}/private/privkey.pem" in host.file("/etc/dovecot/dovecot.conf").content_string
    # no second generator: neither role made a certificate of its own
    assert not host.file("/etc/mail/tls/smtpd.crt").exists
    assert not host.file("/etc/dovecot/private/dovecot-server.pem").exists


def test_the_full_chain_is_the_certificate_then_the_chain(host):
    cert = host.file(f"{DIR}/cert.pem").content_string.strip()
    chain = host.file(f"{DIR}/chain.pem").content_string.strip()
    assert chain.startswith("-----BEGIN CERTIFICATE-----")
    assert host.file(f"{DIR}/fullchain.pem").content_string.strip() == cert + "\n" + chain


def test_keys_are_readable_by_root_only(host):
    for path in (f"{DIR}/private/privkey.pem", f"{DIR}/private/acme-account.key"):
        key = host.file(path)
        assert key.mode == 0o600 and key.user == "root", path
    assert host.file(f"{DIR}/private").mode == 0o700


def test_the_challenge_listener_is_gone(host):
    assert host.run("systemctl is-active homelab-mailserver-acme-http").stdout.strip() != "active"
    assert not host.socket("tcp://0.0.0.0:80").is_listening
    assert not host.socket("tcp://:::80").is_listening
    assert host.run("ls -A /run/homelab-mailserver-acme/.well-known/acme-challenge").stdout.strip() == ""


def test_forced_renewal_is_served_on_every_port_without_a_manual_restart(host):
    before, after = recorded(host, "before"), recorded(host, "after")
    old = before["25"]["serial"]
    assert_one_verified_certificate(before, old)
    new = serial(host, f"{DIR}/cert.pem")
    assert new != old
    assert_one_verified_certificate(after, new)
    assert recorded(host, "renewal") == {"certificates_changed": True}


def test_tls_1_2_or_newer_on_every_port(host):
    """tests/harness/tls_probe.py: TLS 1.0 and 1.1 refused (its control proves the client speaks them)."""
    tls_policy.assert_tls_1_2_or_newer(host, PORTS)


SELF = "/var/tmp/selfsigned-proof"


def test_selfsigned_names_the_fqdn_and_lives_398_days_or_fewer(host):
    subject = x509_text(host, f"{SELF}/cert.pem", "-subject", "-nameopt", "RFC2253")
    assert subject.strip() == "subject=CN=bigboy.my-site.com", subject
    san = x509_text(host, f"{SELF}/cert.pem", "-ext", "subjectAltName")
    assert "DNS:bigboy.my-site.com" in san and "DNS:mail.my-site.com" in san, san
    assert days_valid(host, f"{SELF}/cert.pem") <= 398
    assert host.file(f"{SELF}/chain.pem").content_string == ""
    assert host.file(f"{SELF}/fullchain.pem").content_string.strip() == host.file(f"{SELF}/cert.pem").content_string.strip()
    # made on the first run, left alone on the second
    assert recorded(host, "selfsigned") == {"first": True, "second": False}


def test_files_are_installed_with_their_chain(host):
    assert host.file("/var/tmp/files-proof/fullchain.pem").content_string == host.file(f"{DIR}/fullchain.pem").content_string
    assert host.file("/var/tmp/files-proof/private/privkey.pem").mode == 0o600


def test_files_with_a_key_of_another_certificate_are_refused_before_anything_is_installed(host):
    failure = recorded(host, "files")["failure"]
    assert "certificates_files_cert" in failure and "not the certificate of the private key" in failure, failure
    assert not host.file("/var/tmp/files-refused/cert.pem").exists
    assert not host.file("/var/tmp/files-refused/private/privkey.pem").exists

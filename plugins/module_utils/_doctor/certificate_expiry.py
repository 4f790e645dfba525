# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certificate_expiry: every certificate, configured and served on each TLS port, is current, names the host
and is not about to expire; every port that listens serves the same one."""

import datetime
import os
import re
import smtplib
import socket
import ssl

from ansible_collections.homelab.mailserver.plugins.module_utils._certificates import OPENSSL_FIELDS, parse_x509, uncovered
from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, read_text, result

NAME = "certificate_expiry"
# datetime.UTC is Python 3.11+; the module also runs on RHEL 9 (Python 3.9).
UTC = datetime.timezone.utc  # noqa: UP017
# The mail server's TLS ports: sendmail's SMTP (STARTTLS), submission (STARTTLS) and SMTPS, Dovecot's IMAPS and POP3S.
TLS_PORTS = ((25, True), (587, True), (465, False), (993, False), (995, False))


def dovecot_certificates(run, doveconf):
    """The certificate Dovecot is configured with: ssl_server_cert_file (2.4) or ssl_cert (2.3)."""
    for setting in ("ssl_server_cert_file", "ssl_cert"):
        rc, out, _err = run([doveconf, "-h", setting])
        if rc == 0:
            path = out.strip().lstrip("<").strip()
            return [path] if path else []
    return []


def sendmail_certificates(sendmail_cf):
    """The certificate of ``O ServerCertFile=`` in sendmail.cf."""
    found = re.search(r"^O ServerCertFile=(\S+)", read_text(sendmail_cf) or "", re.MULTILINE)
    return [found.group(1)] if found else []


def served_certificate(address, port, starttls, timeout):
    """(PEM text, '') of the certificate PORT serves (after STARTTLS on SMTP ports), or (None, why not)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the certificate is read here, and judged by the checks below
    try:
        if starttls:
            client = smtplib.SMTP(address, port, timeout=timeout)
            try:
                client.ehlo()
                if not client.has_extn("starttls"):
                    return None, "offers no STARTTLS"
                client.starttls(context=ctx)
                der = client.sock.getpeercert(binary_form=True)
            finally:
                try:
                    client.quit()
                except (OSError, smtplib.SMTPException):
                    client.close()
        else:
            with socket.create_connection((address, port), timeout=timeout) as raw, ctx.wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
    except ConnectionRefusedError:
        return None, "not listening"
    except (OSError, ssl.SSLError, smtplib.SMTPException) as exc:
        return None, "no TLS handshake: %s" % exc
    return ssl.DER_cert_to_PEM_cert(der), ""


def _inspect(run, openssl, path=None, pem=None):
    """(fields of parse_x509, why unreadable or '')."""
    argv = [openssl, "x509", "-noout"] + OPENSSL_FIELDS + (["-in", path] if path else [])
    rc, out, err = run(argv, data=pem)
    fields = parse_x509(out)
    if rc != 0 or not fields["not_after"]:
        if path and not os.path.exists(path):
            return None, "does not exist"
        return None, "openssl cannot read it (rc %s): %s" % (rc, ((err or out).strip().splitlines() or [""])[0])
    return fields, ""


def days_left(not_after, now):
    """Whole days from NOW until openssl's notAfter text ('Jan  1 00:00:00 2030 GMT'); None when unreadable."""
    try:
        when = datetime.datetime.strptime(" ".join(not_after.split()[:4]), "%b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return (when.replace(tzinfo=UTC) - now).days


def served_days_left(address, port, timeout, run, openssl, now=None):
    """(days, text) of the certificate PORT (one of TLS_PORTS) serves on ADDRESS: the days it has left and its
    serial and end date; (None, why not) when the port gives no certificate that openssl can read.
    The watch role's script runs this on the host (roles/watch), with the run of its own."""
    pem, why = served_certificate(address, port, dict(TLS_PORTS)[port], timeout)
    if not pem:
        return None, why
    fields, why = _inspect(run, openssl, pem=pem)
    if not fields:
        return None, why
    days = days_left(fields["not_after"], now or datetime.datetime.now(UTC))
    if days is None:
        return None, "notAfter %r unreadable" % fields["not_after"]
    return days, "serial %s, expires %s, in %d days" % (fields["serial"], fields["not_after"], days)


def _judge(fields, fqdn, now, warn_days):
    """(ok, text): days left and whether the names cover FQDN."""
    end = fields["not_after"]
    days = days_left(end, now)
    if days is None:
        return False, "notAfter %r unreadable" % end
    ok = days >= warn_days
    note = "expired" if days < 0 else "fewer than %d days left" % warn_days if days < warn_days else "ok"
    text = "expires %s, in %d days (%s)" % (end, days, note)
    if fqdn:
        names = fields["dns_names"] or ([fields["subject_cn"]] if fields["subject_cn"] else [])
        if uncovered(["DNS:" + name for name in names], [fqdn]):
            ok = False
            text += "; does not name %s (names: %s)" % (fqdn, ", ".join(names) or "none")
    return ok, text


def check(certificates, run, openssl, warn_days=30, now=None, fqdn="", served=None):
    """Each configured certificate and each certificate SERVED ({port: (pem, why)}): expiry, name, one current."""
    served = served or {}
    listening = {port: pem for port, (pem, _why) in served.items() if pem}
    if not certificates and not listening:
        return result(NAME, None, "no certificate configured or served")
    if not openssl:
        return result(NAME, None, "openssl is not installed")
    now = now or datetime.datetime.now(UTC)
    lines, ok, files = [], True, {}
    for path in certificates:
        fields, why = _inspect(run, openssl, path=path)
        if not fields:
            ok = False
            lines.append("%s: %s" % (path, why))
            continue
        files[fields["fingerprint"]] = path
        good, text = _judge(fields, fqdn, now, warn_days)
        ok = ok and good
        lines.append("%s: %s" % (path, text))
    fingerprints = {}
    for port, (pem, why) in sorted(served.items()):
        if not pem:
            if why != "not listening":
                ok = False
            lines.append("port %d: %s" % (port, why))
            continue
        fields, why = _inspect(run, openssl, pem=pem)
        if not fields:
            ok = False
            lines.append("port %d: %s" % (port, why))
            continue
        fingerprints[port] = fields["fingerprint"]
        good, text = _judge(fields, fqdn, now, warn_days)
        if files and fields["fingerprint"] not in files:
            good = False
            text += "; not the certificate of %s: restart or reload the daemon" % " or ".join(sorted(set(files.values())))
        ok = ok and good
        lines.append("port %d: serial %s, %s" % (port, fields["serial"], text))
    if len(set(fingerprints.values())) > 1:
        ok = False
        lines.append("the ports serve different certificates: %s" % ", ".join(
            "%d %s" % (port, fp[:23]) for port, fp in sorted(fingerprints.items())))
    elif fingerprints:
        lines.append("ports %s serve the same certificate" % ", ".join(str(p) for p in sorted(fingerprints)))
    return result(NAME, ok, "\n".join(lines))


def _run(i):
    certificates = i.certificates or (
        (dovecot_certificates(i.run, i.doveconf) if i.doveconf else []) + sendmail_certificates(i.sendmail_cf))
    served = {port: served_certificate(i.smtp_address, port, starttls, i.timeout) for port, starttls in TLS_PORTS}
    return check(list(dict.fromkeys(certificates)), i.run, i.tool("openssl"), i.cert_warn_days, fqdn=i.fqdn,
                 served=served)


CHECK = Check(
    name=NAME,
    sections=("Configuring SSL Certificates for POP3S and IMAPS",),
    doc="Runs openssl x509 on each certificate: the certificates option, else Dovecot's (ssl_server_cert_file on"
        " 2.4, ssl_cert on 2.3) and sendmail's (ServerCertFile in sendmail.cf), and on the one each TLS port of"
        " smtp_address serves (25 and 587 after STARTTLS, 465, 993, 995; a port that does not listen is left out)."
        " OK when each has at least cert_warn_days (30) days left and names the FQDN (subjectAltName, else CN), every"
        " listening port serves the same certificate, and it is the current one of a configured file (a daemon not"
        " restarted after a renewal serves the old one); a certificate that is missing or unreadable is a FAIL."
        " Undecided without any certificate or without openssl.",
    inputs=("certificates", "doveconf", "run", "sendmail_cf", "tool", "cert_warn_days", "fqdn", "smtp_address",
            "timeout"),
    run=_run,
)

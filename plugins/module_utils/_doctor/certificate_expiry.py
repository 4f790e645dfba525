# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certificate_expiry: the certificates of Dovecot and sendmail are not about to expire."""

import datetime
import os
import re

from ansible_collections.homelab.mailserver.plugins.module_utils._doctor._common import Check, read_text, result

NAME = "certificate_expiry"
# datetime.UTC is Python 3.11+; the module also runs on RHEL 9 (Python 3.9).
UTC = datetime.timezone.utc  # noqa: UP017


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


def check(certificates, run, openssl, warn_days=30, now=None):
    """Days until each certificate's notAfter (openssl x509 -enddate)."""
    if not certificates:
        return result(NAME, None, "no certificate configured")
    if not openssl:
        return result(NAME, None, "openssl is not installed")
    now = now or datetime.datetime.now(UTC)
    lines, ok = [], True
    for path in certificates:
        rc, out, err = run([openssl, "x509", "-enddate", "-noout", "-in", path])
        end = out.strip().partition("notAfter=")[2]
        try:
            when = datetime.datetime.strptime(" ".join(end.split()[:4]), "%b %d %H:%M:%S %Y")
        except ValueError:
            ok = False
            why = "does not exist" if not os.path.exists(path) else "openssl cannot read it (rc %s): %s" % (
                rc, ((err or out).strip().splitlines() or [""])[0])
            lines.append("%s: %s" % (path, why))
            continue
        days = (when.replace(tzinfo=UTC) - now).days
        ok = ok and days >= warn_days
        note = "expired" if days < 0 else "fewer than %d days left" % warn_days if days < warn_days else "ok"
        lines.append("%s: expires %s, in %d days (%s)" % (path, end, days, note))
    return result(NAME, ok, "\n".join(lines))


def _run(i):
    certificates = i.certificates or (
        (dovecot_certificates(i.run, i.doveconf) if i.doveconf else []) + sendmail_certificates(i.sendmail_cf))
    return check(certificates, i.run, i.tool("openssl"), i.cert_warn_days)


CHECK = Check(
    name=NAME,
    sections=("Configuring SSL Certificates for POP3S and IMAPS",),
    doc="Runs openssl x509 -enddate -noout -in on each certificate: the certificates option, else Dovecot's"
        " (ssl_server_cert_file on 2.4, ssl_cert on 2.3) and sendmail's (ServerCertFile in sendmail.cf). OK when"
        " each has at least cert_warn_days (30) days left; a certificate that is missing or unreadable is a FAIL."
        " Undecided without a certificate or without openssl.",
    inputs=("certificates", "doveconf", "run", "sendmail_cf", "tool", "cert_warn_days"),
    run=_run,
)

# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a server certificate's names cover, and what `openssl x509` says about one; pure functions.

``covers(name, host)``            the certificate name NAME (``mail.example.com`` or ``*.example.com``)
                                  matches the host name HOST (RFC 6125: a wildcard is one whole left-most label)
``uncovered(alt_names, hosts)``   the HOSTS that no ``DNS:`` entry of ALT_NAMES covers
``OPENSSL_FIELDS``                the options of ``openssl x509 -noout`` that ``parse_x509`` reads
``parse_x509(text)``              {not_after, serial, fingerprint, subject_cn, dns_names} from their output
"""

from __future__ import annotations

import re

OPENSSL_FIELDS = ["-enddate", "-serial", "-fingerprint", "-sha256", "-subject", "-nameopt", "RFC2253",
                  "-ext", "subjectAltName"]


def covers(name, host):
    """True when the certificate name NAME (maybe a wildcard *.domain) matches the host name HOST."""
    if not isinstance(name, str) or not isinstance(host, str) or not name or not host:
        return False
    name, host = name.lower().rstrip("."), host.lower().rstrip(".")
    if name.startswith("*."):
        head, _dot, rest = host.partition(".")
        return bool(head) and bool(rest) and rest == name[2:]
    return name == host


def uncovered(alt_names, hosts):
    """The host names of HOSTS that no ``DNS:`` entry of ALT_NAMES (``['DNS:a', 'IP:...']``) covers."""
    dns = [entry[4:] for entry in alt_names or [] if isinstance(entry, str) and entry.startswith("DNS:")]
    return [host for host in hosts or [] if not any(covers(entry, host) for entry in dns)]


def parse_x509(text):
    """The fields of `openssl x509 -noout` + OPENSSL_FIELDS output; a field openssl did not print is ''."""
    out = {"not_after": "", "serial": "", "fingerprint": "", "subject_cn": "", "dns_names": []}
    lines = (text or "").splitlines()
    for index, line in enumerate(lines):
        key, _sep, value = line.partition("=")
        if key == "notAfter":
            out["not_after"] = value.strip()
        elif key == "serial":
            out["serial"] = value.strip().upper()
        elif key.endswith("Fingerprint"):
            out["fingerprint"] = value.strip().upper()
        elif key == "subject":
            found = re.search(r"(?:^|,)CN=((?:[^,\\]|\\.)*)", value)
            out["subject_cn"] = found.group(1) if found else ""
        elif line.strip().startswith("X509v3 Subject Alternative Name"):
            names = lines[index + 1] if index + 1 < len(lines) else ""
            out["dns_names"] = [part.strip()[4:] for part in names.split(",") if part.strip().startswith("DNS:")]
    return out

# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificates role's variables, every value checked before anything changes on the host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V
from ansible_collections.homelab.mailserver.plugins.module_utils._certificates import uncovered

# Documentation: certificates_checks.yml beside this file (ansible-doc -t filter homelab.mailserver.certificates_checks).

# Kinds _validate.py does not have, kept here: an https URL (the ACME directory), a certificate name
# (a host name, or a wildcard *.host.name), a number of days in a range, a systemd unit name, and
# the subject fields of a self-signed certificate.
SOURCES = ("selfsigned", "acme", "files")
SERVICE_STATES = ("restarted", "reloaded")
SUBJECT_FIELDS = ("C", "ST", "L", "O", "OU", "CN", "emailAddress")
MAX_DAYS = 3650
# what CA/Browser Forum baseline requirements (and testssl.sh) accept for a server certificate
BROWSER_DAYS = 398
UNIT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.@-]{0,254}")
URL_HOST_RE = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
URL_PATH_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")
SUBJECT_TEXT_RE = re.compile(r"[A-Za-z0-9 .,'()+:/?@_-]{1,64}")

VALID_SOURCE = " or ".join(SOURCES)
VALID_URL = "an https URL such as https://acme-v02.api.letsencrypt.org/directory (host, optional port and path)"
VALID_NAME = "a host name (mail.example.com), or a wildcard *. followed by one (*.example.com)"
VALID_NAMES = "a list of " + VALID_NAME.replace("a host name", "host names", 1)
VALID_DAYS = f"a whole number of days, 1-{MAX_DAYS} (an integer)"
VALID_SERVICES = ("a list of services, each a dictionary {name: <systemd unit, e.g. sendmail>, "
                  "state: restarted or reloaded}")
VALID_SUBJECT = ("a dictionary of subject fields (" + ", ".join(SUBJECT_FIELDS)
                 + "), each 1-64 letters, digits, spaces and . , ' ( ) + : / ? @ _ -; C two letters")
VALID_BOOL = "true or false (a boolean)"
VALID_PEM = "PEM text (-----BEGIN ...-----) on several lines"


def is_https_url(value):
    """An https URL with a host, optional port and path, without user info, query or fragment."""
    if not V.is_str(value) or not V.one_line(value) or " " in value:
        return False
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or parts.username or parts.password or parts.query or parts.fragment:
        return False
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host[: host.rfind(":")] if port is not None else host
    return bool(URL_HOST_RE.fullmatch(host)) and (port is None or 0 < port < 65536) \
        and bool(URL_PATH_RE.fullmatch(parts.path))


def is_cert_name(value):
    """A name a server certificate can carry: an FQDN or *.FQDN (no trailing dot)."""
    if not V.is_str(value):
        return False
    name = value[2:] if value.startswith("*.") else value
    return V.is_fqdn(name) and not name.endswith(".")


def _days(where, value, errors, limit=MAX_DAYS):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        errors.add(where, value, VALID_DAYS)
        return False
    return True


def _bool(where, value, errors):
    if not isinstance(value, bool):
        errors.add(where, value, VALID_BOOL)


def _names(where, value, errors):
    if not isinstance(value, list):
        errors.add(where, value, VALID_NAMES)
        return
    for index, name in enumerate(value):
        if not is_cert_name(name):
            errors.add(f"{where}[{index}]", name, VALID_NAME)


def _path(where, value, errors, required=True):
    if value == "" and not required:
        return
    errors.check(V.check_abs_path, value, where)


def _services(where, value, errors):
    if not isinstance(value, list):
        errors.add(where, value, VALID_SERVICES)
        return
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) != {"name", "state"}:
            errors.add(f"{where}[{index}]", entry, VALID_SERVICES)
            continue
        if not V.is_str(entry["name"]) or not UNIT_RE.fullmatch(entry["name"]):
            errors.add(f"{where}[{index}].name", entry["name"], "a systemd unit name (letters, digits, : _ . @ -)")
        if entry["state"] not in SERVICE_STATES:
            errors.add(f"{where}[{index}].state", entry["state"], " or ".join(SERVICE_STATES))


def _subject(where, value, errors):
    if not isinstance(value, dict):
        errors.add(where, value, VALID_SUBJECT)
        return
    for key, text in value.items():
        if key not in SUBJECT_FIELDS:
            errors.add(f"{where}.{key}", text, VALID_SUBJECT)
        elif key == "emailAddress":
            errors.check(V.check_mail_address, text, f"{where}.{key}")
        elif key == "CN":
            if not is_cert_name(text):
                errors.add(f"{where}.{key}", text, VALID_NAME)
        elif not V.is_str(text) or not SUBJECT_TEXT_RE.fullmatch(text) or (key == "C" and not re.fullmatch(r"[A-Z]{2}", text)):
            errors.add(f"{where}.{key}", text, VALID_SUBJECT)


def _pem(where, value, errors):
    if value == "":
        return
    if not V.is_str(value) or "-----BEGIN " not in value or "-----END " not in value:
        errors.add(where, "<not shown>" if "KEY" in where.upper() else value, VALID_PEM)


def certificates_checks(config):
    """Return the list of problems with the certificates role's variables (empty: all valid)."""
    errors = V.Problems()
    if not isinstance(config, dict):
        return [V.problem("certificates_checks input", config, "a dictionary of the certificates_* variables")]
    source = config.get("certificates_source")
    if source not in SOURCES:
        errors.add("certificates_source", source, VALID_SOURCE)
    fqdn = config.get("fqdn")
    if not V.is_fqdn(fqdn):
        errors.add("the host's FQDN (ansible_facts.fqdn)", fqdn,
                   V.VALID_FQDN + "; set it with the resolver role or /etc/hosts")
    _names("certificates_names", config.get("certificates_names", []), errors)
    days_ok = _days("certificates_days", config.get("certificates_days"), errors)
    _days("certificates_renew_days", config.get("certificates_renew_days"), errors)
    _bool("certificates_force_renew", config.get("certificates_force_renew"), errors)
    _bool("certificates_allow_long_lifetime", config.get("certificates_allow_long_lifetime", False), errors)
    if days_ok and source == "selfsigned" and config.get("certificates_days") > BROWSER_DAYS \
            and config.get("certificates_allow_long_lifetime") is not True:
        errors.add("certificates_days", config.get("certificates_days"),
                   f"{BROWSER_DAYS} days or fewer (audits rate a longer server certificate as too long); "
                   "set certificates_allow_long_lifetime: true to keep a longer one")
    if not V.is_file_mode(config.get("certificates_key_dir_mode")):
        errors.add("certificates_key_dir_mode", config.get("certificates_key_dir_mode"), V.VALID_FILE_MODE)
    _subject("certificates_subject", config.get("certificates_subject", {}), errors)
    for name in ("certificates_cert_path", "certificates_key_path"):
        _path(name, config.get(name), errors)
    for name in ("certificates_chain_path", "certificates_fullchain_path"):
        _path(name, config.get(name), errors, required=False)
    paths = [config.get(n) for n in ("certificates_cert_path", "certificates_key_path", "certificates_chain_path",
                                     "certificates_fullchain_path") if V.is_str(config.get(n)) and config.get(n)]
    if len(set(paths)) != len(paths):
        errors.add("certificates_*_path", paths, "a different file for each of the certificate, key, chain and full chain")
    _services("certificates_dependent_services", config.get("certificates_dependent_services", []), errors)
    _services("certificates_services", config.get("certificates_services", []), errors)
    if source == "acme":
        if not is_https_url(config.get("certificates_acme_directory")):
            errors.add("certificates_acme_directory", config.get("certificates_acme_directory"), VALID_URL)
        email = config.get("certificates_acme_email")
        if email != "":
            errors.check(V.check_mail_address, email, "certificates_acme_email")
        if config.get("certificates_acme_terms_agreed") is not True:
            errors.add("certificates_acme_terms_agreed", config.get("certificates_acme_terms_agreed"),
                       "true: read the ACME CA's terms of service and agree to them, or the CA issues nothing")
        _path("certificates_acme_ca_bundle", config.get("certificates_acme_ca_bundle"), errors, required=False)
        _path("certificates_acme_webroot", config.get("certificates_acme_webroot"), errors, required=False)
        _path("certificates_acme_account_key_path", config.get("certificates_acme_account_key_path"), errors)
        if any(str(n).startswith("*.") for n in config.get("certificates_names") or [] if V.is_str(n)):
            errors.add("certificates_names", config.get("certificates_names"),
                       "names without a wildcard with certificates_source: acme (HTTP-01 cannot prove *.domain)")
    if source == "files":
        for kind in ("cert", "key", "chain"):
            path, content = config.get(f"certificates_files_{kind}"), config.get(f"certificates_files_{kind}_content")
            _path(f"certificates_files_{kind}", path, errors, required=False)
            _pem(f"certificates_files_{kind}_content", content, errors)
            if path and content:
                errors.add(f"certificates_files_{kind}", path,
                           f"empty while certificates_files_{kind}_content is set: give the file or its content, not both")
            if kind != "chain" and not path and not content:
                errors.add(f"certificates_files_{kind}", path,
                           f"the path of the {'certificate' if kind == 'cert' else 'private key'} on the host, "
                           f"or its PEM text in certificates_files_{kind}_content (certificates_source: files)")
    return list(errors)


def certificates_uncovered(subject_alt_names, names):
    """The names of NAMES that no DNS entry of SUBJECT_ALT_NAMES (x509_certificate_info's list) covers."""
    return uncovered(subject_alt_names, names)


class FilterModule:
    """homelab.mailserver certificates filters."""

    def filters(self):
        return {"certificates_checks": certificates_checks, "certificates_uncovered": certificates_uncovered}

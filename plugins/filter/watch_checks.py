# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch role's settings file from its variables, every value checked before anything changes."""

from __future__ import annotations

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: watch_config.yml beside this file (ansible-doc -t filter homelab.mailserver.watch_config).

# The ports the doctor's certificate check knows (module_utils/_doctor/certificate_expiry.py TLS_PORTS):
# STARTTLS on 25 and 587, TLS from the first byte on 465, 993 and 995.
TLS_PORTS = (25, 465, 587, 993, 995)
# The address the watch connects to: the server itself, over loopback.
TLS_ADDRESS = "127.0.0.1"

VALID_RECIPIENT = ("an address (postmaster@example.com) or a local name that the aliases resolve (postmaster, "
                   "root): " + V.VALID_LOCAL_PART)
VALID_COUNT = "a whole number, 0 or more (an integer, or text of the digits 0-9)"
VALID_PERCENT = "a whole number of percent, 0 to 100"
VALID_HOURS = "a whole number of hours, 1 or more"
VALID_INTERVAL = V.VALID_DURATION + ", at least 1m"
VALID_TLS_PORTS = "a list of the mail server's TLS ports, each at most once: " + ", ".join(str(p) for p in TLS_PORTS)
VALID_PATHS = "a list of absolute paths (" + V.VALID_ABS_PATH + ")"
VALID_UNITS = "a list of systemd unit names (sendmail, dovecot, opendkim.service): letters, digits and _ . @ -"
VALID_IPV4 = "a list of IPv4 addresses (DNSBLs list IPv4 addresses by their reversed octets): 192.0.2.25"
VALID_ZONES = "a list of DNSBL zones: " + V.VALID_DNSBL_ZONE
VALID_STATUS_FILE = "empty (the check is skipped), or " + V.VALID_ABS_PATH


def is_recipient(value):
    return V.is_mail_address(value) or V.is_local_part(value)


def is_path(value):
    """An absolute path of the portable characters, not / and without '..' (the paths the script reads)."""
    return V.is_abs_path(value) and value.rstrip("/") != "" and "/../" not in value + "/"


def _count(where, value, errors, least=0, most=None, valid=VALID_COUNT):
    if V.is_count(value) and int(value) >= least and (most is None or int(value) <= most):
        return int(value)
    errors.add(where, value, valid)
    return None


def _path(where, value, errors, empty_ok=False):
    if empty_ok and value == "":
        return ""
    if is_path(value):
        return value.rstrip("/")
    errors.add(where, value, VALID_STATUS_FILE if empty_ok else V.VALID_ABS_PATH)
    return None


def watch_config(settings):
    """Return {config, errors}: the settings file of homelab-mailserver-watch, and what is wrong with the variables.

    SETTINGS uses the role's variable names without the watch_ prefix, with the role's internal values
    (state_file, module_utils_path, sendmail, log_identifiers, timeout).
    """
    errors = V.Problems()
    if not isinstance(settings, dict):
        return {"config": {}, "errors": [V.problem("watch_config input", settings, "a dictionary of the settings")]}
    config = {}
    interval = V.duration_seconds(settings.get("interval"))
    if interval is None or interval < 60:
        errors.add("watch_interval", settings.get("interval"), VALID_INTERVAL)
    config["interval_seconds"] = interval
    for name in ("alert_to", "summary_to"):
        value = settings.get(name)
        if is_recipient(value):
            config[name] = value
        else:
            errors.add(f"watch_{name}", value, VALID_RECIPIENT)
    config["summary_enabled"] = settings.get("summary_enabled") is True
    if not isinstance(settings.get("summary_enabled"), bool):
        errors.add("watch_summary_enabled", settings.get("summary_enabled"), "true or false")
    max_age = V.duration_seconds(settings.get("queue_max_age"))
    if max_age is None:
        errors.add("watch_queue_max_age", settings.get("queue_max_age"), V.VALID_DURATION)
    config["queue"] = {"dir": _path("watch_queue_dir", settings.get("queue_dir"), errors),
                       "max_messages": _count("watch_queue_max_messages", settings.get("queue_max_messages"), errors),
                       "max_age_seconds": max_age}
    config["tls"] = {"address": TLS_ADDRESS,
                     "ports": errors.items("watch_tls_ports", settings.get("tls_ports"),
                                           lambda p: V.is_port(p) and p in TLS_PORTS, VALID_TLS_PORTS),
                     "min_days": _count("watch_cert_min_days", settings.get("cert_min_days"), errors),
                     "timeout": _count("watch_config input timeout", settings.get("timeout"), errors, least=1)}
    services = errors.items("watch_services", settings.get("services"), V.is_systemd_unit, VALID_UNITS)
    dependent = errors.items("watch_dependent_services", settings.get("dependent_services"), V.is_systemd_unit,
                             VALID_UNITS)
    config["services"] = services + [unit for unit in dependent if unit not in services]
    config["disk"] = {"paths": errors.items("watch_disk_paths", settings.get("disk_paths"), is_path, VALID_PATHS),
                      "min_free_percent": _count("watch_disk_min_free_percent", settings.get("disk_min_free_percent"),
                                                 errors, most=100, valid=VALID_PERCENT)}
    config["dnsbl"] = {"addresses": errors.items("watch_dnsbl_addresses", settings.get("dnsbl_addresses"),
                                                 lambda a: V.is_ip_address(a) and ":" not in a, VALID_IPV4),
                       "zones": errors.items("watch_dnsbl_zones", settings.get("dnsbl_zones"), V.is_dnsbl_zone,
                                             VALID_ZONES)}
    config["backup"] = {"status_file": _path("watch_backup_status_file", settings.get("backup_status_file"), errors,
                                             empty_ok=True),
                        "max_age_hours": _count("watch_backup_max_age_hours", settings.get("backup_max_age_hours"),
                                                errors, least=1, valid=VALID_HOURS)}
    for key in ("state_file", "module_utils_path"):
        config[key] = _path(f"watch_config input {key}", settings.get(key), errors)
    sendmail = settings.get("sendmail")
    if isinstance(sendmail, list) and sendmail and V.is_abs_path(sendmail[0]) and all(V.is_message(a) for a in sendmail):
        config["sendmail"] = list(sendmail)
    else:
        errors.add("watch_config input sendmail", sendmail, "a command: an absolute path, then its arguments")
    identifiers = settings.get("log_identifiers")
    groups = ("mta", "spam", "greylist", "junk")
    if isinstance(identifiers, dict) and set(identifiers) == set(groups):
        config["log_identifiers"] = {group: errors.items(f"watch_config input log_identifiers.{group}", identifiers[group],
                                                         V.is_systemd_unit, VALID_UNITS) for group in groups}
    else:
        errors.add("watch_config input log_identifiers", identifiers, "a dictionary of lists: " + ", ".join(groups))
    if errors:
        return {"config": {}, "errors": list(errors)}
    return {"config": config, "errors": []}


class FilterModule:
    """homelab.mailserver watch filters."""

    def filters(self):
        return {"watch_config": watch_config}

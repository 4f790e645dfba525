# Copyright: homelab.mailserver contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup role's settings file from its variables, every value checked before anything changes."""

from __future__ import annotations

import re

from ansible_collections.homelab.mailserver.plugins.module_utils import _validate as V

# Documentation: backup_config.yml beside this file (ansible-doc -t filter homelab.mailserver.backup_config).

# Kinds _validate.py does not have, kept here: restic's repository (a path on the host or sftp), a systemd
# calendar expression (OnCalendar=; the role checks it again with systemd-analyze calendar), a process name,
# a restic snapshot id, and the retention counts with at least one of them above 0. Unit names and durations
# are _validate's (systemd_unit, duration_seconds), shared with the watch role's filter.
# The shapes restic's sftp backend reads: sftp:[user@]host:/path and sftp://[user@]host[:port]//path.
SFTP_RE = re.compile(r"sftp:(?:([a-z_][a-z0-9_.-]{0,31})@)?([^:/@\[\]]+|\[[0-9A-Fa-f:.]+\]):(/[A-Za-z0-9._+/-]*)")
SFTP_URL_RE = re.compile(r"sftp://(?:([a-z_][a-z0-9_.-]{0,31})@)?([^:/@\[\]]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?/(/?[A-Za-z0-9._+/-]*)")
CALENDAR_RE = re.compile(r"[A-Za-z0-9*:,./~ -]{1,100}")
UNIT_RE = V.SYSTEMD_UNIT_RE
PROCESS_RE = re.compile(r"[A-Za-z0-9._-]{1,15}")
SNAPSHOT_RE = re.compile(r"latest|[0-9a-f]{8,64}")
KEEP = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
PATH_KINDS = ("mail", "queue", "keys", "config", "bayes", "extra")

VALID_REPOSITORY = ("a restic repository: an absolute path on the host (/var/backups/homelab-mailserver/restic), "
                    "sftp:[user@]host:/path or sftp://[user@]host[:port]//path (path characters as for an absolute path)")
VALID_PASSWORD = "the repository's password: one line of text, at least 8 characters (from the vault)"
VALID_PATHS = "a list of absolute paths (" + V.VALID_ABS_PATH + "), not / itself"
VALID_CALENDAR = ("a systemd calendar expression (OnCalendar=): daily, weekly, *-*-* 03:30:00, Mon..Fri 22:00; "
                  "letters, digits and * : , . / ~ - and spaces, one line")
VALID_KEEP = "a whole number, 0 or more (an integer, or text of the digits 0-9); 0 keeps none by that rule"
VALID_KEEP_ANY = "at least one of backup_keep_* above 0 (otherwise restic forget would keep no snapshot by rule)"
VALID_UNITS = "a list of systemd unit names (sendmail, dovecot, opendkim.service): letters, digits and _ . @ -"
VALID_PROCESSES = "a list of process names as /proc/PID/comm shows them (procmail): 1-15 letters, digits, '.', '_', '-'"
VALID_SNAPSHOT = "latest, or a restic snapshot id (8 to 64 lower-case hexadecimal digits, as restic snapshots shows)"
VALID_TIMEOUT = "a whole number of seconds, 1 or more"


# The seconds of a valid duration ('1h30m' -> 5400); None when VALUE is not one.
seconds = V.duration_seconds


def is_repository(value):
    if not V.is_str(value):
        return False
    if value.startswith("sftp://"):
        match = SFTP_URL_RE.fullmatch(value)
        host = match.group(2) if match else ""
        port_ok = match is not None and (match.group(3) is None or 0 < int(match.group(3)) < 65536)
        return port_ok and (V.is_hostname(host) or V.is_ip_address(host.strip("[]")))
    if value.startswith("sftp:"):
        match = SFTP_RE.fullmatch(value)
        return match is not None and (V.is_hostname(match.group(2)) or V.is_ip_address(match.group(2).strip("[]")))
    return V.is_abs_path(value) and value.rstrip("/") != "" and "/../" not in value + "/"


def is_calendar(value):
    return V.is_str(value) and CALENDAR_RE.fullmatch(value) is not None and value.strip() == value


def is_snapshot(value):
    return V.is_str(value) and SNAPSHOT_RE.fullmatch(value) is not None


def _paths(where, value, errors):
    if not isinstance(value, list):
        errors.add(where, value, VALID_PATHS)
        return []
    out = []
    for index, item in enumerate(value):
        if not V.is_abs_path(item) or item.rstrip("/") == "" or "/../" in item + "/" or "/./" in item + "/":
            errors.add(f"{where}[{index}]", item, VALID_PATHS)
        elif item.rstrip("/") not in out:
            out.append(item.rstrip("/"))
    return out


def _names(where, value, pattern, valid, errors):
    return errors.items(where, value, lambda item: V.is_str(item) and pattern.fullmatch(item) is not None, valid)


def _path(where, value, errors):
    if V.is_abs_path(value) and value.rstrip("/") != "" and "/../" not in value + "/" and not value.endswith("/"):
        return value
    errors.add(where, value, V.VALID_ABS_PATH)
    return None


def backup_config(settings):
    """Return {config, errors}: the settings file of homelab-mailserver-backup, and what is wrong with the variables.

    SETTINGS uses the role's variable names without the backup_ prefix. The password is checked but never put
    in an error (it is named, its value is not) nor in the settings file (the role writes it to its own file).
    """
    errors = V.Problems()
    if not isinstance(settings, dict):
        return {"config": {}, "errors": [V.problem("backup_config input", settings, "a dictionary of the settings")]}
    config = {}
    repository = settings.get("repository")
    if is_repository(repository):
        config["repository"] = repository
    else:
        errors.add("backup_repository", repository, VALID_REPOSITORY)
    password = settings.get("password")
    if not (V.is_message(password) and len(password) >= 8):
        errors.append("backup_password: (not shown) is not valid: " + VALID_PASSWORD)
    config["paths"] = {kind: _paths(f"backup_{'mailbox' if kind == 'mail' else kind}_paths",
                                    settings.get(f"{kind}_paths"), errors) for kind in PATH_KINDS}
    keep = {}
    for rule in KEEP:
        value = settings.get(f"keep_{rule}", 0)
        if V.is_count(value):
            keep[rule] = int(value)
        else:
            errors.add(f"backup_keep_{rule}", value, VALID_KEEP)
    if len(keep) == len(KEEP) and not any(keep.values()):
        errors.add("backup_keep_daily", settings.get("keep_daily"), VALID_KEEP_ANY)
    config["keep"] = keep
    schedule = settings.get("schedule")
    if is_calendar(schedule):
        config["schedule"] = schedule
    else:
        errors.add("backup_schedule", schedule, VALID_CALENDAR)
    delay = seconds(settings.get("randomized_delay"))
    if delay is None:
        errors.add("backup_randomized_delay", settings.get("randomized_delay"), V.VALID_DURATION)
    config["randomized_delay_seconds"] = delay
    config["pause_services"] = _names("backup_pause_services", settings.get("pause_services"), UNIT_RE, VALID_UNITS, errors)
    config["restart_services"] = _names("backup_restart_services", settings.get("restart_services"), UNIT_RE,
                                        VALID_UNITS, errors)
    config["settle_processes"] = _names("backup_settle_processes", settings.get("settle_processes"), PROCESS_RE,
                                        VALID_PROCESSES, errors)
    timeout = settings.get("pause_timeout")
    if V.is_count(timeout) and int(timeout) >= 1:
        config["pause_timeout"] = int(timeout)
    else:
        errors.add("backup_pause_timeout", timeout, VALID_TIMEOUT)
    for key in ("status_file", "staging_dir"):
        config[key] = _path(f"backup_{key}", settings.get(key), errors)
    if config["status_file"]:
        config["restore_report_file"] = config["status_file"].rsplit("/", 1)[0] + "/restore.last"
    for key in ("password_file", "cache_dir"):
        config[key] = _path(f"backup_config input {key}", settings.get(key), errors)
    snapshot = settings.get("restore_snapshot", "latest")
    if not is_snapshot(snapshot):
        errors.add("backup_restore_snapshot", snapshot, VALID_SNAPSHOT)
    if errors:
        return {"config": {}, "errors": list(errors)}
    return {"config": config, "errors": []}


class FilterModule:
    """homelab.mailserver backup filters."""

    def filters(self):
        return {"backup_config": backup_config}

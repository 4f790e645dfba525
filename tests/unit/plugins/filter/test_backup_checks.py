"""homelab.mailserver.backup_config: the backup role's settings from its variables, bad values named.

Every value reaches the settings file of homelab-mailserver-backup, the systemd timer or restic's
command line: arbitrary text in any variable is refused naming that variable, and the password
is never shown in an error.
"""

from __future__ import annotations

import pytest
from ansible_collections.homelab.mailserver.plugins.filter.backup_checks import (
    FilterModule,
    backup_config,
    is_calendar,
    is_repository,
    seconds,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from role_harness import strings

PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
DANGER = "\n\r\x00\x0b\x85\u2028 '\"$`;|&<>()[]{}#%\\*?~:@=,"
ANY = st.one_of(st.text(max_size=40), st.text(st.sampled_from(list("abc/.-_09" + DANGER)), max_size=40))
VALUES = st.one_of(ANY, st.integers(min_value=-5, max_value=70000), st.booleans(), st.none(), st.lists(ANY, max_size=2))
PASSWORD = "correct horse battery staple"

BASE = {
    "repository": "/var/backups/homelab-mailserver/restic", "password": PASSWORD,
    "mail_paths": ["/var/mail", "/home"], "queue_paths": ["/var/spool/mqueue", "/var/spool/mqueue-client"],
    "keys_paths": ["/etc/dkimkeys", "/etc/mail/tls"], "config_paths": ["/etc/mail"], "bayes_paths": [], "extra_paths": [],
    "keep_last": 0, "keep_hourly": 0, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6, "keep_yearly": 0,
    "schedule": "*-*-* 03:30:00", "randomized_delay": "15m", "pause_services": ["sendmail", "dovecot"],
    "settle_processes": ["procmail", "mail.local"], "pause_timeout": 60, "restart_services": ["opendkim", "dovecot", "sendmail"],
    "status_file": "/var/lib/homelab-mailserver/backup.last", "staging_dir": "/var/backups/homelab-mailserver/restore",
    "restore_snapshot": "latest", "password_file": "/etc/homelab-mailserver/backup.password",
    "cache_dir": "/var/cache/homelab-mailserver/restic",
}
# the role's variable name for each setting
VARIABLE = {key: "backup_" + ("mailbox_paths" if key == "mail_paths" else key) for key in BASE}


def test_registered():
    assert set(FilterModule().filters()) == {"backup_config"}


def test_the_defaults():
    result = backup_config(BASE)
    assert result["errors"] == []
    config = result["config"]
    assert config["repository"] == BASE["repository"]
    assert config["paths"]["mail"] == ["/var/mail", "/home"]
    assert config["keep"] == {"last": 0, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 6, "yearly": 0}
    assert config["randomized_delay_seconds"] == 900
    assert config["restore_report_file"] == "/var/lib/homelab-mailserver/restore.last"
    assert PASSWORD not in repr(config)


@pytest.mark.parametrize("repository", [
    "/srv/restic", "sftp:backup@vault.example.com:/srv/restic/bigboy", "sftp:vault:/r", "sftp:[2001:db8::1]:/r",
    "sftp://backup@vault.example.com:2222//srv/restic", "sftp://vault.example.com/relative/path",
])
def test_good_repositories(repository):
    assert is_repository(repository)
    assert backup_config(dict(BASE, repository=repository))["errors"] == []


@pytest.mark.parametrize("repository", [
    "", "relative/path", "/", "/srv/../etc", "s3:s3.amazonaws.com/bucket", "sftp:host", "sftp:-oProxyCommand=x:/r",
    "sftp:user@host:/r x", "sftp://host:99999//r", "/srv/restic\n/etc", "rest:http://host/", None, 5, ["/srv"],
])
def test_bad_repositories(repository):
    errors = backup_config(dict(BASE, repository=repository))["errors"]
    assert len(errors) == 1 and errors[0].startswith("backup_repository: ") and "is not valid" in errors[0]


@pytest.mark.parametrize("calendar", ["daily", "weekly", "*-*-* 03:30:00", "Mon..Fri 22:00", "*-*-1/2 04:00", "hourly"])
def test_good_calendars(calendar):
    assert is_calendar(calendar)


@pytest.mark.parametrize("calendar", ["", " daily", "daily\nExecStart=/bin/sh", "daily; rm", "$(reboot)", None, 3])
def test_bad_calendars(calendar):
    errors = backup_config(dict(BASE, schedule=calendar))["errors"]
    assert len(errors) == 1 and errors[0].startswith("backup_schedule: ")


@pytest.mark.parametrize(("changes", "start"), [
    ({"mail_paths": ["/var/mail", "home"]}, "backup_mailbox_paths[1]: 'home' is not valid"),
    ({"keys_paths": "/etc/dkimkeys"}, "backup_keys_paths: '/etc/dkimkeys' is not valid"),
    ({"queue_paths": ["/"]}, "backup_queue_paths[0]: '/' is not valid"),
    ({"extra_paths": ["/srv/my files"]}, "backup_extra_paths[0]: '/srv/my files' is not valid"),
    ({"keep_daily": -1}, "backup_keep_daily: -1 is not valid"),
    ({"keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0}, "backup_keep_daily: 0 is not valid: at least one"),
    ({"randomized_delay": "15 minutes"}, "backup_randomized_delay: '15 minutes' is not valid: a duration"),
    ({"pause_services": ["sendmail; reboot"]}, "backup_pause_services[0]: 'sendmail; reboot' is not valid"),
    ({"settle_processes": ["a-very-long-process-name"]}, "backup_settle_processes[0]:"),
    ({"pause_timeout": 0}, "backup_pause_timeout: 0 is not valid"),
    ({"status_file": "/var/lib/x/"}, "backup_status_file: '/var/lib/x/' is not valid"),
    ({"restore_snapshot": "newest"}, "backup_restore_snapshot: 'newest' is not valid"),
    ({"password": "short"}, "backup_password: (not shown) is not valid"),
    ({"password": "two\nlines of it"}, "backup_password: (not shown) is not valid"),
])
def test_bad_values_are_named(changes, start):
    result = backup_config(dict(BASE, **changes))
    assert result["config"] == {}
    assert len(result["errors"]) == 1, result["errors"]
    assert result["errors"][0].startswith(start), result["errors"]


def test_numbers_as_text_and_integers():
    result = backup_config(dict(BASE, keep_daily="14", randomized_delay=600, pause_timeout="30", restore_snapshot="0a1b2c3d"))
    assert result["errors"] == []
    assert result["config"]["keep"]["daily"] == 14
    assert result["config"]["randomized_delay_seconds"] == 600
    assert result["config"]["pause_timeout"] == 30


def test_duplicate_paths_once():
    result = backup_config(dict(BASE, mail_paths=["/var/mail", "/var/mail/", "/home"]))
    assert result["config"]["paths"]["mail"] == ["/var/mail", "/home"]


def test_not_a_dictionary():
    assert backup_config(None)["errors"] == ["backup_config input: None is not valid: a dictionary of the settings"]


@PROPERTY
@given(key=st.sampled_from(sorted(set(BASE) - {"password_file", "cache_dir"})), value=VALUES)
def test_any_value_is_accepted_clean_or_refused_by_name(key, value):
    """Whatever a variable holds: an error naming it (never showing the password), or settings whose
    strings hold no line break, quote, shell or unit-file metacharacter."""
    result = backup_config(dict(BASE, **{key: value}))
    if result["errors"]:
        assert result["config"] == {}
        assert all(error.startswith(VARIABLE[key]) for error in result["errors"]), result["errors"]
        if key == "password":
            assert all(repr(value) not in error for error in result["errors"] if value not in (None, True, False))
        return

    for text in strings(result["config"]):
        assert not set(text) & set("\n\r\x00\x0b\x85\u2028'\"$`;|&<>(){}#%\\="), (key, value, text)


@PROPERTY
@given(value=st.one_of(st.integers(min_value=0, max_value=10**6), st.text(max_size=12)))
def test_seconds_agrees_with_the_duration_rule(value):
    result = seconds(value)
    if result is not None:
        assert result >= 0
        assert backup_config(dict(BASE, randomized_delay=value))["config"]["randomized_delay_seconds"] == result
    else:
        assert backup_config(dict(BASE, randomized_delay=value))["errors"]

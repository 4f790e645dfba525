"""Backup and restore of a mail server, proved with real mail on loopback.

side_effect.yml sent known messages (local ones delivered, remote.example's queued while its
destination was down), backed up (playbooks/backup.yml, then the timer's own service), lost the
host's mailboxes, queue, keys and certificates, converged again, delivered a newer message,
restored twice (playbooks/restore.yml) and brought remote.example up. Its records are in
/var/tmp/backup-scenario/*.json; the mailboxes are read again here, over IMAPS.
"""

from __future__ import annotations

import collections
import json
import pathlib

import pytest
from harness import lab_secrets

SCENARIO = pathlib.Path(__file__).resolve().parents[1]
OUT = "/var/tmp/backup-scenario"
PROBE = "/usr/local/sbin/backup_probe.py"
NEWER = "<backup-newer-1@my-site.com>"


def load(host, name):
    return json.loads(host.file(f"{OUT}/{name}.json").content_string)


@pytest.fixture(scope="module")
def state(host):
    return {name: load(host, name) for name in ("before", "backups", "fresh", "restore1", "after")}


@pytest.fixture(scope="module")
def inbox(host):
    """Every user's INBOX now, fetched over IMAPS on 127.0.0.1:993."""
    result = host.run("python3 %s imap '%s'" % (PROBE, json.dumps({"users": lab_secrets.mail_passwords(("paul", "john1"))})))
    assert result.rc == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["errors"] == {}, data
    return data["ids"]


def test_the_known_messages_were_delivered_or_queued_before_the_backup(state):
    before = state["before"]
    assert all(reply == "accepted" for reply in before["sent"].values()), before["sent"]
    seen = [mid for ids in before["imap"]["ids"].values() for mid in ids]
    assert sorted(set(seen) & set(before["local"])) == sorted(before["local"]), before["imap"]
    queued = {entry["id"] for entry in before["queue"]}
    assert set(before["remote"]) <= queued, before["queue"]


def test_backups_by_playbook_and_timer_recorded(state):
    backups = state["backups"]
    active, enabled, calendar = backups["timer"]
    assert (active, enabled) == ("active", "enabled"), backups["timer"]
    assert "OnCalendar=*-*-* 03:30:00" in calendar, calendar  # backup_schedule's default
    # the playbook's run, then the timer service's run, the same day: the retention keeps the day's last
    # (backup_keep_daily); restic 0.17 and later also keep the oldest while a --keep-monthly count is not
    # reached (Debian 13's 0.18 keeps both, Debian 12's 0.14 one). The newest is the timer run's, child of
    # the playbook's, and backup.last names it (restic 0.14 gives the short id, 0.18 the full one).
    snapshots = sorted(backups["snapshots"], key=lambda s: s["time"])
    assert len(snapshots) in (1, 2), snapshots
    newest = snapshots[-1]
    assert newest.get("parent"), newest
    assert newest["id"].startswith(backups["last"]["snapshot"]) and len(backups["last"]["snapshot"]) >= 8, (newest, backups["last"])
    assert backups["last"]["repository"] == "/var/backups/homelab-mailserver/restic"
    assert backups["password_file"] == "600 root"


def test_the_loss_was_real(state):
    """The converge after the loss made new keys and certificates, and the mailboxes were empty."""
    before, fresh = state["before"]["keys"]["hashes"], state["fresh"]["keys"]["hashes"]
    dkim = [path for path in before if path.endswith(".private")]
    assert dkim, before
    assert all(fresh.get(path) != before[path] for path in dkim), (before, fresh)
    fresh_ids = [mid for ids in state["fresh"]["imap"]["ids"].values() for mid in ids]
    assert fresh_ids == [NEWER], state["fresh"]["imap"]


def test_every_message_restored_once_and_the_newer_one_kept(state, inbox):
    backed_up = state["before"]["local"]
    counts = collections.Counter(mid for ids in inbox.values() for mid in ids)
    restored = [mid for mid in backed_up if counts[mid] >= 1]
    lost = [mid for mid in backed_up if counts[mid] == 0]
    duplicated = sorted(mid for mid, n in counts.items() if n > 1)
    print(f"messages backed up: {len(backed_up)}, restored: {len(restored)}, lost: {len(lost)}, "
          f"duplicated: {len(duplicated)} (after two restores), newer message kept: {counts[NEWER] == 1}")
    assert lost == [] and duplicated == []
    assert len(restored) == len(backed_up) == 6
    assert counts[NEWER] == 1, inbox
    # each user got their own mail back
    assert sorted(inbox["paul"]) == sorted([mid for mid in backed_up if "paul" in mid] + [NEWER])
    assert sorted(inbox["john1"]) == sorted(mid for mid in backed_up if "john" in mid)


def test_the_restore_report(state, host):
    first = state["restore1"]
    merged = first["mail"]["mbox_appended"] + first["mail"]["maildir_copied"]
    assert merged == 6, first["mail"]
    assert first["queue"]["messages"] == 3, first["queue"]
    assert first["keys"]["replaced"] >= 3 and first["keys"]["saved"] >= 3, first["keys"]
    second = json.loads(host.file("/var/lib/homelab-mailserver/restore.last").content_string)
    assert second["mail"]["mbox_appended"] + second["mail"]["maildir_copied"] == 0, second["mail"]
    assert second["mail"]["mbox_present"] + second["mail"]["maildir_present"] == 6, second["mail"]
    assert second["queue"]["copied"] == 0, second["queue"]
    assert second["keys"]["replaced"] == 0, second["keys"]
    # the configuration copies stay in the staging directory, for comparison; it is root's alone
    assert any(path.endswith("/etc/mail") for path in second["config_copies"]), second
    assert host.file(second["staging"]).mode == 0o700


def test_mailbox_format_merged(host):
    """Debian 13 delivers to Maildir, Debian 12 to mbox: the restore merged into the one in use."""
    if "trixie" in host.backend.get_hostname():
        assert host.file("/home/paul/Maildir/cur").is_directory or host.file("/home/paul/Maildir/new").is_directory
    else:
        assert host.file("/var/mail/paul").user == "paul"


def test_dkim_and_tls_keys_are_the_ones_backed_up(state):
    before, after = state["before"]["keys"]["hashes"], state["after"]["keys"]["hashes"]
    assert before == after, {p: (before.get(p), after.get(p)) for p in set(before) | set(after) if before.get(p) != after.get(p)}
    print("DKIM keys, sha256 before the backup and after the restore:",
          {p: h for p, h in after.items() if p.endswith(".private")})


def test_mail_signed_after_the_restore_verifies_against_the_record_published_before(state):
    dkim = state["after"]["dkim"]
    assert dkim["signed"] and dkim["verified"], dkim
    assert "d=my-site.com" in dkim["signature"].replace(" ", "").replace("\r\n", "").replace("\n", "")


def test_queued_messages_restored_and_delivered_once_their_destination_is_up(state):
    remote = state["before"]["remote"]
    assert set(remote) <= {entry["id"] for entry in state["after"]["queue"]}, state["after"]["queue"]
    sink = state["after"]["sink"]
    assert sink["missing"] == [], sink
    assert all(sink["ids"][mid] == 1 for mid in remote), sink


def test_the_queue_is_empty_after_delivery(host):
    ids = json.loads(host.check_output("python3 %s queue" % PROBE))
    assert [entry for entry in ids if "backup-" in entry["id"]] == [], ids


def test_daemons_run_after_the_restore(host):
    for unit in ("sendmail", "dovecot", "opendkim"):
        assert host.service(unit).is_running, unit
    assert host.run("systemctl is-enabled homelab-mailserver-backup.timer").stdout.strip() == "enabled"

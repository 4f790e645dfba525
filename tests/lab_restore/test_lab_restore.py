"""The lab's restore from nothing, read from the states tests/playbooks/lab_restore.yml recorded.

scripts/test.sh's lab stage sent known messages (to paul and john, delivered; to
alice@outside.example while the provider's relay was down, queued on bigboy), backed up
(playbooks/backup.yml), destroyed bigboy's container, started a new one (playbooks/lab.yml),
converged it (site.yml), delivered a newer message, restored twice (playbooks/restore.yml),
brought the relay up and ran the queue. Every message went in over SMTP and was read over
IMAPS (bigboy) or from alice's mailbox (the provider), on loopback.
"""

from __future__ import annotations

import collections
import json
import pathlib

import pytest

OUT = pathlib.Path(__file__).resolve().parents[2] / "build" / "lab-restore"
NEWER = "<lab-restore-newer-1@my-site.com>"
SIGNED_AFTER = "<lab-restore-signed-after@my-site.com>"


@pytest.fixture(scope="module")
def state():
    return {name: json.loads((OUT / f"{name}.json").read_text()) for name in ("before", "fresh", "restore1", "restore2", "after")}


def counts(imap):
    """How often each Message-ID is in the users' INBOXes."""
    return collections.Counter(mid for ids in imap["ids"].values() for mid in ids)


def test_the_known_messages_were_delivered_or_queued_before_the_backup(state):
    before = state["before"]
    assert all(reply == "accepted" for reply in before["sent"].values()), before["sent"]
    assert before["imap"]["missing"] == [], before["imap"]
    assert set(before["remote"]) <= {entry["id"] for entry in before["queue"]}, before["queue"]


def test_the_new_host_started_with_nothing(state):
    """The new container made its own keys and certificate, and held none of the known messages."""
    before, fresh = state["before"]["keys"]["hashes"], state["fresh"]["keys"]["hashes"]
    dkim = [path for path in before if path.endswith(".private")]
    assert dkim and all(fresh.get(path) != before[path] for path in dkim), (before, fresh)
    seen = counts(state["fresh"]["imap"])
    assert seen[NEWER] == 1 and not set(state["before"]["local"]) & set(seen), seen


def test_every_message_restored_once_and_the_newer_one_kept(state):
    """Every message of before the backup (the demo's and the known ones) is back once; none lost, none doubled."""
    before, after = counts(state["before"]["imap"]), counts(state["after"]["imap"])
    lost = sorted(mid for mid in before if after[mid] == 0)
    duplicated = sorted(mid for mid in before if after[mid] > before[mid])
    print(f"\nlab restore: messages backed up {sum(before.values())} (in INBOXes), restored "
          f"{sum(min(after[mid], count) for mid, count in before.items())}, lost {len(lost)}, "
          f"duplicated {len(duplicated)}; queued {len(state['before']['remote'])}, delivered after the restore "
          f"{sum(1 for mid in state['before']['remote'] if state['after']['outside']['ids'].get(mid) == 1)}")
    assert state["after"]["imap"]["errors"] == {}, state["after"]["imap"]["errors"]
    assert lost == [] and duplicated == [], (lost, duplicated)
    assert set(state["before"]["local"]) <= set(after), state["after"]["imap"]
    assert after[NEWER] == 1


def test_the_second_restore_changes_nothing(state):
    """Run again after the restored queue was delivered: no message is queued (or sent) a second time."""
    first, second = state["restore1"], state["restore2"]
    assert first["mail"]["mbox_appended"] + first["mail"]["maildir_copied"] > 0, first["mail"]
    assert first["queue"]["messages"] == len(state["before"]["remote"]), first["queue"]
    assert second["mail"]["mbox_appended"] + second["mail"]["maildir_copied"] == 0, second["mail"]
    assert second["queue"]["copied"] == 0 and second["keys"]["replaced"] == 0, second
    assert second["queue"]["restored_before"] == first["queue"]["copied"], second["queue"]


def test_keys_and_certificate_are_the_ones_backed_up(state):
    before, after = state["before"]["keys"]["hashes"], state["after"]["keys"]["hashes"]
    differ = {path: (before.get(path), after.get(path)) for path in before if before[path] != after.get(path)}
    assert differ == {}, differ
    assert any(path.startswith("/etc/ssl/homelab-mailserver/") for path in before), sorted(before)


def test_mail_signed_after_the_restore_verifies_against_the_record_of_before(state):
    dkim = state["after"]["dkim"]
    assert dkim["signed"] and dkim["verified"], dkim
    assert "d=my-site.com" in dkim["signature"].replace(" ", "").replace("\r\n", "").replace("\n", "")


def test_queued_messages_restored_and_delivered_once_the_relay_is_up(state):
    remote = state["before"]["remote"]
    assert set(remote) <= {entry["id"] for entry in state["after"]["queue"]}, state["after"]["queue"]
    assert state["after"]["outside_first"]["missing"] == [], state["after"]["outside_first"]
    outside = state["after"]["outside"]
    assert outside["missing"] == [], outside
    assert all(outside["ids"][mid] == 1 for mid in remote + [SIGNED_AFTER]), outside
    assert [entry for entry in state["after"]["queue_end"] if "lab-restore" in entry["id"]] == []

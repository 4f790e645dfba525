"""homelab-mailserver-backup's restore merge (roles/backup/files), on files in a temporary directory.

The host keeps everything it holds: mbox messages are appended by Message-ID, Maildir messages and
queue files copied when absent, keys replaced with the host's old file kept; a second merge of the
same snapshot changes nothing.
"""

from __future__ import annotations

import json
import mailbox
import os
import pathlib

import pytest
from role_harness import load_script

SCRIPT = pathlib.Path(__file__).resolve().parents[4] / "roles" / "backup" / "files" / "homelab-mailserver-backup"


@pytest.fixture(scope="module")
def script():
    return load_script(SCRIPT, "homelab_mailserver_backup")


def mbox_text(*ids, uid=None):
    parts = []
    for mid in ids:
        header = f"X-UID: {uid}\n" if uid else ""
        parts.append(f"From sender@example.com  Thu Dec  3 10:00:00 2026\nMessage-ID: <{mid}>\n{header}Subject: {mid}\n\n"
                     f"body of {mid}\n>From an escaped line\n\n")
    return "".join(parts)


def ids_of(path):
    box = mailbox.mbox(str(path), create=False)
    try:
        return [message["Message-ID"] for message in box]
    finally:
        box.close()


def counts_mail():
    return dict.fromkeys(("mbox_appended", "mbox_present", "maildir_copied", "maildir_present", "files_copied",
                          "files_present"), 0)


def test_mbox_merge_keeps_newer_mail_and_adds_only_missing_messages(script, tmp_path):
    staged, host = tmp_path / "staged", tmp_path / "host"
    staged.mkdir()
    host.mkdir()
    (staged / "paul").write_text(mbox_text("a@x", "b@x", "c@x", uid=7))
    (host / "paul").write_text(mbox_text("b@x", "newer@x"))
    os.chmod(host / "paul", 0o660)
    counts = counts_mail()
    script.merge_mail(str(staged), str(host), counts)
    assert ids_of(host / "paul") == ["<b@x>", "<newer@x>", "<a@x>", "<c@x>"]
    assert (counts["mbox_appended"], counts["mbox_present"]) == (2, 1)
    assert "X-UID" not in (host / "paul").read_text()
    assert ">From an escaped line" in (host / "paul").read_text()
    assert os.stat(host / "paul").st_mode & 0o777 == 0o660
    again = counts_mail()
    script.merge_mail(str(staged), str(host), again)
    assert ids_of(host / "paul") == ["<b@x>", "<newer@x>", "<a@x>", "<c@x>"]
    assert (again["mbox_appended"], again["mbox_present"]) == (0, 3)


def test_mbox_missing_on_the_host_is_created(script, tmp_path):
    staged, host = tmp_path / "staged", tmp_path / "host"
    (staged / "mail").mkdir(parents=True)
    host.mkdir()
    (staged / "mail" / "Sent").write_text(mbox_text("s1@x"))
    counts = counts_mail()
    script.merge_mail(str(staged), str(host), counts)
    assert ids_of(host / "mail" / "Sent") == ["<s1@x>"]


def test_maildir_merge_copies_absent_messages_whatever_their_flags(script, tmp_path):
    staged, host = tmp_path / "staged" / "Maildir", tmp_path / "host" / "Maildir"
    for root in (staged, host):
        for sub in ("cur", "new", "tmp"):
            (root / sub).mkdir(parents=True)
    (staged / "cur" / "1.M1.bigboy:2,S").write_text("Message-ID: <1@x>\n\none\n")
    (staged / "new" / "2.M2.bigboy").write_text("Message-ID: <2@x>\n\ntwo\n")
    (staged / "tmp" / "3.M3.bigboy").write_text("half a deliv")
    (staged / "dovecot-uidlist").write_text("3 V1 N3\n")
    (staged / "subscriptions").write_text("INBOX\n")
    # the host read message 2 already (moved to cur with a flag) and got a newer one
    (host / "cur" / "2.M2.bigboy:2,S").write_text("Message-ID: <2@x>\n\ntwo\n")
    (host / "new" / "4.M4.bigboy").write_text("Message-ID: <4@x>\n\nnewer\n")
    counts = counts_mail()
    script.merge_mail(str(staged.parent), str(host.parent), counts)
    assert sorted(os.listdir(host / "cur")) == ["1.M1.bigboy:2,S", "2.M2.bigboy:2,S"]
    assert sorted(os.listdir(host / "new")) == ["4.M4.bigboy"]
    assert os.listdir(host / "tmp") == []
    assert not (host / "dovecot-uidlist").exists()
    assert (host / "subscriptions").read_text() == "INBOX\n"
    assert (counts["maildir_copied"], counts["maildir_present"]) == (1, 1)


def test_queue_files_copied_when_absent_never_overwritten(script, tmp_path):
    staged, host = tmp_path / "staged", tmp_path / "host"
    staged.mkdir()
    host.mkdir()
    for name, text in (("dfAAA", "data"), ("qfAAA", "V8\n"), ("xfAAA", "transcript"), ("tfBBB", "temp"),
                       ("dfCCC", "old"), ("qfCCC", "old")):
        (staged / name).write_text(text)
    (host / "qfCCC").write_text("host's own")
    counts = dict.fromkeys(("messages", "copied", "present", "restored_before"), 0)
    script.merge_queue(str(staged), str(host), counts)
    assert sorted(os.listdir(host)) == ["dfAAA", "dfCCC", "qfAAA", "qfCCC"]
    assert (host / "qfCCC").read_text() == "host's own"
    assert counts == {"messages": 1, "copied": 3, "present": 1, "restored_before": 0}


def test_a_queue_file_restored_and_delivered_since_is_not_restored_again(script, tmp_path):
    """Restoring the same snapshot twice, with the message delivered in between, sends it once."""
    staged, host = tmp_path / "staged", tmp_path / "host"
    staged.mkdir()
    host.mkdir()
    (staged / "dfAAA").write_text("data")
    (staged / "qfAAA").write_text("V8\n")
    ledger = set()
    first = dict.fromkeys(("messages", "copied", "present", "restored_before"), 0)
    script.merge_queue(str(staged), str(host), first, ledger, "snap1")
    for name in ("dfAAA", "qfAAA"):
        (host / name).unlink()  # the queue run delivered it
    again = dict.fromkeys(first, 0)
    script.merge_queue(str(staged), str(host), again, ledger, "snap1")
    assert os.listdir(host) == []
    assert first["messages"] == 1 and again == {"messages": 0, "copied": 0, "present": 0, "restored_before": 2}
    # another snapshot's copy of the same file is its own: a later restore from it may put it back
    other = dict.fromkeys(first, 0)
    script.merge_queue(str(staged), str(host), other, ledger, "snap2")
    assert other["messages"] == 1


def test_the_queue_ledger_survives_between_runs(script, tmp_path):
    path = tmp_path / "restored-queue.json"
    assert script.load_queue_ledger(str(path)) == set()
    script.write_atomic(str(path), json.dumps(["snap1:/var/spool/mqueue/qfAAA"]))
    assert script.load_queue_ledger(str(path)) == {"snap1:/var/spool/mqueue/qfAAA"}


def test_keys_replace_the_hosts_which_are_kept(script, tmp_path):
    staged, host, saved = tmp_path / "staged", tmp_path / "host", tmp_path / "saved"
    (staged / "my-site.com").mkdir(parents=True)
    (host / "my-site.com").mkdir(parents=True)
    (staged / "my-site.com" / "mail.private").write_text("OLD KEY")
    (staged / "my-site.com" / "mail.txt").write_text("record")
    (staged / "dovecot.pem").symlink_to("/etc/ssl/certs/ssl-cert-snakeoil.pem")
    (host / "my-site.com" / "mail.private").write_text("NEW KEY")
    (host / "my-site.com" / "mail.txt").write_text("record")
    os.chmod(host / "my-site.com" / "mail.private", 0o600)
    counts = dict.fromkeys(("replaced", "same", "saved"), 0)
    script.replace_files(str(staged), str(host), str(saved), counts)
    assert (host / "my-site.com" / "mail.private").read_text() == "OLD KEY"
    assert os.stat(host / "my-site.com" / "mail.private").st_mode & 0o777 == 0o600
    assert (saved / str(host / "my-site.com" / "mail.private").lstrip("/")).read_text() == "NEW KEY"
    # a link the host lost (Debian's certificate links) is made again, pointing where it pointed
    assert os.readlink(host / "dovecot.pem") == "/etc/ssl/certs/ssl-cert-snakeoil.pem"
    assert counts == {"replaced": 2, "same": 1, "saved": 1}


def test_a_failed_merge_leaves_the_mbox_whole(script, tmp_path, monkeypatch):
    staged, host = tmp_path / "staged", tmp_path / "host"
    staged.mkdir()
    host.mkdir()
    (staged / "paul").write_text(mbox_text("a@x", "b@x"))
    (host / "paul").write_text(mbox_text("newer@x"))
    before = (host / "paul").read_bytes()

    def boom(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(script.os, "replace", boom)
    with pytest.raises(OSError):
        script.merge_mail(str(staged), str(host), counts_mail())
    assert (host / "paul").read_bytes() == before
    assert sorted(os.listdir(host)) == ["paul"]

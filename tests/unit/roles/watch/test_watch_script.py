"""homelab-mailserver-watch (roles/watch/files): the checks on files in a temporary directory, the state
transitions (one PROBLEM mail when a check turns bad, none while it stays bad, one RESOLVED mail when it is
good again), the mails, and the daily summary parsed from a sample of the mail log.
"""

from __future__ import annotations

import email
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from role_harness import ROOT, load_script, load_yaml

SCRIPT = ROOT / "roles" / "watch" / "files" / "homelab-mailserver-watch"
VARS = load_yaml(ROOT / "roles" / "watch" / "vars" / "main.yml")
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def script():
    return load_script(SCRIPT, "homelab_mailserver_watch")


def config(tmp_path, **changes):
    cfg = {
        "alert_to": "postmaster", "summary_to": "postmaster", "summary_enabled": True, "interval_seconds": 900,
        "queue": {"dir": str(tmp_path / "mqueue"), "max_messages": 1, "max_age_seconds": 3600},
        "tls": {"address": "127.0.0.1", "ports": [25, 993], "min_days": 14, "timeout": 5},
        "services": ["sendmail", "dovecot"],
        "disk": {"paths": [str(tmp_path)], "min_free_percent": 10},
        "dnsbl": {"addresses": [], "zones": []},
        "backup": {"status_file": "", "max_age_hours": 26},
        "state_file": str(tmp_path / "state" / "state.json"),
        "module_utils_path": str(tmp_path / "lib"),
        "sendmail": ["/usr/sbin/sendmail", "-oi", "-t"],
        "log_identifiers": VARS["__watch_log_identifiers"],
    }
    cfg.update(changes)
    return cfg


class Outbox(list):
    """A sender that keeps the messages; ok=False makes it fail like a sendmail that cannot be run."""

    ok = True

    def __call__(self, message, _cfg):
        if not self.ok:
            return False, "sendmail: cannot connect"
        self.append(message)
        return True, ""

    def subjects(self):
        return [m["Subject"].split("] ", 1)[1] for m in self]


def verdicts(script, **states):
    return lambda _cfg: [script.verdict(key.replace("_", " ", 1) if key.startswith("service") else key,
                                        key.split("_")[0] if key.startswith("service") else key, state, "detail of " + key,
                                        value="v", threshold="t")
                         for key, state in states.items()]


# ------------------------------------------------------------------ transitions and mails
def test_bad_mails_once_stays_quiet_then_resolves_once(script, tmp_path, monkeypatch):
    monkeypatch.setattr(script.socket, "getfqdn", lambda: "bigboy.my-site.com")
    cfg, outbox = config(tmp_path), Outbox()
    assert script.check(cfg, NOW, outbox, verdicts(script, queue_age="ok", service_dovecot="ok")) == 0
    assert outbox == []  # the first run, all good: nothing to say
    script.check(cfg, NOW + 60, outbox, verdicts(script, queue_age="problem", service_dovecot="ok"))
    assert outbox.subjects() == ["PROBLEM: queue_age on bigboy.my-site.com"]
    script.check(cfg, NOW + 120, outbox, verdicts(script, queue_age="problem", service_dovecot="ok"))
    script.check(cfg, NOW + 180, outbox, verdicts(script, queue_age="problem", service_dovecot="ok"))
    assert len(outbox) == 1  # bad -> bad: no mail
    script.check(cfg, NOW + 240, outbox, verdicts(script, queue_age="ok", service_dovecot="problem"))
    assert outbox.subjects()[1:] == ["RESOLVED: queue_age on bigboy.my-site.com",
                                     "PROBLEM: service dovecot on bigboy.my-site.com"]
    resolved = next(m for m in outbox if "RESOLVED" in m["Subject"])
    body = resolved.get_content()
    assert re.search(r"^Bad since: +.* UTC \(3m\)$", body, re.M), body  # since NOW + 60, resolved at NOW + 240
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    assert state["checks"]["queue_age"]["state"] == "ok" and state["checks"]["service dovecot"]["state"] == "problem"
    script.check(cfg, NOW + 300, outbox, verdicts(script, queue_age="ok", service_dovecot="problem"))
    assert len(outbox) == 3


def test_a_mail_that_cannot_be_sent_is_tried_again(script, tmp_path):
    cfg, outbox = config(tmp_path), Outbox()
    outbox.ok = False
    assert script.check(cfg, NOW, outbox, verdicts(script, backup_age="problem")) == 1
    assert outbox == []
    outbox.ok = True
    assert script.check(cfg, NOW + 60, outbox, verdicts(script, backup_age="problem")) == 0
    assert len(outbox) == 1 and "PROBLEM: backup_age" in outbox[0]["Subject"]
    outbox.ok = False
    script.check(cfg, NOW + 120, outbox, verdicts(script, backup_age="ok"))
    outbox.ok = True
    script.check(cfg, NOW + 180, outbox, verdicts(script, backup_age="ok"))
    assert [("RESOLVED" in m["Subject"]) for m in outbox] == [False, True]


def test_a_skipped_check_keeps_its_state(script):
    state, changes = script.transitions({}, [script.verdict("dnsbl", "dnsbl", "problem", "listed")], NOW)
    assert [c[0] for c in changes] == ["PROBLEM"]
    state, changes = script.transitions(state, [script.verdict("dnsbl", "dnsbl", "skipped", "lookup failed")], NOW + 1)
    assert changes == [] and state["dnsbl"]["state"] == "problem"
    state, changes = script.transitions(state, [script.verdict("dnsbl", "dnsbl", "problem", "listed")], NOW + 2)
    assert changes == [] and state["dnsbl"]["since"] == NOW


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["ok", "problem", "skipped"]), min_size=1, max_size=30))
def test_one_mail_per_change_of_state(script, runs):
    state, problems, resolved = {}, 0, 0
    for index, verdict_state in enumerate(runs):
        state, changes = script.transitions(state, [script.verdict("queue_size", "queue_size", verdict_state, "d")], NOW + index)
        problems += sum(1 for kind, *_rest in changes if kind == "PROBLEM")
        resolved += sum(1 for kind, *_rest in changes if kind == "RESOLVED")
    decided = [s for s in runs if s != "skipped"]
    turned_bad = sum(1 for i, s in enumerate(decided) if s == "problem" and (i == 0 or decided[i - 1] != "problem"))
    turned_good = sum(1 for i, s in enumerate(decided) if s == "ok" and i > 0 and decided[i - 1] == "problem")
    assert (problems, resolved) == (turned_bad, turned_good)


@pytest.mark.parametrize("kind", ["queue_size", "queue_age", "certificate_expiry", "certificate_port", "service",
                                  "disk_free", "dnsbl", "backup_age"])
def test_the_problem_mail_says_what_where_how_much_and_what_to_do(script, tmp_path, kind):
    item = script.verdict("some check", kind, "problem", "what is wrong here", value="42 things", threshold="at most 7")
    message = script.alert_message(("PROBLEM", item, NOW), "bigboy.my-site.com", config(tmp_path), NOW, [item])
    assert message["Subject"] == "[homelab-mailserver watch] PROBLEM: some check on bigboy.my-site.com"
    assert message["To"] == "postmaster" and message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert all(len(line) <= 78 for line in body.splitlines()), body
    assert "Measured:      42 things\nThreshold:     at most 7\n" in body
    flat = " ".join(body.split())
    for text in ("What is wrong: what is wrong here", "What to do: " + script.ADVICE[kind]):
        assert text in flat
    assert script.ADVICE[kind].count(". ") == 0 and script.ADVICE[kind].endswith(".")  # one sentence


# ------------------------------------------------------------------ the checks
def queue_file(directory, qid, queued):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"qf{qid}").write_text(f"V8\nT{queued}\nK0\nN1\nP30000\nrRFC822; someone@remote.example\n")
    (directory / f"df{qid}").write_text("body\n")


def test_queue_counts_qf_files_in_subdirectories_and_reads_the_queued_time(script, tmp_path):
    cfg = config(tmp_path)
    empty = script.check_queue(cfg, NOW)
    assert [v["state"] for v in empty] == ["problem", "problem"]  # no queue directory at all
    (tmp_path / "mqueue").mkdir()
    assert [v["state"] for v in script.check_queue(cfg, NOW)] == ["ok", "ok"]
    queue_file(tmp_path / "mqueue", "5B3N1a001", NOW - 100)
    (tmp_path / "mqueue" / "xf5B3N1a001").write_text("transcript")
    size, age = script.check_queue(cfg, NOW)
    assert (size["state"], size["value"], age["state"]) == ("ok", "1 messages", "ok")
    queue_file(tmp_path / "mqueue" / "q2", "5B3N1a002", NOW - 7200)
    os.utime(tmp_path / "mqueue" / "q2" / "qf5B3N1a002", (NOW, NOW))  # rewritten at the last attempt
    size, age = script.check_queue(cfg, NOW)
    assert size["state"] == "problem" and size["value"] == "2 messages" and size["threshold"] == "at most 1 messages"
    assert age["state"] == "problem" and age["value"] == "7200 s (2h)" and "5B3N1a002" in age["detail"]


def test_disk_free_once_per_filesystem(script, tmp_path):
    class Info:
        def __init__(self, blocks, free):
            self.f_blocks, self.f_bavail, self.f_frsize = blocks, free, 4096

    devices = {"/var/mail": 1, "/home": 1, "/var/spool/mqueue": 2}
    infos = {1: Info(1000, 50), 2: Info(1000, 500)}
    cfg = config(tmp_path, disk={"paths": list(devices) + ["/nonexistent"], "min_free_percent": 10})

    def stat(path):
        if path not in devices:
            raise FileNotFoundError(2, "No such file or directory")
        return types.SimpleNamespace(st_dev=devices[path])

    out = script.check_disks(cfg, statvfs=lambda p: infos[devices[p]], stat=stat)
    assert [(v["key"], v["state"], v["value"]) for v in out] == [
        ("disk_free /var/mail", "problem", "5.0% free"), ("disk_free /var/spool/mqueue", "ok", "50.0% free"),
        ("disk_free /nonexistent", "problem", None)]
    assert "also holds /home" in out[0]["detail"]
    real = script.check_disks(config(tmp_path, disk={"paths": [str(tmp_path)], "min_free_percent": 100}))
    assert real[0]["state"] == "problem"  # 100% free is never there


def test_dnsbl_reverses_the_octets_and_reads_the_answer(script, tmp_path):
    assert script.dnsbl_name("192.0.2.25", "bl.spamcop.net") == "25.2.0.192.bl.spamcop.net"
    cfg = config(tmp_path)
    assert [v["state"] for v in script.check_dnsbl(cfg)] == ["skipped"]
    cfg = config(tmp_path, dnsbl={"addresses": ["192.0.2.25", "192.0.2.26"], "zones": ["bl.example"]})

    def resolve(name, _port, _family):
        if name.startswith("25."):
            return [(socket.AF_INET, 1, 6, "", ("127.0.0.2", 0))]
        if name.startswith("26."):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise AssertionError(name)

    listed, clean = script.check_dnsbl(cfg, resolve=resolve)
    assert (listed["key"], listed["state"], listed["value"]) == ("dnsbl 192.0.2.25 bl.example", "problem", "listed: 127.0.0.2")
    assert clean["state"] == "ok"

    def broken(_name, _port, _family):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    assert {v["state"] for v in script.check_dnsbl(cfg, resolve=broken)} == {"skipped"}


def test_backup_age_from_the_status_file(script, tmp_path):
    assert script.check_backup(config(tmp_path), NOW)[0]["state"] == "skipped"
    status = tmp_path / "backup.last"
    cfg = config(tmp_path, backup={"status_file": str(status), "max_age_hours": 26})
    missing = script.check_backup(cfg, NOW)[0]
    assert missing["state"] == "problem" and "does not exist" in missing["detail"]
    status.write_text('{"time": 0}\n')
    os.utime(status, (NOW - 3600, NOW - 3600))
    assert script.check_backup(cfg, NOW)[0]["state"] == "ok"
    os.utime(status, (NOW - 27 * 3600, NOW - 27 * 3600))
    old = script.check_backup(cfg, NOW)[0]
    assert old["state"] == "problem" and old["value"] == "27.0 hours" and old["threshold"] == "at most 26 hours"


def test_services_from_systemctl_is_active(script, tmp_path, monkeypatch):
    answers = {"sendmail": (0, "active\n", ""), "dovecot": (3, "inactive\n", "")}
    monkeypatch.setattr(script, "run", lambda argv, data=None, timeout=60: answers[argv[-1]])
    out = script.check_services(config(tmp_path))
    assert [(v["key"], v["state"], v["value"]) for v in out] == [("service sendmail", "ok", "active"),
                                                                 ("service dovecot", "problem", "inactive")]


def test_certificates_through_the_doctor(script, tmp_path, monkeypatch):
    days = {25: (30, "serial 01, expires ..., in 30 days"), 993: (None, "not listening")}
    doctor = types.SimpleNamespace(served_days_left=lambda address, port, timeout, run, openssl: days[port])
    good, silent = script.check_certificates(config(tmp_path), doctor=doctor)
    assert (good["key"], good["state"], good["value"]) == ("certificate_expiry port 25", "ok", "30 days left")
    assert (silent["state"], silent["kind"]) == ("problem", "certificate_port")  # a listed port must answer
    tls = {"address": "127.0.0.1", "ports": [25], "min_days": 31, "timeout": 5}
    soon = script.check_certificates(config(tmp_path, tls=tls), doctor=doctor)
    assert soon[0]["state"] == "problem" and soon[0]["threshold"] == "at least 31 days left"
    monkeypatch.setattr(script, "doctor_certificates", lambda _cfg: (None, "No module named 'ansible_collections'"))
    unloadable = script.check_certificates(config(tmp_path))
    assert {v["state"] for v in unloadable} == {"problem"} and "cannot be loaded" in unloadable[0]["detail"]


def test_the_copied_module_utils_are_enough_for_the_doctors_certificate_check(tmp_path):
    """The files vars/main.yml lists (and every _doctor unit), laid out as the role lays them out, import
    in a Python that sees nothing else of the collection."""
    lib = tmp_path / "lib"
    target = lib / VARS["__watch_package_dirs"][-1]
    (target / "_doctor").mkdir(parents=True)
    for package in VARS["__watch_package_dirs"]:
        (lib / package / "__init__.py").write_text("")
    source = ROOT / "plugins" / "module_utils"
    for name in VARS["__watch_module_utils"]:
        shutil.copy(source / name, target / name)
    for unit in (source / "_doctor").glob("*.py"):
        shutil.copy(unit, target / "_doctor" / unit.name)
    # the script's own loader, in a Python that sees nothing of the collection but the copy
    code = ("import importlib.machinery, sys; "
            "w = importlib.machinery.SourceFileLoader('w', %r).load_module(); "
            "unit, why = w.doctor_certificates({'module_utils_path': %r}); "
            "print(unit.__file__, unit.served_days_left.__name__, why)" % (str(SCRIPT), str(lib)))
    done = subprocess.run([sys.executable, "-I", "-W", "ignore", "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(target / "_doctor" / "certificate_expiry.py") + " served_days_left"), done.stdout


# ------------------------------------------------------------------ the daily summary
# journalctl --since -24h -o short of sendmail's daemon (sm-mta), its submission program (sendmail), milter-greylist,
# spamd and Dovecot's LDA: a message received and delivered, one sent on, refusals, greylisting, spam filed to Junk.
SAMPLE_LOG = (pathlib.Path(__file__).parent / "sample_journal.txt").read_text(encoding="utf-8")


def test_summary_counts_of_a_sample_log(script):
    counts = script.summary_counts(SAMPLE_LOG.splitlines(), VARS["__watch_log_identifiers"])
    assert {k: v for k, v in counts.items() if k != "top_senders"} == {
        "received": 5, "delivered": 2, "sent": 2, "refused": 2, "spam": 1, "junk": 1, "greylisted": 1}
    # the submission program's lines (sendmail[...]: from=root, its hand-over to [127.0.0.1]) are not counted, a queue
    # run started by hand (sendmail[...]: mailer=esmtp) is; a bounce's empty sender is no sender
    assert counts["top_senders"] == [("paul@my-site.com", 2), ("spam@outside.example", 1), ("root@bigboy.my-site.com", 1)]


@pytest.mark.parametrize("log", ["", "-- No entries --\n", "\n\n"])
def test_summary_of_an_empty_log(script, tmp_path, monkeypatch, log):
    monkeypatch.setattr(script, "run", lambda argv, data=None, timeout=60: (0, log, ""))
    outbox = Outbox()
    assert script.summary(config(tmp_path), NOW, outbox) == 0
    body = outbox[0].get_content()
    assert "received:        0" in body and "none" in body
    assert outbox[0]["Subject"].startswith("[homelab-mailserver watch] daily summary for ")


def test_summary_mail_and_the_journalctl_call(script, tmp_path, monkeypatch):
    calls = []

    def run(argv, data=None, timeout=60):
        calls.append(argv)
        return 0, SAMPLE_LOG, ""

    monkeypatch.setattr(script, "run", run)
    outbox = Outbox()
    assert script.summary(config(tmp_path), NOW, outbox) == 0
    assert calls[0][:3] == ["journalctl", "--since", "-24h"] and "-o" in calls[0]
    assert [calls[0][i + 1] for i, a in enumerate(calls[0]) if a == "-t"] == ["dovecot", "milter-greylist", "sendmail", "sm-mta", "spamd"]
    message = email.message_from_string(outbox[0].as_string())
    assert "5 received, 2 delivered, 2 sent, 2 refused" in " ".join(message["Subject"].split())
    body = message.get_payload()
    assert "    2  paul@my-site.com" in body and "greylisted:      1" in body


def test_summary_gives_up_when_journalctl_fails(script, tmp_path, monkeypatch):
    monkeypatch.setattr(script, "run", lambda argv, data=None, timeout=60: (1, "", "No journal files were found."))
    outbox = Outbox()
    assert script.summary(config(tmp_path), NOW, outbox) == 1 and outbox == []

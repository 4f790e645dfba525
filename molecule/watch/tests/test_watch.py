"""The watch, proved on a converged mail server: conditions planted, alerts read in the mailbox.

side_effect.yml took the first backup and sent a test message. Here the watch runs once on the healthy
server (every check good), then six conditions are planted at once: a message stuck in the queue (to
remote.example, whose destination 127.0.0.3 is down) beyond a threshold of 0 messages and 5 seconds,
certificates with fewer days left than a threshold of 100000, Dovecot stopped (its service, and ports 993
and 995 that no longer answer), a full disk (a threshold of 100% free), the server's address listed on the
lab's DNSBL, and the backup's last-success file three days old. The thresholds are planted in the watch's
settings file, as a converge with other watch_* values would write them. The watch's service runs: one
PROBLEM mail per condition reaches postmaster's reader (postmaster -> root -> marc, /var/mail/marc); it
runs again: no mail; each condition is cleared (the queue delivered, Dovecot started, the thresholds back,
the listing removed, the backup file fresh) and it runs: one RESOLVED mail per condition; once more: no mail.
Then the daily summary's service mails the counts of the last 24 hours.
"""

from __future__ import annotations

import collections
import json
import re
import time

import pytest

PROBE = "python3 /usr/local/sbin/watch_probe.py"
CONFIG = "/etc/homelab-mailserver/watch.json"
STATE = "/var/lib/homelab-mailserver/watch/state.json"
BACKUP_LAST = "/var/lib/homelab-mailserver/backup.last"
DNSBL_CONF = "/etc/dnsmasq.d/watch-dnsbl.conf"
PORTS = (25, 465, 587, 993, 995)
CONDITIONS = {"queue_size", "queue_age", "service dovecot", "disk_free /var/mail", "dnsbl 127.0.0.9 dnsbl.example",
              "backup_age"} | {f"certificate_expiry port {port}" for port in PORTS}
SUBJECT_RE = re.compile(r"^\[homelab-mailserver watch\] (PROBLEM|RESOLVED): (.+) on (\S+)$")


def run(host, command, *args):
    result = host.run(command, *args)
    assert result.rc == 0, (command, args, result.stdout, result.stderr)
    return result.stdout


def mails(host):
    return json.loads(run(host, PROBE + " mails"))


def wait_queue_empty(host, timeout=120, stays=0):
    """The number of queued messages once it is down to STAYS (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while int(run(host, PROBE + " queue")) > stays and time.monotonic() < deadline:
        time.sleep(1)
    return int(run(host, PROBE + " queue"))


def watch_run(host, seen, expect=0, stays=0, timeout=120):
    """Start the watch's service (it returns when the run is over); the mails that arrived since SEEN
    (Message-IDs), waiting for EXPECT of them, and then until the queue holds no more than the STAYS
    messages that cannot leave, and a little more."""
    run(host, "systemctl start homelab-mailserver-watch.service")
    deadline = time.monotonic() + timeout
    while len([m for m in mails(host) if m["id"] not in seen]) < expect and time.monotonic() < deadline:
        time.sleep(1)
    wait_queue_empty(host, stays=stays)
    time.sleep(3)
    new = [m for m in mails(host) if m["id"] not in seen]
    seen.update(m["id"] for m in new)
    return new


def alerts(new):
    """(kind, check) of each PROBLEM or RESOLVED mail among NEW."""
    out = []
    for mail in new:
        match = SUBJECT_RE.match(mail["subject"])
        if match:
            out.append((match.group(1), match.group(2)))
    return out


def assert_one_mail_per_condition(new, kind):
    """NEW holds one KIND mail (PROBLEM or RESOLVED) for each planted condition, and nothing else."""
    got = alerts(new)
    for mail_kind, check in got:
        print(f"{mail_kind}: {check}")
    assert {mail_kind for mail_kind, _check in got} == {kind}, got
    assert collections.Counter(check for _kind, check in got) == dict.fromkeys(CONDITIONS, 1)
    assert len(new) == len(CONDITIONS), [m["subject"] for m in new]


def write_config(host, config):
    run(host, "python3 -c 'import sys; open(sys.argv[1], \"w\").write(sys.argv[2])' %s %s", CONFIG,
        json.dumps(config, indent=1))


@pytest.fixture(scope="module")
def story(host):
    original = host.file(CONFIG).content_string
    config = json.loads(original)
    record = {"config": config}
    try:
        # the healthy server: whatever earlier runs (the timer's first) said is counted out
        assert wait_queue_empty(host) == 0
        seen = {m["id"] for m in mails(host)}
        watch_run(host, seen)
        record["baseline"] = json.loads(host.file(STATE).content_string)["checks"]

        # plant every condition
        run(host, PROBE + " send %s %s", "someone@remote.example", "<watch-stuck-1@my-site.com>")
        planted = dict(config, queue=dict(config["queue"], max_messages=0, max_age_seconds=5),
                       tls=dict(config["tls"], min_days=100000), disk=dict(config["disk"], min_free_percent=100))
        write_config(host, planted)
        run(host, "systemctl stop dovecot")
        run(host, "touch -d %s %s", "3 days ago", BACKUP_LAST)
        run(host, "echo host-record=9.0.0.127.dnsbl.example,127.0.0.2 > %s && systemctl restart dnsmasq", DNSBL_CONF)
        time.sleep(6)  # the stuck message is older than 5 s
        record["queued"] = int(run(host, PROBE + " queue"))
        record["problems"] = watch_run(host, seen, expect=len(CONDITIONS), stays=1)
        record["state"] = json.loads(host.file(STATE).content_string)["checks"]
        record["again"] = watch_run(host, seen, stays=1)

        # clear every condition; the queue's thresholds stay at 0 messages and 5 s: the queue must empty
        run(host, "systemctl start dovecot smtp-sink")
        # sendmail remembers 127.0.0.3 as down (its host status cache): forget that, then run the queue
        host.run("/usr/sbin/sendmail-mta -bH")
        for _attempt in range(6):
            run(host, "/usr/sbin/sendmail-mta -q")
            if wait_queue_empty(host, timeout=20) == 0:
                break
        record["queue_after_delivery"] = wait_queue_empty(host, timeout=1)
        write_config(host, dict(config, queue=planted["queue"]))
        run(host, "touch %s", BACKUP_LAST)
        run(host, "rm -f %s && systemctl restart dnsmasq", DNSBL_CONF)
        record["resolved"] = watch_run(host, seen, expect=len(CONDITIONS))
        record["quiet"] = watch_run(host, seen)
        record["journal"] = run(host, "journalctl -u homelab-mailserver-watch.service --no-pager -o cat")

        # the daily summary of the log that holds all of the above
        run(host, "systemctl start homelab-mailserver-watch-summary.service")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            summaries = [m for m in mails(host) if "daily summary" in m["subject"] and m["id"] not in seen]
            if summaries:
                break
            time.sleep(1)
        record["summaries"] = summaries
    finally:
        write_config(host, config)
        host.run("rm -f %s; systemctl restart dnsmasq; systemctl start dovecot; systemctl stop smtp-sink", DNSBL_CONF)
    return record


def test_the_timers_run(host):
    for unit in ("homelab-mailserver-watch.timer", "homelab-mailserver-watch-summary.timer"):
        assert host.service(unit).is_enabled and host.service(unit).is_running, unit
    show = run(host, "systemctl show homelab-mailserver-watch.timer -p TimersMonotonic --value")
    assert "OnUnitActiveUSec=15min" in show, show  # watch_interval's default


def test_the_healthy_server_is_all_good(story):
    baseline = story["baseline"]
    assert set(baseline) == CONDITIONS | {"service sendmail", "service opendkim"}, sorted(baseline)
    assert {key: item["state"] for key, item in baseline.items() if item["state"] != "ok"} == {}


def test_one_problem_mail_per_condition(story):
    assert story["queued"] >= 1
    assert_one_mail_per_condition(story["problems"], "PROBLEM")
    assert {key for key, item in story["state"].items() if item["state"] == "problem"} == CONDITIONS


def test_the_problem_mails_say_what_how_much_and_what_to_do(story):
    bodies = {SUBJECT_RE.match(m["subject"]).group(2): " ".join(m["body"].split()) for m in story["problems"]}
    expected = {
        "queue_size": ["Measured: 1 messages", "Threshold: at most 0 messages", "mailq"],
        "queue_age": ["Threshold: at most 5 s (5s)", "has waited", "sendmail -q"],
        "certificate_expiry port 25": ["days left", "Threshold: at least 100000 days left", "Renew the certificate"],
        "certificate_expiry port 993": ["Measured: no certificate", "not listening", "Start the daemon that serves this port"],
        "service dovecot": ["Threshold: active", "systemctl start"],
        "disk_free /var/mail": ["% free", "Threshold: at least 100% free", "Free space"],
        "dnsbl 127.0.0.9 dnsbl.example": ["9.0.0.127.dnsbl.example answers 127.0.0.2", "delist"],
        "backup_age": ["Threshold: at most 26 hours", "homelab-mailserver-backup"],
    }
    for check, texts in expected.items():
        for text in texts:
            assert text in bodies[check], (check, text, bodies[check])
    # a stopped Dovecot is inactive, or failed when its stop took too long on a loaded machine
    assert re.search(r"Measured: (inactive|failed) ", bodies["service dovecot"]), bodies["service dovecot"]
    hours = float(re.search(r"Measured:\s+([0-9.]+) hours", bodies["backup_age"]).group(1))
    assert 71 <= hours <= 73, bodies["backup_age"]


def test_no_mail_while_nothing_changes(story):
    assert story["again"] == [], [m["subject"] for m in story["again"]]
    assert story["quiet"] == [], [m["subject"] for m in story["quiet"]]


def test_one_resolved_mail_per_condition(story):
    assert story["queue_after_delivery"] == 0
    assert_one_mail_per_condition(story["resolved"], "RESOLVED")
    assert all(re.search(r"^Bad since: ", m["body"], re.M) for m in story["resolved"])


def test_the_journal_has_each_change(story):
    journal = story["journal"]
    for check in CONDITIONS:
        assert f"PROBLEM {check}: " in journal, check
        assert f"RESOLVED {check}: " in journal, check
    assert re.search(r"checks: \d+ ok, 11 problems \(", journal), journal[-2000:]


def test_the_daily_summary_counts_the_test_mail(story):
    assert len(story["summaries"]) == 1, [m["subject"] for m in story["summaries"]]
    summary = story["summaries"][0]
    print(summary["subject"])
    print(summary["body"])
    received = int(re.search(r": (\d+) received", summary["subject"]).group(1))
    assert received > 0
    assert re.search(r"received:\s+%d\s" % received, summary["body"])
    # the test message came from paul@my-site.com over SMTP
    assert re.search(r"^\s+\d+\s+paul@my-site\.com$", summary["body"], re.M), summary["body"]
    assert re.search(r"delivered:\s+[1-9]", summary["body"]) and re.search(r"sent:\s+[1-9]", summary["body"])

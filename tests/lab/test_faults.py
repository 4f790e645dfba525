"""Faults under load: mail accepted with a 250 is delivered exactly once, whatever happens.

While tests/lab/files/loadgen.py sends a steady stream from a trusted address
(127.0.0.1) to a local user and a virtual address on bigboy, the test restarts
and kills the daemons one after the other. Afterwards every accepted message
must be in its mailbox exactly once (counted by Message-ID) and the queue
must drain. The client retries 4xx replies and refused connections; the test
reports how many there were. Failure policies exercised (docs/reliability.md):
  - sendmail restart (the role's handler) and kill -9: connections are refused
    for a moment; accepted mail is in the queue (df/qf files) and survives.
  - spamd stopped: spamc (no -x) passes the message on unfiltered.
  - milter-greylist stopped: the milter's F= flag decides (pass by default).
  - dovecot reload: delivery does not depend on Dovecot.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from conftest import copy_between, put_file, run_json  # noqa: E402

LOAD_OUT = "/root/loadgen-faults.json"
RCPTS = "marc@my-site.com,finance@my-site.com"


def wait_for(host, command, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if host.run(command).rc == 0:
            return True
        time.sleep(1)
    return False


def smtp_answers(host):
    probe = ("python3 -c \"import smtplib; s = smtplib.SMTP('127.0.0.1', 25, timeout=5); "
             "c = s.noop()[0]; s.quit(); raise SystemExit(c != 250)\"")
    return wait_for(host, probe, timeout=60)


QUEUED = "find /var/spool/mqueue -name 'qf*' | wc -l"


def queue_empty(host, timeout=180):
    """Wait until the MTA queue (/var/spool/mqueue, not the MSP's) is empty, running it every few seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if host.run(QUEUED).stdout.strip() == "0":
            return True, ""
        host.run("sendmail -q")
        time.sleep(3)
    return False, host.run("mailq").stdout


def test_unit_restarts_the_daemon_after_kill(bigboy):
    """systemd brings sendmail back after kill -9 (the role's Restart= drop-in)."""
    pid = bigboy.run("systemctl show -p MainPID --value sendmail").stdout.strip()
    assert pid not in ("", "0"), "systemd does not track sendmail's main process: kill -9 would go unnoticed"
    bigboy.run(f"kill -9 {pid}")
    assert wait_for(bigboy, f"test \"$(systemctl show -p MainPID --value sendmail)\" != {pid}"
                            " && systemctl is-active -q sendmail", timeout=60)
    assert smtp_answers(bigboy)


def test_no_accepted_message_is_lost_under_faults(bigboy):
    for unit in ("sendmail", "spamd", "milter-greylist", "dovecot"):
        assert bigboy.service(unit).is_running, f"{unit} must be running in the lab before the fault test"
    put_file("loadgen.py", "bigboy", "/root/loadgen.py")
    bigboy.run(f"rm -f {LOAD_OUT}")
    started = bigboy.run(
        f"nohup python3 /root/loadgen.py send {LOAD_OUT} --duration 75 --rate 4 --threads 4 "
        f"--deadline 150 --to {RCPTS} >/root/loadgen-faults.log 2>&1 &")
    assert started.rc == 0
    faults = [
        ("restart sendmail (as the role's handler does)", "systemctl restart sendmail"),
        ("reload dovecot", "systemctl reload dovecot"),
        ("stop spamd", "systemctl stop spamd"),
        ("start spamd", "systemctl start spamd"),
        ("stop milter-greylist", "systemctl stop milter-greylist"),
        ("start milter-greylist", "systemctl start milter-greylist"),
        ("kill -9 the sendmail daemon", "kill -9 $(systemctl show -p MainPID --value sendmail)"),
    ]
    log = []
    time.sleep(5)
    for name, command in faults:
        result = bigboy.run(command)
        log.append((name, result.rc))
        time.sleep(8)
    assert smtp_answers(bigboy), "sendmail did not come back after the faults"
    assert wait_for(bigboy, f"test -s {LOAD_OUT}", timeout=300), bigboy.run("tail /root/loadgen-faults.log").stdout
    empty, listing = queue_empty(bigboy)
    report = run_json(bigboy, ["python3", "/root/loadgen.py", "count", LOAD_OUT, "--timeout", "180"])
    print(json.dumps({"faults": log, "report": report}, indent=1))
    assert all(rc == 0 for _name, rc in log), log
    assert report["accepted"] >= 150, report  # the load really ran through the faults
    assert report["pending"] == [] and report["rejected"] == {}, report
    assert report["missing"] == [] and report["duplicated"] == {}, report
    assert report["delivered_once"] == report["accepted"]
    assert empty, listing


def test_queue_survives_an_unreachable_smart_host(bigboy, smallfry):
    """smallfry queues while bigboy is down, and delivers each message once when it is back."""
    put_file("loadgen.py", "smallfry", "/root/loadgen.py")
    out = "/root/loadgen-smarthost.json"
    bigboy.run("systemctl stop sendmail")
    try:
        sent = run_json(smallfry, ["python3", "/root/loadgen.py", "send", out, "--duration", "5", "--rate", "4",
                                   "--threads", "2", "--deadline", "30", "--to", "paul@my-site.com",
                                   "--host", "127.0.0.3"])
        assert sent["accepted"] >= 15, sent
        queued = smallfry.run("mailq").stdout
        assert "paul@my-site.com" in queued, f"smallfry should hold the mail while bigboy is down:\n{queued}"
    finally:
        bigboy.run("systemctl start sendmail")
    assert smtp_answers(bigboy)
    empty, listing = queue_empty(smallfry, timeout=120)
    assert empty, f"smallfry's queue did not drain:\n{listing}"
    put_file("loadgen.py", "bigboy", "/root/loadgen.py")
    copy_between("smallfry", out, "bigboy")
    report = run_json(bigboy, ["python3", "/root/loadgen.py", "count", out, "--timeout", "120"])
    assert report["missing"] == [] and report["duplicated"] == {}, report

"""CPU per message in each stage of a delivery: the SMTP sessions, each milter, the spam scan, local delivery.

  .venv/bin/python benchmarks/delivery/cpu_profile.py [--count 500] [--variants off,on] [--source 127.0.0.5]

A throughput figure says how fast; this says where the CPU goes, and so how fast the server can be on
this machine's cores whatever the concurrency. On the benchmark lab of bench_delivery.py (pod
homelab-bench, container bench-bigboy), each variant is converged by site.yml with
sendmail_delivery_mode=queue and one queue run a day, so that a message's two halves are measured apart
(CPU of a service: the user and system time of the processes of its cgroup and of the children they reaped):

  1. SMTP: the load generator (loadgen.py --phase send) sends COUNT messages from --source, an address
     without relay rights and outside spamass-milter's ignored networks (so that every message is
     scanned when spam filtering is on), to the bench's four local and four virtual addresses; their
     delivery waits in the queue. CPU of each systemd service of the container meanwhile:
     sendmail.service (the daemon and its SMTP children), each milter's service, spamd's.
  2. delivery: one queue run in the foreground (sendmail -qf), which hands every message to the local
     mailer (Dovecot's LDA with its Sieve filter, or procmail): its CPU with every process it waited
     for, and that of the services it calls (spamd, when the scan happens at delivery).
  3. the load generator (--phase collect) finds each message in its mailbox: lost and duplicated must be 0.

Prints CPU milliseconds per message per stage and service, their sum, and the rate that sum allows on
this machine's cores (cores x 1000 / ms per message); the largest stage is the bottleneck. Also the
container's process count at its peak against its pids limit (sampled every second from the host).
Writes benchmarks/results/profile.json. The lab is left converged with queue delivery: run
bench_delivery.py (which converges its variants) or `benchmarks/run.sh destroy` afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_delivery import (  # noqa: E402
    LAB_RCPTS,
    LOADGEN,
    SITE,
    clear_mailboxes,
    dns_forwarded,
    greylist_whitelist,
    lab_dns,
    settings,
    sh,
    site_switch,
)
from benchlib import (  # noqa: E402
    ROOT,
    Lab,
    PidSampler,
    cgroup_path,
    container_usec,
    load_average,
    log,
    machine,
    podman_exec,
    run_playbook,
    save,
    table,
)

# The services whose CPU is the mail's: everything else in system.slice is counted as "other services".
MAIL_SERVICES = ("sendmail.service", "milter-greylist.service", "opendkim.service", "pyspf-milter.service",
                 "opendmarc.service", "spamass-milter.service", "spamd.service", "spamassassin.service",
                 "dovecot.service", "saslauthd.service")


# Run inside the container: CPU microseconds of each service of system.slice, the sum over the processes
# of its cgroup (name=systemd hierarchy, which systemd in the container manages on cgroup v1 and v2 alike)
# of their own and their reaped children's user and system time (/proc/PID/stat utime, stime, cutime,
# cstime): an SMTP child's CPU, and that of the local mailer it waited for, is its daemon's once it exits.
SNAPSHOT = r"""
import glob, json, os
hz = os.sysconf("SC_CLK_TCK")
paths = {}
for line in open("/proc/1/cgroup"):
    _num, controllers, path = line.rstrip("\n").split(":", 2)
    paths[controllers] = path
base = paths.get("name=systemd", paths.get("", "/"))
base = base[: -len("/init.scope")] if base.endswith("/init.scope") else base
root = next(r for r in ("/sys/fs/cgroup/systemd" + base, "/sys/fs/cgroup/unified" + base, "/sys/fs/cgroup" + base)
            if os.path.isdir(r + "/system.slice"))

def ticks(pid):
    try:
        fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return sum(int(x) for x in fields[11:15])

found = {}
for unit in glob.glob(root + "/system.slice/*.service"):
    try:
        procs = open(unit + "/cgroup.procs").read().split()
    except OSError:
        continue
    found[os.path.basename(unit)] = sum(ticks(p) for p in procs) * 1000000 // hz
print(json.dumps(found))
"""


def snapshot(container: str, cgroup: str) -> dict[str, int]:
    """usage in microseconds of each service of the container's system.slice, and of the whole container (TOTAL)."""
    found = json.loads(podman_exec(container, ["python3", "-"], stdin=SNAPSHOT).stdout)
    found["TOTAL"] = container_usec(cgroup)
    return found


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after if after[name] - before.get(name, 0) > 0}


def loadgen(container: str, args, phase: str, run: str) -> dict:
    argv = ["python3", "-", "--phase", phase, "--run", run, "--count", str(args.count), "--concurrency",
            str(args.concurrency), "--from", args.sender, "--bind", args.source, "--helo", "client.outside.example",
            "--stall", str(args.stall)]
    for rcpt in LAB_RCPTS:
        argv += ["--rcpt", rcpt]
    proc = podman_exec(container, argv, stdin=LOADGEN, timeout=args.count * 5 + 900)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# Run inside the container: one queue run in the foreground (sendmail -qf; -q would fork it off and return at
# once), its CPU and that of every process it waited for (each delivery, the local mailer, the filters it runs),
# and how long it took.
QUEUE_RUN = r"""
import json, resource, subprocess, time
start = time.monotonic()
subprocess.run(["/usr/sbin/sendmail", "-qf"], check=True, capture_output=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": round(time.monotonic() - start, 1), "cpu_usec": int((usage.ru_utime + usage.ru_stime) * 1e6)}))
"""


def queue_run(container: str) -> dict:
    """One queue run: its CPU time (with everything it waited for) and how long it took."""
    return json.loads(podman_exec(container, ["python3", "-"], stdin=QUEUE_RUN, timeout=3600).stdout.strip().splitlines()[-1])


def queue_size(container: str) -> int:
    return int(sh(container, "find /var/spool/mqueue -name 'qf*' | wc -l").stdout.strip() or 0)


def per_message(usec: int, count: int) -> float:
    return round(usec / 1000 / count, 2) if count else 0.0


def profile_variant(lab: Lab, inv: Path, container: str, cgroup: str, args, variant: str) -> dict:
    site_vars = {"sendmail_delivery_mode": "queue", "sendmail_queue_interval": "24h",
                 "milter_greylist_whitelist_addresses": greylist_whitelist(ROOT, args.source)}
    site_vars.update(json.loads(args.vars))
    if not site_switch():
        raise SystemExit("site.yml has no mailserver_spamassassin switch: cpu_profile.py needs it")
    site_vars["mailserver_spamassassin"] = variant == "on"
    log(f"{variant}: converging with {site_vars}")
    converge = run_playbook(inv, SITE, extra_vars=site_vars, args=["--limit", "mail_servers"],
                            log_to=lab.workdir / f"profile-{variant}.log")
    if queue_size(container):
        log(f"{variant}: delivering what the queue held before the run")
        queue_run(container)
    clear_mailboxes(container)
    lab_dns(container, args.source)
    run = f"p{variant}{int(time.time())}"
    sampler = PidSampler(cgroup)
    sampler.start()
    before = snapshot(container, cgroup)
    log(f"{variant}: sending {args.count} messages from {args.source}")
    sent = loadgen(container, args, "send", run)
    middle = snapshot(container, cgroup)
    queued = queue_size(container)
    log(f"{variant}: {sent['accepted']} accepted in {sent['send_seconds']} s, {queued} queued; one queue run delivers them")
    delivery = queue_run(container)
    after = snapshot(container, cgroup)
    collected = loadgen(container, args, "collect", run)
    sampler.stop.set()
    sampler.join()
    log(f"{variant}: delivered {collected['delivered']}, lost {collected['lost']}, duplicated {collected['duplicates']}")
    return {"site_vars": site_vars, "converge_seconds": round(converge.seconds, 1), "settings": settings(container),
            "send": sent, "queued_after_send": queued, "queue_run": delivery, "collect": collected,
            "smtp_usec": delta(before, middle), "delivery_usec": delta(middle, after),
            "pids_peak": sampler.peak, "pids_max": sampler.limit, "dns_forwarded": dns_forwarded(container)}


def rows_of(entry: dict, count: int) -> list[list]:
    """Stage, service, CPU ms per message: the services of each phase, the queue run, what ran outside both."""
    rows = []
    for stage, usec in (("SMTP", entry["smtp_usec"]), ("delivery", entry["delivery_usec"])):
        services = {k: v for k, v in usec.items() if k != "TOTAL"}
        # the mail's services, and any other that used half a millisecond a message or more
        mail = {k: v for k, v in services.items() if k in MAIL_SERVICES or per_message(v, count) >= 0.5}
        for name, value in sorted(mail.items(), key=lambda kv: -kv[1]):
            rows.append([stage, name, per_message(value, count)])
        other = sum(v for k, v in services.items() if k not in mail)
        if other:
            rows.append([stage, "other services", per_message(other, count)])
        queue_run_usec = entry["queue_run"]["cpu_usec"] if stage == "delivery" else 0
        if queue_run_usec:
            rows.append([stage, "queue run (sendmail -qf, the local mailer, its filters)", per_message(queue_run_usec, count)])
        rest = usec.get("TOTAL", 0) - sum(services.values()) - queue_run_usec
        if rest > 0:
            rows.append([stage, "outside the services (the load generator, podman exec)", per_message(rest, count)])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--variants", default="off,on")
    parser.add_argument("--source", default="127.0.0.5",
                        help="the client address: no relay rights, scanned by spamass-milter, never banned by the lab's fail2ban")
    parser.add_argument("--sender", default="alice@outside.example", help="envelope sender of the messages")
    parser.add_argument("--stall", type=float, default=120)
    parser.add_argument("--vars", default="{}", help="more site.yml variables (JSON) for every variant")
    parser.add_argument("--pod", default="homelab-bench")
    parser.add_argument("--prefix", default="bench-")
    parser.add_argument("--output", default="profile")
    args = parser.parse_args()

    lab = Lab(pod=args.pod, prefix=args.prefix)
    inv = lab.inventory()
    container = lab.container(lab.mail_servers[0])
    if not lab.exists():
        log("starting the benchmark lab and converging it")
        lab.up()
        run_playbook(inv, SITE, log_to=lab.workdir / "profile-first.log")
    cgroup = cgroup_path(container)
    cores = os.cpu_count() or 1
    result = {"benchmark": "profile", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
              "count": args.count, "source": args.source, "load_average_start": load_average(), "variants": {}}
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if variant not in ("off", "on"):
            raise SystemExit(f"unknown variant {variant}")
        result["variants"][variant] = profile_variant(lab, inv, container, cgroup, args, variant)
    result["load_average_end"] = load_average()
    path = save(args.output, result)

    for variant, entry in result["variants"].items():
        rows = rows_of(entry, args.count)
        total = round(sum(r[2] for r in rows), 2)
        stages = {}
        for stage, _name, ms in rows:
            stages[stage] = round(stages.get(stage, 0) + ms, 2)
        top = max(rows, key=lambda r: r[2]) if rows else ["", "", 0]
        print(f"\n{variant}: {args.count} messages from {args.source}, accepted {entry['send']['accepted']} in "
              f"{entry['send']['send_seconds']} s; delivered {entry['collect']['delivered']}, lost {entry['collect']['lost']}, "
              f"duplicated {entry['collect']['duplicates']}; processes at peak {entry['pids_peak']} of {entry['pids_max']}")
        print(table(["stage", "service", "CPU ms per message"], rows + [["all", "", total]]))
        print(f"{variant}: " + ", ".join(f"{s} {ms} ms" for s, ms in stages.items())
              + f"; at {total} CPU ms a message {cores} cores allow at most {round(cores * 1000 / total, 1) if total else '-'}"
              f" msg/s; the largest share: {top[0]} {top[1]} ({top[2]} ms)")
    print(f"\nresults: {path.relative_to(ROOT)}; logs: {lab.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

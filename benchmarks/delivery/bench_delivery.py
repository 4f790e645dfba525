"""Delivery throughput of the configured server, next to stock Debian sendmail.

  .venv/bin/python benchmarks/delivery/bench_delivery.py [--count 2000] [--concurrency 10]
      [--variants stock,off,on] [--vars '{"sendmail_connection_rate_throttle": 0}']

Variants (run in the order given, in one run of this script):
  stock  bench-stock: a container of its own (own network namespace) with Debian's sendmail
         and procmail packages installed and nothing configured; mail to local users.
  off    the benchmark lab's bigboy as site.yml configures it (spam filtering off).
  on     the same with spam filtering: site.yml with mailserver_spamassassin=true (where
         site.yml has that switch), else benchmarks/delivery/spam.yml applies the spamassassin
         role and its procmail recipe goes to site.yml as sendmail_procmail_recipes.
  off    uses mailserver_spamassassin=false (or sendmail_procmail_recipes=[]); the other
         parts site.yml configures (milters, Dovecot) stay as the inventory has them.
Each variant: the load generator (loadgen.py) runs inside the container, sends COUNT
messages over SMTP to 127.0.0.1:25 from a trusted address with CONCURRENCY clients, to
local and virtual addresses, and waits until every message is in its mailbox. Prints a
table; writes benchmarks/results/delivery.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import (  # noqa: E402
    ROOT,
    Lab,
    load_average,
    log,
    machine,
    podman_exec,
    project_env,
    run_playbook,
    save,
    table,
)

HERE = Path(__file__).resolve().parent
LOADGEN = (HERE / "loadgen.py").read_text(encoding="utf-8")
SITE = ROOT / "site.yml"
STOCK = "bench-stock"
STOCK_FQDN = "stock.bench.invalid"
IMAGE = "localhost/homelab-mailserver-base:trixie"
USERS = ["marc", "peter", "mary", "paul", "john1", "john2", "grandma", "sister"]
# bigboy: four local addresses (host name, no virtusertable) and four virtual ones.
LAB_RCPTS = [
    "marc@bigboy.my-site.com=marc",
    "finance@my-site.com=paul",
    "peter@bigboy.my-site.com=peter",
    "john@my-site.com=john1",
    "mary@bigboy.my-site.com=mary",
    "john@another-site.com=john2",
    "grandma@bigboy.my-site.com=grandma",
    "sister@my-site.com=sister",
]
STOCK_RCPTS = [f"{u}@{STOCK_FQDN}={u}" for u in USERS]


def sh(container: str, script: str, check: bool = True, timeout: float | None = None):
    return podman_exec(container, ["sh", "-c", script], check=check, timeout=timeout)


def stock_up(cache: Path) -> dict:
    """bench-stock: Debian's sendmail and procmail installed, nothing configured."""
    env = project_env()
    if subprocess.run(["podman", "container", "exists", STOCK], env=env, check=False).returncode != 0:
        log("starting bench-stock")
        cache.joinpath("partial").mkdir(parents=True, exist_ok=True)
        subprocess.run(["podman", "run", "-d", "--name", STOCK, "--hostname", STOCK_FQDN, "--cap-add", "SYS_PTRACE",
                        "--systemd", "always", "-v", f"{cache}:/var/cache/apt/archives:rw", IMAGE, "/sbin/init"],
                       env=env, check=True, capture_output=True)
        sh(STOCK, "systemctl is-system-running --wait || true")
    start = time.monotonic()
    if sh(STOCK, "dpkg -s sendmail procmail >/dev/null 2>&1", check=False).returncode != 0:
        log("installing sendmail and procmail in bench-stock")
        sh(STOCK, "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q sendmail procmail",
           timeout=900)
    for user in USERS:
        sh(STOCK, f"id {user} >/dev/null 2>&1 || useradd -m {user}")
    sh(STOCK, "systemctl start sendmail")
    versions = sh(STOCK, "dpkg-query -W -f '${Package} ${Version}\\n' sendmail-bin procmail").stdout.split("\n")
    return {"install_seconds": round(time.monotonic() - start, 1), "packages": [v for v in versions if v]}


def site_switch() -> bool:
    """Does site.yml switch SpamAssassin itself (mailserver_spamassassin)?"""
    return any("mailserver_spamassassin" in p.read_text(encoding="utf-8")
               for p in (SITE, ROOT / "playbooks" / "site.yml") if p.exists())


def converge(lab: Lab, inv: Path, extra: dict, tag: str, tags: str = "") -> float:
    res = run_playbook(inv, SITE, extra_vars=extra or None,
                       args=["--limit", "mail_servers"] + (["--tags", tags] if tags else []),
                       log_to=lab.workdir / f"delivery-{tag}.log")
    return res.seconds


def settings(container: str) -> dict:
    """What the running server uses: the settings that bound delivery."""
    script = (
        "grep -E '^O (MaxDaemonChildren|ConnectionRateThrottle|QueueLA|RefuseLA|DeliveryMode|MaxQueueChildren|"
        "MaxRunnersPerQueue|InputMailFilters)=' /etc/mail/sendmail.cf; grep -E '^Mlocal' /etc/mail/sendmail.cf; "
        "grep -h '^LOCKSLEEP' /etc/procmailrc 2>/dev/null || echo 'LOCKSLEEP (procmail default 8)'; "
        "grep -h '^OPTIONS' /etc/default/spamd 2>/dev/null || true"
    )
    lines = sh(container, script, check=False).stdout.strip().splitlines()
    return {"lines": lines}


def clear_mailboxes(container: str) -> None:
    sh(container, "for f in /var/mail/*; do [ -f \"$f\" ] && : > \"$f\"; done; "
                  "rm -f /home/*/Maildir/new/* /home/*/Maildir/cur/* 2>/dev/null; true")


def load(container: str, args, sender: str, rcpts: list[str]) -> dict:
    argv = ["python3", "-", "--count", str(args.count), "--concurrency", str(args.concurrency),
            "--per-session", str(args.per_session), "--from", sender, "--stall", str(args.stall)]
    for rcpt in rcpts:
        argv += ["--rcpt", rcpt]
    before = load_average()
    proc = podman_exec(container, argv, stdin=LOADGEN, timeout=args.count * 5 + 600)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_average_before"] = before
    result["load_average_after"] = load_average()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--per-session", type=int, default=1)
    parser.add_argument("--stall", type=float, default=120)
    parser.add_argument("--variants", default="stock,off,on")
    parser.add_argument("--vars", default="{}", help="extra variables (JSON) for site.yml in the off/on variants")
    parser.add_argument("--spamd-children", type=int, default=5, help="spamassassin_spamd_max_children")
    parser.add_argument("--rbl-checks", action="store_true", help="spamassassin_rbl_checks (DNS leaves the lab)")
    parser.add_argument("--tags", default="",
                        help="converge the variants with these site.yml tags only, e.g. sendmail,spamassassin")
    parser.add_argument("--no-restore", action="store_true", help="leave the last variant converged")
    parser.add_argument("--pod", default="homelab-bench", help="the benchmark lab's pod")
    parser.add_argument("--prefix", default="bench-", help="prefix of the benchmark lab's container names")
    parser.add_argument("--output", default="delivery", help="results file name under benchmarks/results/")
    args = parser.parse_args()
    extra = json.loads(args.vars)

    lab = Lab(pod=args.pod, prefix=args.prefix)
    inv = lab.inventory()
    server = lab.mail_servers[0]
    container = lab.container(server)
    result = {"benchmark": "delivery", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
              "count": args.count, "concurrency": args.concurrency, "per_session": args.per_session,
              "extra_vars": extra, "load_average_start": load_average(), "variants": {}}
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if any(v != "stock" for v in variants) and not lab.exists():
        log("starting the benchmark lab and converging it")
        lab.up()
        run_playbook(inv, SITE, log_to=lab.workdir / "delivery-first.log")

    for variant in variants:
        entry = {}
        if variant == "stock":
            entry["setup"] = stock_up(ROOT / ".cache" / "apt" / "bench-stock-trixie")
            target, sender, rcpts = STOCK, f"marc@{STOCK_FQDN}", STOCK_RCPTS
        elif variant in ("off", "on"):
            site_vars = dict(extra)
            if site_switch():
                # site.yml applies the spamassassin role itself and wires its recipe.
                site_vars["mailserver_spamassassin"] = variant == "on"
                if variant == "on":
                    site_vars.setdefault("spamassassin_spamd_max_children", args.spamd_children)
                    site_vars.setdefault("spamassassin_rbl_checks", args.rbl_checks)
            elif variant == "on":
                recipe_file = lab.workdir / "spam-recipe"
                spam = run_playbook(inv, HERE / "spam.yml", args=["--limit", "mail_servers"],
                                    extra_vars={"bench_spamd_children": args.spamd_children,
                                                "bench_rbl_checks": args.rbl_checks,
                                                "bench_recipe_file": str(recipe_file)},
                                    log_to=lab.workdir / "delivery-spam.log")
                entry["spam_setup_seconds"] = round(spam.seconds, 1)
                site_vars["sendmail_procmail_recipes"] = [recipe_file.read_text(encoding="utf-8")]
            else:
                site_vars.setdefault("sendmail_procmail_recipes", [])
            entry["site_vars"] = site_vars
            entry["converge_seconds"] = round(converge(lab, inv, site_vars, variant, args.tags), 1)
            target, sender, rcpts = container, "marc@my-site.com", LAB_RCPTS
        else:
            raise SystemExit(f"unknown variant {variant}")
        entry["settings"] = settings(target)
        clear_mailboxes(target)
        log(f"{variant}: sending {args.count} messages, concurrency {args.concurrency}")
        entry["result"] = load(target, args, sender, rcpts)
        r = entry["result"]
        log(f"{variant}: {r['delivered']}/{r['count']} delivered in {r['end_to_end_seconds']} s = "
            f"{r['msg_per_s']} msg/s, lost {r['lost']}")
        result["variants"][variant] = entry

    if "on" in variants and variants[-1] == "on" and not args.no_restore:
        log("converging the lab back to spam filtering off")
        off = {"mailserver_spamassassin": False} if site_switch() else {"sendmail_procmail_recipes": []}
        converge(lab, inv, dict(extra, **off), "restore", args.tags)
    result["load_average_end"] = load_average()
    path = save(args.output, result)

    print()
    rows = []
    for name, entry in result["variants"].items():
        r = entry["result"]
        rows.append([name, r["count"], r["accepted"], r["retries"], r["delivered"], r["lost"], r["wrong_mailbox"],
                     r["duplicates"],
                     r["send_seconds"], r["accept_rate"], r["end_to_end_seconds"], r["msg_per_s"],
                     " ".join(map(str, r["load_average_before"]))])
    print(f"Delivery over SMTP, concurrency {args.concurrency}, {args.per_session} message(s) per session")
    print(table(["variant", "sent", "accepted", "retries", "delivered", "lost", "wrong box", "dups", "send s", "accept/s",
                 "end-to-end s", "msg/s", "load before"], rows))
    for name, entry in result["variants"].items():
        print(f"\n{name}: " + "; ".join(entry["settings"]["lines"]))
    print(f"\nresults: {path.relative_to(ROOT)}; logs: {lab.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

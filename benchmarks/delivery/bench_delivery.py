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
messages over SMTP to 127.0.0.1:25 from --source (127.0.0.1, a trusted address, unless
given) with CONCURRENCY clients, to local and virtual addresses, and waits until every
message is in its mailbox. Prints a table; writes benchmarks/results/delivery.json.
Before each load on a lab the benchmark adds DNS_CONF to the lab's name server (below): the
client's lookups are answered in the lab, and "DNS out" counts the queries that still left it.

Side by side with an earlier commit (--baseline REF): the off and on variants also run on
REF's server, in the same run: REF checked out as a git worktree (--baseline-dir), its own
lab (pod homelab-bench-delivery-baseline, containers benchd-*) started with REF's lab.yml
and converged with REF's site.yml and inventory. Per variant both labs are converged first,
then the load runs on REF's server, then on this tree's (one at a time, so that they do not
share the CPU). The process count of each server's container is sampled every second from
the host (peak against its pids limit). The table gives this tree's rate as a multiple of
REF's, against the targets (off 2x, on 2.5x, at most 25 % of the pids limit, nothing lost
or duplicated).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import (  # noqa: E402
    ROOT,
    Lab,
    PidSampler,
    cgroup_path,
    load_average,
    log,
    machine,
    podman_exec,
    project_env,
    run_playbook,
    save,
    table,
)
from converge.bench_converge import Tree, TreeLab, add_baseline_arguments, baseline_tree  # noqa: E402

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
# Side by side with --baseline: this tree's rate at least so many times the baseline's, and the
# process count at most this share of the container's pids limit.
TARGETS = {"off": 2.0, "on": 2.5}
PIDS_SHARE_MAX = 0.25


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


def site_switch(root: Path = ROOT) -> bool:
    """Does the tree's site.yml switch SpamAssassin itself (mailserver_spamassassin)?"""
    return any("mailserver_spamassassin" in p.read_text(encoding="utf-8")
               for p in (root / "site.yml", root / "playbooks" / "site.yml") if p.exists())


def converge(lab: Lab, inv: Path, extra: dict, tag: str, tags: str = "", tree: Tree | None = None) -> float:
    """site.yml of TREE (this one unless given) on the lab's mail servers, with its environment."""
    tree = tree or Tree(ROOT, "this tree")
    args = ["--limit", "mail_servers"] + (["--tags", tags] if tags else [])
    return tree.run(inv, tree.site, extra_vars=extra or None, args=args, log_to=lab.workdir / f"delivery-{tag}.log").seconds


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


# The benchmark's additions to a lab's name server (dnsmasq on the mail server, playbooks/lab.yml), the same on
# either side of --baseline whatever REF's lab.yml says: the loopback reverse zone, private addresses and plain
# names answered in the lab, the client address named (forward-confirmed, in a zone the lab answers), and every
# query logged, so that each run counts the lookups that left the lab. A forwarded lookup waits on this
# machine's name servers, and one lost answer holds every session asking the same name for the resolver's
# 5 s timeout (dnsmasq sends one query upstream for all of them): the rate is then the network's, not the
# server's.
DNS_CONF = "/etc/dnsmasq.d/bench.conf"
DNS_LOG = "/var/log/dnsmasq-bench.log"
CLIENT_NAME = "client.another-web-site.example"


def lab_dns(container: str, source: str) -> None:
    """Write DNS_CONF (see above) on CONTAINER, empty its query log and restart dnsmasq."""
    lines = ["domain-needed", "bogus-priv", "local=/127.in-addr.arpa/", "log-queries", f"log-facility={DNS_LOG}"]
    if source != "127.0.0.1":
        lines.append(f"host-record={CLIENT_NAME},{source}")
    conf = "\n".join(lines) + "\n"
    sh(container, f"printf %s {shlex.quote(conf)} > {DNS_CONF} && : > {DNS_LOG} && systemctl restart dnsmasq")


def dns_forwarded(container: str) -> dict[str, int]:
    """Names the lab's name server forwarded out of the lab since lab_dns(), with how often."""
    out = sh(container, f"grep -o ' forwarded [^ ]*' {DNS_LOG} || true").stdout
    return dict(Counter(line.split()[-1] for line in out.splitlines()))


def load(container: str, args, sender: str, rcpts: list[str], source: str = "127.0.0.1") -> dict:
    argv = ["python3", "-", "--count", str(args.count), "--concurrency", str(args.concurrency),
            "--per-session", str(args.per_session), "--from", sender, "--stall", str(args.stall)]
    if source != "127.0.0.1":
        argv += ["--bind", source, "--helo", sender.rpartition("@")[2]]
    for rcpt in rcpts:
        argv += ["--rcpt", rcpt]
    lab = container != STOCK
    if lab:
        lab_dns(container, source)
    before = load_average()
    sampler = PidSampler(cgroup_path(container))
    sampler.start()
    try:
        proc = podman_exec(container, argv, stdin=LOADGEN, timeout=args.count * 5 + 600)
    finally:
        sampler.stop.set()
        sampler.join()
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_average_before"] = before
    result["load_average_after"] = load_average()
    result["pids_peak"], result["pids_max"] = sampler.peak, sampler.limit
    if lab:
        forwarded = dns_forwarded(container)
        result["dns_forwarded"], result["dns_forwarded_names"] = sum(forwarded.values()), forwarded
    return result


def variant_vars(root: Path, variant: str, args, extra: dict) -> dict:
    """site.yml variables of the off or on variant for the tree at root (site.yml's switch)."""
    site_vars = dict(extra)
    site_vars["mailserver_spamassassin"] = variant == "on"
    if variant == "on":
        site_vars.setdefault("spamassassin_spamd_max_children", args.spamd_children)
        site_vars.setdefault("spamassassin_rbl_checks", args.rbl_checks)
    if args.source != "127.0.0.1":
        site_vars.setdefault("milter_greylist_whitelist_addresses", greylist_whitelist(root, args.source))
    return site_vars


def greylist_whitelist(root: Path, source: str) -> list[str]:
    """The tree's lab whitelist of milter-greylist with SOURCE added: greylisting still runs, and lets the
    benchmark's client through at once."""
    host_vars = yaml.safe_load((root / "inventories/lab/host_vars/bigboy.my-site.com/main.yml").read_text(encoding="utf-8"))
    return host_vars.get("milter_greylist_whitelist_addresses", []) + [source + "/32"]


def side_by_side(args, extra: dict, variants: list[str], current: tuple[Lab, Path]) -> dict:
    """The off and on variants on the baseline's server and on this tree's, in this run (see --baseline)."""
    if args.baseline_pod == args.pod or args.baseline_prefix == args.prefix:
        raise SystemExit("the baseline lab needs a pod and a container prefix of its own")
    tree = baseline_tree(args.baseline, args.baseline_dir)
    if not site_switch(tree.root):
        raise SystemExit(f"{args.baseline}: its site.yml has no mailserver_spamassassin switch; --baseline needs it")
    base_lab = TreeLab(tree, pod=args.baseline_pod, prefix=args.baseline_prefix)
    base_inv = base_lab.inventory()
    if not base_lab.exists():
        log(f"starting the baseline lab {base_lab.pod} ({tree.label}) and converging it")
        base_lab.up()
        tree.run(base_inv, tree.site, log_to=base_lab.workdir / "delivery-first.log")
    here = Tree(ROOT, "this tree", commit=subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], text=True,
                                                         capture_output=True, check=True).stdout.strip())
    sides = [("baseline", tree, base_lab, base_inv), ("current", here, current[0], current[1])]
    out = {"baseline": {**tree.describe(), "lab": base_lab.pod, "dirty": tree.dirty, "logs": str(base_lab.workdir)},
           "current": {**here.describe(), "lab": current[0].pod, "logs": str(current[0].workdir)},
           "source": args.source, "sender": args.sender, "variants": {}}
    for variant in variants:
        if variant not in TARGETS:
            raise SystemExit(f"--baseline runs the variants {', '.join(TARGETS)}, not {variant}")
        entry = {}
        for side, side_tree, lab, inv in sides:
            site_vars = variant_vars(side_tree.root, variant, args, extra)
            log(f"{variant}: converging {side} ({side_tree.label}) with {site_vars}")
            seconds = converge(lab, inv, site_vars, f"{side}-{variant}", args.tags, tree=side_tree)
            entry[side] = {"site_vars": site_vars, "converge_seconds": round(seconds, 1)}
        for side, _tree, lab, _inv in sides:
            container = lab.container(lab.mail_servers[0])
            entry[side]["settings"] = settings(container)
            clear_mailboxes(container)
            log(f"{variant}: {side}: sending {args.count} messages from {args.source}, concurrency {args.concurrency}")
            r = entry[side]["result"] = load(container, args, args.sender, LAB_RCPTS, args.source)
            log(f"{variant}: {side}: {r['delivered']}/{r['count']} delivered in {r['end_to_end_seconds']} s = "
                f"{r['msg_per_s']} msg/s, lost {r['lost']}, duplicated {r['duplicates']}, "
                f"processes at peak {r['pids_peak']} of {r['pids_max']}")
        entry["verdict"] = verdict(variant, entry["baseline"]["result"], entry["current"]["result"])
        out["variants"][variant] = entry
    if not args.no_restore:
        for side, side_tree, lab, inv in sides:
            log(f"converging {side} back to its inventory")
            converge(lab, inv, dict(extra), f"{side}-restore", args.tags, tree=side_tree)
    return out


def verdict(variant: str, base: dict, cur: dict) -> dict:
    """This tree's rate as a multiple of the baseline's, against the targets."""
    ratio = round(cur["msg_per_s"] / base["msg_per_s"], 2) if base["msg_per_s"] else None
    limit = int(cur["pids_max"]) if str(cur["pids_max"]).isdigit() else None
    checks = {
        "rate": ratio is not None and ratio >= TARGETS[variant],
        "processes": limit is None or cur["pids_peak"] <= PIDS_SHARE_MAX * limit,
        "nothing_lost": cur["lost"] == 0 and cur["duplicates"] == 0 and cur["wrong_mailbox"] == 0,
    }
    if variant == "on":
        # a message the spam filter never saw is no scan: every delivered message carries X-Spam-Status
        checks["all_scanned"] = cur.get("scanned") == cur["delivered"]
    return {"ratio": ratio, "baseline_delivered": base["delivered"], "baseline_scanned": base.get("scanned"),
            "target": TARGETS[variant], "pids_share": round(cur["pids_peak"] / limit, 3) if limit else None,
            "checks": checks, "met": all(checks.values())}


def report_side_by_side(cmp: dict, args) -> None:
    rows = []
    for variant, entry in cmp["variants"].items():
        for side in ("baseline", "current"):
            r = entry[side]["result"]
            label = cmp[side]["label"] + (f" {cmp[side]['commit'][:7]}" if side == "current" else "")
            ratio = "1.00" if side == "baseline" else str(entry["verdict"]["ratio"])
            rows.append([variant, label, r["delivered"], r.get("scanned", "-"), r["lost"], r["wrong_mailbox"],
                         r["duplicates"], r["retries"], r["send_seconds"], r["end_to_end_seconds"], r["msg_per_s"], ratio,
                         f"{r['pids_peak']} / {r['pids_max']}", r.get("dns_forwarded", "-"),
                         " ".join(map(str, r["load_average_before"]))])
    print(f"Side by side, N = {args.count} from {cmp['source']}, concurrency {args.concurrency}, "
          f"{args.per_session} message(s) per session")
    print(table(["variant", "tree", "delivered", "scanned", "lost", "wrong box", "dups", "retries", "send s", "end-to-end s",
                 "msg/s", "x baseline", "processes peak", "DNS out", "load before"], rows))
    for variant, entry in cmp["variants"].items():
        v = entry["verdict"]
        marks = ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in v["checks"].items())
        if v["baseline_delivered"] < args.count:
            print(f"{variant}: the baseline delivered {v['baseline_delivered']} of {args.count} within the run (nothing new"
                  f" for {args.stall} s); its rate counts those only")
        print(f"{variant}: {v['ratio']}x the baseline (target {v['target']}x); processes at peak "
              f"{v['pids_share']} of the limit (at most {PIDS_SHARE_MAX}); {marks}: {'met' if v['met'] else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--per-session", type=int, default=1)
    parser.add_argument("--stall", type=float, default=120)
    parser.add_argument("--variants", default=None, help="stock,off,on (off,on with --baseline)")
    parser.add_argument("--vars", default="{}", help="extra variables (JSON) for site.yml in the off/on variants")
    parser.add_argument("--spamd-children", type=int, default=5, help="spamassassin_spamd_max_children")
    parser.add_argument("--rbl-checks", action="store_true", help="spamassassin_rbl_checks (DNS leaves the lab)")
    parser.add_argument("--tags", default="",
                        help="converge the variants with these site.yml tags only, e.g. sendmail,spamassassin")
    parser.add_argument("--no-restore", action="store_true", help="leave the last variant converged")
    parser.add_argument("--pod", default="homelab-bench", help="the benchmark lab's pod")
    parser.add_argument("--prefix", default="bench-", help="prefix of the benchmark lab's container names")
    parser.add_argument("--output", default=None,
                        help="results file name under benchmarks/results/ (delivery; delivery-vs-baseline with --baseline)")
    parser.add_argument("--source", default="127.0.0.1",
                        help="the client address; another loopback address (127.0.0.5) has no relay rights, "
                             "so spamass-milter scans its mail, and greylisting lets it through")
    parser.add_argument("--sender", default=None,
                        help="envelope sender (marc@my-site.com from 127.0.0.1, else sender@another-web-site.example, "
                             "a domain every lab's name server has had)")
    add_baseline_arguments(parser, "also run the off and on variants on REF's server, on a lab of its own",
                           "bench-delivery-baseline", "homelab-bench-delivery-baseline", "benchd-")
    args = parser.parse_args()
    extra = json.loads(args.vars)
    if args.sender is None:
        args.sender = "marc@my-site.com" if args.source == "127.0.0.1" else "sender@another-web-site.example"
    if args.output is None:
        args.output = "delivery-vs-baseline" if args.baseline else "delivery"

    lab = Lab(pod=args.pod, prefix=args.prefix)
    inv = lab.inventory()
    server = lab.mail_servers[0]
    container = lab.container(server)
    result = {"benchmark": "delivery", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
              "count": args.count, "concurrency": args.concurrency, "per_session": args.per_session,
              "extra_vars": extra, "load_average_start": load_average(), "variants": {}}
    if args.variants is None:
        args.variants = "off,on" if args.baseline else "stock,off,on"
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if any(v != "stock" for v in variants) and not lab.exists():
        log("starting the benchmark lab and converging it")
        lab.up()
        run_playbook(inv, SITE, log_to=lab.workdir / "delivery-first.log")
    if args.baseline:
        result["side_by_side"] = side_by_side(args, extra, variants, (lab, inv))
        result["load_average_end"] = load_average()
        path = save(args.output, result)
        print()
        report_side_by_side(result["side_by_side"], args)
        print(f"\nresults: {path.relative_to(ROOT)}; logs: {lab.workdir}, {result['side_by_side']['baseline']['logs']}")
        return 0

    for variant in variants:
        entry = {}
        if variant == "stock":
            entry["setup"] = stock_up(ROOT / ".cache" / "apt" / "bench-stock-trixie")
            target, sender, rcpts = STOCK, f"marc@{STOCK_FQDN}", STOCK_RCPTS
        elif variant in ("off", "on"):
            if site_switch():
                # site.yml applies the spamassassin role itself and wires its recipe.
                site_vars = variant_vars(ROOT, variant, args, extra)
            elif variant == "on":
                site_vars = dict(extra)
                recipe_file = lab.workdir / "spam-recipe"
                spam = run_playbook(inv, HERE / "spam.yml", args=["--limit", "mail_servers"],
                                    extra_vars={"bench_spamd_children": args.spamd_children,
                                                "bench_rbl_checks": args.rbl_checks,
                                                "bench_recipe_file": str(recipe_file)},
                                    log_to=lab.workdir / "delivery-spam.log")
                entry["spam_setup_seconds"] = round(spam.seconds, 1)
                site_vars["sendmail_procmail_recipes"] = [recipe_file.read_text(encoding="utf-8")]
            else:
                site_vars = dict(extra)
                site_vars.setdefault("sendmail_procmail_recipes", [])
            entry["site_vars"] = site_vars
            entry["converge_seconds"] = round(converge(lab, inv, site_vars, variant, args.tags), 1)
            target, sender, rcpts = container, args.sender, LAB_RCPTS
        else:
            raise SystemExit(f"unknown variant {variant}")
        entry["settings"] = settings(target)
        clear_mailboxes(target)
        log(f"{variant}: sending {args.count} messages, concurrency {args.concurrency}")
        entry["result"] = load(target, args, sender, rcpts, args.source if variant != "stock" else "127.0.0.1")
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
                     r.get("dns_forwarded", "-"), " ".join(map(str, r["load_average_before"]))])
    print(f"Delivery over SMTP, concurrency {args.concurrency}, {args.per_session} message(s) per session")
    print(table(["variant", "sent", "accepted", "retries", "delivered", "lost", "wrong box", "dups", "send s", "accept/s",
                 "end-to-end s", "msg/s", "DNS out", "load before"], rows))
    for name, entry in result["variants"].items():
        print(f"\n{name}: " + "; ".join(entry["settings"]["lines"]))
    print(f"\nresults: {path.relative_to(ROOT)}; logs: {lab.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

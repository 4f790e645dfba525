"""What a converge of site.yml costs, on the benchmark's own lab (see benchmarks/README.md).

  .venv/bin/python benchmarks/converge/bench_converge.py [--stages fresh,nochange,scale]
      [--reuse] [--repeats 2] [--scales 0,1,10,100] [--scale-args '--tags resolver,sendmail']

1. Fresh lab (removed and started again): the first site.yml run, split into package
   installation (apt/package/dnf tasks) and the rest.
2. Configured lab: the second, no-change run of site.yml, its task count, changed tasks and
   handlers, next to the floor: a generated playbook with one ansible.builtin.stat task for every
   task the no-change run executed, on the same hosts (per task) and connection. Runs alternate
   (site, floor, site, floor, ...) so both see the same machine load. The no-change run is also
   timed with gathering=smart (facts gathered once per host and run, not once per play).
3. Scale by domains: the no-change run with 0, 1, 10, 100 extra mail domains of 100 virtual
   addresses each in group_vars (each scale is converged first, then timed without changes).
Prints tables; writes benchmarks/results/converge.json after each stage (a stage not run keeps
the figures the file has).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import RESULTS, ROOT, Lab, load_average, log, machine, median, run_playbook, save, table  # noqa: E402

SITE = ROOT / "site.yml"


def floor_playbook(result, path: Path) -> int:
    """One play per play of the run, one stat task per executed task, on the hosts that ran it."""
    plays = []
    count = 0
    for play in result.data["plays"]:
        hosts = sorted({h for t in play["tasks"] for h in t["hosts"]})
        if not hosts:
            continue
        tasks = []
        for task in play["tasks"]:
            ran = sorted(h for h, res in task["hosts"].items() if not res.get("skipped"))
            if not ran:
                continue
            count += 1
            stat = {
                "name": f"Floor {count}: stat ({task['task']['name'][:60]})",
                "ansible.builtin.stat": {"path": "/etc/hostname"},
            }
            if ran != hosts:
                stat["when"] = f"inventory_hostname in {ran}"
            tasks.append(stat)
        plays.append({"name": f"Floor for: {play['play']['name']}", "hosts": hosts, "gather_facts": False,
                      "tasks": tasks})
    path.write_text("---\n" + yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    return count


def fresh(lab: Lab, inv: Path) -> dict:
    log("removing and starting the benchmark lab (pod %s)" % lab.pod)
    lab.down()
    lab_seconds = lab.up()
    log(f"lab started in {lab_seconds:.0f} s; first site.yml run")
    first = run_playbook(inv, SITE, log_to=lab.workdir / "site-first.log")
    summary = first.summary()
    summary["rest_seconds"] = round(summary["seconds"] - summary["package_seconds"], 2)
    summary["lab_start_seconds"] = round(lab_seconds, 2)
    summary["load_average"] = load_average()
    summary["package_tasks"] = [
        {"name": r["name"], "seconds": round(r["seconds"], 2), "hosts": r["hosts"]}
        for r in first.tasks() if r["seconds"] and r["action"].endswith(("apt", "package", "dnf", "yum"))
    ]
    log(f"first run {summary['seconds']} s (packages {summary['package_seconds']} s)")
    return summary


def no_change(lab: Lab, inv: Path, repeats: int) -> dict:
    # One run to be sure the lab is converged, and to learn the task list for the floor.
    probe = run_playbook(inv, SITE, log_to=lab.workdir / "site-probe.log")
    log(f"second run {probe.seconds:.1f} s, changed {probe.summary()['changed']}")
    floor_path = lab.workdir / "floor.yml"
    n_floor = floor_playbook(probe, floor_path)
    variants = {
        "site.yml": {},
        "site.yml, gathering=smart": {"ANSIBLE_GATHERING": "smart"},
    }
    times = {name: [] for name in variants}
    times["floor (stat tasks)"] = []
    summaries = {}
    loads = []
    settled = probe.summary()["changed"] == 0
    if settled:
        # The lab was converged already: this run is the first no-change sample.
        times["site.yml"].append(probe.seconds)
        summaries["site.yml"] = probe.summary()
    for index in range(repeats):
        for name, env in variants.items():
            if settled and index == 0 and name == "site.yml":
                continue
            res = run_playbook(inv, SITE, env_extra=env, log_to=lab.workdir / f"site-nochange-{index}-{len(times[name])}.log")
            times[name].append(res.seconds)
            summaries[name] = res.summary()
            log(f"no-change [{name}] {res.seconds:.1f} s, changed {summaries[name]['changed']}")
        res = run_playbook(inv, floor_path, log_to=lab.workdir / f"floor-{index}.log")
        times["floor (stat tasks)"].append(res.seconds)
        summaries["floor (stat tasks)"] = res.summary()
        loads.append(load_average())
        log(f"floor {res.seconds:.1f} s")
    floor = median(times["floor (stat tasks)"])
    rows = {}
    for name, values in times.items():
        s = summaries[name]
        rows[name] = {
            "seconds_median": median(values),
            "seconds_all": [round(v, 2) for v in values],
            "tasks": s["tasks"],
            "host_tasks": s["host_tasks"],
            "loop_items": s["loop_items"],
            "changed": s["changed"],
            "handlers": s["handlers"],
            "per_task": round(median(values) / max(s["tasks"], 1), 3),
            "vs_floor": round(median(values) / floor, 2) if floor else None,
        }
    slowest = sorted(probe.tasks(), key=lambda r: r["seconds"], reverse=True)[:12]
    second = probe.summary()
    return {
        "second_run": {k: second[k] for k in ("seconds", "tasks", "changed", "handlers")},
        "floor_tasks": n_floor,
        "runs": rows,
        "slowest_tasks": [{"name": r["name"], "action": r["action"], "seconds": round(r["seconds"], 2),
                           "loop_items": r["loop_items"], "hosts": len(r["hosts"])} for r in slowest],
        "load_average": loads,
    }


def scale(lab: Lab, scales: list[int], per_domain: int, extra_args: list[str]) -> list[dict]:
    rows = []
    if max(scales) > 0:
        lab.add_dns([lab.scale_domain(i) for i in range(1, max(scales) + 1)])
    for count in scales:
        inv = lab.inventory(f"scale-{count}", domains=count, per_domain=per_domain)
        log(f"scale {count} domains: converge")
        conv = run_playbook(inv, SITE, args=extra_args, log_to=lab.workdir / f"scale-{count}-converge.log")
        res = run_playbook(inv, SITE, args=extra_args, log_to=lab.workdir / f"scale-{count}-nochange.log")
        s = res.summary()
        tasks = sorted(res.tasks(), key=lambda r: r["seconds"], reverse=True)[:5]
        rows.append({
            "domains": count,
            "entries": count * per_domain,
            "converge_seconds": round(conv.seconds, 2),
            "nochange_seconds": round(res.seconds, 2),
            "tasks": s["tasks"],
            "changed": s["changed"],
            "handlers": s["handlers"],
            "slowest": [{"name": r["name"], "seconds": round(r["seconds"], 2)} for r in tasks],
            "load_average": load_average(),
        })
        log(f"scale {count}: converge {conv.seconds:.1f} s, no-change {res.seconds:.1f} s, changed {s['changed']}")
    return rows


def report(result: dict) -> None:
    if result.get("fresh"):
        f = result["fresh"]
        print("Fresh lab host, first site.yml run")
        print(table(["total s", "package installation s", "rest s", "tasks", "changed", "load avg"],
                    [[f["seconds"], f["package_seconds"], f["rest_seconds"], f["tasks"], f["changed"],
                      " ".join(map(str, f["load_average"]))]]))
        print()
    nc = result.get("no_change")
    if nc:
        print(f"Configured host, no-change run vs floor ({nc['floor_tasks']} stat tasks)")
        print(table(["run", "median s", "all s", "tasks", "loop items", "changed", "handlers", "s/task", "x floor"],
                    [[name, r["seconds_median"], " ".join(map(str, r["seconds_all"])), r["tasks"], r["loop_items"],
                      r["changed"], r["handlers"], r["per_task"], r["vs_floor"]] for name, r in nc["runs"].items()]))
        print()
    if result.get("scale"):
        print(f"Scale by domains (no-change run; ansible-playbook arguments: {result.get('scale_args') or 'none'})")
        ref = next((r for r in result["scale"] if r["entries"]), None)
        rows = []
        for r in result["scale"]:
            grow = round(r["nochange_seconds"] / ref["nochange_seconds"], 2) if ref and r["entries"] else ""
            entries_x = r["entries"] / ref["entries"] if ref and r["entries"] else None
            rows.append([r["domains"], r["entries"], r["converge_seconds"], r["nochange_seconds"], r["changed"],
                         r["handlers"], grow, round(entries_x, 1) if entries_x else ""])
        print(table(["domains", "virtual entries", "converge s", "no-change s", "changed", "handlers",
                     "time x", "entries x"], rows))
        print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default="fresh,nochange,scale",
                        help="stages to run; results of other stages stay as the results file has them")
    parser.add_argument("--reuse", action="store_true", help="skip the fresh stage when the lab exists")
    parser.add_argument("--repeats", type=int, default=2, help="no-change/floor rounds (median is reported)")
    parser.add_argument("--scales", default="0,1,10,100", help="extra mail domains per scale run")
    parser.add_argument("--scale-args", default="",
                        help="extra ansible-playbook arguments for the scale runs, e.g. '--tags resolver,sendmail'")
    parser.add_argument("--per-domain", type=int, default=100, help="virtual addresses per extra domain")
    parser.add_argument("--keep", action="store_true", help="leave the extra domains converged at the end")
    parser.add_argument("--pod", default="homelab-bench", help="the benchmark lab's pod")
    parser.add_argument("--prefix", default="bench-", help="prefix of the benchmark lab's container names")
    parser.add_argument("--output", default="converge", help="results file name under benchmarks/results/")
    args = parser.parse_args()
    stages = {x.strip() for x in args.stages.split(",") if x.strip()}

    lab = Lab(pod=args.pod, prefix=args.prefix)
    inv = lab.inventory()
    path = RESULTS / f"{args.output}.json"
    result = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"benchmark": "converge"}
    result["machine"] = machine()

    def stage(name: str, value) -> None:
        # Read the file again: another run of this script may have saved a stage meanwhile.
        if path.exists():
            result.update({k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items()
                           if k not in (name, f"{name}_date", f"{name}_lab")})
        result[name] = value
        result[f"{name}_date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        result[f"{name}_lab"] = lab.pod
        save(args.output, result)

    if "fresh" in stages and not (args.reuse and lab.exists()):
        stage("fresh", fresh(lab, inv))
    elif not lab.exists():
        log("starting the benchmark lab and converging it")
        lab.up()
        run_playbook(inv, SITE, log_to=lab.workdir / "site-setup.log")
    if "nochange" in stages:
        stage("no_change", no_change(lab, inv, args.repeats))
    scales = [int(x) for x in args.scales.split(",") if x.strip()]
    if "scale" in stages and scales:
        stage("scale", scale(lab, scales, args.per_domain, shlex.split(args.scale_args)))
        stage("scale_args", args.scale_args)
        if not args.keep:
            log("converging back to the lab inventory (extra domains removed)")
            run_playbook(inv, SITE, args=shlex.split(args.scale_args), log_to=lab.workdir / "scale-restore.log")

    print()
    report(result)
    print(f"results: {path.relative_to(ROOT)}; logs: {lab.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

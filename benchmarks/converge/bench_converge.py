"""What a converge of site.yml costs, on the benchmark's own lab (see benchmarks/README.md).

  .venv/bin/python benchmarks/converge/bench_converge.py [--stages fresh,nochange,scale]
      [--reuse] [--repeats 2] [--scales 0,1,10,100] [--scale-args '--tags resolver,sendmail']
      [--baseline REF [--no-floor]]

1. Fresh lab (removed and started again): the first site.yml run, split into package
   installation (apt/package/dnf tasks) and the rest.
2. Configured lab: the second, no-change run of site.yml, its task count, changed tasks and
   handlers, next to the floor: a generated playbook with one ansible.builtin.stat task for every
   task the no-change run executed, on the same hosts (per task) and connection. Runs alternate
   (site, floor, site, floor, ...) so both see the same machine load. The no-change run is also
   timed with gathering=smart (facts gathered once per host and run, not once per play).
   With --baseline REF, the same stage also runs REF's site.yml on a lab of its own, side by side:
   REF is checked out as a git worktree (--baseline-dir, default ../bench-baseline next to this
   tree; reused when it is there at REF's commit), with this tree's .venv linked in and its own
   build/collections link, so homelab.mailserver.* resolves to REF's roles and plugins. Its lab
   (pod homelab-bench-baseline, containers benchb-*) is started with REF's playbooks/lab.yml and
   converged with REF's site.yml; every ansible-playbook of a side runs with that tree's
   scripts/env.sh (ANSIBLE_CONFIG, ANSIBLE_COLLECTIONS_PATH). The no-change runs alternate
   (REF, this tree, ...); the table compares tasks, changed, handlers and median time with
   REF's, against the no-change target. --no-floor leaves the floor and
   gathering=smart runs out (the no_change figures in the results file stay as they are).
3. Scale by domains: the no-change run with 0, 1, 10, 100 extra mail domains of 100 virtual
   addresses each in group_vars (each scale is converged first, then timed without changes).
Prints tables; writes benchmarks/results/converge.json after each stage (a stage not run keeps
the figures the file has).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import (  # noqa: E402
    LAB_INVENTORY,
    RESULTS,
    ROOT,
    Lab,
    PlaybookResult,
    load_average,
    log,
    machine,
    median,
    project_env,
    run_playbook,
    save,
    table,
)

# The no-change target for the run of the working tree next to the baseline's.
TARGET = {"tasks_max": 100, "time_ratio_max": 0.6, "changed": 0, "handlers": 0}
# Variables that bash sets by itself: not part of what a tree's scripts/env.sh exports.
SHELL_VARS = {"_", "SHLVL", "PWD", "OLDPWD"}


class Tree:
    """A checkout of the project whose playbooks a lab runs: this working tree, or a git worktree of
    another commit. Every ansible-playbook of a tree runs with the environment of its own
    scripts/env.sh (ANSIBLE_CONFIG, ANSIBLE_COLLECTIONS_PATH, CONTAINERS_CONF, vault password file),
    so homelab.mailserver.* and homelab.mailserver_lab.* resolve to that tree's files."""

    def __init__(self, root: Path, label: str, commit: str = "", ref: str = ""):
        self.root = root.resolve()
        self.label = label
        self.commit = commit
        self.ref = ref
        self.dirty = False  # a baseline worktree with local changes (see baseline_tree)
        self.env = {} if self.root == ROOT else tree_env(self.root)
        self.site = self.root / "site.yml"

    def run(self, inventory: Path, playbook: Path, env_extra: dict | None = None, check: bool = True, **kwargs) -> PlaybookResult:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = run_playbook(inventory, playbook, env_extra={**self.env, **(env_extra or {})}, check=False, **kwargs)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time of ansible-playbook and everything it started and waited for: its workers, and
        # through the nsenter connection the modules' Python inside the containers. Less sensitive
        # to the machine's load than the wall time (other processes' CPU is not counted).
        result.cpu_seconds = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if check and result.rc != 0:
            raise SystemExit(f"[{self.label}] {playbook} failed (rc {result.rc}); log: {result.log_path}\n" + failures(result))
        return result

    def describe(self) -> dict:
        return {"label": self.label, "tree": str(self.root), "ref": self.ref, "commit": self.commit,
                "ansible_config": self.env.get("ANSIBLE_CONFIG") or project_env().get("ANSIBLE_CONFIG"),
                "collections_path": self.env.get("ANSIBLE_COLLECTIONS_PATH")
                or project_env().get("ANSIBLE_COLLECTIONS_PATH")}


def failures(result: PlaybookResult) -> str:
    """The failed tasks of a run, one line each (the json callback leaves stderr empty)."""
    lines = []
    for play in (result.data or {}).get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                if res.get("failed") or res.get("unreachable"):
                    msg = str(res.get("msg") or res.get("stderr") or res.get("module_stderr") or "")
                    lines.append(f"  {host}: {task['task']['name']}: {msg[:500]}")
    if lines:
        return "\n".join(lines)
    text = result.log_path.read_text(encoding="utf-8", errors="replace")
    return text[-2000:]


def tree_env(root: Path) -> dict:
    """What `source ROOT/scripts/env.sh` of another checkout sets, as differences from this process's
    environment. Variables that point into this tree are dropped first, so that the other tree's
    env.sh sets its own (its `${VAR:-default}` ones included)."""
    mine = str(ROOT) + os.sep
    base = {k: v for k, v in os.environ.items() if k == "PATH" or not v.startswith(mine)}
    proc = subprocess.run(["bash", "-c", 'source "$1" >/dev/null && env -0', "env.sh", str(root / "scripts" / "env.sh")],
                          env=base, capture_output=True, check=True)
    env = dict(item.split("=", 1) for item in proc.stdout.decode().split("\0") if "=" in item)
    out = {k: v for k, v in env.items() if k not in SHELL_VARS and os.environ.get(k) != v}
    for key in ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH"):
        if not out.get(key, "").startswith(str(root)):
            raise SystemExit(f"{root}/scripts/env.sh does not set {key} to its own tree (got {env.get(key)!r})")
    return out


def git(*argv: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), *argv], text=True, capture_output=True, check=False)
    if check and proc.returncode:
        raise SystemExit(f"git {' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def worktree_heads() -> dict[str, str]:
    """Path -> HEAD commit of each git worktree of this repository (`git worktree list`)."""
    heads, path = {}, None
    for line in git("worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            path = str(Path(line.split(" ", 1)[1]).resolve())
        elif line.startswith("HEAD ") and path:
            heads[path] = line.split(" ", 1)[1]
    return heads


def baseline_tree(ref: str, where: Path) -> Tree:
    """REF checked out (detached) as a git worktree at `where`, created or reused; the only git
    command that changes anything is `git worktree add`, and it leaves this tree's branch and index
    alone. The worktree gets this tree's .venv (a link: the same Python tools) and its own
    build/collections link (as scripts/bootstrap.sh makes it), so homelab.mailserver resolves to it."""
    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not commit:
        raise SystemExit(f"--baseline {ref}: no such commit in {ROOT}")
    where = where.resolve()
    if where == ROOT:
        raise SystemExit("--baseline-dir must not be this working tree")
    heads = worktree_heads()
    if str(where) in heads:
        if heads[str(where)] != commit:
            raise SystemExit(f"{where} is a worktree at {heads[str(where)][:7]}, not at {ref} ({commit[:7]}): "
                             f"remove it (git worktree remove {where}) or pass another --baseline-dir")
        log(f"reusing the worktree {where} at {commit[:7]}")
    elif where.exists():
        raise SystemExit(f"{where} exists and is not a worktree of {ROOT}: pass another --baseline-dir")
    else:
        log(f"git worktree add --detach {where} {commit[:7]}")
        git("worktree", "add", "--detach", str(where), commit)
    dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                           text=True, capture_output=True, check=True).stdout.strip()
    if dirty:
        log(f"warning: the baseline worktree has local changes, its figures are not {ref}'s:\n{dirty}")
    venv = where / ".venv"
    if not venv.exists():
        venv.symlink_to((ROOT / ".venv").resolve())
    link = where / "build" / "collections" / "ansible_collections" / "homelab" / "mailserver"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() != where:
        link.unlink()
    if not link.exists():
        link.symlink_to("../../../..")
    if link.resolve() != where:
        raise SystemExit(f"{link} does not lead to {where}")
    short = git("rev-parse", "--short", commit)
    tree = Tree(where, f"baseline {short}", commit=commit, ref=ref)
    tree.dirty = bool(dirty)
    return tree


def add_baseline_arguments(parser, what: str, directory: str, pod: str, prefix: str) -> None:
    """--baseline REF and where its worktree and lab go: WHAT the benchmark does with REF, and the defaults
    (a directory beside this tree, the lab's pod and container prefix), each benchmark its own."""
    parser.add_argument("--baseline", metavar="REF", default=None, help=what + " (a git worktree of REF)")
    parser.add_argument("--baseline-dir", type=Path, default=ROOT.parent / directory,
                        help="where the worktree of REF lives (created, or reused at REF's commit)")
    parser.add_argument("--baseline-pod", default=pod, help="the baseline lab's pod")
    parser.add_argument("--baseline-prefix", default=prefix, help="prefix of the baseline lab's container names")


class TreeLab(Lab):
    """Lab (benchlib) whose inventory, lab.yml and playbook environment are those of `tree`."""

    def __init__(self, tree: Tree, pod: str, prefix: str, workdir: Path | None = None):
        super().__init__(pod=pod, prefix=prefix, workdir=workdir)
        self.tree = tree
        self.lab_inventory = tree.root / "inventories" / "lab"
        if self.lab_inventory != LAB_INVENTORY:
            with open(self.lab_inventory / "hosts.yml", encoding="utf-8") as handle:
                self.lab_hosts_yml = yaml.safe_load(handle)
            self.containers, self.hostnames = {}, {}
            self._walk(self.lab_hosts_yml.get("all", {}))
            self.mail_servers = sorted(
                self.lab_hosts_yml["all"]["children"].get("mail_servers", {}).get("hosts", {}) or {}
            )

    def inventory(self, name: str = "base", domains: int = 0, per_domain: int = 100) -> Path:
        inv = super().inventory(name, domains, per_domain)
        if self.lab_inventory != LAB_INVENTORY:
            # Lab.inventory links this tree's group_vars and host_vars: link the tree's instead.
            for entry in (inv / "group_vars").iterdir():
                if entry.is_symlink():
                    entry.unlink()
            (inv / "host_vars").unlink()
            for src in sorted((self.lab_inventory / "group_vars").iterdir()):
                (inv / "group_vars" / src.name).symlink_to(src.resolve())
            (inv / "host_vars").symlink_to((self.lab_inventory / "host_vars").resolve())
        return inv

    def down(self) -> None:
        self.tree.run(self.inventory(), self.tree.root / "playbooks" / "lab.yml", extra_vars=self.lab_vars("absent"),
                      json_out=False, log_to=self.workdir / "lab-down.log")

    def up(self) -> float:
        self.cache.joinpath("partial").mkdir(parents=True, exist_ok=True)
        result = self.tree.run(self.inventory(), self.tree.root / "playbooks" / "lab.yml",
                               extra_vars=self.lab_vars("started"), json_out=False, log_to=self.workdir / "lab-up.log")
        return result.seconds

    def converge(self, inv: Path) -> None:
        """Start the lab when it is not there, and converge it with the tree's site.yml."""
        if not self.exists():
            log(f"starting the lab {self.pod} ({self.tree.label}) and converging it")
            self.up()
            self.tree.run(inv, self.tree.site, log_to=self.workdir / "site-setup.log")


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


def fresh(lab: TreeLab, inv: Path) -> dict:
    log("removing and starting the benchmark lab (pod %s)" % lab.pod)
    lab.down()
    lab_seconds = lab.up()
    log(f"lab started in {lab_seconds:.0f} s; first site.yml run")
    first = lab.tree.run(inv, lab.tree.site, log_to=lab.workdir / "site-first.log")
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


def side_row(label: str, values: list[float], cpu: list[float], summaries: list[dict], reference: dict | None) -> dict:
    """One side of the comparison: the worst of its timed runs for tasks, changed and handlers."""
    seconds = median(values)
    cpu_seconds = median(cpu)
    return {
        "side": label,
        "tasks": max(s["tasks"] for s in summaries),
        "host_tasks": max(s["host_tasks"] for s in summaries),
        "loop_items": max(s["loop_items"] for s in summaries),
        "changed": max(s["changed"] for s in summaries),
        "handlers": max(s["handlers"] for s in summaries),
        "seconds_median": seconds,
        "seconds_all": [round(v, 2) for v in values],
        "ratio": round(seconds / reference["seconds_median"], 2) if reference else 1.0,
        "cpu_median": cpu_seconds,
        "cpu_all": [round(v, 2) for v in cpu],
        "cpu_ratio": round(cpu_seconds / reference["cpu_median"], 2) if reference and reference["cpu_median"] else 1.0,
    }


def verdict(current: dict) -> dict:
    met = {
        "tasks": current["tasks"] <= TARGET["tasks_max"],
        "time": current["ratio"] <= TARGET["time_ratio_max"],
        "changed": current["changed"] == TARGET["changed"],
        "handlers": current["handlers"] == TARGET["handlers"],
    }
    met["all"] = all(met.values())
    return met


def no_change(lab: TreeLab, inv: Path, repeats: int, baseline: tuple[TreeLab, Path] | None = None,
              floor: bool = True) -> tuple[dict | None, dict | None]:
    """The no-change runs. Returns the floor comparison (None with floor=False) and, with a
    baseline lab, the side-by-side comparison (else None). Every round runs the baseline's site.yml
    first, then this tree's site.yml (and, with floor, the gathering=smart run and the floor)."""
    sides = {"current": (lab, inv)}
    if baseline:
        sides = {"baseline": baseline, **sides}
    # Runs until one changes nothing (at most three) to be sure each lab is converged: a lab last
    # converged by another commit may take a second run (handlers restarting on the first). The
    # current side's last probe also gives the floor's tasks.
    probes, settle = {}, {}
    for key, (side_lab, side_inv) in sides.items():
        settle[key] = []
        for attempt in range(3):
            res = side_lab.tree.run(side_inv, side_lab.tree.site, log_to=side_lab.workdir / f"site-probe-{attempt}.log")
            settle[key].append(res.summary()["changed"])
            log(f"[{side_lab.tree.label}] settling run {attempt + 1}: {res.seconds:.1f} s (cpu {res.cpu_seconds:.1f} s), "
                f"changed {settle[key][-1]}")
            if not settle[key][-1]:
                break
        else:
            log(f"warning: [{side_lab.tree.label}] still changes after three runs: its no-change figures will show it")
        probes[key] = res
    probe = probes["current"]
    floor_path = lab.workdir / "floor.yml"
    n_floor = floor_playbook(probe, floor_path) if floor else 0
    variants = {"site.yml": {}}
    if floor:
        variants["site.yml, gathering=smart"] = {"ANSIBLE_GATHERING": "smart"}
    times = {name: [] for name in variants}
    runs = {name: [] for name in variants}
    times["floor (stat tasks)"] = []
    runs["floor (stat tasks)"] = []
    cpu = {name: [] for name in times}
    base_times, base_cpu, base_runs = [], [], []
    loads = []
    # A probe that changed nothing found its lab converged already: it is the first no-change sample.
    settled = probe.summary()["changed"] == 0
    if settled:
        times["site.yml"].append(probe.seconds)
        cpu["site.yml"].append(probe.cpu_seconds)
        runs["site.yml"].append(probe.summary())
    base_settled = baseline is not None and probes["baseline"].summary()["changed"] == 0
    if base_settled:
        base_times.append(probes["baseline"].seconds)
        base_cpu.append(probes["baseline"].cpu_seconds)
        base_runs.append(probes["baseline"].summary())
    for index in range(repeats):
        if baseline and not (base_settled and index == 0):
            base_lab, base_inv = baseline
            res = base_lab.tree.run(base_inv, base_lab.tree.site,
                                    log_to=base_lab.workdir / f"site-nochange-{index}-{len(base_times)}.log")
            base_times.append(res.seconds)
            base_cpu.append(res.cpu_seconds)
            base_runs.append(res.summary())
            log(f"no-change [{base_lab.tree.label}] {res.seconds:.1f} s (cpu {res.cpu_seconds:.1f} s), changed {base_runs[-1]['changed']}")
        for name, env in variants.items():
            if settled and index == 0 and name == "site.yml":
                continue
            res = lab.tree.run(inv, lab.tree.site, env_extra=env,
                               log_to=lab.workdir / f"site-nochange-{index}-{len(times[name])}.log")
            times[name].append(res.seconds)
            cpu[name].append(res.cpu_seconds)
            runs[name].append(res.summary())
            log(f"no-change [{lab.tree.label}: {name}] {res.seconds:.1f} s (cpu {res.cpu_seconds:.1f} s), changed {runs[name][-1]['changed']}")
        if floor:
            res = lab.tree.run(inv, floor_path, log_to=lab.workdir / f"floor-{index}.log")
            times["floor (stat tasks)"].append(res.seconds)
            runs["floor (stat tasks)"].append(res.summary())
            log(f"floor {res.seconds:.1f} s")
        loads.append(load_average())

    comparison = None
    if baseline:
        base_row = side_row(baseline[0].tree.label, base_times, base_cpu, base_runs, None)
        cur_row = side_row(lab.tree.label, times["site.yml"], cpu["site.yml"], runs["site.yml"], base_row)
        comparison = {
            "baseline": {**baseline[0].tree.describe(), "lab": baseline[0].pod, "dirty": baseline[0].tree.dirty},
            "current": {**lab.tree.describe(), "lab": lab.pod},
            "repeats": repeats,
            # changed tasks of the runs before the timed ones (the last one with 0 is the first sample)
            "settle_changed": {"baseline": settle["baseline"], "current": settle["current"]},
            "rows": [base_row, cur_row],
            "target": TARGET,
            "met": verdict(cur_row),
            "load_average": loads,
        }
    floor_result = None
    if floor:
        floor_median = median(times["floor (stat tasks)"])
        rows = {}
        for name, values in times.items():
            s = runs[name][-1]
            rows[name] = {
                "seconds_median": median(values),
                "seconds_all": [round(v, 2) for v in values],
                "tasks": s["tasks"],
                "host_tasks": s["host_tasks"],
                "loop_items": s["loop_items"],
                "changed": s["changed"],
                "handlers": s["handlers"],
                "per_task": round(median(values) / max(s["tasks"], 1), 3),
                "vs_floor": round(median(values) / floor_median, 2) if floor_median else None,
            }
        slowest = sorted(probe.tasks(), key=lambda r: r["seconds"], reverse=True)[:12]
        second = probe.summary()
        floor_result = {
            "second_run": {k: second[k] for k in ("seconds", "tasks", "changed", "handlers")},
            "floor_tasks": n_floor,
            "runs": rows,
            "slowest_tasks": [{"name": r["name"], "action": r["action"], "seconds": round(r["seconds"], 2),
                               "loop_items": r["loop_items"], "hosts": len(r["hosts"])} for r in slowest],
            "load_average": loads,
        }
    return floor_result, comparison


def scale(lab: TreeLab, scales: list[int], per_domain: int, extra_args: list[str]) -> list[dict]:
    rows = []
    if max(scales) > 0:
        lab.add_dns([lab.scale_domain(i) for i in range(1, max(scales) + 1)])
    for count in scales:
        inv = lab.inventory(f"scale-{count}", domains=count, per_domain=per_domain)
        log(f"scale {count} domains: converge")
        conv = lab.tree.run(inv, lab.tree.site, args=extra_args, log_to=lab.workdir / f"scale-{count}-converge.log")
        res = lab.tree.run(inv, lab.tree.site, args=extra_args, log_to=lab.workdir / f"scale-{count}-nochange.log")
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


def report_baseline(cmp: dict) -> None:
    base = cmp["baseline"]
    name = base["ref"] if base["commit"].startswith(base["ref"]) else f"{base['ref']} ({base['commit'][:7]})"
    print(f"No-change site.yml run, side by side ({len(cmp['rows'][0]['seconds_all'])} and {len(cmp['rows'][-1]['seconds_all'])} "
          f"runs, alternating, median; baseline {name} in {base['tree']}{', WITH LOCAL CHANGES' if base.get('dirty') else ''})")
    print(table(["tree", "tasks", "changed", "handlers", "time s", "all s", "ratio to baseline", "cpu s", "cpu ratio"],
                [[r["side"], r["tasks"], r["changed"], r["handlers"], r["seconds_median"],
                  " ".join(map(str, r["seconds_all"])), r["ratio"], r.get("cpu_median", ""), r.get("cpu_ratio", "")]
                 for r in cmp["rows"]]))
    cur, met, target = cmp["rows"][-1], cmp["met"], cmp["target"]

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"Target (no-change run): tasks <= {target['tasks_max']}: {mark(met['tasks'])} ({cur['tasks']}); "
          f"time ratio <= {target['time_ratio_max']}: {mark(met['time'])} ({cur['ratio']}); "
          f"{target['changed']} changed: {mark(met['changed'])} ({cur['changed']}); "
          f"{target['handlers']} handlers: {mark(met['handlers'])} ({cur['handlers']}) "
          f"=> {mark(met['all'])}")
    print()


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
    if result.get("nochange_vs_baseline"):
        report_baseline(result["nochange_vs_baseline"])
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
    add_baseline_arguments(parser, "nochange stage: also run REF's site.yml on a lab of its own and compare",
                           "bench-baseline", "homelab-bench-baseline", "benchb-")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout the benchmark lab runs (default: this working tree); another one, e.g. "
                             "--baseline-dir itself, checks the side-by-side comparison against itself")
    parser.add_argument("--no-floor", action="store_true",
                        help="nochange stage: leave out the floor and gathering=smart runs (no_change figures kept)")
    args = parser.parse_args()
    stages = {x.strip() for x in args.stages.split(",") if x.strip()}
    if (args.baseline or args.no_floor) and "nochange" not in stages:
        parser.error("--baseline and --no-floor belong to the nochange stage")
    if args.no_floor and not args.baseline:
        parser.error("--no-floor without --baseline leaves the nochange stage nothing to measure")

    tree = Tree(args.tree, "working tree" if args.tree.resolve() == ROOT else f"tree {args.tree}")
    lab = TreeLab(tree, pod=args.pod, prefix=args.prefix)
    inv = lab.inventory()
    base = None
    if args.baseline and "nochange" in stages:
        if args.baseline_pod == args.pod or args.baseline_prefix == args.prefix:
            raise SystemExit("the baseline lab needs a pod and a container prefix of its own")
        base_lab = TreeLab(baseline_tree(args.baseline, args.baseline_dir), pod=args.baseline_pod,
                           prefix=args.baseline_prefix, workdir=lab.workdir / "baseline")
        base = (base_lab, base_lab.inventory())
    path = RESULTS / f"{args.output}.json"
    result = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"benchmark": "converge"}
    result["machine"] = machine()

    def stage(name: str, value, pod: str = lab.pod) -> None:
        # Read the file again: another run of this script may have saved a stage meanwhile.
        if path.exists():
            result.update({k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items()
                           if k not in (name, f"{name}_date", f"{name}_lab")})
        result[name] = value
        result[f"{name}_date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        result[f"{name}_lab"] = pod
        save(args.output, result)

    if "fresh" in stages and not (args.reuse and lab.exists()):
        stage("fresh", fresh(lab, inv))
    else:
        lab.converge(inv)
    if "nochange" in stages:
        if base:
            base[0].converge(base[1])
        floor_result, comparison = no_change(lab, inv, args.repeats, baseline=base, floor=not args.no_floor)
        if floor_result:
            stage("no_change", floor_result)
        if comparison:
            stage("nochange_vs_baseline", comparison, pod=f"{base[0].pod} + {lab.pod}")
    scales = [int(x) for x in args.scales.split(",") if x.strip()]
    if "scale" in stages and scales:
        stage("scale", scale(lab, scales, args.per_domain, shlex.split(args.scale_args)))
        stage("scale_args", args.scale_args)
        if not args.keep:
            log("converging back to the lab inventory (extra domains removed)")
            lab.tree.run(inv, lab.tree.site, args=shlex.split(args.scale_args), log_to=lab.workdir / "scale-restore.log")

    print()
    report(result)
    print(f"results: {path.relative_to(ROOT)}; logs: {lab.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

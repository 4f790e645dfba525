"""A map module against ansible.builtin.template + makemap, with Debian's real makemap.

    bash benchmarks/run.sh maps [--size 100000] [--repeats 5] [--forms pairs,entries] [--keep]
    bash benchmarks/run.sh maps --destroy      # remove the benchmark's container

Where: a container of its own, benchmaps-trixie, from localhost/homelab-mailserver-base:trixie,
with Debian's sendmail-bin installed by apt inside it (the container's own apt sources; packages
cached in .cache/apt/benchmaps-trixie). Both sides' databases are built by sendmail-bin's makemap
(/usr/sbin/makemap). ansible-playbook runs on this host and reaches the container over the
project's connection (homelab.mailserver_lab.podman_nsenter with pipelining, as the lab and the
molecule scenarios use it): the same connection, Python, directory and data for both sides.

What: SIZE access-map entries ("hostN.example.com RELAY") in the inventory's host_vars (a JSON file,
as a role's data would be), in one of two forms (--forms; each is measured on its own):
  pairs    module side: homelab.mailserver.sendmail_access with pairs: "{{ bench_pairs }}" (one mapping)
  entries  module side: homelab.mailserver.sendmail_access with entries: "{{ bench_entries }}" (a list of
           {key, value})
  template side, both forms: ansible.builtin.template (a Jinja for loop over the same data writing
           "key<TAB>value" lines), then ansible.builtin.shell "makemap hash FILE < FILE" when it changed.
Rows, in this order on each side: first apply (empty directory), no-op re-run (same data), one-entry
change (entry SIZE/2 becomes REJECT). Each repeat runs the rows on both sides, module and template
alternating (which side goes first flips each repeat), so both see the same machine load; the tables
show the median of the repeats. A third playbook, the floor, runs with the no-op row: a module
(library/benchmaps_floor.py) that takes the same arguments and does nothing, i.e. what ansible-core and
AnsibleModule charge for carrying the entries to any module.

Each ansible-playbook run is timed whole (start-up, inventory and vars, templating, connection, module,
makemap): wall-clock seconds, and CPU seconds (user + system of ansible-playbook and everything it
started, the container's Python and makemap included; less sensitive to other jobs on the machine).
After every row both sides' text files must be identical and their databases must hold the same SIZE
entries (makemap -u), and the recaps must report the expected changed counts, or the benchmark stops.

Prints the tables and writes benchmarks/results/maps.json (--output NAME for another file). Exit code
0 only when every row meets the target (module <= 0.75 x template + makemap, wall-clock medians).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import ROOT, load_average, log, machine, median, podman_exec, project_env, save, table  # noqa: E402

IMAGE = "localhost/homelab-mailserver-base:trixie"
CONTAINER = "benchmaps-trixie"
WORK = "/srv/benchmaps"
TARGET = 0.75
ROWS = (("first", "first apply"), ("noop", "no-op re-run"), ("change", "one-entry change"))
# What each row's recap must say: (module side changed, template side changed)
EXPECT_CHANGED = {"first": (1, 2), "noop": (0, 0), "change": (1, 2)}
LIBRARY = Path(__file__).resolve().parent / "library"


# ---------------------------------------------------------------- container
def podman(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *argv], text=True, capture_output=True, env=project_env(), check=check)


def container_up(name: str) -> None:
    """Start the container (systemd as PID 1, like the molecule platforms) and install sendmail-bin."""
    cache = ROOT / ".cache" / "apt" / name
    cache.joinpath("partial").mkdir(parents=True, exist_ok=True)
    if podman("container", "exists", name, check=False).returncode != 0:
        log(f"starting container {name} from {IMAGE}")
        podman("run", "-d", "--name", name, "--hostname", "bigboy.my-site.com", "--systemd=always",
               "--cap-add", "SYS_PTRACE", "-v", f"{cache}:/var/cache/apt/archives:rw", IMAGE, "/sbin/init")
    elif podman("container", "inspect", "--format", "{{.State.Running}}", name).stdout.strip() != "true":
        podman("start", name)
    if podman_exec(name, ["test", "-x", "/usr/sbin/makemap"], check=False).returncode == 0:
        return
    log(f"installing sendmail-bin in {name} (apt, the container's own sources)")
    # The FQDN first on the loopback line spares sendmail's postinst its "unqualified host name" sleep;
    # /etc/hosts is bind-mounted by podman, so it is written in place. policy-rc.d keeps the daemon
    # stopped: only makemap is wanted, and an idle sendmail would only add noise.
    script = (
        'printf "127.0.0.1\\tbigboy.my-site.com bigboy localhost\\n::1\\tlocalhost\\n" > /etc/hosts && '
        'printf "#!/bin/sh\\nexit 101\\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && '
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        "sendmail-bin"
    )
    podman_exec(name, ["sh", "-c", script], timeout=900)
    podman_exec(name, ["test", "-x", "/usr/sbin/makemap"])


def container_down(name: str) -> None:
    podman("rm", "-f", "-i", name)


def sh(name: str, script: str) -> str:
    return podman_exec(name, ["sh", "-c", script]).stdout


# ---------------------------------------------------------------- inputs
def entries(n: int, change: int | None = None) -> list[dict]:
    out = [{"key": f"host{i}.example.com", "value": "RELAY"} for i in range(n)]
    if change is not None:
        out[change]["value"] = "REJECT"
    return out


def write_inputs(tmp: Path, container: str, size: int, form: str) -> dict:
    """Inventories (the entries in host_vars, as a role's data would be), template and playbooks of one form."""
    host = {"ansible_connection": "homelab.mailserver_lab.podman_nsenter", "ansible_pipelining": True,
            "ansible_python_interpreter": "/usr/bin/python3"}
    files = {}
    for name, data in (("vars", entries(size)), ("vars-change", entries(size, change=size // 2))):
        inv = tmp / f"inventory-{form}-{name}"
        (inv / "host_vars").mkdir(parents=True)
        (inv / "hosts.yml").write_text(json.dumps({"all": {"hosts": {container: host}}}), encoding="utf-8")
        body = {"bench_entries": data} if form == "entries" else {"bench_pairs": {e["key"]: e["value"] for e in data}}
        (inv / "host_vars" / f"{container}.json").write_text(json.dumps(body), encoding="utf-8")
        files[name] = inv
    work = f"{WORK}/{form}"
    if form == "entries":
        arg, loop = {"entries": "{{ bench_entries }}"}, "{% for e in bench_entries %}{{ e.key }}\t{{ e.value }}\n"
    else:
        arg, loop = {"pairs": "{{ bench_pairs }}"}, "{% for k, v in bench_pairs.items() %}{{ k }}\t{{ v }}\n"
    (tmp / f"access-{form}.j2").write_text(loop + "{% endfor %}", encoding="utf-8")

    def play(name, tasks):
        return [{"name": name, "hosts": "all", "gather_facts": False, "tasks": tasks}]

    plays = {
        "module": play("Benchmark: the map module", [
            {"name": "The access map", "homelab.mailserver.sendmail_access": {"path": f"{work}/mod/access", **arg}}]),
        "template": play("Benchmark: template + makemap", [
            {"name": "The access map's text", "register": "bench_text", "ansible.builtin.template": {
                "src": str(tmp / f"access-{form}.j2"), "dest": f"{work}/tpl/access", "mode": "0644"}},
            {"name": "The access map's database", "when": "bench_text is changed",
             "ansible.builtin.shell": f"makemap hash {work}/tpl/access < {work}/tpl/access"}]),
        "floor": play("Benchmark: floor (a module that takes the same arguments and does nothing)", [
            {"name": "The same arguments", "benchmaps_floor": {"path": f"{work}/mod/access", **arg}}]),
    }
    for name, body in plays.items():
        path = tmp / f"{name}-{form}.yml"
        path.write_text(json.dumps(body, indent=1), encoding="utf-8")
        files[name] = path
    files["work"] = work
    return files


# ---------------------------------------------------------------- runs
def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_side(files: dict, side: str, vars_name: str, log_dir: Path, label: str) -> tuple[float, float, int]:
    """One timed ansible-playbook run; returns (wall seconds, CPU seconds, changed count of the recap)."""
    cmd = ["ansible-playbook", "-i", str(files[vars_name]), str(files[side])]
    env = project_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default", "ANSIBLE_LIBRARY": str(LIBRARY)})
    cpu = cpu_children()
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    seconds = time.monotonic() - start
    cpu = cpu_children() - cpu
    (log_dir / f"{label}.log").write_text(f"$ {shlex.join(cmd)}\n# rc {proc.returncode}, {seconds:.2f} s, "
                                          f"{cpu:.2f} s CPU\n{proc.stdout}\n--- stderr\n{proc.stderr}",
                                          encoding="utf-8")
    found = re.search(r"changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    if proc.returncode != 0 or not found or found.group(2) != "0" or found.group(3) != "0":
        raise RuntimeError(f"{label} failed (rc {proc.returncode}); log: {log_dir / (label + '.log')}\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, cpu, int(found.group(1))


def check_same(container: str, work: str, size: int, change: bool) -> None:
    """Both sides' texts identical, both databases hold SIZE entries and the same ones."""
    out = sh(container, f"""
        set -e
        cmp {work}/mod/access {work}/tpl/access
        makemap -u hash {work}/mod/access | sort > {work}/mod.dump
        makemap -u hash {work}/tpl/access | sort > {work}/tpl.dump
        cmp {work}/mod.dump {work}/tpl.dump
        wc -l < {work}/mod.dump
        grep -c REJECT {work}/mod.dump || true
        rm -f {work}/mod.dump {work}/tpl.dump
    """).split()
    if out != [str(size), "1" if change else "0"]:
        raise RuntimeError(f"the databases differ from what was asked: {out}")


def measure(container: str, size: int, repeats: int, forms: list[str], log_dir: Path) -> dict:
    inputs = {form: write_inputs(log_dir, container, size, form) for form in forms}
    wall = {form: {row: {"module": [], "template": [], "floor": []} for row in dict(ROWS)} for form in forms}
    cpu = {form: {row: {"module": [], "template": [], "floor": []} for row in dict(ROWS)} for form in forms}
    for repeat in range(repeats):
        order = ("module", "template") if repeat % 2 == 0 else ("template", "module")
        for form in forms:
            files, work = inputs[form], inputs[form]["work"]
            sh(container, f"rm -rf {work} && mkdir -p {work}/mod {work}/tpl")
            for row, title in ROWS:
                vars_name = "vars-change" if row == "change" else "vars"
                sides = order
                if row == "noop":  # the floor changes nothing: it runs with the no-op row, first or last
                    sides = order + ("floor",) if repeat % 2 == 0 else ("floor",) + order
                for side in sides:
                    label = f"{repeat + 1}-{form}-{row}-{side}"
                    seconds, cpu_seconds, changed = run_side(files, side, vars_name, log_dir, label)
                    expected = 0 if side == "floor" else EXPECT_CHANGED[row][0 if side == "module" else 1]
                    if changed != expected:
                        raise RuntimeError(f"{label}: changed={changed}, expected {expected}")
                    wall[form][row][side].append(round(seconds, 2))
                    cpu[form][row][side].append(round(cpu_seconds, 2))
                check_same(container, work, size, row == "change")
                done = wall[form][row]
                log(f"repeat {repeat + 1}/{repeats}, {form}, {title}: module {done['module'][-1]:.2f} s, "
                    f"template+makemap {done['template'][-1]:.2f} s"
                    + (f", floor {done['floor'][-1]:.2f} s" if done["floor"] else "") + f" (load {load_average()})")
    result = {}
    for form in forms:
        rows = {}
        for row, title in ROWS:
            entry = {"title": title}
            for unit, samples in (("wall", wall[form][row]), ("cpu", cpu[form][row])):
                mod, tpl = median(samples["module"]), median(samples["template"])
                ratio = round(mod / tpl, 2) if tpl else None
                # each repeat's module and template runs are neighbours in time: their ratio is less exposed
                # to the machine's load swings than the ratio of the medians (which decides "met")
                per_repeat = [round(m / t, 2) for m, t in zip(samples["module"], samples["template"], strict=True)]
                entry[unit] = {"module_seconds": mod, "template_makemap_seconds": tpl, "ratio": ratio,
                               "target": TARGET, "met": ratio is not None and ratio <= TARGET,
                               "ratio_per_repeat": per_repeat, "ratio_per_repeat_median": median(per_repeat),
                               "module_samples": samples["module"], "template_makemap_samples": samples["template"]}
                if samples["floor"]:
                    entry[unit]["floor_seconds"] = median(samples["floor"])
                    entry[unit]["floor_samples"] = samples["floor"]
            rows[row] = entry
        result[form] = {"rows": rows}
    return result


def report(result: dict) -> None:
    for form, data in result["forms"].items():
        option = "entries: a list of {key, value}" if form == "entries" else "pairs: one {key: value} mapping"
        for unit, what in (("wall", "wall-clock seconds"), ("cpu", "CPU seconds")):
            print(f"\nsendmail_access ({option}) vs template + makemap, {result['size']:,} entries, {what}, "
                  f"median of {result['repeats']} alternating repeats\n")
            print(table(["run", "module s", "template+makemap s", "ratio", "target", "met?", "per-repeat ratios"], [
                [r["title"], f"{r[unit]['module_seconds']:.2f}", f"{r[unit]['template_makemap_seconds']:.2f}",
                 f"{r[unit]['ratio']:.2f}", f"<= {TARGET}", "yes" if r[unit]["met"] else "NO",
                 " ".join(f"{x:.2f}" for x in r[unit]["ratio_per_repeat"])]
                for r in data["rows"].values()]))
            noop = data["rows"]["noop"][unit]
            print(f"floor (a module taking the same arguments and doing nothing), with the no-op row: "
                  f"{noop['floor_seconds']:.2f} s = {noop['floor_seconds'] / noop['template_makemap_seconds']:.2f} "
                  "x the template's no-op")
    print(f"\n{result['makemap']}; {result['connection']}; {result['machine']['cpus']} CPUs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="entries of the access map")
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds; the median is reported")
    parser.add_argument("--forms", default="pairs,entries",
                        help="the module options that carry the entries, comma-separated: pairs, entries")
    parser.add_argument("--container", default=CONTAINER, help="the benchmark's container (made if missing)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the container running and the logs and generated inputs in place at the end")
    parser.add_argument("--destroy", action="store_true", help="only remove the container")
    parser.add_argument("--output", default="maps", help="results file name under benchmarks/results/")
    args = parser.parse_args()
    forms = [f for f in args.forms.split(",") if f]
    if not forms or set(forms) - {"entries", "pairs"}:
        parser.error("--forms takes pairs and/or entries")
    if args.destroy:
        container_down(args.container)
        return 0
    container_up(args.container)
    log_dir = Path(tempfile.mkdtemp(prefix="benchmaps-"))
    log(f"logs and generated playbooks in {log_dir}")
    try:
        path, version = sh(args.container,
                           "readlink -f /usr/sbin/makemap; dpkg-query -W -f '${Version}' sendmail-bin").split()
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        measured = measure(args.container, args.size, args.repeats, forms, log_dir)
        result = {
            "benchmark": "maps",
            "date": started,
            "machine": machine(),
            "load_average_end": load_average(),
            "container": {"image": IMAGE, "name": args.container, "python": sh(args.container, "python3 -V").strip()},
            "connection": "ansible-playbook on the host, homelab.mailserver_lab.podman_nsenter (pipelining)",
            "makemap": f"real makemap (/usr/sbin/makemap -> {path}, sendmail-bin {version})",
            "size": args.size,
            "repeats": args.repeats,
            "target": f"module <= {TARGET} x template + makemap, every row (wall-clock medians)",
            "forms": measured,
        }
        out = save(args.output, result)
        report(result)
        print(f"\nwritten to {out}")
        if not args.keep:  # logs and generated inputs stay only after a failure, or with --keep
            shutil.rmtree(log_dir, ignore_errors=True)
    finally:
        if not args.keep:
            container_down(args.container)
    return 0 if all(r["wall"]["met"] for data in measured.values() for r in data["rows"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

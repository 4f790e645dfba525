"""Shared pieces of the converge and delivery benchmarks.

The benchmarks run on a lab of their own: playbooks/lab.yml started with another pod
(homelab-bench) and other container names (bench-bigboy, bench-smallfry), driven by an
inventory generated from inventories/lab with ansible_host pointing at those containers.
The lab other people use (pod homelab-lab, containers bigboy and smallfry) is never touched.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LAB_INVENTORY = ROOT / "inventories" / "lab"

# Actions that install packages: their time is the "package installation" part of a converge.
PACKAGE_ACTIONS = {
    "apt", "ansible.builtin.apt", "ansible.legacy.apt",
    "package", "ansible.builtin.package", "ansible.legacy.package",
    "dnf", "ansible.builtin.dnf", "ansible.legacy.dnf",
    "yum", "ansible.builtin.yum",
}
# Actions that run on the controller only (no connection to the host).
LOCAL_ACTIONS = {
    "include_tasks", "ansible.builtin.include_tasks", "import_tasks", "ansible.builtin.import_tasks",
    "include_role", "ansible.builtin.include_role", "include_vars", "ansible.builtin.include_vars",
    "set_fact", "ansible.builtin.set_fact", "assert", "ansible.builtin.assert",
    "debug", "ansible.builtin.debug", "meta", "ansible.builtin.meta",
    "fail", "ansible.builtin.fail",
}


def project_env(extra: dict | None = None) -> dict:
    """The environment of scripts/env.sh, whether or not the caller sourced it."""
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / "containers" / "containers.conf"))
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / "build" / "collections"))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    venv_bin = str(ROOT / ".venv" / "bin")
    if venv_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    if extra:
        env.update(extra)
    return env


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Lab:
    """The benchmark's own copy of the lab: pod, containers and generated inventories."""

    def __init__(self, pod: str = "homelab-bench", prefix: str = "bench-", workdir: Path | None = None):
        self.pod = pod
        self.prefix = prefix
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="homelab-bench-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cache = ROOT / ".cache" / "apt" / f"{pod}-trixie"
        with open(LAB_INVENTORY / "hosts.yml", encoding="utf-8") as handle:
            self.lab_hosts_yml = yaml.safe_load(handle)
        # inventory host name -> container, from ansible_host of inventories/lab
        self.containers: dict[str, str] = {}
        self.hostnames: dict[str, str] = {}
        self._walk(self.lab_hosts_yml.get("all", {}))
        self.mail_servers = sorted(
            self.lab_hosts_yml["all"]["children"].get("mail_servers", {}).get("hosts", {}) or {}
        )

    def _walk(self, group: dict) -> None:
        for name, hvars in (group.get("hosts") or {}).items():
            if hvars and "ansible_host" in hvars:
                self.containers[name] = self.prefix + hvars["ansible_host"]
                self.hostnames[name] = hvars["ansible_host"]
        for child in (group.get("children") or {}).values():
            self._walk(child or {})

    def container(self, inventory_name: str) -> str:
        return self.containers[inventory_name]

    # ---------------------------------------------------------------- inventories
    def inventory(self, name: str = "base", domains: int = 0, per_domain: int = 100) -> Path:
        """inventories/lab with ansible_host -> bench containers, plus `domains` extra mail
        domains of `per_domain` virtual addresses each (groups bench_dNNN, on the mail servers)."""
        inv = self.workdir / f"inventory-{name}"
        if inv.exists():
            shutil.rmtree(inv)
        (inv / "group_vars").mkdir(parents=True)
        data = json.loads(json.dumps(self.lab_hosts_yml))

        def rewrite(group):
            for hvars in (group.get("hosts") or {}).values():
                if hvars and "ansible_host" in hvars:
                    hvars["ansible_host"] = self.prefix + hvars["ansible_host"]
            for child in (group.get("children") or {}).values():
                rewrite(child or {})

        rewrite(data["all"])
        children = data["all"].setdefault("children", {})
        for index in range(1, domains + 1):
            group = f"bench_d{index:03d}"
            children[group] = {"hosts": {host: None for host in self.mail_servers}}
            entries = {f"v{j:04d}": "marc" for j in range(1, per_domain + 1)}
            domain = {"domain": self.scale_domain(index), "local": True, "virtual": entries}
            with open(inv / "group_vars" / f"{group}.yml", "w", encoding="utf-8") as handle:
                handle.write("---\n")
                yaml.safe_dump({f"mailserver_domain_{group}": domain}, handle, sort_keys=False)
        with open(inv / "hosts.yml", "w", encoding="utf-8") as handle:
            handle.write("---\n# Generated by benchmarks/benchlib.py from inventories/lab/hosts.yml.\n")
            yaml.safe_dump(data, handle, sort_keys=False)
        for src in sorted((LAB_INVENTORY / "group_vars").iterdir()):
            (inv / "group_vars" / src.name).symlink_to(src.resolve())
        (inv / "host_vars").symlink_to((LAB_INVENTORY / "host_vars").resolve())
        return inv

    @staticmethod
    def scale_domain(index: int) -> str:
        return f"d{index:03d}.bench.example"

    # ---------------------------------------------------------------- lifecycle
    def lab_vars(self, state: str) -> dict:
        return {
            "lab_state": state,
            "lab_pod": self.pod,
            "lab_cache": str(self.cache),
            "lab_hosts": [{"name": c, "hostname": self.hostnames[h]} for h, c in self.containers.items()],
        }

    def exists(self) -> bool:
        return all(
            subprocess.run(["podman", "container", "exists", c], env=project_env(), check=False).returncode == 0
            for c in self.containers.values()
        )

    def down(self) -> None:
        run_playbook(self.inventory(), ROOT / "playbooks" / "lab.yml", extra_vars=self.lab_vars("absent"),
                     json_out=False, log_to=self.workdir / "lab-down.log")

    def up(self) -> float:
        self.cache.joinpath("partial").mkdir(parents=True, exist_ok=True)
        result = run_playbook(self.inventory(), ROOT / "playbooks" / "lab.yml", extra_vars=self.lab_vars("started"),
                              json_out=False, log_to=self.workdir / "lab-up.log")
        return result.seconds

    def exec(self, inventory_name: str, argv: list[str], stdin: str | None = None, check: bool = True,
             timeout: float | None = None) -> subprocess.CompletedProcess:
        return podman_exec(self.container(inventory_name), argv, stdin=stdin, check=check, timeout=timeout)

    def add_dns(self, domains: list[str]) -> None:
        """MX records for the extra domains on the lab name server (a file of the benchmark's
        own next to lab.yml's lab.conf, in the benchmark's containers only)."""
        server = self.mail_servers[0]
        lines = ["# homelab.mailserver benchmarks: MX records of the scale test domains"]
        lines += [f"mx-host={d},{server},10" for d in domains]
        self.exec(server, ["sh", "-c", "cat > /etc/dnsmasq.d/bench.conf && systemctl restart dnsmasq"],
                  stdin="\n".join(lines) + "\n")


def podman_exec(container: str, argv: list[str], stdin: str | None = None, check: bool = True,
                timeout: float | None = None) -> subprocess.CompletedProcess:
    cmd = ["podman", "exec"] + (["-i"] if stdin is not None else []) + [container] + argv
    return subprocess.run(cmd, input=stdin, text=True, capture_output=True, env=project_env(),
                          check=check, timeout=timeout)


class PlaybookResult:
    def __init__(self, seconds: float, rc: int, data: dict | None, log_path: Path):
        self.seconds = seconds
        self.rc = rc
        self.data = data
        self.log_path = log_path

    def tasks(self) -> list[dict]:
        """One row per task of the run: play, name, action, path, seconds, per-host status."""
        rows = []
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                hosts = {}
                action = ""
                items = 0
                for host, res in task.get("hosts", {}).items():
                    action = res.get("action", action)
                    if res.get("skipped"):
                        status = "skipped"
                    elif res.get("failed") or res.get("unreachable"):
                        status = "failed"
                    elif res.get("changed"):
                        status = "changed"
                    else:
                        status = "ok"
                    hosts[host] = status
                    if isinstance(res.get("results"), list):
                        items += sum(1 for r in res["results"] if not (isinstance(r, dict) and r.get("skipped")))
                dur = task["task"].get("duration", {})
                rows.append({
                    "play": play["play"]["name"],
                    "name": task["task"]["name"],
                    "path": task["task"].get("path", ""),
                    "action": action,
                    "seconds": _span(dur),
                    "hosts": hosts,
                    "loop_items": items,
                    "handler": "/handlers/" in task["task"].get("path", ""),
                })
        return rows

    def summary(self) -> dict:
        rows = self.tasks()
        ran = [r for r in rows if any(s != "skipped" for s in r["hosts"].values())]
        host_tasks = sum(sum(1 for s in r["hosts"].values() if s != "skipped") for r in rows)
        return {
            "seconds": round(self.seconds, 2),
            "rc": self.rc,
            "tasks": len(ran),
            "tasks_skipped_everywhere": len(rows) - len(ran),
            "host_tasks": host_tasks,
            "remote_tasks": sum(1 for r in ran if r["action"] not in LOCAL_ACTIONS),
            "loop_items": sum(r["loop_items"] for r in ran),
            "changed": sum(sum(1 for s in r["hosts"].values() if s == "changed") for r in rows),
            "failed": sum(sum(1 for s in r["hosts"].values() if s == "failed") for r in rows),
            "handlers": sum(1 for r in ran if r["handler"]),
            "package_seconds": round(sum(r["seconds"] for r in ran if r["action"] in PACKAGE_ACTIONS), 2),
        }


def _span(duration: dict) -> float:
    start, end = duration.get("start"), duration.get("end")
    if not start or not end:
        return 0.0
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds()


def run_playbook(inventory: Path, playbook: Path, extra_vars: dict | None = None, json_out: bool = True,
                 env_extra: dict | None = None, log_to: Path | None = None, args: list[str] | None = None,
                 check: bool = True) -> PlaybookResult:
    cmd = ["ansible-playbook", "-i", str(inventory), str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += args or []
    env_add = dict(env_extra or {})
    if json_out:
        env_add["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        env_add["ANSIBLE_JSON_INDENT"] = "0"
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=project_env(env_add), text=True, capture_output=True, check=False)
    seconds = time.monotonic() - start
    log_path = log_to or Path(tempfile.mkstemp(prefix="playbook-", suffix=".log")[1])
    log_path.write_text(f"$ {' '.join(cmd)}\n# env {env_add}\n# rc {proc.returncode}, {seconds:.1f} s\n"
                        f"{proc.stdout}\n--- stderr\n{proc.stderr}", encoding="utf-8")
    data = None
    if json_out:
        text = proc.stdout
        brace = text.find("{")
        if brace >= 0:
            try:
                data = json.loads(text[brace:])
            except json.JSONDecodeError:
                data = None
    result = PlaybookResult(seconds, proc.returncode, data, log_path)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{playbook.name} failed (rc {proc.returncode}); log: {log_path}\n{proc.stderr[-2000:]}")
    return result


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else 0.0


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join(out)


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


# The container's cgroup, read on the host: its CPU time and its process count.

def cgroup_path(container: str) -> str:
    """The container's cgroup path on the host (the same in every v1 hierarchy, or the v2 one)."""
    return subprocess.run(["podman", "inspect", "-f", "{{.State.CgroupPath}}", container], env=project_env(),
                          capture_output=True, text=True, check=True).stdout.strip().lstrip("/")


def host_file(cgroup: str, v1: str, v2: str) -> Path:
    """A file of the container's cgroup on the host: cgroup v1's controller hierarchy, else v2's."""
    for path in (Path("/sys/fs/cgroup") / v1.split("/", 1)[0] / cgroup / v1.split("/", 1)[1],
                 Path("/sys/fs/cgroup") / cgroup / v2):
        if path.exists():
            return path
    raise SystemExit(f"no {v1} or {v2} for the container's cgroup {cgroup}")


def container_usec(cgroup: str) -> int:
    """All CPU of the container (its services, podman exec's processes) in microseconds."""
    path = host_file(cgroup, "cpuacct/cpuacct.usage", "cpu.stat")
    text = path.read_text(encoding="utf-8")
    if path.name == "cpuacct.usage":
        return int(text) // 1000
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("usage_usec "))


class PidSampler(threading.Thread):
    """The container's process count, once a second, read from the host: the peak."""

    def __init__(self, cgroup: str):
        super().__init__(daemon=True)
        self.current = host_file(cgroup, "pids/pids.current", "pids.current")
        self.peak, self.stop = 0, threading.Event()
        self.limit = host_file(cgroup, "pids/pids.max", "pids.max").read_text(encoding="utf-8").strip()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, int(self.current.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                pass
            self.stop.wait(1)

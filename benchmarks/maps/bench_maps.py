"""Benchmark the sendmail map engine against lineinfile and template+makemap.

Run from the collection root:  .venv/bin/python benchmarks/maps/bench_maps.py [--sizes 1000,10000,100000]
Prints a markdown table.  Module times are measured in-process (the module's main() with
ansible.module_utils.testing.patch_module_args, so AnsibleModule argument validation is included,
ansible's controller/fork overhead is not).  The playbook rows run ansible-playbook with connection=local
and include ansible's start-up and task overhead on both sides.
"""

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "build" / "collections"
sys.path.insert(0, str(COLLECTIONS))

from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.mailserver.plugins.modules import sendmail_access

FAKE_MAKEMAP = """#!{python}
# stand-in for makemap when sendmail is not installed: parses like makemap and writes a dbm.dumb file
import dbm.dumb, sys
typ, base = sys.argv[1], sys.argv[2]
db = dbm.dumb.open(base + ".db.tmp", "n")
for line in sys.stdin.buffer:
    if line[:1] in b"# \\t\\n":
        continue
    k, _, v = line.rstrip(b"\\n").partition(b"\\t")
    db[k.lower()] = v.strip() or b""
db.close()
import os
os.replace(base + ".db.tmp.dat", base + ".db")
for s in (".db.tmp.dir", ".db.tmp.bak"):
    if os.path.exists(base + s):
        os.unlink(base + s)
"""

ANSIBLE_ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_STDOUT_CALLBACK="ansible.builtin.null", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable)


def entries(n, change=None):
    out = [{"key": f"host{i}.example.com", "value": "RELAY"} for i in range(n)]
    if change is not None:
        out[change]["value"] = "REJECT"
    return out


def run_module(args):
    buf = io.StringIO()
    start = time.perf_counter()
    with patch_module_args(args), contextlib.redirect_stdout(buf):
        try:
            sendmail_access.main()
        except SystemExit:
            pass
    elapsed = time.perf_counter() - start
    result = json.loads(buf.getvalue())
    assert not result.get("failed"), result.get("msg")
    return elapsed, result


def playbook(tmp, name, tasks, extra_vars=None):
    pb = tmp / f"{name}.yml"
    pb.write_text(json.dumps([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                               "tasks": tasks}]))
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(pb)]
    if extra_vars:
        cmd += ["-e", "@" + str(extra_vars)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=ANSIBLE_ENV, cwd=tmp, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--lineinfile", type=int, default=1000)
    opts = ap.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench_maps."))
    makemap = shutil.which("makemap")
    note = f"real makemap ({makemap})"
    if not makemap:
        makemap = str(tmp / "fake-makemap")
        Path(makemap).write_text(FAKE_MAKEMAP.format(python=sys.executable))
        os.chmod(makemap, 0o755)
        note = "FAKE makemap (python dbm.dumb stand-in; sendmail not installed here)"
    rows = []
    try:
        for n in sizes:
            path = tmp / f"access{n}"
            base = {"path": str(path), "makemap": makemap, "sendmail_cf": str(tmp / "none.cf")}
            first, r = run_module(dict(base, entries=entries(n)))
            assert r["changed"] and r["db_rebuilt"]
            noop, r = run_module(dict(base, entries=entries(n)))
            assert not r["changed"]
            one, r = run_module(dict(base, entries=entries(n, change=n // 2)))
            assert r["updated"] == [f"host{n // 2}.example.com"] and r["db_rebuilt"]
            rows.append((f"sendmail_access in-process, {n:,} entries", first, noop, one, first / n))

            # ansible-playbook: module vs template+makemap with the same entries
            vars_file = tmp / f"vars{n}.json"
            vars_file.write_text(json.dumps({"bench_entries": entries(n)}))
            mod_path = tmp / f"pb_access{n}"
            mod_task = [{"homelab.mailserver.sendmail_access": {
                "path": str(mod_path), "entries": "{{ bench_entries }}", "makemap": makemap,
                "sendmail_cf": str(tmp / "none.cf")}}]
            t_mod = playbook(tmp, f"mod{n}", mod_task, vars_file)
            t_mod_noop = playbook(tmp, f"mod{n}", mod_task, vars_file)
            tpl = tmp / "access.j2"
            tpl.write_text("{% for e in bench_entries %}{{ e.key }}\t{{ e.value }}\n{% endfor %}")
            tpl_path = tmp / f"tpl_access{n}"
            tpl_tasks = [
                {"ansible.builtin.template": {"src": str(tpl), "dest": str(tpl_path), "mode": "0644"},
                 "register": "tpl"},
                {"ansible.builtin.shell": f"{makemap} hash {tpl_path} < {tpl_path}", "when": "tpl is changed"},
            ]
            t_tpl = playbook(tmp, f"tpl{n}", tpl_tasks, vars_file)
            t_tpl_noop = playbook(tmp, f"tpl{n}", tpl_tasks, vars_file)
            rows.append((f"ansible-playbook sendmail_access, {n:,}", t_mod, t_mod_noop, None, t_mod / n))
            rows.append((f"ansible-playbook template + makemap, {n:,}", t_tpl, t_tpl_noop, None, t_tpl / n))
        if opts.lineinfile:
            n = opts.lineinfile
            vars_file = tmp / f"vars{n}.json"
            vars_file.write_text(json.dumps({"bench_entries": entries(n)}))
            lif = tmp / f"lif_access{n}"
            tasks = [{"ansible.builtin.lineinfile": {
                "path": str(lif), "create": True, "mode": "0644", "regexp": "^{{ item.key | regex_escape }}\\s",
                "line": "{{ item.key }}\t{{ item.value }}"}, "loop": "{{ bench_entries }}", "register": "lif"},
                {"ansible.builtin.shell": f"{makemap} hash {lif} < {lif}", "when": "lif is changed"}]
            t_lif = playbook(tmp, f"lif{n}", tasks, vars_file)
            rows.append((f"ansible-playbook lineinfile loop + makemap, {n:,}", t_lif, None, None, t_lif / n))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def fmt(x):
        return "n/a" if x is None else f"{x:.3f}"

    print(f"Database builder: {note}. Python {sys.version.split()[0]}, {os.cpu_count()} CPUs.\n")
    print("| scenario | first apply (s) | no-op re-apply (s) | one-entry change (s) | per entry, first apply (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, a, b, c, per in rows:
        print(f"| {name} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {per * 1000:.4f} |")


if __name__ == "__main__":
    main()

"""No-op re-apply of a large access map: `entries` (list of dicts) against `pairs` (one mapping).

Runs sendmail_access in-process, the way bench_maps.py does (patch_module_args, so
AnsibleModule's argument handling is included, and so is turning the arguments into
JSON, which Ansible does on the controller). Database rebuilds are off: a no-op
rebuilds nothing, and this measures what a no-op costs. Prints a markdown table.

    .venv/bin/python benchmarks/maps/bench_noop_forms.py [--size 100000] [--repeat 5]
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_maps  # noqa: E402  (sets up the collection import path)


def measure(size, repeat):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "access")
        base = {"path": path, "sendmail_cf": os.path.join(tmp, "absent.cf"), "rebuild": False}
        forms = {
            "entries (list of dicts)": {"entries": bench_maps.entries(size)},
            "pairs (one mapping)": {"pairs": {f"host{i}.example.com": "RELAY" for i in range(size)}},
        }
        for name, args in forms.items():
            if os.path.exists(path):
                os.unlink(path)
            first, result = bench_maps.run_module({**base, **args})
            assert result["changed"]
            noops = []
            for _unused in range(repeat):
                elapsed, result = bench_maps.run_module({**base, **args})
                assert not result["changed"]
                noops.append(elapsed)
            rows.append((name, first, min(noops), statistics.median(noops)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    print(f"| form ({opts.size:,} entries) | first apply (s) | no-op best (s) | no-op median (s) |")
    print("|---|---:|---:|---:|")
    for name, first, best, median in measure(opts.size, opts.repeat):
        print(f"| {name} | {first:.2f} | {best:.2f} | {median:.2f} |")


if __name__ == "__main__":
    main()

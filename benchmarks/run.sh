#!/usr/bin/env bash
# Benchmarks of the collection (not tests: scripts/test.sh does not run them).
#   bash benchmarks/run.sh converge [options]   # what a converge of site.yml costs
#   bash benchmarks/run.sh converge --stages nochange --baseline REF --no-floor
#                                               # no-change run of REF (a git worktree) vs this tree
#   bash benchmarks/run.sh delivery [options]   # delivery throughput, stock sendmail as reference
#   bash benchmarks/run.sh delivery --baseline REF --source 127.0.0.5
#                                               # off and on on REF's server (a git worktree) and this tree's
#   bash benchmarks/run.sh profile [options]    # CPU per message in each stage (SMTP, milters, scan, delivery)
#   bash benchmarks/run.sh maps [options]       # a map module vs template + makemap (real makemap), 100,000 entries
#   bash benchmarks/run.sh all                  # both, converge first
#   bash benchmarks/run.sh destroy              # remove the benchmark's containers and pod
# They run on labs of their own (pod homelab-bench: bench-bigboy, bench-smallfry, and
# bench-stock for delivery; pod homelab-bench-converge: benchc-* for converge, and pod
# homelab-bench-baseline: benchb-* for converge's --baseline; homelab-bench-delivery-baseline: benchd-*
# for delivery's --baseline), never on the lab of
# scripts/demo.sh; maps runs in a container of its own (benchmaps-trixie, removed at the end
# unless --keep). Each prints a table and writes benchmarks/results/<name>.json.
# See docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"

what=${1:?usage: benchmarks/run.sh converge|delivery|profile|maps|all|destroy [options]}
shift

case "$what" in
  converge)
    bash scripts/bootstrap.sh >/dev/null
    bash scripts/images.sh trixie >/dev/null
    # A lab of its own, so that both benchmarks can run at the same time.
    python benchmarks/converge/bench_converge.py --pod homelab-bench-converge --prefix benchc- "$@"
    ;;
  delivery)
    bash scripts/bootstrap.sh >/dev/null
    bash scripts/images.sh trixie >/dev/null
    python benchmarks/delivery/bench_delivery.py "$@"
    ;;
  profile)
    bash scripts/bootstrap.sh >/dev/null
    bash scripts/images.sh trixie >/dev/null
    # CPU per message in each stage, on the delivery benchmark's lab
    python benchmarks/delivery/cpu_profile.py "$@"
    ;;
  maps)
    bash scripts/bootstrap.sh >/dev/null
    bash scripts/images.sh trixie >/dev/null
    python benchmarks/maps/bench_maps.py "$@"
    ;;
  all)
    bash "$0" converge
    bash "$0" delivery
    ;;
  destroy)
    python - <<'PY'
import sys
sys.path.insert(0, "benchmarks")
from benchlib import Lab
Lab().down()
Lab(pod="homelab-bench-converge", prefix="benchc-").down()
Lab(pod="homelab-bench-baseline", prefix="benchb-").down()
Lab(pod="homelab-bench-delivery-baseline", prefix="benchd-").down()
PY
    podman rm -f -i bench-stock >/dev/null
    podman rm -f -i benchmaps-trixie >/dev/null
    ;;
  *)
    echo "usage: benchmarks/run.sh converge|delivery|profile|maps|all|destroy [options]" >&2
    exit 2
    ;;
esac

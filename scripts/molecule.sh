#!/usr/bin/env bash
# Run one molecule scenario (default command: test) on both Debian releases.
#   bash scripts/molecule.sh resolver            # full sequence
#   bash scripts/molecule.sh resolver converge   # keep the containers
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scenario=${1:?usage: scripts/molecule.sh SCENARIO [COMMAND]}
shift
cmd=${1:-test}
[ $# -gt 0 ] && shift
bash scripts/bootstrap.sh >/dev/null
bash scripts/images.sh >/dev/null
mkdir -p ".cache/apt/$scenario-trixie/partial" ".cache/apt/$scenario-bookworm/partial"
exec molecule "$cmd" -s "$scenario" "$@"

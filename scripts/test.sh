#!/usr/bin/env bash
# The collection's test command.
#   bash scripts/test.sh          # everything: static checks, unit, sanity, molecule scenarios
#   bash scripts/test.sh fast     # the development loop: lint, unit tests, sanity
#   bash scripts/test.sh molecule [SCENARIO...]   # only the container scenarios
#   bash scripts/test.sh lab      # only the demo lab end to end
# Installs what it needs itself (scripts/bootstrap.sh): apt packages, podman,
# the pinned Python tooling, the base images.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT" || exit 1

mode=${1:-full}
[ $# -gt 0 ] && shift

bash scripts/bootstrap.sh || exit 1

passed=0
failed=0
failures=()
stage() {
  local name=$1
  shift
  local t0=$SECONDS
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: passed ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

sanity() {
  # ansible-test wants the collection at ansible_collections/NAMESPACE/NAME
  # and needs pip's bootstrap script, which it cannot download here.
  # The copy lives outside this git checkout: inside it, ansible-test would
  # list files with git and find the ignored build/ directory empty.
  local pipver base="${TMPDIR:-/tmp}/homelab-mailserver-sanity"
  local dest="$base/ansible_collections/homelab/mailserver"
  pipver=$(grep -oP "pip='\K[0-9.]+" .venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -n1)
  mkdir -p ~/.ansible/test/cache
  cp tests/sanity/get_pip_standin.py ~/.ansible/test/cache/"get_pip_${pipver//./_}.py"
  rm -rf "$base" && mkdir -p "$dest"
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$dest"
  local pyver
  pyver=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  (cd "$dest" && ansible-test sanity --local --python "$pyver" --requirements --color no)
}

artifact() {
  # The built collection must install and work as well as the checkout:
  # its modules documented, its site playbook loadable by FQCN.
  local out=build/artifact tarball m
  rm -rf "$out" && mkdir -p "$out/dist"
  ansible-galaxy collection build --force --output-path "$out/dist" . >/dev/null || return 1
  tarball=$(ls "$out"/dist/homelab-mailserver-*.tar.gz)
  ANSIBLE_COLLECTIONS_PATH="$ROOT/$out/installed" ansible-galaxy collection install --force --offline --no-deps \
    -p "$out/installed" "$tarball" >/dev/null 2>&1 || return 1
  printf '[defaults]\n' >"$out/ansible.cfg"
  local count=0
  for m in plugins/modules/*.py; do
    m=$(basename "$m" .py)
    count=$((count + 1))
    ANSIBLE_COLLECTIONS_PATH="$ROOT/$out/installed" ANSIBLE_CONFIG="$ROOT/$out/ansible.cfg" \
      ansible-doc "homelab.mailserver.$m" >/dev/null || { echo "ansible-doc failed for $m"; return 1; }
  done
  (cd "$out" && ANSIBLE_COLLECTIONS_PATH="$ROOT/$out/installed" ANSIBLE_CONFIG="$ROOT/$out/ansible.cfg" \
    ansible-playbook -i "$ROOT/inventories/example" homelab.mailserver.site --syntax-check >/dev/null) || return 1
  echo "artifact: $(basename "$tarball") installs; $count modules documented; site playbook loads"
}

unit() {
  # a skipped test is not a passed one: the stage fails on any skip
  pytest -q -p no:cacheprovider -rs tests/unit --junitxml=build/unit-tests.xml || return 1
  grep -q 'skipped="0"' build/unit-tests.xml || { echo "unit: a skipped test is not a passed test"; return 1; }
}

scenarios() {
  local s rc=0
  for s in "$@"; do
    stage "molecule $s" bash scripts/molecule.sh "$s" test || rc=1
  done
  return $rc
}

lab() {
  # The README's demo end to end on a fresh lab: converge, doctor, mail-flow
  # proof; the doctor finds each planted pitfall; then a second converge and a
  # --check --diff run must change nothing; then the lab goes.
  local out=build/lab-second-run.log rc=0 t0=$SECONDS
  lap() { echo "--- lab: $1 ($((SECONDS - t0)) s since the stage began)"; }
  bash scripts/demo.sh destroy >/dev/null 2>&1
  bash scripts/demo.sh || rc=1
  lap "demo (lab, site.yml, doctor, mail-flow proof)"
  if [ $rc -eq 0 ]; then
    ansible-playbook -i inventories/lab tests/integration/doctor_pitfalls.yml || rc=1
    lap "planted pitfalls"
  fi
  if [ $rc -eq 0 ]; then
    # -vvv: tests/lab/test_audit.py looks for vaulted secrets in this output
    ansible-playbook -i inventories/lab site.yml -vvv >"$out" 2>&1 || rc=1
    lap "second converge"
    if grep -E 'changed=[1-9]|failed=[1-9]' "$out"; then
      echo "lab: the second converge was not idempotent (see $out)"
      rc=1
    else
      grep -A3 'PLAY RECAP' "$out" | tail -n +2
    fi
    # check mode with diffs on the configured lab: nothing would change
    ansible-playbook -i inventories/lab site.yml --check --diff >"$out.check" 2>&1 || rc=1
    if grep -E 'changed=[1-9]|failed=[1-9]' "$out.check"; then
      echo "lab: site.yml --check --diff reports changes on a configured host (see $out.check)"
      rc=1
    fi
    lap "check mode with diffs"
    # faults under load, third-party audits, key modes, secrets (tests/lab)
    HOMELAB_LAB_VERBOSE_LOG="$ROOT/$out" pytest -q -p no:cacheprovider -rA --durations=10 tests/lab \
      --junitxml=build/lab-tests.xml || rc=1
    grep -q 'skipped="0"' build/lab-tests.xml || { echo "lab: a skipped test is not a passed test"; rc=1; }
    lap "tests/lab"
  fi
  bash scripts/demo.sh destroy >/dev/null 2>&1
  return $rc
}

# The container stages run in two lanes at once (HOMELAB_TEST_LANES=1: one
# after the other): much of their time is waiting (package installs, SMTP
# retries, service restarts), so two lanes finish well before one would on
# two cores. Each lane logs to build/lanes/<lane>.log, printed afterwards.
# Lane B carries the lab, the longest stage (1,188 s in the last full run from a clean
# clone; lane A's maps 142, sendmail 460, dovecot 659, spam 560: 1,821 s; lane B's
# resolver 262, deliverability 675: 2,125 s with the lab).
LANE_B=(resolver deliverability lab)
lane() {
  local name=$1 item rc=0 t0
  shift
  : >"build/lanes/$name.result"
  for item in "$@"; do
    t0=$SECONDS
    if [ "$item" = lab ]; then
      echo "=== demo lab (site.yml, doctor, mail flow, pitfalls, idempotence, faults, audits)"
      lab
    else
      echo "=== molecule $item"
      bash scripts/molecule.sh "$item" test
    fi
    rc=$?
    printf '%s %s %s\n' "$([ $rc -eq 0 ] && echo passed || echo FAILED)" "$((SECONDS - t0))" \
      "$([ "$item" = lab ] && echo "demo lab" || echo "molecule $item")" >>"build/lanes/$name.result"
  done
}

container_stages() {
  local lanes=${HOMELAB_TEST_LANES:-2} a=() b=() s name secs result
  for s in $(all_scenarios) lab; do
    if [ "$lanes" -gt 1 ] && [[ " ${LANE_B[*]} " == *" $s "* ]]; then b+=("$s"); else a+=("$s"); fi
  done
  mkdir -p build/lanes
  lane a "${a[@]}" >build/lanes/a.log 2>&1 &
  local pid_a=$!
  if [ ${#b[@]} -gt 0 ]; then lane b "${b[@]}" >build/lanes/b.log 2>&1; fi
  wait "$pid_a"
  for name in a b; do
    [ -f "build/lanes/$name.log" ] || continue
    echo "=== lane $name: ${name^^} ($([ "$name" = a ] && echo "${a[*]}" || echo "${b[*]}"))"
    cat "build/lanes/$name.log"
  done
  for name in a b; do
    [ -f "build/lanes/$name.result" ] || continue
    while read -r result secs s; do
      echo "=== $s: $result ($secs s, lane $name)"
      if [ "$result" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$s"); fi
    done <"build/lanes/$name.result"
  done
}

all_scenarios() {
  local order=(resolver maps sendmail) s found=()
  for s in "${order[@]}"; do [ -f "molecule/$s/molecule.yml" ] && found+=("$s"); done
  for s in molecule/*/molecule.yml; do
    s=$(basename "$(dirname "$s")")
    [[ " ${found[*]} " == *" $s "* ]] || found+=("$s")
  done
  echo "${found[@]}"
}

case "$mode" in
  fast | full)
    stage "yamllint" yamllint -s .
    stage "ansible-lint" ansible-lint -q
    stage "ruff" ruff check .
    stage "unit tests" unit
    stage "ansible-test sanity" sanity
    stage "collection artifact" artifact
    if [ "$mode" = full ]; then
      stage "base images" bash scripts/images.sh
      container_stages
    fi
    ;;
  molecule)
    # shellcheck disable=SC2046
    if [ $# -gt 0 ]; then scenarios "$@"; else scenarios $(all_scenarios); fi
    ;;
  lab)
    stage "demo lab (site.yml, doctor, mail flow, pitfalls, idempotence, faults, audits)" lab
    ;;
  *)
    echo "usage: scripts/test.sh [fast|full|molecule [SCENARIO...]|lab]" >&2
    exit 2
    ;;
esac

echo
[ "$failed" -eq 0 ] || printf 'failed stage: %s\n' "${failures[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The collection's test command.
#   bash scripts/test.sh          # everything: static checks, unit, sanity, molecule scenarios
#   bash scripts/test.sh fast     # the development loop: lint, unit tests, sanity, artifact, docs lint
#   bash scripts/test.sh molecule [SCENARIO...]   # only the container scenarios
#   bash scripts/test.sh lab      # only the demo lab end to end
#   bash scripts/test.sh fresh-host   # only bootstrap.sh on fresh Debian 13 and 12 hosts
#   bash scripts/test.sh core-matrix  # only unit tests and sanity on ansible-core 2.20 and 2.21
#   bash scripts/test.sh plain-host   # only site.yml on plain Debian 13 and 12 hosts
#   bash scripts/test.sh ee           # only the execution environment: built, then run by ansible-navigator over SSH
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

artifact_documented() {
  # stdin: ansible-doc -j output; $1 the kind; the rest: names that must be in it
  python -c '
import json, sys
docs = json.load(sys.stdin)
missing = [name for name in sys.argv[2:] if name not in docs]
for name in missing:
    print("artifact: %s %s is not found or not documented with only the declared dependencies" % (sys.argv[1], name))
sys.exit(1 if missing else 0)' "$@"
}

artifact() {
  # The built collection is what a user installs from a collection server:
  # it holds only what a user runs (no lab, no secrets, no test harness),
  # and installed alone with its declared dependencies into an empty
  # collections path (the Python package's bundled collections hidden), every
  # module and role is documented and the site playbook loads.
  local out=build/artifact tarball count purelib
  rm -rf "$out" && mkdir -p "$out/dist" "$out/installed/ansible_collections/community" "$out/unpacked"
  ansible-galaxy collection build --force --output-path "$out/dist" . >/dev/null || return 1
  tarball=$(ls "$out"/dist/homelab-mailserver-*.tar.gz)
  tar -xzf "$tarball" -C "$out/unpacked" || return 1
  bash scripts/check-artifact.sh "$out/unpacked" || return 1
  # the declared dependency (galaxy.yml), as the pinned ansible package ships it:
  # no collection server is reachable here
  purelib=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cp -r "$purelib/ansible_collections/community/crypto" "$out/installed/ansible_collections/community/crypto"
  local -a env=(env ANSIBLE_COLLECTIONS_PATH="$ROOT/$out/installed" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
                ANSIBLE_CONFIG="$ROOT/$out/ansible.cfg" ANSIBLE_ROLES_PATH="$ROOT/$out/no-roles")
  printf '[defaults]\n' >"$out/ansible.cfg"
  "${env[@]}" ansible-galaxy collection install --offline -p "$out/installed" "$tarball" >"$out/install.log" 2>&1 ||
    { cat "$out/install.log"; return 1; }
  # every module the shipped roles and playbooks call, and every module and
  # role of the collection, must resolve and be documented there
  local -a used roles
  mapfile -t used < <(grep -rhoE '^\s*-?\s*[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+:\s*$' roles/*/tasks roles/*/handlers \
    playbooks/site.yml playbooks/verify.yml playbooks/dns_records.yml playbooks/tasks | sed -E 's/^[ -]*//; s/:\s*$//' |
    cat - <(for m in plugins/modules/*.py; do m=${m##*/}; echo "homelab.mailserver.${m%.py}"; done) | sort -u)
  mapfile -t roles < <(for r in roles/*/; do r=${r%/}; echo "homelab.mailserver.${r##*/}"; done)
  "${env[@]}" ansible-doc -j "${used[@]}" 2>/dev/null | artifact_documented module "${used[@]}" || return 1
  "${env[@]}" ansible-doc -t role -j "${roles[@]}" 2>/dev/null | artifact_documented role "${roles[@]}" || return 1
  local -a shipped=(plugins/modules/*.py) role_dirs=(roles/*/)
  count=${#shipped[@]}
  (cd "$out" && "${env[@]}" ansible-playbook -i "$ROOT/inventories/example" homelab.mailserver.site --syntax-check >/dev/null) ||
    return 1
  echo "artifact: $(basename "$tarball") ($(tar -tzf "$tarball" | wc -l) entries) holds no lab, secret or test harness;" \
    "installed with community.crypto alone: ${#used[@]} modules used or shipped ($count shipped) and ${#role_dirs[@]} roles documented, site playbook loads"
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

lab_restore() {
  # Back up the configured lab (messages delivered, others queued while the provider's relay
  # is down), destroy bigboy's container, start a new one and converge the lab over SSH with
  # ansible-navigator from the execution environment, as AWX would (scripts/ee.sh prove-lab: the new
  # bigboy from nothing, the other hosts as they are; a second run must change nothing), restore; the backup repository is mounted from outside the
  # container (playbooks/lab.yml). tests/lab_restore reads the states tests/playbooks/lab_restore.yml recorded.
  local log=build/lab-restore.log
  rm -rf build/lab-restore
  { ansible-playbook -i inventories/lab tests/playbooks/lab_restore.yml -e phase=before &&
    podman rm -f -t 10 bigboy &&
    ansible-playbook -i inventories/lab playbooks/lab.yml &&
    bash scripts/ee.sh prove-lab &&
    ansible-playbook -i inventories/lab tests/playbooks/lab_restore.yml -e phase=after; } >"$log" 2>&1 ||
    { tail -n 40 "$log"; echo "lab: the restore proof's playbooks failed (see $log)"; return 1; }
  pytest -q -p no:cacheprovider -rA -s tests/lab_restore --junitxml=build/lab-restore-tests.xml || return 1
  grep -q 'skipped="0"' build/lab-restore-tests.xml || { echo "lab: a skipped test is not a passed test"; return 1; }
}

lab() {
  # The README's demo end to end on a fresh lab: converge, doctor, mail-flow
  # proof; the doctor finds each planted pitfall; then a second converge and a
  # --check --diff run over SSH must change nothing; tests/lab; the restore from
  # nothing (whose new bigboy is converged over SSH); then the lab goes.
  local out=build/lab-second-run.log rc=0 t0=$SECONDS
  lap() { echo "--- lab: $1 ($((SECONDS - t0)) s since the stage began)"; }
  bash scripts/demo.sh destroy >/dev/null 2>&1
  bash scripts/demo.sh || rc=1
  lap "demo (lab, site.yml, doctor, mail-flow proof)"
  if [ $rc -eq 0 ]; then
    ansible-playbook -i inventories/lab tests/playbooks/doctor_pitfalls.yml || rc=1
    lap "planted pitfalls"
  fi
  if [ $rc -eq 0 ]; then
    # over SSH, as a real host is reached (inventories/lab-ssh: sshd on each host's loopback address)
    # -vvv: tests/lab/test_audit.py looks for vaulted secrets in this output
    ansible-playbook -i inventories/lab-ssh site.yml -vvv >"$out" 2>&1 || rc=1
    lap "second converge"
    if grep -E 'changed=[1-9]|failed=[1-9]' "$out"; then
      echo "lab: the second converge was not idempotent (see $out)"
      rc=1
    else
      grep -A3 'PLAY RECAP' "$out" | tail -n +2
    fi
    # check mode with diffs on the configured lab: nothing would change
    ansible-playbook -i inventories/lab-ssh site.yml --check --diff >"$out.check" 2>&1 || rc=1
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
  if [ $rc -eq 0 ]; then
    lab_restore || rc=1
    lap "restore from nothing (backup, bigboy destroyed, a new one converged by ansible-navigator, restore)"
  fi
  bash scripts/demo.sh destroy >/dev/null 2>&1
  return $rc
}

# The container stages run in four lanes at once (HOMELAB_TEST_LANES=N: the first N
# lanes, the stages of the others in lane A; 1: one after the other): much of their
# time is waiting (package installs, SMTP retries, service restarts, ACME and restore
# round trips), so the lanes finish well before one would on two cores (a measured
# run used 1.2 of the 2 cores on average with three lanes). Each lane logs to
# build/lanes/<lane>.log, printed afterwards. Lane B carries the execution environment, then the
# lab, the longest stage, which converges its restored bigboy with that image; lane C the plain
# hosts, then the resolver, certificates and spam scenarios; lane D deliverability, dovecot and
# watch; lane A the rest: fresh hosts, the ansible-core leg, maps, sendmail. (A measured full run, other work
# beside it: lane A 1,865 s, C 2,407 s, D 2,576 s; B 228 s and a lab that stopped at 1,235 s, about 2,300 s whole.)
LANE_B=(ee lab)
LANE_C=(resolver certificates spam plain-host)
# Scenarios the full suite leaves out, run on demand (scripts/test.sh molecule NAME, or
# molecule with no name): backup, Debian 12's backup and restore of mbox mail; the lab stage
# proves the restore from nothing on Debian 13 (a new container, Maildir) in the full suite.
ON_DEMAND=(backup)
LANE_D=(deliverability dovecot watch)
# Stages that are scripts of their own, not molecule scenarios (lane A unless
# named in another lane): the README's front door on fresh Debian 12 and 13 hosts;
# unit tests and sanity on ansible-core 2.20 and 2.21 (Python 3.13, Debian 13);
# site.yml on plain Debian 13 and 12 hosts (one with Postfix running); the execution
# environment (scripts/ee.sh: 73 to 83 s to build from nothing on 2 cores, then two
# ansible-navigator runs over SSH).
SCRIPT_STAGES=(fresh-host core-matrix plain-host ee)
declare -A STAGE_TITLE=(
  [lab]="demo lab (site.yml, doctor, mail flow, pitfalls, idempotence, faults, audits)"
  [fresh-host]="fresh hosts (bootstrap.sh on Debian 13 and 12, a pod, loopback between two containers)"
  [core-matrix]="ansible-core legs on Python 3.13 (unit tests, sanity; the full suite: 2.21)"
  [plain-host]="plain hosts (site.yml on Debian 13 and 12 with Postfix, doctor, SMTP to IMAPS, idempotence, planted ports)"
  [ee]="execution environment (built from the base image, ansible-navigator over SSH, idempotence)"
)
run_item() {
  case "$1" in
    lab) lab ;;
    fresh-host) bash scripts/fresh-host.sh ;;
    # the full suite runs the newest leg (2.19 runs every other stage); `test.sh core-matrix` runs all
    core-matrix) if [ "$mode" = full ]; then bash scripts/core-matrix.sh 2.21; else bash scripts/core-matrix.sh; fi ;;
    plain-host) bash scripts/plain-host.sh ;;
    # the image from nothing (no layer cache; the tools venv kept), then the proof
    ee) HOMELAB_EE_FROM_NOTHING=1 bash scripts/ee.sh prove ;;
    *) bash scripts/molecule.sh "$1" test ;;
  esac
}
item_title() { echo "${STAGE_TITLE[$1]:-molecule $1}"; }
lane() {
  local name=$1 item rc=0 t0
  shift
  : >"build/lanes/$name.result"
  for item in "$@"; do
    t0=$SECONDS
    echo "=== $(item_title "$item")"
    # each stage's own output too, for the digest of a failed stage at the end
    run_item "$item" 2>&1 | tee "build/lanes/stage-$item.log"
    rc=${PIPESTATUS[0]}
    printf '%s %s %s\n' "$([ "$rc" -eq 0 ] && echo passed || echo FAILED)" "$((SECONDS - t0))" \
      "$(item_title "$item")" >>"build/lanes/$name.result"
  done
}

container_stages() {
  local lanes=${HOMELAB_TEST_LANES:-4} s name secs result pid pids=() in_lane item
  local -A items=([a]="" [b]="" [c]="" [d]="")
  for s in "${SCRIPT_STAGES[@]}" $(all_scenarios) lab; do
    [[ " ${ON_DEMAND[*]} " == *" $s "* ]] && continue
    in_lane=a
    if [ "$lanes" -gt 1 ] && [[ " ${LANE_B[*]} " == *" $s "* ]]; then in_lane=b
    elif [ "$lanes" -gt 2 ] && [[ " ${LANE_C[*]} " == *" $s "* ]]; then in_lane=c
    elif [ "$lanes" -gt 3 ] && [[ " ${LANE_D[*]} " == *" $s "* ]]; then in_lane=d
    fi
    items[$in_lane]+="$s "
  done
  rm -rf build/lanes && mkdir -p build/lanes
  for name in a b c d; do
    [ -n "${items[$name]}" ] || continue
    # shellcheck disable=SC2086 # the lane's stage names, one word each
    lane "$name" ${items[$name]} >"build/lanes/$name.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  for name in a b c d; do
    [ -f "build/lanes/$name.log" ] || continue
    echo "=== lane $name: ${items[$name]% }"
    cat "build/lanes/$name.log"
  done
  # The end of a failed stage's output once more, just above the summary: a CI log read
  # from its end shows why the stage failed, not only that it did.
  for name in a b c d; do
    [ -f "build/lanes/$name.result" ] || continue
    while read -r result secs s; do
      [ "$result" = passed ] && continue
      for item in ${items[$name]}; do
        [ "$(item_title "$item")" = "$s" ] || continue
        echo "=== the last 40 lines of the failed stage $s:"
        tail -n 40 "build/lanes/stage-$item.log" 2>/dev/null
      done
    done <"build/lanes/$name.result"
  done
  for name in a b c d; do
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
    stage "docs and changelog lint (antsibull-docs, antsibull-changelog)" bash scripts/docs-lint.sh
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
    stage "$(item_title lab)" lab
    ;;
  fresh-host | core-matrix | plain-host | ee)
    stage "$(item_title "$mode")" run_item "$mode"
    ;;
  *)
    echo "usage: scripts/test.sh [fast|full|molecule [SCENARIO...]|lab|fresh-host|core-matrix|plain-host|ee]" >&2
    exit 2
    ;;
esac

echo
[ "$failed" -eq 0 ] || printf 'failed stage: %s\n' "${failures[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The collection's second ansible-core leg: the unit tests and
# `ansible-test sanity` on a newer ansible-core than requirements.txt pins,
# on the Python of a newer Debian, in a throwaway container.
#   bash scripts/core-matrix.sh          # every leg below (2.20, 2.21)
#   bash scripts/core-matrix.sh 2.21     # one leg
# A leg is tests/requirements-core-<LEG>.txt (its exact pins) run on the base
# image of its Debian suite (scripts/images.sh builds it) with that suite's
# python3. A skipped unit test counts as a failure, as in scripts/test.sh.
# Kept under .cache/core-matrix/<suite>/ between runs: apt's downloads and
# package lists, pip's cache, and per image (img-<id>) the leg's venv (reused
# while its pins are unchanged) and ansible-test's sanity venvs (keyed by
# their requirements): a second run installs nothing.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# leg -> Debian suite whose python3 runs it
declare -A SUITE=([2.20]=trixie [2.21]=trixie)

legs=("$@")
[ "${#legs[@]}" -gt 0 ] || mapfile -t legs < <(printf '%s\n' "${!SUITE[@]}" | sort -V)

# Runs inside the container, as root, with the checkout's files on stdin (tar).
# shellcheck disable=SC2016 # expanded by the container's bash, not this one
inner='
set -euo pipefail
leg=$1
mkdir -p /src && tar -xf - -C /src

export DEBIAN_FRONTEND=noninteractive
mkdir -p /var/cache/apt/archives/partial /var/lib/apt/lists/partial
# python3-venv: the venvs (ensurepip, also for the get-pip stand-in);
# m4 sendmail-cf: sendmail.mc tests; bind9-utils: named-checkzone;
# openssl: mail_doctor certificate tests; git: ansible-test; shellcheck: the
# sanity test of that name, which only warns and passes when it is missing
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends \
      python3-venv git m4 sendmail-cf bind9-utils openssl shellcheck; } >/tmp/apt.log 2>&1; then
  tail -n 30 /tmp/apt.log; echo "core-matrix: apt-get failed"; exit 1
fi

# pip reaches the index through the host CA bundle; ansible-test does not
# pass PIP_* variables on to its own pip runs, so pip.conf says it too.
printf "[global]\ncert = %s\ndisable-pip-version-check = true\ntimeout = 180\n" "$PIP_CERT" >/etc/pip.conf
# /opt/venv is cached: rebuilt only when the pins change
pins=$(sha256sum "/src/tests/requirements-core-$leg.txt" | cut -d" " -f1)
if [ "$(cat /opt/venv/.pins 2>/dev/null)" != "$pins" ]; then
  python3 -m venv --clear /opt/venv
  /opt/venv/bin/pip install -q -r "/src/tests/requirements-core-$leg.txt"
  echo "$pins" >/opt/venv/.pins
fi
export PATH=/opt/venv/bin:$PATH
site=$(python -c "import sysconfig; print(sysconfig.get_paths()[\"purelib\"])")
rm -rf "$site/ansible_collections/community/crypto" && mkdir -p "$site/ansible_collections/community"
cp -a /run/host-collections/community/crypto "$site/ansible_collections/community/crypto"
pip check >/dev/null || { pip check; echo "core-matrix: the pins of $leg are inconsistent"; exit 1; }
py=$(python -c "import sys; print(\"%d.%d\" % sys.version_info[:2])")
core=$(python -c "import ansible; print(ansible.__version__)")
echo "--- core-matrix $leg: ansible-core $core on Python $py (set up in $SECONDS s)"

rc=0
# unit tests from a copy of their own: they leave build/ and caches behind
cp -a /src /work-unit
echo "--- unit tests"
t0=$SECONDS
if (cd /work-unit && pytest -q -p no:cacheprovider -rs tests/unit --junitxml=/tmp/unit.xml); then
  unit=$(python - <<EOF
import xml.etree.ElementTree as ET
root = ET.parse("/tmp/unit.xml").getroot()
s = root if root.tag == "testsuite" else root.find("testsuite")
n = {k: int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
print("%d passed, %d skipped" % (n["tests"] - n["failures"] - n["errors"] - n["skipped"], n["skipped"]))
EOF
)
  case $unit in
    *" 0 skipped") echo "--- unit tests: $unit ($((SECONDS - t0)) s)" ;;
    *) echo "--- unit tests: $unit: a skipped test is not a passed test"; rc=1 ;;
  esac
else
  echo "--- unit tests: FAILED"; rc=1
fi

# sanity from a pristine copy at ansible_collections/NAMESPACE/NAME; the pip
# bootstrap script cannot be downloaded here: the stand-in takes the name
# under which this ansible-test version looks for it
dest=/work-sanity/ansible_collections/homelab/mailserver
mkdir -p "$(dirname "$dest")" && cp -a /src "$dest"
pipver=$(grep -oP "pip=\x27\K[0-9.]+" /opt/venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -n1)
[ -n "$pipver" ] || { echo "core-matrix: no pip version pinned in ansible-test"; exit 1; }
mkdir -p ~/.ansible/test/cache
cp /src/tests/sanity/get_pip_standin.py ~/.ansible/test/cache/"get_pip_${pipver//./_}.py"
echo "--- ansible-test sanity --python $py"
t0=$SECONDS
if (cd "$dest" && ansible-test sanity --local --python "$py" --requirements --color no) 2>&1 | tee /tmp/sanity.log; then
  ran=$(grep -oP "^Running sanity test [\"\x27]\K[^\"\x27]+" /tmp/sanity.log | tr "\n" " ")
  echo "--- ansible-test sanity: $(wc -w <<<"$ran") tests passed ($((SECONDS - t0)) s): $ran"
else
  echo "--- ansible-test sanity: FAILED"; rc=1
fi
exit $rc
'

files() {
  # what git knows of (tracked and untracked, not ignored) and still exists:
  # no build/, .venv or tests/output leak into the container
  git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
  done
}

container=""
cleanup() { [ -z "$container" ] || podman rm -f -i -t 0 "$container" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ca=/etc/ssl/certs/ca-certificates.crt
[ -r "$ca" ] || { echo "core-matrix: no CA bundle at $ca" >&2; exit 1; }
# the collection's declared dependency (galaxy.yml), as requirements.txt's ansible package
# ships it (no collection server is reachable here): copied into the leg's venv, where the
# unit tests' ansible-playbook finds it as on the host (in site-packages)
crypto="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections/community/crypto"
[ -d "$crypto" ] || { echo "core-matrix: no community.crypto at $crypto (run scripts/bootstrap.sh)" >&2; exit 1; }

failed=()
for leg in "${legs[@]}"; do
  suite=${SUITE[$leg]:-}
  [ -n "$suite" ] || { echo "core-matrix: unknown leg $leg (known: ${!SUITE[*]})" >&2; exit 2; }
  [ -f "tests/requirements-core-$leg.txt" ] || { echo "core-matrix: no tests/requirements-core-$leg.txt" >&2; exit 2; }
  image="$IMAGE_PREFIX:$suite"
  podman image exists "$image" || { echo "core-matrix: no image $image: run scripts/images.sh $suite" >&2; exit 1; }
  cache="$ROOT/.cache/core-matrix/$suite"
  # venvs point at the image's python3: they are kept per image, older ones go
  img="$cache/img-$(podman image inspect --format '{{.Id}}' "$image" | cut -c1-12)"
  mkdir -p "$cache/apt-archives" "$cache/apt-lists" "$cache/pip" "$img/venv-$leg" "$img/ansible-test-venv"
  exec 9>"$cache/.lock"
  flock 9 # one run at a time uses a suite's cache
  for d in "$cache"/img-*; do [ "$d" = "$img" ] || rm -rf "$d"; done
  container="homelab-core-matrix-${leg//./-}-$$"
  t0=$SECONDS
  echo "=== core-matrix $leg ($image)"
  # the CA bundle goes beside the container's own: over it, it would break
  # the ca-certificates package's postinst
  # in the background: `wait` lets a signal through at once, and the EXIT
  # trap removes the container
  { files | tar --null -T - -cf - | podman run --rm -i --pull never --name "$container" \
      -v "$ca:/run/host-ca/ca-certificates.crt:ro" -e PIP_CERT=/run/host-ca/ca-certificates.crt \
      -v "$cache/apt-archives:/var/cache/apt/archives" -v "$cache/apt-lists:/var/lib/apt/lists" \
      -v "$cache/pip:/root/.cache/pip" \
      -v "$crypto:/run/host-collections/community/crypto:ro" \
      -v "$img/venv-$leg:/opt/venv" -v "$img/ansible-test-venv:/root/.ansible/test/venv" \
      "$image" bash -c "$inner" bash "$leg"; } &
  if wait $!; then
    echo "=== core-matrix $leg: passed ($((SECONDS - t0)) s)"
  else
    echo "=== core-matrix $leg: FAILED ($((SECONDS - t0)) s)"
    failed+=("$leg")
  fi
  cleanup
  container=""
  exec 9>&-
done

echo "core-matrix: ${#legs[@]} leg(s), ${#failed[@]} failed${failed[*]:+: ${failed[*]}} ($SECONDS s)"
[ "${#failed[@]}" -eq 0 ]

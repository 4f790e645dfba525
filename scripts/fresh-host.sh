#!/usr/bin/env bash
# The README's front door on fresh Debian hosts: for each release, a fresh
# privileged container from the base image (nothing installed but the
# image's minbase), the checkout's scripts/bootstrap.sh run in it, then,
# with the podman that bootstrap.sh installed, what the demo and the tests
# ask of podman: create a pod that shares a network namespace (the pause
# process: catatonit), start a container in it (the pod's network: netavark
# calls nft on Debian 13, the CNI plugins iptables on Debian 12) and make one
# TCP connection over loopback between two containers of that pod.
#   bash scripts/fresh-host.sh [SUITE...]   (default: trixie bookworm, at once)
# A package that bootstrap.sh fails to name makes this fail with the
# command's own error. Package downloads (apt's archives, pip's cache) are
# kept outside the checkout, in ~/.cache/homelab-mailserver/fresh-host, so
# that a clean clone reuses them; the packages are still installed from
# nothing in each run.
#
# Only the nesting needs settings of its own (no overlay or systemd cgroups
# inside a container): podman runs there with --storage-driver vfs and
# --cgroup-manager cgroupfs and writes its events to a file.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(trixie bookworm)
mkdir -p build/fresh-host

# What runs inside the fresh container, as root, in a copy of the checkout.
inner() {
  cat <<'INNER'
set -euo pipefail
cd /root/checkout
t0=$SECONDS
echo "fresh-host: $(. /etc/os-release && echo "$PRETTY_NAME"): bash scripts/bootstrap.sh"
bash scripts/bootstrap.sh
echo "fresh-host: bootstrap took $((SECONDS - t0)) s"
source scripts/env.sh
export PODMAN_IGNORE_CGROUPSV1_WARNING=1  # podman 5 inside a container of this cgroup v1 machine
podman() { command podman --storage-driver vfs --cgroup-manager cgroupfs --events-backend file "$@"; }
# A minimal image for the pod's containers: python3 with its libraries.
py=$(readlink -f /usr/bin/python3)
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
{ echo "$py"; ldd "$py" | grep -oE '/[^ ]+'; } | sort -u >/tmp/mini.files
tar -ch --exclude=test --exclude=__pycache__ --exclude=idlelib --exclude=tkinter -T /tmp/mini.files "$stdlib" 2>/dev/null |
  podman import -q --change "CMD [\"$py\"]" - localhost/fresh-mini:latest >/dev/null
podman pod create --name fresh --share net
podman run -d --pod fresh --name fresh-server localhost/fresh-mini "$py" -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8025))
s.listen(1)
c, _ = s.accept()
c.sendall(b"220 hello from the other container\r\n")
c.close()'
answer=$(podman run --rm --pod fresh --name fresh-client localhost/fresh-mini "$py" -c '
import socket, time
for attempt in range(50):
    try:
        c = socket.create_connection(("127.0.0.1", 8025), timeout=5)
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("no answer on 127.0.0.1:8025")
print(c.recv(100).decode().strip())')
echo "fresh-host: client read over loopback: $answer"
[ "$answer" = "220 hello from the other container" ]
podman pod rm -f fresh >/dev/null
echo "fresh-host: passed in $((SECONDS - t0)) s"
INNER
}

one() {
  local suite=$1 name="homelab-fresh-$1-$$" image="$IMAGE_PREFIX:$1" rc=0
  local ca=/etc/ssl/certs/ca-certificates.crt cache="${XDG_CACHE_HOME:-$HOME/.cache}/homelab-mailserver/fresh-host"
  mkdir -p "$cache/apt-$suite/partial" "$cache/pip-$suite"
  podman rm -f "$name" >/dev/null 2>&1 || true
  # pip inside needs this machine's CA bundle, mounted beside the image's own
  # (mounting it over the image's file breaks ca-certificates' postinst).
  podman run -d --privileged --systemd=false --name "$name" \
    -v "$ca:/etc/homelab-host-ca.crt:ro" -e PIP_CERT=/etc/homelab-host-ca.crt \
    -v "$cache/apt-$suite:/var/cache/apt/archives:rw" \
    -v "$cache/pip-$suite:/root/.cache/pip:rw" \
    "$image" sleep infinity >/dev/null || return 1
  # the checkout as a clone would have it: tracked and new files, no build/ or .venv
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - |
    podman exec -i "$name" bash -c 'mkdir -p /root/checkout && tar -xf - -C /root/checkout' || rc=1
  if [ $rc -eq 0 ]; then
    inner | podman exec -i "$name" bash -s || rc=1
  fi
  podman rm -f "$name" >/dev/null 2>&1 || true
  return $rc
}

pids=()
for s in "${suites[@]}"; do
  one "$s" >"build/fresh-host/$s.log" 2>&1 &
  pids+=($!)
done
rc=0
for i in "${!suites[@]}"; do
  if wait "${pids[$i]}"; then result=passed; else result=FAILED; rc=1; fi
  echo "--- fresh host ${suites[$i]}: $result (log: build/fresh-host/${suites[$i]}.log)"
  if [ "$result" = passed ]; then
    grep -E '^fresh-host:|^bootstrap:' "build/fresh-host/${suites[$i]}.log" || true
  else
    tail -n 30 "build/fresh-host/${suites[$i]}.log"
  fi
done
exit $rc

#!/usr/bin/env bash
# The collection's execution environment (meta/execution-environment.yml), the image
# AWX, Automation Controller and ansible-navigator run it in:
#   bash scripts/ee.sh [build]    # build localhost/homelab-mailserver-ee:VERSION (galaxy.yml's version)
#   bash scripts/ee.sh rebuild    # the same from nothing: no layer cache, the tools venv made anew
#   bash scripts/ee.sh prove      # build if needed, then ansible-navigator runs a play of the
#                                 # collection in the image over SSH against a throwaway target
#                                 # container (pod ee-proof), twice: the second run must change nothing
#   bash scripts/ee.sh prove-site # the same with the collection's site playbook (homelab.mailserver.site)
#                                 # on the example inventory: a whole mail server, several minutes
#   bash scripts/ee.sh prove-lab [LIMIT]  # the site playbook from the image on the lab that is up
#                                 # (scripts/demo.sh), over SSH inside its pod, twice: the second
#                                 # run must change nothing (the lab stage's restored bigboy)
# Nothing is pulled: the base is the project's own Debian 13 image (scripts/images.sh),
# pip inside the build uses this machine's own pip configuration (index, CA bundle),
# apt the mirror the base image names, and the collections go in as tarballs.
# The image is rebuilt only when its recipe changes (label homelab.recipe). Prints its time.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

mode=${1:-build}
version=$(awk '$1 == "version:" {print $2; exit}' galaxy.yml)
EE_IMAGE="localhost/homelab-mailserver-ee:$version"
tools=build/ee-tools
stage=build/ee
t0=$SECONDS

log() { echo "ee: $*"; }

tools_venv() {
  # ansible-builder and ansible-navigator in their own venv: the collection's tooling
  # (requirements.txt) stays as it is.
  local want have=""
  want=$(sha256sum scripts/ee-tools-requirements.txt | cut -c1-16)
  [ -f "$tools/.pins" ] && have=$(cat "$tools/.pins")
  if [ "$want" != "$have" ] || [ ! -x "$tools/bin/ansible-builder" ]; then
    log "tools venv ($tools): ansible-builder and ansible-navigator"
    rm -rf "$tools"
    python3 -m venv "$tools"
    "$tools/bin/python" -m pip install -q -r scripts/ee-tools-requirements.txt
    echo "$want" >"$tools/.pins"
  fi
}

pip_conf() {
  # This machine's pip settings, as pip itself reports them (environment first, then its
  # configuration files), carried into the build: the index and extra indexes reachable
  # over the network, the CA bundle (copied in), trusted hosts and the timeout. Local
  # paths (file: indexes, find-links directories) are not visible inside the build.
  local out=$stage/pip
  mkdir -p "$out"
  cp meta/ee-requirements.txt "$out/constraints.txt"
  "$tools/bin/python" -m pip config list | "$tools/bin/python" -c '
import ast, shutil, sys
out = sys.argv[1]
found = {}
for line in sys.stdin:
    key, _, value = line.strip().partition("=")
    scope, _, name = key.rpartition(".")
    value = ast.literal_eval(value)
    # the environment wins over the files, as in pip
    if scope == ":env:" or name not in found:
        found[name] = value
lines = ["[global]", "constraint = /output/ee/pip/constraints.txt"]
for name in ("index-url", "extra-index-url", "trusted-host"):
    urls = [u for u in found.get(name, "").split() if name == "trusted-host" or u.startswith(("https:", "http:"))]
    skipped = [u for u in found.get(name, "").split() if u not in urls]
    if urls:
        lines.append("%s = %s" % (name, " ".join(urls)))
    if skipped:
        print("ee: pip %s not visible inside the build, left out: %s" % (name, " ".join(skipped)))
for name in ("timeout", "default-timeout"):
    if name in found:
        lines.append("timeout = %s" % found[name])
        break
if found.get("cert"):
    shutil.copyfile(found["cert"], out + "/ca.pem")
    lines.append("cert = /output/ee/pip/ca.pem")
open(out + "/pip.conf", "w").write("\n".join(lines) + "\n")
' "$out"
}

collections() {
  # The collection as a user installs it (its built artifact: no lab, tests or dev
  # tooling; the tree's requirements.txt would make ansible-builder install the whole
  # test tooling into the image), and community.crypto from the pinned ansible package
  # (no collection server is reachable) as the installed directory it is.
  local out=$stage/collections purelib
  rm -rf "$out" "$stage/community.crypto" && mkdir -p "$out/build"
  ansible-galaxy collection build --force --output-path "$out/build" . >/dev/null
  mv "$out"/build/homelab-mailserver-*.tar.gz "$out/homelab-mailserver.tar.gz"
  rmdir "$out/build"
  purelib=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cp -r "$purelib/ansible_collections/community/crypto" "$stage/community.crypto"
  find "$stage/community.crypto" -name __pycache__ -prune -exec rm -rf {} +
}

recipe() {
  # what the image is made of: the definition and its files, the base image, the pinned
  # tools, and the two collections' file checksums (not the tarballs' timestamps)
  {
    cat meta/execution-environment.yml meta/ee-requirements.txt meta/ee-bindep.txt scripts/ee-apt \
      scripts/ee-tools-requirements.txt
    podman image inspect --format '{{.Id}}' "$IMAGE_PREFIX:trixie"
    tar -xzOf "$stage/collections/homelab-mailserver.tar.gz" FILES.json
    cat "$stage/community.crypto/MANIFEST.json"
    grep -v '^cert' "$stage/pip/pip.conf"
  } | sha256sum | cut -c1-16
}

build() {
  local nocache=${1:-}
  podman image exists "$IMAGE_PREFIX:trixie" || bash scripts/images.sh trixie
  tools_venv
  pip_conf
  collections
  local recipe
  recipe=$(recipe)
  if [ -z "$nocache" ] && podman image exists "$EE_IMAGE" &&
     [ "$(podman image inspect --format '{{ index .Labels "homelab.recipe" }}' "$EE_IMAGE")" = "$recipe" ]; then
    log "$EE_IMAGE is current ($recipe, $((SECONDS - t0)) s)"
    return 0
  fi
  log "building $EE_IMAGE (recipe $recipe)"
  rm -rf "$stage/context"
  local -a extra=(--label "homelab.recipe=$recipe")
  [ -n "$nocache" ] && extra+=(--no-cache)
  if ! "$tools/bin/ansible-builder" build -v 2 --container-runtime podman \
      -f meta/execution-environment.yml -c "$stage/context" -t "$EE_IMAGE" \
      --extra-build-cli-args "${extra[*]}" >"$stage/build.log" 2>&1; then
    tail -n 40 "$stage/build.log" >&2
    log "build failed (log: $stage/build.log)"
    return 1
  fi
  log "built $EE_IMAGE in $((SECONDS - t0)) s ($(podman image inspect --format '{{.Size}}' "$EE_IMAGE" |
    awk '{printf "%d MB", $1 / 1e6}'))"
}

navigator_twice() {
  # ansible-navigator run in the image, twice, inside DIR (all the EE container sees) with the EE
  # container in POD; then ansible-navigator run's own arguments. Each run's log in DIR/runN.log,
  # its recap printed. Fails when a run fails or when any host of the second run changed something.
  local dir=$1 pod=$2 run rc=0
  shift 2
  # ansible-navigator refuses podman without a /dev/mqueue directory on the host (runner
  # passes --ipc=host; navigator issue 610). systemd mounts one on a standard host; this
  # sandbox has none, and podman itself needs none (it mounts its own in the container):
  # an empty directory satisfies navigator's check.
  if [ ! -d /dev/mqueue ]; then
    log "no /dev/mqueue on this host: made the empty directory ansible-navigator checks for"
    mkdir /dev/mqueue
  fi
  for run in 1 2; do
    # without a terminal, navigator's stdout mode passes ansible-runner's event markers on
    # (ESC[K, base64, ESC[nD): dropped from the log
    if ! (cd "$dir" && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_VAULT_PASSWORD_FILE \
        "$ROOT/$tools/bin/ansible-navigator" run "$@" --mode stdout \
          --ee true --ce podman --eei "$EE_IMAGE" --pull-policy never --pae false \
          --lf "$ROOT/$dir/navigator.log" --co=--pod="$pod") 2>&1 |
        sed -E 's/\x1b\[K[A-Za-z0-9+\/=]*\x1b\[[0-9]+D//g; s/\x1b\[K//g' >"$dir/run$run.log"; then
      rc=1
    fi
    sed -n '/PLAY RECAP/,$p' "$dir/run$run.log"
    [ $rc -eq 0 ] || { tail -n 40 "$dir/run$run.log"; log "navigator run $run failed (log: $dir/run$run.log)"; return 1; }
  done
  if ! grep -qE '^[a-z.-]+ +: ' "$dir/run2.log" ||
     grep -E '^[a-z.-]+ +: ' "$dir/run2.log" | grep -qvE ' changed=0 .*failed=0'; then
    log "the second run was not idempotent (see $dir/run2.log)"; return 1
  fi
}

proof_down() {
  podman pod rm -f -t 0 ee-proof >/dev/null 2>&1 || true
}

prove() {
  # A throwaway target: a systemd container with sshd on 127.0.0.1:2222 in its own pod's
  # network namespace; the EE container joins that pod, so everything stays on loopback.
  # $1: resolver (tests/playbooks/ee_proof.yml) or site (homelab.mailserver.site on the
  # example inventory as the plain-host stage adapts it, tests/plain_host/inventory).
  local what=${1:-resolver} dir=$stage/proof hostname=mail playbook=ee_proof.yml
  # (the short name: the FQDN goes on the 127.0.0.1 line; over SSH root in the container may
  # not change the running host name, which nsenter in the plain-host stage can)
  [ "$what" = site ] && hostname=bigboy playbook=site.yml
  rm -rf "$dir" && mkdir -p "$dir" "$ROOT/.cache/apt/ee-proof-trixie"
  # the key pair with the tooling's cryptography package: a fresh host has no ssh-keygen
  # (openssh-client is only recommended by git, and bootstrap.sh installs no recommends)
  python - "$dir/id_ed25519" <<'PY'
import os, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
key = Ed25519PrivateKey.generate()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                               serialization.NoEncryption()))
os.close(fd)
with open(sys.argv[1] + ".pub", "wb") as pub:
    pub.write(key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
              + b" ee-proof\n")
PY
  proof_down
  trap proof_down EXIT
  podman pod create --name ee-proof --share net >/dev/null
  podman run -d --pod ee-proof --name ee-target --hostname "$hostname" --systemd=always --cap-add SYS_PTRACE \
    -v "$ROOT/.cache/apt/ee-proof-trixie:/var/cache/apt/archives:rw" \
    "$IMAGE_PREFIX:trixie" /sbin/init >/dev/null
  podman exec ee-target bash -c 'for _ in $(seq 60); do
      s=$(systemctl is-system-running 2>/dev/null); case $s in running|degraded) exit 0;; esac; sleep 1; done; exit 1'
  # sshd's configuration before the package: it never listens anywhere else
  podman exec -i ee-target bash -c 'set -e
    mkdir -p /etc/ssh/sshd_config.d /root/.ssh && chmod 700 /root/.ssh
    printf "Port 2222\nListenAddress 127.0.0.1\nPasswordAuthentication no\n" >/etc/ssh/sshd_config.d/ee-proof.conf
    cat >/root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys
    export DEBIAN_FRONTEND=noninteractive
    apt-get -q update >/tmp/apt.log 2>&1 && apt-get -q install -y openssh-server >>/tmp/apt.log 2>&1 ||
      { tail -n 20 /tmp/apt.log; exit 1; }
    for _ in $(seq 30); do (exec 3<>/dev/tcp/127.0.0.1/2222) 2>/dev/null && exit 0; sleep 1; done; exit 1' \
    <"$dir/id_ed25519.pub"
  log "target ee-target: sshd on 127.0.0.1:2222 in pod ee-proof ($((SECONDS - t0)) s)"
  # the EE's user (1000) reads the key inside the container
  chown 1000 "$dir/id_ed25519"
  local ssh_vars="ansible_host=127.0.0.1 ansible_port=2222 ansible_user=root ansible_connection=ssh"
  ssh_vars+=" ansible_ssh_private_key_file=$ROOT/$dir/id_ed25519 ansible_python_interpreter=/usr/bin/python3"
  ssh_vars+=" ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"
  if [ "$what" = site ]; then
    # the example's group_vars and the plain-host stage's loopback host_vars, copied: the
    # EE container sees only this directory
    cp -rL tests/plain_host/inventory/group_vars "$dir/group_vars"
    mkdir -p "$dir/host_vars" && cp -L tests/plain_host/inventory/host_vars/bigboy.trixie.yml "$dir/host_vars/bigboy.ee.yml"
    printf '[mail_servers]\nbigboy.ee %s\n[my_site_com]\nbigboy.ee\n[another_site_com]\nbigboy.ee\n' "$ssh_vars" \
      >"$dir/inventory.ini"
    printf -- '---\n- name: The collection site playbook, from the image\n  ansible.builtin.import_playbook: homelab.mailserver.site\n' \
      >"$dir/site.yml"
  else
    printf '[mail_servers]\nee-target %s\n' "$ssh_vars" >"$dir/inventory.ini"
    cp tests/playbooks/ee_proof.yml "$dir/ee_proof.yml"
  fi
  navigator_twice "$dir" ee-proof "$playbook" -i inventory.ini || return 1
  if ! grep -qE '^[a-z.-]+ +: ok=[0-9]+ +changed=[1-9]' "$dir/run1.log"; then
    log "the first run changed nothing: it proved nothing"; return 1
  fi
  log "proved: $playbook applied by ansible-navigator in $EE_IMAGE over SSH, then 0 changed ($((SECONDS - t0)) s)"
}

prove_lab() {
  # The lab (playbooks/lab.yml, already up), converged by ansible-navigator from the image over SSH:
  # the EE container joins the lab's pod, so it reaches each host's sshd on its own loopback address
  # (lab_ssh_address) with this lab's key and known_hosts (.cache/lab-ssh), as AWX reaches real hosts.
  # The collection's site playbook twice: the first run must not fail, the second must change nothing.
  # $1: an --limit pattern (default: every host site.yml applies to).
  local limit=${1:-all} dir=$stage/lab
  podman pod exists homelab-lab || { log "no lab is up (bash scripts/demo.sh makes one)"; return 1; }
  [ -f .cache/lab-ssh/id_ed25519 ] || { log "the lab has no SSH key (.cache/lab-ssh): run playbooks/lab.yml"; return 1; }
  rm -rf "$dir" && mkdir -p "$dir"
  # the EE container sees only this directory: the lab inventory's variables (links resolved),
  # its vault password, the key and known_hosts, and an inventory without the ProxyCommand that
  # inventories/lab-ssh needs outside the pod
  cp -rL inventories/lab/group_vars inventories/lab/host_vars "$dir/"
  cp inventories/lab/vault-password.txt .cache/lab-ssh/id_ed25519 .cache/lab-ssh/known_hosts "$dir/"
  python - inventories/lab-ssh/hosts.yml "$dir/hosts.yml" <<'PY'
import sys
import yaml
with open(sys.argv[1]) as handle:
    inventory = yaml.safe_load(handle)
common = inventory["all"]["vars"]
common.pop("__lab_ssh_dir", None)
common["ansible_ssh_private_key_file"] = "{{ inventory_dir }}/id_ed25519"
common["ansible_ssh_common_args"] = "-o UserKnownHostsFile={{ inventory_dir }}/known_hosts -o StrictHostKeyChecking=yes"
with open(sys.argv[2], "w") as handle:
    handle.write("---\n# inventories/lab-ssh for ansible-navigator inside the lab's pod (scripts/ee.sh prove-lab)\n")
    yaml.safe_dump(inventory, handle, sort_keys=False)
PY
  printf -- '---\n- name: The collection site playbook, from the image\n  ansible.builtin.import_playbook: homelab.mailserver.site\n' \
    >"$dir/site.yml"
  # the EE's user (1000) reads them inside the container
  chown -R 1000 "$dir"
  navigator_twice "$dir" homelab-lab site.yml -i hosts.yml --limit "$limit" --vault-password-file vault-password.txt ||
    return 1
  log "proved: the lab ($limit) converged by ansible-navigator in $EE_IMAGE over SSH, then 0 changed ($((SECONDS - t0)) s)"
}

case "$mode" in
  build) build ;;
  rebuild)
    rm -rf "$tools"
    build no-cache
    ;;
  prove)
    # HOMELAB_EE_FROM_NOTHING=1 (the test command's stage ee): every image layer built anew
    build "${HOMELAB_EE_FROM_NOTHING:+no-cache}"
    prove resolver
    ;;
  prove-site)
    build
    prove site
    ;;
  prove-lab)
    build
    prove_lab "${2:-all}"
    ;;
  *)
    echo "usage: scripts/ee.sh [build|rebuild|prove|prove-site|prove-lab [LIMIT]]" >&2
    exit 2
    ;;
esac

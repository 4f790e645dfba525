#!/usr/bin/env bash
# Install everything the collection's demo and tests need on a Debian host:
# podman with runc, debootstrap, the pinned Python tooling in .venv, and the
# link that makes homelab.mailserver.* resolve to this working tree.
# Idempotent: a second run installs nothing new.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# Every package is named: nothing is left to apt's "recommends", which this
# installs without (podman only recommends its pause binary, catatonit).
#   podman runc catatonit: containers and pods (runc: crun fails on hybrid cgroups;
#     catatonit: the pod's pause process)
#   nftables iptables: pod networking (netavark calls nft; the CNI plugins iptables)
#   debootstrap: the base images; uidmap slirp4netns fuse-overlayfs: podman's helpers
#   m4 sendmail-cf: the unit tests build sendmail.mc (m4 files only, no daemon)
#   bind9-utils: named-checkzone for the zone snippet tests
#   openssh-client: Ansible's ssh connection (the lab's runs over SSH, inventories/lab-ssh)
apt_pkgs=(podman runc catatonit nftables iptables debootstrap uidmap slirp4netns fuse-overlayfs
          python3-venv python3-pip git ca-certificates
          m4 sendmail-cf shellcheck bind9-utils openssh-client)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=python3
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$py" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python tooling from requirements.txt"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi

mkdir -p build/collections/ansible_collections/homelab
ln -sfn ../../../.. build/collections/ansible_collections/homelab/mailserver
echo "bootstrap: ready (podman $(podman --version | awk '{print $3}'), $(.venv/bin/ansible --version | sed -n 1p))"

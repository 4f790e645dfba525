#!/usr/bin/env bash
# Build the base images the lab and the molecule scenarios run on:
#   localhost/homelab-mailserver-base:trixie   (Debian 13)
#   localhost/homelab-mailserver-base:bookworm (Debian 12)
# from Debian's packages with debootstrap, using the mirror this machine's own
# apt configuration names. An image is rebuilt only when its recipe changes
# (the recipe's hash is stored as the image label homelab.recipe).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(trixie bookworm)

# Packages every image carries: what Ansible and systemd need, plus the
# tools the tests use inside the containers.
include="python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,procps,ca-certificates,gnupg"

mirror() {
  # First non-security URI of this machine's apt sources (deb822 or one-line).
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources | grep -v -- '-security' | head -n1 || true)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { echo "images: no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
  echo "$uri"
}

build() {
  local suite=$1 uri=$2 tag="$IMAGE_PREFIX:$1"
  local recipe
  recipe=$(printf '%s\n%s\n%s\n' "$suite" "$include" "$(sed -n '/^setup_rootfs()/,/^}/p' "$0")" | sha256sum | cut -c1-16)
  if podman image exists "$tag" &&
     [ "$(podman image inspect --format '{{ index .Labels "homelab.recipe" }}' "$tag")" = "$recipe" ]; then
    echo "images: $tag is current ($recipe)"
    return 0
  fi
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/homelab-rootfs-$suite.XXXXXX")
  echo "images: debootstrap $suite (recipe $recipe)"
  if ! debootstrap --variant=minbase --include="$include" "$suite" "$dir" "$uri" >"$dir.log" 2>&1; then
    tail -n 30 "$dir.log" >&2
    rm -rf "$dir"
    return 1
  fi
  setup_rootfs "$dir" "$suite" "$uri"
  tar -C "$dir" -c . | podman import -q --change "LABEL homelab.recipe=$recipe" \
    --change 'CMD ["/sbin/init"]' - "$tag" >/dev/null
  rm -rf "$dir" "$dir.log"
  echo "images: built $tag"
}

setup_rootfs() {
  local dir=$1 suite=$2 uri=$3
  # The suite's own updates next to the release, as a Debian host has.
  printf 'deb %s %s main\ndeb %s %s-updates main\n' "$uri" "$suite" "$uri" "$suite" >"$dir/etc/apt/sources.list"
  # Keep downloaded packages: tests mount a per-suite cache here.
  rm -f "$dir/etc/apt/apt.conf.d/docker-clean"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$dir/etc/apt/apt.conf.d/90homelab"
  # A container has no consoles or kernel log to serve.
  for unit in getty@tty1.service console-getty.service systemd-logind.service \
              apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$dir/etc/systemd/system/$unit"
  done
  rm -f "$dir/etc/machine-id" && : >"$dir/etc/machine-id"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb
  # An empty package list must look stale, so cache_valid_time refreshes it.
  touch -d @0 "$dir/var/lib/apt/lists"
}

uri=$(mirror)
pids=()
for s in "${suites[@]}"; do
  build "$s" "$uri" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc

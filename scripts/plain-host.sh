#!/usr/bin/env bash
# The plain-host stage: site.yml on plain
# Debian systemd containers that had nothing from playbooks/lab.yml (no policy-rc.d:
# packages start their daemons; each container has its own network namespace),
# with inventories/example adapted only in its addresses and a password
# (tests/plain_host/inventory/hosts.yml lists the adaptation):
#   plain-host-trixie    Debian 13, apt as a stock Debian installs (recommended packages too)
#   plain-host-bookworm  Debian 12 with Postfix installed and running on port 25
# First, a run with the example's own Dovecot address 192.168.1.100 must stop in
# site.yml's first play, before any host changes. Both hosts are then converged in
# one ansible-playbook run. Then:
#   - the doctor (playbooks/verify.yml) must pass; its DNS check (dns_published)
#     is skipped (mail_doctor_check_dns=false): the chapter's domains are not ours
#     to publish records for;
#   - tests/plain_host: a message sent over SMTP to 127.0.0.1:25 inside each
#     container is fetched over IMAPS (127.0.0.1:993) with paul's password; no
#     other MTA is installed or running; sendmail alone holds 25 and 587;
#   - a second site.yml run must change nothing;
#   - processes planted on 127.0.0.1:25 of the Debian 12 host (sendmail stopped) and
#     on 127.0.0.1:110 of the Debian 13 host (where a new Dovecot listener goes) must
#     make a sendmail-and-dovecot run fail on both, naming the port and the process.
#   bash scripts/plain-host.sh            # the stage; the containers are removed at the end
#   PLAIN_HOST_KEEP=1 bash scripts/plain-host.sh   # keep them for a look
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

inventory=tests/plain_host/inventory
trixie=plain-host-trixie
bookworm=plain-host-bookworm
logs=${PLAIN_HOST_LOGS:-$ROOT/.cache/plain-host}
mkdir -p "$logs"
started=$(date +%s)
lap=$started

say() { printf 'plain-host: %s\n' "$*"; }
step() {
  local now
  now=$(date +%s)
  say "$* ($((now - lap)) s, $((now - started)) s in all)"
  lap=$now
}
fail() {
  say "FAILED: $*"
  exit 1
}
remove_containers() { podman rm -f -t 5 "$trixie" "$bookworm" >/dev/null 2>&1 || true; }
finish() {
  local rc=$?
  if [ "${PLAIN_HOST_KEEP:-0}" = 1 ]; then
    say "containers kept: $trixie $bookworm (podman rm -f $trixie $bookworm)"
  else
    remove_containers
  fi
  say "$([ "$rc" -eq 0 ] && echo passed || echo failed) in $(($(date +%s) - started)) s (logs in $logs)"
}
trap finish EXIT

# "PLAY RECAP" line of HOST in LOG must show failed=0 and, with a second argument, changed=0.
recap_ok() {
  local log=$1 host=$2 unchanged=${3:-}
  local line
  line=$(grep -E "^$host +: " "$log" | tail -n1 || true)
  [ -n "$line" ] || return 1
  grep -q 'failed=0' <<<"$line" && grep -q 'unreachable=0' <<<"$line" || return 1
  [ -z "$unchanged" ] || grep -q ' changed=0 ' <<<"$line"
}

bash scripts/images.sh trixie bookworm >/dev/null
remove_containers
for suite in trixie bookworm; do
  name=plain-host-$suite
  mkdir -p ".cache/apt/$name/partial"
  # Nothing from lab.yml: no pod, no policy-rc.d, no lab name server. SYS_PTRACE lets
  # Debian's init script find the running sendmail on restart (docs/dev/harness.md);
  # the apt cache only saves downloads between runs.
  podman run -d --name "$name" --systemd=always --cap-add SYS_PTRACE --hostname bigboy.my-site.com \
    -v "$ROOT/.cache/apt/$name:/var/cache/apt/archives:rw" \
    "$IMAGE_PREFIX:$suite" /sbin/init >/dev/null
done
for name in "$trixie" "$bookworm"; do
  state=$(podman exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
  case $state in running | degraded) ;; *) fail "$name: systemd is $state" ;; esac
done
# A stock Debian installs recommended packages; the base image turns that off.
podman exec "$trixie" sed -i '/Install-Recommends/d' /etc/apt/apt.conf.d/90homelab
step "containers started"

# Debian 12 with Postfix answering on port 25, as on a host that had one before.
podman exec "$bookworm" bash -c '
  set -e
  apt-get update -qq
  printf "%s\n" "postfix postfix/main_mailer_type select Internet Site" \
                "postfix postfix/mailname string bigboy.my-site.com" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/var/tmp/postfix-install.log 2>&1
  systemctl is-active --quiet postfix
  for i in $(seq 30); do ss -ltnpH "sport = :25" | grep -q "\"master\"" && exit 0; sleep 1; done
  exit 1' || fail "$bookworm: Postfix did not come up on port 25"
step "Postfix installed and listening on port 25 of $bookworm"

# per-task times at the end of each log
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=15

# The example's listener address, which these hosts lack (tests/plain_host/unadapted.yml):
# the run must stop in site.yml's first play, naming it, before any host changes.
if ansible-playbook -i "$inventory" site.yml -e @tests/plain_host/unadapted.yml >"$logs/unadapted.log" 2>&1; then
  fail "the run with the example's address 192.168.1.100 did not fail (log: $logs/unadapted.log)"
fi
line=$(grep -F "[ERROR]" "$logs/unadapted.log" | grep -F "an address of this host" | head -n1 || true)
for word in "dovecot_listeners.pop3s.address" "192.168.1.100"; do
  grep -qF "$word" <<<"$line" || fail "the failure does not name '$word' (log: $logs/unadapted.log)"
done
! grep -q '^PLAY \[Host name' "$logs/unadapted.log" || fail "a play after the checks ran (log: $logs/unadapted.log)"
for host in bigboy.trixie bigboy.bookworm; do
  grep -qE "^$host +: .* changed=0 .* failed=1 " "$logs/unadapted.log" ||
    fail "$host: the run with 192.168.1.100 changed something or did not fail there (log: $logs/unadapted.log)"
done
podman exec "$bookworm" systemctl is-active --quiet postfix || fail "$bookworm: Postfix was touched by the failed run"
step "the example's 192.168.1.100 stops the run in its first play, nothing changed"
if ! ansible-playbook -i "$inventory" site.yml >"$logs/converge.log" 2>&1; then
  tail -n 60 "$logs/converge.log"
  fail "the first site.yml run failed (log: $logs/converge.log)"
fi
for host in bigboy.trixie bigboy.bookworm; do
  recap_ok "$logs/converge.log" "$host" || fail "$host: the first run did not end with failed=0"
done
step "site.yml converged both hosts (Debian 13 clean, Debian 12 with Postfix)"

say "the doctor's DNS check (dns_published) is skipped: mail_doctor_check_dns=false"
# without the per-task times: a failure's own lines end the log (and the stage's output)
if ! env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook -i "$inventory" playbooks/verify.yml -e mail_doctor_check_dns=false \
  >"$logs/doctor.log" 2>&1; then
  # the checks that are not OK and what the daemons say, as the last lines of the stage
  grep -E -A3 "^ +- '?[a-z_]+ +FAIL " "$logs/doctor.log" | cut -c1-160 | head -n 24 || true
  grep -E "Not OK on|^fatal:" "$logs/doctor.log" | cut -c1-200 || true
  say "the machine's load average (the containers' too): $(cut -d' ' -f1-3 /proc/loadavg)"
  for name in "$trixie" "$bookworm"; do
    podman exec "$name" bash -c 'systemctl --no-pager status sendmail dovecot; journalctl --no-pager -n 60 -u sendmail' \
      >"$logs/units-$name.log" 2>&1 || true
    say "$name: sendmail $(podman exec "$name" systemctl is-active sendmail 2>&1)"
    grep -E "sm-mta|sendmail" "$logs/units-$name.log" | tail -n 4 | cut -c1-160 || true
  done
  fail "the doctor found a problem (log: $logs/doctor.log; units: $logs/units-*.log)"
fi
step "the doctor passed on both hosts"

if ! pytest -q -p no:cacheprovider --rootdir "$ROOT/tests/plain_host" tests/plain_host >"$logs/pytest.log" 2>&1; then
  tail -n 60 "$logs/pytest.log"
  fail "tests/plain_host failed (log: $logs/pytest.log)"
fi
step "mail over SMTP 25 fetched over IMAPS 993 on both hosts; no other MTA; $(tail -n1 "$logs/pytest.log")"

ansible-playbook -i "$inventory" site.yml >"$logs/second.log" 2>&1 || true
for host in bigboy.trixie bigboy.bookworm; do
  recap_ok "$logs/second.log" "$host" unchanged || {
    grep -E '^(changed|failed|fatal):' "$logs/second.log" | head -n 20
    fail "$host: the second site.yml run changed something or failed (log: $logs/second.log)"
  }
done
step "the second site.yml run changed nothing"

# Processes planted where the daemons must listen, one run for both hosts:
#   Debian 12: python3 on 127.0.0.1:25 with sendmail stopped. sendmail would start
#     but never bind; the role must refuse to start it, naming the process.
#   Debian 13: python3 on 127.0.0.1:110 while Dovecot runs, and a POP3 listener there
#     added (tests/plain_host/planted.yml). Dovecot's reload logs "Address already in
#     use" and it stays active; the role's check after the reload must fail.
plant() {
  local name=$1 port=$2
  podman exec "$name" bash -c "
    systemd-run --quiet --unit plant-$port python3 -m http.server $port --bind 127.0.0.1
    for i in \$(seq 20); do ss -ltnH 'sport = :$port' | grep -q . && exit 0; sleep 0.5; done
    exit 1" || fail "$name: could not plant a process on port $port"
  podman exec "$name" systemctl show -p MainPID --value "plant-$port"
}
podman exec "$bookworm" systemctl stop sendmail
pid25=$(plant "$bookworm" 25)
pid110=$(plant "$trixie" 110)
if ansible-playbook -i "$inventory" site.yml --tags sendmail,dovecot -e @tests/plain_host/planted.yml \
    >"$logs/planted.log" 2>&1; then
  fail "the run with processes planted on ports 25 and 110 did not fail (log: $logs/planted.log)"
fi
# HOST's run must have failed with a message that starts with WHAT and names PORT and the process PID.
expect_failure() {
  local host=$1 what=$2 port=$3 pid=$4 line
  grep -E "^$host +: .* failed=1 " "$logs/planted.log" >/dev/null || fail "$host: the planted run did not fail there"
  # the error line holds the module's whole message on one line
  line=$(grep -F "[ERROR]: Task failed: Module failed: $what" "$logs/planted.log" | grep -F "port $port " | head -n1 || true)
  for word in "port $port is held by python3 (pid $pid," "http.server $port"; do
    grep -qF "$word" <<<"$line" || fail "$host: the failure does not name '$word': ${line:-no such failure in $logs/planted.log}"
  done
  say "$host failed as it must: ${line#*Module failed: }"
}
expect_failure bigboy.bookworm "sendmail cannot listen on" 25 "$pid25"
expect_failure bigboy.trixie "Dovecot does not listen on" 110 "$pid110"
step "processes planted on port 25 (sendmail stopped) and 110 (a new Dovecot listener) fail the run, named"

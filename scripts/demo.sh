#!/usr/bin/env bash
# The demo: the chapter's mail server bigboy (and its client smallfry) in
# local containers, configured by site.yml, then checked by the doctor
# playbook, which prints a table of what it proved.
#   bash scripts/demo.sh           # start or reuse the lab, converge, verify
#   bash scripts/demo.sh destroy   # remove the lab containers
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

if [ "${1:-}" = destroy ]; then
  ansible-playbook -i inventories/lab playbooks/lab.yml -e lab_state=absent
  exit 0
fi

bash scripts/bootstrap.sh
bash scripts/images.sh trixie
ansible-playbook -i inventories/lab playbooks/lab.yml
ansible-playbook -i inventories/lab site.yml
ansible-playbook -i inventories/lab playbooks/verify.yml
ansible-playbook -i inventories/lab playbooks/prove.yml
cat <<'MSG'

The lab is still running. Look around:
  podman exec -it bigboy bash          # the mail server (swaks, mailq, /var/log)
  podman exec -it smallfry bash        # the SMART_HOST client
Run this command again to re-converge (it reports no changes); remove the lab with
  bash scripts/demo.sh destroy
MSG

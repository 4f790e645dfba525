# shellcheck shell=bash
# Environment for every project command: source it, don't run it.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export CONTAINERS_CONF="$ROOT/containers/containers.conf"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
# tests/collections: the lab's own test-only plugins (homelab.mailserver_lab), never shipped
export ANSIBLE_COLLECTIONS_PATH="$ROOT/build/collections:$ROOT/tests/collections"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
export PY_COLORS="${PY_COLORS:-0}"
export PATH="$ROOT/.venv/bin:$PATH"
export IMAGE_PREFIX="localhost/homelab-mailserver-base"
# The lab inventory's vault (inventories/lab/host_vars/*/vault.yml) holds
# lab-only test passwords; its key is committed on purpose. Real inventories
# bring their own vault password (--vault-id / --ask-vault-pass).
export ANSIBLE_VAULT_PASSWORD_FILE="${ANSIBLE_VAULT_PASSWORD_FILE:-$ROOT/inventories/lab/vault-password.txt}"

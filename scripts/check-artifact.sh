#!/usr/bin/env bash
# Check an unpacked collection artifact (ansible-galaxy collection build):
# it holds what a user runs and nothing of the lab, its secrets, the molecule
# scenarios, the test harness or the benchmarks.
#   bash scripts/check-artifact.sh DIR
# Exits non-zero and names every offending path or secret.
set -euo pipefail
source "$(dirname "$0")/env.sh"
dir=${1:?usage: check-artifact.sh UNPACKED_DIR}
bad=0
complain() { echo "artifact: $*" >&2; bad=1; }

# Paths a user never runs (and must never receive).
forbidden='^(molecule|benchmarks|scripts|containers|build|inventories/lab|inventories/lab-ssh|tests/(lab|lab_restore|harness|collections|playbooks|plain_host|output|unit/mailserver_lab)|changelogs/fragments)(/|$)'
forbidden+='|^playbooks/(lab|prove)\.yml$|^playbooks/files(/|$)|(^|/)\.[^/]+|vault-password|(^|/)vault\.yml$'
# the project's execution environment recipe: shipped, ansible-builder would take it for
# the collection's own requirements in anyone's execution environment
forbidden+='|^meta/(execution-environment\.ya?ml|ee-requirements\.txt|ee-bindep\.txt)$'
while IFS= read -r path; do
  path=${path#./}
  [ -n "$path" ] || continue
  if [[ $path =~ $forbidden ]]; then complain "must not ship $path"; fi
done < <(cd "$dir" && find . -mindepth 1 -print)

# Secrets: no vaulted file, and none of the lab's vault passwords in any file.
# the literal header of a vaulted file
vault_header="\$ANSIBLE_VAULT;"
if grep -rlF -- "$vault_header" "$dir" >/dev/null; then
  complain "vaulted content shipped: $(grep -rlF -- "$vault_header" "$dir" | sed "s|^$dir/||" | tr '\n' ' ')"
fi
for secret_file in inventories/lab/vault-password.txt molecule/dovecot/vault-password; do
  [ -s "$ROOT/$secret_file" ] || { complain "$secret_file missing from the checkout: cannot check for it"; continue; }
  secret=$(head -n1 "$ROOT/$secret_file")
  if grep -rlF -- "$secret" "$dir" >/dev/null; then
    complain "the password of $secret_file appears in: $(grep -rlF -- "$secret" "$dir" | sed "s|^$dir/||" | tr '\n' ' ')"
  fi
done

# What a user runs must be there.
for need in MANIFEST.json FILES.json LICENSE README.md CHANGELOG.md meta/runtime.yml playbooks/site.yml \
            playbooks/verify.yml playbooks/dns_records.yml inventories/example/hosts.yml; do
  [ -e "$dir/$need" ] || complain "missing $need"
done
for src in "$ROOT"/plugins/modules/*.py "$ROOT"/roles/*/meta/argument_specs.yml; do
  rel=${src#"$ROOT"/}
  [ -e "$dir/$rel" ] || complain "missing $rel"
done
[ "$bad" -eq 0 ] && echo "artifact: contents checked ($(cd "$dir" && find . -type f | wc -l) files)"
exit "$bad"

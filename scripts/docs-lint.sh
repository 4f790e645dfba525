#!/usr/bin/env bash
# The documentation and changelog lints a collection is published with:
#   bash scripts/docs-lint.sh
# - antsibull-docs lint-collection-docs --plugin-docs: every module, filter,
#   test and role argument spec has documentation that parses, fits the
#   schema and renders (references to this collection resolved);
# - antsibull-changelog lint: the fragments in changelogs/fragments, and
#   lint-changelog-yaml --strict: changelogs/changelog.yaml;
# - CHANGELOG.md is what antsibull-changelog generates from changelog.yaml
#   (after editing changelog.yaml: antsibull-changelog generate).
# Runs from the collection's path (build/collections/..., see env.sh) and
# exits non-zero when any of them fails.
set -euo pipefail
source "$(dirname "$0")/env.sh"

collection="$ROOT/build/collections/ansible_collections/homelab/mailserver"
if [ ! -f "$collection/galaxy.yml" ]; then
  echo "docs-lint: $collection is missing (scripts/bootstrap.sh links it)" >&2
  exit 2
fi
cd "$collection"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The slow one (ansible-doc dumps this collection and its dependency) runs in
# the background while the changelog checks run.
antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck . >"$tmp/docs.log" 2>&1 &
docs_pid=$!

failed=()
antsibull-changelog lint || failed+=("antsibull-changelog lint")
antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml || failed+=("changelog.yaml")
if antsibull-changelog generate --output "$tmp/CHANGELOG.md" >"$tmp/generate.log" 2>&1; then
  if ! cmp -s "$tmp/CHANGELOG.md" CHANGELOG.md; then
    echo "docs-lint: CHANGELOG.md is not what changelogs/changelog.yaml generates; run: antsibull-changelog generate" >&2
    failed+=("CHANGELOG.md")
  fi
else
  cat "$tmp/generate.log" >&2
  failed+=("antsibull-changelog generate")
fi

if ! wait "$docs_pid"; then
  failed+=("antsibull-docs lint-collection-docs")
fi
cat "$tmp/docs.log"

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'docs-lint: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "docs-lint: plugin, role and changelog documentation checked"

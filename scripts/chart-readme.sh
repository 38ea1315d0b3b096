#!/usr/bin/env bash
# Regenerates the chart README's values table from values.yaml's `# --` comments with helm-docs (built into the
# peers cache by scripts/peers/build.sh). With --check it writes nothing and fails when the README is stale.
# Usage: chart-readme.sh [--check]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helm_docs=$(bash "$root/scripts/peers/build.sh" helm-docs | sed -n 's/^helm-docs=//p')
args=(--chart-search-root "$root/charts" --sort-values-order file --log-level warning)
if [[ ${1:-} == --check ]]; then
  expected=$("$helm_docs" "${args[@]}" --dry-run)
  diff -u "$root/charts/thanos-store-discovery/README.md" <(printf '%s\n' "$expected") >&2 ||
    { echo "charts/thanos-store-discovery/README.md is stale: run bash scripts/chart-readme.sh" >&2; exit 1; }
else
  "$helm_docs" "${args[@]}"
fi

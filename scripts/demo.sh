#!/usr/bin/env bash
# Sets up, builds, and runs a demo job on data shipped in jobs/data:
# the per-city group-by of jobs/groupby.conf. Prints the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
out=$(mktemp -d)
PIPELINE_OUT=$out build/pipeline jobs/groupby.conf
echo "--- $out/groupby.csv"
cat "$out/groupby.csv"
rm -rf "$out"

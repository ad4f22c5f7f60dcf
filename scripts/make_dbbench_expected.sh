#!/usr/bin/env bash
# Writes the expected answers of tests/e2e/test_dbbench.sh with DuckDB, not
# with pipeline: for each table size N, generates the db-benchmark group-by
# table (scripts/gen_groupby.py N 100 --portable, seed 108: the same rows
# on every machine), answers q1..q10 with the SQL of the db-benchmark in
# DuckDB (scripts/dbbench_duckdb.js), and stores their canonical form
# (tests/e2e/dbbench_canon.py) in tests/e2e/expected/dbbench/N/: the
# table's sha256, one digest per question and the full answer where it is
# small or has float columns.
#
# Needs node and the npm package @duckdb/node-api; the test itself needs
# neither.
#   scripts/make_dbbench_expected.sh [N ...]     default: 1e6
# env: DUCKDB_NODE_MODULES  a node_modules dir holding @duckdb/node-api
#                           (default /tmp/bench-peers-node/node_modules)
#      DUCKDB_THREADS       DuckDB's threads (default 1: its float sums
#                           then come out the same, bit for bit, every run)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mods=${DUCKDB_NODE_MODULES:-/tmp/bench-peers-node/node_modules}
sizes=${*:-1e6}
canon=$top/tests/e2e/dbbench_canon.py
seed=108
export DUCKDB_THREADS=${DUCKDB_THREADS:-1}

command -v node >/dev/null || { echo "make_dbbench_expected: node is needed" >&2; exit 1; }
[ -d "$mods/@duckdb/node-api" ] || {
  echo "make_dbbench_expected: no @duckdb/node-api under $mods (set DUCKDB_NODE_MODULES)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

version=$(NODE_PATH=$mods node "$top/scripts/dbbench_duckdb.js" version)
for n in $sizes; do
  dir=$top/tests/e2e/expected/dbbench/$n
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "make_dbbench_expected: $n rows"
  /usr/bin/python3 "$top/scripts/gen_groupby.py" "$n" 100 "$tmp/table.csv" "$seed" --portable
  (cd "$tmp" && sha256sum table.csv) >"$dir/table.sha256"
  for i in 1 2 3 4 5 6 7 8 9 10; do
    NODE_PATH=$mods node "$top/scripts/dbbench_duckdb.js" "q$i" "$tmp/table.csv" "$tmp/q$i.csv"
    /usr/bin/python3 "$canon" expect "q$i" "$tmp/q$i.csv" "$dir"
  done
  cat >"$dir/SOURCE" <<EOF
Made by scripts/make_dbbench_expected.sh on $(date -u +%Y-%m-%d): DuckDB $version
(npm @duckdb/node-api) answering q1..q10 (SQL of the db-benchmark) on
scripts/gen_groupby.py $n 100 table.csv $seed --portable.
EOF
  rm -f "$tmp"/*.csv
done
du -sh "$top/tests/e2e/expected/dbbench"

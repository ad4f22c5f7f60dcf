#!/usr/bin/env bash
# Bounded memory: a group-by and a distinct over millions of distinct keys
# under a 64 MiB budget give the answer an ample budget gives, with a peak
# RSS (measured from outside by /usr/bin/time) under the budget plus a
# fixed overhead, and no spill file left in spill_dir.
#   test_memory.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin=$1
shift 2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/scripts/env.sh"
# Budget 64 MiB + what is not the operators' state: the binary and its
# libraries (MPI, HDF5), reader and writer buffers. README states it.
OVERHEAD_KB=$((48 * 1024))
BUDGET_KB=$((64 * 1024))

fail() { echo "  $*"; return 1; }

make_input() {
  awk 'BEGIN { srand(7); print "k,v,s"
    for (i = 1; i <= 3000000; i++) {
      k = int(rand() * 2000000); print "key" k "," i % 1000 "," (i % 3 ? "x" : "") } }' >big.csv
}

# run_rss OUT ARGS...: runs pipeline, sets $rss (KB) from /usr/bin/time.
run_rss() {
  local out=$1
  shift
  /usr/bin/time -f '%M' -o rss.txt "$bin" -q "$@" || return 1
  rss=$(tail -n 1 rss.txt)
  sort "$out" >"$out.sorted"
}

check_spill() {
  local ample=$1 small=$2
  cmp -s "$ample.sorted" "$small.sorted" || fail "64 MiB answer differs from the ample one"  || return 1
  [ "$rss" -le $((BUDGET_KB + OVERHEAD_KB)) ] || fail "peak RSS $rss KB over $((BUDGET_KB + OVERHEAD_KB)) KB" || return 1
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)" || return 1
  python3 -c 'import json; m=json.load(open("m.json")); assert m["per_rank"][0]["bytes_spilled"] > 0, m' ||
    fail "metrics show no spilling: $(cat m.json)"
}

case_groupby_many_keys() {
  make_input
  mkdir spill
  printf '[job]\nspill_dir = spill\n[source]\npath = big.csv\n[groupby]\nkeys = k\nn = count()\ns = sum(v)\nf = first(v)\nl = last(v)\nm = median(v)\nc = count(s)\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  run_rss out.csv job.conf || fail "ample run failed" || return 1
  mv out.csv.sorted ample.csv.sorted
  run_rss out.csv --memory 64MiB --metrics m.json job.conf || fail "64 MiB run failed" || return 1
  echo "  peak RSS: $rss KB under a 64 MiB budget"
  check_spill ample.csv out.csv
}

case_distinct_many_keys() {
  make_input
  mkdir spill
  printf '[job]\nspill_dir = spill\n[source]\npath = big.csv\n[distinct]\ncolumns = k, s\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  run_rss out.csv job.conf || fail "ample run failed" || return 1
  mv out.csv.sorted ample.csv.sorted
  run_rss out.csv --memory 64MiB --metrics m.json job.conf || fail "64 MiB run failed" || return 1
  echo "  peak RSS: $rss KB under a 64 MiB budget"
  check_spill ample.csv out.csv
}

# 2 million keys under 8 MiB: a sixteenth of them is still too many to
# merge within the budget, so partitions are split again (spill_depth).
case_groupby_splits_partitions_again() {
  make_input
  mkdir spill
  printf '[job]\nspill_dir = spill\n[source]\npath = big.csv\n[groupby]\nkeys = k\nn = count()\ns = sum(v)\nm = median(v)\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  run_rss out.csv job.conf || fail "ample run failed" || return 1
  mv out.csv.sorted ample.csv.sorted
  run_rss out.csv --memory 8MiB --metrics m.json job.conf || fail "8 MiB run failed" || return 1
  echo "  peak RSS: $rss KB under an 8 MiB budget"
  cmp -s ample.csv.sorted out.csv.sorted || fail "8 MiB answer differs from the ample one" || return 1
  [ "$rss" -le $((8 * 1024 + OVERHEAD_KB)) ] || fail "peak RSS $rss KB over $((8 * 1024 + OVERHEAD_KB)) KB" || return 1
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)" || return 1
  python3 -c 'import json; m=json.load(open("m.json")); assert m["per_rank"][0]["spill_depth"] >= 1, m' ||
    fail "partitions were not split again: $(cat m.json)"
}

run_cases "$@"

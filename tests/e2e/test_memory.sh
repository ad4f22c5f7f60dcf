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

# spill_job MIB OPERATOR_SECTIONS: runs the job over big.csv with an ample
# budget and with MIB MiB; the answers must agree, the peak RSS stay under
# the budget plus OVERHEAD_KB, the metrics show spilling, and no spill file
# may be left.
spill_job() {
  local mib=$1 body=$2
  make_input
  mkdir spill
  printf '[job]\nspill_dir = spill\n[source]\npath = big.csv\n%b[sink]\npath = out.csv\noverwrite = true\n' "$body" >job.conf
  run_rss out.csv job.conf || fail "ample run failed" || return 1
  mv out.csv.sorted ample.csv.sorted
  run_rss out.csv --memory "${mib}MiB" --metrics m.json job.conf || fail "$mib MiB run failed" || return 1
  echo "  peak RSS: $rss KB under a $mib MiB budget"
  cmp -s ample.csv.sorted out.csv.sorted || fail "$mib MiB answer differs from the ample one" || return 1
  [ "$rss" -le $((mib * 1024 + OVERHEAD_KB)) ] || fail "peak RSS $rss KB over $((mib * 1024 + OVERHEAD_KB)) KB" || return 1
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)" || return 1
  python3 -c 'import json; m=json.load(open("m.json")); assert m["per_rank"][0]["bytes_spilled"] > 0, m' ||
    fail "metrics show no spilling: $(cat m.json)"
}

case_groupby_many_keys() {
  spill_job 64 '[groupby]\nkeys = k\nn = count()\ns = sum(v)\nf = first(v)\nl = last(v)\nm = median(v)\nc = count(s)\n'
}

case_distinct_many_keys() {
  spill_job 64 '[distinct]\ncolumns = k, s\n'
}

# 2 million keys under 8 MiB: a sixteenth of them is still too many to
# merge within the budget, so partitions are split again (spill_depth).
case_groupby_splits_partitions_again() {
  spill_job 8 '[groupby]\nkeys = k\nn = count()\ns = sum(v)\nm = median(v)\n' || return 1
  python3 -c 'import json; m=json.load(open("m.json")); assert m["per_rank"][0]["spill_depth"] >= 1, m' ||
    fail "partitions were not split again: $(cat m.json)"
}

run_cases "$@"

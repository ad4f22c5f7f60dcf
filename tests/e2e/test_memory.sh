#!/usr/bin/env bash
# Bounded memory: a group-by, a distinct and a join over millions of
# distinct keys under a 64 MiB budget give the answer an ample budget
# gives, with a peak RSS (measured from outside by /usr/bin/time) under the
# budget plus a fixed overhead, and no spill file left in spill_dir; on 2,
# 3 and 4 ranks sharing a node budget, every rank stays under its share
# plus the same overhead.
#   test_memory.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
# Budget 64 MiB + what is not the operators' state: the binary and its
# libraries (MPI, HDF5), reader and writer buffers. README states it.
OVERHEAD_KB=$((48 * 1024))
BUDGET_KB=$((64 * 1024))

# The inputs, and the answers of the ample runs, are made once for all the
# cases (the same bytes each time), and copied into each.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT

# 3 million rows over 2 million keys.
make_input() {
  [ -f "$cache/big.csv" ] || awk 'BEGIN { srand(7); print "k,v,s"
    for (i = 1; i <= 3000000; i++) {
      k = int(rand() * 2000000); print "key" k "," i % 1000 "," (i % 3 ? "x" : "") } }' >"$cache/big.csv"
  cp "$cache/big.csv" big.csv
}

# 2 million keys, each once, for the right side of a join with big.csv.
make_right() {
  [ -f "$cache/right.csv" ] || awk 'BEGIN { print "k,w,t"
    for (i = 0; i < 2000000; i++) print "key" i "," i % 977 ",t" i % 13 }' >"$cache/right.csv"
  cp "$cache/right.csv" right.csv
}

# ample_answer: ample.csv.sorted, job.conf's sorted answer with an ample
# budget, from the first case that ran the same job.conf.
ample_answer() {
  local key
  key=$cache/ample-$(md5sum <job.conf | cut -c1-32)
  if [ ! -f "$key" ]; then
    run_rss out.csv job.conf || fail "ample run failed" || return 1
    mv out.csv.sorted "$key"
  fi
  cp "$key" ample.csv.sorted
}

# run_rss OUT ARGS...: runs pipeline, sets $rss (KB) from /usr/bin/time.
run_rss() {
  local out=$1
  shift
  /usr/bin/time -f '%M' -o rss.txt "$bin" -q "$@" || return 1
  rss=$(tail -n 1 rss.txt)
  sort "$out" >"$out.sorted"
}

# run_ranks N OUT ARGS...: runs pipeline on N ranks, sets $rss (KB) to the
# largest rank's peak RSS, as /usr/bin/time sees mpirun's children.
run_ranks() {
  local n=$1 out=$2
  shift 2
  /usr/bin/time -f '%M' -o rss.txt mpirun --oversubscribe -n "$n" "$bin" -q "$@" || return 1
  rss=$(tail -n 1 rss.txt)
  sort "$out" >"$out.sorted"
}

# check_ranks N MIB: every rank's peak RSS in m.json, and the largest one
# seen from outside ($rss), under MIB / N MiB plus OVERHEAD_KB; each rank
# had that share.
check_ranks() {
  local n=$1 mib=$2 limit
  limit=$((mib * 1024 / n + OVERHEAD_KB))
  echo "  $n ranks: largest peak RSS $rss KB under $limit KB"
  [ "$rss" -le "$limit" ] || fail "peak RSS $rss KB over $limit KB" || return 1
  python3 - "$n" "$mib" "$limit" <<'PY' || fail "metrics: $(cat m.json)"
import json, sys
n, mib, limit = (int(a) for a in sys.argv[1:])
ranks = json.load(open("m.json"))["per_rank"]
assert len(ranks) == n, ranks
for r in ranks:
    assert r["budget_bytes"] == mib * 2**20 // n, r
    assert r["peak_rss_bytes"] <= limit * 1024, r
PY
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
  ample_answer || return 1
  run_rss out.csv --memory "${mib}MiB" --metrics m.json job.conf || fail "$mib MiB run failed" || return 1
  echo "  peak RSS: $rss KB under a $mib MiB budget"
  cmp -s ample.csv.sorted out.csv.sorted || fail "$mib MiB answer differs from the ample one" || return 1
  [ "$rss" -le $((mib * 1024 + OVERHEAD_KB)) ] || fail "peak RSS $rss KB over $((mib * 1024 + OVERHEAD_KB)) KB" || return 1
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)" || return 1
  python3 -c 'import json; m=json.load(open("m.json")); assert m["per_rank"][0]["bytes_spilled"] > 0, m' ||
    fail "metrics show no spilling: $(cat m.json)"
}

GROUPBY='[groupby]\nkeys = k\nn = count()\ns = sum(v)\nf = first(v)\nl = last(v)\nm = median(v)\nc = count(s)\n'
JOIN='[join]\npath = right.csv\non = k\nhow = left\n'

case_groupby_many_keys() {
  spill_job 64 "$GROUPBY"
}

# A right side of 2 million rows (about 160 MB in memory) under 64 MiB:
# a grace hash join, both sides in spill partitions.
case_join_bigger_than_budget() {
  make_right
  spill_job 64 "$JOIN"
}

# The same right side (a 35 MB file) under 160 MiB: a broadcast would
# hold 165 MiB of it, so auto must pick the grace join here too.
case_join_auto_keeps_budget() {
  make_right
  spill_job 160 "$JOIN" || return 1
  python3 -c 'import json; r = json.load(open("m.json"))["per_rank"][0]; assert r["peak_pool_bytes"] <= r["budget_bytes"], r' ||
    fail "pool over budget: $(cat m.json)"
}

# ranks_job MIB BODY: the job over big.csv with an ample budget in one
# process, then on 2, 3 and 4 ranks sharing a node budget of MIB MiB: the
# same answer, every rank under its share plus the overhead, no spill file
# left.
ranks_job() {
  local mib=$1 body=$2 n
  [ -f big.csv ] || make_input
  mkdir -p spill
  printf '[job]\nspill_dir = spill\n[source]\npath = big.csv\n%b[sink]\npath = out.csv\noverwrite = true\n' "$body" >job.conf
  ample_answer || return 1
  for n in $(ranks_from 2); do
    run_ranks "$n" out.csv --memory "${mib}MiB" --metrics m.json job.conf || fail "$n ranks failed" || return 1
    cmp -s ample.csv.sorted out.csv.sorted || fail "$n ranks: answer differs from the ample one" || return 1
    check_ranks "$n" "$mib" || return 1
    [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)" || return 1
  done
}

case_groupby_many_keys_on_ranks() {
  ranks_job 128 "$GROUPBY"
}

# Partitioned across ranks (the right side passes a sixteenth of a rank's
# budget), then spilled on each rank.
case_join_on_ranks() {
  make_right
  ranks_job 128 "$JOIN"
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

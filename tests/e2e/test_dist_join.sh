#!/usr/bin/env bash
# [join] across ranks: the partitioned hash join (distribute = partition,
# or auto with a right side over a sixteenth of the rank's budget) and the
# broadcast one (its table parsed once per node, each rank reading a part
# and copying the others'; with PIPELINE_FAKE_NODES, nodes of one and of
# several ranks) give, alone and under mpirun with 1 to 4 ranks, the rows
# Python's nested loop gives (any order): inner and left joins, duplicate
# right keys, NULL keys that never match, int64 keys meeting float64 ones
# by value, string keys, right sides smaller than the ranks and empty,
# joins after a group-by; a bad right row stops every rank naming its
# line; and a partitioned join under a small budget spills (grace hash
# join) and still gives them.
#   test_dist_join.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2

# left.csv: id, k (int, some NULL), s (string key, some NULL), v.
# right.csv: rk (int), rf (the same key as a float), rs (string), w, tag.
# Right keys repeat (several matches) and some left keys are missing.
make_input() {
  python3 - "$1" "$2" <<'EOF'
import random, sys
nl, nr = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(5)
with open("left.csv", "w") as f:
    f.write("id,k,s,v\n")
    for i in range(nl):
        k = "" if rnd.random() < 0.03 else str(rnd.randrange(nr // 2 + 10))
        s = "" if rnd.random() < 0.03 else "x%d" % rnd.randrange(nr // 2 + 10)
        f.write("%d,%s,%s,%d\n" % (i, k, s, rnd.randrange(1000)))
with open("right.csv", "w") as f:
    f.write("rk,rf,rs,w,tag\n")
    for j in range(nr):
        k = rnd.randrange(nr // 2)
        rk = "" if rnd.random() < 0.02 else str(k)
        rf = "" if rk == "" else repr(float(k))
        rs = "" if rnd.random() < 0.02 else "x%d" % rnd.randrange(nr // 2)
        f.write("%s,%s,%s,%d,t%d\n" % (rk, rf, rs, j, j % 7))
EOF
}

# expect.csv: left joined with right, $1 = inner|left, $2 = left key
# column, $3 = right key column, $4 = kept right columns (comma list).
make_expected() {
  python3 - "$@" <<'EOF'
import csv, sys
how, lk, rk, keep = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
L = list(csv.DictReader(open("left.csv")))
R = list(csv.DictReader(open("right.csv")))
def key(v, col):
    if v == "":
        return None
    return float(v) if col in ("k", "rk", "rf") else v
index = {}
for r in R:
    kv = key(r[rk], rk)
    if kv is not None:
        index.setdefault(kv, []).append(r)
with open("expect.csv", "w") as f:
    f.write(",".join(["id", "k", "s", "v"] + keep) + "\n")
    for l in L:
        kv = key(l[lk], lk)
        ms = index.get(kv, []) if kv is not None else []
        base = [l["id"], l["k"], l["s"], l["v"]]
        for m in ms:
            f.write(",".join(base + [m[c] for c in keep]) + "\n")
        if not ms and how == "left":
            f.write(",".join(base + [""] * len(keep)) + "\n")
EOF
}

# job.conf: left.csv joined with right.csv by the [join] lines in $1.
make_job() {
  mkdir -p spill
  printf '[job]\nspill_dir = spill\n[source]\npath = left.csv\n[join]\npath = right.csv\n%b[sink]\npath = out.csv\noverwrite = true\n' "$1" >job.conf
}

same_rows() {
  diff <(LC_ALL=C sort expect.csv) <(LC_ALL=C sort out.csv) >diff.txt ||
    fail "$1: output differs from Python's ($(head -4 diff.txt))"
}

# check_all_ranks I [OPTION...]: runs job.conf alone and on 1-4 ranks
# (combo_ranks I: with PL_TEST_SPREAD=1 one case on every count, the
# others on the most ranks, where both sides are shuffled; RANKS="..."
# for given counts), with extra pipeline options.
check_all_ranks() {
  local i=$1
  shift
  rm -f out.csv
  "$bin" -q "$@" job.conf || fail "run alone failed" || return 1
  same_rows alone || return 1
  local n
  for n in ${RANKS:-$(combo_ranks "$i")}; do
    rm -f out.csv
    mpirun --oversubscribe -n "$n" "$bin" -q --metrics m$n.json "$@" job.conf ||
      fail "$n ranks: run failed" || return 1
    same_rows "$n ranks" || return 1
  done
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)"
}

# --explain on 3 ranks says how the join is distributed.
explains() {
  mpirun --oversubscribe -n 3 "$bin" --explain "$@" job.conf >plan.txt ||
    fail "--explain failed" || return 1
}

case_inner_int_partitioned() {
  make_input 20000 3000
  make_expected inner k rk w,tag
  make_job 'on = k:rk\nhow = inner\ncolumns = w, tag\ndistribute = partition\n'
  check_all_ranks all || return 1
  explains || return 1
  grep -q 'both sides partitioned by key' plan.txt || fail "plan: $(cat plan.txt)"
}

case_left_string_partitioned() {
  make_input 20000 3000
  make_expected left s rs rk,w
  make_job 'on = s:rs\nhow = left\ncolumns = rk, w\ndistribute = partition\n'
  check_all_ranks 0
}

case_int_meets_float_partitioned() {
  make_input 20000 3000
  make_expected left k rf rs,tag
  make_job 'on = k:rf\nhow = left\ncolumns = rs, tag\ndistribute = partition\n'
  check_all_ranks 0
}

# A broadcast's table is parsed once per node: the node's ranks each read
# a share of the right side and copy the others' records; with a rank per
# node each rank reads it whole. PIPELINE_FAKE_NODES=2 on 3 ranks makes a
# node of two ranks beside one of one.
case_broadcast_same_rows() {
  make_input 20000 3000
  make_expected left k rk w,tag
  make_job 'on = k:rk\nhow = left\ncolumns = w, tag\ndistribute = broadcast\n'
  check_all_ranks 0 || return 1
  PIPELINE_FAKE_NODES=2 RANKS=3 check_all_ranks 0 || return 1
  make_expected inner s rs rk,w
  make_job 'on = s:rs\nhow = inner\ncolumns = rk, w\n'
  RANKS=3 check_all_ranks 0 || return 1
  explains || return 1
  grep -q "parsed once per node, each rank reading a part and copying the others'" plan.txt ||
    fail "plan: $(cat plan.txt)" || return 1
  PIPELINE_FAKE_NODES=3 explains || return 1
  grep -q 'read whole by every rank' plan.txt || fail "plan: $(cat plan.txt)"
}

# An HDF5 right side: the node's ranks read shares of its rows.
case_broadcast_hdf5_right() {
  make_input 20000 3000
  make_expected left k rk rs,w
  printf '[source]\npath = right.csv\n[sink]\npath = right.h5\noverwrite = true\n' >h5.conf
  "$bin" -q h5.conf || fail "writing right.h5 failed" || return 1
  make_job 'on = k:rk\nhow = left\ncolumns = rs, w\n'
  sed -i 's/^path = right.csv$/path = right.h5\ndatasets = rk, rf, rs, w, tag/' job.conf
  check_all_ranks 0
}

# Right sides smaller than the ranks (some ranks read no row of it) and
# empty: inner and left joins.
case_broadcast_tiny_right() {
  make_input 300 4
  make_expected left k rk w,tag
  make_job 'on = k:rk\nhow = left\ncolumns = w, tag\n'
  check_all_ranks 0 || return 1
  make_expected inner k rk rs,tag
  make_job 'on = k:rk\nhow = inner\ncolumns = rs, tag\n'
  RANKS=3 check_all_ranks 0 || return 1
  head -1 right.csv >r && mv r right.csv
  make_expected left k rk w,tag
  make_job 'schema = rk:int64, rf:float64, rs:string, w:int64, tag:string\non = k:rk\nhow = left\ncolumns = w, tag\n'
  RANKS=3 check_all_ranks 0
}

# Joins after a merge point and one after another: the table is built
# when every rank reaches the join, before its first row. The answer is
# the one process's, sorted.
case_broadcast_after_groupby() {
  make_input 20000 3000
  make_job 'on = k:rk\nhow = left\ncolumns = w\n[groupby]\nkeys = k, w\nn = count()\n[join]\npath = right.csv\non = w:w\nhow = inner\ncolumns = tag\n'
  "$bin" -q job.conf || fail "run alone failed" || return 1
  LC_ALL=C sort out.csv >expect.csv
  local n
  for n in $(test_ranks); do
    rm -f out.csv
    mpirun --oversubscribe -n "$n" "$bin" -q job.conf || fail "$n ranks: run failed" || return 1
    same_rows "$n ranks" || return 1
  done
}

# A bad row in the right side stops every rank with the file and line,
# whichever rank's share holds it, and leaves no output.
case_broadcast_bad_right_row() {
  make_input 2000 3000
  sed -i '2500s/^[0-9]*,/x7,/' right.csv
  make_job 'schema = rk:int64, rf:float64, rs:string, w:int64, tag:string\non = k:rk\nhow = inner\ncolumns = w\n'
  local n
  for n in 2 3; do
    rm -f out.csv
    timeout 120 mpirun --oversubscribe -n "$n" "$bin" -q job.conf 2>err.txt
    local rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "$n ranks: exit status $rc" || return 1
    grep -q 'right.csv:2500' err.txt || fail "$n ranks: $(head -3 err.txt)" || return 1
    [ ! -e out.csv ] || fail "$n ranks: output left behind" || return 1
  done
}

# auto with an ample budget weighs the work: on one node a broadcast parses
# nothing twice (each rank parses a part and copies the others') and is
# chosen; across nodes each node reads the right side whole, which
# --explain weighs against what a partition would send (a partition wins
# by cost only with more ranks than a test runs: R (n - 1) p > 4 (R + L)
# (p - 1)). The answers are the same on 1-4 ranks either way.
case_auto_by_cost() {
  make_input 2000 30000
  make_expected left k rk rs,w,tag
  make_job 'on = k:rk\nhow = left\ncolumns = rs, w, tag\n'
  PIPELINE_FAKE_NODES=3 explains || return 1
  grep -q 'read whole by every rank (per rank a broadcast parses and hashes 1 MiB more, a partition sends 0 MiB at 4 times that cost a byte: 0 MiB left, 1 MiB right, 3 ranks, 3 nodes)' plan.txt ||
    fail "big right side: $(cat plan.txt)" || return 1
  PIPELINE_FAKE_NODES=3 check_all_ranks 0 || return 1
  explains || return 1
  grep -q "parsed once per node, each rank reading a part and copying the others' (per rank a broadcast parses and hashes 0 MiB more" plan.txt ||
    fail "big right side, one node: $(cat plan.txt)" || return 1
  # every rank holds the whole table: 0.8 MB of right side passes a
  # sixteenth of the 5.3 MiB a rank gets, one node or not
  explains --memory 16MiB || return 1
  grep -q 'both sides partitioned by key (3 MiB held would pass a quarter of the 5 MiB budget)' plan.txt ||
    fail "16 MiB: $(cat plan.txt)" || return 1
  make_input 20000 3000
  make_expected inner k rk rs,w
  make_job 'on = k:rk\nhow = inner\ncolumns = rs, w\n'
  PIPELINE_FAKE_NODES=3 explains || return 1
  grep -q 'read whole by every rank (per rank a broadcast parses' plan.txt ||
    fail "small right side: $(cat plan.txt)" || return 1
  PIPELINE_FAKE_NODES=3 check_all_ranks 0
}

# auto: a right side over a sixteenth of the budget is partitioned; under a
# 16 MiB node budget (8 MiB a rank on 2 ranks) the receiving ranks spill
# and join partition by partition.
case_auto_small_budget_spills() {
  make_input 300000 120000
  make_expected left k rk rs,w,tag
  make_job 'on = k:rk\nhow = left\ncolumns = rs, w, tag\n'
  explains --memory 16MiB || return 1
  grep -q 'both sides partitioned by key' plan.txt || fail "plan: $(cat plan.txt)" || return 1
  rm -f out.csv
  mpirun --oversubscribe -n 2 "$bin" -q --memory 16MiB --metrics m.json job.conf ||
    fail "run failed" || return 1
  same_rows "2 ranks, 16 MiB" || return 1
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)" || return 1
  python3 - <<'EOF'
import json, sys
m = json.load(open("m.json"))
for r in m["per_rank"]:
    print("  rank %d: %d rows out, peak pool %d KB, spilled %d bytes" % (
        r["rank"], r["rows_written"], r["peak_pool_bytes"] // 1024, r["bytes_spilled"]))
    if r["bytes_spilled"] == 0:
        sys.exit("  rank %d did not spill" % r["rank"])
EOF
}

case_bad_distribute() {
  make_input 10 10
  make_job 'on = k:rk\ndistribute = everywhere\n'
  "$bin" -q job.conf 2>err.txt
  [ $? -eq 2 ] || fail "exit status is not 2" || return 1
  grep -q "distribute must be auto, broadcast or partition" err.txt ||
    fail "not the expected error: $(cat err.txt)"
}

run_cases "$@"

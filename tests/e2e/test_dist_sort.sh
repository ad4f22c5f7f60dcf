#!/usr/bin/env bash
# [sort] across ranks (sample sort, framework/exec_range.c): alone and
# under mpirun with 1 to 4 ranks, the output is the input stably sorted as
# Python sorts it (equal keys in input order, NULLs last either way), a
# key shared by most rows is spread over the ranks instead of landing on
# one, [limit] after [sort] keeps the first rows of the global order, and
# a sort under a small budget on 2 ranks spills, stays under its budget
# and still writes the same bytes.
#   test_dist_sort.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
san=0
sanitized "$build" && san=1

# in.csv: ROWS rows of id (input order), k (most rows share k = 5), s
# (strings, some NULL), f (floats written as Python writes them, some
# NULL). Every value is written as the CSV writer writes it, so a sorted
# output is a permutation of the input lines.
make_input() {
  python3 - "$1" <<'EOF'
import random, sys
rows = int(sys.argv[1])
rnd = random.Random(11)
with open("in.csv", "w") as f:
    f.write("id,k,s,f\n")
    for i in range(rows):
        k = 5 if rnd.random() < 0.8 else rnd.randrange(-50, 50)
        k = "" if rnd.random() < 0.01 else str(k)
        s = "" if rnd.random() < 0.05 else "s%d" % rnd.randrange(300)
        f_ = "" if rnd.random() < 0.05 else repr(rnd.randrange(-400, 400) / 8)
        f.write("%d,%s,%s,%s\n" % (i, k, s, f_))
EOF
}

# expect.csv: in.csv stably sorted by "col:asc|desc ..." (NULLs last),
# the first LIMIT rows when LIMIT is given.
make_expected() {
  python3 - "$@" <<'EOF'
import sys
order = sys.argv[1].split()
limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
conv = {"id": int, "k": int, "s": str, "f": float}
lines = open("in.csv").read().splitlines()
head, rows = lines[0], [l.split(",") for l in lines[1:]]
names = head.split(",")
for spec in reversed(order):
    col, d = spec.split(":")
    j = names.index(col)
    vals = [r for r in rows if r[j] != ""]
    nulls = [r for r in rows if r[j] == ""]
    # reverse=True still keeps equal rows in their order: stable
    vals.sort(key=lambda r: conv[col](r[j]), reverse=(d == "desc"))
    rows = vals + nulls
if limit is not None:
    rows = rows[:limit]
with open("expect.csv", "w") as f:
    f.write(head + "\n")
    for r in rows:
        f.write(",".join(r) + "\n")
EOF
}

# job.conf: in.csv sorted by $1, then the extra sections in $2.
make_job() {
  mkdir -p spill
  printf '[job]\nspill_dir = spill\n[source]\npath = in.csv\n[sort]\nby = %s\n%b[sink]\npath = out.csv\noverwrite = true\n' "$1" "${2:-}" >job.conf
}

# check_all_ranks I: runs job.conf alone and on 1-4 ranks (combo_ranks I:
# with PL_TEST_SPREAD=1 one case on every count, the others on the most
# ranks, where the sort's ranges are split), on several ranks both ways:
# rows sent unsorted and sorted where they land (the default), and each
# rank's share sorted and the streams merged (PIPELINE_SORT_SPLIT=merge,
# what a rank that spilled makes all ranks do); each output must equal
# expect.csv.
check_all_ranks() {
  "$bin" -q job.conf || fail "run alone failed" || return 1
  cmp -s expect.csv out.csv || fail "alone: output differs from Python's" || return 1
  local n how
  for n in $(combo_ranks "$1"); do
    for how in stored merge; do
      [ "$n" = 1 ] && [ "$how" = merge ] && continue
      rm -f out.csv
      PIPELINE_SORT_SPLIT=$how mpirun --oversubscribe -x PIPELINE_SORT_SPLIT \
        -n "$n" "$bin" -q --metrics "m$n${how/stored/}.json" job.conf ||
        fail "$n ranks ($how): run failed" || return 1
      cmp -s expect.csv out.csv ||
        fail "$n ranks ($how): output differs from Python's ($(diff expect.csv out.csv | head -5))" ||
        return 1
      [ "$n" = 1 ] || check_path "m$n${how/stored/}.json" "$how" || return 1
    done
  done
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)"
}

# check_path M.json HOW: the metrics say every row read went down the
# sort's path HOW (stored: sent unsorted; merge: sorted and merged) and
# none down the other.
check_path() {
  python3 - "$@" <<'EOF' || return 1
import json, sys
m = json.load(open(sys.argv[1]))
want, other = "sort_rows_unsorted", "sort_rows_merged"
if sys.argv[2] == "merge":
    want, other = other, want
read = sum(r["rows_read"] for r in m["per_rank"])
got = [(r[want], r[other]) for r in m["per_rank"]]
if sum(g[0] for g in got) != read or any(g[1] for g in got):
    sys.exit("  %s: %s path, %d rows read, per rank (%s, %s): %s" % (
        sys.argv[1], sys.argv[2], read, want, other, got))
EOF
}

# Every rank of the n-rank run wrote at least a 1/(2n) share of the rows.
check_balanced() {
  python3 - "$@" <<'EOF' || return 1
import json, sys
for n in sys.argv[1:]:
    m = json.load(open("m%s.json" % n))
    rows = [r["rows_written"] for r in m["per_rank"]]
    total = sum(rows)
    if min(rows) * 2 * int(n) < total:
        print("  %s ranks: rows written per rank %s are unbalanced" % (n, rows))
        sys.exit(1)
EOF
}

# 80% of the rows share one key: the ranks still get even shares.
case_ties_spread() {
  make_input 60000
  make_expected "k:asc"
  make_job "k"
  check_all_ranks all || return 1
  check_balanced $(ranks_from 2)
}

case_strings_desc_floats() {
  make_input 40000
  make_expected "s:desc f:asc"
  make_job "s desc, f"
  check_all_ranks 0
}

case_float_desc_nulls_last() {
  make_input 40000
  make_expected "f:desc k:asc"
  make_job "f desc, k asc"
  check_all_ranks 0
}

# [limit] after [sort]: the first rows of the global order, not of a rank.
case_sort_then_limit() {
  make_input 40000
  make_expected "k:desc s:asc" 1500
  make_job "k desc, s" '[limit]\nrows = 1500\n'
  check_all_ranks 0
}

# --explain on 2 ranks says the sort is a sample sort whose rows go to
# their ranks unsorted, each rank sorting its range once.
case_explain_own_range() {
  make_input 100
  make_job "k"
  mpirun --oversubscribe -n 2 "$bin" --explain job.conf >explain.txt 2>&1 ||
    fail "--explain failed" || return 1
  grep -q "sample sort; rows go to their ranks unsorted and each rank sorts its range once" explain.txt ||
    fail "explain: $(grep -i sort explain.txt)"
}

# An empty input and an input smaller than the ranks.
case_tiny_inputs() {
  printf 'id,k,s,f\n' >in.csv
  make_expected "k:asc"
  make_job "k"
  check_all_ranks 0 || return 1
  printf 'id,k,s,f\n0,3,a,1.5\n1,,b,\n2,3,,0.5\n' >in.csv
  make_expected "k:asc"
  check_all_ranks 0
}

# 2 ranks sharing a 128 MiB node budget (64 MiB each) sort 3e6 rows
# (about 90 MB): every rank spills, peak RSS per rank stays under its
# budget plus the fixed overhead test_sort_memory.sh allows, and the
# output is Python's.
case_two_ranks_small_budget() {
  make_input 3000000
  make_expected "s:asc k:desc"
  make_job "s, k desc"
  rm -f out.csv
  mpirun --oversubscribe -n 2 "$bin" -q --memory 128MiB --metrics m.json job.conf ||
    fail "run failed" || return 1
  cmp -s expect.csv out.csv || fail "output differs from Python's" || return 1
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)" || return 1
  python3 - "$san" <<'EOF'
import json, sys
m = json.load(open("m.json"))
budget_kb, overhead_kb = 64 * 1024, 48 * 1024
for r in m["per_rank"]:
    rss_kb = r["peak_rss_bytes"] // 1024
    print("  rank %d: %d rows, peak RSS %d KB, spilled %d bytes, %.1f s" % (
        r["rank"], r["rows_written"], rss_kb, r["bytes_spilled"], r["seconds"]))
    if r["bytes_spilled"] == 0:
        sys.exit("  rank %d did not spill" % r["rank"])
    if r["sort_rows_unsorted"] or r["sort_rows_merged"] != r["rows_read"]:
        sys.exit("  rank %d spilled but did not take the merge path: %s" % (r["rank"], r))
    if sys.argv[1] == "0" and rss_kb > budget_kb + overhead_kb:
        sys.exit("  rank %d: peak RSS over %d KB" % (r["rank"], budget_kb + overhead_kb))
EOF
}

run_cases "$@"

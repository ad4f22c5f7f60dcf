#!/usr/bin/env bash
# Out of memory at every turn of whole jobs that spill: with
# PIPELINE_FAIL_ALLOC=N the pool fails its Nth allocation (N+: that one and
# all after), walked over the job's allocations. Every run must either
# succeed with the right answer or fail with exit 1, saying on its
# "pipeline: " lines (one per failing rank) that it ran out of memory, and
# leave no output, no temporary file beside it and no spill file; never
# crash, hang or (under the sanitizers) leak.
#   test_fault_walk.sh PIPELINE BUILD_DIR [CASE ...]
# env: WALK_FIRST=50 (the first allocations, each walked), WALK_POINTS=150
#      (failure points spread over the rest, per job and mode), WALK_ALL=1
#      walks every allocation (slow: minutes per job); the two-rank job
#      under mpirun: WALK_FIRST_RANKS=5 and WALK_POINTS_RANKS=10.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
POINTS=${WALK_POINTS:-150}
FIRST=${WALK_FIRST:-50}

# ROWS rows (default 4000) over 3000 keys, and a right side holding every
# other key.
make_input() {
  awk -v n="${ROWS:-4000}" 'BEGIN { srand(3); print "k,v,s"
    for (i = 1; i <= n; i++) print "key" int(rand() * 3000) "," i % 100 "," (i % 3 ? "x" i : "") }' >in.csv
  awk 'BEGIN { print "k,w"; for (i = 0; i < 3000; i += 2) print "key" i "," i % 7 }' >right.csv
}

# job.conf over in.csv with the given operator sections, in 256-row
# chunks under a 1 MiB budget: everything spills.
make_job() {
  mkdir -p spill
  printf '[job]\nspill_dir = spill\nchunk_rows = 256\n[source]\npath = in.csv\n%b[sink]\npath = out.csv\noverwrite = true\n' "$1" >job.conf
}

# out.csv holds ref.csv's rows (group-by and join output order is free).
same_answer() {
  sort out.csv | cmp -s - ref.csv
}

# run_at N: one run with the Nth allocation failing; checks the outcome.
# The checks use the shell's globs and case, not ls, grep and head: a walk
# makes thousands of runs, and a run's forks cost as much CPU as a release
# build's run of the job. (nullglob: a glob that matches nothing is none.)
shopt -s nullglob
run_at() {
  local n=$1 rc line oom=0 others=0 left said
  [ ! -e out.csv ] || rm -f out.csv
  PIPELINE_FAIL_ALLOC=$n "${launch[@]}" "$bin" -q --memory 1MiB job.conf 2>err.txt
  rc=$?
  left=(spill/* spill/.[!.]* spill/..?*)
  [ "${#left[@]}" -eq 0 ] || fail "at $n: spill files left" || return 1
  if [ "$rc" -eq 0 ]; then
    [ -s err.txt ] && { fail "at $n: succeeded but said: $(head -3 err.txt)"; return 1; }
    left=(.out.csv*)
    [ "${#left[@]}" -eq 0 ] || fail "at $n: temporary output left" || return 1
    same_answer || fail "at $n: succeeded with a different answer"
    return
  fi
  [ "$rc" -eq 1 ] || fail "at $n: exit $rc: $(head -5 err.txt)" || return 1
  # the output, or its temporary twin .out.csv.tmp-PID-XXXXXX
  left=(out.csv* .out.csv*)
  [ "${#left[@]}" -eq 0 ] || fail "at $n: failed but left ${left[*]}" || return 1
  mapfile -t said <err.txt
  for line in "${said[@]}"; do
    case $line in
    *Sanitizer* | *'runtime error'* | *Segmentation* | *'core dumped'*)
      fail "at $n: $(head -20 err.txt)"
      return 1
      ;;
    'pipeline: '*'out of memory'*) oom=1 ;;
    'pipeline: '*) ;;
    *) others=1 ;;
    esac
  done
  [ "$oom" -eq 1 ] || fail "at $n: $(head -5 err.txt)" || return 1
  # mpirun adds its own notice; alone, pipeline's lines are all there is
  [ "${#launch[@]}" -gt 0 ] || [ "$others" -eq 0 ] || fail "at $n: $(head -5 err.txt)"
}

# count_allocs POINTS: the number of allocations of a successful run (the
# smallest N+ that no longer fails, less one), exact when POINTS is 0,
# else perhaps a little above: the search stops once the bounds are within
# half the spacing of POINTS points spread over the run, as the exact
# count would buy no other failure point (and under mpirun each halving
# is one more launch). It starts at 16: the walk fails each of the first
# allocations anyway.
count_allocs() {
  local points=$1 lo=0 hi=16 mid tol=1
  while ! PIPELINE_FAIL_ALLOC=$hi+ "${launch[@]}" "$bin" -q --memory 1MiB job.conf 2>/dev/null; do
    lo=$hi
    hi=$((hi * 2))
    [ "$hi" -le 4000000 ] || return 1
  done
  [ "$points" -eq 0 ] || tol=$((lo / (2 * points)))
  [ "$tol" -ge 1 ] || tol=1
  while [ $((hi - lo)) -gt "$tol" ]; do
    mid=$(((lo + hi) / 2))
    if PIPELINE_FAIL_ALLOC=$mid+ "${launch[@]}" "$bin" -q --memory 1MiB job.conf 2>/dev/null; then
      hi=$mid
    else
      lo=$mid
    fi
  done
  echo "$((hi - 1))"
}

# walk BODY: the reference answer, then failure points 1..total, every
# one of the first FIRST and about POINTS more spread over the rest,
# each failing once (N) and for good (N+).
walk() {
  make_input
  make_job "$1"
  "${launch[@]}" "$bin" -q job.conf || fail "reference run failed" || return 1
  sort out.csv >ref.csv
  "${launch[@]}" "$bin" -q --memory 1MiB --metrics m.json job.conf || fail "1 MiB run failed" || return 1
  same_answer || fail "1 MiB answer differs" || return 1
  python3 -c 'import json; assert json.load(open("m.json"))["per_rank"][0]["bytes_spilled"] > 0' ||
    fail "the job did not spill" || return 1
  local total step n runs=0 about=
  step=1
  if [ "${WALK_ALL:-0}" = 1 ]; then
    total=$(count_allocs 0) || fail "cannot count allocations" || return 1
  else
    total=$(count_allocs "$POINTS") || fail "cannot count allocations" || return 1
    step=$(((total + POINTS - 1) / POINTS))
    about="at most "
  fi
  for ((n = 1; n <= total; n += (n < FIRST ? 1 : step))); do
    run_at "$n" || return 1
    run_at "$n+" || return 1
    runs=$((runs + 2))
  done
  echo "  ${about}$total allocations, $runs runs"
}

launch=()

case_groupby() {
  walk '[groupby]\nkeys = k\nn = count()\nm = median(v)\nf = first(s)\n'
}

case_distinct() {
  walk '[distinct]\ncolumns = k, s\n'
}

# A sort spills when its rows pass half the budget: more of them.
case_sort() {
  ROWS=20000 walk '[sort]\nby = k, v desc\n'
}

case_grace_join() {
  walk '[join]\npath = right.csv\non = k\nhow = left\ndistribute = partition\n'
}

# Two ranks: shuffles, spilled receivers and the output's agreement all
# fail somewhere; fewer points, as each run starts MPI (a failed mpirun
# run takes over a second).
case_groupby_two_ranks() {
  launch=(timeout 120 mpirun --oversubscribe -n 2)
  POINTS=${WALK_POINTS_RANKS:-10}
  FIRST=${WALK_FIRST_RANKS:-5}
  walk '[groupby]\nkeys = k\nn = count()\nm = median(v)\n[sort]\nby = k\n'
}

run_cases "$@"

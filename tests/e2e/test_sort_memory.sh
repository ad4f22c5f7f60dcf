#!/usr/bin/env bash
# External merge sort: a sort of an input several times a 64 MiB budget
# writes, byte for byte, what an ample budget writes, with a peak RSS
# (measured from outside by /usr/bin/time) under the budget plus a fixed
# overhead, and no spill file left in spill_dir, whether the job succeeds,
# fails or is interrupted.
#   test_sort_memory.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
# As in test_memory.sh: budget + what is not the operators' state.
OVERHEAD_KB=$((48 * 1024))
BUDGET_KB=$((64 * 1024))
# AddressSanitizer's shadow memory defeats the RSS bound (CMakeLists.txt
# leaves test_memory.sh out of such builds); the rest still holds.
san=0
sanitized "$build" && san=1

# 3e6 rows, about 48 MB: many equal keys (stability shows), empty strings;
# made once for all the cases and copied into each.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
make_input() {
  [ -f "$cache/big.csv" ] || awk 'BEGIN { srand(7); print "k,v,s"
    for (i = 1; i <= 3000000; i++) {
      k = int(rand() * 2000000); print "key" k "," i % 1000 "," (i % 3 ? "x" i : "") } }' >"$cache/big.csv"
  cp "$cache/big.csv" big.csv
}

# job.conf sorting big.csv by the given keys into out.csv.
make_job() {
  mkdir -p spill
  printf '[job]\nspill_dir = spill\n[source]\npath = big.csv\n[sort]\nby = %s\n[sink]\npath = out.csv\noverwrite = true\n' "$1" >job.conf
}

# run_rss ARGS...: runs pipeline, sets $rss (KB) and $secs from /usr/bin/time.
run_rss() {
  /usr/bin/time -f '%M %e' -o rss.txt "$bin" -q "$@" || return 1
  read -r rss secs < <(tail -n 1 rss.txt)
}

spill_empty() {
  [ -z "$(ls -A spill)" ] || fail "spill files left: $(ls -A spill)"
}

# The small-budget output against the ample one, then RSS and spill_dir.
check_sort() {
  cmp -s ample.csv out.csv || fail "64 MiB output differs from the ample one" || return 1
  [ "$san" = 1 ] || [ "$rss" -le $((BUDGET_KB + OVERHEAD_KB)) ] || fail "peak RSS $rss KB over $((BUDGET_KB + OVERHEAD_KB)) KB" || return 1
  spill_empty
}

# Ample and 64 MiB runs of job.conf; the second must spill (strace, when
# present, shows the spill file being made).
compare_runs() {
  run_rss job.conf || fail "ample run failed" || return 1
  echo "  ample budget: peak RSS $rss KB, $secs s"
  mv out.csv ample.csv
  run_rss --memory 64MiB job.conf || fail "64 MiB run failed" || return 1
  echo "  64 MiB budget: peak RSS $rss KB, $secs s"
  check_sort || return 1
  if command -v strace >/dev/null; then
    # LeakSanitizer cannot run under ptrace.
    ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=openat -o trace.txt "$bin" -q --memory 64MiB job.conf || fail "traced run failed" || return 1
    grep -q 'spill/.pipeline-sort-' trace.txt || fail "no spill file was made" || return 1
  fi
}

case_sort_strings() {
  make_input
  make_job "k"
  compare_runs || return 1
  # sorted by k (bytes), equal keys in input order (v is i % 1000)
  LC_ALL=C sort -s -t, -k1,1 <(tail -n +2 big.csv) | cmp -s - <(tail -n +2 out.csv) ||
    fail "output is not big.csv stably sorted by k"
}

case_sort_two_keys_desc() {
  make_input
  make_job "v desc, k"
  compare_runs || return 1
  LC_ALL=C sort -s -t, -k2,2nr -k1,1 <(tail -n +2 big.csv) | cmp -s - <(tail -n +2 out.csv) ||
    fail "output is not big.csv stably sorted by v desc, k"
}

# On 2, 3 and 4 ranks sharing a node budget of 128 MiB (a sample sort,
# each rank spilling its range): the bytes of the ample run, and every
# rank's peak RSS under its share plus the overhead.
case_sort_on_ranks() {
  make_input
  make_job "k"
  run_rss job.conf || fail "ample run failed" || return 1
  mv out.csv ample.csv
  local n limit
  for n in $(ranks_from 2); do
    /usr/bin/time -f '%M %e' -o rss.txt mpirun --oversubscribe -n "$n" "$bin" -q --memory 128MiB job.conf || fail "$n ranks failed" || return 1
    read -r rss secs < <(tail -n 1 rss.txt)
    limit=$((128 * 1024 / n + OVERHEAD_KB))
    echo "  $n ranks: largest peak RSS $rss KB under $limit KB, $secs s"
    cmp -s ample.csv out.csv || fail "$n ranks: output differs from the ample one" || return 1
    [ "$san" = 1 ] || [ "$rss" -le "$limit" ] || fail "peak RSS $rss KB over $limit KB" || return 1
    spill_empty || return 1
  done
}

# A job that fails after spilling (a bad value near the end) leaves
# spill_dir empty.
case_failure_cleans_up() {
  make_input
  echo "key1,notanumber,x" >>big.csv
  printf '[job]\nspill_dir = spill\n[source]\npath = big.csv\nschema = k:string, v:int64, s:string\n[sort]\nby = k\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  mkdir -p spill
  if "$bin" -q --memory 64MiB job.conf 2>err.txt; then
    fail "the job should fail on the bad value"
    return 1
  fi
  grep -q 'notanumber' err.txt || fail "not the expected error: $(cat err.txt)" || return 1
  spill_empty
}

# Ctrl-C in the middle of a spilling sort leaves spill_dir empty.
case_interrupt_cleans_up() {
  make_input
  make_job "k"
  "$bin" -q --memory 64MiB job.conf 2>err.txt &
  local pid=$!
  sleep 0.7
  kill -INT "$pid" 2>/dev/null
  wait "$pid" && fail "the job was not interrupted" && return 1
  spill_empty
}

run_cases "$@"

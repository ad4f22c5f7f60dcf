# Shared by the end-to-end test scripts; sourced, not run.

# Prints why a check failed, indented under the case, and returns 1:
#   [ -s out.csv ] || fail "no output" || return 1
fail() { echo "  $*"; return 1; }

# e2e_args PIPELINE BUILD_DIR ...: the arguments every end-to-end script
# takes. Sets bin (absolute), build, here (tests/e2e) and top (the
# checkout) and loads scripts/env.sh; the script then drops them with
# `shift 2`.
e2e_args() {
  bin=$(realpath "$1")
  build=$2
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  top=$(cd "$here/../.." && pwd)
  . "$top/scripts/env.sh"
}

# The rank counts the MPI comparisons run: 1 to 4, or PL_TEST_RANKS.
# scripts/test.sh --sanitize sets "1 3": the release run compares every
# count; under the sanitizers one rank and an odd number of several look
# for memory errors at 40% of the cost (4 ranks of AddressSanitizer on 2
# cores are the slowest runs of the suite).
test_ranks() { echo "${PL_TEST_RANKS:-1 2 3 4}"; }

# The counts of test_ranks from N up.
ranks_from() {
  local n
  for n in $(test_ranks); do
    [ "$n" -ge "$1" ] && printf '%s ' "$n"
  done
  return 0
}

# combo_ranks I: the rank counts under which the I-th (from 0) of a
# case's combinations (HDF5 layouts, compressions and inputs, group-by
# modes, example jobs, sort keys) runs under mpirun: every count of
# test_ranks, or with PL_TEST_SPREAD=1 (scripts/test.sh --sanitize) one of
# them, taken in turn from the largest (I = 0 the largest, 1 the next...;
# I = all: every count still). The cases number their combinations so
# that each option meets the largest count and the smallest one; one
# process alone still runs every combination, and the release run every
# pair. Under LeakSanitizer each rank of each launch costs about 1
# CPU-second, whatever the job (its check at exit of what Open MPI keeps).
combo_ranks() {
  if [ "${PL_TEST_SPREAD:-0}" = 1 ] && [ "$1" != all ]; then
    test_ranks | awk -v i="$1" '{ print $(NF - i % NF) }'
  else
    test_ranks
  fi
}

# sanitized BUILD_DIR: true when BUILD_DIR was configured with the
# sanitizers. Read from the cache, not from `ldd | grep -q`: under pipefail
# grep's early exit can kill ldd with SIGPIPE and turn a match into a miss.
sanitized() { grep -q '^PL_SANITIZE:BOOL=ON' "$1/CMakeCache.txt" 2>/dev/null; }

# Runs the functions case_NAME of the calling script (or only the names
# given), each in its own empty directory, and prints "ok", "FAIL" or
# "skip" (a case returning 77) per case and the closing count line.
# Returns non-zero when a case failed.
run_cases() {
  local passed=0 failed=0 skipped=0 c dir rc cases
  cases=$(declare -F | awk '{print $3}' | grep '^case_' | sed 's/^case_//')
  [ $# -gt 0 ] && cases="$*"
  local t0
  for c in $cases; do
    dir=$(mktemp -d)
    t0=$SECONDS
    (cd "$dir" && "case_$c")
    rc=$?
    if [ "$rc" -eq 0 ]; then
      echo "ok $c ($((SECONDS - t0)) s)"; passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then
      echo "skip $c"; skipped=$((skipped + 1))
    else
      echo "FAIL $c"; failed=$((failed + 1))
    fi
    chmod -R u+rwX "$dir" 2>/dev/null
    rm -rf "$dir"
  done
  if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  [ "$failed" -eq 0 ]
}

# Runs the unit-test binary BUILD_DIR/NAME under mpirun with 1 to 4 ranks,
# each run with a time limit so that a rank left waiting fails instead of
# hanging. Returns non-zero when a run failed.
run_mpi_unit_test() {
  local build=$1 name=$2 top n log failed=0
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  . "$top/scripts/env.sh"
  # Open MPI's libraries have no frame pointers: without the slow unwinder
  # their leaks have stacks too short for the suppressions to match.
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp}:fast_unwind_on_malloc=0"
  if [ ! -x "$build/$name" ]; then
    echo "$build/$name is not built"
    return 1
  fi
  for n in $(test_ranks); do
    log=$(mktemp)
    if timeout 300 mpirun --oversubscribe -n "$n" "$build/$name" >"$log" 2>&1; then
      echo "ok $n ranks"
    else
      echo "FAIL $n ranks"
      sed 's/^/  /' "$log" | grep -vE '^ +(CUnit|http://cunit)' | tail -40
      failed=1
    fi
    rm -f "$log"
  done
  return "$failed"
}

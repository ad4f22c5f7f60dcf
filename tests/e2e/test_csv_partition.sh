#!/usr/bin/env bash
# Runs the collective CSV split test as 1 to 4 MPI ranks: the union of the
# ranks' shares, in rank order, must be the whole input.
#   test_csv_partition.sh PIPELINE BUILD_DIR
# Each run has a time limit, so that a rank left waiting fails the test
# instead of hanging it.
set -uo pipefail
build=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/scripts/env.sh"
# Open MPI's libraries have no frame pointers: without the slow unwinder
# their leaks have stacks too short for the suppressions to match.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp}:fast_unwind_on_malloc=0"

test_bin="$build/test_csv_partition_mpi"
if [ ! -x "$test_bin" ]; then
  echo "test_csv_partition.sh: $test_bin not built"
  exit 1
fi

failed=0
for n in 1 2 3 4; do
  log=$(mktemp)
  if timeout 300 mpirun --oversubscribe -n "$n" "$test_bin" >"$log" 2>&1; then
    echo "ok   $n ranks"
  else
    echo "FAIL $n ranks"
    sed 's/^/  /' "$log" | grep -vE '^ +(CUnit|http://cunit)' | tail -40
    failed=1
  fi
  rm -f "$log"
done
exit "$failed"

#!/usr/bin/env bash
# Runs jobs/NAME.conf alone (reading ahead or not, with dictionary-encoded
# strings or not) and under mpirun with 1, 2, 3 and 4 ranks (or
# PL_TEST_RANKS and PL_TEST_SPREAD, see lib.sh) and
# compares every output with tests/e2e/expected/NAME.csv (written by hand
# from the data, not by pipeline).
#   run_job.sh PIPELINE NAME ordered|any
set -euo pipefail
bin=$1 name=$2 order=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/scripts/env.sh"
. "$here/lib.sh"
expected="$here/expected/$name.csv"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

normalise() {
  if [ "$order" = ordered ]; then cat "$1"; else
    head -n 1 "$1"; tail -n +2 "$1" | LC_ALL=C sort; fi
}

check() {
  local label=$1
  if [ ! -f "$out/$name.csv" ]; then
    echo "FAIL $name ($label): no output"; exit 1
  fi
  if ! diff <(normalise "$expected") <(normalise "$out/$name.csv") >"$out/diff"; then
    echo "FAIL $name ($label): output differs (< expected, > got)"
    cat "$out/diff"; exit 1
  fi
  rm -f "$out/$name.csv"
}

# Both ways of reading: on the operators' thread, and read ahead on a
# second thread (in chunks of 3 rows, so that many batches pass it).
for ra in 0 1; do
  PIPELINE_READ_AHEAD=$ra PIPELINE_OUT=$out "$bin" -q "$top/jobs/$name.conf"
  check "no mpirun, read-ahead $ra"
done
PIPELINE_READ_AHEAD=1 PIPELINE_OUT=$out "$bin" -q --set job.chunk_rows=3 \
  "$top/jobs/$name.conf"
check "no mpirun, read-ahead in 3-row chunks"
# Strings as read (dictionary-encoded where the first operator takes them)
# and always plain.
PIPELINE_DICT=0 PIPELINE_OUT=$out "$bin" -q "$top/jobs/$name.conf"
check "no mpirun, no dictionaries"
# The job's place in jobs.list numbers it for combo_ranks: with
# PL_TEST_SPREAD=1 the jobs take the rank counts in turn, and only those
# that ran on one rank here run the 2 ranks reading ahead below: every job
# still runs on several ranks, and half of them read ahead there.
index=$(grep '^[a-z]' "$here/jobs.list" | awk -v j="$name" '$1 == j { print NR - 1 }')
several=0
for n in $(combo_ranks "${index:-0}"); do
  PIPELINE_OUT=$out mpirun --oversubscribe -n "$n" "$bin" -q "$top/jobs/$name.conf"
  check "$n ranks"
  [ "$n" -lt 2 ] || several=1
done
if [ "${PL_TEST_SPREAD:-0}" != 1 ] || [ "$several" = 0 ]; then
  PIPELINE_READ_AHEAD=1 PIPELINE_OUT=$out mpirun --oversubscribe -n 2 \
    -x PIPELINE_READ_AHEAD "$bin" -q --set job.chunk_rows=3 "$top/jobs/$name.conf"
  check "2 ranks, read-ahead in 3-row chunks"
fi
echo "ok $name: same answer alone (both ways of reading) and on 1-4 ranks"

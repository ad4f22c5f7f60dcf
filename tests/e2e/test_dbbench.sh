#!/usr/bin/env bash
# The ten db-benchmark group-by questions (jobs/dbbench/q1..q10.conf) on
# the db-benchmark table of 1e6 rows give DuckDB's answers, alone and under
# mpirun with 1, 2, 3 and 4 ranks. The table is generated here
# (scripts/gen_groupby.py --portable: the same rows on every machine); the
# expected answers in expected/dbbench/N/ were made by DuckDB
# (scripts/make_dbbench_expected.sh), and both sides are compared in the
# canonical form of dbbench_canon.py: order-free, exact where the answer
# has an exact form, floats within 1e-9 relative.
#   test_dbbench.sh PIPELINE BUILD_DIR [CASE ...]
# env: DBBENCH_ROWS  table size, one of those in expected/dbbench/
#                    (default 1e6). The sanitizer build runs 1e6 too: most
#                    of the time is the 50 starts of mpirun and the checks,
#                    not pipeline (measured: 5 min at 1e6, 4 min at 1e5).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
canon=$here/dbbench_canon.py

rows=${DBBENCH_ROWS:-1e6}
expected=$here/expected/dbbench/$rows
if [ ! -f "$expected/table.sha256" ]; then
  echo "no expected answers for $rows rows in $expected"
  exit 1
fi

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
/usr/bin/python3 "$top/scripts/gen_groupby.py" "$rows" 100 "$data/table.csv" 108 --portable || exit 1
if ! (cd "$data" && sha256sum --quiet -c "$expected/table.sha256"); then
  echo "the generated $rows-row table is not the one the expected answers were made from"
  exit 1
fi

# run_question QN LABEL CMD...: runs CMD on qN.conf, checks its answer.
run_question() {
  local q=$1 label=$2
  shift 2
  rm -f "$q.csv"
  if ! DATA=$data FILE=table.csv OUT=$PWD timeout 600 "$@" "$bin" -q \
      "$top/jobs/dbbench/$q.conf" >run.log 2>&1; then
    echo "  $q ($label): pipeline failed"
    sed 's/^/    /' run.log | tail -20
    return 1
  fi
  /usr/bin/python3 "$canon" check "$q" "$q.csv" "$expected" |
    sed "s/^  $q:/  $q ($label):/"
}

# Alone, then on 1 to 4 ranks; every run is checked, the first failure
# does not hide the others.
check_question() {
  local q=$1 failed=0 n
  run_question "$q" "no mpirun" || failed=1
  for n in $(test_ranks); do
    run_question "$q" "$n ranks" mpirun --oversubscribe -n "$n" || failed=1
  done
  return "$failed"
}

case_q1() { check_question q1; }
case_q2() { check_question q2; }
case_q3() { check_question q3; }
case_q4() { check_question q4; }
case_q5() { check_question q5; }
case_q6() { check_question q6; }
case_q7() { check_question q7; }
case_q8() { check_question q8; }
case_q9() { check_question q9; }
case_q10() { check_question q10; }

# The comparison can fail: answers that are off by one decimal of a v3 sum,
# by 1e-8 relative in a mean, by a row, or by a key are each rejected.
case_check_rejects() {
  local failed=0
  DATA=$data FILE=table.csv OUT=$PWD "$bin" -q "$top/jobs/dbbench/q5.conf" || return 1
  DATA=$data FILE=table.csv OUT=$PWD "$bin" -q "$top/jobs/dbbench/q3.conf" || return 1
  /usr/bin/python3 "$canon" check q5 q5.csv "$expected" >/dev/null || {
    echo "  the unchanged q5 answer is rejected"; return 1; }
  # v3 sum + 1e-6 in the second row
  awk -F, -v OFS=, 'NR == 2 { $4 = sprintf("%.6f", $4 + 1e-6) } { print }' q5.csv >bad.csv
  /usr/bin/python3 "$canon" check q5 bad.csv "$expected" >/dev/null && {
    echo "  a q5 v3 sum off by 1e-6 is accepted"; failed=1; }
  sed '$d' q5.csv >bad.csv
  /usr/bin/python3 "$canon" check q5 bad.csv "$expected" >/dev/null && {
    echo "  a q5 answer without its last row is accepted"; failed=1; }
  awk -F, -v OFS=, 'NR == 2 { $1 = $1 + 1000000 } { print }' q5.csv >bad.csv
  /usr/bin/python3 "$canon" check q5 bad.csv "$expected" >/dev/null && {
    echo "  a q5 answer with a wrong key is accepted"; failed=1; }
  awk -F, -v OFS=, 'NR == 2 { $3 = sprintf("%.17g", $3 * (1 + 1e-8)) } { print }' q3.csv >bad.csv
  /usr/bin/python3 "$canon" check q3 bad.csv "$expected" >/dev/null && {
    echo "  a q3 mean off by 1e-8 relative is accepted"; failed=1; }
  return "$failed"
}

echo "table: $rows rows ($data/table.csv)"
run_cases "$@"

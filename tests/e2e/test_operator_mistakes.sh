#!/usr/bin/env bash
# The runtime catches an operator's mistakes (tests/e2e/bad_operator.c):
# a clear message naming the section and no output, never a silent wrong
# answer; a plugin built against another layout is refused.
#   test_operator_mistakes.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp}"
people="$top/jobs/data/people.csv"
plugin="$build/libbad_operator.so"

# job MISTAKE [EXTRA_KEY_LINE]: job.conf running [bad] on people.csv.
job() {
  cp "$plugin" .
  printf '[source]\npath = %s\n\n[bad]\nplugin = libbad_operator.so\nmistake = %s\n%s\n[sink]\npath = out.csv\n' \
    "$people" "$1" "${2:-}" >job.conf
}

# run_p EXPECTED_STATUS ARGS...: runs pipeline, keeps its stderr in $msg.
run_p() {
  local want=$1
  shift
  msg=$(timeout 120 "$bin" -q "$@" 2>&1 >/dev/null)
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc, expected $want: $msg"
}

has() { grep -qE -- "$1" <<<"$msg" || fail "message lacks /$1/: $msg"; }
no_output() { [ ! -e out.csv ] && [ -z "$(ls -A | grep -F .tmp)" ] || fail "output left: $(ls -A)"; }

# The plugin as a bare name beside job.conf, the job named three ways.
case_plugin_beside_job() {
  job none
  mkdir sub && mv job.conf libbad_operator.so sub/
  sed -i 's|^path = out.csv|path = ../out.csv|' sub/job.conf
  (cd sub && run_p 0 job.conf) || return 1
  rm -f out.csv
  run_p 0 sub/job.conf || return 1
  rm -f out.csv
  run_p 0 "$PWD/sub/job.conf" || return 1
  cmp out.csv "$people" || fail "pass-through differs from the input"
}

case_drop_column() {
  job drop_column
  run_p 1 job.conf && has 'job\.conf:4: \[bad\] emitted a batch of 4 columns, its output schema has 5' && no_output
}

case_wrong_type() {
  job wrong_type
  run_p 1 job.conf && has "job\.conf:4: \[bad\] emitted column 1 \('name'\) as string, its output schema says int64" && no_output
}

case_short_column() {
  job short_column
  run_p 1 job.conf && has "job\.conf:4: \[bad\] emitted a batch of [0-9]+ rows whose column 5 \('joined'\) holds" && no_output
}

case_silent_error() {
  job silent_error
  run_p 1 job.conf && has 'job\.conf:4: \[bad\] process returned -3 \(PL_ERR_DATA\) without an error message' && no_output
}

case_null_entry() {
  job none
  BAD_OPERATOR=null run_p 2 job.conf && has "pl_operator_entry\(\) returned NULL instead of an operator definition" &&
    { ! grep -q 'API version' <<<"$msg" || fail "mentions an API version: $msg"; }
}

case_wrong_layout() {
  job none
  cp "$build/libbad_layout.so" libbad_operator.so
  sed -i 's|^plugin = .*|plugin = ./libbad_operator.so|' job.conf
  run_p 2 job.conf && has 'another layout of the operator API \(sizeof\(pl_operator\) is [0-9]+ there, [0-9]+ in this pipeline\)' &&
    has 'rebuild the plugin against this pipeline.s headers'
}

# One process: the temporary output is removed, the signal kept.
case_crash_one_process() {
  job crash
  run_p 139 job.conf && has 'crashed \(signal 11\)' && has 'removed the temporary output' && no_output
}

# Rank 1 crashes: no rank leaves output behind, the run fails.
case_crash_two_ranks() {
  job crash 'crash_rank = 1'
  msg=$(timeout 120 mpirun -n 2 "$bin" -q job.conf 2>&1 >/dev/null)
  [ $? -ne 0 ] || fail "exit 0 after a crash: $msg" || return 1
  has 'crashed \(signal 11\)' && no_output
}

# A blocking operator without partial/merge: one process answers for all
# rows; several ranks are refused instead of answering per rank.
case_blocking_without_merge() {
  job none
  local rows
  rows=$(($(wc -l <"$people") - 1))
  BAD_OPERATOR=blocking run_p 0 job.conf || return 1
  [ "$(tail -n 1 out.csv)" = "$rows" ] || fail "one process: $(cat out.csv)" || return 1
  rm -f out.csv
  for n in 2 3; do
    msg=$(BAD_OPERATOR=blocking timeout 120 mpirun -n $n "$bin" -q job.conf 2>&1 >/dev/null)
    local rc=$?
    [ $rc -eq 2 ] || fail "$n ranks: exit $rc: $msg" || return 1
    has "job\.conf:4: \[bad\] is a blocking operator without partial and merge, so it cannot run on $n ranks" || return 1
    no_output || return 1
  done
}

# The test kit finds a merge that does not add up, and names the case;
# the blocking operator without partial/merge is checked in chunks only.
case_check_operator() {
  job none
  local rows
  rows=$(($(wc -l <"$people") - 1))
  msg=$(BAD_OPERATOR=bad_merge "$bin" --check-operator job.conf 2>&1)
  [ $? -eq 1 ] || fail "bad merge passed: $msg" || return 1
  has 'ok   k=1 chunk=1: same rows' && has "FAIL k=2 chunk=1: row 1 is \\([0-9]+\\), one instance gave \\($rows\\)" &&
    has "job\\.conf:4: \\[bad\\] --check-operator: 2 instances, chunks of 1 rows" || return 1
  msg=$(BAD_OPERATOR=blocking "$bin" --check-operator job.conf 2>&1)
  [ $? -eq 0 ] || fail "blocking: $msg" || return 1
  has 'no partial/merge: runs on one rank only' && has 'every case agreed' && ! grep -q 'k=2' <<<"$msg"
}

run_cases "$@"

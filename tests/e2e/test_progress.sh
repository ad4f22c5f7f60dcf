#!/usr/bin/env bash
# End-to-end checks of the progress line (--progress, --no-progress).
#   test_progress.sh PIPELINE BUILD_DIR [CASE ...]
# Each case is a function run in its own empty directory; with CASE
# arguments only those run. The job compresses its output hard so that it
# lasts about a second: long enough for a few quarter-second lines.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2

make_job() {
  awk 'BEGIN{print "id,key,val"; for(i=0;i<1000000;i++) printf "%d,k%d,%.3f\n", i, i%1000, i*0.5}' >data.csv
  printf '[source]\npath = data.csv\n[derive]\nx = val * 2 + id\n[sink]\npath = out.csv.zst\ncompression = zstd:12\noverwrite = true\n' >job.conf
}

# A line as the progress line writes it: "\rpipeline: N rows, X MB/s, P%".
progress_re=$'\rpipeline: [0-9]+ rows, [0-9.]+ MB/s, [0-9]+%'

case_progress_shown() {
  make_job
  "$bin" --progress job.conf 2>err.txt || fail "exit $?: $(cat err.txt)" || return 1
  grep -qaE "$progress_re" err.txt || fail "no progress line: $(cat -A err.txt)" || return 1
  # Cleared before the summary, which starts on a clean line.
  grep -qaE $'\r +\rpipeline: job: 1000000 rows in' err.txt || fail "line not cleared: $(cat -A err.txt)"
}

case_progress_off() {
  make_job
  "$bin" --no-progress job.conf 2>err.txt || fail "exit $?" || return 1
  ! grep -qa $'\r' err.txt || fail "progress with --no-progress: $(cat -A err.txt)"
}

# Standard error is a file here, not a terminal: no line by default.
case_default_not_a_terminal() {
  make_job
  "$bin" job.conf 2>err.txt || fail "exit $?" || return 1
  ! grep -qa $'\r' err.txt || fail "progress by default: $(cat -A err.txt)" || return 1
  grep -qa "1000000 rows in" err.txt || fail "no summary: $(cat err.txt)"
}

run_cases "$@"

#!/usr/bin/env bash
# Every example job in jobs/ once under valgrind (one process): no invalid
# access, no definite or possible leak.
#   test_valgrind.sh PIPELINE BUILD_DIR [JOB ...]
set -uo pipefail
bin=$1
shift 2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 1; }
jobs=("$@")
[ ${#jobs[@]} -gt 0 ] || jobs=($(cd "$top/jobs" && ls *.conf | sed 's/\.conf$//'))
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0
for j in "${jobs[@]}"; do
  if PIPELINE_OUT=$out valgrind -q --leak-check=full --error-exitcode=9 \
      "$bin" -q "$top/jobs/$j.conf" >"$out/log" 2>&1; then
    echo "ok $j"; passed=$((passed + 1))
  else
    echo "FAIL $j"; cat "$out/log"; failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

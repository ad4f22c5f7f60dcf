#!/usr/bin/env bash
# Work inflation counted in instructions: the jobs of bench_scaling.sh run
# under valgrind's callgrind in one process and under mpirun with 2 and 4
# ranks, and the instructions of every process are summed, less what the
# same launch of a one-row job executes. A count does not move with the
# machine's load, its caches, or a host reclaiming memory (which swing
# CPU-seconds on the test VM by 20%), so it shows what the code itself
# does more across ranks; CPU-seconds (bench_scaling.sh) add what the
# ranks cost each other in caches and cores. Slow: about 50 times a run,
# some 40 minutes on 2 cores for the default jobs. Needs valgrind
# (apt-get install valgrind).
#   JOBS="q6 q10" bash scripts/bench_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/bench_lib.sh
JOBS=${JOBS:-"q3 q5 q6 q8 q10 sort distinct"}
RANKS=${RANKS:-"1 2 4"}
DATA=${DATA:-/tmp/bench-data}
FILE=${FILE:-G1_1e7_1e2.csv}
BIN=${BIN:-build/pipeline}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
command -v valgrind >/dev/null || {
  echo "bench_instructions: needs valgrind (apt-get install valgrind)" >&2
  exit 1
}
[ -x "$BIN" ] || bash scripts/setup.sh
groupby_data "$DATA" "$FILE"
export DATA FILE OUT ONE_ROW=$PWD/jobs/scaling/data/one_row.csv

conf_of() { [ -f "jobs/dbbench/$1.conf" ] && echo "jobs/dbbench/$1.conf" || echo "jobs/scaling/$1.conf"; }

# count JOB N: the instructions of all processes of one run.
count() {
  local d=$OUT/cg.$1.$2 conf
  conf=$(conf_of "$1")
  mkdir -p "$d"
  local cg=(valgrind --tool=callgrind "--callgrind-out-file=$d/cg.%p" "$BIN" -q "$conf")
  if [ "$2" = 1 ]; then
    PIPELINE_RANKS=1 "${cg[@]}" 2>/dev/null
  else
    mpirun -n "$2" "${cg[@]}" 2>/dev/null
  fi
  cat "$d"/cg.* | awk '/^summary:/ { s += $2 } END { printf "%.0f\n", s }'
  rm -rf "$d"
}

printf '%s, %s cores (%s), instructions (callgrind) of all processes less a one-row job'"'"'s\n\n' \
  "$(date -u +%F)" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
declare -A launch
printf '%-9s' "start-up"
for n in $RANKS; do
  launch[$n]=$(count one_row "$n")
  printf '%14s' "$n: $(awk -v i="${launch[$n]}" 'BEGIN { printf "%.2fG", i / 1e9 }')"
done
printf '\n%-9s' job
for n in $RANKS; do printf '%22s' "$([ "$n" = 1 ] && echo "one process" || echo "$n ranks")"; done
printf '\n'
for job in $JOBS; do
  printf '%-9s' "$job"
  base=
  for n in $RANKS; do
    i=$(($(count "$job" "$n") - launch[$n]))
    base=${base:-$i}
    awk -v i="$i" -v b="$base" 'BEGIN { printf "%12.2fG %6.3fx  ", i / 1e9, i / b }'
  done
  printf '\n'
done

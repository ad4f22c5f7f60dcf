#!/usr/bin/env bash
# What `--ranks auto` should pick: `pipeline job.conf` as users run it (no
# mpirun) in one process and on every rank count up to the cores, on the
# 1e7-row file and on copies of it 2 and 4 times as long. Prints, per job
# and input size, the median wall time of each (of RUNS, the settings
# alternating), the fastest, and what auto picks today for that size.
#   RUNS=3 JOBS="q1 q3 q6 q10" COPIES="1 2 4" bash scripts/bench_auto_ranks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/bench_lib.sh
RUNS=${RUNS:-3}
JOBS=${JOBS:-"q1 q3 q6 q10"}
COPIES=${COPIES:-"1 2 4"}
DATA=${DATA:-/tmp/bench-data}
BASE=${BASE:-G1_1e7_1e2.csv}
BIN=${BIN:-build/pipeline}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$BIN" ] || bash scripts/setup.sh
groupby_data "$DATA" "$BASE"
CORES=$(nproc)

# file_for COPIES: the base file, or COPIES copies of its rows under one header.
file_for() {
  local c=$1 f
  [ "$c" = 1 ] && { echo "$BASE"; return; }
  f="G1_${c}x.csv"
  if [ ! -f "$DATA/$f" ]; then
    { cat "$DATA/$BASE"; for _ in $(seq 2 "$c"); do tail -n +2 "$DATA/$BASE"; done; } >"$DATA/$f"
  fi
  echo "$f"
}

echo "# bench_auto_ranks: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# pipeline job.conf --ranks N (no mpirun), wall seconds, medians of $RUNS"
printf '%-5s %-9s' job input
for n in $(seq 1 "$CORES"); do printf ' %9s' "$n rank$([ "$n" = 1 ] || echo s)"; done
printf ' %8s %8s\n' fastest auto
for c in $COPIES; do
  file=$(file_for "$c")
  bytes=$(stat -c %s "$DATA/$file")
  cat "$DATA/$file" >/dev/null
  auto=$(/usr/bin/python3 -c "import sys; print(max(1, min($CORES, $bytes // (512 << 20))))")
  for job in $JOBS; do
    for n in $(seq 1 "$CORES"); do : >"$OUT/$n"; done
    for _ in $(seq "$RUNS"); do
      for n in $(seq 1 "$CORES"); do
        t0=$(date +%s.%N)
        DATA=$DATA FILE=$file OUT=$OUT "$BIN" -q --ranks "$n" "jobs/dbbench/$job.conf" >/dev/null
        t1=$(date +%s.%N)
        echo "$t1 - $t0" | bc >>"$OUT/$n"
      done
    done
    printf '%-5s %-9s' "$job" "$((bytes >> 20))MB"
    best=1 bestt=
    for n in $(seq 1 "$CORES"); do
      t=$(median <"$OUT/$n")
      printf ' %9.2f' "$t"
      if [ -z "$bestt" ] || [ "$(echo "$t < $bestt" | bc)" = 1 ]; then best=$n bestt=$t; fi
    done
    printf ' %8s %8s\n' "$best" "$auto"
  done
done

#!/usr/bin/env bash
# Strong scaling: the same db-benchmark group-by questions on the same
# 1e7-row file under mpirun with 1, 2, ... ranks. Prints median wall time
# (of RUNS) and the speed-up over one rank.
#   RANKS="1 2" QUERIES="q1 q3 q5 q10" RUNS=3 bash scripts/bench_scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
RANKS=${RANKS:-"1 2"}
QUERIES=${QUERIES:-"q1 q3 q5 q10"}
RUNS=${RUNS:-3}
DATA=${DATA:-/tmp/bench-data}
FILE=${FILE:-G1_1e7_1e2.csv}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x build/pipeline ] || bash scripts/setup.sh
if [ ! -f "$DATA/$FILE" ]; then
  mkdir -p "$DATA"
  /usr/bin/python3 scripts/gen_groupby.py 1e7 100 "$DATA/$FILE"
fi
cat "$DATA/$FILE" >/dev/null # warm the page cache

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf '%s, %s cores (%s)\n' "$(date -u +%F)" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-6s' query
for n in $RANKS; do printf '%14s' "$n rank(s)"; done
printf '\n'
for q in $QUERIES; do
  printf '%-6s' "$q"
  base=""
  for n in $RANKS; do
    t=$(for i in $(seq "$RUNS"); do
      s=$(date +%s.%N)
      DATA=$DATA FILE=$FILE OUT=$OUT mpirun --oversubscribe -n "$n" build/pipeline -q "jobs/dbbench/$q.conf"
      awk -v a="$(date +%s.%N)" -v b="$s" 'BEGIN { print a - b }'
    done | median)
    [ -n "$base" ] || base=$t
    printf '%8.2f s %4.2fx' "$t" "$(awk -v a="$base" -v b="$t" 'BEGIN { print a / b }')"
  done
  printf '\n'
done

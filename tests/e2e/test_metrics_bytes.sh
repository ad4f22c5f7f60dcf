#!/usr/bin/env bash
# Metrics count each input byte once, whatever the number of ranks: the
# bytes_in of --metrics equals the size of the input files on disk on 1 to
# 4 ranks (each rank reads its file's header and the first rank a sample
# for the schema, and those reads are not counted twice).
#   test_metrics_bytes.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
unset PIPELINE_RANKS

rows() { # N SEED: a CSV of N rows, a few MB for large N
  python3 -c '
import random, sys
n, r = int(sys.argv[1]), random.Random(int(sys.argv[2]))
print("id,name,v")
for i in range(n):
    print(f"{i},name{r.randrange(1000)},{r.random()!r}")' "$1" "$2"
}

# check_bytes CONF FILE...: bytes_in is the files' size on 1 to 4 ranks
check_bytes() {
  local conf=$1 want n got
  shift
  want=$(stat -c %s "$@" | awk '{s += $1} END {print s}')
  for n in $(test_ranks); do
    rm -f m.json
    timeout 120 mpirun --oversubscribe -n $n "$bin" --metrics m.json "$conf" > /dev/null 2> err.txt ||
      fail "$n ranks failed: $(cat err.txt)" || return 1
    got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["bytes_in"])' m.json)
    [ "$got" = "$want" ] || fail "$n ranks: bytes_in $got, the files hold $want" || return 1
  done
}

job() { # SINK_PATH SOURCE_LINES...
  local out=$1
  shift
  { echo "[source]"; printf '%s\n' "$@"; echo; echo "[filter]"; echo "where = ${FCOL:-v} > 0.5"; echo
    echo "[sink]"; echo "path = $PWD/$out"; echo "overwrite = true"; } > job.conf
}

case_one_file() {
  rows 150000 1 > a.csv
  job out.csv "path = $PWD/a.csv"
  check_bytes job.conf a.csv
}

case_several_files_and_zstd() {
  rows 60000 2 > a.csv
  rows 5000 3 > b.csv
  rows 40000 4 | zstd -q -o c.csv.zst || return 1
  rows 70000 5 > d.csv
  job out.csv "path = $PWD/a.csv, $PWD/b.csv, $PWD/c.csv.zst, $PWD/d.csv"
  check_bytes job.conf a.csv b.csv c.csv.zst d.csv
}

case_headerless() {
  rows 100000 6 | tail -n +2 > a.csv
  FCOL=c3 job out.csv "path = $PWD/a.csv" "header = false" "schema = c1:int64, c2:string, c3:float64"
  check_bytes job.conf a.csv
}

run_cases "$@"

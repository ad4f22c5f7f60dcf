#!/usr/bin/env bash
# db-benchmark join questions q1..q5 (jobs/dbbench_join/) end to end: pipeline in one process and under
# `mpirun -n 2`, side by side with DuckDB and Polars when the peers' scripts (../shared/bench/join) and
# their node packages are there.
#
# Each run is one whole process (or mpirun and its ranks): read both CSV files, join, write the whole
# answer as CSV. Timed from outside with GNU time(1) ('%e %U %S %M'): RUNS rounds, each running every
# system once in an order rotated by one system per round; medians quoted, wall and CPU (user+sys: the
# steadier figure on a shared machine). The first round's answers are checked against DuckDB's
# (scripts/check_join.py: rows, NULL count, order-free sums of v1 and v2) and then deleted.
# Prints a markdown table and writes it to bench/results/join-<N>-<date>.md (raw runs in .tsv), with the
# machine's load (uptime, and the CPU seconds other processes used during each run).
#
# usage: scripts/bench_join.sh
# env:  N=1e7  QUERIES="q1 q2 q3 q4 q5"  RUNS=3  SYSTEMS="pipeline pipeline_mpi2 duckdb polars"
#       PEER_BENCH=<repo>/../shared/bench   the peers' scripts (duckdb.js, polars.js under join/)
#       PEER_NODE_DIR   a directory whose node_modules has @duckdb/node-api and nodejs-polars (default:
#                       $PEER_BENCH/node); a peer that cannot load is left out and the table says so
#       DATA=/tmp/bench-data/join   data (J1_<N>_*.csv, generated with scripts/gen_join.py if missing)
#       PIPELINE=build/pipeline   RUN_TIMEOUT=900 (s per run)   REL=1e-9   OUTDIR=bench/results
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-1e7}
QUERIES=${QUERIES:-"q1 q2 q3 q4 q5"}
RUNS=${RUNS:-3}
SYSTEMS=${SYSTEMS:-"pipeline pipeline_mpi2 duckdb polars"}
PEER_BENCH=${PEER_BENCH:-$ROOT/../shared/bench}
PEER_NODE_DIR=${PEER_NODE_DIR:-$PEER_BENCH/node}
DATA=${DATA:-/tmp/bench-data/join}
PIPELINE=$(readlink -f "${PIPELINE:-$ROOT/build/pipeline}")
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
REL=${REL:-1e-9}
OUTDIR=${OUTDIR:-$ROOT/bench/results}
PY=/usr/bin/python3
log() { echo "bench: $*" >&2; }

[ -x /usr/bin/time ] || { log "GNU time(1) is needed (apt-get install time)"; exit 1; }
[ -x "$PIPELINE" ] || bash "$ROOT/scripts/setup.sh" || exit 1
. "$ROOT/scripts/env.sh"
. "$ROOT/scripts/bench_lib.sh"
export PEER_NODE_DIR
mkdir -p "$DATA" "$OUTDIR"
mapfile -t F < <($PY "$ROOT/scripts/gen_join.py" "$N" "$DATA" --names)
[ -s "${F[3]}" ] || $PY "$ROOT/scripts/gen_join.py" "$N" "$DATA" >/dev/null || exit 1
export JOIN_X=${F[0]} JOIN_SMALL=${F[1]} JOIN_MEDIUM=${F[2]} JOIN_BIG=${F[3]}
OUT=$DATA/bench-out
export JOIN_OUT=$OUT/pipeline
mkdir -p "$OUT/logs" "$JOIN_OUT"
STAMP=$(date +%Y-%m-%d-%H%M)
REPORT=$OUTDIR/join-$N-$STAMP.md
TSV=$OUTDIR/join-$N-$STAMP.tsv

peer_ok() {
  [ -f "$PEER_BENCH/join/$1.js" ] && command -v node >/dev/null || return 1
  local pkg; case $1 in duckdb) pkg=@duckdb/node-api ;; polars) pkg=nodejs-polars ;; *) return 1 ;; esac
  node -e "require('module').createRequire('$PEER_NODE_DIR/package.json')('$pkg')" >/dev/null 2>&1
}
RUNNING=""; MISSING=""
for s in $SYSTEMS; do
  case $s in
    pipeline|pipeline_mpi2) RUNNING="$RUNNING $s" ;;
    *) if peer_ok "$s"; then RUNNING="$RUNNING $s"; else MISSING="$MISSING $s"; fi ;;
  esac
done
[ -z "$MISSING" ] || log "left out (no scripts or node packages):$MISSING"

right_of() { case $1 in q1) echo "$JOIN_SMALL" ;; q5) echo "$JOIN_BIG" ;; *) echo "$JOIN_MEDIUM" ;; esac; }
cmd_of() {
  case $1 in
    pipeline) echo "$PIPELINE -q $ROOT/jobs/dbbench_join/$2.conf" ;;
    pipeline_mpi2) echo "mpirun --oversubscribe -n 2 $PIPELINE -q $ROOT/jobs/dbbench_join/$2.conf" ;;
    *) echo "node $PEER_BENCH/join/$1.js $2 $JOIN_X $(right_of "$2") $OUT/$1-$2.csv" ;;
  esac
}
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# run SYSTEM QUERY ROUND -> one TSV line: wall, user, sys, peak RSS, other processes' CPU seconds
run() {
  local t b0 b1 w u s m x
  t=$(mktemp)
  b0=$(busy)
  timeout -k 5 "$RUN_TIMEOUT" /usr/bin/time -f '%e %U %S %M %x' -o "$t" sh -c "exec $(cmd_of "$1" "$2")" \
    >"$OUT/logs/$1-$2-$3.log" 2>&1
  b1=$(busy)
  read -r w u s m x < <(tail -1 "$t")
  rm -f "$t"
  local other
  other=$(awk -v a="$b0" -v b="$b1" -v u="$u" -v s="$s" -v hz="$HZ" 'BEGIN{printf "%.1f", (b-a)/hz-u-s}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$1" "$3" "${x:-fail}" "$w" "$u" "$s" "$m" "$other" >>"$TSV"
  log "$2 $1 round $3: exit ${x:-fail}, wall $w s, cpu $u+$s s, peak $m KB, other work $other cpu-s"
}

printf 'query\tsystem\tround\texit\twall_s\tuser_s\tsys_s\tpeak_kb\tother_cpu_s\n' >"$TSV"
: >"$REPORT.check"
LOAD_BEFORE=$(uptime)
CORES_BEFORE=$(core_speeds)
for q in $QUERIES; do
  for ((r = 1; r <= RUNS; r++)); do
    read -r -a sys <<<"$RUNNING"
    for ((i = 0; i < ${#sys[@]}; i++)); do
      s=${sys[$(((i + r - 1) % ${#sys[@]}))]}
      run "$s" "$q" "$r"
      # the pipeline runs share one answer file: keep each under its system's name
      if [ "${s#pipeline}" != "$s" ]; then
        if [ "$r" = 1 ]; then mv -f "$JOIN_OUT/$q.csv" "$OUT/$s-$q.csv" 2>/dev/null; else rm -f "$JOIN_OUT/$q.csv"; fi
      fi
    done
    if [ "$r" = 1 ]; then
      args=()
      for s in duckdb $RUNNING; do
        [ -f "$OUT/$s-$q.csv" ] && [[ " ${args[*]} " != *" $s="* ]] && args+=("$s=$OUT/$s-$q.csv")
      done
      { echo "== $q"; $PY "$ROOT/scripts/check_join.py" --rel "$REL" "${args[@]}" || echo "ANSWERS DIFFER"; } \
        >>"$REPORT.check" 2>&1
    fi
    rm -f "$OUT"/*-"$q".csv
  done
done
LOAD_AFTER=$(uptime)
CORES_AFTER=$(core_speeds)

{
  echo "# Join benchmark, N = $N ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "scripts/bench_join.sh: db-benchmark join questions, whole process each (read both CSV files, join,"
  echo "write the answer CSV), medians of $RUNS rounds; CPU = user + sys seconds of the process and its children."
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB. Load before: $LOAD_BEFORE; after: $LOAD_AFTER."
  echo "The same Python loop pinned to each core (a virtual machine's cores can differ for minutes; compare"
  echo "runs only when they agree): before:$CORES_BEFORE; after:$CORES_AFTER."
  echo "'other cpu-s' is the CPU the rest of the machine used during the run: on a shared machine wall times"
  echo "are inflated by it, CPU seconds much less."
  [ -z "$MISSING" ] || echo "Not run (no scripts or node packages here):$MISSING."
  echo
  $PY - "$TSV" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
qs = list(dict.fromkeys(r["query"] for r in rows))
ss = list(dict.fromkeys(r["system"] for r in rows))
def med(q, s, f):
    v = [f(r) for r in rows if r["query"] == q and r["system"] == s and r["exit"] == "0"]
    return statistics.median(v) if v else None
fmt = lambda v: "-" if v is None else "%.1f" % v
print("| query | " + " | ".join("%s wall s / cpu s" % s for s in ss) + " | other cpu-s (median) |")
print("|---|" + "---|" * (len(ss) + 1))
for q in qs:
    cells = [fmt(med(q, s, lambda r: float(r["wall_s"]))) + " / " +
             fmt(med(q, s, lambda r: float(r["user_s"]) + float(r["sys_s"]))) for s in ss]
    other = statistics.median(float(r["other_cpu_s"]) for r in rows if r["query"] == q)
    print("| %s | %s | %.0f |" % (q, " | ".join(cells), other))
fails = [r for r in rows if r["exit"] != "0"]
if fails:
    print("\nFailed runs: " + ", ".join("%s %s round %s (exit %s)" % (r["query"], r["system"], r["round"], r["exit"]) for r in fails))
EOF
  echo
  echo "Answers (round 1, against DuckDB's: rows, NULL v2, order-free sums of v1 and v2, rel $REL):"
  echo
  echo '```'
  cat "$REPORT.check"
  echo '```'
} >"$REPORT"
rm -f "$REPORT.check"
cat "$REPORT"
grep -q "ANSWERS DIFFER\|^DIFF" "$REPORT" && { log "answers differ"; exit 1; }
exit 0

#!/usr/bin/env bash
# Peak memory and wall time of pipeline and DuckDB, side by side, on the
# same group-by at growing table sizes: db-benchmark q10 (sum v3, count by
# id1..id6: about one group per row, the one that must spill under a small
# budget) and q3 (sum v1, mean v3 by id3: N/100 groups).
#
# Each run is one whole process, reading the CSV (page cache warm) and
# writing the answer CSV, timed from outside by GNU time ('%e %M': wall and
# peak RSS of the process). Budgets, the same for both systems:
#   a fixed one, e.g. 256MiB   pipeline --memory 256MiB,
#                              DuckDB SET memory_limit = '256MiB'
#   none                       each its default: pipeline 75% of the node's
#                              memory, DuckDB 80% of RAM
# pipeline runs as one process; DuckDB with DUCKDB_THREADS threads. Both
# spill into SCRATCH. After the runs, pipeline's answer is compared with
# DuckDB's (tests/e2e/dbbench_canon.py; q10 with sort(1), it does not fit
# in Python's memory at 1e7 rows).
# Prints a markdown table and writes it to REPORT.
#
# usage: scripts/bench_memory.sh [N ...]     default: 1e6 1e7
# env:  QUERIES="q10 q3"  BUDGETS="256MiB none"  RUNS=3 (the median is quoted)
#       DATA=/tmp/bench-data  tables G1_<N>_1e2.csv, made by gen_groupby.py
#                             when missing (1e8 rows: ~5 GB, checked with df)
#       PIPELINE=build/pipeline
#       DUCKDB_NODE_MODULES=/tmp/bench-peers-node/node_modules (@duckdb/node-api)
#       DUCKDB_THREADS=2  SCRATCH=$DATA/bench-memory  RUN_TIMEOUT=1800 (s)
#       DUCKDB_PRESERVE_INSERTION_ORDER=false  passed on to DuckDB (its
#                             out-of-memory error advises it; default: DuckDB's, true)
#       REPORT=bench/results/memory-<date>.md
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${*:-1e6 1e7}
QUERIES=${QUERIES:-"q10 q3"}
BUDGETS=${BUDGETS:-"256MiB none"}
RUNS=${RUNS:-3}
DATA=${DATA:-/tmp/bench-data}
PIPELINE=${PIPELINE:-$ROOT/build/pipeline}
# One process, as the report says: without this, `--ranks auto` would
# spawn a second rank for tables over 512 MiB.
export PIPELINE_RANKS=${PIPELINE_RANKS:-1}
MODS=${DUCKDB_NODE_MODULES:-/tmp/bench-peers-node/node_modules}
export DUCKDB_THREADS=${DUCKDB_THREADS:-2}
[ -n "${DUCKDB_PRESERVE_INSERTION_ORDER:-}" ] && export DUCKDB_PRESERVE_INSERTION_ORDER
SCRATCH=${SCRATCH:-$DATA/bench-memory}
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}
DATE=$(date +%Y-%m-%d)
REPORT=${REPORT:-$ROOT/bench/results/memory-$DATE.md}
DUCKJS=$ROOT/scripts/dbbench_duckdb.js
CANON=$ROOT/tests/e2e/dbbench_canon.py

log() { echo "bench_memory: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed"
[ -x "$PIPELINE" ] || die "no pipeline at $PIPELINE (scripts/setup.sh builds it)"
command -v node >/dev/null || die "node is needed for DuckDB"
[ -d "$MODS/@duckdb/node-api" ] || die "no @duckdb/node-api under $MODS (set DUCKDB_NODE_MODULES)"
mkdir -p "$DATA" "$SCRATCH/logs" "$(dirname "$REPORT")" || exit 1

datafile() { echo "$DATA/G1_$1_1e2.csv"; }

for n in $SIZES; do
  f=$(datafile "$n")
  [ -s "$f" ] && continue
  # ~50 bytes a row, and room for both systems' spill and answers
  need=$(awk -v n="$n" 'BEGIN { printf "%d", n * 50 * 3 / 1024 }')
  avail=$(df -Pk "$DATA" | awk 'NR == 2 { print $4 }')
  [ "$avail" -gt "$need" ] || die "$n rows need ~$((need / 1048576)) GiB free in $DATA, $((avail / 1048576)) GiB there"
  log "generating $f"
  t0=$(date +%s)
  /usr/bin/python3 "$ROOT/scripts/gen_groupby.py" "$n" 100 "$f.tmp" && mv "$f.tmp" "$f" || die "generation failed"
  log "generated $n rows in $(($(date +%s) - t0)) s"
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# measure LOG CMD... -> "status wall_s peak_MiB" (medians over RUNS)
measure() {
  local logf=$1 i rc st=ok t rows w m
  shift
  t=$(mktemp)
  rows=$(mktemp)
  : >"$logf"
  for ((i = 0; i < RUNS; i++)); do
    timeout -k 5 "$RUN_TIMEOUT" /usr/bin/time -f '%e %M' -o "$t" "$@" >>"$logf" 2>&1
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then st=timeout; break; fi
    [ $rc -eq 0 ] || { st=fail; break; }
    read -r w m < <(tail -n 1 "$t")
    echo "$w $m" >>"$rows"
  done
  echo "$st $(cut -d' ' -f1 "$rows" | median)" \
    "$(cut -d' ' -f2 "$rows" | median | awk '$1 != "NA" { printf "%.0f", $1 / 1024; next } { print }')"
  rm -f "$t" "$rows"
}

# same_answer Q PIPELINE.csv DUCKDB.csv -> one word and a note
same_answer() {
  local q=$1 a=$2 b=$3
  [ -s "$a" ] && [ -s "$b" ] || { echo "no answer"; return; }
  if [ "$q" = q10 ]; then
    # every column of q10 is exact once v3 is printed with 6 decimals
    # (dbbench_canon.py says why), so sorted lines must be equal
    local norm='NR > 1 { $7 = sprintf("%.6f", $7); print }'
    if cmp -s <(LC_ALL=C awk -F, -v OFS=, "$norm" "$a" | LC_ALL=C sort -S 1G -T "$SCRATCH") \
              <(LC_ALL=C awk -F, -v OFS=, "$norm" "$b" | LC_ALL=C sort -S 1G -T "$SCRATCH"); then
      echo "same ($(($(wc -l <"$a") - 1)) rows)"
    else
      echo "DIFFERENT"
    fi
  elif /usr/bin/python3 "$CANON" compare "$q" "$a" "$b" >"$SCRATCH/compare.txt"; then
    echo "same ($(sed -n 's/.*: \([0-9]*\) rows alike.*/\1/p' "$SCRATCH/compare.txt") rows)"
  else
    echo "DIFFERENT"
  fi
}

TSV=$SCRATCH/results.tsv
printf 'rows\tquery\tbudget\tsystem\tstatus\twall_s\tpeak_rss_MiB\tspilled_MiB\n' >"$TSV"
: >"$SCRATCH/checks.txt"

# start-up floors: a 1-row job, DuckDB's version query
printf 'a\n1\n' >"$SCRATCH/one.csv"
printf '[source]\npath = %s/one.csv\n\n[sink]\npath = %s/one.out.csv\noverwrite = true\n' \
  "$SCRATCH" "$SCRATCH" >"$SCRATCH/startup.conf"
read -r st w m < <(measure "$SCRATCH/logs/startup_pipeline.log" "$PIPELINE" -q "$SCRATCH/startup.conf")
printf -- '-\tstart-up\t-\tpipeline\t%s\t%s\t%s\t-\n' "$st" "$w" "$m" >>"$TSV"
read -r st w m < <(measure "$SCRATCH/logs/startup_duckdb.log" env NODE_PATH="$MODS" node "$DUCKJS" version)
printf -- '-\tstart-up\t-\tduckdb\t%s\t%s\t%s\t-\n' "$st" "$w" "$m" >>"$TSV"

for n in $SIZES; do
  f=$(datafile "$n")
  cat "$f" >/dev/null   # warm the page cache
  for q in $QUERIES; do
    for b in $BUDGETS; do
      out=$SCRATCH/$n-$q-$b
      rm -rf "$out"
      mkdir -p "$out/pspill" "$out/dspill"
      popt=(--set "job.spill_dir=$out/pspill" --metrics "$out/metrics.json")
      denv=(DUCKDB_TEMP_DIR="$out/dspill")
      if [ "$b" != none ]; then
        popt+=(--memory "$b")
        denv+=(DUCKDB_MEMORY_LIMIT="$b")
      fi
      log "$n rows, $q, budget $b: pipeline"
      read -r st w m < <(measure "$SCRATCH/logs/$n-$q-$b-pipeline.log" env DATA="$DATA" \
        FILE="$(basename "$f")" OUT="$out" "$PIPELINE" -q "${popt[@]}" "$ROOT/jobs/dbbench/$q.conf")
      spilled=$(/usr/bin/python3 -c 'import json, sys
print("%.0f" % (sum(r.get("bytes_spilled", 0) for r in json.load(open(sys.argv[1]))["per_rank"]) / 2**20))' \
        "$out/metrics.json" 2>/dev/null || echo "-")
      printf '%s\t%s\t%s\tpipeline\t%s\t%s\t%s\t%s\n' "$n" "$q" "$b" "$st" "$w" "$m" "$spilled" >>"$TSV"
      log "  $st ${w}s ${m}MiB, spilled ${spilled}MiB"
      log "$n rows, $q, budget $b: duckdb"
      read -r st w m < <(measure "$SCRATCH/logs/$n-$q-$b-duckdb.log" env NODE_PATH="$MODS" "${denv[@]}" \
        node "$DUCKJS" "$q" "$f" "$out/duckdb_$q.csv")
      printf '%s\t%s\t%s\tduckdb\t%s\t%s\t%s\t-\n' "$n" "$q" "$b" "$st" "$w" "$m" >>"$TSV"
      log "  $st ${w}s ${m}MiB"
      printf '%s %s %s %s\n' "$n" "$q" "$b" "$(same_answer "$q" "$out/$q.csv" "$out/duckdb_$q.csv")" \
        | tee -a "$SCRATCH/checks.txt" >&2
      rm -rf "$out/pspill" "$out/dspill" "$out/$q.csv" "$out/duckdb_$q.csv"
    done
  done
done

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
GITREV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)
DUCKV=$(NODE_PATH=$MODS node "$DUCKJS" version 2>/dev/null)
{
  echo "# Peak memory: pipeline and DuckDB on db-benchmark q10 and q3 ($DATE)"
  echo
  echo "Machine: $(hostname), $(nproc) cores ($CPU), $MEM RAM, kernel $(uname -r)."
  echo "$("$PIPELINE" --version 2>&1 | head -1) at $GITREV, one process; DuckDB $DUCKV"
  echo "(npm @duckdb/node-api under node $(node --version)), $DUCKDB_THREADS threads, preserve_insertion_order"
  echo "${DUCKDB_PRESERVE_INSERTION_ORDER:-true (default)}. Made by scripts/bench_memory.sh."
  echo
  echo "Each cell: median of $RUNS runs of one whole process (read the CSV from a warm page cache, group, write"
  echo "the answer CSV), peak RSS and wall time from GNU time. Budget: \`--memory B\` for pipeline and"
  echo "\`memory_limit = B\` for DuckDB; *none*: each its default (pipeline 75% of the node's memory, DuckDB 80%"
  echo "of RAM). Ratios are pipeline / DuckDB (< 1: pipeline smaller or faster). \"spilled\" is pipeline's"
  echo "bytes_spilled (--metrics)."
  echo
} >"$REPORT"
/usr/bin/python3 - "$TSV" "$SCRATCH/checks.txt" >>"$REPORT" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
checks = {}
for line in open(sys.argv[2]):
    n, q, b, rest = line.rstrip("\n").split(" ", 3)
    checks[(n, q, b)] = rest
by = {(r["rows"], r["query"], r["budget"], r["system"]): r for r in rows}
def val(r, k):
    return r[k] if r and r["status"] == "ok" else (r["status"] if r else "-")
def ratio(p, d, k):
    try:
        return "%.2f" % (float(p[k]) / float(d[k]))
    except (TypeError, ValueError, ZeroDivisionError):
        return "-"
print("| rows | query | budget | pipeline peak MiB | DuckDB peak MiB | peak ratio | pipeline wall s "
      "| DuckDB wall s | wall ratio | pipeline spilled MiB | same answer |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
seen = []
for r in rows:
    k = (r["rows"], r["query"], r["budget"])
    if r["rows"] == "-" or k in seen:
        continue
    seen.append(k)
    p, d = by.get(k + ("pipeline",)), by.get(k + ("duckdb",))
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        k[0], k[1], k[2], val(p, "peak_rss_MiB"), val(d, "peak_rss_MiB"),
        ratio(p, d, "peak_rss_MiB"), val(p, "wall_s"), val(d, "wall_s"),
        ratio(p, d, "wall_s"), p["spilled_MiB"] if p else "-", checks.get(k, "-")))
print()
print("Start-up floors (nothing to read): " + "; ".join(
    "%s %s MiB, %s s" % (r["system"], r["peak_rss_MiB"], r["wall_s"])
    for r in rows if r["rows"] == "-") + ".")
print()
EOF
cat "$REPORT"
log "wrote $REPORT (raw: $TSV)"

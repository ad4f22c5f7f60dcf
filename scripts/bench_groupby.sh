#!/usr/bin/env bash
# db-benchmark group-by questions q1..q10 (jobs/dbbench/) end to end: pipeline, and side by side DuckDB and
# Polars when the peers' scripts (../shared/bench) and their node packages are there.
#
# Each query is one whole process: read the CSV (page cache warm), group, write the answer CSV. Timed from
# outside with GNU time(1) ('%e %U %S %M'): WARMUP uncounted + RUNS counted runs, the median is quoted.
# Also the floors: `cat FILE > /dev/null`, `wc -l FILE`, pipeline's start-up (a 1-row job) and pipeline's
# scan (every column parsed, `[filter] where = false`, nothing grouped or written).
# When DuckDB ran, pipeline's answers are checked against DuckDB's (order-free, numbers within REL relative).
# Prints a markdown table and writes it to bench/results/groupby-<date>.md.
#
# usage: scripts/bench_groupby.sh
# env:  SIZES="1e6 1e7"  QUERIES="q1 ... q10"  RUNS=3  WARMUP=1  K=100
#       PEERS="duckdb polars"   peers to run; PEERS="" runs none. A peer that cannot run (no node, no packages,
#                               no ../shared/bench) is replaced by the published figures of
#                               $PEER_BENCH/results/peers.tsv when present, and the table says so.
#       PEER_BENCH=<repo>/../shared/bench   the peers' scripts (used only when present)
#       PEER_NODE_MODULES       a node_modules dir with @duckdb/node-api and nodejs-polars (default: the
#                               one under $PEER_BENCH/node, else $SCRATCH/peers-node/node_modules)
#       INSTALL_PEERS=1         npm-install the peers' packages into $SCRATCH/peers-node when missing
#       DATA=/tmp/bench-data    data dir (files G1_<N>_1e2.csv; generated with scripts/gen_groupby.py if missing)
#       PIPELINE=build/pipeline (built with scripts/setup.sh if missing)
#       SCRATCH=$DATA/bench-out-pipeline   query outputs and logs
#       RUN_TIMEOUT=300 (s per run)  REL=1e-9  CHECK=1  FLOORS=1  OUTDIR=bench/results
#       PLAIN=1   also run each query as a user would write it without hints: no `columns`, no `schema`
#                 (types inferred); q8 gains `[select] columns = id6, v3` before its sink, since without
#                 `columns` its sort passes every column on. Tuned and plain runs alternate, and the table
#                 gains their CPU-seconds and the ratio plain / tuned (the peers get no hints either).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${SIZES:-"1e6 1e7"}
QUERIES=${QUERIES:-"q1 q2 q3 q4 q5 q6 q7 q8 q9 q10"}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
K=${K:-100}
PEERS=${PEERS-"duckdb polars"}
PEER_BENCH=${PEER_BENCH:-$ROOT/../shared/bench}
DATA=${DATA:-/tmp/bench-data}
PIPELINE=${PIPELINE:-$ROOT/build/pipeline}
SCRATCH=${SCRATCH:-$DATA/bench-out-pipeline}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
REL=${REL:-1e-9}
CHECK=${CHECK:-1}
FLOORS=${FLOORS:-1}
PLAIN=${PLAIN:-0}
INSTALL_PEERS=${INSTALL_PEERS:-0}
OUTDIR=${OUTDIR:-$ROOT/bench/results}
DATE=$(date +%Y-%m-%d)
REPORT=${REPORT:-$OUTDIR/groupby-$DATE.md}
TSV=$SCRATCH/results.tsv

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  echo "bench: installing $*" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------------------------------------- prerequisites
[ -x /usr/bin/time ] || apt_install time || { log "GNU time(1) is needed"; exit 1; }
[ -x "$PIPELINE" ] || bash "$ROOT/scripts/setup.sh" || exit 1
mkdir -p "$DATA" "$SCRATCH/logs" "$OUTDIR"

datafile() { echo "$DATA/G1_$1_$(printf '%.0e' "$K" | sed 's/e+0*/e/').csv"; }   # 1e7 -> G1_1e7_1e2.csv

for n in $SIZES; do
  f=$(datafile "$n")
  [ -s "$f" ] && continue
  /usr/bin/python3 -c 'import numpy' 2>/dev/null || apt_install python3-numpy || exit 1
  log "generating $f"
  /usr/bin/python3 "$ROOT/scripts/gen_groupby.py" "$n" "$K" "$f.tmp" && mv "$f.tmp" "$f" || exit 1
done

# ---------------------------------------------------------------------------------------------- peers
NODE_MODS=${PEER_NODE_MODULES:-}
peer_ok() {   # peer -> 0 when it can run here
  [ -f "$PEER_BENCH/peers/$1/groupby.js" ] && command -v node >/dev/null || return 1
  local pkg; case $1 in duckdb) pkg=@duckdb/node-api ;; polars) pkg=nodejs-polars ;; *) return 1 ;; esac
  NODE_PATH=$NODE_MODS node -e "require('module').createRequire('$PEER_BENCH/node/package.json')('$pkg')" \
    >/dev/null 2>&1
}
RUN_PEERS=""; PUB_PEERS=""
if [ -n "$PEERS" ]; then
  if [ -z "$NODE_MODS" ]; then
    if [ -d "$PEER_BENCH/node/node_modules" ]; then NODE_MODS=$PEER_BENCH/node/node_modules
    else NODE_MODS=$SCRATCH/peers-node/node_modules; fi
  fi
  if [ "$INSTALL_PEERS" = 1 ] && [ ! -d "$NODE_MODS" ] && [ -f "$PEER_BENCH/node/package.json" ] \
     && command -v npm >/dev/null; then
    log "installing the peers' node packages into $SCRATCH/peers-node"
    mkdir -p "$SCRATCH/peers-node"
    cp "$PEER_BENCH/node/package.json" "$PEER_BENCH/node/package-lock.json" "$SCRATCH/peers-node/" 2>/dev/null
    (cd "$SCRATCH/peers-node" && npm install --no-audit --no-fund >/dev/null 2>&1) || log "npm install failed"
    NODE_MODS=$SCRATCH/peers-node/node_modules
  fi
  for p in $PEERS; do
    if peer_ok "$p"; then RUN_PEERS="$RUN_PEERS $p"
    elif [ -s "$PEER_BENCH/results/peers.tsv" ]; then PUB_PEERS="$PUB_PEERS $p"; log "$p cannot run here: published figures"
    else log "$p cannot run here and has no published figures: left out"; fi
  done
fi
ALL_PEERS=$(echo $RUN_PEERS $PUB_PEERS)

# ---------------------------------------------------------------------------------------------- measuring
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "NA"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# measure 'CMD' LOG -> wall from date(1) around time(1) (~2 ms of fork/exec included), cpu and RSS from time(1)
#   -> "status wall_median cpu_median peak_median_MiB wall_min wall_max"
measure() {
  local cmd=$1 logf=$2 i rc st=ok t w u s m x t0 t1
  t=$(mktemp); : > "$t.rows"; : > "$logf"
  for ((i = 0; i < WARMUP + RUNS; i++)); do
    t0=$(date +%s%N)
    timeout -k 5 "$RUN_TIMEOUT" /usr/bin/time -f '%e %U %S %M %x' -o "$t" sh -c "exec $cmd >>$logf 2>&1"
    rc=$?
    t1=$(date +%s%N)
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then st=timeout; break; fi
    read -r w u s m x < <(tail -1 "$t")
    w=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b - a) / 1e9}')   # ms resolution (time's %e: 10 ms)
    [ "$x" = 0 ] || st=fail
    [ "$i" -ge "$WARMUP" ] && awk -v w="$w" -v u="$u" -v s="$s" -v m="$m" \
      'BEGIN{printf "%s %.2f %.1f\n", w, u+s, m/1024}' >> "$t.rows"
  done
  echo "$st $(cut -d' ' -f1 "$t.rows" | median) $(cut -d' ' -f2 "$t.rows" | median)" \
       "$(cut -d' ' -f3 "$t.rows" | median) $(cut -d' ' -f1 "$t.rows" | sort -g | head -1)" \
       "$(cut -d' ' -f1 "$t.rows" | sort -g | tail -1)"
  rm -f "$t" "$t.rows"
}
record() {  # size system what 'CMD' LOG
  local line; line=$(measure "$4" "$5")
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(echo "$line" | tr ' ' '\t')" >> "$TSV"
  printf '  %-4s %-9s %-24s %s\n' "$1" "$2" "$3" "$line" >&2
}

# plain_conf Q -> the job without column hints (see PLAIN above)
plain_conf() {
  local sel=""
  [ "$1" = q8 ] && sel='[select]\ncolumns = id6, v3\n\n'
  sed -e '/^columns = /d' -e '/^schema = /d' "$ROOT/jobs/dbbench/$1.conf" |
    awk -v sel="$sel" '/^\[sink\]/ && sel != "" { printf "%s", sel } { print }' | sed 's/\\n/\n/g'
}

# record_pair SIZE Q 'CMD' TUNED PLAIN: WARMUP + RUNS rounds, each running the tuned then the plain job, so
# that both see the same machine; records "Q" and "Q plain" as record() does.
record_pair() {
  local n=$1 q=$2 cmd=$3 tuned=$4 plain=$5 i k lt lp
  lt=$SCRATCH/logs/${n}_pipeline_$q.log; lp=$SCRATCH/logs/${n}_pipeline_${q}_plain.log
  : > "$SCRATCH/pair_t"; : > "$SCRATCH/pair_p"
  for ((i = 0; i < WARMUP + RUNS; i++)); do
    k=$((i < WARMUP ? 1 : 0))
    RUNS=$((1 - k)) WARMUP=$k measure "$cmd $tuned" "$lt.$i" >> "$SCRATCH/pair_t"
    RUNS=$((1 - k)) WARMUP=$k measure "$cmd $plain" "$lp.$i" >> "$SCRATCH/pair_p"
  done
  local what f line
  for what in "$q" "$q plain"; do
    f=$SCRATCH/pair_t; [ "$what" = "$q" ] || f=$SCRATCH/pair_p
    line=$(awk 'NF && $2 != "NA" { if ($1 != "ok") st = $1; print $2, $3, $4 > "/dev/stderr" } END { print (st ? st : "ok") }' \
      "$f" 2> "$f.rows")
    line="$line $(cut -d' ' -f1 "$f.rows" | median) $(cut -d' ' -f2 "$f.rows" | median) $(cut -d' ' -f3 "$f.rows" | median)"
    line="$line $(cut -d' ' -f1 "$f.rows" | sort -g | head -1) $(cut -d' ' -f1 "$f.rows" | sort -g | tail -1)"
    printf '%s\t%s\t%s\t%s\n' "$n" pipeline "$what" "$(echo "$line" | tr ' ' '\t')" >> "$TSV"
    printf '  %-4s %-9s %-24s %s\n' "$n" pipeline "$what" "$line" >&2
  done
}

# check GOT REF -> prints OK/FAIL line. Order-free: both sorted after numbers are printed alike (%.15g); then
# field by field, numbers equal within REL relative (of max(1,|a|,|b|)), nan == nan, text exact.
check() {
  local got=$1 ref=$2 g r
  [ -s "$got" ] && [ -s "$ref" ] || { echo "SKIP (no output)"; return; }
  norm='NR>1 { for (i = 1; i <= NF; i++) if ($i ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) $i = sprintf("%.15g", $i); else if (tolower($i) ~ /^[-+]?nan$/) $i = "nan"; print }'
  g=$(mktemp); r=$(mktemp)
  LC_ALL=C awk -F, -v OFS=, "$norm" "$got" | LC_ALL=C sort -S 25% > "$g"
  LC_ALL=C awk -F, -v OFS=, "$norm" "$ref" | LC_ALL=C sort -S 25% > "$r"
  LC_ALL=C paste -d'\n' "$g" "$r" | awk -F, -v rel="$REL" -v ng="$(wc -l < "$g")" -v nr="$(wc -l < "$r")" \
    -v hg="$(head -1 "$got")" -v hr="$(head -1 "$ref")" '
    function abs(x) { return x < 0 ? -x : x }
    BEGIN { if (ng != nr) { printf "FAIL %d rows, expected %d\n", ng, nr; bad = 1; exit }
            if (split(hg, a) != split(hr, b)) { printf "FAIL columns %s, expected %s\n", hg, hr; bad = 1; exit } }
    NR % 2 == 1 { g = $0; next }
    g != $0 {
      n = split(g, a, ","); m = split($0, b, ",")
      if (n != m) { printf "FAIL row %d: %s != %s\n", NR/2, g, $0; bad = 1; exit }
      for (i = 1; i <= n; i++) if (a[i] != b[i]) {
        if (a[i] ~ /^[-+0-9.]/ && b[i] ~ /^[-+0-9.]/) {
          d = abs(a[i] - b[i]); s = abs(a[i]) > abs(b[i]) ? abs(a[i]) : abs(b[i]); if (s < 1) s = 1
          if (d <= rel * s) continue
        }
        printf "FAIL sorted row %d: %s != %s\n", NR/2, g, $0; bad = 1; exit
      }
    }
    END { if (!bad) printf "OK %d rows%s\n", ng, (hg == hr ? "" : " (header " hg " vs " hr ")") }'
  rm -f "$g" "$r"
}

# ---------------------------------------------------------------------------------------------- runs
printf 'size\tsystem\twhat\tstatus\twall_median_s\tcpu_median_s\tpeak_rss_median_MiB\twall_min_s\twall_max_s\n' > "$TSV"
: > "$SCRATCH/check.txt"
PLVER=$("$PIPELINE" --version 2>&1)
GITREV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && [ -n "$(git status --porcelain -uno 2>/dev/null)" ] && echo "+dirty")
log "pipeline: $PIPELINE ($PLVER, $GITREV); peers run: ${RUN_PEERS:-none}; published: ${PUB_PEERS:-none}"

if [ "$FLOORS" = 1 ]; then
  printf 'a\n1\n' > "$SCRATCH/one.csv"
  printf '[source]\npath = %s/one.csv\n\n[sink]\npath = %s/one.out.csv\noverwrite = true\n' "$SCRATCH" "$SCRATCH" > "$SCRATCH/startup.conf"
  record - pipeline "start-up (1-row job)" "$PIPELINE $SCRATCH/startup.conf" "$SCRATCH/logs/startup.log"
fi

for n in $SIZES; do
  f=$(datafile "$n"); out=$SCRATCH/$n
  mkdir -p "$out"
  cat "$f" > /dev/null   # warm the page cache
  log "$f"
  if [ "$FLOORS" = 1 ]; then
    record "$n" floor "cat > /dev/null" "cat $f" /dev/null
    record "$n" floor "wc -l" "wc -l $f" /dev/null
    # scan floor: every column parsed to its type, no row kept, nothing grouped; an empty file written
    sed -e '/^\[groupby\]/,$d' -e 's/^name = q1$/name = scan/' "$ROOT/jobs/dbbench/q1.conf" > "$SCRATCH/scan.conf"
    printf '[filter]\nwhere = false\n\n[sink]\npath = ${OUT:-/tmp}/scan.csv\noverwrite = true\n' >> "$SCRATCH/scan.conf"
    record "$n" pipeline "scan ([filter] false)" "env DATA=$DATA FILE=$(basename "$f") OUT=$out $PIPELINE $SCRATCH/scan.conf" \
      "$SCRATCH/logs/${n}_pipeline_scan.log"
  fi
  for q in $QUERIES; do
    rm -f "$out/$q.csv"
    if [ "$PLAIN" = 1 ]; then
      plain_conf "$q" > "$SCRATCH/${q}_plain.conf"
      record_pair "$n" "$q" "env DATA=$DATA FILE=$(basename "$f") OUT=$out $PIPELINE" \
        "$ROOT/jobs/dbbench/$q.conf" "$SCRATCH/${q}_plain.conf"
    else
      record "$n" pipeline "$q" "env DATA=$DATA FILE=$(basename "$f") OUT=$out $PIPELINE $ROOT/jobs/dbbench/$q.conf" \
        "$SCRATCH/logs/${n}_pipeline_$q.log"
    fi
    for p in $RUN_PEERS; do
      rm -f "$out/${p}_$q.csv"
      record "$n" "$p" "$q" "env NODE_PATH=$NODE_MODS node $PEER_BENCH/peers/$p/groupby.js $q $f $out/${p}_$q.csv" \
        "$SCRATCH/logs/${n}_${p}_$q.log"
    done
    if [ "$CHECK" = 1 ] && [[ " $RUN_PEERS " == *" duckdb "* ]]; then
      echo "$n $q pipeline vs duckdb: $(check "$out/$q.csv" "$out/duckdb_$q.csv")" | tee -a "$SCRATCH/check.txt" >&2
    fi
  done
done

# ---------------------------------------------------------------------------------------------- report
PUBTSV=$PEER_BENCH/results/peers.tsv
[ -n "$PUB_PEERS" ] && cp "$PUBTSV" "$SCRATCH/published.tsv"
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
{
  echo "# pipeline on the db-benchmark group-by questions ($DATE)"
  echo
  echo "Machine: $(nproc) cores ($CPU), $MEM, kernel $(uname -r). $PLVER at $GITREV ($PIPELINE)."
  echo "Each query is one whole process (read CSV from a warm page cache, group, write the answer CSV), timed"
  echo "with GNU time: $WARMUP warm-up + $RUNS counted runs, **medians** quoted as \`wall s / peak RSS MiB\`."
  echo "Ratio = pipeline wall / best peer wall (< 1: pipeline faster); geometric mean over the queries shown."
  [ -n "$RUN_PEERS" ] && echo "Peers run here, same file, same protocol:$RUN_PEERS (node scripts of ../shared/bench)."
  [ -n "$PUB_PEERS" ] && echo "**Peers not run here:$PUB_PEERS: their cells are the published figures of ../shared/bench/results-peers.md (peers.tsv, first pass), marked *pub*: another run at another time, not this one; on 2026-11-24 the peers run here were 1.5-3x faster than those figures, so ratios against *pub* cells flatter pipeline.**"
  echo
} > "$REPORT"
/usr/bin/python3 - "$TSV" "$SCRATCH/check.txt" "${PUBTSV}" "$(echo $RUN_PEERS)" "$(echo $PUB_PEERS)" "$SIZES" \
  "$QUERIES" "$(datafile 1e6)" "$(datafile 1e7)" >> "$REPORT" <<'EOF'
import csv, math, os, sys
tsv, checkf, pubtsv, run_peers, pub_peers, sizes, queries, f6, f7 = sys.argv[1:10]
run_peers, pub_peers, sizes, queries = run_peers.split(), pub_peers.split(), sizes.split(), queries.split()
peers = run_peers + pub_peers
rows = {}
for r in csv.DictReader(open(tsv), delimiter="\t"):
    rows[(r["size"], r["system"], r["what"])] = r
pub = {}
if pub_peers and os.path.exists(pubtsv):
    for r in csv.DictReader(open(pubtsv), delimiter="\t"):
        size = r["file"].split("_")[1] if r["file"].startswith("G1_") else "-"
        if r["status"] == "ok":
            pub.setdefault((size, r["peer"], r["query"]), r)   # first pass
checks = {}
if os.path.exists(checkf):
    for line in open(checkf):
        n, q, rest = line.split(" ", 2)
        checks[(n, q)] = rest.split(": ", 1)[1].strip()
def cell(size, sys_, q):
    r = rows.get((size, sys_, q))
    if r and r["status"] == "ok":
        return float(r["wall_median_s"]), "%.2f / %.0f" % (float(r["wall_median_s"]), float(r["peak_rss_median_MiB"]))
    if r:
        return None, r["status"]
    p = pub.get((size, sys_, q))
    if p:
        return float(p["wall_median_s"]), "%.2f / %.0f *pub*" % (float(p["wall_median_s"]), float(p["peak_rss_median_MiB"]))
    return None, "-"
for size in sizes:
    print(f"## {size} rows\n")
    plain = any((size, "pipeline", q + " plain") in rows for q in queries)
    hdr = ["query", "pipeline s / MiB", "pipeline cpu s"]
    if plain:
        hdr += ["plain s / MiB", "plain cpu s", "plain / tuned cpu"]
    hdr += [f"{p} s / MiB" for p in peers] + ["ratio to best peer"]
    if "duckdb" in run_peers:
        hdr.append("check vs duckdb")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    ratios = []
    for q in queries:
        w, c = cell(size, "pipeline", q)
        r = rows.get((size, "pipeline", q))
        cpu = r["cpu_median_s"] if r else "-"
        cs, best = [], None
        for p in peers:
            pw, pc = cell(size, p, q)
            cs.append(pc)
            if pw is not None and (best is None or pw < best[0]):
                best = (pw, p)
        ratio = "-"
        if w is not None and best:
            ratios.append(w / best[0])
            ratio = "%.2f (%s)" % (w / best[0], best[1])
        line = [q, c, cpu]
        if plain:
            pr = rows.get((size, "pipeline", q + " plain"))
            pw, pc = cell(size, "pipeline", q + " plain")
            pcpu = pr["cpu_median_s"] if pr else "-"
            rel = "-"
            if pr and r and pr["status"] == "ok" and r["status"] == "ok" and float(cpu) > 0:
                rel = "%.3f" % (float(pcpu) / float(cpu))
            line += [pc, pcpu, rel]
        line += cs + [ratio]
        if "duckdb" in run_peers:
            line.append(checks.get((size, q), "-").split(" (")[0])
        print("| " + " | ".join(line) + " |")
    if ratios:
        g = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print(f"\nGeometric mean of the ratios ({len(ratios)} queries): **{g:.2f}**\n")
    else:
        print()
fl = [(k, v) for k, v in rows.items() if k[1] in ("floor",) or not k[2].startswith("q")]
if fl:
    print("## Floors\n")
    print("| size | what | median wall s | cpu s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for (size, sys_, what), r in fl:
        print(f"| {size} | {sys_}: {what} | {r['wall_median_s']} | {r['cpu_median_s']} | {r['peak_rss_median_MiB']} |")
    print()
if checks:
    print("## Checks (pipeline vs DuckDB, order-free, relative tolerance 1e-9)\n\n```")
    for (n, q), v in checks.items():
        print(f"{n} {q}: {v}")
    print("```\n")
EOF
echo "Raw measurements: \`$TSV\` (copied next to this file as groupby-$DATE.tsv)." >> "$REPORT"
cp "$TSV" "${REPORT%.md}.tsv"
cat "$REPORT"
log "wrote $REPORT"

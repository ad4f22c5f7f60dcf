#!/usr/bin/env bash
# Work inflation: the same jobs on the same 1e7-row file in one process and
# under mpirun with 1, 2 and 4 ranks (and 4 ranks on 2 fake nodes; mpirun
# -n 1 is the wall time 2 ranks are to beat, launch included). For each,
# the median (of RUNS, the settings alternating within each run) of the
# wall time and of the CPU-seconds of all ranks together (user + sys, from
# each rank's metrics), less what the same launch costs for a one-row job;
# and that CPU over one process's: the work inflation (1.00 = no extra
# work). The launchers' own start-up is printed on a line of its own: the
# ranks' CPU for a one-row job, and mpirun's own CPU beside it. After
# each job's row, the same Python loop timed on each core: the test VM
# reports no steal time, so a core its host takes away for a while makes
# the runs on it cost more CPU-seconds (0.16 s for the loop at best,
# 0.27 s seen), and that column tells which rows met such a stretch.
#
# Each timed run follows an untimed run of the same command (WARM=0
# skips it). A virtual machine that reports free pages to its host hands
# freed memory back, and a process touching it again pays the host's
# fault and zeroing. On the test VM (/sys/module/page_reporting: order 9,
# min_free_ms 0; the header prints these) the first touch of 512 MB on
# huge pages took 1.3-1.6 ms per MB after a pause and 0.065 right after
# another process had freed as much, on 4 KiB pages 2.6 ms per MB either
# way. A job's CPU-seconds then swing with how much of its memory comes
# back warm: the one-process sort took 4.85 cpu-s in one run of this
# script and 7.20 in another, q10 4.2-7.2. Without the warm-up the order
# of the runs decided which of them paid: 0.28 s of a 1.4 s q6 once,
# 0.7-0.85 s of sys on 4-rank q3 cold against 0.44-0.47 warm (0.37 of it
# the launch).
#
# Two more settings split the same work without MPI: the file cut by rows
# into four quarters (each with the header, made once beside the file),
# each quarter a one-process job, all four started together (q4) or two
# at a time (q2). Their answers are not combined, so they are no answer
# to the job: q4 is what four ranks would cost if moving rows and merging
# were free (each quarter still builds its own table of every group),
# and q4 against q2 is what this machine charges for four busy processes
# on two cores, whatever they run. Below the table, each cell's range:
# the inflation of its cheapest and its dearest run.
#   RUNS=3 JOBS="q1 q3 q6 q10 sort distinct" bash scripts/bench_scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/bench_lib.sh
RUNS=${RUNS:-3}
WARM=${WARM:-1}
JOBS=${JOBS:-"q1 q2 q3 q4 q5 q6 q7 q8 q9 q10 sort distinct"}
# m1: mpirun -n 1; 4f: 4 ranks on 2 fake nodes; q4, q2: quarters (above)
SETTINGS=${SETTINGS:-"1 m1 2 4 4f q4 q2"}
DATA=${DATA:-/tmp/bench-data}
FILE=${FILE:-G1_1e7_1e2.csv}
BIN=${BIN:-build/pipeline}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$BIN" ] || bash scripts/setup.sh
groupby_data "$DATA" "$FILE"
QUARTER=${FILE%.csv}.quarter
# quarters: DATA/QUARTER0.csv .. 3, a quarter of FILE's rows each, in
# order, each with FILE's header; made when missing or older than FILE.
quarters() {
  local f=$DATA/$FILE q=$DATA/$QUARTER
  [ "$q"3.csv -nt "$f" ] && return
  awk -v n="$(($(wc -l <"$f") - 1))" -v q="$q" '
    NR == 1 { for (i = 0; i < 4; i++) print > (q i ".csv"); next }
    { print > (q int((NR - 2) * 4 / n) ".csv") }' "$f"
}
case " $SETTINGS " in *" q"[24]" "*) quarters ;; esac
cat "$DATA/$FILE" >/dev/null # warm the page cache

conf_of() { [ -f "jobs/dbbench/$1.conf" ] && echo "jobs/dbbench/$1.conf" || echo "jobs/scaling/$1.conf"; }

# quarter I CONF: one process on quarter I, its output in OUT/qI, its
# metrics in OUT/qI.json.
quarter() {
  mkdir -p "$OUT/q$1"
  PIPELINE_RANKS=1 DATA=$DATA FILE=$QUARTER$1.csv OUT=$OUT/q$1 \
    "$BIN" -q --metrics "$OUT/q$1.json" "$2"
}

# run_quarters SETTING CONF: prints "wall cpu 0" of the four quarters,
# together (q4) or two at a time (q2).
run_quarters() {
  local s=$1 conf=$2 t0 t1 i pids=()
  t0=$(date +%s.%N)
  for i in 0 1 2 3; do
    quarter "$i" "$conf" &
    pids+=($!)
    if [ "$s" = q2 ] && [ "$i" = 1 ]; then
      wait "${pids[@]}"
      pids=()
    fi
  done
  wait "${pids[@]}"
  t1=$(date +%s.%N)
  /usr/bin/python3 - "$OUT" "$t0" "$t1" <<'EOF'
import json, sys
cpu = sum(json.load(open(f"{sys.argv[1]}/q{i}.json"))["cpu_seconds"] for i in range(4))
print(float(sys.argv[3]) - float(sys.argv[2]), cpu, 0.0)
EOF
}

# run SETTING CONF: prints "wall ranks_cpu launcher_cpu" of one run.
run() {
  local s=$1 conf=$2 m=$OUT/metrics.json t=$OUT/time
  case $s in q2 | q4)
    run_quarters "$s" "$conf"
    return
    ;;
  esac
  local cmd=("$BIN" -q --metrics "$m" "$conf")
  case $s in
  1) cmd=(env PIPELINE_RANKS=1 "${cmd[@]}") ;;
  m1) cmd=(mpirun -n 1 "${cmd[@]}") ;;
  4f) cmd=(env PIPELINE_FAKE_NODES=2 mpirun -x PIPELINE_FAKE_NODES -n 4 "${cmd[@]}") ;;
  *) cmd=(mpirun -n "$s" "${cmd[@]}") ;;
  esac
  rm -f "$m"
  local t0 t1
  t0=$(date +%s.%N)
  DATA=$DATA FILE=$FILE OUT=$OUT /usr/bin/time -f "%U %S" -o "$t" "${cmd[@]}"
  t1=$(date +%s.%N)
  /usr/bin/python3 - "$m" "$t" "$t0" "$t1" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
u, s = map(float, open(sys.argv[2]).read().split()[-2:])
ranks = m.get("cpu_seconds", u + s)  # builds before cpu_seconds: all of it
print(float(sys.argv[4]) - float(sys.argv[3]), ranks, max(0.0, u + s - ranks))
EOF
}

# measure JOB: fills wall[s], cpu[s] (medians), runs alternating settings.
declare -A wall cpu launch base_of
measure() {
  local job=$1 conf r s
  conf=$(conf_of "$job")
  for s in $SETTINGS; do : >"$OUT/$job.$s"; done
  for r in $(seq "$RUNS"); do
    for s in $SETTINGS; do
      [ "$WARM" = 0 ] || run "$s" "$conf" >/dev/null
      run "$s" "$conf" >>"$OUT/$job.$s"
    done
  done
  for s in $SETTINGS; do
    wall[$job.$s]=$(cut -d' ' -f1 "$OUT/$job.$s" | median)
    cpu[$job.$s]=$(cut -d' ' -f2 "$OUT/$job.$s" | median)
    launch[$job.$s]=$(cut -d' ' -f3 "$OUT/$job.$s" | median)
  done
}

label() {
  case $1 in
  1) echo "one process" ;;
  m1) echo "mpirun -n 1" ;;
  4f) echo "4 ranks/2 nodes" ;;
  q4) echo "4 quarters at once" ;;
  q2) echo "4 quarters, 2 at once" ;;
  *) echo "$1 ranks" ;;
  esac
}

printf '%s, %s cores (%s), load %s\n' "$(date -u +%F)" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'the same loop on each core, at the start:%s\n' "$(core_speeds)"
PR=/sys/module/page_reporting/parameters
if [ -r "$PR/page_reporting_order" ]; then
  printf 'free pages reported to the host: order %s, min_free_ms %s\n' \
    "$(cat "$PR/page_reporting_order")" "$(cat "$PR/min_free_ms" 2>/dev/null || echo -)"
fi
printf 'medians of %s runs%s; cpu = user + sys of all ranks less the same launch of a one-row job\n\n' \
  "$RUNS" "$([ "$WARM" = 0 ] && echo ', no warm-up' || echo ', each after an untimed run of the same command')"

ONE_ROW=$PWD/jobs/scaling/data/one_row.csv
export ONE_ROW
measure one_row
printf 'start-up (one-row job), ranks cpu-s / mpirun cpu-s:'
for s in $SETTINGS; do
  printf '  %s %.2f / %.2f' "$(label "$s")" "${cpu[one_row.$s]}" "${launch[one_row.$s]}"
done
printf '\n\n%-9s' job
for s in $SETTINGS; do printf '%28s' "$(label "$s")"; done
printf '  core loops\n%-9s' ''
for s in $SETTINGS; do printf '%28s' "wall   cpu-s  inflation"; done
printf '  after the job\n'
for job in $JOBS; do
  measure "$job"
  base=$(awk -v c="${cpu[$job.1]}" -v o="${cpu[one_row.1]}" 'BEGIN { print c - o }')
  base_of[$job]=$base
  printf '%-9s' "$job"
  for s in $SETTINGS; do
    awk -v w="${wall[$job.$s]}" -v c="${cpu[$job.$s]}" -v o="${cpu[one_row.$s]}" -v b="$base" \
      'BEGIN { n = c - o; printf "%9.2f s %7.2f %8.2fx  ", w, n, n / b }'
  done
  core_speeds | awk '{ s = ""; for (i = 3; i <= NF; i += 4) s = s (s ? " / " : "") $i; print "  " s " s" }'
done
# The medians above hide how far the runs of a cell fell apart on a host
# as noisy as the test VM's: each cell's fewest and most CPU-seconds, less
# the launch, as the inflation above puts them.
printf '\ninflation of the cheapest and the dearest run of each cell\n%-9s' job
for s in $SETTINGS; do printf '%28s' "$(label "$s")"; done
printf '\n'
for job in $JOBS; do
  printf '%-9s' "$job"
  for s in $SETTINGS; do
    cut -d' ' -f2 "$OUT/$job.$s" | sort -g | awk -v o="${cpu[one_row.$s]}" -v b="${base_of[$job]}" \
      '{ a[NR] = $1 } END { printf "%28s", sprintf("%.2f-%.2fx", (a[1] - o) / b, (a[NR] - o) / b) }'
  done
  printf '\n'
done
printf '\nthe same loop on each core, at the end:%s\n' "$(core_speeds)"

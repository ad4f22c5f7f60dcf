#!/usr/bin/env bash
# Single-node mode: `pipeline --ranks N job.conf` without mpirun starts its
# own ranks (under mpirun, or spawned when PIPELINE_MPIRUN is empty). Same answers as one process, errors and Ctrl-C handled as
# under mpirun, job.conf errors found before anything is spawned, and no
# process left behind.
#   test_ranks.sh PIPELINE BUILD_DIR [CASE ...]
# Each case is a function run in its own empty directory; with CASE
# arguments only those run.
#
# "MPI never started" is observed with OMPI_MCA_pml=bogus: MPI_Init then
# fails loudly (case_bogus_pml_breaks_mpi checks that it does), so a run
# that succeeds with it never started MPI.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
unset PIPELINE_RANKS

# run_p EXPECTED_STATUS ARGS...: runs pipeline under timeout 60, keeps its
# stderr in $msg; the status must be EXPECTED_STATUS, no sanitizer report.
run_p() {
  local want=$1
  shift
  msg=$(timeout 60 "$bin" "$@" 2>&1 >/dev/null)
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc, expected $want: $msg" || return 1
  ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' <<<"$msg" ||
    fail "sanitizer report: $msg"
}

has() { grep -qE -- "$1" <<<"$msg" || fail "message lacks /$1/: $msg"; }
lacks() { ! grep -qE -- "$1" <<<"$msg" || fail "message has /$1/: $msg"; }

# no_processes_left: no pipeline process runs on this case's job.conf
# (the cases use absolute paths under their own directory), and no MPI
# launcher or daemon started in this directory (Open MPI's orted, seen
# deadlocked once its ranks were killed). The children are given 3 s to
# go: only the watchdog's exit leaves them dying.
no_processes_left() {
  local left
  for _ in $(seq 30); do
    left=$( (pgrep -f -- "$PWD/" | grep -vx "$$"; launchers_here) | sort -u)
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  fail "processes left behind: $(ps -o pid,args -p "$(echo $left | tr ' ' ,)")"
}

# launchers_here: pids of MPI launchers and daemons working in $PWD.
launchers_here() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/cwd" 2>/dev/null)" = "$PWD" ] || continue
    case "$(readlink "$p/exe" 2>/dev/null)" in
    */orted | */orterun | */mpirun | */mpiexec | */prte | */prted | */prterun) echo "${p#/proc/}" ;;
    esac
  done
}

# only FILE...: the directory holds exactly these files (dot files too).
only() {
  local left
  left=$(ls -A | grep -vxF "$(printf '%s\n' "$@")" | tr '\n' ' ')
  [ -z "$left" ] || fail "left behind: $left"
}

ranks_in() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ranks"])' "$1"; }

normalise() {
  if [ "$2" = ordered ]; then cat "$1"; else
    head -n 1 "$1"; tail -n +2 "$1" | LC_ALL=C sort; fi
}

# Every job of jobs.list gives its expected answer on 1 to 4 ranks (3 and
# 4 are more than this machine may have cores; with PL_TEST_SPREAD=1 the
# jobs take the counts in turn, see combo_ranks), and --metrics says how
# many ranks ran it.
case_jobs_same_answer() {
  local job order n out=$PWD i=0
  while read -r job order; do
    case $job in [a-z]*) ;; *) continue ;; esac
    i=$((i + 1))
    for n in $(combo_ranks $((i - 1))); do
      rm -f "$out/$job.csv" m.json
      PIPELINE_OUT=$out run_p 0 -q --ranks "$n" --metrics "$PWD/m.json" "$top/jobs/$job.conf" ||
        fail "$job on $n ranks" || return 1
      [ -f "$out/$job.csv" ] || fail "$job on $n ranks: no output" || return 1
      diff <(normalise "$here/expected/$job.csv" "$order") <(normalise "$out/$job.csv" "$order") >diff.txt ||
        fail "$job on $n ranks: output differs: $(cat diff.txt)" || return 1
      [ "$(ranks_in m.json)" = "$n" ] || fail "$job: metrics ranks $(ranks_in m.json), expected $n" || return 1
    done
  done <"$here/jobs.list"
  no_processes_left
}

# HDF5 in and out: the spawned ranks read their share of the datasets
# and write one file together, as under mpirun.
case_hdf5_same_answer() {
  local n
  PIPELINE_OUT=$PWD run_p 0 -q --ranks 1 "$top/jobs/hdf5_read.conf" || return 1
  normalise hdf5_read.csv any >one.csv
  for n in $(ranks_from 2); do
    PIPELINE_OUT=$PWD run_p 0 -q --ranks "$n" "$top/jobs/hdf5_read.conf" || return 1
    normalise hdf5_read.csv any | cmp -s - one.csv || fail "hdf5_read on $n ranks differs" || return 1
  done
  printf '[source]\npath = hdf5_write.h5\ndatasets = name, city, age, score, joined\n[sink]\npath = back.csv\noverwrite = true\n' >r.conf
  PIPELINE_OUT=$PWD run_p 0 -q --ranks 1 "$top/jobs/hdf5_write.conf" || return 1
  run_p 0 -q --ranks 1 "$PWD/r.conf" && mv back.csv one_back.csv || return 1
  PIPELINE_OUT=$PWD run_p 0 -q --ranks 3 "$top/jobs/hdf5_write.conf" || return 1
  run_p 0 -q --ranks 1 "$PWD/r.conf" || return 1
  cmp -s back.csv one_back.csv || fail "hdf5_write on 3 ranks differs" || return 1
  no_processes_left
}

# The probe the other cases rely on: with a pml that does not exist,
# starting MPI fails.
case_bogus_pml_breaks_mpi() {
  printf '[source]\npath = %s\n[sink]\npath = %s/out.csv\n' "$top/jobs/data/people.csv" "$PWD" >job.conf
  # Open MPI's own message is sometimes garbled ("ORTE_ERROR_LOG: Data
  # unpack had inadequate space"): only that it speaks is checked.
  OMPI_MCA_pml=bogus run_p 1 -q --ranks 2 "$PWD/job.conf" && has 'MPI|ORTE' || return 1
  [ ! -e out.csv ] || fail "out.csv written" || return 1
  no_processes_left
}

# A bad row that only the last rank reads: exit 1, that rank's message
# naming file:line, once; no output, no temporary file, no process left.
case_bad_row_on_last_rank() {
  awk 'BEGIN { print "k,v"; for (i = 1; i <= 40000; i++) print "k" (i % 13) "," (i == 39000 ? "oops" : i) }' >d.csv
  printf '[source]\npath = d.csv\nschema = k:string, v:int64\n[groupby]\nkeys = k\ns = sum(v)\n[sink]\npath = out.csv\n' >job.conf
  local n
  for n in $(ranks_from 2); do
    run_p 1 -q --ranks "$n" "$PWD/job.conf" || return 1
    has "^pipeline: rank $((n - 1)): .*/d\.csv:39001: .*oops" || return 1
    [ "$(grep -c 'd\.csv:39001' <<<"$msg")" -eq 1 ] || fail "message not once: $msg" || return 1
    only d.csv job.conf || return 1
    no_processes_left || return 1
  done
}

# A job.conf error or a missing input is found by the parent before it
# spawns: the status of a one-process run, and MPI never started.
case_plan_errors_spawn_nothing() {
  printf '[source]\npath = %s\n[fliter]\nwhere = age > 3\n[sink]\npath = out.csv\n' "$top/jobs/data/people.csv" >job.conf
  OMPI_MCA_pml=bogus run_p 2 -q --ranks 4 "$PWD/job.conf" || return 1
  has 'job\.conf:3: ' && has "did you mean 'filter'" && lacks 'MPI|ORTE' || return 1
  printf '[source]\npath = missing.csv\n[sink]\npath = out.csv\n' >job.conf
  OMPI_MCA_pml=bogus run_p 1 -q --ranks 4 "$PWD/job.conf" || return 1
  has 'missing\.csv' && lacks 'MPI|ORTE' || return 1
  printf 'x\n' >exists.csv
  printf '[source]\npath = %s\n[sink]\npath = exists.csv\n' "$top/jobs/data/people.csv" >job.conf
  OMPI_MCA_pml=bogus run_p 2 -q --ranks 3 "$PWD/job.conf" && has 'overwrite' && lacks 'MPI|ORTE' || return 1
  only job.conf exists.csv
}

# --ranks auto (the default) on a small input: one process, no MPI.
case_auto_small_input_one_process() {
  printf '[source]\npath = %s\n[groupby]\nkeys = city\nn = count()\n[sink]\npath = out.csv\n' "$top/jobs/data/people.csv" >job.conf
  OMPI_MCA_pml=bogus run_p 0 -q --metrics m.json "$PWD/job.conf" || return 1
  [ "$(ranks_in m.json)" = 1 ] || fail "default: ranks $(ranks_in m.json)" || return 1
  rm out.csv m.json
  OMPI_MCA_pml=bogus PIPELINE_RANKS=auto run_p 0 -q --metrics m.json "$PWD/job.conf" || return 1
  [ "$(ranks_in m.json)" = 1 ] || fail "PIPELINE_RANKS=auto: ranks $(ranks_in m.json)"
}

# --ranks auto on a large input: as many ranks as there are cores, up to
# one per 512 MiB of input. --explain shows the count without reading the
# data; the files are sparse (rows, then zeros), so the test costs no disk.
case_auto_large_input() {
  awk 'BEGIN { print "k,v"; for (i = 0; i < 20000; i++) print "k" i % 7 "," i }' >big.csv
  printf '[source]\npath = big.csv\n[groupby]\nkeys = k\nn = count()\n[sink]\npath = out.csv\n' >job.conf
  local size want out
  for size in 600 1100 2100; do
    truncate -s "${size}M" big.csv
    want=$((size / 512))
    [ "$want" -gt "$(nproc)" ] && want=$(nproc)
    out=$(OMPI_MCA_pml=bogus timeout 60 "$bin" --explain "$PWD/job.conf" 2>&1) || fail "$size MiB: exit $?: $out" || return 1
    [ "$want" -eq 1 ] && want="1 rank" || want="$want ranks"
    grep -q "^job 'job': $want on 1 node" <<<"$out" || fail "$size MiB: not $want: $out" || return 1
  done
  only big.csv job.conf
}

# PIPELINE_RANKS sets the default; --ranks wins over it.
case_env_default() {
  printf '[source]\npath = %s\n[sink]\npath = out.csv\noverwrite = true\n' "$top/jobs/data/people.csv" >job.conf
  PIPELINE_RANKS=2 run_p 0 -q --metrics m.json "$PWD/job.conf" || return 1
  [ "$(ranks_in m.json)" = 2 ] || fail "PIPELINE_RANKS=2: ranks $(ranks_in m.json)" || return 1
  PIPELINE_RANKS=2 OMPI_MCA_pml=bogus run_p 0 -q --ranks 1 --metrics m.json "$PWD/job.conf" || return 1
  [ "$(ranks_in m.json)" = 1 ] || fail "--ranks 1 over PIPELINE_RANKS=2: ranks $(ranks_in m.json)" || return 1
  no_processes_left
}

case_usage_errors() {
  printf '[source]\npath = %s\n[sink]\npath = out.csv\n' "$top/jobs/data/people.csv" >job.conf
  local v
  for v in 0 x -1 1025 2.5 ''; do
    OMPI_MCA_pml=bogus run_p 2 --ranks "$v" job.conf && has "^pipeline: --ranks: '$v' is not a number of ranks" ||
      return 1
  done
  OMPI_MCA_pml=bogus run_p 2 --ranks job.conf && has 'no job.conf given|needs a value' || return 1
  OMPI_MCA_pml=bogus PIPELINE_RANKS=many run_p 2 job.conf && has "^pipeline: PIPELINE_RANKS: 'many'" || return 1
  only job.conf
}

# --explain, --list-operators, --help and --version never start MPI;
# --explain shows the plan of the ranks the run would have.
case_no_spawn_for_information() {
  printf '[source]\npath = %s\n[groupby]\nkeys = city\nn = count()\n[sink]\npath = out.csv\n' "$top/jobs/data/people.csv" >job.conf
  local out
  out=$(OMPI_MCA_pml=bogus timeout 60 "$bin" --ranks 4 --explain "$PWD/job.conf" 2>&1) ||
    fail "--explain: exit $?: $out" || return 1
  grep -q "4 ranks on 1 node" <<<"$out" || fail "--explain: $out" || return 1
  grep -q "shuffled among the ranks" <<<"$out" || fail "--explain: $out" || return 1
  OMPI_MCA_pml=bogus run_p 0 --ranks 4 --list-operators "$PWD/job.conf" || return 1
  OMPI_MCA_pml=bogus run_p 0 --ranks 4 --help || return 1
  OMPI_MCA_pml=bogus run_p 0 --ranks 4 --version || return 1
  only job.conf
}

# The summary line is printed once (by rank 0), the metrics written once
# with every rank's rows.
case_summary_once() {
  printf '[source]\npath = %s\n[filter]\nwhere = age > 0\n[sink]\npath = out.csv\n' "$top/jobs/data/people.csv" >job.conf
  run_p 0 --ranks 3 --metrics m.json "$PWD/job.conf" || return 1
  [ "$(grep -c 'rows in' <<<"$msg")" -eq 1 ] || fail "summary lines: $msg" || return 1
  local rows
  rows=$(($(wc -l <"$top/jobs/data/people.csv") - 1))
  has "^pipeline: job: $rows rows in" || return 1
  python3 -c 'import json,sys; m=json.load(open("m.json")); assert m["ranks"]==3 and m["rows_in"]==int(sys.argv[1]), m' "$rows" ||
    fail "metrics: $(cat m.json)" || return 1
  no_processes_left
}

# Under a launcher the launcher decides: a --ranks that disagrees is a
# command-line error; PIPELINE_RANKS is not looked at.
case_under_mpirun() {
  printf '[source]\npath = %s\n[sink]\npath = out.csv\noverwrite = true\n' "$top/jobs/data/people.csv" >job.conf
  msg=$(timeout 60 mpirun --oversubscribe -n 2 "$bin" -q --ranks 3 "$PWD/job.conf" 2>&1)
  [ $? -ne 0 ] || fail "mpirun -n 2 --ranks 3 succeeded" || return 1
  has '^pipeline: --ranks 3, but the launcher started 2 ranks' || return 1
  [ "$(grep -c 'but the launcher' <<<"$msg")" -eq 1 ] || fail "not once: $msg" || return 1
  timeout 60 mpirun --oversubscribe -n 2 "$bin" -q --ranks 2 --metrics m.json "$PWD/job.conf" ||
    fail "mpirun -n 2 --ranks 2: exit $?" || return 1
  [ "$(ranks_in m.json)" = 2 ] || fail "ranks $(ranks_in m.json)" || return 1
  PIPELINE_RANKS=3 timeout 60 mpirun --oversubscribe -n 2 -x PIPELINE_RANKS "$bin" -q --metrics m.json "$PWD/job.conf" ||
    fail "mpirun -n 2 with PIPELINE_RANKS=3: exit $?" || return 1
  [ "$(ranks_in m.json)" = 2 ] || fail "ranks $(ranks_in m.json)"
}

# The pml components the running ranks of job.conf have loaded, one line
# per rank ("ob1", or "ob1 ucx" ...), once each has one.
rank_pmls() {
  local exe p ranks= out
  exe=$(readlink -f "$bin")
  for _ in $(seq 300); do
    ranks=$(for p in $(pgrep -f -- "$PWD/job.conf"); do
      [ "$(readlink "/proc/$p/exe")" = "$exe" ] && echo "$p"
    done)
    out=$(for p in $ranks; do
      grep -o 'mca_pml_[a-z0-9]*' "/proc/$p/maps" 2>/dev/null | sed 's/mca_pml_//' | sort -u | xargs
    done)
    [ "$(wc -w <<<"$ranks")" -eq 2 ] && [ "$(grep -c . <<<"$out")" -eq 2 ] && break
    sleep 0.1
  done
  echo "$out"
}

# Under a plain `mpirun -n 2` on one node, with OMPI_MCA_pml unset, the
# ranks take ob1 (shared memory) without probing UCX, which costs each
# 0.2 s; a pml the user names is kept (a bogus one fails).
case_ob1_under_mpirun() {
  slow_job '[filter]
where = x100 < 0'
  env -u OMPI_MCA_pml timeout -k 10 60 mpirun --oversubscribe -n 2 "$bin" -q "$PWD/job.conf" 2>err.txt &
  local pid=$! pmls
  pmls=$(rank_pmls)
  kill -TERM "$pid"
  wait "$pid"
  [ "$pmls" = "$(printf 'ob1\nob1')" ] || fail "pml of the ranks: $pmls" || return 1
  printf '[source]\npath = %s\n[sink]\npath = out.csv\noverwrite = true\n' "$top/jobs/data/people.csv" >job.conf
  if OMPI_MCA_pml=bogus timeout 60 mpirun --oversubscribe -x OMPI_MCA_pml -n 2 "$bin" -q "$PWD/job.conf" 2>err.txt; then
    fail "OMPI_MCA_pml=bogus: exit 0"
    return 1
  fi
  [ ! -e out.csv ] || fail "out.csv written" || return 1
  no_processes_left
}

# An output written by several ranks (rank 0's part becomes the file, the
# others are copied in after it): plain and zstd, every row once and in
# rank order, the usual mode under the caller's umask, nothing else left
# in the directory, also with a part that is empty. With PL_TEST_SPREAD=1
# (combo_ranks) zstd on the most ranks and plain on one: the last run
# below writes a plain file's parts on 3 ranks.
case_output_parts() {
  awk 'BEGIN { print "k,v"; for (i = 0; i < 30000; i++) print "k" i % 7 "," i }' >d.csv
  local n ext i=2
  for ext in csv csv.zst; do
    rm -f out.*
    printf '[source]\npath = %s\n[filter]\nwhere = v %% 7 != 3\n[sink]\npath = out.%s\n' \
      "$PWD/d.csv" "$ext" >job.conf
    i=$((i - 1))
    for n in $(combo_ranks "$i"); do
      rm -f "out.$ext"
      (umask 027 && run_p 0 --ranks "$n" "$PWD/job.conf") || return 1
      [ "$(stat -c %a "out.$ext")" = 640 ] || fail "$n ranks, $ext: mode $(stat -c %a "out.$ext")" || return 1
      if [ "$ext" = csv.zst ]; then zstd -q -dc out.csv.zst >out.txt; else cp out.csv out.txt; fi
      awk -F, 'NR == 1 || $2 % 7 != 3' d.csv | cmp -s - out.txt || fail "$n ranks, $ext: rows differ" || return 1
      rm out.txt
      only d.csv job.conf "out.$ext" || return 1
    done
  done
  printf '[source]\npath = %s\n[filter]\nwhere = v > 29990\n[sink]\npath = out.csv\n' "$PWD/d.csv" >job.conf
  run_p 0 --ranks 3 "$PWD/job.conf" || return 1
  [ "$(cat out.csv)" = "$(awk -F, 'NR == 1 || $2 > 29990' d.csv)" ] || fail "empty parts: $(cat out.csv)"
}

# Standard output under several ranks is the caller's own: rank 0 writes
# to the parent's descriptor (passed over a socket, not copied through
# mpirun), so output appended to a file after a line the caller wrote
# lands after it, in rank order, and a pipe gets every byte; progress and
# messages reach the caller's standard error. Also when spawned.
case_stdout_ranks() {
  awk 'BEGIN { print "k,v"; for (i = 0; i < 200000; i++) print "k" i % 7 "," i }' >d.csv
  printf '[source]\npath = %s\n[filter]\nwhere = v %% 7 != 3\n[sink]\npath = -\n' "$PWD/d.csv" >job.conf
  awk -F, 'NR == 1 || $2 % 7 != 3' d.csv >want.txt
  local n launcher
  for launcher in default ""; do
    for n in $(combo_ranks 0); do
      [ "$n" -gt 1 ] || continue
      if [ "$launcher" = default ]; then unset PIPELINE_MPIRUN; else export PIPELINE_MPIRUN=; fi
      { echo before; timeout 60 "$bin" --ranks "$n" "$PWD/job.conf" 2>err.txt; echo after; } >out.txt ||
        fail "$n ranks: exit $?: $(cat err.txt)" || return 1
      { echo before; cat want.txt; echo after; } | cmp -s - out.txt ||
        fail "$n ranks ($launcher): output differs" || return 1
      grep -q '^pipeline: job: 200000 rows in' err.txt || fail "$n ranks: no summary: $(cat err.txt)" || return 1
      [ "$(timeout 60 "$bin" -q --ranks "$n" "$PWD/job.conf" | md5sum)" = "$(md5sum <want.txt)" ] ||
        fail "$n ranks ($launcher): piped output differs" || return 1
    done
  done
  unset PIPELINE_MPIRUN
  no_processes_left
}

# How many of the processes given have out.txt and err.txt as fd 1 and 2.
ranks_writing_to_caller() {
  local r n=0
  for r in "$@"; do
    [ "$(readlink "/proc/$r/fd/1")" = "$PWD/out.txt" ] && [ "$(readlink "/proc/$r/fd/2")" = "$PWD/err.txt" ] &&
      n=$((n + 1))
  done
  echo "$n"
}

# Rank 0's standard output and error are the caller's own descriptors,
# the other ranks' go through mpirun: exactly one rank writes to the
# caller's file directly.
case_rank0_has_callers_stdout() {
  slow_job '[filter]
where = x100 < 0'
  sed -i 's|^path = out.csv$|path = -|' job.conf
  timeout -k 10 60 "$bin" -q --ranks 3 "$PWD/job.conf" >out.txt 2>err.txt &
  local pid=$! exe ranks= r direct=0
  exe=$(readlink -f "$bin")
  for _ in $(seq 500); do
    ranks=$(for p in $(pgrep -f -- "$PWD/job.conf"); do
      [ "$(readlink "/proc/$p/exe")" = "$exe" ] && [ "$(ps -o ppid= -p "$p" | tr -d ' ')" != "$pid" ] && echo "$p"
    done)
    [ "$(wc -w <<<"$ranks")" -eq 3 ] && break
    sleep 0.02
  done
  # Rank 0 takes the files once MPI has started, which under the
  # sanitizers on a loaded machine can take seconds: wait for it.
  for _ in $(seq 300); do
    [ "$(ranks_writing_to_caller $ranks)" -ge 1 ] && break
    sleep 0.1
  done
  sleep 0.3
  direct=$(ranks_writing_to_caller $ranks)
  kill -INT "$(pgrep -P "$pid")"
  wait "$pid"
  [ "$(wc -w <<<"$ranks")" -eq 3 ] || fail "ranks: $ranks" || return 1
  [ "$direct" -eq 1 ] || fail "$direct ranks write to the caller's files" || return 1
  no_processes_left
}

# Where row order is free (after a join, a group-by, a distinct) and the
# ranks share a host, they append whole rows to rank 0's file instead of
# writing parts copied together at the end: the same rows as one process
# in some order, the header once and first, no row cut by another rank's
# (a few rows of 1.5 MB, past the 1 MiB write buffer), the usual mode,
# nothing else left, and --explain says so. Ranks on two nodes
# (PIPELINE_FAKE_NODES) write parts, as does a job with a sort after the
# join: byte for byte as one process.
case_output_shared() {
  python3 -c 'print("k,v,s")
for i in range(40000):
    print("k%d,%d,%s" % (i % 7, i, "x" * 1500000 if i % 9973 == 5 else "t%d" % i))' >d.csv
  printf 'k,name\nk0,zero\nk1,one\nk2,two\nk3,three\nk4,four\nk5,five\n' >r.csv
  local join n top_n
  join=$(printf '[source]\npath = %s\n[join]\npath = %s\non = k\nhow = left\n' "$PWD/d.csv" "$PWD/r.csv")
  printf '%s\n[sink]\npath = out.csv\n' "$join" >job.conf
  run_p 0 --ranks 1 "$PWD/job.conf" && mv out.csv one.csv || return 1
  for n in $(ranks_from 2); do
    top_n=$n
    (umask 027 && run_p 0 --ranks "$n" "$PWD/job.conf") || return 1
    [ "$(stat -c %a out.csv)" = 640 ] || fail "$n ranks: mode $(stat -c %a out.csv)" || return 1
    [ "$(head -n 1 out.csv)" = k,v,s,name ] || fail "$n ranks: header $(head -c 80 out.csv)" || return 1
    cmp -s <(sort one.csv) <(sort out.csv) || fail "$n ranks: rows differ" || return 1
    only d.csv r.csv job.conf one.csv out.csv || return 1
    rm out.csv
  done
  msg=$("$bin" --ranks "$top_n" --explain "$PWD/job.conf" 2>&1)
  has 'output: the ranks append whole rows to one file \(row order is free after \[join\]\)' || return 1
  # parts in rank order: this join keeps each rank's rows in input order
  PIPELINE_FAKE_NODES=2 run_p 0 --ranks "$top_n" "$PWD/job.conf" || return 1
  cmp -s one.csv out.csv || fail "2 nodes: not the parts in rank order" || return 1
  rm out.csv
  printf '%s\n[sort]\nby = v\n[sink]\npath = out.csv\n' "$join" >job.conf
  run_p 0 --ranks 1 "$PWD/job.conf" && mv out.csv one.csv || return 1
  run_p 0 --ranks "$top_n" "$PWD/job.conf" || return 1
  cmp -s one.csv out.csv || fail "$top_n ranks: a sort after the join lost its order" || return 1
  msg=$("$bin" --ranks "$top_n" --explain "$PWD/job.conf" 2>&1)
  has 'output: each rank writes a part' || return 1
}

# The same where the file system has no O_TMPFILE (NFS): a preloaded
# open() refuses it, so every part is created and unlinked and all of
# them, rank 0's too, are copied into a new temporary file.
case_output_parts_without_tmpfile() {
  cat >notmp.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
static int refuse(int flags) { return (flags & O_TMPFILE) == O_TMPFILE; }
#define SHIM(name) \
	int name(const char *path, int flags, ...) \
	{ \
		va_list ap; \
		va_start(ap, flags); \
		int mode = va_arg(ap, int); \
		va_end(ap); \
		if (refuse(flags)) { \
			errno = EOPNOTSUPP; \
			return -1; \
		} \
		int (*real)(const char *, int, ...) = \
		    (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		return real(path, flags, mode); \
	}
SHIM(open)
SHIM(open64)
EOF
  cc -shared -fPIC -o "$PWD/notmp.so" notmp.c -ldl || fail "cannot build the open() shim" || return 1
  awk 'BEGIN { print "k,v"; for (i = 0; i < 20000; i++) print "k" i % 7 "," i }' >d.csv
  printf '[source]\npath = %s\n[sink]\npath = out.csv.zst\n' "$PWD/d.csv" >job.conf
  local n
  for n in 2 3; do
    rm -f out.csv.zst
    msg=$(LD_PRELOAD=$PWD/notmp.so ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
      timeout 60 mpirun --oversubscribe -n "$n" -x LD_PRELOAD -x ASAN_OPTIONS "$bin" -q "$PWD/job.conf" 2>&1) ||
      fail "$n ranks: exit $?: $msg" || return 1
    zstd -q -dc out.csv.zst | cmp -s - d.csv || fail "$n ranks: rows differ" || return 1
    only d.csv job.conf notmp.c notmp.so out.csv.zst || return 1
  done
}

# Standard input is read by one process, whatever --ranks says.
case_stdin_one_process() {
  printf '[source]\npath = -\nformat = csv\n[sink]\npath = out.csv\n' >job.conf
  msg=$(timeout 60 "$bin" --ranks 2 --metrics m.json "$PWD/job.conf" <"$top/jobs/data/people.csv" 2>&1)
  [ $? -eq 0 ] || fail "exit $?: $msg" || return 1
  has 'standard input: one process reads it' || return 1
  cmp -s out.csv "$top/jobs/data/people.csv" || fail "output differs from the input" || return 1
  [ "$(ranks_in m.json)" = 1 ] || fail "ranks $(ranks_in m.json)"
}

# A job slow enough to be caught mid-run: 6e6 rows, 100 derived columns,
# then STAGE: a sort that spills on a small budget, or a filter, which
# leaves the ranks streaming with no collective until the end.
slow_job() {
  printf 'k,v\n' >d.csv
  yes 'k1,12345' | head -n 6000000 >>d.csv
  {
    printf '[job]\nchunk_rows = 1000\nspill_dir = %s/spill\n[source]\npath = d.csv\n[derive]\n' "$PWD"
    for i in $(seq 1 100); do echo "x$i = sqrt(v + $i) * log(v + $i) + length(upper(k))"; done
    printf '%s\n[sink]\npath = out.csv\n' "$1"
  } >job.conf
  mkdir -p spill
}

# SIGINT to the parent (a Ctrl-C reaches only the parent: mpirun runs in a
# process group of its own, spawned children in a session of their own)
# stops every rank soon: status
# 130, no output, no temporary or spill file, no process left.
interrupt() {
  timeout -k 10 60 "$bin" -q --ranks 3 --memory 64MiB "$PWD/job.conf" 2>err.txt &
  local pid=$! n start rc
  for _ in $(seq 100); do
    n=$(pgrep -f -- "$PWD/job.conf" | wc -l)
    [ "$n" -ge 4 ] && break # timeout, parent and two children
    sleep 0.1
  done
  [ "$n" -ge 4 ] || fail "the ranks did not start: $(cat err.txt)" || return 1
  sleep 1
  start=$(date +%s)
  kill -INT "$(pgrep -P "$pid")"
  wait "$pid"
  rc=$?
  msg=$(cat err.txt)
  [ "$rc" -eq 130 ] || fail "exit $rc, expected 130: $msg" || return 1
  # The whole run takes minutes: the children were told, not waited for.
  # Under the sanitizers each rank's leak check at exit takes 4 s alone and
  # over 15 s beside the suite's other tests.
  local bound=15
  ! sanitized "$build" || bound=40
  [ $(($(date +%s) - start)) -le "$bound" ] ||
    fail "took more than $bound s to stop" || return 1
  # the last rank heard of the signal itself, not from the others
  has '^pipeline: rank 2: interrupted' && lacks 'unexpectedly' || return 1
  [ -z "$(ls -A spill)" ] || fail "spill_dir not empty: $(ls -A spill)" || return 1
  only d.csv job.conf err.txt spill || return 1
  no_processes_left
}

case_interrupt_streaming() {
  slow_job '[filter]
where = x100 < 0' && interrupt
}

case_interrupt_spilling() {
  slow_job '[sort]
by = x1' && interrupt
}

# A rank killed DELAY seconds after it appears: the job ends with status
# 1 and a message naming a rank (or the start) within 30 s, no output
# under its name, no process left. The ranks run this program under
# mpirun (or, with PIPELINE_MPIRUN empty, under Open MPI's daemon); the
# parent runs it too, but its parent is timeout.
kill_a_rank() {
  slow_job '[filter]
where = x100 < 0'
  local start victim rc exe
  exe=$(readlink -f "$bin")
  start=$(date +%s)
  timeout -k 10 60 "$bin" -q --ranks 3 "$PWD/job.conf" 2>err.txt &
  local pid=$!
  victim=
  for _ in $(seq 500); do
    victim=$(pgrep -f -- "$PWD/job.conf" | grep -vx "$pid" | while read -r p; do
      [ "$(ps -o ppid= -p "$p" | tr -d ' ')" != "$pid" ] &&
        [ "$(readlink "/proc/$p/exe")" = "$exe" ] && echo "$p"
    done | head -n 1)
    [ -n "$victim" ] && break
    sleep 0.02
  done
  [ -n "$victim" ] || { wait "$pid"; fail "no rank found"; return 1; }
  sleep "$1"
  kill -KILL "$victim"
  wait "$pid"
  rc=$?
  msg=$(cat err.txt)
  [ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $msg" || return 1
  [ $(($(date +%s) - start)) -le 30 ] || fail "took more than 30 s" || return 1
  # Killed before the watchdog saw it, while Open MPI still connects the
  # ranks, it is a failed start.
  has '^pipeline: ((rank [0-2]|a rank) ended unexpectedly|could not start 3 ranks)' ||
    return 1
  [ ! -e out.csv ] || fail "out.csv left behind" || return 1
  no_processes_left
}

case_rank_killed() { kill_a_rank 1; }

# Killed while the ranks connect (in MPI_Comm_spawn or the merge, before
# the parent has the ranks' pids): the parent used to wait there for ever.
case_rank_killed_starting() { kill_a_rank 0; }

# The same two through MPI_Comm_spawn, what runs when there is no mpirun.
case_spawned_rank_killed() { PIPELINE_MPIRUN= kill_a_rank 1; }
case_spawned_rank_killed_starting() { PIPELINE_MPIRUN= kill_a_rank 0; }

# mpirun itself killed: the parent ends the ranks it left and says so.
case_launcher_killed() {
  slow_job '[filter]
where = x100 < 0'
  timeout -k 10 60 "$bin" -q --ranks 3 "$PWD/job.conf" 2>err.txt &
  local pid=$! parent launcher= rc
  for _ in $(seq 500); do
    parent=$(pgrep -P "$pid" | head -n 1)
    launcher=$([ -z "$parent" ] || pgrep -P "$parent" | head -n 1)
    [ -n "$launcher" ] && [ "$(pgrep -P "$launcher" | wc -l)" -eq 3 ] && break
    sleep 0.02
  done
  [ -n "$launcher" ] || { wait "$pid"; fail "no launcher found"; return 1; }
  sleep 1
  kill -KILL "$launcher"
  wait "$pid"
  rc=$?
  msg=$(cat err.txt)
  [ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $msg" || return 1
  has '^pipeline: mpirun ended unexpectedly \(signal 9\)' || return 1
  [ ! -e out.csv ] || fail "out.csv left behind" || return 1
  no_processes_left
}

# A split guesses quote parity at its edges instead of counting the bytes
# before them. A quoted field of 400 KiB of lines holds every edge, so
# every guess is wrong: the job runs once more counting (split_retries 1,
# split_guessed false: the run that wrote counted) and writes the rows one
# process writes (group order aside). Plain rows: guessed, no retry.
# PIPELINE_SPLIT=count: counted.
case_guessed_split_retried() {
  awk 'BEGIN { print "k,note"; printf "a,\""; for (i = 0; i < 51200; i++) print "abc def"; print "\""; for (i = 0; i < 50; i++) print "b" i ",x" }' >d.csv
  printf '[source]\npath = d.csv\n[groupby]\nkeys = k\nn = count()\nw = max(length(note))\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  run_p 0 -q --ranks 1 "$PWD/job.conf" && sort out.csv >want.csv || return 1
  local n m=m.json
  for n in $(ranks_from 2); do
    run_p 0 -q --ranks "$n" --metrics "$m" "$PWD/job.conf" || return 1
    sort out.csv | cmp -s - want.csv || fail "$n ranks: $(sort out.csv | diff - want.csv | head -5)" || return 1
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert not m["split_guessed"] and m["split_retries"]==1, m' "$m" ||
      fail "$n ranks: $(cat "$m")" || return 1
  done
  awk 'BEGIN { print "k,note"; for (i = 0; i < 40000; i++) print "b" (i % 7) ",\"x,y\"" }' >d.csv
  run_p 0 -q --ranks 1 "$PWD/job.conf" && sort out.csv >want.csv || return 1
  run_p 0 -q --ranks 2 --metrics "$m" "$PWD/job.conf" && sort out.csv | cmp -s - want.csv || fail "plain rows differ" || return 1
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["split_guessed"] and m["split_retries"]==0, m' "$m" ||
    fail "plain rows: $(cat "$m")" || return 1
  PIPELINE_SPLIT=count run_p 0 -q --ranks 2 --metrics "$m" "$PWD/job.conf" && sort out.csv | cmp -s - want.csv || fail "counted rows differ" || return 1
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert not m["split_guessed"] and m["split_retries"]==0, m' "$m" ||
    fail "counted: $(cat "$m")" || return 1
  no_processes_left
}

# A spawn that fails (here: more ranks than cores, oversubscription
# forbidden by the user) is an error, not a silent run on fewer ranks.
case_spawn_failure() {
  printf '[source]\npath = %s\n[sink]\npath = out.csv\n' "$top/jobs/data/people.csv" >job.conf
  local n=$(($(nproc) + 1))
  OMPI_MCA_rmaps_base_oversubscribe=0 run_p 1 -q --ranks "$n" "$PWD/job.conf" || return 1
  has "^pipeline: could not start $n ranks on this machine: " && has -- '--ranks 1' || return 1
  only job.conf || return 1
  no_processes_left
}

run_cases "$@"

#!/usr/bin/env bash
# End-to-end checks of the command line, errors and file handling.
#   test_cli.sh PIPELINE BUILD_DIR [CASE ...]
# Each case is a function run in its own empty directory; with CASE
# arguments only those run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
people="$top/jobs/data/people.csv"

# run_p EXPECTED_STATUS ARGS...: runs pipeline, keeps its stderr in $msg.
run_p() {
  local want=$1
  shift
  msg=$("$bin" -q "$@" 2>&1 >/dev/null)
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc, expected $want: $msg"
}

has() { grep -qE -- "$1" <<<"$msg" || fail "message lacks /$1/: $msg"; }

case_unknown_section() {
  printf '[source]\npath = %s\n\n[fliter]\nwhere = age > 3\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 2 job.conf && has 'job\.conf:4: ' && has "did you mean 'filter'" && [ ! -e out.csv ]
}

case_unknown_key() {
  printf '[source]\npath = %s\n[sink]\npath = out.csv\noverwrit = true\n' "$people" >job.conf
  run_p 2 job.conf && has 'job\.conf:5: ' && has "'overwrite'"
}

case_unknown_column() {
  printf '[source]\npath = %s\n[filter]\nwhere = agee > 3\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 2 job.conf && has 'job\.conf:4: ' && has 'agee' && has "'age'"
}

case_bad_row_names_line() {
  printf 'a,b\n1,x\n2,"multi\nline"\n3,y\nzz,w\n' >data.csv
  printf '[source]\npath = data.csv\nschema = a:int64\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'data\.csv:6: ' && [ -z "$(ls -A | grep -v -e job.conf -e data.csv)" ] ||
    fail "files left: $(ls -A)"
}

case_existing_output_kept() {
  echo "keep me" >out.csv
  printf '[source]\npath = %s\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 2 job.conf && has 'overwrite' && [ "$(cat out.csv)" = "keep me" ]
}

case_overwrite_replaces() {
  echo "old" >out.csv
  printf '[source]\npath = %s\n[limit]\nrows = 1\n[sink]\npath = out.csv\noverwrite = true\n' "$people" >job.conf
  run_p 0 job.conf && [ "$(sed -n 2p out.csv)" = "ann,oslo,31,7.5,2019" ] || fail "$(cat out.csv)"
}

case_missing_input() {
  printf '[source]\npath = nope.csv\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'nope\.csv' && [ ! -e out.csv ]
}

case_missing_output_dir() {
  printf '[source]\npath = %s\n[sink]\npath = no/such/dir/out.csv\n' "$people" >job.conf
  run_p 1 job.conf && has 'no/such/dir'
}

case_skip_and_reject() {
  printf 'a,b\n1,2\n3,4,5\n6,x\n7,8\n' >dirty.csv
  printf '[source]\npath = dirty.csv\nschema = a:int64, b:int64\non_error = skip\nreject = rej.txt\n[groupby]\ns = sum(b)\nn = count()\n[sink]\npath = out.csv\n' >job.conf
  run_p 0 job.conf || return 1
  [ "$(cat out.csv)" = $'s,n\n10,2' ] || fail "output: $(cat out.csv)"
  [ "$(cat rej.txt)" = $'3,4,5\n6,x' ] || fail "reject: $(cat rej.txt)"
}

case_zstd_in_and_out() {
  zstd -q -c "$people" >people.csv.zst
  printf '[source]\npath = people.csv.zst\n[sink]\npath = out.csv.zst\n' >job.conf
  run_p 0 job.conf || return 1
  zstd -q -dc out.csv.zst >out.csv
  diff <(python3 -c 'import csv,sys; [print(r) for r in csv.reader(open(sys.argv[1]))]' "$people") \
       <(python3 -c 'import csv,sys; [print(r) for r in csv.reader(open(sys.argv[1]))]' out.csv) ||
    fail "zstd round trip differs"
}

case_explain() {
  printf '[source]\npath = %s\n[derive]\nx = age * 2\n[sink]\npath = out.csv\n' "$people" >job.conf
  msg=$("$bin" --explain job.conf 2>&1) || fail "exit $?: $msg"
  has 'x: int64' && has 'score: float64' && [ ! -e out.csv ] || return 1
  msg=$("$bin" -v job.conf 2>&1 >/dev/null) || fail "-v: exit $?: $msg" || return 1
  has 'x: int64' && has 'rows in' && [ -f out.csv ] || fail "-v did not print the plan and run"
}

case_set_overrides() {
  printf '[source]\npath = %s\n[limit]\nrows = 1\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 0 --set limit.rows=3 --set sink.path=other.csv job.conf || return 1
  [ "$(wc -l <other.csv)" -eq 4 ] && [ ! -e out.csv ] || fail "$(cat other.csv)"
  run_p 2 --set groupby.keys=x job.conf && has 'groupby'
}

case_env_substitution() {
  printf '[source]\npath = %s\n[filter]\nwhere = city == "${CITY}"\n[sink]\npath = out.csv\n' "$people" >job.conf
  CITY=lima run_p 0 job.conf && [ "$(wc -l <out.csv)" -eq 4 ] || fail "$(cat out.csv)"
  rm -f out.csv
  env -u CITY "$bin" -q job.conf 2>err.txt
  [ $? -eq 2 ] && grep -q 'job.conf:4: .*CITY' err.txt || fail "unset: $(cat err.txt)"
}

case_division_by_zero_names_row() {
  printf 'a,b\n1,1\n2,0\n' >d.csv
  printf '[source]\npath = d.csv\n[derive]\nc = a %% b\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'job\.conf:4' && has 'd\.csv:3' && [ ! -e out.csv ]
}

case_metrics_json() {
  printf '[source]\npath = %s\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 0 --metrics m.json job.conf || return 1
  python3 -c 'import json,sys; m=json.load(open("m.json")); assert m["rows_in"]==12 and m["rows_out"]==12, m' ||
    fail "metrics: $(cat m.json)"
}

# Seconds per stage: source, each operator by section, sink, in order,
# adding up to the rank's seconds; alone and on 2 ranks.
case_metrics_stage_seconds() {
  awk 'BEGIN { print "k,v"; for (i = 0; i < 200000; i++) print "k" i % 5000 "," i }' >d.csv
  printf '[source]\npath = d.csv\n[filter]\nwhere = v %% 3 != 0\n[groupby]\nkeys = k\ns = sum(v)\n[sort]\nby = k\n[sink]\npath = out.csv\n' >job.conf
  run_p 0 --metrics m1.json job.conf || return 1
  rm out.csv
  timeout 60 mpirun --oversubscribe -n 2 "$bin" -q --metrics m2.json job.conf || fail "2 ranks: exit $?" || return 1
  python3 - m1.json m2.json <<'EOF' || fail "metrics: $(cat m1.json m2.json)"
import json, sys
for path in sys.argv[1:]:
    for r in json.load(open(path))["per_rank"]:
        st = r["stage_seconds"]
        assert [s["stage"] for s in st] == ["source", "filter", "groupby", "sort", "sink"], st
        assert all(s["seconds"] >= 0 for s in st), st
        total = sum(s["seconds"] for s in st)
        assert abs(total - r["seconds"]) <= 0.01 + 0.02 * r["seconds"], (total, r)
EOF
}

case_usage_errors() {
  run_p 2 --no-such-option x.conf && has 'unknown option' || return 1
  run_p 2 && has 'no job.conf' || return 1
  run_p 2 missing.conf && has 'missing.conf' || return 1
  "$bin" --version | grep -q '^pipeline ' || fail "--version"
  "$bin" --help | grep -q -- '--explain' || fail "--help"
}

case_plugin_errors() {
  printf '[source]\npath = %s\n[myop]\nplugin = ./nothing.so\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 2 job.conf && has 'job\.conf:4' && has 'nothing\.so' || return 1
  : >empty.c
  cc -shared -fPIC -o noentry.so empty.c
  printf '[source]\npath = %s\n[myop]\nplugin = ./noentry.so\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 2 job.conf && has 'entry point'
}

case_example_plugin() {
  plugin=$(find "$build" -name 'libclamp.so' | head -n 1)
  [ -n "$plugin" ] || fail "libclamp.so not built"
  sed "s#^plugin = .*#plugin = $plugin#; s#^path = ../../jobs/data/#path = $top/jobs/data/#" \
    "$top/examples/clamp/clamp.conf" >job.conf
  PIPELINE_OUT=$PWD run_p 0 job.conf || return 1
  diff "$top/examples/clamp/clamp.expected.csv" clamp.csv || fail "clamp output differs"
}

# Only rank 2 of 4 holds the bad row (line 7502 of 10001): every rank stops,
# rank 2 names the line, nothing is left behind, and nothing hangs; with a
# merge point (groupby) and with streaming operators only.
case_bad_row_on_one_rank() {
  awk 'BEGIN { print "k,v"; for (i = 1; i <= 10000; i++) print "k" i % 7 "," (i == 7501 ? "oops" : i) }' >d.csv
  for ops in '[groupby]\nkeys = k\ns = sum(v)' '[derive]\nw = v * 2'; do
    printf "[source]\npath = d.csv\nschema = k:string, v:int64\n$ops\n[sink]\npath = out.csv\n" >job.conf
    msg=$(timeout 60 mpirun --oversubscribe -n 4 "$bin" -q job.conf 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $msg" || return 1
    has 'rank 2: .*d\.csv:7502' && [ "$(grep -c 'd\.csv:7502' <<<"$msg")" -eq 1 ] || return 1
    [ -z "$(ls -A | grep -v -e job.conf -e d.csv)" ] || fail "files left: $(ls -A)" || return 1
  done
  printf '[source]\npath = nope.csv\n[sink]\npath = out.csv\n' >job.conf
  msg=$(timeout 60 mpirun --oversubscribe -n 3 "$bin" -q job.conf 2>&1 >/dev/null)
  [ "$(grep -c 'nope\.csv' <<<"$msg")" -eq 1 ] || fail "a missing input told $(grep -c 'nope\.csv' <<<"$msg") times: $msg"
}

# Standard input reaches rank 0 only: alone and on one rank it is read;
# on two, every rank stops at once with one message naming the path.
case_stdin_needs_one_rank() {
  printf 'k,v\na,1\nb,2\na,3\n' >d.csv
  printf '[source]\npath = -\nformat = csv\n[groupby]\nkeys = k\ns = sum(v)\n[sink]\npath = out.csv\n' >job.conf
  "$bin" -q job.conf <d.csv || fail "alone: exit $?" || return 1
  [ "$(sort out.csv | tr '\n' ' ')" = "a,4 b,2 k,s " ] || fail "alone: $(cat out.csv)" || return 1
  rm out.csv
  timeout 60 mpirun --oversubscribe -n 1 "$bin" -q job.conf <d.csv || fail "1 rank: exit $?" || return 1
  [ "$(sort out.csv | tr '\n' ' ')" = "a,4 b,2 k,s " ] || fail "1 rank: $(cat out.csv)" || return 1
  rm out.csv
  msg=$(timeout 60 mpirun --oversubscribe -n 2 "$bin" -q job.conf <d.csv 2>&1 >/dev/null)
  rc=$?
  [ "$rc" -ne 0 ] || fail "2 ranks: exit 0" || return 1
  [ "$(grep -c 'job.conf:2: \[source\] standard input reaches rank 0 only' <<<"$msg")" -eq 1 ] ||
    fail "2 ranks: $msg" || return 1
  [ ! -e out.csv ] || fail "2 ranks: output written"
}

# The same answer from 1 to 4 ranks when quoted fields hold newlines and
# delimiters everywhere, and input order kept through filter and limit.
case_ranks_same_answer_quoted() {
  awk 'BEGIN { print "id,txt,v"; for (i = 1; i <= 4000; i++) printf "%d,\"a,%d\nb \"\"q\"\"\r\nc\",%d\n", i, i, i % 10 }' >q.csv
  printf '[source]\npath = q.csv\n[filter]\nwhere = v != 3\n[derive]\nn = length(txt)\n[limit]\nrows = 3000\n[sink]\npath = out.csv\n' >job.conf
  run_p 0 job.conf || return 1
  mv out.csv one.csv
  for n in $(ranks_from 2); do
    mpirun --oversubscribe -n "$n" "$bin" -q job.conf || fail "$n ranks: exit $?"
    cmp -s one.csv out.csv || fail "$n ranks: output differs"
    rm -f out.csv
  done
  [ "$(python3 -c 'import csv; print(sum(1 for _ in csv.reader(open("one.csv", newline=""))))')" -eq 3001 ] ||
    fail "row count"
}

# Four ranks faked as two nodes: the budget is split per node, and the
# answer is the one a single rank gives.
case_fake_nodes() {
  printf '[source]\npath = %s\n[groupby]\nkeys = city\nn = count()\n[sort]\nby = city\n[sink]\npath = out.csv\n' "$people" >job.conf
  run_p 0 job.conf || return 1
  mv out.csv one.csv
  PIPELINE_FAKE_NODES=2 mpirun --oversubscribe -n 4 "$bin" -q --memory 1GiB --metrics m.json job.conf ||
    fail "exit $?"
  cmp -s one.csv out.csv || fail "output differs from one rank's"
  python3 -c 'import json; m=json.load(open("m.json")); assert m["nodes"]==2 and m["ranks"]==4 and m["rank_budget_bytes"]==2**29, m' ||
    fail "metrics: $(cat m.json)"
  PIPELINE_FAKE_NODES=x mpirun --oversubscribe -n 2 "$bin" -q job.conf 2>err.txt
  [ $? -eq 2 ] && grep -q PIPELINE_FAKE_NODES err.txt || fail "bad PIPELINE_FAKE_NODES: $(cat err.txt)"
}

# SIGINT and SIGTERM end a run between two chunks: status 130 / 143, no
# output and no temporary file left. The input is a pipe that stalls after
# 400000 rows, so the run is caught mid-way with its output file open.
case_signals_leave_nothing() {
  printf '[source]\npath = f.csv\nschema = k:string, v:int64\n[sink]\npath = out.csv\n' >job.conf
  for sig in INT TERM; do
    mkfifo f.csv
    { printf 'k,v\n'; awk 'BEGIN { for (i = 0; i < 400000; i++) print "a," i }'; sleep 5; } >f.csv &
    feeder=$!
    "$bin" -q job.conf 2>/dev/null &
    pid=$!
    for _ in $(seq 50); do
      ls -A | grep -q '^\.out\.csv\.tmp' && break
      sleep 0.1
    done
    ls -A | grep -q '^\.out\.csv\.tmp' || fail "SIG$sig: no temporary output seen"
    kill -s "$sig" "$pid"
    wait "$pid"
    rc=$?
    kill "$feeder" 2>/dev/null
    wait "$feeder" 2>/dev/null
    rm -f f.csv
    want=$([ "$sig" = INT ] && echo 130 || echo 143)
    [ "$rc" -eq "$want" ] || fail "SIG$sig: exit $rc, expected $want" || return 1
    [ -z "$(ls -A | grep -v -e job.conf)" ] || fail "SIG$sig left: $(ls -A)" || return 1
  done
}

# Rejected rows across ranks: each rank keeps its own part and rank 0 joins
# them in rank order, so the reject file is the one a single rank writes.
case_reject_file_across_ranks() {
  awk 'BEGIN { print "a,b"; for (i = 1; i <= 40000; i++) print i "," (i % 997 == 0 ? "x" : i) }' >d.csv
  # count(b) reads b: a bad value in a column no stage uses is no bad row.
  printf '[source]\npath = d.csv\nschema = a:int64, b:int64\non_error = skip\nreject = rej.txt\n[groupby]\nn = count(b)\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  run_p 0 job.conf || return 1
  [ "$(wc -l <rej.txt)" -eq 40 ] || fail "$(wc -l <rej.txt) rejected rows, expected 40" || return 1
  mv rej.txt one.txt
  for n in $(ranks_from 2); do
    mpirun --oversubscribe -n "$n" "$bin" -q job.conf || fail "$n ranks: exit $?" || return 1
    cmp -s one.txt rej.txt || fail "$n ranks: reject file differs" || return 1
    [ "$(sed -n 2p out.csv)" = 39960 ] || fail "$n ranks: count $(sed -n 2p out.csv)" || return 1
    [ -z "$(ls -A | grep part)" ] || fail "$n ranks left $(ls -A | grep part)" || return 1
  done
}

case_list_operators() {
  out=$("$bin" --list-operators) || fail "exit $?"
  for op in filter derive select groupby sort distinct limit join; do
    grep -q "^  $op " <<<"$out" || fail "--list-operators lacks $op"
  done
}

run_cases "$@"

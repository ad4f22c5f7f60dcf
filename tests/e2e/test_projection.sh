#!/usr/bin/env bash
# Projection pushdown: only the source columns some stage uses are
# converted; the others are checked for structure (field count, quoting)
# and skipped. `[source] validate = all` converts every column. The
# answers are the same either way, on 1 to 4 ranks; --explain tells which
# columns are read; an HDF5 source opens only the datasets used.
#   test_projection.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2

# run_p EXPECTED_STATUS ARGS...: runs pipeline, keeps its stderr in $msg.
run_p() {
  local want=$1
  shift
  msg=$("$bin" -q "$@" 2>&1 >/dev/null)
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc, expected $want: $msg" || return 1
  ! grep -qE 'Sanitizer|runtime error:' <<<"$msg" || fail "sanitizer report: $msg"
}

has() { grep -qE -- "$1" <<<"$msg" || fail "message lacks /$1/: $msg"; }

# A small table whose column c is int64 in the first rows, then not.
garbage_csv() {
  printf 'a,b,c\nx,1,10\ny,2,20\nx,3,oops\ny,4,40\n' >data.csv
}

# job BODY: job.conf over data.csv (inference from 2 rows) writing out.csv.
job() {
  printf '[source]\npath = data.csv\ninfer_rows = 2\n%b[sink]\npath = out.csv\noverwrite = true\n' "$1" >job.conf
}

case_unused_garbage_is_no_bad_row() {
  garbage_csv
  job '[groupby]\nkeys = a\ns = sum(b)\n[sort]\nby = a\n'
  run_p 0 job.conf || return 1
  [ "$(cat out.csv)" = "$(printf 'a,s\nx,4\ny,6')" ] || fail "answer: $(cat out.csv)"
}

case_validate_all_names_the_line() {
  garbage_csv
  job '[groupby]\nkeys = a\ns = sum(b)\n'
  run_p 1 --set source.validate=all job.conf || return 1
  has "data.csv:4: column 'c'" || return 1
  [ ! -e out.csv ] || fail "output left behind"
}

case_validate_bad_value() {
  garbage_csv
  job 'validate = some\n[groupby]\nkeys = a\ns = sum(b)\n'
  run_p 2 job.conf || return 1
  has "job.conf:[0-9]+: .*validate must be all or used"
}

case_used_garbage_still_fails() {
  garbage_csv
  job '[groupby]\nkeys = a\ns = sum(c)\n'
  run_p 1 job.conf || return 1
  has "data.csv:4: column 'c': 'oops' is not int64"
}

case_unused_field_count_fails() {
  printf 'a,b,c\nx,1,10\ny,2,20\nx,3,30,99\n' >data.csv
  job '[groupby]\nkeys = a\ns = sum(b)\n'
  run_p 1 job.conf || return 1
  has "data.csv:4: expected 3 fields, found 4"
}

case_unused_bad_quoting_fails() {
  printf 'a,b,c\nx,1,10\ny,2,20\nx,3,"30"z\n' >data.csv
  job '[groupby]\nkeys = a\ns = sum(b)\n'
  run_p 1 job.conf || return 1
  has "data.csv:4: field 3: text after the closing quote"
}

case_unused_unterminated_quote_fails() {
  printf 'a,b,c\nx,1,10\ny,2,20\nx,3,"30\n' >data.csv
  job '[groupby]\nkeys = a\ns = sum(b)\n'
  run_p 1 job.conf || return 1
  has "data.csv:4: field 3: quoted field not closed"
}

# explain JOB_BODY: the plan of job.conf over wide.csv, in $msg.
explain() {
  printf 'k,v,w,s,t\n1,2,3.5,x,true\n' >wide.csv
  printf '[source]\npath = wide.csv\n%b%b[sink]\npath = out.csv\n' "${2:-}" "$1" >job.conf
  msg=$("$bin" --explain job.conf 2>&1) || fail "explain failed: $msg"
}

# reads N COLUMNS_LINE: the source reads N of 5 columns, these.
reads() {
  has "reads: $1 of 5 columns" || return 1
  has "^    columns: $2\$"
}

case_explain_groupby() {
  explain '[filter]\nwhere = w > 1\n[groupby]\nkeys = k\nn = count()\nm = max(v + 1)\n' || return 1
  reads 3 "k: int64, v: int64, w: float64"
}

case_explain_select_then_sort() {
  explain '[derive]\nv = k * 2\nz = t\n[select]\ncolumns = k, v, z\n[sort]\nby = k desc\n' || return 1
  reads 2 "k: int64, t: bool"
}

# A column a section names counts as used, even one it only drops or
# renames (init checks the name).
case_explain_select_names_count() {
  explain '[select]\ndrop = s, t\n' || return 1
  has "reads: all 5 columns" || return 1
  explain '[select]\ndrop = s, t\n[groupby]\nkeys = k\nn = count()\n' || return 1
  reads 3 "k: int64, s: string, t: bool" || return 1
  explain '[select]\nrename = w:ww\n[groupby]\nkeys = k\nn = count()\n' || return 1
  reads 2 "k: int64, w: float64"
}

case_explain_distinct() {
  explain '[distinct]\n' || return 1
  has "reads: all 5 columns" || return 1
  explain '[distinct]\ncolumns = s\n' || return 1
  reads 1 "s: string"
}

case_explain_sink_takes_all() {
  explain '[filter]\nwhere = k > 0\n[limit]\nrows = 1\n' || return 1
  has "reads: all 5 columns"
}

case_explain_no_column_used() {
  explain '[groupby]\nn = count()\n' || return 1
  reads 1 "k: int64"
}

case_explain_columns_and_validate() {
  explain '[groupby]\nkeys = k\nn = count()\n' 'columns = k, v\n' || return 1
  has "as .columns. names them" || return 1
  has "^    columns: k: int64, v: int64\$" || return 1
  explain '[groupby]\nkeys = k\nn = count()\n' 'validate = all\n' || return 1
  has "validate = all" || return 1
  has "^    columns: k: int64, v: int64, w: float64, s: string, t: bool\$"
}

case_explain_join_left_keys() {
  printf 'id,name\n1,a\n' >right.csv
  explain '[join]\npath = right.csv\non = k:id\n[select]\ncolumns = name, w\n' || return 1
  reads 2 "k: int64, w: float64"
}

case_plugin_uses_all() {
  [ -f "$build/libclamp.so" ] || fail "$build/libclamp.so is not built" || return 1
  explain "[clamp]\nplugin = $build/libclamp.so\ncolumn = v\nmin = 0\nmax = 1\n[groupby]\nkeys = k\nn = count()\n" || return 1
  has "reads: all 5 columns"
}

case_hdf5_reads_used_datasets() {
  local h5="$top/jobs/data/sensors.h5"
  printf '[source]\npath = %s\ndatasets = /readings/station, /readings/temp, /readings/rain, /readings/count, /readings/ok\n[groupby]\nkeys = station\nt = max(temp)\n[sink]\npath = out.csv\noverwrite = true\n' "$h5" >job.conf
  msg=$("$bin" --explain job.conf 2>&1) || fail "explain failed: $msg" || return 1
  has "reads: 2 of 5 columns" || return 1
  has "^    columns: station: [a-z0-9]+, temp: float64\$" || return 1
  run_p 0 job.conf || return 1
  cp out.csv used.csv
  run_p 0 --set source.validate=all job.conf || return 1
  [ "$(sort used.csv)" = "$(sort out.csv)" ] || fail "answers differ"
}

# A table with every type, NULLs, quoted fields and a column of
# garbage-free values, large enough to split among 4 ranks.
wide_csv() {
  python3 - <<'PY'
import random
random.seed(7)
with open("big.csv", "w") as f:
    f.write("id,grp,v,x,name,flag,note\n")
    for i in range(6000):
        v = "" if i % 17 == 0 else str(random.randint(-50, 50))
        x = "%.3f" % random.uniform(-1, 1)
        name = '"n, %d"' % (i % 37) if i % 5 == 0 else "n%d" % (i % 37)
        flag = "true" if i % 3 else "false"
        note = '"multi\nline %d"' % i if i % 101 == 0 else "note%d" % i
        f.write("%d,g%d,%s,%s,%s,%s,%s\n" % (i, i % 11, v, x, name, flag, note))
PY
}

JOBS=(
  '[groupby]\nkeys = grp\ns = sum(v)\nm = max(x)\nn = count()\n'
  '[filter]\nwhere = flag and v > 0\n[select]\ncolumns = id, name\n[sort]\nby = id\n'
  '[derive]\nv = v * 2\n[sort]\nby = v desc, id\nlimit = 50\n[select]\ncolumns = id, v\n'
  '[distinct]\ncolumns = grp, flag\n'
  '[filter]\nwhere = id % 7 == 0\n'
  '[select]\ndrop = note\n[groupby]\nkeys = name\nc = count()\n'
  '[limit]\nrows = 100\n[select]\ncolumns = name, x\n'
)

# The same answer with validate = used (the default) and all, on 1 to 4
# ranks (with PL_TEST_SPREAD=1 the jobs take the counts in turn, see
# combo_ranks), for jobs using different columns.
case_same_answers_any_ranks() {
  wide_csv
  local j n k=0 ref
  for j in "${JOBS[@]}"; do
    k=$((k + 1))
    printf '[source]\npath = big.csv\n%b[sink]\npath = out.csv\noverwrite = true\n' "$j" >job.conf
    run_p 0 --set source.validate=all job.conf || return 1
    ref=$(sort out.csv)
    [ -n "$ref" ] || fail "job $k: empty answer" || return 1
    for n in $(combo_ranks $((k - 1))); do
      msg=$(timeout 300 mpirun --oversubscribe -n "$n" "$bin" -q job.conf 2>&1 >/dev/null) ||
        fail "job $k on $n ranks failed: $msg" || return 1
      [ "$(sort out.csv)" = "$ref" ] || fail "job $k on $n ranks: answer differs" || return 1
    done
  done
}

run_cases "$@"

#!/usr/bin/env bash
# End-to-end checks of dates, timestamps and text functions: timestamps
# written by pandas, DuckDB and PostgreSQL read into the same instants;
# time_format; bad values as bad rows; HDF5 integer times with units and
# the units attribute we write; group-by, sort, distinct and join over
# dates on 1-4 ranks against answers computed by Python; now() alike on
# every rank; plan-time errors.
#   test_dates.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
peers="$here/peer_times"
py=/usr/bin/python3 # Debian's, with h5py

# run_p EXPECTED_STATUS ARGS...: runs pipeline, keeps its stderr in $msg.
run_p() {
  local want=$1
  shift
  msg=$("$bin" -q "$@" 2>&1 >/dev/null)
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc, expected $want: $msg" || return 1
  ! grep -qE 'Sanitizer|runtime error:' <<<"$msg" || fail "sanitizer: $msg"
}

has() { grep -qE -- "$1" <<<"$msg" || fail "message lacks /$1/: $msg"; }

# same_on_ranks CONF OUT I: OUT is the same for 1 process and 1-4 ranks
# (combo_ranks I: with PL_TEST_SPREAD=1 one of them).
same_on_ranks() {
  local conf=$1 out=$2 n
  run_p 0 "$conf" || return 1
  cp "$out" ref.csv
  for n in $(combo_ranks "$3"); do
    mpirun --oversubscribe -n "$n" "$bin" -q "$conf" ||
      fail "$n ranks failed" || return 1
    cmp -s ref.csv "$out" || fail "$n ranks differ" || return 1
  done
}

# peer_job FILE COLUMN [SOURCE KEYS...]: a job writing id, us (the
# instant as an integer), ts and day from a peer's file.
peer_job() {
  local file=$1 col=$2
  shift 2
  {
    echo "[source]"
    echo "path = $file"
    printf '%s\n' "$@"
    echo "[derive]"
    echo "us = int($col)"
    echo "ts = timestamp($col)"
    echo "[select]"
    echo "columns = id, us, ts, day"
    echo "[sink]"
    echo "path = out.csv"
    echo "overwrite = true"
  } >peer.conf
}

case_pandas_duckdb_postgres() {
  "$py" "$peers/instants.py" >want.csv || return 1
  local f c
  for f in pandas.csv duckdb.csv postgres.csv; do
    for c in ts naive; do
      peer_job "$peers/$f" "$c"
      run_p 0 peer.conf || return 1
      diff want.csv out.csv || fail "$f column $c: other instants" ||
        return 1
    done
  done
  # PostgreSQL's COPY text format: tabs, \N for NULL, no header.
  for c in c2 c3; do
    peer_job "$peers/postgres.txt" "$c" "format = csv" "delimiter = \t" \
      "header = false" 'null = \N' "schema = c1:int64"
    sed -i 's/^columns = .*/columns = c1, us, ts, c4/; s/^\[select\]/[select]\nrename = c1:id, c4:day/' peer.conf
    run_p 0 peer.conf || return 1
    { cat want.csv; echo "8,,,"; } | diff - out.csv ||
      fail "postgres.txt column $c: other instants" || return 1
  done
  # The inferred types: the peers' time columns are timestamps and dates
  # (validate = all: the job reads c2 only for its type).
  msg=$("$bin" --explain --set source.validate=all peer.conf 2>&1)
  has "c2: timestamp, c3: timestamp, c4: date"
}

case_time_format() {
  printf 'when,d\n05/03/2024 10:15,29.02.2024\n31/12/1969 23:59,01.01.1970\n' >in.csv
  printf '[source]\npath = in.csv\ntime_format = %%d/%%m/%%Y %%H:%%M\nschema = d:string\n[derive]\nday = parse_time(d, %s)\n[sink]\npath = out.csv\n' \
    "'%d.%m.%Y'" >job.conf
  run_p 0 job.conf || return 1
  printf 'when,d,day\n2024-03-05T10:15:00Z,29.02.2024,2024-02-29T00:00:00Z\n1969-12-31T23:59:00Z,01.01.1970,1970-01-01T00:00:00Z\n' |
    diff - out.csv || fail "time_format" || return 1
  printf '[source]\npath = in.csv\ntime_format = %%d/%%m/%%Y %%Q\n[sink]\npath = o.csv\n' >bad.conf
  run_p 2 bad.conf || return 1
  has "bad.conf:3: \[source\] .*unknown directive '%Q'"
}

case_bad_values() {
  printf 'id,d,t\n1,2024-02-28,2024-03-05T10:00:00Z\n2,2024-02-30,2024-03-05T10:00:00Z\n3,2023-02-28,2024-03-05T25:00:00Z\n' >in.csv
  printf '[source]\npath = in.csv\nschema = d:date, t:timestamp\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf || return 1
  has "in.csv:3: column 'd': '2024-02-30' is not date" || return 1
  [ ! -e out.csv ] || fail "partial output left" || return 1
  printf '[source]\npath = in.csv\nschema = d:date, t:timestamp\non_error = skip\nreject = bad.txt\n[sink]\npath = out.csv\n' >skip.conf
  run_p 0 skip.conf || return 1
  printf 'id,d,t\n1,2024-02-28,2024-03-05T10:00:00Z\n' | diff - out.csv ||
    fail "skip" || return 1
  [ "$(wc -l <bad.txt)" -eq 2 ] || fail "reject file: $(cat bad.txt)"
  # Past the inference sample, a bad value names the line too.
  { echo "d"; for i in $(seq 1 20); do echo "2024-01-$((10 + i))"; done
    echo "2024-13-01"; } >late.csv
  printf '[source]\npath = late.csv\ninfer_rows = 5\n[sink]\npath = o.csv\n' >late.conf
  run_p 1 late.conf || return 1
  has "late.csv:22: column 'd': '2024-13-01' is not date as inferred"
}

case_hdf5_units() {
  "$py" - <<'EOF' || return 1
import h5py, numpy as np
with h5py.File("in.h5", "w") as f:
    f["secs"] = np.array([0, 1709633730, -1, 2**53], dtype=np.int64)
    f["ms"] = np.array([1709633730250, 0, -500, 5], dtype=np.int64)
    f["days"] = np.array([19787, -1, 0, 11016], dtype=np.int32)
    f["ns"] = np.array([1, -1, 1709633730123456789, 0], dtype=np.int64)
    f["cf"] = np.array([1, 2, 3, 4], dtype=np.uint16)
    f["cf"].attrs["units"] = "hours since 1970-01-01"
    f["cf2"] = np.array([1, 2, 3, 4], dtype=np.int64)
    f["cf2"].attrs["units"] = "seconds since 1970-01-01 00:00:00"
EOF
  printf '[source]\npath = in.h5\ndatasets = secs, ms, days, ns, cf, cf2\ntime_columns = secs, ms:ms, days:days, ns:ns\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf || return 1
  has "in.h5:/secs: row 3: time value out of range" || return 1
  printf '[source]\npath = in.h5\ndatasets = ms, days, ns, cf, cf2\ntime_columns = ms:ms, days:days, ns:ns\n[sink]\npath = out.csv\n' >job.conf
  run_p 0 job.conf || return 1
  cat >want.csv <<'EOF'
ms,days,ns,cf,cf2
2024-03-05T10:15:30.25Z,2024-03-05,1970-01-01T00:00:00Z,1,1970-01-01T00:00:01Z
1970-01-01T00:00:00Z,1969-12-31,1969-12-31T23:59:59.999999Z,2,1970-01-01T00:00:02Z
1969-12-31T23:59:59.5Z,1970-01-01,2024-03-05T10:15:30.123456Z,3,1970-01-01T00:00:03Z
1970-01-01T00:00:00.005Z,2000-02-29,1970-01-01T00:00:00Z,4,1970-01-01T00:00:04Z
EOF
  diff want.csv out.csv || fail "HDF5 times" || return 1
  # Written back: int64 with a units attribute, read as times again.
  printf '[source]\npath = in.h5\ndatasets = ms, days\ntime_columns = ms:ms, days:days\n[sink]\npath = back.h5\n' >w.conf
  run_p 0 w.conf || return 1
  "$py" - <<'EOF' || fail "units attribute" || return 1
import h5py
with h5py.File("back.h5", "r") as f:
    assert f["ms"].dtype == "int64" and f["days"].dtype == "int64"
    assert f["ms"].attrs["units"] == "microseconds since 1970-01-01T00:00:00Z"
    assert f["days"].attrs["units"] == "days since 1970-01-01"
    assert list(f["ms"][:]) == [1709633730250000, 0, -500000, 5000]
    assert list(f["days"][:]) == [19787, -1, 0, 11016]
EOF
  printf '[source]\npath = back.h5\ndatasets = ms, days\n[sink]\npath = back.csv\n' >r.conf
  run_p 0 r.conf || return 1
  cut -d, -f1,2 out.csv | diff - back.csv || fail "HDF5 round trip" ||
    return 1
  printf '[source]\npath = in.h5\ndatasets = cf\ntime_columns = cf:fortnights\n[sink]\npath = o.csv\n' >bad.conf
  run_p 2 bad.conf || return 1
  has "bad.conf:4: \[source\] unknown time unit 'fortnights'"
}

# Readings with timestamps (before and after 1970, fractions, offsets),
# and Python's answers for group-by, sort, distinct and join over them.
make_readings() {
  "$py" - <<'EOF'
import random
from datetime import datetime, timedelta, timezone
random.seed(7)
base = datetime(1969, 12, 29, tzinfo=timezone.utc)
rows = []
for i in range(3000):
    t = base + timedelta(seconds=random.randint(0, 6 * 86400),
                         microseconds=random.choice([0, 250000, 1]))
    zone = timezone(timedelta(hours=random.choice([0, 2, -5])))
    rows.append((f"k{random.randint(1, 5)}", t, zone, random.randint(0, 99)))
def iso(dt):
    s = dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        s += ("." + "%06d" % dt.microsecond).rstrip("0")
    return s + "Z"
with open("r.csv", "w") as f:
    f.write("k,t,v\n")
    for k, t, z, v in rows:
        f.write(f"{k},{t.astimezone(z).isoformat()},{v}\n")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
us = lambda t: (t - EPOCH) // timedelta(microseconds=1)
groups = {}
for k, t, z, v in rows:
    groups.setdefault((k, t.date()), []).append(t)
with open("want_groupby.csv", "w") as f:
    f.write("k,day,n,lo,hi,med,q1,nd,first,last\n")
    for (k, d), ts in sorted(groups.items()):
        s = sorted(us(t) for t in ts)
        def quant(p):
            pos = (len(s) - 1) * p
            lo = int(pos)
            hi = min(lo + 1, len(s) - 1)
            frac = pos - lo
            return s[lo] + int((s[hi] - s[lo]) * frac // 1) if hi != lo else s[lo]
        fmt = lambda u: iso(EPOCH + timedelta(microseconds=u))
        f.write(f"{k},{d.isoformat()},{len(ts)},{fmt(s[0])},{fmt(s[-1])},"
                f"{fmt(quant(0.5))},{fmt(quant(0.25))},{len(set(s))},"
                f"{iso(ts[0])},{iso(ts[-1])}\n")
top = sorted(rows, key=lambda r: -us(r[1]))
with open("want_sort.csv", "w") as f:
    f.write("t,k\n")
    last = None
    for k, t, z, v in sorted(rows, key=lambda r: (-us(r[1]), r[0]))[:50]:
        f.write(f"{iso(t)},{k}\n")
with open("want_distinct.csv", "w") as f:
    f.write("day\n")
    for d in sorted({t.date() for _, t, _, _ in rows}):
        f.write(f"{d.isoformat()}\n")
with open("days.csv", "w") as f:
    f.write("day,name\n")
    for i, d in enumerate(sorted({t.date() for _, t, _, _ in rows})):
        if i % 2 == 0:
            f.write(f"{d.isoformat()},day{i}\n")
names = {}
for i, d in enumerate(sorted({t.date() for _, t, _, _ in rows})):
    if i % 2 == 0:
        names[d] = f"day{i}"
count = {}
for k, t, z, v in rows:
    if t.date() in names:
        count[names[t.date()]] = count.get(names[t.date()], 0) + 1
with open("want_join.csv", "w") as f:
    f.write("name,n\n")
    for n in sorted(count):
        f.write(f"{n},{count[n]}\n")
EOF
}

# With PL_TEST_SPREAD=1 the group-by and the join run on the most ranks,
# the sort and the distinct on one (each job ends in a distributed sort).
case_groupby_sort_join_ranks() {
  make_readings || return 1
  cat >g.conf <<'EOF'
[source]
path = r.csv
[derive]
day = date(t)
[groupby]
keys = k, day
n = count()
lo = min(t)
hi = max(t)
med = median(t)
q1 = quantile(t, 0.25)
nd = count_distinct(t)
first = first(t)
last = last(t)
[sort]
by = k, day
[sink]
path = g.csv
overwrite = true
EOF
  same_on_ranks g.conf g.csv 0 || return 1
  diff want_groupby.csv g.csv || fail "group-by differs from Python" ||
    return 1
  printf '[source]\npath = r.csv\n[select]\ncolumns = t, k\n[sort]\nby = t desc, k\nlimit = 50\n[sink]\npath = s.csv\noverwrite = true\n' >s.conf
  same_on_ranks s.conf s.csv 1 || return 1
  diff want_sort.csv s.csv || fail "sort differs from Python" || return 1
  printf '[source]\npath = r.csv\n[derive]\nday = date(t)\n[distinct]\ncolumns = day\n[sort]\nby = day\n[sink]\npath = d.csv\noverwrite = true\n' >d.conf
  same_on_ranks d.conf d.csv 1 || return 1
  diff want_distinct.csv d.csv || fail "distinct differs" || return 1
  printf '[source]\npath = r.csv\n[derive]\nday = date(t)\n[join]\npath = days.csv\non = day\n[groupby]\nkeys = name\nn = count()\n[sort]\nby = name\n[sink]\npath = j.csv\noverwrite = true\n' >j.conf
  same_on_ranks j.conf j.csv 0 || return 1
  diff want_join.csv j.csv || fail "join differs" || return 1
}

case_now_alike_on_ranks() {
  printf 'x\n%s\n' $(seq 1 5000) >in.csv
  printf '[source]\npath = in.csv\n[derive]\nn = now()\n[distinct]\ncolumns = n\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  local before after
  before=$(date -u +%s)
  mpirun --oversubscribe -n 4 "$bin" -q job.conf || fail "4 ranks" || return 1
  after=$(date -u +%s)
  [ "$(wc -l <out.csv)" -eq 2 ] || fail "ranks disagree: $(cat out.csv)" ||
    return 1
  local got
  got=$(tail -1 out.csv | "$py" -c 'import sys, datetime; print(int(datetime.datetime.fromisoformat(sys.stdin.read().strip().replace("Z", "+00:00")).timestamp()))')
  [ "$got" -ge "$before" ] && [ "$got" -le "$after" ] ||
    fail "now() $got outside [$before, $after]"
}

case_plan_errors() {
  printf 'd,s\n2024-03-05,a\n' >in.csv
  printf '[source]\npath = in.csv\n[groupby]\ntotal = sum(d)\n[sink]\npath = o.csv\n' >sum.conf
  run_p 2 sum.conf || return 1
  has "sum.conf:4: \[groupby\] total: sum\(\) needs a number, not date" ||
    return 1
  printf '[source]\npath = in.csv\n[filter]\nwhere = regexp_matches(s, %s)\n[sink]\npath = o.csv\n' "'(a'" >re.conf
  run_p 2 re.conf || return 1
  has "re.conf:4: \[filter\] in 'regexp_matches\(s, '\(a'\)': bad regular expression" ||
    return 1
  printf '[source]\npath = in.csv\n[filter]\nwhere = d >= %s\n[sink]\npath = o.csv\n' "'2024-02-30'" >lit.conf
  run_p 2 lit.conf || return 1
  has "lit.conf:4: .*'2024-02-30' is not a date" || return 1
  [ ! -e o.csv ] || fail "output left"
}

case_text_on_invalid_utf8() {
  printf 's\nok\n\xff\xfe\xc3\n"a\xc3\xa9\xe2\x82"\n' >in.csv
  cat >job.conf <<'EOF'
[source]
path = in.csv
[derive]
l = like(s, '%_%')
m = regexp_matches(s, '.')
r = regexp_replace(s, '[a-z]', '*')
p = lpad(s, 4, '.')
n = length(s)
c = concat(s, '|')
[sink]
path = out.csv
EOF
  run_p 0 job.conf || return 1
  printf 's,l,m,r,p,n,c\nok,true,true,**,..ok,2,ok|\n\xff\xfe\xc3,true,false,\xff\xfe\xc3,.\xff\xfe\xc3,3,\xff\xfe\xc3|\na\xc3\xa9\xe2\x82,true,true,*\xc3\xa9\xe2\x82,.a\xc3\xa9\xe2\x82,3,a\xc3\xa9\xe2\x82|\n' |
    cmp - out.csv || fail "invalid UTF-8: $(od -c out.csv | head)"
}

run_cases "$@"

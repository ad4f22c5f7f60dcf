#!/usr/bin/env bash
# End-to-end checks of HDF5 input and output: round trips through HDF5,
# files written by h5py, our files read by h5dump and h5py, the zstd
# filter, errors, and the read job under mpirun.
#   test_hdf5.sh PIPELINE BUILD_DIR [CASE ...]
# Each case is a function run in its own empty directory; with CASE
# arguments only those run. Needs Debian's python3 with h5py
# (/usr/bin/python3), h5dump, and cc for a small zstd plugin that lets
# h5dump and h5py read compressed output without pipeline's help.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
people="$top/jobs/data/people.csv"
sensors="$top/jobs/data/sensors.h5"
py=/usr/bin/python3 # Debian's, with h5py; a pyenv python3 may lack it

# run_p EXPECTED_STATUS ARGS...: runs pipeline, keeps its stderr in $msg.
run_p() {
  local want=$1
  shift
  msg=$("$bin" -q "$@" 2>&1 >/dev/null)
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc, expected $want: $msg" || return 1
  clean "$msg"
}

# clean TEXT: no sanitizer report in a run's stderr (an expected exit 1
# must not hide one).
clean() {
  ! grep -qE 'Sanitizer|runtime error:' <<<"$1" || fail "sanitizer report: $1"
}

has() { grep -qE -- "$1" <<<"$msg" || fail "message lacks /$1/: $msg"; }

# finds PATTERN: grep that reads all its input (grep -q would stop early
# and, under pipefail, fail the writer with SIGPIPE).
finds() { grep -- "$1" >/dev/null; }

# only FILE...: the directory holds exactly these (no output, no temp file).
only() {
  local got want
  got=$(ls -A | LC_ALL=C sort | tr '\n' ' ')
  want=$(printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "files: $got (expected $want)"
}

# same_csv A B: equal rows as python's csv module parses them, fields that
# parse as floats compared by value (nan equal to nan).
same_csv() {
  "$py" - "$1" "$2" <<'EOF' || fail "$1 and $2 differ" || return 1
import csv, math, sys
def rows(p):
    with open(p, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))
def same(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return x == y or (math.isnan(x) and math.isnan(y))
a, b = rows(sys.argv[1]), rows(sys.argv[2])
ok = len(a) == len(b) and all(
    len(r) == len(s) and all(same(u, v) for u, v in zip(r, s))
    for r, s in zip(a, b))
if not ok:
    print("  <", a, "\n  >", b)
sys.exit(0 if ok else 1)
EOF
}

# A CSV with what a round trip must keep: NULLs in every type, the empty
# string, quotes, a delimiter and a newline in a field, UTF-8, int64's
# extremes, nan and infinities, bools.
rich_csv() {
  cat >rich.csv <<'EOF'
id,name,x,flag,note
1,ann,0.1,true,"has, comma"
2,,1e+300,false,""
3,"q""uote",,true,
-9223372036854775808,é ü,nan,,"multi
line"
,zed,-inf,false,plain
9223372036854775807,"",5e-324,true,x
EOF
}

# zplugin: builds plug/libzcheck.so, an HDF5 zstd filter (id 32015) of the
# test's own, so that h5dump and h5py read our compressed files (Debian's
# hdf5plugin has no zstd). Use as HDF5_PLUGIN_PATH=$PWD/plug.
zplugin() {
  mkdir -p plug
  cc -shared -fPIC $(pkg-config --cflags hdf5) -o plug/libzcheck.so \
    "$here/h5_zstd_plugin.c" -lzstd ||
    fail "cannot build the zstd check plugin"
}

# roundtrip LAYOUT COMPRESSION: rich.csv and people.csv through HDF5 and
# back to CSV give the same values.
roundtrip() {
  local layout=$1 comp=$2 src
  rich_csv
  cp "$people" people.csv
  for src in rich people; do
    printf '[source]\npath = %s.csv\n[sink]\npath = %s.h5\nlayout = %s\ncompression = %s\n' \
      "$src" "$src" "$layout" "$comp" >w.conf
    run_p 0 w.conf || return 1
    if [ "$layout" = compound ]; then
      printf '[source]\npath = %s.h5\ndataset = table\n[sink]\npath = %s.back.csv\n' "$src" "$src" >r.conf
    else
      printf '[source]\npath = %s.h5\ndatasets = %s\n[sink]\npath = %s.back.csv\n' \
        "$src" "$(head -n 1 "$src.csv" | sed 's/,/, /g')" "$src" >r.conf
    fi
    run_p 0 r.conf || return 1
    same_csv "$src.csv" "$src.back.csv" || return 1
  done
  # NULL and the empty string stay apart (csv.reader reads both as '').
  grep -qx '2,,1e+300,false,""' rich.back.csv && grep -qx '9223372036854775807,"",5e-324,true,x' rich.back.csv ||
    fail "NULL or empty string changed: $(cat rich.back.csv)"
}

case_roundtrip_columns() { roundtrip columns none; }
case_roundtrip_columns_zstd() { roundtrip columns zstd; }
case_roundtrip_compound() { roundtrip compound none; }
case_roundtrip_compound_zstd() { roundtrip compound zstd:19; }

# Every integer width and sign, float32/64, fixed and variable-length
# strings and bool, as 1-D datasets and as a compound; the CSV holds what
# python wrote.
case_h5py_types() {
  "$py" - <<'EOF' || fail "h5py could not write the input" || return 1
import h5py, numpy as np
ints = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]
fields = []
with h5py.File("types.h5", "w") as f:
    for t in ints:
        i = np.iinfo(t)
        hi = min(int(i.max), 2**63 - 1)
        f[t] = np.array([i.min, 0, 1, hi], dtype=t)
        fields.append((t, t))
    f["f4"] = np.array([1.5, -0.1, 3.4e38, np.inf], dtype="f4")
    f["f8"] = np.array([0.1, -1e300, 5e-324, np.nan], dtype="f8")
    f["fs"] = np.array([b"ab", b"", b"a,b", b"abcd"], dtype="S4")
    f.create_dataset("vs", data=["h\u00e9llo", "", 'q"x', "two\nlines"],
                     dtype=h5py.string_dtype())
    f["b"] = np.array([True, False, True, False])
    fields += [("f4", "f4"), ("f8", "f8"), ("fs", "S4"),
               ("vs", h5py.string_dtype()), ("b", "?")]
    ct = np.dtype(fields)
    rows = np.zeros(4, dtype=ct)
    for name, _ in fields:
        rows[name] = f[name][:]
    f["g/c"] = rows
EOF
  local names="i1, i2, i4, i8, u1, u2, u4, u8, f4, f8, fs, vs, b"
  printf '[source]\npath = types.h5\ndatasets = %s\n[sink]\npath = cols.csv\n' "$names" >a.conf
  printf '[source]\npath = types.h5\ndataset = /g/c\n[sink]\npath = comp.csv\n' >b.conf
  run_p 0 a.conf && run_p 0 b.conf || return 1
  "$py" - <<'EOF' || fail "CSV output differs from what h5py wrote" || return 1
import csv, math, h5py, numpy as np
f = h5py.File("types.h5", "r")
names = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8", "fs", "vs", "b"]
def text(v):
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode()
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, np.integer):
        return str(int(v))
    return float(v)  # float32 widened to double, compared by value
def same(want, got):
    if isinstance(want, float):
        g = float(got)
        return g == want or (math.isnan(g) and math.isnan(want))
    return want == got
for out, cols in (("cols.csv", [f[n][:] for n in names]),
                  ("comp.csv", [f["g/c"][n] for n in names])):
    rows = list(csv.reader(open(out, newline="", encoding="utf-8")))
    assert rows[0] == names, (out, rows[0])
    assert len(rows) == 5, (out, len(rows))
    for k in range(4):
        for j, n in enumerate(names):
            want = text(cols[j][k])
            assert same(want, rows[k + 1][j]), (out, n, k, want, rows[k + 1][j])
EOF
  # Integer widths all become int64, floats float64, bools bool.
  msg=$("$bin" --explain a.conf 2>&1) || fail "explain: $msg" || return 1
  has 'u4: int64' && has 'f4: float64' && has 'fs: string' && has 'vs: string' && has 'b: bool'
}

# A column with NULLs in h5py's hands: <name>__valid beside it (1 present,
# 0 NULL) is applied by the reader; other integer widths work too.
case_h5py_nulls_scheme() {
  "$py" - <<'EOF' || fail "h5py could not write the input" || return 1
import h5py, numpy as np
with h5py.File("n.h5", "w") as f:
    f["a"] = np.array([1, 2, 3], dtype="i4")
    f["a__valid"] = np.array([1, 0, 1], dtype="u1")
    f["s"] = np.array([b"x", b"y", b"z"], dtype="S1")
    f["s__valid"] = np.array([0, 1, 1], dtype="i8")
EOF
  printf '[source]\npath = n.h5\ndatasets = a, s\n[sink]\npath = out.csv\n' >job.conf
  run_p 0 job.conf && [ "$(cat out.csv)" = $'a,s\n1,\n,y\n3,z' ] || fail "$(cat out.csv)"
}

# Our files as h5dump and h5py see them: types, values, the NULL scheme
# and the attributes.
case_written_columns_checked() {
  rich_csv
  printf '[job]\nname = rt\n[source]\npath = rich.csv\n[sink]\npath = out.h5\n' >job.conf
  run_p 0 job.conf || return 1
  local d
  d=$(h5dump -H out.h5) || fail "h5dump failed" || return 1
  grep -A1 'DATASET "id"' <<<"$d" | finds H5T_STD_I64LE || fail "id type: $d" || return 1
  grep -A1 'DATASET "x"' <<<"$d" | finds H5T_IEEE_F64LE || fail "x type" || return 1
  grep -A1 'DATASET "id__valid"' <<<"$d" | finds H5T_STD_U8LE || fail "id__valid type" || return 1
  grep -A3 'DATASET "flag"' <<<"$d" | finds 'H5T_STD_I8LE' || fail "flag base type" || return 1
  grep -A6 'DATASET "flag"' <<<"$d" | finds '"TRUE" *1;' || fail "flag enum" || return 1
  grep -A4 'DATASET "name"' <<<"$d" | finds 'STRSIZE 6;' || fail "name type: $d" || return 1
  grep -A4 'DATASET "name"' <<<"$d" | finds 'H5T_STR_NULLPAD' || fail "name padding" || return 1
  grep -A4 'DATASET "name"' <<<"$d" | finds 'H5T_CSET_UTF8' || fail "name cset" || return 1
  # one NULLs dataset per column with a NULL, none for others
  [ "$(grep -c '__valid"' <<<"$d")" -eq 5 ] || fail "__valid datasets: $(grep '__valid' <<<"$d")" || return 1
  h5dump -d /id out.h5 | finds '(0): 1, 2, 3, -9223372036854775808, 0, 9223372036854775807' ||
    fail "h5dump id: $(h5dump -d /id out.h5)" || return 1
  "$py" - <<'EOF' || fail "h5py sees other values" || return 1
import h5py, math, numpy as np, sys
f = h5py.File("out.h5", "r")
assert f["id"].dtype == np.int64 and f["x"].dtype == np.float64
assert f["flag"].dtype == np.bool_, f["flag"].dtype
assert h5py.check_string_dtype(f["name"].dtype) == ("utf-8", 6), h5py.check_string_dtype(f["name"].dtype)
assert list(f["id"][:]) == [1, 2, 3, -2**63, 0, 2**63 - 1]
assert list(f["id__valid"][:]) == [1, 1, 1, 1, 0, 1]
x = f["x"][:]
assert list(x[:2]) == [0.1, 1e300] and math.isnan(x[2]) and math.isnan(x[3])
assert x[4] == -math.inf and x[5] == 5e-324
assert list(f["x__valid"][:]) == [1, 1, 0, 1, 1, 1]  # row 3 NULL, row 4 nan
assert list(f["flag"][:]) == [True, False, True, False, False, True]
assert list(f["flag__valid"][:]) == [1, 1, 1, 0, 1, 1]
assert list(f["name"].asstr()[:]) == ["ann", "", 'q"uote', "\u00e9 \u00fc", "zed", ""]
assert list(f["name__valid"][:]) == [1, 0, 1, 1, 1, 1]
assert list(f["note"].asstr()[:]) == ["has, comma", "", "", "multi\nline", "plain", "x"]
assert list(f["note__valid"][:]) == [1, 1, 0, 1, 1, 1]
for n in ("id", "name", "x", "flag", "note"):
    a = f[n].attrs
    assert a["job"] == "rt", dict(a)
    assert a["source"] == "csv: rich.csv", dict(a)
    assert f[n].chunks is not None and f[n].maxshape == (None,)
    assert f[n].compression is None
EOF
}

case_written_compound_checked() {
  cp "$people" people.csv
  printf '[source]\npath = people.csv\n[sink]\npath = out.h5\nlayout = compound\ngroup = /runs/a\n' >job.conf
  run_p 0 job.conf || return 1
  local d
  d=$(h5dump -H out.h5) || fail "h5dump failed" || return 1
  grep -q 'H5T_COMPOUND' <<<"$d" && grep -q 'H5T_STD_I64LE "age";' <<<"$d" &&
    grep -q 'H5T_IEEE_F64LE "score";' <<<"$d" || fail "compound type: $d" || return 1
  "$py" - <<'EOF' || fail "h5py sees other values" || return 1
import csv, h5py, math
f = h5py.File("out.h5", "r")
assert sorted(f["runs/a"]) == ["age__valid", "score__valid", "table"], list(f["runs/a"])
t = f["runs/a/table"]
assert t.dtype.names == ("name", "city", "age", "score", "joined"), t.dtype
assert t.attrs["job"] == "job"
rows = list(csv.DictReader(open("people.csv", newline="")))
age_v, score_v = f["runs/a/age__valid"][:], f["runs/a/score__valid"][:]
for k, r in enumerate(rows):
    assert t["name"][k].decode() == r["name"] and t["city"][k].decode() == r["city"]
    assert t["joined"][k] == int(r["joined"])
    assert age_v[k] == (r["age"] != "") and score_v[k] == (r["score"] != "")
    if r["age"]:
        assert t["age"][k] == int(r["age"])
    else:
        assert t["age"][k] == 0
    if r["score"]:
        assert t["score"][k] == float(r["score"])
    else:
        assert math.isnan(t["score"][k])
EOF
  printf '[source]\npath = out.h5\ndataset = /runs/a/table\n[sink]\npath = back.csv\n' >r.conf
  run_p 0 r.conf && same_csv people.csv back.csv
}

# zstd: filter 32015 with its level in h5dump -p -H and in h5py; the values
# read back by h5dump and h5py through an independent zstd plugin.
case_zstd_filter_visible() {
  rich_csv
  printf '[source]\npath = rich.csv\n[sink]\npath = out.h5\ncompression = zstd:7\n' >job.conf
  run_p 0 job.conf || return 1
  local d
  d=$(h5dump -p -H out.h5) || fail "h5dump -p -H failed" || return 1
  [ "$(grep -c 'FILTER_ID 32015' <<<"$d")" -eq 10 ] || fail "filter 32015 not on all 10 datasets: $d" || return 1
  [ "$(grep -c 'PARAMS { 7 }' <<<"$d")" -eq 10 ] || fail "level 7 not recorded" || return 1
  "$py" - <<'EOF' || fail "h5py sees another filter" || return 1
import h5py
f = h5py.File("out.h5", "r")
for n in f:
    fid, flags, vals, name = f[n].id.get_create_plist().get_filter(0)
    assert fid == 32015 and vals == (7,) and name == b"zstd", (n, fid, vals, name)
EOF
  zplugin || return 1
  HDF5_PLUGIN_PATH=$PWD/plug h5dump -d /id out.h5 | finds '(0): 1, 2, 3, -9223372036854775808, 0, 9223372036854775807' ||
    fail "h5dump cannot read the compressed id" || return 1
  HDF5_PLUGIN_PATH=$PWD/plug h5dump -d /note out.h5 | finds '"has, comma"' ||
    fail "h5dump cannot read the compressed note" || return 1
  HDF5_PLUGIN_PATH=$PWD/plug "$py" - <<'EOF' || fail "h5py cannot read the compressed values" || return 1
import h5py
f = h5py.File("out.h5", "r")
assert list(f["id"][:]) == [1, 2, 3, -2**63, 0, 2**63 - 1]
assert list(f["flag__valid"][:]) == [1, 1, 1, 0, 1, 1]
assert list(f["name"].asstr()[:]) == ["ann", "", 'q"uote', "\u00e9 \u00fc", "zed", ""]
EOF
  # and the compressed file is smaller than the plain one for a larger input
  seq 1 50000 | awk 'BEGIN{print "n,m"} {print $1 "," $1 % 7}' >big.csv
  printf '[source]\npath = big.csv\n[sink]\npath = big.h5\n' >p.conf
  printf '[source]\npath = big.csv\n[sink]\npath = bigz.h5\ncompression = zstd\n' >z.conf
  run_p 0 p.conf && run_p 0 z.conf || return 1
  [ "$(stat -c %s bigz.h5)" -lt "$(($(stat -c %s big.h5) / 4))" ] ||
    fail "zstd did not shrink: $(stat -c %s big.h5) -> $(stat -c %s bigz.h5)"
}

# A file h5py compressed with filter 32015 (as hdf5plugin's Zstd writes)
# reads with pipeline's own filter, without any plugin path.
case_reads_h5py_zstd() {
  zplugin || return 1
  HDF5_PLUGIN_PATH=$PWD/plug "$py" - <<'EOF' || fail "h5py could not write" || return 1
import h5py, numpy as np
with h5py.File("z.h5", "w") as f:
    f.create_dataset("v", data=np.arange(100000, dtype="i4"), chunks=(4096,),
                     compression=32015, compression_opts=(5,))
    f.create_dataset("w", data=np.arange(100000) * 0.5, chunks=(5000,),
                     compression=32015, compression_opts=(1,))
EOF
  printf '[source]\npath = z.h5\ndatasets = v, w\n[groupby]\nn = count()\ns = sum(v)\nt = sum(w)\nl = last(v)\n[sink]\npath = out.csv\n' >job.conf
  env -u HDF5_PLUGIN_PATH "$bin" -q job.conf || fail "exit $?" || return 1
  [ "$(cat out.csv)" = $'n,s,t,l\n100000,4999950000,2499975000.0,99999' ] || fail "$(cat out.csv)"
}

case_columns_selection() {
  printf '[source]\npath = %s\ndatasets = /readings/station, /readings/hour, /readings/temp\ncolumns = temp, station\n[limit]\nrows = 3\n[sink]\npath = out.csv\n' "$sensors" >job.conf
  run_p 0 job.conf || return 1
  [ "$(cat out.csv)" = $'temp,station\n-2.0,north\n-1.0,north\n0.0,north' ] || fail "$(cat out.csv)" || return 1
  printf '[source]\npath = %s\ndataset = /stations\ncolumns = elevation, name\n[sink]\npath = out2.csv\n' "$sensors" >job.conf
  run_p 0 job.conf || return 1
  [ "$(cat out2.csv)" = $'elevation,name\n10,north\n22,south\n35,east\n12,west' ] || fail "$(cat out2.csv)" || return 1
  printf '[source]\npath = %s\ndatasets = /readings/station\ncolumns = temp\n[sink]\npath = out3.csv\n' "$sensors" >job.conf
  run_p 2 job.conf && has 'job\.conf:4: ' && has "no column 'temp'" && [ ! -e out3.csv ] || return 1
  printf '[source]\npath = %s\ndataset = /stations\ncolumns = lat, lat\n[sink]\npath = out3.csv\n' "$sensors" >job.conf
  run_p 2 job.conf && has 'job\.conf:4: ' && has "'lat' selected twice" && [ ! -e out3.csv ]
}

# Several files as one table, in the glob's (sorted) order, from 1-D
# datasets and from compound ones.
case_glob_several_files() {
  "$py" - <<'EOF' || fail "h5py could not write" || return 1
import h5py, numpy as np
ct = np.dtype([("k", "i8"), ("v", "f8")])
for i, n in enumerate([3, 0, 4]):
    with h5py.File(f"part-{i + 1}.h5", "w") as f:
        k = np.arange(n, dtype="i2") + 10 * (i + 1)
        f["k"] = k
        f["v"] = k * 0.5
        f["t"] = np.array(list(zip(k, k * 0.5)), dtype=ct)
EOF
  printf '[source]\npath = part-*.h5\ndatasets = k, v\n[sink]\npath = out.csv\n' >a.conf
  printf '[source]\npath = part-*.h5\ndataset = t\n[sink]\npath = out2.csv\n' >b.conf
  printf '[source]\npath = part-3.h5, part-1.h5\ndatasets = k\n[sink]\npath = out3.csv\n' >c.conf
  run_p 0 a.conf && run_p 0 b.conf && run_p 0 c.conf || return 1
  local want=$'k,v\n10,5.0\n11,5.5\n12,6.0\n30,15.0\n31,15.5\n32,16.0\n33,16.5'
  [ "$(cat out.csv)" = "$want" ] || fail "glob: $(cat out.csv)" || return 1
  [ "$(cat out2.csv)" = "$want" ] || fail "glob compound: $(cat out2.csv)" || return 1
  [ "$(cat out3.csv)" = $'k\n30\n31\n32\n33\n10\n11\n12' ] || fail "list: $(cat out3.csv)" || return 1
  # a file whose columns differ is named
  "$py" -c 'import h5py, numpy as np; f = h5py.File("part-4.h5", "w"); f["k"] = np.array([b"x"]); f["v"] = np.array([1.0])' ||
    return 1
  run_p 1 --set sink.path=out5.csv a.conf && has 'part-4\.h5:/k' && has 'string' && [ ! -e out5.csv ] || return 1
  printf '[source]\npath = nothing-*.h5\ndatasets = k\n[sink]\npath = out4.csv\n' >d.conf
  run_p 1 d.conf && has 'nothing-\*\.h5' && [ ! -e out4.csv ]
}

# Error cases: exit 1 (the data is wrong, not job.conf), a message naming
# the file (and the dataset where there is one), no output left behind.
h5_input() {
  "$py" - <<'EOF' || fail "h5py could not write" || return 1
import h5py, numpy as np
with h5py.File("in.h5", "w") as f:
    f["a"] = np.arange(50000, dtype="i8")
    f["m"] = np.zeros((4, 2))
    f["short"] = np.arange(3, dtype="i8")
    f["u"] = np.array([1, 2**64 - 1], dtype="u8")
    f["e"] = h5py.Empty("f")
    f.create_dataset("r", (3,), dtype=h5py.ref_dtype)
    f["grp/x"] = np.arange(3)
EOF
}

case_error_truncated() {
  h5_input || return 1
  head -c 20000 in.h5 >cut.h5
  printf '[source]\npath = cut.h5\ndatasets = a\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'cut\.h5: ' && has 'truncated' && only in.h5 cut.h5 job.conf
  # and with an HDF5 sink
  printf '[source]\npath = cut.h5\ndatasets = a\n[sink]\npath = out.h5\n' >job.conf
  run_p 1 job.conf && has 'cut\.h5: ' && only in.h5 cut.h5 job.conf
}

case_error_not_hdf5() {
  cp "$people" fake.h5
  printf '[source]\npath = fake.h5\ndatasets = a\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'fake\.h5: ' && has 'not an HDF5 file' && only fake.h5 job.conf
  : >empty.h5
  printf '[source]\npath = empty.h5\ndatasets = a\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'empty\.h5: ' && only fake.h5 empty.h5 job.conf
}

case_error_missing_dataset() {
  h5_input || return 1
  printf '[source]\npath = in.h5\ndatasets = a, nope\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/nope: no such dataset' && only in.h5 job.conf || return 1
  printf '[source]\npath = in.h5\ndatasets = no/such/x\n[sink]\npath = out.h5\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/no/such/x: no such dataset' && only in.h5 job.conf || return 1
  printf '[source]\npath = in.h5\ndataset = table\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/table: no such dataset' && only in.h5 job.conf || return 1
  # a group is not a dataset
  printf '[source]\npath = in.h5\ndatasets = grp\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/grp: ' && only in.h5 job.conf
}

case_error_unsupported() {
  h5_input || return 1
  printf '[source]\npath = in.h5\ndatasets = a, m\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/m: ' && has '2-D' && only in.h5 job.conf || return 1
  printf '[source]\npath = in.h5\ndatasets = e\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/e: ' && only in.h5 job.conf || return 1
  printf '[source]\npath = in.h5\ndatasets = r\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/r: unsupported type reference' && only in.h5 job.conf || return 1
  printf '[source]\npath = in.h5\ndataset = a\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/a: not a compound dataset' && only in.h5 job.conf || return 1
  printf '[source]\npath = in.h5\ndatasets = a, short\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/short: 3 rows' && only in.h5 job.conf || return 1
  # a value that does not fit int64 is found while reading: no output
  printf '[source]\npath = in.h5\ndatasets = u\n[sink]\npath = out.h5\n' >job.conf
  run_p 1 job.conf && has 'in\.h5:/u: row 1: 18446744073709551615 does not fit int64' && only in.h5 job.conf
}

# pandas' to_hdf layouts (fixed; table with and without data columns, under
# a nested key; datetime64 columns and index, naive and with a zone, NaT),
# h5py's enums and PyTables' bool bitfields read with their real column
# names and values, against what pandas itself reads back
# (make_pandas_h5.py), alone and on several ranks; a fixed frame with a
# column of Python objects is refused naming it; `columns` picks from the
# names pandas pickled (UTF-8 from Latin-1 and \u escapes).
case_pandas_layouts() {
  "$py" "$here/make_pandas_h5.py" || fail "pandas could not write" || return 1
  local f n k r
  for f in fixed:df table:frames/mixed table_dc:df times_fixed:df times_table:df enum:- bits:-; do
    n=${f%%:*} k=${f#*:}
    if [ "$k" = - ]; then
      k="datasets = $(h5ls "$n.h5" | awk '{ printf "%s%s", s, $1; s = ", " }')"
    else
      k="dataset = $k"
    fi
    printf '[source]\npath = %s.h5\n%s\n[sink]\npath = out.csv\noverwrite = true\n' "$n" "$k" >job.conf
    run_p 0 job.conf || return 1
    cmp -s "$n.csv" out.csv || fail "$n: $(diff "$n.csv" out.csv | head -5)" || return 1
    for r in $(ranks_from 2); do
      mpirun --oversubscribe -n "$r" "$bin" -q job.conf 2>err.txt || fail "$n on $r ranks: $(cat err.txt)" || return 1
      cmp -s "$n.csv" out.csv || fail "$n on $r ranks: $(diff "$n.csv" out.csv | head -5)" || return 1
    done
  done
  printf '[source]\npath = table.h5\ndataset = frames/mixed\ncolumns = 名, température, flag\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  run_p 0 job.conf || return 1
  [ "$(head -2 out.csv)" = "$(printf '名,température,flag\n0,0.5,true')" ] || fail "columns: $(head -2 out.csv)" || return 1
  rm out.csv
  printf '[source]\npath = fixed_objects.h5\ndataset = df\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf || return 1
  has "fixed_objects\.h5:/df/block[0-9]+_values: pandas stored column 'name' as pickled Python objects" || return 1
  [ ! -e out.csv ] || fail "output left"
  printf '[source]\npath = table.h5\ndataset = frames\n[sink]\npath = out.csv\n' >job.conf
  run_p 1 job.conf && has "table\.h5:/frames: a group, not a compound dataset"
}

# Problems with the job.conf itself are exit 2, before any data is read.
case_conf_errors() {
  h5_input || return 1
  printf '[source]\npath = in.h5\n[sink]\npath = out.csv\n' >job.conf
  run_p 2 job.conf && has 'job\.conf:1: ' && has 'datasets' || return 1
  printf '[source]\npath = in.h5\ndatasets = a\ndataset = a\n[sink]\npath = out.csv\n' >job.conf
  run_p 2 job.conf && has 'job\.conf:' || return 1
  printf '[source]\npath = in.h5\ndatasets = a\n[sink]\npath = out.h5\nlayout = rows\n' >job.conf
  run_p 2 job.conf && has 'job\.conf:6: ' && has 'columns or compound' || return 1
  printf '[source]\npath = in.h5\ndatasets = a\n[sink]\npath = out.h5\ncompression = gzip\n' >job.conf
  run_p 2 job.conf && has 'job\.conf:6: ' && has 'zstd' || return 1
  printf '[source]\npath = in.h5\ndatasets = a\n[sink]\npath = out.h5\ngroup = results\n' >job.conf
  run_p 2 job.conf && has 'job\.conf:6: ' && has 'absolute' || return 1
  echo keep >out.h5
  printf '[source]\npath = in.h5\ndatasets = a\n[sink]\npath = out.h5\n' >job.conf
  run_p 2 job.conf && has 'overwrite' && [ "$(cat out.h5)" = keep ] || fail "out.h5 changed"
}

# No rows: empty datasets, which read back as an empty table.
case_empty_output() {
  printf '[source]\npath = %s\n[filter]\nwhere = age > 1000\n[sink]\npath = e.h5\ncompression = zstd\n' "$people" >w.conf
  printf '[source]\npath = e.h5\ndatasets = name, age\n[sink]\npath = e.csv\n' >r.conf
  run_p 0 w.conf && run_p 0 r.conf && [ "$(cat e.csv)" = "name,age" ] || fail "$(cat e.csv)" || return 1
  "$py" -c 'import h5py; f = h5py.File("e.h5", "r"); assert sorted(f) == ["age", "city", "joined", "name", "score"] and all(f[n].shape == (0,) for n in f), list(f)' ||
    fail "e.h5 is not five empty datasets"
}

# A column name HDF5 cannot take fails the job with no output, and an
# overwrite that fails keeps the old file.
case_sink_bad_name_keeps_nothing() {
  printf 'a/b,c\n1,2\n' >in.csv
  printf '[source]\npath = in.csv\n[sink]\npath = out.h5\n' >job.conf
  run_p 1 job.conf && has "out\.h5: column name 'a/b'" && only in.csv job.conf || return 1
  cp "$people" people.csv
  printf '[source]\npath = people.csv\n[sink]\npath = out.h5\n' >ok.conf
  run_p 0 ok.conf && cp out.h5 before.h5 || return 1
  printf '[source]\npath = in.csv\n[sink]\npath = out.h5\noverwrite = true\n' >job.conf
  run_p 1 job.conf && cmp -s out.h5 before.h5 && only in.csv job.conf people.csv ok.conf out.h5 before.h5
}

# The example jobs: hdf5_write gives a zstd file with people.csv's values;
# hdf5_stations a compound table in /summary.
case_example_jobs() {
  PIPELINE_OUT=$PWD run_p 0 "$top/jobs/hdf5_write.conf" || return 1
  h5dump -p -H hdf5_write.h5 | finds 'FILTER_ID 32015' || fail "hdf5_write.h5 not compressed" || return 1
  printf '[source]\npath = hdf5_write.h5\ndatasets = name, city, age, score, joined\n[sink]\npath = back.csv\n' >r.conf
  run_p 0 r.conf && same_csv "$people" back.csv || return 1
  PIPELINE_OUT=$PWD run_p 0 "$top/jobs/hdf5_stations.conf" || return 1
  "$py" - <<'EOF' || fail "hdf5_stations.h5 differs" || return 1
import h5py
t = h5py.File("hdf5_stations.h5", "r")["summary/table"][:]
assert t.dtype.names == ("name", "lat", "lon", "elevation"), t.dtype
assert [r[0].decode() for r in t] == ["north", "south", "west"]
assert [r[3] for r in t] == [10, 22, 12]
EOF
}

# hdf5_write.conf under mpirun: one file with people.csv's values.
case_write_job_mpirun() {
  local n
  printf '[source]\npath = hdf5_write.h5\ndatasets = name, city, age, score, joined\n[sink]\npath = back.csv\noverwrite = true\n' >r.conf
  for n in $(test_ranks); do
    rm -f hdf5_write.h5
    PIPELINE_OUT=$PWD mpirun --oversubscribe -n "$n" "$bin" -q "$top/jobs/hdf5_write.conf" >/dev/null 2>err.txt ||
      fail "mpirun -n $n: exit $?: $(cat err.txt)" || return 1
    clean "$(cat err.txt)" || return 1
    run_p 0 r.conf && same_csv "$people" back.csv || fail "$n ranks differ" || return 1
    only hdf5_write.h5 r.conf back.csv err.txt || return 1
  done
}

# The shipped sensors.h5 is what its generator writes.
case_sensors_file_current() {
  "$py" "$top/jobs/data/make_sensors_h5.py" s.h5 || return 1
  cmp -s s.h5 "$sensors" || fail "jobs/data/sensors.h5 differs from make_sensors_h5.py's output"
}

# hdf5_read.conf: the answer python computes from sensors.h5, alone and
# under mpirun with 1 to 4 ranks (any row order: it ends in a groupby).
case_read_job_mpirun() {
  "$py" - "$sensors" <<'EOF' >want.csv || fail "python could not compute the answer" || return 1
import h5py, sys
g = h5py.File(sys.argv[1], "r")["readings"]
st, t, r, c, ok = (g[n][:] for n in ("station", "temp", "rain", "count", "ok"))
out = {}
for k in range(len(st)):
    if not ok[k]:
        continue
    a = out.setdefault(st[k].decode(), [0, 0, [], 0.0])
    a[0] += 1; a[1] += int(c[k]); a[2].append(float(t[k])); a[3] += float(r[k])
print("station,readings,samples,coldest,warmest,mean,rain")
for s, (n, cnt, temps, rain) in sorted(out.items()):
    print(f"{s},{n},{cnt},{min(temps)!r},{max(temps)!r},{sum(temps) / n!r},{rain!r}")
EOF
  PIPELINE_OUT=$PWD "$bin" -q "$top/jobs/hdf5_read.conf" || fail "exit $?" || return 1
  diff want.csv <(head -n 1 hdf5_read.csv; tail -n +2 hdf5_read.csv | LC_ALL=C sort) || fail "alone differs" || return 1
  local n
  for n in $(test_ranks); do
    rm -f hdf5_read.csv
    PIPELINE_OUT=$PWD mpirun --oversubscribe -n "$n" "$bin" -q "$top/jobs/hdf5_read.conf" >/dev/null 2>err.txt ||
      fail "mpirun -n $n: exit $?: $(cat err.txt)" || return 1
    clean "$(cat err.txt)" || return 1
    diff want.csv <(head -n 1 hdf5_read.csv; tail -n +2 hdf5_read.csv | LC_ALL=C sort) ||
      fail "$n ranks differ" || return 1
  done
}

# ------------------------------------------------------- parallel output

# par_csv ROWS: a CSV over several chunks (64Ki rows) with NULLs in every
# type and strings whose longest value sits in the last rows, so that only
# the last rank sees it and the ranks must agree on the width.
par_csv() {
  "$py" - "$1" <<'EOF'
import sys
n = int(sys.argv[1])
with open("par.csv", "w") as f:
    f.write("id,x,flag,s\n")
    for i in range(n):
        s = "w" * (i % 13) if i < n - 3 else "the longest string, last rank"
        f.write("%s,%s,%s,%s\n" % ("" if i % 11 == 5 else i * 7919,
                                   "" if i % 17 == 2 else i / 8,
                                   "" if i % 19 == 3 else ("true" if i % 3 else "false"),
                                   "" if i % 23 == 7 else '"' + s + '"'))
EOF
}

# dump_runs CONF REF I: pipeline alone and under mpirun with 1 to 4 ranks
# (the counts of combo_ranks I, for the I-th combination of the case)
# write CONF's out.h5; h5dump of each must equal REF (h5dump text, made by
# the HDF5 tools, not by pipeline reading its own file).
dump_runs() {
  local conf=$1 ref=$2 n
  for n in 0 $(combo_ranks "$3"); do
    rm -f out.h5
    if [ "$n" -eq 0 ]; then
      "$bin" -q "$conf" 2>err.txt || fail "alone: exit $?: $(cat err.txt)" || return 1
    else
      timeout 120 mpirun --oversubscribe -n "$n" "$bin" -q "$conf" >/dev/null 2>err.txt ||
        fail "mpirun -n $n: exit $?: $(cat err.txt)" || return 1
    fi
    clean "$(cat err.txt)" || return 1
    HDF5_PLUGIN_PATH=$PWD/plug h5dump out.h5 >got.txt 2>&1 || fail "h5dump ($n ranks): $(head got.txt)" || return 1
    cmp -s "$ref" got.txt || fail "$conf: $n ranks (0 = alone) differ: $(diff "$ref" got.txt | head)" || return 1
  done
}

# 1 to 4 ranks write the same file as one process, for both layouts, plain
# and zstd (h5dump reads the zstd files through the test's own plugin; its
# output does not show filters, so it must also equal the plain file's).
# The plain files are checked value by value against the CSV with h5py.
# 70001 rows: ranks share chunks (not aligned to 64Ki rows).
case_mpirun_same_file() {
  zplugin || return 1
  par_csv 70001
  local layout comp l=0 i
  for layout in columns compound; do
    i=$l # the combination's number: plain and zstd alike meet every count
    for comp in none zstd:3; do
      printf '[job]\nname = par\n[source]\npath = par.csv\n[sink]\npath = out.h5\nlayout = %s\ncompression = %s\noverwrite = true\n' \
        "$layout" "$comp" >"$layout-$comp.conf"
      [ "$comp" = none ] && sed -i '/^compression/d' "$layout-$comp.conf"
      "$bin" -q "$layout-$comp.conf" || fail "alone: exit $?" || return 1
      HDF5_PLUGIN_PATH=$PWD/plug h5dump out.h5 >"ref-$layout-$comp.txt" || fail "h5dump" || return 1
      [ "$comp" = none ] && cp out.h5 "plain-$layout.h5"
      dump_runs "$layout-$comp.conf" "ref-$layout-$comp.txt" "$i" || return 1
      i=$((i + 1))
    done
    l=$((l + 1))
    cmp -s "ref-$layout-none.txt" "ref-$layout-zstd:3.txt" || fail "$layout: zstd holds other values" || return 1
  done
  HDF5_PLUGIN_PATH=$PWD/plug h5dump -p -H -d /table out.h5 | finds 'FILTER_ID 32015' || fail "no zstd filter" || return 1
  "$py" - <<'EOF' || fail "h5py sees other values" || return 1
import csv, h5py, numpy as np
rows = list(csv.DictReader(open("par.csv", newline="")))
f = h5py.File("plain-columns.h5", "r")
assert f["s"].dtype == np.dtype("S29"), f["s"].dtype
def col(name, conv):
    v = f[name][:]
    ok = f[name + "__valid"][:]
    return [conv(x) if k else None for x, k in zip(v, ok)]
assert col("id", int) == [int(r["id"]) if r["id"] else None for r in rows]
assert col("x", float) == [float(r["x"]) if r["x"] else None for r in rows]
assert col("flag", bool) == [r["flag"] == "true" if r["flag"] else None for r in rows]
n = len(rows)  # a quoted "" is the empty string, an empty field NULL
want = [None if i % 23 == 7 else "w" * (i % 13) if i < n - 3 else
        "the longest string, last rank" for i in range(n)]
assert col("s", bytes.decode) == want
t = h5py.File("plain-compound.h5", "r")["table"]
assert t.dtype.names == ("id", "x", "flag", "s") and len(t) == len(rows)
assert (t["id"] == f["id"][:]).all() and (t["s"] == f["s"][:]).all()
assert f["s"].attrs["job"] == "par" and f["s"].attrs["source"] == "csv: par.csv"
EOF
}

# Two rows on four ranks: ranks without rows still take part in every
# collective call; also no rows at all (datasets of length 0).
case_mpirun_zero_row_ranks() {
  zplugin || return 1
  printf 'a,s,b\n1,x,true\n,yy,\n' >tiny.csv
  printf 'a,s,b\n' >none.csv
  local layout comp src s=0 l i
  for src in none tiny; do
    l=$s
    for layout in compound columns; do
      # the combination's number: every input, layout and compression
      # meets every count
      i=$l
      for comp in none zstd; do
        printf '[source]\npath = %s.csv\n[sink]\npath = out.h5\nlayout = %s\ncompression = %s\noverwrite = true\n' \
          "$src" "$layout" "$comp" >j.conf
        [ "$comp" = none ] && sed -i '/^compression/d' j.conf
        "$bin" -q j.conf || fail "alone: exit $?" || return 1
        HDF5_PLUGIN_PATH=$PWD/plug h5dump out.h5 >"ref-$src.txt" || fail "h5dump" || return 1
        dump_runs j.conf "ref-$src.txt" "$i" || return 1
        i=$((i + 1))
      done
      l=$((l + 1))
    done
    s=$((s + 1))
  done
  grep -q 'SIMPLE { ( 0 ) / ( H5S_UNLIMITED ) }' ref-none.txt || fail "no empty dataset: $(cat ref-none.txt)" || return 1
  # the last run: tiny.csv, columns, zstd, on the most ranks
  HDF5_PLUGIN_PATH=$PWD/plug "$py" - <<'EOF' || fail "h5py sees other values" || return 1
import h5py
f = h5py.File("out.h5", "r")
assert list(f["a"][:]) == [1, 0] and list(f["a__valid"][:]) == [1, 0]
assert list(f["s"][:]) == [b"x", b"yy"] and f["s"].dtype.itemsize == 2
assert list(f["b"][:]) == [True, False] and list(f["b__valid"][:]) == [1, 0]
EOF
}

# A failure on one rank while the HDF5 output is under way (rank 2's
# spool directory does not exist, found when its rows first reach the
# disk): every rank stops with exit 1, the failing rank names the
# directory, and neither an output nor a temporary file is left; an
# existing output stays as it was.
case_mpirun_rank_failure_leaves_nothing() {
  # 150000 rows a rank: more than the 1 MiB a spool keeps in memory
  "$py" - <<'EOF'
with open("par.csv", "w") as f:
    f.write("id,x,flag,s\n")
    for i in range(600000):
        f.write('%d,%r,%s,"w%d"\n' % (i * 7919, i * 0.7071067811865476, i % 3 == 0, i % 13))
EOF
  printf 'old\n' >out.h5
  local layout rc
  for layout in columns compound; do
    printf '[source]\npath = par.csv\n[sink]\npath = out.h5\nlayout = %s\ncompression = zstd\noverwrite = true\n' "$layout" >j.conf
    msg=$(timeout 120 mpirun --oversubscribe -n 2 "$bin" -q j.conf : \
      -n 1 env TMPDIR="$PWD/no-such-dir" "$bin" -q j.conf : \
      -n 1 "$bin" -q j.conf 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $msg" || return 1
    clean "$msg" && has 'rank 2: .*no-such-dir: cannot (create|write) a spill file' || return 1
    [ "$(grep -c '^pipeline:' <<<"$msg")" -eq 1 ] || fail "other ranks spoke: $msg" || return 1
    [ "$(cat out.h5)" = old ] || fail "the old output changed" || return 1
    only par.csv j.conf out.h5 || return 1
  done
}

run_cases "$@"

#!/usr/bin/env bash
# Float aggregates are reproducible and exact: sum, mean, var, sd and corr
# give byte-identical output on 1 to 4 ranks, with any chunk size and under
# a budget small enough to spill; sum equals Python's math.fsum of each
# group; mean is within an ulp of the exact value, var and corr within an
# ulp (a few for corr) of the exact values or closer than numpy's (values
# up to 1e150, whose squares do not overflow; above that var is inf).
#   test_float_repro.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
unset PIPELINE_RANKS

# data ROWS GROUPS EXP: values of every size (up to 10^EXP), sign and
# cancellation, printed with repr so that the CSV holds the exact doubles.
data() {
  python3 - "$1" "$2" "$3" > in.csv <<'EOF'
import random, sys
rows, groups, ex = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
r = random.Random(7)
print("k,x,y")
for i in range(rows):
    g = r.randrange(groups)
    kind = r.randrange(6)
    if kind == 0:
        x = r.uniform(0, 100)
    elif kind == 1:
        x = r.choice([1e16, -1e16, 1.0, 0.1, 0.2, 0.3, -0.0])
    elif kind == 2:
        x = r.uniform(-1, 1) * 10.0 ** r.randrange(-ex, ex)
    elif kind == 3:
        x = 1e9 + r.random()
    else:
        x = round(r.uniform(-50, 50), 6)
    y = 2 * x + r.random() if abs(x) < 1e100 else r.random()
    print(f"{g},{x!r},{y!r}")
EOF
}

job() {
  cat > job.conf <<EOF
[source]
path = $PWD/in.csv
schema = k:int64, x:float64, y:float64

[groupby]
keys = k
s = sum(x)
m = mean(x)
v = var(x)
d = sd(x)
c = corr(x, y)
n = count()

[sort]
by = k

[sink]
path = \${OUT}
overwrite = true
EOF
}

run() { # OUT ARGS...: runs the job writing OUT
  local out=$1
  shift
  OUT=$PWD/$out timeout 300 "$@" job.conf > /dev/null 2> "$out.err" ||
    fail "$* failed: $(cat "$out.err")"
}

case_same_bits_any_ranks_chunks_spill() {
  data 120000 3000 300 && job || return 1
  run one.csv "$bin" || return 1
  local n c
  for n in $(ranks_from 2); do
    run r$n.csv mpirun --oversubscribe -n $n "$bin" || return 1
    cmp -s one.csv r$n.csv || fail "$n ranks differ: $(diff one.csv r$n.csv | head -4)" || return 1
  done
  for c in 1 97 4096; do
    run c$c.csv "$bin" --set job.chunk_rows=$c || return 1
    cmp -s one.csv c$c.csv || fail "chunk_rows $c differs: $(diff one.csv c$c.csv | head -4)" || return 1
  done
  run sp.csv "$bin" --memory 24MiB --set job.chunk_rows=500 --metrics sp.json || return 1
  python3 - sp.json <<'EOF' || fail "the small budget did not spill" || return 1
import json, sys
m = json.load(open(sys.argv[1]))
def spilled(o):
    if isinstance(o, dict):
        return any((k == "bytes_spilled" and v > 0) or spilled(v) for k, v in o.items())
    if isinstance(o, list):
        return any(spilled(v) for v in o)
    return False
sys.exit(0 if spilled(m) else 1)
EOF
  cmp -s one.csv sp.csv || fail "spilled run differs: $(diff one.csv sp.csv | head -4)" || return 1
  run sp3.csv mpirun --oversubscribe -n 3 "$bin" --memory 48MiB --set job.chunk_rows=333 || return 1
  cmp -s one.csv sp3.csv || fail "spilled 3-rank run differs" || return 1
}

case_exact_against_fsum_and_numpy() {
  data 20000 40 150 && job || return 1
  run out.csv "$bin" || return 1
  # the system Python: numpy comes with python3-h5py (scripts/setup.sh)
  /usr/bin/python3 - in.csv out.csv <<'EOF' || fail "values are not exact" || return 1
import csv, math, sys
from fractions import Fraction as F
import numpy as np
xs, ys = {}, {}
for r in csv.DictReader(open(sys.argv[1])):
    xs.setdefault(int(r["k"]), []).append(float(r["x"]))
    ys.setdefault(int(r["k"]), []).append(float(r["y"]))
bad = 0
def ulps(a, b):
    return abs(a - b) / math.ulp(b) if b else abs(a)
for r in csv.DictReader(open(sys.argv[2])):
    k = int(r["k"]); x = xs[k]; n = len(x)
    s = float(r["s"])
    if s != math.fsum(x) or math.copysign(1, s) != math.copysign(1, math.fsum(x)):
        print("sum", k, s, math.fsum(x)); bad += 1
    fx = [F(v) for v in x]
    mean = sum(fx) / n
    if ulps(float(r["m"]), float(mean)) > 1:
        print("mean", k, r["m"], float(mean)); bad += 1
    var = sum((v - mean) ** 2 for v in fx) / (n - 1)
    got, npv = float(r["v"]), float(np.var(np.array(x), ddof=1))
    if abs(F(got) - var) > max(abs(F(npv) - var), F(math.ulp(float(var)))):
        print("var", k, got, float(var), "numpy", npv); bad += 1
    fy = [F(v) for v in ys[k]]
    my = sum(fy) / n
    sxy = sum((a - mean) * (b - my) for a, b in zip(fx, fy))
    syy = sum((b - my) ** 2 for b in fy)
    sxx = var * (n - 1)
    if r["c"] and sxx > 0 and syy > 0:
        r2 = sxy * sxy / (sxx * syy)
        exact = math.copysign(math.sqrt(float(r2)), sxy)
        if abs(float(r["c"]) - exact) > 4 * math.ulp(1.0):
            print("corr", k, r["c"], exact); bad += 1
sys.exit(1 if bad else 0)
EOF
}

# Offsets that one-pass formulas in doubles lose entirely.
case_large_offset_small_variance() {
  python3 -c '
print("k,x,y")
for i in range(1000):
    print(f"1,{1e12 + (i % 10) * 0.25!r},{float(i % 10)!r}")
    print(f"2,{1e16 + (i % 2) * 2!r},{-float(i % 2)!r}")' > in.csv
  job && run out.csv "$bin" || return 1
  python3 - out.csv <<'EOF' || fail "large offsets lost the variance: $(cat out.csv)" || return 1
import csv, sys
from fractions import Fraction as F
rows = {r["k"]: r for r in csv.DictReader(open(sys.argv[1]))}
v1 = [F(i % 10) / 4 for i in range(1000)]
m1 = sum(v1) / 1000
want1 = float(sum((v - m1) ** 2 for v in v1) / 999)
want2 = float(F(1000, 999))  # 500 values each of 1e16 and 1e16 + 2
ok = float(rows["1"]["v"]) == want1 and float(rows["2"]["v"]) == want2
ok = ok and float(rows["1"]["c"]) == 1.0 and float(rows["2"]["c"]) == -1.0
sys.exit(0 if ok else 1)
EOF
}

# min and max, aggregate and row-wise, by one order: NaN above every
# number, -0.0 below 0.0; so the answer does not depend on row order or
# argument order.
case_min_max_nan_and_zero_signs() {
  printf 'k,x\na,nan\na,2.0\nb,2.0\nb,nan\nc,0.0\nc,-0.0\nd,-0.0\nd,0.0\ne,nan\n' > in.csv
  cat > job.conf <<EOF
[source]
path = $PWD/in.csv
schema = k:string, x:float64

[derive]
lo1 = min(x, 2.0)
lo2 = min(2.0, x)
hi1 = max(x, 0.0)
hi2 = max(0.0, x)

[groupby]
keys = k
mn = min(x)
mx = max(x)
l1 = min(lo1)
l2 = min(lo2)
h1 = max(hi1)
h2 = max(hi2)

[sort]
by = k

[sink]
path = \${OUT}
overwrite = true
EOF
  run out.csv "$bin" || return 1
  local want n
  want=$'k,mn,mx,l1,l2,h1,h2\na,2.0,nan,2.0,2.0,nan,nan\nb,2.0,nan,2.0,2.0,nan,nan\nc,-0.0,0.0,-0.0,-0.0,0.0,0.0\nd,-0.0,0.0,-0.0,-0.0,0.0,0.0\ne,nan,nan,2.0,2.0,nan,nan'
  [ "$(cat out.csv)" = "$want" ] || fail "got $(cat out.csv)" || return 1
  for n in 2 3; do
    run r$n.csv mpirun --oversubscribe -n $n "$bin" --set job.chunk_rows=1 || return 1
    cmp -s out.csv r$n.csv || fail "$n ranks differ: $(cat r$n.csv)" || return 1
  done
}

run_cases "$@"

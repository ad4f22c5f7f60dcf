#!/usr/bin/env bash
# --profile: after the run, the plan as --explain prints it, each stage
# followed by its figures (rows, seconds, peak pool memory, spill) summed
# over the ranks, then advice. Checked on 1 to 4 ranks (mpirun) and on 2
# spawned ranks (--ranks 2): the stages are those of --explain, the rows
# chain from stage to stage and match the input and the output, the
# seconds add up to the total, and the advice follows what was measured.
#   test_profile.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2

data() {
  python3 - <<'PY'
with open("data.csv", "w") as f:
    f.write("id,grp,v,x,note\n")
    for i in range(40000):
        f.write("%d,g%d,%d,%.2f,note%d\n" % (i, i % 13, (i * 7) % 101, i / 7.0, i))
PY
}

# check_profile LOG ROWS_IN: the profile in LOG against explain.txt and
# out.csv.
check_profile() {
  python3 - "$1" "$2" <<'PY' || return 1
import re, sys
log = open(sys.argv[1]).read().splitlines()
rows_in = int(sys.argv[2])
explain = [l for l in open("explain.txt").read().splitlines() if l.startswith("  [")]
out_rows = sum(1 for _ in open("out.csv")) - 1
def bad(msg):
    print("  " + msg)
    print("\n".join("    | " + l for l in log))
    sys.exit(1)
heads = [i for i, l in enumerate(log) if l.startswith("profile: job")]
if len(heads) != 1:
    bad("want one profile header, got %d" % len(heads))
stages, figs = [], []
for i, l in enumerate(log):
    if l.startswith("  ["):
        stages.append(l)
        nxt = log[i + 1] if i + 1 < len(log) else ""
        m = re.match(r"    profile: rows (read|in) (\d+), rows out (\d+), "
                     r"([0-9.]+) s \(([0-9.]+)%\), peak pool ([0-9.]+ [KMGT]?i?B), "
                     r"spilled ([0-9.]+ [KMGT]?i?B)$", nxt)
        if not m:
            bad("no profile line under %r: %r" % (l, nxt))
        figs.append(m.groups())
if stages != explain:
    bad("stages differ from --explain: %r vs %r" % (stages, explain))
if figs[0][0] != "read" or int(figs[0][1]) != rows_in:
    bad("source read %s rows, not %d" % (figs[0][1], rows_in))
for k in range(len(figs) - 1):
    if figs[k][2] != figs[k + 1][1]:
        bad("stage %d hands on %s rows, stage %d takes %s" % (k, figs[k][2], k + 1, figs[k + 1][1]))
if int(figs[-1][2]) != out_rows or int(figs[-1][1]) != out_rows:
    bad("sink: %s rows, out.csv has %d" % (figs[-1][2], out_rows))
secs = sum(float(f[3]) for f in figs)
pct = sum(float(f[4]) for f in figs)
tot = [l for l in log if l.startswith("  total: ")]
if len(tot) != 1:
    bad("no total line")
total = float(tot[0].split()[1])
if abs(secs - total) > 0.001 * len(figs) + 1e-9:
    bad("stage seconds sum to %.3f, total says %.3f" % (secs, total))
if total > 0 and abs(pct - 100) > 0.1 * len(figs):
    bad("shares sum to %.1f%%" % pct)
if "advice:" not in log or not any(l.startswith("  - ") for l in log[log.index("advice:"):]):
    bad("no advice lines")
PY
}

# profile_on N ARGS...: runs the job under mpirun -n N (N = 0: one process
# without mpirun; "spawn": --ranks 2), the profile in log.txt and the plan
# as --explain prints it for the same ranks in explain.txt.
profile_on() {
  local n=$1
  shift
  local run=()
  case $n in
  0) run=("$bin") ;;
  spawn) run=("$bin" --ranks 2) ;;
  *) run=(timeout 300 mpirun --oversubscribe -n "$n" "$bin") ;;
  esac
  "${run[@]}" -q --profile "$@" job.conf >/dev/null 2>log.txt || fail "run on $n failed: $(cat log.txt)" || return 1
  "${run[@]}" --explain "$@" job.conf >explain.txt 2>&1 || fail "explain on $n failed" || return 1
}

case_stages_rows_seconds_any_ranks() {
  data
  printf '[source]\npath = data.csv\n[derive]\nw = v * 2\n[filter]\nwhere = v < 50\n[groupby]\nkeys = grp\ns = sum(w)\nn = count()\n[sort]\nby = grp\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  local n
  for n in 0 $(test_ranks) spawn; do
    profile_on "$n" || return 1
    check_profile log.txt 40000 || fail "on $n ranks" || return 1
    grep -q "profile: job 'job' on" log.txt || fail "header" || return 1
  done
}

case_limit_and_streaming() {
  data
  printf '[source]\npath = data.csv\n[filter]\nwhere = v %% 2 == 0\n[limit]\nrows = 1000\n[select]\ncolumns = id, x\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  local n
  for n in 0 2 4; do
    profile_on "$n" || return 1
    # A limit stops reading early: compare against what was read.
    local read
    read=$(sed -n 's/.*rows read \([0-9]*\),.*/\1/p' log.txt)
    check_profile log.txt "$read" || fail "on $n ranks" || return 1
  done
}

case_spill_advice() {
  python3 -c "
with open('data.csv','w') as f:
    f.write('id,v\n')
    for i in range(300000): f.write('key%d,%d\n' % (i * 7919 % 300000, i))
"
  printf '[job]\nspill_dir = .\n[source]\npath = data.csv\n[groupby]\nkeys = id\ns = sum(v)\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  local n
  for n in 0 2; do
    profile_on "$n" --memory 8MiB || return 1
    check_profile log.txt 300000 || fail "on $n ranks" || return 1
    grep -qE '^    profile: .* spilled [1-9][0-9.]* [KMG]iB$' log.txt || fail "no stage spilled: $(cat log.txt)" || return 1
    grep -qE '^  - spilled [0-9.]+ [KMG]iB to disk under a budget of 8.0 MiB per node: a budget of about [0-9.]+ [MG]iB' log.txt ||
      fail "no spill advice: $(cat log.txt)" || return 1
  done
}

case_reader_advice() {
  data
  printf '[source]\npath = data.csv\n[filter]\nwhere = v > 1000\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  profile_on 0 || return 1
  check_profile log.txt 40000 || return 1
  grep -q '^  - the reader was the bottleneck' log.txt || fail "no reader advice: $(cat log.txt)"
}

case_no_advice_without_profile() {
  data
  printf '[source]\npath = data.csv\n[sink]\npath = out.csv\noverwrite = true\n' >job.conf
  "$bin" -q job.conf >/dev/null 2>log.txt || fail "run failed" || return 1
  [ ! -s log.txt ] || fail "output without --profile: $(cat log.txt)"
}

run_cases "$@"

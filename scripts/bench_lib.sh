# Sourced by the benchmark scripts: what they all need to read a machine.
#   . scripts/bench_lib.sh

# median: the median of the numbers on standard input, one a line (NA for
# none).
median() {
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# core_speeds: seconds of the same Python loop pinned to each core. On a
# virtual machine one core can run at half the speed of another for
# minutes (its host thread shares a physical core); a process that runs
# there burns more CPU-seconds for the same work, so figures compare only
# when the cores agree at the start and the end of a run.
core_speeds() {
  local c
  for c in $(seq 0 $(($(nproc) - 1))); do
    printf ' core %s %.3f s' "$c" "$(taskset -c "$c" /usr/bin/python3 -c '
import time
t = time.perf_counter()
x = 0
for i in range(3000000):
    x += i * i
print(time.perf_counter() - t)')"
  done
}

# groupby_data DIR FILE: the db-benchmark group-by table of 1e7 rows and
# 100 groups of id1 as DIR/FILE, generated when missing.
groupby_data() {
  if [ ! -f "$1/$2" ]; then
    mkdir -p "$1"
    /usr/bin/python3 scripts/gen_groupby.py 1e7 100 "$1/$2"
  fi
}

#!/usr/bin/env bash
# HDF5 scan throughput of pipeline against the floor of reading the same
# file's bytes.
#
# Makes the db-benchmark group-by table (G1_<N>_1e2, with the string columns
# id1..id3) as HDF5 when missing, with scripts/gen_groupby_h5.py, in both
# layouts (columns, compound), plain and zstd. For each file, timed from
# outside, page cache warm, median of RUNS after one warm-up run:
#   - the floor: `cat FILE > /dev/null`;
#   - cold floor: `dd` after dropping the page cache, when this machine lets
#     us (`echo 3 > /proc/sys/vm/drop_caches`, root on most VMs); said so
#     when it does not;
#   - pipeline's scan, as the CSV scan floor of scripts/bench_groupby.sh:
#     every column read and decoded, `[filter] where = false`, nothing
#     written; alone (1 rank) and under `mpirun -n 2`.
# Then (TRANSFER=1) the read transfer modes on the plain columns file, with
# a small MPI program built here: POSIX reads (what pipeline does), MPI-IO
# independent and MPI-IO collective transfers, on 1 and 2 ranks, each rank
# reading its own row range of every dataset in chunk-sized hyperslabs.
#
# Prints a markdown report and writes it to $REPORT.
#
# usage: scripts/bench_hdf5_scan.sh
# env:  N=1e7  K=100  RUNS=3  LEVEL=3 (zstd)  RANKS="1 2"  TRANSFER=1
#       DATA=/tmp/bench-data  PIPELINE=build/pipeline
#       REPORT=bench/results/hdf5-scan-<date>.md  MACHINE="<free text>"
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-1e7}
K=${K:-100}
RUNS=${RUNS:-3}
LEVEL=${LEVEL:-3}
RANKS=${RANKS:-"1 2"}
TRANSFER=${TRANSFER:-1}
DATA=${DATA:-/tmp/bench-data}
PIPELINE=${PIPELINE:-$ROOT/build/pipeline}
REPORT=${REPORT:-$ROOT/bench/results/hdf5-scan-$(date +%Y-%m-%d).md}
MACHINE=${MACHINE:-"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/^Mem/ {print $2}') GiB"}
PY=/usr/bin/python3 # Debian's, with numpy and h5py
SCRATCH=$DATA/hdf5-scan
. "$ROOT/scripts/env.sh"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$PIPELINE" ] || bash "$ROOT/scripts/setup.sh" || exit 1
"$PY" -c 'import numpy, h5py' 2>/dev/null || die "needs python3-numpy and python3-h5py"
command -v mpicc >/dev/null || die "needs mpicc (libopenmpi-dev)"
mkdir -p "$SCRATCH/plug" "$(dirname "$REPORT")"

# A zstd filter plugin (id 32015) for h5py, which Debian's hdf5plugin lacks.
# shellcheck disable=SC2046
cc -O2 -shared -fPIC $(pkg-config --cflags hdf5) -o "$SCRATCH/plug/libzstd32015.so" \
  "$ROOT/tests/e2e/h5_zstd_plugin.c" -lzstd || die "cannot build the zstd plugin"

base=G1_${N}_$(printf '%.0e' "$K" | sed 's/e+0*/e/')
file_of() { echo "$DATA/${base}_$1_$2.h5"; } # layout, plain|zstd
for layout in columns compound; do
  for comp in plain zstd; do
    f=$(file_of "$layout" "$comp")
    [ -s "$f" ] && continue
    log "generating $f"
    z=()
    [ "$comp" = zstd ] && z=(--zstd "$LEVEL")
    HDF5_PLUGIN_PATH=$SCRATCH/plug "$PY" "$ROOT/scripts/gen_groupby_h5.py" "$N" "$K" "$f.tmp" \
      "$layout" --strings "${z[@]}" && mv "$f.tmp" "$f" || die "gen_groupby_h5.py failed"
  done
done

# median of the numbers on standard input
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# wall seconds of one run of "$@" (its output dropped); fails when it fails
wall() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$SCRATCH/last.err" || { log "failed: $* ($(tail -3 "$SCRATCH/last.err"))"; return 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
# timed CMD...: one warm-up, then the median of RUNS runs
timed() {
  local i
  wall "$@" >/dev/null || return 1
  for ((i = 0; i < RUNS; i++)); do wall "$@" || return 1; done | median
}

drop_caches() { sync && echo 3 2>/dev/null >/proc/sys/vm/drop_caches; }
COLD=0
if drop_caches; then COLD=1; else log "cannot drop the page cache here: no cold floor"; fi

scan_conf() { # file layout -> the scan job
  local ds
  if [ "$2" = columns ]; then ds="datasets = /id1, /id2, /id3, /id4, /id5, /id6, /v1, /v2, /v3"; else ds="dataset = /table"; fi
  printf '[job]\nname = scan\n[source]\npath = %s\n%s\n[filter]\nwhere = false\n[sink]\npath = %s/scan.csv\noverwrite = true\n' \
    "$1" "$ds" "$SCRATCH"
}

rows=$(printf '%.0f' "$N")
raw_mb=$(echo "$rows * 44 / 1000000" | bc -l) # 5+5+12 (strings) + 3*4 + 2*1 + 8 bytes a row
table="| layout | compression | file MB | what | ranks | median s | MB/s (file) | MB/s (raw) | × cat floor |
|---|---|---:|---|---:|---:|---:|---:|---:|"
for layout in columns compound; do
  for comp in plain zstd; do
    f=$(file_of "$layout" "$comp")
    mb=$(echo "$(stat -c %s "$f") / 1000000" | bc -l)
    row() { # what ranks seconds floor
      printf '| %s | %s | %.0f | %s | %s | %.3f | %.0f | %.0f | %s |\n' "$layout" "$comp" "$mb" "$1" "$2" "$3" \
        "$(echo "$mb / $3" | bc -l)" "$(echo "$raw_mb / $3" | bc -l)" "$4"
    }
    log "$f: floors"
    cat_s=$(timed cat "$f") || exit 1
    table+=$'\n'$(row "cat > /dev/null (warm)" - "$cat_s" 1.00)
    if [ "$COLD" = 1 ]; then
      dd_all=""
      for ((i = 0; i < RUNS; i++)); do
        drop_caches
        dd_all+="$(wall dd if="$f" of=/dev/null bs=4M)"$'\n'
      done
      dd_s=$(printf '%s' "$dd_all" | median)
      table+=$'\n'$(row "dd, page cache dropped (cold)" - "$dd_s" "$(printf '%.2f' "$(echo "$dd_s / $cat_s" | bc -l)")")
      cat "$f" >/dev/null
    fi
    scan_conf "$f" "$layout" >"$SCRATCH/scan-$layout-$comp.conf"
    for n in $RANKS; do
      log "$f: pipeline scan, $n rank(s)"
      if [ "$n" = 1 ]; then
        s=$(timed "$PIPELINE" -q "$SCRATCH/scan-$layout-$comp.conf") || exit 1
      else
        s=$(timed mpirun -n "$n" "$PIPELINE" -q "$SCRATCH/scan-$layout-$comp.conf") || exit 1
      fi
      table+=$'\n'$(row "pipeline scan" "$n" "$s" "$(printf '%.2f' "$(echo "$s / $cat_s" | bc -l)")")
    done
  done
done

# ------------------------------------------------------------- transfer modes
transfer=""
if [ "$TRANSFER" = 1 ]; then
  cat >"$SCRATCH/h5readmodes.c" <<'EOF'
/* Reads every 1-D dataset under / of FILE: each rank its own row range, in
 * hyperslabs of CHUNK rows, into memory of the stored (native) type; every
 * rank makes the same number of H5Dread calls (empty selections when its
 * range is done), as collective transfer needs. MODE: posix (the sec2
 * driver, what pipeline does), independent or collective (MPI-IO).
 * Prints the slowest rank's seconds. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXD 64
static char names[MAXD][64];
static int nd;
static herr_t add(hid_t g, const char *name, const H5L_info_t *i, void *d)
{
	if (nd < MAXD)
		snprintf(names[nd++], 64, "%s", name);
	return 0;
}
int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	const char *path = argv[1], *mode = argv[2];
	hsize_t chunk = argc > 3 ? strtoull(argv[3], NULL, 10) : 65536;
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), dxpl = H5Pcreate(H5P_DATASET_XFER);
	if (strcmp(mode, "posix") != 0)
		H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
	if (strcmp(mode, "collective") == 0)
		H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	if (f < 0)
		MPI_Abort(MPI_COMM_WORLD, 1);
	H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, add, NULL);
	for (int k = 0; k < nd; k++) {
		hid_t d = H5Dopen2(f, names[k], H5P_DEFAULT);
		hid_t fs = H5Dget_space(d), ft = H5Dget_type(d);
		hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
		hsize_t n;
		H5Sget_simple_extent_dims(fs, &n, NULL);
		hsize_t share = (n + size - 1) / size, first = share * rank;
		hsize_t last = first + share < n ? first + share : n;
		if (first > last)
			first = last;
		hsize_t rounds = (share + chunk - 1) / chunk;
		char *buf = malloc(chunk * H5Tget_size(mt));
		for (hsize_t r = 0; r < rounds; r++) {
			hsize_t at = first + r * chunk;
			hsize_t m = at < last ? (last - at < chunk ? last - at : chunk) : 0;
			hid_t ms = H5Screate_simple(1, m ? &m : &chunk, NULL);
			if (m) {
				H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &m, NULL);
			} else {
				H5Sselect_none(fs);
				H5Sselect_none(ms);
			}
			if (H5Dread(d, mt, ms, fs, dxpl, buf) < 0)
				MPI_Abort(MPI_COMM_WORLD, 2);
			H5Sclose(ms);
		}
		free(buf);
		H5Tclose(mt);
		H5Tclose(ft);
		H5Sclose(fs);
		H5Dclose(d);
	}
	H5Fclose(f);
	double t = MPI_Wtime() - t0, worst;
	MPI_Reduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	if (rank == 0)
		printf("%.4f\n", worst);
	MPI_Finalize();
	return 0;
}
EOF
  # shellcheck disable=SC2046
  mpicc -O2 $(pkg-config --cflags hdf5) -o "$SCRATCH/h5readmodes" "$SCRATCH/h5readmodes.c" \
    $(pkg-config --libs hdf5) || die "cannot build h5readmodes"
  for comp in plain zstd; do
    f=$(file_of columns "$comp")
    for n in $RANKS; do
      for mode in posix independent collective; do
        log "transfer: $comp $mode, $n rank(s)"
        s=$(export HDF5_PLUGIN_PATH=$SCRATCH/plug
          mpirun -n "$n" "$SCRATCH/h5readmodes" "$f" "$mode" >/dev/null || exit 1
          for ((i = 0; i < RUNS; i++)); do mpirun -n "$n" "$SCRATCH/h5readmodes" "$f" "$mode" || exit 1; done | median) ||
          die "h5readmodes failed"
        transfer+=$'\n'"| $comp | $mode | $n | $s |"
      done
    done
  done
fi

cold_note="dd with the page cache dropped (\`echo 3 > /proc/sys/vm/drop_caches\`)"
[ "$COLD" = 1 ] || cold_note="no cold floor: dropping the page cache is not allowed here"
{
  echo "# HDF5 scan throughput, $(date +%Y-%m-%d)"
  echo
  echo "Machine: $MACHINE. Table G1_${N}_1e2 (db-benchmark group-by, $rows rows, 9 columns:"
  echo "id1..id3 fixed-length strings, id4..id6 int32, v1, v2 int8, v3 float64; ${raw_mb%.*} MB raw),"
  echo "made by scripts/gen_groupby_h5.py (zstd level $LEVEL). Median wall seconds of $RUNS runs after one"
  echo "warm-up, page cache warm unless said. \"pipeline scan\": every column read and decoded,"
  echo "\`[filter] where = false\`, nothing written; 1 rank is one process without MPI, 2 ranks"
  echo "\`mpirun -n 2\` (its start-up, about 0.3 s, included). MB/s (file): file bytes / s; MB/s"
  echo "(raw): the table's uncompressed bytes / s. Cold floor: $cold_note."
  echo
  echo "$table"
  if [ -n "$transfer" ]; then
    echo
    echo "Read transfer modes (scripts/bench_hdf5_scan.sh's h5readmodes: the columns file, every"
    echo "rank its own row range of every dataset in 65536-row hyperslabs; slowest rank's seconds,"
    echo "median of $RUNS; posix = the sec2 driver, as pipeline reads):"
    echo
    echo "| file | transfer | ranks | median s |"
    echo "|---|---|---:|---:|"
    echo "${transfer#$'\n'}"
  fi
} | tee "$REPORT"
log "wrote $REPORT"

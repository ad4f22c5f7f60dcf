#!/usr/bin/env bash
# Sets up, builds, and runs the whole test suite: CUnit unit tests and
# end-to-end jobs (each under mpirun with 1, 2, 3 and 4 ranks).
#   scripts/test.sh             Release build, then each fuzzer for
#                               FUZZ_SECONDS (default 10) under clang's
#                               ASan + UBSan
#   scripts/test.sh --sanitize  AddressSanitizer + UBSan build (the MPI
#                               comparisons on 1 and 3 ranks)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "$@"
. scripts/env.sh
build=build
[ "${1:-}" = "--sanitize" ] && build=build-sanitize
if [ "${1:-}" = "--sanitize" ]; then
  # MPI's own allocations are not ours to report. use_tls=0: gcc 12's
  # LeakSanitizer crashes scanning the dynamic TLS of Open MPI's plugins.
  # fast_unwind_on_malloc=0: Open MPI's libraries have no frame pointers,
  # and the suppressions match its leaks through the deeper frames (with
  # the fast unwinder glibc's dlopen leaks one block no rule names); it
  # costs about 0.1 CPU-second a rank. The sanitized programs keep Open
  # MPI's plugins loaded until exit (tools/lsan_keep_mca.c): unloaded,
  # they made the leak check at exit 2 to 3 CPU-seconds a rank.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
  export LSAN_OPTIONS=use_tls=0:suppressions=$PWD/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0
  # The release build walks the first 50 allocations of each fault-walk
  # job and 150 more spread over the rest; under ASan each run costs ten
  # times as much, so the first 20 and 20 more (the walk took ten minutes
  # at 50 and 50, a third of CI). WALK_FIRST=50 WALK_POINTS=150 walks as
  # many as the release build.
  export WALK_FIRST=${WALK_FIRST:-20} WALK_POINTS=${WALK_POINTS:-20}
  # Every mpirun launch costs about 1 CPU-second a rank here, whatever the
  # job (LeakSanitizer's check at exit of what Open MPI keeps; 2 to 3
  # before its plugins stayed loaded): the walk of the group-by on 2 ranks
  # fails the first 3 allocations and 3 or 4 more spread over the rest (the
  # release build: 5 and 10; WALK_FIRST_RANKS=5 WALK_POINTS_RANKS=10 as
  # many).
  export WALK_FIRST_RANKS=${WALK_FIRST_RANKS:-3} WALK_POINTS_RANKS=${WALK_POINTS_RANKS:-4}
  # The release run compares answers on 1, 2, 3 and 4 ranks; here one
  # rank and three look for memory errors (tests/e2e/lib.sh, test_ranks).
  export PL_TEST_RANKS=${PL_TEST_RANKS:-1 3}
  # Cases that repeat a job over many combinations (HDF5 layouts,
  # compressions and inputs, group-by modes, the example jobs, projection
  # and timestamp jobs, output parts) run each combination alone and under
  # mpirun on one of those counts, taken in turn, rather than on every one
  # (tests/e2e/lib.sh, combo_ranks): each option still meets one rank and
  # three. The distributed sort and join cases run one case on every count
  # and the others on three. PL_TEST_SPREAD=0 runs every pair, as the
  # release run does.
  export PL_TEST_SPREAD=${PL_TEST_SPREAD:-1}
fi
# CTEST_EXCLUDE: a regular expression of tests to leave out (ctest -E).
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" ${CTEST_EXCLUDE:+-E "$CTEST_EXCLUDE"}
if [ "${1:-}" != "--sanitize" ]; then
  FUZZ_SEED=${FUZZ_SEED:-1} bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
fi

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
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
  export LSAN_OPTIONS=use_tls=0:suppressions=$PWD/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0
  # The release build walks the first 50 allocations of each fault-walk
  # job and 150 more spread over the rest; under ASan each run costs ten
  # times as much, so the first 20 and 20 more (the walk took ten minutes
  # at 50 and 50, a third of CI). WALK_FIRST=50 WALK_POINTS=150 walks as
  # many as the release build.
  export WALK_FIRST=${WALK_FIRST:-20} WALK_POINTS=${WALK_POINTS:-20}
  # The release run compares answers on 1, 2, 3 and 4 ranks; here one
  # rank and three look for memory errors (tests/e2e/lib.sh, test_ranks).
  export PL_TEST_RANKS=${PL_TEST_RANKS:-1 3}
fi
# CTEST_EXCLUDE: a regular expression of tests to leave out (ctest -E).
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" ${CTEST_EXCLUDE:+-E "$CTEST_EXCLUDE"}
if [ "${1:-}" != "--sanitize" ]; then
  FUZZ_SEED=${FUZZ_SEED:-1} bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
fi

#!/usr/bin/env bash
# Runs the exchange unit test as 1 to 4 MPI ranks.
#   test_exchange.sh PIPELINE BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
run_mpi_unit_test "$2" test_exchange

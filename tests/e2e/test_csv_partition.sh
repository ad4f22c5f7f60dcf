#!/usr/bin/env bash
# Runs the collective CSV split test as 1 to 4 MPI ranks: the union of the
# ranks' shares, in rank order, must be the whole input.
#   test_csv_partition.sh PIPELINE BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
run_mpi_unit_test "$2" test_csv_partition_mpi

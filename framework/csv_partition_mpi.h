/* The collective half of the CSV split: every rank counts the quotes and
 * LFs of its slice of each cell (io/csv_partition.h: the nominal ranges
 * of all ranks but the last, each cut in nranks slices), a sum over the
 * ranks gives every rank the counts of the bytes before its range and of
 * its range, and each rank moves both edges of its range to record starts
 * on its own (its end is the next rank's start, computed alike, so no
 * more is exchanged). */
#ifndef PIPELINE_FRAMEWORK_CSV_PARTITION_MPI_H
#define PIPELINE_FRAMEWORK_CSV_PARTITION_MPI_H

#include <mpi.h>

#include "io/csv_partition.h"

/* Computes this rank's share of o's files among the ranks of comm; every
 * rank of comm must call it. The shares of ranks 0, 1, ... in order hold
 * every record once, in input order. When any rank fails, all return an
 * error: the failing rank its own (PL_ERR_IO naming the file, ...), the
 * others "stopped: rank N failed". out is the caller's (pl_csv_share_free)
 * and empty on error.
 *
 * With guess set nothing is counted: each edge moves by the parity
 * pl_csv_guess_parity gives, and the pieces' lines are 0 (unknown). The
 * shares are then right unless a guess was wrong, which the reader of
 * the share before that edge reports as a quoted field running past its
 * end (PL_ERR_DATA), so a job that fails with a data error after a guess
 * must be run again counting. *guessed (alike on every rank) says
 * whether an edge was guessed: guess set and some file cut. */
int pl_csv_partition_mpi(MPI_Comm comm, const pl_csv_options *o, int guess,
			 pl_csv_share *out, int *guessed, pl_error *err);

#endif

/* The executor's parts, shared by exec.c (the chain), exec_merge.c (merge
 * points across ranks) and output.c (the sink on one rank or many). */
#ifndef PIPELINE_FRAMEWORK_EXEC_INTERNAL_H
#define PIPELINE_FRAMEWORK_EXEC_INTERNAL_H

#include <mpi.h>

#include "framework/exec.h"
#include "framework/sink.h"
#include "framework/spill.h"
#include "io/csv_writer.h"

typedef struct pl_exec pl_exec;

typedef struct pl_stage {
	pl_exec *x;
	size_t index; /* operator index, or nops for the sink */
	int stopped;  /* accepts no more input */
} pl_stage;

/* Where the last stage's rows go. One rank: the sink itself. Several
 * ranks, CSV: each rank writes its rows to a part file beside the output,
 * and the parts are copied into the output with MPI-IO at offsets from an
 * exclusive prefix sum of their sizes. HDF5, any number of ranks: each
 * rank spools its rows, then all write one file with parallel HDF5. */
typedef struct pl_output {
	const pl_plan *p;
	int rank, nranks;
	pl_sink *sink;		 /* one rank, CSV */
	pl_csv_writer *part;	 /* several ranks, CSV */
	struct pl_h5_output *h5; /* HDF5: this rank's rows, spooled */
} pl_output;

struct pl_exec {
	pl_plan *p;
	MPI_Comm comm;
	int rank, nranks;
	pl_stage *stages;
	pl_emitter *emitters; /* emitters[i] feeds stage i */
	pl_emitter discard;   /* drops rows: for local merge-point instances */
	pl_operator **merged; /* merging instance of each merge point */
	pl_spill **spills;    /* of operators that can spill, else NULL */
	pl_output out;
	pl_run_stats *st;
	uint64_t bytes_raw, bytes_sent; /* shuffled partial state */
	uint64_t bytes_spilled;
};

/* Whether operator i is split across ranks through partial/merge. */
int pl_exec_is_merge_point(const pl_exec *x, size_t i);

/* Runs merge point i: partial state of every rank to its owners, merged
 * into a second instance whose finish feeds stage i + 1. Collective. */
int pl_exec_merge(pl_exec *x, size_t i, pl_error *err);

/* Emits the partial state of local instance i, spilled parts first. */
int pl_exec_partial(pl_exec *x, size_t i, const pl_emitter *out, pl_error *err);

/* Destroys the merging instance of operator i, if any. */
void pl_exec_free_merged(pl_exec *x, size_t i);

/* Opens this rank's output. */
int pl_output_open(pl_output *o, const pl_plan *p, MPI_Comm comm,
		   pl_error *err);

int pl_output_write(pl_output *o, const pl_batch *b, pl_error *err);

/* Collective: with rc 0 on every rank, completes the output under its
 * final name; otherwise removes every trace of it. Returns the agreed
 * status; *bytes gets the bytes this rank wrote. */
int pl_output_close(pl_output *o, int rc, MPI_Comm comm, uint64_t *bytes,
		    pl_error *err);

#endif

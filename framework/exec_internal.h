/* The executor's parts, shared by exec.c (the chain), exec_merge.c (merge
 * points across ranks) and output.c (the sink on one rank or many). */
#ifndef PIPELINE_FRAMEWORK_EXEC_INTERNAL_H
#define PIPELINE_FRAMEWORK_EXEC_INTERNAL_H

#include <mpi.h>

#include "framework/exchange.h"
#include "framework/exec.h"
#include "framework/run_file.h"
#include "framework/sink.h"
#include "framework/spill.h"
#include "io/csv_writer.h"

typedef struct pl_exec pl_exec;
typedef struct pl_stream_point pl_stream_point;
typedef struct pl_range_sample pl_range_sample;

typedef struct pl_stage {
	pl_exec *x;
	size_t index; /* operator index, or nops for the sink */
	int stopped;  /* accepts no more input */
} pl_stage;

/* Where the last stage's rows go. One rank: the sink itself. Several
 * ranks, CSV: rank 0 writes its rows to the output's temporary file, each
 * other rank to a part file beside it, and the other parts are copied in
 * (copy_file_range, else MPI-IO) at offsets from an exclusive prefix sum
 * of the sizes before rank 0 renames the file into place; or, where row
 * order is free and the ranks share a host, all append to rank 0's. HDF5, any
 * number of ranks: each rank spools its rows, then all write one file with
 * parallel HDF5. */
typedef struct pl_output {
	const pl_plan *p;
	int rank, nranks;
	pl_sink *sink;		 /* one rank, CSV */
	pl_csv_writer *part;	 /* several ranks, CSV */
	struct pl_h5_output *h5; /* HDF5: this rank's rows, spooled */
	int shared; /* every rank appends to rank 0's part (pl_output_share) */
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
	pl_stream_point **streams; /* merge points fed while streaming */
	pl_range_sample **samples; /* of PL_SPLIT_RANGE_MERGE points' input */
	pl_output out;
	pl_run_stats *st;
	uint64_t bytes_raw, bytes_sent; /* shuffled partial state */
	uint64_t bytes_spilled;
	int spill_depth;
	size_t stage;	   /* the stage running now (pl_exec_stage_slot's k) */
	double stage_mark; /* when it started running */
	size_t peak_mark;  /* the pool's high-water mark then */
};

/* Counts bytes operator i spilled, in all and for its stage. */
static inline void pl_exec_add_spill(pl_exec *x, size_t i, uint64_t bytes)
{
	x->bytes_spilled += bytes;
	x->st->stage_spilled[pl_exec_stage_slot(x->p->nops, i + 1)] += bytes;
}

/* Creates operator i's merging instance, x->merged[i]. */
int pl_exec_new_instance(pl_exec *x, size_t i, pl_error *err);

/* The zstd level of shuffles: 0 (none) when all ranks share a node. */
int pl_exec_shuffle_level(const pl_exec *x);

/* Pre-aggregation modes of a stream point (PIPELINE_PREAGG). */
enum { PL_PREAGG_AUTO, PL_PREAGG_ON, PL_PREAGG_OFF };

/* Whether merge point i is fed while the input streams (exec_stream.c):
 * its operator set input_keys. The same on every rank. */
int pl_exec_is_stream_point(const pl_exec *x, size_t i);

/* Sets up every stream point: merging instance, its spill, exchange.
 * Collective; x->streams must be allocated (nops entries). */
int pl_exec_stream_open(pl_exec *x, pl_error *err);

/* Takes batch b at stream point i: aggregated here or sent on to the
 * owners of its keys. On failure the point's exchange has been told. */
int pl_exec_stream_process(pl_exec *x, size_t i, const pl_batch *b,
			   pl_error *err);

/* Ends stream point i's input exchange after its last batch: finishes it
 * when rc is 0, else reports rc through it. Returns the agreed status.
 * Collective. */
int pl_exec_stream_end(pl_exec *x, size_t i, int rc, pl_error *err);

/* After a failure (rc): reports it through every exchange still open, in
 * order, so that no rank waits in a round. Collective. */
void pl_exec_stream_abort(pl_exec *x, int rc, pl_error *err);

/* Merge point i for a stream point: local state to its owners, then the
 * merging instance finishes into stage i + 1. Collective. */
int pl_exec_stream_merge(pl_exec *x, size_t i, pl_error *err);

/* Frees the stream points (their exchanges must be ended). */
void pl_exec_stream_free(pl_exec *x);

/* Whether to pass a window's rows on rather than aggregate them: rho is
 * the partial rows the window added per row, ship and agg the measured
 * seconds per row of sending one and aggregating one. */
int pl_preagg_should_pass(double rho, double ship, double agg);

/* The number of distinct keys D of a uniform draw in which n rows held d
 * distinct keys (the D solving d = D (1 - exp(-n / D))); INFINITY when
 * none repeated (d >= n). */
double pl_preagg_estimate_keys(double n, double d);

/* New keys expected among the next rows rows when d of keys keys have
 * been seen and rows draw keys uniformly (rows when keys is INFINITY). */
double pl_preagg_expected_new(double keys, double d, double rows);

/* Starts sampling the input of every merge point split by
 * PL_SPLIT_RANGE_MERGE (several ranks): its splitters then come from
 * there, and the local instance's rows are read once, by the route. */
int pl_exec_range_open(pl_exec *x, pl_error *err);

/* Samples a batch of merge point i's input (x->samples[i] set). */
int pl_exec_range_observe(pl_exec *x, size_t i, pl_batch *b, pl_error *err);

/* Frees the samples (also after a failure). */
void pl_exec_range_free(pl_exec *x);

/* Runs merge point i split by key ranges (exec_range.c). Collective. */
int pl_exec_merge_range(pl_exec *x, size_t i, pl_error *err);

/* Whether operator i is split across ranks through partial/merge. */
int pl_exec_is_merge_point(const pl_exec *x, size_t i);

/* Runs merge point i: partial state of every rank to its owners, merged
 * into a second instance whose finish feeds stage i + 1. Collective. */
int pl_exec_merge(pl_exec *x, size_t i, pl_error *err);

/* Emits the partial state of local instance i, spilled parts first. */
int pl_exec_partial(pl_exec *x, size_t i, const pl_emitter *out, pl_error *err);

/* As pl_exec_partial, as the last use of the instance's state (the
 * operator may free it as it emits: last_partial); only
 * pl_exec_reset_local or the instance's destruction may follow. */
int pl_exec_partial_last(pl_exec *x, size_t i, const pl_emitter *out,
			 pl_error *err);

/* When rc is an error and err holds no message (an operator returned a
 * code without filling err), sets one naming op's section and the
 * callback (what); returns rc. */
int pl_exec_op_error(const pl_operator *op, const char *what, int rc,
		     pl_error *err);

/* Destroys the merging instance of operator i, if any. */
void pl_exec_free_merged(pl_exec *x, size_t i);

/* Opens this rank's output. */
int pl_output_open(pl_output *o, const pl_plan *p, MPI_Comm comm,
		   pl_error *err);

/* Collective, after pl_output_open and an agreement on rc: when the
 * output's row order is free (pl_operator.any_order), its CSV file
 * uncompressed, and the ranks on one host, every rank appends whole rows
 * to rank 0's part instead of writing a part of its own, so that nothing
 * is copied at the end. Otherwise, or when that cannot be set up, the
 * parts stay as they are. Returns the agreed status. */
int pl_output_share(pl_output *o, int rc, MPI_Comm comm, pl_error *err);

int pl_output_write(pl_output *o, const pl_batch *b, pl_error *err);

/* Collective: with rc 0 on every rank, completes the output under its
 * final name; otherwise removes every trace of it. Returns the agreed
 * status; *bytes gets the bytes this rank wrote. */
int pl_output_close(pl_output *o, int rc, MPI_Comm comm, uint64_t *bytes,
		    pl_error *err);

#endif

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

/* Bytes buffered per destination that start a shuffle round (at most),
 * and the zstd level of rows shuffled across nodes. Rounds of 1 MiB
 * rather than 4 cost more collectives but let a rank's send, receive and
 * decoded buffers be a quarter as big: an exchange's buffers were ~25 MB
 * of fresh memory a rank at the end of a 4-rank q3, and on the test VM
 * each fresh MB costs ~1.5 ms to fault in (4-rank q3, medians of 5:
 * 1.86 -> 1.65 CPU-s). */
#define PL_SHUFFLE_ROUND_BYTES ((size_t)1 << 20)
/* zstd's fast level 5 rather than level 1: 4 ranks on 2 fake nodes,
 * medians of 3, CPU-seconds of all ranks: the sort 9.05 -> 7.99, q10
 * 8.48 -> 7.58, q6 2.47 -> 2.27, for 30% more bytes on the wire (the
 * sort's 786 MB raw as 230 MB against 177; level -3 was slower and sent
 * more). Which pays on a real network depends on its speed against the
 * cores' (not measured here: the fake nodes share memory). */
#define PL_SHUFFLE_ZSTD_LEVEL (-5)

/* A shuffle of a merge point's partial state (exec_merge.c): rows go out
 * with extra columns after the partial ones, the last being the sender's
 * rank, and are filed on arrival by sender in run files, as batches of
 * the partial columns alone. */
typedef struct pl_shuffle {
	pl_exec *x;
	size_t op; /* the operator whose state it carries */
	pl_exchange *ex;
	pl_run_file **from; /* rows received, per sending rank */
	pl_codec *codec;
	size_t extra;	 /* columns after the partial ones: 1 or 2 */
	pl_column src;	 /* this rank's number, repeated */
	pl_column *cols; /* a partial batch plus the extra columns */
	size_t hold;	 /* bytes the run files may keep in memory together */
} pl_shuffle;

/* Sets up a shuffle of operator i's partial state whose wire schema is
 * the partial schema plus the extra names (int64 columns), the sender's
 * rank last; fills wire. sh->x must be set; free with pl_shuffle_free
 * also on failure. Local: the exchange is the caller's to create. */
int pl_shuffle_init(pl_shuffle *sh, const pl_operator *local,
		    const char *const *extra, size_t nextra, pl_schema *wire,
		    pl_error *err);
void pl_shuffle_free(pl_shuffle *sh);

/* Raw bytes per destination and round of a shuffle: a round brings a
 * receiver at most a sixteenth of its budget, however well the rows
 * compressed on the way. */
size_t pl_shuffle_round_bytes(const pl_exec *x);

/* An exchange callback: files received rows by their sender. */
int pl_shuffle_receive(void *arg, pl_batch *rows, pl_error *err);

/* Pushes the rows of partial batch b into the shuffle, with dest (NULL
 * when extra is 1; else b->nrows values) then the sender's rank as the
 * extra columns. */
int pl_shuffle_push(pl_shuffle *sh, const pl_batch *b, const pl_column *dest,
		    pl_error *err);

/* Merges what each rank sent, rank 0's first, into a new instance of
 * operator i (which spills over budget as a local one would) and
 * finishes it into stage i + 1. partial: operator i's partial schema. */
int pl_shuffle_merge_received(pl_shuffle *sh, size_t i,
			      const pl_schema *partial, pl_error *err);

/* Gives back the memory of operator i's local instance once its partial
 * state has been sent: the instance starts afresh, empty. */
int pl_exec_reset_local(pl_exec *x, size_t i, pl_error *err);

/* Adds the exchange's traffic to the run's counters. */
void pl_exec_count_stats(pl_exec *x, const pl_exchange *ex);

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

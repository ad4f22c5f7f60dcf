/* External merge sort for [sort]: sorted runs spilled to one file, merged
 * back in order.
 *
 * When its rows pass the budget, [sort] sorts what it holds and hands it
 * here as a run: batch-codec messages (zstd level 1) appended to a file in
 * spill_dir that is unlinked as soon as it is created, so nothing is left
 * behind whatever way the process ends. At the end the runs are merged
 * with a binary heap over their current rows, reading each run message by
 * message: memory holds one message per run. Messages are sized so that
 * MERGE_FANIN runs fit in half the budget; with more runs, groups of them
 * are first merged into longer runs at the end of the same file.
 *
 * Runs are written in input order and equal rows go to the earlier run,
 * so merging keeps the sort stable. */
#ifndef PIPELINE_OPERATORS_SORT_SPILL_H
#define PIPELINE_OPERATORS_SORT_SPILL_H

#include <stdint.h>

#include "operators/row_order.h"
#include "operators/row_store.h"
#include "pipeline/codec.h"
#include "pipeline/operator.h"

/* A run: bytes [start, end) of the spill file. */
typedef struct pl_sort_run {
	uint64_t start, end;
} pl_sort_run;

typedef struct pl_sort_spill {
	pl_pool *pool;
	const char *dir;
	int fd;		   /* -1 until the first run */
	pl_codec *codec;   /* NULL until the first run */
	pl_bytes wbuf;	   /* encoded, not yet written */
	uint64_t end;	   /* bytes in the file */
	pl_sort_run *runs; /* pool buffer, in input order */
	size_t nruns, cap;
	size_t msg_bytes; /* raw bytes a message aims at */
	size_t written;	  /* runs spilled from memory */
	uint64_t bytes;	  /* bytes written to the file */
} pl_sort_spill;

/* How merged rows are ordered and cut: by keys[0..nkeys); with a limit,
 * only the first limit rows are kept, of each group of equal leading
 * ngroup keys when ngroup > 0. */
typedef struct pl_sort_merge_spec {
	const pl_order_key *keys;
	size_t nkeys;
	size_t ngroup;
	size_t limit; /* SIZE_MAX: every row */
} pl_sort_merge_spec;

/* Nothing is created on disk or taken from the pool until the first run.
 * dir NULL means /tmp; budget sizes the messages. */
void pl_sort_spill_init(pl_sort_spill *s, pl_pool *pool, const char *dir,
			size_t budget);

/* Closes (and so deletes) the file and returns every buffer. */
void pl_sort_spill_free(pl_sort_spill *s);

/* Appends rows idx[0..n) of rows, already in order, as a new run in
 * messages of at most chunk_rows rows. */
int pl_sort_spill_run(pl_sort_spill *s, const pl_batch *rows,
		      const uint32_t *idx, size_t n, size_t chunk_rows,
		      pl_error *err);

/* Merges every run into batches of at most chunk_rows rows (of the column
 * types of like) sent to out. Returns 0, PL_STOP when out wants no more,
 * or an error. */
int pl_sort_spill_merge(pl_sort_spill *s, const pl_sort_merge_spec *spec,
			const pl_row_store *like, size_t chunk_rows,
			const pl_emitter *out, pl_error *err);

/* For tests and metrics: the runs a [sort] instance spilled from memory
 * (not counting those made by merging groups of them), and the bytes it
 * wrote to its spill file, merged runs included. Defined in sort.c. */
size_t pl_sort_runs(const pl_operator *op);
uint64_t pl_sort_spilled_bytes(const pl_operator *op);

#endif

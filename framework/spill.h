/* Spilling of blocking operators that merge by key (groupby, distinct)
 * when their state passes the memory budget.
 *
 * The operator's own partial/merge does the work: over budget, its partial
 * state is written to K partition files by key hash (batch-codec messages,
 * zstd-compressed) and the operator starts afresh. At the end each
 * partition is merged on its own into a fresh instance, which finishes it:
 * memory then holds one partition's state at a time (external hash
 * aggregation). Partitions are written in input order, so merging them in
 * file order keeps first/last right. The files are unlinked as soon as they
 * are created: nothing is left behind, whatever way the process ends. */
#ifndef PIPELINE_FRAMEWORK_SPILL_H
#define PIPELINE_FRAMEWORK_SPILL_H

#include <stdint.h>

#include "pipeline/operator.h"

typedef struct pl_spill pl_spill;

/* Whether op can spill: it has partial/merge and partition keys. */
int pl_spill_possible(const pl_operator *op);

/* A spill manager for op, whose input schema is in; files go to dir.
 * Nothing is created on disk until the first spill. */
int pl_spill_create(pl_operator *op, const pl_schema *in, const char *dir,
		    pl_spill **out, pl_error *err);
void pl_spill_destroy(pl_spill *s);

/* Spills op's state when the pool holds more than the operator's share of
 * the budget. Call after each batch the operator took. */
int pl_spill_check(pl_spill *s, pl_error *err);

/* Whether anything was spilled. */
int pl_spill_active(const pl_spill *s);

/* Ends the operator when it spilled: its remaining state is spilled too,
 * then each partition is merged into a fresh instance whose finish emits
 * to out. */
int pl_spill_finish(pl_spill *s, const pl_emitter *out, pl_error *err);

/* Emits all of the operator's partial state, spilled and in memory (for a
 * merge across ranks). */
int pl_spill_partial(pl_spill *s, const pl_emitter *out, pl_error *err);

/* Bytes written to spill files so far (compressed). */
uint64_t pl_spill_bytes(const pl_spill *s);

/* How many times a partition had to be split again while merging (0: the
 * first 16 partitions fitted). */
int pl_spill_depth(const pl_spill *s);

#endif

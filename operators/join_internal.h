/* [join]'s state and the parts shared by join.c (the hash join itself and
 * the broadcast of the right side) and join_part.c (the partitioned join
 * across ranks). */
#ifndef PIPELINE_OPERATORS_JOIN_INTERNAL_H
#define PIPELINE_OPERATORS_JOIN_INTERNAL_H

#include <stdbool.h>

#include "operators/row_order.h"
#include "operators/row_store.h"
#include "pipeline/input.h"
#include "pipeline/operator.h"

enum { KEY_SAME, KEY_BY_VALUE };

typedef struct join_key {
	int left;  /* left column */
	int right; /* right column, in the source's schema */
	int kind;
} join_key;

typedef struct join_state {
	pl_input *src; /* open from init until the build */
	bool left_join;
	join_key *keys;
	size_t nkeys;
	int *store_map; /* right column of each stored one: keys, then kept */
	size_t nkeep;
	size_t nleft;
	pl_schema out;
	bool built;
	pl_row_store right;
	uint64_t *rhash;   /* per stored row */
	uint32_t *next;	   /* per stored row: next row id + 1 of its chain */
	uint32_t *head;	   /* per bucket: first row id + 1 */
	size_t mask;	   /* buckets - 1 */
	uint32_t null_row; /* the all-NULL row of a left join */
	uint32_t *lidx, *ridx; /* pairs waiting for the next output batch */
	size_t npairs;
	size_t chunk;
	pl_batch *outb;
	/* The partitioned join (join_part.c). */
	bool partitioned;
	bool share;	    /* partial reads this rank's share of the right */
	pl_row_store lefts; /* left rows held until the right side is in */
	pl_batch *wire;	    /* rows on their way out of partial */
} join_state;

/* Reads the right side when load is set (else it is already stored),
 * chains it by key hash and makes the output buffers. */
int pl_join_build(pl_operator *op, join_state *st, bool load, pl_error *err);

/* Joins a batch of left rows with the built right side into out. */
int pl_join_probe(pl_operator *op, const pl_batch *in, const pl_emitter *out,
		  pl_error *err);

/* From init, after the schemas: reads `distribute` and, when the join is
 * to be partitioned across ranks, sets the operator up for it. */
int pl_join_pick_distribution(pl_operator *op, join_state *st,
			      const pl_section *sec, pl_error *err);

/* The partitioned join's process: keeps the left rows. */
int pl_join_keep_left(pl_operator *op, const pl_batch *in, pl_error *err);

/* The partitioned join's finish: joins the rows held. */
int pl_join_finish_partition(pl_operator *op, const pl_emitter *out,
			     pl_error *err);

/* The operator's partial and merge (see join_part.c). */
int pl_join_partial(pl_operator *op, const pl_emitter *out, pl_error *err);
int pl_join_merge(pl_operator *op, const pl_batch *partial, pl_error *err);

#endif

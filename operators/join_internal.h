/* [join]'s state and the parts shared by join.c (the hash join itself and
 * the broadcast of the right side) and join_part.c (the partitioned join
 * across ranks). */
#ifndef PIPELINE_OPERATORS_JOIN_INTERNAL_H
#define PIPELINE_OPERATORS_JOIN_INTERNAL_H

#include <stdbool.h>

#include "operators/row_order.h"
#include "operators/row_store.h"
#include "pipeline/input.h"
#include "pipeline/node_group.h"
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
	pl_row_store right; /* the partitioned join's right rows, until the
			       build; its column types are the stored ones */
	/* The hash table (join_table.c): records in 8-byte units. */
	uint64_t *recs;
	size_t rec_len, rec_cap; /* units used, allocated */
	size_t nrecs;
	uint32_t last;	       /* while loading: ref + 1 of the last record */
	uint32_t *head;	       /* per bucket: first record's ref + 1 */
	size_t mask;	       /* buckets - 1 */
	uint32_t null_row;     /* ref of the all-NULL record of a left join */
	uint64_t *hashes;      /* probe scratch: a block of left rows' hashes */
	uint32_t *firsts;      /* and their chains' first refs + 1 */
	uint32_t *lidx, *ridx; /* pairs (left row, record ref) waiting for
				  the next output batch */
	size_t npairs;
	size_t ngathered; /* of them, with their right columns in outb */
	size_t chunk;
	pl_batch *outb;
	/* The partitioned join (join_part.c). */
	bool partitioned;
	bool share;	    /* partial reads this rank's share of the right */
	char why[200];	    /* why broadcast or partitioned, for --explain */
	pl_row_store lefts; /* left rows held until the right side is in */
	pl_batch *wire;	    /* rows on their way out of partial */
} join_state;

/* Hash of the keys of row i of a left batch's columns or (left false)
 * of the stored columns (keys first); false when one is NULL, since NULL
 * keys never match. */
bool pl_join_row_hash(const join_state *st, const pl_column *cols, bool left,
		      size_t i, uint64_t *h);

/* The hash table (join_table.c). Appends rows 0..n of cols (the stored
 * columns: keys, then kept) as records, leaving out rows with a NULL key.
 * Errors: out of memory (the table stays usable up to the rows added). */
int pl_join_table_add(join_state *st, const pl_column *cols, size_t n,
		      pl_pool *pool, pl_error *err);

/* Chains the records by hash, each chain in the order rows were added. */
int pl_join_table_chain(join_state *st, pl_pool *pool, pl_error *err);

/* Adds the all-NULL record a left join pairs unmatched rows with
 * (st->null_row), not chained. */
int pl_join_table_add_nulls(join_state *st, pl_pool *pool, pl_error *err);

/* The first record ref + 1 of hash's chain, and the one after ref (0:
 * none). */
uint32_t pl_join_table_first(const join_state *st, uint64_t hash);
uint32_t pl_join_table_next(const join_state *st, uint32_t ref);

/* Whether record ref has hash and the keys of row i of in. */
bool pl_join_table_match(const join_state *st, const pl_batch *in, size_t i,
			 uint64_t hash, uint32_t ref);

/* Asks the CPU for record ref ahead of its use. */
void pl_join_table_prefetch(const join_state *st, uint32_t ref);

/* Appends the kept columns of records refs[0..n) to dst[0..nkeep). */
int pl_join_table_gather(const join_state *st, pl_column *dst,
			 const uint32_t *refs, size_t n, pl_pool *pool,
			 pl_error *err);

/* Bytes the table takes from the pool. */
size_t pl_join_table_bytes(const join_state *st);

/* Reads the right side when load is set (else it is already stored),
 * chains it by key hash and makes the output buffers. */
int pl_join_build(pl_operator *op, join_state *st, bool load, pl_error *err);

/* Reads all of st->src (the whole right side, or this rank's share) into
 * the table's records, then closes it. */
int pl_join_load_right(join_state *st, pl_pool *pool, pl_error *err);

/* The probe's buffers, once the table is chained. */
int pl_join_build_buffers(pl_operator *op, join_state *st, pl_error *err);

/* A broadcast join's table built by the ranks of a node together
 * (join_gather.c): whether the job's ranks share nodes, and the
 * operator's prepare. */
bool pl_join_ranks_share_nodes(const pl_op_env *env);
int pl_join_prepare(pl_operator *op, const void *comm, pl_error *err);

/* Chains records loaded as n pieces, each a list as loading leaves it:
 * piece p's refs start at bases[p] and its last record is lasts[p] (ref
 * + 1, 0: empty). Chains list records in piece order, then load order. */
int pl_join_table_chain_pieces(join_state *st, const uint64_t *bases,
			       const uint64_t *lasts, size_t n, pl_pool *pool,
			       pl_error *err);

/* Makes the arena exactly units long (keeping what it holds up to
 * that). */
int pl_join_table_resize(join_state *st, size_t units, pl_pool *pool,
			 pl_error *err);

/* Units of a record with every column NULL (the left join's). */
size_t pl_join_table_null_units(const join_state *st);

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

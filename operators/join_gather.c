/* A broadcast join's right side parsed once per node: when several ranks
 * share a node, each would otherwise parse the whole right side and build
 * the same records. Instead, in prepare (before the left rows stream), the
 * node's ranks (pipeline/node_group.h) each read a share of it (in rank
 * order, which is file order) into records as usual, then every rank
 * copies the others' records in after its own:
 *
 *   its own records | rank 0's | rank 1's | ... (refs index the arena)
 *
 * Records hold no pointers (string bytes sit in the record, at offsets
 * from its start), so a copy is a table piece as it stands; each piece's
 * load-order list is still there, and chaining walks the pieces from the
 * last, so every chain lists its records in file order, as on one rank.
 * A left join's all-NULL record is the last rank's last record. Each rank
 * then holds the whole table, as with every rank reading it, but the
 * node parses and hashes it once; the copies go through shared memory. */
#include "operators/join_internal.h"

bool pl_join_ranks_share_nodes(const pl_op_env *env)
{
	int nodes = env->nodes > 1 ? env->nodes : 1;
	return env->nranks > nodes;
}

/* What every rank loaded: its arena's units, its last record (ref + 1). */
enum { UNITS, LAST, RECS, FIELDS };

/* Gathers what the ranks loaded into all[r * FIELDS + ...] (local status
 * rc first); the same outcome on every rank. all has room for three
 * more values per rank after that. */
static int gather(pl_node_group *g, join_state *st, int rc, pl_pool *pool,
		  uint64_t **all, pl_error *err)
{
	size_t n = (size_t)pl_node_group_size(g);
	uint64_t mine[FIELDS] = {st->rec_len, st->last, st->nrecs};
	*all = pl_pool_alloc(pool, n * (FIELDS + 3) * sizeof(uint64_t));
	if (rc == 0 && *all == NULL)
		rc = pl_error_nomem(err, "the join's pieces");
	return pl_node_group_gather(g, rc, mine, FIELDS, *all, err);
}

/* Copies the other ranks' pieces in after this rank's own (a piece's
 * place in the arena differs from rank to rank, which only this rank's
 * refs see), then chains them all in rank order. */
static int assemble(pl_node_group *g, join_state *st, uint64_t *all,
		    pl_pool *pool, pl_error *err)
{
	int n = pl_node_group_size(g), me = pl_node_group_rank(g);
	uint64_t *bases = all + n * FIELDS, *words = bases + n,
		 *lasts = words + n;
	uint64_t units = st->rec_len, recs = 0;
	for (int r = 0; r < n; r++) {
		words[r] = all[r * FIELDS + UNITS];
		lasts[r] = all[r * FIELDS + LAST];
		bases[r] = r == me ? 0 : units;
		units += r == me ? 0 : words[r];
		recs += all[r * FIELDS + RECS];
	}
	int rc = pl_join_table_resize(st, (size_t)units, pool, err);
	rc = pl_node_group_agree(g, rc, err);
	if (rc == 0)
		rc = pl_node_group_allgather(g, st->recs, words, bases, err);
	if (rc != 0)
		return rc;
	st->rec_len = (size_t)units;
	st->nrecs = (size_t)recs;
	if (st->left_join)
		st->null_row = (uint32_t)(bases[n - 1] + words[n - 1] -
					  pl_join_table_null_units(st));
	return pl_join_table_chain_pieces(st, bases, lasts, (size_t)n, pool,
					  err);
}

static int build_together(pl_operator *op, join_state *st, pl_node_group *g,
			  pl_error *err)
{
	pl_pool *pool = op->env->pool;
	bool last = pl_node_group_rank(g) == pl_node_group_size(g) - 1;
	st->built = true;
	st->chunk = pl_row_store_chunk(op->env);
	int rc = pl_input_share(st->src, pl_node_group_comm(g), err);
	if (rc == 0)
		rc = pl_join_load_right(st, pool, err);
	if (rc == 0 && st->left_join && last)
		rc = pl_join_table_add_nulls(st, pool, err);
	uint64_t *all;
	rc = gather(g, st, rc, pool, &all, err);
	if (rc == 0)
		rc = assemble(g, st, all, pool, err);
	pl_pool_free(pool, all);
	return rc ? rc : pl_join_build_buffers(op, st, err);
}

int pl_join_prepare(pl_operator *op, const void *comm, pl_error *err)
{
	join_state *st = op->state;
	if (st->partitioned || st->built)
		return 0;
	pl_node_group *g;
	int rc = pl_node_group_open(comm, &g, err);
	if (rc == 0 && pl_node_group_size(g) > 1)
		rc = build_together(op, st, g, err);
	pl_node_group_close(g);
	return rc;
}

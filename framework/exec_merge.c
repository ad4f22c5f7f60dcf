/* Merge points across ranks (see exec.c): the partial state of an
 * operator's local instances goes to the ranks that own it and is merged
 * into a second instance there.
 *
 * By key (partition_keys > 0): rows are shuffled by the hash of their
 * keys. Each row carries its sender's rank in an extra column, and the
 * receiver merges what came from rank 0 first, then rank 1, ..., so that
 * an operator that cares about input order (first/last) sees it.
 * By key ranges (split PL_SPLIT_RANGE): see exec_range.c.
 * Without keys: all state goes to rank 0 in rank order, and only rank 0's
 * instance finishes. */
#include <stdlib.h>

#include "framework/exec_internal.h"
#include "framework/shuffle.h"

static int append_rows(pl_batch *dst, const pl_batch *b, const uint32_t *idx,
		       size_t n, size_t ncols, pl_pool *pool, pl_error *err)
{
	for (size_t c = 0; c < ncols; c++) {
		int rc = idx ? pl_column_append_take(&dst->cols[c], &b->cols[c],
						     idx, n, pool, err)
			     : pl_column_append_range(
				   &dst->cols[c], &b->cols[c], 0, n, pool, err);
		if (rc != 0)
			return rc;
	}
	dst->nrows += n;
	return 0;
}

typedef struct collector {
	pl_batch *acc;
	pl_pool *pool;
} collector;

static int collect_rows(void *arg, pl_batch *b, pl_error *err)
{
	collector *c = arg;
	return append_rows(c->acc, b, NULL, b->nrows, b->ncols, c->pool, err);
}

/* All partial state to rank 0, in rank order. */
static int merge_at_root(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *local = &x->p->ops[i];
	pl_pool *pool = x->p->env.pool;
	pl_batch *mine = pl_batch_new(&local->partial_schema, 1, pool, err);
	pl_batch *all = NULL;
	int rc = mine ? 0 : PL_ERR_NOMEM;
	if (rc == 0) {
		collector c = {mine, pool};
		pl_emitter e = {collect_rows, &c};
		rc = pl_exec_partial(x, i, &e, err);
	}
	if (rc == 0 && x->rank == 0) {
		all = pl_batch_new(&local->partial_schema, 1, pool, err);
		rc = all ? 0 : PL_ERR_NOMEM;
	}
	rc = pl_mpi_agree(x->comm, rc, err);
	pl_exchange_opts opts = {.round_bytes = PL_SHUFFLE_ROUND_BYTES,
				 .zstd_level = pl_exec_shuffle_level(x)};
	pl_exchange *ex =
	    rc ? NULL
	       : pl_exchange_create(x->comm, &local->partial_schema, &opts,
				    pool, err);
	if (ex != NULL) {
		rc = pl_exchange_gather_to_root(ex, mine, all, err);
		pl_exec_count_stats(x, ex);
		pl_exchange_destroy(ex);
	} else if (rc == 0) {
		rc = PL_ERR_NOMEM;
	}
	if (rc == 0 && x->rank == 0) {
		pl_batch_sync_rows(all);
		rc = pl_exec_new_instance(x, i, err);
		pl_operator *m = x->merged[i];
		if (rc == 0 && all->nrows > 0)
			rc = m->def->merge(m, all, err);
		if (rc == 0 && m->def->finish)
			rc = m->def->finish(m, &x->emitters[i + 1], err);
	}
	pl_batch_free(mine, pool);
	pl_batch_free(all, pool);
	return rc < 0 ? rc : 0;
}

static int send_rows(void *arg, pl_batch *b, pl_error *err)
{
	return pl_shuffle_push(arg, b, err);
}

/* Partial state shuffled by key; every rank merges and finishes its
 * share. */
static int merge_by_key(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *local = &x->p->ops[i];
	pl_shuffle sh = {0};
	sh.x = x;
	pl_schema wire;
	pl_schema_init(&wire);
	int rc = pl_shuffle_init(&sh, local, &wire, err);
	size_t *keys = malloc(local->partition_keys * sizeof(*keys));
	if (rc == 0 && keys == NULL)
		rc = pl_error_nomem(err, "a shuffle");
	for (size_t k = 0; rc == 0 && k < local->partition_keys; k++)
		keys[k] = k;
	rc = pl_mpi_agree(x->comm, rc, err);
	pl_exchange_opts opts = {.keys = keys,
				 .nkeys = local->partition_keys,
				 .round_bytes = pl_shuffle_round_bytes(x),
				 .zstd_level = pl_exec_shuffle_level(x)};
	pl_shuffle_wire(&sh, &opts);
	sh.ex =
	    rc ? NULL
	       : pl_exchange_create(x->comm, &wire, &opts, x->p->env.pool, err);
	if (rc == 0 && sh.ex == NULL)
		rc = PL_ERR_NOMEM;
	if (sh.ex != NULL) {
		pl_emitter e = {send_rows, &sh};
		rc = pl_exec_partial_last(x, i, &e, err);
		rc = rc ? pl_exchange_abort(sh.ex, rc, err)
			: pl_exchange_finish(sh.ex, pl_shuffle_receive, &sh,
					     err);
		pl_exec_count_stats(x, sh.ex);
		pl_exchange_destroy(sh.ex);
	}
	if (rc == 0)
		rc = pl_exec_reset_local(x, i, err);
	if (rc == 0)
		rc = pl_shuffle_merge_received(&sh, i, &local->partial_schema,
					       err);
	pl_shuffle_free(&sh);
	free(keys);
	pl_schema_free(&wire);
	return rc < 0 ? rc : 0;
}

int pl_exec_merge(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *op = &x->p->ops[i];
	if (x->streams[i] != NULL)
		return pl_exec_stream_merge(x, i, err);
	if (op->before_split != NULL) {
		int rc = op->before_split(op, &x->comm, err);
		rc = pl_mpi_agree(x->comm, rc, err);
		if (rc != 0)
			return rc;
	}
	if (op->split == PL_SPLIT_RANGE || op->split == PL_SPLIT_RANGE_MERGE)
		return pl_exec_merge_range(x, i, err);
	if (x->p->ops[i].partition_keys > 0)
		return merge_by_key(x, i, err);
	return merge_at_root(x, i, err);
}

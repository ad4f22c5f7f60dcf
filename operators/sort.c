/* [sort]: by = col [asc|desc], ...; limit = N; per = k1, k2.
 *
 * Rows are copied into a row store and a permutation of their indices is
 * sorted at the end. With a limit the store is pruned (sorted, then cut to
 * the first N, or the first N of each `per` group) whenever it holds twice
 * what the last pruning kept, so top-N holds O(N) rows whatever the input
 * size. Per groups are made contiguous by sorting on the `per` keys first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/row_order.h"
#include "operators/row_store.h"
#include "pipeline/operator.h"

typedef struct sort_state {
	pl_order_key *order; /* the per keys, then the by keys */
	size_t norder;
	size_t nper;
	bool has_limit;
	size_t limit;
	size_t prune_at; /* store size that triggers pruning */
	pl_row_store rows;
} sort_state;

static const char *const sort_keys[] = {"by", "limit", "per", NULL};

/* Builds st->order from `per` (ascending) and `by`. */
static int parse_order(pl_operator *op, sort_state *st, const pl_section *sec,
		       const pl_schema *in, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	pl_order_key *by = NULL, *per = NULL;
	size_t nby = 0, nper = 0;
	if (pl_section_find(sec, "by") == NULL)
		return pl_section_error(sec, NULL, err, "needs by = columns");
	int rc = pl_order_parse(sec, "by", in, true, pool, &by, &nby, err);
	if (rc == 0 && pl_section_find(sec, "per") != NULL)
		rc = pl_order_parse(sec, "per", in, false, pool, &per, &nper,
				    err);
	if (rc == 0) {
		st->order = pl_pool_alloc(pool, (nper + nby) * sizeof(*by));
		if (st->order == NULL)
			rc = pl_error_nomem(err, "sort keys");
	}
	if (rc == 0) {
		if (nper > 0)
			memcpy(st->order, per, nper * sizeof(*per));
		memcpy(st->order + nper, by, nby * sizeof(*by));
		st->norder = nper + nby;
		st->nper = nper;
	}
	pl_pool_free(pool, by);
	pl_pool_free(pool, per);
	return rc;
}

static int parse_limit(sort_state *st, const pl_section *sec, pl_error *err)
{
	long long n;
	st->has_limit = pl_section_find(sec, "limit") != NULL;
	if (!st->has_limit) {
		if (pl_section_find(sec, "per") != NULL)
			return pl_section_error(sec, "per", err,
						"per needs a limit");
		return 0;
	}
	int rc = pl_section_get_count(sec, "limit", 0, &n, err);
	if (rc != 0)
		return rc;
	st->limit = (unsigned long long)n > PL_ROW_STORE_MAX_ROWS
			? PL_ROW_STORE_MAX_ROWS
			: (size_t)n;
	st->prune_at = st->limit > PL_ROW_STORE_MAX_ROWS / 2
			   ? PL_ROW_STORE_MAX_ROWS
			   : 2 * st->limit;
	return 0;
}

static int sort_init(pl_operator *op, const pl_section *sec,
		     const pl_schema *in, pl_schema *out, pl_error *err)
{
	sort_state *st = pl_pool_calloc(op->env->pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "sort state");
	op->state = st;
	int rc = pl_section_check_keys(sec, sort_keys, err);
	if (rc == 0)
		rc = parse_order(op, st, sec, in, err);
	if (rc == 0)
		rc = parse_limit(st, sec, err);
	if (rc == 0)
		rc = pl_row_store_init(&st->rows, in, NULL, 0, op->env->pool,
				       err);
	if (rc == 0)
		rc = pl_schema_copy(out, in, err);
	if (rc == 0)
		rc = pl_schema_copy(&op->partial_schema, in, err);
	return rc;
}

/* Drops from the sorted idx[0..*n) the rows past the limit: overall, or
 * within each run of equal per keys. */
static void apply_limit(const sort_state *st, uint32_t *idx, size_t *n)
{
	if (!st->has_limit)
		return;
	if (st->nper == 0) {
		if (*n > st->limit)
			*n = st->limit;
		return;
	}
	const pl_column *cols = st->rows.cols;
	size_t kept = 0, in_group = 0;
	for (size_t i = 0; i < *n; i++) {
		if (i > 0 && pl_row_order_compare(cols, st->order, st->nper,
						  idx[i - 1], idx[i]) != 0)
			in_group = 0;
		if (in_group++ < st->limit)
			idx[kept++] = idx[i];
	}
	*n = kept;
}

/* The sorted, limited permutation of the stored rows (pool buffer). */
static int sorted_rows(sort_state *st, pl_pool *pool, uint32_t **idx, size_t *n,
		       pl_error *err)
{
	*n = st->rows.nrows;
	*idx = pl_pool_alloc(pool, (*n ? *n : 1) * sizeof(**idx));
	if (*idx == NULL)
		return pl_error_nomem(err, "a sort permutation");
	for (size_t i = 0; i < *n; i++)
		(*idx)[i] = (uint32_t)i;
	int rc = pl_row_order_sort(*idx, *n, st->rows.cols, st->order,
				   st->norder, pool, err);
	if (rc != 0) {
		pl_pool_free(pool, *idx);
		*idx = NULL;
		return rc;
	}
	apply_limit(st, *idx, n);
	return 0;
}

/* Keeps only the rows that can still make the result, in sorted order,
 * which keeps equal rows in input order for the sorts to come. The next
 * pruning waits until the store has doubled again. */
static int prune(sort_state *st, pl_pool *pool, pl_error *err)
{
	uint32_t *idx;
	size_t n;
	int rc = sorted_rows(st, pool, &idx, &n, err);
	if (rc == 0)
		rc = pl_row_store_keep(&st->rows, idx, n, pool, err);
	pl_pool_free(pool, idx);
	if (rc == 0 && n > st->prune_at / 2)
		st->prune_at = n > PL_ROW_STORE_MAX_ROWS / 2
				   ? PL_ROW_STORE_MAX_ROWS
				   : 2 * n;
	return rc;
}

static int absorb(pl_operator *op, const pl_batch *b, pl_error *err)
{
	sort_state *st = op->state;
	if (st->has_limit && st->limit == 0)
		return 0;
	int rc = pl_row_store_take(&st->rows, b->cols, NULL, NULL, b->nrows,
				   op->env->pool, err);
	if (rc == 0 && st->has_limit && st->rows.nrows > st->prune_at)
		rc = prune(st, op->env->pool, err);
	return rc;
}

static int sort_process(pl_operator *op, const pl_batch *in,
			const pl_emitter *out, pl_error *err)
{
	(void)out;
	return absorb(op, in, err);
}

static int sort_merge(pl_operator *op, const pl_batch *partial, pl_error *err)
{
	return absorb(op, partial, err);
}

static int sort_finish(pl_operator *op, const pl_emitter *out, pl_error *err)
{
	sort_state *st = op->state;
	pl_pool *pool = op->env->pool;
	uint32_t *idx;
	size_t n;
	int rc = sorted_rows(st, pool, &idx, &n, err);
	if (rc != 0)
		return rc;
	rc = pl_row_store_emit(&st->rows, idx, n, pl_row_store_chunk(op->env),
			       pool, out, err);
	pl_pool_free(pool, idx);
	return rc == PL_STOP ? 0 : rc;
}

static void sort_destroy(pl_operator *op)
{
	sort_state *st = op->state;
	if (st == NULL)
		return;
	pl_pool *pool = op->env->pool;
	pl_row_store_free(&st->rows, pool);
	pl_pool_free(pool, st->order);
	pl_pool_free(pool, st);
	op->state = NULL;
}

static void sort_describe(const pl_operator *op, char *buf, size_t cap)
{
	const sort_state *st = op->state;
	const pl_section *sec = op->section;
	if (st == NULL || sec == NULL) {
		snprintf(buf, cap, "sort");
		return;
	}
	int k = snprintf(buf, cap, "by: %s", pl_section_get(sec, "by", ""));
	if (k >= 0 && (size_t)k < cap && st->nper > 0)
		k += snprintf(buf + k, cap - (size_t)k, "; per: %s",
			      pl_section_get(sec, "per", ""));
	if (k >= 0 && (size_t)k < cap && st->has_limit)
		snprintf(buf + k, cap - (size_t)k, "; limit: %zu", st->limit);
}

const pl_operator_def pl_op_sort = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "sort",
    .description = "sort rows by columns (stable, NULLs last), optionally "
		   "the top N, or the top N per group",
    .kind = PL_OP_BLOCKING,
    .init = sort_init,
    .process = sort_process,
    .finish = sort_finish,
    .destroy = sort_destroy,
    .partial = sort_finish,
    .merge = sort_merge,
    .describe = sort_describe,
};

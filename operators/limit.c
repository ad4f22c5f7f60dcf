/* [limit]: rows = N passes on the first N rows in input order, then
 * returns PL_STOP so that the runtime stops reading. On one rank the rows
 * go on as a view of the input batch cut short; nothing is copied.
 *
 * Across ranks the first N rows of the whole input are not known locally,
 * so each rank keeps its own first N (partial state = those rows), and one
 * instance merges the ranks' rows in rank order, which is input order,
 * keeping the first N, and emits them in finish. */
#include <stdio.h>

#include "pipeline/operator.h"

typedef struct limit_state {
	size_t limit;
	size_t done;
	pl_column *cols; /* the view's columns */
	pl_batch *kept;	 /* across ranks: the rows kept so far */
} limit_state;

static const char *const limit_keys[] = {"rows", NULL};

static void limit_columns_used(const pl_operator *op, const pl_schema *in,
			       const pl_schema *out, const uint8_t *out_used,
			       uint8_t *in_used)
{
	(void)op;
	(void)out;
	for (size_t i = 0; i < in->n; i++)
		in_used[i] = out_used[i];
}

static int limit_init(pl_operator *op, const pl_section *sec,
		      const pl_schema *in, pl_schema *out, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	limit_state *st = pl_pool_calloc(pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "limit state");
	op->state = st;
	op->columns_used = limit_columns_used;
	int rc = pl_section_check_keys(sec, limit_keys, err);
	if (rc != 0)
		return rc;
	if (pl_section_find(sec, "rows") == NULL)
		return pl_section_error(sec, NULL, err, "needs rows = N");
	long long n;
	rc = pl_section_get_count(sec, "rows", 0, &n, err);
	if (rc != 0)
		return rc;
	st->limit = (unsigned long long)n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	st->cols = pl_pool_calloc(pool, in->n + 1, sizeof(*st->cols));
	if (st->cols == NULL)
		return pl_error_nomem(err, "limit state");
	rc = pl_schema_copy(out, in, err);
	if (rc == 0 && op->env->nranks > 1) {
		rc = pl_schema_copy(&op->partial_schema, in, err);
		st->kept = rc ? NULL : pl_batch_new(in, 1, pool, err);
		if (rc == 0 && st->kept == NULL)
			rc = PL_ERR_NOMEM;
	}
	return rc;
}

/* Appends rows of in to the kept rows, up to the limit. */
static int keep(limit_state *st, const pl_batch *in, pl_pool *pool,
		pl_error *err)
{
	size_t n = st->limit - st->done;
	if (n > in->nrows)
		n = in->nrows;
	for (size_t i = 0; i < in->ncols; i++) {
		int rc = pl_column_append_range(&st->kept->cols[i],
						&in->cols[i], 0, n, pool, err);
		if (rc != 0)
			return rc;
	}
	st->kept->nrows += n;
	st->done += n;
	return st->done >= st->limit ? PL_STOP : 0;
}

/* Column c cut to its first n values. */
static pl_column head(const pl_column *c, size_t n)
{
	pl_column h = *c;
	h.len = n;
	if (c->type == PL_STRING)
		h.arena_len = (size_t)pl_col_off(c)[n];
	return h;
}

static int limit_process(pl_operator *op, const pl_batch *in,
			 const pl_emitter *emit, pl_error *err)
{
	limit_state *st = op->state;
	if (st->done >= st->limit)
		return PL_STOP;
	if (in->nrows == 0)
		return 0;
	if (st->kept != NULL)
		return keep(st, in, op->env->pool, err);
	size_t n = st->limit - st->done;
	if (n > in->nrows)
		n = in->nrows;
	for (size_t i = 0; i < in->ncols; i++)
		st->cols[i] = head(&in->cols[i], n);
	pl_batch view = *in;
	view.cols = st->cols;
	view.nrows = n;
	st->done += n;
	int rc = pl_emit(emit, &view, err);
	if (rc != 0)
		return rc;
	return st->done >= st->limit ? PL_STOP : 0;
}

static int limit_emit_kept(pl_operator *op, const pl_emitter *out,
			   pl_error *err)
{
	limit_state *st = op->state;
	if (st->kept == NULL || st->kept->nrows == 0)
		return 0;
	int rc = pl_emit(out, st->kept, err);
	return rc == PL_STOP ? 0 : rc;
}

static int limit_merge(pl_operator *op, const pl_batch *partial, pl_error *err)
{
	limit_state *st = op->state;
	if (st->kept == NULL || st->done >= st->limit)
		return 0;
	int rc = keep(st, partial, op->env->pool, err);
	return rc == PL_STOP ? 0 : rc;
}

static void limit_destroy(pl_operator *op)
{
	limit_state *st = op->state;
	if (st == NULL)
		return;
	pl_batch_free(st->kept, op->env->pool);
	pl_pool_free(op->env->pool, st->cols);
	pl_pool_free(op->env->pool, st);
	op->state = NULL;
}

static void limit_describe(const pl_operator *op, char *buf, size_t cap)
{
	const limit_state *st = op->state;
	if (st == NULL)
		snprintf(buf, cap, "limit");
	else
		snprintf(buf, cap, "rows: %zu", st->limit);
}

const pl_operator_def pl_op_limit = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "limit",
    .description = "pass on the first N rows in input order",
    .kind = PL_OP_STREAMING,
    .init = limit_init,
    .process = limit_process,
    .finish = limit_emit_kept,
    .destroy = limit_destroy,
    .partial = limit_emit_kept,
    .merge = limit_merge,
    .describe = limit_describe,
};

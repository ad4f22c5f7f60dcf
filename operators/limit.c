/* [limit]: rows = N passes on the first N rows in input order, then
 * returns PL_STOP so that the runtime stops reading. The rows go on as a
 * view of the input batch cut short; nothing is copied. */
#include <stdio.h>

#include "pipeline/operator.h"

typedef struct limit_state {
	size_t limit;
	size_t done;
	pl_column *cols; /* the view's columns */
} limit_state;

static const char *const limit_keys[] = {"rows", NULL};

static int limit_init(pl_operator *op, const pl_section *sec,
		      const pl_schema *in, pl_schema *out, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	limit_state *st = pl_pool_calloc(pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "limit state");
	op->state = st;
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
	return pl_schema_copy(out, in, err);
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

static void limit_destroy(pl_operator *op)
{
	limit_state *st = op->state;
	if (st == NULL)
		return;
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
	.destroy = limit_destroy,
	.describe = limit_describe,
};

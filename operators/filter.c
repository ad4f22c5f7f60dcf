/* [filter]: where = EXPR keeps the rows where EXPR is true; NULL counts as
 * false. Kept rows are gathered into one output batch reused across calls,
 * so the steady state allocates nothing; a batch whose rows all pass is
 * handed on as it is. */
#include <stdio.h>

#include "pipeline/expr.h"
#include "pipeline/operator.h"

typedef struct filter_state {
	pl_expr *where;
	pl_batch *out;	/* kept rows; its line stays NULL, see lines */
	uint32_t *keep; /* selection vector, pool buffer */
	int64_t *lines; /* provenance of kept rows, pool buffer */
} filter_state;

static const char *const filter_keys[] = {"where", NULL};

static int parse_where(const pl_section *sec, const pl_schema *in,
		       int64_t now_us, filter_state *st, pl_error *err)
{
	const pl_kv *kv = pl_section_find(sec, "where");
	if (kv == NULL)
		return pl_section_error(sec, NULL, err, "needs where = EXPR");
	pl_expr_where at = {sec->file, kv->line, sec->name, now_us};
	int rc = pl_expr_parse(kv->value, &at, &st->where, err);
	pl_type t;
	if (rc == 0)
		rc = pl_expr_bind(st->where, in, &t, err);
	if (rc == 0 && t != PL_BOOL)
		rc = pl_section_error(sec, "where", err,
				      "where must be true or false, but '%s' "
				      "is %s",
				      kv->value, pl_type_name(t));
	return rc;
}

/* Passes every column through; reads where's. */
static void filter_columns_used(const pl_operator *op, const pl_schema *in,
				const pl_schema *out, const uint8_t *out_used,
				uint8_t *in_used)
{
	const filter_state *st = op->state;
	(void)out;
	for (size_t i = 0; i < in->n; i++)
		in_used[i] = out_used[i];
	pl_expr_mark_columns(st->where, in_used, in->n);
}

static int filter_init(pl_operator *op, const pl_section *sec,
		       const pl_schema *in, pl_schema *out, pl_error *err)
{
	filter_state *st = pl_pool_calloc(op->env->pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "filter state");
	op->state = st;
	op->columns_used = filter_columns_used;
	int rc = pl_section_check_keys(sec, filter_keys, err);
	if (rc == 0)
		rc = parse_where(sec, in, op->env->now_us, st, err);
	if (rc == 0)
		rc = pl_schema_copy(out, in, err);
	if (rc == 0) {
		st->out = pl_batch_new(in, 0, op->env->pool, err);
		if (st->out == NULL)
			rc = PL_ERR_NOMEM;
	}
	return rc;
}

/* p grown to hold at least bytes, or NULL (p still owned) on failure. */
static void *reserve(pl_pool *pool, void *p, size_t bytes)
{
	if (p != NULL && pl_pool_size(p) >= bytes)
		return p;
	return pl_pool_realloc(pool, p, bytes ? bytes : 1);
}

static size_t select_rows(const pl_column *c, size_t n, uint32_t *keep)
{
	const uint8_t *v = pl_col_bool(c);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		keep[k] = (uint32_t)i;
		k += v[i] && pl_bit_get(c->valid, i);
	}
	return k;
}

static int gather(filter_state *st, const pl_batch *in, size_t k, pl_pool *pool,
		  pl_error *err)
{
	pl_batch *out = st->out;
	out->nrows = 0;
	out->origin = in->line ? in->origin : NULL;
	for (size_t c = 0; c < out->ncols; c++) {
		out->cols[c].len = 0;
		out->cols[c].arena_len = 0;
		int rc = pl_column_append_take(&out->cols[c], &in->cols[c],
					       st->keep, k, pool, err);
		if (rc != 0)
			return rc;
	}
	if (in->line != NULL) {
		int64_t *l = reserve(pool, st->lines, k * sizeof(int64_t));
		if (l == NULL)
			return pl_error_nomem(err, "filter provenance");
		st->lines = l;
		for (size_t i = 0; i < k; i++)
			st->lines[i] = in->line[st->keep[i]];
	}
	out->nrows = k;
	return 0;
}

static int filter_process(pl_operator *op, const pl_batch *in,
			  const pl_emitter *emit, pl_error *err)
{
	filter_state *st = op->state;
	pl_pool *pool = op->env->pool;
	if (in->nrows == 0)
		return 0;
	if (in->nrows > UINT32_MAX)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "filter: batch of %zu rows", in->nrows);
	const pl_column *c;
	int rc = pl_expr_eval(st->where, in, pool, &c, err);
	if (rc != 0)
		return rc;
	uint32_t *keep = reserve(pool, st->keep, in->nrows * sizeof(uint32_t));
	if (keep == NULL)
		return pl_error_nomem(err, "a filter selection");
	st->keep = keep;
	size_t k = select_rows(c, in->nrows, st->keep);
	if (k == 0)
		return 0;
	if (k == in->nrows) {
		pl_batch same = *in;
		return pl_emit(emit, &same, err);
	}
	rc = gather(st, in, k, pool, err);
	if (rc != 0)
		return rc;
	st->out->line = in->line ? st->lines : NULL;
	rc = pl_emit(emit, st->out, err);
	st->out->line = NULL;
	return rc;
}

static void filter_destroy(pl_operator *op)
{
	filter_state *st = op->state;
	if (st == NULL)
		return;
	pl_pool *pool = op->env->pool;
	pl_expr_free(st->where, pool);
	pl_batch_free(st->out, pool);
	pl_pool_free(pool, st->keep);
	pl_pool_free(pool, st->lines);
	pl_pool_free(pool, st);
	op->state = NULL;
}

static void filter_describe(const pl_operator *op, char *buf, size_t cap)
{
	const char *w =
	    op->section ? pl_section_get(op->section, "where", "") : "";
	snprintf(buf, cap, "where: %s", w);
}

const pl_operator_def pl_op_filter = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "filter",
    .description = "keep the rows where an expression is true",
    .kind = PL_OP_STREAMING,
    .init = filter_init,
    .process = filter_process,
    .destroy = filter_destroy,
    .describe = filter_describe,
};

/* [derive]: NAME = EXPR, one or more, evaluated in order. A new name is
 * appended, an existing one is replaced in place, and each expression sees
 * the columns as the lines before it left them. The emitted batch is a
 * view: the input's columns and the expressions' result columns side by
 * side, nothing copied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/expr.h"
#include "pipeline/operator.h"

typedef struct derivation {
	pl_expr *expr;
	size_t col; /* where its result goes in the output */
} derivation;

typedef struct derive_state {
	derivation *items;
	size_t n;
	pl_column *cols; /* the view's columns, one per output field */
	size_t ncols;
} derive_state;

/* The key as a column name: trimmed, backquotes removed. */
static int key_name(const pl_section *sec, const pl_kv *kv, char **name,
		    pl_error *err)
{
	char **names = NULL;
	size_t n = 0;
	pl_error split;
	pl_error_clear(&split);
	int rc = pl_split_names(kv->key, &names, &n, &split);
	if (rc == PL_ERR_NOMEM)
		return pl_error_set(err, rc, "%s", split.msg);
	if (rc == 0 && n == 1)
		*name = strdup(names[0]);
	else
		rc = pl_section_error(sec, kv->key, err,
				      "'%s' is not one column name", kv->key);
	if (rc == 0 && *name == NULL)
		rc = pl_error_nomem(err, "a column name");
	if (names != NULL)
		pl_names_free(names, n);
	return rc;
}

/* Binds line kv against the schema so far and adds its result to it. */
static int add_derivation(const pl_section *sec, const pl_kv *kv,
			  int64_t now_us, pl_schema *out, derivation *d,
			  pl_error *err)
{
	char *name = NULL;
	pl_expr_where at = {sec->file, kv->line, sec->name, now_us};
	pl_type t;
	int rc = key_name(sec, kv, &name, err);
	if (rc == 0)
		rc = pl_expr_parse(kv->value, &at, &d->expr, err);
	if (rc == 0)
		rc = pl_expr_bind(d->expr, out, &t, err);
	if (rc == 0) {
		if (t == PL_NULLTYPE)
			t = PL_STRING;
		int at_col = pl_schema_find(out, name);
		d->col = at_col >= 0 ? (size_t)at_col : out->n;
		if (at_col >= 0)
			out->fields[at_col].type = t;
		else
			rc = pl_schema_add(out, name, t, err);
	}
	free(name);
	return rc;
}

/* An input column is used when an expression reads it, or when it
 * reaches the output unreplaced and is needed there. */
static void derive_columns_used(const pl_operator *op, const pl_schema *in,
				const pl_schema *out, const uint8_t *out_used,
				uint8_t *in_used)
{
	const derive_state *st = op->state;
	(void)out;
	for (size_t i = 0; i < in->n; i++)
		in_used[i] = out_used[i];
	for (size_t j = 0; j < st->n; j++)
		if (st->items[j].col < in->n)
			in_used[st->items[j].col] = 0;
	for (size_t j = 0; j < st->n; j++)
		pl_expr_mark_columns(st->items[j].expr, in_used, in->n);
}

static int derive_init(pl_operator *op, const pl_section *sec,
		       const pl_schema *in, pl_schema *out, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	derive_state *st = pl_pool_calloc(pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "derive state");
	op->state = st;
	op->columns_used = derive_columns_used;
	if (sec->n == 0)
		return pl_section_error(sec, NULL, err,
					"needs at least one NAME = EXPR");
	st->items = pl_pool_calloc(pool, sec->n, sizeof(*st->items));
	if (st->items == NULL)
		return pl_error_nomem(err, "derive state");
	int rc = pl_schema_copy(out, in, err);
	for (size_t i = 0; i < sec->n && rc == 0; i++) {
		rc = add_derivation(sec, &sec->kv[i], op->env->now_us, out,
				    &st->items[i], err);
		st->n = i + 1;
	}
	if (rc != 0)
		return rc;
	st->ncols = out->n;
	st->cols = pl_pool_calloc(pool, out->n, sizeof(*st->cols));
	if (st->cols == NULL)
		return pl_error_nomem(err, "derive state");
	return 0;
}

static int derive_process(pl_operator *op, const pl_batch *in,
			  const pl_emitter *emit, pl_error *err)
{
	derive_state *st = op->state;
	if (in->nrows == 0)
		return 0;
	memcpy(st->cols, in->cols, in->ncols * sizeof(*st->cols));
	pl_batch view = *in;
	view.cols = st->cols;
	for (size_t i = 0; i < st->n; i++) {
		const pl_column *c;
		int rc = pl_expr_eval(st->items[i].expr, &view, op->env->pool,
				      &c, err);
		if (rc != 0)
			return rc;
		st->cols[st->items[i].col] = *c;
		if (st->items[i].col == view.ncols)
			view.ncols++;
	}
	return pl_emit(emit, &view, err);
}

static void derive_destroy(pl_operator *op)
{
	derive_state *st = op->state;
	if (st == NULL)
		return;
	pl_pool *pool = op->env->pool;
	for (size_t i = 0; i < st->n; i++)
		pl_expr_free(st->items[i].expr, pool);
	pl_pool_free(pool, st->items);
	pl_pool_free(pool, st->cols);
	pl_pool_free(pool, st);
	op->state = NULL;
}

static void derive_describe(const pl_operator *op, char *buf, size_t cap)
{
	const pl_section *sec = op->section;
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; sec != NULL && i < sec->n && k < cap; i++) {
		int w = snprintf(buf + k, cap - k, "%s%s = %s", i ? "; " : "",
				 sec->kv[i].key, sec->kv[i].value);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

const pl_operator_def pl_op_derive = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "derive",
    .description = "add or replace columns computed from expressions",
    .kind = PL_OP_STREAMING,
    .init = derive_init,
    .process = derive_process,
    .destroy = derive_destroy,
    .describe = derive_describe,
};

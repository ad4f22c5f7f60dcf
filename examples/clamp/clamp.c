/* An example custom operator: [clamp] limits a numeric column to a range.
 *
 *   [clamp]
 *   plugin = path/to/libclamp.so
 *   column = score
 *   min = 3
 *   max = 8
 *
 * It is a streaming operator: every batch goes out as a view that shares
 * the input's columns except the clamped one, which the operator owns and
 * reuses from batch to batch. Built as a plugin by CMake; it uses only the
 * public API in include/pipeline/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/operator.h"

typedef struct clamp_state {
	int col; /* index of the clamped column */
	double lo, hi;
	pl_column out;	 /* the clamped values, reused */
	pl_column *cols; /* the view's columns */
	pl_batch view;
} clamp_state;

static const char *const clamp_keys[] = {"column", "min", "max", NULL};

static int read_bound(const pl_section *sec, const char *key, double *v,
		      pl_error *err)
{
	const char *s = pl_section_get(sec, key, NULL);
	char *end;
	if (s == NULL)
		return pl_section_error(sec, NULL, err, "needs %s = NUMBER",
					key);
	*v = strtod(s, &end);
	if (end == s || *end != '\0')
		return pl_section_error(sec, key, err, "%s must be a number",
					key);
	return 0;
}

static int clamp_init(pl_operator *op, const pl_section *sec,
		      const pl_schema *in, pl_schema *out, pl_error *err)
{
	int rc = pl_section_check_keys(sec, clamp_keys, err);
	if (rc != 0)
		return rc;
	clamp_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "[clamp] state");
	op->state = st;
	const char *name = pl_section_get(sec, "column", NULL);
	if (name == NULL)
		return pl_section_error(sec, NULL, err, "needs column = NAME");
	st->col = pl_schema_find(in, name);
	if (st->col < 0)
		return pl_section_error(sec, "column", err, "no column '%s'",
					name);
	if (in->fields[st->col].type != PL_FLOAT64 &&
	    in->fields[st->col].type != PL_INT64)
		return pl_section_error(sec, "column", err,
					"'%s' is not numeric", name);
	if ((rc = read_bound(sec, "min", &st->lo, err)) != 0 ||
	    (rc = read_bound(sec, "max", &st->hi, err)) != 0)
		return rc;
	if (st->lo > st->hi)
		return pl_section_error(sec, "max", err, "max is below min");
	st->cols = calloc(in->n, sizeof(*st->cols));
	if (st->cols == NULL)
		return pl_error_nomem(err, "[clamp] state");
	return pl_schema_copy(out, in, err);
}

static int clamp_values(clamp_state *st, const pl_column *src, pl_pool *pool,
			pl_error *err)
{
	st->out.len = 0;
	int rc = pl_column_append_range(&st->out, src, 0, src->len, pool, err);
	if (rc != 0)
		return rc;
	if (src->type == PL_FLOAT64) {
		double *v = pl_col_f64(&st->out);
		for (size_t i = 0; i < st->out.len; i++)
			v[i] = v[i] < st->lo   ? st->lo
			       : v[i] > st->hi ? st->hi
					       : v[i];
	} else {
		int64_t *v = pl_col_i64(&st->out);
		int64_t lo = (int64_t)st->lo, hi = (int64_t)st->hi;
		for (size_t i = 0; i < st->out.len; i++)
			v[i] = v[i] < lo ? lo : v[i] > hi ? hi : v[i];
	}
	return 0;
}

static int clamp_process(pl_operator *op, const pl_batch *in,
			 const pl_emitter *out, pl_error *err)
{
	clamp_state *st = op->state;
	const pl_column *src = &in->cols[st->col];
	if (st->out.data == NULL) {
		int rc = pl_column_init(&st->out, src->type, in->nrows, 0,
					op->env->pool, err);
		if (rc != 0)
			return rc;
	}
	int rc = clamp_values(st, src, op->env->pool, err);
	if (rc != 0)
		return rc;
	memcpy(st->cols, in->cols, in->ncols * sizeof(*st->cols));
	st->cols[st->col] = st->out;
	st->view = *in;
	st->view.cols = st->cols;
	return pl_emit(out, &st->view, err);
}

static void clamp_destroy(pl_operator *op)
{
	clamp_state *st = op->state;
	if (st == NULL)
		return;
	pl_column_free(&st->out, op->env->pool);
	free(st->cols);
	free(st);
	op->state = NULL;
}

static void clamp_describe(const pl_operator *op, char *buf, size_t cap)
{
	const clamp_state *st = op->state;
	snprintf(buf, cap, "%s to [%g, %g]",
		 pl_section_get(op->section, "column", "?"), st->lo, st->hi);
}

static const pl_operator_def clamp_def = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "clamp",
    .description = "limit a numeric column to [min, max] (example plugin)",
    .kind = PL_OP_STREAMING,
    .init = clamp_init,
    .process = clamp_process,
    .destroy = clamp_destroy,
    .describe = clamp_describe,
};

PL_OPERATOR_EXPORT(clamp_def)

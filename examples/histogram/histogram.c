/* An example blocking operator: [histogram] counts the values of a
 * numeric column in bins of a fixed width.
 *
 *   [histogram]
 *   plugin = libhistogram.so
 *   column = score
 *   width = 2.5
 *
 * Output: one row per non-empty bin, `bin` (its lower bound, float64) and
 * `n` (int64), ascending by bin. NULLs are not counted.
 *
 * It has partial and merge, so the runtime can split it across ranks: the
 * partial state is (bin number, count) rows, and partition_keys = 1 says
 * that the bin number is the key: the runtime sends each bin to one
 * merging instance, whose finish emits exactly the bins it received.
 * `pipeline --check-operator` checks that this gives the same answer as
 * one instance. Uses only the public API (pipeline/operator.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/operator.h"

typedef struct bin_count {
	int64_t bin; /* floor(value / width) */
	int64_t n;
} bin_count;

typedef struct histogram_state {
	int col;
	double width;
	bin_count *bins; /* ascending by bin; pool memory */
	size_t nbins, cap;
	pl_schema out; /* the output schema, for finish's batch */
} histogram_state;

static const char *const histogram_keys[] = {"column", "width", NULL};

static int read_width(const pl_section *sec, double *w, pl_error *err)
{
	const char *s = pl_section_get(sec, "width", NULL);
	char *end;
	if (s == NULL)
		return pl_section_error(sec, NULL, err, "needs width = NUMBER");
	*w = strtod(s, &end);
	if (end == s || *end != '\0' || !(*w > 0) || !isfinite(*w))
		return pl_section_error(sec, "width", err,
					"width must be a positive number");
	return 0;
}

static int histogram_init(pl_operator *op, const pl_section *sec,
			  const pl_schema *in, pl_schema *out, pl_error *err)
{
	int rc = pl_section_check_keys(sec, histogram_keys, err);
	if (rc != 0)
		return rc;
	histogram_state *st = pl_pool_calloc(op->env->pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "[histogram] state");
	op->state = st;
	pl_schema_init(&st->out);
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
	if ((rc = read_width(sec, &st->width, err)) != 0)
		return rc;
	op->partition_keys = 1;
	if ((rc = pl_schema_add(out, "bin", PL_FLOAT64, err)) != 0 ||
	    (rc = pl_schema_add(out, "n", PL_INT64, err)) != 0 ||
	    (rc = pl_schema_add(&op->partial_schema, "bin", PL_INT64, err)) ||
	    (rc = pl_schema_add(&op->partial_schema, "n", PL_INT64, err)))
		return rc;
	return pl_schema_copy(&st->out, out, err);
}

/* Adds n to bin b, inserting it in order when new. */
static int add(histogram_state *st, pl_pool *pool, int64_t b, int64_t n,
	       pl_error *err)
{
	size_t lo = 0, hi = st->nbins;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->bins[mid].bin < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < st->nbins && st->bins[lo].bin == b) {
		st->bins[lo].n += n;
		return 0;
	}
	if (st->nbins == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 64;
		bin_count *p =
		    pl_pool_realloc(pool, st->bins, cap * sizeof(*p));
		if (p == NULL)
			return pl_error_nomem(err, "[histogram] bins");
		st->bins = p;
		st->cap = cap;
	}
	memmove(&st->bins[lo + 1], &st->bins[lo],
		(st->nbins - lo) * sizeof(*st->bins));
	st->bins[lo] = (bin_count){b, n};
	st->nbins++;
	return 0;
}

static int histogram_process(pl_operator *op, const pl_batch *in,
			     const pl_emitter *out, pl_error *err)
{
	histogram_state *st = op->state;
	const pl_column *c = &in->cols[st->col];
	(void)out; /* blocking: emits in finish */
	for (size_t i = 0; i < in->nrows; i++) {
		if (pl_column_is_null(c, i))
			continue;
		double v = c->type == PL_FLOAT64 ? pl_col_f64(c)[i]
						 : (double)pl_col_i64(c)[i];
		if (!isfinite(v))
			continue;
		int rc = add(st, op->env->pool, (int64_t)floor(v / st->width),
			     1, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Emits the bins as rows of schema s, the bin as its number (partial) or
 * its lower bound (finish). */
static int emit_bins(pl_operator *op, const pl_schema *s, int as_bound,
		     const pl_emitter *out, pl_error *err)
{
	histogram_state *st = op->state;
	pl_pool *pool = op->env->pool;
	pl_batch *b = pl_batch_new(s, st->nbins + 1, pool, err);
	if (b == NULL)
		return PL_ERR_NOMEM;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < st->nbins; i++) {
		const bin_count *bc = &st->bins[i];
		rc = as_bound
			 ? pl_column_push_f64(&b->cols[0],
					      (double)bc->bin * st->width, pool,
					      err)
			 : pl_column_push_i64(&b->cols[0], bc->bin, pool, err);
		if (rc == 0)
			rc = pl_column_push_i64(&b->cols[1], bc->n, pool, err);
	}
	pl_batch_sync_rows(b);
	if (rc == 0 && b->nrows > 0)
		rc = pl_emit(out, b, err);
	pl_batch_free(b, pool);
	return rc == PL_STOP ? 0 : rc;
}

static int histogram_partial(pl_operator *op, const pl_emitter *out,
			     pl_error *err)
{
	return emit_bins(op, &op->partial_schema, 0, out, err);
}

static int histogram_merge(pl_operator *op, const pl_batch *partial,
			   pl_error *err)
{
	histogram_state *st = op->state;
	const int64_t *bin = pl_col_i64(&partial->cols[0]);
	const int64_t *n = pl_col_i64(&partial->cols[1]);
	for (size_t i = 0; i < partial->nrows; i++) {
		int rc = add(st, op->env->pool, bin[i], n[i], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int histogram_finish(pl_operator *op, const pl_emitter *out,
			    pl_error *err)
{
	histogram_state *st = op->state;
	return emit_bins(op, &st->out, 1, out, err);
}

static void histogram_destroy(pl_operator *op)
{
	histogram_state *st = op->state;
	if (st == NULL)
		return;
	pl_schema_free(&st->out);
	pl_pool_free(op->env->pool, st->bins);
	pl_pool_free(op->env->pool, st);
	op->state = NULL;
}

static void histogram_describe(const pl_operator *op, char *buf, size_t cap)
{
	const histogram_state *st = op->state;
	snprintf(buf, cap, "%s in bins of %g",
		 pl_section_get(op->section, "column", "?"), st->width);
}

static const pl_operator_def histogram_def = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "histogram",
    .description = "count a numeric column's values in bins (example)",
    .kind = PL_OP_BLOCKING,
    .init = histogram_init,
    .process = histogram_process,
    .finish = histogram_finish,
    .destroy = histogram_destroy,
    .partial = histogram_partial,
    .merge = histogram_merge,
    .describe = histogram_describe,
};

PL_OPERATOR_EXPORT(histogram_def)

/* Expressions of the job.conf language: parsed once, type-checked against a
 * schema when the plan is made, evaluated a batch at a time.
 *
 * Life cycle: pl_expr_parse -> pl_expr_bind (resolves columns, checks types,
 * fixes the result type) -> pl_expr_eval per batch -> pl_expr_free.
 * An expression's nodes are plain malloc memory (small, job-long); the
 * columns pl_expr_eval produces come from the pool. Evaluation allocates
 * scratch columns once per expression and reuses them across batches. */
#ifndef PIPELINE_EXPR_H
#define PIPELINE_EXPR_H

#include <stddef.h>

#include "pipeline/api.h"
#include "pipeline/batch.h"
#include "pipeline/error.h"
#include "pipeline/pool.h"

PL_BEGIN_DECLS

typedef struct pl_expr pl_expr;

/* Where an expression came from, for messages: "job.conf:12: [derive]". */
typedef struct pl_expr_where {
	const char *file; /* job.conf path */
	int line;
	const char *section; /* "derive" */
	int64_t now_us;	     /* what now() gives: fixed once per job */
} pl_expr_where;

/* Parses text. On a syntax error returns PL_ERR_CONF with a message
 * "FILE:LINE: [section] syntax error in 'text': ... at column N". */
PL_API int pl_expr_parse(const char *text, const pl_expr_where *where,
			 pl_expr **out, pl_error *err);

/* Resolves column names against in and checks types; fills *type with the
 * result type. Errors (unknown column with a suggestion, type mismatch,
 * chained comparison, aggregate outside [groupby]) are PL_ERR_CONF. */
PL_API int pl_expr_bind(pl_expr *e, const pl_schema *in, pl_type *type,
			pl_error *err);

/* Evaluates e over every row of in. *out points to a column owned by e
 * (valid until the next eval or free; nrows values, NULLs per the
 * contract). Data errors (overflow, division by zero) are PL_ERR_DATA
 * naming the expression and the row (its input line when in has
 * provenance). */
PL_API int pl_expr_eval(pl_expr *e, const pl_batch *in, pl_pool *pool,
			const pl_column **out, pl_error *err);

/* Frees e (NULL is fine), returning its scratch columns to pool (which may
 * be NULL if eval never ran). */
PL_API void pl_expr_free(pl_expr *e, pl_pool *pool);

/* The expression's source text. */
PL_API const char *pl_expr_text(const pl_expr *e);

/* If e is a bare column reference, its name; else NULL. */
PL_API const char *pl_expr_column_name(const pl_expr *e);

/* After bind: sets used[i] = 1 for every column i < n that e reads. */
PL_API void pl_expr_mark_columns(const pl_expr *e, uint8_t *used, size_t n);

/* If e is a numeric literal (possibly negated), stores it and returns 1. */
PL_API int pl_expr_number(const pl_expr *e, double *value);

/* Aggregate extraction for [groupby]. Walks e (before bind) and calls fn
 * for each call of a function whose name is in the NULL-terminated list
 * aggs (e.g. "sum", "min", ...) and that is not nested inside another such
 * call. For min/max only one-argument calls count as aggregates. fn gets
 * the call's name and arguments (still owned by e) and fills name_out with
 * the column name that replaces the call; after the walk each replaced call
 * is a column reference, so binding e against a schema holding those
 * columns evaluates the expression over aggregates. An aggregate nested in
 * an aggregate's argument is a PL_ERR_CONF error. */
typedef int (*pl_expr_agg_fn)(void *arg, const char *fname,
			      pl_expr *const *args, size_t nargs,
			      char *name_out, size_t cap, pl_error *err);
PL_API int pl_expr_extract_aggs(pl_expr *e, const char *const *aggs,
				pl_expr_agg_fn fn, void *arg, pl_error *err);

/* A deep, unbound copy of e (NULL when out of memory); used to keep an
 * aggregate's argument beyond pl_expr_extract_aggs. */
PL_API pl_expr *pl_expr_clone(const pl_expr *e);

PL_END_DECLS

#endif

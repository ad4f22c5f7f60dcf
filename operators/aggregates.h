/* The aggregate functions of [groupby]: per-group state in pool arrays,
 * vectorised updates from (group ids, argument column), exact merges of
 * partial states, and final values.
 *
 * Every state starts as zero bytes, so growing the group count only has to
 * zero the new tail. Float sums (sum, mean, var, sd, corr) are exact
 * (exact_sum.h) and rounded once at the end, so that their bits do not
 * depend on the order of the rows, the chunks or the merges; over int64
 * arguments they are 128-bit integers while they fit (exact_sum.h,
 * pl_i128), converted to the general form on overflow, merge and output.
 * median, quantile and count_distinct keep the values themselves as a list of
 * (group, value) pairs; pl_agg_prepare groups them once before the final values
 * are read, sorting a group's values for count_distinct and only selecting the
 * ranks a quantile reads. */
#ifndef PL_OPERATORS_AGGREGATES_H
#define PL_OPERATORS_AGGREGATES_H

#include <stddef.h>
#include <stdint.h>

#include "operators/exact_sum.h"
#include "operators/value_list.h"
#include "pipeline/batch.h"
#include "pipeline/error.h"
#include "pipeline/pool.h"

typedef enum pl_agg_kind {
	PL_AGG_COUNT_STAR,
	PL_AGG_COUNT,
	PL_AGG_SUM,
	PL_AGG_MEAN,
	PL_AGG_MIN,
	PL_AGG_MAX,
	PL_AGG_VAR,
	PL_AGG_SD,
	PL_AGG_MEDIAN,
	PL_AGG_QUANTILE,
	PL_AGG_COUNT_DISTINCT,
	PL_AGG_FIRST,
	PL_AGG_LAST,
	PL_AGG_CORR
} pl_agg_kind;

/* The function names, NULL-terminated, for pl_expr_extract_aggs. */
extern const char *const pl_agg_names[];

/* The kind called name with nargs arguments; -1 when unknown or when the
 * argument count is wrong (*want then holds the expected count). */
int pl_agg_lookup(const char *name, size_t nargs, pl_agg_kind *kind,
		  size_t *want);

/* The result type for argument type x; -1 when x does not fit the kind. */
int pl_agg_result_type(pl_agg_kind kind, pl_type x, pl_type *out);

enum {
	PL_AGG_A_N,
	PL_AGG_A_I64,
	PL_AGG_A_F0,
	PL_AGG_A_F1,
	PL_AGG_A_F2,
	PL_AGG_A_F3,
	PL_AGG_A_F4,
	PL_AGG_A_FLAG,
	PL_AGG_A_STR,
	PL_AGG_A_SLEN,
	PL_AGG_NARRAYS
};

/* The (group, value) pairs of median, quantile and count_distinct. */
typedef struct pl_agg_values {
	pl_value_list list;
	size_t *seg;  /* after prepare: group g's values are seg[g]..seg[g+1] */
	void *sorted; /* after prepare: int64_t[], double[] or pl_agg_str[] */
} pl_agg_values;

typedef struct pl_agg_str {
	const char *p;
	size_t len;
} pl_agg_str;

/* A kind's functions (aggregates.c). */
typedef struct pl_agg_ops pl_agg_ops;

typedef struct pl_agg {
	pl_agg_kind kind;
	const pl_agg_ops *ops; /* kind's, set by pl_agg_init */
	/* Exact sums a group keeps: x for sum and mean; x, x^2 for var and
	 * sd; x, y, x^2, y^2, xy for corr; none for an int64 sum (an int64). */
	int nxsum;
	pl_type type; /* of the (first) argument */
	pl_type out_type;
	double p; /* quantile */
	pl_pool *pool;
	size_t cap;  /* groups with state */
	size_t room; /* groups the arrays have room for */
	size_t esize[PL_AGG_NARRAYS];
	void *a[PL_AGG_NARRAYS];
	pl_agg_values vl;
	pl_xsum_big big;    /* float sums that outgrew their window */
	int wide;	    /* exact sums held as pl_i128 (int64 arguments) */
	uint32_t bad_group; /* the group whose sum overflowed */
} pl_agg;

/* Sets a up (no allocation); x is the argument type (any for count()). */
void pl_agg_init(pl_agg *a, pl_agg_kind kind, pl_type x, double p,
		 pl_pool *pool);
void pl_agg_free(pl_agg *a);

/* Makes room for state of ngroups groups. */
int pl_agg_reserve(pl_agg *a, size_t ngroups, pl_error *err);

/* Folds rows 0..n of x (and y for corr) into groups gid[0..n). On an int64
 * sum overflow returns PL_ERR_DATA with a->bad_group set and err untouched;
 * PL_ERR_NOMEM (err set) when an exact sum cannot grow. */
int pl_agg_update(pl_agg *a, const uint32_t *gid, size_t n, const pl_column *x,
		  const pl_column *y, pl_error *err);

/* Appends this aggregate's partial-state columns (named prefix_...) to s. */
int pl_agg_partial_schema(const pl_agg *a, const char *prefix, pl_schema *s,
			  pl_error *err);
size_t pl_agg_partial_ncols(const pl_agg *a);
int pl_agg_has_values(const pl_agg *a);

/* Appends state rows for groups g0..g0+n to cols (the aggregate's partial
 * columns); the value columns, if any, get NULLs. Exact sums travel as
 * string columns holding pl_xsum_encode's bytes (10 to 26 bytes for
 * usual data). */
int pl_agg_export(pl_agg *a, size_t g0, size_t n, pl_column *cols,
		  pl_error *err);

/* A packed value row holds at most this many values of one group. */
#define PL_AGG_PACK_VALUES 1024

/* Where pl_agg_export_values is in the value list: zeroed to start,
 * pl_agg_cursor_free after. A caller that sets consume before the first
 * call gives the list up: the export frees it as it goes (the blocks it
 * has passed), and the aggregate may then only be freed. */
typedef struct pl_agg_cursor {
	int consume;
	int started, packed;
	size_t next;	/* the first value not yet exported or sliced */
	size_t nslice;	/* values in the slice */
	size_t g, pos;	/* the slice's next group and its next value */
	size_t ngroups; /* of the table, when the export started */
	size_t *seg;	/* ngroups: after group g in buf (see load_slice) */
	void *buf;	/* the slice's values in group order */
} pl_agg_cursor;

/* Appends the next value rows of the list to cols (the aggregate's
 * partial columns: 0 a value, 1 packed values), at most max_values values
 * in at most max_values rows, and each row's group to gid; *nrows gets
 * their count, 0 once the list is done. Numbers travel packed when their
 * groups hold two values or more on average (the list of ngroups groups):
 * up to PL_AGG_PACK_VALUES values of one group a row, as their bytes in
 * column 1 (column 0 NULL); else one value a row (column 1 NULL). Rows of
 * a group may come in several pieces. The cursor holds scratch from the
 * pool: bounded (a slice of the list) and freed by pl_agg_cursor_free. */
int pl_agg_export_values(pl_agg *a, size_t ngroups, pl_agg_cursor *c,
			 size_t max_values, uint32_t *gid, size_t *nrows,
			 pl_column *cols, pl_error *err);
void pl_agg_cursor_free(pl_agg *a, pl_agg_cursor *c);

/* The rows pl_agg_export_values would make of the list now (at most:
 * packed groups may share a slice's row count), for the runtime's
 * estimate of what partial state costs to send. */
size_t pl_agg_value_rows(const pl_agg *a, size_t ngroups);

/* Absorbs partial rows: rows whose tag is 0 are group states, rows whose
 * tag is value_tag are value-list entries of this aggregate (one value, or
 * packed values: see pl_agg_export_values). Groups must
 * be reserved. May fail like pl_agg_update. */
int pl_agg_merge(pl_agg *a, const uint32_t *gid, const int64_t *tag,
		 int64_t value_tag, size_t n, const pl_column *cols,
		 pl_error *err);

/* Groups the value list and orders each group's values as its final value
 * needs; call once before pl_agg_final. */
int pl_agg_prepare(pl_agg *a, size_t ngroups, pl_error *err);

/* Appends the final values of groups g0..g0+n to out (type out_type). */
int pl_agg_final(pl_agg *a, size_t g0, size_t n, pl_column *out, pl_error *err);

/* Appends n NULLs to c. */
int pl_agg_append_nulls(pl_column *c, size_t n, pl_pool *pool, pl_error *err);

/* Bytes of state held. */
size_t pl_agg_bytes(const pl_agg *a);

#endif

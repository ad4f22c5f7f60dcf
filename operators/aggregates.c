#include "operators/aggregates.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/prefetch.h"

enum {
	N = PL_AGG_A_N,
	I64 = PL_AGG_A_I64,
	F0 = PL_AGG_A_F0,
	FLAG = PL_AGG_A_FLAG,
	STR = PL_AGG_A_STR,
	SLEN = PL_AGG_A_SLEN
};

/* first/last/min/max: whether the group has seen a row, and whether the
 * value it keeps is present (not NULL). */
enum { SEEN = 1, VALID = 2 };

const char *const pl_agg_names[] = {
    "count",  "sum",	  "mean",	    "min",   "max",  "var",  "sd",
    "median", "quantile", "count_distinct", "first", "last", "corr", NULL};

/* What a kind does, as DuckDB defines an aggregate: one row of functions
 * (state layout, update, export, merge, final value) per kind, looked up
 * once by pl_agg_init, instead of a switch on the kind in every step. */
enum { FAM_COUNT, FAM_SUMS, FAM_KEPT, FAM_VALUES };

struct pl_agg_ops {
	const char *name;
	size_t nargs;
	int family;    /* FAM_*: which partial columns and final path */
	int xsums;     /* exact sums a group keeps (see pl_agg.nxsum) */
	int plain_i64; /* over int64 an int64 sum instead of exact sums */
	int seen;      /* first/last: a column saying the group saw a row */
	const char *const *suffixes; /* of the partial columns */
	/* Sets esize beyond the exact sums (NULL: nothing more). */
	void (*layout)(pl_agg *a);
	int (*update)(pl_agg *a, const uint32_t *gid, size_t n,
		      const pl_column *x, const pl_column *y, pl_error *err);
	int (*export_state)(pl_agg *a, size_t g0, size_t n, pl_column *cols,
			    pl_error *err);
	int (*merge)(pl_agg *a, const uint32_t *gid, const int64_t *tag,
		     int64_t value_tag, size_t n, const pl_column *cols,
		     pl_error *err);
	int (*final)(pl_agg *a, size_t g0, size_t n, pl_column *out,
		     pl_error *err);
	/* Group g's final value when it is a double, or an int64 (also a
	 * date or timestamp); 0 / *ok 0 when it is NULL. */
	int (*f64)(const pl_agg *a, size_t g, double *out);
	int64_t (*i64)(const pl_agg *a, size_t g, int *ok);
};

static const pl_agg_ops *ops_of(pl_agg_kind kind);
static const pl_agg_ops *ops_at(size_t i);

int pl_agg_lookup(const char *name, size_t nargs, pl_agg_kind *kind,
		  size_t *want)
{
	int found = 0;
	for (size_t i = 0; ops_at(i) != NULL; i++) {
		const pl_agg_ops *o = ops_at(i);
		if (strcmp(o->name, name) != 0)
			continue;
		if (o->nargs == nargs) {
			*kind = (pl_agg_kind)i;
			return 0;
		}
		if (!found)
			*want = o->nargs;
		found = 1;
	}
	return -1;
}

static int is_num(pl_type t)
{
	return t == PL_INT64 || t == PL_FLOAT64;
}

static int is_value_list(pl_agg_kind k)
{
	return ops_of(k)->family == FAM_VALUES;
}

static int keeps_value(pl_agg_kind k)
{
	return ops_of(k)->family == FAM_KEPT;
}

int pl_agg_result_type(pl_agg_kind kind, pl_type x, pl_type *out)
{
	if (ops_of(kind)->family == FAM_COUNT) {
		*out = PL_INT64;
		return 0;
	}
	if (x == PL_NULLTYPE)
		return -1;
	if (kind == PL_AGG_COUNT_DISTINCT)
		*out = PL_INT64;
	else if (keeps_value(kind))
		*out = x;
	else if (pl_type_is_time(x) &&
		 (kind == PL_AGG_MEDIAN || kind == PL_AGG_QUANTILE))
		*out = x; /* interpolated, then floored to the day or µs */
	else if (!is_num(x))
		return -1;
	else if (kind == PL_AGG_SUM)
		*out = x;
	else
		*out = PL_FLOAT64;
	return 0;
}

/* The rows a group saw (with a value, for count(x)). */
static void layout_n(pl_agg *a)
{
	a->esize[N] = 8;
}

static void layout_sum(pl_agg *a)
{
	a->esize[N] = 8;
	if (a->type == PL_INT64)
		a->esize[I64] = 8;
}

static void layout_kept(pl_agg *a)
{
	size_t *e = a->esize;
	e[FLAG] = 1;
	if (a->type == PL_STRING) {
		e[STR] = sizeof(char *);
		e[SLEN] = sizeof(size_t);
	} else {
		e[a->type == PL_FLOAT64 ? F0 : I64] = 8;
	}
}

void pl_agg_init(pl_agg *a, pl_agg_kind kind, pl_type x, double p,
		 pl_pool *pool)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->ops = ops_of(kind);
	a->type = x;
	a->p = kind == PL_AGG_MEDIAN ? 0.5 : p;
	a->pool = pool;
	a->big.pool = pool;
	if (pl_agg_result_type(kind, x, &a->out_type) != 0)
		a->out_type = PL_INT64;
	/* corr's second argument may still turn out not to be int64: the
	 * first update that sees one leaves the fast path. */
	a->nxsum = a->ops->plain_i64 && x == PL_INT64 ? 0 : a->ops->xsums;
	a->wide = a->nxsum > 0 && x == PL_INT64;
	a->esize[F0] =
	    (size_t)a->nxsum * (a->wide ? sizeof(pl_i128) : sizeof(pl_xsum));
	if (a->ops->layout)
		a->ops->layout(a);
}

void pl_agg_free(pl_agg *a)
{
	char **s = a->a[STR];
	for (size_t g = 0; s != NULL && g < a->cap; g++)
		pl_pool_free(a->pool, s[g]);
	for (int i = 0; i < PL_AGG_NARRAYS; i++)
		pl_pool_free(a->pool, a->a[i]);
	pl_agg_values *v = &a->vl;
	pl_value_list_free(&v->list, a->pool);
	pl_pool_free(a->pool, v->seg);
	pl_pool_free(a->pool, v->sorted);
	pl_xsum_big_free(&a->big);
	memset(a, 0, sizeof(*a));
}

/* State is zeroed only as groups come (not the whole doubled room), so
 * that memory never touched stays out of the resident set. */
int pl_agg_reserve(pl_agg *a, size_t ngroups, pl_error *err)
{
	if (ngroups <= a->cap)
		return 0;
	size_t room = a->room ? a->room : 16;
	while (room < ngroups)
		room *= 2;
	for (int i = 0; room > a->room && i < PL_AGG_NARRAYS; i++) {
		size_t es = a->esize[i];
		if (es == 0)
			continue;
		char *p = pl_pool_realloc(a->pool, a->a[i], room * es);
		if (p == NULL)
			return pl_error_nomem(err, "group-by state");
		a->a[i] = p;
	}
	a->room = room;
	for (int i = 0; i < PL_AGG_NARRAYS; i++)
		if (a->esize[i] != 0)
			memset((char *)a->a[i] + a->cap * a->esize[i], 0,
			       (ngroups - a->cap) * a->esize[i]);
	a->cap = ngroups;
	return 0;
}

static int64_t *st_n(const pl_agg *a)
{
	return a->a[N];
}
static int64_t *st_i(const pl_agg *a)
{
	return a->a[I64];
}
static double *st_f(const pl_agg *a, int k)
{
	return a->a[F0 + k];
}
static uint8_t *st_flag(const pl_agg *a)
{
	return a->a[FLAG];
}
/* The exact sums of a group lie side by side, so that a row touches as
 * few cache lines as it can. */
static pl_xsum *xs_at(const pl_agg *a, size_t g)
{
	return (pl_xsum *)a->a[F0] + g * (a->esize[F0] / sizeof(pl_xsum));
}

/* Group g's sums on the 128-bit path. */
static pl_i128 *is_at(const pl_agg *a, size_t g)
{
	return (pl_i128 *)a->a[F0] + g * (a->esize[F0] / sizeof(pl_i128));
}

/* Leaves the 128-bit path for good: every group's sums in the general
 * form, equal in value. */
static int leave_wide(pl_agg *a, pl_error *err)
{
	if (!a->wide)
		return 0;
	size_t k = (size_t)a->nxsum, es = k * sizeof(pl_xsum);
	pl_xsum *xs = NULL;
	if (a->room > 0) {
		xs = pl_pool_alloc(a->pool, a->room * es);
		if (xs == NULL)
			return pl_error_nomem(err, "group-by state");
	}
	for (size_t g = 0; g < a->cap; g++)
		for (size_t j = 0; j < k; j++)
			pl_xsum_from_i128(&xs[g * k + j], is_at(a, g)[j],
					  st_n(a)[g] > 0);
	pl_pool_free(a->pool, a->a[F0]);
	a->a[F0] = xs;
	a->esize[F0] = es;
	a->wide = 0;
	return 0;
}

/* Group g's sums in the general form: in place, or (on the 128-bit path)
 * converted into tmp. */
static const pl_xsum *sums_of(const pl_agg *a, size_t g, pl_xsum tmp[5])
{
	if (!a->wide)
		return xs_at(a, g);
	for (int j = 0; j < a->nxsum; j++)
		pl_xsum_from_i128(&tmp[j], is_at(a, g)[j], st_n(a)[g] > 0);
	return tmp;
}

/* How far ahead the update loops prefetch group state: the state of many
 * groups outgrows the caches, and a row's work is short. */
enum { AHEAD = 16 };

static inline void prefetch_group(const pl_agg *a, const uint32_t *gid,
				  size_t i, size_t n)
{
	if (i + AHEAD < n) {
		uint32_t g = gid[i + AHEAD];
		const char *p = (const char *)a->a[F0] + g * a->esize[F0];
		for (size_t off = 0; off < a->esize[F0]; off += 64)
			pl_prefetch(p + off);
		pl_prefetch(p + a->esize[F0] - 1);
		pl_prefetch((const char *)a->a[N] + g * 8);
	}
}

static double num_at(const pl_column *c, size_t i)
{
	return c->type == PL_INT64 ? (double)pl_col_i64(c)[i]
				   : pl_col_f64(c)[i];
}

static void count_rows(pl_agg *a, const uint32_t *gid, size_t n,
		       const pl_column *x)
{
	int64_t *cnt = st_n(a);
	if (x == NULL || x->valid == NULL) {
		for (size_t i = 0; i < n; i++)
			cnt[gid[i]]++;
		return;
	}
	for (size_t i = 0; i < n; i++)
		cnt[gid[i]] += pl_bit_get(x->valid, i);
}

static int sum_i64(pl_agg *a, const uint32_t *gid, size_t n, const pl_column *x)
{
	int64_t *cnt = st_n(a), *s = st_i(a);
	const int64_t *v = pl_col_i64(x);
	for (size_t i = 0; i < n; i++) {
		if (!pl_bit_get(x->valid, i))
			continue;
		uint32_t g = gid[i];
		cnt[g]++;
		if (__builtin_add_overflow(s[g], v[i], &s[g])) {
			a->bad_group = g;
			return PL_ERR_DATA;
		}
	}
	return 0;
}

/* sum and mean: the count and the exact sum of x (rows from..n). */
static int sum_f64(pl_agg *a, const uint32_t *gid, size_t from, size_t n,
		   const pl_column *x, pl_error *err)
{
	int64_t *cnt = st_n(a);
	pl_xsum *s = xs_at(a, 0);
	int rc = 0;
	if (x->type == PL_FLOAT64 && x->valid == NULL) {
		const double *v = pl_col_f64(x);
		for (size_t i = from; rc == 0 && i < n; i++) {
			prefetch_group(a, gid, i, n);
			cnt[gid[i]]++;
			rc = pl_xsum_add_f64(&s[gid[i]], v[i], &a->big, err);
		}
		return rc;
	}
	for (size_t i = from; rc == 0 && i < n; i++) {
		prefetch_group(a, gid, i, n);
		if (!pl_bit_get(x->valid, i))
			continue;
		uint32_t g = gid[i];
		cnt[g]++;
		rc =
		    x->type == PL_INT64
			? pl_xsum_add_i64(&s[g], pl_col_i64(x)[i], &a->big, err)
			: pl_xsum_add_f64(&s[g], pl_col_f64(x)[i], &a->big,
					  err);
	}
	return rc;
}

/* s += x[i] exactly. */
static inline int add_x(pl_agg *a, pl_xsum *s, const pl_column *x, size_t i,
			pl_error *err)
{
	if (x->type == PL_INT64)
		return pl_xsum_add_i64(s, pl_col_i64(x)[i], &a->big, err);
	return pl_xsum_add_f64(s, pl_col_f64(x)[i], &a->big, err);
}

/* s += x[i] * y[i], exactly for int64 pairs and for finite doubles whose
 * product neither overflows nor underflows. */
static inline int add_xy(pl_agg *a, pl_xsum *s, const pl_column *x,
			 const pl_column *y, size_t i, pl_error *err)
{
	if (x->type == PL_INT64 && y->type == PL_INT64)
		return pl_xsum_add_mul_i64(s, pl_col_i64(x)[i],
					   pl_col_i64(y)[i], &a->big, err);
	return pl_xsum_add_mul_f64(s, num_at(x, i), num_at(y, i), &a->big, err);
}

/* var and sd: the count and the exact sums of x and x^2; the variance is
 * computed from them once, exactly up to its last rounding. */
static int var_rows(pl_agg *a, const uint32_t *gid, size_t from, size_t n,
		    const pl_column *x, pl_error *err)
{
	int64_t *cnt = st_n(a);
	int rc = 0;
	for (size_t i = from; rc == 0 && i < n; i++) {
		prefetch_group(a, gid, i, n);
		if (!pl_bit_get(x->valid, i))
			continue;
		uint32_t g = gid[i];
		pl_xsum *s = xs_at(a, g);
		cnt[g]++;
		rc = add_x(a, &s[0], x, i, err);
		if (rc == 0)
			rc = add_xy(a, &s[1], x, x, i, err);
	}
	return rc;
}

static int corr_rows(pl_agg *a, const uint32_t *gid, size_t from, size_t n,
		     const pl_column *x, const pl_column *y, pl_error *err)
{
	int64_t *cnt = st_n(a);
	int rc = 0;
	for (size_t i = from; rc == 0 && i < n; i++) {
		prefetch_group(a, gid, i, n);
		if (!pl_bit_get(x->valid, i) || !pl_bit_get(y->valid, i))
			continue;
		uint32_t g = gid[i];
		pl_xsum *s = xs_at(a, g);
		cnt[g]++;
		rc = add_x(a, &s[0], x, i, err);
		if (rc == 0)
			rc = add_x(a, &s[1], y, i, err);
		if (rc == 0)
			rc = add_xy(a, &s[2], x, x, i, err);
		if (rc == 0)
			rc = add_xy(a, &s[3], y, y, i, err);
		if (rc == 0)
			rc = add_xy(a, &s[4], x, y, i, err);
	}
	return rc;
}

/* Adds a row to k 128-bit sums t: x for mean; x, x^2 for var and sd; x,
 * y, x^2, y^2, xy for corr. 0 when a sum would overflow (t is then
 * unchanged). Sums of plain values cannot: a group would need 2^64 rows
 * of them (merges take the general form); products of two int64 fit in
 * 127 bits, but their sums can overflow from the second row. */
static inline __attribute__((always_inline)) int wide_add(pl_i128 *t, int k,
							  int64_t x, int64_t y)
{
	pl_i128 r[5];
	int of = 0;
	r[0] = t[0] + x;
	if (k == 2)
		of = __builtin_add_overflow(t[1], (pl_i128)x * x, &r[1]);
	if (k == 5) {
		r[1] = t[1] + y;
		of = __builtin_add_overflow(t[2], (pl_i128)x * x, &r[2]);
		of |= __builtin_add_overflow(t[3], (pl_i128)y * y, &r[3]);
		of |= __builtin_add_overflow(t[4], (pl_i128)x * y, &r[4]);
	}
	if (__builtin_expect(of, 0))
		return 0;
	for (int j = 0; j < k; j++)
		t[j] = r[j];
	return 1;
}

/* wide_rows for k sums (a constant in each caller, so that each kind
 * gets a loop of its own) and, when dense, no NULL to look for. */
static inline __attribute__((always_inline)) size_t
wide_loop(pl_agg *a, const uint32_t *gid, size_t n, const int64_t *xv,
	  const int64_t *yv, const uint8_t *xvalid, const uint8_t *yvalid,
	  int k, int dense)
{
	int64_t *cnt = st_n(a);
	pl_i128 *s = a->a[F0];
	for (size_t i = 0; i < n; i++) {
		prefetch_group(a, gid, i, n);
		if (!dense &&
		    (!pl_bit_get(xvalid, i) || !pl_bit_get(yvalid, i)))
			continue;
		uint32_t g = gid[i];
		if (!wide_add(s + (size_t)g * (size_t)k, k, xv[i], yv[i]))
			return i;
		cnt[g]++;
	}
	return n;
}

/* mean, var, sd and corr of int64 columns on the 128-bit path; returns
 * the first row whose sums would overflow, n when none would. */
static size_t wide_rows(pl_agg *a, const uint32_t *gid, size_t n,
			const pl_column *x, const pl_column *y)
{
	const int64_t *xv = pl_col_i64(x), *yv = y ? pl_col_i64(y) : xv;
	const uint8_t *xvalid = x->valid, *yvalid = y ? y->valid : NULL;
	int dense = xvalid == NULL && yvalid == NULL;
	switch (a->nxsum) {
	case 1:
		return dense
			   ? wide_loop(a, gid, n, xv, yv, NULL, NULL, 1, 1)
			   : wide_loop(a, gid, n, xv, yv, xvalid, yvalid, 1, 0);
	case 2:
		return dense
			   ? wide_loop(a, gid, n, xv, yv, NULL, NULL, 2, 1)
			   : wide_loop(a, gid, n, xv, yv, xvalid, yvalid, 2, 0);
	default:
		return dense
			   ? wide_loop(a, gid, n, xv, yv, NULL, NULL, 5, 1)
			   : wide_loop(a, gid, n, xv, yv, xvalid, yvalid, 5, 0);
	}
}

/* mean, var, sd and corr: the 128-bit path while the arguments are int64
 * and the sums fit; *from gets the row where the general one takes over
 * (n when none), having left the 128-bit path for good. */
static int wide_first(pl_agg *a, const uint32_t *gid, size_t n,
		      const pl_column *x, const pl_column *y, size_t *from,
		      pl_error *err)
{
	*from = 0;
	if (a->wide && x->type == PL_INT64 && (!y || y->type == PL_INT64)) {
		*from = wide_rows(a, gid, n, x, y);
		if (*from == n)
			return 0;
	}
	return leave_wide(a, err);
}

static int mean_update(pl_agg *a, const uint32_t *gid, size_t n,
		       const pl_column *x, const pl_column *y, pl_error *err)
{
	size_t from;
	int rc = wide_first(a, gid, n, x, y, &from, err);
	return rc ? rc : sum_f64(a, gid, from, n, x, err);
}

static int var_update(pl_agg *a, const uint32_t *gid, size_t n,
		      const pl_column *x, const pl_column *y, pl_error *err)
{
	size_t from;
	int rc = wide_first(a, gid, n, x, y, &from, err);
	return rc ? rc : var_rows(a, gid, from, n, x, err);
}

static int corr_update(pl_agg *a, const uint32_t *gid, size_t n,
		       const pl_column *x, const pl_column *y, pl_error *err)
{
	size_t from;
	int rc = wide_first(a, gid, n, x, y, &from, err);
	return rc ? rc : corr_rows(a, gid, from, n, x, y, err);
}

static int cmp_bytes(const char *p, size_t lp, const char *q, size_t lq)
{
	int c = memcmp(p, q, lp < lq ? lp : lq);
	return c ? c : (lp > lq) - (lp < lq);
}

/* Compares x[i] with the value group g keeps. */
static int cmp_kept(const pl_agg *a, uint32_t g, const pl_column *x, size_t i)
{
	if (a->type == PL_FLOAT64)
		return pl_f64_total_compare(pl_col_f64(x)[i], st_f(a, 0)[g]);
	if (a->type == PL_STRING) {
		size_t len;
		const char *s = pl_col_str(x, i, &len);
		return cmp_bytes(s, len, ((char **)a->a[STR])[g],
				 ((size_t *)a->a[SLEN])[g]);
	}
	int64_t v = a->type == PL_BOOL ? pl_col_bool(x)[i] : pl_col_i64(x)[i];
	return (v > st_i(a)[g]) - (v < st_i(a)[g]);
}

static int keep_str(pl_agg *a, uint32_t g, const char *s, size_t len,
		    pl_error *err)
{
	char **sp = a->a[STR];
	if (sp[g] == NULL || pl_pool_size(sp[g]) < len) {
		char *p = pl_pool_realloc(a->pool, sp[g], len);
		if (p == NULL)
			return pl_error_nomem(err, "a group-by string");
		sp[g] = p;
	}
	memcpy(sp[g], s, len);
	((size_t *)a->a[SLEN])[g] = len;
	return 0;
}

/* Makes group g keep x[i], NULL or not. */
static int keep(pl_agg *a, uint32_t g, const pl_column *x, size_t i,
		pl_error *err)
{
	int ok = pl_bit_get(x->valid, i);
	st_flag(a)[g] = (uint8_t)(SEEN | (ok ? VALID : 0));
	if (a->type == PL_STRING) {
		size_t len;
		const char *s = pl_col_str(x, i, &len);
		return keep_str(a, g, s, ok ? len : 0, err);
	}
	if (a->type == PL_FLOAT64)
		st_f(a, 0)[g] = pl_col_f64(x)[i];
	else if (a->type == PL_BOOL)
		st_i(a)[g] = pl_col_bool(x)[i];
	else
		st_i(a)[g] = pl_col_i64(x)[i];
	return 0;
}

static int extreme_rows(pl_agg *a, const uint32_t *gid, size_t n,
			const pl_column *x, const pl_column *y, pl_error *err)
{
	(void)y;
	int sign = a->kind == PL_AGG_MIN ? -1 : 1;
	uint8_t *flag = st_flag(a);
	for (size_t i = 0; i < n; i++) {
		if (!pl_bit_get(x->valid, i))
			continue;
		uint32_t g = gid[i];
		if ((flag[g] & VALID) && cmp_kept(a, g, x, i) * sign <= 0)
			continue;
		int rc = keep(a, g, x, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int first_last_rows(pl_agg *a, const uint32_t *gid, size_t n,
			   const pl_column *x, const pl_column *y,
			   pl_error *err)
{
	(void)y;
	int first = a->kind == PL_AGG_FIRST;
	uint8_t *flag = st_flag(a);
	for (size_t i = 0; i < n; i++) {
		if (first && (flag[gid[i]] & SEEN))
			continue;
		int rc = keep(a, gid[i], x, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int vl_reserve(pl_agg *a, size_t extra, size_t bytes, pl_error *err)
{
	return pl_value_list_reserve(&a->vl.list, a->pool, extra, bytes,
				     "a group-by value list", err);
}

/* Appends x[i] (present) to group g's list; room is reserved. */
static void vl_push(pl_agg *a, uint32_t g, const pl_column *x, size_t i)
{
	pl_value_list *l = &a->vl.list;
	int64_t bits;
	if (a->type == PL_FLOAT64) {
		memcpy(&bits, &pl_col_f64(x)[i], sizeof(bits));
	} else if (pl_type_is_i64(a->type)) {
		bits = pl_col_i64(x)[i];
	} else if (a->type == PL_BOOL) {
		bits = pl_col_bool(x)[i];
	} else {
		size_t len;
		const char *s = pl_col_str(x, i, &len);
		pl_value_list_push_str(l, g, s, len);
		return;
	}
	pl_value_list_push(l, g, bits);
}

static size_t str_bytes(const pl_column *x, size_t from, size_t n)
{
	if (x->type != PL_STRING || n == 0)
		return 0;
	return (size_t)(pl_col_off(x)[from + n] - pl_col_off(x)[from]);
}

static int values_rows(pl_agg *a, const uint32_t *gid, size_t n,
		       const pl_column *x, const pl_column *y, pl_error *err)
{
	(void)y;
	int rc = vl_reserve(a, n, str_bytes(x, 0, n), err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (pl_bit_get(x->valid, i))
			vl_push(a, gid[i], x, i);
	return 0;
}

static int count_star_update(pl_agg *a, const uint32_t *gid, size_t n,
			     const pl_column *x, const pl_column *y,
			     pl_error *err)
{
	(void)x, (void)y, (void)err;
	count_rows(a, gid, n, NULL);
	return 0;
}

static int count_update(pl_agg *a, const uint32_t *gid, size_t n,
			const pl_column *x, const pl_column *y, pl_error *err)
{
	(void)y, (void)err;
	count_rows(a, gid, n, x);
	return 0;
}

static int sum_update(pl_agg *a, const uint32_t *gid, size_t n,
		      const pl_column *x, const pl_column *y, pl_error *err)
{
	(void)y;
	if (a->type == PL_INT64)
		return sum_i64(a, gid, n, x);
	return sum_f64(a, gid, 0, n, x, err);
}

int pl_agg_update(pl_agg *a, const uint32_t *gid, size_t n, const pl_column *x,
		  const pl_column *y, pl_error *err)
{
	return a->ops->update(a, gid, n, x, y, err);
}

size_t pl_agg_partial_ncols(const pl_agg *a)
{
	size_t n = 0;
	for (const char *const *s = a->ops->suffixes; *s; s++)
		n++;
	return n;
}

int pl_agg_has_values(const pl_agg *a)
{
	return is_value_list(a->kind);
}

static pl_type state_type(const pl_agg *a, size_t k)
{
	if (is_value_list(a->kind))
		return k == 1 ? PL_STRING : a->type;
	if (keeps_value(a->kind))
		return a->ops->seen && k == 0 ? PL_BOOL : a->type;
	if (k == 0)
		return PL_INT64;
	return a->nxsum ? PL_STRING : PL_INT64;
}

int pl_agg_partial_schema(const pl_agg *a, const char *prefix, pl_schema *s,
			  pl_error *err)
{
	const char *const *sfx = a->ops->suffixes;
	for (size_t k = 0; sfx[k]; k++) {
		char name[128];
		snprintf(name, sizeof(name), "%s_%s", prefix, sfx[k]);
		int rc = pl_schema_add(s, name, state_type(a, k), err);
		if (rc)
			return rc;
	}
	return 0;
}

int pl_agg_append_nulls(pl_column *c, size_t n, pl_pool *pool, pl_error *err)
{
	int rc = pl_column_reserve(c, c->len + n, pool, err);
	if (rc == 0)
		rc = pl_column_make_nullable(c, pool, err);
	if (rc)
		return rc;
	size_t w = c->type == PL_BOOL ? 1 : 8;
	if (c->type == PL_STRING) {
		int64_t *off = pl_col_off(c);
		for (size_t i = 1; i <= n; i++)
			off[c->len + i] = off[c->len];
	} else {
		memset((char *)c->data + c->len * w, 0, n * w);
	}
	for (size_t i = 0; i < n; i++)
		pl_bit_set(c->valid, c->len + i, false);
	c->len += n;
	return 0;
}

/* Grows out by n values, all present for now; *base is the first. */
static int out_grow(pl_column *out, size_t n, size_t *base, pl_pool *pool,
		    pl_error *err)
{
	int rc = pl_column_reserve(out, out->len + n, pool, err);
	if (rc)
		return rc;
	*base = out->len;
	out->len += n;
	for (size_t i = 0; out->valid != NULL && i < n; i++)
		pl_bit_set(out->valid, *base + i, true);
	return 0;
}

static int out_null(pl_column *out, size_t at, pl_pool *pool, pl_error *err)
{
	int rc = pl_column_make_nullable(out, pool, err);
	if (rc == 0)
		pl_bit_set(out->valid, at, false);
	return rc;
}

/* count and int64 sum: the count, then the sum. */
static const void *state_array(const pl_agg *a, size_t k)
{
	return k == 0 ? a->a[N] : a->a[I64];
}

static int push_kept(const pl_agg *a, uint32_t g, pl_column *c, pl_error *err)
{
	if (!(st_flag(a)[g] & VALID))
		return pl_column_push_null(c, a->pool, err);
	switch (a->type) {
	case PL_FLOAT64:
		return pl_column_push_f64(c, st_f(a, 0)[g], a->pool, err);
	case PL_BOOL:
		return pl_column_push_bool(c, st_i(a)[g] != 0, a->pool, err);
	case PL_STRING:
		return pl_column_push_str(c, ((char **)a->a[STR])[g],
					  ((size_t *)a->a[SLEN])[g], a->pool,
					  err);
	default:
		return pl_column_push_i64(c, st_i(a)[g], a->pool, err);
	}
}

static int export_kept(pl_agg *a, size_t g0, size_t n, pl_column *cols,
		       pl_error *err)
{
	int seen_col = a->ops->seen;
	for (size_t g = g0; g < g0 + n; g++) {
		int rc = seen_col ? pl_column_push_bool(&cols[0],
							st_flag(a)[g] & SEEN,
							a->pool, err)
				  : 0;
		if (rc == 0)
			rc = push_kept(a, (uint32_t)g, &cols[seen_col], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int export_xsums(pl_agg *a, size_t g0, size_t n, pl_column *cols,
			pl_error *err)
{
	uint8_t buf[PL_XSUM_MAX_BYTES];
	pl_xsum tmp[5];
	int rc = 0;
	for (size_t g = g0; rc == 0 && g < g0 + n; g++) {
		rc = pl_column_push_i64(&cols[0], st_n(a)[g], a->pool, err);
		const pl_xsum *s = sums_of(a, g, tmp);
		for (int k = 0; rc == 0 && k < a->nxsum; k++) {
			size_t len = pl_xsum_encode(&s[k], &a->big, buf);
			rc = pl_column_push_str(&cols[1 + k], (const char *)buf,
						len, a->pool, err);
		}
	}
	return rc;
}

/* Counts and plain int64 sums travel as their arrays. */
static int export_numbers(pl_agg *a, size_t g0, size_t n, pl_column *cols,
			  pl_error *err)
{
	if (a->nxsum)
		return export_xsums(a, g0, n, cols, err);
	size_t nc = pl_agg_partial_ncols(a);
	for (size_t k = 0; k < nc; k++) {
		size_t base;
		int rc = out_grow(&cols[k], n, &base, a->pool, err);
		if (rc)
			return rc;
		memcpy((char *)cols[k].data + base * 8,
		       (const char *)state_array(a, k) + g0 * 8, n * 8);
	}
	return 0;
}

/* The values travel in value rows of their own. */
static int export_values(pl_agg *a, size_t g0, size_t n, pl_column *cols,
			 pl_error *err)
{
	(void)g0;
	int rc = pl_agg_append_nulls(&cols[0], n, a->pool, err);
	return rc ? rc : pl_agg_append_nulls(&cols[1], n, a->pool, err);
}

int pl_agg_export(pl_agg *a, size_t g0, size_t n, pl_column *cols,
		  pl_error *err)
{
	return a->ops->export_state(a, g0, n, cols, err);
}

static int merge_sums(pl_agg *a, const uint32_t *gid, const int64_t *tag,
		      size_t n, const pl_column *cols)
{
	int64_t *cnt = st_n(a);
	const int64_t *pn = pl_col_i64(&cols[0]);
	int has_sum = a->esize[I64] != 0;
	for (size_t i = 0; i < n; i++) {
		if (tag[i] != 0)
			continue;
		uint32_t g = gid[i];
		cnt[g] += pn[i];
		if (has_sum &&
		    __builtin_add_overflow(st_i(a)[g], pl_col_i64(&cols[1])[i],
					   &st_i(a)[g])) {
			a->bad_group = g;
			return PL_ERR_DATA;
		}
	}
	return 0;
}

/* Adds encoded exact sums: they merge in any order to the same sums. */
static int merge_xsums(pl_agg *a, const uint32_t *gid, const int64_t *tag,
		       size_t n, const pl_column *cols, pl_error *err)
{
	int64_t *cnt = st_n(a);
	const int64_t *pn = pl_col_i64(&cols[0]);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (tag[i] != 0)
			continue;
		uint32_t g = gid[i];
		cnt[g] += pn[i];
		for (int k = 0; rc == 0 && k < a->nxsum; k++) {
			size_t len;
			const char *p = pl_col_str(&cols[1 + k], i, &len);
			rc =
			    pl_xsum_merge_encoded(&xs_at(a, g)[k], &a->big,
						  (const uint8_t *)p, len, err);
		}
	}
	return rc;
}

/* first keeps the earlier instance's value, last takes the later one's:
 * the runtime merges instances in input order. */
static int merge_kept(pl_agg *a, const uint32_t *gid, const int64_t *tag,
		      int64_t value_tag, size_t n, const pl_column *cols,
		      pl_error *err)
{
	(void)value_tag;
	int seen_col = a->ops->seen;
	int sign = a->kind == PL_AGG_MIN ? -1 : 1;
	const pl_column *v = &cols[seen_col];
	uint8_t *flag = st_flag(a);
	for (size_t i = 0; i < n; i++) {
		uint32_t g = gid[i];
		if (tag[i] != 0)
			continue;
		if (seen_col) {
			if (!pl_col_bool(&cols[0])[i] ||
			    (a->kind == PL_AGG_FIRST && (flag[g] & SEEN)))
				continue;
		} else if (!pl_bit_get(v->valid, i) ||
			   ((flag[g] & VALID) &&
			    cmp_kept(a, g, v, i) * sign <= 0)) {
			continue;
		}
		int rc = keep(a, g, v, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Values in the value rows of cols: one in a row whose value is present,
 * else as many as its packed bytes hold. */
static int count_values(const int64_t *tag, int64_t value_tag, size_t n,
			const pl_column *cols, size_t *count, pl_error *err)
{
	const pl_column *v = &cols[0], *pack = &cols[1];
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		if (tag[i] != value_tag)
			continue;
		size_t len = 0;
		if (pl_bit_get(v->valid, i))
			len = 8;
		else if (pl_bit_get(pack->valid, i))
			pl_col_str(pack, i, &len);
		if (len % 8 != 0)
			return pl_error_set(err, PL_ERR_INTERNAL,
					    "packed values of %zu bytes", len);
		*count += len / 8;
	}
	return 0;
}

/* Appends the values packed in row i (numbers: 8 bytes each) to group g. */
static void vl_push_packed(pl_agg *a, uint32_t g, const pl_column *pack,
			   size_t i)
{
	size_t len;
	const char *p = pl_col_str(pack, i, &len);
	pl_value_list_push_run(&a->vl.list, g, p, len / 8);
}

static int merge_values(pl_agg *a, const uint32_t *gid, const int64_t *tag,
			int64_t value_tag, size_t n, const pl_column *cols,
			pl_error *err)
{
	const pl_column *v = &cols[0], *pack = &cols[1];
	size_t count;
	int rc = count_values(tag, value_tag, n, cols, &count, err);
	if (rc == 0)
		rc = vl_reserve(a, count, str_bytes(v, 0, n), err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (tag[i] != value_tag)
			continue;
		if (pl_bit_get(v->valid, i))
			vl_push(a, gid[i], v, i);
		else if (pl_bit_get(pack->valid, i))
			vl_push_packed(a, gid[i], pack, i);
	}
	return 0;
}

/* Counts and sums: exact sums in their encoded form, else as numbers. */
static int merge_numbers(pl_agg *a, const uint32_t *gid, const int64_t *tag,
			 int64_t value_tag, size_t n, const pl_column *cols,
			 pl_error *err)
{
	(void)value_tag;
	if (!a->nxsum)
		return merge_sums(a, gid, tag, n, cols);
	int rc = leave_wide(a, err);
	return rc ? rc : merge_xsums(a, gid, tag, n, cols, err);
}

int pl_agg_merge(pl_agg *a, const uint32_t *gid, const int64_t *tag,
		 int64_t value_tag, size_t n, const pl_column *cols,
		 pl_error *err)
{
	return a->ops->merge(a, gid, tag, value_tag, n, cols, err);
}

/* Typed ordering of a group's values, without a comparator callback:
 * introsort for count_distinct, quickselect for the quantile ranks. Both
 * work on int64_t; doubles go through order-preserving int64 keys with
 * their NaNs set aside at the end first. */
enum { SMALL_RUN = 16 };

static void insertion_i64(int64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		int64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static void swap_i64(int64_t *v, size_t i, size_t j)
{
	int64_t t = v[i];
	v[i] = v[j];
	v[j] = t;
}

static void sift_i64(int64_t *v, size_t n, size_t i)
{
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && v[c + 1] > v[c])
			c++;
		if (v[i] >= v[c])
			return;
		swap_i64(v, i, c);
	}
}

static void heapsort_i64(int64_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_i64(v, n, i);
	for (size_t m = n; m-- > 1;) {
		swap_i64(v, 0, m);
		sift_i64(v, m, 0);
	}
}

/* Hoare partition around the median of the first, middle and last values
 * (n >= 3): returns p, 0 < p < n, with v[0..p) <= v[p..n). */
static size_t partition_i64(int64_t *v, size_t n)
{
	size_t m = n / 2;
	if (v[m] < v[0])
		swap_i64(v, m, 0);
	if (v[n - 1] < v[m]) {
		swap_i64(v, n - 1, m);
		if (v[m] < v[0])
			swap_i64(v, m, 0);
	}
	int64_t pivot = v[m];
	size_t i = 0, j = n - 1;
	for (;;) {
		while (v[i] < pivot)
			i++;
		while (v[j] > pivot)
			j--;
		if (i >= j)
			return j + 1;
		swap_i64(v, i++, j--);
	}
}

/* The recursion depth after which quicksort has gone bad (2 log2 n). */
static int depth_limit(size_t n)
{
	int d = 0;
	for (; n > 1; n >>= 1)
		d += 2;
	return d;
}

static void introsort_i64(int64_t *v, size_t n, int depth)
{
	while (n > SMALL_RUN) {
		if (depth-- == 0) {
			heapsort_i64(v, n);
			return;
		}
		size_t p = partition_i64(v, n);
		/* recurse into the smaller side, loop on the larger */
		if (p < n - p) {
			introsort_i64(v, p, depth);
			v += p;
			n -= p;
		} else {
			introsort_i64(v + p, n - p, depth);
			n = p;
		}
	}
	insertion_i64(v, n);
}

/* Moves the k-th smallest value to v[k], smaller ones before it and
 * larger ones after. */
static void select_i64(int64_t *v, size_t n, size_t k)
{
	int depth = depth_limit(n);
	while (n > SMALL_RUN) {
		if (depth-- == 0) {
			heapsort_i64(v, n);
			return;
		}
		size_t p = partition_i64(v, n);
		if (k < p) {
			n = p;
		} else {
			v += p;
			n -= p;
			k -= p;
		}
	}
	insertion_i64(v, n);
}

/* Selects ranks lo and hi (hi is lo or lo + 1) into place. */
static void select_ranks_i64(int64_t *v, size_t n, size_t lo, size_t hi)
{
	select_i64(v, n, lo);
	if (hi == lo || hi >= n)
		return;
	size_t m = hi;
	for (size_t i = hi + 1; i < n; i++)
		if (v[i] < v[m])
			m = i;
	swap_i64(v, hi, m);
}

/* Moves the NaNs to the end; returns the count of the other values. */
static size_t nan_last(double *v, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i])) {
			double t = v[m];
			v[m++] = v[i];
			v[i] = t;
		}
	return m;
}

/* Maps doubles (no NaN) to int64 keys of the same order and back: a
 * negative value's magnitude bits are flipped, so -0.0 becomes -1, just
 * below 0. The mapping is its own inverse. The keys are written with
 * memcpy and the doubles as doubles, so that each is read back as the
 * type it was stored as. */
static uint64_t flip_key(uint64_t u)
{
	return u ^ (0 - (u >> 63)) >> 1;
}

static int64_t *f64_to_keys(double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		memcpy(&u, &v[i], 8);
		u = flip_key(u);
		memcpy(&v[i], &u, 8);
	}
	return (int64_t *)(void *)v;
}

static void keys_to_f64(double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		double d;
		memcpy(&u, &v[i], 8);
		u = flip_key(u);
		memcpy(&d, &u, 8);
		v[i] = d;
	}
}

static int qcmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

static int qcmp_f64(const void *x, const void *y)
{
	return pl_f64_compare(*(const double *)x, *(const double *)y);
}

static int qcmp_str(const void *x, const void *y)
{
	const pl_agg_str *a = x, *b = y;
	return cmp_bytes(a->p, a->len, b->p, b->len);
}

static void scatter(pl_agg *a, size_t *cur)
{
	const pl_value_list *l = &a->vl.list;
	if (a->type == PL_STRING) {
		pl_agg_str *to = a->vl.sorted;
		for (size_t i = 0; i < l->len; i++) {
			pl_agg_str *s = to + cur[pl_value_list_gid(l, i)]++;
			s->p = pl_value_list_str(l, i, &s->len);
		}
		return;
	}
	/* int64 and double alike: 8 bytes moved as they are */
	pl_value_list_scatter(l, 0, l->len, cur, a->vl.sorted);
}

/* Where (n - 1) p falls between ranks: returns it, with the ranks on
 * either side in lo and hi (numpy's default "linear" method). */
static double rank_of(const pl_agg *a, size_t n, size_t *lo, size_t *hi)
{
	double k = (double)(n - 1) * a->p;
	*lo = (size_t)floor(k);
	*hi = (size_t)ceil(k);
	return k;
}

/* Puts ranks lo and hi of n doubles in place; NaNs rank last. */
static void select_ranks_f64(double *v, size_t n, size_t lo, size_t hi)
{
	size_t m = nan_last(v, n);
	if (lo >= m)
		return;
	select_ranks_i64(f64_to_keys(v, m), m, lo, hi);
	keys_to_f64(v, m);
}

static void sort_f64(double *v, size_t n)
{
	size_t m = nan_last(v, n);
	introsort_i64(f64_to_keys(v, m), m, depth_limit(m));
	keys_to_f64(v, m);
}

/* Orders a group's n values as its final value needs: every value for
 * count_distinct, only the two ranks it reads for a quantile (a linear
 * selection instead of a sort). */
static void order_group(const pl_agg *a, void *v, size_t n)
{
	if (n < 2)
		return;
	if (a->kind != PL_AGG_COUNT_DISTINCT) {
		size_t lo, hi;
		rank_of(a, n, &lo, &hi);
		if (a->type == PL_FLOAT64)
			select_ranks_f64(v, n, lo, hi);
		else
			select_ranks_i64(v, n, lo, hi);
	} else if (a->type == PL_FLOAT64) {
		sort_f64(v, n);
	} else if (a->type == PL_STRING) {
		qsort(v, n, sizeof(pl_agg_str), qcmp_str);
	} else {
		introsort_i64(v, n, depth_limit(n));
	}
}

/* A counting sort by group, then each group's values ordered. */
int pl_agg_prepare(pl_agg *a, size_t ngroups, pl_error *err)
{
	if (!is_value_list(a->kind))
		return 0;
	pl_agg_values *v = &a->vl;
	size_t es = a->type == PL_STRING ? sizeof(pl_agg_str) : 8;
	pl_pool_free(a->pool, v->seg);
	pl_pool_free(a->pool, v->sorted);
	v->seg = pl_pool_calloc(a->pool, ngroups + 1, sizeof(size_t));
	v->sorted = pl_pool_alloc(a->pool, v->list.len * es);
	size_t *cur = pl_pool_alloc(a->pool, (ngroups + 1) * sizeof(size_t));
	if (v->seg == NULL || v->sorted == NULL || cur == NULL) {
		pl_pool_free(a->pool, cur);
		return pl_error_nomem(err, "sorting group-by values");
	}
	pl_value_list_count(&v->list, 0, v->list.len, v->seg + 1);
	for (size_t g = 0; g < ngroups; g++)
		v->seg[g + 1] += v->seg[g];
	memcpy(cur, v->seg, (ngroups + 1) * sizeof(size_t));
	scatter(a, cur);
	pl_pool_free(a->pool, cur);
	for (size_t g = 0; g < ngroups; g++)
		order_group(a, (char *)v->sorted + v->seg[g] * es,
			    v->seg[g + 1] - v->seg[g]);
	return 0;
}

static int64_t count_distinct(const pl_agg *a, size_t g)
{
	const pl_agg_values *v = &a->vl;
	size_t from = v->seg[g], to = v->seg[g + 1];
	int64_t n = to > from;
	size_t es = a->type == PL_STRING ? sizeof(pl_agg_str) : 8;
	int (*cmp)(const void *, const void *) =
	    a->type == PL_FLOAT64  ? qcmp_f64
	    : a->type == PL_STRING ? qcmp_str
				   : qcmp_i64;
	const char *base = v->sorted;
	for (size_t i = from + 1; i < to; i++)
		n += cmp(base + (i - 1) * es, base + i * es) != 0;
	return n;
}

/* Interpolates between the ranks order_group put in place. */
static int quantile(const pl_agg *a, size_t g, double *out)
{
	const pl_agg_values *v = &a->vl;
	size_t from = v->seg[g], n = v->seg[g + 1] - from, lo, hi;
	if (n == 0)
		return 0;
	double k = rank_of(a, n, &lo, &hi);
	double x, y;
	if (a->type == PL_FLOAT64) {
		x = ((const double *)v->sorted)[from + lo];
		y = ((const double *)v->sorted)[from + hi];
	} else {
		x = (double)((const int64_t *)v->sorted)[from + lo];
		y = (double)((const int64_t *)v->sorted)[from + hi];
	}
	*out = lo == hi ? x : x + (y - x) * (k - (double)lo);
	return 1;
}

/* The float64 results of group g: 0 when it is NULL. */
static int sum_value(const pl_agg *a, size_t g, double *out)
{
	pl_xsum tmp[5];
	int64_t n = st_n(a)[g];
	*out = n > 0 ? pl_xsum_value(&sums_of(a, g, tmp)[0], &a->big) : 0;
	return n > 0;
}

static int mean_value(const pl_agg *a, size_t g, double *out)
{
	pl_xsum tmp[5];
	int64_t n = st_n(a)[g];
	*out = n > 0 ? pl_xsum_mean(&sums_of(a, g, tmp)[0], &a->big, n) : 0;
	return n > 0;
}

static int var_value(const pl_agg *a, size_t g, double *out)
{
	pl_xsum tmp[5];
	int64_t n = st_n(a)[g];
	if (n < 2)
		return 0;
	const pl_xsum *s = sums_of(a, g, tmp);
	*out = pl_xsum_var(n, &s[0], &s[1], &a->big);
	return 1;
}

static int sd_value(const pl_agg *a, size_t g, double *out)
{
	if (!var_value(a, g, out))
		return 0;
	*out = sqrt(*out);
	return 1;
}

static int corr_value(const pl_agg *a, size_t g, double *out)
{
	pl_xsum tmp[5];
	int64_t n = st_n(a)[g];
	if (n < 2)
		return 0;
	const pl_xsum *s = sums_of(a, g, tmp);
	return pl_xsum_corr(n, &s[0], &s[1], &s[2], &s[3], &s[4], &a->big, out);
}

/* The int64 results of group g: *ok 0 when it is NULL. */
static int64_t count_value(const pl_agg *a, size_t g, int *ok)
{
	*ok = 1;
	return st_n(a)[g];
}

static int64_t sum_i64_value(const pl_agg *a, size_t g, int *ok)
{
	*ok = st_n(a)[g] > 0;
	return *ok ? st_i(a)[g] : 0;
}

static int64_t distinct_value(const pl_agg *a, size_t g, int *ok)
{
	*ok = 1;
	return count_distinct(a, g);
}

/* A quantile of dates or timestamps: interpolated as numpy does, then
 * floored to a whole day or microsecond (exact: no round trip through
 * a double for the values themselves). */
static int64_t time_quantile(const pl_agg *a, size_t g, int *ok)
{
	const pl_agg_values *v = &a->vl;
	size_t from = v->seg[g], n = v->seg[g + 1] - from, lo, hi;
	*ok = n > 0;
	if (n == 0)
		return 0;
	double k = rank_of(a, n, &lo, &hi);
	int64_t x = ((const int64_t *)v->sorted)[from + lo];
	int64_t y = ((const int64_t *)v->sorted)[from + hi];
	return x + (int64_t)floor((double)(y - x) * (k - (double)lo));
}

/* A double or an int64 (also a date or timestamp) a group, by out's type
 * (the kind's result type). */
static int final_numbers(pl_agg *a, size_t g0, size_t n, pl_column *out,
			 pl_error *err)
{
	size_t base;
	int rc = out_grow(out, n, &base, a->pool, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int ok;
		if (out->type == PL_FLOAT64) {
			double d = 0;
			ok = a->ops->f64(a, g0 + i, &d);
			pl_col_f64(out)[base + i] = ok ? d : 0;
		} else {
			pl_col_i64(out)[base + i] = a->ops->i64(a, g0 + i, &ok);
		}
		if (!ok)
			rc = out_null(out, base + i, a->pool, err);
	}
	return rc;
}

static int final_kept(pl_agg *a, size_t g0, size_t n, pl_column *out,
		      pl_error *err)
{
	for (size_t g = g0; g < g0 + n; g++) {
		int rc = push_kept(a, (uint32_t)g, out, err);
		if (rc)
			return rc;
	}
	return 0;
}

int pl_agg_final(pl_agg *a, size_t g0, size_t n, pl_column *out, pl_error *err)
{
	return a->ops->final(a, g0, n, out, err);
}

size_t pl_agg_bytes(const pl_agg *a)
{
	size_t b = 0;
	for (int i = 0; i < PL_AGG_NARRAYS; i++)
		b += a->a[i] ? pl_pool_size(a->a[i]) : 0;
	const pl_agg_values *v = &a->vl;
	b += pl_value_list_bytes(&v->list) + pl_pool_size(v->seg) +
	     pl_pool_size(v->sorted);
	return b + pl_xsum_big_bytes(&a->big);
}

/* Partial columns: counts and sums for count/sum/mean; the count and the
 * exact sums of x and x^2 for var/sd, of x, y, x^2, y^2 and xy for corr
 * (encoded exact sums, string columns); the kept value for min/max, plus
 * whether the group saw a row for first/last; and for the value-list kinds a
 * value column and a packed-values column, used only by value rows. */
static const char *const sfx_count[] = {"n", NULL};
static const char *const sfx_n[] = {"n", "s", NULL};
static const char *const sfx_var[] = {"n", "s1", "s2", NULL};
static const char *const sfx_corr[] = {"n",   "sx",  "sy", "sxx",
				       "syy", "sxy", NULL};
static const char *const sfx_kept[] = {"seen", "v", NULL};
static const char *const sfx_values[] = {"v", "pack", NULL};

#define COUNTS(nm, n, up)                                                      \
	{                                                                      \
		.name = nm, .nargs = n, .family = FAM_COUNT,                   \
		.suffixes = sfx_count, .layout = layout_n, .update = up,       \
		.export_state = export_numbers, .merge = merge_numbers,        \
		.final = final_numbers, .i64 = count_value                     \
	}
#define SUMS(nm, n, sums, sfx, up, f)                                          \
	{                                                                      \
		.name = nm, .nargs = n, .family = FAM_SUMS, .xsums = sums,     \
		.suffixes = sfx, .layout = layout_n, .update = up,             \
		.export_state = export_numbers, .merge = merge_numbers,        \
		.final = final_numbers, .f64 = f                               \
	}
#define KEPT(nm, sn, sfx, up)                                                  \
	{                                                                      \
		.name = nm, .nargs = 1, .family = FAM_KEPT, .seen = sn,        \
		.suffixes = sfx, .layout = layout_kept, .update = up,          \
		.export_state = export_kept, .merge = merge_kept,              \
		.final = final_kept                                            \
	}
#define VALUES(nm, n, f, i)                                                    \
	{                                                                      \
		.name = nm, .nargs = n, .family = FAM_VALUES,                  \
		.suffixes = sfx_values, .update = values_rows,                 \
		.export_state = export_values, .merge = merge_values,          \
		.final = final_numbers, .f64 = f, .i64 = i                     \
	}

/* In pl_agg_kind's order; the lookup finds count() before count(x). */
static const pl_agg_ops agg_ops[] = {
    [PL_AGG_COUNT_STAR] = COUNTS("count", 0, count_star_update),
    [PL_AGG_COUNT] = COUNTS("count", 1, count_update),
    [PL_AGG_SUM] = {.name = "sum",
		    .nargs = 1,
		    .family = FAM_SUMS,
		    .xsums = 1,
		    .plain_i64 = 1,
		    .suffixes = sfx_n,
		    .layout = layout_sum,
		    .update = sum_update,
		    .export_state = export_numbers,
		    .merge = merge_numbers,
		    .final = final_numbers,
		    .f64 = sum_value,
		    .i64 = sum_i64_value},
    [PL_AGG_MEAN] = SUMS("mean", 1, 1, sfx_n, mean_update, mean_value),
    [PL_AGG_MIN] = KEPT("min", 0, sfx_kept + 1, extreme_rows),
    [PL_AGG_MAX] = KEPT("max", 0, sfx_kept + 1, extreme_rows),
    [PL_AGG_VAR] = SUMS("var", 1, 2, sfx_var, var_update, var_value),
    [PL_AGG_SD] = SUMS("sd", 1, 2, sfx_var, var_update, sd_value),
    [PL_AGG_MEDIAN] = VALUES("median", 1, quantile, time_quantile),
    [PL_AGG_QUANTILE] = VALUES("quantile", 2, quantile, time_quantile),
    [PL_AGG_COUNT_DISTINCT] = VALUES("count_distinct", 1, NULL, distinct_value),
    [PL_AGG_FIRST] = KEPT("first", 1, sfx_kept, first_last_rows),
    [PL_AGG_LAST] = KEPT("last", 1, sfx_kept, first_last_rows),
    [PL_AGG_CORR] = SUMS("corr", 2, 5, sfx_corr, corr_update, corr_value),
};

static const pl_agg_ops *ops_of(pl_agg_kind kind)
{
	return &agg_ops[kind];
}

/* The kinds in order, NULL past the last. */
static const pl_agg_ops *ops_at(size_t i)
{
	return i < sizeof(agg_ops) / sizeof(agg_ops[0]) ? &agg_ops[i] : NULL;
}

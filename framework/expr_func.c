/* The built-in functions: how each checks its argument types at bind time
 * and how it computes a batch. The binder has already converted arguments
 * to the types the function asked for, so each loop reads one type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/expr_internal.h"
#include "io/csv_writer.h"
#include "pipeline/datetime.h"

static unsigned type_bit(pl_type t)
{
	switch (t) {
	case PL_DATE:
	case PL_TIMESTAMP:
		return A_TIME;
	case PL_INT64:
		return A_INT;
	case PL_FLOAT64:
		return A_FLOAT;
	case PL_BOOL:
		return A_BOOL;
	case PL_STRING:
		return A_STR;
	default:
		return A_ANY;
	}
}

static int want(pl_expr *e, size_t i, unsigned accept, pl_error *err)
{
	pl_type t = e->args[i]->type;
	if (type_bit(t) & accept)
		return 0;
	return pl_expr_conf_error(e, err, "argument %zu of %s() cannot be %s",
				  i + 1, e->name, pl_type_name(t));
}

/* Checks args [from, nargs) against accept and converts them to t. */
static int want_all(pl_expr *e, size_t from, unsigned accept, pl_type t,
		    pl_error *err)
{
	for (size_t i = from; i < e->nargs; i++) {
		int rc = want(e, i, accept, err);
		if (rc == 0 && t != PL_NULLTYPE)
			rc = pl_expr_coerce(&e->args[i], t, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int pl_func_want(pl_expr *e, size_t i, unsigned accept, pl_error *err)
{
	return want(e, i, accept, err);
}

int pl_func_want_all(pl_expr *e, size_t from, unsigned accept, pl_type t,
		     pl_error *err)
{
	return want_all(e, from, accept, t, err);
}

const char *pl_func_literal(const pl_expr *e, size_t i, size_t *len)
{
	const pl_expr *a = e->args[i];
	if (a->kind != PL_EK_LIT || a->lit_type != PL_STRING)
		return NULL;
	*len = a->slen;
	return a->sval;
}

static int bind_keep_num(pl_expr *e, pl_error *err)
{
	e->type = e->args[0]->type;
	return want(e, 0, A_NUM, err);
}

static int bind_float_math(pl_expr *e, pl_error *err)
{
	e->type = PL_FLOAT64;
	return want_all(e, 0, A_NUM, PL_FLOAT64, err);
}

static int bind_round(pl_expr *e, pl_error *err)
{
	e->type = e->args[0]->type;
	int rc = want(e, 0, A_NUM, err);
	return rc ? rc : want_all(e, 1, A_INT, PL_INT64, err);
}

/* min, max, coalesce and if's branches share one type. */
static int bind_unified(pl_expr *e, size_t from, pl_error *err)
{
	pl_type t = PL_NULLTYPE;
	for (size_t i = from; i < e->nargs; i++) {
		pl_type a = e->args[i]->type;
		if (pl_type_unify(t, a, &t) != 0)
			return pl_expr_conf_error(
			    e, err, "%s() mixes %s and %s", e->name,
			    pl_type_name(t), pl_type_name(a));
	}
	e->type = t;
	return want_all(e, from, A_ANY, t, err);
}

static int bind_minmax(pl_expr *e, pl_error *err)
{
	return bind_unified(e, 0, err);
}

static int bind_if(pl_expr *e, pl_error *err)
{
	int rc = want(e, 0, A_BOOL, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[0], PL_BOOL, err);
	return rc ? rc : bind_unified(e, 1, err);
}

static int bind_is_null(pl_expr *e, pl_error *err)
{
	(void)err;
	e->type = PL_BOOL;
	return 0;
}

static int bind_str_to_str(pl_expr *e, pl_error *err)
{
	e->type = PL_STRING;
	return want_all(e, 0, A_STR, PL_STRING, err);
}

static int bind_length(pl_expr *e, pl_error *err)
{
	e->type = PL_INT64;
	return want_all(e, 0, A_STR, PL_STRING, err);
}

static int bind_substr(pl_expr *e, pl_error *err)
{
	e->type = PL_STRING;
	int rc = want(e, 0, A_STR, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[0], PL_STRING, err);
	return rc ? rc : want_all(e, 1, A_INT, PL_INT64, err);
}

static int bind_str_test(pl_expr *e, pl_error *err)
{
	e->type = PL_BOOL;
	return want_all(e, 0, A_STR, PL_STRING, err);
}

static int bind_to_int(pl_expr *e, pl_error *err)
{
	(void)err;
	e->type = PL_INT64;
	return 0;
}

static int bind_to_float(pl_expr *e, pl_error *err)
{
	e->type = PL_FLOAT64;
	return want(e, 0, A_ANY & ~A_TIME, err);
}

static int bind_to_string(pl_expr *e, pl_error *err)
{
	(void)err;
	e->type = PL_STRING;
	return 0;
}

/* Output validity: every argument present. */
static int all_valid(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	for (size_t i = 0; i < e->nargs; i++)
		if (pl_node_and_valid(e, cx, a[i], NULL) != 0)
			return PL_ERR_NOMEM;
	return 0;
}

int pl_func_all_valid(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return all_valid(e, cx, a);
}

static int eval_abs(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	size_t n = cx->n;
	if (e->type == PL_FLOAT64) {
		const double *x = pl_col_f64(a[0]);
		double *r = pl_col_f64(&e->out);
		for (size_t i = 0; i < n; i++)
			r[i] = fabs(x[i]);
		return 0;
	}
	const int64_t *x = pl_col_i64(a[0]);
	int64_t *r = pl_col_i64(&e->out);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		bad |= x[i] == INT64_MIN;
		r[i] = x[i] < 0 && x[i] != INT64_MIN ? -x[i] : x[i];
	}
	if (bad)
		PL_FIND_BAD_ROW(e, cx, x[i] == INT64_MIN,
				"integer overflow in abs()");
	pl_node_zero_nulls(e);
	return 0;
}

static int map_f64(pl_expr *e, pl_eval_ctx *cx, const pl_column **a,
		   double (*f)(double))
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const double *x = pl_col_f64(a[0]);
	double *r = pl_col_f64(&e->out);
	for (size_t i = 0; i < cx->n; i++)
		r[i] = f(x[i]);
	pl_node_zero_nulls(e);
	return 0;
}

static int eval_sqrt(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return map_f64(e, cx, a, sqrt);
}

static int eval_exp(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return map_f64(e, cx, a, exp);
}

static int eval_log(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return map_f64(e, cx, a, log);
}

static int eval_log10(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return map_f64(e, cx, a, log10);
}

static int round_int_floor(pl_expr *e, pl_eval_ctx *cx, const pl_column **a,
			   double (*f)(double))
{
	if (e->type == PL_FLOAT64)
		return map_f64(e, cx, a, f);
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	memcpy(e->out.data, a[0]->data, cx->n * sizeof(int64_t));
	pl_node_zero_nulls(e);
	return 0;
}

static int eval_floor(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return round_int_floor(e, cx, a, floor);
}

static int eval_ceil(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return round_int_floor(e, cx, a, ceil);
}

static int eval_pow(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const double *x = pl_col_f64(a[0]), *y = pl_col_f64(a[1]);
	double *r = pl_col_f64(&e->out);
	for (size_t i = 0; i < cx->n; i++)
		r[i] = pow(x[i], y[i]);
	pl_node_zero_nulls(e);
	return 0;
}

static double round_f64(double x, int64_t digits)
{
	if (digits == 0)
		return round(x);
	if (digits > 400)
		return x;
	if (digits < -400)
		return x * 0.0;
	double m = pow(10.0, (double)(digits < 0 ? -digits : digits));
	if (digits > 0) {
		double y = x * m;
		return isfinite(y) ? round(y) / m : x;
	}
	return isfinite(m) ? round(x / m) * m : x * 0.0;
}

/* Rounds x to a multiple of 10^-digits, half away from zero; 1 when the
 * result does not fit. */
static int round_i64(int64_t x, int64_t digits, int64_t *r)
{
	if (digits >= 0) {
		*r = x;
		return 0;
	}
	if (digits < -18) {
		*r = 0;
		return x >= 5000000000000000000 || x <= -5000000000000000000;
	}
	int64_t p = 1;
	for (int64_t k = 0; k < -digits; k++)
		p *= 10;
	int64_t q = x / p, rem = x % p;
	if ((rem < 0 ? -rem : rem) * 2 >= p)
		q += x < 0 ? -1 : 1;
	return __builtin_mul_overflow(q, p, r);
}

static int eval_round(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const int64_t *d = e->nargs > 1 ? pl_col_i64(a[1]) : NULL;
	size_t n = cx->n;
	if (e->type == PL_FLOAT64) {
		const double *x = pl_col_f64(a[0]);
		double *r = pl_col_f64(&e->out);
		for (size_t i = 0; i < n; i++)
			r[i] = d ? round_f64(x[i], d[i]) : round(x[i]);
	} else {
		const int64_t *x = pl_col_i64(a[0]);
		int64_t *r = pl_col_i64(&e->out);
		for (size_t i = 0; i < n; i++)
			if (round_i64(x[i], d ? d[i] : 0, &r[i]) &&
			    pl_bit_get(e->out.valid, i) && pl_row_live(cx, i))
				return pl_expr_data_error(
				    e, cx, i, "integer overflow in round()");
	}
	pl_node_zero_nulls(e);
	return 0;
}

static size_t str_bytes(const pl_column *c, size_t n)
{
	const int64_t *off = pl_col_off(c);
	return (size_t)(off[n] - off[0]);
}

/* Appends row i's string value (the arena must have room). */
static void put_str(pl_column *c, size_t i, const char *s, size_t len)
{
	if (len > 0)
		memcpy(c->arena + c->arena_len, s, len);
	c->arena_len += len;
	pl_col_off(c)[i + 1] = (int64_t)c->arena_len;
}

void pl_func_put_str(pl_column *c, size_t i, const char *s, size_t len)
{
	put_str(c, i, s, len);
}

/* Room for any choice among the rows of count string columns. */
static int reserve_strings(pl_expr *e, pl_eval_ctx *cx, const pl_column **a,
			   size_t count)
{
	size_t total = 0;
	for (size_t k = 0; k < count; k++)
		total += str_bytes(a[k], cx->n);
	return pl_column_reserve_arena(&e->out, total, cx->pool, cx->err);
}

static int str_less(const pl_column *a, const pl_column *b, size_t i)
{
	size_t la, lb;
	const char *sa = pl_col_str(a, i, &la), *sb = pl_col_str(b, i, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);
	return c < 0 || (c == 0 && la < lb);
}

static int minmax_str(pl_expr *e, pl_eval_ctx *cx, const pl_column **a,
		      int is_max)
{
	if (reserve_strings(e, cx, a, e->nargs) != 0)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < cx->n; i++) {
		const pl_column *best = a[0];
		for (size_t k = 1; k < e->nargs; k++)
			if (is_max ? str_less(best, a[k], i)
				   : str_less(a[k], best, i))
				best = a[k];
		size_t len;
		const char *s = pl_col_str(best, i, &len);
		put_str(&e->out, i, s, pl_bit_get(e->out.valid, i) ? len : 0);
	}
	return 0;
}

#define MINMAX_LOOP(T, get)                                                    \
	do {                                                                   \
		T *r = get(&e->out);                                           \
		memcpy(r, a[0]->data, n * sizeof(T));                          \
		for (size_t k = 1; k < e->nargs; k++) {                        \
			const T *y = get(a[k]);                                \
			for (size_t i = 0; i < n; i++)                         \
				if (is_max ? y[i] > r[i] : y[i] < r[i])        \
					r[i] = y[i];                           \
		}                                                              \
	} while (0)

/* By pl_f64_total_compare, so that min(v, 2.0) and min(2.0, v) agree when
 * v is NaN (2.0) or when 0.0 meets -0.0 (-0.0). */
static void minmax_f64(pl_expr *e, const pl_column **a, size_t n, int is_max)
{
	double *r = pl_col_f64(&e->out);
	int want = is_max ? 1 : -1;
	memcpy(r, a[0]->data, n * sizeof(double));
	for (size_t k = 1; k < e->nargs; k++) {
		const double *y = pl_col_f64(a[k]);
		for (size_t i = 0; i < n; i++)
			if (pl_f64_total_compare(y[i], r[i]) == want)
				r[i] = y[i];
	}
}

static int minmax(pl_expr *e, pl_eval_ctx *cx, const pl_column **a, int is_max)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	size_t n = cx->n;
	if (e->type == PL_STRING)
		return minmax_str(e, cx, a, is_max);
	if (pl_type_is_i64(e->type))
		MINMAX_LOOP(int64_t, pl_col_i64);
	else if (e->type == PL_FLOAT64)
		minmax_f64(e, a, n, is_max);
	else
		MINMAX_LOOP(uint8_t, pl_col_bool);
	pl_node_zero_nulls(e);
	return 0;
}

static int eval_min(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return minmax(e, cx, a, 0);
}

static int eval_max(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return minmax(e, cx, a, 1);
}

/* Row i of src into row i of e's result, with its validity. */
static void put_row(pl_expr *e, const pl_column *src, size_t i)
{
	pl_column *c = &e->out;
	int present = pl_bit_get(src->valid, i);
	if (c->valid != NULL)
		pl_bit_set(c->valid, i, present);
	if (c->type == PL_STRING) {
		size_t len;
		const char *s = pl_col_str(src, i, &len);
		put_str(c, i, s, present ? len : 0);
	} else if (c->type == PL_BOOL) {
		pl_col_bool(c)[i] = present ? pl_col_bool(src)[i] : 0;
	} else if (present) {
		memcpy((char *)c->data + i * 8, (const char *)src->data + i * 8,
		       8);
	} else {
		memset((char *)c->data + i * 8, 0, 8);
	}
}

static int any_nullable(const pl_column **a, size_t from, size_t n)
{
	for (size_t k = from; k < n; k++)
		if (a[k]->valid != NULL)
			return 1;
	return 0;
}

static int eval_coalesce(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (e->type == PL_STRING && reserve_strings(e, cx, a, e->nargs) != 0)
		return PL_ERR_NOMEM;
	int nullable = 1;
	for (size_t k = 0; k < e->nargs; k++)
		nullable &= a[k]->valid != NULL;
	if (nullable && pl_node_nullable(e, cx) != 0)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < cx->n; i++) {
		size_t k = 0;
		while (k + 1 < e->nargs && !pl_bit_get(a[k]->valid, i))
			k++;
		put_row(e, a[k], i);
	}
	return 0;
}

static int grow_mask(pl_expr *e, int which, pl_eval_ctx *cx)
{
	size_t n = cx->n ? cx->n : 1;
	uint8_t *m = e->mask[which];
	if (m == NULL || pl_pool_size(m) < n) {
		m = pl_pool_realloc(cx->pool, m, n);
		if (m == NULL)
			return pl_error_nomem(cx->err, "an if() mask");
		e->mask[which] = m;
	}
	return 0;
}

/* Each branch is evaluated for every row, but only the rows that choose
 * it may raise data errors: if(d == 0, 0, x / d) is fine. */
static int eval_branches(pl_expr *e, pl_eval_ctx *cx, const pl_column *cond,
			 const pl_column **a)
{
	if (grow_mask(e, 0, cx) != 0 || grow_mask(e, 1, cx) != 0)
		return PL_ERR_NOMEM;
	const uint8_t *c = pl_col_bool(cond);
	for (size_t i = 0; i < cx->n; i++) {
		uint8_t yes = pl_bit_get(cond->valid, i) && c[i];
		uint8_t live = (uint8_t)pl_row_live(cx, i);
		e->mask[0][i] = yes & live;
		e->mask[1][i] = (yes ^ 1) & live;
	}
	for (int k = 0; k < 2; k++) {
		pl_eval_ctx sub = *cx;
		sub.active = e->mask[k];
		int rc = pl_expr_eval_node(e->args[k + 1], &sub, &a[k]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int eval_if(pl_expr *e, pl_eval_ctx *cx, const pl_column **unused)
{
	(void)unused;
	const pl_column *cond, *a[2];
	int rc = pl_expr_eval_node(e->args[0], cx, &cond);
	if (rc == 0)
		rc = eval_branches(e, cx, cond, a);
	if (rc == 0)
		rc = pl_node_prep(e, cx);
	if (rc == 0 && e->type == PL_STRING)
		rc = reserve_strings(e, cx, a, 2);
	if (rc == 0 && any_nullable(a, 0, 2))
		rc = pl_node_nullable(e, cx);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < cx->n; i++)
		put_row(e, a[e->mask[0][i] ? 0 : 1], i);
	return 0;
}

static int eval_is_null(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	uint8_t *r = pl_col_bool(&e->out);
	for (size_t i = 0; i < cx->n; i++)
		r[i] = !pl_bit_get(a[0]->valid, i);
	return 0;
}

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static unsigned char ascii_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

static int map_bytes(pl_expr *e, pl_eval_ctx *cx, const pl_column **a,
		     unsigned char (*f)(unsigned char))
{
	size_t n = cx->n, bytes = str_bytes(a[0], n);
	if (all_valid(e, cx, a) != 0 ||
	    pl_column_reserve_arena(&e->out, bytes, cx->pool, cx->err) != 0)
		return PL_ERR_NOMEM;
	const int64_t *off = pl_col_off(a[0]);
	int64_t *r = pl_col_off(&e->out);
	for (size_t i = 0; i <= n; i++)
		r[i] = off[i] - off[0];
	const unsigned char *s = (const unsigned char *)a[0]->arena + off[0];
	unsigned char *d = (unsigned char *)e->out.arena;
	for (size_t j = 0; j < bytes; j++)
		d[j] = f(s[j]);
	e->out.arena_len = bytes;
	return 0;
}

static int eval_lower(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return map_bytes(e, cx, a, ascii_lower);
}

static int eval_upper(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return map_bytes(e, cx, a, ascii_upper);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int eval_trim(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0 || reserve_strings(e, cx, a, 1) != 0)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < cx->n; i++) {
		size_t len;
		const char *s = pl_col_str(a[0], i, &len);
		while (len > 0 && is_blank(*s))
			s++, len--;
		while (len > 0 && is_blank(s[len - 1]))
			len--;
		put_str(&e->out, i, s, len);
	}
	return 0;
}

static int is_lead_byte(char c)
{
	return ((unsigned char)c & 0xc0) != 0x80;
}

static int eval_length(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	int64_t *r = pl_col_i64(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		size_t len;
		const char *s = pl_col_str(a[0], i, &len);
		int64_t chars = 0;
		for (size_t j = 0; j < len; j++)
			chars += is_lead_byte(s[j]);
		r[i] = chars;
	}
	return 0;
}

/* Bytes from s to the start of character k (or len when s is shorter). */
static size_t skip_chars(const char *s, size_t len, int64_t k)
{
	size_t j = 0;
	for (; j < len; j++)
		if (is_lead_byte(s[j]) && k-- == 0)
			break;
	return j;
}

static int eval_substr(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0 || reserve_strings(e, cx, a, 1) != 0)
		return PL_ERR_NOMEM;
	const int64_t *start = pl_col_i64(a[1]);
	const int64_t *count = e->nargs > 2 ? pl_col_i64(a[2]) : NULL;
	for (size_t i = 0; i < cx->n; i++) {
		size_t len;
		const char *s = pl_col_str(a[0], i, &len);
		if (!pl_bit_get(e->out.valid, i) || (count && count[i] <= 0)) {
			put_str(&e->out, i, s, 0);
			continue;
		}
		size_t from =
		    skip_chars(s, len, start[i] < 1 ? 0 : start[i] - 1);
		size_t to = len;
		if (count)
			to = from + skip_chars(s + from, len - from, count[i]);
		put_str(&e->out, i, s + from, to - from);
	}
	return 0;
}

static int has_substring(const char *s, size_t ls, const char *t, size_t lt)
{
	for (size_t j = 0; j + lt <= ls; j++)
		if (memcmp(s + j, t, lt) == 0)
			return 1;
	return 0;
}

static int str_test(pl_expr *e, pl_eval_ctx *cx, const pl_column **a, int where)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	uint8_t *r = pl_col_bool(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		size_t ls, lt;
		const char *s = pl_col_str(a[0], i, &ls);
		const char *t = pl_col_str(a[1], i, &lt);
		if (lt > ls)
			r[i] = 0;
		else if (where < 0)
			r[i] = lt == 0 || memcmp(s, t, lt) == 0;
		else if (where > 0)
			r[i] = lt == 0 || memcmp(s + ls - lt, t, lt) == 0;
		else
			r[i] = has_substring(s, ls, t, lt);
	}
	pl_node_zero_nulls(e);
	return 0;
}

static int eval_contains(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return str_test(e, cx, a, 0);
}

static int eval_starts_with(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return str_test(e, cx, a, -1);
}

static int eval_ends_with(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return str_test(e, cx, a, 1);
}

static void trim_span(const char **s, size_t *len)
{
	while (*len > 0 && is_blank(**s))
		(*s)++, (*len)--;
	while (*len > 0 && is_blank((*s)[*len - 1]))
		(*len)--;
}

/* Optional sign and digits, blanks around; 0 when the text is not an
 * int64. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
	trim_span(&s, &len);
	int neg = len > 0 && s[0] == '-';
	size_t j = len > 0 && (s[0] == '-' || s[0] == '+');
	if (j == len)
		return 0;
	uint64_t v = 0, limit = (uint64_t)INT64_MAX + (uint64_t)neg;
	for (; j < len; j++) {
		if (s[j] < '0' || s[j] > '9')
			return 0;
		unsigned d = (unsigned)(s[j] - '0');
		if (v > (limit - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

static int parse_f64(const char *s, size_t len, double *out)
{
	char buf[128];
	trim_span(&s, &len);
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	*out = strtod(buf, &end);
	return end == buf + len;
}

static int conv_error(pl_expr *e, pl_eval_ctx *cx, const pl_column *src,
		      size_t i, const char *to)
{
	char val[64], what[128];
	pl_column_format(src, i, val, sizeof(val));
	snprintf(what, sizeof(what), "cannot convert '%s' to %s", val, to);
	return pl_expr_data_error(e, cx, i, what);
}

static int f64_fits_i64(double v)
{
	return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
}

static int eval_int(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const pl_column *x = a[0];
	int64_t *r = pl_col_i64(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		int ok = 1;
		r[i] = 0;
		if (!pl_bit_get(x->valid, i))
			continue;
		if (pl_type_is_i64(x->type)) {
			r[i] = pl_col_i64(x)[i];
		} else if (x->type == PL_BOOL) {
			r[i] = pl_col_bool(x)[i];
		} else if (x->type == PL_FLOAT64) {
			double v = pl_col_f64(x)[i];
			ok = f64_fits_i64(v);
			r[i] = ok ? (int64_t)v : 0;
		} else {
			size_t len;
			const char *s = pl_col_str(x, i, &len);
			ok = parse_i64(s, len, &r[i]);
		}
		if (!ok && pl_row_live(cx, i))
			return conv_error(e, cx, x, i, "int64");
	}
	return 0;
}

static int eval_float(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const pl_column *x = a[0];
	double *r = pl_col_f64(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		r[i] = 0;
		if (!pl_bit_get(x->valid, i))
			continue;
		if (x->type == PL_INT64) {
			r[i] = (double)pl_col_i64(x)[i];
		} else if (x->type == PL_BOOL) {
			r[i] = pl_col_bool(x)[i];
		} else if (x->type == PL_FLOAT64) {
			r[i] = pl_col_f64(x)[i];
		} else {
			size_t len;
			const char *s = pl_col_str(x, i, &len);
			if (!parse_f64(s, len, &r[i]) && pl_row_live(cx, i))
				return conv_error(e, cx, x, i, "float64");
		}
	}
	return 0;
}

/* Value i of x as text into buf (at least PL_TIME_TEXT_MAX bytes);
 * returns its length. */
static size_t format_value(const pl_column *x, size_t i, char *buf)
{
	switch (x->type) {
	case PL_DATE:
		return pl_format_date(pl_col_i64(x)[i], buf);
	case PL_TIMESTAMP:
		return pl_format_timestamp(pl_col_i64(x)[i], buf);
	case PL_INT64:
		return (size_t)snprintf(buf, 32, "%lld",
					(long long)pl_col_i64(x)[i]);
	case PL_FLOAT64:
		return pl_format_double(pl_col_f64(x)[i], buf);
	default:
		return (size_t)snprintf(buf, 32, "%s",
					pl_col_bool(x)[i] ? "true" : "false");
	}
}

static int eval_string(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	const pl_column *x = a[0];
	if (all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	if (x->type == PL_STRING) {
		if (reserve_strings(e, cx, a, e->nargs) != 0)
			return PL_ERR_NOMEM;
		for (size_t i = 0; i < cx->n; i++)
			put_row(e, x, i);
		return 0;
	}
	for (size_t i = 0; i < cx->n; i++) {
		char buf[PL_TIME_TEXT_MAX];
		size_t len = 0;
		if (pl_bit_get(x->valid, i))
			len = format_value(x, i, buf);
		if (pl_column_reserve_arena(&e->out, len, cx->pool, cx->err))
			return PL_ERR_NOMEM;
		put_str(&e->out, i, buf, len);
	}
	return 0;
}

static const pl_func funcs[] = {
    {"abs", 1, 1, 0, bind_keep_num, eval_abs},
    {"sqrt", 1, 1, 0, bind_float_math, eval_sqrt},
    {"exp", 1, 1, 0, bind_float_math, eval_exp},
    {"log", 1, 1, 0, bind_float_math, eval_log},
    {"log10", 1, 1, 0, bind_float_math, eval_log10},
    {"floor", 1, 1, 0, bind_keep_num, eval_floor},
    {"ceil", 1, 1, 0, bind_keep_num, eval_ceil},
    {"round", 1, 2, 0, bind_round, eval_round},
    {"pow", 2, 2, 0, bind_float_math, eval_pow},
    {"min", 2, PL_EXPR_MAX_ARGS, 0, bind_minmax, eval_min},
    {"max", 2, PL_EXPR_MAX_ARGS, 0, bind_minmax, eval_max},
    {"if", 3, 3, 1, bind_if, eval_if},
    {"is_null", 1, 1, 0, bind_is_null, eval_is_null},
    {"coalesce", 1, PL_EXPR_MAX_ARGS, 0, bind_minmax, eval_coalesce},
    {"lower", 1, 1, 0, bind_str_to_str, eval_lower},
    {"upper", 1, 1, 0, bind_str_to_str, eval_upper},
    {"trim", 1, 1, 0, bind_str_to_str, eval_trim},
    {"length", 1, 1, 0, bind_length, eval_length},
    {"substr", 2, 3, 0, bind_substr, eval_substr},
    {"contains", 2, 2, 0, bind_str_test, eval_contains},
    {"starts_with", 2, 2, 0, bind_str_test, eval_starts_with},
    {"ends_with", 2, 2, 0, bind_str_test, eval_ends_with},
    {"int", 1, 1, 0, bind_to_int, eval_int},
    {"float", 1, 1, 0, bind_to_float, eval_float},
    {"string", 1, 1, 0, bind_to_string, eval_string},
};

#define NFUNCS (sizeof(funcs) / sizeof(funcs[0]))

const char *const pl_func_names[] = {
    "abs", "sqrt", "exp", "log", "log10", "floor", "ceil", "round", "pow",
    "min", "max", "if", "is_null", "coalesce", "lower", "upper", "trim",
    "length", "substr", "contains", "starts_with", "ends_with", "int", "float",
    "string",
    /* expr_time.c */
    "year", "month", "day", "hour", "minute", "second", "day_of_week",
    "day_of_year", "date_trunc", "date_diff", "weeks", "days", "hours",
    "minutes", "seconds", "milliseconds", "microseconds", "now", "date",
    "timestamp", "format_time", "parse_time",
    /* expr_text.c */
    "like", "regexp_matches", "regexp_extract", "regexp_replace", "replace",
    "split_part", "concat", "lpad", "rpad", "strpos", NULL};

static const pl_func *find_in(const pl_func *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

const pl_func *pl_func_find(const char *name)
{
	const pl_func *f = find_in(funcs, NFUNCS, name);
	if (f == NULL)
		f = find_in(pl_time_funcs, pl_ntime_funcs, name);
	return f ? f : find_in(pl_text_funcs, pl_ntext_funcs, name);
}

pl_expr *pl_expr_cast_node(pl_expr *arg, pl_type t)
{
	const char *fn = t == PL_FLOAT64     ? "float"
			 : t == PL_TIMESTAMP ? "timestamp"
					     : "string";
	pl_expr *c = pl_expr_node(PL_EK_CALL, arg->src, arg->start, arg->end);
	if (c == NULL)
		return NULL;
	c->name = strdup(fn);
	if (c->name == NULL || pl_expr_add_arg(c, arg) != 0) {
		free(c->name);
		free(c);
		return NULL;
	}
	c->fn = pl_func_find(fn);
	c->type = t;
	return c;
}

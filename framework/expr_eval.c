/* Evaluation: each node fills its own scratch column a batch at a time,
 * with one typed loop per operator. Checks that can fail (overflow,
 * division by zero) only raise a flag inside the loop; the rare failing
 * batch is scanned again to find the first row that really is an error
 * (present, and live when under an if()). */
#include <math.h>
#include <string.h>

#include "framework/expr_internal.h"
#include "pipeline/datetime.h"

static size_t bitmap_bytes(size_t n)
{
	return n ? (n + 7) / 8 : 1;
}

static size_t value_width(pl_type t)
{
	return t == PL_BOOL ? 1 : 8;
}

int pl_row_live(const pl_eval_ctx *cx, size_t i)
{
	return cx->active == NULL || cx->active[i];
}

void pl_node_free_scratch(pl_expr *e, pl_pool *pool)
{
	e->out.valid = NULL;
	if (pool != NULL) {
		pl_column_free(&e->out, pool);
		pl_pool_free(pool, e->bits);
		pl_pool_free(pool, e->mask[0]);
		pl_pool_free(pool, e->mask[1]);
	}
	e->bits = NULL;
	e->mask[0] = e->mask[1] = NULL;
	e->lit_rows = 0;
}

int pl_node_prep(pl_expr *e, pl_eval_ctx *cx)
{
	pl_column *c = &e->out;
	pl_type t = e->type == PL_NULLTYPE ? PL_STRING : e->type;
	c->valid = NULL;
	e->lit_rows = 0;
	if (c->data != NULL && c->type != t) {
		pl_pool_free(cx->pool, c->data);
		pl_pool_free(cx->pool, c->arena);
		memset(c, 0, sizeof(*c));
	}
	c->type = t;
	if (pl_column_reserve(c, cx->n, cx->pool, cx->err) != 0)
		return PL_ERR_NOMEM;
	c->len = cx->n;
	c->arena_len = 0;
	if (t == PL_STRING)
		pl_col_off(c)[0] = 0;
	return 0;
}

int pl_node_nullable(pl_expr *e, pl_eval_ctx *cx)
{
	size_t nb = bitmap_bytes(cx->n);
	if (e->bits == NULL || pl_pool_size(e->bits) < nb) {
		uint8_t *b = pl_pool_realloc(cx->pool, e->bits, nb);
		if (b == NULL)
			return pl_error_nomem(cx->err, "a validity bitmap");
		e->bits = b;
	}
	memset(e->bits, 0xff, nb);
	e->out.valid = e->bits;
	return 0;
}

int pl_node_and_valid(pl_expr *e, pl_eval_ctx *cx, const pl_column *a,
		      const pl_column *b)
{
	const uint8_t *va = a->valid, *vb = b ? b->valid : NULL;
	if (va == NULL && vb == NULL)
		return 0;
	if (e->out.valid == NULL && pl_node_nullable(e, cx) != 0)
		return PL_ERR_NOMEM;
	uint8_t *v = e->out.valid;
	for (size_t j = 0; j < (cx->n + 7) / 8; j++)
		v[j] &= (va ? va[j] : 0xff) & (vb ? vb[j] : 0xff);
	return 0;
}

void pl_node_zero_nulls(pl_expr *e)
{
	pl_column *c = &e->out;
	if (c->valid == NULL || c->type == PL_STRING)
		return;
	size_t w = value_width(c->type);
	for (size_t i = 0; i < c->len; i++)
		if (!pl_bit_get(c->valid, i))
			memset((char *)c->data + i * w, 0, w);
}

static int fill_nulls(pl_expr *e, pl_eval_ctx *cx)
{
	if (e->lit_rows == cx->n && e->out.data != NULL)
		return 0;
	if (pl_node_prep(e, cx) != 0 || pl_node_nullable(e, cx) != 0)
		return PL_ERR_NOMEM;
	size_t w = e->out.type == PL_STRING ? 8 : value_width(e->out.type);
	memset(e->out.data, 0, (cx->n + (e->out.type == PL_STRING)) * w);
	memset(e->bits, 0, bitmap_bytes(cx->n));
	e->lit_rows = cx->n;
	return 0;
}

static int fill_string(pl_expr *e, pl_eval_ctx *cx)
{
	pl_column *c = &e->out;
	if (e->slen && cx->n > SIZE_MAX / 2 / e->slen)
		return pl_error_nomem(cx->err, "a string literal column");
	if (pl_column_reserve_arena(c, cx->n * e->slen, cx->pool, cx->err))
		return PL_ERR_NOMEM;
	int64_t *off = pl_col_off(c);
	for (size_t i = 0; i < cx->n; i++) {
		memcpy(c->arena + i * e->slen, e->sval, e->slen);
		off[i + 1] = (int64_t)((i + 1) * e->slen);
	}
	c->arena_len = cx->n * e->slen;
	return 0;
}

static int eval_literal(pl_expr *e, pl_eval_ctx *cx)
{
	if (e->lit_rows == cx->n && e->out.data != NULL)
		return 0;
	if (pl_node_prep(e, cx) != 0)
		return PL_ERR_NOMEM;
	size_t n = cx->n;
	if (pl_type_is_i64(e->lit_type)) {
		int64_t *r = pl_col_i64(&e->out);
		for (size_t i = 0; i < n; i++)
			r[i] = e->ival;
	} else if (e->lit_type == PL_FLOAT64) {
		double *r = pl_col_f64(&e->out);
		for (size_t i = 0; i < n; i++)
			r[i] = e->fval;
	} else if (e->lit_type == PL_BOOL) {
		memset(e->out.data, e->ival ? 1 : 0, n);
	} else if (fill_string(e, cx) != 0) {
		return PL_ERR_NOMEM;
	}
	e->lit_rows = n;
	return 0;
}

static int eval_column(pl_expr *e, pl_eval_ctx *cx, const pl_column **out)
{
	const pl_batch *in = cx->in;
	if (e->col < 0 || (size_t)e->col >= in->ncols ||
	    in->cols[e->col].type != e->type)
		return pl_error_set(cx->err, PL_ERR_INTERNAL,
				    "expression '%s': column '%s' is not the "
				    "one it was bound to",
				    e->src->text, e->name);
	*out = &in->cols[e->col];
	return 0;
}

static int neg_i64(pl_expr *e, pl_eval_ctx *cx, const pl_column *a)
{
	const int64_t *x = pl_col_i64(a);
	int64_t *r = pl_col_i64(&e->out);
	int bad = 0;
	for (size_t i = 0; i < cx->n; i++)
		bad |= __builtin_sub_overflow((int64_t)0, x[i], &r[i]);
	if (bad)
		PL_FIND_BAD_ROW(e, cx, x[i] == INT64_MIN,
				"integer overflow in '-'");
	return 0;
}

static int eval_unary(pl_expr *e, pl_eval_ctx *cx, const pl_column *a)
{
	if (pl_node_and_valid(e, cx, a, NULL) != 0)
		return PL_ERR_NOMEM;
	size_t n = cx->n;
	int rc = 0;
	if (e->op == PL_OP_NOT) {
		const uint8_t *x = pl_col_bool(a);
		uint8_t *r = pl_col_bool(&e->out);
		for (size_t i = 0; i < n; i++)
			r[i] = x[i] ^ 1;
	} else if (e->type == PL_INT64) {
		rc = neg_i64(e, cx, a);
	} else {
		const double *x = pl_col_f64(a);
		double *r = pl_col_f64(&e->out);
		for (size_t i = 0; i < n; i++)
			r[i] = -x[i];
	}
	pl_node_zero_nulls(e);
	return rc;
}

static int add_overflows(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r);
}

static int sub_overflows(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_sub_overflow(a, b, &r);
}

static int mul_overflows(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_mul_overflow(a, b, &r);
}

static int arith_i64(pl_expr *e, pl_eval_ctx *cx, const int64_t *x,
		     const int64_t *y)
{
	int64_t *r = pl_col_i64(&e->out);
	size_t n = cx->n;
	int bad = 0;
	switch (e->op) {
	case PL_OP_ADD:
		for (size_t i = 0; i < n; i++)
			bad |= __builtin_add_overflow(x[i], y[i], &r[i]);
		if (bad)
			PL_FIND_BAD_ROW(e, cx, add_overflows(x[i], y[i]),
					"integer overflow in '+'");
		break;
	case PL_OP_SUB:
		for (size_t i = 0; i < n; i++)
			bad |= __builtin_sub_overflow(x[i], y[i], &r[i]);
		if (bad)
			PL_FIND_BAD_ROW(e, cx, sub_overflows(x[i], y[i]),
					"integer overflow in '-'");
		break;
	case PL_OP_MUL:
		for (size_t i = 0; i < n; i++)
			bad |= __builtin_mul_overflow(x[i], y[i], &r[i]);
		if (bad)
			PL_FIND_BAD_ROW(e, cx, mul_overflows(x[i], y[i]),
					"integer overflow in '*'");
		break;
	default:
		/* x % -1 is 0, and computing it would trap for INT64_MIN. */
		for (size_t i = 0; i < n; i++) {
			int64_t d = y[i];
			bad |= d == 0;
			r[i] = d == 0 || d == -1 ? 0 : x[i] % d;
		}
		if (bad)
			PL_FIND_BAD_ROW(e, cx, y[i] == 0,
					"division by zero in '%'");
		break;
	}
	return 0;
}

static int arith_f64(pl_expr *e, pl_eval_ctx *cx, const double *x,
		     const double *y)
{
	double *r = pl_col_f64(&e->out);
	size_t n = cx->n;
	int bad = 0;
	switch (e->op) {
	case PL_OP_ADD:
		for (size_t i = 0; i < n; i++)
			r[i] = x[i] + y[i];
		break;
	case PL_OP_SUB:
		for (size_t i = 0; i < n; i++)
			r[i] = x[i] - y[i];
		break;
	case PL_OP_MUL:
		for (size_t i = 0; i < n; i++)
			r[i] = x[i] * y[i];
		break;
	case PL_OP_POW:
		for (size_t i = 0; i < n; i++)
			r[i] = pow(x[i], y[i]);
		break;
	case PL_OP_DIV:
		for (size_t i = 0; i < n; i++) {
			bad |= y[i] == 0;
			r[i] = x[i] / y[i];
		}
		if (bad)
			PL_FIND_BAD_ROW(e, cx, y[i] == 0,
					"division by zero in '/'");
		break;
	default:
		for (size_t i = 0; i < n; i++) {
			bad |= y[i] == 0;
			r[i] = fmod(x[i], y[i]);
		}
		if (bad)
			PL_FIND_BAD_ROW(e, cx, y[i] == 0,
					"division by zero in '%'");
		break;
	}
	return 0;
}

/* Orderings as a bit index: less 0, equal 1, greater 2, unordered 3. */
static const uint8_t cmp_accepts[] = {
    [PL_OP_EQ] = 0x2, [PL_OP_NE] = 0xd, [PL_OP_LT] = 0x1,
    [PL_OP_LE] = 0x3, [PL_OP_GT] = 0x4, [PL_OP_GE] = 0x6};

/* Exact even where the int64 has no double of the same value. */
static int order_i64_f64(int64_t a, double b)
{
	if (isnan(b))
		return 3;
	if (b >= 9223372036854775808.0)
		return 0;
	if (b < -9223372036854775808.0)
		return 2;
	double t = trunc(b);
	int64_t ti = (int64_t)t;
	if (a != ti)
		return a < ti ? 0 : 2;
	return b > t ? 0 : b < t ? 2 : 1;
}

static int flip(int order)
{
	return order == 3 ? 3 : 2 - order;
}

static int order_str(const pl_column *a, const pl_column *b, size_t i)
{
	size_t la, lb;
	const char *sa = pl_col_str(a, i, &la), *sb = pl_col_str(b, i, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);
	if (c == 0)
		c = (la > lb) - (la < lb);
	return c < 0 ? 0 : c > 0 ? 2 : 1;
}

#define CMP_LOOP(op, X, Y)                                                     \
	switch (op) {                                                          \
	case PL_OP_EQ:                                                         \
		for (size_t i = 0; i < n; i++)                                 \
			r[i] = (X) == (Y);                                     \
		break;                                                         \
	case PL_OP_NE:                                                         \
		for (size_t i = 0; i < n; i++)                                 \
			r[i] = (X) != (Y);                                     \
		break;                                                         \
	case PL_OP_LT:                                                         \
		for (size_t i = 0; i < n; i++)                                 \
			r[i] = (X) < (Y);                                      \
		break;                                                         \
	case PL_OP_LE:                                                         \
		for (size_t i = 0; i < n; i++)                                 \
			r[i] = (X) <= (Y);                                     \
		break;                                                         \
	case PL_OP_GT:                                                         \
		for (size_t i = 0; i < n; i++)                                 \
			r[i] = (X) > (Y);                                      \
		break;                                                         \
	default:                                                               \
		for (size_t i = 0; i < n; i++)                                 \
			r[i] = (X) >= (Y);                                     \
		break;                                                         \
	}

static void compare(pl_expr *e, size_t n, const pl_column *a,
		    const pl_column *b)
{
	uint8_t *r = pl_col_bool(&e->out);
	unsigned acc = cmp_accepts[e->op];
	pl_type ta = a->type, tb = b->type;
	if (pl_type_is_i64(ta) && ta == tb) {
		const int64_t *x = pl_col_i64(a), *y = pl_col_i64(b);
		CMP_LOOP(e->op, x[i], y[i]);
	} else if (ta == PL_FLOAT64 && tb == PL_FLOAT64) {
		const double *x = pl_col_f64(a), *y = pl_col_f64(b);
		CMP_LOOP(e->op, x[i], y[i]);
	} else if (ta == PL_BOOL && tb == PL_BOOL) {
		const uint8_t *x = pl_col_bool(a), *y = pl_col_bool(b);
		CMP_LOOP(e->op, x[i], y[i]);
	} else if (ta == PL_INT64 && tb == PL_FLOAT64) {
		const int64_t *x = pl_col_i64(a);
		const double *y = pl_col_f64(b);
		for (size_t i = 0; i < n; i++)
			r[i] = (acc >> order_i64_f64(x[i], y[i])) & 1;
	} else if (ta == PL_FLOAT64 && tb == PL_INT64) {
		const double *x = pl_col_f64(a);
		const int64_t *y = pl_col_i64(b);
		for (size_t i = 0; i < n; i++)
			r[i] = (acc >> flip(order_i64_f64(y[i], x[i]))) & 1;
	} else {
		for (size_t i = 0; i < n; i++)
			r[i] = (acc >> order_str(a, b, i)) & 1;
	}
}

static int eval_logic(pl_expr *e, pl_eval_ctx *cx, const pl_column *a,
		      const pl_column *b)
{
	const uint8_t *x = pl_col_bool(a), *y = pl_col_bool(b);
	uint8_t *r = pl_col_bool(&e->out);
	size_t n = cx->n;
	int is_and = e->op == PL_OP_AND;
	if (a->valid == NULL && b->valid == NULL) {
		for (size_t i = 0; i < n; i++)
			r[i] = is_and ? x[i] & y[i] : x[i] | y[i];
		return 0;
	}
	if (pl_node_nullable(e, cx) != 0)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		int va = pl_bit_get(a->valid, i), vb = pl_bit_get(b->valid, i);
		int xa = va && x[i], yb = vb && y[i];
		/* A known false decides and; a known true decides or. */
		int decided = is_and ? (va && !xa) || (vb && !yb) : xa || yb;
		r[i] = is_and ? xa && yb : xa || yb;
		pl_bit_set(e->bits, i, decided || (va && vb));
	}
	return 0;
}

/* Date arithmetic: the sum must stay a date (which the int64 overflow
 * check alone would not see); 1 when it does not. */
static int date_sum(int64_t x, int64_t y, int sub, int64_t *r)
{
	int64_t v;
	if (sub ? __builtin_sub_overflow(x, y, &v)
		: __builtin_add_overflow(x, y, &v))
		return 1;
	*r = v;
	return v > PL_DATE_MAX_DAYS || v < -PL_DATE_MAX_DAYS;
}

static int date_range(pl_expr *e, pl_eval_ctx *cx, const int64_t *x,
		      const int64_t *y)
{
	int64_t *r = pl_col_i64(&e->out), v;
	int sub = e->op == PL_OP_SUB, bad = 0;
	for (size_t i = 0; i < cx->n; i++)
		bad |= date_sum(x[i], y[i], sub, &r[i]);
	if (bad)
		PL_FIND_BAD_ROW(e, cx, date_sum(x[i], y[i], sub, &v),
				"date out of range");
	return 0;
}

static int eval_binary(pl_expr *e, pl_eval_ctx *cx, const pl_column *a,
		       const pl_column *b)
{
	if (e->op == PL_OP_AND || e->op == PL_OP_OR)
		return eval_logic(e, cx, a, b);
	if (pl_node_and_valid(e, cx, a, b) != 0)
		return PL_ERR_NOMEM;
	int rc = 0;
	if (e->type == PL_DATE)
		rc = date_range(e, cx, pl_col_i64(a), pl_col_i64(b));
	else if (e->op >= PL_OP_EQ && e->op <= PL_OP_GE)
		compare(e, cx->n, a, b);
	else if (e->type == PL_INT64 || pl_type_is_time(e->type))
		rc = arith_i64(e, cx, pl_col_i64(a), pl_col_i64(b));
	else
		rc = arith_f64(e, cx, pl_col_f64(a), pl_col_f64(b));
	pl_node_zero_nulls(e);
	return rc;
}

static int eval_call(pl_expr *e, pl_eval_ctx *cx)
{
	const pl_column *a[PL_EXPR_MAX_ARGS];
	if (e->fn->lazy)
		return e->fn->eval(e, cx, NULL);
	for (size_t i = 0; i < e->nargs; i++) {
		int rc = pl_expr_eval_node(e->args[i], cx, &a[i]);
		if (rc != 0)
			return rc;
	}
	if (pl_node_prep(e, cx) != 0)
		return PL_ERR_NOMEM;
	return e->fn->eval(e, cx, a);
}

static int eval_operator(pl_expr *e, pl_eval_ctx *cx)
{
	const pl_column *a, *b = NULL;
	int rc = pl_expr_eval_node(e->args[0], cx, &a);
	if (rc == 0 && e->kind == PL_EK_BINARY)
		rc = pl_expr_eval_node(e->args[1], cx, &b);
	if (rc == 0)
		rc = pl_node_prep(e, cx);
	if (rc != 0)
		return rc;
	if (e->kind == PL_EK_UNARY)
		return eval_unary(e, cx, a);
	return eval_binary(e, cx, a, b);
}

int pl_expr_eval_node(pl_expr *e, pl_eval_ctx *cx, const pl_column **out)
{
	int rc;
	if (e->kind == PL_EK_COL)
		return eval_column(e, cx, out);
	if (e->always_null)
		rc = fill_nulls(e, cx);
	else if (e->kind == PL_EK_LIT)
		rc = eval_literal(e, cx);
	else if (e->kind == PL_EK_CALL)
		rc = eval_call(e, cx);
	else
		rc = eval_operator(e, cx);
	*out = &e->out;
	return rc;
}

int pl_expr_eval(pl_expr *e, const pl_batch *in, pl_pool *pool,
		 const pl_column **out, pl_error *err)
{
	pl_eval_ctx cx = {in, pool, err, in->nrows, NULL};
	return pl_expr_eval_node(e, &cx, out);
}

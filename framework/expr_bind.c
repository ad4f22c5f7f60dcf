/* Binding: resolves column names against a schema and fixes every node's
 * result type. Mixed int64/float64 operands of arithmetic get an explicit
 * conversion node here, so that evaluation only meets matching types; a
 * `null` operand takes the type its neighbour needs and stays all NULL. */
#include <stdlib.h>
#include <string.h>

#include "framework/expr_internal.h"
#include "pipeline/datetime.h"
#include "pipeline/section.h"

static const char *const agg_names[] = {
    "count",	      "sum",   "mean", "var",  "sd", "median", "quantile",
    "count_distinct", "first", "last", "corr", NULL};

static const char *op_name(pl_expr_op op)
{
	static const char *const fixed[] = {
	    [PL_OP_OR] = "or", [PL_OP_AND] = "and", [PL_OP_NOT] = "not",
	    [PL_OP_EQ] = "==", [PL_OP_NE] = "!=",   [PL_OP_LT] = "<",
	    [PL_OP_LE] = "<=", [PL_OP_GT] = ">",    [PL_OP_GE] = ">=",
	    [PL_OP_ADD] = "+", [PL_OP_SUB] = "-",   [PL_OP_MUL] = "*",
	    [PL_OP_DIV] = "/", [PL_OP_MOD] = "%",   [PL_OP_NEG] = "-",
	    [PL_OP_POW] = "^"};
	return fixed[op];
}

int pl_is_numeric(pl_type t)
{
	return t == PL_INT64 || t == PL_FLOAT64;
}

int pl_type_unify(pl_type a, pl_type b, pl_type *out)
{
	if (a == PL_NULLTYPE || a == b)
		*out = b;
	else if (b == PL_NULLTYPE)
		*out = a;
	else if (pl_is_numeric(a) && pl_is_numeric(b))
		*out = PL_FLOAT64;
	else if (pl_type_is_time(a) && pl_type_is_time(b))
		*out = PL_TIMESTAMP;
	else
		return -1;
	return 0;
}

/* A string literal next to a date or timestamp is one: '2024-01-01'
 * becomes a date literal when the expression is bound, so that a bad
 * one is a job.conf error and rows compare integers. */
static int literal_to_time(pl_expr *e, pl_type t, pl_error *err)
{
	int64_t v;
	int rc = t == PL_DATE ? pl_parse_date(e->sval, e->slen, &v)
			      : pl_parse_timestamp(e->sval, e->slen, &v);
	if (rc != 0)
		return pl_expr_conf_error(e, err,
					  "'%.*s' is not a %s (ISO 8601)",
					  (int)(e->slen > 64 ? 64 : e->slen),
					  e->sval, pl_type_name(t));
	e->lit_type = e->type = t;
	e->ival = v;
	return 0;
}

static int is_string_literal(const pl_expr *e)
{
	return e->kind == PL_EK_LIT && e->lit_type == PL_STRING;
}

int pl_expr_coerce(pl_expr **slot, pl_type t, pl_error *err)
{
	pl_expr *e = *slot;
	if (e->type == t)
		return 0;
	if (e->type == PL_NULLTYPE) {
		e->type = t;
		return 0;
	}
	if (pl_type_is_time(t) && is_string_literal(e))
		return literal_to_time(e, t, err);
	if (!(e->type == PL_INT64 && t == PL_FLOAT64) &&
	    !(e->type == PL_DATE && t == PL_TIMESTAMP))
		return pl_expr_conf_error(e, err, "cannot use %s as %s",
					  pl_type_name(e->type),
					  pl_type_name(t));
	pl_expr *c = pl_expr_cast_node(e, t);
	if (c == NULL)
		return pl_error_nomem(err, "an expression node");
	*slot = c;
	return 0;
}

static int bind_column(pl_expr *e, const pl_schema *in, pl_error *err)
{
	e->col = pl_schema_find(in, e->name);
	if (e->col >= 0) {
		e->type = in->fields[e->col].type;
		return 0;
	}
	const char **names = malloc((in->n + 1) * sizeof(*names));
	const char *near = NULL;
	if (names != NULL) {
		for (size_t i = 0; i < in->n; i++)
			names[i] = in->fields[i].name;
		names[in->n] = NULL;
		near = pl_suggest(e->name, names);
	}
	int rc =
	    near ? pl_expr_conf_error(e, err,
				      "unknown column '%s' (did you "
				      "mean '%s'?)",
				      e->name, near)
		 : pl_expr_conf_error(e, err, "unknown column '%s'", e->name);
	free(names);
	return rc;
}

static int type_error(pl_expr *e, pl_error *err)
{
	pl_type a = e->args[0]->type;
	if (e->nargs == 1)
		return pl_expr_conf_error(e, err, "'%s' does not apply to %s",
					  op_name(e->op), pl_type_name(a));
	return pl_expr_conf_error(e, err, "'%s' does not apply to %s and %s",
				  op_name(e->op), pl_type_name(a),
				  pl_type_name(e->args[1]->type));
}

static int bind_unary(pl_expr *e, pl_error *err)
{
	pl_type a = e->args[0]->type;
	if (e->op == PL_OP_NOT) {
		if (a != PL_BOOL && a != PL_NULLTYPE)
			return type_error(e, err);
		e->type = PL_BOOL;
		return pl_expr_coerce(&e->args[0], PL_BOOL, err);
	}
	if (!pl_is_numeric(a) && a != PL_NULLTYPE)
		return type_error(e, err);
	e->type = a;
	return 0;
}

static int bind_logic(pl_expr *e, pl_error *err)
{
	for (size_t i = 0; i < 2; i++) {
		pl_type t = e->args[i]->type;
		if (t != PL_BOOL && t != PL_NULLTYPE)
			return type_error(e, err);
	}
	e->type = PL_BOOL;
	int rc = pl_expr_coerce(&e->args[0], PL_BOOL, err);
	return rc ? rc : pl_expr_coerce(&e->args[1], PL_BOOL, err);
}

static int bind_compare(pl_expr *e, pl_error *err)
{
	pl_type a = e->args[0]->type, b = e->args[1]->type;
	e->type = PL_BOOL;
	if (a == PL_NULLTYPE || b == PL_NULLTYPE) {
		e->always_null = 1;
		return 0;
	}
	if ((pl_is_numeric(a) && pl_is_numeric(b)) || a == b)
		return 0;
	pl_type t = PL_NULLTYPE;
	if (pl_type_is_time(a) && pl_type_is_time(b))
		t = PL_TIMESTAMP;
	else if (pl_type_is_time(a) && is_string_literal(e->args[1]))
		t = a;
	else if (pl_type_is_time(b) && is_string_literal(e->args[0]))
		t = b;
	if (t != PL_NULLTYPE) {
		int rc = pl_expr_coerce(&e->args[0], t, err);
		return rc ? rc : pl_expr_coerce(&e->args[1], t, err);
	}
	return pl_expr_conf_error(e, err, "cannot compare %s with %s",
				  pl_type_name(a), pl_type_name(b));
}

/* Date and time arithmetic, with durations as int64 microseconds:
 * timestamp +- int64 is a timestamp; date +- days()/weeks() or a plain
 * integer (days) is a date; date +- a finer duration is a timestamp;
 * timestamp - timestamp is microseconds and date - date is days. */
static int bind_time_arith(pl_expr *e, pl_error *err)
{
	pl_expr **x = &e->args[0], **y = &e->args[1];
	pl_type a = (*x)->type, b = (*y)->type;
	if (e->op == PL_OP_SUB && pl_type_is_time(a) && pl_type_is_time(b)) {
		e->type = PL_INT64;
		pl_type t = a == b ? a : PL_TIMESTAMP;
		int rc = pl_expr_coerce(x, t, err);
		return rc ? rc : pl_expr_coerce(y, t, err);
	}
	if (e->op == PL_OP_ADD && !pl_type_is_time(a)) {
		pl_expr **s = x; /* n + t is t + n */
		x = y;
		y = s;
		a = (*x)->type;
		b = (*y)->type;
	}
	if ((e->op != PL_OP_ADD && e->op != PL_OP_SUB) || !pl_type_is_time(a) ||
	    (b != PL_INT64 && b != PL_NULLTYPE))
		return type_error(e, err);
	if (a == PL_DATE && pl_expr_is_day_duration(*y))
		(*y)->in_days = 1;
	else if (a == PL_DATE && pl_expr_is_duration(*y))
		a = PL_TIMESTAMP;
	e->type = a;
	int rc = pl_expr_coerce(x, a, err);
	return rc ? rc : pl_expr_coerce(y, PL_INT64, err);
}

static int bind_arith(pl_expr *e, pl_error *err)
{
	pl_type a = e->args[0]->type, b = e->args[1]->type, t;
	if (pl_type_is_time(a) || pl_type_is_time(b))
		return bind_time_arith(e, err);
	if ((!pl_is_numeric(a) && a != PL_NULLTYPE) ||
	    (!pl_is_numeric(b) && b != PL_NULLTYPE))
		return type_error(e, err);
	pl_type_unify(a, b, &t);
	if (e->op == PL_OP_DIV || e->op == PL_OP_POW)
		t = PL_FLOAT64;
	e->type = t;
	if (a == PL_NULLTYPE && b == PL_NULLTYPE)
		return 0;
	int rc = pl_expr_coerce(&e->args[0], t, err);
	return rc ? rc : pl_expr_coerce(&e->args[1], t, err);
}

static int bind_binary(pl_expr *e, pl_error *err)
{
	switch (e->op) {
	case PL_OP_OR:
	case PL_OP_AND:
		return bind_logic(e, err);
	case PL_OP_EQ:
	case PL_OP_NE:
	case PL_OP_LT:
	case PL_OP_LE:
	case PL_OP_GT:
	case PL_OP_GE:
		return bind_compare(e, err);
	default:
		return bind_arith(e, err);
	}
}

static int is_aggregate(const pl_expr *e)
{
	if (strcmp(e->name, "min") == 0 || strcmp(e->name, "max") == 0)
		return e->nargs == 1;
	for (const char *const *a = agg_names; *a; a++)
		if (strcmp(*a, e->name) == 0)
			return 1;
	return 0;
}

static int bind_call(pl_expr *e, pl_error *err)
{
	if (is_aggregate(e))
		return pl_expr_conf_error(
		    e, err, "aggregate '%s' is only allowed in [groupby]",
		    e->name);
	e->fn = pl_func_find(e->name);
	if (e->fn == NULL) {
		const char *near = pl_suggest(e->name, pl_func_names);
		if (near)
			return pl_expr_conf_error(e, err,
						  "unknown function '%s' (did "
						  "you mean '%s'?)",
						  e->name, near);
		return pl_expr_conf_error(e, err, "unknown function '%s'",
					  e->name);
	}
	if (e->nargs < e->fn->min_args || e->nargs > e->fn->max_args) {
		if (e->fn->min_args == e->fn->max_args)
			return pl_expr_conf_error(
			    e, err, "%s() takes %zu argument%s, not %zu",
			    e->name, e->fn->min_args,
			    e->fn->min_args == 1 ? "" : "s", e->nargs);
		return pl_expr_conf_error(e, err,
					  "%s() takes %zu to %zu arguments, "
					  "not %zu",
					  e->name, e->fn->min_args,
					  e->fn->max_args, e->nargs);
	}
	return e->fn->bind(e, err);
}

int pl_expr_bind_node(pl_expr *e, const pl_schema *in, pl_error *err)
{
	e->always_null = 0;
	for (size_t i = 0; i < e->nargs; i++) {
		int rc = pl_expr_bind_node(e->args[i], in, err);
		if (rc != 0)
			return rc;
	}
	int rc = 0;
	switch (e->kind) {
	case PL_EK_LIT:
		e->type = e->lit_type;
		break;
	case PL_EK_COL:
		rc = bind_column(e, in, err);
		break;
	case PL_EK_UNARY:
		rc = bind_unary(e, err);
		break;
	case PL_EK_BINARY:
		rc = bind_binary(e, err);
		break;
	case PL_EK_CALL:
		rc = bind_call(e, err);
		break;
	}
	if (e->type == PL_NULLTYPE)
		e->always_null = 1;
	return rc;
}

int pl_expr_bind(pl_expr *e, const pl_schema *in, pl_type *type, pl_error *err)
{
	int rc = pl_expr_bind_node(e, in, err);
	if (rc == 0)
		*type = e->type;
	return rc;
}

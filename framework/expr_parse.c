/* Parser: precedence climbing over the lexer's tokens. Binary levels,
 * loosest first: or, and, comparisons (which do not chain), + -, * / %,
 * and ^ (right-associative). The prefix operators `not` and unary minus
 * sit between them: `not` above the comparisons, minus just below ^, so
 * that -2^2 is -(2^2). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/expr_internal.h"

enum {
	PREC_OR = 1,
	PREC_AND,
	PREC_NOT,
	PREC_CMP,
	PREC_ADD,
	PREC_MUL,
	PREC_NEG,
	PREC_POW
};

typedef struct parser {
	const char *text;
	size_t pos;
	pl_token tok;
	pl_expr_src *src;
	int nesting;
	int code; /* the first error met */
	pl_error *err;
} parser;

static void advance(parser *p)
{
	pl_lex_next(p->text, &p->pos, &p->tok);
}

__attribute__((format(printf, 3, 4))) static int
syntax_error(parser *p, size_t at, const char *fmt, ...)
{
	char where[512], msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pl_expr_prefix(p->src, where, sizeof(where));
	if (p->code == 0)
		p->code = PL_ERR_CONF;
	return pl_error_set(p->err, PL_ERR_CONF,
			    "%ssyntax error in '%.*s%s': %s at column %zu",
			    where, PL_EXPR_QUOTE_MAX, p->text,
			    pl_expr_cut(p->text), msg, at + 1);
}

static int unexpected(parser *p)
{
	if (p->tok.kind == PL_TK_ERROR)
		return syntax_error(p, p->tok.start, "%s", p->tok.msg);
	if (p->tok.kind == PL_TK_END)
		return syntax_error(p, p->tok.start, "%s",
				    "unexpected end of expression");
	char tok[64];
	size_t len = p->tok.end - p->tok.start;
	snprintf(tok, sizeof(tok), "%.*s", (int)(len < 40 ? len : 40),
		 p->text + p->tok.start);
	return syntax_error(p, p->tok.start, "unexpected '%s'", tok);
}

static int nomem(parser *p, const char *what)
{
	if (p->code == 0)
		p->code = PL_ERR_NOMEM;
	return pl_error_nomem(p->err, what);
}

static int binary_prec(const pl_token *t)
{
	if (t->kind != PL_TK_OP)
		return 0;
	switch (t->op) {
	case PL_OP_OR:
		return PREC_OR;
	case PL_OP_AND:
		return PREC_AND;
	case PL_OP_NOT:
		return 0;
	case PL_OP_ADD:
	case PL_OP_SUB:
		return PREC_ADD;
	case PL_OP_MUL:
	case PL_OP_DIV:
	case PL_OP_MOD:
		return PREC_MUL;
	case PL_OP_POW:
		return PREC_POW;
	default:
		return PREC_CMP;
	}
}

static pl_expr *node(parser *p, pl_expr_kind kind, size_t start, size_t end)
{
	pl_expr *e = pl_expr_node(kind, p->src, start, end);
	if (e == NULL)
		nomem(p, "an expression node");
	return e;
}

/* Adds arg to e, freeing arg when that fails. */
static int attach(parser *p, pl_expr *e, pl_expr *arg)
{
	if (pl_expr_add_arg(e, arg) != 0) {
		pl_expr_free(arg, NULL);
		return nomem(p, "an expression node");
	}
	if (e->depth > PL_EXPR_MAX_TREE_DEPTH)
		return syntax_error(p, e->start, "%s",
				    "expression too long: more than 4096 "
				    "operators in a chain (split it over "
				    "several [derive] lines)");
	return 0;
}

static pl_expr *parse_expr(parser *p, int min_prec);

static pl_expr *fail(pl_expr *e)
{
	pl_expr_free(e, NULL);
	return NULL;
}

static pl_expr *int_literal(parser *p, size_t start, int negate)
{
	if (p->tok.too_big || (!negate && p->tok.uval > INT64_MAX)) {
		syntax_error(p, p->tok.start, "%s",
			     "integer literal too large for int64");
		return NULL;
	}
	pl_expr *e = node(p, PL_EK_LIT, start, p->tok.end);
	if (e == NULL)
		return NULL;
	e->lit_type = PL_INT64;
	if (negate)
		e->ival = (int64_t)(0 - p->tok.uval);
	else
		e->ival = (int64_t)p->tok.uval;
	advance(p);
	return e;
}

static pl_expr *float_literal(parser *p)
{
	char buf[512];
	size_t len = p->tok.end - p->tok.start;
	if (len >= sizeof(buf)) {
		syntax_error(p, p->tok.start, "%s", "number too long");
		return NULL;
	}
	memcpy(buf, p->text + p->tok.start, len);
	buf[len] = '\0';
	pl_expr *e = node(p, PL_EK_LIT, p->tok.start, p->tok.end);
	if (e == NULL)
		return NULL;
	e->lit_type = PL_FLOAT64;
	e->fval = strtod(buf, NULL);
	advance(p);
	return e;
}

static pl_expr *string_literal(parser *p)
{
	pl_expr *e = node(p, PL_EK_LIT, p->tok.start, p->tok.end);
	if (e == NULL)
		return NULL;
	e->lit_type = PL_STRING;
	e->sval = pl_lex_unquote(p->text, p->tok.start, p->tok.end, &e->slen);
	if (e->sval == NULL) {
		nomem(p, "a string literal");
		return fail(e);
	}
	advance(p);
	return e;
}

static pl_expr *word_literal(parser *p, pl_type t, int64_t v)
{
	pl_expr *e = node(p, PL_EK_LIT, p->tok.start, p->tok.end);
	if (e == NULL)
		return NULL;
	e->lit_type = t;
	e->ival = v;
	advance(p);
	return e;
}

static pl_expr *call_args(parser *p, pl_expr *e)
{
	advance(p);
	if (p->tok.kind == PL_TK_RPAREN) {
		e->end = p->tok.end;
		advance(p);
		return e;
	}
	for (;;) {
		pl_expr *a = parse_expr(p, PREC_OR);
		if (a == NULL || attach(p, e, a) != 0)
			return fail(e);
		if (p->tok.kind == PL_TK_RPAREN)
			break;
		if (p->tok.kind != PL_TK_COMMA) {
			unexpected(p);
			return fail(e);
		}
		advance(p);
	}
	e->end = p->tok.end;
	advance(p);
	return e;
}

static pl_expr *name_ref(parser *p, size_t from, size_t to)
{
	pl_expr *e = node(p, PL_EK_COL, p->tok.start, p->tok.end);
	if (e == NULL)
		return NULL;
	e->name = strndup(p->text + from, to - from);
	if (e->name == NULL) {
		nomem(p, "a name");
		return fail(e);
	}
	advance(p);
	if (p->tok.kind == PL_TK_LPAREN && p->text[e->start] != '`') {
		e->kind = PL_EK_CALL;
		return call_args(p, e);
	}
	return e;
}

static pl_expr *parenthesized(parser *p)
{
	size_t start = p->tok.start;
	advance(p);
	pl_expr *e = parse_expr(p, PREC_OR);
	if (e == NULL)
		return NULL;
	if (p->tok.kind != PL_TK_RPAREN) {
		if (p->tok.kind == PL_TK_END)
			syntax_error(p, start, "%s", "unclosed '('");
		else
			unexpected(p);
		return fail(e);
	}
	e->start = start;
	e->end = p->tok.end;
	advance(p);
	return e;
}

static pl_expr *primary(parser *p)
{
	switch (p->tok.kind) {
	case PL_TK_INT:
		return int_literal(p, p->tok.start, 0);
	case PL_TK_FLOAT:
		return float_literal(p);
	case PL_TK_STRING:
		return string_literal(p);
	case PL_TK_TRUE:
		return word_literal(p, PL_BOOL, 1);
	case PL_TK_FALSE:
		return word_literal(p, PL_BOOL, 0);
	case PL_TK_NULL:
		return word_literal(p, PL_NULLTYPE, 0);
	case PL_TK_IDENT:
		return name_ref(p, p->tok.start, p->tok.end);
	case PL_TK_QUOTED:
		return name_ref(p, p->tok.start + 1, p->tok.end - 1);
	case PL_TK_LPAREN:
		return parenthesized(p);
	default:
		unexpected(p);
		return NULL;
	}
}

/* -9223372036854775808 is the one literal whose digits alone overflow. */
static int is_int64_min(parser *p)
{
	if (p->tok.kind != PL_TK_INT || p->tok.too_big ||
	    p->tok.uval != (uint64_t)INT64_MAX + 1)
		return 0;
	size_t pos = p->pos;
	pl_token next;
	pl_lex_next(p->text, &pos, &next);
	return !(next.kind == PL_TK_OP && next.op == PL_OP_POW);
}

static pl_expr *negate_literal(pl_expr *e, size_t start)
{
	if (e->lit_type == PL_INT64 && e->ival != INT64_MIN) {
		e->ival = -e->ival;
	} else if (e->lit_type == PL_FLOAT64) {
		e->fval = -e->fval;
	} else {
		return NULL;
	}
	e->start = start;
	return e;
}

static pl_expr *prefix(parser *p, pl_expr_op op, int operand_prec)
{
	size_t start = p->tok.start;
	advance(p);
	if (op == PL_OP_NEG && is_int64_min(p))
		return int_literal(p, start, 1);
	pl_expr *arg = parse_expr(p, operand_prec);
	if (arg == NULL)
		return NULL;
	if (op == PL_OP_NEG && arg->kind == PL_EK_LIT &&
	    negate_literal(arg, start) != NULL)
		return arg;
	pl_expr *e = node(p, PL_EK_UNARY, start, arg->end);
	if (e == NULL)
		return fail(arg);
	e->op = op;
	if (attach(p, e, arg) != 0)
		return fail(e);
	return e;
}

static pl_expr *operand(parser *p)
{
	if (p->tok.kind == PL_TK_OP && p->tok.op == PL_OP_NOT)
		return prefix(p, PL_OP_NOT, PREC_CMP);
	if (p->tok.kind == PL_TK_OP && p->tok.op == PL_OP_SUB)
		return prefix(p, PL_OP_NEG, PREC_POW);
	return primary(p);
}

static pl_expr *binary(parser *p, pl_expr *lhs, pl_expr_op op, pl_expr *rhs)
{
	pl_expr *e = node(p, PL_EK_BINARY, lhs->start, rhs->end);
	if (e == NULL) {
		pl_expr_free(rhs, NULL);
		return fail(lhs);
	}
	e->op = op;
	if (attach(p, e, lhs) != 0) {
		pl_expr_free(rhs, NULL);
		return fail(e);
	}
	if (attach(p, e, rhs) != 0)
		return fail(e);
	return e;
}

static pl_expr *climb(parser *p, int min_prec)
{
	pl_expr *lhs = operand(p);
	int compared = 0;
	while (lhs != NULL) {
		int prec = binary_prec(&p->tok);
		if (prec == 0 || prec < min_prec)
			break;
		if (prec == PREC_CMP && compared) {
			syntax_error(p, p->tok.start, "%s",
				     "comparisons do not chain; use 'and'");
			return fail(lhs);
		}
		compared |= prec == PREC_CMP;
		pl_expr_op op = p->tok.op;
		advance(p);
		pl_expr *rhs =
		    parse_expr(p, prec == PREC_POW ? prec : prec + 1);
		if (rhs == NULL)
			return fail(lhs);
		lhs = binary(p, lhs, op, rhs);
	}
	return lhs;
}

static pl_expr *parse_expr(parser *p, int min_prec)
{
	if (++p->nesting > PL_EXPR_MAX_DEPTH) {
		syntax_error(p, p->tok.start, "%s",
			     "expression nested too deeply");
		return NULL;
	}
	pl_expr *e = climb(p, min_prec);
	p->nesting--;
	return e;
}

static int parse_all(parser *p, pl_expr **out)
{
	advance(p);
	pl_expr *e = parse_expr(p, PREC_OR);
	if (e != NULL && p->tok.kind != PL_TK_END) {
		unexpected(p);
		e = fail(e);
	}
	if (e == NULL)
		return p->code ? p->code : PL_ERR_INTERNAL;
	e->owns_src = 1;
	*out = e;
	return 0;
}

int pl_expr_parse(const char *text, const pl_expr_where *where, pl_expr **out,
		  pl_error *err)
{
	*out = NULL;
	pl_expr_src *src = pl_expr_src_new(text, strlen(text), where);
	if (src == NULL)
		return pl_error_nomem(err, "an expression");
	parser p = {src->text, 0, {0}, src, 0, 0, err};
	int rc = parse_all(&p, out);
	if (rc != 0)
		pl_expr_src_free(src);
	return rc;
}

/* Expression nodes and the public glue around them: freeing, cloning,
 * inspection, messages and aggregate extraction for [groupby]. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/expr_internal.h"

static char *dup_or_null(const char *s, int *failed)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	*failed |= d == NULL;
	return d;
}

pl_expr_src *pl_expr_src_new(const char *text, size_t len,
			     const pl_expr_where *w)
{
	pl_expr_src *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	int failed = 0;
	s->text = strndup(text, len);
	failed |= s->text == NULL;
	if (w != NULL) {
		s->file = dup_or_null(w->file ? w->file : "", &failed);
		s->section = dup_or_null(w->section, &failed);
		s->line = w->line;
		s->now_us = w->now_us;
	}
	if (failed) {
		pl_expr_src_free(s);
		return NULL;
	}
	return s;
}

void pl_expr_src_free(pl_expr_src *s)
{
	if (s == NULL)
		return;
	free(s->text);
	free(s->file);
	free(s->section);
	free(s);
}

pl_expr *pl_expr_node(pl_expr_kind kind, pl_expr_src *src, size_t start,
		      size_t end)
{
	pl_expr *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->kind = kind;
	e->src = src;
	e->start = start;
	e->end = end;
	e->col = -1;
	e->depth = 1;
	return e;
}

int pl_expr_add_arg(pl_expr *e, pl_expr *arg)
{
	pl_expr **a = realloc(e->args, (e->nargs + 1) * sizeof(*a));
	if (a == NULL)
		return PL_ERR_NOMEM;
	e->args = a;
	e->args[e->nargs++] = arg;
	if (arg->depth + 1 > e->depth)
		e->depth = arg->depth + 1;
	return 0;
}

static void free_children(pl_expr *e, pl_pool *pool)
{
	for (size_t i = 0; i < e->nargs; i++)
		pl_expr_free(e->args[i], pool);
	free(e->args);
	e->args = NULL;
	e->nargs = 0;
}

void pl_expr_free(pl_expr *e, pl_pool *pool)
{
	if (e == NULL)
		return;
	free_children(e, pool);
	pl_node_free_scratch(e, pool);
	if (e->state_free != NULL)
		e->state_free(e->state);
	free(e->sval);
	free(e->name);
	if (e->owns_src)
		pl_expr_src_free(e->src);
	free(e);
}

const char *pl_expr_text(const pl_expr *e)
{
	return e->src->text;
}

const char *pl_expr_column_name(const pl_expr *e)
{
	return e->kind == PL_EK_COL ? e->name : NULL;
}

void pl_expr_mark_columns(const pl_expr *e, uint8_t *used, size_t n)
{
	if (e == NULL)
		return;
	if (e->kind == PL_EK_COL && e->col >= 0 && (size_t)e->col < n)
		used[e->col] = 1;
	for (size_t i = 0; i < e->nargs; i++)
		pl_expr_mark_columns(e->args[i], used, n);
}

static int literal_number(const pl_expr *e, double *value)
{
	if (e->kind != PL_EK_LIT)
		return 0;
	if (e->lit_type == PL_INT64)
		*value = (double)e->ival;
	else if (e->lit_type == PL_FLOAT64)
		*value = e->fval;
	else
		return 0;
	return 1;
}

int pl_expr_number(const pl_expr *e, double *value)
{
	if (e->kind == PL_EK_UNARY && e->op == PL_OP_NEG &&
	    literal_number(e->args[0], value)) {
		*value = -*value;
		return 1;
	}
	return literal_number(e, value);
}

void pl_expr_prefix(const pl_expr_src *s, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (s->file == NULL)
		return;
	if (s->section != NULL)
		snprintf(buf, cap, "%s:%d: [%s] ", s->file, s->line,
			 s->section);
	else
		snprintf(buf, cap, "%s:%d: ", s->file, s->line);
}

const char *pl_expr_cut(const char *text)
{
	return strlen(text) > PL_EXPR_QUOTE_MAX ? "..." : "";
}

int pl_expr_conf_error(const pl_expr *e, pl_error *err, const char *fmt, ...)
{
	char where[512], msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pl_expr_prefix(e->src, where, sizeof(where));
	return pl_error_set(err, PL_ERR_CONF, "%sin '%.*s%s': %s", where,
			    PL_EXPR_QUOTE_MAX, e->src->text,
			    pl_expr_cut(e->src->text), msg);
}

int pl_expr_data_error(const pl_expr *e, const pl_eval_ctx *cx, size_t row,
		       const char *what)
{
	char where[512];
	pl_expr_prefix(e->src, where, sizeof(where));
	const pl_batch *in = cx->in;
	if (in->origin != NULL && in->line != NULL)
		return pl_error_set(
		    cx->err, PL_ERR_DATA, "%s'%.*s%s': %s at %s:%lld", where,
		    PL_EXPR_QUOTE_MAX, e->src->text, pl_expr_cut(e->src->text),
		    what, in->origin, (long long)in->line[row]);
	return pl_error_set(cx->err, PL_ERR_DATA, "%s'%.*s%s': %s at row %zu",
			    where, PL_EXPR_QUOTE_MAX, e->src->text,
			    pl_expr_cut(e->src->text), what, row + 1);
}

static pl_expr *clone_node(const pl_expr *e, pl_expr_src *src, size_t shift)
{
	pl_expr *c =
	    pl_expr_node(e->kind, src, e->start - shift, e->end - shift);
	if (c == NULL)
		return NULL;
	c->op = e->op;
	c->lit_type = e->lit_type;
	c->ival = e->ival;
	c->fval = e->fval;
	c->slen = e->slen;
	int failed = 0;
	if (e->sval != NULL) {
		c->sval = malloc(e->slen + 1);
		failed |= c->sval == NULL;
		if (c->sval != NULL)
			memcpy(c->sval, e->sval, e->slen + 1);
	}
	c->name = dup_or_null(e->name, &failed);
	for (size_t i = 0; i < e->nargs && !failed; i++) {
		pl_expr *a = clone_node(e->args[i], src, shift);
		failed |= a == NULL || pl_expr_add_arg(c, a) != 0;
		if (failed)
			pl_expr_free(a, NULL);
	}
	if (failed) {
		pl_expr_free(c, NULL);
		return NULL;
	}
	return c;
}

pl_expr *pl_expr_clone(const pl_expr *e)
{
	const pl_expr_src *s = e->src;
	pl_expr_where w = {s->file, s->line, s->section, s->now_us};
	pl_expr_src *src = pl_expr_src_new(
	    s->text + e->start, e->end - e->start, s->file ? &w : NULL);
	if (src == NULL)
		return NULL;
	src->now_us = s->now_us;
	pl_expr *c = clone_node(e, src, e->start);
	if (c == NULL) {
		pl_expr_src_free(src);
		return NULL;
	}
	c->owns_src = 1;
	return c;
}

static int is_agg_call(const pl_expr *e, const char *const *aggs)
{
	if (e->kind != PL_EK_CALL)
		return 0;
	int minmax = strcmp(e->name, "min") == 0 || strcmp(e->name, "max") == 0;
	if (minmax && e->nargs != 1)
		return 0;
	for (const char *const *a = aggs; *a; a++)
		if (strcmp(*a, e->name) == 0)
			return 1;
	return 0;
}

static const pl_expr *find_agg(const pl_expr *e, const char *const *aggs)
{
	if (is_agg_call(e, aggs))
		return e;
	for (size_t i = 0; i < e->nargs; i++) {
		const pl_expr *f = find_agg(e->args[i], aggs);
		if (f != NULL)
			return f;
	}
	return NULL;
}

/* Turns the call e into a reference to column name, in place, so that the
 * parent's pointer stays valid. */
static int replace_call(pl_expr *e, const char *name, pl_error *err)
{
	char *n = strdup(name);
	if (n == NULL)
		return pl_error_nomem(err, "an aggregate column name");
	free_children(e, NULL);
	free(e->name);
	e->name = n;
	e->kind = PL_EK_COL;
	e->depth = 1;
	return 0;
}

static int extract(pl_expr *e, const char *const *aggs, pl_expr_agg_fn fn,
		   void *arg, pl_error *err)
{
	if (!is_agg_call(e, aggs)) {
		for (size_t i = 0; i < e->nargs; i++) {
			int rc = extract(e->args[i], aggs, fn, arg, err);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	for (size_t i = 0; i < e->nargs; i++) {
		const pl_expr *inner = find_agg(e->args[i], aggs);
		if (inner != NULL)
			return pl_expr_conf_error(
			    e, err, "aggregate '%s' inside aggregate '%s'",
			    inner->name, e->name);
	}
	char name[256] = "";
	int rc = fn(arg, e->name, e->args, e->nargs, name, sizeof(name), err);
	if (rc != 0)
		return rc;
	if (name[0] == '\0')
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "aggregate '%s' was given no column",
				    e->name);
	return replace_call(e, name, err);
}

int pl_expr_extract_aggs(pl_expr *e, const char *const *aggs, pl_expr_agg_fn fn,
			 void *arg, pl_error *err)
{
	return extract(e, aggs, fn, arg, err);
}

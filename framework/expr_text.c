/* Text functions: SQL LIKE, regular expressions (PCRE2), replace,
 * split_part, concat, padding and strpos. Strings are bytes: positions
 * and lengths count UTF-8 characters (a lead byte and its continuation
 * bytes), and invalid UTF-8 is carried through untouched, never an error.
 *
 * A regular expression must be a string literal: it is compiled (and
 * JIT-compiled) once, when the expression is bound, so a bad pattern is a
 * job.conf error. Matching is bounded by a match limit, so that a
 * pathological pattern (catastrophic backtracking) fails the row with an
 * error instead of hanging the job. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/expr_internal.h"

/* Steps one match may take (PCRE2's own default is ten million). */
#define MATCH_LIMIT 1000000
#define DEPTH_LIMIT 10000

typedef struct regex_state {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	PCRE2_UCHAR *buf; /* regexp_replace output, grown as needed */
	PCRE2_SIZE cap;
	uint32_t group; /* regexp_extract's group */
} regex_state;

static void regex_free(void *p)
{
	regex_state *r = p;
	if (r == NULL)
		return;
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mctx);
	pcre2_code_free(r->code);
	free(r->buf);
	free(r);
}

static int compile(pl_expr *e, regex_state *r, const char *pat, size_t len,
		   pl_error *err)
{
	int code;
	PCRE2_SIZE at;
	r->code = pcre2_compile((PCRE2_SPTR)pat, len,
				PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &at,
				NULL);
	if (r->code == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return pl_expr_conf_error(e, err,
					  "bad regular expression '%.*s': %s "
					  "at offset %zu",
					  (int)(len > 100 ? 100 : len), pat,
					  (const char *)msg, (size_t)at);
	}
	/* Without JIT (an exotic machine) matching is slower, not wrong. */
	(void)pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);
	r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
	r->mctx = pcre2_match_context_create(NULL);
	if (r->md == NULL || r->mctx == NULL)
		return pl_error_nomem(err, "a regular expression");
	pcre2_set_match_limit(r->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, DEPTH_LIMIT);
	return 0;
}

/* Binds a regexp_* call: argument 0 a string, argument 1 a pattern in
 * quotes, compiled now. */
static int bind_regex(pl_expr *e, pl_type type, pl_error *err)
{
	size_t len;
	e->type = type;
	int rc = pl_func_want(e, 0, A_STR, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[0], PL_STRING, err);
	if (rc != 0)
		return rc;
	const char *pat = pl_func_literal(e, 1, &len);
	if (pat == NULL)
		return pl_expr_conf_error(e, err,
					  "argument 2 of %s() must be a "
					  "regular expression in quotes",
					  e->name);
	regex_state *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return pl_error_nomem(err, "a regular expression");
	e->state = r;
	e->state_free = regex_free;
	return compile(e, r, pat, len, err);
}

static int bind_regexp_matches(pl_expr *e, pl_error *err)
{
	return bind_regex(e, PL_BOOL, err);
}

static int bind_regexp_replace(pl_expr *e, pl_error *err)
{
	int rc = bind_regex(e, PL_STRING, err);
	return rc ? rc : pl_func_want_all(e, 2, A_STR, PL_STRING, err);
}

static int bind_regexp_extract(pl_expr *e, pl_error *err)
{
	const pl_expr *g = e->nargs > 2 ? e->args[2] : NULL;
	int rc = bind_regex(e, PL_STRING, err);
	if (rc != 0)
		return rc;
	regex_state *r = e->state;
	uint32_t groups = 0;
	pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	if (g != NULL && (g->kind != PL_EK_LIT || g->lit_type != PL_INT64 ||
			  g->ival < 0 || (uint64_t)g->ival > groups))
		return pl_expr_conf_error(e, err,
					  "argument 3 of regexp_extract() must "
					  "be a group number from 0 to %u",
					  groups);
	r->group = g ? (uint32_t)g->ival : 0;
	return 0;
}

/* Matches s once: 1 + the highest group set when matched, 0 when not,
 * or -1 after a data error for row i. */
static int match(pl_expr *e, pl_eval_ctx *cx, size_t i, const char *s,
		 size_t len)
{
	regex_state *r = e->state;
	int rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, 0, 0, r->md, r->mctx);
	if (rc > 0)
		return rc;
	if (rc == PCRE2_ERROR_NOMATCH || !pl_row_live(cx, i))
		return 0;
	char what[300];
	PCRE2_UCHAR msg[200];
	pcre2_get_error_message(rc, msg, sizeof(msg));
	snprintf(what, sizeof(what), "regular expression failed: %s",
		 (const char *)msg);
	pl_expr_data_error(e, cx, i, what);
	return -1;
}

static int eval_regexp_matches(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	uint8_t *r = pl_col_bool(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		size_t len;
		const char *s = pl_col_str(a[0], i, &len);
		int m =
		    pl_bit_get(e->out.valid, i) ? match(e, cx, i, s, len) : 0;
		if (m < 0)
			return cx->err->code;
		r[i] = m > 0;
	}
	return 0;
}

static int eval_regexp_extract(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0 || pl_node_nullable(e, cx) != 0)
		return PL_ERR_NOMEM;
	regex_state *r = e->state;
	for (size_t i = 0; i < cx->n; i++) {
		size_t len;
		const char *s = pl_col_str(a[0], i, &len);
		int m =
		    pl_bit_get(a[0]->valid, i) ? match(e, cx, i, s, len) : 0;
		if (m < 0)
			return cx->err->code;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
		int got = m > 0 && (uint32_t)m > r->group &&
			  ov[2 * r->group] != PCRE2_UNSET;
		size_t from = got ? ov[2 * r->group] : 0;
		size_t n = got ? ov[2 * r->group + 1] - from : 0;
		pl_bit_set(e->out.valid, i, got);
		if (pl_column_reserve_arena(&e->out, n, cx->pool, cx->err))
			return PL_ERR_NOMEM;
		pl_func_put_str(&e->out, i, s + from, n);
	}
	return 0;
}

/* Every match of row i replaced (Python's re.sub; $1 or ${1} name a
 * group): into r->buf, its length in *out. */
static int substitute(pl_expr *e, pl_eval_ctx *cx, size_t i, const char *s,
		      size_t len, const char *by, size_t blen, size_t *out)
{
	regex_state *r = e->state;
	for (;;) {
		PCRE2_SIZE n = r->cap;
		int rc = pcre2_substitute(
		    r->code, (PCRE2_SPTR)s, len, 0,
		    PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
		    r->md, r->mctx, (PCRE2_SPTR)by, blen, r->buf, &n);
		if (rc >= 0) {
			*out = n;
			return 0;
		}
		if (rc != PCRE2_ERROR_NOMEMORY) {
			char what[300];
			PCRE2_UCHAR msg[200];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			snprintf(what, sizeof(what),
				 "regexp_replace() failed: %s",
				 (const char *)msg);
			return pl_expr_data_error(e, cx, i, what);
		}
		PCRE2_UCHAR *b = realloc(r->buf, n + 1);
		if (b == NULL)
			return pl_error_nomem(cx->err, "regexp_replace()");
		r->buf = b;
		r->cap = n + 1;
	}
}

static int eval_regexp_replace(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	regex_state *r = e->state;
	for (size_t i = 0; i < cx->n; i++) {
		size_t len, blen, n = 0;
		const char *s = pl_col_str(a[0], i, &len);
		const char *by = pl_col_str(a[2], i, &blen);
		if (pl_bit_get(e->out.valid, i) && pl_row_live(cx, i)) {
			int rc = substitute(e, cx, i, s, len, by, blen, &n);
			if (rc != 0)
				return rc;
		}
		if (pl_column_reserve_arena(&e->out, n, cx->pool, cx->err))
			return PL_ERR_NOMEM;
		pl_func_put_str(&e->out, i, (const char *)r->buf, n);
	}
	return 0;
}

/* The byte after the UTF-8 character at s[i] (continuation bytes of a
 * broken sequence go with it). */
static size_t next_char(const char *s, size_t n, size_t i)
{
	for (i++; i < n && ((unsigned char)s[i] & 0xc0) == 0x80; i++)
		;
	return i;
}

/* SQL LIKE: % any run, _ one character, \ makes the next one plain.
 * Greedy with one backtrack point, so O(len(s) * len(p)) at worst. */
static int like_match(const char *s, size_t n, const char *p, size_t m)
{
	size_t i = 0, j = 0, star_j = SIZE_MAX, star_i = 0;
	while (i < n) {
		if (j < m && p[j] == '%') {
			star_j = ++j;
			star_i = i;
			continue;
		}
		if (j < m) {
			int plain = p[j] == '\\' && j + 1 < m;
			size_t pj = j + (size_t)plain;
			if (!plain && p[j] == '_') {
				i = next_char(s, n, i);
				j++;
				continue;
			}
			if (s[i] == p[pj]) {
				i++;
				j = pj + 1;
				continue;
			}
		}
		if (star_j == SIZE_MAX)
			return 0;
		star_i = next_char(s, n, star_i);
		i = star_i;
		j = star_j;
	}
	while (j < m && p[j] == '%')
		j++;
	return j == m;
}

static int bind_str_bool(pl_expr *e, pl_error *err)
{
	e->type = PL_BOOL;
	return pl_func_want_all(e, 0, A_STR, PL_STRING, err);
}

static int eval_like(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	uint8_t *r = pl_col_bool(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		size_t ls, lp;
		const char *s = pl_col_str(a[0], i, &ls);
		const char *p = pl_col_str(a[1], i, &lp);
		r[i] = (uint8_t)like_match(s, ls, p, lp);
	}
	pl_node_zero_nulls(e);
	return 0;
}

static int bind_str(pl_expr *e, pl_error *err)
{
	e->type = PL_STRING;
	return pl_func_want_all(e, 0, A_STR, PL_STRING, err);
}

static const char *find(const char *s, size_t n, const char *t, size_t m)
{
	if (m == 0)
		return s;
	for (size_t j = 0; j + m <= n; j++)
		if (s[j] == t[0] && memcmp(s + j, t, m) == 0)
			return s + j;
	return NULL;
}

static size_t count(const char *s, size_t n, const char *t, size_t m)
{
	size_t k = 0;
	for (const char *p; m > 0 && (p = find(s, n, t, m)) != NULL; k++) {
		n -= (size_t)(p - s) + m;
		s = p + m;
	}
	return k;
}

/* Every occurrence of from (not overlapping, left to right) as to. */
static int eval_replace(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	pl_column *o = &e->out;
	for (size_t i = 0; i < cx->n; i++) {
		size_t n, m, k;
		const char *s = pl_col_str(a[0], i, &n);
		const char *f = pl_col_str(a[1], i, &m);
		const char *t = pl_col_str(a[2], i, &k);
		if (!pl_bit_get(o->valid, i))
			n = 0;
		size_t hits = count(s, n, f, m);
		if (pl_column_reserve_arena(o, n + hits * k, cx->pool, cx->err))
			return PL_ERR_NOMEM;
		char *d = o->arena + o->arena_len;
		for (const char *p; hits > 0 && (p = find(s, n, f, m));) {
			memcpy(d, s, (size_t)(p - s));
			d += p - s;
			memcpy(d, t, k);
			d += k;
			n -= (size_t)(p - s) + m;
			s = p + m;
		}
		memcpy(d, s, n);
		o->arena_len = (size_t)(d + n - o->arena);
		pl_col_off(o)[i + 1] = (int64_t)o->arena_len;
	}
	return 0;
}

static int bind_split_part(pl_expr *e, pl_error *err)
{
	e->type = PL_STRING;
	int rc = pl_func_want(e, 0, A_STR, err);
	if (rc == 0)
		rc = pl_func_want(e, 1, A_STR, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[0], PL_STRING, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[1], PL_STRING, err);
	return rc ? rc : pl_func_want_all(e, 2, A_INT, PL_INT64, err);
}

/* Field k (1-based; negative counts from the end) of s split at d. */
static const char *field(const char *s, size_t n, const char *d, size_t m,
			 int64_t k, size_t *len)
{
	size_t fields = m == 0 ? 1 : count(s, n, d, m) + 1;
	if (k < 0)
		k += (int64_t)fields + 1;
	*len = 0;
	if (k < 1 || (uint64_t)k > fields)
		return s;
	for (int64_t j = 1; j < k; j++) {
		const char *p = find(s, n, d, m);
		n -= (size_t)(p - s) + m;
		s = p + m;
	}
	const char *end = m == 0 ? NULL : find(s, n, d, m);
	*len = end ? (size_t)(end - s) : n;
	return s;
}

static int eval_split_part(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const int64_t *k = pl_col_i64(a[2]);
	for (size_t i = 0; i < cx->n; i++) {
		size_t n, m, len = 0;
		const char *s = pl_col_str(a[0], i, &n);
		const char *d = pl_col_str(a[1], i, &m);
		if (pl_bit_get(e->out.valid, i))
			s = field(s, n, d, m, k[i], &len);
		if (pl_column_reserve_arena(&e->out, len, cx->pool, cx->err))
			return PL_ERR_NOMEM;
		pl_func_put_str(&e->out, i, s, len);
	}
	return 0;
}

/* concat takes any values, written as string() writes them; a NULL adds
 * nothing (as in DuckDB and PostgreSQL), so the result is never NULL. */
static int bind_concat(pl_expr *e, pl_error *err)
{
	e->type = PL_STRING;
	for (size_t i = 0; i < e->nargs; i++) {
		pl_expr *x = e->args[i];
		if (x->type == PL_STRING || x->type == PL_NULLTYPE) {
			x->type = PL_STRING;
			continue;
		}
		pl_expr *c = pl_expr_cast_node(x, PL_STRING);
		if (c == NULL)
			return pl_error_nomem(err, "an expression node");
		e->args[i] = c;
	}
	return 0;
}

static int eval_concat(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	pl_column *o = &e->out;
	for (size_t i = 0; i < cx->n; i++) {
		size_t total = 0, len;
		for (size_t k = 0; k < e->nargs; k++)
			if (pl_bit_get(a[k]->valid, i)) {
				pl_col_str(a[k], i, &len);
				total += len;
			}
		if (pl_column_reserve_arena(o, total, cx->pool, cx->err))
			return PL_ERR_NOMEM;
		for (size_t k = 0; k < e->nargs; k++) {
			const char *s = pl_col_str(a[k], i, &len);
			if (!pl_bit_get(a[k]->valid, i) || len == 0)
				continue;
			memcpy(o->arena + o->arena_len, s, len);
			o->arena_len += len;
		}
		pl_col_off(o)[i + 1] = (int64_t)o->arena_len;
	}
	return 0;
}

static int bind_pad(pl_expr *e, pl_error *err)
{
	e->type = PL_STRING;
	int rc = pl_func_want(e, 0, A_STR, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[0], PL_STRING, err);
	if (rc == 0)
		rc = pl_func_want(e, 1, A_INT, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[1], PL_INT64, err);
	return rc ? rc : pl_func_want_all(e, 2, A_STR, PL_STRING, err);
}

/* Bytes of the first k characters of s (all of s when shorter); the
 * characters found in *chars. */
static size_t prefix(const char *s, size_t n, int64_t k, int64_t *chars)
{
	size_t j = 0;
	*chars = 0;
	while (j < n && *chars < k) {
		j = next_char(s, n, j);
		(*chars)++;
	}
	return j;
}

/* Longest padded value: beyond it, padding is a data error. */
#define PAD_MAX (1 << 20)

/* s to exactly width characters: cut, or filled with fill on the left
 * (lpad) or right, as PostgreSQL does. */
static int pad(pl_expr *e, pl_eval_ctx *cx, const pl_column **a, int left)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const int64_t *w = pl_col_i64(a[1]);
	pl_column *o = &e->out;
	for (size_t i = 0; i < cx->n; i++) {
		size_t n, fl = 1;
		const char *s = pl_col_str(a[0], i, &n);
		const char *f = e->nargs > 2 ? pl_col_str(a[2], i, &fl) : " ";
		int64_t width = pl_bit_get(o->valid, i) && w[i] > 0 ? w[i] : 0;
		if (width > PAD_MAX && pl_row_live(cx, i))
			return pl_expr_data_error(e, cx, i,
						  "padding beyond 1 MiB");
		if (width > PAD_MAX)
			width = 0;
		int64_t have, fill_chars;
		size_t keep = prefix(s, n, width, &have);
		int64_t need = fl > 0 ? width - have : 0;
		size_t fill_bytes = prefix(f, fl, INT64_MAX, &fill_chars);
		size_t bytes = keep + (size_t)need * fill_bytes;
		if (pl_column_reserve_arena(o, bytes, cx->pool, cx->err))
			return PL_ERR_NOMEM;
		char *d = o->arena + o->arena_len;
		if (!left)
			memcpy(d, s, keep), d += keep;
		for (int64_t c = 0; c < need;) {
			for (size_t j = 0; j < fl && c < need; c++) {
				size_t nx = next_char(f, fl, j);
				memcpy(d, f + j, nx - j);
				d += nx - j;
				j = nx;
			}
		}
		if (left)
			memcpy(d, s, keep), d += keep;
		o->arena_len = (size_t)(d - o->arena);
		pl_col_off(o)[i + 1] = (int64_t)o->arena_len;
	}
	return 0;
}

static int eval_lpad(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return pad(e, cx, a, 1);
}

static int eval_rpad(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	return pad(e, cx, a, 0);
}

static int bind_strpos(pl_expr *e, pl_error *err)
{
	e->type = PL_INT64;
	return pl_func_want_all(e, 0, A_STR, PL_STRING, err);
}

/* 1-based character position of the first t in s, 0 when absent. */
static int eval_strpos(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	int64_t *r = pl_col_i64(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		size_t n, m;
		const char *s = pl_col_str(a[0], i, &n);
		const char *t = pl_col_str(a[1], i, &m);
		const char *p = find(s, n, t, m);
		r[i] = 0;
		for (size_t j = 0; p != NULL && j <= (size_t)(p - s);
		     j = next_char(s, n, j))
			r[i]++;
	}
	pl_node_zero_nulls(e);
	return 0;
}

const pl_func pl_text_funcs[] = {
    {"like", 2, 2, 0, bind_str_bool, eval_like},
    {"regexp_matches", 2, 2, 0, bind_regexp_matches, eval_regexp_matches},
    {"regexp_extract", 2, 3, 0, bind_regexp_extract, eval_regexp_extract},
    {"regexp_replace", 3, 3, 0, bind_regexp_replace, eval_regexp_replace},
    {"replace", 3, 3, 0, bind_str, eval_replace},
    {"split_part", 3, 3, 0, bind_split_part, eval_split_part},
    {"concat", 1, PL_EXPR_MAX_ARGS, 0, bind_concat, eval_concat},
    {"lpad", 2, 3, 0, bind_pad, eval_lpad},
    {"rpad", 2, 3, 0, bind_pad, eval_rpad},
    {"strpos", 2, 2, 0, bind_strpos, eval_strpos},
};

const size_t pl_ntext_funcs = sizeof(pl_text_funcs) / sizeof(pl_text_funcs[0]);

/* [select]: columns = a, b (these, in this order) or drop = x, y, and/or
 * rename = old:new, ... applied after them. The emitted batch is a view
 * that reorders the input's columns; nothing is copied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/operator.h"

typedef struct select_state {
	size_t *src; /* input column of each output column */
	size_t n;
	pl_column *cols; /* the view's columns */
} select_state;

/* Renames parsed from `rename`, as pairs of malloc'd names. */
typedef struct renames {
	char **from; /* cap entries, zeroed: unused ones stay NULL */
	char **to;
	size_t n;
	size_t cap;
} renames;

static const char *const select_keys[] = {"columns", "drop", "rename", NULL};

static int unknown(const pl_section *sec, const char *key, const char *name,
		   const char *const *known, pl_error *err)
{
	const char *near = pl_suggest(name, known);
	if (near != NULL)
		return pl_section_error(sec, key, err,
					"unknown column '%s' in %s, did you "
					"mean '%s'?",
					name, key, near);
	return pl_section_error(sec, key, err, "unknown column '%s' in %s",
				name, key);
}

/* A failed pl_split_names, reported at the key's line. */
static int split_error(const pl_section *sec, const char *key,
		       const pl_error *split, pl_error *err)
{
	if (split->code == PL_ERR_NOMEM)
		return pl_error_set(err, PL_ERR_NOMEM, "%s", split->msg);
	return pl_section_error(sec, key, err, "%s", split->msg);
}

/* Index of name among names[0..n), or -1. */
static int index_of(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

static int pick_listed(const pl_section *sec, const char *const *in_names,
		       size_t nin, select_state *st, char **list, size_t n,
		       pl_error *err)
{
	for (size_t i = 0; i < n; i++) {
		int c = index_of(in_names, nin, list[i]);
		if (c < 0)
			return unknown(sec, "columns", list[i], in_names, err);
		if (index_of((const char *const *)list, i, list[i]) >= 0)
			return pl_section_error(sec, "columns", err,
						"column '%s' is listed twice",
						list[i]);
		st->src[st->n++] = (size_t)c;
	}
	return 0;
}

static int pick_kept(const pl_section *sec, const char *const *in_names,
		     size_t nin, select_state *st, char **list, size_t n,
		     pl_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (index_of(in_names, nin, list[i]) < 0)
			return unknown(sec, "drop", list[i], in_names, err);
	for (size_t c = 0; c < nin; c++)
		if (index_of((const char *const *)list, n, in_names[c]) < 0)
			st->src[st->n++] = c;
	if (st->n == 0)
		return pl_section_error(sec, "drop", err, "drops every column");
	return 0;
}

/* Fills st->src from `columns` or `drop` (all columns when neither). */
static int pick(const pl_section *sec, const char *const *in_names, size_t nin,
		select_state *st, pl_error *err)
{
	const char *key = pl_section_find(sec, "columns") ? "columns" : "drop";
	const char *list = pl_section_get(sec, key, NULL);
	if (list == NULL) {
		for (st->n = 0; st->n < nin; st->n++)
			st->src[st->n] = st->n;
		return 0;
	}
	char **names;
	size_t n;
	pl_error split;
	pl_error_clear(&split);
	int rc = pl_split_names(list, &names, &n, &split);
	if (rc != 0)
		return split_error(sec, key, &split, err);
	if (strcmp(key, "columns") == 0)
		rc = pick_listed(sec, in_names, nin, st, names, n, err);
	else
		rc = pick_kept(sec, in_names, nin, st, names, n, err);
	pl_names_free(names, n);
	return rc;
}

/* The single column name in s[0..len), backquotes removed. */
static int one_name(const pl_section *sec, const char *s, size_t len,
		    char **out, pl_error *err)
{
	char *text = strndup(s, len);
	if (text == NULL)
		return pl_error_nomem(err, "a rename");
	char **names;
	size_t n;
	pl_error split;
	pl_error_clear(&split);
	int rc = pl_split_names(text, &names, &n, &split);
	if (rc != 0) {
		rc = split_error(sec, "rename", &split, err);
	} else {
		if (n != 1)
			rc = pl_section_error(sec, "rename", err,
					      "wants old:new pairs, not '%s'",
					      text);
		else
			*out = strdup(names[0]);
		if (rc == 0 && *out == NULL)
			rc = pl_error_nomem(err, "a rename");
		pl_names_free(names, n);
	}
	free(text);
	return rc;
}

/* Splits item s[0..len) at its first ':' outside backquotes. */
static int parse_pair(const pl_section *sec, const char *s, size_t len,
		      renames *r, pl_error *err)
{
	size_t colon = len;
	int quoted = 0;
	for (size_t i = 0; i < len && colon == len; i++) {
		if (s[i] == '`')
			quoted = !quoted;
		else if (s[i] == ':' && !quoted)
			colon = i;
	}
	if (colon == len)
		return pl_section_error(sec, "rename", err,
					"wants old:new pairs, not '%.*s'",
					(int)len, s);
	size_t k = r->n++;
	int rc = one_name(sec, s, colon, &r->from[k], err);
	if (rc == 0)
		rc = one_name(sec, s + colon + 1, len - colon - 1, &r->to[k],
			      err);
	return rc;
}

static void renames_free(renames *r)
{
	for (size_t i = 0; i < r->cap; i++) {
		free(r->from[i]);
		free(r->to[i]);
	}
	free(r->from);
	free(r->to);
}

/* Splits the rename list at commas outside backquotes. */
static int parse_renames(const pl_section *sec, const char *list, renames *r,
			 pl_error *err)
{
	r->cap = 1;
	for (const char *p = list; *p; p++)
		r->cap += *p == ',';
	r->from = calloc(r->cap, sizeof(char *));
	r->to = calloc(r->cap, sizeof(char *));
	if (r->from == NULL || r->to == NULL)
		return pl_error_nomem(err, "a rename");
	int quoted = 0, rc = 0;
	const char *item = list;
	for (const char *p = list; rc == 0; p++) {
		if (*p == '`')
			quoted = !quoted;
		if ((*p == ',' && !quoted) || *p == '\0') {
			rc = parse_pair(sec, item, (size_t)(p - item), r, err);
			item = p + 1;
		}
		if (*p == '\0')
			break;
	}
	return rc;
}

/* Applies r to names[0..n) (which point into the input schema or r). */
static int apply_renames(const pl_section *sec, const renames *r,
			 const char **names, size_t n, pl_error *err)
{
	const char **before = malloc((n + 1) * sizeof(*before));
	if (before == NULL)
		return pl_error_nomem(err, "a rename");
	memcpy(before, names, n * sizeof(*names));
	before[n] = NULL;
	int rc = 0;
	for (size_t i = 0; i < r->n && rc == 0; i++) {
		int c = index_of(before, n, r->from[i]);
		if (c < 0)
			rc = unknown(sec, "rename", r->from[i], before, err);
		else if (index_of((const char *const *)r->from, i,
				  r->from[i]) >= 0)
			rc = pl_section_error(sec, "rename", err,
					      "column '%s' is renamed twice",
					      r->from[i]);
		else
			names[c] = r->to[i];
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		if (index_of(names, i, names[i]) >= 0)
			rc = pl_section_error(sec, "rename", err,
					      "two columns would be named "
					      "'%s'",
					      names[i]);
	free(before);
	return rc;
}

static int build_output(const pl_section *sec, const pl_schema *in,
			const char *const *in_names, select_state *st,
			pl_schema *out, pl_error *err)
{
	renames r = {0};
	const char **names = malloc((st->n ? st->n : 1) * sizeof(*names));
	if (names == NULL)
		return pl_error_nomem(err, "select names");
	for (size_t i = 0; i < st->n; i++)
		names[i] = in_names[st->src[i]];
	const char *list = pl_section_get(sec, "rename", NULL);
	int rc = 0;
	if (list != NULL)
		rc = parse_renames(sec, list, &r, err);
	if (rc == 0 && list != NULL)
		rc = apply_renames(sec, &r, names, st->n, err);
	for (size_t i = 0; i < st->n && rc == 0; i++)
		rc = pl_schema_add(out, names[i], in->fields[st->src[i]].type,
				   err);
	renames_free(&r);
	free(names);
	return rc;
}

static int check_keys(const pl_section *sec, pl_error *err)
{
	int rc = pl_section_check_keys(sec, select_keys, err);
	if (rc != 0)
		return rc;
	if (pl_section_find(sec, "columns") && pl_section_find(sec, "drop"))
		return pl_section_error(sec, "drop", err,
					"takes columns or drop, not both");
	if (sec->n == 0)
		return pl_section_error(sec, NULL, err,
					"needs columns, drop or rename");
	return 0;
}

/* Every column the section names must still be there when init runs
 * again: the listed ones, the dropped ones and the renamed ones; a column
 * kept without being named is used when it is needed later. */
static void select_columns_used(const pl_operator *op, const pl_schema *in,
				const pl_schema *out, const uint8_t *out_used,
				uint8_t *in_used)
{
	const select_state *st = op->state;
	int listed = pl_section_find(op->section, "columns") != NULL;
	int dropping = pl_section_find(op->section, "drop") != NULL;
	for (size_t i = 0; i < in->n; i++)
		in_used[i] = dropping;
	for (size_t k = 0; k < st->n; k++) {
		size_t i = st->src[k];
		in_used[i] = listed || out_used[k] ||
			     strcmp(in->fields[i].name, out->fields[k].name);
	}
}

static int select_init(pl_operator *op, const pl_section *sec,
		       const pl_schema *in, pl_schema *out, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	select_state *st = pl_pool_calloc(pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "select state");
	op->state = st;
	op->columns_used = select_columns_used;
	int rc = check_keys(sec, err);
	if (rc != 0)
		return rc;
	const char **in_names = malloc((in->n + 1) * sizeof(*in_names));
	st->src = pl_pool_calloc(pool, in->n + 1, sizeof(*st->src));
	st->cols = pl_pool_calloc(pool, in->n + 1, sizeof(*st->cols));
	if (in_names == NULL || st->src == NULL || st->cols == NULL)
		rc = pl_error_nomem(err, "select state");
	for (size_t i = 0; i < in->n && rc == 0; i++)
		in_names[i] = in->fields[i].name;
	if (rc == 0) {
		in_names[in->n] = NULL;
		rc = pick(sec, in_names, in->n, st, err);
	}
	if (rc == 0)
		rc = build_output(sec, in, in_names, st, out, err);
	free(in_names);
	return rc;
}

static int select_process(pl_operator *op, const pl_batch *in,
			  const pl_emitter *emit, pl_error *err)
{
	select_state *st = op->state;
	if (in->nrows == 0)
		return 0;
	for (size_t i = 0; i < st->n; i++)
		st->cols[i] = in->cols[st->src[i]];
	pl_batch view = *in;
	view.cols = st->cols;
	view.ncols = st->n;
	return pl_emit(emit, &view, err);
}

static void select_destroy(pl_operator *op)
{
	select_state *st = op->state;
	if (st == NULL)
		return;
	pl_pool *pool = op->env->pool;
	pl_pool_free(pool, st->src);
	pl_pool_free(pool, st->cols);
	pl_pool_free(pool, st);
	op->state = NULL;
}

static void select_describe(const pl_operator *op, char *buf, size_t cap)
{
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; op->section && select_keys[i] && k < cap; i++) {
		const char *v =
		    pl_section_get(op->section, select_keys[i], NULL);
		if (v == NULL)
			continue;
		int w = snprintf(buf + k, cap - k, "%s%s: %s", k ? "; " : "",
				 select_keys[i], v);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

const pl_operator_def pl_op_select = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "select",
    .description = "keep, drop, reorder or rename columns",
    .kind = PL_OP_STREAMING,
    .init = select_init,
    .process = select_process,
    .destroy = select_destroy,
    .describe = select_describe,
};

/* [groupby]: hash aggregation.
 *
 * Each output line `NAME = EXPR` is parsed, and every aggregate call in it
 * (sum(v1 * 2), corr(x, y), ...) is replaced by a hidden column __aggN;
 * the calls' arguments are bound against the input, the rewritten
 * expression against the hidden columns. Per batch, the group table maps
 * the rows to dense group ids in one pass and each aggregate folds its
 * argument column into per-group state. finish computes the hidden
 * columns a chunk of groups at a time and evaluates the outputs over them.
 *
 * Partial state (op->partial_schema): the keys, a tag column __part, then
 * for aggregate J its state columns __aJ_* (see aggregates.c). A row whose
 * __part is 0 holds one group's complete state, with NULL in value
 * columns. median, quantile and count_distinct need their values: a row
 * whose __part is J + 1 carries values of aggregate J for its group, one
 * in column __aJ_v or several packed in __aJ_pack (pl_agg_export_values),
 * every other state column NULL. Merging is then exact for every
 * aggregate, and the rows may be split or reordered freely. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/aggregates.h"
#include "operators/group_table.h"
#include "pipeline/expr.h"
#include "pipeline/operator.h"

typedef struct gb_agg {
	pl_agg agg;
	pl_expr *arg[2];  /* bound against the input; NULL when absent */
	int col[2];	  /* input column when the argument is one, else -1 */
	size_t out;	  /* the output it belongs to, for messages */
	size_t first_col; /* its first column in the partial schema */
} gb_agg;

typedef struct gb_output {
	const pl_kv *kv;
	pl_expr *expr; /* over the hidden aggregate columns */
} gb_output;

typedef struct gb_state {
	pl_pool *pool;
	const pl_section *sec;
	int64_t now_us;
	size_t chunk;
	size_t nkeys;
	int *key_col;
	size_t *input_keys; /* key_col as the runtime wants it */
	const pl_column **key_ptr;
	pl_group_table table;
	gb_agg *aggs;
	size_t naggs, aggs_cap;
	gb_output *outs;
	size_t nouts;
	pl_schema hidden;
	pl_schema out;
	uint32_t *gid;
	size_t gid_cap;
	/* The input as aggregates see it: dictionary-encoded columns they
	 * read decoded into plain[] (keys read the dictionaries directly). */
	pl_batch view;
	pl_column *plain, *view_cols; /* nplain each */
	size_t nplain;
} gb_state;

/* Extraction callback context. */
typedef struct gb_ctx {
	gb_state *st;
	const pl_schema *in;
	size_t out;
	const pl_kv *kv;
} gb_ctx;

static int conf_error(const pl_section *sec, int line, pl_error *err,
		      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int conf_error(const pl_section *sec, int line, pl_error *err,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pl_error_set(err, PL_ERR_CONF, "%s:%d: [%s] %s", sec->file, line,
			    sec->name, msg);
}

static int suggest_names(const pl_schema *in, const char *word, char *buf,
			 size_t cap)
{
	const char **names = calloc(in->n + 1, sizeof(char *));
	if (names == NULL)
		return -1;
	for (size_t i = 0; i < in->n; i++)
		names[i] = in->fields[i].name;
	const char *s = pl_suggest(word, names);
	snprintf(buf, cap, s ? " (did you mean '%s'?)" : "", s);
	free(names);
	return 0;
}

static int add_key(gb_state *st, const pl_schema *in, const char *name,
		   pl_schema *out, pl_error *err)
{
	const pl_kv *kv = pl_section_find(st->sec, "keys");
	int c = pl_schema_find(in, name);
	if (c < 0) {
		char hint[300];
		if (suggest_names(in, name, hint, sizeof(hint)))
			return pl_error_nomem(err, "a suggestion");
		return conf_error(st->sec, kv->line, err,
				  "unknown column '%s' in keys%s", name, hint);
	}
	if (pl_schema_find(out, name) >= 0)
		return conf_error(st->sec, kv->line, err,
				  "key '%s' is listed twice", name);
	st->key_col[st->nkeys++] = c;
	return pl_schema_add(out, name, in->fields[c].type, err);
}

static int read_keys(gb_state *st, const pl_schema *in, pl_schema *out,
		     pl_error *err)
{
	const char *list = pl_section_get(st->sec, "keys", NULL);
	char **names = NULL;
	size_t n = 0;
	if (list == NULL)
		return 0;
	int rc = pl_split_names(list, &names, &n, err);
	if (rc)
		return rc;
	st->key_col = calloc(n ? n : 1, sizeof(int));
	st->key_ptr = calloc(n ? n : 1, sizeof(pl_column *));
	if (st->key_col == NULL || st->key_ptr == NULL)
		rc = pl_error_nomem(err, "group-by keys");
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = add_key(st, in, names[i], out, err);
	pl_names_free(names, n);
	return rc;
}

static gb_agg *new_agg(gb_state *st, pl_error *err)
{
	if (st->naggs == st->aggs_cap) {
		size_t n = st->aggs_cap ? st->aggs_cap * 2 : 8;
		gb_agg *p = realloc(st->aggs, n * sizeof(*p));
		if (p == NULL) {
			pl_error_nomem(err, "group-by aggregates");
			return NULL;
		}
		st->aggs = p;
		st->aggs_cap = n;
	}
	gb_agg *a = &st->aggs[st->naggs++];
	memset(a, 0, sizeof(*a));
	a->col[0] = a->col[1] = -1;
	return a;
}

static int bind_arg(gb_ctx *c, gb_agg *a, int k, pl_expr *const *args,
		    pl_type *type, pl_error *err)
{
	a->arg[k] = pl_expr_clone(args[k]);
	if (a->arg[k] == NULL)
		return pl_error_nomem(err, "an aggregate argument");
	int rc = pl_expr_bind(a->arg[k], c->in, type, err);
	const char *name = pl_expr_column_name(a->arg[k]);
	if (rc == 0 && name != NULL)
		a->col[k] = pl_schema_find(c->in, name);
	return rc;
}

static int check_quantile(gb_ctx *c, pl_expr *p_arg, double *p, pl_error *err)
{
	if (pl_expr_number(p_arg, p) && *p >= 0 && *p <= 1)
		return 0;
	return conf_error(c->st->sec, c->kv->line, err,
			  "%s: quantile's p must be a number from 0 to 1",
			  c->kv->key);
}

/* Sets up one aggregate call found in an output expression. */
static int on_agg(void *arg, const char *fname, pl_expr *const *args,
		  size_t nargs, char *name_out, size_t cap, pl_error *err)
{
	gb_ctx *c = arg;
	gb_state *st = c->st;
	pl_agg_kind kind;
	size_t want = 0;
	if (pl_agg_lookup(fname, nargs, &kind, &want))
		return conf_error(st->sec, c->kv->line, err,
				  "%s: %s() takes %zu argument%s, not %zu",
				  c->kv->key, fname, want, want == 1 ? "" : "s",
				  nargs);
	gb_agg *a = new_agg(st, err);
	if (a == NULL)
		return PL_ERR_NOMEM;
	a->out = c->out;
	pl_type tx = PL_INT64, ty = PL_FLOAT64, rt;
	double p = 0.5;
	int rc = nargs > 0 ? bind_arg(c, a, 0, args, &tx, err) : 0;
	if (rc == 0 && kind == PL_AGG_CORR)
		rc = bind_arg(c, a, 1, args, &ty, err);
	if (rc == 0 && kind == PL_AGG_QUANTILE)
		rc = check_quantile(c, args[1], &p, err);
	if (rc)
		return rc;
	pl_agg_init(&a->agg, kind, tx, p, st->pool);
	int bad_y = kind == PL_AGG_CORR && pl_agg_result_type(kind, ty, &rt);
	int bad_x = pl_agg_result_type(kind, tx, &rt) != 0;
	if (bad_x || bad_y)
		return conf_error(st->sec, c->kv->line, err,
				  "%s: %s() needs a number, not %s", c->kv->key,
				  fname, pl_type_name(bad_x ? tx : ty));
	snprintf(name_out, cap, "__agg%zu", st->naggs - 1);
	return pl_schema_add(&st->hidden, name_out, rt, err);
}

static int check_output_name(gb_state *st, const pl_kv *kv,
			     const pl_schema *out, pl_error *err)
{
	if (pl_schema_find(out, kv->key) < 0)
		return 0;
	int is_key = 0;
	for (size_t k = 0; k < st->nkeys; k++)
		is_key |= strcmp(out->fields[k].name, kv->key) == 0;
	return conf_error(st->sec, kv->line, err,
			  is_key ? "output '%s' has the name of a key"
				 : "output '%s' is defined twice",
			  kv->key);
}

static int add_output(gb_state *st, const pl_kv *kv, const pl_schema *in,
		      pl_schema *out, pl_error *err)
{
	int rc = check_output_name(st, kv, out, err);
	if (rc)
		return rc;
	gb_output *o = &st->outs[st->nouts++];
	o->kv = kv;
	pl_expr_where where = {st->sec->file, kv->line, st->sec->name,
			       st->now_us};
	rc = pl_expr_parse(kv->value, &where, &o->expr, err);
	if (rc)
		return rc;
	gb_ctx c = {st, in, st->nouts - 1, kv};
	size_t before = st->naggs;
	rc = pl_expr_extract_aggs(o->expr, pl_agg_names, on_agg, &c, err);
	if (rc)
		return rc;
	if (st->naggs == before)
		return conf_error(st->sec, kv->line, err,
				  "%s = %s uses no aggregate such as sum(x)",
				  kv->key, kv->value);
	pl_type t;
	rc = pl_expr_bind(o->expr, &st->hidden, &t, err);
	return rc ? rc : pl_schema_add(out, kv->key, t, err);
}

static int read_outputs(gb_state *st, const pl_schema *in, pl_schema *out,
			pl_error *err)
{
	st->outs = calloc(st->sec->n ? st->sec->n : 1, sizeof(gb_output));
	if (st->outs == NULL)
		return pl_error_nomem(err, "group-by outputs");
	for (size_t i = 0; i < st->sec->n; i++) {
		const pl_kv *kv = &st->sec->kv[i];
		if (strcmp(kv->key, "keys") == 0)
			continue;
		int rc = add_output(st, kv, in, out, err);
		if (rc)
			return rc;
	}
	if (st->nouts == 0)
		return pl_section_error(st->sec, NULL, err,
					"needs at least one NAME = AGGREGATE, "
					"such as n = count()");
	return 0;
}

/* Input rows may go straight to their key's owner (operator.h) unless an
 * aggregate depends on the order rows arrive in. */
static int offer_input_keys(pl_operator *op, gb_state *st, pl_error *err)
{
	for (size_t j = 0; j < st->naggs; j++)
		if (st->aggs[j].agg.kind == PL_AGG_FIRST ||
		    st->aggs[j].agg.kind == PL_AGG_LAST)
			return 0;
	if (st->nkeys == 0)
		return 0;
	st->input_keys = calloc(st->nkeys, sizeof(size_t));
	if (st->input_keys == NULL)
		return pl_error_nomem(err, "group-by keys");
	for (size_t k = 0; k < st->nkeys; k++)
		st->input_keys[k] = (size_t)st->key_col[k];
	op->input_keys = st->input_keys;
	return 0;
}

/* Groups plus value rows: what partial would emit. */
static void count_state_rows(pl_operator *op, const gb_state *st)
{
	size_t ng = st->table.ngroups;
	uint64_t n = ng;
	for (size_t j = 0; j < st->naggs; j++)
		n += pl_agg_value_rows(&st->aggs[j].agg, ng);
	op->state_rows = n;
}

static int make_partial_schema(gb_state *st, const pl_schema *out,
			       pl_schema *ps, pl_error *err)
{
	for (size_t k = 0; k < st->nkeys; k++) {
		int rc = pl_schema_add(ps, out->fields[k].name,
				       out->fields[k].type, err);
		if (rc)
			return rc;
	}
	int rc = pl_schema_add(ps, "__part", PL_INT64, err);
	for (size_t j = 0; rc == 0 && j < st->naggs; j++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "__a%zu", j);
		st->aggs[j].first_col = ps->n;
		rc = pl_agg_partial_schema(&st->aggs[j].agg, prefix, ps, err);
	}
	return rc;
}

/* The keys and what the aggregates' arguments read. */
static void gb_columns_used(const pl_operator *op, const pl_schema *in,
			    const pl_schema *out, const uint8_t *out_used,
			    uint8_t *in_used)
{
	const gb_state *st = op->state;
	(void)out;
	(void)out_used;
	for (size_t k = 0; k < st->nkeys; k++)
		in_used[st->key_col[k]] = 1;
	for (size_t a = 0; a < st->naggs; a++)
		for (int k = 0; k < 2; k++) {
			pl_expr_mark_columns(st->aggs[a].arg[k], in_used,
					     in->n);
			if (st->aggs[a].col[k] >= 0)
				in_used[st->aggs[a].col[k]] = 1;
		}
}

static int gb_init(pl_operator *op, const pl_section *sec, const pl_schema *in,
		   pl_schema *out, pl_error *err)
{
	gb_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "group-by state");
	op->state = st;
	op->columns_used = gb_columns_used;
	st->pool = op->env->pool;
	st->sec = sec;
	st->now_us = op->env->now_us;
	st->chunk = op->env->chunk_rows ? op->env->chunk_rows : 65536;
	pl_schema_init(&st->hidden);
	pl_schema_init(&st->out);
	int rc = read_keys(st, in, out, err);
	if (rc == 0)
		rc = read_outputs(st, in, out, err);
	if (rc == 0)
		rc = make_partial_schema(st, out, &op->partial_schema, err);
	op->partition_keys = st->nkeys;
	if (rc == 0)
		rc = pl_schema_copy(&st->out, out, err);
	pl_type types[256];
	if (rc == 0 && st->nkeys > sizeof(types) / sizeof(types[0]))
		rc = pl_section_error(sec, "keys", err, "too many keys");
	for (size_t k = 0; rc == 0 && k < st->nkeys; k++)
		types[k] = out->fields[k].type;
	if (rc == 0)
		rc = pl_group_table_init(&st->table, types, st->nkeys, st->pool,
					 err);
	if (rc == 0)
		rc = pl_group_table_intern(&st->table, err);
	if (rc == 0)
		rc = offer_input_keys(op, st, err);
	op->dict_input = 1;
	return rc;
}

static int reserve_gids(gb_state *st, size_t n, pl_error *err)
{
	if (n <= st->gid_cap)
		return 0;
	uint32_t *p = pl_pool_realloc(st->pool, st->gid, n * sizeof(uint32_t));
	if (p == NULL)
		return pl_error_nomem(err, "group ids");
	st->gid = p;
	st->gid_cap = n;
	return 0;
}

/* Maps the key columns of b (the first nkeys, or those named by key_col)
 * to group ids and makes room in every aggregate. */
static int map_rows(gb_state *st, const pl_batch *b, int by_schema,
		    pl_error *err)
{
	int rc = reserve_gids(st, b->nrows, err);
	for (size_t k = 0; k < st->nkeys; k++)
		st->key_ptr[k] =
		    &b->cols[by_schema ? (size_t)st->key_col[k] : k];
	if (rc == 0)
		rc = pl_group_table_map(&st->table, st->key_ptr, b->nrows,
					st->gid, err);
	for (size_t j = 0; rc == 0 && j < st->naggs; j++)
		rc = pl_agg_reserve(&st->aggs[j].agg, st->table.ngroups, err);
	return rc;
}

static int overflow_error(gb_state *st, const gb_agg *a, pl_error *err)
{
	char key[512] = "", val[128];
	size_t len = 0;
	for (size_t k = 0; k < st->nkeys && len < sizeof(key); k++) {
		pl_group_table_format_key(&st->table, k, a->agg.bad_group, val,
					  sizeof(val));
		len += (size_t)snprintf(key + len, sizeof(key) - len, "%s%s=%s",
					k ? ", " : " for ",
					st->out.fields[k].name, val);
	}
	const pl_kv *kv = st->outs[a->out].kv;
	return pl_error_set(
	    err, PL_ERR_DATA, "%s:%d: [%s] %s = %s: int64 overflow in sum%s",
	    st->sec->file, kv->line, st->sec->name, kv->key, kv->value, key);
}

static int eval_arg(gb_state *st, gb_agg *a, int k, const pl_batch *in,
		    const pl_column **out, pl_error *err)
{
	*out = NULL;
	if (a->arg[k] == NULL)
		return 0;
	if (a->col[k] >= 0) {
		*out = &in->cols[a->col[k]];
		return 0;
	}
	return pl_expr_eval(a->arg[k], in, st->pool, out, err);
}

/* Whether an aggregate may read input column c (an expression may read
 * any). */
static int agg_reads(const gb_state *st, size_t c)
{
	for (size_t j = 0; j < st->naggs; j++)
		for (int k = 0; k < 2; k++)
			if (st->aggs[j].col[k] == (int)c ||
			    (st->aggs[j].col[k] < 0 && st->aggs[j].arg[k]))
				return 1;
	return 0;
}

/* in as the aggregates may read it: a shallow copy in which the
 * dictionary-encoded columns they read are decoded. */
static int plain_view(gb_state *st, const pl_batch *in, const pl_batch **view,
		      pl_error *err)
{
	*view = in;
	for (size_t c = 0; c < in->ncols; c++) {
		const pl_column *col = &in->cols[c];
		if (col->dict == NULL || !agg_reads(st, c))
			continue;
		if (st->plain == NULL) {
			st->plain = calloc(in->ncols, sizeof(*st->plain));
			st->view_cols = calloc(in->ncols, sizeof(pl_column));
			if (st->plain == NULL || st->view_cols == NULL)
				return pl_error_nomem(err, "a decoded column");
			st->nplain = in->ncols;
		}
		pl_column *p = &st->plain[c];
		if (p->data == NULL &&
		    pl_column_init(p, PL_STRING, 0, 0, st->pool, err) != 0)
			return PL_ERR_NOMEM;
		p->len = p->arena_len = 0;
		pl_pool_free(st->pool, p->valid);
		p->valid = NULL;
		if (pl_column_append_range(p, col, 0, in->nrows, st->pool,
					   err) != 0)
			return PL_ERR_NOMEM;
		if (*view == in) {
			st->view = *in;
			st->view.cols = memcpy(st->view_cols, in->cols,
					       in->ncols * sizeof(pl_column));
			*view = &st->view;
		}
		st->view_cols[c] = *p;
	}
	return 0;
}

static int gb_process(pl_operator *op, const pl_batch *in,
		      const pl_emitter *out, pl_error *err)
{
	gb_state *st = op->state;
	(void)out;
	if (in->nrows == 0)
		return 0;
	const pl_batch *keys_in = in;
	int rc = plain_view(st, in, &in, err);
	if (rc == 0)
		rc = map_rows(st, keys_in, 1, err);
	for (size_t j = 0; rc == 0 && j < st->naggs; j++) {
		gb_agg *a = &st->aggs[j];
		const pl_column *x, *y;
		rc = eval_arg(st, a, 0, in, &x, err);
		if (rc == 0)
			rc = eval_arg(st, a, 1, in, &y, err);
		if (rc == 0)
			rc = pl_agg_update(&a->agg, st->gid, in->nrows, x, y,
					   err);
		if (rc == PL_ERR_DATA && err->code == 0)
			rc = overflow_error(st, a, err);
	}
	count_state_rows(op, st);
	return rc;
}

static int fill_hidden(gb_state *st, size_t g0, size_t n, pl_batch *h,
		       pl_error *err)
{
	for (size_t j = 0; j < st->naggs; j++) {
		int rc =
		    pl_agg_final(&st->aggs[j].agg, g0, n, &h->cols[j], err);
		if (rc)
			return rc;
	}
	h->nrows = n;
	return 0;
}

static int fill_output(gb_state *st, size_t g0, size_t n, pl_batch *h,
		       pl_batch *o, pl_error *err)
{
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < st->nkeys; k++)
		rc = pl_group_table_append_keys(&st->table, k, g0, NULL, n,
						&o->cols[k], err);
	for (size_t i = 0; rc == 0 && i < st->nouts; i++) {
		const pl_column *c;
		rc = pl_expr_eval(st->outs[i].expr, h, st->pool, &c, err);
		if (rc == 0)
			rc = pl_column_append_range(&o->cols[st->nkeys + i], c,
						    0, n, st->pool, err);
	}
	o->nrows = n;
	return rc;
}

static int emit_groups(gb_state *st, size_t g0, size_t n, const pl_emitter *out,
		       pl_error *err)
{
	pl_batch *h = pl_batch_new(&st->hidden, n, st->pool, err);
	pl_batch *o = h ? pl_batch_new(&st->out, n, st->pool, err) : NULL;
	int rc = o ? fill_hidden(st, g0, n, h, err) : PL_ERR_NOMEM;
	if (rc == 0)
		rc = fill_output(st, g0, n, h, o, err);
	if (rc == 0)
		rc = pl_emit(out, o, err);
	pl_batch_free(h, st->pool);
	pl_batch_free(o, st->pool);
	return rc;
}

static int gb_finish(pl_operator *op, const pl_emitter *out, pl_error *err)
{
	gb_state *st = op->state;
	size_t ng = st->table.ngroups;
	int rc = 0;
	for (size_t j = 0; rc == 0 && j < st->naggs; j++)
		rc = pl_agg_reserve(&st->aggs[j].agg, ng, err);
	for (size_t j = 0; rc == 0 && j < st->naggs; j++)
		rc = pl_agg_prepare(&st->aggs[j].agg, ng, err);
	for (size_t g0 = 0; rc == 0 && g0 < ng; g0 += st->chunk) {
		size_t n = ng - g0 < st->chunk ? ng - g0 : st->chunk;
		rc = emit_groups(st, g0, n, out, err);
	}
	return rc == PL_STOP ? 0 : rc;
}

static int fill_tag(pl_column *c, size_t n, int64_t tag, pl_pool *pool,
		    pl_error *err)
{
	int rc = pl_column_reserve(c, c->len + n, pool, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		pl_col_i64(c)[c->len++] = tag;
	return rc;
}

static int emit_state_rows(pl_operator *op, size_t g0, size_t n,
			   const pl_emitter *out, pl_error *err)
{
	gb_state *st = op->state;
	pl_batch *b = pl_batch_new(&op->partial_schema, n, st->pool, err);
	int rc = b ? 0 : PL_ERR_NOMEM;
	for (size_t k = 0; rc == 0 && k < st->nkeys; k++)
		rc = pl_group_table_append_keys(&st->table, k, g0, NULL, n,
						&b->cols[k], err);
	if (rc == 0)
		rc = fill_tag(&b->cols[st->nkeys], n, 0, st->pool, err);
	for (size_t j = 0; rc == 0 && j < st->naggs; j++)
		rc = pl_agg_export(&st->aggs[j].agg, g0, n,
				   &b->cols[st->aggs[j].first_col], err);
	if (rc == 0) {
		b->nrows = n;
		rc = pl_emit(out, b, err);
	}
	pl_batch_free(b, st->pool);
	return rc;
}

/* The next batch of aggregate j's value rows (cursor c); *done when
 * there were none left. */
static int emit_value_rows(pl_operator *op, size_t j, pl_agg_cursor *c,
			   int *done, const pl_emitter *out, pl_error *err)
{
	gb_state *st = op->state;
	pl_agg *a = &st->aggs[j].agg;
	size_t n = 0, first = st->aggs[j].first_col;
	pl_batch *b =
	    pl_batch_new(&op->partial_schema, st->chunk, st->pool, err);
	int rc = b ? reserve_gids(st, st->chunk, err) : PL_ERR_NOMEM;
	if (rc == 0)
		rc = pl_agg_export_values(a, st->table.ngroups, c, st->chunk,
					  st->gid, &n, &b->cols[first], err);
	*done = rc == 0 && n == 0;
	for (size_t k = 0; rc == 0 && k < st->nkeys; k++)
		rc = pl_group_table_append_keys(&st->table, k, 0, st->gid, n,
						&b->cols[k], err);
	if (rc == 0)
		rc = fill_tag(&b->cols[st->nkeys], n, (int64_t)j + 1, st->pool,
			      err);
	size_t ncols = pl_agg_partial_ncols(a);
	for (size_t col = st->nkeys + 1; rc == 0 && col < b->ncols; col++)
		if (col < first || col >= first + ncols)
			rc = pl_agg_append_nulls(&b->cols[col], n, st->pool,
						 err);
	if (rc == 0 && !*done) {
		b->nrows = n;
		rc = pl_emit(out, b, err);
	}
	pl_batch_free(b, st->pool);
	return rc;
}

static int gb_partial(pl_operator *op, const pl_emitter *out, pl_error *err)
{
	gb_state *st = op->state;
	size_t ng = st->table.ngroups;
	int rc = 0;
	for (size_t j = 0; rc == 0 && j < st->naggs; j++)
		rc = pl_agg_reserve(&st->aggs[j].agg, ng, err);
	for (size_t g0 = 0; rc == 0 && g0 < ng; g0 += st->chunk) {
		size_t n = ng - g0 < st->chunk ? ng - g0 : st->chunk;
		rc = emit_state_rows(op, g0, n, out, err);
	}
	for (size_t j = 0; rc == 0 && j < st->naggs; j++) {
		pl_agg_cursor c = {.consume = op->last_partial};
		int done = !pl_agg_has_values(&st->aggs[j].agg);
		while (rc == 0 && !done)
			rc = emit_value_rows(op, j, &c, &done, out, err);
		pl_agg_cursor_free(&st->aggs[j].agg, &c);
	}
	return rc == PL_STOP ? 0 : rc;
}

static int gb_merge(pl_operator *op, const pl_batch *partial, pl_error *err)
{
	gb_state *st = op->state;
	if (partial->nrows == 0)
		return 0;
	int rc = map_rows(st, partial, 0, err);
	const int64_t *tag = pl_col_i64(&partial->cols[st->nkeys]);
	for (size_t j = 0; rc == 0 && j < st->naggs; j++) {
		gb_agg *a = &st->aggs[j];
		rc = pl_agg_merge(&a->agg, st->gid, tag, (int64_t)j + 1,
				  partial->nrows, &partial->cols[a->first_col],
				  err);
		if (rc == PL_ERR_DATA && err->code == 0)
			rc = overflow_error(st, a, err);
	}
	count_state_rows(op, st);
	return rc;
}

static void gb_destroy(pl_operator *op)
{
	gb_state *st = op->state;
	pl_schema_free(&op->partial_schema);
	if (st == NULL)
		return;
	for (size_t j = 0; j < st->naggs; j++) {
		pl_agg_free(&st->aggs[j].agg);
		pl_expr_free(st->aggs[j].arg[0], st->pool);
		pl_expr_free(st->aggs[j].arg[1], st->pool);
	}
	for (size_t i = 0; i < st->nouts; i++)
		pl_expr_free(st->outs[i].expr, st->pool);
	pl_group_table_free(&st->table);
	pl_pool_free(st->pool, st->gid);
	for (size_t c = 0; c < st->nplain; c++)
		pl_column_free(&st->plain[c], st->pool);
	free(st->plain);
	free(st->view_cols);
	pl_schema_free(&st->hidden);
	pl_schema_free(&st->out);
	free(st->aggs);
	free(st->outs);
	free(st->key_col);
	free(st->input_keys);
	free(st->key_ptr);
	free(st);
	op->state = NULL;
}

static void gb_describe(const pl_operator *op, char *buf, size_t cap)
{
	const gb_state *st = op->state;
	const char *keys = pl_section_get(st->sec, "keys", NULL);
	snprintf(buf, cap, "keys: %s; %zu output%s, %zu aggregate%s",
		 keys ? keys : "(none)", st->nouts, st->nouts == 1 ? "" : "s",
		 st->naggs, st->naggs == 1 ? "" : "s");
}

const pl_operator_def pl_op_groupby = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "groupby",
    .description = "aggregates rows by keys: count, sum, mean, min, max, "
		   "var, sd, median, quantile, count_distinct, first, "
		   "last, corr",
    .kind = PL_OP_BLOCKING,
    .init = gb_init,
    .process = gb_process,
    .finish = gb_finish,
    .destroy = gb_destroy,
    .partial = gb_partial,
    .merge = gb_merge,
    .describe = gb_describe,
};

/* [groupby]: every aggregate over several batches with NULLs, keys of each
 * type, no keys, aggregate expressions, errors with their lines, partial
 * state and merge, growth to many groups, fault injection. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "op_testkit.h"
#include "operators/aggregates.h"
#include "pipeline/operator.h"

extern const pl_operator_def pl_op_groupby;

#define MAX_KV 24

typedef struct run {
	pl_pool *pool;
	pl_op_env env;
	pl_operator op;
	pl_schema out;
	pl_error err;
	pl_section sec;
	pl_kv kv[MAX_KV];
} run;

/* Emitted rows as "v1|v2|..." strings. */
typedef struct collector {
	char **rows;
	size_t n, cap;
	size_t batches, max_rows;
} collector;

static void fmt_value(const pl_column *c, size_t i, char *buf, size_t cap)
{
	if (pl_column_is_null(c, i))
		snprintf(buf, cap, "NULL");
	else if (c->type == PL_FLOAT64)
		snprintf(buf, cap, "%.10g", pl_col_f64(c)[i]);
	else
		pl_column_format(c, i, buf, cap);
}

static int collect(void *arg, pl_batch *b, pl_error *err)
{
	collector *c = arg;
	(void)err;
	c->batches++;
	if (b->nrows > c->max_rows)
		c->max_rows = b->nrows;
	for (size_t i = 0; i < b->nrows; i++) {
		char row[1024] = "", v[256];
		for (size_t k = 0; k < b->ncols; k++) {
			CU_ASSERT_EQUAL(b->cols[k].len, b->nrows);
			fmt_value(&b->cols[k], i, v, sizeof(v));
			strcat(row, k ? "|" : "");
			strcat(row, v);
		}
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 16;
			c->rows = realloc(c->rows, c->cap * sizeof(char *));
		}
		c->rows[c->n++] = strdup(row);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks the rows, in any order, against want (NULL-terminated). */
static void expect_rows(collector *c, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	CU_ASSERT_EQUAL_FATAL(c->n, n);
	if (n == 0)
		return;
	const char **w = malloc(n * sizeof(char *));
	memcpy(w, want, n * sizeof(char *));
	qsort(w, n, sizeof(char *), cmp_str);
	qsort(c->rows, c->n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c->rows[i], w[i]) != 0)
			fprintf(stderr, "\n  got  %s\n  want %s\n", c->rows[i],
				w[i]);
		CU_ASSERT_STRING_EQUAL(c->rows[i], w[i]);
	}
	free(w);
}

static void collector_free(collector *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->rows[i]);
	free(c->rows);
	memset(c, 0, sizeof(*c));
}

/* kv holds "key", "value" pairs (NULL-terminated), one a line from 2. */
static int start_failing(run *r, const char *const *kv, const pl_schema *in,
			 size_t chunk, uint64_t fail)
{
	memset(r, 0, sizeof(*r));
	r->pool = pl_pool_create(1 << 20);
	pl_pool_fail_after(r->pool, fail, 1);
	r->env = (pl_op_env){r->pool, 0, 1, SIZE_MAX, chunk, NULL,
			     "t",     1, 0, 0,	      NULL};
	size_t n = 0;
	for (; kv[2 * n] && n < MAX_KV; n++)
		r->kv[n] = (pl_kv){(char *)kv[2 * n], (char *)kv[2 * n + 1],
				   (int)n + 2};
	r->sec = (pl_section){"groupby", 1, 1, "job.conf", "/", n, r->kv};
	r->op.def = &pl_op_groupby;
	r->op.env = &r->env;
	r->op.section = &r->sec;
	pl_schema_init(&r->out);
	pl_schema_init(&r->op.partial_schema);
	pl_error_clear(&r->err);
	return pl_op_groupby.init(&r->op, &r->sec, in, &r->out, &r->err);
}

static int start(run *r, const char *const *kv, const pl_schema *in,
		 size_t chunk)
{
	return start_failing(r, kv, in, chunk, 0);
}

static void end(run *r)
{
	pl_op_groupby.destroy(&r->op);
	pl_schema_free(&r->op.partial_schema);
	CU_ASSERT_EQUAL(pl_pool_get_stats(r->pool).bytes_out, 0);
	pl_schema_free(&r->out);
	pl_pool_destroy(r->pool);
}

/* "name:type,name:type" */
static void mk_schema(pl_schema *s, const char *spec)
{
	char buf[256], *save = NULL;
	pl_error err;
	pl_schema_init(s);
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *f = strtok_r(buf, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(f, ':');
		pl_type t;
		*colon = 0;
		CU_ASSERT_FATAL(pl_type_parse(colon + 1, &t) == 0);
		CU_ASSERT_FATAL(pl_schema_add(s, f, t, &err) == 0);
	}
}

static void push_field(pl_column *c, const char *f, size_t len, pl_pool *p)
{
	pl_error err;
	char v[128];
	snprintf(v, sizeof(v), "%.*s", (int)len, f);
	if (len == 0) {
		pl_column_push_null(c, p, &err);
		return;
	}
	switch (c->type) {
	case PL_INT64:
		pl_column_push_i64(c, strtoll(v, NULL, 10), p, &err);
		break;
	case PL_FLOAT64:
		pl_column_push_f64(c, strtod(v, NULL), p, &err);
		break;
	case PL_BOOL:
		pl_column_push_bool(c, strcmp(v, "true") == 0, p, &err);
		break;
	default:
		pl_column_push_str(c, f, len, p, &err);
	}
}

/* Rows as "f1,f2,..." with an empty field for NULL (NULL-terminated). */
static pl_batch *mk_batch(const pl_schema *s, const char *const *rows,
			  pl_pool *pool)
{
	pl_error err;
	pl_batch *b = pl_batch_new(s, 4, pool, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (size_t r = 0; rows[r]; r++) {
		const char *p = rows[r];
		for (size_t k = 0; k < s->n; k++) {
			size_t len = strcspn(p, ",");
			push_field(&b->cols[k], p, len, pool);
			p += len + (p[len] == ',');
		}
	}
	pl_batch_sync_rows(b);
	return b;
}

/* Feeds each NULL-terminated group of rows as one batch; the list of
 * batches ends with NULL too. With use_dict set (the test's own global),
 * string columns come dictionary-encoded, as the CSV reader gives them. */
static int use_dict;

static int feed(run *r, const pl_schema *s, const char *const *const *batches)
{
	pl_emitter none = {collect, NULL};
	pl_pool *pool = pl_pool_create(1 << 20);
	int rc = 0;
	for (size_t i = 0; rc == 0 && batches[i]; i++) {
		pl_batch *b = mk_batch(s, batches[i], pool);
		for (size_t k = 0; use_dict && k < b->ncols; k++)
			if (b->cols[k].type == PL_STRING)
				CU_ASSERT_FATAL(
				    kit_encode_dict(&b->cols[k], pool) == 0);
		rc = pl_op_groupby.process(&r->op, b, &none, &r->err);
		pl_batch_free(b, pool);
	}
	pl_pool_destroy(pool);
	return rc;
}

static int finish(run *r, collector *c)
{
	pl_emitter e = {collect, c};
	return pl_op_groupby.finish(&r->op, &e, &r->err);
}

/* Runs a whole job: init, the batches, finish; checks rows and frees. */
static void check_job(const char *const *kv, const char *spec,
		      const char *const *const *batches,
		      const char *const *want)
{
	pl_schema in;
	run r;
	collector c = {0};
	mk_schema(&in, spec);
	int rc = start(&r, kv, &in, 1000);
	if (rc)
		fprintf(stderr, "\n  %s\n", r.err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(feed(&r, &in, batches), 0);
	CU_ASSERT_EQUAL(finish(&r, &c), 0);
	expect_rows(&c, want);
	collector_free(&c);
	end(&r);
	pl_schema_free(&in);
}

/* Runs init alone and expects a failure whose message holds each of
 * the NULL-terminated strings in want. */
static void check_init_error(const char *const *kv, const char *spec, int code,
			     const char *const *want)
{
	pl_schema in;
	run r;
	mk_schema(&in, spec);
	CU_ASSERT_EQUAL(start(&r, kv, &in, 1000), code);
	for (size_t i = 0; want[i]; i++) {
		if (strstr(r.err.msg, want[i]) == NULL)
			fprintf(stderr, "\n  '%s' lacks '%s'\n", r.err.msg,
				want[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, want[i]));
	}
	end(&r);
	pl_schema_free(&in);
}

static const char *const b_gv1[] = {"a,1", "b,", "a,3", "c,", NULL};
static const char *const b_gv2[] = {"b,5", "a,", "a,4", NULL};
static const char *const *const gv_batches[] = {b_gv1, b_gv2, NULL};

static void test_count_sum_mean(void)
{
	const char *kv[] = {"keys", "g",      "n", "count()", "c", "count(v)",
			    "s",    "sum(v)", "m", "mean(v)", NULL};
	const char *want[] = {"a|4|3|8|2.666666667", "b|2|1|5|5",
			      "c|1|0|NULL|NULL", NULL};
	check_job(kv, "g:string,v:int64", gv_batches, want);
}

static void test_sum_float(void)
{
	const char *kv[] = {"keys", "g", "s", "sum(v)", NULL};
	const char *b1[] = {"a,1.5", "b,", "a,2.25", NULL};
	const char *const *bs[] = {b1, NULL};
	const char *want[] = {"a|3.75", "b|NULL", NULL};
	check_job(kv, "g:string,v:float64", bs, want);
}

static void test_min_max_types(void)
{
	const char *kv[] = {"keys",   "g",	"lo",	  "min(i)", "hi",
			    "max(i)", "flo",	"min(f)", "fhi",    "max(f)",
			    "slo",    "min(s)", "shi",	  "max(s)", "blo",
			    "min(b)", "bhi",	"max(b)", NULL};
	const char *b1[] = {"a,3,1.5,pear,true", "a,,,,", "b,,,,", NULL};
	const char *b2[] = {"a,-2,-0.5,apple,false", "a,7,9.5,zoo,true", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"a|-2|7|-0.5|9.5|apple|zoo|false|true",
			      "b|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
			      NULL};
	check_job(kv, "g:string,i:int64,f:float64,s:string,b:bool", bs, want);
}

/* a: 1, 2, 3, 4 -> mean 2.5, M2 5, var 5/3; b: one value; c: none. */
static void test_var_sd(void)
{
	const char *kv[] = {"keys", "g", "v", "var(x)", "s", "sd(x)", NULL};
	const char *b1[] = {"a,1", "b,7", "a,2", "c,", NULL};
	const char *b2[] = {"a,3", "a,", "a,4", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"a|1.666666667|1.290994449", "b|NULL|NULL",
			      "c|NULL|NULL", NULL};
	check_job(kv, "g:string,x:int64", bs, want);
}

static void test_median_quantile(void)
{
	const char *kv[] = {"keys", "g",
			    "med",  "median(x)",
			    "q25",  "quantile(x, 0.25)",
			    "q0",   "quantile(x, 0)",
			    "q1",   "quantile(x, 1)",
			    NULL};
	const char *b1[] = {"a,4", "b,10", "a,2", "c,", NULL};
	const char *b2[] = {"a,3", "a,", "a,1", "b,20", "b,0", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"a|2.5|1.75|1|4", "b|10|5|0|20",
			      "c|NULL|NULL|NULL|NULL", NULL};
	check_job(kv, "g:string,x:int64", bs, want);
}

static void test_median_float(void)
{
	const char *kv[] = {"m", "median(x)", "q", "quantile(x, 0.9)", NULL};
	const char *b1[] = {"0.5", "", "2.5", "1.5", NULL};
	const char *const *bs[] = {b1, NULL};
	/* k = 2 * 0.9 = 1.8: 1.5 + 0.8 * (2.5 - 1.5) */
	const char *want[] = {"1.5|2.3", NULL};
	check_job(kv, "x:float64", bs, want);
}

static void test_count_distinct(void)
{
	const char *kv[] = {"keys", "g",
			    "ni",   "count_distinct(i)",
			    "ns",   "count_distinct(s)",
			    "nb",   "count_distinct(b)",
			    NULL};
	const char *b1[] = {"a,1,x,true", "a,1,y,true", "a,,,", "b,,,", NULL};
	const char *b2[] = {"a,2,x,true", "a,1,,", "b,5,z,false", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"a|2|2|1", "b|1|1|1", NULL};
	check_job(kv, "g:string,i:int64,s:string,b:bool", bs, want);
}

static void test_first_last(void)
{
	const char *kv[] = {"keys", "g",       "f",  "first(v)",
			    "l",    "last(v)", "fs", "first(s)",
			    "ls",   "last(s)", NULL};
	const char *b1[] = {"a,,x", "b,2,", "a,5,y", NULL};
	const char *b2[] = {"a,6,", "b,3,q", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"a|NULL|6|x|NULL", "b|2|3|NULL|q", NULL};
	check_job(kv, "g:string,v:int64,s:string", bs, want);
}

static void test_corr(void)
{
	const char *kv[] = {"keys", "g", "r", "corr(x, y)", NULL};
	/* a: y = 2x (r 1) with a NULL pair skipped; b: y = -x; c: y is
	 * constant; d: one pair. */
	const char *b1[] = {"a,1,2", "a,2,", "b,1,-1", "c,1,5", "d,1,1", NULL};
	const char *b2[] = {"a,2,4", "a,3,6",  "b,2,-2",
			    "c,2,5", "b,4,-4", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"a|1", "b|-1", "c|NULL", "d|NULL", NULL};
	check_job(kv, "g:string,x:int64,y:float64", bs, want);
}

static void test_corr_values(void)
{
	/* x 1 2 3 4, y 1 3 2 4: sxy 4, sxx = syy = 5 -> r 0.8. */
	const char *kv[] = {"r", "corr(x, y)", "r2", "corr(x, y)^2", NULL};
	const char *b1[] = {"1,1", "2,3", NULL};
	const char *b2[] = {"3,2", "4,4", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"0.8|0.64", NULL};
	check_job(kv, "x:int64,y:int64", bs, want);
}

static void test_no_keys(void)
{
	const char *kv[] = {"n", "count()", "s", "sum(v)", NULL};
	const char *want[] = {"7|13", NULL};
	check_job(kv, "g:string,v:int64", gv_batches, want);
}

static void test_no_keys_empty(void)
{
	const char *kv[] = {"n", "count()",	      "s", "sum(v)",
			    "m", "median(v)",	      "f", "first(v)",
			    "d", "count_distinct(v)", NULL};
	const char *const *bs[] = {NULL};
	const char *want[] = {"0|NULL|NULL|NULL|0", NULL};
	check_job(kv, "v:int64", bs, want);
}

static void test_keys_empty_input(void)
{
	const char *kv[] = {"keys", "g", "n", "count()", NULL};
	const char *empty[] = {NULL};
	const char *const *bs[] = {empty, NULL};
	const char *want[] = {NULL};
	check_job(kv, "g:string,v:int64", bs, want);
}

static void test_key_types(void)
{
	const char *kv[] = {"keys", "b, f, i", "n", "count()", NULL};
	const char *b1[] = {"true,1.5,1", ",,", "false,1.5,1", "true,1.5,1",
			    NULL};
	const char *b2[] = {",,", "true,-0.0,1", "true,0,1", "true,1.5,", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"true|1.5|1|2",	 "NULL|NULL|NULL|2",
			      "false|1.5|1|1",	 "true|-0|1|2",
			      "true|1.5|NULL|1", NULL};
	check_job(kv, "b:bool,f:float64,i:int64", bs, want);
}

static void test_string_keys(void)
{
	const char *kv[] = {"keys", "s, t", "n", "count()", NULL};
	const char *b1[] = {"ab,c", "a,bc",	      "ab,c",
			    ",",    "a longer key,x", NULL};
	const char *b2[] = {",", "a longer key,x", ",c", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"ab|c|2",		  "a|bc|1",   "NULL|NULL|2",
			      "a longer key|x|2", "NULL|c|1", NULL};
	check_job(kv, "s:string,t:string", bs, want);
}

static void test_expressions(void)
{
	const char *kv[] = {"keys", "g",
			    "r",    "max(v) - min(w)",
			    "avg",  "sum(v) / count()",
			    "s2",   "sum(v * 2)",
			    "mix",  "count() + 1",
			    NULL};
	const char *b1[] = {"a,1,10", "a,5,", "b,2,1", NULL};
	const char *b2[] = {"a,3,-1", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	const char *want[] = {"a|6|3|18|4", "b|1|2|4|2", NULL};
	check_job(kv, "g:string,v:int64,w:int64", bs, want);
}

static void test_output_order(void)
{
	pl_schema in;
	run r;
	mk_schema(&in, "g:string,v:float64");
	const char *kv[] = {"keys", "g", "z", "sum(v)", "a", "count()", NULL};
	CU_ASSERT_EQUAL_FATAL(start(&r, kv, &in, 10), 0);
	CU_ASSERT_EQUAL(r.out.n, 3);
	CU_ASSERT_STRING_EQUAL(r.out.fields[0].name, "g");
	CU_ASSERT_STRING_EQUAL(r.out.fields[1].name, "z");
	CU_ASSERT_EQUAL(r.out.fields[1].type, PL_FLOAT64);
	CU_ASSERT_STRING_EQUAL(r.out.fields[2].name, "a");
	CU_ASSERT_EQUAL(r.out.fields[2].type, PL_INT64);
	char buf[200];
	pl_op_groupby.describe(&r.op, buf, sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "keys: g"));
	end(&r);
	pl_schema_free(&in);
}

static void test_error_duplicate_output(void)
{
	const char *kv[] = {"keys", "g", "n", "count()", "n", "sum(v)", NULL};
	const char *want[] = {"job.conf:4:", "[groupby]", "'n'", NULL};
	check_init_error(kv, "g:string,v:int64", PL_ERR_CONF, want);
	const char *kv2[] = {"keys", "g", "n", "count()", "g", "sum(v)", NULL};
	const char *want2[] = {"job.conf:4:", "key", NULL};
	check_init_error(kv2, "g:string,v:int64", PL_ERR_CONF, want2);
}

static void test_error_unknown_column(void)
{
	const char *kv[] = {"keys", "g", "n", "count()", "s", "sum(vv1)", NULL};
	const char *want[] = {"job.conf:4", "vv1", "v1", NULL};
	check_init_error(kv, "g:string,v1:int64", PL_ERR_CONF, want);
	const char *kv2[] = {"keys", "g, gg", "n", "count()", NULL};
	const char *want2[] = {"job.conf:2", "gg", "'g'", NULL};
	check_init_error(kv2, "g:string,v1:int64", PL_ERR_CONF, want2);
}

static void test_error_types(void)
{
	const char *kv[] = {"keys", "g", "n", "count()", "s", "mean(g)", NULL};
	const char *want[] = {"job.conf:4", "mean", "string", NULL};
	check_init_error(kv, "g:string,v:int64", PL_ERR_CONF, want);
	const char *kv2[] = {"c", "corr(v, g)", NULL};
	const char *want2[] = {"job.conf:2", "corr", "string", NULL};
	check_init_error(kv2, "g:string,v:int64", PL_ERR_CONF, want2);
}

static void test_error_quantile_p(void)
{
	const char *kv[] = {"keys", "g", "q", "quantile(v, 1.5)", NULL};
	const char *want[] = {"job.conf:3", "quantile", NULL};
	check_init_error(kv, "g:string,v:int64", PL_ERR_CONF, want);
	const char *kv2[] = {"n", "count()", "q", "quantile(v, v)", NULL};
	const char *want2[] = {"job.conf:3", "quantile", NULL};
	check_init_error(kv2, "g:string,v:int64", PL_ERR_CONF, want2);
}

static void test_error_arity_and_plain(void)
{
	const char *kv[] = {"s", "sum(v, v)", NULL};
	const char *want[] = {"job.conf:2", "sum", NULL};
	check_init_error(kv, "v:int64", PL_ERR_CONF, want);
	const char *kv2[] = {"s", "v + 1", NULL};
	const char *want2[] = {"job.conf:2", "aggregate", NULL};
	check_init_error(kv2, "v:int64", PL_ERR_CONF, want2);
	const char *kv3[] = {"keys", "v", NULL};
	const char *want3[] = {"job.conf:1", NULL};
	check_init_error(kv3, "v:int64", PL_ERR_CONF, want3);
}

static void test_sum_overflow(void)
{
	pl_schema in;
	run r;
	mk_schema(&in, "g:string,v:int64");
	const char *kv[] = {"keys", "g", "n", "count()", "s", "sum(v)", NULL};
	const char *b1[] = {"ok,1", "big,9223372036854775000", NULL};
	const char *b2[] = {"big,1000", NULL};
	const char *const *bs[] = {b1, b2, NULL};
	CU_ASSERT_EQUAL_FATAL(start(&r, kv, &in, 10), 0);
	CU_ASSERT_EQUAL(feed(&r, &in, bs), PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "job.conf:4"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "[groupby]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "g=big"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "overflow"));
	end(&r);
	pl_schema_free(&in);
}

static void test_chunked_output(void)
{
	pl_schema in;
	run r;
	collector c = {0};
	mk_schema(&in, "g:int64");
	const char *kv[] = {"keys", "g", "n", "count()", NULL};
	const char *b1[] = {"1", "2", "3", "4", "5", "1", "2", NULL};
	const char *const *bs[] = {b1, NULL};
	CU_ASSERT_EQUAL_FATAL(start(&r, kv, &in, 2), 0);
	CU_ASSERT_EQUAL(feed(&r, &in, bs), 0);
	CU_ASSERT_EQUAL(finish(&r, &c), 0);
	CU_ASSERT_EQUAL(c.batches, 3);
	CU_ASSERT_EQUAL(c.max_rows, 2);
	const char *want[] = {"1|2", "2|2", "3|1", "4|1", "5|1", NULL};
	expect_rows(&c, want);
	collector_free(&c);
	end(&r);
	pl_schema_free(&in);
}

/* 100000 distinct keys, each seen three times across batches. */
static void test_many_groups(void)
{
	pl_schema in;
	pl_error err;
	run r;
	collector c = {0};
	mk_schema(&in, "k:int64,s:string");
	const char *kv[] = {"keys", "k, s",   "n", "count()",
			    "t",    "sum(k)", NULL};
	CU_ASSERT_EQUAL_FATAL(start(&r, kv, &in, 65536), 0);
	pl_emitter none = {collect, NULL};
	for (int rep = 0; rep < 3; rep++) {
		for (int64_t base = 0; base < 100000; base += 25000) {
			pl_batch *b = pl_batch_new(&in, 25000, r.pool, &err);
			for (int64_t k = base; k < base + 25000; k++) {
				char s[32];
				int len = snprintf(s, sizeof(s), "s%lld",
						   (long long)(k % 7));
				pl_column_push_i64(&b->cols[0], k, r.pool,
						   &err);
				pl_column_push_str(&b->cols[1], s, (size_t)len,
						   r.pool, &err);
			}
			pl_batch_sync_rows(b);
			CU_ASSERT_EQUAL(
			    pl_op_groupby.process(&r.op, b, &none, &r.err), 0);
			pl_batch_free(b, r.pool);
		}
	}
	CU_ASSERT_EQUAL(finish(&r, &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 100000);
	size_t bad = 0;
	for (size_t i = 0; i < c.n; i++) {
		long long k, t, n;
		char s[16];
		if (sscanf(c.rows[i], "%lld|%15[^|]|%lld|%lld", &k, s, &n,
			   &t) != 4 ||
		    n != 3 || t != 3 * k || atoll(s + 1) != k % 7)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	collector_free(&c);
	end(&r);
	pl_schema_free(&in);
}

/* Every aggregate, for the partial/merge and fault-injection tests. */
static const char *const all_kv[] = {"keys", "g",
				     "n",    "count()",
				     "c",    "count(v)",
				     "s",    "sum(v)",
				     "fs",   "sum(f)",
				     "m",    "mean(f)",
				     "lo",   "min(s)",
				     "hi",   "max(v)",
				     "va",   "var(v)",
				     "sd",   "sd(f)",
				     "med",  "median(v)",
				     "q",    "quantile(f, 0.3)",
				     "cd",   "count_distinct(s)",
				     "fst",  "first(s)",
				     "lst",  "last(v)",
				     "r",    "corr(v, f)",
				     "e",    "max(v) - min(f) + sum(v * 2)",
				     NULL};
static const char *const all_spec = "g:string,v:int64,f:float64,s:string";
static const char *const all_p1[] = {"a,1,0.5,x", "b,,2.5,", "a,4,1.5,y", NULL};
static const char *const all_p2[] = {"c,,,", "a,2,,x", "b,7,-1,zz",
				     "b,3,0.25,zz", NULL};
static const char *const all_p3[] = {"a,,3.5,", "b,5,4,a", "d,9,1,q", "a,8,2,w",
				     NULL};

static int merge_into(void *arg, pl_batch *b, pl_error *err)
{
	run *target = arg;
	return pl_op_groupby.merge(&target->op, b, err);
}

static void run_kv(run *r, const char *const *kv, const pl_schema *in,
		   const char *const *const *parts, size_t chunk)
{
	int rc = start(r, kv, in, chunk);
	if (rc)
		fprintf(stderr, "\n  %s\n", r->err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL_FATAL(feed(r, in, parts), 0);
}

static void run_all(run *r, const pl_schema *in,
		    const char *const *const *parts, size_t chunk)
{
	run_kv(r, all_kv, in, parts, chunk);
}

static void test_partial_merge(void)
{
	pl_schema in;
	run whole, r[3];
	collector c1 = {0}, c2 = {0};
	mk_schema(&in, all_spec);
	const char *const *all[] = {all_p1, all_p2, all_p3, NULL};
	const char *const *p1[] = {all_p1, NULL},
			  *const * p2[] = {all_p2, NULL},
			  *const * p3[] = {all_p3, NULL};
	run_all(&whole, &in, all, 1000);
	CU_ASSERT_EQUAL(finish(&whole, &c1), 0);
	/* Small chunks split the partial state across batches. */
	run_all(&r[0], &in, p1, 2);
	run_all(&r[1], &in, p2, 2);
	run_all(&r[2], &in, p3, 2);
	pl_emitter to0 = {merge_into, &r[0]};
	for (int i = 1; i < 3; i++) {
		CU_ASSERT_EQUAL(
		    pl_op_groupby.partial(&r[i].op, &to0, &r[0].err), 0);
	}
	CU_ASSERT_EQUAL(finish(&r[0], &c2), 0);
	c1.rows[c1.n] = NULL;
	expect_rows(&c2, (const char *const *)c1.rows);
	/* Hand-checked group a: v 1 4 2 8, f .5 1.5 3.5 2, s x y x w. */
	int found = 0;
	for (size_t i = 0; i < c1.n; i++)
		found |= strcmp(c1.rows[i],
				"a|5|4|15|7.5|1.875|w|8|9.583333333|"
				"1.25|3|1.4|3|x|8|0.9631231373|37.5") == 0;
	CU_ASSERT(found);
	collector_free(&c1);
	collector_free(&c2);
	end(&whole);
	for (int i = 0; i < 3; i++)
		end(&r[i]);
	pl_schema_free(&in);
}

static void test_partial_no_keys_empty(void)
{
	pl_schema in;
	run a, b;
	collector c = {0};
	mk_schema(&in, "v:int64");
	const char *kv[] = {"n",	"count()", "s",	      "sum(v)", "f",
			    "first(v)", "l",	   "last(v)", NULL};
	const char *b1[] = {"4", "", NULL};
	const char *const *bs[] = {b1, NULL};
	const char *const *none[] = {NULL};
	CU_ASSERT_EQUAL_FATAL(start(&a, kv, &in, 10), 0);
	CU_ASSERT_EQUAL_FATAL(start(&b, kv, &in, 10), 0);
	CU_ASSERT_EQUAL(feed(&a, &in, none), 0);
	CU_ASSERT_EQUAL(feed(&b, &in, bs), 0);
	pl_emitter to_a = {merge_into, &a};
	CU_ASSERT_EQUAL(pl_op_groupby.partial(&b.op, &to_a, &a.err), 0);
	CU_ASSERT_EQUAL(finish(&a, &c), 0);
	const char *want[] = {"2|4|4|NULL", NULL};
	expect_rows(&c, want);
	collector_free(&c);
	end(&a);
	end(&b);
	pl_schema_free(&in);
}

/* Makes the Nth allocation fail, for every N, in a job that also merges
 * another instance's partial state: each run must fail cleanly with
 * PL_ERR_NOMEM, or succeed, and give back all its memory. */
static void test_fault_injection(void)
{
	pl_schema in;
	run good;
	mk_schema(&in, all_spec);
	const char *const *p1[] = {all_p1, all_p2, NULL};
	const char *const *p3[] = {all_p3, NULL};
	run_all(&good, &in, p3, 2);
	int done = 0;
	for (uint64_t fail = 1; !done && fail < 5000; fail++) {
		run r;
		collector c = {0};
		int rc = start_failing(&r, all_kv, &in, 2, fail);
		if (rc == 0)
			rc = feed(&r, &in, p1);
		pl_emitter to_r = {merge_into, &r};
		if (rc == 0)
			rc = pl_op_groupby.partial(&good.op, &to_r, &r.err);
		if (rc == 0)
			rc = finish(&r, &c);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		if (rc == 0) {
			done = 1;
			CU_ASSERT_EQUAL(c.n, 4);
		}
		collector_free(&c);
		end(&r);
	}
	CU_ASSERT(done);
	end(&good);
	pl_schema_free(&in);
}

/* Two string keys and an int key (the strings interned by the table):
 * hand-computed answers, the same through partial state split over
 * small batches and merged, and clean failure at every allocation. */
static const char *const two_kv[] = {"keys",	"g, s, v",   "n",
				     "count()", "sf",	     "sum(f)",
				     "med",	"median(f)", NULL};
static const char *const two_want[] = {
    "a|x|1|1|0.5|0.5",	  "b|NULL|NULL|1|2.5|2.5",
    "a|y|4|1|1.5|1.5",	  "c|NULL|NULL|1|NULL|NULL",
    "a|x|2|1|NULL|NULL",  "b|zz|7|1|-1|-1",
    "b|zz|3|1|0.25|0.25", "a|NULL|NULL|1|3.5|3.5",
    "b|a|5|1|4|4",	  "d|q|9|1|1|1",
    "a|w|8|1|2|2",	  NULL};
static const char *const two_p1[] = {"a,1,0.5,x", "b,,2.5,", "a,4,1.5,y",
				     "a,1,,x",	  "b,,2.5,", NULL};

static void test_interned_keys(void)
{
	pl_schema in;
	mk_schema(&in, all_spec);
	const char *const *all[] = {all_p1, all_p2, all_p3, NULL};
	const char *const *dup[] = {two_p1, NULL};
	const char *want_dup[] = {"a|x|1|2|0.5|0.5", "b|NULL|NULL|2|5|2.5",
				  "a|y|4|1|1.5|1.5", NULL};
	run r[3];
	collector c[2] = {{0}, {0}};
	run_kv(&r[0], two_kv, &in, all, 1000);
	CU_ASSERT_EQUAL(finish(&r[0], &c[0]), 0);
	expect_rows(&c[0], two_want);
	end(&r[0]);
	run_kv(&r[0], two_kv, &in, dup, 2);
	CU_ASSERT_EQUAL(finish(&r[0], &c[1]), 0);
	expect_rows(&c[1], want_dup);
	end(&r[0]);
	collector_free(&c[0]);
	collector_free(&c[1]);
	const char *const *p12[] = {all_p1, all_p2, NULL};
	const char *const *p3[] = {all_p3, NULL};
	run_kv(&r[1], two_kv, &in, p12, 2);
	run_kv(&r[2], two_kv, &in, p3, 2);
	pl_emitter to1 = {merge_into, &r[1]};
	CU_ASSERT_EQUAL(pl_op_groupby.partial(&r[2].op, &to1, &r[1].err), 0);
	CU_ASSERT_EQUAL(finish(&r[1], &c[0]), 0);
	expect_rows(&c[0], two_want);
	collector_free(&c[0]);
	end(&r[1]);
	for (uint64_t fail = 1, done = 0; !done && fail < 5000; fail++) {
		run f;
		collector fc = {0};
		int rc = start_failing(&f, two_kv, &in, 2, fail);
		if (rc == 0)
			rc = feed(&f, &in, p12);
		pl_emitter to_f = {merge_into, &f};
		if (rc == 0)
			rc = pl_op_groupby.partial(&r[2].op, &to_f, &f.err);
		if (rc == 0)
			rc = finish(&f, &fc);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		if (rc == 0) {
			done = 1;
			expect_rows(&fc, two_want);
		}
		collector_free(&fc);
		end(&f);
		CU_ASSERT(fail < 4999 || done);
	}
	end(&r[2]);
	pl_schema_free(&in);
}

/* Dictionary-encoded string columns (one key, several keys, and read by
 * aggregates) give the same rows as plain ones. */
static void test_dictionary_input(void)
{
	use_dict = 1;
	test_count_sum_mean();
	test_string_keys();
	test_interned_keys();
	test_partial_merge();
	use_dict = 0;
}

/* NaN after every number, -0.0 equal to 0.0: the aggregates' order. */
static int ref_cmp_f64(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	if (isnan(a) || isnan(b))
		return isnan(a) - isnan(b);
	return (a > b) - (a < b);
}

/* Group g's values in one of several shapes that trouble quicksorts:
 * random with many repeats, sorted, reversed, constant, organ pipe, and
 * with NaNs, infinities and zeros of both signs. */
static double shaped_value(int shape, size_t i, size_t n, uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	double r = (double)(*x >> 40) / 16.0;
	switch (shape) {
	case 0:
		return (double)((*x >> 33) % 7);
	case 1:
		return (double)i;
	case 2:
		return (double)(n - i);
	case 3:
		return 5;
	case 4:
		return (double)(i < n / 2 ? i : n - i);
	case 5: {
		const double odd[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, -1};
		return (*x >> 33) % 3 ? r - 1e5 : odd[(*x >> 35) % 6];
	}
	default:
		return r;
	}
}

/* The value at (n - 1) p of the sorted v, interpolated like numpy. */
static double ref_quantile(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), ref_cmp_f64);
	double k = (double)(n - 1) * p;
	size_t lo = (size_t)floor(k), hi = (size_t)ceil(k);
	return lo == hi ? v[lo] : v[lo] + (v[hi] - v[lo]) * (k - (double)lo);
}

static size_t ref_distinct(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), ref_cmp_f64);
	size_t d = n > 0;
	for (size_t i = 1; i < n; i++)
		d += ref_cmp_f64(&v[i - 1], &v[i]) != 0;
	return d;
}

static int same_f64(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* Runs one aggregate over groups of the sizes given, their rows
 * interleaved, and checks each group's result against sorting. */
static void check_order_stats(pl_agg_kind kind, pl_type type, double p)
{
	static const size_t sizes[] = {0, 1, 2, 3, 16, 17, 100, 1000, 4099};
	enum { NG = sizeof(sizes) / sizeof(sizes[0]), SHAPES = 7 };
	size_t total = 0, at[NG * SHAPES] = {0};
	for (size_t g = 0; g < NG * SHAPES; g++)
		total += sizes[g % NG];
	pl_error err;
	pl_column x, out;
	pl_pool *tpool = pl_pool_create(1 << 20);
	uint32_t *gid = malloc(total * sizeof(*gid));
	double **vals = calloc(NG * SHAPES, sizeof(*vals));
	uint64_t seed = 99;
	pl_column_init(&x, type, total, 0, tpool, &err);
	pl_column_init(&out,
		       kind == PL_AGG_COUNT_DISTINCT ? PL_INT64 : PL_FLOAT64, 0,
		       0, tpool, &err);
	for (size_t g = 0; g < NG * SHAPES; g++)
		vals[g] = malloc((sizes[g % NG] + 1) * sizeof(double));
	/* round robin over the groups until each has its size */
	for (size_t i = 0; i < total;) {
		for (size_t g = 0; g < NG * SHAPES; g++) {
			size_t n = sizes[g % NG];
			if (at[g] == n)
				continue;
			double v = shaped_value((int)(g / NG), at[g], n, &seed);
			if (type == PL_INT64) {
				v = isfinite(v) ? floor(v) : 7;
				pl_column_push_i64(&x, (int64_t)v, tpool, &err);
			} else {
				pl_column_push_f64(&x, v, tpool, &err);
			}
			vals[g][at[g]++] = v;
			gid[i++] = (uint32_t)g;
		}
	}
	pl_agg a;
	pl_agg_init(&a, kind, type, p, tpool);
	CU_ASSERT_EQUAL_FATAL(pl_agg_reserve(&a, NG * SHAPES, &err), 0);
	CU_ASSERT_EQUAL(pl_agg_update(&a, gid, total, &x, NULL, &err), 0);
	CU_ASSERT_EQUAL(pl_agg_prepare(&a, NG * SHAPES, &err), 0);
	CU_ASSERT_EQUAL(pl_agg_final(&a, 0, NG * SHAPES, &out, &err), 0);
	for (size_t g = 0; g < NG * SHAPES; g++) {
		size_t n = sizes[g % NG];
		if (kind == PL_AGG_COUNT_DISTINCT) {
			CU_ASSERT_EQUAL(pl_col_i64(&out)[g],
					(int64_t)ref_distinct(vals[g], n));
		} else if (n == 0) {
			CU_ASSERT(pl_column_is_null(&out, g));
		} else {
			double want = ref_quantile(vals[g], n, p);
			CU_ASSERT(same_f64(pl_col_f64(&out)[g], want));
		}
		free(vals[g]);
	}
	pl_agg_free(&a);
	pl_column_free(&x, tpool);
	pl_column_free(&out, tpool);
	CU_ASSERT_EQUAL(pl_pool_get_stats(tpool).bytes_out, 0);
	pl_pool_destroy(tpool);
	free(vals);
	free(gid);
}

/* median and quantile select their ranks instead of sorting, and
 * count_distinct sorts without qsort: the same results as sorting, on
 * inputs shaped to hit the selection's worst cases. */
static void test_order_statistics(void)
{
	const double ps[] = {0, 0.1, 0.25, 0.5, 0.75, 0.999, 1};
	for (int t = 0; t < 2; t++) {
		pl_type type = t ? PL_INT64 : PL_FLOAT64;
		check_order_stats(PL_AGG_MEDIAN, type, 0.5);
		for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
			check_order_stats(PL_AGG_QUANTILE, type, ps[i]);
		check_order_stats(PL_AGG_COUNT_DISTINCT, type, 0);
	}
}

/* Exports a's value list max_values at a time and merges every batch into
 * b, counting the rows in *rows and checking each batch's bounds; returns
 * the first failure. */
static int move_values(pl_agg *a, pl_agg *b, size_t ng, size_t max_values,
		       int consume, pl_pool *pool, size_t *rows)
{
	pl_error err;
	pl_schema ps;
	pl_schema_init(&ps);
	CU_ASSERT_EQUAL_FATAL(pl_agg_partial_schema(a, "a", &ps, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ps.n, 2);
	uint32_t *gid = malloc(max_values * sizeof(*gid));
	int64_t *tag = malloc(max_values * sizeof(*tag));
	for (size_t i = 0; i < max_values; i++)
		tag[i] = 3;
	pl_agg_cursor c = {.consume = consume};
	size_t nrows = 0;
	int rc = 0;
	*rows = 0;
	do {
		pl_column cols[2] = {0};
		for (int k = 0; rc == 0 && k < 2; k++)
			rc = pl_column_init(&cols[k], ps.fields[k].type, 0, 0,
					    pool, &err);
		if (rc == 0)
			rc = pl_agg_export_values(a, ng, &c, max_values, gid,
						  &nrows, cols, &err);
		if (rc == 0)
			rc = pl_agg_merge(b, gid, tag, 3, nrows, cols, &err);
		size_t values = 0;
		for (size_t i = 0; rc == 0 && i < nrows; i++) {
			size_t len = 8;
			if (pl_column_is_null(&cols[0], i)) {
				pl_col_str(&cols[1], i, &len);
			} else {
				CU_ASSERT(pl_column_is_null(&cols[1], i));
			}
			CU_ASSERT(len > 0 && len % 8 == 0 &&
				  len <= 8 * PL_AGG_PACK_VALUES);
			values += len / 8;
		}
		CU_ASSERT(values <= max_values);
		CU_ASSERT(rc || (cols[0].len == nrows && cols[1].len == nrows));
		*rows += nrows;
		for (int k = 0; k < 2; k++)
			pl_column_free(&cols[k], pool);
	} while (rc == 0 && nrows > 0);
	pl_agg_cursor_free(a, &c);
	pl_schema_free(&ps);
	free(gid);
	free(tag);
	return rc;
}

/* a holds x's values in groups gid (p = 0.3 for a quantile), b none yet:
 * both with room for ng groups. */
static void agg_pair(pl_agg *a, pl_agg *b, pl_agg_kind kind, const pl_column *x,
		     const uint32_t *gid, size_t ng, pl_pool *pool)
{
	pl_error err;
	pl_agg_init(a, kind, x->type, 0.3, pool);
	pl_agg_init(b, kind, x->type, 0.3, pool);
	CU_ASSERT_EQUAL_FATAL(pl_agg_reserve(a, ng, &err), 0);
	CU_ASSERT_EQUAL_FATAL(pl_agg_reserve(b, ng, &err), 0);
	CU_ASSERT_EQUAL(pl_agg_update(a, gid, x->len, x, NULL, &err), 0);
}

/* An order-free digest of each group's values (adds a hash of each). */
static uint64_t *value_digests(const pl_agg *a, size_t ng)
{
	const pl_value_list *l = &a->vl.list;
	uint64_t *d = calloc(ng, sizeof(*d));
	for (size_t i = 0; i < l->len; i++) {
		uint64_t h = (uint64_t)pl_value_list_val(l, i);
		if (a->type == PL_STRING) {
			size_t len;
			const char *p = pl_value_list_str(l, i, &len);
			h = len;
			for (size_t k = 0; k < len; k++)
				h = h * 131 + (unsigned char)p[k];
		}
		h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL;
		d[pl_value_list_gid(l, i)] += h ^ (h >> 29);
	}
	return d;
}

/* n values in ng groups (group g's values interleaved, every 7th group
 * taking ten times as many) for x and gid. */
static void make_values(pl_type type, size_t ng, size_t n, pl_column *x,
			uint32_t *gid, pl_pool *pool)
{
	pl_error err;
	uint64_t seed = 7;
	pl_column_init(x, type, n, 0, pool, &err);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t g = (seed >> 20) % (ng + ng / 7 * 9);
		gid[i] = (uint32_t)(g < ng ? g : (g - ng) / 9 * 7);
		int64_t r = (int64_t)(seed >> 40) % 5000 - 2500;
		char buf[24];
		int len = snprintf(buf, sizeof(buf), "v%lld", (long long)r);
		if (type == PL_FLOAT64)
			pl_column_push_f64(x, (double)r / 8, pool, &err);
		else if (type == PL_STRING)
			pl_column_push_str(x, buf, (size_t)len, pool, &err);
		else
			pl_column_push_i64(x, r, pool, &err);
	}
}

/* prepare and final on ng groups of a, into a new column of out. */
static void final_values(pl_agg *a, size_t ng, pl_column *out, pl_pool *pool)
{
	pl_error err;
	pl_type ot = a->kind == PL_AGG_COUNT_DISTINCT ? PL_INT64 : PL_FLOAT64;
	pl_column_init(out, ot, 0, 0, pool, &err);
	CU_ASSERT_EQUAL(pl_agg_prepare(a, ng, &err), 0);
	CU_ASSERT_EQUAL(pl_agg_final(a, 0, ng, out, &err), 0);
}

/* ng groups of n values through export and merge: b holds the same
 * values in each group as a and the same final values, and the rows are
 * packed exactly when the groups average two values or more (numbers).
 * Consumed, the export frees a's list as it goes, every block by the end. */
static void check_values_round_trip(pl_agg_kind kind, pl_type type, size_t ng,
				    size_t n, size_t max_values, int consume)
{
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_column x, fa, fb;
	uint32_t *gid = malloc((n ? n : 1) * sizeof(*gid));
	make_values(type, ng, n, &x, gid, pool);
	pl_agg a, b;
	agg_pair(&a, &b, kind, &x, gid, ng, pool);
	uint64_t *da = value_digests(&a, ng);
	final_values(&a, ng, &fa, pool);
	size_t rows, packs = pl_agg_value_rows(&a, ng) < n;
	CU_ASSERT_EQUAL(
	    move_values(&a, &b, ng, max_values, consume, pool, &rows), 0);
	if (n >= 2 * ng && type != PL_STRING) {
		/* a batch that ends inside a group splits its row */
		size_t batches = n / max_values + 1;
		CU_ASSERT(rows <= pl_agg_value_rows(&a, ng) + batches);
		CU_ASSERT(max_values < 16 || rows < n / 2);
		CU_ASSERT(packs);
	} else {
		CU_ASSERT_EQUAL(rows, n);
	}
	const pl_value_list *l = &a.vl.list;
	size_t left = pl_value_list_bytes(l);
	size_t no_blocks = pl_pool_size(l->gid) + pl_pool_size(l->val) +
			   pl_pool_size(l->arena);
	if (consume) {
		CU_ASSERT_EQUAL(left, no_blocks);
	} else {
		CU_ASSERT(left >= no_blocks + 12 * n);
	}
	uint64_t *db = value_digests(&b, ng);
	CU_ASSERT_EQUAL(memcmp(da, db, ng * sizeof(*da)), 0);
	CU_ASSERT_EQUAL(b.vl.list.len, a.vl.list.len);
	final_values(&b, ng, &fb, pool);
	CU_ASSERT_EQUAL(memcmp(fa.data, fb.data, ng * 8), 0);
	free(da);
	free(db);
	pl_agg_free(&a);
	pl_agg_free(&b);
	pl_column_free(&x, pool);
	pl_column_free(&fa, pool);
	pl_column_free(&fb, pool);
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
	free(gid);
}

/* Value rows packed: several slices of the list (over 2^20 values),
 * groups over PL_AGG_PACK_VALUES values and batches that end inside a
 * group; and one value a row when groups hold about one. */
static void test_values_packed(void)
{
	check_values_round_trip(PL_AGG_QUANTILE, PL_FLOAT64, 1000, 1300000,
				100000, 0);
	check_values_round_trip(PL_AGG_MEDIAN, PL_INT64, 97, 50000, 777, 0);
	check_values_round_trip(PL_AGG_COUNT_DISTINCT, PL_INT64, 3, 9000, 1, 0);
	check_values_round_trip(PL_AGG_MEDIAN, PL_FLOAT64, 5000, 6000, 1000, 0);
	check_values_round_trip(PL_AGG_COUNT_DISTINCT, PL_FLOAT64, 40000, 90000,
				4096, 0);
	check_values_round_trip(PL_AGG_COUNT_DISTINCT, PL_STRING, 300, 20000,
				999, 0);
	/* a rank whose groups kept no values: its list has no arrays */
	check_values_round_trip(PL_AGG_MEDIAN, PL_INT64, 5, 0, 100, 0);
}

/* A consuming export (a rank's last partial) frees the list's blocks as
 * it passes them and still moves every value: packed over three blocks,
 * one at a time (strings, whose start is read from the value before),
 * and within block 0. */
static void test_values_consumed(void)
{
	check_values_round_trip(PL_AGG_QUANTILE, PL_FLOAT64, 1000, 1300000,
				100000, 1);
	check_values_round_trip(PL_AGG_COUNT_DISTINCT, PL_STRING, 500000,
				1200000, 70000, 1);
	check_values_round_trip(PL_AGG_MEDIAN, PL_INT64, 97, 50000, 777, 1);
	check_values_round_trip(PL_AGG_MEDIAN, PL_INT64, 5, 0, 100, 1);
}

/* Exports from's group states (and its values, for the kinds that keep
 * them) and merges them into to: as one instance's partial rows reach the
 * merging instance. */
static void move_state(pl_agg *from, pl_agg *to, size_t ng, pl_pool *pool)
{
	pl_error err;
	pl_schema ps;
	pl_schema_init(&ps);
	CU_ASSERT_EQUAL_FATAL(pl_agg_partial_schema(from, "s", &ps, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ps.n, pl_agg_partial_ncols(from));
	pl_column cols[6];
	for (size_t k = 0; k < ps.n; k++)
		pl_column_init(&cols[k], ps.fields[k].type, 0, 0, pool, &err);
	CU_ASSERT_EQUAL(pl_agg_export(from, 0, ng, cols, &err), 0);
	int64_t tag[8] = {0};
	uint32_t g[8];
	for (size_t i = 0; i < ng; i++)
		g[i] = (uint32_t)i;
	CU_ASSERT_EQUAL(pl_agg_merge(to, g, tag, 3, ng, cols, &err), 0);
	size_t rows;
	if (pl_agg_has_values(from))
		CU_ASSERT_EQUAL(move_values(from, to, ng, 5, 0, pool, &rows),
				0);
	for (size_t k = 0; k < ps.n; k++)
		pl_column_free(&cols[k], pool);
	pl_schema_free(&ps);
}

/* The final values of a's groups, formatted and joined by '|'. */
static void finals(pl_agg *a, size_t ng, char *buf, size_t cap, pl_pool *pool)
{
	pl_error err;
	pl_column out;
	pl_column_init(&out, a->out_type, 0, 0, pool, &err);
	CU_ASSERT_EQUAL(pl_agg_prepare(a, ng, &err), 0);
	CU_ASSERT_EQUAL(pl_agg_final(a, 0, ng, &out, &err), 0);
	CU_ASSERT_EQUAL_FATAL(out.len, ng);
	size_t at = 0;
	for (size_t g = 0; g < ng && at + 64 < cap; g++) {
		pl_column_format(&out, g, buf + at, cap - at);
		at += strlen(buf + at);
		buf[at++] = '|';
	}
	buf[at] = '\0';
	pl_column_free(&out, pool);
}

/* kind over 8 rows of type in 3 groups (one NULL, one group of a single
 * row): the rows split between two instances, whose state goes in input
 * order into a third, end with the final values of one instance that saw
 * them all. */
static void check_split(pl_agg_kind kind, pl_type type)
{
	enum { N = 8, NG = 3 };
	static const uint32_t gid[N] = {0, 1, 0, 2, 1, 0, 1, 0};
	static const int64_t v[N] = {4, -3, 9, 2, 7, -1, 7, 5};
	pl_error err;
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_column x;
	pl_column_init(&x, type, N, 1, pool, &err);
	for (size_t i = 0; i < N; i++) {
		char s[16];
		snprintf(s, sizeof(s), "s%lld", (long long)v[i]);
		if (i == 5)
			pl_column_push_null(&x, pool, &err);
		else if (type == PL_FLOAT64)
			pl_column_push_f64(&x, (double)v[i] / 4, pool, &err);
		else if (type == PL_STRING)
			pl_column_push_str(&x, s, strlen(s), pool, &err);
		else if (type == PL_BOOL)
			pl_column_push_bool(&x, v[i] > 3, pool, &err);
		else
			pl_column_push_i64(&x, v[i], pool, &err);
	}
	const pl_column *y = kind == PL_AGG_CORR ? &x : NULL;
	pl_agg all, p, q, m;
	pl_agg *each[] = {&all, &p, &q, &m};
	for (int k = 0; k < 4; k++) {
		pl_agg_init(each[k], kind, type, 0.3, pool);
		CU_ASSERT_EQUAL_FATAL(pl_agg_reserve(each[k], NG, &err), 0);
	}
	CU_ASSERT_EQUAL(pl_agg_update(&all, gid, N, &x, y, &err), 0);
	/* p sees the first rows, q the rest as a batch of its own */
	pl_column xq;
	CU_ASSERT_EQUAL(pl_agg_update(&p, gid, 3, &x, y, &err), 0);
	pl_column_init(&xq, type, N, 1, pool, &err);
	for (size_t i = 3; i < N; i++)
		pl_column_push_from(&xq, &x, i, pool, &err);
	CU_ASSERT_EQUAL(
	    pl_agg_update(&q, gid + 3, N - 3, &xq, y ? &xq : NULL, &err), 0);
	move_state(&p, &m, NG, pool);
	move_state(&q, &m, NG, pool);
	char want[512], got[512];
	finals(&all, NG, want, sizeof(want), pool);
	finals(&m, NG, got, sizeof(got), pool);
	if (strcmp(want, got) != 0)
		printf("\nkind %d of %s: %s merged, %s whole\n", (int)kind,
		       pl_type_name(type), got, want);
	CU_ASSERT_STRING_EQUAL(got, want);
	for (int k = 0; k < 4; k++)
		pl_agg_free(each[k]);
	pl_column_free(&x, pool);
	pl_column_free(&xq, pool);
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
}

/* Every kind over every argument type it takes, through every function
 * of its table: update, export, merge (of values too), prepare, final. */
static void test_every_kind_split(void)
{
	static const pl_type types[] = {PL_INT64, PL_FLOAT64, PL_STRING,
					PL_BOOL, PL_DATE};
	int ran = 0;
	for (int k = PL_AGG_COUNT_STAR; k <= PL_AGG_CORR; k++) {
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			pl_type ot;
			if (pl_agg_result_type((pl_agg_kind)k, types[t], &ot))
				continue;
			check_split((pl_agg_kind)k, types[t]);
			ran++;
		}
	}
	CU_ASSERT_EQUAL(ran, 51);
}

/* Runs kind over x (and y) in groups gid[0..n) of ng groups and appends
 * the final values to out; when via_merge, a second instance updated with
 * the same rows is exported and merged in (so every group counts its rows
 * twice, on whatever path the instances were). */
static void run_sums(pl_agg_kind kind, const pl_column *x, const pl_column *y,
		     const uint32_t *gid, size_t n, size_t ng, int via_merge,
		     pl_column *out, pl_pool *pool)
{
	pl_error err;
	pl_agg a, b;
	pl_agg_init(&a, kind, x->type, 0, pool);
	pl_agg_init(&b, kind, x->type, 0, pool);
	CU_ASSERT_EQUAL_FATAL(pl_agg_reserve(&a, ng, &err), 0);
	CU_ASSERT_EQUAL_FATAL(pl_agg_reserve(&b, ng, &err), 0);
	CU_ASSERT_EQUAL(pl_agg_update(&a, gid, n, x, y, &err), 0);
	pl_schema ps;
	pl_schema_init(&ps);
	CU_ASSERT_EQUAL(pl_agg_partial_schema(&b, "s", &ps, &err), 0);
	pl_column cols[6];
	size_t nc = pl_agg_partial_ncols(&b);
	for (size_t k = 0; k < nc; k++)
		pl_column_init(&cols[k], ps.fields[k].type, 0, 0, pool, &err);
	if (via_merge) {
		/* b holds the same rows again: a merged with b counts twice */
		CU_ASSERT_EQUAL(pl_agg_update(&b, gid, n, x, y, &err), 0);
		CU_ASSERT_EQUAL(pl_agg_export(&b, 0, ng, cols, &err), 0);
		int64_t *tag = calloc(ng, sizeof(*tag));
		uint32_t *g = malloc(ng * sizeof(*g));
		for (size_t i = 0; i < ng; i++)
			g[i] = (uint32_t)i;
		CU_ASSERT_EQUAL(pl_agg_merge(&a, g, tag, 1, ng, cols, &err), 0);
		free(tag);
		free(g);
	}
	CU_ASSERT_EQUAL(pl_agg_final(&a, 0, ng, out, &err), 0);
	for (size_t k = 0; k < nc; k++)
		pl_column_free(&cols[k], pool);
	pl_schema_free(&ps);
	pl_agg_free(&a);
	pl_agg_free(&b);
}

/* mean, var, sd and corr of int64 columns keep 128-bit sums while they
 * fit: the same bits as the general exact sums (the same values as
 * float64, below 2^53), merged or not; and when a group's squares
 * outgrow 128 bits mid-batch, the answers of every group are still those
 * of the general exact sums computed here directly. */
static void test_int_sums_paths_agree(void)
{
	enum { N = 5000, NG = 37 };
	const pl_agg_kind kinds[] = {PL_AGG_MEAN, PL_AGG_VAR, PL_AGG_SD,
				     PL_AGG_CORR};
	pl_error err;
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_column xi, yi, xf, yf;
	pl_column_init(&xi, PL_INT64, N, 0, pool, &err);
	pl_column_init(&yi, PL_INT64, N, 0, pool, &err);
	pl_column_init(&xf, PL_FLOAT64, N, 0, pool, &err);
	pl_column_init(&yf, PL_FLOAT64, N, 0, pool, &err);
	uint32_t gid[N];
	uint64_t seed = 7;
	for (size_t i = 0; i < N; i++) {
		/* half the groups small values (an error of one shows in the
		 * answer), half values whose squares need 80 bits */
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		int64_t x = (int64_t)(seed >> 24) - (1ll << 39);
		gid[i] = (uint32_t)(seed >> 58) % NG;
		if (gid[i] % 2)
			x = (int64_t)((seed >> 33) % 201) - 100;
		int64_t y = (int64_t)(seed % 21) - 10 + x / 3;
		pl_column_push_i64(&xi, x, pool, &err);
		pl_column_push_i64(&yi, y, pool, &err);
		pl_column_push_f64(&xf, (double)x, pool, &err);
		pl_column_push_f64(&yf, (double)y, pool, &err);
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (int merge = 0; merge < 2; merge++) {
			pl_column oi, of;
			pl_column_init(&oi, PL_FLOAT64, 0, 0, pool, &err);
			pl_column_init(&of, PL_FLOAT64, 0, 0, pool, &err);
			run_sums(kinds[k], &xi, &yi, gid, N, NG, merge, &oi,
				 pool);
			run_sums(kinds[k], &xf, &yf, gid, N, NG, merge, &of,
				 pool);
			CU_ASSERT_EQUAL(oi.len, NG);
			for (size_t g = 0; g < NG && oi.len == NG; g++)
				CU_ASSERT(same_f64(pl_col_f64(&oi)[g],
						   pl_col_f64(&of)[g]));
			pl_column_free(&oi, pool);
			pl_column_free(&of, pool);
		}
	/* group 1 gets values near INT64_MAX from row 3000 on: its x^2
	 * overflows 128 bits on the second such row */
	pl_xsum ref[NG][5];
	int64_t cnt[NG] = {0};
	pl_xsum_big tab = {.pool = pool};
	memset(ref, 0, sizeof(ref));
	for (size_t i = 0; i < N; i++) {
		if (gid[i] == 1 && i >= 3000) {
			pl_col_i64(&xi)[i] = INT64_MAX - (int64_t)i;
			pl_col_i64(&yi)[i] = INT64_MIN + (int64_t)(i * i);
		}
		int64_t x = pl_col_i64(&xi)[i], y = pl_col_i64(&yi)[i];
		pl_xsum *r = ref[gid[i]];
		cnt[gid[i]]++;
		pl_xsum_add_i64(&r[0], x, &tab, &err);
		pl_xsum_add_i64(&r[1], y, &tab, &err);
		pl_xsum_add_mul_i64(&r[2], x, x, &tab, &err);
		pl_xsum_add_mul_i64(&r[3], y, y, &tab, &err);
		pl_xsum_add_mul_i64(&r[4], x, y, &tab, &err);
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		pl_column oi;
		pl_column_init(&oi, PL_FLOAT64, 0, 0, pool, &err);
		run_sums(kinds[k], &xi, &yi, gid, N, NG, 0, &oi, pool);
		for (size_t g = 0; g < NG && oi.len == NG; g++) {
			pl_xsum *r = ref[g];
			double want = 0;
			if (kinds[k] == PL_AGG_MEAN)
				want = pl_xsum_mean(&r[0], &tab, cnt[g]);
			else if (kinds[k] == PL_AGG_CORR)
				pl_xsum_corr(cnt[g], &r[0], &r[1], &r[2], &r[3],
					     &r[4], &tab, &want);
			else
				want = pl_xsum_var(cnt[g], &r[0], &r[2], &tab);
			if (kinds[k] == PL_AGG_SD)
				want = sqrt(want);
			CU_ASSERT(same_f64(pl_col_f64(&oi)[g], want));
		}
		CU_ASSERT_EQUAL(oi.len, NG);
		pl_column_free(&oi, pool);
	}
	pl_xsum_big_free(&tab);
	pl_column_free(&xi, pool);
	pl_column_free(&yi, pool);
	pl_column_free(&xf, pool);
	pl_column_free(&yf, pool);
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
}

/* A value list past block 0: reserve walks every allocation failing
 * (the list stays whole and freeable), runs span block edges, and
 * dropping frees the blocks wholly before the pair it is given. */
static void test_value_list_blocks(void)
{
	enum { N = 2 * PL_VLIST_BLOCK + 1000 };
	int done = 0;
	for (uint64_t fail = 1; !done && fail < 100; fail++) {
		pl_error err;
		pl_pool *pool = pl_pool_create(1 << 20);
		pl_value_list l = {0};
		pl_pool_fail_after(pool, fail, 0);
		int rc = pl_value_list_reserve(&l, pool, 1000, 0, "x", &err);
		if (rc == 0)
			rc = pl_value_list_reserve(&l, pool, N, 0, "x", &err);
		pl_pool_fail_after(pool, 0, 0);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		/* a failed reserve never claims room it did not get */
		CU_ASSERT(rc == 0 ? l.cap >= N : l.cap < N);
		if (rc == 0) {
			done = 1;
			CU_ASSERT(l.cap >= N && l.nblocks == 3);
			int64_t *v = malloc(N * sizeof(*v));
			for (size_t i = 0; i < N; i++)
				v[i] = (int64_t)(i * 2654435761u);
			size_t at = 0;
			for (size_t k = 1; at < N; k = k * 3 + 1) {
				size_t n = k < N - at ? k : N - at;
				pl_value_list_push_run(&l, (uint32_t)k, v + at,
						       n);
				at += n;
			}
			size_t bad = 0;
			for (size_t i = 0; i < N; i++)
				bad += pl_value_list_val(&l, i) != v[i];
			CU_ASSERT_EQUAL(bad, 0);
			CU_ASSERT_EQUAL(pl_value_list_gid(&l, 0), 1);
			size_t before = pl_value_list_bytes(&l);
			pl_value_list_drop(&l, pool, 2 * PL_VLIST_BLOCK - 1);
			CU_ASSERT_EQUAL(l.dropped, 1);
			pl_value_list_drop(&l, pool, 2 * PL_VLIST_BLOCK);
			CU_ASSERT_EQUAL(l.dropped, 2);
			CU_ASSERT(pl_value_list_bytes(&l) <
				  before - 20 * PL_VLIST_BLOCK);
			CU_ASSERT_EQUAL(pl_value_list_val(&l, N - 1), v[N - 1]);
			free(v);
		}
		pl_value_list_free(&l, pool);
		CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
		pl_pool_destroy(pool);
	}
	CU_ASSERT(done);
}

/* Packing and merging packed rows fail cleanly at every allocation. */
static void test_values_packed_out_of_memory(void)
{
	enum { NG = 6, N = 3000 };
	int done = 0;
	for (uint64_t fail = 1; !done && fail < 1000; fail++) {
		pl_error err;
		pl_pool *pool = pl_pool_create(1 << 20);
		pl_column x;
		uint32_t gid[N];
		pl_column_init(&x, PL_FLOAT64, N, 0, pool, &err);
		for (size_t i = 0; i < N; i++) {
			gid[i] = (uint32_t)(i * 7 % NG);
			pl_column_push_f64(&x, (double)(i % 101), pool, &err);
		}
		pl_agg a, b;
		agg_pair(&a, &b, PL_AGG_MEDIAN, &x, gid, NG, pool);
		pl_pool_fail_after(pool, fail, 1);
		size_t rows;
		int rc = move_values(&a, &b, NG, 700, 0, pool, &rows);
		pl_pool_fail_after(pool, 0, 0);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		if (rc == 0) {
			done = 1;
			CU_ASSERT_EQUAL(b.vl.list.len, N);
			CU_ASSERT(rows < N / 100);
		}
		pl_agg_free(&a);
		pl_agg_free(&b);
		pl_column_free(&x, pool);
		CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
		pl_pool_destroy(pool);
	}
	CU_ASSERT(done);
}

static const pl_test tests[] = {
    {"count_sum_mean", test_count_sum_mean},
    {"sum_float", test_sum_float},
    {"min_max_types", test_min_max_types},
    {"var_sd", test_var_sd},
    {"median_quantile", test_median_quantile},
    {"median_float", test_median_float},
    {"count_distinct", test_count_distinct},
    {"first_last", test_first_last},
    {"corr", test_corr},
    {"corr_values", test_corr_values},
    {"no_keys", test_no_keys},
    {"no_keys_empty", test_no_keys_empty},
    {"keys_empty_input", test_keys_empty_input},
    {"key_types", test_key_types},
    {"string_keys", test_string_keys},
    {"expressions", test_expressions},
    {"output_order", test_output_order},
    {"error_duplicate_output", test_error_duplicate_output},
    {"error_unknown_column", test_error_unknown_column},
    {"error_types", test_error_types},
    {"error_quantile_p", test_error_quantile_p},
    {"error_arity_and_plain", test_error_arity_and_plain},
    {"sum_overflow", test_sum_overflow},
    {"chunked_output", test_chunked_output},
    {"many_groups", test_many_groups},
    {"partial_merge", test_partial_merge},
    {"interned_keys", test_interned_keys},
    {"dictionary_input", test_dictionary_input},
    {"partial_no_keys_empty", test_partial_no_keys_empty},
    {"fault_injection", test_fault_injection},
    {"order_statistics", test_order_statistics},
    {"values_packed", test_values_packed},
    {"values_consumed", test_values_consumed},
    {"value_list_blocks", test_value_list_blocks},
    {"values_packed_out_of_memory", test_values_packed_out_of_memory},
    {"int_sums_paths_agree", test_int_sums_paths_agree},
    {"every_kind_split", test_every_kind_split},
    {NULL, NULL}};

PL_TEST_MAIN("groupby", tests)

/* [sort]: directions, multi-key, NULLs last, stability, strings, limit and
 * its pruning, top-N per group, partial/merge, errors, fault injection,
 * and the external merge sort under a small budget. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "operators/row_order.h"
#include "operators/row_store.h"
#include "operators/sort_spill.h"
#include "pipeline/operator.h"

extern const pl_operator_def pl_op_sort;

#define NA INT64_MIN

/* The operator under test, on its own pool so that what it leaks shows. */
typedef struct run {
	pl_pool *pool;
	pl_op_env env;
	pl_operator op;
	pl_schema out;
	pl_error err;
	pl_section sec;
	pl_kv kv[4];
} run;

/* Collects emitted rows on the test's pool. */
typedef struct collector {
	pl_pool *pool;
	pl_row_store rows;
	size_t batches, max_rows;
} collector;

static pl_pool *tpool;

/* The budget and spill_dir of the runs started next: ample by default. */
static size_t run_budget = SIZE_MAX;
static const char *run_spill_dir;

static int collect(void *arg, pl_batch *b, pl_error *err)
{
	collector *c = arg;
	c->batches++;
	if (b->nrows > c->max_rows)
		c->max_rows = b->nrows;
	return pl_row_store_take(&c->rows, b->cols, NULL, NULL, b->nrows,
				 c->pool, err);
}

/* by, limit, per: NULL when absent; each on its own line 2, 3, 4. */
static int start_failing(run *r, const char *by, const char *limit,
			 const char *per, const pl_schema *in, size_t chunk,
			 uint64_t fail)
{
	memset(r, 0, sizeof(*r));
	r->pool = pl_pool_create(1 << 20);
	pl_pool_fail_after(r->pool, fail, 1);
	r->env = (pl_op_env){r->pool, 0, 1, run_budget, chunk, run_spill_dir,
			     "t",     1, 0, 0,		NULL};
	const char *keys[] = {"by", "limit", "per"};
	const char *vals[] = {by, limit, per};
	for (int i = 0; i < 3; i++)
		if (vals[i] != NULL)
			r->kv[r->sec.n++] =
			    (pl_kv){(char *)keys[i], (char *)vals[i], i + 2};
	r->sec = (pl_section){"sort", 1, 1, "job.conf", "/", r->sec.n, r->kv};
	r->op.def = &pl_op_sort;
	r->op.env = &r->env;
	r->op.section = &r->sec;
	pl_schema_init(&r->out);
	pl_schema_init(&r->op.partial_schema);
	pl_error_clear(&r->err);
	return pl_op_sort.init(&r->op, &r->sec, in, &r->out, &r->err);
}

static int start(run *r, const char *by, const char *limit, const char *per,
		 const pl_schema *in, size_t chunk)
{
	return start_failing(r, by, limit, per, in, chunk, 0);
}

/* Destroys the operator and checks it gave back all its memory. */
static void end(run *r)
{
	pl_op_sort.destroy(&r->op);
	CU_ASSERT_EQUAL(pl_pool_get_stats(r->pool).bytes_out, 0);
	pl_schema_free(&r->out);
	pl_schema_free(&r->op.partial_schema);
	pl_pool_destroy(r->pool);
}

static void schema2(pl_schema *s, pl_type t0, pl_type t1)
{
	pl_error err;
	pl_schema_init(s);
	pl_schema_add(s, "k", t0, &err);
	pl_schema_add(s, "p", t1, &err);
}

/* A batch of int64 columns k and p (NA for NULL). */
static pl_batch *ints(const int64_t *k, const int64_t *p, size_t n)
{
	pl_schema s;
	pl_error err;
	schema2(&s, PL_INT64, PL_INT64);
	pl_batch *b = pl_batch_new(&s, n, tpool, &err);
	for (size_t i = 0; i < n; i++) {
		if (k[i] == NA)
			pl_column_push_null(&b->cols[0], tpool, &err);
		else
			pl_column_push_i64(&b->cols[0], k[i], tpool, &err);
		pl_column_push_i64(&b->cols[1], p[i], tpool, &err);
	}
	pl_batch_sync_rows(b);
	pl_schema_free(&s);
	return b;
}

static int64_t at(const collector *c, size_t col, size_t row)
{
	const pl_column *x = &c->rows.cols[col];
	return pl_column_is_null(x, row) ? NA : pl_col_i64(x)[row];
}

static void collector_init(collector *c, const pl_schema *s)
{
	pl_error err;
	memset(c, 0, sizeof(*c));
	c->pool = tpool;
	pl_row_store_init(&c->rows, s, NULL, 0, tpool, &err);
}

/* Runs a sort over the batches; returns the status and fills c. */
static int sort_batches(const char *by, const char *limit, const char *per,
			pl_batch **in, size_t nin, size_t chunk, collector *c)
{
	run r;
	pl_schema s;
	schema2(&s, PL_INT64, PL_INT64);
	collector_init(c, &s);
	pl_emitter e = {collect, c};
	int rc = start(&r, by, limit, per, &s, chunk);
	for (size_t i = 0; i < nin && rc == 0; i++)
		rc = pl_op_sort.process(&r.op, in[i], &e, &r.err);
	if (rc == 0)
		rc = pl_op_sort.finish(&r.op, &e, &r.err);
	end(&r);
	pl_schema_free(&s);
	return rc;
}

static void collector_free(collector *c)
{
	pl_row_store_free(&c->rows, tpool);
}

static void expect(const collector *c, size_t col, const int64_t *want,
		   size_t n)
{
	CU_ASSERT_EQUAL_FATAL(c->rows.nrows, n);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(at(c, col, i), want[i]);
}

static void test_asc_desc(void)
{
	int64_t k[] = {3, 1, 2, 5, 4}, p[] = {0, 1, 2, 3, 4};
	pl_batch *b = ints(k, p, 5);
	collector c;
	CU_ASSERT_EQUAL(sort_batches("k", NULL, NULL, &b, 1, 100, &c), 0);
	expect(&c, 0, (int64_t[]){1, 2, 3, 4, 5}, 5);
	expect(&c, 1, (int64_t[]){1, 2, 0, 4, 3}, 5);
	collector_free(&c);
	CU_ASSERT_EQUAL(sort_batches("k DESC", NULL, NULL, &b, 1, 100, &c), 0);
	expect(&c, 0, (int64_t[]){5, 4, 3, 2, 1}, 5);
	collector_free(&c);
	pl_batch_free(b, tpool);
}

static void test_multi_key(void)
{
	int64_t k[] = {1, 2, 1, 2, 1}, p[] = {5, 6, 7, 8, 9};
	pl_batch *b = ints(k, p, 5);
	collector c;
	CU_ASSERT_EQUAL(
	    sort_batches("k desc, `p` desc", NULL, NULL, &b, 1, 100, &c), 0);
	expect(&c, 0, (int64_t[]){2, 2, 1, 1, 1}, 5);
	expect(&c, 1, (int64_t[]){8, 6, 9, 7, 5}, 5);
	collector_free(&c);
	CU_ASSERT_EQUAL(
	    sort_batches("k asc,p desc", NULL, NULL, &b, 1, 100, &c), 0);
	expect(&c, 1, (int64_t[]){9, 7, 5, 8, 6}, 5);
	collector_free(&c);
	pl_batch_free(b, tpool);
}

static void test_nulls_last(void)
{
	int64_t k[] = {2, NA, 1, NA, 3}, p[] = {0, 1, 2, 3, 4};
	pl_batch *b = ints(k, p, 5);
	collector c;
	CU_ASSERT_EQUAL(sort_batches("k", NULL, NULL, &b, 1, 100, &c), 0);
	expect(&c, 0, (int64_t[]){1, 2, 3, NA, NA}, 5);
	expect(&c, 1, (int64_t[]){2, 0, 4, 1, 3}, 5);
	collector_free(&c);
	CU_ASSERT_EQUAL(sort_batches("k desc", NULL, NULL, &b, 1, 100, &c), 0);
	expect(&c, 0, (int64_t[]){3, 2, 1, NA, NA}, 5);
	expect(&c, 1, (int64_t[]){4, 0, 2, 1, 3}, 5);
	collector_free(&c);
	pl_batch_free(b, tpool);
}

/* Equal keys keep input order, across batches and in both directions,
 * including in runs longer than the insertion-sorted ones. */
static void test_stable(void)
{
	enum { N = 100 };
	int64_t k[N], p[N];
	for (int i = 0; i < N; i++) {
		k[i] = i % 3;
		p[i] = i;
	}
	pl_batch *b[2] = {ints(k, p, 60), ints(k + 60, p + 60, 40)};
	collector c;
	CU_ASSERT_EQUAL(sort_batches("k desc", NULL, NULL, b, 2, 1000, &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, N);
	for (size_t i = 1; i < N; i++) {
		CU_ASSERT(at(&c, 0, i - 1) >= at(&c, 0, i));
		if (at(&c, 0, i - 1) == at(&c, 0, i))
			CU_ASSERT(at(&c, 1, i - 1) < at(&c, 1, i));
	}
	CU_ASSERT_EQUAL(at(&c, 1, 0), 2);
	CU_ASSERT_EQUAL(at(&c, 1, N - 1), 99);
	collector_free(&c);
	pl_batch_free(b[0], tpool);
	pl_batch_free(b[1], tpool);
}

/* Without a limit the sort lends its stored rows in the order it took
 * them (rows_stored, for the sample sort's unsorted shuffle), also after
 * partial sorted them; with a limit it lends nothing (the rows are
 * pruned), and a sort that spilled stops lending (its rows are runs). */
static void test_rows_stored(void)
{
	enum { N = 100 };
	int64_t k[N], p[N];
	for (int i = 0; i < N; i++) {
		k[i] = (i * 37) % 11;
		p[i] = i;
	}
	pl_batch *b[2] = {ints(k, p, 60), ints(k + 60, p + 60, 40)};
	pl_schema s;
	schema2(&s, PL_INT64, PL_INT64);
	collector c;
	collector_init(&c, &s);
	pl_emitter e = {collect, &c};
	run r;
	CU_ASSERT_EQUAL_FATAL(start(&r, "k desc", NULL, NULL, &s, 1000), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.op.rows_stored);
	for (size_t i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(pl_op_sort.process(&r.op, b[i], &e, &r.err), 0);
	for (int pass = 0; pass < 2; pass++) {
		pl_batch rows;
		CU_ASSERT_EQUAL(r.op.rows_stored(&r.op, &rows, &r.err), 0);
		CU_ASSERT_EQUAL_FATAL(rows.nrows, N);
		CU_ASSERT_EQUAL(rows.ncols, 2);
		for (size_t i = 0; i < N; i++) {
			CU_ASSERT_EQUAL(pl_col_i64(&rows.cols[0])[i], k[i]);
			CU_ASSERT_EQUAL(pl_col_i64(&rows.cols[1])[i], p[i]);
		}
		if (pass == 0)
			CU_ASSERT_EQUAL(pl_op_sort.partial(&r.op, &e, &r.err),
					0);
	}
	CU_ASSERT_EQUAL(c.rows.nrows, N);
	end(&r);
	CU_ASSERT_EQUAL_FATAL(start(&r, "k desc", "5", NULL, &s, 1000), 0);
	CU_ASSERT_PTR_NULL(r.op.rows_stored);
	end(&r);
	collector_free(&c);
	pl_schema_free(&s);
	pl_batch_free(b[0], tpool);
	pl_batch_free(b[1], tpool);
}

static void test_strings(void)
{
	const char *v[] = {"b", "a", "ab", "", "B", "a"};
	pl_schema s;
	pl_error err;
	schema2(&s, PL_STRING, PL_INT64);
	pl_batch *b = pl_batch_new(&s, 6, tpool, &err);
	for (int i = 0; i < 6; i++) {
		pl_column_push_str(&b->cols[0], v[i], strlen(v[i]), tpool,
				   &err);
		pl_column_push_i64(&b->cols[1], i, tpool, &err);
	}
	pl_column_push_null(&b->cols[0], tpool, &err);
	pl_column_push_i64(&b->cols[1], 6, tpool, &err);
	pl_batch_sync_rows(b);
	run r;
	collector c;
	collector_init(&c, &s);
	pl_emitter e = {collect, &c};
	CU_ASSERT_EQUAL_FATAL(start(&r, "k", NULL, NULL, &s, 4), 0);
	CU_ASSERT_EQUAL(pl_op_sort.process(&r.op, b, &e, &r.err), 0);
	CU_ASSERT_EQUAL(pl_op_sort.finish(&r.op, &e, &r.err), 0);
	/* "" < "B" < "a" (1) < "a" (5) < "ab" < "b" < NULL */
	expect(&c, 1, (int64_t[]){3, 4, 1, 5, 2, 0, 6}, 7);
	CU_ASSERT_EQUAL(c.batches, 2);
	CU_ASSERT_EQUAL(c.max_rows, 4);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

static void test_limit_across_batches(void)
{
	int64_t k[] = {9, 3, 7, 1, 8, 2, 6, 0, 5},
		p[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
	pl_batch *b[3] = {ints(k, p, 3), ints(k + 3, p + 3, 3),
			  ints(k + 6, p + 6, 3)};
	collector c;
	CU_ASSERT_EQUAL(sort_batches("k", "4", NULL, b, 3, 3, &c), 0);
	expect(&c, 0, (int64_t[]){0, 1, 2, 3}, 4);
	expect(&c, 1, (int64_t[]){7, 3, 5, 1}, 4);
	CU_ASSERT_EQUAL(c.batches, 2);
	collector_free(&c);
	CU_ASSERT_EQUAL(sort_batches("k", "0", NULL, b, 3, 3, &c), 0);
	CU_ASSERT_EQUAL(c.rows.nrows, 0);
	collector_free(&c);
	for (int i = 0; i < 3; i++)
		pl_batch_free(b[i], tpool);
}

typedef struct pair {
	int64_t k, p;
} pair;

static int cmp_pair(const void *a, const void *b)
{
	const pair *x = a, *y = b;
	if (x->k != y->k)
		return x->k > y->k ? -1 : 1;
	return (x->p > y->p) - (x->p < y->p);
}

/* 100000 rows, top 10 descending with many ties, against qsort over
 * (key desc, position) of the same data; the operator's peak memory
 * stays far below what holding every row would take. */
static void test_limit_pruning(void)
{
	enum { N = 100000, B = 1000, L = 10 };
	pair *all = malloc(N * sizeof(*all));
	int64_t *k = malloc(N * sizeof(*k)), *p = malloc(N * sizeof(*p));
	uint64_t x = 12345;
	for (int i = 0; i < N; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		k[i] = (int64_t)(x >> 33) % 5000;
		p[i] = i;
		all[i] = (pair){k[i], i};
	}
	qsort(all, N, sizeof(*all), cmp_pair);
	run r;
	pl_schema s;
	collector c;
	schema2(&s, PL_INT64, PL_INT64);
	collector_init(&c, &s);
	pl_emitter e = {collect, &c};
	CU_ASSERT_EQUAL_FATAL(start(&r, "k desc", "10", NULL, &s, B), 0);
	for (int i = 0; i < N; i += B) {
		pl_batch *b = ints(k + i, p + i, B);
		CU_ASSERT_EQUAL(pl_op_sort.process(&r.op, b, &e, &r.err), 0);
		pl_batch_free(b, tpool);
	}
	CU_ASSERT_EQUAL(pl_op_sort.finish(&r.op, &e, &r.err), 0);
	CU_ASSERT(pl_pool_get_stats(r.pool).bytes_peak < 200000);
	end(&r);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, L);
	for (int i = 0; i < L; i++) {
		CU_ASSERT_EQUAL(at(&c, 0, i), all[i].k);
		CU_ASSERT_EQUAL(at(&c, 1, i), all[i].p);
	}
	collector_free(&c);
	pl_schema_free(&s);
	free(all);
	free(k);
	free(p);
}

/* db-benchmark q8: the two largest v per id, as (id, v) rows. */
static void test_per_top_n(void)
{
	int64_t id[] = {1, 2, 1, 2, 1, 3, 2, 1, NA, NA, NA};
	int64_t v[] = {5, 7, 9, 1, 5, 4, 8, 2, 1, 3, 2};
	pl_batch *b[2] = {ints(id, v, 6), ints(id + 6, v + 6, 5)};
	collector c;
	CU_ASSERT_EQUAL(sort_batches("p desc", "2", "k", b, 2, 1, &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, 7);
	CU_ASSERT_EQUAL(c.max_rows, 1);
	/* groups come out in key order here; within each, v descending */
	expect(&c, 0, (int64_t[]){1, 1, 2, 2, 3, NA, NA}, 7);
	expect(&c, 1, (int64_t[]){9, 5, 8, 7, 4, 3, 2}, 7);
	collector_free(&c);
	pl_batch_free(b[0], tpool);
	pl_batch_free(b[1], tpool);
}

/* A row for the top-N checks: its group, its sort key (NULL when the
 * flag says so), its position in the input going in column q. */
typedef struct trow {
	int64_t k;
	double v;
	bool k_null, v_null;
} trow;

/* Batches of n rows, chunk rows each, of schema (k, p, q): k int64 or a
 * string made from it, p int64 or float64, q the row's position. */
static size_t trow_batches(const pl_schema *s, const trow *r, size_t n,
			   size_t chunk, pl_batch **out)
{
	pl_error err;
	size_t nb = 0;
	for (size_t from = 0; from < n; from += chunk, nb++) {
		size_t m = n - from < chunk ? n - from : chunk;
		pl_batch *b = pl_batch_new(s, m, tpool, &err);
		for (size_t i = from; i < from + m; i++) {
			char key[32];
			int len = snprintf(key, sizeof(key), "g%lld",
					   (long long)r[i].k);
			if (r[i].k_null)
				pl_column_push_null(&b->cols[0], tpool, &err);
			else if (s->fields[0].type == PL_STRING)
				pl_column_push_str(&b->cols[0], key,
						   (size_t)len, tpool, &err);
			else
				pl_column_push_i64(&b->cols[0], r[i].k, tpool,
						   &err);
			if (r[i].v_null)
				pl_column_push_null(&b->cols[1], tpool, &err);
			else if (s->fields[1].type == PL_FLOAT64)
				pl_column_push_f64(&b->cols[1], r[i].v, tpool,
						   &err);
			else
				pl_column_push_i64(&b->cols[1], (int64_t)r[i].v,
						   tpool, &err);
			pl_column_push_i64(&b->cols[2], (int64_t)i, tpool,
					   &err);
		}
		pl_batch_sync_rows(b);
		out[nb] = b;
	}
	return nb;
}

/* Runs a sort over batches of schema s; *peak gets its pool's peak. */
static int sort_schema(const char *by, const char *limit, const char *per,
		       const pl_schema *s, pl_batch **in, size_t nin,
		       collector *c, size_t *peak)
{
	run r;
	collector_init(c, s);
	pl_emitter e = {collect, c};
	int rc = start(&r, by, limit, per, s, 4096);
	for (size_t i = 0; i < nin && rc == 0; i++)
		rc = pl_op_sort.process(&r.op, in[i], &e, &r.err);
	if (rc == 0)
		rc = pl_op_sort.finish(&r.op, &e, &r.err);
	*peak = pl_pool_get_stats(r.pool).bytes_peak;
	end(&r);
	return rc;
}

static bool same_row(const collector *a, size_t i, const collector *b, size_t j)
{
	for (size_t k = 0; k < 3; k++)
		if (pl_column_compare(&a->rows.cols[k], i, &b->rows.cols[k],
				      j) != 0)
			return false;
	return true;
}

/* [sort] by, limit, per = k against the whole input sorted by k, then by,
 * cut to the first limit rows of each k: the same rows, the same order.
 * Returns the top-N run's peak pool bytes. */
static size_t check_top(const pl_schema *s, const trow *r, size_t n,
			size_t chunk, const char *by, size_t limit)
{
	pl_batch **b = malloc((n / chunk + 2) * sizeof(*b));
	size_t nb = trow_batches(s, r, n, chunk, b), peak, unused;
	char all[64], lim[16];
	snprintf(all, sizeof(all), "k, %s", by);
	snprintf(lim, sizeof(lim), "%zu", limit);
	collector full, top;
	CU_ASSERT_EQUAL(sort_schema(all, NULL, NULL, s, b, nb, &full, &unused),
			0);
	CU_ASSERT_EQUAL(sort_schema(by, lim, "k", s, b, nb, &top, &peak), 0);
	size_t j = 0, run_len = 0, bad = 0;
	const pl_column *k = &full.rows.cols[0];
	for (size_t i = 0; i < full.rows.nrows; i++) {
		if (i > 0 && pl_column_compare(k, i - 1, k, i) != 0)
			run_len = 0;
		if (run_len++ >= limit)
			continue;
		if (j >= top.rows.nrows || !same_row(&full, i, &top, j))
			bad++;
		j++;
	}
	CU_ASSERT_EQUAL(j, top.rows.nrows);
	CU_ASSERT_EQUAL(bad, 0);
	collector_free(&full);
	collector_free(&top);
	for (size_t i = 0; i < nb; i++)
		pl_batch_free(b[i], tpool);
	free(b);
	return peak;
}

/* The schema (k, p, q) of trow_batches with these types of k and p. */
static void kpq_schema(pl_schema *s, pl_type k, pl_type p)
{
	pl_error err;
	pl_schema_init(s);
	pl_schema_add(s, "k", k, &err);
	pl_schema_add(s, "p", p, &err);
	pl_schema_add(s, "q", PL_INT64, &err);
}

/* check_top for limits 1 .. max: by p either way, and by p then q, both
 * descending. */
static void check_tops(const pl_schema *s, const trow *r, size_t n,
		       size_t chunk, size_t max)
{
	for (size_t limit = 1; limit <= max; limit++) {
		check_top(s, r, n, chunk, "p desc", limit);
		check_top(s, r, n, chunk, "p", limit);
		check_top(s, r, n, chunk, "p desc, q desc", limit);
	}
}

/* Top-N per group over many batches: few and many groups, ties, NULL
 * groups and values, limits on either side of the one-pass top-N's, the
 * batch boundaries anywhere. */
static void test_per_top_n_random(void)
{
	enum { N = 30000 };
	trow *r = malloc(N * sizeof(*r));
	uint64_t x = 7;
	pl_schema s;
	kpq_schema(&s, PL_INT64, PL_INT64);
	const size_t groups[] = {1, 7, 500, 20000},
		     limits[] = {1, 2, 3, 64, 65};
	for (size_t gi = 0; gi < 4; gi++) {
		for (size_t i = 0; i < N; i++)
			r[i] = (trow){(int64_t)(pl_test_rand(&x) % groups[gi]),
				      (double)(pl_test_rand(&x) % 20),
				      pl_test_rand(&x) % 50 == 0,
				      pl_test_rand(&x) % 30 == 0};
		for (size_t li = 0; li < 5; li++) {
			check_top(&s, r, N, 997, "p desc", limits[li]);
			check_top(&s, r, N, 4096, "p", limits[li]);
		}
	}
	pl_schema_free(&s);
	free(r);
}

/* Values that rise through the input enter their group's top every time
 * and push a row out: the store is compacted, so memory stays that of the
 * rows kept, not of the rows seen. */
static void test_per_top_n_compacts(void)
{
	enum { N = 100000, G = 50 };
	trow *r = malloc(N * sizeof(*r));
	pl_schema s;
	kpq_schema(&s, PL_INT64, PL_INT64);
	for (size_t i = 0; i < N; i++)
		r[i] = (trow){(int64_t)(i % G), (double)(i / 3), false, false};
	size_t peak = check_top(&s, r, N, 100, "p desc", 2);
	/* the 100000 rows alone would take 2.4 MB */
	CU_ASSERT(peak < 600000);
	pl_schema_free(&s);
	free(r);
}

/* String groups and float values with NaN (above every number), both
 * zeros, infinities and NULLs (last either way). */
static void test_per_top_n_floats(void)
{
	enum { N = 20000 };
	const double odd[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, 1.5};
	trow *r = malloc(N * sizeof(*r));
	uint64_t x = 3;
	pl_schema s;
	kpq_schema(&s, PL_STRING, PL_FLOAT64);
	for (size_t i = 0; i < N; i++) {
		uint64_t u = pl_test_rand(&x);
		r[i] = (trow){(int64_t)(u % 300),
			      u % 4 ? (double)(pl_test_rand(&x) % 1000) / 8
				    : odd[pl_test_rand(&x) % 6],
			      u % 97 == 0, u % 13 == 0};
	}
	check_tops(&s, r, N, 1500, 4);
	pl_schema_free(&s);
	free(r);
}

/* The codes the slots compare: the extremes of int64 (descending,
 * INT64_MIN's code is the largest, which a group not yet full also
 * holds), NULLs, and ties the second key decides; groups of hundreds of
 * rows and of one or two. */
static void test_per_top_n_extremes(void)
{
	enum { N = 12000 };
	const double odd[] = {-0x1p63, -1, 0, 1, 0x1p62, 9e18};
	trow *r = malloc(N * sizeof(*r));
	uint64_t x = 11;
	pl_schema s;
	kpq_schema(&s, PL_INT64, PL_INT64);
	for (size_t i = 0; i < N; i++) {
		uint64_t u = pl_test_rand(&x);
		int64_t k =
		    u % 2 ? (int64_t)(u % 40) : 100 + (int64_t)(u % 6000);
		r[i] = (trow){k, odd[pl_test_rand(&x) % 6], false, u % 11 == 0};
	}
	check_tops(&s, r, N, 700, 3);
	pl_schema_free(&s);
	free(r);
}

typedef struct fwd {
	run *to;
} fwd;

static int forward(void *arg, pl_batch *b, pl_error *err)
{
	fwd *f = arg;
	return pl_op_sort.merge(&f->to->op, b, err);
}

/* Two instances each see half the input; a third merges their partial
 * results in input order: the same rows as one instance, ties included. */
static void check_partial(const char *by, const char *limit, const char *per)
{
	enum { N = 40 };
	int64_t k[N], p[N];
	for (int i = 0; i < N; i++) {
		k[i] = (i * 7) % 5;
		p[i] = i;
	}
	pl_batch *b[2] = {ints(k, p, 25), ints(k + 25, p + 25, 15)};
	collector one, many;
	CU_ASSERT_EQUAL(sort_batches(by, limit, per, b, 2, 8, &one), 0);
	pl_schema s;
	schema2(&s, PL_INT64, PL_INT64);
	run r[3];
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(start(&r[i], by, limit, per, &s, 8), 0);
	collector_init(&many, &s);
	pl_emitter e = {collect, &many};
	fwd f = {&r[2]};
	pl_emitter m = {forward, &f};
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(
		    pl_op_sort.process(&r[i].op, b[i], &e, &r[i].err), 0);
		CU_ASSERT_EQUAL(pl_op_sort.partial(&r[i].op, &m, &r[i].err), 0);
	}
	CU_ASSERT_EQUAL(pl_op_sort.finish(&r[2].op, &e, &r[2].err), 0);
	CU_ASSERT_EQUAL_FATAL(many.rows.nrows, one.rows.nrows);
	for (size_t i = 0; i < one.rows.nrows; i++) {
		CU_ASSERT_EQUAL(at(&many, 0, i), at(&one, 0, i));
		CU_ASSERT_EQUAL(at(&many, 1, i), at(&one, 1, i));
	}
	for (int i = 0; i < 3; i++)
		end(&r[i]);
	collector_free(&one);
	collector_free(&many);
	pl_schema_free(&s);
	pl_batch_free(b[0], tpool);
	pl_batch_free(b[1], tpool);
}

static void test_partial_merge(void)
{
	check_partial("k", NULL, NULL);
	check_partial("k desc", "7", NULL);
	check_partial("p desc", "3", "k");
}

static void check_error(const char *by, const char *limit, const char *per,
			const char *msg)
{
	run r;
	pl_schema s;
	schema2(&s, PL_INT64, PL_STRING);
	CU_ASSERT_EQUAL(start(&r, by, limit, per, &s, 8), PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, msg));
	if (strstr(r.err.msg, msg) == NULL)
		fprintf(stderr, "\n  got: %s\n  want: %s\n", r.err.msg, msg);
	end(&r);
	pl_schema_free(&s);
}

static void test_errors(void)
{
	check_error("q", NULL, NULL, "job.conf:2: [sort] unknown column 'q'");
	check_error("k, pp", NULL, NULL, "job.conf:2:");
	check_error("k", NULL, "x", "job.conf:4: [sort] unknown column 'x'");
	check_error("k up", NULL, NULL, "job.conf:2:");
	check_error("k up", NULL, NULL, "'up'");
	check_error("k,", NULL, NULL, "job.conf:2:");
	check_error("k desc p", NULL, NULL, "job.conf:2:");
	check_error("k", NULL, "p desc", "job.conf:4:");
	check_error("k", NULL, "p", "per needs a limit");
	check_error("k", "-1", NULL, "job.conf:3:");
	check_error("`k", NULL, NULL, "job.conf:2:");
	check_error(NULL, "3", NULL, "needs by");
}

/* Every allocation of the operator fails in turn: each run fails cleanly
 * with PL_ERR_NOMEM and gives back all it took (end() checks), until one
 * succeeds with the right answer. */
static void test_fault_injection(void)
{
	enum { N = 50 };
	int64_t k[N], p[N];
	for (int i = 0; i < N; i++) {
		k[i] = (i * 13) % 17;
		p[i] = i;
	}
	pl_schema s;
	schema2(&s, PL_INT64, PL_INT64);
	const char *per[] = {NULL, "k"};
	for (int mode = 0; mode < 3; mode++) {
		int rc = -1;
		uint64_t n = 1;
		for (; rc != 0 && n < 1000; n++) {
			run r;
			collector c;
			collector_init(&c, &s);
			pl_emitter e = {collect, &c};
			const char *limit[] = {NULL, "3", "2"};
			rc = start_failing(&r, mode ? "p desc" : "k",
					   limit[mode], per[mode == 2], &s, 7,
					   n);
			for (int i = 0; i < N && rc == 0; i += 10) {
				pl_batch *b = ints(k + i, p + i, 10);
				rc = pl_op_sort.process(&r.op, b, &e, &r.err);
				pl_batch_free(b, tpool);
			}
			if (rc == 0)
				rc = pl_op_sort.finish(&r.op, &e, &r.err);
			CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
			/* 17 groups of 2 or 3 rows each, top 2 of each */
			size_t want[] = {N, 3, 34};
			if (rc == 0)
				CU_ASSERT_EQUAL(c.rows.nrows, want[mode]);
			end(&r);
			collector_free(&c);
		}
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(n > 5);
	}
	pl_schema_free(&s);
}

/* A fresh directory for spill files (malloc'd path). */
static char *spill_dir_new(void)
{
	char *dir = strdup("/tmp/pl-test-sort-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	return dir;
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	bool empty = d != NULL;
	for (struct dirent *e; d && (e = readdir(d)) != NULL;)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	if (d)
		closedir(d);
	return empty;
}

/* What a run under a small budget did besides its output. */
typedef struct spill_result {
	size_t runs;
	uint64_t bytes;
} spill_result;

/* Runs a sort over batches of schema s under budget (spilling to dir),
 * emitting chunk rows at most per batch. */
static int sort_spilling(const char *by, const char *limit, const char *per,
			 const pl_schema *s, pl_batch **in, size_t nin,
			 size_t budget, const char *dir, size_t chunk,
			 collector *c, spill_result *res)
{
	run r;
	collector_init(c, s);
	pl_emitter e = {collect, c};
	run_budget = budget;
	run_spill_dir = dir;
	int rc = start(&r, by, limit, per, s, chunk);
	run_budget = SIZE_MAX;
	run_spill_dir = NULL;
	for (size_t i = 0; i < nin && rc == 0; i++)
		rc = pl_op_sort.process(&r.op, in[i], &e, &r.err);
	if (rc == 0)
		rc = pl_op_sort.finish(&r.op, &e, &r.err);
	res->runs = pl_sort_runs(&r.op);
	res->bytes = pl_sort_spilled_bytes(&r.op);
	/* A sort that spilled no longer lends its rows by position. */
	if (res->runs > 0)
		CU_ASSERT(r.op.rows_at == NULL && r.op.rows_stored == NULL);
	end(&r);
	return rc;
}

static bool same_rows(const collector *a, const collector *b)
{
	if (a->rows.nrows != b->rows.nrows)
		return false;
	for (size_t i = 0; i < a->rows.nrows; i++)
		if (!same_row(a, i, b, i))
			return false;
	return true;
}

/* Schema (k string, p int64, q int64 = input position) over n rows of
 * random groups and values, some NULL, with many duplicates. */
static size_t spill_input(pl_schema *s, size_t n, size_t chunk, pl_batch **b)
{
	trow *r = malloc(n * sizeof(*r));
	uint64_t x = 11;
	for (size_t i = 0; i < n; i++)
		r[i] = (trow){(int64_t)(pl_test_rand(&x) % 3000),
			      (double)(pl_test_rand(&x) % 40),
			      pl_test_rand(&x) % 40 == 0,
			      pl_test_rand(&x) % 25 == 0};
	kpq_schema(s, PL_STRING, PL_INT64);
	size_t nb = trow_batches(s, r, n, chunk, b);
	free(r);
	return nb;
}

/* Equal keys in input order (q ascending) and keys in order. */
static void check_sorted_stable(const collector *c)
{
	const pl_column *k = &c->rows.cols[0], *p = &c->rows.cols[1],
			*q = &c->rows.cols[2];
	size_t bad = 0;
	for (size_t i = 1; i < c->rows.nrows; i++) {
		int r = pl_column_compare(k, i - 1, k, i);
		/* p descending, NULLs still last */
		bool nulls =
		    pl_column_is_null(p, i - 1) || pl_column_is_null(p, i);
		if (r == 0)
			r = (nulls ? 1 : -1) *
			    pl_column_compare(p, i - 1, p, i);
		if (r > 0 ||
		    (r == 0 && pl_col_i64(q)[i - 1] >= pl_col_i64(q)[i]))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* 50000 rows under budgets of 64 KiB (dozens of runs, merged in two
 * levels) and 1 MiB (a few runs, one merge): the rows and order the
 * in-memory sort gives, stable, in batches of at most chunk_rows, with
 * the spill directory empty afterwards. */
static void test_spill_full_sort(void)
{
	enum { N = 50000, CHUNK = 997 };
	pl_batch **b = malloc((N / CHUNK + 2) * sizeof(*b));
	pl_schema s;
	size_t nb = spill_input(&s, N, CHUNK, b), peak;
	char *dir = spill_dir_new();
	collector ref, got;
	CU_ASSERT_EQUAL(
	    sort_schema("k, p desc", NULL, NULL, &s, b, nb, &ref, &peak), 0);
	CU_ASSERT_EQUAL_FATAL(ref.rows.nrows, N);
	check_sorted_stable(&ref);
	const size_t budgets[] = {64 << 10, 1 << 20};
	for (size_t i = 0; i < 2; i++) {
		spill_result res;
		CU_ASSERT_EQUAL(sort_spilling("k, p desc", NULL, NULL, &s, b,
					      nb, budgets[i], dir, 500, &got,
					      &res),
				0);
		CU_ASSERT(same_rows(&ref, &got));
		CU_ASSERT(got.max_rows <= 500);
		CU_ASSERT(res.runs >= (i == 0 ? 17u : 3u));
		CU_ASSERT(i == 1 || res.runs > 16);
		CU_ASSERT(i == 0 || res.runs <= 16);
		CU_ASSERT(res.bytes > 0);
		CU_ASSERT(dir_empty(dir));
		collector_free(&got);
	}
	collector_free(&ref);
	rmdir(dir);
	free(dir);
	for (size_t i = 0; i < nb; i++)
		pl_batch_free(b[i], tpool);
	free(b);
	pl_schema_free(&s);
}

/* Limits cut while spilling and merging: overall, and per group above
 * the one-pass top-N; the same rows as in memory. */
static void test_spill_limits(void)
{
	enum { N = 50000, CHUNK = 1000 };
	pl_batch **b = malloc((N / CHUNK + 2) * sizeof(*b));
	pl_schema s;
	size_t nb = spill_input(&s, N, CHUNK, b), peak;
	char *dir = spill_dir_new();
	const char *cases[][3] = {{"p desc, k", "30000", NULL},
				  {"p desc, k", "700", NULL},
				  {"k", "100", "p"},
				  {"k desc, q", "65", "p"}};
	for (size_t i = 0; i < 4; i++) {
		collector ref, got;
		spill_result res;
		CU_ASSERT_EQUAL(sort_schema(cases[i][0], cases[i][1],
					    cases[i][2], &s, b, nb, &ref,
					    &peak),
				0);
		CU_ASSERT_EQUAL(sort_spilling(cases[i][0], cases[i][1],
					      cases[i][2], &s, b, nb, 64 << 10,
					      dir, 4096, &got, &res),
				0);
		CU_ASSERT(ref.rows.nrows > 0);
		CU_ASSERT(same_rows(&ref, &got));
		CU_ASSERT(res.runs > 1);
		CU_ASSERT(dir_empty(dir));
		collector_free(&ref);
		collector_free(&got);
	}
	rmdir(dir);
	free(dir);
	for (size_t i = 0; i < nb; i++)
		pl_batch_free(b[i], tpool);
	free(b);
	pl_schema_free(&s);
}

/* Every allocation of a spilling sort (runs merged in two levels) fails
 * in turn: each run fails cleanly with PL_ERR_NOMEM, gives back all it
 * took and leaves no file, until one succeeds with the right answer. */
static void test_spill_fault_injection(void)
{
	enum { N = 2400, CHUNK = 50, BUDGET = 12 << 10 };
	pl_batch **b = malloc((N / CHUNK + 2) * sizeof(*b));
	pl_schema s;
	size_t nb = spill_input(&s, N, CHUNK, b), peak;
	char *dir = spill_dir_new();
	collector ref;
	spill_result res = {0, 0};
	CU_ASSERT_EQUAL(
	    sort_schema("k desc, p", NULL, NULL, &s, b, nb, &ref, &peak), 0);
	int rc = -1;
	uint64_t n = 1;
	for (; rc != 0 && n < 100000; n++) {
		run r;
		collector c;
		collector_init(&c, &s);
		pl_emitter e = {collect, &c};
		run_budget = BUDGET;
		run_spill_dir = dir;
		rc = start_failing(&r, "k desc, p", NULL, NULL, &s, 64, n);
		run_budget = SIZE_MAX;
		run_spill_dir = NULL;
		for (size_t i = 0; i < nb && rc == 0; i++)
			rc = pl_op_sort.process(&r.op, b[i], &e, &r.err);
		if (rc == 0)
			rc = pl_op_sort.finish(&r.op, &e, &r.err);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		if (rc == 0) {
			CU_ASSERT(same_rows(&ref, &c));
			res.runs = pl_sort_runs(&r.op);
		}
		end(&r);
		CU_ASSERT(dir_empty(dir));
		collector_free(&c);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(res.runs > 16);
	collector_free(&ref);
	rmdir(dir);
	free(dir);
	for (size_t i = 0; i < nb; i++)
		pl_batch_free(b[i], tpool);
	free(b);
	pl_schema_free(&s);
}

/* Whether idx is in the keys' order, equal rows in increasing index
 * (the order they started in). */
static size_t misordered(const uint32_t *idx, size_t n, const pl_column *cols,
			 const pl_order_key *keys, size_t nkeys)
{
	size_t bad = 0;
	for (size_t i = 1; i < n; i++) {
		int r =
		    pl_row_order_compare(cols, keys, nkeys, idx[i - 1], idx[i]);
		bad += r > 0 || (r == 0 && idx[i - 1] >= idx[i]);
	}
	return bad;
}

/* Sorts the rows of cols (two columns of n rows) by the first, then by
 * both, in every direction: each order must be the comparator's, stable,
 * with every row once. Frees the columns and the pool. */
static void check_every_order(pl_column *cols, size_t n, pl_pool *pool)
{
	pl_error err;
	uint32_t *idx = malloc(n * sizeof(*idx));
	CU_ASSERT_PTR_NOT_NULL_FATAL(idx);
	for (int dir = 0; dir < 4; dir++) {
		pl_order_key keys[2] = {{0, dir & 1}, {1, dir & 2}};
		for (size_t nkeys = 1; nkeys <= 2; nkeys++) {
			for (size_t i = 0; i < n; i++)
				idx[i] = (uint32_t)i;
			CU_ASSERT_EQUAL(pl_row_order_sort(idx, n, cols, keys,
							  nkeys, pool, &err),
					0);
			CU_ASSERT_EQUAL(misordered(idx, n, cols, keys, nkeys),
					0);
			uint64_t sum = 0;
			for (size_t i = 0; i < n; i++)
				sum += idx[i];
			CU_ASSERT_EQUAL(sum, (uint64_t)n * (n - 1) / 2);
		}
	}
	free(idx);
	pl_column_free(&cols[0], pool);
	pl_column_free(&cols[1], pool);
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
}

/* A first key of doubles (NaN, both zeros, infinities, NULLs, many
 * repeats) and a second of integers with NULLs, in every direction: the
 * radix path (3000 rows) gives the comparator's order, stably, and every
 * row once. */
static void test_radix_order(void)
{
	enum { N = 3000 };
	const double special[] = {NAN,	     -0.0,   0.0,   INFINITY,
				  -INFINITY, 1e-310, -1e308};
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_error err;
	pl_column cols[2];
	pl_column_init(&cols[0], PL_FLOAT64, N, 0, pool, &err);
	pl_column_init(&cols[1], PL_INT64, N, 0, pool, &err);
	uint64_t x = 12345;
	for (size_t i = 0; i < N; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		unsigned pick = (unsigned)(x >> 33) % 16;
		if (pick == 0)
			pl_column_push_null(&cols[0], pool, &err);
		else if (pick < 8)
			pl_column_push_f64(&cols[0], special[pick - 1], pool,
					   &err);
		else
			pl_column_push_f64(&cols[0],
					   (double)((x >> 40) % 50) - 25.5,
					   pool, &err);
		if ((x >> 20) % 10 == 0)
			pl_column_push_null(&cols[1], pool, &err);
		else
			pl_column_push_i64(&cols[1], (int64_t)(x >> 50) % 7 - 3,
					   pool, &err);
	}
	check_every_order(cols, N, pool);
}

/* The same for a first key of strings: shared prefixes longer than 8
 * bytes, zero bytes inside and at the end, the empty string, NULLs,
 * strings past the radix's 256 bytes that differ only at their end. */
static void test_radix_order_strings(void)
{
	enum { N = 4000 };
	static const char *const stem[] = {
	    "", "a", "id000000", "id0000001", "id00000012345", "zz"};
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_error err;
	pl_column cols[2];
	pl_column_init(&cols[0], PL_STRING, N, 0, pool, &err);
	pl_column_init(&cols[1], PL_INT64, N, 0, pool, &err);
	char buf[400];
	uint64_t x = 777;
	for (size_t i = 0; i < N; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		unsigned pick = (unsigned)(x >> 33);
		if (pick % 13 == 0) {
			pl_column_push_null(&cols[0], pool, &err);
		} else if (pick % 13 == 1) {
			memset(buf, 'q', 300);
			buf[299] = (char)('a' + (x >> 20) % 3);
			pl_column_push_str(&cols[0], buf, 300, pool, &err);
		} else {
			const char *s = stem[pick % 6];
			size_t len = strlen(s), tail = (x >> 40) % 4;
			memcpy(buf, s, len);
			for (size_t k = 0; k < tail; k++)
				buf[len + k] =
				    "\0\001x9"[(x >> (44 + 2 * k)) % 4];
			pl_column_push_str(&cols[0], buf, len + tail, pool,
					   &err);
		}
		pl_column_push_i64(&cols[1], (int64_t)(x >> 55) % 5, pool,
				   &err);
	}
	check_every_order(cols, N, pool);
}

static const pl_test tests[] = {
    {"asc_desc", test_asc_desc},
    {"multi_key", test_multi_key},
    {"nulls_last", test_nulls_last},
    {"stable", test_stable},
    {"rows_stored", test_rows_stored},
    {"strings", test_strings},
    {"limit_across_batches", test_limit_across_batches},
    {"limit_pruning", test_limit_pruning},
    {"per_top_n", test_per_top_n},
    {"per_top_n_random", test_per_top_n_random},
    {"per_top_n_compacts", test_per_top_n_compacts},
    {"per_top_n_floats", test_per_top_n_floats},
    {"per_top_n_extremes", test_per_top_n_extremes},
    {"partial_merge", test_partial_merge},
    {"errors", test_errors},
    {"fault_injection", test_fault_injection},
    {"spill_full_sort", test_spill_full_sort},
    {"spill_limits", test_spill_limits},
    {"spill_fault_injection", test_spill_fault_injection},
    {"radix_order", test_radix_order},
    {"radix_order_strings", test_radix_order_strings},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
	tpool = pl_pool_create(1 << 20);
	int rc = pl_test_main("sort", tests, argc, argv);
	pl_pool_destroy(tpool);
	return rc;
}

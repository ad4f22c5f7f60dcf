/* [distinct]: all or some columns, NULLs equal each other, first
 * occurrences in input order, table growth, partial/merge, errors, fault
 * injection. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "operators/row_store.h"
#include "pipeline/operator.h"

extern const pl_operator_def pl_op_distinct;

#define NA INT64_MIN

typedef struct run {
	pl_pool *pool;
	pl_op_env env;
	pl_operator op;
	pl_schema out;
	pl_error err;
	pl_section sec;
	pl_kv kv[2];
} run;

typedef struct collector {
	pl_row_store rows;
	size_t batches, max_rows;
} collector;

static pl_pool *tpool;

static int collect(void *arg, pl_batch *b, pl_error *err)
{
	collector *c = arg;
	c->batches++;
	if (b->nrows > c->max_rows)
		c->max_rows = b->nrows;
	return pl_row_store_take(&c->rows, b->cols, NULL, NULL, b->nrows, tpool,
				 err);
}

static void collector_init(collector *c, const pl_schema *s)
{
	pl_error err;
	memset(c, 0, sizeof(*c));
	pl_row_store_init(&c->rows, s, NULL, 0, tpool, &err);
}

static void collector_free(collector *c)
{
	pl_row_store_free(&c->rows, tpool);
}

/* key = value on line 5 (key NULL: an empty section); the operator's
 * pool fails from its fail-th allocation on (0: never). */
static int start(run *r, const char *key, const char *value,
		 const pl_schema *in, size_t chunk, uint64_t fail)
{
	memset(r, 0, sizeof(*r));
	r->pool = pl_pool_create(1 << 20);
	pl_pool_fail_after(r->pool, fail, 1);
	r->env = (pl_op_env){r->pool, 0, 1, SIZE_MAX, chunk, NULL,
			     "t",     1, 0, 0,	      NULL};
	r->kv[0] = (pl_kv){(char *)key, (char *)value, 5};
	r->sec =
	    (pl_section){"distinct", 4, 1, "job.conf", "/", key != NULL, r->kv};
	r->op = (pl_operator){
	    .def = &pl_op_distinct, .env = &r->env, .section = &r->sec};
	pl_schema_init(&r->out);
	return pl_op_distinct.init(&r->op, &r->sec, in, &r->out, &r->err);
}

static void end(run *r)
{
	pl_op_distinct.destroy(&r->op);
	CU_ASSERT_EQUAL(pl_pool_get_stats(r->pool).bytes_out, 0);
	pl_schema_free(&r->out);
	pl_schema_free(&r->op.partial_schema);
	pl_pool_destroy(r->pool);
}

static void schema_ab(pl_schema *s)
{
	pl_error err;
	pl_schema_init(s);
	pl_schema_add(s, "a", PL_INT64, &err);
	pl_schema_add(s, "b", PL_STRING, &err);
}

/* Rows (a, b); NA and a NULL string pointer stand for NULL. */
static pl_batch *rows_ab(const int64_t *a, const char *const *b, size_t n)
{
	pl_schema s;
	pl_error err;
	schema_ab(&s);
	pl_batch *x = pl_batch_new(&s, n, tpool, &err);
	for (size_t i = 0; i < n; i++) {
		if (a[i] == NA)
			pl_column_push_null(&x->cols[0], tpool, &err);
		else
			pl_column_push_i64(&x->cols[0], a[i], tpool, &err);
		if (b[i] == NULL)
			pl_column_push_null(&x->cols[1], tpool, &err);
		else
			pl_column_push_str(&x->cols[1], b[i], strlen(b[i]),
					   tpool, &err);
	}
	pl_batch_sync_rows(x);
	pl_schema_free(&s);
	return x;
}

static int64_t int_at(const collector *c, size_t col, size_t row)
{
	const pl_column *x = &c->rows.cols[col];
	return pl_column_is_null(x, row) ? NA : pl_col_i64(x)[row];
}

/* The string at (col, row), or "NULL". */
static const char *str_at(const collector *c, size_t col, size_t row, char *buf)
{
	const pl_column *x = &c->rows.cols[col];
	size_t len;
	if (pl_column_is_null(x, row))
		return "NULL";
	const char *s = pl_col_str(x, row, &len);
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

static const int64_t A[] = {1, 1, NA, NA, 1, 2, 1, 2};
static const char *const B[] = {"x", "x", "x", "x", NULL, "y", "x", ""};

/* Runs distinct over A/B split in two batches. */
static int run_ab(const char *key, const char *value, collector *c,
		  size_t chunk)
{
	run r;
	pl_schema s;
	schema_ab(&s);
	pl_batch *b[2] = {rows_ab(A, B, 3), rows_ab(A + 3, B + 3, 5)};
	int rc = start(&r, key, value, &s, chunk, 0);
	collector_init(c, &r.out);
	pl_emitter e = {collect, c};
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = pl_op_distinct.process(&r.op, b[i], &e, &r.err);
	if (rc == 0)
		rc = pl_op_distinct.finish(&r.op, &e, &r.err);
	end(&r);
	pl_batch_free(b[0], tpool);
	pl_batch_free(b[1], tpool);
	pl_schema_free(&s);
	return rc;
}

static void test_all_columns(void)
{
	collector c;
	char buf[8];
	CU_ASSERT_EQUAL_FATAL(run_ab(NULL, NULL, &c, 2), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, 5);
	CU_ASSERT_EQUAL(c.rows.ncols, 2);
	const int64_t wa[] = {1, NA, 1, 2, 2};
	const char *wb[] = {"x", "x", "NULL", "y", ""};
	for (size_t i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(int_at(&c, 0, i), wa[i]);
		CU_ASSERT_STRING_EQUAL(str_at(&c, 1, i, buf), wb[i]);
	}
	CU_ASSERT_EQUAL(c.batches, 3);
	CU_ASSERT_EQUAL(c.max_rows, 2);
	collector_free(&c);
}

static void test_some_columns(void)
{
	collector c;
	char buf[8];
	CU_ASSERT_EQUAL_FATAL(run_ab("columns", "`b`", &c, 100), 0);
	CU_ASSERT_EQUAL(c.rows.ncols, 1);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, 4);
	const char *wb[] = {"x", "NULL", "y", ""};
	for (size_t i = 0; i < 4; i++)
		CU_ASSERT_STRING_EQUAL(str_at(&c, 0, i, buf), wb[i]);
	collector_free(&c);
	CU_ASSERT_EQUAL_FATAL(run_ab("columns", "b, a", &c, 100), 0);
	CU_ASSERT_EQUAL(c.rows.ncols, 2);
	CU_ASSERT_EQUAL(c.rows.nrows, 5);
	CU_ASSERT_EQUAL(c.rows.cols[0].type, PL_STRING);
	collector_free(&c);
	CU_ASSERT_EQUAL_FATAL(run_ab("columns", "a", &c, 100), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, 3);
	CU_ASSERT_EQUAL(int_at(&c, 0, 0), 1);
	CU_ASSERT_EQUAL(int_at(&c, 0, 1), NA);
	CU_ASSERT_EQUAL(int_at(&c, 0, 2), 2);
	collector_free(&c);
}

/* -0.0 equals 0.0; 3000 distinct values among 9000 rows make the table
 * grow several times. */
static void test_many_and_floats(void)
{
	enum { N = 9000, D = 3000, CHUNK = 1000 };
	pl_schema s;
	pl_error err;
	pl_schema_init(&s);
	pl_schema_add(&s, "f", PL_FLOAT64, &err);
	run r;
	CU_ASSERT_EQUAL_FATAL(start(&r, NULL, NULL, &s, 512, 0), 0);
	collector c;
	collector_init(&c, &r.out);
	pl_emitter e = {collect, &c};
	for (int i = 0; i < N; i += CHUNK) {
		pl_batch *b = pl_batch_new(&s, CHUNK, tpool, &err);
		for (int j = i; j < i + CHUNK; j++)
			pl_column_push_f64(&b->cols[0],
					   j % D == 0 && j > 0 ? -0.0 : j % D,
					   tpool, &err);
		pl_batch_sync_rows(b);
		CU_ASSERT_EQUAL(pl_op_distinct.process(&r.op, b, &e, &r.err),
				0);
		pl_batch_free(b, tpool);
	}
	CU_ASSERT_EQUAL(pl_op_distinct.finish(&r.op, &e, &r.err), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, D);
	for (int i = 0; i < D; i++)
		CU_ASSERT_EQUAL(pl_col_f64(&c.rows.cols[0])[i], (double)i);
	CU_ASSERT_EQUAL(c.max_rows, 512);
	end(&r);
	collector_free(&c);
	pl_schema_free(&s);
}

typedef struct fwd {
	run *to;
} fwd;

static int forward(void *arg, pl_batch *b, pl_error *err)
{
	fwd *f = arg;
	return pl_op_distinct.merge(&f->to->op, b, err);
}

/* Two instances on halves of the input, merged by a third: the rows of
 * one instance over all of it, in the same order. */
static void test_partial_merge(void)
{
	pl_schema s;
	schema_ab(&s);
	pl_batch *b[2] = {rows_ab(A, B, 4), rows_ab(A + 4, B + 4, 4)};
	run r[3];
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(start(&r[i], "columns", "a, b", &s, 2, 0),
				      0);
	CU_ASSERT_EQUAL(r[0].op.partial_schema.n, 2);
	collector c;
	collector_init(&c, &r[2].out);
	pl_emitter e = {collect, &c};
	fwd f = {&r[2]};
	pl_emitter m = {forward, &f};
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(
		    pl_op_distinct.process(&r[i].op, b[i], &e, &r[i].err), 0);
		CU_ASSERT_EQUAL(pl_op_distinct.partial(&r[i].op, &m, &r[i].err),
				0);
	}
	CU_ASSERT_EQUAL(c.rows.nrows, 0);
	CU_ASSERT_EQUAL(pl_op_distinct.finish(&r[2].op, &e, &r[2].err), 0);
	collector one;
	CU_ASSERT_EQUAL(run_ab(NULL, NULL, &one, 4), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, one.rows.nrows);
	char x[8], y[8];
	for (size_t i = 0; i < one.rows.nrows; i++) {
		CU_ASSERT_EQUAL(int_at(&c, 0, i), int_at(&one, 0, i));
		CU_ASSERT_STRING_EQUAL(str_at(&c, 1, i, x),
				       str_at(&one, 1, i, y));
	}
	for (int i = 0; i < 3; i++)
		end(&r[i]);
	collector_free(&c);
	collector_free(&one);
	pl_batch_free(b[0], tpool);
	pl_batch_free(b[1], tpool);
	pl_schema_free(&s);
}

static void check_error(const char *key, const char *value, const char *msg)
{
	run r;
	pl_schema s;
	schema_ab(&s);
	CU_ASSERT_EQUAL(start(&r, key, value, &s, 8, 0), PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, msg));
	if (strstr(r.err.msg, msg) == NULL)
		fprintf(stderr, "\n  got: %s\n  want: %s\n", r.err.msg, msg);
	end(&r);
	pl_schema_free(&s);
}

static void test_errors(void)
{
	check_error("columns", "a, c",
		    "job.conf:5: [distinct] unknown "
		    "column 'c'");
	check_error("columns", "a, b, a", "job.conf:5:");
	check_error("columns", "a, b, a", "twice");
	check_error("columns", "a,,b", "job.conf:5:");
	check_error("column", "a", "job.conf:5:");
}

static void test_fault_injection(void)
{
	enum { N = 3000 };
	pl_schema s;
	pl_error err;
	pl_schema_init(&s);
	pl_schema_add(&s, "a", PL_INT64, &err);
	pl_schema_add(&s, "b", PL_STRING, &err);
	pl_batch *b = pl_batch_new(&s, N, tpool, &err);
	for (int i = 0; i < N; i++) {
		pl_column_push_i64(&b->cols[0], i % 1500, tpool, &err);
		pl_column_push_str(&b->cols[1], "v", 1, tpool, &err);
	}
	pl_batch_sync_rows(b);
	int rc = -1;
	uint64_t n = 1;
	for (; rc != 0 && n < 1000; n++) {
		run r;
		collector c;
		rc = start(&r, NULL, NULL, &s, 700, n);
		collector_init(&c, &s);
		pl_emitter e = {collect, &c};
		if (rc == 0)
			rc = pl_op_distinct.process(&r.op, b, &e, &r.err);
		if (rc == 0)
			rc = pl_op_distinct.finish(&r.op, &e, &r.err);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		if (rc == 0)
			CU_ASSERT_EQUAL(c.rows.nrows, 1500);
		end(&r);
		collector_free(&c);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(n > 5);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

static const pl_test tests[] = {
    {"all_columns", test_all_columns},
    {"some_columns", test_some_columns},
    {"many_and_floats", test_many_and_floats},
    {"partial_merge", test_partial_merge},
    {"errors", test_errors},
    {"fault_injection", test_fault_injection},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
	tpool = pl_pool_create(1 << 20);
	int rc = pl_test_main("distinct", tests, argc, argv);
	pl_pool_destroy(tpool);
	return rc;
}

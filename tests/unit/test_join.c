/* [join] against right sides written as small CSV files: inner and left,
 * duplicate and NULL keys, multi-key and left:right pairs, int/float keys,
 * name clashes, columns, errors, fault injection. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "operators/row_store.h"
#include "pipeline/operator.h"

extern const pl_operator_def pl_op_join;

#define NA INT64_MIN

typedef struct run {
	pl_pool *pool;
	pl_op_env env;
	pl_operator op;
	pl_schema out;
	pl_error err;
	pl_section sec;
	pl_kv kv[4];
	char path[256];
} run;

typedef struct collector {
	pl_row_store rows;
	size_t batches, max_rows;
} collector;

static pl_pool *tpool;
static char tmpdir[64];

static int collect(void *arg, pl_batch *b, pl_error *err)
{
	collector *c = arg;
	c->batches++;
	if (b->nrows > c->max_rows)
		c->max_rows = b->nrows;
	return pl_row_store_take(&c->rows, b->cols, NULL, NULL, b->nrows, tpool,
				 err);
}

/* Writes text to tmpdir/name and returns its path in buf. */
static const char *write_csv(const char *name, const char *text, char *buf)
{
	snprintf(buf, 256, "%s/%s", tmpdir, name);
	FILE *f = fopen(buf, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	return buf;
}

/* A [join] on line 1 with path (line 2), on (3), how (4), columns (5);
 * NULL leaves a key out. */
static int start(run *r, const char *file, const char *on, const char *how,
		 const char *columns, const pl_schema *in, size_t chunk,
		 uint64_t fail)
{
	memset(r, 0, sizeof(*r));
	r->pool = pl_pool_create(1 << 20);
	pl_pool_fail_after(r->pool, fail, 1);
	r->env = (pl_op_env){r->pool, 0, 1, SIZE_MAX, chunk, NULL,
			     "t",     1, 0, 0,	      NULL};
	snprintf(r->path, sizeof(r->path), "%s/%s", tmpdir, file);
	const char *keys[] = {"path", "on", "how", "columns"};
	const char *vals[] = {r->path, on, how, columns};
	size_t n = 0;
	for (int i = 0; i < 4; i++)
		if (vals[i] != NULL)
			r->kv[n++] =
			    (pl_kv){(char *)keys[i], (char *)vals[i], i + 2};
	r->sec = (pl_section){"join", 1, 1, "job.conf", tmpdir, n, r->kv};
	r->op = (pl_operator){
	    .def = &pl_op_join, .env = &r->env, .section = &r->sec};
	pl_schema_init(&r->out);
	return pl_op_join.init(&r->op, &r->sec, in, &r->out, &r->err);
}

static void end(run *r)
{
	pl_op_join.destroy(&r->op);
	CU_ASSERT_EQUAL(pl_pool_get_stats(r->pool).bytes_out, 0);
	pl_schema_free(&r->out);
	pl_pool_destroy(r->pool);
}

/* A left batch of int64 columns named by names (comma-free list). */
static pl_batch *ints(pl_schema *s, const char *const *names, size_t ncols,
		      const int64_t *vals, size_t nrows)
{
	pl_error err;
	pl_schema_init(s);
	for (size_t j = 0; j < ncols; j++)
		pl_schema_add(s, names[j], PL_INT64, &err);
	pl_batch *b = pl_batch_new(s, nrows, tpool, &err);
	for (size_t i = 0; i < nrows; i++)
		for (size_t j = 0; j < ncols; j++) {
			int64_t v = vals[i * ncols + j];
			if (v == NA)
				pl_column_push_null(&b->cols[j], tpool, &err);
			else
				pl_column_push_i64(&b->cols[j], v, tpool, &err);
		}
	pl_batch_sync_rows(b);
	return b;
}

/* Value (col, row) as text, "NULL" for NULL. */
static const char *cell(const collector *c, size_t col, size_t row, char *buf)
{
	pl_column_format(&c->rows.cols[col], row, buf, 64);
	return buf;
}

/* Checks every row as "v1|v2|..." */
static void expect_rows(const collector *c, const char *const *want, size_t n)
{
	CU_ASSERT_EQUAL_FATAL(c->rows.nrows, n);
	for (size_t i = 0; i < n; i++) {
		char line[256] = "", buf[64];
		for (size_t j = 0; j < c->rows.ncols; j++) {
			if (j > 0)
				strcat(line, "|");
			strcat(line, cell(c, j, i, buf));
		}
		CU_ASSERT_STRING_EQUAL(line, want[i]);
	}
}

/* Joins the batch and collects the output; returns the status. */
static int join_one(run *r, const pl_batch *b, collector *c)
{
	pl_error e;
	memset(c, 0, sizeof(*c));
	pl_row_store_init(&c->rows, &r->out, NULL, 0, tpool, &e);
	pl_emitter em = {collect, c};
	int rc = pl_op_join.process(&r->op, b, &em, &r->err);
	if (rc == 0)
		rc = pl_op_join.finish(&r->op, &em, &r->err);
	return rc;
}

static void collector_free(collector *c)
{
	pl_row_store_free(&c->rows, tpool);
}

static const char *const ID_V[] = {"id", "v"};
static const int64_t LEFT[] = {1, 10, 2, 20, 3, 30, NA, 40, 2, 50};

static void check_join(const char *how, const char *const *want, size_t n)
{
	char p[256];
	write_csv("r1.csv", "id,w\n2,b\n1,a\n4,d\n,n\n", p);
	pl_schema s;
	pl_batch *b = ints(&s, ID_V, 2, LEFT, 5);
	run r;
	collector c;
	CU_ASSERT_EQUAL_FATAL(start(&r, "r1.csv", "id", how, NULL, &s, 100, 0),
			      0);
	CU_ASSERT_EQUAL(r.out.n, 3);
	CU_ASSERT_STRING_EQUAL(r.out.fields[2].name, "w");
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	expect_rows(&c, want, n);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

static void test_inner(void)
{
	const char *want[] = {"1|10|a", "2|20|b", "2|50|b"};
	check_join(NULL, want, 3);
	check_join("inner", want, 3);
}

static void test_left(void)
{
	const char *want[] = {"1|10|a", "2|20|b", "3|30|NULL", "NULL|40|NULL",
			      "2|50|b"};
	check_join("left", want, 5);
}

/* One left row meeting three right rows: all of them, in right order,
 * cut into batches of chunk_rows. */
static void test_duplicates(void)
{
	char p[256];
	write_csv("r2.csv", "id,w\n1,x\n2,y\n1,z\n1,w\n", p);
	pl_schema s;
	const int64_t left[] = {1, 7, 2, 8, 5, 9};
	pl_batch *b = ints(&s, ID_V, 2, left, 3);
	run r;
	collector c;
	CU_ASSERT_EQUAL_FATAL(start(&r, "r2.csv", "id", "left", NULL, &s, 2, 0),
			      0);
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	const char *want[] = {"1|7|x", "1|7|z", "1|7|w", "2|8|y", "5|9|NULL"};
	expect_rows(&c, want, 5);
	CU_ASSERT_EQUAL(c.batches, 3);
	CU_ASSERT_EQUAL(c.max_rows, 2);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

static void test_multi_key_pairs(void)
{
	char p[256];
	write_csv("r3.csv", "k1,k 2,w\n1,1,a\n1,2,b\n2,1,c\n", p);
	pl_schema s;
	const char *names[] = {"a", "b"};
	const int64_t left[] = {1, 2, 2, 1, 1, 1, 2, 2};
	pl_batch *b = ints(&s, names, 2, left, 4);
	run r;
	collector c;
	CU_ASSERT_EQUAL_FATAL(
	    start(&r, "r3.csv", "a:k1, b : `k 2`", NULL, NULL, &s, 100, 0), 0);
	CU_ASSERT_EQUAL(r.out.n, 3);
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	const char *want[] = {"1|2|b", "2|1|c", "1|1|a"};
	expect_rows(&c, want, 3);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

/* int64 keys meet float64 keys by value, from either side. */
static void test_int_float(void)
{
	char p[256];
	write_csv("r4.csv", "id,w\n1.0,a\n2.5,b\n3,c\n-0.0,z\n", p);
	pl_schema s;
	const int64_t left[] = {1, 1, 2, 2, 3, 3, 0, 4};
	pl_batch *b = ints(&s, ID_V, 2, left, 4);
	run r;
	collector c;
	CU_ASSERT_EQUAL_FATAL(start(&r, "r4.csv", "id", NULL, NULL, &s, 100, 0),
			      0);
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	const char *want[] = {"1|1|a", "3|3|c", "0|4|z"};
	expect_rows(&c, want, 3);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);

	write_csv("r5.csv", "id,w\n3,c\n1,a\n", p);
	pl_error err;
	pl_schema_init(&s);
	pl_schema_add(&s, "id", PL_FLOAT64, &err);
	b = pl_batch_new(&s, 3, tpool, &err);
	pl_column_push_f64(&b->cols[0], 1.0, tpool, &err);
	pl_column_push_f64(&b->cols[0], 1.5, tpool, &err);
	pl_column_push_f64(&b->cols[0], 3.0, tpool, &err);
	pl_batch_sync_rows(b);
	CU_ASSERT_EQUAL_FATAL(start(&r, "r5.csv", "id", NULL, NULL, &s, 100, 0),
			      0);
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	const char *want2[] = {"1|a", "3|c"};
	expect_rows(&c, want2, 2);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

static void test_clash_and_columns(void)
{
	char p[256];
	write_csv("r6.csv", "id,v,x\n1,100,7\n", p);
	pl_schema s;
	const int64_t left[] = {1, 10};
	pl_batch *b = ints(&s, ID_V, 2, left, 1);
	run r;
	collector c;
	CU_ASSERT_EQUAL_FATAL(start(&r, "r6.csv", "id", NULL, NULL, &s, 100, 0),
			      0);
	CU_ASSERT_EQUAL_FATAL(r.out.n, 4);
	CU_ASSERT_STRING_EQUAL(r.out.fields[2].name, "v_right");
	CU_ASSERT_STRING_EQUAL(r.out.fields[3].name, "x");
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	const char *want[] = {"1|10|100|7"};
	expect_rows(&c, want, 1);
	end(&r);
	collector_free(&c);
	CU_ASSERT_EQUAL_FATAL(
	    start(&r, "r6.csv", "id", NULL, "x, `id`", &s, 100, 0), 0);
	CU_ASSERT_EQUAL_FATAL(r.out.n, 4);
	CU_ASSERT_STRING_EQUAL(r.out.fields[2].name, "x");
	CU_ASSERT_STRING_EQUAL(r.out.fields[3].name, "id_right");
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	const char *want2[] = {"1|10|7|1"};
	expect_rows(&c, want2, 1);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

/* init fails with PL_ERR_CONF (or code) and a message holding msg. */
static void check_error(const char *file, const char *text, const char *on,
			const char *how, const char *columns,
			const pl_schema *s, int code, const char *msg)
{
	char p[256];
	if (text != NULL)
		write_csv(file, text, p);
	run r;
	CU_ASSERT_EQUAL(start(&r, file, on, how, columns, s, 100, 0), code);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, msg));
	if (strstr(r.err.msg, msg) == NULL)
		fprintf(stderr, "\n  got: %s\n  want: %s\n", r.err.msg, msg);
	end(&r);
}

static void test_errors(void)
{
	pl_schema s, t;
	pl_error err;
	const char *names[] = {"id", "v", "v_right"};
	pl_batch_free(ints(&s, names, 3, NULL, 0), tpool);
	const char *rt = "id,v,name\n1,2,a\n";
	check_error("e.csv", rt, "id", NULL, NULL, &s, PL_ERR_CONF,
		    "job.conf:1: [join] right column 'v' clashes");
	check_error("e.csv", rt, "id", NULL, "v", &s, PL_ERR_CONF,
		    "job.conf:5:");
	check_error("e.csv", rt, "id:name", NULL, "v", &s, PL_ERR_CONF,
		    "job.conf:3: [join] cannot join int64 column 'id' with "
		    "string column 'name'");
	check_error("e.csv", rt, "idd", NULL, NULL, &s, PL_ERR_CONF,
		    "job.conf:3: [join] unknown column 'idd'");
	check_error("e.csv", rt, "id:nam", NULL, NULL, &s, PL_ERR_CONF,
		    "unknown column 'nam'");
	check_error("e.csv", rt, "id", "outer", NULL, &s, PL_ERR_CONF,
		    "job.conf:4:");
	check_error("e.csv", rt, "id", NULL, "zz", &s, PL_ERR_CONF,
		    "job.conf:5:");
	check_error("e.csv", rt, "id", NULL, "name, name", &s, PL_ERR_CONF,
		    "twice");
	check_error("e.csv", rt, "id:", NULL, NULL, &s, PL_ERR_CONF,
		    "job.conf:3:");
	check_error("e.csv", rt, NULL, NULL, NULL, &s, PL_ERR_CONF, "needs on");
	check_error("missing.csv", NULL, "id", NULL, NULL, &s, PL_ERR_IO,
		    "missing.csv");
	pl_schema_init(&t);
	pl_schema_add(&t, "id", PL_BOOL, &err);
	check_error("e.csv", rt, "id", NULL, NULL, &t, PL_ERR_CONF,
		    "cannot join bool column 'id'");
	pl_schema_free(&t);
	pl_schema_free(&s);
}

static void test_fault_injection(void)
{
	char p[256];
	write_csv("r8.csv", "id,w\n1,x\n2,y\n1,z\n,n\n", p);
	pl_schema s;
	const int64_t left[] = {1, 7, 2, 8, 5, 9, NA, 1};
	pl_batch *b = ints(&s, ID_V, 2, left, 4);
	int rc = -1;
	uint64_t n = 1;
	for (; rc != 0 && n < 2000; n++) {
		run r;
		collector c;
		memset(&c, 0, sizeof(c));
		rc = start(&r, "r8.csv", "id", "left", NULL, &s, 2, n);
		if (rc == 0)
			rc = join_one(&r, b, &c);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		if (rc != 0 && rc != PL_ERR_NOMEM)
			fprintf(stderr, "\n  %d: %s\n", rc, r.err.msg);
		if (rc == 0)
			CU_ASSERT_EQUAL(c.rows.nrows, 5);
		end(&r);
		collector_free(&c);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(n > 5);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

/* A left batch (k string, v int64) of n rows; k NULL where ks[i] is. */
static pl_batch *strs(pl_schema *s, const char *const *ks, const int64_t *vs,
		      size_t n)
{
	pl_error err;
	pl_schema_init(s);
	pl_schema_add(s, "k", PL_STRING, &err);
	pl_schema_add(s, "v", PL_INT64, &err);
	pl_batch *b = pl_batch_new(s, n, tpool, &err);
	for (size_t i = 0; i < n; i++) {
		if (ks[i] == NULL)
			pl_column_push_null(&b->cols[0], tpool, &err);
		else
			pl_column_push_str(&b->cols[0], ks[i], strlen(ks[i]),
					   tpool, &err);
		pl_column_push_i64(&b->cols[1], vs[i], tpool, &err);
	}
	pl_batch_sync_rows(b);
	return b;
}

#define LONG_VALUE "a string value longer than a cache line: 0123456789"

/* String keys and string columns gathered from the stored records after
 * the probe: NULL and empty strings kept apart, duplicates in right
 * order, misses and NULL keys of a left join, output cut every 2 rows. */
static void check_strings(const char *how, const char *const *want, size_t n)
{
	char p[256];
	write_csv("r9.csv",
		  "k,s,w,t\nb,xx,1,\na,,2," LONG_VALUE "\nb,yy,,z\n"
		  "c,\"\",3,q\n",
		  p);
	pl_schema s;
	const char *ks[] = {"b", "c", "x", NULL, "a", "b"};
	const int64_t vs[] = {1, 2, 3, 4, 5, 6};
	pl_batch *b = strs(&s, ks, vs, 6);
	run r;
	collector c;
	CU_ASSERT_EQUAL_FATAL(start(&r, "r9.csv", "k", how, NULL, &s, 2, 0), 0);
	if (join_one(&r, b, &c) != 0)
		fprintf(stderr, "\n  %s\n", r.err.msg);
	expect_rows(&c, want, n);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

static void test_strings_gathered(void)
{
	const char *left[] = {"b|1|xx|1|NULL",
			      "b|1|yy|NULL|z",
			      "c|2||3|q",
			      "x|3|NULL|NULL|NULL",
			      "NULL|4|NULL|NULL|NULL",
			      "a|5|NULL|2|" LONG_VALUE,
			      "b|6|xx|1|NULL",
			      "b|6|yy|NULL|z"};
	check_strings("left", left, 8);
	const char *inner[] = {"b|1|xx|1|NULL", "b|1|yy|NULL|z",
			       "c|2||3|q",	"a|5|NULL|2|" LONG_VALUE,
			       "b|6|xx|1|NULL", "b|6|yy|NULL|z"};
	check_strings("inner", inner, 6);
}

/* One key on 1000 right rows: each matching left row gets all of them in
 * right order, across many output batches; a miss gets none. */
static void test_many_duplicates(void)
{
	char p[256];
	char *text = malloc(16 * 1000 + 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	size_t len = (size_t)sprintf(text, "id,w\n");
	for (int i = 0; i < 1000; i++)
		len += (size_t)sprintf(text + len, "7,%d\n", i);
	write_csv("r10.csv", text, p);
	free(text);
	pl_schema s;
	const int64_t left[] = {7, 1, 8, 2, 7, 3};
	pl_batch *b = ints(&s, ID_V, 2, left, 3);
	run r;
	collector c;
	CU_ASSERT_EQUAL_FATAL(
	    start(&r, "r10.csv", "id", "inner", NULL, &s, 64, 0), 0);
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, 2000);
	for (size_t i = 0; i < 2000; i++) {
		CU_ASSERT_EQUAL(pl_col_i64(&c.rows.cols[1])[i],
				i < 1000 ? 1 : 3);
		CU_ASSERT_EQUAL(pl_col_i64(&c.rows.cols[2])[i],
				(int64_t)(i % 1000));
	}
	CU_ASSERT_EQUAL(c.max_rows, 64);
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

/* A right side of 40 columns: NULL bits past the record header's 32. */
static void test_many_columns(void)
{
	char p[256], text[1024];
	size_t len = (size_t)sprintf(text, "id");
	for (int j = 1; j < 40; j++)
		len += (size_t)sprintf(text + len, ",c%d", j);
	for (int row = 1; row <= 2; row++) {
		len += (size_t)sprintf(text + len, "\n%d", row);
		for (int j = 1; j < 40; j++)
			len += (size_t)(row == 2 && (j == 35 || j == 39)
					    ? sprintf(text + len, ",")
					    : sprintf(text + len, ",%d",
						      row * 100 + j));
	}
	strcat(text, "\n");
	write_csv("r11.csv", text, p);
	pl_schema s;
	const int64_t left[] = {2, 0, 1, 0, 3, 0};
	pl_batch *b = ints(&s, ID_V, 2, left, 3);
	run r;
	collector c;
	char buf[64];
	CU_ASSERT_EQUAL_FATAL(
	    start(&r, "r11.csv", "id", "left", NULL, &s, 100, 0), 0);
	CU_ASSERT_EQUAL(r.out.n, 41);
	CU_ASSERT_EQUAL(join_one(&r, b, &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.rows.nrows, 3);
	CU_ASSERT_STRING_EQUAL(cell(&c, 2, 0, buf), "201");   /* c1 */
	CU_ASSERT_STRING_EQUAL(cell(&c, 35, 0, buf), "234");  /* c34 */
	CU_ASSERT_STRING_EQUAL(cell(&c, 36, 0, buf), "NULL"); /* c35 */
	CU_ASSERT_STRING_EQUAL(cell(&c, 37, 0, buf), "236");  /* c36 */
	CU_ASSERT_STRING_EQUAL(cell(&c, 40, 0, buf), "NULL"); /* c39 */
	CU_ASSERT_STRING_EQUAL(cell(&c, 36, 1, buf), "135");
	CU_ASSERT_STRING_EQUAL(cell(&c, 40, 1, buf), "139");
	CU_ASSERT_STRING_EQUAL(cell(&c, 2, 2, buf), "NULL");
	CU_ASSERT_STRING_EQUAL(cell(&c, 36, 2, buf), "NULL");
	end(&r);
	collector_free(&c);
	pl_batch_free(b, tpool);
	pl_schema_free(&s);
}

static const pl_test tests[] = {
    {"inner", test_inner},
    {"left", test_left},
    {"duplicates", test_duplicates},
    {"multi_key_pairs", test_multi_key_pairs},
    {"int_float", test_int_float},
    {"clash_and_columns", test_clash_and_columns},
    {"errors", test_errors},
    {"fault_injection", test_fault_injection},
    {"strings_gathered", test_strings_gathered},
    {"many_duplicates", test_many_duplicates},
    {"many_columns", test_many_columns},
    {NULL, NULL},
};

static void remove_dir(void)
{
	const char *files[] = {"r1.csv",  "r2.csv",  "r3.csv", "r4.csv",
			       "r5.csv",  "r6.csv",  "r8.csv", "r9.csv",
			       "r10.csv", "r11.csv", "e.csv"};
	char p[256];
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, files[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pl_join_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	tpool = pl_pool_create(1 << 20);
	int rc = pl_test_main("join", tests, argc, argv);
	pl_pool_destroy(tpool);
	remove_dir();
	return rc;
}

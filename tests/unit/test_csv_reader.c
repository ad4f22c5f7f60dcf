#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "harness.h"
#include "io/csv_infer.h"
#include "io/csv_reader.h"
#include "io/csv_scan.h"

static pl_pool *pool;
static char dir[64];
static pl_error err;

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
	PL_TEST_MKDTEMP(dir, sizeof(dir), "csv");
	pl_error_clear(&err);
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
	pl_test_rmtree(dir);
}

/* Writes bytes to dir/name; returns the path (static per call slot). */
static char *put(const char *name, const char *data, size_t len)
{
	static char paths[4][256];
	static int slot;
	char *p = paths[slot++ % 4];
	snprintf(p, 256, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static char *puts_file(const char *name, const char *text)
{
	return put(name, text, strlen(text));
}

static void opts_init(pl_csv_options *o, char *path)
{
	memset(o, 0, sizeof(*o));
	pl_schema_init(&o->schema);
	o->paths = malloc(4 * sizeof(char *));
	o->paths[0] = strdup(path);
	o->npaths = 1;
	o->header = 1;
	o->delimiter = ',';
	o->quote = '"';
	o->infer_rows = 10000;
}

static void add_path(pl_csv_options *o, char *path)
{
	o->paths[o->npaths++] = strdup(path);
}

static char **names(size_t n, ...)
{
	va_list ap;
	char **v = malloc(n * sizeof(*v));
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		v[i] = strdup(va_arg(ap, const char *));
	va_end(ap);
	return v;
}

static pl_csv_reader *open_ok(pl_csv_options *o)
{
	pl_csv_reader *r = NULL;
	int rc = pl_csv_reader_open(o, pool, &r, &err);
	if (rc != 0)
		fprintf(stderr, "open: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	return r;
}

static pl_batch *next_ok(pl_csv_reader *r, size_t max)
{
	pl_batch *b = NULL;
	int rc = pl_csv_reader_next(r, max, &b, &err);
	if (rc != 0)
		fprintf(stderr, "next: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	return b;
}

static int str_is(const pl_column *c, size_t i, const char *want, size_t n)
{
	size_t len;
	const char *s = pl_col_str(c, i, &len);
	return !pl_column_is_null(c, i) && len == n && memcmp(s, want, n) == 0;
}

#define STR_IS(c, i, lit) CU_ASSERT(str_is(c, i, lit, sizeof(lit) - 1))

/* Opens path with default options, reads one batch, checks then closes. */
#define READ_ONE(o, r, b)                                                      \
	pl_csv_reader *r = open_ok(&o);                                        \
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);                                       \
	pl_batch *b = next_ok(r, 1000);                                        \
	CU_ASSERT_PTR_NOT_NULL_FATAL(b)

static void done(pl_csv_reader *r, pl_csv_options *o)
{
	pl_csv_reader_close(r);
	pl_csv_options_free(o);
	teardown();
}

static void quoted_fields_kept_byte_for_byte(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o,
		  puts_file("q.csv", "a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n"
				     "\"l1\r\nl2\",plain\n\"\",\"a\nb\"\n"));
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 3);
	STR_IS(&b->cols[0], 0, "x,y");
	STR_IS(&b->cols[1], 0, "he said \"hi\"");
	STR_IS(&b->cols[0], 1, "l1\r\nl2");
	STR_IS(&b->cols[1], 1, "plain");
	STR_IS(&b->cols[0], 2, "");
	STR_IS(&b->cols[1], 2, "a\nb");
	CU_ASSERT_EQUAL(b->line[0], 2);
	CU_ASSERT_EQUAL(b->line[1], 3);
	CU_ASSERT_EQUAL(b->line[2], 5);
	CU_ASSERT_STRING_EQUAL(b->origin, o.paths[0]);
	CU_ASSERT_PTR_NULL(next_ok(r, 1000));
	done(r, &o);
}

static void mixed_line_ends_and_bom(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o,
		  puts_file("m.csv", "\xef\xbb\xbfid,v\r\n1,x\n3,y\r\n5,z"));
	READ_ONE(o, r, b);
	CU_ASSERT_STRING_EQUAL(pl_csv_reader_schema(r)->fields[0].name, "id");
	CU_ASSERT_EQUAL(pl_csv_reader_schema(r)->fields[0].type, PL_INT64);
	CU_ASSERT_EQUAL(b->nrows, 3);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[2], 5);
	STR_IS(&b->cols[1], 0, "x");
	STR_IS(&b->cols[1], 1, "y");
	STR_IS(&b->cols[1], 2, "z");
	CU_ASSERT_EQUAL(b->line[2], 4);
	done(r, &o);
}

static void no_header_names_columns(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("h.csv", "1\t2\n3\tx\n"));
	o.header = 0;
	o.delimiter = '\t';
	READ_ONE(o, r, b);
	const pl_schema *s = pl_csv_reader_schema(r);
	CU_ASSERT_EQUAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "c1");
	CU_ASSERT_STRING_EQUAL(s->fields[1].name, "c2");
	CU_ASSERT_EQUAL(s->fields[1].type, PL_STRING);
	CU_ASSERT_EQUAL(b->nrows, 2);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[1], 3);
	CU_ASSERT_EQUAL(b->line[0], 1);
	done(r, &o);
}

static void null_strings_and_empty_fields(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o,
		  puts_file("n.csv", "a,b,c\nNA,\"\",1\n,x,null\n\"NA\",,2\n"));
	o.nulls = names(2, "NA", "null");
	o.nnulls = 2;
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 3);
	CU_ASSERT(pl_column_is_null(&b->cols[0], 0));
	CU_ASSERT(pl_column_is_null(&b->cols[0], 1));
	STR_IS(&b->cols[0], 2, "NA");
	STR_IS(&b->cols[1], 0, "");
	STR_IS(&b->cols[1], 1, "x");
	CU_ASSERT(pl_column_is_null(&b->cols[1], 2));
	CU_ASSERT_EQUAL(b->cols[2].type, PL_INT64);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[2])[0], 1);
	CU_ASSERT(pl_column_is_null(&b->cols[2], 1));
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[2])[1], 0);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[2])[2], 2);
	done(r, &o);
}

static void empty_lines_are_skipped(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("e.csv", "\na\n\n1\n\r\n2\n\n"));
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[0], 1);
	CU_ASSERT_EQUAL(b->line[0], 4);
	CU_ASSERT_EQUAL(b->line[1], 6);
	done(r, &o);
}

static void inference_rules(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o,
		  puts_file("i.csv",
			    "z,i,f,n,b,e,big,nn,mix\n"
			    "08123,-7,1e3,1.5,TRUE,,9223372036854775808,nan,1\n"
			    "00001,0,2,nan,false,,1,inf,x\n"
			    "1,+12,-0.25,-inf,True,,2,nan,true\n"));
	READ_ONE(o, r, b);
	const pl_schema *s = pl_csv_reader_schema(r);
	pl_type want[] = {PL_STRING,  PL_INT64,	 PL_FLOAT64,
			  PL_FLOAT64, PL_BOOL,	 PL_STRING,
			  PL_FLOAT64, PL_STRING, PL_STRING};
	for (size_t k = 0; k < 9; k++)
		CU_ASSERT_EQUAL(s->fields[k].type, want[k]);
	STR_IS(&b->cols[0], 0, "08123");
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[1])[0], -7);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[1])[2], 12);
	CU_ASSERT_DOUBLE_EQUAL(pl_col_f64(&b->cols[2])[0], 1000.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(pl_col_f64(&b->cols[2])[2], -0.25, 0);
	CU_ASSERT(pl_col_f64(&b->cols[3])[1] != pl_col_f64(&b->cols[3])[1]);
	CU_ASSERT(pl_col_f64(&b->cols[3])[2] < -1e308);
	CU_ASSERT_EQUAL(pl_col_bool(&b->cols[4])[0], 1);
	CU_ASSERT_EQUAL(pl_col_bool(&b->cols[4])[1], 0);
	CU_ASSERT(pl_column_is_null(&b->cols[5], 2));
	CU_ASSERT_DOUBLE_EQUAL(pl_col_f64(&b->cols[6])[0],
			       9223372036854775808.0, 0);
	done(r, &o);
}

static void float_parsing_is_exact(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("f.csv", "v\n0.1\n45.123456\n1e-5\n"
					 "123456789012345678901234567890\n"
					 "2.2250738585072014e-308\n.5\n-0\n"));
	READ_ONE(o, r, b);
	const double *v = pl_col_f64(&b->cols[0]);
	CU_ASSERT_EQUAL(b->nrows, 7);
	CU_ASSERT(v[0] == 0.1);
	CU_ASSERT(v[1] == 45.123456);
	CU_ASSERT(v[2] == 1e-5);
	CU_ASSERT(v[3] == 123456789012345678901234567890.0);
	CU_ASSERT(v[4] == 2.2250738585072014e-308);
	CU_ASSERT(v[5] == 0.5);
	CU_ASSERT(v[6] == 0.0);
	done(r, &o);
}

static void given_schema_types_columns(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("s.csv", "id,v\n1,2\n2,3.5\n"));
	pl_schema_add(&o.schema, "id", PL_STRING, &err);
	pl_schema_add(&o.schema, "v", PL_INT64, &err);
	pl_csv_reader *r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_csv_reader_schema(r)->fields[0].type, PL_STRING);
	pl_batch *b = NULL;
	CU_ASSERT_EQUAL(pl_csv_reader_next(r, 100, &b, &err), PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s.csv:3: column 'v': '3.5' "
					       "is not int64"));
	done(r, &o);
}

static void unknown_schema_column_suggests(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("s.csv", "price,qty\n1,2\n"));
	pl_schema_add(&o.schema, "prise", PL_STRING, &err);
	pl_csv_reader *r = NULL;
	CU_ASSERT_EQUAL(pl_csv_reader_open(&o, pool, &r, &err), PL_ERR_CONF);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no column 'prise'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "did you mean 'price'?"));
	done(NULL, &o);
}

static void files_form_one_table(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("a.csv", "x,y\n1,a\n2,b\n"));
	add_path(&o, puts_file("b.csv", "x,y\n\n3,c\n"));
	add_path(&o, puts_file("c.csv", "x,z\n4,d\n"));
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(b->origin, "a.csv"));
	b = next_ok(r, 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->nrows, 1);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[0], 3);
	CU_ASSERT_EQUAL(b->line[0], 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(b->origin, "b.csv"));
	CU_ASSERT_EQUAL(pl_csv_reader_next(r, 1000, &b, &err), PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "c.csv:1: header differs"));
	done(r, &o);
}

/* One batch is filled again and again unless two are asked for (for a
 * read-ahead thread): then the one handed out last keeps its rows while
 * the other fills. */
static void batches_one_or_two(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("a.csv", "x\n1\n2\n3\n4\n5\n6\n"));
	pl_csv_reader *r = open_ok(&o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	pl_batch *a = next_ok(r, 2), *b = next_ok(r, 2);
	CU_ASSERT_PTR_EQUAL(a, b);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[0], 3);
	pl_csv_reader_two_batches(r);
	pl_batch *c = next_ok(r, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_EQUAL(c, b);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[0], 3);
	CU_ASSERT_EQUAL(pl_col_i64(&c->cols[0])[0], 5);
	pl_batch *d = next_ok(r, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_EQUAL(d, c);
	CU_ASSERT_EQUAL(pl_col_i64(&c->cols[0])[0], 5);
	CU_ASSERT_EQUAL(pl_col_i64(&d->cols[0])[0], 6);
	CU_ASSERT_EQUAL(d->line[0], 7);
	done(r, &o);
}

static void expect_error(const char *text, long long infer, const char *msg)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("t.csv", text));
	o.infer_rows = infer;
	pl_csv_reader *r = open_ok(&o);
	pl_batch *b = NULL;
	int rc = 0;
	while (rc == 0 && (rc = pl_csv_reader_next(r, 2, &b, &err)) == 0 && b)
		;
	CU_ASSERT_EQUAL(rc, PL_ERR_DATA);
	if (strstr(err.msg, msg) == NULL)
		fprintf(stderr, "got '%s', want '%s'\n", err.msg, msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, msg));
	done(r, &o);
}

static void bad_rows_name_their_line(void)
{
	expect_error("a,b\n\"multi\nline\",1\n\n\"x\",2,3\n", 10,
		     "t.csv:5: expected 2 fields, found 3");
	expect_error("a,b\n1,\"p\r\nq\"\n2,r\n\nx,s\n", 2,
		     "t.csv:6: column 'a': 'x' is not int64 as inferred from "
		     "the first rows (set `schema = a:string` or a larger "
		     "`infer_rows`)");
	expect_error("a,b\n1,2\n\"abc,3\n4,5\n", 10,
		     "t.csv:3: field 1: quoted field not closed");
	expect_error("a,b\n1,2\n\"ab\"c,3\n", 10,
		     "t.csv:3: field 1: text after the closing quote");
}

/* After pl_csv_reader_project the dropped columns are in no batch and
 * their values are never converted, but their records are still split:
 * a wrong field count is a bad row. */
static void projection_skips_unused_columns(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("t.csv", "a,b,c\n1,x,2\n3,\"y,z\",4\n"
					 "5,w,oops\n7,v,8,9\n"));
	o.infer_rows = 2;
	pl_csv_reader *r = open_ok(&o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(pl_csv_reader_schema(r)->fields[2].type, PL_INT64);
	const uint8_t keep[] = {0, 1, 0};
	CU_ASSERT_EQUAL(pl_csv_reader_project(r, keep, &err), 0);
	const pl_schema *s = pl_csv_reader_schema(r);
	CU_ASSERT_EQUAL_FATAL(s->n, 1);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "b");
	pl_batch *b = next_ok(r, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->ncols, 1);
	CU_ASSERT_EQUAL_FATAL(b->nrows, 3);
	STR_IS(&b->cols[0], 1, "y,z");
	STR_IS(&b->cols[0], 2, "w");
	CU_ASSERT_EQUAL(b->line[2], 4);
	CU_ASSERT_EQUAL(pl_csv_reader_next(r, 3, &b, &err), PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "t.csv:5: expected 3 fields"));
	CU_ASSERT_EQUAL(pl_csv_reader_project(r, keep, &err), PL_ERR_INTERNAL);
	done(r, &o);
}

static void skip_writes_reject_file(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("r.csv", "a,b\n1,2\n3\n\"q\"x,5\r\n4,5\n7,y\n"
					 "\"z\n"));
	o.skip_errors = 1;
	o.infer_rows = 2;
	char rej[256];
	snprintf(rej, sizeof(rej), "%s/rej.txt", dir);
	o.reject_path = strdup(rej);
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[1], 4);
	CU_ASSERT_EQUAL(b->line[1], 5);
	CU_ASSERT_PTR_NULL(next_ok(r, 1000));
	pl_csv_stats st = pl_csv_reader_stats(r);
	CU_ASSERT_EQUAL(st.rows, 2);
	CU_ASSERT_EQUAL(st.rows_skipped, 4);
	CU_ASSERT_EQUAL(st.bytes_total, 29);
	CU_ASSERT_EQUAL(st.bytes_read, 29);
	pl_csv_reader_close(r);
	FILE *f = fopen(rej, "rb");
	char got[128] = {0};
	CU_ASSERT_EQUAL(fread(got, 1, sizeof(got) - 1, f), 17);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(got, "3\n\"q\"x,5\r\n7,y\n\"z\n");
	pl_csv_options_free(&o);
	teardown();
}

static void reads_zstd_input(void)
{
	setup();
	const char *text = "k,v\n1,\"a\nb\"\n2,c\n";
	char z[256];
	size_t n = ZSTD_compress(z, sizeof(z), text, strlen(text), 3);
	CU_ASSERT_FALSE_FATAL(ZSTD_isError(n));
	pl_csv_options o;
	opts_init(&o, put("t.csv.zst", z, n));
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	STR_IS(&b->cols[1], 0, "a\nb");
	CU_ASSERT_EQUAL(b->line[1], 4);
	CU_ASSERT_EQUAL(pl_csv_reader_stats(r).bytes_read, n);
	done(r, &o);
}

static void truncated_zstd_is_an_error(void)
{
	setup();
	char text[4000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = i % 7 == 6 ? '\n' : (char)('a' + i % 13);
	char z[5000];
	size_t n = ZSTD_compress(z, sizeof(z), text, sizeof(text), 3);
	pl_csv_options o;
	opts_init(&o, put("t.csv.zst", z, n - 5));
	o.header = 0;
	pl_csv_reader *r = NULL;
	pl_batch *b = NULL;
	int rc = pl_csv_reader_open(&o, pool, &r, &err);
	while (rc == 0 && (rc = pl_csv_reader_next(r, 100, &b, &err)) == 0 && b)
		;
	CU_ASSERT_EQUAL(rc, PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "t.csv.zst: "));
	done(r, &o);
}

static void small_batches_span_the_file(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("s.csv", "v,s\n0,a\n1,a\n2,a\n3,a\n4,\"x\ny\"\n"
					 "5,a\n6,a\n7,a\n8,a\n9,a\n"));
	o.infer_rows = 3;
	pl_csv_reader *r = open_ok(&o);
	size_t sizes[5], nb = 0;
	int64_t seen[10], lines[10];
	size_t total = 0;
	pl_batch *b;
	while ((b = next_ok(r, 3)) != NULL && nb < 5) {
		sizes[nb++] = b->nrows;
		for (size_t i = 0; i < b->nrows && total < 10; i++) {
			seen[total] = pl_col_i64(&b->cols[0])[i];
			lines[total++] = b->line[i];
		}
	}
	CU_ASSERT_EQUAL(nb, 4);
	CU_ASSERT_EQUAL(sizes[0], 3);
	CU_ASSERT_EQUAL(sizes[3], 1);
	CU_ASSERT_EQUAL(total, 10);
	CU_ASSERT_EQUAL(seen[9], 9);
	CU_ASSERT_EQUAL(lines[4], 6);
	CU_ASSERT_EQUAL(lines[5], 8);
	CU_ASSERT_EQUAL(lines[9], 12);
	done(r, &o);
}

/* A batch has room for the rows asked for before it fills, instead of
 * doubling up to them; but never for more records than the rest of the
 * input can hold. */
static void batch_room_up_front(void)
{
	setup();
	char *text = malloc(6 * 5000 + 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	size_t len = (size_t)sprintf(text, "v,w\n");
	for (int i = 0; i < 5000; i++)
		len += (size_t)sprintf(text + len, "%d,1\n", i % 1000);
	pl_csv_options o;
	opts_init(&o, put("big.csv", text, len));
	free(text);
	pl_csv_reader *r = open_ok(&o);
	uint64_t before = pl_pool_get_stats(pool).allocs;
	pl_batch *b = next_ok(r, 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->nrows, 4096);
	/* The buffers of two columns and the line numbers, about once each:
	 * 5 allocations, where doubling from 64 rows took 23. */
	CU_ASSERT(pl_pool_get_stats(pool).allocs - before <= 8);
	CU_ASSERT(pl_pool_size(b->cols[0].data) >= 4096 * sizeof(int64_t));
	done(r, &o);

	setup();
	opts_init(&o, puts_file("small.csv", "v,w\n1,2\n3,4\n"));
	r = open_ok(&o);
	b = next_ok(r, (size_t)1 << 30);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	CU_ASSERT(pl_pool_size(b->cols[0].data) <= 64 * sizeof(int64_t));
	done(r, &o);
}

/* Same value (or both NULL) at row i of two string columns. */
static int same_value(const pl_column *a, size_t i, const pl_column *b)
{
	size_t la, lb;
	if (pl_column_is_null(a, i) || pl_column_is_null(b, i))
		return pl_column_is_null(a, i) == pl_column_is_null(b, i);
	const char *sa = pl_col_str(a, i, &la), *sb = pl_col_str(b, i, &lb);
	return la == lb && memcmp(sa, sb, la) == 0;
}

/* With dictionaries allowed, a column of few values (NULLs, quotes and
 * delimiters among them) comes encoded, one of distinct ids goes plain
 * within its first batch, and every value equals a plain reading's,
 * also after pl_column_undict. */
static void dictionary_columns(void)
{
	setup();
	static const char *const low[] = {"red", "\"a \"\"q\"\", b\"", "",
					  "blue", "\"red\""};
	char *text = malloc(100000);
	size_t n = (size_t)sprintf(text, "low,high,v\n");
	for (int i = 0; i < 3000; i++)
		n += (size_t)sprintf(text + n, "%s,k%d,%d\n", low[i % 5], i, i);
	char *path = put("dict.csv", text, n);
	free(text);
	pl_csv_options o1, o2;
	opts_init(&o1, path);
	opts_init(&o2, path);
	pl_csv_reader *plain = open_ok(&o1), *dict = open_ok(&o2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dict);
	CU_ASSERT_EQUAL(pl_csv_reader_allow_dict(dict, &err), 0);
	size_t rows = 0, batches = 0;
	for (;;) {
		pl_batch *a = next_ok(plain, 2000), *b = next_ok(dict, 2000);
		CU_ASSERT_FATAL((a == NULL) == (b == NULL));
		if (a == NULL)
			break;
		CU_ASSERT_EQUAL_FATAL(a->nrows, b->nrows);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b->cols[0].dict);
		/* red (twice, once quoted), the quoted one, NULL, blue */
		CU_ASSERT_EQUAL(b->cols[0].dict->len, 4);
		CU_ASSERT_PTR_NULL(b->cols[1].dict);
		for (size_t i = 0; i < a->nrows; i++) {
			CU_ASSERT(same_value(&a->cols[0], i, &b->cols[0]));
			CU_ASSERT(same_value(&a->cols[1], i, &b->cols[1]));
		}
		CU_ASSERT_EQUAL(pl_column_undict(&b->cols[0], pool, &err), 0);
		CU_ASSERT_PTR_NULL(b->cols[0].dict);
		for (size_t i = 0; i < a->nrows; i++)
			CU_ASSERT(same_value(&a->cols[0], i, &b->cols[0]));
		rows += a->nrows;
		batches++;
	}
	CU_ASSERT_EQUAL(rows, 3000);
	CU_ASSERT_EQUAL(batches, 2);
	pl_csv_reader_close(plain);
	pl_csv_options_free(&o1);
	done(dict, &o2);
}

static void field_larger_than_buffer(void)
{
	setup();
	size_t big = 3u << 20;
	char *text = malloc(big + 64);
	size_t n = (size_t)sprintf(text, "a,b\n1,\"");
	memset(text + n, 'x', big);
	text[n + 10] = ',';
	text[n + 20] = '\n';
	n += big;
	n += (size_t)sprintf(text + n, "\"\n2,y\n");
	pl_csv_options o;
	opts_init(&o, put("big.csv", text, n));
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	size_t len;
	const char *s = pl_col_str(&b->cols[1], 0, &len);
	CU_ASSERT_EQUAL(len, big);
	CU_ASSERT(s[10] == ',' && s[20] == '\n' && s[big - 1] == 'x');
	CU_ASSERT_EQUAL(b->line[1], 4);
	free(text);
	done(r, &o);
}

static void columns_selection(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("c.csv", "a,b,c\n1,x,2.5\n2,y,zzz\n"));
	o.columns = names(2, "b", "a");
	o.ncolumns = 2;
	READ_ONE(o, r, b);
	const pl_schema *s = pl_csv_reader_schema(r);
	CU_ASSERT_EQUAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "b");
	CU_ASSERT_EQUAL(s->fields[1].type, PL_INT64);
	CU_ASSERT_EQUAL(b->ncols, 2);
	STR_IS(&b->cols[0], 1, "y");
	CU_ASSERT_EQUAL(pl_col_i64(&b->cols[1])[1], 2);
	pl_csv_reader_close(r);
	pl_names_free(o.columns, o.ncolumns);
	o.columns = names(1, "bb");
	o.ncolumns = 1;
	r = NULL;
	CU_ASSERT_EQUAL(pl_csv_reader_open(&o, pool, &r, &err), PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no column 'bb'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "did you mean 'b'?"));
	done(r, &o);
}

static void empty_and_header_only_files(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("e.csv", "\xef\xbb\xbf"));
	pl_csv_reader *r = NULL;
	CU_ASSERT_EQUAL(pl_csv_reader_open(&o, pool, &r, &err), PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err.msg, "e.csv: empty file (no header)"));
	o.header = 0;
	r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_csv_reader_schema(r)->n, 0);
	CU_ASSERT_PTR_NULL(next_ok(r, 10));
	pl_csv_reader_close(r);
	pl_csv_options_free(&o);
	opts_init(&o, puts_file("h.csv", "a,b\r\n"));
	r = open_ok(&o);
	CU_ASSERT_EQUAL(pl_csv_reader_schema(r)->n, 2);
	CU_ASSERT_EQUAL(pl_csv_reader_schema(r)->fields[1].type, PL_STRING);
	CU_ASSERT_PTR_NULL(next_ok(r, 10));
	done(r, &o);
}

static void bad_header_names(void)
{
	const char *bad[] = {"a,b,a\n1,2,3\n", "a,,Unnamed: 1\n",
			     "\n\"Unnamed: 1\",\"\"\n"};
	const char *want[] = {"d.csv:1: duplicate column name 'a'",
			      "d.csv:1: duplicate column name 'Unnamed: 1'",
			      "d.csv:2: duplicate column name 'Unnamed: 1'"};
	for (int i = 0; i < 3; i++) {
		setup();
		pl_csv_options o;
		opts_init(&o, puts_file("d.csv", bad[i]));
		pl_csv_reader *r = NULL;
		CU_ASSERT_EQUAL(pl_csv_reader_open(&o, pool, &r, &err),
				PL_ERR_DATA);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want[i]));
		done(r, &o);
	}
}

/* R's write.csv heads the row names with "": such a column is named as
 * pandas names it, "Unnamed: " and its 0-based position. */
static void empty_header_names_are_unnamed(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("r.csv", "\"\",\"a\",\"b\"\n\"1\",3,\"x\"\n"
					 "\"2\",4,\"y\"\n"));
	READ_ONE(o, r, b);
	const pl_schema *s = pl_csv_reader_schema(r);
	CU_ASSERT_EQUAL_FATAL(s->n, 3);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "Unnamed: 0");
	CU_ASSERT_STRING_EQUAL(s->fields[1].name, "a");
	CU_ASSERT_EQUAL(b->nrows, 2);
	done(r, &o);
	setup();
	opts_init(&o, puts_file("m.csv", "a,,c,\n1,2,3,4\n"));
	r = open_ok(&o);
	s = pl_csv_reader_schema(r);
	CU_ASSERT_EQUAL_FATAL(s->n, 4);
	CU_ASSERT_STRING_EQUAL(s->fields[1].name, "Unnamed: 1");
	CU_ASSERT_STRING_EQUAL(s->fields[3].name, "Unnamed: 3");
	done(r, &o);
}

static void nul_bytes_are_data(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, put("z.csv", "s\na\0b\n\"\0\"\n", 10));
	READ_ONE(o, r, b);
	CU_ASSERT_EQUAL(b->nrows, 2);
	CU_ASSERT(str_is(&b->cols[0], 0, "a\0b", 3));
	CU_ASSERT(str_is(&b->cols[0], 1, "\0", 1));
	done(r, &o);
}

static void missing_file_is_io_error(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, "/nonexistent/x.csv");
	pl_csv_reader *r = NULL;
	CU_ASSERT_EQUAL(pl_csv_reader_open(&o, pool, &r, &err), PL_ERR_IO);
	CU_ASSERT_STRING_EQUAL(err.msg, "/nonexistent/x.csv: No such file or "
					"directory");
	done(r, &o);
}

/* Reads everything; returns the first error. */
static int read_all(pl_csv_options *o, size_t max, uint64_t *rows)
{
	pl_csv_reader *r = NULL;
	pl_batch *b = NULL;
	int rc = pl_csv_reader_open(o, pool, &r, &err);
	*rows = 0;
	while (rc == 0 && (rc = pl_csv_reader_next(r, max, &b, &err)) == 0 && b)
		*rows += b->nrows;
	pl_csv_reader_close(r);
	return rc;
}

/* A [source] section of job.conf in dir with keys on lines 2, 3, ... */
static pl_section *section(pl_kv *kv, size_t n)
{
	static pl_section s;
	s.name = "source";
	s.line = 1;
	s.occurrence = 1;
	s.file = "job.conf";
	s.dir = dir;
	s.n = n;
	s.kv = kv;
	for (size_t i = 0; i < n; i++)
		kv[i].line = (int)i + 2;
	return &s;
}

static int from_section(pl_kv *kv, size_t n, pl_csv_options *o)
{
	pl_error_clear(&err);
	int rc = pl_csv_options_from_section(section(kv, n), o, &err);
	return rc;
}

static void options_from_section(void)
{
	setup();
	puts_file("p1.tsv", "a\tb\n1\t2\n");
	puts_file("p2.tsv", "a\tb\n3\t4\n");
	pl_kv kv[] = {{"path", "p*.tsv", 0},
		      {"null", "NA, -", 0},
		      {"schema", "b:string, a : float64", 0},
		      {"infer_rows", "5", 0},
		      {"on_error", "skip", 0},
		      {"reject", "rej.txt", 0}};
	pl_csv_options o;
	CU_ASSERT_EQUAL_FATAL(from_section(kv, 6, &o), 0);
	CU_ASSERT_EQUAL(o.npaths, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.paths[1], "/p2.tsv"));
	CU_ASSERT_EQUAL(o.delimiter, '\t');
	CU_ASSERT_EQUAL(o.header, 1);
	CU_ASSERT_EQUAL(o.nnulls, 2);
	CU_ASSERT_STRING_EQUAL(o.nulls[1], "-");
	CU_ASSERT_EQUAL(o.schema.n, 2);
	CU_ASSERT_STRING_EQUAL(o.schema.fields[1].name, "a");
	CU_ASSERT_EQUAL(o.schema.fields[1].type, PL_FLOAT64);
	CU_ASSERT_EQUAL(o.infer_rows, 5);
	CU_ASSERT_EQUAL(o.skip_errors, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(o.reject_path, "/rej.txt"));
	uint64_t rows;
	CU_ASSERT_EQUAL(read_all(&o, 10, &rows), 0);
	CU_ASSERT_EQUAL(rows, 2);
	pl_csv_options_free(&o);
	teardown();
}

static void expect_conf(pl_kv *kv, size_t n, int code, const char *msg)
{
	pl_csv_options o;
	CU_ASSERT_EQUAL(from_section(kv, n, &o), code);
	if (strstr(err.msg, msg) == NULL)
		fprintf(stderr, "got '%s', want '%s'\n", err.msg, msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, msg));
	pl_csv_options_free(&o);
}

static void bad_options_name_their_line(void)
{
	setup();
	puts_file("d.csv", "a\n1\n");
	char nodir[300];
	snprintf(nodir, sizeof(nodir), "%s/none.csv: No such file or directory",
		 dir);
	pl_kv missing[] = {{"path", "none.csv", 0}};
	expect_conf(missing, 1, PL_ERR_IO, nodir);
	pl_kv isdir[] = {{"path", "/tmp", 0}};
	expect_conf(isdir, 1, PL_ERR_IO, "/tmp: is a directory");
	pl_kv noglob[] = {{"path", "zz*.csv", 0}};
	expect_conf(noglob, 1, PL_ERR_IO, "No such file or directory");
	pl_kv delim[] = {{"path", "d.csv", 0}, {"delimiter", ";;", 0}};
	expect_conf(delim, 2, PL_ERR_CONF, "job.conf:3: [source] delimiter");
	pl_kv same[] = {{"path", "d.csv", 0}, {"quote", ",", 0}};
	expect_conf(same, 2, PL_ERR_CONF, "job.conf:3: [source] quote and");
	pl_kv type[] = {{"path", "d.csv", 0}, {"schema", "a:int32", 0}};
	expect_conf(type, 2, PL_ERR_CONF,
		    "job.conf:3: [source] unknown type "
		    "'int32' for 'a'");
	pl_kv onerr[] = {{"path", "d.csv", 0}, {"on_error", "ignore", 0}};
	expect_conf(onerr, 2, PL_ERR_CONF, "job.conf:3: [source] on_error");
	pl_kv rej[] = {{"path", "d.csv", 0}, {"reject", "r.txt", 0}};
	expect_conf(rej, 2, PL_ERR_CONF, "job.conf:3: [source] reject needs");
	teardown();
}

static void unknown_columns_name_the_section_line(void)
{
	setup();
	puts_file("d.csv", "price,qty\n1,2\n");
	pl_kv kv[] = {{"path", "d.csv", 0}, {"columns", "qty, prise", 0}};
	pl_csv_options o;
	CU_ASSERT_EQUAL_FATAL(from_section(kv, 2, &o), 0);
	o.columns = names(2, "qty", "prise");
	o.ncolumns = 2;
	pl_csv_reader *r = NULL;
	CU_ASSERT_EQUAL(pl_csv_reader_open(&o, pool, &r, &err), PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "job.conf:3: [source] "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "did you mean 'price'?"));
	done(r, &o);
}

static void fault_injection_walk(void)
{
	setup();
	pl_csv_options o;
	opts_init(&o, puts_file("f.csv", "a,b,c,d\n1,x,,true\n2,\"y\"\"\",1.5,"
					 "false\n,z,2,\n4,w,3,TRUE\n"));
	int ok = 0;
	for (uint64_t n = 1; n < 200 && !ok; n++) {
		pl_pool_fail_after(pool, n, 1);
		pl_error_clear(&err);
		uint64_t rows;
		int rc = read_all(&o, 2, &rows);
		pl_pool_fail_after(pool, 0, 0);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
		if (rc == 0) {
			CU_ASSERT_EQUAL(rows, 4);
			CU_ASSERT(n > 3);
			ok = 1;
		}
	}
	CU_ASSERT(ok);
	pl_csv_options_free(&o);
	teardown();
}

/* A small xorshift generator: the random tests repeat exactly. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random text over bytes that matter to the scanner, '\n' now and then. */
static void random_csv_text(char *t, size_t n)
{
	static const char alphabet[] = "aaaaaaaabbbb,,,,,\"\r\n \0";
	for (size_t i = 0; i < n; i++) {
		t[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		if (rng() % 40 == 0)
			t[i] = '\n';
	}
}

static int same_field(const pl_csv_field *a, const char *abase,
		      const pl_csv_field *b, const char *bbase)
{
	return a->p - abase == b->p - bbase && a->len == b->len &&
	       a->quoted == b->quoted && a->escaped == b->escaped;
}

/* Scans the record at p again alone in a buffer of exactly its bytes,
 * where the 16-byte fast path cannot reach its line end, and checks that
 * the byte loop finds the same. */
static int rescan_alone(const pl_csv_scanner *sc, const char *p, int code,
			const pl_csv_record *rec, const pl_csv_field *f)
{
	size_t n = (size_t)(rec->end - p);
	char *t = malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	memcpy(t, p, n);
	t[n] = '\n';
	pl_csv_field g[64];
	pl_csv_record again;
	int ok = pl_csv_scan_record(sc, t, t + n, 1, g, 64, &again) == code &&
		 again.nfields == rec->nfields && again.end == t + n &&
		 again.lines == rec->lines && again.bad == rec->bad &&
		 again.bad_field == rec->bad_field;
	/* A bad record's fields past the bad one are left unset. */
	size_t nf = code == PL_SCAN_RECORD && !rec->bad ? rec->nfields : 0;
	for (size_t i = 0; ok && i < nf && i < 64; i++)
		ok = same_field(&f[i], p, &g[i], t);
	free(t);
	return ok;
}

static void scan_fast_path_matches_byte_loop(void)
{
	pl_csv_scanner sc;
	pl_csv_scanner_init(&sc, ',', '"');
	size_t n = 1 << 16;
	char *t = malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	int bad = 0;
	for (int round = 0; round < 20; round++) {
		random_csv_text(t, n);
		t[n] = '\n';
		const char *p = t;
		pl_csv_field f[64];
		pl_csv_record rec;
		int code;
		while ((code = pl_csv_scan_record(&sc, p, t + n, 1, f, 64,
						  &rec)) != PL_SCAN_END &&
		       code != PL_SCAN_MORE) {
			bad += !rescan_alone(&sc, p, code, &rec, f);
			p = rec.end;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(t);
}

/* Wide records with CRLF, more fields than room, a NUL byte, a quote
 * inside a field, a record cut by the end of the window. */
static void scan_fast_path_fields(void)
{
	pl_csv_scanner sc;
	pl_csv_scanner_init(&sc, ';', '\'');
	const char text[] = "alpha;;beta;gamma\0x;delta;epsilon;zeta;eta;"
			    "theta\r\nnext;line's;here\n";
	char buf[sizeof(text)];
	size_t n = sizeof(text) - 1;
	memcpy(buf, text, n);
	buf[n] = '\n'; /* the sentinel */
	pl_csv_field f[16];
	pl_csv_record rec;
	CU_ASSERT_EQUAL(pl_csv_scan_record(&sc, buf, buf + n, 0, f, 4, &rec),
			PL_SCAN_RECORD);
	CU_ASSERT_EQUAL(rec.nfields, 9);
	CU_ASSERT_EQUAL(rec.lines, 1);
	const char *second = (const char *)memchr(buf, '\n', n) + 1;
	CU_ASSERT(rec.end == second);
	CU_ASSERT(f[1].len == 0 && f[1].p == buf + 6);
	CU_ASSERT(f[3].len == 7 && memcmp(f[3].p, "gamma\0x", 7) == 0);
	CU_ASSERT_EQUAL(pl_csv_scan_record(&sc, buf, buf + n, 0, f, 16, &rec),
			PL_SCAN_RECORD);
	CU_ASSERT(f[8].len == 5 && memcmp(f[8].p, "theta", 5) == 0);
	CU_ASSERT_EQUAL(
	    pl_csv_scan_record(&sc, second, buf + n - 1, 0, f, 16, &rec),
	    PL_SCAN_MORE);
	CU_ASSERT_EQUAL(
	    pl_csv_scan_record(&sc, second, buf + n - 1, 1, f, 16, &rec),
	    PL_SCAN_RECORD);
	CU_ASSERT(rec.nfields == 3 && rec.lines == 0);
	CU_ASSERT(f[1].len == 6 && memcmp(f[1].p, "line's", 6) == 0);
	CU_ASSERT_EQUAL(
	    pl_csv_scan_record(&sc, second, buf + n, 0, f, 16, &rec),
	    PL_SCAN_RECORD);
	CU_ASSERT(rec.nfields == 3 && rec.lines == 1 && rec.end == buf + n);
}

static void check_i64(const char *s, bool ok, int64_t want)
{
	int64_t v = 0;
	bool got = pl_csv_parse_i64(s, strlen(s), &v);
	CU_ASSERT_EQUAL(got, ok);
	if (ok)
		CU_ASSERT_EQUAL(v, want);
	if (got != ok || (ok && v != want))
		fprintf(stderr, "\n  '%s' parsed wrong\n", s);
}

static void integer_parsing_limits(void)
{
	check_i64("0", true, 0);
	check_i64("-0", true, 0);
	check_i64("+7", true, 7);
	check_i64("999999999999999999", true, 999999999999999999);
	check_i64("-999999999999999999", true, -999999999999999999);
	check_i64("9223372036854775807", true, INT64_MAX);
	check_i64("-9223372036854775808", true, INT64_MIN);
	check_i64("9223372036854775808", false, 0);
	check_i64("-9223372036854775809", false, 0);
	check_i64("18446744073709551616", false, 0);
	check_i64("99999999999999999999", false, 0);
	check_i64("1000000000000000000", true, 1000000000000000000);
	check_i64("", false, 0);
	check_i64("-", false, 0);
	check_i64("00", false, 0);
	check_i64("012", false, 0);
	check_i64("12a", false, 0);
	check_i64("1 ", false, 0);
	check_i64("1.0", false, 0);
}

static void check_f64(const char *s, bool ok)
{
	double v = 0;
	bool got = pl_csv_parse_f64(s, strlen(s), &v);
	CU_ASSERT_EQUAL(got, ok);
	if (ok && got && memcmp(&v, &(double){strtod(s, NULL)}, 8) != 0) {
		CU_FAIL("not strtod's value");
		fprintf(stderr, "\n  '%s' parsed as %.17g\n", s, v);
	}
}

/* Random plain decimals, short and long, read as strtod reads them. */
static void random_decimals_match_strtod(void)
{
	char s[64];
	for (int i = 0; i < 200000; i++) {
		int whole = (int)(rng() % 12), frac = (int)(rng() % 26);
		size_t n = 0;
		if (rng() % 4 == 0)
			s[n++] = rng() % 2 ? '-' : '+';
		if (rng() % 8 == 0)
			whole = -1; /* a lone 0 */
		s[n++] = whole < 0 ? '0' : (char)('1' + rng() % 9);
		for (int k = 0; k < whole; k++)
			s[n++] = (char)('0' + rng() % 10);
		if (frac > 0 || rng() % 8 == 0)
			s[n++] = '.';
		for (int k = 0; k < frac; k++)
			s[n++] = (char)('0' + rng() % 10);
		s[n] = '\0';
		check_f64(s, true);
	}
	check_f64("9007199254740993.5", true);
	check_f64("9007199254740992", true);
	check_f64("0.1000000000000000000000001", true);
	check_f64("12345678901234567890", true);
	check_f64("-0.0", true);
	check_f64("5.", true);
	check_f64(".5", true);
	check_f64("01.5", false);
	check_f64("1.2.3", false);
	check_f64(".", false);
	check_f64("-", false);
	check_f64("1e", false);
}

static const pl_test tests[] = {
    {"quoted_fields_kept_byte_for_byte", quoted_fields_kept_byte_for_byte},
    {"batches_one_or_two", batches_one_or_two},
    {"dictionary_columns", dictionary_columns},
    {"mixed_line_ends_and_bom", mixed_line_ends_and_bom},
    {"no_header_names_columns", no_header_names_columns},
    {"null_strings_and_empty_fields", null_strings_and_empty_fields},
    {"empty_lines_are_skipped", empty_lines_are_skipped},
    {"inference_rules", inference_rules},
    {"float_parsing_is_exact", float_parsing_is_exact},
    {"given_schema_types_columns", given_schema_types_columns},
    {"unknown_schema_column_suggests", unknown_schema_column_suggests},
    {"files_form_one_table", files_form_one_table},
    {"bad_rows_name_their_line", bad_rows_name_their_line},
    {"skip_writes_reject_file", skip_writes_reject_file},
    {"reads_zstd_input", reads_zstd_input},
    {"truncated_zstd_is_an_error", truncated_zstd_is_an_error},
    {"small_batches_span_the_file", small_batches_span_the_file},
    {"batch_room_up_front", batch_room_up_front},
    {"field_larger_than_buffer", field_larger_than_buffer},
    {"columns_selection", columns_selection},
    {"empty_and_header_only_files", empty_and_header_only_files},
    {"bad_header_names", bad_header_names},
    {"empty_header_names_are_unnamed", empty_header_names_are_unnamed},
    {"nul_bytes_are_data", nul_bytes_are_data},
    {"missing_file_is_io_error", missing_file_is_io_error},
    {"options_from_section", options_from_section},
    {"bad_options_name_their_line", bad_options_name_their_line},
    {"unknown_columns_name_the_section_line",
     unknown_columns_name_the_section_line},
    {"fault_injection_walk", fault_injection_walk},
    {"projection_skips_unused_columns", projection_skips_unused_columns},
    {"scan_fast_path_matches_byte_loop", scan_fast_path_matches_byte_loop},
    {"scan_fast_path_fields", scan_fast_path_fields},
    {"integer_parsing_limits", integer_parsing_limits},
    {"random_decimals_match_strtod", random_decimals_match_strtod},
    {NULL, NULL}};

PL_TEST_MAIN("csv_reader", tests)

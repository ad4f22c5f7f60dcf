/* Inputs that change or break under the reader must be errors, never a
 * silently shorter or different answer; outputs must never replace what
 * they should not (issue 16). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "framework/output_path.h"
#include "harness.h"
#include "io/csv_partition.h"
#include "io/csv_reader.h"

static pl_pool *pool;
static char dir[64];
static char path[128];
static pl_error err;

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
	PL_TEST_MKDTEMP(dir, sizeof(dir), "integrity");
	pl_error_clear(&err);
}

static void teardown(void)
{
	pl_pool_destroy(pool);
	pl_test_rmtree(dir);
}

/* dir/name holding rows "i,xi" for i < rows after a header; returns the
 * path and the byte where row `cut` starts in *cut_at. */
static char *rows_file(const char *name, int rows, int cut, long *cut_at)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("a,b\n", f);
	for (int i = 0; i < rows; i++) {
		if (i == cut)
			*cut_at = ftell(f);
		fprintf(f, "%d,x%d\n", i, i);
	}
	fclose(f);
	return path;
}

static void opts_init(pl_csv_options *o, const char *p)
{
	memset(o, 0, sizeof(*o));
	pl_schema_init(&o->schema);
	o->paths = malloc(sizeof(char *));
	o->paths[0] = strdup(p);
	o->npaths = 1;
	o->header = 1;
	o->delimiter = ',';
	o->quote = '"';
	o->infer_rows = 10;
}

static long long value_sum;

/* Reads to the end; returns the status, counts the rows and sums the
 * first column (value_sum) when it is int64. */
static int read_all(pl_csv_reader *r, size_t *rows)
{
	pl_batch *b = NULL;
	int rc;
	*rows = 0;
	value_sum = 0;
	while ((rc = pl_csv_reader_next(r, 1000, &b, &err)) == 0 && b) {
		*rows += b->nrows;
		const pl_column *c = &b->cols[0];
		for (size_t i = 0; c->type == PL_INT64 && i < b->nrows; i++)
			value_sum += ((const int64_t *)c->data)[i];
	}
	return rc;
}

static void truncated_while_streamed(void)
{
	setup();
	long cut = 0;
	char *p = rows_file("t.csv", 200000, 100000, &cut);
	pl_csv_options o;
	opts_init(&o, p);
	pl_csv_reader *r = NULL;
	CU_ASSERT_EQUAL_FATAL(pl_csv_reader_open(&o, pool, &r, &err), 0);
	/* cut at a row boundary: the short file is a valid CSV file */
	CU_ASSERT_EQUAL(truncate(p, cut), 0);
	size_t rows;
	CU_ASSERT_EQUAL(read_all(r, &rows), PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "t.csv: the file ends at"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "truncated"));
	pl_csv_reader_close(r);
	pl_csv_options_free(&o);
	teardown();
}

/* A rank's share (byte range) cut from the size at the start. */
static void truncated_inside_a_share(void)
{
	setup();
	long cut = 0;
	char *p = rows_file("s.csv", 200000, 150000, &cut);
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
	long start = 0;
	rows_file("s.csv", 200000, 1000, &start);
	pl_csv_options o;
	opts_init(&o, p);
	pl_csv_reader *r = NULL;
	CU_ASSERT_EQUAL_FATAL(pl_csv_reader_open(&o, pool, &r, &err), 0);
	pl_csv_piece piece = {0, (uint64_t)start, (uint64_t)st.st_size, 1002,
			      0};
	pl_csv_share share = {&piece, 1};
	CU_ASSERT_EQUAL_FATAL(pl_csv_reader_set_share(r, &share, &err), 0);
	CU_ASSERT_EQUAL(truncate(p, cut), 0);
	size_t rows;
	CU_ASSERT_EQUAL(read_all(r, &rows), PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s.csv: the file ends at"));
	pl_csv_reader_close(r);
	pl_csv_options_free(&o);
	teardown();
}

/* Writes z to path and reads it whole: the status, rows and value_sum. */
static int read_zst(const char *z, size_t zn, size_t *rows)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fwrite(z, 1, zn, f);
	fclose(f);
	pl_csv_options o;
	opts_init(&o, path);
	pl_csv_reader *r = NULL;
	*rows = 0;
	int rc = pl_csv_reader_open(&o, pool, &r, &err);
	if (rc == 0)
		rc = read_all(r, rows);
	if (rc != 0)
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "f.csv.zst"));
	pl_error_clear(&err);
	pl_csv_reader_close(r);
	pl_csv_options_free(&o);
	return rc;
}

/* Every third byte of a checksummed frame flipped in turn: none reads
 * back as other values; each is an error naming the file, or (a flip
 * zstd ignores, in a header field) the very same rows. */
static void zstd_checksum_catches_flips(void)
{
	setup();
	static char text[20000];
	size_t tn = (size_t)snprintf(text, sizeof(text), "a,b\n");
	for (int i = 0; tn < sizeof(text) - 40; i++)
		tn += (size_t)snprintf(text + tn, sizeof(text) - tn, "%d,y%d\n",
				       i * 7919 % 100003, i);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	static char z[30000];
	size_t zn = ZSTD_compress2(cc, z, sizeof(z), text, tn);
	ZSTD_freeCCtx(cc);
	CU_ASSERT_FATAL(!ZSTD_isError(zn));
	snprintf(path, sizeof(path), "%s/f.csv.zst", dir);
	size_t want_rows, rows;
	CU_ASSERT_EQUAL_FATAL(read_zst(z, zn, &want_rows), 0);
	long long want_sum = value_sum;
	CU_ASSERT(want_rows > 1000);
	int errors = 0;
	for (size_t at = 0; at < zn; at += 3) {
		z[at] ^= 0x5a;
		int rc = read_zst(z, zn, &rows);
		z[at] ^= 0x5a;
		errors += rc != 0;
		if (rc == 0) {
			CU_ASSERT_EQUAL(rows, want_rows);
			CU_ASSERT_EQUAL(value_sum, want_sum);
		}
	}
	CU_ASSERT(errors > 0);
	teardown();
}

static void damaged_zstd_names_the_offset(void)
{
	setup();
	char text[5000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = i % 9 == 8 ? '\n' : (char)('a' + i % 11);
	memcpy(text, "col\n", 4);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	char z[6000];
	size_t zn = ZSTD_compress2(cc, z, sizeof(z), text, sizeof(text));
	ZSTD_freeCCtx(cc);
	z[zn - 2] ^= 1; /* in the checksum */
	snprintf(path, sizeof(path), "%s/d.csv.zst", dir);
	FILE *f = fopen(path, "wb");
	fwrite(z, 1, zn, f);
	fclose(f);
	pl_csv_options o;
	opts_init(&o, path);
	pl_csv_reader *r = NULL;
	size_t rows;
	int rc = pl_csv_reader_open(&o, pool, &r, &err);
	if (rc == 0)
		rc = read_all(r, &rows);
	CU_ASSERT_EQUAL(rc, PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err.msg, "d.csv.zst: damaged zstd data in compressed "
			    "bytes "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "checksum"));
	pl_csv_reader_close(r);
	pl_csv_options_free(&o);
	teardown();
}

static int kind_of(const char *p, int overwrite, char *const *in, size_t n,
		   char *why)
{
	int kind = -1;
	if (pl_output_path_check(p, overwrite, in, n, &kind, why, 256) != 0)
		return -1;
	return kind;
}

static void output_paths_are_checked(void)
{
	setup();
	char why[256], in[160], out[160], link[160], fifo[160];
	long ignored;
	snprintf(in, sizeof(in), "%s", rows_file("in.csv", 3, 9, &ignored));
	snprintf(out, sizeof(out), "%s/new.csv", dir);
	snprintf(link, sizeof(link), "%s/link.csv", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	char *inputs[] = {in};
	CU_ASSERT_EQUAL(kind_of(out, 0, inputs, 1, why), PL_OUTPUT_FILE);
	CU_ASSERT_EQUAL(kind_of(in, 0, NULL, 0, why), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "overwrite"));
	CU_ASSERT_EQUAL(kind_of(in, 1, NULL, 0, why), PL_OUTPUT_FILE);
	CU_ASSERT_EQUAL(kind_of(in, 1, inputs, 1, why), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "input"));
	CU_ASSERT_EQUAL(symlink(in, link), 0);
	CU_ASSERT_EQUAL(kind_of(link, 1, NULL, 0, why), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "symbolic link"));
	CU_ASSERT_EQUAL(mkfifo(fifo, 0600), 0);
	CU_ASSERT_EQUAL(kind_of(fifo, 0, NULL, 0, why), PL_OUTPUT_STREAM);
	CU_ASSERT_EQUAL(kind_of("/dev/null", 0, NULL, 0, why),
			PL_OUTPUT_STREAM);
	CU_ASSERT_EQUAL(kind_of("-", 0, NULL, 0, why), PL_OUTPUT_STDOUT);
	CU_ASSERT_EQUAL(kind_of("/dev/stdout", 0, NULL, 0, why),
			PL_OUTPUT_STDOUT);
	CU_ASSERT_EQUAL(kind_of(dir, 1, NULL, 0, why), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "directory"));
	/* the same file by another name */
	char other[200];
	snprintf(other, sizeof(other), "%s/../%s/in.csv", dir,
		 strrchr(dir, '/') + 1);
	CU_ASSERT(pl_same_file(other, in));
	CU_ASSERT(!pl_same_file(out, in));
	snprintf(other, sizeof(other), "%s/./new.csv", dir);
	CU_ASSERT(pl_same_file(other, out));
	teardown();
}

static const pl_test tests[] = {
    {"truncated_while_streamed", truncated_while_streamed},
    {"truncated_inside_a_share", truncated_inside_a_share},
    {"zstd_checksum_catches_flips", zstd_checksum_catches_flips},
    {"damaged_zstd_names_the_offset", damaged_zstd_names_the_offset},
    {"output_paths_are_checked", output_paths_are_checked},
    {NULL, NULL}};

PL_TEST_MAIN("input_integrity", tests)

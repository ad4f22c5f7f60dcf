/* pl_source: the reader picked by `format` or by the path's extension, a
 * message listing the formats when neither names one, every reader's
 * keys accepted, and reading through the reader picked. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/source.h"
#include "harness.h"

static pl_pool *pool;
static char dir[64];
static pl_error err;

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
	PL_TEST_MKDTEMP(dir, sizeof(dir), "source");
	pl_error_clear(&err);
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
	pl_test_rmtree(dir);
}

static void put_text(const char *name, const char *text)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* dir/name holding one int64 dataset /x of 1, 2, 3. */
static void put_h5(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	CU_ASSERT_FATAL(f >= 0);
	hsize_t n = 3;
	int64_t v[3] = {1, 2, 3};
	hid_t space = H5Screate_simple(1, &n, NULL);
	hid_t d = H5Dcreate2(f, "/x", H5T_STD_I64LE, space, H5P_DEFAULT,
			     H5P_DEFAULT, H5P_DEFAULT);
	CU_ASSERT_FATAL(d >= 0);
	CU_ASSERT(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
			   v) >= 0);
	H5Dclose(d);
	H5Sclose(space);
	H5Fclose(f);
}

/* Opens a [source] of n keys (lines 2, 3, ...) of job.conf in dir. */
static int open_source(pl_kv *kv, size_t n, const char *exclude,
		       pl_source **out)
{
	for (size_t i = 0; i < n; i++)
		kv[i].line = (int)i + 2;
	pl_section s = {"source", 1, 1, "job.conf", dir, n, kv};
	pl_error_clear(&err);
	return pl_source_open_excluding(&s, 1, exclude, pool, out, &err);
}

/* The rows the source reads, summed over its batches. */
static uint64_t rows_of(pl_source *src)
{
	uint64_t rows = 0;
	pl_batch *b;
	while (pl_source_next(src, 1000, &b, &err) == 0 && b != NULL)
		rows += b->nrows;
	return rows;
}

static void expect_reader(pl_kv *kv, size_t n, const char *desc, uint64_t rows)
{
	pl_source *src = NULL;
	int rc = open_source(kv, n, NULL, &src);
	if (rc != 0)
		fprintf(stderr, "open: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(strncmp(pl_source_describe(src), desc, strlen(desc)),
			0);
	CU_ASSERT_EQUAL(rows_of(src), rows);
	CU_ASSERT_EQUAL(pl_source_get_stats(src).rows, rows);
	pl_source_close(src);
}

static void reader_by_extension_or_format(void)
{
	setup();
	put_text("a.CSV", "v\n1\n2\n");
	put_text("b.tsv", "v\tw\n1\t2\n");
	put_text("c.dat", "v\n1\n2\n3\n4\n");
	put_h5("d.h5");
	put_h5("e.data");
	pl_kv csv[] = {{"path", "a.CSV", 0}};
	expect_reader(csv, 1, "csv: ", 2);
	pl_kv tsv[] = {{"path", "b.tsv", 0}};
	expect_reader(tsv, 1, "csv: ", 1);
	pl_kv named[] = {{"path", "c.dat", 0}, {"format", "csv", 0}};
	expect_reader(named, 2, "csv: ", 4);
	pl_kv h5[] = {{"path", "d.h5", 0}, {"datasets", "/x", 0}};
	expect_reader(h5, 2, "hdf5: ", 3);
	pl_kv h5named[] = {
	    {"path", "e.data", 0}, {"format", "hdf5", 0}, {"datasets", "x", 0}};
	expect_reader(h5named, 3, "hdf5: ", 3);
	teardown();
}

static void expect_conf(pl_kv *kv, size_t n, const char *exclude,
			const char *msg)
{
	pl_source *src = NULL;
	CU_ASSERT_EQUAL(open_source(kv, n, exclude, &src), PL_ERR_CONF);
	CU_ASSERT_PTR_NULL(src);
	if (strstr(err.msg, msg) == NULL)
		fprintf(stderr, "got '%s', want '%s'\n", err.msg, msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, msg));
}

static void formats_named_in_errors(void)
{
	setup();
	put_text("a.csv", "v\n1\n");
	put_text("c.dat", "v\n1\n");
	pl_kv fmt[] = {{"path", "a.csv", 0}, {"format", "parquet", 0}};
	expect_conf(fmt, 2, NULL,
		    "job.conf:3: [source] format must be csv or hdf5, not "
		    "'parquet'");
	pl_kv ext[] = {{"path", "c.dat", 0}};
	expect_conf(ext, 1, NULL,
		    "job.conf:2: [source] cannot tell the format of 'c.dat' "
		    "from its name: set format = csv or hdf5");
	char own[128];
	snprintf(own, sizeof(own), "%s/a.csv", dir);
	pl_kv glob[] = {{"path", "*.csv", 0}};
	expect_conf(glob, 1, own, "the glob matches only the job's own output");
	teardown();
}

/* Whether key is in the NULL-terminated list. */
static int has_key(const char **keys, const char *key)
{
	for (size_t i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], key) == 0)
			return 1;
	return 0;
}

static void keys_of_every_reader(void)
{
	const char **keys;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(pl_source_keys(1, &keys, &n), 0);
	CU_ASSERT_PTR_NULL(keys[n]);
	const char *want[] = {"path",	   "format",	"validate",
			      "delimiter", "schema",	"on_error",
			      "datasets",  "time_unit", "columns"};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		CU_ASSERT(has_key(keys, want[i]));
	size_t paths = 0;
	for (size_t i = 0; i < n; i++)
		paths += strcmp(keys[i], "path") == 0;
	CU_ASSERT_EQUAL(paths, 1);
	free(keys);
	CU_ASSERT_EQUAL_FATAL(pl_source_keys(0, &keys, &n), 0);
	CU_ASSERT(!has_key(keys, "columns"));
	free(keys);
}

static const pl_test tests[] = {
    {"reader_by_extension_or_format", reader_by_extension_or_format},
    {"formats_named_in_errors", formats_named_in_errors},
    {"keys_of_every_reader", keys_of_every_reader},
    {NULL, NULL}};

PL_TEST_MAIN("source", tests)

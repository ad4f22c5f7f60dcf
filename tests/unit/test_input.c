/* The public input API (pipeline/input.h): what [join] reads its right
 * side with, and a plugin could. Only public headers (and mpi.h for the
 * communicator pl_input_share points at). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "pipeline/input.h"

typedef struct fixture {
	char dir[64], path[128];
	pl_kv kv[1];
	pl_section sec;
	pl_pool *pool;
	pl_error err;
} fixture;

static void setup(fixture *f, const char *text)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/pl_input_XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/right.csv", f->dir);
	FILE *fp = fopen(f->path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(text, fp);
	fclose(fp);
	f->kv[0] = (pl_kv){"path", "right.csv", 7};
	f->sec = (pl_section){"join", 6, 1, "job.conf", f->dir, 1, f->kv};
	f->pool = pl_pool_create(1 << 20);
	pl_error_clear(&f->err);
}

static void teardown(fixture *f)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(f->pool).bytes_out, 0);
	pl_pool_destroy(f->pool);
	unlink(f->path);
	rmdir(f->dir);
}

static void test_keys_name_the_source_keys(void)
{
	const char **keys;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(pl_input_keys(&keys, &n), 0);
	int path = 0;
	for (size_t i = 0; i < n; i++)
		path |= strcmp(keys[i], "path") == 0;
	CU_ASSERT(path);
	CU_ASSERT_PTR_NULL(keys[n]);
	free(keys);
}

/* Rows come back in file order in batches of at most max_rows; the path
 * is relative to the section's directory; a share over no communicator
 * is the whole input. */
static void test_reads_all_rows_in_order(void)
{
	fixture f;
	const char *text = "id,name\n1,a\n2,b\n3,c\n4,d\n5,e\n";
	setup(&f, text);
	pl_input *in;
	CU_ASSERT_EQUAL_FATAL(pl_input_open(&f.sec, f.pool, &in, &f.err), 0);
	const pl_schema *s = pl_input_schema(in);
	CU_ASSERT_EQUAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->fields[0].name, "id");
	CU_ASSERT_EQUAL(s->fields[0].type, PL_INT64);
	CU_ASSERT_EQUAL(s->fields[1].type, PL_STRING);
	CU_ASSERT_EQUAL(pl_input_size(in), strlen(text));
	MPI_Comm none = MPI_COMM_NULL;
	CU_ASSERT_EQUAL(pl_input_share(in, &none, &f.err), 0);
	CU_ASSERT_EQUAL(pl_input_share(in, NULL, &f.err), 0);
	int64_t want = 1;
	size_t batches = 0;
	for (;;) {
		pl_batch *b;
		CU_ASSERT_EQUAL_FATAL(pl_input_next(in, 2, &b, &f.err), 0);
		if (b == NULL)
			break;
		batches++;
		CU_ASSERT(b->nrows >= 1 && b->nrows <= 2);
		for (size_t i = 0; i < b->nrows; i++)
			CU_ASSERT_EQUAL(pl_col_i64(&b->cols[0])[i], want++);
	}
	CU_ASSERT_EQUAL(want, 6);
	CU_ASSERT(batches >= 3);
	pl_input_close(in);
	teardown(&f);
}

static void test_missing_file_names_it(void)
{
	fixture f;
	setup(&f, "id\n1\n");
	f.kv[0].value = "nowhere.csv";
	pl_input *in = NULL;
	int rc = pl_input_open(&f.sec, f.pool, &in, &f.err);
	CU_ASSERT(rc < 0);
	CU_ASSERT_PTR_NULL(in);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "nowhere.csv"));
	pl_input_close(NULL);
	teardown(&f);
}

static const pl_test tests[] = {
    {"keys_name_the_source_keys", test_keys_name_the_source_keys},
    {"reads_all_rows_in_order", test_reads_all_rows_in_order},
    {"missing_file_names_it", test_missing_file_names_it},
    {NULL, NULL}};

PL_TEST_MAIN("input", tests)

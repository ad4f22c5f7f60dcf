#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/launch.h"
#include "harness.h"

static void test_ranks_parse_accepts(void)
{
	pl_error err;
	pl_error_clear(&err);
	int n = -1;
	CU_ASSERT_EQUAL(pl_ranks_parse("auto", "--ranks", &n, &err), 0);
	CU_ASSERT_EQUAL(n, PL_RANKS_AUTO);
	CU_ASSERT_EQUAL(pl_ranks_parse("1", "--ranks", &n, &err), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(pl_ranks_parse("16", "--ranks", &n, &err), 0);
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(pl_ranks_parse("1024", "--ranks", &n, &err), 0);
	CU_ASSERT_EQUAL(n, PL_RANKS_MAX);
}

static void test_ranks_parse_rejects(void)
{
	static const char *const bad[] = {
	    "0",    "",	    "x",
	    "-1",   "+2",   "2x",
	    " 2",   "1025", "99999999999999999999",
	    "Auto", NULL};
	for (size_t i = 0; bad[i]; i++) {
		pl_error err;
		pl_error_clear(&err);
		int n = 7;
		CU_ASSERT_EQUAL(
		    pl_ranks_parse(bad[i], "PIPELINE_RANKS", &n, &err),
		    PL_ERR_CONF);
		CU_ASSERT_EQUAL(n, 7);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "PIPELINE_RANKS"));
	}
}

static void test_auto_by_size_and_cores(void)
{
	const uint64_t t = PL_AUTO_BYTES_PER_RANK;
	CU_ASSERT_EQUAL(pl_ranks_auto(0, 8), 1);
	CU_ASSERT_EQUAL(pl_ranks_auto(t - 1, 8), 1);
	CU_ASSERT_EQUAL(pl_ranks_auto(2 * t - 1, 8), 1);
	CU_ASSERT_EQUAL(pl_ranks_auto(2 * t, 8), 2);
	CU_ASSERT_EQUAL(pl_ranks_auto(5 * t + 3, 8), 5);
	CU_ASSERT_EQUAL(pl_ranks_auto(100 * t, 8), 8);
	CU_ASSERT_EQUAL(pl_ranks_auto(100 * t, 1), 1);
	CU_ASSERT_EQUAL(pl_ranks_auto(UINT64_MAX, 4), 4);
}

static void test_cpu_count(void)
{
	int n = pl_cpu_count();
	CU_ASSERT(n >= 1);
	CU_ASSERT(n <= sysconf(_SC_NPROCESSORS_CONF) || n == 1);
}

/* A directory with a job.conf (text) and files of the given sizes. */
static char dir[64];

static void write_file(const char *name, const char *text, size_t size)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	if (text)
		fputs(text, f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
}

static int input_bytes(const char *conf, char *const *sets, size_t nsets,
		       uint64_t *bytes, int *from_stdin, pl_error *err)
{
	strcpy(dir, "/tmp/pl_launch_XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	write_file("a.csv", NULL, 1000);
	write_file("b.csv", NULL, 234);
	write_file("part-1.csv", NULL, 10);
	write_file("part-2.csv", NULL, 20);
	write_file("job.conf", conf, 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/job.conf", dir);
	int rc = pl_input_bytes(path, sets, nsets, bytes, from_stdin, err);
	static const char *const names[] = {"a.csv", "b.csv", "part-1.csv",
					    "part-2.csv", "job.conf"};
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	return rc;
}

static void test_input_bytes_sums_files(void)
{
	pl_error err;
	pl_error_clear(&err);
	uint64_t bytes = 1;
	int from_stdin = 1;
	CU_ASSERT_EQUAL(input_bytes("[source]\npath = a.csv\n[sink]\npath = "
				    "o.csv\n",
				    NULL, 0, &bytes, &from_stdin, &err),
			0);
	CU_ASSERT_EQUAL(bytes, 1000);
	CU_ASSERT_EQUAL(from_stdin, 0);
	CU_ASSERT_EQUAL(input_bytes("[source]\npath = a.csv, b.csv, "
				    "part-*.csv\n[sink]\npath = o.csv\n",
				    NULL, 0, &bytes, &from_stdin, &err),
			0);
	CU_ASSERT_EQUAL(bytes, 1000 + 234 + 10 + 20);
}

static void test_input_bytes_follows_set(void)
{
	pl_error err;
	pl_error_clear(&err);
	uint64_t bytes = 0;
	int from_stdin = 0;
	char *sets[] = {"source.path=b.csv"};
	CU_ASSERT_EQUAL(input_bytes("[source]\npath = a.csv\n[sink]\npath = "
				    "o.csv\n",
				    sets, 1, &bytes, &from_stdin, &err),
			0);
	CU_ASSERT_EQUAL(bytes, 234);
}

static void test_input_bytes_stdin(void)
{
	pl_error err;
	pl_error_clear(&err);
	uint64_t bytes = 5;
	int from_stdin = 0;
	CU_ASSERT_EQUAL(input_bytes("[source]\npath = -\nformat = csv\n[sink]"
				    "\npath = o.csv\n",
				    NULL, 0, &bytes, &from_stdin, &err),
			0);
	CU_ASSERT_EQUAL(from_stdin, 1);
	CU_ASSERT_EQUAL(bytes, 0);
}

static void test_input_bytes_errors(void)
{
	pl_error err;
	pl_error_clear(&err);
	uint64_t bytes;
	int from_stdin;
	CU_ASSERT_EQUAL(input_bytes("[source]\npath = missing.csv\n[sink]\n"
				    "path = o.csv\n",
				    NULL, 0, &bytes, &from_stdin, &err),
			PL_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "missing.csv"));
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(input_bytes("[source\npath = a.csv\n", NULL, 0, &bytes,
				    &from_stdin, &err),
			PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "job.conf:1"));
	pl_error_clear(&err);
	char missing[] = "/nonexistent/dir/job.conf";
	CU_ASSERT_EQUAL(
	    pl_input_bytes(missing, NULL, 0, &bytes, &from_stdin, &err),
	    PL_ERR_CONF);
}

static const pl_test tests[] = {
    {"ranks_parse_accepts", test_ranks_parse_accepts},
    {"ranks_parse_rejects", test_ranks_parse_rejects},
    {"auto_by_size_and_cores", test_auto_by_size_and_cores},
    {"cpu_count", test_cpu_count},
    {"input_bytes_sums_files", test_input_bytes_sums_files},
    {"input_bytes_follows_set", test_input_bytes_follows_set},
    {"input_bytes_stdin", test_input_bytes_stdin},
    {"input_bytes_errors", test_input_bytes_errors},
    {NULL, NULL},
};

PL_TEST_MAIN("launch", tests)

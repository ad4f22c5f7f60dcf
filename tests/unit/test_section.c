#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pipeline/section.h"

/* A [sink] as if read from job.conf lines 3..7, path given twice. */
static pl_kv sink_kv[] = {
    {"path", "out.csv", 4},
    {"overwrit", "true", 5},
    {"format", "csv", 6},
    {"path", "final.csv", 7},
};

static pl_section sink(void)
{
	pl_section s = {.name = "sink",
			.line = 3,
			.occurrence = 1,
			.file = "job.conf",
			.dir = "jobs",
			.n = 4,
			.kv = sink_kv};
	return s;
}

static void test_find_returns_last(void)
{
	pl_section s = sink();
	const pl_kv *kv = pl_section_find(&s, "path");
	CU_ASSERT_PTR_NOT_NULL_FATAL(kv);
	CU_ASSERT_STRING_EQUAL(kv->value, "final.csv");
	CU_ASSERT_EQUAL(kv->line, 7);
	CU_ASSERT_PTR_NULL(pl_section_find(&s, "missing"));
	CU_ASSERT_STRING_EQUAL(pl_section_get(&s, "format", "x"), "csv");
	CU_ASSERT_STRING_EQUAL(pl_section_get(&s, "nope", "dflt"), "dflt");
	CU_ASSERT_PTR_NULL(pl_section_get(&s, "nope", NULL));
}

static void test_check_keys_unknown_suggests(void)
{
	static const char *const known[] = {"path", "overwrite", "format",
					    NULL};
	pl_section s = sink();
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_check_keys(&s, known, &err), PL_ERR_CONF);
	CU_ASSERT_EQUAL(err.code, PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg,
			       "job.conf:5: [sink] unknown key 'overwrit' "
			       "(did you mean 'overwrite'?)");
}

static void test_check_keys_unknown_far(void)
{
	static const char *const known[] = {"path", "format", "compression",
					    NULL};
	pl_section s = sink();
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_check_keys(&s, known, &err), PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg,
			       "job.conf:5: [sink] unknown key 'overwrit'");
}

static void test_check_keys_repeated(void)
{
	static const char *const known[] = {"path", "overwrit", "format", NULL};
	pl_section s = sink();
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_check_keys(&s, known, &err), PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, "job.conf:7: [sink] key 'path' given "
					"twice (first at line 4)");
}

static void test_check_keys_ok(void)
{
	static const char *const known[] = {"path", "overwrit", "format", NULL};
	pl_section s = sink();
	s.n = 3;
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_check_keys(&s, known, &err), 0);
	CU_ASSERT_EQUAL(err.code, PL_OK);
	s.n = 4;
	CU_ASSERT_EQUAL(pl_section_check_keys(&s, NULL, &err), PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "given twice"));
}

static void test_section_error_lines(void)
{
	pl_section s = sink();
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_error(&s, "format", &err, "bad %s", "fmt"),
			PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, "job.conf:6: [sink] bad fmt");
	pl_error_clear(&err);
	pl_section_error(&s, NULL, &err, "needs path");
	CU_ASSERT_STRING_EQUAL(err.msg, "job.conf:3: [sink] needs path");
	pl_error_clear(&err);
	pl_section_error(&s, "absent", &err, "x");
	CU_ASSERT_STRING_EQUAL(err.msg, "job.conf:3: [sink] x");
}

static void test_section_error_from_set(void)
{
	pl_kv kv[] = {{"by", "zz", 0}};
	pl_section s = {.name = "sort",
			.line = 9,
			.occurrence = 2,
			.file = "j.conf",
			.dir = ".",
			.n = 1,
			.kv = kv};
	pl_error err;
	pl_error_clear(&err);
	pl_section_error(&s, "by", &err, "no column 'zz'");
	CU_ASSERT_STRING_EQUAL(err.msg, "--set sort#2.by: no column 'zz'");
	s.occurrence = 1;
	pl_error_clear(&err);
	pl_section_error(&s, "by", &err, "m");
	CU_ASSERT_STRING_EQUAL(err.msg, "--set sort.by: m");
	s.line = 0;
	s.name = "job";
	pl_error_clear(&err);
	pl_section_error(&s, NULL, &err, "m");
	CU_ASSERT_STRING_EQUAL(err.msg, "--set job: m");
}

static void test_get_count(void)
{
	pl_kv kv[] = {{"rows", "42", 2},
		      {"neg", "-1", 3},
		      {"junk", "12x", 4},
		      {"empty", "", 5},
		      {"huge", "99999999999999999999", 6}};
	pl_section s = {.name = "limit",
			.line = 1,
			.occurrence = 1,
			.file = "job.conf",
			.dir = ".",
			.n = 5,
			.kv = kv};
	pl_error err;
	long long v = -7;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_get_count(&s, "rows", 5, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(pl_section_get_count(&s, "absent", 5, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 5);
	CU_ASSERT_EQUAL(pl_section_get_count(&s, "neg", 5, &v, &err),
			PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, "job.conf:3: [limit] neg must be a "
					"non-negative integer, not '-1'");
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_get_count(&s, "junk", 5, &v, &err),
			PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "job.conf:4:"));
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_get_count(&s, "empty", 5, &v, &err),
			PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "job.conf:5:"));
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_section_get_count(&s, "huge", 5, &v, &err),
			PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "job.conf:6:"));
}

static void test_get_bool(void)
{
	pl_kv kv[] = {{"a", "TRUE", 1}, {"b", "no", 2},	   {"c", "On", 3},
		      {"d", "0", 4},	{"e", "Yes", 5},   {"f", "OFF", 6},
		      {"g", "1", 7},	{"h", "false", 8}, {"x", "maybe", 9}};
	pl_section s = {.name = "sink",
			.line = 1,
			.occurrence = 1,
			.file = "job.conf",
			.dir = ".",
			.n = 9,
			.kv = kv};
	const char *keys = "abcdefgh";
	const int want[] = {1, 0, 1, 0, 1, 0, 1, 0};
	pl_error err;
	pl_error_clear(&err);
	for (int i = 0; i < 8; i++) {
		char key[2] = {keys[i], '\0'};
		int v = -1;
		CU_ASSERT_EQUAL(pl_section_get_bool(&s, key, 0, &v, &err), 0);
		CU_ASSERT_EQUAL(v, want[i]);
	}
	int v = -1;
	CU_ASSERT_EQUAL(pl_section_get_bool(&s, "absent", 1, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(pl_section_get_bool(&s, "x", 0, &v, &err), PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, "job.conf:9: [sink] x must be true "
					"or false, not 'maybe'");
}

static void test_split_names_plain(void)
{
	char **names = NULL;
	size_t n = 0;
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_split_names("  a,b ,  c d  ", &names, &n, &err), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(names[0], "a");
	CU_ASSERT_STRING_EQUAL(names[1], "b");
	CU_ASSERT_STRING_EQUAL(names[2], "c d");
	pl_names_free(names, n);
	CU_ASSERT_EQUAL(pl_split_names("solo", &names, &n, &err), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(names[0], "solo");
	pl_names_free(names, n);
}

static void test_split_names_backquotes(void)
{
	char **names = NULL;
	size_t n = 0;
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(
	    pl_split_names("a, `first name`, c, ` x, y `", &names, &n, &err),
	    0);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_STRING_EQUAL(names[0], "a");
	CU_ASSERT_STRING_EQUAL(names[1], "first name");
	CU_ASSERT_STRING_EQUAL(names[2], "c");
	CU_ASSERT_STRING_EQUAL(names[3], " x, y ");
	pl_names_free(names, n);
}

static void expect_split_error(const char *list, const char *msg)
{
	char **names = (char **)1;
	size_t n = 99;
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_split_names(list, &names, &n, &err), PL_ERR_CONF);
	CU_ASSERT_PTR_NULL(names);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_STRING_EQUAL(err.msg, msg);
}

static void test_split_names_errors(void)
{
	expect_split_error("a,,b", "empty name in list 'a,,b'");
	expect_split_error("a, ", "empty name in list 'a, '");
	expect_split_error(",a", "empty name in list ',a'");
	expect_split_error("", "empty name in list ''");
	expect_split_error("a, ``", "empty name `` in 'a, ``'");
	expect_split_error("a, `b, c", "unterminated backquote in 'a, `b, c'");
}

static void test_section_path(void)
{
	pl_kv kv[] = {{"path", "data/in.csv", 4}};
	pl_section s = {.name = "source",
			.line = 3,
			.occurrence = 1,
			.file = "jobs/job.conf",
			.dir = "jobs",
			.n = 1,
			.kv = kv};
	char buf[32];
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(
	    pl_section_path(&s, "data/in.csv", buf, sizeof(buf), &err), 0);
	CU_ASSERT_STRING_EQUAL(buf, "jobs/data/in.csv");
	CU_ASSERT_EQUAL(pl_section_path(&s, "/abs/x", buf, sizeof(buf), &err),
			0);
	CU_ASSERT_STRING_EQUAL(buf, "/abs/x");
	CU_ASSERT_EQUAL(pl_section_path(&s, "-", buf, sizeof(buf), &err), 0);
	CU_ASSERT_STRING_EQUAL(buf, "-");
	s.dir = ".";
	CU_ASSERT_EQUAL(pl_section_path(&s, "x.csv", buf, sizeof(buf), &err),
			0);
	CU_ASSERT_STRING_EQUAL(buf, "x.csv");
	s.dir = "jobs";
	CU_ASSERT_EQUAL(pl_section_path(&s, "data/in.csv", buf, 10, &err),
			PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg,
			       "jobs/job.conf:4: [source] path too long (over "
			       "9 bytes): 'data/in.csv'");
}

static void test_suggest(void)
{
	static const char *const ops[] = {
	    "source", "filter", "derive", "groupby", "sort", "sink", NULL};
	static const char *const keys[] = {"path", "overwrite", NULL};
	CU_ASSERT_STRING_EQUAL(pl_suggest("fliter", ops), "filter");
	CU_ASSERT_STRING_EQUAL(pl_suggest("overwrit", keys), "overwrite");
	CU_ASSERT_STRING_EQUAL(pl_suggest("grupby", ops), "groupby");
	CU_ASSERT_STRING_EQUAL(pl_suggest("GroupBy", ops), "groupby");
	CU_ASSERT_STRING_EQUAL(pl_suggest("srot", ops), "sort");
	CU_ASSERT_PTR_NULL(pl_suggest("window", ops));
	CU_ASSERT_PTR_NULL(pl_suggest("xyz", ops));
	CU_ASSERT_PTR_NULL(pl_suggest("", ops));
	/* "sinks" is one edit from sink and two from source. */
	CU_ASSERT_STRING_EQUAL(pl_suggest("sinks", ops), "sink");
	/* Three letters allow one edit: "srt" reaches "sort" only. */
	CU_ASSERT_STRING_EQUAL(pl_suggest("srt", ops), "sort");
	CU_ASSERT_PTR_NULL(pl_suggest("st", ops));
}

static const pl_test tests[] = {
    {"find_returns_last", test_find_returns_last},
    {"check_keys_unknown_suggests", test_check_keys_unknown_suggests},
    {"check_keys_unknown_far", test_check_keys_unknown_far},
    {"check_keys_repeated", test_check_keys_repeated},
    {"check_keys_ok", test_check_keys_ok},
    {"section_error_lines", test_section_error_lines},
    {"section_error_from_set", test_section_error_from_set},
    {"get_count", test_get_count},
    {"get_bool", test_get_bool},
    {"split_names_plain", test_split_names_plain},
    {"split_names_backquotes", test_split_names_backquotes},
    {"split_names_errors", test_split_names_errors},
    {"section_path", test_section_path},
    {"suggest", test_suggest},
    {NULL, NULL},
};

PL_TEST_MAIN("section", tests)

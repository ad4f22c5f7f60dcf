#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/conf.h"
#include "harness.h"

static int parse(const char *text, pl_conf *conf, pl_error *err)
{
	pl_error_clear(err);
	return pl_conf_parse(text, strlen(text), "job.conf", "jobs", conf, err);
}

/* Parsing text must fail with exactly msg, leaving conf empty. */
static void expect_error(const char *text, const char *msg)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL(parse(text, &conf, &err), PL_ERR_CONF);
	CU_ASSERT_EQUAL(err.code, PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, msg);
	CU_ASSERT_EQUAL(conf.n, 0);
	CU_ASSERT_PTR_NULL(conf.sections);
	pl_conf_free(&conf);
}

/* The value of key in the only section of text. */
static void expect_value(const char *text, const char *key, const char *want)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(parse(text, &conf, &err), 0);
	CU_ASSERT_EQUAL_FATAL(conf.n, 1);
	const char *got = pl_section_get(&conf.sections[0], key, NULL);
	CU_ASSERT_PTR_NOT_NULL(got);
	if (got)
		CU_ASSERT_STRING_EQUAL(got, want);
	pl_conf_free(&conf);
}

static void test_sections_and_lines(void)
{
	const char *text = "# a job\n"
			   "[source]\n"
			   "path = in.csv\n"
			   "\n"
			   "[filter]\n"
			   "where = a > 1\n"
			   "[filter]\n"
			   "where = b > 2\n"
			   "[sink]\n";
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(parse(text, &conf, &err), 0);
	CU_ASSERT_STRING_EQUAL(conf.file, "job.conf");
	CU_ASSERT_STRING_EQUAL(conf.dir, "jobs");
	CU_ASSERT_EQUAL_FATAL(conf.n, 4);
	const pl_section *s = conf.sections;
	CU_ASSERT_STRING_EQUAL(s[0].name, "source");
	CU_ASSERT_EQUAL(s[0].line, 2);
	CU_ASSERT_EQUAL(s[0].occurrence, 1);
	CU_ASSERT_STRING_EQUAL(s[0].file, "job.conf");
	CU_ASSERT_STRING_EQUAL(s[0].dir, "jobs");
	CU_ASSERT_EQUAL_FATAL(s[0].n, 1);
	CU_ASSERT_STRING_EQUAL(s[0].kv[0].key, "path");
	CU_ASSERT_STRING_EQUAL(s[0].kv[0].value, "in.csv");
	CU_ASSERT_EQUAL(s[0].kv[0].line, 3);
	CU_ASSERT_EQUAL(s[1].line, 5);
	CU_ASSERT_EQUAL(s[1].occurrence, 1);
	CU_ASSERT_EQUAL(s[2].line, 7);
	CU_ASSERT_EQUAL(s[2].occurrence, 2);
	CU_ASSERT_STRING_EQUAL(s[2].kv[0].value, "b > 2");
	CU_ASSERT_EQUAL(s[2].kv[0].line, 8);
	CU_ASSERT_STRING_EQUAL(s[3].name, "sink");
	CU_ASSERT_EQUAL(s[3].n, 0);
	pl_conf_free(&conf);
}

static void test_spaces_trimmed(void)
{
	expect_value("[s]\n  \t\nkey\t=  a  b \t\n", "key", "a  b");
	expect_value("[s]\nkey=v\n", "key", "v");
	expect_value("[s]\nkey =\n", "key", "");
	expect_value("[s]\r\nkey = v\r\n", "key", "v");
	expect_value("[s]\nkey = a = b\n", "key", "a = b");
	expect_value("[s]  \nk = v", "k", "v");
}

static void test_repeated_keys_kept(void)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(parse("[s]\nk = 1\nk = 2\n", &conf, &err), 0);
	CU_ASSERT_EQUAL_FATAL(conf.sections[0].n, 2);
	const pl_kv *kv = pl_section_find(&conf.sections[0], "k");
	CU_ASSERT_STRING_EQUAL(kv->value, "2");
	CU_ASSERT_EQUAL(kv->line, 3);
	pl_conf_free(&conf);
}

static void test_comments(void)
{
	pl_conf conf;
	pl_error err;
	const char *text = "; top\n[s]\n  # indented comment\n"
			   "a = 1 # one\nb = x#y\nc = 2\t# tab\n";
	CU_ASSERT_EQUAL_FATAL(parse(text, &conf, &err), 0);
	const pl_section *s = &conf.sections[0];
	CU_ASSERT_EQUAL_FATAL(s->n, 3);
	CU_ASSERT_STRING_EQUAL(s->kv[0].value, "1");
	CU_ASSERT_STRING_EQUAL(s->kv[1].value, "x#y");
	CU_ASSERT_STRING_EQUAL(s->kv[2].value, "2");
	pl_conf_free(&conf);
	expect_value("[s]\nk = # all comment\n", "k", "");
}

static void test_comments_inside_quotes(void)
{
	expect_value("[s]\nk = \"a #b\" # c\n", "k", "\"a #b\"");
	expect_value("[s]\nk = 'x #y' # c\n", "k", "'x #y'");
	expect_value("[s]\nk = `col #1` + 1 # c\n", "k", "`col #1` + 1");
	expect_value("[s]\nk = \"it's #1\" #c\n", "k", "\"it's #1\"");
}

static void test_continuation(void)
{
	pl_conf conf;
	pl_error err;
	const char *text = "[derive]\n"
			   "x = a +\n"
			   "    b +   # note\n"
			   "\t\tc\n"
			   "y = 1\n";
	CU_ASSERT_EQUAL_FATAL(parse(text, &conf, &err), 0);
	const pl_section *s = &conf.sections[0];
	CU_ASSERT_EQUAL_FATAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->kv[0].value, "a + b + c");
	CU_ASSERT_EQUAL(s->kv[0].line, 2);
	CU_ASSERT_STRING_EQUAL(s->kv[1].value, "1");
	pl_conf_free(&conf);
	expect_value("[s]\nk =\n  first\n", "k", "first");
}

static void test_continuation_errors(void)
{
	expect_error("[s]\nk = a\n\n  b\n",
		     "job.conf:4: indented line continues no value (a blank "
		     "line, comment or header ended it)");
	expect_error("[s]\nk = a\n# c\n  b\n",
		     "job.conf:4: indented line continues no value (a blank "
		     "line, comment or header ended it)");
	expect_error("[s]\n  b\n", "job.conf:2: indented line continues no "
				   "value (a blank line, comment or header "
				   "ended it)");
	expect_error("  b = 1\n", "job.conf:1: indented line continues no "
				  "value (a blank line, comment or header "
				  "ended it)");
}

static void test_bad_headers(void)
{
	const char *msg = "bad section header: write [name] with letters, "
			  "digits and _";
	char want[256];
	snprintf(want, sizeof(want), "job.conf:3: %s", msg);
	expect_error("[s]\nk = v\n[bad name\n", want);
	expect_error("[s]\nk = v\n[bad name]\n", want);
	expect_error("[s]\nk = v\n[1st]\n", want);
	expect_error("[s]\nk = v\n[]\n", want);
	expect_error("[s]\nk = v\n[job] x\n", want);
	expect_value("[_ok9]  # fine\nk = v\n", "k", "v");
}

static void test_outside_section_and_no_equals(void)
{
	expect_error("# c\nk = v\n", "job.conf:2: 'k = v' is outside any "
				     "section (start with a [section] header)");
	expect_error("[s]\nk = v\njust words\n",
		     "job.conf:3: expected key = value, got 'just words'");
	expect_error("[s]\n= v\n", "job.conf:2: missing key before '='");
}

static void test_nul_byte(void)
{
	pl_conf conf;
	pl_error err;
	pl_error_clear(&err);
	static const char text[] = "[s]\nk\0 = v\n";
	CU_ASSERT_EQUAL(
	    pl_conf_parse(text, sizeof(text) - 1, "j.conf", ".", &conf, &err),
	    PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, "j.conf:2: NUL byte in job.conf");
}

static void test_env_substitution(void)
{
	setenv("PL_TEST_DIR", "/data", 1);
	setenv("PL_TEST_EMPTY", "", 1);
	unsetenv("PL_TEST_UNSET");
	expect_value("[s]\np = ${PL_TEST_DIR}/x.csv\n", "p", "/data/x.csv");
	expect_value("[s]\np = ${PL_TEST_DIR:-/tmp}\n", "p", "/data");
	expect_value("[s]\np = ${PL_TEST_UNSET:-/tmp}/o\n", "p", "/tmp/o");
	expect_value("[s]\np = ${PL_TEST_EMPTY:-dflt}\n", "p", "dflt");
	expect_value("[s]\np = [${PL_TEST_EMPTY}]\n", "p", "[]");
	expect_value("[s]\np = ${PL_TEST_UNSET:-}x\n", "p", "x");
	expect_value("[s]\np = $HOME $ a$b\n", "p", "$HOME $ a$b");
	expect_value("[s]\np = ${PL_TEST_DIR}${PL_TEST_DIR}\n", "p",
		     "/data/data");
	expect_value("[s]\np = a\n  ${PL_TEST_DIR}\n", "p", "a /data");
}

static void test_env_substitution_no_shell(void)
{
	setenv("PL_TEST_CMD", "$(echo hi) `id` ${PL_TEST_DIR}", 1);
	expect_value("[s]\np = ${PL_TEST_CMD}\n", "p",
		     "$(echo hi) `id` ${PL_TEST_DIR}");
}

static void test_env_errors(void)
{
	unsetenv("PL_TEST_UNSET");
	expect_error("[s]\n\np = ${PL_TEST_UNSET}/x\n",
		     "job.conf:3: environment variable 'PL_TEST_UNSET' is not "
		     "set (write ${PL_TEST_UNSET:-default} for a default)");
	const char *bad[] = {"${",     "${}",	 "${1A}",  "${A",
			     "${A:x}", "${A-b}", "${A B}", "a ${"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "[s]\np = %s\n", bad[i]);
		expect_error(text,
			     "job.conf:2: malformed ${...}: write ${NAME} "
			     "or ${NAME:-default}");
	}
}

/* Parses text, applies set, and returns its status; err holds the
 * message. conf is left for the caller to inspect and free. */
static int apply(const char *text, const char *set, pl_conf *conf,
		 pl_error *err)
{
	if (parse(text, conf, err) != 0)
		return -100;
	return pl_conf_apply_set(conf, set, err);
}

static const char *two_sorts = "[source]\npath = a\n"
			       "[sort]\nby = x\nby = y\n"
			       "[sort]\nby = z\n";

static void test_set_replaces_last(void)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(apply(two_sorts, "sort.by=w", &conf, &err), 0);
	const pl_section *s = &conf.sections[1];
	CU_ASSERT_EQUAL_FATAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->kv[0].value, "x");
	CU_ASSERT_EQUAL(s->kv[0].line, 4);
	CU_ASSERT_STRING_EQUAL(s->kv[1].value, "w");
	CU_ASSERT_EQUAL(s->kv[1].line, 0);
	CU_ASSERT_STRING_EQUAL(conf.sections[2].kv[0].value, "z");
	pl_conf_free(&conf);
}

static void test_set_adds_key(void)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(
	    apply(two_sorts, "source. delim = ; ", &conf, &err), 0);
	const pl_section *s = &conf.sections[0];
	CU_ASSERT_EQUAL_FATAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(s->kv[1].key, "delim");
	CU_ASSERT_STRING_EQUAL(s->kv[1].value, ";");
	CU_ASSERT_EQUAL(s->kv[1].line, 0);
	pl_conf_free(&conf);
}

static void test_set_occurrence(void)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(apply(two_sorts, "sort#2.by=q = r", &conf, &err),
			      0);
	CU_ASSERT_STRING_EQUAL(conf.sections[2].kv[0].value, "q = r");
	CU_ASSERT_STRING_EQUAL(conf.sections[1].kv[1].value, "y");
	CU_ASSERT_EQUAL(pl_conf_apply_set(&conf, "sort#1.rows=5", &err), 0);
	CU_ASSERT_STRING_EQUAL(pl_section_get(&conf.sections[1], "rows", ""),
			       "5");
	pl_conf_free(&conf);
}

static void test_set_creates_job(void)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(apply(two_sorts, "job.memory=1GiB", &conf, &err),
			      0);
	CU_ASSERT_EQUAL_FATAL(conf.n, 4);
	const pl_section *s = &conf.sections[0];
	CU_ASSERT_STRING_EQUAL(s->name, "job");
	CU_ASSERT_EQUAL(s->line, 0);
	CU_ASSERT_EQUAL(s->occurrence, 1);
	CU_ASSERT_STRING_EQUAL(s->file, "job.conf");
	CU_ASSERT_STRING_EQUAL(pl_section_get(s, "memory", ""), "1GiB");
	CU_ASSERT_STRING_EQUAL(conf.sections[1].name, "source");
	CU_ASSERT_EQUAL(pl_conf_apply_set(&conf, "job.name=n", &err), 0);
	CU_ASSERT_EQUAL(conf.n, 4);
	CU_ASSERT_EQUAL(conf.sections[0].n, 2);
	pl_conf_free(&conf);
}

static void expect_set_error(const char *set, const char *msg)
{
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL(apply(two_sorts, set, &conf, &err), PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, msg);
	pl_conf_free(&conf);
}

static void test_set_errors(void)
{
	expect_set_error("groupby.keys=x",
			 "--set groupby.keys=x: no section [groupby] in "
			 "job.conf");
	expect_set_error("sort#3.by=x",
			 "--set sort#3.by=x: no section [sort#3] in job.conf");
	expect_set_error("job#2.name=x",
			 "--set job#2.name=x: no section [job#2] in job.conf");
	expect_set_error("sortby=x",
			 "--set sortby=x: expected SECTION.KEY=VALUE");
	expect_set_error("sort.by",
			 "--set sort.by: expected SECTION.KEY=VALUE");
	expect_set_error("sort.=x", "--set sort.=x: missing key before '='");
	const char *bad = "bad section: write NAME or NAME#K (K from 1)";
	char want[128];
	snprintf(want, sizeof(want), "--set sort#0.by=x: %s", bad);
	expect_set_error("sort#0.by=x", want);
	snprintf(want, sizeof(want), "--set sort#.by=x: %s", bad);
	expect_set_error("sort#.by=x", want);
	snprintf(want, sizeof(want), "--set 1x.by=x: %s", bad);
	expect_set_error("1x.by=x", want);
}

static void test_set_substitution(void)
{
	pl_conf conf;
	pl_error err;
	setenv("PL_TEST_ROWS", "77", 1);
	unsetenv("PL_TEST_UNSET");
	CU_ASSERT_EQUAL_FATAL(
	    apply(two_sorts, "sort.rows=${PL_TEST_ROWS}", &conf, &err), 0);
	CU_ASSERT_STRING_EQUAL(pl_section_get(&conf.sections[1], "rows", ""),
			       "77");
	pl_conf_free(&conf);
	expect_set_error("sort.by=${PL_TEST_UNSET}",
			 "--set sort.by=${PL_TEST_UNSET}: environment variable "
			 "'PL_TEST_UNSET' is not set (write "
			 "${PL_TEST_UNSET:-default} for a default)");
	expect_set_error("sort.by=${oops",
			 "--set sort.by=${oops: malformed ${...}: write "
			 "${NAME} or ${NAME:-default}");
}

static void test_parse_size(void)
{
	const struct {
		const char *text;
		uint64_t want;
	} ok[] = {
	    {"123", 123},
	    {"0", 0},
	    {"64KiB", 65536},
	    {"512MiB", 536870912ULL},
	    {"4GiB", 4294967296ULL},
	    {"2TiB", 2199023255552ULL},
	    {"1.5GB", 1500000000ULL},
	    {"2KB", 2000},
	    {"3MB", 3000000},
	    {"1TB", 1000000000000ULL},
	    {"0.5KiB", 512},
	    {" 10 kib ", 10240},
	    {"7B", 7},
	    {"60%", 600},
	    {"12.5%", 125},
	    {"100%", 1000},
	    {"18446744073709551615", UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		CU_ASSERT_EQUAL(pl_parse_size(ok[i].text, 1000, &v), 0);
		CU_ASSERT_EQUAL(v, ok[i].want);
	}
	uint64_t v;
	CU_ASSERT_EQUAL(pl_parse_size("75%", 1ULL << 40, &v), 0);
	CU_ASSERT_EQUAL(v, 824633720832ULL);
	CU_ASSERT_EQUAL(pl_parse_size("50%", UINT64_MAX, &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_MAX / 2);
}

static void test_parse_size_rejects(void)
{
	const char *bad[] = {"",
			     "abc",
			     "-1",
			     "-1KiB",
			     "5K",
			     "5M",
			     "5G",
			     "5XB",
			     "1.",
			     ".5GB",
			     "1e9",
			     "101%",
			     "100.1%",
			     "%",
			     "18446744073709551616",
			     "17179869184GiB",
			     "1 2",
			     "1..5GB"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		CU_ASSERT_EQUAL(pl_parse_size(bad[i], 1000, &v), -1);
		CU_ASSERT_EQUAL(v, 42);
	}
}

/* Writes text to a fresh file in a fresh directory; returns the dir. */
static void write_conf(char *dir, char *path, size_t cap, const char *text)
{
	strcpy(dir, "/tmp/pl_test_conf_XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, cap, "%s/job.conf", dir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_file_and_sets(void)
{
	char dir[64], path[128];
	write_conf(dir, path, sizeof(path), "[source]\npath = in.csv\n");
	char *sets[] = {"source.path=a.csv", "job.name=t", "source.path=b.csv"};
	pl_conf conf;
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_conf_load(path, sets, 3, &conf, &err), 0);
	CU_ASSERT_STRING_EQUAL(conf.file, path);
	CU_ASSERT_STRING_EQUAL(conf.dir, dir);
	CU_ASSERT_EQUAL_FATAL(conf.n, 2);
	CU_ASSERT_STRING_EQUAL(conf.sections[0].name, "job");
	CU_ASSERT_STRING_EQUAL(conf.sections[1].dir, dir);
	CU_ASSERT_STRING_EQUAL(pl_section_get(&conf.sections[1], "path", ""),
			       "b.csv");
	pl_conf_free(&conf);
	CU_ASSERT_EQUAL(pl_conf_load(path, sets + 1, 0, &conf, &err), 0);
	CU_ASSERT_EQUAL(conf.n, 1);
	pl_conf_free(&conf);
	unlink(path);
	rmdir(dir);
}

static void test_load_errors(void)
{
	char dir[64], path[128];
	write_conf(dir, path, sizeof(path), "[source]\npath = in.csv\nzz\n");
	pl_conf conf;
	pl_error err;
	char want[256];
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_conf_load(path, NULL, 0, &conf, &err), PL_ERR_CONF);
	snprintf(want, sizeof(want), "%s:3: expected key = value, got 'zz'",
		 path);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	CU_ASSERT_EQUAL(conf.n, 0);
	unlink(path);
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_conf_load(path, NULL, 0, &conf, &err), PL_ERR_CONF);
	snprintf(want, sizeof(want),
		 "cannot read job.conf '%s': No such file or directory", path);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_conf_load(dir, NULL, 0, &conf, &err), PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cannot read job.conf"));
	rmdir(dir);
}

static void test_load_bad_set_frees(void)
{
	char dir[64], path[128];
	write_conf(dir, path, sizeof(path), "[source]\npath = in.csv\n");
	char *sets[] = {"job.name=t", "nosuch.k=v"};
	pl_conf conf;
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_conf_load(path, sets, 2, &conf, &err), PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, "--set nosuch.k=v: no section "
					"[nosuch] in job.conf");
	CU_ASSERT_EQUAL(conf.n, 0);
	CU_ASSERT_PTR_NULL(conf.sections);
	unlink(path);
	rmdir(dir);
}

static void test_load_dir_of_bare_name(void)
{
	char old[512];
	char dir[64], path[128];
	write_conf(dir, path, sizeof(path), "[job]\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(old, sizeof(old)));
	CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
	pl_conf conf;
	pl_error err;
	pl_error_clear(&err);
	CU_ASSERT_EQUAL(pl_conf_load("job.conf", NULL, 0, &conf, &err), 0);
	CU_ASSERT_STRING_EQUAL(conf.dir, ".");
	CU_ASSERT_STRING_EQUAL(conf.file, "job.conf");
	pl_conf_free(&conf);
	CU_ASSERT_EQUAL(chdir(old), 0);
	unlink(path);
	rmdir(dir);
}

static void test_many_sections_and_keys(void)
{
	char text[8192];
	size_t len = 0;
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[op]\nk%d = %d\nx = y\n", i, i);
	pl_conf conf;
	pl_error err;
	CU_ASSERT_EQUAL_FATAL(parse(text, &conf, &err), 0);
	CU_ASSERT_EQUAL_FATAL(conf.n, 40);
	CU_ASSERT_EQUAL(conf.sections[39].occurrence, 40);
	CU_ASSERT_EQUAL(conf.sections[39].line, 118);
	CU_ASSERT_STRING_EQUAL(conf.sections[39].kv[0].value, "39");
	pl_conf_free(&conf);
}

static const pl_test tests[] = {
    {"sections_and_lines", test_sections_and_lines},
    {"spaces_trimmed", test_spaces_trimmed},
    {"repeated_keys_kept", test_repeated_keys_kept},
    {"comments", test_comments},
    {"comments_inside_quotes", test_comments_inside_quotes},
    {"continuation", test_continuation},
    {"continuation_errors", test_continuation_errors},
    {"bad_headers", test_bad_headers},
    {"outside_section_and_no_equals", test_outside_section_and_no_equals},
    {"nul_byte", test_nul_byte},
    {"env_substitution", test_env_substitution},
    {"env_substitution_no_shell", test_env_substitution_no_shell},
    {"env_errors", test_env_errors},
    {"set_replaces_last", test_set_replaces_last},
    {"set_adds_key", test_set_adds_key},
    {"set_occurrence", test_set_occurrence},
    {"set_creates_job", test_set_creates_job},
    {"set_errors", test_set_errors},
    {"set_substitution", test_set_substitution},
    {"parse_size", test_parse_size},
    {"parse_size_rejects", test_parse_size_rejects},
    {"load_file_and_sets", test_load_file_and_sets},
    {"load_errors", test_load_errors},
    {"load_bad_set_frees", test_load_bad_set_frees},
    {"load_dir_of_bare_name", test_load_dir_of_bare_name},
    {"many_sections_and_keys", test_many_sections_and_keys},
    {NULL, NULL},
};

PL_TEST_MAIN("conf", tests)

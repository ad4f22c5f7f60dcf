/* Date, time and text functions of expressions over a fixed five-row
 * batch (NULLs, 1969, a leap day, the empty string, invalid UTF-8).
 * Expected values were worked out by hand and checked with Python's
 * datetime and re modules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pipeline/datetime.h"
#include "pipeline/expr.h"

/* Rows:
 *    d           t                               s            n
 * 0  2024-02-29  2024-03-05T10:15:30.25Z         "alpha"      7
 * 1  1969-12-31  1969-12-31T23:59:59.999999Z     "wörld"      -1
 * 2  NULL        NULL                            NULL         NULL
 * 3  1970-01-01  2000-01-01T00:00:00Z            ""           0
 * 4  2000-12-31  1900-03-01T12:00:00Z            "a\xff%b_c"  3 */
typedef struct fixture {
	pl_pool *pool;
	pl_schema schema;
	pl_batch *b;
	pl_expr *e;
	pl_error err;
	char got[2048];
} fixture;

static const int64_t NOW = INT64_C(1709633730250000); /* row 0's t */

static void push_time(pl_column *c, const char *text, fixture *f)
{
	int64_t v = 0;
	if (text == NULL) {
		pl_column_push_null(c, f->pool, &f->err);
		return;
	}
	int rc = c->type == PL_DATE
		     ? pl_parse_date(text, strlen(text), &v)
		     : pl_parse_timestamp(text, strlen(text), &v);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	pl_column_push_i64(c, v, f->pool, &f->err);
}

static void setup(fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->pool = pl_pool_create(1 << 20);
	pl_schema_init(&f->schema);
	pl_schema_add(&f->schema, "d", PL_DATE, &f->err);
	pl_schema_add(&f->schema, "t", PL_TIMESTAMP, &f->err);
	pl_schema_add(&f->schema, "s", PL_STRING, &f->err);
	pl_schema_add(&f->schema, "n", PL_INT64, &f->err);
	f->b = pl_batch_new(&f->schema, 8, f->pool, &f->err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->b);
	pl_column *c = f->b->cols;
	const char *d[] = {"2024-02-29", "1969-12-31", NULL, "1970-01-01",
			   "2000-12-31"};
	const char *t[] = {"2024-03-05T10:15:30.25Z",
			   "1969-12-31T23:59:59.999999Z", NULL,
			   "2000-01-01T00:00:00Z", "1900-03-01T12:00:00Z"};
	const char *s[] = {"alpha", "w\xc3\xb6rld", NULL, "", "a\xff%b_c"};
	int64_t n[] = {7, -1, 0, 0, 3};
	for (int i = 0; i < 5; i++) {
		push_time(&c[0], d[i], f);
		push_time(&c[1], t[i], f);
		if (s[i])
			pl_column_push_str(&c[2], s[i], strlen(s[i]), f->pool,
					   &f->err);
		else
			pl_column_push_null(&c[2], f->pool, &f->err);
		if (i == 2)
			pl_column_push_null(&c[3], f->pool, &f->err);
		else
			pl_column_push_i64(&c[3], n[i], f->pool, &f->err);
	}
	CU_ASSERT_EQUAL_FATAL(f->err.code, 0);
	pl_batch_sync_rows(f->b);
	f->b->origin = "data.csv";
	f->b->line = pl_pool_alloc(f->pool, 5 * sizeof(int64_t));
	for (int i = 0; i < 5; i++)
		f->b->line[i] = i + 2;
}

static void teardown(fixture *f)
{
	pl_expr_free(f->e, f->pool);
	pl_batch_free(f->b, f->pool);
	pl_schema_free(&f->schema);
	CU_ASSERT_EQUAL(pl_pool_get_stats(f->pool).bytes_out, 0);
	pl_pool_destroy(f->pool);
}

/* Parses, binds and evaluates text; 0 or the error code. */
static int run(fixture *f, const char *text, pl_type *type)
{
	pl_expr_where w = {"job.conf", 9, "derive", NOW};
	pl_error_clear(&f->err);
	pl_expr_free(f->e, f->pool);
	f->e = NULL;
	int rc = pl_expr_parse(text, &w, &f->e, &f->err);
	if (rc == 0)
		rc = pl_expr_bind(f->e, &f->schema, type, &f->err);
	const pl_column *out = NULL;
	if (rc == 0)
		rc = pl_expr_eval(f->e, f->b, f->pool, &out, &f->err);
	size_t used = 0;
	f->got[0] = '\0';
	for (size_t i = 0; rc == 0 && i < f->b->nrows; i++) {
		char v[256];
		pl_column_format(out, i, v, sizeof(v));
		used += (size_t)snprintf(f->got + used, sizeof(f->got) - used,
					 "%s%s", i ? "|" : "", v);
	}
	return rc;
}

/* text evaluates to want (values joined by |) of type t. */
static void check(const char *text, pl_type t, const char *want)
{
	fixture f;
	setup(&f);
	pl_type got_type = PL_NULLTYPE;
	int rc = run(&f, text, &got_type);
	if (rc != 0)
		printf("\n%s: %s\n", text, f.err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(got_type, t);
	if (strcmp(f.got, want) != 0)
		printf("\n%s:\n  got  %s\n  want %s\n", text, f.got, want);
	CU_ASSERT_STRING_EQUAL(f.got, want);
	teardown(&f);
}

/* text fails with code and a message holding want. */
static void check_error(const char *text, int code, const char *want)
{
	fixture f;
	setup(&f);
	pl_type t;
	int rc = run(&f, text, &t);
	CU_ASSERT_EQUAL(rc, code);
	if (strstr(f.err.msg, want) == NULL)
		printf("\n%s: '%s' lacks '%s'\n", text, f.err.msg, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, want));
	teardown(&f);
}

static void test_parts(void)
{
	check("year(t)", PL_INT64, "2024|1969|NULL|2000|1900");
	check("month(d)", PL_INT64, "2|12|NULL|1|12");
	check("day(d)", PL_INT64, "29|31|NULL|1|31");
	check("hour(t)", PL_INT64, "10|23|NULL|0|12");
	check("minute(t)", PL_INT64, "15|59|NULL|0|0");
	check("second(t)", PL_INT64, "30|59|NULL|0|0");
	check("hour(d)", PL_INT64, "0|0|NULL|0|0");
	/* ISO: Monday 1 .. Sunday 7. */
	check("day_of_week(d)", PL_INT64, "4|3|NULL|4|7");
	check("day_of_year(d)", PL_INT64, "60|365|NULL|1|366");
	check("day_of_year(t)", PL_INT64, "65|365|NULL|1|60");
}

static void test_trunc(void)
{
	check("date_trunc('hour', t)", PL_TIMESTAMP,
	      "2024-03-05T10:00:00Z|1969-12-31T23:00:00Z|NULL|"
	      "2000-01-01T00:00:00Z|1900-03-01T12:00:00Z");
	check("date_trunc('second', t)", PL_TIMESTAMP,
	      "2024-03-05T10:15:30Z|1969-12-31T23:59:59Z|NULL|"
	      "2000-01-01T00:00:00Z|1900-03-01T12:00:00Z");
	check("date_trunc('day', t)", PL_TIMESTAMP,
	      "2024-03-05T00:00:00Z|1969-12-31T00:00:00Z|NULL|"
	      "2000-01-01T00:00:00Z|1900-03-01T00:00:00Z");
	check("date_trunc('week', d)", PL_DATE,
	      "2024-02-26|1969-12-29|NULL|1969-12-29|2000-12-25");
	check("date_trunc('month', d)", PL_DATE,
	      "2024-02-01|1969-12-01|NULL|1970-01-01|2000-12-01");
	check("date_trunc('quarter', t)", PL_TIMESTAMP,
	      "2024-01-01T00:00:00Z|1969-10-01T00:00:00Z|NULL|"
	      "2000-01-01T00:00:00Z|1900-01-01T00:00:00Z");
	check("date_trunc('years', d)", PL_DATE,
	      "2024-01-01|1969-01-01|NULL|1970-01-01|2000-01-01");
	check("date_trunc('minute', d)", PL_DATE,
	      "2024-02-29|1969-12-31|NULL|1970-01-01|2000-12-31");
	check_error("date_trunc('fortnight', t)", PL_ERR_CONF,
		    "job.conf:9: [derive]");
	check_error("date_trunc(s, t)", PL_ERR_CONF, "must be a unit");
}

static void test_diff(void)
{
	check("date_diff('day', d, t)", PL_INT64, "5|0|NULL|10957|-36830");
	check("date_diff('month', d, t)", PL_INT64, "1|0|NULL|360|-1209");
	check("date_diff('year', t, d)", PL_INT64, "0|0|NULL|-30|100");
	check("date_diff('hour', t, t + minutes(1))", PL_INT64, "0|1|NULL|0|0");
	check("date_diff('second', t, date('1970-01-01'))", PL_INT64,
	      "-1709633730|1|NULL|-946684800|2203848000");
	check("date_diff('week', date('2024-03-03'), d)", PL_INT64,
	      "0|-2826|NULL|-2826|-1209");
	check("date_diff('quarter', d, date('2024-04-01'))", PL_INT64,
	      "1|218|NULL|217|94");
}

static void test_durations(void)
{
	check("d + days(7)", PL_DATE,
	      "2024-03-07|1970-01-07|NULL|1970-01-08|2001-01-07");
	check("days(7) + d", PL_DATE,
	      "2024-03-07|1970-01-07|NULL|1970-01-08|2001-01-07");
	check("d - weeks(1)", PL_DATE,
	      "2024-02-22|1969-12-24|NULL|1969-12-25|2000-12-24");
	check("d + n", PL_DATE,
	      "2024-03-07|1969-12-30|NULL|1970-01-01|2001-01-03");
	check("d + hours(36)", PL_TIMESTAMP,
	      "2024-03-01T12:00:00Z|1970-01-01T12:00:00Z|NULL|"
	      "1970-01-02T12:00:00Z|2001-01-01T12:00:00Z");
	check("t + seconds(n) - milliseconds(250)", PL_TIMESTAMP,
	      "2024-03-05T10:15:37Z|1969-12-31T23:59:58.749999Z|NULL|"
	      "1999-12-31T23:59:59.75Z|1900-03-01T12:00:02.75Z");
	check("t - microseconds(1)", PL_TIMESTAMP,
	      "2024-03-05T10:15:30.249999Z|1969-12-31T23:59:59.999998Z|NULL|"
	      "1999-12-31T23:59:59.999999Z|1900-03-01T11:59:59.999999Z");
	/* No DST: a day is always 24 hours. */
	check("t + days(1) == t + hours(24)", PL_BOOL,
	      "true|true|NULL|true|true");
	check("t - timestamp('1970-01-01')", PL_INT64,
	      "1709633730250000|-1|NULL|946684800000000|-2203848000000000");
	check("d - date('2024-01-01')", PL_INT64,
	      "59|-19724|NULL|-19723|-8401");
	check_error("t + days(9223372036854)", PL_ERR_DATA,
		    "duration out of range");
	check_error("d + 106751991", PL_ERR_DATA, "data.csv:2");
	check_error("t + days(106751990)", PL_ERR_DATA, "integer overflow");
	check_error("t * 2", PL_ERR_CONF, "does not apply to timestamp");
	check_error("-d", PL_ERR_CONF, "does not apply to date");
	check_error("t + 1.5", PL_ERR_CONF, "does not apply");
}

static void test_now(void)
{
	check("now()", PL_TIMESTAMP,
	      "2024-03-05T10:15:30.25Z|2024-03-05T10:15:30.25Z|"
	      "2024-03-05T10:15:30.25Z|2024-03-05T10:15:30.25Z|"
	      "2024-03-05T10:15:30.25Z");
	check("t >= now() - days(1)", PL_BOOL, "true|false|NULL|false|false");
}

static void test_literals_and_casts(void)
{
	check("t >= '2000-01-01'", PL_BOOL, "true|false|NULL|true|false");
	check("'2000-01-01' < d", PL_BOOL, "true|false|NULL|false|true");
	check("d == '2024-02-29'", PL_BOOL, "true|false|NULL|false|false");
	check("t < '1970-01-01T01:00:00+01:00'", PL_BOOL,
	      "false|true|NULL|false|true");
	check("d < t", PL_BOOL, "true|true|NULL|true|false");
	check("date(t)", PL_DATE,
	      "2024-03-05|1969-12-31|NULL|2000-01-01|1900-03-01");
	check("timestamp(d)", PL_TIMESTAMP,
	      "2024-02-29T00:00:00Z|1969-12-31T00:00:00Z|NULL|"
	      "1970-01-01T00:00:00Z|2000-12-31T00:00:00Z");
	check("date('2024-03-05 23:00:00-02:00')", PL_DATE,
	      "2024-03-06|2024-03-06|2024-03-06|2024-03-06|2024-03-06");
	check("timestamp(string(t)) == t", PL_BOOL, "true|true|NULL|true|true");
	check("int(d)", PL_INT64, "19782|-1|NULL|0|11322");
	check(
	    "int(t) / 1000000", PL_FLOAT64,
	    "1709633730.25|-9.9999999999999995e-07|NULL|946684800|-2203848000");
	check("string(d)", PL_STRING,
	      "2024-02-29|1969-12-31|NULL|1970-01-01|2000-12-31");
	check("coalesce(d, t)", PL_TIMESTAMP,
	      "2024-02-29T00:00:00Z|1969-12-31T00:00:00Z|NULL|"
	      "1970-01-01T00:00:00Z|2000-12-31T00:00:00Z");
	check("max(d, date('2000-01-01'))", PL_DATE,
	      "2024-02-29|2000-01-01|NULL|2000-01-01|2000-12-31");
	check("if(n > 0, d, null)", PL_DATE,
	      "2024-02-29|NULL|NULL|NULL|2000-12-31");
	check_error("t >= '2024-13-01'", PL_ERR_CONF,
		    "'2024-13-01' is not a timestamp");
	check_error("date('yesterday')", PL_ERR_CONF, "job.conf:9:");
	check_error("date(s)", PL_ERR_DATA, "cannot convert 'alpha' to date");
	check_error("t == 5", PL_ERR_CONF,
		    "cannot compare timestamp with int64");
	check_error("float(d)", PL_ERR_CONF, "cannot be date");
	check_error("t == s", PL_ERR_CONF, "cannot compare");
}

static void test_formats(void)
{
	check("format_time(t, '%d/%m/%Y %H:%M:%S.%f')", PL_STRING,
	      "05/03/2024 10:15:30.250000|31/12/1969 23:59:59.999999|NULL|"
	      "01/01/2000 00:00:00.000000|01/03/1900 12:00:00.000000");
	check("format_time(d, '%a %e %b %Y')", PL_STRING,
	      "Thu 29 Feb 2024|Wed 31 Dec 1969|NULL|Thu  1 Jan 1970|"
	      "Sun 31 Dec 2000");
	check("format_time(t, '')", PL_STRING, "||NULL||");
	check("parse_time(format_time(t, '%s %f'), '%s %f') == t", PL_BOOL,
	      "true|true|NULL|true|true");
	check("parse_time('29-Feb-2024 1:02 pm', '%d-%b-%Y %I:%M %p')",
	      PL_TIMESTAMP,
	      "2024-02-29T13:02:00Z|2024-02-29T13:02:00Z|2024-02-29T13:02:00Z|"
	      "2024-02-29T13:02:00Z|2024-02-29T13:02:00Z");
	check_error("parse_time(s, '%Y')", PL_ERR_DATA,
		    "cannot convert 'alpha' to timestamp at data.csv:2");
	check_error("format_time(t, '%Q')", PL_ERR_CONF, "unknown directive");
	check_error("format_time(t, s)", PL_ERR_CONF, "format in quotes");
}

static void test_like(void)
{
	check("like(s, 'a%')", PL_BOOL, "true|false|NULL|false|true");
	check("like(s, '%')", PL_BOOL, "true|true|NULL|true|true");
	check("like(s, '')", PL_BOOL, "false|false|NULL|true|false");
	check("like(s, '_____')", PL_BOOL, "true|true|NULL|false|false");
	check("like(s, 'w_rld')", PL_BOOL, "false|true|NULL|false|false");
	check("like(s, '%\\\\%b\\\\_%')", PL_BOOL,
	      "false|false|NULL|false|true");
	check("like(s, '%l%a')", PL_BOOL, "true|false|NULL|false|false");
	check("like(s, '%l%x')", PL_BOOL, "false|false|NULL|false|false");
	check("like(s, '%p%a')", PL_BOOL, "true|false|NULL|false|false");
	check("like('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab', "
	      "'%a%a%a%a%a%a%a%a%a%ac')",
	      PL_BOOL, "false|false|false|false|false");
}

static void test_regex(void)
{
	check("regexp_matches(s, '^a')", PL_BOOL, "true|false|NULL|false|true");
	check("regexp_matches(s, 'ö')", PL_BOOL, "false|true|NULL|false|false");
	check("regexp_matches(s, '^.{5}$')", PL_BOOL,
	      "true|true|NULL|false|false");
	check("regexp_extract(s, '([a-z])([a-z])', 2)", PL_STRING,
	      "l|l|NULL|NULL|NULL");
	check("regexp_extract(s, 'l(x)?p')", PL_STRING,
	      "lp|NULL|NULL|NULL|NULL");
	check("regexp_extract(s, 'l(x)?p', 1)", PL_STRING,
	      "NULL|NULL|NULL|NULL|NULL");
	check("regexp_replace(s, '[aeiouö]', '<$0>')", PL_STRING,
	      "<a>lph<a>|w<ö>rld|NULL||<a>\xff%b_c");
	/* An invalid byte is kept; no match starts inside it. */
	check("regexp_replace(s, 'x*', '-')", PL_STRING,
	      "-a-l-p-h-a-|-w-ö-r-l-d-|NULL|-|-a\xff-%-b-_-c-");
	check_error("regexp_matches(s, '(a')", PL_ERR_CONF,
		    "job.conf:9: [derive] in 'regexp_matches(s, '(a')': bad "
		    "regular expression");
	check_error("regexp_matches(s, s)", PL_ERR_CONF, "in quotes");
	check_error("regexp_extract(s, '(a)', 2)", PL_ERR_CONF,
		    "group number from 0 to 1");
	check_error("regexp_replace(s, 'a', '$2')", PL_ERR_DATA,
		    "regexp_replace() failed");
	/* Catastrophic backtracking stops at the match limit, quickly. */
	check_error("regexp_matches(concat(s, "
		    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'), '^(a+)+$')",
		    PL_ERR_DATA, "match limit exceeded at data.csv:4");
}

static void test_text(void)
{
	check("replace(s, 'a', 'xy')", PL_STRING,
	      "xylphxy|wörld|NULL||xy\xff%b_c");
	check("replace(s, '', 'z')", PL_STRING, "alpha|wörld|NULL||a\xff%b_c");
	check("replace('aaa', 'aa', 'b')", PL_STRING, "ba|ba|ba|ba|ba");
	check("split_part('a,b,,c', ',', n)", PL_STRING, "|c|NULL||");
	check("split_part('a,b,,c', ',', 2)", PL_STRING, "b|b|b|b|b");
	check("split_part(s, '', 1)", PL_STRING, "alpha|wörld|NULL||a\xff%b_c");
	check("concat(s, '-', n, '-', d)", PL_STRING,
	      "alpha-7-2024-02-29|wörld--1-1969-12-31|--|-0-1970-01-01|"
	      "a\xff%b_c-3-2000-12-31");
	check("concat(null)", PL_STRING, "||||");
	check("lpad(s, 7, '*')", PL_STRING,
	      "**alpha|**wörld|NULL|*******|*a\xff%b_c");
	check("rpad(s, 3)", PL_STRING, "alp|wör|NULL|   |a\xff%");
	check("lpad(s, n, 'ab')", PL_STRING, "abalpha||NULL||a\xff%");
	check("rpad('x', 4, 'é')", PL_STRING, "xééé|xééé|xééé|xééé|xééé");
	check("rpad(s, 2, '')", PL_STRING, "al|wö|NULL||a\xff");
	check("strpos(s, 'l')", PL_INT64, "2|4|NULL|0|0");
	check("strpos(s, '')", PL_INT64, "1|1|NULL|1|1");
	check("strpos(s, 'b')", PL_INT64, "0|0|NULL|0|4");
	check_error("lpad(s, 2000000)", PL_ERR_DATA, "padding beyond 1 MiB");
	check_error("split_part(s, ',', 'x')", PL_ERR_CONF, "cannot be string");
}

static const pl_test tests[] = {{"parts", test_parts},
				{"trunc", test_trunc},
				{"diff", test_diff},
				{"durations", test_durations},
				{"now", test_now},
				{"literals_and_casts", test_literals_and_casts},
				{"formats", test_formats},
				{"like", test_like},
				{"regex", test_regex},
				{"text", test_text},
				{NULL, NULL}};

PL_TEST_MAIN("expr_time", tests)

/* Expressions: parsing, binding, evaluation and errors over a fixed
 * three-row batch whose values the expected results are computed from. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/csv_writer.h"
#include "pipeline/expr.h"

/* Rows, from input lines 2, 5 and 17 of data.csv:
 *   a   b  x      s        t      n     `first name`
 *   7   2  0.5    Hello    true   NULL  "Ann"
 *  -7   3  -2.25  wörld    false  3     " Bob\t"
 *   4   0  NULL   NULL     NULL   NULL  ""          */
typedef struct fixture {
	pl_pool *pool;
	pl_schema schema;
	pl_batch *b;
	pl_expr *e;
	pl_error err;
	char got[1024];
} fixture;

static const pl_expr_where where = {"job.conf", 12, "derive", 0};

static void add_col(fixture *f, const char *name, pl_type t)
{
	CU_ASSERT_EQUAL_FATAL(pl_schema_add(&f->schema, name, t, &f->err), 0);
}

static void fill(fixture *f)
{
	pl_column *c = f->b->cols;
	pl_pool *p = f->pool;
	pl_error *err = &f->err;
	int64_t a[] = {7, -7, 4}, b[] = {2, 3, 0};
	for (int i = 0; i < 3; i++) {
		pl_column_push_i64(&c[0], a[i], p, err);
		pl_column_push_i64(&c[1], b[i], p, err);
	}
	pl_column_push_f64(&c[2], 0.5, p, err);
	pl_column_push_f64(&c[2], -2.25, p, err);
	pl_column_push_null(&c[2], p, err);
	pl_column_push_str(&c[3], "Hello", 5, p, err);
	pl_column_push_str(&c[3], "w\xc3\xb6rld", 6, p, err);
	pl_column_push_null(&c[3], p, err);
	pl_column_push_bool(&c[4], true, p, err);
	pl_column_push_bool(&c[4], false, p, err);
	pl_column_push_null(&c[4], p, err);
	pl_column_push_null(&c[5], p, err);
	pl_column_push_i64(&c[5], 3, p, err);
	pl_column_push_null(&c[5], p, err);
	pl_column_push_str(&c[6], "Ann", 3, p, err);
	pl_column_push_str(&c[6], " Bob\t", 5, p, err);
	pl_column_push_str(&c[6], "", 0, p, err);
	CU_ASSERT_EQUAL_FATAL(err->code, 0);
}

static void setup(fixture *f, int provenance)
{
	memset(f, 0, sizeof(*f));
	pl_error_clear(&f->err);
	f->pool = pl_pool_create(1 << 20);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->pool);
	pl_schema_init(&f->schema);
	add_col(f, "a", PL_INT64);
	add_col(f, "b", PL_INT64);
	add_col(f, "x", PL_FLOAT64);
	add_col(f, "s", PL_STRING);
	add_col(f, "t", PL_BOOL);
	add_col(f, "n", PL_INT64);
	add_col(f, "first name", PL_STRING);
	f->b = pl_batch_new(&f->schema, 4, f->pool, &f->err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->b);
	fill(f);
	pl_batch_sync_rows(f->b);
	if (provenance) {
		f->b->origin = "data.csv";
		f->b->line = pl_pool_alloc(f->pool, 3 * sizeof(int64_t));
		CU_ASSERT_PTR_NOT_NULL_FATAL(f->b->line);
		f->b->line[0] = 2;
		f->b->line[1] = 5;
		f->b->line[2] = 17;
	}
}

static void teardown(fixture *f)
{
	pl_expr_free(f->e, f->pool);
	f->e = NULL;
	pl_batch_free(f->b, f->pool);
	pl_schema_free(&f->schema);
	CU_ASSERT_EQUAL(pl_pool_get_stats(f->pool).bytes_out, 0);
	pl_pool_destroy(f->pool);
}

static void format_col(const pl_column *c, size_t n, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 64 < cap; i++) {
		char v[64];
		if (pl_column_is_null(c, i))
			snprintf(v, sizeof(v), "NULL");
		else if (c->type == PL_INT64)
			snprintf(v, sizeof(v), "%lld",
				 (long long)pl_col_i64(c)[i]);
		else if (c->type == PL_FLOAT64)
			pl_format_double(pl_col_f64(c)[i], v);
		else if (c->type == PL_BOOL)
			snprintf(v, sizeof(v), "%s",
				 pl_col_bool(c)[i] ? "true" : "false");
		else {
			size_t len;
			const char *s = pl_col_str(c, i, &len);
			snprintf(v, sizeof(v), "%.*s", (int)len, s);
		}
		used += (size_t)snprintf(buf + used, cap - used, "%s%s",
					 i ? "," : "", v);
	}
}

/* Parses, binds and evaluates text; returns the status, with the result
 * formatted into f->got ("v1,v2,v3") or the error message. */
static int run(fixture *f, const char *text, pl_type *type)
{
	pl_type t = PL_NULLTYPE;
	const pl_column *c = NULL;
	pl_expr_free(f->e, f->pool);
	f->e = NULL;
	pl_error_clear(&f->err);
	int rc = pl_expr_parse(text, &where, &f->e, &f->err);
	if (rc == 0)
		rc = pl_expr_bind(f->e, &f->schema, &t, &f->err);
	if (rc == 0)
		rc = pl_expr_eval(f->e, f->b, f->pool, &c, &f->err);
	if (rc == 0) {
		CU_ASSERT_EQUAL(c->len, 3);
		format_col(c, 3, f->got, sizeof(f->got));
	} else {
		snprintf(f->got, sizeof(f->got), "%s", f->err.msg);
	}
	if (type)
		*type = t;
	return rc;
}

static void expect(fixture *f, const char *text, pl_type type, const char *want)
{
	pl_type t;
	int rc = run(f, text, &t);
	if (rc != 0 || strcmp(f->got, want) != 0 || t != type)
		fprintf(stderr, "\n'%s': rc %d type %s got '%s' want '%s'\n",
			text, rc, pl_type_name(t), f->got, want);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(t, type);
	CU_ASSERT_STRING_EQUAL(f->got, want);
}

static void expect_err(fixture *f, const char *text, int code, const char *want)
{
	int rc = run(f, text, NULL);
	if (rc != code || strstr(f->got, want) == NULL)
		fprintf(stderr, "\n'%s': rc %d got '%s' want '%s'\n", text, rc,
			f->got, want);
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->got, want));
}

static void test_precedence(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "2 + 3 * 4", PL_INT64, "14,14,14");
	expect(&f, "(2 + 3) * 4", PL_INT64, "20,20,20");
	expect(&f, "10 - 4 - 3", PL_INT64, "3,3,3");
	expect(&f, "-2^2", PL_FLOAT64, "-4.0,-4.0,-4.0");
	expect(&f, "2^3^2", PL_FLOAT64, "512.0,512.0,512.0");
	expect(&f, "2^-1", PL_FLOAT64, "0.5,0.5,0.5");
	expect(&f, "-a * 2", PL_INT64, "-14,14,-8");
	expect(&f, "a - b * 2", PL_INT64, "3,-13,4");
	expect(&f, "1 + 2 == 3 and not 1 > 2 or false", PL_BOOL,
	       "true,true,true");
	expect(&f, "not a > 0", PL_BOOL, "false,true,false");
	expect(&f, "a > 0 && !(b == 2) || false", PL_BOOL, "false,false,true");
	expect(&f, "12 % 5 * 2", PL_INT64, "4,4,4");
	teardown(&f);
}

static void test_arithmetic(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "a + b", PL_INT64, "9,-4,4");
	expect(&f, "a % 3", PL_INT64, "1,-1,1");
	expect(&f, "a % -3", PL_INT64, "1,-1,1");
	expect(&f, "-9223372036854775808 % -1", PL_INT64, "0,0,0");
	expect(&f, "a / 2", PL_FLOAT64, "3.5,-3.5,2.0");
	expect(&f, "x + a", PL_FLOAT64, "7.5,-9.25,NULL");
	expect(&f, "x * 2", PL_FLOAT64, "1.0,-4.5,NULL");
	expect(&f, "x % 2", PL_FLOAT64, "0.5,-0.25,NULL");
	expect(&f, "n + 1", PL_INT64, "NULL,4,NULL");
	expect(&f, "a + null", PL_INT64, "NULL,NULL,NULL");
	expect(&f, "null * null", PL_NULLTYPE, "NULL,NULL,NULL");
	expect(&f, "-x", PL_FLOAT64, "-0.5,2.25,NULL");
	expect(&f, "1e-3 + 3.5", PL_FLOAT64, "3.501,3.501,3.501");
	expect(&f, "-9223372036854775808", PL_INT64,
	       "-9223372036854775808,-9223372036854775808,"
	       "-9223372036854775808");
	teardown(&f);
}

static void test_comparisons(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "a == 7.0", PL_BOOL, "true,false,false");
	expect(&f, "a >= b", PL_BOOL, "true,false,true");
	expect(&f, "a != b", PL_BOOL, "true,true,true");
	expect(&f, "x < a", PL_BOOL, "true,false,NULL");
	expect(&f, "x <= -2.25", PL_BOOL, "false,true,NULL");
	expect(&f, "9007199254740993 > 9007199254740992.0", PL_BOOL,
	       "true,true,true");
	expect(&f, "9007199254740992.0 < 9007199254740993", PL_BOOL,
	       "true,true,true");
	expect(&f, "s < 'Z'", PL_BOOL, "true,false,NULL");
	expect(&f, "s == \"Hello\"", PL_BOOL, "true,false,NULL");
	expect(&f, "'ab' < 'abc'", PL_BOOL, "true,true,true");
	expect(&f, "t == false", PL_BOOL, "false,true,NULL");
	expect(&f, "n == null", PL_BOOL, "NULL,NULL,NULL");
	expect(&f, "(a < b) == t", PL_BOOL, "false,false,NULL");
	teardown(&f);
}

static void test_logic_three_valued(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "t and null", PL_BOOL, "NULL,false,NULL");
	expect(&f, "t or null", PL_BOOL, "true,NULL,NULL");
	expect(&f, "false and null", PL_BOOL, "false,false,false");
	expect(&f, "true or null", PL_BOOL, "true,true,true");
	expect(&f, "not t", PL_BOOL, "false,true,NULL");
	expect(&f, "t or n > 0", PL_BOOL, "true,true,NULL");
	expect(&f, "a > 0 and t", PL_BOOL, "true,false,NULL");
	teardown(&f);
}

static void test_math_functions(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "abs(a)", PL_INT64, "7,7,4");
	expect(&f, "abs(x)", PL_FLOAT64, "0.5,2.25,NULL");
	expect(&f, "sqrt(4)", PL_FLOAT64, "2.0,2.0,2.0");
	expect(&f, "sqrt(-1)", PL_FLOAT64, "nan,nan,nan");
	expect(&f, "log(0)", PL_FLOAT64, "-inf,-inf,-inf");
	expect(&f, "exp(0) + log10(1000)", PL_FLOAT64, "4.0,4.0,4.0");
	expect(&f, "pow(b, 2)", PL_FLOAT64, "4.0,9.0,0.0");
	expect(&f, "floor(x)", PL_FLOAT64, "0.0,-3.0,NULL");
	expect(&f, "ceil(x)", PL_FLOAT64, "1.0,-2.0,NULL");
	expect(&f, "floor(a)", PL_INT64, "7,-7,4");
	expect(&f, "round(2.5) + round(-2.5)", PL_FLOAT64, "0.0,0.0,0.0");
	expect(&f, "round(-2.5)", PL_FLOAT64, "-3.0,-3.0,-3.0");
	expect(&f, "round(x, 1)", PL_FLOAT64, "0.5,-2.3,NULL");
	expect(&f, "round(a)", PL_INT64, "7,-7,4");
	expect(&f, "round(1250, -2)", PL_INT64, "1300,1300,1300");
	expect(&f, "round(-1249, -2)", PL_INT64, "-1200,-1200,-1200");
	expect(&f, "round(1234.5678, 2)", PL_FLOAT64,
	       "1234.57,1234.57,1234.57");
	expect(&f, "min(a, b)", PL_INT64, "2,-7,0");
	expect(&f, "max(a, x)", PL_FLOAT64, "7.0,-2.25,NULL");
	expect(&f, "min(a, n, 100)", PL_INT64, "NULL,-7,NULL");
	expect(&f, "max(s, 'b')", PL_STRING, "b,w\xc3\xb6rld,NULL");
	teardown(&f);
}

/* Row-wise min and max do not depend on the order of their arguments:
 * NaN is above every number, -0.0 below 0.0. */
static void test_min_max_nan_order_free(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "min(sqrt(-1), 2.0)", PL_FLOAT64, "2.0,2.0,2.0");
	expect(&f, "min(2.0, sqrt(-1))", PL_FLOAT64, "2.0,2.0,2.0");
	expect(&f, "max(sqrt(-1), 2.0)", PL_FLOAT64, "nan,nan,nan");
	expect(&f, "max(2.0, sqrt(-1))", PL_FLOAT64, "nan,nan,nan");
	expect(&f, "min(sqrt(-1), sqrt(-1))", PL_FLOAT64, "nan,nan,nan");
	expect(&f, "min(x, sqrt(-1), a)", PL_FLOAT64, "0.5,-7.0,NULL");
	expect(&f, "min(a, sqrt(-1), x)", PL_FLOAT64, "0.5,-7.0,NULL");
	expect(&f, "min(-0.0, 0.0)", PL_FLOAT64, "-0.0,-0.0,-0.0");
	expect(&f, "min(0.0, -0.0)", PL_FLOAT64, "-0.0,-0.0,-0.0");
	expect(&f, "max(-0.0, 0.0)", PL_FLOAT64, "0.0,0.0,0.0");
	expect(&f, "max(0.0, -0.0)", PL_FLOAT64, "0.0,0.0,0.0");
	teardown(&f);
}

static void test_conditionals(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "if(t, a, x)", PL_FLOAT64, "7.0,-2.25,NULL");
	expect(&f, "if(b == 0, 0, a / b)", PL_FLOAT64,
	       "3.5,-2.3333333333333335,0.0");
	expect(&f, "if(t, 'yes', null)", PL_STRING, "yes,NULL,NULL");
	expect(&f, "if(null, 1, 2)", PL_INT64, "2,2,2");
	expect(&f, "is_null(n)", PL_BOOL, "true,false,true");
	expect(&f, "is_null(null)", PL_BOOL, "true,true,true");
	expect(&f, "coalesce(n, a)", PL_INT64, "7,3,4");
	expect(&f, "coalesce(x, 0)", PL_FLOAT64, "0.5,-2.25,0.0");
	expect(&f, "coalesce(null, s, 'z')", PL_STRING, "Hello,w\xc3\xb6rld,z");
	expect(&f, "coalesce(n)", PL_INT64, "NULL,3,NULL");
	expect(&f, "null", PL_NULLTYPE, "NULL,NULL,NULL");
	teardown(&f);
}

static void test_string_functions(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "`first name`", PL_STRING, "Ann, Bob\t,");
	expect(&f, "length(`first name`)", PL_INT64, "3,5,0");
	expect(&f, "length(s)", PL_INT64, "5,5,NULL");
	expect(&f, "upper(s)", PL_STRING, "HELLO,W\xc3\xb6RLD,NULL");
	expect(&f, "lower(s)", PL_STRING, "hello,w\xc3\xb6rld,NULL");
	expect(&f, "trim(`first name`)", PL_STRING, "Ann,Bob,");
	expect(&f, "substr(s, 2, 3)", PL_STRING, "ell,\xc3\xb6rl,NULL");
	expect(&f, "substr(s, 0)", PL_STRING, "Hello,w\xc3\xb6rld,NULL");
	expect(&f, "substr(s, 4, -1)", PL_STRING, ",,NULL");
	expect(&f, "substr(s, 5, 10)", PL_STRING, "o,d,NULL");
	expect(&f, "contains(s, 'll')", PL_BOOL, "true,false,NULL");
	expect(&f, "starts_with(s, 'w\xc3\xb6')", PL_BOOL, "false,true,NULL");
	expect(&f, "ends_with(s, 'ld')", PL_BOOL, "false,true,NULL");
	expect(&f, "contains(s, '')", PL_BOOL, "true,true,NULL");
	expect(&f, "'a\\'b\\\"c\\\\d\\te\\nf'", PL_STRING,
	       "a'b\"c\\d\te\nf,a'b\"c\\d\te\nf,a'b\"c\\d\te\nf");
	teardown(&f);
}

static void test_conversions(void)
{
	fixture f;
	setup(&f, 1);
	expect(&f, "int(x)", PL_INT64, "0,-2,NULL");
	expect(&f, "int(' -42 ')", PL_INT64, "-42,-42,-42");
	expect(&f, "int(t)", PL_INT64, "1,0,NULL");
	expect(&f, "float(a)", PL_FLOAT64, "7.0,-7.0,4.0");
	expect(&f, "float('2.5')", PL_FLOAT64, "2.5,2.5,2.5");
	expect(&f, "string(x)", PL_STRING, "0.5,-2.25,NULL");
	expect(&f, "string(a)", PL_STRING, "7,-7,4");
	expect(&f, "string(t)", PL_STRING, "true,false,NULL");
	expect(&f, "string(0.1)", PL_STRING, "0.1,0.1,0.1");
	expect(&f, "string(3.0)", PL_STRING, "3.0,3.0,3.0");
	expect(&f, "string(1e300)", PL_STRING, "1e+300,1e+300,1e+300");
	expect(&f, "string(1e-5)", PL_STRING, "1e-05,1e-05,1e-05");
	expect(&f, "string(sqrt(-1))", PL_STRING, "nan,nan,nan");
	expect(&f, "string(s)", PL_STRING, "Hello,w\xc3\xb6rld,NULL");
	expect_err(&f, "int('4x')", PL_ERR_DATA,
		   "cannot convert '4x' to int64 at data.csv:2");
	expect_err(&f, "int(1e19)", PL_ERR_DATA, "to int64 at data.csv:2");
	expect_err(&f, "int(sqrt(-1))", PL_ERR_DATA, "to int64");
	expect_err(&f, "float('abc')", PL_ERR_DATA, "to float64");
	teardown(&f);
}

static void test_overflow_errors(void)
{
	fixture f;
	setup(&f, 1);
	expect_err(&f, "a + 9223372036854775807", PL_ERR_DATA,
		   "job.conf:12: [derive] 'a + 9223372036854775807': integer "
		   "overflow in '+' at data.csv:2");
	expect_err(&f, "-a - 9223372036854775807", PL_ERR_DATA,
		   "integer overflow in '-' at data.csv:2");
	expect_err(&f, "b * 3074457345618258603", PL_ERR_DATA,
		   "integer overflow in '*' at data.csv:5");
	expect_err(&f, "-(a * 0 - 9223372036854775807 - 1)", PL_ERR_DATA,
		   "integer overflow in '-' at data.csv:2");
	expect_err(&f, "abs(-9223372036854775808)", PL_ERR_DATA,
		   "integer overflow in abs() at data.csv:2");
	expect_err(&f, "round(9223372036854775807, -1)", PL_ERR_DATA,
		   "integer overflow in round()");
	expect(&f, "if(n > 5, n * 4611686018427387904, 0)", PL_INT64, "0,0,0");
	teardown(&f);
}

static void test_division_errors(void)
{
	fixture f;
	setup(&f, 1);
	expect_err(&f, "a / b", PL_ERR_DATA,
		   "[derive] 'a / b': division by zero in '/' at data.csv:17");
	expect_err(&f, "a % b", PL_ERR_DATA,
		   "division by zero in '%' at data.csv:17");
	expect_err(&f, "x / 0", PL_ERR_DATA, "at data.csv:2");
	expect_err(&f, "x % 0.0", PL_ERR_DATA, "at data.csv:2");
	expect_err(&f, "n % 0", PL_ERR_DATA, "at data.csv:5");
	teardown(&f);
	setup(&f, 0);
	expect_err(&f, "a / b", PL_ERR_DATA,
		   "division by zero in '/' at row 3");
	teardown(&f);
}

static void test_type_errors(void)
{
	fixture f;
	setup(&f, 1);
	expect_err(&f, "s + 1", PL_ERR_CONF,
		   "job.conf:12: [derive] in 's + 1': '+' does not apply to "
		   "string and int64");
	expect_err(&f, "t * 2", PL_ERR_CONF, "'*' does not apply to bool");
	expect_err(&f, "-s", PL_ERR_CONF, "'-' does not apply to string");
	expect_err(&f, "s < 1", PL_ERR_CONF,
		   "cannot compare string with int64");
	expect_err(&f, "not a", PL_ERR_CONF, "'not' does not apply to int64");
	expect_err(&f, "a and t", PL_ERR_CONF, "'and' does not apply");
	expect_err(&f, "if(t, 1, 'a')", PL_ERR_CONF,
		   "if() mixes int64 and string");
	expect_err(&f, "sqrt(s)", PL_ERR_CONF,
		   "argument 1 of sqrt() cannot be string");
	expect_err(&f, "substr(s, 1.5)", PL_ERR_CONF,
		   "argument 2 of substr() cannot be float64");
	expect_err(&f, "upper(a)", PL_ERR_CONF, "upper() cannot be int64");
	expect_err(&f, "if(a, 1, 2)", PL_ERR_CONF, "if() cannot be int64");
	expect_err(&f, "pow(2)", PL_ERR_CONF, "pow() takes 2 arguments, not 1");
	expect_err(&f, "round(1, 2, 3)", PL_ERR_CONF,
		   "round() takes 1 to 2 arguments, not 3");
	teardown(&f);
}

static void test_name_errors(void)
{
	fixture f;
	setup(&f, 1);
	expect_err(&f, "bb + 1", PL_ERR_CONF,
		   "job.conf:12: [derive] in 'bb + 1': unknown column 'bb' "
		   "(did you mean 'b'?)");
	expect_err(&f, "zzzzzz", PL_ERR_CONF, "unknown column 'zzzzzz'");
	expect_err(&f, "`first nam`", PL_ERR_CONF,
		   "did you mean 'first name'?");
	expect_err(&f, "sqr(4)", PL_ERR_CONF,
		   "unknown function 'sqr' (did you mean 'sqrt'?)");
	expect_err(&f, "sum(a) + 1", PL_ERR_CONF,
		   "aggregate 'sum' is only allowed in [groupby]");
	expect_err(&f, "max(a)", PL_ERR_CONF,
		   "aggregate 'max' is only allowed in [groupby]");
	teardown(&f);
}

static void test_syntax_errors(void)
{
	fixture f;
	setup(&f, 1);
	expect_err(&f, "a < b < 3", PL_ERR_CONF,
		   "job.conf:12: [derive] syntax error in 'a < b < 3': "
		   "comparisons do not chain; use 'and' at column 7");
	expect_err(&f, "a +", PL_ERR_CONF,
		   "unexpected end of expression at column 4");
	expect_err(&f, "(a + 1", PL_ERR_CONF, "unclosed '(' at column 1");
	expect_err(&f, "'abc", PL_ERR_CONF, "unterminated string at column 1");
	expect_err(&f, "a $ b", PL_ERR_CONF,
		   "unexpected character at column 3");
	expect_err(&f, "a b", PL_ERR_CONF, "unexpected 'b' at column 3");
	expect_err(&f, "9223372036854775808", PL_ERR_CONF,
		   "integer literal too large for int64 at column 1");
	expect_err(&f, "1 + 99999999999999999999", PL_ERR_CONF,
		   "too large for int64 at column 5");
	expect_err(&f, "f(1,)", PL_ERR_CONF, "unexpected ')' at column 5");
	expect_err(&f, "'a\\q'", PL_ERR_CONF, "unknown escape");
	expect_err(&f, "1e+", PL_ERR_CONF, "malformed exponent");
	expect_err(&f, "``", PL_ERR_CONF, "empty `name`");
	expect_err(&f, "", PL_ERR_CONF, "unexpected end of expression");
	teardown(&f);
}

static void test_deep_nesting(void)
{
	fixture f;
	setup(&f, 1);
	char text[700];
	memset(text, '(', 300);
	strcpy(text + 300, "1");
	memset(text + 301, ')', 300);
	text[601] = '\0';
	expect_err(&f, text, PL_ERR_CONF, "nested too deeply");
	teardown(&f);
}

static void test_no_where(void)
{
	pl_error err;
	pl_error_clear(&err);
	pl_expr *e = NULL;
	CU_ASSERT_EQUAL(pl_expr_parse("1 +", NULL, &e, &err), PL_ERR_CONF);
	CU_ASSERT_STRING_EQUAL(err.msg, "syntax error in '1 +': unexpected "
					"end of expression at column 4");
	CU_ASSERT_PTR_NULL(e);
}

static void test_inspection(void)
{
	pl_error err;
	pl_error_clear(&err);
	const char *texts[] = {"0.25", "-3", "-2.5", "a", "-2^2", "`b c`"};
	pl_expr *e[6];
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL_FATAL(
		    pl_expr_parse(texts[i], NULL, &e[i], &err), 0);
	double v = 0;
	CU_ASSERT(pl_expr_number(e[0], &v) && v == 0.25);
	CU_ASSERT(pl_expr_number(e[1], &v) && v == -3);
	CU_ASSERT(pl_expr_number(e[2], &v) && v == -2.5);
	CU_ASSERT(!pl_expr_number(e[3], &v));
	CU_ASSERT(!pl_expr_number(e[4], &v));
	CU_ASSERT_STRING_EQUAL(pl_expr_column_name(e[3]), "a");
	CU_ASSERT_STRING_EQUAL(pl_expr_column_name(e[5]), "b c");
	CU_ASSERT_PTR_NULL(pl_expr_column_name(e[0]));
	CU_ASSERT_STRING_EQUAL(pl_expr_text(e[4]), "-2^2");
	for (int i = 0; i < 6; i++)
		pl_expr_free(e[i], NULL);
}

static void test_clone(void)
{
	fixture f;
	setup(&f, 1);
	pl_expr *orig = NULL;
	CU_ASSERT_EQUAL_FATAL(pl_expr_parse("a + b * 2", &where, &orig, &f.err),
			      0);
	f.e = pl_expr_clone(orig);
	pl_expr_free(orig, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f.e);
	CU_ASSERT_STRING_EQUAL(pl_expr_text(f.e), "a + b * 2");
	pl_type t;
	const pl_column *c;
	CU_ASSERT_EQUAL(pl_expr_bind(f.e, &f.schema, &t, &f.err), 0);
	CU_ASSERT_EQUAL(pl_expr_eval(f.e, f.b, f.pool, &c, &f.err), 0);
	format_col(c, 3, f.got, sizeof(f.got));
	CU_ASSERT_STRING_EQUAL(f.got, "11,-1,4");
	teardown(&f);
}

static const char *const aggs[] = {"count", "sum",	"mean", "min",
				   "max",   "quantile", "corr", NULL};

typedef struct agg_log {
	int calls;
	char seen[256];
	pl_expr *args[4];
	double p;
} agg_log;

static int on_agg(void *arg, const char *fname, pl_expr *const *args,
		  size_t nargs, char *name_out, size_t cap, pl_error *err)
{
	agg_log *log = arg;
	size_t used = strlen(log->seen);
	const char *col = nargs ? pl_expr_column_name(args[0]) : NULL;
	snprintf(log->seen + used, sizeof(log->seen) - used, "%s(%s/%zu) ",
		 fname, col ? col : "?", nargs);
	if (nargs == 2)
		pl_expr_number(args[1], &log->p);
	if (nargs > 0 && log->calls < 4) {
		log->args[log->calls] = pl_expr_clone(args[0]);
		if (log->args[log->calls] == NULL)
			return pl_error_nomem(err, "a clone");
	}
	snprintf(name_out, cap, "__agg%d", log->calls++);
	return 0;
}

static void free_log(agg_log *log)
{
	for (int i = 0; i < 4; i++)
		pl_expr_free(log->args[i], NULL);
}

static void test_extract_aggs(void)
{
	fixture f;
	setup(&f, 1);
	pl_schema_free(&f.schema);
	pl_schema_init(&f.schema);
	add_col(&f, "__agg0", PL_INT64);
	add_col(&f, "__agg1", PL_INT64);
	agg_log log = {0};
	CU_ASSERT_EQUAL_FATAL(pl_expr_parse("max(v1) - min(v2) + min(1, 2)",
					    &where, &f.e, &f.err),
			      0);
	CU_ASSERT_EQUAL(pl_expr_extract_aggs(f.e, aggs, on_agg, &log, &f.err),
			0);
	CU_ASSERT_STRING_EQUAL(log.seen, "max(v1/1) min(v2/1) ");
	CU_ASSERT_STRING_EQUAL(pl_expr_text(log.args[1]), "v2");
	/* The batch's first two columns stand in for the aggregates. */
	pl_type t;
	const pl_column *c;
	CU_ASSERT_EQUAL(pl_expr_bind(f.e, &f.schema, &t, &f.err), 0);
	CU_ASSERT_EQUAL(t, PL_INT64);
	CU_ASSERT_EQUAL(pl_expr_eval(f.e, f.b, f.pool, &c, &f.err), 0);
	format_col(c, 3, f.got, sizeof(f.got));
	CU_ASSERT_STRING_EQUAL(f.got, "6,-9,5");
	free_log(&log);
	teardown(&f);
}

static void test_extract_aggs_forms(void)
{
	pl_error err;
	pl_error_clear(&err);
	pl_expr *e = NULL;
	agg_log log = {0};
	CU_ASSERT_EQUAL(
	    pl_expr_parse("corr(v1, v2)^2 + quantile(x, 0.25)", NULL, &e, &err),
	    0);
	CU_ASSERT_EQUAL(pl_expr_extract_aggs(e, aggs, on_agg, &log, &err), 0);
	CU_ASSERT_STRING_EQUAL(log.seen, "corr(v1/2) quantile(x/2) ");
	CU_ASSERT_EQUAL(log.p, 0.25);
	pl_expr_free(e, NULL);
	free_log(&log);

	agg_log nested = {0};
	CU_ASSERT_EQUAL(pl_expr_parse("sum(max(x) + 1)", &where, &e, &err), 0);
	CU_ASSERT_EQUAL(pl_expr_extract_aggs(e, aggs, on_agg, &nested, &err),
			PL_ERR_CONF);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err.msg, "aggregate 'max' inside aggregate 'sum'"));
	CU_ASSERT_EQUAL(nested.calls, 0);
	pl_expr_free(e, NULL);
}

/* Every allocation of bind and eval fails in turn: each failure is clean,
 * then the next batch reuses the scratch columns without allocating. */
static void fault_walk(const char *text)
{
	for (uint64_t n = 1; n < 1000; n++) {
		fixture f;
		setup(&f, 1);
		pl_type t;
		const pl_column *c = NULL;
		CU_ASSERT_EQUAL_FATAL(pl_expr_parse(text, &where, &f.e, &f.err),
				      0);
		CU_ASSERT_EQUAL_FATAL(pl_expr_bind(f.e, &f.schema, &t, &f.err),
				      0);
		pl_pool_fail_after(f.pool, n, 0);
		int rc = pl_expr_eval(f.e, f.b, f.pool, &c, &f.err);
		pl_pool_fail_after(f.pool, 0, 0);
		if (rc != 0) {
			CU_ASSERT_EQUAL(rc, PL_ERR_NOMEM);
			teardown(&f);
			continue;
		}
		uint64_t before = pl_pool_get_stats(f.pool).allocs;
		pl_error_clear(&f.err);
		CU_ASSERT_EQUAL(pl_expr_eval(f.e, f.b, f.pool, &c, &f.err), 0);
		CU_ASSERT_EQUAL(pl_pool_get_stats(f.pool).allocs, before);
		teardown(&f);
		CU_ASSERT(n > 1);
		return;
	}
	CU_FAIL("eval never succeeded");
}

/* The columns an expression reads, for projection pushdown: through
 * calls, lazy branches and casts, and only those below the limit. */
static void test_mark_columns(void)
{
	fixture f;
	setup(&f, 0);
	pl_type t;
	CU_ASSERT_EQUAL(
	    run(&f, "if(t, float(a), x) + length(`first name`)", &t), 0);
	uint8_t used[7] = {0};
	pl_expr_mark_columns(f.e, used, 7);
	const uint8_t want[7] = {1, 0, 1, 0, 1, 0, 1};
	CU_ASSERT_EQUAL(memcmp(used, want, 7), 0);
	memset(used, 0, sizeof(used));
	pl_expr_mark_columns(f.e, used, 3);
	const uint8_t below[7] = {1, 0, 1, 0, 0, 0, 0};
	CU_ASSERT_EQUAL(memcmp(used, below, 7), 0);
	CU_ASSERT_EQUAL(run(&f, "1 + 2", &t), 0);
	memset(used, 0, sizeof(used));
	pl_expr_mark_columns(f.e, used, 7);
	pl_expr_mark_columns(NULL, used, 7);
	CU_ASSERT_EQUAL(memcmp(used, (uint8_t[7]){0}, 7), 0);
	teardown(&f);
}

static void test_fault_injection(void)
{
	fault_walk("coalesce(string(x), upper(s), 'z')");
	fault_walk("if(b == 0, 0, a / b) + round(x, 1) * -n");
	fault_walk("(n + a * 2 > 3 or t) and not is_null(s)");
	fault_walk("substr(trim(`first name`), 1, 2) < max(s, lower(s))");
	fault_walk("if(t, null, 'x')");
}

static const pl_test tests[] = {
    {"min_max_nan_order_free", test_min_max_nan_order_free},
    {"precedence", test_precedence},
    {"arithmetic", test_arithmetic},
    {"comparisons", test_comparisons},
    {"logic_three_valued", test_logic_three_valued},
    {"math_functions", test_math_functions},
    {"conditionals", test_conditionals},
    {"string_functions", test_string_functions},
    {"conversions", test_conversions},
    {"overflow_errors", test_overflow_errors},
    {"division_errors", test_division_errors},
    {"type_errors", test_type_errors},
    {"name_errors", test_name_errors},
    {"syntax_errors", test_syntax_errors},
    {"deep_nesting", test_deep_nesting},
    {"no_where", test_no_where},
    {"inspection", test_inspection},
    {"mark_columns", test_mark_columns},
    {"clone", test_clone},
    {"extract_aggs", test_extract_aggs},
    {"extract_aggs_forms", test_extract_aggs_forms},
    {"fault_injection", test_fault_injection},
    {NULL, NULL}};

PL_TEST_MAIN("expr", tests)

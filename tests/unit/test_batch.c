#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pipeline/batch.h"

static pl_pool *pool;

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
}

static void push_and_read_every_type(void)
{
	setup();
	pl_error err;
	pl_error_clear(&err);
	pl_column i, f, b, s;
	CU_ASSERT_EQUAL(pl_column_init(&i, PL_INT64, 1, 0, pool, &err), 0);
	CU_ASSERT_EQUAL(pl_column_init(&f, PL_FLOAT64, 1, 0, pool, &err), 0);
	CU_ASSERT_EQUAL(pl_column_init(&b, PL_BOOL, 1, 0, pool, &err), 0);
	CU_ASSERT_EQUAL(pl_column_init(&s, PL_STRING, 1, 0, pool, &err), 0);
	for (int k = 0; k < 100; k++) {
		pl_column_push_i64(&i, k * 3, pool, &err);
		pl_column_push_f64(&f, k / 4.0, pool, &err);
		pl_column_push_bool(&b, k % 2, pool, &err);
		if (k % 10 == 0)
			pl_column_push_null(&s, pool, &err);
		else
			pl_column_push_str(&s, "abc", (size_t)(k % 4), pool,
					   &err);
	}
	CU_ASSERT_EQUAL(i.len, 100);
	CU_ASSERT_EQUAL(pl_col_i64(&i)[99], 297);
	CU_ASSERT_DOUBLE_EQUAL(pl_col_f64(&f)[10], 2.5, 0);
	CU_ASSERT_EQUAL(pl_col_bool(&b)[3], 1);
	CU_ASSERT_PTR_NULL(i.valid);
	CU_ASSERT(pl_column_is_null(&s, 0));
	CU_ASSERT(pl_column_is_null(&s, 90));
	CU_ASSERT(!pl_column_is_null(&s, 7));
	size_t len;
	const char *v = pl_col_str(&s, 7, &len);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT_EQUAL(memcmp(v, "abc", 3), 0);
	pl_col_str(&s, 0, &len);
	CU_ASSERT_EQUAL(len, 0);
	pl_column_free(&i, pool);
	pl_column_free(&f, pool);
	pl_column_free(&b, pool);
	pl_column_free(&s, pool);
	teardown();
}

static void take_and_range_keep_nulls(void)
{
	setup();
	pl_error err;
	pl_error_clear(&err);
	pl_column s, d, r;
	pl_column_init(&s, PL_STRING, 4, 0, pool, &err);
	pl_column_init(&d, PL_STRING, 1, 0, pool, &err);
	pl_column_init(&r, PL_STRING, 1, 0, pool, &err);
	pl_column_push_str(&s, "zero", 4, pool, &err);
	pl_column_push_null(&s, pool, &err);
	pl_column_push_str(&s, "two", 3, pool, &err);
	uint32_t idx[] = {2, 1, 2, 0};
	CU_ASSERT_EQUAL(pl_column_append_take(&d, &s, idx, 4, pool, &err), 0);
	CU_ASSERT_EQUAL(d.len, 4);
	size_t len;
	CU_ASSERT_EQUAL(memcmp(pl_col_str(&d, 0, &len), "two", 3), 0);
	CU_ASSERT(pl_column_is_null(&d, 1));
	CU_ASSERT_EQUAL(memcmp(pl_col_str(&d, 3, &len), "zero", 4), 0);
	CU_ASSERT_EQUAL(len, 4);
	CU_ASSERT_EQUAL(pl_column_append_range(&r, &s, 1, 2, pool, &err), 0);
	CU_ASSERT(pl_column_is_null(&r, 0));
	CU_ASSERT_EQUAL(memcmp(pl_col_str(&r, 1, &len), "two", 3), 0);
	pl_column_free(&s, pool);
	pl_column_free(&d, pool);
	pl_column_free(&r, pool);
	teardown();
}

/* A string column of the given values (NULL pointers are NULLs). */
static void strings(pl_column *c, const char *const *v, size_t n)
{
	pl_error err;
	pl_error_clear(&err);
	pl_column_init(c, PL_STRING, 1, 0, pool, &err);
	for (size_t k = 0; k < n; k++)
		if (v[k] == NULL)
			pl_column_push_null(c, pool, &err);
		else
			pl_column_push_str(c, v[k], strlen(v[k]), pool, &err);
}

/* Picks from three sources in any order: strings short, empty, past 16
 * bytes, NULL, and from a dictionary-encoded column; int64 and bool with
 * a NULL in one source only. */
static void picks_from_several_columns(void)
{
	setup();
	pl_error err;
	pl_error_clear(&err);
	const char *a[] = {"alpha", "", "a string longer than sixteen bytes"};
	const char *b[] = {NULL, "b1"};
	const char *words[] = {"dict-zero", "dict-one"};
	pl_column s[3], d, i[3], di, f[3], df;
	strings(&s[0], a, 3);
	strings(&s[1], b, 2);
	/* s[2]: codes 1, 0, 1 into a dictionary of two words */
	pl_column_init(&s[2], PL_STRING, 4, 0, pool, &err);
	s[2].dict = calloc(1, sizeof(pl_column));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s[2].dict);
	strings(s[2].dict, words, 2);
	uint32_t codes[] = {1, 0, 1};
	memcpy(pl_col_codes(&s[2]), codes, sizeof(codes));
	s[2].len = 3;
	for (int r = 0; r < 3; r++) {
		pl_column_init(&i[r], PL_INT64, 4, 0, pool, &err);
		pl_column_init(&f[r], PL_BOOL, 4, 0, pool, &err);
		for (int k = 0; k < 3; k++) {
			if (r == 1 && k == 0)
				pl_column_push_null(&i[r], pool, &err);
			else
				pl_column_push_i64(&i[r], r * 10 + k, pool,
						   &err);
			pl_column_push_bool(&f[r], (r + k) % 2, pool, &err);
		}
	}
	pl_column_init(&d, PL_STRING, 1, 0, pool, &err);
	pl_column_init(&di, PL_INT64, 1, 0, pool, &err);
	pl_column_init(&df, PL_BOOL, 1, 0, pool, &err);
	uint32_t src[] = {0, 1, 2, 0, 1, 2, 0, 2};
	uint32_t row[] = {2, 0, 0, 1, 1, 1, 0, 2};
	const pl_column *ss[] = {&s[0], &s[1], &s[2]};
	const pl_column *is[] = {&i[0], &i[1], &i[2]};
	const pl_column *fs[] = {&f[0], &f[1], &f[2]};
	CU_ASSERT_EQUAL(
	    pl_column_append_picks(&d, ss, 3, src, row, 8, pool, &err), 0);
	CU_ASSERT_EQUAL(
	    pl_column_append_picks(&di, is, 3, src, row, 8, pool, &err), 0);
	CU_ASSERT_EQUAL(
	    pl_column_append_picks(&df, fs, 3, src, row, 8, pool, &err), 0);
	const char *want[] = {"a string longer than sixteen bytes",
			      NULL,
			      "dict-one",
			      "",
			      "b1",
			      "dict-zero",
			      "alpha",
			      "dict-one"};
	CU_ASSERT_EQUAL(d.len, 8);
	for (size_t k = 0; k < 8; k++) {
		size_t len;
		const char *v = pl_col_str(&d, k, &len);
		CU_ASSERT_EQUAL(pl_column_is_null(&d, k), want[k] == NULL);
		if (want[k] != NULL) {
			CU_ASSERT_EQUAL(len, strlen(want[k]));
			CU_ASSERT_EQUAL(memcmp(v, want[k], len), 0);
		}
		CU_ASSERT_EQUAL(pl_column_is_null(&di, k),
				src[k] == 1 && row[k] == 0);
		if (!(src[k] == 1 && row[k] == 0))
			CU_ASSERT_EQUAL(pl_col_i64(&di)[k],
					src[k] * 10 + row[k]);
		CU_ASSERT_EQUAL(pl_col_bool(&df)[k], (src[k] + row[k]) % 2);
	}
	CU_ASSERT_PTR_NULL(df.valid);
	for (int r = 0; r < 3; r++) {
		pl_column_free(&s[r], pool);
		pl_column_free(&i[r], pool);
		pl_column_free(&f[r], pool);
	}
	pl_column_free(&d, pool);
	pl_column_free(&di, pool);
	pl_column_free(&df, pool);
	teardown();
}

/* Many picks from two plain sources, one read backwards as a sorted
 * run is through a permutation: past the rows a gather asks for ahead,
 * every value lands where its pick says, strings of every length. */
static void picks_many_rows(void)
{
	setup();
	pl_error err;
	pl_error_clear(&err);
	enum { N = 100 };
	pl_column s[2], i[2], d, di;
	char buf[64];
	for (int r = 0; r < 2; r++) {
		pl_column_init(&s[r], PL_STRING, N, 0, pool, &err);
		pl_column_init(&i[r], PL_INT64, N, 0, pool, &err);
		for (int k = 0; k < N; k++) {
			int len =
			    snprintf(buf, sizeof(buf), "%d:%0*d", r, k % 40, k);
			pl_column_push_str(&s[r], buf, (size_t)len, pool, &err);
			pl_column_push_i64(&i[r], r * 1000 + k, pool, &err);
		}
	}
	uint32_t src[2 * N], row[2 * N];
	for (int k = 0; k < 2 * N; k++) {
		src[k] = (uint32_t)(k % 3 == 0);
		row[k] = src[k] ? (uint32_t)(N - 1 - k / 3) : (uint32_t)(k / 2);
	}
	const pl_column *ss[] = {&s[0], &s[1]}, *is[] = {&i[0], &i[1]};
	pl_column_init(&d, PL_STRING, 1, 0, pool, &err);
	pl_column_init(&di, PL_INT64, 1, 0, pool, &err);
	CU_ASSERT_EQUAL(
	    pl_column_append_picks(&d, ss, 2, src, row, 2 * N, pool, &err), 0);
	CU_ASSERT_EQUAL(
	    pl_column_append_picks(&di, is, 2, src, row, 2 * N, pool, &err), 0);
	CU_ASSERT_EQUAL_FATAL(d.len, 2 * N);
	for (int k = 0; k < 2 * N; k++) {
		int len = snprintf(buf, sizeof(buf), "%u:%0*u", src[k],
				   (int)(row[k] % 40), row[k]);
		size_t got;
		const char *v = pl_col_str(&d, (size_t)k, &got);
		CU_ASSERT_EQUAL(got, (size_t)len);
		CU_ASSERT_EQUAL(memcmp(v, buf, got), 0);
		CU_ASSERT_EQUAL(pl_col_i64(&di)[k], src[k] * 1000 + row[k]);
	}
	for (int r = 0; r < 2; r++) {
		pl_column_free(&s[r], pool);
		pl_column_free(&i[r], pool);
	}
	pl_column_free(&d, pool);
	pl_column_free(&di, pool);
	teardown();
}

/* The hash's tail load gives what a copy into a zeroed word gives, for
 * every length below 8 and bytes with the high bit set, so hashes are
 * the same as before it and on every rank. */
static void load_tail_matches_copy(void)
{
	char buf[16];
	for (int trial = 0; trial < 200; trial++) {
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (char)((trial * 131 + (int)k * 77) ^ 0xa5);
		for (size_t n = 0; n < 8; n++) {
			uint64_t want = 0;
			memcpy(&want, buf + trial % 8, n);
			CU_ASSERT_EQUAL(pl_load_tail(buf + trial % 8, n), want);
		}
	}
}

static void compare_and_hash(void)
{
	setup();
	pl_error err;
	pl_error_clear(&err);
	pl_column a;
	pl_column_init(&a, PL_FLOAT64, 4, 0, pool, &err);
	pl_column_push_f64(&a, 1.5, pool, &err);
	pl_column_push_f64(&a, -0.0, pool, &err);
	pl_column_push_f64(&a, 0.0, pool, &err);
	pl_column_push_null(&a, pool, &err);
	CU_ASSERT(pl_column_compare(&a, 0, &a, 1) > 0);
	CU_ASSERT_EQUAL(pl_column_compare(&a, 1, &a, 2), 0);
	CU_ASSERT_EQUAL(pl_column_hash(&a, 1, 7), pl_column_hash(&a, 2, 7));
	CU_ASSERT(pl_column_compare(&a, 3, &a, 0) > 0); /* NULL last */
	CU_ASSERT(pl_column_compare(&a, 0, &a, 3) < 0);
	pl_column_free(&a, pool);
	teardown();
}

static void batch_from_schema(void)
{
	setup();
	pl_error err;
	pl_error_clear(&err);
	pl_schema s;
	pl_schema_init(&s);
	pl_schema_add(&s, "k", PL_STRING, &err);
	pl_schema_add(&s, "v", PL_INT64, &err);
	CU_ASSERT_EQUAL(pl_schema_find(&s, "v"), 1);
	CU_ASSERT_EQUAL(pl_schema_find(&s, "w"), -1);
	pl_batch *b = pl_batch_new(&s, 16, pool, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->cols[1].type, PL_INT64);
	pl_column_push_str(&b->cols[0], "x", 1, pool, &err);
	pl_column_push_i64(&b->cols[1], 5, pool, &err);
	pl_batch_sync_rows(b);
	CU_ASSERT_EQUAL(b->nrows, 1);
	pl_batch_free(b, pool);
	pl_schema_free(&s);
	teardown();
}

static void allocation_failures_are_clean(void)
{
	setup();
	for (uint64_t n = 1; n < 20; n++) {
		pl_error err;
		pl_error_clear(&err);
		pl_column c;
		pl_pool_fail_after(pool, n, 0);
		int rc = pl_column_init(&c, PL_STRING, 1, 0, pool, &err);
		for (int k = 0; rc == 0 && k < 50; k++)
			rc = k % 7 ? pl_column_push_str(&c, "hello", 5, pool,
							&err)
				   : pl_column_push_null(&c, pool, &err);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		if (rc != 0)
			CU_ASSERT_EQUAL(err.code, PL_ERR_NOMEM);
		pl_column_free(&c, pool);
		pl_pool_fail_after(pool, 0, 0);
	}
	teardown();
}

static const pl_test tests[] = {
    {"push_and_read_every_type", push_and_read_every_type},
    {"take_and_range_keep_nulls", take_and_range_keep_nulls},
    {"picks_from_several_columns", picks_from_several_columns},
    {"picks_many_rows", picks_many_rows},
    {"load_tail_matches_copy", load_tail_matches_copy},
    {"compare_and_hash", compare_and_hash},
    {"batch_from_schema", batch_from_schema},
    {"allocation_failures_are_clean", allocation_failures_are_clean},
    {NULL, NULL},
};

PL_TEST_MAIN("batch", tests)

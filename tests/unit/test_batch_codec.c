#include <stdlib.h>
#include <string.h>

#include "framework/batch_codec.h"
#include "harness.h"

typedef struct fixture {
	pl_pool *pool;
	pl_schema schema;
	pl_error err;
} fixture;

static void setup(fixture *f)
{
	f->pool = pl_pool_create(1 << 20);
	pl_error_clear(&f->err);
	pl_schema_init(&f->schema);
	pl_schema_add(&f->schema, "i", PL_INT64, &f->err);
	pl_schema_add(&f->schema, "f", PL_FLOAT64, &f->err);
	pl_schema_add(&f->schema, "b", PL_BOOL, &f->err);
	pl_schema_add(&f->schema, "s", PL_STRING, &f->err);
	pl_schema_add(&f->schema, "d", PL_DATE, &f->err);
	pl_schema_add(&f->schema, "t", PL_TIMESTAMP, &f->err);
}

static void teardown(fixture *f)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(f->pool).bytes_out, 0);
	pl_schema_free(&f->schema);
	pl_pool_destroy(f->pool);
}

/* n rows of every type, each column with its own pattern of NULLs; the
 * strings repeat, so the message compresses. */
static pl_batch *make_batch(fixture *f, size_t n)
{
	pl_batch *b = pl_batch_new(&f->schema, n, f->pool, &f->err);
	if (b == NULL)
		return NULL;
	char buf[32];
	for (size_t k = 0; k < n; k++) {
		if (k % 5 == 1)
			pl_column_push_null(&b->cols[0], f->pool, &f->err);
		else
			pl_column_push_i64(&b->cols[0], (int64_t)k * 7 - 100,
					   f->pool, &f->err);
		if (k % 7 == 2)
			pl_column_push_null(&b->cols[1], f->pool, &f->err);
		else
			pl_column_push_f64(&b->cols[1], k / 3.0, f->pool,
					   &f->err);
		if (k % 11 == 3)
			pl_column_push_null(&b->cols[2], f->pool, &f->err);
		else
			pl_column_push_bool(&b->cols[2], k % 3 == 0, f->pool,
					    &f->err);
		int len = snprintf(buf, sizeof(buf), "value-%zu", k % 50);
		if (k % 13 == 4)
			pl_column_push_null(&b->cols[3], f->pool, &f->err);
		else
			pl_column_push_str(&b->cols[3], buf,
					   k % 17 == 0 ? 0 : (size_t)len,
					   f->pool, &f->err);
		if (k % 19 == 5)
			pl_column_push_null(&b->cols[4], f->pool, &f->err);
		else
			pl_column_push_i64(&b->cols[4], (int64_t)k - 400,
					   f->pool, &f->err);
		if (k % 23 == 6)
			pl_column_push_null(&b->cols[5], f->pool, &f->err);
		else
			pl_column_push_i64(&b->cols[5],
					   ((int64_t)k - 30) * 86400000123LL,
					   f->pool, &f->err);
	}
	pl_batch_sync_rows(b);
	return b;
}

/* Row i of a equals row j of b in every column, NULLs included. */
static int same_row(const pl_batch *a, size_t i, const pl_batch *b, size_t j)
{
	for (size_t c = 0; c < a->ncols; c++) {
		if (pl_column_is_null(&a->cols[c], i) !=
		    pl_column_is_null(&b->cols[c], j))
			return 0;
		if (pl_column_compare(&a->cols[c], i, &b->cols[c], j) != 0)
			return 0;
	}
	return 1;
}

static void round_trip(int level)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, level, &f.err);
	pl_batch *src = make_batch(&f, 1000);
	pl_batch *dst = pl_batch_new(&f.schema, 0, f.pool, &f.err);
	pl_bytes msg = {0};
	CU_ASSERT_EQUAL_FATAL(
	    pl_codec_encode(c, src, NULL, 0, 1000, &msg, &f.err), 0);
	size_t used = 0;
	CU_ASSERT_EQUAL(
	    pl_codec_decode(c, msg.data, msg.len, dst, &used, &f.err), 0);
	CU_ASSERT_EQUAL(used, msg.len);
	CU_ASSERT_EQUAL(dst->nrows, 1000);
	int same = 1;
	for (size_t k = 0; k < 1000; k++)
		same &= same_row(src, k, dst, k);
	CU_ASSERT(same);
	pl_codec_stats st = pl_codec_get_stats(c);
	CU_ASSERT_EQUAL(st.messages, 1);
	CU_ASSERT_EQUAL(st.compressed, level != 0);
	CU_ASSERT_EQUAL(st.bytes_encoded, msg.len);
	CU_ASSERT_EQUAL(st.bytes_raw, pl_codec_raw_size(src, NULL, 0, 1000));
	if (level != 0)
		CU_ASSERT(st.bytes_encoded < st.bytes_raw / 2);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(dst, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

static void round_trip_raw(void)
{
	round_trip(0);
}

static void round_trip_compressed(void)
{
	round_trip(3);
}

static void selections_and_ranges(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 1, &f.err);
	pl_batch *src = make_batch(&f, 300);
	pl_batch *dst = pl_batch_new(&f.schema, 0, f.pool, &f.err);
	uint32_t idx[200];
	for (size_t k = 0; k < 200; k++)
		idx[k] = (uint32_t)((k * 37) % 300);
	idx[5] = idx[6] = 17; /* repeats are fine */
	pl_bytes msg = {0};
	CU_ASSERT_EQUAL(pl_codec_encode(c, src, idx, 10, 150, &msg, &f.err), 0);
	CU_ASSERT_EQUAL(pl_codec_encode(c, src, NULL, 250, 50, &msg, &f.err),
			0);
	CU_ASSERT_EQUAL(pl_codec_encode(c, src, idx, 0, 0, &msg, &f.err), 0);
	CU_ASSERT_EQUAL(pl_codec_encode(c, src, idx, 0, 10, &msg, &f.err), 0);
	CU_ASSERT_EQUAL(pl_codec_decode_all(c, msg.data, msg.len, dst, &f.err),
			0);
	CU_ASSERT_EQUAL_FATAL(dst->nrows, 210);
	CU_ASSERT_EQUAL(dst->cols[3].len, 210);
	int same = 1;
	for (size_t k = 0; k < 150; k++)
		same &= same_row(src, idx[10 + k], dst, k);
	for (size_t k = 0; k < 50; k++)
		same &= same_row(src, 250 + k, dst, 150 + k);
	for (size_t k = 0; k < 10; k++)
		same &= same_row(src, idx[k], dst, 200 + k);
	CU_ASSERT(same);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(dst, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

/* A selection without NULLs sends no bitmap, yet lands correctly in a
 * batch whose columns already have one. */
static void bitmaps_mix(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_batch *src = make_batch(&f, 20);
	pl_batch *dst = pl_batch_new(&f.schema, 0, f.pool, &f.err);
	uint32_t nulls[] = {1, 6}, plain[] = {0, 2};
	pl_bytes msg = {0};
	pl_codec_encode(c, src, nulls, 0, 2, &msg, &f.err);
	size_t with = msg.len;
	pl_codec_encode(c, src, plain, 0, 2, &msg, &f.err);
	CU_ASSERT(msg.len - with < with);
	CU_ASSERT_EQUAL(pl_codec_decode_all(c, msg.data, msg.len, dst, &f.err),
			0);
	CU_ASSERT(same_row(src, 1, dst, 0) && same_row(src, 6, dst, 1));
	CU_ASSERT(same_row(src, 0, dst, 2) && same_row(src, 2, dst, 3));
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(dst, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

static void wrong_schema_rejected(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_batch *src = make_batch(&f, 10);
	pl_schema other;
	pl_schema_init(&other);
	pl_schema_add(&other, "i", PL_INT64, &f.err);
	pl_schema_add(&other, "f", PL_FLOAT64, &f.err);
	pl_schema_add(&other, "b", PL_STRING, &f.err);
	pl_schema_add(&other, "s", PL_STRING, &f.err);
	pl_schema_add(&other, "d", PL_DATE, &f.err);
	pl_schema_add(&other, "t", PL_TIMESTAMP, &f.err);
	pl_batch *dst = pl_batch_new(&other, 0, f.pool, &f.err);
	pl_bytes msg = {0};
	pl_codec_encode(c, src, NULL, 0, 10, &msg, &f.err);
	size_t used;
	CU_ASSERT_EQUAL(
	    pl_codec_decode(c, msg.data, msg.len, dst, &used, &f.err),
	    PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "type bool, expected string"));
	CU_ASSERT_EQUAL(dst->nrows, 0);
	CU_ASSERT_EQUAL(dst->cols[0].len, 0);
	CU_ASSERT_EQUAL(dst->cols[1].len, 0);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(dst, f.pool);
	pl_schema_free(&other);
	pl_codec_destroy(c);
	teardown(&f);
}

/* Decodes buf[0 .. len) from an exact-size copy, so that ASan sees any read
 * past the end; returns the status and checks a failure left dst alone. */
static int decode_copy(pl_codec *c, const uint8_t *buf, size_t len,
		       pl_batch *dst, pl_error *err)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, buf, len);
	size_t rows = dst->nrows, used;
	pl_error_clear(err);
	int rc = pl_codec_decode(c, copy, len, dst, &used, err);
	free(copy);
	if (rc != 0) {
		CU_ASSERT_EQUAL(dst->nrows, rows);
		for (size_t j = 0; j < dst->ncols; j++)
			CU_ASSERT_EQUAL(dst->cols[j].len, rows);
	}
	return rc;
}

static void truncated_rejected(int level)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, level, &f.err);
	pl_batch *src = make_batch(&f, 60);
	pl_batch *dst = pl_batch_new(&f.schema, 0, f.pool, &f.err);
	pl_bytes msg = {0};
	pl_codec_encode(c, src, NULL, 0, 60, &msg, &f.err);
	CU_ASSERT_EQUAL(pl_codec_get_stats(c).compressed, level != 0);
	int bad = 0;
	for (size_t len = 0; len < msg.len; len++)
		bad +=
		    decode_copy(c, msg.data, len, dst, &f.err) == PL_ERR_DATA;
	CU_ASSERT_EQUAL(bad, msg.len);
	CU_ASSERT_EQUAL(dst->nrows, 0);
	CU_ASSERT_EQUAL(decode_copy(c, msg.data, msg.len, dst, &f.err), 0);
	CU_ASSERT_EQUAL(dst->nrows, 60);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(dst, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

static void truncated_raw(void)
{
	truncated_rejected(0);
}

static void truncated_compressed(void)
{
	truncated_rejected(5);
}

/* Every byte changed to a few values: decoding fails with PL_ERR_DATA or
 * succeeds with some rows, and never reads out of bounds. */
static void corrupt_bytes_never_crash(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_batch *src = make_batch(&f, 40);
	pl_batch *dst = pl_batch_new(&f.schema, 0, f.pool, &f.err);
	pl_bytes msg = {0};
	pl_codec_encode(c, src, NULL, 0, 40, &msg, &f.err);
	static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff};
	int ok = 1;
	for (size_t pos = 0; pos < msg.len; pos++) {
		uint8_t keep = msg.data[pos];
		for (size_t v = 0; v < sizeof(vals); v++) {
			msg.data[pos] = vals[v];
			int rc = decode_copy(c, msg.data, msg.len, dst, &f.err);
			ok &= rc == 0 || rc == PL_ERR_DATA;
		}
		msg.data[pos] = keep;
	}
	CU_ASSERT(ok);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(dst, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

static void bad_headers_named(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_batch *src = make_batch(&f, 5);
	pl_batch *dst = pl_batch_new(&f.schema, 0, f.pool, &f.err);
	pl_bytes msg = {0};
	pl_codec_encode(c, src, NULL, 0, 5, &msg, &f.err);
	msg.data[4] = 9;
	CU_ASSERT_EQUAL(decode_copy(c, msg.data, msg.len, dst, &f.err),
			PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "version 9"));
	msg.data[4] = 1;
	msg.data[0] ^= 0x55;
	CU_ASSERT_EQUAL(decode_copy(c, msg.data, msg.len, dst, &f.err),
			PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "magic"));
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(dst, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

/* One encode and decode with the pool failing at allocation `at`. */
static int faulty_round_trip(fixture *f, pl_batch *src, uint64_t at)
{
	pl_error_clear(&f->err);
	pl_batch *dst = pl_batch_new(&f->schema, 0, f->pool, &f->err);
	if (dst == NULL)
		return PL_ERR_NOMEM;
	pl_pool_fail_after(f->pool, at, 0);
	pl_codec *c = pl_codec_create(f->pool, 3, &f->err);
	pl_bytes msg = {0};
	int rc = c ? 0 : PL_ERR_NOMEM;
	for (int k = 0; rc == 0 && k < 3; k++)
		rc = pl_codec_encode(c, src, NULL, (size_t)k * 100, 100, &msg,
				     &f->err);
	if (rc == 0)
		rc = pl_codec_decode_all(c, msg.data, msg.len, dst, &f->err);
	if (rc == 0 && dst->nrows != 300)
		rc = PL_ERR_INTERNAL;
	for (size_t j = 0; j < dst->ncols; j++)
		if (dst->cols[j].len != dst->nrows)
			rc = PL_ERR_INTERNAL;
	pl_pool_fail_after(f->pool, 0, 0);
	pl_bytes_free(&msg, f->pool);
	pl_codec_destroy(c);
	pl_batch_free(dst, f->pool);
	return rc;
}

static void fault_injection_walk(void)
{
	fixture f;
	setup(&f);
	pl_batch *src = make_batch(&f, 300);
	size_t base = pl_pool_get_stats(f.pool).bytes_out;
	int failures = 0;
	/* A failed scratch allocation only turns compression off, so a
	 * success does not mean the walk is over: go past the last one. */
	for (uint64_t at = 1; at < 80; at++) {
		int rc = faulty_round_trip(&f, src, at);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		CU_ASSERT(rc == 0 || f.err.code == PL_ERR_NOMEM);
		CU_ASSERT_EQUAL(pl_pool_get_stats(f.pool).bytes_out, base);
		failures += rc != 0;
	}
	CU_ASSERT(failures > 3);
	CU_ASSERT_EQUAL(faulty_round_trip(&f, src, 0), 0);
	pl_batch_free(src, f.pool);
	teardown(&f);
}

static const pl_test tests[] = {
    {"round_trip_raw", round_trip_raw},
    {"round_trip_compressed", round_trip_compressed},
    {"selections_and_ranges", selections_and_ranges},
    {"bitmaps_mix", bitmaps_mix},
    {"wrong_schema_rejected", wrong_schema_rejected},
    {"truncated_raw", truncated_raw},
    {"truncated_compressed", truncated_compressed},
    {"corrupt_bytes_never_crash", corrupt_bytes_never_crash},
    {"bad_headers_named", bad_headers_named},
    {"fault_injection_walk", fault_injection_walk},
    {NULL, NULL}};

PL_TEST_MAIN("batch_codec", tests)

#include <stdlib.h>
#include <string.h>

#include "framework/batch_codec.h"
#include "harness.h"
#include "op_testkit.h"

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
	msg.data[4] = 2;
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

/* make_batch with its string column dictionary-encoded: 50 values and
 * NULL, so a message of some rows uses some of the entries. */
static pl_batch *make_dict_batch(fixture *f, size_t n)
{
	pl_batch *b = make_batch(f, n);
	CU_ASSERT_FATAL(b != NULL &&
			kit_encode_dict(&b->cols[3], f->pool) == 0);
	return b;
}

/* Distinct values (NULL counted) among rows idx[0 .. n) of column c. */
static size_t distinct_of(const pl_column *c, const uint32_t *idx, size_t n)
{
	size_t count = 0;
	for (size_t k = 0; k < n; k++) {
		size_t j = 0;
		while (j < k && !(pl_column_is_null(c, idx[j]) ==
				      pl_column_is_null(c, idx[k]) &&
				  pl_column_compare(c, idx[j], c, idx[k]) == 0))
			j++;
		count += j == k;
	}
	return count;
}

/* A dictionary column travels as the entries its rows use and codes:
 * decoded plain by default; kept into an empty column when asked, then
 * made plain when another message's rows join it. */
static void dictionary_round_trip(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_batch *src = make_dict_batch(&f, 300);
	pl_batch *plain = make_batch(&f, 300);
	uint32_t idx[120];
	for (size_t k = 0; k < 120; k++)
		idx[k] = (uint32_t)((k * 37) % 300);
	pl_bytes msg = {0}, ref = {0};
	CU_ASSERT_EQUAL(pl_codec_encode(c, src, idx, 0, 120, &msg, &f.err), 0);
	size_t first = msg.len;
	CU_ASSERT_EQUAL(pl_codec_encode(c, src, NULL, 200, 80, &msg, &f.err),
			0);
	CU_ASSERT(pl_codec_get_stats(c).bytes_raw <=
		  pl_codec_raw_size(src, idx, 0, 120) +
		      pl_codec_raw_size(src, NULL, 200, 80));
	pl_codec_encode(c, plain, idx, 0, 120, &ref, &f.err);
	CU_ASSERT(first < ref.len);
	for (int keep = 0; keep < 2; keep++) {
		pl_codec_keep_dict(c, keep);
		pl_batch *dst = pl_batch_new(&f.schema, 0, f.pool, &f.err);
		size_t used = 0;
		CU_ASSERT_EQUAL_FATAL(
		    pl_codec_decode(c, msg.data, msg.len, dst, &used, &f.err),
		    0);
		CU_ASSERT_EQUAL(used, first);
		const pl_column *s = &dst->cols[3];
		CU_ASSERT_EQUAL(s->dict != NULL, keep);
		if (keep)
			CU_ASSERT_EQUAL(s->dict->len,
					distinct_of(&src->cols[3], idx, 120));
		int same = 1;
		for (size_t k = 0; k < 120; k++)
			same &= same_row(src, idx[k], dst, k);
		CU_ASSERT(same);
		CU_ASSERT_EQUAL(pl_codec_decode(c, msg.data + first,
						msg.len - first, dst, &used,
						&f.err),
				0);
		CU_ASSERT_EQUAL_FATAL(dst->nrows, 200);
		CU_ASSERT_PTR_NULL(dst->cols[3].dict);
		for (size_t k = 0; k < 120; k++)
			same &= same_row(src, idx[k], dst, k);
		for (size_t k = 0; k < 80; k++)
			same &= same_row(src, 200 + k, dst, 120 + k);
		CU_ASSERT(same);
		pl_batch_free(dst, f.pool);
	}
	pl_bytes_free(&msg, f.pool);
	pl_bytes_free(&ref, f.pool);
	pl_batch_free(src, f.pool);
	pl_batch_free(plain, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

/* A message of one dictionary column of n rows, "even" and "odd" by
 * row, NULL at row null_row (none when it is n or more). */
static void dict_message_null_at(fixture *f, pl_schema *one, pl_codec *c,
				 size_t n, size_t null_row, pl_bytes *msg)
{
	pl_schema_init(one);
	pl_schema_add(one, "s", PL_STRING, &f->err);
	pl_batch *b = pl_batch_new(one, n, f->pool, &f->err);
	for (size_t k = 0; k < n; k++)
		if (k == null_row)
			pl_column_push_null(&b->cols[0], f->pool, &f->err);
		else
			pl_column_push_str(&b->cols[0], k % 2 ? "odd" : "even",
					   k % 2 ? 3 : 4, f->pool, &f->err);
	pl_batch_sync_rows(b);
	CU_ASSERT_FATAL(kit_encode_dict(&b->cols[0], f->pool) == 0);
	pl_codec_encode(c, b, NULL, 0, n, msg, &f->err);
	pl_batch_free(b, f->pool);
}

/* dict_message_null_at with the NULL at row 1. */
static void dict_message(fixture *f, pl_schema *one, pl_codec *c, size_t n,
			 pl_bytes *msg)
{
	dict_message_null_at(f, one, c, n, 1, msg);
}

/* Writes the size (at most 8) bytes at p over with val, expects decoding
 * msg into dst to fail naming what, and puts the bytes back. */
static void refused_with(fixture *f, pl_codec *c, const pl_bytes *msg,
			 pl_batch *dst, uint8_t *p, const void *val,
			 size_t size, const char *what)
{
	uint8_t was[8];
	memcpy(was, p, size);
	memcpy(p, val, size);
	CU_ASSERT_EQUAL(decode_copy(c, msg->data, msg->len, dst, &f->err),
			PL_ERR_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->err.msg, what));
	memcpy(p, was, size);
}

/* Without NULLs the codes are checked by their largest: one code at the
 * number of entries, or far past it, anywhere, is still refused. */
static void dictionary_codes_without_nulls(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_schema one;
	pl_bytes msg = {0};
	dict_message_null_at(&f, &one, c, 6, 6, &msg);
	pl_batch *dst = pl_batch_new(&one, 0, f.pool, &f.err);
	uint8_t *codes = msg.data + msg.len - 6 * 4; /* two entries */
	static const struct {
		size_t row;
		uint32_t code;
	} bad[] = {{4, 2}, {0, 0xffffffffu}, {5, 7}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_with(&f, c, &msg, dst, codes + bad[i].row * 4,
			     &bad[i].code, 4, "code out of range");
	CU_ASSERT_EQUAL(decode_copy(c, msg.data, msg.len, dst, &f.err), 0);
	CU_ASSERT_EQUAL(dst->nrows, 6);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(dst, f.pool);
	pl_schema_free(&one);
	pl_codec_destroy(c);
	teardown(&f);
}

/* A plain string column's offsets must start at 0, never go back, stay
 * within the bytes and end at their length: each break is refused. */
static void string_offsets_checked(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_schema one;
	pl_schema_init(&one);
	pl_schema_add(&one, "s", PL_STRING, &f.err);
	pl_batch *b = pl_batch_new(&one, 4, f.pool, &f.err);
	static const char *const strs[] = {"aa", "bbb", "c", "dddd"};
	for (size_t k = 0; k < 4; k++)
		pl_column_push_str(&b->cols[0], strs[k], strlen(strs[k]),
				   f.pool, &f.err);
	pl_batch_sync_rows(b);
	pl_bytes msg = {0};
	CU_ASSERT_EQUAL_FATAL(pl_codec_encode(c, b, NULL, 0, 4, &msg, &f.err),
			      0);
	pl_batch *dst = pl_batch_new(&one, 0, f.pool, &f.err);
	/* body and column headers, then the bytes' length and 0 2 5 6 10 */
	uint8_t *off = msg.data + PL_CODEC_HEADER_SIZE + 16 + 8 + 8;
	int64_t first;
	memcpy(&first, off + 8, 8);
	CU_ASSERT_EQUAL_FATAL(first, 2);
	static const struct {
		size_t k;
		int64_t v;
	} bad[] = {{0, 1}, {2, 1}, {3, 11}, {4, 9}, {1, -1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_with(&f, c, &msg, dst, off + bad[i].k * 8, &bad[i].v, 8,
			     "bad string offsets");
	CU_ASSERT_EQUAL(decode_copy(c, msg.data, msg.len, dst, &f.err), 0);
	CU_ASSERT_EQUAL(dst->nrows, 4);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(b, f.pool);
	pl_batch_free(dst, f.pool);
	pl_schema_free(&one);
	pl_codec_destroy(c);
	teardown(&f);
}

/* Codes past the entries, a code whose NULL disagrees with its row's and
 * an unknown column encoding are named errors, with dst left alone. */
static void dictionary_corrupt_rejected(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_schema one;
	pl_bytes msg = {0};
	dict_message(&f, &one, c, 6, &msg);
	pl_batch *dst = pl_batch_new(&one, 0, f.pool, &f.err);
	/* entries: even, NULL, odd; codes 0 1 0 2 0 2 end the message */
	uint8_t *codes = msg.data + msg.len - 6 * 4;
	static const struct {
		size_t row;
		uint32_t code;
		const char *what;
	} bad[] = {{4, 3, "code out of range"},
		   {3, 1, "NULLs disagree"},
		   {1, 0, "NULLs disagree"}};
	for (int keep = 0; keep < 2; keep++) {
		pl_codec_keep_dict(c, keep);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			uint8_t was[4];
			memcpy(was, codes + bad[i].row * 4, 4);
			memcpy(codes + bad[i].row * 4, &bad[i].code, 4);
			CU_ASSERT_EQUAL(
			    decode_copy(c, msg.data, msg.len, dst, &f.err),
			    PL_ERR_DATA);
			CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, bad[i].what));
			memcpy(codes + bad[i].row * 4, was, 4);
		}
		uint8_t *enc = msg.data + PL_CODEC_HEADER_SIZE + 16 + 2;
		*enc = 2;
		CU_ASSERT_EQUAL(decode_copy(c, msg.data, msg.len, dst, &f.err),
				PL_ERR_DATA);
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "encoding"));
		*enc = 1;
		CU_ASSERT_EQUAL(decode_copy(c, msg.data, msg.len, dst, &f.err),
				0);
		CU_ASSERT_EQUAL(dst->cols[0].dict != NULL, keep);
		pl_batch_clear(dst);
		pl_column_reset(&dst->cols[0], f.pool);
	}
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(dst, f.pool);
	pl_schema_free(&one);
	pl_codec_destroy(c);
	teardown(&f);
}

/* corrupt_bytes_never_crash for a message with a dictionary column,
 * decoded both ways. */
static void dictionary_bytes_never_crash(void)
{
	fixture f;
	setup(&f);
	pl_codec *c = pl_codec_create(f.pool, 0, &f.err);
	pl_batch *src = make_dict_batch(&f, 40);
	pl_bytes msg = {0};
	pl_codec_encode(c, src, NULL, 0, 40, &msg, &f.err);
	static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff};
	int ok = 1;
	for (int keep = 0; keep < 2; keep++) {
		pl_codec_keep_dict(c, keep);
		for (size_t pos = 0; pos < msg.len; pos++) {
			uint8_t was = msg.data[pos];
			for (size_t v = 0; v < sizeof(vals); v++) {
				pl_batch *dst =
				    pl_batch_new(&f.schema, 0, f.pool, &f.err);
				msg.data[pos] = vals[v];
				int rc = decode_copy(c, msg.data, msg.len, dst,
						     &f.err);
				ok &= rc == 0 || rc == PL_ERR_DATA;
				pl_batch_free(dst, f.pool);
			}
			msg.data[pos] = was;
		}
	}
	CU_ASSERT(ok);
	pl_bytes_free(&msg, f.pool);
	pl_batch_free(src, f.pool);
	pl_codec_destroy(c);
	teardown(&f);
}

/* One encode and decode with the pool failing at allocation `at`;
 * keep: the codec keeps dictionaries (the first message's stay one, the
 * second's rows make the column plain). */
static int faulty_round_trip(fixture *f, pl_batch *src, int keep, uint64_t at)
{
	pl_error_clear(&f->err);
	pl_batch *dst = pl_batch_new(&f->schema, 0, f->pool, &f->err);
	if (dst == NULL)
		return PL_ERR_NOMEM;
	pl_pool_fail_after(f->pool, at, 0);
	pl_codec *c = pl_codec_create(f->pool, 3, &f->err);
	pl_bytes msg = {0};
	int rc = c ? 0 : PL_ERR_NOMEM;
	if (c != NULL)
		pl_codec_keep_dict(c, keep);
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

static void fault_walk(int dict)
{
	fixture f;
	setup(&f);
	pl_batch *src = dict ? make_dict_batch(&f, 300) : make_batch(&f, 300);
	size_t base = pl_pool_get_stats(f.pool).bytes_out;
	int failures = 0;
	/* A failed scratch allocation only turns compression off, so a
	 * success does not mean the walk is over: go past the last one. */
	for (uint64_t at = 1; at < 80; at++) {
		int rc = faulty_round_trip(&f, src, dict, at);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		CU_ASSERT(rc == 0 || f.err.code == PL_ERR_NOMEM);
		CU_ASSERT_EQUAL(pl_pool_get_stats(f.pool).bytes_out, base);
		failures += rc != 0;
	}
	CU_ASSERT(failures > 3);
	CU_ASSERT_EQUAL(faulty_round_trip(&f, src, dict, 0), 0);
	pl_batch_free(src, f.pool);
	teardown(&f);
}

static void fault_injection_walk(void)
{
	fault_walk(0);
}

static void fault_injection_walk_dict(void)
{
	fault_walk(1);
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
    {"dictionary_round_trip", dictionary_round_trip},
    {"dictionary_corrupt_rejected", dictionary_corrupt_rejected},
    {"dictionary_codes_without_nulls", dictionary_codes_without_nulls},
    {"string_offsets_checked", string_offsets_checked},
    {"dictionary_bytes_never_crash", dictionary_bytes_never_crash},
    {"fault_injection_walk_dict", fault_injection_walk_dict},
    {NULL, NULL}};

PL_TEST_MAIN("batch_codec", tests)

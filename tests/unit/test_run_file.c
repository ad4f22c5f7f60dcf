/* Run files: rows come back in the order written, and a file holds at most
 * 128 KiB of memory whatever size of batch it is handed, none between
 * appends once flushed. */
#include <stdlib.h>
#include <unistd.h>

#include "framework/run_file.h"
#include "harness.h"

#define BUF_LIMIT ((size_t)128 << 10)

typedef struct fixture {
	char dir[64];
	pl_pool *pool;
	pl_codec *codec;
	pl_schema schema;
	pl_error err;
} fixture;

static void setup(fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/pl-run-file-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f->dir));
	f->pool = pl_pool_create(0);
	pl_error_clear(&f->err);
	f->codec = pl_codec_create(f->pool, 1, &f->err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->codec);
	pl_schema_init(&f->schema);
	pl_schema_add(&f->schema, "id", PL_INT64, &f->err);
	pl_schema_add(&f->schema, "name", PL_STRING, &f->err);
}

/* Also checks that the file left nothing in the directory. */
static void teardown(fixture *f)
{
	pl_codec_destroy(f->codec);
	CU_ASSERT_EQUAL(pl_pool_get_stats(f->pool).bytes_out, 0);
	pl_pool_destroy(f->pool);
	pl_schema_free(&f->schema);
	CU_ASSERT_EQUAL(rmdir(f->dir), 0); /* fails unless empty */
}

/* Rows [from, from + n): id = i, name = "row<i>" (NULL when i % 5 == 0). */
static pl_batch *make_rows(fixture *f, int64_t from, size_t n)
{
	pl_batch *b = pl_batch_new(&f->schema, n, f->pool, &f->err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	int rc = 0;
	for (int64_t i = from; rc == 0 && i < from + (int64_t)n; i++) {
		char s[32];
		int len = snprintf(s, sizeof(s), "row%lld", (long long)i);
		rc = pl_column_push_i64(&b->cols[0], i, f->pool, &f->err);
		if (rc == 0 && i % 5 == 0)
			rc = pl_column_push_null(&b->cols[1], f->pool, &f->err);
		else if (rc == 0)
			rc = pl_column_push_str(&b->cols[1], s, (size_t)len,
						f->pool, &f->err);
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	pl_batch_sync_rows(b);
	return b;
}

typedef struct checker {
	int64_t next; /* the id the next row must have */
	int bad;
} checker;

static int check_rows(void *arg, pl_batch *b, pl_error *err)
{
	(void)err;
	checker *c = arg;
	for (size_t r = 0; r < b->nrows; r++, c->next++) {
		char s[32];
		size_t len;
		int n = snprintf(s, sizeof(s), "row%lld", (long long)c->next);
		c->bad += pl_col_i64(&b->cols[0])[r] != c->next;
		if (c->next % 5 == 0) {
			c->bad += !pl_column_is_null(&b->cols[1], r);
			continue;
		}
		const char *got = pl_col_str(&b->cols[1], r, &len);
		c->bad += len != (size_t)n || memcmp(got, s, len) != 0;
	}
	return 0;
}

/* Appends rows [from, from + n) in one batch; returns the pool bytes the
 * append left held (the batch itself excluded). */
static size_t append(fixture *f, pl_run_file *rf, int64_t from, size_t n)
{
	pl_batch *b = make_rows(f, from, n);
	size_t before = pl_pool_get_stats(f->pool).bytes_out;
	CU_ASSERT_EQUAL(pl_run_file_append(rf, b, NULL, 0, n, &f->err), 0);
	size_t after = pl_pool_get_stats(f->pool).bytes_out;
	pl_batch_free(b, f->pool);
	return after > before ? after - before : 0;
}

/* A scratch buffer the codec keeps for compressing one message: bounded
 * by the message size, so by the file's limit too. */
static size_t codec_scratch(void)
{
	return 2 * BUF_LIMIT;
}

static void rows_come_back_in_order(void)
{
	fixture f;
	setup(&f);
	pl_run_file *rf;
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_file_create(f.dir, f.codec, f.pool, &rf, &f.err), 0);
	static const size_t sizes[] = {1, 7, 300000, 0, 4096, 12};
	int64_t at = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		append(&f, rf, at, sizes[i]);
		at += (int64_t)sizes[i];
	}
	CU_ASSERT(pl_run_file_bytes(rf) > 0); /* it reached the disk */
	checker c = {0, 0};
	CU_ASSERT_EQUAL(
	    pl_run_file_replay(rf, &f.schema, check_rows, &c, &f.err), 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(c.next, at);
	/* appending after a replay goes on at the end */
	append(&f, rf, at, 1000);
	c = (checker){0, 0};
	CU_ASSERT_EQUAL(
	    pl_run_file_replay(rf, &f.schema, check_rows, &c, &f.err), 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(c.next, at + 1000);
	pl_run_file_destroy(rf);
	teardown(&f);
}

/* A batch of 300000 rows (about 6 MB raw) leaves the file holding at most
 * its 128 KiB buffer (and the codec its scratch); a flush gives the
 * buffer back. */
static void big_batch_holds_little(void)
{
	fixture f;
	setup(&f);
	pl_run_file *rf;
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_file_create(f.dir, f.codec, f.pool, &rf, &f.err), 0);
	size_t held = append(&f, rf, 0, 300000);
	CU_ASSERT(held <= BUF_LIMIT + codec_scratch());
	CU_ASSERT(pl_run_file_bytes(rf) > 0);
	size_t before = pl_pool_get_stats(f.pool).bytes_out;
	CU_ASSERT_EQUAL(pl_run_file_flush(rf, &f.err), 0);
	size_t after = pl_pool_get_stats(f.pool).bytes_out;
	CU_ASSERT(before - after >= BUF_LIMIT);
	CU_ASSERT(after <= codec_scratch());
	checker c = {0, 0};
	CU_ASSERT_EQUAL(
	    pl_run_file_replay(rf, &f.schema, check_rows, &c, &f.err), 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(c.next, 300000);
	pl_run_file_destroy(rf);
	teardown(&f);
}

/* A run that was never flushed and stays small is replayed from memory:
 * nothing is written. */
static void small_run_stays_in_memory(void)
{
	fixture f;
	setup(&f);
	pl_run_file *rf;
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_file_create(f.dir, f.codec, f.pool, &rf, &f.err), 0);
	append(&f, rf, 0, 100);
	checker c = {0, 0};
	CU_ASSERT_EQUAL(
	    pl_run_file_replay(rf, &f.schema, check_rows, &c, &f.err), 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(c.next, 100);
	CU_ASSERT_EQUAL(pl_run_file_bytes(rf), 0);
	pl_run_file_destroy(rf);
	teardown(&f);
}

/* A file allowed to hold keeps a big run in memory (never written) and
 * gives the allowance back; past the allowance it writes as usual. */
static void held_run_stays_in_memory(void)
{
	fixture f;
	setup(&f);
	size_t allowance = (size_t)64 << 20;
	pl_run_file *rf;
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_file_create(f.dir, f.codec, f.pool, &rf, &f.err), 0);
	pl_run_file_hold(rf, &allowance);
	append(&f, rf, 0, 300000);
	CU_ASSERT(allowance < ((size_t)64 << 20) - BUF_LIMIT);
	checker c = {0, 0};
	CU_ASSERT_EQUAL(
	    pl_run_file_replay(rf, &f.schema, check_rows, &c, &f.err), 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(c.next, 300000);
	CU_ASSERT_EQUAL(pl_run_file_bytes(rf), 0);
	pl_run_file_destroy(rf);
	CU_ASSERT_EQUAL(allowance, (size_t)64 << 20);
	teardown(&f);
}

static void small_allowance_writes(void)
{
	fixture f;
	setup(&f);
	size_t allowance = 4 * BUF_LIMIT;
	pl_run_file *rf;
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_file_create(f.dir, f.codec, f.pool, &rf, &f.err), 0);
	pl_run_file_hold(rf, &allowance);
	append(&f, rf, 0, 300000);
	CU_ASSERT(pl_run_file_bytes(rf) > 0);
	CU_ASSERT(allowance <= 4 * BUF_LIMIT);
	checker c = {0, 0};
	CU_ASSERT_EQUAL(
	    pl_run_file_replay(rf, &f.schema, check_rows, &c, &f.err), 0);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(c.next, 300000);
	pl_run_file_destroy(rf);
	CU_ASSERT_EQUAL(allowance, 4 * BUF_LIMIT);
	teardown(&f);
}

/* Appends rows [from, from + n) as messages of per rows each, encoded
 * apart (level 0: plain, else zstd) and handed over in one call; under
 * in_room put first where pl_run_file_room says, as a shuffle receives
 * them. */
static void append_encoded(fixture *f, pl_run_file *rf, int level, int64_t from,
			   size_t n, size_t per, int in_room)
{
	pl_codec *codec = pl_codec_create(f->pool, level, &f->err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(codec);
	pl_batch *b = make_rows(f, from, n);
	pl_bytes msgs = {0};
	for (size_t at = 0; at < n; at += per) {
		size_t k = n - at < per ? n - at : per;
		CU_ASSERT_EQUAL(
		    pl_codec_encode(codec, b, NULL, at, k, &msgs, &f->err), 0);
	}
	const uint8_t *at = msgs.data;
	if (in_room) {
		uint8_t *room;
		CU_ASSERT_EQUAL_FATAL(
		    pl_run_file_room(rf, msgs.len, &room, &f->err), 0);
		memcpy(room, msgs.data, msgs.len);
		at = room;
	}
	CU_ASSERT_EQUAL(pl_run_file_append_messages(rf, at, msgs.len, &f->err),
			0);
	pl_bytes_free(&msgs, f->pool);
	pl_batch_free(b, f->pool);
	pl_codec_destroy(codec);
}

/* Messages encoded elsewhere (a shuffle's, as they came over the wire),
 * plain and compressed, small and past the file's 128 KiB, between rows
 * the file encodes itself: read back in order, from disk without an
 * allowance and from memory with one, which comes back whole; handed over
 * from elsewhere or put where the file made room for them. */
static void messages_as_they_came(void)
{
	for (int way = 0; way < 4; way++) {
		int held = way & 1, in_room = way >> 1;
		fixture f;
		setup(&f);
		size_t allowance = (size_t)64 << 20;
		pl_run_file *rf;
		CU_ASSERT_EQUAL_FATAL(
		    pl_run_file_create(f.dir, f.codec, f.pool, &rf, &f.err), 0);
		if (held)
			pl_run_file_hold(rf, &allowance);
		append_encoded(&f, rf, 0, 0, 10, 3, in_room);
		append(&f, rf, 10, 50);
		append_encoded(&f, rf, 1, 60, 30000, 20000, in_room);
		append_encoded(&f, rf, 0, 30060, 40000, 40000, in_room);
		append(&f, rf, 70060, 7);
		append_encoded(&f, rf, 0, 70067, 1, 1, in_room);
		CU_ASSERT_EQUAL(pl_run_file_bytes(rf) > 0, !held);
		checker c = {0, 0};
		CU_ASSERT_EQUAL(
		    pl_run_file_replay(rf, &f.schema, check_rows, &c, &f.err),
		    0);
		CU_ASSERT_EQUAL(c.bad, 0);
		CU_ASSERT_EQUAL(c.next, 70068);
		pl_run_file_destroy(rf);
		CU_ASSERT_EQUAL(allowance, (size_t)64 << 20);
		teardown(&f);
	}
}

/* Reads every batch of cursor c through check_rows; returns the batches. */
static size_t read_all(fixture *f, pl_run_cursor *c, checker *ck)
{
	size_t n = 0;
	for (;;) {
		pl_batch *b;
		CU_ASSERT_EQUAL_FATAL(pl_run_cursor_next(c, &b, &f->err), 0);
		if (b == NULL)
			return n;
		check_rows(ck, b, &f->err);
		pl_batch_free(b, f->pool);
		n++;
	}
}

/* Two runs, one on disk and one in memory, read a batch at a time turn
 * about (as a merge of sorted runs reads them); each reads back whole, and
 * a file read once can be read again. */
static void cursors_read_side_by_side(void)
{
	fixture f;
	setup(&f);
	pl_run_file *disk, *mem;
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_file_create(f.dir, f.codec, f.pool, &disk, &f.err), 0);
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_file_create(f.dir, f.codec, f.pool, &mem, &f.err), 0);
	append(&f, disk, 0, 300000);
	append(&f, mem, 0, 1000);
	CU_ASSERT(pl_run_file_bytes(disk) > 0);
	CU_ASSERT_EQUAL(pl_run_file_bytes(mem), 0);
	pl_run_cursor *cd, *cm;
	CU_ASSERT_EQUAL_FATAL(pl_run_cursor_open(disk, &f.schema, &cd, &f.err),
			      0);
	CU_ASSERT_EQUAL_FATAL(pl_run_cursor_open(mem, &f.schema, &cm, &f.err),
			      0);
	checker kd = {0, 0}, km = {0, 0};
	int ended_d = 0, ended_m = 0;
	while (!ended_d || !ended_m) {
		pl_batch *b;
		if (!ended_d) {
			CU_ASSERT_EQUAL_FATAL(
			    pl_run_cursor_next(cd, &b, &f.err), 0);
			ended_d = b == NULL;
			if (b)
				check_rows(&kd, b, &f.err);
			pl_batch_free(b, f.pool);
		}
		if (!ended_m) {
			CU_ASSERT_EQUAL_FATAL(
			    pl_run_cursor_next(cm, &b, &f.err), 0);
			ended_m = b == NULL;
			if (b)
				check_rows(&km, b, &f.err);
			pl_batch_free(b, f.pool);
		}
	}
	CU_ASSERT(kd.bad == 0 && kd.next == 300000);
	CU_ASSERT(km.bad == 0 && km.next == 1000);
	CU_ASSERT_EQUAL(pl_run_cursor_destroy(cd, &f.err), 0);
	CU_ASSERT_EQUAL(pl_run_cursor_destroy(cm, &f.err), 0);
	CU_ASSERT_EQUAL_FATAL(pl_run_cursor_open(disk, &f.schema, &cd, &f.err),
			      0);
	kd = (checker){0, 0};
	CU_ASSERT(read_all(&f, cd, &kd) > 1);
	CU_ASSERT(kd.bad == 0 && kd.next == 300000);
	CU_ASSERT_EQUAL(pl_run_cursor_destroy(cd, &f.err), 0);
	pl_run_file_destroy(disk);
	pl_run_file_destroy(mem);
	teardown(&f);
}

static const pl_test tests[] = {
    {"cursors_read_side_by_side", cursors_read_side_by_side},
    {"held_run_stays_in_memory", held_run_stays_in_memory},
    {"small_allowance_writes", small_allowance_writes},
    {"rows_come_back_in_order", rows_come_back_in_order},
    {"big_batch_holds_little", big_batch_holds_little},
    {"small_run_stays_in_memory", small_run_stays_in_memory},
    {"messages_as_they_came", messages_as_they_came},
    {NULL, NULL},
};

PL_TEST_MAIN("run_file", tests)

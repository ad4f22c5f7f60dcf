/* Runs as one rank on its own, and as N ranks under mpirun (see
 * tests/e2e/test_exchange.sh). Every test is collective: all ranks run the
 * same tests in the same order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/exchange.h"
#include "harness.h"
#include "op_testkit.h"

typedef struct fixture {
	pl_pool *pool;
	pl_schema schema;
	pl_error err;
	int rank;
	int nranks;
} fixture;

static void setup(fixture *f)
{
	f->pool = pl_pool_create(1 << 20);
	pl_error_clear(&f->err);
	pl_schema_init(&f->schema);
	pl_schema_add(&f->schema, "key", PL_INT64, &f->err);
	pl_schema_add(&f->schema, "val", PL_INT64, &f->err);
	pl_schema_add(&f->schema, "name", PL_STRING, &f->err);
	MPI_Comm_rank(MPI_COMM_WORLD, &f->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &f->nranks);
}

static void teardown(fixture *f)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(f->pool).bytes_out, 0);
	pl_schema_free(&f->schema);
	pl_pool_destroy(f->pool);
}

static pl_exchange *open_opts(fixture *f, size_t round_bytes, int level,
			      int direct_self, int drop_self)
{
	static const size_t keys[] = {0};
	pl_exchange_opts o = {.keys = keys,
			      .nkeys = 1,
			      .round_bytes = round_bytes,
			      .zstd_level = level,
			      .direct_self = direct_self,
			      .drop_self = drop_self};
	return pl_exchange_create(MPI_COMM_WORLD, &f->schema, &o, f->pool,
				  &f->err);
}

static pl_exchange *open_direct(fixture *f, size_t round_bytes, int level,
				int direct_self)
{
	return open_opts(f, round_bytes, level, direct_self, 0);
}

/* Row (key, val, name): name is "v<val>", or NULL when val % 7 == 0. */
static pl_exchange *open_exchange(fixture *f, size_t round_bytes, int level)
{
	return open_direct(f, round_bytes, level, 0);
}

static int push_row(pl_batch *b, int64_t key, int64_t val, pl_pool *pool,
		    pl_error *err)
{
	char s[32];
	int len = snprintf(s, sizeof(s), "v%lld", (long long)val);
	if (pl_column_push_i64(&b->cols[0], key, pool, err) ||
	    pl_column_push_i64(&b->cols[1], val, pool, err))
		return PL_ERR_NOMEM;
	if (val % 7 == 0)
		return pl_column_push_null(&b->cols[2], pool, err);
	return pl_column_push_str(&b->cols[2], s, (size_t)len, pool, err);
}

/* Whether name's row i is what push_row makes of val's. */
static int name_ok(const pl_column *val, const pl_column *name, size_t i)
{
	int64_t v = pl_col_i64(val)[i];
	if (v % 7 == 0)
		return pl_column_is_null(name, i);
	char s[32];
	size_t len;
	int n = snprintf(s, sizeof(s), "v%lld", (long long)v);
	const char *got = pl_col_str(name, i, &len);
	return len == (size_t)n && memcmp(got, s, len) == 0;
}

static int row_ok(const pl_batch *b, size_t i)
{
	return name_ok(&b->cols[1], &b->cols[2], i);
}

/* What the shuffle callback saw on this rank. */
typedef struct tally {
	int rank;
	int nranks;
	int fail_on_call; /* 0: never */
	int calls;
	int bad;
	int64_t rows;
	int64_t sum;
} tally;

static int count_rows(void *arg, pl_batch *b, pl_error *err)
{
	tally *t = arg;
	static const size_t key[] = {0};
	if (++t->calls == t->fail_on_call)
		return pl_error_set(err, PL_ERR_DATA, "callback refused");
	for (size_t i = 0; i < b->nrows; i++) {
		uint64_t h = pl_row_hash(b, key, 1, i);
		t->bad += pl_hash_partition(h, t->nranks) != t->rank;
		t->bad += !row_ok(b, i);
		t->rows++;
		t->sum += pl_col_i64(&b->cols[1])[i];
	}
	return 0;
}

static int rows_of(int rank)
{
	return 10000 + rank;
}

/* Rank r's rows, rows [from, from + n) of (key = i, val = r * 1000 + i). */
static pl_batch *make_rows(fixture *f, int r, int from, int n)
{
	pl_batch *b = pl_batch_new(&f->schema, (size_t)n, f->pool, &f->err);
	for (int i = from; b && i < from + n; i++) {
		if (push_row(b, i, (int64_t)r * 1000 + i, f->pool, &f->err)) {
			pl_batch_free(b, f->pool);
			return NULL;
		}
	}
	if (b)
		pl_batch_sync_rows(b);
	return b;
}

/* The rows and sum of val this rank must receive, from the formula;
 * without its own rows when drop_own. */
static void expected_from(fixture *f, int drop_own, int64_t *rows, int64_t *sum)
{
	static const size_t key[] = {0};
	int most = rows_of(f->nranks - 1);
	pl_batch *keys = make_rows(f, 0, 0, most);
	*rows = *sum = 0;
	for (int i = 0; i < most; i++) {
		uint64_t h = pl_row_hash(keys, key, 1, (size_t)i);
		if (pl_hash_partition(h, f->nranks) != f->rank)
			continue;
		for (int r = 0; r < f->nranks; r++) {
			if (i < rows_of(r) && !(drop_own && r == f->rank)) {
				++*rows;
				*sum += (int64_t)r * 1000 + i;
			}
		}
	}
	pl_batch_free(keys, f->pool);
}

static void expected(fixture *f, int64_t *rows, int64_t *sum)
{
	expected_from(f, 0, rows, sum);
}

/* Pushes this rank's rows in chunks of `chunk`, then finishes. */
static int shuffle(fixture *f, pl_exchange *x, tally *t, int chunk)
{
	int n = rows_of(f->rank), rc = 0;
	for (int from = 0; rc == 0 && from < n; from += chunk) {
		int k = n - from < chunk ? n - from : chunk;
		pl_batch *b = make_rows(f, f->rank, from, k);
		rc = b ? pl_exchange_push(x, b, count_rows, t, &f->err)
		       : pl_exchange_abort(x, PL_ERR_NOMEM, &f->err);
		pl_batch_free(b, f->pool);
	}
	return rc ? rc : pl_exchange_finish(x, count_rows, t, &f->err);
}

static void shuffle_by_key(size_t round_bytes, int level, int direct_self)
{
	fixture f;
	setup(&f);
	pl_exchange *x = open_direct(&f, round_bytes, level, direct_self);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	tally t = {f.rank, f.nranks, 0, 0, 0, 0, 0};
	CU_ASSERT_EQUAL(shuffle(&f, x, &t, 1000), 0);
	int64_t rows, sum;
	expected(&f, &rows, &sum);
	CU_ASSERT_EQUAL(t.bad, 0);
	CU_ASSERT_EQUAL(t.rows, rows);
	CU_ASSERT_EQUAL(t.sum, sum);
	int64_t mine[2] = {t.rows, t.sum}, all[2];
	MPI_Allreduce(mine, all, 2, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
	int64_t want_rows = 0, want_sum = 0;
	for (int r = 0; r < f.nranks; r++) {
		int64_t n = rows_of(r);
		want_rows += n;
		want_sum += (int64_t)r * 1000 * n + n * (n - 1) / 2;
	}
	CU_ASSERT_EQUAL(all[0], want_rows);
	CU_ASSERT_EQUAL(all[1], want_sum);
	pl_exchange_stats st = pl_exchange_get_stats(x);
	/* Alone under direct_self every row is kept: no round needed. */
	CU_ASSERT(st.rounds >= 10 || (direct_self && f.nranks == 1));
	CU_ASSERT_EQUAL(st.rows_sent, (uint64_t)rows_of(f.rank));
	CU_ASSERT_EQUAL(st.rows_recv, (uint64_t)rows);
	if (level != 0 && f.nranks > 1)
		CU_ASSERT(st.bytes_sent < st.bytes_raw);
	pl_exchange_destroy(x);
	teardown(&f);
}

/* Under drop_self a rank's own rows never reach it (the caller reads
 * them by other means); every other rank's rows for it do. */
static void shuffle_drop_self(void)
{
	fixture f;
	setup(&f);
	pl_exchange *x = open_opts(&f, 4096, 0, 1, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	tally t = {f.rank, f.nranks, 0, 0, 0, 0, 0};
	CU_ASSERT_EQUAL(shuffle(&f, x, &t, 1000), 0);
	int64_t rows, sum;
	expected_from(&f, 1, &rows, &sum);
	CU_ASSERT_EQUAL(t.bad, 0);
	CU_ASSERT_EQUAL(t.rows, rows);
	CU_ASSERT_EQUAL(t.sum, sum);
	pl_exchange_destroy(x);
	teardown(&f);
}

static void shuffle_raw(void)
{
	shuffle_by_key(4096, 0, 0);
}

static void shuffle_compressed(void)
{
	shuffle_by_key(1024, 1, 0);
}

static void shuffle_direct_self(void)
{
	shuffle_by_key(4096, 0, 1);
}

/* What a shuffle of the wire columns (val, name) alone saw: the messages
 * each sender's rounds brought, decoded here, and the rows pushes kept. */
typedef struct undecoded_tally {
	tally t;
	pl_codec *codec;
	pl_schema wire;
	pl_pool *pool;
	int *owner; /* by key: the rank it hashes to */
	int nkeys;
	int64_t last[16]; /* by sender: the last key seen */
	int wide;     /* batches that came with more than the wire columns */
	int messages; /* calls with messages */
	uint8_t *room[16]; /* under place: by sender, where its bytes land */
	int misplaced;	   /* messages that came anywhere else */
} undecoded_tally;

/* val = sender * 1000 + key (make_rows): the key is not on the wire. */
static void count_wire_rows(undecoded_tally *u, int sender, const pl_batch *b)
{
	u->wide += b->ncols != 2;
	for (size_t i = 0; i < b->nrows; i++) {
		int64_t val = pl_col_i64(&b->cols[0])[i];
		int64_t k = val - (int64_t)sender * 1000;
		u->t.bad += k < 0 || k >= u->nkeys || u->owner[k] != u->t.rank;
		u->t.bad += !name_ok(&b->cols[0], &b->cols[1], i);
		u->t.bad += k <= u->last[sender];
		u->last[sender] = k;
		u->t.rows++;
		u->t.sum += val;
	}
}

static int take_messages(void *arg, int sender, const uint8_t *msgs, size_t len,
			 pl_error *err)
{
	undecoded_tally *u = arg;
	pl_batch *b = pl_batch_new(&u->wire, 0, u->pool, err);
	int rc =
	    b ? pl_codec_decode_all(u->codec, msgs, len, b, err) : PL_ERR_NOMEM;
	if (rc == 0)
		count_wire_rows(u, sender, b);
	pl_batch_free(b, u->pool);
	u->messages++;
	if (u->room[sender] != NULL) {
		u->misplaced += msgs != u->room[sender];
		free(u->room[sender]);
		u->room[sender] = NULL;
	}
	return rc;
}

/* Room of its own for each sender's bytes, which take_messages must then
 * get there. */
static int place_messages(void *arg, int sender, size_t len, uint8_t **at,
			  pl_error *err)
{
	undecoded_tally *u = arg;
	if (u->room[sender] != NULL)
		u->misplaced++; /* placed twice before the messages came */
	free(u->room[sender]);
	u->room[sender] = *at = malloc(len);
	return *at ? 0 : pl_error_nomem(err, "test room");
}

static int take_kept(void *arg, pl_batch *b, pl_error *err)
{
	(void)err;
	undecoded_tally *u = arg;
	count_wire_rows(u, u->t.rank, b);
	return 0;
}

/* Under wire_cols and undecoded the routing key stays behind and each
 * sender's messages arrive as sent: decoded, they hold the rows this rank
 * owns in the order their sender pushed them; the rows a push keeps
 * (direct_self) reach fn with the wire columns alone. With place, each
 * sender's bytes land where place said. */
static void undecoded_rounds(pl_exchange_place_fn place)
{
	fixture f;
	setup(&f);
	CU_ASSERT_FATAL(f.nranks <= 16);
	pl_schema s; /* val, name, key: the key routes, last */
	pl_schema_init(&s);
	pl_schema_add(&s, "val", PL_INT64, &f.err);
	pl_schema_add(&s, "name", PL_STRING, &f.err);
	pl_schema_add(&s, "key", PL_INT64, &f.err);
	undecoded_tally u = {.t = {f.rank, f.nranks, 0, 0, 0, 0, 0},
			     .pool = f.pool,
			     .nkeys = rows_of(f.nranks - 1)};
	pl_schema_init(&u.wire);
	pl_schema_add(&u.wire, "val", PL_INT64, &f.err);
	pl_schema_add(&u.wire, "name", PL_STRING, &f.err);
	u.codec = pl_codec_create(f.pool, 0, &f.err);
	u.owner = malloc((size_t)u.nkeys * sizeof(*u.owner));
	CU_ASSERT_PTR_NOT_NULL_FATAL(u.owner);
	static const size_t key0[] = {0};
	pl_batch *keys = make_rows(&f, 0, 0, u.nkeys);
	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	for (int i = 0; i < u.nkeys; i++)
		u.owner[i] = pl_hash_partition(
		    pl_row_hash(keys, key0, 1, (size_t)i), f.nranks);
	pl_batch_free(keys, f.pool);
	for (int r = 0; r < 16; r++)
		u.last[r] = -1;
	static const size_t route[] = {2};
	pl_exchange_opts o = {.keys = route,
			      .nkeys = 1,
			      .round_bytes = 4096,
			      .direct_self = 1,
			      .wire_cols = 2,
			      .undecoded = take_messages,
			      .place = place};
	pl_exchange *x =
	    pl_exchange_create(MPI_COMM_WORLD, &s, &o, f.pool, &f.err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	int n = rows_of(f.rank), rc = 0;
	for (int from = 0; rc == 0 && from < n; from += 1000) {
		int k = n - from < 1000 ? n - from : 1000;
		pl_batch *b = make_rows(&f, f.rank, from, k);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		pl_column cols[3] = {b->cols[1], b->cols[2], b->cols[0]};
		pl_batch view = {b->nrows, 3, cols, NULL, NULL};
		rc = pl_exchange_push(x, &view, take_kept, &u, &f.err);
		pl_batch_free(b, f.pool);
	}
	if (rc == 0)
		rc = pl_exchange_finish(x, take_kept, &u, &f.err);
	CU_ASSERT_EQUAL(rc, 0);
	int64_t rows, sum;
	expected(&f, &rows, &sum);
	CU_ASSERT_EQUAL(u.t.bad, 0);
	CU_ASSERT_EQUAL(u.wide, 0);
	CU_ASSERT_EQUAL(u.t.rows, rows);
	CU_ASSERT_EQUAL(u.t.sum, sum);
	CU_ASSERT(f.nranks == 1 || u.messages > 0);
	CU_ASSERT_EQUAL(u.misplaced, 0);
	for (int r = 0; r < 16; r++) {
		CU_ASSERT_PTR_NULL(u.room[r]); /* every room was filled */
		free(u.room[r]);
	}
	pl_exchange_destroy(x);
	pl_codec_destroy(u.codec);
	free(u.owner);
	pl_schema_free(&u.wire);
	pl_schema_free(&s);
	teardown(&f);
}

static void shuffle_undecoded(void)
{
	undecoded_rounds(NULL);
}

static void shuffle_undecoded_placed(void)
{
	undecoded_rounds(place_messages);
}

/* What pl_exchange_push_to brought: rows of keys rank * 20000 + [0,
 * 3000 + sender), val = sender * 1000 + key, each sender's in order. */
typedef struct pushed_tally {
	int rank, bad;
	int64_t rows, last[16];
} pushed_tally;

static int take_pushed(void *arg, pl_batch *b, pl_error *err)
{
	(void)err;
	pushed_tally *p = arg;
	for (size_t i = 0; i < b->nrows; i++) {
		int64_t key = pl_col_i64(&b->cols[0])[i];
		int64_t from = (pl_col_i64(&b->cols[1])[i] - key) / 1000;
		int64_t k = key - (int64_t)p->rank * 20000;
		if (from < 0 || from >= 16 || k < 0 || k >= 3000 + from ||
		    k <= p->last[from] || !row_ok(b, i)) {
			p->bad++;
			continue;
		}
		p->last[from] = k;
		p->rows++;
	}
	return 0;
}

/* pl_exchange_push_to sends rows of a batch (pushed in two parts) to the
 * rank named, its own included (direct_self), whatever the keys hash to;
 * over several rounds each sender's rows arrive whole and in order. */
static void push_to_named_ranks(void)
{
	fixture f;
	setup(&f);
	CU_ASSERT_FATAL(f.nranks <= 16);
	pushed_tally p = {.rank = f.rank};
	for (int r = 0; r < 16; r++)
		p.last[r] = -1;
	static const size_t key[] = {0};
	pl_exchange_opts o = {
	    .keys = key, .nkeys = 1, .round_bytes = 4096, .direct_self = 1};
	pl_exchange *x =
	    pl_exchange_create(MPI_COMM_WORLD, &f.schema, &o, f.pool, &f.err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	int rc = 0;
	for (int d = 0; rc == 0 && d < f.nranks; d++) {
		int n = 3000 + f.rank;
		for (int from = 0; rc == 0 && from < n; from += 700) {
			int k = n - from < 700 ? n - from : 700;
			pl_batch *b =
			    make_rows(&f, f.rank, d * 20000 + from, k);
			CU_ASSERT_PTR_NOT_NULL_FATAL(b);
			/* in two parts: rows [0, h) and [h, k) */
			size_t h = (size_t)k / 3;
			rc = pl_exchange_push_to(x, b, 0, h, d, take_pushed, &p,
						 &f.err);
			if (rc == 0)
				rc = pl_exchange_push_to(x, b, h, (size_t)k - h,
							 d, take_pushed, &p,
							 &f.err);
			pl_batch_free(b, f.pool);
		}
	}
	if (rc == 0)
		rc = pl_exchange_finish(x, take_pushed, &p, &f.err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(p.bad, 0);
	int64_t want = 0;
	for (int r = 0; r < f.nranks; r++) {
		want += 3000 + r;
		CU_ASSERT_EQUAL(p.last[r], 3000 + r - 1);
	}
	CU_ASSERT_EQUAL(p.rows, want);
	/* A rank that does not exist fails the exchange on every rank. */
	pl_batch *b = make_rows(&f, f.rank, 0, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(
	    pl_exchange_push_to(x, b, 0, 1, f.nranks, take_pushed, &p, &f.err),
	    PL_ERR_INTERNAL);
	pl_batch_free(b, f.pool);
	pl_exchange_destroy(x);
	teardown(&f);
}

/* count_rows, and how the name column arrived. */
typedef struct dict_tally {
	tally t;
	int as_dict, as_plain;
} dict_tally;

static int count_dict_rows(void *arg, pl_batch *b, pl_error *err)
{
	dict_tally *d = arg;
	d->as_dict += b->cols[2].dict != NULL;
	d->as_plain += b->cols[2].dict == NULL;
	return count_rows(&d->t, b, err);
}

/* Rows whose name column is dictionary-encoded: with keep_dict they reach
 * the receiver encoded (from other ranks, a message at a time, and from
 * itself under direct_self), without it plain; every value right. */
static void shuffle_keeps_dictionaries(void)
{
	static const size_t keys[] = {0};
	for (int keep = 0; keep < 2; keep++) {
		fixture f;
		setup(&f);
		pl_exchange_opts o = {.keys = keys,
				      .nkeys = 1,
				      .round_bytes = 4096,
				      .direct_self = 1,
				      .keep_dict = keep};
		pl_exchange *x = pl_exchange_create(MPI_COMM_WORLD, &f.schema,
						    &o, f.pool, &f.err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(x);
		dict_tally d = {{f.rank, f.nranks, 0, 0, 0, 0, 0}, 0, 0};
		int n = rows_of(f.rank), rc = 0;
		for (int from = 0; rc == 0 && from < n; from += 1000) {
			int k = n - from < 1000 ? n - from : 1000;
			pl_batch *b = make_rows(&f, f.rank, from, k);
			CU_ASSERT_FATAL(b != NULL &&
					kit_encode_dict(&b->cols[2], f.pool) ==
					    0);
			rc =
			    pl_exchange_push(x, b, count_dict_rows, &d, &f.err);
			pl_batch_free(b, f.pool);
		}
		if (rc == 0)
			rc = pl_exchange_finish(x, count_dict_rows, &d, &f.err);
		CU_ASSERT_EQUAL(rc, 0);
		int64_t rows, sum;
		expected(&f, &rows, &sum);
		CU_ASSERT_EQUAL(d.t.bad, 0);
		CU_ASSERT_EQUAL(d.t.rows, rows);
		CU_ASSERT_EQUAL(d.t.sum, sum);
		CU_ASSERT(d.as_dict + d.as_plain > 0);
		CU_ASSERT_EQUAL(keep ? d.as_plain : d.as_dict, 0);
		pl_exchange_destroy(x);
		teardown(&f);
	}
}

/* Raw bytes this rank encoded in a shuffle of its rows. */
static uint64_t encoded_bytes(int direct_self)
{
	fixture f;
	setup(&f);
	pl_exchange *x = open_direct(&f, 4096, 0, direct_self);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	tally t = {f.rank, f.nranks, 0, 0, 0, 0, 0};
	CU_ASSERT_EQUAL(shuffle(&f, x, &t, 1000), 0);
	uint64_t raw = pl_exchange_get_stats(x).bytes_raw;
	pl_exchange_destroy(x);
	teardown(&f);
	return raw;
}

/* Under direct_self the rows a rank keeps are never encoded: alone it
 * encodes nothing, among N ranks less than without. */
static void kept_rows_not_encoded(void)
{
	uint64_t all = encoded_bytes(0), direct = encoded_bytes(1);
	int nranks;
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	CU_ASSERT(all > 0);
	if (nranks == 1)
		CU_ASSERT_EQUAL(direct, 0);
	CU_ASSERT(direct < all);
}

/* What a receiver decoded in its largest round. */
typedef struct round_size {
	size_t most;
	int64_t rows;
} round_size;

static int measure_round(void *arg, pl_batch *b, pl_error *err)
{
	(void)err;
	round_size *m = arg;
	size_t raw = pl_codec_raw_size(b, NULL, 0, b->nrows);
	if (raw > m->most)
		m->most = raw;
	m->rows += (int64_t)b->nrows;
	return 0;
}

/* Rows that compress a hundredfold (one key, a long constant string):
 * a round still brings each receiver at most round_bytes per sender
 * before compression, not round_bytes of compressed messages. */
static void rounds_bounded_before_compression(void)
{
	fixture f;
	setup(&f);
	const size_t round = 8192;
	pl_exchange *x = open_exchange(&f, round, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	char s[256];
	memset(s, 'z', sizeof(s));
	round_size m = {0, 0};
	int rc = 0;
	for (int chunk = 0; rc == 0 && chunk < 20; chunk++) {
		pl_batch *b = pl_batch_new(&f.schema, 500, f.pool, &f.err);
		for (int i = 0; b && rc == 0 && i < 500; i++)
			rc = pl_column_push_i64(&b->cols[0], 5, f.pool,
						&f.err) ||
			     pl_column_push_i64(&b->cols[1], 1, f.pool,
						&f.err) ||
			     pl_column_push_str(&b->cols[2], s, sizeof(s),
						f.pool, &f.err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		pl_batch_sync_rows(b);
		if (rc == 0)
			rc = pl_exchange_push(x, b, measure_round, &m, &f.err);
		pl_batch_free(b, f.pool);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(pl_exchange_finish(x, measure_round, &m, &f.err), 0);
	pl_exchange_stats st = pl_exchange_get_stats(x);
	int64_t all;
	MPI_Allreduce(&m.rows, &all, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
	CU_ASSERT_EQUAL(all, (int64_t)f.nranks * 20 * 500);
	CU_ASSERT(m.most <= (size_t)f.nranks * round);
	if (f.nranks > 1)
		CU_ASSERT(st.bytes_sent * 20 < st.bytes_raw);
	pl_exchange_destroy(x);
	teardown(&f);
}

/* Rank r holds 100 * r + 5 rows, except rank 1 which holds none. */
static int gathered_rows(int r)
{
	return r == 1 ? 0 : 100 * r + 5;
}

static void gather_in_rank_order(void)
{
	fixture f;
	setup(&f);
	pl_exchange *x = open_exchange(&f, 512, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	pl_batch *mine = make_rows(&f, f.rank, 0, gathered_rows(f.rank));
	pl_batch *out = pl_batch_new(&f.schema, 0, f.pool, &f.err);
	CU_ASSERT_EQUAL(pl_exchange_gather_to_root(x, mine, out, &f.err), 0);
	if (f.rank == 0) {
		size_t row = 0;
		int bad = 0;
		for (int r = 0; r < f.nranks; r++) {
			for (int i = 0; i < gathered_rows(r); i++, row++) {
				bad += row >= out->nrows ||
				       pl_col_i64(&out->cols[1])[row] !=
					   (int64_t)r * 1000 + i ||
				       !row_ok(out, row);
			}
		}
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT_EQUAL(out->nrows, row);
	} else {
		CU_ASSERT_EQUAL(out->nrows, 0);
	}
	pl_batch_free(mine, f.pool);
	pl_batch_free(out, f.pool);
	pl_exchange_destroy(x);
	teardown(&f);
}

static void broadcast_from_last(void)
{
	fixture f;
	setup(&f);
	pl_exchange *x = open_exchange(&f, 1024, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	int root = f.nranks - 1;
	pl_batch *b =
	    f.rank == root ? make_rows(&f, 9, 0, 700) : make_rows(&f, 0, 0, 3);
	CU_ASSERT_EQUAL(pl_exchange_bcast(x, root, b, &f.err), 0);
	size_t skip = f.rank == root ? 0 : 3;
	CU_ASSERT_EQUAL_FATAL(b->nrows, skip + 700);
	int bad = 0;
	for (size_t i = 0; i < 700; i++)
		bad += pl_col_i64(&b->cols[1])[skip + i] != 9000 + (int64_t)i ||
		       !row_ok(b, skip + i);
	CU_ASSERT_EQUAL(bad, 0);
	pl_batch_free(b, f.pool);
	pl_exchange_destroy(x);
	teardown(&f);
}

static void agree_spreads_failure(void)
{
	fixture f;
	setup(&f);
	int last = f.nranks - 1;
	int rc = pl_mpi_agree(MPI_COMM_WORLD, f.rank == last ? PL_ERR_DATA : 0,
			      &f.err);
	CU_ASSERT_EQUAL(rc, PL_ERR_DATA);
	char want[32];
	snprintf(want, sizeof(want), "rank %d failed", last);
	if (f.rank != last)
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, want));
	pl_error_clear(&f.err);
	CU_ASSERT_EQUAL(pl_mpi_agree(MPI_COMM_WORLD, 0, &f.err), 0);
	teardown(&f);
}

/* The last rank's callback refuses its second batch: every rank's shuffle
 * fails, and none is left waiting. */
static void callback_failure_stops_all(void)
{
	fixture f;
	setup(&f);
	pl_exchange *x = open_exchange(&f, 2048, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	tally t = {f.rank, f.nranks, 0, 0, 0, 0, 0};
	if (f.rank == f.nranks - 1)
		t.fail_on_call = 2;
	int rc = shuffle(&f, x, &t, 500);
	CU_ASSERT_EQUAL(rc, PL_ERR_DATA);
	if (f.rank == f.nranks - 1)
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.msg, "callback refused"));
	pl_error_clear(&f.err);
	CU_ASSERT_EQUAL(pl_exchange_finish(x, count_rows, &t, &f.err),
			PL_ERR_DATA);
	pl_exchange_destroy(x);
	teardown(&f);
}

/* Rank 0 fails outside the exchange half-way; the others, pushing and
 * finishing, learn it. */
static void abort_stops_all(void)
{
	fixture f;
	setup(&f);
	pl_exchange *x = open_exchange(&f, 1 << 20, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	tally t = {f.rank, f.nranks, 0, 0, 0, 0, 0};
	int rc;
	if (f.rank == 0) {
		pl_batch *b = make_rows(&f, 0, 0, 100);
		pl_exchange_push(x, b, count_rows, &t, &f.err);
		pl_batch_free(b, f.pool);
		rc = pl_exchange_abort(x, PL_ERR_IO, &f.err);
	} else {
		rc = shuffle(&f, x, &t, 1000);
	}
	CU_ASSERT_EQUAL(rc, PL_ERR_IO);
	pl_exchange_destroy(x);
	teardown(&f);
}

/* Rank 0's pool fails at its nth allocation: every rank gets the same
 * outcome, success or failure, and nothing leaks. */
static void fault_walk_on_rank0(void)
{
	fixture f;
	setup(&f);
	int agreed_ok = 0;
	for (uint64_t at = 1; at < 400 && !agreed_ok; at += 3) {
		pl_error_clear(&f.err);
		if (f.rank == 0)
			pl_pool_fail_after(f.pool, at, 1);
		pl_exchange *x = open_exchange(&f, 8192, 1);
		tally t = {f.rank, f.nranks, 0, 0, 0, 0, 0};
		int rc = x ? shuffle(&f, x, &t, 2500) : f.err.code;
		pl_pool_fail_after(f.pool, 0, 0);
		pl_exchange_destroy(x);
		int ok[2] = {rc == 0, rc == 0}, all[2];
		MPI_Allreduce(ok, all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
		MPI_Allreduce(ok + 1, all + 1, 1, MPI_INT, MPI_MAX,
			      MPI_COMM_WORLD);
		CU_ASSERT_EQUAL(all[0], all[1]);
		CU_ASSERT(rc == 0 || rc == PL_ERR_NOMEM);
		CU_ASSERT_EQUAL(pl_pool_get_stats(f.pool).bytes_out, 0);
		agreed_ok = all[0];
	}
	CU_ASSERT(agreed_ok);
	teardown(&f);
}

/* The column-at-a-time row hashes equal the row-at-a-time ones, for
 * every key type, with and without NULLs, and in any key order; and a
 * dictionary-encoded column hashes as the same strings plain. */
static void rows_hash_agrees(void)
{
	fixture f;
	setup(&f);
	pl_schema s;
	pl_schema_init(&s);
	const pl_type types[] = {PL_INT64, PL_STRING, PL_FLOAT64, PL_BOOL,
				 PL_DATE,  PL_INT64,  PL_STRING,  PL_STRING};
	enum { NC = sizeof(types) / sizeof(types[0]), N = 1000 };
	for (size_t c = 0; c < NC; c++) {
		char name[8];
		snprintf(name, sizeof(name), "c%zu", c);
		pl_schema_add(&s, name, types[c], &f.err);
	}
	pl_batch *b = pl_batch_new(&s, N, f.pool, &f.err);
	CU_ASSERT_FATAL(b != NULL);
	for (size_t i = 0; i < N; i++) {
		char str[16];
		int len = snprintf(str, sizeof(str), "k%zu", i % 37);
		pl_column_push_i64(&b->cols[0], (int64_t)(i * 7919), f.pool,
				   &f.err);
		pl_column_push_str(&b->cols[1], str, (size_t)len, f.pool,
				   &f.err);
		pl_column_push_f64(&b->cols[2], i % 3 ? (double)i / 8 : -0.0,
				   f.pool, &f.err);
		pl_column_push_bool(&b->cols[3], i % 2, f.pool, &f.err);
		pl_column_push_i64(&b->cols[4], (int64_t)i - 500, f.pool,
				   &f.err);
		if (i % 5 == 0)
			pl_column_push_null(&b->cols[5], f.pool, &f.err);
		else
			pl_column_push_i64(&b->cols[5], (int64_t)i, f.pool,
					   &f.err);
		/* 6 dictionary-encoded, 7 the same strings plain */
		for (size_t c = 6; c < 8; c++)
			if (i % 11 == 0)
				pl_column_push_null(&b->cols[c], f.pool,
						    &f.err);
			else
				pl_column_push_str(&b->cols[c], str + 1,
						   (size_t)len - 1, f.pool,
						   &f.err);
	}
	b->nrows = N;
	CU_ASSERT_EQUAL_FATAL(kit_encode_dict(&b->cols[6], f.pool), 0);
	const size_t orders[][NC] = {{0, 1, 2, 3, 4, 5, 6, 7},
				     {7, 5, 4, 3, 2, 1, 0, 6},
				     {6, 1, 0, 5, 0, 2, 4, 7},
				     {7, 1, 0, 5, 0, 2, 4, 6}};
	uint64_t h[N], h2[N];
	for (size_t o = 0; o < 4; o++)
		for (size_t nk = 0; nk <= NC; nk++) {
			pl_rows_hash(b, orders[o], nk, h);
			size_t bad = 0;
			for (size_t i = 0; i < N; i++)
				bad += h[i] != pl_row_hash(b, orders[o], nk, i);
			CU_ASSERT_EQUAL(bad, 0);
		}
	/* from any seed, the chain of pl_column_hash (the distinct's) */
	pl_column_hash_rows(b, orders[1], NC, 42, h);
	size_t off_chain = 0;
	for (size_t i = 0; i < N; i++) {
		uint64_t want = 42;
		for (size_t k = 0; k < NC; k++)
			want = pl_column_hash(&b->cols[orders[1][k]], i, want);
		off_chain += h[i] != want;
	}
	CU_ASSERT_EQUAL(off_chain, 0);
	/* a dictionary-encoded column hashes as its plain strings */
	pl_rows_hash(b, orders[2], NC, h);
	pl_rows_hash(b, orders[3], NC, h2);
	CU_ASSERT_EQUAL(memcmp(h, h2, sizeof(h)), 0);
	pl_batch_free(b, f.pool);
	pl_schema_free(&s);
	teardown(&f);
}

static const pl_test tests[] = {
    {"rows_hash_agrees", rows_hash_agrees},
    {"shuffle_raw", shuffle_raw},
    {"shuffle_compressed", shuffle_compressed},
    {"shuffle_direct_self", shuffle_direct_self},
    {"shuffle_drop_self", shuffle_drop_self},
    {"shuffle_undecoded", shuffle_undecoded},
    {"shuffle_undecoded_placed", shuffle_undecoded_placed},
    {"push_to_named_ranks", push_to_named_ranks},
    {"shuffle_keeps_dictionaries", shuffle_keeps_dictionaries},
    {"kept_rows_not_encoded", kept_rows_not_encoded},
    {"rounds_bounded_before_compression", rounds_bounded_before_compression},
    {"gather_in_rank_order", gather_in_rank_order},
    {"broadcast_from_last", broadcast_from_last},
    {"agree_spreads_failure", agree_spreads_failure},
    {"callback_failure_stops_all", callback_failure_stops_all},
    {"abort_stops_all", abort_stops_all},
    {"fault_walk_on_rank0", fault_walk_on_rank0},
    {NULL, NULL}};

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rc = pl_test_main("exchange", tests, argc, argv);
	int worst;
	MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	MPI_Finalize();
	return worst;
}

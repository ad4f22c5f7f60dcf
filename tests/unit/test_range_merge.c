/* The merge of sorted runs behind a sample sort's receiving end: rows
 * come out in key order (NULLs last either way), equal keys in run order
 * and then in each run's order, in batches of at most the chunk, from
 * runs on disk and in memory alike. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "framework/range_merge.h"
#include "harness.h"

enum { NRUNS = 3, ROWS = 5000 };

typedef struct fixture {
	char dir[64];
	pl_pool *pool;
	pl_codec *codec;
	pl_schema schema; /* k (the key), run, seq, tag */
	pl_schema out;	  /* k, run, seq */
	pl_run_file *runs[NRUNS];
	pl_error err;
} fixture;

/* Key of row i of run r: few distinct values, so that runs tie often;
 * every 97th NULL. */
static int key_of(int r, int64_t i, int64_t *k)
{
	if ((i * 7 + r) % 97 == 0)
		return 0;
	*k = (i * 13 + r * 5) % 41;
	return 1;
}

typedef struct row {
	int has;
	int64_t k, run, seq;
} row;

static int desc_order;

static int cmp_rows(const void *pa, const void *pb)
{
	const row *a = pa, *b = pb;
	if (a->has != b->has)
		return a->has ? -1 : 1;
	if (a->has && a->k != b->k)
		return (a->k < b->k ? -1 : 1) * (desc_order ? -1 : 1);
	if (a->run != b->run)
		return a->run < b->run ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static void setup(fixture *f, int desc, size_t on_disk)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/pl-range-merge-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f->dir));
	f->pool = pl_pool_create(0);
	pl_error_clear(&f->err);
	f->codec = pl_codec_create(f->pool, 1, &f->err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->codec);
	pl_schema_init(&f->schema);
	pl_schema_init(&f->out);
	const char *names[] = {"k", "run", "seq", "tag"};
	for (int c = 0; c < 4; c++) {
		pl_schema_add(&f->schema, names[c], PL_INT64, &f->err);
		if (c < 3)
			pl_schema_add(&f->out, names[c], PL_INT64, &f->err);
	}
	desc_order = desc;
	/* Each run: its rows sorted by key, in batches of 700 rows. */
	for (int r = 0; r < NRUNS; r++) {
		row *rows = malloc(ROWS * sizeof(*rows));
		CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
		for (int64_t i = 0; i < ROWS; i++) {
			rows[i].has = key_of(r, i, &rows[i].k);
			rows[i].run = r;
			rows[i].seq = i;
		}
		qsort(rows, ROWS, sizeof(*rows), cmp_rows);
		CU_ASSERT_EQUAL_FATAL(pl_run_file_create(f->dir, f->codec,
							 f->pool, &f->runs[r],
							 &f->err),
				      0);
		for (size_t at = 0; at < ROWS; at += 700) {
			size_t n = ROWS - at < 700 ? ROWS - at : 700;
			pl_batch *b =
			    pl_batch_new(&f->schema, n, f->pool, &f->err);
			CU_ASSERT_PTR_NOT_NULL_FATAL(b);
			for (size_t j = at; j < at + n; j++) {
				if (rows[j].has)
					pl_column_push_i64(&b->cols[0],
							   rows[j].k, f->pool,
							   &f->err);
				else
					pl_column_push_null(&b->cols[0],
							    f->pool, &f->err);
				pl_column_push_i64(&b->cols[1], rows[j].run,
						   f->pool, &f->err);
				pl_column_push_i64(&b->cols[2], rows[j].seq,
						   f->pool, &f->err);
				pl_column_push_i64(&b->cols[3], -1, f->pool,
						   &f->err);
			}
			pl_batch_sync_rows(b);
			CU_ASSERT_EQUAL(pl_run_file_append(f->runs[r], b, NULL,
							   0, n, &f->err),
					0);
			pl_batch_free(b, f->pool);
		}
		if ((size_t)r < on_disk)
			CU_ASSERT_EQUAL(pl_run_file_flush(f->runs[r], &f->err),
					0);
		free(rows);
	}
}

static void teardown(fixture *f)
{
	for (int r = 0; r < NRUNS; r++)
		pl_run_file_destroy(f->runs[r]);
	pl_codec_destroy(f->codec);
	CU_ASSERT_EQUAL(pl_pool_get_stats(f->pool).bytes_out, 0);
	pl_pool_destroy(f->pool);
	pl_schema_free(&f->schema);
	pl_schema_free(&f->out);
	CU_ASSERT_EQUAL(rmdir(f->dir), 0);
}

typedef struct sink {
	row prev;
	size_t rows, batches, chunk;
	int bad, stop_after;
} sink;

static int take(void *arg, pl_batch *b, pl_error *err)
{
	(void)err;
	sink *s = arg;
	s->batches++;
	s->bad += b->nrows == 0 || b->nrows > s->chunk || b->ncols != 3;
	for (size_t i = 0; i < b->nrows; i++, s->rows++) {
		row r = {!pl_column_is_null(&b->cols[0], i),
			 pl_col_i64(&b->cols[0])[i], pl_col_i64(&b->cols[1])[i],
			 pl_col_i64(&b->cols[2])[i]};
		if (!r.has)
			r.k = 0;
		s->bad += s->rows > 0 && cmp_rows(&s->prev, &r) >= 0;
		s->prev = r;
	}
	return s->stop_after && s->batches >= (size_t)s->stop_after ? PL_STOP
								    : 0;
}

/* A merge of the fixture's runs (or runs, when not NULL) by key. */
static pl_range_merge_spec spec_of(fixture *f, pl_run_file **runs, size_t nruns,
				   const pl_range_key *key, size_t chunk)
{
	pl_range_merge_spec spec = {.runs = runs ? runs : f->runs,
				    .nruns = nruns,
				    .schema = &f->schema,
				    .out_schema = &f->out,
				    .keys = key,
				    .nkeys = 1,
				    .chunk_rows = chunk};
	return spec;
}

static void merge_case(int desc, size_t on_disk, size_t chunk)
{
	fixture f;
	setup(&f, desc, on_disk);
	pl_range_key key = {0, desc};
	pl_range_merge_spec spec = spec_of(&f, NULL, NRUNS, &key, chunk);
	sink s = {.chunk = chunk};
	pl_emitter e = {take, &s};
	CU_ASSERT_EQUAL(pl_range_merge(&spec, f.pool, &e, &f.err), 0);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(s.rows, (size_t)NRUNS * ROWS);
	CU_ASSERT(s.batches >= (size_t)NRUNS * ROWS / chunk);
	teardown(&f);
}

static void ascending_in_memory(void)
{
	merge_case(0, 0, 1000);
}

static void descending_on_disk(void)
{
	merge_case(1, NRUNS, 333);
}

static void mixed_runs_small_chunks(void)
{
	merge_case(0, 1, 7);
}

/* A run may be absent (a rank that sent nothing) and the emitter may stop
 * the merge: PL_STOP comes back and nothing leaks. */
static void absent_run_and_stop(void)
{
	fixture f;
	setup(&f, 0, 1);
	pl_run_file *runs[NRUNS + 1] = {f.runs[0], NULL, f.runs[1], f.runs[2]};
	pl_range_key key = {0, 0};
	pl_range_merge_spec spec = spec_of(&f, runs, NRUNS + 1, &key, 100);
	sink s = {.chunk = 100, .stop_after = 3};
	pl_emitter e = {take, &s};
	CU_ASSERT_EQUAL(pl_range_merge(&spec, f.pool, &e, &f.err), PL_STOP);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(s.batches, 3);
	teardown(&f);
}

/* A reader of one run as the merge's own run: its rows in batches of 123,
 * the first three columns only, the way a rank reads its own range back
 * from its sort. */
typedef struct own_run {
	fixture *f;
	pl_run_cursor *cur;
	pl_batch *b;
	size_t row, calls;
} own_run;

static int read_own(void *arg, pl_batch *out, pl_error *err)
{
	own_run *o = arg;
	o->calls++;
	CU_ASSERT_EQUAL(out->nrows, 0);
	if (o->b != NULL && o->row == o->b->nrows) {
		pl_batch_free(o->b, o->f->pool);
		o->b = NULL;
	}
	if (o->b == NULL) {
		o->row = 0;
		int rc = pl_run_cursor_next(o->cur, &o->b, err);
		if (rc != 0 || o->b == NULL)
			return rc;
	}
	size_t n = o->b->nrows - o->row < 123 ? o->b->nrows - o->row : 123;
	for (size_t c = 0; c < out->ncols; c++)
		if (pl_column_append_range(&out->cols[c], &o->b->cols[c],
					   o->row, n, o->f->pool, err) != 0)
			return PL_ERR_NOMEM;
	out->nrows = n;
	o->row += n;
	return 0;
}

/* Run 1 read through the own-run reader instead of its file: the same
 * order, every row once, in both directions. */
static void own_run_read_back(void)
{
	for (int desc = 0; desc < 2; desc++) {
		fixture f;
		setup(&f, desc, 2);
		own_run o = {&f, NULL, NULL, 0, 0};
		CU_ASSERT_EQUAL_FATAL(
		    pl_run_cursor_open(f.runs[1], &f.schema, &o.cur, &f.err),
		    0);
		pl_range_key key = {0, desc};
		pl_range_merge_spec spec = spec_of(&f, NULL, NRUNS, &key, 500);
		spec.own = 1;
		spec.read_own = read_own;
		spec.own_arg = &o;
		sink s = {.chunk = 500};
		pl_emitter e = {take, &s};
		CU_ASSERT_EQUAL(pl_range_merge(&spec, f.pool, &e, &f.err), 0);
		CU_ASSERT_EQUAL(s.bad, 0);
		CU_ASSERT_EQUAL(s.rows, (size_t)NRUNS * ROWS);
		CU_ASSERT(o.calls > ROWS / 123);
		pl_batch_free(o.b, f.pool);
		CU_ASSERT_EQUAL(pl_run_cursor_destroy(o.cur, &f.err), 0);
		teardown(&f);
	}
}

/* Run 1's rows, all in one batch stored back to front: *idx (malloc'd)
 * lists them in the run's order. */
static pl_batch *run_reversed(fixture *f, uint32_t **idx)
{
	pl_run_cursor *cur;
	CU_ASSERT_EQUAL_FATAL(
	    pl_run_cursor_open(f->runs[1], &f->schema, &cur, &f->err), 0);
	pl_batch *all = pl_batch_new(&f->schema, 0, f->pool, &f->err);
	pl_batch *rev = pl_batch_new(&f->schema, 0, f->pool, &f->err);
	CU_ASSERT_FATAL(all != NULL && rev != NULL);
	for (;;) {
		pl_batch *b;
		CU_ASSERT_EQUAL_FATAL(pl_run_cursor_next(cur, &b, &f->err), 0);
		if (b == NULL)
			break;
		for (size_t c = 0; c < all->ncols; c++)
			CU_ASSERT_EQUAL(pl_column_append_range(
					    &all->cols[c], &b->cols[c], 0,
					    b->nrows, f->pool, &f->err),
					0);
		all->nrows += b->nrows;
		pl_batch_free(b, f->pool);
	}
	CU_ASSERT_EQUAL(pl_run_cursor_destroy(cur, &f->err), 0);
	size_t n = all->nrows;
	*idx = malloc(n * sizeof(**idx));
	CU_ASSERT_PTR_NOT_NULL_FATAL(*idx);
	for (size_t k = 0; k < n; k++)
		(*idx)[k] = (uint32_t)(n - 1 - k);
	for (size_t c = 0; c < rev->ncols; c++)
		CU_ASSERT_EQUAL(pl_column_append_take(&rev->cols[c],
						      &all->cols[c], *idx, n,
						      f->pool, &f->err),
				0);
	rev->nrows = n;
	pl_batch_free(all, f->pool);
	return rev;
}

/* Run 1 read in place from rows lent in another order, as the sort lends
 * its stored rows and their order (own_rows, own_idx): the same merge as
 * from its file, long stretches of equal keys included; stopped early,
 * the merge leaves the lent rows alone. */
static void own_run_in_place(void)
{
	for (int way = 0; way < 3; way++) {
		int desc = way == 1;
		fixture f;
		setup(&f, desc, 2);
		uint32_t *idx;
		pl_batch *rows = run_reversed(&f, &idx);
		pl_range_key key = {0, desc};
		pl_range_merge_spec spec = spec_of(&f, NULL, NRUNS, &key, 500);
		spec.own = 1;
		spec.own_rows = rows;
		spec.own_idx = idx;
		spec.own_n = rows->nrows;
		sink s = {.chunk = 500, .stop_after = way == 2 ? 3 : 0};
		pl_emitter e = {take, &s};
		CU_ASSERT_EQUAL(pl_range_merge(&spec, f.pool, &e, &f.err),
				way == 2 ? PL_STOP : 0);
		CU_ASSERT_EQUAL(s.bad, 0);
		CU_ASSERT_EQUAL(s.rows, way == 2 ? 1500 : (size_t)NRUNS * ROWS);
		CU_ASSERT_EQUAL(rows->nrows, (size_t)ROWS);
		pl_batch_free(rows, f.pool);
		free(idx);
		teardown(&f);
	}
}

/* Runs keyed by (k, k2): k of type t with its edge values (for doubles
 * NaN, both zeros and the infinities; NULLs), k2 an int64 that equal k
 * leave to decide. The merge compares the first key by its order code
 * where the codes differ, so codes that tie (the zeros; an ascending
 * NaN and NULL) must still order as the rows compare. */
typedef struct typed_row {
	int has;
	double k; /* bool as 0 / 1 */
	int64_t k2, run, seq;
} typed_row;

static pl_type typed_type;

static int typed_cmp(const typed_row *a, const typed_row *b)
{
	if (a->has != b->has)
		return a->has ? -1 : 1;
	int c = a->has ? pl_f64_compare(a->k, b->k) : 0;
	if (c == 0 && a->k2 != b->k2)
		return a->k2 < b->k2 ? -1 : 1;
	if (c != 0)
		return desc_order ? -c : c;
	if (a->run != b->run)
		return a->run < b->run ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static int typed_qsort_cmp(const void *a, const void *b)
{
	return typed_cmp(a, b);
}

static typed_row typed_at(const pl_batch *b, size_t i)
{
	const pl_column *k = &b->cols[0];
	typed_row r = {!pl_column_is_null(k, i), 0, pl_col_i64(&b->cols[1])[i],
		       pl_col_i64(&b->cols[2])[i], pl_col_i64(&b->cols[3])[i]};
	if (r.has)
		r.k = typed_type == PL_BOOL ? pl_col_bool(k)[i]
					    : pl_col_f64(k)[i];
	return r;
}

typedef struct typed_sink {
	typed_row prev;
	size_t rows;
	int bad;
} typed_sink;

static int typed_take(void *arg, pl_batch *b, pl_error *err)
{
	(void)err;
	typed_sink *s = arg;
	for (size_t i = 0; i < b->nrows; i++, s->rows++) {
		typed_row r = typed_at(b, i);
		s->bad += s->rows > 0 && typed_cmp(&s->prev, &r) >= 0;
		s->prev = r;
	}
	return 0;
}

static void typed_push(pl_batch *b, const typed_row *r, pl_pool *pool,
		       pl_error *err)
{
	if (!r->has)
		pl_column_push_null(&b->cols[0], pool, err);
	else if (typed_type == PL_BOOL)
		pl_column_push_bool(&b->cols[0], r->k != 0, pool, err);
	else
		pl_column_push_f64(&b->cols[0], r->k, pool, err);
	pl_column_push_i64(&b->cols[1], r->k2, pool, err);
	pl_column_push_i64(&b->cols[2], r->run, pool, err);
	pl_column_push_i64(&b->cols[3], r->seq, pool, err);
}

static void typed_case(pl_type t, int desc)
{
	static const double edge[] = {NAN,	-0.0, 0.0,  -INFINITY,
				      INFINITY, 1.5,  -2.5, 3.0};
	enum { TROWS = 900 };
	fixture f;
	snprintf(f.dir, sizeof(f.dir), "/tmp/pl-range-merge-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f.dir));
	f.pool = pl_pool_create(0);
	pl_error_clear(&f.err);
	f.codec = pl_codec_create(f.pool, 1, &f.err);
	pl_schema_init(&f.schema);
	pl_schema_init(&f.out);
	pl_schema_add(&f.schema, "k", t, &f.err);
	pl_schema_add(&f.schema, "k2", PL_INT64, &f.err);
	pl_schema_add(&f.schema, "run", PL_INT64, &f.err);
	pl_schema_add(&f.schema, "seq", PL_INT64, &f.err);
	CU_ASSERT_EQUAL_FATAL(pl_schema_copy(&f.out, &f.schema, &f.err), 0);
	typed_type = t;
	desc_order = desc;
	typed_row *rows = malloc(TROWS * sizeof(*rows));
	CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
	for (int r = 0; r < NRUNS; r++) {
		for (int64_t i = 0; i < TROWS; i++) {
			int64_t v = (i * 7 + r * 3) % 11;
			rows[i] =
			    (typed_row){v != 10, 0, (i * 5 + r) % 3, r, i};
			rows[i].k =
			    t == PL_BOOL ? (double)(v % 2) : edge[v % 8];
		}
		qsort(rows, TROWS, sizeof(*rows), typed_qsort_cmp);
		CU_ASSERT_EQUAL_FATAL(pl_run_file_create(f.dir, f.codec, f.pool,
							 &f.runs[r], &f.err),
				      0);
		pl_batch *b = pl_batch_new(&f.schema, 300, f.pool, &f.err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		for (size_t i = 0; i < TROWS; i++) {
			typed_push(b, &rows[i], f.pool, &f.err);
			if ((i + 1) % 300 != 0)
				continue;
			pl_batch_sync_rows(b);
			CU_ASSERT_EQUAL(pl_run_file_append(f.runs[r], b, NULL,
							   0, b->nrows, &f.err),
					0);
			pl_batch_clear(b);
		}
		pl_batch_free(b, f.pool);
	}
	free(rows);
	pl_range_key keys[2] = {{0, desc}, {1, 0}};
	pl_range_merge_spec spec = spec_of(&f, NULL, NRUNS, keys, 256);
	spec.nkeys = 2;
	typed_sink s = {.rows = 0};
	pl_emitter e = {typed_take, &s};
	CU_ASSERT_EQUAL(pl_range_merge(&spec, f.pool, &e, &f.err), 0);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(s.rows, (size_t)NRUNS * TROWS);
	teardown(&f);
}

/* Doubles and booleans as the first of two keys, both directions. */
static void coded_first_key(void)
{
	for (int desc = 0; desc < 2; desc++) {
		typed_case(PL_FLOAT64, desc);
		typed_case(PL_BOOL, desc);
	}
}

static const pl_test tests[] = {
    {"ascending_in_memory", ascending_in_memory},
    {"descending_on_disk", descending_on_disk},
    {"mixed_runs_small_chunks", mixed_runs_small_chunks},
    {"absent_run_and_stop", absent_run_and_stop},
    {"own_run_read_back", own_run_read_back},
    {"own_run_in_place", own_run_in_place},
    {"coded_first_key", coded_first_key},
    {NULL, NULL},
};

PL_TEST_MAIN("range_merge", tests)

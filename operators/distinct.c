/* [distinct]: columns = ... (default all). One row per distinct value of
 * those columns, the first occurrence in input order, emitted at finish.
 *
 * The distinct rows live in a row store; an open-addressing table of row
 * ids (with each row's hash kept beside the store) finds duplicates. A
 * batch's new rows are found first, against the store and against each
 * other, then copied in one gather per column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/row_order.h"
#include "operators/row_store.h"
#include "pipeline/operator.h"

enum { MIN_SLOTS = 1024 };

typedef struct distinct_state {
	int *map;     /* input column of each output column */
	size_t *keys; /* map as op->input_keys */
	size_t *own;  /* 0 .. ncols - 1: the columns of a partial batch */
	size_t ncols;
	pl_row_store rows;
	uint64_t *hashes;  /* hash of each stored row, then of pending ones */
	uint32_t *slots;   /* row id + 1, 0 when empty */
	size_t nslots;	   /* a power of two, at least twice the rows */
	uint32_t *pending; /* rows of the current batch that are new */
	size_t pcap;	   /* rows pending has room for */
	size_t hcap;	   /* rows hashes has room for */
	uint64_t *bh;	   /* hash of each row of the current batch */
	size_t bhcap;	   /* rows bh has room for */
} distinct_state;

static const char *const distinct_keys[] = {"columns", NULL};

static int check_duplicates(const pl_section *sec, char **names, size_t n,
			    pl_error *err)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return pl_section_error(
				    sec, "columns", err,
				    "column '%s' listed twice", names[i]);
	return 0;
}

/* Resolves `columns` (or every column) into st->map. */
static int parse_columns(pl_operator *op, distinct_state *st,
			 const pl_section *sec, const pl_schema *in,
			 pl_error *err)
{
	const char *list = pl_section_get(sec, "columns", NULL);
	char **names = NULL;
	size_t n = in->n;
	if (list != NULL && pl_split_names(list, &names, &n, err) != 0) {
		char msg[PL_ERROR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		pl_error_clear(err);
		return pl_section_error(sec, "columns", err, "%s", msg);
	}
	int rc = 0;
	st->map = pl_pool_alloc(op->env->pool, (n ? n : 1) * sizeof(int));
	if (st->map == NULL)
		rc = pl_error_nomem(err, "distinct columns");
	if (rc == 0 && names != NULL)
		rc = check_duplicates(sec, names, n, err);
	for (size_t j = 0; j < n && rc == 0; j++) {
		if (names == NULL)
			st->map[j] = (int)j;
		else
			rc = pl_order_find_column(sec, "columns", in, names[j],
						  &st->map[j], err);
	}
	st->ncols = n;
	pl_names_free(names, names ? n : 0);
	return rc;
}

/* The distinct columns (all without `columns`), needed or not. */
static void distinct_columns_used(const pl_operator *op, const pl_schema *in,
				  const pl_schema *out, const uint8_t *out_used,
				  uint8_t *in_used)
{
	const distinct_state *st = op->state;
	(void)in;
	(void)out;
	(void)out_used;
	for (size_t j = 0; j < st->ncols; j++)
		in_used[st->map[j]] = 1;
}

/* Which occurrence of a row is kept does not matter, so rows may go
 * straight to their owner and arrive in any order (operator.h). */
static int offer_input_keys(pl_operator *op, distinct_state *st, pl_error *err)
{
	if (st->ncols == 0)
		return 0;
	st->keys = pl_pool_alloc(op->env->pool, st->ncols * sizeof(size_t));
	st->own = pl_pool_alloc(op->env->pool, st->ncols * sizeof(size_t));
	if (st->keys == NULL || st->own == NULL)
		return pl_error_nomem(err, "distinct columns");
	for (size_t j = 0; j < st->ncols; j++) {
		st->keys[j] = (size_t)st->map[j];
		st->own[j] = j;
	}
	op->input_keys = st->keys;
	return 0;
}

static int distinct_init(pl_operator *op, const pl_section *sec,
			 const pl_schema *in, pl_schema *out, pl_error *err)
{
	distinct_state *st = pl_pool_calloc(op->env->pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "distinct state");
	op->state = st;
	op->columns_used = distinct_columns_used;
	int rc = pl_section_check_keys(sec, distinct_keys, err);
	if (rc == 0)
		rc = parse_columns(op, st, sec, in, err);
	for (size_t j = 0; j < st->ncols && rc == 0; j++) {
		const pl_field *f = &in->fields[st->map[j]];
		rc = pl_schema_add(out, f->name, f->type, err);
	}
	if (rc == 0)
		rc = pl_row_store_init(&st->rows, in, st->map, st->ncols,
				       op->env->pool, err);
	if (rc == 0)
		rc = pl_schema_copy(&op->partial_schema, out, err);
	op->partition_keys = out->n;
	return rc == 0 ? offer_input_keys(op, st, err) : rc;
}

/* Room for n elements of size sz in place of p, which is returned when it
 * is big enough already; NULL when out of memory (p is then kept). */
static void *grow(pl_pool *pool, void *p, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap && p != NULL)
		return p;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < n)
		ncap *= 2;
	void *q = pl_pool_realloc(pool, p, ncap * sz);
	if (q != NULL)
		*cap = ncap;
	return q;
}

/* Makes the table big enough for n rows, re-inserting the stored ones. */
static int reserve_slots(distinct_state *st, pl_pool *pool, size_t n,
			 pl_error *err)
{
	size_t want = st->nslots ? st->nslots : MIN_SLOTS;
	while (want < 2 * n)
		want *= 2;
	if (want == st->nslots)
		return 0;
	uint32_t *s = pl_pool_calloc(pool, want, sizeof(*s));
	if (s == NULL)
		return pl_error_nomem(err, "a distinct hash table");
	for (size_t id = 0; id < st->rows.nrows; id++) {
		size_t k = st->hashes[id] & (want - 1);
		while (s[k] != 0)
			k = (k + 1) & (want - 1);
		s[k] = (uint32_t)id + 1;
	}
	pl_pool_free(pool, st->slots);
	st->slots = s;
	st->nslots = want;
	return 0;
}

static int reserve(distinct_state *st, pl_pool *pool, size_t batch_rows,
		   pl_error *err)
{
	size_t total = st->rows.nrows + batch_rows;
	uint64_t *h = grow(pool, st->hashes, &st->hcap, total, sizeof(*h));
	if (h == NULL)
		return pl_error_nomem(err, "distinct row hashes");
	st->hashes = h;
	uint32_t *p =
	    grow(pool, st->pending, &st->pcap, batch_rows, sizeof(*p));
	if (p == NULL)
		return pl_error_nomem(err, "distinct row ids");
	st->pending = p;
	uint64_t *bh = grow(pool, st->bh, &st->bhcap, batch_rows, sizeof(*bh));
	if (bh == NULL)
		return pl_error_nomem(err, "distinct row hashes");
	st->bh = bh;
	return reserve_slots(st, pool, total, err);
}

static const pl_column *input_col(const pl_batch *b, const int *map, size_t j)
{
	return &b->cols[map ? (size_t)map[j] : j];
}

/* Whether row id (stored, or the pending row id - nrows of b) equals row
 * i of b. */
static bool same_row(const distinct_state *st, const pl_batch *b,
		     const int *map, size_t id, size_t i)
{
	size_t nrows = st->rows.nrows;
	for (size_t j = 0; j < st->ncols; j++) {
		const pl_column *c = input_col(b, map, j);
		int r =
		    id < nrows
			? pl_column_compare(&st->rows.cols[j], id, c, i)
			: pl_column_compare(c, st->pending[id - nrows], c, i);
		if (r != 0)
			return false;
	}
	return true;
}

/* Finds the rows of b not seen before; returns how many (in pending). */
static size_t find_new_rows(distinct_state *st, const pl_batch *b,
			    const int *map)
{
	size_t npending = 0, mask = st->nslots - 1;
	/* Its own seed: the shuffle's hash of the same columns chose the
	 * rank, and must not choose the slot too. */
	pl_column_hash_rows(b, map ? st->keys : st->own, st->ncols,
			    0x6a09e667f3bcc909ULL, st->bh);
	for (size_t i = 0; i < b->nrows; i++) {
		uint64_t h = st->bh[i];
		size_t k = h & mask;
		for (; st->slots[k] != 0; k = (k + 1) & mask) {
			size_t id = st->slots[k] - 1;
			if (st->hashes[id] == h && same_row(st, b, map, id, i))
				break;
		}
		if (st->slots[k] != 0)
			continue;
		size_t id = st->rows.nrows + npending;
		st->slots[k] = (uint32_t)id + 1;
		st->hashes[id] = h;
		st->pending[npending++] = (uint32_t)i;
	}
	return npending;
}

/* Adds b's new rows; b has the input schema (map) or the output's (NULL).
 * After a failure the table may name rows that were not stored: the
 * operator is then only fit to be destroyed. */
static int absorb(pl_operator *op, const pl_batch *b, const int *map,
		  pl_error *err)
{
	distinct_state *st = op->state;
	if (b->nrows == 0)
		return 0;
	if (b->nrows > PL_ROW_STORE_MAX_ROWS - st->rows.nrows)
		return pl_error_set(err, PL_ERR_NOMEM,
				    "more than %zu distinct rows",
				    PL_ROW_STORE_MAX_ROWS);
	int rc = reserve(st, op->env->pool, b->nrows, err);
	if (rc != 0)
		return rc;
	size_t n = find_new_rows(st, b, map);
	rc = pl_row_store_take(&st->rows, b->cols, map, st->pending, n,
			       op->env->pool, err);
	op->state_rows = st->rows.nrows;
	return rc;
}

static int distinct_process(pl_operator *op, const pl_batch *in,
			    const pl_emitter *out, pl_error *err)
{
	(void)out;
	return absorb(op, in, ((distinct_state *)op->state)->map, err);
}

static int distinct_merge(pl_operator *op, const pl_batch *partial,
			  pl_error *err)
{
	return absorb(op, partial, NULL, err);
}

static int distinct_finish(pl_operator *op, const pl_emitter *out,
			   pl_error *err)
{
	distinct_state *st = op->state;
	int rc = pl_row_store_emit(&st->rows, NULL, st->rows.nrows,
				   pl_row_store_chunk(op->env), op->env->pool,
				   out, err);
	return rc == PL_STOP ? 0 : rc;
}

static void distinct_destroy(pl_operator *op)
{
	distinct_state *st = op->state;
	if (st == NULL)
		return;
	pl_pool *pool = op->env->pool;
	pl_row_store_free(&st->rows, pool);
	pl_pool_free(pool, st->map);
	pl_pool_free(pool, st->keys);
	pl_pool_free(pool, st->own);
	pl_pool_free(pool, st->bh);
	pl_pool_free(pool, st->hashes);
	pl_pool_free(pool, st->slots);
	pl_pool_free(pool, st->pending);
	pl_pool_free(pool, st);
	op->state = NULL;
}

static void distinct_describe(const pl_operator *op, char *buf, size_t cap)
{
	const char *cols =
	    op->section ? pl_section_get(op->section, "columns", NULL) : NULL;
	snprintf(buf, cap, "columns: %s", cols ? cols : "all");
}

const pl_operator_def pl_op_distinct = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "distinct",
    .description = "one row for each distinct value of some or all "
		   "columns",
    .kind = PL_OP_BLOCKING,
    .init = distinct_init,
    .process = distinct_process,
    .finish = distinct_finish,
    .destroy = distinct_destroy,
    .partial = distinct_finish,
    .merge = distinct_merge,
    .describe = distinct_describe,
};

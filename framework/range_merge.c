/* A k-way merge of the ranks' sorted streams, a handful: the live heads
 * are kept in order (only the one taken from moves, so putting it back is
 * a step or two along a short array; a heap would not pay). The first
 * head's rows are taken in stretches, as long as they stay ahead of the
 * second; with order codes a stretch is a scan of integers, rows compared
 * only where codes tie. Short stretches (random keys interleave the runs
 * row by row) are noted as picks and gathered column by column when a
 * head's batch ends or the output batch is full; long ones are copied at
 * once. */
#include <stdlib.h>
#include <string.h>

#include "framework/range_merge.h"

int pl_range_compare_key(const pl_range_key *key, const pl_column *x, size_t a,
			 const pl_column *y, size_t b)
{
	bool xn = pl_column_is_null(x, a), yn = pl_column_is_null(y, b);
	if (xn || yn)
		return xn == yn ? 0 : (xn ? 1 : -1);
	int r = pl_column_compare(x, a, y, b);
	return key->desc ? -r : r;
}

int pl_range_compare(const pl_range_key *keys, size_t nkeys,
		     const pl_column *ca, size_t a, const pl_column *cb,
		     size_t b)
{
	for (size_t k = 0; k < nkeys; k++) {
		int r = pl_range_compare_key(&keys[k], &ca[keys[k].col], a,
					     &cb[keys[k].col], b);
		if (r != 0)
			return r;
	}
	return 0;
}

typedef struct head {
	pl_run_cursor *cur;
	pl_batch *b; /* NULL: the run has ended */
	size_t row;
	uint64_t *code; /* when coded: pl_order_code of b's rows' first key */
	size_t code_cap;
	/* The own run read in place: b is view, the lent columns, and its
	 * positions 0 .. b->nrows (a window of at most a chunk) are rows
	 * idx[0 ..] of them; left positions follow the window. */
	const uint32_t *idx;
	size_t left;
	pl_batch view;
} head;

/* The row of head h's batch at position at. */
static inline size_t row_of(const head *h, size_t at)
{
	return h->idx != NULL ? h->idx[at] : at;
}

/* A stretch at least this long is copied as a range, not as picks. */
enum { LONG_STRETCH = 64 };

typedef struct merge {
	const pl_range_merge_spec *spec;
	pl_pool *pool;
	head *h;
	pl_batch *out;
	uint32_t *pick_run, *pick_row; /* picks not yet gathered */
	size_t npicks;
	const pl_column **srcs; /* per run: its batch's column being gathered */
	size_t *order; /* the live heads, the next to take from first */
	size_t nlive;
	/* The first key has a pl_order_code: the heads' codes decide wherever
	 * they differ, so most steps compare two integers. NULL's code is
	 * UINT64_MAX, which an ascending NaN shares: equal codes compare the
	 * rows. */
	bool coded;
} merge;

/* Whether head s's row at is ahead of head t's current row: smaller, or
 * equal and from an earlier run. */
static inline int ahead(const merge *m, size_t s, size_t at, size_t t)
{
	const head *hs = &m->h[s], *ht = &m->h[t];
	if (m->coded) {
		uint64_t a = hs->code[at], b = ht->code[ht->row];
		if (a != b)
			return a < b;
	}
	int r =
	    pl_range_compare(m->spec->keys, m->spec->nkeys, hs->b->cols,
			     row_of(hs, at), ht->b->cols, row_of(ht, ht->row));
	return r < 0 || (r == 0 && s < t);
}

/* Puts head r, live, into the order after the heads ahead of it, from
 * position i on (order[i] is free). */
static void place(merge *m, size_t r, size_t i)
{
	size_t *o = m->order;
	while (i + 1 < m->nlive && ahead(m, o[i + 1], m->h[o[i + 1]].row, r)) {
		o[i] = o[i + 1];
		i++;
	}
	o[i] = r;
}

/* The first head moved on: back into its place, or out when it ended. */
static void reorder(merge *m)
{
	size_t r = m->order[0];
	if (m->h[r].b != NULL) {
		place(m, r, 0);
		return;
	}
	m->nlive--;
	memmove(m->order, m->order + 1, m->nlive * sizeof(*m->order));
}

/* The order of the heads as the runs start (runs in order: equal rows stay
 * in run order). */
static void first_order(merge *m)
{
	m->nlive = 0;
	for (size_t r = 0; r < m->spec->nruns; r++) {
		if (m->h[r].b == NULL)
			continue;
		size_t j = m->nlive++;
		while (j > 0 && ahead(m, r, m->h[r].row, m->order[j - 1])) {
			m->order[j] = m->order[j - 1];
			j--;
		}
		m->order[j] = r;
	}
}

/* code[k] = the order code of col's value at position k (row idx[k]
 * when idx is not NULL); NULL's is UINT64_MAX. In order, a local copy of
 * the column and a loop per type: the type test inside pl_order_code
 * folds away, and the stores to the codes do not make every row read the
 * column again. */
static void code_column(const pl_column *col, const uint32_t *idx, size_t n,
			bool desc, uint64_t *code)
{
	const pl_column c = *col;
	if (idx != NULL) {
		for (size_t k = 0; k < n; k++)
			code[k] = pl_order_code_or_null(&c, idx[k], desc);
		return;
	}
	if (c.type == PL_FLOAT64)
		for (size_t r = 0; r < n; r++)
			code[r] = pl_order_code(&c, r, desc);
	else if (c.type == PL_BOOL)
		for (size_t r = 0; r < n; r++)
			code[r] = pl_order_code(&c, r, desc);
	else
		for (size_t r = 0; r < n; r++)
			code[r] = pl_order_code(&c, r, desc);
	for (size_t r = 0; c.valid != NULL && r < n; r++)
		if (pl_column_is_null(&c, r))
			code[r] = UINT64_MAX;
}

/* Fills head h's codes for its new batch. */
static int code_rows(merge *m, head *h, pl_error *err)
{
	if (!m->coded || h->b == NULL)
		return 0;
	size_t n = h->b->nrows;
	if (n > h->code_cap) {
		uint64_t *c = realloc(h->code, n * sizeof(*c));
		if (c == NULL)
			return pl_error_nomem(err, "a merge of sorted runs");
		h->code = c;
		h->code_cap = n;
	}
	const pl_range_key *key = &m->spec->keys[0];
	code_column(&h->b->cols[key->col], h->idx, n, key->desc, h->code);
	return 0;
}

static int own(const merge *m, size_t r)
{
	return (m->spec->read_own != NULL || m->spec->own_rows != NULL) &&
	       r == m->spec->own;
}

/* Moves the own run's head, read in place, on to its next window. */
static int refill_view(merge *m, head *h, pl_error *err)
{
	const pl_range_merge_spec *sp = m->spec;
	if (h->idx == NULL) {
		h->view = *sp->own_rows;
		h->idx = sp->own_idx;
		h->left = sp->own_n;
	} else {
		h->idx += h->view.nrows;
	}
	size_t w = sp->chunk_rows ? sp->chunk_rows : 1;
	size_t n = h->left < w ? h->left : w;
	h->left -= n;
	h->row = 0;
	h->view.nrows = n;
	h->b = n > 0 ? &h->view : NULL;
	return code_rows(m, h, err);
}

/* Moves the own run's head on to its next rows, in the batch it keeps. */
static int refill_own(merge *m, head *h, pl_error *err)
{
	if (h->b == NULL) {
		h->b = pl_batch_new(m->spec->out_schema, 0, m->pool, err);
		if (h->b == NULL)
			return PL_ERR_NOMEM;
	}
	pl_batch_clear(h->b);
	h->row = 0;
	int rc = m->spec->read_own(m->spec->own_arg, h->b, err);
	if (rc == 0 && h->b->nrows == 0) {
		pl_batch_free(h->b, m->pool);
		h->b = NULL;
	}
	return rc ? rc : code_rows(m, h, err);
}

/* Moves head r on to its run's next non-empty batch, or to its end. */
static int refill(merge *m, size_t r, pl_error *err)
{
	head *h = &m->h[r];
	if (own(m, r))
		return m->spec->own_rows ? refill_view(m, h, err)
					 : refill_own(m, h, err);
	do {
		pl_batch_free(h->b, m->pool);
		h->b = NULL;
		h->row = 0;
		int rc = pl_run_cursor_next(h->cur, &h->b, err);
		if (rc != 0)
			return rc;
	} while (h->b != NULL && h->b->nrows == 0);
	return code_rows(m, h, err);
}

/* Appends the picks to the output batch, column by column. */
static int gather(merge *m, pl_error *err)
{
	pl_batch *o = m->out;
	size_t nruns = m->spec->nruns;
	for (size_t c = 0; m->npicks > 0 && c < o->ncols; c++) {
		for (size_t r = 0; r < nruns; r++)
			m->srcs[r] = m->h[r].b ? &m->h[r].b->cols[c] : NULL;
		int rc = pl_column_append_picks(&o->cols[c], m->srcs, nruns,
						m->pick_run, m->pick_row,
						m->npicks, m->pool, err);
		if (rc != 0)
			return rc;
	}
	o->nrows += m->npicks;
	m->npicks = 0;
	return 0;
}

static int flush(merge *m, const pl_emitter *out, pl_error *err)
{
	pl_batch *o = m->out;
	int rc = gather(m, err);
	if (rc != 0 || o->nrows == 0)
		return rc;
	rc = pl_emit(out, o, err);
	pl_batch_clear(o);
	return rc;
}

/* How many of head s's rows, from its current one and at most room, stay
 * ahead of head t's current row (t == nruns: to the end of its batch). */
static size_t stretch(const merge *m, size_t s, size_t t, size_t room)
{
	const head *h = &m->h[s];
	size_t at = h->row + 1, end = h->b->nrows;
	if (room < end - h->row)
		end = h->row + room;
	if (t == m->spec->nruns)
		return end - h->row;
	if (!m->coded) {
		while (at < end && ahead(m, s, at, t))
			at++;
		return at - h->row;
	}
	const uint64_t lim = m->h[t].code[m->h[t].row], *code = h->code;
	for (;;) {
		while (at < end && code[at] < lim)
			at++;
		if (at == end || code[at] > lim || !ahead(m, s, at, t))
			return at - h->row;
		at++;
	}
}

/* Takes head s's rows while they stay ahead of head t, up to room rows
 * (at least one). */
static int take_stretch(merge *m, size_t s, size_t t, size_t room,
			pl_error *err)
{
	head *h = &m->h[s];
	size_t n = stretch(m, s, t, room);
	int rc = 0;
	if (n < LONG_STRETCH) {
		for (size_t k = 0; k < n; k++) {
			m->pick_run[m->npicks + k] = (uint32_t)s;
			m->pick_row[m->npicks + k] =
			    (uint32_t)row_of(h, h->row + k);
		}
		m->npicks += n;
	} else {
		rc = gather(m, err);
		for (size_t c = 0; rc == 0 && c < m->out->ncols; c++)
			rc = h->idx ? pl_column_append_take(
					  &m->out->cols[c], &h->b->cols[c],
					  h->idx + h->row, n, m->pool, err)
				    : pl_column_append_range(
					  &m->out->cols[c], &h->b->cols[c],
					  h->row, n, m->pool, err);
		m->out->nrows += rc == 0 ? n : 0;
	}
	h->row += n;
	/* The picks point into the batch refill replaces. */
	if (rc == 0 && h->row == h->b->nrows && (rc = gather(m, err)) == 0)
		rc = refill(m, s, err);
	return rc;
}

static int run_merge(merge *m, const pl_emitter *out, pl_error *err)
{
	const pl_range_merge_spec *sp = m->spec;
	int rc = 0;
	for (size_t r = 0; rc == 0 && r < sp->nruns; r++)
		if (own(m, r) ||
		    (sp->runs[r] != NULL &&
		     (rc = pl_run_cursor_open(sp->runs[r], sp->schema,
					      &m->h[r].cur, err)) == 0))
			rc = refill(m, r, err);
	if (rc == 0)
		first_order(m);
	while (rc == 0 && m->nlive > 0) {
		size_t s = m->order[0];
		size_t t = m->nlive > 1 ? m->order[1] : sp->nruns;
		rc = take_stretch(
		    m, s, t, sp->chunk_rows - m->out->nrows - m->npicks, err);
		if (rc == 0)
			reorder(m);
		if (rc == 0 && m->out->nrows + m->npicks >= sp->chunk_rows)
			rc = flush(m, out, err);
	}
	return rc ? rc : flush(m, out, err);
}

int pl_range_merge(const pl_range_merge_spec *spec, pl_pool *pool,
		   const pl_emitter *out, pl_error *err)
{
	merge m = {.spec = spec,
		   .pool = pool,
		   .h = calloc(spec->nruns ? spec->nruns : 1, sizeof(head))};
	m.coded =
	    spec->nkeys > 0 &&
	    pl_order_has_code(spec->schema->fields[spec->keys[0].col].type);
	if (m.h == NULL)
		return pl_error_nomem(err, "a merge of sorted runs");
	size_t cap = spec->chunk_rows ? spec->chunk_rows : 1;
	m.out = pl_batch_new(spec->out_schema, spec->chunk_rows, pool, err);
	m.pick_run = malloc(cap * sizeof(*m.pick_run));
	m.pick_row = malloc(cap * sizeof(*m.pick_row));
	m.srcs = calloc(spec->nruns ? spec->nruns : 1, sizeof(*m.srcs));
	m.order = calloc(spec->nruns ? spec->nruns : 1, sizeof(*m.order));
	int rc = 0;
	if (m.out == NULL)
		rc = PL_ERR_NOMEM;
	else if (!m.pick_run || !m.pick_row || !m.srcs || !m.order)
		rc = pl_error_nomem(err, "a merge of sorted runs");
	if (rc == 0)
		rc = run_merge(&m, out, err);
	for (size_t r = 0; r < spec->nruns; r++) {
		if (m.h[r].b != &m.h[r].view) /* the own run's is lent */
			pl_batch_free(m.h[r].b, pool);
		free(m.h[r].code);
		int end = pl_run_cursor_destroy(m.h[r].cur, rc ? NULL : err);
		if (rc == 0)
			rc = end;
	}
	pl_batch_free(m.out, pool);
	free(m.pick_run);
	free(m.pick_row);
	free(m.srcs);
	free(m.order);
	free(m.h);
	return rc;
}

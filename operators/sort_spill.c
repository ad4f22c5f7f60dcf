/* Sorted runs of [sort] in a spill file, and their k-way merge; see
 * sort_spill.h. The file is written and read with pwrite and pread at
 * explicit offsets, so that a merge can append a longer run while it
 * reads the shorter ones. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operators/sort_spill.h"

#define SPILL_ZSTD_LEVEL 1
/* Encoded bytes gathered before a write. */
#define WRITE_FLUSH ((size_t)256 << 10)

/* Runs merged at once. Each holds one message and its decoded rows, each
 * up to twice its size in pool classes: MERGE_FANIN * 4 messages fit in
 * half the budget when a message is a 128th of it. */
enum { MERGE_FANIN = 16, MESSAGE_SHARE = 8 * MERGE_FANIN };

void pl_sort_spill_init(pl_sort_spill *s, pl_pool *pool, const char *dir,
			size_t budget)
{
	memset(s, 0, sizeof(*s));
	s->pool = pool;
	s->dir = dir ? dir : "/tmp";
	s->fd = -1;
	s->msg_bytes = budget / MESSAGE_SHARE ? budget / MESSAGE_SHARE : 1;
}

void pl_sort_spill_free(pl_sort_spill *s)
{
	if (s->pool == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	pl_codec_destroy(s->codec);
	pl_bytes_free(&s->wbuf, s->pool);
	pl_pool_free(s->pool, s->runs);
	s->fd = -1;
	s->codec = NULL;
	s->runs = NULL;
	s->nruns = s->cap = 0;
}

/* The spill file, created and at once unlinked, so that it vanishes with
 * its descriptor however the process ends. */
static int open_file(pl_sort_spill *s, pl_error *err)
{
	char path[4200];
	int n =
	    snprintf(path, sizeof(path), "%s/.pipeline-sort-XXXXXX", s->dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return pl_error_set(err, PL_ERR_IO, "%s: spill_dir too long",
				    s->dir);
	s->fd = mkstemp(path);
	if (s->fd < 0)
		return pl_error_set(err, PL_ERR_IO,
				    "%s: cannot create a spill file: %s",
				    s->dir, strerror(errno));
	unlink(path);
	return 0;
}

/* Gets the codec, the file and room for one more run ready. */
static int prepare(pl_sort_spill *s, pl_error *err)
{
	if (s->codec == NULL && (s->codec = pl_codec_create(
				     s->pool, SPILL_ZSTD_LEVEL, err)) == NULL)
		return PL_ERR_NOMEM;
	if (s->fd < 0 && open_file(s, err) != 0)
		return PL_ERR_IO;
	if (s->nruns < s->cap)
		return 0;
	size_t cap = s->cap ? 2 * s->cap : 16;
	pl_sort_run *runs =
	    pl_pool_realloc(s->pool, s->runs, cap * sizeof(*runs));
	if (runs == NULL)
		return pl_error_nomem(err, "the sort's spill runs");
	s->runs = runs;
	s->cap = cap;
	return 0;
}

/* Writes out the encoded bytes at the end of the file. */
static int flush(pl_sort_spill *s, pl_error *err)
{
	for (size_t done = 0; done < s->wbuf.len;) {
		ssize_t n = pwrite(s->fd, s->wbuf.data + done,
				   s->wbuf.len - done, (off_t)(s->end + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pl_error_set(
			    err, PL_ERR_IO, "%s: cannot write a spill file: %s",
			    s->dir, n < 0 ? strerror(errno) : "no room");
		done += (size_t)n;
	}
	s->end += s->wbuf.len;
	s->bytes += s->wbuf.len;
	s->wbuf.len = 0;
	return 0;
}

/* Rows per message for rows like b's: msg_bytes of message at their
 * average size, at least one, at most max. */
static size_t message_rows(const pl_sort_spill *s, const pl_batch *b,
			   size_t max)
{
	if (b->nrows == 0)
		return 1;
	size_t row = pl_codec_raw_size(b, NULL, 0, b->nrows) / b->nrows + 1;
	size_t m = s->msg_bytes / row;
	return m < 1 ? 1 : m > max ? max : m;
}

/* Appends rows idx[0..n) of b (idx NULL: rows 0..n) to the file in
 * messages of at most per rows. */
static int append_rows(pl_sort_spill *s, const pl_batch *b, const uint32_t *idx,
		       size_t n, size_t per, pl_error *err)
{
	int rc = 0;
	for (size_t from = 0; from < n && rc == 0; from += per) {
		size_t m = n - from < per ? n - from : per;
		rc = pl_codec_encode(s->codec, b, idx, from, m, &s->wbuf, err);
		if (rc == 0 && s->wbuf.len >= WRITE_FLUSH)
			rc = flush(s, err);
	}
	return rc;
}

/* Ends the run begun at start. On failure what was written past the last
 * run is dropped, and the next run writes over it. */
static int end_run(pl_sort_spill *s, uint64_t start, int rc, pl_error *err)
{
	if (rc == 0)
		rc = flush(s, err);
	if (rc == 0)
		s->runs[s->nruns++] = (pl_sort_run){start, s->end};
	else
		s->wbuf.len = 0;
	return rc;
}

int pl_sort_spill_run(pl_sort_spill *s, const pl_batch *rows,
		      const uint32_t *idx, size_t n, size_t chunk_rows,
		      pl_error *err)
{
	if (n == 0)
		return 0;
	int rc = prepare(s, err);
	if (rc != 0)
		return rc;
	uint64_t start = s->end;
	rc = append_rows(s, rows, idx, n, message_rows(s, rows, chunk_rows),
			 err);
	rc = end_run(s, start, rc, err);
	if (rc == 0)
		s->written++;
	return rc;
}

/* A run being merged: the rows of its current message, and where the
 * next message starts. */
typedef struct cursor {
	pl_sort_run rest; /* bytes not read yet */
	pl_batch *b;
	size_t row; /* next row of b */
} cursor;

typedef struct merger {
	pl_sort_spill *s;
	const pl_sort_merge_spec *spec;
	cursor *cur;	/* the runs, in input order */
	uint32_t *heap; /* runs with rows left, the smallest row first */
	size_t nheap;
	pl_bytes msg;	/* one message read, shared by the runs */
	pl_batch *out;	/* merged rows not sent yet */
	pl_batch *last; /* the last row sent, for limits per group */
	size_t chunk;	/* rows per batch sent */
	size_t kept, in_group;
	int (*sink)(void *arg, pl_batch *b, pl_error *err);
	void *arg;
} merger;

static int truncated(const pl_sort_spill *s, pl_error *err)
{
	return pl_error_set(err, PL_ERR_DATA, "%s: truncated spill file",
			    s->dir);
}

static int read_at(const pl_sort_spill *s, uint8_t *buf, size_t n, uint64_t at,
		   pl_error *err)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = pread(s->fd, buf + got, n - got, (off_t)(at + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return pl_error_set(err, PL_ERR_IO,
					    "%s: cannot read a spill file: %s",
					    s->dir, strerror(errno));
		if (r == 0)
			return truncated(s, err);
		got += (size_t)r;
	}
	return 0;
}

/* Reads the message at the start of c's rest into m->msg. */
static int read_message(merger *m, cursor *c, pl_error *err)
{
	pl_sort_spill *s = m->s;
	uint64_t left = c->rest.end - c->rest.start;
	size_t size, hdr = PL_CODEC_HEADER_SIZE;
	m->msg.len = 0;
	if (left < hdr)
		return truncated(s, err);
	int rc = pl_bytes_reserve(&m->msg, hdr, s->pool, err);
	if (rc == 0)
		rc = read_at(s, m->msg.data, hdr, c->rest.start, err);
	if (rc == 0)
		rc = pl_codec_message_size(
		    m->msg.data, left > SIZE_MAX ? SIZE_MAX : (size_t)left,
		    &size, NULL, err);
	if (rc == 0)
		rc = pl_bytes_reserve(&m->msg, size, s->pool, err);
	if (rc == 0)
		rc = read_at(s, m->msg.data + hdr, size - hdr,
			     c->rest.start + hdr, err);
	if (rc == 0)
		m->msg.len = size;
	return rc;
}

/* Replaces c's rows with those of its run's next message; none are left
 * at the run's end. */
static int load(merger *m, cursor *c, pl_error *err)
{
	pl_batch_clear(c->b);
	c->row = 0;
	while (c->b->nrows == 0 && c->rest.start < c->rest.end) {
		size_t used;
		int rc = read_message(m, c, err);
		if (rc == 0)
			rc = pl_codec_decode(m->s->codec, m->msg.data,
					     m->msg.len, c->b, &used, err);
		if (rc != 0)
			return rc;
		pl_batch_sync_rows(c->b);
		c->rest.start += used;
	}
	return 0;
}

/* Whether run a's current row goes before run b's: equal rows go in run
 * order, which is input order. */
static bool before(const merger *m, uint32_t a, uint32_t b)
{
	const cursor *x = &m->cur[a], *y = &m->cur[b];
	int r =
	    pl_row_order_compare_across(x->b->cols, x->row, y->b->cols, y->row,
					m->spec->keys, m->spec->nkeys);
	return r < 0 || (r == 0 && a < b);
}

static void sift_down(merger *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		if (l < m->nheap && before(m, m->heap[l], m->heap[min]))
			min = l;
		if (r < m->nheap && before(m, m->heap[r], m->heap[min]))
			min = r;
		if (min == i)
			return;
		uint32_t t = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = t;
		i = min;
	}
}

static bool grouped(const merger *m)
{
	return m->spec->limit != SIZE_MAX && m->spec->ngroup > 0;
}

/* Sets up the merge of runs[0..n): their first messages and the heap. */
static int merger_open(merger *m, const pl_sort_run *runs, size_t n,
		       const pl_row_store *like, pl_error *err)
{
	pl_pool *pool = m->s->pool;
	m->cur = pl_pool_calloc(pool, n ? n : 1, sizeof(*m->cur));
	m->heap = pl_pool_alloc(pool, (n ? n : 1) * sizeof(*m->heap));
	if (m->cur == NULL || m->heap == NULL)
		return pl_error_nomem(err, "a sort merge");
	m->out = pl_row_store_new_batch(like, m->chunk, pool, err);
	if (m->out == NULL)
		return PL_ERR_NOMEM;
	if (grouped(m) &&
	    (m->last = pl_row_store_new_batch(like, 1, pool, err)) == NULL)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		cursor *c = &m->cur[i];
		c->rest = runs[i];
		c->b = pl_row_store_new_batch(like, 0, pool, err);
		int rc = c->b ? load(m, c, err) : PL_ERR_NOMEM;
		if (rc != 0)
			return rc;
		if (c->b->nrows > 0)
			m->heap[m->nheap++] = (uint32_t)i;
	}
	for (size_t i = m->nheap / 2; i-- > 0;)
		sift_down(m, i);
	return 0;
}

static void merger_close(merger *m, size_t n)
{
	pl_pool *pool = m->s->pool;
	for (size_t i = 0; m->cur != NULL && i < n; i++)
		pl_batch_free(m->cur[i].b, pool);
	pl_pool_free(pool, m->cur);
	pl_pool_free(pool, m->heap);
	pl_bytes_free(&m->msg, pool);
	pl_batch_free(m->out, pool);
	pl_batch_free(m->last, pool);
}

/* Whether the row at c is kept: with a limit, it must be among the first
 * limit rows, of its group when grouped. A row not kept is in the group
 * of the last row kept, so that row is the one to compare with. */
static bool keep_row(merger *m, const cursor *c)
{
	const pl_sort_merge_spec *sp = m->spec;
	if (sp->limit == SIZE_MAX || sp->ngroup == 0)
		return true;
	const pl_batch *p = m->out->nrows > 0 ? m->out : m->last;
	if (p->nrows == 0 ||
	    pl_row_order_compare_across(p->cols, p->nrows - 1, c->b->cols,
					c->row, sp->keys, sp->ngroup) != 0)
		m->in_group = 0;
	return m->in_group++ < sp->limit;
}

static int push_row(merger *m, const cursor *c, pl_error *err)
{
	pl_batch *o = m->out;
	for (size_t j = 0; j < o->ncols; j++) {
		int rc = pl_column_push_from(&o->cols[j], &c->b->cols[j],
					     c->row, m->s->pool, err);
		if (rc != 0)
			return rc;
	}
	o->nrows++;
	m->kept++;
	return 0;
}

/* Sends the merged rows on, keeping a copy of the last when grouped. */
static int send(merger *m, pl_error *err)
{
	pl_batch *o = m->out;
	if (o->nrows == 0)
		return 0;
	int rc = m->sink(m->arg, o, err);
	if (rc == 0 && grouped(m)) {
		pl_batch_clear(m->last);
		for (size_t j = 0; j < o->ncols && rc == 0; j++)
			rc = pl_column_append_range(&m->last->cols[j],
						    &o->cols[j], o->nrows - 1,
						    1, m->s->pool, err);
		m->last->nrows = 1;
	}
	pl_batch_clear(o);
	return rc;
}

/* Whether the rows to come can all be skipped: an overall limit met. */
static bool done(const merger *m)
{
	return m->spec->ngroup == 0 && m->kept >= m->spec->limit;
}

static int merge_rows(merger *m, pl_error *err)
{
	int rc = 0;
	while (rc == 0 && m->nheap > 0 && !done(m)) {
		cursor *c = &m->cur[m->heap[0]];
		if (keep_row(m, c)) {
			rc = push_row(m, c, err);
			if (rc == 0 && m->out->nrows >= m->chunk)
				rc = send(m, err);
		}
		if (rc == 0 && ++c->row == c->b->nrows)
			rc = load(m, c, err);
		if (rc != 0)
			break;
		if (c->b->nrows == 0)
			m->heap[0] = m->heap[--m->nheap];
		sift_down(m, 0);
	}
	return rc == 0 ? send(m, err) : rc;
}

/* Merges runs[0..n) into batches of chunk rows handed to sink. */
static int merge_runs(pl_sort_spill *s, const pl_sort_run *runs, size_t n,
		      const pl_sort_merge_spec *spec, const pl_row_store *like,
		      size_t chunk, int (*sink)(void *, pl_batch *, pl_error *),
		      void *arg, pl_error *err)
{
	merger m = {.s = s,
		    .spec = spec,
		    .chunk = chunk ? chunk : 1,
		    .sink = sink,
		    .arg = arg};
	int rc = merger_open(&m, runs, n, like, err);
	if (rc == 0)
		rc = merge_rows(&m, err);
	merger_close(&m, n);
	return rc;
}

/* The sink of a merge into a longer run: the run being written. */
static int write_rows(void *arg, pl_batch *b, pl_error *err)
{
	pl_sort_spill *s = arg;
	return append_rows(s, b, NULL, b->nrows, message_rows(s, b, b->nrows),
			   err);
}

static int emit_rows(void *arg, pl_batch *b, pl_error *err)
{
	return pl_emit(arg, b, err);
}

/* Merges each MERGE_FANIN runs into one, in order. Each new run takes
 * the place of the first of its group, which has been read by then. */
static int merge_pass(pl_sort_spill *s, const pl_sort_merge_spec *spec,
		      const pl_row_store *like, size_t chunk, pl_error *err)
{
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < s->nruns; i += MERGE_FANIN) {
		size_t k =
		    s->nruns - i < MERGE_FANIN ? s->nruns - i : MERGE_FANIN;
		if (k == 1) {
			s->runs[n++] = s->runs[i];
			continue;
		}
		uint64_t start = s->end;
		rc = merge_runs(s, s->runs + i, k, spec, like, chunk,
				write_rows, s, err);
		if (rc == 0 && s->wbuf.len > 0)
			rc = flush(s, err);
		if (rc == 0)
			s->runs[n++] = (pl_sort_run){start, s->end};
	}
	if (rc == 0)
		s->nruns = n;
	else
		s->wbuf.len = 0;
	return rc;
}

int pl_sort_spill_merge(pl_sort_spill *s, const pl_sort_merge_spec *spec,
			const pl_row_store *like, size_t chunk_rows,
			const pl_emitter *out, pl_error *err)
{
	int rc = 0;
	while (rc == 0 && s->nruns > MERGE_FANIN)
		rc = merge_pass(s, spec, like, chunk_rows, err);
	if (rc == 0)
		rc = merge_runs(s, s->runs, s->nruns, spec, like, chunk_rows,
				emit_rows, (void *)out, err);
	return rc;
}

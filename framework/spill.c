#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/batch_codec.h"
#include "framework/exchange.h"
#include "framework/spill.h"

#define SPILL_PARTS 16
#define SPILL_FLUSH ((size_t)1 << 20)
#define SPILL_ZSTD_LEVEL 1

struct pl_spill {
	pl_operator *op;
	const pl_schema *in;
	pl_pool *pool;
	char dir[4096];
	int fds[SPILL_PARTS]; /* -1 until the partition's first spill */
	pl_bytes buf[SPILL_PARTS];
	pl_codec *codec;
	size_t *keys;
	uint32_t *idx; /* rows of a batch, grouped by partition */
	uint8_t *part; /* each row's partition */
	size_t idx_cap;
	size_t after_last; /* pool bytes out after the last spill */
	uint64_t bytes;
	int spilled;
};

int pl_spill_possible(const pl_operator *op)
{
	return op->def->partial && op->def->merge && op->partition_keys > 0;
}

int pl_spill_create(pl_operator *op, const pl_schema *in, const char *dir,
		    pl_spill **out, pl_error *err)
{
	pl_spill *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return pl_error_nomem(err, "a spill manager");
	s->op = op;
	s->in = in;
	s->pool = op->env->pool;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	for (int p = 0; p < SPILL_PARTS; p++)
		s->fds[p] = -1;
	s->keys = malloc(op->partition_keys * sizeof(*s->keys));
	if (s->keys == NULL) {
		free(s);
		return pl_error_nomem(err, "a spill manager");
	}
	for (size_t k = 0; k < op->partition_keys; k++)
		s->keys[k] = k;
	*out = s;
	return 0;
}

void pl_spill_destroy(pl_spill *s)
{
	if (s == NULL)
		return;
	for (int p = 0; p < SPILL_PARTS; p++) {
		if (s->fds[p] >= 0)
			close(s->fds[p]);
		pl_bytes_free(&s->buf[p], s->pool);
	}
	pl_codec_destroy(s->codec);
	free(s->keys);
	free(s->idx);
	free(s->part);
	free(s);
}

int pl_spill_active(const pl_spill *s) { return s != NULL && s->spilled; }

uint64_t pl_spill_bytes(const pl_spill *s) { return s ? s->bytes : 0; }

/* A partition file, created and at once unlinked, so that it vanishes
 * with its descriptor however the process ends. */
static int open_part(pl_spill *s, int p, pl_error *err)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/.pipeline-spill-XXXXXX", s->dir);
	s->fds[p] = mkstemp(path);
	if (s->fds[p] < 0)
		return pl_error_set(err, PL_ERR_IO,
				    "%s: cannot create a spill file: %s",
				    s->dir, strerror(errno));
	unlink(path);
	return 0;
}

static int flush_part(pl_spill *s, int p, pl_error *err)
{
	pl_bytes *b = &s->buf[p];
	if (b->len == 0)
		return 0;
	if (s->fds[p] < 0 && open_part(s, p, err) != 0)
		return PL_ERR_IO;
	for (size_t done = 0; done < b->len;) {
		ssize_t n = write(s->fds[p], b->data + done, b->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pl_error_set(err, PL_ERR_IO,
					    "%s: cannot write a spill file: "
					    "%s",
					    s->dir, strerror(errno));
		done += (size_t)n;
	}
	s->bytes += b->len;
	b->len = 0;
	return 0;
}

static int group_rows(pl_spill *s, const pl_batch *b, size_t *start,
		      pl_error *err)
{
	if (b->nrows > s->idx_cap) {
		uint32_t *idx = realloc(s->idx, b->nrows * sizeof(*idx));
		uint8_t *part = idx ? realloc(s->part, b->nrows) : NULL;
		if (idx)
			s->idx = idx;
		if (part == NULL)
			return pl_error_nomem(err, "a spill");
		s->part = part;
		s->idx_cap = b->nrows;
	}
	size_t count[SPILL_PARTS] = {0};
	for (size_t r = 0; r < b->nrows; r++) {
		/* The low half of the hash: ranks take the high half. */
		uint64_t h = pl_row_hash(b, s->keys, s->op->partition_keys, r);
		s->part[r] = (uint8_t)(((h & 0xffffffffu) * SPILL_PARTS) >> 32);
		count[s->part[r]]++;
	}
	start[0] = 0;
	for (int p = 0; p < SPILL_PARTS; p++)
		start[p + 1] = start[p] + count[p];
	size_t at[SPILL_PARTS];
	memcpy(at, start, sizeof(at));
	for (size_t r = 0; r < b->nrows; r++)
		s->idx[at[s->part[r]]++] = (uint32_t)r;
	return 0;
}

static int spill_rows(void *arg, pl_batch *b, pl_error *err)
{
	pl_spill *s = arg;
	size_t start[SPILL_PARTS + 1];
	int rc = group_rows(s, b, start, err);
	for (int p = 0; rc == 0 && p < SPILL_PARTS; p++) {
		size_t n = start[p + 1] - start[p];
		if (n == 0)
			continue;
		rc = pl_codec_encode(s->codec, b, s->idx, start[p], n,
				     &s->buf[p], err);
		if (rc == 0 && s->buf[p].len >= SPILL_FLUSH)
			rc = flush_part(s, p, err);
	}
	return rc;
}

/* Destroys op's state and initialises it afresh. */
static int reset_op(pl_operator *op, const pl_schema *in, pl_error *err)
{
	op->def->destroy(op);
	op->state = NULL;
	pl_schema_free(&op->partial_schema);
	pl_schema out;
	pl_schema_init(&out);
	int rc = op->def->init(op, op->section, in, &out, err);
	pl_schema_free(&out);
	return rc;
}

static int spill_state(pl_spill *s, pl_error *err)
{
	if (s->codec == NULL &&
	    (s->codec = pl_codec_create(s->pool, SPILL_ZSTD_LEVEL, err)) == NULL)
		return PL_ERR_NOMEM;
	pl_emitter e = {spill_rows, s};
	int rc = s->op->def->partial(s->op, &e, err);
	for (int p = 0; rc == 0 && p < SPILL_PARTS; p++)
		rc = flush_part(s, p, err);
	if (rc == 0)
		rc = reset_op(s->op, s->in, err);
	s->spilled = 1;
	s->after_last = pl_pool_get_stats(s->pool).bytes_out;
	return rc;
}

int pl_spill_check(pl_spill *s, pl_error *err)
{
	size_t limit = s->op->env->memory_budget / 2;
	size_t out = pl_pool_get_stats(s->pool).bytes_out;
	/* Spill when over the limit and the operator has grown since the
	 * last spill, so that memory held elsewhere cannot make it thrash. */
	if (out <= limit || out <= s->after_last + limit / 4)
		return 0;
	return spill_state(s, err);
}

static int read_full(int fd, uint8_t *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, buf + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* Reads the next message of partition p into msg; *end at the file's end. */
static int next_message(pl_spill *s, int p, pl_bytes *msg, int *end,
			pl_error *err)
{
	size_t got, size;
	msg->len = 0;
	int rc = pl_bytes_reserve(msg, PL_CODEC_HEADER_SIZE, s->pool, err);
	if (rc != 0)
		return rc;
	if (read_full(s->fds[p], msg->data, PL_CODEC_HEADER_SIZE, &got) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: cannot read a spill "
						    "file: %s",
				    s->dir, strerror(errno));
	*end = got == 0;
	if (*end)
		return 0;
	if (got < PL_CODEC_HEADER_SIZE)
		return pl_error_set(err, PL_ERR_DATA, "%s: truncated spill file",
				    s->dir);
	msg->len = got;
	rc = pl_codec_message_size(msg->data, SIZE_MAX, &size, err);
	if (rc == 0)
		rc = pl_bytes_reserve(msg, size - got, s->pool, err);
	if (rc != 0)
		return rc;
	size_t rest;
	if (read_full(s->fds[p], msg->data + got, size - got, &rest) != 0 ||
	    rest != size - got)
		return pl_error_set(err, PL_ERR_DATA, "%s: truncated spill file",
				    s->dir);
	msg->len = size;
	return 0;
}

/* Hands every batch spilled to partition p, in the order written, to fn. */
static int replay(pl_spill *s, int p, int (*fn)(void *, pl_batch *, pl_error *),
		  void *arg, pl_error *err)
{
	if (s->fds[p] < 0)
		return 0;
	if (lseek(s->fds[p], 0, SEEK_SET) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: spill file: %s", s->dir,
				    strerror(errno));
	pl_bytes msg = {0};
	int rc = 0, end = 0;
	while (rc == 0) {
		rc = next_message(s, p, &msg, &end, err);
		if (rc != 0 || end)
			break;
		pl_batch *b = pl_batch_new(&s->op->partial_schema, 1, s->pool,
					   err);
		size_t used;
		rc = b ? pl_codec_decode(s->codec, msg.data, msg.len, b, &used,
					 err)
		       : PL_ERR_NOMEM;
		if (rc == 0) {
			pl_batch_sync_rows(b);
			rc = fn(arg, b, err);
		}
		pl_batch_free(b, s->pool);
	}
	pl_bytes_free(&msg, s->pool);
	return rc;
}

static int merge_into(void *arg, pl_batch *b, pl_error *err)
{
	pl_operator *m = arg;
	return m->def->merge(m, b, err);
}

static int emit_to(void *arg, pl_batch *b, pl_error *err)
{
	return pl_emit(arg, b, err);
}

/* Merges partition p into a fresh instance and finishes it into out. */
static int finish_part(pl_spill *s, int p, const pl_emitter *out,
		       pl_error *err)
{
	pl_operator m = *s->op;
	m.state = NULL;
	pl_schema_init(&m.partial_schema);
	pl_schema schema;
	pl_schema_init(&schema);
	int rc = m.def->init(&m, m.section, s->in, &schema, err);
	if (rc == 0)
		rc = replay(s, p, merge_into, &m, err);
	if (rc == 0 && m.def->finish) {
		rc = m.def->finish(&m, out, err);
		rc = rc == PL_STOP ? 0 : rc;
	}
	m.def->destroy(&m);
	pl_schema_free(&m.partial_schema);
	pl_schema_free(&schema);
	return rc;
}

int pl_spill_finish(pl_spill *s, const pl_emitter *out, pl_error *err)
{
	int rc = spill_state(s, err);
	for (int p = 0; rc == 0 && p < SPILL_PARTS; p++)
		rc = finish_part(s, p, out, err);
	return rc;
}

int pl_spill_partial(pl_spill *s, const pl_emitter *out, pl_error *err)
{
	int rc = 0;
	for (int p = 0; rc == 0 && p < SPILL_PARTS; p++)
		rc = replay(s, p, emit_to, (void *)out, err);
	return rc ? rc : s->op->def->partial(s->op, out, err);
}

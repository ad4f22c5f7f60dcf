#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/batch_codec.h"
#include "framework/exchange.h"
#include "framework/run_file.h"
#include "framework/spill.h"

#define SPILL_PARTS 16
#define SPILL_ZSTD_LEVEL 1
/* A partition too big to merge within the budget is split again by the
 * next 4 bits of the key hash's low half (the high half picks ranks). */
#define SPILL_MAX_LEVEL 7

struct pl_spill {
	pl_operator *op;
	const pl_schema *in;
	pl_pool *pool;
	char dir[4096];
	pl_run_file *parts[SPILL_PARTS]; /* NULL until the first spill */
	pl_codec *codec;
	size_t *keys;
	uint32_t *idx; /* rows of a batch, grouped by partition */
	uint8_t *part; /* each row's partition */
	size_t idx_cap;
	size_t after_last; /* pool bytes out after the last spill */
	int spilled;
	int level; /* 0, or how many times the keys were split before */
	uint64_t nested_bytes; /* written by partitions split again */
	int depth;	       /* levels split below this one */
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
	s->keys = malloc(op->partition_keys * sizeof(*s->keys));
	if (s->keys == NULL) {
		free(s);
		return pl_error_nomem(err, "a spill manager");
	}
	for (size_t k = 0; k < op->partition_keys; k++)
		s->keys[k] = k;
	/* What the pool holds already is not this operator's to spill. */
	s->after_last = pl_pool_get_stats(s->pool).bytes_out;
	*out = s;
	return 0;
}

void pl_spill_destroy(pl_spill *s)
{
	if (s == NULL)
		return;
	for (int p = 0; p < SPILL_PARTS; p++)
		pl_run_file_destroy(s->parts[p]);
	pl_codec_destroy(s->codec);
	free(s->keys);
	free(s->idx);
	free(s->part);
	free(s);
}

int pl_spill_depth(const pl_spill *s)
{
	return s != NULL ? s->depth : 0;
}

int pl_spill_active(const pl_spill *s)
{
	return s != NULL && s->spilled;
}

uint64_t pl_spill_bytes(const pl_spill *s)
{
	uint64_t n = s != NULL ? s->nested_bytes : 0;
	for (int p = 0; s != NULL && p < SPILL_PARTS; p++)
		n += s->parts[p] ? pl_run_file_bytes(s->parts[p]) : 0;
	return n;
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
		/* The low half of the hash: ranks take the high half. Each
		 * level of splitting takes the next 4 bits down. */
		uint64_t h = pl_row_hash(b, s->keys, s->op->partition_keys, r);
		uint32_t low = (uint32_t)h << (4 * s->level);
		s->part[r] = (uint8_t)(low >> 28);
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
		if (s->parts[p] == NULL)
			rc = pl_run_file_create(s->dir, s->codec, s->pool,
						&s->parts[p], err);
		if (rc == 0)
			rc = pl_run_file_append(s->parts[p], b, s->idx,
						start[p], n, err);
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
	if (s->codec == NULL && (s->codec = pl_codec_create(
				     s->pool, SPILL_ZSTD_LEVEL, err)) == NULL)
		return PL_ERR_NOMEM;
	pl_emitter e = {spill_rows, s};
	int rc = s->op->def->partial(s->op, &e, err);
	for (int p = 0; rc == 0 && p < SPILL_PARTS; p++)
		rc = s->parts[p] ? pl_run_file_flush(s->parts[p], err) : 0;
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

/* Hands every batch spilled to partition p, in the order written, to fn. */
static int replay(pl_spill *s, int p, int (*fn)(void *, pl_batch *, pl_error *),
		  void *arg, pl_error *err)
{
	if (s->parts[p] == NULL)
		return 0;
	return pl_run_file_replay(s->parts[p], &s->op->partial_schema, fn, arg,
				  err);
}

static int emit_to(void *arg, pl_batch *b, pl_error *err)
{
	return pl_emit(arg, b, err);
}

typedef struct part_merge {
	pl_operator *m;
	pl_spill *child; /* splits m again when it outgrows the budget */
} part_merge;

static int merge_checked(void *arg, pl_batch *b, pl_error *err)
{
	part_merge *pm = arg;
	if (pl_should_stop(pm->m->env))
		return pl_error_set(err, PL_ERR_IO, "interrupted");
	int rc = pm->m->def->merge(pm->m, b, err);
	return rc == 0 && pm->child ? pl_spill_check(pm->child, err) : rc;
}

/* Merges partition p into a fresh instance and finishes it into out. A
 * partition that passes the budget while merging (more distinct keys
 * than 16 partitions spread thin enough) is split again, recursively. */
static int finish_part(pl_spill *s, int p, const pl_emitter *out, pl_error *err)
{
	pl_operator m = *s->op;
	m.state = NULL;
	pl_schema_init(&m.partial_schema);
	pl_schema schema;
	pl_schema_init(&schema);
	part_merge pm = {&m, NULL};
	int rc = m.def->init(&m, m.section, s->in, &schema, err);
	if (rc == 0 && s->parts[p] != NULL && s->level < SPILL_MAX_LEVEL &&
	    (rc = pl_spill_create(&m, s->in, s->dir, &pm.child, err)) == 0)
		pm.child->level = s->level + 1;
	if (rc == 0)
		rc = replay(s, p, merge_checked, &pm, err);
	if (rc == 0 && pl_spill_active(pm.child)) {
		rc = pl_spill_finish(pm.child, out, err);
	} else if (rc == 0 && m.def->finish) {
		rc = m.def->finish(&m, out, err);
		rc = rc == PL_STOP ? 0 : rc;
	}
	if (pl_spill_active(pm.child)) {
		s->nested_bytes += pl_spill_bytes(pm.child);
		if (pm.child->depth + 1 > s->depth)
			s->depth = pm.child->depth + 1;
	}
	pl_spill_destroy(pm.child);
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

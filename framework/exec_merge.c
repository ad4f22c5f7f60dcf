/* Merge points across ranks (see exec.c): the partial state of an
 * operator's local instances goes to the ranks that own it and is merged
 * into a second instance there.
 *
 * By key (partition_keys > 0): rows are shuffled by the hash of their
 * keys. Each row carries its sender's rank in an extra column, and the
 * receiver merges what came from rank 0 first, then rank 1, ..., so that
 * an operator that cares about input order (first/last) sees it.
 * By key ranges (split PL_SPLIT_RANGE): see exec_range.c.
 * Without keys: all state goes to rank 0 in rank order, and only rank 0's
 * instance finishes. */
#include <stdlib.h>

#include "framework/exec_internal.h"

#define ROUND_BYTES PL_SHUFFLE_ROUND_BYTES
/* Received rows held or spooled short of memory: size matters more than
 * speed there. */
#define ZSTD_LEVEL 1

int pl_exec_new_instance(pl_exec *x, size_t i, pl_error *err)
{
	const pl_operator *local = &x->p->ops[i];
	pl_operator *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return pl_error_nomem(err, "an operator");
	m->def = local->def;
	m->env = local->env;
	m->section = local->section;
	pl_schema_init(&m->partial_schema);
	x->merged[i] = m;
	pl_schema out;
	pl_schema_init(&out);
	int rc = m->def->init(m, m->section, &x->p->schemas[i], &out, err);
	pl_schema_free(&out);
	return rc;
}

void pl_exec_free_merged(pl_exec *x, size_t i)
{
	pl_operator *m = x->merged[i];
	if (m == NULL)
		return;
	pl_exec_add_spill(x, i, m->spilled_bytes);
	m->def->destroy(m);
	pl_schema_free(&m->partial_schema);
	free(m);
	x->merged[i] = NULL;
}

static int append_rows(pl_batch *dst, const pl_batch *b, const uint32_t *idx,
		       size_t n, size_t ncols, pl_pool *pool, pl_error *err)
{
	for (size_t c = 0; c < ncols; c++) {
		int rc = idx ? pl_column_append_take(&dst->cols[c], &b->cols[c],
						     idx, n, pool, err)
			     : pl_column_append_range(
				   &dst->cols[c], &b->cols[c], 0, n, pool, err);
		if (rc != 0)
			return rc;
	}
	dst->nrows += n;
	return 0;
}

typedef struct collector {
	pl_batch *acc;
	pl_pool *pool;
} collector;

static int collect_rows(void *arg, pl_batch *b, pl_error *err)
{
	collector *c = arg;
	return append_rows(c->acc, b, NULL, b->nrows, b->ncols, c->pool, err);
}

void pl_exec_count_stats(pl_exec *x, const pl_exchange *ex)
{
	pl_exchange_stats s = pl_exchange_get_stats(ex);
	x->bytes_raw += s.bytes_raw;
	x->bytes_sent += s.bytes_sent;
}

/* All partial state to rank 0, in rank order. */
static int merge_at_root(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *local = &x->p->ops[i];
	pl_pool *pool = x->p->env.pool;
	pl_batch *mine = pl_batch_new(&local->partial_schema, 1, pool, err);
	pl_batch *all = NULL;
	int rc = mine ? 0 : PL_ERR_NOMEM;
	if (rc == 0) {
		collector c = {mine, pool};
		pl_emitter e = {collect_rows, &c};
		rc = pl_exec_partial(x, i, &e, err);
	}
	if (rc == 0 && x->rank == 0) {
		all = pl_batch_new(&local->partial_schema, 1, pool, err);
		rc = all ? 0 : PL_ERR_NOMEM;
	}
	rc = pl_mpi_agree(x->comm, rc, err);
	pl_exchange_opts opts = {.round_bytes = ROUND_BYTES,
				 .zstd_level = pl_exec_shuffle_level(x)};
	pl_exchange *ex =
	    rc ? NULL
	       : pl_exchange_create(x->comm, &local->partial_schema, &opts,
				    pool, err);
	if (ex != NULL) {
		rc = pl_exchange_gather_to_root(ex, mine, all, err);
		pl_exec_count_stats(x, ex);
		pl_exchange_destroy(ex);
	} else if (rc == 0) {
		rc = PL_ERR_NOMEM;
	}
	if (rc == 0 && x->rank == 0) {
		pl_batch_sync_rows(all);
		rc = pl_exec_new_instance(x, i, err);
		pl_operator *m = x->merged[i];
		if (rc == 0 && all->nrows > 0)
			rc = m->def->merge(m, all, err);
		if (rc == 0 && m->def->finish)
			rc = m->def->finish(m, &x->emitters[i + 1], err);
	}
	pl_batch_free(mine, pool);
	pl_batch_free(all, pool);
	return rc < 0 ? rc : 0;
}

size_t pl_shuffle_round_bytes(const pl_exec *x)
{
	size_t b = x->p->env.memory_budget / 16 / (size_t)x->nranks;
	size_t lo = (size_t)64 << 10, hi = ROUND_BYTES;
	return b < lo ? lo : b > hi ? hi : b;
}

/* Receives a round's rows and files them by sending rank. */
int pl_shuffle_receive(void *arg, pl_batch *rows, pl_error *err)
{
	pl_shuffle *sh = arg;
	const int64_t *src = pl_col_i64(&rows->cols[rows->ncols - 1]);
	/* The run files keep the partial columns only: they are filed by
	 * sender already, and the extra columns would take 16 bytes a row of
	 * the memory that holds them. */
	pl_batch part = *rows;
	part.ncols -= sh->extra;
	/* Rows arrive grouped by sender: each sender's are one range. */
	for (size_t r = 0; r < rows->nrows;) {
		size_t from = r;
		int64_t s = src[r];
		while (r < rows->nrows && src[r] == s)
			r++;
		if (s < 0 || s >= sh->x->nranks)
			return pl_error_set(err, PL_ERR_INTERNAL,
					    "shuffle: bad sender %lld",
					    (long long)s);
		int rc = pl_run_file_append(sh->from[s], &part, NULL, from,
					    r - from, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int pl_shuffle_push(pl_shuffle *sh, const pl_batch *b, const pl_column *dest,
		    pl_error *err)
{
	pl_pool *pool = sh->x->p->env.pool;
	if (b->nrows == 0)
		return 0;
	if (sh->src.len < b->nrows) {
		size_t have = sh->src.len;
		int rc = pl_column_reserve(&sh->src, b->nrows, pool, err);
		if (rc != 0)
			return rc;
		for (size_t r = have; r < b->nrows; r++)
			pl_col_i64(&sh->src)[r] = sh->x->rank;
		sh->src.len = b->nrows;
	}
	for (size_t c = 0; c < b->ncols; c++)
		sh->cols[c] = b->cols[c];
	size_t n = b->ncols;
	if (dest != NULL)
		sh->cols[n++] = *dest;
	sh->cols[n] = sh->src;
	sh->cols[n].len = b->nrows;
	pl_batch view = {b->nrows, n + 1, sh->cols, NULL, NULL};
	return pl_exchange_push(sh->ex, &view, pl_shuffle_receive, sh, err);
}

static int send_rows(void *arg, pl_batch *b, pl_error *err)
{
	return pl_shuffle_push(arg, b, NULL, err);
}

/* Rows received are kept in memory up to a quarter of what the budget
 * has left when the shuffle starts (the merging instance needs the
 * rest); only past that are they spooled to disk. With that much room
 * they are not compressed either: compressing rows that stay in memory
 * only costs CPU. */
#define HOLD_PLAIN ((size_t)64 << 20)

static size_t shuffle_hold(const pl_exec *x)
{
	size_t budget = x->p->env.memory_budget;
	size_t out = pl_pool_get_stats(x->p->env.pool).bytes_out;
	return budget > out ? (budget - out) / 4 : 0;
}

int pl_shuffle_init(pl_shuffle *sh, const pl_operator *local,
		    const char *const *extra, size_t nextra, pl_schema *wire,
		    pl_error *err)
{
	pl_pool *pool = sh->x->p->env.pool;
	sh->extra = nextra;
	sh->op = (size_t)(local - sh->x->p->ops);
	int rc = pl_schema_copy(wire, &local->partial_schema, err);
	for (size_t e = 0; rc == 0 && e < nextra; e++)
		rc = pl_schema_add(wire, extra[e], PL_INT64, err);
	if (rc == 0)
		rc = pl_column_init(&sh->src, PL_INT64, 1, 0, pool, err);
	sh->cols = calloc(wire->n + 1, sizeof(*sh->cols));
	sh->from = calloc((size_t)sh->x->nranks, sizeof(*sh->from));
	if (rc == 0 && (sh->cols == NULL || sh->from == NULL))
		rc = pl_error_nomem(err, "a shuffle");
	sh->hold = shuffle_hold(sh->x);
	int level = sh->hold >= HOLD_PLAIN ? 0 : ZSTD_LEVEL;
	if (rc == 0 && (sh->codec = pl_codec_create(pool, level, err)) == NULL)
		rc = PL_ERR_NOMEM;
	for (int r = 0; rc == 0 && r < sh->x->nranks; r++) {
		rc = pl_run_file_create(sh->x->p->spill_dir, sh->codec, pool,
					&sh->from[r], err);
		if (rc == 0)
			pl_run_file_hold(sh->from[r], &sh->hold);
	}
	return rc;
}

void pl_shuffle_free(pl_shuffle *sh)
{
	pl_pool *pool = sh->x->p->env.pool;
	for (int r = 0; sh->from && r < sh->x->nranks; r++) {
		if (sh->from[r])
			pl_exec_add_spill(sh->x, sh->op,
					  pl_run_file_bytes(sh->from[r]));
		pl_run_file_destroy(sh->from[r]);
	}
	free(sh->from);
	pl_codec_destroy(sh->codec);
	free(sh->cols);
	pl_column_free(&sh->src, pool);
}

int pl_exec_reset_local(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *op = &x->p->ops[i];
	pl_exec_add_spill(x, i, op->spilled_bytes);
	op->spilled_bytes = 0;
	op->def->destroy(op);
	op->state = NULL;
	pl_schema_free(&op->partial_schema);
	pl_schema out;
	pl_schema_init(&out);
	int rc = op->def->init(op, op->section, &x->p->schemas[i], &out, err);
	pl_schema_free(&out);
	return rc;
}

typedef struct receiver {
	pl_operator *m;
	pl_spill *spill;
	size_t ncols; /* the partial columns */
} receiver;

static int merge_one(void *arg, pl_batch *b, pl_error *err)
{
	receiver *rv = arg;
	pl_batch view = *b;
	view.ncols = rv->ncols;
	int rc = rv->m->def->merge(rv->m, &view, err);
	if (rc == 0 && rv->spill)
		rc = pl_spill_check(rv->spill, err);
	return rc;
}

int pl_shuffle_merge_received(pl_shuffle *sh, size_t i,
			      const pl_schema *partial, pl_error *err)
{
	pl_exec *x = sh->x;
	int rc = pl_exec_new_instance(x, i, err);
	receiver rv = {x->merged[i], NULL, partial->n};
	if (rc == 0 && pl_spill_possible(rv.m))
		rc = pl_spill_create(rv.m, &x->p->schemas[i], x->p->spill_dir,
				     &rv.spill, err);
	for (int r = 0; rc == 0 && r < x->nranks; r++)
		rc = pl_run_file_replay(sh->from[r], partial, merge_one, &rv,
					err);
	if (rc == 0 && pl_spill_active(rv.spill))
		rc = pl_spill_finish(rv.spill, &x->emitters[i + 1], err);
	else if (rc == 0 && rv.m->def->finish)
		rc = rv.m->def->finish(rv.m, &x->emitters[i + 1], err);
	pl_exec_add_spill(x, i, pl_spill_bytes(rv.spill));
	if (pl_spill_depth(rv.spill) > x->spill_depth)
		x->spill_depth = pl_spill_depth(rv.spill);
	pl_spill_destroy(rv.spill);
	return rc;
}

/* Partial state shuffled by key; every rank merges and finishes its
 * share. */
static int merge_by_key(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *local = &x->p->ops[i];
	pl_shuffle sh = {0};
	sh.x = x;
	pl_schema wire;
	pl_schema_init(&wire);
	static const char *const extra[] = {"__src"};
	int rc = pl_shuffle_init(&sh, local, extra, 1, &wire, err);
	size_t *keys = malloc(local->partition_keys * sizeof(*keys));
	if (rc == 0 && keys == NULL)
		rc = pl_error_nomem(err, "a shuffle");
	for (size_t k = 0; rc == 0 && k < local->partition_keys; k++)
		keys[k] = k;
	rc = pl_mpi_agree(x->comm, rc, err);
	pl_exchange_opts opts = {.keys = keys,
				 .nkeys = local->partition_keys,
				 .round_bytes = pl_shuffle_round_bytes(x),
				 .zstd_level = pl_exec_shuffle_level(x)};
	sh.ex =
	    rc ? NULL
	       : pl_exchange_create(x->comm, &wire, &opts, x->p->env.pool, err);
	if (rc == 0 && sh.ex == NULL)
		rc = PL_ERR_NOMEM;
	if (sh.ex != NULL) {
		pl_emitter e = {send_rows, &sh};
		rc = pl_exec_partial(x, i, &e, err);
		rc = rc ? pl_exchange_abort(sh.ex, rc, err)
			: pl_exchange_finish(sh.ex, pl_shuffle_receive, &sh,
					     err);
		pl_exec_count_stats(x, sh.ex);
		pl_exchange_destroy(sh.ex);
	}
	if (rc == 0)
		rc = pl_exec_reset_local(x, i, err);
	if (rc == 0)
		rc = pl_shuffle_merge_received(&sh, i, &local->partial_schema,
					       err);
	pl_shuffle_free(&sh);
	free(keys);
	pl_schema_free(&wire);
	return rc < 0 ? rc : 0;
}

int pl_exec_merge(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *op = &x->p->ops[i];
	if (x->streams[i] != NULL)
		return pl_exec_stream_merge(x, i, err);
	if (op->before_split != NULL) {
		int rc = op->before_split(op, &x->comm, err);
		rc = pl_mpi_agree(x->comm, rc, err);
		if (rc != 0)
			return rc;
	}
	if (op->split == PL_SPLIT_RANGE || op->split == PL_SPLIT_RANGE_MERGE)
		return pl_exec_merge_range(x, i, err);
	if (x->p->ops[i].partition_keys > 0)
		return merge_by_key(x, i, err);
	return merge_at_root(x, i, err);
}

/* Shuffles of a merge point's partial state by key (exec_merge.c) or by
 * key range (exec_range.c): rows go out as messages of their partial
 * columns and are filed on arrival, by sender and as they came, in run
 * files that hold them in memory while the budget allows and spool them
 * past that; then a merging instance takes them sender by sender. Also
 * the pieces every shuffle shares: round size, traffic counters, and
 * resetting the local instance whose state went out. */
#include <stdlib.h>

#include "framework/shuffle.h"

/* Received rows held or spooled short of memory: size matters more than
 * speed there. */
#define ZSTD_LEVEL 1

void pl_exec_count_stats(pl_exec *x, const pl_exchange *ex)
{
	pl_exchange_stats s = pl_exchange_get_stats(ex);
	x->bytes_raw += s.bytes_raw;
	x->bytes_sent += s.bytes_sent;
}

size_t pl_shuffle_round_bytes(const pl_exec *x)
{
	size_t b = x->p->env.memory_budget / 16 / (size_t)x->nranks;
	size_t lo = (size_t)64 << 10, hi = PL_SHUFFLE_ROUND_BYTES;
	return b < lo ? lo : b > hi ? hi : b;
}

/* Files the rows a push kept on this rank (direct_self). */
int pl_shuffle_receive(void *arg, pl_batch *rows, pl_error *err)
{
	pl_shuffle *sh = arg;
	return pl_run_file_append(sh->from[sh->x->rank], rows, NULL, 0,
				  rows->nrows, err);
}

/* Files a round's messages from sender as they came: they are decoded
 * once, when the merge reads them, rather than decoded here, encoded
 * again into the run file and decoded a second time (the sort on 2
 * ranks: 0.9G of the 7G instructions it did over one process). */
int pl_shuffle_receive_undecoded(void *arg, int sender, const uint8_t *msgs,
				 size_t len, pl_error *err)
{
	pl_shuffle *sh = arg;
	if (sender < 0 || sender >= sh->x->nranks)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "shuffle: bad sender %d", sender);
	return pl_run_file_append_messages(sh->from[sender], msgs, len, err);
}

int pl_shuffle_place(void *arg, int sender, size_t len, uint8_t **at,
		     pl_error *err)
{
	pl_shuffle *sh = arg;
	if (sender < 0 || sender >= sh->x->nranks)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "shuffle: bad sender %d", sender);
	return pl_run_file_room(sh->from[sender], len, at, err);
}

int pl_shuffle_push(pl_shuffle *sh, const pl_batch *b, pl_error *err)
{
	if (b->nrows == 0)
		return 0;
	return pl_exchange_push(sh->ex, b, pl_shuffle_receive, sh, err);
}

int pl_shuffle_push_to(pl_shuffle *sh, const pl_batch *b, size_t from, size_t n,
		       int rank, pl_error *err)
{
	if (n == 0)
		return 0;
	return pl_exchange_push_to(sh->ex, b, from, n, rank, pl_shuffle_receive,
				   sh, err);
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

int pl_shuffle_init(pl_shuffle *sh, const pl_operator *local, pl_schema *wire,
		    pl_error *err)
{
	pl_pool *pool = sh->x->p->env.pool;
	sh->op = (size_t)(local - sh->x->p->ops);
	int rc = pl_schema_copy(wire, &local->partial_schema, err);
	sh->from = calloc((size_t)sh->x->nranks, sizeof(*sh->from));
	if (rc == 0 && sh->from == NULL)
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

/* Senders compress for a receiver short of memory, whose run files
 * keep the messages as they came: the hold is a rank's own, so each
 * rank decides for the rows it sends from its own (the budgets are
 * alike). */
void pl_shuffle_wire(const pl_shuffle *sh, pl_exchange_opts *o)
{
	o->undecoded = pl_shuffle_receive_undecoded;
	o->place = pl_shuffle_place;
	if (sh->hold < HOLD_PLAIN && o->zstd_level == 0)
		o->zstd_level = ZSTD_LEVEL;
}

void pl_shuffle_free(pl_shuffle *sh)
{
	for (int r = 0; sh->from && r < sh->x->nranks; r++) {
		if (sh->from[r])
			pl_exec_add_spill(sh->x, sh->op,
					  pl_run_file_bytes(sh->from[r]));
		pl_run_file_destroy(sh->from[r]);
	}
	free(sh->from);
	pl_codec_destroy(sh->codec);
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
	/* Each sender's file goes once replayed: its rows are the merging
	 * instance's now, and its memory is there for the instance to grow
	 * into. */
	for (int r = 0; rc == 0 && r < x->nranks; r++) {
		rc = r == x->rank && sh->own_rows != NULL
			 ? sh->own_rows(sh->own_arg, merge_one, &rv, err)
			 : pl_run_file_replay(sh->from[r], partial, merge_one,
					      &rv, err);
		pl_exec_add_spill(x, sh->op, pl_run_file_bytes(sh->from[r]));
		pl_run_file_destroy(sh->from[r]);
		sh->from[r] = NULL;
	}
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

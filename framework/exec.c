/* The executor, one code path for one rank or many.
 *
 * Each rank streams its share of the input through the chain. An operator
 * with partial/merge is a "merge point" when there are several ranks: its
 * local instance only gathers state; after the input ends its partial
 * state goes to the ranks that own it (by key hash, by key range for a
 * sort, or all to rank 0 in rank order, which is input order), a second
 * instance merges it there,
 * and that instance's finish feeds the rest of the chain. On one rank the
 * local instance simply finishes. Every rank goes through the same
 * collectives in the same order whatever fails, passing its status to
 * pl_mpi_agree, so one rank's error stops all without a hang. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "framework/exchange.h"
#include "framework/exec.h"
#include "framework/exec_internal.h"
#include "framework/launch.h"

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Charges the time since the last switch to the stage running and makes
 * stage k run (0 the source, 1 + i operator i, nops + 1 the sink); returns
 * the stage that ran. Called per batch and stage, never per row. */
static size_t enter_stage(pl_exec *x, size_t k)
{
	double now = now_seconds();
	size_t prev = x->stage, slot = pl_exec_stage_slot(x->p->nops, prev);
	x->st->stage_seconds[slot] += now - x->stage_mark;
	x->stage_mark = now;
	/* A new high-water mark was reached while prev ran; else what the
	 * pool holds now is the best that is known of it. */
	pl_pool_stats ps = pl_pool_get_stats(x->p->env.pool);
	size_t held =
	    ps.bytes_peak > x->peak_mark ? ps.bytes_peak : ps.bytes_out;
	if (held > x->st->stage_peak[slot])
		x->st->stage_peak[slot] = held;
	x->peak_mark = ps.bytes_peak;
	x->stage = k;
	return prev;
}

static int run_stage(pl_stage *s, pl_batch *b, pl_error *err)
{
	pl_exec *x = s->x;
	if (s->stopped)
		return PL_STOP;
	/* also batches emitted by a finish, which can run long */
	if (pl_should_stop(&x->p->env))
		return pl_error_set(err, PL_ERR_IO, "interrupted");
	if (b->nrows == 0)
		return 0;
	x->st->stage_rows[pl_exec_stage_slot(x->p->nops, s->index + 1)] +=
	    b->nrows;
	if (s->index == x->p->nops) {
		x->st->rows_out += b->nrows;
		return pl_output_write(&x->out, b, err);
	}
	if (x->streams[s->index] != NULL)
		return pl_exec_stream_process(x, s->index, b, err);
	pl_operator *op =
	    x->merged[s->index] ? x->merged[s->index] : &x->p->ops[s->index];
	const pl_emitter *next =
	    pl_exec_is_merge_point(x, s->index) && !x->merged[s->index]
		? &x->discard
		: &x->emitters[s->index + 1];
	int rc = x->samples[s->index] && op == &x->p->ops[s->index]
		     ? pl_exec_range_observe(x, s->index, b, err)
		     : 0;
	if (rc == 0)
		rc = op->def->process(op, b, next, err);
	if (rc == PL_STOP)
		s->stopped = 1;
	if (rc >= 0 && op == &x->p->ops[s->index] && x->spills[s->index]) {
		int src = pl_spill_check(x->spills[s->index], err);
		rc = src ? src : rc;
	}
	return rc;
}

static const char *code_name(int rc)
{
	switch (rc) {
	case PL_ERR_CONF:
		return "PL_ERR_CONF";
	case PL_ERR_DATA:
		return "PL_ERR_DATA";
	case PL_ERR_IO:
		return "PL_ERR_IO";
	case PL_ERR_NOMEM:
		return "PL_ERR_NOMEM";
	default:
		return "PL_ERR_INTERNAL";
	}
}

int pl_exec_op_error(const pl_operator *op, const char *what, int rc,
		     pl_error *err)
{
	if (rc >= 0 || err->msg[0] != '\0')
		return rc;
	const pl_section *s = op->section;
	int code =
	    rc < PL_ERR_INTERNAL || rc > PL_ERR_CONF ? PL_ERR_INTERNAL : rc;
	return pl_error_set(err, code,
			    "%s:%d: [%s] %s returned %d (%s) without an error "
			    "message",
			    s->file, s->line, s->name, what, rc, code_name(rc));
}

/* Who made the batches stage k receives: the source or operator k - 1. */
static const pl_section *maker(const pl_exec *x, size_t k)
{
	return k == 0 ? x->p->source_sec : x->p->ops[k - 1].section;
}

/* Every batch against the schema its maker declared: a few compares per
 * batch, in every build, so that an operator's mistake stops the job
 * naming it instead of writing rows that do not match the header. */
static int check_batch(const pl_exec *x, size_t k, const pl_batch *b,
		       pl_error *err)
{
	const pl_schema *want = &x->p->schemas[k];
	const pl_section *s = maker(x, k);
	if (b->ncols != want->n)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: [%s] emitted a batch of %zu "
				    "columns, its output schema has %zu",
				    s->file, s->line, s->name, b->ncols,
				    want->n);
	for (size_t c = 0; c < b->ncols; c++) {
		const pl_column *col = &b->cols[c];
		if (col->type == want->fields[c].type && col->len == b->nrows)
			continue;
		if (col->type != want->fields[c].type)
			return pl_error_set(
			    err, PL_ERR_INTERNAL,
			    "%s:%d: [%s] emitted column %zu ('%s') as %s, "
			    "its output schema says %s",
			    s->file, s->line, s->name, c + 1,
			    want->fields[c].name, pl_type_name(col->type),
			    pl_type_name(want->fields[c].type));
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: [%s] emitted a batch of %zu rows "
				    "whose column %zu ('%s') holds %zu values",
				    s->file, s->line, s->name, b->nrows, c + 1,
				    want->fields[c].name, col->len);
	}
	return 0;
}

static int feed_stage(void *arg, pl_batch *b, pl_error *err)
{
	pl_stage *s = arg;
	int rc = check_batch(s->x, s->index, b, err);
	if (rc != 0)
		return rc;
	size_t prev = enter_stage(s->x, s->index + 1);
	rc = run_stage(s, b, err);
	enter_stage(s->x, prev);
	if (rc < 0 && s->index < s->x->p->nops)
		rc = pl_exec_op_error(&s->x->p->ops[s->index], "process", rc,
				      err);
	return rc;
}

int pl_exec_partial(pl_exec *x, size_t i, const pl_emitter *out, pl_error *err)
{
	pl_operator *op = &x->p->ops[i];
	if (pl_spill_active(x->spills[i]))
		return pl_spill_partial(x->spills[i], out, err);
	return op->def->partial(op, out, err);
}

int pl_exec_partial_last(pl_exec *x, size_t i, const pl_emitter *out,
			 pl_error *err)
{
	pl_operator *op = &x->p->ops[i];
	op->last_partial = 1;
	int rc = pl_exec_partial(x, i, out, err);
	op->last_partial = 0;
	return rc;
}

static int discard_rows(void *arg, pl_batch *b, pl_error *err)
{
	(void)arg;
	(void)b;
	(void)err;
	return 0;
}

int pl_exec_is_merge_point(const pl_exec *x, size_t i)
{
	const pl_operator *op = &x->p->ops[i];
	return x->nranks > 1 && op->def->partial != NULL &&
	       op->def->merge != NULL && op->split != PL_SPLIT_NONE;
}

/* Tells the chunk controller what the chunk cost (reading it included:
 * parsing scales with the chunk too) and shows progress. */
static void after_chunk(pl_exec *x, pl_chunk_ctl *cc, pl_progress *progress,
			size_t rows, size_t bytes, double t0)
{
	pl_chunk_report r = {rows, now_seconds() - t0, bytes,
			     pl_pool_get_stats(x->p->env.pool).bytes_out,
			     x->p->env.memory_budget};
	pl_chunk_ctl_report(cc, &r);
	if (progress) {
		pl_source_stats ss = pl_source_get_stats(x->p->source);
		pl_progress_update(progress, ss.rows, ss.bytes_read,
				   ss.bytes_total);
	}
}

static int stream_chunks(pl_exec *x, pl_chunk_ctl *cc,
			 volatile sig_atomic_t *stop, pl_progress *progress,
			 pl_error *err)
{
	for (;;) {
		pl_batch *b;
		if (stop && *stop)
			return pl_error_set(err, PL_ERR_IO, "interrupted");
		double t0 = now_seconds();
		int rc = pl_source_next(x->p->source, pl_chunk_ctl_rows(cc), &b,
					err);
		if (rc != 0 || b == NULL)
			return rc;
		x->st->chunks++;
		size_t rows = b->nrows, bytes = pl_batch_bytes(b);
		rc = pl_emit(&x->emitters[0], b, err);
		if (rc == PL_STOP)
			return 0;
		if (rc != 0)
			return rc;
		after_chunk(x, cc, progress, rows, bytes, t0);
	}
}

/* Whether this rank has a core of its own to read ahead on: it may run on
 * two CPUs, and the node has two for each of its ranks. PIPELINE_READ_AHEAD
 * = 0 or 1 overrides (tests take both paths). */
static int spare_core(const pl_exec *x)
{
	const char *v = getenv("PIPELINE_READ_AHEAD");
	if (v != NULL && (strcmp(v, "0") == 0 || strcmp(v, "1") == 0))
		return v[0] == '1';
	if (pl_cpu_count() < 2)
		return 0;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int per_node = x->p->node_size > 0 ? x->p->node_size : 1;
	return online >= 2L * per_node;
}

/* Dictionary-encoded strings go to a first operator that takes them
 * (PIPELINE_DICT=0 turns them off, so that tests compare both ways). */
static int allow_dict(pl_exec *x, pl_error *err)
{
	const char *v = getenv("PIPELINE_DICT");
	if (x->p->nops == 0 || (v != NULL && strcmp(v, "0") == 0) ||
	    !x->p->ops[0].dict_input)
		return 0;
	return pl_source_allow_dict(x->p->source, err);
}

/* Streams the source through the chain in chunks whose size the
 * controller adapts (or job.conf fixes), keeping its samples. */
static int stream_source(pl_exec *x, volatile sig_atomic_t *stop,
			 pl_progress *progress, pl_error *err)
{
	pl_chunk_ctl cc;
	pl_chunk_ctl_init(&cc, x->p->env.chunk_rows, x->p->chunk_rows != 0);
	int rc = allow_dict(x, err);
	if (rc != 0)
		return rc;
	if (spare_core(x))
		x->st->read_ahead =
		    pl_source_read_ahead(x->p->source, pl_chunk_ctl_rows(&cc));
	rc = stream_chunks(x, &cc, stop, progress, err);
	pl_source_stop_read_ahead(x->p->source);
	x->st->nchunk_rows = pl_chunk_ctl_samples(&cc, x->st->chunk_rows);
	return rc;
}

/* The first merge point at or after i, or nops. The same on every rank,
 * whatever failed, so that all ranks take the same collectives. */
static size_t next_merge_point(const pl_exec *x, size_t i)
{
	while (i < x->p->nops && !pl_exec_is_merge_point(x, i))
		i++;
	return i;
}

/* Finishes operator i, not a merge point. One whose before_split is set
 * cannot finish alone: its partial state goes through the spill
 * partitions, as it would go to ranks (a grace hash join on one rank). */
static int finish_one(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *op = &x->p->ops[i];
	pl_spill *s = x->spills[i];
	const pl_emitter *out = &x->emitters[i + 1];
	enter_stage(x, i + 1);
	if (s != NULL && op->before_split != NULL &&
	    op->split == PL_SPLIT_DEFAULT) {
		int rc = op->before_split(op, &x->comm, err);
		return rc ? rc : pl_spill_finish(s, out, err);
	}
	if (pl_spill_active(s))
		return pl_spill_finish(s, out, err);
	return op->def->finish ? op->def->finish(op, out, err) : 0;
}

/* Calls prepare of operators [from, until] (those that have one) on every
 * rank together, agreeing on the outcome first and after each, so that
 * either all ranks call one or none does. */
static int prepare_ops(pl_exec *x, size_t from, size_t until, int rc,
		       pl_error *err)
{
	size_t end = until < x->p->nops ? until + 1 : x->p->nops, i = from;
	while (i < end && x->p->ops[i].prepare == NULL)
		i++;
	if (i == end)
		return rc;
	rc = pl_mpi_agree(x->comm, rc, err);
	for (; i < end; i++) {
		pl_operator *op = &x->p->ops[i];
		if (op->prepare == NULL)
			continue;
		if (rc == 0) {
			enter_stage(x, i + 1);
			rc = pl_exec_op_error(
			    op, "prepare", op->prepare(op, &x->comm, err), err);
		}
		rc = pl_mpi_agree(x->comm, rc, err);
	}
	return rc;
}

/* Finishes operators [from, until), none of them a merge point. */
static int finish_run(pl_exec *x, size_t from, size_t until, pl_error *err)
{
	for (size_t i = from; i < until; i++) {
		int rc = pl_exec_op_error(&x->p->ops[i], "finish",
					  finish_one(x, i, err), err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int setup(pl_exec *x, pl_error *err)
{
	size_t n = x->p->nops + 1;
	x->stages = calloc(n, sizeof(*x->stages));
	x->emitters = calloc(n, sizeof(*x->emitters));
	x->merged = calloc(n, sizeof(*x->merged));
	x->spills = calloc(n, sizeof(*x->spills));
	x->streams = calloc(n, sizeof(*x->streams));
	x->samples = calloc(n, sizeof(*x->samples));
	if (!x->stages || !x->emitters || !x->merged || !x->spills ||
	    !x->streams || !x->samples)
		return pl_error_nomem(err, "the executor");
	for (size_t i = 0; i < x->p->nops; i++) {
		pl_operator *op = &x->p->ops[i];
		int rc =
		    pl_spill_possible(op)
			? pl_spill_create(op, &x->p->schemas[i],
					  x->p->spill_dir, &x->spills[i], err)
			: 0;
		if (rc != 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		x->stages[i] = (pl_stage){x, i, 0};
		x->emitters[i] = (pl_emitter){feed_stage, &x->stages[i]};
	}
	x->discard = (pl_emitter){discard_rows, NULL};
	return 0;
}

/* The streaming phase, then each merge point in turn. Local failures are
 * carried in rc through every collective so that all ranks agree. */
static int run(pl_exec *x, volatile sig_atomic_t *stop, pl_progress *progress,
	       pl_error *err)
{
	int rc = setup(x, err);
	if (x->nranks > 1)
		rc = pl_mpi_agree(x->comm, rc, err);
	if (rc == 0 && x->nranks > 1)
		rc = pl_source_partition(x->p->source, x->comm,
					 x->p->split_guess, err);
	if (rc == 0)
		rc = pl_output_open(&x->out, x->p, x->comm, err);
	if (x->nranks > 1) {
		rc = pl_mpi_agree(x->comm, rc, err);
		rc = pl_output_share(&x->out, rc, x->comm, err);
		if (rc == 0)
			rc = pl_exec_stream_open(x, err);
		if (rc == 0)
			rc = pl_exec_range_open(x, err);
	}
	size_t at = next_merge_point(x, 0);
	rc = prepare_ops(x, 0, at, rc, err);
	if (rc == 0)
		rc = stream_source(x, stop, progress, err);
	if (rc == 0)
		rc = finish_run(x, 0, at, err);
	while (at < x->p->nops) {
		if (x->streams[at] != NULL)
			rc = pl_exec_stream_end(x, at, rc, err);
		rc = pl_mpi_agree(x->comm, rc, err);
		size_t next = next_merge_point(x, at + 1);
		rc = prepare_ops(x, at + 1, next, rc, err);
		if (rc != 0)
			break;
		enter_stage(x, at + 1);
		rc =
		    pl_exec_op_error(&x->p->ops[at], "partial, merge or finish",
				     pl_exec_merge(x, at, err), err);
		if (rc == 0)
			rc = finish_run(x, at + 1, next, err);
		at = next;
	}
	if (rc != 0 && x->streams != NULL)
		pl_exec_stream_abort(x, rc, err);
	if (rc == 0 && stop && *stop)
		rc = pl_error_set(err, PL_ERR_IO, "interrupted");
	return rc;
}

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

static void teardown(pl_exec *x)
{
	pl_exec_stream_free(x);
	pl_exec_range_free(x);
	for (size_t i = 0; x->merged && i < x->p->nops; i++)
		pl_exec_free_merged(x, i);
	for (size_t i = 0; i < x->p->nops; i++)
		pl_exec_add_spill(x, i, x->p->ops[i].spilled_bytes);
	for (size_t i = 0; x->spills && i < x->p->nops; i++) {
		pl_exec_add_spill(x, i, pl_spill_bytes(x->spills[i]));
		if (pl_spill_depth(x->spills[i]) > x->spill_depth)
			x->spill_depth = pl_spill_depth(x->spills[i]);
		pl_spill_destroy(x->spills[i]);
	}
	free(x->spills);
	free(x->stages);
	free(x->emitters);
	free(x->merged);
}

static void collect_stats(pl_exec *x, double t0)
{
	pl_run_stats *st = x->st;
	pl_source_stats ss = pl_source_get_stats(x->p->source);
	st->rows_in = ss.rows;
	st->stage_rows[0] = ss.rows;
	st->rows_skipped = ss.rows_skipped;
	st->bytes_in = ss.bytes_read;
	st->peak_pool = pl_pool_get_stats(x->p->env.pool).bytes_peak;
	st->seconds = now_seconds() - t0;
}

int pl_exec_run(pl_plan *p, MPI_Comm comm, volatile sig_atomic_t *stop,
		pl_progress *progress, pl_run_stats *st, pl_error *err)
{
	pl_exec x;
	memset(&x, 0, sizeof(x));
	x.p = p;
	x.comm = comm;
	x.st = st;
	x.rank = pl_comm_rank(comm);
	x.nranks = pl_comm_size(comm);
	memset(st, 0, sizeof(*st));
	double t0 = now_seconds();
	x.stage_mark = t0;
	p->env.stop = stop;
	int rc = run(&x, stop, progress, err);
	if (x.out.p != NULL)
		rc = pl_mpi_agree(x.comm, rc, err);
	if (rc == 0)
		rc = pl_source_commit(p->source, x.comm, err);
	enter_stage(&x, p->nops + 1);
	rc = pl_output_close(&x.out, rc, x.comm, &st->bytes_out, err);
	enter_stage(&x, p->nops + 1);
	st->nstages = pl_exec_stage_slot(p->nops, p->nops + 1) + 1;
	if (rc != 0)
		pl_source_discard(p->source);
	collect_stats(&x, t0);
	st->bytes_sent_raw = x.bytes_raw;
	st->bytes_sent = x.bytes_sent;
	teardown(&x);
	st->bytes_spilled = x.bytes_spilled;
	st->spill_depth = x.spill_depth;
	return rc;
}

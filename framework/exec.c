#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/exec.h"
#include "framework/sink.h"

typedef struct pl_exec pl_exec;

typedef struct stage {
	pl_exec *x;
	size_t index; /* operator index, or nops for the sink */
	int stopped;  /* accepts no more input */
} stage;

struct pl_exec {
	pl_plan *p;
	stage *stages;
	pl_emitter *emitters; /* emitters[i] feeds stage i */
	pl_sink *writer;
	pl_run_stats *st;
};

static int feed_stage(void *arg, pl_batch *b, pl_error *err)
{
	stage *s = arg;
	pl_exec *x = s->x;
	if (s->stopped)
		return PL_STOP;
	if (b->nrows == 0)
		return 0;
	if (s->index == x->p->nops) {
		x->st->rows_out += b->nrows;
		return pl_sink_write(x->writer, b, err);
	}
	pl_operator *op = &x->p->ops[s->index];
	int rc = op->def->process(op, b, &x->emitters[s->index + 1], err);
	if (rc == PL_STOP)
		s->stopped = 1;
	return rc;
}

static int stream_source(pl_exec *x, volatile sig_atomic_t *stop,
			 pl_error *err)
{
	size_t chunk = x->p->env.chunk_rows;
	for (;;) {
		pl_batch *b;
		if (stop && *stop)
			return pl_error_set(err, PL_ERR_IO, "interrupted");
		int rc = pl_source_next(x->p->source, chunk, &b, err);
		if (rc != 0)
			return rc;
		if (b == NULL)
			return 0;
		x->st->chunks++;
		rc = pl_emit(&x->emitters[0], b, err);
		if (rc == PL_STOP)
			return 0;
		if (rc != 0)
			return rc;
	}
}

static int finish_ops(pl_exec *x, pl_error *err)
{
	for (size_t i = 0; i < x->p->nops; i++) {
		pl_operator *op = &x->p->ops[i];
		if (op->def->finish == NULL)
			continue;
		int rc = op->def->finish(op, &x->emitters[i + 1], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(pl_exec *x, volatile sig_atomic_t *stop, pl_error *err)
{
	pl_plan *p = x->p;
	size_t n = p->nops + 1;
	x->stages = calloc(n, sizeof(*x->stages));
	x->emitters = calloc(n, sizeof(*x->emitters));
	if (x->stages == NULL || x->emitters == NULL)
		return pl_error_nomem(err, "the executor");
	for (size_t i = 0; i < n; i++) {
		x->stages[i] = (stage){x, i, 0};
		x->emitters[i] = (pl_emitter){feed_stage, &x->stages[i]};
	}
	int rc = pl_sink_open(p, &x->writer, err);
	if (rc == 0)
		rc = stream_source(x, stop, err);
	if (rc == 0)
		rc = finish_ops(x, err);
	if (rc == 0 && stop && *stop)
		rc = pl_error_set(err, PL_ERR_IO, "interrupted");
	return rc;
}

int pl_exec_run(pl_plan *p, volatile sig_atomic_t *stop, pl_run_stats *st,
		pl_error *err)
{
	pl_exec x = {p, NULL, NULL, NULL, st};
	memset(st, 0, sizeof(*st));
	double t0 = now_seconds();
	int rc = run(&x, stop, err);
	if (rc == 0 && x.writer) {
		st->bytes_out = pl_sink_bytes(x.writer);
		rc = pl_sink_commit(x.writer, err);
	} else {
		pl_sink_abort(x.writer);
	}
	pl_source_stats ss = pl_source_get_stats(p->source);
	st->rows_in = ss.rows;
	st->rows_skipped = ss.rows_skipped;
	st->bytes_in = ss.bytes_read;
	st->peak_pool = pl_pool_get_stats(p->env.pool).bytes_peak;
	st->seconds = now_seconds() - t0;
	free(x.stages);
	free(x.emitters);
	return rc;
}

/* Merge points fed while the input streams (operators that set
 * input_keys, see operator.h): group-by and distinct across ranks.
 *
 * The merging instance exists from the start. Each rank either
 * aggregates its rows in its local instance ("local" mode) or sends them
 * straight to the rank that owns their keys, whose merging instance
 * processes them as they arrive ("pass" mode). It chooses per window of
 * rows from what it measures: how many partial rows a window added to the
 * local state (rho: near 1 when keys barely repeat), what local
 * aggregation cost per row, and what sending cost per row. Aggregating
 * saves sending (1 - rho) of the rows but costs its own work, and the
 * partial rows still travel at the end; so pass when rho > theta, with
 * theta = ship / (ship + agg) per row. Both costs are the thread's CPU
 * time, and ship leaves out what the owner's instance spent taking rows
 * that arrived during the send (the owner does that work in either mode):
 * counted in, it made ship look twice what it was, and the distinct of
 * db-benchmark's (id3, id4), whose rho of about 0.78 sat at that inflated
 * theta, aggregated locally in some runs and passed in others (2 ranks:
 * 3.5 against 2.1 CPU-seconds). A window's rho overstates what
 * aggregating the rest of the share would add while the local table is
 * still filling (q3's 1e5 keys: 0.56 over the first window of a rank's
 * 2.5M rows, 0.01 over the rest), so a window is judged by a model of
 * uniform keys instead while that model predicts what the windows find
 * (see model_rho). In pass mode a window now and then
 * aggregates again to re-measure (after 1, 2, 4, ... windows; 1, 4, 16,
 * ... while the keys barely repeat), so a rank switches back when keys
 * start repeating. A window whose rows have nearly all been new groups is
 * decided early (EARLY_ROWS).
 *
 * After the input ends, the local state goes to its owners and is merged
 * as it arrives (no spooling: the operator promised that order does not
 * matter); the merging instance spills through its own pl_spill when the
 * budget is short. Shuffles are compressed only when the job spans
 * several nodes, and rows a rank keeps are never encoded. Dictionary-
 * encoded strings (for an operator that takes them) travel as such, so
 * the owner looks up each distinct value of a message once.
 *
 * Collectives: the exchanges run rounds while the input streams, so a
 * rank that fails must still meet the others' rounds: on failure every
 * rank aborts each open exchange, in order (pl_exec_stream_abort). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/exec_internal.h"
#include "framework/shuffle.h"

/* Rows per decision window, and how often pass mode re-measures: after
 * 1, 2, 4, ... windows while passing keeps paying, at most PROBE_MAX. The
 * first windows see every key anew, so they overstate rho: a quick first
 * probe corrects that. */
#define WINDOW_ROWS ((uint64_t)1 << 17)
#define PROBE_MAX 32
/* A local window (or probe) in which nearly every row has been a new
 * group after EARLY_ROWS is decided at once (pass: theta is at most 0.9),
 * and such a probe puts the next one four times as far: keys that barely
 * repeat (db-benchmark q10) otherwise aggregate ~300k rows a rank that
 * then travel and merge twice, about a tenth of a 2-rank q10's CPU. */
#define EARLY_ROWS (WINDOW_ROWS / 8)
#define EARLY_RHO 0.95
/* Sending cost per byte until measured (encode, copy, decode), and a
 * quarter of it as the least a measurement may say. The bytes are the
 * batches' buffer sizes; the test VM measures 0.4-0.6 ns for them. */
#define SHIP_DEFAULT 0.5e-9

struct pl_stream_point {
	pl_exchange *ex; /* input rows to their keys' owners */
	pl_spill *spill; /* of the merging instance */
	int mode;	 /* PL_PREAGG_AUTO, _ON (local only), _OFF (pass) */
	int pass;
	int probing;	       /* a window of local mode within pass mode */
	unsigned pass_windows; /* windows in pass mode since the last probe */
	unsigned probe_after;  /* pass windows before the next probe */
	uint64_t win_rows, win_state;
	/* CPU-seconds: aggregating here, sending (less taking, below),
	 * taking rows into the merging instance */
	double agg_seconds, ship_seconds, take_seconds;
	uint64_t agg_rows, pass_rows;
	int model_off;	   /* the keys are not uniform: windows decide */
	double model_keys; /* distinct keys estimated at the window's start */
};

/* The calling thread's CPU time: what the decision weighs is work, and a
 * wall clock would also count waiting for the other ranks in a round and
 * being descheduled (four ranks on two cores). */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* PIPELINE_PREAGG=on|off forces local aggregation or sending rows on
 * (tests take both paths); anything else, or unset, measures. */
static int preagg_mode(void)
{
	const char *v = getenv("PIPELINE_PREAGG");
	if (v != NULL && strcmp(v, "on") == 0)
		return PL_PREAGG_ON;
	if (v != NULL && strcmp(v, "off") == 0)
		return PL_PREAGG_OFF;
	return PL_PREAGG_AUTO;
}

int pl_exec_is_stream_point(const pl_exec *x, size_t i)
{
	const pl_operator *op = &x->p->ops[i];
	return pl_exec_is_merge_point(x, i) && op->input_keys != NULL &&
	       op->partition_keys > 0 && op->split == PL_SPLIT_DEFAULT &&
	       op->before_split == NULL;
}

int pl_exec_shuffle_level(const pl_exec *x)
{
	return x->p->nodes > 1 ? PL_SHUFFLE_ZSTD_LEVEL : 0;
}

static int open_point(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *op = &x->p->ops[i];
	pl_stream_point *sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return pl_error_nomem(err, "a shuffle");
	x->streams[i] = sp;
	sp->mode = preagg_mode();
	sp->pass = sp->mode == PL_PREAGG_OFF;
	sp->probe_after = 1;
	int rc = pl_exec_new_instance(x, i, err);
	if (rc == 0 && pl_spill_possible(x->merged[i]))
		rc = pl_spill_create(x->merged[i], &x->p->schemas[i],
				     x->p->spill_dir, &sp->spill, err);
	rc = pl_mpi_agree(x->comm, rc, err);
	if (rc != 0)
		return rc;
	pl_exchange_opts o = {.keys = op->input_keys,
			      .nkeys = op->partition_keys,
			      .round_bytes = pl_shuffle_round_bytes(x),
			      .zstd_level = pl_exec_shuffle_level(x),
			      .direct_self = 1,
			      .keep_dict = op->dict_input};
	sp->ex = pl_exchange_create(x->comm, &x->p->schemas[i], &o,
				    x->p->env.pool, err);
	return sp->ex ? 0 : PL_ERR_NOMEM;
}

int pl_exec_stream_open(pl_exec *x, pl_error *err)
{
	int rc = 0;
	for (size_t i = 0; i < x->p->nops; i++)
		if (pl_exec_is_stream_point(x, i)) {
			int r = open_point(x, i, err);
			rc = rc ? rc : r;
		}
	return rc;
}

typedef struct stream_arg {
	pl_exec *x;
	size_t i;
} stream_arg;

/* The merging instance takes rows (input rows or partial rows) and
 * spills when the budget is short. */
static int absorb(pl_exec *x, size_t i, pl_batch *rows, int partial,
		  pl_error *err)
{
	pl_operator *m = x->merged[i];
	pl_stream_point *sp = x->streams[i];
	double t0 = cpu_now();
	int rc = partial ? m->def->merge(m, rows, err)
			 : m->def->process(m, rows, &x->discard, err);
	if (rc == 0 && sp->spill)
		rc = pl_spill_check(sp->spill, err);
	sp->take_seconds += cpu_now() - t0;
	return rc < 0 ? rc : 0;
}

static int receive_input(void *arg, pl_batch *rows, pl_error *err)
{
	stream_arg *a = arg;
	return absorb(a->x, a->i, rows, 0, err);
}

static int receive_partial(void *arg, pl_batch *rows, pl_error *err)
{
	stream_arg *a = arg;
	return absorb(a->x, a->i, rows, 1, err);
}

static int pass_rows(pl_exec *x, size_t i, const pl_batch *b, pl_error *err)
{
	pl_stream_point *sp = x->streams[i];
	stream_arg a = {x, i};
	double t0 = cpu_now(), took = sp->take_seconds;
	int rc = pl_exchange_push(sp->ex, b, receive_input, &a, err);
	sp->ship_seconds += cpu_now() - t0 - (sp->take_seconds - took);
	sp->pass_rows += b->nrows;
	x->st->rows_passed += b->nrows;
	return rc;
}

static int aggregate_rows(pl_exec *x, size_t i, const pl_batch *b,
			  pl_error *err)
{
	pl_stream_point *sp = x->streams[i];
	pl_operator *op = &x->p->ops[i];
	double t0 = cpu_now();
	int rc = op->def->process(op, b, &x->discard, err);
	if (rc >= 0 && x->spills[i])
		rc = pl_spill_check(x->spills[i], err);
	sp->agg_seconds += cpu_now() - t0;
	sp->agg_rows += b->nrows;
	x->st->rows_local += b->nrows;
	return rc < 0 ? pl_exchange_abort(sp->ex, rc, err) : 0;
}

/* The partial rows a window added per row: near 1 when keys barely
 * repeat. */
static double window_rho(const pl_stream_point *sp, uint64_t state)
{
	if (sp->win_rows == 0)
		return 0;
	return state >= sp->win_state
		   ? (double)(state - sp->win_state) / (double)sp->win_rows
		   : 1.0; /* the state spilled: it is not reducing */
}

double pl_preagg_estimate_keys(double n, double d)
{
	if (d >= n)
		return INFINITY;
	double lo = d, hi = d > 1 ? d : 1;
	while (hi * -expm1(-n / hi) < d && hi < 1e18)
		hi *= 2;
	for (int k = 0; k < 64 && hi - lo > 0.5; k++) {
		double mid = 0.5 * (lo + hi);
		if (mid * -expm1(-n / mid) < d)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

double pl_preagg_expected_new(double keys, double d, double rows)
{
	if (isinf(keys))
		return rows;
	return keys > d ? (keys - d) * -expm1(-rows / keys) : 0;
}

/* Rows still to come at stream point i on this rank, from the share's
 * bytes consumed so far; 0 when the source cannot tell. */
static double rows_left(const pl_exec *x, const pl_stream_point *sp)
{
	pl_source_stats ss = pl_source_get_stats(x->p->source);
	if (ss.bytes_total == 0 || ss.bytes_read == 0 ||
	    ss.bytes_read >= ss.bytes_total)
		return 0;
	double seen = (double)(sp->agg_rows + sp->pass_rows);
	return seen * (double)(ss.bytes_total - ss.bytes_read) /
	       (double)ss.bytes_read;
}

/* Whether the window just ended found about the new keys the model
 * predicted at its start (a skewed or drifting key order finds more). */
static int model_holds(const pl_stream_point *sp, uint64_t state)
{
	if (sp->model_keys == 0)
		return 1; /* the first window: nothing predicted */
	if (state < sp->win_state)
		return 0; /* spilled */
	double want = pl_preagg_expected_new(
	    sp->model_keys, (double)sp->win_state, (double)sp->win_rows);
	return (double)(state - sp->win_state) <= 2 * want + 1024;
}

/* The rho that decides a window of local aggregation: while the keys
 * look uniform, the new keys per row that aggregating all the rows left
 * would add (estimated from the rows aggregated and the keys they held);
 * else, or when the rows left are unknown, the window's own. */
static double model_rho(pl_exec *x, size_t i, uint64_t state)
{
	pl_stream_point *sp = x->streams[i];
	double rho = window_rho(sp, state);
	if (!sp->model_off && !model_holds(sp, state))
		sp->model_off = 1;
	double left = sp->model_off ? 0 : rows_left(x, sp);
	if (left <= 0)
		return rho;
	double keys =
	    pl_preagg_estimate_keys((double)sp->agg_rows, (double)state);
	sp->model_keys = keys;
	double projected =
	    pl_preagg_expected_new(keys, (double)state, left) / left;
	return projected < rho ? projected : rho;
}

/* Rho against the break-even theta (see the top). */
static int should_pass(const pl_stream_point *sp, double rho,
		       double bytes_per_row)
{
	/* per row once measured: the batches' bytes are their buffers'
	 * sizes, rounded up to powers of two */
	double least = 0.25 * SHIP_DEFAULT * bytes_per_row;
	double ship = sp->pass_rows > 0
			  ? sp->ship_seconds / (double)sp->pass_rows
			  : SHIP_DEFAULT * bytes_per_row;
	if (ship < least)
		ship = least;
	double agg =
	    sp->agg_rows > 0 ? sp->agg_seconds / (double)sp->agg_rows : ship;
	return pl_preagg_should_pass(rho, ship, agg);
}

int pl_preagg_should_pass(double rho, double ship, double agg)
{
	double theta = ship / (ship + agg);
	if (theta < 0.2)
		theta = 0.2;
	if (theta > 0.9)
		theta = 0.9;
	return rho > theta;
}

/* Rows a probe aggregates: a quarter window, enough to see rho. */
#define PROBE_ROWS (WINDOW_ROWS / 4)

/* At the end of a window: decide the next one's mode. */
static void decide(pl_exec *x, size_t i, const pl_batch *b)
{
	pl_stream_point *sp = x->streams[i];
	uint64_t state = x->p->ops[i].state_rows;
	if (sp->mode != PL_PREAGG_AUTO) {
		sp->win_rows = 0;
		return;
	}
	if (!sp->pass || sp->probing) {
		double bpr =
		    b->nrows ? (double)pl_batch_bytes(b) / b->nrows : 0;
		int was_probing = sp->probing;
		sp->pass = should_pass(sp, model_rho(x, i, state), bpr);
		sp->probing = 0;
		sp->pass_windows = 0;
		if (!sp->pass)
			sp->probe_after = 1;
		else if (was_probing && sp->probe_after < PROBE_MAX)
			sp->probe_after *=
			    window_rho(sp, state) > EARLY_RHO ? 4 : 2;
	} else if (++sp->pass_windows >= sp->probe_after) {
		sp->probing = 1;
	}
	sp->win_rows = 0;
	sp->win_state = state;
}

/* A local window (or probe) far enough in whose rows have nearly all
 * been new groups. */
static int nearly_unique(const pl_exec *x, size_t i)
{
	const pl_stream_point *sp = x->streams[i];
	return sp->mode == PL_PREAGG_AUTO && (!sp->pass || sp->probing) &&
	       sp->win_rows >= EARLY_ROWS &&
	       window_rho(sp, x->p->ops[i].state_rows) > EARLY_RHO;
}

int pl_exec_stream_process(pl_exec *x, size_t i, const pl_batch *b,
			   pl_error *err)
{
	pl_stream_point *sp = x->streams[i];
	int rc = sp->pass && !sp->probing ? pass_rows(x, i, b, err)
					  : aggregate_rows(x, i, b, err);
	sp->win_rows += b->nrows;
	uint64_t due = sp->probing ? PROBE_ROWS : WINDOW_ROWS;
	if (rc == 0 && (sp->win_rows >= due || nearly_unique(x, i)))
		decide(x, i, b);
	return rc;
}

typedef struct push_arg {
	pl_exchange *ex;
	stream_arg a;
} push_arg;

static int push_partial(void *arg, pl_batch *b, pl_error *err)
{
	push_arg *p = arg;
	return pl_exchange_push(p->ex, b, receive_partial, &p->a, err);
}

/* Sends the local instance's partial state to its owners, merged there
 * as it arrives. Collective. */
static int send_local_state(pl_exec *x, size_t i, pl_error *err)
{
	pl_operator *local = &x->p->ops[i];
	size_t *keys = malloc(local->partition_keys * sizeof(*keys));
	int rc = keys ? 0 : pl_error_nomem(err, "a shuffle");
	for (size_t k = 0; rc == 0 && k < local->partition_keys; k++)
		keys[k] = k;
	rc = pl_mpi_agree(x->comm, rc, err);
	pl_exchange_opts o = {.keys = keys,
			      .nkeys = local->partition_keys,
			      .round_bytes = pl_shuffle_round_bytes(x),
			      .zstd_level = pl_exec_shuffle_level(x),
			      .direct_self = 1};
	push_arg pa = {NULL, {x, i}};
	pa.ex = rc ? NULL
		   : pl_exchange_create(x->comm, &local->partial_schema, &o,
					x->p->env.pool, err);
	if (rc == 0 && pa.ex == NULL)
		rc = PL_ERR_NOMEM;
	if (pa.ex != NULL) {
		pl_emitter e = {push_partial, &pa};
		rc = pl_exec_partial_last(x, i, &e, err);
		rc =
		    rc ? pl_exchange_abort(pa.ex, rc, err)
		       : pl_exchange_finish(pa.ex, receive_partial, &pa.a, err);
		pl_exec_count_stats(x, pa.ex);
		pl_exchange_destroy(pa.ex);
	}
	free(keys);
	return rc;
}

int pl_exec_stream_end(pl_exec *x, size_t i, int rc, pl_error *err)
{
	pl_stream_point *sp = x->streams[i];
	if (sp == NULL || sp->ex == NULL)
		return rc;
	stream_arg a = {x, i};
	if (rc != 0)
		rc = pl_exchange_abort(sp->ex, rc, err);
	else
		rc = pl_exchange_finish(sp->ex, receive_input, &a, err);
	pl_exec_count_stats(x, sp->ex);
	pl_exchange_destroy(sp->ex);
	sp->ex = NULL;
	return rc;
}

void pl_exec_stream_abort(pl_exec *x, int rc, pl_error *err)
{
	for (size_t i = 0; x->streams && i < x->p->nops; i++) {
		pl_stream_point *sp = x->streams[i];
		if (sp == NULL || sp->ex == NULL)
			continue;
		pl_error scratch = {0};
		pl_exchange_abort(sp->ex, rc, err->code ? &scratch : err);
		pl_exec_count_stats(x, sp->ex);
		pl_exchange_destroy(sp->ex);
		sp->ex = NULL;
	}
}

int pl_exec_stream_merge(pl_exec *x, size_t i, pl_error *err)
{
	pl_stream_point *sp = x->streams[i];
	int rc = send_local_state(x, i, err);
	if (rc == 0)
		rc = pl_exec_reset_local(x, i, err);
	pl_operator *m = x->merged[i];
	const pl_emitter *out = &x->emitters[i + 1];
	if (rc == 0 && pl_spill_active(sp->spill))
		rc = pl_spill_finish(sp->spill, out, err);
	else if (rc == 0 && m->def->finish)
		rc = m->def->finish(m, out, err);
	return rc < 0 ? rc : 0;
}

void pl_exec_stream_free(pl_exec *x)
{
	for (size_t i = 0; x->streams && i < x->p->nops; i++) {
		pl_stream_point *sp = x->streams[i];
		if (sp == NULL)
			continue;
		pl_exchange_destroy(sp->ex);
		pl_exec_add_spill(x, i, pl_spill_bytes(sp->spill));
		if (pl_spill_depth(sp->spill) > x->spill_depth)
			x->spill_depth = pl_spill_depth(sp->spill);
		pl_spill_destroy(sp->spill);
		free(sp);
	}
	free(x->streams);
	x->streams = NULL;
}

#include <string.h>

#include "framework/chunk_controller.h"

enum { CC_BASE, CC_PROBE, CC_SETTLED };

/* A throughput is measured over at least this many chunks and seconds:
 * one chunk is too short for the clock and too easily hit by the OS. */
#define WINDOW_CHUNKS 3
#define WINDOW_SECONDS 0.0005
/* A probe must beat its base by this share to count as better, so that
 * noise does not walk the size around. */
#define GAIN 0.02
/* A smaller size within this share of the best throughput of the search
 * is taken: past the cache the curve is flat, and there the smaller
 * chunk holds less memory for the same speed. Measured against the best,
 * not the last step, so that noise cannot walk it down step by step. */
#define TOLERANCE 0.02
/* A settled size whose throughput falls by this share is searched for
 * afresh. Not halved: the fall is most often the chain's own state
 * growing out of the caches (a group-by with millions of groups), which
 * a smaller chunk does not help; halving at every such fall ratchets the
 * size down to the minimum. Memory pressure still halves. */
#define DROP 0.25
/* Settled windows between two probes: the data or the chain's state may
 * have moved the best size. */
#define REPROBE_WINDOWS 16
/* Growing needs the pool and the bigger chunk below this share of the
 * budget; pressure (halving) starts above the other. */
#define GROW_SHARE 0.5
#define PRESSURE_SHARE 0.75

static size_t clamp_rows(double rows)
{
	if (rows < PL_CHUNK_MIN_ROWS)
		return PL_CHUNK_MIN_ROWS;
	if (rows > PL_CHUNK_MAX_ROWS)
		return PL_CHUNK_MAX_ROWS;
	return (size_t)rows;
}

size_t pl_chunk_start_rows(size_t cache_bytes, size_t row_bytes)
{
	double cache = cache_bytes ? (double)cache_bytes : 1048576.0;
	double width = row_bytes ? (double)row_bytes : 32.0;
	size_t rows = clamp_rows(2.0 * cache / width);
	return rows / PL_CHUNK_MIN_ROWS * PL_CHUNK_MIN_ROWS;
}

void pl_chunk_ctl_init(pl_chunk_ctl *c, size_t start_rows, int fixed)
{
	memset(c, 0, sizeof(*c));
	c->fixed = fixed;
	c->rows = fixed ? (start_rows ? start_rows : 1)
			: clamp_rows((double)start_rows);
	c->state = CC_BASE;
	c->stride = 1;
}

size_t pl_chunk_ctl_rows(const pl_chunk_ctl *c)
{
	return c->rows;
}

/* Keeps every stride-th size; when the slots are full, every other one
 * goes and the stride doubles, so the kept ones span the whole run. */
static void record(pl_chunk_ctl *c)
{
	enum { SLOTS = PL_CHUNK_SAMPLES - 1 };
	if (c->chunks % c->stride == 0 && c->nsamples == SLOTS) {
		for (size_t i = 0; i < SLOTS / 2 + 1; i++)
			c->samples[i] = c->samples[2 * i];
		c->nsamples = SLOTS / 2 + 1;
		c->stride *= 2;
	}
	if (c->chunks % c->stride == 0)
		c->samples[c->nsamples++] = c->rows;
	c->last = c->rows;
	c->chunks++;
}

size_t pl_chunk_ctl_samples(const pl_chunk_ctl *c, uint64_t *out)
{
	if (c->chunks == 0)
		return 0;
	memcpy(out, c->samples, c->nsamples * sizeof(*out));
	out[c->nsamples] = c->last;
	return c->nsamples + 1;
}

/* A new size measures afresh: its first chunk still pays for fresh pool
 * buffers, so it is not timed. */
static void set_rows(pl_chunk_ctl *c, size_t rows)
{
	if (rows != c->rows)
		c->warm = 1;
	c->rows = rows;
	c->win_chunks = 0;
	c->win_rows = 0;
	c->win_seconds = 0;
}

/* Whether the pool can take chunks of rows instead of the current ones. */
static int can_hold(const pl_chunk_ctl *c, const pl_chunk_report *r,
		    size_t rows)
{
	if (r->budget == 0 || rows <= c->rows)
		return 1;
	double more = (double)(rows - c->rows) * c->row_bytes;
	return (double)r->pool_bytes + more <= GROW_SHARE * (double)r->budget;
}

static void settle(pl_chunk_ctl *c)
{
	c->state = CC_SETTLED;
	c->settled_windows = 0;
	set_rows(c, c->base_rows);
}

/* Probes the next size from the base in dir, turning round once when
 * that way is closed (a bound, or no memory to grow). */
static void probe(pl_chunk_ctl *c, const pl_chunk_report *r)
{
	for (;;) {
		double f = c->dir > 0 ? 1.25 : 0.8;
		size_t next = clamp_rows((double)c->base_rows * f);
		if (next != c->base_rows && can_hold(c, r, next)) {
			c->state = CC_PROBE;
			set_rows(c, next);
			return;
		}
		if (c->moved || c->reversed) {
			settle(c);
			return;
		}
		c->reversed = 1;
		c->dir = -c->dir;
	}
}

static void start_search(pl_chunk_ctl *c, const pl_chunk_report *r, double tput)
{
	c->base_rows = c->rows;
	c->base_tput = tput;
	c->best_tput = tput;
	c->dir = 1;
	c->moved = 0;
	c->reversed = 0;
	probe(c, r);
}

/* The halving under pressure; the search restarts from the smaller size. */
static void back_off(pl_chunk_ctl *c)
{
	c->state = CC_BASE;
	set_rows(c, clamp_rows((double)c->rows * 0.5));
}

/* Whether the size just measured beats the base: a bigger one must be
 * clearly faster, a smaller one about as fast as the best. */
static int better(const pl_chunk_ctl *c, double tput)
{
	if (c->dir > 0)
		return tput > c->base_tput * (1 + GAIN);
	return tput >= c->best_tput * (1 - TOLERANCE);
}

static void step(pl_chunk_ctl *c, const pl_chunk_report *r, double tput)
{
	switch (c->state) {
	case CC_BASE:
		start_search(c, r, tput);
		break;
	case CC_PROBE:
		if (better(c, tput)) {
			c->base_rows = c->rows;
			c->base_tput = tput;
			c->best_tput =
			    tput > c->best_tput ? tput : c->best_tput;
			c->moved = 1;
			probe(c, r);
		} else if (!c->moved && !c->reversed) {
			c->reversed = 1;
			c->dir = -c->dir;
			probe(c, r);
		} else {
			settle(c);
		}
		break;
	default:
		if (tput < c->base_tput * (1 - DROP)) {
			start_search(c, r, tput);
		} else if (++c->settled_windows >= REPROBE_WINDOWS) {
			start_search(c, r, tput);
		} else {
			/* Smoothed, so that one lucky window does not set a
			 * bar no later probe can pass. */
			c->base_tput = 0.75 * c->base_tput + 0.25 * tput;
		}
	}
}

static int under_pressure(const pl_chunk_report *r)
{
	return r->budget != 0 &&
	       (double)r->pool_bytes > PRESSURE_SHARE * (double)r->budget;
}

void pl_chunk_ctl_report(pl_chunk_ctl *c, const pl_chunk_report *r)
{
	record(c);
	if (c->fixed || r->rows == 0)
		return;
	if (r->chunk_bytes)
		c->row_bytes = (double)r->chunk_bytes / (double)r->rows;
	if (under_pressure(r)) {
		if (c->rows > PL_CHUNK_MIN_ROWS)
			back_off(c);
		return;
	}
	/* A short chunk (the end of the input) says little about the size. */
	if (r->rows * 2 < c->rows)
		return;
	if (c->warm) {
		c->warm--;
		return;
	}
	c->win_chunks++;
	c->win_rows += r->rows;
	c->win_seconds += r->seconds;
	if (c->win_chunks < WINDOW_CHUNKS || c->win_seconds < WINDOW_SECONDS)
		return;
	double secs = c->win_seconds > 1e-9 ? c->win_seconds : 1e-9;
	double tput = (double)c->win_rows / secs;
	c->win_chunks = 0;
	c->win_rows = 0;
	c->win_seconds = 0;
	step(c, r, tput);
}

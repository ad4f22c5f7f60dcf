/* Read-ahead: a second thread reads the next batch of a source while the
 * caller's thread runs the operators on the current one, so that parsing
 * and computing overlap on two cores. The reading function must leave a
 * batch it returned valid until the call after next (the CSV reader fills
 * two batches in turn), because the thread reads one batch ahead.
 *
 * The thread calls nothing but fn; fn must not use MPI and must touch only
 * state the caller leaves alone until the read-ahead is stopped, except
 * the pool (which locks). */
#ifndef PIPELINE_FRAMEWORK_READ_AHEAD_H
#define PIPELINE_FRAMEWORK_READ_AHEAD_H

#include "pipeline/batch.h"

typedef int (*pl_read_fn)(void *src, size_t max_rows, pl_batch **out,
			  pl_error *err);

typedef struct pl_read_ahead pl_read_ahead;

/* Starts the thread, which at once reads the first batch of at most
 * max_rows rows. Fails only when the thread cannot be made (PL_ERR_NOMEM
 * or PL_ERR_IO); the caller then reads without it. */
int pl_read_ahead_start(pl_read_fn fn, void *src, size_t max_rows,
			pl_read_ahead **out, pl_error *err);

/* The batch read ahead (as fn gave it, *out = NULL at the end), and asks
 * for the one after, of at most max_rows rows. An error of fn comes here,
 * in order, after the batches read before it; the thread has then ended. */
int pl_read_ahead_next(pl_read_ahead *ra, size_t max_rows, pl_batch **out,
		       pl_error *err);

/* Stops the thread (waiting for a read in progress to end) and frees ra;
 * a batch read ahead and not taken is dropped. NULL is allowed. */
void pl_read_ahead_stop(pl_read_ahead *ra);

#endif

/* One batch slot between the reading thread and the caller: the thread
 * fills it and waits until the caller takes it, so it is never more than
 * one batch ahead, which is what the two-batch rule of fn allows. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "framework/read_ahead.h"

struct pl_read_ahead {
	pl_read_fn fn;
	void *src;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t max_rows; /* of the next read */
	int full;	 /* the slot holds a result not yet taken */
	int stop;
	pl_batch *batch; /* the slot: a batch, or NULL at the end */
	int rc;
	pl_error err;
};

static void *read_loop(void *arg)
{
	pl_read_ahead *ra = arg;
	pthread_mutex_lock(&ra->lock);
	for (;;) {
		while (ra->full && !ra->stop)
			pthread_cond_wait(&ra->cond, &ra->lock);
		if (ra->stop)
			break;
		size_t rows = ra->max_rows;
		pthread_mutex_unlock(&ra->lock);
		pl_batch *b = NULL;
		pl_error e;
		pl_error_clear(&e);
		int rc = ra->fn(ra->src, rows, &b, &e);
		pthread_mutex_lock(&ra->lock);
		ra->batch = b;
		ra->rc = rc;
		ra->err = e;
		ra->full = 1;
		pthread_cond_broadcast(&ra->cond);
		if (rc != 0 || b == NULL)
			break;
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

/* Signals go to the caller's thread, which owns Ctrl-C handling. */
static int spawn(pl_read_ahead *ra)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&ra->thread, NULL, read_loop, ra);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int pl_read_ahead_start(pl_read_fn fn, void *src, size_t max_rows,
			pl_read_ahead **out, pl_error *err)
{
	*out = NULL;
	pl_read_ahead *ra = calloc(1, sizeof(*ra));
	if (ra == NULL)
		return pl_error_nomem(err, "the read-ahead thread");
	ra->fn = fn;
	ra->src = src;
	ra->max_rows = max_rows;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->cond, NULL);
	int rc = spawn(ra);
	if (rc != 0) {
		pthread_cond_destroy(&ra->cond);
		pthread_mutex_destroy(&ra->lock);
		free(ra);
		return pl_error_set(err, PL_ERR_IO,
				    "cannot start the read-ahead thread: %s",
				    strerror(rc));
	}
	*out = ra;
	return 0;
}

int pl_read_ahead_next(pl_read_ahead *ra, size_t max_rows, pl_batch **out,
		       pl_error *err)
{
	pthread_mutex_lock(&ra->lock);
	while (!ra->full)
		pthread_cond_wait(&ra->cond, &ra->lock);
	*out = ra->batch;
	int rc = ra->rc;
	if (rc != 0)
		*err = ra->err;
	else if (ra->batch != NULL) {
		ra->full = 0;
		ra->max_rows = max_rows;
		pthread_cond_broadcast(&ra->cond);
	}
	pthread_mutex_unlock(&ra->lock);
	return rc;
}

void pl_read_ahead_stop(pl_read_ahead *ra)
{
	if (ra == NULL)
		return;
	pthread_mutex_lock(&ra->lock);
	ra->stop = 1;
	pthread_cond_broadcast(&ra->cond);
	pthread_mutex_unlock(&ra->lock);
	pthread_join(ra->thread, NULL);
	pthread_cond_destroy(&ra->cond);
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

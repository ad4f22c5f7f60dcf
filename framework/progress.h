/* The progress line on standard error (--progress): rows so far, MB/s,
 * percent of the input and an ETA, rewritten in place with '\r' at most
 * four times a second, and cleared at the end.
 *
 * Under MPI only rank 0 shows it, and it shows its own share scaled by
 * the number of ranks, marked "~" and "est.": the ranks read shares of
 * about equal bytes, so rank 0's percent is close to the job's. No rank
 * sends anything for it. A collective for the true totals would have to
 * be started the same number of times, in the same order against every
 * other collective, on every rank, although ranks run different numbers
 * of chunks of different sizes; an estimate cannot deadlock and costs the
 * other ranks nothing. */
#ifndef PIPELINE_FRAMEWORK_PROGRESS_H
#define PIPELINE_FRAMEWORK_PROGRESS_H

#include <stdint.h>

typedef struct pl_progress {
	int on;
	int nranks;
	double start, last; /* seconds: when it began, when last shown */
	int shown;	    /* characters of the line on screen now */
} pl_progress;

/* mode is pl_cli_args.progress: -1 shows it when standard error is a
 * terminal, 0 never, 1 always. Only rank 0 of nranks shows anything. */
void pl_progress_init(pl_progress *p, int mode, int rank, int nranks);

/* After each chunk: this rank's rows and input bytes read so far, of
 * bytes_total (0 when unknown: no percent or ETA). Prints only when a
 * quarter second has passed since the last line. */
void pl_progress_update(pl_progress *p, uint64_t rows, uint64_t bytes_read,
			uint64_t bytes_total);

/* Clears the line, so that the summary or an error starts on a clean
 * line. */
void pl_progress_end(pl_progress *p);

#endif

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "framework/progress.h"

#define INTERVAL 0.25 /* seconds between two lines */

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void pl_progress_init(pl_progress *p, int mode, int rank, int nranks)
{
	p->on = rank == 0 && (mode > 0 || (mode < 0 && isatty(2)));
	p->nranks = nranks > 0 ? nranks : 1;
	p->start = p->last = now_seconds();
	p->shown = 0;
}

/* "ETA 1:05", or nothing when the rate says nothing yet. */
static void format_eta(char *buf, size_t size, double done, double secs)
{
	buf[0] = '\0';
	if (done <= 0 || done >= 1 || secs <= 0)
		return;
	long left = (long)(secs / done * (1 - done) + 0.5);
	snprintf(buf, size, ", ETA %ld:%02ld", left / 60, left % 60);
}

void pl_progress_update(pl_progress *p, uint64_t rows, uint64_t bytes_read,
			uint64_t bytes_total)
{
	if (!p->on)
		return;
	double t = now_seconds();
	if (t - p->last < INTERVAL)
		return;
	p->last = t;
	double secs = t - p->start, n = (double)p->nranks;
	double done =
	    bytes_total ? (double)bytes_read / (double)bytes_total : 0;
	char eta[32], pct[16] = "";
	format_eta(eta, sizeof(eta), done, secs);
	if (bytes_total)
		snprintf(pct, sizeof(pct), ", %.0f%%", done * 100);
	int len = fprintf(stderr, "\rpipeline: %s%.0f rows, %.1f MB/s%s%s%s",
			  p->nranks > 1 ? "~" : "", (double)rows * n,
			  (double)bytes_read * n / 1e6 / secs, pct, eta,
			  p->nranks > 1 ? " (est. from rank 0)" : "");
	/* Blanks over the rest of a longer line shown before. */
	if (len > 0 && len - 1 < p->shown)
		fprintf(stderr, "%*s", p->shown - (len - 1), "");
	if (len > 0 && len - 1 > p->shown)
		p->shown = len - 1;
	fflush(stderr);
}

void pl_progress_end(pl_progress *p)
{
	if (!p->on || p->shown == 0)
		return;
	fprintf(stderr, "\r%*s\r", p->shown, "");
	fflush(stderr);
	p->shown = 0;
}

/* Per-rank adaptive rows per chunk (ARCHITECTURE.md "Memory and
 * adaptivity"). The executor asks for pl_chunk_ctl_rows() rows, runs the
 * chunk through the chain, and reports what it cost. The controller climbs
 * towards the size with the best throughput (rows/s of the whole chain,
 * measured over windows of a few chunks): it grows the size by 1.25 while
 * that improves and memory allows, else shrinks it by 0.8 while that costs
 * no throughput, settles, and probes again now and then. It halves the size at
 * once under memory pressure or when throughput drops clearly. A fixed
 * size (job.conf chunk_rows) turns all of this off. Plain arithmetic: no
 * clock, no I/O, so tests drive it with a synthetic cost model. */
#ifndef PIPELINE_FRAMEWORK_CHUNK_CONTROLLER_H
#define PIPELINE_FRAMEWORK_CHUNK_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

enum {
	PL_CHUNK_MIN_ROWS = 1024,
	PL_CHUNK_MAX_ROWS = 1 << 20,
	PL_CHUNK_SAMPLES = 8 /* sizes kept for the metrics */
};

/* What one chunk cost. */
typedef struct pl_chunk_report {
	size_t rows;	    /* rows the chunk held */
	double seconds;	    /* through the whole chain */
	size_t chunk_bytes; /* the chunk's own buffers */
	size_t pool_bytes;  /* pool bytes out after it (pl_pool_stats) */
	size_t budget;	    /* this rank's memory budget, 0: none */
} pl_chunk_report;

typedef struct pl_chunk_ctl {
	size_t rows; /* rows for the next chunk */
	int fixed;
	int state;	  /* measuring the base, probing, or settled */
	int dir;	  /* +1 growing, -1 shrinking */
	int moved;	  /* a probe in dir was better than its base */
	int reversed;	  /* dir was turned round in this search */
	int warm;	  /* chunks left to skip after a size change */
	size_t base_rows; /* best size known */
	double base_tput; /* its rows per second */
	double best_tput; /* the best rows per second of this search */
	unsigned win_chunks, settled_windows;
	uint64_t win_rows;
	double win_seconds;
	double row_bytes; /* bytes per row, as last reported */
	uint64_t chunks;
	uint64_t stride; /* chunks between two kept samples */
	size_t nsamples;
	uint64_t samples[PL_CHUNK_SAMPLES - 1];
	uint64_t last; /* the latest size, the last sample */
} pl_chunk_ctl;

/* A first size from the cache and the row width: two caches' worth of
 * rows, so that a chunk's columns stay close to the core, clamped to
 * [PL_CHUNK_MIN_ROWS, PL_CHUNK_MAX_ROWS]. 0 for either means unknown (1 MiB
 * of cache, 32-byte rows). */
size_t pl_chunk_start_rows(size_t cache_bytes, size_t row_bytes);

/* Starts at start_rows; when fixed is set the size never changes. */
void pl_chunk_ctl_init(pl_chunk_ctl *c, size_t start_rows, int fixed);

/* Rows to ask for in the next chunk. */
size_t pl_chunk_ctl_rows(const pl_chunk_ctl *c);

/* Takes in what the chunk just run (of pl_chunk_ctl_rows() rows asked
 * for) cost, and picks the next size. */
void pl_chunk_ctl_report(pl_chunk_ctl *c, const pl_chunk_report *r);

/* The size over time, for the metrics: up to PL_CHUNK_SAMPLES sizes, from
 * evenly spaced chunks of the run, the last one the latest size. Returns
 * how many it wrote to out (0 before the first report). */
size_t pl_chunk_ctl_samples(const pl_chunk_ctl *c, uint64_t *out);

#endif

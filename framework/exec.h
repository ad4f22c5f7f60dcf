/* The executor: streams the source's batches through the operator chain
 * into the sink, then finishes the operators in order. */
#ifndef PIPELINE_FRAMEWORK_EXEC_H
#define PIPELINE_FRAMEWORK_EXEC_H

#include <mpi.h>
#include <signal.h>
#include <stdint.h>

#include "framework/chunk_controller.h"
#include "framework/plan.h"
#include "framework/progress.h"

/* Stages timed per rank: the source, each operator, the sink. The
 * operators past the room left are timed together with the last one that
 * fits (no real job comes near). */
#define PL_MAX_STAGES 64

typedef struct pl_run_stats {
	uint64_t rows_in, rows_out, rows_skipped;
	uint64_t bytes_in, bytes_out;
	uint64_t chunks;
	int read_ahead; /* the source was read on a second thread */
	double seconds;
	size_t peak_pool;
	uint64_t bytes_sent_raw, bytes_sent; /* partial state shuffled */
	uint64_t bytes_spilled;
	int spill_depth; /* partitions split again while merging, levels */
	/* Rows merge points fed while streaming aggregated here, and rows
	 * they sent straight to their keys' owners (exec_stream.c). */
	uint64_t rows_local, rows_passed;
	/* Rows this rank's sample sorts (exec_range.c) sent to their ranks
	 * unsorted, each rank sorting its range once, and rows they sent
	 * sorted, the ranks' streams merged (a rank spilled, or the instance
	 * does not lend its rows in input order). */
	uint64_t rows_unsorted, rows_merged;
	uint64_t chunk_rows[PL_CHUNK_SAMPLES]; /* chunk size over time */
	size_t nchunk_rows;
	/* Seconds this rank spent in each stage (pl_exec_stage_slot), not
	 * counting the stages it fed: the source (waiting for or parsing
	 * input), each operator (processing, finishing, merging across
	 * ranks), the sink (writing, and putting the output together). */
	double stage_seconds[PL_MAX_STAGES];
	size_t nstages;
	/* Per stage slot too (--profile): rows the stage took in (the
	 * source: rows it read), the pool's bytes held at the highest point
	 * seen while the stage ran, and bytes the stage spilled to disk. */
	uint64_t stage_rows[PL_MAX_STAGES];
	uint64_t stage_peak[PL_MAX_STAGES];
	uint64_t stage_spilled[PL_MAX_STAGES];
} pl_run_stats;

/* The slot of stage_seconds for stage k of a plan with nops operators:
 * k = 0 the source, 1..nops the operators, nops + 1 the sink. */
static inline size_t pl_exec_stage_slot(size_t nops, size_t k)
{
	size_t n = nops + 2 < PL_MAX_STAGES ? nops + 2 : PL_MAX_STAGES;
	if (k == nops + 1)
		return n - 1;
	return k <= n - 2 ? k : n - 2;
}

/* Runs the plan on every rank of comm (collective; one rank is fine). The
 * output file appears under its final name only when every stage on every
 * rank succeeded; on any failure nothing is left behind, and every rank
 * returns an error (the failing rank its own, the others "stopped: rank N
 * failed"). When *stop becomes non-zero (a signal), the run ends between
 * two batches with PL_ERR_IO "interrupted". progress (or NULL) is updated
 * after every chunk read. st holds this rank's figures. */
int pl_exec_run(pl_plan *p, MPI_Comm comm, volatile sig_atomic_t *stop,
		pl_progress *progress, pl_run_stats *st, pl_error *err);

#endif

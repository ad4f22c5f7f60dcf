/* The executor: streams the source's batches through the operator chain
 * into the sink, then finishes the operators in order. */
#ifndef PIPELINE_FRAMEWORK_EXEC_H
#define PIPELINE_FRAMEWORK_EXEC_H

#include <signal.h>
#include <stdint.h>

#include "framework/plan.h"

typedef struct pl_run_stats {
	uint64_t rows_in, rows_out, rows_skipped;
	uint64_t bytes_in, bytes_out;
	uint64_t chunks;
	double seconds;
	size_t peak_pool;
} pl_run_stats;

/* Runs the plan. The output file appears under its final name only when
 * every stage succeeded; on any failure nothing is left behind. When
 * *stop becomes non-zero (a signal), the run ends between two batches with
 * PL_ERR_IO "interrupted". */
int pl_exec_run(pl_plan *p, volatile sig_atomic_t *stop, pl_run_stats *st,
		pl_error *err);

#endif

/* The run's metrics as one JSON object (--metrics FILE), see
 * ARCHITECTURE.md "Metrics". */
#ifndef PIPELINE_FRAMEWORK_METRICS_H
#define PIPELINE_FRAMEWORK_METRICS_H

#include "framework/exec.h"

/* Checks, before the job runs, that rank 0 can write the metrics file, so
 * that a job is not failed after its output appeared. Collective. */
int pl_metrics_check(const char *path, MPI_Comm comm, pl_error *err);

/* Gathers every rank's figures to rank 0, which writes them to path.
 * Collective; PL_ERR_IO on every rank when the file cannot be written. */
int pl_metrics_write(const char *path, const pl_plan *p, const pl_run_stats *st,
		     MPI_Comm comm, pl_error *err);

/* Peak resident set size of this process, in bytes. */
uint64_t pl_peak_rss(void);

#endif

/* The run's metrics as one JSON object (--metrics FILE). */
#ifndef PIPELINE_FRAMEWORK_METRICS_H
#define PIPELINE_FRAMEWORK_METRICS_H

#include "framework/exec.h"

/* Writes the metrics of a finished run to path. PL_ERR_IO on failure. */
int pl_metrics_write(const char *path, const pl_plan *p,
		     const pl_run_stats *st, pl_error *err);

/* Peak resident set size of this process, in bytes. */
uint64_t pl_peak_rss(void);

#endif

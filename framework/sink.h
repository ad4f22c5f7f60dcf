/* The output of a job: picks the writer by the plan's sink format. Output
 * appears under its final name only on commit. */
#ifndef PIPELINE_FRAMEWORK_SINK_H
#define PIPELINE_FRAMEWORK_SINK_H

#include "framework/plan.h"

typedef struct pl_sink pl_sink;

/* Opens the writer for the plan's [sink] with the last stage's schema. */
int pl_sink_open(const pl_plan *p, pl_sink **out, pl_error *err);

int pl_sink_write(pl_sink *s, const pl_batch *b, pl_error *err);

/* Finishes the output and renames it into place; frees s either way. */
int pl_sink_commit(pl_sink *s, pl_error *err);

/* Drops the output; frees s. NULL is fine. */
void pl_sink_abort(pl_sink *s);

/* Bytes written so far (CSV text before compression; 0 for HDF5). */
uint64_t pl_sink_bytes(const pl_sink *s);

#endif

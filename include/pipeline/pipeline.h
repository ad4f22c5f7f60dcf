/* The whole API in one include, and the program itself.
 *
 * Operators include "pipeline/operator.h" (or this header); a program that
 * wants the pipeline command line with the built-in operators (say, a
 * wrapper that sets up its environment first) calls pl_main. Link with
 * libpipeline (pkg-config pipeline, or find_package(pipeline) and the
 * target pipeline::pipeline). */
#ifndef PIPELINE_PIPELINE_H
#define PIPELINE_PIPELINE_H

#include "pipeline/api.h"
#include "pipeline/batch.h"
#include "pipeline/codec.h"
#include "pipeline/datetime.h"
#include "pipeline/error.h"
#include "pipeline/expr.h"
#include "pipeline/input.h"
#include "pipeline/node_group.h"
#include "pipeline/operator.h"
#include "pipeline/pool.h"
#include "pipeline/section.h"

PL_BEGIN_DECLS

/* Runs the pipeline command line (pipeline(1)) with the built-in
 * operators; returns the exit status: 0, 1 (the job failed) or 2 (usage
 * or job.conf error). */
PL_API int pl_main(int argc, char **argv);

/* The runtime's version, "MAJOR.MINOR.PATCH". */
PL_API const char *pl_version(void);

PL_END_DECLS

#endif

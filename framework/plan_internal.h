/* Steps of pl_plan_build, shared between plan.c and plan_sections.c. */
#ifndef PIPELINE_FRAMEWORK_PLAN_INTERNAL_H
#define PIPELINE_FRAMEWORK_PLAN_INTERNAL_H

#include "framework/plan.h"

/* Finds [job], [source], [sink] and the operator sections (into ops, room
 * for conf.n), checking their number and order. */
int pl_plan_classify(pl_plan *p, const pl_section **job, const pl_section **ops,
		     size_t *nops, pl_error *err);
/* Reads [job] (may be NULL) and the command-line overrides. */
int pl_plan_read_job(pl_plan *p, const pl_section *job,
		     const pl_plan_options *o, pl_error *err);
/* Reads [sink]; checks an existing output unless explaining. */
int pl_plan_read_sink(pl_plan *p, const pl_section *s, const pl_plan_options *o,
		      pl_error *err);
/* One flag per source column (schemas[0]): whether some stage uses it
 * (plan_project.c). malloc'd; NULL when out of memory. */
uint8_t *pl_plan_columns_used(const pl_plan *p);

/* Checks the sink, the reject file and the metrics against the inputs and
 * each other (unless explaining); sets sink_kind and exclude_sink. */
int pl_plan_check_outputs(pl_plan *p, const pl_plan_options *o,
			  pl_error *err);

#endif

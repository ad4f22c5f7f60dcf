/* --profile: after a run, the plan as --explain prints it with what each
 * stage did (rows, seconds, peak pool memory, bytes spilled, summed over
 * the ranks), then advice drawn from those figures. */
#ifndef PIPELINE_FRAMEWORK_PROFILE_H
#define PIPELINE_FRAMEWORK_PROFILE_H

#include <stdio.h>

#include "framework/exec.h"

/* The ranks' figures summed (wall time: the slowest rank's). */
typedef struct pl_profile {
	const pl_plan *p;
	int nranks;
	double wall;
	double seconds[PL_MAX_STAGES];
	uint64_t rows[PL_MAX_STAGES], peak[PL_MAX_STAGES];
	uint64_t spilled[PL_MAX_STAGES];
	size_t nstages;
} pl_profile;

/* Sums st over the ranks of comm into *pf on rank 0. Collective (comm may
 * be MPI_COMM_NULL for one process). */
void pl_profile_gather(pl_profile *pf, const pl_plan *p, const pl_run_stats *st,
		       MPI_Comm comm);

/* Writes the annotated plan and the advice to out. */
void pl_profile_print(const pl_profile *pf, FILE *out);

#endif

/* The test kit for operator authors (pipeline --check-operator job.conf):
 * runs each operator of a planned job in this one process on the job's
 * input and checks that the way the runtime splits work does not change
 * its answer.
 *
 * For operator i, the input is what operators 0..i-1 produce, one
 * instance each. The reference is one instance fed the whole input in
 * the job's chunk size. Then, for chunk sizes 1 (small inputs only), 7
 * and 1000: a streaming operator (or one kept per rank) is fed in those
 * chunks; a blocking operator with partial/merge is run as k = 1, 2, 3
 * and 5 instances on consecutive parts, whose partial state is merged in
 * part order into one instance or, with partition_keys, into k instances
 * by key hash, as on k ranks. The outputs must hold the same rows as the
 * reference: in the same order unless partition_keys spreads them
 * (floats equal to 1e-9 relative). Operators with before_split (which
 * read a second input collectively) are reported and skipped. */
#ifndef PIPELINE_FRAMEWORK_CHECK_OPERATOR_H
#define PIPELINE_FRAMEWORK_CHECK_OPERATOR_H

#include <stdio.h>

#include "framework/plan.h"

/* Prints one line per operator and case to out. Returns 0 when every case
 * agreed, PL_ERR_DATA after the first mismatch (described in err and on
 * out), or another negative code when the job itself failed. */
int pl_check_operators(pl_plan *p, FILE *out, pl_error *err);

#endif

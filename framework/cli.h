/* The command line of JOBCONF.md "Running": parses options, runs the job
 * (under MPI when started by mpirun) and returns the exit status. */
#ifndef PIPELINE_FRAMEWORK_CLI_H
#define PIPELINE_FRAMEWORK_CLI_H

#include "pipeline/operator.h"

/* The whole program: main() hands in argv and the built-in operators.
 * Returns 0, 1 (the job failed) or 2 (usage or job.conf error). */
int pl_cli_main(int argc, char **argv, const pl_operator_def *const *builtins);

#endif

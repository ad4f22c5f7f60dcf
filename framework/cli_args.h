/* Command-line options, parsed into one struct. */
#ifndef PIPELINE_FRAMEWORK_CLI_ARGS_H
#define PIPELINE_FRAMEWORK_CLI_ARGS_H

#include <stddef.h>

#include "pipeline/error.h"

typedef struct pl_cli_args {
	const char *conf; /* job.conf path */
	char **sets;	  /* --set values (pointers into argv) */
	size_t nsets;
	const char *memory;
	const char *metrics;
	const char *ranks; /* --ranks value, unparsed, or NULL */
	int explain, profile, list_operators, version, help;
	int check_operator; /* --check-operator: the test kit, one process */
	int progress;	    /* -1: default (terminal), 0 off, 1 on */
	int verbosity;	    /* 0 quiet, 1 normal, 2 verbose */
} pl_cli_args;

/* Parses argv; errors are PL_ERR_CONF ("unknown option ..."). a->sets is
 * malloc'd: free it. */
int pl_cli_parse(int argc, char **argv, pl_cli_args *a, pl_error *err);

/* The --help text. */
extern const char pl_cli_usage[];

#endif

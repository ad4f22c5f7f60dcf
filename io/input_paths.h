/* The `path` key of a source: a file, a comma-separated list, or globs,
 * resolved against the job.conf directory and checked to exist. */
#ifndef PIPELINE_IO_INPUT_PATHS_H
#define PIPELINE_IO_INPUT_PATHS_H

#include "pipeline/section.h"

/* Appends the files `path` names, in order (a glob's matches sorted), to
 * *paths (malloc'd array of malloc'd strings, *n entries; the caller frees
 * both). "-" (standard input) is accepted only when allow_stdin is set.
 * Errors: a missing file, a directory, a glob matching nothing are
 * PL_ERR_IO naming the path; a malformed list is PL_ERR_CONF naming the
 * line. */
int pl_input_paths(const pl_section *s, int allow_stdin, char ***paths,
		   size_t *n, pl_error *err);

#endif

/* The job.conf reader: INI sections and keys as the contract's "File
 * format" says, ${NAME} and ${NAME:-default} substitution, continuation
 * lines, trailing comments, and --set overrides. It knows nothing of what
 * sections mean; the planner checks names and order. */
#ifndef PIPELINE_FRAMEWORK_CONF_H
#define PIPELINE_FRAMEWORK_CONF_H

#include <stdint.h>

#include "pipeline/section.h"

typedef struct pl_conf {
	char *file; /* path as given */
	char *dir;  /* its directory */
	size_t n;
	pl_section *sections; /* in file order */
} pl_conf;

/* Reads and parses path, then applies the --set overrides
 * ("SECTION.KEY=VALUE" or "NAME#K.KEY=VALUE"; a --set into a section the
 * file lacks is an error, except job, which is created). Errors are
 * PL_ERR_CONF with "FILE:LINE: message" (or "--set ...: message"); an
 * unreadable file is PL_ERR_CONF too (exit 2). conf is the caller's:
 * pl_conf_free. */
int pl_conf_load(const char *path, char *const *sets, size_t nsets,
		 pl_conf *conf, pl_error *err);

/* Parses text as if it were the file `file` in directory dir. */
int pl_conf_parse(const char *text, size_t len, const char *file,
		  const char *dir, pl_conf *conf, pl_error *err);

/* Applies one --set override to a parsed conf. */
int pl_conf_apply_set(pl_conf *conf, const char *set, pl_error *err);

void pl_conf_free(pl_conf *conf);

/* Parses a size: 123, 64KiB, 512MiB, 4GiB, 1.5GB (KB MB GB TB powers of
 * 1000, KiB MiB GiB TiB of 1024), or a share of node_bytes such as 60%.
 * Returns 0 or -1 when malformed. */
int pl_parse_size(const char *s, uint64_t node_bytes, uint64_t *out);

#endif

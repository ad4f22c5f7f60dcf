/* One section of a job.conf, as operators see it: its keys in file order,
 * with the line each came from, after ${} substitution and --set. */
#ifndef PIPELINE_SECTION_H
#define PIPELINE_SECTION_H

#include <stddef.h>

#include "pipeline/api.h"
#include "pipeline/error.h"

PL_BEGIN_DECLS

typedef struct pl_kv {
	char *key;
	char *value;
	int line; /* job.conf line of the key (0 for a --set that added it) */
} pl_kv;

typedef struct pl_section {
	char *name;	  /* "source", "groupby", "myop" */
	int line;	  /* line of the [name] header */
	int occurrence;	  /* 1-based count among sections of this name */
	const char *file; /* job.conf path as given, for messages */
	const char *dir;  /* directory of job.conf, for relative paths */
	size_t n;
	pl_kv *kv;
} pl_section;

/* The entry for key, or NULL. */
PL_API const pl_kv *pl_section_find(const pl_section *s, const char *key);

/* The value of key, or def when the key is absent. */
PL_API const char *pl_section_get(const pl_section *s, const char *key,
				  const char *def);

/* Fails with PL_ERR_CONF "FILE:LINE: [name] unknown key 'k' (did you mean
 * 'x'?)" for the first key not in the NULL-terminated list known, or
 * "FILE:LINE: [name] key 'k' given twice (first at line N)" for a repeated
 * known key, whichever comes first in the file. A NULL list accepts every
 * key and checks only repeats. */
PL_API int pl_section_check_keys(const pl_section *s, const char *const *known,
				 pl_error *err);

/* Sets a PL_ERR_CONF error "FILE:LINE: [name] message", LINE being the
 * key's line when key names one, else the section's. A key set by --set
 * (line 0) gives "--set NAME[#K].KEY: message". Returns PL_ERR_CONF. */
PL_API int pl_section_error(const pl_section *s, const char *key, pl_error *err,
			    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Re-issues the error in err (say, from pl_split_names) as one naming
 * key's line: "FILE:LINE: [name] key: message". PL_ERR_NOMEM is passed on
 * unchanged. Returns the resulting code. */
PL_API int pl_section_rewrap(const pl_section *s, const char *key, int rc,
			     pl_error *err);

/* Parses key as a non-negative integer (def when absent). */
PL_API int pl_section_get_count(const pl_section *s, const char *key,
				long long def, long long *out, pl_error *err);

/* Parses key as true/false/yes/no/1/0 (def when absent). */
PL_API int pl_section_get_bool(const pl_section *s, const char *key, int def,
			       int *out, pl_error *err);

/* Splits a comma-separated list of names, honouring backquotes (which are
 * removed) and trimming blanks. *out is a malloc'd array of malloc'd
 * strings; free with pl_names_free. An empty element is an error. */
PL_API int pl_split_names(const char *list, char ***out, size_t *n,
			  pl_error *err);
PL_API void pl_names_free(char **names, size_t n);

/* Resolves path against the section's directory into buf (absolute paths
 * and "-" stay as they are). */
PL_API int pl_section_path(const pl_section *s, const char *path, char *buf,
			   size_t cap, pl_error *err);

/* The closest of the NULL-terminated candidates to word (edit distance at
 * most a third of its length, at least 1 and at most 3), or NULL. */
PL_API const char *pl_suggest(const char *word, const char *const *candidates);

PL_END_DECLS

#endif

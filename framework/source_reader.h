/* The readers behind a pl_source, one table of functions per format, as
 * Redis varies a dict by its dictType: source.c picks the row by `format`
 * or by the path's extension and calls through it, and only the rows
 * (source_csv.c, source_hdf5.c) know one format from another. */
#ifndef PIPELINE_FRAMEWORK_SOURCE_READER_H
#define PIPELINE_FRAMEWORK_SOURCE_READER_H

#include "framework/source.h"

/* What opening a reader is given (see pl_source_open_excluding). */
typedef struct pl_source_args {
	const pl_section *s;
	int use_columns;
	const char *exclude; /* or NULL */
	pl_pool *pool;
} pl_source_args;

/* A format. Every function but open takes the state open made. Optional
 * entries are NULL when the format has nothing to do there. */
typedef struct pl_source_reader {
	const char *name;		 /* its `format` value */
	const char *const *extensions;	 /* of paths it reads, NULL-ended */
	const char *const *section_keys; /* `path` among them, NULL-ended */
	/* Opens the files a's section names; *state is the reader's, freed
	 * by close also when open fails; desc gets pl_source_describe's
	 * line ("csv: data.csv and more"). */
	int (*open)(const pl_source_args *a, void **state, char *desc,
		    size_t cap, pl_error *err);
	const pl_schema *(*schema)(const void *state);
	int (*project)(void *state, const uint8_t *keep, pl_error *err);
	/* Optional: bytes its read caches may hold. */
	void (*set_cache_budget)(void *state, uint64_t bytes);
	/* Collective, as pl_source_partition; *guessed as
	 * pl_source_split_guessed. */
	int (*partition)(void *state, MPI_Comm comm, int guess, int *guessed,
			 pl_error *err);
	int (*next)(void *state, size_t max_rows, pl_batch **out,
		    pl_error *err);
	pl_source_stats (*stats)(const void *state);
	/* Optional: dictionary-encoded string columns. */
	int (*allow_dict)(void *state, pl_error *err);
	/* Optional: reading on a second thread (1 when it runs), and its
	 * end; a reader without them reads on the caller's thread. */
	int (*read_ahead)(void *state, size_t max_rows);
	void (*stop_read_ahead)(void *state);
	/* Optional: completing (collective) or removing what the reader
	 * wrote, after a job that succeeded or failed. */
	int (*commit)(void *state, MPI_Comm comm, pl_error *err);
	void (*discard)(void *state);
	void (*close)(void *state); /* NULL state is fine */
} pl_source_reader;

extern const pl_source_reader pl_source_csv;
extern const pl_source_reader pl_source_hdf5;

/* Readies the paths and the `columns` selection of a's section for an
 * open: drops a->exclude and its temporary files from paths (a
 * PL_ERR_CONF naming the section's path line when none is left), and
 * reads `columns` into *columns and *ncolumns when a->use_columns. */
int pl_source_prepare(const pl_source_args *a, char **paths, size_t *npaths,
		      char ***columns, size_t *ncolumns, pl_error *err);

/* "FORMAT: PATH", or "FORMAT: PATH and more" when n > 1: the first of
 * the n paths a reader of format name opened, for pl_source_describe. */
void pl_source_describe_paths(char *desc, size_t cap, const char *name,
			      char *const *paths, size_t n);

#endif

/* Rows ordered by a range split's keys, and the merge of streams sorted by
 * them: the receiving end of a sample sort whose operator emits exactly
 * what it merged (PL_SPLIT_RANGE_MERGE), where a k-way merge of what the
 * ranks sent replaces storing it all again and sorting it a second time. */
#ifndef PIPELINE_FRAMEWORK_RANGE_MERGE_H
#define PIPELINE_FRAMEWORK_RANGE_MERGE_H

#include "framework/run_file.h"
#include "pipeline/operator.h"

/* <0, 0 or >0 as value a of column x sorts before, with or after value b
 * of column y (of the same type) by key: NULLs last in either direction.
 * The one comparison of a range split, for rows, samples and splitters. */
int pl_range_compare_key(const pl_range_key *key, const pl_column *x, size_t a,
			 const pl_column *y, size_t b);

/* <0, 0 or >0 as row a of columns ca sorts before, with or after row b of
 * columns cb by keys (columns of the same types in the same places; NULLs
 * last in either direction). */
int pl_range_compare(const pl_range_key *keys, size_t nkeys,
		     const pl_column *ca, size_t a, const pl_column *cb,
		     size_t b);

/* What pl_range_merge reads and writes. */
typedef struct pl_range_merge_spec {
	pl_run_file *const *runs; /* each sorted by keys; runs[r] may be NULL */
	size_t nruns;
	const pl_schema *schema;     /* of the runs' batches */
	const pl_schema *out_schema; /* their first out_schema->n columns */
	const pl_range_key *keys;
	size_t nkeys;
	size_t chunk_rows; /* rows per output batch, at most */
	/* Optional: run `own` (< nruns) is read through read_own instead of
	 * runs[own]: it fills an empty batch of out_schema with the run's
	 * next rows, none at its end. */
	size_t own;
	int (*read_own)(void *arg, pl_batch *b, pl_error *err);
	void *own_arg;
	/* Optional instead of read_own: run `own` is read in place, never
	 * copied out: own_n rows of own_rows (columns of out_schema, lent),
	 * its k-th being row own_idx[k] (own_idx not NULL). */
	const pl_batch *own_rows;
	const uint32_t *own_idx;
	size_t own_n;
} pl_range_merge_spec;

/* Emits the rows of all runs to out in key order, equal rows in run
 * order and then in each run's own order, as batches of out_schema (lent
 * for the call). Holds one batch of each run and one output batch at a
 * time. Returns 0, the emitter's status (PL_STOP ends the merge early and
 * is returned), or a run file's error. */
int pl_range_merge(const pl_range_merge_spec *spec, pl_pool *pool,
		   const pl_emitter *out, pl_error *err);

#endif

/* A table source opened from a section's keys ([source], or [join]'s right
 * side): picks the reader by `format` or by extension and streams batches.
 * The one place that knows which readers exist. */
#ifndef PIPELINE_FRAMEWORK_SOURCE_H
#define PIPELINE_FRAMEWORK_SOURCE_H

#include <mpi.h>
#include <stdint.h>

#include "pipeline/batch.h"
#include "pipeline/section.h"

typedef struct pl_source pl_source;

/* Keys pl_source_open reads from a section (NULL-terminated): path,
 * format, the CSV keys, the HDF5 keys; plus `columns` when use_columns. */
int pl_source_keys(int use_columns, const char ***keys, size_t *n);

/* Opens the source described by s. When use_columns is set, the
 * section's `columns` key selects and orders the columns (an unknown name
 * is a PL_ERR_CONF naming job.conf:LINE with a suggestion). Reads only the
 * header and inference sample. */
int pl_source_open(const pl_section *s, int use_columns, pl_pool *pool,
		   pl_source **out, pl_error *err);

/* As pl_source_open, leaving out of the files the source names the one
 * that is exclude (the job's own output, which a glob may match) and its
 * temporary files; exclude may be NULL. */
int pl_source_open_excluding(const pl_section *s, int use_columns,
			     const char *exclude, pl_pool *pool,
			     pl_source **out, pl_error *err);

const pl_schema *pl_source_schema(const pl_source *src);

/* Whether the planner may narrow the source to the columns the job uses:
 * not when `columns` chose them or `validate = all` wants every column
 * converted. */
int pl_source_projectable(const pl_source *src);

/* Narrows the schema and the batches to the columns k with keep[k] set
 * (projection pushdown, see the readers). Call before reading. */
int pl_source_project(pl_source *src, const uint8_t *keep, pl_error *err);

/* Bytes the source may hold in its read caches (HDF5: the chunk caches of
 * the open file's datasets together). Call before reading. */
void pl_source_set_cache_budget(pl_source *src, uint64_t bytes);

/* Restricts this rank to its share of the input among the ranks of comm
 * (CSV: byte ranges moved to true record starts; HDF5: an even split of
 * the rows), so that the shares of ranks 0, 1, ... are the input in order.
 * Collective: every rank of comm calls it; when one fails, all fail.
 * With guess set (and no on_error = skip) a CSV split guesses quote
 * parity at its edges instead of counting every byte before them (see
 * pl_csv_partition_mpi): rows then carry no line numbers off rank 0's
 * first piece, and a data error may come of a wrong guess. */
int pl_source_partition(pl_source *src, MPI_Comm comm, int guess,
			pl_error *err);

/* Whether the last pl_source_partition guessed an edge (alike on every
 * rank): a job that then fails with PL_ERR_DATA is to be run again with
 * guess off, for the right rows or the right line in the message. */
int pl_source_split_guessed(const pl_source *src);

/* Next batch of at most max_rows rows (owned by the source, valid until
 * the next call), or *out = NULL at the end. */
int pl_source_next(pl_source *src, size_t max_rows, pl_batch **out,
		   pl_error *err);

/* Lets the source hand out dictionary-encoded string columns (the CSV
 * reader does, for columns with few distinct values); only for a consumer
 * that set pl_operator.dict_input. Call before the first batch. */
int pl_source_allow_dict(pl_source *src, pl_error *err);

/* From now on a second thread reads the next batch while the caller works
 * on the current one (CSV only: HDF5 is not thread-safe). Returns 1 when
 * the thread runs, 0 when the source reads on the caller's thread (HDF5,
 * or no thread could be made). Call after pl_source_partition; the other
 * functions stop the thread where they must. */
int pl_source_read_ahead(pl_source *src, size_t max_rows);

/* Ends the read-ahead (a no-op without one), so that the source is again
 * used from one thread; a batch read ahead is dropped. */
void pl_source_stop_read_ahead(pl_source *src);

typedef struct pl_source_stats {
	uint64_t rows, rows_skipped, bytes_read, bytes_total;
} pl_source_stats;

pl_source_stats pl_source_get_stats(const pl_source *src);

/* A one-line description for --explain ("csv: data.csv (1 file)"). */
const char *pl_source_describe(const pl_source *src);

/* After the last row of a job that succeeded: completes what the source
 * writes (the reject file; across ranks, rank 0 joins the ranks' parts in
 * rank order). Collective. */
int pl_source_commit(pl_source *src, MPI_Comm comm, pl_error *err);

/* After a failed job: removes what the source wrote (a reject file). */
void pl_source_discard(pl_source *src);

void pl_source_close(pl_source *src);

#endif

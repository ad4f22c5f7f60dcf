/* HDF5 source: one 1-D dataset per column (`datasets`) or one 1-D
 * compound dataset whose fields are the columns (`dataset`), over one or
 * several files read as one table. Reads row ranges through hyperslab
 * selections straight into packed columns. */
#ifndef PIPELINE_IO_HDF5_READER_H
#define PIPELINE_IO_HDF5_READER_H

#include <stdint.h>

#include "pipeline/batch.h"
#include "pipeline/section.h"

typedef struct pl_hdf5_options {
	char **paths; /* resolved, glob-expanded, in order */
	size_t npaths;
	char **datasets; /* `datasets`: paths inside the file, or NULL */
	size_t ndatasets;
	char *dataset;	/* `dataset`: a compound dataset, or NULL */
	char **columns; /* selection and order, or NULL for all */
	size_t ncolumns;
	const pl_section *section; /* for messages naming job.conf lines */
	uint64_t cache_budget;	   /* bytes for the chunk caches of a file's
				      datasets together; 0: no limit beyond
				      256 MiB a dataset. May be set after
				      opening, before reading. */
	char **time_columns;	   /* integer columns that are dates or times */
	int *time_units;	   /* their units (io/hdf5_time.h) */
	size_t ntime;
} pl_hdf5_options;

/* Keys pl_hdf5_options_from_section reads (NULL-terminated). */
extern const char *const pl_hdf5_section_keys[];

/* Fills o from path, datasets, dataset (exactly one of the two),
 * time_columns and time_unit. The
 * caller sets columns. Errors as for pl_csv_options_from_section. */
int pl_hdf5_options_from_section(const pl_section *s, pl_hdf5_options *o,
				 pl_error *err);
void pl_hdf5_options_free(pl_hdf5_options *o);

typedef struct pl_hdf5_reader pl_hdf5_reader;

/* Opens the files and datasets and fixes the schema: integers of any width
 * and sign -> int64 (uint64 values above INT64_MAX are a data error naming
 * file, dataset and row), float/double -> float64, fixed or variable-length
 * strings -> string; anything else is PL_ERR_DATA naming file, dataset and
 * type. A truncated or non-HDF5 file, a missing dataset, datasets of
 * unequal length: clear errors naming file and dataset. */
int pl_hdf5_reader_open(const pl_hdf5_options *o, pl_pool *pool,
			pl_hdf5_reader **out, pl_error *err);

const pl_schema *pl_hdf5_reader_schema(const pl_hdf5_reader *r);

/* Narrows the batches to the columns k of the schema with keep[k] set:
 * the other datasets (or compound fields) are never read. Call before
 * the first batch. */
int pl_hdf5_reader_project(pl_hdf5_reader *r, const uint8_t *keep,
			   pl_error *err);

/* Total rows over all files (known without reading data). */
uint64_t pl_hdf5_reader_total_rows(const pl_hdf5_reader *r);

/* The chunk boundary (of the file holding global row `row`) nearest to
 * it, so that ranks' row ranges do not share chunks: a chunk read (and
 * decompressed) by two ranks costs both. row itself for contiguous
 * datasets. */
uint64_t pl_hdf5_reader_align(const pl_hdf5_reader *r, uint64_t row);

/* Restricts reading to global rows [first, first + count) (for ranks).
 * Call before the first pl_hdf5_reader_next. */
int pl_hdf5_reader_set_range(pl_hdf5_reader *r, uint64_t first, uint64_t count,
			     pl_error *err);

/* Next batch of at most max_rows rows (owned by the reader, valid until
 * the next call); *out NULL at the end. */
int pl_hdf5_reader_next(pl_hdf5_reader *r, size_t max_rows, pl_batch **out,
			pl_error *err);

typedef struct pl_hdf5_stats {
	uint64_t rows, bytes_read, bytes_total;
} pl_hdf5_stats;

pl_hdf5_stats pl_hdf5_reader_stats(const pl_hdf5_reader *r);

void pl_hdf5_reader_close(pl_hdf5_reader *r);

#endif

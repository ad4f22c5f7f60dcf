/* HDF5 sink: `layout = columns` (one chunked 1-D dataset per column under
 * `group`) or `compound` (one chunked dataset `table` of a compound type
 * under `group`), optionally zstd-compressed through the HDF5 filter id
 * 32015, which pipeline registers itself.
 *
 * Strings are stored fixed-length, so the datasets' shape must be known
 * before they are created: the caller first gathers a pl_hdf5_shape over
 * all the rows (over all ranks), then opens the writer on a file it has
 * created and writes each row range in place. With a communicator, every
 * call below is collective and uses parallel HDF5 (MPI-IO, collective
 * transfers), so many ranks write one file. */
#ifndef PIPELINE_IO_HDF5_WRITER_H
#define PIPELINE_IO_HDF5_WRITER_H

#include <mpi.h>
#include <stdint.h>

#include "pipeline/batch.h"

enum { PL_HDF5_COLUMNS, PL_HDF5_COMPOUND };

typedef struct pl_hdf5_sink_options {
	const char *path;	 /* the final name, for messages */
	int layout;		 /* PL_HDF5_COLUMNS or PL_HDF5_COMPOUND */
	const char *group;	 /* "/" by default */
	int zstd_level;		 /* 0: no compression */
	const char *job_name;	 /* written as an attribute */
	const char *source_desc; /* written as an attribute */
} pl_hdf5_sink_options;

/* What the datasets need before they are created. */
typedef struct pl_hdf5_shape {
	uint64_t rows;	 /* rows in the file */
	size_t n;	 /* columns */
	uint64_t *width; /* per column: bytes of its longest string (up to
			    the first NUL) */
	uint64_t *nulls; /* per column: nonzero when it has a NULL */
} pl_hdf5_shape;

/* An empty shape for the schema's columns. Returns 0 or PL_ERR_NOMEM. */
int pl_hdf5_shape_init(pl_hdf5_shape *sh, const pl_schema *s, pl_error *err);

/* Counts b's rows, widest strings and NULLs into sh. */
void pl_hdf5_shape_add(pl_hdf5_shape *sh, const pl_batch *b);

void pl_hdf5_shape_free(pl_hdf5_shape *sh);

typedef struct pl_hdf5_writer pl_hdf5_writer;

/* Opens the existing file `file` (truncating it) and creates the group and
 * datasets for sh->rows rows: chunked, extensible, strings fixed-length
 * of the shape's widths, a uint8 "<column>__valid" dataset for each column
 * with NULLs, attributes `source` and `job` on every column's dataset.
 * comm is MPI_COMM_NULL for one process, else every rank of comm calls
 * this with the same options and shape. Errors are PL_ERR_IO naming
 * o->path, or PL_ERR_DATA for a column name that cannot name a dataset;
 * on failure nothing is left open (the caller removes the file). */
int pl_hdf5_writer_open(const pl_hdf5_sink_options *o, const char *file,
			const pl_schema *s, const pl_hdf5_shape *sh,
			MPI_Comm comm, pl_hdf5_writer **out, pl_error *err);

/* Writes the rows of b at rows [first, first + b->nrows). With a
 * communicator every rank calls it the same number of times; a rank with
 * nothing to write passes b NULL. Errors are PL_ERR_IO naming the path
 * and dataset. */
int pl_hdf5_writer_write(pl_hdf5_writer *w, uint64_t first, const pl_batch *b,
			 pl_error *err);

/* Closes the file (flushing it; collective with a communicator) and frees
 * w, also on failure. NULL is fine. Returns PL_ERR_IO when the flush
 * failed, else 0. */
int pl_hdf5_writer_close(pl_hdf5_writer *w, pl_error *err);

/* After a failure every rank agreed on: drops w without the collective
 * close, which could wait forever on ranks whose writes failed apart (a
 * full disk). The caller removes the file. NULL is fine. */
void pl_hdf5_writer_abandon(pl_hdf5_writer *w);

/* Registers the zstd filter (id 32015) with the HDF5 library; idempotent.
 * Returns 0 or PL_ERR_INTERNAL. */
int pl_hdf5_register_zstd(pl_error *err);

#endif

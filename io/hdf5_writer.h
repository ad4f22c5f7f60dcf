/* HDF5 sink: `layout = columns` (one chunked 1-D dataset per column under
 * `group`) or `compound` (one chunked dataset `table` of a compound type
 * under `group`), optionally zstd-compressed through the HDF5 filter id
 * 32015, which pipeline registers itself. Written under a temporary name
 * and renamed on commit. */
#ifndef PIPELINE_IO_HDF5_WRITER_H
#define PIPELINE_IO_HDF5_WRITER_H

#include <stdint.h>

#include "pipeline/batch.h"

enum { PL_HDF5_COLUMNS, PL_HDF5_COMPOUND };

typedef struct pl_hdf5_sink_options {
	const char *path;
	int layout;		 /* PL_HDF5_COLUMNS or PL_HDF5_COMPOUND */
	const char *group;	 /* "/" by default */
	int zstd_level;		 /* 0: no compression */
	const char *job_name;	 /* written as an attribute */
	const char *source_desc; /* written as an attribute */
} pl_hdf5_sink_options;

typedef struct pl_hdf5_writer pl_hdf5_writer;

/* Creates the temporary file and the datasets (extensible, chunked).
 * Strings are stored as variable-length UTF-8 strings (what h5py reads as
 * str). Errors are PL_ERR_IO naming the path. */
int pl_hdf5_writer_open(const pl_hdf5_sink_options *o, const pl_schema *s,
			pl_hdf5_writer **out, pl_error *err);

/* Appends the rows of b. */
int pl_hdf5_writer_write(pl_hdf5_writer *w, const pl_batch *b, pl_error *err);

/* Closes and renames to the final name; frees w (also on failure, after
 * removing the temporary file). */
int pl_hdf5_writer_commit(pl_hdf5_writer *w, pl_error *err);

/* Removes the temporary file and frees w. NULL is fine. */
void pl_hdf5_writer_abort(pl_hdf5_writer *w);

/* Registers the zstd filter (id 32015) with the HDF5 library; idempotent.
 * Returns 0 or PL_ERR_INTERNAL. */
int pl_hdf5_register_zstd(pl_error *err);

#endif

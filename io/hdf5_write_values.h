/* A batch's values in the shape H5Dwrite takes: a column's own array
 * where it already is one, else a scratch copy (NaN in NULL float slots,
 * NUL-terminated string pointers), or rows of a compound record. */
#ifndef PIPELINE_IO_HDF5_WRITE_VALUES_H
#define PIPELINE_IO_HDF5_WRITE_VALUES_H

#include <hdf5.h>

#include "pipeline/batch.h"

typedef struct pl_h5_values {
	const void *buf; /* n values for the column type's memory type */
	void *own;	 /* scratch, or NULL */
	char *text;	 /* NUL-terminated copies of strings, or NULL */
} pl_h5_values;

/* The first n values of c. Returns 0 or PL_ERR_NOMEM. */
int pl_h5_values_make(const pl_column *c, size_t n, pl_h5_values *v,
		      pl_error *err);
void pl_h5_values_free(pl_h5_values *v);

/* Records of a compound row: column k in the 8-byte slot k. */
typedef struct pl_h5_rows {
	void *buf;
	pl_h5_values *vals; /* what the string pointers point into */
	size_t ncols;
} pl_h5_rows;

int pl_h5_rows_make(const pl_batch *b, pl_h5_rows *r, pl_error *err);
void pl_h5_rows_free(pl_h5_rows *r);

/* The memory type of those records, and the packed type stored. */
hid_t pl_h5_row_mem_type(const pl_schema *s);
hid_t pl_h5_row_file_type(const pl_schema *s);

#endif

/* A batch's values in the shape H5Dwrite takes: a column's own array
 * where it already is one, else a scratch copy (NaN in NULL float slots,
 * strings packed into fixed-width slots), or packed compound records. */
#ifndef PIPELINE_IO_HDF5_WRITE_VALUES_H
#define PIPELINE_IO_HDF5_WRITE_VALUES_H

#include <hdf5.h>

#include "pipeline/batch.h"

/* Bytes of one stored value: 8 for int64 and float64, 1 for bool, the
 * string width (at least 1) for strings. */
size_t pl_h5_value_size(pl_type t, size_t width);

/* Bytes of a string up to its first NUL (where HDF5 strings end). */
size_t pl_h5_str_len(const char *s, size_t len);

typedef struct pl_h5_values {
	const void *buf; /* n values for the column type's memory type */
	void *own;	 /* scratch, or NULL */
} pl_h5_values;

/* The first n values of c; strings go into width-byte slots, cut at their
 * first NUL and NUL-padded (width must be at least every value's
 * pl_h5_str_len). Returns 0 or PL_ERR_NOMEM. */
int pl_h5_values_make(const pl_column *c, size_t n, size_t width,
		      pl_h5_values *v, pl_error *err);
void pl_h5_values_free(pl_h5_values *v);

/* Packed compound records of b: column k's value at the sum of the value
 * sizes of the columns before it. widths[k] is column k's string width.
 * Returns 0 or PL_ERR_NOMEM; free buf with free(). */
int pl_h5_rows_make(const pl_batch *b, const size_t *widths, void **buf,
		    pl_error *err);

/* The memory type of those records, and the packed type stored; both have
 * the same size and offsets. Negative on failure. */
hid_t pl_h5_row_mem_type(const pl_schema *s, const size_t *widths);
hid_t pl_h5_row_file_type(const pl_schema *s, const size_t *widths);

#endif

/* One HDF5 file opened as a table: its column datasets (or its compound
 * dataset's fields) checked, typed and ready for hyperslab reads. The
 * reader keeps one open at a time. */
#ifndef PIPELINE_IO_HDF5_TABLE_H
#define PIPELINE_IO_HDF5_TABLE_H

#include <stdint.h>

#include "io/hdf5_reader.h"
#include "io/hdf5_types.h"

typedef struct pl_h5_src {
	char *name;  /* the column's name */
	char *field; /* the compound member it is read from, or NULL */
	char *where; /* its dataset's path, for messages */
	hid_t dset;  /* its dataset, or the shared compound table */
	hid_t valid; /* its NULLs dataset, or H5I_INVALID_HID */
	pl_h5_type t;
	int unit;      /* a date or time column's unit (io/hdf5_time.h), or 0 */
	unsigned elem; /* element of an array member, column of a 2-D
			  dataset */
	unsigned width; /* elements of an array member; 1: a plain value */
	int array;	/* an element of an array member (even of length 1) */
	int twod;	/* a column of a 2-D dataset (rows x columns) */
	int nat;	/* the least int64 is NULL (pandas' NaT) */
} pl_h5_src;

typedef struct pl_h5_table {
	const char *path; /* the file, for messages */
	hid_t file;
	hid_t table; /* the compound dataset, or H5I_INVALID_HID */
	size_t n, cap;
	pl_h5_src *src;
	uint64_t nrows;
	uint64_t chunk;	  /* rows per chunk of the first dataset; 0: none */
	size_t cache_cap; /* chunk cache bytes per dataset, at most */
} pl_h5_table;

/* Opens file o->paths[file] and every dataset o names, each with a chunk
 * cache of two of its chunks (at least 4 MiB) but at most 256 MiB, or its
 * share of o->cache_budget when that is set. Errors name the
 * file and the dataset: PL_ERR_IO when the file cannot be opened at all,
 * PL_ERR_DATA for a file that is not HDF5 or is damaged, a missing
 * dataset, a dataset that is not 1-D, unequal lengths, an unsupported
 * type. On failure t is closed. */
int pl_h5_table_open(const pl_hdf5_options *o, size_t file, pl_h5_table *t,
		     pl_error *err);

void pl_h5_table_close(pl_h5_table *t);

/* Names t's file (t NULL: none) in the report of a crash until the next
 * call: libhdf5 1.10 reads out of bounds on some damaged metadata, and
 * the process then ends with status 1 naming the file instead of a bare
 * segmentation fault (see pl_crash_cleanup_blame). Opening, reading and
 * closing a table do it around their calls into the library. */
void pl_h5_blame(const pl_h5_table *t);

/* Names element j of the k of array member `field` (for pandas' blocks):
 * a malloc'd name in *name, or NULL for the default "field_j". */
typedef int (*pl_h5_namer)(void *arg, const char *field, unsigned j, unsigned k,
			   char **name, pl_error *err);

/* The building blocks pl_h5_table_open uses, for io/hdf5_pandas.c: a 1-D
 * dataset as column `name` (NULL: the path's last part); a compound
 * dataset's fields as columns, an array member as one column per element
 * (named by namer when given); a 2-D dataset's k columns named
 * names[0 .. k). Each checks the length against the first column. */
int pl_h5_add_dataset(pl_h5_table *t, const char *path, const char *name,
		      pl_error *err);
int pl_h5_add_compound(pl_h5_table *t, const char *path, pl_h5_namer namer,
		       void *arg, pl_error *err);
int pl_h5_add_2d(pl_h5_table *t, const char *path, char *const *names, size_t k,
		 pl_error *err);

/* "file.h5:/a" or "file.h5:/table, field 'a'" for column i. */
void pl_h5_table_where(const pl_h5_table *t, size_t i, char *buf, size_t cap);

/* Reads rows [first, first + n) of column i into c, replacing what c
 * held. Pool memory only for c and small scratch buffers. */
int pl_h5_read_column(const pl_h5_table *t, size_t i, uint64_t first, size_t n,
		      pl_column *c, pl_pool *pool, pl_error *err);

#endif

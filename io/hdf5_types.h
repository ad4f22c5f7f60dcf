/* What the HDF5 reader and writer share: the mapping between HDF5
 * datatypes and pipeline types, the validity-dataset naming scheme, and
 * turning HDF5's error stack into one line for our messages. */
#ifndef PIPELINE_IO_HDF5_TYPES_H
#define PIPELINE_IO_HDF5_TYPES_H

#include <hdf5.h>
#include <stddef.h>

#include "pipeline/batch.h"

/* How a stored type is read. */
typedef enum pl_h5_kind {
	PL_H5_INT,    /* an integer that always fits int64: read as int64 */
	PL_H5_UINT64, /* unsigned 64-bit: read as uint64, then checked */
	PL_H5_FLOAT,  /* any float: read as double */
	PL_H5_BOOL,   /* h5py's bool, an enum with FALSE and TRUE */
	PL_H5_FSTR,   /* fixed-length string */
	PL_H5_VSTR,   /* variable-length string */
	PL_H5_BITS,   /* an 8-bit bitfield (PyTables' bool): 0 false, else
			 true */
	PL_H5_ENUM    /* any other enum: its members' names, as strings */
} pl_h5_kind;

typedef struct pl_h5_type {
	pl_h5_kind kind;
	pl_type type; /* the column type it becomes */
	size_t size;  /* bytes of a fixed-length string or an enum value */
	int spacepad; /* fixed-length string padded with spaces */
	H5T_cset_t cset;
	hid_t native; /* PL_H5_ENUM: the enum in native order (owned: close
			 with pl_h5_type_free); else H5I_INVALID_HID */
} pl_h5_type;

/* Suffix of the uint8 dataset that holds a column's NULLs (1 present, 0
 * NULL), beside the column's dataset (or the compound table). */
#define PL_H5_VALID_SUFFIX "__valid"

/* Classifies the stored type t. Returns 0, or -1 with a description of
 * the unsupported type in why. An enum's out->native is then the
 * caller's (pl_h5_type_free). */
int pl_h5_classify(hid_t t, pl_h5_type *out, char *why, size_t cap);

/* Closes what pl_h5_classify opened (nothing for most kinds). */
void pl_h5_type_free(pl_h5_type *t);

/* A short description of t for messages ("32-bit signed integer"). */
void pl_h5_describe(hid_t t, char *buf, size_t cap);

/* The memory type that reads a value of kind t into a column's slot
 * (int64, uint64, double, uint8 bool, char[size] or char *). The caller
 * closes it. Negative on failure. */
hid_t pl_h5_mem_type(const pl_h5_type *t);

/* The enum h5py writes for numpy's bool (FALSE = 0, TRUE = 1) over a
 * one-byte integer base. */
hid_t pl_h5_bool_type(hid_t base);

/* The stored type of a column type: little-endian int64 and double,
 * h5py's bool over int8, and for strings a fixed-length UTF-8 string of
 * width bytes (NUL-padded; at least 1). */
hid_t pl_h5_file_type(pl_type t, size_t width);

/* The memory type of a column's values as the writer hands them over
 * (int64, double, uint8 bool, char[width]). */
hid_t pl_h5_write_type(pl_type t, size_t width);

/* A NUL-padded fixed-length UTF-8 string type of width bytes (1 when
 * width is 0, as HDF5 has no empty string type). */
hid_t pl_h5_fixed_str_type(size_t width);

/* The variable-length UTF-8 string type h5py reads as str. */
hid_t pl_h5_vstr_type(void);

/* Silences HDF5's own printing of errors; we report them ourselves. */
void pl_h5_quiet(void);

/* The innermost message on HDF5's error stack ("truncated file: ..."), or
 * "unknown HDF5 error", into buf. */
void pl_h5_last_error(char *buf, size_t cap);

/* Every HDF5 call clears the error stack, the closing of ids after a
 * failure too: keep takes the stack away, restore puts it back (and
 * releases the copy). */
hid_t pl_h5_error_keep(void);
void pl_h5_error_restore(hid_t stack);

#endif

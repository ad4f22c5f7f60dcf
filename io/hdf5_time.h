/* Dates and timestamps in HDF5: integer datasets with a unit. Reading
 * takes the unit from the source's time_columns (and time_unit) keys, or
 * from a CF-style `units` attribute ("seconds since 1970-01-01", as
 * pipeline itself writes); writing stores int64 values (microseconds or
 * days) with such an attribute. */
#ifndef PIPELINE_IO_HDF5_TIME_H
#define PIPELINE_IO_HDF5_TIME_H

#include <hdf5.h>

#include "io/hdf5_table.h"

/* Units of an integer time column (pl_h5_src.unit); 0 is none. */
enum { PL_H5_DAYS = 1, PL_H5_SEC, PL_H5_MSEC, PL_H5_USEC, PL_H5_NSEC };

/* Reads [source] time_columns = name[:unit], ... and time_unit (s, ms,
 * us, ns or days; default s) into o. Bad units are PL_ERR_CONF naming the
 * job.conf line. */
int pl_h5_time_options(const pl_section *s, pl_hdf5_options *o, pl_error *err);

/* Marks t's time columns: those o names (which must be integers: else
 * PL_ERR_CONF), and column datasets with a units attribute
 * "<unit> since 1970-01-01[T00:00:00[Z]]". */
int pl_h5_table_times(const pl_hdf5_options *o, pl_h5_table *t, pl_error *err);

/* Converts the raw integers just read into column i's c (rows from
 * global row first) to days or microseconds; a value beyond the range is
 * PL_ERR_DATA naming file, dataset and row. */
int pl_h5_scale_time(const pl_h5_table *t, size_t i, uint64_t first,
		     pl_column *c, pl_error *err);

/* The units attribute text for a date or timestamp column, else NULL. */
const char *pl_h5_time_units(pl_type t);

#endif

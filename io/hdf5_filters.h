/* Whether this HDF5 library can decode a dataset's filters, told in our
 * words before a read would fail in the library's. */
#ifndef PIPELINE_IO_HDF5_FILTERS_H
#define PIPELINE_IO_HDF5_FILTERS_H

#include <hdf5.h>

#include "pipeline/error.h"

/* 0 when every required filter of dset can decode here; else PL_ERR_DATA
 * "FILE:DATASET: needs filter NAME (ID), not available ...". */
int pl_h5_check_filters(hid_t dset, const char *file, const char *dataset,
			pl_error *err);

#endif

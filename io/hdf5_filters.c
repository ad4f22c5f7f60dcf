/* Filter availability (see hdf5_filters.h). HDF5's own message for a
 * missing filter names whatever plugin its search tried last, which can
 * be another filter's library; the dataset says which filter it needs. */
#include <stdio.h>
#include <string.h>

#include "io/hdf5_filters.h"
#include "io/hdf5_types.h"

/* Names of the filters registered with The HDF Group that files in the
 * wild use, for a dataset that stores no name. */
static const char *known_name(H5Z_filter_t id)
{
	switch (id) {
	case 307:
		return "bzip2";
	case 32000:
		return "lzf";
	case 32001:
		return "blosc";
	case 32004:
		return "lz4";
	case 32008:
		return "bitshuffle";
	case 32015:
		return "zstd";
	case 32017:
		return "sz";
	case 32026:
		return "blosc2";
	default:
		return "unknown";
	}
}

int pl_h5_check_filters(hid_t dset, const char *file, const char *dataset,
			pl_error *err)
{
	hid_t dcpl = H5Dget_create_plist(dset);
	int n = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
	int rc = 0;
	for (int k = 0; rc == 0 && k < n; k++) {
		unsigned flags = 0, cd[8];
		size_t ncd = 8;
		char name[128] = "";
		H5Z_filter_t id =
		    H5Pget_filter2(dcpl, (unsigned)k, &flags, &ncd, cd,
				   sizeof(name), name, NULL);
		/* An optional filter (h5py marks lzf so) was applied to
		 * every chunk it did not fail on: reading needs it too. */
		if (id < 0)
			continue;
		if (H5Zfilter_avail(id) > 0)
			continue;
		H5Eclear2(H5E_DEFAULT);
		rc = pl_error_set(err, PL_ERR_DATA,
				  "%s:%s: needs filter %s (%d), not available "
				  "in this HDF5 library (install the HDF5 "
				  "plugin for it, or set HDF5_PLUGIN_PATH)",
				  file, dataset,
				  name[0] ? name : known_name(id), (int)id);
	}
	if (dcpl >= 0)
		H5Pclose(dcpl);
	return rc;
}

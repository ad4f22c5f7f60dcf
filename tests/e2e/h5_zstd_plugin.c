/* An HDF5 zstd filter (id 32015) built as a plugin, independent of
 * pipeline's own registration, so that h5dump and h5py can read the files
 * pipeline writes (Debian's hdf5plugin has no zstd). Used by
 * tests/e2e/test_hdf5.sh and scripts/bench_hdf5_scan.sh; load it with
 * HDF5_PLUGIN_PATH=<dir of the built .so>. */
#include <H5PLextern.h>
#include <stdlib.h>
#include <zstd.h>
static size_t f(unsigned flags, size_t nc, const unsigned cd[], size_t n,
		size_t *size, void **buf)
{
	int back = (flags & H5Z_FLAG_REVERSE) != 0;
	unsigned long long cap = back ? ZSTD_getFrameContentSize(*buf, n)
				      : ZSTD_compressBound(n);
	if (cap == ZSTD_CONTENTSIZE_ERROR || cap == ZSTD_CONTENTSIZE_UNKNOWN)
		return 0;
	void *out = malloc(cap ? cap : 1);
	if (out == NULL)
		return 0;
	size_t r = back ? ZSTD_decompress(out, cap, *buf, n)
			: ZSTD_compress(out, cap, *buf, n, nc ? (int)cd[0] : 3);
	if (ZSTD_isError(r)) {
		free(out);
		return 0;
	}
	free(*buf);
	*buf = out;
	*size = cap ? cap : 1;
	return r;
}
static const H5Z_class2_t cls = {H5Z_CLASS_T_VERS, 32015, 1, 1,
				 "zstd (check)", NULL, NULL, f};
H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_FILTER; }
const void *H5PLget_plugin_info(void) { return &cls; }

/* The zstd filter for HDF5 chunks, id 32015 as registered with The HDF
 * Group and used by hdf5plugin, so files compressed by h5py + hdf5plugin
 * read here and ours read there. One zstd frame per chunk; cd_values[0]
 * is the compression level. */
#include <zstd.h>

#include "io/hdf5_types.h"
#include "io/hdf5_writer.h"

#define PL_H5Z_ZSTD 32015
#define PL_ZSTD_DEFAULT_LEVEL 3

/* Buffers given to and taken from filters belong to HDF5's allocator. */
static size_t decompress(size_t nbytes, size_t *buf_size, void **buf)
{
	unsigned long long size = ZSTD_getFrameContentSize(*buf, nbytes);
	if (size == ZSTD_CONTENTSIZE_ERROR ||
	    size == ZSTD_CONTENTSIZE_UNKNOWN || size > SIZE_MAX)
		return 0;
	void *out = H5allocate_memory(size ? (size_t)size : 1, 0);
	if (out == NULL)
		return 0;
	size_t n = ZSTD_decompress(out, (size_t)size, *buf, nbytes);
	if (ZSTD_isError(n) || n != size) {
		/* the innermost entry is what the reader's message quotes */
		H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS,
			 H5E_PLINE, H5E_CANTFILTER, "damaged zstd chunk: %s",
			 ZSTD_isError(n) ? ZSTD_getErrorName(n)
					 : "wrong decompressed size");
		H5free_memory(out);
		return 0;
	}
	H5free_memory(*buf);
	*buf = out;
	*buf_size = size ? (size_t)size : 1;
	return n;
}

static size_t compress(int level, size_t nbytes, size_t *buf_size, void **buf)
{
	size_t cap = ZSTD_compressBound(nbytes);
	void *out = H5allocate_memory(cap, 0);
	if (out == NULL)
		return 0;
	/* A checksum ends each chunk's frame: HDF5 stores none for raw data,
	 * so without it a damaged chunk would read back as wrong values. */
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t n =
	    cc == NULL
		? 0
		: ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	if (cc != NULL && !ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	if (cc != NULL && !ZSTD_isError(n))
		n = ZSTD_compress2(cc, out, cap, *buf, nbytes);
	ZSTD_freeCCtx(cc);
	if (cc == NULL || ZSTD_isError(n)) {
		H5free_memory(out);
		return 0;
	}
	H5free_memory(*buf);
	*buf = out;
	*buf_size = cap;
	return n;
}

/* Returns the bytes now in *buf, or 0 for failure (HDF5's convention). */
static size_t zstd_filter(unsigned flags, size_t cd_nelmts,
			  const unsigned cd_values[], size_t nbytes,
			  size_t *buf_size, void **buf)
{
	if (flags & H5Z_FLAG_REVERSE)
		return decompress(nbytes, buf_size, buf);
	/* hdf5plugin stores negative (fast) levels as their unsigned bits. */
	int level = cd_nelmts > 0 ? (int)cd_values[0] : PL_ZSTD_DEFAULT_LEVEL;
	return compress(level, nbytes, buf_size, buf);
}

static const H5Z_class2_t zstd_class = {
    .version = H5Z_CLASS_T_VERS,
    .id = PL_H5Z_ZSTD,
    .encoder_present = 1,
    .decoder_present = 1,
    .name = "zstd",
    .can_apply = NULL,
    .set_local = NULL,
    .filter = zstd_filter,
};

/* HDF5's filter table is process-wide by design; registering again would
 * only replace the entry with an identical one, but we skip it anyway. */
int pl_hdf5_register_zstd(pl_error *err)
{
	pl_h5_quiet();
	if (H5Zfilter_avail(PL_H5Z_ZSTD) > 0)
		return 0;
	if (H5Zregister(&zstd_class) < 0) {
		char why[256];
		pl_h5_last_error(why, sizeof(why));
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "cannot register the HDF5 zstd filter: "
				    "%s",
				    why);
	}
	return 0;
}

/* libFuzzer target: any bytes, as an HDF5 file read through pipeline's
 * reader, as separate datasets (a, b, s, the NULLs datasets pipeline
 * writes beside them) and as one compound table (t, or pipeline's
 * table). The seeds are small
 * files written by pipeline and by h5py, with and without filters
 * (zstd, gzip, shuffle, fletcher32). A damaged file must be an error,
 * never a crash, a hang or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/hdf5_reader.h"

static void read_through(char *path, char **datasets, size_t n, char *table)
{
	pl_hdf5_options o;
	memset(&o, 0, sizeof(o));
	o.paths = &path;
	o.npaths = 1;
	o.datasets = datasets;
	o.ndatasets = n;
	o.dataset = table;
	o.cache_budget = 1 << 20;
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_error err;
	pl_error_clear(&err);
	pl_hdf5_reader *r = NULL;
	pl_batch *b = NULL;
	int rc = pl_hdf5_reader_open(&o, pool, &r, &err);
	/* A mutated extent can describe half a billion rows of unwritten
	 * chunks, valid and read as such (2 s in the release build, ten
	 * minutes here at 97 rows a batch): the first 2^20 rows cover every
	 * path of the reader. */
	for (size_t rows = 0; rc == 0 && rows < ((size_t)1 << 20); rows += 97)
		if ((rc = pl_hdf5_reader_next(r, 97, &b, &err)) != 0 || !b)
			break;
	pl_hdf5_reader_close(r);
	if (pl_pool_get_stats(pool).bytes_out != 0)
		abort();
	pl_pool_destroy(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz_hdf5_XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		char *cols[] = {"a", "b", "s"};
		read_through(path, cols, 3, NULL);
		read_through(path, cols, 1, NULL);
		read_through(path, NULL, 0, "t");
		read_through(path, NULL, 0, "table");
	}
	close(fd);
	unlink(path);
	return 0;
}

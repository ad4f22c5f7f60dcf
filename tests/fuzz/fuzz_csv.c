/* libFuzzer target: any bytes, read as a CSV file with default options and
 * again without a header and skipping bad rows. Nothing may crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/csv_reader.h"

static void read_through(char *path, int header, int skip)
{
	pl_csv_options o;
	memset(&o, 0, sizeof(o));
	pl_schema_init(&o.schema);
	o.paths = &path;
	o.npaths = 1;
	o.header = header;
	o.delimiter = ',';
	o.quote = '"';
	o.infer_rows = 100;
	o.skip_errors = skip;
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_error err;
	pl_error_clear(&err);
	pl_csv_reader *r = NULL;
	pl_batch *b = NULL;
	int rc = pl_csv_reader_open(&o, pool, &r, &err);
	while (rc == 0 && (rc = pl_csv_reader_next(r, 7, &b, &err)) == 0 && b)
		;
	pl_csv_reader_close(r);
	if (pl_pool_get_stats(pool).bytes_out != 0)
		abort();
	pl_pool_destroy(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz_csv_XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		read_through(path, 1, 0);
		read_through(path, 0, 1);
	}
	close(fd);
	unlink(path);
	return 0;
}

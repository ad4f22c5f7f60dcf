/* The public input API (pipeline/input.h) over the job's source reader. */
#include <mpi.h>
#include <stdlib.h>

#include "framework/source.h"
#include "pipeline/input.h"

struct pl_input {
	pl_source *src;
};

int pl_input_keys(const char ***keys, size_t *n)
{
	return pl_source_keys(0, keys, n);
}

int pl_input_open(const pl_section *sec, pl_pool *pool, pl_input **out,
		  pl_error *err)
{
	*out = NULL;
	pl_input *in = calloc(1, sizeof(*in));
	if (in == NULL)
		return pl_error_nomem(err, "an input");
	int rc = pl_source_open(sec, 0, pool, &in->src, err);
	if (rc != 0) {
		free(in);
		return rc;
	}
	*out = in;
	return 0;
}

const pl_schema *pl_input_schema(const pl_input *in)
{
	return pl_source_schema(in->src);
}

uint64_t pl_input_size(const pl_input *in)
{
	return pl_source_get_stats(in->src).bytes_total;
}

int pl_input_share(pl_input *in, const void *comm, pl_error *err)
{
	if (comm == NULL)
		return 0;
	MPI_Comm c = *(const MPI_Comm *)comm;
	return c == MPI_COMM_NULL ? 0 : pl_source_partition(in->src, c, 0, err);
}

int pl_input_next(pl_input *in, size_t max_rows, pl_batch **out, pl_error *err)
{
	return pl_source_next(in->src, max_rows, out, err);
}

void pl_input_close(pl_input *in)
{
	if (in == NULL)
		return;
	pl_source_close(in->src);
	free(in);
}

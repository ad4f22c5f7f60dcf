/* The HDF5 row of the source readers: shares are even splits of the rows
 * moved to chunk edges, read on the caller's thread (the library is not
 * thread-safe), through chunk caches the planner sizes. */
#include <stdlib.h>

#include "framework/exchange.h"
#include "framework/source_reader.h"
#include "io/hdf5_reader.h"

typedef struct h5_source {
	pl_hdf5_options opts; /* the reader reads cache_budget from here */
	pl_hdf5_reader *reader;
} h5_source;

static const char *const extensions[] = {".h5", ".hdf5", NULL};

static int h5_open(const pl_source_args *a, void **state, char *desc,
		   size_t cap, pl_error *err)
{
	h5_source *h = calloc(1, sizeof(*h));
	*state = h;
	if (h == NULL)
		return pl_error_nomem(err, "a source");
	int rc = pl_hdf5_options_from_section(a->s, &h->opts, err);
	if (rc == 0)
		rc =
		    pl_source_prepare(a, h->opts.paths, &h->opts.npaths,
				      &h->opts.columns, &h->opts.ncolumns, err);
	if (rc == 0)
		rc = pl_hdf5_reader_open(&h->opts, a->pool, &h->reader, err);
	if (rc == 0)
		pl_source_describe_paths(desc, cap, "hdf5", h->opts.paths,
					 h->opts.npaths);
	return rc;
}

static const pl_schema *h5_schema(const void *state)
{
	return pl_hdf5_reader_schema(((const h5_source *)state)->reader);
}

static int h5_project(void *state, const uint8_t *keep, pl_error *err)
{
	return pl_hdf5_reader_project(((h5_source *)state)->reader, keep, err);
}

static void h5_set_cache_budget(void *state, uint64_t bytes)
{
	((h5_source *)state)->opts.cache_budget = bytes;
}

/* The first row of rank r's share of total rows among n ranks. */
static uint64_t even_edge(uint64_t total, int n, uint64_t r)
{
	uint64_t each = total / (uint64_t)n, extra = total % (uint64_t)n;
	return each * r + (r < extra ? r : extra);
}

static int h5_partition(void *state, MPI_Comm comm, int guess, int *guessed,
			pl_error *err)
{
	h5_source *h = state;
	int rank, n;
	(void)guess;
	*guessed = 0;
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &n);
	uint64_t total = pl_hdf5_reader_total_rows(h->reader);
	uint64_t edge[2];
	for (int k = 0; k < 2; k++) {
		uint64_t r = (uint64_t)(rank + k);
		uint64_t even = even_edge(total, n, r);
		/* Every rank computes its neighbours' edges alike. */
		edge[k] = r == 0 || r == (uint64_t)n
			      ? even
			      : pl_hdf5_reader_align(h->reader, even);
	}
	if (edge[1] < edge[0])
		edge[1] = edge[0];
	int rc = pl_hdf5_reader_set_range(h->reader, edge[0], edge[1] - edge[0],
					  err);
	return pl_mpi_agree(comm, rc, err);
}

static int h5_next(void *state, size_t max_rows, pl_batch **out, pl_error *err)
{
	return pl_hdf5_reader_next(((h5_source *)state)->reader, max_rows, out,
				   err);
}

static pl_source_stats h5_stats(const void *state)
{
	pl_hdf5_stats h =
	    pl_hdf5_reader_stats(((const h5_source *)state)->reader);
	pl_source_stats s = {h.rows, 0, h.bytes_read, h.bytes_total};
	return s;
}

static void h5_close(void *state)
{
	h5_source *h = state;
	if (h == NULL)
		return;
	pl_hdf5_reader_close(h->reader);
	pl_hdf5_options_free(&h->opts);
	free(h);
}

const pl_source_reader pl_source_hdf5 = {
    .name = "hdf5",
    .extensions = extensions,
    .section_keys = pl_hdf5_section_keys,
    .open = h5_open,
    .schema = h5_schema,
    .project = h5_project,
    .set_cache_budget = h5_set_cache_budget,
    .partition = h5_partition,
    .next = h5_next,
    .stats = h5_stats,
    .close = h5_close,
};

#include <stdlib.h>

#include "framework/sink.h"
#include "io/csv_writer.h"
#include "io/hdf5_writer.h"

struct pl_sink {
	pl_csv_writer *csv;
	pl_hdf5_writer *h5;
};

int pl_sink_open(const pl_plan *p, pl_sink **out, pl_error *err)
{
	pl_sink *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return pl_error_nomem(err, "the sink");
	const pl_schema *schema = &p->schemas[p->nops];
	int rc;
	if (p->sink_format == PL_SINK_HDF5) {
		pl_hdf5_sink_options o = {
		    p->sink_path,  p->hdf5_layout,
		    p->hdf5_group, p->zstd_level,
		    p->job_name,   pl_source_describe(p->source)};
		rc = pl_hdf5_writer_open(&o, schema, &s->h5, err);
	} else {
		rc = pl_csv_writer_open(p->sink_path, schema, p->zstd_level,
					&s->csv, err);
	}
	if (rc != 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int pl_sink_write(pl_sink *s, const pl_batch *b, pl_error *err)
{
	return s->h5 ? pl_hdf5_writer_write(s->h5, b, err)
		     : pl_csv_writer_write(s->csv, b, err);
}

int pl_sink_commit(pl_sink *s, pl_error *err)
{
	int rc = s->h5 ? pl_hdf5_writer_commit(s->h5, err)
		       : pl_csv_writer_commit(s->csv, err);
	free(s);
	return rc;
}

void pl_sink_abort(pl_sink *s)
{
	if (s == NULL)
		return;
	if (s->h5)
		pl_hdf5_writer_abort(s->h5);
	else
		pl_csv_writer_abort(s->csv);
	free(s);
}

uint64_t pl_sink_bytes(const pl_sink *s)
{
	return s->csv ? pl_csv_writer_bytes(s->csv) : 0;
}

/* The single-rank CSV output (HDF5 output goes through output.c, which
 * spools it to create fixed-length string datasets at their final size). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "framework/output_path.h"
#include "framework/sink.h"
#include "io/csv_writer.h"

struct pl_sink {
	pl_csv_writer *csv;
};

int pl_sink_open(const pl_plan *p, pl_sink **out, pl_error *err)
{
	pl_sink *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return pl_error_nomem(err, "the sink");
	const pl_schema *schema = &p->schemas[p->nops];
	int rc;
	if (p->sink_kind == PL_OUTPUT_FILE) {
		rc = pl_csv_writer_open(p->sink_path, schema, p->zstd_level,
					&s->csv, err);
	} else {
		int fd = pl_output_open_stream(p->sink_path, p->sink_kind);
		rc = fd < 0
			 ? pl_error_set(err, PL_ERR_IO,
					"%s: cannot open the output: %s",
					p->sink_path, strerror(errno))
			 : pl_csv_writer_open_fd(p->sink_path, fd, schema,
						 p->zstd_level, &s->csv, err);
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
	return pl_csv_writer_write(s->csv, b, err);
}

int pl_sink_commit(pl_sink *s, pl_error *err)
{
	int rc = pl_csv_writer_commit(s->csv, err);
	free(s);
	return rc;
}

void pl_sink_abort(pl_sink *s)
{
	if (s == NULL)
		return;
	pl_csv_writer_abort(s->csv);
	free(s);
}

uint64_t pl_sink_bytes(const pl_sink *s)
{
	return pl_csv_writer_bytes(s->csv);
}

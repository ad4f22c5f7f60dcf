/* The CSV text encoder shared by the file writer and the in-memory
 * encoders: it appends to a buffer whose owner decides how room is made
 * (the writer flushes to disk, the in-memory encoder grows). */
#ifndef PIPELINE_IO_CSV_ENCODE_H
#define PIPELINE_IO_CSV_ENCODE_H

#include <stddef.h>

#include "pipeline/batch.h"

typedef struct pl_csv_out pl_csv_out;

struct pl_csv_out {
	char *buf;
	size_t len;
	size_t cap;
	size_t row; /* where the row being encoded starts in buf */
	/* Makes cap - len >= need, by flushing or growing; 0 or PL_ERR_*.
	 * May move the bytes of the row being encoded (updating row). */
	int (*room)(pl_csv_out *o, size_t need, pl_error *err);
};

/* The room callback of a plain growing malloc'd buffer. */
int pl_csv_out_grow(pl_csv_out *o, size_t need, pl_error *err);

int pl_csv_out_header(pl_csv_out *o, const pl_schema *s, pl_error *err);
int pl_csv_out_rows(pl_csv_out *o, const pl_batch *b, pl_error *err);

/* pl_format_double (csv_writer.h) without its fast path for values of at
 * most 15 digits: the printf and strtod search that the tests hold the
 * fast path to. */
size_t pl_format_double_reference(double v, char *buf);

#endif

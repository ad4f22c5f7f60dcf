/* Streaming CSV reader: RFC 4180 plus what real files do (BOM, LF/CRLF,
 * quoted newlines), plain or .zst, one or several files read as one table.
 * Reads a bounded buffer at a time; never the whole file. */
#ifndef PIPELINE_IO_CSV_READER_H
#define PIPELINE_IO_CSV_READER_H

#include <stdint.h>

#include "pipeline/batch.h"
#include "pipeline/section.h"

typedef struct pl_csv_options {
	char **paths; /* resolved paths, glob-expanded, in order */
	size_t npaths;
	int header;	/* first record names the columns */
	char delimiter; /* ',' or '\t' for .tsv */
	char quote;	/* '"' */
	char **nulls;	/* extra unquoted strings meaning NULL */
	size_t nnulls;
	pl_schema schema; /* types given for some columns (names) */
	long long infer_rows;
	int skip_errors;   /* on_error = skip */
	char *reject_path; /* raw text of skipped rows, or NULL */
	char **columns;	   /* columns to produce, in this order; NULL: all */
	size_t ncolumns;
	const pl_section *section; /* for messages naming job.conf lines */
	char *time_format; /* strftime-style layout of dates/times, or NULL */
} pl_csv_options;

/* Keys of [source] (and of [join]'s right side) that
 * pl_csv_options_from_section reads; NULL-terminated. */
extern const char *const pl_csv_section_keys[];

/* Fills o from the section's keys path, header, delimiter, quote, null,
 * schema, infer_rows, on_error, reject and time_format (not columns, not
 * format: the caller decides those). Paths are resolved against the job.conf
 * directory and globs expanded; a glob matching nothing and a missing file are
 * PL_ERR_IO errors naming the path; bad values are PL_ERR_CONF naming
 * job.conf:LINE. o is owned by the caller: pl_csv_options_free. */
int pl_csv_options_from_section(const pl_section *s, pl_csv_options *o,
				pl_error *err);
void pl_csv_options_free(pl_csv_options *o);

typedef struct pl_csv_reader pl_csv_reader;

/* Opens the first file, reads the header and the inference sample (the
 * first infer_rows rows), fixes the schema. Several files must have the
 * same header. Errors name file and line. o must outlive the reader. */
int pl_csv_reader_open(const pl_csv_options *o, pl_pool *pool,
		       pl_csv_reader **out, pl_error *err);

/* The schema of the batches (only the selected columns, in order). */
const pl_schema *pl_csv_reader_schema(const pl_csv_reader *r);

/* Narrows the batches to the columns k of the schema with keep[k] set
 * (projection pushdown): the others are still split into fields, so a
 * record's field count and quoting are checked, but never converted, so
 * no value of theirs makes a bad row. Call after open, before the first
 * batch and before allow_dict. PL_ERR_INTERNAL when called later. */
int pl_csv_reader_project(pl_csv_reader *r, const uint8_t *keep, pl_error *err);

/* Reads up to max_rows rows into *out. The batch is owned by the reader
 * and valid until the next call, or close (until the call after next once
 * pl_csv_reader_two_batches was called); it carries provenance
 * (origin = the file's path, line[i] = the physical line where row i starts).
 * *out is NULL at the end of the last file. A bad row (wrong field count, value
 * not fitting its type, unterminated quote) is PL_ERR_DATA naming
 * "file:LINE: ..." unless skip_errors, when it is counted and written to
 * the reject file. */
int pl_csv_reader_next(pl_csv_reader *r, size_t max_rows, pl_batch **out,
		       pl_error *err);

/* From the next batch on, string columns come dictionary-encoded (see
 * pipeline/batch.h) while they have few distinct values per batch; a
 * column with many goes plain for good. Call before the first batch is
 * read. PL_ERR_NOMEM on failure. */
int pl_csv_reader_allow_dict(pl_csv_reader *r, pl_error *err);

/* From the next call on the reader fills two batches in turn, so that the
 * one it handed out last stays valid through the call after it (a
 * read-ahead thread fills one while the caller works on the other). May be
 * called at any time; there is no way back. */
void pl_csv_reader_two_batches(pl_csv_reader *r);

typedef struct pl_csv_stats {
	uint64_t rows;	       /* rows produced */
	uint64_t rows_skipped; /* bad rows skipped */
	uint64_t bytes_read;   /* input bytes consumed (compressed for .zst) */
	uint64_t bytes_total;  /* sum of the input files' sizes */
} pl_csv_stats;

pl_csv_stats pl_csv_reader_stats(const pl_csv_reader *r);

/* One rank's part of the input (io/csv_partition.h). */
typedef struct pl_csv_share pl_csv_share;

/* Restricts the reader to a share: call after open, before the first
 * pl_csv_reader_next. Open read the header and the sample from the start
 * of the first file (alike on every rank, so all agree on the schema);
 * from here the reader reads the share's pieces in order, and only them,
 * with true file line numbers (a cut piece whose line is 0, unknown, makes
 * the batches' line arrays NULL). Each cut piece's file header is checked
 * against the first file's. A quoted field running past a cut piece's end
 * is PL_ERR_DATA naming its line (a stray quote misled the split), even
 * with skip_errors. The share is copied; bytes_total becomes the share's
 * bytes. */
int pl_csv_reader_set_share(pl_csv_reader *r, const pl_csv_share *share,
			    pl_error *err);

/* After a failed job: closes and removes the reject file (and the one it
 * was redirected to), which are part of the job's output. NULL is fine. */
void pl_csv_reader_discard_reject(pl_csv_reader *r);

/* Sends rejected rows to path instead (truncated): each rank of a job
 * keeps its own part, joined in rank order at the end. No reject: no-op. */
int pl_csv_reader_redirect_reject(pl_csv_reader *r, const char *path,
				  pl_error *err);

/* Closes the reject file after the last row, reporting a failed write. */
int pl_csv_reader_end_reject(pl_csv_reader *r, pl_error *err);

/* Closes files (and the reject file), frees everything. NULL is fine. */
void pl_csv_reader_close(pl_csv_reader *r);

#endif

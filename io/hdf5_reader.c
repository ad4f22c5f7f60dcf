/* The HDF5 source: several files read in order as one table. Opening
 * visits every file once to fix the schema and count rows (no data is
 * read); reading then keeps one file open at a time and cuts batches at
 * chunk boundaries, so that a chunk is decompressed once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/hdf5_table.h"
#include "io/hdf5_writer.h"

struct pl_hdf5_reader {
	const pl_hdf5_options *o;
	pl_pool *pool;
	pl_schema all;	  /* every column of the first file */
	pl_schema schema; /* the selected ones */
	size_t *sel;	  /* output column k is column sel[k] of a file */
	uint64_t *start;  /* global row where file f begins; [npaths + 1] */
	uint64_t *bytes;  /* size of file f */
	uint64_t *chunk;  /* rows per chunk of file f, 0: contiguous */
	uint64_t first, end, pos; /* the range to read and the next row */
	size_t cur;		  /* file open in tab, or npaths */
	pl_h5_table tab;
	pl_batch *batch;
	pl_hdf5_stats stats;
};

/* The first file's columns become the table's; names must be unique. */
static int take_columns(pl_hdf5_reader *r, const pl_h5_table *t, pl_error *err)
{
	for (size_t i = 0; i < t->n; i++) {
		if (pl_schema_find(&r->all, t->src[i].name) >= 0)
			return pl_error_set(err, PL_ERR_DATA,
					    "%s:%s: a second column named '%s' "
					    "(the last part of a dataset's "
					    "path names its column)",
					    t->path, t->src[i].where,
					    t->src[i].name);
		int rc = pl_schema_add(&r->all, t->src[i].name,
				       t->src[i].t.type, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int same_columns(const pl_hdf5_reader *r, const pl_h5_table *t,
			pl_error *err)
{
	const char *first = r->o->paths[0];
	if (t->n != r->all.n)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: %zu columns, but %s has %zu (files "
				    "must have the same columns)",
				    t->path, t->n, first, r->all.n);
	for (size_t i = 0; i < t->n; i++) {
		const pl_field *f = &r->all.fields[i];
		if (strcmp(f->name, t->src[i].name) == 0 &&
		    f->type == t->src[i].t.type)
			continue;
		char where[1200];
		pl_h5_table_where(t, i, where, sizeof(where));
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: column %zu is '%s' (%s), but in %s "
				    "it is '%s' (%s)",
				    where, i + 1, t->src[i].name,
				    pl_type_name(t->src[i].t.type), first,
				    f->name, pl_type_name(f->type));
	}
	return 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int scan_file(pl_hdf5_reader *r, size_t f, pl_error *err)
{
	pl_h5_table t;
	int rc = pl_h5_table_open(r->o, f, &t, err);
	if (rc != 0)
		return rc;
	rc = f == 0 ? take_columns(r, &t, err) : same_columns(r, &t, err);
	r->start[f + 1] = r->start[f] + t.nrows;
	r->bytes[f] = file_size(t.path);
	r->chunk[f] = t.chunk;
	pl_h5_table_close(&t);
	return rc;
}

static int unknown_column(const pl_hdf5_reader *r, const char *name,
			  pl_error *err)
{
	char have[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < r->all.n && len < sizeof(have); i++)
		len += (size_t)snprintf(have + len, sizeof(have) - len, "%s%s",
					i ? ", " : "", r->all.fields[i].name);
	if (r->o->section != NULL)
		return pl_section_error(r->o->section, "columns", err,
					"no column '%s' in %s (it has %s)",
					name, r->o->paths[0], have);
	return pl_error_set(err, PL_ERR_CONF,
			    "no column '%s' in %s (it has %s)", name,
			    r->o->paths[0], have);
}

/* The error names the `columns` line when there is a job.conf. */
static int twice(const pl_hdf5_reader *r, const char *name, pl_error *err)
{
	if (r->o->section != NULL)
		return pl_section_error(r->o->section, "columns", err,
					"column '%s' selected twice", name);
	return pl_error_set(err, PL_ERR_CONF, "column '%s' selected twice",
			    name);
}

static int select_columns(pl_hdf5_reader *r, pl_error *err)
{
	size_t n = r->o->columns ? r->o->ncolumns : r->all.n;
	r->sel = calloc(n ? n : 1, sizeof(*r->sel));
	if (r->sel == NULL)
		return pl_error_nomem(err, "a column selection");
	for (size_t k = 0; k < n; k++) {
		int i = r->o->columns
			    ? pl_schema_find(&r->all, r->o->columns[k])
			    : (int)k;
		if (i < 0)
			return unknown_column(r, r->o->columns[k], err);
		if (pl_schema_find(&r->schema, r->all.fields[i].name) >= 0)
			return twice(r, r->all.fields[i].name, err);
		r->sel[k] = (size_t)i;
		int rc = pl_schema_add(&r->schema, r->all.fields[i].name,
				       r->all.fields[i].type, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int scan_files(pl_hdf5_reader *r, pl_error *err)
{
	size_t nf = r->o->npaths;
	if (nf == 0)
		return pl_error_set(err, PL_ERR_CONF,
				    "an HDF5 source needs a "
				    "file");
	r->start = calloc(nf + 1, sizeof(*r->start));
	r->bytes = calloc(nf, sizeof(*r->bytes));
	r->chunk = calloc(nf, sizeof(*r->chunk));
	if (r->start == NULL || r->bytes == NULL || r->chunk == NULL)
		return pl_error_nomem(err, "hdf5 file list");
	int rc = 0;
	for (size_t f = 0; rc == 0 && f < nf; f++)
		rc = scan_file(r, f, err);
	return rc;
}

int pl_hdf5_reader_open(const pl_hdf5_options *o, pl_pool *pool,
			pl_hdf5_reader **out, pl_error *err)
{
	*out = NULL;
	int rc = pl_hdf5_register_zstd(err);
	if (rc != 0)
		return rc;
	pl_hdf5_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return pl_error_nomem(err, "an hdf5 reader");
	r->o = o;
	r->pool = pool;
	r->cur = o->npaths;
	pl_schema_init(&r->all);
	pl_schema_init(&r->schema);
	rc = scan_files(r, err);
	if (rc == 0)
		rc = select_columns(r, err);
	if (rc == 0 &&
	    (r->batch = pl_batch_new(&r->schema, 0, pool, err)) == NULL)
		rc = PL_ERR_NOMEM;
	if (rc != 0) {
		pl_hdf5_reader_close(r);
		return rc;
	}
	r->end = r->start[o->npaths];
	for (size_t f = 0; f < o->npaths; f++)
		r->stats.bytes_total += r->bytes[f];
	*out = r;
	return 0;
}

int pl_hdf5_reader_project(pl_hdf5_reader *r, const uint8_t *keep,
			   pl_error *err)
{
	pl_schema s;
	pl_schema_init(&s);
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < r->schema.n; k++)
		if (keep[k])
			rc = pl_schema_add(&s, r->schema.fields[k].name,
					   r->schema.fields[k].type, err);
	pl_batch *b = rc == 0 ? pl_batch_new(&s, 0, r->pool, err) : NULL;
	if (b == NULL) {
		pl_schema_free(&s);
		return rc ? rc : PL_ERR_NOMEM;
	}
	size_t m = 0;
	for (size_t k = 0; k < r->schema.n; k++)
		if (keep[k])
			r->sel[m++] = r->sel[k];
	pl_batch_free(r->batch, r->pool);
	r->batch = b;
	pl_schema_free(&r->schema);
	r->schema = s;
	return 0;
}

const pl_schema *pl_hdf5_reader_schema(const pl_hdf5_reader *r)
{
	return &r->schema;
}

uint64_t pl_hdf5_reader_total_rows(const pl_hdf5_reader *r)
{
	return r->start[r->o->npaths];
}

uint64_t pl_hdf5_reader_align(const pl_hdf5_reader *r, uint64_t row)
{
	size_t f = 0;
	while (f < r->o->npaths && r->start[f + 1] <= row)
		f++;
	if (f == r->o->npaths || r->chunk[f] == 0)
		return row;
	uint64_t in = row - r->start[f], c = r->chunk[f];
	uint64_t rows = r->start[f + 1] - r->start[f];
	uint64_t down = in / c * c, up = down + c < rows ? down + c : rows;
	return r->start[f] + (in - down <= up - in ? down : up);
}

/* Bytes of the files that rows [a, b) take, prorated by rows. */
static uint64_t range_bytes(const pl_hdf5_reader *r, uint64_t a, uint64_t b)
{
	double sum = 0;
	for (size_t f = 0; f < r->o->npaths; f++) {
		uint64_t lo = r->start[f], hi = r->start[f + 1];
		uint64_t x = a > lo ? a : lo, y = b < hi ? b : hi;
		if (y > x)
			sum += (double)r->bytes[f] * (double)(y - x) /
			       (double)(hi - lo);
	}
	return (uint64_t)sum;
}

int pl_hdf5_reader_set_range(pl_hdf5_reader *r, uint64_t first, uint64_t count,
			     pl_error *err)
{
	uint64_t total = pl_hdf5_reader_total_rows(r);
	if (r->pos != r->first || first > total || count > total - first)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "hdf5 reader: bad range %llu+%llu of %llu "
				    "rows",
				    (unsigned long long)first,
				    (unsigned long long)count,
				    (unsigned long long)total);
	r->first = r->pos = first;
	r->end = first + count;
	r->stats.bytes_total = range_bytes(r, r->first, r->end);
	return 0;
}

/* Makes file f (the one holding row pos) the open one. */
static int enter_file(pl_hdf5_reader *r, pl_error *err)
{
	size_t f = r->cur < r->o->npaths ? r->cur : 0;
	while (r->start[f + 1] <= r->pos)
		f++;
	if (f == r->cur)
		return 0;
	if (r->cur < r->o->npaths)
		pl_h5_table_close(&r->tab);
	r->cur = r->o->npaths;
	int rc = pl_h5_table_open(r->o, f, &r->tab, err);
	if (rc == 0)
		rc = same_columns(r, &r->tab, err);
	if (rc != 0) {
		pl_h5_table_close(&r->tab);
		return rc;
	}
	r->cur = f;
	return 0;
}

/* Rows for the next batch: up to max_rows, ending on a chunk boundary
 * when at least one whole chunk fits. */
static size_t batch_rows(const pl_hdf5_reader *r, size_t max_rows)
{
	uint64_t in_file = r->pos - r->start[r->cur];
	uint64_t left = r->start[r->cur + 1] - r->pos;
	if (r->end - r->pos < left)
		left = r->end - r->pos;
	uint64_t n = max_rows ? max_rows : 1;
	uint64_t chunk = r->tab.chunk;
	if (chunk > 0 && chunk <= n) {
		uint64_t stop = (in_file + n) / chunk * chunk;
		if (stop > in_file)
			n = stop - in_file;
	}
	return (size_t)(n < left ? n : left);
}

int pl_hdf5_reader_next(pl_hdf5_reader *r, size_t max_rows, pl_batch **out,
			pl_error *err)
{
	*out = NULL;
	if (r->pos >= r->end) {
		if (r->cur < r->o->npaths)
			pl_h5_table_close(&r->tab);
		r->cur = r->o->npaths;
		return 0;
	}
	int rc = enter_file(r, err);
	if (rc != 0)
		return rc;
	size_t n = batch_rows(r, max_rows);
	uint64_t row = r->pos - r->start[r->cur];
	for (size_t k = 0; rc == 0 && k < r->schema.n; k++)
		rc = pl_h5_read_column(&r->tab, r->sel[k], row, n,
				       &r->batch->cols[k], r->pool, err);
	if (rc != 0)
		return rc;
	r->batch->nrows = n;
	r->pos += n;
	r->stats.rows += n;
	r->stats.bytes_read = range_bytes(r, r->first, r->pos);
	*out = r->batch;
	return 0;
}

pl_hdf5_stats pl_hdf5_reader_stats(const pl_hdf5_reader *r)
{
	return r->stats;
}

void pl_hdf5_reader_close(pl_hdf5_reader *r)
{
	if (r == NULL)
		return;
	if (r->cur < r->o->npaths)
		pl_h5_table_close(&r->tab);
	pl_batch_free(r->batch, r->pool);
	pl_schema_free(&r->all);
	pl_schema_free(&r->schema);
	free(r->sel);
	free(r->start);
	free(r->bytes);
	free(r->chunk);
	free(r);
}

/* Shaping a batch's values for H5Dwrite. Numbers and bools go straight
 * from the column; strings are copied into fixed-width slots, since the
 * arena holds them back to back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/hdf5_types.h"
#include "io/hdf5_write_values.h"

size_t pl_h5_value_size(pl_type t, size_t width)
{
	switch (t) {
	case PL_DATE:
	case PL_TIMESTAMP:
	case PL_INT64:
	case PL_FLOAT64:
		return 8;
	case PL_BOOL:
		return 1;
	default:
		return width ? width : 1;
	}
}

size_t pl_h5_str_len(const char *s, size_t len)
{
	if (len == 0) /* an empty value may have no bytes at all (NULL) */
		return 0;
	const char *nul = memchr(s, '\0', len);
	return nul ? (size_t)(nul - s) : len;
}

static int floats_with_nan(const pl_column *c, size_t n, pl_h5_values *v,
			   pl_error *err)
{
	double *d = malloc((n ? n : 1) * sizeof(*d));
	if (d == NULL)
		return pl_error_nomem(err, "an hdf5 write buffer");
	for (size_t k = 0; k < n; k++)
		d[k] = pl_column_is_null(c, k) ? NAN : pl_col_f64(c)[k];
	v->own = d;
	v->buf = d;
	return 0;
}

/* Slot k of dst (width bytes) gets string k up to its first NUL. */
static void pack_strings(const pl_column *c, size_t n, size_t width, char *dst)
{
	for (size_t k = 0; k < n; k++) {
		size_t len;
		const char *s = pl_col_str(c, k, &len);
		len = pl_h5_str_len(s, len);
		if (len > 0)
			memcpy(dst + k * width, s, len < width ? len : width);
	}
}

int pl_h5_values_make(const pl_column *c, size_t n, size_t width,
		      pl_h5_values *v, pl_error *err)
{
	memset(v, 0, sizeof(*v));
	if (c->type == PL_STRING) {
		width = pl_h5_value_size(PL_STRING, width);
		char *d = calloc(n ? n : 1, width);
		if (d == NULL)
			return pl_error_nomem(err, "an hdf5 string buffer");
		pack_strings(c, n, width, d);
		v->own = d;
		v->buf = d;
		return 0;
	}
	if (c->type == PL_FLOAT64 && c->valid != NULL)
		return floats_with_nan(c, n, v, err);
	v->buf = c->data;
	return 0;
}

void pl_h5_values_free(pl_h5_values *v)
{
	free(v->own);
	memset(v, 0, sizeof(*v));
}

static size_t record_size(const pl_schema *s, const size_t *widths)
{
	size_t total = 0;
	for (size_t k = 0; k < s->n; k++)
		total += pl_h5_value_size(s->fields[k].type, widths[k]);
	return total ? total : 1;
}

int pl_h5_rows_make(const pl_batch *b, const size_t *widths, void **buf,
		    pl_error *err)
{
	size_t n = b->nrows, rec = 0;
	for (size_t k = 0; k < b->ncols; k++)
		rec += pl_h5_value_size(b->cols[k].type, widths[k]);
	rec = rec ? rec : 1;
	char *rows = calloc(n ? n : 1, rec);
	*buf = rows;
	if (rows == NULL)
		return pl_error_nomem(err, "an hdf5 record buffer");
	size_t at = 0;
	for (size_t k = 0; k < b->ncols; k++) {
		const pl_column *c = &b->cols[k];
		size_t size = pl_h5_value_size(c->type, widths[k]);
		pl_h5_values v;
		int rc = pl_h5_values_make(c, n, widths[k], &v, err);
		if (rc != 0) {
			free(rows);
			*buf = NULL;
			return rc;
		}
		const char *src = v.buf;
		for (size_t i = 0; i < n; i++)
			memcpy(rows + i * rec + at, src + i * size, size);
		pl_h5_values_free(&v);
		at += size;
	}
	return 0;
}

/* A packed compound of the schema's fields, each field's type from make. */
static hid_t row_type(const pl_schema *s, const size_t *widths,
		      hid_t (*make)(pl_type, size_t))
{
	hid_t c = H5Tcreate(H5T_COMPOUND, record_size(s, widths));
	size_t at = 0;
	for (size_t k = 0; c >= 0 && k < s->n; k++) {
		hid_t ft = make(s->fields[k].type, widths[k]);
		if (ft < 0 || H5Tinsert(c, s->fields[k].name, at, ft) < 0) {
			H5Tclose(c);
			c = H5I_INVALID_HID;
		}
		if (ft >= 0)
			H5Tclose(ft);
		at += pl_h5_value_size(s->fields[k].type, widths[k]);
	}
	return c;
}

hid_t pl_h5_row_mem_type(const pl_schema *s, const size_t *widths)
{
	return row_type(s, widths, pl_h5_write_type);
}

hid_t pl_h5_row_file_type(const pl_schema *s, const size_t *widths)
{
	return row_type(s, widths, pl_h5_file_type);
}

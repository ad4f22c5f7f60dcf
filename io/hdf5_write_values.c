/* Shaping a batch's values for H5Dwrite. Numbers and bools go straight
 * from the column; strings need NUL-terminated copies, since the arena
 * holds them back to back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/hdf5_types.h"
#include "io/hdf5_write_values.h"

#define SLOT 8 /* bytes per field in a memory record: int64, double, ptr */

static int floats_with_nan(const pl_column *c, size_t n, pl_h5_values *v,
			   pl_error *err)
{
	double *d = malloc(n * sizeof(*d));
	if (d == NULL)
		return pl_error_nomem(err, "an hdf5 write buffer");
	for (size_t k = 0; k < n; k++)
		d[k] = pl_column_is_null(c, k) ? NAN : pl_col_f64(c)[k];
	v->own = d;
	v->buf = d;
	return 0;
}

static int string_pointers(const pl_column *c, size_t n, pl_h5_values *v,
			   pl_error *err)
{
	const int64_t *off = pl_col_off(c);
	size_t bytes = (size_t)(off[n] - off[0]);
	char **p = malloc((n ? n : 1) * sizeof(*p));
	char *text = malloc(bytes + n + 1);
	if (p == NULL || text == NULL) {
		free(p);
		free(text);
		return pl_error_nomem(err, "an hdf5 string buffer");
	}
	char *t = text;
	for (size_t k = 0; k < n; k++) {
		size_t len;
		const char *s = pl_col_str(c, k, &len);
		memcpy(t, s, len);
		t[len] = '\0';
		p[k] = t;
		t += len + 1;
	}
	v->own = p;
	v->text = text;
	v->buf = p;
	return 0;
}

int pl_h5_values_make(const pl_column *c, size_t n, pl_h5_values *v,
		      pl_error *err)
{
	memset(v, 0, sizeof(*v));
	if (c->type == PL_STRING)
		return string_pointers(c, n, v, err);
	if (c->type == PL_FLOAT64 && c->valid != NULL)
		return floats_with_nan(c, n, v, err);
	v->buf = c->data;
	return 0;
}

void pl_h5_values_free(pl_h5_values *v)
{
	free(v->own);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

static void scatter(const pl_h5_values *v, pl_type t, size_t k, size_t ncols,
		    size_t n, char *rows)
{
	size_t width = t == PL_BOOL ? 1 : SLOT;
	const char *src = v->buf;
	for (size_t i = 0; i < n; i++)
		memcpy(rows + (i * ncols + k) * SLOT, src + i * width, width);
}

int pl_h5_rows_make(const pl_batch *b, pl_h5_rows *r, pl_error *err)
{
	size_t n = b->nrows, nc = b->ncols;
	r->ncols = nc;
	r->buf = calloc(n ? n : 1, nc * SLOT);
	r->vals = calloc(nc ? nc : 1, sizeof(*r->vals));
	if (r->buf == NULL || r->vals == NULL) {
		pl_h5_rows_free(r);
		return pl_error_nomem(err, "an hdf5 record buffer");
	}
	for (size_t k = 0; k < nc; k++) {
		int rc = pl_h5_values_make(&b->cols[k], n, &r->vals[k], err);
		if (rc != 0) {
			pl_h5_rows_free(r);
			return rc;
		}
		scatter(&r->vals[k], b->cols[k].type, k, nc, n, r->buf);
	}
	return 0;
}

void pl_h5_rows_free(pl_h5_rows *r)
{
	for (size_t k = 0; r->vals != NULL && k < r->ncols; k++)
		pl_h5_values_free(&r->vals[k]);
	free(r->vals);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Builds a compound of the schema's fields, each field's type from make;
 * offsets every SLOT bytes, or packed when slot is 0. */
static hid_t row_type(const pl_schema *s, hid_t (*make)(pl_type), size_t slot)
{
	size_t total = 0;
	hid_t *ft = calloc(s->n ? s->n : 1, sizeof(*ft));
	if (ft == NULL)
		return H5I_INVALID_HID;
	int ok = 1;
	for (size_t k = 0; k < s->n; k++) {
		ft[k] = make(s->fields[k].type);
		ok = ok && ft[k] >= 0;
		total += slot ? slot : (ft[k] >= 0 ? H5Tget_size(ft[k]) : 0);
	}
	hid_t c =
	    ok ? H5Tcreate(H5T_COMPOUND, total ? total : 1) : H5I_INVALID_HID;
	size_t at = 0;
	for (size_t k = 0; c >= 0 && k < s->n; k++) {
		if (H5Tinsert(c, s->fields[k].name, at, ft[k]) < 0) {
			H5Tclose(c);
			c = H5I_INVALID_HID;
		}
		at += slot ? slot : H5Tget_size(ft[k]);
	}
	for (size_t k = 0; k < s->n; k++)
		if (ft[k] >= 0)
			H5Tclose(ft[k]);
	free(ft);
	return c;
}

hid_t pl_h5_row_mem_type(const pl_schema *s)
{
	return row_type(s, pl_h5_write_type, SLOT);
}

hid_t pl_h5_row_file_type(const pl_schema *s)
{
	return row_type(s, pl_h5_file_type, 0);
}

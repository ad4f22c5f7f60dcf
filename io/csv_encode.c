/* CSV text for batches: ',' between fields, '\n' after each row, a field
 * quoted only when it holds ',', '"', CR or LF, or is the empty string
 * (written "" so that it differs from NULL, an empty field). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv_encode.h"
#include "io/csv_writer.h"
#include "pipeline/datetime.h"

/* Room for any int64, bool, double, date or timestamp field plus its
 * delimiter (the longest timestamp takes 30 bytes). */
#define FIXED_FIELD_MAX 40

static inline int need(pl_csv_out *o, size_t n, pl_error *err)
{
	if (o->cap - o->len >= n)
		return 0;
	return o->room(o, n, err);
}

int pl_csv_out_grow(pl_csv_out *o, size_t n, pl_error *err)
{
	if (n > SIZE_MAX / 4 - o->len)
		return pl_error_nomem(err, "CSV text");
	size_t cap = o->cap ? o->cap : 4096;
	while (cap - o->len < n)
		cap *= 2;
	char *p = realloc(o->buf, cap);
	if (p == NULL)
		return pl_error_nomem(err, "CSV text");
	o->buf = p;
	o->cap = cap;
	return 0;
}

static inline int must_quote(const char *s, size_t len)
{
	if (len == 0)
		return 1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == ',' || c == '"' || c == '\n' || c == '\r')
			return 1;
	}
	return 0;
}

/* Room was reserved for 2 * len + 2 bytes. */
static char *put_quoted(char *p, const char *s, size_t len)
{
	*p++ = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			*p++ = '"';
		*p++ = s[i];
	}
	*p++ = '"';
	return p;
}

static int put_string(pl_csv_out *o, const char *s, size_t len, pl_error *err)
{
	if (len > (SIZE_MAX - 8) / 2)
		return pl_error_nomem(err, "CSV text");
	int rc = need(o, 2 * len + 3, err);
	if (rc != 0)
		return rc;
	char *p = o->buf + o->len;
	if (must_quote(s, len)) {
		p = put_quoted(p, s, len);
	} else {
		memcpy(p, s, len);
		p += len;
	}
	o->len = (size_t)(p - o->buf);
	return 0;
}

static size_t put_i64(char *p, int64_t v)
{
	char tmp[24];
	size_t n = 0, k = 0;
	uint64_t u = (uint64_t)v;
	if (v < 0) {
		p[k++] = '-';
		u = 0 - u;
	}
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	while (n > 0)
		p[k++] = tmp[--n];
	return k;
}

static size_t put_fixed(char *p, const pl_column *c, size_t row)
{
	switch (c->type) {
	case PL_INT64:
		return put_i64(p, pl_col_i64(c)[row]);
	case PL_FLOAT64:
		return pl_format_double(pl_col_f64(c)[row], p);
	case PL_DATE:
		return pl_format_date(pl_col_i64(c)[row], p);
	case PL_TIMESTAMP:
		return pl_format_timestamp(pl_col_i64(c)[row], p);
	default:
		if (pl_col_bool(c)[row]) {
			memcpy(p, "true", 4);
			return 4;
		}
		memcpy(p, "false", 5);
		return 5;
	}
}

static int put_field(pl_csv_out *o, const pl_column *c, size_t row,
		     pl_error *err)
{
	if (pl_column_is_null(c, row))
		return 0;
	if (c->type == PL_STRING) {
		size_t len;
		const char *s = pl_col_str(c, row, &len);
		return put_string(o, s, len, err);
	}
	int rc = need(o, FIXED_FIELD_MAX, err);
	if (rc != 0)
		return rc;
	o->len += put_fixed(o->buf + o->len, c, row);
	return 0;
}

/* Appends one delimiter or line end; room for it is always made first. */
static int put_char(pl_csv_out *o, char ch, pl_error *err)
{
	int rc = need(o, 1, err);
	if (rc != 0)
		return rc;
	o->buf[o->len++] = ch;
	return 0;
}

int pl_csv_out_rows(pl_csv_out *o, const pl_batch *b, pl_error *err)
{
	int rc = 0;
	for (size_t r = 0; r < b->nrows && rc == 0; r++) {
		o->row = o->len;
		for (size_t c = 0; c < b->ncols && rc == 0; c++) {
			if (c > 0)
				rc = put_char(o, ',', err);
			if (rc == 0)
				rc = put_field(o, &b->cols[c], r, err);
		}
		if (rc == 0)
			rc = put_char(o, '\n', err);
	}
	return rc;
}

int pl_csv_out_header(pl_csv_out *o, const pl_schema *s, pl_error *err)
{
	int rc = 0;
	for (size_t c = 0; c < s->n && rc == 0; c++) {
		const char *name = s->fields[c].name;
		if (c > 0)
			rc = put_char(o, ',', err);
		if (rc == 0)
			rc = put_string(o, name, strlen(name), err);
	}
	return rc == 0 ? put_char(o, '\n', err) : rc;
}

static int encode_into(char **buf, size_t *len, size_t *cap, const pl_schema *s,
		       const pl_batch *b, pl_error *err)
{
	pl_csv_out o = {*buf, *len, *cap, 0, pl_csv_out_grow};
	int rc =
	    s ? pl_csv_out_header(&o, s, err) : pl_csv_out_rows(&o, b, err);
	*buf = o.buf;
	*cap = o.cap;
	if (rc == 0)
		*len = o.len;
	return rc;
}

int pl_csv_encode_batch(const pl_batch *b, char **buf, size_t *len, size_t *cap,
			pl_error *err)
{
	return encode_into(buf, len, cap, NULL, b, err);
}

int pl_csv_encode_header(const pl_schema *s, char **buf, size_t *len,
			 size_t *cap, pl_error *err)
{
	return encode_into(buf, len, cap, s, NULL, err);
}

/* Reading a row range of one column: a hyperslab of the dataset straight
 * into the packed column's array, with HDF5 converting to int64, double
 * or uint8 on the way; strings through a scratch buffer into the arena. A
 * compound field is read with a one-field compound memory type, which
 * HDF5 matches to the stored field by name. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "io/hdf5_table.h"
#include "io/hdf5_time.h"

/* The selection and types of one read; closed by read_end. */
typedef struct h5_read {
	hid_t fspace, mspace, mtype;
} h5_read;

static void read_end(h5_read *rd)
{
	hid_t es = pl_h5_error_keep();
	if (rd->fspace >= 0)
		H5Sclose(rd->fspace);
	if (rd->mspace >= 0)
		H5Sclose(rd->mspace);
	if (rd->mtype >= 0)
		H5Tclose(rd->mtype);
	pl_h5_error_restore(es);
}

static int fail(const pl_h5_table *t, size_t i, const char *what, pl_error *err)
{
	char where[1200], why[256];
	pl_h5_table_where(t, i, where, sizeof(where));
	pl_h5_last_error(why, sizeof(why));
	return pl_error_set(err, PL_ERR_DATA, "%s: %s: %s", where, what, why);
}

/* Wraps the value type in a one-field compound for a compound table (as
 * an array of the member's length for an array member). */
static hid_t field_type(const pl_h5_table *t, size_t i, hid_t value)
{
	const pl_h5_src *s = &t->src[i];
	if (s->dset != t->table || value < 0)
		return value;
	if (s->array) {
		hsize_t k = s->width;
		hid_t a = H5Tarray_create2(value, 1, &k);
		H5Tclose(value);
		if (a < 0)
			return a;
		value = a;
	}
	hid_t c = H5Tcreate(H5T_COMPOUND, H5Tget_size(value));
	if (c >= 0 &&
	    H5Tinsert(c, s->field ? s->field : s->name, 0, value) < 0) {
		H5Tclose(c);
		c = H5I_INVALID_HID;
	}
	H5Tclose(value);
	return c;
}

/* Rows [first, first + n) of source i: of its 1-D dataset or compound
 * table, or of one column of its 2-D dataset. */
static int read_begin(const pl_h5_table *t, size_t i, hid_t dset, hid_t value,
		      uint64_t first, size_t n, h5_read *rd)
{
	const pl_h5_src *s = &t->src[i];
	hsize_t start[2] = {first, s->elem}, count[2] = {n, 1};
	rd->mspace = H5Screate_simple(1, count, NULL);
	rd->fspace = H5Dget_space(dset);
	rd->mtype = field_type(t, i, value);
	if (rd->mspace < 0 || rd->fspace < 0 || rd->mtype < 0)
		return -1;
	return H5Sselect_hyperslab(rd->fspace, H5S_SELECT_SET, start, NULL,
				   count, NULL);
}

/* Reads n rows through the value type into buf: n values, or n * width of
 * an array member (row after row). */
static int read_into(const pl_h5_table *t, size_t i, hid_t dset, hid_t value,
		     uint64_t first, size_t n, void *buf, pl_error *err)
{
	h5_read rd = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
	int rc = read_begin(t, i, dset, value, first, n, &rd);
	if (rc >= 0)
		rc = H5Dread(dset, rd.mtype, rd.mspace, rd.fspace, H5P_DEFAULT,
			     buf);
	read_end(&rd);
	return rc < 0 ? fail(t, i, "cannot read", err) : 0;
}

static int check_uint64(const pl_h5_table *t, size_t i, uint64_t first,
			const pl_column *c, pl_error *err)
{
	const uint64_t *v = (const uint64_t *)c->data;
	for (size_t k = 0; k < c->len; k++) {
		if (v[k] <= INT64_MAX)
			continue;
		char where[1200];
		pl_h5_table_where(t, i, where, sizeof(where));
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: row %" PRIu64 ": %" PRIu64
				    " does not fit int64",
				    where, first + k, v[k]);
	}
	return 0;
}

/* The length of a fixed-length string: up to its first NUL, without the
 * trailing blanks of a space-padded type. */
static size_t fixed_len(const char *s, size_t size, int spacepad)
{
	size_t n = strnlen(s, size);
	while (spacepad && n > 0 && s[n - 1] == ' ')
		n--;
	return n;
}

static size_t value_len(const pl_h5_type *t, const char *s)
{
	if (t->kind == PL_H5_FSTR)
		return fixed_len(s, t->size, t->spacepad);
	return s ? strlen(s) : 0;
}

static const char *value_at(const pl_h5_type *t, const void *buf, size_t k)
{
	if (t->kind == PL_H5_FSTR)
		return (const char *)buf + k * t->size;
	return ((char *const *)buf)[k];
}

/* Bytes of one value of the memory type of t. */
static size_t value_bytes(const pl_h5_type *t)
{
	switch (t->kind) {
	case PL_H5_BOOL:
	case PL_H5_BITS:
		return 1;
	case PL_H5_FSTR:
	case PL_H5_ENUM:
		return t->size;
	case PL_H5_VSTR:
		return sizeof(char *);
	default:
		return 8;
	}
}

/* Where row k's value is in a buffer of n rows of w values each. */
typedef struct pick {
	size_t w, elem;
} pick;

/* Packs n strings into the arena; a NULL row's value is left empty. */
static int pack_strings(const pl_h5_type *t, const void *buf, size_t n, pick p,
			const uint8_t *valid, pl_column *c, pl_pool *pool,
			pl_error *err)
{
	size_t total = 0;
	for (size_t k = 0; k < n; k++)
		if (valid == NULL || valid[k])
			total +=
			    value_len(t, value_at(t, buf, k * p.w + p.elem));
	if (pl_column_reserve_arena(c, total, pool, err) != 0)
		return PL_ERR_NOMEM;
	int64_t *off = pl_col_off(c);
	for (size_t k = 0; k < n; k++) {
		const char *s = value_at(t, buf, k * p.w + p.elem);
		size_t len = valid == NULL || valid[k] ? value_len(t, s) : 0;
		if (len > 0)
			memcpy(c->arena + c->arena_len, s, len);
		c->arena_len += len;
		off[k + 1] = (int64_t)c->arena_len;
	}
	c->len = n;
	return 0;
}

/* An enum's values as their members' names. */
static int pack_names(const pl_h5_table *t, size_t i, uint64_t first,
		      const void *buf, size_t n, pick p, const uint8_t *valid,
		      pl_column *c, pl_pool *pool, pl_error *err)
{
	const pl_h5_type *ty = &t->src[i].t;
	int64_t *off = pl_col_off(c);
	for (size_t k = 0; k < n; k++) {
		char name[256];
		size_t len = 0;
		const char *v =
		    (const char *)buf + (k * p.w + p.elem) * ty->size;
		if ((valid == NULL || valid[k]) &&
		    H5Tenum_nameof(ty->native, v, name, sizeof(name)) < 0) {
			char where[1200];
			pl_h5_table_where(t, i, where, sizeof(where));
			return pl_error_set(err, PL_ERR_DATA,
					    "%s: row %" PRIu64 ": a value that "
					    "is not a member of its enum",
					    where, first + k);
		}
		if (valid == NULL || valid[k])
			len = strnlen(name, sizeof(name));
		if (pl_column_reserve_arena(c, len, pool, err) != 0)
			return PL_ERR_NOMEM;
		memcpy(c->arena + c->arena_len, name, len);
		c->arena_len += len;
		off[k + 1] = (int64_t)c->arena_len;
	}
	c->len = n;
	return 0;
}

/* Variable-length strings come back as pointers HDF5 allocated;
 * H5Dvlen_reclaim frees them (a NULL pointer, as calloc left it, is fine). */
static int read_strings(const pl_h5_table *t, size_t i, uint64_t first,
			size_t n, const uint8_t *valid, pl_column *c,
			pl_pool *pool, pl_error *err)
{
	const pl_h5_src *s = &t->src[i];
	const pl_h5_type *ty = &s->t;
	pick p = {s->array ? s->width : 1, s->array ? s->elem : 0};
	void *buf = pl_pool_calloc(pool, n ? n * p.w : 1, value_bytes(ty));
	if (buf == NULL)
		return pl_error_nomem(err, "an hdf5 string buffer");
	h5_read rd = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
	int rc = read_begin(t, i, s->dset, pl_h5_mem_type(ty), first, n, &rd);
	if (rc >= 0)
		rc = H5Dread(s->dset, rd.mtype, rd.mspace, rd.fspace,
			     H5P_DEFAULT, buf);
	if (rc < 0)
		rc = fail(t, i, "cannot read", err);
	else if (ty->kind == PL_H5_ENUM)
		rc = pack_names(t, i, first, buf, n, p, valid, c, pool, err);
	else
		rc = pack_strings(ty, buf, n, p, valid, c, pool, err);
	if (ty->kind == PL_H5_VSTR && rd.mtype >= 0 && rd.mspace >= 0)
		H5Dvlen_reclaim(rd.mtype, rd.mspace, H5P_DEFAULT, buf);
	read_end(&rd);
	pl_pool_free(pool, buf);
	return rc;
}

/* Numbers and bools straight into the column; an array member's element
 * through a buffer of whole rows. */
static int read_values(const pl_h5_table *t, size_t i, uint64_t first, size_t n,
		       pl_column *c, pl_pool *pool, pl_error *err)
{
	const pl_h5_src *s = &t->src[i];
	const pl_h5_type *ty = &s->t;
	size_t vb = value_bytes(ty);
	char *buf = c->data;
	if (s->array &&
	    (buf = pl_pool_alloc(pool, n * s->width * vb + 1)) == NULL)
		return pl_error_nomem(err, "an hdf5 array buffer");
	int rc =
	    read_into(t, i, s->dset, pl_h5_mem_type(ty), first, n, buf, err);
	if (s->array) {
		for (size_t k = 0; rc == 0 && k < n; k++)
			memcpy((char *)c->data + k * vb,
			       buf + (k * s->width + s->elem) * vb, vb);
		pl_pool_free(pool, buf);
	}
	c->len = n;
	if (rc == 0 && ty->kind == PL_H5_UINT64)
		rc = check_uint64(t, i, first, c, err);
	if (rc == 0 && ty->kind == PL_H5_BITS)
		for (size_t k = 0; k < n; k++)
			pl_col_bool(c)[k] = pl_col_bool(c)[k] != 0;
	return rc;
}

/* NULL rows: clear their bit and zero their value slot. */
static int apply_valid(const uint8_t *valid, size_t n, pl_column *c,
		       pl_pool *pool, pl_error *err)
{
	size_t width = c->type == PL_BOOL ? 1 : 8;
	for (size_t k = 0; k < n; k++) {
		if (valid[k])
			continue;
		if (pl_column_make_nullable(c, pool, err) != 0)
			return PL_ERR_NOMEM;
		pl_bit_set(c->valid, k, false);
		if (c->type != PL_STRING)
			memset((char *)c->data + k * width, 0, width);
	}
	return 0;
}

/* pandas' NaT, the least int64, is NULL. */
static int apply_nat(size_t n, pl_column *c, pl_pool *pool, pl_error *err)
{
	int64_t *v = pl_col_i64(c);
	for (size_t k = 0; k < n; k++) {
		if (v[k] != INT64_MIN)
			continue;
		if (pl_column_make_nullable(c, pool, err) != 0)
			return PL_ERR_NOMEM;
		pl_bit_set(c->valid, k, false);
		v = pl_col_i64(c);
		v[k] = 0;
	}
	return 0;
}

static int read_valid(const pl_h5_table *t, size_t i, uint64_t first, size_t n,
		      uint8_t *valid, pl_error *err)
{
	hsize_t start = first, count = n;
	hid_t ms = H5Screate_simple(1, &count, NULL);
	hid_t fs = H5Dget_space(t->src[i].valid);
	int rc = ms < 0 || fs < 0
		     ? -1
		     : H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL,
					   &count, NULL);
	if (rc >= 0)
		rc = H5Dread(t->src[i].valid, H5T_NATIVE_UINT8, ms, fs,
			     H5P_DEFAULT, valid);
	hid_t es = pl_h5_error_keep();
	H5Sclose(ms);
	H5Sclose(fs);
	pl_h5_error_restore(es);
	return rc < 0 ? fail(t, i, "cannot read its NULLs dataset", err) : 0;
}

/* Empties c for reuse, keeping its buffers; the bitmap goes, since a
 * batch without NULLs has none. */
static int reset_column(pl_column *c, size_t n, pl_pool *pool, pl_error *err)
{
	pl_pool_free(pool, c->valid);
	c->valid = NULL;
	c->len = 0;
	c->arena_len = 0;
	if (pl_column_reserve(c, n, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (c->type == PL_STRING)
		pl_col_off(c)[0] = 0;
	return 0;
}

static int read_column(const pl_h5_table *t, size_t i, uint64_t first, size_t n,
		       pl_column *c, pl_pool *pool, pl_error *err)
{
	if (reset_column(c, n, pool, err) != 0)
		return PL_ERR_NOMEM;
	uint8_t *valid = NULL;
	if (t->src[i].valid >= 0) {
		valid = pl_pool_alloc(pool, n);
		if (valid == NULL)
			return pl_error_nomem(err, "an hdf5 NULLs buffer");
	}
	int rc = valid ? read_valid(t, i, first, n, valid, err) : 0;
	if (rc == 0 && c->type == PL_STRING)
		rc = read_strings(t, i, first, n, valid, c, pool, err);
	else if (rc == 0)
		rc = read_values(t, i, first, n, c, pool, err);
	if (rc == 0 && t->src[i].nat)
		rc = apply_nat(n, c, pool, err);
	if (rc == 0 && valid != NULL)
		rc = apply_valid(valid, n, c, pool, err);
	if (rc == 0 && t->src[i].unit != 0)
		rc = pl_h5_scale_time(t, i, first, c, err);
	pl_pool_free(pool, valid);
	return rc;
}

int pl_h5_read_column(const pl_h5_table *t, size_t i, uint64_t first, size_t n,
		      pl_column *c, pl_pool *pool, pl_error *err)
{
	pl_h5_blame(t);
	int rc = read_column(t, i, first, n, c, pool, err);
	pl_h5_blame(NULL);
	return rc;
}

/* Packed columns: growth, appends and gathers. Buffers grow geometrically
 * through the pool, so a column reused across batches stops allocating
 * once it has reached its working size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/batch.h"

static size_t value_width(pl_type t)
{
	return t == PL_BOOL ? 1 : 8;
}

static size_t bitmap_bytes(size_t n)
{
	return (n + 7) / 8;
}

/* Slots the data buffer needs for cap values (strings keep cap + 1). */
static size_t data_bytes(pl_type t, size_t cap)
{
	return (cap + (t == PL_STRING)) * value_width(t);
}

int pl_column_init(pl_column *c, pl_type t, size_t cap, size_t arena_cap,
		   pl_pool *pool, pl_error *err)
{
	memset(c, 0, sizeof(*c));
	c->type = t == PL_NULLTYPE ? PL_STRING : t;
	if (pl_column_reserve(c, cap < 8 ? 8 : cap, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (c->type == PL_STRING && arena_cap > 0)
		return pl_column_reserve_arena(c, arena_cap, pool, err);
	return 0;
}

void pl_column_free(pl_column *c, pl_pool *pool)
{
	if (c->dict != NULL) {
		pl_column_free(c->dict, pool);
		free(c->dict);
	}
	pl_pool_free(pool, c->data);
	pl_pool_free(pool, c->valid);
	pl_pool_free(pool, c->arena);
	memset(c, 0, sizeof(*c));
}

int pl_column_reserve(pl_column *c, size_t cap, pl_pool *pool, pl_error *err)
{
	if (cap <= c->cap && c->data != NULL)
		return 0;
	size_t ncap = c->cap ? c->cap : 8;
	while (ncap < cap)
		ncap *= 2;
	void *d = pl_pool_realloc(pool, c->data, data_bytes(c->type, ncap));
	if (d == NULL)
		return pl_error_nomem(err, "a column");
	if (c->data == NULL && c->type == PL_STRING)
		((int64_t *)d)[0] = 0;
	c->data = d;
	if (c->valid != NULL) {
		uint8_t *v =
		    pl_pool_realloc(pool, c->valid, bitmap_bytes(ncap));
		if (v == NULL)
			return pl_error_nomem(err, "a validity bitmap");
		memset(v + bitmap_bytes(c->cap), 0,
		       bitmap_bytes(ncap) - bitmap_bytes(c->cap));
		c->valid = v;
	}
	c->cap = ncap;
	return 0;
}

void pl_column_reset(pl_column *c, pl_pool *pool)
{
	c->len = 0;
	c->arena_len = 0;
	if (c->dict == NULL)
		return;
	pl_column_free(c->dict, pool);
	free(c->dict);
	c->dict = NULL;
	if (c->data != NULL)
		pl_col_off(c)[0] = 0;
}

void pl_column_truncate(pl_column *c, size_t len)
{
	c->len = len;
	if (c->type == PL_STRING)
		c->arena_len = (size_t)pl_col_off(c)[len];
}

int pl_column_undict(pl_column *c, pl_pool *pool, pl_error *err)
{
	if (c->dict == NULL)
		return 0;
	pl_column plain;
	int rc = pl_column_init(&plain, PL_STRING, c->cap, 0, pool, err);
	if (rc == 0)
		rc = pl_column_append_range(&plain, c, 0, c->len, pool, err);
	if (rc != 0) {
		pl_column_free(&plain, pool);
		return rc;
	}
	pl_column_free(c, pool);
	*c = plain;
	return 0;
}

int pl_column_reserve_arena(pl_column *c, size_t extra, pl_pool *pool,
			    pl_error *err)
{
	if (extra > SIZE_MAX / 2 - c->arena_len)
		return pl_error_nomem(err, "a string arena");
	size_t need = c->arena_len + extra;
	if (need <= c->arena_cap && c->arena != NULL)
		return 0;
	size_t ncap = c->arena_cap ? c->arena_cap : 256;
	while (ncap < need)
		ncap *= 2;
	char *a = pl_pool_realloc(pool, c->arena, ncap);
	if (a == NULL)
		return pl_error_nomem(err, "a string arena");
	c->arena = a;
	c->arena_cap = ncap;
	return 0;
}

int pl_column_make_nullable(pl_column *c, pl_pool *pool, pl_error *err)
{
	if (c->valid != NULL)
		return 0;
	size_t nb = bitmap_bytes(c->cap);
	uint8_t *v = pl_pool_alloc(pool, nb ? nb : 1);
	if (v == NULL)
		return pl_error_nomem(err, "a validity bitmap");
	memset(v, 0, nb ? nb : 1);
	memset(v, 0xff, c->len / 8);
	for (size_t i = c->len / 8 * 8; i < c->len; i++)
		pl_bit_set(v, i, true);
	c->valid = v;
	return 0;
}

static int grow_one(pl_column *c, pl_pool *pool, pl_error *err)
{
	if (c->len < c->cap && c->data != NULL)
		return 0;
	return pl_column_reserve(c, c->len + 1, pool, err);
}

static void mark_valid(pl_column *c, size_t i)
{
	if (c->valid != NULL)
		pl_bit_set(c->valid, i, true);
}

int pl_column_push_i64(pl_column *c, int64_t v, pl_pool *pool, pl_error *err)
{
	if (grow_one(c, pool, err) != 0)
		return PL_ERR_NOMEM;
	((int64_t *)c->data)[c->len] = v;
	mark_valid(c, c->len++);
	return 0;
}

int pl_column_push_f64(pl_column *c, double v, pl_pool *pool, pl_error *err)
{
	if (grow_one(c, pool, err) != 0)
		return PL_ERR_NOMEM;
	((double *)c->data)[c->len] = v;
	mark_valid(c, c->len++);
	return 0;
}

int pl_column_push_bool(pl_column *c, bool v, pl_pool *pool, pl_error *err)
{
	if (grow_one(c, pool, err) != 0)
		return PL_ERR_NOMEM;
	((uint8_t *)c->data)[c->len] = v ? 1 : 0;
	mark_valid(c, c->len++);
	return 0;
}

int pl_column_push_str(pl_column *c, const char *s, size_t len, pl_pool *pool,
		       pl_error *err)
{
	if (grow_one(c, pool, err) != 0 ||
	    pl_column_reserve_arena(c, len, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (len > 0)
		memcpy(c->arena + c->arena_len, s, len);
	c->arena_len += len;
	((int64_t *)c->data)[c->len + 1] = (int64_t)c->arena_len;
	mark_valid(c, c->len++);
	return 0;
}

int pl_column_push_null(pl_column *c, pl_pool *pool, pl_error *err)
{
	if (grow_one(c, pool, err) != 0 ||
	    pl_column_make_nullable(c, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (c->type == PL_STRING)
		((int64_t *)c->data)[c->len + 1] = (int64_t)c->arena_len;
	else
		memset((char *)c->data + c->len * value_width(c->type), 0,
		       value_width(c->type));
	pl_bit_set(c->valid, c->len++, false);
	return 0;
}

int pl_column_push_from(pl_column *dst, const pl_column *src, size_t row,
			pl_pool *pool, pl_error *err)
{
	if (pl_column_is_null(src, row))
		return pl_column_push_null(dst, pool, err);
	switch (src->type) {
	case PL_DATE:
	case PL_TIMESTAMP:
	case PL_INT64:
		return pl_column_push_i64(dst, pl_col_i64(src)[row], pool, err);
	case PL_FLOAT64:
		return pl_column_push_f64(dst, pl_col_f64(src)[row], pool, err);
	case PL_BOOL:
		return pl_column_push_bool(dst, pl_col_bool(src)[row], pool,
					   err);
	default: {
		size_t len;
		const char *s = pl_col_str(src, row, &len);
		return pl_column_push_str(dst, s, len, pool, err);
	}
	}
}

static int copy_validity_take(pl_column *dst, const pl_column *src,
			      const uint32_t *idx, size_t from, size_t n,
			      pl_pool *pool, pl_error *err)
{
	if (src->valid == NULL && dst->valid == NULL)
		return 0;
	if (pl_column_make_nullable(dst, pool, err) != 0)
		return PL_ERR_NOMEM;
	for (size_t k = 0; k < n; k++) {
		size_t r = idx ? idx[k] : from + k;
		pl_bit_set(dst->valid, dst->len + k, pl_bit_get(src->valid, r));
	}
	return 0;
}

/* take_strings from a dictionary-encoded column: value by value. */
static int take_dict_strings(pl_column *dst, const pl_column *src,
			     const uint32_t *idx, size_t from, size_t n,
			     pl_pool *pool, pl_error *err)
{
	for (size_t k = 0; k < n; k++) {
		size_t len;
		const char *s = pl_col_str(src, idx ? idx[k] : from + k, &len);
		if (pl_column_reserve_arena(dst, len, pool, err) != 0)
			return PL_ERR_NOMEM;
		memcpy(dst->arena + dst->arena_len, s, len);
		dst->arena_len += len;
		pl_col_off(dst)[dst->len + k + 1] = (int64_t)dst->arena_len;
	}
	return 0;
}

/* How many rows ahead a gather prefetches: far enough to cover a miss to
 * memory at a few nanoseconds a row. */
enum { TAKE_AHEAD = 16 };

/* Copies a string of len bytes from s to d; d has 16 bytes of room, and
 * s_room bytes may be read from s. Short strings (most keys) are copied
 * as one 16-byte move instead of a call. */
static inline void copy_str(char *d, const char *s, size_t len, size_t s_room)
{
	if (len <= 16 && s_room >= 16)
		memcpy(d, s, 16);
	else if (len > 0) /* a column of NULLs and empty strings: no arena */
		memcpy(d, s, len);
}

/* take_strings by an index: the bytes are counted first (which brings
 * the offsets into cache), then copied with the next rows' bytes
 * prefetched, since each row's offset and bytes are two misses in a row
 * in a big column. */
static int take_strings_at(pl_column *dst, const pl_column *src,
			   const uint32_t *idx, size_t n, pl_pool *pool,
			   pl_error *err)
{
	const int64_t *so = pl_col_off(src);
	size_t bytes = 0;
	for (size_t k = 0; k < n; k++) {
		if (k + TAKE_AHEAD < n)
			__builtin_prefetch(so + idx[k + TAKE_AHEAD]);
		bytes += (size_t)(so[idx[k] + 1] - so[idx[k]]);
	}
	if (pl_column_reserve_arena(dst, bytes + 16, pool, err) != 0)
		return PL_ERR_NOMEM;
	int64_t *doff = pl_col_off(dst);
	for (size_t k = 0; k < n; k++) {
		if (k + TAKE_AHEAD < n)
			__builtin_prefetch(src->arena +
					   so[idx[k + TAKE_AHEAD]]);
		size_t r = idx[k], at = (size_t)so[r];
		size_t len = (size_t)so[r + 1] - at;
		copy_str(dst->arena + dst->arena_len, src->arena + at, len,
			 src->arena_cap - at);
		dst->arena_len += len;
		doff[dst->len + k + 1] = (int64_t)dst->arena_len;
	}
	return 0;
}

static int take_strings(pl_column *dst, const pl_column *src,
			const uint32_t *idx, size_t from, size_t n,
			pl_pool *pool, pl_error *err)
{
	if (src->dict != NULL)
		return take_dict_strings(dst, src, idx, from, n, pool, err);
	if (idx != NULL)
		return take_strings_at(dst, src, idx, n, pool, err);
	const int64_t *so = pl_col_off(src);
	size_t bytes = (size_t)(so[from + n] - so[from]);
	if (pl_column_reserve_arena(dst, bytes, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (bytes > 0)
		memcpy(dst->arena + dst->arena_len, src->arena + so[from],
		       bytes);
	int64_t *doff = pl_col_off(dst);
	int64_t shift = (int64_t)dst->arena_len - so[from];
	for (size_t k = 0; k < n; k++)
		doff[dst->len + k + 1] = so[from + k + 1] + shift;
	dst->arena_len += bytes;
	return 0;
}

/* d[k] = s[idx[k]], prefetching ahead (see TAKE_AHEAD). */
static void take_i64(int64_t *d, const int64_t *s, const uint32_t *idx,
		     size_t n)
{
	size_t k = 0;
	for (; k + TAKE_AHEAD < n; k++) {
		__builtin_prefetch(s + idx[k + TAKE_AHEAD]);
		d[k] = s[idx[k]];
	}
	for (; k < n; k++)
		d[k] = s[idx[k]];
}

static int append_rows(pl_column *dst, const pl_column *src,
		       const uint32_t *idx, size_t from, size_t n,
		       pl_pool *pool, pl_error *err)
{
	if (n == 0)
		return 0;
	if (pl_column_reserve(dst, dst->len + n, pool, err) != 0 ||
	    copy_validity_take(dst, src, idx, from, n, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (src->type == PL_STRING) {
		if (take_strings(dst, src, idx, from, n, pool, err) != 0)
			return PL_ERR_NOMEM;
	} else if (src->type == PL_BOOL) {
		uint8_t *d = pl_col_bool(dst) + dst->len;
		const uint8_t *s = pl_col_bool(src);
		for (size_t k = 0; k < n; k++)
			d[k] = s[idx ? idx[k] : from + k];
	} else {
		int64_t *d = pl_col_i64(dst) + dst->len;
		const int64_t *s = pl_col_i64(src);
		if (idx == NULL)
			memcpy(d, s + from, n * sizeof(*d));
		else
			take_i64(d, s, idx, n);
	}
	dst->len += n;
	return 0;
}

int pl_column_append_take(pl_column *dst, const pl_column *src,
			  const uint32_t *idx, size_t n, pl_pool *pool,
			  pl_error *err)
{
	return append_rows(dst, src, idx, 0, n, pool, err);
}

int pl_column_append_range(pl_column *dst, const pl_column *src, size_t from,
			   size_t n, pl_pool *pool, pl_error *err)
{
	return append_rows(dst, src, NULL, from, n, pool, err);
}

/* The validity of picks: only when a source or dst has a bitmap. */
static int pick_validity(pl_column *dst, const pl_column *const *srcs,
			 size_t nsrcs, const uint32_t *src, const uint32_t *row,
			 size_t n, pl_pool *pool, pl_error *err)
{
	int any = dst->valid != NULL;
	for (size_t i = 0; !any && i < nsrcs; i++)
		any = srcs[i] != NULL && srcs[i]->valid != NULL;
	if (!any)
		return 0;
	if (pl_column_make_nullable(dst, pool, err) != 0)
		return PL_ERR_NOMEM;
	for (size_t k = 0; k < n; k++) {
		const pl_column *c = srcs[src[k]];
		pl_bit_set(dst->valid, dst->len + k,
			   c->valid == NULL || pl_bit_get(c->valid, row[k]));
	}
	return 0;
}

/* The strings of picks, counted and then copied as take_strings_at does:
 * a merge's picks from a run read in place (a sort's rows through its
 * permutation) land all over a big column, so plain columns have the
 * offsets and then the bytes of the rows ahead asked for. */
static int pick_strings(pl_column *dst, const pl_column *const *srcs,
			size_t nsrcs, const uint32_t *src, const uint32_t *row,
			size_t n, pl_pool *pool, pl_error *err)
{
	int dict = 0;
	for (size_t i = 0; i < nsrcs; i++)
		dict |= srcs[i] != NULL && srcs[i]->dict != NULL;
	size_t bytes = 0, len;
	for (size_t k = 0; k < n; k++) {
		const pl_column *c = srcs[src[k]];
		if (dict)
			pl_col_str(c, row[k], &len);
		else {
			if (k + TAKE_AHEAD < n)
				__builtin_prefetch(
				    pl_col_off(srcs[src[k + TAKE_AHEAD]]) +
				    row[k + TAKE_AHEAD]);
			len = (size_t)(pl_col_off(c)[row[k] + 1] -
				       pl_col_off(c)[row[k]]);
		}
		bytes += len;
	}
	if (pl_column_reserve_arena(dst, bytes + 16, pool, err) != 0)
		return PL_ERR_NOMEM;
	int64_t *doff = pl_col_off(dst);
	for (size_t k = 0; k < n; k++) {
		if (!dict && k + TAKE_AHEAD < n) {
			const pl_column *a = srcs[src[k + TAKE_AHEAD]];
			__builtin_prefetch(a->arena +
					   pl_col_off(a)[row[k + TAKE_AHEAD]]);
		}
		const pl_column *c = srcs[src[k]];
		const char *str = pl_col_str(c, row[k], &len);
		size_t room =
		    dict ? len : c->arena_cap - (size_t)(str - c->arena);
		copy_str(dst->arena + dst->arena_len, str, len, room);
		dst->arena_len += len;
		doff[dst->len + k + 1] = (int64_t)dst->arena_len;
	}
	return 0;
}

int pl_column_append_picks(pl_column *dst, const pl_column *const *srcs,
			   size_t nsrcs, const uint32_t *src,
			   const uint32_t *row, size_t n, pl_pool *pool,
			   pl_error *err)
{
	if (n == 0)
		return 0;
	if (pl_column_reserve(dst, dst->len + n, pool, err) != 0 ||
	    pick_validity(dst, srcs, nsrcs, src, row, n, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (dst->type == PL_STRING) {
		if (pick_strings(dst, srcs, nsrcs, src, row, n, pool, err) != 0)
			return PL_ERR_NOMEM;
	} else if (dst->type == PL_BOOL) {
		uint8_t *d = pl_col_bool(dst) + dst->len;
		for (size_t k = 0; k < n; k++)
			d[k] = pl_col_bool(srcs[src[k]])[row[k]];
	} else {
		int64_t *d = pl_col_i64(dst) + dst->len;
		for (size_t k = 0; k < n; k++) {
			if (k + TAKE_AHEAD < n)
				__builtin_prefetch(
				    pl_col_i64(srcs[src[k + TAKE_AHEAD]]) +
				    row[k + TAKE_AHEAD]);
			d[k] = pl_col_i64(srcs[src[k]])[row[k]];
		}
	}
	dst->len += n;
	return 0;
}

size_t pl_column_bytes(const pl_column *c)
{
	return pl_pool_size(c->data) + pl_pool_size(c->valid) +
	       pl_pool_size(c->arena) +
	       (c->dict != NULL ? pl_column_bytes(c->dict) : 0);
}

/* Pool-backed row storage for blocking operators. The columns grow
 * geometrically, so appending batch after batch allocates rarely, and a
 * failed append is rolled back so that the columns always agree on their
 * length. */
#include <stdlib.h>
#include <string.h>

#include "operators/row_store.h"

enum { DEFAULT_CHUNK_ROWS = 65536 };

int pl_row_store_init(pl_row_store *rs, const pl_schema *schema, const int *map,
		      size_t n, pl_pool *pool, pl_error *err)
{
	rs->ncols = 0;
	rs->nrows = 0;
	if (map == NULL)
		n = schema->n;
	rs->cols = pl_pool_calloc(pool, n ? n : 1, sizeof(pl_column));
	if (rs->cols == NULL)
		return pl_error_nomem(err, "stored rows");
	for (size_t j = 0; j < n; j++) {
		pl_type t = schema->fields[map ? (size_t)map[j] : j].type;
		rs->ncols++;
		if (pl_column_init(&rs->cols[j], t, 0, 0, pool, err) != 0)
			return PL_ERR_NOMEM;
	}
	return 0;
}

void pl_row_store_free(pl_row_store *rs, pl_pool *pool)
{
	for (size_t j = 0; j < rs->ncols && rs->cols != NULL; j++)
		pl_column_free(&rs->cols[j], pool);
	pl_pool_free(pool, rs->cols);
	memset(rs, 0, sizeof(*rs));
}

/* Cuts column c back to n values. */
static void truncate_column(pl_column *c, size_t n)
{
	if (c->len <= n)
		return;
	c->len = n;
	if (c->type == PL_STRING)
		c->arena_len = (size_t)pl_col_off(c)[n];
}

int pl_row_store_take(pl_row_store *rs, const pl_column *src, const int *map,
		      const uint32_t *idx, size_t n, pl_pool *pool,
		      pl_error *err)
{
	if (n > PL_ROW_STORE_MAX_ROWS - rs->nrows)
		return pl_error_set(err, PL_ERR_NOMEM,
				    "more than %zu rows held by one operator",
				    PL_ROW_STORE_MAX_ROWS);
	for (size_t j = 0; j < rs->ncols; j++) {
		const pl_column *s = &src[map ? (size_t)map[j] : j];
		int rc = idx ? pl_column_append_take(&rs->cols[j], s, idx, n,
						     pool, err)
			     : pl_column_append_range(&rs->cols[j], s, 0, n,
						      pool, err);
		if (rc != 0) {
			for (size_t k = 0; k <= j; k++)
				truncate_column(&rs->cols[k], rs->nrows);
			return rc;
		}
	}
	rs->nrows += n;
	return 0;
}

int pl_row_store_keep(pl_row_store *rs, const uint32_t *idx, size_t n,
		      pl_pool *pool, pl_error *err)
{
	pl_row_store kept = {0, 0, NULL};
	kept.cols =
	    pl_pool_calloc(pool, rs->ncols ? rs->ncols : 1, sizeof(pl_column));
	if (kept.cols == NULL)
		return pl_error_nomem(err, "stored rows");
	int rc = 0;
	for (size_t j = 0; j < rs->ncols && rc == 0; j++) {
		kept.ncols++;
		rc = pl_column_init(&kept.cols[j], rs->cols[j].type, n, 0, pool,
				    err);
	}
	if (rc == 0)
		rc =
		    pl_row_store_take(&kept, rs->cols, NULL, idx, n, pool, err);
	if (rc != 0) {
		pl_row_store_free(&kept, pool);
		return rc;
	}
	pl_row_store_free(rs, pool);
	*rs = kept;
	return 0;
}

int pl_row_store_clear(pl_row_store *rs, pl_pool *pool, pl_error *err)
{
	int rc = 0;
	for (size_t j = 0; j < rs->ncols; j++) {
		pl_type t = rs->cols[j].type;
		pl_column_free(&rs->cols[j], pool);
		if (rc == 0)
			rc = pl_column_init(&rs->cols[j], t, 0, 0, pool, err);
		else
			rs->cols[j].type = t;
	}
	rs->nrows = 0;
	return rc;
}

size_t pl_row_store_bytes(const pl_row_store *rs)
{
	size_t n = 0;
	for (size_t j = 0; j < rs->ncols; j++)
		n += pl_column_bytes(&rs->cols[j]);
	return n;
}

/* The factor a buffer of cap units grows by to hold need units. */
static size_t growth(size_t cap, size_t need)
{
	size_t k = 1;
	while (cap * k < need)
		k *= 2;
	return k;
}

/* Column c's pool bytes after n more values holding extra arena bytes,
 * some of them NULL when nulls is set. */
static size_t grown_bytes(const pl_column *c, size_t n, size_t extra,
			  bool nulls)
{
	size_t need = c->len + n, cap = c->cap ? c->cap : 8;
	size_t k = growth(cap, need);
	size_t bytes = pl_pool_size(c->data) * k;
	if (c->valid != NULL)
		bytes += pl_pool_size(c->valid) * k;
	else if (nulls)
		bytes += cap * k / 8 + 1;
	if (c->type == PL_STRING && extra > 0) {
		size_t acap = c->arena_cap ? c->arena_cap : 256;
		size_t a = growth(acap, c->arena_len + extra);
		bytes += (c->arena ? pl_pool_size(c->arena) : acap) * a;
	} else if (c->arena != NULL) {
		bytes += pl_pool_size(c->arena);
	}
	return bytes;
}

size_t pl_row_store_bytes_after(const pl_row_store *rs, const pl_column *src,
				size_t n)
{
	size_t bytes = 0;
	for (size_t j = 0; j < rs->ncols; j++) {
		const pl_column *s = &src[j];
		size_t extra = 0;
		if (s->type == PL_STRING && n > 0)
			extra = (size_t)(pl_col_off(s)[n] - pl_col_off(s)[0]);
		bytes += grown_bytes(&rs->cols[j], n, extra, s->valid != NULL);
	}
	return bytes;
}

int pl_row_store_push_nulls(pl_row_store *rs, pl_pool *pool, pl_error *err)
{
	if (rs->nrows >= PL_ROW_STORE_MAX_ROWS)
		return pl_error_set(err, PL_ERR_NOMEM,
				    "more than %zu rows held by one operator",
				    PL_ROW_STORE_MAX_ROWS);
	for (size_t j = 0; j < rs->ncols; j++) {
		int rc = pl_column_push_null(&rs->cols[j], pool, err);
		if (rc != 0) {
			for (size_t k = 0; k <= j; k++)
				truncate_column(&rs->cols[k], rs->nrows);
			return rc;
		}
	}
	rs->nrows++;
	return 0;
}

pl_batch *pl_row_store_new_batch(const pl_row_store *rs, size_t cap,
				 pl_pool *pool, pl_error *err)
{
	pl_batch *b = calloc(1, sizeof(*b));
	pl_column *cols = calloc(rs->ncols ? rs->ncols : 1, sizeof(*cols));
	if (b == NULL || cols == NULL) {
		free(b);
		free(cols);
		pl_error_nomem(err, "a batch");
		return NULL;
	}
	b->cols = cols;
	for (size_t j = 0; j < rs->ncols; j++) {
		b->ncols++;
		if (pl_column_init(&cols[j], rs->cols[j].type, cap, 0, pool,
				   err) != 0) {
			pl_batch_free(b, pool);
			return NULL;
		}
	}
	return b;
}

int pl_row_store_fill(pl_batch *b, const pl_row_store *rs, const uint32_t *idx,
		      size_t from, size_t n, pl_pool *pool, pl_error *err)
{
	pl_batch_clear(b);
	for (size_t j = 0; j < rs->ncols; j++) {
		int rc = idx ? pl_column_append_take(&b->cols[j], &rs->cols[j],
						     idx + from, n, pool, err)
			     : pl_column_append_range(&b->cols[j], &rs->cols[j],
						      from, n, pool, err);
		if (rc != 0)
			return rc;
	}
	b->nrows = n;
	return 0;
}

int pl_row_store_emit(const pl_row_store *rs, const uint32_t *idx, size_t n,
		      size_t chunk_rows, pl_pool *pool, const pl_emitter *out,
		      pl_error *err)
{
	if (n == 0)
		return 0;
	size_t cap = n < chunk_rows ? n : chunk_rows;
	pl_batch *b = pl_row_store_new_batch(rs, cap, pool, err);
	if (b == NULL)
		return PL_ERR_NOMEM;
	int rc = 0;
	for (size_t from = 0; from < n && rc == 0; from += chunk_rows) {
		size_t m = n - from < chunk_rows ? n - from : chunk_rows;
		rc = pl_row_store_fill(b, rs, idx, from, m, pool, err);
		if (rc == 0)
			rc = pl_emit(out, b, err);
	}
	pl_batch_free(b, pool);
	return rc;
}

size_t pl_row_store_chunk(const pl_op_env *env)
{
	return env->chunk_rows ? env->chunk_rows : DEFAULT_CHUNK_ROWS;
}

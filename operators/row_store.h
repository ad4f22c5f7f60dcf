/* Rows kept by a blocking operator: pool-backed packed columns that input
 * batches (borrowed for one call) are copied into, and that are emitted
 * again in chunks, in any order of their row indices. */
#ifndef PIPELINE_OPERATORS_ROW_STORE_H
#define PIPELINE_OPERATORS_ROW_STORE_H

#include <stdint.h>

#include "pipeline/operator.h"

typedef struct pl_row_store {
	size_t ncols;
	size_t nrows;
	pl_column *cols; /* pool buffer of ncols columns */
} pl_row_store;

/* Row indices are uint32_t (the gathers take them so); one is kept spare. */
#define PL_ROW_STORE_MAX_ROWS ((size_t)UINT32_MAX - 1)

/* An empty store whose column j has the type of schema column map[j]
 * (map NULL: every column of schema, n ignored). On failure the store is
 * still safe to free. */
int pl_row_store_init(pl_row_store *rs, const pl_schema *schema, const int *map,
		      size_t n, pl_pool *pool, pl_error *err);

void pl_row_store_free(pl_row_store *rs, pl_pool *pool);

/* Appends rows idx[0..n) (idx NULL: rows 0..n) of the columns src[map[j]]
 * (map NULL: src[j]) to the store. On failure the store is unchanged. */
int pl_row_store_take(pl_row_store *rs, const pl_column *src, const int *map,
		      const uint32_t *idx, size_t n, pl_pool *pool,
		      pl_error *err);

/* Keeps only rows idx[0..n), in that order. On failure the store is
 * unchanged. */
int pl_row_store_keep(pl_row_store *rs, const uint32_t *idx, size_t n,
		      pl_pool *pool, pl_error *err);

/* Empties the store and gives its buffers back to the pool, keeping the
 * column types. On failure (the small fresh buffers) the store is still
 * safe to free. */
int pl_row_store_clear(pl_row_store *rs, pl_pool *pool, pl_error *err);

/* Bytes the store's columns take from the pool. */
size_t pl_row_store_bytes(const pl_row_store *rs);

/* What the store would take from the pool after appending rows 0..n of
 * the columns src (as pl_row_store_take with map and idx NULL would):
 * columns that must grow double, as pl_column_reserve grows them. */
size_t pl_row_store_bytes_after(const pl_row_store *rs, const pl_column *src,
				size_t n);

/* Appends a row of NULLs. */
int pl_row_store_push_nulls(pl_row_store *rs, pl_pool *pool, pl_error *err);

/* An empty batch with the store's column types and room for cap rows;
 * pl_batch_free releases it. NULL with err set on failure. */
pl_batch *pl_row_store_new_batch(const pl_row_store *rs, size_t cap,
				 pl_pool *pool, pl_error *err);

/* Fills b (a batch of the store's columns) with rows idx[from..from+n)
 * of the store, or rows from..from+n when idx is NULL. */
int pl_row_store_fill(pl_batch *b, const pl_row_store *rs, const uint32_t *idx,
		      size_t from, size_t n, pl_pool *pool, pl_error *err);

/* Emits rows idx[0..n) (idx NULL: rows 0..n) in batches of at most
 * chunk_rows. Returns 0, PL_STOP when downstream wants no more, or an
 * error. */
int pl_row_store_emit(const pl_row_store *rs, const uint32_t *idx, size_t n,
		      size_t chunk_rows, pl_pool *pool, const pl_emitter *out,
		      pl_error *err);

/* The rows per emitted batch for an environment (its chunk_rows, or a
 * default when the runtime left it 0). */
size_t pl_row_store_chunk(const pl_op_env *env);

#endif

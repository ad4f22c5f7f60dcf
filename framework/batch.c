#include <stdlib.h>
#include <string.h>

#include "pipeline/batch.h"

pl_batch *pl_batch_new(const pl_schema *schema, size_t cap, pl_pool *pool,
		       pl_error *err)
{
	pl_batch *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		pl_error_nomem(err, "a batch");
		return NULL;
	}
	b->ncols = schema->n;
	b->cols = calloc(schema->n ? schema->n : 1, sizeof(pl_column));
	if (b->cols == NULL) {
		free(b);
		pl_error_nomem(err, "a batch");
		return NULL;
	}
	for (size_t i = 0; i < schema->n; i++) {
		if (pl_column_init(&b->cols[i], schema->fields[i].type, cap, 0,
				   pool, err) != 0) {
			pl_batch_free(b, pool);
			return NULL;
		}
	}
	return b;
}

void pl_batch_free(pl_batch *b, pl_pool *pool)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->ncols; i++)
		pl_column_free(&b->cols[i], pool);
	pl_pool_free(pool, b->line);
	free(b->cols);
	free(b);
}

void pl_batch_clear(pl_batch *b)
{
	for (size_t j = 0; j < b->ncols; j++) {
		b->cols[j].len = 0;
		b->cols[j].arena_len = 0;
	}
	b->nrows = 0;
}

void pl_batch_sync_rows(pl_batch *b)
{
	b->nrows = b->ncols ? b->cols[0].len : 0;
}

size_t pl_batch_bytes(const pl_batch *b)
{
	size_t n = pl_pool_size(b->line);
	for (size_t i = 0; i < b->ncols; i++)
		n += pl_column_bytes(&b->cols[i]);
	return n;
}

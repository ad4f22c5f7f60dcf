/* Ordering rows held in packed columns: a multi-key comparator (NULLs last
 * in either direction), a stable sort of a row-index permutation, and the
 * parser of `col [asc|desc], ...` lists shared by [sort] and [join]. */
#ifndef PIPELINE_OPERATORS_ROW_ORDER_H
#define PIPELINE_OPERATORS_ROW_ORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/batch.h"
#include "pipeline/section.h"

typedef struct pl_order_key {
	size_t col; /* index into the column array being ordered */
	bool desc;
} pl_order_key;

/* <0, 0 or >0 as row a sorts before, with or after row b. */
int pl_row_order_compare(const pl_column *cols, const pl_order_key *keys,
			 size_t nkeys, size_t a, size_t b);

/* pl_row_order_compare of row a of columns ca with row b of columns cb
 * (columns of the same types, in the same places). */
int pl_row_order_compare_across(const pl_column *ca, size_t a,
				const pl_column *cb, size_t b,
				const pl_order_key *keys, size_t nkeys);

/* Sorts idx[0..n) by the keys, stably (equal rows keep their order in
 * idx). Takes pl_row_order_scratch bytes of scratch from the pool. */
int pl_row_order_sort(uint32_t *idx, size_t n, const pl_column *cols,
		      const pl_order_key *keys, size_t nkeys, pl_pool *pool,
		      pl_error *err);

/* Bytes of scratch pl_row_order_sort takes for n rows of these columns. */
size_t pl_row_order_scratch(const pl_column *cols, const pl_order_key *keys,
			    size_t nkeys, size_t n);

/* Reads one column name at *p, bare (ending at a blank, ',' or ':') or in
 * backquotes, into a malloc'd *name and moves *p past it. Returns 0, or -1
 * when there is no name there or a backquote is not closed. */
int pl_order_read_name(const char **p, char **name);

/* Parses the section's key as `col [asc|desc], ...` against schema into
 * pool-allocated keys (allow_dir = 0 refuses direction words). Unknown
 * columns are PL_ERR_CONF naming the key's line, with a suggestion. */
int pl_order_parse(const pl_section *sec, const char *key,
		   const pl_schema *schema, bool allow_dir, pl_pool *pool,
		   pl_order_key **keys, size_t *n, pl_error *err);

/* Index of name in schema, or a PL_ERR_CONF naming the key's line and the
 * closest name. */
int pl_order_find_column(const pl_section *sec, const char *key,
			 const pl_schema *schema, const char *name, int *col,
			 pl_error *err);

#endif

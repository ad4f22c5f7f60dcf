/* A hash index over a schema's column names, for the loops that look up
 * every column of a wide table: pl_schema_find compares names one by one,
 * which made a 100000-column header take 20 s. */
#ifndef PIPELINE_FRAMEWORK_NAME_INDEX_H
#define PIPELINE_FRAMEWORK_NAME_INDEX_H

#include "pipeline/batch.h"

typedef struct pl_name_index pl_name_index;

/* An empty index with room for about n names (it grows). NULL when out
 * of memory. The index borrows the names of the schema it is used with:
 * the schema must outlive it and keep its fields in place. */
pl_name_index *pl_name_index_new(size_t n);

/* Adds column i of s (s->fields[i].name). A name already present keeps
 * its first column. Returns 0 or -1 when out of memory. */
int pl_name_index_add(pl_name_index *ix, const pl_schema *s, size_t i);

/* The first column of s called name, or -1 (as pl_schema_find). */
int pl_name_index_find(const pl_name_index *ix, const pl_schema *s,
		       const char *name);

void pl_name_index_free(pl_name_index *ix);

#endif

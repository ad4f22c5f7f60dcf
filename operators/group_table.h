/* A hash table from multi-column keys to dense group ids 0, 1, 2, ...
 *
 * Open addressing with linear probing. A slot holds the group id + 1 and
 * the upper half of the key's hash, so that most mismatches are rejected
 * without touching the keys; full hashes are kept per group for growing.
 * Group g's key values are row g of the packed key columns.
 *
 * Interned string keys (pl_group_table_intern): each string key column
 * keeps its distinct values once, and the table holds a 32-bit code per
 * group instead of the string. With several keys this is what keeps a
 * table of ten million groups small, and lets the table hash and compare
 * integers. Read such keys with pl_group_table_append_keys, not keys[]. */
#ifndef PL_OPERATORS_GROUP_TABLE_H
#define PL_OPERATORS_GROUP_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/batch.h"
#include "pipeline/error.h"
#include "pipeline/pool.h"

typedef struct pl_intern pl_intern;

typedef struct pl_group_table {
	pl_pool *pool;
	size_t nkeys;
	pl_column *keys;    /* nkeys columns (malloc'd array), one row a group;
			       an interned key holds int64 codes */
	pl_intern **intern; /* per key: its distinct strings, or NULL */
	pl_column *codes;   /* per interned key: the current batch's codes */
	const pl_column **use; /* per key: what the current batch maps by */
	size_t ngroups;
	uint64_t *hashes; /* per group */
	size_t hashes_cap;
	uint64_t *slots; /* (hash >> 32) << 32 | (gid + 1); 0 is empty */
	size_t nslots;	 /* a power of two */
	uint64_t *hbuf;	 /* per-row hashes of the current batch */
	size_t hbuf_cap;
	uint32_t *dgid; /* per dictionary entry of a batch's key: its group */
	size_t dgid_cap;
	int64_t *trans; /* per dictionary entry: its interned code */
	size_t trans_cap;
	uint64_t *ihash; /* per row of a plain string key: its hash */
	size_t ihash_cap;
} pl_group_table;

/* With nkeys == 0 every row belongs to group 0, which exists from the
 * start so that an empty input still has its one group. */
int pl_group_table_init(pl_group_table *t, const pl_type *types, size_t nkeys,
			pl_pool *pool, pl_error *err);
void pl_group_table_free(pl_group_table *t);

/* Interns the string keys when there are several keys (one string key
 * gains nothing: its table is already the dictionary). Call right after
 * init, before any row is mapped. PL_ERR_NOMEM on failure. */
int pl_group_table_intern(pl_group_table *t, pl_error *err);

/* Appends key k of groups [g0, g0 + n) (or, with gids, of groups gids[0 ..
 * n)) to dst, a column of the key's own type: strings for an interned
 * key. */
int pl_group_table_append_keys(const pl_group_table *t, size_t k, size_t g0,
			       const uint32_t *gids, size_t n, pl_column *dst,
			       pl_error *err);

/* Key k of group g as text, for messages. */
void pl_group_table_format_key(const pl_group_table *t, size_t k, size_t g,
			       char *buf, size_t cap);

/* Fills gid[0..nrows) with the group of each row of the key columns,
 * adding groups for keys not seen before. A dictionary-encoded string key
 * is looked up once per dictionary entry; it must be the only key or an
 * interned one. */
int pl_group_table_map(pl_group_table *t, const pl_column *const *keys,
		       size_t nrows, uint32_t *gid, pl_error *err);

size_t pl_group_table_bytes(const pl_group_table *t);

#endif

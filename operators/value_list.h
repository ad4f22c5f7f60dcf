/* The (group, value) pairs that median, quantile and count_distinct keep
 * (aggregates.h), in blocks of PL_VLIST_BLOCK pairs.
 *
 * Blocks of one size instead of one array grown by doubling: a rank that
 * sends its local list to the groups' owners can free it block by block
 * as the export passes (pl_value_list_drop), while its own owner's list
 * grows from what arrives; the pool hands the freed blocks to that list
 * instead of new memory, which the kernel must first fault in and zero
 * (on the test VM every huge page first touched is a fresh host page).
 * Block 0 starts small and doubles up to the full size, so that a small
 * list stays small. */
#ifndef PL_OPERATORS_VALUE_LIST_H
#define PL_OPERATORS_VALUE_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/error.h"
#include "pipeline/pool.h"

/* 512 Ki pairs: 2 MiB of groups and 4 MiB of values, both whole huge
 * pages of the pool's mapped classes. */
#define PL_VLIST_SHIFT 19
#define PL_VLIST_BLOCK ((size_t)1 << PL_VLIST_SHIFT)

/* Zeroed is empty. Numbers are kept as their 8 bytes (int64 and bool as
 * int64, doubles as their bits); a string as where it ends in arena, the
 * next string starting there. Owns its blocks, from the caller's pool. */
typedef struct pl_value_list {
	size_t len;
	size_t cap;	/* pairs the blocks have room for */
	size_t nblocks; /* blocks allocated, dropped ones included */
	size_t slots;	/* entries of gid[] and val[] */
	size_t dropped; /* blocks [0, dropped) freed by pl_value_list_drop */
	uint32_t **gid; /* gid[b][j]: the group of pair b * BLOCK + j */
	int64_t **val;
	char *arena;
	size_t arena_len, arena_cap;
} pl_value_list;

/* Makes room for extra more pairs and bytes more string bytes. Returns 0,
 * or PL_ERR_NOMEM with err set (the list as it was, perhaps with room to
 * spare). */
int pl_value_list_reserve(pl_value_list *l, pl_pool *pool, size_t extra,
			  size_t bytes, const char *what, pl_error *err);

/* Appends a pair (room reserved). */
static inline void pl_value_list_push(pl_value_list *l, uint32_t g, int64_t v)
{
	size_t b = l->len >> PL_VLIST_SHIFT, j = l->len & (PL_VLIST_BLOCK - 1);
	l->gid[b][j] = g;
	l->val[b][j] = v;
	l->len++;
}

/* Appends k values of group g from bits (8 bytes each; room reserved). */
void pl_value_list_push_run(pl_value_list *l, uint32_t g, const void *bits,
			    size_t k);

/* Appends string s of len bytes to group g (room reserved). */
void pl_value_list_push_str(pl_value_list *l, uint32_t g, const char *s,
			    size_t len);

/* Pairs from i on that share i's block, at most to - i of them: their
 * groups in *gid and values in *val. For loops over a range of pairs. */
static inline size_t pl_value_list_run(const pl_value_list *l, size_t i,
				       size_t to, uint32_t **gid, int64_t **val)
{
	size_t b = i >> PL_VLIST_SHIFT, j = i & (PL_VLIST_BLOCK - 1);
	size_t k = PL_VLIST_BLOCK - j;
	*gid = l->gid[b] + j;
	*val = l->val[b] + j;
	return k < to - i ? k : to - i;
}

static inline int64_t pl_value_list_val(const pl_value_list *l, size_t i)
{
	return l->val[i >> PL_VLIST_SHIFT][i & (PL_VLIST_BLOCK - 1)];
}

static inline uint32_t pl_value_list_gid(const pl_value_list *l, size_t i)
{
	return l->gid[i >> PL_VLIST_SHIFT][i & (PL_VLIST_BLOCK - 1)];
}

/* Adds one to count[g] for each pair [from, to) of group g. */
void pl_value_list_count(const pl_value_list *l, size_t from, size_t to,
			 size_t *count);

/* Moves the values of pairs [from, to) to out, the next one of group g to
 * out[at[g]++] (a counting sort's second pass). */
void pl_value_list_scatter(const pl_value_list *l, size_t from, size_t to,
			   size_t *at, int64_t *out);

/* String i: its bytes in the arena, their count in *len. */
const char *pl_value_list_str(const pl_value_list *l, size_t i, size_t *len);

/* Frees the blocks whose pairs all lie before pair upto, for a reader
 * done with them (string i's start is read from pair i - 1: a reader of
 * strings passes one less), and the strings too once upto is len.
 * Reading a freed pair afterwards is undefined; appending is not allowed. */
void pl_value_list_drop(pl_value_list *l, pl_pool *pool, size_t upto);

/* The pool bytes the list holds. */
size_t pl_value_list_bytes(const pl_value_list *l);

/* Frees everything and zeroes the list. */
void pl_value_list_free(pl_value_list *l, pl_pool *pool);

#endif

/* Blocks of (group, value) pairs: see value_list.h. */
#include <string.h>

#include "operators/value_list.h"

/* Room for one more block pointer in gid[] and val[]. */
static int add_slot(pl_value_list *l, pl_pool *pool)
{
	if (l->nblocks < l->slots)
		return 0;
	size_t n = l->slots ? 2 * l->slots : 8;
	uint32_t **g = pl_pool_realloc(pool, l->gid, n * sizeof(*g));
	if (g == NULL)
		return -1;
	l->gid = g;
	int64_t **v = pl_pool_realloc(pool, l->val, n * sizeof(*v));
	if (v == NULL)
		return -1;
	l->val = v;
	l->slots = n;
	return 0;
}

/* Doubles block 0 until it holds need pairs or is full-sized. */
static int grow_first(pl_value_list *l, pl_pool *pool, size_t need)
{
	size_t ncap = l->cap ? l->cap : 64;
	while (ncap < need && ncap < PL_VLIST_BLOCK)
		ncap *= 2;
	if (l->nblocks == 0) {
		if (add_slot(l, pool) != 0)
			return -1;
		l->gid[0] = NULL;
		l->val[0] = NULL;
		l->nblocks = 1;
	}
	uint32_t *g = pl_pool_realloc(pool, l->gid[0], ncap * sizeof(*g));
	if (g == NULL)
		return -1;
	l->gid[0] = g;
	int64_t *v = pl_pool_realloc(pool, l->val[0], ncap * sizeof(*v));
	if (v == NULL)
		return -1;
	l->val[0] = v;
	l->cap = ncap;
	return 0;
}

static int add_block(pl_value_list *l, pl_pool *pool)
{
	if (add_slot(l, pool) != 0)
		return -1;
	uint32_t *g = pl_pool_alloc(pool, PL_VLIST_BLOCK * sizeof(*g));
	int64_t *v = pl_pool_alloc(pool, PL_VLIST_BLOCK * sizeof(*v));
	if (g == NULL || v == NULL) {
		pl_pool_free(pool, g);
		pl_pool_free(pool, v);
		return -1;
	}
	l->gid[l->nblocks] = g;
	l->val[l->nblocks] = v;
	l->nblocks++;
	l->cap += PL_VLIST_BLOCK;
	return 0;
}

static int grow_arena(pl_value_list *l, pl_pool *pool, size_t bytes)
{
	size_t ncap = l->arena_cap ? l->arena_cap : 1024;
	while (ncap < l->arena_len + bytes)
		ncap *= 2;
	char *p = pl_pool_realloc(pool, l->arena, ncap);
	if (p == NULL)
		return -1;
	l->arena = p;
	l->arena_cap = ncap;
	return 0;
}

int pl_value_list_reserve(pl_value_list *l, pl_pool *pool, size_t extra,
			  size_t bytes, const char *what, pl_error *err)
{
	size_t need = l->len + extra;
	int rc = 0;
	if (need > l->cap && l->cap < PL_VLIST_BLOCK)
		rc = grow_first(l, pool, need);
	while (rc == 0 && need > l->cap)
		rc = add_block(l, pool);
	if (rc == 0 && l->arena_len + bytes > l->arena_cap)
		rc = grow_arena(l, pool, bytes);
	return rc ? pl_error_nomem(err, what) : 0;
}

void pl_value_list_push_run(pl_value_list *l, uint32_t g, const void *bits,
			    size_t k)
{
	const char *from = bits;
	size_t to = l->len + k;
	while (l->len < to) {
		uint32_t *gid;
		int64_t *val;
		size_t n = pl_value_list_run(l, l->len, to, &gid, &val);
		memcpy(val, from, n * sizeof(*val));
		for (size_t j = 0; j < n; j++)
			gid[j] = g;
		from += n * sizeof(*val);
		l->len += n;
	}
}

void pl_value_list_push_str(pl_value_list *l, uint32_t g, const char *s,
			    size_t len)
{
	if (len > 0)
		memcpy(l->arena + l->arena_len, s, len);
	l->arena_len += len;
	pl_value_list_push(l, g, (int64_t)l->arena_len);
}

void pl_value_list_count(const pl_value_list *l, size_t from, size_t to,
			 size_t *count)
{
	for (size_t i = from, k; i < to; i += k) {
		uint32_t *gid;
		int64_t *val;
		k = pl_value_list_run(l, i, to, &gid, &val);
		for (size_t j = 0; j < k; j++)
			count[gid[j]]++;
	}
}

void pl_value_list_scatter(const pl_value_list *l, size_t from, size_t to,
			   size_t *at, int64_t *out)
{
	for (size_t i = from, k; i < to; i += k) {
		uint32_t *gid;
		int64_t *val;
		k = pl_value_list_run(l, i, to, &gid, &val);
		for (size_t j = 0; j < k; j++)
			out[at[gid[j]]++] = val[j];
	}
}

const char *pl_value_list_str(const pl_value_list *l, size_t i, size_t *len)
{
	int64_t from = i > 0 ? pl_value_list_val(l, i - 1) : 0;
	*len = (size_t)(pl_value_list_val(l, i) - from);
	return l->arena + from;
}

void pl_value_list_drop(pl_value_list *l, pl_pool *pool, size_t upto)
{
	while (l->dropped < l->nblocks) {
		size_t end = (l->dropped + 1) * PL_VLIST_BLOCK;
		if ((end < l->len ? end : l->len) > upto)
			break;
		pl_pool_free(pool, l->gid[l->dropped]);
		pl_pool_free(pool, l->val[l->dropped]);
		l->gid[l->dropped] = NULL;
		l->val[l->dropped] = NULL;
		l->dropped++;
	}
	if (upto >= l->len) {
		pl_pool_free(pool, l->arena);
		l->arena = NULL;
		l->arena_cap = 0;
	}
}

size_t pl_value_list_bytes(const pl_value_list *l)
{
	size_t b = pl_pool_size(l->gid) + pl_pool_size(l->val) +
		   pl_pool_size(l->arena);
	for (size_t i = l->dropped; i < l->nblocks; i++)
		b += pl_pool_size(l->gid[i]) + pl_pool_size(l->val[i]);
	return b;
}

void pl_value_list_free(pl_value_list *l, pl_pool *pool)
{
	for (size_t i = l->dropped; i < l->nblocks; i++) {
		pl_pool_free(pool, l->gid[i]);
		pl_pool_free(pool, l->val[i]);
	}
	pl_pool_free(pool, l->gid);
	pl_pool_free(pool, l->val);
	pl_pool_free(pool, l->arena);
	memset(l, 0, sizeof(*l));
}

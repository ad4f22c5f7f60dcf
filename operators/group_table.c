#include "operators/group_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HASH_SEED 0x2545f4914f6cdd1dULL
#define NULL_WORD 0x9e3779b97f4a7c15ULL
#define SLOT_TAG 0xffffffff00000000ULL
#define MAX_GROUPS ((size_t)UINT32_MAX - 1)
#define PREFETCH_AHEAD 16

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, s, n);
	return pl_hash_mix((h ^ w) * 0x100000001b3ULL);
}

/* Equal floats must hash alike: -0.0 is 0.0 and every NaN is one NaN. */
static uint64_t f64_word(double d)
{
	uint64_t u;
	if (d == 0)
		d = 0;
	if (isnan(d))
		return 0x7ff8000000000000ULL;
	memcpy(&u, &d, 8);
	return u;
}

/* Folds one key column into the row hashes h[0..n). */
static void hash_column(const pl_column *c, size_t n, uint64_t *h)
{
	const uint8_t *ok = c->valid;
	size_t len;
	switch (c->type) {
	case PL_INT64:
		for (size_t i = 0; i < n; i++)
			h[i] =
			    pl_hash_mix(h[i] ^ (pl_bit_get(ok, i)
						    ? (uint64_t)pl_col_i64(c)[i]
						    : NULL_WORD));
		break;
	case PL_FLOAT64:
		for (size_t i = 0; i < n; i++)
			h[i] =
			    pl_hash_mix(h[i] ^ (pl_bit_get(ok, i)
						    ? f64_word(pl_col_f64(c)[i])
						    : NULL_WORD));
		break;
	case PL_BOOL:
		for (size_t i = 0; i < n; i++)
			h[i] = pl_hash_mix(h[i] ^ (pl_bit_get(ok, i)
						       ? pl_col_bool(c)[i] + 1u
						       : NULL_WORD));
		break;
	default:
		for (size_t i = 0; i < n; i++) {
			const char *s = pl_col_str(c, i, &len);
			h[i] = pl_hash_mix(h[i] ^ (pl_bit_get(ok, i)
						       ? hash_bytes(s, len)
						       : NULL_WORD));
		}
		break;
	}
}

static int value_eq(const pl_column *a, size_t i, const pl_column *b, size_t j)
{
	int na = pl_column_is_null(a, i), nb = pl_column_is_null(b, j);
	if (na || nb)
		return na == nb;
	switch (a->type) {
	case PL_INT64:
		return pl_col_i64(a)[i] == pl_col_i64(b)[j];
	case PL_FLOAT64:
		return f64_word(pl_col_f64(a)[i]) == f64_word(pl_col_f64(b)[j]);
	case PL_BOOL:
		return pl_col_bool(a)[i] == pl_col_bool(b)[j];
	default: {
		size_t la, lb;
		const char *sa = pl_col_str(a, i, &la);
		const char *sb = pl_col_str(b, j, &lb);
		return la == lb && memcmp(sa, sb, la) == 0;
	}
	}
}

static int key_eq(const pl_group_table *t, const pl_column *const *keys,
		  size_t i, size_t g)
{
	for (size_t k = 0; k < t->nkeys; k++)
		if (!value_eq(keys[k], i, &t->keys[k], g))
			return 0;
	return 1;
}

static void place(uint64_t *slots, size_t nslots, uint64_t h, size_t g)
{
	size_t mask = nslots - 1, s = (size_t)h & mask;
	while (slots[s] != 0)
		s = (s + 1) & mask;
	slots[s] = (h & SLOT_TAG) | (uint64_t)(g + 1);
}

static int grow_slots(pl_group_table *t, pl_error *err)
{
	size_t n = t->nslots * 2;
	uint64_t *s = pl_pool_calloc(t->pool, n, sizeof(uint64_t));
	if (s == NULL)
		return pl_error_nomem(err, "the group-by hash table");
	for (size_t g = 0; g < t->ngroups; g++)
		place(s, n, t->hashes[g], g);
	pl_pool_free(t->pool, t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

/* Appends row i's key as a new group; on failure nothing changes. */
static int add_group(pl_group_table *t, const pl_column *const *keys, size_t i,
		     uint64_t h, pl_error *err)
{
	if (t->ngroups >= MAX_GROUPS)
		return pl_error_set(err, PL_ERR_NOMEM,
				    "[groupby] more than %zu groups",
				    MAX_GROUPS);
	if (t->ngroups == t->hashes_cap) {
		size_t n = t->hashes_cap ? t->hashes_cap * 2 : 64;
		uint64_t *p = pl_pool_realloc(t->pool, t->hashes, n * 8);
		if (p == NULL)
			return pl_error_nomem(err, "group-by keys");
		t->hashes = p;
		t->hashes_cap = n;
	}
	for (size_t k = 0; k < t->nkeys; k++) {
		int rc =
		    pl_column_push_from(&t->keys[k], keys[k], i, t->pool, err);
		if (rc == 0)
			continue;
		for (size_t j = 0; j < k; j++) {
			pl_column *c = &t->keys[j];
			c->len = t->ngroups;
			if (c->type == PL_STRING)
				c->arena_len = (size_t)pl_col_off(c)[c->len];
		}
		return rc;
	}
	t->hashes[t->ngroups++] = h;
	return 0;
}

int pl_group_table_init(pl_group_table *t, const pl_type *types, size_t nkeys,
			pl_pool *pool, pl_error *err)
{
	memset(t, 0, sizeof(*t));
	t->pool = pool;
	t->keys = calloc(nkeys ? nkeys : 1, sizeof(pl_column));
	if (t->keys == NULL)
		return pl_error_nomem(err, "group-by keys");
	t->nkeys = nkeys;
	for (size_t k = 0; k < nkeys; k++) {
		int rc = pl_column_init(&t->keys[k], types[k], 0, 0, pool, err);
		if (rc)
			return rc;
	}
	t->nslots = 64;
	t->slots = pl_pool_calloc(pool, t->nslots, sizeof(uint64_t));
	if (t->slots == NULL)
		return pl_error_nomem(err, "the group-by hash table");
	if (nkeys == 0)
		return add_group(t, NULL, 0, HASH_SEED, err);
	return 0;
}

void pl_group_table_free(pl_group_table *t)
{
	for (size_t k = 0; t->keys != NULL && k < t->nkeys; k++)
		pl_column_free(&t->keys[k], t->pool);
	free(t->keys);
	pl_pool_free(t->pool, t->hashes);
	pl_pool_free(t->pool, t->slots);
	pl_pool_free(t->pool, t->hbuf);
	memset(t, 0, sizeof(*t));
}

static int hash_rows(pl_group_table *t, const pl_column *const *keys,
		     size_t nrows, pl_error *err)
{
	if (nrows > t->hbuf_cap) {
		uint64_t *p = pl_pool_realloc(t->pool, t->hbuf, nrows * 8);
		if (p == NULL)
			return pl_error_nomem(err, "group-by hashes");
		t->hbuf = p;
		t->hbuf_cap = nrows;
	}
	for (size_t i = 0; i < nrows; i++)
		t->hbuf[i] = HASH_SEED;
	for (size_t k = 0; k < t->nkeys; k++)
		hash_column(keys[k], nrows, t->hbuf);
	return 0;
}

/* Finds or adds the group of row i, whose hash is h. */
static int probe(pl_group_table *t, const pl_column *const *keys, size_t i,
		 uint64_t h, uint32_t *gid, pl_error *err)
{
	size_t mask = t->nslots - 1, s = (size_t)h & mask;
	uint64_t tag = h & SLOT_TAG;
	for (;;) {
		uint64_t e = t->slots[s];
		if (e == 0)
			break;
		size_t g = (size_t)(e & ~SLOT_TAG) - 1;
		if ((e & SLOT_TAG) == tag && key_eq(t, keys, i, g)) {
			*gid = (uint32_t)g;
			return 0;
		}
		s = (s + 1) & mask;
	}
	int rc = add_group(t, keys, i, h, err);
	if (rc)
		return rc;
	t->slots[s] = tag | (uint64_t)t->ngroups;
	*gid = (uint32_t)(t->ngroups - 1);
	return 0;
}

int pl_group_table_map(pl_group_table *t, const pl_column *const *keys,
		       size_t nrows, uint32_t *gid, pl_error *err)
{
	if (t->nkeys == 0) {
		memset(gid, 0, nrows * sizeof(uint32_t));
		return 0;
	}
	int rc = hash_rows(t, keys, nrows, err);
	for (size_t i = 0; rc == 0 && i < nrows; i++) {
		/* Keep the load at most a half so that probes stay short. */
		if (2 * (t->ngroups + 1) > t->nslots)
			rc = grow_slots(t, err);
		/* With many groups every probe misses the cache: ask for the
		 * slot of a row a little ahead while this one waits. */
		if (i + PREFETCH_AHEAD < nrows)
			__builtin_prefetch(
			    &t->slots[t->hbuf[i + PREFETCH_AHEAD] &
				      (t->nslots - 1)]);
		if (rc == 0)
			rc = probe(t, keys, i, t->hbuf[i], &gid[i], err);
	}
	return rc;
}

size_t pl_group_table_bytes(const pl_group_table *t)
{
	size_t b = t->nslots * 8 + t->hashes_cap * 8 + t->hbuf_cap * 8;
	for (size_t k = 0; k < t->nkeys; k++)
		b += pl_column_bytes(&t->keys[k]);
	return b;
}

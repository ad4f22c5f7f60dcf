#include "operators/group_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HASH_SEED 0x2545f4914f6cdd1dULL
#define NULL_WORD 0x9e3779b97f4a7c15ULL
#define SLOT_TAG 0xffffffff00000000ULL
#define MAX_GROUPS ((size_t)UINT32_MAX - 1)
#define PREFETCH_AHEAD 16

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
	case PL_DATE:
	case PL_TIMESTAMP:
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
						       ? pl_hash_bytes(s, len)
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
	case PL_DATE:
	case PL_TIMESTAMP:
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
		for (size_t j = 0; j < k; j++)
			pl_column_truncate(&t->keys[j], t->ngroups);
		return rc;
	}
	t->hashes[t->ngroups++] = h;
	return 0;
}

/* The bytes of a string an intern slot holds itself: the keys of most
 * data (ids, codes, names) fit, and are then found or found absent within
 * one cache line, instead of following the code to its offset and its
 * bytes (three more misses on a table past the caches, where q10 spent a
 * sixth of its time). Longer strings compare their head here and the
 * rest in strs. */
#define INTERN_HEAD 20

typedef struct intern_slot {
	uint32_t code1;		/* code + 1; 0 is empty */
	uint32_t tag;		/* the hash's high half */
	uint32_t len;		/* the length, UINT32_MAX for longer */
	char head[INTERN_HEAD]; /* the first bytes, zero-padded */
} intern_slot;

struct pl_intern {
	pl_column strs;	  /* code c is row c */
	uint64_t *hashes; /* per code, for growing the slots */
	size_t hashes_cap;
	intern_slot *slots; /* on a cache-line boundary within slots_mem */
	void *slots_mem;
	size_t nslots; /* a power of two */
};

static void intern_free(pl_intern *in, pl_pool *pool)
{
	if (in == NULL)
		return;
	pl_column_free(&in->strs, pool);
	pl_pool_free(pool, in->hashes);
	pl_pool_free(pool, in->slots_mem);
	free(in);
}

/* n empty slots, two to a cache line; *mem gets the block to free. */
static intern_slot *new_slots(size_t n, void **mem, pl_pool *pool)
{
	*mem = pl_pool_calloc(pool, n * sizeof(intern_slot) + 64, 1);
	if (*mem == NULL)
		return NULL;
	return (intern_slot *)(((uintptr_t)*mem + 63) & ~(uintptr_t)63);
}

static int intern_new(pl_intern **out, pl_pool *pool, pl_error *err)
{
	pl_intern *in = calloc(1, sizeof(*in));
	*out = in;
	if (in == NULL)
		return pl_error_nomem(err, "group-by key strings");
	in->nslots = 64;
	in->slots = new_slots(in->nslots, &in->slots_mem, pool);
	if (in->slots == NULL)
		return pl_error_nomem(err, "group-by key strings");
	return pl_column_init(&in->strs, PL_STRING, 0, 0, pool, err);
}

static void slot_fill(intern_slot *e, uint32_t code, uint64_t h, const char *s,
		      size_t len)
{
	e->code1 = code + 1;
	e->tag = (uint32_t)(h >> 32);
	e->len = len < UINT32_MAX ? (uint32_t)len : UINT32_MAX;
	memset(e->head, 0, INTERN_HEAD);
	memcpy(e->head, s, len < INTERN_HEAD ? len : INTERN_HEAD);
}

static int intern_grow(pl_intern *in, pl_pool *pool, pl_error *err)
{
	size_t n = in->nslots * 2, mask = n - 1;
	void *mem;
	intern_slot *s = new_slots(n, &mem, pool);
	if (s == NULL)
		return pl_error_nomem(err, "group-by key strings");
	for (size_t j = 0; j < in->nslots; j++) {
		if (in->slots[j].code1 == 0)
			continue;
		size_t i = (size_t)in->hashes[in->slots[j].code1 - 1] & mask;
		while (s[i].code1 != 0)
			i = (i + 1) & mask;
		s[i] = in->slots[j];
	}
	pl_pool_free(pool, in->slots_mem);
	in->slots_mem = mem;
	in->slots = s;
	in->nslots = n;
	return 0;
}

static int intern_add(pl_intern *in, const char *s, size_t len, uint64_t h,
		      size_t slot, pl_pool *pool, pl_error *err)
{
	size_t c = in->strs.len;
	if (c >= MAX_GROUPS)
		return pl_error_set(err, PL_ERR_NOMEM,
				    "[groupby] more than %zu distinct keys",
				    MAX_GROUPS);
	if (c == in->hashes_cap) {
		size_t n = c ? 2 * c : 64;
		uint64_t *p = pl_pool_realloc(pool, in->hashes, n * 8);
		if (p == NULL)
			return pl_error_nomem(err, "group-by key strings");
		in->hashes = p;
		in->hashes_cap = n;
	}
	int rc = pl_column_push_str(&in->strs, s, len, pool, err);
	if (rc == 0) {
		in->hashes[c] = h;
		slot_fill(&in->slots[slot], (uint32_t)c, h, s, len);
	}
	return rc;
}

/* The code of string s, whose pl_hash_bytes is h, added when new. */
static int intern_code(pl_intern *in, const char *s, size_t len, uint64_t h,
		       pl_pool *pool, int64_t *code, pl_error *err)
{
	if (2 * (in->strs.len + 1) > in->nslots) {
		int rc = intern_grow(in, pool, err);
		if (rc)
			return rc;
	}
	uint32_t tag = (uint32_t)(h >> 32);
	uint32_t len32 = len < UINT32_MAX ? (uint32_t)len : UINT32_MAX;
	char head[INTERN_HEAD] = {0};
	memcpy(head, s, len < INTERN_HEAD ? len : INTERN_HEAD);
	size_t mask = in->nslots - 1, i = (size_t)h & mask;
	for (; in->slots[i].code1 != 0; i = (i + 1) & mask) {
		const intern_slot *e = &in->slots[i];
		if (e->tag != tag || e->len != len32 ||
		    memcmp(e->head, head, INTERN_HEAD) != 0)
			continue;
		size_t l;
		const char *t = len > INTERN_HEAD
				    ? pl_col_str(&in->strs, e->code1 - 1, &l)
				    : NULL;
		if (t == NULL || (l == len && memcmp(t, s, len) == 0)) {
			*code = e->code1 - 1;
			return 0;
		}
	}
	*code = (int64_t)in->strs.len;
	return intern_add(in, s, len, h, i, pool, err);
}

static int grow_scratch(pl_pool *pool, void **buf, size_t *cap, size_t n,
			size_t width, pl_error *err)
{
	if (n <= *cap)
		return 0;
	void *p = pl_pool_realloc(pool, *buf, n * width);
	if (p == NULL)
		return pl_error_nomem(err, "group-by scratch");
	*buf = p;
	*cap = pl_pool_size(p) / width;
	return 0;
}

/* Interned codes of a dictionary-encoded key: one lookup per entry. */
static int encode_dict_key(pl_group_table *t, size_t k, const pl_column *src,
			   size_t n, int64_t *code, pl_error *err)
{
	const pl_column *d = src->dict;
	int rc = grow_scratch(t->pool, (void **)&t->trans, &t->trans_cap,
			      d->len, sizeof(*t->trans), err);
	for (size_t e = 0; rc == 0 && e < d->len; e++) {
		size_t len;
		const char *s = pl_col_str(d, e, &len);
		t->trans[e] = 0;
		if (pl_bit_get(d->valid, e))
			rc = intern_code(t->intern[k], s, len,
					 pl_hash_bytes(s, len), t->pool,
					 &t->trans[e], err);
	}
	const uint32_t *c = pl_col_codes(src);
	for (size_t i = 0; rc == 0 && i < n; i++)
		code[i] = t->trans[c[i]];
	return rc;
}

/* Interned codes of a plain string key: the rows' hashes first, so that
 * the slot of the row PREFETCH_AHEAD on can be asked for while this one
 * is looked up (a table of many strings is past the caches, and each
 * lookup would otherwise wait for its slot). */
static int encode_plain_key(pl_group_table *t, size_t k, const pl_column *src,
			    size_t n, int64_t *code, pl_error *err)
{
	pl_intern *in = t->intern[k];
	int rc = grow_scratch(t->pool, (void **)&t->ihash, &t->ihash_cap, n,
			      sizeof(*t->ihash), err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t len;
		const char *s = pl_col_str(src, i, &len);
		t->ihash[i] =
		    pl_bit_get(src->valid, i) ? pl_hash_bytes(s, len) : 0;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(
			    &in->slots[t->ihash[i + PREFETCH_AHEAD] &
				       (in->nslots - 1)]);
		size_t len;
		const char *s = pl_col_str(src, i, &len);
		code[i] = 0;
		if (pl_bit_get(src->valid, i))
			rc = intern_code(in, s, len, t->ihash[i], t->pool,
					 &code[i], err);
	}
	return rc;
}

/* Codes of key k's strings in the batch, in t->codes[k], which borrows
 * the batch's validity bitmap. */
static int encode_key(pl_group_table *t, size_t k, const pl_column *src,
		      size_t n, pl_error *err)
{
	pl_column *dst = &t->codes[k];
	dst->valid = NULL;
	dst->len = 0;
	int rc = pl_column_reserve(dst, n, t->pool, err);
	int64_t *code = pl_col_i64(dst);
	if (rc == 0 && src->dict != NULL)
		rc = encode_dict_key(t, k, src, n, code, err);
	else if (rc == 0)
		rc = encode_plain_key(t, k, src, n, code, err);
	dst->len = n;
	dst->valid = src->valid;
	t->use[k] = dst;
	return rc;
}

int pl_group_table_intern(pl_group_table *t, pl_error *err)
{
	if (t->nkeys < 2)
		return 0;
	t->intern = calloc(t->nkeys, sizeof(*t->intern));
	t->codes = calloc(t->nkeys, sizeof(*t->codes));
	t->use = calloc(t->nkeys, sizeof(*t->use));
	if (t->intern == NULL || t->codes == NULL || t->use == NULL)
		return pl_error_nomem(err, "group-by keys");
	for (size_t k = 0; k < t->nkeys; k++) {
		if (t->keys[k].type != PL_STRING)
			continue;
		pl_column_free(&t->keys[k], t->pool);
		int rc =
		    pl_column_init(&t->keys[k], PL_INT64, 0, 0, t->pool, err);
		if (rc == 0)
			rc = pl_column_init(&t->codes[k], PL_INT64, 0, 0,
					    t->pool, err);
		if (rc == 0)
			rc = intern_new(&t->intern[k], t->pool, err);
		if (rc)
			return rc;
	}
	return 0;
}

int pl_group_table_append_keys(const pl_group_table *t, size_t k, size_t g0,
			       const uint32_t *gids, size_t n, pl_column *dst,
			       pl_error *err)
{
	const pl_column *c = &t->keys[k];
	const pl_intern *in = t->intern ? t->intern[k] : NULL;
	if (in == NULL)
		return gids ? pl_column_append_take(dst, c, gids, n, t->pool,
						    err)
			    : pl_column_append_range(dst, c, g0, n, t->pool,
						     err);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t g = gids ? gids[i] : g0 + i, len;
		if (pl_column_is_null(c, g)) {
			rc = pl_column_push_null(dst, t->pool, err);
			continue;
		}
		const char *s =
		    pl_col_str(&in->strs, (size_t)pl_col_i64(c)[g], &len);
		rc = pl_column_push_str(dst, s, len, t->pool, err);
	}
	return rc;
}

void pl_group_table_format_key(const pl_group_table *t, size_t k, size_t g,
			       char *buf, size_t cap)
{
	const pl_column *c = &t->keys[k];
	const pl_intern *in = t->intern ? t->intern[k] : NULL;
	if (in == NULL || pl_column_is_null(c, g))
		pl_column_format(c, g, buf, cap);
	else
		pl_column_format(&in->strs, (size_t)pl_col_i64(c)[g], buf, cap);
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
	for (size_t k = 0; t->intern != NULL && k < t->nkeys; k++) {
		intern_free(t->intern[k], t->pool);
		if (t->codes == NULL)
			continue;
		t->codes[k].valid = NULL; /* borrowed */
		pl_column_free(&t->codes[k], t->pool);
	}
	free(t->keys);
	free(t->intern);
	free(t->codes);
	free(t->use);
	pl_pool_free(t->pool, t->hashes);
	pl_pool_free(t->pool, t->slots);
	pl_pool_free(t->pool, t->hbuf);
	pl_pool_free(t->pool, t->dgid);
	pl_pool_free(t->pool, t->trans);
	pl_pool_free(t->pool, t->ihash);
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

/* A lone string key's comparison reads the group's offset, then its
 * bytes: two more misses after the slot's on a table past the caches.
 * Rows ahead take them in two steps, once their slot has come in: stage
 * 0 asks for the offset of the group the first slot names (when its tag
 * matches), stage 1, a few rows later, for the bytes it points to. */
static void prefetch_string_key(const pl_group_table *t, const pl_column *c,
				uint64_t h, int stage)
{
	uint64_t e = t->slots[(size_t)h & (t->nslots - 1)];
	if (e == 0 || (e & SLOT_TAG) != (h & SLOT_TAG))
		return;
	size_t g = (size_t)(e & ~SLOT_TAG) - 1;
	const int64_t *off = (const int64_t *)c->data;
	if (stage == 0)
		__builtin_prefetch(&off[g]);
	else
		__builtin_prefetch(c->arena + off[g]);
}

/* A lone dictionary-encoded key: the dictionary's entries are mapped
 * like rows, then each row takes its entry's group. Entries come in order
 * of first appearance, so groups still do. */
static int map_dict(pl_group_table *t, const pl_column *key, size_t nrows,
		    uint32_t *gid, pl_error *err)
{
	const pl_column *d = key->dict;
	int rc = grow_scratch(t->pool, (void **)&t->dgid, &t->dgid_cap,
			      d->len ? d->len : 1, sizeof(*t->dgid), err);
	if (rc == 0)
		rc = pl_group_table_map(t, &d, d->len, t->dgid, err);
	const uint32_t *c = pl_col_codes(key);
	for (size_t i = 0; rc == 0 && i < nrows; i++)
		gid[i] = t->dgid[c[i]];
	return rc;
}

int pl_group_table_map(pl_group_table *t, const pl_column *const *keys,
		       size_t nrows, uint32_t *gid, pl_error *err)
{
	if (t->nkeys == 0) {
		memset(gid, 0, nrows * sizeof(uint32_t));
		return 0;
	}
	if (t->nkeys == 1 && keys[0]->dict != NULL)
		return map_dict(t, keys[0], nrows, gid, err);
	int rc = 0;
	if (t->intern != NULL) {
		for (size_t k = 0; rc == 0 && k < t->nkeys; k++)
			if (t->intern[k] == NULL)
				t->use[k] = keys[k];
			else
				rc = encode_key(t, k, keys[k], nrows, err);
		keys = t->use;
	}
	if (rc == 0)
		rc = hash_rows(t, keys, nrows, err);
	const pl_column *sk =
	    t->nkeys == 1 && t->keys[0].type == PL_STRING ? &t->keys[0] : NULL;
	for (size_t i = 0; rc == 0 && i < nrows; i++) {
		/* Keep the load under 0.7: probes stay short (the slot's hash
		 * tag rejects most mismatches without touching keys), and the
		 * slots of ten million groups take 128 MiB, not 256. */
		if (10 * (t->ngroups + 1) > 7 * t->nslots)
			rc = grow_slots(t, err);
		/* With many groups every probe misses the cache: ask for the
		 * slot of a row a little ahead while this one waits. */
		if (i + PREFETCH_AHEAD < nrows)
			__builtin_prefetch(
			    &t->slots[t->hbuf[i + PREFETCH_AHEAD] &
				      (t->nslots - 1)]);
		if (sk != NULL && i + PREFETCH_AHEAD / 2 < nrows)
			prefetch_string_key(t, sk,
					    t->hbuf[i + PREFETCH_AHEAD / 2], 0);
		if (sk != NULL && i + PREFETCH_AHEAD / 4 < nrows)
			prefetch_string_key(t, sk,
					    t->hbuf[i + PREFETCH_AHEAD / 4], 1);
		if (rc == 0)
			rc = probe(t, keys, i, t->hbuf[i], &gid[i], err);
	}
	return rc;
}

size_t pl_group_table_bytes(const pl_group_table *t)
{
	size_t b = t->nslots * 8 + t->hashes_cap * 8 + t->hbuf_cap * 8 +
		   t->dgid_cap * 4 + t->trans_cap * 8 + t->ihash_cap * 8;
	for (size_t k = 0; k < t->nkeys; k++)
		b += pl_column_bytes(&t->keys[k]);
	for (size_t k = 0; t->intern != NULL && k < t->nkeys; k++) {
		const pl_intern *in = t->intern[k];
		if (in != NULL)
			b += pl_column_bytes(&in->strs) + in->hashes_cap * 8 +
			     pl_pool_size(in->slots_mem) +
			     pl_column_bytes(&t->codes[k]);
	}
	return b;
}

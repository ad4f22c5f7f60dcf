/* [join]'s hash table: the right side's rows as records in one arena, row
 * after row, each record holding its key hash, the link of its hash chain,
 * its NULL bits, a slot per stored column (keys, then kept) and its string
 * bytes. A probe then reads one record (one or two cache lines) where a
 * column layout would read every column and string arena at a random
 * position; the gather of a matched row reads the same record again.
 *
 * A record is addressed by its offset in 8-byte units (uint32_t, so the
 * arena holds up to 32 GiB). While the right side loads, the chain link
 * of each record points at the record before it; chaining walks that list
 * backwards and pushes every record at its bucket's head, so each chain
 * lists its rows in right input order. Rows with a NULL key never match
 * and are not stored. */
#include <string.h>

#include "operators/join_internal.h"

typedef struct rec_head {
	uint64_t hash;
	uint32_t next;	/* ref + 1: of the row before while loading, of the
			   next in the chain after pl_join_table_chain */
	uint32_t nulls; /* NULL bits of stored columns 0..31 */
} rec_head;

enum { HEAD_UNITS = sizeof(rec_head) / 8 };

static size_t null_words(size_t ncols)
{
	return ncols > 32 ? (ncols - 32 + 63) / 64 : 0;
}

static size_t fixed_units(size_t ncols)
{
	return HEAD_UNITS + null_words(ncols) + ncols;
}

static rec_head *rec_at(const join_state *st, uint32_t ref)
{
	return (rec_head *)(st->recs + ref);
}

static uint64_t *rec_slots(const join_state *st, rec_head *h)
{
	return (uint64_t *)(h + 1) + null_words(st->right.ncols);
}

static bool rec_null(const rec_head *h, size_t j)
{
	if (j < 32)
		return (h->nulls >> j) & 1;
	const uint64_t *w = (const uint64_t *)(h + 1);
	return (w[(j - 32) / 64] >> ((j - 32) % 64)) & 1;
}

static void rec_set_null(rec_head *h, size_t j)
{
	if (j < 32) {
		h->nulls |= 1u << j;
		return;
	}
	uint64_t *w = (uint64_t *)(h + 1);
	w[(j - 32) / 64] |= 1ull << ((j - 32) % 64);
}

/* Refs are uint32_t: the arena holds at most UINT32_MAX - 1 units. */
static int check_units(size_t units, pl_error *err)
{
	if (units <= (size_t)UINT32_MAX - 1)
		return 0;
	return pl_error_set(err, PL_ERR_NOMEM,
			    "join: the right side passes 32 GiB in memory; "
			    "use distribute = partition");
}

/* Makes the arena cap units long (keeping what it holds up to that). */
static int set_cap(join_state *st, size_t cap, pl_pool *pool, pl_error *err)
{
	uint64_t *a = pl_pool_realloc(pool, st->recs, (cap ? cap : 1) * 8);
	if (a == NULL)
		return pl_error_nomem(err, "the join's right rows");
	st->recs = a;
	st->rec_cap = cap;
	return 0;
}

/* Room for units more 8-byte units in the arena. */
static int reserve_units(join_state *st, size_t units, pl_pool *pool,
			 pl_error *err)
{
	size_t need = st->rec_len + units;
	if (need <= st->rec_cap)
		return 0;
	int rc = check_units(need, err);
	if (rc != 0)
		return rc;
	size_t cap = st->rec_cap ? st->rec_cap : 4096;
	while (cap < need)
		cap *= 2;
	return set_cap(st, cap, pool, err);
}

/* Bytes of string values in row i of the stored columns. */
static size_t string_bytes(const join_state *st, const pl_column *cols,
			   size_t i)
{
	size_t bytes = 0, len;
	for (size_t j = 0; j < st->right.ncols; j++)
		if (cols[j].type == PL_STRING &&
		    !pl_column_is_null(&cols[j], i)) {
			pl_col_str(&cols[j], i, &len);
			bytes += len;
		}
	return bytes;
}

/* Writes row i of cols as a record at the arena's end. */
static void put_record(join_state *st, const pl_column *cols, size_t i,
		       uint64_t hash, size_t units)
{
	uint32_t ref = (uint32_t)st->rec_len;
	rec_head *h = rec_at(st, ref);
	memset(h, 0, fixed_units(st->right.ncols) * 8);
	h->hash = hash;
	h->next = st->last;
	uint64_t *slot = rec_slots(st, h);
	size_t pos = fixed_units(st->right.ncols) * 8, len;
	for (size_t j = 0; j < st->right.ncols; j++) {
		const pl_column *c = &cols[j];
		if (pl_column_is_null(c, i)) {
			rec_set_null(h, j);
		} else if (c->type == PL_STRING) {
			const char *s = pl_col_str(c, i, &len);
			memcpy((char *)h + pos, s, len);
			slot[j] = pos | (uint64_t)len << 32;
			pos += len;
		} else if (c->type == PL_BOOL) {
			slot[j] = pl_col_bool(c)[i];
		} else {
			memcpy(&slot[j], (const char *)c->data + i * 8, 8);
		}
	}
	st->last = ref + 1;
	st->rec_len += units;
	st->nrecs++;
}

int pl_join_table_add(join_state *st, const pl_column *cols, size_t n,
		      pl_pool *pool, pl_error *err)
{
	size_t fixed = fixed_units(st->right.ncols);
	for (size_t i = 0; i < n; i++) {
		uint64_t h;
		if (!pl_join_row_hash(st, cols, false, i, &h))
			continue;
		size_t bytes = string_bytes(st, cols, i);
		if (bytes > UINT32_MAX / 2)
			return pl_error_set(err, PL_ERR_NOMEM,
					    "join: a right row of %zu string "
					    "bytes",
					    bytes);
		size_t units = fixed + (bytes + 7) / 8;
		int rc = reserve_units(st, units, pool, err);
		if (rc != 0)
			return rc;
		put_record(st, cols, i, h, units);
	}
	return 0;
}

int pl_join_table_chain(join_state *st, pl_pool *pool, pl_error *err)
{
	uint64_t base = 0, last = st->last;
	return pl_join_table_chain_pieces(st, &base, &last, 1, pool, err);
}

int pl_join_table_chain_pieces(join_state *st, const uint64_t *bases,
			       const uint64_t *lasts, size_t n, pl_pool *pool,
			       pl_error *err)
{
	size_t nb = 1;
	while (nb < st->nrecs)
		nb *= 2;
	st->mask = nb - 1;
	st->head = pl_pool_calloc(pool, nb, sizeof(*st->head));
	if (st->head == NULL)
		return pl_error_nomem(err, "a join hash table");
	for (size_t p = n; p-- > 0;) {
		uint32_t base = (uint32_t)bases[p];
		for (uint32_t ref = (uint32_t)lasts[p]; ref != 0;) {
			rec_head *h = rec_at(st, base + ref - 1);
			uint32_t before = h->next;
			size_t b = h->hash & st->mask;
			h->next = st->head[b];
			st->head[b] = base + ref;
			ref = before;
		}
	}
	st->last = 0;
	return 0;
}

int pl_join_table_resize(join_state *st, size_t units, pl_pool *pool,
			 pl_error *err)
{
	int rc = check_units(units, err);
	return rc ? rc : set_cap(st, units, pool, err);
}

size_t pl_join_table_null_units(const join_state *st)
{
	return fixed_units(st->right.ncols);
}

int pl_join_table_add_nulls(join_state *st, pl_pool *pool, pl_error *err)
{
	size_t fixed = fixed_units(st->right.ncols);
	int rc = reserve_units(st, fixed, pool, err);
	if (rc != 0)
		return rc;
	rec_head *h = rec_at(st, (uint32_t)st->rec_len);
	memset(h, 0, fixed * 8);
	for (size_t j = 0; j < st->right.ncols; j++)
		rec_set_null(h, j);
	st->null_row = (uint32_t)st->rec_len;
	st->rec_len += fixed;
	return 0;
}

static bool int_equals_double(int64_t v, double d)
{
	return d >= -0x1p63 && d < 0x1p63 && (int64_t)d == v && (double)v == d;
}

/* Whether left value i of l equals stored key k of the record (neither
 * NULL: NULL keys are never chained nor probed). */
static bool key_equal(const join_state *st, const pl_column *l, size_t i,
		      size_t k, const rec_head *h, uint64_t slot)
{
	pl_type rt = st->right.cols[k].type;
	if (l->type == PL_STRING) {
		size_t len;
		const char *s = pl_col_str(l, i, &len);
		return len == slot >> 32 &&
		       memcmp(s, (const char *)h + (uint32_t)slot, len) == 0;
	}
	/* int64 with int64, date with date, timestamp with timestamp */
	if (pl_type_is_i64(l->type) && l->type == rt)
		return pl_col_i64(l)[i] == (int64_t)slot;
	double d;
	memcpy(&d, &slot, 8);
	if (l->type == PL_FLOAT64 && rt == PL_FLOAT64)
		return pl_f64_compare(pl_col_f64(l)[i], d) == 0;
	if (l->type == PL_INT64)
		return int_equals_double(pl_col_i64(l)[i], d);
	return int_equals_double((int64_t)slot, pl_col_f64(l)[i]);
}

bool pl_join_table_match(const join_state *st, const pl_batch *in, size_t i,
			 uint64_t hash, uint32_t ref)
{
	rec_head *h = rec_at(st, ref);
	if (h->hash != hash)
		return false;
	const uint64_t *slot = rec_slots(st, h);
	for (size_t k = 0; k < st->nkeys; k++)
		if (!key_equal(st, &in->cols[st->keys[k].left], i, k, h,
			       slot[k]))
			return false;
	return true;
}

uint32_t pl_join_table_first(const join_state *st, uint64_t hash)
{
	return st->head[hash & st->mask];
}

uint32_t pl_join_table_next(const join_state *st, uint32_t ref)
{
	return rec_at(st, ref)->next;
}

void pl_join_table_prefetch(const join_state *st, uint32_t ref)
{
	const char *p = (const char *)(st->recs + ref);
	__builtin_prefetch(p);
	__builtin_prefetch(p + 64);
}

/* Sets value k of dst (its length not yet counted) valid or NULL. */
static int set_valid(pl_column *dst, size_t k, bool valid, pl_pool *pool,
		     pl_error *err)
{
	if (dst->valid == NULL) {
		if (valid)
			return 0;
		size_t len = dst->len;
		dst->len = k; /* values before k are valid */
		int rc = pl_column_make_nullable(dst, pool, err);
		dst->len = len;
		if (rc != 0)
			return rc;
	}
	pl_bit_set(dst->valid, k, valid);
	return 0;
}

/* Writes stored column j of record h as value k of dst. */
static int put_value(const join_state *st, pl_column *dst, size_t k,
		     const rec_head *h, size_t j, pl_pool *pool, pl_error *err)
{
	bool null = rec_null(h, j);
	if (set_valid(dst, k, !null, pool, err) != 0)
		return PL_ERR_NOMEM;
	uint64_t slot = rec_slots(st, (rec_head *)h)[j];
	if (dst->type == PL_STRING) {
		size_t len = null ? 0 : slot >> 32;
		if (pl_column_reserve_arena(dst, len, pool, err) != 0)
			return PL_ERR_NOMEM;
		memcpy(dst->arena + dst->arena_len,
		       (const char *)h + (uint32_t)slot, len);
		dst->arena_len += len;
		pl_col_off(dst)[k + 1] = (int64_t)dst->arena_len;
	} else if (dst->type == PL_BOOL) {
		pl_col_bool(dst)[k] = (uint8_t)slot;
	} else {
		memcpy((char *)dst->data + k * 8, &slot, 8);
	}
	return 0;
}

int pl_join_table_gather(const join_state *st, pl_column *dst,
			 const uint32_t *refs, size_t n, pl_pool *pool,
			 pl_error *err)
{
	enum { AHEAD = 16 };
	if (st->nkeep == 0)
		return 0;
	size_t base = dst[0].len;
	for (size_t c = 0; c < st->nkeep; c++)
		if (pl_column_reserve(&dst[c], base + n, pool, err) != 0)
			return PL_ERR_NOMEM;
	for (size_t k = 0; k < n; k++) {
		if (k + AHEAD < n)
			pl_join_table_prefetch(st, refs[k + AHEAD]);
		const rec_head *h = rec_at(st, refs[k]);
		for (size_t c = 0; c < st->nkeep; c++)
			if (put_value(st, &dst[c], base + k, h, st->nkeys + c,
				      pool, err) != 0)
				return PL_ERR_NOMEM;
	}
	for (size_t c = 0; c < st->nkeep; c++)
		dst[c].len = base + n;
	return 0;
}

size_t pl_join_table_bytes(const join_state *st)
{
	return st->rec_cap * 8 + (st->head ? (st->mask + 1) * 4 : 0);
}

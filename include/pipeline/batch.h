/* Schemas, packed columns and batches.
 *
 * A batch is a set of columns of equal length. Fixed-width values sit in one
 * contiguous array (int64_t, double, or one uint8_t 0/1 per bool); a string
 * column keeps nrows+1 int64_t offsets into one byte arena (value i is
 * arena[off[i] .. off[i+1])). NULLs are a validity bitmap, bit i set when
 * value i is present; a NULL bitmap pointer means "no NULLs". The value slot
 * of a NULL is zero (empty for strings).
 *
 * A string column may instead be dictionary-encoded: `dict` points to a
 * plain string column of distinct values (a NULL among them when the
 * column has NULLs) and `data` holds one uint32_t code per value, an index
 * into dict. The validity bitmap is kept as for any column. Readers make
 * such columns only for operators that set pl_operator.dict_input; everyone
 * else sees plain columns (pl_column_undict).
 *
 * Every buffer of a column comes from the pool given to the functions here;
 * the column owns its buffers, the batch owns its columns. */
#ifndef PIPELINE_BATCH_H
#define PIPELINE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/api.h"
#include "pipeline/error.h"
#include "pipeline/pool.h"

PL_BEGIN_DECLS

typedef enum pl_type {
	PL_INT64 = 0,
	PL_FLOAT64 = 1,
	PL_BOOL = 2,
	PL_STRING = 3,
	PL_NULLTYPE = 4, /* only for the literal `null` inside expressions */
	PL_DATE = 5,	 /* int64_t days since 1970-01-01 */
	PL_TIMESTAMP = 6 /* int64_t microseconds since 1970-01-01T00:00Z */
} pl_type;

/* True for the types stored as one int64_t per value: int64, date and
 * timestamp share every fixed-width code path (copy, hash, compare). */
static inline bool pl_type_is_i64(pl_type t)
{
	return t == PL_INT64 || t == PL_DATE || t == PL_TIMESTAMP;
}

/* True for date and timestamp. */
static inline bool pl_type_is_time(pl_type t)
{
	return t == PL_DATE || t == PL_TIMESTAMP;
}

/* "int64", "float64", "bool", "string", "null", "date", "timestamp". */
PL_API const char *pl_type_name(pl_type t);

/* Parses a type name; returns 0 or -1 when unknown. */
PL_API int pl_type_parse(const char *s, pl_type *out);

typedef struct pl_field {
	char *name; /* owned by the schema */
	pl_type type;
} pl_field;

/* Column names and types. Plain malloc memory: schemas are small and live
 * for the whole job. */
typedef struct pl_schema {
	size_t n;
	pl_field *fields;
} pl_schema;

PL_API void pl_schema_init(pl_schema *s);
PL_API void pl_schema_free(pl_schema *s);
/* Appends a field (name copied). Returns 0 or PL_ERR_NOMEM. The schema
 * must come from pl_schema_init, _add and _copy only: its array's room
 * follows from n (8 fields, then doubling), so fields must not be set by
 * hand. */
PL_API int pl_schema_add(pl_schema *s, const char *name, pl_type type,
			 pl_error *err);
/* Deep copy into dst (which is overwritten, not freed). */
PL_API int pl_schema_copy(pl_schema *dst, const pl_schema *src, pl_error *err);
/* Index of the column called name, or -1. */
PL_API int pl_schema_find(const pl_schema *s, const char *name);

typedef struct pl_column {
	pl_type type;
	size_t len;		/* values held */
	size_t cap;		/* values the buffers have room for */
	void *data;		/* int64_t[] (int64, date, timestamp), double[],
				   uint8_t[] or, for strings,
				   int64_t offsets[cap + 1] */
	uint8_t *valid;		/* bitmap or NULL (all present) */
	char *arena;		/* strings only */
	size_t arena_len;	/* bytes used in arena */
	size_t arena_cap;	/* bytes allocated in arena */
	struct pl_column *dict; /* strings: distinct values, when encoded */
} pl_column;

static inline bool pl_bit_get(const uint8_t *bits, size_t i)
{
	return bits == NULL || ((bits[i >> 3] >> (i & 7)) & 1);
}

static inline void pl_bit_set(uint8_t *bits, size_t i, bool v)
{
	if (v)
		bits[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		bits[i >> 3] &= (uint8_t) ~(1u << (i & 7));
}

static inline bool pl_column_is_null(const pl_column *c, size_t i)
{
	return !pl_bit_get(c->valid, i);
}

static inline int64_t *pl_col_i64(const pl_column *c)
{
	return (int64_t *)c->data;
}
static inline double *pl_col_f64(const pl_column *c)
{
	return (double *)c->data;
}
static inline uint8_t *pl_col_bool(const pl_column *c)
{
	return (uint8_t *)c->data;
}
static inline int64_t *pl_col_off(const pl_column *c)
{
	return (int64_t *)c->data;
}

/* The codes of a dictionary-encoded column. */
static inline uint32_t *pl_col_codes(const pl_column *c)
{
	return (uint32_t *)c->data;
}

/* Pointer to string value i and its length in *len (through the
 * dictionary when the column has one). */
static inline const char *pl_col_str(const pl_column *c, size_t i, size_t *len)
{
	if (c->dict != NULL) {
		i = pl_col_codes(c)[i];
		c = c->dict;
	}
	const int64_t *off = (const int64_t *)c->data;
	*len = (size_t)(off[i + 1] - off[i]);
	return c->arena + off[i];
}

/* An empty column of type t with room for cap values (and, for strings,
 * arena_cap bytes). Returns 0 or PL_ERR_NOMEM (the column is then empty
 * and safe to free). */
PL_API int pl_column_init(pl_column *c, pl_type t, size_t cap, size_t arena_cap,
			  pl_pool *pool, pl_error *err);

/* Returns the column's buffers (and its dictionary) to the pool and
 * zeroes it. */
PL_API void pl_column_free(pl_column *c, pl_pool *pool);

/* Empties c for refilling, keeping its buffers; a dictionary-encoded
 * column's dictionary is freed, so that it is a plain column again. */
PL_API void pl_column_reset(pl_column *c, pl_pool *pool);

/* Drops the values of a plain column from len on (len <= c->len): what
 * undoes a failed append to some columns of a batch. */
PL_API void pl_column_truncate(pl_column *c, size_t len);

/* Turns a dictionary-encoded column into a plain one in place (a no-op
 * for others). On PL_ERR_NOMEM the column is unchanged. */
PL_API int pl_column_undict(pl_column *c, pl_pool *pool, pl_error *err);

/* Makes room for at least cap values (growing geometrically). */
PL_API int pl_column_reserve(pl_column *c, size_t cap, pl_pool *pool,
			     pl_error *err);

/* Makes room for at least extra more arena bytes. */
PL_API int pl_column_reserve_arena(pl_column *c, size_t extra, pl_pool *pool,
				   pl_error *err);

/* Allocates the validity bitmap (all valid so far) if there is none. */
PL_API int pl_column_make_nullable(pl_column *c, pl_pool *pool, pl_error *err);

/* Appending one value; each grows the column when needed. */
PL_API int pl_column_push_i64(pl_column *c, int64_t v, pl_pool *pool,
			      pl_error *err);
PL_API int pl_column_push_f64(pl_column *c, double v, pl_pool *pool,
			      pl_error *err);
PL_API int pl_column_push_bool(pl_column *c, bool v, pl_pool *pool,
			       pl_error *err);
PL_API int pl_column_push_str(pl_column *c, const char *s, size_t len,
			      pl_pool *pool, pl_error *err);
PL_API int pl_column_push_null(pl_column *c, pl_pool *pool, pl_error *err);

/* Appends src[row] to dst (same type). */
PL_API int pl_column_push_from(pl_column *dst, const pl_column *src, size_t row,
			       pl_pool *pool, pl_error *err);

/* Appends src[idx[0..n)] to dst (same type): the gather used by filter,
 * sort and join. idx may repeat rows. */
PL_API int pl_column_append_take(pl_column *dst, const pl_column *src,
				 const uint32_t *idx, size_t n, pl_pool *pool,
				 pl_error *err);

/* Appends, for k in [0, n), row row[k] of column srcs[src[k]] to dst:
 * a gather from several columns of dst's type, as a merge of sorted runs
 * interleaves them. srcs holds nsrcs columns (borrowed; an entry no pick
 * names may be NULL). Returns 0 or PL_ERR_NOMEM (dst then holds what it
 * held before, possibly with more room). */
PL_API int pl_column_append_picks(pl_column *dst, const pl_column *const *srcs,
				  size_t nsrcs, const uint32_t *src,
				  const uint32_t *row, size_t n, pl_pool *pool,
				  pl_error *err);

/* Appends rows [from, from + n) of src to dst (same type). */
PL_API int pl_column_append_range(pl_column *dst, const pl_column *src,
				  size_t from, size_t n, pl_pool *pool,
				  pl_error *err);

/* Bytes the column's buffers take from the pool. */
PL_API size_t pl_column_bytes(const pl_column *c);

/* Compares value i of a with value j of b (same type; NULL sorts after
 * every value, two NULLs are equal). Strings compare by bytes. */
PL_API int pl_column_compare(const pl_column *a, size_t i, const pl_column *b,
			     size_t j);

/* A strong 64-bit mix (murmur3's finaliser) for building hashes. */
static inline uint64_t pl_hash_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The n < 8 bytes at s as a little-endian word, zero above them: what
 * copying them into a zeroed uint64_t gives on x86 and other
 * little-endian machines, without a variable-length copy (a call and a
 * branch on every length). Reads only the n bytes. */
static inline uint64_t pl_load_tail(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	if (n >= 4) {
		uint32_t a, b;
		__builtin_memcpy(&a, u, 4);
		__builtin_memcpy(&b, u + n - 4, 4);
		return (uint64_t)a | (uint64_t)b << (8 * (n - 4));
	}
	if (n == 0)
		return 0;
	return (uint64_t)u[0] | (uint64_t)u[n / 2] << (8 * (n / 2)) |
	       (uint64_t)u[n - 1] << (8 * (n - 1));
}

/* FNV-1a over 8-byte words, the length in the last, not yet mixed: what
 * pl_column_hash folds into its seed for a string (the seed comes after,
 * so that a dictionary's entries can be hashed once for all rows). Short
 * keys (ids, codes, names) cost a few multiplies. */
static inline uint64_t pl_hash_str_words(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t len = n;
	while (n >= 8) {
		uint64_t w;
		__builtin_memcpy(&w, s, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		s += 8;
		n -= 8;
	}
	return (h ^ pl_load_tail(s, n) ^ ((uint64_t)len << 56)) *
	       0x100000001b3ULL;
}

/* A 64-bit hash of n bytes for a table of their own (interned keys, a
 * reader's dictionary): pl_hash_str_words, mixed. */
static inline uint64_t pl_hash_bytes(const char *s, size_t n)
{
	return pl_hash_mix(pl_hash_str_words(s, n));
}

/* The order of doubles everywhere in pipeline: IEEE order, NaN after
 * every number. Returns -1, 0 or 1. */
static inline int pl_f64_compare(double x, double y)
{
	if (x < y)
		return -1;
	if (x > y)
		return 1;
	if (x == y)
		return 0;
	return x != x ? (y != y ? 0 : 1) : -1;
}

/* pl_f64_compare, but -0.0 before +0.0: the order min and max (row-wise
 * and aggregate) use, so that they pick the same value, bits included,
 * whatever order their arguments come in. NaN is above every number, so
 * min ignores NaN unless all are NaN and max gives NaN when any is. */
static inline int pl_f64_total_compare(double x, double y)
{
	int c = pl_f64_compare(x, y);
	if (c == 0 && x == 0 && y == 0)
		return (int)(__builtin_signbit(y) != 0) -
		       (int)(__builtin_signbit(x) != 0);
	return c;
}

/* Whether pl_order_code serves columns of this type (the numbers, dates,
 * times and booleans). */
static inline bool pl_order_has_code(pl_type type)
{
	return type == PL_INT64 || type == PL_DATE || type == PL_TIMESTAMP ||
	       type == PL_FLOAT64 || type == PL_BOOL;
}

/* An unsigned code of row r's value (not NULL, of a type pl_order_has_code
 * takes) whose order is the sort order of that value (pl_f64_compare for
 * doubles), reversed under desc: a smaller code sorts before, a larger
 * after; equal codes compare equal (-0.0 and +0.0 share one, every NaN
 * one above every number). */
static inline uint64_t pl_order_code(const pl_column *c, size_t r, bool desc)
{
	uint64_t u;
	if (c->type == PL_FLOAT64) {
		double x = pl_col_f64(c)[r];
		if (x != x) {
			u = UINT64_MAX;
		} else {
			x = x == 0 ? 0.0 : x;
			__builtin_memcpy(&u, &x, sizeof(u));
			u = u >> 63 ? ~u : u | (uint64_t)1 << 63;
		}
	} else if (c->type == PL_BOOL) {
		u = pl_col_bool(c)[r];
	} else {
		u = (uint64_t)pl_col_i64(c)[r] ^ (uint64_t)1 << 63;
	}
	return desc ? ~u : u;
}

/* pl_order_code of row r of c, or UINT64_MAX when it is NULL: NULLs last
 * in either direction. A NULL shares its code with an ascending NaN (and
 * a descending INT64_MIN), so equal codes still need the full compare. */
static inline uint64_t pl_order_code_or_null(const pl_column *c, size_t r,
					     bool desc)
{
	return pl_column_is_null(c, r) ? UINT64_MAX : pl_order_code(c, r, desc);
}

/* 64-bit hash of value i (NULLs hash alike; equal values hash alike, and an
 * int64 and a float64 of the same value do not need to). */
PL_API uint64_t pl_column_hash(const pl_column *c, size_t i, uint64_t seed);

/* A batch: ncols columns of nrows values each.
 *
 * Optional row provenance, for error messages that name the input line:
 * when origin is set, line[i] is the physical line (1-based) in file
 * `origin` where row i started. Operators that keep rows (filter, limit)
 * carry it along; operators that make new rows (groupby) drop it. */
typedef struct pl_batch {
	size_t nrows;
	size_t ncols;
	pl_column *cols;    /* ncols columns, malloc'd array */
	const char *origin; /* borrowed; lives for the whole job */
	int64_t *line;	    /* pool buffer of nrows entries or NULL */
} pl_batch;

/* For every row i of b: h[i] = pl_column_hash chained over the columns
 * keys[0 .. nkeys) of row i, starting from seed; the same values as
 * chaining pl_column_hash row by row, computed a column at a time (a
 * dictionary-encoded column's entries hashed once each). h holds
 * b->nrows values. */
PL_API void pl_column_hash_rows(const pl_batch *b, const size_t *keys,
				size_t nkeys, uint64_t seed, uint64_t *h);

/* A new batch whose columns have the schema's types and room for cap rows.
 * Returns NULL with err set on failure. */
PL_API pl_batch *pl_batch_new(const pl_schema *schema, size_t cap,
			      pl_pool *pool, pl_error *err);

/* Frees the batch and every buffer it owns (NULL is fine). */
PL_API void pl_batch_free(pl_batch *b, pl_pool *pool);

/* Sets nrows to the length of column 0 (after filling columns by hand). */
PL_API void pl_batch_sync_rows(pl_batch *b);

/* Empties b for refilling: no rows, every column's buffers kept. */
PL_API void pl_batch_clear(pl_batch *b);

/* Bytes the batch holds from the pool. */
PL_API size_t pl_batch_bytes(const pl_batch *b);

/* A string form of value i for messages ("NULL" for NULLs). */
PL_API void pl_column_format(const pl_column *c, size_t i, char *buf,
			     size_t cap);

PL_END_DECLS

#endif

/* Comparing, hashing and printing single column values. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/batch.h"
#include "pipeline/datetime.h"

int pl_column_compare(const pl_column *a, size_t i, const pl_column *b,
		      size_t j)
{
	bool an = pl_column_is_null(a, i), bn = pl_column_is_null(b, j);
	if (an || bn)
		return an == bn ? 0 : (an ? 1 : -1);
	switch (a->type) {
	case PL_DATE:
	case PL_TIMESTAMP:
	case PL_INT64: {
		int64_t x = pl_col_i64(a)[i], y = pl_col_i64(b)[j];
		return (x > y) - (x < y);
	}
	case PL_FLOAT64:
		return pl_f64_compare(pl_col_f64(a)[i], pl_col_f64(b)[j]);
	case PL_BOOL:
		return (int)pl_col_bool(a)[i] - (int)pl_col_bool(b)[j];
	default: {
		size_t la, lb;
		const char *sa = pl_col_str(a, i, &la);
		const char *sb = pl_col_str(b, j, &lb);
		int c = memcmp(sa, sb, la < lb ? la : lb);
		if (c != 0)
			return c < 0 ? -1 : 1;
		return (la > lb) - (la < lb);
	}
	}
}

uint64_t pl_column_hash(const pl_column *c, size_t i, uint64_t seed)
{
	if (pl_column_is_null(c, i))
		return pl_hash_mix(seed ^ 0x9e3779b97f4a7c15ULL);
	switch (c->type) {
	case PL_DATE:
	case PL_TIMESTAMP:
	case PL_INT64:
		return pl_hash_mix(seed ^ (uint64_t)pl_col_i64(c)[i]);
	case PL_FLOAT64: {
		double d = pl_col_f64(c)[i];
		uint64_t u;
		if (d == 0)
			d = 0; /* -0.0 and 0.0 are equal, so hash alike */
		memcpy(&u, &d, 8);
		return pl_hash_mix(seed ^ u);
	}
	case PL_BOOL:
		return pl_hash_mix(seed ^ (pl_col_bool(c)[i] + 1));
	default: {
		/* The bytes' hash does not depend on the seed, so that a
		 * dictionary's entries can be hashed once (pl_rows_hash). */
		size_t len;
		const char *s = pl_col_str(c, i, &len);
		return pl_hash_mix(seed ^ pl_hash_str_words(s, len));
	}
	}
}

/* Dictionary entries pl_column_hash_rows hashes once each (on the
 * stack). */
#define DICT_HASH_MAX 4096

/* pl_column_hash of a dictionary-encoded column: each entry's bytes
 * hashed once (a reader's dictionary holds at most 4096 entries; db-
 * benchmark q10's id1 and id2 hashed row by row were a fifth of what a
 * 2-rank run adds over one process). */
static int hash_dict_column(const pl_column *c, size_t n, uint64_t *h)
{
	uint64_t entry[DICT_HASH_MAX];
	const pl_column *d = c->dict;
	if (d->len > DICT_HASH_MAX)
		return 0;
	for (size_t e = 0; e < d->len; e++) {
		size_t len;
		const char *s = pl_col_str(d, e, &len);
		entry[e] = pl_hash_str_words(s, len);
	}
	const uint32_t *code = pl_col_codes(c);
	for (size_t i = 0; i < n; i++)
		h[i] = pl_column_is_null(c, i)
			   ? pl_column_hash(c, i, h[i])
			   : pl_hash_mix(h[i] ^ entry[code[i]]);
	return 1;
}

/* pl_column_hash of a plain string column, in a loop of its own rather
 * than a call and a switch a row (q10's id3, the distinct's). */
static void hash_string_column(const pl_column *c, size_t n, uint64_t *h)
{
	const int64_t *off = pl_col_off(c);
	for (size_t i = 0; i < n; i++)
		h[i] = c->valid != NULL && !pl_bit_get(c->valid, i)
			   ? pl_column_hash(c, i, h[i])
			   : pl_hash_mix(h[i] ^
					 pl_hash_str_words(
					     c->arena + off[i],
					     (size_t)(off[i + 1] - off[i])));
}

void pl_column_hash_rows(const pl_batch *b, const size_t *keys, size_t nkeys,
			 uint64_t seed, uint64_t *h)
{
	size_t n = b->nrows;
	for (size_t i = 0; i < n; i++)
		h[i] = seed;
	for (size_t k = 0; k < nkeys; k++) {
		const pl_column *c = &b->cols[keys[k]];
		if (pl_type_is_i64(c->type) && c->valid == NULL) {
			/* pl_column_hash of a present int64, in a loop of
			 * its own */
			const int64_t *v = pl_col_i64(c);
			for (size_t i = 0; i < n; i++)
				h[i] = pl_hash_mix(h[i] ^ (uint64_t)v[i]);
			continue;
		}
		if (c->dict != NULL && hash_dict_column(c, n, h))
			continue;
		if (c->type == PL_STRING && c->dict == NULL) {
			hash_string_column(c, n, h);
			continue;
		}
		for (size_t i = 0; i < n; i++)
			h[i] = pl_column_hash(c, i, h[i]);
	}
}

void pl_column_format(const pl_column *c, size_t i, char *buf, size_t cap)
{
	if (pl_column_is_null(c, i)) {
		snprintf(buf, cap, "NULL");
		return;
	}
	char text[PL_TIME_TEXT_MAX];
	switch (c->type) {
	case PL_DATE:
	case PL_TIMESTAMP: {
		int64_t v = pl_col_i64(c)[i];
		size_t len = c->type == PL_DATE ? pl_format_date(v, text)
						: pl_format_timestamp(v, text);
		snprintf(buf, cap, "%.*s", (int)len, text);
		break;
	}
	case PL_INT64:
		snprintf(buf, cap, "%lld", (long long)pl_col_i64(c)[i]);
		break;
	case PL_FLOAT64:
		snprintf(buf, cap, "%.17g", pl_col_f64(c)[i]);
		break;
	case PL_BOOL:
		snprintf(buf, cap, "%s", pl_col_bool(c)[i] ? "true" : "false");
		break;
	default: {
		size_t len;
		const char *s = pl_col_str(c, i, &len);
		snprintf(buf, cap, "%.*s", (int)(len > 200 ? 200 : len), s);
	}
	}
}

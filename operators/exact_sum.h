/* Exact sums of float64 and int64 values, rounded once at the end, so that
 * sum, mean, var, sd and corr give the same bits for any order of the
 * values, any chunking and any merge order of partial states.
 *
 * A sum is held as a two's complement fixed-point integer on one grid: bit
 * 0 is 2^-1074 (the smallest subnormal), and PL_XSUM_LIMBS 64-bit limbs
 * reach past 2^1024 with 77 bits of carry room, so every finite double and
 * every int64 (and int64 products) adds exactly. Per group only a window
 * of three consecutive limbs is kept inline (32 bytes); a sum whose
 * significant bits do not fit in such a window (values of very different
 * magnitudes in one group) moves to a full accumulator in a side table
 * (pl_xsum_big, 272 bytes each), which the owner of the states keeps.
 * Infinities and NaNs are kept as flags beside the finite part.
 *
 * A zeroed pl_xsum is an empty sum. Functions that may grow the side table
 * return 0 or PL_ERR_NOMEM with err set; decoding a damaged state is
 * PL_ERR_DATA. */
#ifndef PL_OPERATORS_EXACT_SUM_H
#define PL_OPERATORS_EXACT_SUM_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/error.h"
#include "pipeline/pool.h"

#define PL_XSUM_LIMBS 34
/* The largest encoded state: a flag byte, a base byte, all limbs. */
#define PL_XSUM_MAX_BYTES (2 + 8 * PL_XSUM_LIMBS)

typedef struct pl_xsum {
	uint64_t w[3]; /* limbs base..base+2 of the grid */
	uint8_t base;
	uint8_t flags; /* PL_XSUM_* below */
	uint8_t pad[2];
	uint32_t big; /* the side-table slot, when PL_XSUM_BIG */
} pl_xsum;

enum {
	PL_XSUM_PINF = 1,
	PL_XSUM_NINF = 2,
	PL_XSUM_NAN = 4,
	PL_XSUM_NONNEG0 = 8, /* saw a value other than -0.0 */
	PL_XSUM_BIG = 16
};

/* Full accumulators of the sums that outgrew their window. Zero-initialise
 * with the pool set; pl_xsum_big_free returns the memory. */
typedef struct pl_xsum_big {
	pl_pool *pool;
	uint64_t *limb; /* len * PL_XSUM_LIMBS */
	size_t len, cap;
} pl_xsum_big;

void pl_xsum_big_free(pl_xsum_big *t);
size_t pl_xsum_big_bytes(const pl_xsum_big *t);

static inline int pl_xsum_add_f64(pl_xsum *s, double x, pl_xsum_big *t,
				  pl_error *err);
static inline int pl_xsum_add_i64(pl_xsum *s, int64_t x, pl_xsum_big *t,
				  pl_error *err);
/* Adds x*y exactly (barring overflow to inf or underflow below 2^-1074). */
int pl_xsum_add_mul_f64(pl_xsum *s, double x, double y, pl_xsum_big *t,
			pl_error *err);
static inline int pl_xsum_add_mul_i64(pl_xsum *s, int64_t x, int64_t y,
				      pl_xsum_big *t, pl_error *err);

/* dst += src; src's slot, if any, is in st (which may be t). */
int pl_xsum_merge(pl_xsum *dst, pl_xsum_big *t, const pl_xsum *src,
		  const pl_xsum_big *st, pl_error *err);

/* Writes s in at most PL_XSUM_MAX_BYTES bytes to out; returns the count.
 * The form is the same whatever window or slot held the sum. */
size_t pl_xsum_encode(const pl_xsum *s, const pl_xsum_big *t, uint8_t *out);

/* dst += the sum encoded in p[0..len); PL_ERR_DATA when it is malformed. */
int pl_xsum_merge_encoded(pl_xsum *dst, pl_xsum_big *t, const uint8_t *p,
			  size_t len, pl_error *err);

/* The sum rounded once to the nearest double (ties to even); NaN when it
 * saw a NaN or both infinities, +-inf when it saw one of them or the sum
 * overflows; -0.0 when it saw only -0.0 values. */
double pl_xsum_value(const pl_xsum *s, const pl_xsum_big *t);

/* The sum divided by n (n > 0), rounded once more at the end. */
double pl_xsum_mean(const pl_xsum *s, const pl_xsum_big *t, int64_t n);

/* The sample variance from n, s1 = sum x, s2 = sum x*x: the exact
 * n*s2 - s1^2 divided by n(n-1). NaN when the values held an inf or NaN,
 * +inf when a square overflowed. n must be at least 2. */
double pl_xsum_var(int64_t n, const pl_xsum *s1, const pl_xsum *s2,
		   const pl_xsum_big *t);

/* Pearson's r from the exact co-moments; returns 0 (NULL) when a variance
 * is zero or a value was not finite, else 1 with *r in [-1, 1]. */
int pl_xsum_corr(int64_t n, const pl_xsum *sx, const pl_xsum *sy,
		 const pl_xsum *sxx, const pl_xsum *syy, const pl_xsum *sxy,
		 const pl_xsum_big *t, double *r);

/* Integer arguments take a faster path: their sums (of int64 values and
 * of products of two) are held as plain 128-bit integers while they fit,
 * added with overflow checks by the caller. pl_xsum_from_i128 gives the
 * same sum in the general form, for merging, encoding and the final
 * values, and when an add would overflow; nonempty says whether any value
 * was added (a sum of nothing and a sum equal to 0 differ in flags). */
__extension__ typedef __int128 pl_i128;
void pl_xsum_from_i128(pl_xsum *s, pl_i128 v, int nonempty);

/* The hot path of pl_xsum_add_f64, inline in the callers' loops: a finite
 * non-zero double whose bits fall inside the window, without overflow,
 * without branches on the data. Everything else goes out of line. */
int pl_xsum_add_f64_slow_(pl_xsum *s, double x, pl_xsum_big *t, pl_error *err);

/* Adds sign * (hi:lo << 64j) to the window of s (hi < 2^63); 0 when it
 * does not fit (s is then unchanged). */
static inline int pl_xsum_add_window_(pl_xsum *s, uint64_t lo, uint64_t hi,
				      int j, int neg)
{
	__extension__ typedef unsigned __int128 u128;
	unsigned o = (unsigned)(j - s->base);
	if (o > 1 || (s->flags & PL_XSUM_BIG))
		return 0;
	uint64_t mask = 0 - (uint64_t)neg;
	uint64_t c0 = (o ? 0 : lo) ^ mask, c1 = (o ? lo : hi) ^ mask,
		 c2 = (o ? hi : 0) ^ mask;
	u128 v = (u128)s->w[0] + c0 + (uint64_t)neg;
	uint64_t r0 = (uint64_t)v;
	v = (u128)s->w[1] + c1 + (uint64_t)(v >> 64);
	uint64_t r1 = (uint64_t)v;
	uint64_t r2 = s->w[2] + c2 + (uint64_t)(v >> 64);
	/* signed overflow: operands of one sign, a result of the other */
	if ((~(s->w[2] ^ c2) & (s->w[2] ^ r2)) >> 63)
		return 0;
	s->w[0] = r0;
	s->w[1] = r1;
	s->w[2] = r2;
	return 1;
}

static inline int pl_xsum_add_f64(pl_xsum *s, double x, pl_xsum_big *t,
				  pl_error *err)
{
	__extension__ typedef unsigned __int128 u128;
	uint64_t u;
	__builtin_memcpy(&u, &x, 8);
	unsigned e = (unsigned)(u >> 52) & 0x7FF;
	if (__builtin_expect(e - 1 < 0x7FE, 1)) { /* normal */
		int pos = (int)e - 1;
		uint64_t m = (u & ((1ull << 52) - 1)) | (1ull << 52);
		u128 v = (u128)m << (pos & 63);
		if (pl_xsum_add_window_(s, (uint64_t)v, (uint64_t)(v >> 64),
					pos >> 6, (int)(u >> 63))) {
			s->flags |= PL_XSUM_NONNEG0;
			return 0;
		}
	}
	return pl_xsum_add_f64_slow_(s, x, t, err);
}

int pl_xsum_add_i64_slow_(pl_xsum *s, int64_t x, pl_xsum_big *t, pl_error *err);
int pl_xsum_add_mul_i64_slow_(pl_xsum *s, int64_t x, int64_t y, pl_xsum_big *t,
			      pl_error *err);

/* 2^0 is bit 50 of limb 16 on the grid. */
static inline int pl_xsum_add_i64(pl_xsum *s, int64_t x, pl_xsum_big *t,
				  pl_error *err)
{
	__extension__ typedef unsigned __int128 u128;
	uint64_t m = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
	u128 v = (u128)m << 50;
	if (pl_xsum_add_window_(s, (uint64_t)v, (uint64_t)(v >> 64), 16,
				x < 0)) {
		s->flags |= PL_XSUM_NONNEG0;
		return 0;
	}
	return pl_xsum_add_i64_slow_(s, x, t, err);
}

static inline int pl_xsum_add_mul_i64(pl_xsum *s, int64_t x, int64_t y,
				      pl_xsum_big *t, pl_error *err)
{
	int64_t p;
	if (!__builtin_mul_overflow(x, y, &p) && p != INT64_MIN)
		return pl_xsum_add_i64(s, p, t, err);
	return pl_xsum_add_mul_i64_slow_(s, x, y, t, err);
}

#endif

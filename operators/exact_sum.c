#include "operators/exact_sum.h"

#include <math.h>
#include <string.h>

#define L PL_XSUM_LIMBS
/* A product of two sums, with room for n * sum shifted onto its grid. */
#define XL (2 * L + 4)

__extension__ typedef unsigned __int128 u128;

enum { SPECIAL = PL_XSUM_PINF | PL_XSUM_NINF | PL_XSUM_NAN };

void pl_xsum_big_free(pl_xsum_big *t)
{
	pl_pool_free(t->pool, t->limb);
	t->limb = NULL;
	t->len = t->cap = 0;
}

size_t pl_xsum_big_bytes(const pl_xsum_big *t)
{
	return t->limb ? pl_pool_size(t->limb) : 0;
}

static uint64_t *slot(const pl_xsum_big *t, uint32_t i)
{
	return t->limb + (size_t)i * L;
}

/* The full grid of s: zeros below the window, its sign above. */
static void materialise(const pl_xsum *s, const pl_xsum_big *t, uint64_t *f)
{
	if (s->flags & PL_XSUM_BIG) {
		memcpy(f, slot(t, s->big), L * 8);
		return;
	}
	uint64_t ext = (s->w[2] >> 63) ? ~0ull : 0;
	for (int i = 0; i < L; i++)
		f[i] = i < s->base ? 0 : ext;
	memcpy(f + s->base, s->w, 3 * 8);
}

/* The limbs lo..hi that hold the value of the n-limb two's complement f;
 * returns 0 when f is zero. */
static int trim(const uint64_t *f, int n, int *lo, int *hi)
{
	uint64_t ext = (f[n - 1] >> 63) ? ~0ull : 0;
	int i = 0;
	while (i < n && f[i] == 0)
		i++;
	if (i == n)
		return 0;
	int h = n - 1;
	while (h > i && f[h] == ext && (f[h - 1] >> 63) == (ext & 1))
		h--;
	*lo = i;
	*hi = h;
	return 1;
}

static int new_slot(pl_xsum_big *t, uint32_t *idx, pl_error *err)
{
	if (t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		uint64_t *p =
		    cap <= UINT32_MAX
			? pl_pool_realloc(t->pool, t->limb, cap * L * 8)
			: NULL;
		if (p == NULL)
			return pl_error_nomem(err, "an exact sum");
		t->limb = p;
		t->cap = cap;
	}
	*idx = (uint32_t)t->len++;
	return 0;
}

/* Puts the full grid f back into s: in a window when it fits, else in a
 * side-table slot. */
static int store(pl_xsum *s, const uint64_t *f, pl_xsum_big *t, pl_error *err)
{
	if (s->flags & PL_XSUM_BIG) {
		memcpy(slot(t, s->big), f, L * 8);
		return 0;
	}
	int lo, hi;
	if (!trim(f, L, &lo, &hi)) {
		memset(s->w, 0, sizeof(s->w));
		return 0;
	}
	if (hi - lo <= 2) {
		s->base = (uint8_t)(lo <= L - 3 ? lo : L - 3);
		memcpy(s->w, f + s->base, 3 * 8);
		return 0;
	}
	uint32_t idx = 0;
	int rc = new_slot(t, &idx, err);
	if (rc)
		return rc;
	memcpy(slot(t, idx), f, L * 8);
	s->flags |= PL_XSUM_BIG;
	s->big = idx;
	return 0;
}

/* f += (or -=) the magnitude hi:lo placed at limb j. */
static void full_add2(uint64_t *f, uint64_t lo, uint64_t hi, int j, int neg)
{
	uint64_t c = 0;
	for (int i = j; i < L; i++) {
		uint64_t v = i == j ? lo : i == j + 1 ? hi : 0;
		if (i > j + 1 && c == 0)
			break;
		uint64_t r;
		if (!neg) {
			uint64_t c1 = __builtin_add_overflow(f[i], v, &r);
			c1 += __builtin_add_overflow(r, c, &r);
			c = c1;
		} else {
			uint64_t c1 = __builtin_sub_overflow(f[i], v, &r);
			c1 += __builtin_sub_overflow(r, c, &r);
			c = c1;
		}
		f[i] = r;
	}
}

/* f += g, both n-limb two's complement numbers (full grids: n = L). */
static void add_limbs(uint64_t *f, const uint64_t *g, int n)
{
	uint64_t c = 0;
	for (int i = 0; i < n; i++) {
		uint64_t r;
		uint64_t c1 = __builtin_add_overflow(f[i], g[i], &r);
		c1 += __builtin_add_overflow(r, c, &r);
		f[i] = r;
		c = c1;
	}
}

static int add_slow(pl_xsum *s, uint64_t lo, uint64_t hi, int j, int neg,
		    pl_xsum_big *t, pl_error *err)
{
	if (s->flags & PL_XSUM_BIG) {
		full_add2(slot(t, s->big), lo, hi, j, neg);
		return 0;
	}
	uint64_t f[L];
	materialise(s, t, f);
	full_add2(f, lo, hi, j, neg);
	return store(s, f, t, err);
}

/* w += c over three limbs; 0 when the signed result overflowed (w is then
 * unchanged). */
static int add3(uint64_t *w, const uint64_t *c)
{
	uint64_t r[3], k = 0;
	for (int i = 0; i < 3; i++) {
		uint64_t k1 = __builtin_add_overflow(w[i], c[i], &r[i]);
		k1 += __builtin_add_overflow(r[i], k, &r[i]);
		k = k1;
	}
	uint64_t sw = w[2] >> 63, sc = c[2] >> 63;
	if (sw == sc && (r[2] >> 63) != sw)
		return 0;
	memcpy(w, r, sizeof(r));
	return 1;
}

static int add2(pl_xsum *s, uint64_t lo, uint64_t hi, int j, int neg,
		pl_xsum_big *t, pl_error *err)
{
	if (pl_xsum_add_window_(s, lo, hi, j, neg))
		return 0;
	return add_slow(s, lo, hi, j, neg, t, err);
}

int pl_xsum_add_f64_slow_(pl_xsum *s, double x, pl_xsum_big *t, pl_error *err)
{
	uint64_t u;
	memcpy(&u, &x, 8);
	int neg = (int)(u >> 63);
	int e = (int)((u >> 52) & 0x7FF);
	uint64_t m = u & ((1ull << 52) - 1);
	if (e == 0x7FF) {
		s->flags |= m ? PL_XSUM_NAN : neg ? PL_XSUM_NINF : PL_XSUM_PINF;
		return 0;
	}
	if (e == 0 && m == 0) {
		s->flags |= neg ? 0 : PL_XSUM_NONNEG0;
		return 0;
	}
	s->flags |= PL_XSUM_NONNEG0;
	int pos = e ? e - 1 : 0;
	m |= (uint64_t)(e != 0) << 52;
	u128 v = (u128)m << (pos & 63);
	return add2(s, (uint64_t)v, (uint64_t)(v >> 64), pos >> 6, neg, t, err);
}

/* Bit 1074 of the grid is 2^0: limb 16, bit 50. */
static int add_mag_at_one(pl_xsum *s, uint64_t m, int limb_up, int neg,
			  pl_xsum_big *t, pl_error *err)
{
	if (m == 0)
		return 0;
	u128 v = (u128)m << 50;
	return add2(s, (uint64_t)v, (uint64_t)(v >> 64), 16 + limb_up, neg, t,
		    err);
}

int pl_xsum_add_i64_slow_(pl_xsum *s, int64_t x, pl_xsum_big *t, pl_error *err)
{
	s->flags |= PL_XSUM_NONNEG0;
	uint64_t m = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
	return add_mag_at_one(s, m, 0, x < 0, t, err);
}

int pl_xsum_add_mul_i64_slow_(pl_xsum *s, int64_t x, int64_t y, pl_xsum_big *t,
			      pl_error *err)
{
	s->flags |= PL_XSUM_NONNEG0;
	uint64_t mx = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
	uint64_t my = y < 0 ? 0 - (uint64_t)y : (uint64_t)y;
	u128 p = (u128)mx * my;
	int neg = (x < 0) != (y < 0);
	int rc = add_mag_at_one(s, (uint64_t)p, 0, neg, t, err);
	if (rc == 0)
		rc = add_mag_at_one(s, (uint64_t)(p >> 64), 1, neg, t, err);
	return rc;
}

void pl_xsum_from_i128(pl_xsum *s, pl_i128 v, int nonempty)
{
	/* v << 50 at limb 16 spans limbs 16-18 at most: store() keeps it in
	 * the window and never takes a side-table slot. */
	uint64_t f[L];
	uint64_t ext = v < 0 ? ~0ull : 0;
	for (int i = 0; i < L; i++)
		f[i] = i < 16 ? 0 : ext;
	u128 u = (u128)v;
	f[16] = (uint64_t)(u << 50);
	f[17] = (uint64_t)(u >> 14);
	f[18] = (uint64_t)(v >> 78);
	memset(s, 0, sizeof(*s));
	s->flags = nonempty ? PL_XSUM_NONNEG0 : 0;
	(void)store(s, f, NULL, NULL);
}

/* Dekker's exact product: a*b == *p + *e unless it overflows or
 * underflows. No fma: the build does not assume the instruction. */
static void split(double a, double *h, double *l)
{
	double c = 134217729.0 * a;
	*h = c - (c - a);
	*l = a - *h;
}

static void two_prod(double a, double b, double *p, double *e)
{
	double ah, al, bh, bl;
	*p = a * b;
	split(a, &ah, &al);
	split(b, &bh, &bl);
	*e = ((ah * bh - *p) + ah * bl + al * bh) + al * bl;
}

int pl_xsum_add_mul_f64(pl_xsum *s, double x, double y, pl_xsum_big *t,
			pl_error *err)
{
	double p, e = 0;
	two_prod(x, y, &p, &e);
	if (isfinite(p) && (fabs(x) > 0x1p995 || fabs(y) > 0x1p995)) {
		/* the splitter would overflow: the same product scaled */
		int big_x = fabs(x) > fabs(y);
		two_prod(big_x ? x * 0x1p-60 : x, big_x ? y : y * 0x1p-60, &p,
			 &e);
		p *= 0x1p60;
		e *= 0x1p60;
	}
	if (!isfinite(p))
		e = 0;
	int rc = pl_xsum_add_f64(s, p, t, err);
	if (rc == 0 && e != 0)
		rc = pl_xsum_add_f64(s, e, t, err);
	return rc;
}

/* The limbs of window w at base, sign-extended, into f[0..6) standing for
 * limbs lo..lo+5 (lo <= base <= lo + 2). */
static void spread(uint64_t *f, const uint64_t *w, int base, int lo)
{
	uint64_t ext = (w[2] >> 63) ? ~0ull : 0;
	for (int i = 0; i < 6; i++) {
		int j = lo + i - base;
		f[i] = j < 0 ? 0 : j < 3 ? w[j] : ext;
	}
}

/* dst += src for windows whose bases are at most two limbs apart (the
 * usual case when ranks merge sums of similar values): the sum on six
 * limbs, back into a window when it fits. 0 when it does not (dst is then
 * unchanged). */
static int merge_near(pl_xsum *dst, const pl_xsum *src)
{
	int lo = dst->base < src->base ? dst->base : src->base;
	int d = dst->base > src->base ? dst->base - lo : src->base - lo;
	if (d > 2 || lo + 6 > L)
		return 0;
	uint64_t f[6], g[6];
	spread(f, dst->w, dst->base, lo);
	spread(g, src->w, src->base, lo);
	add_limbs(f, g, 6);
	int a, b;
	if (!trim(f, 6, &a, &b)) {
		memset(dst->w, 0, sizeof(dst->w));
		return 1;
	}
	if (b - a > 2 || lo + a > L - 3 || a + 3 > 6)
		return 0;
	dst->base = (uint8_t)(lo + a);
	memcpy(dst->w, f + a, 3 * 8);
	return 1;
}

int pl_xsum_merge(pl_xsum *dst, pl_xsum_big *t, const pl_xsum *src,
		  const pl_xsum_big *st, pl_error *err)
{
	dst->flags |= src->flags & (SPECIAL | PL_XSUM_NONNEG0);
	if (!((dst->flags | src->flags) & PL_XSUM_BIG)) {
		if (!(src->w[0] | src->w[1] | src->w[2]))
			return 0;
		if (!(dst->w[0] | dst->w[1] | dst->w[2])) {
			dst->base = src->base;
			memcpy(dst->w, src->w, sizeof(dst->w));
			return 0;
		}
		if (dst->base == src->base && add3(dst->w, src->w))
			return 0;
		if (merge_near(dst, src))
			return 0;
	}
	uint64_t g[L];
	materialise(src, st, g);
	if (dst->flags & PL_XSUM_BIG) {
		add_limbs(slot(t, dst->big), g, L);
		return 0;
	}
	uint64_t f[L];
	materialise(dst, t, f);
	add_limbs(f, g, L);
	return store(dst, f, t, err);
}

size_t pl_xsum_encode(const pl_xsum *s, const pl_xsum_big *t, uint8_t *out)
{
	uint64_t f[L];
	const uint64_t *w = s->w;
	int n = 3, base = s->base, lo, hi;
	if (s->flags & PL_XSUM_BIG) {
		materialise(s, t, f);
		w = f;
		n = L;
		base = 0;
	}
	out[0] = (uint8_t)(s->flags & ~PL_XSUM_BIG);
	out[1] = 0;
	if (!trim(w, n, &lo, &hi))
		return 2;
	out[1] = (uint8_t)(base + lo);
	memcpy(out + 2, w + lo, (size_t)(hi - lo + 1) * 8);
	return 2 + (size_t)(hi - lo + 1) * 8;
}

int pl_xsum_merge_encoded(pl_xsum *dst, pl_xsum_big *t, const uint8_t *p,
			  size_t len, pl_error *err)
{
	size_t k = len >= 2 ? (len - 2) / 8 : 0;
	if (len < 2 || (len - 2) % 8 != 0 || k > L || p[1] + k > L ||
	    (p[0] & ~(SPECIAL | PL_XSUM_NONNEG0)))
		return pl_error_set(err, PL_ERR_DATA,
				    "a damaged exact-sum state (%zu bytes)",
				    len);
	pl_xsum src;
	memset(&src, 0, sizeof(src));
	src.flags = p[0];
	if (k == 0)
		return pl_xsum_merge(dst, t, &src, NULL, err);
	uint64_t g[L];
	memcpy(g, p + 2, k * 8);
	uint64_t ext = (g[k - 1] >> 63) ? ~0ull : 0;
	if (k <= 3 && p[1] <= L - 3) {
		for (size_t i = 0; i < 3; i++)
			src.w[i] = i < k ? g[i] : ext;
		src.base = p[1];
		return pl_xsum_merge(dst, t, &src, NULL, err);
	}
	uint64_t f[L];
	for (int i = 0; i < L; i++)
		f[i] = i < p[1] ? 0 : i < p[1] + (int)k ? g[i - p[1]] : ext;
	dst->flags |= src.flags;
	if (dst->flags & PL_XSUM_BIG) {
		add_limbs(slot(t, dst->big), f, L);
		return 0;
	}
	uint64_t h[L];
	materialise(dst, t, h);
	add_limbs(h, f, L);
	return store(dst, h, t, err);
}

/* Two's complement negation in place; returns whether f was negative. */
static int to_magnitude(uint64_t *f, int n)
{
	if (!(f[n - 1] >> 63))
		return 0;
	uint64_t k = 1;
	for (int i = 0; i < n; i++) {
		f[i] = ~f[i] + k;
		k = k && f[i] == 0;
	}
	return 1;
}

static int msb(const uint64_t *f, int n)
{
	for (int i = n - 1; i >= 0; i--)
		if (f[i])
			return i * 64 + 63 - __builtin_clzll(f[i]);
	return -1;
}

/* Bits pos..pos+63 of f, zero outside it. */
static uint64_t get_bits(const uint64_t *f, int n, int pos)
{
	if (pos < 0)
		return pos <= -64 ? 0 : f[0] << -pos;
	int i = pos >> 6, sh = pos & 63;
	uint64_t r = i < n ? f[i] >> sh : 0;
	if (sh && i + 1 < n)
		r |= f[i + 1] << (64 - sh);
	return r;
}

/* Whether any of bits 0..pos-1 is set. */
static int any_below(const uint64_t *f, int pos)
{
	int i = 0;
	for (; (i + 1) * 64 <= pos; i++)
		if (f[i])
			return 1;
	return pos % 64 && (f[i] & ((1ull << (pos % 64)) - 1));
}

static double special_value(int flags)
{
	if ((flags & PL_XSUM_NAN) || (flags & (PL_XSUM_PINF | PL_XSUM_NINF)) ==
					 (PL_XSUM_PINF | PL_XSUM_NINF))
		return NAN;
	return flags & PL_XSUM_PINF ? INFINITY : -INFINITY;
}

double pl_xsum_value(const pl_xsum *s, const pl_xsum_big *t)
{
	if (s->flags & SPECIAL)
		return special_value(s->flags);
	uint64_t f[L];
	materialise(s, t, f);
	int neg = to_magnitude(f, L);
	int p = msb(f, L);
	if (p < 0)
		return s->flags & PL_XSUM_NONNEG0 ? 0.0 : -0.0;
	double d;
	if (p <= 52) {
		d = ldexp((double)f[0], -1074); /* subnormal or exact */
	} else {
		uint64_t m = get_bits(f, L, p - 52);
		int half = (int)(get_bits(f, L, p - 53) & 1);
		if (half && ((m & 1) || any_below(f, p - 53)))
			m++;
		d = ldexp((double)m, p - 52 - 1074);
	}
	return neg ? -d : d;
}

/* The magnitude f (n limbs, bit 0 = 2^scale) as (*hi + *lo) * 2^return,
 * hi holding its top 53 bits and lo the next 75 (rounded). */
static int to_dd(const uint64_t *f, int n, int scale, double *hi, double *lo)
{
	int p = msb(f, n);
	if (p < 0) {
		*hi = *lo = 0;
		return 0;
	}
	uint64_t th = get_bits(f, n, p - 63), tl = get_bits(f, n, p - 127);
	*hi = (double)(th & ~0x7FFull);
	*lo = (double)(th & 0x7FF) + (double)tl * 0x1p-64;
	return p - 63 + scale;
}

/* (hi + lo) / d in double-double. */
static void dd_div(double *hi, double *lo, double d)
{
	double q1 = *hi / d, p, e;
	two_prod(q1, d, &p, &e);
	double r = ((*hi - p) - e) + *lo;
	double q2 = r / d;
	*hi = q1 + q2;
	*lo = q2 - (*hi - q1);
}

double pl_xsum_mean(const pl_xsum *s, const pl_xsum_big *t, int64_t n)
{
	if (s->flags & SPECIAL)
		return special_value(s->flags);
	uint64_t f[L];
	materialise(s, t, f);
	int neg = to_magnitude(f, L);
	double hi, lo;
	int e = to_dd(f, L, -1074, &hi, &lo);
	if (hi == 0)
		return s->flags & PL_XSUM_NONNEG0 ? 0.0 : -0.0;
	dd_div(&hi, &lo, (double)n);
	double d = ldexp(hi + lo, e);
	return neg ? -d : d;
}

/* m = a * b for magnitudes of L limbs (m has XL limbs, zeroed). */
static void mul(const uint64_t *a, const uint64_t *b, uint64_t *m)
{
	int ha = msb(a, L) >> 6, hb = msb(b, L) >> 6;
	for (int i = 0; i <= ha; i++) {
		if (a[i] == 0)
			continue;
		uint64_t k = 0;
		int j = 0;
		for (; j <= hb; j++) {
			u128 v = (u128)a[i] * b[j] + m[i + j] + k;
			m[i + j] = (uint64_t)v;
			k = (uint64_t)(v >> 64);
		}
		for (int x = i + j; k; x++) {
			u128 v = (u128)m[x] + k;
			m[x] = (uint64_t)v;
			k = (uint64_t)(v >> 64);
		}
	}
}

static int cmp_mag(const uint64_t *a, const uint64_t *b, int n)
{
	for (int i = n - 1; i >= 0; i--)
		if (a[i] != b[i])
			return a[i] > b[i] ? 1 : -1;
	return 0;
}

static void sub_mag(uint64_t *a, const uint64_t *b, int n)
{
	uint64_t k = 0;
	for (int i = 0; i < n; i++) {
		uint64_t r, k1 = __builtin_sub_overflow(a[i], b[i], &r);
		k1 += __builtin_sub_overflow(r, k, &r);
		a[i] = r;
		k = k1;
	}
}

static void add_mag(uint64_t *a, const uint64_t *b, int n)
{
	uint64_t k = 0;
	for (int i = 0; i < n; i++) {
		uint64_t r, k1 = __builtin_add_overflow(a[i], b[i], &r);
		k1 += __builtin_add_overflow(r, k, &r);
		a[i] = r;
		k = k1;
	}
}

/* d = n * c - a * b exactly, as a magnitude of XL limbs with bit 0 at
 * 2^-2148; returns its sign (1 for negative). */
static int cross(int64_t n, const pl_xsum *a, const pl_xsum *b,
		 const pl_xsum *c, const pl_xsum_big *t, uint64_t *d)
{
	uint64_t fa[L], fb[L], fc[L], nc[L + 1], p[XL];
	materialise(a, t, fa);
	materialise(b, t, fb);
	materialise(c, t, fc);
	int sp = to_magnitude(fa, L) ^ to_magnitude(fb, L);
	int sc = to_magnitude(fc, L);
	memset(p, 0, sizeof(p));
	mul(fa, fb, p);
	uint64_t k = 0;
	for (int i = 0; i < L; i++) {
		u128 v = (u128)fc[i] * (uint64_t)n + k;
		nc[i] = (uint64_t)v;
		k = (uint64_t)(v >> 64);
	}
	nc[L] = k;
	/* onto the product's grid: 1074 bits = 16 limbs and 50 bits */
	memset(d, 0, XL * 8);
	for (int i = 0; i <= L; i++) {
		d[i + 16] |= nc[i] << 50;
		d[i + 17] |= nc[i] >> 14;
	}
	/* d = (sc ? -1 : 1) * d - (sp ? -1 : 1) * p */
	int sq = !sp;
	if (sc == sq) {
		add_mag(d, p, XL);
		return sc;
	}
	if (cmp_mag(d, p, XL) >= 0) {
		sub_mag(d, p, XL);
		return sc;
	}
	sub_mag(p, d, XL);
	memcpy(d, p, XL * 8);
	return sq;
}

double pl_xsum_var(int64_t n, const pl_xsum *s1, const pl_xsum *s2,
		   const pl_xsum_big *t)
{
	if (s1->flags & SPECIAL)
		return NAN;
	if (s2->flags & SPECIAL)
		return special_value(s2->flags);
	uint64_t d[XL];
	if (cross(n, s1, s1, s2, t, d))
		return 0; /* only when squares underflowed */
	double hi, lo;
	int e = to_dd(d, XL, -2148, &hi, &lo);
	if (hi == 0)
		return 0;
	dd_div(&hi, &lo, (double)n);
	dd_div(&hi, &lo, (double)(n - 1));
	return ldexp(hi + lo, e);
}

int pl_xsum_corr(int64_t n, const pl_xsum *sx, const pl_xsum *sy,
		 const pl_xsum *sxx, const pl_xsum *syy, const pl_xsum *sxy,
		 const pl_xsum_big *t, double *r)
{
	if ((sx->flags | sy->flags | sxx->flags | syy->flags | sxy->flags) &
	    SPECIAL)
		return 0;
	uint64_t d[XL];
	double hi, lo;
	if (cross(n, sx, sx, sxx, t, d))
		return 0;
	int ex = to_dd(d, XL, 0, &hi, &lo);
	double x = hi + lo;
	if (cross(n, sy, sy, syy, t, d))
		return 0;
	int ey = to_dd(d, XL, 0, &hi, &lo);
	double y = hi + lo;
	int neg = cross(n, sx, sy, sxy, t, d);
	int ez = to_dd(d, XL, 0, &hi, &lo);
	double z = neg ? -(hi + lo) : hi + lo;
	if (!(x > 0) || !(y > 0))
		return 0;
	if ((ex + ey) & 1) {
		x *= 2;
		ex--;
	}
	double v = ldexp(z / sqrt(x * y), ez - (ex + ey) / 2);
	*r = v > 1 ? 1 : v < -1 ? -1 : v;
	return 1;
}

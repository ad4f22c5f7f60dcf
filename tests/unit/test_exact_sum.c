/* Exact sums: the same bits for every order, chunking and merge order, the
 * correctly rounded value (checked against an independent fsum), and the
 * hard cases: cancellation, huge and tiny mixes, infinities, NaN, -0.0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "operators/exact_sum.h"
#include "pipeline/pool.h"

static pl_pool *pool;
static pl_xsum_big tab;
static pl_error err;

static void setup(void)
{
	pool = pl_pool_create(0);
	memset(&tab, 0, sizeof(tab));
	tab.pool = pool;
}

static void teardown(void)
{
	pl_xsum_big_free(&tab);
	pl_pool_destroy(pool);
}

/* Shewchuk's partials with CPython's correct final rounding (math.fsum),
 * an independent reference for finite values without overflow. */
static double ref_fsum(const double *x, size_t n)
{
	double p[2200]; /* non-overlapping: at most one per bit of the range */
	size_t np = 0;
	for (size_t k = 0; k < n; k++) {
		double v = x[k];
		size_t i = 0;
		for (size_t j = 0; j < np; j++) {
			double y = p[j];
			if (fabs(v) < fabs(y)) {
				double t = v;
				v = y;
				y = t;
			}
			double hi = v + y, lo = y - (hi - v);
			if (lo != 0)
				p[i++] = lo;
			v = hi;
		}
		np = i;
		p[np++] = v;
	}
	if (np == 0)
		return 0;
	double hi = p[--np], lo = 0;
	while (np > 0) {
		double v = hi, y = p[--np];
		hi = v + y;
		double yr = hi - v;
		lo = y - yr;
		if (lo != 0)
			break;
	}
	if (np > 0 &&
	    ((lo < 0 && p[np - 1] < 0) || (lo > 0 && p[np - 1] > 0))) {
		double y = lo * 2, v = hi + y, yr = v - hi;
		if (y == yr)
			hi = v;
	}
	return hi;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Values of every size and sign, many cancelling. */
static double hard_value(int mode)
{
	double m = (double)(next() >> 11) * 0x1p-53;
	int e = mode == 0   ? (int)(next() % 40) - 20
		: mode == 1 ? (int)(next() % 600) - 300
			    : (int)(next() % 2000) - 1000;
	double v = ldexp(m, e);
	return next() & 1 ? -v : v;
}

static int same_bits(double a, double b)
{
	return memcmp(&a, &b, 8) == 0;
}

static double sum_all(const double *x, size_t n)
{
	pl_xsum s;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_FATAL(pl_xsum_add_f64(&s, x[i], &tab, &err) == 0);
	return pl_xsum_value(&s, &tab);
}

/* Sums x in random chunks, encodes each chunk's state, and merges the
 * encoded states in a random order (half of them through a second
 * table, as another rank would). */
static double sum_chunked(const double *x, size_t n)
{
	enum { MAXC = 64 };
	pl_xsum part[MAXC];
	pl_xsum_big other = {.pool = pool};
	size_t nc = 1 + next() % MAXC, from = 0;
	memset(part, 0, sizeof(part));
	for (size_t c = 0; c < nc; c++) {
		size_t to = c + 1 == nc ? n : from + next() % (n - from + 1);
		pl_xsum_big *t = c % 2 ? &other : &tab;
		for (size_t i = from; i < to; i++)
			CU_ASSERT_FATAL(
			    pl_xsum_add_f64(&part[c], x[i], t, &err) == 0);
		from = to;
	}
	pl_xsum total;
	memset(&total, 0, sizeof(total));
	for (size_t k = 0; k < nc; k++) {
		size_t c = (k * 7 + 3) % nc; /* a permutation when nc % 7 */
		if (nc % 7 == 0)
			c = nc - 1 - k;
		pl_xsum_big *t = c % 2 ? &other : &tab;
		if (k % 2) {
			uint8_t buf[PL_XSUM_MAX_BYTES];
			size_t len = pl_xsum_encode(&part[c], t, buf);
			CU_ASSERT_FATAL(len <= sizeof(buf));
			CU_ASSERT_FATAL(pl_xsum_merge_encoded(&total, &tab, buf,
							      len, &err) == 0);
		} else {
			CU_ASSERT_FATAL(pl_xsum_merge(&total, &tab, &part[c], t,
						      &err) == 0);
		}
	}
	double v = pl_xsum_value(&total, &tab);
	pl_xsum_big_free(&other);
	return v;
}

static void shuffle(double *x, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = next() % i;
		double t = x[i - 1];
		x[i - 1] = x[j];
		x[j] = t;
	}
}

static void test_orders_and_merges_agree(void)
{
	setup();
	enum { N = 2000 };
	static double x[N];
	for (int mode = 0; mode < 3; mode++) {
		for (int round = 0; round < 5; round++) {
			size_t n = 1 + next() % N;
			for (size_t i = 0; i < n; i++)
				x[i] = hard_value(mode);
			double want = ref_fsum(x, n);
			for (int perm = 0; perm < 6; perm++) {
				shuffle(x, n);
				CU_ASSERT(same_bits(sum_all(x, n), want));
				CU_ASSERT(same_bits(sum_chunked(x, n), want));
			}
		}
	}
	teardown();
}

static void check_sum(const double *x, size_t n, double want)
{
	double a[16];
	memcpy(a, x, n * sizeof(double));
	for (int perm = 0; perm < 8; perm++) {
		double got = sum_all(a, n);
		CU_ASSERT(same_bits(got, want) || (isnan(got) && isnan(want)));
		if (!same_bits(got, want) && !(isnan(got) && isnan(want)))
			fprintf(stderr, "sum gave %.17g, want %.17g\n", got,
				want);
		shuffle(a, n);
	}
}

static void test_hard_cases(void)
{
	setup();
	check_sum((double[]){0.1, 0.2, 0.3}, 3, 0.6);
	check_sum((double[]){1e16, 1, -1e16}, 3, 1);
	check_sum((double[]){1e100, 1, -1e100, 1e-100}, 4, 1);
	check_sum((double[]){1e308, 1e308, -1e308}, 3, 1e308);
	check_sum((double[]){1e308, 1e308}, 2, INFINITY);
	check_sum((double[]){-1e308, -1e308}, 2, -INFINITY);
	check_sum((double[]){0x1p-1074, 0x1p-1074, 0x1p-1074}, 3, 0x1.8p-1073);
	check_sum((double[]){1, 0x1p-53}, 2, 1); /* tie: even */
	check_sum((double[]){1, 0x1p-53, 0x1p-200}, 3, 1 + 0x1p-52);
	check_sum((double[]){1 + 0x1p-52, 0x1p-53}, 2, 1 + 0x1p-51); /* even */
	check_sum((double[]){1e300, 1e-300, -1e300}, 3, 1e-300);
	check_sum((double[]){INFINITY, 1, 2}, 3, INFINITY);
	check_sum((double[]){-INFINITY, 1}, 2, -INFINITY);
	check_sum((double[]){INFINITY, -INFINITY}, 2, NAN);
	check_sum((double[]){NAN, 1}, 2, NAN);
	check_sum((double[]){-0.0, -0.0}, 2, -0.0);
	check_sum((double[]){-0.0, 0.0}, 2, 0.0);
	check_sum((double[]){1, -1}, 2, 0.0);
	check_sum((double[]){-0.0}, 1, -0.0);
	teardown();
}

static void test_int_and_big_states(void)
{
	setup();
	pl_xsum s, t;
	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	CU_ASSERT(pl_xsum_add_i64(&s, INT64_MAX, &tab, &err) == 0);
	CU_ASSERT(pl_xsum_add_i64(&s, INT64_MAX, &tab, &err) == 0);
	CU_ASSERT(pl_xsum_add_i64(&s, INT64_MIN, &tab, &err) == 0);
	CU_ASSERT(pl_xsum_value(&s, &tab) == (double)INT64_MAX - 1);
	CU_ASSERT(pl_xsum_add_mul_i64(&s, INT64_MIN, INT64_MIN, &tab, &err) ==
		  0);
	CU_ASSERT(pl_xsum_value(&s, &tab) == 0x1p126);
	/* a window cannot hold 1e300 and 1e-300: the side table takes it */
	CU_ASSERT(pl_xsum_add_f64(&t, 1e300, &tab, &err) == 0);
	CU_ASSERT(pl_xsum_add_f64(&t, 1e-300, &tab, &err) == 0);
	CU_ASSERT(t.flags & PL_XSUM_BIG);
	uint8_t buf[PL_XSUM_MAX_BYTES];
	size_t len = pl_xsum_encode(&t, &tab, buf);
	pl_xsum u;
	memset(&u, 0, sizeof(u));
	CU_ASSERT(pl_xsum_add_f64(&u, -1e300, &tab, &err) == 0);
	CU_ASSERT(pl_xsum_merge_encoded(&u, &tab, buf, len, &err) == 0);
	CU_ASSERT(pl_xsum_value(&u, &tab) == 1e-300);
	/* damaged states are refused */
	buf[1] = 200;
	CU_ASSERT(pl_xsum_merge_encoded(&u, &tab, buf, len, &err) ==
		  PL_ERR_DATA);
	CU_ASSERT(pl_xsum_merge_encoded(&u, &tab, buf, 5, &err) == PL_ERR_DATA);
	teardown();
}

static double var_of(const double *x, size_t n, int chunks)
{
	pl_xsum s1[4], s2[4];
	memset(s1, 0, sizeof(s1));
	memset(s2, 0, sizeof(s2));
	for (size_t i = 0; i < n; i++) {
		size_t c = i % (size_t)chunks;
		pl_xsum_add_f64(&s1[c], x[i], &tab, &err);
		pl_xsum_add_mul_f64(&s2[c], x[i], x[i], &tab, &err);
	}
	for (int c = chunks - 1; c > 0; c--) {
		pl_xsum_merge(&s1[0], &tab, &s1[c], &tab, &err);
		pl_xsum_merge(&s2[0], &tab, &s2[c], &tab, &err);
	}
	return pl_xsum_var((int64_t)n, &s1[0], &s2[0], &tab);
}

/* Large offsets with small spreads, where one-pass formulas in doubles
 * lose every digit; the exact sums give the variance of the stored
 * doubles rounded once. */
static void test_var_hard(void)
{
	setup();
	double a[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
	CU_ASSERT(var_of(a, 3, 1) == 1);
	CU_ASSERT(var_of(a, 3, 3) == 1);
	double b[] = {1e12 + 0.25, 1e12 + 0.5, 1e12 + 0.75, 1e12 + 0.5};
	CU_ASSERT(var_of(b, 4, 2) == 0.125 / 3);
	double c[] = {1e15, 1e15, 1e15};
	CU_ASSERT(var_of(c, 3, 2) == 0);
	double d[] = {4, 7, 13, 16};
	CU_ASSERT(var_of(d, 4, 3) == 30);
	double e[] = {1, INFINITY};
	CU_ASSERT(isnan(var_of(e, 2, 1)));
	pl_xsum sx, sy, sxx, syy, sxy;
	memset(&sx, 0, sizeof(sx));
	sy = sxx = syy = sxy = sx;
	for (int i = 0; i < 10; i++) {
		double x = 1e8 + i, y = -3.0 * (1e8 + i) + 7;
		pl_xsum_add_f64(&sx, x, &tab, &err);
		pl_xsum_add_f64(&sy, y, &tab, &err);
		pl_xsum_add_mul_f64(&sxx, x, x, &tab, &err);
		pl_xsum_add_mul_f64(&syy, y, y, &tab, &err);
		pl_xsum_add_mul_f64(&sxy, x, y, &tab, &err);
	}
	double r = 0;
	CU_ASSERT(pl_xsum_corr(10, &sx, &sy, &sxx, &syy, &sxy, &tab, &r));
	CU_ASSERT(r == -1);
	CU_ASSERT(pl_xsum_mean(&sx, &tab, 10) == 1e8 + 4.5);
	teardown();
}

/* Merging states whose windows sit at different limbs (values of
 * different magnitudes, as chunks and ranks hold them) gives exactly the
 * state one accumulator reaches: the encodings, canonical, are equal. */
static void test_merges_exact(void)
{
	setup();
	for (int round = 0; round < 2000; round++) {
		pl_xsum direct, total, part;
		memset(&direct, 0, sizeof(direct));
		memset(&total, 0, sizeof(total));
		int chunks = 1 + (int)(next() % 6);
		for (int c = 0; c < chunks; c++) {
			memset(&part, 0, sizeof(part));
			/* each chunk its own magnitude, some chunks ints */
			int e = (int)(next() % 400) - 200;
			int n = 1 + (int)(next() % 20);
			for (int i = 0; i < n; i++) {
				double m = (double)(next() >> 11) * 0x1p-53;
				double v = ldexp(m, e + (int)(next() % 9) - 4);
				if (next() % 3 == 0)
					v = -v;
				if (c % 3 == 2) {
					int64_t k = (int64_t)(next() >> 1) >>
						    (next() % 60);
					CU_ASSERT_FATAL(
					    pl_xsum_add_i64(&part, k, &tab,
							    &err) == 0);
					pl_xsum_add_i64(&direct, k, &tab, &err);
					continue;
				}
				CU_ASSERT_FATAL(
				    pl_xsum_add_f64(&part, v, &tab, &err) == 0);
				pl_xsum_add_f64(&direct, v, &tab, &err);
			}
			CU_ASSERT_FATAL(pl_xsum_merge(&total, &tab, &part, &tab,
						      &err) == 0);
		}
		uint8_t a[PL_XSUM_MAX_BYTES], b[PL_XSUM_MAX_BYTES];
		size_t la = pl_xsum_encode(&direct, &tab, a);
		size_t lb = pl_xsum_encode(&total, &tab, b);
		CU_ASSERT(la == lb && memcmp(a, b, la) == 0);
	}
	teardown();
}

static const pl_test tests[] = {
    {"orders_and_merges_agree", test_orders_and_merges_agree},
    {"hard_cases", test_hard_cases},
    {"int_and_big_states", test_int_and_big_states},
    {"var_hard", test_var_hard},
    {"merges_exact", test_merges_exact},
    {NULL, NULL}};

PL_TEST_MAIN("exact_sum", tests)

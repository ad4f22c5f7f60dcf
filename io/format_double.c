/* Doubles in the shortest form that reads back the same, laid out as
 * Python's repr(float) does.
 *
 * If some decimal of k <= 15 significant digits reads back as v, it lies
 * within half an ulp of v, far closer than half a unit of the 15th digit,
 * so rounding v to 15 digits and dropping trailing zeros finds it. Past
 * that, 16 digits are tried and 17 always read back. v is printed once,
 * to 17 digits, and the shorter roundings are made from those digits. At a
 * power of two the gap below v is half the gap above, so the nearest 16-digit
 * decimal may fall short below v while the next one up reads back: that one is
 * tried too. Subnormals, with fewer significant bits, try every precision.
 *
 * Most values need at most 15 digits, and those take a fast path with no
 * printing and no strtod: with v scaled by an exact power of ten 10^s
 * into [1e14, 1e15), t = v * 10^s is off the exact product by under 0.12
 * and the wanted 15-digit decimal r (when one exists) lies within 0.12 of
 * the exact product too, so r is t rounded to the nearest integer. Whether
 * r reads back as v is decided exactly: r < 2^53 and 10^s <= 10^22 are
 * exact doubles, so r / 10^s is the correctly rounded value of the decimal,
 * as strtod would give. If it reads back, its trailing zeros stripped, it
 * is the shortest form (a shorter one would be a grid point at this scale
 * too, and only one lies within 0.24 of t), and the only one of its length
 * (15-digit decimals lie 1e-15 apart relatively, an ulp spans 2.2e-16). */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv_encode.h"
#include "io/csv_writer.h"

typedef struct decimal {
	char d[24]; /* significant digits */
	int nd;
	int exp; /* d[0] sits at 10^exp */
} decimal;

/* Reads "D.DDDDe+XX" as printed by %e. */
static void parse_e(const char *s, decimal *out)
{
	int nd = 0;
	for (; *s != 'e'; s++)
		if (*s != '.')
			out->d[nd++] = *s;
	out->exp = atoi(s + 1);
	out->nd = nd;
}

static void strip_zeros(decimal *d)
{
	while (d->nd > 1 && d->d[d->nd - 1] == '0')
		d->nd--;
}

/* Reads d back, printed as "D.DDDe-XXX" by hand: this runs for every
 * value written, and snprintf would cost as much as the strtod. */
static double value_of(const decimal *d)
{
	char s[40], *p = s;
	*p++ = d->d[0];
	*p++ = '.';
	memcpy(p, d->d + 1, (size_t)d->nd - 1);
	p += d->nd - 1;
	*p++ = 'e';
	int e = d->exp;
	if (e < 0) {
		*p++ = '-';
		e = -e;
	}
	*p++ = (char)('0' + e / 100);
	*p++ = (char)('0' + e / 10 % 10);
	*p++ = (char)('0' + e % 10);
	*p = '\0';
	return strtod(s, NULL);
}

/* Adds one unit in the last digit. */
static void bump(decimal *d)
{
	int i = d->nd - 1;
	while (i >= 0 && d->d[i] == '9')
		d->d[i--] = '0';
	if (i >= 0) {
		d->d[i]++;
	} else {
		d->d[0] = '1';
		d->exp++;
	}
}

/* v rounded to k digits, taken from its 17-digit form d17 when the digits
 * dropped are not exactly a half (there d17 may itself be rounded, so v
 * is printed again). */
static void nearest(double v, const decimal *d17, int k, decimal *out)
{
	int half = d17->d[k] == '5';
	for (int i = k + 1; i < d17->nd && half; i++)
		half = d17->d[i] == '0';
	if (half) {
		char s[40];
		snprintf(s, sizeof(s), "%.*e", k - 1, v);
		parse_e(s, out);
		return;
	}
	*out = *d17;
	out->nd = k;
	if (d17->d[k] >= '5')
		bump(out);
}

static int is_power_of_two(double v)
{
	int e;
	return frexp(v, &e) == 0.5;
}

static void shortest_subnormal(double v, decimal *out)
{
	char s[40];
	for (int prec = 0; prec <= 16; prec++) {
		snprintf(s, sizeof(s), "%.*e", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	parse_e(s, out);
}

static const double pow10_tab[] = {
    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,  1e8,  1e9,	1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define MAX_SCALE 22

/* floor(log10(2^e)) for v's binary exponent e, a guess at its decimal
 * exponent that is right or one short (78913 / 2^18 is log10(2) to
 * within 3e-8, far closer than any e in range needs). */
static int decimal_exponent_guess(double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	int e2 = (int)((bits >> 52) & 0x7ff) - 1023;
	if (e2 >= 0)
		return (e2 * 78913) >> 18;
	return -((-e2 * 78913 + (1 << 18) - 1) >> 18);
}

static const char pairs[] = "00010203040506070809"
			    "10111213141516171819"
			    "20212223242526272829"
			    "30313233343536373839"
			    "40414243444546474849"
			    "50515253545556575859"
			    "60616263646566676869"
			    "70717273747576777879"
			    "80818283848586878889"
			    "90919293949596979899";

/* Writes the 8 digits of u < 10^8, two at a time. */
static void put_digits8(char *p, uint32_t u)
{
	for (int i = 6; i >= 0; i -= 2) {
		memcpy(p + i, pairs + 2 * (u % 100), 2);
		u /= 100;
	}
}

/* The 15 digits of 10^14 <= r < 10^15. */
static void digits15(uint64_t r, decimal *out)
{
	char tmp[16];
	put_digits8(tmp, (uint32_t)(r / 100000000));
	put_digits8(tmp + 8, (uint32_t)(r % 100000000));
	memcpy(out->d, tmp + 1, 15);
	out->nd = 15;
}

/* The fast path (see the top): false when v needs 16 or 17 digits or
 * lies outside the scales with exact powers of ten. */
static bool shortest_short(double v, decimal *out)
{
	int s = 14 - decimal_exponent_guess(v);
	if (s < 1 || s > MAX_SCALE)
		return false;
	double t = v * pow10_tab[s];
	if (t >= 1e15) {
		s--;
		t = v * pow10_tab[s];
	}
	if (t < 1e14 || t >= 1e15)
		return false;
	uint64_t r = (uint64_t)(t + 0.5); /* exact: ulp(t) <= 1/8 */
	if (r >= (uint64_t)1e15 || (double)r / pow10_tab[s] != v)
		return false;
	digits15(r, out);
	out->exp = 14 - s;
	return true;
}

static void shortest_normal(double v, decimal *out, bool fast)
{
	if (fast && shortest_short(v, out))
		return;
	char s[40];
	decimal d17 = {0};
	snprintf(s, sizeof(s), "%.16e", v);
	parse_e(s, &d17);
	nearest(v, &d17, 15, out);
	if (value_of(out) == v)
		return;
	nearest(v, &d17, 16, out);
	double got = value_of(out);
	if (got == v)
		return;
	if (is_power_of_two(v) && got < v) {
		bump(out);
		if (value_of(out) == v)
			return;
	}
	*out = d17;
}

static void shortest(double v, decimal *out, bool fast)
{
	if (v < DBL_MIN)
		shortest_subnormal(v, out);
	else
		shortest_normal(v, out, fast);
	strip_zeros(out);
}

static size_t put_zeros(char *p, int n)
{
	if (n <= 0)
		return 0;
	memset(p, '0', (size_t)n);
	return (size_t)n;
}

/* "e+XX" or "e-XXX", at least two digits, as %+03d would write. */
static char *put_exponent(char *p, int e)
{
	*p++ = 'e';
	*p++ = e < 0 ? '-' : '+';
	e = abs(e);
	if (e >= 100)
		*p++ = (char)('0' + e / 100);
	*p++ = (char)('0' + e / 10 % 10);
	*p++ = (char)('0' + e % 10);
	return p;
}

/* Python switches to scientific notation outside 1e-4 <= |v| < 1e16. */
static size_t layout(const decimal *d, char *p)
{
	char *start = p;
	if (d->exp < -4 || d->exp >= 16) {
		*p++ = d->d[0];
		if (d->nd > 1) {
			*p++ = '.';
			memcpy(p, d->d + 1, (size_t)d->nd - 1);
			p += d->nd - 1;
		}
		return (size_t)(put_exponent(p, d->exp) - start);
	}
	if (d->exp < 0) {
		memcpy(p, "0.", 2);
		p += 2;
		p += put_zeros(p, -d->exp - 1);
		memcpy(p, d->d, (size_t)d->nd);
		return (size_t)(p + d->nd - start);
	}
	int whole = d->exp + 1;
	int head = d->nd < whole ? d->nd : whole;
	memcpy(p, d->d, (size_t)head);
	p += head;
	p += put_zeros(p, whole - d->nd);
	*p++ = '.';
	if (d->nd > whole) {
		memcpy(p, d->d + whole, (size_t)(d->nd - whole));
		p += d->nd - whole;
	} else {
		*p++ = '0';
	}
	return (size_t)(p - start);
}

/* Integral values below 1e16 are common (counts stored as float) and
 * need no search. */
static size_t format_integral(double a, char *p)
{
	char tmp[24];
	int n = 0;
	uint64_t u = (uint64_t)a;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	for (int i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	memcpy(p + n, ".0", 2);
	return (size_t)n + 2;
}

static size_t format(double v, char *buf, bool fast)
{
	size_t n = 0;
	if (isnan(v)) {
		memcpy(buf, "nan", 4);
		return 3;
	}
	if (signbit(v))
		buf[n++] = '-';
	double a = fabs(v);
	if (isinf(a)) {
		memcpy(buf + n, "inf", 4);
		return n + 3;
	}
	if (a < 1e16 && a == floor(a)) {
		n += format_integral(a, buf + n);
	} else {
		decimal d;
		shortest(a, &d, fast);
		n += layout(&d, buf + n);
	}
	buf[n] = '\0';
	return n;
}

size_t pl_format_double(double v, char *buf)
{
	return format(v, buf, true);
}

size_t pl_format_double_reference(double v, char *buf)
{
	return format(v, buf, false);
}

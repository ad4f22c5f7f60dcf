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
 * tried too. Subnormals, with fewer significant bits, try every precision. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void shortest_normal(double v, decimal *out)
{
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

static void shortest(double v, decimal *out)
{
	if (v < DBL_MIN)
		shortest_subnormal(v, out);
	else
		shortest_normal(v, out);
	strip_zeros(out);
}

static size_t put_zeros(char *p, int n)
{
	if (n <= 0)
		return 0;
	memset(p, '0', (size_t)n);
	return (size_t)n;
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
		p += sprintf(p, "e%c%02d", d->exp < 0 ? '-' : '+', abs(d->exp));
		return (size_t)(p - start);
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

size_t pl_format_double(double v, char *buf)
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
		shortest(a, &d);
		n += layout(&d, buf + n);
	}
	buf[n] = '\0';
	return n;
}

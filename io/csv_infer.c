#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/csv_infer.h"
#include "pipeline/datetime.h"

/* Up to 18 digits cannot overflow a uint64 nor, with a sign, an int64:
 * the common case takes no overflow check per digit. */
#define SAFE_DIGITS 18

bool pl_csv_parse_i64(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len || (s[i] == '0' && len - i > 1))
		return false;
	uint64_t v = 0;
	if (len - i <= SAFE_DIGITS) {
		for (; i < len; i++) {
			unsigned d = (unsigned)(uint8_t)s[i] - '0';
			if (d > 9)
				return false;
			v = v * 10 + d;
		}
	} else {
		uint64_t limit =
		    neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (; i < len; i++) {
			unsigned d = (unsigned)(uint8_t)s[i] - '0';
			if (d > 9 || v > (limit - d) / 10)
				return false;
			v = v * 10 + d;
		}
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool parse_special(const char *s, size_t len, double *out)
{
	double sign = 1;
	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		sign = s[0] == '-' ? -1 : 1;
		s++;
		len--;
	}
	if (len == 3 && strncasecmp(s, "nan", 3) == 0)
		*out = NAN;
	else if ((len == 3 && strncasecmp(s, "inf", 3) == 0) ||
		 (len == 8 && strncasecmp(s, "infinity", 8) == 0))
		*out = sign * INFINITY;
	else
		return false;
	return true;
}

static const double pow10_tab[] = {
    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,  1e8,  1e9,	1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Significant digits of a number: up to 19 are kept in m; more only mark
 * the value as not exactly representable by the fast path. */
typedef struct digits {
	uint64_t m;
	int sig;
	int scale; /* fraction digits taken into m (or skipped as zeros) */
	size_t count;
	bool lost;
} digits;

static size_t take_digits(const char *s, size_t i, size_t len, digits *d,
			  bool frac)
{
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		d->count++;
		if (d->m == 0 && s[i] == '0') {
			d->scale += frac;
		} else if (d->sig < 19) {
			d->m = d->m * 10 + (uint64_t)(s[i] - '0');
			d->sig++;
			d->scale += frac;
		} else {
			d->lost = true;
		}
	}
	return i;
}

/* Checks the grammar; gives the mantissa and decimal exponent, with
 * *exact set when one IEEE operation computes the value exactly rounded
 * (mantissa below 2^53, power of ten exact in a double). */
static bool scan_number(const char *s, size_t len, uint64_t *mant, int *exp10,
			bool *exact)
{
	size_t i = s[0] == '-' || s[0] == '+';
	digits d = {0, 0, 0, 0, false};
	if (i + 1 < len && s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9')
		return false;
	i = take_digits(s, i, len, &d, false);
	if (i < len && s[i] == '.')
		i = take_digits(s, i + 1, len, &d, true);
	if (d.count == 0)
		return false;
	long e = 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = i + 1 < len && s[i + 1] == '-';
		i += 1 + (i + 1 < len && (s[i + 1] == '-' || s[i + 1] == '+'));
		if (i == len)
			return false;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
		e = eneg ? -e : e;
	}
	if (i != len)
		return false;
	*mant = d.m;
	*exp10 = (int)(e - d.scale);
	*exact = !d.lost && d.sig <= 15 && *exp10 >= -22 && *exp10 <= 22;
	return true;
}

/* Plain decimals, [+-]?(0|[1-9][0-9]*)(\.[0-9]*)? with at most 19
 * digits, are most of the data: their digits go straight into an integer
 * m; when m < 2^53 and at most 22 of them follow the point, m / 10^k is
 * one correctly rounded IEEE division of exact operands, the same value
 * strtod gives. Returns false for anything else, left to the full path. */
static bool parse_plain(const char *s, size_t len, double *out)
{
	size_t i = s[0] == '-' || s[0] == '+';
	size_t head = i, point = len;
	uint64_t m = 0;
	if (len - i > 19) /* 19 digits at most, or m may overflow */
		return false;
	for (; i < len; i++) {
		unsigned d = (unsigned)(uint8_t)s[i] - '0';
		if (d <= 9)
			m = m * 10 + d;
		else if (s[i] == '.' && point == len)
			point = i;
		else
			return false;
	}
	size_t whole = (point < len ? point : len) - head;
	if (whole == 0 || (s[head] == '0' && whole > 1))
		return false;
	size_t frac = point < len ? len - point - 1 : 0;
	if (m > (uint64_t)1 << 53 || frac > 22)
		return false;
	double v = (double)m / pow10_tab[frac];
	*out = s[0] == '-' ? -v : v;
	return true;
}

bool pl_csv_parse_f64(const char *s, size_t len, double *out)
{
	if (len > 0 && parse_plain(s, len, out))
		return true;
	uint64_t m;
	int e;
	bool exact;
	if (len == 0)
		return false;
	if (!scan_number(s, len, &m, &e, &exact))
		return parse_special(s, len, out);
	if (exact) {
		double v = (double)m;
		v = e < 0 ? v / pow10_tab[-e] : v * pow10_tab[e];
		*out = s[0] == '-' ? -v : v;
		return true;
	}
	char tmp[128];
	char *t = len < sizeof(tmp) ? tmp : malloc(len + 1);
	if (t == NULL)
		return false;
	memcpy(t, s, len);
	t[len] = '\0';
	*out = strtod(t, NULL);
	if (t != tmp)
		free(t);
	return true;
}

bool pl_csv_parse_bool(const char *s, size_t len, uint8_t *out)
{
	if (len == 4 && strncasecmp(s, "true", 4) == 0)
		*out = 1;
	else if (len == 5 && strncasecmp(s, "false", 5) == 0)
		*out = 0;
	else
		return false;
	return true;
}

int pl_csv_parse_time(pl_type t, const char *fmt, const char *s, size_t len,
		      int64_t *out)
{
	int64_t us;
	if (fmt != NULL && pl_parse_time_format(s, len, fmt, &us) == 0) {
		*out = t == PL_DATE ? pl_floor_div(us, PL_US_PER_DAY) : us;
		return *out < -PL_DATE_MAX_DAYS && t == PL_DATE ? PL_TIME_RANGE
								: 0;
	}
	return t == PL_DATE ? pl_parse_date(s, len, out)
			    : pl_parse_timestamp(s, len, out);
}

/* A value a date column takes: ISO, or the format when it has no time. */
static bool is_date(const pl_csv_infer *t, const char *s, size_t len)
{
	int64_t v;
	if (t->time_format != NULL &&
	    !pl_time_format_has_time(t->time_format) &&
	    pl_parse_time_format(s, len, t->time_format, &v) == 0)
		return true;
	return pl_parse_date(s, len, &v) == 0;
}

void pl_csv_infer_init(pl_csv_infer *t, const char *time_format)
{
	t->time_format = time_format;
	t->all_date = t->all_ts = true;
	t->all_int = t->all_num = t->all_bool = true;
	t->any_value = t->any_num = false;
}

void pl_csv_infer_add(pl_csv_infer *t, const char *s, size_t len)
{
	int64_t i;
	double d;
	uint8_t b;
	uint64_t m;
	int e;
	bool exact;
	t->any_value = true;
	if (t->all_int && !pl_csv_parse_i64(s, len, &i))
		t->all_int = false;
	if (t->all_num) {
		bool num = len > 0 && scan_number(s, len, &m, &e, &exact);
		t->any_num |= num;
		if (!num && !parse_special(s, len, &d))
			t->all_num = false;
	}
	if (t->all_bool && !pl_csv_parse_bool(s, len, &b))
		t->all_bool = false;
	/* Digits alone are numbers; the cheap test keeps the common numeric
	 * column from paying for date parsing. */
	if (t->all_date && (t->all_num || !is_date(t, s, len)))
		t->all_date = false;
	if (t->all_ts &&
	    (t->all_num ||
	     pl_csv_parse_time(PL_TIMESTAMP, t->time_format, s, len, &i) != 0))
		t->all_ts = false;
}

pl_type pl_csv_infer_type(const pl_csv_infer *t)
{
	if (!t->any_value)
		return PL_STRING;
	if (t->all_int)
		return PL_INT64;
	if (t->all_num && t->any_num)
		return PL_FLOAT64;
	if (t->all_date)
		return PL_DATE;
	if (t->all_ts)
		return PL_TIMESTAMP;
	if (t->all_bool)
		return PL_BOOL;
	return PL_STRING;
}

/* Calendar arithmetic and ISO 8601 text. The day-count conversions are
 * Howard Hinnant's civil-from-days algorithms: exact over the whole
 * proleptic Gregorian calendar, no tables, no time zone. */
#include <string.h>

#include "pipeline/datetime.h"

int pl_is_leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int pl_days_in_month(int64_t year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	return month == 2 && pl_is_leap_year(year) ? 29 : days[month - 1];
}

int64_t pl_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void pl_civil_from_days(int64_t z, pl_civil *c)
{
	int64_t days = z;
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	memset(c, 0, sizeof(*c));
	c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = yoe + era * 400 + (c->month <= 2);
	c->yday = (int)(days - pl_days_from_civil(c->year, 1, 1)) + 1;
	/* 1970-01-01 was a Thursday (ISO 4). */
	c->wday = (int)((days % 7 + 7 + 3) % 7) + 1;
}

void pl_civil_from_us(int64_t us, pl_civil *c)
{
	/* No days * PL_US_PER_DAY: near INT64_MIN that would overflow. */
	int64_t days = us / PL_US_PER_DAY, rest = us % PL_US_PER_DAY;
	if (rest < 0) {
		rest += PL_US_PER_DAY;
		days--;
	}
	pl_civil_from_days(days, c);
	c->usec = (int)(rest % PL_US_PER_SEC);
	rest /= PL_US_PER_SEC;
	c->sec = (int)(rest % 60);
	c->min = (int)(rest / 60 % 60);
	c->hour = (int)(rest / 3600);
}

/* Exactly k digits at s[*p]; returns the value or -1. */
static int64_t digits(const char *s, size_t n, size_t *p, int k)
{
	int64_t v = 0;
	if (*p + (size_t)k > n)
		return -1;
	for (int i = 0; i < k; i++) {
		char ch = s[*p + (size_t)i];
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
	}
	*p += (size_t)k;
	return v;
}

/* YYYY-MM-DD at s[*p]; a sign allows 4 to 6 year digits. */
static int parse_ymd(const char *s, size_t n, size_t *p, int64_t *days)
{
	int neg = 0, k = 4;
	if (*p < n && (s[*p] == '+' || s[*p] == '-')) {
		neg = s[(*p)++] == '-';
		while (k < 6 && *p + (size_t)k < n &&
		       s[*p + (size_t)k] >= '0' && s[*p + (size_t)k] <= '9')
			k++;
	}
	int64_t y = digits(s, n, p, k);
	if (y < 0 || *p >= n || s[(*p)++] != '-')
		return PL_TIME_BAD;
	int64_t m = digits(s, n, p, 2);
	if (m < 0 || *p >= n || s[(*p)++] != '-')
		return PL_TIME_BAD;
	int64_t d = digits(s, n, p, 2);
	if (d < 0)
		return PL_TIME_BAD;
	y = neg ? -y : y;
	if (m < 1 || m > 12 || d < 1 || d > pl_days_in_month(y, (int)m))
		return PL_TIME_RANGE;
	*days = pl_days_from_civil(y, (int)m, (int)d);
	return 0;
}

int pl_parse_date(const char *s, size_t n, int64_t *days)
{
	size_t p = 0;
	int rc = parse_ymd(s, n, &p, days);
	if (rc == 0 && p != n)
		rc = PL_TIME_BAD;
	if (rc == 0 && (*days > PL_DATE_MAX_DAYS || *days < -PL_DATE_MAX_DAYS))
		rc = PL_TIME_RANGE;
	return rc;
}

/* `.digits` or `,digits`: microseconds, further digits cut. */
static int parse_fraction(const char *s, size_t n, size_t *p, int64_t *usec)
{
	*usec = 0;
	if (*p >= n || (s[*p] != '.' && s[*p] != ','))
		return 0;
	(*p)++;
	int k = 0;
	int64_t scale = 100000;
	for (; *p < n && s[*p] >= '0' && s[*p] <= '9'; (*p)++, k++) {
		*usec += (s[*p] - '0') * scale;
		scale /= 10;
	}
	return k > 0 ? 0 : PL_TIME_BAD;
}

/* Z, or a sign and HH, HHMM, HH:MM or HH:MM:SS (PostgreSQL writes
 * historical offsets in seconds); the offset east of UTC in seconds. */
static int parse_zone(const char *s, size_t n, size_t *p, int64_t *east)
{
	*east = 0;
	if (*p < n && (s[*p] == 'Z' || s[*p] == 'z')) {
		(*p)++;
		return 0;
	}
	if (*p >= n || (s[*p] != '+' && s[*p] != '-'))
		return PL_TIME_BAD;
	int neg = s[(*p)++] == '-';
	int64_t h = digits(s, n, p, 2), m = 0;
	if (h < 0)
		return PL_TIME_BAD;
	if (*p < n && s[*p] == ':')
		(*p)++;
	if (*p < n)
		m = digits(s, n, p, 2);
	int64_t sec = 0;
	if (m >= 0 && *p < n && s[*p] == ':') {
		(*p)++;
		sec = digits(s, n, p, 2);
	}
	if (m < 0 || sec < 0)
		return PL_TIME_BAD;
	if (h > 23 || m > 59 || sec > 59)
		return PL_TIME_RANGE;
	*east = (neg ? -1 : 1) * (h * 3600 + m * 60 + sec);
	return 0;
}

/* Days plus a time of day and offset, checked against the int64 range. */
static int to_us(int64_t days, int64_t secs, int64_t usec, int64_t east,
		 int64_t *us)
{
	/* Before 1970 the day's start may be below INT64_MIN while the
	 * instant is not: count from the next day's start instead. */
	int64_t t, rest = (secs - east) * PL_US_PER_SEC + usec;
	if (days < 0) {
		days++;
		rest -= PL_US_PER_DAY;
	}
	if (__builtin_mul_overflow(days, PL_US_PER_DAY, &t) ||
	    __builtin_add_overflow(t, rest, us))
		return PL_TIME_RANGE;
	return 0;
}

static int parse_hms(const char *s, size_t n, size_t *p, int64_t *secs,
		     int64_t *usec)
{
	int64_t h = digits(s, n, p, 2), m = -1, sec = 0;
	if (h >= 0 && *p < n && s[*p] == ':' && (++*p, 1))
		m = digits(s, n, p, 2);
	if (m < 0)
		return PL_TIME_BAD;
	if (*p < n && s[*p] == ':') {
		(*p)++;
		sec = digits(s, n, p, 2);
		if (sec < 0 || parse_fraction(s, n, p, usec) != 0)
			return PL_TIME_BAD;
	}
	if (h > 23 || m > 59 || sec > 59)
		return PL_TIME_RANGE;
	*secs = h * 3600 + m * 60 + sec;
	return 0;
}

int pl_parse_timestamp(const char *s, size_t n, int64_t *us)
{
	size_t p = 0;
	int64_t days, secs = 0, usec = 0, east = 0;
	int rc = parse_ymd(s, n, &p, &days);
	if (rc == 0 && p < n) {
		if (s[p] != 'T' && s[p] != 't' && s[p] != ' ')
			return PL_TIME_BAD;
		p++;
		rc = parse_hms(s, n, &p, &secs, &usec);
		if (rc == 0 && p < n)
			rc = parse_zone(s, n, &p, &east);
		if (rc == 0 && p != n)
			rc = PL_TIME_BAD;
	}
	return rc != 0 ? rc : to_us(days, secs, usec, east, us);
}

/* Writes v in at least width digits; returns the length. */
static size_t put_num(char *buf, int64_t v, int width)
{
	char tmp[24];
	int k = 0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0 || k < width);
	size_t len = 0;
	if (v < 0)
		buf[len++] = '-';
	while (k > 0)
		buf[len++] = tmp[--k];
	return len;
}

static size_t put_year(char *buf, int64_t y)
{
	if (y > 9999) {
		buf[0] = '+';
		return 1 + put_num(buf + 1, y, 4);
	}
	return put_num(buf, y, 4);
}

static size_t put_ymd(char *buf, const pl_civil *c)
{
	size_t len = put_year(buf, c->year);
	buf[len++] = '-';
	len += put_num(buf + len, c->month, 2);
	buf[len++] = '-';
	return len + put_num(buf + len, c->day, 2);
}

size_t pl_format_date(int64_t days, char *buf)
{
	pl_civil c;
	pl_civil_from_days(days, &c);
	return put_ymd(buf, &c);
}

size_t pl_format_timestamp(int64_t us, char *buf)
{
	pl_civil c;
	pl_civil_from_us(us, &c);
	size_t len = put_ymd(buf, &c);
	buf[len++] = 'T';
	len += put_num(buf + len, c.hour, 2);
	buf[len++] = ':';
	len += put_num(buf + len, c.min, 2);
	buf[len++] = ':';
	len += put_num(buf + len, c.sec, 2);
	if (c.usec != 0) {
		int width = 6, f = c.usec;
		while (f % 10 == 0)
			f /= 10, width--;
		buf[len++] = '.';
		len += put_num(buf + len, f, width);
	}
	buf[len++] = 'Z';
	return len;
}

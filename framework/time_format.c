/* strftime-style formats, parsed and written by hand: the C library's
 * strptime and strftime follow the locale and the TZ variable, and a job
 * must give the same answer on every machine. */
#include <stdio.h>
#include <string.h>

#include "pipeline/datetime.h"

static const char *const month_names[] = {
    "january", "february", "march",	"april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
static const char *const day_names[] = {"monday",   "tuesday", "wednesday",
					"thursday", "friday",  "saturday",
					"sunday"};

static const char *const directives = "YymdejHIpMSfzZbhBaAuwsTFDR%";

int pl_time_format_check(const char *fmt, char *why, size_t cap)
{
	for (const char *f = fmt; *f; f++) {
		if (*f != '%')
			continue;
		if (f[1] == '\0' || strchr(directives, f[1]) == NULL) {
			snprintf(why, cap, "unknown directive '%%%.1s' in '%s'",
				 f + 1, fmt);
			return PL_TIME_BAD;
		}
		f++;
	}
	return 0;
}

int pl_time_format_has_time(const char *fmt)
{
	for (const char *f = fmt; *f; f++)
		if (*f == '%' && f[1] != '\0' && strchr("HIMSfszTR", *++f))
			return 1;
	return 0;
}

/* The fields a parse fills. */
typedef struct parsed {
	int64_t year, epoch;
	int month, day, yday, hour, min, sec, usec, pm, east;
	int has_yday, has_epoch, h12;
} parsed;

typedef struct cursor {
	const char *s;
	size_t n, p;
} cursor;

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Up to max digits (at least one), optionally signed. */
static int num(cursor *c, int max, int sign, int64_t *out)
{
	int neg = 0, k = 0;
	if (sign && c->p < c->n && (c->s[c->p] == '-' || c->s[c->p] == '+'))
		neg = c->s[c->p++] == '-';
	int64_t v = 0;
	while (k < max && c->p < c->n && c->s[c->p] >= '0' &&
	       c->s[c->p] <= '9') {
		v = v * 10 + (c->s[c->p++] - '0');
		k++;
	}
	*out = neg ? -v : v;
	return k > 0 ? 0 : PL_TIME_BAD;
}

static int num_in(cursor *c, int max, int lo, int hi, int *out)
{
	int64_t v;
	if (num(c, max, 0, &v) != 0)
		return PL_TIME_BAD;
	if (v < lo || v > hi)
		return PL_TIME_RANGE;
	*out = (int)v;
	return 0;
}

/* A full or three-letter English name from names[0..count), any case. */
static int name(cursor *c, const char *const *names, int count, int *out)
{
	for (int i = 0; i < count; i++) {
		size_t full = strlen(names[i]), k = 0;
		while (k < full && c->p + k < c->n &&
		       lower((unsigned char)c->s[c->p + k]) == names[i][k])
			k++;
		if (k == full || k == 3) {
			c->p += k;
			*out = i + 1;
			return 0;
		}
	}
	return PL_TIME_BAD;
}

static int zone(cursor *c, int *east)
{
	if (c->p < c->n && (c->s[c->p] == 'Z' || c->s[c->p] == 'z')) {
		c->p++;
		*east = 0;
		return 0;
	}
	if (c->p >= c->n || (c->s[c->p] != '+' && c->s[c->p] != '-'))
		return PL_TIME_BAD;
	int neg = c->s[c->p++] == '-', h, m = 0;
	int64_t v;
	size_t start = c->p;
	if (num(c, 2, 0, &v) != 0 || c->p - start != 2)
		return PL_TIME_BAD;
	h = (int)v;
	if (c->p < c->n && c->s[c->p] == ':')
		c->p++;
	if (c->p < c->n && c->s[c->p] >= '0' && c->s[c->p] <= '9' &&
	    num_in(c, 2, 0, 59, &m) != 0)
		return PL_TIME_RANGE;
	if (h > 23)
		return PL_TIME_RANGE;
	*east = (neg ? -1 : 1) * (h * 3600 + m * 60);
	return 0;
}

static int fraction(cursor *c, int *usec)
{
	int k = 0, scale = 100000;
	*usec = 0;
	for (; c->p < c->n && c->s[c->p] >= '0' && c->s[c->p] <= '9'; k++) {
		*usec += (c->s[c->p++] - '0') * scale;
		scale /= 10;
	}
	return k > 0 ? 0 : PL_TIME_BAD;
}

static int literal(cursor *c, const char *text)
{
	size_t len = strlen(text);
	if (c->p + len > c->n || memcmp(c->s + c->p, text, len) != 0)
		return PL_TIME_BAD;
	c->p += len;
	return 0;
}

static int parse_with(cursor *c, const char *fmt, parsed *t);

static int directive(cursor *c, char d, parsed *t)
{
	int64_t v;
	int ignored;
	switch (d) {
	case 'Y':
		return num(c, 6, 1, &t->year);
	case 'y':
		if (num(c, 2, 0, &v) != 0)
			return PL_TIME_BAD;
		t->year = v < 69 ? 2000 + v : 1900 + v;
		return 0;
	case 'm':
		return num_in(c, 2, 1, 12, &t->month);
	case 'e':
		while (c->p < c->n && c->s[c->p] == ' ')
			c->p++;
		return num_in(c, 2, 1, 31, &t->day);
	case 'd':
		return num_in(c, 2, 1, 31, &t->day);
	case 'j':
		t->has_yday = 1;
		return num_in(c, 3, 1, 366, &t->yday);
	case 'H':
		return num_in(c, 2, 0, 23, &t->hour);
	case 'I':
		t->h12 = 1;
		return num_in(c, 2, 1, 12, &t->hour);
	case 'p':
		if (c->p + 2 > c->n ||
		    lower((unsigned char)c->s[c->p + 1]) != 'm')
			return PL_TIME_BAD;
		v = lower((unsigned char)c->s[c->p]);
		if (v != 'a' && v != 'p')
			return PL_TIME_BAD;
		t->pm = v == 'p';
		c->p += 2;
		return 0;
	case 'M':
		return num_in(c, 2, 0, 59, &t->min);
	case 'S':
		return num_in(c, 2, 0, 59, &t->sec);
	case 'f':
		return fraction(c, &t->usec);
	case 'z':
		return zone(c, &t->east);
	case 'Z':
		if (literal(c, "UTC") == 0 || literal(c, "GMT") == 0)
			return 0;
		return literal(c, "Z");
	case 'b':
	case 'h':
	case 'B':
		return name(c, month_names, 12, &t->month);
	case 'a':
	case 'A':
		return name(c, day_names, 7, &ignored);
	case 'u':
		return num_in(c, 1, 1, 7, &ignored);
	case 'w':
		return num_in(c, 1, 0, 6, &ignored);
	case 's':
		t->has_epoch = 1;
		return num(c, 18, 1, &t->epoch);
	case 'T':
		return parse_with(c, "%H:%M:%S", t);
	case 'F':
		return parse_with(c, "%Y-%m-%d", t);
	case 'D':
		return parse_with(c, "%m/%d/%y", t);
	case 'R':
		return parse_with(c, "%H:%M", t);
	default:
		return literal(c, "%");
	}
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int parse_with(cursor *c, const char *fmt, parsed *t)
{
	for (const char *f = fmt; *f; f++) {
		int rc = 0;
		if (*f == '%') {
			rc = directive(c, *++f, t);
		} else if (is_blank(*f)) {
			while (c->p < c->n && is_blank(c->s[c->p]))
				c->p++;
		} else if (c->p < c->n && c->s[c->p] == *f) {
			c->p++;
		} else {
			rc = PL_TIME_BAD;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int assemble(const parsed *t, int64_t *us)
{
	if (t->has_epoch) /* %s, and %f if given */
		return __builtin_mul_overflow(t->epoch, PL_US_PER_SEC, us) ||
			       __builtin_add_overflow(*us, t->usec, us)
			   ? PL_TIME_RANGE
			   : 0;
	if (t->year < -290000 || t->year > 290000)
		return PL_TIME_RANGE;
	int64_t days;
	if (t->has_yday) {
		if (t->yday > 365 + pl_is_leap_year(t->year))
			return PL_TIME_RANGE;
		days = pl_days_from_civil(t->year, 1, 1) + t->yday - 1;
	} else {
		if (t->day > pl_days_in_month(t->year, t->month))
			return PL_TIME_RANGE;
		days = pl_days_from_civil(t->year, t->month, t->day);
	}
	int hour = t->h12 ? t->hour % 12 + 12 * t->pm : t->hour;
	int64_t secs = hour * 3600 + t->min * 60 + t->sec - t->east, day_us;
	int64_t rest = secs * PL_US_PER_SEC + t->usec;
	if (days < 0) { /* as in datetime.c: stay within int64 */
		days++;
		rest -= PL_US_PER_DAY;
	}
	if (__builtin_mul_overflow(days, PL_US_PER_DAY, &day_us) ||
	    __builtin_add_overflow(day_us, rest, us))
		return PL_TIME_RANGE;
	return 0;
}

int pl_parse_time_format(const char *s, size_t n, const char *fmt, int64_t *us)
{
	parsed t;
	memset(&t, 0, sizeof(t));
	t.year = 1970;
	t.month = t.day = 1;
	cursor c = {s, n, 0};
	int rc = parse_with(&c, fmt, &t);
	if (rc == 0 && c.p != n)
		rc = PL_TIME_BAD;
	return rc != 0 ? rc : assemble(&t, us);
}

/* Output: a bounded buffer that remembers running out. */
typedef struct out {
	char *buf;
	size_t cap, len;
	int full;
} out;

static void put(out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_int(out *o, int64_t v, int width)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), "%0*lld", width, (long long)v);
	put(o, tmp, (size_t)k);
}

static void put_name(out *o, const char *nm, int abbrev)
{
	char tmp[16];
	size_t len = abbrev ? 3 : strlen(nm);
	memcpy(tmp, nm, len);
	tmp[0] = (char)(tmp[0] - 32);
	put(o, tmp, len);
}

static void write_with(out *o, const pl_civil *c, int64_t us, const char *fmt);

static void write_directive(out *o, const pl_civil *c, int64_t us, char d)
{
	switch (d) {
	case 'Y':
		if (c->year > 9999 || c->year < 0)
			put(o, c->year < 0 ? "-" : "+", 1);
		put_int(o, c->year < 0 ? -c->year : c->year, 4);
		break;
	case 'y':
		put_int(o, (c->year % 100 + 100) % 100, 2);
		break;
	case 'm':
		put_int(o, c->month, 2);
		break;
	case 'd':
		put_int(o, c->day, 2);
		break;
	case 'e':
		if (c->day < 10)
			put(o, " ", 1);
		put_int(o, c->day, 1);
		break;
	case 'j':
		put_int(o, c->yday, 3);
		break;
	case 'H':
		put_int(o, c->hour, 2);
		break;
	case 'I':
		put_int(o, (c->hour + 11) % 12 + 1, 2);
		break;
	case 'p':
		put(o, c->hour < 12 ? "AM" : "PM", 2);
		break;
	case 'M':
		put_int(o, c->min, 2);
		break;
	case 'S':
		put_int(o, c->sec, 2);
		break;
	case 'f':
		put_int(o, c->usec, 6);
		break;
	case 'z':
		put(o, "+0000", 5);
		break;
	case 'Z':
		put(o, "UTC", 3);
		break;
	case 'b':
	case 'h':
	case 'B':
		put_name(o, month_names[c->month - 1], d != 'B');
		break;
	case 'a':
	case 'A':
		put_name(o, day_names[c->wday - 1], d == 'a');
		break;
	case 'u':
		put_int(o, c->wday, 1);
		break;
	case 'w':
		put_int(o, c->wday % 7, 1);
		break;
	case 's':
		put_int(o, pl_floor_div(us, PL_US_PER_SEC), 1);
		break;
	case 'T':
		write_with(o, c, us, "%H:%M:%S");
		break;
	case 'F':
		write_with(o, c, us, "%Y-%m-%d");
		break;
	case 'D':
		write_with(o, c, us, "%m/%d/%y");
		break;
	case 'R':
		write_with(o, c, us, "%H:%M");
		break;
	default:
		put(o, "%", 1);
	}
}

static void write_with(out *o, const pl_civil *c, int64_t us, const char *fmt)
{
	for (const char *f = fmt; *f && !o->full; f++) {
		if (*f == '%')
			write_directive(o, c, us, *++f);
		else
			put(o, f, 1);
	}
}

int64_t pl_format_time(int64_t us, const char *fmt, char *buf, size_t cap)
{
	pl_civil c;
	pl_civil_from_us(us, &c);
	out o = {buf, cap, 0, 0};
	write_with(&o, &c, us, fmt);
	return o.full ? -1 : (int64_t)o.len;
}

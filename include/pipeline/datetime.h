/* Dates and timestamps: calendar arithmetic, ISO 8601 and strftime-style
 * text.
 *
 * A date is int64_t days since 1970-01-01, a timestamp int64_t
 * microseconds since 1970-01-01T00:00:00Z. The calendar is the proleptic
 * Gregorian one, in UTC, without leap seconds, so that every day has
 * 86400 seconds and arithmetic never depends on a time zone or a locale.
 * Dates are kept within the days a timestamp can hold (about 290,000
 * years either side of 1970), so that every date converts to a timestamp.
 *
 * Parsers return 0, PL_TIME_BAD for text that is not a date or time, or
 * PL_TIME_RANGE for a well-formed value out of range (month 13, 30
 * February, beyond the int64 range). Nothing here allocates. */
#ifndef PIPELINE_DATETIME_H
#define PIPELINE_DATETIME_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/api.h"

PL_BEGIN_DECLS

#define PL_US_PER_SEC INT64_C(1000000)
#define PL_US_PER_DAY INT64_C(86400000000)
/* The days a timestamp can hold, and so the range of dates. */
#define PL_DATE_MAX_DAYS INT64_C(106751990)
/* Room for any value written by pl_format_date / pl_format_timestamp. */
#define PL_TIME_TEXT_MAX 48

enum { PL_TIME_BAD = -1, PL_TIME_RANGE = -2 };

/* A broken-down UTC time. */
typedef struct pl_civil {
	int64_t year;
	int month, day;	    /* 1-based */
	int hour, min, sec; /* 0-based */
	int usec;	    /* 0 .. 999999 */
	int yday;	    /* day of the year, 1 .. 366 */
	int wday;	    /* ISO day of the week, Monday 1 .. Sunday 7 */
} pl_civil;

/* a / b rounded toward minus infinity (b > 0). */
static inline int64_t pl_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return q - (a % b != 0 && a < 0);
}

/* Days since 1970-01-01 of a valid date. */
PL_API int64_t pl_days_from_civil(int64_t year, int month, int day);
/* The date of a day count (|days| within PL_DATE_MAX_DAYS or so). */
PL_API void pl_civil_from_days(int64_t days, pl_civil *c);
/* The broken-down form of a timestamp (any int64_t). */
PL_API void pl_civil_from_us(int64_t us, pl_civil *c);
PL_API int pl_is_leap_year(int64_t year);
PL_API int pl_days_in_month(int64_t year, int month);

/* ISO 8601 date `YYYY-MM-DD` (years beyond 0000..9999 as `+YYYYYY` or
 * `-YYYY`), exactly the n bytes at s. */
PL_API int pl_parse_date(const char *s, size_t n, int64_t *days);

/* ISO 8601 timestamp: a date, optionally followed by `T`, `t` or a space
 * and `HH:MM[:SS[.fraction]]`, optionally by `Z`, `+HH:MM`, `+HHMM`,
 * `+HH` or `+HH:MM:SS` (or `-`). The fraction keeps microseconds (more digits
 * are cut); the offset is subtracted to give UTC. A bare date is midnight UTC.
 */
PL_API int pl_parse_timestamp(const char *s, size_t n, int64_t *us);

/* Writes `YYYY-MM-DD` (no terminating NUL); returns its length. */
PL_API size_t pl_format_date(int64_t days, char *buf);
/* Writes `YYYY-MM-DDTHH:MM:SS[.f]Z`, the fraction only when non-zero and
 * in as few digits as keep it; returns its length. */
PL_API size_t pl_format_timestamp(int64_t us, char *buf);

/* Checks a strftime-style format: 0, or PL_TIME_BAD with the reason in
 * why. Directives: %Y %y %m %d %e %j %H %I %p %M %S %f %z %Z %b %h %B %a
 * %A %u %w %s %T %F %D %R %%; a blank in the format matches any run of
 * blanks (or none) when parsing. */
PL_API int pl_time_format_check(const char *fmt, char *why, size_t cap);

/* 1 when the format holds a time of day (%H %I %M %S %f %s %T %R %z). */
PL_API int pl_time_format_has_time(const char *fmt);

/* Parses the n bytes at s with a checked format (English month and day
 * names, any case; missing fields are 1970, January, the 1st, midnight). */
PL_API int pl_parse_time_format(const char *s, size_t n, const char *fmt,
				int64_t *us);

/* Formats us with a checked format into buf (cap bytes, no NUL); returns
 * the length, or -1 when cap is too small. */
PL_API int64_t pl_format_time(int64_t us, const char *fmt, char *buf,
			      size_t cap);

PL_END_DECLS

#endif

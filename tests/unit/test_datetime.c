/* Calendar arithmetic, ISO 8601 and strftime-style text, and the CSV
 * grammar of dates and timestamps (inference included). Expected day
 * counts are Python's (date(y, m, d) - date(1970, 1, 1)).days. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "io/csv_infer.h"
#include "pipeline/datetime.h"

static int64_t ts(const char *s)
{
	int64_t v = 0;
	CU_ASSERT_EQUAL(pl_parse_timestamp(s, strlen(s), &v), 0);
	return v;
}

static int64_t day(const char *s)
{
	int64_t v = 0;
	CU_ASSERT_EQUAL(pl_parse_date(s, strlen(s), &v), 0);
	return v;
}

static void check_ts_text(int64_t us, const char *want)
{
	char buf[PL_TIME_TEXT_MAX + 1];
	size_t n = pl_format_timestamp(us, buf);
	buf[n] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(ts(buf), us); /* reads back to the same instant */
}

static void check_date_text(int64_t d, const char *want)
{
	char buf[PL_TIME_TEXT_MAX + 1];
	size_t n = pl_format_date(d, buf);
	buf[n] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(day(buf), d);
}

static void test_days(void)
{
	CU_ASSERT_EQUAL(day("1970-01-01"), 0);
	CU_ASSERT_EQUAL(day("1969-12-31"), -1);
	CU_ASSERT_EQUAL(day("2000-02-29"), 11016);
	CU_ASSERT_EQUAL(day("2024-03-05"), 19787);
	CU_ASSERT_EQUAL(day("1900-03-01"), -25508);
	CU_ASSERT_EQUAL(day("0001-01-01"), -719162);
	CU_ASSERT_EQUAL(day("9999-12-31"), 2932896);
	check_date_text(-719162, "0001-01-01");
	check_date_text(-719163, "0000-12-31");
	check_date_text(-719528, "0000-01-01");
	check_date_text(-719529, "-0001-12-31");
	check_date_text(2932897, "+10000-01-01");
	/* Every day of 1600..2400 round-trips and steps by one. */
	int64_t prev = day("1600-01-01") - 1;
	for (int64_t d = prev + 1; d < day("2400-12-31"); d++) {
		pl_civil c;
		pl_civil_from_days(d, &c);
		CU_ASSERT_EQUAL_FATAL(
		    pl_days_from_civil(c.year, c.month, c.day), d);
		CU_ASSERT_EQUAL_FATAL(d, prev + 1);
		prev = d;
	}
}

static void test_leap_years(void)
{
	int64_t v;
	CU_ASSERT_EQUAL(pl_parse_date("2024-02-29", 10, &v), 0);
	CU_ASSERT_EQUAL(pl_parse_date("2000-02-29", 10, &v), 0);
	CU_ASSERT_EQUAL(pl_parse_date("1900-02-29", 10, &v), PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_date("2023-02-29", 10, &v), PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_date("2023-04-31", 10, &v), PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_date("2023-13-01", 10, &v), PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_date("2023-00-10", 10, &v), PL_TIME_RANGE);
	CU_ASSERT_TRUE(pl_is_leap_year(2000));
	CU_ASSERT_FALSE(pl_is_leap_year(2100));
	CU_ASSERT_TRUE(pl_is_leap_year(-4));
	CU_ASSERT_EQUAL(pl_days_in_month(2024, 2), 29);
	CU_ASSERT_EQUAL(pl_days_in_month(2023, 2), 28);
	pl_civil c;
	pl_civil_from_days(day("2024-12-31"), &c);
	CU_ASSERT_EQUAL(c.yday, 366);
	pl_civil_from_days(day("2023-12-31"), &c);
	CU_ASSERT_EQUAL(c.yday, 365);
}

static void test_weekdays(void)
{
	pl_civil c;
	pl_civil_from_days(0, &c); /* a Thursday */
	CU_ASSERT_EQUAL(c.wday, 4);
	pl_civil_from_days(-1, &c);
	CU_ASSERT_EQUAL(c.wday, 3);
	pl_civil_from_days(day("2024-03-04"), &c);
	CU_ASSERT_EQUAL(c.wday, 1);
	pl_civil_from_days(day("1969-12-28"), &c);
	CU_ASSERT_EQUAL(c.wday, 7);
}

static void test_iso_timestamps(void)
{
	CU_ASSERT_EQUAL(ts("1970-01-01T00:00:00Z"), 0);
	CU_ASSERT_EQUAL(ts("1970-01-01"), 0);
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15:30"), 1709633730000000);
	CU_ASSERT_EQUAL(ts("2024-03-05 10:15:30"), 1709633730000000);
	CU_ASSERT_EQUAL(ts("2024-03-05t10:15:30z"), 1709633730000000);
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15"), 1709633700000000);
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15:30.25Z"), 1709633730250000);
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15:30,5"), 1709633730500000);
	/* Beyond microseconds, digits are cut (floor). */
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15:30.123456789"), 1709633730123456);
	/* Offsets: the same instant written four ways. */
	int64_t want = ts("2024-03-05T08:15:30Z");
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15:30+02:00"), want);
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15:30+0200"), want);
	CU_ASSERT_EQUAL(ts("2024-03-05T10:15:30+02"), want);
	CU_ASSERT_EQUAL(ts("2024-03-05T03:45:30-04:30"), want);
	CU_ASSERT_EQUAL(ts("1900-03-01 17:21:10+05:21:10"),
			ts("1900-03-01T12:00:00Z"));
	/* An offset can move the date. */
	CU_ASSERT_EQUAL(ts("2024-03-01T01:00:00+03:00"),
			ts("2024-02-29T22:00:00Z"));
	/* Before 1970: negative, floor arithmetic. */
	CU_ASSERT_EQUAL(ts("1969-12-31T23:59:59.999999Z"), -1);
	CU_ASSERT_EQUAL(ts("1969-12-31T23:59:59Z"), -1000000);
	CU_ASSERT_EQUAL(ts("1900-01-01T00:00:00Z"), -2208988800000000);
}

static void test_bad_timestamps(void)
{
	const char *bad[] = {"",
			     "2024",
			     "2024-3-5",
			     "2024-03-05T",
			     "2024-03-05T10",
			     "2024-03-05T10:15:30.",
			     "2024-03-05T10:15:30+2",
			     "2024-03-05T10:15:30 Z",
			     "2024-03-05X10:15:30",
			     "2024-03-05T10:15:30Zjunk",
			     "24-03-05",
			     "\xff\xfe-03-05",
			     NULL};
	int64_t v;
	for (const char **s = bad; *s; s++)
		CU_ASSERT_EQUAL(pl_parse_timestamp(*s, strlen(*s), &v),
				PL_TIME_BAD);
	const char *range[] = {
	    "2024-03-05T24:00:00",	 "2024-03-05T23:60:00",
	    "2024-03-05T23:59:60",	 "2024-02-30T00:00:00",
	    "2024-03-05T10:00:00+24:00", NULL};
	for (const char **s = range; *s; s++)
		CU_ASSERT_EQUAL(pl_parse_timestamp(*s, strlen(*s), &v),
				PL_TIME_RANGE);
	/* Beyond int64 microseconds. */
	CU_ASSERT_EQUAL(pl_parse_timestamp("+300000-01-01", 13, &v),
			PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_date("+300000-01-01", 13, &v), PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_date("2024-03-05T00:00", 16, &v), PL_TIME_BAD);
}

static void test_iso_output(void)
{
	check_ts_text(0, "1970-01-01T00:00:00Z");
	check_ts_text(ts("2024-03-05T08:15:30.25Z"), "2024-03-05T08:15:30.25Z");
	check_ts_text(ts("2024-03-05T08:15:30.1Z"), "2024-03-05T08:15:30.1Z");
	check_ts_text(ts("2024-03-05T08:15:30.000001Z"),
		      "2024-03-05T08:15:30.000001Z");
	check_ts_text(ts("2024-03-05T08:15:30.120Z"),
		      "2024-03-05T08:15:30.12Z");
	check_ts_text(-1, "1969-12-31T23:59:59.999999Z");
	check_ts_text(INT64_MAX, "+294247-01-10T04:00:54.775807Z");
	check_ts_text(INT64_MIN, "-290308-12-21T19:59:05.224192Z");
	check_date_text(19787, "2024-03-05");
	check_date_text(-1, "1969-12-31");
}

static int64_t fmt_parse(const char *s, const char *fmt)
{
	int64_t v = 0;
	CU_ASSERT_EQUAL(pl_parse_time_format(s, strlen(s), fmt, &v), 0);
	return v;
}

static void test_format_parse(void)
{
	int64_t want = ts("2024-03-05T10:15:30Z");
	CU_ASSERT_EQUAL(fmt_parse("05/03/2024 10:15:30", "%d/%m/%Y %H:%M:%S"),
			want);
	CU_ASSERT_EQUAL(fmt_parse("5 Mar 2024 10:15:30", "%d %b %Y %T"), want);
	CU_ASSERT_EQUAL(
	    fmt_parse("March 5, 2024 10:15:30 AM", "%B %d, %Y %I:%M:%S %p"),
	    want);
	CU_ASSERT_EQUAL(fmt_parse("2024.065 12:15:30 +0200", "%Y.%j %T %z"),
			want);
	CU_ASSERT_EQUAL(fmt_parse("Tue 05-MAR-24 10:15:30", "%a %d-%b-%y %T"),
			want);
	CU_ASSERT_EQUAL(fmt_parse("1709633730", "%s"), want);
	CU_ASSERT_EQUAL(fmt_parse("2024-03-05 10:15:30.5", "%F %T.%f"),
			want + 500000);
	CU_ASSERT_EQUAL(fmt_parse("12:00:00 AM", "%I:%M:%S %p"), 0);
	CU_ASSERT_EQUAL(fmt_parse("69-01-01", "%y-%m-%d"),
			ts("1969-01-01T00:00:00Z"));
	/* A blank in the format takes any run of blanks, or none. */
	CU_ASSERT_EQUAL(fmt_parse("2024-03-05   10:15:30", "%F %T"), want);
	CU_ASSERT_EQUAL(fmt_parse("2024-03-0510:15:30", "%F %T"), want);
	int64_t v;
	CU_ASSERT_EQUAL(pl_parse_time_format("2024-02-30", 10, "%F", &v),
			PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_time_format("2023.366", 8, "%Y.%j", &v),
			PL_TIME_RANGE);
	CU_ASSERT_EQUAL(pl_parse_time_format("2024-03-05x", 11, "%F", &v),
			PL_TIME_BAD);
	CU_ASSERT_EQUAL(pl_parse_time_format("Foo 5", 5, "%b %d", &v),
			PL_TIME_BAD);
	CU_ASSERT_EQUAL(pl_parse_time_format("", 0, "%Y", &v), PL_TIME_BAD);
	char why[128];
	CU_ASSERT_EQUAL(
	    pl_time_format_check("%Y-%m-%d %H:%M:%S.%f", why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(pl_time_format_check("%Q", why, sizeof(why)),
			PL_TIME_BAD);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "%Q"));
	CU_ASSERT_EQUAL(pl_time_format_check("100%", why, sizeof(why)),
			PL_TIME_BAD);
	CU_ASSERT_TRUE(pl_time_format_has_time("%d %T"));
	CU_ASSERT_FALSE(pl_time_format_has_time("%d/%m/%Y %%H"));
}

static int64_t fmt_parse_n(const char *s, size_t n, const char *fmt)
{
	int64_t v = 0;
	CU_ASSERT_EQUAL(pl_parse_time_format(s, n, fmt, &v), 0);
	return v;
}

static void check_fmt(int64_t us, const char *fmt, const char *want)
{
	char buf[128];
	int64_t n = pl_format_time(us, fmt, buf, sizeof(buf) - 1);
	CU_ASSERT_FATAL(n >= 0);
	buf[n] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_format_write(void)
{
	int64_t t = ts("2024-03-05T14:05:09.25Z");
	check_fmt(t, "%Y-%m-%d %H:%M:%S.%f", "2024-03-05 14:05:09.250000");
	check_fmt(t, "%a %A %b %B %e|%j|%u|%w",
		  "Tue Tuesday Mar March  5|065|2|2");
	check_fmt(t, "%I:%M %p %y %Z %z %%", "02:05 PM 24 UTC +0000 %");
	check_fmt(t, "%D %R %F %T", "03/05/24 14:05 2024-03-05 14:05:09");
	check_fmt(-1, "%s %Y", "-1 1969");
	check_fmt(ts("-0044-03-15T00:00:00Z"), "%Y", "-0044");
	char small[4];
	CU_ASSERT_EQUAL(pl_format_time(t, "%Y-%m", small, sizeof(small)), -1);
	/* What format_time writes, parse_time reads back. */
	const char *fmts[] = {"%Y-%m-%d %H:%M:%S.%f", "%d %B %Y %I:%M:%S %p",
			      "%Y.%j %T %z", "%s", NULL};
	for (const char **f = fmts; *f; f++) {
		int64_t x = ts("1969-07-20T20:17:40Z");
		char buf[128];
		int64_t n = pl_format_time(x, *f, buf, sizeof(buf));
		CU_ASSERT_EQUAL(fmt_parse_n(buf, (size_t)n, *f), x);
	}
}

static void test_csv_values(void)
{
	int64_t v;
	CU_ASSERT_EQUAL(pl_csv_parse_time(PL_DATE, NULL, "2024-03-05", 10, &v),
			0);
	CU_ASSERT_EQUAL(v, 19787);
	CU_ASSERT_EQUAL(
	    pl_csv_parse_time(PL_DATE, "%d/%m/%Y", "05/03/2024", 10, &v), 0);
	CU_ASSERT_EQUAL(v, 19787);
	/* With time_format, ISO text is still read. */
	CU_ASSERT_EQUAL(
	    pl_csv_parse_time(PL_DATE, "%d/%m/%Y", "2024-03-05", 10, &v), 0);
	CU_ASSERT_EQUAL(v, 19787);
	CU_ASSERT_EQUAL(pl_csv_parse_time(PL_TIMESTAMP, "%d/%m/%Y %H:%M",
					  "05/03/2024 23:59", 16, &v),
			0);
	CU_ASSERT_EQUAL(v, ts("2024-03-05T23:59:00Z"));
	/* A date column drops a format's time of day. */
	CU_ASSERT_EQUAL(pl_csv_parse_time(PL_DATE, "%d/%m/%Y %H:%M",
					  "05/03/2024 23:59", 16, &v),
			0);
	CU_ASSERT_EQUAL(v, 19787);
	CU_ASSERT_NOT_EQUAL(
	    pl_csv_parse_time(PL_TIMESTAMP, NULL, "yesterday", 9, &v), 0);
}

static pl_type infer(const char *fmt, const char *const *values)
{
	pl_csv_infer t;
	pl_csv_infer_init(&t, fmt);
	for (const char *const *v = values; *v; v++)
		pl_csv_infer_add(&t, *v, strlen(*v));
	return pl_csv_infer_type(&t);
}

static void test_inference(void)
{
	const char *dates[] = {"2024-03-05", "1969-12-31", NULL};
	const char *mixed[] = {"2024-03-05", "2024-03-05T10:00:00Z", NULL};
	const char *stamps[] = {"2024-03-05 10:00:00.5", "2024-03-05T10:00+01",
				NULL};
	const char *bad_day[] = {"2024-03-05", "2024-02-30", NULL};
	const char *ints[] = {"20240305", "1", NULL};
	const char *euro[] = {"05/03/2024", "31/12/1999", NULL};
	const char *euro_t[] = {"05/03/2024 10:00", "2024-03-05", NULL};
	CU_ASSERT_EQUAL(infer(NULL, dates), PL_DATE);
	CU_ASSERT_EQUAL(infer(NULL, mixed), PL_TIMESTAMP);
	CU_ASSERT_EQUAL(infer(NULL, stamps), PL_TIMESTAMP);
	CU_ASSERT_EQUAL(infer(NULL, bad_day), PL_STRING);
	CU_ASSERT_EQUAL(infer(NULL, ints), PL_INT64);
	CU_ASSERT_EQUAL(infer(NULL, euro), PL_STRING);
	CU_ASSERT_EQUAL(infer("%d/%m/%Y", euro), PL_DATE);
	CU_ASSERT_EQUAL(infer("%d/%m/%Y %H:%M", euro_t), PL_TIMESTAMP);
}

static const pl_test tests[] = {{"days", test_days},
				{"leap_years", test_leap_years},
				{"weekdays", test_weekdays},
				{"iso_timestamps", test_iso_timestamps},
				{"bad_timestamps", test_bad_timestamps},
				{"iso_output", test_iso_output},
				{"format_parse", test_format_parse},
				{"format_write", test_format_write},
				{"csv_values", test_csv_values},
				{"inference", test_inference},
				{NULL, NULL}};

PL_TEST_MAIN("datetime", tests)

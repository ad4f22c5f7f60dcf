/* Date and time functions: parts, truncation, differences, durations,
 * conversions and formats. Everything is UTC arithmetic on int64 days or
 * microseconds (pipeline/datetime.h); units and formats must be string
 * literals, checked when the expression is bound. */
#include <stdio.h>
#include <string.h>

#include "framework/expr_internal.h"
#include "pipeline/datetime.h"

enum unit {
	U_MICRO,
	U_MILLI,
	U_SECOND,
	U_MINUTE,
	U_HOUR,
	U_DAY,
	U_WEEK,
	U_MONTH,
	U_QUARTER,
	U_YEAR
};

static const char *const unit_names[] = {
    "microsecond", "millisecond", "second", "minute",  "hour",
    "day",	   "week",	  "month",  "quarter", "year"};
static const int64_t unit_us[] = {1,
				  1000,
				  PL_US_PER_SEC,
				  60 * PL_US_PER_SEC,
				  3600 * PL_US_PER_SEC,
				  PL_US_PER_DAY,
				  7 * PL_US_PER_DAY};

/* The unit named by string literal argument 0 (a trailing s allowed). */
static int bind_unit(pl_expr *e, pl_error *err)
{
	size_t len;
	const char *s = pl_func_literal(e, 0, &len);
	for (size_t u = 0; s != NULL && u <= U_YEAR; u++) {
		size_t n = strlen(unit_names[u]);
		if ((len == n || (len == n + 1 && s[n] == 's')) &&
		    strncmp(s, unit_names[u], n) == 0) {
			e->ival = (int64_t)u;
			return 0;
		}
	}
	return pl_expr_conf_error(e, err,
				  "argument 1 of %s() must be a unit in "
				  "quotes: 'second', 'minute', 'hour', 'day', "
				  "'week', 'month', 'quarter' or 'year'",
				  e->name);
}

/* Days since 1970-01-01 of the Monday starting the week of day d. */
static int64_t week_start(int64_t d)
{
	return pl_floor_div(d + 3, 7) * 7 - 3;
}

static int bind_part(pl_expr *e, pl_error *err)
{
	e->type = PL_INT64;
	return pl_func_want_all(e, 0, A_TIME, PL_TIMESTAMP, err);
}

/* Row loops over a timestamp argument giving int64: one per part. */
#define PART_FN(fname, expr)                                                   \
	static int fname(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)     \
	{                                                                      \
		if (pl_func_all_valid(e, cx, a) != 0)                          \
			return PL_ERR_NOMEM;                                   \
		const int64_t *x = pl_col_i64(a[0]);                           \
		int64_t *r = pl_col_i64(&e->out);                              \
		for (size_t i = 0; i < cx->n; i++) {                           \
			pl_civil c;                                            \
			pl_civil_from_us(x[i], &c);                            \
			r[i] = (expr);                                         \
		}                                                              \
		pl_node_zero_nulls(e);                                         \
		return 0;                                                      \
	}

PART_FN(eval_year, c.year)
PART_FN(eval_month, c.month)
PART_FN(eval_day, c.day)
PART_FN(eval_hour, c.hour)
PART_FN(eval_minute, c.min)
PART_FN(eval_second, c.sec)
PART_FN(eval_day_of_week, c.wday)
PART_FN(eval_day_of_year, c.yday)

static int bind_trunc(pl_expr *e, pl_error *err)
{
	int rc = bind_unit(e, err);
	if (rc == 0)
		rc = pl_func_want(e, 1, A_TIME, err);
	e->type = e->args[1]->type;
	return rc;
}

static int64_t trunc_days(int64_t d, int unit)
{
	pl_civil c;
	if (unit <= U_DAY)
		return d;
	if (unit == U_WEEK)
		return week_start(d);
	pl_civil_from_days(d, &c);
	if (unit == U_YEAR)
		return pl_days_from_civil(c.year, 1, 1);
	int m = unit == U_QUARTER ? (c.month - 1) / 3 * 3 + 1 : c.month;
	return pl_days_from_civil(c.year, m, 1);
}

/* us truncated into *r; 1 when that falls before the first timestamp
 * (a period starting before INT64_MIN microseconds). */
static int trunc_us(int64_t us, int unit, int64_t *r)
{
	int64_t step = unit < U_WEEK ? unit_us[unit] : PL_US_PER_DAY;
	int64_t n = pl_floor_div(us, step);
	if (unit >= U_WEEK)
		n = trunc_days(n, unit);
	return __builtin_mul_overflow(n, step, r);
}

static int eval_trunc(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const int64_t *x = pl_col_i64(a[1]);
	int64_t *r = pl_col_i64(&e->out);
	int unit = (int)e->ival, bad = 0;
	if (e->type == PL_DATE) {
		for (size_t i = 0; i < cx->n; i++) {
			r[i] = trunc_days(x[i], unit);
			bad |= r[i] < -PL_DATE_MAX_DAYS;
		}
		if (bad)
			PL_FIND_BAD_ROW(e, cx, r[i] < -PL_DATE_MAX_DAYS,
					"date out of range");
	} else {
		for (size_t i = 0; i < cx->n; i++)
			bad |= trunc_us(x[i], unit, &r[i]);
	}
	if (bad)
		PL_FIND_BAD_ROW(e, cx, trunc_us(x[i], unit, &r[i]),
				"timestamp out of range");
	pl_node_zero_nulls(e);
	return 0;
}

static int bind_diff(pl_expr *e, pl_error *err)
{
	int rc = bind_unit(e, err);
	e->type = PL_INT64;
	return rc ? rc : pl_func_want_all(e, 1, A_TIME, PL_TIMESTAMP, err);
}

/* The index of the unit period holding us, counted from 1970. */
static int64_t period(int64_t us, int unit)
{
	if (unit <= U_DAY)
		return pl_floor_div(us, unit_us[unit]);
	int64_t d = pl_floor_div(us, PL_US_PER_DAY);
	if (unit == U_WEEK)
		return pl_floor_div(d + 3, 7);
	pl_civil c;
	pl_civil_from_days(d, &c);
	if (unit == U_YEAR)
		return c.year;
	return unit == U_MONTH ? c.year * 12 + c.month - 1
			       : c.year * 4 + (c.month - 1) / 3;
}

/* date_diff counts the unit boundaries from a to b, as DuckDB's does:
 * the difference of the truncated values. */
static int eval_diff(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const int64_t *x = pl_col_i64(a[1]), *y = pl_col_i64(a[2]);
	int64_t *r = pl_col_i64(&e->out);
	int unit = (int)e->ival, bad = 0;
	for (size_t i = 0; i < cx->n; i++)
		bad |= __builtin_sub_overflow(period(y[i], unit),
					      period(x[i], unit), &r[i]);
	if (bad)
		PL_FIND_BAD_ROW(e, cx,
				__builtin_sub_overflow(period(y[i], unit),
						       period(x[i], unit),
						       &r[i]),
				"integer overflow in date_diff()");
	pl_node_zero_nulls(e);
	return 0;
}

static const struct {
	const char *name;
	int64_t us, days; /* days 0: not a whole number of days */
} durations[] = {{"weeks", 7 * PL_US_PER_DAY, 7},
		 {"days", PL_US_PER_DAY, 1},
		 {"hours", 3600 * PL_US_PER_SEC, 0},
		 {"minutes", 60 * PL_US_PER_SEC, 0},
		 {"seconds", PL_US_PER_SEC, 0},
		 {"milliseconds", 1000, 0},
		 {"microseconds", 1, 0}};
#define NDURATIONS (sizeof(durations) / sizeof(durations[0]))

static int duration_index(const pl_expr *e)
{
	for (size_t k = 0; e->kind == PL_EK_CALL && k < NDURATIONS; k++)
		if (strcmp(e->name, durations[k].name) == 0)
			return (int)k;
	return -1;
}

int pl_expr_is_duration(const pl_expr *e)
{
	return duration_index(e) >= 0;
}

int pl_expr_is_day_duration(const pl_expr *e)
{
	int k = duration_index(e);
	return k >= 0 && durations[k].days != 0;
}

static int bind_duration(pl_expr *e, pl_error *err)
{
	e->type = PL_INT64;
	return pl_func_want_all(e, 0, A_INT, PL_INT64, err);
}

static int eval_duration(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	int k = duration_index(e);
	int64_t m = e->in_days ? durations[k].days : durations[k].us;
	const int64_t *x = pl_col_i64(a[0]);
	int64_t *r = pl_col_i64(&e->out);
	int bad = 0;
	for (size_t i = 0; i < cx->n; i++)
		bad |= __builtin_mul_overflow(x[i], m, &r[i]);
	if (bad)
		PL_FIND_BAD_ROW(e, cx, __builtin_mul_overflow(x[i], m, &r[i]),
				"duration out of range");
	pl_node_zero_nulls(e);
	return 0;
}

static int bind_now(pl_expr *e, pl_error *err)
{
	(void)err;
	e->type = PL_TIMESTAMP;
	return 0;
}

static int eval_now(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	(void)a;
	int64_t *r = pl_col_i64(&e->out);
	for (size_t i = 0; i < cx->n; i++)
		r[i] = e->src->now_us;
	return 0;
}

/* A date or timestamp from text: ISO 8601; a date also takes a timestamp
 * and drops its time of day. */
static int text_to_time(pl_type t, const char *s, size_t len, int64_t *v)
{
	if (t == PL_TIMESTAMP)
		return pl_parse_timestamp(s, len, v);
	if (pl_parse_date(s, len, v) == 0)
		return 0;
	int64_t us;
	int rc = pl_parse_timestamp(s, len, &us);
	if (rc == 0)
		*v = pl_floor_div(us, PL_US_PER_DAY);
	return rc == 0 && *v < -PL_DATE_MAX_DAYS ? PL_TIME_RANGE : rc;
}

static int bind_convert(pl_expr *e, pl_type t, pl_error *err)
{
	e->type = t;
	int rc = pl_func_want(e, 0, A_STR | A_TIME, err);
	size_t len;
	const char *s = pl_func_literal(e, 0, &len);
	int64_t v;
	if (rc == 0 && s != NULL && text_to_time(t, s, len, &v) != 0)
		rc = pl_expr_conf_error(e, err, "'%.*s' is not a %s (ISO 8601)",
					(int)(len > 64 ? 64 : len), s,
					pl_type_name(t));
	return rc;
}

static int bind_date(pl_expr *e, pl_error *err)
{
	return bind_convert(e, PL_DATE, err);
}

static int bind_timestamp(pl_expr *e, pl_error *err)
{
	return bind_convert(e, PL_TIMESTAMP, err);
}

static int convert_error(pl_expr *e, pl_eval_ctx *cx, const pl_column *x,
			 size_t i)
{
	char val[80], what[160];
	pl_column_format(x, i, val, sizeof(val));
	snprintf(what, sizeof(what), "cannot convert '%s' to %s", val,
		 pl_type_name(e->type));
	return pl_expr_data_error(e, cx, i, what);
}

/* The conversion of row i of x to e's type into *v; 0 or a data error. */
static int convert_row(pl_expr *e, pl_eval_ctx *cx, const pl_column *x,
		       size_t i, int64_t *v)
{
	*v = 0;
	if (!pl_bit_get(x->valid, i))
		return 0;
	if (x->type == PL_STRING) {
		size_t len;
		const char *s = pl_col_str(x, i, &len);
		if (text_to_time(e->type, s, len, v) != 0 && pl_row_live(cx, i))
			return convert_error(e, cx, x, i);
		return 0;
	}
	int64_t t = pl_col_i64(x)[i];
	if (x->type == e->type)
		*v = t;
	else if (e->type == PL_TIMESTAMP) /* from a date: always in range */
		*v = t * PL_US_PER_DAY;
	else
		*v = pl_floor_div(t, PL_US_PER_DAY);
	if (e->type == PL_DATE && *v < -PL_DATE_MAX_DAYS && pl_row_live(cx, i))
		return pl_expr_data_error(e, cx, i, "date out of range");
	return 0;
}

static int eval_convert(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	int64_t *r = pl_col_i64(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		int rc = convert_row(e, cx, a[0], i, &r[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Argument i must be a string literal holding a valid time format. */
static int bind_format_arg(pl_expr *e, size_t i, pl_error *err)
{
	size_t len;
	const char *fmt = pl_func_literal(e, i, &len);
	char why[256];
	if (fmt == NULL || strlen(fmt) != len)
		return pl_expr_conf_error(e, err,
					  "argument %zu of %s() must be a "
					  "format in quotes, such as "
					  "'%%Y-%%m-%%d'",
					  i + 1, e->name);
	if (pl_time_format_check(fmt, why, sizeof(why)) != 0)
		return pl_expr_conf_error(e, err, "%s", why);
	return 0;
}

static int bind_format_time(pl_expr *e, pl_error *err)
{
	e->type = PL_STRING;
	int rc = pl_func_want(e, 0, A_TIME, err);
	if (rc == 0)
		rc = pl_expr_coerce(&e->args[0], PL_TIMESTAMP, err);
	return rc ? rc : bind_format_arg(e, 1, err);
}

static int eval_format_time(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const char *fmt = e->args[1]->sval;
	const int64_t *x = pl_col_i64(a[0]);
	char buf[1024];
	for (size_t i = 0; i < cx->n; i++) {
		int64_t len = 0;
		if (pl_bit_get(e->out.valid, i))
			len = pl_format_time(x[i], fmt, buf, sizeof(buf));
		if (len < 0)
			return pl_expr_data_error(e, cx, i,
						  "format_time() output longer "
						  "than 1024 bytes");
		if (pl_column_reserve_arena(&e->out, (size_t)len, cx->pool,
					    cx->err) != 0)
			return PL_ERR_NOMEM;
		pl_func_put_str(&e->out, i, buf, (size_t)len);
	}
	return 0;
}

static int bind_parse_time(pl_expr *e, pl_error *err)
{
	e->type = PL_TIMESTAMP;
	int rc = pl_func_want_all(e, 0, A_STR, PL_STRING, err);
	return rc ? rc : bind_format_arg(e, 1, err);
}

static int eval_parse_time(pl_expr *e, pl_eval_ctx *cx, const pl_column **a)
{
	if (pl_func_all_valid(e, cx, a) != 0)
		return PL_ERR_NOMEM;
	const char *fmt = e->args[1]->sval;
	int64_t *r = pl_col_i64(&e->out);
	for (size_t i = 0; i < cx->n; i++) {
		size_t len;
		const char *s = pl_col_str(a[0], i, &len);
		r[i] = 0;
		if (pl_bit_get(e->out.valid, i) &&
		    pl_parse_time_format(s, len, fmt, &r[i]) != 0 &&
		    pl_row_live(cx, i))
			return convert_error(e, cx, a[0], i);
	}
	pl_node_zero_nulls(e);
	return 0;
}

const pl_func pl_time_funcs[] = {
    {"year", 1, 1, 0, bind_part, eval_year},
    {"month", 1, 1, 0, bind_part, eval_month},
    {"day", 1, 1, 0, bind_part, eval_day},
    {"hour", 1, 1, 0, bind_part, eval_hour},
    {"minute", 1, 1, 0, bind_part, eval_minute},
    {"second", 1, 1, 0, bind_part, eval_second},
    {"day_of_week", 1, 1, 0, bind_part, eval_day_of_week},
    {"day_of_year", 1, 1, 0, bind_part, eval_day_of_year},
    {"date_trunc", 2, 2, 0, bind_trunc, eval_trunc},
    {"date_diff", 3, 3, 0, bind_diff, eval_diff},
    {"weeks", 1, 1, 0, bind_duration, eval_duration},
    {"days", 1, 1, 0, bind_duration, eval_duration},
    {"hours", 1, 1, 0, bind_duration, eval_duration},
    {"minutes", 1, 1, 0, bind_duration, eval_duration},
    {"seconds", 1, 1, 0, bind_duration, eval_duration},
    {"milliseconds", 1, 1, 0, bind_duration, eval_duration},
    {"microseconds", 1, 1, 0, bind_duration, eval_duration},
    {"now", 0, 0, 0, bind_now, eval_now},
    {"date", 1, 1, 0, bind_date, eval_convert},
    {"timestamp", 1, 1, 0, bind_timestamp, eval_convert},
    {"format_time", 2, 2, 0, bind_format_time, eval_format_time},
    {"parse_time", 2, 2, 0, bind_parse_time, eval_parse_time},
};

const size_t pl_ntime_funcs = sizeof(pl_time_funcs) / sizeof(pl_time_funcs[0]);

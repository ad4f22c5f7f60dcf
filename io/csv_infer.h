/* Typed values from CSV text and the inference of column types from a
 * sample. The grammar is strict and shared by inference and conversion,
 * so that a sampled column accepts exactly what made it that type:
 *   int64   [+-]?(0|[1-9][0-9]*) within int64 (no leading zero: 08123
 *           is a zip code, not a number)
 *   float64 [+-]?(0|[1-9][0-9]*)?(\.[0-9]*)?([eE][+-]?[0-9]+)? with at
 *           least one digit, or nan, inf, infinity (any case, signed)
 *   bool    true or false, any case
 *   date    ISO 8601 YYYY-MM-DD, or time_format without a time of day
 *   timestamp ISO 8601 (see pipeline/datetime.h), or time_format */
#ifndef PIPELINE_IO_CSV_INFER_H
#define PIPELINE_IO_CSV_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/batch.h"

/* Each returns true and stores the value when s[0..len) is one. */
bool pl_csv_parse_i64(const char *s, size_t len, int64_t *out);
bool pl_csv_parse_f64(const char *s, size_t len, double *out);
bool pl_csv_parse_bool(const char *s, size_t len, uint8_t *out);

/* A date (days) or timestamp (microseconds) from s[0..len): through fmt
 * when it is not NULL (a date drops the time of day), else, or when fmt
 * does not match, ISO 8601. Returns 0, PL_TIME_BAD or PL_TIME_RANGE. */
int pl_csv_parse_time(pl_type t, const char *fmt, const char *s, size_t len,
		      int64_t *out);

/* What the sample has shown of one column. */
typedef struct pl_csv_infer {
	const char *time_format; /* [source] time_format or NULL, borrowed */
	bool all_int, all_num, all_bool, all_date, all_ts;
	bool any_value; /* a non-NULL value */
	bool any_num;	/* a value that is a number, not nan/inf */
} pl_csv_infer;

void pl_csv_infer_init(pl_csv_infer *t, const char *time_format);

/* Takes one non-NULL sampled value into account. */
void pl_csv_infer_add(pl_csv_infer *t, const char *s, size_t len);

/* int64, else float64 (numbers, some not integers, nan/inf allowed), else
 * date, else timestamp, else bool, else string; a column without values
 * is string. */
pl_type pl_csv_infer_type(const pl_csv_infer *t);

#endif

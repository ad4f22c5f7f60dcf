/* libFuzzer target: any bytes, parsed as an expression, bound against a
 * fixed schema of int, float, bool, string, date and timestamp columns
 * with NULLs and extreme values, and evaluated over a small batch. Nothing may
 * crash or leak; errors are fine. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/datetime.h"
#include "pipeline/expr.h"

static void fill(pl_batch *b, pl_pool *pool, pl_error *err)
{
	static const char *const words[] = {"", "Ab c", "\xc3\xa9t\xc3\xa9",
					    " x\t"};
	pl_column *c = b->cols;
	for (int i = 0; i < 4; i++) {
		int null = i == 3;
		if (null) {
			for (int k = 0; k < 4; k++)
				pl_column_push_null(&c[k], pool, err);
		} else {
			pl_column_push_i64(&c[0], i == 1 ? INT64_MIN : i - 1,
					   pool, err);
			pl_column_push_f64(&c[1], i * 0.5 - 0.5, pool, err);
			pl_column_push_bool(&c[2], i & 1, pool, err);
			pl_column_push_str(&c[3], words[i], strlen(words[i]),
					   pool, err);
		}
		pl_column_push_i64(&c[4], INT64_MAX - i, pool, err);
		/* Dates span their whole range, timestamps all of int64. */
		static const int64_t days[] = {-PL_DATE_MAX_DAYS, 0, 19787,
					       PL_DATE_MAX_DAYS};
		static const int64_t us[] = {INT64_MIN, -1, 0, INT64_MAX};
		pl_column_push_i64(&c[5], days[i], pool, err);
		pl_column_push_i64(&c[6], us[i], pool, err);
	}
	pl_batch_sync_rows(b);
}

static void run(const char *text, const pl_schema *s, pl_pool *pool)
{
	pl_error err;
	pl_error_clear(&err);
	pl_batch *b = pl_batch_new(s, 4, pool, &err);
	if (b == NULL)
		return;
	fill(b, pool, &err);
	pl_expr *e = NULL;
	pl_type t;
	const pl_column *c;
	if (err.code == 0 && pl_expr_parse(text, NULL, &e, &err) == 0 &&
	    pl_expr_bind(e, s, &t, &err) == 0 &&
	    pl_expr_eval(e, b, pool, &c, &err) == 0) {
		if (c->len != b->nrows)
			abort();
		pl_expr_eval(e, b, pool, &c, &err);
	}
	pl_expr_free(e, pool);
	pl_batch_free(b, pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_schema s;
	pl_error err;
	pl_error_clear(&err);
	pl_schema_init(&s);
	int rc = pl_schema_add(&s, "i", PL_INT64, &err);
	rc |= pl_schema_add(&s, "f", PL_FLOAT64, &err);
	rc |= pl_schema_add(&s, "b", PL_BOOL, &err);
	rc |= pl_schema_add(&s, "s", PL_STRING, &err);
	rc |= pl_schema_add(&s, "big num", PL_INT64, &err);
	rc |= pl_schema_add(&s, "d", PL_DATE, &err);
	rc |= pl_schema_add(&s, "t", PL_TIMESTAMP, &err);
	if (text != NULL && pool != NULL && rc == 0) {
		memcpy(text, data, size);
		text[size] = '\0';
		run(text, &s, pool);
		if (pl_pool_get_stats(pool).bytes_out != 0)
			abort();
	}
	pl_schema_free(&s);
	pl_pool_destroy(pool);
	free(text);
	return 0;
}

#include <stdio.h>
#include <stdlib.h>

#include "framework/name_index.h"
#include "harness.h"

/* Every name found at its column, the first of duplicates kept, absent
 * names -1, across many growths; the same answers as pl_schema_find. */
static void finds_like_schema_find(void)
{
	pl_schema s;
	pl_schema_init(&s);
	pl_error err;
	pl_name_index *ix = pl_name_index_new(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ix);
	char name[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "c%d", i % 15000);
		CU_ASSERT_EQUAL_FATAL(pl_schema_add(&s, name, PL_INT64, &err),
				      0);
		CU_ASSERT_EQUAL_FATAL(pl_name_index_add(ix, &s, s.n - 1), 0);
	}
	for (int i = 0; i < 20000; i += 7) {
		snprintf(name, sizeof(name), "c%d", i);
		CU_ASSERT_EQUAL(pl_name_index_find(ix, &s, name),
				pl_schema_find(&s, name));
	}
	CU_ASSERT_EQUAL(pl_name_index_find(ix, &s, "c14999"), 14999);
	CU_ASSERT_EQUAL(pl_name_index_find(ix, &s, "c15000"), -1);
	CU_ASSERT_EQUAL(pl_name_index_find(ix, &s, ""), -1);
	pl_name_index_free(ix);
	pl_schema_free(&s);
}

static const pl_test tests[] = {
    {"finds_like_schema_find", finds_like_schema_find}, {NULL, NULL}};

PL_TEST_MAIN("name_index", tests)

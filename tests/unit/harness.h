/* A list of named CUnit tests, each runnable alone:
 *   ./test_batch            runs every test of the file
 *   ./test_batch NAME ...   runs only the named ones
 * Each test builds what it needs and frees it; none depends on another. */
#ifndef PL_TEST_HARNESS_H
#define PL_TEST_HARNESS_H

#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next number of a fixed 64-bit LCG (Knuth's MMIX constants), its
 * upper 31 bits: random test data that repeats exactly from a seed. */
static inline uint32_t pl_test_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* Makes a fresh directory "/tmp/pl_TAG_XXXXXX" into dir (cap bytes), for
 * a test's files; the test fails at once when it cannot. */
#define PL_TEST_MKDTEMP(dir, cap, tag)                                         \
	do {                                                                   \
		snprintf(dir, cap, "/tmp/pl_%s_XXXXXX", tag);                  \
		CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));                    \
	} while (0)

/* Removes dir and everything in it. */
static inline void pl_test_rmtree(const char *dir)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

typedef struct pl_test {
	const char *name;
	void (*fn)(void);
} pl_test;

static inline int pl_test_main(const char *suite, const pl_test *tests,
			       int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);
	int added = 0;
	for (const pl_test *t = tests; t->name; t++) {
		int pick = argc < 2;
		for (int i = 1; i < argc; i++)
			pick |= strcmp(argv[i], t->name) == 0;
		if (pick && CU_add_test(s, t->name, t->fn))
			added++;
	}
	if (added == 0) {
		fprintf(stderr, "%s: no test selected\n", suite);
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed =
	    CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

#define PL_TEST_MAIN(suite, tests)                                             \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		return pl_test_main(suite, tests, argc, argv);                 \
	}

#endif

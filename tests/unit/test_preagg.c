/* The choice between aggregating a window of rows on this rank and
 * sending them straight to their keys' owners (framework/exec_stream.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "framework/exec_internal.h"
#include "harness.h"

/* Keys that never repeat go on; keys that repeat stay, whatever the
 * costs. */
static void extremes_decide_alone(void)
{
	CU_ASSERT_TRUE(pl_preagg_should_pass(1.0, 1e-7, 1e-7));
	CU_ASSERT_TRUE(pl_preagg_should_pass(0.95, 1e-9, 1e-6));
	CU_ASSERT_FALSE(pl_preagg_should_pass(0.0, 1e-6, 1e-9));
	CU_ASSERT_FALSE(pl_preagg_should_pass(0.1, 1e-6, 1e-9));
}

/* In between, the costs decide: cheap sending against costly
 * aggregation passes at a rho that costly sending keeps here. */
static void costs_move_the_threshold(void)
{
	double rho = 0.5;
	CU_ASSERT_TRUE(pl_preagg_should_pass(rho, 5e-8, 2.5e-7));
	CU_ASSERT_FALSE(pl_preagg_should_pass(rho, 5e-7, 5e-8));
}

/* More reduction never turns aggregating into passing. */
static void monotone_in_rho(void)
{
	double costs[][2] = {{1e-8, 1e-7}, {1e-7, 1e-7}, {1e-6, 1e-8}};
	for (size_t c = 0; c < sizeof(costs) / sizeof(costs[0]); c++) {
		int was = 1;
		for (double rho = 1.0; rho >= 0; rho -= 0.05) {
			int now = pl_preagg_should_pass(rho, costs[c][0],
							costs[c][1]);
			CU_ASSERT(now <= was);
			was = now;
		}
	}
}

/* Distinct keys among n draws from keys uniform keys (a fixed LCG). */
static double draw_distinct(uint32_t keys, uint32_t n, uint8_t *seen)
{
	memset(seen, 0, keys);
	uint64_t x = 88172645463325252ull;
	double d = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = pl_test_rand(&x) % keys;
		d += !seen[k];
		seen[k] = 1;
	}
	return d;
}

/* From the distinct keys of a first window alone, the estimate finds the
 * key count within 5%, and the new keys the rest of the rows will add
 * within 5%: q3's case, where the window's own rho (0.56) says pass and
 * the rest of the share adds a hundredth of its rows. */
static void keys_estimated_from_one_window(void)
{
	const uint32_t keys = 100000, window = 131072, share = 2500000;
	uint8_t *seen = malloc(keys);
	CU_ASSERT_FATAL(seen != NULL);
	double d = draw_distinct(keys, window, seen);
	double all = draw_distinct(keys, share, seen);
	free(seen);
	CU_ASSERT(d / window > 0.5);
	double est = pl_preagg_estimate_keys(window, d);
	CU_ASSERT(fabs(est - keys) < 0.05 * keys);
	double more = pl_preagg_expected_new(est, d, share - window);
	CU_ASSERT(fabs(more - (all - d)) < 0.05 * (all - d));
	CU_ASSERT(more / (share - window) < 0.2);
}

/* Keys that never repeat are unbounded and every row is new; a draw that
 * saw all keys expects none. */
static void estimate_edges(void)
{
	CU_ASSERT(isinf(pl_preagg_estimate_keys(1000, 1000)));
	CU_ASSERT_DOUBLE_EQUAL(pl_preagg_expected_new(INFINITY, 10, 500), 500,
			       1e-9);
	CU_ASSERT_DOUBLE_EQUAL(pl_preagg_expected_new(50, 50, 500), 0, 1e-9);
	double est = pl_preagg_estimate_keys(1e6, 20);
	CU_ASSERT(est >= 20 && est < 20.5);
}

static const pl_test tests[] = {
    {"extremes_decide_alone", extremes_decide_alone},
    {"costs_move_the_threshold", costs_move_the_threshold},
    {"monotone_in_rho", monotone_in_rho},
    {"keys_estimated_from_one_window", keys_estimated_from_one_window},
    {"estimate_edges", estimate_edges},
    {NULL, NULL},
};

PL_TEST_MAIN("preagg", tests)

/* The choice between aggregating a window of rows on this rank and
 * sending them straight to their keys' owners (framework/exec_stream.c). */
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

static const pl_test tests[] = {
    {"extremes_decide_alone", extremes_decide_alone},
    {"costs_move_the_threshold", costs_move_the_threshold},
    {"monotone_in_rho", monotone_in_rho},
    {NULL, NULL},
};

PL_TEST_MAIN("preagg", tests)

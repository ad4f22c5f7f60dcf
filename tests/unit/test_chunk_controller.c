/* The chunk controller driven by a synthetic cost model: a chunk costs a
 * fixed overhead plus a per-row cost, and each row past a cache-sized knee
 * costs more again, so the best throughput is at the knee. */
#include <stdint.h>

#include "framework/chunk_controller.h"
#include "harness.h"

#define WIDTH 32	/* bytes per row */
#define KNEE_ROWS 32768 /* 1 MiB of rows */
#define OVERHEAD 50e-6	/* seconds per chunk */
#define PER_ROW 10e-9	/* seconds per row */
#define PAST_KNEE 10e-9 /* more seconds per row past the knee */

typedef struct model {
	size_t state_bytes; /* pool bytes held apart from the chunk */
	size_t budget;
	uint32_t noise; /* 0: none, else the LCG's state */
	double slow;	/* time factor, 0 for 1 */
	double
	    heavy; /* more seconds per row, making chunk size matter little */
} model;

static double noise(model *m)
{
	if (m->noise == 0)
		return 1.0;
	m->noise = m->noise * 1664525u + 1013904223u;
	return 0.95 + 0.1 * (double)(m->noise >> 8) / (double)(1u << 24);
}

static void run_chunk(pl_chunk_ctl *c, model *m)
{
	size_t rows = pl_chunk_ctl_rows(c);
	double t = OVERHEAD + (double)rows * (PER_ROW + m->heavy);
	if (rows > KNEE_ROWS)
		t += (double)(rows - KNEE_ROWS) * PAST_KNEE;
	if (m->slow > 0)
		t *= m->slow;
	pl_chunk_report r = {rows, t * noise(m), rows * WIDTH,
			     m->state_bytes + rows * WIDTH, m->budget};
	pl_chunk_ctl_report(c, &r);
}

static void run_chunks(pl_chunk_ctl *c, model *m, int n)
{
	for (int i = 0; i < n; i++)
		run_chunk(c, m);
}

static void test_start_rows(void)
{
	CU_ASSERT_EQUAL(pl_chunk_start_rows(1 << 20, 32), 65536);
	CU_ASSERT_EQUAL(pl_chunk_start_rows(0, 0), 65536);
	CU_ASSERT_EQUAL(pl_chunk_start_rows(1 << 20, 1 << 20),
			PL_CHUNK_MIN_ROWS);
	CU_ASSERT_EQUAL(pl_chunk_start_rows((size_t)1 << 30, 8),
			PL_CHUNK_MAX_ROWS);
}

static void test_converges_up_from_small(void)
{
	pl_chunk_ctl c;
	model m = {0, (size_t)1 << 30, 0, 0, 0};
	pl_chunk_ctl_init(&c, PL_CHUNK_MIN_ROWS, 0);
	run_chunks(&c, &m, 300);
	size_t rows = pl_chunk_ctl_rows(&c);
	CU_ASSERT(rows >= KNEE_ROWS * 3 / 4 && rows <= KNEE_ROWS * 5 / 4);
}

static void test_converges_down_from_large(void)
{
	pl_chunk_ctl c;
	model m = {0, (size_t)1 << 30, 0, 0, 0};
	pl_chunk_ctl_init(&c, 8 * KNEE_ROWS, 0);
	run_chunks(&c, &m, 300);
	size_t rows = pl_chunk_ctl_rows(&c);
	CU_ASSERT(rows >= KNEE_ROWS * 3 / 4 && rows <= KNEE_ROWS * 5 / 4);
}

/* With 5% noise on every chunk it still ends within a factor of two of
 * the knee, for several noise seeds, after long runs with re-probes. */
static void test_converges_with_noise(void)
{
	for (uint32_t seed = 1; seed <= 5; seed++) {
		pl_chunk_ctl c;
		model m = {0, (size_t)1 << 30, seed, 0, 0};
		pl_chunk_ctl_init(&c, PL_CHUNK_MIN_ROWS, 0);
		run_chunks(&c, &m, 2000);
		size_t rows = pl_chunk_ctl_rows(&c);
		CU_ASSERT(rows >= KNEE_ROWS / 2 && rows <= KNEE_ROWS * 2);
	}
}

/* State filling the budget halves the chunk at each report down to the
 * floor, and the size does not grow while the pressure lasts. */
static void test_backs_off_under_pressure(void)
{
	pl_chunk_ctl c;
	model m = {0, (size_t)64 << 20, 0, 0, 0};
	pl_chunk_ctl_init(&c, PL_CHUNK_MIN_ROWS, 0);
	run_chunks(&c, &m, 300);
	size_t before = pl_chunk_ctl_rows(&c);
	CU_ASSERT(before >= KNEE_ROWS * 3 / 4);
	m.state_bytes = (size_t)60 << 20;
	run_chunk(&c, &m);
	CU_ASSERT(pl_chunk_ctl_rows(&c) <= before / 2);
	run_chunks(&c, &m, 4);
	CU_ASSERT_EQUAL(pl_chunk_ctl_rows(&c), PL_CHUNK_MIN_ROWS);
	for (int i = 0; i < 100; i++) {
		run_chunk(&c, &m);
		CU_ASSERT_EQUAL(pl_chunk_ctl_rows(&c), PL_CHUNK_MIN_ROWS);
	}
	/* Pressure gone: it climbs back to the knee. */
	m.state_bytes = 0;
	run_chunks(&c, &m, 300);
	CU_ASSERT(pl_chunk_ctl_rows(&c) >= KNEE_ROWS * 3 / 4);
}

/* With little headroom, growth stops where pool bytes plus the bigger
 * chunk would pass half the budget, below the knee. */
static void test_headroom_caps_growth(void)
{
	pl_chunk_ctl c;
	model m = {(size_t)256 << 10, (size_t)1 << 20, 0, 0, 0};
	pl_chunk_ctl_init(&c, PL_CHUNK_MIN_ROWS, 0);
	size_t most = 0;
	for (int i = 0; i < 300; i++) {
		run_chunk(&c, &m);
		size_t rows = pl_chunk_ctl_rows(&c);
		most = rows > most ? rows : most;
	}
	CU_ASSERT(most * WIDTH + m.state_bytes <= m.budget / 2);
	CU_ASSERT(most >= 4096); /* it did grow as far as it could */
}

/* A sudden clear drop in throughput (the chain turned three times
 * slower) makes it search again within a few chunks; the knee did not
 * move, so it ends there again rather than ratcheting down. */
static void test_searches_again_on_drop(void)
{
	pl_chunk_ctl c;
	model m = {0, (size_t)1 << 30, 0, 0, 0};
	pl_chunk_ctl_init(&c, PL_CHUNK_MIN_ROWS, 0);
	run_chunks(&c, &m, 300);
	size_t before = pl_chunk_ctl_rows(&c);
	m.slow = 3;
	int steps = 0;
	while (pl_chunk_ctl_rows(&c) == before && steps < 100) {
		run_chunk(&c, &m);
		steps++;
	}
	CU_ASSERT(steps <= 12);
	run_chunks(&c, &m, 300);
	size_t rows = pl_chunk_ctl_rows(&c);
	CU_ASSERT(rows >= KNEE_ROWS * 3 / 4 && rows <= KNEE_ROWS * 5 / 4);
}

/* A chain whose rows cost so much that the chunk size hardly matters (a
 * group-by with millions of groups), slowing down as its state grows and
 * hit now and then by a chunk four times slower (another process took the
 * core), must not walk the size down to the minimum: each hit is a clear
 * drop, and no other size measures clearly better afterwards. */
static void test_decline_with_hiccups_keeps_size(void)
{
	pl_chunk_ctl c;
	model m = {0, (size_t)1 << 30, 0, 0, 200e-9};
	pl_chunk_ctl_init(&c, 4 * KNEE_ROWS, 0);
	for (int i = 0; i < 3000; i++) {
		m.slow = (1.0 + i / 1000.0) * (i % 40 == 0 ? 4 : 1);
		run_chunk(&c, &m);
	}
	CU_ASSERT(pl_chunk_ctl_rows(&c) >= KNEE_ROWS / 4);
}

static void test_fixed_stays_fixed(void)
{
	pl_chunk_ctl c;
	model m = {0, (size_t)64 << 20, 0, 0, 0};
	pl_chunk_ctl_init(&c, 5000, 1);
	run_chunks(&c, &m, 50);
	CU_ASSERT_EQUAL(pl_chunk_ctl_rows(&c), 5000);
	m.state_bytes = (size_t)63 << 20; /* not even pressure moves it */
	run_chunks(&c, &m, 50);
	CU_ASSERT_EQUAL(pl_chunk_ctl_rows(&c), 5000);
	uint64_t s[PL_CHUNK_SAMPLES];
	size_t n = pl_chunk_ctl_samples(&c, s);
	CU_ASSERT_EQUAL(n, PL_CHUNK_SAMPLES);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(s[i], 5000);
}

/* Samples span the run: the first is the start, the last the latest. */
static void test_samples_span_the_run(void)
{
	pl_chunk_ctl c;
	model m = {0, (size_t)1 << 30, 0, 0, 0};
	uint64_t s[PL_CHUNK_SAMPLES];
	pl_chunk_ctl_init(&c, PL_CHUNK_MIN_ROWS, 0);
	CU_ASSERT_EQUAL(pl_chunk_ctl_samples(&c, s), 0);
	run_chunk(&c, &m);
	CU_ASSERT_EQUAL(pl_chunk_ctl_samples(&c, s), 2);
	CU_ASSERT_EQUAL(s[0], PL_CHUNK_MIN_ROWS);
	run_chunks(&c, &m, 999);
	size_t n = pl_chunk_ctl_samples(&c, s);
	CU_ASSERT(n >= PL_CHUNK_SAMPLES / 2 && n <= PL_CHUNK_SAMPLES);
	CU_ASSERT_EQUAL(s[0], PL_CHUNK_MIN_ROWS);
	CU_ASSERT_EQUAL(s[n - 1], pl_chunk_ctl_rows(&c));
	CU_ASSERT(s[n / 2] > PL_CHUNK_MIN_ROWS); /* mid-run it had grown */
}

static const pl_test tests[] = {
    {"start_rows", test_start_rows},
    {"converges_up_from_small", test_converges_up_from_small},
    {"converges_down_from_large", test_converges_down_from_large},
    {"converges_with_noise", test_converges_with_noise},
    {"backs_off_under_pressure", test_backs_off_under_pressure},
    {"headroom_caps_growth", test_headroom_caps_growth},
    {"searches_again_on_drop", test_searches_again_on_drop},
    {"decline_with_hiccups_keeps_size", test_decline_with_hiccups_keeps_size},
    {"fixed_stays_fixed", test_fixed_stays_fixed},
    {"samples_span_the_run", test_samples_span_the_run},
    {NULL, NULL}};

PL_TEST_MAIN("chunk_controller", tests)

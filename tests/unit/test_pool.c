#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"
#include "pipeline/pool.h"

static void reuse_same_class(void)
{
	pl_pool *p = pl_pool_create(1 << 20);
	void *a = pl_pool_alloc(p, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(pl_pool_size(a), 128);
	CU_ASSERT_EQUAL((uintptr_t)a % 64, 0);
	pl_pool_free(p, a);
	void *b = pl_pool_alloc(p, 120);
	CU_ASSERT_PTR_EQUAL(a, b);
	pl_pool_stats s = pl_pool_get_stats(p);
	CU_ASSERT_EQUAL(s.allocs, 2);
	CU_ASSERT_EQUAL(s.reuses, 1);
	pl_pool_free(p, b);
	pl_pool_destroy(p);
}

static void accounting_and_peak(void)
{
	pl_pool *p = pl_pool_create(0);
	void *a = pl_pool_alloc(p, 1000); /* 1024 */
	void *b = pl_pool_alloc(p, 5000); /* 8192 */
	pl_pool_stats s = pl_pool_get_stats(p);
	CU_ASSERT_EQUAL(s.bytes_out, 1024 + 8192);
	pl_pool_free(p, b);
	s = pl_pool_get_stats(p);
	CU_ASSERT_EQUAL(s.bytes_out, 1024);
	CU_ASSERT_EQUAL(s.bytes_peak, 1024 + 8192);
	CU_ASSERT_EQUAL(s.bytes_cached, 0); /* cache limit 0: freed */
	pl_pool_free(p, a);
	pl_pool_destroy(p);
}

static void realloc_keeps_bytes(void)
{
	pl_pool *p = pl_pool_create(1 << 20);
	char *a = pl_pool_alloc(p, 10);
	memcpy(a, "abcdefghij", 10);
	char *b = pl_pool_realloc(p, a, 100000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(memcmp(b, "abcdefghij", 10), 0);
	CU_ASSERT(pl_pool_size(b) >= 100000);
	pl_pool_free(p, b);
	pl_pool_destroy(p);
}

static void fault_injection_nth(void)
{
	pl_pool *p = pl_pool_create(1 << 20);
	pl_pool_fail_after(p, 3, 0);
	void *a = pl_pool_alloc(p, 8), *b = pl_pool_alloc(p, 8);
	void *c = pl_pool_alloc(p, 8), *d = pl_pool_alloc(p, 8);
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_PTR_NOT_NULL(b);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(d); /* not sticky */
	pl_pool_fail_after(p, 1, 1);
	CU_ASSERT_PTR_NULL(pl_pool_alloc(p, 8));
	CU_ASSERT_PTR_NULL(pl_pool_alloc(p, 8));
	/* a failed realloc leaves the old buffer owned and intact */
	CU_ASSERT_PTR_NULL(pl_pool_realloc(p, a, 4096));
	pl_pool_fail_after(p, 0, 0);
	pl_pool_free(p, a);
	pl_pool_free(p, b);
	pl_pool_free(p, d);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).bytes_out, 0);
	pl_pool_destroy(p);
}

static void cache_limit_bounds_free_lists(void)
{
	pl_pool *p = pl_pool_create(4096);
	void *a = pl_pool_alloc(p, 4096), *b = pl_pool_alloc(p, 4096);
	pl_pool_free(p, a);
	pl_pool_free(p, b);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).bytes_cached, 4096);
	pl_pool_destroy(p);
}

static long minor_faults(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_minflt;
}

#if !defined(__SANITIZE_ADDRESS__)
/* Whether anonymous memory may get huge pages when asked (madvise). */
static int huge_pages_on(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = 0;
		fclose(f);
	}
	return strstr(line, "[always]") || strstr(line, "[madvise]");
}
#endif

/* A big buffer grown from 2 to 64 MiB keeps its bytes, and each new half
 * is faulted in as huge pages: a header on the buffer's first page once
 * put its last bytes in the next huge page's range, which then took 512
 * small-page faults after every growth. Sanitizer builds keep buffers on
 * malloc, so there only the bytes are checked. */
static void grown_buffer_keeps_huge_pages(void)
{
	const size_t huge = (size_t)2 << 20, page = 4096;
	pl_pool *p = pl_pool_create(0);
	size_t cap = huge, from = 0;
	char *b = pl_pool_alloc(p, cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	long faults = 0;
	for (;;) {
#if !defined(__SANITIZE_ADDRESS__)
		CU_ASSERT_EQUAL((uintptr_t)b % huge, 0);
#endif
		long before = minor_faults();
		for (size_t i = from; i < cap; i += page)
			b[i] = (char)(i / page);
		faults += minor_faults() - before;
		if (cap == (size_t)64 << 20)
			break;
		from = cap;
		cap *= 2;
		char *g = pl_pool_realloc(p, b, cap);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g);
		b = g;
	}
	size_t wrong = 0;
	for (size_t i = 0; i < cap; i += page)
		wrong += b[i] != (char)(i / page);
	CU_ASSERT_EQUAL(wrong, 0);
#if defined(__SANITIZE_ADDRESS__)
	(void)faults;
#else
	if (huge_pages_on()) {
		CU_ASSERT(faults < 512);
	} else {
		printf(
		    "(huge pages off here: only bytes and alignment checked) ");
	}
#endif
	pl_pool_free(p, b);
	pl_pool_destroy(p);
}

/* A big buffer that grows takes a cached freed buffer of its new size
 * (memory already faulted in) rather than new pages, keeping its bytes. */
static void growth_takes_cached_buffer(void)
{
	const size_t mib = (size_t)1 << 20;
	pl_pool *p = pl_pool_create(64 * mib);
	char *freed = pl_pool_alloc(p, 8 * mib);
	char *b = pl_pool_alloc(p, 4 * mib);
	CU_ASSERT_PTR_NOT_NULL_FATAL(freed);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memset(b, 7, 4 * mib);
	pl_pool_free(p, freed);
	uint64_t reuses = pl_pool_get_stats(p).reuses;
	char *g = pl_pool_realloc(p, b, 8 * mib);
	CU_ASSERT_PTR_EQUAL(g, freed);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).reuses, reuses + 1);
	size_t wrong = 0;
	for (size_t i = 0; g != NULL && i < 4 * mib; i++)
		wrong += g[i] != 7;
	CU_ASSERT_EQUAL(wrong, 0);
	pl_pool_free(p, g);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).bytes_out, 0);
	pl_pool_destroy(p);
}

/* Mid-sized buffers (64 KiB up to the mapped 2 MiB ones) of a pool with
 * room to cache come from slabs on huge pages: touching 64 of 64 KiB costs
 * a few page faults, not one a page (1024). Each keeps its bytes beside
 * its neighbours. */
static void mid_buffers_share_huge_pages(void)
{
	const size_t kib64 = (size_t)64 << 10, page = 4096;
	enum { N = 64 };
	pl_pool *p = pl_pool_create((size_t)64 << 20);
	char *b[N];
	long before = minor_faults();
	for (size_t k = 0; k < N; k++) {
		b[k] = pl_pool_alloc(p, kib64);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b[k]);
		CU_ASSERT_EQUAL((uintptr_t)b[k] % 64, 0);
		CU_ASSERT(pl_pool_size(b[k]) >= kib64);
		for (size_t i = 0; i < kib64; i += page / 2)
			b[k][i] = (char)(k + i / page);
	}
	long faults = minor_faults() - before;
	size_t wrong = 0;
	for (size_t k = 0; k < N; k++)
		for (size_t i = 0; i < kib64; i += page / 2)
			wrong += b[k][i] != (char)(k + i / page);
	CU_ASSERT_EQUAL(wrong, 0);
#if defined(__SANITIZE_ADDRESS__)
	(void)faults;
#else
	if (huge_pages_on()) {
		CU_ASSERT(faults < (long)(N * kib64 / page / 8));
	} else {
		printf("(huge pages off here: only bytes checked) ");
	}
#endif
	for (size_t k = 0; k < N; k++)
		pl_pool_free(p, b[k]);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).bytes_out, 0);
	pl_pool_destroy(p);
}

/* Past the cache limit a freed slab buffer is not counted as cached (its
 * pages went back to the kernel), yet it is handed out again, whole and
 * writable, and its neighbour keeps its bytes. */
static void cold_slab_buffer_reused(void)
{
	const size_t kib128 = (size_t)128 << 10;
	pl_pool *p = pl_pool_create((size_t)64 << 20);
	char *a = pl_pool_alloc(p, kib128), *b = pl_pool_alloc(p, kib128);
	char *c = pl_pool_alloc(p, kib128);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(a, 1, kib128);
	memset(b, 2, kib128);
	memset(c, 3, kib128);
	pl_pool_set_cache_limit(p, kib128);
	pl_pool_free(p, a); /* cached: within the limit */
	pl_pool_free(p, c); /* past it */
	pl_pool_stats s = pl_pool_get_stats(p);
	CU_ASSERT_EQUAL(s.bytes_cached, kib128);
	CU_ASSERT_EQUAL(s.bytes_out, kib128);
	pl_pool_set_cache_limit(p, 0);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).bytes_cached, 0);
	uint64_t reuses = pl_pool_get_stats(p).reuses;
	char *x = pl_pool_alloc(p, kib128), *y = pl_pool_alloc(p, kib128);
#if !defined(__SANITIZE_ADDRESS__) /* there no slabs: c was freed */
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).reuses, reuses + 2);
#else
	(void)reuses;
#endif
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	memset(x, 4, kib128);
	memset(y, 5, kib128);
	size_t wrong = 0;
	for (size_t i = 0; i < kib128; i++)
		wrong += (b[i] != 2) + (x[i] != 4) + (y[i] != 5);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).bytes_cached, 0);
	pl_pool_free(p, x);
	pl_pool_free(p, y);
	pl_pool_free(p, b);
	CU_ASSERT_EQUAL(pl_pool_get_stats(p).bytes_out, 0);
	pl_pool_destroy(p);
}

static const pl_test tests[] = {
    {"reuse_same_class", reuse_same_class},
    {"accounting_and_peak", accounting_and_peak},
    {"realloc_keeps_bytes", realloc_keeps_bytes},
    {"fault_injection_nth", fault_injection_nth},
    {"cache_limit_bounds_free_lists", cache_limit_bounds_free_lists},
    {"grown_buffer_keeps_huge_pages", grown_buffer_keeps_huge_pages},
    {"growth_takes_cached_buffer", growth_takes_cached_buffer},
    {"mid_buffers_share_huge_pages", mid_buffers_share_huge_pages},
    {"cold_slab_buffer_reused", cold_slab_buffer_reused},
    {NULL, NULL},
};

PL_TEST_MAIN("pool", tests)

/* Size classes are powers of two from 64 bytes. Each buffer carries a
 * 64-byte header (its class, and the free-list link while cached) so that
 * free needs no size and user memory stays 64-byte aligned.
 *
 * A mutex guards the lists and counters: a read-ahead thread allocates
 * batches while the operators allocate their state. Calls are per buffer,
 * never per row, so the uncontended lock costs nothing measurable. */
#define _GNU_SOURCE /* mremap */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pipeline/pool.h"

#define POOL_MIN_SHIFT 6
#define POOL_CLASSES 48
#define POOL_HEADER 64
#define POOL_HUGE_PAGE ((size_t)2 << 20)

typedef struct pool_header {
	struct pool_header *next; /* free-list link while cached */
	uint32_t cls;
	uint32_t magic;
} pool_header;

#define POOL_MAGIC 0x706c706cu

/* Buffers of this class and up (2 MiB) are mappings of their own, so that
 * growing one remaps it: its pages stay where they are instead of being
 * copied into fresh memory that the kernel must first fault in and zero
 * (most of a group-by's time with ten million groups, measured). Sanitizer
 * builds keep every buffer on malloc, where AddressSanitizer watches it. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_MAP_CLASS POOL_CLASSES
#else
#define POOL_MAP_CLASS 15
#endif

struct pl_pool {
	pthread_mutex_t lock;
	pool_header *free_list[POOL_CLASSES];
	size_t cache_limit;
	pl_pool_stats stats;
	uint64_t alloc_count; /* attempts, for fault injection */
	uint64_t fail_at;     /* 0: off */
	int fail_sticky;
};

static size_t class_bytes(uint32_t cls)
{
	return (size_t)1 << (cls + POOL_MIN_SHIFT);
}

/* A mapped block is one small page that ends with the header, then the
 * buffer, which starts on a huge-page boundary and is asked to use huge
 * pages (fewer, larger pages: a tenth of the faults on big tables). The
 * buffer's alignment is what keeps them huge: mremap moves whole huge pages
 * only between aligned addresses, and splits them into 4 KiB pages
 * otherwise (a sort of ten million rows gathering from such split columns
 * ran seven times slower on a virtual machine, where every TLB miss walks
 * two page tables); and a header on the buffer's first page instead would
 * push the buffer's last bytes into the next huge page's range, which then
 * holds a small page and faults in 4 KiB pages after every growth (512
 * faults each, most of a ten-million-group table's page faults). */
static size_t page_bytes(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static char *map_start(pool_header *h)
{
	return (char *)h + POOL_HEADER - page_bytes();
}

static pool_header *header_at(char *map)
{
	return (pool_header *)(map + page_bytes() - POOL_HEADER);
}

/* Maps a block whose buffer holds bytes (a multiple of the page size);
 * returns the start of the mapping, or NULL. */
static char *map_block(size_t bytes)
{
	size_t page = page_bytes(), len = page + bytes;
	char *m = mmap(NULL, len + POOL_HUGE_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	size_t head =
	    (POOL_HUGE_PAGE - (uintptr_t)(m + page) % POOL_HUGE_PAGE) %
	    POOL_HUGE_PAGE;
	if (head > 0)
		munmap(m, head);
	if (head < POOL_HUGE_PAGE)
		munmap(m + head + len, POOL_HUGE_PAGE - head);
	madvise(m + head, len, MADV_HUGEPAGE); /* all: mremap wants one VMA */
	return m + head;
}

static pool_header *new_block(uint32_t cls)
{
	if (cls < POOL_MAP_CLASS)
		return aligned_alloc(POOL_HEADER,
				     POOL_HEADER + class_bytes(cls));
	char *m = map_block(class_bytes(cls));
	return m == NULL ? NULL : header_at(m);
}

static void release_block(pool_header *h)
{
	if (h->cls < POOL_MAP_CLASS)
		free(h);
	else
		munmap(map_start(h), page_bytes() + class_bytes(h->cls));
}

pl_pool *pl_pool_create(size_t cache_limit)
{
	pl_pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return NULL;
	}
	p->cache_limit = cache_limit;
	return p;
}

void pl_pool_set_cache_limit(pl_pool *pool, size_t cache_limit)
{
	pthread_mutex_lock(&pool->lock);
	pool->cache_limit = cache_limit;
	for (int c = POOL_CLASSES - 1; c >= 0; c--) {
		while (pool->stats.bytes_cached > cache_limit &&
		       pool->free_list[c] != NULL) {
			pool_header *h = pool->free_list[c];
			pool->free_list[c] = h->next;
			pool->stats.bytes_cached -= class_bytes((uint32_t)c);
			release_block(h);
		}
	}
	pthread_mutex_unlock(&pool->lock);
}

void pl_pool_destroy(pl_pool *pool)
{
	if (pool == NULL)
		return;
	for (int c = 0; c < POOL_CLASSES; c++) {
		pool_header *h = pool->free_list[c];
		while (h != NULL) {
			pool_header *next = h->next;
			release_block(h);
			h = next;
		}
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

static int class_of(size_t size, uint32_t *cls)
{
	uint32_t c = 0;
	while (class_bytes(c) < size) {
		if (++c >= POOL_CLASSES)
			return -1;
	}
	*cls = c;
	return 0;
}

static int should_fail(pl_pool *pool)
{
	pool->alloc_count++;
	if (pool->fail_at == 0 || pool->alloc_count < pool->fail_at)
		return 0;
	if (pool->alloc_count == pool->fail_at || pool->fail_sticky)
		return 1;
	return 0;
}

static void *take(pl_pool *pool, uint32_t cls)
{
	pool_header *h = pool->free_list[cls];
	size_t bytes = class_bytes(cls);
	if (h != NULL) {
		pool->free_list[cls] = h->next;
		pool->stats.bytes_cached -= bytes;
		pool->stats.reuses++;
	} else {
		h = new_block(cls);
		if (h == NULL)
			return NULL;
		h->cls = cls;
		h->magic = POOL_MAGIC;
	}
	h->next = NULL;
	pool->stats.allocs++;
	pool->stats.bytes_out += bytes;
	if (pool->stats.bytes_out > pool->stats.bytes_peak)
		pool->stats.bytes_peak = pool->stats.bytes_out;
	return (char *)h + POOL_HEADER;
}

void *pl_pool_alloc(pl_pool *pool, size_t size)
{
	uint32_t cls;
	pthread_mutex_lock(&pool->lock);
	void *p = should_fail(pool) || class_of(size, &cls) != 0
		      ? NULL
		      : take(pool, cls);
	pthread_mutex_unlock(&pool->lock);
	return p;
}

void *pl_pool_calloc(pl_pool *pool, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	void *p = pl_pool_alloc(pool, n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

static pool_header *header_of(const void *p)
{
	return (pool_header *)((char *)p - POOL_HEADER);
}

size_t pl_pool_size(const void *p)
{
	return p == NULL ? 0 : class_bytes(header_of(p)->cls);
}

void pl_pool_free(pl_pool *pool, void *p)
{
	if (p == NULL)
		return;
	pool_header *h = header_of(p);
	size_t bytes = class_bytes(h->cls);
	pthread_mutex_lock(&pool->lock);
	pool->stats.bytes_out -= bytes;
	int keep = pool->stats.bytes_cached + bytes <= pool->cache_limit;
	if (keep) {
		h->next = pool->free_list[h->cls];
		pool->free_list[h->cls] = h;
		pool->stats.bytes_cached += bytes;
	}
	pthread_mutex_unlock(&pool->lock);
	if (!keep)
		release_block(h);
}

/* Grows the block at h from a buffer of have to want bytes, in place when
 * the addresses after it are free, else by moving its pages to a new
 * mapping laid out as map_block's; returns the block's new header, or
 * NULL (h intact) when neither can be done. */
static pool_header *move_block(pool_header *h, size_t have, size_t want)
{
	size_t page = page_bytes();
	char *from = map_start(h);
	char *m = mremap(from, page + have, page + want, 0);
	if (m != MAP_FAILED) {
		madvise(m, page + want, MADV_HUGEPAGE);
		return header_at(m);
	}
	char *to = map_block(want);
	if (to == NULL)
		return NULL;
	m = mremap(from, page + have, page + want,
		   MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (m == MAP_FAILED) {
		munmap(to, page + want);
		return NULL;
	}
	return header_at(m);
}

/* Grows a mapped buffer in place or by moving its pages; NULL (p intact)
 * when that fails. */
static void *remap(pl_pool *pool, void *p, size_t size)
{
	uint32_t cls;
	void *q = NULL;
	pthread_mutex_lock(&pool->lock);
	if (!should_fail(pool) && class_of(size, &cls) == 0) {
		pool_header *h = header_of(p);
		size_t have = class_bytes(h->cls), want = class_bytes(cls);
		pool_header *m = move_block(h, have, want);
		if (m != NULL) {
			h = m;
			h->cls = cls;
			pool->stats.allocs++;
			pool->stats.bytes_out += want - have;
			if (pool->stats.bytes_out > pool->stats.bytes_peak)
				pool->stats.bytes_peak = pool->stats.bytes_out;
			q = (char *)h + POOL_HEADER;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return q;
}

/* Whether a freed buffer of size's class waits in the cache. */
static int cached(pl_pool *pool, size_t size)
{
	uint32_t cls;
	pthread_mutex_lock(&pool->lock);
	int yes = class_of(size, &cls) == 0 && pool->free_list[cls] != NULL;
	pthread_mutex_unlock(&pool->lock);
	return yes;
}

/* A mapped buffer grows by remapping unless a freed buffer of the new
 * class is cached: copying into memory already faulted in costs less than
 * faulting in new pages (on a virtual machine several times less). */
void *pl_pool_realloc(pl_pool *pool, void *p, size_t size)
{
	if (p == NULL)
		return pl_pool_alloc(pool, size);
	size_t have = pl_pool_size(p);
	if (size <= have && size > have / 4)
		return p;
	if (size > have && header_of(p)->cls >= POOL_MAP_CLASS &&
	    !cached(pool, size))
		return remap(pool, p, size);
	void *q = pl_pool_alloc(pool, size);
	if (q == NULL)
		return NULL;
	memcpy(q, p, size < have ? size : have);
	pl_pool_free(pool, p);
	return q;
}

pl_pool_stats pl_pool_get_stats(const pl_pool *pool)
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&pool->lock;
	pthread_mutex_lock(lock);
	pl_pool_stats s = pool->stats;
	pthread_mutex_unlock(lock);
	return s;
}

void pl_pool_fail_after(pl_pool *pool, uint64_t n, int sticky)
{
	pthread_mutex_lock(&pool->lock);
	pool->alloc_count = 0;
	pool->fail_at = n;
	pool->fail_sticky = sticky;
	pthread_mutex_unlock(&pool->lock);
}

char *pl_pool_strdup(pl_pool *pool, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = pl_pool_alloc(pool, n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

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
	uint8_t slab; /* carved from a slab: never unmapped alone */
	uint8_t cold; /* cached with its pages handed back */
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

/* Buffers from this class (64 KiB) up to the mapped ones are carved from
 * slabs: huge-page-aligned mappings cut into blocks of any of these
 * classes, one after the other. On a virtual machine whose guest page
 * tables are shadowed by the hypervisor, the first touch of every 4 KiB
 * page traps (3-10 us each measured on the 2-core test VM), and a rank's
 * batches, tables and exchange buffers are mostly such mid-sized buffers:
 * on huge pages that is one trap per 2 MiB. All classes share the slab
 * being cut, so that at most its last huge page is resident and unused.
 * Smaller classes stay on malloc, and so do all when the cache limit is
 * under POOL_SLAB_MIN_CACHE: a tight budget (a rank's is 8 times its cache
 * limit) wants memory resident by the 4 KiB page, not by the 2 MiB. A slab
 * block is never unmapped alone: past the cache limit its pages are handed
 * back (MADV_DONTNEED) and it waits, cold, on its free list. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_SLAB_CLASS POOL_CLASSES
#else
#define POOL_SLAB_CLASS 10
#endif
#define POOL_SLAB_BYTES ((size_t)8 << 20)
#define POOL_SLAB_MIN_CACHE ((size_t)16 << 20)

typedef struct pool_slab {
	struct pool_slab *next;
	size_t bytes;
} pool_slab;

struct pl_pool {
	pthread_mutex_t lock;
	pool_header *free_list[POOL_CLASSES];
	char *slab_at; /* where the slab being cut has room */
	char *slab_end;
	pool_slab *slabs; /* every slab, for pl_pool_destroy */
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

/* Maps lead + bytes (multiples of the page size) so that the bytes start
 * on a huge-page boundary, asked to use huge pages; returns the start of
 * the mapping, or NULL. */
static char *map_huge(size_t lead, size_t bytes)
{
	size_t len = lead + bytes;
	char *m = mmap(NULL, len + POOL_HUGE_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	size_t head =
	    (POOL_HUGE_PAGE - (uintptr_t)(m + lead) % POOL_HUGE_PAGE) %
	    POOL_HUGE_PAGE;
	if (head > 0)
		munmap(m, head);
	if (head < POOL_HUGE_PAGE)
		munmap(m + head + len, POOL_HUGE_PAGE - head);
	madvise(m + head, len, MADV_HUGEPAGE); /* all: mremap wants one VMA */
	return m + head;
}

/* Maps a block whose buffer holds bytes (a multiple of the page size);
 * returns the start of the mapping, or NULL. */
static char *map_block(size_t bytes)
{
	return map_huge(page_bytes(), bytes);
}

/* The next block of class cls from the slab being cut, mapping a new slab
 * when it has no room left; NULL when that fails. */
static pool_header *carve(pl_pool *pool, uint32_t cls)
{
	size_t stride = POOL_HEADER + class_bytes(cls);
	if (pool->slab_at == NULL ||
	    (size_t)(pool->slab_end - pool->slab_at) < stride) {
		pool_slab *s = (pool_slab *)map_huge(0, POOL_SLAB_BYTES);
		if (s == NULL)
			return NULL;
		s->next = pool->slabs;
		s->bytes = POOL_SLAB_BYTES;
		pool->slabs = s;
		pool->slab_at = (char *)s + POOL_HEADER;
		pool->slab_end = (char *)s + POOL_SLAB_BYTES;
	}
	pool_header *h = (pool_header *)pool->slab_at;
	pool->slab_at += stride;
	h->slab = 1;
	return h;
}

static pool_header *new_block(pl_pool *pool, uint32_t cls)
{
	pool_header *h;
	if (cls >= POOL_SLAB_CLASS && cls < POOL_MAP_CLASS &&
	    pool->cache_limit >= POOL_SLAB_MIN_CACHE)
		return carve(pool, cls);
	if (cls < POOL_MAP_CLASS) {
		h = aligned_alloc(POOL_HEADER, POOL_HEADER + class_bytes(cls));
	} else {
		char *m = map_block(class_bytes(cls));
		h = m == NULL ? NULL : header_at(m);
	}
	if (h != NULL)
		h->slab = 0;
	return h;
}

static void release_block(pool_header *h)
{
	if (h->cls < POOL_MAP_CLASS)
		free(h);
	else
		munmap(map_start(h), page_bytes() + class_bytes(h->cls));
}

/* Hands a slab block's whole pages back to the kernel; its header, on a
 * page it may share, stays. */
static void cool(pool_header *h)
{
	size_t page = page_bytes();
	uintptr_t from = (uintptr_t)h + POOL_HEADER;
	uintptr_t to = from + class_bytes(h->cls);
	from = (from + page - 1) / page * page;
	to = to / page * page;
	if (to > from)
		madvise((void *)from, to - from, MADV_DONTNEED);
	h->cold = 1;
}

/* Puts h on its class's free list. */
static void push(pl_pool *pool, pool_header *h)
{
	h->next = pool->free_list[h->cls];
	pool->free_list[h->cls] = h;
	if (!h->cold)
		pool->stats.bytes_cached += class_bytes(h->cls);
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
		pool_header **at = &pool->free_list[c];
		while (*at != NULL && pool->stats.bytes_cached > cache_limit) {
			pool_header *h = *at;
			if (h->cold) {
				at = &h->next;
				continue;
			}
			pool->stats.bytes_cached -= class_bytes((uint32_t)c);
			if (h->slab) {
				cool(h);
				at = &h->next;
			} else {
				*at = h->next;
				release_block(h);
			}
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
			if (!h->slab)
				release_block(h);
			h = next;
		}
	}
	while (pool->slabs != NULL) {
		pool_slab *s = pool->slabs;
		pool->slabs = s->next;
		munmap(s, s->bytes);
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
		if (!h->cold)
			pool->stats.bytes_cached -= bytes;
		h->cold = 0;
		pool->stats.reuses++;
	} else {
		h = new_block(pool, cls);
		if (h == NULL)
			return NULL;
		h->cls = cls;
		h->magic = POOL_MAGIC;
		h->cold = 0;
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
	int slab = h->slab;
	pthread_mutex_lock(&pool->lock);
	pool->stats.bytes_out -= bytes;
	int keep = pool->stats.bytes_cached + bytes <= pool->cache_limit;
	if (!keep && slab)
		cool(h);
	if (keep || slab)
		push(pool, h);
	pthread_mutex_unlock(&pool->lock);
	if (!keep && !slab)
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

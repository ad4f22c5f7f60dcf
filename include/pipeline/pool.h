/* The per-rank buffer pool: size-classed, recycled buffers with byte
 * accounting and fault injection. Every batch buffer and every operator's
 * state comes from here, so the pool's count of bytes out is what the
 * memory budget reads. One pool per rank, owned by the runtime context;
 * its calls may come from several threads (the read-ahead thread reads
 * batches while operators work). With fault injection on, which call is
 * the Nth is only deterministic when one thread allocates. */
#ifndef PIPELINE_POOL_H
#define PIPELINE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/api.h"

PL_BEGIN_DECLS

typedef struct pl_pool pl_pool;

typedef struct pl_pool_stats {
	size_t bytes_out;    /* bytes handed out now (size-class sizes) */
	size_t bytes_peak;   /* high-water mark of bytes_out */
	size_t bytes_cached; /* bytes held in free lists for reuse */
	uint64_t allocs;     /* pl_pool_alloc/realloc calls that succeeded */
	uint64_t reuses;     /* of those, served from a free list */
} pl_pool_stats;

/* Creates a pool that keeps at most cache_limit bytes of freed buffers for
 * reuse. Returns NULL when out of memory. */
PL_API pl_pool *pl_pool_create(size_t cache_limit);

/* Lowers or raises the bytes of freed buffers kept for reuse; buffers
 * cached beyond the new limit are freed now. */
PL_API void pl_pool_set_cache_limit(pl_pool *pool, size_t cache_limit);

/* Frees every cached buffer and the pool. Buffers still out are the
 * caller's leak; pl_pool_stats tells. */
PL_API void pl_pool_destroy(pl_pool *pool);

/* Returns a buffer of at least size bytes (aligned to 64), or NULL when the
 * allocation fails or fault injection says so. size 0 gives a valid small
 * buffer. The caller owns it until pl_pool_free. */
PL_API void *pl_pool_alloc(pl_pool *pool, size_t size);

/* Like pl_pool_alloc, zero-filled. */
PL_API void *pl_pool_calloc(pl_pool *pool, size_t n, size_t size);

/* Grows or shrinks p (NULL allocates) keeping its first min(old, new)
 * bytes. On failure returns NULL and p is still valid and owned. */
PL_API void *pl_pool_realloc(pl_pool *pool, void *p, size_t size);

/* Returns p (NULL is fine) to the pool. */
PL_API void pl_pool_free(pl_pool *pool, void *p);

/* Usable size of a buffer from this pool. */
PL_API size_t pl_pool_size(const void *p);

/* Current counters. */
PL_API pl_pool_stats pl_pool_get_stats(const pl_pool *pool);

/* Fault injection: the nth allocation from now (1 = the next) fails, and
 * every later one too when sticky is set. n = 0 turns it off. */
PL_API void pl_pool_fail_after(pl_pool *pool, uint64_t n, int sticky);

/* Duplicates a NUL-terminated string into pool memory (NULL on failure). */
PL_API char *pl_pool_strdup(pl_pool *pool, const char *s);

PL_END_DECLS

#endif

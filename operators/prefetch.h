/* A cache-line prefetch that the compiler keeps. */
#ifndef PIPELINE_OPERATORS_PREFETCH_H
#define PIPELINE_OPERATORS_PREFETCH_H

/* Asks for the cache line holding p, to be read soon; never faults. GCC
 * 12 drops __builtin_prefetch in some loops (the aggregates' updates);
 * the instruction itself is kept where the target has it. */
static inline void pl_prefetch(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p);
#endif
}

#endif

/* A byte source over a plain or zstd-compressed file, read in large
 * blocks. Compression is told by the zstd frame magic, so a .zst name is
 * not needed (but a .zst name without the magic is an error). "-" reads
 * standard input. */
#ifndef PIPELINE_IO_ZSTD_INPUT_H
#define PIPELINE_IO_ZSTD_INPUT_H

#include <stdint.h>
#include <sys/types.h>

#include "pipeline/error.h"
#include "pipeline/pool.h"

typedef struct pl_zin pl_zin;

/* Opens path; its buffers come from pool. Errors are PL_ERR_IO naming the
 * path, or PL_ERR_NOMEM. */
int pl_zin_open(const char *path, pl_pool *pool, pl_zin **out, pl_error *err);

/* Reads up to cap decompressed bytes into buf; returns the count, 0 at
 * the end, or a negative PL_ERR_* (a truncated or corrupt frame is
 * PL_ERR_DATA naming the path). */
ssize_t pl_zin_read(pl_zin *z, void *buf, size_t cap, pl_error *err);

/* Bytes taken from the file so far (compressed bytes for .zst). */
uint64_t pl_zin_bytes_read(const pl_zin *z);

/* The file's size in bytes (0 when unknown, as for a pipe). */
uint64_t pl_zin_size(const pl_zin *z);

/* Closes the file and frees everything; NULL is fine. */
void pl_zin_close(pl_zin *z);

#endif

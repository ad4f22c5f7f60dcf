/* Batches as flat byte messages: for sending rows between ranks, and for
 * operators that spill rows to files of their own ([sort]'s runs).
 *
 * A message holds some rows of a batch, column by column: a type byte per
 * column (checked on decoding, since both sides know the schema), an
 * optional validity bitmap, the fixed-width values, and for strings the
 * offsets rebased to start at zero followed by the bytes they cover. A
 * dictionary-encoded string column travels as such: the entries its rows
 * use, once each, and a 4-byte code per row. The whole body is
 * zstd-compressed when that saves at least a tenth; a flag in the header
 * says which form was kept. Messages are self-delimiting, so a buffer may
 * hold many of them back to back. Values are in host byte order (all ranks
 * of a job share one architecture); the header's magic and version catch
 * anything else.
 *
 * Decoding trusts nothing: every size is checked against the bytes at hand,
 * so a corrupt or truncated message is PL_ERR_DATA, never a crash. */
#ifndef PIPELINE_CODEC_H
#define PIPELINE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/api.h"
#include "pipeline/batch.h"
#include "pipeline/error.h"
#include "pipeline/pool.h"

PL_BEGIN_DECLS

/* Bytes in a message header: magic, version, flags, total and raw size. */
#define PL_CODEC_HEADER_SIZE 24

/* A growable byte buffer in pool memory. Zero-initialise it; the holder
 * owns data and returns it with pl_bytes_free. */
typedef struct pl_bytes {
	uint8_t *data;
	size_t len;
	size_t cap;
} pl_bytes;

/* Makes room for extra more bytes after len (growing geometrically).
 * Returns 0 or PL_ERR_NOMEM, leaving the buffer as it was. */
PL_API int pl_bytes_reserve(pl_bytes *b, size_t extra, pl_pool *pool,
			    pl_error *err);

/* Returns the buffer to the pool and zeroes b. */
PL_API void pl_bytes_free(pl_bytes *b, pl_pool *pool);

/* Encoder and decoder state: compression level, reusable zstd contexts
 * and scratch space, and counters. One per user; not thread-safe. */
typedef struct pl_codec pl_codec;

typedef struct pl_codec_stats {
	uint64_t messages;	/* messages encoded */
	uint64_t compressed;	/* of those, sent in compressed form */
	uint64_t bytes_raw;	/* their size before compression */
	uint64_t bytes_encoded; /* their size as produced */
	uint64_t bytes_decoded; /* message bytes decoded successfully */
} pl_codec_stats;

/* A codec whose buffers come from pool. level 0 never compresses; any other
 * value is a zstd level (negative ones are the fast levels). Returns NULL
 * with err set (PL_ERR_NOMEM) on failure. */
PL_API pl_codec *pl_codec_create(pl_pool *pool, int level, pl_error *err);

/* Frees the codec and its scratch space (NULL is fine). */
PL_API void pl_codec_destroy(pl_codec *c);

/* Current counters. */
PL_API pl_codec_stats pl_codec_get_stats(const pl_codec *c);

/* Whether decoding keeps dictionary-encoded string columns as such (on)
 * or turns them into plain strings (off, the default). Kept, a message's
 * dictionary column becomes a dictionary column of dst only when that
 * column is empty; appended to rows already there, it is decoded (and a
 * dictionary column of dst is made plain first), since two messages'
 * dictionaries differ. Turn it on only for a reader of the batches that
 * takes dictionary columns (an operator with dict_input). */
PL_API void pl_codec_keep_dict(pl_codec *c, int on);

/* The size of the uncompressed message pl_codec_encode would make for the
 * same rows, or for dictionary columns an upper bound of it (their entries
 * are counted as if the rows used all they could): the most it appends.
 * Used to split rows into messages of bounded size. */
PL_API size_t pl_codec_raw_size(const pl_batch *b, const uint32_t *idx,
				size_t from, size_t n);

/* Appends one message to out holding n rows of b: rows idx[from ..
 * from + n) when idx is set, else rows [from, from + n). Row provenance is
 * not carried. Returns 0, or PL_ERR_NOMEM with out unchanged (its capacity
 * may have grown). */
PL_API int pl_codec_encode(pl_codec *c, const pl_batch *b, const uint32_t *idx,
			   size_t from, size_t n, pl_bytes *out, pl_error *err);

/* Reads the header of the message at buf and sets *size to its length in
 * bytes and *raw (when not NULL) to the length it had before compression,
 * which is what decoding it takes. PL_ERR_DATA when the header is
 * malformed or the message is longer than len. */
PL_API int pl_codec_message_size(const uint8_t *buf, size_t len, size_t *size,
				 size_t *raw, pl_error *err);

/* Decodes the message at the start of buf[0 .. len) and appends its rows to
 * dst, whose column types must match the message's; sets *used to the
 * message's length. dst must not carry provenance (line == NULL). On any
 * failure dst keeps its rows as they were (though a dictionary column of
 * dst may have been made plain): PL_ERR_DATA for a corrupt, truncated or
 * mismatched message, PL_ERR_NOMEM when memory runs out. */
PL_API int pl_codec_decode(pl_codec *c, const uint8_t *buf, size_t len,
			   pl_batch *dst, size_t *used, pl_error *err);

/* Decodes every message of buf[0 .. len), back to back, into dst. On
 * failure the messages before the bad one stay appended. */
PL_API int pl_codec_decode_all(pl_codec *c, const uint8_t *buf, size_t len,
			       pl_batch *dst, pl_error *err);

PL_END_DECLS

#endif

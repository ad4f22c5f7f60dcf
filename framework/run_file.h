/* A run file: batches written to disk as batch-codec messages (zstd when
 * it pays) and read back in the order written. The file is created in a
 * directory on the first flush and unlinked at once, so that it vanishes
 * with its descriptor however the process ends. Spilled operator state
 * and spooled shuffle input use it. */
#ifndef PIPELINE_FRAMEWORK_RUN_FILE_H
#define PIPELINE_FRAMEWORK_RUN_FILE_H

#include <stdint.h>

#include "framework/batch_codec.h"

typedef struct pl_run_file pl_run_file;

/* A run file in dir, encoding with codec (borrowed; it must outlive the
 * file). Nothing is created on disk until data is flushed. */
int pl_run_file_create(const char *dir, pl_codec *codec, pl_pool *pool,
		       pl_run_file **out, pl_error *err);

/* Lets f keep what it gathers in memory, past 128 KiB, while *allowance
 * (a counter shared by the files given it, which each takes from and
 * gives back to) has room; beyond that it writes out as usual. For
 * shuffled rows that a rank's budget can hold: they then never touch the
 * disk. The counter must outlive f. */
void pl_run_file_hold(pl_run_file *f, size_t *allowance);

/* Closes and frees (NULL is fine). */
void pl_run_file_destroy(pl_run_file *f);

/* Appends rows idx[from .. from + n) of b (rows [from, from + n) when idx
 * is NULL) as messages of at most 128 KiB before compression; writes to
 * disk whenever 128 KiB has gathered, so a file holds at most that much
 * memory whatever the size of b. PL_ERR_IO names the directory when it
 * cannot be written (a full disk). */
int pl_run_file_append(pl_run_file *f, const pl_batch *b, const uint32_t *idx,
		       size_t from, size_t n, pl_error *err);

/* Appends len bytes of whole pl_codec messages, as they are (a shuffle's
 * rows as they came over the wire, decoded only when read back): held or
 * gathered like encoded rows, a message larger than 128 KiB written out
 * at once when the file may not hold it. The messages are checked when
 * read (PL_ERR_DATA then). */
int pl_run_file_append_messages(pl_run_file *f, const uint8_t *msgs, size_t len,
				pl_error *err);

/* Room for len bytes of messages at the end of what f gathers (written
 * out first when f may not hold them too): *at, valid until the next
 * call on f. Messages put there and appended with
 * pl_run_file_append_messages(f, *at, len) are not copied again: a
 * shuffle receives them straight into it. PL_ERR_IO or PL_ERR_NOMEM
 * (*at NULL) as for an append. */
int pl_run_file_room(pl_run_file *f, size_t len, uint8_t **at, pl_error *err);

/* Writes what is gathered and gives its buffer back to the pool: a file
 * between appends then holds no memory. */
int pl_run_file_flush(pl_run_file *f, pl_error *err);

/* Hands every batch appended, in order, to fn as a batch of schema (lent
 * for the call). A run never flushed and still under 128 KiB never touches the
 * disk. */
int pl_run_file_replay(pl_run_file *f, const pl_schema *schema,
		       int (*fn)(void *arg, pl_batch *b, pl_error *err),
		       void *arg, pl_error *err);

/* A reader of a run file's batches, one at a time, in the order
 * appended: several files can be read side by side (a merge of sorted
 * runs). Nothing may be appended to the file while it is read. */
typedef struct pl_run_cursor pl_run_cursor;

/* Starts reading f from its first batch, as batches of schema (borrowed;
 * it must outlive the cursor). */
int pl_run_cursor_open(pl_run_file *f, const pl_schema *schema,
		       pl_run_cursor **out, pl_error *err);

/* The next batch in *out, owned by the caller (pl_batch_free with the
 * file's pool), or *out = NULL at the end. PL_ERR_DATA when the file is
 * truncated, PL_ERR_IO when it cannot be read. */
int pl_run_cursor_next(pl_run_cursor *c, pl_batch **out, pl_error *err);

/* Ends the read (NULL is fine); appends then go on at the end. PL_ERR_IO
 * when the file cannot be repositioned (err may be NULL). */
int pl_run_cursor_destroy(pl_run_cursor *c, pl_error *err);

/* Bytes written to disk so far. */
uint64_t pl_run_file_bytes(const pl_run_file *f);

#endif

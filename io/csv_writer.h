/* CSV writer in the contract's output format: a header line, ',' between
 * fields, quotes only where needed, NULL as an empty field, the empty
 * string as "", doubles in the shortest form that reads back the same
 * (Python repr), '\n' line ends; plain or zstd-compressed. Output goes to
 * a temporary file beside the target and is renamed only on commit. */
#ifndef PIPELINE_IO_CSV_WRITER_H
#define PIPELINE_IO_CSV_WRITER_H

#include <stdint.h>

#include "pipeline/batch.h"

typedef struct pl_csv_writer pl_csv_writer;

/* Creates the temporary file beside path ("DIR/.NAME.tmp-PID-XXXXXX") and
 * writes the header. zstd_level 0: plain; > 0: zstd at that level.
 * Errors (directory missing, not writable) are PL_ERR_IO naming path. */
int pl_csv_writer_open(const char *path, const pl_schema *schema,
		       int zstd_level, pl_csv_writer **out, pl_error *err);

/* As pl_csv_writer_open, writing straight to fd (standard output, a FIFO,
 * a device), which the writer owns and closes: no temporary file, nothing
 * renamed, and what was written stays written when the job fails. path
 * names the output in messages. */
int pl_csv_writer_open_fd(const char *path, int fd, const pl_schema *schema,
			  int zstd_level, pl_csv_writer **out, pl_error *err);

/* For one rank's part of an output written by several ranks: like
 * pl_csv_writer_open, with the header only when header is set. */
int pl_csv_writer_open_part(const char *path, const pl_schema *schema,
			    int zstd_level, int header, pl_csv_writer **out,
			    pl_error *err);

/* Ends a part (flushes; a zstd part ends its frame, so that parts
 * concatenate into one valid stream) and lends its temporary file: *fd
 * (readable with pread) and *size bytes. The file stays the writer's:
 * pl_csv_writer_abort removes it. Also for a writer from
 * pl_csv_writer_open whose file others extend before it is committed:
 * the commit then writes nothing more. */
int pl_csv_writer_finish_part(pl_csv_writer *w, int *fd, uint64_t *size,
			      pl_error *err);

/* Appends the rows of b (same column types as the schema). */
int pl_csv_writer_write(pl_csv_writer *w, const pl_batch *b, pl_error *err);

/* Flushes, closes and renames the file to its final name, then frees w
 * (also on failure, after removing the temporary file). */
int pl_csv_writer_commit(pl_csv_writer *w, pl_error *err);

/* Removes the temporary file and frees w. NULL is fine. */
void pl_csv_writer_abort(pl_csv_writer *w);

/* Lets other processes of this host append to w's part (an unnamed file,
 * header included): flushes what w holds, makes w append, and from then on
 * every write holds whole rows, so that the processes' rows interleave but
 * never mix. *proc_path gets the name they open it by (/proc/PID/fd/N,
 * valid while w is open). Returns 0, 1 when w cannot be shared (not an
 * unnamed file, zstd, or ended: nothing changed), or PL_ERR_IO. */
int pl_csv_writer_share(pl_csv_writer *w, char *proc_path, size_t cap,
			pl_error *err);

/* A writer that appends whole rows, without a header, to the part another
 * process shared as proc_path (pl_csv_writer_share); path names the output
 * in messages. The file stays the sharer's: commit or abort only close this
 * writer's descriptor. Returns 0, 1 when proc_path cannot be opened
 * (nothing made), or PL_ERR_NOMEM. */
int pl_csv_writer_open_shared(const char *path, const char *proc_path,
			      const pl_schema *schema, pl_csv_writer **out,
			      pl_error *err);

/* Gives a part written to an unnamed file (O_TMPFILE: no trace on disk
 * if the process dies) a temporary name beside the output, so that other
 * ranks can copy their parts into it (past the size
 * pl_csv_writer_finish_part reported) and pl_csv_writer_commit can rename
 * it into place. Returns 0, 1 when the part cannot be named (no O_TMPFILE
 * on that file system, no /proc: nothing changed), or PL_ERR_IO. */
int pl_csv_writer_link_part(pl_csv_writer *w, pl_error *err);

/* The temporary file's name while it has one, else NULL; owned by w. */
const char *pl_csv_writer_temp_path(const pl_csv_writer *w);

/* Bytes written so far (before compression). */
uint64_t pl_csv_writer_bytes(const pl_csv_writer *w);

/* Writes the shortest repr of v (as Python's repr(float)) into buf (at
 * least 32 bytes), NUL-terminated; returns its length. */
size_t pl_format_double(double v, char *buf);

/* Appends the CSV text of rows of b (no header) to a growing malloc'd
 * buffer *buf of *len bytes used and *cap allocated. */
int pl_csv_encode_batch(const pl_batch *b, char **buf, size_t *len, size_t *cap,
			pl_error *err);

/* Appends the header line for schema, as pl_csv_encode_batch does rows. */
int pl_csv_encode_header(const pl_schema *s, char **buf, size_t *len,
			 size_t *cap, pl_error *err);

#endif

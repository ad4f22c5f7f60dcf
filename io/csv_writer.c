/* The CSV output file: text is encoded into a 1 MiB buffer that is written
 * (or zstd-compressed and written) whenever it fills. The file is built
 * under a temporary name in the target's directory, so that the rename on
 * commit is atomic and a failed job leaves nothing under the final name.
 *
 * There is no fsync before the rename: it would cost the whole write time
 * again on a large output, and the contract promises no partial file after
 * a failed job, not durability across a power cut. */
#define _GNU_SOURCE /* O_TMPFILE, linkat's AT_SYMLINK_FOLLOW */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "framework/crash_cleanup.h"
#include "io/csv_encode.h"
#include "io/csv_writer.h"

#define WRITE_BUFFER (1u << 20)

struct pl_csv_writer {
	pl_csv_out out; /* first, so that the room callback finds w */
	int fd;		/* -1 once closed */
	char *path;
	char *tmp; /* NULL once renamed or removed */
	uint64_t flushed;
	ZSTD_CCtx *zc;
	char *zbuf;
	size_t zcap;
	int ended; /* the stream is complete: nothing more may be written */
	int anon;  /* fd is an unnamed file (O_TMPFILE) that can be linked */
	int whole_rows; /* others append to the file too: write rows whole */
};

static int io_error(pl_csv_writer *w, const char *what, pl_error *err)
{
	return pl_error_set(err, PL_ERR_IO, "%s: cannot %s: %s", w->path, what,
			    strerror(errno));
}

/* Closes and removes the temporary file; safe to call twice. */
static void discard(pl_csv_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	pl_crash_cleanup_disarm(w->tmp);
	if (w->tmp != NULL)
		unlink(w->tmp);
	free(w->tmp);
	w->tmp = NULL;
}

static void destroy(pl_csv_writer *w)
{
	discard(w);
	ZSTD_freeCCtx(w->zc);
	free(w->zbuf);
	free(w->out.buf);
	free(w->path);
	free(w);
}

static int write_all(pl_csv_writer *w, const char *p, size_t n, pl_error *err)
{
	if (w->fd < 0)
		return pl_error_set(err, PL_ERR_IO, "%s: output already failed",
				    w->path);
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int rc = io_error(w, "write", err);
			discard(w);
			return rc;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Feeds n bytes to zstd; ZSTD_e_end also finishes the frame. */
static int compress_out(pl_csv_writer *w, const char *p, size_t n,
			ZSTD_EndDirective mode, pl_error *err)
{
	ZSTD_inBuffer in = {p, n, 0};
	size_t left;
	do {
		ZSTD_outBuffer ob = {w->zbuf, w->zcap, 0};
		left = ZSTD_compressStream2(w->zc, &ob, &in, mode);
		if (ZSTD_isError(left))
			return pl_error_set(err, PL_ERR_INTERNAL,
					    "%s: zstd: %s", w->path,
					    ZSTD_getErrorName(left));
		int rc = write_all(w, w->zbuf, ob.pos, err);
		if (rc != 0)
			return rc;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

static int flush(pl_csv_writer *w, pl_error *err)
{
	size_t n = w->out.len;
	int rc = w->zc ? compress_out(w, w->out.buf, n, ZSTD_e_continue, err)
		       : write_all(w, w->out.buf, n, err);
	if (rc != 0)
		return rc;
	w->flushed += n;
	w->out.len = 0;
	w->out.row = 0;
	return 0;
}

/* Writes the rows encoded whole and keeps the one being encoded: one
 * write() per call, which O_APPEND keeps in one piece among the other
 * processes' appends. */
static int flush_rows(pl_csv_writer *w, pl_error *err)
{
	pl_csv_out *o = &w->out;
	size_t n = o->row;
	int rc = n > 0 ? write_all(w, o->buf, n, err) : 0;
	if (rc != 0)
		return rc;
	memmove(o->buf, o->buf + n, o->len - n);
	w->flushed += n;
	o->len -= n;
	o->row = 0;
	return 0;
}

/* Flushes; a single field (or, for whole rows, a row) larger than the
 * buffer grows it. */
static int make_room(pl_csv_out *o, size_t need, pl_error *err)
{
	pl_csv_writer *w = (pl_csv_writer *)o;
	int rc = w->whole_rows ? flush_rows(w, err) : flush(w, err);
	if (rc != 0 || need <= o->cap - o->len)
		return rc;
	if (need > SIZE_MAX / 2 - o->len)
		return pl_error_nomem(err, "the CSV write buffer");
	size_t cap = o->cap;
	while (cap - o->len < need)
		cap *= 2;
	char *p = realloc(o->buf, cap);
	if (p == NULL)
		return pl_error_nomem(err, "the CSV write buffer");
	o->buf = p;
	o->cap = cap;
	return 0;
}

/* "DIR/.NAME.tmp-PID-XXXXXX" beside path. */
static char *temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	const char *name = path + dirlen;
	size_t cap = strlen(path) + 48;
	char *t = malloc(cap);
	if (t != NULL)
		snprintf(t, cap, "%.*s.%s.tmp-%ld-XXXXXX", dirlen, path, name,
			 (long)getpid());
	return t;
}

/* The usual mode of a new file, 0666 & ~umask (mkstemp makes 0600).
 * umask can only be read by setting it, which is fine while the output is
 * opened: no other thread creates files then. */
static mode_t new_file_mode(void)
{
	mode_t mask = umask(0);
	umask(mask);
	return 0666 & ~mask;
}

static int create_temp(pl_csv_writer *w, pl_error *err)
{
	w->tmp = temp_name(w->path);
	if (w->tmp == NULL)
		return pl_error_nomem(err, "the output file name");
	w->fd = mkstemp(w->tmp);
	if (w->fd < 0) {
		int rc = io_error(w, "create the output file", err);
		free(w->tmp);
		w->tmp = NULL;
		return rc;
	}
	pl_crash_cleanup_arm(w->tmp);
	if (fchmod(w->fd, new_file_mode()) != 0)
		return io_error(w, "set the output file's mode", err);
	return 0;
}

static int start_zstd(pl_csv_writer *w, int level, pl_error *err)
{
	w->zc = ZSTD_createCCtx();
	w->zcap = ZSTD_CStreamOutSize();
	w->zbuf = malloc(w->zcap);
	if (w->zc == NULL || w->zbuf == NULL)
		return pl_error_nomem(err, "a zstd stream");
	size_t r =
	    ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, level);
	if (ZSTD_isError(r))
		return pl_error_set(err, PL_ERR_CONF, "%s: zstd level %d: %s",
				    w->path, level, ZSTD_getErrorName(r));
	/* Each frame ends with a checksum of its content, so that a damaged
	 * file is an error when read back, not wrong values. */
	r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r))
		return pl_error_set(err, PL_ERR_INTERNAL, "%s: zstd: %s",
				    w->path, ZSTD_getErrorName(r));
	return 0;
}

/* fd < 0: a temporary file beside path; else written straight to fd. */
static int open_writer(pl_csv_writer *w, const char *path, int fd,
		       const pl_schema *schema, int zstd_level, int header,
		       pl_error *err)
{
	w->fd = fd;
	w->path = strdup(path);
	w->out.buf = malloc(WRITE_BUFFER);
	w->out.cap = WRITE_BUFFER;
	w->out.room = make_room;
	if (w->path == NULL || w->out.buf == NULL)
		return pl_error_nomem(err, "the CSV writer");
	int rc = zstd_level > 0 ? start_zstd(w, zstd_level, err) : 0;
	if (rc == 0 && fd < 0)
		rc = create_temp(w, err);
	if (rc == 0 && header)
		rc = pl_csv_out_header(&w->out, schema, err);
	return rc;
}

static int open_any(const char *path, int fd, const pl_schema *schema,
		    int zstd_level, int header, pl_csv_writer **out,
		    pl_error *err)
{
	*out = NULL;
	pl_csv_writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		if (fd >= 0)
			close(fd);
		return pl_error_nomem(err, "the CSV writer");
	}
	int rc = open_writer(w, path, fd, schema, zstd_level, header, err);
	if (rc != 0) {
		destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

int pl_csv_writer_open(const char *path, const pl_schema *schema,
		       int zstd_level, pl_csv_writer **out, pl_error *err)
{
	return open_any(path, -1, schema, zstd_level, 1, out, err);
}

int pl_csv_writer_open_fd(const char *path, int fd, const pl_schema *schema,
			  int zstd_level, pl_csv_writer **out, pl_error *err)
{
	return open_any(path, fd, schema, zstd_level, 1, out, err);
}

/* An unnamed file in path's directory (O_TMPFILE), or -1 where the file
 * system has none (NFS, for one). */
static int open_unnamed(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir =
	    slash ? strndup(path, (size_t)(slash - path + 1)) : strdup(".");
	if (dir == NULL)
		return -1;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, new_file_mode());
	free(dir);
	return fd;
}

int pl_csv_writer_open_part(const char *path, const pl_schema *schema,
			    int zstd_level, int header, pl_csv_writer **out,
			    pl_error *err)
{
	int fd = open_unnamed(path);
	if (fd >= 0) {
		int rc =
		    open_any(path, fd, schema, zstd_level, header, out, err);
		if (rc == 0)
			(*out)->anon = 1;
		return rc;
	}
	int rc = open_any(path, -1, schema, zstd_level, header, out, err);
	/* A part is read back through its descriptor only: unlinked now, it
	 * cannot outlive the process, even one killed with SIGKILL. */
	if (rc == 0) {
		pl_crash_cleanup_disarm((*out)->tmp);
		unlink((*out)->tmp);
		free((*out)->tmp);
		(*out)->tmp = NULL;
	}
	return rc;
}

/* The name linkat gives an unnamed file: temp_name's pattern with a
 * suffix from the clock and a counter, tried until one is free. */
static int link_unnamed(pl_csv_writer *w, char *name, pl_error *err)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->fd);
	size_t stem = strlen(name) - 6;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(name + stem, 7, "%06lx",
			 ((unsigned long)ts.tv_nsec + i * 7919u) & 0xffffffu);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) ==
		    0)
			return 0;
		if (errno != EEXIST)
			return errno == ENOENT || errno == EPERM ||
				       errno == EOPNOTSUPP
				   ? 1
				   : io_error(w, "name the output file", err);
	}
	return io_error(w, "name the output file", err);
}

int pl_csv_writer_link_part(pl_csv_writer *w, pl_error *err)
{
	if (w->tmp != NULL)
		return 0;
	if (!w->anon)
		return 1;
	char *name = temp_name(w->path);
	if (name == NULL)
		return pl_error_nomem(err, "the output file name");
	int rc = link_unnamed(w, name, err);
	if (rc != 0) {
		free(name);
		return rc;
	}
	w->tmp = name;
	pl_crash_cleanup_arm(w->tmp);
	return 0;
}

int pl_csv_writer_share(pl_csv_writer *w, char *proc_path, size_t cap,
			pl_error *err)
{
	if (!w->anon || w->zc != NULL || w->ended || w->fd < 0)
		return 1;
	int rc = flush(w, err);
	if (rc != 0)
		return rc;
	int flags = fcntl(w->fd, F_GETFL);
	if (flags < 0 || fcntl(w->fd, F_SETFL, flags | O_APPEND) != 0)
		return 1;
	w->whole_rows = 1;
	snprintf(proc_path, cap, "/proc/%ld/fd/%d", (long)getpid(), w->fd);
	return 0;
}

int pl_csv_writer_open_shared(const char *path, const char *proc_path,
			      const pl_schema *schema, pl_csv_writer **out,
			      pl_error *err)
{
	*out = NULL;
	int fd = open(proc_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return 1;
	int rc = open_any(path, fd, schema, 0, 0, out, err);
	if (rc == 0)
		(*out)->whole_rows = 1;
	return rc;
}

int pl_csv_writer_write(pl_csv_writer *w, const pl_batch *b, pl_error *err)
{
	return pl_csv_out_rows(&w->out, b, err);
}

/* Once only: a second zstd end would add an empty frame after the bytes
 * other ranks were told end the part. */
static int end_stream(pl_csv_writer *w, pl_error *err)
{
	if (w->ended)
		return 0;
	int rc = flush(w, err);
	if (rc == 0 && w->zc)
		rc = compress_out(w, NULL, 0, ZSTD_e_end, err);
	w->ended = rc == 0;
	return rc;
}

int pl_csv_writer_finish_part(pl_csv_writer *w, int *fd, uint64_t *size,
			      pl_error *err)
{
	int rc = end_stream(w, err);
	if (rc != 0)
		return rc;
	off_t end = lseek(w->fd, 0, SEEK_END);
	if (end < 0)
		return io_error(w, "write", err);
	*fd = w->fd;
	*size = (uint64_t)end;
	return 0;
}

static int finish_file(pl_csv_writer *w, pl_error *err)
{
	int rc = end_stream(w, err);
	if (rc != 0)
		return rc;
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) != 0)
		return io_error(w, "write", err);
	if (w->tmp == NULL) /* written straight to a stream */
		return 0;
	pl_crash_cleanup_disarm(w->tmp);
	if (rename(w->tmp, w->path) != 0)
		return io_error(w, "rename the finished output into place",
				err);
	free(w->tmp);
	w->tmp = NULL;
	return 0;
}

int pl_csv_writer_commit(pl_csv_writer *w, pl_error *err)
{
	int rc = finish_file(w, err);
	destroy(w);
	return rc;
}

void pl_csv_writer_abort(pl_csv_writer *w)
{
	if (w != NULL)
		destroy(w);
}

const char *pl_csv_writer_temp_path(const pl_csv_writer *w)
{
	return w->tmp;
}

uint64_t pl_csv_writer_bytes(const pl_csv_writer *w)
{
	return w->flushed + w->out.len;
}

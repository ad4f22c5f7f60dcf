#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/run_file.h"

/* A file gathers at most this much before it is written, in messages of
 * at most this raw size: a spill writes 16 partitions at once (and 16 more
 * when one is split again), so their buffers must stay a small part of a
 * tight budget whatever size of batch the operator hands over. */
#define RUN_BUF ((size_t)128 << 10)

struct pl_run_file {
	char dir[4096];
	pl_codec *codec;
	pl_pool *pool;
	int fd; /* -1 until the first flush */
	pl_bytes buf;
	uint64_t bytes;
	size_t *allowance; /* see pl_run_file_hold, or NULL */
	size_t limit;	   /* what buf may gather before a write */
};

int pl_run_file_create(const char *dir, pl_codec *codec, pl_pool *pool,
		       pl_run_file **out, pl_error *err)
{
	pl_run_file *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return pl_error_nomem(err, "a run file");
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	f->codec = codec;
	f->pool = pool;
	f->fd = -1;
	f->limit = RUN_BUF;
	*out = f;
	return 0;
}

void pl_run_file_hold(pl_run_file *f, size_t *allowance)
{
	f->allowance = allowance;
}

/* Gives back what the file held past RUN_BUF. */
static void release(pl_run_file *f)
{
	if (f->allowance != NULL)
		*f->allowance += f->limit - RUN_BUF;
	f->limit = RUN_BUF;
}

/* Takes room for need more bytes from the allowance, in steps of at least
 * RUN_BUF; 0 when there is none (or the file is on disk already). */
static int hold_more(pl_run_file *f, size_t need)
{
	size_t step = need > RUN_BUF ? need : RUN_BUF;
	if (f->allowance == NULL || f->fd >= 0 || *f->allowance < step)
		return 0;
	*f->allowance -= step;
	f->limit += step;
	return 1;
}

void pl_run_file_destroy(pl_run_file *f)
{
	if (f == NULL)
		return;
	release(f);
	if (f->fd >= 0)
		close(f->fd);
	pl_bytes_free(&f->buf, f->pool);
	free(f);
}

uint64_t pl_run_file_bytes(const pl_run_file *f)
{
	return f->bytes;
}

static int open_file(pl_run_file *f, pl_error *err)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/.pipeline-spill-XXXXXX", f->dir);
	f->fd = mkstemp(path);
	if (f->fd < 0)
		return pl_error_set(err, PL_ERR_IO,
				    "%s: cannot create a spill file: %s",
				    f->dir, strerror(errno));
	unlink(path);
	return 0;
}

static int write_out(pl_run_file *f, pl_error *err)
{
	if (f->buf.len == 0)
		return 0;
	if (f->fd < 0 && open_file(f, err) != 0)
		return PL_ERR_IO;
	for (size_t done = 0; done < f->buf.len;) {
		ssize_t n = write(f->fd, f->buf.data + done, f->buf.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pl_error_set(
			    err, PL_ERR_IO,
			    "%s: cannot write a spill file: "
			    "%s",
			    f->dir, n < 0 ? strerror(errno) : "disk full");
		done += (size_t)n;
	}
	f->bytes += f->buf.len;
	f->buf.len = 0;
	if (f->buf.cap > RUN_BUF) /* an outsized row, or it was held */
		pl_bytes_free(&f->buf, f->pool);
	release(f);
	return 0;
}

int pl_run_file_flush(pl_run_file *f, pl_error *err)
{
	int rc = write_out(f, err);
	if (rc == 0)
		pl_bytes_free(&f->buf, f->pool);
	return rc;
}

/* Encodes rows as messages of at most RUN_BUF raw bytes (halving the rows
 * until they fit; a lone bigger row goes alone), writing out what gathered
 * before a message would pass RUN_BUF. */
static int append_split(pl_run_file *f, const pl_batch *b, const uint32_t *idx,
			size_t from, size_t n, pl_error *err)
{
	size_t raw = pl_codec_raw_size(b, idx, from, n);
	if (raw > RUN_BUF && n > 1) {
		size_t half = n / 2;
		int rc = append_split(f, b, idx, from, half, err);
		return rc ? rc
			  : append_split(f, b, idx, from + half, n - half, err);
	}
	if (f->buf.len + raw > f->limit &&
	    !hold_more(f, f->buf.len + raw - f->limit)) {
		int rc = write_out(f, err);
		if (rc != 0)
			return rc;
	}
	if (f->buf.data == NULL && raw <= RUN_BUF &&
	    pl_bytes_reserve(&f->buf, RUN_BUF, f->pool, err) != 0)
		return PL_ERR_NOMEM;
	return pl_codec_encode(f->codec, b, idx, from, n, &f->buf, err);
}

int pl_run_file_append(pl_run_file *f, const pl_batch *b, const uint32_t *idx,
		       size_t from, size_t n, pl_error *err)
{
	return n == 0 ? 0 : append_split(f, b, idx, from, n, err);
}

static int read_full(int fd, uint8_t *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, buf + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

static int truncated(const pl_run_file *f, pl_error *err)
{
	return pl_error_set(err, PL_ERR_DATA, "%s: a spill file is truncated",
			    f->dir);
}

/* Reads the next message into msg; *end at the end of the file. */
static int next_message(pl_run_file *f, pl_bytes *msg, int *end, pl_error *err)
{
	size_t got, size, rest;
	msg->len = 0;
	int rc = pl_bytes_reserve(msg, PL_CODEC_HEADER_SIZE, f->pool, err);
	if (rc != 0)
		return rc;
	if (read_full(f->fd, msg->data, PL_CODEC_HEADER_SIZE, &got) != 0)
		return pl_error_set(err, PL_ERR_IO,
				    "%s: cannot read a spill file: %s", f->dir,
				    strerror(errno));
	*end = got == 0;
	if (*end)
		return 0;
	if (got < PL_CODEC_HEADER_SIZE)
		return truncated(f, err);
	msg->len = got;
	rc = pl_codec_message_size(msg->data, SIZE_MAX, &size, NULL, err);
	if (rc == 0)
		rc = pl_bytes_reserve(msg, size - got, f->pool, err);
	if (rc != 0)
		return rc;
	if (read_full(f->fd, msg->data + got, size - got, &rest) != 0 ||
	    rest != size - got)
		return truncated(f, err);
	msg->len = size;
	return 0;
}

static int hand_on(pl_run_file *f, const uint8_t *msg, size_t len,
		   const pl_schema *schema,
		   int (*fn)(void *arg, pl_batch *b, pl_error *err), void *arg,
		   size_t *used, pl_error *err)
{
	pl_batch *b = pl_batch_new(schema, 1, f->pool, err);
	int rc = b ? pl_codec_decode(f->codec, msg, len, b, used, err)
		   : PL_ERR_NOMEM;
	if (rc == 0) {
		pl_batch_sync_rows(b);
		rc = fn(arg, b, err);
	}
	pl_batch_free(b, f->pool);
	return rc;
}

/* A run that never reached the disk is read from memory. */
static int replay_memory(pl_run_file *f, const pl_schema *schema,
			 int (*fn)(void *arg, pl_batch *b, pl_error *err),
			 void *arg, pl_error *err)
{
	int rc = 0;
	for (size_t at = 0, used = 0; rc == 0 && at < f->buf.len; at += used)
		rc = hand_on(f, f->buf.data + at, f->buf.len - at, schema, fn,
			     arg, &used, err);
	return rc;
}

int pl_run_file_replay(pl_run_file *f, const pl_schema *schema,
		       int (*fn)(void *arg, pl_batch *b, pl_error *err),
		       void *arg, pl_error *err)
{
	if (f->fd < 0)
		return replay_memory(f, schema, fn, arg, err);
	int rc = write_out(f, err);
	if (rc != 0)
		return rc;
	if (lseek(f->fd, 0, SEEK_SET) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: spill file: %s",
				    f->dir, strerror(errno));
	pl_bytes msg = {0};
	int end = 0;
	while (rc == 0) {
		rc = next_message(f, &msg, &end, err);
		if (rc != 0 || end)
			break;
		size_t used;
		rc = hand_on(f, msg.data, msg.len, schema, fn, arg, &used, err);
	}
	pl_bytes_free(&msg, f->pool);
	/* Appending after a replay goes on at the end. */
	if (lseek(f->fd, 0, SEEK_END) < 0 && rc == 0)
		rc = pl_error_set(err, PL_ERR_IO, "%s: spill file: %s", f->dir,
				  strerror(errno));
	return rc;
}

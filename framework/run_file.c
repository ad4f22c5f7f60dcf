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

int pl_run_file_room(pl_run_file *f, size_t len, uint8_t **at, pl_error *err)
{
	*at = NULL;
	if (f->buf.len + len > f->limit &&
	    !hold_more(f, f->buf.len + len - f->limit)) {
		int rc = write_out(f, err);
		if (rc != 0)
			return rc;
	}
	size_t room = f->buf.data == NULL && len < RUN_BUF ? RUN_BUF : len;
	if (pl_bytes_reserve(&f->buf, room, f->pool, err) != 0)
		return PL_ERR_NOMEM;
	*at = f->buf.data + f->buf.len;
	return 0;
}

int pl_run_file_append_messages(pl_run_file *f, const uint8_t *msgs, size_t len,
				pl_error *err)
{
	if (f->buf.data == NULL || msgs != f->buf.data + f->buf.len) {
		uint8_t *at;
		int rc = pl_run_file_room(f, len, &at, err);
		if (rc != 0)
			return rc;
		memcpy(at, msgs, len);
	}
	f->buf.len += len;
	/* Past what the file may gather (messages bigger than it): out now. */
	return f->buf.len > f->limit ? write_out(f, err) : 0;
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

struct pl_run_cursor {
	pl_run_file *f;
	const pl_schema *schema;
	size_t at;    /* next message in f->buf, for a run held in memory */
	pl_bytes msg; /* the message read from disk */
};

int pl_run_cursor_open(pl_run_file *f, const pl_schema *schema,
		       pl_run_cursor **out, pl_error *err)
{
	*out = NULL;
	if (f->fd >= 0) {
		int rc = write_out(f, err);
		if (rc != 0)
			return rc;
		if (lseek(f->fd, 0, SEEK_SET) != 0)
			return pl_error_set(err, PL_ERR_IO,
					    "%s: spill file: %s", f->dir,
					    strerror(errno));
	}
	pl_run_cursor *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return pl_error_nomem(err, "a run file");
	c->f = f;
	c->schema = schema;
	*out = c;
	return 0;
}

int pl_run_cursor_next(pl_run_cursor *c, pl_batch **out, pl_error *err)
{
	pl_run_file *f = c->f;
	const uint8_t *msg = f->buf.data + c->at;
	size_t len = f->buf.len - c->at, used;
	*out = NULL;
	if (f->fd >= 0) {
		int end = 0, rc = next_message(f, &c->msg, &end, err);
		if (rc != 0 || end)
			return rc;
		msg = c->msg.data;
		len = c->msg.len;
	} else if (len == 0) {
		return 0;
	}
	pl_batch *b = pl_batch_new(c->schema, 1, f->pool, err);
	int rc = b ? pl_codec_decode(f->codec, msg, len, b, &used, err)
		   : PL_ERR_NOMEM;
	if (rc != 0) {
		pl_batch_free(b, f->pool);
		return rc;
	}
	pl_batch_sync_rows(b);
	if (f->fd < 0)
		c->at += used;
	*out = b;
	return 0;
}

int pl_run_cursor_destroy(pl_run_cursor *c, pl_error *err)
{
	if (c == NULL)
		return 0;
	pl_run_file *f = c->f;
	pl_bytes_free(&c->msg, f->pool);
	free(c);
	/* Appending after a read goes on at the end. */
	if (f->fd >= 0 && lseek(f->fd, 0, SEEK_END) < 0)
		return pl_error_set(err, PL_ERR_IO, "%s: spill file: %s",
				    f->dir, strerror(errno));
	return 0;
}

int pl_run_file_replay(pl_run_file *f, const pl_schema *schema,
		       int (*fn)(void *arg, pl_batch *b, pl_error *err),
		       void *arg, pl_error *err)
{
	pl_run_cursor *c;
	int rc = pl_run_cursor_open(f, schema, &c, err);
	while (rc == 0) {
		pl_batch *b;
		rc = pl_run_cursor_next(c, &b, err);
		if (rc != 0 || b == NULL)
			break;
		rc = fn(arg, b, err);
		pl_batch_free(b, f->pool);
	}
	int end = pl_run_cursor_destroy(c, rc ? NULL : err);
	return rc ? rc : end;
}

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "io/zstd_input.h"

struct pl_zin {
	int fd;
	const char *path;
	pl_pool *pool;
	uint64_t bytes_read;
	uint64_t size;
	ZSTD_DCtx *dctx;  /* NULL for a plain file */
	ZSTD_inBuffer in; /* compressed bytes not yet decompressed */
	char *inbuf;
	size_t incap;
	size_t
	    frame_left; /* last ZSTD_decompressStream hint; 0 at a frame end */
	int eof;
	/* Bytes read while sniffing the magic, handed out before the file. */
	unsigned char head[4];
	size_t head_len, head_pos;
};

/* read(2) that retries on EINTR and fills as much of buf as it can. */
static ssize_t read_full(pl_zin *z, void *buf, size_t cap, pl_error *err)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(z->fd, (char *)buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pl_error_set(err, PL_ERR_IO, "%s: %s", z->path,
					    strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	z->bytes_read += got;
	/* A regular file that ends before the size it had when opened was
	 * truncated while the job read it: its rows would silently go
	 * missing. */
	if (got < cap && z->size > 0 && z->bytes_read < z->size)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: the file ends at byte %llu but was "
				    "%llu bytes when the job opened it "
				    "(truncated while the job read it?)",
				    z->path, (unsigned long long)z->bytes_read,
				    (unsigned long long)z->size);
	return (ssize_t)got;
}

static int ends_with_zst(const char *path)
{
	size_t n = strlen(path);
	return n >= 4 && strcmp(path + n - 4, ".zst") == 0;
}

static int open_fd(pl_zin *z, const char *path, pl_error *err)
{
	if (strcmp(path, "-") == 0) {
		z->fd = STDIN_FILENO;
		return 0;
	}
	z->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (z->fd < 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	struct stat st;
	if (fstat(z->fd, &st) == 0 && S_ISDIR(st.st_mode))
		return pl_error_set(err, PL_ERR_IO, "%s: is a directory", path);
	if (fstat(z->fd, &st) == 0 && S_ISREG(st.st_mode))
		z->size = (uint64_t)st.st_size;
#ifdef POSIX_FADV_SEQUENTIAL
	posix_fadvise(z->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	return 0;
}

static int start_zstd(pl_zin *z, pl_error *err)
{
	z->dctx = ZSTD_createDCtx();
	z->incap = ZSTD_DStreamInSize();
	z->inbuf = pl_pool_alloc(z->pool, z->incap);
	if (z->dctx == NULL || z->inbuf == NULL)
		return pl_error_nomem(err, "a zstd stream");
	memcpy(z->inbuf, z->head, z->head_len);
	z->in.src = z->inbuf;
	z->in.size = z->head_len;
	z->in.pos = 0;
	z->head_len = 0;
	z->frame_left = 1;
	return 0;
}

int pl_zin_open(const char *path, pl_pool *pool, pl_zin **out, pl_error *err)
{
	*out = NULL;
	pl_zin *z = calloc(1, sizeof(*z));
	if (z == NULL)
		return pl_error_nomem(err, "an input file");
	z->fd = -1;
	z->path = path;
	z->pool = pool;
	int rc = open_fd(z, path, err);
	ssize_t n = rc == 0 ? read_full(z, z->head, sizeof(z->head), err) : 0;
	if (rc == 0 && n < 0)
		rc = (int)n;
	if (rc == 0) {
		static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
		z->head_len = (size_t)n;
		if (z->head_len == 4 && memcmp(z->head, magic, 4) == 0)
			rc = start_zstd(z, err);
		else if (ends_with_zst(path) && z->head_len > 0)
			rc = pl_error_set(err, PL_ERR_DATA,
					  "%s: not a zstd file (no zstd magic)",
					  path);
	}
	if (rc != 0) {
		pl_zin_close(z);
		return rc;
	}
	*out = z;
	return 0;
}

static ssize_t read_plain(pl_zin *z, char *buf, size_t cap, pl_error *err)
{
	size_t got = 0;
	while (z->head_pos < z->head_len && got < cap)
		buf[got++] = (char)z->head[z->head_pos++];
	if (got == cap)
		return (ssize_t)got;
	ssize_t n = read_full(z, buf + got, cap - got, err);
	return n < 0 ? n : (ssize_t)got + n;
}

/* Where zstd stood in the file: from the first byte of the buffer it had
 * not consumed to the last byte read (a checksum is checked at its
 * frame's end, so the damage may lie earlier in that frame). */
static int damaged(const pl_zin *z, size_t code, pl_error *err)
{
	uint64_t at = z->bytes_read - (uint64_t)(z->in.size - z->in.pos);
	return pl_error_set(err, PL_ERR_DATA,
			    "%s: damaged zstd data in compressed bytes "
			    "%llu-%llu: %s",
			    z->path, (unsigned long long)at,
			    (unsigned long long)z->bytes_read,
			    ZSTD_getErrorName(code));
}

static ssize_t read_zstd(pl_zin *z, char *buf, size_t cap, pl_error *err)
{
	ZSTD_outBuffer o = {buf, cap, 0};
	while (o.pos == 0) {
		if (z->in.pos == z->in.size) {
			if (z->eof)
				break;
			ssize_t n = read_full(z, z->inbuf, z->incap, err);
			if (n < 0)
				return n;
			z->eof = n == 0;
			z->in.size = (size_t)n;
			z->in.pos = 0;
			if (n == 0)
				break;
		}
		size_t r = ZSTD_decompressStream(z->dctx, &o, &z->in);
		if (ZSTD_isError(r))
			return damaged(z, r, err);
		z->frame_left = r;
	}
	if (o.pos == 0 && z->frame_left != 0)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: truncated zstd frame (the file ends "
				    "at byte %llu inside a frame)",
				    z->path, (unsigned long long)z->bytes_read);
	return (ssize_t)o.pos;
}

ssize_t pl_zin_read(pl_zin *z, void *buf, size_t cap, pl_error *err)
{
	if (cap == 0)
		return 0;
	if (z->dctx != NULL)
		return read_zstd(z, buf, cap, err);
	return read_plain(z, buf, cap, err);
}

uint64_t pl_zin_bytes_read(const pl_zin *z)
{
	return z->bytes_read;
}

uint64_t pl_zin_size(const pl_zin *z)
{
	return z->size;
}

void pl_zin_close(pl_zin *z)
{
	if (z == NULL)
		return;
	if (z->fd > STDIN_FILENO)
		close(z->fd);
	ZSTD_freeDCtx(z->dctx);
	pl_pool_free(z->pool, z->inbuf);
	free(z);
}

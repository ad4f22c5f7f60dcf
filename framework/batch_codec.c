/* Encoding rows into messages and decoding them back; the format is in
 * batch_codec.h. Layout of a message:
 *
 *   header: u32 magic, u8 version, u8 flags, u16 zero,
 *           u64 message length (header included), u64 raw body length
 *   body (zstd frame of it when flags has FLAG_ZSTD):
 *           u64 nrows, u32 ncols, u32 zero, then per column:
 *           u8 type, u8 has_bitmap, u8 encoding, u8 zero, u32 zero,
 *           [bitmap of (nrows + 7) / 8 bytes], then
 *           int64/float64: nrows * 8 bytes; bool: nrows bytes;
 *           string: u64 arena length, (nrows + 1) * 8 offsets, arena;
 *           string, encoding 1 (a dictionary): u32 nentries, u8
 *           has_bitmap, 3 zero bytes, [bitmap of the entries], the
 *           entries as a string column of nentries rows (arena length,
 *           offsets, arena), then nrows u32 codes. The entries are the
 *           ones the message's rows use, in order of first use; a NULL
 *           row's code names a NULL entry and only a NULL row's does. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "framework/batch_codec.h"

#define MAGIC 0x31424c50u /* "PLB1" */
#define VERSION 2
#define FLAG_ZSTD 1
#define COL_HEADER 8
#define ENC_PLAIN 0
#define ENC_DICT 1
#define DICT_HEADER 8
#define NO_CODE UINT32_MAX
#define BODY_HEADER 16
/* Bodies smaller than this are sent as they are: zstd's frame overhead
 * and the call cost outweigh what it could save. */
#define MIN_COMPRESS 512
/* A zstd block of at most 128 KiB takes at least 4 bytes, so no valid frame
 * expands by more than this; a header claiming more is corrupt, and is
 * rejected before its claim is allocated. */
#define MAX_RATIO 65536

struct pl_codec {
	pl_pool *pool;
	int level;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	pl_bytes scratch;
	pl_codec_stats stats;
	int keep_dict;
	/* Encoding a dictionary column: remap[e] is entry e's code in the
	 * message (NO_CODE while unused), used[] the entries in order. */
	uint32_t *remap, *used;
	size_t remap_cap, used_cap;
};

int pl_bytes_reserve(pl_bytes *b, size_t extra, pl_pool *pool, pl_error *err)
{
	if (extra > SIZE_MAX / 2 - b->len)
		return pl_error_nomem(err, "a message buffer");
	size_t need = b->len + extra;
	if (need <= b->cap && b->data != NULL)
		return 0;
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap < need)
		ncap *= 2;
	uint8_t *d = pl_pool_realloc(pool, b->data, ncap);
	if (d == NULL)
		return pl_error_nomem(err, "a message buffer");
	b->data = d;
	b->cap = ncap;
	return 0;
}

void pl_bytes_free(pl_bytes *b, pl_pool *pool)
{
	pl_pool_free(pool, b->data);
	memset(b, 0, sizeof(*b));
}

pl_codec *pl_codec_create(pl_pool *pool, int level, pl_error *err)
{
	pl_codec *c = pl_pool_calloc(pool, 1, sizeof(*c));
	if (c == NULL) {
		pl_error_nomem(err, "a batch codec");
		return NULL;
	}
	c->pool = pool;
	c->level = level;
	return c;
}

void pl_codec_destroy(pl_codec *c)
{
	if (c == NULL)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	pl_bytes_free(&c->scratch, c->pool);
	pl_pool_free(c->pool, c->remap);
	pl_pool_free(c->pool, c->used);
	pl_pool_free(c->pool, c);
}

void pl_codec_keep_dict(pl_codec *c, int on)
{
	c->keep_dict = on != 0;
}

pl_codec_stats pl_codec_get_stats(const pl_codec *c)
{
	return c->stats;
}

static size_t row_at(const uint32_t *idx, size_t from, size_t k)
{
	return idx ? idx[from + k] : from + k;
}

static int any_null(const pl_column *col, const uint32_t *idx, size_t from,
		    size_t n)
{
	if (col->valid == NULL)
		return 0;
	for (size_t k = 0; k < n; k++)
		if (pl_column_is_null(col, row_at(idx, from, k)))
			return 1;
	return 0;
}

static size_t string_bytes(const pl_column *col, const uint32_t *idx,
			   size_t from, size_t n)
{
	const int64_t *off = pl_col_off(col);
	if (idx == NULL)
		return (size_t)(off[from + n] - off[from]);
	size_t sum = 0;
	for (size_t k = 0; k < n; k++)
		sum += (size_t)(off[idx[from + k] + 1] - off[idx[from + k]]);
	return sum;
}

/* What a dictionary column's entries and codes take at most: the rows may
 * use every entry, or name each a different one. */
static size_t dict_size(const pl_column *col, const uint32_t *idx, size_t from,
			size_t n)
{
	const pl_column *d = col->dict;
	const int64_t *off = pl_col_off(d);
	const uint32_t *code = pl_col_codes(col);
	size_t m = n < d->len ? n : d->len, bytes = 0;
	for (size_t k = 0; k < n && bytes < d->arena_len; k++) {
		uint32_t e = code[row_at(idx, from, k)];
		bytes += (size_t)(off[e + 1] - off[e]);
	}
	if (bytes > d->arena_len)
		bytes = d->arena_len;
	size_t bits = d->valid != NULL ? (m + 7) / 8 : 0;
	return DICT_HEADER + bits + 8 + (m + 1) * 8 + bytes + n * 4;
}

static size_t column_size(const pl_column *col, const uint32_t *idx,
			  size_t from, size_t n)
{
	size_t s = COL_HEADER;
	if (any_null(col, idx, from, n))
		s += (n + 7) / 8;
	if (col->type == PL_BOOL)
		return s + n;
	if (col->type != PL_STRING)
		return s + n * 8;
	if (col->dict != NULL)
		return s + dict_size(col, idx, from, n);
	return s + 8 + (n + 1) * 8 + string_bytes(col, idx, from, n);
}

static size_t body_size(const pl_batch *b, const uint32_t *idx, size_t from,
			size_t n)
{
	size_t s = BODY_HEADER;
	for (size_t j = 0; j < b->ncols; j++)
		s += column_size(&b->cols[j], idx, from, n);
	return s;
}

size_t pl_codec_raw_size(const pl_batch *b, const uint32_t *idx, size_t from,
			 size_t n)
{
	return PL_CODEC_HEADER_SIZE + body_size(b, idx, from, n);
}

static uint8_t *put(uint8_t *p, const void *v, size_t n)
{
	if (n > 0)
		memcpy(p, v, n);
	return p + n;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	return put(p, &v, 8);
}

static uint8_t *put_bitmap(uint8_t *p, const pl_column *col,
			   const uint32_t *idx, size_t from, size_t n)
{
	size_t nb = (n + 7) / 8;
	memset(p, 0, nb);
	for (size_t k = 0; k < n; k++)
		if (!pl_column_is_null(col, row_at(idx, from, k)))
			pl_bit_set(p, k, true);
	return p + nb;
}

static uint8_t *put_strings(uint8_t *p, const pl_column *col,
			    const uint32_t *idx, size_t from, size_t n)
{
	const int64_t *off = pl_col_off(col);
	size_t total = string_bytes(col, idx, from, n);
	p = put_u64(p, total);
	int64_t pos = 0;
	p = put(p, &pos, 8);
	if (idx == NULL) { /* a range: its offsets rebased, its bytes at once */
		for (size_t k = 1; k <= n; k++) {
			pos = off[from + k] - off[from];
			p = put(p, &pos, 8);
		}
		return put(p, col->arena + off[from], total);
	}
	for (size_t k = 0; k < n; k++) {
		size_t r = row_at(idx, from, k);
		pos += off[r + 1] - off[r];
		p = put(p, &pos, 8);
	}
	for (size_t k = 0; k < n; k++) {
		size_t r = row_at(idx, from, k);
		p = put(p, col->arena + off[r], (size_t)(off[r + 1] - off[r]));
	}
	return p;
}

static uint8_t *put_values(uint8_t *p, const pl_column *col,
			   const uint32_t *idx, size_t from, size_t n)
{
	if (col->type == PL_STRING)
		return put_strings(p, col, idx, from, n);
	size_t w = col->type == PL_BOOL ? 1 : 8;
	const uint8_t *d = col->data;
	if (idx == NULL)
		return put(p, d + from * w, n * w);
	for (size_t k = 0; k < n; k++)
		p = put(p, d + (size_t)idx[from + k] * w, w);
	return p;
}

/* The entries the rows use, in order of first use (into c->used), and
 * then each row's code among them. */
static uint8_t *put_dict(pl_codec *c, uint8_t *p, const pl_column *col,
			 const uint32_t *idx, size_t from, size_t n)
{
	const uint32_t *code = pl_col_codes(col);
	uint32_t m = 0;
	for (size_t k = 0; k < n; k++) {
		uint32_t e = code[row_at(idx, from, k)];
		if (c->remap[e] == NO_CODE) {
			c->remap[e] = m;
			c->used[m++] = e;
		}
	}
	uint8_t head[DICT_HEADER] = {0};
	memcpy(head, &m, 4);
	head[4] = (uint8_t)any_null(col->dict, c->used, 0, m);
	p = put(p, head, DICT_HEADER);
	if (head[4])
		p = put_bitmap(p, col->dict, c->used, 0, m);
	p = put_strings(p, col->dict, c->used, 0, m);
	for (size_t k = 0; k < n; k++)
		p = put(p, &c->remap[code[row_at(idx, from, k)]], 4);
	for (uint32_t j = 0; j < m; j++)
		c->remap[c->used[j]] = NO_CODE;
	return p;
}

static uint8_t *put_column(pl_codec *c, uint8_t *p, const pl_column *col,
			   const uint32_t *idx, size_t from, size_t n)
{
	uint8_t head[COL_HEADER] = {0};
	head[0] = (uint8_t)col->type;
	head[1] = (uint8_t)any_null(col, idx, from, n);
	head[2] = col->dict != NULL ? ENC_DICT : ENC_PLAIN;
	p = put(p, head, COL_HEADER);
	if (head[1])
		p = put_bitmap(p, col, idx, from, n);
	if (col->dict != NULL)
		return put_dict(c, p, col, idx, from, n);
	return put_values(p, col, idx, from, n);
}

/* Room in remap for every entry of the batch's dictionaries (NO_CODE in
 * all of it) and in used for the entries n rows can use. */
static int reserve_remap(pl_codec *c, const pl_batch *b, size_t n,
			 pl_error *err)
{
	for (size_t j = 0; j < b->ncols; j++) {
		const pl_column *d = b->cols[j].dict;
		if (d == NULL)
			continue;
		size_t m = n < d->len ? n : d->len;
		if (d->len > c->remap_cap) {
			uint32_t *r = pl_pool_realloc(c->pool, c->remap,
						      d->len * sizeof(*r));
			if (r == NULL)
				return pl_error_nomem(err, "a codec scratch");
			memset(r + c->remap_cap, 0xff,
			       (d->len - c->remap_cap) * sizeof(*r));
			c->remap = r;
			c->remap_cap = d->len;
		}
		if (m > c->used_cap) {
			uint32_t *u =
			    pl_pool_realloc(c->pool, c->used, m * sizeof(*u));
			if (u == NULL)
				return pl_error_nomem(err, "a codec scratch");
			c->used = u;
			c->used_cap = m;
		}
	}
	return 0;
}

static void put_header(uint8_t *p, int flags, uint64_t total, uint64_t raw)
{
	uint32_t magic = MAGIC;
	uint8_t vf[4] = {VERSION, (uint8_t)flags, 0, 0};
	p = put(p, &magic, 4);
	p = put(p, vf, 4);
	p = put_u64(p, total);
	put_u64(p, raw);
}

/* Replaces the raw body with its zstd form when that saves a tenth or
 * more; returns the body's final length. Compression trouble (no memory
 * for a context or scratch space) only means sending it raw. */
static size_t maybe_compress(pl_codec *c, uint8_t *body, size_t raw, int *flags)
{
	if (c->level == 0 || raw < MIN_COMPRESS)
		return raw;
	if (c->cctx == NULL && (c->cctx = ZSTD_createCCtx()) == NULL)
		return raw;
	size_t bound = ZSTD_compressBound(raw);
	c->scratch.len = 0;
	if (pl_bytes_reserve(&c->scratch, bound, c->pool, NULL) != 0)
		return raw;
	size_t z = ZSTD_compressCCtx(c->cctx, c->scratch.data, bound, body, raw,
				     c->level);
	if (ZSTD_isError(z) || z >= raw / 10 * 9)
		return raw;
	memcpy(body, c->scratch.data, z);
	*flags |= FLAG_ZSTD;
	return z;
}

int pl_codec_encode(pl_codec *c, const pl_batch *b, const uint32_t *idx,
		    size_t from, size_t n, pl_bytes *out, pl_error *err)
{
	size_t bound = body_size(b, idx, from, n);
	if (reserve_remap(c, b, n, err) != 0 ||
	    pl_bytes_reserve(out, PL_CODEC_HEADER_SIZE + bound, c->pool, err))
		return PL_ERR_NOMEM;
	uint8_t *msg = out->data + out->len;
	uint8_t *body = msg + PL_CODEC_HEADER_SIZE;
	uint8_t head[BODY_HEADER] = {0};
	uint64_t nrows = n;
	uint32_t ncols = (uint32_t)b->ncols;
	memcpy(head, &nrows, 8);
	memcpy(head + 8, &ncols, 4);
	uint8_t *p = put(body, head, BODY_HEADER);
	for (size_t j = 0; j < b->ncols; j++)
		p = put_column(c, p, &b->cols[j], idx, from, n);
	size_t raw = (size_t)(p - body);
	int flags = 0;
	size_t len = maybe_compress(c, body, raw, &flags);
	put_header(msg, flags, PL_CODEC_HEADER_SIZE + len, raw);
	out->len += PL_CODEC_HEADER_SIZE + len;
	c->stats.messages++;
	c->stats.compressed += (flags & FLAG_ZSTD) != 0;
	c->stats.bytes_raw += PL_CODEC_HEADER_SIZE + raw;
	c->stats.bytes_encoded += PL_CODEC_HEADER_SIZE + len;
	return 0;
}

static int corrupt(pl_error *err, const char *what)
{
	return pl_error_set(err, PL_ERR_DATA, "batch message: %s", what);
}

typedef struct header {
	int flags;
	uint64_t total;
	uint64_t raw;
} header;

static int read_header(const uint8_t *buf, size_t len, header *h, pl_error *err)
{
	if (len < PL_CODEC_HEADER_SIZE)
		return corrupt(err, "truncated header");
	uint32_t magic;
	memcpy(&magic, buf, 4);
	if (magic != MAGIC)
		return corrupt(err, "bad magic");
	if (buf[4] != VERSION)
		return pl_error_set(err, PL_ERR_DATA,
				    "batch message: version %u, expected %u",
				    buf[4], VERSION);
	if ((buf[5] & ~FLAG_ZSTD) != 0 || buf[6] != 0 || buf[7] != 0)
		return corrupt(err, "unknown flags");
	h->flags = buf[5];
	memcpy(&h->total, buf + 8, 8);
	memcpy(&h->raw, buf + 16, 8);
	if (h->total < PL_CODEC_HEADER_SIZE || h->total > len)
		return corrupt(err, "truncated or bad message length");
	return 0;
}

int pl_codec_message_size(const uint8_t *buf, size_t len, size_t *size,
			  size_t *raw, pl_error *err)
{
	header h = {0};
	int rc = read_header(buf, len, &h, err);
	if (rc == 0)
		*size = (size_t)h.total;
	if (rc == 0 && raw != NULL)
		*raw = PL_CODEC_HEADER_SIZE + (size_t)h.raw;
	return rc;
}

/* A bounds-checked cursor over a body. */
typedef struct reader {
	const uint8_t *p;
	size_t left;
} reader;

static const uint8_t *take(reader *r, size_t n)
{
	if (n > r->left)
		return NULL;
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

/* Where one column's parts sit inside a validated body. */
typedef struct col_view {
	const uint8_t *bits; /* NULL: no NULLs */
	const uint8_t *data; /* values, or the n + 1 string offsets (of the
				entries, in a dictionary column) */
	const uint8_t *arena;
	size_t arena_len;
	const uint8_t *codes; /* a dictionary column's: n u32 */
	const uint8_t *ebits; /* its entries' bitmap, NULL: none is NULL */
	size_t nent;	      /* its entries */
} col_view;

static uint32_t code_at(const col_view *v, size_t k)
{
	uint32_t e;
	memcpy(&e, v->codes + k * 4, 4);
	return e;
}

static int64_t offset_at(const col_view *v, size_t k)
{
	int64_t o;
	memcpy(&o, v->data + k * 8, 8);
	return o;
}

static int check_strings(reader *r, col_view *v, size_t n, pl_error *err)
{
	const uint8_t *p = take(r, 8);
	if (p == NULL)
		return corrupt(err, "truncated string column");
	uint64_t alen;
	memcpy(&alen, p, 8);
	if (n >= r->left / 8 || (v->data = take(r, (n + 1) * 8)) == NULL ||
	    (v->arena = take(r, alen)) == NULL)
		return corrupt(err, "truncated string column");
	v->arena_len = (size_t)alen;
	/* From 0, never going back, to alen: then none is past alen. */
	int back = 0;
	for (size_t k = 1; k <= n; k++)
		back |= offset_at(v, k) < offset_at(v, k - 1);
	if (back || offset_at(v, 0) != 0 || (uint64_t)offset_at(v, n) != alen)
		return corrupt(err, "bad string offsets");
	return 0;
}

static int check_fixed(reader *r, col_view *v, pl_type t, size_t n,
		       pl_error *err)
{
	size_t w = t == PL_BOOL ? 1 : 8;
	if (n > r->left / w || (v->data = take(r, n * w)) == NULL)
		return corrupt(err, "truncated column");
	if (t == PL_BOOL)
		for (size_t k = 0; k < n; k++)
			if (v->data[k] > 1)
				return corrupt(err, "bad bool value");
	return 0;
}

/* A dictionary column's entries and codes: every code names an entry,
 * NULL exactly when its row is. */
static int check_dict(reader *r, col_view *v, size_t n, pl_error *err)
{
	const uint8_t *h = take(r, DICT_HEADER);
	if (h == NULL)
		return corrupt(err, "truncated dictionary");
	uint32_t m;
	memcpy(&m, h, 4);
	if (h[4] > 1 || h[5] || h[6] || h[7])
		return corrupt(err, "bad dictionary header");
	v->nent = m;
	if (h[4] &&
	    (v->ebits = take(r, v->nent / 8 + (v->nent % 8 != 0))) == NULL)
		return corrupt(err, "truncated dictionary");
	int rc = check_strings(r, v, v->nent, err);
	if (rc != 0)
		return rc;
	if (n > r->left / 4 || (v->codes = take(r, n * 4)) == NULL)
		return corrupt(err, "truncated dictionary codes");
	if (v->bits == NULL && v->ebits == NULL) {
		/* No NULLs on either side: only the largest code matters. */
		uint32_t top = 0;
		for (size_t k = 0; k < n; k++) {
			uint32_t e = code_at(v, k);
			top = e > top ? e : top;
		}
		return n > 0 && top >= v->nent
			   ? corrupt(err, "dictionary code out of range")
			   : 0;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t e = code_at(v, k);
		if (e >= v->nent)
			return corrupt(err, "dictionary code out of range");
		if (pl_bit_get(v->bits, k) != pl_bit_get(v->ebits, e))
			return corrupt(err, "dictionary NULLs disagree");
	}
	return 0;
}

/* Parses the next column, checking every size against what is left. */
static int parse_column(reader *r, pl_type want, size_t n, col_view *v,
			pl_error *err)
{
	memset(v, 0, sizeof(*v));
	const uint8_t *h = take(r, COL_HEADER);
	if (h == NULL)
		return corrupt(err, "truncated column header");
	if ((pl_type)h[0] != want)
		return pl_error_set(err, PL_ERR_DATA,
				    "batch message: column of type %s, "
				    "expected %s",
				    h[0] <= PL_TIMESTAMP
					? pl_type_name((pl_type)h[0])
					: "unknown",
				    pl_type_name(want));
	if (h[1] > 1)
		return corrupt(err, "bad bitmap flag");
	if (h[2] > (want == PL_STRING ? ENC_DICT : ENC_PLAIN) || h[3] || h[4] ||
	    h[5] || h[6] || h[7])
		return corrupt(err, "bad column encoding");
	if (h[1] && (v->bits = take(r, n / 8 + (n % 8 != 0))) == NULL)
		return corrupt(err, "truncated bitmap");
	if (h[2] == ENC_DICT)
		return check_dict(r, v, n, err);
	if (want == PL_STRING)
		return check_strings(r, v, n, err);
	return check_fixed(r, v, want, n, err);
}

static int parse_body_header(reader *r, const pl_batch *dst, size_t *n,
			     pl_error *err)
{
	const uint8_t *h = take(r, BODY_HEADER);
	if (h == NULL)
		return corrupt(err, "truncated body");
	uint64_t nrows;
	uint32_t ncols;
	memcpy(&nrows, h, 8);
	memcpy(&ncols, h + 8, 4);
	if (ncols != dst->ncols)
		return pl_error_set(err, PL_ERR_DATA,
				    "batch message: %u columns, expected %zu",
				    ncols, dst->ncols);
	/* Every row takes at least one byte in every column. */
	if (nrows > r->left)
		return corrupt(err, "row count larger than the message");
	*n = (size_t)nrows;
	return 0;
}

static void append_values(pl_column *c, const col_view *v, size_t n)
{
	if (c->type == PL_STRING) {
		int64_t *off = pl_col_off(c);
		int64_t base = (int64_t)c->arena_len;
		if (v->arena_len > 0)
			memcpy(c->arena + c->arena_len, v->arena, v->arena_len);
		for (size_t k = 1; k <= n; k++)
			off[c->len + k] = base + offset_at(v, k);
		c->arena_len += v->arena_len;
		return;
	}
	size_t w = c->type == PL_BOOL ? 1 : 8;
	memcpy((uint8_t *)c->data + c->len * w, v->data, n * w);
}

/* Appends n rows from v; allocates everything before writing anything, so
 * a failure leaves c as it was. */
static int append_column(pl_column *c, const col_view *v, size_t n,
			 pl_pool *pool, pl_error *err)
{
	if (pl_column_reserve(c, c->len + n, pool, err) != 0 ||
	    (v->bits && pl_column_make_nullable(c, pool, err) != 0) ||
	    (c->type == PL_STRING &&
	     pl_column_reserve_arena(c, v->arena_len, pool, err) != 0))
		return PL_ERR_NOMEM;
	if (c->valid != NULL)
		for (size_t k = 0; k < n; k++)
			pl_bit_set(c->valid, c->len + k,
				   pl_bit_get(v->bits, k));
	append_values(c, v, n);
	c->len += n;
	return 0;
}

/* The n rows of a dictionary view kept as a dictionary column: c is
 * empty and plain. */
static int append_dict_kept(pl_column *c, const col_view *v, size_t n,
			    pl_pool *pool, pl_error *err)
{
	col_view ev = {.bits = v->ebits,
		       .data = v->data,
		       .arena = v->arena,
		       .arena_len = v->arena_len};
	pl_column *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return pl_error_nomem(err, "a dictionary");
	if (pl_column_init(d, PL_STRING, v->nent, v->arena_len, pool, err) ||
	    append_column(d, &ev, v->nent, pool, err) ||
	    pl_column_reserve(c, n, pool, err) ||
	    (v->bits && pl_column_make_nullable(c, pool, err))) {
		pl_column_free(d, pool);
		free(d);
		return PL_ERR_NOMEM;
	}
	if (c->valid != NULL)
		for (size_t k = 0; k < n; k++)
			pl_bit_set(c->valid, k, pl_bit_get(v->bits, k));
	if (n > 0)
		memcpy(c->data, v->codes, n * 4);
	c->dict = d;
	c->len = n;
	return 0;
}

/* The n rows of a dictionary view appended as plain strings. */
static int append_dict_plain(pl_column *c, const col_view *v, size_t n,
			     pl_pool *pool, pl_error *err)
{
	size_t bytes = 0;
	for (size_t k = 0; k < n; k++) {
		uint32_t e = code_at(v, k);
		bytes += (size_t)(offset_at(v, e + 1) - offset_at(v, e));
	}
	if (pl_column_reserve(c, c->len + n, pool, err) != 0 ||
	    (v->bits && pl_column_make_nullable(c, pool, err) != 0) ||
	    pl_column_reserve_arena(c, bytes, pool, err) != 0)
		return PL_ERR_NOMEM;
	int64_t *off = pl_col_off(c);
	for (size_t k = 0; k < n; k++) {
		uint32_t e = code_at(v, k);
		int64_t at = offset_at(v, e);
		size_t len = (size_t)(offset_at(v, e + 1) - at);
		if (len > 0)
			memcpy(c->arena + c->arena_len, v->arena + at, len);
		c->arena_len += len;
		off[c->len + k + 1] = (int64_t)c->arena_len;
		if (c->valid != NULL)
			pl_bit_set(c->valid, c->len + k,
				   pl_bit_get(v->bits, k));
	}
	c->len += n;
	return 0;
}

/* Appends a parsed column to c: a dictionary stays one when the codec
 * keeps them and c is empty; otherwise c becomes (or stays) plain. */
static int append_view(pl_codec *codec, pl_column *c, const col_view *v,
		       size_t n, pl_error *err)
{
	pl_pool *pool = codec->pool;
	if (c->dict != NULL && c->len == 0)
		pl_column_reset(c, pool);
	if (v->codes != NULL && codec->keep_dict && c->len == 0)
		return append_dict_kept(c, v, n, pool, err);
	if (pl_column_undict(c, pool, err) != 0)
		return PL_ERR_NOMEM;
	if (v->codes != NULL)
		return append_dict_plain(c, v, n, pool, err);
	return append_column(c, v, n, pool, err);
}

/* Takes back the n rows just appended to columns [0, upto); string
 * offsets are absolute, so the old arena end is the offset at the old
 * length. A dictionary column was made by this call, from empty. */
static void unappend(pl_batch *dst, size_t upto, size_t n, pl_pool *pool)
{
	for (size_t j = 0; j < upto; j++) {
		pl_column *c = &dst->cols[j];
		if (c->dict != NULL) {
			pl_column_reset(c, pool);
			continue;
		}
		pl_column_truncate(c, c->len - n);
	}
}

static int decode_body(pl_codec *c, const uint8_t *body, size_t len,
		       pl_batch *dst, pl_error *err)
{
	reader r = {body, len};
	size_t n = 0;
	col_view v;
	if (parse_body_header(&r, dst, &n, err) != 0)
		return PL_ERR_DATA;
	for (size_t j = 0; j < dst->ncols; j++)
		if (parse_column(&r, dst->cols[j].type, n, &v, err) != 0)
			return PL_ERR_DATA;
	if (r.left != 0)
		return corrupt(err, "trailing bytes");
	r = (reader){body + BODY_HEADER, len - BODY_HEADER};
	for (size_t j = 0; j < dst->ncols; j++) {
		parse_column(&r, dst->cols[j].type, n, &v, NULL);
		if (append_view(c, &dst->cols[j], &v, n, err) != 0) {
			unappend(dst, j, n, c->pool);
			return PL_ERR_NOMEM;
		}
	}
	dst->nrows += n;
	return 0;
}

static int decompress(pl_codec *c, const uint8_t *z, size_t zlen, uint64_t raw,
		      pl_error *err)
{
	if (raw / MAX_RATIO > zlen || ZSTD_getFrameContentSize(z, zlen) != raw)
		return corrupt(err, "bad compressed size");
	if (c->dctx == NULL && (c->dctx = ZSTD_createDCtx()) == NULL)
		return pl_error_nomem(err, "a zstd context");
	c->scratch.len = 0;
	if (pl_bytes_reserve(&c->scratch, (size_t)raw, c->pool, err) != 0)
		return PL_ERR_NOMEM;
	size_t got =
	    ZSTD_decompressDCtx(c->dctx, c->scratch.data, (size_t)raw, z, zlen);
	if (ZSTD_isError(got) || got != raw)
		return corrupt(err, "bad compressed data");
	return 0;
}

int pl_codec_decode(pl_codec *c, const uint8_t *buf, size_t len, pl_batch *dst,
		    size_t *used, pl_error *err)
{
	if (dst->line != NULL)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "batch message: decoding into a batch "
				    "with provenance");
	header h = {0};
	if (read_header(buf, len, &h, err) != 0)
		return PL_ERR_DATA;
	const uint8_t *body = buf + PL_CODEC_HEADER_SIZE;
	size_t blen = (size_t)h.total - PL_CODEC_HEADER_SIZE;
	if (h.flags & FLAG_ZSTD) {
		int rc = decompress(c, body, blen, h.raw, err);
		if (rc != 0)
			return rc;
		body = c->scratch.data;
		blen = (size_t)h.raw;
	} else if (h.raw != blen) {
		return corrupt(err, "bad raw size");
	}
	int rc = decode_body(c, body, blen, dst, err);
	if (rc != 0)
		return rc;
	*used = (size_t)h.total;
	c->stats.bytes_decoded += h.total;
	return 0;
}

int pl_codec_decode_all(pl_codec *c, const uint8_t *buf, size_t len,
			pl_batch *dst, pl_error *err)
{
	size_t pos = 0;
	while (pos < len) {
		size_t used = 0;
		int rc =
		    pl_codec_decode(c, buf + pos, len - pos, dst, &used, err);
		if (rc != 0)
			return rc;
		pos += used;
	}
	return 0;
}

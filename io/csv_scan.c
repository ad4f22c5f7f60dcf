/* Records are split by a fast path first: 16 bytes at a time, bit masks
 * of the delimiters, quotes and LFs in them (SSE2, always there on x86-64;
 * a plain loop builds the same masks elsewhere). It takes only a record
 * with no quote byte before its LF whose blocks all lie within the buffer
 * (end[0], the sentinel, is readable); anything else, a quoted field, a
 * record cut by the end of the window, the last bytes of the buffer, goes
 * to the byte loop, which starts the record over. */
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "io/csv_scan.h"

#define BLOCK 16

void pl_csv_scanner_init(pl_csv_scanner *s, char delim, char quote)
{
	memset(s, 0, sizeof(*s));
	s->delim = delim;
	s->quote = quote;
	s->stop[(uint8_t)delim] = 1;
	s->stop['\n'] = 1;
}

static size_t count_lf(const char *p, const char *end)
{
	size_t n = 0;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* Ends the record after a bad quote at q: it runs to the next line end. */
static int bad_record(const char *q, const char *end, int eof, int why,
		      pl_csv_record *rec)
{
	const char *nl = memchr(q, '\n', (size_t)(end - q));
	if (nl == NULL && !eof)
		return PL_SCAN_MORE;
	rec->end = nl != NULL ? nl + 1 : end;
	rec->lines += nl != NULL;
	rec->bad = why;
	return PL_SCAN_RECORD;
}

/* Scans a quoted field whose opening quote is at q[-1]. Returns the byte
 * after the closing quote in *next, or a PL_SCAN_* code through *code. */
static const char *scan_quoted(const pl_csv_scanner *s, const char *q,
			       const char *end, int eof, pl_csv_field *f,
			       int *code)
{
	const char *start = q;
	uint8_t escaped = 0;
	for (;;) {
		const char *r = memchr(q, s->quote, (size_t)(end - q));
		if (r == NULL) {
			*code = eof ? PL_BAD_UNTERMINATED : -1;
			return NULL;
		}
		if (r + 1 == end && !eof) {
			*code = -1;
			return NULL;
		}
		if (r + 1 < end && r[1] == s->quote) {
			escaped = 1;
			q = r + 2;
			continue;
		}
		if (f != NULL) {
			f->p = start;
			f->len = (size_t)(r - start);
			f->quoted = 1;
			f->escaped = escaped;
		}
		*code = 0;
		return r + 1;
	}
}

static int finish(const char *nl, const char *end, size_t nf,
		  pl_csv_record *rec)
{
	rec->nfields = nf;
	rec->end = nl < end ? nl + 1 : end;
	rec->lines += nl < end;
	return PL_SCAN_RECORD;
}

static int empty_line(const char *p, const char *end, int eof,
		      pl_csv_record *rec)
{
	if (p == end)
		return eof ? PL_SCAN_END : PL_SCAN_MORE;
	if (p[0] == '\n') {
		rec->end = p + 1;
		rec->lines = 1;
		return PL_SCAN_EMPTY;
	}
	if (p[0] == '\r' && p + 1 == end && !eof)
		return PL_SCAN_MORE;
	if (p[0] == '\r' && p + 1 < end && p[1] == '\n') {
		rec->end = p + 2;
		rec->lines = 1;
		return PL_SCAN_EMPTY;
	}
	return -1;
}

typedef struct masks {
	unsigned delim, quote, lf; /* bit i: byte i of the block is one */
} masks;

#if defined(__SSE2__)
static inline masks block_masks(const pl_csv_scanner *s, const char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	masks m;
	m.delim = (unsigned)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(v, _mm_set1_epi8(s->delim)));
	m.quote = (unsigned)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(v, _mm_set1_epi8(s->quote)));
	m.lf =
	    (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
	return m;
}
#else
static inline masks block_masks(const pl_csv_scanner *s, const char *p)
{
	masks m = {0, 0, 0};
	for (unsigned i = 0; i < BLOCK; i++) {
		m.delim |= (unsigned)(p[i] == s->delim) << i;
		m.quote |= (unsigned)(p[i] == s->quote) << i;
		m.lf |= (unsigned)(p[i] == '\n') << i;
	}
	return m;
}
#endif

static inline void put_field(pl_csv_field *f, size_t nf, size_t room,
			     const char *p, size_t len)
{
	if (nf < room) {
		f[nf].p = p;
		f[nf].len = len;
		f[nf].quoted = 0;
		f[nf].escaped = 0;
	}
}

/* The fast path: a record of unquoted fields (see the top). Returns
 * PL_SCAN_RECORD, or -1 to leave the record to the byte loop. */
static int scan_plain(const pl_csv_scanner *s, const char *p, const char *end,
		      pl_csv_field *f, size_t room, pl_csv_record *rec)
{
	const char *field = p;
	size_t nf = 0;
	for (const char *b = p; b + BLOCK <= end + 1; b += BLOCK) {
		masks m = block_masks(s, b);
		unsigned before = m.lf ? (m.lf & (0u - m.lf)) - 1 : ~0u;
		if (m.quote & before)
			return -1;
		for (unsigned d = m.delim & before; d != 0; d &= d - 1) {
			const char *q = b + __builtin_ctz(d);
			put_field(f, nf++, room, field, (size_t)(q - field));
			field = q + 1;
		}
		if (m.lf == 0)
			continue;
		const char *nl = b + __builtin_ctz(m.lf);
		if (nl == end)
			return -1; /* the sentinel, not a line end */
		size_t len = (size_t)(nl - field);
		if (len > 0 && nl[-1] == '\r')
			len--; /* CRLF */
		put_field(f, nf++, room, field, len);
		return finish(nl, end, nf, rec);
	}
	return -1;
}

int pl_csv_scan_record(const pl_csv_scanner *s, const char *p, const char *end,
		       int eof, pl_csv_field *f, size_t room,
		       pl_csv_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	int e = empty_line(p, end, eof, rec);
	if (e >= 0)
		return e;
	if (scan_plain(s, p, end, f, room, rec) == PL_SCAN_RECORD)
		return PL_SCAN_RECORD;
	const uint8_t *stop = s->stop;
	size_t nf = 0;
	for (;;) {
		pl_csv_field *cur = nf < room ? &f[nf] : NULL;
		const char *q = p;
		if (q < end && *q == s->quote) {
			int code;
			q = scan_quoted(s, q + 1, end, eof, cur, &code);
			if (q == NULL && code < 0)
				return PL_SCAN_MORE;
			if (q == NULL) {
				rec->nfields = nf + 1;
				rec->bad_field = nf;
				rec->end = end;
				rec->bad = code;
				return PL_SCAN_RECORD;
			}
			rec->lines += count_lf(p, q);
			nf++;
			if (q == end && !eof)
				return PL_SCAN_MORE;
			if (q < end && *q == s->delim) {
				p = q + 1;
				continue;
			}
			if (q < end && *q == '\r' && q + 1 == end && !eof)
				return PL_SCAN_MORE;
			if (q < end && *q == '\r' &&
			    (q + 1 == end || q[1] == '\n'))
				q++;
			if (q == end || *q == '\n')
				return finish(q, end, nf, rec);
			rec->nfields = nf;
			rec->bad_field = nf - 1;
			return bad_record(q, end, eof, PL_BAD_AFTER_QUOTE, rec);
		}
		while (!stop[(uint8_t)*q])
			q++;
		if (q == end && !eof)
			return PL_SCAN_MORE;
		if (cur != NULL) {
			size_t len = (size_t)(q - p);
			if (len > 0 && q[-1] == '\r' &&
			    (q == end || *q == '\n'))
				len--;
			cur->p = p;
			cur->len = len;
			cur->quoted = 0;
			cur->escaped = 0;
		}
		nf++;
		if (q < end && *q == s->delim) {
			p = q + 1;
			continue;
		}
		return finish(q, end, nf, rec);
	}
}

size_t pl_csv_unescape(const pl_csv_field *f, char quote, char *dst)
{
	if (!f->escaped) {
		memcpy(dst, f->p, f->len);
		return f->len;
	}
	size_t n = 0;
	for (size_t i = 0; i < f->len; i++) {
		dst[n++] = f->p[i];
		if (f->p[i] == quote)
			i++;
	}
	return n;
}

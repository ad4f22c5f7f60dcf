/* The pure half of the CSV split: nominal ranges, counting and moving
 * edges to record starts. Files are read with pread in blocks, so ranks
 * touch only the bytes they need (plus each file's header). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include "io/csv_partition.h"

#define COUNT_BLOCK ((size_t)1 << 20)
#define SCAN_BLOCK ((size_t)64 << 10)

/* Stop value of a block callback: the scan found what it looked for. */
#define FOUND 1

void pl_csv_share_free(pl_csv_share *s)
{
	free(s->pieces);
	s->pieces = NULL;
	s->npieces = 0;
}

static int open_ro(const char *path, int *fd, pl_error *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	return 0;
}

/* pread that retries on EINTR and short reads: fewer than n bytes only at
 * the file's end. */
static ssize_t read_at(int fd, const char *path, char *buf, size_t n,
		       uint64_t off, pl_error *err)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
					    strerror(errno));
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Called with each block of a range; returns 0 to go on, FOUND to stop. */
typedef int (*block_fn)(void *arg, const char *p, size_t n, uint64_t off);

/* Feeds path's bytes in [start, end) to fn block by block. */
static int each_block(const char *path, uint64_t start, uint64_t end,
		      size_t cap, block_fn fn, void *arg, pl_error *err)
{
	int fd;
	int rc = open_ro(path, &fd, err);
	if (rc != 0)
		return rc;
	char *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return pl_error_nomem(err, "a csv split buffer");
	}
	while (start < end) {
		size_t want = end - start < cap ? (size_t)(end - start) : cap;
		ssize_t n = read_at(fd, path, buf, want, start, err);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0 || fn(arg, buf, (size_t)n, start) == FOUND)
			break;
		start += (uint64_t)n;
		if ((size_t)n < want)
			break;
	}
	free(buf);
	close(fd);
	return rc;
}

static int is_zstd_name(const char *path)
{
	size_t n = strlen(path);
	return n >= 4 && strcmp(path + n - 4, ".zst") == 0;
}

static int file_info(const char *path, pl_csv_file_info *fi, pl_error *err)
{
	static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	unsigned char head[4];
	struct stat st;
	int fd;
	fi->size = 0;
	fi->whole = 1;
	if (strcmp(path, "-") == 0)
		return 0;
	int rc = open_ro(path, &fd, err);
	if (rc != 0)
		return rc;
	ssize_t n = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		fi->size = (uint64_t)st.st_size;
		n = read_at(fd, path, (char *)head, sizeof(head), 0, err);
	}
	close(fd);
	if (n < 0)
		return (int)n;
	fi->whole = fi->size == 0 || is_zstd_name(path) ||
		    (n == 4 && memcmp(head, magic, 4) == 0);
	return 0;
}

int pl_csv_file_infos(const pl_csv_options *o, pl_csv_file_info *info,
		      pl_error *err)
{
	for (size_t i = 0; i < o->npaths; i++) {
		int rc = file_info(o->paths[i], &info[i], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Nominal edge k of nranks over total bytes: floor(k * total / nranks)
 * without overflow. */
static uint64_t edge(uint64_t total, int k, int nranks)
{
	uint64_t n = (uint64_t)nranks, kk = (uint64_t)k;
	return total / n * kk + total % n * kk / n;
}

static int add_piece(pl_csv_share *s, size_t file, uint64_t start, uint64_t end,
		     int whole, pl_error *err)
{
	pl_csv_piece *p =
	    realloc(s->pieces, (s->npieces + 1) * sizeof(*s->pieces));
	if (p == NULL)
		return pl_error_nomem(err, "a csv share");
	s->pieces = p;
	p[s->npieces++] = (pl_csv_piece){file, start, end, 0, whole};
	return 0;
}

int pl_csv_nominal_share(const pl_csv_file_info *info, size_t nfiles, int rank,
			 int nranks, pl_csv_share *out, pl_error *err)
{
	memset(out, 0, sizeof(*out));
	uint64_t total = 0;
	for (size_t i = 0; i < nfiles; i++)
		total += info[i].size;
	uint64_t lo = edge(total, rank, nranks);
	uint64_t hi = edge(total, rank + 1, nranks);
	uint64_t at = 0; /* offset of file i in the concatenation */
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nfiles; at += info[i++].size) {
		uint64_t size = info[i].size;
		if (info[i].whole) {
			uint64_t mid = at + size / 2;
			int mine = mid >= total ? rank == nranks - 1
						: lo <= mid && mid < hi;
			if (mine)
				rc = add_piece(out, i, 0, size, 1, err);
			continue;
		}
		uint64_t s = lo > at ? lo : at;
		uint64_t e = hi < at + size ? hi : at + size;
		if (s < e)
			rc = add_piece(out, i, s - at, e - at, 0, err);
	}
	if (rc != 0)
		pl_csv_share_free(out);
	return rc;
}

typedef struct count_state {
	char quote;
	pl_csv_counts c;
} count_state;

#if defined(__SSE2__)
/* Byte counters in SSE2 lanes: a match adds one to its lane (cmpeq gives
 * -1, subtracted), and every 255 blocks of 16 the lanes are summed by
 * psadbw before they can wrap. About 4x the plain loop, which widens
 * every byte to 64 bits. */
static size_t count_simd(const char *p, size_t n, char q, uint64_t *quotes,
			 uint64_t *lf)
{
	const __m128i vq = _mm_set1_epi8(q), vn = _mm_set1_epi8('\n');
	const __m128i zero = _mm_setzero_si128();
	__m128i sq = zero, sn = zero;
	size_t i = 0;
	while (n - i >= 16) {
		__m128i aq = zero, an = zero;
		size_t stop =
		    n - i >= 255 * 16 ? i + 255 * 16 : i + (n - i) / 16 * 16;
		for (; i < stop; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
			aq = _mm_sub_epi8(aq, _mm_cmpeq_epi8(v, vq));
			an = _mm_sub_epi8(an, _mm_cmpeq_epi8(v, vn));
		}
		sq = _mm_add_epi64(sq, _mm_sad_epu8(aq, zero));
		sn = _mm_add_epi64(sn, _mm_sad_epu8(an, zero));
	}
	uint64_t a[2], b[2];
	_mm_storeu_si128((__m128i *)a, sq);
	_mm_storeu_si128((__m128i *)b, sn);
	*quotes += a[0] + a[1];
	*lf += b[0] + b[1];
	return i;
}
#endif

static int count_block(void *arg, const char *p, size_t n, uint64_t off)
{
	count_state *s = arg;
	char q = s->quote;
	uint64_t quotes = 0, lf = 0;
	size_t i = 0;
	(void)off;
#if defined(__SSE2__)
	i = count_simd(p, n, q, &quotes, &lf);
#endif
	for (; i < n; i++) {
		quotes += p[i] == q;
		lf += p[i] == '\n';
	}
	s->c.quotes += quotes;
	s->c.newlines += lf;
	return 0;
}

int pl_csv_count(const char *path, uint64_t start, uint64_t end, char quote,
		 pl_csv_counts *out, pl_error *err)
{
	count_state s = {quote, {0, 0}};
	int rc = 0;
	if (start < end)
		rc = each_block(path, start, end, COUNT_BLOCK, count_block, &s,
				err);
	*out = s.c;
	return rc;
}

/* State of a forward scan for an LF outside quotes. */
typedef struct seek_lf {
	char quote;
	int inside;
	uint64_t newlines;
	uint64_t found; /* one past the LF, or UINT64_MAX */
} seek_lf;

static int seek_block(void *arg, const char *p, size_t n, uint64_t off)
{
	seek_lf *s = arg;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == s->quote) {
			s->inside ^= 1;
		} else if (p[i] == '\n') {
			s->newlines++;
			if (!s->inside) {
				s->found = off + i + 1;
				return FOUND;
			}
		}
	}
	return 0;
}

static int file_size(const char *path, uint64_t *size, pl_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Scans from pos (inside a quoted field when inside) for the next LF
 * outside quotes; *at gets one past it, or the file's end. */
static int scan_to_record(const char *path, uint64_t pos, int inside,
			  char quote, uint64_t *at, uint64_t *newlines,
			  pl_error *err)
{
	seek_lf s = {quote, inside, 0, UINT64_MAX};
	uint64_t size = 0;
	int rc = file_size(path, &size, err);
	if (rc == 0 && pos < size)
		rc = each_block(path, pos, size, SCAN_BLOCK, seek_block, &s,
				err);
	*at = s.found != UINT64_MAX ? s.found : (pos > size ? pos : size);
	*newlines = s.newlines;
	return rc;
}

int pl_csv_next_record_start(const char *path, uint64_t pos, int parity,
			     char quote, uint64_t *start, uint64_t *newlines,
			     pl_error *err)
{
	*start = pos;
	*newlines = 0;
	if (pos > 0 && !(parity & 1)) {
		int fd;
		char c = 0;
		int rc = open_ro(path, &fd, err);
		ssize_t n =
		    rc == 0 ? read_at(fd, path, &c, 1, pos - 1, err) : 0;
		if (rc == 0)
			close(fd);
		if (rc != 0 || n < 0)
			return rc != 0 ? rc : (int)n;
		if (n == 1 && c == '\n')
			return 0;
	}
	return scan_to_record(path, pos, parity & 1, quote, start, newlines,
			      err);
}

/* How far past a nominal edge the parity guess looks for a telling
 * quote. */
#define GUESS_WINDOW ((size_t)64 << 10)

static int ends_field(char c, char delim)
{
	return c == delim || c == '\n' || c == '\r';
}

/* The quote parity at p[0] guessed from the quotes after it. When p runs
 * to the file's end, where a field cannot be open, the quotes' count
 * tells. Else the first quote that can only open a field (after a
 * delimiter or a line end, not before one) says even, one that can only
 * close a field (the reverse) says odd; a doubled quote tells nothing. No
 * telling quote: even. */
static int guess_parity(const char *p, size_t n, int to_end, char before,
			char quote, char delim)
{
	size_t seen = 0;
	if (to_end) {
		count_state cs = {quote, {0, 0}};
		count_block(&cs, p, n, 0);
		return (int)(cs.c.quotes & 1);
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] != quote)
			continue;
		char prev = i > 0 ? p[i - 1] : before;
		if (i + 1 < n && p[i + 1] == quote) {
			i++;
			continue;
		}
		int after_end = i + 1 == n || ends_field(p[i + 1], delim);
		int opens = ends_field(prev, delim) && !after_end;
		int closes = !ends_field(prev, delim) && after_end;
		if (opens || closes)
			return (int)((seen + (size_t)closes) & 1);
		seen++;
	}
	return 0;
}

int pl_csv_guess_parity(const char *path, uint64_t pos, char quote, char delim,
			int *parity, pl_error *err)
{
	*parity = 0;
	int fd;
	int rc = open_ro(path, &fd, err);
	if (rc != 0)
		return rc;
	char *buf = malloc(GUESS_WINDOW + 1);
	ssize_t n = buf == NULL ? 0
				: read_at(fd, path, buf, GUESS_WINDOW + 1,
					  pos > 0 ? pos - 1 : 0, err);
	close(fd);
	if (buf == NULL)
		return pl_error_nomem(err, "a csv split buffer");
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	size_t lead = pos > 0 && n > 0 ? 1 : 0;
	*parity = guess_parity(buf + lead, (size_t)n - lead,
			       (size_t)n < GUESS_WINDOW + 1,
			       lead ? buf[0] : '\n', quote, delim);
	free(buf);
	return 0;
}

/* State of the scan for the end of the header record. */
typedef struct header_scan {
	char quote;
	int phase; /* LINE_START, AFTER_CR (at a line start) or IN_HEADER */
	int inside;
	uint64_t newlines;
	uint64_t found;
} header_scan;

enum { LINE_START, AFTER_CR, IN_HEADER };

/* Empty lines before the header are skipped, as the reader does: an LF,
 * or a CR then an LF; a CR followed by anything else starts the header. */
static int header_block(void *arg, const char *p, size_t n, uint64_t off)
{
	header_scan *h = arg;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (h->phase != IN_HEADER && c == '\n') {
			h->newlines++;
			h->phase = LINE_START;
			continue;
		}
		if (h->phase == LINE_START && c == '\r') {
			h->phase = AFTER_CR;
			continue;
		}
		h->phase = IN_HEADER;
		if (c == h->quote) {
			h->inside ^= 1;
		} else if (c == '\n') {
			h->newlines++;
			if (!h->inside) {
				h->found = off + i + 1;
				return FOUND;
			}
		}
	}
	return 0;
}

static int bom_length(const char *path, uint64_t *len, pl_error *err)
{
	int fd;
	char head[3];
	int rc = open_ro(path, &fd, err);
	if (rc != 0)
		return rc;
	ssize_t n = read_at(fd, path, head, sizeof(head), 0, err);
	close(fd);
	if (n < 0)
		return (int)n;
	*len = n == 3 && memcmp(head, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	return 0;
}

int pl_csv_data_start(const char *path, int header, char quote, uint64_t *start,
		      int64_t *line, pl_error *err)
{
	uint64_t bom = 0, size = 0;
	*start = 0;
	*line = 1;
	int rc = bom_length(path, &bom, err);
	if (rc == 0 && header)
		rc = file_size(path, &size, err);
	if (rc != 0 || !header) {
		*start = bom;
		return rc;
	}
	header_scan h = {quote, LINE_START, 0, 0, UINT64_MAX};
	rc = each_block(path, bom, size, SCAN_BLOCK, header_block, &h, err);
	*start = h.found != UINT64_MAX ? h.found : size;
	*line = 1 + (int64_t)h.newlines;
	return rc;
}

int pl_csv_cells(const pl_csv_file_info *info, size_t nfiles, int nranks,
		 pl_csv_cell **cells, size_t *ncells, pl_error *err)
{
	*cells = NULL;
	*ncells = 0;
	for (int j = 0; j < nranks - 1; j++) {
		pl_csv_share s;
		int rc = pl_csv_nominal_share(info, nfiles, j, nranks, &s, err);
		pl_csv_cell *c =
		    rc ? NULL
		       : realloc(*cells,
				 (*ncells + s.npieces + 1) * sizeof(**cells));
		if (rc == 0 && c == NULL)
			rc = pl_error_nomem(err, "a csv split");
		for (size_t i = 0; c != NULL && i < s.npieces; i++)
			if (!s.pieces[i].whole)
				c[(*ncells)++] = (pl_csv_cell){
				    s.pieces[i].file, j, s.pieces[i].start,
				    s.pieces[i].end};
		pl_csv_share_free(&s);
		if (rc != 0) {
			free(*cells);
			*cells = NULL;
			*ncells = 0;
			return rc;
		}
		*cells = c;
	}
	return 0;
}

int pl_csv_count_cells(const pl_csv_options *o, const pl_csv_cell *cells,
		       size_t ncells, int rank, int nranks,
		       pl_csv_counts *counts, pl_error *err)
{
	uint64_t n = (uint64_t)nranks, k = (uint64_t)rank;
	for (size_t i = 0; i < ncells; i++) {
		const pl_csv_cell *c = &cells[i];
		uint64_t len = c->end - c->start;
		uint64_t lo = c->start + len / n * k + len % n * k / n;
		uint64_t hi =
		    c->start + len / n * (k + 1) + len % n * (k + 1) / n;
		counts[i] = (pl_csv_counts){0, 0};
		int rc = pl_csv_count(o->paths[c->file], lo, hi, o->quote,
				      &counts[i], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void pl_csv_share_counts(const pl_csv_cell *cells, size_t ncells,
			 const pl_csv_counts *sum, int rank,
			 const pl_csv_share *share, pl_csv_counts *before,
			 pl_csv_counts *own)
{
	for (size_t p = 0; p < share->npieces; p++) {
		size_t f = share->pieces[p].file;
		before[p] = own[p] = (pl_csv_counts){0, 0};
		for (size_t i = 0; i < ncells; i++) {
			if (cells[i].file != f || cells[i].rank > rank)
				continue;
			pl_csv_counts *to =
			    cells[i].rank < rank ? &before[p] : &own[p];
			to->quotes += sum[i].quotes;
			to->newlines += sum[i].newlines;
		}
	}
}

/* Moves nominal edge pos of a file with data start ds to a record start;
 * q and lf are the quotes and LFs before pos. */
static int fix_edge(const pl_csv_options *o, const char *path, uint64_t pos,
		    uint64_t ds, uint64_t q, uint64_t lf, uint64_t *at,
		    int64_t *line, pl_error *err)
{
	uint64_t skipped = 0;
	if (pos <= ds) {
		*at = ds;
		return 0;
	}
	int rc = pl_csv_next_record_start(path, pos, (int)(q & 1), o->quote, at,
					  &skipped, err);
	*line = 1 + (int64_t)(lf + skipped);
	return rc;
}

static int fix_piece(const pl_csv_options *o, pl_csv_piece *p,
		     const pl_csv_counts *before, const pl_csv_counts *own,
		     pl_error *err)
{
	const char *path = o->paths[p->file];
	uint64_t ds;
	int64_t ds_line, unused;
	int rc =
	    pl_csv_data_start(path, o->header, o->quote, &ds, &ds_line, err);
	p->line = ds_line;
	if (rc == 0)
		rc = fix_edge(o, path, p->start, ds, before->quotes,
			      before->newlines, &p->start, &p->line, err);
	if (rc == 0)
		rc = fix_edge(o, path, p->end, ds, before->quotes + own->quotes,
			      before->newlines + own->newlines, &p->end,
			      &unused, err);
	return rc;
}

/* Moves nominal edge pos to the record start its guessed parity gives. */
static int guess_edge(const pl_csv_options *o, const char *path, uint64_t pos,
		      uint64_t ds, uint64_t *at, pl_error *err)
{
	uint64_t skipped;
	int parity;
	if (pos <= ds) {
		*at = ds;
		return 0;
	}
	int rc = pl_csv_guess_parity(path, pos, o->quote, o->delimiter, &parity,
				     err);
	if (rc == 0)
		rc = pl_csv_next_record_start(path, pos, parity, o->quote, at,
					      &skipped, err);
	return rc;
}

static int guess_piece(const pl_csv_options *o, pl_csv_piece *p, pl_error *err)
{
	const char *path = o->paths[p->file];
	uint64_t ds;
	int64_t ds_line;
	int rc =
	    pl_csv_data_start(path, o->header, o->quote, &ds, &ds_line, err);
	if (rc == 0)
		rc = guess_edge(o, path, p->start, ds, &p->start, err);
	p->line = p->start == ds ? ds_line : 0;
	if (rc == 0)
		rc = guess_edge(o, path, p->end, ds, &p->end, err);
	return rc;
}

int pl_csv_fix_share(const pl_csv_options *o, pl_csv_share *share,
		     const pl_csv_counts *before, const pl_csv_counts *own,
		     pl_error *err)
{
	size_t kept = 0;
	for (size_t i = 0; i < share->npieces; i++) {
		pl_csv_piece p = share->pieces[i];
		int first = p.start == 0;
		if (!p.whole) {
			int rc =
			    before ? fix_piece(o, &p, &before[i], &own[i], err)
				   : guess_piece(o, &p, err);
			if (rc != 0)
				return rc;
		}
		if (p.whole || p.start < p.end || first)
			share->pieces[kept++] = p;
	}
	share->npieces = kept;
	return 0;
}

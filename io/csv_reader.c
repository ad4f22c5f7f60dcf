/* The CSV reader: a growable window over the input (refilled in large
 * blocks, never the whole file), the scanner finding records in it, and a
 * row loop converting the selected fields straight into the reused batch.
 *
 * The inference sample stays in the window: while sampling, the window
 * keeps everything from the first data record, growing as needed, so the
 * sampled rows are then read again from memory (this works for pipes).
 *
 * With a share set (one rank's part of the input), the reader goes through
 * the share's pieces instead of the files: a whole piece is a file read as
 * usual, a cut piece a byte range read with pread, after its file's header
 * is read from the file's start and checked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/name_index.h"
#include "io/csv_infer.h"
#include "io/csv_partition.h"
#include "io/csv_reader.h"
#include "io/csv_scan.h"
#include "io/zstd_input.h"

#define BLOCK_SIZE ((size_t)1 << 20)
#define VALUE_SHOWN 60

/* A bad value found while converting: positive, not an error code. */
#define BAD_VALUE 1
/* A dictionary column met too many distinct values: read it plain. */
#define DICT_FULL 2

/* Dictionary-encoded string columns: the distinct values of one batch,
 * found through a table of DICT_SLOTS. A column goes plain for good when
 * a batch holds more than DICT_MAX values, or more than half its rows
 * are distinct after DICT_PROBE_ROWS (ids, free text): there the
 * dictionary costs a lookup and saves nothing. */
#define DICT_MAX 4096
#define DICT_SLOTS 8192
#define DICT_PROBE_ROWS 1024

typedef struct dict_col {
	uint32_t *slots;    /* code + 1; 0 is empty; NULL: not a dict column */
	uint32_t null_code; /* the NULL entry, or UINT32_MAX */
} dict_col;

struct pl_csv_reader {
	const pl_csv_options *o;
	pl_pool *pool;
	pl_csv_scanner scan;
	size_t file; /* index of the open file in o->paths */
	pl_zin *zin; /* NULL once the file is done */
	char *buf;   /* cap + 1 bytes; buf[len] is a '\n' sentinel */
	size_t cap, len, pos;
	int eof;
	int64_t line; /* physical line of buf[pos] */
	uint64_t bytes_done;
	pl_csv_field *fields;
	size_t room;	/* fields the array holds */
	size_t nin;	/* fields per record */
	pl_schema in;	/* every column, types fixed */
	pl_schema out;	/* the selected columns */
	size_t *sel;	/* out column k is field sel[k] */
	uint8_t *given; /* column i typed by o->schema */
	size_t *null_len;
	pl_batch *batch;   /* the batch being filled: batches[cur] */
	size_t batch_room; /* rows every buffer of it holds */
	pl_batch *batches[2];
	size_t rooms[2];
	unsigned cur;
	int two;      /* fill batches[0] and [1] in turn (read-ahead) */
	int no_lines; /* a piece's line is unknown: rows carry no lines */
	FILE *reject;
	char *reject_path; /* where reject writes now, when redirected */
	pl_csv_stats stats;
	dict_col *dict; /* per output column, when dictionaries are allowed */
	pl_csv_piece *pieces; /* the share, when set (a copy) */
	size_t npieces;
	size_t piece;	/* the next piece to open */
	int fd;		/* the file of a cut piece, or -1 */
	uint64_t off;	/* file offset of the next byte to read */
	uint64_t stop;	/* end of the bytes to read */
	uint64_t fsize; /* size of the file of a cut piece */
};

static const char *cur_path(const pl_csv_reader *r)
{
	return r->o->paths[r->file];
}

/* Reads the next bytes of a cut piece after the window's bytes. */
static ssize_t read_range(pl_csv_reader *r, pl_error *err)
{
	size_t want = r->cap - r->len;
	if (r->stop - r->off < want)
		want = (size_t)(r->stop - r->off);
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(r->fd, r->buf + r->len + got, want - got,
				  (off_t)(r->off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pl_error_set(err, PL_ERR_IO, "%s: %s",
					    cur_path(r), strerror(errno));
		/* The share was cut from the file's size at the start: an
		 * end before the stop offset means the file shrank while the
		 * job ran, and the answer would silently miss rows. */
		if (n == 0)
			return pl_error_set(err, PL_ERR_DATA,
					    "%s: the file ends at byte %llu, "
					    "before byte %llu where this "
					    "rank's share ends (truncated "
					    "while the job read it?)",
					    cur_path(r),
					    (unsigned long long)(r->off + got),
					    (unsigned long long)r->stop);
		got += (size_t)n;
	}
	r->off += got;
	r->bytes_done += got;
	return (ssize_t)got;
}

/* Moves the bytes from pos to the front, grows the window when it is
 * full of them, and reads the next block after them. */
static int refill(pl_csv_reader *r, pl_error *err)
{
	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	if (r->len == r->cap) {
		char *nb = pl_pool_realloc(r->pool, r->buf, 2 * (r->cap + 1));
		if (nb == NULL)
			return pl_error_nomem(err, "a csv read buffer");
		r->buf = nb;
		r->cap = pl_pool_size(nb) - 1;
	}
	ssize_t n = r->fd >= 0 ? read_range(r, err)
			       : pl_zin_read(r->zin, r->buf + r->len,
					     r->cap - r->len, err);
	if (n < 0)
		return (int)n;
	r->eof = n == 0;
	r->len += (size_t)n;
	r->buf[r->len] = '\n';
	return 0;
}

/* Scans the record at pos + rel, reading more input as needed. Returns a
 * PL_SCAN_* code or a negative error. */
static int next_record(pl_csv_reader *r, size_t rel, pl_csv_record *rec,
		       pl_error *err)
{
	for (;;) {
		int rc = pl_csv_scan_record(&r->scan, r->buf + r->pos + rel,
					    r->buf + r->len, r->eof, r->fields,
					    r->room, rec);
		if (rc != PL_SCAN_MORE)
			return rc;
		if ((rc = refill(r, err)) != 0)
			return rc;
	}
}

static int grow_fields(pl_csv_reader *r, size_t n, pl_error *err)
{
	if (n <= r->room)
		return 0;
	pl_csv_field *f = pl_pool_realloc(r->pool, r->fields, n * sizeof(*f));
	if (f == NULL)
		return pl_error_nomem(err, "csv fields");
	r->fields = f;
	r->room = n;
	return 0;
}

static void close_file(pl_csv_reader *r)
{
	if (r->zin != NULL)
		r->bytes_done += pl_zin_bytes_read(r->zin);
	pl_zin_close(r->zin);
	r->zin = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

static bool file_open(const pl_csv_reader *r)
{
	return r->zin != NULL || r->fd >= 0;
}

/* Opens file i to be read by offset, from its start for now. */
static int open_range(pl_csv_reader *r, size_t i, pl_error *err)
{
	struct stat st;
	r->fd = open(r->o->paths[i], O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", r->o->paths[i],
				    strerror(errno));
	r->fsize = (uint64_t)st.st_size;
	r->off = 0;
	r->stop = r->fsize;
	return 0;
}

/* Opens file i, as a stream or by offset (ranged), and drops its
 * byte-order mark. */
static int open_file(pl_csv_reader *r, size_t i, bool ranged, pl_error *err)
{
	close_file(r);
	r->file = i;
	r->len = r->pos = 0;
	r->eof = 0;
	r->line = 1;
	int rc = ranged ? open_range(r, i, err)
			: pl_zin_open(r->o->paths[i], r->pool, &r->zin, err);
	while (rc == 0 && r->len < 3 && !r->eof)
		rc = refill(r, err);
	if (rc == 0 && r->len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0)
		r->pos = 3;
	return rc;
}

/* The first record, past empty lines; PL_SCAN_END for an empty file. */
static int first_record(pl_csv_reader *r, pl_csv_record *rec, pl_error *err)
{
	for (;;) {
		int rc = next_record(r, 0, rec, err);
		if (rc != PL_SCAN_EMPTY)
			return rc;
		r->pos = (size_t)(rec->end - r->buf);
		r->line++;
	}
}

/* Reads the header record (or, without a header, looks at the first
 * record) with room for all of its fields. */
static int header_record(pl_csv_reader *r, pl_csv_record *rec, pl_error *err)
{
	int rc;
	while ((rc = first_record(r, rec, err)) == PL_SCAN_RECORD &&
	       rec->nfields > r->room)
		if ((rc = grow_fields(r, rec->nfields + 1, err)) != 0)
			return rc;
	if (rc == PL_SCAN_END && r->o->header)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: empty file (no header)", cur_path(r));
	if (rc == PL_SCAN_RECORD && rec->bad && r->o->header)
		return pl_error_set(err, PL_ERR_DATA, "%s:%lld: bad header: %s",
				    cur_path(r), (long long)r->line,
				    rec->bad == PL_BAD_UNTERMINATED
					? "unterminated quoted field"
					: "text after a closing quote");
	return rc;
}

/* The header's name i, unescaped into buf. */
static int header_name(pl_csv_reader *r, size_t i, char *buf, size_t cap,
		       pl_error *err)
{
	const pl_csv_field *f = &r->fields[i];
	if (f->len >= cap || memchr(f->p, '\0', f->len) != NULL)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%lld: column %zu: name too long or "
				    "holding a NUL byte",
				    cur_path(r), (long long)r->line, i + 1);
	buf[pl_csv_unescape(f, r->o->quote, buf)] = '\0';
	/* R's write.csv heads its row names with "": named as pandas names
	 * it, by its 0-based position */
	if (buf[0] == '\0')
		snprintf(buf, cap, "Unnamed: %zu", i);
	return 0;
}

static int first_header(pl_csv_reader *r, const pl_csv_record *rec,
			pl_error *err)
{
	char name[4096];
	r->nin = rec->nfields;
	pl_name_index *seen = pl_name_index_new(r->nin);
	int rc = seen ? 0 : pl_error_nomem(err, "the header's names");
	for (size_t i = 0; rc == 0 && i < r->nin; i++) {
		if (r->o->header)
			rc = header_name(r, i, name, sizeof(name), err);
		else
			snprintf(name, sizeof(name), "c%zu", i + 1);
		if (rc == 0 && pl_name_index_find(seen, &r->in, name) >= 0)
			rc =
			    pl_error_set(err, PL_ERR_DATA,
					 "%s:%lld: duplicate column name "
					 "'%s'",
					 cur_path(r), (long long)r->line, name);
		if (rc == 0)
			rc = pl_schema_add(&r->in, name, PL_STRING, err);
		if (rc == 0 && pl_name_index_add(seen, &r->in, i) != 0)
			rc = pl_error_nomem(err, "the header's names");
	}
	pl_name_index_free(seen);
	return rc;
}

static int same_header(pl_csv_reader *r, const pl_csv_record *rec,
		       pl_error *err)
{
	char name[4096];
	if (rec->nfields != r->nin)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%lld: header has %zu columns, %s has "
				    "%zu",
				    cur_path(r), (long long)r->line,
				    rec->nfields, r->o->paths[0], r->nin);
	for (size_t i = 0; i < r->nin; i++) {
		int rc = header_name(r, i, name, sizeof(name), err);
		if (rc != 0)
			return rc;
		if (strcmp(name, r->in.fields[i].name) != 0)
			return pl_error_set(err, PL_ERR_DATA,
					    "%s:%lld: header differs from %s: "
					    "column %zu is '%s', not '%s'",
					    cur_path(r), (long long)r->line,
					    r->o->paths[0], i + 1, name,
					    r->in.fields[i].name);
	}
	return 0;
}

/* Reads file i's header; the first file's fixes the columns. */
static int start_file(pl_csv_reader *r, size_t i, bool ranged, pl_error *err)
{
	pl_csv_record rec;
	int rc = open_file(r, i, ranged, err);
	if (rc == 0)
		rc = header_record(r, &rec, err);
	if (rc < 0 || rc == PL_SCAN_END)
		return rc < 0 ? rc : 0;
	if (r->nin == 0)
		rc = first_header(r, &rec, err);
	else if (r->o->header)
		rc = same_header(r, &rec, err);
	if (rc == 0 && r->o->header) {
		r->pos = (size_t)(rec.end - r->buf);
		r->line += (int64_t)rec.lines;
	}
	return rc;
}

/* Opens the next piece of the share: a cut piece has its file's header
 * checked, then the window starts over at the piece's first byte. */
static int start_piece(pl_csv_reader *r, pl_error *err)
{
	const pl_csv_piece *p = &r->pieces[r->piece++];
	uint64_t done = r->bytes_done;
	int rc = 0;
	if (p->whole || r->o->header)
		rc = start_file(r, p->file, !p->whole, err);
	else
		rc = open_file(r, p->file, true, err);
	if (rc != 0 || p->whole)
		return rc;
	/* Every rank read the file's first block for its header: only the
	 * piece at the data start counts the bytes before it, so that the
	 * ranks together count each byte of the file once. */
	r->bytes_done =
	    done +
	    (p->start == r->pos && p->end > p->start ? (uint64_t)r->pos : 0);
	r->len = r->pos = 0;
	r->eof = 0;
	r->off = p->start;
	r->stop = p->end;
	r->line = p->line;
	return 0;
}

static bool more_input(const pl_csv_reader *r)
{
	if (r->pieces != NULL)
		return r->piece < r->npieces;
	return r->file + 1 < r->o->npaths;
}

static int next_input(pl_csv_reader *r, pl_error *err)
{
	if (r->pieces != NULL)
		return start_piece(r, err);
	return start_file(r, r->file + 1, false, err);
}

static bool is_null(const pl_csv_reader *r, const pl_csv_field *f)
{
	if (f->quoted)
		return false;
	if (f->len == 0)
		return true;
	for (size_t i = 0; i < r->o->nnulls; i++)
		if (f->len == r->null_len[i] &&
		    memcmp(f->p, r->o->nulls[i], f->len) == 0)
			return true;
	return false;
}

/* Makes every buffer of the batch hold at least n rows. */
static int grow_rows(pl_csv_reader *r, size_t n, pl_error *err)
{
	pl_batch *b = r->batch;
	for (size_t k = 0; k < b->ncols; k++)
		if (pl_column_reserve(&b->cols[k], n, r->pool, err) != 0)
			return PL_ERR_NOMEM;
	if (!r->no_lines) {
		int64_t *line =
		    pl_pool_realloc(r->pool, b->line, n * sizeof(*line));
		if (line == NULL)
			return pl_error_nomem(err, "row line numbers");
		b->line = line;
	}
	r->batch_room = n;
	return 0;
}

/* Turns to the other batch when two are filled in turn: the one handed
 * out last stays valid while this one fills (a read-ahead thread relies
 * on it). Else the one batch is filled again: each rank of a job without
 * read-ahead would fault in a second set of buffers for nothing. */
static void swap_batch(pl_csv_reader *r)
{
	if (!r->two)
		return;
	r->rooms[r->cur] = r->batch_room;
	r->cur ^= 1;
	r->batch = r->batches[r->cur];
	r->batch_room = r->rooms[r->cur];
}

/* Readies column k of the batch to fill: an empty dictionary when it is
 * a dictionary column, else plain (dropping a dictionary from before the
 * column went plain). */
static int reset_dict(pl_csv_reader *r, size_t k, pl_error *err)
{
	pl_column *c = &r->batch->cols[k];
	dict_col *dc = r->dict ? &r->dict[k] : NULL;
	if (dc == NULL || dc->slots == NULL) {
		pl_column_reset(c, r->pool);
		return 0;
	}
	if (c->dict == NULL) {
		c->dict = calloc(1, sizeof(*c->dict));
		if (c->dict == NULL ||
		    pl_column_init(c->dict, PL_STRING, 0, 0, r->pool, err) != 0)
			return pl_error_nomem(err, "a string dictionary");
	}
	/* A validity bitmap stays: every entry sets its own bit. */
	c->dict->len = 0;
	c->dict->arena_len = 0;
	memset(dc->slots, 0, DICT_SLOTS * sizeof(*dc->slots));
	dc->null_code = UINT32_MAX;
	return 0;
}

/* Rows to make room for before filling a batch of at most max_rows: all
 * of them unless the rest of the input is known to hold fewer records
 * (each takes one byte per field at least): a piece read by offset, or a
 * stream read to its end. A batch grown from a few rows by doubling
 * leaves a buffer of every smaller size per column behind, memory touched
 * for nothing on every rank; room reserved and never filled is not. */
#define CSV_RESERVE_ROWS ((size_t)1 << 20)
static size_t rows_to_reserve(const pl_csv_reader *r, size_t max_rows)
{
	if (max_rows > CSV_RESERVE_ROWS)
		max_rows = CSV_RESERVE_ROWS; /* pl_input_next(SIZE_MAX) */
	uint64_t left = r->len - r->pos;
	if (r->fd >= 0)
		left += r->stop - r->off;
	else if (!r->eof)
		return max_rows;
	uint64_t most = left / (r->nin > 0 ? r->nin : 1) + 1;
	return most < max_rows ? (size_t)most : max_rows;
}

static int reset_batch(pl_csv_reader *r, size_t max_rows, pl_error *err)
{
	if (r->batch == NULL) {
		r->batch = pl_batch_new(&r->out, 0, r->pool, err);
		if (r->batch == NULL)
			return PL_ERR_NOMEM;
		r->batches[r->cur] = r->batch;
	}
	pl_batch *b = r->batch;
	b->nrows = 0;
	b->origin = cur_path(r);
	for (size_t k = 0; k < b->ncols; k++) {
		b->cols[k].len = 0;
		b->cols[k].arena_len = 0;
		int rc = reset_dict(r, k, err);
		if (rc)
			return rc;
	}
	size_t want = rows_to_reserve(r, max_rows);
	if (want < 64)
		want = 64;
	return r->batch_room < want ? grow_rows(r, want, err) : 0;
}

static int put_null(pl_csv_reader *r, pl_column *c, size_t row, pl_error *err)
{
	if (c->valid == NULL) {
		c->len = row;
		if (pl_column_make_nullable(c, r->pool, err) != 0)
			return PL_ERR_NOMEM;
	}
	pl_bit_set(c->valid, row, false);
	if (c->type == PL_STRING)
		pl_col_off(c)[row + 1] = pl_col_off(c)[row];
	else if (c->type == PL_BOOL)
		pl_col_bool(c)[row] = 0;
	else
		pl_col_i64(c)[row] = 0;
	return 0;
}

static int put_string(pl_csv_reader *r, pl_column *c, size_t row,
		      const pl_csv_field *f, pl_error *err)
{
	int64_t *off = pl_col_off(c);
	size_t at = (size_t)off[row];
	if (f->len == 0) {
		off[row + 1] = (int64_t)at;
		return 0;
	}
	if (at + f->len > c->arena_cap) {
		c->arena_len = at;
		if (pl_column_reserve_arena(c, f->len, r->pool, err) != 0)
			return PL_ERR_NOMEM;
	}
	off[row + 1] =
	    (int64_t)(at + pl_csv_unescape(f, r->o->quote, c->arena + at));
	return 0;
}

/* Row's value is NULL: in the row bitmap, and one NULL entry in the
 * dictionary that its code points to. */
static int put_dict_null(pl_csv_reader *r, dict_col *dc, pl_column *c,
			 size_t row, pl_error *err)
{
	if (c->valid == NULL) {
		c->len = row;
		if (pl_column_make_nullable(c, r->pool, err) != 0)
			return PL_ERR_NOMEM;
	}
	pl_bit_set(c->valid, row, false);
	if (dc->null_code == UINT32_MAX) {
		if (pl_column_push_null(c->dict, r->pool, err) != 0)
			return PL_ERR_NOMEM;
		dc->null_code = (uint32_t)(c->dict->len - 1);
	}
	pl_col_codes(c)[row] = dc->null_code;
	return 0;
}

/* Adds s (already at the arena's end when quoted) as the next entry. */
static int dict_add(pl_csv_reader *r, pl_column *d, const char *s, size_t len,
		    int in_place, pl_error *err)
{
	if (pl_column_reserve(d, d->len + 1, r->pool, err) != 0 ||
	    (!in_place && pl_column_reserve_arena(d, len, r->pool, err) != 0))
		return PL_ERR_NOMEM;
	if (!in_place)
		memcpy(d->arena + d->arena_len, s, len);
	d->arena_len += len;
	pl_col_off(d)[d->len + 1] = (int64_t)d->arena_len;
	if (d->valid != NULL)
		pl_bit_set(d->valid, d->len, true);
	d->len++;
	return 0;
}

/* Row's value as the code of its string in the batch's dictionary. */
static int put_dict(pl_csv_reader *r, dict_col *dc, pl_column *c, size_t row,
		    const pl_csv_field *f, pl_error *err)
{
	pl_column *d = c->dict;
	const char *s = f->p;
	size_t len = f->len;
	if (f->quoted) {
		if (pl_column_reserve_arena(d, f->len, r->pool, err) != 0)
			return PL_ERR_NOMEM;
		s = d->arena + d->arena_len;
		len = pl_csv_unescape(f, r->o->quote, d->arena + d->arena_len);
	}
	size_t i = (size_t)pl_hash_bytes(s, len) & (DICT_SLOTS - 1);
	for (uint32_t e; (e = dc->slots[i]) != 0;
	     i = (i + 1) & (DICT_SLOTS - 1)) {
		size_t l;
		const char *t = pl_col_str(d, e - 1, &l);
		if (l == len && memcmp(t, s, len) == 0) {
			pl_col_codes(c)[row] = e - 1;
			return 0;
		}
	}
	if (d->len >= DICT_MAX || (row >= DICT_PROBE_ROWS && d->len > row / 2))
		return DICT_FULL;
	if (dict_add(r, d, s, len, f->quoted, err) != 0)
		return PL_ERR_NOMEM;
	dc->slots[i] = (uint32_t)d->len;
	pl_col_codes(c)[row] = (uint32_t)(d->len - 1);
	return 0;
}

/* Column k goes plain for good, keeping the rows before row. */
static int dict_off(pl_csv_reader *r, size_t k, size_t row, pl_error *err)
{
	pl_column *c = &r->batch->cols[k];
	c->len = row;
	if (pl_column_undict(c, r->pool, err) != 0)
		return PL_ERR_NOMEM;
	pl_pool_free(r->pool, r->dict[k].slots);
	r->dict[k].slots = NULL;
	return 0;
}

/* Converts field f into row of column k: 0, BAD_VALUE, DICT_FULL or an
 * error. */
static int put_value(pl_csv_reader *r, size_t k, size_t row,
		     const pl_csv_field *f, pl_error *err)
{
	pl_column *c = &r->batch->cols[k];
	dict_col *dc = c->dict != NULL ? &r->dict[k] : NULL;
	if (is_null(r, f))
		return dc ? put_dict_null(r, dc, c, row, err)
			  : put_null(r, c, row, err);
	bool ok = true;
	switch (c->type) {
	case PL_INT64:
		ok = pl_csv_parse_i64(f->p, f->len, &pl_col_i64(c)[row]);
		break;
	case PL_FLOAT64:
		ok = pl_csv_parse_f64(f->p, f->len, &pl_col_f64(c)[row]);
		break;
	case PL_BOOL:
		ok = pl_csv_parse_bool(f->p, f->len, &pl_col_bool(c)[row]);
		break;
	case PL_DATE:
	case PL_TIMESTAMP:
		ok = pl_csv_parse_time(c->type, r->o->time_format, f->p, f->len,
				       &pl_col_i64(c)[row]) == 0;
		break;
	default: {
		int rc = dc ? put_dict(r, dc, c, row, f, err)
			    : put_string(r, c, row, f, err);
		if (rc != 0)
			return rc;
	}
	}
	if (!ok)
		return BAD_VALUE;
	if (c->valid != NULL)
		pl_bit_set(c->valid, row, true);
	return 0;
}

typedef struct bad_row {
	int64_t line;
	size_t start, end; /* raw text in the window */
	const pl_csv_record *rec;
	size_t col; /* output column of a bad value */
} bad_row;

static int bad_value_error(pl_csv_reader *r, const bad_row *b, pl_error *err)
{
	const pl_csv_field *f = &r->fields[r->sel[b->col]];
	const pl_field *col = &r->out.fields[b->col];
	int shown = f->len > VALUE_SHOWN ? VALUE_SHOWN : (int)f->len;
	if (r->given[r->sel[b->col]])
		return pl_error_set(
		    err, PL_ERR_DATA,
		    "%s:%lld: column '%s': '%.*s%s' is not "
		    "%s (as schema says)",
		    cur_path(r), (long long)b->line, col->name, shown, f->p,
		    shown < (int)f->len ? "..." : "", pl_type_name(col->type));
	return pl_error_set(err, PL_ERR_DATA,
			    "%s:%lld: column '%s': '%.*s%s' is not %s as "
			    "inferred from the first rows (set `schema = "
			    "%s:string` or a larger `infer_rows`)",
			    cur_path(r), (long long)b->line, col->name, shown,
			    f->p, shown < (int)f->len ? "..." : "",
			    pl_type_name(col->type), col->name);
}

static int bad_row_error(pl_csv_reader *r, const bad_row *b, pl_error *err)
{
	const char *path = cur_path(r);
	long long line = (long long)b->line;
	if (b->rec->bad == PL_BAD_UNTERMINATED)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%lld: field %zu: quoted field not "
				    "closed before the end of the file",
				    path, line, b->rec->bad_field + 1);
	if (b->rec->bad == PL_BAD_AFTER_QUOTE)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%lld: field %zu: text after the "
				    "closing quote",
				    path, line, b->rec->bad_field + 1);
	if (b->rec->nfields != r->nin)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%lld: expected %zu fields, found %zu",
				    path, line, r->nin, b->rec->nfields);
	return bad_value_error(r, b, err);
}

/* Fails, or with on_error = skip counts the row and keeps its text. */
static int bad_row_seen(pl_csv_reader *r, const bad_row *b, pl_error *err)
{
	if (!r->o->skip_errors)
		return bad_row_error(r, b, err);
	r->stats.rows_skipped++;
	if (r->reject == NULL)
		return 0;
	size_t n = b->end - b->start;
	int nl = n > 0 && r->buf[b->end - 1] == '\n';
	if (fwrite(r->buf + b->start, 1, n, r->reject) != n ||
	    (!nl && fputc('\n', r->reject) == EOF))
		return pl_error_set(err, PL_ERR_IO, "%s: %s", r->o->reject_path,
				    strerror(errno));
	return 0;
}

/* Converts the record into the next row of the batch, or rejects it. */
static int take_record(pl_csv_reader *r, bad_row *b, pl_error *err)
{
	pl_batch *bt = r->batch;
	size_t row = bt->nrows;
	if (b->rec->bad || b->rec->nfields != r->nin)
		return bad_row_seen(r, b, err);
	if (row == r->batch_room && grow_rows(r, 2 * row, err) != 0)
		return PL_ERR_NOMEM;
	for (size_t k = 0; k < bt->ncols; k++) {
		const pl_csv_field *f = &r->fields[r->sel[k]];
		int rc = put_value(r, k, row, f, err);
		if (rc == DICT_FULL) {
			rc = dict_off(r, k, row, err);
			if (rc == 0)
				rc = put_value(r, k, row, f, err);
		}
		if (rc == BAD_VALUE) {
			b->col = k;
			return bad_row_seen(r, b, err);
		}
		if (rc != 0)
			return rc;
	}
	if (bt->line != NULL)
		bt->line[row] = b->line;
	bt->nrows++;
	return 0;
}

/* A quoted field running past the end of a cut piece means the split
 * took a stray quote (inside an unquoted field) for a field's start or
 * end: fail rather than read wrong rows, even with on_error = skip. */
static int split_error(pl_csv_reader *r, const bad_row *b, pl_error *err)
{
	return pl_error_set(err, PL_ERR_DATA,
			    "%s:%lld: field %zu: quoted field runs past this "
			    "rank's share of the file (byte %llu); a quote "
			    "inside an unquoted field misleads the split "
			    "among ranks: quote such fields",
			    cur_path(r), (long long)b->line,
			    b->rec->bad_field + 1, (unsigned long long)r->stop);
}

static void finish_batch(pl_csv_reader *r)
{
	pl_batch *b = r->batch;
	for (size_t k = 0; k < b->ncols; k++) {
		pl_column *c = &b->cols[k];
		c->len = b->nrows;
		if (c->type == PL_STRING && c->dict == NULL)
			c->arena_len = (size_t)pl_col_off(c)[b->nrows];
	}
	r->stats.rows += b->nrows;
}

/* Reads rows of the open file into the batch until it holds max_rows or
 * the file ends (which closes it). */
static int fill(pl_csv_reader *r, size_t max_rows, pl_error *err)
{
	while (r->batch->nrows < max_rows) {
		pl_csv_record rec;
		int rc = next_record(r, 0, &rec, err);
		if (rc < 0)
			return rc;
		if (rc == PL_SCAN_END) {
			close_file(r);
			break;
		}
		bad_row b = {r->line, r->pos, (size_t)(rec.end - r->buf), &rec,
			     0};
		if (rec.bad == PL_BAD_UNTERMINATED && r->fd >= 0 &&
		    r->stop < r->fsize)
			return split_error(r, &b, err);
		r->pos = b.end;
		r->line += (int64_t)rec.lines;
		if (rc == PL_SCAN_RECORD && (rc = take_record(r, &b, err)) != 0)
			return rc;
	}
	finish_batch(r);
	return 0;
}

int pl_csv_reader_next(pl_csv_reader *r, size_t max_rows, pl_batch **out,
		       pl_error *err)
{
	*out = NULL;
	if (max_rows == 0)
		max_rows = 1;
	swap_batch(r);
	while (r->nin > 0) {
		if (!file_open(r) && !more_input(r))
			return 0;
		int rc = file_open(r) ? 0 : next_input(r, err);
		if (rc == 0)
			rc = reset_batch(r, max_rows, err);
		if (rc == 0)
			rc = fill(r, max_rows, err);
		if (rc != 0)
			return rc;
		if (r->batch->nrows > 0) {
			*out = r->batch;
			return 0;
		}
	}
	return 0;
}

/* A PL_ERR_CONF for a name in key (schema, columns) that is no column. */
static int unknown_column(pl_csv_reader *r, const char *key, const char *name,
			  pl_error *err)
{
	const char **cand = malloc((r->in.n + 1) * sizeof(*cand));
	if (cand == NULL)
		return pl_error_nomem(err, "a name list");
	for (size_t i = 0; i < r->in.n; i++)
		cand[i] = r->in.fields[i].name;
	cand[r->in.n] = NULL;
	const char *near = pl_suggest(name, cand);
	char hint[600] = "";
	if (near != NULL)
		snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
	free(cand);
	if (r->o->section != NULL)
		return pl_section_error(r->o->section, key, err,
					"%s: no column '%s' in %s%s", key, name,
					r->o->paths[0], hint);
	return pl_error_set(err, PL_ERR_CONF, "%s: no column '%s' in %s%s", key,
			    name, r->o->paths[0], hint);
}

static int apply_schema(pl_csv_reader *r, pl_error *err)
{
	const pl_schema *s = &r->o->schema;
	r->given = calloc(r->in.n + 1, 1);
	if (r->given == NULL)
		return pl_error_nomem(err, "a schema");
	for (size_t i = 0; i < s->n; i++) {
		int k = pl_schema_find(&r->in, s->fields[i].name);
		if (k < 0)
			return unknown_column(r, "schema", s->fields[i].name,
					      err);
		r->in.fields[k].type = s->fields[i].type;
		r->given[k] = 1;
	}
	return 0;
}

static int select_columns(pl_csv_reader *r, pl_error *err)
{
	size_t n = r->o->columns != NULL ? r->o->ncolumns : r->in.n;
	r->sel = malloc((n + 1) * sizeof(*r->sel));
	if (r->sel == NULL)
		return pl_error_nomem(err, "a column selection");
	for (size_t k = 0; k < n; k++) {
		int i = (int)k;
		if (r->o->columns != NULL) {
			const char *name = r->o->columns[k];
			i = pl_schema_find(&r->in, name);
			if (i < 0)
				return unknown_column(r, "columns", name, err);
			if (pl_schema_find(&r->out, name) >= 0)
				return r->o->section
					   ? pl_section_error(
						 r->o->section, "columns", err,
						 "column '%s' selected twice",
						 name)
					   : pl_error_set(
						 err, PL_ERR_CONF,
						 "columns: '%s' selected "
						 "twice",
						 name);
		}
		r->sel[k] = (size_t)i;
		int rc = pl_schema_add(&r->out, r->in.fields[i].name, PL_STRING,
				       err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void sample_record(pl_csv_reader *r, pl_csv_infer *t)
{
	for (size_t k = 0; k < r->out.n; k++) {
		size_t i = r->sel[k];
		const pl_csv_field *f = &r->fields[i];
		if (!r->given[i] && !is_null(r, f))
			pl_csv_infer_add(&t[k], f->p, f->len);
	}
}

/* Samples the first infer_rows records from pos without consuming them. */
static int sample(pl_csv_reader *r, pl_csv_infer *t, pl_error *err)
{
	size_t rel = 0;
	for (long long n = 0; n < r->o->infer_rows;) {
		pl_csv_record rec;
		int rc = next_record(r, rel, &rec, err);
		if (rc < 0 || rc == PL_SCAN_END)
			return rc < 0 ? rc : 0;
		rel = (size_t)(rec.end - r->buf) - r->pos;
		if (rc == PL_SCAN_EMPTY || rec.bad || rec.nfields != r->nin)
			continue;
		sample_record(r, t);
		n++;
	}
	return 0;
}

static int infer_types(pl_csv_reader *r, pl_error *err)
{
	pl_csv_infer *t = malloc((r->out.n + 1) * sizeof(*t));
	if (t == NULL)
		return pl_error_nomem(err, "type inference");
	for (size_t k = 0; k < r->out.n; k++)
		pl_csv_infer_init(&t[k], r->o->time_format);
	int rc = sample(r, t, err);
	for (size_t k = 0; rc == 0 && k < r->out.n; k++) {
		size_t i = r->sel[k];
		if (!r->given[i])
			r->in.fields[i].type = pl_csv_infer_type(&t[k]);
		r->out.fields[k].type = r->in.fields[i].type;
	}
	free(t);
	return rc;
}

static int setup(pl_csv_reader *r, pl_error *err)
{
	const pl_csv_options *o = r->o;
	r->null_len = malloc((o->nnulls + 1) * sizeof(*r->null_len));
	if (r->null_len == NULL)
		return pl_error_nomem(err, "null strings");
	for (size_t i = 0; i < o->nnulls; i++)
		r->null_len[i] = strlen(o->nulls[i]);
	for (size_t i = 0; i < o->npaths; i++) {
		struct stat st;
		if (stat(o->paths[i], &st) == 0 && S_ISREG(st.st_mode))
			r->stats.bytes_total += (uint64_t)st.st_size;
	}
	if (o->skip_errors && o->reject_path != NULL &&
	    (r->reject = fopen(o->reject_path, "wb")) == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", o->reject_path,
				    strerror(errno));
	r->buf = pl_pool_alloc(r->pool, BLOCK_SIZE);
	if (r->buf == NULL)
		return pl_error_nomem(err, "a csv read buffer");
	r->cap = pl_pool_size(r->buf) - 1;
	return grow_fields(r, 64, err);
}

int pl_csv_reader_open(const pl_csv_options *o, pl_pool *pool,
		       pl_csv_reader **out, pl_error *err)
{
	*out = NULL;
	if (o->npaths == 0)
		return pl_error_set(err, PL_ERR_CONF, "csv: no input file");
	pl_csv_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return pl_error_nomem(err, "a csv reader");
	r->o = o;
	r->pool = pool;
	r->fd = -1;
	pl_schema_init(&r->in);
	pl_schema_init(&r->out);
	pl_csv_scanner_init(&r->scan, o->delimiter, o->quote);
	int rc = setup(r, err);
	if (rc == 0)
		rc = start_file(r, 0, false, err);
	if (rc == 0)
		rc = apply_schema(r, err);
	if (rc == 0)
		rc = select_columns(r, err);
	if (rc == 0)
		rc = grow_fields(r, r->nin + 1, err);
	if (rc == 0)
		rc = infer_types(r, err);
	if (rc != 0) {
		pl_csv_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int pl_csv_reader_project(pl_csv_reader *r, const uint8_t *keep, pl_error *err)
{
	if (r->batches[0] != NULL || r->batches[1] != NULL || r->dict != NULL)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: csv projection after reading",
				    __FILE__, __LINE__);
	pl_schema out;
	pl_schema_init(&out);
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < r->out.n; k++)
		if (keep[k])
			rc = pl_schema_add(&out, r->out.fields[k].name,
					   r->out.fields[k].type, err);
	if (rc != 0) {
		pl_schema_free(&out);
		return rc;
	}
	size_t m = 0;
	for (size_t k = 0; k < r->out.n; k++)
		if (keep[k])
			r->sel[m++] = r->sel[k];
	pl_schema_free(&r->out);
	r->out = out;
	return 0;
}

const pl_schema *pl_csv_reader_schema(const pl_csv_reader *r)
{
	return &r->out;
}

/* Bytes of the input a share covers. */
static uint64_t share_bytes(const pl_csv_reader *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->npieces; i++) {
		const pl_csv_piece *p = &r->pieces[i];
		struct stat st;
		if (!p->whole)
			n += p->end - p->start;
		else if (stat(r->o->paths[p->file], &st) == 0 &&
			 S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
	}
	return n;
}

int pl_csv_reader_set_share(pl_csv_reader *r, const pl_csv_share *share,
			    pl_error *err)
{
	if (r->batches[0] != NULL || r->batches[1] != NULL || r->pieces != NULL)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: csv share set after reading",
				    __FILE__, __LINE__);
	for (size_t i = 0; i < share->npieces; i++)
		if (share->pieces[i].file >= r->o->npaths)
			return pl_error_set(err, PL_ERR_INTERNAL,
					    "%s:%d: csv share names file %zu",
					    __FILE__, __LINE__,
					    share->pieces[i].file);
	r->pieces = malloc((share->npieces + 1) * sizeof(*r->pieces));
	if (r->pieces == NULL)
		return pl_error_nomem(err, "a csv share");
	memcpy(r->pieces, share->pieces, share->npieces * sizeof(*r->pieces));
	r->npieces = share->npieces;
	for (size_t i = 0; i < share->npieces; i++)
		r->no_lines |=
		    !share->pieces[i].whole && share->pieces[i].line == 0;
	r->stats.bytes_total = share_bytes(r);
	/* The open stream of the first file stands at its first record, the
	 * sample still in the window: a share starting with that whole file
	 * goes on from there, any other share starts over. */
	if (r->npieces > 0 && r->pieces[0].whole && r->pieces[0].file == 0 &&
	    r->file == 0 && r->zin != NULL)
		r->piece = 1;
	else
		close_file(r);
	/* the bytes of a sample read before the share are counted by the
	 * share that reads them */
	if (r->piece == 0)
		r->bytes_done = 0;
	return 0;
}

void pl_csv_reader_two_batches(pl_csv_reader *r)
{
	r->two = 1;
}

int pl_csv_reader_allow_dict(pl_csv_reader *r, pl_error *err)
{
	if (r->dict != NULL)
		return 0;
	r->dict = calloc(r->out.n ? r->out.n : 1, sizeof(*r->dict));
	if (r->dict == NULL)
		return pl_error_nomem(err, "string dictionaries");
	for (size_t k = 0; k < r->out.n; k++) {
		if (r->out.fields[k].type != PL_STRING)
			continue;
		r->dict[k].slots = pl_pool_alloc(
		    r->pool, DICT_SLOTS * sizeof(*r->dict[k].slots));
		if (r->dict[k].slots == NULL)
			return pl_error_nomem(err, "string dictionaries");
	}
	return 0;
}

pl_csv_stats pl_csv_reader_stats(const pl_csv_reader *r)
{
	pl_csv_stats s = r->stats;
	s.bytes_read = r->bytes_done + (r->zin ? pl_zin_bytes_read(r->zin) : 0);
	/* A cut piece's window holds raw bytes read but not yet parsed (up
	 * to a block); they are not consumed yet. A whole file's window may
	 * hold decompressed bytes, which bytes_done does not count. */
	size_t ahead = r->zin == NULL ? r->len - r->pos : 0;
	if (s.bytes_read >= ahead)
		s.bytes_read -= ahead;
	return s;
}

void pl_csv_reader_discard_reject(pl_csv_reader *r)
{
	if (r == NULL || r->o->reject_path == NULL || !r->o->skip_errors)
		return;
	if (r->reject != NULL)
		fclose(r->reject);
	r->reject = NULL;
	/* a FIFO or device given as the reject file is not the job's */
	struct stat st;
	if (lstat(r->o->reject_path, &st) == 0 && S_ISREG(st.st_mode))
		unlink(r->o->reject_path);
	if (r->reject_path != NULL)
		unlink(r->reject_path);
}

int pl_csv_reader_redirect_reject(pl_csv_reader *r, const char *path,
				  pl_error *err)
{
	if (r->reject == NULL)
		return 0;
	fclose(r->reject);
	free(r->reject_path);
	r->reject_path = strdup(path);
	if (r->reject_path == NULL)
		return pl_error_nomem(err, "a reject path");
	r->reject = fopen(path, "wb");
	if (r->reject == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	return 0;
}

int pl_csv_reader_end_reject(pl_csv_reader *r, pl_error *err)
{
	if (r->reject == NULL)
		return 0;
	int bad = fclose(r->reject) != 0;
	r->reject = NULL;
	if (bad)
		return pl_error_set(err, PL_ERR_IO, "%s: %s",
				    r->reject_path ? r->reject_path
						   : r->o->reject_path,
				    strerror(errno));
	return 0;
}

void pl_csv_reader_close(pl_csv_reader *r)
{
	if (r == NULL)
		return;
	close_file(r);
	if (r->reject != NULL)
		fclose(r->reject);
	free(r->reject_path);
	pl_batch_free(r->batches[0], r->pool);
	pl_batch_free(r->batches[1], r->pool);
	for (size_t k = 0; r->dict != NULL && k < r->out.n; k++)
		pl_pool_free(r->pool, r->dict[k].slots);
	free(r->dict);
	pl_pool_free(r->pool, r->buf);
	pl_pool_free(r->pool, r->fields);
	pl_schema_free(&r->in);
	pl_schema_free(&r->out);
	free(r->pieces);
	free(r->sel);
	free(r->given);
	free(r->null_len);
	free(r);
}

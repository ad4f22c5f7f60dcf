/* The CSV split without MPI: every rank's share is computed with the pure
 * functions (the exclusive scan is summed here), each share is read with
 * its own reader, and the rows of all shares in rank order must be the
 * rows of one reader over the whole input: same values, same origins and
 * line numbers, none lost or repeated. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "harness.h"
#include "io/csv_partition.h"
#include "text_buf.h"

#define MAX_RANKS 7

static pl_pool *pool;
static char dir[64];
static pl_error err;

static void setup(void)
{
	pool = pl_pool_create(1 << 20);
	PL_TEST_MKDTEMP(dir, sizeof(dir), "csvsplit");
	pl_error_clear(&err);
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
	pl_test_rmtree(dir);
}

/* Writes bytes to dir/name; returns a malloc'd path. */
static char *put(const char *name, const char *data, size_t len)
{
	char *p = malloc(256);
	snprintf(p, 256, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static void opts_init(pl_csv_options *o)
{
	memset(o, 0, sizeof(*o));
	pl_schema_init(&o->schema);
	o->paths = malloc(8 * sizeof(char *));
	o->header = 1;
	o->delimiter = ',';
	o->quote = '"';
	o->infer_rows = 5;
}

/* Adds a file holding t (taken) to o. */
static void add_file(pl_csv_options *o, const char *name, text *t)
{
	o->paths[o->npaths++] = put(name, t->p, t->len);
	free(t->p);
	memset(t, 0, sizeof(*t));
}

/* n rows (id, text, val) whose text is often quoted and holds newlines
 * (LF, CRLF), delimiters and doubled quotes; rows end with LF or CRLF,
 * some after an empty line; row `bad` (if >= 0) has a field too many. */
static void gen_rows(text *t, int n, uint64_t seed, int bad)
{
	static const char *const texts[] = {
	    "w", "\"a,b\"",	  "\"l1\nl2\"", "\"say \"\"hi\"\"\r\nok\"",
	    "",	 "\"x\n\n,y\n\"", "\"\"\"\"",	"\"\n\""};
	for (int i = 0; i < n; i++) {
		if (pl_test_rand(&seed) % 11 == 0)
			adds(t, pl_test_rand(&seed) % 2 ? "\n" : "\r\n");
		addf(t, "%d,%s,%u%s", i, texts[pl_test_rand(&seed) % 8],
		     pl_test_rand(&seed) % 1000, i == bad ? ",extra" : "");
		adds(t, pl_test_rand(&seed) % 3 ? "\n" : "\r\n");
	}
}

/* Rows read, each "origin:line|v1|v2|...". */
typedef struct rows {
	char **v;
	size_t n;
} rows;

static void rows_free(rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void render(const pl_batch *b, size_t i, text *t)
{
	char buf[64];
	addf(t, "%s:%lld", b->origin, (long long)b->line[i]);
	for (size_t k = 0; k < b->ncols; k++) {
		const pl_column *c = &b->cols[k];
		size_t len;
		add(t, "|", 1);
		if (c->type == PL_STRING && !pl_column_is_null(c, i)) {
			const char *s = pl_col_str(c, i, &len);
			add(t, s, len);
			continue;
		}
		pl_column_format(c, i, buf, sizeof(buf));
		add(t, buf, strlen(buf));
	}
}

static void take_batch(const pl_batch *b, rows *out)
{
	out->v = realloc(out->v, (out->n + b->nrows + 1) * sizeof(char *));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out->v);
	for (size_t i = 0; i < b->nrows; i++) {
		text t = {0};
		render(b, i, &t);
		out->v[out->n++] = t.p;
	}
}

/* Appends the rows of the whole input (share NULL) or of one share;
 * returns the reader's status, its message in e. */
static int read_rows(const pl_csv_options *o, const pl_csv_share *share,
		     rows *out, pl_error *e)
{
	pl_csv_reader *r = NULL;
	pl_error_clear(e);
	int rc = pl_csv_reader_open(o, pool, &r, e);
	if (rc == 0 && share != NULL)
		rc = pl_csv_reader_set_share(r, share, e);
	while (rc == 0) {
		pl_batch *b = NULL;
		rc = pl_csv_reader_next(r, 7, &b, e);
		if (rc != 0 || b == NULL)
			break;
		take_batch(b, out);
	}
	pl_csv_reader_close(r);
	return rc;
}

/* The cells' counts as the ranks' sum gives them: every rank's slices
 * counted and added up. */
static pl_csv_counts *summed_cells(const pl_csv_options *o,
				   const pl_csv_cell *cells, size_t ncells,
				   int nranks)
{
	pl_csv_counts *sum = calloc(ncells + 1, sizeof(*sum));
	pl_csv_counts *part = calloc(ncells + 1, sizeof(*part));
	CU_ASSERT_FATAL(sum != NULL && part != NULL);
	for (int r = 0; r < nranks; r++) {
		CU_ASSERT_EQUAL_FATAL(
		    pl_csv_count_cells(o, cells, ncells, r, nranks, part, &err),
		    0);
		for (size_t i = 0; i < ncells; i++) {
			sum[i].quotes += part[i].quotes;
			sum[i].newlines += part[i].newlines;
		}
	}
	free(part);
	return sum;
}

/* Every rank's share of o among nranks, the ranks' sum simulated. */
static void split(const pl_csv_options *o, int nranks, pl_csv_share *shares)
{
	pl_csv_file_info info[8];
	pl_csv_counts own[MAX_RANKS][16], before[MAX_RANKS][16];
	pl_csv_cell *cells;
	size_t ncells;
	CU_ASSERT_EQUAL_FATAL(pl_csv_file_infos(o, info, &err), 0);
	CU_ASSERT_EQUAL_FATAL(
	    pl_csv_cells(info, o->npaths, nranks, &cells, &ncells, &err), 0);
	pl_csv_counts *sum = summed_cells(o, cells, ncells, nranks);
	for (int r = 0; r < nranks; r++) {
		pl_csv_share *s = &shares[r];
		CU_ASSERT_EQUAL_FATAL(
		    pl_csv_nominal_share(info, o->npaths, r, nranks, s, &err),
		    0);
		CU_ASSERT_FATAL(s->npieces <= 16);
		pl_csv_share_counts(cells, ncells, sum, r, s, before[r],
				    own[r]);
		CU_ASSERT_EQUAL_FATAL(
		    pl_csv_fix_share(o, s, before[r], own[r], &err), 0);
	}
	free(sum);
	free(cells);
}

/* The cut pieces of each file, in rank order, tile it from its data
 * start to its end; each whole file is in exactly one share. */
static void check_tiling(const pl_csv_options *o, pl_csv_share *shares,
			 int nranks)
{
	for (size_t f = 0; f < o->npaths; f++) {
		uint64_t ds, at = UINT64_MAX;
		int64_t line;
		int wholes = 0, cuts = 0;
		CU_ASSERT_EQUAL(pl_csv_data_start(o->paths[f], o->header,
						  o->quote, &ds, &line, &err),
				0);
		for (int r = 0; r < nranks; r++)
			for (size_t i = 0; i < shares[r].npieces; i++) {
				const pl_csv_piece *p = &shares[r].pieces[i];
				if (p->file != f)
					continue;
				wholes += p->whole;
				if (p->whole)
					continue;
				CU_ASSERT_EQUAL(p->start,
						cuts++ == 0 ? ds : at);
				CU_ASSERT(p->start <= p->end);
				at = p->end;
			}
		CU_ASSERT(wholes == 1 ? cuts == 0 : wholes == 0 && cuts > 0);
		FILE *fp = fopen(o->paths[f], "rb");
		CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
		fseek(fp, 0, SEEK_END);
		if (cuts > 0)
			CU_ASSERT_EQUAL(at, (uint64_t)ftell(fp));
		fclose(fp);
	}
}

static void check_same(const rows *want, const rows *got, int nranks)
{
	CU_ASSERT_EQUAL(got->n, want->n);
	for (size_t i = 0; i < want->n && i < got->n; i++)
		if (strcmp(want->v[i], got->v[i]) != 0) {
			fprintf(stderr,
				"\n%d ranks, row %zu:\n  want %s\n"
				"  got  %s\n",
				nranks, i, want->v[i], got->v[i]);
			CU_FAIL("rows differ");
			return;
		}
}

/* Splits o among 1 .. MAX_RANKS ranks and compares with one reader. */
static void check_all_splits(const pl_csv_options *o)
{
	rows whole = {0};
	pl_error e;
	int rc = read_rows(o, NULL, &whole, &e);
	if (rc != 0)
		fprintf(stderr, "whole read: %s\n", e.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	for (int n = 1; n <= MAX_RANKS; n++) {
		pl_csv_share shares[MAX_RANKS];
		rows parts = {0};
		split(o, n, shares);
		check_tiling(o, shares, n);
		for (int r = 0; r < n; r++) {
			rc = read_rows(o, &shares[r], &parts, &e);
			if (rc != 0)
				fprintf(stderr, "rank %d/%d: %s\n", r, n,
					e.msg);
			CU_ASSERT_EQUAL(rc, 0);
			pl_csv_share_free(&shares[r]);
		}
		check_same(&whole, &parts, n);
		rows_free(&parts);
	}
	rows_free(&whole);
}

static void done(pl_csv_options *o)
{
	pl_csv_options_free(o);
	teardown();
}

static void quoted_newlines_everywhere(void)
{
	for (uint64_t seed = 1; seed <= 6; seed++) {
		setup();
		pl_csv_options o;
		text t = {0};
		opts_init(&o);
		adds(&t, seed % 2 ? "\xef\xbb\xbfid,\"te\nxt\",val\r\n"
				  : "id,text,val\n");
		gen_rows(&t, 20 + 15 * (int)seed, seed, -1);
		add_file(&o, "q.csv", &t);
		check_all_splits(&o);
		done(&o);
	}
}

/* A header and n records that are nearly all one long multi-line quoted
 * field, with doubled quotes and delimiters inside. */
static void straddling_fields(text *t, int n)
{
	adds(t, "id,note\n");
	for (int i = 0; i < n; i++) {
		addf(t, "%d,\"", i);
		for (int k = 0; k < 40 + 7 * i; k++)
			adds(t, k % 3 ? "ab,\"\"c\n" : "x\r\n");
		adds(t, "\"\n");
	}
}

/* Is byte pos of path inside a quoted field (odd quotes before it)? */
static int inside_quotes(const char *path, uint64_t pos)
{
	pl_csv_counts c;
	CU_ASSERT_EQUAL(pl_csv_count(path, 0, pos, '"', &c, &err), 0);
	return (int)(c.quotes & 1);
}

static void straddle_every_split_point(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	straddling_fields(&t, 12);
	add_file(&o, "s.csv", &t);
	pl_csv_file_info info;
	CU_ASSERT_EQUAL(pl_csv_file_infos(&o, &info, &err), 0);
	for (int n = 2; n <= MAX_RANKS; n++)
		for (int k = 1; k < n; k++) {
			uint64_t at = info.size * (uint64_t)k / n;
			/* Between the quotes of a "" the parity is even. */
			CU_ASSERT(inside_quotes(o.paths[0], at) ||
				  inside_quotes(o.paths[0], at - 1));
		}
	check_all_splits(&o);
	done(&o);
}

static void several_files_of_different_sizes(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 3, 7, -1);
	add_file(&o, "a.csv", &t);
	adds(&t, "\xef\xbb\xbf\nid,text,val\r\n");
	gen_rows(&t, 90, 8, -1);
	add_file(&o, "b.csv", &t);
	adds(&t, "id,text,val\n");
	add_file(&o, "header_only.csv", &t);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 30, 9, -1);
	add_file(&o, "c.csv", &t);
	check_all_splits(&o);
	done(&o);
}

/* Adds a zstd-compressed file holding t (taken) to o. */
static void add_zst_file(pl_csv_options *o, const char *name, text *t)
{
	text z = {0};
	z.cap = ZSTD_compressBound(t->len);
	z.p = malloc(z.cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(z.p);
	z.len = ZSTD_compress(z.p, z.cap, t->p, t->len, 3);
	CU_ASSERT_FALSE_FATAL(ZSTD_isError(z.len));
	add_file(o, name, &z);
	free(t->p);
	memset(t, 0, sizeof(*t));
}

static void compressed_files_go_whole(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 40, 3, -1);
	add_file(&o, "a.csv", &t);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 50, 4, -1);
	add_zst_file(&o, "b.csv.zst", &t);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 40, 5, -1);
	add_file(&o, "c.csv", &t);
	check_all_splits(&o);
	done(&o);
}

/* The rank holding a compressed first file goes on reading the stream
 * open read the sample from. */
static void compressed_first_file(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 50, 6, -1);
	add_zst_file(&o, "a.csv.zst", &t);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 70, 7, -1);
	add_file(&o, "b.csv", &t);
	check_all_splits(&o);
	done(&o);
}

static void more_ranks_than_records(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "a,b\n1,\"x\ny\"\n2,z");
	add_file(&o, "tiny.csv", &t);
	check_all_splits(&o);
	pl_csv_share shares[MAX_RANKS];
	split(&o, MAX_RANKS, shares);
	int empty = 0;
	for (int r = 0; r < MAX_RANKS; r++) {
		empty += shares[r].npieces == 0;
		pl_csv_share_free(&shares[r]);
	}
	CU_ASSERT(empty >= 4);
	done(&o);
}

static void headerless_files(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	o.header = 0;
	gen_rows(&t, 40, 11, -1);
	add_file(&o, "a.csv", &t);
	adds(&t, "\xef\xbb\xbf");
	gen_rows(&t, 25, 12, -1);
	add_file(&o, "b.csv", &t);
	check_all_splits(&o);
	done(&o);
}

static void edge_at_a_record_start(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "a\nx\nx\nx\n");
	add_file(&o, "e.csv", &t);
	pl_csv_share s[2];
	split(&o, 2, s);
	CU_ASSERT_EQUAL_FATAL(s[0].npieces, 1);
	CU_ASSERT_EQUAL_FATAL(s[1].npieces, 1);
	CU_ASSERT_EQUAL(s[0].pieces[0].start, 2);
	CU_ASSERT_EQUAL(s[0].pieces[0].end, 4);
	CU_ASSERT_EQUAL(s[1].pieces[0].start, 4);
	CU_ASSERT_EQUAL(s[1].pieces[0].line, 3);
	CU_ASSERT_EQUAL(s[1].pieces[0].end, 8);
	uint64_t at, nl;
	CU_ASSERT_EQUAL(
	    pl_csv_next_record_start(o.paths[0], 4, 0, '"', &at, &nl, &err), 0);
	CU_ASSERT_EQUAL(at, 4);
	CU_ASSERT_EQUAL(nl, 0);
	CU_ASSERT_EQUAL(
	    pl_csv_next_record_start(o.paths[0], 5, 0, '"', &at, &nl, &err), 0);
	CU_ASSERT_EQUAL(at, 6);
	CU_ASSERT_EQUAL(nl, 1);
	pl_csv_share_free(&s[0]);
	pl_csv_share_free(&s[1]);
	check_all_splits(&o);
	done(&o);
}

/* Reads every share: those that fail (one if only_one) fail with the
 * whole read's message, which holds want. */
static void check_shares_fail(const pl_csv_options *o, const char *want,
			      int only_one)
{
	rows whole = {0};
	pl_error e;
	CU_ASSERT_NOT_EQUAL(read_rows(o, NULL, &whole, &e), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, want));
	for (int n = 1; n <= MAX_RANKS; n++) {
		pl_csv_share shares[MAX_RANKS];
		split(o, n, shares);
		int failed = 0;
		for (int r = 0; r < n; r++) {
			rows part = {0};
			pl_error pe;
			if (read_rows(o, &shares[r], &part, &pe) != 0) {
				failed++;
				CU_ASSERT_STRING_EQUAL(pe.msg, e.msg);
			}
			rows_free(&part);
			pl_csv_share_free(&shares[r]);
		}
		CU_ASSERT(only_one ? failed == 1 : failed >= 1);
	}
	rows_free(&whole);
}

static void bad_row_names_its_true_line(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	char want[300];
	opts_init(&o);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 60, 21, 47);
	/* The bad row's physical line, counted here on the text. */
	const char *row = strstr(t.p, "\n47,") + 1;
	long long line = 1;
	for (const char *c = t.p; c < row; c++)
		line += *c == '\n';
	add_file(&o, "bad.csv", &t);
	snprintf(want, sizeof(want), "%s:%lld: expected 3 fields, found 4",
		 o.paths[0], line);
	check_shares_fail(&o, want, 1);
	done(&o);
}

static void different_header_found_by_one_rank(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 30, 31, -1);
	add_file(&o, "a.csv", &t);
	adds(&t, "id,txt,val\n");
	gen_rows(&t, 30, 32, -1);
	add_file(&o, "b.csv", &t);
	/* Every rank with a piece of b.csv checks its header. */
	check_shares_fail(&o, "header differs", 0);
	done(&o);
}

static void stray_quote_fails_instead_of_misreading(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "a,b\n");
	for (int i = 0; i < 40; i++)
		addf(&t, i == 3 ? "%d,5\" pipe\n" : "%d,\"q\nr\"\n", i);
	add_file(&o, "stray.csv", &t);
	for (int n = 2; n <= MAX_RANKS; n++) {
		pl_csv_share shares[MAX_RANKS];
		split(&o, n, shares);
		rows all = {0};
		int failed = 0;
		for (int r = 0; r < n; r++) {
			pl_error pe;
			if (read_rows(&o, &shares[r], &all, &pe) != 0) {
				failed++;
				CU_ASSERT_PTR_NOT_NULL(strstr(pe.msg, "split"));
			}
			pl_csv_share_free(&shares[r]);
		}
		CU_ASSERT(failed >= 1);
		rows_free(&all);
	}
	done(&o);
}

static void counts_and_data_start(void)
{
	setup();
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "\xef\xbb\xbf\r\n\n\"a\nb\",c\r\n1,\"\"\"\"\n");
	add_file(&o, "c.csv", &t);
	uint64_t ds;
	int64_t line;
	pl_csv_counts c;
	CU_ASSERT_EQUAL(pl_csv_data_start(o.paths[0], 1, '"', &ds, &line, &err),
			0);
	CU_ASSERT_EQUAL(ds, 15);
	CU_ASSERT_EQUAL(line, 5);
	CU_ASSERT_EQUAL(pl_csv_count(o.paths[0], 0, 1000, '"', &c, &err), 0);
	CU_ASSERT_EQUAL(c.quotes, 6);
	CU_ASSERT_EQUAL(c.newlines, 5);
	CU_ASSERT_EQUAL(pl_csv_data_start(o.paths[0], 0, '"', &ds, &line, &err),
			0);
	CU_ASSERT_EQUAL(ds, 3);
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT_NOT_EQUAL(
	    pl_csv_count("/nonexistent/x.csv", 0, 9, '"', &c, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/x.csv"));
	done(&o);
}

/* The vector count against a byte loop: unaligned ranges, lengths around
 * the 16-byte blocks and the 255-block flush, a run of quotes long enough
 * to wrap a byte lane, a block edge (1 MiB) crossed, another quote byte. */
/* The cells are the nominal ranges of all ranks but the last, cut at file
 * ends (whole files left out); the ranks' slices of each add up to its
 * count; before and own of a piece are the counts of its file before it
 * and of it, as each rank counting its own range gave them. */
static void cells_counted_in_slices(void)
{
	setup();
	char a[3000], b[7001];
	uint64_t seed = 11;
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = "x\"\n,"[pl_test_rand(&seed) % 4];
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = "y\"\n"[pl_test_rand(&seed) % 3];
	pl_csv_options o;
	opts_init(&o);
	o.paths[o.npaths++] = put("a.csv", a, sizeof(a));
	o.paths[o.npaths++] = put("b.csv", b, sizeof(b));
	char *const *paths = o.paths;
	pl_csv_file_info info[2];
	CU_ASSERT_EQUAL_FATAL(pl_csv_file_infos(&o, info, &err), 0);
	for (int nranks = 1; nranks <= MAX_RANKS; nranks++) {
		pl_csv_cell *cells;
		size_t ncells;
		CU_ASSERT_EQUAL_FATAL(
		    pl_csv_cells(info, 2, nranks, &cells, &ncells, &err), 0);
		pl_csv_counts *sum = summed_cells(&o, cells, ncells, nranks);
		uint64_t covered = 0;
		for (size_t i = 0; i < ncells; i++) {
			pl_csv_counts c;
			CU_ASSERT(cells[i].rank < nranks - 1);
			CU_ASSERT_EQUAL(
			    pl_csv_count(paths[cells[i].file], cells[i].start,
					 cells[i].end, '"', &c, &err),
			    0);
			CU_ASSERT_EQUAL(sum[i].quotes, c.quotes);
			CU_ASSERT_EQUAL(sum[i].newlines, c.newlines);
			covered += cells[i].end - cells[i].start;
		}
		/* all bytes but the last rank's nominal range */
		uint64_t total = sizeof(a) + sizeof(b), n = (uint64_t)nranks;
		CU_ASSERT_EQUAL(covered,
				total / n * (n - 1) + total % n * (n - 1) / n);
		for (int r = 0; r < nranks - 1; r++) {
			pl_csv_share s;
			pl_csv_counts before[4], own[4];
			CU_ASSERT_EQUAL_FATAL(
			    pl_csv_nominal_share(info, 2, r, nranks, &s, &err),
			    0);
			pl_csv_share_counts(cells, ncells, sum, r, &s, before,
					    own);
			for (size_t i = 0; i < s.npieces; i++) {
				const pl_csv_piece *p = &s.pieces[i];
				pl_csv_counts wb, wo;
				CU_ASSERT_EQUAL(pl_csv_count(paths[p->file], 0,
							     p->start, '"', &wb,
							     &err),
						0);
				CU_ASSERT_EQUAL(pl_csv_count(paths[p->file],
							     p->start, p->end,
							     '"', &wo, &err),
						0);
				CU_ASSERT_EQUAL(before[i].quotes, wb.quotes);
				CU_ASSERT_EQUAL(before[i].newlines,
						wb.newlines);
				CU_ASSERT_EQUAL(own[i].quotes, wo.quotes);
				CU_ASSERT_EQUAL(own[i].newlines, wo.newlines);
			}
			pl_csv_share_free(&s);
		}
		free(sum);
		free(cells);
	}
	done(&o);
}

static void counts_match_a_byte_loop(void)
{
	setup();
	size_t n = (1 << 20) + 70000;
	char *b = malloc(n);
	uint64_t seed = 7;
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (size_t i = 0; i < n; i++) {
		uint32_t r = pl_test_rand(&seed) % 8;
		b[i] = r == 0 ? '"' : r == 1 ? '\n' : r == 2 ? '\'' : 'x';
	}
	memset(b + 5000, '"', 9000);
	memset(b + 20000, '\n', 5000);
	char *path = put("n.csv", b, n);
	const uint64_t at[][2] = {{0, 0},
				  {0, 15},
				  {1, 17},
				  {3, 4099},
				  {5, 4096},
				  {4999, 14001},
				  {0, 40000},
				  {7, 1 << 20},
				  {1000, (1 << 20) + 33},
				  {(1 << 20) - 5, n},
				  {0, n},
				  {n - 3, n + 100}};
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		for (int w = 0; w < 2; w++) {
			char q = w ? '\'' : '"';
			uint64_t wq = 0, wl = 0,
				 end = at[k][1] < n ? at[k][1] : n;
			for (uint64_t i = at[k][0]; i < end; i++) {
				wq += b[i] == q;
				wl += b[i] == '\n';
			}
			pl_csv_counts c;
			CU_ASSERT_EQUAL(
			    pl_csv_count(path, at[k][0], at[k][1], q, &c, &err),
			    0);
			CU_ASSERT_EQUAL(c.quotes, wq);
			CU_ASSERT_EQUAL(c.newlines, wl);
		}
	}
	free(path);
	free(b);
	teardown();
}

static int guess_at(const char *path, uint64_t pos)
{
	int parity = -1;
	CU_ASSERT_EQUAL(pl_csv_guess_parity(path, pos, '"', ',', &parity, &err),
			0);
	return parity;
}

/* The guess reads the first quote after pos that can only open or only
 * close a field, or near the end the quotes up to it; quote-free rows are
 * even everywhere; on 140 KiB of straddling multi-line fields (past the
 * 64 KiB window but for the last ones) every guess is the counted
 * parity. */
static void guessed_parity(void)
{
	setup();
	text t = {0};
	/* 70 KiB of quote-free rows after the cases keep the file's end out
	 * of the window, so that the quotes' shapes decide. */
	adds(&t, "id,note\n1,\"ab\ncd\",x\n2,y\n");
	while (t.len < (70 << 10))
		adds(&t, "3,z\n");
	char *p = put("g.csv", t.p, t.len);
	CU_ASSERT_EQUAL(guess_at(p, 9), 0);  /* ,"a opens */
	CU_ASSERT_EQUAL(guess_at(p, 12), 1); /* d", closes */
	CU_ASSERT_EQUAL(guess_at(p, 16), 1); /* on that quote */
	CU_ASSERT_EQUAL(guess_at(p, 20), 0); /* no quote follows */
	for (uint64_t pos = 20; pos < t.len; pos += 997)
		CU_ASSERT_EQUAL(guess_at(p, pos), 0);
	free(p);
	t.len = 0;
	straddling_fields(&t, 80);
	CU_ASSERT(t.len > 128 << 10);
	p = put("s.csv", t.p, t.len);
	size_t right = 0, n = 0;
	for (uint64_t pos = 8; pos < t.len; pos += 97, n++)
		right += guess_at(p, pos) == inside_quotes(p, pos);
	CU_ASSERT_EQUAL(right, n);
	free(p);
	free(t.p);
	teardown();
}

static const pl_test tests[] = {
    {"quoted_newlines_everywhere", quoted_newlines_everywhere},
    {"straddle_every_split_point", straddle_every_split_point},
    {"several_files_of_different_sizes", several_files_of_different_sizes},
    {"compressed_files_go_whole", compressed_files_go_whole},
    {"compressed_first_file", compressed_first_file},
    {"more_ranks_than_records", more_ranks_than_records},
    {"headerless_files", headerless_files},
    {"edge_at_a_record_start", edge_at_a_record_start},
    {"bad_row_names_its_true_line", bad_row_names_its_true_line},
    {"different_header_found_by_one_rank", different_header_found_by_one_rank},
    {"stray_quote_fails_instead_of_misreading",
     stray_quote_fails_instead_of_misreading},
    {"counts_and_data_start", counts_and_data_start},
    {"counts_match_a_byte_loop", counts_match_a_byte_loop},
    {"cells_counted_in_slices", cells_counted_in_slices},
    {"guessed_parity", guessed_parity},
    {NULL, NULL}};

PL_TEST_MAIN("csv_partition", tests)

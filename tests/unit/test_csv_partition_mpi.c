/* The collective CSV split: runs as one rank on its own, and as N ranks
 * under mpirun (see tests/e2e/test_csv_partition.sh). Every rank reads its
 * share; rank 0 gathers the rows in rank order and checks that they are
 * the rows (values, origins, line numbers) of one reader over the whole
 * input. Every test is collective: all ranks run the same tests. */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "framework/csv_partition_mpi.h"
#include "harness.h"
#include "text_buf.h"

static int rank, nranks;
static char dir[64];

/* n rows whose text field is often quoted with newlines, delimiters and
 * doubled quotes; LF and CRLF line ends, some empty lines. */
static void gen_rows(text *t, int n, uint64_t seed)
{
	static const char *const texts[] = {
	    "w", "\"a,b\"",	 "\"l1\nl2\"", "\"say \"\"hi\"\"\r\nok\"",
	    "",	 "\"x\n\n,y\n\""};
	for (int i = 0; i < n; i++) {
		if (pl_test_rand(&seed) % 13 == 0)
			adds(t, "\n");
		addf(t, "%d,%s,%u", i, texts[pl_test_rand(&seed) % 6],
		     pl_test_rand(&seed) % 1000);
		adds(t, pl_test_rand(&seed) % 3 ? "\n" : "\r\n");
	}
}

/* Rank 0 writes dir/name holding t; all ranks get the path. */
static char *put(const char *name, const text *t)
{
	char *p = malloc(256);
	snprintf(p, 256, "%s/%s", dir, name);
	if (rank == 0) {
		FILE *f = fopen(p, "wb");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(fwrite(t->p, 1, t->len, f), t->len);
		fclose(f);
	}
	MPI_Barrier(MPI_COMM_WORLD);
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
	o->infer_rows = 4;
}

/* Appends each row as "origin:line|v1|v2..." (without :line when lines is
 * 0) and a NUL. */
static void take_batch(const pl_batch *b, int lines, text *out)
{
	char buf[64];
	for (size_t i = 0; i < b->nrows; i++) {
		adds(out, b->origin);
		if (lines)
			addf(out, ":%lld", (long long)b->line[i]);
		for (size_t k = 0; k < b->ncols; k++) {
			const pl_column *c = &b->cols[k];
			size_t len;
			adds(out, "|");
			if (c->type == PL_STRING && !pl_column_is_null(c, i)) {
				const char *s = pl_col_str(c, i, &len);
				add(out, s, len);
				continue;
			}
			pl_column_format(c, i, buf, sizeof(buf));
			adds(out, buf);
		}
		add(out, "", 1);
	}
}

/* Reads the whole input (share NULL) or one share into out. */
static int read_rows(const pl_csv_options *o, const pl_csv_share *share,
		     int lines, text *out, pl_error *e)
{
	pl_pool *pool = pl_pool_create(1 << 20);
	pl_csv_reader *r = NULL;
	int rc = pl_csv_reader_open(o, pool, &r, e);
	if (rc == 0 && share != NULL)
		rc = pl_csv_reader_set_share(r, share, e);
	while (rc == 0) {
		pl_batch *b = NULL;
		rc = pl_csv_reader_next(r, 5, &b, e);
		if (rc != 0 || b == NULL)
			break;
		take_batch(b, lines, out);
	}
	pl_csv_reader_close(r);
	CU_ASSERT_EQUAL(pl_pool_get_stats(pool).bytes_out, 0);
	pl_pool_destroy(pool);
	return rc;
}

/* Gathers every rank's rows to rank 0, in rank order. */
static void gather(const text *mine, text *all)
{
	int n = (int)mine->len, *lens = NULL, *offs = NULL;
	if (rank == 0) {
		lens = calloc((size_t)nranks, sizeof(int));
		offs = calloc((size_t)nranks, sizeof(int));
	}
	MPI_Gather(&n, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
	size_t total = 0;
	for (int r = 0; rank == 0 && r < nranks; r++) {
		offs[r] = (int)total;
		total += (size_t)lens[r];
	}
	if (rank == 0) {
		all->p = malloc(total + 1);
		all->len = all->cap = total;
	}
	MPI_Gatherv(mine->p, n, MPI_CHAR, all->p, lens, offs, MPI_CHAR, 0,
		    MPI_COMM_WORLD);
	free(lens);
	free(offs);
}

/* Splits o among all ranks (guessing the edges with guess set) and
 * reads each share; rank 0 compares the union with one reader's rows,
 * line numbers too unless guessed. Returns this rank's reading status: a
 * wrong guess is PL_ERR_DATA on some rank (the union is then not
 * compared). */
static int split_and_read(pl_csv_options *o, int guess)
{
	pl_csv_share share;
	pl_error e;
	text mine = {0}, all = {0}, whole = {0};
	int guessed = -1;
	pl_error_clear(&e);
	int rc = pl_csv_partition_mpi(MPI_COMM_WORLD, o, guess, &share,
				      &guessed, &e);
	if (rc != 0)
		fprintf(stderr, "rank %d: partition: %s\n", rank, e.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(guessed, guess && nranks > 1);
	rc = read_rows(o, &share, !guess, &mine, &e);
	if (rc != 0 && !guess)
		fprintf(stderr, "rank %d: read: %s\n", rank, e.msg);
	pl_csv_share_free(&share);
	int failed = rc != 0, any = 0;
	MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	gather(&mine, &all);
	if (rank == 0 && !any) {
		CU_ASSERT_EQUAL(read_rows(o, NULL, !guess, &whole, &e), 0);
		CU_ASSERT_EQUAL(all.len, whole.len);
		CU_ASSERT(all.len == whole.len &&
			  memcmp(all.p, whole.p, all.len) == 0);
	}
	free(mine.p);
	free(all.p);
	free(whole.p);
	return rc;
}

/* Counted, the union is exact; guessed, the guesses hold here (every
 * edge sees a telling quote, or none is needed). */
static void check_union(pl_csv_options *o)
{
	CU_ASSERT_EQUAL(split_and_read(o, 0), 0);
	CU_ASSERT_EQUAL(split_and_read(o, 1), 0);
}

static void done(pl_csv_options *o)
{
	pl_csv_options_free(o);
	MPI_Barrier(MPI_COMM_WORLD);
}

static void one_file_with_quoted_newlines(void)
{
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "\xef\xbb\xbfid,\"te\nxt\",val\r\n");
	gen_rows(&t, 200, 1);
	o.paths[o.npaths++] = put("one.csv", &t);
	free(t.p);
	check_union(&o);
	done(&o);
}

static void straddling_multiline_fields(void)
{
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "id,note\n");
	for (int i = 0; i < 9; i++) {
		addf(&t, "%d,\"", i);
		for (int k = 0; k < 30 + 11 * i; k++)
			adds(&t, k % 3 ? "ab,\"\"c\n" : "x\r\n");
		adds(&t, "\"\n");
	}
	o.paths[o.npaths++] = put("straddle.csv", &t);
	free(t.p);
	check_union(&o);
	done(&o);
}

static void several_files_and_a_compressed_one(void)
{
	pl_csv_options o;
	text t = {0}, z = {0};
	opts_init(&o);
	adds(&t, "id,text,val\n");
	gen_rows(&t, 5, 2);
	o.paths[o.npaths++] = put("a.csv", &t);
	t.len = 0;
	adds(&t, "id,text,val\r\n");
	gen_rows(&t, 150, 3);
	o.paths[o.npaths++] = put("b.csv", &t);
	t.len = 0;
	adds(&t, "id,text,val\n");
	gen_rows(&t, 60, 4);
	z.cap = ZSTD_compressBound(t.len);
	z.p = malloc(z.cap);
	z.len = ZSTD_compress(z.p, z.cap, t.p, t.len, 3);
	CU_ASSERT_FALSE_FATAL(ZSTD_isError(z.len));
	o.paths[o.npaths++] = put("c.csv.zst", &z);
	t.len = 0;
	adds(&t, "id,text,val\n");
	gen_rows(&t, 80, 5);
	o.paths[o.npaths++] = put("d.csv", &t);
	free(t.p);
	free(z.p);
	check_union(&o);
	done(&o);
}

static void fewer_records_than_ranks(void)
{
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "a,b\n1,\"x\ny\"\n");
	o.paths[o.npaths++] = put("tiny.csv", &t);
	free(t.p);
	check_union(&o);
	done(&o);
}

/* The last rank alone is given a missing file: every rank must return
 * an error, none may wait forever. */
static void one_rank_failing_stops_all(void)
{
	pl_csv_options o;
	pl_csv_share share;
	pl_error e;
	text t = {0};
	opts_init(&o);
	adds(&t, "a,b\n1,2\n");
	o.paths[o.npaths++] = put("ok.csv", &t);
	free(t.p);
	if (rank == nranks - 1)
		snprintf(o.paths[0], 256, "%s/missing.csv", dir);
	pl_error_clear(&e);
	int guessed;
	int rc =
	    pl_csv_partition_mpi(MPI_COMM_WORLD, &o, 0, &share, &guessed, &e);
	CU_ASSERT_NOT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(share.npieces, 0);
	const char *want = rank == nranks - 1 ? "missing.csv" : "rank";
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, want));
	done(&o);
}

/* A quoted field of 400 KiB of lines and no quote holds every nominal
 * edge: each guess (even, nothing tells) is wrong, and rank 0, whose
 * share ends inside the field, must fail with a data error rather than
 * hand out rows; counted, the split is right. */
static void wrong_guess_is_caught(void)
{
	pl_csv_options o;
	text t = {0};
	opts_init(&o);
	adds(&t, "id,note\n1,\"");
	for (int i = 0; i < 400 * 1024 / 8; i++)
		adds(&t, "abc def\n");
	adds(&t, "\"\n2,x\n");
	o.paths[o.npaths++] = put("wrong.csv", &t);
	free(t.p);
	CU_ASSERT_EQUAL(split_and_read(&o, 0), 0);
	int rc = split_and_read(&o, 1);
	if (nranks > 1 && rank == 0)
		CU_ASSERT_EQUAL(rc, PL_ERR_DATA);
	done(&o);
}

static const pl_test tests[] = {
    {"one_file_with_quoted_newlines", one_file_with_quoted_newlines},
    {"straddling_multiline_fields", straddling_multiline_fields},
    {"several_files_and_a_compressed_one", several_files_and_a_compressed_one},
    {"fewer_records_than_ranks", fewer_records_than_ranks},
    {"wrong_guess_is_caught", wrong_guess_is_caught},
    {"one_rank_failing_stops_all", one_rank_failing_stops_all},
    {NULL, NULL}};

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	snprintf(dir, sizeof(dir), "/tmp/pl_csvsplit_mpi_XXXXXX");
	int ok = rank != 0 || mkdtemp(dir) != NULL;
	MPI_Bcast(dir, sizeof(dir), MPI_CHAR, 0, MPI_COMM_WORLD);
	int rc = ok ? pl_test_main("csv_partition_mpi", tests, argc, argv) : 2;
	int worst;
	MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (rank == 0) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			worst = worst ? worst : 1;
	}
	MPI_Finalize();
	return worst;
}

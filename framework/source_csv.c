/* The CSV row of the source readers: byte-range shares, dictionary
 * columns, reading ahead on a second thread, and rejected rows that each
 * rank writes to a part of the reject file. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/csv_partition_mpi.h"
#include "framework/exchange.h"
#include "framework/read_ahead.h"
#include "framework/source_reader.h"
#include "io/csv_reader.h"

typedef struct csv_source {
	pl_csv_options opts;
	pl_csv_reader *reader;
	pl_read_ahead *ra;	    /* reading on a second thread, or NULL */
	pthread_mutex_t stats_lock; /* guards seen while ra runs */
	pl_csv_stats seen;	    /* the reader's stats after its last read */
} csv_source;

static const char *const extensions[] = {".csv", ".tsv", ".txt", NULL};

static int csv_open(const pl_source_args *a, void **state, char *desc,
		    size_t cap, pl_error *err)
{
	csv_source *c = calloc(1, sizeof(*c));
	*state = c;
	if (c == NULL)
		return pl_error_nomem(err, "a source");
	int rc = pl_csv_options_from_section(a->s, &c->opts, err);
	if (rc == 0)
		rc =
		    pl_source_prepare(a, c->opts.paths, &c->opts.npaths,
				      &c->opts.columns, &c->opts.ncolumns, err);
	if (rc == 0)
		rc = pl_csv_reader_open(&c->opts, a->pool, &c->reader, err);
	if (rc == 0)
		pl_source_describe_paths(desc, cap, "csv", c->opts.paths,
					 c->opts.npaths);
	return rc;
}

static const pl_schema *csv_schema(const void *state)
{
	return pl_csv_reader_schema(((const csv_source *)state)->reader);
}

static int csv_project(void *state, const uint8_t *keep, pl_error *err)
{
	return pl_csv_reader_project(((csv_source *)state)->reader, keep, err);
}

/* Where rank r keeps its rejected rows; 0 when nothing is rejected to a
 * file. */
static int reject_part(const csv_source *c, int r, char *buf, size_t cap)
{
	const char *path = c->opts.reject_path;
	if (path == NULL || !c->opts.skip_errors)
		return 0;
	snprintf(buf, cap, "%s.part-%d", path, r);
	return 1;
}

static int csv_partition(void *state, MPI_Comm comm, int guess, int *guessed,
			 pl_error *err)
{
	csv_source *c = state;
	pl_csv_share share = {0};
	guess = guess && !c->opts.skip_errors;
	int rc =
	    pl_csv_partition_mpi(comm, &c->opts, guess, &share, guessed, err);
	if (rc == 0)
		rc = pl_csv_reader_set_share(c->reader, &share, err);
	pl_csv_share_free(&share);
	char part[4200];
	if (rc == 0 && reject_part(c, pl_comm_rank(comm), part, sizeof(part)))
		rc = pl_csv_reader_redirect_reject(c->reader, part, err);
	return pl_mpi_agree(comm, rc, err);
}

/* The read-ahead thread's reading function: the reader's own stats are
 * its alone, so it leaves a copy for csv_stats. */
static int read_csv(void *arg, size_t max_rows, pl_batch **out, pl_error *err)
{
	csv_source *c = arg;
	int rc = pl_csv_reader_next(c->reader, max_rows, out, err);
	pl_csv_stats s = pl_csv_reader_stats(c->reader);
	pthread_mutex_lock(&c->stats_lock);
	c->seen = s;
	pthread_mutex_unlock(&c->stats_lock);
	return rc;
}

static int csv_next(void *state, size_t max_rows, pl_batch **out, pl_error *err)
{
	csv_source *c = state;
	if (c->ra)
		return pl_read_ahead_next(c->ra, max_rows, out, err);
	return pl_csv_reader_next(c->reader, max_rows, out, err);
}

static pl_source_stats csv_stats(const void *state)
{
	csv_source *c = (csv_source *)state;
	pl_csv_stats s;
	if (c->ra != NULL) {
		pthread_mutex_lock(&c->stats_lock);
		s = c->seen;
		pthread_mutex_unlock(&c->stats_lock);
	} else
		s = pl_csv_reader_stats(c->reader);
	pl_source_stats out = {s.rows, s.rows_skipped, s.bytes_read,
			       s.bytes_total};
	return out;
}

static int csv_allow_dict(void *state, pl_error *err)
{
	return pl_csv_reader_allow_dict(((csv_source *)state)->reader, err);
}

static int csv_read_ahead(void *state, size_t max_rows)
{
	csv_source *c = state;
	pl_error err;
	if (c->ra != NULL)
		return 1;
	if (pthread_mutex_init(&c->stats_lock, NULL) != 0)
		return 0;
	c->seen = pl_csv_reader_stats(c->reader);
	pl_csv_reader_two_batches(c->reader);
	if (pl_read_ahead_start(read_csv, c, max_rows, &c->ra, &err) != 0) {
		pthread_mutex_destroy(&c->stats_lock);
		return 0;
	}
	return 1;
}

static void csv_stop_read_ahead(void *state)
{
	csv_source *c = state;
	if (c->ra == NULL)
		return;
	pl_read_ahead_stop(c->ra);
	c->ra = NULL;
	pthread_mutex_destroy(&c->stats_lock);
}

/* Appends the file at part to out, then removes it. */
static int append_part(FILE *out, const char *part, pl_error *err)
{
	FILE *in = fopen(part, "rb");
	if (in == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", part,
				    strerror(errno));
	char buf[65536];
	size_t n;
	int rc = 0;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = pl_error_set(err, PL_ERR_IO,
					  "cannot write the "
					  "reject file: %s",
					  strerror(errno));
	fclose(in);
	unlink(part);
	return rc;
}

/* Rank 0 joins the ranks' reject parts, in rank order. */
static int join_rejects(const csv_source *c, int n, pl_error *err)
{
	FILE *out = fopen(c->opts.reject_path, "wb");
	if (out == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s",
				    c->opts.reject_path, strerror(errno));
	int rc = 0;
	char part[4200];
	for (int r = 0; r < n; r++) {
		reject_part(c, r, part, sizeof(part));
		if (rc == 0)
			rc = append_part(out, part, err);
		else
			unlink(part);
	}
	if (fclose(out) != 0 && rc == 0)
		rc = pl_error_set(err, PL_ERR_IO, "%s: %s", c->opts.reject_path,
				  strerror(errno));
	return rc;
}

static int csv_commit(void *state, MPI_Comm comm, pl_error *err)
{
	csv_source *c = state;
	char part[4200];
	int rc = pl_csv_reader_end_reject(c->reader, err);
	if (pl_comm_size(comm) == 1 || !reject_part(c, 0, part, sizeof(part)))
		return rc;
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0 && pl_comm_rank(comm) == 0)
		rc = join_rejects(c, pl_comm_size(comm), err);
	return pl_mpi_agree(comm, rc, err);
}

static void csv_discard(void *state)
{
	pl_csv_reader_discard_reject(((csv_source *)state)->reader);
}

static void csv_close(void *state)
{
	csv_source *c = state;
	if (c == NULL)
		return;
	csv_stop_read_ahead(c);
	pl_csv_reader_close(c->reader);
	pl_csv_options_free(&c->opts);
	free(c);
}

const pl_source_reader pl_source_csv = {
    .name = "csv",
    .extensions = extensions,
    .section_keys = pl_csv_section_keys,
    .open = csv_open,
    .schema = csv_schema,
    .project = csv_project,
    .partition = csv_partition,
    .next = csv_next,
    .stats = csv_stats,
    .allow_dict = csv_allow_dict,
    .read_ahead = csv_read_ahead,
    .stop_read_ahead = csv_stop_read_ahead,
    .commit = csv_commit,
    .discard = csv_discard,
    .close = csv_close,
};

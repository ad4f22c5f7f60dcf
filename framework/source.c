#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "framework/csv_partition_mpi.h"
#include "framework/exchange.h"
#include "framework/output_path.h"
#include "framework/read_ahead.h"
#include "framework/source.h"
#include "io/csv_reader.h"
#include "io/hdf5_reader.h"

enum { FORMAT_CSV, FORMAT_HDF5 };

struct pl_source {
	int format;
	pl_csv_options csv_opts;
	pl_csv_reader *csv;
	pl_hdf5_options h5_opts;
	pl_hdf5_reader *h5;
	char desc[512];
	pl_read_ahead *ra;	    /* reading on a second thread, or NULL */
	pthread_mutex_t stats_lock; /* guards seen while ra runs */
	pl_csv_stats seen;	    /* the reader's stats after its last read */
	int projectable;	    /* see pl_source_projectable */
	int guessed;		    /* see pl_source_split_guessed */
};

static const char *const generic_keys[] = {"path", "format", "validate", NULL};

int pl_source_keys(int use_columns, const char ***keys, size_t *n)
{
	size_t ng = sizeof(generic_keys) / sizeof(*generic_keys) - 1;
	size_t nc = 0, nh = 0;
	while (pl_csv_section_keys[nc] != NULL)
		nc++;
	while (pl_hdf5_section_keys[nh] != NULL)
		nh++;
	const char **k = malloc((ng + nc + nh + 2) * sizeof(*k));
	if (k == NULL)
		return PL_ERR_NOMEM;
	size_t m = 0;
	for (size_t i = 0; i < ng; i++)
		k[m++] = generic_keys[i];
	for (size_t i = 0; i < nc; i++)
		if (strcmp(pl_csv_section_keys[i], "path") != 0)
			k[m++] = pl_csv_section_keys[i];
	for (size_t i = 0; i < nh; i++)
		if (strcmp(pl_hdf5_section_keys[i], "path") != 0)
			k[m++] = pl_hdf5_section_keys[i];
	if (use_columns)
		k[m++] = "columns";
	k[m] = NULL;
	*keys = k;
	*n = m;
	return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* The format named by `format`, else by the first path's extension. */
static int pick_format(const pl_section *s, int *format, pl_error *err)
{
	const char *f = pl_section_get(s, "format", NULL);
	if (f != NULL) {
		if (strcmp(f, "csv") == 0 || strcmp(f, "hdf5") == 0) {
			*format = f[0] == 'c' ? FORMAT_CSV : FORMAT_HDF5;
			return 0;
		}
		return pl_section_error(s, "format", err,
					"format must be csv or hdf5, not '%s'",
					f);
	}
	const char *path = pl_section_get(s, "path", "");
	size_t n = strcspn(path, ",");
	while (n > 0 && (path[n - 1] == ' ' || path[n - 1] == '\t'))
		n--;
	if (ends_with(path, n, ".zst"))
		n -= 4;
	if (ends_with(path, n, ".csv") || ends_with(path, n, ".tsv") ||
	    ends_with(path, n, ".txt")) {
		*format = FORMAT_CSV;
		return 0;
	}
	if (ends_with(path, n, ".h5") || ends_with(path, n, ".hdf5")) {
		*format = FORMAT_HDF5;
		return 0;
	}
	return pl_section_error(s, "path", err,
				"cannot tell the format of '%.*s' from its "
				"name: set format = csv or hdf5",
				(int)n, path);
}

/* The `columns` selection, when the section has one and it counts. */
static int read_columns(const pl_section *s, int use_columns, char ***names,
			size_t *n, pl_error *err)
{
	const char *cols =
	    use_columns ? pl_section_get(s, "columns", NULL) : NULL;
	if (cols == NULL)
		return 0;
	int rc = pl_split_names(cols, names, n, err);
	return rc ? pl_section_rewrap(s, "columns", rc, err) : 0;
}

/* 1 when path is exclude or one of the temporary files written beside it
 * (".NAME.tmp-..."). */
static int is_excluded(const char *path, const char *exclude)
{
	const char *slash = strrchr(exclude, '/');
	const char *name = slash ? slash + 1 : exclude;
	size_t dirlen = (size_t)(name - exclude), n = strlen(name);
	const char *pslash = strrchr(path, '/');
	const char *pname = pslash ? pslash + 1 : path;
	if ((size_t)(pname - path) == dirlen &&
	    strncmp(path, exclude, dirlen) == 0 && pname[0] == '.' &&
	    strncmp(pname + 1, name, n) == 0 &&
	    strncmp(pname + 1 + n, ".tmp-", 5) == 0)
		return 1;
	return pl_same_file(path, exclude);
}

/* Drops the excluded files from paths (see pl_source_open_excluding). */
static int drop_excluded(const pl_section *s, char **paths, size_t *n,
			 const char *exclude, pl_error *err)
{
	if (exclude == NULL)
		return 0;
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++) {
		if (is_excluded(paths[i], exclude))
			free(paths[i]);
		else
			paths[kept++] = paths[i];
	}
	*n = kept;
	if (kept == 0)
		return pl_section_error(s, "path", err,
					"the glob matches only the job's own "
					"output '%s'",
					exclude);
	return 0;
}

static int open_hdf5(pl_source *src, const pl_section *s, int use_columns,
		     const char *exclude, pl_pool *pool, pl_error *err)
{
	int rc = pl_hdf5_options_from_section(s, &src->h5_opts, err);
	if (rc == 0)
		rc = drop_excluded(s, src->h5_opts.paths, &src->h5_opts.npaths,
				   exclude, err);
	if (rc == 0)
		rc = read_columns(s, use_columns, &src->h5_opts.columns,
				  &src->h5_opts.ncolumns, err);
	if (rc == 0)
		rc = pl_hdf5_reader_open(&src->h5_opts, pool, &src->h5, err);
	if (rc != 0)
		return rc;
	snprintf(src->desc, sizeof(src->desc), "hdf5: %s%s",
		 src->h5_opts.paths[0],
		 src->h5_opts.npaths > 1 ? " and more" : "");
	return 0;
}

static int open_csv(pl_source *src, const pl_section *s, int use_columns,
		    const char *exclude, pl_pool *pool, pl_error *err)
{
	int rc = pl_csv_options_from_section(s, &src->csv_opts, err);
	if (rc == 0)
		rc = drop_excluded(s, src->csv_opts.paths,
				   &src->csv_opts.npaths, exclude, err);
	if (rc == 0)
		rc = read_columns(s, use_columns, &src->csv_opts.columns,
				  &src->csv_opts.ncolumns, err);
	if (rc != 0)
		return rc;
	rc = pl_csv_reader_open(&src->csv_opts, pool, &src->csv, err);
	if (rc != 0)
		return rc;
	snprintf(src->desc, sizeof(src->desc), "csv: %s%s",
		 src->csv_opts.paths[0],
		 src->csv_opts.npaths > 1 ? " and more" : "");
	return 0;
}

/* `validate = all | used`: whether every column is converted (all). */
static int read_validate(const pl_section *s, int *all, pl_error *err)
{
	const char *v = pl_section_get(s, "validate", "used");
	*all = strcmp(v, "all") == 0;
	if (*all || strcmp(v, "used") == 0)
		return 0;
	return pl_section_error(s, "validate", err,
				"validate must be all or used, not '%s'", v);
}

int pl_source_open(const pl_section *s, int use_columns, pl_pool *pool,
		   pl_source **out, pl_error *err)
{
	return pl_source_open_excluding(s, use_columns, NULL, pool, out, err);
}

int pl_source_open_excluding(const pl_section *s, int use_columns,
			     const char *exclude, pl_pool *pool,
			     pl_source **out, pl_error *err)
{
	int all;
	int rc = read_validate(s, &all, err);
	if (rc != 0)
		return rc;
	*out = NULL;
	if (pl_section_find(s, "path") == NULL)
		return pl_section_error(s, NULL, err, "needs a path");
	pl_source *src = calloc(1, sizeof(*src));
	if (src == NULL)
		return pl_error_nomem(err, "a source");
	src->projectable =
	    use_columns && !all && pl_section_find(s, "columns") == NULL;
	rc = pick_format(s, &src->format, err);
	if (rc == 0)
		rc = src->format == FORMAT_HDF5
			 ? open_hdf5(src, s, use_columns, exclude, pool, err)
			 : open_csv(src, s, use_columns, exclude, pool, err);
	if (rc != 0) {
		pl_source_close(src);
		return rc;
	}
	*out = src;
	return 0;
}

int pl_source_projectable(const pl_source *src)
{
	return src->projectable;
}

int pl_source_project(pl_source *src, const uint8_t *keep, pl_error *err)
{
	return src->h5 ? pl_hdf5_reader_project(src->h5, keep, err)
		       : pl_csv_reader_project(src->csv, keep, err);
}

void pl_source_set_cache_budget(pl_source *src, uint64_t bytes)
{
	src->h5_opts.cache_budget = bytes;
}

const pl_schema *pl_source_schema(const pl_source *src)
{
	return src->h5 ? pl_hdf5_reader_schema(src->h5)
		       : pl_csv_reader_schema(src->csv);
}

/* Where rank r keeps its rejected rows; 0 when nothing is rejected to a
 * file. */
static int reject_part(const pl_source *src, int r, char *buf, size_t cap)
{
	const char *path = src->csv_opts.reject_path;
	if (src->csv == NULL || path == NULL || !src->csv_opts.skip_errors)
		return 0;
	snprintf(buf, cap, "%s.part-%d", path, r);
	return 1;
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
static int join_rejects(const pl_source *src, int n, pl_error *err)
{
	FILE *out = fopen(src->csv_opts.reject_path, "wb");
	if (out == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s",
				    src->csv_opts.reject_path, strerror(errno));
	int rc = 0;
	char part[4200];
	for (int r = 0; r < n; r++) {
		reject_part(src, r, part, sizeof(part));
		if (rc == 0)
			rc = append_part(out, part, err);
		else
			unlink(part);
	}
	if (fclose(out) != 0 && rc == 0)
		rc = pl_error_set(err, PL_ERR_IO, "%s: %s",
				  src->csv_opts.reject_path, strerror(errno));
	return rc;
}

int pl_source_commit(pl_source *src, MPI_Comm comm, pl_error *err)
{
	char part[4200];
	pl_source_stop_read_ahead(src);
	int rc = src->csv ? pl_csv_reader_end_reject(src->csv, err) : 0;
	if (pl_comm_size(comm) == 1 || !reject_part(src, 0, part, sizeof(part)))
		return rc;
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0 && pl_comm_rank(comm) == 0)
		rc = join_rejects(src, pl_comm_size(comm), err);
	return pl_mpi_agree(comm, rc, err);
}

static int partition_hdf5(pl_source *src, MPI_Comm comm, pl_error *err)
{
	int rank, n;
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &n);
	uint64_t total = pl_hdf5_reader_total_rows(src->h5);
	uint64_t edge[2];
	for (int k = 0; k < 2; k++) {
		uint64_t r = (uint64_t)(rank + k);
		uint64_t even =
		    total / (uint64_t)n * r +
		    (r < total % (uint64_t)n ? r : total % (uint64_t)n);
		/* Every rank computes its neighbours' edges alike. */
		edge[k] = r == 0 || r == (uint64_t)n
			      ? even
			      : pl_hdf5_reader_align(src->h5, even);
	}
	if (edge[1] < edge[0])
		edge[1] = edge[0];
	int rc =
	    pl_hdf5_reader_set_range(src->h5, edge[0], edge[1] - edge[0], err);
	return pl_mpi_agree(comm, rc, err);
}

int pl_source_partition(pl_source *src, MPI_Comm comm, int guess, pl_error *err)
{
	if (src->h5)
		return partition_hdf5(src, comm, err);
	pl_csv_share share = {0};
	guess = guess && !src->csv_opts.skip_errors;
	int rc = pl_csv_partition_mpi(comm, &src->csv_opts, guess, &share,
				      &src->guessed, err);
	if (rc == 0)
		rc = pl_csv_reader_set_share(src->csv, &share, err);
	pl_csv_share_free(&share);
	char part[4200];
	if (rc == 0 && reject_part(src, pl_comm_rank(comm), part, sizeof(part)))
		rc = pl_csv_reader_redirect_reject(src->csv, part, err);
	return pl_mpi_agree(comm, rc, err);
}

/* The read-ahead thread's reading function: the reader's own stats are
 * its alone, so it leaves a copy for pl_source_get_stats. */
static int read_csv(void *arg, size_t max_rows, pl_batch **out, pl_error *err)
{
	pl_source *src = arg;
	int rc = pl_csv_reader_next(src->csv, max_rows, out, err);
	pl_csv_stats s = pl_csv_reader_stats(src->csv);
	pthread_mutex_lock(&src->stats_lock);
	src->seen = s;
	pthread_mutex_unlock(&src->stats_lock);
	return rc;
}

int pl_source_split_guessed(const pl_source *src)
{
	return src != NULL && src->guessed;
}

int pl_source_allow_dict(pl_source *src, pl_error *err)
{
	return src->csv != NULL ? pl_csv_reader_allow_dict(src->csv, err) : 0;
}

int pl_source_read_ahead(pl_source *src, size_t max_rows)
{
	pl_error err;
	if (src->h5 || src->ra != NULL)
		return src->ra != NULL;
	if (pthread_mutex_init(&src->stats_lock, NULL) != 0)
		return 0;
	src->seen = pl_csv_reader_stats(src->csv);
	pl_csv_reader_two_batches(src->csv);
	if (pl_read_ahead_start(read_csv, src, max_rows, &src->ra, &err) != 0) {
		pthread_mutex_destroy(&src->stats_lock);
		return 0;
	}
	return 1;
}

void pl_source_stop_read_ahead(pl_source *src)
{
	if (src == NULL || src->ra == NULL)
		return;
	pl_read_ahead_stop(src->ra);
	src->ra = NULL;
	pthread_mutex_destroy(&src->stats_lock);
}

int pl_source_next(pl_source *src, size_t max_rows, pl_batch **out,
		   pl_error *err)
{
	if (src->ra)
		return pl_read_ahead_next(src->ra, max_rows, out, err);
	if (src->h5)
		return pl_hdf5_reader_next(src->h5, max_rows, out, err);
	return pl_csv_reader_next(src->csv, max_rows, out, err);
}

pl_source_stats pl_source_get_stats(const pl_source *src)
{
	if (src->h5) {
		pl_hdf5_stats h = pl_hdf5_reader_stats(src->h5);
		pl_source_stats s = {h.rows, 0, h.bytes_read, h.bytes_total};
		return s;
	}
	pl_csv_stats c;
	if (src->ra != NULL) {
		pl_source *w = (pl_source *)src;
		pthread_mutex_lock(&w->stats_lock);
		c = w->seen;
		pthread_mutex_unlock(&w->stats_lock);
	} else
		c = pl_csv_reader_stats(src->csv);
	pl_source_stats s = {c.rows, c.rows_skipped, c.bytes_read,
			     c.bytes_total};
	return s;
}

const char *pl_source_describe(const pl_source *src)
{
	return src->desc;
}

void pl_source_discard(pl_source *src)
{
	if (src == NULL)
		return;
	pl_source_stop_read_ahead(src);
	pl_csv_reader_discard_reject(src->csv);
}

void pl_source_close(pl_source *src)
{
	if (src == NULL)
		return;
	pl_source_stop_read_ahead(src);
	pl_csv_reader_close(src->csv);
	pl_csv_options_free(&src->csv_opts);
	pl_hdf5_reader_close(src->h5);
	pl_hdf5_options_free(&src->h5_opts);
	free(src);
}

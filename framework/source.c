#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framework/source.h"
#include "io/csv_reader.h"

enum { FORMAT_CSV, FORMAT_HDF5 };

struct pl_source {
	int format;
	pl_csv_options csv_opts;
	pl_csv_reader *csv;
	char desc[512];
};

static const char *const generic_keys[] = {"path", "format", "datasets",
					   "dataset", NULL};

int pl_source_keys(int use_columns, const char ***keys, size_t *n)
{
	size_t ng = sizeof(generic_keys) / sizeof(*generic_keys) - 1, nc = 0;
	while (pl_csv_section_keys[nc] != NULL)
		nc++;
	const char **k = malloc((ng + nc + 2) * sizeof(*k));
	if (k == NULL)
		return PL_ERR_NOMEM;
	size_t m = 0;
	for (size_t i = 0; i < ng; i++)
		k[m++] = generic_keys[i];
	for (size_t i = 0; i < nc; i++)
		if (strcmp(pl_csv_section_keys[i], "path") != 0)
			k[m++] = pl_csv_section_keys[i];
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

static int open_csv(pl_source *src, const pl_section *s, int use_columns,
		    pl_pool *pool, pl_error *err)
{
	int rc = pl_csv_options_from_section(s, &src->csv_opts, err);
	if (rc != 0)
		return rc;
	const char *cols = use_columns ? pl_section_get(s, "columns", NULL)
				       : NULL;
	if (cols != NULL) {
		rc = pl_split_names(cols, &src->csv_opts.columns,
				    &src->csv_opts.ncolumns, err);
		if (rc != 0) {
			char msg[PL_ERROR_MSG_MAX];
			snprintf(msg, sizeof(msg), "%s", err->msg);
			pl_error_clear(err);
			return pl_section_error(s, "columns", err, "%s", msg);
		}
	}
	rc = pl_csv_reader_open(&src->csv_opts, pool, &src->csv, err);
	if (rc != 0)
		return rc;
	snprintf(src->desc, sizeof(src->desc), "csv: %s%s",
		 src->csv_opts.paths[0],
		 src->csv_opts.npaths > 1 ? " and more" : "");
	return 0;
}

int pl_source_open(const pl_section *s, int use_columns, pl_pool *pool,
		   pl_source **out, pl_error *err)
{
	*out = NULL;
	if (pl_section_find(s, "path") == NULL)
		return pl_section_error(s, NULL, err, "needs a path");
	pl_source *src = calloc(1, sizeof(*src));
	if (src == NULL)
		return pl_error_nomem(err, "a source");
	int rc = pick_format(s, &src->format, err);
	if (rc == 0 && src->format == FORMAT_HDF5)
		rc = pl_section_error(s, "path", err,
				      "HDF5 input is not supported yet");
	if (rc == 0)
		rc = open_csv(src, s, use_columns, pool, err);
	if (rc != 0) {
		pl_source_close(src);
		return rc;
	}
	*out = src;
	return 0;
}

const pl_schema *pl_source_schema(const pl_source *src)
{
	return pl_csv_reader_schema(src->csv);
}

int pl_source_next(pl_source *src, size_t max_rows, pl_batch **out,
		   pl_error *err)
{
	return pl_csv_reader_next(src->csv, max_rows, out, err);
}

pl_source_stats pl_source_get_stats(const pl_source *src)
{
	pl_csv_stats c = pl_csv_reader_stats(src->csv);
	pl_source_stats s = {c.rows, c.rows_skipped, c.bytes_read,
			     c.bytes_total};
	return s;
}

const char *pl_source_describe(const pl_source *src) { return src->desc; }

void pl_source_close(pl_source *src)
{
	if (src == NULL)
		return;
	pl_csv_reader_close(src->csv);
	pl_csv_options_free(&src->csv_opts);
	free(src);
}

/* The generic part of a source: which reader reads it, the paths and
 * columns every reader takes alike, and the calls through the reader's
 * table (source_reader.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framework/output_path.h"
#include "framework/source_reader.h"

/* Every reader there is, the one place that knows them. */
static const pl_source_reader *const readers[] = {&pl_source_csv,
						  &pl_source_hdf5, NULL};

struct pl_source {
	const pl_source_reader *r;
	void *state; /* r's */
	char desc[512];
	int projectable; /* see pl_source_projectable */
	int guessed;	 /* see pl_source_split_guessed */
};

static const char *const generic_keys[] = {"path", "format", "validate", NULL};

static size_t count_keys(const char *const *k)
{
	size_t n = 0;
	while (k[n] != NULL)
		n++;
	return n;
}

int pl_source_keys(int use_columns, const char ***keys, size_t *n)
{
	size_t total = count_keys(generic_keys) + 2;
	for (size_t r = 0; readers[r] != NULL; r++)
		total += count_keys(readers[r]->section_keys);
	const char **k = malloc(total * sizeof(*k));
	if (k == NULL)
		return PL_ERR_NOMEM;
	size_t m = 0;
	for (size_t i = 0; generic_keys[i] != NULL; i++)
		k[m++] = generic_keys[i];
	for (size_t r = 0; readers[r] != NULL; r++)
		for (const char *const *rk = readers[r]->section_keys;
		     *rk != NULL; rk++)
			if (strcmp(*rk, "path") != 0)
				k[m++] = *rk;
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

/* "csv or hdf5": the formats there are, for messages. */
static const char *format_names(char *buf, size_t cap)
{
	size_t at = 0;
	buf[0] = '\0';
	for (size_t r = 0; readers[r] != NULL && at < cap; r++)
		at += (size_t)snprintf(buf + at, cap - at, "%s%s",
				       r == 0			? ""
				       : readers[r + 1] != NULL ? ", "
								: " or ",
				       readers[r]->name);
	return buf;
}

/* The reader of the format `format` names, else of the first path's
 * extension (a .zst after it is compression). */
static int pick_reader(const pl_section *s, const pl_source_reader **out,
		       pl_error *err)
{
	char names[64];
	const char *f = pl_section_get(s, "format", NULL);
	for (size_t r = 0; f != NULL && readers[r] != NULL; r++)
		if (strcmp(f, readers[r]->name) == 0) {
			*out = readers[r];
			return 0;
		}
	if (f != NULL)
		return pl_section_error(s, "format", err,
					"format must be %s, not '%s'",
					format_names(names, sizeof(names)), f);
	const char *path = pl_section_get(s, "path", "");
	size_t n = strcspn(path, ",");
	while (n > 0 && (path[n - 1] == ' ' || path[n - 1] == '\t'))
		n--;
	if (ends_with(path, n, ".zst"))
		n -= 4;
	for (size_t r = 0; readers[r] != NULL; r++)
		for (const char *const *e = readers[r]->extensions; *e != NULL;
		     e++)
			if (ends_with(path, n, *e)) {
				*out = readers[r];
				return 0;
			}
	return pl_section_error(s, "path", err,
				"cannot tell the format of '%.*s' from its "
				"name: set format = %s",
				(int)n, path,
				format_names(names, sizeof(names)));
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

int pl_source_prepare(const pl_source_args *a, char **paths, size_t *npaths,
		      char ***columns, size_t *ncolumns, pl_error *err)
{
	int rc = drop_excluded(a->s, paths, npaths, a->exclude, err);
	return rc ? rc
		  : read_columns(a->s, a->use_columns, columns, ncolumns, err);
}

void pl_source_describe_paths(char *desc, size_t cap, const char *name,
			      char *const *paths, size_t n)
{
	snprintf(desc, cap, "%s: %s%s", name, paths[0],
		 n > 1 ? " and more" : "");
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
	pl_source_args a = {s, use_columns, exclude, pool};
	rc = pick_reader(s, &src->r, err);
	if (rc == 0)
		rc = src->r->open(&a, &src->state, src->desc, sizeof(src->desc),
				  err);
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
	return src->r->project(src->state, keep, err);
}

void pl_source_set_cache_budget(pl_source *src, uint64_t bytes)
{
	if (src->r->set_cache_budget != NULL)
		src->r->set_cache_budget(src->state, bytes);
}

const pl_schema *pl_source_schema(const pl_source *src)
{
	return src->r->schema(src->state);
}

int pl_source_partition(pl_source *src, MPI_Comm comm, int guess, pl_error *err)
{
	return src->r->partition(src->state, comm, guess, &src->guessed, err);
}

int pl_source_split_guessed(const pl_source *src)
{
	return src != NULL && src->guessed;
}

int pl_source_allow_dict(pl_source *src, pl_error *err)
{
	return src->r->allow_dict ? src->r->allow_dict(src->state, err) : 0;
}

int pl_source_read_ahead(pl_source *src, size_t max_rows)
{
	return src->r->read_ahead ? src->r->read_ahead(src->state, max_rows)
				  : 0;
}

void pl_source_stop_read_ahead(pl_source *src)
{
	if (src != NULL && src->state != NULL && src->r->stop_read_ahead)
		src->r->stop_read_ahead(src->state);
}

int pl_source_next(pl_source *src, size_t max_rows, pl_batch **out,
		   pl_error *err)
{
	return src->r->next(src->state, max_rows, out, err);
}

pl_source_stats pl_source_get_stats(const pl_source *src)
{
	return src->r->stats(src->state);
}

const char *pl_source_describe(const pl_source *src)
{
	return src->desc;
}

int pl_source_commit(pl_source *src, MPI_Comm comm, pl_error *err)
{
	pl_source_stop_read_ahead(src);
	return src->r->commit ? src->r->commit(src->state, comm, err) : 0;
}

void pl_source_discard(pl_source *src)
{
	if (src == NULL)
		return;
	pl_source_stop_read_ahead(src);
	if (src->state != NULL && src->r->discard)
		src->r->discard(src->state);
}

void pl_source_close(pl_source *src)
{
	if (src == NULL)
		return;
	if (src->r != NULL)
		src->r->close(src->state);
	free(src);
}

/* [source] keys of an HDF5 input: path (a file, a list, or globs),
 * datasets or dataset. */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/hdf5_reader.h"

const char *const pl_hdf5_section_keys[] = {"path", "datasets", "dataset",
					    NULL};

/* Re-issues a list-splitting error as one naming the key's line. */
static int key_error(const pl_section *s, const char *key, int rc,
		     pl_error *err)
{
	if (rc == PL_ERR_NOMEM)
		return rc;
	char msg[PL_ERROR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", err->msg);
	pl_error_clear(err);
	return pl_section_error(s, key, err, "%s: %s", key, msg);
}

static int add_path(pl_hdf5_options *o, const char *p, pl_error *err)
{
	char **np = realloc(o->paths, (o->npaths + 1) * sizeof(*np));
	if (np == NULL)
		return pl_error_nomem(err, "hdf5 paths");
	o->paths = np;
	if ((np[o->npaths] = strdup(p)) == NULL)
		return pl_error_nomem(err, "hdf5 paths");
	o->npaths++;
	return 0;
}

static int check_file(const char *p, pl_error *err)
{
	struct stat st;
	if (stat(p, &st) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", p,
				    strerror(errno));
	if (S_ISDIR(st.st_mode))
		return pl_error_set(err, PL_ERR_IO, "%s: is a directory", p);
	return 0;
}

static int add_glob(pl_hdf5_options *o, const char *pattern, pl_error *err)
{
	glob_t g;
	int rc = glob(pattern, 0, NULL, &g);
	if (rc == GLOB_NOSPACE)
		return pl_error_nomem(err, "a glob");
	if (rc != 0)
		return pl_error_set(err, PL_ERR_IO,
				    "%s: No such file or directory (no file "
				    "matches)",
				    pattern);
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
		rc = check_file(g.gl_pathv[i], err);
		if (rc == 0)
			rc = add_path(o, g.gl_pathv[i], err);
	}
	globfree(&g);
	return rc;
}

static int read_paths(const pl_section *s, pl_hdf5_options *o, pl_error *err)
{
	const char *v = pl_section_get(s, "path", NULL);
	if (v == NULL || *v == '\0')
		return pl_section_error(s, "path", err, "needs a path");
	char **parts;
	size_t n;
	int rc = pl_split_names(v, &parts, &n, err);
	if (rc != 0)
		return key_error(s, "path", rc, err);
	char full[PATH_MAX];
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = pl_section_path(s, parts[i], full, sizeof(full), err);
		if (rc == 0 && strcmp(full, "-") == 0)
			rc = pl_section_error(s, "path", err,
					      "HDF5 cannot be read from "
					      "standard input");
		else if (rc == 0 && strpbrk(full, "*?[") != NULL)
			rc = add_glob(o, full, err);
		else if (rc == 0 && (rc = check_file(full, err)) == 0)
			rc = add_path(o, full, err);
	}
	pl_names_free(parts, n);
	return rc;
}

/* Dataset paths are taken as absolute: "a" means "/a". */
static int absolute(char **p, pl_error *err)
{
	if ((*p)[0] == '/')
		return 0;
	size_t n = strlen(*p);
	char *a = malloc(n + 2);
	if (a == NULL)
		return pl_error_nomem(err, "a dataset path");
	a[0] = '/';
	memcpy(a + 1, *p, n + 1);
	free(*p);
	*p = a;
	return 0;
}

static int read_datasets(const pl_section *s, pl_hdf5_options *o, pl_error *err)
{
	const char *many = pl_section_get(s, "datasets", NULL);
	const char *one = pl_section_get(s, "dataset", NULL);
	if ((many == NULL) == (one == NULL))
		return pl_section_error(s, many ? "dataset" : NULL, err,
					"an HDF5 source needs exactly one of "
					"datasets (1-D datasets, one per "
					"column) or dataset (one compound "
					"dataset)");
	if (one != NULL) {
		if (*one == '\0' || strchr(one, ',') != NULL)
			return pl_section_error(s, "dataset", err,
						"dataset names one compound "
						"dataset; use datasets for a "
						"list");
		if ((o->dataset = strdup(one)) == NULL)
			return pl_error_nomem(err, "a dataset path");
		return absolute(&o->dataset, err);
	}
	int rc = pl_split_names(many, &o->datasets, &o->ndatasets, err);
	if (rc != 0)
		return key_error(s, "datasets", rc, err);
	for (size_t i = 0; rc == 0 && i < o->ndatasets; i++)
		rc = absolute(&o->datasets[i], err);
	return rc;
}

int pl_hdf5_options_from_section(const pl_section *s, pl_hdf5_options *o,
				 pl_error *err)
{
	memset(o, 0, sizeof(*o));
	o->section = s;
	int rc = read_paths(s, o, err);
	if (rc == 0)
		rc = read_datasets(s, o, err);
	return rc;
}

void pl_hdf5_options_free(pl_hdf5_options *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->npaths; i++)
		free(o->paths[i]);
	free(o->paths);
	if (o->datasets != NULL)
		pl_names_free(o->datasets, o->ndatasets);
	free(o->dataset);
	if (o->columns != NULL)
		pl_names_free(o->columns, o->ncolumns);
	memset(o, 0, sizeof(*o));
}

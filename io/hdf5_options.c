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
#include "io/hdf5_time.h"
#include "io/input_paths.h"

const char *const pl_hdf5_section_keys[] = {
    "path", "datasets", "dataset", "time_columns", "time_unit", NULL};

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
		return pl_section_rewrap(s, "datasets", rc, err);
	for (size_t i = 0; rc == 0 && i < o->ndatasets; i++)
		rc = absolute(&o->datasets[i], err);
	return rc;
}

int pl_hdf5_options_from_section(const pl_section *s, pl_hdf5_options *o,
				 pl_error *err)
{
	memset(o, 0, sizeof(*o));
	o->section = s;
	int rc = pl_input_paths(s, 0, &o->paths, &o->npaths, err);
	if (rc == 0)
		rc = read_datasets(s, o, err);
	if (rc == 0)
		rc = pl_h5_time_options(s, o, err);
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
	for (size_t i = 0; i < o->ntime; i++)
		free(o->time_columns[i]);
	free(o->time_columns);
	free(o->time_units);
	memset(o, 0, sizeof(*o));
}

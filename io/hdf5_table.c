/* Opening one file's table: the file, the datasets, their shapes and types,
 * and the NULLs datasets pipeline writes beside columns that have NULLs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/crash_cleanup.h"
#include "io/hdf5_filters.h"
#include "io/hdf5_pandas.h"
#include "io/hdf5_table.h"
#include "io/hdf5_time.h"

/* The chunk cache per dataset: enough for a couple of chunks, so that a
 * batch ending inside a chunk does not decompress it again next time;
 * within the dataset's share of the options' cache budget, when set. */
#define CACHE_BYTES_MIN ((size_t)4 << 20)
#define CACHE_BYTES_MAX ((size_t)256 << 20)
#define CACHE_BYTES_GREEDY ((size_t)64 << 20)
#define CACHE_SLOTS 1031

static int h5_fail(pl_error *err, int code, const char *path, const char *where,
		   const char *what)
{
	char why[256];
	pl_h5_last_error(why, sizeof(why));
	return pl_error_set(err, code, "%s:%s: %s: %s", path, where, what, why);
}

/* The open checks whether the file exists and is HDF5 before HDF5 tries,
 * so that the common mistakes get plain messages. */
static int open_file(const char *path, hid_t *out, pl_error *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	fclose(f);
	if (H5Fis_hdf5(path) <= 0)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: not an HDF5 file (no HDF5 signature)",
				    path);
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
		H5Pclose(fapl);
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s: cannot set up HDF5 file access", path);
	}
	*out = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	hid_t es = pl_h5_error_keep();
	H5Pclose(fapl);
	pl_h5_error_restore(es);
	if (*out < 0) {
		char why[256];
		pl_h5_last_error(why, sizeof(why));
		return pl_error_set(err, PL_ERR_DATA,
				    "%s: cannot open as HDF5 (truncated or "
				    "damaged file?): %s",
				    path, why);
	}
	return 0;
}

/* Whether every link along path exists (H5Lexists needs the parents). */
static int link_exists(hid_t file, const char *path)
{
	char buf[1024];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		int ok = H5Lexists(file, buf, H5P_DEFAULT) > 0;
		buf[i] = c;
		if (!ok)
			return 0;
	}
	return 1;
}

static uint64_t chunk_rows(hid_t dset)
{
	hid_t dcpl = H5Dget_create_plist(dset);
	hsize_t dim = 0;
	if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED &&
	    H5Pget_chunk(dcpl, 1, &dim) != 1)
		dim = 0;
	H5Pclose(dcpl);
	return dim;
}

static int filtered(hid_t dset)
{
	hid_t dcpl = H5Dget_create_plist(dset);
	int n = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
	H5Pclose(dcpl);
	return n > 0;
}

static hid_t open_cached(hid_t file, const char *path, size_t bytes)
{
	hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
	if (dapl < 0)
		return dapl;
	hid_t d = H5I_INVALID_HID;
	if (H5Pset_chunk_cache(dapl, CACHE_SLOTS, bytes, 1.0) >= 0)
		d = H5Dopen2(file, path, dapl);
	hid_t es = pl_h5_error_keep();
	H5Pclose(dapl);
	pl_h5_error_restore(es);
	return d;
}

/* Opens with a cache of two chunks, at least a few MB, at most the
 * table's cap per dataset. A compound table is read once per field for
 * every batch, and a batch may span many chunks: a filtered one gets up to
 * 64 MiB, so that each chunk is decompressed once, not once per field
 * (unfiltered chunks are cheaper to read again than to cache). */
static hid_t open_dataset(const pl_h5_table *t, const char *path, int greedy)
{
	size_t cap = t->cache_cap;
	size_t first = CACHE_BYTES_MIN < cap ? CACHE_BYTES_MIN : cap;
	hid_t d = open_cached(t->file, path, first);
	if (d < 0)
		return d;
	hid_t type = H5Dget_type(d);
	size_t want = 2 * chunk_rows(d) * (type >= 0 ? H5Tget_size(type) : 0);
	H5Tclose(type);
	if (want < CACHE_BYTES_MIN)
		want = CACHE_BYTES_MIN;
	if (greedy && filtered(d))
		want = CACHE_BYTES_GREEDY;
	if (want > cap)
		want = cap;
	if (want == first)
		return d;
	H5Dclose(d);
	return open_cached(t->file, path, want);
}

/* Opens a dataset of rank want (1, or 2 for pandas' blocks) and gives its
 * shape in dims. */
static int open_shaped(pl_h5_table *t, const char *path, int greedy, int want,
		       hid_t *out, hsize_t dims[2], pl_error *err)
{
	if (!link_exists(t->file, path))
		return pl_error_set(err, PL_ERR_DATA, "%s:%s: no such dataset",
				    t->path, path);
	*out = open_dataset(t, path, greedy);
	if (*out < 0)
		return h5_fail(err, PL_ERR_DATA, t->path, path,
			       "cannot open as a dataset");
	int rc = pl_h5_check_filters(*out, t->path, path, err);
	if (rc != 0)
		return rc;
	hid_t space = H5Dget_space(*out);
	int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
	if (rank == want)
		H5Sget_simple_extent_dims(space, dims, NULL);
	H5Sclose(space);
	if (rank == want)
		return 0;
	if (want == 1)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%s: unsupported shape: %d-D (only 1-D "
				    "datasets are read)",
				    t->path, path, rank < 0 ? 0 : rank);
	return pl_error_set(err, PL_ERR_DATA,
			    "%s:%s: a %d-D dataset where a %d-D one was "
			    "expected",
			    t->path, path, rank < 0 ? 0 : rank, want);
}

/* Opens a 1-D dataset and gives its length. */
static int open_1d(pl_h5_table *t, const char *path, int greedy, hid_t *out,
		   uint64_t *len, pl_error *err)
{
	hsize_t dims[2] = {0, 0};
	int rc = open_shaped(t, path, greedy, 1, out, dims, err);
	*len = dims[0];
	return rc;
}

static int check_length(const pl_h5_table *t, const char *path, uint64_t len,
			pl_error *err)
{
	if (len == t->nrows)
		return 0;
	return pl_error_set(err, PL_ERR_DATA,
			    "%s:%s: %llu rows, but %s has %llu (datasets must "
			    "have equal lengths)",
			    t->path, path, (unsigned long long)len,
			    t->src[0].where, (unsigned long long)t->nrows);
}

/* The NULLs dataset pipeline's writer puts beside a column with NULLs. */
static int open_valid(pl_h5_table *t, pl_h5_src *s, const char *vpath,
		      pl_error *err)
{
	if (!link_exists(t->file, vpath))
		return 0;
	uint64_t len = 0;
	int rc = open_1d(t, vpath, 0, &s->valid, &len, err);
	if (rc == 0 && len != t->nrows)
		rc = check_length(t, vpath, len, err);
	hid_t type = rc == 0 ? H5Dget_type(s->valid) : H5I_INVALID_HID;
	if (rc == 0 && H5Tget_class(type) != H5T_INTEGER)
		rc = pl_error_set(err, PL_ERR_DATA,
				  "%s:%s: a NULLs dataset must hold integers",
				  t->path, vpath);
	H5Tclose(type);
	return rc;
}

static int valid_path(const char *dir, size_t dirlen, const char *name,
		      char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%.*s/%s" PL_H5_VALID_SUFFIX, (int)dirlen,
			 dir, name);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static const char *last_part(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int unsupported(const pl_h5_table *t, size_t i, const char *why,
		       pl_error *err)
{
	char where[1200];
	pl_h5_table_where(t, i, where, sizeof(where));
	return pl_error_set(err, PL_ERR_DATA,
			    "%s: unsupported type %s (integers, floats, "
			    "strings, bools, bitfields, enums and 1-D arrays "
			    "of them are read)",
			    where, why);
}

/* A new source at the end of t, named name (taken) and read from where
 * (copied); its dataset and NULLs dataset not yet open. */
static pl_h5_src *add_src(pl_h5_table *t, char *name, const char *where,
			  pl_error *err)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		pl_h5_src *p = realloc(t->src, cap * sizeof(*p));
		if (p == NULL) {
			free(name);
			pl_error_nomem(err, "hdf5 columns");
			return NULL;
		}
		t->src = p;
		t->cap = cap;
	}
	pl_h5_src *s = &t->src[t->n];
	memset(s, 0, sizeof(*s));
	s->dset = s->valid = s->t.native = H5I_INVALID_HID;
	s->width = 1;
	s->name = name;
	s->where = strdup(where);
	if (name == NULL || s->where == NULL) {
		free(name);
		free(s->where);
		pl_error_nomem(err, "a column name");
		return NULL;
	}
	t->n++;
	return s;
}

static int classify(pl_h5_table *t, hid_t type, pl_h5_type *out, pl_error *err)
{
	char why[256];
	if (pl_h5_classify(type, out, why, sizeof(why)) != 0)
		return unsupported(t, t->n - 1, why, err);
	return 0;
}

int pl_h5_add_dataset(pl_h5_table *t, const char *path, const char *name,
		      pl_error *err)
{
	pl_h5_src *s =
	    add_src(t, strdup(name ? name : last_part(path)), path, err);
	if (s == NULL)
		return PL_ERR_NOMEM;
	uint64_t len;
	int rc = open_1d(t, path, 0, &s->dset, &len, err);
	if (rc != 0)
		return rc;
	if (t->n == 1) {
		t->nrows = len;
		t->chunk = chunk_rows(s->dset);
	}
	if ((rc = check_length(t, path, len, err)) != 0)
		return rc;
	hid_t type = H5Dget_type(s->dset);
	rc = classify(t, type, &s->t, err);
	H5Tclose(type);
	char vpath[1200];
	if (rc == 0 && valid_path(path, (size_t)(last_part(path) - 1 - path),
				  s->name, vpath, sizeof(vpath)) == 0)
		rc = open_valid(t, s, vpath, err);
	return rc;
}

static int open_columns(pl_h5_table *t, const pl_hdf5_options *o, pl_error *err)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < o->ndatasets; i++)
		rc = pl_h5_add_dataset(t, o->datasets[i], NULL, err);
	return rc;
}

/* An array member's element count, or 0 when it is not a 1-D array. */
static unsigned array_width(hid_t type)
{
	hsize_t d = 0;
	if (H5Tget_array_ndims(type) != 1 || H5Tget_array_dims2(type, &d) < 0)
		return 0;
	return d > 0 && d <= 65536 ? (unsigned)d : 0;
}

/* The name of element j of k of field: the namer's, else "field_j". */
static int element_name(const char *field, unsigned j, unsigned k,
			pl_h5_namer namer, void *arg, char **name,
			pl_error *err)
{
	*name = NULL;
	if (k == 1 && namer == NULL)
		return (*name = strdup(field)) ? 0
					       : pl_error_nomem(err, "a name");
	int rc = namer ? namer(arg, field, j, k, name, err) : 0;
	if (rc != 0 || *name != NULL)
		return rc;
	size_t n = strlen(field) + 16;
	if ((*name = malloc(n)) == NULL)
		return pl_error_nomem(err, "a column name");
	snprintf(*name, n, k == 1 ? "%s" : "%s_%u", field, j);
	return 0;
}

/* Member m of the compound type: one column, or one per element of a 1-D
 * array member, all sharing the classified element type. */
static int open_field(pl_h5_table *t, hid_t type, unsigned m, const char *table,
		      pl_h5_namer namer, void *arg, pl_error *err)
{
	char *field = H5Tget_member_name(type, m);
	if (field == NULL)
		return h5_fail(err, PL_ERR_DATA, t->path, table,
			       "cannot read a field name");
	hid_t ft = H5Tget_member_type(type, m);
	int is_array = H5Tget_class(ft) == H5T_ARRAY;
	/* k is 0 for an array of more than one dimension: one source, which
	 * classify then refuses naming the array type. */
	unsigned k = is_array ? array_width(ft) : 1, n = k ? k : 1;
	hid_t vt = is_array ? H5Tget_super(ft) : H5Tcopy(ft);
	int rc = 0;
	for (unsigned j = 0; rc == 0 && j < n; j++) {
		char *name;
		rc = element_name(field, j, n, namer, arg, &name, err);
		pl_h5_src *s = rc == 0 ? add_src(t, name, table, err) : NULL;
		if (s == NULL) {
			rc = rc ? rc : PL_ERR_NOMEM;
			break;
		}
		s->dset = t->table;
		s->elem = j;
		s->width = is_array ? k : 1;
		s->array = is_array;
		if ((s->field = strdup(field)) == NULL)
			rc = pl_error_nomem(err, "a field name");
		else
			rc = classify(t, k ? vt : ft, &s->t, err);
		char vpath[1200];
		if (rc == 0 && !is_array &&
		    valid_path(table, (size_t)(last_part(table) - 1 - table),
			       s->name, vpath, sizeof(vpath)) == 0)
			rc = open_valid(t, s, vpath, err);
	}
	H5Tclose(vt);
	H5Tclose(ft);
	H5free_memory(field);
	return rc;
}

static int open_fields(pl_h5_table *t, const char *table, pl_h5_namer namer,
		       void *arg, pl_error *err)
{
	hid_t type = H5Dget_type(t->table);
	int rc = 0;
	if (H5Tget_class(type) != H5T_COMPOUND) {
		char what[256];
		pl_h5_describe(type, what, sizeof(what));
		rc = pl_error_set(err, PL_ERR_DATA,
				  "%s:%s: not a compound dataset (type %s); "
				  "use datasets = for one dataset per column",
				  t->path, table, what);
	}
	int n = rc == 0 ? H5Tget_nmembers(type) : 0;
	for (int k = 0; rc == 0 && k < n; k++)
		rc = open_field(t, type, (unsigned)k, table, namer, arg, err);
	H5Tclose(type);
	return rc;
}

int pl_h5_add_compound(pl_h5_table *t, const char *path, pl_h5_namer namer,
		       void *arg, pl_error *err)
{
	int rc = open_1d(t, path, 1, &t->table, &t->nrows, err);
	if (rc != 0)
		return rc;
	t->chunk = chunk_rows(t->table);
	return open_fields(t, path, namer, arg, err);
}

int pl_h5_add_2d(pl_h5_table *t, const char *path, char *const *names, size_t k,
		 pl_error *err)
{
	for (size_t j = 0; j < k; j++) {
		pl_h5_src *s = add_src(t, strdup(names[j]), path, err);
		if (s == NULL)
			return PL_ERR_NOMEM;
		hsize_t dims[2] = {0, 0};
		int rc = open_shaped(t, path, 0, 2, &s->dset, dims, err);
		if (rc == 0 && dims[1] != k)
			rc = pl_error_set(err, PL_ERR_DATA,
					  "%s:%s: %llu columns, but %zu names",
					  t->path, path,
					  (unsigned long long)dims[1], k);
		if (rc == 0 && t->n == 1)
			t->nrows = dims[0];
		if (rc == 0)
			rc = check_length(t, path, dims[0], err);
		hid_t type = rc == 0 ? H5Dget_type(s->dset) : H5I_INVALID_HID;
		if (rc == 0)
			rc = classify(t, type, &s->t, err);
		H5Tclose(type);
		if (rc != 0)
			return rc;
		s->elem = (unsigned)j;
		s->twod = 1;
	}
	return 0;
}

void pl_h5_blame(const pl_h5_table *t)
{
	pl_crash_cleanup_blame(
	    t ? t->path : NULL,
	    "the HDF5 library crashed reading this file; its "
	    "metadata is likely damaged");
}

static int table_open(const pl_hdf5_options *o, pl_h5_table *t, pl_error *err)
{
	t->file = t->table = H5I_INVALID_HID;
	size_t nd = o->dataset ? 1 : (o->ndatasets ? o->ndatasets : 1);
	t->cache_cap = CACHE_BYTES_MAX;
	if (o->cache_budget > 0 && o->cache_budget / nd < CACHE_BYTES_MAX)
		t->cache_cap = (size_t)(o->cache_budget / nd);
	pl_h5_quiet();
	int rc = open_file(t->path, &t->file, err);
	int pandas = 0;
	if (rc == 0 && o->dataset)
		rc = pl_h5_pandas_open(t, o->dataset, &pandas, err);
	if (rc == 0 && !pandas)
		rc = o->dataset
			 ? pl_h5_add_compound(t, o->dataset, NULL, NULL, err)
			 : open_columns(t, o, err);
	if (rc == 0)
		rc = pl_h5_table_times(o, t, err);
	return rc;
}

int pl_h5_table_open(const pl_hdf5_options *o, size_t file, pl_h5_table *t,
		     pl_error *err)
{
	memset(t, 0, sizeof(*t));
	t->path = o->paths[file];
	pl_h5_blame(t);
	int rc = table_open(o, t, err);
	if (rc != 0)
		pl_h5_table_close(t);
	pl_h5_blame(NULL);
	return rc;
}

void pl_h5_table_close(pl_h5_table *t)
{
	pl_h5_blame(t->path ? t : NULL);
	for (size_t i = 0; i < t->n; i++) {
		if (t->src[i].dset != t->table && t->src[i].dset > 0)
			H5Dclose(t->src[i].dset);
		if (t->src[i].valid > 0)
			H5Dclose(t->src[i].valid);
		pl_h5_type_free(&t->src[i].t);
		free(t->src[i].name);
		free(t->src[i].field);
		free(t->src[i].where);
	}
	free(t->src);
	if (t->table > 0)
		H5Dclose(t->table);
	if (t->file > 0)
		H5Fclose(t->file);
	memset(t, 0, sizeof(*t));
	t->file = t->table = H5I_INVALID_HID;
	pl_h5_blame(NULL);
}

void pl_h5_table_where(const pl_h5_table *t, size_t i, char *buf, size_t cap)
{
	const pl_h5_src *s = &t->src[i];
	int field = t->table >= 0 && s->dset == t->table;
	if (field && s->array)
		snprintf(buf, cap, "%s:%s, field '%s', element %u", t->path,
			 s->where, s->field, s->elem);
	else if (field)
		snprintf(buf, cap, "%s:%s, field '%s'", t->path, s->where,
			 s->field ? s->field : s->name);
	else if (s->twod)
		snprintf(buf, cap, "%s:%s, column %u", t->path, s->where,
			 s->elem);
	else
		snprintf(buf, cap, "%s:%s", t->path, s->where);
}

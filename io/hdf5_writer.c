/* The HDF5 sink. What a file we write holds, under `group`:
 *
 *   layout = columns: one 1-D dataset per column, named by the column.
 *   layout = compound: one 1-D dataset `table` of a packed compound type
 *   with one field per column, in schema order.
 *
 * Types: int64 -> H5T_STD_I64LE, float64 -> H5T_IEEE_F64LE, bool -> the
 * enum h5py makes for numpy's bool (int8, FALSE = 0, TRUE = 1), string ->
 * variable-length UTF-8 (h5py's str; a value ends at its first NUL byte).
 * Datasets are chunked (64Ki rows), extensible, and zstd-compressed with
 * the filter id 32015 when asked.
 *
 * NULLs: a column that has at least one NULL gets a uint8 dataset
 * "<column>__valid" beside its dataset (beside `table` for the compound
 * layout), 1 where the value is present and 0 where it is NULL. Its fill
 * value is 1, so it is created at the first NULL and rows before it need
 * no writing. The value stored for a NULL is 0, FALSE, the empty string,
 * or NaN for float64 (what a reader unaware of the scheme had best see).
 * The reader applies "<name>__valid" whenever it exists beside a column.
 *
 * Every dataset written carries the attributes "source" (the source's
 * description) and "job" (the job's name). The file is written under a
 * temporary name beside the target and renamed on commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/hdf5_types.h"
#include "io/hdf5_write_values.h"
#include "io/hdf5_writer.h"

#define CHUNK_ROWS 65536

struct pl_hdf5_writer {
	char *path;
	char *tmp; /* NULL once renamed or removed */
	int layout;
	int zstd_level;
	pl_schema schema;
	hid_t file, group;
	hid_t *dsets;  /* per column (columns layout), or [0] = table */
	hid_t *mtypes; /* memory type per column, or [0] = the row type */
	hid_t *valid;  /* per column: its NULLs dataset, or -1 */
	hsize_t rows;
};

static int h5_error(const pl_hdf5_writer *w, const char *what, const char *name,
		    pl_error *err)
{
	char why[256];
	pl_h5_last_error(why, sizeof(why));
	return pl_error_set(err, PL_ERR_IO, "%s: cannot %s%s%s: %s", w->path,
			    what, name ? " " : "", name ? name : "", why);
}

/* "DIR/.NAME.tmp-PID-XXXXXX" beside path, as the CSV writer does. */
static int create_temp(pl_hdf5_writer *w, pl_error *err)
{
	const char *slash = strrchr(w->path, '/');
	int dirlen = slash ? (int)(slash - w->path + 1) : 0;
	size_t cap = strlen(w->path) + 48;
	if ((w->tmp = malloc(cap)) == NULL)
		return pl_error_nomem(err, "the output file name");
	snprintf(w->tmp, cap, "%.*s.%s.tmp-%ld-XXXXXX", dirlen, w->path,
		 w->path + dirlen, (long)getpid());
	int fd = mkstemp(w->tmp);
	if (fd < 0) {
		free(w->tmp);
		w->tmp = NULL;
		return pl_error_set(err, PL_ERR_IO,
				    "%s: cannot create the output file: %s",
				    w->path, strerror(errno));
	}
	/* mkstemp makes the file 0600; the output gets 0666 & ~umask. */
	mode_t mask = umask(0);
	umask(mask);
	int rc = fchmod(fd, 0666 & ~mask);
	close(fd);
	if (rc != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", w->path,
				    strerror(errno));
	w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	return w->file < 0 ? h5_error(w, "create the output file", NULL, err)
			   : 0;
}

static int open_group(pl_hdf5_writer *w, const char *group, pl_error *err)
{
	if (group == NULL || strcmp(group, "/") == 0 || *group == '\0') {
		w->group = H5Gopen2(w->file, "/", H5P_DEFAULT);
		return w->group < 0 ? h5_error(w, "open group", "/", err) : 0;
	}
	hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
	if (lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0)
		w->group =
		    H5Gcreate2(w->file, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
	hid_t es = pl_h5_error_keep();
	H5Pclose(lcpl);
	pl_h5_error_restore(es);
	return w->group < 0 ? h5_error(w, "create group", group, err) : 0;
}

/* Chunked, extensible, optionally zstd; fill is the fill value or NULL. */
static hid_t create_dataset(pl_hdf5_writer *w, const char *name, hid_t type,
			    hsize_t rows, const uint8_t *fill)
{
	hsize_t dim = rows, max = H5S_UNLIMITED, chunk = CHUNK_ROWS;
	hid_t space = H5Screate_simple(1, &dim, &max);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	hid_t d = H5I_INVALID_HID;
	int ok = space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0;
	if (ok && w->zstd_level > 0) {
		/* HDF5 refuses a mandatory filter on a dataset of
		 * variable-length strings (only their heap ids would be
		 * filtered); there it is optional. */
		unsigned level = (unsigned)w->zstd_level;
		unsigned flags = H5Tis_variable_str(type) > 0
				     ? H5Z_FLAG_OPTIONAL
				     : H5Z_FLAG_MANDATORY;
		ok = H5Pset_filter(dcpl, 32015, flags, 1, &level) >= 0;
	}
	if (ok && fill != NULL)
		ok = H5Pset_fill_value(dcpl, H5T_NATIVE_UINT8, fill) >= 0;
	if (ok)
		d = H5Dcreate2(w->group, name, type, space, H5P_DEFAULT, dcpl,
			       H5P_DEFAULT);
	hid_t es = pl_h5_error_keep();
	H5Pclose(dcpl);
	H5Sclose(space);
	pl_h5_error_restore(es);
	return d;
}

static int put_attr(hid_t obj, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	hid_t type = pl_h5_vstr_type();
	hid_t space = H5Screate(H5S_SCALAR);
	hid_t a = type >= 0 && space >= 0 ? H5Acreate2(obj, name, type, space,
						       H5P_DEFAULT, H5P_DEFAULT)
					  : H5I_INVALID_HID;
	int rc = a >= 0 && H5Awrite(a, type, &value) >= 0 ? 0 : -1;
	hid_t es = pl_h5_error_keep();
	H5Aclose(a);
	H5Sclose(space);
	H5Tclose(type);
	pl_h5_error_restore(es);
	return rc;
}

static int label(pl_hdf5_writer *w, hid_t d, const char *name,
		 const pl_hdf5_sink_options *o, pl_error *err)
{
	if (put_attr(d, "source", o->source_desc) != 0 ||
	    put_attr(d, "job", o->job_name) != 0)
		return h5_error(w, "write the attributes of", name, err);
	return 0;
}

/* A column name becomes a link name: no '/', not "." nor empty. */
static int check_name(const pl_hdf5_writer *w, const char *name, pl_error *err)
{
	if (*name != '\0' && strchr(name, '/') == NULL &&
	    strcmp(name, ".") != 0)
		return 0;
	return pl_error_set(err, PL_ERR_DATA,
			    "%s: column name '%s' cannot name an HDF5 "
			    "dataset",
			    w->path, name);
}

static int create_columns(pl_hdf5_writer *w, const pl_hdf5_sink_options *o,
			  pl_error *err)
{
	for (size_t i = 0; i < w->schema.n; i++) {
		const pl_field *f = &w->schema.fields[i];
		int rc = check_name(w, f->name, err);
		if (rc != 0)
			return rc;
		hid_t ft = pl_h5_file_type(f->type);
		w->mtypes[i] = pl_h5_write_type(f->type);
		if (ft >= 0 && w->mtypes[i] >= 0)
			w->dsets[i] = create_dataset(w, f->name, ft, 0, NULL);
		hid_t es = pl_h5_error_keep();
		H5Tclose(ft);
		pl_h5_error_restore(es);
		if (w->dsets[i] < 0)
			return h5_error(w, "create dataset", f->name, err);
		if ((rc = label(w, w->dsets[i], f->name, o, err)) != 0)
			return rc;
	}
	return 0;
}

static int create_compound(pl_hdf5_writer *w, const pl_hdf5_sink_options *o,
			   pl_error *err)
{
	hid_t ft = pl_h5_row_file_type(&w->schema);
	w->mtypes[0] = pl_h5_row_mem_type(&w->schema);
	if (ft >= 0 && w->mtypes[0] >= 0)
		w->dsets[0] = create_dataset(w, "table", ft, 0, NULL);
	hid_t es = pl_h5_error_keep();
	H5Tclose(ft);
	pl_h5_error_restore(es);
	if (w->dsets[0] < 0)
		return h5_error(w, "create dataset", "table", err);
	return label(w, w->dsets[0], "table", o, err);
}

static int alloc_ids(pl_hdf5_writer *w, pl_error *err)
{
	size_t n = w->schema.n ? w->schema.n : 1;
	w->dsets = malloc(n * sizeof(hid_t));
	w->mtypes = malloc(n * sizeof(hid_t));
	w->valid = malloc(n * sizeof(hid_t));
	if (w->dsets == NULL || w->mtypes == NULL || w->valid == NULL)
		return pl_error_nomem(err, "an hdf5 writer");
	for (size_t i = 0; i < n; i++)
		w->dsets[i] = w->mtypes[i] = w->valid[i] = H5I_INVALID_HID;
	return 0;
}

static int start(pl_hdf5_writer *w, const pl_hdf5_sink_options *o,
		 const pl_schema *s, pl_error *err)
{
	int rc = pl_hdf5_register_zstd(err);
	if (rc == 0)
		rc = pl_schema_copy(&w->schema, s, err);
	if (rc == 0 && (w->path = strdup(o->path)) == NULL)
		rc = pl_error_nomem(err, "the output path");
	if (rc == 0)
		rc = alloc_ids(w, err);
	if (rc == 0)
		rc = create_temp(w, err);
	if (rc == 0)
		rc = open_group(w, o->group, err);
	if (rc == 0)
		rc = w->layout == PL_HDF5_COMPOUND ? create_compound(w, o, err)
						   : create_columns(w, o, err);
	return rc;
}

int pl_hdf5_writer_open(const pl_hdf5_sink_options *o, const pl_schema *s,
			pl_hdf5_writer **out, pl_error *err)
{
	*out = NULL;
	pl_hdf5_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return pl_error_nomem(err, "an hdf5 writer");
	pl_schema_init(&w->schema);
	w->file = w->group = H5I_INVALID_HID;
	w->layout = o->layout;
	w->zstd_level = o->zstd_level;
	int rc = start(w, o, s, err);
	if (rc != 0) {
		pl_hdf5_writer_abort(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Writes n rows from buf at rows [first, first + n), growing d first. */
static int write_rows(hid_t d, hid_t mtype, hsize_t first, hsize_t n,
		      const void *buf)
{
	hsize_t size = first + n;
	if (H5Dset_extent(d, &size) < 0)
		return -1;
	hid_t fs = H5Dget_space(d);
	hid_t ms = H5Screate_simple(1, &n, NULL);
	int rc = fs >= 0 && ms >= 0 &&
			 H5Sselect_hyperslab(fs, H5S_SELECT_SET, &first, NULL,
					     &n, NULL) >= 0 &&
			 H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf) >= 0
		     ? 0
		     : -1;
	hid_t es = pl_h5_error_keep();
	H5Sclose(fs);
	H5Sclose(ms);
	pl_h5_error_restore(es);
	return rc;
}

static const char *valid_name(const pl_hdf5_writer *w, size_t i, char *buf,
			      size_t cap)
{
	snprintf(buf, cap, "%s" PL_H5_VALID_SUFFIX, w->schema.fields[i].name);
	return buf;
}

static int has_null(const pl_column *c, size_t n)
{
	for (size_t k = 0; c->valid != NULL && k < n; k++)
		if (!pl_bit_get(c->valid, k))
			return 1;
	return 0;
}

/* Records a batch's NULLs of column i; the dataset appears at the first
 * NULL, and rows written without NULLs read as its fill value 1. */
static int write_valid(pl_hdf5_writer *w, size_t i, const pl_column *c,
		       size_t n, pl_error *err)
{
	if (!has_null(c, n))
		return 0;
	char name[600];
	valid_name(w, i, name, sizeof(name));
	if (w->valid[i] < 0) {
		const uint8_t one = 1;
		w->valid[i] =
		    create_dataset(w, name, H5T_STD_U8LE, w->rows, &one);
		if (w->valid[i] < 0)
			return h5_error(w, "create dataset", name, err);
	}
	uint8_t *v = malloc(n);
	if (v == NULL)
		return pl_error_nomem(err, "an hdf5 NULLs buffer");
	for (size_t k = 0; k < n; k++)
		v[k] = pl_bit_get(c->valid, k);
	int rc = write_rows(w->valid[i], H5T_NATIVE_UINT8, w->rows, n, v);
	free(v);
	return rc < 0 ? h5_error(w, "write dataset", name, err) : 0;
}

static int write_columns(pl_hdf5_writer *w, const pl_batch *b, pl_error *err)
{
	for (size_t i = 0; i < w->schema.n; i++) {
		pl_h5_values v;
		int rc = pl_h5_values_make(&b->cols[i], b->nrows, &v, err);
		if (rc != 0)
			return rc;
		rc = write_rows(w->dsets[i], w->mtypes[i], w->rows, b->nrows,
				v.buf);
		pl_h5_values_free(&v);
		if (rc < 0)
			return h5_error(w, "write dataset",
					w->schema.fields[i].name, err);
	}
	return 0;
}

static int write_compound(pl_hdf5_writer *w, const pl_batch *b, pl_error *err)
{
	pl_h5_rows r;
	int rc = pl_h5_rows_make(b, &r, err);
	if (rc != 0)
		return rc;
	rc = write_rows(w->dsets[0], w->mtypes[0], w->rows, b->nrows, r.buf);
	pl_h5_rows_free(&r);
	return rc < 0 ? h5_error(w, "write dataset", "table", err) : 0;
}

int pl_hdf5_writer_write(pl_hdf5_writer *w, const pl_batch *b, pl_error *err)
{
	if (b->nrows == 0)
		return 0;
	if (b->ncols != w->schema.n)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s: a batch of %zu columns for %zu",
				    w->path, b->ncols, w->schema.n);
	int rc = w->layout == PL_HDF5_COMPOUND ? write_compound(w, b, err)
					       : write_columns(w, b, err);
	for (size_t i = 0; rc == 0 && i < w->schema.n; i++)
		rc = write_valid(w, i, &b->cols[i], b->nrows, err);
	if (rc == 0)
		w->rows += b->nrows;
	return rc;
}

/* NULLs datasets lag behind after batches without NULLs. */
static int finish_valid(pl_hdf5_writer *w, pl_error *err)
{
	for (size_t i = 0; i < w->schema.n; i++) {
		if (w->valid[i] < 0 ||
		    H5Dset_extent(w->valid[i], &w->rows) >= 0)
			continue;
		char name[600];
		return h5_error(w, "extend dataset",
				valid_name(w, i, name, sizeof(name)), err);
	}
	return 0;
}

/* Closes every HDF5 object; returns -1 when closing the file failed
 * (which is when HDF5 flushes, so data may not be on disk). */
static int close_all(pl_hdf5_writer *w)
{
	size_t n = w->dsets ? (w->schema.n ? w->schema.n : 1) : 0;
	for (size_t i = 0; i < n; i++) {
		if (w->dsets[i] >= 0)
			H5Dclose(w->dsets[i]);
		if (w->mtypes[i] >= 0)
			H5Tclose(w->mtypes[i]);
		if (w->valid[i] >= 0)
			H5Dclose(w->valid[i]);
	}
	if (w->group >= 0)
		H5Gclose(w->group);
	int rc = w->file >= 0 && H5Fclose(w->file) < 0 ? -1 : 0;
	w->file = w->group = H5I_INVALID_HID;
	free(w->dsets);
	free(w->mtypes);
	free(w->valid);
	w->dsets = w->mtypes = w->valid = NULL;
	return rc;
}

int pl_hdf5_writer_commit(pl_hdf5_writer *w, pl_error *err)
{
	int rc = finish_valid(w, err);
	if (close_all(w) != 0 && rc == 0)
		rc = h5_error(w, "finish the output file", NULL, err);
	if (rc == 0 && rename(w->tmp, w->path) != 0)
		rc = pl_error_set(err, PL_ERR_IO,
				  "%s: cannot rename the finished output into "
				  "place: %s",
				  w->path, strerror(errno));
	if (rc == 0) {
		free(w->tmp);
		w->tmp = NULL;
	}
	pl_hdf5_writer_abort(w);
	return rc;
}

void pl_hdf5_writer_abort(pl_hdf5_writer *w)
{
	if (w == NULL)
		return;
	close_all(w);
	if (w->tmp != NULL)
		unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	pl_schema_free(&w->schema);
	free(w);
}

/* The HDF5 sink. What a file we write holds, under `group`:
 *
 *   layout = columns: one 1-D dataset per column, named by the column.
 *   layout = compound: one 1-D dataset `table` of a packed compound type
 *   with one field per column, in schema order.
 *
 * Types: int64 -> H5T_STD_I64LE, float64 -> H5T_IEEE_F64LE, bool -> the
 * enum h5py makes for numpy's bool (int8, FALSE = 0, TRUE = 1), string ->
 * fixed-length UTF-8, NUL-padded, as wide as the longest value (a value
 * ends at its first NUL byte). Fixed-length because parallel HDF5 cannot
 * write variable-length data, and because the zstd filter then compresses
 * the characters too (a variable-length string's bytes live in the heap,
 * outside the chunks). Datasets are chunked, extensible, and
 * zstd-compressed with the filter id 32015 when asked.
 *
 * NULLs: a column that has at least one NULL gets a uint8 dataset
 * "<column>__valid" beside its dataset (beside `table` for the compound
 * layout), 1 where the value is present and 0 where it is NULL. The value
 * stored for a NULL is 0, FALSE, the empty string, or NaN for float64
 * (what a reader unaware of the scheme had best see). The reader applies
 * "<name>__valid" whenever it exists beside a column.
 *
 * Every column's dataset carries the attributes "source" (the source's
 * description) and "job" (the job's name).
 *
 * In parallel (HDF5 >= 1.10.2 for filters with collective writes) every
 * rank makes the same metadata calls, and writes its own row range with
 * collective transfer; ranks may share a chunk, which HDF5's filtered
 * collective I/O settles by giving each chunk one owner rank. */
#include <stdlib.h>
#include <string.h>

#include "io/hdf5_time.h"
#include "io/hdf5_types.h"
#include "io/hdf5_write_values.h"
#include "io/hdf5_writer.h"

#define CHUNK_ROWS 65536
#define CHUNK_BYTES_MAX ((size_t)4 << 20)

struct pl_hdf5_writer {
	const char *path; /* borrowed from the options */
	int layout;
	int zstd_level;
	int parallel;
	pl_schema schema;
	size_t *width; /* per column: string width */
	hid_t file, group, dxpl;
	hid_t *dsets;  /* per column (columns layout), or [0] = table */
	hid_t *mtypes; /* memory type per column, or [0] = the row type */
	hid_t *valid;  /* per column: its NULLs dataset, or -1 */
};

int pl_hdf5_shape_init(pl_hdf5_shape *sh, const pl_schema *s, pl_error *err)
{
	memset(sh, 0, sizeof(*sh));
	size_t n = s->n ? s->n : 1;
	sh->width = calloc(n, sizeof(*sh->width));
	sh->nulls = calloc(n, sizeof(*sh->nulls));
	if (sh->width == NULL || sh->nulls == NULL) {
		pl_hdf5_shape_free(sh);
		return pl_error_nomem(err, "an hdf5 output shape");
	}
	sh->n = s->n;
	return 0;
}

void pl_hdf5_shape_add(pl_hdf5_shape *sh, const pl_batch *b)
{
	for (size_t i = 0; i < sh->n && i < b->ncols; i++) {
		const pl_column *c = &b->cols[i];
		for (size_t k = 0; c->valid != NULL && k < b->nrows; k++)
			if (!pl_bit_get(c->valid, k)) {
				sh->nulls[i] = 1;
				break;
			}
		for (size_t k = 0; c->type == PL_STRING && k < b->nrows; k++) {
			size_t len;
			const char *s = pl_col_str(c, k, &len);
			len = pl_h5_str_len(s, len);
			if (len > sh->width[i])
				sh->width[i] = len;
		}
	}
	sh->rows += b->nrows;
}

void pl_hdf5_shape_free(pl_hdf5_shape *sh)
{
	free(sh->width);
	free(sh->nulls);
	memset(sh, 0, sizeof(*sh));
}

static int h5_error(const pl_hdf5_writer *w, const char *what, const char *name,
		    pl_error *err)
{
	char why[256];
	pl_h5_last_error(why, sizeof(why));
	return pl_error_set(err, PL_ERR_IO, "%s: cannot %s%s%s: %s", w->path,
			    what, name ? " " : "", name ? name : "", why);
}

static int create_file(pl_hdf5_writer *w, const char *file, MPI_Comm comm,
		       pl_error *err)
{
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	int ok = fapl >= 0;
	/* Metadata written and read collectively: one rank touches the
	 * disk for what every rank would otherwise do alike. */
	if (ok && w->parallel)
		ok = H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) >= 0 &&
		     H5Pset_all_coll_metadata_ops(fapl, 1) >= 0 &&
		     H5Pset_coll_metadata_write(fapl, 1) >= 0;
	if (ok)
		w->file = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
	w->dxpl = H5Pcreate(H5P_DATASET_XFER);
	if (w->dxpl >= 0 && w->parallel &&
	    H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
		H5Pclose(w->dxpl);
		w->dxpl = H5I_INVALID_HID;
	}
	hid_t es = pl_h5_error_keep();
	H5Pclose(fapl);
	pl_h5_error_restore(es);
	if (w->file < 0)
		return h5_error(w, "create the output file", NULL, err);
	return w->dxpl < 0 ? h5_error(w, "set up the transfer", NULL, err) : 0;
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

/* Chunks of 64Ki rows, fewer for wide rows so that a chunk (which HDF5
 * holds whole in memory to filter it) stays within a few MB. */
static hsize_t chunk_rows(hid_t type)
{
	size_t size = H5Tget_size(type);
	if (size == 0 || size * CHUNK_ROWS <= CHUNK_BYTES_MAX)
		return CHUNK_ROWS;
	size_t rows = CHUNK_BYTES_MAX / size;
	return rows ? rows : 1;
}

/* Chunked, extensible, of rows rows, optionally zstd. */
static hid_t create_dataset(pl_hdf5_writer *w, const char *name, hid_t type,
			    hsize_t rows)
{
	hsize_t dim = rows, max = H5S_UNLIMITED, chunk = chunk_rows(type);
	hid_t space = H5Screate_simple(1, &dim, &max);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	hid_t d = H5I_INVALID_HID;
	int ok = space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0;
	if (ok && w->zstd_level > 0) {
		unsigned level = (unsigned)w->zstd_level;
		ok = H5Pset_filter(dcpl, 32015, H5Z_FLAG_MANDATORY, 1,
				   &level) >= 0;
	}
	/* Every row is written, so filling chunks first would be wasted
	 * work (and in parallel, a compressed write of each chunk). */
	if (ok)
		ok = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0;
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

static const char *valid_name(const pl_hdf5_writer *w, size_t i, char *buf,
			      size_t cap)
{
	snprintf(buf, cap, "%s" PL_H5_VALID_SUFFIX, w->schema.fields[i].name);
	return buf;
}

static int create_valid(pl_hdf5_writer *w, const pl_hdf5_shape *sh,
			pl_error *err)
{
	for (size_t i = 0; i < w->schema.n; i++) {
		if (!sh->nulls[i])
			continue;
		char name[600];
		valid_name(w, i, name, sizeof(name));
		w->valid[i] = create_dataset(w, name, H5T_STD_U8LE, sh->rows);
		if (w->valid[i] < 0)
			return h5_error(w, "create dataset", name, err);
	}
	return 0;
}

static int create_columns(pl_hdf5_writer *w, const pl_hdf5_sink_options *o,
			  hsize_t rows, pl_error *err)
{
	for (size_t i = 0; i < w->schema.n; i++) {
		const pl_field *f = &w->schema.fields[i];
		int rc = check_name(w, f->name, err);
		if (rc != 0)
			return rc;
		hid_t ft = pl_h5_file_type(f->type, w->width[i]);
		w->mtypes[i] = pl_h5_write_type(f->type, w->width[i]);
		if (ft >= 0 && w->mtypes[i] >= 0)
			w->dsets[i] = create_dataset(w, f->name, ft, rows);
		hid_t es = pl_h5_error_keep();
		H5Tclose(ft);
		pl_h5_error_restore(es);
		if (w->dsets[i] < 0)
			return h5_error(w, "create dataset", f->name, err);
		if ((rc = label(w, w->dsets[i], f->name, o, err)) != 0)
			return rc;
		if (put_attr(w->dsets[i], "units", pl_h5_time_units(f->type)))
			return h5_error(w, "write the attributes of", f->name,
					err);
	}
	return 0;
}

static int create_compound(pl_hdf5_writer *w, const pl_hdf5_sink_options *o,
			   hsize_t rows, pl_error *err)
{
	hid_t ft = pl_h5_row_file_type(&w->schema, w->width);
	w->mtypes[0] = pl_h5_row_mem_type(&w->schema, w->width);
	if (ft >= 0 && w->mtypes[0] >= 0)
		w->dsets[0] = create_dataset(w, "table", ft, rows);
	hid_t es = pl_h5_error_keep();
	H5Tclose(ft);
	pl_h5_error_restore(es);
	if (w->dsets[0] < 0)
		return h5_error(w, "create dataset", "table", err);
	return label(w, w->dsets[0], "table", o, err);
}

static int alloc_ids(pl_hdf5_writer *w, const pl_hdf5_shape *sh, pl_error *err)
{
	size_t n = w->schema.n ? w->schema.n : 1;
	w->dsets = malloc(n * sizeof(hid_t));
	w->mtypes = malloc(n * sizeof(hid_t));
	w->valid = malloc(n * sizeof(hid_t));
	w->width = calloc(n, sizeof(size_t));
	if (w->dsets == NULL || w->mtypes == NULL || w->valid == NULL ||
	    w->width == NULL)
		return pl_error_nomem(err, "an hdf5 writer");
	for (size_t i = 0; i < n; i++)
		w->dsets[i] = w->mtypes[i] = w->valid[i] = H5I_INVALID_HID;
	for (size_t i = 0; i < w->schema.n; i++) {
		if (sh->width[i] > SIZE_MAX / CHUNK_ROWS)
			return pl_error_set(err, PL_ERR_DATA,
					    "%s: column '%s' has a string of "
					    "%llu bytes, too long for HDF5",
					    w->path, w->schema.fields[i].name,
					    (unsigned long long)sh->width[i]);
		w->width[i] = (size_t)sh->width[i];
	}
	return 0;
}

static int start(pl_hdf5_writer *w, const pl_hdf5_sink_options *o,
		 const char *file, const pl_hdf5_shape *sh, MPI_Comm comm,
		 pl_error *err)
{
	int rc = pl_hdf5_register_zstd(err);
	if (rc == 0)
		rc = alloc_ids(w, sh, err);
	/* Creating the file is collective: a rank that failed on its own
	 * must not leave the others waiting in it. */
	int worst = rc;
	if (w->parallel)
		MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm);
	if (rc == 0 && worst != 0) {
		rc = pl_error_set(err, worst,
				  "%s: another rank failed to set up the "
				  "output",
				  w->path);
		err->elsewhere = 1;
	}
	if (rc == 0)
		rc = create_file(w, file, comm, err);
	if (rc == 0)
		rc = open_group(w, o->group, err);
	if (rc == 0)
		rc = w->layout == PL_HDF5_COMPOUND
			 ? create_compound(w, o, sh->rows, err)
			 : create_columns(w, o, sh->rows, err);
	if (rc == 0)
		rc = create_valid(w, sh, err);
	return rc;
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
	if (w->dxpl >= 0)
		H5Pclose(w->dxpl);
	int rc = w->file >= 0 && H5Fclose(w->file) < 0 ? -1 : 0;
	w->file = w->group = w->dxpl = H5I_INVALID_HID;
	return rc;
}

static void free_writer(pl_hdf5_writer *w)
{
	free(w->dsets);
	free(w->mtypes);
	free(w->valid);
	free(w->width);
	pl_schema_free(&w->schema);
	free(w);
}

int pl_hdf5_writer_open(const pl_hdf5_sink_options *o, const char *file,
			const pl_schema *s, const pl_hdf5_shape *sh,
			MPI_Comm comm, pl_hdf5_writer **out, pl_error *err)
{
	*out = NULL;
	pl_hdf5_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return pl_error_nomem(err, "an hdf5 writer");
	pl_schema_init(&w->schema);
	w->file = w->group = w->dxpl = H5I_INVALID_HID;
	w->path = o->path;
	w->layout = o->layout;
	w->zstd_level = o->zstd_level;
	w->parallel = comm != MPI_COMM_NULL;
	int rc = pl_schema_copy(&w->schema, s, err);
	if (rc == 0)
		rc = start(w, o, file, sh, comm, err);
	if (rc != 0) {
		hid_t es = pl_h5_error_keep();
		close_all(w);
		pl_h5_error_restore(es);
		free_writer(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Writes n rows from buf at rows [first, first + n); n 0 takes part in a
 * collective write with an empty selection. */
static int write_rows(const pl_hdf5_writer *w, hid_t d, hid_t mtype,
		      hsize_t first, hsize_t n, const void *buf)
{
	static const char none = 0; /* HDF5 wants a buffer even for nothing */
	hsize_t one = 1;
	hid_t fs = H5Dget_space(d);
	hid_t ms = H5Screate_simple(1, n ? &n : &one, NULL);
	int ok = fs >= 0 && ms >= 0;
	if (ok && n > 0)
		ok = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &first, NULL, &n,
					 NULL) >= 0;
	else if (ok)
		ok = H5Sselect_none(fs) >= 0 && H5Sselect_none(ms) >= 0;
	if (ok)
		ok = H5Dwrite(d, mtype, ms, fs, w->dxpl, n ? buf : &none) >= 0;
	hid_t es = pl_h5_error_keep();
	H5Sclose(fs);
	H5Sclose(ms);
	pl_h5_error_restore(es);
	return ok ? 0 : -1;
}

/* In parallel every rank must reach every collective write: after a
 * failure of its own (memory), a rank goes on with empty selections and
 * reports the failure afterwards. */
static int write_valid(pl_hdf5_writer *w, uint64_t first, const pl_batch *b,
		       int rc, pl_error *err)
{
	size_t n = b ? b->nrows : 0;
	uint8_t *v = malloc(n ? n : 1);
	if (v == NULL && rc == 0)
		rc = pl_error_nomem(err, "an hdf5 NULLs buffer");
	if (rc != 0)
		n = 0;
	for (size_t i = 0; i < w->schema.n; i++) {
		if (w->valid[i] < 0)
			continue;
		const pl_column *c = n ? &b->cols[i] : NULL;
		for (size_t k = 0; k < n; k++)
			v[k] = c->valid == NULL || pl_bit_get(c->valid, k);
		if (write_rows(w, w->valid[i], H5T_NATIVE_UINT8, first, n, v) <
			0 &&
		    rc == 0) {
			char name[600];
			rc =
			    h5_error(w, "write dataset",
				     valid_name(w, i, name, sizeof(name)), err);
			n = 0;
		}
	}
	free(v);
	return rc;
}

static int write_columns(pl_hdf5_writer *w, uint64_t first, const pl_batch *b,
			 pl_error *err)
{
	size_t n = b ? b->nrows : 0;
	int rc = 0;
	for (size_t i = 0; i < w->schema.n; i++) {
		pl_h5_values v = {NULL, NULL};
		if (n > 0 && (rc = pl_h5_values_make(
				  &b->cols[i], n, w->width[i], &v, err)) != 0)
			n = 0;
		if (write_rows(w, w->dsets[i], w->mtypes[i], first, n, v.buf) <
			0 &&
		    rc == 0) {
			rc = h5_error(w, "write dataset",
				      w->schema.fields[i].name, err);
			n = 0;
		}
		pl_h5_values_free(&v);
	}
	return rc;
}

static int write_compound(pl_hdf5_writer *w, uint64_t first, const pl_batch *b,
			  pl_error *err)
{
	size_t n = b ? b->nrows : 0;
	void *rows = NULL;
	int rc = n ? pl_h5_rows_make(b, w->width, &rows, err) : 0;
	if (rc != 0)
		n = 0;
	if (write_rows(w, w->dsets[0], w->mtypes[0], first, n, rows) < 0 &&
	    rc == 0)
		rc = h5_error(w, "write dataset", "table", err);
	free(rows);
	return rc;
}

int pl_hdf5_writer_write(pl_hdf5_writer *w, uint64_t first, const pl_batch *b,
			 pl_error *err)
{
	int rc = 0;
	if (b != NULL && b->ncols != w->schema.n)
		rc = pl_error_set(err, PL_ERR_INTERNAL,
				  "%s: a batch of %zu columns for %zu", w->path,
				  b->ncols, w->schema.n);
	if (rc != 0 || (b != NULL && b->nrows == 0))
		b = NULL;
	int wrc = w->layout == PL_HDF5_COMPOUND
		      ? write_compound(w, first, b, err)
		      : write_columns(w, first, b, err);
	if (rc == 0 && wrc != 0) {
		rc = wrc;
		b = NULL;
	}
	return write_valid(w, first, b, rc, err);
}

void pl_hdf5_writer_abandon(pl_hdf5_writer *w)
{
	if (w == NULL)
		return;
	/* Closing a parallel file is collective and flushes; after a failed
	 * write the ranks' caches differ and the close waits forever. The
	 * handles are left to the process's end (HDF5's exit handler is off,
	 * see pl_h5_quiet) and the caller removes the file. */
	if (!w->parallel)
		close_all(w);
	free_writer(w);
}

int pl_hdf5_writer_close(pl_hdf5_writer *w, pl_error *err)
{
	if (w == NULL)
		return 0;
	int rc = close_all(w) != 0
		     ? h5_error(w, "finish the output file", NULL, err)
		     : 0;
	free_writer(w);
	return rc;
}

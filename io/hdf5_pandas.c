/* See hdf5_pandas.h. The layouts were read off files pandas 1.5 and
 * PyTables 3.7 wrote (tests/e2e/test_hdf5.sh makes them). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/hdf5_pandas.h"
#include "io/hdf5_time.h"

#define MAX_NAMES 100000

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* A fixed-length string attribute of object obj, read as stored (no
 * conversion, so a value that fills its width keeps its last byte), or
 * NULL when there is none. */
static char *str_attr(hid_t file, const char *obj, const char *name)
{
	if (H5Aexists_by_name(file, obj, name, H5P_DEFAULT) <= 0)
		return NULL;
	hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
	hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
	char *s = NULL;
	if (ft >= 0 && H5Tget_class(ft) == H5T_STRING &&
	    H5Tis_variable_str(ft) == 0) {
		size_t n = H5Tget_size(ft);
		s = calloc(n + 1, 1);
		if (s != NULL && H5Aread(a, ft, s) < 0) {
			free(s);
			s = NULL;
		}
	}
	if (ft >= 0)
		H5Tclose(ft);
	if (a >= 0)
		H5Aclose(a);
	return s;
}

static int int_attr(hid_t file, const char *obj, const char *name, int64_t *out)
{
	if (H5Aexists_by_name(file, obj, name, H5P_DEFAULT) <= 0)
		return -1;
	hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
	int rc = a >= 0 ? H5Aread(a, H5T_NATIVE_INT64, out) : -1;
	if (a >= 0)
		H5Aclose(a);
	return rc < 0 ? -1 : 0;
}

static void put_utf8(char *out, size_t *n, uint32_t c)
{
	if (c < 0x80) {
		out[(*n)++] = (char)c;
	} else if (c < 0x800) {
		out[(*n)++] = (char)(0xc0 | c >> 6);
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		out[(*n)++] = (char)(0xe0 | c >> 12);
		out[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | c >> 18);
		out[(*n)++] = (char)(0x80 | ((c >> 12) & 0x3f));
		out[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	}
}

static int hex_value(const char *p, size_t digits, uint32_t *out)
{
	uint32_t v = 0;
	for (size_t i = 0; i < digits; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + (uint32_t)d;
	}
	*out = v;
	return v <= 0x10ffff && (v < 0xd800 || v > 0xdfff) ? 0 : -1;
}

/* A UNICODE opcode's argument: raw-unicode-escape, so bytes are Latin-1
 * code points and \uXXXX / \UXXXXXXXX escape the others. */
static char *unicode_arg(const char *p, size_t len)
{
	char *out = malloc(4 * len + 1);
	size_t n = 0;
	for (size_t i = 0; out != NULL && i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		size_t digits = 0;
		if (c == '\\' && i + 1 < len)
			digits = p[i + 1] == 'u' ? 4 : p[i + 1] == 'U' ? 8 : 0;
		uint32_t cp = c;
		if (digits > 0) {
			if (i + 2 + digits > len ||
			    hex_value(p + i + 2, digits, &cp) != 0) {
				free(out);
				return NULL;
			}
			i += 1 + digits;
		}
		put_utf8(out, &n, cp);
	}
	if (out != NULL)
		out[n] = '\0';
	return out;
}

/* A STRING opcode's argument: Python's repr of a byte string in single
 * or double quotes; only plain printable text is taken. */
static char *string_arg(const char *p, size_t len)
{
	if (len < 2 || (p[0] != '\'' && p[0] != '"') || p[len - 1] != p[0])
		return NULL;
	for (size_t i = 1; i + 1 < len; i++)
		if (p[i] == '\\' || (unsigned char)p[i] < 0x20 ||
		    (unsigned char)p[i] >= 0x7f)
			return NULL;
	char *out = malloc(len - 1);
	if (out != NULL) {
		memcpy(out, p + 1, len - 2);
		out[len - 2] = '\0';
	}
	return out;
}

static int all_digits(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((p[i] < '0' || p[i] > '9') && !(i == 0 && p[i] == '-'))
			return 0;
	return 1;
}

static int push_name(char ***names, size_t *n, char *s)
{
	if (s == NULL || *n >= MAX_NAMES) {
		free(s);
		return -1;
	}
	char **p = realloc(*names, (*n + 1) * sizeof(*p));
	if (p == NULL) {
		free(s);
		return -1;
	}
	p[(*n)++] = s;
	*names = p;
	return 0;
}

int pl_h5_pickle_names(const char *p, size_t len, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	size_t i = 0;
	while (i < len) {
		char op = p[i++];
		if (op == '.')
			return i == len ? 0 : (names_free(*names, *n), -1);
		if (op == '(' || op == 'l' || op == 'a' || op == 't' ||
		    op == 'e')
			continue;
		const char *nl = memchr(p + i, '\n', len - i);
		if (nl == NULL)
			break;
		size_t alen = (size_t)(nl - (p + i));
		const char *arg = p + i;
		i += alen + 1;
		if ((op == 'p' || op == 'g' || op == 'I') &&
		    all_digits(arg, alen))
			continue;
		if (op == 'V' &&
		    push_name(names, n, unicode_arg(arg, alen)) == 0)
			continue;
		if (op == 'S' &&
		    push_name(names, n, string_arg(arg, alen)) == 0)
			continue;
		break;
	}
	names_free(*names, *n);
	*names = NULL;
	*n = 0;
	return -1;
}

/* The names pickled in attribute attr of obj; -1 when absent or not of
 * the grammar pl_h5_pickle_names reads. */
static int pickled_names(hid_t file, const char *obj, const char *attr,
			 char ***names, size_t *n)
{
	char *text = str_attr(file, obj, attr);
	int rc = text ? pl_h5_pickle_names(text, strlen(text), names, n) : -1;
	free(text);
	return rc;
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);
	if (s != NULL)
		snprintf(s, n, "%s/%s", a, b);
	return s;
}

/* The strings of a 1-D dataset of fixed-length strings (pandas' axis0
 * and blockK_items). */
static int read_names(pl_h5_table *t, const char *path, char ***names,
		      size_t *n, pl_error *err)
{
	*names = NULL;
	*n = 0;
	hid_t d = H5Dopen2(t->file, path, H5P_DEFAULT);
	hid_t ft = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
	hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
	hsize_t len = 0;
	int ok = ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING &&
		 H5Tis_variable_str(ft) == 0 &&
		 H5Sget_simple_extent_ndims(sp) == 1 &&
		 H5Sget_simple_extent_dims(sp, &len, NULL) == 1 &&
		 len <= MAX_NAMES;
	size_t w = ok ? H5Tget_size(ft) : 0;
	char *buf = ok ? calloc(len ? len : 1, w) : NULL;
	int rc = buf != NULL &&
			 H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0
		     ? 0
		     : -1;
	for (size_t i = 0; rc == 0 && i < len; i++) {
		char *s = malloc(w + 1);
		if (s != NULL) {
			memcpy(s, buf + i * w, w);
			s[strnlen(buf + i * w, w)] = '\0';
		}
		rc = push_name(names, n, s);
	}
	free(buf);
	if (sp >= 0)
		H5Sclose(sp);
	if (ft >= 0)
		H5Tclose(ft);
	if (d >= 0)
		H5Dclose(d);
	if (rc != 0) {
		names_free(*names, *n);
		*names = NULL;
		*n = 0;
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%s: cannot read the column names "
				    "pandas stored there",
				    t->path, path);
	}
	return 0;
}

/* Puts the index first, then the columns in the frame's order (names);
 * columns it does not name keep their order after them. */
static int reorder(pl_h5_table *t, char **names, size_t n, pl_error *err)
{
	size_t *key = malloc((t->n ? t->n : 1) * sizeof(*key));
	if (key == NULL)
		return pl_error_nomem(err, "the column order");
	for (size_t i = 0; i < t->n; i++) {
		key[i] = strcmp(t->src[i].name, "index") == 0 ? 0 : n + 1;
		for (size_t k = 0; key[i] && k < n; k++)
			if (strcmp(t->src[i].name, names[k]) == 0) {
				key[i] = k + 1;
				break;
			}
	}
	for (size_t i = 1; i < t->n; i++)
		for (size_t j = i; j > 0 && key[j] < key[j - 1]; j--) {
			pl_h5_src s = t->src[j - 1];
			size_t k = key[j - 1];
			t->src[j - 1] = t->src[j];
			key[j - 1] = key[j];
			t->src[j] = s;
			key[j] = k;
		}
	free(key);
	return 0;
}

/* pandas' datetime64 columns (naive or with a zone, stored in UTC) are
 * int64 nanoseconds since 1970, NaT the least int64: timestamps. */
static void mark_time(pl_h5_src *s, const char *dtype)
{
	if (dtype != NULL && strncmp(dtype, "datetime64", 10) == 0 &&
	    s->t.kind == PL_H5_INT) {
		s->unit = PL_H5_NSEC;
		s->nat = 1;
	}
}

/* A table's columns: values_block_K's dtype in values_block_K_dtype, a
 * data column's in NAME_dtype, the index's in index_kind. */
static void mark_table_times(pl_h5_table *t, const char *table)
{
	for (size_t i = 0; i < t->n; i++) {
		const char *f = t->src[i].field;
		char attr[1100];
		if (f == NULL)
			continue;
		if (strcmp(f, "index") == 0)
			snprintf(attr, sizeof(attr), "index_kind");
		else
			snprintf(attr, sizeof(attr), "%s_dtype", f);
		char *dtype = str_attr(t->file, table, attr);
		mark_time(&t->src[i], dtype);
		free(dtype);
	}
}

typedef struct block_namer {
	pl_h5_table *t;
	const char *table;
} block_namer;

/* values_block_K's element j: name j of values_block_K_kind. */
static int name_block(void *arg, const char *field, unsigned j, unsigned k,
		      char **name, pl_error *err)
{
	block_namer *b = arg;
	*name = NULL;
	if (strncmp(field, "values_block_", 13) != 0)
		return 0;
	char attr[128];
	snprintf(attr, sizeof(attr), "%s_kind", field);
	char **names;
	size_t n;
	if (pickled_names(b->t->file, b->table, attr, &names, &n) != 0)
		return 0;
	if (n == k && (*name = strdup(names[j])) == NULL) {
		names_free(names, n);
		return pl_error_nomem(err, "a column name");
	}
	names_free(names, n);
	return 0;
}

static int open_frame_table(pl_h5_table *t, const char *key, pl_error *err)
{
	char *table = join(key, "table");
	if (table == NULL)
		return pl_error_nomem(err, "a dataset path");
	block_namer b = {t, table};
	int rc = pl_h5_add_compound(t, table, name_block, &b, err);
	if (rc == 0)
		mark_table_times(t, table);
	char **order;
	size_t n;
	if (rc == 0 &&
	    pickled_names(t->file, key, "non_index_axes", &order, &n) == 0) {
		rc = reorder(t, order, n, err);
		names_free(order, n);
	}
	free(table);
	return rc;
}

/* Object blocks of to_hdf's fixed format are pickled arrays (a VLArray
 * of bytes): named in the error, not read. */
static int check_block(pl_h5_table *t, const char *values, char **items,
		       size_t n, pl_error *err)
{
	hid_t d = H5Dopen2(t->file, values, H5P_DEFAULT);
	hid_t ft = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
	int pickled = ft >= 0 && H5Tget_class(ft) == H5T_VLEN;
	if (ft >= 0)
		H5Tclose(ft);
	if (d >= 0)
		H5Dclose(d);
	if (!pickled)
		return 0;
	char list[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
					"%s'%s'", i ? ", " : "", items[i]);
	return pl_error_set(err, PL_ERR_DATA,
			    "%s:%s: pandas stored column%s %s as pickled "
			    "Python objects, which pipeline does not read; "
			    "write the frame with to_hdf(..., format='table')",
			    t->path, values, n == 1 ? "" : "s", list);
}

static int open_block(pl_h5_table *t, const char *key, int64_t k, pl_error *err)
{
	char name[64];
	snprintf(name, sizeof(name), "block%lld_items", (long long)k);
	char *items_path = join(key, name);
	snprintf(name, sizeof(name), "block%lld_values", (long long)k);
	char *values = join(key, name);
	char **items = NULL;
	size_t n = 0;
	int rc = items_path && values ? 0 : pl_error_nomem(err, "a path");
	if (rc == 0)
		rc = read_names(t, items_path, &items, &n, err);
	if (rc == 0)
		rc = check_block(t, values, items, n, err);
	size_t first = t->n;
	if (rc == 0)
		rc = pl_h5_add_2d(t, values, items, n, err);
	char *vt = rc == 0 ? str_attr(t->file, values, "value_type") : NULL;
	for (size_t i = first; i < t->n; i++)
		mark_time(&t->src[i], vt);
	free(vt);
	names_free(items, n);
	free(items_path);
	free(values);
	return rc;
}

static int open_frame(pl_h5_table *t, const char *key, pl_error *err)
{
	int64_t nblocks = 0;
	if (int_attr(t->file, key, "nblocks", &nblocks) != 0 || nblocks < 0 ||
	    nblocks > MAX_NAMES)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%s: a pandas frame without a valid "
				    "nblocks attribute",
				    t->path, key);
	char *axis1 = join(key, "axis1"), *axis0 = join(key, "axis0");
	int rc = axis0 && axis1 ? 0 : pl_error_nomem(err, "a path");
	if (rc == 0)
		rc = pl_h5_add_dataset(t, axis1, "index", err);
	char *kind = rc == 0 ? str_attr(t->file, axis1, "kind") : NULL;
	if (rc == 0)
		mark_time(&t->src[t->n - 1], kind);
	free(kind);
	for (int64_t k = 0; rc == 0 && k < nblocks; k++)
		rc = open_block(t, key, k, err);
	char **order = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = read_names(t, axis0, &order, &n, err);
	if (rc == 0)
		rc = reorder(t, order, n, err);
	names_free(order, n);
	free(axis0);
	free(axis1);
	return rc;
}

int pl_h5_pandas_open(pl_h5_table *t, const char *key, int *found,
		      pl_error *err)
{
	*found = 0;
	hid_t o = H5Oopen(t->file, key, H5P_DEFAULT);
	int group = o >= 0 && H5Iget_type(o) == H5I_GROUP;
	if (o >= 0)
		H5Oclose(o);
	char *kind = group ? str_attr(t->file, key, "pandas_type") : NULL;
	int rc = 0;
	if (kind != NULL && strcmp(kind, "frame_table") == 0) {
		*found = 1;
		rc = open_frame_table(t, key, err);
	} else if (kind != NULL && strcmp(kind, "frame") == 0) {
		*found = 1;
		rc = open_frame(t, key, err);
	} else if (kind != NULL || group) {
		rc = pl_error_set(err, PL_ERR_DATA,
				  "%s:%s: a group%s%s%s, not a compound "
				  "dataset (pandas frames written by to_hdf "
				  "are read: format 'fixed' or 'table')",
				  t->path, key, kind ? " of pandas type '" : "",
				  kind ? kind : "", kind ? "'" : "");
	}
	free(kind);
	return rc;
}

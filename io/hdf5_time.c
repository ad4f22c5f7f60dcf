#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/hdf5_time.h"
#include "pipeline/datetime.h"

static const struct {
	const char *key, *cf;
	int unit;
} units[] = {
    {"days", "days", PL_H5_DAYS},	{"s", "seconds", PL_H5_SEC},
    {"ms", "milliseconds", PL_H5_MSEC}, {"us", "microseconds", PL_H5_USEC},
    {"ns", "nanoseconds", PL_H5_NSEC},
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

static int unit_of(const char *word, int cf)
{
	for (size_t i = 0; i < NUNITS; i++)
		if (strcmp(word, cf ? units[i].cf : units[i].key) == 0)
			return units[i].unit;
	return 0;
}

static int bad_unit(const pl_section *s, const char *key, const char *u,
		    pl_error *err)
{
	return pl_section_error(s, key, err,
				"unknown time unit '%s' (s, ms, us, ns or "
				"days)",
				u);
}

static int add_item(const pl_section *s, pl_hdf5_options *o, char *item,
		    int def, pl_error *err)
{
	char *colon = strrchr(item, ':');
	int unit = def;
	if (colon != NULL) {
		*colon = '\0';
		char *u = colon + 1;
		while (*u == ' ')
			u++;
		if ((unit = unit_of(u, 0)) == 0) {
			int rc = bad_unit(s, "time_columns", u, err);
			free(item);
			return rc;
		}
		for (char *e = colon - 1; e >= item && *e == ' '; e--)
			*e = '\0';
	}
	o->time_units[o->ntime] = unit;
	o->time_columns[o->ntime++] = item;
	return 0;
}

int pl_h5_time_options(const pl_section *s, pl_hdf5_options *o, pl_error *err)
{
	const char *list = pl_section_get(s, "time_columns", NULL);
	const char *u = pl_section_get(s, "time_unit", "s");
	int def = unit_of(u, 0);
	if (def == 0)
		return bad_unit(s, "time_unit", u, err);
	if (list == NULL)
		return 0;
	char **items;
	size_t n;
	int rc = pl_split_names(list, &items, &n, err);
	if (rc != 0)
		return pl_section_rewrap(s, "time_columns", rc, err);
	o->time_columns = calloc(n, sizeof(char *));
	o->time_units = calloc(n, sizeof(int));
	if (o->time_columns == NULL || o->time_units == NULL) {
		pl_names_free(items, n);
		return pl_error_nomem(err, "time_columns");
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = add_item(s, o, items[i], def, err);
		else
			free(items[i]);
	}
	free(items);
	return rc;
}

/* "<unit> since 1970-01-01" with an optional midnight UTC after it. */
static int cf_unit(const char *text)
{
	static const char *const epochs[] = {
	    "1970-01-01", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00",
	    "1970-01-01 00:00:00", "1970-01-01 00:00:00Z"};
	const char *since = strstr(text, " since ");
	if (since == NULL || since - text >= 16)
		return 0;
	char word[16];
	memcpy(word, text, (size_t)(since - text));
	word[since - text] = '\0';
	for (size_t i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++)
		if (strcmp(since + 7, epochs[i]) == 0)
			return unit_of(word, 1);
	return 0;
}

/* The unit a dataset's units attribute declares, or 0. */
static int attr_unit(hid_t dset)
{
	if (H5Aexists(dset, "units") <= 0)
		return 0;
	hid_t a = H5Aopen(dset, "units", H5P_DEFAULT);
	hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
	int unit = 0;
	if (ft >= 0 && H5Tget_class(ft) == H5T_STRING) {
		char buf[128] = "";
		if (H5Tis_variable_str(ft) > 0) {
			char *s = NULL;
			hid_t mt = H5Tcopy(H5T_C_S1);
			H5Tset_size(mt, H5T_VARIABLE);
			H5Tset_cset(mt, H5Tget_cset(ft));
			if (H5Aread(a, mt, &s) >= 0 && s != NULL) {
				snprintf(buf, sizeof(buf), "%s", s);
				H5free_memory(s);
			}
			H5Tclose(mt);
		} else if (H5Tget_size(ft) < sizeof(buf)) {
			hid_t mt = H5Tcopy(H5T_C_S1);
			H5Tset_size(mt, sizeof(buf));
			H5Tset_cset(mt, H5Tget_cset(ft));
			if (H5Aread(a, mt, buf) < 0)
				buf[0] = '\0';
			buf[sizeof(buf) - 1] = '\0';
			H5Tclose(mt);
		}
		unit = cf_unit(buf);
	}
	H5Tclose(ft);
	H5Aclose(a);
	return unit;
}

static int find_name(const pl_hdf5_options *o, const char *name)
{
	for (size_t k = 0; k < o->ntime; k++)
		if (strcmp(o->time_columns[k], name) == 0)
			return (int)k;
	return -1;
}

int pl_h5_table_times(const pl_hdf5_options *o, pl_h5_table *t, pl_error *err)
{
	for (size_t i = 0; i < t->n; i++) {
		pl_h5_src *s = &t->src[i];
		int k = find_name(o, s->name);
		int is_int =
		    s->t.kind == PL_H5_INT || s->t.kind == PL_H5_UINT64;
		if (k >= 0 && !is_int) {
			char where[1200];
			pl_h5_table_where(t, i, where, sizeof(where));
			return pl_section_error(o->section, "time_columns", err,
						"%s is %s, not integers", where,
						pl_type_name(s->t.type));
		}
		if (k >= 0)
			s->unit = o->time_units[k];
		else if (s->unit == 0 && is_int && s->dset != t->table)
			s->unit = attr_unit(s->dset);
		if (s->unit != 0)
			s->t.type =
			    s->unit == PL_H5_DAYS ? PL_DATE : PL_TIMESTAMP;
	}
	return 0;
}

static int out_of_range(const pl_h5_table *t, size_t i, uint64_t row,
			pl_error *err)
{
	char where[1200];
	pl_h5_table_where(t, i, where, sizeof(where));
	return pl_error_set(err, PL_ERR_DATA,
			    "%s: row %llu: time value out of range", where,
			    (unsigned long long)row);
}

int pl_h5_scale_time(const pl_h5_table *t, size_t i, uint64_t first,
		     pl_column *c, pl_error *err)
{
	int unit = t->src[i].unit;
	static const int64_t mul[] = {0, 1, 1000000, 1000, 1, 1};
	int64_t *v = pl_col_i64(c);
	for (size_t k = 0; unit != 0 && k < c->len; k++) {
		int bad;
		if (unit == PL_H5_NSEC) {
			v[k] = pl_floor_div(v[k], 1000);
			bad = 0;
		} else {
			bad = __builtin_mul_overflow(v[k], mul[unit], &v[k]);
		}
		if (unit == PL_H5_DAYS)
			bad =
			    v[k] > PL_DATE_MAX_DAYS || v[k] < -PL_DATE_MAX_DAYS;
		if (bad && pl_bit_get(c->valid, k))
			return out_of_range(t, i, first + k, err);
	}
	return 0;
}

const char *pl_h5_time_units(pl_type t)
{
	if (t == PL_DATE)
		return "days since 1970-01-01";
	if (t == PL_TIMESTAMP)
		return "microseconds since 1970-01-01T00:00:00Z";
	return NULL;
}

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/csv_reader.h"
#include "io/input_paths.h"
#include "pipeline/datetime.h"

const char *const pl_csv_section_keys[] = {
    "path",	  "header",   "delimiter", "quote",	  "null", "schema",
    "infer_rows", "on_error", "reject",	   "time_format", NULL};

/* One byte, or the escape \t (or the word tab). */
static int read_char(const pl_section *s, const char *key, char def, char *out,
		     pl_error *err)
{
	const char *v = pl_section_get(s, key, NULL);
	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (strcmp(v, "\\t") == 0 || strcasecmp(v, "tab") == 0)
		*out = '\t';
	else if (strlen(v) == 1 && v[0] != '\n' && v[0] != '\r')
		*out = v[0];
	else
		return pl_section_error(s, key, err,
					"%s must be one byte (or \\t), not "
					"'%s'",
					key, v);
	return 0;
}

static int tsv_name(const char *p)
{
	size_t n = strlen(p);
	if (n >= 4 && strcmp(p + n - 4, ".zst") == 0)
		n -= 4;
	return n >= 4 && strncasecmp(p + n - 4, ".tsv", 4) == 0;
}

static int read_chars(const pl_section *s, pl_csv_options *o, pl_error *err)
{
	char def = o->npaths > 0 && tsv_name(o->paths[0]) ? '\t' : ',';
	int rc = read_char(s, "delimiter", def, &o->delimiter, err);
	if (rc == 0)
		rc = read_char(s, "quote", '"', &o->quote, err);
	if (rc == 0 && o->quote == o->delimiter)
		rc = pl_section_error(s, "quote", err,
				      "quote and delimiter must differ");
	return rc;
}

static int add_schema_item(const pl_section *s, pl_schema *sc, const char *item,
			   pl_error *err)
{
	const char *colon = strrchr(item, ':');
	pl_type t;
	if (colon == NULL || colon == item)
		return pl_section_error(s, "schema", err,
					"'%s' is not name:type", item);
	if (pl_type_parse(colon + 1, &t) != 0 || t == PL_NULLTYPE)
		return pl_section_error(s, "schema", err,
					"unknown type '%s' for '%.*s' (int64, "
					"float64, bool, string, date or "
					"timestamp)",
					colon + 1, (int)(colon - item), item);
	char name[512];
	snprintf(name, sizeof(name), "%.*s", (int)(colon - item), item);
	while (strlen(name) > 0 && name[strlen(name) - 1] == ' ')
		name[strlen(name) - 1] = '\0';
	if (pl_schema_find(sc, name) >= 0)
		return pl_section_error(s, "schema", err,
					"column '%s' given twice", name);
	return pl_schema_add(sc, name, t, err);
}

static int read_schema(const pl_section *s, pl_csv_options *o, pl_error *err)
{
	const char *v = pl_section_get(s, "schema", NULL);
	if (v == NULL)
		return 0;
	char **items;
	size_t n;
	int rc = pl_split_names(v, &items, &n, err);
	if (rc != 0)
		return pl_section_rewrap(s, "schema", rc, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *c = strrchr(items[i], ':');
		while (c != NULL && c[1] == ' ')
			memmove(c + 1, c + 2, strlen(c + 1));
		rc = add_schema_item(s, &o->schema, items[i], err);
	}
	pl_names_free(items, n);
	return rc;
}

static int read_nulls(const pl_section *s, pl_csv_options *o, pl_error *err)
{
	const char *v = pl_section_get(s, "null", NULL);
	if (v == NULL)
		return 0;
	int rc = pl_split_names(v, &o->nulls, &o->nnulls, err);
	return rc == 0 ? 0 : pl_section_rewrap(s, "null", rc, err);
}

static int read_errors(const pl_section *s, pl_csv_options *o, pl_error *err)
{
	const char *v = pl_section_get(s, "on_error", "fail");
	if (strcmp(v, "skip") == 0)
		o->skip_errors = 1;
	else if (strcmp(v, "fail") != 0)
		return pl_section_error(s, "on_error", err,
					"on_error must be fail or skip, not "
					"'%s'",
					v);
	const char *r = pl_section_get(s, "reject", NULL);
	if (r == NULL)
		return 0;
	if (!o->skip_errors)
		return pl_section_error(s, "reject", err,
					"reject needs on_error = skip");
	char full[PATH_MAX];
	int rc = pl_section_path(s, r, full, sizeof(full), err);
	if (rc == 0 && (o->reject_path = strdup(full)) == NULL)
		rc = pl_error_nomem(err, "a reject path");
	return rc;
}

static int read_time_format(const pl_section *s, pl_csv_options *o,
			    pl_error *err)
{
	const char *v = pl_section_get(s, "time_format", NULL);
	char why[256];
	if (v == NULL)
		return 0;
	if (pl_time_format_check(v, why, sizeof(why)) != 0)
		return pl_section_error(s, "time_format", err, "%s", why);
	o->time_format = strdup(v);
	return o->time_format ? 0 : pl_error_nomem(err, "time_format");
}

int pl_csv_options_from_section(const pl_section *s, pl_csv_options *o,
				pl_error *err)
{
	memset(o, 0, sizeof(*o));
	pl_schema_init(&o->schema);
	o->section = s;
	int rc = pl_input_paths(s, 1, &o->paths, &o->npaths, err);
	if (rc == 0)
		rc = pl_section_get_bool(s, "header", 1, &o->header, err);
	if (rc == 0)
		rc = read_chars(s, o, err);
	if (rc == 0)
		rc = read_nulls(s, o, err);
	if (rc == 0)
		rc = read_schema(s, o, err);
	if (rc == 0)
		rc = pl_section_get_count(s, "infer_rows", 10000,
					  &o->infer_rows, err);
	if (rc == 0)
		rc = read_errors(s, o, err);
	if (rc == 0)
		rc = read_time_format(s, o, err);
	return rc;
}

void pl_csv_options_free(pl_csv_options *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->npaths; i++)
		free(o->paths[i]);
	free(o->paths);
	if (o->nulls != NULL)
		pl_names_free(o->nulls, o->nnulls);
	if (o->columns != NULL)
		pl_names_free(o->columns, o->ncolumns);
	pl_schema_free(&o->schema);
	free(o->reject_path);
	free(o->time_format);
	memset(o, 0, sizeof(*o));
}

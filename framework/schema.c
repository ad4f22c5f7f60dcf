#include <stdlib.h>
#include <string.h>

#include "pipeline/batch.h"

static const char *const type_names[] = {
    "int64", "float64", "bool", "string", "null", "date", "timestamp"};

const char *pl_type_name(pl_type t)
{
	return (unsigned)t <= PL_TIMESTAMP ? type_names[t] : "?";
}

int pl_type_parse(const char *s, pl_type *out)
{
	for (int t = PL_INT64; t <= PL_TIMESTAMP; t++) {
		if (t != PL_NULLTYPE && strcmp(s, type_names[t]) == 0) {
			*out = (pl_type)t;
			return 0;
		}
	}
	return -1;
}

void pl_schema_init(pl_schema *s)
{
	s->n = 0;
	s->fields = NULL;
}

void pl_schema_free(pl_schema *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->fields[i].name);
	free(s->fields);
	pl_schema_init(s);
}

/* Whether a schema of n fields has no room for another: its array holds
 * 8 fields, then doubles, so that its capacity follows from n alone (the
 * struct is part of the API and has no field for it) and a header of
 * 100000 columns is not copied field by field 100000 times. */
static int full(size_t n)
{
	return n == 0 || (n >= 8 && (n & (n - 1)) == 0);
}

int pl_schema_add(pl_schema *s, const char *name, pl_type type, pl_error *err)
{
	if (full(s->n)) {
		size_t cap = s->n == 0 ? 8 : 2 * s->n;
		pl_field *f = realloc(s->fields, cap * sizeof(*f));
		if (f == NULL)
			return pl_error_nomem(err, "a schema");
		s->fields = f;
	}
	pl_field *f = s->fields;
	f[s->n].name = strdup(name);
	if (f[s->n].name == NULL)
		return pl_error_nomem(err, "a schema");
	f[s->n].type = type;
	s->n++;
	return 0;
}

int pl_schema_copy(pl_schema *dst, const pl_schema *src, pl_error *err)
{
	pl_schema_init(dst);
	for (size_t i = 0; i < src->n; i++) {
		int rc = pl_schema_add(dst, src->fields[i].name,
				       src->fields[i].type, err);
		if (rc != 0) {
			pl_schema_free(dst);
			return rc;
		}
	}
	return 0;
}

int pl_schema_find(const pl_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->fields[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

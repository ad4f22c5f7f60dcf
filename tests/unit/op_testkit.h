/* Helpers for driving an operator by hand in a unit test: sections and
 * schemas from literals, batches from row-major string cells, and an
 * emitter that records every row it is sent as text.
 *
 *   pl_section *sec = kit_section("filter", 10, (const char *[]){
 *           "where", "age > 3", NULL});    (keys on lines 11, 12, ...)
 *   kit_schema(&in, "id:int64, name:string");
 *   pl_batch *b = kit_batch(&in, pool, 2, (const char *[]){
 *           "1", "ann", "2", NULL});        (NULL cell: a NULL value)
 *   kit_op k; kit_op_init(&k, &pl_op_filter, sec, &in, pool, &err);
 *   kit_recorder r = {0}; pl_emitter e = kit_emitter(&r);
 *   k.op.def->process(&k.op, b, &e, &err);  r.text: "1|ann@7\n..."
 */
#ifndef PL_OP_TESTKIT_H
#define PL_OP_TESTKIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/operator.h"

/* A section of file "job.conf" whose header is on line `line` and whose
 * keys, given as key, value, ..., NULL, sit on the lines after it. */
static inline pl_section *kit_section(const char *name, int line,
				      const char *const *kv)
{
	pl_section *s = calloc(1, sizeof(*s));
	size_t n = 0;
	while (kv[2 * n] != NULL)
		n++;
	s->name = strdup(name);
	s->line = line;
	s->occurrence = 1;
	s->file = "job.conf";
	s->dir = ".";
	s->n = n;
	s->kv = calloc(n + 1, sizeof(*s->kv));
	for (size_t i = 0; i < n; i++) {
		s->kv[i].key = strdup(kv[2 * i]);
		s->kv[i].value = strdup(kv[2 * i + 1]);
		s->kv[i].line = line + 1 + (int)i;
	}
	return s;
}

static inline void kit_section_free(pl_section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s->name);
	free(s);
}

/* Fills s from "name:type, name:type" (s is initialised here). */
static inline void kit_schema(pl_schema *s, const char *spec)
{
	char buf[512], *save = NULL;
	pl_schema_init(s);
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *f = strtok_r(buf, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		while (*f == ' ')
			f++;
		char *colon = strchr(f, ':');
		pl_type t = PL_STRING;
		*colon = '\0';
		pl_type_parse(colon + 1, &t);
		pl_schema_add(s, f, t, NULL);
	}
}

/* "name:type,name:type" of s into buf. */
static inline const char *kit_schema_text(const pl_schema *s, char *buf,
					  size_t cap)
{
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->n && k < cap; i++)
		k += (size_t)snprintf(buf + k, cap - k, "%s%s:%s", i ? "," : "",
				      s->fields[i].name,
				      pl_type_name(s->fields[i].type));
	return buf;
}

static inline int kit_push(pl_column *c, const char *cell, pl_pool *pool)
{
	if (cell == NULL)
		return pl_column_push_null(c, pool, NULL);
	switch (c->type) {
	case PL_INT64:
		return pl_column_push_i64(c, strtoll(cell, NULL, 10), pool,
					  NULL);
	case PL_FLOAT64:
		return pl_column_push_f64(c, strtod(cell, NULL), pool, NULL);
	case PL_BOOL:
		return pl_column_push_bool(c, strcmp(cell, "true") == 0, pool,
					   NULL);
	default:
		return pl_column_push_str(c, cell, strlen(cell), pool, NULL);
	}
}

/* A batch of nrows rows from row-major cells parsed by column type. */
static inline pl_batch *kit_batch(const pl_schema *s, pl_pool *pool,
				  size_t nrows, const char *const *cells)
{
	pl_batch *b = pl_batch_new(s, nrows, pool, NULL);
	for (size_t r = 0; b && r < nrows; r++)
		for (size_t c = 0; c < s->n; c++)
			kit_push(&b->cols[c], cells[r * s->n + c], pool);
	if (b)
		b->nrows = nrows;
	return b;
}

/* Gives b provenance: row i started on line lines[i] of origin. */
static inline void kit_set_lines(pl_batch *b, pl_pool *pool, const char *origin,
				 const int64_t *lines)
{
	b->origin = origin;
	b->line = pl_pool_alloc(pool, (b->nrows + 1) * sizeof(int64_t));
	memcpy(b->line, lines, b->nrows * sizeof(int64_t));
}

/* Records rows as "v|v|v@line\n" (values as pl_column_format writes
 * them, "@line" only with provenance), and answers each emit with reply. */
typedef struct kit_recorder {
	char text[8192];
	size_t len;
	int batches;
	size_t rows;
	int reply; /* 0 or PL_STOP */
	int bad;   /* a batch whose columns disagree with nrows */
	const pl_column *last_cols; /* cols of the last batch seen */
} kit_recorder;

static inline void kit_record_row(kit_recorder *r, const pl_batch *b, size_t i)
{
	char v[256];
	for (size_t c = 0; c < b->ncols; c++) {
		pl_column_format(&b->cols[c], i, v, sizeof(v));
		r->len +=
		    (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len,
				     "%s%s", c ? "|" : "", v);
	}
	if (b->origin && b->line)
		r->len +=
		    (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len,
				     "@%lld", (long long)b->line[i]);
	r->len +=
	    (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, "\n");
}

static inline int kit_record(void *arg, pl_batch *b, pl_error *err)
{
	kit_recorder *r = arg;
	(void)err;
	r->batches++;
	r->rows += b->nrows;
	r->last_cols = b->cols;
	for (size_t c = 0; c < b->ncols; c++)
		r->bad |= b->cols[c].len != b->nrows;
	for (size_t i = 0; i < b->nrows && r->len < sizeof(r->text) - 512; i++)
		kit_record_row(r, b, i);
	return r->reply;
}

static inline pl_emitter kit_emitter(kit_recorder *r)
{
	return (pl_emitter){kit_record, r};
}

/* An operator instance with its environment and output schema. */
typedef struct kit_op {
	pl_operator op;
	pl_op_env env;
	pl_schema out;
} kit_op;

/* Runs def->init; call kit_op_free afterwards whatever it returned. */
static inline int kit_op_init(kit_op *k, const pl_operator_def *def,
			      const pl_section *sec, const pl_schema *in,
			      pl_pool *pool, pl_error *err)
{
	memset(k, 0, sizeof(*k));
	k->env.pool = pool;
	k->env.nranks = 1;
	k->env.memory_budget = (size_t)1 << 30;
	k->env.chunk_rows = 1024;
	k->env.spill_dir = "/tmp";
	k->env.job_name = "test";
	k->op.def = def;
	k->op.env = &k->env;
	k->op.section = sec;
	pl_schema_init(&k->out);
	pl_schema_init(&k->op.partial_schema);
	return def->init(&k->op, sec, in, &k->out, err);
}

static inline void kit_op_free(kit_op *k)
{
	k->op.def->destroy(&k->op);
	pl_schema_free(&k->out);
	pl_schema_free(&k->op.partial_schema);
}

/* Dictionary-encodes the plain string column c in place as the CSV reader
 * does: entries in order of first appearance, NULL one of them. Returns 0
 * or PL_ERR_NOMEM (c is then unchanged). */
static inline int kit_encode_dict(pl_column *c, pl_pool *pool)
{
	pl_error err;
	size_t nslots = 16;
	while (nslots < 2 * c->len)
		nslots *= 2;
	uint32_t *slot = calloc(nslots, sizeof(*slot)); /* entry + 1 */
	uint32_t *code = malloc((c->len ? c->len : 1) * sizeof(*code));
	pl_column *d = calloc(1, sizeof(*d));
	int rc = slot && code && d ? 0 : PL_ERR_NOMEM;
	if (rc == 0)
		rc = pl_column_init(d, PL_STRING, 0, 0, pool, &err);
	for (size_t i = 0; rc == 0 && i < c->len; i++) {
		size_t s = pl_column_hash(c, i, 0) & (nslots - 1);
		while (slot[s] != 0 &&
		       (pl_column_is_null(c, i) !=
			    pl_column_is_null(d, slot[s] - 1) ||
			pl_column_compare(c, i, d, slot[s] - 1) != 0))
			s = (s + 1) & (nslots - 1);
		if (slot[s] == 0) {
			rc = pl_column_push_from(d, c, i, pool, &err);
			slot[s] = (uint32_t)d->len;
		}
		code[i] = slot[s] - 1;
	}
	for (size_t i = 0; rc == 0 && i < c->len; i++)
		pl_col_codes(c)[i] = code[i];
	if (rc == 0)
		c->dict = d;
	else if (d != NULL) {
		pl_column_free(d, pool);
		free(d);
	}
	free(slot);
	free(code);
	return rc;
}

#endif

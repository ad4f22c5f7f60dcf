/* See check_operator.h. Everything here runs in one process, on whole
 * tables held in memory: it is a test tool for small inputs. */
/* qsort_r */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "framework/check_operator.h"

#define MAX_PARTS 5

/* A table: one batch that grows as batches are appended to it. */
typedef struct table {
	const pl_schema *schema;
	pl_batch *b;
	pl_pool *pool;
	const pl_section *maker; /* whose output it collects, for messages */
} table;

static int table_init(table *t, const pl_schema *s, pl_pool *pool,
		      const pl_section *maker, pl_error *err)
{
	t->schema = s;
	t->pool = pool;
	t->maker = maker;
	t->b = pl_batch_new(s, 16, pool, err);
	return t->b ? 0 : PL_ERR_NOMEM;
}

static void table_free(table *t)
{
	pl_batch_free(t->b, t->pool);
	t->b = NULL;
}

static int table_append(table *t, const pl_batch *b, size_t from, size_t n,
			pl_error *err)
{
	const pl_section *s = t->maker;
	if (b->ncols != t->schema->n)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%d: [%s] emitted a batch of %zu "
				    "columns, its schema has %zu",
				    s->file, s->line, s->name, b->ncols,
				    t->schema->n);
	for (size_t c = 0; c < b->ncols; c++) {
		if (b->cols[c].type != t->schema->fields[c].type ||
		    b->cols[c].len != b->nrows)
			return pl_error_set(err, PL_ERR_DATA,
					    "%s:%d: [%s] emitted column %zu "
					    "('%s') of another type or length "
					    "than its schema says",
					    s->file, s->line, s->name, c + 1,
					    t->schema->fields[c].name);
		int rc = pl_column_append_range(&t->b->cols[c], &b->cols[c],
						from, n, t->pool, err);
		if (rc != 0)
			return rc;
	}
	t->b->nrows += n;
	return 0;
}

static int collect(void *arg, pl_batch *b, pl_error *err)
{
	return table_append(arg, b, 0, b->nrows, err);
}

/* What a split instance's process emits goes nowhere, as on a rank whose
 * instance only gathers state. */
static int discard(void *arg, pl_batch *b, pl_error *err)
{
	(void)arg;
	(void)b;
	(void)err;
	return 0;
}

/* A fresh instance of operator i, as the runtime makes one on the rank
 * env describes, prepared as a process without MPI would be. */
static int instance(const pl_plan *p, size_t i, const pl_op_env *env,
		    pl_operator *op, pl_schema *out, pl_error *err)
{
	const pl_operator *model = &p->ops[i];
	memset(op, 0, sizeof(*op));
	op->def = model->def;
	op->env = env;
	op->section = model->section;
	pl_schema_init(&op->partial_schema);
	pl_schema_init(out);
	int rc = op->def->init(op, op->section, &p->schemas[i], out, err);
	MPI_Comm none = MPI_COMM_NULL;
	if (rc == 0 && op->prepare != NULL)
		rc = op->prepare(op, &none, err);
	return rc;
}

static void release(pl_operator *op, pl_schema *out)
{
	op->def->destroy(op);
	pl_schema_free(&op->partial_schema);
	pl_schema_free(out);
}

/* Feeds rows [from, to) of in to op in fresh batches of chunk rows. */
static int feed(pl_operator *op, const table *in, size_t from, size_t to,
		size_t chunk, const pl_emitter *out, pl_error *err)
{
	int rc = 0;
	for (size_t at = from; rc == 0 && at < to; at += chunk) {
		size_t n = to - at < chunk ? to - at : chunk;
		table piece;
		rc = table_init(&piece, in->schema, in->pool, in->maker, err);
		if (rc == 0)
			rc = table_append(&piece, in->b, at, n, err);
		if (rc == 0)
			rc = op->def->process(op, piece.b, out, err);
		table_free(&piece);
		if (rc == PL_STOP) /* as the runtime: no more input */
			return 0;
	}
	return rc;
}

/* One instance over all of in. */
static int run_whole(const pl_plan *p, size_t i, const table *in, size_t chunk,
		     table *res, pl_error *err)
{
	pl_operator op;
	pl_schema out;
	pl_emitter e = {collect, res};
	int rc = instance(p, i, &p->env, &op, &out, err);
	if (rc == 0)
		rc = feed(&op, in, 0, in->b->nrows, chunk, &e, err);
	if (rc == 0 && op.def->finish)
		rc = op.def->finish(&op, &e, err);
	release(&op, &out);
	return rc;
}

/* The merging instances' share of a partial batch: by key hash when
 * there are several, as the runtime spreads them over ranks. */
static int merge_partial(pl_operator *m, size_t nm, const pl_batch *b,
			 pl_pool *pool, pl_error *err)
{
	if (nm == 1)
		return m[0].def->merge(&m[0], b, err);
	uint32_t *idx = malloc((b->nrows ? b->nrows : 1) * sizeof(*idx));
	int rc = idx ? 0 : pl_error_nomem(err, "the check");
	for (size_t t = 0; rc == 0 && t < nm; t++) {
		size_t n = 0;
		for (size_t r = 0; r < b->nrows; r++) {
			uint64_t h = 0;
			for (size_t c = 0; c < m[t].partition_keys; c++)
				h = pl_column_hash(&b->cols[c], r, h);
			if (h % nm == t)
				idx[n++] = (uint32_t)r;
		}
		pl_batch *part =
		    pl_batch_new(&m[t].partial_schema, n + 1, pool, err);
		rc = part ? 0 : PL_ERR_NOMEM;
		for (size_t c = 0; rc == 0 && c < part->ncols; c++)
			rc = pl_column_append_take(&part->cols[c], &b->cols[c],
						   idx, n, pool, err);
		if (rc == 0 && n > 0) {
			part->nrows = n;
			rc = m[t].def->merge(&m[t], part, err);
		}
		pl_batch_free(part, pool);
	}
	free(idx);
	return rc;
}

/* k instances on consecutive parts of in, their partial state merged in
 * part order into nm instances, whose finishes make res. */
static int run_split(const pl_plan *p, size_t i, const table *in, size_t k,
		     size_t chunk, table *res, pl_error *err)
{
	pl_operator parts[MAX_PARTS], m[MAX_PARTS];
	pl_schema pout[MAX_PARTS], mout[MAX_PARTS];
	pl_op_env env[MAX_PARTS]; /* instance j as rank j of k */
	size_t np = 0, nm = 0, n = in->b->nrows;
	table st;
	memset(&st, 0, sizeof(st));
	for (size_t j = 0; j < k; j++) {
		env[j] = p->env;
		env[j].rank = (int)j;
		env[j].nranks = (int)k;
	}
	int rc = 0;
	for (; rc == 0 && np < k; np++)
		rc = instance(p, i, &env[np], &parts[np], &pout[np], err);
	size_t want = rc == 0 && parts[0].partition_keys > 0 ? k : 1;
	for (; rc == 0 && nm < want; nm++)
		rc = instance(p, i, &env[nm], &m[nm], &mout[nm], err);
	pl_emitter e = {collect, &st}, none = {discard, NULL};
	for (size_t j = 0; rc == 0 && j < k; j++) {
		rc = table_init(&st, &parts[j].partial_schema, in->pool,
				parts[j].section, err);
		if (rc == 0)
			rc = feed(&parts[j], in, n * j / k, n * (j + 1) / k,
				  chunk, &none, err);
		if (rc == 0)
			rc = parts[j].def->partial(&parts[j], &e, err);
		if (rc == 0 && st.b->nrows > 0)
			rc = merge_partial(m, nm, st.b, in->pool, err);
		table_free(&st);
	}
	pl_emitter r = {collect, res};
	for (size_t t = 0; rc == 0 && t < nm; t++)
		rc = m[t].def->finish ? m[t].def->finish(&m[t], &r, err) : 0;
	while (np > 0)
		release(&parts[np - 1], &pout[np - 1]), np--;
	while (nm > 0)
		release(&m[nm - 1], &mout[nm - 1]), nm--;
	return rc;
}

static int same_value(const pl_column *a, size_t i, const pl_column *b,
		      size_t j)
{
	if (a->type != PL_FLOAT64 || pl_column_is_null(a, i) ||
	    pl_column_is_null(b, j))
		return pl_column_compare(a, i, b, j) == 0;
	double x = pl_col_f64(a)[i], y = pl_col_f64(b)[j];
	if (x == y || (isnan(x) && isnan(y)))
		return 1;
	return fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
}

static int row_cmp(const void *pa, const void *pb, void *arg)
{
	const pl_batch *b = arg;
	size_t i = *(const size_t *)pa, j = *(const size_t *)pb;
	for (size_t c = 0; c < b->ncols; c++) {
		int d = pl_column_compare(&b->cols[c], i, &b->cols[c], j);
		if (d != 0)
			return d;
	}
	return i < j ? -1 : i > j;
}

/* Row numbers of b, sorted by value when order does not count. */
static size_t *row_order(const pl_batch *b, int sorted)
{
	size_t *o = malloc((b->nrows ? b->nrows : 1) * sizeof(*o));
	if (o == NULL)
		return NULL;
	for (size_t r = 0; r < b->nrows; r++)
		o[r] = r;
	if (sorted)
		qsort_r(o, b->nrows, sizeof(*o), row_cmp, (void *)b);
	return o;
}

static void format_row(const pl_batch *b, size_t r, char *buf, size_t cap)
{
	size_t at = 0;
	buf[0] = '\0';
	for (size_t c = 0; c < b->ncols && at + 2 < cap; c++) {
		char v[128];
		pl_column_format(&b->cols[c], r, v, sizeof(v));
		int n = snprintf(buf + at, cap - at, "%s%s", c ? ", " : "", v);
		at += n > 0 ? (size_t)n : 0;
	}
}

/* Compares got with the reference want; describes the first difference
 * in msg. Returns 1 when they agree, 0 when not, -1 out of memory. */
static int same_rows(const pl_batch *want, const pl_batch *got, int sorted,
		     char *msg, size_t cap)
{
	if (want->nrows != got->nrows) {
		snprintf(msg, cap, "%zu rows, one instance gave %zu",
			 got->nrows, want->nrows);
		return 0;
	}
	size_t *a = row_order(want, sorted), *b = row_order(got, sorted);
	int same = a && b ? 1 : -1;
	for (size_t r = 0; same == 1 && r < want->nrows; r++) {
		for (size_t c = 0; same == 1 && c < want->ncols; c++)
			same = same_value(&want->cols[c], a[r], &got->cols[c],
					  b[r]);
		if (same == 0) {
			char w[512], g[512];
			format_row(want, a[r], w, sizeof(w));
			format_row(got, b[r], g, sizeof(g));
			snprintf(msg, cap,
				 "row %zu%s is (%s), one instance "
				 "gave (%s)",
				 r + 1, sorted ? " (sorted)" : "", g, w);
		}
	}
	free(a);
	free(b);
	return same;
}

typedef struct check_case {
	size_t k;     /* instances on consecutive parts; 1: fed whole */
	size_t chunk; /* rows per batch fed */
} check_case;

/* Runs one case of operator i and compares it with ref. */
static int run_case(const pl_plan *p, size_t i, const table *in,
		    const table *ref, check_case cc, int split, FILE *out,
		    pl_error *err)
{
	const pl_operator *op = &p->ops[i];
	table res;
	int rc =
	    table_init(&res, &p->schemas[i + 1], in->pool, op->section, err);
	if (rc == 0)
		rc = split && cc.k > 1
			 ? run_split(p, i, in, cc.k, cc.chunk, &res, err)
			 : run_whole(p, i, in, cc.chunk, &res, err);
	char msg[1200] = "";
	int same = rc == 0
		       ? same_rows(ref->b, res.b,
				   split && cc.k > 1 && op->partition_keys > 0,
				   msg, sizeof(msg))
		       : 0;
	table_free(&res);
	if (rc != 0)
		return rc;
	if (same < 0)
		return pl_error_nomem(err, "the check");
	fprintf(out, "  %s k=%zu chunk=%zu: %s\n", same ? "ok  " : "FAIL", cc.k,
		cc.chunk, same ? "same rows" : msg);
	if (!same)
		return pl_error_set(err, PL_ERR_DATA,
				    "%s:%d: [%s] --check-operator: %zu "
				    "instance%s, chunks of %zu rows: %s",
				    op->section->file, op->section->line,
				    op->def->name, cc.k, cc.k == 1 ? "" : "s",
				    cc.chunk, msg);
	return 0;
}

/* Whether partial/merge of operator i is checked by splitting. */
static int splits(const pl_operator *op)
{
	return op->def->partial != NULL && op->def->merge != NULL &&
	       op->split != PL_SPLIT_NONE;
}

static void describe(const pl_operator *op, int split, FILE *out)
{
	fprintf(out, "[%s] %s:%d: %s%s", op->def->name, op->section->file,
		op->section->line,
		op->def->kind == PL_OP_BLOCKING ? "blocking" : "streaming",
		split ? ", partial/merge" : "");
	if (split && op->partition_keys > 0)
		fprintf(out, ", partition_keys %zu", op->partition_keys);
	if (op->def->kind == PL_OP_BLOCKING && !split)
		fprintf(out, op->split == PL_SPLIT_NONE
				 ? ", kept per rank"
				 : ", no partial/merge: runs on one rank only");
	fputc('\n', out);
}

static int check_one(const pl_plan *p, size_t i, const table *in, table *ref,
		     FILE *out, pl_error *err)
{
	const pl_operator *op = &p->ops[i];
	int split = splits(op);
	describe(op, split, out);
	int rc = run_whole(p, i, in, p->env.chunk_rows, ref, err);
	if (rc != 0)
		return rc;
	static const size_t chunks[] = {1, 7, 1000};
	static const size_t ks[] = {1, 2, 3, 5};
	size_t nk = split ? sizeof(ks) / sizeof(ks[0]) : 1;
	for (size_t c = 0; rc == 0 && c < 3; c++) {
		/* one row per batch costs a call per row: small inputs only */
		if (chunks[c] == 1 && in->b->nrows > 20000)
			continue;
		for (size_t k = 0; rc == 0 && k < nk; k++)
			rc = run_case(p, i, in, ref,
				      (check_case){ks[k], chunks[c]}, split,
				      out, err);
	}
	return rc;
}

/* The whole input, as one table. */
static int read_input(pl_plan *p, table *in, pl_error *err)
{
	int rc =
	    table_init(in, &p->schemas[0], p->env.pool, p->source_sec, err);
	while (rc == 0) {
		pl_batch *b;
		rc = pl_source_next(p->source, p->env.chunk_rows, &b, err);
		if (rc != 0 || b == NULL)
			break;
		rc = table_append(in, b, 0, b->nrows, err);
	}
	return rc;
}

int pl_check_operators(pl_plan *p, FILE *out, pl_error *err)
{
	table in, ref;
	memset(&ref, 0, sizeof(ref));
	int rc = read_input(p, &in, err);
	if (rc == 0)
		fprintf(out, "check-operator: %zu input rows\n", in.b->nrows);
	for (size_t i = 0; rc == 0 && i < p->nops; i++) {
		const pl_operator *op = &p->ops[i];
		if (op->before_split != NULL) {
			fprintf(out,
				"[%s] %s:%d: not checked (reads a second "
				"input in before_split)\n",
				op->def->name, op->section->file,
				op->section->line);
			break;
		}
		rc = table_init(&ref, &p->schemas[i + 1], p->env.pool,
				op->section, err);
		if (rc == 0)
			rc = check_one(p, i, &in, &ref, out, err);
		table_free(&in);
		in = ref;
		memset(&ref, 0, sizeof(ref));
	}
	table_free(&in);
	table_free(&ref);
	if (rc == 0)
		fprintf(out, "check-operator: every case agreed\n");
	return rc;
}

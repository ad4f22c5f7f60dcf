#include <stdlib.h>
#include <string.h>

#include "framework/chunk_controller.h"
#include "framework/output_path.h"
#include "framework/plan.h"
#include "framework/plan_internal.h"

/* Operators see their section without the runtime's `plugin` key, so
 * that they can reject every key they do not know. The copy shares the
 * conf's strings. */
static int op_section(const pl_section *s, pl_section *copy, pl_error *err)
{
	*copy = *s;
	copy->kv = malloc((s->n ? s->n : 1) * sizeof(pl_kv));
	if (copy->kv == NULL)
		return pl_error_nomem(err, "the plan");
	copy->n = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->kv[i].key, "plugin") != 0)
			copy->kv[copy->n++] = s->kv[i];
	}
	return 0;
}

/* A blocking operator without partial/merge cannot be split: on several
 * ranks each instance would see only its rank's rows and answer for them
 * alone. Refused unless it asked for exactly that (PL_SPLIT_NONE). */
static int check_splittable(const pl_plan *p, const pl_section *s,
			    const pl_operator *op, pl_error *err)
{
	if (p->env.nranks < 2 || op->def->kind != PL_OP_BLOCKING ||
	    (op->def->partial != NULL && op->def->merge != NULL) ||
	    op->split == PL_SPLIT_NONE)
		return 0;
	return pl_section_error(s, NULL, err,
				"is a blocking operator without partial and "
				"merge, so it cannot run on %d ranks (each "
				"would answer for its own rows only): run "
				"the job in one process (--ranks 1), or give "
				"the operator partial and merge (README, "
				"\"Writing an operator\")",
				p->env.nranks);
}

/* Starts operator i of section s; def is known when it starts again
 * (the plugin is loaded already), else NULL. */
static int init_op(pl_plan *p, size_t i, const pl_section *s,
		   const pl_operator_def *def, pl_error *err)
{
	pl_operator *op = &p->ops[i];
	int rc;
	if (def == NULL && pl_section_find(s, "plugin") != NULL) {
		rc = pl_registry_load_plugin(&p->registry, s, &def, err);
		if (rc != 0)
			return rc;
	} else if (def == NULL) {
		def = pl_registry_find(&p->registry, s->name);
	}
	pl_section *copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return pl_error_nomem(err, "the plan");
	if ((rc = op_section(s, copy, err)) != 0) {
		free(copy);
		return rc;
	}
	op->def = def;
	op->env = &p->env;
	op->section = copy;
	pl_schema_init(&op->partial_schema);
	pl_schema_init(&p->schemas[i + 1]);
	rc = def->init(op, copy, &p->schemas[i], &p->schemas[i + 1], err);
	p->nops = i + 1; /* destroy this one too, even after a failed init */
	if (rc != 0 && err->msg[0] == '\0')
		pl_section_error(s, NULL, err, "operator failed to start");
	return rc ? rc : check_splittable(p, s, op, err);
}

/* Whether the source's path list names standard input. */
static int reads_stdin(const pl_section *s)
{
	char **names;
	size_t n;
	pl_error ignored;
	pl_error_clear(&ignored);
	if (pl_split_names(pl_section_get(s, "path", ""), &names, &n,
			   &ignored) != 0)
		return 0; /* opening the source reports it */
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= strcmp(names[i], "-") == 0;
	pl_names_free(names, n);
	return found;
}

static int open_source(pl_plan *p, pl_pool *pool, pl_error *err)
{
	const char **keys;
	size_t nkeys;
	if (pl_source_keys(1, &keys, &nkeys) != 0)
		return pl_error_nomem(err, "the plan");
	int rc = pl_section_check_keys(p->source_sec, keys, err);
	free(keys);
	/* mpirun hands standard input to rank 0 alone. */
	if (rc == 0 && p->env.nranks > 1 && reads_stdin(p->source_sec))
		rc = pl_section_error(p->source_sec, "path", err,
				      "standard input reaches rank 0 only: "
				      "a job of %d ranks needs a file",
				      p->env.nranks);
	if (rc == 0)
		rc = pl_source_open_excluding(
		    p->source_sec, 1, p->exclude_sink ? p->sink_path : NULL,
		    pool, &p->source, err);
	if (rc == 0)
		rc = pl_schema_copy(&p->schemas[0], pl_source_schema(p->source),
				    err);
	return rc;
}

/* A row's bytes in a batch, by type: strings as an offset and a short
 * value. Only a first guess; the chunk controller measures. */
static size_t row_bytes(const pl_schema *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->fields[i].type == PL_STRING ? 24
		     : s->fields[i].type == PL_BOOL ? 1
						    : 8;
	return n;
}

/* What a stage's columns cost the plan and the run: the schema's fields
 * and names, the output batch's column structs, per stage. Many stages
 * over many columns (10000 [derive] sections, each adding a column) grow
 * as their product; counted, so that such a plan is refused before it
 * takes memory the budget does not know of. */
static uint64_t schema_bytes(const pl_schema *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += sizeof(pl_field) + sizeof(pl_column) + 32 +
		     strlen(s->fields[i].name);
	return n;
}

static int plan_too_big(const pl_plan *p, const pl_section *s, size_t stages,
			uint64_t bytes, pl_error *err)
{
	return pl_section_error(
	    s, NULL, err,
	    "the plan's first %zu stages already hold %.1f MB of column "
	    "descriptions, more than half the memory budget (%.1f MB): put "
	    "several NAME = EXPR lines in one [derive] section, or raise "
	    "[job] memory",
	    stages, (double)bytes / 1e6, (double)p->env.memory_budget / 1e6);
}

/* Below this a rank cannot hold a chunk, the reader's buffer and its
 * spill partitions' buffers: a group-by spilled without end (615 s at
 * --set job.memory=1). */
#define PL_MIN_RANK_BUDGET ((size_t)256 << 10)

static int check_budget(const pl_plan *p, const pl_section *job,
			const pl_plan_options *o, pl_error *err)
{
	if (p->env.memory_budget >= PL_MIN_RANK_BUDGET)
		return 0;
	int per_node = p->node_size;
	char why[256];
	snprintf(
	    why, sizeof(why),
	    "memory %llu bytes gives each of the %d ranks on a node %llu; a "
	    "job needs at least 256 KiB per rank (%llu bytes for this node) "
	    "to start",
	    (unsigned long long)p->memory, per_node,
	    (unsigned long long)p->env.memory_budget,
	    (unsigned long long)PL_MIN_RANK_BUDGET * (unsigned)per_node);
	if (o->memory != NULL || job == NULL)
		return pl_error_set(err, PL_ERR_CONF, "--memory: %s", why);
	return pl_section_error(job, "memory", err, "%s", why);
}

/* Destroys the operators, keeping the source and schemas[0]. */
static void free_ops(pl_plan *p)
{
	for (size_t i = 0; i < p->nops; i++) {
		pl_operator *op = &p->ops[i];
		if (op->def && op->def->destroy)
			op->def->destroy(op);
		pl_schema_free(&op->partial_schema);
		if (op->section) {
			free(op->section->kv);
			free((void *)op->section);
		}
		pl_schema_free(&p->schemas[i + 1]);
		memset(op, 0, sizeof(*op));
	}
	p->nops = 0;
}

/* Starts operators 0.. on schemas[0]; defs, when given, are the ones
 * found the first time. */
static int init_ops(pl_plan *p, const pl_section **secs, size_t nsecs,
		    const pl_operator_def **defs, pl_error *err)
{
	if (p->chunk_rows == 0)
		p->env.chunk_rows = pl_chunk_start_rows(
		    p->node.l2_bytes, row_bytes(&p->schemas[0]));
	uint64_t plan_bytes = schema_bytes(&p->schemas[0]);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nsecs; i++) {
		rc = init_op(p, i, secs[i], defs ? defs[i] : NULL, err);
		plan_bytes += rc ? 0 : schema_bytes(&p->schemas[i + 1]);
		if (rc == 0 && plan_bytes > p->env.memory_budget / 2)
			rc = plan_too_big(p, secs[i], i + 1, plan_bytes, err);
	}
	return rc;
}

/* Narrows the source to the columns the job uses and starts the
 * operators again on the narrower input. A job that uses none still
 * reads one column, which carries the row count. */
static int project(pl_plan *p, const pl_section **secs, size_t nsecs,
		   pl_error *err)
{
	p->source_ncols = p->schemas[0].n;
	if (!pl_source_projectable(p->source) || p->schemas[0].n == 0)
		return 0;
	uint8_t *used = pl_plan_columns_used(p);
	const pl_operator_def **defs = malloc((nsecs + 1) * sizeof(*defs));
	int rc = used && defs ? 0 : pl_error_nomem(err, "the plan");
	size_t n = 0;
	for (size_t i = 0; rc == 0 && i < p->schemas[0].n; i++)
		n += used[i];
	if (rc == 0 && n == 0)
		used[0] = 1;
	if (rc == 0 && n < p->schemas[0].n) {
		for (size_t i = 0; i < nsecs; i++)
			defs[i] = p->ops[i].def;
		free_ops(p);
		rc = pl_source_project(p->source, used, err);
		pl_schema_free(&p->schemas[0]);
		if (rc == 0)
			rc = pl_schema_copy(&p->schemas[0],
					    pl_source_schema(p->source), err);
		if (rc == 0)
			rc = init_ops(p, secs, nsecs, defs, err);
	}
	free(used);
	free(defs);
	return rc;
}

static int build(pl_plan *p, const pl_plan_options *o,
		 const pl_operator_def *const *builtins, pl_pool *pool,
		 pl_error *err)
{
	const pl_section *job, **secs;
	size_t nsecs;
	int rc = pl_registry_init(&p->registry, builtins, err);
	if (rc != 0)
		return rc;
	secs = malloc((p->conf.n + 1) * sizeof(*secs));
	if (secs == NULL)
		return pl_error_nomem(err, "the plan");
	rc = pl_plan_classify(p, &job, secs, &nsecs, err);
	if (rc == 0)
		rc = pl_plan_read_job(p, job, o, err);
	if (rc == 0)
		rc = pl_plan_read_sink(p, p->sink_sec, o, err);
	p->ops = calloc(nsecs + 1, sizeof(*p->ops));
	p->schemas = calloc(nsecs + 1, sizeof(*p->schemas));
	if (rc == 0 && (p->ops == NULL || p->schemas == NULL))
		rc = pl_error_nomem(err, "the plan");
	p->env.pool = pool;
	p->env.rank = o->rank;
	p->env.nranks = o->nranks;
	p->nodes = o->nodes > 0 ? o->nodes : 1;
	p->node_size = o->node_size > 0 ? o->node_size : 1;
	p->env.memory_budget =
	    p->memory / (size_t)(o->node_size > 0 ? o->node_size : 1);
	if (rc == 0)
		rc = check_budget(p, job, o, err);
	p->env.chunk_rows = p->chunk_rows ? p->chunk_rows : 65536;
	p->env.spill_dir = p->spill_dir;
	p->env.job_name = p->job_name;
	p->env.nodes = p->nodes;
	p->env.now_us = o->now_us;
	if (rc == 0)
		rc = pl_plan_check_outputs(p, o, err);
	if (rc == 0)
		rc = open_source(p, pool, err);
	if (rc == 0)
		p->env.input_bytes = pl_source_get_stats(p->source).bytes_total;
	/* A quarter of the budget for chunk caches, the rest for batches. */
	if (rc == 0)
		pl_source_set_cache_budget(p->source, p->env.memory_budget / 4);
	/* Operators see the start size: their own output batches match it. */
	if (rc == 0)
		rc = init_ops(p, secs, nsecs, NULL, err);
	if (rc == 0)
		rc = project(p, secs, nsecs, err);
	free(secs);
	return rc;
}

int pl_plan_build(pl_plan *p, const char *conf_path, const pl_plan_options *o,
		  const pl_operator_def *const *builtins, pl_pool *pool,
		  pl_error *err)
{
	memset(p, 0, sizeof(*p));
	int rc = pl_conf_load(conf_path, o->sets, o->nsets, &p->conf, err);
	if (rc == 0)
		rc = build(p, o, builtins, pool, err);
	if (rc != 0)
		pl_plan_free(p);
	return rc;
}

static void print_schema(const pl_schema *s, FILE *out)
{
	fputs("    columns:", out);
	for (size_t i = 0; i < s->n; i++)
		fprintf(out, "%s %s: %s", i ? "," : "", s->fields[i].name,
			pl_type_name(s->fields[i].type));
	fputc('\n', out);
}

int pl_plan_order_free(const pl_plan *p)
{
	for (size_t i = p->nops; i-- > 0;) {
		const pl_operator *op = &p->ops[i];
		if (op->split == PL_SPLIT_RANGE ||
		    op->split == PL_SPLIT_RANGE_MERGE)
			return 0;
		if (op->any_order ||
		    (op->partition_keys > 0 && op->split == PL_SPLIT_DEFAULT &&
		     op->def->merge != NULL))
			return (int)i + 1;
	}
	return 0;
}

int pl_plan_output_shared(const pl_plan *p)
{
	if (p->env.nranks == 1 || p->nodes != 1 ||
	    p->sink_format != PL_SINK_CSV || p->zstd_level != 0 ||
	    p->sink_kind != PL_OUTPUT_FILE)
		return 0;
	return pl_plan_order_free(p);
}

/* How several ranks make one CSV file (framework/output.c). */
static void print_output(const pl_plan *p, FILE *out)
{
	if (p->env.nranks == 1 || p->sink_format != PL_SINK_CSV)
		return;
	int freed = pl_plan_output_shared(p);
	if (freed > 0)
		fprintf(out,
			"  output: the ranks append whole rows to one file "
			"(row order is free after [%s]); nothing is copied "
			"at the end\n",
			p->ops[freed - 1].def->name);
	else
		fprintf(out, "  output: each rank writes a part; the parts "
			     "are put together in rank order at the end\n");
}

static void print_partitioning(const pl_plan *p, FILE *out)
{
	fprintf(out, "  partitioning: %s\n",
		p->env.nranks == 1
		    ? "one rank reads everything"
		    : "each rank reads its share of the input (CSV: "
		      "byte ranges moved to record starts; HDF5: rows)");
	for (size_t i = 0; p->env.nranks > 1 && i < p->nops; i++) {
		const pl_operator *op = &p->ops[i];
		if (op->def->partial == NULL || op->def->merge == NULL)
			continue;
		const char *how =
		    op->split == PL_SPLIT_NONE ? "kept on each rank"
		    : op->split == PL_SPLIT_RANGE_MERGE && op->rows_stored
			? "split among the ranks by key ranges (sample sort; "
			  "rows go to their ranks unsorted and each rank "
			  "sorts its range once, unless a rank spills)"
		    : op->split == PL_SPLIT_RANGE_MERGE && op->rows_at
			? "split among the ranks by key ranges (sample sort; "
			  "each rank reads its own range back unless it "
			  "spills)"
		    : op->split == PL_SPLIT_RANGE ||
			    op->split == PL_SPLIT_RANGE_MERGE
			? "split among the ranks by key ranges (sample sort)"
		    : op->partition_keys ? "shuffled among the ranks by key"
					 : "gathered to rank 0 in input order";
		fprintf(out, "    [%s]: partial state %s\n", op->def->name,
			how);
	}
}

/* Which columns the source converts (projection pushdown). */
static void print_read(const pl_plan *p, FILE *out)
{
	size_t n = p->schemas[0].n, all = p->source_ncols;
	if (!pl_source_projectable(p->source))
		fprintf(out, "    reads: every column listed below (%s)\n",
			pl_section_find(p->source_sec, "columns") != NULL
			    ? "as `columns` names them"
			    : "validate = all");
	else if (n < all)
		fprintf(out,
			"    reads: %zu of %zu columns, the ones the job uses; "
			"the other %zu are skipped (CSV: checked for "
			"structure, not converted)\n",
			n, all, all - n);
	else
		fprintf(out, "    reads: all %zu columns (the job uses each)\n",
			all);
}

void pl_plan_print_annotated(const pl_plan *p, FILE *out,
			     pl_plan_annotate_fn note, void *arg)
{
	fprintf(out,
		"job '%s': %d rank%s on %d node%s, memory budget %.1f MiB per "
		"node (%.1f MiB per rank), chunk rows %zu%s\n",
		p->job_name, p->env.nranks, p->env.nranks == 1 ? "" : "s",
		p->nodes, p->nodes == 1 ? "" : "s",
		(double)p->memory / (1 << 20),
		(double)p->env.memory_budget / (1 << 20), p->env.chunk_rows,
		p->chunk_rows ? " (fixed)" : " (start; adaptive)");
	fprintf(out, "  [source] %s\n", pl_source_describe(p->source));
	if (note)
		note(arg, 0, out);
	print_read(p, out);
	print_schema(&p->schemas[0], out);
	for (size_t i = 0; i < p->nops; i++) {
		const pl_operator *op = &p->ops[i];
		char desc[512] = "";
		if (op->def->describe)
			op->def->describe(op, desc, sizeof(desc));
		fprintf(out, "  [%s] %s%s%s\n", op->def->name,
			op->def->kind == PL_OP_BLOCKING ? "(blocking) "
							: "(streaming) ",
			desc, "");
		if (note)
			note(arg, i + 1, out);
		print_schema(&p->schemas[i + 1], out);
	}
	fprintf(out, "  [sink] %s: %s%s%s\n",
		p->sink_format == PL_SINK_HDF5 ? "hdf5" : "csv", p->sink_path,
		p->zstd_level ? ", zstd" : "",
		p->overwrite ? ", overwrite" : "");
	if (note)
		note(arg, p->nops + 1, out);
	print_partitioning(p, out);
	print_output(p, out);
}

void pl_plan_print(const pl_plan *p, FILE *out)
{
	pl_plan_print_annotated(p, out, NULL, NULL);
}

void pl_plan_free(pl_plan *p)
{
	if (p->ops != NULL && p->schemas != NULL)
		free_ops(p);
	if (p->schemas)
		pl_schema_free(&p->schemas[0]);
	free(p->schemas);
	free(p->ops);
	pl_source_close(p->source);
	pl_registry_free(&p->registry);
	pl_conf_free(&p->conf);
	free(p->job_name);
	free(p->spill_dir);
	free(p->metrics_path);
	memset(p, 0, sizeof(*p));
}

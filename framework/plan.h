/* The planner: turns a job.conf into a checked chain source -> operators
 * -> sink, with the schema after every stage, before any data is read. */
#ifndef PIPELINE_FRAMEWORK_PLAN_H
#define PIPELINE_FRAMEWORK_PLAN_H

#include <stdio.h>

#include "framework/budget.h"
#include "framework/conf.h"
#include "framework/registry.h"
#include "framework/source.h"
#include "pipeline/operator.h"

enum { PL_SINK_CSV, PL_SINK_HDF5 };

typedef struct pl_plan_options {
	char *const *sets; /* --set values */
	size_t nsets;
	const char *memory;  /* --memory, or NULL */
	const char *metrics; /* --metrics, or NULL */
	int explain;	     /* skip the existing-output check */
	int rank, nranks;
	int nodes, node_size; /* the budget is split among a node's ranks */
	int64_t now_us;	      /* now(), taken once for the whole job */
} pl_plan_options;

typedef struct pl_plan {
	pl_conf conf;
	pl_registry registry;
	pl_op_env env;
	char *job_name;
	pl_node_info node; /* memory and caches, as probed */
	uint64_t memory;   /* node budget, bytes */
	size_t chunk_rows; /* fixed rows per chunk, or 0 for auto */
	char *spill_dir;
	char *metrics_path; /* or NULL */
	int nodes;
	int node_size; /* ranks on this rank's node */

	const pl_section *source_sec;
	pl_source *source;

	size_t nops;
	pl_operator *ops;
	pl_schema *schemas;  /* nops + 1: after the source, after each op */
	size_t source_ncols; /* the source's columns before projection */

	const pl_section *sink_sec;
	char sink_path[4096];
	int sink_format;
	int zstd_level;	 /* 0: none */
	int hdf5_layout; /* PL_HDF5_COLUMNS or PL_HDF5_COMPOUND */
	char hdf5_group[1024];
	int overwrite;
	int sink_kind;	   /* enum pl_output_kind (output_path.h) */
	int exclude_sink;  /* the source's glob matches the sink: skip it */
	int split_guess;   /* guess the CSV split's edges (see cli.c) */
	int split_retries; /* runs before this one that guessed and failed */
} pl_plan;

/* Loads conf_path, checks sections, keys, names and types, opens the
 * source (reading only its header and inference sample) and initialises
 * every operator. builtins is the NULL-terminated list of compiled-in
 * operators. On failure returns the error code; the plan is then freed. */
int pl_plan_build(pl_plan *p, const char *conf_path, const pl_plan_options *o,
		  const pl_operator_def *const *builtins, pl_pool *pool,
		  pl_error *err);

/* Prints stages, their column names and types, to out (--explain). */
void pl_plan_print(const pl_plan *p, FILE *out);

/* Writes more lines about stage k (0 the source, 1..nops the operators,
 * nops + 1 the sink) under its line of the plan. */
typedef void (*pl_plan_annotate_fn)(void *arg, size_t k, FILE *out);

/* pl_plan_print with note's lines under each stage (--profile). */
void pl_plan_print_annotated(const pl_plan *p, FILE *out,
			     pl_plan_annotate_fn note, void *arg);

/* Whether the order of the rows reaching the sink means nothing: 1 + the
 * index of the last operator whose rows carry no order (any_order, or
 * state spread by partition_keys) when no range split (a sort) follows
 * it, else 0 (input order, or a sort's). */
int pl_plan_order_free(const pl_plan *p);

/* Where the ranks may append to one output file (framework/output.c):
 * pl_plan_order_free's answer for an uncompressed CSV file written by
 * several ranks of one host, else 0. */
int pl_plan_output_shared(const pl_plan *p);

/* Destroys operators, closes the source, frees everything. */
void pl_plan_free(pl_plan *p);

#endif

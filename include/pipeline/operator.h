/* The operator API: what every operator, built-in or custom, implements.
 *
 * An operator is a table of callbacks (pl_operator_def) and per-instance
 * state. The runtime calls, for each instance of a section:
 *
 *   init     once, with the section's keys and the input schema; it fills
 *            the output schema and rejects keys it does not know;
 *   process  for every input batch, in input order; a streaming operator
 *            emits its output for that batch, a blocking one keeps state;
 *   finish   once after the last batch; a blocking operator emits its
 *            result here;
 *   destroy  always, also after a failure, to release everything.
 *
 * Blocking operators are built as partial state + merge so that the runtime
 * can split their work: several instances each see part of the input, each
 * exports its partial state as batches (partial), and one instance absorbs
 * them (merge) before finish. Streaming operators leave both NULL.
 *
 * Ownership: a batch passed to process or to an emitter is borrowed for the
 * call only; keep what you need by copying it into your own state. Batches
 * an operator emits are its own to free or reuse once the emit returns.
 * All memory for batches and state comes from env->pool, so that it counts
 * against the memory budget.
 *
 * Errors: return 0, or a negative PL_ERR_* code after filling err with a
 * message that names the section ("job.conf:12: [myop] ..."); data errors
 * should name the input line when the batch has provenance (see batch.h).
 */
#ifndef PIPELINE_OPERATOR_H
#define PIPELINE_OPERATOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/api.h"
#include "pipeline/batch.h"
#include "pipeline/error.h"
#include "pipeline/pool.h"
#include "pipeline/section.h"

PL_BEGIN_DECLS

/* 2: plugins carry a layout stamp (pl_abi_stamp). 3: rows_view. 4:
 * rows_stored. 5: last_partial. */
#define PL_OPERATOR_API_VERSION 5

/* Returned (positive) by an emitter when downstream needs no more rows:
 * the operator should stop emitting and return PL_STOP from process. */
#define PL_STOP 1

/* Where an operator sends its output batches. */
typedef struct pl_emitter {
	int (*fn)(void *arg, pl_batch *b, pl_error *err);
	void *arg;
} pl_emitter;

/* Sends b downstream; returns 0, PL_STOP or a negative error. */
static inline int pl_emit(const pl_emitter *e, pl_batch *b, pl_error *err)
{
	return e->fn(e->arg, b, err);
}

/* What the runtime gives every operator instance. */
typedef struct pl_op_env {
	pl_pool *pool;
	int rank;	      /* this rank, 0-based */
	int nranks;	      /* ranks in the job */
	size_t memory_budget; /* bytes this rank may hold in operator state */
	size_t chunk_rows;    /* preferred rows per emitted batch */
	const char *spill_dir;
	const char *job_name;
	/* Added after API 1 (zero from a runtime that predates them): */
	int nodes;	      /* nodes the ranks run on (0: unknown, as 1) */
	uint64_t input_bytes; /* the job source's bytes (0: unknown) */
	int64_t now_us; /* the job's now(): microseconds, alike on every rank */
	/* Nonzero once SIGINT or SIGTERM arrived (NULL: never). A loop that
	 * runs long without emitting (a merge of spilled runs) checks it and
	 * returns pl_interrupted(); emitting checks it too. */
	const volatile sig_atomic_t *stop;
} pl_op_env;

/* Nonzero when the job is to stop (a signal arrived). */
static inline int pl_should_stop(const pl_op_env *env)
{
	return env != NULL && env->stop != NULL && *env->stop;
}

typedef struct pl_operator pl_operator;

/* How the runtime splits the work of a blocking operator over ranks (see
 * pl_operator.split). */
enum {
	/* By partition_keys, as described at pl_operator. */
	PL_SPLIT_DEFAULT = 0,
	/* Not split: every rank's instance finishes on its own rows, as a
	 * streaming operator's would, partial/merge notwithstanding. */
	PL_SPLIT_NONE = 1,
	/* By ranges of range_keys (sample sort): each rank gets a contiguous
	 * range of the global order, rank 0 the first, and the ranks' finishes
	 * in rank order make the whole result. Equal keys may straddle ranks,
	 * in input order. */
	PL_SPLIT_RANGE = 2,
	/* As PL_SPLIT_RANGE, for an operator whose partial state is its input
	 * rows (partial_schema equal to the input schema) and whose finish
	 * emits exactly the rows it merged, in range_keys order (equal rows
	 * in the order merged): a plain sort. The runtime then samples the
	 * splitters from the input as it streams, reads partial once, merges
	 * the sorted streams the ranks send by itself, and never creates the
	 * merging instance: no second copy of the rows, no second sort. With
	 * rows_stored (below) it sorts nothing before the shuffle instead, and
	 * a merging instance on each rank sorts that rank's range once. */
	PL_SPLIT_RANGE_MERGE = 3
};

/* One column of a range split's order. */
typedef struct pl_range_key {
	size_t col; /* column of partial_schema */
	int desc;   /* non-zero: descending (NULLs still last) */
} pl_range_key;

/* Operator kinds, for the planner and --explain. */
enum {
	PL_OP_STREAMING = 0, /* one batch in, output for it at once */
	PL_OP_BLOCKING = 1   /* sees all input before emitting */
};

typedef struct pl_operator_def {
	int api_version;	 /* PL_OPERATOR_API_VERSION */
	const char *name;	 /* section name, [a-z_][a-z0-9_]* */
	const char *description; /* one line for --list-operators */
	int kind;		 /* PL_OP_STREAMING or PL_OP_BLOCKING */

	/* Reads the section (reject unknown keys with pl_section_check_keys;
	 * `plugin` is the runtime's and already consumed), checks names and
	 * types against in, fills out (initialised empty). May set op->state.
	 */
	int (*init)(pl_operator *op, const pl_section *sec, const pl_schema *in,
		    pl_schema *out, pl_error *err);
	/* Consumes one input batch. May return PL_STOP (see above). */
	int (*process)(pl_operator *op, const pl_batch *in,
		       const pl_emitter *out, pl_error *err);
	/* After the last input batch. NULL: nothing to do. */
	int (*finish)(pl_operator *op, const pl_emitter *out, pl_error *err);
	/* Releases op->state. Must cope with a failed or partial init. */
	void (*destroy)(pl_operator *op);

	/* Blocking operators: emit this instance's partial state as batches
	 * of schema op->partial_schema (filled by init), and absorb such a
	 * batch from another instance of the same section. */
	int (*partial)(pl_operator *op, const pl_emitter *out, pl_error *err);
	int (*merge)(pl_operator *op, const pl_batch *partial, pl_error *err);

	/* Optional: one line for --explain beyond the name, e.g. "keys: id1".
	 */
	void (*describe)(const pl_operator *op, char *buf, size_t cap);
} pl_operator_def;

struct pl_operator {
	const pl_operator_def *def;
	const pl_op_env *env;
	const pl_section *section; /* lives as long as the operator */
	void *state;		   /* the operator's own */
	pl_schema partial_schema;  /* blocking operators with partial/merge */
	/* With partial/merge: the first partition_keys columns of
	 * partial_schema are keys, and partial rows with equal keys must meet
	 * in one instance; the runtime may then spread the state over ranks
	 * (and spill partitions) by key. Each merging instance then receives
	 * only some keys, and its finish must emit the rows of exactly the
	 * keys it received: the union of all instances' finishes is the
	 * answer, in no particular order across them. 0: all partial state
	 * goes to one instance, in input order.
	 *
	 * Runtime checks: every batch an operator emits must match its output
	 * schema (column count, types, each column's len equal to nrows), or
	 * the job stops with an error naming the section. A blocking
	 * operator without partial and merge is refused on several ranks
	 * (unless split is PL_SPLIT_NONE). */
	size_t partition_keys;

	/* Added after API version 1 shipped: init may set them, and an
	 * operator that does not leaves them zero, which keeps the behaviour
	 * described above. */

	/* How the runtime splits an instance with partial/merge over ranks
	 * (PL_SPLIT_*). */
	int split;
	/* PL_SPLIT_RANGE: partial emits the state's rows ordered by these
	 * columns of partial_schema (NULLs last in either direction, equal
	 * rows in input order), the same rows each time it is called. Owned
	 * by the operator. */
	const pl_range_key *range_keys;
	size_t nrange_keys;
	/* Optional: when the instance is split across ranks, called on every
	 * rank together after the input has ended and before partial, with
	 * comm pointing at the job's MPI_Comm; for collective work such as
	 * reading a share of another file. Returns 0 or a negative PL_ERR_*
	 * with err set; the runtime makes the ranks agree on the outcome.
	 * Setting it also says that finish alone cannot end the instance: on
	 * one rank (comm then points at MPI_COMM_NULL when the job has no
	 * MPI) the runtime calls it, then sends the partial state through
	 * its spill partitions, merging each into a fresh instance that
	 * finishes it, as if the partitions were ranks. */
	int (*before_split)(pl_operator *op, const void *comm, pl_error *err);
	/* Set by init when process() takes dictionary-encoded string columns
	 * (pipeline/batch.h); otherwise the operator only ever sees plain
	 * ones. */
	int dict_input;
	/* An operator that spills on its own (rather than through the
	 * runtime's spilling of partial state) keeps here the bytes it has
	 * written; the runtime adds them to the metrics' bytes_spilled. */
	uint64_t spilled_bytes;
	/* Optional, with partial/merge and partition_keys: the columns of the
	 * input schema that hold the partial state's keys, partition_keys of
	 * them, in the same order and of the same types. Setting it promises
	 * that one instance may take input rows (process) and partial rows
	 * (merge) interleaved, in any order, and still finish with the same
	 * result. Across ranks the runtime may then send input rows straight
	 * to the rank that owns their keys, where its instance processes
	 * them, instead of aggregating them here first; and merges partial
	 * state as it arrives. Owned by the operator. */
	const size_t *input_keys;
	/* With input_keys: about how many rows partial would emit now, kept
	 * current by process. The runtime compares its growth with the rows
	 * processed to see whether aggregating here reduces anything. */
	uint64_t state_rows;
	/* Optional, for the planner's projection pushdown (only the source
	 * columns some stage uses are converted): sets in_used[i] = 1 for
	 * every column i of in (in_used comes zeroed) that this instance
	 * reads or names in its section, given out_used, one flag per column
	 * of out, saying which of its output columns later stages need. NULL:
	 * every input column is used. When the planner drops unused source
	 * columns it destroys the instance and runs init again on the
	 * narrower input, so a column the section names must be marked even
	 * when only its name matters (a select's drop). */
	void (*columns_used)(const pl_operator *op, const pl_schema *in,
			     const pl_schema *out, const uint8_t *out_used,
			     uint8_t *in_used);
	/* Optional: called on every rank together before the instance's
	 * first batch (before the input streams, or for an operator after a
	 * merge point, before that point's merge), with comm pointing at the
	 * job's MPI_Comm (MPI_COMM_NULL when the job has no MPI); for
	 * collective set-up such as a table the ranks of a node build once
	 * and share (pipeline/node_group.h). Every rank calls it even when
	 * it will see no rows. Returns 0 or a negative PL_ERR_* with err set;
	 * the runtime makes the ranks agree on the outcome. */
	int (*prepare)(pl_operator *op, const void *comm, pl_error *err);
	/* Set by init when the order of the rows this instance emits carries
	 * no meaning (a join's: the contract gives it none), as it carries
	 * none after an instance whose state is spread by partition_keys.
	 * When nothing after it orders them again (a range split), the
	 * ranks of one host may then write the output interleaved, whole
	 * rows at a time, into one file instead of parts copied together in
	 * rank order at the end. */
	int any_order;
	/* Optional, with PL_SPLIT_RANGE_MERGE: fills out (an empty batch of
	 * partial_schema, the runtime's) with rows [from, from + n) of what
	 * partial emits. Set by init; the operator clears it when that stops
	 * being possible (a sort that spilled). When it is still set after
	 * the input has ended, the runtime keeps the instance until the
	 * merge and reads through it, after partial, the rows it sends and
	 * this rank's own range, which it does not send. Positions run over
	 * everything partial would emit, the rows the instance processed,
	 * also when partial's emitter stopped it at its first batch
	 * (PL_STOP): the runtime calls partial that way to have the rows
	 * ordered, then reads them only through rows_at. Returns 0 or a
	 * PL_ERR_* with err set. */
	int (*rows_at)(pl_operator *op, uint64_t from, size_t n, pl_batch *out,
		       pl_error *err);
	/* Optional, with rows_at: lends what rows_at copies from, so that the
	 * runtime reads rows in place instead of copies. rows gets the
	 * columns (of partial_schema) and their row count, *idx where the
	 * rows at positions [from, from + n) are among them: position from +
	 * k is row (*idx)[k]. The runtime only reads them, until it next calls
	 * the operator, and never frees them. Set and cleared with rows_at.
	 * Returns 0 or a PL_ERR_* with err set. */
	int (*rows_view)(pl_operator *op, uint64_t from, size_t n,
			 pl_batch *rows, const uint32_t **idx, pl_error *err);
	/* Optional, with rows_at: lends the rows the instance has processed,
	 * in the order it took them and before any sorting (columns of
	 * partial_schema; rows->nrows of them). The runtime may then send
	 * each row to the rank of its key range without having the instance
	 * order them first, and have a new instance on that rank take every
	 * rank's rows in input order and sort them once (no call to partial
	 * on this instance). Read only, until the runtime next calls the
	 * operator; never freed by it. Set and cleared with rows_at. Returns
	 * 0 or a PL_ERR_* with err set. */
	int (*rows_stored)(pl_operator *op, pl_batch *rows, pl_error *err);
	/* Set by the runtime (1) for the length of a partial call after
	 * which it only destroys the instance: partial may then free the
	 * state it has emitted as it goes, so that the instance merging
	 * what arrives meanwhile on this rank reuses that memory. 0 at
	 * every other call; an operator may ignore it. */
	int last_partial;
};

/* The layout a plugin was compiled against: the API version and the sizes
 * and a few offsets of the structs it shares with the runtime, as its
 * compiler saw them. The runtime refuses a plugin whose stamp differs from
 * its own, naming what to rebuild, rather than letting it read fields at
 * the wrong place. */
typedef struct pl_abi_stamp {
	uint32_t api_version; /* PL_OPERATOR_API_VERSION */
	uint32_t stamp_size;  /* sizeof(pl_abi_stamp) */
	uint32_t def_size;    /* sizeof(pl_operator_def) */
	uint32_t operator_size;
	uint32_t env_size;
	uint32_t section_size;
	uint32_t schema_size;
	uint32_t column_size;
	uint32_t batch_size;
	uint32_t error_size;
	uint32_t emitter_size;
	uint32_t state_offset;	  /* offsetof(pl_operator, state) */
	uint32_t spilled_offset;  /* offsetof(pl_operator, spilled_bytes) */
	uint32_t describe_offset; /* offsetof(pl_operator_def, describe) */
} pl_abi_stamp;

#define PL_ABI_STAMP_INIT                                                      \
	{                                                                      \
		PL_OPERATOR_API_VERSION, sizeof(pl_abi_stamp),                 \
		    sizeof(pl_operator_def), sizeof(pl_operator),              \
		    sizeof(pl_op_env), sizeof(pl_section), sizeof(pl_schema),  \
		    sizeof(pl_column), sizeof(pl_batch), sizeof(pl_error),     \
		    sizeof(pl_emitter), offsetof(pl_operator, state),          \
		    offsetof(pl_operator, spilled_bytes),                      \
		    offsetof(pl_operator_def, describe)                        \
	}

/* The stamp of this runtime (what a plugin's stamp must equal). */
PL_API const pl_abi_stamp *pl_abi_stamp_runtime(void);

/* A plugin exports two symbols: a function returning its definition, and
 * its layout stamp. Write PL_OPERATOR_EXPORT(my_def) once in the plugin's
 * source; both are exported even when it is built with hidden symbols. */
typedef const pl_operator_def *(*pl_operator_entry_fn)(void);
#define PL_OPERATOR_ENTRY "pl_operator_entry"
#define PL_OPERATOR_ABI "pl_operator_abi"
#define PL_OPERATOR_EXPORT(def)                                                \
	PL_API extern const pl_abi_stamp pl_operator_abi;                      \
	const pl_abi_stamp pl_operator_abi = PL_ABI_STAMP_INIT;                \
	PL_API const pl_operator_def *pl_operator_entry(void);                 \
	const pl_operator_def *pl_operator_entry(void)                         \
	{                                                                      \
		return &(def);                                                 \
	}

PL_END_DECLS

#endif

/* A plugin that makes, on request, each mistake the runtime must catch
 * (test_operator_mistakes.sh). Section [bad], key mistake =
 *   none          pass rows through (streaming)
 *   drop_column   emit one column fewer than declared
 *   wrong_type    declare column 1 as string, emit it as it came
 *   short_column  emit a batch whose last column holds one value fewer
 *   silent_error  return PL_ERR_DATA from process without a message
 *   crash         SIGSEGV at the first batch (on rank crash_rank, or all)
 * BAD_OPERATOR=blocking in the environment gives instead a blocking
 * operator without partial/merge (it emits the number of rows it saw);
 * BAD_OPERATOR=bad_merge a blocking one whose merge keeps the last
 * partial count instead of adding it (for --check-operator);
 * BAD_OPERATOR=null makes the entry point return NULL. Built a second
 * time with BAD_OPERATOR_LAYOUT, it carries a layout stamp that differs
 * from the runtime's. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/operator.h"

typedef struct bad_state {
	const char *mistake;
	long long crash_rank;
	int64_t rows;
	pl_column *cols;
} bad_state;

static const char *const bad_keys[] = {"mistake", "crash_rank", NULL};

static int bad_init(pl_operator *op, const pl_section *sec, const pl_schema *in,
		    pl_schema *out, pl_error *err)
{
	int rc = pl_section_check_keys(sec, bad_keys, err);
	if (rc != 0)
		return rc;
	bad_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "[bad] state");
	op->state = st;
	st->mistake = pl_section_get(sec, "mistake", "none");
	rc = pl_section_get_count(sec, "crash_rank", -1, &st->crash_rank, err);
	st->cols = calloc(in->n + 1, sizeof(*st->cols));
	if (rc != 0 || st->cols == NULL)
		return rc ? rc : pl_error_nomem(err, "[bad] state");
	if (op->def->kind == PL_OP_BLOCKING && op->def->merge != NULL)
		rc = pl_schema_add(&op->partial_schema, "rows", PL_INT64, err);
	if (op->def->kind == PL_OP_BLOCKING)
		return rc ? rc : pl_schema_add(out, "rows", PL_INT64, err);
	rc = pl_schema_copy(out, in, err);
	if (rc == 0 && strcmp(st->mistake, "wrong_type") == 0)
		out->fields[0].type =
		    in->fields[0].type == PL_STRING ? PL_INT64 : PL_STRING;
	return rc;
}

static int bad_process(pl_operator *op, const pl_batch *in,
		       const pl_emitter *out, pl_error *err)
{
	bad_state *st = op->state;
	pl_batch view = *in;
	memcpy(st->cols, in->cols, in->ncols * sizeof(*st->cols));
	view.cols = st->cols;
	if (op->def->kind == PL_OP_BLOCKING) {
		st->rows += (int64_t)in->nrows;
		return 0;
	}
	if (strcmp(st->mistake, "drop_column") == 0)
		view.ncols--;
	else if (strcmp(st->mistake, "short_column") == 0 && in->nrows > 0)
		st->cols[in->ncols - 1].len--;
	else if (strcmp(st->mistake, "silent_error") == 0)
		return PL_ERR_DATA;
	else if (strcmp(st->mistake, "crash") == 0 &&
		 (st->crash_rank < 0 || st->crash_rank == op->env->rank))
		raise(SIGSEGV);
	return pl_emit(out, &view, err);
}

static int bad_finish(pl_operator *op, const pl_emitter *out, pl_error *err)
{
	bad_state *st = op->state;
	pl_schema s;
	pl_schema_init(&s);
	int rc = pl_schema_add(&s, "rows", PL_INT64, err);
	pl_batch *b = rc ? NULL : pl_batch_new(&s, 1, op->env->pool, err);
	pl_schema_free(&s);
	if (b == NULL)
		return rc ? rc : PL_ERR_NOMEM;
	rc = pl_column_push_i64(&b->cols[0], st->rows, op->env->pool, err);
	pl_batch_sync_rows(b);
	if (rc == 0)
		rc = pl_emit(out, b, err);
	pl_batch_free(b, op->env->pool);
	return rc;
}

/* The mistake: = where += was meant. */
static int bad_merge(pl_operator *op, const pl_batch *partial, pl_error *err)
{
	bad_state *st = op->state;
	(void)err;
	if (partial->nrows > 0)
		st->rows = pl_col_i64(&partial->cols[0])[partial->nrows - 1];
	return 0;
}

static void bad_destroy(pl_operator *op)
{
	bad_state *st = op->state;
	if (st != NULL)
		free(st->cols);
	free(st);
	op->state = NULL;
}

static const pl_operator_def bad_streaming = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "bad",
    .description = "makes operator mistakes on request (tests)",
    .kind = PL_OP_STREAMING,
    .init = bad_init,
    .process = bad_process,
    .destroy = bad_destroy,
};

static const pl_operator_def bad_blocking = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "bad",
    .description = "blocking, without partial/merge (tests)",
    .kind = PL_OP_BLOCKING,
    .init = bad_init,
    .process = bad_process,
    .finish = bad_finish,
    .destroy = bad_destroy,
};

static const pl_operator_def bad_merging = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "bad",
    .description = "blocking, with a wrong merge (tests)",
    .kind = PL_OP_BLOCKING,
    .init = bad_init,
    .process = bad_process,
    .finish = bad_finish,
    .destroy = bad_destroy,
    .partial = bad_finish,
    .merge = bad_merge,
};

static const pl_operator_def *pick(void)
{
	const char *v = getenv("BAD_OPERATOR");
	if (v != NULL && strcmp(v, "null") == 0)
		return NULL;
	if (v != NULL && strcmp(v, "blocking") == 0)
		return &bad_blocking;
	if (v != NULL && strcmp(v, "bad_merge") == 0)
		return &bad_merging;
	return &bad_streaming;
}

#ifdef BAD_OPERATOR_LAYOUT
/* As a plugin built against headers where pl_operator had one more
 * field would carry. */
PL_API extern const pl_abi_stamp pl_operator_abi;
const pl_abi_stamp pl_operator_abi = {PL_OPERATOR_API_VERSION,
				      sizeof(pl_abi_stamp),
				      sizeof(pl_operator_def),
				      sizeof(pl_operator) + 8,
				      sizeof(pl_op_env),
				      sizeof(pl_section),
				      sizeof(pl_schema),
				      sizeof(pl_column),
				      sizeof(pl_batch),
				      sizeof(pl_error),
				      sizeof(pl_emitter),
				      offsetof(pl_operator, state),
				      offsetof(pl_operator, spilled_bytes) + 8,
				      offsetof(pl_operator_def, describe)};
PL_API const pl_operator_def *pl_operator_entry(void);
const pl_operator_def *pl_operator_entry(void)
{
	return pick();
}
#else
PL_API const pl_abi_stamp pl_operator_abi = PL_ABI_STAMP_INIT;
PL_API const pl_operator_def *pl_operator_entry(void);
const pl_operator_def *pl_operator_entry(void)
{
	return pick();
}
#endif

/* [sort]: by = col [asc|desc], ...; limit = N; per = k1, k2.
 *
 * Rows are copied into a row store and a permutation of their indices is
 * sorted at the end. With a limit the store is pruned (sorted, then cut to
 * the first N, or the first N of each `per` group) whenever it holds twice
 * what the last pruning kept, so top-N holds O(N) rows whatever the input
 * size. Per groups are made contiguous by sorting on the `per` keys first.
 *
 * A small limit per group takes one pass instead (see top_groups): with
 * many groups the pruning above would re-sort every kept row each time the
 * input adds as many again.
 *
 * Otherwise, when the store and the permutation that sorts it would pass
 * half the memory budget, the held rows are sorted (and limited) and
 * spilled as a run, and finish merges the runs (external merge sort, see
 * sort_spill.h). Runs are cut from the input in order, so the merge keeps
 * the sort stable.
 *
 * Across ranks a sort without a limit is split by key ranges (sample
 * sort, framework/exec_range.c): finish doubles as partial, and keeps the
 * sorted permutation so that a second call emits the same rows without
 * sorting again. With a limit, each rank's top N goes to rank 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/group_table.h"
#include "operators/prefetch.h"
#include "operators/row_order.h"
#include "operators/row_store.h"
#include "operators/sort_spill.h"
#include "pipeline/operator.h"

/* Per-group limits up to this keep sorted slot arrays; a row enters one
 * by a binary search and a move of at most this many slots. */
enum { TOP_MAX_LIMIT = 64, TOP_MIN_DEAD = 4096 };

/* The top `limit` rows of each per group, in one pass. A group keeps the
 * references of its best rows in slots sorted by the by keys, ties in
 * input order (a newcomer goes after its equals and loses a tie with the
 * last). A reference below base is a stored row, from base on a row of
 * the batch being absorbed; the batch's rows still kept at its end are
 * stored then, and rows pushed out leave dead rows in the store that a
 * compaction drops once they outnumber the live ones.
 *
 * When the first by key is a number, each slot also keeps the code of its
 * row's value there (pl_order_code; NULL as UINT64_MAX, since NULLs
 * sort last), and slots not yet filled hold UINT64_MAX: most rows of a
 * long input lose to a full group's last row, and codes decide them, and
 * the place of most that enter, without reaching into the store (a cache
 * miss a row at 1e5 groups); only equal codes compare rows. */
typedef struct top_groups {
	pl_group_table table;	/* the per keys, one row a group */
	const pl_column **keys; /* the batch's per columns, for the table */
	pl_order_key *gorder;	/* the table's columns, ascending */
	uint32_t *slots;	/* group g's references at g * limit */
	uint32_t *count;	/* references held by each group */
	bool coded;		/* slots keep codes (see above) */
	uint64_t *codes;	/* beside slots, once top_reserve made room */
	size_t cap;		/* groups slots, count, codes have room for */
	size_t dead;		/* stored rows no group refers to */
	uint32_t *gid;		/* per batch row: its group */
	uint32_t *taken;	/* batch rows that entered a group, in order */
	uint8_t *gone;		/* per batch row: pushed out again */
	size_t ntaken, batch_cap;
	const pl_column *bcols; /* the batch being absorbed */
	size_t base;		/* references from here on are its rows */
} top_groups;

typedef struct sort_state {
	pl_order_key *order; /* the per keys, then the by keys */
	size_t norder;
	size_t nper;
	bool has_limit;
	size_t limit;
	size_t prune_at; /* store size that triggers pruning */
	pl_row_store rows;
	bool per_top; /* top holds the rows */
	top_groups top;
	pl_sort_spill spill; /* runs spilled when over the budget */
	pl_range_key *range; /* without a limit: the order, for the runtime */
	uint32_t *perm;	     /* sorted held rows, kept for a second finish */
	size_t nperm;
} sort_state;

static const char *const sort_keys[] = {"by", "limit", "per", NULL};

/* Builds st->order from `per` (ascending) and `by`. */
static int parse_order(pl_operator *op, sort_state *st, const pl_section *sec,
		       const pl_schema *in, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	pl_order_key *by = NULL, *per = NULL;
	size_t nby = 0, nper = 0;
	if (pl_section_find(sec, "by") == NULL)
		return pl_section_error(sec, NULL, err, "needs by = columns");
	int rc = pl_order_parse(sec, "by", in, true, pool, &by, &nby, err);
	if (rc == 0 && pl_section_find(sec, "per") != NULL)
		rc = pl_order_parse(sec, "per", in, false, pool, &per, &nper,
				    err);
	if (rc == 0) {
		st->order = pl_pool_alloc(pool, (nper + nby) * sizeof(*by));
		if (st->order == NULL)
			rc = pl_error_nomem(err, "sort keys");
	}
	if (rc == 0) {
		if (nper > 0)
			memcpy(st->order, per, nper * sizeof(*per));
		memcpy(st->order + nper, by, nby * sizeof(*by));
		st->norder = nper + nby;
		st->nper = nper;
	}
	pl_pool_free(pool, by);
	pl_pool_free(pool, per);
	return rc;
}

static int parse_limit(sort_state *st, const pl_section *sec, pl_error *err)
{
	long long n;
	st->has_limit = pl_section_find(sec, "limit") != NULL;
	if (!st->has_limit) {
		if (pl_section_find(sec, "per") != NULL)
			return pl_section_error(sec, "per", err,
						"per needs a limit");
		return 0;
	}
	int rc = pl_section_get_count(sec, "limit", 0, &n, err);
	if (rc != 0)
		return rc;
	st->limit = (unsigned long long)n > PL_ROW_STORE_MAX_ROWS
			? PL_ROW_STORE_MAX_ROWS
			: (size_t)n;
	st->prune_at = st->limit > PL_ROW_STORE_MAX_ROWS / 2
			   ? PL_ROW_STORE_MAX_ROWS
			   : 2 * st->limit;
	return 0;
}

/* Sets up the group table and buffers of the one-pass top-N per group. */
static int top_init(sort_state *st, const pl_schema *in, pl_pool *pool,
		    pl_error *err)
{
	top_groups *t = &st->top;
	pl_type *types = pl_pool_alloc(pool, st->nper * sizeof(*types));
	if (types == NULL)
		return pl_error_nomem(err, "sort groups");
	for (size_t k = 0; k < st->nper; k++)
		types[k] = in->fields[st->order[k].col].type;
	int rc = pl_group_table_init(&t->table, types, st->nper, pool, err);
	pl_pool_free(pool, types);
	if (rc != 0)
		return rc;
	t->keys = pl_pool_alloc(pool, st->nper * sizeof(*t->keys));
	t->gorder = pl_pool_alloc(pool, st->nper * sizeof(*t->gorder));
	if (t->keys == NULL || t->gorder == NULL)
		return pl_error_nomem(err, "sort groups");
	for (size_t k = 0; k < st->nper; k++)
		t->gorder[k] = (pl_order_key){k, false};
	t->coded = st->norder > st->nper &&
		   pl_order_has_code(in->fields[st->order[st->nper].col].type);
	return 0;
}

static void top_free(top_groups *t, pl_pool *pool)
{
	if (t->table.pool != NULL)
		pl_group_table_free(&t->table);
	pl_pool_free(pool, t->keys);
	pl_pool_free(pool, t->gorder);
	pl_pool_free(pool, t->slots);
	pl_pool_free(pool, t->count);
	pl_pool_free(pool, t->codes);
	pl_pool_free(pool, t->gid);
	pl_pool_free(pool, t->taken);
	pl_pool_free(pool, t->gone);
}

/* Makes room for the slots of ngroups groups, new groups empty. */
static int top_reserve(sort_state *st, size_t ngroups, pl_pool *pool,
		       pl_error *err)
{
	top_groups *t = &st->top;
	if (ngroups <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 256;
	while (cap < ngroups)
		cap *= 2;
	uint32_t *slots =
	    pl_pool_realloc(pool, t->slots, cap * st->limit * sizeof(*slots));
	if (slots == NULL)
		return pl_error_nomem(err, "sort groups");
	t->slots = slots;
	uint32_t *count = pl_pool_realloc(pool, t->count, cap * sizeof(*count));
	if (count == NULL)
		return pl_error_nomem(err, "sort groups");
	memset(count + t->cap, 0, (cap - t->cap) * sizeof(*count));
	t->count = count;
	if (t->coded) {
		size_t k = st->limit, have = t->cap * k;
		uint64_t *codes =
		    pl_pool_realloc(pool, t->codes, cap * k * sizeof(*codes));
		if (codes == NULL)
			return pl_error_nomem(err, "sort groups");
		memset(codes + have, 0xff, (cap * k - have) * sizeof(*codes));
		t->codes = codes;
	}
	t->cap = cap;
	return 0;
}

/* Per-row buffers for a batch of n rows, grown only for a larger batch. */
static int top_scratch(top_groups *t, size_t n, pl_pool *pool, pl_error *err)
{
	if (n <= t->batch_cap)
		return 0;
	uint32_t *gid = pl_pool_realloc(pool, t->gid, n * sizeof(*gid));
	if (gid != NULL)
		t->gid = gid;
	uint32_t *taken = pl_pool_realloc(pool, t->taken, n * sizeof(*taken));
	if (taken != NULL)
		t->taken = taken;
	uint8_t *gone = pl_pool_realloc(pool, t->gone, n);
	if (gone != NULL)
		t->gone = gone;
	if (gid == NULL || taken == NULL || gone == NULL)
		return pl_error_nomem(err, "sort groups");
	t->batch_cap = n;
	return 0;
}

/* Compares the rows behind two references on the by keys. */
static int top_cmp(const sort_state *st, uint32_t a, uint32_t b)
{
	const top_groups *t = &st->top;
	const pl_column *ca = st->rows.cols, *cb = st->rows.cols;
	size_t ra = a, rb = b;
	if (a >= t->base) {
		ca = t->bcols;
		ra -= t->base;
	}
	if (b >= t->base) {
		cb = t->bcols;
		rb -= t->base;
	}
	return pl_row_order_compare_across(ca, ra, cb, rb, st->order + st->nper,
					   st->norder - st->nper);
}

/* The code of batch row ref's first by key, NULL as UINT64_MAX. */
static uint64_t top_code(const sort_state *st, uint32_t ref)
{
	const top_groups *t = &st->top;
	const pl_order_key *k = &st->order[st->nper];
	const pl_column *c = &t->bcols[k->col];
	size_t r = ref - t->base;
	return pl_order_code_or_null(c, r, k->desc);
}

/* top_cmp of slot i of group g with batch row ref, whose code is code:
 * by the codes when they differ. */
static int top_cmp_slot(const sort_state *st, uint32_t g, size_t i,
			uint32_t ref, uint64_t code)
{
	const top_groups *t = &st->top;
	size_t at = (size_t)g * st->limit + i;
	if (t->coded && t->codes[at] != code)
		return t->codes[at] < code ? -1 : 1;
	return top_cmp(st, t->slots[at], ref);
}

/* Forgets the row behind a reference pushed out of its group. */
static void top_drop(top_groups *t, uint32_t ref)
{
	if (ref >= t->base)
		t->gone[ref - t->base] = 1;
	else
		t->dead++;
}

/* How many rows ahead top_absorb fetches a group's slots: the groups of a
 * batch are known before any row is offered, and most offers end at one
 * load of a group's last code, a cache miss once groups outgrow the
 * caches. */
enum { TOP_AHEAD = 16 };

static inline void top_prefetch(const sort_state *st, uint32_t g)
{
	const top_groups *t = &st->top;
	size_t k = st->limit;
	if (t->coded)
		pl_prefetch(&t->codes[g * k + k - 1]);
	pl_prefetch(&t->count[g]);
	pl_prefetch(&t->slots[g * k]);
}

/* Offers batch row ref (later in the input than every row held) to group
 * g. */
static void top_offer(sort_state *st, uint32_t g, uint32_t ref)
{
	top_groups *t = &st->top;
	size_t k = st->limit, n, lo = 0, hi;
	uint64_t code = 0, *c = NULL;
	if (t->coded) {
		code = top_code(st, ref);
		c = t->codes + (size_t)g * k;
		if (code > c[k - 1])
			return;
	}
	uint32_t *s = t->slots + (size_t)g * k;
	n = t->count[g];
	if (n == k) {
		if (top_cmp_slot(st, g, n - 1, ref, code) <= 0)
			return;
		top_drop(t, s[--n]);
	}
	/* after every slot that does not sort after ref */
	for (hi = n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		if (top_cmp_slot(st, g, mid, ref, code) > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	memmove(s + lo + 1, s + lo, (n - lo) * sizeof(*s));
	s[lo] = ref;
	if (c != NULL) {
		memmove(c + lo + 1, c + lo, (n - lo) * sizeof(*c));
		c[lo] = code;
	}
	t->count[g] = (uint32_t)(n + 1);
	t->taken[t->ntaken++] = (uint32_t)(ref - t->base);
}

/* Points group g's slot holding from at to instead. */
static void top_retarget(sort_state *st, uint32_t g, uint32_t from, uint32_t to)
{
	uint32_t *s = st->top.slots + (size_t)g * st->limit;
	for (size_t i = 0; i < st->top.count[g]; i++)
		if (s[i] == from) {
			s[i] = to;
			return;
		}
}

/* Stores the batch rows still held and points their slots at them. The
 * taken rows are ascending, so a new reference (base + j, j <= i) never
 * meets one still to be moved (base + a later i). When storing fails the
 * slots still point into the batch: the error ends the job, and destroy
 * reads no slot. */
static int top_flush(sort_state *st, pl_pool *pool, pl_error *err)
{
	top_groups *t = &st->top;
	size_t k = 0;
	for (size_t j = 0; j < t->ntaken; j++)
		if (!t->gone[t->taken[j]])
			t->taken[k++] = t->taken[j];
	int rc = pl_row_store_take(&st->rows, t->bcols, NULL, t->taken, k, pool,
				   err);
	for (size_t j = 0; rc == 0 && j < k; j++)
		top_retarget(st, t->gid[t->taken[j]],
			     (uint32_t)(t->base + t->taken[j]),
			     (uint32_t)(t->base + j));
	return rc;
}

/* The stored rows the groups hold, group by group (pool buffer). */
static uint32_t *top_held(const sort_state *st, size_t *n, pl_pool *pool,
			  pl_error *err)
{
	const top_groups *t = &st->top;
	size_t live = st->rows.nrows - t->dead;
	uint32_t *idx = pl_pool_alloc(pool, (live ? live : 1) * sizeof(*idx));
	if (idx == NULL) {
		pl_error_nomem(err, "a sort permutation");
		return NULL;
	}
	*n = 0;
	for (size_t g = 0; g < t->table.ngroups; g++)
		for (size_t i = 0; i < t->count[g]; i++)
			idx[(*n)++] = t->slots[g * st->limit + i];
	return idx;
}

/* Drops the dead rows from the store. */
static int top_compact(sort_state *st, pl_pool *pool, pl_error *err)
{
	top_groups *t = &st->top;
	size_t n;
	uint32_t *idx = top_held(st, &n, pool, err);
	if (idx == NULL)
		return PL_ERR_NOMEM;
	int rc = pl_row_store_keep(&st->rows, idx, n, pool, err);
	pl_pool_free(pool, idx);
	if (rc != 0)
		return rc;
	n = 0;
	for (size_t g = 0; g < t->table.ngroups; g++)
		for (size_t i = 0; i < t->count[g]; i++)
			t->slots[g * st->limit + i] = (uint32_t)n++;
	t->dead = 0;
	return 0;
}

static int top_absorb(sort_state *st, const pl_batch *b, pl_pool *pool,
		      pl_error *err)
{
	top_groups *t = &st->top;
	if (b->nrows > PL_ROW_STORE_MAX_ROWS - st->rows.nrows)
		return pl_error_set(err, PL_ERR_NOMEM,
				    "more than %zu rows held by one operator",
				    PL_ROW_STORE_MAX_ROWS);
	for (size_t k = 0; k < st->nper; k++)
		t->keys[k] = &b->cols[st->order[k].col];
	int rc = top_scratch(t, b->nrows, pool, err);
	if (rc == 0)
		rc = pl_group_table_map(&t->table, t->keys, b->nrows, t->gid,
					err);
	if (rc == 0)
		rc = top_reserve(st, t->table.ngroups, pool, err);
	if (rc != 0)
		return rc;
	t->bcols = b->cols;
	t->base = st->rows.nrows;
	t->ntaken = 0;
	memset(t->gone, 0, b->nrows);
	for (size_t i = 0; i < b->nrows; i++) {
		if (i + TOP_AHEAD < b->nrows)
			top_prefetch(st, t->gid[i + TOP_AHEAD]);
		top_offer(st, t->gid[i], (uint32_t)(t->base + i));
	}
	rc = top_flush(st, pool, err);
	t->base = st->rows.nrows;
	if (rc == 0 && t->dead >= TOP_MIN_DEAD && 2 * t->dead > st->rows.nrows)
		rc = top_compact(st, pool, err);
	return rc;
}

/* The held rows in output order: groups by their per keys, each group's
 * rows as its slots hold them. */
static int top_sorted_rows(sort_state *st, pl_pool *pool, uint32_t **idx,
			   size_t *n, pl_error *err)
{
	top_groups *t = &st->top;
	size_t ng = t->table.ngroups, live = st->rows.nrows - t->dead;
	uint32_t *order = pl_pool_alloc(pool, (ng ? ng : 1) * sizeof(*order));
	*idx = pl_pool_alloc(pool, (live ? live : 1) * sizeof(**idx));
	int rc = order && *idx ? 0 : pl_error_nomem(err, "a sort permutation");
	for (size_t g = 0; rc == 0 && g < ng; g++)
		order[g] = (uint32_t)g;
	if (rc == 0)
		rc = pl_row_order_sort(order, ng, t->table.keys, t->gorder,
				       st->nper, pool, err);
	*n = 0;
	for (size_t j = 0; rc == 0 && j < ng; j++) {
		const uint32_t *s = t->slots + (size_t)order[j] * st->limit;
		for (size_t i = 0; i < t->count[order[j]]; i++)
			(*idx)[(*n)++] = s[i];
	}
	pl_pool_free(pool, order);
	if (rc != 0) {
		pl_pool_free(pool, *idx);
		*idx = NULL;
	}
	return rc;
}

/* Whether positions [from, from + n) of the sorted permutation exist. */
static int check_positions(const sort_state *st, uint64_t from, size_t n,
			   pl_error *err)
{
	if (st->perm == NULL || from > st->nperm || n > st->nperm - from)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "sort: rows %llu+%zu of %zu asked for",
				    (unsigned long long)from, n, st->nperm);
	return 0;
}

/* pl_operator.rows_at: rows of the sorted permutation partial emitted. */
static int sort_rows_at(pl_operator *op, uint64_t from, size_t n, pl_batch *out,
			pl_error *err)
{
	sort_state *st = op->state;
	int rc = check_positions(st, from, n, err);
	return rc ? rc
		  : pl_row_store_fill(out, &st->rows, st->perm, (size_t)from, n,
				      op->env->pool, err);
}

/* pl_operator.rows_view: the stored rows and that stretch of the sorted
 * permutation. */
static int sort_rows_view(pl_operator *op, uint64_t from, size_t n,
			  pl_batch *rows, const uint32_t **idx, pl_error *err)
{
	sort_state *st = op->state;
	int rc = check_positions(st, from, n, err);
	if (rc != 0)
		return rc;
	*rows = (pl_batch){.nrows = st->rows.nrows,
			   .ncols = st->rows.ncols,
			   .cols = st->rows.cols};
	*idx = st->perm + from;
	return 0;
}

/* pl_operator.rows_stored: the stored rows, in input order. */
static int sort_rows_stored(pl_operator *op, pl_batch *rows, pl_error *err)
{
	sort_state *st = op->state;
	(void)err;
	*rows = (pl_batch){.nrows = st->rows.nrows,
			   .ncols = st->rows.ncols,
			   .cols = st->rows.cols};
	return 0;
}

/* Without a limit the whole order can be split across ranks by key
 * ranges (sample sort, framework/exec_range.c), since partial emits the
 * rows sorted, and the same rows again when asked twice. */
static int set_range(pl_operator *op, sort_state *st, pl_error *err)
{
	st->range =
	    pl_pool_alloc(op->env->pool, st->norder * sizeof(*st->range));
	if (st->range == NULL)
		return pl_error_nomem(err, "sort keys");
	for (size_t k = 0; k < st->norder; k++)
		st->range[k] =
		    (pl_range_key){st->order[k].col, st->order[k].desc};
	op->split = PL_SPLIT_RANGE_MERGE;
	op->range_keys = st->range;
	op->nrange_keys = st->norder;
	op->rows_at = sort_rows_at;
	op->rows_view = sort_rows_view;
	op->rows_stored = sort_rows_stored;
	return 0;
}

static void sort_columns_used(const pl_operator *op, const pl_schema *in,
			      const pl_schema *out, const uint8_t *out_used,
			      uint8_t *in_used)
{
	const sort_state *st = op->state;
	(void)out;
	for (size_t i = 0; i < in->n; i++)
		in_used[i] = out_used[i];
	for (size_t k = 0; k < st->norder; k++)
		in_used[st->order[k].col] = 1;
}

static int sort_init(pl_operator *op, const pl_section *sec,
		     const pl_schema *in, pl_schema *out, pl_error *err)
{
	sort_state *st = pl_pool_calloc(op->env->pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "sort state");
	op->state = st;
	op->columns_used = sort_columns_used;
	pl_sort_spill_init(&st->spill, op->env->pool, op->env->spill_dir,
			   op->env->memory_budget);
	int rc = pl_section_check_keys(sec, sort_keys, err);
	if (rc == 0)
		rc = parse_order(op, st, sec, in, err);
	if (rc == 0)
		rc = parse_limit(st, sec, err);
	st->per_top =
	    st->nper > 0 && st->limit > 0 && st->limit <= TOP_MAX_LIMIT;
	if (rc == 0 && st->per_top)
		rc = top_init(st, in, op->env->pool, err);
	if (rc == 0)
		rc = pl_row_store_init(&st->rows, in, NULL, 0, op->env->pool,
				       err);
	if (rc == 0)
		rc = pl_schema_copy(out, in, err);
	if (rc == 0)
		rc = pl_schema_copy(&op->partial_schema, in, err);
	if (rc == 0 && !st->has_limit)
		rc = set_range(op, st, err);
	return rc;
}

/* Drops from the sorted idx[0..*n) the rows past the limit: overall, or
 * within each run of equal per keys. */
static void apply_limit(const sort_state *st, uint32_t *idx, size_t *n)
{
	if (!st->has_limit)
		return;
	if (st->nper == 0) {
		if (*n > st->limit)
			*n = st->limit;
		return;
	}
	const pl_column *cols = st->rows.cols;
	size_t kept = 0, in_group = 0;
	for (size_t i = 0; i < *n; i++) {
		if (i > 0 && pl_row_order_compare(cols, st->order, st->nper,
						  idx[i - 1], idx[i]) != 0)
			in_group = 0;
		if (in_group++ < st->limit)
			idx[kept++] = idx[i];
	}
	*n = kept;
}

/* The sorted, limited permutation of the stored rows (pool buffer). */
static int sorted_rows(sort_state *st, pl_pool *pool, uint32_t **idx, size_t *n,
		       pl_error *err)
{
	*n = st->rows.nrows;
	*idx = pl_pool_alloc(pool, (*n ? *n : 1) * sizeof(**idx));
	if (*idx == NULL)
		return pl_error_nomem(err, "a sort permutation");
	for (size_t i = 0; i < *n; i++)
		(*idx)[i] = (uint32_t)i;
	int rc = pl_row_order_sort(*idx, *n, st->rows.cols, st->order,
				   st->norder, pool, err);
	if (rc != 0) {
		pl_pool_free(pool, *idx);
		*idx = NULL;
		return rc;
	}
	apply_limit(st, *idx, n);
	return 0;
}

/* Keeps only the rows that can still make the result, in sorted order,
 * which keeps equal rows in input order for the sorts to come. The next
 * pruning waits until the store has doubled again. */
static int prune(sort_state *st, pl_pool *pool, pl_error *err)
{
	uint32_t *idx;
	size_t n;
	int rc = sorted_rows(st, pool, &idx, &n, err);
	if (rc == 0)
		rc = pl_row_store_keep(&st->rows, idx, n, pool, err);
	pl_pool_free(pool, idx);
	if (rc == 0 && n > st->prune_at / 2)
		st->prune_at = n > PL_ROW_STORE_MAX_ROWS / 2
				   ? PL_ROW_STORE_MAX_ROWS
				   : 2 * n;
	return rc;
}

/* Bytes held for n stored rows of columns like cols taking store bytes:
 * with the permutation and the scratch that sorting them takes. */
static size_t held(const sort_state *st, const pl_column *cols, size_t store,
		   size_t n)
{
	return store + n * sizeof(uint32_t) +
	       pl_row_order_scratch(cols, st->order, st->norder, n);
}

/* Writes the held rows, sorted and limited, as a run, and empties the
 * store. */
static int spill_run(pl_operator *op, sort_state *st, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	op->rows_at = NULL; /* the rows are now a merge of runs */
	op->rows_view = NULL;
	op->rows_stored = NULL;
	uint32_t *idx;
	size_t n;
	int rc = sorted_rows(st, pool, &idx, &n, err);
	if (rc != 0)
		return rc;
	pl_batch rows = {st->rows.nrows, st->rows.ncols, st->rows.cols, NULL,
			 NULL};
	rc = pl_sort_spill_run(&st->spill, &rows, idx, n,
			       pl_row_store_chunk(op->env), err);
	op->spilled_bytes = st->spill.bytes;
	pl_pool_free(pool, idx);
	if (rc == 0)
		rc = pl_row_store_clear(&st->rows, pool, err);
	return rc;
}

/* Stores b's rows, spilling when the budget's half would be passed:
 * before taking them when the store would grow past it (a column doubling
 * could otherwise take the whole budget at once), and after when b alone
 * passes it. */
static int store_rows(pl_operator *op, sort_state *st, const pl_batch *b,
		      pl_error *err)
{
	pl_pool *pool = op->env->pool;
	size_t half = op->env->memory_budget / 2, n = st->rows.nrows;
	int rc = 0;
	if (n > 0 &&
	    held(st, b->cols,
		 pl_row_store_bytes_after(&st->rows, b->cols, b->nrows),
		 n + b->nrows) > half)
		rc = spill_run(op, st, err);
	if (rc == 0)
		rc = pl_row_store_take(&st->rows, b->cols, NULL, NULL, b->nrows,
				       pool, err);
	if (rc == 0 && st->has_limit && st->rows.nrows > st->prune_at)
		rc = prune(st, pool, err);
	if (rc == 0 && held(st, st->rows.cols, pl_row_store_bytes(&st->rows),
			    st->rows.nrows) > half)
		rc = spill_run(op, st, err);
	return rc;
}

static int absorb(pl_operator *op, const pl_batch *b, pl_error *err)
{
	sort_state *st = op->state;
	pl_pool_free(op->env->pool, st->perm);
	st->perm = NULL;
	if (st->has_limit && st->limit == 0)
		return 0;
	if (st->per_top)
		return top_absorb(st, b, op->env->pool, err);
	return store_rows(op, st, b, err);
}

static int sort_process(pl_operator *op, const pl_batch *in,
			const pl_emitter *out, pl_error *err)
{
	(void)out;
	return absorb(op, in, err);
}

static int sort_merge(pl_operator *op, const pl_batch *partial, pl_error *err)
{
	return absorb(op, partial, err);
}

/* Spills the rows still held as the last run and merges all runs. */
static int finish_spilled(pl_operator *op, sort_state *st,
			  const pl_emitter *out, pl_error *err)
{
	pl_sort_merge_spec spec = {st->order, st->norder, st->nper,
				   st->has_limit ? st->limit : SIZE_MAX};
	int rc = spill_run(op, st, err);
	if (rc == 0)
		rc = pl_sort_spill_merge(&st->spill, &spec, &st->rows,
					 pl_row_store_chunk(op->env), out, err);
	op->spilled_bytes = st->spill.bytes; /* merged runs included */
	return rc == PL_STOP ? 0 : rc;
}

static int sort_finish(pl_operator *op, const pl_emitter *out, pl_error *err)
{
	sort_state *st = op->state;
	pl_pool *pool = op->env->pool;
	uint32_t *idx;
	size_t n;
	if (st->spill.nruns > 0)
		return finish_spilled(op, st, out, err);
	int rc = 0;
	if (st->perm == NULL) {
		rc = st->per_top ? top_sorted_rows(st, pool, &idx, &n, err)
				 : sorted_rows(st, pool, &idx, &n, err);
		if (rc != 0)
			return rc;
		st->perm = idx;
		st->nperm = n;
	}
	rc = pl_row_store_emit(&st->rows, st->perm, st->nperm,
			       pl_row_store_chunk(op->env), pool, out, err);
	return rc == PL_STOP ? 0 : rc;
}

static void sort_destroy(pl_operator *op)
{
	sort_state *st = op->state;
	if (st == NULL)
		return;
	pl_pool *pool = op->env->pool;
	pl_row_store_free(&st->rows, pool);
	pl_sort_spill_free(&st->spill);
	top_free(&st->top, pool);
	pl_pool_free(pool, st->range);
	pl_pool_free(pool, st->perm);
	pl_pool_free(pool, st->order);
	pl_pool_free(pool, st);
	op->state = NULL;
}

static void sort_describe(const pl_operator *op, char *buf, size_t cap)
{
	const sort_state *st = op->state;
	const pl_section *sec = op->section;
	if (st == NULL || sec == NULL) {
		snprintf(buf, cap, "sort");
		return;
	}
	int k = snprintf(buf, cap, "by: %s", pl_section_get(sec, "by", ""));
	if (k >= 0 && (size_t)k < cap && st->nper > 0)
		k += snprintf(buf + k, cap - (size_t)k, "; per: %s",
			      pl_section_get(sec, "per", ""));
	if (k >= 0 && (size_t)k < cap && st->has_limit)
		snprintf(buf + k, cap - (size_t)k, "; limit: %zu", st->limit);
}

size_t pl_sort_runs(const pl_operator *op)
{
	const sort_state *st = op->state;
	return st ? st->spill.written : 0;
}

uint64_t pl_sort_spilled_bytes(const pl_operator *op)
{
	const sort_state *st = op->state;
	return st ? st->spill.bytes : 0;
}

const pl_operator_def pl_op_sort = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "sort",
    .description = "sort rows by columns (stable, NULLs last), optionally "
		   "the top N, or the top N per group",
    .kind = PL_OP_BLOCKING,
    .init = sort_init,
    .process = sort_process,
    .finish = sort_finish,
    .destroy = sort_destroy,
    .partial = sort_finish,
    .merge = sort_merge,
    .describe = sort_describe,
};

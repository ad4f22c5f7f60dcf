/* The partitioned hash join of [join] across ranks, for a right side too
 * large for every rank to hold (see join.c for when it is chosen).
 *
 * The operator becomes a merge point whose partial state is both sides'
 * rows in one "wire" layout (op->partial_schema): the join keys
 * normalised so that keys that match hash alike (an int64 key met by a
 * float64 one travels as a double, -0.0 as 0.0), a side column (0 left,
 * 1 right), the left columns, then the right side's stored columns (its
 * keys, then the kept ones). A row fills its own side's columns and
 * leaves the other side's NULL. The keys come first and are the partition
 * keys, so the runtime's shuffle sends both sides of a key to one rank;
 * when that rank passes its budget, the runtime's spill
 * (framework/spill.c) writes both sides of a key to the same partition
 * file and later joins each file on its own: a grace hash join.
 *
 * During the input a rank only keeps its left rows (the runtime spills
 * them when over budget). After it, before_split restricts the right
 * source to this rank's share (collective: byte ranges of a CSV, rows of
 * HDF5), and partial sends the left rows and that share. The instance
 * that receives them keeps both sides and joins them in finish, right
 * rows chained by hash as in a broadcast join.
 *
 * On one rank the same partial state goes to the runtime's spill
 * partitions instead of other ranks (see before_split in
 * pipeline/operator.h): a grace hash join, so that a right side larger
 * than the budget is joined a partition at a time.
 *
 * Output order is any order, as the contract allows for joins. NULL keys
 * never match; a left join still writes their rows, wherever they land
 * (all NULL keys hash alike, so they all land on one rank). */
#include <stdio.h>
#include <string.h>

#include "operators/join_internal.h"

/* The wire layout's columns. */
static size_t side_col(const join_state *st)
{
	return st->nkeys;
}

static size_t left_col(const join_state *st)
{
	return st->nkeys + 1;
}

static size_t right_col(const join_state *st)
{
	return st->nkeys + 1 + st->nleft;
}

static int make_wire(pl_operator *op, join_state *st, pl_error *err)
{
	pl_schema *w = &op->partial_schema;
	char name[40];
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < st->nkeys; k++) {
		const join_key *key = &st->keys[k];
		snprintf(name, sizeof(name), "__key%zu", k);
		rc = pl_schema_add(w, name,
				   key->kind == KEY_SAME
				       ? st->out.fields[key->left].type
				       : PL_FLOAT64,
				   err);
	}
	if (rc == 0)
		rc = pl_schema_add(w, "__side", PL_INT64, err);
	for (size_t c = 0; rc == 0 && c < st->nleft; c++) {
		snprintf(name, sizeof(name), "__left%zu", c);
		rc = pl_schema_add(w, name, st->out.fields[c].type, err);
	}
	for (size_t c = 0; rc == 0 && c < st->right.ncols; c++) {
		snprintf(name, sizeof(name), "__right%zu", c);
		rc = pl_schema_add(w, name, st->right.cols[c].type, err);
	}
	return rc;
}

static int before_split(pl_operator *op, const void *comm, pl_error *err)
{
	join_state *st = op->state;
	st->share = true;
	return pl_input_share(st->src, comm, err);
}

/* Held in the hash table, a right side takes up to about four times its
 * file size (narrow rows: a 35 MB CSV of 2 million rows, 80 MiB of
 * records and buckets), and a broadcast must fit in a quarter of the
 * budget beside everything else. */
enum { HOLD_FACTOR = 4 };

/* What a byte sent to another rank costs against a byte parsed and hashed
 * (see choose): shipping is encoding, copying, receiving and storing it
 * again, through shared memory on one node, over the network across
 * nodes. */
enum { SHIP_COST_NODE = 2, SHIP_COST_NET = 4 };

/* distribute = auto: partition when the right side held whole would not
 * fit in a quarter of the rank's budget (every rank holds all of it),
 * else when partitioning does less work per rank than a broadcast. A
 * broadcast's right side is parsed once per node, its k ranks each
 * reading R / k (join_gather.c; k = 1 with a rank per node): R (n - 1) / p
 * bytes more than a rank's share with n nodes and p ranks; a partitioned
 * join sends (R + L) (p - 1) / p^2 bytes (both sides, its share of them,
 * all but 1/p to other ranks) and receives as many. With w the cost of a
 * byte shipped, broadcast wins when R (n - 1) p <= w (R + L) (p - 1):
 * always on one node. Writes the reason to st->why. */
static bool choose(const pl_op_env *env, join_state *st, uint64_t right)
{
	uint64_t left = env->input_bytes ? env->input_bytes : right;
	uint64_t p = env->nranks > 1 ? (uint64_t)env->nranks : 1;
	uint64_t n = env->nodes > 1 ? (uint64_t)env->nodes : 1;
	uint64_t w = n > 1 ? SHIP_COST_NET : SHIP_COST_NODE;
	double mib = 1.0 / (1 << 20);
	if (right > env->memory_budget / 4 / HOLD_FACTOR) {
		snprintf(st->why, sizeof(st->why),
			 "%.0f MiB held would pass a quarter of the %.0f MiB "
			 "budget",
			 (double)right * HOLD_FACTOR * mib,
			 (double)env->memory_budget * mib);
		return true;
	}
	if (p == 1)
		return false;
	bool part = right * (n - 1) * p > w * (right + left) * (p - 1);
	snprintf(st->why, sizeof(st->why),
		 "per rank a broadcast parses and hashes %.0f MiB more, a "
		 "partition sends %.0f MiB at %d times that cost a byte: "
		 "%.0f MiB left, %.0f MiB right, %d ranks, %d node%s",
		 (double)right * (n - 1) / p * mib,
		 (double)(right + left) * (p - 1) / (p * p) * mib, (int)w,
		 (double)left * mib, (double)right * mib, env->nranks, (int)n,
		 n > 1 ? "s" : "");
	return part;
}

int pl_join_pick_distribution(pl_operator *op, join_state *st,
			      const pl_section *sec, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	const char *d = pl_section_get(sec, "distribute", "auto");
	bool part = strcmp(d, "partition") == 0;
	if (strcmp(d, "auto") == 0)
		part = choose(op->env, st, pl_input_size(st->src));
	else if (!part && strcmp(d, "broadcast") != 0)
		return pl_section_error(sec, "distribute", err,
					"distribute must be auto, broadcast "
					"or partition, not '%s'",
					d);
	else
		snprintf(st->why, sizeof(st->why), "distribute = %s", d);
	if (!part) {
		op->split = PL_SPLIT_NONE;
		if (op->env->nranks > 1 && pl_join_ranks_share_nodes(op->env))
			op->prepare = pl_join_prepare;
		return 0;
	}
	st->partitioned = true;
	op->partition_keys = st->nkeys;
	op->before_split = before_split;
	st->chunk = pl_row_store_chunk(op->env);
	int *map = pl_pool_alloc(pool, (st->nleft + 1) * sizeof(*map));
	if (map == NULL)
		return pl_error_nomem(err, "join columns");
	for (size_t c = 0; c < st->nleft; c++)
		map[c] = (int)c;
	int rc =
	    pl_row_store_init(&st->lefts, &st->out, map, st->nleft, pool, err);
	pl_pool_free(pool, map);
	if (rc == 0)
		rc = make_wire(op, st, err);
	if (rc == 0 && (st->wire = pl_batch_new(&op->partial_schema, 1, pool,
						err)) == NULL)
		rc = PL_ERR_NOMEM;
	return rc;
}

int pl_join_keep_left(pl_operator *op, const pl_batch *in, pl_error *err)
{
	join_state *st = op->state;
	return pl_row_store_take(&st->lefts, in->cols, NULL, NULL, in->nrows,
				 op->env->pool, err);
}

/* Appends n NULLs to c. */
static int push_nulls(pl_column *c, size_t n, pl_pool *pool, pl_error *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = pl_column_push_null(c, pool, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Appends key k of rows [from, from + n) of a side's columns (left: the
 * left schema's; right: the store's) to the wire's key column. */
static int wire_key(join_state *st, size_t k, const pl_column *c, size_t from,
		    size_t n, pl_pool *pool, pl_error *err)
{
	pl_column *w = &st->wire->cols[k];
	if (st->keys[k].kind == KEY_SAME)
		return pl_column_append_range(w, c, from, n, pool, err);
	for (size_t i = from; i < from + n; i++) {
		int rc;
		if (pl_column_is_null(c, i)) {
			rc = pl_column_push_null(w, pool, err);
		} else {
			double d = c->type == PL_INT64
				       ? (double)pl_col_i64(c)[i]
				       : pl_col_f64(c)[i];
			rc = pl_column_push_f64(w, d == 0 ? 0 : d, pool, err);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Fills st->wire with rows [from, from + n) of one side: cols are the
 * left schema's columns (side 0) or the right store's (side 1). */
static int to_wire(join_state *st, int side, const pl_column *cols, size_t from,
		   size_t n, pl_pool *pool, pl_error *err)
{
	pl_batch *w = st->wire;
	pl_batch_clear(w);
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < st->nkeys; k++) {
		size_t c = side == 0 ? (size_t)st->keys[k].left : k;
		rc = wire_key(st, k, &cols[c], from, n, pool, err);
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc =
		    pl_column_push_i64(&w->cols[side_col(st)], side, pool, err);
	for (size_t c = 0; rc == 0 && c < st->nleft; c++)
		rc = side == 0
			 ? pl_column_append_range(&w->cols[left_col(st) + c],
						  &cols[c], from, n, pool, err)
			 : push_nulls(&w->cols[left_col(st) + c], n, pool, err);
	for (size_t c = 0; rc == 0 && c < st->right.ncols; c++)
		rc =
		    side == 1
			? pl_column_append_range(&w->cols[right_col(st) + c],
						 &cols[c], from, n, pool, err)
			: push_nulls(&w->cols[right_col(st) + c], n, pool, err);
	w->nrows = n;
	return rc;
}

/* Sends the rows of a store (the left rows, or the right ones) as wire
 * rows. */
static int emit_store(join_state *st, int side, const pl_row_store *rs,
		      pl_pool *pool, const pl_emitter *out, pl_error *err)
{
	int rc = 0;
	for (size_t from = 0; rc == 0 && from < rs->nrows; from += st->chunk) {
		size_t n =
		    rs->nrows - from < st->chunk ? rs->nrows - from : st->chunk;
		rc = to_wire(st, side, rs->cols, from, n, pool, err);
		if (rc == 0)
			rc = pl_emit(out, st->wire, err);
	}
	return rc;
}

/* Reads this rank's share of the right side and sends it as wire rows. */
static int emit_share(join_state *st, pl_pool *pool, const pl_emitter *out,
		      pl_error *err)
{
	size_t n = st->right.ncols;
	pl_column *cols = pl_pool_alloc(pool, (n ? n : 1) * sizeof(*cols));
	if (cols == NULL)
		return pl_error_nomem(err, "join columns");
	int rc = 0;
	for (;;) {
		pl_batch *b;
		rc = pl_input_next(st->src, st->chunk, &b, err);
		if (rc != 0 || b == NULL)
			break;
		for (size_t j = 0; j < n; j++)
			cols[j] = b->cols[st->store_map[j]];
		rc = to_wire(st, 1, cols, 0, b->nrows, pool, err);
		if (rc == 0)
			rc = pl_emit(out, st->wire, err);
		if (rc != 0)
			break;
	}
	pl_pool_free(pool, cols);
	return rc;
}

int pl_join_partial(pl_operator *op, const pl_emitter *out, pl_error *err)
{
	join_state *st = op->state;
	pl_pool *pool = op->env->pool;
	if (!st->partitioned || st->built)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: join: no partial state", __FILE__,
				    __LINE__);
	int rc = emit_store(st, 0, &st->lefts, pool, out, err);
	if (rc == 0)
		rc = emit_store(st, 1, &st->right, pool, out, err);
	if (rc == 0 && st->share)
		rc = emit_share(st, pool, out, err);
	return rc;
}

int pl_join_merge(pl_operator *op, const pl_batch *partial, pl_error *err)
{
	join_state *st = op->state;
	pl_pool *pool = op->env->pool;
	if (!st->partitioned || st->built)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: join: cannot merge", __FILE__,
				    __LINE__);
	size_t n = partial->nrows, nl = 0, nr = 0;
	uint32_t *idx = pl_pool_alloc(pool, (n ? n : 1) * sizeof(*idx));
	if (idx == NULL)
		return pl_error_nomem(err, "join rows");
	/* left rows from the front of idx, right rows from the back */
	const int64_t *side = pl_col_i64(&partial->cols[side_col(st)]);
	for (size_t i = 0; i < n; i++) {
		if (side[i] == 0)
			idx[nl++] = (uint32_t)i;
		else
			idx[n - ++nr] = (uint32_t)i;
	}
	/* the back was filled backwards: restore row order */
	for (size_t a = n - nr, b = n; a + 1 < b; a++, b--) {
		uint32_t t = idx[a];
		idx[a] = idx[b - 1];
		idx[b - 1] = t;
	}
	int rc = pl_row_store_take(&st->lefts, partial->cols + left_col(st),
				   NULL, idx, nl, pool, err);
	if (rc == 0)
		rc =
		    pl_row_store_take(&st->right, partial->cols + right_col(st),
				      NULL, idx + nl, nr, pool, err);
	pl_pool_free(pool, idx);
	return rc;
}

typedef struct prober {
	pl_operator *op;
	const pl_emitter *out;
} prober;

static int probe_rows(void *arg, pl_batch *b, pl_error *err)
{
	prober *p = arg;
	return pl_join_probe(p->op, b, p->out, err);
}

int pl_join_finish_partition(pl_operator *op, const pl_emitter *out,
			     pl_error *err)
{
	join_state *st = op->state;
	int rc = pl_join_build(op, st, false, err);
	prober p = {op, out};
	pl_emitter e = {probe_rows, &p};
	if (rc == 0)
		rc = pl_row_store_emit(&st->lefts, NULL, st->lefts.nrows,
				       st->chunk, op->env->pool, &e, err);
	return rc == PL_STOP ? 0 : rc;
}

/* [join]: path = ... (and any [source] keys) for the right side,
 * on = k1, k2 or left:right pairs, how = inner | left, columns = ...
 *
 * A hash join whose build side is the right table: init only opens it for
 * its schema; the first process (or finish) reads it into a row store and
 * chains its rows by key hash, and every left batch is then probed as it
 * arrives. Chains list rows in right input order, so matches come out in
 * left order, then right order. A left join points unmatched rows at one
 * stored row of NULLs. int64 and float64 keys meet by value: such a key
 * pair is hashed as doubles on both sides.
 *
 * Across ranks the right side is either read whole by every rank (a
 * broadcast join: no traffic, each rank joins its share of the left) or,
 * with distribute = partition or when auto finds it cheaper or the right
 * side too large to hold (join_part.c, choose), the join is a partitioned
 * hash join, across ranks or into spill files on one rank. The hash table
 * is join_table.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/join_internal.h"

/* Left rows probed together: their bucket and record reads overlap. */
enum { PROBE_BLOCK = 256 };

static int key_kind(pl_type l, pl_type r)
{
	bool ln = l == PL_INT64 || l == PL_FLOAT64;
	bool rn = r == PL_INT64 || r == PL_FLOAT64;
	if (ln && rn)
		return l == r ? KEY_SAME : KEY_BY_VALUE;
	if (l == r && (l == PL_STRING || pl_type_is_time(l)))
		return KEY_SAME;
	return -1;
}

/* Resolves one `on` pair into k. */
static int resolve_key(const pl_section *sec, const pl_schema *left,
		       const pl_schema *right, const char *lname,
		       const char *rname, join_key *k, pl_error *err)
{
	int rc = pl_order_find_column(sec, "on", left, lname, &k->left, err);
	if (rc == 0)
		rc = pl_order_find_column(sec, "on", right, rname, &k->right,
					  err);
	if (rc != 0)
		return rc;
	pl_type lt = left->fields[k->left].type;
	pl_type rt = right->fields[k->right].type;
	k->kind = key_kind(lt, rt);
	if (k->kind < 0)
		return pl_section_error(sec, "on", err,
					"cannot join %s column '%s' with %s "
					"column '%s'",
					pl_type_name(lt), lname,
					pl_type_name(rt), rname);
	return 0;
}

/* Reads `left[:right]` at *p into k. */
static int parse_pair(const pl_section *sec, const pl_schema *left,
		      const pl_schema *right, const char **p, join_key *k,
		      pl_error *err)
{
	char *lname = NULL, *rname = NULL;
	int rc;
	bool bad = pl_order_read_name(p, &lname) != 0;
	if (!bad && **p == ':') {
		++*p;
		bad = pl_order_read_name(p, &rname) != 0;
	}
	if (!bad && **p != ',' && **p != '\0')
		bad = true;
	if (bad)
		rc = pl_section_error(sec, "on", err,
				      "expected column, or left:right "
				      "columns, at '%s'",
				      *p);
	else
		rc = resolve_key(sec, left, right, lname, rname ? rname : lname,
				 k, err);
	free(lname);
	free(rname);
	return rc;
}

static int parse_on(pl_pool *pool, join_state *st, const pl_section *sec,
		    const pl_schema *left, const pl_schema *right,
		    pl_error *err)
{
	const char *p = pl_section_get(sec, "on", "");
	size_t cap = 1;
	for (const char *q = p; *q; q++)
		cap += *q == ',';
	st->keys = pl_pool_alloc(pool, cap * sizeof(*st->keys));
	if (st->keys == NULL)
		return pl_error_nomem(err, "join keys");
	for (;;) {
		int rc =
		    parse_pair(sec, left, right, &p, &st->keys[st->nkeys], err);
		if (rc != 0)
			return rc;
		st->nkeys++;
		if (*p == '\0')
			return 0;
		p++; /* the ',' */
	}
}

static bool is_right_key(const join_state *st, int col)
{
	for (size_t k = 0; k < st->nkeys; k++)
		if (st->keys[k].right == col)
			return true;
	return false;
}

/* The kept right columns: `columns`, or all but the keys. */
static int pick_columns(const pl_section *sec, const pl_schema *right,
			join_state *st, int *keep, pl_error *err)
{
	const char *list = pl_section_get(sec, "columns", NULL);
	char **names = NULL;
	size_t n = 0;
	if (list == NULL) {
		for (size_t j = 0; j < right->n; j++)
			if (!is_right_key(st, (int)j))
				keep[n++] = (int)j;
		st->nkeep = n;
		return 0;
	}
	if (pl_split_names(list, &names, &n, err) != 0) {
		char msg[PL_ERROR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		pl_error_clear(err);
		return pl_section_error(sec, "columns", err, "%s", msg);
	}
	int rc = 0;
	for (size_t j = 0; j < n && rc == 0; j++) {
		rc = pl_order_find_column(sec, "columns", right, names[j],
					  &keep[j], err);
		for (size_t i = 0; i < j && rc == 0; i++)
			if (keep[i] == keep[j])
				rc = pl_section_error(sec, "columns", err,
						      "column '%s' listed "
						      "twice",
						      names[j]);
	}
	st->nkeep = n;
	pl_names_free(names, n);
	return rc;
}

/* Left columns, then the kept right ones, renamed name_right on a clash. */
static int build_schema(const pl_section *sec, const pl_schema *left,
			const pl_schema *right, join_state *st, const int *keep,
			pl_error *err)
{
	int rc = pl_schema_copy(&st->out, left, err);
	for (size_t j = 0; j < st->nkeep && rc == 0; j++) {
		const pl_field *f = &right->fields[keep[j]];
		char name[512];
		snprintf(name, sizeof(name), "%s", f->name);
		if (pl_schema_find(&st->out, name) >= 0) {
			snprintf(name, sizeof(name), "%s_right", f->name);
			if (pl_schema_find(&st->out, name) >= 0)
				return pl_section_error(
				    sec,
				    pl_section_find(sec, "columns") ? "columns"
								    : NULL,
				    err,
				    "right column '%s' clashes with a left "
				    "column, and so does '%s'",
				    f->name, name);
		}
		rc = pl_schema_add(&st->out, name, f->type, err);
	}
	return rc;
}

/* Maps stored columns to right columns: the keys, then the kept ones. */
static int make_store_map(pl_pool *pool, join_state *st, const int *keep,
			  const pl_schema *right, pl_error *err)
{
	size_t n = st->nkeys + st->nkeep;
	st->store_map = pl_pool_alloc(pool, n * sizeof(int));
	if (st->store_map == NULL)
		return pl_error_nomem(err, "join columns");
	for (size_t k = 0; k < st->nkeys; k++)
		st->store_map[k] = st->keys[k].right;
	for (size_t j = 0; j < st->nkeep; j++)
		st->store_map[st->nkeys + j] = keep[j];
	return pl_row_store_init(&st->right, right, st->store_map, n, pool,
				 err);
}

static int read_how(const pl_section *sec, join_state *st, pl_error *err)
{
	const char *how = pl_section_get(sec, "how", "inner");
	st->left_join = strcmp(how, "left") == 0;
	if (!st->left_join && strcmp(how, "inner") != 0)
		return pl_section_error(sec, "how", err,
					"how must be inner or left, not '%s'",
					how);
	if (pl_section_find(sec, "on") == NULL)
		return pl_section_error(sec, NULL, err, "needs on = columns");
	return 0;
}

static int check_keys(const pl_section *sec, pl_error *err)
{
	const char **src_keys, **keys;
	size_t n;
	if (pl_input_keys(&src_keys, &n) != 0)
		return pl_error_nomem(err, "a key list");
	keys = realloc(src_keys, (n + 5) * sizeof(*keys));
	if (keys == NULL) {
		free(src_keys);
		return pl_error_nomem(err, "a key list");
	}
	keys[n] = "on";
	keys[n + 1] = "how";
	keys[n + 2] = "columns";
	keys[n + 3] = "distribute";
	keys[n + 4] = NULL;
	int rc = pl_section_check_keys(sec, keys, err);
	free(keys);
	return rc;
}

static int join_setup(pl_operator *op, join_state *st, const pl_section *sec,
		      const pl_schema *in, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	int rc = pl_input_open(sec, pool, &st->src, err);
	if (rc != 0)
		return rc;
	const pl_schema *right = pl_input_schema(st->src);
	rc = parse_on(pool, st, sec, in, right, err);
	if (rc != 0)
		return rc;
	int *keep = pl_pool_alloc(pool, (right->n + 1) * sizeof(int));
	if (keep == NULL)
		return pl_error_nomem(err, "join columns");
	rc = pick_columns(sec, right, st, keep, err);
	if (rc == 0)
		rc = build_schema(sec, in, right, st, keep, err);
	if (rc == 0)
		rc = make_store_map(pool, st, keep, right, err);
	pl_pool_free(pool, keep);
	st->nleft = in->n;
	return rc;
}

/* The left keys, and the left columns needed after the join. */
static void join_columns_used(const pl_operator *op, const pl_schema *in,
			      const pl_schema *out, const uint8_t *out_used,
			      uint8_t *in_used)
{
	const join_state *st = op->state;
	(void)out;
	for (size_t i = 0; i < in->n; i++)
		in_used[i] = out_used[i];
	for (size_t k = 0; k < st->nkeys; k++)
		in_used[st->keys[k].left] = 1;
}

static int join_init(pl_operator *op, const pl_section *sec,
		     const pl_schema *in, pl_schema *out, pl_error *err)
{
	join_state *st = pl_pool_calloc(op->env->pool, 1, sizeof(*st));
	if (st == NULL)
		return pl_error_nomem(err, "join state");
	op->state = st;
	op->columns_used = join_columns_used;
	op->any_order = 1;
	pl_schema_init(&st->out);
	int rc = check_keys(sec, err);
	if (rc == 0)
		rc = read_how(sec, st, err);
	if (rc == 0)
		rc = join_setup(op, st, sec, in, err);
	if (rc == 0)
		rc = pl_schema_copy(out, &st->out, err);
	if (rc == 0)
		rc = pl_join_pick_distribution(op, st, sec, err);
	return rc;
}

/* Hashes value i of c for a key of the given kind (non-NULL). */
static uint64_t key_hash(const pl_column *c, size_t i, int kind, uint64_t h)
{
	if (kind == KEY_SAME)
		return pl_column_hash(c, i, h);
	double d =
	    c->type == PL_INT64 ? (double)pl_col_i64(c)[i] : pl_col_f64(c)[i];
	uint64_t u;
	if (d == 0)
		d = 0; /* -0.0 equals 0.0 */
	memcpy(&u, &d, sizeof(u));
	return pl_hash_mix(h ^ u);
}

bool pl_join_row_hash(const join_state *st, const pl_column *cols, bool left,
		      size_t i, uint64_t *h)
{
	*h = 0x243f6a8885a308d3ULL;
	for (size_t k = 0; k < st->nkeys; k++) {
		const pl_column *c = &cols[left ? (size_t)st->keys[k].left : k];
		if (pl_column_is_null(c, i))
			return false;
		*h = key_hash(c, i, st->keys[k].kind, *h);
	}
	return true;
}

int pl_join_load_right(join_state *st, pl_pool *pool, pl_error *err)
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
		rc = pl_join_table_add(st, cols, b->nrows, pool, err);
		if (rc != 0)
			break;
	}
	pl_pool_free(pool, cols);
	if (rc != 0)
		return rc;
	pl_input_close(st->src);
	st->src = NULL;
	return 0;
}

/* Moves the rows received by the partitioned join into the table. */
static int table_from_store(join_state *st, pl_pool *pool, pl_error *err)
{
	int rc =
	    pl_join_table_add(st, st->right.cols, st->right.nrows, pool, err);
	return rc ? rc : pl_row_store_clear(&st->right, pool, err);
}

int pl_join_build(pl_operator *op, join_state *st, bool load, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	st->built = true;
	st->chunk = pl_row_store_chunk(op->env);
	int rc = load ? pl_join_load_right(st, pool, err)
		      : table_from_store(st, pool, err);
	if (rc == 0)
		rc = pl_join_table_chain(st, pool, err);
	if (rc == 0 && st->left_join)
		rc = pl_join_table_add_nulls(st, pool, err);
	return rc ? rc : pl_join_build_buffers(op, st, err);
}

int pl_join_build_buffers(pl_operator *op, join_state *st, pl_error *err)
{
	pl_pool *pool = op->env->pool;
	st->lidx = pl_pool_alloc(pool, st->chunk * sizeof(*st->lidx));
	st->ridx = pl_pool_alloc(pool, st->chunk * sizeof(*st->ridx));
	st->hashes = pl_pool_alloc(pool, PROBE_BLOCK * sizeof(*st->hashes));
	st->firsts = pl_pool_alloc(pool, PROBE_BLOCK * sizeof(*st->firsts));
	if (st->lidx == NULL || st->ridx == NULL || st->hashes == NULL ||
	    st->firsts == NULL)
		return pl_error_nomem(err, "join row ids");
	st->outb = pl_batch_new(&st->out, st->chunk, pool, err);
	return st->outb == NULL ? PL_ERR_NOMEM : 0;
}

/* Gathers the right columns of the pairs added since the last call into
 * the output batch, while their records are still in cache from the
 * probe. */
static int gather_pending(join_state *st, pl_pool *pool, pl_error *err)
{
	pl_batch *b = st->outb;
	if (st->ngathered == st->npairs)
		return 0;
	if (st->ngathered == 0)
		pl_batch_clear(b);
	int rc = pl_join_table_gather(st, &b->cols[st->nleft],
				      st->ridx + st->ngathered,
				      st->npairs - st->ngathered, pool, err);
	st->ngathered = st->npairs;
	return rc;
}

/* Emits the waiting pairs: left columns from in, right ones from the
 * table's records. */
static int flush(join_state *st, const pl_batch *in, pl_pool *pool,
		 const pl_emitter *out, pl_error *err)
{
	pl_batch *b = st->outb;
	size_t n = st->npairs;
	if (n == 0)
		return 0;
	int rc = gather_pending(st, pool, err);
	st->npairs = 0;
	st->ngathered = 0;
	if (rc != 0)
		return rc;
	for (size_t c = 0; c < st->nleft; c++)
		if (pl_column_append_take(&b->cols[c], &in->cols[c], st->lidx,
					  n, pool, err) != 0)
			return PL_ERR_NOMEM;
	b->nrows = n;
	return pl_emit(out, b, err);
}

static int add_pair(join_state *st, const pl_batch *in, size_t i, uint32_t ref,
		    pl_pool *pool, const pl_emitter *out, pl_error *err)
{
	st->lidx[st->npairs] = (uint32_t)i;
	st->ridx[st->npairs] = ref;
	if (++st->npairs < st->chunk)
		return 0;
	return flush(st, in, pool, out, err);
}

/* Pairs left row i (its hash h, its chain's first ref + 1) with each
 * matching right row, in right order. */
static int probe_row(join_state *st, const pl_batch *in, size_t i, uint64_t h,
		     uint32_t first, pl_pool *pool, const pl_emitter *out,
		     pl_error *err)
{
	bool matched = false;
	int rc = 0;
	for (uint32_t id = first; id != 0 && rc == 0;
	     id = pl_join_table_next(st, id - 1)) {
		if (!pl_join_table_match(st, in, i, h, id - 1))
			continue;
		matched = true;
		rc = add_pair(st, in, i, id - 1, pool, out, err);
	}
	if (rc == 0 && !matched && st->left_join)
		rc = add_pair(st, in, i, st->null_row, pool, out, err);
	return rc;
}

/* Probes rows [from, from + n), n <= PROBE_BLOCK: the hashes first, then
 * the buckets, then the chains, prefetching each step's memory so that
 * the random reads of a block overlap. */
static int probe_block(join_state *st, const pl_batch *in, size_t from,
		       size_t n, pl_pool *pool, const pl_emitter *out,
		       pl_error *err)
{
	for (size_t k = 0; k < n; k++) {
		uint64_t h;
		if (!pl_join_row_hash(st, in->cols, true, from + k, &h)) {
			st->hashes[k] = 0;
			st->firsts[k] = UINT32_MAX; /* a NULL key */
			continue;
		}
		st->hashes[k] = h;
		st->firsts[k] = 0;
		__builtin_prefetch(&st->head[h & st->mask]);
	}
	for (size_t k = 0; k < n; k++) {
		if (st->firsts[k] == UINT32_MAX)
			continue;
		st->firsts[k] = pl_join_table_first(st, st->hashes[k]);
		if (st->firsts[k] != 0)
			pl_join_table_prefetch(st, st->firsts[k] - 1);
	}
	int rc = 0;
	for (size_t k = 0; k < n && rc == 0; k++) {
		uint32_t first = st->firsts[k];
		rc = probe_row(st, in, from + k, st->hashes[k],
			       first == UINT32_MAX ? 0 : first, pool, out, err);
	}
	return rc ? rc : gather_pending(st, pool, err);
}

int pl_join_probe(pl_operator *op, const pl_batch *in, const pl_emitter *out,
		  pl_error *err)
{
	join_state *st = op->state;
	pl_pool *pool = op->env->pool;
	int rc = 0;
	for (size_t i = 0; i < in->nrows && rc == 0; i += PROBE_BLOCK) {
		size_t n = in->nrows - i;
		rc = probe_block(st, in, i, n < PROBE_BLOCK ? n : PROBE_BLOCK,
				 pool, out, err);
	}
	if (rc == 0)
		rc = flush(st, in, pool, out, err);
	st->npairs = 0;
	st->ngathered = 0;
	return rc;
}

static int join_process(pl_operator *op, const pl_batch *in,
			const pl_emitter *out, pl_error *err)
{
	join_state *st = op->state;
	if (st->partitioned)
		return pl_join_keep_left(op, in, err);
	int rc = st->built ? 0 : pl_join_build(op, st, true, err);
	return rc ? rc : pl_join_probe(op, in, out, err);
}

static int join_finish(pl_operator *op, const pl_emitter *out, pl_error *err)
{
	join_state *st = op->state;
	if (st->partitioned)
		return pl_join_finish_partition(op, out, err);
	return st->built ? 0 : pl_join_build(op, st, true, err);
}

static void join_destroy(pl_operator *op)
{
	join_state *st = op->state;
	if (st == NULL)
		return;
	pl_pool *pool = op->env->pool;
	pl_input_close(st->src);
	pl_row_store_free(&st->right, pool);
	pl_row_store_free(&st->lefts, pool);
	pl_batch_free(st->wire, pool);
	pl_schema_free(&st->out);
	pl_batch_free(st->outb, pool);
	void *bufs[] = {st->keys, st->store_map, st->recs,
			st->head, st->hashes,	 st->firsts,
			st->lidx, st->ridx,	 st};
	for (size_t k = 0; k < sizeof(bufs) / sizeof(*bufs); k++)
		pl_pool_free(pool, bufs[k]);
	op->state = NULL;
}

static const char *distribution(const pl_operator *op, const join_state *st)
{
	if (st->partitioned)
		return op->env->nranks > 1 ? ", both sides partitioned by key"
					   : ", both sides partitioned by key "
					     "into spill files";
	if (op->env->nranks < 2)
		return "";
	return pl_join_ranks_share_nodes(op->env)
		   ? ", parsed once per node, each rank reading a part and "
		     "copying the others'"
		   : ", read whole by every rank";
}

static void join_describe(const pl_operator *op, char *buf, size_t cap)
{
	const join_state *st = op->state;
	const pl_section *sec = op->section;
	if (st == NULL || sec == NULL) {
		snprintf(buf, cap, "join");
		return;
	}
	snprintf(buf, cap, "%s join on %s with %s%s%s%s%s",
		 st->left_join ? "left" : "inner",
		 pl_section_get(sec, "on", ""), pl_section_get(sec, "path", ""),
		 distribution(op, st), st->why[0] ? " (" : "", st->why,
		 st->why[0] ? ")" : "");
}

const pl_operator_def pl_op_join = {
    .api_version = PL_OPERATOR_API_VERSION,
    .name = "join",
    .description = "join with a table read from a file (hash join, inner "
		   "or left)",
    .kind = PL_OP_STREAMING,
    .init = join_init,
    .process = join_process,
    .finish = join_finish,
    .destroy = join_destroy,
    .partial = pl_join_partial,
    .merge = pl_join_merge,
    .describe = join_describe,
};

/* A merge point split by key ranges: the sample sort of [sort] across
 * ranks (pl_operator.split = PL_SPLIT_RANGE).
 *
 * Each rank's local instance has sorted its rows (spilling runs under the
 * budget as it would alone). The runtime asks it for them twice:
 *
 *   1. a regular sample: every k-th row of the rank's sorted stream, k
 *      doubling whenever the sample reaches 2 * SAMPLE_ROWS, so that
 *      between SAMPLE_ROWS and twice that many rows are kept whatever the
 *      rank holds. Rank 0 gathers the samples, weights each by the rows it
 *      stands for, and picks N - 1 splitters at equal steps of weight; all
 *      ranks receive them by broadcast.
 *   2. the shuffle: rows go to ranks by where they fall among the
 *      splitters. The stream is sorted, so the destination only grows.
 *      When the instance reads its rows by position (rows_at), partial
 *      only orders them, each rank's range is found by binary search,
 *      and the rows of the other ranks are read out by position: a
 *      rank's own rows are never copied out for the shuffle.
 *
 * Rows and splitters are compared as (keys, sending rank, position in the
 * sender's sorted stream): a total order that agrees with the stable sort
 * of the whole input, since rank r's rows come before rank r + 1's in the
 * input, and a rank's equal rows are in input order in its stream. A
 * splitter can thus fall inside a run of equal keys, and a key shared by
 * most rows is spread over several ranks instead of landing on one.
 *
 * When the instance lends its rows in input order (rows_stored), they are
 * not sorted before the shuffle at all: each row goes to the rank of its
 * range, compared by (keys, rank, input position), and a new instance on
 * each rank takes rank 0's rows first, then rank 1's, ..., each in input
 * order (this rank's own from the first instance, at their turn): its
 * stable sort (once, over that rank's range only) is then the global
 * order, ties included.
 * Sorting every row where it lands, instead of sorting each rank's share
 * and merging what the ranks sent, was measured with two one-process sorts
 * of the two key halves against two of the two row halves and the merge
 * (docs/scaling-log.md).
 *
 * Rank r then holds a contiguous range of the global order. On the other
 * path (a rank spilled, or no rows_stored) what each rank sent is sorted
 * and the streams are merged, rank 0's first among equal keys. Either
 * way received rows wait in run files and the new instance spills sorted
 * runs under the budget, so memory stays bounded; the metrics count each
 * rank's rows by path (rows_unsorted, rows_merged). The output writes
 * rank 0's rows first, then rank 1's, ...: the global order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/exec_internal.h"
#include "framework/range_merge.h"
#include "framework/shuffle.h"

/* Sample rows a rank keeps: between this and twice this. */
enum { SAMPLE_ROWS = 1024 };

/* Columns of a sample after the keys. */
enum { SAMPLE_SRC, SAMPLE_POS, SAMPLE_WEIGHT, SAMPLE_EXTRA };

typedef struct range {
	pl_exec *x;
	const pl_range_key *keys;
	size_t nkeys;
	pl_schema sample_schema; /* the key columns, src, pos, weight */
	pl_batch *sample;	 /* this rank's sample */
	uint64_t stride;	 /* every stride-th row is sampled */
	uint64_t next;		 /* position of the next row to sample */
	uint64_t pos;		 /* rows seen in the current pass */
	pl_batch *split;	 /* the splitters, in order */
	size_t dest;		 /* splitters at or before the current row */
	pl_shuffle sh;
	/* Sampling the input (PL_SPLIT_RANGE_MERGE): positions are not known
	 * yet, and rows are taken at random steps averaging the stride. */
	int at_input;
	uint64_t rng;
	/* The instance reads back this rank's own range (pl_operator.rows_at):
	 * those rows are not sent, and own_lo..own_hi are their positions. */
	int own;
	uint64_t own_lo, own_hi;
	/* The rows go out unsorted, in input order (pl_operator.rows_stored),
	 * and a new instance sorts what arrives. This rank's own rows are not
	 * sent: own_idx[0 .. nown) are their input positions (malloc'd). */
	int stored;
	uint32_t *own_idx;
	size_t nown, own_cap;
} range;

struct pl_range_sample {
	range g;
};

/* Compares row a of cols (partial columns) with splitter s, key by key,
 * then by sender and by position. */
static int compare_split(const range *g, const pl_column *cols, size_t a,
			 int64_t src, uint64_t pos, size_t s)
{
	const pl_batch *sp = g->split;
	for (size_t k = 0; k < g->nkeys; k++) {
		int r = pl_range_compare_key(&g->keys[k], &cols[g->keys[k].col],
					     a, &sp->cols[k], s);
		if (r != 0)
			return r;
	}
	const int64_t s_src = pl_col_i64(&sp->cols[g->nkeys + SAMPLE_SRC])[s];
	const int64_t s_pos = pl_col_i64(&sp->cols[g->nkeys + SAMPLE_POS])[s];
	if (src != s_src)
		return src < s_src ? -1 : 1;
	return (int64_t)pos < s_pos ? -1 : (int64_t)pos > s_pos;
}

static int sample_schema(range *g, const pl_schema *partial, pl_error *err)
{
	pl_schema *s = &g->sample_schema;
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < g->nkeys; k++) {
		if (g->keys[k].col >= partial->n)
			return pl_error_set(err, PL_ERR_INTERNAL,
					    "%s:%d: range key %zu out of range",
					    __FILE__, __LINE__, k);
		char name[32];
		snprintf(name, sizeof(name), "__k%zu", k);
		rc = pl_schema_add(s, name,
				   partial->fields[g->keys[k].col].type, err);
	}
	if (rc == 0)
		rc = pl_schema_add(s, "__src", PL_INT64, err);
	if (rc == 0)
		rc = pl_schema_add(s, "__pos", PL_INT64, err);
	if (rc == 0)
		rc = pl_schema_add(s, "__w", PL_FLOAT64, err);
	return rc;
}

/* Keeps every other sample row (the rows at multiples of twice the
 * stride) and doubles the stride. */
static int thin_sample(range *g, pl_error *err)
{
	pl_pool *pool = g->x->p->env.pool;
	pl_batch *b = g->sample;
	pl_batch *t = pl_batch_new(&g->sample_schema, SAMPLE_ROWS, pool, err);
	if (t == NULL)
		return PL_ERR_NOMEM;
	uint32_t idx[SAMPLE_ROWS];
	size_t n = 0;
	for (size_t r = 0; r < b->nrows && n < SAMPLE_ROWS; r += 2)
		idx[n++] = (uint32_t)r;
	for (size_t c = 0; c < b->ncols; c++) {
		int rc = pl_column_append_take(&t->cols[c], &b->cols[c], idx, n,
					       pool, err);
		if (rc != 0) {
			pl_batch_free(t, pool);
			return rc;
		}
	}
	t->nrows = n;
	pl_batch_free(b, pool);
	g->sample = t;
	g->stride *= 2;
	return 0;
}

static int compare_samples(const range *g, const pl_batch *all, size_t a,
			   size_t b);

/* The distance to the next row to sample from the input: 1 to 2 * stride
 * - 1, uniformly (xorshift64), so that input with a period cannot bias the
 * sample. */
static uint64_t next_step(range *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return 1 + g->rng % (2 * g->stride - 1);
}

/* The sampling pass's emitter: keeps the rows at multiples of stride (at
 * random steps of stride on average, from the input, where positions in
 * the sorted stream are not known yet: input_sample estimates them). */
static int sample_rows(void *arg, pl_batch *b, pl_error *err)
{
	range *g = arg;
	pl_pool *pool = g->x->p->env.pool;
	pl_batch *s = g->sample;
	uint64_t end = g->pos + b->nrows;
	int rc = 0;
	for (; rc == 0 && g->next < end; g->next += g->stride) {
		size_t r = (size_t)(g->next - g->pos);
		for (size_t k = 0; rc == 0 && k < g->nkeys; k++)
			rc = pl_column_push_from(&s->cols[k],
						 &b->cols[g->keys[k].col], r,
						 pool, err);
		if (rc == 0)
			rc = pl_column_push_i64(&s->cols[g->nkeys + SAMPLE_SRC],
						g->x->rank, pool, err);
		if (rc == 0)
			rc = pl_column_push_i64(&s->cols[g->nkeys + SAMPLE_POS],
						(int64_t)g->next, pool, err);
		if (rc == 0)
			rc = pl_column_push_f64(
			    &s->cols[g->nkeys + SAMPLE_WEIGHT], 0, pool, err);
		if (rc == 0 && ++s->nrows == 2 * SAMPLE_ROWS) {
			rc = thin_sample(g, err);
			s = g->sample;
		}
		if (g->at_input)
			g->next += next_step(g) - g->stride;
	}
	g->pos = end;
	return rc;
}

/* Orders the sample by its keys, stably (insertion sort: at most 2 *
 * SAMPLE_ROWS rows, once), as a sample of a sorted stream is. */
static int sort_sample(range *g, pl_error *err)
{
	pl_pool *pool = g->x->p->env.pool;
	pl_batch *b = g->sample;
	uint32_t *idx = malloc((b->nrows ? b->nrows : 1) * sizeof(*idx));
	pl_batch *t =
	    idx ? pl_batch_new(&g->sample_schema, b->nrows, pool, err) : NULL;
	int rc = t ? 0 : idx ? PL_ERR_NOMEM : pl_error_nomem(err, "a sample");
	for (size_t r = 0; rc == 0 && r < b->nrows; r++) {
		size_t j = r;
		while (j > 0 && compare_samples(g, b, idx[j - 1], r) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = (uint32_t)r;
	}
	for (size_t c = 0; rc == 0 && c < b->ncols; c++)
		rc = pl_column_append_take(&t->cols[c], &b->cols[c], idx,
					   b->nrows, pool, err);
	free(idx);
	if (rc != 0) {
		pl_batch_free(t, pool);
		return rc;
	}
	t->nrows = b->nrows;
	pl_batch_free(b, pool);
	g->sample = t;
	return 0;
}

static int start_sample(range *g, pl_error *err)
{
	pl_pool *pool = g->x->p->env.pool;
	g->sample = pl_batch_new(&g->sample_schema, 2 * SAMPLE_ROWS, pool, err);
	if (g->sample == NULL)
		return PL_ERR_NOMEM;
	g->stride = 1;
	g->next = g->pos = 0;
	return 0;
}

/* Each sample row stands for its share of the rows seen. */
static void weigh_sample(range *g)
{
	pl_batch *s = g->sample;
	double w = s->nrows ? (double)g->pos / (double)s->nrows : 0;
	for (size_t r = 0; r < s->nrows; r++)
		pl_col_f64(&s->cols[g->nkeys + SAMPLE_WEIGHT])[r] = w;
}

/* Takes this rank's sample from the local instance's sorted stream. */
static int take_sample(range *g, size_t i, pl_error *err)
{
	int rc = start_sample(g, err);
	pl_emitter e = {sample_rows, g};
	if (rc == 0)
		rc = pl_exec_partial(g->x, i, &e, err);
	weigh_sample(g);
	return rc;
}

/* Takes over the sample of the input (PL_SPLIT_RANGE_MERGE), sorted, with
 * the position of each row in the sorted stream estimated: the j-th of the
 * sorted sample stands for the rows up to about (j + 1/2) weights in. Any
 * position gives a valid split (the stream is sorted by keys, then
 * position); a good estimate spreads a key shared by most rows over
 * several ranks as the sample of the sorted stream did. */
static int input_sample(range *g, pl_range_sample *in, pl_error *err)
{
	g->sample = in->g.sample;
	in->g.sample = NULL;
	g->pos = in->g.pos;
	weigh_sample(g);
	int rc = sort_sample(g, err);
	pl_batch *s = g->sample;
	double w = s->nrows ? (double)g->pos / (double)s->nrows : 0;
	int64_t *pos = pl_col_i64(&s->cols[g->nkeys + SAMPLE_POS]);
	for (size_t j = 0; rc == 0 && j < s->nrows; j++)
		pos[j] = (int64_t)(((double)j + 0.5) * w);
	return rc;
}

static int same_types(const pl_schema *a, const pl_schema *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t c = 0; c < a->n; c++)
		if (a->fields[c].type != b->fields[c].type)
			return 0;
	return 1;
}

int pl_exec_range_open(pl_exec *x, pl_error *err)
{
	for (size_t i = 0; x->nranks > 1 && i < x->p->nops; i++) {
		const pl_operator *op = &x->p->ops[i];
		if (op->split != PL_SPLIT_RANGE_MERGE ||
		    !pl_exec_is_merge_point(x, i))
			continue;
		if (!same_types(&op->partial_schema, &x->p->schemas[i]))
			return pl_error_set(
			    err, PL_ERR_INTERNAL,
			    "%s:%d: [%s] sets PL_SPLIT_RANGE_MERGE, but its "
			    "partial rows are not its input rows",
			    op->section->file, op->section->line,
			    op->section->name);
		pl_range_sample *s = calloc(1, sizeof(*s));
		if (s == NULL)
			return pl_error_nomem(err, "a sample sort");
		x->samples[i] = s;
		s->g.x = x;
		s->g.keys = op->range_keys;
		s->g.nkeys = op->nrange_keys;
		s->g.at_input = 1;
		s->g.rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(x->rank + 1);
		pl_schema_init(&s->g.sample_schema);
		int rc = sample_schema(&s->g, &op->partial_schema, err);
		if (rc == 0)
			rc = start_sample(&s->g, err);
		if (rc != 0)
			return rc;
		s->g.next = next_step(&s->g) - 1;
	}
	return 0;
}

int pl_exec_range_observe(pl_exec *x, size_t i, pl_batch *b, pl_error *err)
{
	return sample_rows(&x->samples[i]->g, b, err);
}

void pl_exec_range_free(pl_exec *x)
{
	for (size_t i = 0; x->samples && i < x->p->nops; i++) {
		pl_range_sample *s = x->samples[i];
		if (s == NULL)
			continue;
		pl_batch_free(s->g.sample, x->p->env.pool);
		pl_schema_free(&s->g.sample_schema);
		free(s);
	}
	free(x->samples);
	x->samples = NULL;
}

/* Compares sample rows a and b of all (rows of different senders). */
static int compare_samples(const range *g, const pl_batch *all, size_t a,
			   size_t b)
{
	for (size_t k = 0; k < g->nkeys; k++) {
		int r = pl_range_compare_key(&g->keys[k], &all->cols[k], a,
					     &all->cols[k], b);
		if (r != 0)
			return r;
	}
	const int64_t *src = pl_col_i64(&all->cols[g->nkeys + SAMPLE_SRC]);
	return src[a] < src[b] ? -1 : src[a] > src[b];
}

/* Rank 0: merges the ranks' samples (each sorted, in rank order) and
 * appends to g->split the sample at each N-th of the total weight. */
static int pick_splitters(range *g, const pl_batch *all, pl_error *err)
{
	pl_pool *pool = g->x->p->env.pool;
	int n = g->x->nranks;
	size_t *at = calloc((size_t)n + 1, sizeof(*at));
	if (at == NULL)
		return pl_error_nomem(err, "sample sort splitters");
	const int64_t *src = pl_col_i64(&all->cols[g->nkeys + SAMPLE_SRC]);
	const double *w = pl_col_f64(&all->cols[g->nkeys + SAMPLE_WEIGHT]);
	/* at[r] .. at[r + 1]: rank r's samples */
	for (size_t row = 0, r = 0; r <= (size_t)n; r++) {
		at[r] = row;
		while (r < (size_t)n && row < all->nrows &&
		       src[row] == (int64_t)r)
			row++;
	}
	size_t *head = malloc((size_t)n * sizeof(*head));
	if (head == NULL) {
		free(at);
		return pl_error_nomem(err, "sample sort splitters");
	}
	double total = 0;
	for (size_t row = 0; row < all->nrows; row++)
		total += w[row];
	memcpy(head, at, (size_t)n * sizeof(*head));
	double cum = 0;
	int rc = 0, next = 1;
	for (;;) {
		int best = -1;
		for (int r = 0; r < n; r++)
			if (head[r] < at[r + 1] &&
			    (best < 0 ||
			     compare_samples(g, all, head[r], head[best]) < 0))
				best = r;
		if (best < 0 || next >= n)
			break;
		size_t row = head[best]++;
		if (cum >= total * next / n) {
			for (size_t c = 0; rc == 0 && c < all->ncols; c++)
				rc = pl_column_push_from(&g->split->cols[c],
							 &all->cols[c], row,
							 pool, err);
			if (rc != 0)
				break;
			g->split->nrows++;
			next++;
		}
		cum += w[row];
	}
	free(head);
	free(at);
	return rc;
}

/* Gathers the samples at rank 0, which picks the splitters, and
 * broadcasts them. Collective. */
static int agree_splitters(range *g, int rc, pl_error *err)
{
	pl_exec *x = g->x;
	pl_pool *pool = x->p->env.pool;
	pl_batch *all = NULL;
	if (rc == 0) {
		g->split = pl_batch_new(&g->sample_schema, 1, pool, err);
		all = x->rank == 0
			  ? pl_batch_new(&g->sample_schema, 1, pool, err)
			  : NULL;
		if (g->split == NULL || (x->rank == 0 && all == NULL))
			rc = PL_ERR_NOMEM;
	}
	rc = pl_mpi_agree(x->comm, rc, err);
	pl_exchange_opts opts = {.round_bytes = PL_SHUFFLE_ROUND_BYTES,
				 .zstd_level = pl_exec_shuffle_level(x),
				 .direct_self = 1};
	pl_exchange *ex = rc ? NULL
			     : pl_exchange_create(x->comm, &g->sample_schema,
						  &opts, pool, err);
	if (rc == 0 && ex == NULL)
		rc = PL_ERR_NOMEM;
	if (rc == 0)
		rc = pl_exchange_gather_to_root(ex, g->sample, all, err);
	if (rc == 0 && x->rank == 0) {
		pl_batch_sync_rows(all);
		rc = pick_splitters(g, all, err);
	}
	if (ex != NULL) {
		rc = pl_mpi_agree(x->comm, rc, err);
		if (rc == 0)
			rc = pl_exchange_bcast(ex, 0, g->split, err);
		pl_exec_count_stats(x, ex);
		pl_exchange_destroy(ex);
	}
	if (rc == 0)
		pl_batch_sync_rows(g->split);
	pl_batch_free(all, pool);
	return rc;
}

/* The shuffle pass's emitter: the rows of a sorted stream go to their
 * ranks in order, so each batch is a few stretches of rows for one rank,
 * each pushed as it ends. */
static int route_rows(void *arg, pl_batch *b, pl_error *err)
{
	range *g = arg;
	int rc = 0;
	size_t from = 0;
	for (size_t r = 0; rc == 0 && r < b->nrows; r++, g->pos++) {
		size_t d = g->dest;
		while (g->dest < g->split->nrows &&
		       compare_split(g, b->cols, r, g->x->rank, g->pos,
				     g->dest) >= 0)
			g->dest++;
		if (g->dest != d) {
			rc = pl_shuffle_push_to(&g->sh, b, from, r - from,
						(int)d, err);
			from = r;
		}
	}
	if (rc == 0)
		rc = pl_shuffle_push_to(&g->sh, b, from, b->nrows - from,
					(int)g->dest, err);
	return rc;
}

static int stop_rows(void *arg, pl_batch *b, pl_error *err)
{
	(void)arg;
	(void)b;
	(void)err;
	return PL_STOP;
}

/* The first position from lo on (below hi) whose row falls at or after
 * splitter s; one row is read through rows_at at each step of a binary
 * search, as the stream is sorted. */
static int split_position(range *g, pl_operator *op, pl_batch *one, size_t s,
			  uint64_t lo, uint64_t hi, uint64_t *at, pl_error *err)
{
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int rc = op->rows_at(op, mid, 1, one, err);
		if (rc != 0)
			return rc;
		if (compare_split(g, one->cols, 0, g->x->rank, mid, s) >= 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*at = lo;
	return 0;
}

/* Pushes rows [from, to) of the local instance's sorted stream to rank d,
 * read in chunks through rows_at. (Encoding them straight from the rows
 * rows_view lends, by their permutation, took more instructions than
 * gathering them first: the codec then reads each string's length and
 * bytes through the permutation twice, to size and to copy.) */
static int send_range(range *g, pl_operator *op, pl_batch *b, size_t chunk,
		      uint64_t from, uint64_t to, int d, pl_error *err)
{
	int rc = 0;
	while (rc == 0 && from < to) {
		size_t n = to - from < chunk ? (size_t)(to - from) : chunk;
		rc = op->rows_at(op, from, n, b, err);
		if (rc == 0)
			rc = pl_shuffle_push_to(&g->sh, b, 0, b->nrows, d, err);
		from += n;
	}
	return rc;
}

/* The shuffle pass when the instance reads rows by position (rows_at) and
 * its total is known: partial only sorts (its emitter stops it at the
 * first batch), the ranks' boundaries are found by binary search, and
 * only the rows of other ranks are read out, straight from the sorted
 * state; this rank's own stay there for the merge. */
static int route_by_position(range *g, size_t i, uint64_t total, pl_error *err)
{
	pl_exec *x = g->x;
	pl_operator *op = &x->p->ops[i];
	pl_pool *pool = x->p->env.pool;
	size_t chunk = x->p->env.chunk_rows ? x->p->env.chunk_rows : 16384;
	pl_emitter stop = {stop_rows, NULL};
	int rc = pl_exec_partial(x, i, &stop, err);
	if (rc == PL_STOP)
		rc = 0;
	pl_batch *one =
	    rc ? NULL : pl_batch_new(&op->partial_schema, 1, pool, err);
	pl_batch *b =
	    one ? pl_batch_new(&op->partial_schema, chunk, pool, err) : NULL;
	if (rc == 0 && b == NULL)
		rc = PL_ERR_NOMEM;
	uint64_t lo = 0, hi;
	for (int d = 0; rc == 0 && d < x->nranks; d++, lo = hi) {
		hi = total;
		if ((size_t)d < g->split->nrows)
			rc = split_position(g, op, one, (size_t)d, lo, total,
					    &hi, err);
		if (rc == 0 && d == x->rank) {
			g->own_lo = lo;
			g->own_hi = hi;
		} else if (rc == 0)
			rc = send_range(g, op, b, chunk, lo, hi, d, err);
	}
	pl_batch_free(b, pool);
	pl_batch_free(one, pool);
	return rc;
}

/* The rank of row r of the stored rows cols (input position r): the
 * splitters at or before it, by binary search; scode (NULL when the
 * first key has no order code) holds the splitters' codes, so that most
 * steps compare two integers instead of the keys. */
static int stored_dest(const range *g, const pl_column *cols, size_t r,
		       const uint64_t *scode)
{
	uint64_t c = scode ? pl_order_code_or_null(&cols[g->keys[0].col], r,
						   g->keys[0].desc)
			   : 0;
	size_t lo = 0, hi = g->split->nrows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int after =
		    scode && c != scode[mid]
			? c > scode[mid]
			: compare_split(g, cols, r, g->x->rank, r, mid) >= 0;
		if (after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The splitters' codes of the first key (malloc'd), or NULL when its type
 * has none; *err is set when there is one but no memory for them. */
static uint64_t *split_codes(const range *g, int *rc, pl_error *err)
{
	const pl_column *col = &g->split->cols[0];
	size_t n = g->split->nrows;
	*rc = 0;
	if (!pl_order_has_code(col->type) || n == 0)
		return NULL;
	uint64_t *code = malloc(n * sizeof(*code));
	if (code == NULL) {
		*rc = pl_error_nomem(err, "a sample sort");
		return NULL;
	}
	for (size_t s = 0; s < n; s++)
		code[s] = pl_order_code_or_null(col, s, g->keys[0].desc);
	return code;
}

/* b (emptied first) = rows idx[0 .. m) of rows, in that order. */
static int take_rows(pl_batch *b, const pl_batch *rows, const uint32_t *idx,
		     size_t m, pl_pool *pool, pl_error *err)
{
	pl_batch_clear(b);
	int rc = 0;
	for (size_t c = 0; rc == 0 && m > 0 && c < b->ncols; c++)
		rc = pl_column_append_take(&b->cols[c], &rows->cols[c], idx, m,
					   pool, err);
	b->nrows = m;
	return rc;
}

/* Notes rows idx[0 .. m) as this rank's own, kept in the instance. */
static int keep_own(range *g, const uint32_t *idx, size_t m, pl_error *err)
{
	if (m == 0)
		return 0; /* own_idx may still be NULL, no memcpy into it */
	if (g->nown + m > g->own_cap) {
		size_t cap = g->own_cap ? g->own_cap : 4096;
		while (cap < g->nown + m)
			cap *= 2;
		uint32_t *p = realloc(g->own_idx, cap * sizeof(*p));
		if (p == NULL)
			return pl_error_nomem(err, "a sample sort");
		g->own_idx = p;
		g->own_cap = cap;
	}
	memcpy(g->own_idx + g->nown, idx, m * sizeof(*idx));
	g->nown += m;
	return 0;
}

/* Where route_stored keeps a chunk's destinations: dest[k] the rank of
 * row from + k; idx the rows by rank, each rank's in input order: count[d]
 * of rank d's, which end at idx + at[d] once send_stored has filled them
 * (at[d] starts where they begin). */
typedef struct stored_chunk {
	uint32_t *dest, *idx;
	size_t *count, *at; /* nranks each */
	uint64_t *scode;    /* split_codes */
	pl_batch *b;	    /* one rank's rows, gathered */
} stored_chunk;

/* Pushes rows [from, from + n) of the stored rows to their ranks: the
 * rows bucketed by rank in one counting pass, each rank's gathered by
 * index into c->b (in input order) and pushed; this rank's own are
 * noted instead. */
static int send_stored(range *g, const pl_batch *rows, size_t from, size_t n,
		       stored_chunk *c, pl_error *err)
{
	pl_pool *pool = g->x->p->env.pool;
	size_t nranks = (size_t)g->x->nranks;
	memset(c->count, 0, nranks * sizeof(*c->count));
	for (size_t k = 0; k < n; k++) {
		c->dest[k] =
		    (uint32_t)stored_dest(g, rows->cols, from + k, c->scode);
		c->count[c->dest[k]]++;
	}
	for (size_t d = 0, sum = 0; d < nranks; sum += c->count[d++])
		c->at[d] = sum;
	for (size_t k = 0; k < n; k++)
		c->idx[c->at[c->dest[k]]++] = (uint32_t)(from + k);
	int rc = 0;
	for (size_t d = 0; rc == 0 && d < nranks; d++) {
		size_t m = c->count[d];
		const uint32_t *idx = c->idx + c->at[d] - m;
		if (d == (size_t)g->x->rank) {
			rc = keep_own(g, idx, m, err);
			continue;
		}
		rc = take_rows(c->b, rows, idx, m, pool, err);
		if (rc == 0)
			rc =
			    pl_shuffle_push_to(&g->sh, c->b, 0, m, (int)d, err);
	}
	return rc;
}

/* The shuffle pass when the instance lends its rows in input order: every
 * row goes to its rank unsorted; this rank's own stay in the instance
 * until their turn in the merge (hand_own). */
static int route_stored(range *g, size_t i, pl_error *err)
{
	pl_exec *x = g->x;
	pl_operator *op = &x->p->ops[i];
	pl_pool *pool = x->p->env.pool;
	size_t chunk = x->p->env.chunk_rows ? x->p->env.chunk_rows : 16384;
	size_t nranks = (size_t)x->nranks;
	pl_batch rows;
	stored_chunk c = {0};
	int rc = op->rows_stored(op, &rows, err);
	if (rc == 0) {
		x->st->rows_unsorted += rows.nrows;
		c.scode = split_codes(g, &rc, err);
	}
	c.dest = rc ? NULL : malloc(2 * chunk * sizeof(*c.dest));
	c.count = c.dest ? malloc(2 * nranks * sizeof(*c.count)) : NULL;
	c.b = c.count ? pl_batch_new(&op->partial_schema, chunk, pool, err)
		      : NULL;
	if (rc == 0 && c.count == NULL)
		rc = pl_error_nomem(err, "a sample sort");
	else if (rc == 0 && c.b == NULL)
		rc = PL_ERR_NOMEM;
	if (rc == 0) {
		c.idx = c.dest + chunk;
		c.at = c.count + nranks;
	}
	for (size_t from = 0; rc == 0 && from < rows.nrows; from += chunk) {
		size_t n =
		    rows.nrows - from < chunk ? rows.nrows - from : chunk;
		rc = send_stored(g, &rows, from, n, &c, err);
	}
	pl_batch_free(c.b, pool);
	free(c.count);
	free(c.dest);
	free(c.scode);
	return rc;
}

/* PIPELINE_SORT_SPLIT=merge: each rank sorts its share and the ranks'
 * sorted streams are merged, as when a rank spilled (tests take both
 * paths). */
static int merge_forced(void)
{
	const char *v = getenv("PIPELINE_SORT_SPLIT");
	return v != NULL && strcmp(v, "merge") == 0;
}

/* pl_shuffle.own_rows in the unsorted shuffle: this rank's own rows, in
 * input order, from the instance, which then goes. */
static int hand_own(void *arg, int (*take)(void *, pl_batch *, pl_error *),
		    void *take_arg, pl_error *err)
{
	range *g = arg;
	pl_exec *x = g->x;
	pl_operator *op = &x->p->ops[g->sh.op];
	pl_pool *pool = x->p->env.pool;
	size_t chunk = x->p->env.chunk_rows ? x->p->env.chunk_rows : 16384;
	pl_batch rows;
	int rc = op->rows_stored(op, &rows, err);
	pl_batch *b =
	    rc ? NULL : pl_batch_new(&op->partial_schema, chunk, pool, err);
	if (rc == 0 && b == NULL)
		rc = PL_ERR_NOMEM;
	for (size_t at = 0; rc == 0 && at < g->nown; at += chunk) {
		size_t m = g->nown - at < chunk ? g->nown - at : chunk;
		rc = take_rows(b, &rows, g->own_idx + at, m, pool, err);
		if (rc == 0)
			rc = take(take_arg, b, err);
	}
	pl_batch_free(b, pool);
	free(g->own_idx);
	g->own_idx = NULL;
	return rc ? rc : pl_exec_reset_local(x, g->sh.op, err);
}

/* Whether every rank can send its rows unsorted (rows_stored, nothing
 * spilled, the splitters from the input): all ranks must shuffle alike,
 * as a receiver merges sorted streams or sorts what came. Collective. */
static int all_stored(range *g, size_t i, int rc)
{
	pl_exec *x = g->x;
	const pl_operator *local = &x->p->ops[i];
	int mine = rc == 0 && !merge_forced() &&
		   local->split == PL_SPLIT_RANGE_MERGE &&
		   local->rows_stored != NULL && x->samples[i] != NULL &&
		   !pl_spill_active(x->spills[i]);
	int all = 0;
	if (pl_mpi_allreduce_min(&mine, &all, 1, x->comm) != 0)
		all = 0;
	return all;
}

/* Sends the rows to their ranks; they are filed in run files by sender.
 * Collective. */
static int shuffle_rows(range *g, size_t i, pl_schema *wire, int rc,
			pl_error *err)
{
	pl_exec *x = g->x;
	const pl_operator *local = &x->p->ops[i];
	g->sh.x = x;
	if (rc == 0)
		rc = pl_shuffle_init(&g->sh, local, wire, err);
	rc = pl_mpi_agree(x->comm, rc, err);
	g->stored = all_stored(g, i, rc);
	/* Rows the runtime spilled are no longer the instance's to read. */
	g->own = !g->stored && local->split == PL_SPLIT_RANGE_MERGE &&
		 local->rows_at != NULL && !pl_spill_active(x->spills[i]);
	pl_exchange_opts opts = {.round_bytes = pl_shuffle_round_bytes(x),
				 .zstd_level = pl_exec_shuffle_level(x),
				 .direct_self = 1,
				 .drop_self = g->own};
	pl_shuffle_wire(&g->sh, &opts);
	g->sh.ex =
	    rc ? NULL
	       : pl_exchange_create(x->comm, wire, &opts, x->p->env.pool, err);
	if (rc == 0 && g->sh.ex == NULL)
		rc = PL_ERR_NOMEM;
	if (g->sh.ex == NULL)
		return rc;
	uint64_t total = g->pos;
	g->pos = 0;
	g->dest = 0;
	pl_emitter e = {route_rows, g};
	rc = g->stored ? route_stored(g, i, err)
	     : g->own  ? route_by_position(g, i, total, err)
		       : pl_exec_partial(x, i, &e, err);
	if (!g->stored)
		x->st->rows_merged += g->own ? total : g->pos;
	rc = rc ? pl_exchange_abort(g->sh.ex, rc, err)
		: pl_exchange_finish(g->sh.ex, pl_shuffle_receive, &g->sh, err);
	pl_exec_count_stats(x, g->sh.ex);
	pl_exchange_destroy(g->sh.ex);
	g->sh.ex = NULL;
	return rc;
}

/* This rank's own range, read back from the local instance. */
typedef struct own_reader {
	pl_operator *op;
	uint64_t pos, end;
	size_t chunk;
} own_reader;

static int read_own(void *arg, pl_batch *b, pl_error *err)
{
	own_reader *o = arg;
	size_t n =
	    o->end - o->pos < o->chunk ? (size_t)(o->end - o->pos) : o->chunk;
	int rc = n > 0 ? o->op->rows_at(o->op, o->pos, n, b, err) : 0;
	o->pos += n;
	return rc;
}

/* Merges the sorted streams received, rank 0's first among equal rows,
 * into stage i + 1 (PL_SPLIT_RANGE_MERGE); this rank's own rows come
 * from its instance when g->own. */
static int merge_sorted(range *g, size_t i, pl_error *err)
{
	pl_exec *x = g->x;
	pl_operator *local = &x->p->ops[i];
	size_t chunk = x->p->env.chunk_rows ? x->p->env.chunk_rows : 16384;
	own_reader o = {local, g->own_lo, g->own_hi, chunk};
	/* The keys of the instance as it is now: resetting it freed g->keys. */
	pl_range_merge_spec spec = {.runs = g->sh.from,
				    .nruns = (size_t)x->nranks,
				    .schema = &local->partial_schema,
				    .out_schema = &local->partial_schema,
				    .keys = local->range_keys,
				    .nkeys = local->nrange_keys,
				    .chunk_rows = chunk,
				    .own = (size_t)x->rank,
				    .read_own = g->own ? read_own : NULL,
				    .own_arg = &o};
	/* The own range in place, when the instance lends its rows. */
	pl_batch rows;
	int rc = 0;
	if (g->own && local->rows_view != NULL) {
		spec.own_n = (size_t)(g->own_hi - g->own_lo);
		rc = local->rows_view(local, g->own_lo, spec.own_n, &rows,
				      &spec.own_idx, err);
		spec.own_rows = &rows;
		spec.read_own = NULL;
	}
	if (rc == 0)
		rc = pl_range_merge(&spec, x->p->env.pool, &x->emitters[i + 1],
				    err);
	return rc == PL_STOP ? 0 : rc;
}

int pl_exec_merge_range(pl_exec *x, size_t i, pl_error *err)
{
	const pl_operator *local = &x->p->ops[i];
	pl_pool *pool = x->p->env.pool;
	range g;
	memset(&g, 0, sizeof(g));
	g.x = x;
	g.keys = local->range_keys;
	g.nkeys = local->nrange_keys;
	pl_schema_init(&g.sample_schema);
	pl_schema wire;
	pl_schema_init(&wire);
	int rc = sample_schema(&g, &local->partial_schema, err);

	if (rc == 0 && x->samples[i] != NULL)
		rc = input_sample(&g, x->samples[i], err);
	else if (rc == 0)
		rc = take_sample(&g, i, err);
	rc = agree_splitters(&g, rc, err);
	rc = shuffle_rows(&g, i, &wire, rc, err);
	/* The instance goes once its rows are sent, or read back (hand_own,
	 * when they are kept for the unsorted shuffle's merge). */
	if (rc == 0 && !g.own && !g.stored)
		rc = pl_exec_reset_local(x, i, err);
	g.sh.own_rows = g.stored ? hand_own : NULL;
	g.sh.own_arg = &g;
	if (rc == 0 && local->split == PL_SPLIT_RANGE_MERGE && !g.stored)
		rc = merge_sorted(&g, i, err);
	else if (rc == 0)
		rc = pl_shuffle_merge_received(&g.sh, i, &local->partial_schema,
					       err);
	if (rc == 0 && g.own)
		rc = pl_exec_reset_local(x, i, err);
	pl_shuffle_free(&g.sh);
	free(g.own_idx);
	pl_batch_free(g.sample, pool);
	pl_batch_free(g.split, pool);
	pl_schema_free(&g.sample_schema);
	pl_schema_free(&wire);
	return rc < 0 ? rc : 0;
}

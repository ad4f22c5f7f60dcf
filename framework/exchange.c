/* Shuffle rounds over MPI point-to-point, plus gather and broadcast.
 *
 * A shuffle round, the same sequence of collectives on every rank:
 *   1. MPI_Allreduce of {status, finished, failing rank}: stop when a rank
 *      failed, or when every rank is finishing with nothing left to send;
 *   2. MPI_Alltoall of the byte counts each rank sends each other rank;
 *   3. MPI_Allreduce of the status after sizing the buffers, so that a
 *      rank out of memory stops everyone before data moves;
 *   4. MPI_Isend / MPI_Irecv of the messages between each pair of ranks
 *      (an Alltoallv without its staging copy), then decoded.
 * Each destination gets at most round_bytes a round, counted before
 * compression (whole messages, so a receiver decodes at most nranks *
 * round_bytes), and what does not fit waits for the next round. Counting
 * raw bytes matters: sorted or NULL-padded rows can compress a hundredfold,
 * and a round bounded by compressed bytes would hand a receiver many times
 * its budget at once. round_bytes is kept under INT_MAX / nranks, as
 * counts and displacements are ints (a message is never larger compressed
 * than raw). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/exchange.h"

#define TAG_GATHER 7301

/* How pl_mpi_wait waits: a few tests at once, then sleeps from 20 us
 * doubling to 0.5 ms. */
#define WAIT_SPINS 64
#define WAIT_FIRST_NS 20000L
#define WAIT_MAX_NS 500000L

struct pl_exchange {
	MPI_Comm comm;
	int rank;
	int nranks;
	pl_pool *pool;
	pl_codec *codec;
	size_t *keys;
	size_t nkeys;
	size_t round_bytes; /* soft bound per destination */
	size_t chunk_cap;   /* hard bound per destination and round */
	pl_bytes *dest;	    /* nranks buffers of messages */
	size_t *dest_at;    /* per buffer: bytes at its front already sent */
	size_t *dest_raw;   /* their sizes before compression, then (nranks
			       more) the raw sizes staged this round */
	pl_bytes recv;
	MPI_Request *reqs; /* 2 * nranks: this round's sends and receives */
	uint32_t *rows;	   /* partition scratch: 4 * rows_cap entries (row
			      numbers, destinations, then row hashes) */
	size_t rows_cap;
	int *counts; /* send counts, recv counts, recv displs: nranks
			each */
	pl_batch *out;
	pl_batch *self; /* direct_self: this rank's rows of one push */
	int drop_self;
	int keep_dict;
	size_t wire_cols;		    /* columns of a batch that travel */
	pl_exchange_undecoded_fn undecoded; /* see pl_exchange_opts */
	pl_exchange_place_fn place;	    /* see pl_exchange_opts */
	uint8_t **placed; /* under place: where each sender's bytes land */
	int failed;	  /* the agreed failure, or 0 */
	int finished;
	pl_exchange_stats stats;
};

/* The seed of row hashes across ranks (pl_row_hash). */
#define ROW_SEED 0x2545f4914f6cdd1dULL

uint64_t pl_row_hash(const pl_batch *b, const size_t *keys, size_t nkeys,
		     size_t row)
{
	uint64_t h = ROW_SEED;
	for (size_t k = 0; k < nkeys; k++)
		h = pl_column_hash(&b->cols[keys[k]], row, h);
	return h;
}

void pl_rows_hash(const pl_batch *b, const size_t *keys, size_t nkeys,
		  uint64_t *h)
{
	pl_column_hash_rows(b, keys, nkeys, ROW_SEED, h);
}

static int mpi_failed(pl_error *err, const char *call)
{
	return pl_error_set(err, PL_ERR_INTERNAL, "%s failed", call);
}

/* Turns an agreed status into this rank's result: its own error when it
 * failed, else the agreed one with the failing rank named. */
static int settle(int local_rc, int agreed, int who, pl_error *err)
{
	if (agreed >= 0)
		return 0;
	if (local_rc < 0)
		return local_rc;
	pl_error_set(err, agreed, "stopped: rank %d failed", who);
	err->elsewhere = 1;
	return agreed;
}

/* Processes all on one node need nothing but shared memory: ob1 rather
 * than the default's probing of UCX, which costs each rank 0.2 s of
 * start-up. Nor do they need to know where the network cards sit: a rank
 * that binds itself (mpirun --bind-to none, or more ranks than cores)
 * loads hwloc's whole topology, PCI devices included, and reading their
 * configuration space is slow on a virtual machine (mpirun -n 4 on the
 * 2-core test VM: 0.36 -> 0.25 s of system time to start a one-row
 * job). */
void pl_mpi_one_node_env(void)
{
	setenv("OMPI_MCA_pml", "ob1", 0);
	setenv("HWLOC_COMPONENTS", "-pci,-linuxio", 0);
}

/* Ranks that an Open MPI launcher put all on this node (the same on every
 * rank), as those pipeline launches itself (launch.c). */
static void tune_for_one_node(void)
{
	const char *size = getenv("OMPI_COMM_WORLD_SIZE");
	const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
	if (size != NULL && local != NULL && strcmp(size, local) == 0)
		pl_mpi_one_node_env();
}

void pl_mpi_init(void)
{
	int provided;
	tune_for_one_node();
	MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
}

int pl_comm_rank(MPI_Comm comm)
{
	int rank = 0;
	if (comm != MPI_COMM_NULL)
		MPI_Comm_rank(comm, &rank);
	return rank;
}

int pl_comm_size(MPI_Comm comm)
{
	int size = 1;
	if (comm != MPI_COMM_NULL)
		MPI_Comm_size(comm, &size);
	return size;
}

int pl_mpi_wait(MPI_Request *req)
{
	long ns = 0;
	for (int spins = 0;; spins++) {
		int done = 0;
		if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
			return -1;
		if (done)
			return 0;
		if (spins < WAIT_SPINS)
			continue;
		ns = ns ? ns * 2 : WAIT_FIRST_NS;
		if (ns > WAIT_MAX_NS)
			ns = WAIT_MAX_NS;
		struct timespec ts = {0, ns};
		nanosleep(&ts, NULL);
	}
}

int pl_mpi_allreduce_min(int *in, int *out, int n, MPI_Comm comm)
{
	MPI_Request req;
	if (MPI_Iallreduce(in, out, n, MPI_INT, MPI_MIN, comm, &req) !=
	    MPI_SUCCESS)
		return -1;
	return pl_mpi_wait(&req);
}

int pl_mpi_agree(MPI_Comm comm, int local_rc, pl_error *err)
{
	if (comm == MPI_COMM_NULL)
		return local_rc;
	int rank;
	MPI_Comm_rank(comm, &rank);
	int in[2] = {local_rc, local_rc < 0 ? rank : INT_MAX}, out[2];
	if (pl_mpi_allreduce_min(in, out, 2, comm) != 0)
		return mpi_failed(err, "MPI_Allreduce");
	return settle(local_rc, out[0], out[1], err);
}

/* Step 1 of a round; also how a failure is reported between rounds. */
static int agree_round(pl_exchange *x, int local_rc, int done, int *all_done,
		       pl_error *err)
{
	int in[3] = {local_rc, done, local_rc < 0 ? x->rank : INT_MAX}, out[3];
	if (pl_mpi_allreduce_min(in, out, 3, x->comm) != 0)
		return x->failed = mpi_failed(err, "MPI_Allreduce");
	*all_done = out[1];
	int rc = settle(local_rc, out[0], out[2], err);
	if (rc != 0)
		x->failed = rc;
	return rc;
}

static int agree(pl_exchange *x, int local_rc, pl_error *err)
{
	int rc = pl_mpi_agree(x->comm, local_rc, err);
	if (rc != 0)
		x->failed = rc;
	return rc;
}

/* Reports a failure of this rank to the others at their next round. */
static int fail_now(pl_exchange *x, int rc, pl_error *err)
{
	int all_done;
	return agree_round(x, rc, 0, &all_done, err);
}

static int already_failed(const pl_exchange *x, pl_error *err)
{
	return pl_error_set(err, x->failed, "exchange stopped by a failure");
}

static int alloc_state(pl_exchange *x, const pl_schema *schema,
		       const pl_exchange_opts *o, pl_error *err)
{
	size_t n = (size_t)x->nranks;
	x->wire_cols =
	    o->wire_cols && o->wire_cols < schema->n ? o->wire_cols : schema->n;
	x->undecoded = o->undecoded;
	x->place = o->undecoded ? o->place : NULL;
	/* fn's batches have the wire columns: schema's first ones. */
	pl_schema wire = *schema;
	wire.n = x->wire_cols;
	x->codec = pl_codec_create(x->pool, o->zstd_level, err);
	x->keys = pl_pool_alloc(x->pool, (o->nkeys + 1) * sizeof(size_t));
	x->dest = pl_pool_calloc(x->pool, n, sizeof(pl_bytes));
	x->dest_at = pl_pool_calloc(x->pool, n, sizeof(size_t));
	x->dest_raw = pl_pool_calloc(x->pool, 2 * n, sizeof(size_t));
	x->counts = pl_pool_calloc(x->pool, 3 * n, sizeof(int));
	x->reqs = pl_pool_calloc(x->pool, 2 * n, sizeof(MPI_Request));
	x->placed = pl_pool_calloc(x->pool, n, sizeof(uint8_t *));
	x->out = pl_batch_new(&wire, 0, x->pool, err);
	if (!x->codec || !x->keys || !x->dest || !x->dest_at || !x->dest_raw ||
	    !x->counts || !x->reqs || !x->placed || !x->out)
		return pl_error_nomem(err, "an exchange");
	for (size_t k = 0; k < o->nkeys; k++) {
		if (o->keys[k] >= schema->n)
			return pl_error_set(err, PL_ERR_INTERNAL,
					    "exchange key %zu out of range",
					    o->keys[k]);
		x->keys[k] = o->keys[k];
	}
	x->nkeys = o->nkeys;
	x->drop_self = o->drop_self;
	x->keep_dict = o->keep_dict;
	pl_codec_keep_dict(x->codec, o->keep_dict);
	if (o->direct_self &&
	    (x->self = pl_batch_new(&wire, 0, x->pool, err)) == NULL)
		return PL_ERR_NOMEM;
	x->chunk_cap = (size_t)INT_MAX / n;
	x->round_bytes =
	    o->round_bytes < x->chunk_cap ? o->round_bytes : x->chunk_cap;
	if (x->round_bytes < 1)
		x->round_bytes = 1;
	return 0;
}

static void free_state(pl_exchange *x)
{
	for (int r = 0; x->dest && r < x->nranks; r++)
		pl_bytes_free(&x->dest[r], x->pool);
	pl_pool_free(x->pool, x->dest);
	pl_pool_free(x->pool, x->dest_at);
	pl_pool_free(x->pool, x->dest_raw);
	pl_bytes_free(&x->recv, x->pool);
	pl_pool_free(x->pool, x->reqs);
	pl_pool_free(x->pool, x->placed);
	pl_pool_free(x->pool, x->rows);
	pl_pool_free(x->pool, x->counts);
	pl_pool_free(x->pool, x->keys);
	pl_batch_free(x->out, x->pool);
	pl_batch_free(x->self, x->pool);
	pl_codec_destroy(x->codec);
}

pl_exchange *pl_exchange_create(MPI_Comm comm, const pl_schema *schema,
				const pl_exchange_opts *opts, pl_pool *pool,
				pl_error *err)
{
	MPI_Comm dup;
	if (MPI_Comm_dup(comm, &dup) != MPI_SUCCESS) {
		mpi_failed(err, "MPI_Comm_dup");
		return NULL;
	}
	pl_exchange *x = pl_pool_calloc(pool, 1, sizeof(*x));
	int rc = x ? 0 : pl_error_nomem(err, "an exchange");
	if (x != NULL) {
		x->comm = dup;
		x->pool = pool;
		MPI_Comm_rank(dup, &x->rank);
		MPI_Comm_size(dup, &x->nranks);
		rc = alloc_state(x, schema, opts, err);
	}
	if (pl_mpi_agree(dup, rc, err) == 0)
		return x;
	if (x != NULL)
		free_state(x);
	pl_pool_free(pool, x);
	MPI_Comm_free(&dup);
	return NULL;
}

void pl_exchange_destroy(pl_exchange *x)
{
	if (x == NULL)
		return;
	MPI_Comm_free(&x->comm);
	free_state(x);
	pl_pool_free(x->pool, x);
}

int pl_exchange_rank(const pl_exchange *x)
{
	return x->rank;
}

int pl_exchange_size(const pl_exchange *x)
{
	return x->nranks;
}

pl_exchange_stats pl_exchange_get_stats(const pl_exchange *x)
{
	pl_exchange_stats s = x->stats;
	s.bytes_raw = pl_codec_get_stats(x->codec).bytes_raw;
	return s;
}

/* Appends rows idx[from .. from + n) (or that range of rows) to out as
 * messages of at most round_bytes each before compression, halving the
 * rows until they fit (a single row may go up to chunk_cap), and adds
 * their raw size to *raw. */
static int encode_split(pl_exchange *x, const pl_batch *b, const uint32_t *idx,
			size_t from, size_t n, pl_bytes *out, size_t *raw,
			pl_error *err)
{
	size_t size = pl_codec_raw_size(b, idx, from, n);
	if (size > x->round_bytes && n > 1) {
		size_t half = n / 2;
		int rc = encode_split(x, b, idx, from, half, out, raw, err);
		if (rc != 0)
			return rc;
		return encode_split(x, b, idx, from + half, n - half, out, raw,
				    err);
	}
	if (size > x->chunk_cap)
		return pl_error_set(err, PL_ERR_DATA,
				    "a row of %zu bytes is too large to send "
				    "between ranks",
				    size);
	size_t at = out->len, len, exact;
	int rc = pl_codec_encode(x->codec, b, idx, from, n, out, err);
	if (rc == 0) {
		/* size only bounds a dictionary column's: count what it took */
		pl_codec_message_size(out->data + at, out->len - at, &len,
				      &exact, NULL);
		x->stats.rows_sent += n;
		*raw += exact;
	}
	return rc;
}

static int reserve_rows(pl_exchange *x, size_t n, pl_error *err)
{
	if (n <= x->rows_cap && x->rows != NULL)
		return 0;
	uint32_t *r = pl_pool_realloc(x->pool, x->rows,
				      4 * (n ? n : 1) * sizeof(uint32_t));
	if (r == NULL)
		return pl_error_nomem(err, "exchange row lists");
	x->rows = r;
	x->rows_cap = n;
	return 0;
}

static void reset_batch(pl_exchange *x, pl_batch *b)
{
	for (size_t j = 0; j < b->ncols; j++) {
		pl_column *c = &b->cols[j];
		pl_column_reset(c, x->pool);
		pl_pool_free(x->pool, c->valid);
		c->valid = NULL;
	}
	b->nrows = 0;
}

/* Rows idx[0 .. n) of the dictionary column src into the empty dst as
 * their codes, dst borrowing src's dictionary (see deliver_self). */
static int take_codes(pl_exchange *x, pl_column *dst, const pl_column *src,
		      const uint32_t *idx, size_t n, pl_error *err)
{
	if (pl_column_reserve(dst, n, x->pool, err) != 0 ||
	    (src->valid && pl_column_make_nullable(dst, x->pool, err) != 0))
		return PL_ERR_NOMEM;
	const uint32_t *from = pl_col_codes(src);
	uint32_t *to = pl_col_codes(dst);
	for (size_t k = 0; k < n; k++)
		to[k] = from[idx[k]];
	if (src->valid != NULL)
		for (size_t k = 0; k < n; k++)
			pl_bit_set(dst->valid, k,
				   pl_bit_get(src->valid, idx[k]));
	dst->len = n;
	dst->dict = src->dict;
	return 0;
}

/* Hands this rank's rows idx[0 .. n) of b to fn, copied: no message.
 * Under keep_dict a dictionary column goes as codes into the very
 * dictionary of b, lent for the call like the rest. */
static int deliver_self(pl_exchange *x, const pl_batch *b, const uint32_t *idx,
			size_t n, pl_exchange_fn fn, void *arg, pl_error *err)
{
	pl_batch *s = x->self;
	reset_batch(x, s);
	int rc = 0;
	for (size_t j = 0; rc == 0 && j < b->ncols; j++)
		rc = x->keep_dict && b->cols[j].dict != NULL
			 ? take_codes(x, &s->cols[j], &b->cols[j], idx, n, err)
			 : pl_column_append_take(&s->cols[j], &b->cols[j], idx,
						 n, x->pool, err);
	s->nrows = n;
	x->stats.rows_sent += n;
	x->stats.rows_recv += n;
	if (rc == 0)
		rc = fn(arg, s, err);
	for (size_t j = 0; j < s->ncols; j++)
		if (s->cols[j].dict != NULL) {
			s->cols[j].dict = NULL;
			s->cols[j].len = 0;
			pl_col_off(&s->cols[j])[0] = 0;
		}
	return rc;
}

/* Moves what destination r has still to send to the front of its
 * buffer, before a push appends to it. */
static void compact(pl_exchange *x, int r)
{
	pl_bytes *d = &x->dest[r];
	size_t at = x->dest_at[r];
	if (at > 0) {
		memmove(d->data, d->data + at, d->len - at);
		d->len -= at;
		x->dest_at[r] = 0;
	}
}

/* Rows idx[from .. from + n) of w (its wire columns), for rank r: to fn
 * at once when they stay here under direct_self, else encoded into r's
 * buffer (order[from ..] or, order NULL, the range of rows from on). */
static int to_rank(pl_exchange *x, const pl_batch *w, const uint32_t *idx,
		   const uint32_t *order, size_t from, size_t n, int r,
		   pl_exchange_fn fn, void *arg, pl_error *err)
{
	if (n == 0 || (r == x->rank && x->drop_self))
		return 0;
	if (r == x->rank && x->self != NULL)
		return deliver_self(x, w, idx + from, n, fn, arg, err);
	compact(x, r);
	return encode_split(x, w, order, from, n, &x->dest[r], &x->dest_raw[r],
			    err);
}

/* Sorts the row numbers of b by destination (stably) into x->rows and
 * encodes each destination's rows into its buffer (this rank's go to fn
 * at once under direct_self). */
static int partition(pl_exchange *x, const pl_batch *b, pl_exchange_fn fn,
		     void *arg, pl_error *err)
{
	size_t n = b->nrows;
	if (n > INT_MAX)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "exchange: batch of %zu rows", n);
	if (reserve_rows(x, n, err) != 0)
		return PL_ERR_NOMEM;
	uint32_t *part = x->rows + x->rows_cap, *idx = x->rows;
	uint64_t *hash = (uint64_t *)(x->rows + 2 * x->rows_cap);
	int *start = x->counts;
	memset(start, 0, (size_t)x->nranks * sizeof(int));
	pl_rows_hash(b, x->keys, x->nkeys, hash);
	for (size_t i = 0; i < n; i++) {
		part[i] = (uint32_t)pl_hash_partition(hash[i], x->nranks);
		start[part[i]]++;
	}
	/* All rows to one rank (a sample sort's ranges): they stay in order,
	 * and encoding a range copies each column in one go. */
	const uint32_t *order = idx;
	size_t pos = 0;
	for (int r = 0; r < x->nranks; r++) {
		size_t c = (size_t)start[r];
		if (c == n)
			order = NULL;
		start[r] = (int)pos;
		pos += c;
	}
	for (size_t i = 0; i < n; i++)
		idx[start[part[i]]++] = (uint32_t)i;
	pl_batch w = *b;
	w.ncols = x->wire_cols;
	int rc = 0;
	for (int r = 0; rc == 0 && r < x->nranks; r++) {
		size_t from = r == 0 ? 0 : (size_t)start[r - 1];
		rc = to_rank(x, &w, idx, order, from, (size_t)start[r] - from,
			     r, fn, arg, err);
	}
	return rc;
}

/* Identity row numbers 0 .. n in x->rows, for deliver_self. */
static int all_rows(pl_exchange *x, size_t n, pl_error *err)
{
	if (reserve_rows(x, n, err) != 0)
		return PL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		x->rows[i] = (uint32_t)i;
	return 0;
}

static size_t buffered(const pl_exchange *x)
{
	size_t n = 0;
	for (int r = 0; r < x->nranks; r++)
		n += x->dest[r].len - x->dest_at[r];
	return n;
}

static int over_bound(const pl_exchange *x)
{
	for (int r = 0; r < x->nranks; r++)
		if (x->dest_raw[r] >= x->round_bytes)
			return 1;
	return 0;
}

/* Bytes of the whole messages at the front of buf whose raw sizes add up
 * to at most cap, but at least one message (only a single huge row makes
 * one larger than round_bytes, and encode_split kept it under chunk_cap);
 * *raw gets their raw size. */
static size_t prefix_bytes(const uint8_t *buf, size_t len, size_t cap,
			   size_t *raw)
{
	size_t pos = 0;
	*raw = 0;
	while (pos < len) {
		size_t size, unpacked;
		if (pl_codec_message_size(buf + pos, len - pos, &size,
					  &unpacked, NULL) != 0 ||
		    (pos > 0 && *raw + unpacked > cap))
			break;
		pos += size;
		*raw += unpacked;
	}
	return pos;
}

/* Sets this round's send counts: whole messages from the front of each
 * destination's buffer, sent from there (no staging copy). */
static void count_sends(pl_exchange *x)
{
	size_t *staged = x->dest_raw + x->nranks;
	for (int r = 0; r < x->nranks; r++) {
		size_t at = x->dest_at[r];
		x->counts[r] =
		    (int)prefix_bytes(x->dest[r].data + at, x->dest[r].len - at,
				      x->round_bytes, &staged[r]);
	}
}

/* Drops what this round sent from the front of each destination buffer,
 * by moving past it: the rest moves forward only before the next push
 * appends (compact), so a push of many messages for one rank is not
 * moved forward a round at a time (the sample sort's ranges moved 1.2 MB
 * a round so, more than they sent). */
static void consume_sends(pl_exchange *x)
{
	const int *cnt = x->counts;
	for (int r = 0; r < x->nranks; r++) {
		pl_bytes *d = &x->dest[r];
		size_t n = (size_t)cnt[r];
		if (n == 0)
			continue;
		x->dest_at[r] += n;
		if (x->dest_at[r] == d->len)
			d->len = x->dest_at[r] = 0;
		x->dest_raw[r] -= x->dest_raw[x->nranks + r];
		if (r != x->rank)
			x->stats.bytes_sent += n;
	}
}

static int size_recv(pl_exchange *x, size_t *total, pl_error *err)
{
	const int *rcnt = x->counts + x->nranks;
	int *rdsp = x->counts + 2 * x->nranks;
	*total = 0;
	for (int r = 0; r < x->nranks; r++) {
		rdsp[r] = (int)*total;
		*total += (size_t)rcnt[r];
	}
	x->recv.len = 0;
	return x->place ? 0 : pl_bytes_reserve(&x->recv, *total, x->pool, err);
}

/* Where sender r's bytes of this round land. */
static uint8_t *landing(const pl_exchange *x, int r)
{
	const int *at = x->counts + 2 * x->nranks;
	return x->place ? x->placed[r] : x->recv.data + at[r];
}

/* Under place: asks the receiver where each sender's bytes are to land. */
static int place_all(pl_exchange *x, void *arg, pl_error *err)
{
	const int *recv = x->counts + x->nranks;
	for (int r = 0; r < x->nranks; r++) {
		x->placed[r] = NULL;
		int rc = recv[r] > 0 ? x->place(arg, r, (size_t)recv[r],
						&x->placed[r], err)
				     : 0;
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Under keep_dict: each message's rows to fn on their own, so that its
 * dictionary columns stay such. */
static int deliver_each(pl_exchange *x, size_t total, pl_exchange_fn fn,
			void *arg, pl_error *err)
{
	for (size_t pos = 0, used = 0; pos < total; pos += used) {
		reset_batch(x, x->out);
		int rc = pl_codec_decode(x->codec, x->recv.data + pos,
					 total - pos, x->out, &used, err);
		if (rc == 0 && x->out->nrows > 0) {
			x->stats.rows_recv += x->out->nrows;
			rc = fn(arg, x->out, err);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Under undecoded: each sender's messages, as they came. */
static int deliver_undecoded(pl_exchange *x, void *arg, pl_error *err)
{
	const int *recv = x->counts + x->nranks;
	for (int r = 0; r < x->nranks; r++) {
		int rc = recv[r] > 0 ? x->undecoded(arg, r, landing(x, r),
						    (size_t)recv[r], err)
				     : 0;
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int deliver(pl_exchange *x, size_t total, pl_exchange_fn fn, void *arg,
		   pl_error *err)
{
	if (x->undecoded)
		return deliver_undecoded(x, arg, err);
	if (x->keep_dict)
		return deliver_each(x, total, fn, arg, err);
	reset_batch(x, x->out);
	int rc =
	    pl_codec_decode_all(x->codec, x->recv.data, total, x->out, err);
	if (rc != 0)
		return rc;
	x->stats.rows_recv += x->out->nrows;
	if (x->out->nrows == 0)
		return 0;
	return fn(arg, x->out, err);
}

/* Each peer's bytes straight from its destination buffer into the receive
 * buffer at its displacement, this rank's own by a copy: an Alltoallv
 * wants one send buffer, and staging every destination's bytes in one
 * cost a copy of all of them and a buffer as big (8 MiB a rank at the end
 * of a 4-rank q3). Rounds cannot mix: each starts with a collective on
 * the exchange's own communicator and ends with all its transfers. */
static int transfer(pl_exchange *x)
{
	const int n = x->nranks, *send = x->counts, *recv = send + n;
	int nreq = 0, ok = 1;
	for (int r = 0; r < n; r++) {
		if (r == x->rank) {
			if (send[r] > 0)
				memcpy(landing(x, r),
				       x->dest[r].data + x->dest_at[r],
				       (size_t)send[r]);
			continue;
		}
		if (recv[r] > 0)
			ok &=
			    MPI_Irecv(landing(x, r), recv[r], MPI_BYTE, r, 0,
				      x->comm, &x->reqs[nreq++]) == MPI_SUCCESS;
		if (send[r] > 0)
			ok &= MPI_Isend(x->dest[r].data + x->dest_at[r],
					send[r], MPI_BYTE, r, 0, x->comm,
					&x->reqs[nreq++]) == MPI_SUCCESS;
	}
	ok &= MPI_Waitall(nreq, x->reqs, MPI_STATUSES_IGNORE) == MPI_SUCCESS;
	return ok;
}

static int move_data(pl_exchange *x, void *arg, size_t *total, pl_error *err)
{
	int *c = x->counts, n = x->nranks;
	count_sends(x);
	if (MPI_Alltoall(c, 1, MPI_INT, c + n, 1, MPI_INT, x->comm) !=
	    MPI_SUCCESS)
		return x->failed = mpi_failed(err, "MPI_Alltoall");
	int rc = size_recv(x, total, err);
	if (rc == 0 && x->place)
		rc = place_all(x, arg, err);
	if ((rc = agree(x, rc, err)) != 0)
		return rc;
	if (!transfer(x))
		return x->failed = mpi_failed(err, "MPI_Isend/MPI_Irecv");
	consume_sends(x);
	return 0;
}

/* One round; *all_done tells when the shuffle is over on every rank. */
static int run_round(pl_exchange *x, int finishing, pl_exchange_fn fn,
		     void *arg, int *all_done, pl_error *err)
{
	int done = finishing && buffered(x) == 0;
	int rc = agree_round(x, 0, done, all_done, err);
	if (rc != 0 || *all_done)
		return rc;
	x->stats.rounds++;
	size_t total = 0;
	if ((rc = move_data(x, arg, &total, err)) != 0)
		return rc;
	rc = deliver(x, total, fn, arg, err);
	return rc != 0 ? fail_now(x, rc, err) : 0;
}

/* After a push buffered its rows (rc its status): rounds until no
 * destination is over its bound. */
static int after_push(pl_exchange *x, int rc, pl_exchange_fn fn, void *arg,
		      pl_error *err)
{
	if (rc != 0)
		return fail_now(x, rc, err);
	int all_done = 0;
	while (rc == 0 && over_bound(x))
		rc = run_round(x, 0, fn, arg, &all_done, err);
	return rc;
}

int pl_exchange_push(pl_exchange *x, const pl_batch *b, pl_exchange_fn fn,
		     void *arg, pl_error *err)
{
	if (x->failed)
		return already_failed(x, err);
	return after_push(x, partition(x, b, fn, arg, err), fn, arg, err);
}

int pl_exchange_push_to(pl_exchange *x, const pl_batch *b, size_t from,
			size_t n, int rank, pl_exchange_fn fn, void *arg,
			pl_error *err)
{
	if (x->failed)
		return already_failed(x, err);
	if (rank < 0 || rank >= x->nranks || b->ncols < x->wire_cols ||
	    from > b->nrows || n > b->nrows - from || b->nrows > INT_MAX)
		return fail_now(
		    x,
		    pl_error_set(err, PL_ERR_INTERNAL,
				 "exchange: rows %zu+%zu of %zu, %zu columns "
				 "for rank %d",
				 from, n, b->nrows, b->ncols, rank),
		    err);
	pl_batch w = *b;
	w.ncols = x->wire_cols;
	int self = rank == x->rank && x->self != NULL && !x->drop_self;
	int rc = self ? all_rows(x, from + n, err) : 0;
	if (rc == 0)
		rc = to_rank(x, &w, x->rows, NULL, from, n, rank, fn, arg, err);
	return after_push(x, rc, fn, arg, err);
}

int pl_exchange_finish(pl_exchange *x, pl_exchange_fn fn, void *arg,
		       pl_error *err)
{
	if (x->failed)
		return already_failed(x, err);
	int all_done = 0, rc = 0;
	while (rc == 0 && !all_done)
		rc = run_round(x, 1, fn, arg, &all_done, err);
	x->finished = rc == 0;
	return rc;
}

int pl_exchange_abort(pl_exchange *x, int rc, pl_error *err)
{
	if (x->failed)
		return x->failed;
	if (x->finished)
		return rc;
	return fail_now(x, rc < 0 ? rc : PL_ERR_INTERNAL, err);
}

/* The next piece of enc from pos: whole messages of at most round_bytes
 * raw bytes together (0 at the end). */
static size_t next_piece(const pl_exchange *x, const pl_bytes *enc, size_t pos)
{
	if (pos >= enc->len)
		return 0;
	size_t raw;
	return prefix_bytes(enc->data + pos, enc->len - pos, x->round_bytes,
			    &raw);
}

/* The largest run of whole messages that pieces of enc will need. */
static uint64_t largest_piece(const pl_exchange *x, const pl_bytes *enc)
{
	uint64_t most = 0;
	for (size_t pos = 0, n; (n = next_piece(x, enc, pos)) > 0; pos += n)
		if (n > most)
			most = n;
	return most;
}

/* Agrees on the receive buffer size every rank must hold (the largest
 * piece anyone sends) and sizes it. */
static int size_pieces(pl_exchange *x, const pl_bytes *enc, int rc,
		       pl_error *err)
{
	uint64_t mine = largest_piece(x, enc), most;
	if (MPI_Allreduce(&mine, &most, 1, MPI_UINT64_T, MPI_MAX, x->comm) !=
	    MPI_SUCCESS)
		return x->failed = mpi_failed(err, "MPI_Allreduce");
	x->recv.len = 0;
	if (rc == 0)
		rc = pl_bytes_reserve(&x->recv, (size_t)most, x->pool, err);
	return agree(x, rc, err);
}

static int encode_all(pl_exchange *x, const pl_batch *b, pl_bytes *enc,
		      pl_error *err)
{
	if (b->nrows == 0)
		return 0;
	size_t raw = 0;
	return encode_split(x, b, NULL, 0, b->nrows, enc, &raw, err);
}

/* Rank 0's own rows go straight into out: they need no message. */
static int append_own(pl_exchange *x, const pl_batch *b, pl_batch *out,
		      pl_error *err)
{
	for (size_t j = 0; j < out->ncols; j++) {
		if (pl_column_append_range(&out->cols[j], &b->cols[j], 0,
					   b->nrows, x->pool, err) != 0) {
			for (size_t k = 0; k <= j; k++)
				pl_column_truncate(&out->cols[k], out->nrows);
			return PL_ERR_NOMEM;
		}
	}
	out->nrows += b->nrows;
	return 0;
}

/* Sends enc to rank 0 in pieces, then an empty piece to end. */
static void send_pieces(pl_exchange *x, const pl_bytes *enc)
{
	size_t pos = 0, n;
	do {
		n = next_piece(x, enc, pos);
		MPI_Send(n ? enc->data + pos : x->recv.data, (int)n, MPI_BYTE,
			 0, TAG_GATHER, x->comm);
		x->stats.bytes_sent += n;
		pos += n;
	} while (n > 0);
}

/* Receives rank src's pieces until its empty one; decodes them unless this
 * rank already failed (it still drains them, so the sender can finish). */
static int recv_pieces(pl_exchange *x, int src, pl_batch *out, int rc,
		       pl_error *err)
{
	for (;;) {
		MPI_Status st;
		int n;
		MPI_Probe(src, TAG_GATHER, x->comm, &st);
		MPI_Get_count(&st, MPI_BYTE, &n);
		MPI_Recv(x->recv.data, n, MPI_BYTE, src, TAG_GATHER, x->comm,
			 MPI_STATUS_IGNORE);
		if (n == 0)
			return rc;
		if (rc == 0)
			rc = pl_codec_decode_all(x->codec, x->recv.data,
						 (size_t)n, out, err);
	}
}

int pl_exchange_gather_to_root(pl_exchange *x, const pl_batch *b, pl_batch *out,
			       pl_error *err)
{
	if (x->failed)
		return already_failed(x, err);
	pl_bytes enc = {0};
	size_t before = out && x->rank == 0 ? out->nrows : 0;
	int rc = x->rank == 0 ? append_own(x, b, out, err)
			      : encode_all(x, b, &enc, err);
	if ((rc = size_pieces(x, &enc, rc, err)) == 0) {
		if (x->rank != 0)
			send_pieces(x, &enc);
		for (int r = 1; x->rank == 0 && r < x->nranks; r++)
			rc = recv_pieces(x, r, out, rc, err);
		if (x->rank == 0)
			x->stats.rows_recv += out->nrows - before;
		rc = agree(x, rc, err);
	}
	pl_bytes_free(&enc, x->pool);
	return rc;
}

static int bcast_pieces(pl_exchange *x, int root, const pl_bytes *enc,
			pl_batch *b, pl_error *err)
{
	int rc = 0;
	for (size_t pos = 0;;) {
		uint64_t n = x->rank == root ? next_piece(x, enc, pos) : 0;
		uint8_t *buf =
		    x->rank == root && n ? enc->data + pos : x->recv.data;
		MPI_Bcast(&n, 1, MPI_UINT64_T, root, x->comm);
		if (n == 0)
			return rc;
		MPI_Bcast(buf, (int)n, MPI_BYTE, root, x->comm);
		pos += n;
		if (x->rank == root)
			x->stats.bytes_sent += n * (uint64_t)(x->nranks - 1);
		else if (rc == 0)
			rc = pl_codec_decode_all(x->codec, buf, (size_t)n, b,
						 err);
	}
}

int pl_exchange_bcast(pl_exchange *x, int root, pl_batch *b, pl_error *err)
{
	if (x->failed)
		return already_failed(x, err);
	pl_bytes enc = {0};
	int rc = x->rank == root ? encode_all(x, b, &enc, err) : 0;
	size_t before = b->nrows;
	if ((rc = size_pieces(x, &enc, rc, err)) == 0) {
		rc = bcast_pieces(x, root, &enc, b, err);
		if (x->rank != root)
			x->stats.rows_recv += b->nrows - before;
		rc = agree(x, rc, err);
	}
	pl_bytes_free(&enc, x->pool);
	return rc;
}

/* Moving rows between ranks: hash-partitioned shuffles in bounded rounds,
 * gathering to rank 0 in rank order, and broadcasting from one rank.
 *
 * Rows travel as batch_codec messages. Every operation here is collective
 * over the exchange's communicator (a private duplicate of the one given),
 * so all ranks must make the matching calls; the shuffle is the exception
 * that makes this workable: pl_exchange_push may be called a different
 * number of times on each rank, because every round it runs is matched by
 * a round on every other rank, either in its own push or in
 * pl_exchange_finish, which keeps running rounds until all ranks are done.
 *
 * Failure: when a call fails on one rank, it tells the others at the next
 * agreement before returning, and every rank's call then fails too, with
 * "rank N failed" on the ranks that did not fail themselves. No rank is left
 * waiting. After a failure the exchange only reports the same error. */
#ifndef PIPELINE_FRAMEWORK_EXCHANGE_H
#define PIPELINE_FRAMEWORK_EXCHANGE_H

#include <mpi.h>

#include "framework/batch_codec.h"

/* The combined hash of the key columns keys[0 .. nkeys) of row `row`. Rows
 * with equal keys hash alike on every rank. */
uint64_t pl_row_hash(const pl_batch *b, const size_t *keys, size_t nkeys,
		     size_t row);

/* pl_row_hash of every row of b into h[0 .. b->nrows), a column at a
 * time. */
void pl_rows_hash(const pl_batch *b, const size_t *keys, size_t nkeys,
		  uint64_t *h);

/* The partition in [0, nparts) a row hash belongs to. It reads the hash's
 * high bits, so a hash table on the receiving rank that indexes by the low
 * bits still sees them spread evenly. */
static inline int pl_hash_partition(uint64_t hash, int nparts)
{
	return (int)(((hash >> 32) * (uint64_t)nparts) >> 32);
}

/* Sets, unless the user did, what MPI processes that all share one node
 * (and the launcher starting them) want: Open MPI's ob1 transport, and no
 * hwloc I/O discovery (PCI devices), which only serves finding network
 * cards. Call before MPI_Init, or before starting the launcher. */
void pl_mpi_one_node_env(void);

/* MPI_Init for a process with helper threads that never call MPI (the
 * read-ahead thread, the spawn watchdog): MPI_THREAD_FUNNELED. */
void pl_mpi_init(void);

/* Rank and size of comm; MPI_COMM_NULL stands for a job of one process
 * that never started MPI (rank 0 of 1), so that the one-rank path needs
 * no MPI at all. */
int pl_comm_rank(MPI_Comm comm);
int pl_comm_size(MPI_Comm comm);

/* Waits for req to complete without keeping a core busy: MPI's blocking
 * calls poll, so a rank that waits long for a slower one (the end of its
 * share of the input, a shuffle round) would burn as much CPU as the one
 * working. Tests a few times, then sleeps between tests, from 20 us up to
 * 0.5 ms. Returns 0, or -1 when MPI_Test fails. */
int pl_mpi_wait(MPI_Request *req);

/* MPI_Allreduce of n ints with MPI_MIN, waiting as pl_mpi_wait does.
 * Returns 0 or -1. Collective. */
int pl_mpi_allreduce_min(int *in, int *out, int n, MPI_Comm comm);

/* Every rank passes its local status (0 or a negative PL_ERR_*) and gets
 * back the lowest status of all ranks, so that all stop together. When
 * this rank was fine but another failed, err says which and has
 * err->elsewhere set. Collective. */
int pl_mpi_agree(MPI_Comm comm, int local_rc, pl_error *err);

/* Called with the rows a round delivered to this rank (in the order of the
 * ranks that sent them); the batch is lent for the call only. A nonzero
 * return (a PL_ERR_* with err set) fails the exchange on every rank. */
typedef int (*pl_exchange_fn)(void *arg, pl_batch *rows, pl_error *err);

/* Called under the undecoded option with the messages a round brought from one
 * rank, undecoded: whole pl_codec messages back to back, len bytes, lent
 * for the call (pl_codec_decode reads them as batches of the wire
 * columns). A nonzero return fails the exchange as fn's does. */
typedef int (*pl_exchange_undecoded_fn)(void *arg, int sender,
					const uint8_t *msgs, size_t len,
					pl_error *err);

/* Called under the undecoded and place options before a round's bytes
 * from sender arrive: *at gets room for their len bytes, which must stay
 * put until undecoded is called with them. Nonzero (err set) fails the
 * exchange on every rank before anything is sent. */
typedef int (*pl_exchange_place_fn)(void *arg, int sender, size_t len,
				    uint8_t **at, pl_error *err);

typedef struct pl_exchange_opts {
	const size_t *keys; /* key column indexes for shuffles */
	size_t nkeys;	    /* 0 when only gathering or broadcasting */
	size_t round_bytes; /* buffered bytes per destination that start a
			       round; also the largest message size */
	int zstd_level;	    /* 0: never compress */
	/* Non-zero: a shuffle hands the rows a push keeps on this rank to fn
	 * at once, copied but never encoded, instead of in a round. They
	 * then arrive before rows other ranks sent earlier; each sender's
	 * rows still arrive in the order it pushed them. */
	int direct_self;
	/* Non-zero: a shuffle drops the rows a push keeps on this rank (the
	 * caller has them and reads them by other means). */
	int drop_self;
	/* Non-zero: dictionary-encoded string columns reach fn as such
	 * (pl_codec_keep_dict); a shuffle then hands fn each message's rows
	 * on their own. For a receiver that takes dictionary columns. */
	int keep_dict;
	/* Non-zero: only the first wire_cols columns of a pushed batch
	 * travel, and fn gets batches of those; the rest (routing keys)
	 * stay behind. */
	size_t wire_cols;
	/* Non-NULL: a shuffle round hands each sender's messages to undecoded,
	 * with the arg of the push or finish, instead of their rows to fn
	 * (fn still gets the rows of direct_self). For a receiver that only
	 * files rows away by sender: they are decoded once, when read. */
	pl_exchange_undecoded_fn undecoded;
	/* Optional with undecoded: each sender's bytes are received straight
	 * into the room place gives, and undecoded gets them there, instead
	 * of in the exchange's receive buffer: a receiver that keeps them
	 * does not copy them again. */
	pl_exchange_place_fn place;
} pl_exchange_opts;

typedef struct pl_exchange_stats {
	uint64_t rounds;     /* shuffle rounds run */
	uint64_t rows_sent;  /* rows this rank sent (itself included) */
	uint64_t rows_recv;  /* rows delivered to this rank (to fn) */
	uint64_t bytes_raw;  /* message bytes before compression */
	uint64_t bytes_sent; /* message bytes handed to MPI for other ranks */
} pl_exchange_stats;

typedef struct pl_exchange pl_exchange;

/* Creates an exchange of batches of the given schema over a duplicate of
 * comm, with its buffers from pool. Collective. Returns NULL with err set
 * on failure, on every rank alike. */
pl_exchange *pl_exchange_create(MPI_Comm comm, const pl_schema *schema,
				const pl_exchange_opts *opts, pl_pool *pool,
				pl_error *err);

/* Frees the exchange and its communicator. Collective; NULL is fine (on
 * every rank alike). */
void pl_exchange_destroy(pl_exchange *x);

/* This rank's index and the number of ranks. */
int pl_exchange_rank(const pl_exchange *x);
int pl_exchange_size(const pl_exchange *x);

/* Buffers the rows of b for the ranks their keys hash to (b is only read).
 * When a destination's buffer passes round_bytes, runs rounds until none
 * does; rows received are handed to fn. */
int pl_exchange_push(pl_exchange *x, const pl_batch *b, pl_exchange_fn fn,
		     void *arg, pl_error *err);

/* As pl_exchange_push with rows [from, from + n) of b all for rank (b
 * needs no key columns then: only its wire columns are read), without
 * hashing: for a caller that knows where its rows go (a sample sort's
 * ranges). A rank or rows that do not exist fail the exchange
 * (PL_ERR_INTERNAL). */
int pl_exchange_push_to(pl_exchange *x, const pl_batch *b, size_t from,
			size_t n, int rank, pl_exchange_fn fn, void *arg,
			pl_error *err);

/* Sends everything still buffered and keeps running rounds, handing rows
 * to fn, until every rank has finished. Call once, after the last push. */
int pl_exchange_finish(pl_exchange *x, pl_exchange_fn fn, void *arg,
		       pl_error *err);

/* For a rank that failed outside the exchange while a shuffle is open:
 * reports rc (negative) at the next round so the others stop, and returns
 * the agreed status. Does nothing when a failure was already agreed. */
int pl_exchange_abort(pl_exchange *x, int rc, pl_error *err);

/* Appends the rows of every rank's b to out on rank 0, rank 0's first,
 * then rank 1's, and so on; out is unused elsewhere (may be NULL). Not to
 * be called while a shuffle is open. */
int pl_exchange_gather_to_root(pl_exchange *x, const pl_batch *b, pl_batch *out,
			       pl_error *err);

/* Appends the rows of b on rank root to b on every other rank. Not to be
 * called while a shuffle is open. */
int pl_exchange_bcast(pl_exchange *x, int root, pl_batch *b, pl_error *err);

/* Current counters of this rank. */
pl_exchange_stats pl_exchange_get_stats(const pl_exchange *x);

#endif

/* Shuffles of partial state between ranks (shuffle.c): the rows of a
 * merge point's local instances to the ranks that own them, filed by
 * sender, then merged into a second instance there. */
#ifndef PIPELINE_FRAMEWORK_SHUFFLE_H
#define PIPELINE_FRAMEWORK_SHUFFLE_H

#include "framework/exec_internal.h"

/* Bytes buffered per destination that start a shuffle round (at most),
 * and the zstd level of rows shuffled across nodes. Rounds of 1 MiB
 * rather than 4 cost more collectives but let a rank's send, receive and
 * decoded buffers be a quarter as big: an exchange's buffers were ~25 MB
 * of fresh memory a rank at the end of a 4-rank q3, and on the test VM
 * each fresh MB costs ~1.5 ms to fault in (4-rank q3, medians of 5:
 * 1.86 -> 1.65 CPU-s). */
#define PL_SHUFFLE_ROUND_BYTES ((size_t)1 << 20)
/* zstd's fast level 5 rather than level 1: 4 ranks on 2 fake nodes,
 * medians of 3, CPU-seconds of all ranks: the sort 9.05 -> 7.99, q10
 * 8.48 -> 7.58, q6 2.47 -> 2.27, for 30% more bytes on the wire (the
 * sort's 786 MB raw as 230 MB against 177; level -3 was slower and sent
 * more). Which pays on a real network depends on its speed against the
 * cores' (not measured here: the fake nodes share memory). */
#define PL_SHUFFLE_ZSTD_LEVEL (-5)

/* A shuffle of a merge point's partial state (by key for exec_merge.c, by
 * key range for exec_range.c): batches of the partial columns go out and
 * are filed on arrival by sender in run files, as the messages they came
 * in. */
typedef struct pl_shuffle {
	pl_exec *x;
	size_t op; /* the operator whose state it carries */
	pl_exchange *ex;
	pl_run_file **from; /* rows received, per sending rank */
	pl_codec *codec;
	size_t hold; /* bytes the run files may keep in memory together */
	/* Optional: this rank's own rows, when they were kept rather than
	 * sent to itself; pl_shuffle_merge_received calls it at this rank's
	 * turn, to hand them to take in order. */
	int (*own_rows)(void *arg, int (*take)(void *, pl_batch *, pl_error *),
			void *take_arg, pl_error *err);
	void *own_arg;
} pl_shuffle;

/* Sets up a shuffle of operator i's partial state; wire gets its schema
 * on the wire (the partial schema). sh->x must be set; free with
 * pl_shuffle_free also on failure. Local: the exchange is the caller's to
 * create, with pl_shuffle_wire's options. */
int pl_shuffle_init(pl_shuffle *sh, const pl_operator *local, pl_schema *wire,
		    pl_error *err);
void pl_shuffle_free(pl_shuffle *sh);

/* Sets the options of the shuffle's exchange that make it hand what it
 * receives to
 * pl_shuffle_receive_undecoded, received where pl_shuffle_place says
 * (push and finish then take pl_shuffle_receive and sh); a rank short of
 * memory also compresses what it sends, as the run files keep the
 * messages as they came. */
void pl_shuffle_wire(const pl_shuffle *sh, pl_exchange_opts *o);

/* Raw bytes per destination and round of a shuffle: a round brings a
 * receiver at most a sixteenth of its budget, however well the rows
 * compressed on the way. */
size_t pl_shuffle_round_bytes(const pl_exec *x);

/* Exchange callbacks: file the rows a push kept on this rank
 * (direct_self), and a round's messages from sender, under that rank;
 * place gives the room at the end of sender's run file that its messages
 * are received into, so that filing them copies nothing. */
int pl_shuffle_receive(void *arg, pl_batch *rows, pl_error *err);
int pl_shuffle_receive_undecoded(void *arg, int sender, const uint8_t *msgs,
				 size_t len, pl_error *err);
int pl_shuffle_place(void *arg, int sender, size_t len, uint8_t **at,
		     pl_error *err);

/* Pushes the rows of partial batch b into the shuffle, each to the rank
 * its keys hash to. */
int pl_shuffle_push(pl_shuffle *sh, const pl_batch *b, pl_error *err);

/* Pushes rows [from, from + n) of partial batch b into the shuffle for
 * rank (a sample sort's range). */
int pl_shuffle_push_to(pl_shuffle *sh, const pl_batch *b, size_t from, size_t n,
		       int rank, pl_error *err);

/* Merges what each rank sent, rank 0's first, into a new instance of
 * operator i (which spills over budget as a local one would) and
 * finishes it into stage i + 1; each sender's run file goes once merged,
 * and at this rank's turn sh->own_rows, when set, hands over the rows it
 * kept. partial: operator i's partial schema. */
int pl_shuffle_merge_received(pl_shuffle *sh, size_t i,
			      const pl_schema *partial, pl_error *err);

/* Gives back the memory of operator i's local instance once its partial
 * state has been sent: the instance starts afresh, empty. */
int pl_exec_reset_local(pl_exec *x, size_t i, pl_error *err);

/* Adds the exchange's traffic to the run's counters. */
void pl_exec_count_stats(pl_exec *x, const pl_exchange *ex);

#endif

/* Splitting CSV input among ranks: each rank reads a share, a list of byte
 * ranges of the input files whose edges are true record starts, so that
 * the shares of all ranks, in rank order, hold every record exactly once
 * and in input order.
 *
 * The files are seen as one byte space (their concatenation) cut into
 * nranks equal nominal ranges, rank r taking the r-th: a rank may end one
 * file and start the next. Files that cannot be read from an offset
 * (zstd-compressed, empty, not regular) are not cut: each goes whole to
 * the rank whose nominal range holds its middle byte, which keeps rank
 * order equal to input order (the sink and limit rely on it).
 *
 * A nominal edge inside a file then moves to the first record start at or
 * after it. Whether a position is inside a quoted field is told by quote
 * parity (RFC 4180): an odd number of quote bytes from the file's start to
 * it means inside (a doubled quote counts two, so it keeps the parity). A
 * record starts after an LF (CRLF ends with LF) at even parity, or at the
 * data start (after the BOM and the header). The counts a rank needs at
 * its nominal start are the sums of the counts of the lower ranks' nominal
 * ranges in the same file, which an exclusive scan gives (see
 * framework/csv_partition_mpi.h); nothing here uses MPI.
 *
 * Limit: a quote inside an unquoted field (which the reader takes as data)
 * upsets the parity. The reader then finds a quoted field running past
 * the end of a share and fails naming the line (see
 * pl_csv_reader_set_share), rather than reading wrong rows. */
#ifndef PIPELINE_IO_CSV_PARTITION_H
#define PIPELINE_IO_CSV_PARTITION_H

#include <stdint.h>

#include "io/csv_reader.h"

/* A run of one file that a rank reads. */
typedef struct pl_csv_piece {
	size_t file;	/* index into the options' paths */
	uint64_t start; /* first byte: a record start at or after the data
			   start */
	uint64_t end;	/* one past the last byte: a record start or the
			   file's end */
	int64_t line;	/* physical line (1-based, header counted) of start */
	int whole;	/* read the whole file as a stream, header and all
			   (start, end and line are then unused) */
} pl_csv_piece;

/* What one rank reads, in input order. */
typedef struct pl_csv_share {
	pl_csv_piece *pieces;
	size_t npieces;
} pl_csv_share;

/* Frees the pieces and empties the share; a zeroed share is fine. */
void pl_csv_share_free(pl_csv_share *s);

/* Quote bytes and LF bytes in a byte range. */
typedef struct pl_csv_counts {
	uint64_t quotes;
	uint64_t newlines;
} pl_csv_counts;

/* How a file takes part in the split. */
typedef struct pl_csv_file_info {
	uint64_t size;
	int whole; /* not cut: compressed, empty or not a regular file */
} pl_csv_file_info;

/* Fills info[0 .. o->npaths) from each file's size and first bytes (the
 * zstd magic, as the reader tells compression). A file that cannot be
 * opened is PL_ERR_IO naming it. */
int pl_csv_file_infos(const pl_csv_options *o, pl_csv_file_info *info,
		      pl_error *err);

/* Rank's nominal share of nranks (0 <= rank < nranks): the pieces of its
 * byte range of the concatenation, edges not yet moved (start and end are
 * nominal, line is 0), and the whole files whose middle byte it holds. A
 * rank whose range is empty (more ranks than bytes) gets no pieces. out
 * is the caller's: pl_csv_share_free. */
int pl_csv_nominal_share(const pl_csv_file_info *info, size_t nfiles, int rank,
			 int nranks, pl_csv_share *out, pl_error *err);

/* Counts quote and LF bytes of path in [start, end), stopping early at the
 * file's end. Reads in large blocks; runs at memory speed. */
int pl_csv_count(const char *path, uint64_t start, uint64_t end, char quote,
		 pl_csv_counts *out, pl_error *err);

/* The first record start at or after pos in path, given the parity of the
 * quotes before pos (odd: pos is inside a quoted field): pos itself when
 * byte pos-1 is an LF and parity is even, else one past the next LF at
 * even parity, else the file's end. *newlines gets the LF bytes in
 * [pos, *start). pos must be past the data start (see pl_csv_data_start),
 * where a record start needs an LF before it. */
int pl_csv_next_record_start(const char *path, uint64_t pos, int parity,
			     char quote, uint64_t *start, uint64_t *newlines,
			     pl_error *err);

/* A guess of the quote parity at pos (see pl_csv_next_record_start) from
 * the 64 KiB after it, without counting the bytes before: within 64 KiB
 * of the file's end the quotes up to the end tell; else the first quote
 * that can only open a field or only close one, else even. A wrong guess
 * matters only when pos is inside a quoted field that holds a line end;
 * the reader of the share before the edge then finds a quoted field
 * running past its end (PL_ERR_DATA). */
int pl_csv_guess_parity(const char *path, uint64_t pos, char quote, char delim,
			int *parity, pl_error *err);

/* The data start of path: past the BOM, and with header set past any
 * empty lines and the header record, whose line end is found by quote
 * parity; *line gets its physical line. A file holding no header record
 * gives its size (the reader then reports the missing header). */
int pl_csv_data_start(const char *path, int header, char quote, uint64_t *start,
		      int64_t *line, pl_error *err);

/* The counting of a split, spread evenly over the ranks instead of each
 * rank counting its own nominal range (and the last rank's count, which
 * nobody needs: its pieces end at their files' ends, and no rank comes
 * after it). The cells are the cut pieces of the nominal shares of ranks
 * 0 .. nranks - 2 in rank order; each rank counts its nranks-th slice of
 * every cell, and the sums over the ranks are the cells' counts. On 2
 * ranks that halves the bytes counted, and a rank counts a quarter of the
 * input instead of half. */
typedef struct pl_csv_cell {
	size_t file;
	int rank; /* whose nominal range it is part of */
	uint64_t start, end;
} pl_csv_cell;

/* The cells of a split of the files of info among nranks (none for one
 * rank). *cells is the caller's to free. */
int pl_csv_cells(const pl_csv_file_info *info, size_t nfiles, int nranks,
		 pl_csv_cell **cells, size_t *ncells, pl_error *err);

/* Counts rank's slice of each cell into counts[i]. */
int pl_csv_count_cells(const pl_csv_options *o, const pl_csv_cell *cells,
		       size_t ncells, int rank, int nranks,
		       pl_csv_counts *counts, pl_error *err);

/* From the cells' counts summed over the ranks, the before and own counts
 * of each piece of rank's nominal share, as pl_csv_fix_share takes them
 * (own is zero for the last rank, whose edges are its files' ends). */
void pl_csv_share_counts(const pl_csv_cell *cells, size_t ncells,
			 const pl_csv_counts *sum, int rank,
			 const pl_csv_share *share, pl_csv_counts *before,
			 pl_csv_counts *own);

/* Moves the edges of a nominal share to record starts and sets each
 * piece's line, given before[i], the counts of piece i's file from byte 0
 * to the piece's nominal start (the lower ranks' counts in that file), and
 * own[i] from pl_csv_share_counts. Pieces left empty are dropped, except a
 * file's first piece (kept for the header check). With before and own
 * NULL the edges move by guessed parity (pl_csv_guess_parity) and the
 * line of a piece that does not start at its file's data start is 0:
 * unknown, as nothing was counted. */
int pl_csv_fix_share(const pl_csv_options *o, pl_csv_share *share,
		     const pl_csv_counts *before, const pl_csv_counts *own,
		     pl_error *err);

#endif

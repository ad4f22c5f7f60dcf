#include <stdlib.h>
#include <string.h>

#include "framework/csv_partition_mpi.h"
#include "framework/exchange.h"

/* The nominal share and, per piece, the counts of its bytes (own) and of
 * the file's bytes before it (before). */
typedef struct split {
	pl_csv_share share;
	pl_csv_counts *own;
	pl_csv_counts *before;
	uint64_t *sums; /* per file: quotes then LFs; 2 * npaths */
	uint64_t *prefix;
} split;

static void split_free(split *s)
{
	pl_csv_share_free(&s->share);
	free(s->own);
	free(s->before);
	free(s->sums);
	free(s->prefix);
}

/* Local work before the scan: file sizes, the nominal share, counts. */
static int count_local(const pl_csv_options *o, int rank, int nranks, split *s,
		       pl_error *err)
{
	size_t nf = o->npaths;
	pl_csv_file_info *info = malloc((nf + 1) * sizeof(*info));
	s->sums = calloc(2 * nf + 1, sizeof(*s->sums));
	s->prefix = calloc(2 * nf + 1, sizeof(*s->prefix));
	if (info == NULL || s->sums == NULL || s->prefix == NULL) {
		free(info);
		return pl_error_nomem(err, "a csv split");
	}
	int rc = pl_csv_file_infos(o, info, err);
	if (rc == 0)
		rc = pl_csv_nominal_share(info, nf, rank, nranks, &s->share,
					  err);
	free(info);
	if (rc != 0)
		return rc;
	size_t np = s->share.npieces;
	s->own = calloc(np + 1, sizeof(*s->own));
	s->before = calloc(np + 1, sizeof(*s->before));
	if (s->own == NULL || s->before == NULL)
		return pl_error_nomem(err, "a csv split");
	rc = pl_csv_count_share(o, &s->share, s->own, err);
	for (size_t i = 0; rc == 0 && i < np; i++) {
		size_t f = s->share.pieces[i].file;
		s->sums[2 * f] += s->own[i].quotes;
		s->sums[2 * f + 1] += s->own[i].newlines;
	}
	return rc;
}

/* The lower ranks' ranges in a file are exactly its bytes before this
 * rank's piece, so the scan's sums are the counts up to the piece. */
static int scan_counts(MPI_Comm comm, int rank, const pl_csv_options *o,
		       split *s, pl_error *err)
{
	int n = (int)(2 * o->npaths);
	if (MPI_Exscan(s->sums, s->prefix, n, MPI_UINT64_T, MPI_SUM, comm) !=
	    MPI_SUCCESS)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: MPI_Exscan "
				    "failed",
				    __FILE__, __LINE__);
	/* MPI leaves rank 0's result undefined. */
	if (rank == 0)
		memset(s->prefix, 0, (size_t)n * sizeof(*s->prefix));
	for (size_t i = 0; i < s->share.npieces; i++) {
		size_t f = s->share.pieces[i].file;
		s->before[i].quotes = s->prefix[2 * f];
		s->before[i].newlines = s->prefix[2 * f + 1];
	}
	return 0;
}

int pl_csv_partition_mpi(MPI_Comm comm, const pl_csv_options *o,
			 pl_csv_share *out, pl_error *err)
{
	int rank, nranks;
	split s;
	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &nranks);
	if (o->npaths > (size_t)INT32_MAX / 2)
		return pl_error_set(err, PL_ERR_CONF,
				    "csv: too many files "
				    "(%zu)",
				    o->npaths);
	int rc = count_local(o, rank, nranks, &s, err);
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0)
		rc = scan_counts(comm, rank, o, &s, err);
	if (rc == 0)
		rc = pl_csv_fix_share(o, &s.share, s.before, s.own, err);
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0) {
		*out = s.share;
		s.share = (pl_csv_share){NULL, 0};
	}
	split_free(&s);
	return rc;
}

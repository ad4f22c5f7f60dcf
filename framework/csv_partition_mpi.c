#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "framework/csv_partition_mpi.h"
#include "framework/exchange.h"

/* The nominal share, the split's cells and their counts, and per piece
 * the counts of its bytes (own) and of the file's bytes before it
 * (before). */
typedef struct split {
	pl_csv_share share;
	pl_csv_cell *cells;
	size_t ncells;
	pl_csv_counts *counts;
	pl_csv_counts *own;
	pl_csv_counts *before;
} split;

static void split_free(split *s)
{
	pl_csv_share_free(&s->share);
	free(s->cells);
	free(s->counts);
	free(s->own);
	free(s->before);
}

/* Local work before the sum: file sizes, the nominal share and the
 * cells, with room for their counts. */
static int cells_local(const pl_csv_options *o, int rank, int nranks, split *s,
		       pl_error *err)
{
	size_t nf = o->npaths;
	pl_csv_file_info *info = malloc((nf + 1) * sizeof(*info));
	if (info == NULL)
		return pl_error_nomem(err, "a csv split");
	int rc = pl_csv_file_infos(o, info, err);
	if (rc == 0)
		rc = pl_csv_nominal_share(info, nf, rank, nranks, &s->share,
					  err);
	if (rc == 0)
		rc = pl_csv_cells(info, nf, nranks, &s->cells, &s->ncells, err);
	free(info);
	if (rc != 0)
		return rc;
	size_t np = s->share.npieces;
	s->counts = calloc(s->ncells + 1, sizeof(*s->counts));
	s->own = calloc(np + 1, sizeof(*s->own));
	s->before = calloc(np + 1, sizeof(*s->before));
	if (s->counts == NULL || s->own == NULL || s->before == NULL)
		return pl_error_nomem(err, "a csv split");
	return 0;
}

_Static_assert(sizeof(pl_csv_counts) == 2 * sizeof(uint64_t),
	       "the sum takes pl_csv_counts as two uint64_t");

/* The cells' counts summed over the ranks, then each piece's. */
static int sum_counts(MPI_Comm comm, int rank, split *s, pl_error *err)
{
	size_t n = 2 * s->ncells;
	if (n > INT_MAX)
		return pl_error_set(err, PL_ERR_CONF,
				    "csv: too many files for %d ranks",
				    pl_comm_size(comm));
	if (n > 0 && MPI_Allreduce(MPI_IN_PLACE, s->counts, (int)n,
				   MPI_UINT64_T, MPI_SUM, comm) != MPI_SUCCESS)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "%s:%d: MPI_Allreduce failed", __FILE__,
				    __LINE__);
	pl_csv_share_counts(s->cells, s->ncells, s->counts, rank, &s->share,
			    s->before, s->own);
	return 0;
}

int pl_csv_partition_mpi(MPI_Comm comm, const pl_csv_options *o, int guess,
			 pl_csv_share *out, int *guessed, pl_error *err)
{
	int rank, nranks;
	split s;
	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	*guessed = 0;
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &nranks);
	int rc = cells_local(o, rank, nranks, &s, err);
	if (rc == 0 && !guess)
		rc = pl_csv_count_cells(o, s.cells, s.ncells, rank, nranks,
					s.counts, err);
	rc = pl_mpi_agree(comm, rc, err);
	*guessed = rc == 0 && guess && s.ncells > 0;
	if (rc == 0 && !guess)
		rc = pl_mpi_agree(comm, sum_counts(comm, rank, &s, err), err);
	if (rc == 0)
		rc = guess
			 ? pl_csv_fix_share(o, &s.share, NULL, NULL, err)
			 : pl_csv_fix_share(o, &s.share, s.before, s.own, err);
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0) {
		*out = s.share;
		s.share = (pl_csv_share){NULL, 0};
	}
	split_free(&s);
	return rc;
}

/* The ranks of a node (pipeline/node_group.h): a communicator split by
 * node as pl_topology_detect splits it, and the few collectives an
 * operator's prepare needs, waiting through pl_mpi_wait. */
#include <stdlib.h>
#include <string.h>

#include "framework/exchange.h"
#include "framework/topology.h"
#include "pipeline/node_group.h"

struct pl_node_group {
	MPI_Comm comm; /* MPI_COMM_NULL: this process alone */
	int rank, size;
};

int pl_node_group_open(const void *comm, pl_node_group **out, pl_error *err)
{
	MPI_Comm job = comm ? *(const MPI_Comm *)comm : MPI_COMM_NULL;
	pl_node_group *g = calloc(1, sizeof(*g));
	int rc = g ? 0 : pl_error_nomem(err, "a node group");
	MPI_Comm node = MPI_COMM_NULL;
	if (job != MPI_COMM_NULL) {
		int split = pl_topology_node_comm(job, &node, err);
		rc = pl_mpi_agree(job, rc ? rc : split, err);
	}
	if (rc != 0) {
		if (node != MPI_COMM_NULL)
			MPI_Comm_free(&node);
		free(g);
		*out = NULL;
		return rc;
	}
	g->comm = node;
	g->rank = pl_comm_rank(node);
	g->size = pl_comm_size(node);
	*out = g;
	return 0;
}

int pl_node_group_rank(const pl_node_group *g)
{
	return g->rank;
}

int pl_node_group_size(const pl_node_group *g)
{
	return g->size;
}

const void *pl_node_group_comm(const pl_node_group *g)
{
	return &g->comm;
}

int pl_node_group_agree(pl_node_group *g, int rc, pl_error *err)
{
	return pl_mpi_agree(g->comm, rc, err);
}

int pl_node_group_gather(pl_node_group *g, int rc, const uint64_t *mine,
			 size_t n, uint64_t *all, pl_error *err)
{
	rc = pl_mpi_agree(g->comm, rc, err);
	if (rc != 0)
		return rc;
	if (g->comm == MPI_COMM_NULL) {
		memcpy(all, mine, n * sizeof(*mine));
		return 0;
	}
	MPI_Request req;
	if (MPI_Iallgather(mine, (int)n, MPI_UINT64_T, all, (int)n,
			   MPI_UINT64_T, g->comm, &req) != MPI_SUCCESS ||
	    pl_mpi_wait(&req) != 0)
		return pl_error_set(err, PL_ERR_INTERNAL,
				    "MPI_Iallgather failed");
	return 0;
}

/* Ibcast counts are ints: pieces of at most 1 GiB. */
#define BCAST_PIECE ((size_t)1 << 30)

int pl_node_group_bcast(pl_node_group *g, int root, void *buf, size_t bytes,
			pl_error *err)
{
	for (size_t at = 0; g->comm != MPI_COMM_NULL && at < bytes;
	     at += BCAST_PIECE) {
		size_t n = bytes - at < BCAST_PIECE ? bytes - at : BCAST_PIECE;
		MPI_Request req;
		if (MPI_Ibcast((char *)buf + at, (int)n, MPI_BYTE, root,
			       g->comm, &req) != MPI_SUCCESS ||
		    pl_mpi_wait(&req) != 0)
			return pl_error_set(err, PL_ERR_INTERNAL,
					    "MPI_Ibcast failed");
	}
	return 0;
}

void pl_node_group_close(pl_node_group *g)
{
	if (g == NULL)
		return;
	if (g->comm != MPI_COMM_NULL)
		MPI_Comm_free(&g->comm);
	free(g);
}

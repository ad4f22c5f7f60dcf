#include <stdlib.h>

#include "framework/exchange.h"
#include "framework/topology.h"

/* The fake node of rank r among n ranks on k nodes, or -1 when unset. */
static int fake_node(int r, int n, int *k, pl_error *err)
{
	const char *v = getenv("PIPELINE_FAKE_NODES");
	if (v == NULL || *v == '\0')
		return -1;
	char *end;
	long nodes = strtol(v, &end, 10);
	if (*end != '\0' || nodes < 1)
		return pl_error_set(err, PL_ERR_CONF,
				    "PIPELINE_FAKE_NODES must be a positive "
				    "count, not '%s'",
				    v);
	*k = nodes > n ? n : (int)nodes;
	return (int)((long)r * *k / n);
}

int pl_topology_node_comm(MPI_Comm comm, MPI_Comm *node_comm, pl_error *err)
{
	int rank = pl_comm_rank(comm), n = pl_comm_size(comm), k = 0;
	int fake = fake_node(rank, n, &k, err);
	if (fake < -1)
		return fake;
	int rc = fake >= 0
		     ? MPI_Comm_split(comm, fake, rank, node_comm)
		     : MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank,
					   MPI_INFO_NULL, node_comm);
	if (rc != MPI_SUCCESS)
		return pl_error_set(
		    err, PL_ERR_IO,
		    "MPI_Comm_split of the ranks by node failed");
	return 0;
}

int pl_topology_detect(MPI_Comm comm, pl_topology *t, pl_error *err)
{
	int rank = pl_comm_rank(comm), n = pl_comm_size(comm);
	t->nodes = t->node_size = 1;
	t->node = 0;
	if (n == 1)
		return 0;
	MPI_Comm node_comm;
	int rc = pl_topology_node_comm(comm, &node_comm, err);
	if (rc != 0)
		return rc;
	int node_rank, first = rank, leader, before = 0;
	MPI_Comm_rank(node_comm, &node_rank);
	MPI_Comm_size(node_comm, &t->node_size);
	MPI_Bcast(&first, 1, MPI_INT, 0, node_comm);
	MPI_Comm_free(&node_comm);
	leader = node_rank == 0;
	MPI_Allreduce(&leader, &t->nodes, 1, MPI_INT, MPI_SUM, comm);
	/* Number the nodes by their first rank, in rank order. */
	int *firsts = malloc((size_t)n * sizeof(int));
	if (firsts == NULL)
		return pl_error_nomem(err, "the topology");
	MPI_Allgather(&first, 1, MPI_INT, firsts, 1, MPI_INT, comm);
	for (int r = 0; r < first; r++)
		before += firsts[r] == r;
	free(firsts);
	t->node = before;
	return 0;
}

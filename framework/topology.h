/* Which ranks share a node: they split the node's memory budget between
 * them. PIPELINE_FAKE_NODES=K makes one machine look like K nodes (ranks
 * in K contiguous blocks), so that tests reach the multi-node paths. */
#ifndef PIPELINE_FRAMEWORK_TOPOLOGY_H
#define PIPELINE_FRAMEWORK_TOPOLOGY_H

#include <mpi.h>

#include "pipeline/error.h"

typedef struct pl_topology {
	int nodes;     /* nodes in the job */
	int node;      /* this rank's node, 0-based */
	int node_size; /* ranks on this rank's node */
} pl_topology;

/* Finds the nodes with MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), or
 * fakes them. Collective. A malformed PIPELINE_FAKE_NODES is PL_ERR_CONF.
 * One rank (or comm MPI_COMM_NULL) is one node. */
int pl_topology_detect(MPI_Comm comm, pl_topology *t, pl_error *err);

/* A new communicator of the ranks on this rank's node (as
 * pl_topology_detect counts nodes), ranked in comm's order; the caller
 * frees it. Collective over comm, which must not be MPI_COMM_NULL.
 * Errors: a malformed PIPELINE_FAKE_NODES (PL_ERR_CONF), MPI's. */
int pl_topology_node_comm(MPI_Comm comm, MPI_Comm *node_comm, pl_error *err);

#endif

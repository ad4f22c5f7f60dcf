/* The ranks of one node, for an operator that would otherwise do the same
 * large piece of work on every rank (a broadcast join parsing its whole
 * right side): the node's ranks each do a part and pass the results to
 * each other, which on one node is a copy through shared memory.
 *
 * Everything here is collective: pl_node_group_open over the job's ranks,
 * the rest over the ranks of one node, every one of which must make the
 * same calls in the same order. Call them from pl_operator.prepare, where
 * every rank arrives together. Each call that can fail agrees on the
 * outcome first, so that all ranks of a node get the same status ("rank N
 * failed" where the failure was elsewhere) and none is left waiting. A
 * rank that waits for others sleeps rather than spins. */
#ifndef PIPELINE_NODE_GROUP_H
#define PIPELINE_NODE_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/api.h"
#include "pipeline/error.h"

PL_BEGIN_DECLS

typedef struct pl_node_group pl_node_group;

/* The ranks on this rank's node (PIPELINE_FAKE_NODES splits one machine
 * into several, as everywhere), ranked in job order. comm points at the
 * job's MPI_Comm, as pl_operator.prepare receives it; NULL or
 * MPI_COMM_NULL is a group of this process alone. Collective over the
 * job. Free with pl_node_group_close. */
PL_API int pl_node_group_open(const void *comm, pl_node_group **out,
			      pl_error *err);

/* This rank's place in the group, and the group's size. */
PL_API int pl_node_group_rank(const pl_node_group *g);
PL_API int pl_node_group_size(const pl_node_group *g);

/* A pointer to the group's MPI_Comm, for calls that take a communicator
 * as pl_input_share does (a share of the node instead of the job). Valid
 * until pl_node_group_close. */
PL_API const void *pl_node_group_comm(const pl_node_group *g);

/* Every rank passes its status (0 or a negative PL_ERR_*) and gets the
 * lowest of the group's, with err naming the failed rank when the failure
 * was not this one's. */
PL_API int pl_node_group_agree(pl_node_group *g, int rc, pl_error *err);

/* Gathers n values from every rank: all[r * n + i] is rank r's mine[i].
 * The local status rc is agreed first, as by pl_node_group_agree; all is
 * written only when every rank passed 0. */
PL_API int pl_node_group_gather(pl_node_group *g, int rc, const uint64_t *mine,
				size_t n, uint64_t *all, pl_error *err);

/* Copies bytes of root's buf into every other rank's buf (any size; the
 * same on every rank). */
PL_API int pl_node_group_bcast(pl_node_group *g, int root, void *buf,
			       size_t bytes, pl_error *err);

/* Frees the group (NULL is fine). */
PL_API void pl_node_group_close(pl_node_group *g);

PL_END_DECLS

#endif

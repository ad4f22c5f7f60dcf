/* The node's memory budget and cache sizes (ARCHITECTURE.md "Memory and
 * adaptivity"): the machine's memory as hwloc reports it, lowered to the
 * memory limit of this process's cgroup and to 3/4 of the address space
 * RLIMIT_AS leaves, of which the job takes 75%
 * unless [job] memory or --memory says otherwise. */
#ifndef PIPELINE_FRAMEWORK_BUDGET_H
#define PIPELINE_FRAMEWORK_BUDGET_H

#include <stddef.h>
#include <stdint.h>

typedef struct pl_node_info {
	uint64_t physical;     /* machine memory: hwloc, else sysconf */
	uint64_t cgroup_limit; /* this process's cgroup memory limit, 0: none */
	uint64_t as_room;      /* 3/4 of RLIMIT_AS beyond what is mapped, 0:
				  no limit */
	uint64_t usable;       /* physical lowered to cgroup_limit, as_room */
	size_t l2_bytes;       /* one L2 cache, 0 when unknown */
	size_t l3_bytes;       /* one L3 cache, 0 when unknown */
} pl_node_info;

/* The memory limit of this process's cgroup, 0 when there is none. The
 * files are read under root ("/" on a live system, a fake tree in tests):
 * root/proc/self/cgroup names the cgroup; for cgroup v2 ("0::/path") the
 * limit is root/sys/fs/cgroup/path/memory.max ("max": none), for v1 (a
 * line naming the memory controller) it is
 * root/sys/fs/cgroup/memory/path/memory.limit_in_bytes (a huge value:
 * none). Limits of the enclosing cgroups bind too, so the lowest along the
 * path up to the hierarchy's root counts; a path that does not exist
 * under the mount (a container without a cgroup namespace) falls back to
 * the nearest ancestor that does. Missing files mean no limit. */
uint64_t pl_cgroup_memory_limit(const char *root);

/* Three quarters (as Thrill takes) of the address space RLIMIT_AS
 * (`ulimit -v`) leaves beyond what the process has mapped already (its
 * libraries, MPI's segments, thread stacks); 0 when there is no limit.
 * Each rank has its own: the node's budget, split among its ranks, stays
 * under any one's. */
uint64_t pl_address_space_room(void);

/* Fills n from hwloc (machine memory, the first L2 and L3 caches) and the
 * cgroup limit read under root. Never fails: without hwloc's answer the
 * memory comes from sysconf and the caches are 0. */
void pl_node_probe(const char *root, pl_node_info *n);

/* The node budget: spec ("4GiB", "60%" of n->usable; see pl_parse_size)
 * or, when spec is NULL, 75% of n->usable. Returns 0, or -1 when spec is
 * malformed or zero. */
int pl_budget_resolve(const pl_node_info *n, const char *spec, uint64_t *out);

#endif

#include <hwloc.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "framework/budget.h"
#include "framework/conf.h"

/* cgroup v1 writes "no limit" as the largest page-aligned long (about
 * 2^63); anything this large cannot be a real limit. */
#define HUGE_LIMIT ((uint64_t)1 << 60)

/* Reads one limit from a cgroup file: 0 when the file is missing or says
 * there is none. */
static uint64_t read_limit(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	char buf[64] = "";
	int ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	uint64_t v;
	if (!ok || sscanf(buf, "%" SCNu64, &v) != 1 || v >= HUGE_LIMIT)
		return 0; /* "max", empty, or v1's "unlimited" */
	return v;
}

static uint64_t lower(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	return b != 0 && b < a ? b : a;
}

/* The lowest limit in file under mount/path and each of its ancestors. */
static uint64_t walk_up(const char *mount, const char *path, const char *file)
{
	char dir[PATH_MAX], name[PATH_MAX];
	uint64_t limit = 0;
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return 0;
	for (;;) {
		size_t n = strlen(dir);
		while (n > 0 && dir[n - 1] == '/')
			dir[--n] = '\0';
		if (snprintf(name, sizeof(name), "%s%s/%s", mount, dir, file) <
		    (int)sizeof(name))
			limit = lower(limit, read_limit(name));
		char *slash = strrchr(dir, '/');
		if (n == 0 || slash == NULL)
			return limit;
		*slash = '\0';
	}
}

/* Whether the controller list of a v1 line ("cpu,memory") has memory. */
static int names_memory(const char *list, size_t len)
{
	while (len > 0) {
		const char *comma = memchr(list, ',', len);
		size_t n = comma ? (size_t)(comma - list) : len;
		if (n == 6 && memcmp(list, "memory", 6) == 0)
			return 1;
		if (comma == NULL)
			break;
		len -= n + 1;
		list = comma + 1;
	}
	return 0;
}

/* One line of /proc/self/cgroup, "ID:CONTROLLERS:PATH". */
static uint64_t line_limit(const char *root, char *line)
{
	char *c1 = strchr(line, ':');
	char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL)
		return 0;
	char *path = c2 + 1;
	path[strcspn(path, "\n")] = '\0';
	char mount[PATH_MAX];
	if (c2 == c1 + 1 && strncmp(line, "0:", 2) == 0) {
		snprintf(mount, sizeof(mount), "%s/sys/fs/cgroup", root);
		return walk_up(mount, path, "memory.max");
	}
	if (!names_memory(c1 + 1, (size_t)(c2 - c1 - 1)))
		return 0;
	snprintf(mount, sizeof(mount), "%s/sys/fs/cgroup/memory", root);
	return walk_up(mount, path, "memory.limit_in_bytes");
}

uint64_t pl_cgroup_memory_limit(const char *root)
{
	char name[PATH_MAX], line[PATH_MAX + 64];
	if (strcmp(root, "/") == 0)
		root = "";
	snprintf(name, sizeof(name), "%s/proc/self/cgroup", root);
	FILE *f = fopen(name, "r");
	if (f == NULL)
		return 0;
	uint64_t limit = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		limit = lower(limit, line_limit(root, line));
	fclose(f);
	return limit;
}

static size_t cache_size(hwloc_topology_t topo, hwloc_obj_type_t type)
{
	hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, 0);
	return o && o->attr ? (size_t)o->attr->cache.size : 0;
}

/* hwloc's machine memory and caches; 0 memory when it cannot tell. */
static uint64_t probe_hwloc(pl_node_info *n)
{
	hwloc_topology_t topo;
	uint64_t total = 0;
	if (hwloc_topology_init(&topo) != 0)
		return 0;
	if (hwloc_topology_load(topo) == 0) {
		total = hwloc_get_root_obj(topo)->total_memory;
		n->l2_bytes = cache_size(topo, HWLOC_OBJ_L2CACHE);
		n->l3_bytes = cache_size(topo, HWLOC_OBJ_L3CACHE);
	}
	hwloc_topology_destroy(topo);
	return total;
}

static uint64_t sysconf_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
	if (pages <= 0 || page <= 0)
		return (uint64_t)4 << 30; /* a guess beats no budget at all */
	return (uint64_t)pages * (uint64_t)page;
}

/* The address space this process has mapped now (VmSize), 0 unknown. */
static uint64_t mapped_now(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmSize: %" SCNu64, &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb * 1024;
}

uint64_t pl_address_space_room(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	uint64_t limit = (uint64_t)rl.rlim_cur, used = mapped_now();
	uint64_t room = limit > used ? limit - used : 1;
	return room / 4 * 3;
}

void pl_node_probe(const char *root, pl_node_info *n)
{
	memset(n, 0, sizeof(*n));
	n->physical = probe_hwloc(n);
	if (n->physical == 0)
		n->physical = sysconf_memory();
	n->cgroup_limit = pl_cgroup_memory_limit(root);
	n->as_room = pl_address_space_room();
	n->usable = lower(lower(n->physical, n->cgroup_limit), n->as_room);
}

int pl_budget_resolve(const pl_node_info *n, const char *spec, uint64_t *out)
{
	if (spec == NULL) {
		*out = n->usable / 4 * 3;
		return 0;
	}
	if (pl_parse_size(spec, n->usable, out) != 0 || *out == 0)
		return -1;
	return 0;
}

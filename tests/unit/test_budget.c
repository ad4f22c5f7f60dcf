/* The memory budget: cgroup limits read from fake trees in a temporary
 * directory, and the budget from a node's figures and a size. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/budget.h"
#include "harness.h"

typedef struct tree {
	char root[64];
} tree;

static void make_tree(tree *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/pl_budget_XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(t->root));
}

/* Writes text to root/rel, making the directories on the way. */
static void put(const tree *t, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	for (char *s = path + strlen(t->root) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(path, 0700);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void remove_tree(const tree *t)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_v2_limit(void)
{
	tree t;
	make_tree(&t);
	put(&t, "proc/self/cgroup", "0::/job/step\n");
	put(&t, "sys/fs/cgroup/job/step/memory.max", "536870912\n");
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 536870912);
	remove_tree(&t);
}

static void test_v2_max_is_none(void)
{
	tree t;
	make_tree(&t);
	put(&t, "proc/self/cgroup", "0::/job\n");
	put(&t, "sys/fs/cgroup/job/memory.max", "max\n");
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 0);
	remove_tree(&t);
}

/* An enclosing cgroup's lower limit binds the one inside it. */
static void test_v2_parent_binds(void)
{
	tree t;
	make_tree(&t);
	put(&t, "proc/self/cgroup", "0::/job/step\n");
	put(&t, "sys/fs/cgroup/job/memory.max", "1073741824\n");
	put(&t, "sys/fs/cgroup/job/step/memory.max", "max\n");
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 1073741824);
	remove_tree(&t);
}

static void test_v1_limit(void)
{
	tree t;
	make_tree(&t);
	put(&t, "proc/self/cgroup",
	    "5:cpu,cpuacct:/\n4:memory:/slurm/job_7\n0::/\n");
	put(&t, "sys/fs/cgroup/memory/slurm/job_7/memory.limit_in_bytes",
	    "2147483648\n");
	put(&t, "sys/fs/cgroup/memory/memory.limit_in_bytes",
	    "9223372036854771712\n");
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 2147483648u);
	remove_tree(&t);
}

static void test_v1_unlimited_is_none(void)
{
	tree t;
	make_tree(&t);
	put(&t, "proc/self/cgroup", "4:memory:/user\n");
	put(&t, "sys/fs/cgroup/memory/user/memory.limit_in_bytes",
	    "9223372036854771712\n");
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 0);
	remove_tree(&t);
}

/* A container without a cgroup namespace names a host path that is not
 * under its mount: the mount's own root (the container's cgroup) counts. */
static void test_v1_host_path_falls_back(void)
{
	tree t;
	make_tree(&t);
	put(&t, "proc/self/cgroup", "4:memory:/docker/abc123\n");
	put(&t, "sys/fs/cgroup/memory/memory.limit_in_bytes", "268435456\n");
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 268435456);
	remove_tree(&t);
}

static void test_missing_files(void)
{
	tree t;
	make_tree(&t);
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 0);
	put(&t, "proc/self/cgroup", "0::/gone\n");
	CU_ASSERT_EQUAL(pl_cgroup_memory_limit(t.root), 0);
	remove_tree(&t);
}

static void test_budget_default_and_override(void)
{
	pl_node_info n = {.physical = (uint64_t)16 << 30,
			  .cgroup_limit = (uint64_t)4 << 30,
			  .usable = (uint64_t)4 << 30};
	uint64_t b;
	CU_ASSERT_EQUAL(pl_budget_resolve(&n, NULL, &b), 0);
	CU_ASSERT_EQUAL(b, (uint64_t)3 << 30); /* 75% of the cgroup's 4 GiB */
	CU_ASSERT_EQUAL(pl_budget_resolve(&n, "50%", &b), 0);
	CU_ASSERT_EQUAL(b, (uint64_t)2 << 30);
	CU_ASSERT_EQUAL(pl_budget_resolve(&n, "512MiB", &b), 0);
	CU_ASSERT_EQUAL(b, (uint64_t)512 << 20);
	CU_ASSERT_EQUAL(pl_budget_resolve(&n, "lots", &b), -1);
	CU_ASSERT_EQUAL(pl_budget_resolve(&n, "0", &b), -1);
}

/* The live probe gives a plausible machine: memory, and usable no more
 * than physical. */
static void test_probe_live(void)
{
	pl_node_info n;
	pl_node_probe("/", &n);
	CU_ASSERT(n.physical >= (uint64_t)64 << 20);
	CU_ASSERT(n.usable > 0 && n.usable <= n.physical);
	CU_ASSERT(n.cgroup_limit == 0 || n.usable <= n.cgroup_limit);
}

/* Under `ulimit -v` the room is 3/4 of what the limit leaves beyond the
 * mapped address space, and the probe's usable memory is no larger; in a
 * child, so that the limit does not bind the other tests. */
static uint64_t vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmSize: %llu", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return (uint64_t)kb * 1024;
}

static int getrlimit_is_infinite(void)
{
	struct rlimit rl;
	return getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY;
}

static void test_address_space_limit(void)
{
	CU_ASSERT_EQUAL(pl_address_space_room() == 0, getrlimit_is_infinite());
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* 4 GiB beyond what is mapped: AddressSanitizer maps
		 * terabytes of shadow before main */
		struct rlimit rl;
		getrlimit(RLIMIT_AS, &rl);
		rl.rlim_cur = (rlim_t)(vm_size() + ((uint64_t)4 << 30));
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(3);
		uint64_t room = pl_address_space_room();
		pl_node_info n;
		pl_node_probe("/", &n);
		int ok = room > 0 && room <= ((uint64_t)3 << 30) &&
			 room > ((uint64_t)2 << 30) && n.as_room > 0 &&
			 n.usable <= n.as_room;
		_exit(ok ? 0 : 1);
	}
	int status = 0;
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const pl_test tests[] = {
    {"address_space_limit", test_address_space_limit},
    {"v2_limit", test_v2_limit},
    {"v2_max_is_none", test_v2_max_is_none},
    {"v2_parent_binds", test_v2_parent_binds},
    {"v1_limit", test_v1_limit},
    {"v1_unlimited_is_none", test_v1_unlimited_is_none},
    {"v1_host_path_falls_back", test_v1_host_path_falls_back},
    {"missing_files", test_missing_files},
    {"budget_default_and_override", test_budget_default_and_override},
    {"probe_live", test_probe_live},
    {NULL, NULL}};

PL_TEST_MAIN("budget", tests)

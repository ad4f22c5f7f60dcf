/*
 * Linked into the programs of the sanitizer build only (PL_SANITIZE):
 * the plugins of Open MPI, PMIx and hwloc (mca_*.so, pmix_mca_*.so,
 * hwloc_*.so) stay loaded until exit.
 *
 * Open MPI dlcloses its components in MPI_Init (those not selected) and
 * in MPI_Finalize, and keeps memory they allocated. LeakSanitizer's
 * check at exit then meets stacks that point into unmapped code, which
 * no module owns; perf shows it rereading /proc/self/maps and mapping
 * and unmapping its buffers, and it cost 2 to 3 CPU-seconds in every
 * rank of every MPI run of the sanitizer pass, whatever the job (a
 * 3-rank group-by: 8.2 CPU-seconds, 2.9 with the plugins kept; 1 rank:
 * 1.5 s wall, 0.7). Kept loaded, their frames are named and matched by
 * tests/lsan.supp as before (leak:mca_, leak:libmpi, ...); every other
 * library, pipeline's operator plugins included, is closed as usual,
 * and our own leaks are still reported.
 *
 * The program's own dlclose comes before the sanitizer runtime's in the
 * lookup order, so the libraries' calls reach it; it hands the rest on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

int dlclose(void *handle)
{
	static int (*next)(void *);
	struct link_map *map = NULL;

	if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name) {
		const char *base = strrchr(map->l_name, '/');
		base = base ? base + 1 : map->l_name;
		if (strncmp(base, "mca_", 4) == 0 ||
		    strncmp(base, "pmix_mca_", 9) == 0 ||
		    strncmp(base, "hwloc_", 6) == 0)
			return 0;
	}
	if (!next)
		*(void **)&next = dlsym(RTLD_NEXT, "dlclose");
	return next ? next(handle) : -1;
}

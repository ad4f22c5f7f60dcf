/* Open addressing over column numbers, hashed by FNV-1a of the name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framework/name_index.h"

struct pl_name_index {
	size_t cap; /* a power of two */
	size_t n;
	int *slot; /* column + 1, or 0 when empty */
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

pl_name_index *pl_name_index_new(size_t n)
{
	pl_name_index *ix = calloc(1, sizeof(*ix));
	if (ix == NULL)
		return NULL;
	ix->cap = 16;
	while (ix->cap < 2 * n)
		ix->cap *= 2;
	ix->slot = calloc(ix->cap, sizeof(*ix->slot));
	if (ix->slot == NULL) {
		free(ix);
		return NULL;
	}
	return ix;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t probe(const pl_name_index *ix, const pl_schema *s,
		    const char *name)
{
	size_t at = (size_t)hash(name) & (ix->cap - 1);
	while (ix->slot[at] != 0 &&
	       strcmp(s->fields[ix->slot[at] - 1].name, name) != 0)
		at = (at + 1) & (ix->cap - 1);
	return at;
}

static int grow(pl_name_index *ix, const pl_schema *s)
{
	int *old = ix->slot;
	size_t oldcap = ix->cap;
	ix->slot = calloc(2 * oldcap, sizeof(*ix->slot));
	if (ix->slot == NULL) {
		ix->slot = old;
		return -1;
	}
	ix->cap = 2 * oldcap;
	for (size_t k = 0; k < oldcap; k++)
		if (old[k] != 0)
			ix->slot[probe(ix, s, s->fields[old[k] - 1].name)] =
			    old[k];
	free(old);
	return 0;
}

int pl_name_index_add(pl_name_index *ix, const pl_schema *s, size_t i)
{
	if (2 * (ix->n + 1) > ix->cap && grow(ix, s) != 0)
		return -1;
	size_t at = probe(ix, s, s->fields[i].name);
	if (ix->slot[at] == 0) {
		ix->slot[at] = (int)i + 1;
		ix->n++;
	}
	return 0;
}

int pl_name_index_find(const pl_name_index *ix, const pl_schema *s,
		       const char *name)
{
	return ix->slot[probe(ix, s, name)] - 1;
}

void pl_name_index_free(pl_name_index *ix)
{
	if (ix == NULL)
		return;
	free(ix->slot);
	free(ix);
}

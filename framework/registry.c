#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "framework/registry.h"

static int add_def(pl_registry *r, const pl_operator_def *d, pl_error *err)
{
	const pl_operator_def **defs =
	    realloc(r->defs, (r->n + 1) * sizeof(*defs));
	if (defs == NULL)
		return pl_error_nomem(err, "the operator registry");
	r->defs = defs;
	r->defs[r->n++] = d;
	return 0;
}

int pl_registry_init(pl_registry *r, const pl_operator_def *const *builtins,
		     pl_error *err)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; builtins[i] != NULL; i++) {
		if (add_def(r, builtins[i], err) != 0)
			return PL_ERR_NOMEM;
	}
	return 0;
}

const pl_operator_def *pl_registry_find(const pl_registry *r, const char *name)
{
	for (size_t i = r->n; i-- > 0;) {
		if (strcmp(r->defs[i]->name, name) == 0)
			return r->defs[i];
	}
	return NULL;
}

const pl_abi_stamp *pl_abi_stamp_runtime(void)
{
	static const pl_abi_stamp stamp = PL_ABI_STAMP_INIT;
	return &stamp;
}

/* How to rebuild a plugin, for the messages below. */
#define REBUILD                                                                \
	"rebuild the plugin against this pipeline's headers "                  \
	"(pkg-config --cflags pipeline, or find_package(pipeline))"

/* The first field where the plugin's stamp and the runtime's differ. */
static const char *stamp_mismatch(const pl_abi_stamp *a, uint32_t *theirs,
				  uint32_t *ours)
{
	static const char *const names[] = {
	    "API version",
	    "sizeof(pl_abi_stamp)",
	    "sizeof(pl_operator_def)",
	    "sizeof(pl_operator)",
	    "sizeof(pl_op_env)",
	    "sizeof(pl_section)",
	    "sizeof(pl_schema)",
	    "sizeof(pl_column)",
	    "sizeof(pl_batch)",
	    "sizeof(pl_error)",
	    "sizeof(pl_emitter)",
	    "offsetof(pl_operator, state)",
	    "offsetof(pl_operator, spilled_bytes)",
	    "offsetof(pl_operator_def, describe)"};
	const uint32_t *p = &a->api_version;
	const uint32_t *q = &pl_abi_stamp_runtime()->api_version;
	/* An older, shorter stamp is compared as far as it goes. */
	size_t n = sizeof(names) / sizeof(names[0]);
	if (a->stamp_size < sizeof(*a))
		n = a->stamp_size / sizeof(uint32_t);
	for (size_t i = 0; i < n; i++) {
		if (p[i] != q[i]) {
			*theirs = p[i];
			*ours = q[i];
			return names[i];
		}
	}
	return NULL;
}

static int check_stamp(const pl_section *s, void *h, const char *path,
		       pl_error *err)
{
	const pl_abi_stamp *a = dlsym(h, PL_OPERATOR_ABI);
	uint32_t theirs = 0, ours = 0;
	if (a == NULL)
		return pl_section_error(s, "plugin", err,
					"plugin '%s' has no layout stamp '%s' "
					"(built for operator API version 1, "
					"this pipeline has %d): " REBUILD,
					path, PL_OPERATOR_ABI,
					PL_OPERATOR_API_VERSION);
	const char *what = stamp_mismatch(a, &theirs, &ours);
	if (what != NULL)
		return pl_section_error(s, "plugin", err,
					"plugin '%s' was built against another "
					"layout of the operator API (%s is %u "
					"there, %u in this pipeline): " REBUILD,
					path, what, (unsigned)theirs,
					(unsigned)ours);
	return 0;
}

static int check_def(const pl_section *s, const pl_operator_def *d,
		     const char *path, pl_error *err)
{
	if (d == NULL)
		return pl_section_error(s, "plugin", err,
					"plugin '%s': %s() returned NULL "
					"instead of an operator definition",
					path, PL_OPERATOR_ENTRY);
	if (d->api_version != PL_OPERATOR_API_VERSION)
		return pl_section_error(s, "plugin", err,
					"plugin '%s' was built for operator "
					"API version %d, this pipeline has "
					"%d: " REBUILD,
					path, d->api_version,
					PL_OPERATOR_API_VERSION);
	if (d->name == NULL || strcmp(d->name, s->name) != 0)
		return pl_section_error(s, "plugin", err,
					"plugin '%s' defines operator '%s', "
					"not '%s'",
					path, d->name ? d->name : "(none)",
					s->name);
	if (d->init == NULL || d->process == NULL || d->destroy == NULL)
		return pl_section_error(s, "plugin", err,
					"plugin '%s' lacks init, process or "
					"destroy",
					path);
	return 0;
}

/* The plugin's file: the section's path resolved against the job.conf's
 * directory, with "./" before a bare name so that dlopen loads exactly
 * that file instead of searching the library path. */
static int plugin_path(const pl_section *s, char *path, size_t cap,
		       pl_error *err)
{
	int rc =
	    pl_section_path(s, pl_section_get(s, "plugin", ""), path, cap, err);
	if (rc != 0 || strchr(path, '/') != NULL)
		return rc;
	size_t len = strlen(path);
	if (len + 3 > cap)
		return pl_section_error(s, "plugin", err,
					"plugin path too long");
	memmove(path + 2, path, len + 1);
	memcpy(path, "./", 2);
	return 0;
}

int pl_registry_load_plugin(pl_registry *r, const pl_section *s,
			    const pl_operator_def **out, pl_error *err)
{
	char path[4096];
	int rc = plugin_path(s, path, sizeof(path), err);
	if (rc != 0)
		return rc;
	/* A name without '/' would make dlopen search the library path;
	 * the job names a file, so load exactly that file. */
	if (strchr(path, '/') == NULL)
		return pl_section_error(s, "plugin", err, "bad plugin path");
	/* dlopen reads a FIFO or a device until it ends: it would wait
	 * forever, deaf to signals. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return pl_section_error(s, "plugin", err,
					"cannot load plugin: %s is not a "
					"regular file",
					path);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return pl_section_error(s, "plugin", err,
					"cannot load plugin: %s", dlerror());
	void **handles =
	    realloc(r->handles, (r->nhandles + 1) * sizeof(*handles));
	if (handles == NULL) {
		dlclose(h);
		return pl_error_nomem(err, "the operator registry");
	}
	r->handles = handles;
	r->handles[r->nhandles++] = h;
	pl_operator_entry_fn entry;
	*(void **)&entry = dlsym(h, PL_OPERATOR_ENTRY);
	if (entry == NULL)
		return pl_section_error(s, "plugin", err,
					"plugin '%s' has no entry point '%s' "
					"(use PL_OPERATOR_EXPORT)",
					path, PL_OPERATOR_ENTRY);
	if ((rc = check_stamp(s, h, path, err)) != 0)
		return rc;
	const pl_operator_def *d = entry();
	if ((rc = check_def(s, d, path, err)) != 0)
		return rc;
	*out = d;
	return add_def(r, d, err);
}

const char **pl_registry_names(const pl_registry *r)
{
	const char **names = calloc(r->n + 1, sizeof(*names));
	if (names == NULL)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		names[i] = r->defs[i]->name;
	return names;
}

void pl_registry_free(pl_registry *r)
{
	for (size_t i = 0; i < r->nhandles; i++)
		dlclose(r->handles[i]);
	free(r->handles);
	free(r->defs);
	memset(r, 0, sizeof(*r));
}

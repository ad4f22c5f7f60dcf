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

static int check_def(const pl_section *s, const pl_operator_def *d,
		     const char *path, pl_error *err)
{
	if (d == NULL || d->api_version != PL_OPERATOR_API_VERSION)
		return pl_section_error(s, "plugin", err,
					"plugin '%s' was built for operator "
					"API version %d, this pipeline has %d",
					path, d ? d->api_version : 0,
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

int pl_registry_load_plugin(pl_registry *r, const pl_section *s,
			    const pl_operator_def **out, pl_error *err)
{
	char path[4096];
	int rc = pl_section_path(s, pl_section_get(s, "plugin", ""), path,
				 sizeof(path), err);
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

/* Which operators exist: the built-ins handed in by main, and plugins
 * loaded from the shared libraries that jobs name with `plugin = ...`. */
#ifndef PIPELINE_FRAMEWORK_REGISTRY_H
#define PIPELINE_FRAMEWORK_REGISTRY_H

#include "pipeline/operator.h"

typedef struct pl_registry {
	const pl_operator_def **defs;
	size_t n;
	void **handles; /* dlopen handles of loaded plugins */
	size_t nhandles;
} pl_registry;

/* Starts with the NULL-terminated list of built-ins. */
int pl_registry_init(pl_registry *r, const pl_operator_def *const *builtins,
		     pl_error *err);

/* The operator called name, or NULL. */
const pl_operator_def *pl_registry_find(const pl_registry *r, const char *name);

/* Loads the plugin at path (exactly that path, resolved against the
 * job.conf directory; no search path) for section s, checks its entry
 * point, API version and name (it must be s->name), and registers it.
 * Errors are PL_ERR_CONF naming the `plugin` line. */
int pl_registry_load_plugin(pl_registry *r, const pl_section *s,
			    const pl_operator_def **out, pl_error *err);

/* Names of all operators, NULL-terminated, malloc'd array (free it). */
const char **pl_registry_names(const pl_registry *r);

/* Unloads plugins; call only once no operator of theirs is alive. */
void pl_registry_free(pl_registry *r);

#endif

/* The checks of the job's outputs against each other and its inputs,
 * before any work (see output_path.h for what one output may be). */
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/output_path.h"
#include "framework/plan_internal.h"

struct names {
	char **v;
	size_t n;
};

static void names_free(struct names *l)
{
	pl_names_free(l->v, l->n);
	l->v = NULL;
	l->n = 0;
}

static int names_add(struct names *l, const char *p)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	l->v = v;
	if ((v[l->n] = strdup(p)) == NULL)
		return -1;
	l->n++;
	return 0;
}

static int add_matches(struct names *l, const char *pattern)
{
	glob_t g;
	int rc = 0;
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0; /* opening the source reports it */
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
		rc = names_add(l, g.gl_pathv[i]);
	globfree(&g);
	return rc;
}

/* The source's files named outright, and those its globs match. A
 * malformed path is left for opening the source to report. */
static int gather_inputs(const pl_section *s, struct names *named,
			 struct names *matched, pl_error *err)
{
	const char *v = s ? pl_section_get(s, "path", NULL) : NULL;
	char **parts;
	size_t nparts;
	pl_error ignored;
	if (v == NULL || pl_split_names(v, &parts, &nparts, &ignored) != 0)
		return 0;
	char full[PATH_MAX];
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		if (pl_section_path(s, parts[i], full, sizeof(full),
				    &ignored) != 0)
			continue;
		rc = strpbrk(full, "*?[") ? add_matches(matched, full)
					  : names_add(named, full);
	}
	pl_names_free(parts, nparts);
	return rc ? pl_error_nomem(err, "the input names") : 0;
}

static int sink_error(const pl_plan *p, const char *why, pl_error *err)
{
	return pl_section_error(p->sink_sec, "path", err, "output '%s' %s",
				p->sink_path, why);
}

static int check_sink(pl_plan *p, const struct names *named,
		      const struct names *matched, pl_error *err)
{
	char why[256];
	if (pl_output_path_check(p->sink_path, p->overwrite, named->v, named->n,
				 &p->sink_kind, why, sizeof(why)) != 0)
		return sink_error(p, why, err);
	if (p->sink_kind != PL_OUTPUT_FILE && p->sink_format == PL_SINK_HDF5)
		return sink_error(p,
				  "is not a regular file; HDF5 output needs "
				  "one (it is written by seeking)",
				  err);
	for (size_t i = 0; i < matched->n; i++)
		if (p->sink_kind == PL_OUTPUT_FILE &&
		    pl_same_file(matched->v[i], p->sink_path)) {
			p->exclude_sink = 1;
			if (p->env.rank == 0)
				fprintf(stderr,
					"pipeline: warning: the source's glob "
					"matches the output '%s'; it is not "
					"read\n",
					p->sink_path);
		}
	return 0;
}

/* An output besides the sink: the reject file or the metrics. */
static int check_other(const pl_plan *p, const char *path,
		       const struct names *all, const char *also, int *kind,
		       char *why, size_t cap)
{
	if (pl_output_path_check(path, p->overwrite, all->v, all->n, kind, why,
				 cap) != 0)
		return -1;
	if (*kind == PL_OUTPUT_STDOUT) {
		snprintf(why, cap, "cannot be standard output; name a file");
		return -1;
	}
	if (p->sink_kind == PL_OUTPUT_FILE &&
	    pl_same_file(path, p->sink_path)) {
		snprintf(why, cap, "is also the job's output");
		return -1;
	}
	if (also != NULL && pl_same_file(path, also)) {
		snprintf(why, cap, "is also the reject file");
		return -1;
	}
	return 0;
}

static int check_reject(pl_plan *p, const struct names *all, char *reject,
			size_t cap, pl_error *err)
{
	const char *r = p->source_sec
			    ? pl_section_get(p->source_sec, "reject", NULL)
			    : NULL;
	reject[0] = '\0';
	if (r == NULL || *r == '\0')
		return 0;
	int rc = pl_section_path(p->source_sec, r, reject, cap, err);
	char why[256];
	int kind;
	if (rc == 0 &&
	    check_other(p, reject, all, NULL, &kind, why, sizeof(why)) != 0)
		rc = pl_section_error(p->source_sec, "reject", err,
				      "reject file '%s' %s", reject, why);
	if (rc == 0 && kind == PL_OUTPUT_STREAM && p->env.nranks > 1)
		rc = pl_section_error(p->source_sec, "reject", err,
				      "reject file '%s' is not a regular "
				      "file: a job of %d ranks joins its "
				      "ranks' rejects in a file",
				      reject, p->env.nranks);
	return rc;
}

static int check_metrics(const pl_plan *p, const pl_plan_options *o,
			 const struct names *all, const char *reject,
			 pl_error *err)
{
	char why[256];
	int kind;
	const char *m = p->metrics_path;
	if (m == NULL || check_other(p, m, all, *reject ? reject : NULL, &kind,
				     why, sizeof(why)) == 0)
		return 0;
	if (o->metrics != NULL)
		return pl_error_set(err, PL_ERR_CONF, "--metrics %s: %s", m,
				    why);
	return pl_error_set(err, PL_ERR_CONF, "%s: [job] metrics '%s' %s",
			    p->conf.file, m, why);
}

int pl_plan_check_outputs(pl_plan *p, const pl_plan_options *o, pl_error *err)
{
	if (o->explain)
		return 0;
	struct names named = {0}, matched = {0}, all = {0};
	char reject[PATH_MAX];
	int rc = gather_inputs(p->source_sec, &named, &matched, err);
	for (size_t i = 0; rc == 0 && i < named.n + matched.n; i++)
		if (names_add(&all, i < named.n ? named.v[i]
						: matched.v[i - named.n]) != 0)
			rc = pl_error_nomem(err, "the input names");
	if (rc == 0)
		rc = check_sink(p, &named, &matched, err);
	if (rc == 0)
		rc = check_reject(p, &all, reject, sizeof(reject), err);
	if (rc == 0)
		rc = check_metrics(p, o, &all, reject, err);
	names_free(&named);
	names_free(&matched);
	names_free(&all);
	return rc;
}

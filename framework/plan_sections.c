/* The planner's reading of [job] and [sink], and the order of sections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/plan.h"
#include "framework/plan_internal.h"
#include "io/hdf5_writer.h"

static const char *const job_keys[] = {"name",	    "memory",  "chunk_rows",
				       "spill_dir", "metrics", NULL};
static const char *const sink_keys[] = {
    "path", "format", "overwrite", "compression", "layout", "group", NULL};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *default_job_name(const char *file)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	char *name = strdup(base);
	char *dot = name ? strrchr(name, '.') : NULL;
	if (dot != NULL && dot != name)
		*dot = '\0';
	return name;
}

/* The node budget: --memory, else [job] memory, else 75% of the node's
 * usable memory (hwloc's figure lowered to the cgroup limit). */
static int read_memory(pl_plan *p, const pl_section *job, const char *cli,
		       pl_error *err)
{
	const char *v = cli   ? cli
			: job ? pl_section_get(job, "memory", NULL)
			      : NULL;
	pl_node_probe("/", &p->node);
	if (pl_budget_resolve(&p->node, v, &p->memory) != 0) {
		if (cli)
			return pl_error_set(err, PL_ERR_CONF,
					    "--memory: bad size '%s'", v);
		return pl_section_error(job, "memory", err,
					"bad size '%s' (e.g. 512MiB, 4GiB, "
					"60%%)",
					v);
	}
	return 0;
}

static int read_chunk_rows(pl_plan *p, const pl_section *job, pl_error *err)
{
	const char *v =
	    job ? pl_section_get(job, "chunk_rows", "auto") : "auto";
	if (strcmp(v, "auto") == 0)
		return 0;
	long long n;
	int rc = pl_section_get_count(job, "chunk_rows", 0, &n, err);
	if (rc != 0)
		return rc;
	if (n < 1 || n > (1LL << 30))
		return pl_section_error(job, "chunk_rows", err,
					"chunk_rows must be auto or 1 to "
					"1073741824");
	p->chunk_rows = (size_t)n;
	return 0;
}

int pl_plan_read_job(pl_plan *p, const pl_section *job,
		     const pl_plan_options *o, pl_error *err)
{
	int rc;
	if (job && (rc = pl_section_check_keys(job, job_keys, err)) != 0)
		return rc;
	const char *name = job ? pl_section_get(job, "name", NULL) : NULL;
	p->job_name = name ? strdup(name) : default_job_name(p->conf.file);
	const char *tmp = getenv("TMPDIR");
	const char *spill = job ? pl_section_get(job, "spill_dir", NULL) : NULL;
	p->spill_dir = strdup(spill ? spill : tmp && *tmp ? tmp : "/tmp");
	p->metrics_path =
	    dup_or_null(o->metrics ? o->metrics
			: job	   ? pl_section_get(job, "metrics", NULL)
				   : NULL);
	if (p->job_name == NULL || p->spill_dir == NULL)
		return pl_error_nomem(err, "the plan");
	if ((rc = read_memory(p, job, o->memory, err)) != 0)
		return rc;
	return read_chunk_rows(p, job, err);
}

static int read_compression(pl_plan *p, const pl_section *s, pl_error *err)
{
	size_t n = strlen(p->sink_path);
	const char *v = pl_section_get(s, "compression", NULL);
	if (v == NULL) {
		p->zstd_level =
		    n > 4 && strcasecmp(p->sink_path + n - 4, ".zst") == 0 ? 3
									   : 0;
		return 0;
	}
	if (strcmp(v, "none") == 0) {
		p->zstd_level = 0;
		return 0;
	}
	if (strcmp(v, "zstd") == 0) {
		p->zstd_level = 3;
		return 0;
	}
	char *end;
	long level = strncmp(v, "zstd:", 5) == 0 ? strtol(v + 5, &end, 10) : 0;
	if (level < 1 || level > 22 || *end != '\0')
		return pl_section_error(s, "compression", err,
					"compression must be none, zstd or "
					"zstd:LEVEL (1-22), not '%s'",
					v);
	p->zstd_level = (int)level;
	return 0;
}

static int read_hdf5_keys(pl_plan *p, const pl_section *s, pl_error *err)
{
	const char *layout = pl_section_get(s, "layout", "columns");
	if (strcmp(layout, "columns") == 0)
		p->hdf5_layout = PL_HDF5_COLUMNS;
	else if (strcmp(layout, "compound") == 0)
		p->hdf5_layout = PL_HDF5_COMPOUND;
	else
		return pl_section_error(s, "layout", err,
					"layout must be columns or compound, "
					"not '%s'",
					layout);
	const char *group = pl_section_get(s, "group", "/");
	if (group[0] != '/' || strlen(group) >= sizeof(p->hdf5_group))
		return pl_section_error(s, "group", err,
					"group must be an absolute HDF5 path "
					"such as /results");
	strcpy(p->hdf5_group, group);
	return 0;
}

static int read_sink_format(pl_plan *p, const pl_section *s, pl_error *err)
{
	const char *f = pl_section_get(s, "format", NULL);
	const char *path = p->sink_path;
	size_t n = strlen(path);
	if (n > 4 && strcasecmp(path + n - 4, ".zst") == 0)
		n -= 4;
	if (f == NULL)
		f = (n > 3 && strncasecmp(path + n - 3, ".h5", 3) == 0) ||
			    (n > 5 &&
			     strncasecmp(path + n - 5, ".hdf5", 5) == 0)
			? "hdf5"
			: "csv";
	if (strcmp(f, "csv") == 0) {
		p->sink_format = PL_SINK_CSV;
		return 0;
	}
	if (strcmp(f, "hdf5") == 0) {
		p->sink_format = PL_SINK_HDF5;
		return read_hdf5_keys(p, s, err);
	}
	return pl_section_error(s, "format", err,
				"format must be csv or hdf5, not '%s'", f);
}

int pl_plan_read_sink(pl_plan *p, const pl_section *s, const pl_plan_options *o,
		      pl_error *err)
{
	int rc;
	if ((rc = pl_section_check_keys(s, sink_keys, err)) != 0)
		return rc;
	const char *path = pl_section_get(s, "path", NULL);
	if (path == NULL || *path == '\0')
		return pl_section_error(s, NULL, err, "needs a path");
	if ((rc = pl_section_path(s, path, p->sink_path, sizeof(p->sink_path),
				  err)) != 0 ||
	    (rc = pl_section_get_bool(s, "overwrite", 0, &p->overwrite, err)) !=
		0 ||
	    (rc = read_sink_format(p, s, err)) != 0 ||
	    (rc = read_compression(p, s, err)) != 0)
		return rc;
	(void)o; /* the output itself is checked with the inputs */
	return 0;
}

static const char *const fixed_sections[] = {"job", "source", "sink", NULL};

static int unknown_section(const pl_plan *p, const pl_section *s, pl_error *err)
{
	const char **names = pl_registry_names(&p->registry);
	if (names == NULL)
		return pl_error_nomem(err, "the plan");
	const char *hint = pl_suggest(s->name, names);
	if (hint == NULL)
		hint = pl_suggest(s->name, fixed_sections);
	pl_error_set(err, PL_ERR_CONF,
		     "%s:%d: unknown section [%s]%s%s%s (a custom operator "
		     "needs plugin = path/to/lib.so)",
		     s->file, s->line, s->name, hint ? " (did you mean '" : "",
		     hint ? hint : "", hint ? "'?)" : "");
	free(names);
	return PL_ERR_CONF;
}

static int order_error(const pl_section *s, const char *why, pl_error *err)
{
	return pl_error_set(err, PL_ERR_CONF, "%s:%d: [%s] %s", s->file,
			    s->line, s->name, why);
}

int pl_plan_classify(pl_plan *p, const pl_section **job, const pl_section **ops,
		     size_t *nops, pl_error *err)
{
	*job = NULL;
	*nops = 0;
	for (size_t i = 0; i < p->conf.n; i++) {
		const pl_section *s = &p->conf.sections[i];
		if (strcmp(s->name, "job") == 0) {
			if (*job)
				return order_error(s,
						   "only one [job] section "
						   "is allowed",
						   err);
			*job = s;
		} else if (strcmp(s->name, "source") == 0) {
			if (p->source_sec)
				return order_error(s,
						   "only one [source] "
						   "section is allowed",
						   err);
			if (*nops || p->sink_sec)
				return order_error(s,
						   "[source] must come "
						   "before operators and "
						   "[sink]",
						   err);
			p->source_sec = s;
		} else if (strcmp(s->name, "sink") == 0) {
			if (p->sink_sec)
				return order_error(s,
						   "only one [sink] section "
						   "is allowed",
						   err);
			p->sink_sec = s;
		} else {
			if (!pl_registry_find(&p->registry, s->name) &&
			    !pl_section_find(s, "plugin"))
				return unknown_section(p, s, err);
			if (!p->source_sec || p->sink_sec)
				return order_error(s,
						   "operators go between "
						   "[source] and [sink]",
						   err);
			ops[(*nops)++] = s;
		}
	}
	if (!p->source_sec)
		return pl_error_set(err, PL_ERR_CONF,
				    "%s: the job has no [source] section",
				    p->conf.file);
	if (!p->sink_sec)
		return pl_error_set(err, PL_ERR_CONF,
				    "%s: the job has no [sink] section",
				    p->conf.file);
	return 0;
}

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/input_paths.h"

static int check_file(const char *p, pl_error *err)
{
	struct stat st;
	if (strcmp(p, "-") == 0)
		return 0;
	if (stat(p, &st) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", p,
				    strerror(errno));
	if (S_ISDIR(st.st_mode))
		return pl_error_set(err, PL_ERR_IO, "%s: is a directory", p);
	return 0;
}

static int add_path(char ***paths, size_t *n, const char *p, pl_error *err)
{
	char **np = realloc(*paths, (*n + 1) * sizeof(*np));
	if (np == NULL)
		return pl_error_nomem(err, "input paths");
	*paths = np;
	if ((np[*n] = strdup(p)) == NULL)
		return pl_error_nomem(err, "input paths");
	(*n)++;
	return 0;
}

static int add_glob(char ***paths, size_t *n, const char *pattern,
		    pl_error *err)
{
	glob_t g;
	int rc = glob(pattern, 0, NULL, &g);
	if (rc == GLOB_NOSPACE)
		return pl_error_nomem(err, "a glob");
	if (rc != 0)
		return pl_error_set(err, PL_ERR_IO,
				    "%s: No such file or directory (no file "
				    "matches)",
				    pattern);
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
		rc = check_file(g.gl_pathv[i], err);
		if (rc == 0)
			rc = add_path(paths, n, g.gl_pathv[i], err);
	}
	globfree(&g);
	return rc;
}

int pl_input_paths(const pl_section *s, int allow_stdin, char ***paths,
		   size_t *n, pl_error *err)
{
	const char *v = pl_section_get(s, "path", NULL);
	if (v == NULL || *v == '\0')
		return pl_section_error(s, "path", err, "needs a path");
	char **parts;
	size_t nparts;
	int rc = pl_split_names(v, &parts, &nparts, err);
	if (rc != 0)
		return pl_section_rewrap(s, "path", rc, err);
	char full[PATH_MAX];
	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		rc = pl_section_path(s, parts[i], full, sizeof(full), err);
		if (rc == 0 && !allow_stdin && strcmp(full, "-") == 0)
			rc = pl_section_error(s, "path", err,
					      "this format cannot be read "
					      "from standard input");
		else if (rc == 0 && strpbrk(full, "*?[") != NULL)
			rc = add_glob(paths, n, full, err);
		else if (rc == 0 && (rc = check_file(full, err)) == 0)
			rc = add_path(paths, n, full, err);
	}
	pl_names_free(parts, nparts);
	return rc;
}

/* Output path checks (see output_path.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/output_path.h"

/* DIR resolved + "/" + NAME, or the path itself when DIR cannot be. */
static void canonical(const char *path, char *buf, size_t cap)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	snprintf(dir, sizeof(dir), "%.*s",
		 slash ? (int)(slash - path) + (slash == path) : 1,
		 slash ? path : ".");
	if (realpath(dir, real) == NULL) {
		snprintf(buf, cap, "%s", path);
		return;
	}
	snprintf(buf, cap, "%s/%s", strcmp(real, "/") ? real : "", name);
}

int pl_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
	canonical(a, ca, sizeof(ca));
	canonical(b, cb, sizeof(cb));
	return strcmp(ca, cb) == 0;
}

static int is_input(const struct stat *st, char *const *inputs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct stat in;
		if (stat(inputs[i], &in) == 0 && in.st_dev == st->st_dev &&
		    in.st_ino == st->st_ino)
			return 1;
	}
	return 0;
}

static int refuse(char *why, size_t cap, const char *text)
{
	snprintf(why, cap, "%s", text);
	return -1;
}

/* A node that is not a regular file: written through when it is a stream,
 * refused otherwise. */
static int special(const struct stat *st, int *kind, char *why, size_t cap)
{
	if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) ||
	    S_ISSOCK(st->st_mode)) {
		*kind = PL_OUTPUT_STREAM;
		return 0;
	}
	if (S_ISDIR(st->st_mode))
		return refuse(why, cap, "is a directory");
	return refuse(why, cap,
		      "is a block device or another special file; pipeline "
		      "writes only to files, FIFOs and character devices");
}

int pl_output_path_check(const char *path, int overwrite, char *const *inputs,
			 size_t ninputs, int *kind, char *why, size_t cap)
{
	*kind = PL_OUTPUT_FILE;
	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) {
		*kind = PL_OUTPUT_STDOUT;
		return 0;
	}
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0; /* a new file; creating it reports a bad directory */
	if (S_ISLNK(st.st_mode)) {
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
		    !S_ISDIR(st.st_mode))
			return special(&st, kind, why, cap);
		return refuse(why, cap,
			      "is a symbolic link; the output would replace "
			      "the link with a file: name the file it points "
			      "to, or remove the link");
	}
	if (!S_ISREG(st.st_mode))
		return special(&st, kind, why, cap);
	if (is_input(&st, inputs, ninputs))
		return refuse(why, cap,
			      "is also an input of the job; writing it would "
			      "destroy the input");
	if (!overwrite)
		return refuse(why, cap,
			      "exists; set overwrite = true to replace it");
	return 0;
}

int pl_output_open_stream(const char *path, int kind)
{
	if (kind == PL_OUTPUT_STDOUT)
		return fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	return open(path, O_WRONLY | O_CLOEXEC);
}

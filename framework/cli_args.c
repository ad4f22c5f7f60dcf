#include <stdlib.h>
#include <string.h>

#include "framework/cli_args.h"

const char pl_cli_usage[] =
    "usage: pipeline [options] JOB.conf\n"
    "       mpirun -n N pipeline [options] JOB.conf\n"
    "\n"
    "  --set SECTION.KEY=VALUE  override or add a key (repeatable);\n"
    "                           SECTION may be NAME#K for the K-th one\n"
    "  --explain                check the job, print the plan, exit\n"
    "  --profile                after the run, the plan with rows, time,\n"
    "                           memory and spill per stage, and advice\n"
    "  --check-operator         run the job's operators in one process,\n"
    "                           split into parts and chunks, partial and\n"
    "                           merge, and compare with one instance\n"
    "  --memory SIZE            per-node memory budget (e.g. 4GiB, 60%)\n"
    "  --ranks N|auto           processes on this machine when not started\n"
    "                           by mpirun (default auto: the cores the\n"
    "                           input size pays for; or PIPELINE_RANKS)\n"
    "  --metrics FILE           write the run's metrics as JSON\n"
    "  --progress, --no-progress  progress line on standard error\n"
    "  -q, -v                   quieter, more verbose\n"
    "  --list-operators [JOB.conf]  built-in operators (and the job's\n"
    "                           plugins), one line each\n"
    "  --version, --help\n"
    "\n"
    "Exit status: 0 success, 1 the job failed on its data or\n"
    "environment, 2 the command line or job.conf is wrong.\n";

/* Options taking a value accept "--opt VALUE" and "--opt=VALUE". */
static int take_value(int argc, char **argv, int *i, const char *opt,
		      const char **out, pl_error *err)
{
	size_t n = strlen(opt);
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return pl_error_set(err, PL_ERR_CONF, "%s needs a value", opt);
	*out = argv[++*i];
	return 1;
}

static int add_set(pl_cli_args *a, const char *v, pl_error *err)
{
	char **s = realloc(a->sets, (a->nsets + 1) * sizeof(*s));
	if (s == NULL)
		return pl_error_nomem(err, "the command line");
	a->sets = s;
	a->sets[a->nsets++] = (char *)v;
	return 0;
}

static int flag(const char *arg, pl_cli_args *a)
{
	static const struct {
		const char *name;
		size_t off;
		int value;
	} flags[] = {
	    {"--explain", offsetof(pl_cli_args, explain), 1},
	    {"--profile", offsetof(pl_cli_args, profile), 1},
	    {"--check-operator", offsetof(pl_cli_args, check_operator), 1},
	    {"--list-operators", offsetof(pl_cli_args, list_operators), 1},
	    {"--version", offsetof(pl_cli_args, version), 1},
	    {"--help", offsetof(pl_cli_args, help), 1},
	    {"-h", offsetof(pl_cli_args, help), 1},
	    {"--progress", offsetof(pl_cli_args, progress), 1},
	    {"--no-progress", offsetof(pl_cli_args, progress), 0},
	    {"-q", offsetof(pl_cli_args, verbosity), 0},
	    {"-v", offsetof(pl_cli_args, verbosity), 2},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++) {
		if (strcmp(arg, flags[i].name) == 0) {
			*(int *)((char *)a + flags[i].off) = flags[i].value;
			return 1;
		}
	}
	return 0;
}

static int parse_one(int argc, char **argv, int *i, pl_cli_args *a,
		     pl_error *err)
{
	const char *arg = argv[*i], *v = NULL;
	int rc;
	if (flag(arg, a))
		return 0;
	if (strncmp(arg, "--set", 5) == 0 &&
	    (rc = take_value(argc, argv, i, "--set", &v, err)) != 0)
		return rc < 0 ? rc : add_set(a, v, err);
	if (strncmp(arg, "--memory", 8) == 0 &&
	    (rc = take_value(argc, argv, i, "--memory", &a->memory, err)) != 0)
		return rc < 0 ? rc : 0;
	if (strncmp(arg, "--ranks", 7) == 0 &&
	    (rc = take_value(argc, argv, i, "--ranks", &a->ranks, err)) != 0)
		return rc < 0 ? rc : 0;
	if (strncmp(arg, "--metrics", 9) == 0 &&
	    (rc = take_value(argc, argv, i, "--metrics", &a->metrics, err)) !=
		0)
		return rc < 0 ? rc : 0;
	if (arg[0] == '-' && arg[1] != '\0')
		return pl_error_set(err, PL_ERR_CONF,
				    "unknown option '%s' (see --help)", arg);
	if (a->conf != NULL)
		return pl_error_set(err, PL_ERR_CONF,
				    "one job.conf at a time ('%s' and '%s')",
				    a->conf, arg);
	a->conf = arg;
	return 0;
}

int pl_cli_parse(int argc, char **argv, pl_cli_args *a, pl_error *err)
{
	memset(a, 0, sizeof(*a));
	a->progress = -1;
	a->verbosity = 1;
	for (int i = 1; i < argc; i++) {
		int rc = parse_one(argc, argv, &i, a, err);
		if (rc != 0)
			return rc;
	}
	if (!a->conf && !a->help && !a->version && !a->list_operators)
		return pl_error_set(err, PL_ERR_CONF,
				    "no job.conf given (see --help)");
	return 0;
}

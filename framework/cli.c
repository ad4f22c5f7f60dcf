#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "framework/check_operator.h"
#include "framework/cli.h"
#include "framework/cli_args.h"
#include "framework/crash_cleanup.h"
#include "framework/exchange.h"
#include "framework/exec.h"
#include "framework/launch.h"
#include "framework/metrics.h"
#include "framework/plan.h"
#include "framework/profile.h"
#include "framework/progress.h"
#include "framework/topology.h"

/* The only process-wide state: a signal handler can reach nothing else.
 * The executor polls stop_signal between batches. */
static volatile sig_atomic_t stop_signal;
static struct timespec first_signal;

/* A second signal, half a second or more after the first, is the user
 * insisting: work that does not poll the flag (planning a huge header, a
 * blocked read of standard input, a library call) would keep them
 * waiting, so the process ends at once, removing its temporary outputs as
 * a crash does (spill files are unlinked from the start). Copies of one
 * signal arriving together (from the terminal and from a parent that
 * forwards it) are one. */
static void on_signal(int sig)
{
	struct timespec now;
	pl_launch_forward_signal(sig);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!stop_signal) {
		first_signal = now;
		stop_signal = sig;
		return;
	}
	double after = (double)(now.tv_sec - first_signal.tv_sec) +
		       (double)(now.tv_nsec - first_signal.tv_nsec) / 1e9;
	if (after < 0.5)
		return;
	static const char msg[] = "pipeline: second signal: stopping now\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	pl_crash_cleanup_now();
	_exit(128 + sig);
}

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Past a file-size limit, write() then fails with EFBIG and the
	 * job ends cleanly instead of being killed with its files left. */
	signal(SIGXFSZ, SIG_IGN);
}

static void print_def(const pl_operator_def *d, const char *origin)
{
	printf("  %-14s %s%s\n", d->name, d->description ? d->description : "",
	       origin);
}

static int list_operators(const pl_cli_args *a,
			  const pl_operator_def *const *builtins, pl_error *err)
{
	printf("operators:\n");
	for (size_t i = 0; builtins[i]; i++)
		print_def(builtins[i], "");
	if (a->conf == NULL)
		return 0;
	pl_conf conf;
	pl_registry reg;
	int rc = pl_conf_load(a->conf, a->sets, a->nsets, &conf, err);
	if (rc != 0)
		return rc;
	const pl_operator_def *none[] = {NULL};
	rc = pl_registry_init(&reg, none, err);
	for (size_t i = 0; rc == 0 && i < conf.n; i++) {
		const pl_section *s = &conf.sections[i];
		const pl_operator_def *d;
		if (!pl_section_find(s, "plugin"))
			continue;
		rc = pl_registry_load_plugin(&reg, s, &d, err);
		if (rc == 0)
			print_def(d, " (plugin)");
	}
	pl_registry_free(&reg);
	pl_conf_free(&conf);
	return rc;
}

/* Totals over the ranks, printed by rank 0. */
static void summary(const pl_plan *p, const pl_run_stats *st, MPI_Comm comm)
{
	unsigned long long mine[4] = {st->rows_in, st->rows_out,
				      st->rows_skipped, st->bytes_in};
	unsigned long long all[4];
	double secs = st->seconds;
	memcpy(all, mine, sizeof(all));
	if (pl_comm_size(comm) > 1) {
		MPI_Reduce(mine, all, 4, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0,
			   comm);
		MPI_Reduce(&st->seconds, &secs, 1, MPI_DOUBLE, MPI_MAX, 0,
			   comm);
	}
	if (p->env.rank != 0)
		return;
	fprintf(stderr,
		"pipeline: %s: %llu rows in, %llu rows out, %.3f s, %.1f "
		"MB/s\n",
		p->job_name, all[0], all[1], secs,
		secs > 0 ? (double)all[3] / 1e6 / secs : 0.0);
	if (all[2])
		fprintf(stderr, "pipeline: %llu bad rows skipped\n", all[2]);
}

static int run_plan(pl_plan *plan, const pl_cli_args *a, MPI_Comm comm,
		    pl_error *err)
{
	pl_run_stats st;
	pl_progress progress;
	/* -q hides the line a terminal would show, not an asked-for one. */
	pl_progress_init(&progress,
			 a->verbosity == 0 && a->progress < 0 ? 0 : a->progress,
			 plan->env.rank, plan->env.nranks);
	int rc = plan->metrics_path
		     ? pl_metrics_check(plan->metrics_path, comm, err)
		     : 0;
	if (rc == 0)
		rc = pl_exec_run(plan, comm, &stop_signal, &progress, &st, err);
	pl_progress_end(&progress);
	if (rc == 0 && plan->metrics_path)
		rc = pl_metrics_write(plan->metrics_path, plan, &st, comm, err);
	if (rc == 0 && a->verbosity > 0)
		summary(plan, &st, comm);
	if (rc == 0 && a->profile) {
		pl_profile pf;
		pl_profile_gather(&pf, plan, &st, comm);
		if (plan->env.rank == 0)
			pl_profile_print(&pf, stderr);
	}
	return rc;
}

/* For tests that walk every out-of-memory path of a whole job:
 * PIPELINE_FAIL_ALLOC=N fails the pool's Nth allocation, N+ that one and
 * every later one. */
static void inject_faults(pl_pool *pool)
{
	const char *v = getenv("PIPELINE_FAIL_ALLOC");
	char *end;
	unsigned long long n = v ? strtoull(v, &end, 10) : 0;
	if (n > 0 && (*end == '\0' || strcmp(end, "+") == 0))
		pl_pool_fail_after(pool, n, *end == '+');
}

/* now() for the whole job: rank 0's clock, so that every rank agrees. */
static int64_t job_now(MPI_Comm comm)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (comm != MPI_COMM_NULL)
		MPI_Bcast(&now, 1, MPI_INT64_T, 0, comm);
	return now;
}

/* Whether a run on several ranks may guess the CSV split's edges (see
 * pl_csv_partition_mpi) rather than count every byte before them: not
 * once a guess failed, not with plugins (their operators may read the
 * rows' line numbers, which a guessed split leaves unknown), not when
 * PIPELINE_SPLIT=count asks for the counting (tests compare both). */
static int may_guess(const pl_plan *plan, int retries)
{
	const char *v = getenv("PIPELINE_SPLIT");
	return retries == 0 && plan->registry.nhandles == 0 &&
	       !(v != NULL && strcmp(v, "count") == 0);
}

/* Every rank builds the same plan, so an error there (a job.conf mistake,
 * a missing input) is found alike on all of them: *alike tells. Without
 * MPI (comm MPI_COMM_NULL) the plan is made for plan_ranks ranks: what
 * --explain shows of a spawned run, and what the parent checks before it
 * spawns (check_only: plan, then stop). */
static int run_once(const pl_cli_args *a,
		    const pl_operator_def *const *builtins, MPI_Comm comm,
		    int plan_ranks, int check_only, int retries, int *alike,
		    int *guessed, pl_error *err)
{
	int rank = pl_comm_rank(comm), nranks = pl_comm_size(comm);
	if (comm == MPI_COMM_NULL)
		nranks = plan_ranks;
	/* before planning, which opens the input (after MPI_Init, whose
	 * handlers these replace) */
	pl_crash_cleanup_install();
	pl_pool *pool = pl_pool_create((size_t)256 << 20);
	int rc = pool ? 0 : pl_error_nomem(err, "the buffer pool");
	if (pool != NULL)
		inject_faults(pool);
	pl_plan_options o = {a->sets,	 a->nsets,     a->memory, a->metrics,
			     a->explain, rank,	       nranks,	  1,
			     1,		 job_now(comm)};
	pl_topology topo;
	if (rc == 0)
		rc = pl_topology_detect(comm, &topo, err);
	if (rc == 0) {
		o.nodes = topo.nodes;
		o.node_size = comm == MPI_COMM_NULL ? nranks : topo.node_size;
	}
	pl_plan plan;
	memset(&plan, 0, sizeof(plan));
	if (rc == 0)
		rc = pl_plan_build(&plan, a->conf, &o, builtins, pool, err);
	if (rc == 0) /* freed buffers kept for reuse count against the budget */
		pl_pool_set_cache_limit(pool, plan.env.memory_budget / 8);
	plan.split_guess = may_guess(&plan, retries);
	plan.split_retries = retries;
	rc = pl_mpi_agree(comm, rc, err);
	*alike = rc != 0;
	if (rc == 0 && check_only) {
		/* the run proper opens its reject file again */
		pl_source_discard(plan.source);
	} else if (rc == 0 && a->check_operator) {
		rc = pl_check_operators(&plan, stdout, err);
	} else if (rc == 0 && a->explain) {
		if (rank == 0)
			pl_plan_print(&plan, stdout);
	} else if (rc == 0) {
		if (rank == 0 && a->verbosity > 1)
			pl_plan_print(&plan, stderr);
		rc = run_plan(&plan, a, comm, err);
	}
	*guessed = pl_source_split_guessed(plan.source);
	pl_plan_free(&plan);
	pl_pool_destroy(pool);
	return rc;
}

/* After a failed run that guessed the split: whether to run again
 * counting. Every rank took part in the guess and so calls this; it is
 * done when no rank failed but of a data error (a wrong guess is one, and
 * any other message would name a line the guess left unknown) and none
 * was stopped by a signal. */
static int retry_split(int rc, int guessed, MPI_Comm comm, const pl_error *err)
{
	if (rc == 0 || !guessed || comm == MPI_COMM_NULL)
		return 0;
	int mine = !stop_signal && (err->elsewhere || rc == PL_ERR_DATA);
	int all = 0;
	if (pl_mpi_allreduce_min(&mine, &all, 1, comm) != 0)
		return 0;
	return all;
}

/* The job, run once more counting when a guessed split went wrong (or
 * left a data error's line unknown): the second run cannot guess. */
static int run_job(const pl_cli_args *a, const pl_operator_def *const *builtins,
		   MPI_Comm comm, int plan_ranks, int check_only, int *alike,
		   pl_error *err)
{
	for (int retries = 0;; retries++) {
		int guessed = 0;
		int rc = run_once(a, builtins, comm, plan_ranks, check_only,
				  retries, alike, &guessed, err);
		if (!retry_split(rc, guessed, comm, err))
			return rc;
		pl_error_clear(err);
	}
}

/* A signal that came once the output was being put in place (rc 0: every
 * rank finished and the output is whole) stopped nothing: the job exits 0
 * with its output, never 130 / 143 beside it. */
static int exit_status(int rc)
{
	if (stop_signal && rc != 0)
		return 128 + stop_signal;
	return pl_error_exit_status(rc);
}

/* The line this rank prints for err, or "": the rank that failed says
 * why; the others only learnt that it did. An error every rank found
 * alike is told once, by rank 0. */
static void report_line(const pl_error *err, int rank, int nranks, int alike,
			char *line, size_t cap)
{
	line[0] = '\0';
	if (err->elsewhere)
		return;
	if (alike || nranks == 1) {
		if (rank == 0)
			snprintf(line, cap, "pipeline: %s\n", err->msg);
		return;
	}
	snprintf(line, cap, "pipeline: rank %d: %s\n", rank, err->msg);
}

static void report(const pl_error *err, int rank, int nranks, int alike)
{
	char line[PL_ERROR_MSG_MAX + 64];
	report_line(err, rank, nranks, alike, line, sizeof(line));
	fputs(line, stderr);
}

/* Whether a launcher (mpirun, srun, or our own spawn) started this
 * process. Without one, MPI is started only to spawn more ranks: a
 * singleton MPI_Init costs 0.1 to 0.3 s. */
static int launched_by_mpi(void)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
					   "PMI_SIZE", "PMI_RANK"};
	for (size_t i = 0; i < sizeof(vars) / sizeof(*vars); i++)
		if (getenv(vars[i]) != NULL)
			return 1;
	return 0;
}

/* --ranks, else PIPELINE_RANKS (not under a launcher: it is a default for
 * runs on one machine), else auto. */
static int requested_ranks(const pl_cli_args *a, int launched, int *n,
			   pl_error *err)
{
	const char *env = launched ? NULL : getenv("PIPELINE_RANKS");
	*n = PL_RANKS_AUTO;
	if (a->ranks != NULL)
		return pl_ranks_parse(a->ranks, "--ranks", n, err);
	if (env != NULL && *env != '\0')
		return pl_ranks_parse(env, "PIPELINE_RANKS", n, err);
	return 0;
}

/* Under a launcher, which decides the ranks: an explicit --ranks that
 * disagrees is a command-line error. A rank we spawned ourselves is told
 * apart by its parent communicator. */
static int run_launched(const pl_cli_args *a,
			const pl_operator_def *const *builtins, int want)
{
	pl_mpi_init();
	MPI_Comm comm = MPI_COMM_WORLD;
	pl_error err;
	pl_error_clear(&err);
	int spawned, alike = 0;
	int rc = pl_launch_join(&comm, &spawned, &err);
	int rank = pl_comm_rank(comm), nranks = pl_comm_size(comm);
	if (rc == 0 && !spawned && want != PL_RANKS_AUTO && want != nranks) {
		rc = pl_error_set(&err, PL_ERR_CONF,
				  "--ranks %d, but the launcher started %d "
				  "rank%s",
				  want, nranks, nranks == 1 ? "" : "s");
		alike = 1;
	}
	if (rc == 0)
		rc = run_job(a, builtins, comm, 1, 0, &alike, &err);
	char line[PL_ERROR_MSG_MAX + 64] = "";
	if (rc != 0)
		report_line(&err, rank, nranks, alike, line, sizeof(line));
	if (spawned)
		return pl_launch_end(&comm, exit_status(rc), line);
	fputs(line, stderr);
	int status = exit_status(rc);
	MPI_Finalize();
	return status;
}

/* One process, no MPI; plan_ranks for --explain. */
static int run_alone(const pl_cli_args *a,
		     const pl_operator_def *const *builtins, int plan_ranks,
		     int check_only)
{
	pl_error err;
	pl_error_clear(&err);
	int alike = 0;
	int rc = run_job(a, builtins, MPI_COMM_NULL, plan_ranks, check_only,
			 &alike, &err);
	if (rc != 0)
		report(&err, 0, 1, alike);
	return exit_status(rc);
}

/* The ranks for a job on this machine: want, or for auto as many as the
 * input's size pays for. 1 when the input's size cannot be had (the run
 * then reports what is wrong), and for standard input, which only one
 * process can read. */
static int single_node_ranks(const pl_cli_args *a, int want)
{
	uint64_t bytes;
	int from_stdin = 0;
	pl_error err;
	pl_error_clear(&err);
	if (want == 1 || pl_input_bytes(a->conf, a->sets, a->nsets, &bytes,
					&from_stdin, &err) != 0)
		return 1;
	if (from_stdin) {
		if (want != PL_RANKS_AUTO && a->verbosity > 0)
			fprintf(stderr,
				"pipeline: the input is standard "
				"input: one process reads it, not "
				"%d\n",
				want);
		return 1;
	}
	if (want != PL_RANKS_AUTO)
		return want;
	return pl_ranks_auto(bytes, pl_cpu_count());
}

/* No launcher: the job runs in this process alone, or on ranks it starts
 * under mpirun (or spawns, without mpirun). The parent plans first, so
 * that a job.conf error is found (and exits 2) before any rank starts. */
static int run_single_node(const pl_cli_args *a,
			   const pl_operator_def *const *builtins, int want,
			   char **argv)
{
	int nranks = single_node_ranks(a, want);
	if (nranks == 1 || a->explain)
		return run_alone(a, builtins, nranks, 0);
	int status = run_alone(a, builtins, nranks, 1);
	if (status == 0 && stop_signal) /* a Ctrl-C while planning */
		status = 128 + stop_signal;
	if (status != 0)
		return status;
	pl_error err;
	pl_error_clear(&err);
	int rc = pl_launch_siblings(nranks, argv, &status, &err);
	if (rc <= 0) {
		if (rc < 0)
			report(&err, 0, 1, 1);
		return rc == 0 ? status : exit_status(rc);
	}
	MPI_Comm comm;
	int alike = 0;
	rc = pl_launch_spawn(nranks, argv, &comm, &err);
	if (rc != 0 && comm == MPI_COMM_NULL) {
		report(&err, 0, 1, 1);
		return exit_status(rc);
	}
	if (rc == 0)
		rc = run_job(a, builtins, comm, 1, 0, &alike, &err);
	char line[PL_ERROR_MSG_MAX + 64] = "";
	if (rc != 0)
		report_line(&err, 0, nranks, alike, line, sizeof(line));
	return pl_launch_end(&comm, exit_status(rc), line);
}

int pl_cli_main(int argc, char **argv, const pl_operator_def *const *builtins)
{
	pl_cli_args a;
	pl_error err;
	pl_error_clear(&err);
	int rc = pl_cli_parse(argc, argv, &a, &err);
	if (rc != 0) {
		fprintf(stderr, "pipeline: %s\n", err.msg);
		free(a.sets);
		return 2;
	}
	if (a.help || a.version) {
		fputs(a.help ? pl_cli_usage : "pipeline " PL_VERSION "\n",
		      stdout);
		free(a.sets);
		return 0;
	}
	if (a.list_operators) {
		rc = list_operators(&a, builtins, &err);
		if (rc != 0)
			fprintf(stderr, "pipeline: %s\n", err.msg);
		free(a.sets);
		return pl_error_exit_status(rc);
	}
	if (a.check_operator) {
		int status = run_alone(&a, builtins, 1, 0);
		free(a.sets);
		return status;
	}
	int launched = launched_by_mpi(), want;
	rc = requested_ranks(&a, launched, &want, &err);
	if (rc != 0) {
		fprintf(stderr, "pipeline: %s\n", err.msg);
		free(a.sets);
		return 2;
	}
	catch_signals();
	int status = launched ? run_launched(&a, builtins, want)
			      : run_single_node(&a, builtins, want, argv);
	free(a.sets);
	return status;
}

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/cli.h"
#include "framework/cli_args.h"
#include "framework/exec.h"
#include "framework/metrics.h"
#include "framework/plan.h"

/* The one piece of process-wide state: a signal handler can reach
 * nothing else. The executor polls it between batches. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void print_def(const pl_operator_def *d, const char *origin)
{
	printf("  %-14s %s%s\n", d->name, d->description ? d->description : "",
	       origin);
}

static int list_operators(const pl_cli_args *a,
			  const pl_operator_def *const *builtins,
			  pl_error *err)
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

static void summary(const pl_plan *p, const pl_run_stats *st)
{
	double mb = (double)st->bytes_in / 1e6;
	fprintf(stderr,
		"pipeline: %s: %llu rows in, %llu rows out%s, %.3f s, "
		"%.1f MB/s\n",
		p->job_name, (unsigned long long)st->rows_in,
		(unsigned long long)st->rows_out,
		st->rows_skipped ? " (bad rows skipped)" : "", st->seconds,
		st->seconds > 0 ? mb / st->seconds : 0.0);
	if (st->rows_skipped)
		fprintf(stderr, "pipeline: %llu bad rows skipped\n",
			(unsigned long long)st->rows_skipped);
}

static int run_job(const pl_cli_args *a, const pl_operator_def *const *builtins,
		   int rank, int nranks, pl_error *err)
{
	pl_pool *pool = pl_pool_create((size_t)256 << 20);
	if (pool == NULL)
		return pl_error_nomem(err, "the buffer pool");
	pl_plan_options o = {a->sets,	 a->nsets, a->memory, a->metrics,
			     a->explain, rank,	   nranks};
	pl_plan plan;
	int rc = pl_plan_build(&plan, a->conf, &o, builtins, pool, err);
	if (rc == 0 && a->explain) {
		pl_plan_print(&plan, stdout);
	} else if (rc == 0) {
		pl_run_stats st;
		rc = pl_exec_run(&plan, &stop_signal, &st, err);
		if (rc == 0 && plan.metrics_path)
			rc = pl_metrics_write(plan.metrics_path, &plan, &st,
					      err);
		if (rc == 0 && a->verbosity > 0)
			summary(&plan, &st);
	}
	pl_plan_free(&plan);
	pl_pool_destroy(pool);
	return rc;
}

static int exit_status(int rc)
{
	if (stop_signal)
		return 128 + stop_signal;
	return pl_error_exit_status(rc);
}

static int run_ranks(const pl_cli_args *a,
		     const pl_operator_def *const *builtins)
{
	int rank = 0, nranks = 1, status = 0;
	MPI_Init(NULL, NULL);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	/* Until the distributed executor lands, rank 0 runs the whole job
	 * and the other ranks wait for its verdict, so every rank count
	 * writes the same answer. */
	if (rank == 0) {
		pl_error err;
		pl_error_clear(&err);
		int rc = run_job(a, builtins, rank, nranks, &err);
		if (rc != 0)
			fprintf(stderr, "pipeline: %s\n", err.msg);
		status = exit_status(rc);
	}
	MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
	MPI_Finalize();
	return status;
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
	catch_signals();
	int status = run_ranks(&a, builtins);
	free(a.sets);
	return status;
}

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/exchange.h"
#include "framework/metrics.h"

/* One rank's figures, as gathered to rank 0. */
enum {
	M_ROWS_IN,
	M_ROWS_OUT,
	M_ROWS_SKIPPED,
	M_BYTES_IN,
	M_BYTES_OUT,
	M_CHUNKS,
	M_PEAK_RSS,
	M_PEAK_POOL,
	M_SENT_RAW,
	M_SENT,
	M_SPILLED,
	M_SECONDS_US,
	M_BUDGET,
	M_READ_AHEAD,
	M_SPILL_DEPTH,
	M_CPU_US,
	M_ROWS_LOCAL,
	M_ROWS_PASSED,
	M_ROWS_UNSORTED,
	M_ROWS_MERGED,
	M_NCHUNK_ROWS,
	M_CHUNK_ROWS, /* PL_CHUNK_SAMPLES sizes, M_NCHUNK_ROWS of them used */
	M_NSTAGES = M_CHUNK_ROWS + PL_CHUNK_SAMPLES,
	M_STAGE_US, /* PL_MAX_STAGES times, M_NSTAGES of them used */
	M_COUNT = M_STAGE_US + PL_MAX_STAGES
};

uint64_t pl_peak_rss(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;
}

/* User plus system CPU time of this process so far: every thread, MPI's
 * start-up included. */
static uint64_t cpu_microseconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void figures(const pl_plan *p, const pl_run_stats *st, uint64_t *m)
{
	m[M_ROWS_IN] = st->rows_in;
	m[M_ROWS_OUT] = st->rows_out;
	m[M_ROWS_SKIPPED] = st->rows_skipped;
	m[M_BYTES_IN] = st->bytes_in;
	m[M_BYTES_OUT] = st->bytes_out;
	m[M_CHUNKS] = st->chunks;
	m[M_PEAK_RSS] = pl_peak_rss();
	m[M_PEAK_POOL] = st->peak_pool;
	m[M_SENT_RAW] = st->bytes_sent_raw;
	m[M_SENT] = st->bytes_sent;
	m[M_SPILLED] = st->bytes_spilled;
	m[M_SECONDS_US] = (uint64_t)(st->seconds * 1e6);
	m[M_BUDGET] = p->env.memory_budget;
	m[M_READ_AHEAD] = (uint64_t)st->read_ahead;
	m[M_SPILL_DEPTH] = (uint64_t)st->spill_depth;
	m[M_CPU_US] = cpu_microseconds();
	m[M_ROWS_LOCAL] = st->rows_local;
	m[M_ROWS_PASSED] = st->rows_passed;
	m[M_ROWS_UNSORTED] = st->rows_unsorted;
	m[M_ROWS_MERGED] = st->rows_merged;
	m[M_NCHUNK_ROWS] = st->nchunk_rows;
	for (size_t i = 0; i < PL_CHUNK_SAMPLES; i++)
		m[M_CHUNK_ROWS + i] =
		    i < st->nchunk_rows ? st->chunk_rows[i] : 0;
	m[M_NSTAGES] = st->nstages;
	for (size_t i = 0; i < PL_MAX_STAGES; i++)
		m[M_STAGE_US + i] = i < st->nstages
					? (uint64_t)(st->stage_seconds[i] * 1e6)
					: 0;
}

/* The name of stage slot i: "source", the operator's section, "sink". */
static const char *stage_name(const pl_plan *p, uint64_t i, uint64_t n)
{
	if (i == 0)
		return "source";
	if (i == n - 1)
		return "sink";
	return p->ops[i - 1].section->name;
}

/* [{"stage": "source", "seconds": 0.1}, ...]: where the rank's time went. */
static void write_stages(FILE *f, const pl_plan *p, const uint64_t *m)
{
	uint64_t n = m[M_NSTAGES];
	fputc('[', f);
	for (uint64_t i = 0; i < n && i < PL_MAX_STAGES; i++) {
		fputs(i ? ", {\"stage\": " : "{\"stage\": ", f);
		json_string(f, stage_name(p, i, n));
		fprintf(f, ", \"seconds\": %.6f}",
			(double)m[M_STAGE_US + i] / 1e6);
	}
	fputc(']', f);
}

/* "[65536, 81920, ...]": the chunk size over the rank's run. */
static void write_samples(FILE *f, const uint64_t *m)
{
	uint64_t n = m[M_NCHUNK_ROWS];
	fputc('[', f);
	for (uint64_t i = 0; i < n && i < PL_CHUNK_SAMPLES; i++)
		fprintf(f, "%s%llu", i ? ", " : "",
			(unsigned long long)m[M_CHUNK_ROWS + i]);
	fputc(']', f);
}

static void write_rank(FILE *f, const pl_plan *p, int rank, const uint64_t *m)
{
	fprintf(f,
		"{\"rank\": %d, \"rows_read\": %llu, \"rows_written\": %llu, "
		"\"rows_skipped\": %llu, \"read_ahead\": %s, \"chunks\": %llu, "
		"\"chunk_rows\": ",
		rank, (unsigned long long)m[M_ROWS_IN],
		(unsigned long long)m[M_ROWS_OUT],
		(unsigned long long)m[M_ROWS_SKIPPED],
		m[M_READ_AHEAD] ? "true" : "false",
		(unsigned long long)m[M_CHUNKS]);
	write_samples(f, m);
	fprintf(
	    f,
	    ", \"budget_bytes\": %llu, \"peak_rss_bytes\": %llu, "
	    "\"peak_pool_bytes\": %llu, \"bytes_spilled\": %llu, "
	    "\"spill_depth\": %llu, "
	    "\"shuffle_bytes_raw\": %llu, \"shuffle_bytes_sent\": %llu, "
	    "\"preagg_local_rows\": %llu, \"preagg_passed_rows\": %llu, "
	    "\"sort_rows_unsorted\": %llu, \"sort_rows_merged\": %llu, "
	    "\"seconds\": %.6f, \"cpu_seconds\": %.6f, "
	    "\"stage_seconds\": ",
	    (unsigned long long)m[M_BUDGET], (unsigned long long)m[M_PEAK_RSS],
	    (unsigned long long)m[M_PEAK_POOL],
	    (unsigned long long)m[M_SPILLED],
	    (unsigned long long)m[M_SPILL_DEPTH],
	    (unsigned long long)m[M_SENT_RAW], (unsigned long long)m[M_SENT],
	    (unsigned long long)m[M_ROWS_LOCAL],
	    (unsigned long long)m[M_ROWS_PASSED],
	    (unsigned long long)m[M_ROWS_UNSORTED],
	    (unsigned long long)m[M_ROWS_MERGED], (double)m[M_SECONDS_US] / 1e6,
	    (double)m[M_CPU_US] / 1e6);
	write_stages(f, p, m);
	fputc('}', f);
}

static int write_json(const char *path, const pl_plan *p, const uint64_t *all,
		      int n, pl_error *err)
{
	uint64_t sum[M_COUNT] = {0}, slowest = 0;
	for (int r = 0; r < n; r++) {
		const uint64_t *m = all + r * M_COUNT;
		for (int k = 0; k < M_COUNT; k++)
			sum[k] += m[k];
		if (m[M_SECONDS_US] > slowest)
			slowest = m[M_SECONDS_US];
	}
	sum[M_SECONDS_US] = slowest; /* the job lasts as its slowest rank */
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	fputs("{\"job\": ", f);
	json_string(f, p->job_name);
	fprintf(
	    f,
	    ", \"ranks\": %d, \"nodes\": %d, \"split_guessed\": %s, "
	    "\"split_retries\": %d, \"wall_seconds\": %.6f, "
	    "\"cpu_seconds\": %.6f, \"rows_in\": %llu, \"rows_out\": %llu, "
	    "\"bytes_in\": %llu, "
	    "\"bytes_out\": %llu, \"memory_budget_bytes\": %llu, "
	    "\"rank_budget_bytes\": %llu, "
	    "\"per_rank\": [",
	    n, p->nodes, pl_source_split_guessed(p->source) ? "true" : "false",
	    p->split_retries, (double)sum[M_SECONDS_US] / 1e6,
	    (double)sum[M_CPU_US] / 1e6, (unsigned long long)sum[M_ROWS_IN],
	    (unsigned long long)sum[M_ROWS_OUT],
	    (unsigned long long)sum[M_BYTES_IN],
	    (unsigned long long)sum[M_BYTES_OUT], (unsigned long long)p->memory,
	    (unsigned long long)p->env.memory_budget);
	for (int r = 0; r < n; r++) {
		fputs(r ? ", " : "", f);
		write_rank(f, p, r, all + r * M_COUNT);
	}
	fputs("]}\n", f);
	if (fclose(f) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	return 0;
}

int pl_metrics_check(const char *path, MPI_Comm comm, pl_error *err)
{
	int rc = 0;
	if (pl_comm_rank(comm) == 0) {
		struct stat st;
		int existed = stat(path, &st) == 0;
		/* a FIFO or device is checked by writing to it at the end:
		 * opening a FIFO here would wait for its reader */
		if (existed && !S_ISREG(st.st_mode))
			return pl_mpi_agree(comm, 0, err);
		int fd = open(path, O_WRONLY | O_CREAT, 0666);
		if (fd < 0)
			rc = pl_error_set(err, PL_ERR_IO, "--metrics %s: %s",
					  path, strerror(errno));
		else
			close(fd);
		if (fd >= 0 && !existed)
			unlink(path);
	}
	return pl_mpi_agree(comm, rc, err);
}

int pl_metrics_write(const char *path, const pl_plan *p, const pl_run_stats *st,
		     MPI_Comm comm, pl_error *err)
{
	int rank = pl_comm_rank(comm), n = pl_comm_size(comm), rc = 0;
	uint64_t mine[M_COUNT];
	figures(p, st, mine);
	uint64_t *all = rank == 0 ? malloc((size_t)n * sizeof(mine)) : NULL;
	if (rank == 0 && all == NULL)
		rc = pl_error_nomem(err, "the metrics");
	rc = pl_mpi_agree(comm, rc, err);
	if (rc != 0)
		return rc;
	if (n == 1)
		memcpy(all, mine, sizeof(mine));
	else
		MPI_Gather(mine, M_COUNT, MPI_UINT64_T, all, M_COUNT,
			   MPI_UINT64_T, 0, comm);
	if (rank == 0)
		rc = write_json(path, p, all, n, err);
	free(all);
	return pl_mpi_agree(comm, rc, err);
}

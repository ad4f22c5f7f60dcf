#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "framework/metrics.h"

uint64_t pl_peak_rss(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;
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

static void write_rank(FILE *f, const pl_plan *p, const pl_run_stats *st)
{
	fprintf(f,
		"{\"rank\": %d, \"rows_read\": %llu, \"rows_skipped\": %llu, "
		"\"chunks\": %llu, \"chunk_rows\": [%zu], "
		"\"peak_rss_bytes\": %llu, \"peak_pool_bytes\": %zu, "
		"\"bytes_spilled\": 0, \"shuffle_bytes_raw\": 0, "
		"\"shuffle_bytes_sent\": 0, \"seconds\": %.6f}",
		p->env.rank, (unsigned long long)st->rows_in,
		(unsigned long long)st->rows_skipped,
		(unsigned long long)st->chunks, p->env.chunk_rows,
		(unsigned long long)pl_peak_rss(), st->peak_pool, st->seconds);
}

int pl_metrics_write(const char *path, const pl_plan *p,
		     const pl_run_stats *st, pl_error *err)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	fputs("{\"job\": ", f);
	json_string(f, p->job_name);
	fprintf(f,
		", \"ranks\": %d, \"nodes\": 1, \"wall_seconds\": %.6f, "
		"\"rows_in\": %llu, \"rows_out\": %llu, \"bytes_in\": %llu, "
		"\"bytes_out\": %llu, \"memory_budget_bytes\": %llu, "
		"\"per_rank\": [",
		p->env.nranks, st->seconds, (unsigned long long)st->rows_in,
		(unsigned long long)st->rows_out,
		(unsigned long long)st->bytes_in,
		(unsigned long long)st->bytes_out,
		(unsigned long long)p->memory);
	write_rank(f, p, st);
	fputs("]}\n", f);
	if (fclose(f) != 0)
		return pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				    strerror(errno));
	return 0;
}

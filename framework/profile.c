/* --profile: the ranks' per-stage figures summed on rank 0 and printed
 * under the stages of the plan, then advice from what was measured. */
#include <string.h>
#include <unistd.h>

#include "framework/exchange.h"
#include "framework/profile.h"

/* Advice thresholds: a stage taking this share of the time is the
 * bottleneck; a filter keeping less than this share of its rows drops
 * most of them. */
#define BOTTLENECK_SHARE 0.5
#define FILTER_KEEPS 0.1
/* Spill files hold zstd-compressed rows; in memory they took about this
 * many times their size (an estimate for the advice). */
#define SPILL_EXPANSION 3

void pl_profile_gather(pl_profile *pf, const pl_plan *p, const pl_run_stats *st,
		       MPI_Comm comm)
{
	memset(pf, 0, sizeof(*pf));
	pf->p = p;
	pf->nranks = pl_comm_size(comm);
	pf->nstages = st->nstages;
	pf->wall = st->seconds;
	memcpy(pf->seconds, st->stage_seconds, sizeof(pf->seconds));
	memcpy(pf->rows, st->stage_rows, sizeof(pf->rows));
	memcpy(pf->peak, st->stage_peak, sizeof(pf->peak));
	memcpy(pf->spilled, st->stage_spilled, sizeof(pf->spilled));
	if (pf->nranks <= 1)
		return;
	MPI_Reduce(st->stage_seconds, pf->seconds, PL_MAX_STAGES, MPI_DOUBLE,
		   MPI_SUM, 0, comm);
	MPI_Reduce(st->stage_rows, pf->rows, PL_MAX_STAGES, MPI_UINT64_T,
		   MPI_SUM, 0, comm);
	MPI_Reduce(st->stage_peak, pf->peak, PL_MAX_STAGES, MPI_UINT64_T,
		   MPI_SUM, 0, comm);
	MPI_Reduce(st->stage_spilled, pf->spilled, PL_MAX_STAGES, MPI_UINT64_T,
		   MPI_SUM, 0, comm);
	MPI_Reduce(&st->seconds, &pf->wall, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
}

static double total_seconds(const pl_profile *pf)
{
	double t = 0;
	for (size_t i = 0; i < pf->nstages; i++)
		t += pf->seconds[i];
	return t;
}

/* "12.3 MiB": bytes in the largest unit that keeps a number >= 1. */
static const char *size_text(uint64_t b, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(*unit)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

static size_t slot(const pl_profile *pf, size_t k)
{
	return pl_exec_stage_slot(pf->p->nops, k);
}

/* Rows stage k handed on: what the next stage took in; the sink's are
 * the rows written. */
static uint64_t rows_out(const pl_profile *pf, size_t k)
{
	size_t last = pf->p->nops + 1;
	return pf->rows[slot(pf, k < last ? k + 1 : last)];
}

static void note_stage(void *arg, size_t k, FILE *out)
{
	const pl_profile *pf = arg;
	size_t s = slot(pf, k);
	double total = total_seconds(pf);
	char peak[32], spill[32];
	fputs("    profile:", out);
	if (k == 0)
		fprintf(out, " rows read %llu,",
			(unsigned long long)pf->rows[0]);
	else
		fprintf(out, " rows in %llu,", (unsigned long long)pf->rows[s]);
	fprintf(out,
		" rows out %llu, %.3f s (%.1f%%), peak pool %s, spilled "
		"%s\n",
		(unsigned long long)rows_out(pf, k), pf->seconds[s],
		total > 0 ? 100 * pf->seconds[s] / total : 0.0,
		size_text(pf->peak[s], peak, sizeof(peak)),
		size_text(pf->spilled[s], spill, sizeof(spill)));
}

static void advise_spill(const pl_profile *pf, FILE *out, int *n)
{
	uint64_t spilled = 0, peak = 0;
	for (size_t i = 0; i < pf->nstages; i++) {
		spilled += pf->spilled[i];
		if (pf->peak[i] > peak)
			peak = pf->peak[i];
	}
	if (spilled == 0)
		return;
	const pl_plan *p = pf->p;
	int nodes = p->nodes > 0 ? p->nodes : 1;
	/* The ranks' pools are summed: a node held its share of them. */
	uint64_t want = (peak + SPILL_EXPANSION * spilled) / (uint64_t)nodes;
	uint64_t mib = (uint64_t)1 << 20;
	if (want < p->memory)
		want = p->memory;
	want = (want + mib - 1) / mib * mib;
	char s[32], b[32], w[32];
	fprintf(out,
		"  - spilled %s to disk under a budget of %s per node: a "
		"budget of about %s per node (--memory) would have held it "
		"(an estimate: spill files are compressed)\n",
		size_text(spilled, s, sizeof(s)),
		size_text(p->memory, b, sizeof(b)),
		size_text(want, w, sizeof(w)));
	(*n)++;
}

static void advise_reader(const pl_profile *pf, FILE *out, int *n)
{
	double total = total_seconds(pf);
	if (total <= 0 || pf->seconds[0] < BOTTLENECK_SHARE * total)
		return;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int per_node = pf->nranks / (pf->p->nodes > 0 ? pf->p->nodes : 1);
	fprintf(out, "  - the reader was the bottleneck (%.0f%% of the time)",
		100 * pf->seconds[0] / total);
	if (cores > 0 && per_node < cores)
		fprintf(out,
			": more ranks would help, up to one per core (%ld "
			"here; mpirun -n N or --ranks N)\n",
			cores);
	else
		fputs(": every core already reads; faster storage would help\n",
		      out);
	(*n)++;
}

/* A filter late in the chain that drops most rows: the stages before it
 * worked on rows it then threw away. */
static void advise_filters(const pl_profile *pf, FILE *out, int *n)
{
	const pl_plan *p = pf->p;
	double total = total_seconds(pf), before = 0;
	for (size_t i = 0; i < p->nops; i++) {
		size_t k = i + 1;
		uint64_t in = pf->rows[slot(pf, k)], kept = rows_out(pf, k);
		if (i > 0 && strcmp(p->ops[i].def->name, "filter") == 0 &&
		    in > 0 && (double)kept < FILTER_KEEPS * (double)in &&
		    before > 0.05 * total) {
			fprintf(out,
				"  - [filter] (stage %zu) keeps %.1f%% of its "
				"rows after stages that took %.3f s: if its "
				"condition reads only source columns, it could "
				"run earlier (first) and spare them the rest\n",
				k, 100.0 * (double)kept / (double)in, before);
			(*n)++;
		}
		before += pf->seconds[slot(pf, k)];
	}
}

void pl_profile_print(const pl_profile *pf, FILE *out)
{
	fprintf(out,
		"profile: job '%s' on %d rank%s, %.3f s wall; rows, seconds, "
		"peak pool memory and spill are summed over the ranks\n",
		pf->p->job_name, pf->nranks, pf->nranks == 1 ? "" : "s",
		pf->wall);
	pl_plan_print_annotated(pf->p, out, note_stage, (void *)pf);
	fprintf(out, "  total: %.3f s over the stages and ranks\n",
		total_seconds(pf));
	int n = 0;
	fputs("advice:\n", out);
	advise_spill(pf, out, &n);
	advise_reader(pf, out, &n);
	advise_filters(pf, out, &n);
	if (n == 0)
		fputs("  - none: no spill, no dominant reader, no late filter "
		      "dropping most rows\n",
		      out);
}

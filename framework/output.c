/* The job's output on one rank or many (see pl_output in
 * exec_internal.h). */
#define _GNU_SOURCE /* copy_file_range, fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/crash_cleanup.h"
#include "framework/exchange.h"
#include "framework/exec_internal.h"
#include "framework/output_path.h"
#include "framework/run_file.h"
#include "io/hdf5_writer.h"

#define COPY_CHUNK ((size_t)4 << 20)
#define SPOOL_ZSTD_LEVEL 1

/* HDF5 output. Strings are stored fixed-length and the datasets are
 * created at their final size, so a rank's rows are spooled to a run file
 * (counting rows, widest strings and NULLs as they pass) until the end;
 * then the ranks agree on the shape (an exclusive prefix sum of row counts
 * gives each rank its first row), create the file together and write in
 * rounds, one spooled batch per rank per round, collectively. */
struct pl_h5_output {
	pl_codec *codec;
	pl_run_file *spool;
	pl_hdf5_shape shape;
	pl_hdf5_writer *w;
	MPI_Comm comm; /* MPI_COMM_NULL on one rank */
	uint64_t next; /* first row of this rank's next batch */
	int pending;   /* a local status the others have not yet seen */
	int stopped;   /* the ranks agreed to stop */
};

static int h5_open(pl_output *o, pl_error *err)
{
	const pl_plan *p = o->p;
	struct pl_h5_output *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return pl_error_nomem(err, "the hdf5 output");
	o->h5 = h;
	int rc = pl_hdf5_shape_init(&h->shape, &p->schemas[p->nops], err);
	h->codec =
	    rc ? NULL : pl_codec_create(p->env.pool, SPOOL_ZSTD_LEVEL, err);
	if (rc == 0 && h->codec == NULL)
		rc = PL_ERR_NOMEM;
	if (rc == 0)
		rc = pl_run_file_create(p->spill_dir, h->codec, p->env.pool,
					&h->spool, err);
	return rc;
}

static int h5_write(pl_output *o, const pl_batch *b, pl_error *err)
{
	pl_hdf5_shape_add(&o->h5->shape, b);
	return pl_run_file_append(o->h5->spool, b, NULL, 0, b->nrows, err);
}

static void h5_free(pl_output *o)
{
	struct pl_h5_output *h = o->h5;
	if (h == NULL)
		return;
	pl_run_file_destroy(h->spool);
	pl_codec_destroy(h->codec);
	pl_hdf5_shape_free(&h->shape);
	free(h);
	o->h5 = NULL;
}

int pl_output_open(pl_output *o, const pl_plan *p, MPI_Comm comm, pl_error *err)
{
	memset(o, 0, sizeof(*o));
	/* The parts of several ranks have no name to arm (see
	 * pl_csv_writer_open_part), and a crash must still be reported. */
	pl_crash_cleanup_install();
	o->p = p;
	o->rank = pl_comm_rank(comm);
	o->nranks = pl_comm_size(comm);
	const pl_schema *s = &p->schemas[p->nops];
	if (p->sink_format == PL_SINK_HDF5)
		return h5_open(o, err);
	if (o->nranks == 1)
		return pl_sink_open(p, &o->sink, err);
	/* A stream's parts cannot live beside it (in /dev, say). */
	char spilled[sizeof(p->sink_path) + 32];
	snprintf(spilled, sizeof(spilled), "%s/pipeline-output", p->spill_dir);
	if (p->sink_format == PL_SINK_CSV)
		return pl_csv_writer_open_part(
		    p->sink_kind == PL_OUTPUT_FILE ? p->sink_path : spilled, s,
		    p->zstd_level, o->rank == 0, &o->part, err);
	return pl_error_set(err, PL_ERR_INTERNAL, "unknown sink format");
}

int pl_output_share(pl_output *o, int rc, MPI_Comm comm, pl_error *err)
{
	if (o->nranks == 1 || o->p->sink_format != PL_SINK_CSV)
		return rc;
	char proc[64] = "";
	int r = 1;
	if (rc == 0 && o->rank == 0 && o->part != NULL &&
	    pl_plan_output_shared(o->p) > 0)
		r = pl_csv_writer_share(o->part, proc, sizeof(proc), err);
	if (r < 0)
		rc = r;
	MPI_Bcast(proc, sizeof(proc), MPI_CHAR, 0, comm);
	pl_csv_writer *mine = NULL;
	int ok = proc[0] != '\0';
	if (ok && o->rank != 0) {
		r = pl_csv_writer_open_shared(o->p->sink_path, proc,
					      &o->p->schemas[o->p->nops], &mine,
					      err);
		ok = r == 0;
		rc = r < 0 ? r : rc;
	}
	int all = 0;
	MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
	if (all && o->rank != 0) {
		pl_csv_writer_abort(o->part);
		o->part = mine;
	} else {
		pl_csv_writer_abort(mine);
	}
	o->shared = all;
	return pl_mpi_agree(comm, rc, err);
}

int pl_output_write(pl_output *o, const pl_batch *b, pl_error *err)
{
	if (o->h5)
		return h5_write(o, b, err);
	if (o->sink)
		return pl_sink_write(o->sink, b, err);
	return pl_csv_writer_write(o->part, b, err);
}

/* Rank 0 makes the (empty) temporary output and tells every rank its
 * name; an empty name means it failed. */
static int shared_temp(pl_output *o, char *tmp, size_t cap, MPI_Comm comm,
		       pl_error *err)
{
	int rc = 0;
	tmp[0] = '\0';
	if (o->rank == 0) {
		const char *path = o->p->sink_path;
		const char *slash = strrchr(path, '/');
		int dirlen = slash ? (int)(slash - path + 1) : 0;
		snprintf(tmp, cap, "%.*s.%s.tmp-%ld-XXXXXX", dirlen, path,
			 slash ? slash + 1 : path, (long)getpid());
		int fd = mkstemp(tmp);
		if (fd >= 0)
			pl_crash_cleanup_arm(tmp);
		mode_t mask = umask(0);
		umask(mask);
		if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0) {
			rc = pl_error_set(err, PL_ERR_IO,
					  "%s: cannot create the output "
					  "file: %s",
					  path, strerror(errno));
			pl_crash_cleanup_disarm(tmp);
			if (fd >= 0)
				unlink(tmp);
			tmp[0] = '\0';
		}
		if (fd >= 0)
			close(fd);
	}
	if (o->nranks > 1)
		MPI_Bcast(tmp, (int)cap, MPI_CHAR, 0, comm);
	return pl_mpi_agree(comm, rc, err);
}

/* Rank 0's part is the start of the output: where its file can be named
 * (pl_csv_writer_link_part), it becomes the output's temporary file and
 * is not copied. Every rank learns the name, or an empty one when rank 0
 * could not name its part (then a new file takes every part). */
static int part0_temp(pl_output *o, char *tmp, size_t cap, MPI_Comm comm,
		      pl_error *err)
{
	int rc = 0;
	tmp[0] = '\0';
	if (o->rank == 0) {
		rc = pl_csv_writer_link_part(o->part, err);
		if (rc == 0)
			snprintf(tmp, cap, "%s",
				 pl_csv_writer_temp_path(o->part));
		rc = rc == 1 ? 0 : rc;
	}
	MPI_Bcast(tmp, (int)cap, MPI_CHAR, 0, comm);
	return pl_mpi_agree(comm, rc, err);
}

static int copy_part(int fd, uint64_t size, MPI_File fh, uint64_t off,
		     const char *path, pl_error *err)
{
	char *buf = malloc(COPY_CHUNK);
	if (buf == NULL)
		return pl_error_nomem(err, "the output copy buffer");
	int rc = 0;
	for (uint64_t done = 0; rc == 0 && done < size;) {
		size_t want = size - done < COPY_CHUNK ? (size_t)(size - done)
						       : COPY_CHUNK;
		ssize_t got = pread(fd, buf, want, (off_t)done);
		if (got <= 0) {
			rc = pl_error_set(err, PL_ERR_IO,
					  "%s: cannot read this rank's part: "
					  "%s",
					  path, strerror(errno));
			break;
		}
		if (MPI_File_write_at(fh, (MPI_Offset)(off + done), buf,
				      (int)got, MPI_BYTE,
				      MPI_STATUS_IGNORE) != MPI_SUCCESS)
			rc = pl_error_set(err, PL_ERR_IO,
					  "%s: cannot write (MPI-IO)", path);
		done += (uint64_t)got;
	}
	free(buf);
	return rc;
}

/* After the collective write of tmp: rank 0 renames it into place when
 * every rank succeeded, else removes it; then all ranks agree. */
static int finish_temp(const pl_output *o, const char *tmp, int rc,
		       MPI_Comm comm, pl_error *err)
{
	rc = pl_mpi_agree(comm, rc, err);
	if (o->rank == 0) {
		pl_crash_cleanup_disarm(tmp);
		if (rc == 0 && rename(tmp, o->p->sink_path) != 0)
			rc = pl_error_set(err, PL_ERR_IO,
					  "%s: cannot rename the finished "
					  "output into place: %s",
					  o->p->sink_path, strerror(errno));
		if (rc != 0)
			unlink(tmp);
	}
	return pl_mpi_agree(comm, rc, err);
}

/* After the other ranks' parts are in rank 0's file: rank 0 renames it
 * into place when every rank succeeded, else removes it; then all ranks
 * agree. */
static int finish_parts(pl_output *o, int rc, MPI_Comm comm, pl_error *err)
{
	rc = pl_mpi_agree(comm, rc, err);
	if (o->rank == 0) {
		if (rc == 0)
			rc = pl_csv_writer_commit(o->part, err);
		else
			pl_csv_writer_abort(o->part);
		o->part = NULL;
	}
	return pl_mpi_agree(comm, rc, err);
}

/* Copies this rank's part into tmp at off inside the kernel, without a
 * trip through user space (a quarter of a big output's cost). Returns 0,
 * 1 when the file system cannot (nothing written: the caller copies
 * through MPI-IO), or an error. */
static int kernel_copy(int fd, uint64_t size, const char *tmp, uint64_t off,
		       const char *path, pl_error *err)
{
	int out = open(tmp, O_WRONLY);
	if (out < 0)
		return 1;
	loff_t from = 0, to = (loff_t)off;
	int rc = 0;
	while (rc == 0 && (uint64_t)from < size) {
		ssize_t n = copy_file_range(fd, &from, out, &to,
					    (size_t)(size - (uint64_t)from), 0);
		if (n > 0)
			continue;
		if (n < 0 && from == 0 &&
		    (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
		     errno == EOPNOTSUPP))
			rc = 1;
		else
			rc = pl_error_set(
			    err, PL_ERR_IO,
			    "%s: cannot copy this rank's part: "
			    "%s",
			    path, n < 0 ? strerror(errno) : "it ended early");
	}
	if (close(out) != 0 && rc == 0)
		rc = pl_error_set(err, PL_ERR_IO, "%s: %s", path,
				  strerror(errno));
	return rc;
}

/* The MPI-IO copy, for the ranks whose kernel could not (fallback set);
 * collective because opening the file is. */
static int mpiio_copy(int fd, uint64_t size, const char *tmp, uint64_t off,
		      int fallback, const char *path, MPI_Comm comm,
		      pl_error *err)
{
	int any = 0, rc = 0;
	MPI_Allreduce(&fallback, &any, 1, MPI_INT, MPI_MAX, comm);
	if (!any)
		return 0;
	MPI_File fh;
	if (MPI_File_open(comm, tmp, MPI_MODE_WRONLY, MPI_INFO_NULL, &fh) !=
	    MPI_SUCCESS)
		return pl_error_set(err, PL_ERR_IO, "%s: cannot open (MPI-IO)",
				    tmp);
	if (fallback)
		rc = copy_part(fd, size, fh, off, path, err);
	MPI_File_close(&fh);
	return rc;
}

/* Copies every rank's part to its offset in one file (rank 0's own, when
 * it could be named), then rank 0 renames it into place once every rank
 * succeeded. */
static int write_parts(pl_output *o, int fd, uint64_t size, MPI_Comm comm,
		       pl_error *err)
{
	uint64_t off = 0;
	MPI_Exscan(&size, &off, 1, MPI_UINT64_T, MPI_SUM, comm);
	if (o->rank == 0)
		off = 0;
	char tmp[sizeof(o->p->sink_path) + 64];
	int rc = part0_temp(o, tmp, sizeof(tmp), comm, err);
	if (rc != 0)
		return rc;
	int in_part0 = tmp[0] != '\0';
	if (!in_part0)
		rc = shared_temp(o, tmp, sizeof(tmp), comm, err);
	if (rc != 0)
		return rc;
	const char *path = o->p->sink_path;
	int copy = !(in_part0 && o->rank == 0);
	rc = copy ? kernel_copy(fd, size, tmp, off, path, err) : 0;
	int fallback = rc == 1;
	rc = fallback ? 0 : rc;
	int r = mpiio_copy(fd, size, tmp, off, fallback, path, comm, err);
	rc = rc ? rc : r;
	return in_part0 ? finish_parts(o, rc, comm, err)
			: finish_temp(o, tmp, rc, comm, err);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Rank 0's part goes to out from fd; rank r's arrives as its size, then
 * pieces of COPY_CHUNK. Rank 0 takes every message even after a failure
 * (rc set on entry: out could not be opened), so that no sender waits
 * forever. */
static int receive_parts(int rc, int out, int fd, uint64_t size, int nranks,
			 MPI_Comm comm, const char *path, pl_error *err)
{
	char *buf = malloc(COPY_CHUNK);
	if (buf == NULL)
		return pl_error_nomem(err, "the output copy buffer");
	for (int r = 0; r < nranks; r++) {
		if (r > 0)
			MPI_Recv(&size, 1, MPI_UINT64_T, r, 0, comm,
				 MPI_STATUS_IGNORE);
		for (uint64_t done = 0; done < size;) {
			size_t want = size - done < COPY_CHUNK
					  ? (size_t)(size - done)
					  : COPY_CHUNK;
			int got = (int)want;
			if (r > 0) {
				MPI_Status st;
				MPI_Recv(buf, (int)want, MPI_BYTE, r, 1, comm,
					 &st);
				MPI_Get_count(&st, MPI_BYTE, &got);
			} else if (pread(fd, buf, want, (off_t)done) !=
				   (ssize_t)want)
				rc = rc ? rc
					: pl_error_set(err, PL_ERR_IO,
						       "%s: cannot read this "
						       "rank's part: %s",
						       path, strerror(errno));
			if (rc == 0 && write_all(out, buf, want) != 0)
				rc = pl_error_set(err, PL_ERR_IO,
						  "%s: cannot write: %s", path,
						  strerror(errno));
			if (got != (int)want) /* the sender failed */
				break;
			done += want;
		}
	}
	free(buf);
	return rc;
}

static int send_part(int fd, uint64_t size, MPI_Comm comm, const char *path,
		     pl_error *err)
{
	char *buf = malloc(COPY_CHUNK);
	int rc = buf ? 0 : pl_error_nomem(err, "the output copy buffer");
	MPI_Send(&size, 1, MPI_UINT64_T, 0, 0, comm);
	for (uint64_t done = 0; done < size;) {
		size_t want = size - done < COPY_CHUNK ? (size_t)(size - done)
						       : COPY_CHUNK;
		if (rc == 0 &&
		    pread(fd, buf, want, (off_t)done) != (ssize_t)want)
			rc = pl_error_set(err, PL_ERR_IO,
					  "%s: cannot read this rank's part: "
					  "%s",
					  path, strerror(errno));
		/* the size is promised: send something even after a failure */
		static const char zeros[1];
		MPI_Send(rc ? zeros : buf, rc ? 0 : (int)want, MPI_BYTE, 0, 1,
			 comm);
		if (rc != 0)
			break;
		done += want;
	}
	free(buf);
	return rc;
}

/* A stream output (standard output, a FIFO, a device) under several
 * ranks: rank 0 writes every rank's part in rank order. */
static int stream_parts(pl_output *o, int fd, uint64_t size, MPI_Comm comm,
			pl_error *err)
{
	const pl_plan *p = o->p;
	if (o->rank != 0)
		return pl_mpi_agree(
		    comm, send_part(fd, size, comm, p->sink_path, err), err);
	int out = pl_output_open_stream(p->sink_path, p->sink_kind);
	int rc = out >= 0 ? 0
			  : pl_error_set(err, PL_ERR_IO,
					 "%s: cannot open the output: %s",
					 p->sink_path, strerror(errno));
	rc = receive_parts(rc, out, fd, size, o->nranks, comm, p->sink_path,
			   err);
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = pl_error_set(err, PL_ERR_IO, "%s: cannot write: %s",
				  p->sink_path, strerror(errno));
	return pl_mpi_agree(comm, rc, err);
}

/* The shape of the whole file, and this rank's first row. */
static int h5_agree_shape(pl_output *o, MPI_Comm comm, pl_error *err)
{
	struct pl_h5_output *h = o->h5;
	pl_hdf5_shape *sh = &h->shape;
	if (o->nranks == 1)
		return 0;
	uint64_t rows = sh->rows, first = 0, total = 0;
	size_t n = sh->n;
	uint64_t *mine = malloc((2 * n + 1) * sizeof(*mine));
	uint64_t *all = malloc((2 * n + 1) * sizeof(*all));
	int rc = mine && all ? 0 : pl_error_nomem(err, "the hdf5 output shape");
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0) {
		memcpy(mine, sh->width, n * sizeof(*mine));
		memcpy(mine + n, sh->nulls, n * sizeof(*mine));
		mine[2 * n] = 0;
		MPI_Exscan(&rows, &first, 1, MPI_UINT64_T, MPI_SUM, comm);
		MPI_Allreduce(&rows, &total, 1, MPI_UINT64_T, MPI_SUM, comm);
		MPI_Allreduce(mine, all, (int)(2 * n + 1), MPI_UINT64_T,
			      MPI_MAX, comm);
		memcpy(sh->width, all, n * sizeof(*all));
		memcpy(sh->nulls, all + n, n * sizeof(*all));
		sh->rows = total;
		h->next = o->rank == 0 ? 0 : first;
	}
	free(mine);
	free(all);
	return rc;
}

/* One round: the ranks agree on their statuses and on whether any has a
 * batch (b NULL: none), then write collectively. Returns nonzero when the
 * ranks agreed to stop; *more 0 when no rank had a batch. */
static int h5_round(struct pl_h5_output *h, int nranks, const pl_batch *b,
		    int *more, pl_error *err)
{
	int rc = pl_mpi_agree(h->comm, h->pending, err);
	h->pending = 0;
	if (rc != 0) {
		h->stopped = 1;
		return rc;
	}
	int mine = b != NULL, any = mine;
	if (nranks > 1)
		MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, h->comm);
	*more = any;
	if (!any)
		return 0;
	h->pending = pl_hdf5_writer_write(h->w, h->next, b, err);
	if (b != NULL)
		h->next += b->nrows;
	return 0;
}

struct h5_replay {
	struct pl_h5_output *h;
	int nranks;
	const volatile sig_atomic_t *stop;
};

static int h5_replayed(void *arg, pl_batch *b, pl_error *err)
{
	struct h5_replay *r = arg;
	int more;
	/* the others learn of it at the next round */
	if (r->stop != NULL && *r->stop && r->h->pending == 0)
		r->h->pending = pl_error_set(err, PL_ERR_IO, "interrupted");
	return h5_round(r->h, r->nranks, b, &more, err);
}

/* Every rank writes its spooled batches, then takes part in empty rounds
 * until no rank has any left. A local failure (reading the spool back)
 * reaches the others at the next round. */
static int h5_write_all(pl_output *o, pl_error *err)
{
	struct pl_h5_output *h = o->h5;
	struct h5_replay r = {h, o->nranks, o->p->env.stop};
	int rc = pl_run_file_replay(h->spool, &o->p->schemas[o->p->nops],
				    h5_replayed, &r, err);
	if (h->stopped)
		return rc;
	if (rc != 0 && h->pending == 0)
		h->pending = rc;
	for (int more = 1; more;) {
		rc = h5_round(h, o->nranks, NULL, &more, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The bytes of the uncompressed datasets: what the file needs, but for
 * its metadata. */
static uint64_t h5_data_bytes(const pl_hdf5_shape *sh, const pl_schema *s)
{
	uint64_t row = 0;
	for (size_t i = 0; i < sh->n; i++) {
		pl_type t = s->fields[i].type;
		row += t == PL_STRING ? (sh->width[i] ? sh->width[i] : 1)
		       : t == PL_BOOL ? 1
				      : 8;
		row += sh->nulls[i] ? 1 : 0;
	}
	return row * sh->rows;
}

/* Before HDF5 opens the file, rank 0 asks the file system for its blocks:
 * a disk too full for the output is then one clean error every rank
 * agrees on. A write that fails inside the collective writes leaves the
 * ranks' HDF5 states apart, and closing the file (even HDF5's own close
 * at MPI_Finalize) could wait forever. Only a check: creating the file
 * truncates it, and another writer may take the space meanwhile.
 * Compressed sizes are unknown; file systems without fallocate are not
 * checked. */
static int h5_reserve(const pl_output *o, const char *tmp, pl_error *err)
{
	const pl_plan *p = o->p;
	int rc = 0;
	if (o->rank == 0 && p->zstd_level == 0) {
		uint64_t need =
		    h5_data_bytes(&o->h5->shape, &p->schemas[p->nops]) +
		    ((uint64_t)1 << 20);
		int fd = open(tmp, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 &&
		    fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)need) != 0 &&
		    (errno == ENOSPC || errno == EDQUOT || errno == EFBIG))
			rc = pl_error_set(err, PL_ERR_IO,
					  "%s: cannot write: %s (the output "
					  "needs about %.1f MB)",
					  p->sink_path, strerror(errno),
					  (double)need / 1e6);
		if (fd >= 0)
			close(fd);
	}
	return pl_mpi_agree(o->h5->comm, rc, err);
}

static int h5_make_file(pl_output *o, const char *tmp, pl_error *err)
{
	const pl_plan *p = o->p;
	struct pl_h5_output *h = o->h5;
	pl_hdf5_sink_options so = {
	    p->sink_path,  p->hdf5_layout, p->hdf5_group,
	    p->zstd_level, p->job_name,	   pl_source_describe(p->source)};
	int rc = pl_hdf5_writer_open(&so, tmp, &p->schemas[p->nops], &h->shape,
				     h->comm, &h->w, err);
	rc = pl_mpi_agree(h->comm, rc, err);
	if (rc == 0)
		rc = h5_write_all(o, err);
	rc = pl_mpi_agree(h->comm, rc, err);
	if (rc != 0 && o->nranks > 1) {
		pl_hdf5_writer_abandon(h->w);
		h->w = NULL;
		return rc;
	}
	int crc = pl_hdf5_writer_close(h->w, rc ? NULL : err);
	h->w = NULL;
	return pl_mpi_agree(h->comm, rc ? rc : crc, err);
}

static int h5_close(pl_output *o, int rc, MPI_Comm comm, pl_error *err)
{
	struct pl_h5_output *h = o->h5;
	h->comm = o->nranks > 1 ? comm : MPI_COMM_NULL;
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0)
		rc = h5_agree_shape(o, comm, err);
	char tmp[sizeof(o->p->sink_path) + 64];
	if (rc == 0)
		rc = shared_temp(o, tmp, sizeof(tmp), comm, err);
	if (rc != 0)
		return rc;
	rc = h5_reserve(o, tmp, err);
	if (rc == 0)
		rc = h5_make_file(o, tmp, err);
	return finish_temp(o, tmp, rc, comm, err);
}

/* Every rank has appended its rows to rank 0's part: each flushes the
 * rows it holds, then rank 0 names the file and renames it into place
 * once all succeeded. */
static int close_shared(pl_output *o, int rc, MPI_Comm comm, uint64_t *bytes,
			pl_error *err)
{
	int fd = -1;
	uint64_t size = 0;
	if (rc == 0)
		rc = pl_csv_writer_finish_part(o->part, &fd, &size, err);
	*bytes = pl_csv_writer_bytes(o->part);
	if (o->rank != 0) {
		pl_csv_writer_abort(o->part);
		o->part = NULL;
	}
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0 && o->rank == 0)
		rc = pl_csv_writer_link_part(o->part, err);
	if (rc == 1) /* it was shared for being unnamed: cannot happen */
		rc = pl_error_set(err, PL_ERR_INTERNAL,
				  "%s: cannot name the output file",
				  o->p->sink_path);
	return finish_parts(o, rc, comm, err);
}

int pl_output_close(pl_output *o, int rc, MPI_Comm comm, uint64_t *bytes,
		    pl_error *err)
{
	*bytes = 0;
	if (o->p == NULL) /* never opened: alike on every rank */
		return rc;
	if (o->p->sink_format == PL_SINK_HDF5) {
		rc = o->h5 ? h5_close(o, rc, comm, err)
			   : pl_mpi_agree(comm, rc, err);
		h5_free(o);
		return rc;
	}
	if (o->nranks == 1) {
		if (rc == 0 && o->sink) {
			*bytes = pl_sink_bytes(o->sink);
			return pl_sink_commit(o->sink, err);
		}
		pl_sink_abort(o->sink);
		return rc;
	}
	if (o->shared)
		return close_shared(o, rc, comm, bytes, err);
	int fd = -1;
	if (rc == 0 && o->part == NULL)
		rc = pl_error_set(err, PL_ERR_INTERNAL, "no output part");
	if (rc == 0)
		rc = pl_csv_writer_finish_part(o->part, &fd, bytes, err);
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0)
		rc = o->p->sink_kind == PL_OUTPUT_FILE
			 ? write_parts(o, fd, *bytes, comm, err)
			 : stream_parts(o, fd, *bytes, comm, err);
	pl_csv_writer_abort(o->part);
	o->part = NULL;
	return rc;
}

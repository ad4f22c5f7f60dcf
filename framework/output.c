/* The job's output on one rank or many (see pl_output in
 * exec_internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/exchange.h"
#include "framework/exec_internal.h"

#define COPY_CHUNK ((size_t)4 << 20)

int pl_output_open(pl_output *o, const pl_plan *p, MPI_Comm comm, pl_error *err)
{
	memset(o, 0, sizeof(*o));
	o->p = p;
	o->rank = pl_comm_rank(comm);
	o->nranks = pl_comm_size(comm);
	const pl_schema *s = &p->schemas[p->nops];
	if (o->nranks == 1)
		return pl_sink_open(p, &o->sink, err);
	if (p->sink_format == PL_SINK_CSV)
		return pl_csv_writer_open_part(p->sink_path, s, p->zstd_level,
					       o->rank == 0, &o->part, err);
	o->gathered = pl_batch_new(s, 1, p->env.pool, err);
	return o->gathered ? 0 : PL_ERR_NOMEM;
}

int pl_output_write(pl_output *o, const pl_batch *b, pl_error *err)
{
	if (o->sink)
		return pl_sink_write(o->sink, b, err);
	if (o->part)
		return pl_csv_writer_write(o->part, b, err);
	for (size_t i = 0; i < b->ncols; i++) {
		int rc =
		    pl_column_append_range(&o->gathered->cols[i], &b->cols[i],
					   0, b->nrows, o->p->env.pool, err);
		if (rc != 0)
			return rc;
	}
	o->gathered->nrows += b->nrows;
	return 0;
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
		mode_t mask = umask(0);
		umask(mask);
		if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0) {
			rc = pl_error_set(err, PL_ERR_IO,
					  "%s: cannot create the output "
					  "file: %s",
					  path, strerror(errno));
			if (fd >= 0)
				unlink(tmp);
			tmp[0] = '\0';
		}
		if (fd >= 0)
			close(fd);
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

/* Copies every rank's part to its offset in one file, then rank 0 renames
 * it into place once every rank succeeded. */
static int write_parts(pl_output *o, int fd, uint64_t size, MPI_Comm comm,
		       pl_error *err)
{
	uint64_t off = 0;
	MPI_Exscan(&size, &off, 1, MPI_UINT64_T, MPI_SUM, comm);
	if (o->rank == 0)
		off = 0;
	char tmp[sizeof(o->p->sink_path) + 64];
	int rc = shared_temp(o, tmp, sizeof(tmp), comm, err);
	if (rc != 0)
		return rc;
	MPI_File fh;
	if (MPI_File_open(comm, tmp, MPI_MODE_WRONLY, MPI_INFO_NULL, &fh) !=
	    MPI_SUCCESS)
		rc = pl_error_set(err, PL_ERR_IO, "%s: cannot open (MPI-IO)",
				  tmp);
	else {
		rc = copy_part(fd, size, fh, off, o->p->sink_path, err);
		MPI_File_close(&fh);
	}
	rc = pl_mpi_agree(comm, rc, err);
	if (o->rank == 0) {
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

static int close_gathered(pl_output *o, int rc, MPI_Comm comm, pl_error *err)
{
	const pl_plan *p = o->p;
	pl_exchange_opts opts = {NULL, 0, (size_t)8 << 20, 1};
	pl_batch *all = NULL;
	rc = pl_mpi_agree(comm, rc, err);
	pl_exchange *ex = rc ? NULL
			     : pl_exchange_create(comm, &p->schemas[p->nops],
						  &opts, p->env.pool, err);
	if (rc == 0 && ex == NULL)
		rc = PL_ERR_NOMEM; /* create failed alike on every rank */
	if (rc == 0 && o->rank == 0) {
		all = pl_batch_new(&p->schemas[p->nops], 1, p->env.pool, err);
		rc = all ? 0 : PL_ERR_NOMEM;
	}
	if (ex != NULL) {
		rc = pl_mpi_agree(comm, rc, err);
		if (rc == 0)
			rc = pl_exchange_gather_to_root(ex, o->gathered, all,
							err);
		pl_exchange_destroy(ex);
	}
	if (rc == 0 && o->rank == 0) {
		pl_batch_sync_rows(all);
		rc = pl_sink_open(p, &o->sink, err);
		if (rc == 0 && all->nrows > 0)
			rc = pl_sink_write(o->sink, all, err);
		rc = rc == 0 ? pl_sink_commit(o->sink, err)
			     : (pl_sink_abort(o->sink), rc);
		o->sink = NULL;
	}
	pl_batch_free(all, p->env.pool);
	return pl_mpi_agree(comm, rc, err);
}

int pl_output_close(pl_output *o, int rc, MPI_Comm comm, uint64_t *bytes,
		    pl_error *err)
{
	*bytes = 0;
	if (o->p == NULL) /* never opened: alike on every rank */
		return rc;
	if (o->nranks == 1) {
		if (rc == 0 && o->sink) {
			*bytes = pl_sink_bytes(o->sink);
			return pl_sink_commit(o->sink, err);
		}
		pl_sink_abort(o->sink);
		return rc;
	}
	if (o->p->sink_format != PL_SINK_CSV) {
		rc = close_gathered(o, rc, comm, err);
		pl_batch_free(o->gathered, o->p->env.pool);
		return rc;
	}
	int fd = -1;
	if (rc == 0 && o->part == NULL)
		rc = pl_error_set(err, PL_ERR_INTERNAL, "no output part");
	if (rc == 0)
		rc = pl_csv_writer_finish_part(o->part, &fd, bytes, err);
	rc = pl_mpi_agree(comm, rc, err);
	if (rc == 0)
		rc = write_parts(o, fd, *bytes, comm, err);
	pl_csv_writer_abort(o->part);
	o->part = NULL;
	return rc;
}

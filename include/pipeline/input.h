/* A second input for an operator: open the file a section names (with
 * the keys of [source]: path, format, the CSV and HDF5 keys), read its
 * schema and then its rows in batches, all of them or this rank's share.
 * [join] reads its right side this way; a plugin can do the same.
 *
 * Ownership: the input is the caller's until pl_input_close; a batch from
 * pl_input_next is the input's, valid until the next call. Errors are
 * PL_ERR_CONF for the section's keys (naming job.conf:LINE), PL_ERR_IO
 * and PL_ERR_DATA for the file (naming it and the line or row). */
#ifndef PIPELINE_INPUT_H
#define PIPELINE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/api.h"
#include "pipeline/batch.h"
#include "pipeline/pool.h"
#include "pipeline/section.h"

PL_BEGIN_DECLS

typedef struct pl_input pl_input;

/* The keys pl_input_open reads from a section, in a malloc'd array of n
 * names plus a NULL (free the array, not the names): add the operator's
 * own keys for pl_section_check_keys. Returns 0 or PL_ERR_NOMEM. */
PL_API int pl_input_keys(const char ***keys, size_t *n);

/* Opens the input the section describes; reads only its header and the
 * sample that infers its types. */
PL_API int pl_input_open(const pl_section *sec, pl_pool *pool, pl_input **out,
			 pl_error *err);

/* Its columns. */
PL_API const pl_schema *pl_input_schema(const pl_input *in);

/* Its size in bytes on disk (0 when unknown, e.g. standard input). */
PL_API uint64_t pl_input_size(const pl_input *in);

/* Restricts the reading to this rank's share: comm points at the job's
 * MPI_Comm, as before_split (operator.h) receives it; every rank calls it
 * together. A NULL comm, or one pointing at MPI_COMM_NULL, keeps the
 * whole input. Shares of ranks 0, 1, ... are the input in order. */
PL_API int pl_input_share(pl_input *in, const void *comm, pl_error *err);

/* The next batch of at most max_rows rows, or *out = NULL at the end. */
PL_API int pl_input_next(pl_input *in, size_t max_rows, pl_batch **out,
			 pl_error *err);

/* Closes the input (NULL is fine). */
PL_API void pl_input_close(pl_input *in);

PL_END_DECLS

#endif

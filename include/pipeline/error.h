/* Status codes and the error object every fallible function fills. */
#ifndef PIPELINE_ERROR_H
#define PIPELINE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "pipeline/api.h"

PL_BEGIN_DECLS

/* Functions return 0 on success or one of these negative codes. */
enum {
	PL_OK = 0,
	PL_ERR_CONF = -2,    /* job.conf or command line is wrong: exit 2 */
	PL_ERR_DATA = -3,    /* bad input data: exit 1 */
	PL_ERR_IO = -4,	     /* file system or environment: exit 1 */
	PL_ERR_NOMEM = -5,   /* allocation failed or budget exceeded: exit 1 */
	PL_ERR_INTERNAL = -6 /* a bug: exit 1 */
};

#define PL_ERROR_MSG_MAX 1024

/* The first error set wins: later calls on an error that already holds a
 * message do nothing, so the innermost, most precise message survives. */
typedef struct pl_error {
	int code;
	int elsewhere; /* another rank failed; this one only learnt of it */
	char msg[PL_ERROR_MSG_MAX];
} pl_error;

/* Clears err to "no error". */
PL_API void pl_error_clear(pl_error *err);

/* Sets code and a printf-style message (unless err already holds one);
 * returns code so that callers can write `return pl_error_set(...)`.
 * The message should name where: "job.conf:12: ...", "data.csv:48: ...". */
PL_API int pl_error_set(pl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like pl_error_set with a va_list. */
PL_API int pl_error_setv(pl_error *err, int code, const char *fmt, va_list ap);

/* Sets PL_ERR_NOMEM with a message naming what was being allocated. */
PL_API int pl_error_nomem(pl_error *err, const char *what);

/* The process exit status for a status code: 0, 1 or 2. */
PL_API int pl_error_exit_status(int code);

PL_END_DECLS

#endif

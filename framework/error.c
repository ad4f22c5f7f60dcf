#include <stdio.h>
#include <string.h>

#include "pipeline/error.h"

void pl_error_clear(pl_error *err)
{
	err->code = PL_OK;
	err->elsewhere = 0;
	err->msg[0] = '\0';
}

int pl_error_setv(pl_error *err, int code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return code;
	if (err->code == PL_OK || err->msg[0] == '\0') {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return code;
}

int pl_error_set(pl_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pl_error_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int pl_error_nomem(pl_error *err, const char *what)
{
	return pl_error_set(err, PL_ERR_NOMEM, "out of memory allocating %s",
			    what);
}

int pl_error_exit_status(int code)
{
	if (code == PL_OK)
		return 0;
	return code == PL_ERR_CONF ? 2 : 1;
}

/* HDF5 keeps an error stack per thread and prints it by default; we turn
 * the printing off and put its most precise line into our own message. */
#include <stdio.h>
#include <string.h>

#include "io/hdf5_types.h"

void pl_h5_quiet(void)
{
	/* Before the library starts: its exit handler would close a file
	 * whose close already failed (a full disk) and crash; pipeline closes
	 * or abandons every file itself. */
	H5dont_atexit();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* Walking upward visits the innermost (most precise) entry first. */
static herr_t take_first(unsigned n, const H5E_error2_t *e, void *data)
{
	char *buf = data;
	if (n == 0 && e->desc != NULL && e->desc[0] != '\0')
		snprintf(buf, 1024, "%s", e->desc);
	return 0;
}

/* A failed system call reads "file write failed: time = ..., filename =
 * ..., errno = 28, error message = 'No space left on device', buf =
 * 0x..., ...": only its first words and the system's reason are for the
 * user. 0 when desc is not such a line. */
static int system_error(const char *desc, char *buf, size_t cap)
{
	const char *colon = strchr(desc, ':');
	const char *msg = strstr(desc, "error message = '");
	if (colon == NULL || msg == NULL || strstr(desc, "errno = ") == NULL)
		return 0;
	msg += strlen("error message = '");
	const char *end = strchr(msg, '\'');
	if (end == NULL)
		return 0;
	snprintf(buf, cap, "%.*s: %.*s", (int)(colon - desc), desc,
		 (int)(end - msg), msg);
	return 1;
}

void pl_h5_last_error(char *buf, size_t cap)
{
	char first[1024] = "";
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, first);
	if (!system_error(first, buf, cap))
		snprintf(buf, cap, "%s",
			 first[0] ? first : "unknown HDF5 error");
}

hid_t pl_h5_error_keep(void)
{
	return H5Eget_current_stack();
}

void pl_h5_error_restore(hid_t stack)
{
	if (stack >= 0)
		H5Eset_current_stack(stack);
}

/* HDF5 keeps an error stack per thread and prints it by default; we turn
 * the printing off and put its most precise line into our own message. */
#include <stdio.h>

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
		snprintf(buf, 256, "%s", e->desc);
	return 0;
}

void pl_h5_last_error(char *buf, size_t cap)
{
	char first[256] = "";
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, first);
	snprintf(buf, cap, "%s", first[0] ? first : "unknown HDF5 error");
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

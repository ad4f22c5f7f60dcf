/* The pickle grammar pandas uses for column names (io/hdf5_pandas.c):
 * what it reads, and that anything else is refused rather than guessed. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/hdf5_pandas.h"

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Parses text; returns the names joined by '|' in out, or -1. */
static int parse(const char *text, char *out, size_t cap)
{
	char **names;
	size_t n;
	if (pl_h5_pickle_names(text, strlen(text), &names, &n) != 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(out, "|", cap - strlen(out) - 1);
		strncat(out, names[i], cap - strlen(out) - 1);
	}
	free_names(names, n);
	return (int)n;
}

static void list_of_names(void)
{
	char out[256];
	CU_ASSERT_EQUAL(parse("(lp0\nVid\np1\naVy\np2\na.", out, sizeof(out)),
			2);
	CU_ASSERT_STRING_EQUAL(out, "id|y");
	CU_ASSERT_EQUAL(parse("(lp0\nVflag\np1\na.", out, sizeof(out)), 1);
	CU_ASSERT_STRING_EQUAL(out, "flag");
	CU_ASSERT_EQUAL(parse("(lp0\n.", out, sizeof(out)), 0);
}

/* non_index_axes: a list of (axis, [names]) tuples. */
static void nested_axes(void)
{
	char out[256];
	CU_ASSERT_EQUAL(parse("(lp0\n(I1\n(lp1\nVid\np2\naVx\np3\natp4\na.",
			      out, sizeof(out)),
			2);
	CU_ASSERT_STRING_EQUAL(out, "id|x");
}

/* raw-unicode-escape: Latin-1 bytes and \u / \U escapes to UTF-8;
 * Python 2's STRING opcode in quotes. */
static void escapes_and_latin1(void)
{
	char out[256];
	CU_ASSERT_EQUAL(parse("(lp0\nVtemp\xe9rature\np1\naV\\u540d\np2\naV"
			      "\\U0001f600\np3\naV\\u005c\np4\na.",
			      out, sizeof(out)),
			4);
	CU_ASSERT_STRING_EQUAL(out, "temp\xc3\xa9rature|\xe5\x90\x8d|"
				    "\xf0\x9f\x98\x80|\\");
	CU_ASSERT_EQUAL(parse("(lp0\nS'a b'\np1\na.", out, sizeof(out)), 1);
	CU_ASSERT_STRING_EQUAL(out, "a b");
}

/* Other opcodes, bad escapes, surrogates, a missing STOP, trailing bytes:
 * refused. */
static void anything_else_refused(void)
{
	char out[256];
	const char *bad[] = {
	    "(lp0\nVa\np1\na",		 /* no STOP */
	    "(lp0\nVa\np1\na.x",	 /* bytes after STOP */
	    "(lp0\ncos\nsystem\np1\na.", /* GLOBAL */
	    "(lp0\nF1.5\na.",		 /* FLOAT */
	    "(lp0\nV\\u12\na.",		 /* short escape */
	    "(lp0\nV\\ud800\na.",	 /* a surrogate */
	    "(lp0\nV\\U00110000\na.",	 /* past U+10FFFF */
	    "(lp0\nS'a\\nb'\na.",	 /* an escape in STRING */
	    "(lp0\npx\na.",		 /* PUT without a number */
	    "\x80\x02]q\x00.",		 /* protocol 2 */
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(parse(bad[i], out, sizeof(out)), -1);
}

static const pl_test tests[] = {
    {"list_of_names", list_of_names},
    {"nested_axes", nested_axes},
    {"escapes_and_latin1", escapes_and_latin1},
    {"anything_else_refused", anything_else_refused},
    {NULL, NULL}};

PL_TEST_MAIN("hdf5_pandas", tests)

/* A growable byte string for building test inputs and expected outputs. */
#ifndef PL_TEST_TEXT_BUF_H
#define PL_TEST_TEXT_BUF_H

#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct text {
	char *p;
	size_t len, cap;
} text;

/* Appends n bytes of s, keeping the text NUL-terminated. */
static inline void add(text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = 2 * (t->len + n + 1);
		t->p = realloc(t->p, t->cap);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t->p);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static inline void adds(text *t, const char *s) { add(t, s, strlen(s)); }

static inline __attribute__((format(printf, 2, 3))) void
addf(text *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add(t, buf, (size_t)n);
}

#endif

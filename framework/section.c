#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipeline/section.h"

/* Longest word pl_suggest compares; longer ones get no suggestion. */
#define SUGGEST_MAX 128

const pl_kv *pl_section_find(const pl_section *s, const char *key)
{
	for (size_t i = s->n; i > 0; i--)
		if (strcmp(s->kv[i - 1].key, key) == 0)
			return &s->kv[i - 1];
	return NULL;
}

const char *pl_section_get(const pl_section *s, const char *key,
			   const char *def)
{
	const pl_kv *kv = pl_section_find(s, key);
	return kv ? kv->value : def;
}

/* "name" or "name#K": how a --set names this section. */
static void set_name(const pl_section *s, char *buf, size_t cap)
{
	if (s->occurrence > 1)
		snprintf(buf, cap, "%s#%d", s->name, s->occurrence);
	else
		snprintf(buf, cap, "%s", s->name);
}

/* A key added or replaced by --set has line 0: the message then names the
 * --set ("--set sort.by: message") since the file holds no such line. A
 * section created by --set (only [job]) is named as "--set job: ...". */
static int section_verror(const pl_section *s, const pl_kv *kv, pl_error *err,
			  const char *fmt, va_list ap)
{
	char msg[PL_ERROR_MSG_MAX];
	char name[160];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	set_name(s, name, sizeof(name));
	if (kv && kv->line > 0)
		return pl_error_set(err, PL_ERR_CONF, "%s:%d: [%s] %s", s->file,
				    kv->line, s->name, msg);
	if (kv)
		return pl_error_set(err, PL_ERR_CONF, "--set %s.%s: %s", name,
				    kv->key, msg);
	if (s->line > 0)
		return pl_error_set(err, PL_ERR_CONF, "%s:%d: [%s] %s", s->file,
				    s->line, s->name, msg);
	return pl_error_set(err, PL_ERR_CONF, "--set %s: %s", name, msg);
}

int pl_section_error(const pl_section *s, const char *key, pl_error *err,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = section_verror(s, key ? pl_section_find(s, key) : NULL, err,
				fmt, ap);
	va_end(ap);
	return rc;
}

static int kv_error(const pl_section *s, const pl_kv *kv, pl_error *err,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int kv_error(const pl_section *s, const pl_kv *kv, pl_error *err,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = section_verror(s, kv, err, fmt, ap);
	va_end(ap);
	return rc;
}

static int is_known(const char *key, const char *const *known)
{
	for (; *known; known++)
		if (strcmp(key, *known) == 0)
			return 1;
	return 0;
}

/* A NULL known accepts every key and only checks repeats. */
int pl_section_check_keys(const pl_section *s, const char *const *known,
			  pl_error *err)
{
	for (size_t i = 0; i < s->n; i++) {
		const pl_kv *kv = &s->kv[i];
		if (known && !is_known(kv->key, known)) {
			const char *near = pl_suggest(kv->key, known);
			if (near)
				return kv_error(
				    s, kv, err,
				    "unknown key '%s' (did you mean "
				    "'%s'?)",
				    kv->key, near);
			return kv_error(s, kv, err, "unknown key '%s'",
					kv->key);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->kv[j].key, kv->key) == 0)
				return kv_error(s, kv, err,
						"key '%s' given twice (first "
						"at line %d)",
						kv->key, s->kv[j].line);
	}
	return 0;
}

int pl_section_get_count(const pl_section *s, const char *key, long long def,
			 long long *out, pl_error *err)
{
	const pl_kv *kv = pl_section_find(s, key);
	if (kv == NULL) {
		*out = def;
		return 0;
	}
	const char *v = kv->value;
	char *end;
	errno = 0;
	long long n = isdigit((unsigned char)v[0]) ? strtoll(v, &end, 10) : -1;
	if (n < 0 || *end != '\0')
		return kv_error(s, kv, err,
				"%s must be a non-negative integer, not '%s'",
				key, v);
	if (errno == ERANGE)
		return kv_error(s, kv, err, "%s is too large: '%s'", key, v);
	*out = n;
	return 0;
}

int pl_section_get_bool(const pl_section *s, const char *key, int def, int *out,
			pl_error *err)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	const pl_kv *kv = pl_section_find(s, key);
	if (kv == NULL) {
		*out = def;
		return 0;
	}
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(kv->value, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(kv->value, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return kv_error(s, kv, err, "%s must be true or false, not '%s'", key,
			kv->value);
}

/* Where a path came from: the key holding it, for the message's line. */
static const pl_kv *path_key(const pl_section *s, const char *path)
{
	for (size_t i = s->n; i > 0; i--)
		if (strcmp(s->kv[i - 1].value, path) == 0)
			return &s->kv[i - 1];
	return NULL;
}

int pl_section_path(const pl_section *s, const char *path, char *buf,
		    size_t cap, pl_error *err)
{
	int len;
	if (path[0] == '\0')
		return kv_error(s, path_key(s, path), err, "empty path");
	if (path[0] == '/' || strcmp(path, "-") == 0 || s->dir == NULL ||
	    s->dir[0] == '\0' || strcmp(s->dir, ".") == 0)
		len = snprintf(buf, cap, "%s", path);
	else
		len = snprintf(buf, cap, "%s/%s", s->dir, path);
	if (len < 0 || (size_t)len >= cap)
		return kv_error(s, path_key(s, path), err,
				"path too long (over %zu bytes): '%s'",
				cap ? cap - 1 : 0, path);
	return 0;
}

void pl_names_free(char **names, size_t n)
{
	if (names == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Appends the name held in buf[0..len) to the list; buf is reused. */
static int push_name(char ***out, size_t *n, const char *buf, size_t len,
		     pl_error *err)
{
	char **grown = realloc(*out, (*n + 1) * sizeof(char *));
	if (grown == NULL)
		return pl_error_nomem(err, "a name list");
	*out = grown;
	char *name = malloc(len + 1);
	if (name == NULL)
		return pl_error_nomem(err, "a name list");
	memcpy(name, buf, len);
	name[len] = '\0';
	grown[(*n)++] = name;
	return 0;
}

/* Scans one element starting at *p into buf: blanks outside backquotes at
 * either end are dropped, backquotes are removed. */
static int scan_name(const char **p, char *buf, size_t *len, const char *list,
		     pl_error *err)
{
	const char *c = *p;
	size_t n = 0, keep = 0;
	int quoted = 0, any = 0;
	for (; *c && (quoted || *c != ','); c++) {
		if (*c == '`') {
			quoted = !quoted;
			any = 1;
			keep = n;
		} else if (quoted || !isspace((unsigned char)*c)) {
			buf[n++] = *c;
			keep = n;
		} else if (n > 0) {
			buf[n++] = *c;
		}
	}
	if (quoted)
		return pl_error_set(err, PL_ERR_CONF,
				    "unterminated backquote in '%s'", list);
	if (keep == 0)
		return pl_error_set(err, PL_ERR_CONF,
				    any ? "empty name `` in '%s'"
					: "empty name in list '%s'",
				    list);
	*len = keep;
	*p = c;
	return 0;
}

int pl_split_names(const char *list, char ***out, size_t *n, pl_error *err)
{
	char *buf = malloc(strlen(list) + 1);
	const char *p = list;
	int rc = 0;
	*out = NULL;
	*n = 0;
	if (buf == NULL)
		return pl_error_nomem(err, "a name list");
	for (;;) {
		size_t len = 0;
		rc = scan_name(&p, buf, &len, list, err);
		if (rc == 0)
			rc = push_name(out, n, buf, len, err);
		if (rc != 0 || *p == '\0')
			break;
		p++;
	}
	free(buf);
	if (rc != 0) {
		pl_names_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int min3(int a, int b, int c)
{
	int m = a < b ? a : b;
	return m < c ? m : c;
}

/* Optimal string alignment distance, case-insensitive, over three rows. */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	int rows[3][SUGGEST_MAX + 1];
	int *pp = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= nb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= na; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= nb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			int d = min3(prev[j] + 1, cur[j - 1] + 1,
				     prev[j - 1] + (ca != cb));
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    cb == tolower((unsigned char)a[i - 2]) &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		int *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[nb];
}

const char *pl_suggest(const char *word, const char *const *candidates)
{
	size_t nw = strlen(word);
	int limit = (int)(nw / 3);
	const char *best = NULL;
	int best_d = 0;
	if (nw == 0 || nw > SUGGEST_MAX || candidates == NULL)
		return NULL;
	limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
	for (; *candidates; candidates++) {
		size_t nc = strlen(*candidates);
		if (nc > SUGGEST_MAX || nc + (size_t)limit < nw ||
		    nw + (size_t)limit < nc)
			continue;
		int d = edit_distance(word, nw, *candidates, nc);
		if (d <= limit && (best == NULL || d < best_d)) {
			best = *candidates;
			best_d = d;
		}
	}
	return best;
}

int pl_section_rewrap(const pl_section *s, const char *key, int rc,
		      pl_error *err)
{
	if (rc == PL_ERR_NOMEM)
		return rc;
	char msg[PL_ERROR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", err->msg);
	pl_error_clear(err);
	return pl_section_error(s, key, err, "%s: %s", key, msg);
}

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framework/conf.h"

/* The parser's cursor: the conf being filled, the line being read, and
 * whether a continuation line may still extend the last key's value. */
typedef struct conf_parser {
	pl_conf *conf;
	pl_error *err;
	int line;
	int open;
} conf_parser;

/* A growing string for values under substitution and joining. */
typedef struct strbuf {
	char *p;
	size_t len, cap;
} strbuf;

static int sb_add(strbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int is_ident(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

/* Drops blanks at both ends, in place; returns the new start. */
static char *trim(char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Cuts s at a " #" that is outside quotes and backquotes. */
static void cut_comment(char *s)
{
	char quote = 0;
	for (size_t i = 0; s[i]; i++) {
		if (quote) {
			if (s[i] == quote)
				quote = 0;
		} else if (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
			quote = s[i];
		} else if (s[i] == '#' && i > 0 && is_blank(s[i - 1])) {
			s[i] = '\0';
			return;
		}
	}
}

/* Expands one ${NAME} or ${NAME:-default} at s (which starts with "${")
 * into b; *used is how many bytes of s it took. where names the line. */
static int expand_one(const char *s, strbuf *b, size_t *used, const char *where,
		      pl_error *err)
{
	const char *close = strchr(s + 2, '}');
	const char *name = s + 2;
	size_t n = 0;
	while (isalnum((unsigned char)name[n]) || name[n] == '_')
		n++;
	int has_def = strncmp(name + n, ":-", 2) == 0;
	if (close == NULL || !is_ident(name, n) ||
	    (!has_def && name + n != close))
		return pl_error_set(err, PL_ERR_CONF,
				    "%s: malformed ${...}: write ${NAME} or "
				    "${NAME:-default}",
				    where);
	char var[256];
	if (n >= sizeof(var))
		return pl_error_set(err, PL_ERR_CONF,
				    "%s: variable name too long in ${...}",
				    where);
	memcpy(var, name, n);
	var[n] = '\0';
	const char *v = getenv(var);
	*used = (size_t)(close - s) + 1;
	if (has_def && (v == NULL || v[0] == '\0')) {
		const char *def = name + n + 2;
		return sb_add(b, def, (size_t)(close - def)) ? PL_ERR_NOMEM : 0;
	}
	if (v == NULL)
		return pl_error_set(err, PL_ERR_CONF,
				    "%s: environment variable '%s' is not set "
				    "(write ${%s:-default} for a default)",
				    where, var, var);
	return sb_add(b, v, strlen(v)) ? PL_ERR_NOMEM : 0;
}

/* Appends s to b with every ${...} replaced; no shell is involved. */
static int substitute(const char *s, strbuf *b, const char *where,
		      pl_error *err)
{
	while (*s) {
		const char *d = strstr(s, "${");
		size_t lit = d ? (size_t)(d - s) : strlen(s);
		if (sb_add(b, s, lit))
			return pl_error_nomem(err, "a job.conf value");
		if (d == NULL)
			return 0;
		size_t used = 0;
		int rc = expand_one(d, b, &used, where, err);
		if (rc == PL_ERR_NOMEM)
			return pl_error_nomem(err, "a job.conf value");
		if (rc)
			return rc;
		s = d + used;
	}
	return sb_add(b, "", 0) ? pl_error_nomem(err, "a job.conf value") : 0;
}

/* Grows an array of n elements when n reaches a power of two (from 4). */
static int grow(void **arr, size_t n, size_t size)
{
	if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
		return 0;
	size_t cap = n == 0 ? 4 : n * 2;
	void *p = realloc(*arr, cap * size);
	if (p == NULL)
		return -1;
	*arr = p;
	return 0;
}

static void section_free(pl_section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s->name);
}

void pl_conf_free(pl_conf *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->n; i++)
		section_free(&conf->sections[i]);
	free(conf->sections);
	free(conf->file);
	free(conf->dir);
	memset(conf, 0, sizeof(*conf));
}

/* Inserts an empty section at index at; the caller fills name and line. */
static pl_section *insert_section(pl_conf *conf, size_t at, const char *name,
				  size_t len)
{
	char *copy = malloc(len + 1);
	if (copy == NULL ||
	    grow((void **)&conf->sections, conf->n, sizeof(pl_section))) {
		free(copy);
		return NULL;
	}
	memcpy(copy, name, len);
	copy[len] = '\0';
	pl_section *s = &conf->sections[at];
	memmove(s + 1, s, (conf->n - at) * sizeof(*s));
	conf->n++;
	memset(s, 0, sizeof(*s));
	s->name = copy;
	s->file = conf->file;
	s->dir = conf->dir;
	s->occurrence = 1;
	for (size_t i = 0; i < at; i++)
		s->occurrence += strcmp(conf->sections[i].name, copy) == 0;
	return s;
}

/* Adds key = value (value already expanded; taken over by the section). */
static int add_kv(pl_section *s, const char *key, size_t klen, char *value,
		  int line)
{
	char *k = malloc(klen + 1);
	if (k == NULL || grow((void **)&s->kv, s->n, sizeof(pl_kv))) {
		free(k);
		return -1;
	}
	memcpy(k, key, klen);
	k[klen] = '\0';
	s->kv[s->n++] = (pl_kv){.key = k, .value = value, .line = line};
	return 0;
}

static int parse_header(conf_parser *p, char *text)
{
	char *close = strchr(text, ']');
	char *name = NULL;
	if (close) {
		*close = '\0';
		name = trim(text + 1);
	}
	if (close == NULL || *trim(close + 1) != '\0' ||
	    !is_ident(name, strlen(name)))
		return pl_error_set(p->err, PL_ERR_CONF,
				    "%s:%d: bad section header: write [name] "
				    "with letters, digits and _",
				    p->conf->file, p->line);
	if (insert_section(p->conf, p->conf->n, name, strlen(name)) == NULL)
		return pl_error_nomem(p->err, "a job.conf section");
	p->conf->sections[p->conf->n - 1].line = p->line;
	p->open = 0;
	return 0;
}

static int expand_at_line(conf_parser *p, const char *text, strbuf *b)
{
	char where[512];
	snprintf(where, sizeof(where), "%s:%d", p->conf->file, p->line);
	return substitute(text, b, where, p->err);
}

/* The first '=' outside backquotes (keys may be backquoted names). */
static char *find_equals(char *s)
{
	int quoted = 0;
	for (; *s; s++) {
		if (*s == '`')
			quoted = !quoted;
		else if (*s == '=' && !quoted)
			return s;
	}
	return NULL;
}

static int parse_key(conf_parser *p, char *text)
{
	pl_conf *c = p->conf;
	if (c->n == 0)
		return pl_error_set(p->err, PL_ERR_CONF,
				    "%s:%d: '%s' is outside any section "
				    "(start with a [section] header)",
				    c->file, p->line, text);
	char *eq = find_equals(text);
	if (eq == NULL)
		return pl_error_set(p->err, PL_ERR_CONF,
				    "%s:%d: expected key = value, got '%s'",
				    c->file, p->line, text);
	*eq = '\0';
	char *key = trim(text);
	if (*key == '\0')
		return pl_error_set(p->err, PL_ERR_CONF,
				    "%s:%d: missing key before '='", c->file,
				    p->line);
	strbuf b = {0};
	int rc = expand_at_line(p, trim(eq + 1), &b);
	if (rc == 0 &&
	    add_kv(&c->sections[c->n - 1], key, strlen(key), b.p, p->line))
		rc = pl_error_nomem(p->err, "a job.conf key");
	if (rc)
		free(b.p);
	p->open = rc == 0;
	return rc;
}

static int parse_continuation(conf_parser *p, char *text)
{
	if (!p->open)
		return pl_error_set(
		    p->err, PL_ERR_CONF,
		    "%s:%d: indented line continues no value "
		    "(a blank line, comment or header ended it)",
		    p->conf->file, p->line);
	pl_section *s = &p->conf->sections[p->conf->n - 1];
	pl_kv *kv = &s->kv[s->n - 1];
	strbuf b = {.p = kv->value, .len = strlen(kv->value)};
	b.cap = b.len + 1;
	kv->value = NULL;
	int rc = 0;
	if (b.len > 0 && sb_add(&b, " ", 1))
		rc = pl_error_nomem(p->err, "a job.conf value");
	if (rc == 0)
		rc = expand_at_line(p, text, &b);
	kv->value = b.p;
	return rc;
}

static int parse_line(conf_parser *p, char *line)
{
	char *text = line;
	while (is_blank(*text))
		text++;
	if (*text == '\0' || *text == '#' || *text == ';') {
		p->open = 0;
		return 0;
	}
	cut_comment(line);
	if (text != line)
		return parse_continuation(p, trim(text));
	text = trim(line);
	if (*text == '[')
		return parse_header(p, text);
	return parse_key(p, text);
}

/* Copies text so that lines can be cut in place; NUL bytes are refused. */
static int copy_text(const char *text, size_t len, const char *file, char **out,
		     pl_error *err)
{
	const char *nul = len ? memchr(text, '\0', len) : NULL;
	if (nul) {
		int line = 1;
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		return pl_error_set(err, PL_ERR_CONF,
				    "%s:%d: NUL byte in job.conf", file, line);
	}
	*out = malloc(len + 1);
	if (*out == NULL)
		return pl_error_nomem(err, "job.conf text");
	if (len)
		memcpy(*out, text, len);
	(*out)[len] = '\0';
	return 0;
}

static int parse_lines(conf_parser *p, char *text)
{
	char *line = text;
	int rc = 0;
	while (rc == 0 && line != NULL) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		p->line++;
		rc = parse_line(p, line);
		line = nl ? nl + 1 : NULL;
	}
	return rc;
}

int pl_conf_parse(const char *text, size_t len, const char *file,
		  const char *dir, pl_conf *conf, pl_error *err)
{
	memset(conf, 0, sizeof(*conf));
	conf->file = strdup(file);
	conf->dir = strdup(dir ? dir : ".");
	if (conf->file == NULL || conf->dir == NULL) {
		pl_conf_free(conf);
		return pl_error_nomem(err, "job.conf");
	}
	char *copy = NULL;
	conf_parser p = {.conf = conf, .err = err};
	/* Editors on Windows start UTF-8 files with a byte-order mark. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		text += 3;
		len -= 3;
	}
	int rc = copy_text(text, len, file, &copy, err);
	if (rc == 0)
		rc = parse_lines(&p, copy);
	free(copy);
	if (rc)
		pl_conf_free(conf);
	return rc;
}

/* A parsed --set: section name and occurrence, key, raw value. */
typedef struct set_spec {
	const char *name;
	size_t name_len;
	int occurrence;
	int numbered; /* written NAME#K */
	char *key;
	const char *value;
} set_spec;

static int set_error(const char *set, pl_error *err, const char *msg)
{
	return pl_error_set(err, PL_ERR_CONF, "--set %s: %s", set, msg);
}

/* Reads "NAME[#K]" from s[0..n) into spec. */
static int parse_set_section(const char *s, size_t n, set_spec *spec)
{
	const char *hash = memchr(s, '#', n);
	spec->name = s;
	spec->name_len = hash ? (size_t)(hash - s) : n;
	spec->occurrence = 1;
	if (!is_ident(s, spec->name_len))
		return -1;
	if (hash == NULL)
		return 0;
	spec->numbered = 1;
	long k = 0;
	for (const char *c = hash + 1; c < s + n; c++) {
		if (!isdigit((unsigned char)*c) || k > 1000000)
			return -1;
		k = k * 10 + (*c - '0');
	}
	spec->occurrence = (int)k;
	return hash + 1 == s + n || k < 1 ? -1 : 0;
}

static int parse_set(const char *set, set_spec *spec, pl_error *err)
{
	const char *eq = strchr(set, '=');
	const char *dot = eq ? memchr(set, '.', (size_t)(eq - set)) : NULL;
	if (dot == NULL)
		return set_error(set, err, "expected SECTION.KEY=VALUE");
	if (parse_set_section(set, (size_t)(dot - set), spec))
		return set_error(
		    set, err, "bad section: write NAME or NAME#K (K from 1)");
	size_t klen = (size_t)(eq - dot - 1);
	spec->key = malloc(klen + 1);
	if (spec->key == NULL)
		return pl_error_nomem(err, "a --set key");
	memcpy(spec->key, dot + 1, klen);
	spec->key[klen] = '\0';
	char *key = trim(spec->key);
	memmove(spec->key, key, strlen(key) + 1);
	if (spec->key[0] == '\0')
		return set_error(set, err, "missing key before '='");
	spec->value = eq + 1;
	return 0;
}

static pl_section *find_section(pl_conf *conf, const set_spec *spec)
{
	for (size_t i = 0; i < conf->n; i++) {
		pl_section *s = &conf->sections[i];
		if (strlen(s->name) == spec->name_len &&
		    memcmp(s->name, spec->name, spec->name_len) == 0 &&
		    s->occurrence == spec->occurrence)
			return s;
	}
	return NULL;
}

/* The target section; a missing [job] is created first in the file. */
static int set_section(pl_conf *conf, const char *set, const set_spec *spec,
		       pl_section **out, pl_error *err)
{
	char msg[PL_ERROR_MSG_MAX];
	*out = find_section(conf, spec);
	if (*out)
		return 0;
	if (spec->occurrence == 1 && spec->name_len == 3 &&
	    memcmp(spec->name, "job", 3) == 0) {
		*out = insert_section(conf, 0, "job", 3);
		return *out ? 0 : pl_error_nomem(err, "a job.conf section");
	}
	if (spec->numbered)
		snprintf(msg, sizeof(msg), "no section [%.*s#%d] in job.conf",
			 (int)spec->name_len, spec->name, spec->occurrence);
	else
		snprintf(msg, sizeof(msg), "no section [%.*s] in job.conf",
			 (int)spec->name_len, spec->name);
	return set_error(set, err, msg);
}

/* Replaces the last value of the key, or adds it. Either way its line
 * becomes 0, so that messages about the value name the --set. */
static int set_value(pl_section *s, const char *key, char *value)
{
	for (size_t i = s->n; i > 0; i--) {
		if (strcmp(s->kv[i - 1].key, key) == 0) {
			free(s->kv[i - 1].value);
			s->kv[i - 1].value = value;
			s->kv[i - 1].line = 0;
			return 0;
		}
	}
	return add_kv(s, key, strlen(key), value, 0);
}

int pl_conf_apply_set(pl_conf *conf, const char *set, pl_error *err)
{
	set_spec spec = {0};
	pl_section *s = NULL;
	strbuf b = {0};
	char where[PL_ERROR_MSG_MAX];
	char *value = strdup(set);
	int rc = value ? parse_set(set, &spec, err)
		       : pl_error_nomem(err, "a --set value");
	snprintf(where, sizeof(where), "--set %s", set);
	if (rc == 0) {
		memmove(value, spec.value, strlen(spec.value) + 1);
		rc = substitute(trim(value), &b, where, err);
	}
	if (rc == 0)
		rc = set_section(conf, set, &spec, &s, err);
	if (rc == 0 && set_value(s, spec.key, b.p))
		rc = pl_error_nomem(err, "a --set value");
	if (rc)
		free(b.p);
	free(value);
	free(spec.key);
	return rc;
}

/* Reads digits[.digits] at *p as whole and millionths (extra fraction
 * digits are dropped). */
static int parse_decimal(const char **p, uint64_t *whole, uint64_t *micro)
{
	const char *c = *p;
	*whole = 0;
	*micro = 0;
	if (!isdigit((unsigned char)*c))
		return -1;
	for (; isdigit((unsigned char)*c); c++) {
		uint64_t digit = (uint64_t)(*c - '0');
		if (*whole > (UINT64_MAX - digit) / 10)
			return -1;
		*whole = *whole * 10 + digit;
	}
	if (*c == '.') {
		uint64_t scale = 100000;
		if (!isdigit((unsigned char)*++c))
			return -1;
		for (; isdigit((unsigned char)*c); c++, scale /= 10)
			*micro += (uint64_t)(*c - '0') * scale;
	}
	*p = c;
	return 0;
}

/* The multiplier of a unit, 0 when unknown. Units ignore case. */
static uint64_t unit_bytes(const char *u)
{
	static const char *const names[] = {"",	  "B",	 "KB",	"MB",  "GB",
					    "TB", "KiB", "MiB", "GiB", "TiB"};
	static const uint64_t mult[] = {1,
					1,
					1000ULL,
					1000000ULL,
					1000000000ULL,
					1000000000000ULL,
					1ULL << 10,
					1ULL << 20,
					1ULL << 30,
					1ULL << 40};
	for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++)
		if (strcasecmp(u, names[i]) == 0)
			return mult[i];
	return 0;
}

/* node * share / 100, share in millionths of a percent, without overflow. */
static uint64_t percent_of(uint64_t node, uint64_t share)
{
	const uint64_t whole = 100000000ULL;
	return node / whole * share + node % whole * share / whole;
}

int pl_parse_size(const char *s, uint64_t node_bytes, uint64_t *out)
{
	uint64_t whole, micro;
	while (is_blank(*s))
		s++;
	if (parse_decimal(&s, &whole, &micro))
		return -1;
	while (is_blank(*s))
		s++;
	char unit[8];
	size_t n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	if (n >= sizeof(unit))
		return -1;
	memcpy(unit, s, n);
	unit[n] = '\0';
	if (strcmp(unit, "%") == 0) {
		if (whole > 100 || (whole == 100 && micro > 0))
			return -1;
		*out = percent_of(node_bytes, whole * 1000000 + micro);
		return 0;
	}
	uint64_t mult = unit_bytes(unit);
	if (mult == 0 || whole > UINT64_MAX / mult)
		return -1;
	uint64_t frac = micro * mult / 1000000;
	if (whole * mult > UINT64_MAX - frac)
		return -1;
	*out = whole * mult + frac;
	return 0;
}

/* The directory part of path: "." when it has none. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int read_file(const char *path, char **text, size_t *len, pl_error *err)
{
	FILE *f = fopen(path, "rb");
	strbuf b = {0};
	char chunk[4096];
	size_t got;
	if (f == NULL)
		return pl_error_set(err, PL_ERR_CONF,
				    "cannot read job.conf '%s': %s", path,
				    strerror(errno));
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (sb_add(&b, chunk, got)) {
			fclose(f);
			free(b.p);
			return pl_error_nomem(err, "job.conf text");
		}
	}
	int failed = ferror(f);
	int saved = errno;
	fclose(f);
	if (failed) {
		free(b.p);
		return pl_error_set(err, PL_ERR_CONF,
				    "cannot read job.conf '%s': %s", path,
				    strerror(saved));
	}
	*text = b.p;
	*len = b.len;
	return 0;
}

int pl_conf_load(const char *path, char *const *sets, size_t nsets,
		 pl_conf *conf, pl_error *err)
{
	char *text = NULL;
	size_t len = 0;
	memset(conf, 0, sizeof(*conf));
	int rc = read_file(path, &text, &len, err);
	if (rc)
		return rc;
	char *dir = dir_of(path);
	if (dir == NULL) {
		free(text);
		return pl_error_nomem(err, "job.conf");
	}
	rc = pl_conf_parse(text ? text : "", len, path, dir, conf, err);
	free(text);
	free(dir);
	for (size_t i = 0; rc == 0 && i < nsets; i++)
		rc = pl_conf_apply_set(conf, sets[i], err);
	if (rc)
		pl_conf_free(conf);
	return rc;
}

/* Tokens of the expression language. The lexer only finds spans; the
 * parser decodes what it keeps, so tokens own no memory. */
#include <stdlib.h>
#include <string.h>

#include "framework/expr_internal.h"

static int is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static void lex_error(pl_token *t, size_t end, const char *msg)
{
	t->kind = PL_TK_ERROR;
	t->end = end;
	t->msg = msg;
}

static void lex_number(const char *s, size_t p, pl_token *t)
{
	int is_float = 0;
	t->uval = 0;
	t->too_big = 0;
	for (; is_digit(s[p]); p++) {
		unsigned d = (unsigned)(s[p] - '0');
		if (t->uval > (UINT64_MAX - d) / 10)
			t->too_big = 1;
		else
			t->uval = t->uval * 10 + d;
	}
	if (s[p] == '.') {
		is_float = 1;
		for (p++; is_digit(s[p]); p++)
			;
	}
	if (s[p] == 'e' || s[p] == 'E') {
		size_t q = p + 1;
		if (s[q] == '+' || s[q] == '-')
			q++;
		if (!is_digit(s[q])) {
			lex_error(t, q, "malformed exponent");
			return;
		}
		is_float = 1;
		for (p = q; is_digit(s[p]); p++)
			;
	}
	if (t->uval > (uint64_t)INT64_MAX + 1)
		t->too_big = 1;
	t->kind = is_float ? PL_TK_FLOAT : PL_TK_INT;
	t->end = p;
}

static void lex_quoted(const char *s, size_t p, pl_token *t)
{
	char q = s[p];
	for (p++; s[p] != q; p++) {
		if (s[p] == '\0') {
			lex_error(t, p, "unterminated string");
			return;
		}
		if (s[p] == '\\') {
			char c = s[p + 1];
			if (c != '"' && c != '\'' && c != '\\' && c != 'n' &&
			    c != 't') {
				lex_error(t, p + 1, "unknown escape");
				return;
			}
			p++;
		}
	}
	t->kind = PL_TK_STRING;
	t->end = p + 1;
}

static void lex_backquoted(const char *s, size_t p, pl_token *t)
{
	const char *close = strchr(s + p + 1, '`');
	if (close == NULL) {
		lex_error(t, strlen(s), "unterminated `name`");
		return;
	}
	if (close == s + p + 1) {
		lex_error(t, p + 1, "empty `name`");
		return;
	}
	t->kind = PL_TK_QUOTED;
	t->end = (size_t)(close - s) + 1;
}

static const struct {
	const char *word;
	pl_tok_kind kind;
	pl_expr_op op;
} keywords[] = {{"and", PL_TK_OP, PL_OP_AND}, {"or", PL_TK_OP, PL_OP_OR},
		{"not", PL_TK_OP, PL_OP_NOT}, {"true", PL_TK_TRUE, 0},
		{"false", PL_TK_FALSE, 0},    {"null", PL_TK_NULL, 0}};

static void lex_word(const char *s, size_t p, pl_token *t)
{
	size_t q = p;
	while (is_ident_char(s[q]))
		q++;
	t->kind = PL_TK_IDENT;
	t->end = q;
	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
		if (strlen(keywords[k].word) == q - p &&
		    memcmp(keywords[k].word, s + p, q - p) == 0) {
			t->kind = keywords[k].kind;
			t->op = keywords[k].op;
		}
	}
}

static const struct {
	const char *text;
	pl_expr_op op;
} symbols[] = {{"==", PL_OP_EQ}, {"!=", PL_OP_NE},  {"<=", PL_OP_LE},
	       {">=", PL_OP_GE}, {"&&", PL_OP_AND}, {"||", PL_OP_OR},
	       {"<", PL_OP_LT},	 {">", PL_OP_GT},   {"+", PL_OP_ADD},
	       {"-", PL_OP_SUB}, {"*", PL_OP_MUL},  {"/", PL_OP_DIV},
	       {"%", PL_OP_MOD}, {"^", PL_OP_POW},  {"!", PL_OP_NOT}};

static void lex_symbol(const char *s, size_t p, pl_token *t)
{
	for (size_t k = 0; k < sizeof(symbols) / sizeof(symbols[0]); k++) {
		size_t len = strlen(symbols[k].text);
		if (strncmp(s + p, symbols[k].text, len) == 0) {
			t->kind = PL_TK_OP;
			t->op = symbols[k].op;
			t->end = p + len;
			return;
		}
	}
	lex_error(t, p + 1, "unexpected character");
}

void pl_lex_next(const char *s, size_t *pos, pl_token *t)
{
	size_t p = *pos;
	while (s[p] == ' ' || s[p] == '\t' || s[p] == '\r' || s[p] == '\n')
		p++;
	memset(t, 0, sizeof(*t));
	t->start = p;
	t->end = p;
	char c = s[p];
	if (c == '\0')
		t->kind = PL_TK_END;
	else if (is_digit(c) || (c == '.' && is_digit(s[p + 1])))
		lex_number(s, p, t);
	else if (c == '"' || c == '\'')
		lex_quoted(s, p, t);
	else if (c == '`')
		lex_backquoted(s, p, t);
	else if (is_ident_start(c))
		lex_word(s, p, t);
	else if (c == '(' || c == ')' || c == ',') {
		t->kind = c == '('   ? PL_TK_LPAREN
			  : c == ')' ? PL_TK_RPAREN
				     : PL_TK_COMMA;
		t->end = p + 1;
	} else
		lex_symbol(s, p, t);
	*pos = t->end;
}

char *pl_lex_unquote(const char *s, size_t start, size_t end, size_t *len)
{
	char *out = malloc(end - start);
	if (out == NULL)
		return NULL;
	size_t n = 0;
	for (size_t p = start + 1; p + 1 < end; p++) {
		char c = s[p];
		if (c == '\\') {
			c = s[++p];
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	*len = n;
	return out;
}

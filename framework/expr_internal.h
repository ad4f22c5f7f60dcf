/* Expression nodes, shared by the lexer, parser, binder and evaluator.
 * Every node is a pl_expr, so that a call's arguments can be handed out as
 * expressions of their own (pl_expr_extract_aggs, pl_expr_clone). */
#ifndef PIPELINE_EXPR_INTERNAL_H
#define PIPELINE_EXPR_INTERNAL_H

#include <stdint.h>

#include "pipeline/expr.h"

/* Deeper nesting (parentheses, calls, prefix operators, ^ chains) is
 * refused: the parser recurses over it. */
#define PL_EXPR_MAX_DEPTH 200
/* Deeper trees are refused: bind and eval recurse over them. A chain of
 * left-associative operators (a + b + c ...) is parsed in a loop but
 * makes a tree as deep as it has terms, hence a larger bound than for
 * nesting. */
#define PL_EXPR_MAX_TREE_DEPTH 4096
/* Most arguments of a variadic function (min, max, coalesce). */
#define PL_EXPR_MAX_ARGS 64

typedef enum pl_expr_kind {
	PL_EK_LIT,
	PL_EK_COL,
	PL_EK_UNARY,
	PL_EK_BINARY,
	PL_EK_CALL
} pl_expr_kind;

typedef enum pl_expr_op {
	PL_OP_OR,
	PL_OP_AND,
	PL_OP_NOT,
	PL_OP_EQ,
	PL_OP_NE,
	PL_OP_LT,
	PL_OP_LE,
	PL_OP_GT,
	PL_OP_GE,
	PL_OP_ADD,
	PL_OP_SUB,
	PL_OP_MUL,
	PL_OP_DIV,
	PL_OP_MOD,
	PL_OP_NEG,
	PL_OP_POW
} pl_expr_op;

/* The text and origin shared by all nodes of one parsed expression. */
typedef struct pl_expr_src {
	char *text;
	char *file; /* NULL when no where was given */
	char *section;
	int line;
	int64_t now_us; /* now() */
} pl_expr_src;

typedef struct pl_func pl_func;

struct pl_expr {
	pl_expr_kind kind;
	pl_expr_op op;
	pl_expr_src *src;
	int owns_src;
	size_t start, end; /* the node's span in src->text */
	int depth;

	pl_type lit_type; /* literals: value in ival, fval or sval */
	int64_t ival;
	double fval;
	char *sval;
	size_t slen;

	char *name; /* column or function name (malloc) */
	int col;    /* bound column index */
	const pl_func *fn;
	pl_expr **args;
	size_t nargs;

	pl_type type;	 /* result type, after bind */
	int always_null; /* result type was null: every value is NULL */
	int in_days;	 /* days(), weeks(): count days, not microseconds */

	/* A function's compiled state (a regular expression, a format),
	 * made at bind time and freed with the node. */
	void *state;
	void (*state_free)(void *state);

	/* Evaluation scratch, pool memory reused across batches. out.valid
	 * points to bits or is NULL when the batch had no NULL result. */
	pl_column out;
	uint8_t *bits;
	size_t lit_rows;  /* rows a broadcast literal holds now */
	uint8_t *mask[2]; /* if(): rows each branch is live for */
};

/* State of one evaluation: rows outside active (when set) cannot raise
 * data errors, as for the unchosen branch of if(). */
typedef struct pl_eval_ctx {
	const pl_batch *in;
	pl_pool *pool;
	pl_error *err;
	size_t n;
	const uint8_t *active;
} pl_eval_ctx;

typedef int (*pl_func_bind_fn)(pl_expr *e, pl_error *err);
typedef int (*pl_func_eval_fn)(pl_expr *e, pl_eval_ctx *cx,
			       const pl_column **a);

struct pl_func {
	const char *name;
	size_t min_args, max_args;
	int lazy; /* evaluates its arguments itself, as if() does */
	pl_func_bind_fn bind;
	pl_func_eval_fn eval;
};

/* Lexer. */
typedef enum pl_tok_kind {
	PL_TK_END,
	PL_TK_INT,
	PL_TK_FLOAT,
	PL_TK_STRING,
	PL_TK_IDENT,
	PL_TK_QUOTED, /* `backquoted name` */
	PL_TK_OP,     /* op holds which */
	PL_TK_LPAREN,
	PL_TK_RPAREN,
	PL_TK_COMMA,
	PL_TK_TRUE,
	PL_TK_FALSE,
	PL_TK_NULL,
	PL_TK_ERROR
} pl_tok_kind;

typedef struct pl_token {
	pl_tok_kind kind;
	pl_expr_op op;
	size_t start, end; /* span in the text */
	uint64_t uval;	   /* PL_TK_INT, saturated */
	int too_big;	   /* integer beyond 2^63 */
	const char *msg;   /* PL_TK_ERROR */
} pl_token;

void pl_lex_next(const char *text, size_t *pos, pl_token *t);
/* Decodes the quoted string at [start, end) (quotes included). */
char *pl_lex_unquote(const char *text, size_t start, size_t end, size_t *len);

/* Nodes (expr.c). */
pl_expr *pl_expr_node(pl_expr_kind kind, pl_expr_src *src, size_t start,
		      size_t end);
int pl_expr_add_arg(pl_expr *e, pl_expr *arg);
void pl_expr_src_free(pl_expr_src *s);
pl_expr_src *pl_expr_src_new(const char *text, size_t len,
			     const pl_expr_where *w);
/* Writes "FILE:LINE: [section] " (or nothing) for messages. */
void pl_expr_prefix(const pl_expr_src *s, char *buf, size_t cap);

/* Messages quote at most this much of an expression, so that the reason
 * after it is never cut off; pl_expr_cut gives "..." when text is longer. */
#define PL_EXPR_QUOTE_MAX 200
const char *pl_expr_cut(const char *text);
int pl_expr_conf_error(const pl_expr *e, pl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int pl_expr_data_error(const pl_expr *e, const pl_eval_ctx *cx, size_t row,
		       const char *what);

/* Binder helpers used by functions (expr_bind.c). */
int pl_expr_coerce(pl_expr **slot, pl_type t, pl_error *err);
int pl_type_unify(pl_type a, pl_type b, pl_type *out);
int pl_is_numeric(pl_type t);
int pl_expr_bind_node(pl_expr *e, const pl_schema *in, pl_error *err);

/* Evaluator helpers (expr_eval.c). */
int pl_expr_eval_node(pl_expr *e, pl_eval_ctx *cx, const pl_column **out);
int pl_node_prep(pl_expr *e, pl_eval_ctx *cx);
int pl_node_nullable(pl_expr *e, pl_eval_ctx *cx);
int pl_node_and_valid(pl_expr *e, pl_eval_ctx *cx, const pl_column *a,
		      const pl_column *b);
void pl_node_zero_nulls(pl_expr *e);
int pl_row_live(const pl_eval_ctx *cx, size_t i);

/* Returns the data error what for the first present, live row i of e's
 * result where cond holds (cond may use i). */
#define PL_FIND_BAD_ROW(e, cx, cond, what)                                     \
	do {                                                                   \
		for (size_t i = 0; i < (cx)->n; i++)                           \
			if (pl_bit_get((e)->out.valid, i) &&                   \
			    pl_row_live(cx, i) && (cond))                      \
				return pl_expr_data_error(e, cx, i, what);     \
	} while (0)
void pl_node_free_scratch(pl_expr *e, pl_pool *pool);

/* Functions (expr_func.c, expr_time.c, expr_text.c). */
const pl_func *pl_func_find(const char *name);
extern const char *const pl_func_names[];
extern const pl_func pl_time_funcs[];
extern const size_t pl_ntime_funcs;
extern const pl_func pl_text_funcs[];
extern const size_t pl_ntext_funcs;
/* A conversion of arg to t: float64 (from int64), timestamp (from date)
 * or string (from anything). NULL when out of memory. */
pl_expr *pl_expr_cast_node(pl_expr *arg, pl_type t);
/* 1 when e is a call of a duration function counting whole days. */
int pl_expr_is_day_duration(const pl_expr *e);
/* 1 when e is a call of any duration function (days(), hours(), ...). */
int pl_expr_is_duration(const pl_expr *e);

/* Shared by the function files (expr_func.c). */
enum {
	A_INT = 1,
	A_FLOAT = 2,
	A_NUM = 3,
	A_BOOL = 4,
	A_STR = 8,
	A_TIME = 16,
	A_ANY = 31
};
int pl_func_want(pl_expr *e, size_t i, unsigned accept, pl_error *err);
int pl_func_want_all(pl_expr *e, size_t from, unsigned accept, pl_type t,
		     pl_error *err);
int pl_func_all_valid(pl_expr *e, pl_eval_ctx *cx, const pl_column **a);
void pl_func_put_str(pl_column *c, size_t i, const char *s, size_t len);
/* The string literal argument i of e (its bytes in *len), or NULL. */
const char *pl_func_literal(const pl_expr *e, size_t i, size_t *len);

#endif

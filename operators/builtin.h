/* The built-in operators, compiled into the binary. */
#ifndef PIPELINE_OPERATORS_BUILTIN_H
#define PIPELINE_OPERATORS_BUILTIN_H

#include "pipeline/operator.h"

extern const pl_operator_def pl_op_filter, pl_op_derive, pl_op_select,
    pl_op_limit;
extern const pl_operator_def pl_op_groupby;
extern const pl_operator_def pl_op_sort, pl_op_distinct, pl_op_join;

/* Every built-in, NULL-terminated, in the order --list-operators shows. */
extern const pl_operator_def *const pl_builtin_operators[];

#endif

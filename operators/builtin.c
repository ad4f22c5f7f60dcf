#include "operators/builtin.h"

const pl_operator_def *const pl_builtin_operators[] = {
    &pl_op_filter,   &pl_op_derive, &pl_op_select, &pl_op_groupby, &pl_op_sort,
    &pl_op_distinct, &pl_op_limit,  &pl_op_join,   NULL,
};

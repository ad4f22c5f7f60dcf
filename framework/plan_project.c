/* Projection pushdown: which source columns the job uses. Liveness runs
 * backwards over the chain: the sink writes every column that reaches it,
 * and each operator says, from the output columns needed after it, which
 * of its input columns it needs (pl_operator.columns_used; an operator
 * without it needs all of them). */
#include <stdlib.h>
#include <string.h>

#include "framework/plan_internal.h"

uint8_t *pl_plan_columns_used(const pl_plan *p)
{
	size_t most = 1;
	for (size_t i = 0; i <= p->nops; i++)
		if (p->schemas[i].n > most)
			most = p->schemas[i].n;
	uint8_t *need = malloc(most);
	uint8_t *in = malloc(most);
	if (need == NULL || in == NULL) {
		free(need);
		free(in);
		return NULL;
	}
	memset(need, 1, most);
	for (size_t i = p->nops; i-- > 0;) {
		const pl_operator *op = &p->ops[i];
		memset(in, op->columns_used == NULL, most);
		if (op->columns_used != NULL)
			op->columns_used(op, &p->schemas[i], &p->schemas[i + 1],
					 need, in);
		memcpy(need, in, p->schemas[i].n);
	}
	free(in);
	return need;
}

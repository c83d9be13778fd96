/*-------------------------------------------------------------------------
 * src/budget.h
 *	  The masked search budget: distinct values a role may search per hour
 *	  in categories its purpose sees only masked.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_BUDGET_H
#define PGUARD_BUDGET_H

typedef enum BudgetOutcome
{
	BUDGET_OK,
	BUDGET_EXHAUSTED,
	BUDGET_EXHAUSTED_FIRST		/* the hour's first refusal: report it */
} BudgetOutcome;

extern int	masked_search_budget;

extern BudgetOutcome BudgetChargeMaskedSearch(uint32 value_hash, int *used, int *limit);
extern void BudgetInit(void);

#endif

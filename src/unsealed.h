/*-------------------------------------------------------------------------
 * src/unsealed.h
 *	  An unsealed value is stored nowhere but through the sealing path.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_UNSEALED_H
#define PGUARD_UNSEALED_H

#include "nodes/plannodes.h"

extern void UnsealedGuardPlan(PlannedStmt *stmt, bool top);
extern bool UnsealedUtilityBegin(Node *stmt);
extern void UnsealedUtilityEnd(void);
extern void UnsealedCheckInput(void);
extern void UnsealedRefuse(const char *target) pg_attribute_noreturn();

extern bool UnsealedColumnSealed(Relation rel, const char *col);
extern bool UnsealedIsPending(struct varlena *value);

#endif

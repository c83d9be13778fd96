/*-------------------------------------------------------------------------
 * src/searchscan.h
 *	  A search records the subjects of the rows it returns, not of the
 *	  index entries it meets.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_SEARCHSCAN_H
#define PGUARD_SEARCHSCAN_H

#include "postgres.h"
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"

extern void PlanTreeWalk(Plan *plan, void (*visit) (Plan *plan, void *context),
							   void *context);
extern void SearchScanPlan(PlannedStmt *stmt);
extern void SearchScanStart(PlanState *ps);
extern bool SearchScanInIndex(void);
extern uint64 SearchScanEpoch(void);

#endif

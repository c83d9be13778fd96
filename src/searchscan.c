/*-------------------------------------------------------------------------
 * src/searchscan.c
 *	  A search records the subjects of the rows it returns, not of the
 *	  index entries it meets.
 *
 * A search (plaintext, or a blind_index() term, compared with a searchable
 * column) names in its audit record the subjects whose values it matched
 * (types.c), for access_history().  A btree compares its key with index
 * entries, and an entry may be of a row the scan does not return: a
 * rolled-back UPDATE's, another transaction's uncommitted one, a deleted
 * row's not yet vacuumed, or a pivot key copied from a value long gone.
 * Counted there, any role that can write the table could plant "searched
 * for X" in X's history by writing X's value into a row and rolling back.
 *
 * So a match counts only when the executor compares a row it read:
 *  - after planning, every index scan whose condition compares an
 *    encrypted value also checks that condition as a filter on the rows it
 *    returns (its heap row, visible to the scan; an index-only scan's
 *    reconstructed row; the operators are not mergejoinable, so no merge
 *    join compares by them alone);
 *  - when the executor starts, the index scans' keys that compare by our
 *    operators are marked (TypesMarkIndexKeys()): their matches find rows
 *    but record nothing.
 * The filter costs a comparison of terms per row returned: the searched
 * value's term is kept for the statement (types.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"

#include "catalog.h"
#include "searchscan.h"
#include "types.h"

/* Does the expression compare a value of an encrypted type (by our operators)? */
static bool
compares_encrypted(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, OpExpr) || IsA(node, ScalarArrayOpExpr) || IsA(node, RowCompareExpr))
	{
		List	   *args;
		ListCell   *lc;

		if (IsA(node, OpExpr))
			args = ((OpExpr *) node)->args;
		else if (IsA(node, ScalarArrayOpExpr))
			args = ((ScalarArrayOpExpr *) node)->args;
		else
			args = list_concat_copy(((RowCompareExpr *) node)->largs,
									((RowCompareExpr *) node)->rargs);
		foreach(lc, args)
			if (CatalogEncryptedType(exprType(lfirst(lc))) != 0)
				return true;
	}
	return expression_tree_walker(node, compares_encrypted, context);
}

/* Add to *qual the clauses of cond that compare encrypted values, once. */
static void
recheck(List **qual, List *cond)
{
	ListCell   *lc;

	foreach(lc, cond)
	{
		Node	   *clause = lfirst(lc);

		if (compares_encrypted(clause, NULL) && !list_member(*qual, clause))
			*qual = lappend(*qual, copyObject(clause));
	}
}

static void
plan_rechecks(Plan *plan, void *context)
{
	switch (nodeTag(plan))
	{
		case T_IndexScan:
			recheck(&plan->qual, ((IndexScan *) plan)->indexqualorig);
			break;
		case T_IndexOnlyScan:
			recheck(&plan->qual, ((IndexOnlyScan *) plan)->recheckqual);
			break;
		case T_BitmapHeapScan:
			recheck(&plan->qual, ((BitmapHeapScan *) plan)->bitmapqualorig);
			break;
		default:
			break;
	}
}

/* Every node of a plan tree, its children and its subqueries' plans. */
void
PlanTreeWalk(Plan *plan, void (*visit) (Plan *plan, void *context), void *context)
{
	ListCell   *lc;
	List	   *children = NIL;

	if (plan == NULL)
		return;
	check_stack_depth();
	visit(plan, context);
	PlanTreeWalk(plan->lefttree, visit, context);
	PlanTreeWalk(plan->righttree, visit, context);
	switch (nodeTag(plan))
	{
		case T_Append:
			children = ((Append *) plan)->appendplans;
			break;
		case T_MergeAppend:
			children = ((MergeAppend *) plan)->mergeplans;
			break;
		case T_BitmapAnd:
			children = ((BitmapAnd *) plan)->bitmapplans;
			break;
		case T_BitmapOr:
			children = ((BitmapOr *) plan)->bitmapplans;
			break;
		case T_SubqueryScan:
			PlanTreeWalk(((SubqueryScan *) plan)->subplan, visit, context);
			break;
		case T_CustomScan:
			children = ((CustomScan *) plan)->custom_plans;
			break;
		default:
			break;
	}
	foreach(lc, children)
		PlanTreeWalk(lfirst(lc), visit, context);
}

/* After planning: index scans check their encrypted comparisons on their rows. */
void
SearchScanPlan(PlannedStmt *stmt)
{
	ListCell   *lc;

	if (!CatalogExtensionInstalled())
		return;
	PlanTreeWalk(stmt->planTree, plan_rechecks, NULL);
	foreach(lc, stmt->subplans)
		PlanTreeWalk(lfirst(lc), plan_rechecks, NULL);
}

/*
 * The keys of a node, and those of its index scan when the executor has
 * already handed them over (no keys computed at run time: at its start).
 */
static void
mark(ScanKey keys, int nkeys, IndexScanDesc desc, bool handed_over)
{
	TypesMarkIndexKeys(keys, nkeys);
	if (desc != NULL && handed_over)
		TypesMarkIndexKeys(desc->keyData, desc->numberOfKeys);
}

static bool
mark_keys(PlanState *ps, void *context)
{
	if (ps == NULL)
		return false;
	if (IsA(ps, IndexScanState))
	{
		IndexScanState *is = (IndexScanState *) ps;

		mark(is->iss_ScanKeys, is->iss_NumScanKeys, is->iss_ScanDesc,
			 is->iss_NumRuntimeKeys == 0);
	}
	else if (IsA(ps, IndexOnlyScanState))
	{
		IndexOnlyScanState *is = (IndexOnlyScanState *) ps;

		mark(is->ioss_ScanKeys, is->ioss_NumScanKeys, is->ioss_ScanDesc,
			 is->ioss_NumRuntimeKeys == 0);
	}
	else if (IsA(ps, BitmapIndexScanState))
	{
		BitmapIndexScanState *is = (BitmapIndexScanState *) ps;

		mark(is->biss_ScanKeys, is->biss_NumScanKeys, is->biss_ScanDesc,
			 is->biss_NumRuntimeKeys == 0 && is->biss_NumArrayKeys == 0);
	}
	return planstate_tree_walker(ps, mark_keys, context);
}

/* When the executor has started: the index scans' keys record no match. */
void
SearchScanStart(PlanState *ps)
{
	(void) mark_keys(ps, NULL);
}

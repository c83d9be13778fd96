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
 * So a match counts only when it is not the index's own:
 *  - while a btree scans an index with a column of an encrypted type
 *    (finding, descending through pivot keys), its comparisons record
 *    nothing: the executor's start wraps that index's gettuple and
 *    getbitmap functions to say so, in the relation cache, where the scans
 *    a concurrent update's recheck (EvalPlanQual) builds find them too;
 *  - after planning, every index scan whose condition compares an
 *    encrypted value checks that condition first in its filter, on each
 *    row it returns (its heap row, visible to the scan; an index-only
 *    scan's reconstructed row), before any other condition of the query
 *    sees the row.  (The operators are not mergejoinable or hashable: no
 *    join compares by them but a nested loop's scans.)
 * Every other comparison records: an expression's, a row or array
 * comparison's, a direct call of the support function.  The filter costs
 * a comparison of terms per row returned: the searched value's term is
 * kept for the statement (types.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/transam.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"

#include "catalog.h"
#include "searchscan.h"

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

/*
 * Put first in *qual the clauses of cond that compare encrypted values: a
 * condition of the query's own must not see a row the search found before
 * the search's comparison has recorded it.
 */
static void
recheck(List **qual, List *cond)
{
	List	   *first = NIL;
	ListCell   *lc;

	foreach(lc, cond)
	{
		Node	   *clause = lfirst(lc);

		if (compares_encrypted(clause, NULL))
			first = lappend(first, copyObject(clause));
	}
	if (first != NIL)
		*qual = list_concat(first, *qual);
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

/*----------------------------------------------------------------------
 * The index's own comparisons
 *----------------------------------------------------------------------
 */
static int	in_index = 0;
static uint64 scan_epoch = 0;	/* entries into an index's scan, this backend's */

/* Is a btree scanning an index of an encrypted column in this backend? */
bool
SearchScanInIndex(void)
{
	return in_index > 0;
}

/*
 * Which entry into an index's scan this is (one call of its gettuple or
 * getbitmap): what a comparison keeps for the rest of the call, it keeps
 * no longer.
 */
uint64
SearchScanEpoch(void)
{
	return scan_epoch;
}

static bool
quiet_gettuple(IndexScanDesc scan, ScanDirection direction)
{
	bool		found;

	in_index++;
	scan_epoch++;
	PG_TRY();
	{
		found = btgettuple(scan, direction);
	}
	PG_FINALLY();
	{
		in_index--;
	}
	PG_END_TRY();
	return found;
}

static int64
quiet_getbitmap(IndexScanDesc scan, TIDBitmap *tbm)
{
	int64		ntids;

	in_index++;
	scan_epoch++;
	PG_TRY();
	{
		ntids = btgetbitmap(scan, tbm);
	}
	PG_FINALLY();
	{
		in_index--;
	}
	PG_END_TRY();
	return ntids;
}

/*
 * Wrap a btree index's scan functions in its relation cache entry (each
 * index has its own copy of its access method's routine) when one of its
 * key columns is of an encrypted type.
 */
static void
quiet_index(Relation index)
{
	IndexAmRoutine *am;
	bool		encrypted = false;

	if (index == NULL || (am = index->rd_indam) == NULL || am->amgettuple != btgettuple)
		return;
	for (int i = 0; i < IndexRelationGetNumberOfKeyAttributes(index); i++)
		if (index->rd_opcintype[i] >= FirstNormalObjectId &&
			CatalogEncryptedType(index->rd_opcintype[i]) != 0)
			encrypted = true;
	if (!encrypted)
		return;
	am->amgettuple = quiet_gettuple;
	if (am->amgetbitmap == btgetbitmap)
		am->amgetbitmap = quiet_getbitmap;
}

static bool
quiet_indexes(PlanState *ps, void *context)
{
	if (ps == NULL)
		return false;
	if (IsA(ps, IndexScanState))
		quiet_index(((IndexScanState *) ps)->iss_RelationDesc);
	else if (IsA(ps, IndexOnlyScanState))
		quiet_index(((IndexOnlyScanState *) ps)->ioss_RelationDesc);
	else if (IsA(ps, BitmapIndexScanState))
		quiet_index(((BitmapIndexScanState *) ps)->biss_RelationDesc);
	return planstate_tree_walker(ps, quiet_indexes, context);
}

/* When the executor has started: the indexes its scans read compare quietly. */
void
SearchScanStart(PlanState *ps)
{
	if (CatalogExtensionInstalled())
		(void) quiet_indexes(ps, NULL);
}

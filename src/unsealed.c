/*-------------------------------------------------------------------------
 * src/unsealed.c
 *	  An unsealed value is stored nowhere but through the sealing path.
 *
 * Plaintext given to an encrypted type (a literal, a parameter, a cast)
 * is an unsealed value, which only a protected column's sealing trigger
 * turns into an envelope.  Anywhere else it would be stored as noise under
 * a key that dies with the backend, and print as a placeholder that no
 * restore can read back.  So every other way into a table refuses it:
 *
 *	- INSERT, UPDATE, MERGE and ON CONFLICT DO UPDATE into a relation with
 *	  an encrypted column that is not protected: the planner hook wraps the
 *	  value of each such column in privacy_guard.sealed_only(), which
 *	  passes envelopes and refuses an unsealed value, naming the column;
 *	- CREATE TABLE AS, SELECT INTO, CREATE and REFRESH MATERIALIZED VIEW:
 *	  the same for every encrypted column of the query's result;
 *	- COPY FROM into such a relation: plaintext input is refused while it
 *	  runs (envelopes, a dump's rows, load as they are).
 *
 * Sealed values (envelopes copied from a protected column) go anywhere.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "catalog.h"
#include "envelope.h"
#include "searchscan.h"
#include "types.h"
#include "unsealed.h"
#include "writepath.h"

/* COPY FROM into a relation with an unprotected encrypted column: its name. */
static char *copy_target = NULL;
/* The next top-level plan fills a table from its result (CREATE TABLE AS). */
static bool filling_table = false;

PG_FUNCTION_INFO_V1(pguard_sealed_only);

/* Is this value of an encrypted type unsealed (plaintext waiting for the write path)? */
bool
UnsealedIsPending(struct varlena *value)
{
	uint8		version = VARSIZE_ANY_EXHDR(value) > 0 ? ((const uint8 *) VARDATA_ANY(value))[0] : ENVELOPE_VERSION;

	return version == ENVELOPE_PENDING || version == ENVELOPE_PENDING_BOUND;
}

/*
 * sealed_only(value, target): the value, if it is sealed; an unsealed one
 * is refused, naming the target.  With an empty target (the CHECK the
 * guard gives an encrypted column nothing seals, the same for every column
 * so that a partition's matches its parent's), NULL instead: the CHECK
 * fails, and PostgreSQL names the relation and the constraint.
 */
Datum
pguard_sealed_only(PG_FUNCTION_ARGS)
{
	struct varlena *value = PG_GETARG_VARLENA_PP(0);
	text	   *target = PG_GETARG_TEXT_PP(1);

	if (UnsealedIsPending(value))
	{
		if (VARSIZE_ANY_EXHDR(target) == 0)
			PG_RETURN_NULL();
		UnsealedRefuse(text_to_cstring(target));
	}
	PG_RETURN_POINTER(value);
}

void
UnsealedRefuse(const char *target)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("cannot store an unsealed value in %s", target),
			 errdetail("Plaintext is sealed only on its way into a protected column; anywhere else it would be stored as noise that nothing can read back."),
			 errhint("Write it to a protected column (privacy_guard.protect() the column first), or seal it with privacy_guard.seal().")));
}

/* Called by plaintext input: refused while COPY fills a relation that would store it unsealed. */
void
UnsealedCheckInput(void)
{
	if (copy_target != NULL)
		UnsealedRefuse(copy_target);
}

/*
 * Does the relation's sealing trigger (running seal_row(), not merely named
 * like it) seal this column, as its arguments name it?  (Disabled, its
 * column's <col>_sealed CHECK refuses what it would have sealed.)
 */
static bool
column_is_sealed(Relation rel, const char *col, Oid seal_row)
{
	TriggerDesc *td = rel->trigdesc;

	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (strcmp(t->tgname, WRITEPATH_SEAL_TRIGGER) != 0 || t->tgfoid != seal_row)
			continue;
		for (int a = 0; a + 3 < t->tgnargs; a += 4)
			if (strcmp(t->tgargs[a], col) == 0)
				return true;
	}
	return false;
}

/* Does the relation's sealing trigger seal this column?  (For the guard, src/guard.c.) */
bool
UnsealedColumnSealed(Relation rel, const char *col)
{
	if (rel->trigdesc == NULL)
		return false;
	return column_is_sealed(rel, col,
							LookupFuncName(list_make2(makeString(get_namespace_name(CatalogSchemaOid())),
													  makeString("seal_row")), 0, NULL, true));
}

/*
 * The encrypted columns of a relation that nothing seals, as a bitmap of
 * attribute numbers (NULL: none), with the relation's name.
 */
static Bitmapset *
unguarded_columns(Oid relid, char **relname)
{
	Relation	rel;
	Bitmapset  *cols = NULL;

	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		return NULL;
	if (RelationGetNamespace(rel) != CatalogSchemaOid())
	{
		TupleDesc	desc = RelationGetDescr(rel);
		Oid			seal_row = rel->trigdesc == NULL ? InvalidOid :
			LookupFuncName(list_make2(makeString(get_namespace_name(CatalogSchemaOid())),
									  makeString("seal_row")), 0, NULL, true);

		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			/* (a generated column's value is computed after the plan's) */
			if (!att->attisdropped && att->attgenerated == '\0' &&
				CatalogEncryptedType(att->atttypid) != 0 &&
				!column_is_sealed(rel, NameStr(att->attname), seal_row))
				cols = bms_add_member(cols, att->attnum);
		}
	}
	*relname = pstrdup(RelationGetRelationName(rel));
	relation_close(rel, NoLock);
	return cols;
}

/* privacy_guard.sealed_only(<encrypted type>, text), for a column of this type. */
static Oid
sealed_only_function(Oid typid)
{
	Oid			args[2] = {typid, TEXTOID};

	return LookupFuncName(list_make2(makeString(get_namespace_name(CatalogSchemaOid())),
									 makeString("sealed_only")), 2, args, true);
}

/* Wrap a target entry's value in sealed_only(value, 'column "c" of relation "r"'). */
static void
wrap_entry(TargetEntry *te, Oid typid, const char *relname, const char *colname)
{
	Oid			fn = sealed_only_function(typid);
	char	   *target;

	target = relname ? psprintf("column \"%s\" of relation \"%s\"", colname, relname) :
		psprintf("column \"%s\" of a new table", colname);
	/* version 0.1's objects, before ALTER EXTENSION UPDATE: nothing could check the value */
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot write %s, an encrypted column nothing seals, under privacy_guard 0.1", target),
				 errdetail("This version of the library checks that such a value is sealed with a function version 0.1 does not have."),
				 errhint("Run ALTER EXTENSION privacy_guard UPDATE.")));
	te->expr = (Expr *) makeFuncExpr(fn, typid,
									 list_make2(te->expr,
												makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
														  CStringGetTextDatum(target), false, false)),
									 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

/* Wrap the entries of tlist whose resno is an unguarded column. */
static void
wrap_by_resno(List *tlist, Bitmapset *cols, Oid relid, const char *relname)
{
	ListCell   *lc;

	foreach(lc, tlist)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);

		if (!te->resjunk && bms_is_member(te->resno, cols))
			wrap_entry(te, get_atttype(relid, te->resno), relname, get_attname(relid, te->resno, false));
	}
}

static void
guard_modify_table(ModifyTable *mt, List *rtable)
{
	Oid			relid;
	char	   *relname = NULL;
	Bitmapset  *cols;
	Plan	   *sub = outerPlan(mt);
	ListCell   *lc;

	if (mt->resultRelations == NIL)
		return;
	relid = rt_fetch(linitial_int(mt->resultRelations), rtable)->relid;
	cols = unguarded_columns(relid, &relname);
	if (cols == NULL)
		return;
	if (mt->operation == CMD_INSERT && sub != NULL)
		wrap_by_resno(sub->targetlist, cols, relid, relname);
	else if (mt->operation == CMD_UPDATE && sub != NULL && mt->updateColnosLists != NIL)
	{
		List	   *colnos = linitial(mt->updateColnosLists);
		int			i = 0;

		/* the subplan's values, in the order of the columns they update */
		foreach(lc, sub->targetlist)
		{
			TargetEntry *te = lfirst_node(TargetEntry, lc);
			AttrNumber	attnum;

			if (te->resjunk || i >= list_length(colnos))
				continue;
			attnum = list_nth_int(colnos, i++);
			if (bms_is_member(attnum, cols))
				wrap_entry(te, get_atttype(relid, attnum), relname, get_attname(relid, attnum, false));
		}
	}
	if (mt->onConflictSet != NIL)
	{
		int			i = 0;

		/* ON CONFLICT DO UPDATE's values, in the order of the columns they set */
		foreach(lc, mt->onConflictSet)
		{
			TargetEntry *te = lfirst_node(TargetEntry, lc);
			AttrNumber	attnum;

			if (te->resjunk || i >= list_length(mt->onConflictCols))
				continue;
			attnum = list_nth_int(mt->onConflictCols, i++);
			if (bms_is_member(attnum, cols))
				wrap_entry(te, get_atttype(relid, attnum), relname, get_attname(relid, attnum, false));
		}
	}
	if (mt->mergeActionLists != NIL)
		foreach(lc, (List *) linitial(mt->mergeActionLists))
			wrap_by_resno(lfirst_node(MergeAction, lc)->targetList, cols, relid, relname);
}

/* A ModifyTable of a plan tree (the main plan's, and CTEs' in subplans). */
static void
guard_plan_node(Plan *plan, void *context)
{
	if (IsA(plan, ModifyTable))
		guard_modify_table((ModifyTable *) plan, ((PlannedStmt *) context)->rtable);
}

/*
 * After planning: the values a statement writes into an encrypted column
 * nothing seals, and, for CREATE TABLE AS, the encrypted columns of its
 * result, pass only if sealed.
 */
void
UnsealedGuardPlan(PlannedStmt *stmt, bool top)
{
	ListCell   *lc;
	bool		fills = top && filling_table;

	if (top)
		filling_table = false;
	if (CatalogExtensionScript() || IsBinaryUpgrade || !CatalogExtensionInstalled())
		return;
	/* the statement's own ModifyTable, and those of its WITH queries */
	PlanTreeWalk(stmt->planTree, guard_plan_node, stmt);
	foreach(lc, stmt->subplans)
		PlanTreeWalk(lfirst(lc), guard_plan_node, stmt);
	if (fills && stmt->commandType == CMD_SELECT)
	{
		foreach(lc, stmt->planTree->targetlist)
		{
			TargetEntry *te = lfirst_node(TargetEntry, lc);
			Oid			typid = exprType((Node *) te->expr);

			if (!te->resjunk && CatalogEncryptedType(typid) != 0)
				wrap_entry(te, typid, NULL, te->resname ? te->resname : "?");
		}
	}
}

/*
 * Before a utility statement: CREATE TABLE AS and its kin plan a query
 * whose result fills a table; COPY FROM fills one from input.  Returns
 * true when UnsealedUtilityEnd() must run after the statement.
 */
bool
UnsealedUtilityBegin(Node *stmt)
{
	if (CatalogExtensionScript() || IsBinaryUpgrade || !CatalogExtensionInstalled())
		return false;
	if (IsA(stmt, CreateTableAsStmt) || IsA(stmt, RefreshMatViewStmt))
	{
		filling_table = true;
		return true;
	}
	if (IsA(stmt, CopyStmt) && ((CopyStmt *) stmt)->is_from && ((CopyStmt *) stmt)->relation != NULL)
	{
		Oid			relid = RangeVarGetRelid(((CopyStmt *) stmt)->relation, NoLock, true);
		char	   *relname = NULL;
		Bitmapset  *cols = OidIsValid(relid) ? unguarded_columns(relid, &relname) : NULL;

		if (cols != NULL)
		{
			copy_target = MemoryContextStrdup(TopMemoryContext,
											  psprintf("relation \"%s\", which has encrypted columns that are not protected",
													   relname));
			return true;
		}
	}
	return false;
}

void
UnsealedUtilityEnd(void)
{
	filling_table = false;
	if (copy_target != NULL)
		pfree(copy_target);
	copy_target = NULL;
}

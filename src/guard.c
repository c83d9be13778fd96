/*-------------------------------------------------------------------------
 * src/guard.c
 *	  The protection guard: keeps protect()'s work in place against the
 *	  table's owner.
 *
 * A ProcessUtility hook refuses, for every role, the DDL that would undo a
 * protection behind the extension's back: disabling, dropping, renaming or
 * replacing the sealing trigger, or naming a BEFORE row trigger to run
 * after it; dropping or renaming a <col>_sealed CHECK; retyping, renaming
 * or dropping a protected or subject column (or a subject
 * column erasure_actions names), also through inheritance parents and
 * ALTER TYPE ... CASCADE; putting the table into an inheritance tree or
 * making it a typed table; moving it into the extension's schema, whose
 * tables the guard leaves alone.  Let through, such DDL would keep plaintext writes as
 * unsealed values nobody can read, leave a column called protected that no
 * longer is, a trigger free to rewrite what was sealed, or every erasure of
 * the table's subjects failing.  Each refusal names the object and hints
 * at the unprotect() call, explicit and audited, that would allow it.
 *
 * What is guarded is what privacy_guard's catalog says once the statement
 * holds its lock, so the extension's own functions need no bypass:
 * unprotect() removes a column from the catalog first, then its DDL
 * passes; protect() registers a column, then creates the trigger the
 * catalog describes (as unprotect() and a restore do), which the guard
 * recognises.  The extension's own scripts and binary upgrades are not
 * checked, nor a database where version 0.1, whose scripts predate the
 * guard, is installed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_constraint.h"
#include "partitioning/partbounds.h"
#include "catalog/pg_partitioned_table.h"
#include "catalog/objectaddress.h"
#include "utils/array.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_statistic_ext.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/prepare.h"
#include "commands/tablecmds.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_type.h"
#include "storage/lmgr.h"
#include "rewrite/prs2lock.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"
#include "catalog.h"
#include "guard.h"
#include "redact.h"
#include "unsealed.h"
#include "writepath.h"

static ProcessUtility_hook_type prev_process_utility = NULL;	/* the hook the guard runs before */
static object_access_hook_type prev_object_access = NULL;
/* the statement running makes a relation: the relations made meanwhile */
static bool tracking_creations = false;
static List *created_relations = NIL;
/* any guarded statement: the objects with stored expressions it made or changed */
static bool tracking_objects = false;
static List *stored_objects = NIL;

/*
 * Where the two lists above live: the memory current when the statement
 * that tracks them began (a portal's, an SPI call's), which outlives the
 * transactions a statement may commit on its own way (REINDEX and CREATE
 * or DROP INDEX CONCURRENTLY, a procedure's COMMIT); a transaction's
 * memory would be freed under them.
 */
static MemoryContext tracking_cxt = NULL;
/* REFRESH MATERIALIZED VIEW CONCURRENTLY runs: its own temporary tables hold the view's rows */
static bool refreshing_concurrently = false;

static void guard_plaintext_redirect(Oid relid, const char *what, const char *name);

/* What a column is to the guard. */
typedef enum GuardRole
{
	GUARD_NONE = 0,
	GUARD_PROTECTED,
	GUARD_SUBJECT,
	GUARD_ERASURE_SUBJECT,
	GUARD_RETENTION_TIME
} GuardRole;

/*
 * Read a table's protected columns (and erasure's subject column) as the
 * catalog holds them now, including this transaction's changes: the
 * latest snapshot, as the extension's owner.  The caller is connected to
 * SPI and acts as that owner; results live in context "into".
 */
void
GuardReadTable(GuardedTable *g, MemoryContext into)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(g->relid)};
	int			rc;

	g->cols = NIL;
	g->erasure_subject = NULL;
	PushActiveSnapshot(CatalogFreshSnapshot());
	/* version 0.1's catalog names a blind-index column instead */
	rc = SPI_execute_with_args(psprintf("SELECT p.col, p.category, p.subject_col, %s"
										" FROM privacy_guard.column_protection p"
										" WHERE p.tbl OPERATOR(pg_catalog.=) $1 ORDER BY p.col",
										CatalogExtensionPredatesGuard() ?
										"COALESCE(p.index_col::pg_catalog.text, '')" :
										"CASE WHEN p.searchable THEN 'searchable' ELSE '' END"),
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read protected columns");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(into);
		GuardedColumn *c = palloc(sizeof(GuardedColumn));
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;

		c->col = pstrdup(SPI_getvalue(t, d, 1));
		c->category = pstrdup(SPI_getvalue(t, d, 2));
		c->subject = pstrdup(SPI_getvalue(t, d, 3));
		c->searchable = pstrdup(SPI_getvalue(t, d, 4));
		g->cols = lappend(g->cols, c);
		MemoryContextSwitchTo(old);
	}
	rc = SPI_execute_with_args("SELECT e.subject_col FROM privacy_guard.erasure_actions e"
							   " WHERE e.tbl OPERATOR(pg_catalog.=) $1 AND e.subject_col IS NOT NULL",
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read erasure actions");
	if (SPI_processed > 0)
		g->erasure_subject = MemoryContextStrdup(into, SPI_getvalue(SPI_tuptable->vals[0],
																	SPI_tuptable->tupdesc, 1));
	g->retention_time = NULL;
	rc = SPI_execute_with_args("SELECT r.time_col FROM privacy_guard.retention_rules r"
							   " WHERE r.tbl OPERATOR(pg_catalog.=) $1",
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read retention rules");
	if (SPI_processed > 0)
		g->retention_time = MemoryContextStrdup(into, SPI_getvalue(SPI_tuptable->vals[0],
																   SPI_tuptable->tupdesc, 1));
	PopActiveSnapshot();
}

/* A table's guarded columns, read once the statement's lock is held. */
static GuardedTable *
guard_load(Oid relid)
{
	GuardedTable *g = palloc0(sizeof(GuardedTable));
	MemoryContext outer = CurrentMemoryContext;
	CatalogOwnerState owner;

	g->relid = relid;
	/*
	 * the extension's own tables: members of the extension, in its schema
	 * (not any table a superuser moved there or added to the extension)
	 */
	if (get_rel_namespace(relid) == CatalogSchemaOid() &&
		getExtensionOfObject(RelationRelationId, relid) == get_extension_oid("privacy_guard", true))
		return g;
	CatalogBecomeOwner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GuardReadTable(g, outer);
	SPI_finish();
	CatalogRestoreUser(&owner);
	return g;
}

/*
 * The table a RENAME or SET SCHEMA names, locked as the statement itself
 * locks it, with PostgreSQL's own lookup and ownership check, then loaded;
 * NULL when it is missing and the statement says IF EXISTS.
 */
static GuardedTable *
guard_load_locked(RangeVar *relation, bool missing_ok)
{
	Oid			relid = RangeVarGetRelidExtended(relation, AccessExclusiveLock,
												 missing_ok ? RVR_MISSING_OK : 0,
												 RangeVarCallbackOwnsRelation, NULL);

	return OidIsValid(relid) ? guard_load(relid) : NULL;
}

/* The table as unprotect()'s first argument, a literal. */
static char *
table_literal(GuardedTable *g)
{
	return quote_literal_cstr(DatumGetCString(DirectFunctionCall1(regclassout,
																  ObjectIdGetDatum(g->relid))));
}

/* The protected columns, as "a", "b". */
static char *
protected_list(GuardedTable *g, const char *subject)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);

		if (subject == NULL || strcmp(c->subject, subject) == 0)
			appendStringInfo(&buf, "%s\"%s\"", buf.len > 0 ? ", " : "", c->col);
	}
	return buf.data;
}

/* Every refusal's hint: unprotect() col or, col NULL, each column of subject (or of the table). */
static int
unprotect_hint(GuardedTable *g, const char *col, const char *subject)
{
	int			n = 0;
	ListCell   *lc;

	if (col == NULL)
	{
		foreach(lc, g->cols)
		{
			GuardedColumn *c = lfirst(lc);

			if (subject == NULL || strcmp(c->subject, subject) == 0)
			{
				col = c->col;
				n++;
			}
		}
		if (n > 1)
			return errhint("Call privacy_guard.unprotect() for each of these columns first; it is audited.");
	}
	return errhint("Call privacy_guard.unprotect(%s, %s) first; it is audited.",
				   table_literal(g), quote_literal_cstr(col));
}

/* Refuse a change to a column that protection or erasure relies on. */
static void
guard_column(GuardedTable *g, const char *verb, const char *name)
{
	const char *rel = get_rel_name(g->relid);
	GuardRole	role = GUARD_NONE;
	ListCell   *lc;

	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);

		if (strcmp(c->col, name) == 0)
			role = GUARD_PROTECTED;
		else if (strcmp(c->subject, name) == 0 && role == GUARD_NONE)
			role = GUARD_SUBJECT;
	}
	if (role == GUARD_NONE && g->erasure_subject && strcmp(g->erasure_subject, name) == 0)
		role = GUARD_ERASURE_SUBJECT;
	if (role == GUARD_NONE && g->retention_time && strcmp(g->retention_time, name) == 0)
		role = GUARD_RETENTION_TIME;

	switch (role)
	{
		case GUARD_NONE:
			return;
		case GUARD_PROTECTED:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s protected column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("The sealing trigger \"%s\" and constraint \"%s_sealed\" protect it.",
							   WRITEPATH_SEAL_TRIGGER, name),
					 unprotect_hint(g, name, NULL)));
			break;
		case GUARD_SUBJECT:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s subject column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("It holds the data subject of protected columns %s.", protected_list(g, name)),
					 unprotect_hint(g, NULL, name)));
			break;
		case GUARD_RETENTION_TIME:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s time column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("The retention rule of relation \"%s\" finds its old rows through it.", rel),
					 errhint("Remove the rule first with privacy_guard.set_retention(%s, %s, NULL, NULL).",
							 table_literal(g), quote_literal_cstr(name))));
			break;
		case GUARD_ERASURE_SUBJECT:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s subject column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("Erasure finds the data subject's rows of relation \"%s\" through it.", rel),
					 unprotect_hint(g, name, NULL)));
			break;
	}
}

/* Refuse a change to the CHECK constraint of a protected column. */
static void
guard_constraint(GuardedTable *g, const char *verb, const char *conname)
{
	ListCell   *lc;

	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);

		if (strcmp(conname, psprintf("%s_sealed", c->col)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s constraint \"%s\" of relation \"%s\"",
							verb, conname, get_rel_name(g->relid)),
					 errdetail("It refuses plaintext and other subjects' or categories' sealed values in protected column \"%s\".",
							   c->col),
					 unprotect_hint(g, c->col, NULL)));
	}
}

/* The binding or the sealing trigger, which the guard keeps as protect() made them? */
static bool
protection_trigger(const char *name)
{
	return strcmp(name, WRITEPATH_SEAL_TRIGGER) == 0 || strcmp(name, WRITEPATH_BIND_TRIGGER) == 0;
}

/* Refuse a change to the binding or sealing trigger of a table with protected columns. */
static void
guard_trigger(GuardedTable *g, const char *verb, const char *name)
{
	if (g->cols == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot %s trigger \"%s\" of relation \"%s\"",
					verb, name, get_rel_name(g->relid)),
			 strcmp(name, WRITEPATH_SEAL_TRIGGER) == 0 ?
			 errdetail("It seals protected columns %s.", protected_list(g, NULL)) :
			 errdetail("It binds plaintext written to protected columns %s to their categories.",
					   protected_list(g, NULL)),
			 unprotect_hint(g, NULL, NULL)));
}

/* Refuse putting a table with protected columns into an inheritance tree. */
static void
guard_tree(GuardedTable *g, bool typed)
{
	if (g->cols == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 typed ? errmsg("cannot make relation \"%s\" a typed table", get_rel_name(g->relid)) :
			 errmsg("cannot make relation \"%s\" part of an inheritance tree", get_rel_name(g->relid)),
			 typed ? errdetail("It has protected columns %s, which ALTER TYPE would change.",
							   protected_list(g, NULL)) :
			 errdetail("It has protected columns %s, and protect() refuses tables in an inheritance tree.",
					   protected_list(g, NULL)),
			 unprotect_hint(g, NULL, NULL)));
}

/*
 * Would a trigger fire before the binding trigger or after the sealing
 * trigger (BEFORE row triggers fire in name order)?
 */
static bool
out_of_order(const char *name, int16 tgtype)
{
	return TRIGGER_FOR_ROW(tgtype) && TRIGGER_FOR_BEFORE(tgtype) &&
		(TRIGGER_FOR_INSERT(tgtype) || TRIGGER_FOR_UPDATE(tgtype)) &&
		(strcmp(name, WRITEPATH_SEAL_TRIGGER) > 0 || strcmp(name, WRITEPATH_BIND_TRIGGER) < 0);
}

/*
 * Refuse a trigger that would fire outside the protection triggers of a
 * protected table, under the name it would then have (newname).
 */
static void
guard_order(GuardedTable *g, const char *verb, const char *name, const char *newname)
{
	bool		after = strcmp(newname, WRITEPATH_SEAL_TRIGGER) > 0;

	if (g->cols == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot %s trigger \"%s\" of relation \"%s\": it would run %s trigger \"%s\"",
					verb, name, get_rel_name(g->relid), after ? "after" : "before",
					after ? WRITEPATH_SEAL_TRIGGER : WRITEPATH_BIND_TRIGGER),
			 after ?
			 errdetail("BEFORE row triggers run in name order; one after the sealing trigger could change the values and blind indexes it wrote.") :
			 errdetail("BEFORE row triggers run in name order; one before the binding trigger could move plaintext into a column of another category."),
			 errhint("Choose a name that sorts between \"%s\" and \"%s\".",
					 WRITEPATH_BIND_TRIGGER, WRITEPATH_SEAL_TRIGGER)));
}

/* The type of a table's trigger, or -1 when it has none of that name. */
static int
trigger_type(Oid relid, const char *name)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			tgtype = -1;

	ScanKeyInit(&key[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(name));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 2, key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		tgtype = ((Form_pg_trigger) GETSTRUCT(tup))->tgtype;
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return tgtype;
}

/* Is this CREATE TRIGGER the sealing trigger exactly as the catalog describes it? */
static bool
canonical_seal_trigger(CreateTrigStmt *stmt, GuardedTable *g)
{
	List	   *seal_row = list_make2(makeString(PGUARD_SCHEMA), makeString("seal_row"));
	Oid			fn = LookupFuncName(stmt->funcname, 0, NULL, true);
	ListCell   *lc;
	ListCell   *arg;

	if (!stmt->row || stmt->timing != TRIGGER_TYPE_BEFORE ||
		stmt->events != (TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE) ||
		stmt->columns != NIL || stmt->whenClause != NULL ||
		stmt->transitionRels != NIL || stmt->isconstraint ||
		!OidIsValid(fn) || fn != LookupFuncName(seal_row, 0, NULL, true) ||
		list_length(stmt->args) != 4 * list_length(g->cols))
		return false;
	arg = list_head(stmt->args);
	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);
		const char *expected[4] = {c->col, c->category, c->subject, c->searchable};

		for (int i = 0; i < 4; i++)
		{
			if (strcmp(strVal(lfirst(arg)), expected[i]) != 0)
				return false;
			arg = lnext(stmt->args, arg);
		}
	}
	return true;
}

/* ALTER TABLE: each subcommand that could undo a protection. */
static bool
alter_cmd_guarded(AlterTableCmd *cmd)
{
	switch (cmd->subtype)
	{
		case AT_AlterColumnType:
		case AT_DropColumn:
		case AT_DropColumnRecurse:
		case AT_DisableTrigAll:
		case AT_DisableTrigUser:
		case AT_AddInherit:
		case AT_AttachPartition:
		case AT_AddOf:
			return true;
		case AT_DropConstraint:
		case AT_DropConstraintRecurse:
			return cmd->name != NULL && strlen(cmd->name) > strlen("_sealed") &&
				strcmp(cmd->name + strlen(cmd->name) - strlen("_sealed"), "_sealed") == 0;
		case AT_DisableTrig:
		case AT_EnableReplicaTrig:
			return cmd->name != NULL && protection_trigger(cmd->name);
		default:
			return false;
	}
}

/* The tables a column change reaches, locked as the change locks them. */
static List *
column_targets(GuardedTable *g, RangeVar *rv, LOCKMODE lockmode)
{
	List	   *targets = NIL;
	List	   *relids = NIL;
	ListCell   *lc;

	if (get_rel_relkind(g->relid) == RELKIND_COMPOSITE_TYPE)
	{
		/* ALTER TYPE ... CASCADE: the tables typed with it */
		Relation	classrel = table_open(RelationRelationId, AccessShareLock);
		ScanKeyData key;
		TableScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, Anum_pg_class_reloftype, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(get_rel_type_id(g->relid)));
		scan = table_beginscan_catalog(classrel, 1, &key);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
			relids = lappend_oid(relids, ((Form_pg_class) GETSTRUCT(tup))->oid);
		table_endscan(scan);
		table_close(classrel, AccessShareLock);
		foreach(lc, relids)
			LockRelationOid(lfirst_oid(lc), lockmode);
	}
	else
	{
		/* the table, and its children unless ONLY */
		targets = list_make1(g);
		if (rv->inh && has_subclass(g->relid))
			relids = list_delete_first(find_all_inheritors(g->relid, lockmode, NULL));
	}
	foreach(lc, relids)
		targets = lappend(targets, guard_load(lfirst_oid(lc)));
	return targets;
}

/* A subcommand that changes a column. */
static bool
column_cmd(AlterTableCmd *cmd)
{
	return cmd->subtype == AT_AlterColumnType || cmd->subtype == AT_DropColumn ||
		cmd->subtype == AT_DropColumnRecurse;
}

/* ALTER TABLE and ALTER TYPE: each subcommand that could undo a protection. */
static void
guard_alter_table(AlterTableStmt *stmt)
{
	LOCKMODE	lockmode;
	Oid			relid;
	GuardedTable *g;
	List	   *targets = NIL;
	ListCell   *lc;
	ListCell   *t;
	bool		guarded = false;

	/*
	 * Whatever the statement calls the relation (ALTER FOREIGN TABLE f
	 * INHERIT t puts t into a tree as ALTER TABLE does): what is guarded is
	 * decided on the relations found.  ALTER TYPE: only what reaches the
	 * typed tables' columns.
	 */
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		guarded |= alter_cmd_guarded(cmd) && (stmt->objtype != OBJECT_TYPE || column_cmd(cmd));
	}
	if (!guarded)
		return;
	/* as ALTER TABLE itself looks the table up: permission checks, then the lock */
	lockmode = AlterTableGetLockLevel(stmt->cmds);
	relid = AlterTableLookupRelation(stmt, lockmode);
	if (!OidIsValid(relid))
		return;
	g = guard_load(relid);

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (!alter_cmd_guarded(cmd) || (stmt->objtype == OBJECT_TYPE && !column_cmd(cmd)))
			continue;
		switch (cmd->subtype)
		{
			case AT_AlterColumnType:
			case AT_DropColumn:
			case AT_DropColumnRecurse:
				if (targets == NIL)
					targets = column_targets(g, stmt->relation, lockmode);
				foreach(t, targets)
				{
					/* the 0.1 to 0.2 update's rewrite of a searchable column */
					if (cmd->subtype == AT_AlterColumnType &&
						WritepathUpgradeRewrite(((GuardedTable *) lfirst(t))->relid, cmd->name))
						continue;
					guard_column(lfirst(t), cmd->subtype == AT_AlterColumnType ? "alter type of" : "drop",
								 cmd->name);
				}
				break;
			case AT_DropConstraint:
			case AT_DropConstraintRecurse:
				guard_constraint(g, "drop", cmd->name);
				break;
			case AT_DisableTrig:
			case AT_DisableTrigAll:
			case AT_DisableTrigUser:
			case AT_EnableReplicaTrig:
				guard_trigger(g, "disable", cmd->name != NULL ? cmd->name : WRITEPATH_SEAL_TRIGGER);
				break;
			case AT_AddOf:
				guard_tree(g, true);
				break;
			case AT_AddInherit:
				guard_tree(g, false);
				/* the parent is locked as ALTER TABLE ... INHERIT locks it */
				guard_tree(guard_load(RangeVarGetRelid(castNode(RangeVar, cmd->def),
													   ShareUpdateExclusiveLock, false)), false);
				break;
			case AT_AttachPartition:
				/* the partition is locked as ATTACH PARTITION locks it */
				guard_tree(guard_load(RangeVarGetRelid(castNode(PartitionCmd, cmd->def)->name,
													   AccessExclusiveLock, false)), false);
				break;
			default:
				break;
		}
	}
}

/* RENAME of a guarded column, a <col>_sealed CHECK, the sealing trigger or a trigger past it. */
static void
guard_rename(RenameStmt *stmt)
{
	GuardedTable *g;
	ListCell   *t;
	int			tgtype;

	switch (stmt->renameType)
	{
		case OBJECT_COLUMN:
		case OBJECT_ATTRIBUTE:
			/*
			 * whatever the statement calls the relation: renameatt() renames
			 * a table's column under ALTER VIEW, MATERIALIZED VIEW or FOREIGN
			 * TABLE too; what is guarded is decided on the relation found
			 */
			break;
		case OBJECT_TABCONSTRAINT:
			if (strlen(stmt->subname) <= strlen("_sealed") ||
				strcmp(stmt->subname + strlen(stmt->subname) - strlen("_sealed"), "_sealed") != 0)
				return;
			break;
		case OBJECT_TRIGGER:
			if (!protection_trigger(stmt->subname) &&
				strcmp(stmt->newname, WRITEPATH_SEAL_TRIGGER) <= 0 &&
				strcmp(stmt->newname, WRITEPATH_BIND_TRIGGER) >= 0)
				return;
			break;
		default:
			return;
	}
	g = guard_load_locked(stmt->relation, stmt->missing_ok);
	if (g == NULL)
		return;
	switch (stmt->renameType)
	{
		case OBJECT_COLUMN:
		case OBJECT_ATTRIBUTE:
			foreach(t, column_targets(g, stmt->relation, AccessExclusiveLock))
				guard_column(lfirst(t), "rename", stmt->subname);
			break;
		case OBJECT_TABCONSTRAINT:
			guard_constraint(g, "rename", stmt->subname);
			break;
		case OBJECT_TRIGGER:
			if (protection_trigger(stmt->subname))
				guard_trigger(g, "rename", stmt->subname);
			else if ((tgtype = trigger_type(g->relid, stmt->subname)) >= 0 &&
					 out_of_order(stmt->newname, tgtype))
				guard_order(g, "rename", stmt->subname, stmt->newname);
			break;
		default:
			break;
	}
}

/* CREATE [OR REPLACE] TRIGGER: a protection trigger, or one that would fire outside them. */
static void
guard_create_trigger(CreateTrigStmt *stmt)
{
	int16		tgtype;
	bool		seal = protection_trigger(stmt->trigname);
	GuardedTable *g;

	TRIGGER_CLEAR_TYPE(tgtype);
	if (stmt->row)
		TRIGGER_SETT_ROW(tgtype);
	tgtype |= stmt->timing;
	tgtype |= stmt->events;
	if (stmt->timing == TRIGGER_TYPE_INSTEAD)
	{
		/* locked as CREATE TRIGGER locks it */
		guard_plaintext_redirect(RangeVarGetRelid(stmt->relation, ShareRowExclusiveLock, false),
								 "INSTEAD OF trigger", stmt->trigname);
		return;
	}
	if (!seal && !out_of_order(stmt->trigname, tgtype))
		return;
	/* locked as CREATE TRIGGER locks it */
	g = guard_load(RangeVarGetRelid(stmt->relation, ShareRowExclusiveLock, false));
	if (!seal)
		guard_order(g, "create", stmt->trigname, stmt->trigname);
	else if (g->cols != NIL && !canonical_seal_trigger(stmt, g))
		guard_trigger(g, stmt->replace ? "replace" : "create", stmt->trigname);
}

/* DROP TRIGGER of the sealing trigger. */
static void
guard_drop(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_TRIGGER)
		return;
	foreach(lc, stmt->objects)
	{
		List	   *names = lfirst(lc);
		Oid			relid;

		if (!protection_trigger(strVal(llast(names))))
			continue;
		/* locked as DROP TRIGGER locks it */
		relid = RangeVarGetRelid(makeRangeVarFromNameList(list_truncate(list_copy(names),
																		list_length(names) - 1)),
								 AccessExclusiveLock, stmt->missing_ok);
		if (OidIsValid(relid))
			guard_trigger(guard_load(relid), "drop", strVal(llast(names)));
	}
}


/* A protected column as a DROP found it, to tell afterwards whether the DROP took it. */
typedef struct LeftColumn
{
	Oid			relid;
	char	   *name;			/* table.column, for the message */
	char	   *col;
	Oid			typid;
} LeftColumn;

/* What a DROP must leave in place: the protected columns, the keys, the trail. */
typedef struct LeaveCheck
{
	List	   *cols;			/* of LeftColumn */
	Oid			keys;
	Oid			trail;
} LeaveCheck;

static void
leave_refuse(List *cols)
{
	LeftColumn *first = linitial(cols);
	int			n = list_length(cols);

	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot drop privacy_guard while columns are protected"),
			 n == 1 ?
			 errdetail("Column %s is protected: dropping the extension would destroy its data and every data key, and nothing would record it.",
					   first->name) :
			 errdetail("Column %s and %d more are protected: dropping the extension would destroy their data and every data key, and nothing would record it.",
					   first->name, n - 1),
			 errhint("Turn each column back into plaintext first with privacy_guard.unprotect(table, column, to_plaintext => true) (audited), or drop its table; privacy_guard.protected_columns lists them.")));
}

/* The protected columns of live tables, with their types, read as the extension's owner. */
static List *
leave_columns(void)
{
	CatalogOwnerState owner;
	MemoryContext outer = CurrentMemoryContext;
	List	   *cols = NIL;

	CatalogBecomeOwner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(CatalogFreshSnapshot());
	if (SPI_execute("SELECT p.tbl::pg_catalog.oid, pg_catalog.format('%s.%I', p.tbl, p.col), p.col::pg_catalog.text, a.atttypid"
					" FROM privacy_guard.column_protection p"
					" JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) p.tbl"
					"  AND a.attname OPERATOR(pg_catalog.=) p.col AND NOT a.attisdropped"
					" ORDER BY 2", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read protected columns");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(t, d, 2);
		char	   *col = SPI_getvalue(t, d, 3);
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(outer);	/* outlives SPI */
		LeftColumn *c = palloc(sizeof(LeftColumn));

		c->relid = DatumGetObjectId(SPI_getbinval(t, d, 1, &isnull));
		c->name = pstrdup(name);
		c->col = pstrdup(col);
		c->typid = DatumGetObjectId(SPI_getbinval(t, d, 4, &isnull));
		cols = lappend(cols, c);
		MemoryContextSwitchTo(old);
	}
	PopActiveSnapshot();
	SPI_finish();
	CatalogRestoreUser(&owner);
	return cols;
}

/* Before a DROP: what must survive it, for leave_after(). */
static void
guard_leave(LeaveCheck *check)
{
	check->cols = leave_columns();
	check->keys = CatalogRelid("keys");
	check->trail = CatalogRelid("audit_records");
}

/*
 * After a DROP: whatever it named (DROP EXTENSION privacy_guard, DROP
 * SCHEMA of its schema, DROP EXTENSION plpgsql CASCADE, DROP OWNED BY its
 * owner with or without CASCADE, a function its types need), it must not
 * have taken the extension while a column is protected (its types, so
 * every protected column's data, and every key, unrecorded), a protected
 * column whose table is still there, or the extension's keys or trail.
 * The statement is undone with the error.
 */
static void
leave_after(LeaveCheck *check)
{
	ListCell   *lc;

	if (check->cols != NIL && !OidIsValid(get_extension_oid("privacy_guard", true)))
		leave_refuse(check->cols);
	if (!OidIsValid(get_extension_oid("privacy_guard", true)))
		return;
	foreach(lc, check->cols)
	{
		LeftColumn *c = lfirst(lc);
		HeapTuple	tup;
		bool		kept;

		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(c->relid)))
			continue;			/* its table was dropped: allowed */
		tup = SearchSysCacheAttName(c->relid, c->col);
		kept = HeapTupleIsValid(tup) && ((Form_pg_attribute) GETSTRUCT(tup))->atttypid == c->typid;
		if (HeapTupleIsValid(tup))
			ReleaseSysCache(tup);
		if (!kept)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop protected column %s", c->name),
					 errdetail("The statement would drop or retype it through a dependency, with its data."),
					 errhint("Call privacy_guard.unprotect() for the column first; it is audited.")));
	}
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(check->keys)) ||
		!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(check->trail)))
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop privacy_guard's keys or audit trail while the extension is installed"),
				 errdetail("Every sealed value would become unreadable, or the record of every access would go, and nothing would record it.")));
}

/* Is this object (a relation or a type) one of the extension's own? */
static bool
extension_member(Oid classid, Oid objid)
{
	return OidIsValid(objid) &&
		getExtensionOfObject(classid, objid) == get_extension_oid("privacy_guard", true);
}

/*
 * The extension's own tables and types change only with the extension
 * (ALTER EXTENSION privacy_guard UPDATE): ALTER TABLE of its keys (a
 * column dropped or retyped, SET UNLOGGED), RENAME, SET SCHEMA, TRUNCATE,
 * attaching one as another table's partition (whose ALTERs and bounds it
 * would then take), or making one another table's parent (its queries, the
 * writer's and verify_audit()'s, would read the child's rows), would
 * destroy, hide or forge what every sealed value and the trail rely on.
 */
static void
guard_extension_objects(Node *stmt)
{
	List	   *rels = NIL;
	Oid			typid = InvalidOid;
	ListCell   *lc;

	if (IsA(stmt, AlterTableStmt))
	{
		rels = list_make1(((AlterTableStmt *) stmt)->relation);
		/* attached to another table, one of ours would take that table's ALTERs and bounds */
		foreach(lc, ((AlterTableStmt *) stmt)->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if ((cmd->subtype == AT_AttachPartition || cmd->subtype == AT_DetachPartition ||
				 cmd->subtype == AT_DetachPartitionFinalize) && IsA(cmd->def, PartitionCmd))
				rels = lappend(rels, ((PartitionCmd *) cmd->def)->name);
			/* ... nor be another table's parent, whose rows it would then read as its own */
			else if ((cmd->subtype == AT_AddInherit || cmd->subtype == AT_DropInherit) &&
					 IsA(cmd->def, RangeVar))
				rels = lappend(rels, cmd->def);
		}
	}
	else if (IsA(stmt, CreateStmt) || IsA(stmt, CreateForeignTableStmt))
		rels = list_copy(((CreateStmt *) stmt)->inhRelations);	/* INHERITS, PARTITION OF */
	else if (IsA(stmt, TruncateStmt))
		rels = ((TruncateStmt *) stmt)->relations;
	else if (IsA(stmt, RenameStmt))
	{
		RenameStmt *r = (RenameStmt *) stmt;

		if (r->relation != NULL)
			rels = list_make1(r->relation);
		else if (r->renameType == OBJECT_TYPE || r->renameType == OBJECT_DOMAIN)
			typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(castNode(List, r->object)), true);
	}
	else if (IsA(stmt, AlterObjectSchemaStmt))
	{
		AlterObjectSchemaStmt *a = (AlterObjectSchemaStmt *) stmt;

		if (a->relation != NULL)
			rels = list_make1(a->relation);
		else if (a->objectType == OBJECT_TYPE || a->objectType == OBJECT_DOMAIN)
			typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(castNode(List, a->object)), true);
	}
	foreach(lc, rels)
	{
		Oid			relid = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);

		if (extension_member(RelationRelationId, relid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot change privacy_guard's table \"%s\"", get_rel_name(relid)),
					 errdetail("The extension's own tables change only with the extension (ALTER EXTENSION privacy_guard UPDATE): its keys and its trail are what every sealed value and every record rely on.")));
	}
	if (extension_member(TypeRelationId, typid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot change privacy_guard's type %s", format_type_be(typid)),
				 errdetail("The extension's own types change only with the extension (ALTER EXTENSION privacy_guard UPDATE).")));
}

/* ALTER EXTENSION privacy_guard DROP <member>: a member taken out is one its guard no longer sees. */
static void
guard_extension_contents(AlterExtensionContentsStmt *stmt)
{
	if (stmt->action < 0 && strcmp(stmt->extname, "privacy_guard") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot remove objects from extension privacy_guard"),
				 errdetail("Its objects protect each other: one taken out could be dropped or replaced behind its back.")));
}

/* ALTER TRIGGER of the sealing trigger ... DEPENDS ON EXTENSION. */
static void
guard_depends(AlterObjectDependsStmt *stmt)
{
	if (stmt->objectType != OBJECT_TRIGGER || stmt->remove ||
		!protection_trigger(strVal(linitial(castNode(List, stmt->object)))))
		return;
	guard_trigger(guard_load(RangeVarGetRelid(stmt->relation, AccessExclusiveLock, false)),
				  "make an extension own", strVal(linitial(castNode(List, stmt->object))));
}

/* ALTER TABLE ... SET SCHEMA privacy_guard of a table with protected columns. */
static void
guard_set_schema(AlterObjectSchemaStmt *stmt)
{
	GuardedTable *g;

	if (stmt->relation == NULL ||
		get_namespace_oid(stmt->newschema, true) != CatalogSchemaOid())
		return;
	g = guard_load_locked(stmt->relation, stmt->missing_ok);
	if (g == NULL || g->cols == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot move relation \"%s\" into schema \"%s\"",
					get_rel_name(g->relid), stmt->newschema),
			 errdetail("It has protected columns %s, and schema \"%s\" is for the extension's own objects.",
					   protected_list(g, NULL), stmt->newschema),
			 unprotect_hint(g, NULL, NULL)));
}

/*
 * A view or table with a column of an encrypted type whose writes the
 * owner's code would receive first (an INSTEAD OF trigger, a write rule):
 * the plaintext the application writes through it is not yet bound to any
 * category or subject, and that code could send it to any protected column.
 */
/*
 * A relation's live columns as (name, type) pairs, read from the catalog
 * without locking the relation: a role holding a lock on its own view must
 * not make other roles' DDL wait.
 */
typedef struct ColumnType
{
	char	   *name;
	Oid			type;
} ColumnType;

static List *
column_types(Oid relid)
{
	CatCList   *l = SearchSysCacheList1(ATTNUM, ObjectIdGetDatum(relid));
	List	   *cols = NIL;

	for (int i = 0; i < l->n_members; i++)
	{
		Form_pg_attribute a = (Form_pg_attribute) GETSTRUCT(&l->members[i]->tuple);

		if (a->attnum > 0 && !a->attisdropped)
		{
			ColumnType *c = palloc(sizeof(ColumnType));

			c->name = pstrdup(NameStr(a->attname));
			c->type = a->atttypid;
			cols = lappend(cols, c);
		}
	}
	ReleaseSysCacheList(l);
	return cols;
}

/*
 * Strip domains, arrays, multiranges and ranges from a type; InvalidOid
 * past a depth no application writes (not taken for safe).
 */
static Oid
innermost_type(Oid typ, int *depth)
{
	for (;;)
	{
		Oid			inner;

		typ = getBaseType(typ);
		if (OidIsValid(inner = get_element_type(typ)) ||
			OidIsValid(inner = get_multirange_range(typ)) ||
			OidIsValid(inner = get_range_subtype(typ)))
		{
			if (++(*depth) > 16)
				return InvalidOid;
			typ = inner;
			continue;
		}
		return typ;
	}
}

/*
 * Does a type hold an encrypted value (target InvalidOid), or contain the
 * type target: itself, or through domains, arrays, ranges, multiranges and
 * composites, at any depth?  Past a depth no application writes, the
 * answer is yes.  With lock, the row types looked into that the current
 * role owns stay locked until commit: an ALTER TYPE or ALTER TABLE giving
 * one an encrypted field waits for this transaction and then sees what it
 * created (and this one waits for such an ALTER in flight).  Other roles'
 * row types are not locked: that would let any role hold up their owners'
 * DDL.
 */
static bool
type_holds(Oid typ, Oid target, bool lock, int depth)
{
	Oid			relid;
	ListCell   *lc;

	if (depth > 16)
		return true;
	if (OidIsValid(target) && typ == target)
		return true;
	typ = innermost_type(typ, &depth);
	if (!OidIsValid(typ))
		return true;
	if (OidIsValid(target) ? typ == target : CatalogEncryptedType(typ) != 0)
		return true;
	relid = typeidTypeRelid(typ);
	if (!OidIsValid(relid))
		return false;
	if (lock && pg_class_ownercheck(relid, GetUserId()))
		LockRelationOid(relid, AccessShareLock);
	foreach(lc, column_types(relid))
	{
		if (type_holds(((ColumnType *) lfirst(lc))->type, target, lock, depth + 1))
			return true;
	}
	return false;
}

/*
 * A table's column of an array, domain, range or composite holding an
 * encrypted type: nothing seals what is written into it, nor can sealed_only()
 * look inside it, so an unsealed value would be stored as noise.  Refused
 * when the table is created or altered; the column takes the encrypted type
 * itself, protected.
 */
static void
guard_nested_encrypted(Oid relid)
{
	Relation	rel;
	TupleDesc	desc;

	if (!OidIsValid(relid) || get_rel_namespace(relid) == CatalogSchemaOid() ||
		(refreshing_concurrently && isAnyTempNamespace(get_rel_namespace(relid))))
		return;
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		return;
	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && CatalogEncryptedType(att->atttypid) == 0 &&
			type_holds(att->atttypid, InvalidOid, false, 0))
		{
			char	   *col = pstrdup(NameStr(att->attname));
			char	   *relname = pstrdup(RelationGetRelationName(rel));

			relation_close(rel, NoLock);
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of relation \"%s\" cannot be of type %s", col, relname,
							format_type_be(att->atttypid)),
					 errdetail("It holds an encrypted type inside an array, domain, range or composite, which nothing seals."),
					 errhint("Give the column an encrypted type itself, or its plaintext type, and protect it with privacy_guard.protect().")));
		}
	}
	relation_close(rel, NoLock);
}

/* A relation's owner. */
static Oid
rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* The relation a rewrite rule (a view's query) belongs to. */
static Oid
rule_relation(Oid ruleid)
{
	Relation	rel = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			found = InvalidOid;

	ScanKeyInit(&key, Anum_pg_rewrite_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ruleid));
	scan = systable_beginscan(rel, RewriteOidIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		found = ((Form_pg_rewrite) GETSTRUCT(tup))->ev_class;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * A relation whose row type (a table's, or a composite type's) has just
 * been given an encrypted field (ALTER TYPE ... ADD ATTRIBUTE, ALTER TABLE
 * ... ADD COLUMN): no column of a table may hold that row type, as itself
 * or inside an array, domain, range or another composite, for the same
 * reason as guard_nested_encrypted().  Found through the dependencies of
 * types and columns on types.
 */
static void
guard_nested_rowtype(Oid relid)
{
	Oid			rowtype;
	List	   *types;
	ListCell   *lc;

	if (!OidIsValid(relid) || !OidIsValid(rowtype = get_rel_type_id(relid)) ||
		!type_holds(rowtype, InvalidOid, false, 0))
		return;
	/* the row types of its children and partitions changed with it */
	types = NIL;
	if (get_rel_relkind(relid) == RELKIND_RELATION || get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
	{
		foreach(lc, find_all_inheritors(relid, NoLock, NULL))
			types = lappend_oid(types, get_rel_type_id(lfirst_oid(lc)));
	}
	else
		types = list_make1_oid(rowtype);
	foreach(lc, types)			/* grows as it goes: the types that hold rowtype */
	{
		Relation	dep = table_open(DependRelationId, AccessShareLock);
		ScanKeyData key[2];
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(TypeRelationId));
		ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(lfirst_oid(lc)));
		scan = systable_beginscan(dep, DependReferenceIndexId, true, NULL, 2, key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);
			char		kind;

			if (d->classid == TypeRelationId)	/* an array, domain or range over it */
				types = list_append_unique_oid(types, d->objid);
			else if (d->classid == RewriteRelationId)	/* a view's query uses it: the view's row type */
			{
				Oid			view = rule_relation(d->objid);

				if (OidIsValid(view) && OidIsValid(get_rel_type_id(view)))
					types = list_append_unique_oid(types, get_rel_type_id(view));
			}
			else if (d->classid == RelationRelationId && d->objsubid > 0 && d->objid != relid)
			{
				kind = get_rel_relkind(d->objid);
				if (kind == RELKIND_COMPOSITE_TYPE)
					types = list_append_unique_oid(types, get_rel_type_id(d->objid));
				else if (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE ||
						 kind == RELKIND_MATVIEW || kind == RELKIND_FOREIGN_TABLE)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("type %s cannot hold an encrypted type: column \"%s\" of relation \"%s\" (owned by role \"%s\") holds it",
									format_type_be(rowtype), get_attname(d->objid, d->objsubid, false),
									get_rel_name(d->objid), GetUserNameFromId(rel_owner(d->objid), false)),
							 errdetail("Nothing seals or checks an encrypted value inside an array, domain, range or composite."),
							 errhint("Keep encrypted values in a table whose row type no other table uses, or have that column's owner give it another type.")));
			}
		}
		systable_endscan(scan);
		table_close(dep, AccessShareLock);
	}
}

/*
 * An unsealed value written as a constant in an expression that is stored
 * (a DEFAULT's, a view's, a function body's: 'text' given to an encrypted
 * type), or any constant of an array, composite, domain or range holding
 * an encrypted type (whatever it holds inside).
 */
static bool
unsealed_constant(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Const) && !((Const *) node)->constisnull)
	{
		Oid			typ = ((Const *) node)->consttype;

		if (CatalogEncryptedType(typ) != 0)
			return UnsealedIsPending((struct varlena *) DatumGetPointer(((Const *) node)->constvalue));
		return type_holds(typ, InvalidOid, false, 0);
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, unsealed_constant, context, 0);
	return expression_tree_walker(node, unsealed_constant, context);
}

/*
 * A DEFAULT (or generation expression) holding an unsealed constant: its
 * value is noise once the session that wrote it ends, and pg_dump would
 * write it as a placeholder that no restore can read back.  Refused; the
 * same default written as text is converted (and, in a protected column,
 * sealed) when a row takes it.
 */
static void
guard_encrypted_defaults(Oid relid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	ListCell   *lc;

	if (!OidIsValid(relid) || get_rel_namespace(relid) == CatalogSchemaOid())
		return;
	rel = table_open(AttrDefaultRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_attrdef_adrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, AttrDefaultIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_attrdef def = (Form_pg_attrdef) GETSTRUCT(tup);
		bool		isnull;
		Datum		bin = heap_getattr(tup, Anum_pg_attrdef_adbin, RelationGetDescr(rel), &isnull);

		if (!isnull && unsealed_constant(stringToNode(TextDatumGetCString(bin)), NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the default of column \"%s\" of relation \"%s\" cannot be an unsealed value",
							get_attname(relid, def->adnum, false), get_rel_name(relid)),
					 errdetail("A constant given to an encrypted type is noise once this session ends, and pg_dump could not write it back."),
					 errhint("Write the default as text (DEFAULT 'value'::text): it is converted, and in a protected column sealed, when a row takes it.")));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	/*
	 * ADD COLUMN ... DEFAULT stores the default's value, evaluated once, for
	 * the rows already there (attmissingval): unsealed, it is noise, and a
	 * binary upgrade could not write it back.
	 */
	rel = table_open(AttributeRelationId, AccessShareLock);
	/* the table's, and its partitions' and children's (each keeps its own) */
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
	ScanKeyInit(&key, Anum_pg_attribute_attrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(lfirst_oid(lc)));
	scan = systable_beginscan(rel, AttributeRelidNumIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_attribute att = (Form_pg_attribute) GETSTRUCT(tup);
		bool		isnull;
		Datum		missing;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (att->attnum <= 0 || att->attisdropped || !att->atthasmissing ||
			CatalogEncryptedType(att->atttypid) == 0)
			continue;
		missing = heap_getattr(tup, Anum_pg_attribute_attmissingval, RelationGetDescr(rel), &isnull);
		if (isnull)
			continue;
		deconstruct_array(DatumGetArrayTypeP(missing), att->atttypid, att->attlen, att->attbyval,
						  att->attalign, &elems, &nulls, &n);
		if (n == 1 && !nulls[0] && UnsealedIsPending((struct varlena *) DatumGetPointer(elems[0])))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of relation \"%s\" cannot be added with a default that is unsealed for the rows already there",
							NameStr(att->attname), get_rel_name(att->attrelid)),
					 errdetail("The value is computed once, when the column is added, and is noise once this session ends."),
					 errhint("Add the column without a default, then SET DEFAULT: rows written later take it.")));
	}
	systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
}

/* A partition bound's values: constants, of the partition key's types. */
static bool
unsealed_bound(Node *bound)
{
	PartitionBoundSpec *spec = (PartitionBoundSpec *) bound;
	ListCell   *lc;

	if (bound == NULL || !IsA(bound, PartitionBoundSpec))
		return false;
	foreach(lc, spec->listdatums)
		if (unsealed_constant(lfirst(lc), NULL))
			return true;
	foreach(lc, list_concat_copy(spec->lowerdatums, spec->upperdatums))
	{
		PartitionRangeDatum *d = lfirst(lc);

		if (IsA(d, PartitionRangeDatum) && unsealed_constant(d->value, NULL))
			return true;
	}
	return false;
}

/*
 * The objects a DDL statement made or changed (the object access hook
 * records them) whose stored expressions hold an unsealed constant:
 * refused, as a DEFAULT's is (guard_encrypted_defaults()).  Views and
 * rules, SQL-standard function bodies and argument defaults, CHECK
 * constraints, index expressions and predicates, policies, trigger WHEN
 * conditions.
 */
static void
guard_stored_expressions(List *objects)
{
	ListCell   *lc;

	foreach(lc, objects)
	{
		ObjectAddress *obj = lfirst(lc);
		List	   *exprs = NIL;
		HeapTuple	tup;
		bool		isnull;
		Datum		d;

		if (obj->classId == ProcedureRelationId)
		{
			tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(obj->objectId));
			if (!HeapTupleIsValid(tup))
				continue;
			d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosqlbody, &isnull);
			if (!isnull)
				exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
			d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proargdefaults, &isnull);
			if (!isnull)
				exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
			ReleaseSysCache(tup);
		}
		else if (obj->classId == ConstraintRelationId)
		{
			tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objectId));
			if (!HeapTupleIsValid(tup))
				continue;
			d = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conbin, &isnull);
			if (!isnull)
				exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
			ReleaseSysCache(tup);
		}
		else if (obj->classId == RelationRelationId && obj->objectSubId == 0)
		{
			/* an index's expressions and predicate */
			tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(obj->objectId));
			if (HeapTupleIsValid(tup))
			{
				d = SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indexprs, &isnull);
				if (!isnull)
					exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
				d = SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indpred, &isnull);
				if (!isnull)
					exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
				ReleaseSysCache(tup);
			}
			/*
			 * A partitioned table's key: no encrypted value (its bounds would
			 * be constants of the type, unsealed; and encrypted values have
			 * no order of their own), nor one in its expressions.
			 */
			tup = SearchSysCache1(PARTRELID, ObjectIdGetDatum(obj->objectId));
			if (HeapTupleIsValid(tup))
			{
				Form_pg_partitioned_table pt = (Form_pg_partitioned_table) GETSTRUCT(tup);
				bool		encrypted = false;
				ListCell   *le;

				for (int i = 0; i < pt->partnatts; i++)
					encrypted |= pt->partattrs.values[i] != 0 &&
						type_holds(get_atttype(obj->objectId, pt->partattrs.values[i]), InvalidOid, false, 0);
				d = SysCacheGetAttr(PARTRELID, tup, Anum_pg_partitioned_table_partexprs, &isnull);
				if (!isnull)
				{
					Node	   *keyexprs = stringToNode(TextDatumGetCString(d));

					exprs = lappend(exprs, keyexprs);
					foreach(le, (List *) keyexprs)
						encrypted |= type_holds(exprType(lfirst(le)), InvalidOid, false, 0);
				}
				ReleaseSysCache(tup);
				if (encrypted)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot partition %s by an encrypted value", getObjectDescription(obj, false)),
							 errdetail("Its partition bounds would be constants of an encrypted type, which nothing seals."),
							 errhint("Partition by a column that is not encrypted (a date, an id).")));
			}
			/* a partition's bound */
			tup = SearchSysCache1(RELOID, ObjectIdGetDatum(obj->objectId));
			if (HeapTupleIsValid(tup))
			{
				d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
				if (!isnull && unsealed_bound(stringToNode(TextDatumGetCString(d))))
				{
					ReleaseSysCache(tup);
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("the partition bound of %s cannot hold an unsealed value", getObjectDescription(obj, false)),
							 errdetail("Its value is noise once this session ends, and pg_dump could not write it back."),
							 errhint("Partition by a column that is not encrypted.")));
				}
				ReleaseSysCache(tup);
			}
		}
		else if (obj->classId == StatisticExtRelationId)
		{
			tup = SearchSysCache1(STATEXTOID, ObjectIdGetDatum(obj->objectId));
			if (!HeapTupleIsValid(tup))
				continue;
			d = SysCacheGetAttr(STATEXTOID, tup, Anum_pg_statistic_ext_stxexprs, &isnull);
			if (!isnull)
				exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
			ReleaseSysCache(tup);
		}
		else if (obj->classId == TypeRelationId)
		{
			/* a domain's default */
			tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(obj->objectId));
			if (!HeapTupleIsValid(tup))
				continue;
			d = SysCacheGetAttr(TYPEOID, tup, Anum_pg_type_typdefaultbin, &isnull);
			if (!isnull)
				exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
			ReleaseSysCache(tup);
		}
		else if (obj->classId == RewriteRelationId || obj->classId == PolicyRelationId ||
				 obj->classId == TriggerRelationId || obj->classId == AttrDefaultRelationId)
		{
			Oid			index = obj->classId == RewriteRelationId ? RewriteOidIndexId :
				obj->classId == PolicyRelationId ? PolicyOidIndexId :
				obj->classId == TriggerRelationId ? TriggerOidIndexId : AttrDefaultOidIndexId;
			AttrNumber	oidcol = obj->classId == RewriteRelationId ? Anum_pg_rewrite_oid :
				obj->classId == PolicyRelationId ? Anum_pg_policy_oid :
				obj->classId == TriggerRelationId ? Anum_pg_trigger_oid : Anum_pg_attrdef_oid;
			AttrNumber	cols[2];
			Relation	cat = table_open(obj->classId, AccessShareLock);
			ScanKeyData key;
			SysScanDesc scan;

			if (obj->classId == RewriteRelationId)
			{
				cols[0] = Anum_pg_rewrite_ev_action;
				cols[1] = Anum_pg_rewrite_ev_qual;
			}
			else if (obj->classId == PolicyRelationId)
			{
				cols[0] = Anum_pg_policy_polqual;
				cols[1] = Anum_pg_policy_polwithcheck;
			}
			else if (obj->classId == TriggerRelationId)
			{
				cols[0] = Anum_pg_trigger_tgqual;
				cols[1] = InvalidAttrNumber;
			}
			else
			{
				cols[0] = Anum_pg_attrdef_adbin;
				cols[1] = InvalidAttrNumber;
			}
			ScanKeyInit(&key, oidcol, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(obj->objectId));
			scan = systable_beginscan(cat, index, true, NULL, 1, &key);
			if (HeapTupleIsValid(tup = systable_getnext(scan)))
				for (int i = 0; i < 2 && cols[i] != InvalidAttrNumber; i++)
				{
					d = heap_getattr(tup, cols[i], RelationGetDescr(cat), &isnull);
					if (!isnull)
						exprs = lappend(exprs, stringToNode(TextDatumGetCString(d)));
				}
			systable_endscan(scan);
			table_close(cat, AccessShareLock);
		}
		if (exprs != NIL && unsealed_constant((Node *) exprs, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s cannot hold an unsealed value, nor an array or composite constant of an encrypted type",
							getObjectDescription(obj, false)),
					 errdetail("A constant given to an encrypted type is noise once this session ends, and pg_dump could not write it back."),
					 errhint("Write the value as text and convert it where it is used; to search, compare with privacy_guard.blind_index('value', 'category'); to store, seal it with privacy_guard.seal().")));
	}
}

/* adding, renaming or dropping a sealed-only CHECK, whose ALTER TABLE comes back to the guard */
static bool sealed_only_busy = false;

/* the row's column attnum itself, in a CHECK's expression */
static bool
is_column(Node *n, AttrNumber attnum)
{
	return n != NULL && IsA(n, Var) && ((Var *) n)->varattno == attnum && ((Var *) n)->varlevelsup == 0;
}

/* a call of the extension's function of this name */
static bool
is_extension_call(Node *n, const char *fname)
{
	return n != NULL && IsA(n, FuncExpr) &&
		get_func_namespace(((FuncExpr *) n)->funcid) == CatalogSchemaOid() &&
		strcmp(get_func_name(((FuncExpr *) n)->funcid), fname) == 0;
}

/*
 * What keeps unsealed values out of a column, judged by the expression of
 * each CHECK of the relation that its children get too (never by a name,
 * which its owner chooses): 'p', protect()'s CHECK
 * (privacy_guard.check_sealed(col, ...)), validated or on a column the
 * catalog names (registered); 's', the guard's, validated: CHECK (col IS
 * NULL OR privacy_guard.sealed_only(col, '...') IS NOT NULL); or '\0'.
 * *conname gets the guard's constraint's name.  Not strict: any CHECK of
 * the guard's shape, NO INHERIT or not validated too (each must go before
 * the column is retyped).
 */
static char
column_check(Oid relid, AttrNumber attnum, bool registered, bool strict, char **conname)
{
	Relation	rel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char		found = '\0';

	if (conname)
		*conname = NULL;
	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, ConstraintRelidTypidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		bool		isnull;
		Datum		bin;
		Node	   *expr;

		if (con->contype != CONSTRAINT_CHECK)
			continue;
		bin = heap_getattr(tup, Anum_pg_constraint_conbin, RelationGetDescr(rel), &isnull);
		if (isnull)
			continue;
		/* one a child does not get (NO INHERIT) guards only this relation's rows: not enough */
		if (con->connoinherit && strict)
			continue;
		/* to drop: only what the relation defines itself (the rest goes with its parents') */
		if (!strict && !con->conislocal)
			continue;
		expr = stringToNode(TextDatumGetCString(bin));
		/*
		 * protect()'s is validated when added, and marked not validated
		 * once registered (pg_dump adds it after the data): one not
		 * validated counts only for a column the catalog names
		 */
		if (is_extension_call(expr, "check_sealed") &&
			is_column(linitial(((FuncExpr *) expr)->args), attnum) &&
			(con->convalidated || registered))
			found = 'p';
		else if ((con->convalidated || !strict) && IsA(expr, BoolExpr) && ((BoolExpr *) expr)->boolop == OR_EXPR &&
				 list_length(((BoolExpr *) expr)->args) == 2)
		{
			NullTest   *isnull_test = (NullTest *) linitial(((BoolExpr *) expr)->args);
			NullTest   *sealed_test = (NullTest *) lsecond(((BoolExpr *) expr)->args);

			if (IsA(isnull_test, NullTest) && isnull_test->nulltesttype == IS_NULL &&
				is_column((Node *) isnull_test->arg, attnum) &&
				IsA(sealed_test, NullTest) && sealed_test->nulltesttype == IS_NOT_NULL &&
				is_extension_call((Node *) sealed_test->arg, "sealed_only") &&
				list_length(((FuncExpr *) sealed_test->arg)->args) == 2 &&
				is_column(linitial(((FuncExpr *) sealed_test->arg)->args), attnum) &&
				IsA(lsecond(((FuncExpr *) sealed_test->arg)->args), Const))
			{
				if (found != 'p')
					found = 's';
				if (conname)
					*conname = pstrdup(NameStr(con->conname));
			}
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The guard's name for a column's sealed-only CHECK: <col>_sealed_only, cut
 * to fit, numbered if the relation has one of that name.  The same for the
 * same column name in every relation (a partition's CHECKs must be named
 * as its parent's).
 */
static char *
sealed_only_name(Oid relid, const char *col)
{
	for (int n = 0;; n++)
	{
		char	   *name = makeObjectName(col, NULL, n == 0 ? "sealed_only" : psprintf("sealed_only%d", n));

		if (!OidIsValid(relid) || !OidIsValid(get_relation_constraint_oid(relid, name, true)))
			return name;
	}
}

/* Run one ALTER TABLE of the guard's own (it comes back to the guard: nothing more to do then). */
static void
sealed_only_alter(const char *sql)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sealed_only_busy = true;
	PG_TRY();
	{
		if (SPI_execute(sql, false, 0) < 0)
			elog(ERROR, "could not run: %s", sql);
	}
	PG_FINALLY();
	{
		sealed_only_busy = false;
	}
	PG_END_TRY();
	SPI_finish();
}

static List *typed_tables(Oid relid);

/*
 * Storage-time guard of encrypted columns no protection covers (a table's
 * own, a copy made with CREATE TABLE AS, a column unprotect() left
 * encrypted): plaintext written there becomes a value unsealed under this
 * session's key, noise once the session ends.  The planner refuses most
 * such writes early (src/unsealed.c); what it cannot see (a BEFORE
 * trigger's change, a DEFAULT, a table rewrite's USING, a plan cached
 * before, EXPLAIN ANALYZE) is refused where the row is stored, by a CHECK
 * on each such column, added after every statement that may make one:
 *	 <col>_sealed_only CHECK (col IS NULL OR privacy_guard.sealed_only(col, '') IS NOT NULL)
 * (with '', sealed_only() returns NULL for an unsealed value: PostgreSQL
 * reports the CHECK it fails, naming the relation and the constraint)
 * A column counts as guarded by the expression of a CHECK on it, never by
 * its name (column_check()); the name is chosen free of any other.  It is
 * validated when added (the table's rows so far, a DEFAULT included), so
 * pg_dump writes it inside CREATE TABLE, where a restore finds it before
 * adding another.  Dropped, it comes back at the end of the statement; the
 * column retyped to plaintext, it goes first.  A composite type's typed
 * tables are guarded for it.  A materialized view cannot have a CHECK: its
 * rows are read once it is filled (fill true: created or refreshed).
 */
static void
guard_sealed_only(Oid relid, bool fill)
{
	Relation	rel;
	TupleDesc	desc;
	char		relkind;
	GuardedTable *g;
	List	   *cols = NIL;
	List	   *redundant = NIL;
	char	   *qualified;
	ListCell   *lc;

	if (sealed_only_busy || !OidIsValid(relid) || get_rel_namespace(relid) == CatalogSchemaOid() ||
		(refreshing_concurrently && isAnyTempNamespace(get_rel_namespace(relid))))
		return;
	relkind = get_rel_relkind(relid);
	if (relkind == RELKIND_COMPOSITE_TYPE)
	{
		foreach(lc, typed_tables(relid))
			guard_sealed_only(lfirst_oid(lc), false);
		return;
	}
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		!(relkind == RELKIND_MATVIEW && fill))
		return;
	g = guard_load(relid);
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		return;
	if (relkind == RELKIND_MATVIEW && !RelationIsPopulated(rel))
	{
		relation_close(rel, NoLock);	/* WITH NO DATA: read when refreshed */
		return;
	}
	qualified = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										   RelationGetRelationName(rel));
	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		covered = false;

		if (att->attisdropped || CatalogEncryptedType(att->atttypid) == 0)
			continue;
		foreach(lc, g->cols)
			covered |= strcmp(((GuardedColumn *) lfirst(lc))->col, NameStr(att->attname)) == 0;
		/*
		 * or protected as a schema-only restore makes it, before the catalog
		 * names it: protect()'s CHECK (not validated) and the sealing
		 * trigger (which only the extension's owner can make run seal_row())
		 */
		covered |= relkind != RELKIND_MATVIEW && UnsealedColumnSealed(rel, NameStr(att->attname)) &&
			column_check(relid, att->attnum, true, true, NULL) == 'p';
		/*
		 * A protected column needs none of the guard's CHECK: a restore
		 * makes the table before the catalog names the column (and adds
		 * protect()'s CHECK after the data), so the guard gave it one then.
		 */
		if (covered)
		{
			char	   *conname;

			if (relkind != RELKIND_MATVIEW && column_check(relid, att->attnum, true, false, &conname) != '\0' &&
				conname != NULL)
				redundant = lappend(redundant, conname);
			continue;
		}
		if (relkind != RELKIND_MATVIEW && column_check(relid, att->attnum, false, true, NULL) != '\0')
			continue;
		cols = lappend(cols, pstrdup(NameStr(att->attname)));
	}
	relation_close(rel, NoLock);
	foreach(lc, redundant)
		sealed_only_alter(psprintf("ALTER TABLE %s DROP CONSTRAINT %s", qualified, quote_identifier(lfirst(lc))));
	/* one at a time: each name is chosen free of the ones added before */
	foreach(lc, cols)
	{
		const char *col = lfirst(lc);
		/* the CHECK's: '' (PostgreSQL names the constraint); the scan's: the column */
		char	   *target = quote_literal_cstr(relkind == RELKIND_MATVIEW ?
												psprintf("column \"%s\" of materialized view %s", col, qualified) : "");

		if (relkind == RELKIND_MATVIEW)
			sealed_only_alter(psprintf("SELECT FROM %s WHERE privacy_guard.sealed_only(%s, %s::pg_catalog.text) IS NULL"
									   " AND %s IS NOT NULL", qualified, quote_identifier(col), target,
									   quote_identifier(col)));
		else
			sealed_only_alter(psprintf("ALTER TABLE %s ADD CONSTRAINT %s"
									   " CHECK (%s IS NULL OR privacy_guard.sealed_only(%s, %s::pg_catalog.text) IS NOT NULL)",
									   qualified, quote_identifier(sealed_only_name(relid, col)),
									   quote_identifier(col), quote_identifier(col), target));
	}
}

/*
 * Before ALTER TABLE (or ALTER TYPE ... CASCADE, for its typed tables)
 * changes an encrypted column's type to one that is not encrypted
 * (unprotect() turning it into plaintext, or the owner's own ALTER): the
 * guard's CHECK on it goes first, since its expression cannot be rebuilt
 * for the new type.
 */
static void
guard_sealed_only_retype(Oid relid, AlterTableStmt *stmt)
{
	ListCell   *lc;
	ListCell   *lt;
	List	   *relids;

	if (!OidIsValid(relid))
		return;
	/* the typed tables of a composite type, or the table and (unless ONLY) its children */
	if (get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE)
	{
		ListCell   *lc2;

		relids = NIL;
		foreach(lc2, typed_tables(relid))
			relids = list_concat_unique_oid(relids, find_all_inheritors(lfirst_oid(lc2), NoLock, NULL));
	}
	else
		relids = stmt->relation->inh ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	foreach(lt, relids)
	{
		Oid			target = lfirst_oid(lt);

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
			AttrNumber	attnum;
			char	   *conname;

			if (cmd->subtype != AT_AlterColumnType || cmd->name == NULL)
				continue;
			attnum = get_attnum(target, cmd->name);
			if (attnum == InvalidAttrNumber || CatalogEncryptedType(get_atttype(target, attnum)) == 0 ||
				CatalogEncryptedType(typenameTypeId(NULL, castNode(ColumnDef, cmd->def)->typeName)) != 0)
				continue;
			/* every one of the guard's shape, one at a time */
			while (column_check(target, attnum, false, false, &conname) == 's' && conname != NULL)
				sealed_only_alter(psprintf("ALTER TABLE %s DROP CONSTRAINT %s",
										   quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)),
																	  get_rel_name(target)),
										   quote_identifier(conname)));
		}
	}
}

/*
 * After a column is renamed: the guard's CHECK on it takes the column's new
 * name (when free), so that a partition made later with that column, which
 * gets the CHECK under that name, can be attached (PostgreSQL matches a
 * partition's CHECKs with the parent's by name).
 */
static void
guard_sealed_only_rename(RenameStmt *stmt)
{
	Oid			relid;
	AttrNumber	attnum;
	char	   *conname;
	char	   *wanted;

	if (stmt->renameType != OBJECT_COLUMN || stmt->relation == NULL || stmt->newname == NULL)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) || get_rel_namespace(relid) == CatalogSchemaOid())
		return;
	attnum = get_attnum(relid, stmt->newname);
	if (attnum == InvalidAttrNumber || CatalogEncryptedType(get_atttype(relid, attnum)) == 0 ||
		column_check(relid, attnum, false, true, &conname) != 's' || conname == NULL)
		return;
	wanted = makeObjectName(stmt->newname, NULL, "sealed_only");
	if (strcmp(conname, wanted) == 0 || OidIsValid(get_relation_constraint_oid(relid, wanted, true)))
		return;
	sealed_only_alter(psprintf("ALTER TABLE %s RENAME CONSTRAINT %s TO %s",
							   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														  get_rel_name(relid)),
							   quote_identifier(conname), quote_identifier(wanted)));
}

/* The first column that holds an encrypted value, or NULL. */
static char *
encrypted_column(Oid relid, bool lock)
{
	ListCell   *lc;

	foreach(lc, column_types(relid))
	{
		ColumnType *c = lfirst(lc);

		if (type_holds(c->type, InvalidOid, lock, 0))
			return c->name;
	}
	return NULL;
}

/* Has a relation an INSTEAD OF trigger or a rule other than ON SELECT? */
static bool
has_redirects(Oid relid)
{
	Relation	cat;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	cat = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(cat, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
		found = TRIGGER_FOR_INSTEAD(((Form_pg_trigger) GETSTRUCT(tup))->tgtype);
	systable_endscan(scan);
	table_close(cat, AccessShareLock);

	cat = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_rewrite_ev_class, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(cat, RewriteRelRulenameIndexId, true, NULL, 1, &key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
		found = ((Form_pg_rewrite) GETSTRUCT(tup))->ev_type != '1';	/* not ON SELECT */
	systable_endscan(scan);
	table_close(cat, AccessShareLock);
	return found;
}

/*
 * After CREATE OR REPLACE VIEW or ALTER TABLE: a relation that now has a
 * column holding an encrypted value must not keep an INSTEAD OF trigger or
 * a write rule it had before.
 */
static void
guard_redirect_after(Oid relid)
{
	const char *col = encrypted_column(relid, false);

	if (col != NULL && has_redirects(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("relation \"%s\" cannot have column \"%s\" of an encrypted type: it has INSTEAD OF triggers or write rules",
						get_rel_name(relid), col),
				 errdetail("Plaintext written to it would reach them before it is bound to a category and a subject."),
				 errhint("Drop its INSTEAD OF triggers and write rules first.")));
}

/* The tables typed with a composite type (none for other relations). */
static List *
typed_tables(Oid relid)
{
	Relation	classrel;
	ScanKeyData key;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *typed = NIL;

	if (get_rel_relkind(relid) != RELKIND_COMPOSITE_TYPE)
		return NIL;
	classrel = table_open(RelationRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_class_reloftype, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(get_rel_type_id(relid)));
	scan = table_beginscan_catalog(classrel, 1, &key);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		typed = lappend_oid(typed, ((Form_pg_class) GETSTRUCT(tup))->oid);
	table_endscan(scan);
	table_close(classrel, AccessShareLock);
	return typed;
}

/*
 * guard_redirect_after() on every relation that has an INSTEAD OF trigger
 * or a write rule and a column whose type contains one of rowtypes (the
 * row types of the relations a statement changed), the catalogs read once:
 * another relation's state is not this statement's to answer for.
 */
static void
guard_redirect_everywhere(List *rowtypes)
{
	List	   *relids = NIL;
	Relation	cat;
	SysScanDesc scan;
	HeapTuple	tup;
	ListCell   *lc;

	cat = table_open(TriggerRelationId, AccessShareLock);
	scan = systable_beginscan(cat, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger t = (Form_pg_trigger) GETSTRUCT(tup);

		if (TRIGGER_FOR_INSTEAD(t->tgtype))
			relids = list_append_unique_oid(relids, t->tgrelid);
	}
	systable_endscan(scan);
	table_close(cat, AccessShareLock);

	cat = table_open(RewriteRelationId, AccessShareLock);
	scan = systable_beginscan(cat, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_rewrite r = (Form_pg_rewrite) GETSTRUCT(tup);

		if (r->ev_type != '1')	/* not an ON SELECT rule */
			relids = list_append_unique_oid(relids, r->ev_class);
	}
	systable_endscan(scan);
	table_close(cat, AccessShareLock);

	foreach(lc, relids)
	{
		ListCell   *c;
		bool		uses = false;

		foreach(c, column_types(lfirst_oid(lc)))
		{
			ListCell   *t;

			foreach(t, rowtypes)
				uses = uses || type_holds(((ColumnType *) lfirst(c))->type, lfirst_oid(t), false, 0);
		}
		if (uses)
			guard_redirect_after(lfirst_oid(lc));
	}
}

static void
guard_plaintext_redirect(Oid relid, const char *what, const char *name)
{
	const char *col = encrypted_column(relid, true);

	if (col != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot create %s \"%s\" on relation \"%s\": its column \"%s\" has an encrypted type",
						what, name, get_rel_name(relid), col),
				 errdetail("Plaintext written to it would reach the %s before it is bound to a category and a subject.", what),
				 errhint("Let the application write to the protected table, or through a view without INSTEAD OF triggers or rules.")));
}

/*
 * CREATE RULE on a table with protected columns: a rule rewrites the
 * application's write before any trigger sees it, and could send the
 * plaintext it carries to a column of another category.
 */
static void
guard_create_rule(RuleStmt *stmt)
{
	GuardedTable *g;

	/* locked as CREATE RULE locks it */
	g = guard_load(RangeVarGetRelid(stmt->relation, AccessExclusiveLock, false));
	if (g->cols != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot create rule \"%s\" on relation \"%s\"", stmt->rulename, get_rel_name(g->relid)),
				 errdetail("It has protected columns %s; a rule could send the plaintext written to them to a column of another category.",
						   protected_list(g, NULL)),
				 unprotect_hint(g, NULL, NULL)));
	/* a table erasure or retention visits must stay one (a rule can make it a view) */
	if (g->erasure_subject != NULL || g->retention_time != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot create rule \"%s\" on relation \"%s\"", stmt->rulename, get_rel_name(g->relid)),
				 errdetail("Erasure or retention deletes or anonymises its rows by its column \"%s\".",
						   g->erasure_subject ? g->erasure_subject : g->retention_time),
				 g->erasure_subject ? unprotect_hint(g, g->erasure_subject, NULL) :
				 errhint("Remove its retention rule first with privacy_guard.set_retention(%s, %s, NULL, NULL).",
						 table_literal(g), quote_literal_cstr(g->retention_time))));
	/* a view's write rule gets the application's plaintext before any binding */
	if (stmt->event != CMD_SELECT)
		guard_plaintext_redirect(g->relid, "rule", stmt->rulename);
}

/* CREATE TABLE ... INHERITS (a table with protected columns). */
static void
guard_create_table(CreateStmt *stmt)
{
	ListCell   *lc;

	if (stmt->partbound != NULL)
		return;					/* its parent is partitioned: never protected */
	foreach(lc, stmt->inhRelations)
	{
		RangeVar   *parent = lfirst_node(RangeVar, lc);
		Oid			relid = RangeVarGetRelid(parent, NoLock, true);

		if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
			continue;
		/* locked as CREATE TABLE locks a parent */
		guard_tree(guard_load(RangeVarGetRelid(parent, ShareUpdateExclusiveLock, false)), false);
	}
}

/*
 * The guard's other half, after any DROP: what a statement dropped as a
 * dependency, not by name.  DROP DOMAIN, TYPE, COLLATION, FUNCTION or
 * OPERATOR ... CASCADE drops the columns, constraints and triggers that
 * depend on the object; none of them is named by the statement the hook
 * sees.  Each dropped column, CHECK and trigger is checked against the
 * catalog as the hook would check it by name, unless its table goes too.
 */
PG_FUNCTION_INFO_V1(pguard_guard_dropped);

Datum
pguard_guard_dropped(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	List	   *gone = NIL;		/* tables dropped whole */
	List	   *parts = NIL;	/* (kind, schema, table, name) of the rest */
	ListCell   *lc;
	int			rc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by event trigger manager");
	if (CatalogExtensionScript() || IsBinaryUpgrade || !CatalogExtensionInstalled() ||
		CatalogExtensionPredatesGuard())
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute("SELECT d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
					 " AND d.objsubid OPERATOR(pg_catalog.=) 0, d.objid, d.object_type,"
					 " d.address_names[1], d.address_names[2], d.address_names[3]"
					 " FROM pg_catalog.pg_event_trigger_dropped_objects() d"
					 " WHERE d.object_type OPERATOR(pg_catalog.=) ANY"
					 " ('{table,\"foreign table\",\"table column\",\"table constraint\",trigger}'::pg_catalog.text[])",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read dropped objects");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(outer);

		if (DatumGetBool(SPI_getbinval(t, d, 1, &isnull)))
			gone = lappend_oid(gone, DatumGetObjectId(SPI_getbinval(t, d, 2, &isnull)));
		else
			parts = lappend(parts, list_make4(SPI_getvalue(t, d, 3), SPI_getvalue(t, d, 4),
											  SPI_getvalue(t, d, 5), SPI_getvalue(t, d, 6)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	foreach(lc, parts)
	{
		List	   *p = lfirst(lc);
		const char *kind = linitial(p);
		Oid			nsp = get_namespace_oid(lsecond(p), true);
		Oid			relid = OidIsValid(nsp) ? get_relname_relid(lthird(p), nsp) : InvalidOid;
		GuardedTable *g;

		if (!OidIsValid(relid) || list_member_oid(gone, relid) || lfourth(p) == NULL)
			continue;
		g = guard_load(relid);
		if (strcmp(kind, "table column") == 0)
			guard_column(g, "drop", lfourth(p));
		else if (strcmp(kind, "table constraint") == 0)
			guard_constraint(g, "drop", lfourth(p));
		else if (protection_trigger(lfourth(p)))
			guard_trigger(g, "drop", lfourth(p));
	}
	PG_RETURN_VOID();
}

/*
 * Is an object privacy_guard's own?  What the planner evaluates for a
 * table's readers may use the extension's operators and its immutable
 * functions (comparison by search term) and the sealing CHECK; a policy may
 * not.
 */
#define PLANNER_CODE ((void *) "planner")

static bool
extension_object(Oid classid, Oid objid, void *context)
{
	return context != NULL && objid >= FirstNormalObjectId &&
		getExtensionOfObject(classid, objid) == get_extension_oid("privacy_guard", true);
}

/*
 * Could a function run code a role wrote?  One a role defined; or one of
 * the server's own that runs the SQL text it is given (query_to_xml() and
 * its kin, ts_stat(), ts_rewrite()).  context: as for runs_role_code().
 */
static bool
role_defined_function(Oid funcid, void *context)
{
	/* and none that changes the session (set_config()) or has other side effects */
	static const char *const runs_sql[] = {
		"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
		"table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
		"cursor_to_xml", "cursor_to_xmlschema", "schema_to_xml", "schema_to_xmlschema",
		"schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema",
		"database_to_xml_and_xmlschema", "ts_stat", "ts_rewrite",
		/* stable, yet they assign the reader's transaction an id */
		"pg_current_xact_id", "txid_current", NULL
	};
	char	   *name;

	/*
	 * privacy_guard's own: the pure ones (comparison by search term, the
	 * classifiers) and the sealing CHECK, not those that reveal, search or
	 * change the session, which would run with a writer's purpose.
	 */
	if (extension_object(ProcedureRelationId, funcid, context))
		return func_volatile(funcid) != PROVOLATILE_IMMUTABLE &&
			strcmp(get_func_name(funcid), "check_sealed") != 0;
	if (funcid >= FirstNormalObjectId || func_volatile(funcid) == PROVOLATILE_VOLATILE)
		return true;

	/*
	 * Nor a type input function (cstring: record_in() and domain_in() run
	 * a domain's CHECK, given a type's OID).  Polymorphic built-ins call the
	 * output and comparison functions of the types they are handed, which
	 * only superusers define; a value of a role's type they would build is
	 * refused by its type (runs_role_code()).
	 */
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
		bool		pseudo = false;

		if (HeapTupleIsValid(tup))
		{
			Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);

			for (int i = 0; i < proc->pronargs && !pseudo; i++)
				pseudo = proc->proargtypes.values[i] == CSTRINGOID ||
					proc->proargtypes.values[i] == INTERNALOID;
			/*
			 * A built-in written in SQL runs its text, parsed with the
			 * reader's search path: only pg_catalog's four whose text
			 * qualifies every name (concatenation and quoting of any type).
			 */
			if (proc->prolang != INTERNALlanguageId && proc->prolang != ClanguageId)
				pseudo |= proc->pronamespace != PG_CATALOG_NAMESPACE ||
					(strcmp(NameStr(proc->proname), "anytextcat") != 0 &&
					 strcmp(NameStr(proc->proname), "textanycat") != 0 &&
					 strcmp(NameStr(proc->proname), "quote_literal") != 0 &&
					 strcmp(NameStr(proc->proname), "quote_nullable") != 0);
			ReleaseSysCache(tup);
		}
		if (pseudo)
			return true;
	}
	name = get_func_name(funcid);
	for (int i = 0; name != NULL && runs_sql[i] != NULL; i++)
		if (strcmp(name, runs_sql[i]) == 0)
			return true;
	return false;
}

/* A type a role defined (the extension's encrypted types are not a role's). */
static bool
role_type(Oid typ)
{
	return typ >= FirstNormalObjectId && CatalogEncryptedType(typ) == 0;
}

/*
 * Does a row-security expression run code a role wrote, or read another
 * relation (whose own policies, or whose becoming a view, would)?  Role
 * functions, operators and casts, the built-ins that run SQL text, a
 * domain's CHECK constraints, and any subquery.  With a non-NULL context,
 * for what the planner evaluates, privacy_guard's own functions and
 * operators are allowed.
 */
static bool
runs_role_code(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink) || IsA(node, Query) || IsA(node, CoerceToDomain))
		return true;
	/*
	 * An operator a role defined, whatever function it names: the planner
	 * may put its negator or commutator, the role's, in its place.
	 */
	if ((IsA(node, OpExpr) || IsA(node, DistinctExpr) || IsA(node, NullIfExpr)) &&
		((OpExpr *) node)->opno >= FirstNormalObjectId &&
		!extension_object(OperatorRelationId, ((OpExpr *) node)->opno, context))
		return true;
	if (IsA(node, ScalarArrayOpExpr) && ((ScalarArrayOpExpr *) node)->opno >= FirstNormalObjectId &&
		!extension_object(OperatorRelationId, ((ScalarArrayOpExpr *) node)->opno, context))
		return true;
	if (IsA(node, RowCompareExpr))
	{
		ListCell   *lc;

		foreach(lc, ((RowCompareExpr *) node)->opnos)
			if (lfirst_oid(lc) >= FirstNormalObjectId)
				return true;
	}
	/*
	 * Values of types a role defined: a text cast to a composite runs the
	 * CHECKs of its domain fields (record_in), and so does an array's or a
	 * json_populate_record()'s.  A column of the row may have such a type
	 * (it is only passed along); the whole row, or anything computed, may
	 * not.
	 */
	/*
	 * Columns and constants of built-in types (or the extension's encrypted
	 * ones) only: a built-in handed a value of a role's type may look up
	 * that role's casts for it (to_jsonb() finds a cast to json).
	 */
	if (IsA(node, Var))
		return ((Var *) node)->varattno == 0 || role_type(((Var *) node)->vartype);
	if (IsA(node, Const))
		return role_type(((Const *) node)->consttype);
	if (IsA(node, Param))
		return role_type(((Param *) node)->paramtype);
	/*
	 * lists (arguments) and parts of expressions (CASE's WHEN) have no type
	 * of their own; the extension's encrypted types are built from its own
	 * functions, which are checked as functions below
	 */
	if (!IsA(node, List) && !IsA(node, CaseWhen) && role_type(exprType(node)))
		return true;
	/*
	 * A cast through text to a built-in type runs the source's output
	 * function (built in for every type: base types' need a superuser) and
	 * the target's input function; a cast to a role's type was refused above.
	 */
	if (IsA(node, CoerceViaIO))
		return runs_role_code((Node *) ((CoerceViaIO *) node)->arg, context);
	if (check_functions_in_node(node, role_defined_function, context))
		return true;
	return expression_tree_walker(node, runs_role_code, context);
}

/*
 * Row-security policies of a table with protected columns may use only
 * built-in functions and operators: a policy runs as whoever reads or
 * writes the table, with the purpose that role declared, so a function of
 * the owner's in it could reveal what that role may see and keep it.
 */
void
GuardCheckPolicies(Oid relid)
{
	Relation	rel = table_open(PolicyRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, PolicyPolrelidPolnameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_policy pol = (Form_pg_policy) GETSTRUCT(tup);
		AttrNumber	atts[2] = {Anum_pg_policy_polqual, Anum_pg_policy_polwithcheck};

		for (int i = 0; i < 2; i++)
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, atts[i], RelationGetDescr(rel), &isnull);

			if (!isnull && runs_role_code(stringToNode(TextDatumGetCString(d)), NULL))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("row-security policy \"%s\" of relation \"%s\" could run code another role wrote",
								NameStr(pol->polname), get_rel_name(relid)),
						 errdetail("A policy runs as whoever reads or writes the table, with the purpose they declared: on a table with protected columns it may use only the row's columns, constants, and built-in functions and operators that run no SQL, without subqueries or domains."),
						 errhint("Compare the row's columns with current_user or current_setting(), for example.")));
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * The expressions the planner evaluates for whoever queries a relation:
 * its indexes' expressions and predicates, its statistics objects'
 * expressions and its CHECK constraints (constraint exclusion, which
 * applies to a UNION ALL's members by default).  Planning simplifies each, running any immutable function in
 * it, as the role that plans, with its declared purpose, outside any
 * security-restricted operation.  Returns what runs role code ("index
 * \"x\"", ...), or NULL.
 */
char *
GuardPlannerRoleCode(Oid relid)
{
	struct
	{
		Oid			catalog;
		Oid			index;
		AttrNumber	key;
		AttrNumber	exprs[2];
		const char *what;
	}			sources[3] = {
		{IndexRelationId, IndexIndrelidIndexId, Anum_pg_index_indrelid,
		{Anum_pg_index_indexprs, Anum_pg_index_indpred}, "index"},
		{StatisticExtRelationId, StatisticExtRelidIndexId, Anum_pg_statistic_ext_stxrelid,
		{Anum_pg_statistic_ext_stxexprs, InvalidAttrNumber}, "statistics object"},
		{ConstraintRelationId, ConstraintRelidTypidNameIndexId, Anum_pg_constraint_conrelid,
		{Anum_pg_constraint_conbin, InvalidAttrNumber}, "constraint"},
	};
	char	   *found = NULL;

	for (int i = 0; i < lengthof(sources) && found == NULL; i++)
	{
		Relation	cat = table_open(sources[i].catalog, AccessShareLock);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, sources[i].key, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
		scan = systable_beginscan(cat, sources[i].index, true, NULL, 1, &key);
		while (found == NULL && HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			for (int e = 0; e < 2 && sources[i].exprs[e] != InvalidAttrNumber && found == NULL; e++)
			{
				bool		isnull;
				Datum		d = heap_getattr(tup, sources[i].exprs[e], RelationGetDescr(cat), &isnull);

				if (isnull || !runs_role_code(stringToNode(TextDatumGetCString(d)), PLANNER_CODE))
					continue;
				if (sources[i].catalog == IndexRelationId)
					found = psprintf("index \"%s\"", get_rel_name(((Form_pg_index) GETSTRUCT(tup))->indexrelid));
				else if (sources[i].catalog == StatisticExtRelationId)
					found = psprintf("statistics object \"%s\"", NameStr(((Form_pg_statistic_ext) GETSTRUCT(tup))->stxname));
				else
					found = psprintf("constraint \"%s\"", NameStr(((Form_pg_constraint) GETSTRUCT(tup))->conname));
			}
		}
		systable_endscan(scan);
		table_close(cat, AccessShareLock);
	}
	return found;
}

/*
 * A table with protected columns: neither its policies nor what the
 * planner evaluates for its readers (GuardPlannerRoleCode(), CHECK
 * constraints included: constraint exclusion folds them for the members of
 * a UNION ALL even with the default setting) may run code a role wrote.
 */
void
GuardCheckReaderCode(Oid relid)
{
	char	   *what;

	GuardCheckPolicies(relid);
	what = GuardPlannerRoleCode(relid);
	if (what != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s of relation \"%s\" could run code another role wrote", what, get_rel_name(relid)),
				 errdetail("The planner evaluates index expressions and predicates, statistics expressions and CHECK constraints (constraint exclusion, UNION ALL) for whoever queries the table, with the purpose they declared: on a table with protected columns they may use only the row's columns, constants, and built-in functions and operators that run no SQL."),
				 errhint("Index or compute with built-in functions only, or keep the expression on a table without protected columns.")));
}

PG_FUNCTION_INFO_V1(pguard_check_policies);

/*
 * check_policies(tbl): protect()'s check of a table's row-security
 * policies, and of its index and statistics expressions.
 */
Datum
pguard_check_policies(PG_FUNCTION_ARGS)
{
	GuardCheckReaderCode(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}

/*
 * Statements that need a database without sessions: its audit writer lets
 * go of it first (src/audit.c).  Only for a role the statement will not
 * refuse for want of rights (the statement checks them after this hook):
 * the owner of a database dropped, renamed or moved; a role that may
 * create databases and copy the template (its owner, or a template).
 */
static void
release_if_owner(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);

	if (OidIsValid(dboid) && pg_database_ownercheck(dboid, GetUserId()))
		AuditReleaseDatabase(dbname);
}

static void
guard_release_database(Node *stmt)
{
	ListCell   *lc;

	if (IsA(stmt, DropdbStmt))
		release_if_owner(((DropdbStmt *) stmt)->dbname);
	else if (IsA(stmt, RenameStmt) && ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
		release_if_owner(((RenameStmt *) stmt)->subname);
	else if (IsA(stmt, CreatedbStmt))
	{
		const char *template = "template1";
		Oid			dboid;
		HeapTuple	tup;
		bool		is_template = false;

		foreach(lc, ((CreatedbStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				template = defGetString(opt);
		}
		dboid = get_database_oid(template, true);
		if (!OidIsValid(dboid) || !have_createdb_privilege())
			return;
		tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
		if (HeapTupleIsValid(tup))
		{
			is_template = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
			ReleaseSysCache(tup);
		}
		if (is_template || pg_database_ownercheck(dboid, GetUserId()))
			AuditReleaseDatabase(template);
	}
	else if (IsA(stmt, AlterDatabaseStmt))
	{
		foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "tablespace") == 0)
				release_if_owner(((AlterDatabaseStmt *) stmt)->dbname);
		}
	}
}

/* Is this ALTER TABLE command a SET DEFAULT 'literal' of an encrypted column of relid? */
static bool
literal_default(AlterTableCmd *cmd, Oid relid)
{
	AttrNumber	attnum;

	if (cmd->subtype != AT_ColumnDefault || cmd->name == NULL || cmd->def == NULL ||
		!IsA(cmd->def, A_Const) || ((A_Const *) cmd->def)->isnull ||
		!IsA(&((A_Const *) cmd->def)->val, String))
		return false;
	attnum = get_attnum(relid, cmd->name);
	return attnum != InvalidAttrNumber && CatalogEncryptedType(get_atttype(relid, attnum)) != 0;
}

/*
 * ALTER TABLE ... ALTER COLUMN c SET DEFAULT 'literal' on an encrypted
 * column, as migration tools write a default: the literal, given to the
 * encrypted type, would be an unsealed constant (refused after the
 * statement: pg_dump could not write it back).  It is read as text
 * instead ('literal'::text, what the refusal's hint asks), which a
 * protected column's sealing trigger seals when a row takes it.  Returns
 * whether the statement was rewritten (in a copy, if it was read-only).
 */
static bool
default_as_text(PlannedStmt **pstmt, bool *readOnlyTree, Oid relid)
{
	AlterTableStmt *stmt = (AlterTableStmt *) (*pstmt)->utilityStmt;
	bool		any = false;
	ListCell   *lc;

	if (!OidIsValid(relid))
		return false;
	foreach(lc, stmt->cmds)
		any |= literal_default(lfirst_node(AlterTableCmd, lc), relid);
	if (!any)
		return false;
	/* the statement as it will run: a copy when the caller's must stay as it is */
	if (*readOnlyTree)
	{
		*pstmt = copyObject(*pstmt);
		*readOnlyTree = false;
		stmt = (AlterTableStmt *) (*pstmt)->utilityStmt;
	}
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		TypeCast   *cast;

		if (!literal_default(cmd, relid))
			continue;
		cast = makeNode(TypeCast);
		cast->arg = cmd->def;
		cast->typeName = makeTypeNameFromNameList(list_make2(makeString("pg_catalog"), makeString("text")));
		cast->location = -1;
		cmd->def = (Node *) cast;
	}
	return true;
}

/* The guard: statements that could undo protect()'s work, checked before they run. */
static void
guard_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	Oid			altered = InvalidOid;	/* ALTER TABLE's relation, found before it runs */
	Oid			indexed = InvalidOid;	/* CREATE INDEX's or STATISTICS' relation, likewise */
	Oid			dropped_db = InvalidOid;
	LeaveCheck	leave;
	bool		leaving = false;
	Oid			filled = InvalidOid;	/* a table whose encrypted columns get their CHECKs, last */
	bool		filled_anew = false;	/* and was filled: a materialized view is read then */
	bool		tracks = false; /* the statement makes a relation: which, by OID */
	bool		outer_tracking = tracking_creations;
	List	   *outer_created = created_relations;
	List	   *volatile made = NIL;
	List	   *volatile objects = NIL;
	bool		outer_tracking_objects = tracking_objects;
	List	   *outer_objects = stored_objects;
	bool		outer_refreshing = refreshing_concurrently;
	MemoryContext outer_tracking_cxt = tracking_cxt;
	ListCell   *lc_made;
	Oid			created = InvalidOid;

	CatalogNoteUtility(stmt);
	AuditUtilityStart(pstmt, queryString, context == PROCESS_UTILITY_TOPLEVEL);
	/* before pgaudit prints its text (EXECUTE's values, DO's body) */
	RedactUtility(stmt);
	guard_release_database(stmt);
	if (IsA(stmt, DropdbStmt))
		dropped_db = get_database_oid(((DropdbStmt *) stmt)->dbname, true);
	/*
	 * Found before the statement runs: code it runs (a CHECK being
	 * validated, a default, a USING expression) could change the search
	 * path, or make a same-named temporary table, before a lookup after it.
	 */
	/*
	 * The relations a CREATE TABLE, CREATE TABLE AS or EXPLAIN ANALYZE of one
	 * makes, by OID as PostgreSQL makes them (guard_object_access()): after
	 * the statement its new table may have been renamed by code the
	 * statement ran, and a lookup by name could find another.
	 */
	if (CatalogExtensionInstalled() && !CatalogExtensionScript() && !IsBinaryUpgrade &&
		(IsA(stmt, CreateStmt) || IsA(stmt, CreateTableAsStmt) ||
		 (IsA(stmt, ExplainStmt) && IsA(((ExplainStmt *) stmt)->query, Query) &&
		  ((Query *) ((ExplainStmt *) stmt)->query)->commandType == CMD_UTILITY &&
		  IsA(((Query *) ((ExplainStmt *) stmt)->query)->utilityStmt, CreateTableAsStmt))))
		tracks = true;
	if (IsA(stmt, AlterTableStmt) && CatalogExtensionInstalled())
	{
		altered = RangeVarGetRelid(((AlterTableStmt *) stmt)->relation, NoLock, true);
		if (!CatalogExtensionScript() && !IsBinaryUpgrade && !CatalogExtensionPredatesGuard())
		{
			guard_sealed_only_retype(altered, (AlterTableStmt *) stmt);
			if (default_as_text(&pstmt, &readOnlyTree, altered))
				stmt = pstmt->utilityStmt;
		}
	}
	if (IsA(stmt, IndexStmt) && CatalogExtensionInstalled())
	{
		IndexStmt  *is = (IndexStmt *) stmt;
		ListCell   *lc;
		bool		computed = is->whereClause != NULL;

		indexed = RangeVarGetRelid(is->relation, NoLock, true);
		foreach(lc, is->indexParams)
			computed |= ((IndexElem *) lfirst(lc))->expr != NULL;
		foreach(lc, is->indexIncludingParams)
			computed |= ((IndexElem *) lfirst(lc))->expr != NULL;

		/*
		 * CONCURRENTLY commits the index before the check after the
		 * statement could refuse it (and REINDEX would make it valid): an
		 * expression or a predicate is refused before it runs.
		 */
		if (is->concurrent && computed && OidIsValid(indexed) &&
			!CatalogExtensionScript() && !IsBinaryUpgrade && !CatalogExtensionPredatesGuard() &&
			guard_load(indexed)->cols != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot create an index with expressions or a predicate concurrently on relation \"%s\", which has protected columns",
							get_rel_name(indexed)),
					 errdetail("Its expressions are checked for code another role wrote after the index is built, which CONCURRENTLY commits first."),
					 errhint("Create the index without CONCURRENTLY.")));
	}
	if (IsA(stmt, CreateStatsStmt) && CatalogExtensionInstalled() &&
		list_length(((CreateStatsStmt *) stmt)->relations) == 1 &&
		IsA(linitial(((CreateStatsStmt *) stmt)->relations), RangeVar))
		indexed = RangeVarGetRelid(linitial(((CreateStatsStmt *) stmt)->relations), NoLock, true);
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
		case T_RenameStmt:
		case T_CreateTrigStmt:
		case T_DropStmt:
		case T_AlterObjectDependsStmt:
		case T_CreateStmt:
		case T_CreateForeignTableStmt:
		case T_AlterObjectSchemaStmt:
		case T_RuleStmt:
		case T_DropOwnedStmt:
		case T_AlterExtensionContentsStmt:
		case T_TruncateStmt:
			/*
			 * not the extension's own scripts (CREATE or ALTER EXTENSION), a
			 * binary upgrade, or where the extension is not installed; a
			 * read-only transaction (a standby's too) refuses these anyway.
			 * Nor where version 0.1 is installed: its protect() drops and
			 * re-creates the sealing trigger, and it has no unprotect().
			 */
			if (CatalogExtensionScript() || IsBinaryUpgrade || XactReadOnly ||
				!CatalogExtensionInstalled() || CatalogExtensionPredatesGuard())
				break;
			guard_extension_objects(stmt);
			if (IsA(stmt, AlterTableStmt))
				guard_alter_table((AlterTableStmt *) stmt);
			else if (IsA(stmt, RenameStmt))
				guard_rename((RenameStmt *) stmt);
			else if (IsA(stmt, CreateTrigStmt))
				guard_create_trigger((CreateTrigStmt *) stmt);
			else if (IsA(stmt, DropStmt))
			{
				guard_leave(&leave);
				leaving = true;
				guard_drop((DropStmt *) stmt);
			}
			else if (IsA(stmt, DropOwnedStmt))
			{
				guard_leave(&leave);
				leaving = true;
			}
			else if (IsA(stmt, AlterExtensionContentsStmt))
				guard_extension_contents((AlterExtensionContentsStmt *) stmt);
			else if (IsA(stmt, AlterObjectDependsStmt))
				guard_depends((AlterObjectDependsStmt *) stmt);
			else if (IsA(stmt, AlterObjectSchemaStmt))
				guard_set_schema((AlterObjectSchemaStmt *) stmt);
			else if (IsA(stmt, RuleStmt))
				guard_create_rule((RuleStmt *) stmt);
			else if (IsA(stmt, CreateStmt) || IsA(stmt, CreateForeignTableStmt))
				guard_create_table((CreateStmt *) stmt);	/* CreateForeignTableStmt begins with one */
			break;
		default:
			break;
	}
	tracking_creations = tracks;
	created_relations = NIL;
	tracking_objects = CatalogExtensionInstalled() && !CatalogExtensionScript() && !IsBinaryUpgrade;
	stored_objects = NIL;
	tracking_cxt = CurrentMemoryContext;
	if (IsA(stmt, RefreshMatViewStmt) && ((RefreshMatViewStmt *) stmt)->concurrent)
		refreshing_concurrently = true;
	PG_TRY();
	{
		if (UnsealedUtilityBegin(stmt))
		{
			PG_TRY();
			{
				if (prev_process_utility)
					prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
										 queryEnv, dest, qc);
				else
					standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
											queryEnv, dest, qc);
			}
			PG_FINALLY();
			{
				UnsealedUtilityEnd();
			}
			PG_END_TRY();
		}
		else if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
								 queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		AuditUtilityEnd(context == PROCESS_UTILITY_TOPLEVEL);
		made = created_relations;
		objects = stored_objects;
		tracking_creations = outer_tracking;
		created_relations = outer_created;
		tracking_objects = outer_tracking_objects;
		stored_objects = outer_objects;
		refreshing_concurrently = outer_refreshing;
		tracking_cxt = outer_tracking_cxt;
	}
	PG_END_TRY();
	AuditUtilityDone(context == PROCESS_UTILITY_TOPLEVEL);
	/* the first table or materialized view it made (not a sequence, index or TOAST table) */
	foreach(lc_made, tracks ? made : NIL)
	{
		char		kind = get_rel_relkind(lfirst_oid(lc_made));

		if (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE || kind == RELKIND_MATVIEW)
		{
			created = lfirst_oid(lc_made);
			break;
		}
	}

	if (leaving)
		leave_after(&leave);
	/* a new or altered table's columns: none holds an encrypted type nested */
	if ((IsA(stmt, CreateStmt) || IsA(stmt, AlterTableStmt) || IsA(stmt, CreateTableAsStmt)) &&
		!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
	{
		/* (CREATE ... IF NOT EXISTS of one that exists made nothing) */
		filled = IsA(stmt, AlterTableStmt) ? altered : created;
		filled_anew = IsA(stmt, CreateTableAsStmt);
		guard_nested_encrypted(filled);
		guard_encrypted_defaults(filled);
		if (IsA(stmt, AlterTableStmt))
			guard_nested_rowtype(altered);
	}
	/* EXPLAIN ANALYZE CREATE TABLE AS fills a table too */
	if (IsA(stmt, ExplainStmt) && tracks && !CatalogExtensionPredatesGuard())
	{
		filled = created;
		filled_anew = true;
		guard_nested_encrypted(filled);
	}
	/* REFRESH MATERIALIZED VIEW fills one again */
	if (IsA(stmt, RefreshMatViewStmt) &&
		!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
	{
		filled = RangeVarGetRelid(((RefreshMatViewStmt *) stmt)->relation, NoLock, true);
		filled_anew = true;
	}
	/* a sealing trigger made (a restore's) may make the guard's CHECK redundant */
	if (IsA(stmt, CreateTrigStmt) &&
		!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
		filled = RangeVarGetRelid(((CreateTrigStmt *) stmt)->relation, NoLock, true);
	/* a renamed column's CHECK follows its name */
	if (IsA(stmt, RenameStmt) &&
		!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
		guard_sealed_only_rename((RenameStmt *) stmt);
	if (OidIsValid(dropped_db))
		AuditForgetDatabase(dropped_db);

	/* a view or table that gained an encrypted column keeps no redirection */
	if ((IsA(stmt, ViewStmt) || IsA(stmt, AlterTableStmt)) &&
		!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
	{
		List	   *targets = NIL;
		ListCell   *t;

		/*
		 * The relation as the statement found it: ALTER's, looked up before
		 * it ran; CREATE [OR REPLACE] VIEW's in its creation schema (not a
		 * same-named relation pg_temp or pg_catalog puts first in the
		 * search), and in this session's temporary schema too, where
		 * PostgreSQL puts a view that reads a temporary table.
		 */
		if (IsA(stmt, ViewStmt))
		{
			RangeVar   *rv = ((ViewStmt *) stmt)->view;
			Oid			temp_nsp = LookupExplicitNamespace("pg_temp", true);

			targets = lappend_oid(targets, get_relname_relid(rv->relname, RangeVarGetCreationNamespace(rv)));
			if (OidIsValid(temp_nsp))
				targets = lappend_oid(targets, get_relname_relid(rv->relname, temp_nsp));
		}
		else
			targets = list_make1_oid(altered);

		foreach(t, targets)
		{
		Oid			relid = lfirst_oid(t);

		/* CREATE OR REPLACE VIEW may give a row type another table uses an encrypted column */
		if (IsA(stmt, ViewStmt))
			guard_nested_rowtype(relid);

		/*
		 * Every relation whose row type the statement changed: the relation,
		 * its inheritance children and partitions, the tables typed with a
		 * composite type, and theirs in turn.  Each is checked, and so is
		 * every relation with an INSTEAD OF trigger or a write rule whose
		 * columns contain one of their row types.
		 */
		/* (nothing to do unless the row type now holds an encrypted type) */
		if (OidIsValid(relid) && OidIsValid(get_rel_type_id(relid)) &&
			type_holds(get_rel_type_id(relid), InvalidOid, false, 0))
		{
			List	   *changed = list_make1_oid(relid);
			List	   *rowtypes = NIL;
			ListCell   *lc;

			foreach(lc, changed)
			{
				Oid			r = lfirst_oid(lc);
				ListCell   *k;

				foreach(k, find_all_inheritors(r, NoLock, NULL))
					changed = list_append_unique_oid(changed, lfirst_oid(k));
				foreach(k, typed_tables(r))
					changed = list_append_unique_oid(changed, lfirst_oid(k));
			}
			foreach(lc, changed)
			{
				guard_redirect_after(lfirst_oid(lc));
				if (OidIsValid(get_rel_type_id(lfirst_oid(lc))))
					rowtypes = lappend_oid(rowtypes, get_rel_type_id(lfirst_oid(lc)));
			}
			guard_redirect_everywhere(rowtypes);
		}
		}
	}

	/* a policy is checked as PostgreSQL stored it, names resolved */
	if ((IsA(stmt, CreatePolicyStmt) || IsA(stmt, AlterPolicyStmt)) &&
		!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
	{
		RangeVar   *table = IsA(stmt, CreatePolicyStmt) ? ((CreatePolicyStmt *) stmt)->table :
		((AlterPolicyStmt *) stmt)->table;
		GuardedTable *g = guard_load(RangeVarGetRelid(table, NoLock, false));

		if (g->cols != NIL)
			GuardCheckPolicies(g->relid);
	}

	/*
	 * An index, statistics object or constraint (ALTER TABLE ... ADD
	 * UNIQUE, EXCLUDE) whose expressions the planner evaluates for the
	 * table's readers, checked as PostgreSQL stored it.
	 */
	if ((OidIsValid(indexed) || OidIsValid(altered)) &&
		!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
	{
		GuardedTable *g = guard_load(OidIsValid(indexed) ? indexed : altered);

		if (g->cols != NIL)
			GuardCheckReaderCode(g->relid);
	}

	if (!CatalogExtensionScript() && !IsBinaryUpgrade && CatalogExtensionInstalled() &&
		!CatalogExtensionPredatesGuard())
		guard_stored_expressions(objects);

	/* last: every check above passed for what the statement made */
	guard_sealed_only(filled, filled_anew);
}

/*
 * Install the guard in front of the hooks installed before it: the
 * extension's one ProcessUtility hook, which also tells the catalog of
 * role changes (CatalogNoteUtility()).
 */
/*
 * Relations made while a statement that makes one runs, in the order made:
 * the object access hook sees each as PostgreSQL creates it.
 */
static void
guard_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
	if (tracking_creations && access == OAT_POST_CREATE && classId == RelationRelationId && subId == 0)
	{
		MemoryContext old = MemoryContextSwitchTo(tracking_cxt);

		created_relations = lappend_oid(created_relations, objectId);
		MemoryContextSwitchTo(old);
	}
	if (tracking_objects && (access == OAT_POST_CREATE || access == OAT_POST_ALTER) &&
		(classId == ProcedureRelationId || classId == ConstraintRelationId ||
		 classId == RewriteRelationId || classId == PolicyRelationId ||
		 classId == TriggerRelationId || classId == AttrDefaultRelationId ||
		 classId == StatisticExtRelationId || classId == TypeRelationId ||
		 (classId == RelationRelationId && subId == 0)))
	{
		MemoryContext old = MemoryContextSwitchTo(tracking_cxt);
		ObjectAddress *obj = palloc(sizeof(ObjectAddress));

		obj->classId = classId;
		obj->objectId = objectId;
		obj->objectSubId = 0;
		stored_objects = lappend(stored_objects, obj);
		MemoryContextSwitchTo(old);
	}
}

void
GuardInit(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = guard_process_utility;
	prev_object_access = object_access_hook;
	object_access_hook = guard_object_access;
}

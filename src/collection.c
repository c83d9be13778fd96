/*-------------------------------------------------------------------------
 * src/collection.c
 *	  The collection guard: a new column whose name suggests personal data
 *	  must be protected.
 *
 * Every column that comes into being (a new table of any kind that holds
 * rows: CREATE TABLE in any form, CREATE TABLE AS, SELECT INTO, CREATE
 * MATERIALIZED VIEW, typed tables; ALTER TABLE ... ADD COLUMN, also when
 * ALTER TYPE ... ADD ATTRIBUTE CASCADE adds it) is seen by an object access
 * hook; a column renamed or given another type by ALTER TABLE is seen by
 * the event trigger at the end of the command.  A column whose name
 * suggests personal data (DiscoverNameSuggests) and that is not protected
 * (not of one of the encrypted_* types) gets, by
 * privacy_guard.collection_guard:
 *
 *	 warn	a WARNING when the transaction commits, unless protect() has
 *			converted the column by then;
 *	 error	refused when the transaction commits unless protect() has
 *			converted the column by then (so CREATE TABLE and protect() go
 *			together in one transaction);
 *	 off	nothing.
 *
 * A name that suggests one of the special categories the policy never
 * collects (health, religion...) gets its warning, or error, at the end of
 * the command.
 *
 * The guard catches accidents, not a table owner set on storing personal
 * data under a neutral name.  The setting is superuser-only: the roles it
 * guards cannot turn it off.  Binary upgrades and CREATE EXTENSION are not
 * checked.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "collection.h"
#include "discover.h"

typedef enum CollectionGuard
{
	GUARD_OFF,
	GUARD_WARN,
	GUARD_ERROR
} CollectionGuard;

static const struct config_enum_entry guard_options[] = {
	{"off", GUARD_OFF, false},
	{"warn", GUARD_WARN, false},
	{"error", GUARD_ERROR, false},
	{NULL, 0, false}
};

static int	collection_guard = GUARD_WARN;

/* A new column (attnum), or every column of a new relation (0). */
typedef struct NewColumn
{
	Oid			relid;
	AttrNumber	attnum;
} NewColumn;

/* A suspect column to check again at commit. */
typedef struct Suspect
{
	Oid			relid;
	bool		refuse;			/* error mode, else a warning */
	char		attname[NAMEDATALEN];
	char		label[NAMEDATALEN];
} Suspect;

/* both in TopTransactionContext */
static List *new_columns = NIL;
static List *suspects = NIL;

static object_access_hook_type prev_object_access_hook = NULL;

static bool
guard_active(void)
{
	return collection_guard != GUARD_OFF && !creating_extension && !IsBinaryUpgrade;
}

/* The type of a column, or InvalidOid if it does not exist. */
static Oid
column_type(Oid relid, const char *attname)
{
	HeapTuple	tup = SearchSysCacheAttName(relid, attname);
	Oid			typid;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	typid = ((Form_pg_attribute) GETSTRUCT(tup))->atttypid;
	ReleaseSysCache(tup);
	return typid;
}

/*
 * Is the column protected: of one of the encrypted_* types?  *exists says
 * whether the column is there at all.
 */
static bool
column_protected(Oid relid, const char *attname, bool *exists)
{
	Oid			typid = column_type(relid, attname);

	*exists = OidIsValid(typid);
	return *exists && CatalogEncryptedType(typid) != 0;
}

/* Look at one column now that its command has ended. */
static void
check_column(Oid relid, const char *attname)
{
	const char *label;
	bool		exists;
	MemoryContext old;
	Suspect    *s;

	if (column_protected(relid, attname, &exists) || !exists)
		return;
	label = DiscoverNameSuggests(attname);
	if (label == NULL)
		return;
	if (DiscoverLabelIsSpecial(label))
		ereport(collection_guard == GUARD_ERROR ? ERROR : WARNING,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("column \"%s\" of table %s suggests %s data, which the policy never collects",
						attname, get_rel_name(relid), label),
				 errdetail("Special categories of personal data irrelevant to shopping are not stored."),
				 errhint("Rename or drop the column if it holds something else.")));
	else
	{
		old = MemoryContextSwitchTo(TopTransactionContext);
		s = palloc0(sizeof(Suspect));
		s->relid = relid;
		s->refuse = collection_guard == GUARD_ERROR;
		strlcpy(s->attname, attname, sizeof(s->attname));
		strlcpy(s->label, label, sizeof(s->label));
		suspects = lappend(suspects, s);
		MemoryContextSwitchTo(old);
	}
}

/* Does a relation of this kind, outside the extension's schema, hold collected rows? */
static bool
collects(Oid relid)
{
	char		kind = get_rel_relkind(relid);

	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE &&
		kind != RELKIND_FOREIGN_TABLE && kind != RELKIND_MATVIEW)
		return false;
	return get_rel_namespace(relid) != CatalogSchemaOid();
}

/* Check the columns that came into being since the last look. */
static void
check_new_columns(void)
{
	List	   *pending = new_columns;
	ListCell   *lc;

	new_columns = NIL;
	/*
	 * The library is loaded in every process; the policy lives in some
	 * databases.  (Ask only with something to check: background processes
	 * commit without a database.)
	 */
	if (pending == NIL || !CatalogExtensionInstalled())
		return;
	foreach(lc, pending)
	{
		NewColumn  *nc = lfirst(lc);
		HeapTuple	tup;

		if (!collects(nc->relid))
			continue;			/* gone, or not a table */
		if (nc->attnum > 0)
		{
			char	   *attname = get_attname(nc->relid, nc->attnum, true);

			if (attname != NULL)
				check_column(nc->relid, attname);
			continue;
		}
		for (AttrNumber a = 1;; a++)
		{
			Form_pg_attribute att;
			char		attname[NAMEDATALEN];
			bool		dropped;

			tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(nc->relid), Int16GetDatum(a));
			if (!HeapTupleIsValid(tup))
				break;
			att = (Form_pg_attribute) GETSTRUCT(tup);
			strlcpy(attname, NameStr(att->attname), sizeof(attname));
			dropped = att->attisdropped;
			ReleaseSysCache(tup);
			if (!dropped)
				check_column(nc->relid, attname);
		}
	}
}

/* Note every relation and column created; they are looked at later. */
static void
collection_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_POST_CREATE && classId == RelationRelationId && guard_active())
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		NewColumn  *nc = palloc(sizeof(NewColumn));

		nc->relid = objectId;
		nc->attnum = (AttrNumber) subId;
		new_columns = lappend(new_columns, nc);
		MemoryContextSwitchTo(old);
	}
}

PG_FUNCTION_INFO_V1(pguard_collection_guard);

/* The event trigger at ddl_command_end. */
Datum
pguard_collection_guard(PG_FUNCTION_ARGS)
{
	Node	   *stmt;
	Oid			relid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("collection_guard() must be called as an event trigger")));
	if (!guard_active())
	{
		new_columns = NIL;
		PG_RETURN_VOID();
	}
	check_new_columns();

	/* columns renamed, or given another type */
	stmt = ((EventTriggerData *) fcinfo->context)->parsetree;
	if (IsA(stmt, RenameStmt))
	{
		RenameStmt *rs = (RenameStmt *) stmt;

		if (rs->renameType == OBJECT_COLUMN && rs->relation != NULL &&
			OidIsValid(relid = RangeVarGetRelid(rs->relation, NoLock, true)) && collects(relid))
			check_column(relid, rs->newname);
	}
	else if (IsA(stmt, AlterTableStmt))
	{
		AlterTableStmt *at = (AlterTableStmt *) stmt;
		ListCell   *lc;

		if (!OidIsValid(relid = RangeVarGetRelid(at->relation, NoLock, true)) || !collects(relid))
			PG_RETURN_VOID();
		foreach(lc, at->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_AlterColumnType && cmd->name != NULL)
				check_column(relid, cmd->name);
		}
	}
	PG_RETURN_VOID();
}

/* Every suspect column must be protected (or gone) by commit. */
static void
collection_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			{
				List	   *pending;
				ListCell   *lc;

				/* columns made by commands no event trigger saw (EXPLAIN ANALYZE ...) */
				if (guard_active())
					check_new_columns();
				new_columns = NIL;
				pending = suspects;
				suspects = NIL;
				if (pending != NIL && !CatalogExtensionInstalled())
					break;		/* dropped in this transaction */
				foreach(lc, pending)
				{
					Suspect    *s = lfirst(lc);
					bool		exists;

					if (column_protected(s->relid, s->attname, &exists) || !exists)
						continue;
					if (s->refuse)
						ereport(ERROR,
								(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
								 errmsg("column \"%s\" of table %s suggests %s data and is not protected",
										s->attname, get_rel_name(s->relid), s->label),
								 errdetail("privacy_guard.collection_guard is \"error\": personal data is collected only in protected columns."),
								 errhint("Call privacy_guard.protect() on it in the same transaction, or rename or drop it.")));
					ereport(WARNING,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("column \"%s\" of table %s suggests %s data and is not protected",
									s->attname, get_rel_name(s->relid), s->label),
							 errhint("Protect it with privacy_guard.protect(), or keep personal data out of it.")));
				}
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			new_columns = suspects = NIL;	/* TopTransactionContext is going away */
			break;
		default:
			break;
	}
}

void
CollectionInit(void)
{
	DefineCustomEnumVariable("privacy_guard.collection_guard",
							 "What to do when a new column's name suggests personal data and it is not protected.",
							 "warn: a warning at commit; error: refused at commit unless protected by then; "
							 "special categories at once; off: nothing.",
							 &collection_guard,
							 GUARD_WARN,
							 guard_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	prev_object_access_hook = object_access_hook;
	object_access_hook = collection_object_access;
	RegisterXactCallback(collection_xact_callback, NULL);
}

/*-------------------------------------------------------------------------
 * src/collection.c
 *	  The collection guard: a new column whose name suggests personal data
 *	  must be protected.
 *
 * An event trigger at the end of CREATE TABLE, CREATE TABLE AS, SELECT
 * INTO and ALTER TABLE (ADD COLUMN, RENAME COLUMN) looks at the new
 * columns' names with privacy_guard.name_suggests().  A name that suggests
 * personal data in a column that is not protected (not of an encrypted_*
 * type) is, by privacy_guard.collection_guard:
 *
 *	 warn	a WARNING naming the column and the category it suggests, when
 *			the transaction commits, unless protect() has converted the
 *			column by then;
 *	 error	refused when the transaction commits unless protect() has
 *			converted the column by then (so CREATE TABLE and protect() go
 *			together in one transaction);
 *	 off	nothing.
 *
 * A name that suggests one of the special categories the policy never
 * collects (health, religion...) gets its warning, or error, at once.
 *
 * The setting is superuser-only: the roles it guards cannot turn it off.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "access/table.h"

#include "collection.h"

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

/* A suspect column to check again at commit (error mode). */
typedef struct Suspect
{
	Oid			relid;
	bool		refuse;			/* error mode, else a warning */
	char		attname[NAMEDATALEN];
	char		label[NAMEDATALEN];
} Suspect;

static List *suspects = NIL;	/* in TopTransactionContext */

/* The SQL function name(colname name) -> text, or InvalidOid. */
static Oid
lookup_function(const char *name, int nargs, Oid argtype)
{
	Oid			argtypes[1] = {argtype};

	return LookupFuncName(list_make2(makeString("privacy_guard"), makeString(pstrdup(name))),
						  nargs, argtypes, true);
}

/* The category a column name suggests, or NULL. */
static char *
name_suggests(Oid fn, const char *attname)
{
	NameData	n;
	LOCAL_FCINFO(fcinfo, 1);
	FmgrInfo	flinfo;
	Datum		d;

	namestrcpy(&n, attname);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = NameGetDatum(&n);
	fcinfo->args[0].isnull = false;
	d = FunctionCallInvoke(fcinfo);
	return fcinfo->isnull ? NULL : TextDatumGetCString(d);
}

/* Is the label one of the special categories the policy never collects? */
static bool
is_special(const char *label)
{
	Oid			fn = lookup_function("special_categories", 0, InvalidOid);
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (!OidIsValid(fn))
		return false;
	arr = DatumGetArrayTypeP(OidFunctionCall0Coll(fn, InvalidOid));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), label) == 0)
			return true;
	return false;
}

/*
 * Is the column protected: of one of privacy_guard's types, or the blind
 * index protect() keeps beside a column (<col>_bidx)?  Also false when the
 * column no longer exists.
 */
static bool
column_state(Oid relid, const char *attname, bool *exists)
{
	HeapTuple	tup;
	Form_pg_attribute att;
	Oid			nsp;
	size_t		len = strlen(attname);

	*exists = false;
	tup = SearchSysCacheAttName(relid, attname);
	if (!HeapTupleIsValid(tup))
		return false;
	att = (Form_pg_attribute) GETSTRUCT(tup);
	*exists = true;
	nsp = get_namespace_oid("privacy_guard", true);
	if (OidIsValid(nsp))
	{
		HeapTuple	typ = SearchSysCache1(TYPEOID, ObjectIdGetDatum(att->atttypid));

		if (HeapTupleIsValid(typ))
		{
			bool		ours = ((Form_pg_type) GETSTRUCT(typ))->typnamespace == nsp;

			ReleaseSysCache(typ);
			if (ours)
			{
				ReleaseSysCache(tup);
				return true;
			}
		}
	}
	ReleaseSysCache(tup);
	if (len > 5 && strcmp(attname + len - 5, "_bidx") == 0)
	{
		char	   *sibling = pnstrdup(attname, len - 5);

		tup = SearchSysCacheAttName(relid, sibling);
		if (HeapTupleIsValid(tup))
		{
			ReleaseSysCache(tup);
			return true;
		}
	}
	return false;
}

/* Look at one new column. */
static void
check_column(Oid fn, Oid relid, const char *attname)
{
	char	   *label;
	bool		exists;
	MemoryContext old;
	Suspect    *s;

	if (column_state(relid, attname, &exists) || !exists)
		return;
	label = name_suggests(fn, attname);
	if (label == NULL)
		return;
	if (is_special(label))
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

/* Every column of a new table. */
static void
check_table(Oid fn, Oid relid)
{
	Relation	rel;
	TupleDesc	desc;
	List	   *names = NIL;
	ListCell   *lc;

	rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped)
			names = lappend(names, pstrdup(NameStr(att->attname)));
	}
	table_close(rel, AccessShareLock);
	foreach(lc, names)
		check_column(fn, relid, lfirst(lc));
}

static Oid
table_of(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	char		kind;

	if (!OidIsValid(relid))
		return InvalidOid;
	kind = get_rel_relkind(relid);
	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE && kind != RELKIND_FOREIGN_TABLE)
		return InvalidOid;
	/* the extension's own tables are not collection */
	if (get_rel_namespace(relid) == get_namespace_oid("privacy_guard", true))
		return InvalidOid;
	return relid;
}

PG_FUNCTION_INFO_V1(pguard_collection_guard);

/* The event trigger at ddl_command_end. */
Datum
pguard_collection_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trig;
	Node	   *stmt;
	Oid			fn;
	Oid			relid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("collection_guard() must be called as an event trigger")));
	if (collection_guard == GUARD_OFF || creating_extension)
		PG_RETURN_VOID();
	fn = lookup_function("name_suggests", 1, NAMEOID);
	if (!OidIsValid(fn))
		PG_RETURN_VOID();

	trig = (EventTriggerData *) fcinfo->context;
	stmt = trig->parsetree;
	switch (nodeTag(stmt))
	{
		case T_CreateStmt:
			if (OidIsValid(relid = table_of(((CreateStmt *) stmt)->relation)))
				check_table(fn, relid);
			break;
		case T_CreateTableAsStmt:
			if (((CreateTableAsStmt *) stmt)->objtype == OBJECT_TABLE &&
				OidIsValid(relid = table_of(((CreateTableAsStmt *) stmt)->into->rel)))
				check_table(fn, relid);
			break;
		case T_AlterTableStmt:
			{
				AlterTableStmt *at = (AlterTableStmt *) stmt;
				ListCell   *lc;

				if (!OidIsValid(relid = table_of(at->relation)))
					break;
				foreach(lc, at->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					if (cmd->subtype == AT_AddColumn)
						check_column(fn, relid, castNode(ColumnDef, cmd->def)->colname);
				}
			}
			break;
		case T_RenameStmt:
			{
				RenameStmt *rs = (RenameStmt *) stmt;

				if (rs->renameType == OBJECT_COLUMN && rs->relation != NULL &&
					OidIsValid(relid = table_of(rs->relation)))
					check_column(fn, relid, rs->newname);
			}
			break;
		default:
			break;
	}
	PG_RETURN_VOID();
}

/* Error mode: every suspect column must be protected (or gone) by commit. */
static void
collection_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			{
				List	   *pending = suspects;
				ListCell   *lc;

				suspects = NIL;
				foreach(lc, pending)
				{
					Suspect    *s = lfirst(lc);
					bool		exists;

					if (column_state(s->relid, s->attname, &exists) || !exists)
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
			suspects = NIL;		/* TopTransactionContext is going away */
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
							 "warn: a warning; error: refuse unless protected by commit, "
							 "and at once for special categories; off: nothing.",
							 &collection_guard,
							 GUARD_WARN,
							 guard_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	RegisterXactCallback(collection_xact_callback, NULL);
}

/*-------------------------------------------------------------------------
 * src/catalog.c
 *	  Access to privacy_guard's own tables with the extension's rights.
 *
 * The policy tables and the wrapped keys are readable only by the owner of
 * the extension.  C code that must read them on behalf of an application
 * role switches to that owner (pg_extension.extowner, never whoever owns a
 * schema of that name) for the duration of one SPI call, as ri_triggers.c
 * does for the table owner, under a restricted security context; every
 * query it runs is schema-qualified.  Transaction abort restores the
 * caller's identity if an error escapes.
 *
 * Changes to the catalog reach every session at once.  Each backend caches
 * the policy, the data keys and consent; PostgreSQL tells it of a change
 * only when it next reads invalidation messages (at its next transaction,
 * or when it takes a lock it did not hold), so a transaction that keeps
 * running a cached plan would go on using a revoked grant, an erased key or
 * a withdrawn consent.  A transaction that changed the catalog therefore
 * also bumps a counter in shared memory when it commits; every reveal
 * reads it (one atomic read), and when it moved, the caches are dropped
 * and reload with the latest snapshot.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_subscription_rel.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "keycache.h"
#include "redact.h"
#include "guard.h"

/* catalog changes committed so far, in shared memory */
typedef struct CatalogShared
{
	pg_atomic_uint64 changes;
} CatalogShared;

static CatalogShared *shared = NULL;
static uint64 changes_seen = 0;		/* the count this backend's caches reflect */
static bool changed_in_xact = false;	/* this transaction changed the catalog */
static bool bump_at_commit = false;	/* ... or roles: move the count at commit */
static CatalogForgetCallback forget_callbacks[4];
static int	nforget_callbacks = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* who acted before the outermost CatalogBecomeOwner, while it lasts */
static int	owner_depth = 0;
static Oid	caller_userid = InvalidOid;
static int	caller_sec_context = 0;

/* cached facts about the installed extension; reset on catalog changes */
static Oid	schema_oid = InvalidOid;
static Oid	extension_owner = InvalidOid;
static Oid	encrypted_types[ENV_TYPE_MAX + 1];
static int	extension_installed = -1;	/* -1: not looked up yet */
static bool extension_predates_guard = false;	/* installed version is 0.1 */

static const char *const encrypted_type_names[] = {
	NULL, "encrypted_text", "encrypted_jsonb", "encrypted_date",
	"encrypted_numeric", "encrypted_bytea"
};

/* Forget cached facts when the extension, a schema or a type changes. */
static void
catalog_changed_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	schema_oid = InvalidOid;
	extension_owner = InvalidOid;
	memset(encrypted_types, 0, sizeof(encrypted_types));
	extension_installed = -1;
	extension_predates_guard = false;
}

/* Is the extension installed in this database?  Cached until pg_extension changes. */
bool
CatalogExtensionInstalled(void)
{
	if (extension_installed < 0)
		extension_installed = OidIsValid(get_extension_oid("privacy_guard", true)) ? 1 : 0;
	return extension_installed == 1;
}

/*
 * Is a relation in this namespace an application's table, one erasure,
 * retention and protect() may act on: not the system's, TOAST's,
 * information_schema's or privacy_guard's own?
 */
bool
CatalogApplicationNamespace(Oid nspid)
{
	return !IsCatalogNamespace(nspid) && !IsToastNamespace(nspid) &&
		nspid != get_namespace_oid("information_schema", true) &&
		nspid != get_namespace_oid(PGUARD_SCHEMA, true);
}

/* A cache to drop when another session changed the catalog. */
void
CatalogOnChange(CatalogForgetCallback forget)
{
	if (nforget_callbacks >= lengthof(forget_callbacks))
		elog(ERROR, "too many privacy_guard caches");
	forget_callbacks[nforget_callbacks++] = forget;
}

/* This transaction changed the catalog: tell every session when it commits. */
void
CatalogChanged(void)
{
	changed_in_xact = bump_at_commit = true;
}

/* Drop the caches if a change was committed since they were filled. */
void
CatalogCheckChanges(void)
{
	uint64		changes;

	if (shared == NULL)
		return;
	/*
	 * A hot standby's changes are its primary's, replayed: no session
	 * commits them here, so the count does not move.  Their invalidation
	 * messages do arrive, and are read now, not at the next transaction or
	 * lock: a transaction (a cursor) open across an erasure's replay must
	 * not reveal under the key it had cached.  The caches listen to them
	 * (relcache callbacks).  Cheap when none are waiting.
	 */
	if (RecoveryInProgress())
		AcceptInvalidationMessages();
	changes = pg_atomic_read_u64(&shared->changes);
	if (likely(changes == changes_seen))
		return;
	changes_seen = changes;
	/*
	 * Read the invalidation messages the change sent (they went out before
	 * the count moved): PostgreSQL's own caches, role membership among them,
	 * are as stale as ours.
	 */
	AcceptInvalidationMessages();
	for (int i = 0; i < nforget_callbacks; i++)
		forget_callbacks[i] ();
}

/*
 * A transaction whose commit another session would decide (PREPARE
 * TRANSACTION) is refused when it changed the catalog.
 */
static void
catalog_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (changed_in_xact)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that changed the privacy policy, keys or consent"),
						 errhint("Commit it instead: such a change must reach every session when it commits.")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			changed_in_xact = bump_at_commit = false;
			owner_depth = 0;	/* an error skipped CatalogRestoreUser */
			caller_userid = InvalidOid;
			break;
		default:
			break;
	}
}

/*
 * The count moves once the change is visible and its invalidation messages
 * are sent: at commit, after the transaction left the proc array and after
 * AtEOXact_Inval(), which come before the release of its locks.  A session
 * that sees the count move, reads the messages and reloads with the latest
 * snapshot, sees the change.
 */
static void
catalog_release_callback(ResourceReleasePhase phase, bool isCommit, bool isTopLevel, void *arg)
{
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel)
		return;
	if (isCommit && bump_at_commit && shared != NULL)
		pg_atomic_fetch_add_u64(&shared->changes, 1);
	changed_in_xact = bump_at_commit = false;
}

/*
 * Who holds a purpose depends on role membership and INHERIT, whose changes
 * reach other sessions only through invalidation messages too: they move
 * the count as well.  So does COMMIT PREPARED, whose transaction may have
 * carried any of them.  Called for every utility statement, before it runs
 * (by the one ProcessUtility hook, in src/guard.c).
 */
void
CatalogNoteUtility(Node *stmt)
{
	if (IsA(stmt, GrantRoleStmt) || IsA(stmt, AlterRoleStmt) || IsA(stmt, DropRoleStmt) ||
		(IsA(stmt, TransactionStmt) &&
		 ((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED))
		bump_at_commit = true;
}

static void
catalog_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		owner_depth = 0;		/* an error skipped CatalogRestoreUser */
		caller_userid = InvalidOid;
	}
}

static void
catalog_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(CatalogShared)));
}

static void
catalog_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("privacy_guard catalog changes", sizeof(CatalogShared), &found);
	if (!found)
		pg_atomic_init_u64(&shared->changes, 0);
	LWLockRelease(AddinShmemInitLock);
}

void
CatalogInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = catalog_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = catalog_shmem_startup;
	RegisterXactCallback(catalog_xact_callback, NULL);
	RegisterSubXactCallback(catalog_subxact_callback, NULL);
	RegisterResourceReleaseCallback(catalog_release_callback, NULL);
	CacheRegisterSyscacheCallback(NAMESPACEOID, catalog_changed_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(EXTENSIONOID, catalog_changed_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, catalog_changed_callback, (Datum) 0);
}

/* Schema of the extension; error if it is not installed. */
Oid
CatalogSchemaOid(void)
{
	if (!OidIsValid(schema_oid))
	{
		Oid			ext = get_extension_oid("privacy_guard", true);
		HeapTuple	tup;
		Form_pg_extension form;
		Datum		version;
		bool		isnull;

		if (!OidIsValid(ext))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("extension \"privacy_guard\" is not installed in this database"),
					 errhint("Run CREATE EXTENSION privacy_guard.")));
		tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(ext));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for extension %u", ext);
		form = (Form_pg_extension) GETSTRUCT(tup);
		extension_owner = form->extowner;
		version = SysCacheGetAttr(EXTENSIONOID, tup, Anum_pg_extension_extversion, &isnull);
		extension_predates_guard = !isnull && strcmp(TextDatumGetCString(version), "0.1") == 0;
		schema_oid = form->extnamespace;
		ReleaseSysCache(tup);
	}
	return schema_oid;
}

/*
 * Is this the extension's own script (CREATE or ALTER EXTENSION) at work,
 * whose DDL the guards let through?  Not the code of a table's owner that
 * the script runs, security-restricted, as that owner (the upgrade's
 * rewrite of a searchable column runs the table's CHECKs and index
 * expressions): the guards hold for it as for any other.
 */
bool
CatalogExtensionScript(void)
{
	return creating_extension && !InSecurityRestrictedOperation();
}

/*
 * Is the installed version 0.1, whose scripts predate the protection guard
 * (its protect() drops and re-creates the sealing trigger, and it has no
 * unprotect())?  Cached with the schema.
 */
bool
CatalogExtensionPredatesGuard(void)
{
	(void) CatalogSchemaOid();
	return extension_predates_guard;
}

/* The envelope type a column type holds, or 0 if it is not ours. */
EnvelopeType
CatalogEncryptedType(Oid typid)
{
	Oid			nsp = CatalogSchemaOid();

	for (int t = 1; t <= ENV_TYPE_MAX; t++)
	{
		if (!OidIsValid(encrypted_types[t]))
			encrypted_types[t] = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
												 CStringGetDatum(encrypted_type_names[t]),
												 ObjectIdGetDatum(nsp));
		if (encrypted_types[t] == typid)
			return (EnvelopeType) t;
	}
	return 0;
}

/*
 * Run as an application table's owner, in a security-restricted operation,
 * the way VACUUM runs a table's own code: the owner's code (triggers,
 * defaults) runs with a safe search_path, and whatever settings it changes
 * are undone by CatalogLeaveTableOwner() before the caller, who has the
 * extension's rights, carries on.  On error the (sub)transaction's abort
 * restores both.
 */
void
CatalogBecomeTableOwner(Oid owner, TableOwnerState *state)
{
	GetUserIdAndSecContext(&state->save_userid, &state->save_sec_context);
	SetUserIdAndSecContext(owner, state->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	state->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

void
CatalogLeaveTableOwner(TableOwnerState *state)
{
	AtEOXact_GUC(false, state->save_nestlevel);
	SetUserIdAndSecContext(state->save_userid, state->save_sec_context);
}

/*
 * The C internals behind the extension's SECURITY DEFINER functions run
 * as its owner, a superuser: refuse anyone else.
 */
void
CatalogRequireInternal(const char *fname)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s() is internal to privacy_guard", fname)));
}

/* Is the relation the target of a subscription (logical replication) in this database? */
bool
CatalogRelationSubscribed(Oid relid)
{
	Relation	rel = table_open(SubscriptionRelRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	ScanKeyInit(&key, Anum_pg_subscription_rel_srrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, SubscriptionRelSrrelidSrsubidIndexId, true, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

PG_FUNCTION_INFO_V1(pguard_local_write_check);

/*
 * Statement trigger (enabled for the origin only: not in the workers that
 * apply a subscription) on each catalog table privacy_guard.publish() adds
 * to a publication: in a database that receives the table by logical
 * replication, its rows are the publisher's.  One written here (a key, a
 * consent event, a policy row) would take an id or a name the publisher
 * gives another row, stopping the subscription at that row, or be
 * overwritten by the publisher's; an erasure done here would be undone by
 * the publisher's next key rotation.
 */
Datum
pguard_local_write_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "local_write_check() must be called as a trigger");
	relid = RelationGetRelid(trigdata->tg_relation);
	/* the keys table's answer is cached: a new subject's key is written by a statement of its own */
	if (relid == CatalogRelid("keys") ? KeycacheKeysSubscribed() : CatalogRelationSubscribed(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot change privacy_guard.%s in a database that receives it by logical replication",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("Its rows are the publisher's: one written here would collide with the publisher's or be overwritten by them."),
				 errhint("Make the change on the publisher: the policy, consent, restrictions, erasures and key rotations reach this database from there.")));
	return PointerGetDatum(NULL);
}

/* OID of one of our tables. */
Oid
CatalogRelid(const char *relname)
{
	Oid			relid = get_relname_relid(relname, CatalogSchemaOid());

	if (!OidIsValid(relid))
		elog(ERROR, "privacy_guard catalog table \"%s\" is missing", relname);
	return relid;
}

/*
 * pgaudit does not log the extension's own statements (wrapped keys among
 * their parameters) until CatalogQuietEnd(): they are not the caller's.
 * Returns the GUC nest level to end, or 0 where pgaudit is not loaded.
 */
int
CatalogQuietBegin(void)
{
	int			level;

	if (!RedactPgauditLoaded())
		return 0;
	level = NewGUCNestLevel();
	(void) set_config_option("pgaudit.log", "none", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("pgaudit.role", "", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void
CatalogQuietEnd(int level)
{
	if (level > 0)
		AtEOXact_GUC(false, level);
}

/* Act as the owner of schema privacy_guard until CatalogRestoreUser. */
void
CatalogBecomeOwner(CatalogOwnerState *state)
{
	(void) CatalogSchemaOid();
	GetUserIdAndSecContext(&state->save_userid, &state->save_sec_context);
	if (owner_depth++ == 0)
	{
		caller_userid = state->save_userid;
		caller_sec_context = state->save_sec_context;
	}
	SetUserIdAndSecContext(extension_owner,
						   state->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	/*
	 * The extension's own statements (a new data key, wrapped, among them)
	 * are not the caller's: pgaudit does not log them.  The caller's
	 * statement that caused them it logs, as always.
	 */
	state->save_nestlevel = owner_depth == 1 ? CatalogQuietBegin() : 0;
}

void
CatalogRestoreUser(CatalogOwnerState *state)
{
	CatalogQuietEnd(state->save_nestlevel);
	SetUserIdAndSecContext(state->save_userid, state->save_sec_context);
	if (owner_depth > 0 && --owner_depth == 0)
		caller_userid = InvalidOid;
}

/*
 * The snapshot the caches load with: the latest, so that a REPEATABLE READ
 * transaction's own snapshot cannot bring back a revoked grant or an erased
 * key.  A parallel query cannot take one; its own is nearly as fresh.
 */
Snapshot
CatalogFreshSnapshot(void)
{
	if (IsInParallelMode() && ActiveSnapshotSet())
		return GetActiveSnapshot();
	return GetLatestSnapshot();
}

/* Is the extension acting as its owner (its own queries, through SPI)? */
bool
CatalogActingAsOwner(void)
{
	return owner_depth > 0;
}

/*
 * The role whose code is running, and its security context, as they were
 * before the extension acted as its owner on its behalf.
 */
void
CatalogCaller(Oid *userid, int *sec_context)
{
	if (owner_depth > 0 && OidIsValid(caller_userid))
	{
		*userid = caller_userid;
		*sec_context = caller_sec_context;
	}
	else
		GetUserIdAndSecContext(userid, sec_context);
}

/*
 * Types a subject column may have: built-in types whose text form is fixed
 * (no setting changes it) and whose cast to text nobody but a superuser can
 * redefine.
 */
bool
CatalogSubjectTypeAllowed(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case UUIDOID:
			return true;
		default:
			return false;
	}
}

PG_FUNCTION_INFO_V1(pguard_lock_relation);

/*
 * lock_relation(tbl regclass, exclusive boolean, caller text) -> "char"
 *
 * The functions that read or convert other roles' tables (scan(),
 * subject_export(), protect()) must not act on what a table was when they
 * looked at it: its owner could make it a view, or retype a column, before
 * the statement that reads it takes its lock, and the view's functions or
 * the new type's cast would then run with the caller's rights.  So they
 * lock the table first (SHARE UPDATE EXCLUSIVE, or ACCESS EXCLUSIVE to
 * convert it), which waits for such a change to commit and keeps the next
 * one out, and only then look.  A table to read must not make the planner
 * run code another role wrote (an index's or a statistics object's
 * expression, a CHECK used for constraint exclusion): that is refused
 * (insufficient_privilege).  Their next statements see what committed before the lock
 * was granted only at READ COMMITTED, which is required.  The caller needs
 * some SELECT privilege on the table (any column), or to own it to lock it
 * exclusively.  Returns the relation's kind, or NULL when it was dropped.
 */
Datum
pguard_lock_relation(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bool		exclusive = PG_GETARG_BOOL(1);
	char	   *caller = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char		kind;

	if (XactIsoLevel != XACT_READ_COMMITTED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("%s() must run at READ COMMITTED", caller),
				 errhint("It looks at tables of other roles after locking them, and must see what committed before.")));
	if (IsCatalogRelationOid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: \"%s\" is a system catalog", get_rel_name(relid))));
	if (exclusive ? !pg_class_ownercheck(relid, GetUserId()) :
		(pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		 pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ANY) != ACLCHECK_OK))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for relation %s", get_rel_name(relid))));
	/* SHARE UPDATE EXCLUSIVE: no index or statistics object comes meanwhile */
	LockRelationOid(relid, exclusive ? AccessExclusiveLock : ShareUpdateExclusiveLock);
	kind = get_rel_relkind(relid);
	if (kind == '\0')
		PG_RETURN_NULL();
	if (!exclusive)
	{
		char	   *what = GuardPlannerRoleCode(relid);

		if (what != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("%s() does not read relation \"%s\": its %s could run code another role wrote",
							caller, get_rel_name(relid), what),
					 errdetail("Planning a query of the relation would run that code with the rights of role \"%s\".",
							   GetUserNameFromId(GetUserId(), false))));
	}
	PG_RETURN_CHAR(kind);
}

/*-------------------------------------------------------------------------
 * src/incident.c
 *	  Lockdown: while a database is locked down, every reveal in every
 *	  session fails at once, except under the built-in purpose
 *	  incident_response.
 *
 * The state lives in shared memory, one slot per locked-down database, so
 * a reveal sees it on its next value with no cache to expire: the common
 * case (no lockdown anywhere) costs one atomic read.  A file in the data
 * directory, privacy_guard_lockdown_<database oid>, keeps it across a
 * restart or a crash; shared memory is filled from those files when the
 * server starts.
 *
 * lockdown() takes effect before its transaction commits (an emergency
 * lever must not wait) and is undone if that transaction or
 * subtransaction rolls back.  lift_lockdown() takes effect only when its
 * transaction commits.  So every path that fails leaves the database
 * locked rather than open.  The audit trail says the same: a lift is
 * recorded when it commits, a lockdown when it starts and again if it is
 * rolled back.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "catalog.h"
#include "incident.h"

#define LOCKDOWN_SLOTS 64
#define LOCKDOWN_FILE_PREFIX "privacy_guard_lockdown_"

typedef struct LockdownSlot
{
	Oid			dbid;			/* InvalidOid: free */
	TimestampTz since;
	bool		committed;		/* some lockdown() that engaged it committed */
	int			pending;		/* transactions that engaged it, not yet ended */
} LockdownSlot;

typedef struct LockdownShared
{
	LWLock	   *lock;
	pg_atomic_uint32 nlocked;	/* slots in use: 0 is the fast path */
	LockdownSlot slots[LOCKDOWN_SLOTS];
} LockdownShared;

static LockdownShared *lockdown = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * This transaction's pending changes.  engaged_subid: the subtransaction
 * that engaged a lockdown that was not in force before (undone if it
 * aborts); lift_subid: the subtransaction that asked for a lift (done at
 * commit, forgotten if it aborts).
 */
static SubTransactionId engaged_subid = InvalidSubTransactionId;
static SubTransactionId lift_subid = InvalidSubTransactionId;

/* their audit records, prepared while the catalog is readable */
static void *undo_record = NULL;	/* queued if the engagement rolls back */
static void *lift_record = NULL;	/* queued when the lift commits */

/* Queue a prepared record, or drop it; either way it is gone. */
static void
settle_record(void **record, bool queue)
{
	if (*record == NULL)
		return;
	if (queue)
		AuditQueuePrepared(*record);
	else
		pfree(*record);
	*record = NULL;
}

static void
lockdown_path(char *buf, Oid dbid, bool temp)
{
	snprintf(buf, MAXPGPATH, "%s/" LOCKDOWN_FILE_PREFIX "%u%s", DataDir, dbid, temp ? ".tmp" : "");
}

/* The slot of a database, or NULL; caller holds the lock. */
static LockdownSlot *
find_slot(Oid dbid)
{
	for (int i = 0; i < LOCKDOWN_SLOTS; i++)
		if (lockdown->slots[i].dbid == dbid)
			return &lockdown->slots[i];
	return NULL;
}

/* Put a database in a free slot; caller holds the lock exclusively. */
static LockdownSlot *
occupy_slot(Oid dbid, TimestampTz since, bool committed)
{
	LockdownSlot *slot = find_slot(InvalidOid);

	if (slot == NULL)
		return NULL;
	slot->dbid = dbid;
	slot->since = since;
	slot->committed = committed;
	slot->pending = committed ? 0 : 1;
	pg_atomic_add_fetch_u32(&lockdown->nlocked, 1);
	return slot;
}

/* Free a database's slot and remove its file; caller holds the lock exclusively. */
static void
free_slot(LockdownSlot *slot)
{
	char		path[MAXPGPATH];

	lockdown_path(path, slot->dbid, false);
	slot->dbid = InvalidOid;
	slot->since = 0;
	slot->committed = false;
	slot->pending = 0;
	pg_atomic_sub_fetch_u32(&lockdown->nlocked, 1);
	/* never raises: this runs at commit and abort */
	if (unlink(path) != 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", path),
				 errdetail("The database will be locked down again when the server restarts.")));
}

/* Fill the slots from the files a previous run left (postmaster start). */
static void
load_files(void)
{
	DIR		   *dir;
	struct dirent *de;

	dir = AllocateDir(DataDir);
	while ((de = ReadDir(dir, DataDir)) != NULL)
	{
		char		path[MAXPGPATH];
		unsigned int dbid;
		char		tail;
		FILE	   *f;
		int64		since = 0;

		if (sscanf(de->d_name, LOCKDOWN_FILE_PREFIX "%u%c", &dbid, &tail) != 1 || dbid == InvalidOid)
			continue;
		snprintf(path, sizeof(path), "%s/%s", DataDir, de->d_name);
		f = AllocateFile(path, "r");
		if (f != NULL)
		{
			if (fscanf(f, INT64_FORMAT, &since) != 1)
				since = 0;		/* unreadable: still locked, since unknown */
			FreeFile(f);
		}
		if (find_slot((Oid) dbid) == NULL &&
			occupy_slot((Oid) dbid, (TimestampTz) since, true) == NULL)
			ereport(WARNING,
					(errmsg("privacy_guard: too many lockdown files, database %u not locked down", dbid)));
		else
			ereport(LOG,
					(errmsg("privacy_guard: database %u is locked down", dbid)));
	}
	FreeDir(dir);
}

static void
lockdown_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LockdownShared)));
	RequestNamedLWLockTranche("privacy_guard_lockdown", 1);
}

static void
lockdown_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lockdown = ShmemInitStruct("privacy_guard lockdown", sizeof(LockdownShared), &found);
	if (!found)
	{
		memset(lockdown, 0, sizeof(LockdownShared));
		lockdown->lock = &(GetNamedLWLockTranche("privacy_guard_lockdown"))->lock;
		pg_atomic_init_u32(&lockdown->nlocked, 0);
		load_files();
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Is this database locked down?  *since gets the start when it is.  Read
 * on every reveal: without any lockdown it is one atomic read.
 */
bool
IncidentLockdown(TimestampTz *since)
{
	LockdownSlot *slot;
	bool		locked = false;

	if (lockdown == NULL || pg_atomic_read_u32(&lockdown->nlocked) == 0)
		return false;
	LWLockAcquire(lockdown->lock, LW_SHARED);
	slot = find_slot(MyDatabaseId);
	if (slot != NULL)
	{
		locked = true;
		if (since)
			*since = slot->since;
	}
	LWLockRelease(lockdown->lock);
	return locked;
}

/*
 * End this transaction's part in the lockdown: at commit an engagement
 * becomes committed and a lift frees the slot; at abort an engagement that
 * nobody committed is undone.  Never raises.
 */
static void
end_xact(bool commit, bool engaged, bool lift)
{
	LockdownSlot *slot;

	if (!engaged && !lift)
		return;
	LWLockAcquire(lockdown->lock, LW_EXCLUSIVE);
	slot = find_slot(MyDatabaseId);
	if (slot != NULL && engaged && !slot->committed)
	{
		slot->pending--;
		if (commit)
			slot->committed = true;
		else if (slot->pending <= 0)
		{
			free_slot(slot);
			slot = NULL;
		}
	}
	if (slot != NULL && commit && lift)
		free_slot(slot);
	LWLockRelease(lockdown->lock);
}

static void
lockdown_xact_callback(XactEvent event, void *arg)
{
	bool		engaged = engaged_subid != InvalidSubTransactionId;
	bool		lift = lift_subid != InvalidSubTransactionId;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (engaged || lift)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that started or lifted a lockdown")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
			engaged_subid = lift_subid = InvalidSubTransactionId;
			end_xact(event == XACT_EVENT_COMMIT, engaged, lift);
			settle_record(&lift_record, event == XACT_EVENT_COMMIT && lift);
			settle_record(&undo_record, event == XACT_EVENT_ABORT && engaged);
			break;
		default:
			break;
	}
}

static void
lockdown_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_COMMIT_SUB:
			if (engaged_subid == mySubid)
				engaged_subid = parentSubid;
			if (lift_subid == mySubid)
				lift_subid = parentSubid;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			if (lift_subid == mySubid)
			{
				lift_subid = InvalidSubTransactionId;
				settle_record(&lift_record, false);
			}
			if (engaged_subid == mySubid)
			{
				engaged_subid = InvalidSubTransactionId;
				end_xact(false, true, false);
				settle_record(&undo_record, true);
			}
			break;
		default:
			break;
	}
}

PG_FUNCTION_INFO_V1(pguard_lockdown_engage);

/*
 * lockdown_engage(detail) -> timestamptz: lock this database down now
 * (undone if the transaction rolls back and nobody else committed it, and
 * then audited with the detail); returns when the lockdown started,
 * earlier than now if it was already in force.
 */
Datum
pguard_lockdown_engage(PG_FUNCTION_ARGS)
{
	LockdownSlot *slot;
	TimestampTz since;
	char		tmp[MAXPGPATH];
	char		path[MAXPGPATH];
	FILE	   *f;

	CatalogRequireInternal("lockdown_engage");
	if (lift_subid != InvalidSubTransactionId)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot start a lockdown in the transaction that lifts it"),
				 errhint("Commit or roll back the lift first.")));
	if (engaged_subid == InvalidSubTransactionId && undo_record == NULL)
		undo_record = AuditPrepareAs(GetOuterUserId(), "lockdown", "rolled back",
									 PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));

	LWLockAcquire(lockdown->lock, LW_EXCLUSIVE);
	slot = find_slot(MyDatabaseId);
	if (slot != NULL)
	{
		/* in force, or being engaged by a transaction that may still abort */
		if (!slot->committed && engaged_subid == InvalidSubTransactionId)
		{
			slot->pending++;
			engaged_subid = GetCurrentSubTransactionId();
		}
		if (engaged_subid == InvalidSubTransactionId)
			settle_record(&undo_record, false);
		since = slot->since;
		LWLockRelease(lockdown->lock);
		PG_RETURN_TIMESTAMPTZ(since);
	}

	/* durable first: after a crash from here on, the database stays locked */
	since = GetCurrentTimestamp();
	lockdown_path(tmp, MyDatabaseId, true);
	lockdown_path(path, MyDatabaseId, false);
	f = AllocateFile(tmp, "w");
	if (f == NULL || fprintf(f, INT64_FORMAT "\n", (int64) since) < 0 || FreeFile(f) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmp)));
	durable_rename(tmp, path, ERROR);
	if (occupy_slot(MyDatabaseId, since, false) == NULL)
	{
		unlink(path);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many databases locked down"),
				 errdetail("At most %d databases of a cluster can be locked down at once.",
						   LOCKDOWN_SLOTS)));
	}
	engaged_subid = GetCurrentSubTransactionId();
	LWLockRelease(lockdown->lock);
	PG_RETURN_TIMESTAMPTZ(since);
}

PG_FUNCTION_INFO_V1(pguard_lockdown_release);

/*
 * lockdown_release(detail) -> boolean: lift at commit, and audit it then
 * with the detail; false if none is in force.
 */
Datum
pguard_lockdown_release(PG_FUNCTION_ARGS)
{
	CatalogRequireInternal("lockdown_release");
	if (!IncidentLockdown(NULL))
		PG_RETURN_BOOL(false);
	if (lift_subid == InvalidSubTransactionId)
	{
		lift_subid = GetCurrentSubTransactionId();
		lift_record = AuditPrepareAs(GetOuterUserId(), "lockdown", "lifted",
									 PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	}
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(pguard_lockdown_since);

/* lockdown_since() -> timestamptz: when this database's lockdown began, or NULL. */
Datum
pguard_lockdown_since(PG_FUNCTION_ARGS)
{
	TimestampTz since;

	if (!IncidentLockdown(&since))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(since);
}

void
IncidentInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = lockdown_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = lockdown_shmem_startup;
	RegisterXactCallback(lockdown_xact_callback, NULL);
	RegisterSubXactCallback(lockdown_subxact_callback, NULL);
}

/*-------------------------------------------------------------------------
 * src/progress.c
 *	  Progress of long work, as PostgreSQL reports its own long commands.
 *
 * protect() of a large table, rotate_master_key(), rotate_search_key() and
 * process_erasures() each report what they do in a slot of shared memory,
 * one per backend (in the spirit of pg_stat_progress_create_index):
 * operation, phase, relation, done, total, when it started and last moved.
 * privacy_guard.progress shows them; a backend sees its own role's work, a
 * member of pg_read_all_stats everyone's.  A slot is cleared when its work
 * ends, and at the end of the transaction whatever happens.  Only the
 * owning backend writes its slot; readers take its spinlock.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "progress.h"

#define PROGRESS_NAME_LEN 32
#define PROGRESS_PHASE_LEN 64

typedef struct ProgressSlot
{
	slock_t		mutex;
	int			pid;			/* 0: nothing under way */
	Oid			dboid;
	Oid			userid;
	Oid			relid;
	char		operation[PROGRESS_NAME_LEN];
	char		phase[PROGRESS_PHASE_LEN];
	int64		done;
	int64		total;			/* -1: not known */
	TimestampTz started;
	TimestampTz updated;
} ProgressSlot;

static ProgressSlot *slots = NULL;
static int	nslots = 0;
static ProgressSlot *mine = NULL;	/* this backend's slot while work is under way */
static int64 pending = 0;		/* done, not yet in the slot */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
progress_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(ProgressSlot));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(progress_shmem_size());
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	slots = ShmemInitStruct("privacy_guard progress", progress_shmem_size(), &found);
	nslots = MaxBackends;
	if (!found)
	{
		memset(slots, 0, progress_shmem_size());
		for (int i = 0; i < nslots; i++)
			SpinLockInit(&slots[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
progress_clear(void)
{
	if (mine == NULL)
		return;
	SpinLockAcquire(&mine->mutex);
	mine->pid = 0;
	SpinLockRelease(&mine->mutex);
	mine = NULL;
	pending = 0;
}

/* Copy text into a slot's field, cut at a character boundary. */
static void
set_text(char *dst, int size, const char *src)
{
	int			len = pg_mbcliplen(src, strlen(src), size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void
progress_exit(int code, Datum arg)
{
	progress_clear();
}

static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		progress_clear();
}

/* Work begins: its operation, first phase, relation (or InvalidOid) and total (-1: unknown). */
void
ProgressBegin(const char *operation, const char *phase, Oid relid, int64 total)
{
	ProgressSlot *s;

	static bool exit_registered = false;

	if (slots == NULL || MyBackendId < 1 || MyBackendId > nslots)
		return;
	if (!exit_registered)
	{
		before_shmem_exit(progress_exit, (Datum) 0);
		exit_registered = true;
	}
	s = &slots[MyBackendId - 1];
	SpinLockAcquire(&s->mutex);
	s->pid = MyProcPid;
	s->dboid = MyDatabaseId;
	s->userid = GetUserId();
	s->relid = relid;
	set_text(s->operation, sizeof(s->operation), operation);
	set_text(s->phase, sizeof(s->phase), phase ? phase : "");
	s->done = 0;
	s->total = total;
	s->started = s->updated = GetCurrentTimestamp();
	SpinLockRelease(&s->mutex);
	mine = s;
	pending = 0;
}

/*
 * A new phase: done counts from 0 again, against its own total; with
 * PROGRESS_KEEP, the counts stay (a last phase after the counted work).
 */
void
ProgressPhase(const char *phase, int64 total)
{
	if (mine == NULL)
		return;
	ProgressFlush();
	SpinLockAcquire(&mine->mutex);
	set_text(mine->phase, sizeof(mine->phase), phase);
	if (total != PROGRESS_KEEP)
	{
		mine->done = 0;
		mine->total = total;
	}
	mine->updated = GetCurrentTimestamp();
	SpinLockRelease(&mine->mutex);
}

/*
 * n more units done.  Cheap when nothing is under way (a seal() outside
 * protect()); published every 1024 units or so, not on each.
 */
void
ProgressAdd(int64 n)
{
	if (mine == NULL)
		return;
	pending += n;
	if (pending >= 1024)
		ProgressFlush();
}

/* Publish what was done so far. */
void
ProgressFlush(void)
{
	if (mine == NULL || pending == 0)
		return;
	SpinLockAcquire(&mine->mutex);
	mine->done += pending;
	mine->updated = GetCurrentTimestamp();
	SpinLockRelease(&mine->mutex);
	pending = 0;
}

void
ProgressEnd(void)
{
	progress_clear();
}

void
ProgressInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
	RegisterXactCallback(progress_xact_callback, NULL);
}

/* The SQL side: for the extension's own functions (granted to none but its roles). */
PG_FUNCTION_INFO_V1(pguard_progress_begin);
Datum
pguard_progress_begin(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	ProgressBegin(text_to_cstring(PG_GETARG_TEXT_PP(0)),
				  PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
				  PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2),
				  PG_ARGISNULL(3) ? -1 : PG_GETARG_INT64(3));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_progress_phase);
Datum
pguard_progress_phase(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
		ProgressPhase(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_ARGISNULL(1) ? PROGRESS_KEEP : PG_GETARG_INT64(1));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_progress_add);
Datum
pguard_progress_add(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
	{
		ProgressAdd(PG_GETARG_INT64(0));
		ProgressFlush();
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_progress_end);
Datum
pguard_progress_end(PG_FUNCTION_ARGS)
{
	ProgressEnd();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_progress_report);

/*
 * progress_report() -> (pid, datid, usesysid, operation, phase, relid,
 * done, total, started, updated): the work under way in every backend the
 * caller may see.
 */
Datum
pguard_progress_report(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; slots != NULL && i < nslots; i++)
	{
		ProgressSlot copy;
		Datum		values[10];
		bool		nulls[10] = {0};

		SpinLockAcquire(&slots[i].mutex);
		memcpy(&copy, &slots[i], sizeof(copy));
		SpinLockRelease(&slots[i].mutex);
		if (copy.pid == 0 || (!all && !has_privs_of_role(GetUserId(), copy.userid)))
			continue;
		values[0] = Int32GetDatum(copy.pid);
		values[1] = ObjectIdGetDatum(copy.dboid);
		values[2] = ObjectIdGetDatum(copy.userid);
		/* another database's text may be in another encoding: then not shown */
		values[3] = CStringGetTextDatum(copy.operation);
		values[4] = CStringGetTextDatum(copy.phase);
		nulls[3] = !pg_verifymbstr(copy.operation, strlen(copy.operation), true);
		nulls[4] = !pg_verifymbstr(copy.phase, strlen(copy.phase), true);
		values[5] = ObjectIdGetDatum(copy.relid);
		nulls[5] = !OidIsValid(copy.relid);
		values[6] = Int64GetDatum(copy.done);
		values[7] = Int64GetDatum(copy.total);
		nulls[7] = copy.total < 0;
		values[8] = TimestampTzGetDatum(copy.started);
		values[9] = TimestampTzGetDatum(copy.updated);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

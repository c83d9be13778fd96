/*-------------------------------------------------------------------------
 * src/budget.c
 *	  The masked search budget: how many distinct values a role may search,
 *	  per clock hour, in categories its purpose sees only masked.
 *
 * A masked view narrows the guesses (+* *** *** 4567) and each search term
 * tests one: without a bound, searching the hidden digits undoes the mask.
 * Support looks a customer up by the e-mail address they give; it does
 * not search thousands.  So every role has a budget of distinct masked
 * searches an hour (privacy_guard.masked_search_budget, which only a
 * superuser sets: per role with ALTER ROLE ... SET), counted in shared
 * memory per (database, role) across its sessions, so that reconnecting
 * does not refill it.  Searching the same value again is free: a backend
 * remembers the values it has been charged for this hour (the planner
 * evaluates a search twice).  Past the budget a search is refused, and the
 * first refusal of the hour is recorded as an incident in the audit trail.
 *
 * The counters live until the server restarts; when the table is full of
 * this hour's roles, searches of new roles are refused (fail closed).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "budget.h"

#define BUDGET_ROLES 1024		/* (database, role) pairs counted at once */
#define BUDGET_MEMO 64			/* values a backend remembers an hour */

typedef struct BudgetKey
{
	Oid			dbid;
	Oid			roleid;
} BudgetKey;

typedef struct BudgetEntry
{
	BudgetKey	key;
	int64		hour;			/* the clock hour counted */
	int			used;			/* distinct values charged in it */
	bool		reported;		/* its first refusal is recorded */
} BudgetEntry;

static HTAB *budget_hash = NULL;
static LWLock *budget_lock = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

int			masked_search_budget = 20;

/* this backend's charged values: (role, hour, hash of category and value) */
static Oid	memo_role = InvalidOid;
static int64 memo_hour = -1;
static uint32 memo[BUDGET_MEMO];
static int	nmemo = 0;

static void
budget_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(hash_estimate_size(BUDGET_ROLES, sizeof(BudgetEntry)));
	RequestNamedLWLockTranche("privacy_guard_budget", 1);
}

static void
budget_shmem_startup(void)
{
	HASHCTL		ctl;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(BudgetKey);
	ctl.entrysize = sizeof(BudgetEntry);
	budget_hash = ShmemInitHash("privacy_guard masked search budget",
								BUDGET_ROLES, BUDGET_ROLES, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	budget_lock = &(GetNamedLWLockTranche("privacy_guard_budget"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* Drop the entries of past hours; caller holds the lock exclusively. */
static void
budget_sweep(int64 hour)
{
	HASH_SEQ_STATUS status;
	BudgetEntry *e;

	hash_seq_init(&status, budget_hash);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->hour != hour)
			(void) hash_search(budget_hash, &e->key, HASH_REMOVE, NULL);
}

/*
 * Charge the current role one masked search of a value (its hash, with the
 * category's).  Returns BUDGET_OK, BUDGET_EXHAUSTED (refuse), or
 * BUDGET_EXHAUSTED_FIRST (refuse, and this is the hour's first refusal:
 * report it).  *used and *limit tell the caller what to say.
 */
BudgetOutcome
BudgetChargeMaskedSearch(uint32 value_hash, int *used, int *limit)
{
	BudgetKey	key;
	BudgetEntry *e;
	bool		found;
	int64		hour = GetCurrentTimestamp() / USECS_PER_HOUR;
	BudgetOutcome outcome = BUDGET_OK;

	*limit = masked_search_budget;
	*used = 0;
	if (memo_role != GetUserId() || memo_hour != hour)
	{
		memo_role = GetUserId();
		memo_hour = hour;
		nmemo = 0;
	}
	for (int i = 0; i < nmemo; i++)
		if (memo[i] == value_hash)
			return BUDGET_OK;
	if (budget_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_guard must be loaded by shared_preload_libraries to count masked searches")));

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.roleid = GetUserId();
	LWLockAcquire(budget_lock, LW_EXCLUSIVE);
	e = hash_search(budget_hash, &key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		budget_sweep(hour);
		e = hash_search(budget_hash, &key, HASH_ENTER_NULL, &found);
	}
	if (e == NULL)
	{
		LWLockRelease(budget_lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many roles searched masked categories this hour to count another"),
				 errdetail("The masked search budget counts %d roles at a time.", BUDGET_ROLES)));
	}
	if (!found || e->hour != hour)
	{
		e->hour = hour;
		e->used = 0;
		e->reported = false;
	}
	if (e->used >= masked_search_budget)
	{
		outcome = e->reported ? BUDGET_EXHAUSTED : BUDGET_EXHAUSTED_FIRST;
		e->reported = true;
	}
	else
		e->used++;
	*used = e->used;
	LWLockRelease(budget_lock);

	if (outcome == BUDGET_OK)
	{
		if (nmemo == BUDGET_MEMO)
		{
			memmove(memo, memo + 1, sizeof(uint32) * (BUDGET_MEMO - 1));
			nmemo--;
		}
		memo[nmemo++] = value_hash;
	}
	return outcome;
}

void
BudgetInit(void)
{
	DefineCustomIntVariable("privacy_guard.masked_search_budget",
							"Distinct values a role may search per clock hour in categories its purpose sees masked.",
							"Counted per role and database across sessions; 0 allows no search under a masked allowance.  Set per role with ALTER ROLE ... SET.",
							&masked_search_budget, 20, 0, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = budget_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = budget_shmem_startup;
}

/*-------------------------------------------------------------------------
 * src/policy.c
 *	  Categories, purposes, allowances and grants, cached per backend.
 *
 * The policy tables are small and read on every reveal, so each backend
 * keeps a copy, loaded in one pass as the extension's owner and dropped
 * when any policy table changes (a statement trigger on each table sends a
 * relcache invalidation to every backend) or when role membership changes.
 * A generation counter tells callers that memoise decisions to forget them.
 *
 * Purposes form a tree.  A grant of a purpose covers its descendants; an
 * allowance of a purpose applies to its descendants unless a nearer
 * ancestor (or the purpose itself) has its own allowance for the category,
 * so a sub-purpose can narrow what its parent sees.  Consent is required
 * by a purpose if it or an ancestor requires it.
 *
 * The purpose a session acts under lives here too: set_purpose() checks
 * the role's grant at once, and reveal checks it again on use.  It belongs
 * to the role that declared it; after SET ROLE no purpose is declared.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"

#include "access/xact.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
#include "executor/spi.h"
#include "tcop/pquery.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"
#include "catalog.h"
#include "keycache.h"
#include "masking.h"
#include "policy.h"

typedef struct Allowance
{
	int			purpose;
	int			category;
	PolicyLevel level;
} Allowance;

typedef struct Grant
{
	Oid			roleid;
	int			purpose;
} Grant;

static MemoryContext policy_cxt = NULL;
static bool policy_loaded = false;
static uint64 policy_generation = 1;
static Oid	policy_relids[4];
static int	npolicy_relids = 0;

static PolicyCategory *categories;
static int	ncategories;
static PolicyPurpose *purposes;
static int	npurposes;
static Allowance *allowances;
static int	nallowances;
static Grant *grants;
static int	ngrants;

/* the session's declared purpose, and the role that declared it */
static char session_purpose[NAMEDATALEN * 2];
static bool session_purpose_set = false;
static Oid	session_purpose_role = InvalidOid;

static void
policy_invalidate(void)
{
	policy_loaded = false;
	policy_generation++;
}

static void
policy_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid)
		policy_invalidate();
	for (int i = 0; i < npolicy_relids; i++)
		if (policy_relids[i] == relid)
			policy_invalidate();
}

static void
policy_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	policy_invalidate();
}

uint64
PolicyGeneration(void)
{
	return policy_generation;
}

static int
find_index(PolicyPurpose *arr, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(arr[i].name, name) == 0)
			return i;
	return -1;
}

static int
find_category_index(const char *name)
{
	for (int i = 0; i < ncategories; i++)
		if (strcmp(categories[i].name, name) == 0)
			return i;
	return -1;
}

static char *
col_text(int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(policy_cxt, v) : NULL;
}

static bool
col_bool(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

/* Read with the latest snapshot: a REPEATABLE READ transaction's own
 * snapshot would bring a revoked grant back into the cache. */
static void
run(const char *sql)
{
	int			rc;

	PushActiveSnapshot(CatalogFreshSnapshot());
	rc = SPI_execute(sql, true, 0);
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read privacy_guard policy");
}

/* Is the loaded policy current (no change arrived while loading)? */
bool
PolicyIsCurrent(void)
{
	return policy_loaded;
}

/*
 * Load the whole policy into policy_cxt unless the copy is current.  Pointers
 * into the policy stay valid until the next PolicyEnsure().
 */
void
PolicyEnsure(void)
{
	CatalogOwnerState owner;
	char	  **parents;
	uint64		start_generation;

	CatalogCheckChanges();
	if (policy_loaded)
		return;
	start_generation = policy_generation;
	if (policy_cxt == NULL)
		policy_cxt = AllocSetContextCreate(TopMemoryContext, "privacy_guard policy",
										   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(policy_cxt);
	ncategories = npurposes = nallowances = ngrants = 0;

	CatalogBecomeOwner(&owner);
	SPI_connect();
	policy_relids[0] = CatalogRelid("categories");
	policy_relids[1] = CatalogRelid("purposes");
	policy_relids[2] = CatalogRelid("allowances");
	policy_relids[3] = CatalogRelid("purpose_grants");
	npolicy_relids = 4;

	run("SELECT name, sensitivity, mask FROM privacy_guard.categories ORDER BY name");
	categories = MemoryContextAllocZero(policy_cxt, sizeof(PolicyCategory) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *sens = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		char	   *mask = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);

		categories[i].name = col_text(i, 1);
		categories[i].sensitivity = strcmp(sens, "prohibited") == 0 ? SENS_PROHIBITED :
			strcmp(sens, "sensitive") == 0 ? SENS_SENSITIVE : SENS_PERSONAL;
		categories[i].mask = MaskingRuleByName(mask);
	}
	ncategories = SPI_processed;

	run("SELECT name, parent, requires_consent, third_party FROM privacy_guard.purposes ORDER BY name");
	purposes = MemoryContextAllocZero(policy_cxt, sizeof(PolicyPurpose) * (SPI_processed + 1));
	parents = palloc0(sizeof(char *) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		purposes[i].name = col_text(i, 1);
		purposes[i].subject_access = strcmp(purposes[i].name, POLICY_SUBJECT_ACCESS) == 0;
		parents[i] = col_text(i, 2);
		purposes[i].requires_consent = col_bool(i, 3);
		purposes[i].third_party = col_bool(i, 4);
	}
	npurposes = SPI_processed;
	for (int i = 0; i < npurposes; i++)
		purposes[i].parent = parents[i] ? find_index(purposes, npurposes, parents[i]) : -1;
	/* consent is inherited down the tree; depth is bounded to survive cycles */
	for (int i = 0; i < npurposes; i++)
	{
		int			p = purposes[i].parent;

		for (int depth = 0; p >= 0 && depth < npurposes; depth++, p = purposes[p].parent)
			if (purposes[p].requires_consent || purposes[p].third_party)
				purposes[i].requires_consent = true;
		if (purposes[i].third_party)
			purposes[i].requires_consent = true;
	}

	run("SELECT purpose, category, level FROM privacy_guard.allowances");
	allowances = MemoryContextAllocZero(policy_cxt, sizeof(Allowance) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *p = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *c = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		char	   *l = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		Allowance  *a = &allowances[nallowances];

		a->purpose = find_index(purposes, npurposes, p);
		a->category = find_category_index(c);
		a->level = strcmp(l, "full") == 0 ? LEVEL_FULL : LEVEL_MASKED;
		if (a->purpose >= 0 && a->category >= 0)
		{
			categories[a->category].allowed_somewhere = true;
			nallowances++;
		}
	}

	run("SELECT role::pg_catalog.oid, purpose FROM privacy_guard.purpose_grants");
	grants = MemoryContextAllocZero(policy_cxt, sizeof(Grant) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		r = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		char	   *p = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		int			pi = find_index(purposes, npurposes, p);

		if (!isnull && pi >= 0)
		{
			grants[ngrants].roleid = DatumGetObjectId(r);
			grants[ngrants].purpose = pi;
			ngrants++;
		}
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	/* a change that arrived while loading makes the next call load again */
	policy_loaded = (start_generation == policy_generation);
}

PolicyCategory *
PolicyFindCategory(const char *name, int len)
{
	for (int i = 0; i < ncategories; i++)
		if ((int) strlen(categories[i].name) == len &&
			memcmp(categories[i].name, name, len) == 0)
			return &categories[i];
	return NULL;
}

PolicyPurpose *
PolicyFindPurpose(const char *name)
{
	int			i;

	i = find_index(purposes, npurposes, name);
	return i >= 0 ? &purposes[i] : NULL;
}

PolicyCategory *
PolicyRequireCategory(const char *name)
{
	PolicyCategory *c = PolicyFindCategory(name, strlen(name));

	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("category \"%s\" does not exist", name),
				 errhint("Define it with privacy_guard.define_category().")));
	return c;
}

PolicyPurpose *
PolicyRequirePurpose(const char *name)
{
	PolicyPurpose *p = PolicyFindPurpose(name);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("purpose \"%s\" does not exist", name),
				 errhint("Define it with privacy_guard.define_purpose().")));
	return p;
}

/* Collection guard: no prohibited category, no category without a purpose. */
void
PolicyRequireCollectable(PolicyCategory *category)
{
	if (category->sensitivity == SENS_PROHIBITED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("category \"%s\" is prohibited and cannot be collected", category->name),
				 errdetail("The policy forbids storing this kind of personal data."),
				 errhidestmt(true)));
	if (!category->allowed_somewhere)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("category \"%s\" is not used by any purpose", category->name),
				 errdetail("Personal data is collected only for a declared purpose."),
				 errhint("Allow the category for a purpose with privacy_guard.allow() first."),
				 errhidestmt(true)));
}

/* Does the role (or a role it has the privileges of) hold the purpose or an ancestor? */
bool
PolicyRoleHolds(Oid roleid, PolicyPurpose *purpose)
{
	int			target = purpose - purposes;

	for (int depth = 0; target >= 0 && depth <= npurposes; depth++)
	{
		for (int g = 0; g < ngrants; g++)
			if (grants[g].purpose == target && has_privs_of_role(roleid, grants[g].roleid))
				return true;
		target = purposes[target].parent;
	}
	return false;
}

/*
 * Is the role one the policy names for this category: does it hold a purpose
 * (other than the subject's own access) that the policy allows to see it?
 */
bool
PolicyRoleUsesCategory(Oid roleid, PolicyCategory *category)
{
	for (int p = 0; p < npurposes; p++)
		if (!purposes[p].subject_access &&
			PolicyAllowance(&purposes[p], category) != LEVEL_NONE &&
			PolicyRoleHolds(roleid, &purposes[p]))
			return true;
	return false;
}

/*
 * The allowance nearest to the purpose up its tree, for one category.  The
 * built-in purpose subject_access (a customer's own access to their data)
 * sees every category in full; who may act under it is still a grant.
 */
PolicyLevel
PolicyAllowance(PolicyPurpose *purpose, PolicyCategory *category)
{
	int			target = purpose - purposes;
	int			cat = category - categories;

	if (purpose->subject_access)
		return LEVEL_FULL;

	for (int depth = 0; target >= 0 && depth <= npurposes; depth++)
	{
		for (int a = 0; a < nallowances; a++)
			if (allowances[a].purpose == target && allowances[a].category == cat)
				return allowances[a].level;
		target = purposes[target].parent;
	}
	return LEVEL_NONE;
}

/*
 * The declared purpose, if the current role declared it: after SET ROLE (or
 * inside a SECURITY DEFINER function) another role has declared nothing.
 */
const char *
PolicySessionPurpose(void)
{
	if (!session_purpose_set || session_purpose_role != GetUserId())
		return NULL;
	return session_purpose;
}

/* set_purpose() calls recorded in the current statement */
#define DECLARATIONS_PER_STATEMENT 16
static TimestampTz declared_statement = 0;
static int	declarations = 0;

PG_FUNCTION_INFO_V1(pguard_set_purpose);

/* set_purpose(purpose, justification): declare what this session is doing. */
Datum
pguard_set_purpose(PG_FUNCTION_ARGS)
{
	char	   *name;
	PolicyPurpose *p;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("purpose must not be null"),
				 errhint("Use privacy_guard.reset_purpose() to clear the declared purpose.")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PolicyEnsure();
	p = PolicyRequirePurpose(name);
	if (!PolicyRoleHolds(GetUserId(), p))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to act under purpose \"%s\"", name),
				 errdetail("Role \"%s\" has not been granted purpose \"%s\".",
						   GetUserNameFromId(GetUserId(), false), name),
				 errhint("Ask the policy owner to run privacy_guard.grant_purpose().")));
	strlcpy(session_purpose, p->name, sizeof(session_purpose));
	session_purpose_set = true;
	session_purpose_role = GetUserId();

	/*
	 * Recorded once a call, but not more than DECLARATIONS_PER_STATEMENT
	 * times in one statement (then once more, to say so): a query calling
	 * it for every row of a large set would fill the trail.
	 */
	if (declared_statement != GetCurrentStatementStartTimestamp())
	{
		declared_statement = GetCurrentStatementStartTimestamp();
		declarations = 0;
	}
	if (++declarations <= DECLARATIONS_PER_STATEMENT)
		AuditRecord("set_purpose", p->name, NULL, "declared",
					PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	else if (declarations == DECLARATIONS_PER_STATEMENT + 1)
		AuditRecord("set_purpose", p->name, NULL, "declared",
					"more declarations in this statement: not recorded one by one");
	PG_RETURN_TEXT_P(cstring_to_text(session_purpose));
}

PG_FUNCTION_INFO_V1(pguard_current_purpose);

Datum
pguard_current_purpose(PG_FUNCTION_ARGS)
{
	const char *purpose = PolicySessionPurpose();

	if (purpose == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(purpose));
}

PG_FUNCTION_INFO_V1(pguard_reset_purpose);

Datum
pguard_reset_purpose(PG_FUNCTION_ARGS)
{
	session_purpose_set = false;
	session_purpose[0] = '\0';
	PG_RETURN_VOID();
}

/*
 * Describe the rows of a transition table as "(col=value, ...)" lists, at
 * most a few of them.  Policy rows hold names, never personal data.
 */
static void
describe_rows(StringInfo buf, Tuplestorestate *rows, TupleDesc desc, int64 *count)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		if (++(*count) > 10)
			continue;
		appendStringInfoString(buf, *count > 1 ? ", (" : " (");
		slot_getallattrs(slot);
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			Oid			outfunc;
			bool		varlena;

			/* each record has its own time; row timestamps add nothing */
			if (att->attisdropped || att->atttypid == TIMESTAMPTZOID)
				continue;
			appendStringInfo(buf, "%s%s=", i > 0 ? ", " : "", NameStr(att->attname));
			if (slot->tts_isnull[i])
				appendStringInfoString(buf, "null");
			else
			{
				getTypeOutputInfo(att->atttypid, &outfunc, &varlena);
				appendStringInfoString(buf, OidOutputFunctionCall(outfunc, slot->tts_values[i]));
			}
		}
		appendStringInfoChar(buf, ')');
	}
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * A restore loads the policy and keys by COPY into a database whose trail
 * is still empty (it is loaded too, maybe at the same moment by another of
 * pg_restore's sessions).  Any other COPY, or any COPY once the trail has
 * a record, is recorded like every other change.
 */
static bool
restoring_into_empty_trail(void)
{
	Relation	rel;
	TableScanDesc scan;
	bool		empty;

	if (ActivePortal == NULL || ActivePortal->commandTag != CMDTAG_COPY)
		return false;
	rel = table_open(CatalogRelid("audit_records"), AccessShareLock);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	empty = heap_getnext(scan, ForwardScanDirection) == NULL;
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return empty;
}

PG_FUNCTION_INFO_V1(pguard_catalog_replicated);

/*
 * Row trigger on every privacy_guard catalog table, enabled in replica mode
 * only: logical replication's apply fires row triggers, never the statement
 * triggers below, so on a subscriber an applied erasure, key rotation,
 * revoked grant or withdrawn consent reaches every session through this
 * (when the apply's transaction commits).  It records nothing: the change
 * is the publisher's, recorded there.  Repeated invalidations of a relation
 * in one command are kept once.
 */
Datum
pguard_catalog_replicated(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		elog(ERROR, "catalog_replicated() must be called as an AFTER ROW trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	CatalogChanged();
	if (strcmp(RelationGetRelationName(trigdata->tg_relation), "keys") == 0)
		KeycacheKeysChanged();
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(pguard_catalog_changed);

/*
 * Statement trigger on every privacy_guard catalog table: tell all backends
 * to reload, and record the change in the audit trail, naming the rows (the
 * keys table: only how many).  A statement that changed nothing records
 * nothing.
 */
Datum
pguard_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *relname;
	const char *op;
	StringInfoData detail;
	int64		count = 0;
	bool		keys;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "catalog_changed() must be called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	CatalogChanged();

	relname = RelationGetRelationName(trigdata->tg_relation);
	keys = strcmp(relname, "keys") == 0;
	if (keys)
		KeycacheKeysChanged();	/* the key caches' own signal (keycache.c) */
	op = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ? "INSERT" :
		TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "TRUNCATE";
	initStringInfo(&detail);
	appendStringInfo(&detail, "%s on privacy_guard.%s", op, relname);
	if (!TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		Tuplestorestate *rows = trigdata->tg_newtable ? trigdata->tg_newtable : trigdata->tg_oldtable;
		StringInfoData list;

		initStringInfo(&list);
		if (rows != NULL)
			describe_rows(&list, rows, RelationGetDescr(trigdata->tg_relation), &count);
		if (count == 0)
			return PointerGetDatum(NULL);
		appendStringInfo(&detail, ": %lld row%s", (long long) count, count == 1 ? "" : "s");
		if (!keys)
			appendStringInfo(&detail, "%s%s", list.data, count > 10 ? ", ..." : "");
	}
	/*
	 * The extension's own script (CREATE or ALTER EXTENSION) writes its
	 * built-in rows: no policy decision, and a restore's trail, loaded
	 * right after CREATE EXTENSION, must find the new trail still empty.
	 * So must a restore's COPY of the policy and keys, which a parallel
	 * restore may run before the trail's: the dumped trail records them.
	 */
	if (!creating_extension && !restoring_into_empty_trail())
		AuditRecord(keys ? "key" : "policy", NULL, NULL, op, detail.data);
	return PointerGetDatum(NULL);
}

void
PolicyInit(void)
{
	CacheRegisterRelcacheCallback(policy_relcache_callback, (Datum) 0);
	CatalogOnChange(policy_invalidate);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, policy_syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, policy_syscache_callback, (Datum) 0);
}

/*
 * Names of a purpose and its ancestors, nearest first: consent given to a
 * purpose covers its sub-purposes.  Returns how many were written.
 */
int
PolicyPurposeLineage(PolicyPurpose *purpose, const char **names, int max)
{
	int			target = purpose - purposes;
	int			n = 0;

	for (int depth = 0; target >= 0 && depth <= npurposes && n < max; depth++)
	{
		names[n++] = purposes[target].name;
		target = purposes[target].parent;
	}
	return n;
}

/* Names of a purpose and every purpose below it; returns how many. */
int
PolicyPurposeSubtree(PolicyPurpose *purpose, const char **names, int max)
{
	int			root = purpose - purposes;
	int			n = 0;

	for (int i = 0; i < npurposes && n < max; i++)
	{
		int			p = i;

		for (int depth = 0; p >= 0 && depth <= npurposes; depth++, p = purposes[p].parent)
			if (p == root)
			{
				names[n++] = purposes[i].name;
				break;
			}
	}
	return n;
}

PG_FUNCTION_INFO_V1(pguard_policy_referrer);

/*
 * policy_referrer(what, name): the first of the catalog's tables that still
 * refers to the purpose or category (what) of that name, or NULL; for the
 * policy_references() trigger, which keeps what foreign keys would.  As a
 * foreign key's check, it reads with the latest snapshot, not the
 * transaction's: under REPEATABLE READ a consent or allowance committed
 * since the transaction began is seen, and the purpose cannot go.
 */
Datum
pguard_policy_referrer(PG_FUNCTION_ARGS)
{
	static const struct
	{
		const char *what;
		const char *table;
		const char *column;
	}			refs[] = {
		{"purpose", "consent_events", "purpose"},
		{"purpose", "allowances", "purpose"},
		{"purpose", "purpose_grants", "purpose"},
		{"category", "column_protection", "category"},
		{"category", "allowances", "category"},
	};
	char	   *what;
	Datum		name;
	Oid			types[1] = {TEXTOID};
	const char *found = NULL;
	CatalogOwnerState owner;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	what = text_to_cstring(PG_GETARG_TEXT_PP(0));
	name = PG_GETARG_DATUM(1);
	CatalogBecomeOwner(&owner);
	SPI_connect();
	for (int i = 0; i < lengthof(refs) && found == NULL; i++)
	{
		SPIPlanPtr	plan;

		if (strcmp(refs[i].what, what) != 0)
			continue;
		plan = SPI_prepare(psprintf("SELECT FROM privacy_guard.%s x WHERE x.%s OPERATOR(pg_catalog.=) $1 LIMIT 1",
									refs[i].table, refs[i].column), 1, types);
		if (plan == NULL)
			elog(ERROR, "could not look for references to %s", what);
		if (SPI_execute_snapshot(plan, &name, NULL, GetLatestSnapshot(), InvalidSnapshot,
								 true, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not look for references to %s", what);
		if (SPI_processed > 0)
			found = refs[i].table;
		SPI_freeplan(plan);
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	if (found == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(found));
}

/*-------------------------------------------------------------------------
 * src/consent.c
 *	  Consent: given, withdrawn, and checked on every consent-bound reveal.
 *
 * Consent is an append-only history in privacy_guard.consent_events: a
 * grant and a withdrawal are both new rows, with who recorded them, when,
 * and (for a grant) the evidence.  Consent to a purpose covers its
 * sub-purposes, and a withdrawal covers them too: for a purpose, the
 * subject's latest event about it or any of its ancestors decides.
 * Every change is audited with its subject, so access_history() shows it.
 *
 * A consent-bound reveal checks the row's subject against the set of
 * subjects (by SHA-256 digest, as the key cache knows them) that consent to
 * the purpose or an ancestor: loaded in one query per purpose, read with
 * the latest snapshot, and dropped in every backend when consent or the
 * policy changes.  A bulk marketing query costs one query and a hash probe
 * a row, and simply gets the consenting customers.
 *
 * Restriction of processing works the same way (restriction_events, one
 * cached set of restricted subjects): a restricted subject reveals NULL
 * except under the built-in purpose subject_access.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "audit.h"
#include "catalog.h"
#include "consent.h"
#include "envelope.h"
#include "keycache.h"
#include "policy.h"

#define CONSENT_PURPOSES 8
#define LINEAGE_MAX 64

/* one purpose's consenting subjects */
typedef struct ConsentSet
{
	char		purpose[NAMEDATALEN * 2];
	HTAB	   *digests;
} ConsentSet;

static MemoryContext consent_cxt = NULL;
static ConsentSet sets[CONSENT_PURPOSES];
static int	nsets = 0;
static bool consent_stale = false;
static uint64 consent_generation = 0;	/* policy generation the sets were built for */
static Oid	consent_relid = InvalidOid;
static void export_xact_callback(XactEvent event, void *arg);
static Oid	restriction_relid = InvalidOid;
static HTAB *restricted = NULL;	/* digests of restricted subjects, or NULL */

static void
consent_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || (OidIsValid(consent_relid) && relid == consent_relid) ||
		(OidIsValid(restriction_relid) && relid == restriction_relid))
		consent_stale = true;
}

static void
consent_changed_elsewhere(void)
{
	consent_stale = true;
}

static void
consent_forget(void)
{
	if (consent_cxt != NULL)
		MemoryContextReset(consent_cxt);
	nsets = 0;
	restricted = NULL;
	consent_stale = false;
}

/* Names of the purpose and its ancestors as a text[] Datum. */
static Datum
lineage_array(const char *purpose)
{
	PolicyPurpose *p;
	const char *names[LINEAGE_MAX];
	Datum		elems[LINEAGE_MAX];
	int			n;

	PolicyEnsure();
	p = PolicyRequirePurpose(purpose);
	n = PolicyPurposeLineage(p, names, LINEAGE_MAX);
	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(names[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Load the subjects consenting to a purpose (or an ancestor) into a new set. */
static ConsentSet *
consent_load(const char *purpose)
{
	ConsentSet *set;
	HASHCTL		ctl;
	CatalogOwnerState owner;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		args[1];
	int			rc;

	if (consent_cxt == NULL)
		consent_cxt = AllocSetContextCreate(TopMemoryContext, "privacy_guard consent",
											ALLOCSET_DEFAULT_SIZES);
	if (nsets == CONSENT_PURPOSES)
		consent_forget();
	set = &sets[nsets];
	strlcpy(set->purpose, purpose, sizeof(set->purpose));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ENVELOPE_DIGEST_LEN;
	ctl.entrysize = ENVELOPE_DIGEST_LEN;
	ctl.hcxt = consent_cxt;
	set->digests = hash_create("privacy_guard consenting subjects", 1024, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	args[0] = lineage_array(purpose);
	CatalogBecomeOwner(&owner);
	SPI_connect();
	consent_relid = CatalogRelid("consent_events");
	PushActiveSnapshot(CatalogFreshSnapshot());
	rc = SPI_execute_with_args(
		"SELECT subject_digest FROM ("
		"  SELECT DISTINCT ON (subject_digest) subject_digest, action"
		"    FROM privacy_guard.consent_events"
		"   WHERE purpose OPERATOR(pg_catalog.=) ANY ($1)"
		"   ORDER BY subject_digest, id DESC) latest"
		" WHERE action OPERATOR(pg_catalog.=) 'granted'",
		1, types, args, NULL, true, 0);
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read consent");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bytea	   *d = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i],
													  SPI_tuptable->tupdesc, 1, &isnull));

		if (!isnull && VARSIZE_ANY_EXHDR(d) == ENVELOPE_DIGEST_LEN)
			(void) hash_search(set->digests, VARDATA_ANY(d), HASH_ENTER, NULL);
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	nsets++;
	return set;
}

/* Does the subject (by digest) consent to the purpose or one of its ancestors? */
bool
ConsentGiven(const char *purpose, int purposelen, const uint8 *digest)
{
	ConsentSet *set = NULL;

	if (consent_stale || consent_generation != PolicyGeneration())
	{
		consent_forget();
		consent_generation = PolicyGeneration();
	}
	for (int i = 0; i < nsets; i++)
		if (strncmp(sets[i].purpose, purpose, purposelen) == 0 && sets[i].purpose[purposelen] == '\0')
		{
			set = &sets[i];
			break;
		}
	if (set == NULL)
		set = consent_load(pnstrdup(purpose, purposelen));
	return hash_search(set->digests, digest, HASH_FIND, NULL) != NULL;
}

/* Is the subject (by digest) restricted?  One cached set of restricted subjects. */
bool
ConsentRestricted(const uint8 *digest)
{
	if (consent_stale || consent_generation != PolicyGeneration())
	{
		consent_forget();
		consent_generation = PolicyGeneration();
	}
	if (restricted == NULL)
	{
		HASHCTL		ctl;
		CatalogOwnerState owner;
		int			rc;

		if (consent_cxt == NULL)
			consent_cxt = AllocSetContextCreate(TopMemoryContext, "privacy_guard consent",
												ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = ENVELOPE_DIGEST_LEN;
		ctl.entrysize = ENVELOPE_DIGEST_LEN;
		ctl.hcxt = consent_cxt;
		restricted = hash_create("privacy_guard restricted subjects", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CatalogBecomeOwner(&owner);
		SPI_connect();
		restriction_relid = CatalogRelid("restriction_events");
		PushActiveSnapshot(CatalogFreshSnapshot());
		rc = SPI_execute("SELECT subject_digest FROM ("
						 "  SELECT DISTINCT ON (subject) subject_digest, action"
						 "    FROM privacy_guard.restriction_events ORDER BY subject, id DESC) latest"
						 " WHERE action OPERATOR(pg_catalog.=) 'restricted'", true, 0);
		PopActiveSnapshot();
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not read restrictions");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			bytea	   *d = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1, &isnull));

			if (!isnull && VARSIZE_ANY_EXHDR(d) == ENVELOPE_DIGEST_LEN)
				(void) hash_search(restricted, VARDATA_ANY(d), HASH_ENTER, NULL);
		}
		SPI_finish();
		CatalogRestoreUser(&owner);
	}
	/* the usual case, no restriction anywhere, costs no probe */
	if (hash_get_num_entries(restricted) == 0)
		return false;
	return hash_search(restricted, digest, HASH_FIND, NULL) != NULL;
}

/* Run a one-boolean query over the histories, as the extension's owner, on the latest snapshot. */
static bool
owner_query_bool(const char *sql, int nargs, Oid *types, Datum *args)
{
	CatalogOwnerState owner;
	bool		result = false;
	int			rc;

	CatalogBecomeOwner(&owner);
	SPI_connect();
	PushActiveSnapshot(CatalogFreshSnapshot());
	rc = SPI_execute_with_args(sql, nargs, types, args, NULL, true, 1);
	PopActiveSnapshot();
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		result = !isnull && DatumGetBool(d);
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	return result;
}

/* Does a data key exist under exactly this subject text? */
static bool
subject_known(const char *subject)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(subject)};

	return owner_query_bool("SELECT EXISTS (SELECT FROM privacy_guard.keys"
							" WHERE kind OPERATOR(pg_catalog.=) 'subject' AND name OPERATOR(pg_catalog.=) $1)",
							1, types, args);
}

/* Is the subject restricted now (latest event)? */
static bool
restriction_current(const char *subject)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(subject)};

	return owner_query_bool("SELECT action OPERATOR(pg_catalog.=) 'restricted' FROM privacy_guard.restriction_events"
							" WHERE subject OPERATOR(pg_catalog.=) $1 ORDER BY id DESC LIMIT 1",
							1, types, args);
}

/* Purpose that consent may be given to; raises otherwise. */
static PolicyPurpose *
consent_purpose(const char *name)
{
	PolicyPurpose *p;

	PolicyEnsure();
	p = PolicyRequirePurpose(name);
	if (!p->requires_consent)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose \"%s\" does not require consent", name),
				 errhint("Consent is recorded for purposes defined with requires_consent or third_party.")));
	return p;
}

/* Is the subject's latest event for the purpose or an ancestor a grant? */
static bool
consent_current(const char *subject, const char *purpose)
{
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		args[2];

	args[0] = CStringGetTextDatum(subject);
	args[1] = lineage_array(purpose);
	return owner_query_bool("SELECT action OPERATOR(pg_catalog.=) 'granted' FROM privacy_guard.consent_events"
							" WHERE subject OPERATOR(pg_catalog.=) $1 AND purpose OPERATOR(pg_catalog.=) ANY ($2)"
							" ORDER BY id DESC LIMIT 1",
							2, types, args);
}

/*
 * Append one event to a history table (consent_events, restriction_events)
 * as the extension's owner, recorded by the calling role, and audit it with
 * its subject.  insert_sql may use $1 subject, $2 its digest, $3 action, $4
 * evidence or reason, $5 recorder, $6 purpose (types are fixed, so a
 * statement may leave some unused).
 */
static void
history_append(const char *insert_sql, const char *event, const char *subject,
			   const char *purpose, const char *action, const char *text)
{
	CatalogOwnerState owner;
	Oid			types[6] = {TEXTOID, BYTEAOID, TEXTOID, TEXTOID, NAMEOID, TEXTOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bytea	   *digest = palloc(VARHDRSZ + ENVELOPE_DIGEST_LEN);
	const char *recorder = GetUserNameFromId(GetUserId(), false);
	int			rc;
	uint64		inserted;

	SET_VARSIZE(digest, VARHDRSZ + ENVELOPE_DIGEST_LEN);
	KeycacheSubjectDigest(subject, strlen(subject), (uint8 *) VARDATA(digest));
	args[0] = CStringGetTextDatum(subject);
	args[1] = PointerGetDatum(digest);
	args[2] = CStringGetTextDatum(action);
	if (text)
		args[3] = CStringGetTextDatum(text);
	else
		nulls[3] = 'n';
	/* the caller, named before acting as the extension's owner */
	args[4] = DirectFunctionCall1(namein, CStringGetDatum(recorder));
	if (purpose)
		args[5] = CStringGetTextDatum(purpose);
	else
		nulls[5] = 'n';
	CatalogBecomeOwner(&owner);
	SPI_connect();
	rc = SPI_execute_with_args(insert_sql, 6, types, args, nulls, false, 0);
	inserted = SPI_processed;
	SPI_finish();
	CatalogRestoreUser(&owner);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record %s", event);
	/* the purpose went (a policy load) after this session's cache saw it */
	if (inserted != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("purpose \"%s\" does not exist", purpose ? purpose : ""),
				 errhint("The policy changed meanwhile; see privacy_guard.export_policy().")));
	AuditRecordSubject(event, purpose, NULL, action, psprintf("recorded by %s", recorder), subject);
}

static void
consent_append(const char *subject, const char *purpose, const char *action, const char *evidence)
{
	/* the purpose's row is locked as a foreign key would: it cannot go meanwhile */
	history_append("INSERT INTO privacy_guard.consent_events"
				   " (subject, subject_digest, action, evidence, recorded_by, purpose)"
				   " SELECT $1, $2, $3, $4, $5, p.name FROM privacy_guard.purposes p"
				   " WHERE p.name OPERATOR(pg_catalog.=) $6 FOR KEY SHARE OF p",
				   "consent", subject, purpose, action, evidence);
}

static void
restriction_append(const char *subject, const char *action, const char *reason)
{
	history_append("INSERT INTO privacy_guard.restriction_events"
				   " (subject, subject_digest, action, reason, recorded_by)"
				   " VALUES ($1, $2, $3, $4, $5)",
				   "restriction", subject, NULL, action, reason);
}

static char *
required_text(FunctionCallInfo fcinfo, int arg, const char *what)
{
	char	   *s;

	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	s = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	return s;
}

PG_FUNCTION_INFO_V1(pguard_grant_consent);

/* grant_consent(subject, purpose, evidence) */
Datum
pguard_grant_consent(PG_FUNCTION_ARGS)
{
	char	   *subject = required_text(fcinfo, 0, "subject");
	char	   *purpose = required_text(fcinfo, 1, "purpose");
	char	   *evidence;

	if (PG_ARGISNULL(2) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("consent needs evidence"),
				 errhint("Say how and when the customer consented, e.g. \"preferences page, 2026-11-25\".")));
	evidence = text_to_cstring(PG_GETARG_TEXT_PP(2));
	(void) consent_purpose(purpose);
	consent_append(subject, purpose, "granted", evidence);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_withdraw_consent);

/* withdraw_consent(subject, purpose) */
Datum
pguard_withdraw_consent(PG_FUNCTION_ARGS)
{
	char	   *subject = required_text(fcinfo, 0, "subject");
	char	   *purpose = required_text(fcinfo, 1, "purpose");

	PolicyPurpose *p = consent_purpose(purpose);
	const char *subtree[LINEAGE_MAX];
	int			n = PolicyPurposeSubtree(p, subtree, LINEAGE_MAX);
	bool		any = false;

	/* consent to the purpose, or to any purpose below it, is withdrawn */
	for (int i = 0; i < n && !any; i++)
		any = consent_current(subject, subtree[i]);
	if (!any)
	{
		ereport(NOTICE,
				(errmsg("subject has no consent to purpose \"%s\" or below it to withdraw", purpose)));
		PG_RETURN_VOID();
	}
	consent_append(subject, purpose, "withdrawn", NULL);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_has_consent);

/* has_consent(subject, purpose) */
Datum
pguard_has_consent(PG_FUNCTION_ARGS)
{
	char	   *subject = required_text(fcinfo, 0, "subject");
	char	   *purpose = required_text(fcinfo, 1, "purpose");

	PolicyEnsure();
	(void) PolicyRequirePurpose(purpose);
	PG_RETURN_BOOL(consent_current(subject, purpose));
}

PG_FUNCTION_INFO_V1(pguard_consent_changed);

/* Statement trigger on consent_events: every backend drops its consent sets. */
Datum
pguard_consent_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "consent_changed() must be called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	CatalogChanged();
	return PointerGetDatum(NULL);
}

void
ConsentInit(void)
{
	CacheRegisterRelcacheCallback(consent_relcache_callback, (Datum) 0);
	CatalogOnChange(consent_changed_elsewhere);
	RegisterXactCallback(export_xact_callback, NULL);
}

PG_FUNCTION_INFO_V1(pguard_restrict_processing);

/* restrict_processing(subject, reason) */
Datum
pguard_restrict_processing(PG_FUNCTION_ARGS)
{
	char	   *subject = required_text(fcinfo, 0, "subject");
	char	   *reason;

	if (PG_ARGISNULL(1) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a restriction needs a reason"),
				 errhint("Say why, e.g. \"customer contests accuracy, ticket 4711\".")));
	reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!subject_known(subject))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no data is held for this subject"),
				 errdetail("Subjects are matched by the text of their subject column (column::text), exactly."),
				 errhint("Write the subject as its column renders it, e.g. a lower-case uuid, no padding.")));
	if (restriction_current(subject))
	{
		ereport(NOTICE, (errmsg("processing of the subject's data is already restricted")));
		PG_RETURN_VOID();
	}
	restriction_append(subject, "restricted", reason);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_lift_restriction);

/* lift_restriction(subject) */
Datum
pguard_lift_restriction(PG_FUNCTION_ARGS)
{
	char	   *subject = required_text(fcinfo, 0, "subject");

	if (!restriction_current(subject))
	{
		ereport(NOTICE, (errmsg("processing of the subject's data is not restricted")));
		PG_RETURN_VOID();
	}
	restriction_append(subject, "lifted", NULL);
	PG_RETURN_VOID();
}

/*
 * The subject an export is running for: subject_access reveals that
 * subject's values and nothing else, and only while the scope is open.
 */
static bool export_open = false;
static uint8 export_digest[ENVELOPE_DIGEST_LEN];

/* May a value of the subject with this key digest be revealed under subject_access? */
bool
ConsentExportAllows(const uint8 *digest)
{
	return export_open && memcmp(export_digest, digest, ENVELOPE_DIGEST_LEN) == 0;
}

static void
export_xact_callback(XactEvent event, void *arg)
{
	export_open = false;
}

PG_FUNCTION_INFO_V1(pguard_export_scope);

/*
 * export_scope(subject, open): subject_export()'s bracket.  Opening records
 * the export in the audit trail; the scope also closes at transaction end.
 */
Datum
pguard_export_scope(PG_FUNCTION_ARGS)
{
	bool		open = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);

	if (!open)
	{
		export_open = false;
		PG_RETURN_VOID();
	}
	{
		char	   *subject = required_text(fcinfo, 0, "subject");

		KeycacheSubjectDigest(subject, strlen(subject), export_digest);
		AuditRecordSubject("subject_export", POLICY_SUBJECT_ACCESS, NULL, "requested",
						   psprintf("requested by %s", GetUserNameFromId(GetUserId(), false)), subject);
		export_open = true;
	}
	PG_RETURN_VOID();
}

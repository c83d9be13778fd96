/*-------------------------------------------------------------------------
 * src/reveal.c
 *	  Decide what a role, acting under a purpose, may see of a sealed value.
 *
 * reveal(value, purpose) runs one decision, RevealDecide, in a fixed order:
 * purpose declared, purpose known, role granted it, category allowed (full
 * or masked), then the subject's state (erased: its data key is gone),
 * consent (a consent-bound purpose reveals NULL without it) and restriction
 * (NULL except under subject_access).  A lockdown refuses every reveal
 * but incident_response's before anything else.  A refusal is an
 * insufficient_privilege error naming role, purpose and category, never
 * the value; an erased or non-consenting subject reveals NULL.
 *
 * The per-row path is C only and cheap on a warm cache: the policy part of
 * the decision is memoised per (role, purpose, category) until the policy
 * changes, data keys come from the key cache, and the cipher context keeps
 * its key between rows of one subject.  Plaintext buffers are wiped before
 * they are freed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"

#include "audit.h"
#include "budget.h"
#include "catalog.h"
#include "consent.h"
#include "incident.h"
#include "keycache.h"
#include "masking.h"
#include "policy.h"
#include "redact.h"
#include "reveal.h"
#include "types.h"

#define MEMO_SIZE 8

/* The policy part of a decision, memoised. */
typedef struct PolicyDecision
{
	uint64		generation;		/* 0: empty slot */
	Oid			userid;
	char		purpose[NAMEDATALEN * 2];
	char		category[ENVELOPE_MAX_CATEGORY + 1];
	PolicyLevel level;
	int			mask;
	bool		requires_consent;
	bool		subject_access; /* the built-in purpose: one subject, in an export */
} PolicyDecision;

static PolicyDecision memo[MEMO_SIZE];
static int	memo_next = 0;

static const char *const outcome_names[] = {
	"revealed", "masked", "denied", "no_consent", "restricted", "erased"
};

const char *
RevealOutcomeName(RevealOutcome outcome)
{
	return outcome_names[outcome];
}

static PolicyDecision *last_decision = NULL;

/* the refusals audited in the current statement (see audit_denied) */
#define DENIED_MEMO_SIZE 16
static TimestampTz denied_statement = 0;
static uint32 denied_memo[DENIED_MEMO_SIZE];
static bool denied_overflow = false;	/* the statement's summary record is written */

static int	ndenied = 0;

/*
 * Audit a refused reveal or search: once per statement for each (role,
 * event, purpose, category, reason), for at most DENIED_MEMO_SIZE of them, and naming a purpose and a category only when the
 * policy defines them.  The category comes from the envelope and the
 * purpose from an argument, both the caller's to make up: the trail is no
 * notepad for any role, nor a thing to flood from a loop that catches the
 * error.
 */
static void
audit_denied(const char *event, const char *purpose, const char *category, int catlen, const char *reason)
{
	PolicyCategory *c;
	char	   *recorded;
	uint32		h;

	PolicyEnsure();
	if (purpose != NULL && PolicyFindPurpose(purpose) == NULL)
		purpose = NULL;
	c = PolicyFindCategory(category, catlen);
	recorded = c ? c->name : NULL;
	if (c == NULL && strcmp(reason, "category not defined") != 0)
		reason = psprintf("%s (category not defined)", reason);
	h = hash_combine(hash_combine(hash_combine(hash_bytes_uint32(GetUserId()),
											   hash_any((const unsigned char *) event, strlen(event))),
								  hash_any((const unsigned char *) (purpose ? purpose : ""),
										   purpose ? strlen(purpose) : 0)),
					 hash_combine(hash_any((const unsigned char *) (recorded ? recorded : ""),
										   recorded ? strlen(recorded) : 0),
								  hash_any((const unsigned char *) reason, strlen(reason))));
	if (denied_statement != GetCurrentStatementStartTimestamp())
	{
		denied_statement = GetCurrentStatementStartTimestamp();
		ndenied = 0;
		denied_overflow = false;
	}
	for (int i = 0; i < ndenied; i++)
		if (denied_memo[i] == h)
			return;
	if (ndenied == DENIED_MEMO_SIZE)
	{
		/* a fixed number of records a statement, however many it makes up */
		if (!denied_overflow)
			AuditRecord(event, NULL, NULL, "denied",
						"more refusals in this statement, of other purposes, categories or reasons: not recorded one by one");
		denied_overflow = true;
		return;
	}
	denied_memo[ndenied++] = h;
	AuditRecord(event, purpose, recorded, "denied", reason);
}

/* memcmp() == 0 for the short names compared at every row, without a call */
static inline bool
bytes_are(const char *a, const char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Does a memo slot hold this (generation, role, purpose, category)? */
static inline bool
memo_matches(PolicyDecision *d, uint64 gen, Oid userid,
			 const char *purpose, int purposelen, const char *category, int catlen)
{
	return d->generation == gen && d->userid == userid &&
		bytes_are(d->category, category, catlen) && d->category[catlen] == '\0' &&
		bytes_are(d->purpose, purpose, purposelen) && d->purpose[purposelen] == '\0';
}

/* Policy checks for (current role, purpose, category); raises on refusal. */
static PolicyDecision *
decide_policy(const char *event, const char *purpose_bytes, int purposelen,
			  const char *category, int catlen)
{
	Oid			userid = GetUserId();
	uint64		gen = PolicyGeneration();
	PolicyPurpose *p;
	PolicyCategory *c;
	PolicyDecision *d;
	char		catname[ENVELOPE_MAX_CATEGORY + 1];
	char	   *purpose;

	if (last_decision != NULL && purposelen < (int) sizeof(last_decision->purpose) &&
		memo_matches(last_decision, gen, userid, purpose_bytes, purposelen, category, catlen))
		return last_decision;
	for (int i = 0; i < MEMO_SIZE; i++)
	{
		d = &memo[i];
		if (purposelen < (int) sizeof(d->purpose) &&
			memo_matches(d, gen, userid, purpose_bytes, purposelen, category, catlen))
			return last_decision = d;
	}

	purpose = pnstrdup(purpose_bytes, purposelen);
	memcpy(catname, category, catlen);
	catname[catlen] = '\0';
	PolicyEnsure();
	gen = PolicyGeneration();
	p = PolicyRequirePurpose(purpose);
	c = PolicyFindCategory(catname, catlen);
	if (c == NULL || !PolicyRoleHolds(userid, p) || PolicyAllowance(p, c) == LEVEL_NONE)
	{
		const char *rolename = GetUserNameFromId(userid, false);

		audit_denied(event, purpose, catname, catlen,
					 c == NULL ? "category not defined" :
					 !PolicyRoleHolds(userid, p) ? "purpose not granted" : "category not allowed");

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 strcmp(event, "search") == 0 ?
				 errmsg("permission denied to search category \"%s\" for purpose \"%s\"",
						catname, purpose) :
				 errmsg("permission denied to reveal category \"%s\" for purpose \"%s\"",
						catname, purpose),
				 c == NULL ?
				 errdetail("Category \"%s\" is no longer defined.", catname) :
				 !PolicyRoleHolds(userid, p) ?
				 errdetail("Role \"%s\" has not been granted purpose \"%s\".", rolename, purpose) :
				 errdetail("Purpose \"%s\" is not allowed category \"%s\".", purpose, catname),
				 errhint("Ask the policy owner to grant the purpose or allow the category.")));
	}

	/* a load overtaken by a policy change is used once, never memoised */
	if (!PolicyIsCurrent())
	{
		static PolicyDecision once;

		once.generation = 0;
		once.level = PolicyAllowance(p, c);
		once.mask = c->mask;
		once.requires_consent = p->requires_consent;
		once.subject_access = p->subject_access;
		return &once;
	}
	d = &memo[memo_next];
	memo_next = (memo_next + 1) % MEMO_SIZE;
	d->generation = gen;
	d->userid = userid;
	strlcpy(d->purpose, purpose, sizeof(d->purpose));
	strlcpy(d->category, catname, sizeof(d->category));
	d->level = PolicyAllowance(p, c);
	d->mask = c->mask;
	d->requires_consent = p->requires_consent;
	d->subject_access = p->subject_access;
	return last_decision = d;
}

/*
 * The decision for one value: raises on refusal, else returns the outcome
 * and sets *key to the subject's data key (NULL when erased).
 */
static RevealOutcome
RevealDecide(const char *purpose, int purposelen, const EnvelopeView *view,
			 PolicyDecision **decision, KeyEntry **key)
{
	bool		missing;

	if (purpose == NULL)
	{
		audit_denied("reveal", NULL, view->category, view->catlen, "no purpose declared");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reveal category \"%.*s\": no purpose declared",
						view->catlen, view->category),
				 errdetail("Role \"%s\" has not declared a purpose in this session.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("Call privacy_guard.set_purpose() or pass the purpose to reveal().")));
	}

	/* an erasure, a revoked grant, a withdrawn consent: at once */
	CatalogCheckChanges();
	/* a lockdown refuses every reveal but the investigation's, at once */
	if (IncidentLockdown(NULL) &&
		!(purposelen == (int) strlen(POLICY_INCIDENT_RESPONSE) &&
		  memcmp(purpose, POLICY_INCIDENT_RESPONSE, purposelen) == 0))
	{
		char	   *catname = pnstrdup(view->category, view->catlen);
		char	   *purposename = pnstrdup(purpose, purposelen);

		audit_denied("reveal", purposename, view->category, view->catlen, "lockdown in force");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reveal category \"%s\" for purpose \"%s\": lockdown in force",
						catname, purposename),
				 errdetail("Role \"%s\" cannot reveal personal data while the database is locked down.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("Only purpose \"%s\" reveals during a lockdown; privacy_guard.lift_lockdown() ends it.",
						 POLICY_INCIDENT_RESPONSE)));
	}

	*decision = decide_policy("reveal", purpose, purposelen, view->category, view->catlen);
	*key = KeycacheForIdChecked(view->key_id, true, &missing);
	if (missing)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("sealed value names a data key that does not exist"),
				 errdetail("The envelope was altered, or copied from another database; an erased subject's values read as NULL.")));
	if (*key == NULL)
		return OUTCOME_ERASED;
	/* the subject's own access reveals only within subject_export(), only that subject */
	if ((*decision)->subject_access && !ConsentExportAllows((*key)->digest))
	{
		audit_denied("reveal", POLICY_SUBJECT_ACCESS, view->category, view->catlen, "outside subject_export()");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("purpose \"subject_access\" reveals only within privacy_guard.subject_export()"),
				 errdetail("It shows a subject's own data to that subject, one subject at a time.")));
	}
	/* a consent-bound purpose sees only the subjects who consent to it */
	if ((*decision)->requires_consent && !ConsentGiven(purpose, purposelen, (*key)->digest))
		return OUTCOME_NO_CONSENT;
	/* a restricted subject's data is shown to the subject alone */
	if (!(*decision)->subject_access && ConsentRestricted((*key)->digest))
		return OUTCOME_RESTRICTED;
	return (*decision)->level == LEVEL_FULL ? OUTCOME_REVEALED : OUTCOME_MASKED;
}

static void
authentication_failed(EnvelopeType type)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("sealed %s value failed authentication", EnvelopeTypeName(type)),
			 errdetail("The envelope was altered, or copied from another subject's or category's column.")));
}

/*
 * Text sealed in a database of another encoding (a restore) must not come
 * back as invalid text; the message names no byte of it.
 */
static void
check_encoding(const char *s, int len)
{
	if (!pg_verifymbstr(s, len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("sealed text is not valid in the database encoding"),
				 errhint("The value was sealed in a database with another encoding.")));
}

/* Where a reveal's argument comes from, resolved once per call site. */
typedef struct RevealSite
{
	const char *table;			/* schema-qualified, or NULL */
	const char *column;
	AuditSiteMemo memo;			/* the audit group it joined last */
} RevealSite;

/*
 * The table and column a reveal reads, when its argument is a column: Vars
 * keep their syntactic origin through planning, which names an entry of
 * the range table of the query being run.
 */
static RevealSite *
reveal_site(FunctionCallInfo fcinfo)
{
	RevealSite *site = (RevealSite *) fcinfo->flinfo->fn_extra;
	Node	   *expr = fcinfo->flinfo->fn_expr;

	if (site != NULL)
		return site;
	site = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RevealSite));
	if (expr != NULL && IsA(expr, FuncExpr) && list_length(((FuncExpr *) expr)->args) >= 1)
	{
		Node	   *arg = linitial(((FuncExpr *) expr)->args);
		List	   *rtable = AuditRunningRangeTable();

		while (arg != NULL && IsA(arg, RelabelType))
			arg = (Node *) ((RelabelType *) arg)->arg;
		if (arg != NULL && IsA(arg, Var) && rtable != NIL &&
			((Var *) arg)->varnosyn > 0 && ((Var *) arg)->varnosyn <= list_length(rtable))
		{
			Var		   *var = (Var *) arg;
			RangeTblEntry *rte = rt_fetch(var->varnosyn, rtable);

			if (rte->rtekind == RTE_RELATION && var->varattnosyn > 0)
			{
				char	   *rel = get_rel_name(rte->relid);
				char	   *nsp = get_namespace_name(get_rel_namespace(rte->relid));
				char	   *att = get_attname(rte->relid, var->varattnosyn, true);

				if (rel != NULL && nsp != NULL && att != NULL)
				{
					site->table = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt,
													  quote_qualified_identifier(nsp, rel));
					site->column = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, att);
				}
			}
		}
	}
	fcinfo->flinfo->fn_extra = site;
	return site;
}

/* reveal() for every type. */
static Datum
reveal_value(FunctionCallInfo fcinfo, EnvelopeType type)
{
	struct varlena *value;
	EnvelopeView view;
	const char *purpose;
	int			purposelen;
	RevealSite *site;
	PolicyDecision *decision;
	KeyEntry   *key;
	RevealOutcome outcome;
	uint8	   *plain;
	Datum		result;
	bool		isnull = false;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	/* the statement may compare the result with a literal: keep it out of the log */
	RedactStatement();
	value = PG_GETARG_VARLENA_PP(0);
	TypesParseDatum(value, type, &view);
	if (view.version == ENVELOPE_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot reveal an unsealed %s value", EnvelopeTypeName(type)),
				 errhint("Only values stored in a protected column or made by privacy_guard.seal() can be revealed.")));

	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
	{
		text	   *p = PG_GETARG_TEXT_PP(1);

		purpose = VARDATA_ANY(p);
		purposelen = VARSIZE_ANY_EXHDR(p);
	}
	else
	{
		purpose = PolicySessionPurpose();
		purposelen = purpose ? strlen(purpose) : 0;
	}
	outcome = RevealDecide(purpose, purposelen, &view, &decision, &key);
	site = reveal_site(fcinfo);
	/* recorded before any value leaves: durably, when one does */
	AuditReveal("reveal", site->table, site->column, purpose, purposelen, view.category, view.catlen, RevealOutcomeName(outcome),
				outcome == OUTCOME_REVEALED || outcome == OUTCOME_MASKED, view.key_id, &site->memo);
	if (outcome != OUTCOME_REVEALED && outcome != OUTCOME_MASKED)
		PG_RETURN_NULL();

	/* full text or bytea: open straight into the result */
	if (outcome == OUTCOME_REVEALED && (type == ENV_TEXT || type == ENV_BYTEA))
	{
		struct varlena *res = palloc(VARHDRSZ + view.ctlen);

		SET_VARSIZE(res, VARHDRSZ + view.ctlen);
		if (!KeycacheOpen(key, &view, (uint8 *) VARDATA(res)))
			authentication_failed(type);
		if (type == ENV_TEXT)
			check_encoding(VARDATA(res), view.ctlen);
		PG_RETURN_POINTER(res);
	}

	plain = palloc(view.ctlen + 1);
	if (!KeycacheOpen(key, &view, plain))
		authentication_failed(type);
	if (type == ENV_TEXT)
		check_encoding((const char *) plain, view.ctlen);
	if (outcome == OUTCOME_REVEALED)
		result = TypesFromPlain(type, plain, view.ctlen);
	else
		result = MaskingApply(type, decision->mask, plain, view.ctlen, &isnull);
	OPENSSL_cleanse(plain, view.ctlen);
	pfree(plain);
	if (isnull)
		PG_RETURN_NULL();
	return result;
}

#define REVEAL_FUNCTION(name, envtype) \
PG_FUNCTION_INFO_V1(pguard_reveal_##name); \
Datum pguard_reveal_##name(PG_FUNCTION_ARGS) \
{ return reveal_value(fcinfo, envtype); }

REVEAL_FUNCTION(text, ENV_TEXT)
REVEAL_FUNCTION(jsonb, ENV_JSONB)
REVEAL_FUNCTION(date, ENV_DATE)
REVEAL_FUNCTION(numeric, ENV_NUMERIC)
REVEAL_FUNCTION(bytea, ENV_BYTEA)

/*
 * The check blind_index() makes: the current role, under its declared
 * purpose, may see the category (full or masked).  Raises otherwise.  Then
 * a masked purpose's budget is charged for the value searched (by its
 * term: distinct terms are distinct values of the category; NULL when the
 * category has no search key, and nothing can be found) and the search is
 * recorded; again: the statement made this search already, so only the
 * role, its purpose and a lockdown are checked, as each evaluation must be.
 */
void
RevealRequireSearch(const char *category, const uint8 *term, bool again)
{
	const char *purpose = PolicySessionPurpose();
	PolicyDecision *d;

	if (purpose == NULL)
	{
		audit_denied("search", NULL, category, strlen(category), "no purpose declared");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to search category \"%s\": no purpose declared", category),
				 errdetail("Role \"%s\" has not declared a purpose in this session.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("Call privacy_guard.set_purpose() with a purpose allowed the category.")));
	}
	/* a lockdown stops searches as it stops reveals: a search term confirms a value */
	CatalogCheckChanges();
	if (IncidentLockdown(NULL) && strcmp(purpose, POLICY_INCIDENT_RESPONSE) != 0)
	{
		audit_denied("search", purpose, category, strlen(category), "lockdown in force");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to search category \"%s\" for purpose \"%s\": lockdown in force",
						category, purpose),
				 errdetail("Role \"%s\" cannot search personal data while the database is locked down.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("Only purpose \"%s\" searches during a lockdown; privacy_guard.lift_lockdown() ends it.",
						 POLICY_INCIDENT_RESPONSE)));
	}
	d = decide_policy("search", purpose, strlen(purpose), category, strlen(category));
	if (d->subject_access)
	{
		audit_denied("search", purpose, category, strlen(category), "subject_access cannot search");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to search category \"%s\" for purpose \"subject_access\"", category),
				 errdetail("subject_access shows one subject's own data through subject_export(); it does not search.")));
	}
	/* consent is per subject; a search does not know whose data it finds */
	if (d->requires_consent)
	{
		audit_denied("search", purpose, category, strlen(category), "purpose requires consent");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to search category \"%s\" for purpose \"%s\"", category, purpose),
				 errdetail("Purpose \"%s\" requires each subject's consent; a search cannot check it.", purpose)));
	}
	if (again)
		return;
	/* a masked view narrows the guesses: a few lookups an hour, not a brute force (budget.c) */
	if (d->level != LEVEL_FULL)
	{
		int			used;
		int			limit;
		uint32		h = hash_any((const unsigned char *) category, strlen(category));
		BudgetOutcome outcome;

		if (term != NULL)
			h = hash_combine(h, hash_any(term, ENVELOPE_TERM_LEN));
		outcome = BudgetChargeMaskedSearch(h, &used, &limit);

		if (outcome != BUDGET_OK)
		{
			const char *role = GetUserNameFromId(GetUserId(), false);

			audit_denied("search", purpose, category, strlen(category),
						 "masked search budget exhausted");
			if (outcome == BUDGET_EXHAUSTED_FIRST)
				AuditRecord("incident", purpose, d->category, "reported",
							psprintf("role %s exhausted its masked search budget (%d distinct values this hour) searching category %s",
									 role, limit, category));
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to search category \"%s\" for purpose \"%s\": masked search budget exhausted",
							category, purpose),
					 errdetail("Purpose \"%s\" sees the category masked; role \"%s\" may search %d distinct values an hour in such categories, and this hour's are used.",
							   purpose, role, limit),
					 errhint("Search again next hour, or use a purpose allowed the category in full.  A superuser sets the budget with ALTER ROLE ... SET privacy_guard.masked_search_budget.")));
		}
	}
	AuditReveal("search", NULL, NULL, purpose, strlen(purpose), category, strlen(category), "searched", false, 0, NULL);
}

/*
 * A search of the current statement matched a value of this subject (its
 * data key): recorded with the search, for access_history().
 */
void
RevealSearchMatched(const char *category, int64 key_id)
{
	/* the purpose may have changed since the search's check: recorded all the same */
	AuditSearchSubject(PolicySessionPurpose(), category, key_id);
}

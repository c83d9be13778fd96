/*-------------------------------------------------------------------------
 * src/writepath.c
 *	  Sealing on the way in: seal(), blind_index() and the row trigger; and
 *	  the catalog steps of protect() and unprotect().
 *
 * protect() installs one BEFORE INSERT OR UPDATE row trigger per table,
 * zz_privacy_guard_seal (named to run after the table's own BEFORE
 * triggers), whose arguments list each protected column as four strings:
 * column, category, subject column, 'searchable' or ''.  For each column
 * the trigger seals a pending value (plaintext the application wrote) under
 * the row's subject key, with its search term when the column is
 * searchable, and checks that an envelope written back belongs to the row's
 * subject and category, opens, and carries a valid search term exactly when
 * the column is searchable.  Terms are computed only from plaintext being
 * sealed: an envelope without one (from a column that is not searchable)
 * cannot become searchable by being written back.  The trigger first checks
 * that the table still has the shape protect() gave it.  A CHECK
 * constraint (check_sealed) backs it up for writes that bypass triggers.
 *
 * register_protection() and unregister_protection() record and forget a
 * protected column in privacy_guard's catalog, as the extension's owner,
 * and return what the sealing trigger's arguments become.  The guard
 * (src/guard.c) reads the same catalog to refuse the DDL that would undo a
 * protection, so unprotect() forgets the column before its own DDL.
 *
 * The subject of a row is its subject column as text (column::text).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/execdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "executor/tuptable.h"
#include "utils/syscache.h"

#include "audit.h"
#include "catalog.h"
#include "guard.h"
#include "incident.h"
#include "keycache.h"
#include "leave.h"
#include "policy.h"
#include "progress.h"
#include "redact.h"
#include "reveal.h"
#include "types.h"
#include "writepath.h"

static void require_current_search(const char *rel, const char *col);

/*
 * The search term of plaintext under a category's index key, into out
 * (ENVELOPE_TERM_LEN bytes): the key's id, big-endian, then the first
 * bytes of HMAC-SHA-256.  Returns false when the category has no key and
 * create is false.
 */
bool
WritepathSearchTerm(const char *category, const uint8 *plain, int len, bool create,
					uint8 *out)
{
	int64		key_id = KeycacheIndexTerm(category, plain, len, create, out + 8);

	if (key_id == 0)
		return false;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8) ((uint64) key_id >> (56 - 8 * i));
	return true;
}

/*
 * Is an envelope's search term under the category's index key?  Only the
 * write path computes terms, from the plaintext it seals, and the term is
 * authenticated with the value: an envelope that opens carries the term of
 * its own plaintext, so what is left to check is the key it was computed
 * under (not another category's, not one that no longer exists).
 */
/*
 * The search key rotate_search_key() is replacing in this backend, and its
 * category: until every column is re-sealed, a row's other searchable
 * columns of the category still carry terms under it, and a rewrite of one
 * column checks the row's every CHECK.
 */
static int64 rotating_from = 0;
static char rotating_category[ENVELOPE_MAX_CATEGORY + 1];

bool
WritepathTermKeyCurrent(const EnvelopeView *view, const char *category)
{
	uint8		key[ENVELOPE_KEY_LEN];
	uint64		term_key = 0;
	int64		key_id;

	if (view->term == NULL)
		return false;
	key_id = KeycacheIndexKey(category, key, false);
	OPENSSL_cleanse(key, sizeof(key));
	for (int i = 0; i < 8; i++)
		term_key = (term_key << 8) | view->term[i];
	if (rotating_from != 0 && (uint64) rotating_from == term_key &&
		strcmp(rotating_category, category) == 0)
		return true;
	return key_id != 0 && (uint64) key_id == term_key;
}

/*
 * Seal plaintext bytes for a subject under a category (already checked),
 * with its search term when searchable.
 */
static struct varlena *
seal_plain(EnvelopeType type, PolicyCategory *category, bool searchable,
		   const char *subject, int subjectlen, const uint8 *plain, int len)
{
	KeyEntry   *key;
	uint8		search[ENVELOPE_SEARCH_LEN];
	uint64		generation;

	/*
	 * The index key first: reading or creating it may process
	 * invalidations that reset the key cache, which the subject's entry
	 * must outlive until it has sealed.  The term's binding names the
	 * subject's key, so it is computed after; should that have emptied the
	 * cache after all, the subject's entry is looked up again.
	 */
	if (searchable)
		(void) KeycacheIndexKeyEnsure(category->name);
	key = KeycacheForSubject(subject, subjectlen);
	if (searchable)
	{
		generation = KeycacheGeneration();
		(void) KeycacheIndexSearch(category->name, plain, len, true, key->key_id, search);
		if (KeycacheGeneration() != generation)
			key = KeycacheForSubject(subject, subjectlen);
	}
	return EnvelopeSeal(type, key->key_id, category->name, key->digest,
						key->dek, &key->schedule, searchable ? search : NULL, plain, len);
}

/* The category, checked against the collection rules. */
static PolicyCategory *
collectable_category(const char *name)
{
	PolicyCategory *c;

	PolicyEnsure();
	c = PolicyRequireCategory(name);
	PolicyRequireCollectable(c);
	return c;
}

/*
 * seal() creates a subject's key when it has none, and fails for an erased
 * subject: it is for the roles the policy names for the category (a purpose
 * allowed to see it), administrators and superusers.  Writes to protected
 * columns seal through the trigger, whoever may write the table.
 */
static void
require_sealer(PolicyCategory *category)
{
	Oid			admin = get_role_oid("privacy_guard_admin", true);

	if (superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin)) ||
		PolicyRoleUsesCategory(GetUserId(), category))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to seal category \"%s\"", category->name),
			 errdetail("Role \"%s\" holds no purpose that the policy allows to see category \"%s\".",
					   GetUserNameFromId(GetUserId(), false), category->name),
			 errhint("Write the value to a protected column, or ask the policy owner for a purpose."),
			 errhidestmt(true)));
}

/*
 * Search terms made outside a search: protect() making a column searchable
 * (seal_searchable() on its rows, then its registration).  A term of a
 * chosen plaintext confirms which row holds that value, as a search does;
 * whoever may protect a table (an administrator, its owner) may make them
 * for any category, but not during a lockdown, and never unrecorded: one
 * record (event 'protect') a statement and category.
 */
static void
terms_made(const char *category, const char *table, const char *column)
{
	static TimestampTz recorded_at = 0;
	static char recorded_category[NAMEDATALEN] = "";
	char		statement[1024];	/* more than a record keeps (AUDIT_DETAIL_LEN) */

	CatalogCheckChanges();
	if (IncidentLockdown(NULL))
	{
		AuditRecordColumn("protect", category, table, column, "denied", "lockdown in force");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to make search terms of category \"%s\": lockdown in force", category),
				 errdetail("A search term confirms which row holds a value; role \"%s\" cannot make one while the database is locked down.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("Protect the column without searchable => true, or once privacy_guard.lift_lockdown() has ended the lockdown.")));
	}
	if (recorded_at == GetCurrentStatementStartTimestamp() && strcmp(recorded_category, category) == 0)
		return;
	AuditDescribeStatement(statement, sizeof(statement));
	AuditRecordColumn("protect", category, table, column, "search terms made", statement);
	recorded_at = GetCurrentStatementStartTimestamp();
	strlcpy(recorded_category, category, sizeof(recorded_category));
}

/*
 * seal(value, category, subject) for every plaintext type; with its search
 * term for seal_searchable(), protect()'s way to seal a searchable
 * column's existing rows (administrators only).
 */
static Datum
seal_value(FunctionCallInfo fcinfo, EnvelopeType type, bool searchable)
{
	char	   *catname;
	text	   *subject;
	PolicyCategory *c;
	uint8	   *plain;
	int			len;
	struct varlena *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	RedactStatement();
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("category and subject must not be null"),
				 errhidestmt(true)));
	catname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	subject = PG_GETARG_TEXT_PP(2);
	c = collectable_category(catname);
	require_sealer(c);
	if (searchable)
		terms_made(c->name, NULL, NULL);
	plain = TypesToPlain(type, PG_GETARG_DATUM(0), &len);
	result = seal_plain(type, c, searchable,
						VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject), plain, len);
	OPENSSL_cleanse(plain, len);
	pfree(plain);
	ProgressAdd(1);				/* protect()'s rewrite: one value more */
	PG_RETURN_POINTER(result);
}

#define SEAL_FUNCTION(name, envtype) \
PG_FUNCTION_INFO_V1(pguard_seal_##name); \
Datum pguard_seal_##name(PG_FUNCTION_ARGS) \
{ return seal_value(fcinfo, envtype, false); }

SEAL_FUNCTION(text, ENV_TEXT)
SEAL_FUNCTION(jsonb, ENV_JSONB)
SEAL_FUNCTION(date, ENV_DATE)
SEAL_FUNCTION(numeric, ENV_NUMERIC)
SEAL_FUNCTION(bytea, ENV_BYTEA)

PG_FUNCTION_INFO_V1(pguard_seal_searchable);
Datum
pguard_seal_searchable(PG_FUNCTION_ARGS)
{
	/*
	 * protect() computes terms before it registers the column: a search
	 * key rotation (which takes SHARE on the catalog of protected columns)
	 * waits for it from its first term, and none starts meanwhile.
	 */
	LockRelationOid(CatalogRelid("column_protection"), RowExclusiveLock);
	return seal_value(fcinfo, ENV_TEXT, true);
}

PG_FUNCTION_INFO_V1(pguard_blind_index);

/*
 * blind_index(value text, category text): the search term for a searchable
 * column, compared with the terms its values carry:
 * WHERE col = privacy_guard.blind_index(value, category).  STABLE, so that
 * it can drive an index scan; it never creates a key (NULL, matching
 * nothing, when nothing was sealed searchable under the category).  The
 * caller's declared purpose must be allowed the category, as for reveal:
 * a search term confirms which row holds a known value.
 */
Datum
pguard_blind_index(PG_FUNCTION_ARGS)
{
	text	   *value;
	char	   *catname;
	bytea	   *result;
	bool		found;
	int			len;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	RedactStatement();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("category must not be null")));
	/* the planner estimating selectivity: not a search (no check, no record) */
	if (AuditPlanning())
		PG_RETURN_NULL();
	TypesRefuseInWorker();
	value = PG_GETARG_TEXT_PP(0);
	catname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	len = VARSIZE_ANY_EXHDR(value);
	if (CatalogExtensionPredatesGuard())
		require_current_search(NULL, NULL);
	PolicyEnsure();
	/* a search term links a known plaintext to its row: a purpose must allow it */
	(void) PolicyRequireCategory(catname);
	result = palloc(VARHDRSZ + ENVELOPE_TERM_LEN);
	SET_VARSIZE(result, VARHDRSZ + ENVELOPE_TERM_LEN);
	found = WritepathSearchTerm(catname, (const uint8 *) VARDATA_ANY(value), len, false,
								(uint8 *) VARDATA(result));
	if (!found)
	{
		/* nothing was sealed searchable under the category: nothing to find */
		RevealRequireSearch(catname, NULL, false);
		PG_RETURN_NULL();
	}
	/* checked each call; recorded once a statement, however often it is called */
	TypesRequireSearch(catname, (const uint8 *) VARDATA(result), NULL, 0);
	PG_RETURN_BYTEA_P(result);
}

/* A row's subject as text, as column::text renders it; NULL is refused. */
static char *
subject_text(HeapTuple tuple, TupleDesc desc, int attnum, const char *colname)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);
	Oid			typid = TupleDescAttr(desc, attnum - 1)->atttypid;
	Oid			outfunc;
	bool		varlena;
	char	   *s;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("subject column \"%s\" must not be null in a row with protected values", colname),
				 errhidestmt(true)));
	getTypeOutputInfo(typid, &outfunc, &varlena);
	s = OidOutputFunctionCall(outfunc, d);
	if (typid == BPCHAROID)
	{
		int			l = strlen(s);

		while (l > 0 && s[l - 1] == ' ')
			s[--l] = '\0';
	}
	return s;
}

/*
 * Version 0.1 kept search terms in a blind-index column beside the value
 * (<col>_bidx); this library computes them differently, into the value.
 * Its searches and its searchable columns' writes are refused, not left
 * to find nothing, until the extension is updated.
 */
static void
require_current_search(const char *rel, const char *col)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 rel ? errmsg("searchable column \"%s\" of relation \"%s\" was protected by privacy_guard 0.1", col, rel) :
			 errmsg("searches of privacy_guard 0.1 need the extension updated"),
			 errdetail("This version of the library carries search terms in the values, not in a blind-index column."),
			 errhint("Run ALTER EXTENSION privacy_guard UPDATE.")));
}

/* Column number of a named column, which must have one of the given types. */
static int
column_number(TupleDesc desc, const char *name, Relation rel, const char *role)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s column \"%s\" of relation \"%s\" does not exist",
						role, name, RelationGetRelationName(rel)),
				 errhint("A protected column or its subject column was renamed or dropped; privacy_guard.unprotect() removes the column's protection."),
				 errhidestmt(true)));
	return attnum;
}

/* The trigger's view of one protected column, checked against the table. */
typedef struct ProtectedColumn
{
	const char *name;
	const char *category;
	const char *subject;
	int			attnum;
	int			subject_attnum;
	bool		searchable;
	EnvelopeType type;
} ProtectedColumn;

/*
 * Read one column's trigger arguments and check that the table still has
 * the shape protect() gave it: an ALTER since then (a type changed, the
 * CHECK dropped) must fail here, not crash.
 */
static void
protected_column(Trigger *trigger, int g, Relation rel, ProtectedColumn *pc)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			typid;

	pc->name = trigger->tgargs[g];
	pc->category = trigger->tgargs[g + 1];
	pc->subject = trigger->tgargs[g + 2];
	pc->attnum = column_number(desc, pc->name, rel, "protected");
	pc->subject_attnum = column_number(desc, pc->subject, rel, "subject");
	pc->searchable = strcmp(trigger->tgargs[g + 3], "searchable") == 0;
	if (!pc->searchable && trigger->tgargs[g + 3][0] != '\0')
		require_current_search(RelationGetRelationName(rel), pc->name);

	typid = TupleDescAttr(desc, pc->attnum - 1)->atttypid;
	pc->type = CatalogEncryptedType(typid);
	if (pc->type == 0 ||
		!CatalogSubjectTypeAllowed(TupleDescAttr(desc, pc->subject_attnum - 1)->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("protected column \"%s\" of relation \"%s\" was altered since it was protected",
						pc->name, RelationGetRelationName(rel)),
				 errdetail("The column or its subject column no longer has the type protect() gave it."),
				 errhint("Restore the column's type, or call privacy_guard.unprotect() if the column is no longer to be protected."),
				 errhidestmt(true)));
}

/* A row's subject as text, or NULL when it has none (yet). */
static char *
row_subject(HeapTuple tuple, TupleDesc desc, const ProtectedColumn *pc)
{
	if (heap_attisnull(tuple, pc->subject_attnum, desc))
		return NULL;
	return subject_text(tuple, desc, pc->subject_attnum, pc->subject);
}

/*
 * A pending value bound to another category than the column's, or to
 * another subject than the row's: a trigger of the table's moved plaintext
 * the application wrote for one category into a column of another, which
 * its owner may be allowed to reveal, or into the row of another subject
 * (one whose consent the owner controls, or who will not be erased).
 */
static void
refuse_moved(const EnvelopeView *view, const ProtectedColumn *pc, Relation rel, const char *subject)
{
	uint8		digest[ENVELOPE_DIGEST_LEN];

	if (view->catlen == 0)
		return;
	if (!EnvelopeCategoryIs(view, pc->category))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("a value written for category \"%.*s\" cannot be stored in column \"%s\" of relation \"%s\", protected for category \"%s\"",
						view->catlen, view->category, pc->name, RelationGetRelationName(rel), pc->category),
				 errdetail("A trigger moved plaintext between columns protected for different categories."),
				 errhidestmt(true)));
	if (view->subject_digest != NULL && subject != NULL)
		KeycacheSubjectDigest(subject, strlen(subject), digest);
	if (view->subject_digest != NULL &&
		(subject == NULL || memcmp(digest, view->subject_digest, ENVELOPE_DIGEST_LEN) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("a value written for another data subject cannot be stored in column \"%s\" of relation \"%s\"",
						pc->name, RelationGetRelationName(rel)),
				 errdetail("A trigger moved plaintext into the row of another subject, or changed the row's subject after it was written."),
				 errhidestmt(true)));
}

/*
 * An envelope written back into a searchable column (a restore, logical
 * replication, an application writing back a row it read) must carry a
 * search term under the category's key, which it authenticates; one that has
 * none was sealed for a column that is not searchable, and the trigger
 * does not make it one: that would compute a term for a value its writer
 * may not see, and hand it the term through a UNIQUE constraint or a
 * search.  A column that is not searchable takes no term either.
 */
static void
require_term(const EnvelopeView *view, const ProtectedColumn *pc, Relation rel)
{
	if (pc->searchable && view->term == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("sealed value written to searchable column \"%s\" of relation \"%s\" has no search term",
						pc->name, RelationGetRelationName(rel)),
				 errdetail("It was sealed for a column that is not searchable; search terms are computed only when plaintext is sealed."),
				 errhint("Write the plaintext, which the column seals with its term."),
				 errhidestmt(true)));
	if (!pc->searchable && view->term != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("sealed value written to column \"%s\" of relation \"%s\" carries a search term, and the column is not searchable",
						pc->name, RelationGetRelationName(rel)),
				 errhint("Write the plaintext, which the column seals without a term."),
				 errhidestmt(true)));
	if (pc->searchable && !WritepathTermKeyCurrent(view, pc->category))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("sealed value written to searchable column \"%s\" of relation \"%s\" has a search term of another key",
						pc->name, RelationGetRelationName(rel)),
				 errdetail("The term was not computed under category \"%s\"'s current search key: the value was copied from another category's column, or read before rotate_search_key() replaced the key.", pc->category),
				 errhint("Write the plaintext, which the column seals with its term, or read the value again."),
				 errhidestmt(true)));
}

/*
 * The binding trigger, first of the table's BEFORE row triggers: binds
 * each plaintext value the statement wrote to a protected column to that
 * column's category, before any trigger of the table's owner sees it.  The
 * owner's triggers cannot read such a value, but could move it; the
 * sealing trigger, last, seals a bound value only into a column of its
 * category.  Values a trigger made itself are not bound.
 */
static HeapTuple
bind_row(Trigger *trigger, Relation rel, HeapTuple newtuple)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			ncols = trigger->tgnargs / 4;
	int		   *cols = palloc(sizeof(int) * ncols);
	Datum	   *values = palloc(sizeof(Datum) * ncols);
	bool	   *nulls = palloc0(sizeof(bool) * ncols);
	int			nchanged = 0;

	for (int g = 0; g < trigger->tgnargs; g += 4)
	{
		ProtectedColumn pc;
		bool		isnull;
		Datum		d;
		struct varlena *value;
		EnvelopeView view;
		char	   *subject;
		uint8		digest[ENVELOPE_DIGEST_LEN];

		protected_column(trigger, g, rel, &pc);
		d = heap_getattr(newtuple, pc.attnum, desc, &isnull);
		if (isnull)
			continue;
		value = (struct varlena *) PG_DETOAST_DATUM_PACKED(d);
		if (EnvelopeParse((const uint8 *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), &view) != NULL ||
			view.version != ENVELOPE_PENDING)
			continue;			/* the sealing trigger judges it */
		subject = row_subject(newtuple, desc, &pc);
		refuse_moved(&view, &pc, rel, subject);
		if (view.catlen > 0)
			continue;
		if (subject != NULL)
			KeycacheSubjectDigest(subject, strlen(subject), digest);
		cols[nchanged] = pc.attnum;
		values[nchanged] = PointerGetDatum(EnvelopePendingBind(&view, pc.category,
															   subject ? digest : NULL));
		nchanged++;
	}
	if (nchanged > 0)
		newtuple = heap_modify_tuple_by_cols(newtuple, desc, nchanged, cols, values, nulls);
	return newtuple;
}

/*
 * The values the sealing trigger last sealed from plaintext for a row being
 * inserted (INSERT ... ON CONFLICT DO UPDATE's proposed row): its UPDATE
 * of the conflicting row may write them there through excluded.col, and
 * that row may be another subject's.  Such a value is sealed again for the
 * row it is written to, any other value of another subject staying refused
 * (a copied ciphertext), only when it is the application's own plaintext
 * and its own choice of row:
 *  - the upsert is the statement the client sent, run by it (not a query
 *    of a trigger, a function or a COPY, whose author could pass on a value
 *    bound for one subject, which it never saw, in an upsert of its own);
 *  - in the same run of the executor (not a data-modifying CTE's other
 *    query), an INSERT, on the same table;
 *  - no trigger but the extension's own changes the rows before they are
 *    written (a trigger of the table's owner could make the proposed row
 *    conflict with a row of its choosing, or change the updated row's
 *    subject);
 *  - and the statement's own values decided the conflict
 *    (conflict_by_own_values()).
 * Kept for the last row only (the UPDATE follows its INSERT's triggers),
 * in TopMemoryContext.
 */
typedef struct InsertedValues
{
	Oid			relid;
	LocalTransactionId lxid;
	TimestampTz statement_at;
	uint64		query;			/* the INSERT's run of the executor (AuditRunningQuery()) */
	int			n;
	AttrNumber *attnums;		/* each value's column */
	struct varlena *values[FLEXIBLE_ARRAY_MEMBER];	/* sealed envelopes */
} InsertedValues;

static InsertedValues *inserted = NULL;

static void
inserted_forget(void)
{
	if (inserted == NULL)
		return;
	for (int i = 0; i < inserted->n; i++)
		pfree(inserted->values[i]);
	pfree(inserted->attnums);
	pfree(inserted);
	inserted = NULL;
}

/*
 * The run of the executor an upsert's own values may be sealed again in:
 * the client's INSERT ... ON CONFLICT DO UPDATE itself, at the executor's
 * first depth, on a table with no BEFORE ROW trigger but the extension's;
 * 0 otherwise (and no memo is kept for the row).
 */
static uint64
upsert_run(Relation rel, QueryDesc **running)
{
	int			depth;
	QueryDesc  *query;
	uint64		run = AuditRunningQuery(&depth, &query);
	TriggerDesc *triggers = rel->trigdesc;
	ModifyTable *mt;

	*running = query;
	/* an INSERT ... ON CONFLICT DO UPDATE first (every other INSERT stops here, at no cost) */
	if (run == 0 || depth != 1 || query == NULL || query->plannedstmt == NULL ||
		query->plannedstmt->commandType != CMD_INSERT ||
		(mt = (ModifyTable *) query->plannedstmt->planTree) == NULL || !IsA(mt, ModifyTable) ||
		mt->onConflictAction != ONCONFLICT_UPDATE || mt->arbiterIndexes == NIL)
		return 0;
	/* (the extended protocol's debug_query_string is a copy of the portal's text) */
	if (query->sourceText == NULL || debug_query_string == NULL ||
		(query->sourceText != debug_query_string && strcmp(query->sourceText, debug_query_string) != 0))
		return 0;
	for (int i = 0; triggers != NULL && i < triggers->numtriggers; i++)
	{
		Trigger    *t = &triggers->triggers[i];

		if (t->tgenabled != TRIGGER_DISABLED &&
			TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_BEFORE(t->tgtype) &&
			(TRIGGER_FOR_INSERT(t->tgtype) || TRIGGER_FOR_UPDATE(t->tgtype)) &&
			strcmp(t->tgname, WRITEPATH_SEAL_TRIGGER) != 0 && strcmp(t->tgname, WRITEPATH_BIND_TRIGGER) != 0)
			return 0;
	}
	return run;
}

/* The search term a sealed value carries, or NULL. */
static const uint8 *
value_term(Datum d)
{
	struct varlena *v = (struct varlena *) PG_DETOAST_DATUM_PACKED(d);
	EnvelopeView view;

	if (EnvelopeParse((const uint8 *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &view) != NULL ||
		view.version == ENVELOPE_PENDING)
		return NULL;
	return view.term;
}

/*
 * Did the statement's own values choose the conflicting row?  The upsert's
 * every arbiter index is on columns alone, each a searchable column the
 * INSERT names, with no default, whose proposed value the statement sealed
 * from plaintext, and the row being updated holds the same value there
 * (its term).  Not a NULL, not an expression, not a column a table's owner
 * fills (a default, a generated or another column): such an index could
 * make the upsert conflict with a row of its owner's choosing.
 */
static bool
conflict_by_own_values(QueryDesc *query, HeapTuple oldtuple, TupleDesc desc)
{
	ModifyTable *mt = (ModifyTable *) query->plannedstmt->planTree;	/* (upsert_run()) */
	RangeTblEntry *target;
	ListCell   *lc;

	if (mt->nominalRelation < 1 || mt->nominalRelation > list_length(query->plannedstmt->rtable))
		return false;
	target = list_nth_node(RangeTblEntry, query->plannedstmt->rtable, mt->nominalRelation - 1);
	foreach(lc, mt->arbiterIndexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = idx->rd_index;
		bool		own = form->indnkeyatts > 0 && RelationGetIndexExpressions(idx) == NIL;

		for (int k = 0; own && k < form->indnkeyatts; k++)
		{
			AttrNumber	attnum = form->indkey.values[k];
			const uint8 *proposed = NULL;
			const uint8 *existing;
			bool		isnull;
			Datum		d;

			for (int i = 0; i < inserted->n; i++)
				if (inserted->attnums[i] == attnum)
					proposed = value_term(PointerGetDatum(inserted->values[i]));
			/* a value the INSERT names itself, never one a default or generation fills */
			if (attnum <= 0 || attnum > desc->natts ||
				!bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, target->insertedCols) ||
				TupleDescAttr(desc, attnum - 1)->atthasdef || TupleDescAttr(desc, attnum - 1)->attgenerated != '\0')
				proposed = NULL;
			d = attnum > 0 ? heap_getattr(oldtuple, attnum, desc, &isnull) : (Datum) 0;
			existing = attnum > 0 && !isnull && proposed != NULL ? value_term(d) : NULL;
			own = existing != NULL && memcmp(proposed, existing, ENVELOPE_TERM_LEN) == 0;
		}
		index_close(idx, AccessShareLock);
		if (!own)
			return false;
	}
	return true;
}

/*
 * Was this envelope sealed from plaintext for the row this upsert proposed
 * to insert, and is the row it is written to the one the statement's own
 * values found?
 */
static bool
inserted_here(Relation rel, const struct varlena *value, HeapTuple oldtuple)
{
	uint64		run;
	QueryDesc  *query;
	bool		found = false;

	if (inserted == NULL || inserted->relid != RelationGetRelid(rel) ||
		inserted->lxid != MyProc->lxid || inserted->statement_at != GetCurrentStatementStartTimestamp() ||
		(run = upsert_run(rel, &query)) == 0 || inserted->query != run)
		return false;
	for (int i = 0; i < inserted->n && !found; i++)
		found = VARSIZE_ANY_EXHDR(inserted->values[i]) == VARSIZE_ANY_EXHDR(value) &&
			memcmp(VARDATA_ANY(inserted->values[i]), VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)) == 0;
	return found && conflict_by_own_values(query, oldtuple, RelationGetDescr(rel));
}

PG_FUNCTION_INFO_V1(pguard_seal_row);

/* The sealing trigger. */
Datum
pguard_seal_row(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	newtuple;
	HeapTuple	oldtuple = NULL;
	int			ncols;
	int		   *cols;
	Datum	   *values;
	bool	   *nulls;
	int			nchanged = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "seal_row() must be called as a BEFORE ROW trigger");
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs % 4 != 0)
		elog(ERROR, "seal_row() takes column, category, subject column, searchable");
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	RedactStatement();
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		newtuple = trigdata->tg_newtuple;
		oldtuple = trigdata->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		newtuple = trigdata->tg_trigtuple;
	else
		return PointerGetDatum(trigdata->tg_trigtuple);

	if (strcmp(trigger->tgname, WRITEPATH_BIND_TRIGGER) == 0)
		return PointerGetDatum(bind_row(trigger, rel, newtuple));

	ncols = trigger->tgnargs / 4;
	cols = palloc(sizeof(int) * ncols);
	values = palloc(sizeof(Datum) * ncols);
	nulls = palloc(sizeof(bool) * ncols);

	PolicyEnsure();
	if (oldtuple == NULL)
	{
		QueryDesc  *query;
		uint64		run = upsert_run(rel, &query);

		inserted_forget();
		if (run != 0)
		{
			inserted = MemoryContextAllocZero(TopMemoryContext,
											  offsetof(InsertedValues, values) + sizeof(struct varlena *) * ncols);
			inserted->attnums = MemoryContextAllocZero(TopMemoryContext, sizeof(AttrNumber) * ncols);
			inserted->relid = RelationGetRelid(rel);
			inserted->lxid = MyProc->lxid;
			inserted->statement_at = GetCurrentStatementStartTimestamp();
			inserted->query = run;
		}
	}
	for (int g = 0; g < trigger->tgnargs; g += 4)
	{
		ProtectedColumn pc;
		bool		isnull;
		Datum		d;
		struct varlena *value;
		EnvelopeView view;
		PolicyCategory *c;
		char	   *subject;
		uint8	   *plain = NULL;
		int			plainlen = 0;

		protected_column(trigger, g, rel, &pc);
		d = heap_getattr(newtuple, pc.attnum, desc, &isnull);

		/* an unchanged value of an unchanged subject needs nothing */
		if (oldtuple != NULL)
		{
			bool		oldnull;
			Datum		od = heap_getattr(oldtuple, pc.attnum, desc, &oldnull);
			bool		snull,
						osnull;
			Datum		sd = heap_getattr(newtuple, pc.subject_attnum, desc, &snull);
			Datum		osd = heap_getattr(oldtuple, pc.subject_attnum, desc, &osnull);
			Form_pg_attribute sattr = TupleDescAttr(desc, pc.subject_attnum - 1);

			if (isnull == oldnull && (isnull || datumIsEqual(d, od, false, -1)) &&
				snull == osnull &&
				(snull || datumIsEqual(sd, osd, sattr->attbyval, sattr->attlen)))
				continue;
		}

		if (isnull)
			continue;

		value = (struct varlena *) PG_DETOAST_DATUM_PACKED(d);
		if (EnvelopeParse((const uint8 *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), &view) != NULL ||
			view.type != pc.type)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid value for protected column \"%s\"", pc.name),
					 errhidestmt(true)));
		c = PolicyFindCategory(pc.category, strlen(pc.category));
		if (c == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("category \"%s\" of protected column \"%s\" does not exist",
							pc.category, pc.name),
					 errhidestmt(true)));
		subject = subject_text(newtuple, desc, pc.subject_attnum, pc.subject);

		if (view.version == ENVELOPE_PENDING)
		{
			refuse_moved(&view, &pc, rel, subject);
			PolicyRequireCollectable(c);
			plain = EnvelopePendingOpen(&view);
			plainlen = view.ctlen;
			cols[nchanged] = pc.attnum;
			values[nchanged] = PointerGetDatum(seal_plain(view.type, c, pc.searchable,
														  subject, strlen(subject),
														  plain, plainlen));
			nulls[nchanged] = false;
			if (oldtuple == NULL && inserted != NULL)
			{
				struct varlena *v = (struct varlena *) DatumGetPointer(values[nchanged]);

				inserted->attnums[inserted->n] = pc.attnum;
				inserted->values[inserted->n] = MemoryContextAlloc(TopMemoryContext, VARSIZE_ANY(v));
				memcpy(inserted->values[inserted->n++], v, VARSIZE_ANY(v));
			}
			nchanged++;
		}
		else
		{
			uint8		digest[ENVELOPE_DIGEST_LEN];
			KeyEntry   *key;
			bool		moved;

			/*
			 * An envelope written back: it must be this row's subject's and
			 * category's, and it must open (a forged ciphertext or tag is
			 * refused here, not discovered at the next reveal).
			 */
			if (!EnvelopeCategoryIs(&view, pc.category))
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("sealed value of category \"%.*s\" cannot be stored in column \"%s\" protected for category \"%s\"",
								view.catlen, view.category, pc.name, pc.category),
						 errhidestmt(true)));
			KeycacheSubjectDigest(subject, strlen(subject), digest);
			key = KeycacheForId(view.key_id, false);
			/* another subject's: only an upsert's own value, sealed for this row now */
			moved = key != NULL && memcmp(key->digest, digest, ENVELOPE_DIGEST_LEN) != 0;
			if (key == NULL || (moved && (oldtuple == NULL || !inserted_here(rel, value, oldtuple))))
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("sealed value written to column \"%s\" does not belong to the row's subject", pc.name),
						 errdetail("An envelope is accepted only in a row of the subject it was sealed for."),
						 errhint("If the row's subject changed, write its protected values again as plaintext in the same statement."),
						 errhidestmt(true)));
			plain = palloc(view.ctlen + 1);
			plainlen = view.ctlen;
			if (!KeycacheOpen(key, &view, plain))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("sealed value written to column \"%s\" failed authentication", pc.name),
						 errdetail("The envelope was altered."),
						 errhidestmt(true)));
			if (moved)
			{
				cols[nchanged] = pc.attnum;
				values[nchanged] = PointerGetDatum(seal_plain(view.type, c, pc.searchable,
															  subject, strlen(subject),
															  plain, plainlen));
				nulls[nchanged] = false;
				nchanged++;
			}
			else
				require_term(&view, &pc, rel);
		}
		OPENSSL_cleanse(plain, plainlen);
		pfree(plain);
	}

	if (nchanged > 0)
		newtuple = heap_modify_tuple_by_cols(newtuple, desc, nchanged, cols, values, nulls);
	return PointerGetDatum(newtuple);
}

/* The sealing trigger's argument list, as SQL: four literals a column. */
static char *
trigger_arguments(List *cols)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, cols)
	{
		GuardedColumn *c = lfirst(lc);

		appendStringInfo(&buf, "%s%s, %s, %s, %s", buf.len > 0 ? ", " : "",
						 quote_literal_cstr(c->col), quote_literal_cstr(c->category),
						 quote_literal_cstr(c->subject), quote_literal_cstr(c->searchable));
	}
	return buf.data;
}

/* The subject in a sealing CHECK: the column itself, or a built-in cast of it to text. */
static bool
is_subject_expr(Node *n, AttrNumber subject_attnum)
{
	if (IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	else if (IsA(n, CoerceViaIO))
		n = (Node *) ((CoerceViaIO *) n)->arg;
	else if (IsA(n, FuncExpr) && ((FuncExpr *) n)->funcid < FirstNormalObjectId &&
			 ((FuncExpr *) n)->funcformat != COERCE_EXPLICIT_CALL &&
			 list_length(((FuncExpr *) n)->args) == 1)
		n = linitial(((FuncExpr *) n)->args);
	return IsA(n, Var) && ((Var *) n)->varattno == subject_attnum;
}

/*
 * Does the table hold the CHECK protect() adds to a column, validated:
 * <col>_sealed CHECK (privacy_guard.check_sealed(col, 'category', subject::text))
 * or, for a searchable column, (col, 'category', subject::text, true)?
 * Without it, a column registered as protected could keep plaintext.
 *
 * If so, the CHECK is then marked not validated.  It still refuses every
 * later write; what changes is pg_dump, which adds it after the data
 * (ALTER TABLE ... NOT VALID) instead of in CREATE TABLE: the CHECK needs
 * the keys, and pg_restore -j loads the table and the keys in sessions of
 * their own, in no particular order.
 */
static bool
sealing_check_adopt(Oid relid, const char *col, AttrNumber attnum,
					AttrNumber subject_attnum, const char *category, bool searchable)
{
	Relation	rel = table_open(ConstraintRelationId, RowExclusiveLock);
	char	   *conname = psprintf("%s_sealed", col);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		ok = false;

	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, ConstraintRelidTypidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		bool		isnull;
		Datum		bin;
		Node	   *expr;
		FuncExpr   *f;

		if (con->contype != CONSTRAINT_CHECK || strcmp(NameStr(con->conname), conname) != 0)
			continue;
		bin = heap_getattr(tup, Anum_pg_constraint_conbin, RelationGetDescr(rel), &isnull);
		if (!con->convalidated || isnull)
			break;
		expr = stringToNode(TextDatumGetCString(bin));
		if (!IsA(expr, FuncExpr))
			break;
		f = (FuncExpr *) expr;
		if (list_length(f->args) != (searchable ? 4 : 3) ||
			get_func_namespace(f->funcid) != CatalogSchemaOid() ||
			strcmp(get_func_name(f->funcid), "check_sealed") != 0 ||
			getExtensionOfObject(ProcedureRelationId, f->funcid) != get_extension_oid("privacy_guard", true))
			break;
		ok = IsA(linitial(f->args), Var) && ((Var *) linitial(f->args))->varattno == attnum &&
			IsA(lsecond(f->args), Const) && ((Const *) lsecond(f->args))->consttype == TEXTOID &&
			!((Const *) lsecond(f->args))->constisnull &&
			strcmp(TextDatumGetCString(((Const *) lsecond(f->args))->constvalue), category) == 0 &&
			is_subject_expr(lthird(f->args), subject_attnum) &&
			(!searchable ||
			 (IsA(lfourth(f->args), Const) && ((Const *) lfourth(f->args))->consttype == BOOLOID &&
			  !((Const *) lfourth(f->args))->constisnull &&
			  DatumGetBool(((Const *) lfourth(f->args))->constvalue)));
		if (ok)
		{
			HeapTuple	copy = heap_copytuple(tup);

			((Form_pg_constraint) GETSTRUCT(copy))->convalidated = false;
			CatalogTupleUpdate(rel, &copy->t_self, copy);
			heap_freetuple(copy);
		}
		break;
	}
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
	if (ok)
		CommandCounterIncrement();
	return ok;
}

PG_FUNCTION_INFO_V1(pguard_register_protection);

/*
 * register_protection(tbl, col, category, subject_col, searchable): record a
 * column protect() has just converted, and return the argument list of the
 * table's sealing trigger.  Called by protect(), which runs with the
 * caller's rights: the caller must own the table (checked here against the
 * real current role), the column must now be of an encrypted type, and the
 * category must be collectable.  Only the catalog write runs as the
 * extension's owner.
 */
Datum
pguard_register_protection(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *col;
	char	   *catname;
	char	   *subject_col;
	bool		searchable;
	bool		legacy;
	AttrNumber	attnum;
	PolicyCategory *c;
	CatalogOwnerState owner;
	Oid			types[5] = {OIDOID, NAMEOID, TEXTOID, NAMEOID, BOOLOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	GuardedTable g;
	MemoryContext outer = CurrentMemoryContext;
	int			rc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table, column, category and subject column must not be null")));
	relid = PG_GETARG_OID(0);
	col = NameStr(*PG_GETARG_NAME(1));
	catname = text_to_cstring(PG_GETARG_TEXT_PP(2));
	subject_col = NameStr(*PG_GETARG_NAME(3));
	/* version 0.1 passes a blind-index column's name, NULL when not searchable */
	if (get_fn_expr_argtype(fcinfo->flinfo, 4) == NAMEOID)
	{
		if (!PG_ARGISNULL(4))
			require_current_search(get_rel_name(relid), col);
		searchable = false;
	}
	else
		searchable = PG_GETARG_BOOL(4);

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	/* one that goes with its session, unseen by any event trigger, would leave its row behind */
	if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot protect a column of temporary table \"%s\"", get_rel_name(relid)),
				 errhint("Protect columns of permanent or unlogged tables; a temporary table holding personal data can use privacy_guard.seal().")));
	attnum = get_attnum(relid, col);
	if (attnum == InvalidAttrNumber || CatalogEncryptedType(get_atttype(relid, attnum)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" is not of an encrypted type",
						col, get_rel_name(relid)),
				 errhint("Use privacy_guard.protect() to protect a column.")));
	attnum = get_attnum(relid, subject_col);
	if (attnum == InvalidAttrNumber || !CatalogSubjectTypeAllowed(get_atttype(relid, attnum)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("subject column \"%s\" of relation \"%s\" must be of type text, varchar, char, smallint, integer, bigint or uuid",
						subject_col, get_rel_name(relid))));
	/* a subject is one exact string: equal under a collation is not the same subject */
	{
		Oid			typ;
		int32		typmod;
		Oid			coll;

		get_atttypetypmodcoll(relid, attnum, &typ, &typmod, &coll);
		if (OidIsValid(coll) && !get_collation_isdeterministic(coll))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("subject column \"%s\" of relation \"%s\" has a nondeterministic collation",
							subject_col, get_rel_name(relid)),
					 errdetail("Erasure would take rows of subjects that are only equal under it (\"hal\" and \"HAL\") for one subject's."),
					 errhint("Give the subject column a deterministic collation, such as COLLATE \"C\".")));
	}
	/* dropped with what it is computed from (unseen by the guard); erasure cannot set it */
	if (get_attgenerated(relid, attnum) != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subject column \"%s\" of relation \"%s\" is a generated column",
						subject_col, get_rel_name(relid)),
				 errhint("Name a stored column that holds the data subject's id.")));
	PolicyEnsure();
	c = PolicyRequireCategory(catname);
	PolicyRequireCollectable(c);
	if (!sealing_check_adopt(relid, col, get_attnum(relid, col), attnum, c->name, searchable))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of relation \"%s\" has no sealing constraint \"%s_sealed\"",
						col, get_rel_name(relid), col),
				 errdetail("A protected column needs the validated CHECK that refuses plaintext and other subjects' or categories' values."),
				 errhint("Use privacy_guard.protect() to protect a column.")));

	args[0] = ObjectIdGetDatum(relid);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = CStringGetTextDatum(c->name);
	args[3] = PG_GETARG_DATUM(3);
	args[4] = BoolGetDatum(searchable);

	CatalogBecomeOwner(&owner);
	SPI_connect();
	/* version 0.1's catalog has no searchable column (and nothing searchable here) */
	legacy = CatalogExtensionPredatesGuard();
	/* the category's row is locked as a foreign key would: it cannot go meanwhile */
	rc = SPI_execute_with_args("SELECT FROM privacy_guard.categories c WHERE c.name OPERATOR(pg_catalog.=) $1"
							   " FOR KEY SHARE OF c", 1, &types[2], &args[2], NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("category \"%s\" does not exist", c->name),
				 errhint("The policy changed meanwhile; see privacy_guard.export_policy().")));
	rc = SPI_execute_with_args(psprintf("INSERT INTO privacy_guard.column_protection"
										" (tbl, col, category, subject_col%s)"
										" VALUES ($1, $2, $3, $4%s) ON CONFLICT DO NOTHING",
										legacy ? "" : ", searchable", legacy ? "" : ", $5"),
							   legacy ? 4 : 5, types, args, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record protected column");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("column \"%s\" of relation \"%s\" is already protected",
						col, get_rel_name(relid))));
	/* every protected column of the table, as committed now (not as this transaction began) */
	g.relid = relid;
	GuardReadTable(&g, outer);
	SPI_finish();
	CatalogRestoreUser(&owner);
	{
		char	   *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													   get_rel_name(relid));

		if (searchable)
			terms_made(c->name, table, col);
		AuditRecordColumn("protect", c->name, table, col, searchable ? "protected searchable" : "protected",
						  psprintf("constraint %s_sealed, trigger " WRITEPATH_SEAL_TRIGGER "; subject column %s",
								   col, subject_col));
	}
	PG_RETURN_TEXT_P(cstring_to_text(trigger_arguments(g.cols)));
}

PG_FUNCTION_INFO_V1(pguard_unregister_protection);

/*
 * unregister_protection(tbl, col) -> (protected, trigger_args):
 * unprotect()'s catalog step, which must come before its DDL: the guard
 * lets that DDL through because the catalog no longer names the column.
 * The caller must own the table (checked here against the real current
 * role), which is neither the system's nor the extension's.
 *
 * For a protected column: its row goes, and the result says what the
 * sealing trigger's arguments become ('' when no column remains).  If no
 * other protected column names the same
 * subject column, erasure keeps finding the table's rows through it: it
 * becomes the table's erasure subject column (action 'delete' unless one
 * was set), as set_erasure_action() would record it.
 *
 * For the subject column that erasure_actions names: erasure no longer
 * finds the table's rows through it (the action goes when the table has no
 * protected column left; it is refused while a retention rule anonymises
 * through it).
 *
 * Either way one audit record (event 'unprotect'), and every session's
 * caches drop the column when the transaction commits.
 */
Datum
pguard_unregister_protection(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *col;
	HeapTuple	tup;
	Form_pg_class form;
	char	   *relname;
	Oid			nsp;
	CatalogOwnerState owner;
	MemoryContext outer = CurrentMemoryContext;
	Oid			types[2] = {OIDOID, NAMEOID};
	Datum		args[2];
	GuardedTable g;
	ListCell   *lc;
	int			rc;
	bool		was_protected;
	char	   *category = NULL;
	char	   *subject = NULL;
	bool		searchable = false;
	char	   *trigargs = NULL;
	StringInfoData detail;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		isnull[2] = {false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table and column must not be null")));
	relid = PG_GETARG_OID(0);
	col = NameStr(*PG_GETARG_NAME(1));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "unregister_protection() must return a record");

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	form = (Form_pg_class) GETSTRUCT(tup);
	relname = pstrdup(NameStr(form->relname));
	nsp = form->relnamespace;
	ReleaseSysCache(tup);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, relname);
	if (!CatalogApplicationNamespace(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: \"%s\" is a system or privacy_guard table", relname)));

	args[0] = ObjectIdGetDatum(relid);
	args[1] = PG_GETARG_DATUM(1);
	g.relid = relid;
	CatalogBecomeOwner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("DELETE FROM privacy_guard.column_protection p"
							   " WHERE p.tbl OPERATOR(pg_catalog.=) $1 AND p.col OPERATOR(pg_catalog.=) $2"
							   " RETURNING p.category, p.subject_col, p.searchable",
							   2, types, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not remove protected column");
	was_protected = SPI_processed == 1;
	if (was_protected)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull_s;

		category = MemoryContextStrdup(outer, SPI_getvalue(t, d, 1));
		subject = MemoryContextStrdup(outer, SPI_getvalue(t, d, 2));
		searchable = DatumGetBool(SPI_getbinval(t, d, 3, &isnull_s));
	}
	GuardReadTable(&g, outer);

	if (was_protected)
	{
		bool		still_subject = false;

		foreach(lc, g.cols)
			if (strcmp(((GuardedColumn *) lfirst(lc))->subject, subject) == 0)
				still_subject = true;
		/* erasure keeps finding the table's rows of a subject */
		if (!still_subject)
		{
			Datum		eargs[2];

			eargs[0] = ObjectIdGetDatum(relid);
			eargs[1] = DirectFunctionCall1(namein, CStringGetDatum(subject));
			rc = SPI_execute_with_args("INSERT INTO privacy_guard.erasure_actions AS e (tbl, action, subject_col)"
									   " VALUES ($1, 'delete', $2)"
									   " ON CONFLICT ON CONSTRAINT erasure_actions_pkey DO UPDATE"
									   " SET subject_col = excluded.subject_col, set_at = pg_catalog.now()"
									   " WHERE e.subject_col IS NULL",
									   2, types, eargs, NULL, false, 0);
			if (rc != SPI_OK_INSERT)
				elog(ERROR, "could not record the erasure subject column");
			if (SPI_processed == 0 && g.erasure_subject != NULL &&
				strcmp(g.erasure_subject, subject) != 0)
				ereport(NOTICE,
						(errmsg("erasure no longer finds rows of relation \"%s\" through column \"%s\"",
								relname, subject),
						 errdetail("Its erasure subject column is \"%s\".", g.erasure_subject)));
		}
		trigargs = trigger_arguments(g.cols);
	}
	else
	{
		StringInfoData users;

		initStringInfo(&users);
		foreach(lc, g.cols)
		{
			GuardedColumn *c = lfirst(lc);

			if (strcmp(c->subject, col) == 0)
				appendStringInfo(&users, "%s\"%s\"", users.len > 0 ? ", " : "", c->col);
		}
		if (users.len > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("column \"%s\" of relation \"%s\" holds the data subject of protected columns %s",
							col, relname, users.data),
					 errhint("Unprotect those columns first.")));
		if (g.erasure_subject == NULL || strcmp(g.erasure_subject, col) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("column \"%s\" of relation \"%s\" is not protected", col, relname)));
		if (g.cols != NIL)
			rc = SPI_execute_with_args("UPDATE privacy_guard.erasure_actions e"
									   " SET subject_col = NULL, set_at = pg_catalog.now()"
									   " WHERE e.tbl OPERATOR(pg_catalog.=) $1",
									   1, types, args, NULL, false, 0);
		else
		{
			rc = SPI_execute_with_args("SELECT FROM privacy_guard.retention_rules r"
									   " WHERE r.tbl OPERATOR(pg_catalog.=) $1"
									   " AND r.action OPERATOR(pg_catalog.=) 'anonymise'",
									   1, types, args, NULL, false, 0);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "could not read retention rules");
			if (SPI_processed > 0)
				ereport(ERROR,
						(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
						 errmsg("cannot unprotect subject column \"%s\" of relation \"%s\": its retention rule anonymises rows through it",
								col, relname),
						 errhint("Change the rule with privacy_guard.set_retention() first.")));
			rc = SPI_execute_with_args("DELETE FROM privacy_guard.erasure_actions e"
									   " WHERE e.tbl OPERATOR(pg_catalog.=) $1",
									   1, types, args, NULL, false, 0);
		}
		if (rc < 0)
			elog(ERROR, "could not change the erasure action");
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	CatalogChanged();

	initStringInfo(&detail);
	if (was_protected)
		appendStringInfo(&detail, "protection removed: constraint %s_sealed, %s; the column keeps its type and sealed values%s",
						 col, trigargs[0] ? "its entry in trigger " WRITEPATH_SEAL_TRIGGER : "trigger " WRITEPATH_SEAL_TRIGGER,
						 searchable ? " (with their search terms) and its indexes" : "");
	else
		appendStringInfoString(&detail, "erasure no longer finds the table's rows through this subject column");
	AuditRecordColumn("unprotect", category,
					  quote_qualified_identifier(get_namespace_name(nsp), relname), col,
					  "unprotected", detail.data);

	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = BoolGetDatum(was_protected);
	values[1] = trigargs ? CStringGetTextDatum(trigargs) : (Datum) 0;
	isnull[1] = trigargs == NULL;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, isnull)));
}

/* The planner's estimate of a table's rows, for progress; -1 if never counted. */
static int64
rows_estimate(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int64		n = -1;

	if (HeapTupleIsValid(tup))
	{
		float4		reltuples = ((Form_pg_class) GETSTRUCT(tup))->reltuples;

		if (reltuples >= 0)
			n = (int64) reltuples;
		ReleaseSysCache(tup);
	}
	return n;
}

/* Values re-sealed per UPDATE of a search key rotation. */
#define REKEY_BATCH 1000

/*
 * Write a batch of re-sealed values back, as the table's owner in a
 * security-restricted operation (its triggers run as for any UPDATE; the
 * sealing trigger accepts an envelope with a term under the current key).
 * A row its own trigger skips fails the rotation.
 */
static void
rekey_write(Relation rel, const char *col, Oid enctype, ItemPointerData *tids, Datum *vals, int n)
{
	Oid			types[2] = {TIDARRAYOID, get_array_type(enctype)};
	Datum		args[2];
	Datum	   *tidd = palloc(sizeof(Datum) * n);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	TableOwnerState as_owner;
	char	   *query;
	int			rc;

	for (int i = 0; i < n; i++)
		tidd[i] = PointerGetDatum(&tids[i]);
	args[0] = PointerGetDatum(construct_array(tidd, n, TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT));
	get_typlenbyvalalign(enctype, &typlen, &typbyval, &typalign);
	args[1] = PointerGetDatum(construct_array(vals, n, enctype, typlen, typbyval, typalign));
	query = psprintf("UPDATE ONLY %s t SET %s = v.e FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS v(c, e)"
					 " WHERE t.ctid OPERATOR(pg_catalog.=) v.c",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)),
					 quote_identifier(col));

	CatalogBecomeTableOwner(rel->rd_rel->relowner, &as_owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(query, 2, types, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not write re-sealed values: %s", SPI_result_code_string(rc));
	if (SPI_processed != (uint64) n)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("%d rows of relation \"%s\" were not rewritten by the search key rotation",
						n - (int) SPI_processed, RelationGetRelationName(rel)),
				 errhint("A BEFORE row trigger of the table may skip them by returning NULL; let it pass the rotation's UPDATE.")));
	SPI_finish();
	CatalogLeaveTableOwner(&as_owner);
}

/*
 * Re-seal every value of a searchable column whose term is under old_id
 * with its term under the category's current key.  The table is read with
 * a heap scan (no planner, so none of its owner's index or CHECK code runs
 * with our rights), under a snapshot that does not see the rows rewritten.
 * Values whose subject is erased (no key) are left as they are and
 * counted in *left; values with a term under neither key, in *stale.
 */
static int64
rekey_column(Oid relid, const char *col, const char *category, int64 old_id, int64 new_id,
			 int64 *left, int64 *stale, int64 *unsealed)
{
	Relation	rel = table_open(relid, NoLock);
	AttrNumber	attnum = get_attnum(relid, col);
	Snapshot	snap;
	TableScanDesc scan;
	TupleTableSlot *slot;
	MemoryContext batchcxt;
	MemoryContext oldcxt;
	ItemPointerData *tids = palloc(sizeof(ItemPointerData) * REKEY_BATCH);
	Datum	   *vals = palloc(sizeof(Datum) * REKEY_BATCH);
	int			n = 0;
	int64		done = 0;
	uint8		dek[ENVELOPE_KEY_LEN];
	uint8		digest[ENVELOPE_DIGEST_LEN];
	uint8		search[ENVELOPE_SEARCH_LEN];

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("protected column \"%s\" of relation \"%s\" does not exist",
						col, RelationGetRelationName(rel))));
	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "privacy_guard rekey",
									 ALLOCSET_DEFAULT_SIZES);
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, attnum, &isnull);
		struct varlena *env;
		EnvelopeView view;
		KeyEntry   *k;
		uint8	   *plain;
		uint64		term_key = 0;

		if (isnull)
			continue;
		oldcxt = MemoryContextSwitchTo(batchcxt);
		env = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
		if (EnvelopeParse((const uint8 *) VARDATA_ANY(env), VARSIZE_ANY_EXHDR(env), &view) != NULL ||
			view.version != ENVELOPE_VERSION || view.term == NULL)
		{
			(*stale)++;
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		for (int i = 0; i < 8; i++)
			term_key = (term_key << 8) | view.term[i];
		if (term_key == (uint64) new_id)
		{
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		if (term_key != (uint64) old_id)
		{
			(*stale)++;			/* under neither key: it cannot have been sealed here since */
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		if ((k = KeycacheForId(view.key_id, true)) == NULL)
		{
			(*left)++;			/* its subject was erased */
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		if (unsealed != NULL)
		{
			(*unsealed)++;		/* checking only: one the rotation did not re-seal */
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		/* our own copies: computing the term may reset the key cache */
		memcpy(dek, k->dek, sizeof(dek));
		memcpy(digest, k->digest, sizeof(digest));
		EnvelopeKeyGone(dek);
		plain = palloc(view.ctlen + 1);
		if (!EnvelopeOpen(&view, dek, digest, plain))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("a value in column \"%s\" of relation \"%s\" does not open under its key",
							col, RelationGetRelationName(rel))));
		(void) KeycacheIndexSearch(category, plain, view.ctlen, false, view.key_id, search);
		vals[n] = PointerGetDatum(EnvelopeSeal((EnvelopeType) view.type, view.key_id, category,
											   digest, dek, NULL, search, plain, view.ctlen));
		EnvelopeKeyGone(dek);
		OPENSSL_cleanse(dek, sizeof(dek));
		OPENSSL_cleanse(plain, view.ctlen);
		tids[n++] = slot->tts_tid;
		MemoryContextSwitchTo(oldcxt);
		if (n == REKEY_BATCH)
		{
			rekey_write(rel, col, TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid, tids, vals, n);
			done += n;
			ProgressAdd(n);
			n = 0;
			MemoryContextReset(batchcxt);
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (n > 0)
		rekey_write(rel, col, TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid, tids, vals, n);
	done += n;
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snap);
	MemoryContextDelete(batchcxt);
	table_close(rel, NoLock);
	return done;
}

/*
 * The 0.1 to 0.2 upgrade (sql/privacy_guard--0.1--0.2.sql, which creates
 * these two functions, uses them and drops them) moves search terms from
 * 0.1's blind-index columns into the values.  Neither runs anywhere else.
 */
static void
require_upgrade_script(const char *fname)
{
	if (!creating_extension)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s() runs only in privacy_guard's upgrade script from version 0.1", fname)));
}

PG_FUNCTION_INFO_V1(pguard_upgrade_search_key);

/*
 * upgrade_search_key(category text): replace the category's 0.1 search key
 * with a new one, so that the blind indexes of 0.1 kept in copies and
 * backups match no search of 0.2.
 */
Datum
pguard_upgrade_search_key(PG_FUNCTION_ARGS)
{
	char	   *catname = text_to_cstring(PG_GETARG_TEXT_PP(0));
	uint8		key[ENVELOPE_KEY_LEN];
	int64		old_id;

	require_upgrade_script("upgrade_search_key");
	old_id = KeycacheIndexKey(catname, key, false);
	OPENSSL_cleanse(key, sizeof(key));
	if (old_id != 0)
		KeycacheRetireIndexKey(catname, old_id);
	(void) KeycacheIndexKey(catname, key, true);
	OPENSSL_cleanse(key, sizeof(key));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_upgrade_column);

/*
 * upgrade_column(tbl regclass, col name) -> bigint: read a searchable
 * column's values, the only ones upgrade_term() re-seals until the next
 * call or the end of the transaction.  The rewrite that calls
 * upgrade_term() runs as the table's owner, whose own code (a CHECK, an
 * index expression) runs with it and could pass it any value it can read.
 */
/* the column whose rewrite the update runs next (its ALTER COLUMN TYPE passes the guard) */
static Oid	upgrade_relid = InvalidOid;
static NameData upgrade_col;
static LocalTransactionId upgrade_lxid = InvalidLocalTransactionId;

Datum
pguard_upgrade_column(PG_FUNCTION_ARGS)
{
	require_upgrade_script("upgrade_column");
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("upgrade_column() is for the superuser updating the extension")));
	upgrade_relid = PG_GETARG_OID(0);
	namestrcpy(&upgrade_col, NameStr(*PG_GETARG_NAME(1)));
	upgrade_lxid = MyProc->lxid;
	PG_RETURN_INT64(ColumnValuesRead(upgrade_relid, NameStr(upgrade_col)));
}

/*
 * Is this ALTER COLUMN TYPE the update's rewrite of the column
 * upgrade_column() read last?  The guard lets that one through (it runs as
 * the table's owner, security-restricted); the owner's code cannot issue
 * another on the table while it is being rewritten.
 */
bool
WritepathUpgradeRewrite(Oid relid, const char *col)
{
	return creating_extension && upgrade_lxid == MyProc->lxid && relid == upgrade_relid &&
		strcmp(NameStr(upgrade_col), col) == 0;
}

PG_FUNCTION_INFO_V1(pguard_upgrade_term);

/*
 * upgrade_term(value encrypted_text, category text) -> encrypted_text: the
 * value re-sealed, under its own key, with its search term under the
 * category's key; the USING expression of the rewrite of a searchable
 * column, which runs as the table's owner.  Only the values
 * upgrade_column() read.  A value whose subject was erased cannot be
 * opened: it becomes NULL (it was unreadable, and a value without a term
 * cannot be compared in the column's indexes).
 */
Datum
pguard_upgrade_term(PG_FUNCTION_ARGS)
{
	struct varlena *env = PG_GETARG_VARLENA_PP(0);
	char	   *catname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	EnvelopeView view;
	KeyEntry   *k;
	uint8		dek[ENVELOPE_KEY_LEN];
	uint8		digest[ENVELOPE_DIGEST_LEN];
	uint8		search[ENVELOPE_SEARCH_LEN];
	uint8	   *plain;
	Datum		result;

	require_upgrade_script("upgrade_term");
	if (!ColumnValuesHas(env))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("upgrade_term() re-seals only the values of the column the update is rewriting")));
	if (EnvelopeParse((const uint8 *) VARDATA_ANY(env), VARSIZE_ANY_EXHDR(env), &view) != NULL ||
		view.version != ENVELOPE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a value of a searchable column is not a sealed value")));
	/*
	 * Only the rewrite of the column's own values: the value's own category,
	 * one with searchable columns (upgrade_search_key() gave it its key;
	 * no key is made here), never another's.
	 */
	if (view.catlen != (int) strlen(catname) || memcmp(view.category, catname, view.catlen) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("a value of category \"%.*s\" is not re-sealed under category \"%s\"",
						view.catlen, view.category, catname)));
	if (view.term != NULL)
		PG_RETURN_POINTER(env);
	if ((k = KeycacheForId(view.key_id, true)) == NULL)
		PG_RETURN_NULL();
	/* our own copies: computing the term may reset the key cache */
	memcpy(dek, k->dek, sizeof(dek));
	memcpy(digest, k->digest, sizeof(digest));
	EnvelopeKeyGone(dek);
	plain = palloc(view.ctlen + 1);
	if (!EnvelopeOpen(&view, dek, digest, plain))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a value of a searchable column does not open under its key")));
	if (!KeycacheIndexSearch(catname, plain, view.ctlen, false, view.key_id, search))
	{
		OPENSSL_cleanse(dek, sizeof(dek));
		OPENSSL_cleanse(plain, view.ctlen);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("category \"%s\" has no searchable column", catname)));
	}
	result = PointerGetDatum(EnvelopeSeal((EnvelopeType) view.type, view.key_id, catname,
										  digest, dek, NULL, search, plain, view.ctlen));
	EnvelopeKeyGone(dek);
	OPENSSL_cleanse(dek, sizeof(dek));
	OPENSSL_cleanse(plain, view.ctlen);
	pfree(plain);
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(pguard_rotate_search_key);

/*
 * rotate_search_key(category text) -> bigint: replace the category's search
 * key and re-seal, with terms under the new key, every value of its
 * searchable columns; the old key is deleted when the transaction commits.
 * Terms in copies and backups made before then match no search afterwards,
 * and their envelopes are refused if written back.
 *
 * One transaction: the tables are locked against writes (SHARE ROW
 * EXCLUSIVE, as an erasure locks them) while reads and searches go on
 * under the old key, and the values and the key change together when it
 * commits, so no search or UNIQUE constraint ever compares terms under two
 * keys.  Returns how many values were re-sealed.
 */
Datum
pguard_rotate_search_key(PG_FUNCTION_ARGS)
{
	char	   *catname;
	PolicyCategory *c;
	List	   *relids = NIL;
	List	   *cols = NIL;
	uint8		key[ENVELOPE_KEY_LEN];
	int64		old_id;
	int64		new_id;
	int64		done = 0;
	int64		left = 0;
	int64		stale = 0;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	ListCell   *lr;
	ListCell   *lc;
	MemoryContext outer;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("category must not be null")));
	catname = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (CatalogExtensionPredatesGuard())
		require_current_search(NULL, NULL);
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("rotate_search_key() must run at READ COMMITTED"),
				 errdetail("It must see every column protected before it, including by transactions that commit while it waits."),
				 errhint("Run it outside an explicit transaction, or in one at READ COMMITTED.")));
	PolicyEnsure();
	c = PolicyRequireCategory(catname);

	/*
	 * No protect() or unprotect() meanwhile: they change the catalog of
	 * protected columns, whose lock waits for those under way and holds
	 * off new ones until the rotation commits.  Then the category's
	 * searchable columns, read with a snapshot taken after the wait, and
	 * their tables locked against writes.
	 */
	LockRelationOid(CatalogRelid("column_protection"), ShareLock);
	outer = CurrentMemoryContext;
	args[0] = CStringGetTextDatum(c->name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT p.tbl::pg_catalog.oid, p.col::pg_catalog.text"
							  " FROM privacy_guard.column_protection p"
							  " WHERE p.category OPERATOR(pg_catalog.=) $1 AND p.searchable"
							  " ORDER BY p.tbl, p.col", 1, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the searchable columns");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		MemoryContext oldcxt = MemoryContextSwitchTo(outer);

		relids = lappend_oid(relids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	 SPI_tuptable->tupdesc, 1, &isnull)));
		cols = lappend(cols, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	foreach(lr, relids)
		LockRelationOid(lfirst_oid(lr), ShareRowExclusiveLock);

	old_id = KeycacheIndexKey(c->name, key, false);
	OPENSSL_cleanse(key, sizeof(key));
	if (old_id == 0)
	{
		ereport(NOTICE,
				(errmsg("category \"%s\" has no search key: nothing was sealed searchable under it", c->name)));
		PG_RETURN_INT64(0);
	}
	KeycacheRetireIndexKey(c->name, old_id);
	new_id = KeycacheIndexKey(c->name, key, true);
	OPENSSL_cleanse(key, sizeof(key));

	rotating_from = old_id;
	strlcpy(rotating_category, c->name, sizeof(rotating_category));
	PG_TRY();
	{
		forboth(lr, relids, lc, cols)
		{
			ProgressBegin("rotate_search_key", psprintf("re-sealing column %s", (char *) lfirst(lc)),
						  lfirst_oid(lr), rows_estimate(lfirst_oid(lr)));
			done += rekey_column(lfirst_oid(lr), (char *) lfirst(lc), c->name, old_id, new_id, &left, &stale, NULL);
		}

		/*
		 * Then every column again: a value under the old key that code
		 * the rewrite ran (a trigger of a table's owner) wrote into a
		 * column already re-sealed would stay, unsearchable, matching the
		 * old key's terms, and refused at every later rotation.
		 */
		CommandCounterIncrement();
		forboth(lr, relids, lc, cols)
		{
			int64		unsealed = 0;
			int64		ignored = 0;

			(void) rekey_column(lfirst_oid(lr), (char *) lfirst(lc), c->name, old_id, new_id,
								&ignored, &ignored, &unsealed);
			if (unsealed > 0)
				ereport(ERROR,
						(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
						 errmsg("%lld values under the old search key were written to column \"%s\" of relation \"%s\" while the key was rotated",
								(long long) unsealed, (char *) lfirst(lc), get_rel_name(lfirst_oid(lr))),
						 errdetail("Code the rotation's rewrite ran (a trigger of a table's owner) wrote them; the rotation is undone."),
						 errhint("Let the table's triggers pass the rotation's UPDATE unchanged, then rotate again.")));
		}
	}
	PG_FINALLY();
	{
		rotating_from = 0;
	}
	PG_END_TRY();
	ProgressEnd();

	if (stale > 0)
		ereport(WARNING,
				(errmsg("%lld values of category \"%s\" carry a search term of neither the old nor the new key, or none",
						(long long) stale, c->name),
				 errdetail("They were left as they are: they cannot be searched, and writing them back is refused."),
				 errhint("Write their plaintext again.")));
	AuditRecord("keys", NULL, c->name, "search key rotated",
				psprintf("search key %lld replaced by %lld: %lld values re-sealed in %d columns, %lld left (erased subjects), %lld under another key",
						 (long long) old_id, (long long) new_id, (long long) done,
						 list_length(relids), (long long) left, (long long) stale));
	PG_RETURN_INT64(done);
}

/*-------------------------------------------------------------------------
 * src/erasure.c
 *	  The C parts of erasure and retention: keyed pseudonyms, statements
 *	  run as a table's owner, and audit records written from SQL.
 *
 * process_erasures() and apply_retention() are PL/pgSQL functions running
 * as the extension's owner.  They must not run an application table's
 * triggers, defaults or row-security policies with those rights: every
 * statement they run on an application table goes through run_as_owner(),
 * which runs it as the table's owner, in a security-restricted operation,
 * the way VACUUM and REFRESH MATERIALIZED VIEW run a table's own code.
 *
 * The pseudonym that replaces an anonymised row's subject link is the
 * HMAC-SHA256 of the subject under a random key that lives for one scope
 * (one erasure request, one retention run) in this backend's memory only,
 * and is wiped when the scope changes: the rows of one subject get the same
 * pseudonym within the scope, so an erased customer's orders still group
 * together, but nobody can compute it again afterwards.  (A key kept for
 * good would be an oracle: anyone able to insert a row with a chosen id
 * under a retention rule would learn that id's pseudonym.)
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "access/stratnum.h"
#include "commands/defrem.h"
#include "executor/tuptable.h"

#include "audit.h"
#include "catalog.h"
#include "envelope.h"

#define PSEUDONYM_LEN 32

/* the key of the current pseudonym scope */
static uint8 scope_key[ENVELOPE_KEY_LEN];
static char scope_name[64] = "";

PG_FUNCTION_INFO_V1(pguard_pseudonym);

/*
 * pseudonym(subject text, scope text) -> bytea: HMAC of the subject under
 * the scope's random key; a new scope wipes the previous key.
 */
Datum
pguard_pseudonym(PG_FUNCTION_ARGS)
{
	text	   *subject = PG_GETARG_TEXT_PP(0);
	char	   *scope = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bytea	   *result;
	unsigned int outlen = 0;
	uint8	   *ok;

	CatalogRequireInternal("pseudonym");
	if (scope_name[0] == '\0' || strcmp(scope, scope_name) != 0)
	{
		OPENSSL_cleanse(scope_key, sizeof(scope_key));
		EnvelopeRandom(scope_key, sizeof(scope_key));
		strlcpy(scope_name, scope, sizeof(scope_name));
	}
	result = palloc(VARHDRSZ + PSEUDONYM_LEN);
	ok = HMAC(EVP_sha256(), scope_key, sizeof(scope_key),
			  (const uint8 *) VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject),
			  (uint8 *) VARDATA(result), &outlen);
	if (ok == NULL || outlen != PSEUDONYM_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute pseudonym")));
	SET_VARSIZE(result, VARHDRSZ + PSEUDONYM_LEN);
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(pguard_run_as_owner);

/*
 * run_as_owner(tbl regclass, query text, params text[]) -> text[]
 *
 * Runs query, whose parameters $1.. are the text elements of params, as the
 * owner of tbl in a security-restricted operation, and returns the first
 * column of the rows it returns, as text.  The caller's identity comes
 * back when it returns, and on error with the (sub)transaction's abort.
 */
Datum
pguard_run_as_owner(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *query;
	Datum	   *elems = NULL;
	bool	   *elemnulls = NULL;
	int			nparams = 0;
	Oid		   *types;
	char	   *nulls;
	HeapTuple	tup;
	Oid			owner;
	TableOwnerState as_owner;
	int			rc;
	ArrayBuildState *out;
	bool		returned;

	CatalogRequireInternal("run_as_owner");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		elog(ERROR, "run_as_owner() needs a table and a query");
	relid = PG_GETARG_OID(0);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elemnulls, &nparams);
	types = palloc(sizeof(Oid) * (nparams + 1));
	nulls = palloc(nparams + 1);
	for (int i = 0; i < nparams; i++)
	{
		types[i] = TEXTOID;
		nulls[i] = elemnulls[i] ? 'n' : ' ';
	}

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	/* the result lives in the caller's context, which outlives SPI's */
	out = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	CatalogBecomeTableOwner(owner, &as_owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(query, nparams, types, elems, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "run_as_owner(): %s", SPI_result_code_string(rc));
	returned = SPI_tuptable != NULL;
	for (uint64 i = 0; returned && i < SPI_processed; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		accumArrayResult(out, v ? CStringGetTextDatum(v) : (Datum) 0, v == NULL,
						 TEXTOID, out->mcontext);
	}
	SPI_finish();
	CatalogLeaveTableOwner(&as_owner);
	if (!returned)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(makeArrayResult(out, CurrentMemoryContext));
}

PG_FUNCTION_INFO_V1(pguard_caller_owns);

/*
 * caller_owns(tbl regclass) -> boolean: does the role calling from outside
 * (the session's current role, not a SECURITY DEFINER function's owner)
 * have the privileges of tbl's owner?  Tables of the system and of the
 * extension itself are nobody's to configure.
 */
Datum
pguard_caller_owns(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	HeapTuple	tup;
	Form_pg_class form;
	bool		owns;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		PG_RETURN_BOOL(false);
	form = (Form_pg_class) GETSTRUCT(tup);
	owns = has_privs_of_role(GetOuterUserId(), form->relowner) &&
		CatalogApplicationNamespace(form->relnamespace);
	ReleaseSysCache(tup);
	PG_RETURN_BOOL(owns);
}

PG_FUNCTION_INFO_V1(pguard_audit_event);

/*
 * audit_event(event, outcome, detail, subject): one record, from the
 * extension's SECURITY DEFINER functions, in the name of their caller.
 */
Datum
pguard_audit_event(PG_FUNCTION_ARGS)
{
	CatalogRequireInternal("audit_event");
	if (PG_ARGISNULL(0))
		elog(ERROR, "audit_event() needs an event");
	AuditRecordAs(GetOuterUserId(), text_to_cstring(PG_GETARG_TEXT_PP(0)), NULL, NULL,
					   PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
					   PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
					   PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_audit_event_at_commit);

/*
 * audit_event_at_commit(event, outcome, detail, subject): the same, about
 * work that can still roll back: queued only if the (sub)transaction that
 * calls it commits.
 */
Datum
pguard_audit_event_at_commit(PG_FUNCTION_ARGS)
{
	CatalogRequireInternal("audit_event_at_commit");
	if (PG_ARGISNULL(0))
		elog(ERROR, "audit_event_at_commit() needs an event");
	AuditRecordAtCommit(GetOuterUserId(), text_to_cstring(PG_GETARG_TEXT_PP(0)),
						PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
						PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
						PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_subject_has_rows);

/*
 * subject_has_rows(tbl oid, subject_col name, subject_type regtype,
 * subject text) -> boolean: does the table hold a row of the subject?
 *
 * Read through the table's access method, not a query: no planner, so no
 * code of the table's owner runs (row-security policies, index expressions
 * and predicates, which the planner simplifies), and row security, which
 * the owner may force on the table, does not apply, as it would to a query
 * run as the owner.  Only the subject column's built-in type, its input
 * function and its default btree equality are used.  A plain btree index
 * on the column is used when there is one (protect() and
 * set_erasure_action() make one), else the table is scanned.  The latest
 * snapshot: erasure runs at READ COMMITTED.
 */
Datum
pguard_subject_has_rows(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *colname = NameStr(*PG_GETARG_NAME(1));
	Oid			typid = PG_GETARG_OID(2);
	char	   *subject = text_to_cstring(PG_GETARG_TEXT_PP(3));
	Relation	rel;
	AttrNumber	attnum;
	Form_pg_attribute att;
	Oid			opclass;
	Oid			opfamily;
	Oid			opcintype;
	Oid			eqproc;
	Oid			typinput;
	Oid			typioparam;
	Datum		value;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	bool		found = false;
	bool		scanned = false;
	List	   *indexes;
	ListCell   *lc;
	FmgrInfo	eqfn;
	Oid			collation;

	if (!CatalogSubjectTypeAllowed(typid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s is not a subject column type", format_type_be(typid))));
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION && rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation %s is no longer an ordinary table", RelationGetRelationName(rel))));
	attnum = get_attnum(relid, colname);
	att = attnum > 0 ? TupleDescAttr(RelationGetDescr(rel), attnum - 1) : NULL;
	if (att == NULL || att->atttypid != typid)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("subject column \"%s\" of relation \"%s\" no longer exists with type %s",
						colname, RelationGetRelationName(rel), format_type_be(typid))));

	opclass = GetDefaultOpClass(typid, BTREE_AM_OID);
	opfamily = get_opclass_family(opclass);
	opcintype = get_opclass_input_type(opclass);
	eqproc = get_opcode(get_opfamily_member(opfamily, opcintype, opcintype, BTEqualStrategyNumber));
	if (!OidIsValid(eqproc))
		elog(ERROR, "no btree equality for type %s", format_type_be(typid));
	fmgr_info(eqproc, &eqfn);
	getTypeInputInfo(typid, &typinput, &typioparam);
	value = OidInputFunctionCall(typinput, subject, typioparam, -1);

	/* one subject is one exact string, whatever the column's collation says */
	collation = att->attcollation;
	if (OidIsValid(collation) && !get_collation_isdeterministic(collation))
		collation = C_COLLATION_OID;

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(rel, NULL);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = idx->rd_index;

		if (!scanned && ix->indisvalid && ix->indisready && ix->indnkeyatts >= 1 &&
			idx->rd_rel->relam == BTREE_AM_OID && ix->indkey.values[0] == attnum &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL) &&
			idx->rd_opfamily[0] == opfamily && idx->rd_indcollation[0] == collation)
		{
			ScanKeyData key;
			IndexScanDesc scan;

			ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, opcintype,
								   collation, eqproc, value);
			scan = index_beginscan(rel, idx, snapshot, 1, 0);
			index_rescan(scan, &key, 1, NULL, 0);
			found = index_getnext_slot(scan, ForwardScanDirection, slot);
			index_endscan(scan);
			scanned = true;
		}
		index_close(idx, AccessShareLock);
	}
	list_free(indexes);
	if (!scanned)
	{
		TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);

		while (!found && table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, attnum, &isnull);

			found = !isnull &&
				DatumGetBool(FunctionCall2Coll(&eqfn, collation, d, value));
			CHECK_FOR_INTERRUPTS();
		}
		table_endscan(scan);
	}
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	PG_RETURN_BOOL(found);
}

/*-------------------------------------------------------------------------
 * src/writepath.c
 *	  Sealing on the way in: seal(), blind_index() and the row trigger; and
 *	  the guard that keeps a table's protection in place.
 *
 * protect() installs one BEFORE INSERT OR UPDATE row trigger per table,
 * zz_privacy_guard_seal (named to run after the table's own BEFORE
 * triggers), whose arguments list each protected column as four strings:
 * column, category, subject column, blind-index column ('' if none).  For
 * each column the trigger seals a pending value (plaintext the application
 * wrote) under the row's subject key, checks that an envelope written back
 * belongs to the row's subject and category and opens, and keeps the blind
 * index equal to the keyed HMAC of the plaintext.  It first checks that the
 * table still has the shape protect() gave it.  A CHECK constraint
 * (check_sealed) backs it up for writes that bypass triggers.
 *
 * The guard, a ProcessUtility hook, refuses the DDL that would undo that
 * behind the extension's back, for every role: disabling, dropping,
 * renaming or replacing the trigger, dropping or renaming a CHECK, retyping,
 * renaming or dropping a protected, subject or blind-index column (or a
 * subject column erasure_actions names), and putting the table into an
 * inheritance tree.  What is guarded is what privacy_guard's catalog says
 * once the table is locked, so the extension's own functions need no
 * bypass: unprotect() removes a column from the catalog first, then its
 * DDL passes; protect() registers a column, then creates the trigger the
 * catalog describes, which the guard recognises.
 *
 * The subject of a row is its subject column as text (column::text).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"
#include "catalog.h"
#include "keycache.h"
#include "policy.h"
#include "redact.h"
#include "reveal.h"
#include "types.h"
#include "writepath.h"

#define BIDX_LEN 32

/*
 * HMAC-SHA256 of plaintext under the category's blind-index key, as bytea.
 * Returns NULL when the category has no key and create is false.
 */
static bytea *
blind_index(const char *category, const uint8 *plain, int len, bool create)
{
	uint8		key[ENVELOPE_KEY_LEN];
	bytea	   *result;
	unsigned int outlen = 0;
	uint8	   *ok;

	if (!KeycacheIndexKey(category, key, create))
		return NULL;
	result = palloc(VARHDRSZ + BIDX_LEN);
	ok = HMAC(EVP_sha256(), key, sizeof(key), plain, len,
			  (uint8 *) VARDATA(result), &outlen);
	OPENSSL_cleanse(key, sizeof(key));
	if (ok == NULL || outlen != BIDX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute blind index")));
	SET_VARSIZE(result, VARHDRSZ + BIDX_LEN);
	return result;
}

/* Seal plaintext bytes for a subject under a category (already checked). */
static struct varlena *
seal_plain(EnvelopeType type, PolicyCategory *category,
		   const char *subject, int subjectlen, const uint8 *plain, int len)
{
	KeyEntry   *key = KeycacheForSubject(subject, subjectlen);

	return EnvelopeSeal(type, key->key_id, category->name, key->digest,
						key->dek, plain, len);
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

/* seal(value, category, subject) for every plaintext type. */
static Datum
seal_value(FunctionCallInfo fcinfo, EnvelopeType type)
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
	plain = TypesToPlain(type, PG_GETARG_DATUM(0), &len);
	result = seal_plain(type, c, VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject), plain, len);
	OPENSSL_cleanse(plain, len);
	pfree(plain);
	PG_RETURN_POINTER(result);
}

#define SEAL_FUNCTION(name, envtype) \
PG_FUNCTION_INFO_V1(pguard_seal_##name); \
Datum pguard_seal_##name(PG_FUNCTION_ARGS) \
{ return seal_value(fcinfo, envtype); }

SEAL_FUNCTION(text, ENV_TEXT)
SEAL_FUNCTION(jsonb, ENV_JSONB)
SEAL_FUNCTION(date, ENV_DATE)
SEAL_FUNCTION(numeric, ENV_NUMERIC)
SEAL_FUNCTION(bytea, ENV_BYTEA)

PG_FUNCTION_INFO_V1(pguard_blind_index);

/*
 * blind_index(value text, category text): the search term for a searchable
 * column.  STABLE, so that it can drive an index scan; it never creates a
 * key (NULL, matching nothing, when nothing was indexed under the category).
 * The caller's declared purpose must be allowed the category, as for
 * reveal: a search term confirms which row holds a known value.
 * index_term(value, category, true) is protect()'s variant, which creates
 * the category's key and needs no purpose (administrators only).
 */
Datum
pguard_blind_index(PG_FUNCTION_ARGS)
{
	text	   *value;
	char	   *catname;
	bytea	   *result;
	bool		create;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	RedactStatement();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("category must not be null")));
	value = PG_GETARG_TEXT_PP(0);
	catname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	create = PG_NARGS() > 2 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	PolicyEnsure();
	/* a search term links a known plaintext to its row: a purpose must allow it */
	if (!create)
	{
		(void) PolicyRequireCategory(catname);
		RevealRequireSearch(catname);
	}
	else
		PolicyRequireCollectable(PolicyRequireCategory(catname));
	result = blind_index(catname, (const uint8 *) VARDATA_ANY(value),
						 VARSIZE_ANY_EXHDR(value), create);
	if (result == NULL)
		PG_RETURN_NULL();
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
	int			index_attnum;	/* 0: not searchable */
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
	const char *index_col = trigger->tgargs[g + 3];
	Oid			typid;

	pc->name = trigger->tgargs[g];
	pc->category = trigger->tgargs[g + 1];
	pc->subject = trigger->tgargs[g + 2];
	pc->attnum = column_number(desc, pc->name, rel, "protected");
	pc->subject_attnum = column_number(desc, pc->subject, rel, "subject");
	pc->index_attnum = index_col[0] ? column_number(desc, index_col, rel, "blind index") : 0;

	typid = TupleDescAttr(desc, pc->attnum - 1)->atttypid;
	pc->type = CatalogEncryptedType(typid);
	if (pc->type == 0 ||
		!CatalogSubjectTypeAllowed(TupleDescAttr(desc, pc->subject_attnum - 1)->atttypid) ||
		(pc->index_attnum > 0 && TupleDescAttr(desc, pc->index_attnum - 1)->atttypid != BYTEAOID))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("protected column \"%s\" of relation \"%s\" was altered since it was protected",
						pc->name, RelationGetRelationName(rel)),
				 errdetail("The column, its subject column or its blind index no longer has the type protect() gave it."),
				 errhint("Restore the column's type, or call privacy_guard.unprotect() if the column is no longer to be protected."),
				 errhidestmt(true)));
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
		elog(ERROR, "seal_row() takes column, category, subject column, blind index column");
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

	ncols = trigger->tgnargs / 2;
	cols = palloc(sizeof(int) * ncols);
	values = palloc(sizeof(Datum) * ncols);
	nulls = palloc(sizeof(bool) * ncols);

	PolicyEnsure();
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
			{
				if (pc.index_attnum > 0)
				{
					/* the blind index follows its value, never the writer */
					cols[nchanged] = pc.index_attnum;
					values[nchanged] = heap_getattr(oldtuple, pc.index_attnum, desc, &nulls[nchanged]);
					nchanged++;
				}
				continue;
			}
		}

		if (isnull)
		{
			if (pc.index_attnum > 0)
			{
				cols[nchanged] = pc.index_attnum;
				values[nchanged] = (Datum) 0;
				nulls[nchanged] = true;
				nchanged++;
			}
			continue;
		}

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
			PolicyRequireCollectable(c);
			plain = EnvelopePendingOpen(&view);
			plainlen = view.ctlen;
			cols[nchanged] = pc.attnum;
			values[nchanged] = PointerGetDatum(seal_plain(view.type, c, subject, strlen(subject),
														  plain, plainlen));
			nulls[nchanged] = false;
			nchanged++;
		}
		else
		{
			uint8		digest[ENVELOPE_DIGEST_LEN];
			KeyEntry   *key;

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
			if (key == NULL || memcmp(key->digest, digest, ENVELOPE_DIGEST_LEN) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("sealed value written to column \"%s\" does not belong to the row's subject", pc.name),
						 errdetail("An envelope is accepted only in a row of the subject it was sealed for."),
						 errhint("If the row's subject changed, write its protected values again as plaintext in the same statement."),
						 errhidestmt(true)));
			plain = palloc(view.ctlen + 1);
			plainlen = view.ctlen;
			if (!EnvelopeOpen(&view, key->dek, key->digest, plain))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("sealed value written to column \"%s\" failed authentication", pc.name),
						 errdetail("The envelope was altered."),
						 errhidestmt(true)));
		}

		if (pc.index_attnum > 0)
		{
			cols[nchanged] = pc.index_attnum;
			values[nchanged] = PointerGetDatum(blind_index(pc.category, plain, plainlen, true));
			nulls[nchanged] = false;
			nchanged++;
		}
		OPENSSL_cleanse(plain, plainlen);
		pfree(plain);
	}

	if (nchanged > 0)
		newtuple = heap_modify_tuple_by_cols(newtuple, desc, nchanged, cols, values, nulls);
	return PointerGetDatum(newtuple);
}

/* One protected column as privacy_guard's catalog records it. */
typedef struct GuardedColumn
{
	char	   *col;
	char	   *category;
	char	   *subject;
	char	   *index;			/* "" when not searchable */
} GuardedColumn;

/* What the guard keeps in place on one table. */
typedef struct GuardedTable
{
	Oid			relid;
	List	   *cols;			/* GuardedColumn, in the trigger's order */
	char	   *erasure_subject;	/* erasure_actions.subject_col, or NULL */
} GuardedTable;

/*
 * Read a table's protected columns (and erasure's subject column) as the
 * catalog holds them now, including this transaction's changes: the
 * latest snapshot, as the extension's owner.  The caller is connected to
 * SPI and acts as that owner; results live in context "into".
 */
static void
read_guarded(GuardedTable *g, MemoryContext into)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(g->relid)};
	int			rc;

	g->cols = NIL;
	g->erasure_subject = NULL;
	PushActiveSnapshot(CatalogFreshSnapshot());
	rc = SPI_execute_with_args("SELECT p.col, p.category, p.subject_col,"
							   " COALESCE(p.index_col::pg_catalog.text, '')"
							   " FROM privacy_guard.column_protection p"
							   " WHERE p.tbl OPERATOR(pg_catalog.=) $1 ORDER BY p.col",
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read protected columns");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(into);
		GuardedColumn *c = palloc(sizeof(GuardedColumn));
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;

		c->col = pstrdup(SPI_getvalue(t, d, 1));
		c->category = pstrdup(SPI_getvalue(t, d, 2));
		c->subject = pstrdup(SPI_getvalue(t, d, 3));
		c->index = pstrdup(SPI_getvalue(t, d, 4));
		g->cols = lappend(g->cols, c);
		MemoryContextSwitchTo(old);
	}
	rc = SPI_execute_with_args("SELECT e.subject_col FROM privacy_guard.erasure_actions e"
							   " WHERE e.tbl OPERATOR(pg_catalog.=) $1 AND e.subject_col IS NOT NULL",
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read erasure actions");
	if (SPI_processed > 0)
		g->erasure_subject = MemoryContextStrdup(into, SPI_getvalue(SPI_tuptable->vals[0],
																	SPI_tuptable->tupdesc, 1));
	PopActiveSnapshot();
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
						 quote_literal_cstr(c->subject), quote_literal_cstr(c->index));
	}
	return buf.data;
}

PG_FUNCTION_INFO_V1(pguard_register_protection);

/*
 * register_protection(tbl, col, category, subject_col, index_col): record a
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
	char	   *index_col;
	AttrNumber	attnum;
	PolicyCategory *c;
	CatalogOwnerState owner;
	Oid			types[5] = {OIDOID, NAMEOID, TEXTOID, NAMEOID, NAMEOID};
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
	index_col = PG_ARGISNULL(4) ? NULL : NameStr(*PG_GETARG_NAME(4));

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
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
	PolicyEnsure();
	c = PolicyRequireCategory(catname);
	PolicyRequireCollectable(c);

	args[0] = ObjectIdGetDatum(relid);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = CStringGetTextDatum(c->name);
	args[3] = PG_GETARG_DATUM(3);
	args[4] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	if (index_col == NULL)
		nulls[4] = 'n';

	CatalogBecomeOwner(&owner);
	SPI_connect();
	rc = SPI_execute_with_args("INSERT INTO privacy_guard.column_protection"
							   " (tbl, col, category, subject_col, index_col)"
							   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
							   5, types, args, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record protected column");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("column \"%s\" of relation \"%s\" is already protected",
						col, get_rel_name(relid))));
	/* every protected column of the table, as committed now (not as this transaction began) */
	g.relid = relid;
	read_guarded(&g, outer);
	SPI_finish();
	CatalogRestoreUser(&owner);
	PG_RETURN_TEXT_P(cstring_to_text(trigger_arguments(g.cols)));
}

PG_FUNCTION_INFO_V1(pguard_unregister_protection);

/*
 * unregister_protection(tbl, col) -> (protected, trigger_args, index_col):
 * unprotect()'s catalog step, which must come before its DDL: the guard
 * lets that DDL through because the catalog no longer names the column.
 * The caller must own the table (checked here against the real current
 * role), which is neither the system's nor the extension's.
 *
 * For a protected column: its row goes, and the result says what the
 * sealing trigger's arguments become ('' when no column remains) and which
 * blind-index column to drop.  If no other protected column names the same
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
	char	   *index_col = NULL;
	char	   *trigargs = NULL;
	StringInfoData detail;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		isnull[3] = {false, false, false};

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
	if (IsCatalogNamespace(nsp) || IsToastNamespace(nsp) ||
		nsp == get_namespace_oid("information_schema", true) || nsp == CatalogSchemaOid())
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
							   " RETURNING p.category, p.subject_col, p.index_col",
							   2, types, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not remove protected column");
	was_protected = SPI_processed == 1;
	if (was_protected)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		char	   *ix = SPI_getvalue(t, d, 3);

		category = MemoryContextStrdup(outer, SPI_getvalue(t, d, 1));
		subject = MemoryContextStrdup(outer, SPI_getvalue(t, d, 2));
		index_col = ix ? MemoryContextStrdup(outer, ix) : NULL;
	}
	read_guarded(&g, outer);

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
		char	   *owner_of_index = NULL;

		initStringInfo(&users);
		foreach(lc, g.cols)
		{
			GuardedColumn *c = lfirst(lc);

			if (strcmp(c->subject, col) == 0)
				appendStringInfo(&users, "%s\"%s\"", users.len > 0 ? ", " : "", c->col);
			if (strcmp(c->index, col) == 0)
				owner_of_index = c->col;
		}
		if (users.len > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("column \"%s\" of relation \"%s\" holds the data subject of protected columns %s",
							col, relname, users.data),
					 errhint("Unprotect those columns first.")));
		if (owner_of_index != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("column \"%s\" of relation \"%s\" is the blind index of protected column \"%s\"",
							col, relname, owner_of_index),
					 errhint("Unprotect column \"%s\": that drops its blind index.", owner_of_index)));
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
		appendStringInfo(&detail, "protection removed: constraint %s_sealed, %s%s; the column keeps its type and sealed values",
						 col, trigargs[0] ? "its entry in trigger " WRITEPATH_SEAL_TRIGGER : "trigger " WRITEPATH_SEAL_TRIGGER,
						 index_col ? psprintf(", blind index column %s", index_col) : "");
	else
		appendStringInfoString(&detail, "erasure no longer finds the table's rows through this subject column");
	AuditRecordColumn("unprotect", category,
					  quote_qualified_identifier(get_namespace_name(nsp), relname), col,
					  "unprotected", detail.data);

	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = BoolGetDatum(was_protected);
	values[1] = trigargs ? CStringGetTextDatum(trigargs) : (Datum) 0;
	isnull[1] = trigargs == NULL;
	values[2] = index_col ? DirectFunctionCall1(namein, CStringGetDatum(index_col)) : (Datum) 0;
	isnull[2] = index_col == NULL;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, isnull)));
}

/* ------------------------------------------------------------------------
 * The guard
 * ------------------------------------------------------------------------
 */

static ProcessUtility_hook_type prev_process_utility = NULL;

/* What a column is to the guard. */
typedef enum GuardRole
{
	GUARD_NONE = 0,
	GUARD_PROTECTED,
	GUARD_INDEX,
	GUARD_SUBJECT,
	GUARD_ERASURE_SUBJECT
} GuardRole;

/* A table's guarded columns, read once the statement's lock is held. */
static GuardedTable *
guard_load(Oid relid)
{
	GuardedTable *g = palloc0(sizeof(GuardedTable));
	MemoryContext outer = CurrentMemoryContext;
	CatalogOwnerState owner;

	g->relid = relid;
	if (get_rel_namespace(relid) == CatalogSchemaOid())
		return g;				/* the extension's own tables */
	CatalogBecomeOwner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	read_guarded(g, outer);
	SPI_finish();
	CatalogRestoreUser(&owner);
	return g;
}

/* The table as unprotect()'s first argument, a literal. */
static char *
table_literal(GuardedTable *g)
{
	return quote_literal_cstr(DatumGetCString(DirectFunctionCall1(regclassout,
																  ObjectIdGetDatum(g->relid))));
}

/* The protected columns, as "a", "b". */
static char *
protected_list(GuardedTable *g, const char *subject)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);

		if (subject == NULL || strcmp(c->subject, subject) == 0)
			appendStringInfo(&buf, "%s\"%s\"", buf.len > 0 ? ", " : "", c->col);
	}
	return buf.data;
}

/*
 * The hint of every refusal: unprotect() the one column named, or each of
 * the table's protected columns (col NULL; those using a subject column).
 */
static int
unprotect_hint(GuardedTable *g, const char *col, const char *subject)
{
	int			n = 0;
	ListCell   *lc;

	if (col == NULL)
	{
		foreach(lc, g->cols)
		{
			GuardedColumn *c = lfirst(lc);

			if (subject == NULL || strcmp(c->subject, subject) == 0)
			{
				col = c->col;
				n++;
			}
		}
		if (n > 1)
			return errhint("Call privacy_guard.unprotect() for each of these columns first; it is audited.");
	}
	return errhint("Call privacy_guard.unprotect(%s, %s) first; it is audited.",
				   table_literal(g), quote_literal_cstr(col));
}

/* Refuse a change to a column that protection or erasure relies on. */
static void
guard_column(GuardedTable *g, const char *verb, const char *name)
{
	const char *rel = get_rel_name(g->relid);
	GuardRole	role = GUARD_NONE;
	GuardedColumn *which = NULL;
	ListCell   *lc;

	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);

		if (strcmp(c->col, name) == 0)
			role = GUARD_PROTECTED;
		else if (c->index[0] && strcmp(c->index, name) == 0)
		{
			role = GUARD_INDEX;
			which = c;
		}
		else if (strcmp(c->subject, name) == 0 && role == GUARD_NONE)
			role = GUARD_SUBJECT;
	}
	if (role == GUARD_NONE && g->erasure_subject && strcmp(g->erasure_subject, name) == 0)
		role = GUARD_ERASURE_SUBJECT;

	switch (role)
	{
		case GUARD_NONE:
			return;
		case GUARD_PROTECTED:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s protected column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("The sealing trigger \"%s\" and constraint \"%s_sealed\" protect it.",
							   WRITEPATH_SEAL_TRIGGER, name),
					 unprotect_hint(g, name, NULL)));
			break;
		case GUARD_INDEX:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s blind-index column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("It is the blind index of protected column \"%s\".", which->col),
					 unprotect_hint(g, which->col, NULL)));
			break;
		case GUARD_SUBJECT:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s subject column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("It holds the data subject of protected columns %s.", protected_list(g, name)),
					 unprotect_hint(g, NULL, name)));
			break;
		case GUARD_ERASURE_SUBJECT:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s subject column \"%s\" of relation \"%s\"", verb, name, rel),
					 errdetail("Erasure finds the data subject's rows of relation \"%s\" through it.", rel),
					 unprotect_hint(g, name, NULL)));
			break;
	}
}

/* Refuse a change to the CHECK constraint of a protected column. */
static void
guard_constraint(GuardedTable *g, const char *verb, const char *conname)
{
	ListCell   *lc;

	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);

		if (strcmp(conname, psprintf("%s_sealed", c->col)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s constraint \"%s\" of relation \"%s\"",
							verb, conname, get_rel_name(g->relid)),
					 errdetail("It refuses plaintext and other subjects' or categories' sealed values in protected column \"%s\".",
							   c->col),
					 unprotect_hint(g, c->col, NULL)));
	}
}

/* Refuse a change to the sealing trigger of a table with protected columns. */
static void
guard_trigger(GuardedTable *g, const char *verb)
{
	if (g->cols == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot %s trigger \"%s\" of relation \"%s\"",
					verb, WRITEPATH_SEAL_TRIGGER, get_rel_name(g->relid)),
			 errdetail("It seals protected columns %s.", protected_list(g, NULL)),
			 unprotect_hint(g, NULL, NULL)));
}

/* Refuse putting a table with protected columns into an inheritance tree. */
static void
guard_tree(GuardedTable *g, bool typed)
{
	if (g->cols == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 typed ? errmsg("cannot make relation \"%s\" a typed table", get_rel_name(g->relid)) :
			 errmsg("cannot make relation \"%s\" part of an inheritance tree", get_rel_name(g->relid)),
			 typed ? errdetail("It has protected columns %s, which ALTER TYPE would change.",
							   protected_list(g, NULL)) :
			 errdetail("It has protected columns %s, and protect() refuses tables in an inheritance tree.",
					   protected_list(g, NULL)),
			 unprotect_hint(g, NULL, NULL)));
}

/*
 * Would a trigger run after the sealing trigger and be able to change what
 * it wrote?  BEFORE row triggers fire in name order.
 */
static bool
runs_after_seal(const char *name, int16 tgtype)
{
	return TRIGGER_FOR_ROW(tgtype) && TRIGGER_FOR_BEFORE(tgtype) &&
		(TRIGGER_FOR_INSERT(tgtype) || TRIGGER_FOR_UPDATE(tgtype)) &&
		strcmp(name, WRITEPATH_SEAL_TRIGGER) > 0;
}

static void
guard_order(GuardedTable *g, const char *verb, const char *name)
{
	if (g->cols == NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot %s trigger \"%s\" of relation \"%s\": it would run after trigger \"%s\"",
					verb, name, get_rel_name(g->relid), WRITEPATH_SEAL_TRIGGER),
			 errdetail("BEFORE row triggers run in name order; one after the sealing trigger could change the values and blind indexes it wrote."),
			 errhint("Choose a name that sorts before \"%s\".", WRITEPATH_SEAL_TRIGGER)));
}

/* The type of a table's trigger, or -1 when it has none of that name. */
static int
trigger_type(Oid relid, const char *name)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			tgtype = -1;

	ScanKeyInit(&key[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(name));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 2, key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		tgtype = ((Form_pg_trigger) GETSTRUCT(tup))->tgtype;
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return tgtype;
}

/*
 * Is this CREATE [OR REPLACE] TRIGGER zz_privacy_guard_seal exactly the
 * trigger the catalog describes (what protect(), unprotect() and a restore
 * create)?  Then it changes nothing the guard keeps.
 */
static bool
canonical_seal_trigger(CreateTrigStmt *stmt, GuardedTable *g)
{
	List	   *seal_row = list_make2(makeString(PGUARD_SCHEMA), makeString("seal_row"));
	Oid			fn = LookupFuncName(stmt->funcname, 0, NULL, true);
	ListCell   *lc;
	ListCell   *arg;

	if (!stmt->row || stmt->timing != TRIGGER_TYPE_BEFORE ||
		stmt->events != (TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE) ||
		stmt->columns != NIL || stmt->whenClause != NULL ||
		stmt->transitionRels != NIL || stmt->isconstraint ||
		!OidIsValid(fn) || fn != LookupFuncName(seal_row, 0, NULL, true) ||
		list_length(stmt->args) != 4 * list_length(g->cols))
		return false;
	arg = list_head(stmt->args);
	foreach(lc, g->cols)
	{
		GuardedColumn *c = lfirst(lc);
		const char *expected[4] = {c->col, c->category, c->subject, c->index};

		for (int i = 0; i < 4; i++)
		{
			if (strcmp(strVal(lfirst(arg)), expected[i]) != 0)
				return false;
			arg = lnext(stmt->args, arg);
		}
	}
	return true;
}

/* ALTER TABLE: each subcommand that could undo a protection. */
static bool
alter_cmd_guarded(AlterTableCmd *cmd)
{
	switch (cmd->subtype)
	{
		case AT_AlterColumnType:
		case AT_DropColumn:
		case AT_DropColumnRecurse:
		case AT_DisableTrigAll:
		case AT_DisableTrigUser:
		case AT_AddInherit:
		case AT_AttachPartition:
		case AT_AddOf:
			return true;
		case AT_DropConstraint:
		case AT_DropConstraintRecurse:
			return cmd->name != NULL && strlen(cmd->name) > strlen("_sealed") &&
				strcmp(cmd->name + strlen(cmd->name) - strlen("_sealed"), "_sealed") == 0;
		case AT_DisableTrig:
		case AT_EnableReplicaTrig:
			return cmd->name != NULL && strcmp(cmd->name, WRITEPATH_SEAL_TRIGGER) == 0;
		default:
			return false;
	}
}

/*
 * The tables a column change reaches, locked as the change locks them: the
 * table and its children unless ONLY; for a composite type, the tables
 * typed with it (ALTER TYPE ... CASCADE).
 */
static List *
column_targets(GuardedTable *g, RangeVar *rv, LOCKMODE lockmode)
{
	List	   *targets = NIL;
	List	   *relids = NIL;
	ListCell   *lc;

	if (get_rel_relkind(g->relid) == RELKIND_COMPOSITE_TYPE)
	{
		Relation	classrel = table_open(RelationRelationId, AccessShareLock);
		ScanKeyData key;
		TableScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, Anum_pg_class_reloftype, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(get_rel_type_id(g->relid)));
		scan = table_beginscan_catalog(classrel, 1, &key);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
			relids = lappend_oid(relids, ((Form_pg_class) GETSTRUCT(tup))->oid);
		table_endscan(scan);
		table_close(classrel, AccessShareLock);
		foreach(lc, relids)
			LockRelationOid(lfirst_oid(lc), lockmode);
	}
	else
	{
		targets = list_make1(g);
		if (rv->inh && has_subclass(g->relid))
			relids = list_delete_first(find_all_inheritors(g->relid, lockmode, NULL));
	}
	foreach(lc, relids)
		targets = lappend(targets, guard_load(lfirst_oid(lc)));
	return targets;
}

/* A subcommand that changes a column. */
static bool
column_cmd(AlterTableCmd *cmd)
{
	return cmd->subtype == AT_AlterColumnType || cmd->subtype == AT_DropColumn ||
		cmd->subtype == AT_DropColumnRecurse;
}

static void
guard_alter_table(AlterTableStmt *stmt)
{
	LOCKMODE	lockmode;
	Oid			relid;
	GuardedTable *g;
	List	   *targets = NIL;
	ListCell   *lc;
	ListCell   *t;
	bool		guarded = false;

	if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_TYPE)
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		/* ALTER TYPE: only what reaches the typed tables' columns */
		guarded |= alter_cmd_guarded(cmd) && (stmt->objtype == OBJECT_TABLE || column_cmd(cmd));
	}
	if (!guarded)
		return;
	/* as ALTER TABLE itself looks the table up: permission checks, then the lock */
	lockmode = AlterTableGetLockLevel(stmt->cmds);
	relid = AlterTableLookupRelation(stmt, lockmode);
	if (!OidIsValid(relid))
		return;
	g = guard_load(relid);

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (!alter_cmd_guarded(cmd))
			continue;
		switch (cmd->subtype)
		{
			case AT_AlterColumnType:
			case AT_DropColumn:
			case AT_DropColumnRecurse:
				if (targets == NIL)
					targets = column_targets(g, stmt->relation, lockmode);
				foreach(t, targets)
					guard_column(lfirst(t), cmd->subtype == AT_AlterColumnType ? "alter type of" : "drop",
								 cmd->name);
				break;
			case AT_DropConstraint:
			case AT_DropConstraintRecurse:
				guard_constraint(g, "drop", cmd->name);
				break;
			case AT_DisableTrig:
			case AT_DisableTrigAll:
			case AT_DisableTrigUser:
			case AT_EnableReplicaTrig:
				guard_trigger(g, "disable");
				break;
			case AT_AddOf:
				guard_tree(g, true);
				break;
			case AT_AddInherit:
				guard_tree(g, false);
				/* the parent is locked as ALTER TABLE ... INHERIT locks it */
				guard_tree(guard_load(RangeVarGetRelid(castNode(RangeVar, cmd->def),
													   ShareUpdateExclusiveLock, false)), false);
				break;
			case AT_AttachPartition:
				/* the partition is locked as ATTACH PARTITION locks it */
				guard_tree(guard_load(RangeVarGetRelid(castNode(PartitionCmd, cmd->def)->name,
													   AccessExclusiveLock, false)), false);
				break;
			default:
				break;
		}
	}
}

static void
guard_rename(RenameStmt *stmt)
{
	Oid			relid;
	GuardedTable *g;
	ListCell   *t;
	int			tgtype;

	switch (stmt->renameType)
	{
		case OBJECT_COLUMN:
			if (stmt->relationType != OBJECT_TABLE)
				return;
			break;
		case OBJECT_ATTRIBUTE:
			break;
		case OBJECT_TABCONSTRAINT:
			if (strlen(stmt->subname) <= strlen("_sealed") ||
				strcmp(stmt->subname + strlen(stmt->subname) - strlen("_sealed"), "_sealed") != 0)
				return;
			break;
		case OBJECT_TRIGGER:
			if (strcmp(stmt->subname, WRITEPATH_SEAL_TRIGGER) != 0 &&
				strcmp(stmt->newname, WRITEPATH_SEAL_TRIGGER) <= 0)
				return;
			break;
		default:
			return;
	}
	relid = RangeVarGetRelidExtended(stmt->relation, AccessExclusiveLock,
									 stmt->missing_ok ? RVR_MISSING_OK : 0,
									 RangeVarCallbackOwnsRelation, NULL);
	if (!OidIsValid(relid))
		return;
	g = guard_load(relid);
	switch (stmt->renameType)
	{
		case OBJECT_COLUMN:
		case OBJECT_ATTRIBUTE:
			foreach(t, column_targets(g, stmt->relation, AccessExclusiveLock))
				guard_column(lfirst(t), "rename", stmt->subname);
			break;
		case OBJECT_TABCONSTRAINT:
			guard_constraint(g, "rename", stmt->subname);
			break;
		case OBJECT_TRIGGER:
			if (strcmp(stmt->subname, WRITEPATH_SEAL_TRIGGER) == 0)
				guard_trigger(g, "rename");
			else if ((tgtype = trigger_type(relid, stmt->subname)) >= 0 &&
					 runs_after_seal(stmt->newname, tgtype))
				guard_order(g, "rename", stmt->subname);
			break;
		default:
			break;
	}
}

static void
guard_create_trigger(CreateTrigStmt *stmt)
{
	int16		tgtype;
	bool		seal = strcmp(stmt->trigname, WRITEPATH_SEAL_TRIGGER) == 0;
	GuardedTable *g;

	TRIGGER_CLEAR_TYPE(tgtype);
	if (stmt->row)
		TRIGGER_SETT_ROW(tgtype);
	tgtype |= stmt->timing;
	tgtype |= stmt->events;
	if (!seal && !runs_after_seal(stmt->trigname, tgtype))
		return;
	/* locked as CREATE TRIGGER locks it */
	g = guard_load(RangeVarGetRelid(stmt->relation, ShareRowExclusiveLock, false));
	if (!seal)
		guard_order(g, "create", stmt->trigname);
	else if (g->cols != NIL && !canonical_seal_trigger(stmt, g))
		guard_trigger(g, stmt->replace ? "replace" : "create");
}

static void
guard_drop(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_TRIGGER)
		return;
	foreach(lc, stmt->objects)
	{
		List	   *names = lfirst(lc);
		Oid			relid;

		if (strcmp(strVal(llast(names)), WRITEPATH_SEAL_TRIGGER) != 0)
			continue;
		/* locked as DROP TRIGGER locks it */
		relid = RangeVarGetRelid(makeRangeVarFromNameList(list_truncate(list_copy(names),
																		list_length(names) - 1)),
								 AccessExclusiveLock, stmt->missing_ok);
		if (OidIsValid(relid))
			guard_trigger(guard_load(relid), "drop");
	}
}

static void
guard_depends(AlterObjectDependsStmt *stmt)
{
	if (stmt->objectType != OBJECT_TRIGGER || stmt->remove ||
		strcmp(strVal(linitial(castNode(List, stmt->object))), WRITEPATH_SEAL_TRIGGER) != 0)
		return;
	guard_trigger(guard_load(RangeVarGetRelid(stmt->relation, AccessExclusiveLock, false)),
				  "make an extension own");
}

/* CREATE TABLE ... INHERITS (a table with protected columns) */
static void
guard_create_table(CreateStmt *stmt)
{
	ListCell   *lc;

	if (stmt->partbound != NULL)
		return;					/* its parent is partitioned: never protected */
	foreach(lc, stmt->inhRelations)
	{
		RangeVar   *parent = lfirst_node(RangeVar, lc);
		Oid			relid = RangeVarGetRelid(parent, NoLock, true);

		if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
			continue;
		/* locked as CREATE TABLE locks a parent */
		guard_tree(guard_load(RangeVarGetRelid(parent, ShareUpdateExclusiveLock, false)), false);
	}
}

/*
 * The guard: statements that could undo protect()'s work, checked before
 * they run.  Not during CREATE or ALTER EXTENSION (the extension's own
 * scripts) or a binary upgrade, nor where the extension is not installed.
 */
static void
writepath_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						  ProcessUtilityContext context, ParamListInfo params,
						  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
		case T_RenameStmt:
		case T_CreateTrigStmt:
		case T_DropStmt:
		case T_AlterObjectDependsStmt:
		case T_CreateStmt:
		case T_CreateForeignTableStmt:
			/* a read-only transaction (a standby's too) refuses these anyway */
			if (creating_extension || IsBinaryUpgrade || XactReadOnly ||
				!CatalogExtensionInstalled())
				break;
			if (IsA(stmt, AlterTableStmt))
				guard_alter_table((AlterTableStmt *) stmt);
			else if (IsA(stmt, RenameStmt))
				guard_rename((RenameStmt *) stmt);
			else if (IsA(stmt, CreateTrigStmt))
				guard_create_trigger((CreateTrigStmt *) stmt);
			else if (IsA(stmt, DropStmt))
				guard_drop((DropStmt *) stmt);
			else if (IsA(stmt, AlterObjectDependsStmt))
				guard_depends((AlterObjectDependsStmt *) stmt);
			else
				guard_create_table((CreateStmt *) stmt);	/* CreateForeignTableStmt begins with one */
			break;
		default:
			break;
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
WritepathInit(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = writepath_process_utility;
}

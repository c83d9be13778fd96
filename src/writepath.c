/*-------------------------------------------------------------------------
 * src/writepath.c
 *	  Sealing on the way in: seal(), blind_index() and the row trigger.
 *
 * protect() installs one BEFORE INSERT OR UPDATE row trigger per table,
 * zz_privacy_guard_seal (named to run after the table's own BEFORE
 * triggers), whose arguments list each protected column as four strings:
 * column, category, subject column, searchable ('t' or 'f').  For each
 * column the trigger seals a pending value (plaintext the application
 * wrote) under the row's subject key, checks that an envelope written back
 * opens under the row's subject and category, and keeps the blind index
 * <column>_bidx equal to the keyed HMAC of the plaintext.  A CHECK
 * constraint (check_sealed) backs it up for writes that bypass triggers.
 *
 * The subject of a row is its subject column as text (column::text).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "keycache.h"
#include "policy.h"
#include "types.h"

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
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("category and subject must not be null"),
				 errhidestmt(true)));
	catname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	subject = PG_GETARG_TEXT_PP(2);
	c = collectable_category(catname);
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
 */
Datum
pguard_blind_index(PG_FUNCTION_ARGS)
{
	text	   *value;
	char	   *catname;
	bytea	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("category must not be null")));
	value = PG_GETARG_TEXT_PP(0);
	catname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PolicyEnsure();
	(void) PolicyRequireCategory(catname);
	result = blind_index(catname, (const uint8 *) VARDATA_ANY(value),
						 VARSIZE_ANY_EXHDR(value),
						 PG_NARGS() > 2 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2));
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

static int
column_number(TupleDesc desc, const char *name, Relation rel)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("protected column \"%s\" of relation \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errhint("A protected column was renamed or dropped; protect it again.")));
	return attnum;
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
		const char *colname = trigger->tgargs[g];
		const char *catname = trigger->tgargs[g + 1];
		const char *subjname = trigger->tgargs[g + 2];
		bool		searchable = trigger->tgargs[g + 3][0] == 't';
		int			attnum = column_number(desc, colname, rel);
		int			bidx_attnum = 0;
		bool		isnull;
		Datum		d = heap_getattr(newtuple, attnum, desc, &isnull);
		struct varlena *value;
		EnvelopeView view;
		PolicyCategory *c;
		char	   *subject;
		uint8	   *plain = NULL;
		int			plainlen = 0;

		if (searchable)
		{
			char	   *bidx_name = psprintf("%s_bidx", colname);

			bidx_attnum = column_number(desc, bidx_name, rel);
		}

		/* an unchanged value of an unchanged subject needs nothing */
		if (oldtuple != NULL)
		{
			bool		oldnull;
			Datum		od = heap_getattr(oldtuple, attnum, desc, &oldnull);
			int			sattnum = column_number(desc, subjname, rel);
			bool		snull,
						osnull;
			Datum		sd = heap_getattr(newtuple, sattnum, desc, &snull);
			Datum		osd = heap_getattr(oldtuple, sattnum, desc, &osnull);
			Form_pg_attribute sattr = TupleDescAttr(desc, sattnum - 1);

			if (isnull == oldnull && (isnull || datumIsEqual(d, od, false, -1)) &&
				snull == osnull &&
				(snull || datumIsEqual(sd, osd, sattr->attbyval, sattr->attlen)))
			{
				if (searchable)
				{
					/* the blind index follows its value, never the writer */
					cols[nchanged] = bidx_attnum;
					values[nchanged] = heap_getattr(oldtuple, bidx_attnum, desc, &nulls[nchanged]);
					nchanged++;
				}
				continue;
			}
		}

		if (isnull)
		{
			if (searchable)
			{
				cols[nchanged] = bidx_attnum;
				values[nchanged] = (Datum) 0;
				nulls[nchanged] = true;
				nchanged++;
			}
			continue;
		}

		value = (struct varlena *) PG_DETOAST_DATUM_PACKED(d);
		if (EnvelopeParse((const uint8 *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), &view) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid value for protected column \"%s\"", colname),
					 errhidestmt(true)));
		c = PolicyFindCategory(catname, strlen(catname));
		if (c == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("category \"%s\" of protected column \"%s\" does not exist",
							catname, colname),
					 errhidestmt(true)));
		subject = subject_text(newtuple, desc, column_number(desc, subjname, rel), subjname);

		if (view.version == ENVELOPE_PENDING)
		{
			PolicyRequireCollectable(c);
			plain = EnvelopePendingOpen(&view);
			plainlen = view.ctlen;
			cols[nchanged] = attnum;
			values[nchanged] = PointerGetDatum(seal_plain(view.type, c, subject, strlen(subject),
														  plain, plainlen));
			nulls[nchanged] = false;
			nchanged++;
		}
		else
		{
			uint8		digest[ENVELOPE_DIGEST_LEN];
			KeyEntry   *key;

			/* an envelope written back: it must be this row's subject's and category's */
			if (!EnvelopeCategoryIs(&view, catname))
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("sealed value of category \"%.*s\" cannot be stored in column \"%s\" protected for category \"%s\"",
								view.catlen, view.category, colname, catname),
						 errhidestmt(true)));
			KeycacheSubjectDigest(subject, strlen(subject), digest);
			key = KeycacheForId(view.key_id);
			if (key == NULL || memcmp(key->digest, digest, ENVELOPE_DIGEST_LEN) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("sealed value written to column \"%s\" does not belong to the row's subject", colname),
						 errdetail("An envelope is accepted only in a row of the subject it was sealed for."),
						 errhint("If the row's subject changed, write its protected values again as plaintext in the same statement."),
						 errhidestmt(true)));
			if (searchable)
			{
				plain = palloc(view.ctlen + 1);
				plainlen = view.ctlen;
				if (!EnvelopeOpen(&view, key->dek, key->digest, plain))
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("sealed value written to column \"%s\" failed authentication", colname),
							 errhidestmt(true)));
			}
		}

		if (searchable)
		{
			cols[nchanged] = bidx_attnum;
			values[nchanged] = PointerGetDatum(blind_index(catname, plain, plainlen, true));
			nulls[nchanged] = false;
			nchanged++;
		}
		if (plain != NULL)
		{
			OPENSSL_cleanse(plain, plainlen);
			pfree(plain);
		}
	}

	if (nchanged > 0)
		newtuple = heap_modify_tuple_by_cols(newtuple, desc, nchanged, cols, values, nulls);
	return PointerGetDatum(newtuple);
}

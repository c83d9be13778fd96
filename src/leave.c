/*-------------------------------------------------------------------------
 * src/leave.c
 *	  Leaving the extension: a protected column turned back into plaintext.
 *
 * unprotect(tbl, col, to_plaintext => true), for a superuser, retypes the
 * column to its plaintext type with a USING expression that opens each
 * value: privacy_guard.plaintext_of().  That function opens nothing but
 * the values the column held when begin_plaintext() read it, in the
 * transaction that read it: the retype runs as the table's owner, whose
 * own code (a CHECK, an index expression) runs with it and could pass it
 * any envelope of any other column.  A value whose subject was erased
 * becomes NULL.  end_plaintext() records what was done: one audit record,
 * with the counts, never a value.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "audit.h"
#include "catalog.h"
#include "envelope.h"
#include "keycache.h"
#include "leave.h"
#include "types.h"

/* the values plaintext_of() may open: hashes of the column's envelopes */
static HTAB *column_values = NULL;
static LocalTransactionId column_lxid = InvalidLocalTransactionId;
static SubTransactionId column_subxid = InvalidSubTransactionId;
static uint64 column_seed;
static int64 column_opened;
static int64 column_erased;

/*
 * The column's values open only in the (sub)transaction that read them: a
 * conversion that failed and was rolled back to a savepoint leaves nothing
 * open behind it.  And only for the retype itself (the table's owner,
 * security-restricted) or the superuser who started it.
 */
static bool
column_values_live(void)
{
	return column_values != NULL && column_lxid == MyProc->lxid &&
		column_subxid == GetCurrentSubTransactionId() &&
		(InSecurityRestrictedOperation() || superuser());
}

static uint64
value_hash(struct varlena *value)
{
	return hash_bytes_extended((const unsigned char *) VARDATA_ANY(value),
							   VARSIZE_ANY_EXHDR(value), column_seed);
}

/*
 * Read a column's values, the only ones ColumnValuesHas() knows until the
 * (sub)transaction ends or the next call; returns how many there are.  Read
 * as the superuser calling: no policy applies, no owner's code runs.  Also
 * the 0.1 to 0.2 upgrade's, for the values it re-seals with search terms.
 */
int64
ColumnValuesRead(Oid relid, const char *col)
{
	HASHCTL		ctl;
	Portal		portal;
	SPIPlanPtr	plan;
	int64		n = 0;

	if (column_values != NULL && column_lxid == MyProc->lxid)
		hash_destroy(column_values);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(uint64);
	ctl.hcxt = TopTransactionContext;
	column_values = hash_create("privacy_guard values to open", 1024, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	column_lxid = MyProc->lxid;
	column_subxid = GetCurrentSubTransactionId();
	column_opened = column_erased = 0;
	EnvelopeRandom((uint8 *) &column_seed, sizeof(column_seed));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(psprintf("SELECT %s FROM %s", quote_identifier(col),
								DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)))),
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not read the column's values");
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			uint64		h;

			if (isnull)
				continue;
			h = value_hash((struct varlena *) PG_DETOAST_DATUM_PACKED(d));
			(void) hash_search(column_values, &h, HASH_ENTER, NULL);
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return n;
}

/* Is this one of the values ColumnValuesRead() read, still live? */
bool
ColumnValuesHas(struct varlena *value)
{
	uint64		h;

	if (!column_values_live())
		return false;
	h = value_hash(value);
	return hash_search(column_values, &h, HASH_FIND, NULL) != NULL;
}

PG_FUNCTION_INFO_V1(pguard_begin_plaintext);

/*
 * begin_plaintext(tbl regclass, col name) -> bigint: read the column's
 * values, the only ones plaintext_of() opens until the transaction ends;
 * returns how many there are.  Superusers only.
 */
Datum
pguard_begin_plaintext(PG_FUNCTION_ARGS)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may turn a protected column back into plaintext"),
				 errdetail("Every value of the column would be decrypted, whatever the purposes allow."),
				 errhint("Call privacy_guard.unprotect() without to_plaintext to remove the protection only.")));
	PG_RETURN_INT64(ColumnValuesRead(PG_GETARG_OID(0), NameStr(*PG_GETARG_NAME(1))));
}

/* plaintext_of(value): the plaintext of one of the column's values; NULL if its subject was erased. */
static Datum
plaintext_of(FunctionCallInfo fcinfo, EnvelopeType type)
{
	struct varlena *value = PG_GETARG_VARLENA_PP(0);
	EnvelopeView view;
	KeyEntry   *key;
	uint8	   *plain;
	Datum		result;

	if (!column_values_live())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("privacy_guard.plaintext_of() opens only the values of a column that privacy_guard.unprotect() turns back into plaintext"),
				 errhint("Use privacy_guard.reveal(), which checks the purpose and records the access.")));
	if (!ColumnValuesHas(value))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("privacy_guard.plaintext_of() opens only the values of the column being turned into plaintext")));
	TypesParseDatum(value, type, &view);
	if (view.version == ENVELOPE_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a protected column holds an unsealed %s value", EnvelopeTypeName(type))));
	key = KeycacheForId(view.key_id, true);
	if (key == NULL)
	{
		column_erased++;
		PG_RETURN_NULL();
	}
	plain = palloc(view.ctlen + 1);
	if (!KeycacheOpen(key, &view, plain))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a value of the column does not authenticate under its data key"),
				 errhint("Restore the column from a backup, or set the value to NULL, before turning it into plaintext.")));
	result = TypesFromPlain(type, plain, view.ctlen);
	OPENSSL_cleanse(plain, view.ctlen);
	pfree(plain);
	column_opened++;
	return result;
}

#define PLAINTEXT_FUNCTION(name, envtype) \
PG_FUNCTION_INFO_V1(pguard_plaintext_of_##name); \
Datum pguard_plaintext_of_##name(PG_FUNCTION_ARGS) \
{ return plaintext_of(fcinfo, envtype); }

PLAINTEXT_FUNCTION(text, ENV_TEXT)
PLAINTEXT_FUNCTION(jsonb, ENV_JSONB)
PLAINTEXT_FUNCTION(date, ENV_DATE)
PLAINTEXT_FUNCTION(numeric, ENV_NUMERIC)
PLAINTEXT_FUNCTION(bytea, ENV_BYTEA)

PG_FUNCTION_INFO_V1(pguard_end_plaintext);

/*
 * end_plaintext(tbl regclass, col name, category text): record the
 * conversion (counts only) and forget the column's values.
 */
Datum
pguard_end_plaintext(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *col = NameStr(*PG_GETARG_NAME(1));
	char	   *category = text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (!column_values_live())
		elog(ERROR, "end_plaintext() without begin_plaintext()");
	AuditRecordColumn("unprotect", category,
					  quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												 get_rel_name(relid)),
					  col, "decrypted",
					  psprintf("the column is plaintext again: " INT64_FORMAT " values decrypted, " INT64_FORMAT
							   " of erased subjects left NULL",
							   column_opened, column_erased));
	hash_destroy(column_values);
	column_values = NULL;
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 * src/types.c
 *	  The encrypted_* types: text and binary I/O, plaintext conversions.
 *
 * A value's text form is "sealed1:" followed by the base64 of its envelope;
 * binary send/receive carry the envelope bytes.  Input accepts that form
 * back unchanged after checking its structure (so pg_dump, COPY and
 * replication round-trip without re-encryption), and accepts anything else
 * as plaintext of the underlying type, which becomes a pending value that
 * only the write path can seal.  Output and send print a pending value as a
 * fixed placeholder, never its plaintext, which input refuses back; no
 * error message quotes the input.
 *
 * Values of searchable columns compare by the search term their envelope
 * carries (src/envelope.c): equal plaintexts of a category have equal
 * terms.  That is the btree operator class behind indexes, UNIQUE
 * constraints and ON CONFLICT on such columns, and behind searches: with
 * plaintext (its term computed after the checks blind_index() makes) and
 * with the bytea that privacy_guard.blind_index() returns.  Values without
 * a term refuse to compare: two pending values, and a sealed value of a
 * column that is not searchable.
 *
 * Plaintext bytes inside an envelope are: text and bytea as they are, date
 * as a big-endian int32, numeric in its binary send format, jsonb as its
 * canonical text, so that envelopes move between machines and encodings.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "common/base64.h"
#include "fmgr.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "audit.h"
#include "catalog.h"
#include "incident.h"
#include "keycache.h"
#include "policy.h"
#include "reveal.h"
#include "redact.h"
#include "searchscan.h"
#include "types.h"
#include "unsealed.h"
#include "writepath.h"

#define PREFIX_LEN (sizeof(ENVELOPE_TEXT_PREFIX) - 1)

/* The envelope type a plaintext column type becomes, or 0. */
EnvelopeType
TypesForPlainType(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return ENV_TEXT;
		case JSONBOID:
			return ENV_JSONB;
		case DATEOID:
			return ENV_DATE;
		case NUMERICOID:
			return ENV_NUMERIC;
		case BYTEAOID:
			return ENV_BYTEA;
		default:
			return 0;
	}
}

/* Plaintext bytes of a value of the underlying type, palloc'd. */
uint8 *
TypesToPlain(EnvelopeType type, Datum value, int *len)
{
	uint8	   *out;

	switch (type)
	{
		case ENV_TEXT:
		case ENV_BYTEA:
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

				*len = VARSIZE_ANY_EXHDR(v);
				out = palloc(*len + 1);
				memcpy(out, VARDATA_ANY(v), *len);
				if ((Pointer) v != DatumGetPointer(value))
					pfree(v);
				return out;
			}
		case ENV_DATE:
			{
				uint32		d = (uint32) DatumGetDateADT(value);

				out = palloc(4);
				out[0] = d >> 24;
				out[1] = d >> 16;
				out[2] = d >> 8;
				out[3] = d;
				*len = 4;
				return out;
			}
		case ENV_NUMERIC:
			{
				bytea	   *b = DatumGetByteaPP(DirectFunctionCall1(numeric_send, value));

				*len = VARSIZE_ANY_EXHDR(b);
				out = palloc(*len + 1);
				memcpy(out, VARDATA_ANY(b), *len);
				pfree(b);
				return out;
			}
		case ENV_JSONB:
			{
				Jsonb	   *j = DatumGetJsonbP(value);
				char	   *s = JsonbToCString(NULL, &j->root, VARSIZE(j));

				*len = strlen(s);
				return (uint8 *) s;
			}
	}
	elog(ERROR, "unknown envelope type %d", (int) type);
	return NULL;
}

/* A value of the underlying type from plaintext bytes. */
Datum
TypesFromPlain(EnvelopeType type, const uint8 *plain, int len)
{
	switch (type)
	{
		case ENV_TEXT:
		case ENV_BYTEA:
			{
				struct varlena *v = palloc(VARHDRSZ + len);

				SET_VARSIZE(v, VARHDRSZ + len);
				memcpy(VARDATA(v), plain, len);
				return PointerGetDatum(v);
			}
		case ENV_DATE:
			if (len != 4)
				break;
			return DateADTGetDatum((DateADT) ((uint32) plain[0] << 24 |
											  (uint32) plain[1] << 16 |
											  (uint32) plain[2] << 8 |
											  (uint32) plain[3]));
		case ENV_NUMERIC:
			{
				StringInfoData buf;

				buf.data = (char *) plain;
				buf.len = len;
				buf.maxlen = len;
				buf.cursor = 0;
				return DirectFunctionCall3(numeric_recv, PointerGetDatum(&buf),
										   ObjectIdGetDatum(InvalidOid),
										   Int32GetDatum(-1));
			}
		case ENV_JSONB:
			{
				char	   *s = pnstrdup((const char *) plain, len);

				return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
			}
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("sealed %s value holds malformed plaintext", EnvelopeTypeName(type))));
	return (Datum) 0;
}

/* Parse a stored value; error (quoting nothing) if malformed or of another type. */
void
TypesParseDatum(struct varlena *value, EnvelopeType expected, EnvelopeView *view)
{
	const char *why = EnvelopeParse((const uint8 *) VARDATA_ANY(value),
									VARSIZE_ANY_EXHDR(value), view);

	if (why == NULL && view->type != expected)
		why = "it was sealed for another type";
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid %s value: %s", EnvelopeTypeName(expected), why)));
}

/* Parse "sealed1:<base64>" into a new varlena; error if malformed. */
static Datum
envelope_from_text(const char *str, EnvelopeType type)
{
	const char *b64 = str + PREFIX_LEN;
	int			b64len = strlen(b64);
	int			maxlen = pg_b64_dec_len(b64len);
	struct varlena *result = palloc(VARHDRSZ + maxlen);
	int			len;
	EnvelopeView view;
	const char *why;

	len = pg_b64_decode(b64, b64len, VARDATA(result), maxlen);
	if (len < 0)
		why = "it is not valid base64";
	else
		why = EnvelopeParse((const uint8 *) VARDATA(result), len, &view);
	if (why == NULL && view.version != ENVELOPE_VERSION)
		why = "it is not a sealed value";
	if (why == NULL && view.type != type)
		why = "it was sealed for another type";
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: %s", EnvelopeTypeName(type), why),
				 errhint("Values starting with \"%s\" are read as sealed envelopes; seal such plaintext with privacy_guard.seal().",
						 ENVELOPE_TEXT_PREFIX)));
	SET_VARSIZE(result, VARHDRSZ + len);
	return PointerGetDatum(result);
}

/*
 * Parse plaintext with the underlying type's input function.  Its errors
 * quote the input (personal data, into the log), so they are replaced by
 * one that names only the type.
 */
static Datum
parse_plain(char *str, EnvelopeType type)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum plain = (Datum) 0;
	volatile bool failed = false;

	if (type == ENV_TEXT)
		return CStringGetTextDatum(str);
	PG_TRY();
	{
		switch (type)
		{
			case ENV_JSONB:
				plain = DirectFunctionCall1(jsonb_in, CStringGetDatum(str));
				break;
			case ENV_DATE:
				plain = DirectFunctionCall1(date_in, CStringGetDatum(str));
				break;
			case ENV_NUMERIC:
				plain = DirectFunctionCall3(numeric_in, CStringGetDatum(str),
											ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
				break;
			case ENV_BYTEA:
				plain = DirectFunctionCall1(byteain, CStringGetDatum(str));
				break;
			default:
				elog(ERROR, "unknown envelope type %d", (int) type);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* only bad input is reworded; cancel, out of memory and the like pass */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		FreeErrorData(edata);
		failed = true;
	}
	PG_END_TRY();
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", EnvelopeTypeName(type)),
				 errdetail("The value is not a valid %s.",
						   type == ENV_JSONB ? "jsonb document" :
						   type == ENV_DATE ? "date" :
						   type == ENV_NUMERIC ? "number" : "bytea literal"),
				 errhidestmt(true)));
	return plain;
}

/*
 * What an unsealed value (plaintext waiting for the write path) prints as:
 * never its plaintext, never an error, so that EXPLAIN, auto_explain and
 * the logging of bind parameters work on statements that write or search
 * plaintext.  Input refuses it back: a stray unsealed value that was
 * stored somewhere and dumped fails loudly when restored, instead of
 * coming back as this text.
 */
#define UNSEALED_PLACEHOLDER_FMT "<unsealed %s>"

static char *
unsealed_placeholder(int type)
{
	return psprintf(UNSEALED_PLACEHOLDER_FMT, EnvelopeTypeName(type));
}

static void
refuse_placeholder(const char *str, EnvelopeType type)
{
	char	   *p;

	if (str[0] != '<')
		return;
	p = unsealed_placeholder(type);
	if (strcmp(str, p) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("\"%s\" stands for an unsealed value and cannot be read back", p),
				 errdetail("An unsealed value (plaintext not yet written to a protected column) prints as this placeholder; its plaintext was never printed."),
				 errhint("Write the plaintext again.")));
	pfree(p);
}

/* Input: an envelope back, or plaintext that becomes a pending value. */
static Datum
encrypted_in(char *str, EnvelopeType type)
{
	Datum		plain;
	uint8	   *bytes;
	int			len;
	struct varlena *result;

	if (strncmp(str, ENVELOPE_TEXT_PREFIX, PREFIX_LEN) == 0)
		return envelope_from_text(str, type);
	refuse_placeholder(str, type);
	UnsealedCheckInput();

	RedactStatement();
	plain = parse_plain(str, type);
	bytes = TypesToPlain(type, plain, &len);
	result = EnvelopePending(type, bytes, len);
	explicit_bzero(bytes, len);
	return PointerGetDatum(result);
}

static char *
encrypted_out(struct varlena *value, EnvelopeType type)
{
	EnvelopeView view;
	int			len = VARSIZE_ANY_EXHDR(value);
	int			enclen = pg_b64_enc_len(len);
	char	   *out;
	int			n;

	TypesParseDatum(value, type, &view);
	if (view.version == ENVELOPE_PENDING)
		return unsealed_placeholder(view.type);
	out = palloc(PREFIX_LEN + enclen + 1);
	memcpy(out, ENVELOPE_TEXT_PREFIX, PREFIX_LEN);
	n = pg_b64_encode(VARDATA_ANY(value), len, out + PREFIX_LEN, enclen);
	if (n < 0)
		elog(ERROR, "could not encode envelope");
	out[PREFIX_LEN + n] = '\0';
	return out;
}

static Datum pending_from_value(Datum value, EnvelopeType type);

/*
 * Binary input: the bytes of a sealed envelope of this type (what send
 * gave), taken as they are; anything else is plaintext in the underlying
 * type's binary format (a driver's binary parameter, binary COPY), which
 * becomes a pending value as text input's plaintext does.  An envelope is
 * recognised by its whole structure (version, type, key id, category,
 * lengths); plaintext that happened to have it would fail the column's
 * CHECK, which authenticates it, with an error, never be stored.
 */
static Datum
encrypted_recv(StringInfo buf, EnvelopeType type)
{
	int			len = buf->len - buf->cursor;
	EnvelopeView view;
	Datum		plain;

	if (EnvelopeParse((const uint8 *) buf->data + buf->cursor, len, &view) == NULL &&
		(view.version == ENVELOPE_VERSION || view.version == ENVELOPE_VERSION_TERM) &&
		view.type == type)
	{
		struct varlena *result = palloc(VARHDRSZ + len);

		SET_VARSIZE(result, VARHDRSZ + len);
		pq_copymsgbytes(buf, VARDATA(result), len);
		return PointerGetDatum(result);
	}
	switch (type)
	{
		case ENV_TEXT:
			plain = DirectFunctionCall1(textrecv, PointerGetDatum(buf));
			break;
		case ENV_BYTEA:
			plain = DirectFunctionCall1(bytearecv, PointerGetDatum(buf));
			break;
		case ENV_DATE:
			plain = DirectFunctionCall1(date_recv, PointerGetDatum(buf));
			break;
		case ENV_NUMERIC:
			plain = DirectFunctionCall3(numeric_recv, PointerGetDatum(buf),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			break;
		case ENV_JSONB:
			plain = DirectFunctionCall1(jsonb_recv, PointerGetDatum(buf));
			break;
		default:
			elog(ERROR, "unknown encrypted type %d", (int) type);
	}
	UnsealedCheckInput();
	return pending_from_value(plain, type);
}

static bytea *
encrypted_send(struct varlena *value, EnvelopeType type)
{
	EnvelopeView view;
	int			len = VARSIZE_ANY_EXHDR(value);
	bytea	   *result;

	TypesParseDatum(value, type, &view);
	if (view.version == ENVELOPE_PENDING)
	{
		char	   *p = unsealed_placeholder(view.type);

		result = (bytea *) cstring_to_text(p);
		pfree(p);
		return result;
	}
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), VARDATA_ANY(value), len);
	return result;
}

/*
 * The assignment cast from the plaintext type.  Text that is an envelope
 * ("sealed1:...") is taken as the envelope, as input does, so an
 * application that reads a protected column as text and writes it back
 * through a typed parameter does not seal the envelope again.
 */
static Datum
pending_from_value(Datum value, EnvelopeType type)
{
	int			len;
	uint8	   *bytes;
	struct varlena *result;

	if (type == ENV_TEXT)
	{
		text	   *t = DatumGetTextPP(value);

		if (VARSIZE_ANY_EXHDR(t) >= (int) PREFIX_LEN &&
			memcmp(VARDATA_ANY(t), ENVELOPE_TEXT_PREFIX, PREFIX_LEN) == 0)
			return envelope_from_text(text_to_cstring(t), type);
		if (VARSIZE_ANY_EXHDR(t) > 0 && *VARDATA_ANY(t) == '<')
			refuse_placeholder(text_to_cstring(t), type);
	}
	else if (type == ENV_BYTEA)
	{
		bytea	   *b = DatumGetByteaPP(value);
		int			blen = VARSIZE_ANY_EXHDR(b);

		/* what send made of an unsealed encrypted_bytea, read back as bytes */
		if (blen > 0 && blen < 64 && *VARDATA_ANY(b) == '<' &&
			memchr(VARDATA_ANY(b), '\0', blen) == NULL)
			refuse_placeholder(pnstrdup(VARDATA_ANY(b), blen), type);
	}
	RedactStatement();
	bytes = TypesToPlain(type, value, &len);
	result = EnvelopePending(type, bytes, len);
	explicit_bzero(bytes, len);
	return PointerGetDatum(result);
}

/* Declare in/out/recv/send and the cast from the plaintext type. */
#define ENCRYPTED_TYPE_IO(name, envtype) \
PG_FUNCTION_INFO_V1(pguard_##name##_in); \
Datum pguard_##name##_in(PG_FUNCTION_ARGS) \
{ return encrypted_in(PG_GETARG_CSTRING(0), envtype); } \
PG_FUNCTION_INFO_V1(pguard_##name##_out); \
Datum pguard_##name##_out(PG_FUNCTION_ARGS) \
{ PG_RETURN_CSTRING(encrypted_out(PG_GETARG_VARLENA_PP(0), envtype)); } \
PG_FUNCTION_INFO_V1(pguard_##name##_recv); \
Datum pguard_##name##_recv(PG_FUNCTION_ARGS) \
{ return encrypted_recv((StringInfo) PG_GETARG_POINTER(0), envtype); } \
PG_FUNCTION_INFO_V1(pguard_##name##_send); \
Datum pguard_##name##_send(PG_FUNCTION_ARGS) \
{ PG_RETURN_BYTEA_P(encrypted_send(PG_GETARG_VARLENA_PP(0), envtype)); } \
PG_FUNCTION_INFO_V1(pguard_##name##_from_plain); \
Datum pguard_##name##_from_plain(PG_FUNCTION_ARGS) \
{ return pending_from_value(PG_GETARG_DATUM(0), envtype); }

ENCRYPTED_TYPE_IO(encrypted_text, ENV_TEXT)
ENCRYPTED_TYPE_IO(encrypted_jsonb, ENV_JSONB)
ENCRYPTED_TYPE_IO(encrypted_date, ENV_DATE)
ENCRYPTED_TYPE_IO(encrypted_numeric, ENV_NUMERIC)
ENCRYPTED_TYPE_IO(encrypted_bytea, ENV_BYTEA)

/* Integers written to a protected numeric column become pending numerics. */
static Datum
pending_numeric(Datum num)
{
	int			len;
	uint8	   *bytes;
	struct varlena *result;

	RedactStatement();
	bytes = TypesToPlain(ENV_NUMERIC, num, &len);
	result = EnvelopePending(ENV_NUMERIC, bytes, len);
	explicit_bzero(bytes, len);
	return PointerGetDatum(result);
}

PG_FUNCTION_INFO_V1(pguard_int4_to_encrypted_numeric);
Datum
pguard_int4_to_encrypted_numeric(PG_FUNCTION_ARGS)
{
	return pending_numeric(DirectFunctionCall1(int4_numeric, PG_GETARG_DATUM(0)));
}

PG_FUNCTION_INFO_V1(pguard_int8_to_encrypted_numeric);
Datum
pguard_int8_to_encrypted_numeric(PG_FUNCTION_ARGS)
{
	return pending_numeric(DirectFunctionCall1(int8_numeric, PG_GETARG_DATUM(0)));
}

PG_FUNCTION_INFO_V1(pguard_check_sealed);

/*
 * check_sealed(value, category, subject [, searchable]): the CHECK
 * constraint protect() puts on each protected column (searchable columns
 * pass true: their values must carry the term of their plaintext, others
 * none).  It holds even when triggers do not fire
 * (session_replication_role = replica, disabled triggers): plaintext, an
 * envelope of another category or type, and an envelope of another
 * subject's key are all refused.  Raises rather than returning false, so
 * that no row is ever rendered into an error detail.
 */
Datum
pguard_check_sealed(PG_FUNCTION_ARGS)
{
	struct varlena *value;
	char	   *category;
	text	   *subject;
	EnvelopeView view;
	const char *why;
	uint8		digest[ENVELOPE_DIGEST_LEN];
	KeyEntry   *key;
	uint8	   *scratch;
	bool		searchable = PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(true);
	RedactStatement();
	value = PG_GETARG_VARLENA_PP(0);
	category = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	why = EnvelopeParse((const uint8 *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), &view);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid value for a protected column: %s", why),
				 errhidestmt(true)));
	if (view.version == ENVELOPE_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("plaintext cannot be stored in a column protected for category \"%s\"", category),
				 errdetail("The write bypassed privacy_guard's sealing trigger."),
				 errhint("Write with session_replication_role = origin and triggers enabled, or write values made by privacy_guard.seal()."),
				 errhidestmt(true)));
	if (!EnvelopeCategoryIs(&view, category))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("sealed value of category \"%.*s\" cannot be stored in a column protected for category \"%s\"",
						view.catlen, view.category, category),
				 errhidestmt(true)));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("the subject of a row with a protected value cannot be null"),
				 errhidestmt(true)));
	subject = PG_GETARG_TEXT_PP(2);
	if (searchable != (view.term != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg(searchable ?
						"sealed value without a search term cannot be stored in a searchable column" :
						"sealed value with a search term cannot be stored in a column that is not searchable"),
				 errdetail("Search terms are computed only when plaintext is sealed for a searchable column."),
				 errhidestmt(true)));
	KeycacheSubjectDigest(VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject), digest);
	key = KeycacheForId(view.key_id, false);
	scratch = key ? palloc(view.ctlen + 1) : NULL;
	/* one answer for an unknown key, another subject's key and a forgery */
	if (key == NULL || memcmp(key->digest, digest, ENVELOPE_DIGEST_LEN) != 0 ||
		!KeycacheOpen(key, &view, scratch))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("sealed value does not belong to this row"),
				 errdetail("An envelope is accepted only in a row of the subject it was sealed for, unaltered; an erased subject's envelopes are accepted nowhere."),
				 errhidestmt(true)));
	OPENSSL_cleanse(scratch, view.ctlen);
	/* the term opened with the value: it is its own; under which key? */
	if (searchable && !WritepathTermKeyCurrent(&view, category))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("sealed value's search term was not computed under category \"%s\"'s search key", category),
				 errhidestmt(true)));
	pfree(scratch);
	PG_RETURN_BOOL(true);
}

/* Parse a compared value; quotes nothing of it. */
static void
compared_view(struct varlena *value, EnvelopeView *view)
{
	if (EnvelopeParse((const uint8 *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), view) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid encrypted value in a comparison")));
}

/*
 * The search term a value of a searchable column carries, or an error that
 * says why the value cannot be compared (and quotes nothing of it).
 */
static const uint8 *
view_term(const EnvelopeView *view)
{
	if (view->version == ENVELOPE_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("plaintext cannot be compared with a value of type %s here",
						EnvelopeTypeName(view->type)),
				 errdetail("Plaintext compares, by = and <> only, with the values of a searchable column, which carry search terms; not with other plaintext (an IN list that an index scan sorts)."),
				 errhint("Search a searchable column with WHERE col = 'value' (col = 'a' OR col = 'b' for several), or WHERE col = privacy_guard.blind_index(value, category)."),
				 errhidestmt(true)));
	if (view->term == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("encrypted values of a column that is not searchable cannot be compared"),
				 errdetail("Only values of searchable columns carry the search term they compare by."),
				 errhint("Protect the column with searchable => true to index, constrain or search it."),
				 errhidestmt(true)));
	return view->term;
}

/*
 * A statement compares the same searched value with many rows and index
 * entries, and an index scan's condition is checked again on the rows it
 * returns (searchscan.c): its term is kept for the statement, so the audit
 * record and the masked budget's charge of a search happen once per
 * distinct value and category in it.  The role, its purpose and a lockdown
 * are checked at each comparison outside a btree's own scan: a statement's
 * start time is shared by the statements of a DO block or a function and by
 * those of one query message, between which a purpose can be reset or a
 * lockdown begin.  A kept term is forgotten when the role, its purpose,
 * the policy (a grant revoked) or the lockdown changes: then the next
 * comparison, in a btree's scan too, checks again.  A plaintext search is
 * known by its pending envelope (its ciphertext) and its term, a
 * blind_index() call by its term: no plaintext is kept.
 */
#define TERM_MEMO 64
#define TERM_MEMO_MAX_BYTES 1024	/* a longer pending value is kept by its digest */

typedef struct TermMemo
{
	TimestampTz statement;		/* 0: empty */
	Oid			userid;
	uint64		policy;			/* the policy's generation then */
	bool		locked;			/* a lockdown then */
	char		purpose[NAMEDATALEN];	/* the role's declared purpose then ("" none) */
	char		category[ENVELOPE_MAX_CATEGORY + 1];
	uint8		term[ENVELOPE_TERM_LEN];
	int			len;			/* of the pending envelope; 0: a term alone */
	uint8		pending[TERM_MEMO_MAX_BYTES];	/* its bytes, or its SHA-256 if longer */
} TermMemo;

static TermMemo *term_memo = NULL;
static int	term_memo_next = 0;

/* Was the memo made under the session's circumstances now? */
static inline bool
term_memo_current(const TermMemo *m, TimestampTz stmt, const char *category)
{
	const char *purpose = PolicySessionPurpose();

	return m->statement == stmt && m->userid == GetUserId() &&
		m->policy == PolicyGeneration() && m->locked == IncidentLockdown(NULL) &&
		strcmp(m->category, category) == 0 && strcmp(m->purpose, purpose ? purpose : "") == 0;
}

/*
 * What the memo keeps of a pending envelope: its bytes, or, when longer
 * than TERM_MEMO_MAX_BYTES, their SHA-256 (into digest); *keylen bytes.
 */
static const uint8 *
term_memo_key(const uint8 *pending, int len, uint8 *digest, int *keylen)
{
	unsigned int dlen = 0;

	if (len <= TERM_MEMO_MAX_BYTES)
	{
		*keylen = len;
		return pending;
	}
	if (EVP_Digest(pending, len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a search term")));
	*keylen = 32;
	return digest;
}

/*
 * The memo of a search in this statement, by its pending envelope (len > 0)
 * or by its term (pending NULL), or NULL.
 */
static TermMemo *
term_memo_find(const char *category, const uint8 *pending, int len, const uint8 *term)
{
	TimestampTz stmt;
	uint8		digest[EVP_MAX_MD_SIZE];
	int			keylen = 0;

	if (term_memo == NULL)
		return NULL;
	CatalogCheckChanges();		/* another session's grant revoked */
	stmt = GetCurrentStatementStartTimestamp();
	if (pending != NULL)
		pending = term_memo_key(pending, len, digest, &keylen);
	for (int i = 0; i < TERM_MEMO; i++)
	{
		TermMemo   *m = &term_memo[i];

		if (pending != NULL ?
			(m->len != len || memcmp(m->pending, pending, keylen) != 0) :
			memcmp(m->term, term, ENVELOPE_TERM_LEN) != 0)
			continue;
		if (term_memo_current(m, stmt, category))
			return m;
	}
	return NULL;
}

/*
 * Keep a search's term for the rest of the statement, with the pending
 * envelope it was computed from (NULL: a term alone).
 */
static void
term_memo_keep(const char *category, const uint8 *pending, int len, const uint8 *term)
{
	TermMemo   *m;
	const char *purpose = PolicySessionPurpose();
	uint8		digest[EVP_MAX_MD_SIZE];
	int			keylen = 0;

	if (pending != NULL)
		pending = term_memo_key(pending, len, digest, &keylen);
	if (term_memo == NULL)
		term_memo = MemoryContextAllocZero(TopMemoryContext, sizeof(TermMemo) * TERM_MEMO);
	m = &term_memo[term_memo_next];
	term_memo_next = (term_memo_next + 1) % TERM_MEMO;
	m->statement = GetCurrentStatementStartTimestamp();
	m->userid = GetUserId();
	m->policy = PolicyGeneration();
	m->locked = IncidentLockdown(NULL);
	strlcpy(m->purpose, purpose ? purpose : "", sizeof(m->purpose));
	strlcpy(m->category, category, sizeof(m->category));
	memcpy(m->term, term, ENVELOPE_TERM_LEN);
	m->len = pending != NULL ? len : 0;
	if (pending != NULL)
		memcpy(m->pending, pending, keylen);
}

/*
 * The checks of a search whose term is computed (blind_index(), plaintext
 * compared with a column), each time; its audit record and masked budget
 * once per distinct term and category in a statement, however many times
 * and forms the statement computes it in (a parameter cast to the type is
 * pending under a new nonce each time it is evaluated: in an index scan's
 * key, and again in its filter).  pending: the pending envelope the term
 * was computed from, to keep with it, or NULL.
 */
void
TypesRequireSearch(const char *category, const uint8 *term, const uint8 *pending, int len)
{
	if (term_memo_find(category, NULL, 0, term) != NULL)
	{
		RevealRequireSearch(category, NULL, true);
		if (pending == NULL)
			return;
	}
	else
		RevealRequireSearch(category, term, false);
	term_memo_keep(category, pending, len, term);
}

/*
 * Plaintext compared with a searchable column's value (WHERE col = 'value'
 * or = $1, whose parameter arrives as plaintext): its term under the
 * value's category, computed as blind_index() computes it, after the same
 * checks (declared purpose allowed the category, lockdown, masked search
 * budget) and audited as a search, once a statement (above).  Plaintext of
 * no key yet matches nothing (key id 0).
 */
static const uint8 *
plaintext_term(struct varlena *raw, const EnvelopeView *pending, const EnvelopeView *sealed)
{
	static uint8 term[ENVELOPE_TERM_LEN];
	char		category[ENVELOPE_MAX_CATEGORY + 1];
	const uint8 *bytes = (const uint8 *) VARDATA_ANY(raw);
	int			len = VARSIZE_ANY_EXHDR(raw);
	TermMemo   *m;
	uint8	   *plain;
	bool		found;

	(void) view_term(sealed);
	/*
	 * Only a literal or parameter of the caller's is a search: a value
	 * written to a protected column is bound to its category on its way to
	 * the sealing trigger, and code that sees it there (a trigger of the
	 * table's owner) must not learn its term under another category.
	 */
	if (pending->catlen > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a value being written to a protected column cannot be compared"),
				 errdetail("Only plaintext of the statement (a literal or a parameter) is compared with a searchable column, as a search."),
				 errhidestmt(true)));
	memcpy(category, sealed->category, sealed->catlen);
	category[sealed->catlen] = '\0';
	/* the planner estimating selectivity: not a search; a term that matches nothing */
	if (AuditPlanning())
	{
		static const uint8 none[ENVELOPE_TERM_LEN] = {0};

		return none;
	}
	TypesRefuseInWorker();
	if ((m = term_memo_find(category, bytes, len, NULL)) != NULL)
	{
		/*
		 * The kept term is current (the role, its purpose, the policy and
		 * the lockdown as when it was checked).  Within a btree's scan
		 * that is enough: no code of the caller's runs between its
		 * comparisons, and no row it finds is returned before its filter
		 * has compared it again, checked (searchscan.c).
		 */
		if (!SearchScanInIndex())
			RevealRequireSearch(category, NULL, true);
		return m->term;
	}

	RedactStatement();
	PolicyEnsure();
	(void) PolicyRequireCategory(category);
	plain = EnvelopePendingOpen(pending);
	found = WritepathSearchTerm(category, plain, pending->ctlen, false, term);
	OPENSSL_cleanse(plain, pending->ctlen);
	pfree(plain);
	if (found)
		TypesRequireSearch(category, term, bytes, len);
	else
	{
		/* nothing was sealed searchable under the category: nothing to find */
		memset(term, 0, ENVELOPE_TERM_LEN);
		RevealRequireSearch(category, NULL, false);
		term_memo_keep(category, bytes, len, term);
	}
	return term;
}

/*
 * Were a sealed value's key id, category and term sealed together by
 * privacy_guard?  Its binding proves it without the subject's data key; a
 * value without one (0.2's), or whose term is under a search key since
 * rotated away, is opened under its data key instead.  VALUE_KEY_GONE: no
 * binding proves it and its data key does not exist (its subject erased,
 * or the id made up).
 */
typedef enum ValueAuthenticity
{
	VALUE_AUTHENTIC,
	VALUE_KEY_GONE,
	VALUE_FORGED
} ValueAuthenticity;

static ValueAuthenticity
value_authenticity(const EnvelopeView *view)
{
	KeyEntry   *key;
	uint8	   *scratch;
	bool		opened;

	if (KeycacheIndexBindValid(view))
		return VALUE_AUTHENTIC;
	key = KeycacheForId(view->key_id, false);
	if (key == NULL)
		return VALUE_KEY_GONE;
	scratch = palloc(view->ctlen + 1);
	opened = KeycacheOpen(key, view, scratch);
	OPENSSL_cleanse(scratch, view->ctlen);
	pfree(scratch);
	return opened ? VALUE_AUTHENTIC : VALUE_FORGED;
}

/*
 * A parallel worker knows neither the session's purpose nor its
 * statement's search group: searches are PARALLEL RESTRICTED, and one that
 * a function marked PARALLEL SAFE brings into a worker is refused, before
 * any check (whose refusal the worker would record as "no purpose").
 */
void
TypesRefuseInWorker(void)
{
	if (IsParallelWorker())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a search of encrypted values cannot run in a parallel worker"),
				 errhint("Mark a function that compares encrypted values PARALLEL RESTRICTED.")));
}

/*
 * A search found a stored value: its subject (the value's data key) goes
 * into the statement's search group, so access_history() shows the
 * searches that located or confirmed a subject's data.  Not while a btree
 * compares with its own entries (searchscan.c): an entry may be of a row
 * the scan does not return (rolled back, not yet committed, deleted, a
 * pivot key copied from a value long gone); the scan's condition is
 * checked again, and recorded, on each row it returns.
 */
static void
search_matched(const EnvelopeView *stored, const uint8 *term)
{
	char		category[ENVELOPE_MAX_CATEGORY + 1];

	if (stored->version != ENVELOPE_VERSION || stored->catlen <= 0 || AuditPlanning() ||
		SearchScanInIndex())
		return;

	TypesRefuseInWorker();

	/*
	 * The subject is named from the value's key id and category: only if
	 * the write path sealed them with this term.  Anyone can write an
	 * envelope's bytes into a value of the type (a literal, a column that
	 * is not protected); one that names another subject's key, or a
	 * category of no policy, must name no one (value_authenticity()): a
	 * value no binding proves whose key is gone names no one; a forged one
	 * is refused.
	 */
	switch (value_authenticity(stored))
	{
		case VALUE_KEY_GONE:
			return;
		case VALUE_FORGED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("an encrypted value a search matched failed authentication"),
					 errdetail("Its key reference, category or search term was altered, or it was not sealed by privacy_guard."),
					 errhidestmt(true)));
			break;
		case VALUE_AUTHENTIC:
			break;
	}
	memcpy(category, stored->category, stored->catlen);
	category[stored->catlen] = '\0';

	/*
	 * A term compared with the column (blind_index()'s, or bytes read from
	 * a value's text form) is a search by that term: checked and recorded
	 * like one (once a statement; the memo knows blind_index()'s), or a
	 * role with no purpose could have every row it reads name its subject
	 * in the trail, statement after statement.
	 */
	if (term != NULL)
	{
		if (term_memo_find(category, NULL, 0, term) != NULL)
			RevealRequireSearch(category, NULL, true);	/* kept: checked again only */
		else
		{
			PolicyEnsure();
			(void) PolicyRequireCategory(category);
			TypesRequireSearch(category, term, NULL, 0);
		}
	}
	RevealSearchMatched(category, stored->key_id);
}

/*
 * The term of a sealed value of a searchable column, read where its format
 * puts it without parsing the rest (a btree compares a search's term with
 * a dozen entries a lookup), or NULL for anything else: a pending value, a
 * value without a term, bytes that are not an envelope (the full parse
 * then says which, or what is wrong).
 */
static inline const uint8 *
stored_term(struct varlena *value)
{
	const uint8 *d = (const uint8 *) VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);
	int			catlen;
	int			searchlen;

	if (len < 11 || (d[0] != ENVELOPE_VERSION_TERM && d[0] != ENVELOPE_VERSION_BOUND))
		return NULL;
	catlen = d[10];
	searchlen = d[0] == ENVELOPE_VERSION_BOUND ? ENVELOPE_SEARCH_LEN : ENVELOPE_TERM_LEN;
	if (catlen < 1 || catlen > ENVELOPE_MAX_CATEGORY ||
		len < 11 + catlen + searchlen + ENVELOPE_NONCE_LEN + ENVELOPE_TAG_LEN ||
		(d[11 + catlen] & 0x80) != 0)
		return NULL;
	return d + 11 + catlen;
}

/* A total order on terms: bytes, then length (a term is ENVELOPE_TERM_LEN). */
static int
term_cmp(const uint8 *a, int alen, const uint8 *b, int blen)
{
	int			r = memcmp(a, b, Min(alen, blen));

	if (r != 0)
		return r < 0 ? -1 : 1;
	return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/*
 * How a comparison is called: the btree support function (by an index, a
 * sort or a merge join; from a query's expression only within an index's
 * scan), = and <>, or an ordering operator (<, <=, >, >=: only within an
 * index's scan).  The order of terms is meaningless, and a range of terms
 * would find a value's rows with no comparison ever equal: no search
 * check, no record.  So a query may compare encrypted values by = and <>
 * alone.
 */
typedef enum CompareUse
{
	COMPARE_SUPPORT,
	COMPARE_EQUALITY,
	COMPARE_ORDER
} CompareUse;

/*
 * Called from a query's expression (a function call, an operator, a row
 * comparison), rather than by an index, a sort or a merge join?  Those
 * call with no expression, or (an index's support function) with the
 * operator class's options as a Const.
 */
static inline bool
called_from_query(FunctionCallInfo fcinfo)
{
	return fcinfo->flinfo != NULL && fcinfo->flinfo->fn_expr != NULL &&
		!IsA(fcinfo->flinfo->fn_expr, Const);
}

/* Refuse an ordering comparison a query makes outside an index's scan. */
static void
refuse_query_order(FunctionCallInfo fcinfo, CompareUse use)
{
	if (SearchScanInIndex() || AuditPlanning())
		return;
	if (use == COMPARE_ORDER || (use == COMPARE_SUPPORT && called_from_query(fcinfo)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("encrypted values cannot be ordered in a query"),
				 errdetail("Their order is that of their search terms, which means nothing; a range of terms would search without a check or a record."),
				 errhint("Search with = or <>: WHERE col = 'value', or WHERE col = privacy_guard.blind_index(value, category)."),
				 errhidestmt(true)));
}

/*
 * A stored value found equal to another by a query's = or <> (a join, a
 * value of the caller's own): both must be values privacy_guard sealed, or
 * one made up around a chosen term would search the column unchecked.
 */
static void
require_authentic(struct varlena *value)
{
	EnvelopeView view;

	compared_view(value, &view);
	if (view.version != ENVELOPE_VERSION)
		return;
	switch (value_authenticity(&view))
	{
		case VALUE_FORGED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("an encrypted value a comparison found equal failed authentication"),
					 errdetail("Its key reference, category or search term was altered, or it was not sealed by privacy_guard."),
					 errhidestmt(true)));
			break;
		case VALUE_KEY_GONE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("an encrypted value a comparison found equal cannot be authenticated"),
					 errdetail("It carries no valid binding of its search term, and its data key does not exist (its subject was erased, or it was made up)."),
					 errhidestmt(true)));
			break;
		case VALUE_AUTHENTIC:
			break;
	}
}

/*
 * Compare two encrypted_text values by their terms.  One may be the
 * caller's plaintext for = and <>, and for the btree support function
 * within an index's scan (which a search by = uses); a search that matches
 * a stored value records the value's subject in the search's audit group.
 */
/*
 * The term of the plaintext an index's scan compares, kept for the rest of
 * that one call of the scan (SearchScanEpoch()): a btree compares the same
 * scan key with a dozen or more stored values on its way down, and no code
 * of the caller's runs between them.  Only its first comparison goes
 * through plaintext_term() (the statement's memo and its checks), and a
 * comparison that matches is made in full, as without it.
 */
#define SCAN_TERM_MAX 256		/* bytes of plaintext's pending envelope kept */
#define SCAN_TERM_UNKNOWN 2		/* not an answer of scan_term_cmp(): compare in full */

static struct
{
	uint64		epoch;			/* 0: nothing kept */
	int			len;
	uint8		pending[SCAN_TERM_MAX];
	uint8		term[ENVELOPE_TERM_LEN];
	int			catlen;			/* ... under the category of the value it was compared with */
	char		category[ENVELOPE_MAX_CATEGORY];
} scan_term;

static void
scan_term_keep(struct varlena *pending, const uint8 *term, const EnvelopeView *stored)
{
	int			len = VARSIZE_ANY_EXHDR(pending);

	scan_term.epoch = 0;
	if (!SearchScanInIndex() || len > SCAN_TERM_MAX || stored->catlen > ENVELOPE_MAX_CATEGORY)
		return;
	memcpy(scan_term.pending, VARDATA_ANY(pending), len);
	scan_term.len = len;
	memcpy(scan_term.term, term, ENVELOPE_TERM_LEN);
	scan_term.catlen = stored->catlen;
	memcpy(scan_term.category, stored->category, stored->catlen);
	scan_term.epoch = SearchScanEpoch();
}

/* a's order against b when one is the kept plaintext and the other a stored value not equal to it */
static int
scan_term_cmp(struct varlena *a, struct varlena *b)
{
	bool		a_kept;
	struct varlena *value;
	const uint8 *stored;
	int			r;

	if (scan_term.epoch == 0 || scan_term.epoch != SearchScanEpoch())
		return SCAN_TERM_UNKNOWN;
	a_kept = VARSIZE_ANY_EXHDR(a) == scan_term.len &&
		memcmp(VARDATA_ANY(a), scan_term.pending, scan_term.len) == 0;
	if (!a_kept && !(VARSIZE_ANY_EXHDR(b) == scan_term.len &&
					 memcmp(VARDATA_ANY(b), scan_term.pending, scan_term.len) == 0))
		return SCAN_TERM_UNKNOWN;
	value = a_kept ? b : a;
	stored = stored_term(value);
	/* (stored_term() found the category's length at byte 10, the category after it) */
	if (stored == NULL || ((const uint8 *) VARDATA_ANY(value))[10] != scan_term.catlen ||
		memcmp((const uint8 *) VARDATA_ANY(value) + 11, scan_term.category, scan_term.catlen) != 0)
		return SCAN_TERM_UNKNOWN;
	r = term_cmp(scan_term.term, ENVELOPE_TERM_LEN, stored, ENVELOPE_TERM_LEN);
	if (r == 0)
		return SCAN_TERM_UNKNOWN;
	return a_kept ? r : -r;
}

static int
encrypted_cmp_values(FunctionCallInfo fcinfo, struct varlena *ra, struct varlena *rb, CompareUse use)
{
	bool		plaintext = use == COMPARE_EQUALITY ||
		(use == COMPARE_SUPPORT && SearchScanInIndex());
	EnvelopeView a;
	EnvelopeView b;
	const uint8 *ta;
	const uint8 *tb;
	const EnvelopeView *stored = NULL;
	int			r;

	refuse_query_order(fcinfo, use);
	/* two stored values (a UNIQUE check, a join): their terms alone */
	if ((ta = stored_term(ra)) != NULL && (tb = stored_term(rb)) != NULL)
	{
		r = term_cmp(ta, ENVELOPE_TERM_LEN, tb, ENVELOPE_TERM_LEN);
		if (r == 0 && use == COMPARE_EQUALITY && called_from_query(fcinfo) &&
			!SearchScanInIndex() && !AuditPlanning())
		{
			require_authentic(ra);
			require_authentic(rb);
		}
		return r;
	}
	/* plaintext against a stored value, again within one call of an index's scan */
	if (plaintext && SearchScanInIndex() &&
		(r = scan_term_cmp(ra, rb)) != SCAN_TERM_UNKNOWN)
		return r;
	compared_view(ra, &a);
	compared_view(rb, &b);
	if (plaintext && a.version == ENVELOPE_PENDING && b.version != ENVELOPE_PENDING)
	{
		tb = view_term(&b);
		ta = plaintext_term(ra, &a, &b);
		stored = &b;
		scan_term_keep(ra, ta, &b);
	}
	else if (plaintext && b.version == ENVELOPE_PENDING && a.version != ENVELOPE_PENDING)
	{
		ta = view_term(&a);
		tb = plaintext_term(rb, &b, &a);
		stored = &a;
		scan_term_keep(rb, tb, &a);
	}
	else
	{
		ta = view_term(&a);
		tb = view_term(&b);
	}
	r = term_cmp(ta, ENVELOPE_TERM_LEN, tb, ENVELOPE_TERM_LEN);
	if (r == 0 && stored != NULL)
		search_matched(stored, NULL);	/* its plaintext's search was checked */
	return r;
}

static int
encrypted_cmp(FunctionCallInfo fcinfo, CompareUse use)
{
	return encrypted_cmp_values(fcinfo, PG_GETARG_VARLENA_PP(0), PG_GETARG_VARLENA_PP(1), use);
}

/*
 * An encrypted value against plaintext given as text (a parameter an
 * application typed text or varchar, which no implicit cast makes an
 * encrypted_text): the planner makes it the comparison with the plaintext
 * as an encrypted_text (encrypted_plain_support()), which an index scans.
 * Run as it is (an array's elements), the plaintext is made a pending
 * value once a call site and value, and compared as that comparison
 * would.
 */
typedef struct PlainArg
{
	text	   *plain;			/* the last plaintext, in fn_mcxt */
	struct varlena *pending;	/* ... as a pending value */
} PlainArg;

static int
encrypted_plain_cmp(FunctionCallInfo fcinfo, bool plain_first, CompareUse use)
{
	struct varlena *value = PG_GETARG_VARLENA_PP(plain_first ? 1 : 0);
	text	   *plain = PG_GETARG_TEXT_PP(plain_first ? 0 : 1);
	PlainArg   *memo = (PlainArg *) fcinfo->flinfo->fn_extra;

	if (memo == NULL)
		memo = fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PlainArg));
	if (memo->plain == NULL || VARSIZE_ANY_EXHDR(memo->plain) != VARSIZE_ANY_EXHDR(plain) ||
		memcmp(VARDATA_ANY(memo->plain), VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain)) != 0)
	{
		struct varlena *pending = (struct varlena *) DatumGetPointer(pending_from_value(PointerGetDatum(plain), ENV_TEXT));
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (memo->plain != NULL)
		{
			explicit_bzero(memo->plain, VARSIZE_ANY(memo->plain));
			pfree(memo->plain);
			pfree(memo->pending);
		}
		memo->plain = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(plain));
		memo->pending = (struct varlena *) PG_DETOAST_DATUM_COPY(PointerGetDatum(pending));
		MemoryContextSwitchTo(old);
	}
	return plain_first ? encrypted_cmp_values(fcinfo, memo->pending, value, use) :
		encrypted_cmp_values(fcinfo, value, memo->pending, use);
}

PG_FUNCTION_INFO_V1(pguard_encrypted_eq_plain);
Datum
pguard_encrypted_eq_plain(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(encrypted_plain_cmp(fcinfo, false, COMPARE_EQUALITY) == 0);
}

PG_FUNCTION_INFO_V1(pguard_encrypted_ne_plain);
Datum
pguard_encrypted_ne_plain(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(encrypted_plain_cmp(fcinfo, false, COMPARE_EQUALITY) != 0);
}

PG_FUNCTION_INFO_V1(pguard_encrypted_eq_plain_first);
Datum
pguard_encrypted_eq_plain_first(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(encrypted_plain_cmp(fcinfo, true, COMPARE_EQUALITY) == 0);
}

PG_FUNCTION_INFO_V1(pguard_encrypted_ne_plain_first);
Datum
pguard_encrypted_ne_plain_first(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(encrypted_plain_cmp(fcinfo, true, COMPARE_EQUALITY) != 0);
}

PG_FUNCTION_INFO_V1(pguard_encrypted_plain_support);

/*
 * The planner support of the comparisons above: col = text_expr becomes
 * col = privacy_guard.encrypted_text(text_expr) (and <> likewise), the
 * comparison of an encrypted value with plaintext that indexes of the
 * column answer, checked and recorded as a search.
 */
Datum
pguard_encrypted_plain_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	FuncExpr   *call;
	char	   *fname;
	bool		negated;
	bool		plain_first;
	Oid			enc;
	Oid			opno;
	Oid			cast;
	Node	   *plain;
	Node	   *value;
	char	   *nsp;
	Oid			argtype = TEXTOID;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	call = req->fcall;
	if (list_length(call->args) != 2)
		PG_RETURN_POINTER(NULL);
	fname = get_func_name(call->funcid);
	if (fname == NULL || strncmp(fname, "encrypted_", 10) != 0)
		PG_RETURN_POINTER(NULL);
	negated = strncmp(fname, "encrypted_ne_", 13) == 0;
	plain_first = strstr(fname, "_first") != NULL;
	nsp = get_namespace_name(CatalogSchemaOid());
	enc = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("encrypted_text"),
						  ObjectIdGetDatum(CatalogSchemaOid()));
	opno = OpernameGetOprid(list_make2(makeString(nsp), makeString(negated ? "<>" : "=")), enc, enc);
	cast = LookupFuncName(list_make2(makeString(nsp), makeString("encrypted_text")), 1, &argtype, true);
	if (!OidIsValid(enc) || !OidIsValid(opno) || !OidIsValid(cast))
		PG_RETURN_POINTER(NULL);
	plain = (Node *) (plain_first ? linitial(call->args) : lsecond(call->args));
	value = (Node *) (plain_first ? lsecond(call->args) : linitial(call->args));
	if (exprType(plain) != TEXTOID)		/* varchar: text's binary form */
		plain = (Node *) makeRelabelType((Expr *) plain, TEXTOID, -1, DEFAULT_COLLATION_OID, COERCE_IMPLICIT_CAST);
	plain = (Node *) makeFuncExpr(cast, enc, list_make1(plain), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	{
		OpExpr	   *op = (OpExpr *) make_opclause(opno, BOOLOID, false,
												  (Expr *) (plain_first ? plain : value),
												  (Expr *) (plain_first ? value : plain),
												  InvalidOid, InvalidOid);

		op->opfuncid = get_opcode(opno);
		op->location = call->location;
		PG_RETURN_POINTER(op);
	}
}

/* an encrypted value against a search term (bytea), either way round */
static int
encrypted_term_cmp(FunctionCallInfo fcinfo, bool term_first, CompareUse use)
{
	EnvelopeView view;
	struct varlena *value = PG_GETARG_VARLENA_PP(term_first ? 1 : 0);
	const uint8 *a = stored_term(value);
	bytea	   *t = PG_GETARG_BYTEA_PP(term_first ? 0 : 1);
	int			r;

	refuse_query_order(fcinfo, use);
	if (a == NULL)
	{
		compared_view(value, &view);
		a = view_term(&view);
	}
	r = term_cmp(a, ENVELOPE_TERM_LEN, (const uint8 *) VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	if (r == 0 && !SearchScanInIndex() && !AuditPlanning())
	{
		/* a match names its subject: the whole value, parsed */
		compared_view(value, &view);
		search_matched(&view, view_term(&view));
	}
	return term_first ? -r : r;
}

#define ENCRYPTED_COMPARISONS(suffix, expr) \
PG_FUNCTION_INFO_V1(pguard_encrypted_cmp##suffix); \
Datum pguard_encrypted_cmp##suffix(PG_FUNCTION_ARGS) \
{ PG_RETURN_INT32(expr(COMPARE_SUPPORT)); } \
PG_FUNCTION_INFO_V1(pguard_encrypted_eq##suffix); \
Datum pguard_encrypted_eq##suffix(PG_FUNCTION_ARGS) \
{ PG_RETURN_BOOL(expr(COMPARE_EQUALITY) == 0); } \
PG_FUNCTION_INFO_V1(pguard_encrypted_ne##suffix); \
Datum pguard_encrypted_ne##suffix(PG_FUNCTION_ARGS) \
{ PG_RETURN_BOOL(expr(COMPARE_EQUALITY) != 0); } \
PG_FUNCTION_INFO_V1(pguard_encrypted_lt##suffix); \
Datum pguard_encrypted_lt##suffix(PG_FUNCTION_ARGS) \
{ PG_RETURN_BOOL(expr(COMPARE_ORDER) < 0); } \
PG_FUNCTION_INFO_V1(pguard_encrypted_le##suffix); \
Datum pguard_encrypted_le##suffix(PG_FUNCTION_ARGS) \
{ PG_RETURN_BOOL(expr(COMPARE_ORDER) <= 0); } \
PG_FUNCTION_INFO_V1(pguard_encrypted_gt##suffix); \
Datum pguard_encrypted_gt##suffix(PG_FUNCTION_ARGS) \
{ PG_RETURN_BOOL(expr(COMPARE_ORDER) > 0); } \
PG_FUNCTION_INFO_V1(pguard_encrypted_ge##suffix); \
Datum pguard_encrypted_ge##suffix(PG_FUNCTION_ARGS) \
{ PG_RETURN_BOOL(expr(COMPARE_ORDER) >= 0); }

/* encrypted_text against encrypted_text, against bytea, and bytea against it */
#define CMP_VALUES(use) encrypted_cmp(fcinfo, use)
#define CMP_TERM(use) encrypted_term_cmp(fcinfo, false, use)
#define CMP_TERM_FIRST(use) encrypted_term_cmp(fcinfo, true, use)
ENCRYPTED_COMPARISONS(, CMP_VALUES)
ENCRYPTED_COMPARISONS(_term, CMP_TERM)
ENCRYPTED_COMPARISONS(_term_first, CMP_TERM_FIRST)

/*
 * ANALYZE of an encrypted column: the fraction of nulls and the average
 * width only.  The default operator class compares search terms, which
 * values of columns that are not searchable do not carry; and statistics
 * of values (most common values, histograms) would copy envelopes into
 * pg_statistic for nothing.
 */
static void
compute_encrypted_stats(VacAttrStatsP stats, AnalyzeAttrFetchFunc fetchfunc,
						int samplerows, double totalrows)
{
	int			nulls = 0;
	double		width = 0;

	for (int i = 0; i < samplerows; i++)
	{
		bool		isnull;
		Datum		value = fetchfunc(stats, i, &isnull);

		vacuum_delay_point();
		if (isnull)
			nulls++;
		else
			width += VARSIZE_ANY(DatumGetPointer(value));
	}
	stats->stats_valid = true;
	stats->stanullfrac = samplerows > 0 ? (double) nulls / samplerows : 0;
	stats->stawidth = samplerows > nulls ? (int) (width / (samplerows - nulls)) : 0;
	stats->stadistinct = 0.0;	/* unknown */
}

PG_FUNCTION_INFO_V1(pguard_encrypted_typanalyze);

Datum
pguard_encrypted_typanalyze(PG_FUNCTION_ARGS)
{
	VacAttrStats *stats = (VacAttrStats *) PG_GETARG_POINTER(0);

	if (stats->attr->attstattarget < 0)
		stats->attr->attstattarget = default_statistics_target;
	stats->compute_stats = compute_encrypted_stats;
	stats->minrows = 300 * stats->attr->attstattarget;
	PG_RETURN_BOOL(true);
}

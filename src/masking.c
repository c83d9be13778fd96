/*-------------------------------------------------------------------------
 * src/masking.c
 *	  Masking rules: what a purpose allowed only "masked" sees.
 *
 * Each rule returns a value of the plaintext's own type:
 *
 *	  redact   text: "****"; other types: NULL
 *	  email    "j***@example.com": first character of the local part, domain
 *	  phone    every digit but the last four replaced by '*'
 *	  name     first character of each word, then "***"
 *	  address  "***, " and the last comma-separated part (city, postcode)
 *	  card     every digit but the last four replaced by '*'
 *	  year     dates: January 1st of the same year
 *	  round    numbers: rounded to the nearest ten
 *
 * A text rule applied to jsonb masks every string value in the document and
 * replaces object keys, which can be personal data too, by key1, key2...;
 * the shape stays.  Numbers are rounded under "round" and nulled under
 * every other rule.  A rule that does not fit the type redacts.  Rules
 * work on characters, not bytes, in any server encoding.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "masking.h"
#include "types.h"

static const char *const rule_names[] = {
	"redact", "email", "phone", "name", "address", "card", "year", "round", NULL
};

int
MaskingRuleByName(const char *name)
{
	for (int i = 0; rule_names[i] != NULL; i++)
		if (strcmp(rule_names[i], name) == 0)
			return i;
	return MASK_REDACT;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Replace all digits but the last keep with '*'; other characters stay. */
static void
mask_digits(StringInfo out, const char *s, int len, int keep, int min_digits)
{
	int			ndigits = 0;
	int			seen = 0;

	for (int i = 0; i < len; i++)
		if (is_digit(s[i]))
			ndigits++;
	if (ndigits < min_digits)
	{
		appendStringInfoString(out, "****");
		return;
	}
	for (int i = 0; i < len; i++)
	{
		if (is_digit(s[i]))
			appendStringInfoChar(out, (++seen > ndigits - keep) ? s[i] : '*');
		else
			appendStringInfoChar(out, s[i]);
	}
}

/* Mask text by rule into out. */
static void
mask_text(StringInfo out, int rule, const char *s, int len)
{
	switch (rule)
	{
		case MASK_EMAIL:
			{
				const char *at = memchr(s, '@', len);

				if (at == NULL || at == s)
					break;
				appendBinaryStringInfo(out, s, Min(pg_mblen(s), at - s));
				appendStringInfoString(out, "***");
				appendBinaryStringInfo(out, at, s + len - at);
				return;
			}
		case MASK_PHONE:
			mask_digits(out, s, len, 4, 7);
			return;
		case MASK_CARD:
			mask_digits(out, s, len, 4, 12);
			return;
		case MASK_NAME:
			{
				bool		word_start = true;
				int			i = 0;

				while (i < len)
				{
					int			l = pg_mblen(s + i);

					if (s[i] == ' ' || s[i] == '-')
					{
						appendStringInfoChar(out, s[i]);
						word_start = true;
					}
					else if (word_start)
					{
						appendBinaryStringInfo(out, s + i, Min(l, len - i));
						appendStringInfoString(out, "***");
						word_start = false;
					}
					i += l;
				}
				if (out->len == 0)
					appendStringInfoString(out, "****");
				return;
			}
		case MASK_ADDRESS:
			{
				const char *comma = NULL;

				for (const char *p = s; p < s + len; p++)
					if (*p == ',')
						comma = p;
				if (comma == NULL)
					break;
				comma++;
				while (comma < s + len && *comma == ' ')
					comma++;
				appendStringInfoString(out, "***, ");
				appendBinaryStringInfo(out, comma, s + len - comma);
				return;
			}
		default:
			break;
	}
	appendStringInfoString(out, "****");
}

/* Mask every string and number of a jsonb document, keeping its shape. */
static Jsonb *
mask_jsonb(Jsonb *in, int rule)
{
	JsonbIterator *it = JsonbIteratorInit(&in->root);
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;

	int			nkeys = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			/* keys can be personal data too ({"Ada Lovelace": ...}): number them */
			char	   *k = psprintf("key%d", ++nkeys);

			v.val.string.val = k;
			v.val.string.len = strlen(k);
		}
		else if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type != jbvBinary)
		{
			if (v.type == jbvString)
			{
				StringInfoData buf;

				initStringInfo(&buf);
				mask_text(&buf, rule, v.val.string.val, v.val.string.len);
				v.val.string.val = buf.data;
				v.val.string.len = buf.len;
			}
			else if (v.type == jbvNumeric && rule == MASK_ROUND)
				v.val.numeric = DatumGetNumeric(DirectFunctionCall2(numeric_round,
																	NumericGetDatum(v.val.numeric),
																	Int32GetDatum(-1)));
			else if (v.type != jbvNull)
				v.type = jbvNull;
		}
		/* values and the array opener (which carries the raw-scalar flag) */
		res = pushJsonbValue(&state, tok,
							 (tok < WJB_BEGIN_ARRAY || tok == WJB_BEGIN_ARRAY) ? &v : NULL);
	}
	return JsonbValueToJsonb(res);
}

/* The masked value of a plaintext under a rule; *isnull set for NULL. */
Datum
MaskingApply(EnvelopeType type, int rule, const uint8 *plain, int len, bool *isnull)
{
	*isnull = false;
	switch (type)
	{
		case ENV_TEXT:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				mask_text(&buf, rule, (const char *) plain, len);
				return PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
			}
		case ENV_JSONB:
			{
				Datum		j = TypesFromPlain(ENV_JSONB, plain, len);

				return PointerGetDatum(mask_jsonb(DatumGetJsonbP(j), rule));
			}
		case ENV_DATE:
			if (rule == MASK_YEAR)
			{
				DateADT		d = DatumGetDateADT(TypesFromPlain(ENV_DATE, plain, len));
				int			year,
							month,
							day;

				if (DATE_NOT_FINITE(d))
					return DateADTGetDatum(d);
				j2date(d + POSTGRES_EPOCH_JDATE, &year, &month, &day);
				return DateADTGetDatum(date2j(year, 1, 1) - POSTGRES_EPOCH_JDATE);
			}
			break;
		case ENV_NUMERIC:
			if (rule == MASK_ROUND)
				return DirectFunctionCall2(numeric_round,
										   TypesFromPlain(ENV_NUMERIC, plain, len),
										   Int32GetDatum(-1));
			break;
		case ENV_BYTEA:
			break;
	}
	*isnull = true;
	return (Datum) 0;
}

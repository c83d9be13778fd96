/*-------------------------------------------------------------------------
 * src/discover.c
 *	  Personal-data discovery: what a stored value looks like, what a
 *	  column's name suggests, and the audit records of scan().
 *
 * classify_value() says whether one whole value is an e-mail address, a
 * phone number, a payment card number or an IBAN.  scan(), in PL/pgSQL,
 * samples the caller's tables with it and reports a column only when most
 * sampled values agree, so a classifier mistake on one value in a thousand
 * costs nothing.  What costs is a shape that many ordinary values share:
 * order totals, dates, times, SKUs, postcodes, UUIDs, IP addresses,
 * version strings, plain integers and ids are refused on purpose (the
 * rules are spelled out above each scanner).  Values are read by small
 * hand-written scanners in one pass, no regular expressions; a value too
 * long to be any of the four is refused before it is detoasted.
 *
 * name_suggests() reads a column's name as words (split at '_' and other
 * punctuation, at digits and at camelCase humps) and matches them against
 * a vocabulary: whole words, not substrings, so "race" is not found in
 * "trace_id" nor "dob" in "adobe".  Special categories (the kinds of data
 * the shop's policy never collects) come first; personal ones are dropped
 * when the name describes something about the data rather than the data
 * ("email_verified_at", "has_phone", "address_id").  The labels are a
 * stable set, documented in the README; special_categories() lists the
 * special ones.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "audit.h"
#include "discover.h"

/* Longer values are none of the four (an e-mail address has at most 254 bytes). */
#define CLASSIFY_MAX_LEN 300

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline char
ascii_upper(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

static inline char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/*
 * Payment cards.  13 to 19 digits, alone or in groups of 3 to 8 digits
 * joined by single spaces or single dashes (one kind), whose issuer prefix
 * and length belong to a card scheme, and which pass the Luhn check.  The
 * prefix table is what keeps ids out: a random 16-digit number passes Luhn
 * one time in ten, and also has a card prefix and length only about a third
 * of the time; 15-digit IMEIs (which use Luhn) have none.  Lengths no
 * longer issued (13-digit Visa, 12 to 15-digit Maestro) are left out: they
 * are phone numbers written without separators more often than cards.
 */
#define LEN(n)		(UINT32_C(1) << (n))
#define LENS(a, b)	((LEN((b) + 1) - 1) & ~(LEN(a) - 1))

typedef struct CardRange
{
	int			lo;				/* first prefix of the range */
	int			hi;				/* last prefix of the range */
	int			digits;			/* digits in lo and hi */
	uint32		lengths;		/* bit n: n digits long */
} CardRange;

static const CardRange card_ranges[] = {
	{4, 4, 1, LEN(16) | LEN(19)},	/* Visa */
	{51, 55, 2, LEN(16)},		/* Mastercard */
	{2221, 2720, 4, LEN(16)},	/* Mastercard */
	{2200, 2204, 4, LENS(16, 19)},	/* Mir */
	{34, 34, 2, LEN(15)},		/* American Express */
	{37, 37, 2, LEN(15)},		/* American Express */
	{300, 305, 3, LENS(14, 19)},	/* Diners Club */
	{3095, 3095, 4, LENS(14, 19)},	/* Diners Club */
	{36, 36, 2, LENS(14, 19)},	/* Diners Club */
	{38, 39, 2, LENS(16, 19)},	/* Diners Club */
	{3528, 3589, 4, LENS(16, 19)},	/* JCB */
	{50, 50, 2, LENS(16, 19)},	/* Maestro, Verve, RuPay */
	{56, 58, 2, LENS(16, 19)},	/* Maestro */
	{60, 69, 2, LENS(16, 19)},	/* Discover, UnionPay, Maestro, RuPay */
	{81, 82, 2, LENS(16, 19)},	/* UnionPay, RuPay */
	{9792, 9792, 4, LEN(16)},	/* Troy */
};

static bool
luhn_valid(const char *digits, int n)
{
	int			sum = 0;

	for (int i = 0; i < n; i++)
	{
		int			v = digits[n - 1 - i] - '0';

		if (i % 2 == 1)
		{
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

static bool
is_card(const char *s, int len)
{
	char		digits[19];
	int			n = 0;
	int			group = 0;
	char		sep = '\0';
	bool		known = false;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (is_digit(c))
		{
			if (n == (int) sizeof(digits))
				return false;
			digits[n++] = c;
			group++;
		}
		else if (c == ' ' || c == '-')
		{
			if (group < 3 || group > 8 || (sep != '\0' && c != sep))
				return false;
			sep = c;
			group = 0;
		}
		else
			return false;
	}
	if (n < 13 || group == 0 || (sep != '\0' && (group < 3 || group > 8)))
		return false;
	for (int r = 0; r < lengthof(card_ranges) && !known; r++)
	{
		const CardRange *cr = &card_ranges[r];
		int			prefix = 0;

		for (int i = 0; i < cr->digits; i++)
			prefix = prefix * 10 + (digits[i] - '0');
		known = prefix >= cr->lo && prefix <= cr->hi && (cr->lengths & LEN(n)) != 0;
	}
	return known && luhn_valid(digits, n);
}

/*
 * IBANs.  A country code with an IBAN, two check digits (02 to 98) and the
 * rest letters or digits, the whole as long as that country's IBANs
 * (SWIFT's registry), passing ISO 7064 mod 97-10 (the value, its first
 * four characters moved to the end and letters read as 10 to 35, is 1
 * modulo 97).  Single spaces may separate characters; letters in either
 * case.
 */
static const char iban_lengths[] =
"AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27"
"DK18DO28EE20EG29ES24FI18FK18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22"
"IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20LV21LY25MC27MD24ME22MK19"
"MN20MR27MT31MU30NI28NL18NO15OM23PK24PL28PS29PT25QA29RO24RS22RU33SA24SC31"
"SD18SE24SI19SK24SM27SO23ST25SV28TL23TN24TR26UA29VA22VG24XK20YE30";

static int
iban_length(char c1, char c2)
{
	for (const char *p = iban_lengths; *p; p += 4)
		if (p[0] == c1 && p[1] == c2)
			return (p[2] - '0') * 10 + (p[3] - '0');
	return 0;
}

static bool
is_iban(const char *s, int len)
{
	char		c[34];
	int			n = 0;
	int			check;
	int			rem = 0;

	for (int i = 0; i < len; i++)
	{
		unsigned char ch = s[i];

		if (ch == ' ')
		{
			if (i == 0 || s[i - 1] == ' ')
				return false;
			continue;
		}
		if (!is_digit(ch) && !is_alpha(ch))
			return false;
		if (n == (int) sizeof(c))
			return false;
		c[n++] = ascii_upper(ch);
	}
	if (n < 15 || !is_alpha(c[0]) || !is_alpha(c[1]) || !is_digit(c[2]) || !is_digit(c[3]))
		return false;
	if (iban_length(c[0], c[1]) != n)
		return false;
	check = (c[2] - '0') * 10 + (c[3] - '0');
	if (check < 2 || check > 98)
		return false;
	for (int k = 0; k < n; k++)
	{
		char		ch = c[(k + 4) % n];

		if (is_digit(ch))
			rem = (rem * 10 + (ch - '0')) % 97;
		else
			rem = (rem * 100 + (ch - 'A' + 10)) % 97;
	}
	return rem == 1;
}

/*
 * E-mail addresses.  local@domain: a local part of 1 to 64 characters
 * (letters, digits and !#$%&'*+/=?^_`{|}~-, dots not first, last or
 * doubled), a domain of two or more dot-separated labels of 1 to 63
 * letters, digits or dashes (not first or last), whose last label is at
 * least two letters or an xn-- label; at most 254 bytes.  Non-ASCII
 * characters (internationalised addresses) count as letters where the
 * server encoding makes them unambiguous (UTF-8, single-byte encodings).
 * Quoted local parts and address literals are not recognised.
 */
static bool
is_email(const char *s, int len)
{
	const char *at = NULL;
	bool		high_ok;
	int			llen;
	const char *d;
	int			dlen;
	int			labels = 0;
	int			label = 0;
	int			label_start = 0;
	bool		label_letters = true;

	if (len > 254)
		return false;
	for (int i = 0; i < len; i++)
		if (s[i] == '@')
		{
			if (at != NULL)
				return false;
			at = s + i;
		}
	if (at == NULL)
		return false;
	high_ok = GetDatabaseEncoding() == PG_UTF8 || pg_database_encoding_max_length() == 1;

	llen = at - s;
	if (llen < 1 || llen > 64 || s[0] == '.' || s[llen - 1] == '.')
		return false;
	for (int i = 0; i < llen; i++)
	{
		unsigned char c = s[i];

		if (c >= 0x80)
		{
			if (!high_ok)
				return false;
		}
		else if (c == '.')
		{
			if (s[i - 1] == '.')
				return false;
		}
		else if (!is_digit(c) && !is_alpha(c) && strchr("!#$%&'*+/=?^_`{|}~-", c) == NULL)
			return false;
	}

	d = at + 1;
	dlen = len - llen - 1;
	if (dlen < 4)
		return false;
	for (int i = 0; i <= dlen; i++)
	{
		unsigned char c = (i < dlen) ? d[i] : '.';

		if (c == '.')
		{
			if (label == 0 || label > 63 || d[i - 1] == '-' || d[label_start] == '-')
				return false;
			labels++;
			if (i == dlen)
			{
				/* the top-level domain: letters, or an IDNA label */
				bool		idna = label > 4 && pg_strncasecmp(d + label_start, "xn--", 4) == 0;

				if (label < 2 || (!label_letters && !idna))
					return false;
			}
			label = 0;
			label_start = i + 1;
			label_letters = true;
			continue;
		}
		if (c >= 0x80)
		{
			if (!high_ok)
				return false;
		}
		else if (is_digit(c) || c == '-')
			label_letters = false;
		else if (!is_alpha(c))
			return false;
		label++;
	}
	return labels >= 2;
}

/*
 * Phone numbers.  7 to 15 digits in groups, with at most one pair of
 * parentheses around one group of 1 to 5 digits, joined by spaces and at
 * most one of - . / per junction, starting with a digit, '+' or '(' and
 * ending with a digit.  A leading '+' (not followed by 0) makes it
 * international: any grouping, one group included.  Otherwise the number
 * must look like a national format, and these shapes are refused:
 *	  - a single group: plain integers, ids, EANs, compact dates;
 *	  - two groups unless parenthesised or a trunk prefix of 2 to 5 digits
 *		beginning with 0 followed by 5 or more digits ("030 1234567"): so not
 *		ZIP+4 and other postcodes, ranges, decimals;
 *	  - a group of one digit after the first: ISBNs, version strings;
 *	  - dates (yyyy-mm-dd, dd.mm.yyyy, mm/dd/yyyy), 123-45-6789 (a US SSN);
 *	  - amounts with space separated thousands ("1 234 567").
 * Dotted numbers are phones only as three or more groups of 2 or more
 * digits joined by dots alone ("555.123.4567"), neither an IPv4 address
 * nor thousands ("12.345.678"), nor a decimal ("1234567.89").  Letters
 * (extensions, vanity numbers) and colons (times) are refused.
 */
#define PHONE_MAX_GROUPS 8

static bool
is_phone(const char *s, int len)
{
	int			groups[PHONE_MAX_GROUPS];
	char		joins[PHONE_MAX_GROUPS];	/* what precedes each group */
	int			ng = 0;
	int			cur = 0;
	int			ndigits = 0;
	bool		plus = false;
	bool		parens = false;
	bool		in_paren = false;
	int			paren_group = 0;
	char		pending = '\0'; /* the - . / of the current junction */
	bool		pending_paren = false;
	int			pending_len = 0;
	bool		dots = false;
	int			i = 0;

	if (len > 40)
		return false;
	if (s[0] == '+')
	{
		plus = true;
		i = 1;
		if (len < 2 || !is_digit(s[1]) || s[1] == '0')
			return false;
	}
	else if (!is_digit(s[0]) && s[0] != '(')
		return false;
	if (!is_digit(s[len - 1]))
		return false;

	for (; i < len; i++)
	{
		unsigned char c = s[i];

		if (is_digit(c))
		{
			if (cur == 0)
			{
				if (ng == PHONE_MAX_GROUPS)
					return false;
				joins[ng] = pending_paren ? '(' : (pending ? pending : ' ');
				pending = '\0';
				pending_paren = false;
				pending_len = 0;
			}
			cur++;
			if (++ndigits > 15)
				return false;
			continue;
		}
		if (cur > 0)
		{
			groups[ng++] = cur;
			cur = 0;
		}
		if (c == '(')
		{
			if (parens)
				return false;
			parens = in_paren = true;
			paren_group = ng;
			pending_paren = true;
		}
		else if (c == ')')
		{
			/* right after the one group inside */
			if (!in_paren || !is_digit(s[i - 1]) || ng != paren_group + 1 ||
				groups[ng - 1] > 5)
				return false;
			in_paren = false;
			pending_paren = true;
		}
		else if (c == '-' || c == '.' || c == '/')
		{
			if (pending != '\0' || in_paren)
				return false;
			pending = c;
			if (c == '.')
				dots = true;
		}
		else if (c != ' ')
			return false;
		if (++pending_len > 3)
			return false;
	}
	if (in_paren)
		return false;
	groups[ng++] = cur;

	if (ndigits < 7 || (ng < 2 && !plus))
		return false;

	if (dots)
	{
		bool		short_groups = true;
		bool		thousands = groups[0] <= 3;

		if (parens || ng < 3)
			return false;
		for (int g = 0; g < ng; g++)
		{
			if (g > 0 && joins[g] != '.')
				return false;
			if (groups[g] < 2 && !(plus && g == 0))
				return false;
			if (groups[g] > 3)
				short_groups = false;
			if (g > 0 && groups[g] != 3)
				thousands = false;
		}
		if ((ng == 4 && short_groups) || (thousands && !plus))
			return false;
	}
	if (plus)
		return true;

	/* national formats */
	for (int g = 1; g < ng; g++)
		if (groups[g] == 1)
			return false;
	if (ng == 2 && !parens &&
		(s[0] != '0' || groups[0] < 2 || groups[0] > 5 || groups[1] < 5))
		return false;
	if (ng == 3 && joins[1] == joins[2] &&
		(joins[1] == '-' || joins[1] == '.' || joins[1] == '/') &&
		((groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2) ||
		 (groups[0] <= 2 && groups[1] <= 2 && groups[2] == 4)))
		return false;
	if (ng == 3 && joins[1] == '-' && joins[2] == '-' &&
		groups[0] == 3 && groups[1] == 2 && groups[2] == 4)
		return false;
	if (s[0] != '0' && groups[0] <= 2)
	{
		bool		thousands = true;

		for (int g = 1; g < ng && thousands; g++)
			thousands = joins[g] == ' ' && groups[g] == 3;
		if (thousands)
			return false;
	}
	return true;
}

/*
 * The category one value's whole text looks like: "email", "phone",
 * "card", "iban", or NULL.  Surrounding white space is ignored.
 */
const char *
DiscoverClassifyValue(const char *s, int len)
{
	while (len > 0 && is_space(s[0]))
	{
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0 || len > CLASSIFY_MAX_LEN)
		return NULL;
	if (memchr(s, '@', len) != NULL)
		return is_email(s, len) ? "email" : NULL;
	if (is_digit(s[0]))
	{
		if (is_card(s, len))
			return "card";
		return is_phone(s, len) ? "phone" : NULL;
	}
	if (s[0] == '+' || s[0] == '(')
		return is_phone(s, len) ? "phone" : NULL;
	if (is_alpha(s[0]))
		return is_iban(s, len) ? "iban" : NULL;
	return NULL;
}

PG_FUNCTION_INFO_V1(pguard_classify_value);

/* classify_value(value text) -> text: see DiscoverClassifyValue. */
Datum
pguard_classify_value(PG_FUNCTION_ARGS)
{
	Datum		d = PG_GETARG_DATUM(0);
	text	   *t;
	const char *label;

	/* a long value is none of them: do not detoast it to find out */
	if (toast_raw_datum_size(d) > VARHDRSZ + CLASSIFY_MAX_LEN + 64)
		PG_RETURN_NULL();
	t = DatumGetTextPP(d);
	label = DiscoverClassifyValue(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	if (label == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(label));
}

/*
 * Column names.  A rule is a sequence of words that must appear one after
 * the other in the name; a word of the rule is a list of alternatives
 * separated by '|', and an alternative ending in '*' matches any word that
 * begins with it.  not_before: no match right after one of these words;
 * not_after: no match right before one of these.  whole: the rule's words
 * must be the whole name.  First matching rule wins: special categories
 * are listed first.
 */
typedef struct NameRule
{
	const char *label;
	const char *words;
	const char *not_before;
	const char *not_after;
	bool		whole;
} NameRule;

static const NameRule name_rules[] = {
	/* special categories */
	{"health", "diagnosis|diagnoses|diagnosed|illness*|disease*|symptom*|pregnan*"},
	{"health", "medical|medication*|healthcare|allergy|allergies|allergic|disability|disabilities"},
	{"health", "hiv|bmi|vaccination*|vaccinated|bloodtype|bloodgroup"},
	{"health", "health", NULL, "check|checks|checked|checker|probe|probes|endpoint|url"},
	{"health", "prescription*", NULL, "required|only"},
	{"health", "blood type|types|group|groups|pressure|sugar|test|tests"},
	{"health", "heart rate"},
	{"health", "sick leave|note|notes|days"},
	{"religion", "religio*|faith|faiths|belief|beliefs"},
	{"ethnicity", "ethnic*|racial"},
	{"ethnicity", "race", NULL, "condition|conditions|track|tracks|car|cars|result|results|distance|time|times|number"},
	{"political_opinion", "politic*"},
	{"political_opinion", "party affiliation*|membership*|member|members|preference*"},
	{"political_opinion", "voting intention*"},
	{"sexual_orientation", "sexual*"},
	{"sexual_orientation", "sex life"},
	{"sexual_orientation", "gender identity"},
	{"biometric", "biometric*|faceprint*|voiceprint*|palmprint*|facial*"},
	{"biometric", "retina|retinal|retinas", NULL, "display|displays|screen|screens|resolution"},
	{"biometric", "fingerprint|fingerprints",
	"key|keys|ssh|gpg|pgp|tls|ssl|cert|certificate|device|browser|public|host|server|client|sha|md|api|file|hash|content|token|schema|config"},
	{"biometric", "finger print|prints"},
	{"biometric", "face id|template|templates|encoding|encodings|embedding|embeddings|scan|scans|geometry|recognition|vector|print|signature"},
	{"biometric", "iris scan|scans|template|templates|code|image|images|pattern|data"},
	{"biometric", "voice print|template|sample|samples|signature"},
	{"biometric", "palm print|vein|veins"},
	{"biometric", "hand geometry"},
	{"genetic", "genetic*|genom*|genotype*|dna"},
	{"trade_union", "trade union*"},
	{"trade_union", "tradeunion*|unionized|unionised"},
	{"trade_union", "union member|members|membership|memberships|dues|affiliation"},
	{"trade_union", "labor|labour union*"},
	{"national_id", "ssn|ssns|nino|aadhaar|taxid|nationalid*|socialsecurity*|passport*"},
	{"national_id", "social security"},
	{"national_id", "national id|ids|identity|identification|insurance|number"},
	{"national_id", "tax id|ids|number|identification|ident"},
	{"national_id", "taxpayer id|number"},
	{"national_id", "id card|cards"},
	{"national_id", "identity card|cards|number|document|documents"},
	{"national_id", "driver|drivers|driving license|licence|licenses|licences"},
	{"criminal_record", "criminal*|conviction*"},

	/* personal */
	{"email", "email*"},
	{"email", "e mail|mails"},
	{"email", "mail address|addresses|addr|adr"},
	{"email", "mail", NULL, NULL, true},
	{"phone", "phone|phones|phonenumber|phonenumbers|phoneno|phonenr|telephone*|tel|cellphone*|fax|msisdn"},
	{"phone", "mobile|cell number|numbers|no|nr|num|phone"},
	{"address", "address|addresses|addr|adr",
	"ip|ipv|mac|email|mail|e|web|url|wallet|server|host|remote|local|bitcoin|btc|eth|contract|memory|mem|base|bind|listen|proxy|network|net|gateway|node|peer|hardware|physical|virtual|multicast|broadcast"},
	{"address", "street|streets|streetname|streetaddress|postcode|postcodes|zipcode|zipcodes|housenumber"},
	{"address", "zip", NULL, "file|files|archive|archives|path|url|size"},
	{"address", "postal code|codes|zone"},
	{"address", "house number|no|nr"},
	{"birth", "birth*|dob|dateofbirth|born"},
	{"identity", "firstname*|lastname*|fullname*|surname*|givenname*|familyname*|forename*|maidenname*|middlename*"},
	{"identity", "first|last|full|given|family|middle|maiden|sur|fore|customer|contact|recipient|holder|cardholder|billing|shipping|legal|real|display|person name|names"},
	{"payment", "iban|ibans|ccnum|ccnumber|creditcard*|debitcard*|cardnumber*|cvv|cvc"},
	{"payment", "credit|debit card|cards"},
	{"payment", "card number|numbers|no|nr|num|pan"},
	{"payment", "cc number|num|no|nr|cvv|cvc|exp|expiry"},
	{"payment", "bank account*"},
	{"payment", "bankaccount*"},
};

/* Labels of the special categories; the rest are personal. */
static const char *const special_labels[] = {
	"health", "religion", "ethnicity", "political_opinion", "sexual_orientation",
	"biometric", "genetic", "trade_union", "national_id", "criminal_record", NULL
};

/*
 * A personal category is not suggested by a name that ends with one of
 * these words (it describes the data: "email_verified_at", "address_id")
 * or begins with one of those (a flag or a count: "has_phone").
 */
static const char *const meta_last =
"at|on|time|timestamp|ts|verified|verification|confirmed|validated|valid|invalid|"
"sent|count|cnt|counter|flag|enabled|disabled|status|state|type|kind|opt|optin|optout|"
"in|out|consent|consents|consented|template|templates|format|pattern|regex|id|ids|uuid|"
"key|fk|changed|updated|created|modified|deleted|bounced|bounce|bounces|visible|"
"visibility|public|private|required|mask|masked|domain|provider|subscribed|"
"notification|notifications|preference|preferences|length|len|limit|max|min";
static const char *const meta_first =
"is|has|have|can|should|allow|allows|use|uses|show|send|needs|requires|require|num|n|"
"count|total|max|min";

#define NAME_MAX_WORDS NAMEDATALEN

/* Does word match one '|'-separated alternative of alts (of length altslen)? */
static bool
word_in(const char *alts, int altslen, const char *word)
{
	const char *p = alts;
	const char *end = alts + altslen;
	int			wlen = strlen(word);

	while (p < end)
	{
		const char *bar = memchr(p, '|', end - p);
		int			alen = (bar ? bar : end) - p;

		if (alen > 0 && p[alen - 1] == '*')
		{
			if (wlen >= alen - 1 && strncmp(word, p, alen - 1) == 0)
				return true;
		}
		else if (alen == wlen && strncmp(word, p, alen) == 0)
			return true;
		p += alen + 1;
	}
	return false;
}

static bool
word_in_list(const char *list, const char *word)
{
	return list != NULL && word_in(list, strlen(list), word);
}

/* Does rule match words[at..]?  Returns how many words it took, or 0. */
static int
rule_matches_at(const NameRule *rule, char **words, int nwords, int at)
{
	const char *p = rule->words;
	int			k = at;

	while (*p)
	{
		const char *sp = strchr(p, ' ');
		int			plen = sp ? sp - p : strlen(p);

		if (k >= nwords || !word_in(p, plen, words[k]))
			return 0;
		k++;
		p += plen;
		if (*p == ' ')
			p++;
	}
	if (rule->whole && (at != 0 || k != nwords))
		return 0;
	if (at > 0 && word_in_list(rule->not_before, words[at - 1]))
		return 0;
	if (k < nwords && word_in_list(rule->not_after, words[k]))
		return 0;
	return k - at;
}

/*
 * Split a name into lower-case words at anything that is not a letter
 * (digits included) and at camelCase humps: "dateOfBirth" is date, of,
 * birth; "SSNNumber" is ssn, number.  Bytes beyond ASCII are letters.
 */
static int
split_name(const char *name, char *buf, char **words)
{
	int			len = strlen(name);
	int			n = 0;
	char	   *out = buf;

	for (int i = 0; i < len;)
	{
		unsigned char c = name[i];

		if (!is_alpha(c) && c < 0x80)
		{
			i++;
			continue;
		}
		words[n++] = out;
		*out++ = ascii_lower(c);
		for (i++; i < len; i++)
		{
			unsigned char prev = name[i - 1];
			unsigned char cur = name[i];
			unsigned char next = (i + 1 < len) ? name[i + 1] : '\0';

			if (!is_alpha(cur) && cur < 0x80)
				break;
			/* a hump: aB, or the B of ABc */
			if (cur >= 'A' && cur <= 'Z' &&
				((prev >= 'a' && prev <= 'z') ||
				 (prev >= 'A' && prev <= 'Z' && next >= 'a' && next <= 'z')))
				break;
			*out++ = ascii_lower(cur);
		}
		*out++ = '\0';
	}
	return n;
}

static bool
label_is_special(const char *label)
{
	for (int i = 0; special_labels[i] != NULL; i++)
		if (strcmp(special_labels[i], label) == 0)
			return true;
	return false;
}

/* Is the label one of the special categories the policy never collects? */
bool
DiscoverLabelIsSpecial(const char *label)
{
	return label_is_special(label);
}

/* Is the label one that scan() reports: a value's or a name's? */
static bool
label_is_known(const char *label)
{
	static const char *const value_labels[] = {"email", "phone", "card", "iban", NULL};

	for (int i = 0; value_labels[i] != NULL; i++)
		if (strcmp(value_labels[i], label) == 0)
			return true;
	for (int r = 0; r < lengthof(name_rules); r++)
		if (strcmp(name_rules[r].label, label) == 0)
			return true;
	return false;
}

/* The category a column's name suggests, or NULL. */
const char *
DiscoverNameSuggests(const char *name)
{
	char		buf[NAMEDATALEN * 2];
	char	   *words[NAME_MAX_WORDS];
	int			n;

	if (strlen(name) >= NAMEDATALEN)
		return NULL;
	n = split_name(name, buf, words);
	if (n == 0)
		return NULL;
	for (int r = 0; r < lengthof(name_rules); r++)
	{
		const NameRule *rule = &name_rules[r];

		for (int at = 0; at < n; at++)
		{
			if (rule_matches_at(rule, words, n, at) == 0)
				continue;
			if (!label_is_special(rule->label) &&
				(word_in_list(meta_last, words[n - 1]) || word_in_list(meta_first, words[0])))
				return NULL;
			return rule->label;
		}
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(pguard_name_suggests);

/* name_suggests(col name) -> text: see DiscoverNameSuggests. */
Datum
pguard_name_suggests(PG_FUNCTION_ARGS)
{
	const char *label = DiscoverNameSuggests(NameStr(*PG_GETARG_NAME(0)));

	if (label == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(label));
}

PG_FUNCTION_INFO_V1(pguard_scan_audit_finding);

/*
 * scan_audit_finding(tbl, col, suspected, hits, sampled, protected): the
 * audit record of one finding of scan(), as the calling role.  Names and
 * counts only, never a value.  scan() runs with its caller's rights, so
 * anyone may call this; it records only findings about a column the caller
 * may read, and the record names who made it.
 */
Datum
pguard_scan_audit_finding(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *col;
	AttrNumber	attnum;
	char	   *nsp;
	char	   *rel;
	char	   *detail;
	char	   *label;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(5))
		elog(ERROR, "scan_audit_finding() needs a table, a column, a category and protected");
	relid = PG_GETARG_OID(0);
	col = NameStr(*PG_GETARG_NAME(1));
	rel = get_rel_name(relid);
	attnum = get_attnum(relid, col);
	if (rel == NULL || attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation with OID %u does not exist", col, relid)));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(relid, attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for column \"%s\" of relation \"%s\"", col, rel)));
	/* what scan() can find, nothing else: the trail is no notepad */
	label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!label_is_known(label))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown category label for a scan finding")));
	if (PG_ARGISNULL(3) != PG_ARGISNULL(4) ||
		(!PG_ARGISNULL(3) && (PG_GETARG_INT32(3) < 1 || PG_GETARG_INT32(4) < PG_GETARG_INT32(3))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a scan finding needs 1 <= hits <= sampled, or neither")));
	nsp = get_namespace_name(get_rel_namespace(relid));
	if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
		detail = pstrdup("by column name");
	else
		detail = psprintf("by value: %d of %d sampled values", PG_GETARG_INT32(3), PG_GETARG_INT32(4));
	AuditRecordColumn("scan_finding", label,
					  quote_qualified_identifier(nsp, rel), col,
					  PG_GETARG_BOOL(5) ? "protected" : "unprotected", detail);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pguard_scan_audit);

/*
 * scan_audit(sample_rows, tables, skipped, findings, unprotected): the audit
 * record that closes a scan().
 */
Datum
pguard_scan_audit(PG_FUNCTION_ARGS)
{
	char	   *detail;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i) || PG_GETARG_INT32(i) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("scan_audit() needs every count, none negative")));
	detail = psprintf("sample_rows %d: %d tables sampled, %d not readable or skipped, %d findings, %d unprotected",
					  PG_GETARG_INT32(0), PG_GETARG_INT32(1), PG_GETARG_INT32(2),
					  PG_GETARG_INT32(3), PG_GETARG_INT32(4));
	AuditRecordColumn("scan", NULL, NULL, NULL, "completed", detail);
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 * src/envelope.c
 *	  The AEAD byte format of a sealed value, and of a value not yet sealed.
 *
 * A sealed value ("envelope") is AES-256-GCM under its subject's data key:
 *
 *	  version (1) | type (1) | key id (8, big-endian) | category length (1)
 *	  | category | nonce (12) | ciphertext | tag (16)
 *
 * A value of a searchable column carries its search term in the header
 * (version 3 instead of 1): after the category, the id of the category's
 * index key (8, big-endian) and the first 16 bytes of the HMAC-SHA-256 of
 * the plaintext under that key.  Equal plaintexts of a category have equal
 * terms, which is what indexes, UNIQUE constraints and searches compare.
 * Since 0.3 (version 4) the term is followed by its binding: the first 16
 * bytes of HMAC-SHA-256, under a key derived from the same index key, of
 * the data key id, the category and the term.  A search that matches a
 * value names its subject; the binding lets it check, without the
 * subject's data key, that the value's key id and term were sealed
 * together by the write path (a version 3 value is checked by opening it).
 *
 * Everything before the nonce is authenticated, and so is the SHA-256
 * digest of the subject, so an envelope copied to another category, type or
 * subject fails to open.  Nonces are fresh from the CSPRNG for every seal
 * (EnvelopeRandom).
 *
 * A value an application writes as plaintext is held until the write path
 * seals it in a "pending" envelope: the same cipher under a random key that
 * exists only in this backend's memory.  Should a pending value ever reach a
 * file (a sort spilling to disk, a table nobody protected), it is noise once
 * the backend exits; it cannot be printed, revealed or stored in a
 * protected column.
 *
 *	  0 | type (1) | session id (8) | nonce (12) | ciphertext | tag (16)
 *
 * Cipher contexts live for the transaction: keys are set only when they
 * change between rows, and the contexts are reset (which wipes the key
 * schedule) at transaction end.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "aesgcm.h"
#include "envelope.h"

#define PENDING_HEADER_LEN 10
#define ENVELOPE_STACK_WIPE (64 * 1024)	/* bytes of dead stack wiped after values were opened */

typedef enum CipherImplementation
{
	CIPHER_AUTO,				/* aesgcm.c's schedules where the CPU serves */
	CIPHER_OPENSSL				/* OpenSSL for everything */
} CipherImplementation;

static const struct config_enum_entry cipher_options[] = {
	{"auto", CIPHER_AUTO, false},
	{"openssl", CIPHER_OPENSSL, false},
	{NULL, 0, false}
};

static int	cipher_implementation = CIPHER_AUTO;
static bool opened_on_stack = false;	/* round keys or keystream may be left on the dead stack */

static EVP_CIPHER *gcm = NULL;
static EVP_CIPHER_CTX *cipher_ctx[2] = {NULL, NULL};	/* decrypt, encrypt */
static const uint8 *ctx_key[2] = {NULL, NULL};	/* key each context holds */

/* this backend's key for pending values, and its schedule */
static uint8 session_key[ENVELOPE_KEY_LEN];
static EnvelopeSchedule session_schedule;
static uint8 session_id[8];
static int	session_pid = 0;

static uint8 *schedule_bytes(const EnvelopeSchedule *schedule);

static const char *const type_names[] = {
	NULL, "encrypted_text", "encrypted_jsonb", "encrypted_date",
	"encrypted_numeric", "encrypted_bytea"
};

const char *
EnvelopeTypeName(int type)
{
	if (type < 1 || type > ENV_TYPE_MAX)
		return "unknown";
	return type_names[type];
}

/*
 * Fill buf with random bytes from OpenSSL's CSPRNG.  Small requests (a
 * nonce, a data key) are served from a pool this process draws 4 kB at a
 * time: one RAND_bytes() call costs ~0.5 µs in OpenSSL 3, a write of a new
 * subject needed four.  Bytes leave the pool once and are wiped there as
 * they leave.  A process forked from one that filled the pool (however it
 * forks: a backend, or a plain fork() that another library makes) empties
 * its copy at once, in a pthread_atfork() handler, and draws its own.
 */
#define RANDOM_POOL_LEN 4096
static uint8 random_pool[RANDOM_POOL_LEN];
static int	random_pool_left = 0;
static int	random_pool_pid = 0;

static void
random_pool_forked(void)
{
	OPENSSL_cleanse(random_pool, sizeof(random_pool));
	random_pool_left = 0;
	random_pool_pid = 0;
}

void
EnvelopeRandom(uint8 *buf, int len)
{
	uint8	   *from;

	if (len > RANDOM_POOL_LEN / 8)
	{
		if (RAND_bytes(buf, len) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes")));
		return;
	}
	if (random_pool_pid == 0)
	{
		static bool fork_handler = false;

		if (!fork_handler && pthread_atfork(NULL, NULL, random_pool_forked) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not register a fork handler for the random pool")));
		fork_handler = true;
	}
	if (random_pool_pid != MyProcPid || random_pool_left < len)
	{
		random_pool_left = 0;
		if (RAND_bytes(random_pool, RANDOM_POOL_LEN) != 1)
		{
			OPENSSL_cleanse(random_pool, RANDOM_POOL_LEN);
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes")));
		}
		random_pool_left = RANDOM_POOL_LEN;
		random_pool_pid = MyProcPid;
	}
	from = random_pool + RANDOM_POOL_LEN - random_pool_left;
	memcpy(buf, from, len);
	OPENSSL_cleanse(from, len);
	random_pool_left -= len;
}

/* Wipe key schedules held by the cipher contexts. */
void
EnvelopeForgetKeys(void)
{
	for (int i = 0; i < 2; i++)
	{
		if (cipher_ctx[i] != NULL)
			EVP_CIPHER_CTX_free(cipher_ctx[i]);
		cipher_ctx[i] = NULL;
		ctx_key[i] = NULL;
	}
}

/* A key at this address is about to be wiped or reused: stop trusting it. */
void
EnvelopeKeyGone(const uint8 *key)
{
	for (int i = 0; i < 2; i++)
		if (ctx_key[i] == key)
			ctx_key[i] = NULL;
}

static void
envelope_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		EnvelopeForgetKeys();

		/*
		 * Opening a value may leave keystream or the associated data the
		 * compiler spilled on the stack: the dead stack the transaction's
		 * statements used, below this frame, is wiped.
		 */
		if (opened_on_stack)
		{
			sodium_stackzero(ENVELOPE_STACK_WIPE);
			opened_on_stack = false;
		}
	}
}

static void
envelope_exit(int code, Datum arg)
{
	EnvelopeForgetKeys();
	OPENSSL_cleanse(session_key, sizeof(session_key));
	EnvelopeScheduleWipe(&session_schedule);
	OPENSSL_cleanse(random_pool, sizeof(random_pool));
	random_pool_left = 0;
}

/*
 * One AES-256-GCM operation.  The key is set only when it differs (by
 * address) from the one the context already holds, so callers pass stable
 * addresses: a key cache entry, the session key.  Returns false when
 * decryption fails authentication; out is then wiped.
 */
bool
EnvelopeAead(bool encrypt, const uint8 *key,
			 const uint8 *nonce, const uint8 *aad1, int aad1len,
			 const uint8 *aad2, int aad2len,
			 const uint8 *in, int inlen, uint8 *out, uint8 *tag)
{
	int			dir = encrypt ? 1 : 0;
	EVP_CIPHER_CTX *ctx;
	int			outl = 0;
	int			finl = 0;
	bool		ok = true;
	uint8		aad[160];

	if (gcm == NULL)
	{
		gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
		if (gcm == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("OpenSSL does not provide AES-256-GCM")));
	}
	if (cipher_ctx[dir] == NULL)
	{
		cipher_ctx[dir] = EVP_CIPHER_CTX_new();
		if (cipher_ctx[dir] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		if (EVP_CipherInit_ex(cipher_ctx[dir], gcm, NULL, NULL, NULL, dir) != 1)
		{
			EVP_CIPHER_CTX_free(cipher_ctx[dir]);
			cipher_ctx[dir] = NULL;
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not initialise AES-256-GCM")));
		}
		ctx_key[dir] = NULL;
	}
	ctx = cipher_ctx[dir];

	if (EVP_CipherInit_ex(ctx, NULL, NULL,
						  ctx_key[dir] == key ? NULL : key, nonce, dir) != 1)
	{
		ctx_key[dir] = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not set AES-256-GCM key")));
	}
	ctx_key[dir] = key;

	/* one AAD update is measurably cheaper than two (OpenSSL 3 dispatch) */
	if (aad1len > 0 && aad2len > 0 && aad1len + aad2len <= (int) sizeof(aad))
	{
		memcpy(aad, aad1, aad1len);
		memcpy(aad + aad1len, aad2, aad2len);
		if (EVP_CipherUpdate(ctx, NULL, &outl, aad, aad1len + aad2len) != 1)
			ok = false;
	}
	else if ((aad1len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, aad1, aad1len) != 1) ||
			 (aad2len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, aad2, aad2len) != 1))
		ok = false;
	if (ok && inlen > 0 && EVP_CipherUpdate(ctx, out, &outl, in, inlen) != 1)
		ok = false;
	if (ok && !encrypt &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ENVELOPE_TAG_LEN, (void *) tag) != 1)
		ok = false;
	if (ok && EVP_CipherFinal_ex(ctx, out + outl, &finl) != 1)
		ok = false;
	if (ok && encrypt &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ENVELOPE_TAG_LEN, tag) != 1)
		ok = false;

	if (!ok)
	{
		if (inlen > 0)
			OPENSSL_cleanse(out, inlen);
		if (encrypt)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("AES-256-GCM encryption failed")));
	}
	return ok;
}

/*
 * One AES-256-GCM operation under a key whose schedule is expanded, with
 * aesgcm.c; OpenSSL (EnvelopeAead) where it is not, or for
 * privacy_guard.cipher = openssl.  Decryption that fails authentication
 * writes nothing and returns false.
 */
static bool
aead_scheduled(bool encrypt, const uint8 *key, const EnvelopeSchedule *schedule,
			   const uint8 *nonce, const uint8 *aad1, int aad1len,
			   const uint8 *aad2, int aad2len,
			   const uint8 *in, int inlen, uint8 *out, const uint8 *tag)
{
	uint8		ad[256];

	if (schedule == NULL || !schedule->set || cipher_implementation != CIPHER_AUTO ||
		aad1len + aad2len > (int) sizeof(ad))
		return EnvelopeAead(encrypt, key, nonce, aad1, aad1len, aad2, aad2len,
							in, inlen, out, (uint8 *) tag);
	if (aad1len > 0)
		memcpy(ad, aad1, aad1len);
	if (aad2len > 0)
		memcpy(ad + aad1len, aad2, aad2len);
	/* the keystream and the associated data may be left on the stack */
	opened_on_stack = true;
	if (encrypt)
	{
		AesGcmSeal(schedule_bytes(schedule), nonce, ad, aad1len + aad2len,
				   in, inlen, out, (uint8 *) tag);
		return true;
	}
	return AesGcmOpen(schedule_bytes(schedule), nonce, ad, aad1len + aad2len,
					  in, inlen, tag, out);
}

/*
 * Check the structure of an envelope and point view into it.  Returns NULL
 * when well-formed, else a short reason that quotes nothing of the value.
 */
const char *
EnvelopeParse(const uint8 *data, int len, EnvelopeView *view)
{
	int			pos;

	memset(view, 0, sizeof(*view));
	if (len < 2)
		return "it is truncated";
	view->version = data[0];
	view->type = data[1];
	if (view->type < 1 || view->type > ENV_TYPE_MAX)
		return "its type byte is unknown";
	view->header = data;
	if (view->version == ENVELOPE_PENDING)
	{
		if (len < PENDING_HEADER_LEN + ENVELOPE_NONCE_LEN + ENVELOPE_TAG_LEN)
			return "it is truncated";
		pos = PENDING_HEADER_LEN;
	}
	else if (view->version == ENVELOPE_PENDING_BOUND)
	{
		/* a pending value, as far as anything but the write path is concerned */
		view->version = ENVELOPE_PENDING;
		if (len < PENDING_HEADER_LEN + 1)
			return "it is truncated";
		view->catlen = data[PENDING_HEADER_LEN];
		if (view->catlen < 1 || view->catlen > ENVELOPE_MAX_CATEGORY)
			return "its category length is invalid";
		if (len < PENDING_HEADER_LEN + 1 + view->catlen + ENVELOPE_NONCE_LEN + ENVELOPE_TAG_LEN)
			return "it is truncated";
		view->category = (const char *) data + PENDING_HEADER_LEN + 1;
		pos = PENDING_HEADER_LEN + 1 + view->catlen;
		/* then 0, or 1 and the digest of the subject it was written for */
		if (len < pos + 1 + ENVELOPE_NONCE_LEN + ENVELOPE_TAG_LEN)
			return "it is truncated";
		if (data[pos] == 1)
		{
			if (len < pos + 1 + ENVELOPE_DIGEST_LEN + ENVELOPE_NONCE_LEN + ENVELOPE_TAG_LEN)
				return "it is truncated";
			view->subject_digest = data + pos + 1;
			pos += 1 + ENVELOPE_DIGEST_LEN;
		}
		else if (data[pos] == 0)
			pos += 1;
		else
			return "its subject flag is invalid";
	}
	else if (view->version == ENVELOPE_VERSION || view->version == ENVELOPE_VERSION_TERM ||
			 view->version == ENVELOPE_VERSION_BOUND)
	{
		uint64		id = 0;

		if (len < 11)
			return "it is truncated";
		for (int i = 0; i < 8; i++)
			id = (id << 8) | data[2 + i];
		view->key_id = (int64) id;
		if (view->key_id <= 0)
			return "its key reference is invalid";
		view->catlen = data[10];
		if (view->catlen < 1 || view->catlen > ENVELOPE_MAX_CATEGORY)
			return "its category length is invalid";
		if (len < 11 + view->catlen + ENVELOPE_NONCE_LEN + ENVELOPE_TAG_LEN)
			return "it is truncated";
		view->category = (const char *) data + 11;
		for (int i = 0; i < view->catlen; i++)
		{
			char		c = view->category[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
				return "its category name is invalid";
		}
		pos = 11 + view->catlen;
		if (view->version != ENVELOPE_VERSION)
		{
			int			searchlen = view->version == ENVELOPE_VERSION_BOUND ?
				ENVELOPE_SEARCH_LEN : ENVELOPE_TERM_LEN;

			/* sealed, as far as anything but comparisons is concerned */
			if (len < pos + searchlen + ENVELOPE_NONCE_LEN + ENVELOPE_TAG_LEN)
				return "it is truncated";
			if (data[pos] & 0x80)
				return "its search term's key reference is invalid";
			view->term = data + pos;
			if (view->version == ENVELOPE_VERSION_BOUND)
				view->bind = data + pos + ENVELOPE_TERM_LEN;
			view->version = ENVELOPE_VERSION;
			pos += searchlen;
		}
	}
	else
		return "its format version is not supported";

	view->headerlen = pos;
	view->nonce = data + pos;
	view->ct = data + pos + ENVELOPE_NONCE_LEN;
	view->ctlen = len - pos - ENVELOPE_NONCE_LEN - ENVELOPE_TAG_LEN;
	view->tag = data + len - ENVELOPE_TAG_LEN;
	return NULL;
}

bool
EnvelopeCategoryIs(const EnvelopeView *view, const char *category)
{
	return view->catlen == (int) strlen(category) &&
		memcmp(view->category, category, view->catlen) == 0;
}

/*
 * Seal plaintext under a subject's data key, with its search term and the
 * term's binding when search is not NULL (ENVELOPE_SEARCH_LEN bytes);
 * returns a new varlena.
 */
struct varlena *
EnvelopeSeal(EnvelopeType type, int64 key_id, const char *category,
			 const uint8 *subject_digest, const uint8 *dek,
			 const EnvelopeSchedule *schedule, const uint8 *search,
			 const uint8 *plain, int plainlen)
{
	int			catlen = strlen(category);
	int			headerlen = 11 + catlen + (search ? ENVELOPE_SEARCH_LEN : 0);
	int			total = headerlen + ENVELOPE_NONCE_LEN + plainlen + ENVELOPE_TAG_LEN;
	struct varlena *result;
	uint8	   *p;

	Assert(catlen >= 1 && catlen <= ENVELOPE_MAX_CATEGORY);
	result = (struct varlena *) palloc(VARHDRSZ + total);
	SET_VARSIZE(result, VARHDRSZ + total);
	p = (uint8 *) VARDATA(result);
	p[0] = search ? ENVELOPE_VERSION_BOUND : ENVELOPE_VERSION;
	p[1] = (uint8) type;
	for (int i = 0; i < 8; i++)
		p[2 + i] = (uint8) ((uint64) key_id >> (56 - 8 * i));
	p[10] = (uint8) catlen;
	memcpy(p + 11, category, catlen);
	if (search)
		memcpy(p + 11 + catlen, search, ENVELOPE_SEARCH_LEN);
	EnvelopeRandom(p + headerlen, ENVELOPE_NONCE_LEN);
	aead_scheduled(true, dek, schedule, p + headerlen,
				   p, headerlen, subject_digest, ENVELOPE_DIGEST_LEN,
				   plain, plainlen,
				   p + headerlen + ENVELOPE_NONCE_LEN,
				   p + total - ENVELOPE_TAG_LEN);
	return result;
}

/* Open a sealed envelope into out (view->ctlen bytes); false if forged. */
bool
EnvelopeOpen(const EnvelopeView *view, const uint8 *dek,
			 const uint8 *subject_digest, uint8 *out)
{
	Assert(view->version == ENVELOPE_VERSION);
	return EnvelopeAead(false, dek, view->nonce,
						view->header, view->headerlen,
						subject_digest, ENVELOPE_DIGEST_LEN,
						view->ct, view->ctlen, out, (uint8 *) view->tag);
}

static void
session_key_ensure(void)
{
	if (session_pid != MyProcPid)
	{
		EnvelopeRandom(session_key, sizeof(session_key));
		EnvelopeRandom(session_id, sizeof(session_id));
		EnvelopeScheduleSet(&session_schedule, session_key);
		session_pid = MyProcPid;
		on_proc_exit(envelope_exit, (Datum) 0);
	}
}

static uint8 *
schedule_bytes(const EnvelopeSchedule *schedule)
{
	return (uint8 *) TYPEALIGN(16, schedule->bytes);
}

/*
 * Expand dek's schedule into schedule where the CPU has AES-NI and
 * PCLMULQDQ; otherwise leave it unset (opening then goes through OpenSSL).
 */
void
EnvelopeScheduleSet(EnvelopeSchedule *schedule, const uint8 *dek)
{
	schedule->set = false;
	if (cipher_implementation != CIPHER_AUTO || !AesGcmAvailable())
		return;
	AesGcmExpand(schedule_bytes(schedule), dek);
	schedule->set = true;
}

void
EnvelopeScheduleWipe(EnvelopeSchedule *schedule)
{
	sodium_memzero(schedule->bytes, sizeof(schedule->bytes));
	schedule->set = false;
}

/*
 * EnvelopeOpen() with dek's expanded schedule when it has one: the header
 * and the subject's digest are the associated data, as sealing made them.
 */
bool
EnvelopeOpenScheduled(const EnvelopeView *view, const uint8 *dek,
					  const EnvelopeSchedule *schedule,
					  const uint8 *subject_digest, uint8 *out)
{
	Assert(view->version == ENVELOPE_VERSION);
	return aead_scheduled(false, dek, schedule, view->nonce,
						  view->header, view->headerlen,
						  subject_digest, ENVELOPE_DIGEST_LEN,
						  view->ct, view->ctlen, out, view->tag);
}

/*
 * A pending value: header version, type and session id, then tail (the
 * binding, if any), all authenticated; plaintext under the session key.
 */
static struct varlena *
pending_envelope(uint8 version, uint8 type, const uint8 *tail, int taillen,
				 const uint8 *plain, int plainlen)
{
	int			headerlen = PENDING_HEADER_LEN + taillen;
	int			total = headerlen + ENVELOPE_NONCE_LEN + plainlen + ENVELOPE_TAG_LEN;
	struct varlena *result;
	uint8	   *p;

	session_key_ensure();
	result = (struct varlena *) palloc(VARHDRSZ + total);
	SET_VARSIZE(result, VARHDRSZ + total);
	p = (uint8 *) VARDATA(result);
	p[0] = version;
	p[1] = type;
	memcpy(p + 2, session_id, sizeof(session_id));
	if (taillen > 0)
		memcpy(p + PENDING_HEADER_LEN, tail, taillen);
	EnvelopeRandom(p + headerlen, ENVELOPE_NONCE_LEN);
	aead_scheduled(true, session_key, &session_schedule, p + headerlen,
				   p, headerlen, NULL, 0,
				   plain, plainlen,
				   p + headerlen + ENVELOPE_NONCE_LEN,
				   p + total - ENVELOPE_TAG_LEN);
	return result;
}

/* Hold plaintext under this backend's session key until it is sealed. */
struct varlena *
EnvelopePending(EnvelopeType type, const uint8 *plain, int plainlen)
{
	return pending_envelope(ENVELOPE_PENDING, (uint8) type, NULL, 0, plain, plainlen);
}

/*
 * Recover the plaintext of a pending value made by this backend, in a new
 * palloc'd buffer of view->ctlen bytes (plus one, zeroed, for convenience).
 */
uint8 *
EnvelopePendingOpen(const EnvelopeView *view)
{
	uint8	   *out;

	Assert(view->version == ENVELOPE_PENDING);
	session_key_ensure();
	if (memcmp(view->header + 2, session_id, sizeof(session_id)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsealed %s value was not made by this session",
						EnvelopeTypeName(view->type)),
				 errhint("Plaintext is sealed only when it is written to a protected column.")));
	out = palloc(view->ctlen + 1);
	if (!aead_scheduled(false, session_key, &session_schedule, view->nonce,
						view->header, view->headerlen, NULL, 0,
						view->ct, view->ctlen, out, view->tag))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("unsealed %s value failed authentication",
						EnvelopeTypeName(view->type))));
	out[view->ctlen] = '\0';
	return out;
}

/*
 * A pending value made by this backend, bound to the category of the
 * column it was written to and, when the row has one yet, to the digest of
 * the row's subject: the sealing trigger seals it into a column of that
 * category, in a row of that subject, only.  Both are part of the
 * authenticated header.
 */
struct varlena *
EnvelopePendingBind(const EnvelopeView *view, const char *category, const uint8 *subject_digest)
{
	int			catlen = strlen(category);
	uint8		tail[1 + ENVELOPE_MAX_CATEGORY + 1 + ENVELOPE_DIGEST_LEN];
	int			taillen = 0;
	uint8	   *plain = EnvelopePendingOpen(view);
	struct varlena *result;

	Assert(catlen >= 1 && catlen <= ENVELOPE_MAX_CATEGORY);
	tail[taillen++] = (uint8) catlen;
	memcpy(tail + taillen, category, catlen);
	taillen += catlen;
	tail[taillen++] = subject_digest ? 1 : 0;
	if (subject_digest)
	{
		memcpy(tail + taillen, subject_digest, ENVELOPE_DIGEST_LEN);
		taillen += ENVELOPE_DIGEST_LEN;
	}
	result = pending_envelope(ENVELOPE_PENDING_BOUND, view->type, tail, taillen, plain, view->ctlen);
	OPENSSL_cleanse(plain, view->ctlen);
	pfree(plain);
	return result;
}

void
EnvelopeInit(void)
{
	RegisterXactCallback(envelope_xact_callback, NULL);
	DefineCustomEnumVariable("privacy_guard.cipher",
							 "Which AES-256-GCM implementation opens values under cached keys.",
							 "auto: each cached key's schedule expanded once and values opened with AES-NI and PCLMULQDQ, where the CPU has them, else OpenSSL; openssl: OpenSSL for everything. The bytes are the same.",
							 &cipher_implementation, CIPHER_AUTO, cipher_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

/*-------------------------------------------------------------------------
 * test/fuzz/fuzz_envelope.c
 *	  libFuzzer harness for the envelope parser (src/envelope.c), built
 *	  outside the server: EnvelopeParse() takes bytes from a table or a
 *	  client, so it must never read outside them, and what it accepts must
 *	  describe the bytes exactly.  The text form's base64 decoding is
 *	  exercised on the same input.  An accepted sealed value is opened by
 *	  the three AES-GCM implementations (OpenSSL; libsodium with the key's
 *	  schedule expanded; src/aesgcm.c with its own): they must agree on
 *	  whether it opens, and on what.
 *-------------------------------------------------------------------------
 */
#include "../../src/aesgcm.c"
#include "../../src/envelope.c"

#include "common/base64.h"

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

static bool initialised = false;

/*
 * The key's schedule for aesgcm.c, and libsodium's state for the same key:
 * a third implementation to agree with, where the CPU has AES-NI.
 */
static EnvelopeSchedule schedule;
static crypto_aead_aes256gcm_state *sodium_state = NULL;

static void
expand_schedules(const uint8 *dek)
{
	EnvelopeScheduleSet(&schedule, dek);
	if (sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1)
	{
		sodium_state = aligned_alloc(16, sizeof(*sodium_state));
		crypto_aead_aes256gcm_beforenm(sodium_state, dek);
		/* a CPU with AES-NI has PCLMULQDQ: aesgcm.c must be in use, its self-test passed */
		if (!schedule.set)
			__builtin_trap();
	}
}

/* Open view with each implementation: OpenSSL's answer, or a trap if another differs. */
static bool
open_all(const EnvelopeView *view, const uint8 *dek, const uint8 *digest, uint8 *out)
{
	uint8	   *other = malloc(view->ctlen + 1);
	bool		ok = EnvelopeOpen(view, dek, digest, out);

	if (schedule.set)
	{
		memset(other, 0, view->ctlen + 1);
		if (EnvelopeOpenScheduled(view, dek, &schedule, digest, other) != ok ||
			(ok && memcmp(out, other, view->ctlen) != 0))
			__builtin_trap();
	}
	if (sodium_state != NULL)
	{
		uint8		ad[256];
		int			adlen = view->headerlen + ENVELOPE_DIGEST_LEN;

		if (adlen <= (int) sizeof(ad))
		{
			memcpy(ad, view->header, view->headerlen);
			memcpy(ad + view->headerlen, digest, ENVELOPE_DIGEST_LEN);
			if ((crypto_aead_aes256gcm_decrypt_detached_afternm(other, NULL, view->ct, view->ctlen,
																view->tag, ad, adlen, view->nonce,
																sodium_state) == 0) != ok ||
				(ok && memcmp(out, other, view->ctlen) != 0))
				__builtin_trap();
		}
	}
	free(other);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	EnvelopeView view;
	const char *why;
	uint8	   *copy;
	int			len = (int) Min(size, 1 << 20);

	/* a copy of exactly len bytes: ASan flags any read past it */
	copy = malloc(len > 0 ? len : 1);
	memcpy(copy, data, len);
	if (!initialised)
	{
		static const uint8 dek[ENVELOPE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

		EnvelopeInit();
		expand_schedules(dek);
		initialised = true;
	}
	why = EnvelopeParse(copy, len, &view);
	if (why == NULL)
	{
		/* accepted: the parts tile the value, in order, inside it */
		if (view.headerlen < 2 || view.ctlen < 0 ||
			view.headerlen + ENVELOPE_NONCE_LEN + view.ctlen + ENVELOPE_TAG_LEN != len ||
			view.nonce != copy + view.headerlen ||
			view.ct != view.nonce + ENVELOPE_NONCE_LEN ||
			view.tag != copy + len - ENVELOPE_TAG_LEN ||
			view.type < 1 || view.type > ENV_TYPE_MAX ||
			(view.catlen > 0 && (view.category < (const char *) copy ||
								 view.category + view.catlen > (const char *) copy + view.headerlen)))
			__builtin_trap();
		if (view.version == ENVELOPE_VERSION && view.key_id <= 0)
			__builtin_trap();
		/* every byte readable: touch them */
		for (int i = 0; i < view.ctlen; i++)
			((volatile const uint8 *) view.ct)[i];
		if (view.catlen > 0)
			(void) EnvelopeCategoryIs(&view, "contact");
		if (view.version == ENVELOPE_VERSION)
		{
			static const uint8 dek[ENVELOPE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
			static const uint8 digest[ENVELOPE_DIGEST_LEN] = {9, 8, 7};
			uint8	   *a = malloc(view.ctlen + 1);

			(void) open_all(&view, dek, digest, a);
			free(a);
		}
	}

	/*
	 * The input as a plaintext, sealed here by hand (OpenSSL): every
	 * implementation opens it to the same bytes, and refuses it with one
	 * bit flipped, wherever the input puts that bit (open_all() requires
	 * the others to agree with OpenSSL).
	 */
	if (len >= 1 && len <= 4096 && initialised)
	{
		static const uint8 dek[ENVELOPE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
		static const uint8 digest[ENVELOPE_DIGEST_LEN] = {9, 8, 7};
		int			headerlen = 11 + 7;
		int			total = headerlen + ENVELOPE_NONCE_LEN + len + ENVELOPE_TAG_LEN;
		uint8	   *env = malloc(total);
		uint8	   *a = malloc(len);
		EnvelopeView v;
		int			bit = copy[0] % (total * 8);

		env[0] = ENVELOPE_VERSION;
		env[1] = ENV_BYTEA;
		memset(env + 2, 0, 7);
		env[9] = 42;			/* key id 42 */
		env[10] = 7;
		memcpy(env + 11, "contact", 7);
		memset(env + headerlen, 0x5a, ENVELOPE_NONCE_LEN);
		EnvelopeAead(true, dek, env + headerlen, env, headerlen, digest, ENVELOPE_DIGEST_LEN,
					 copy, len, env + headerlen + ENVELOPE_NONCE_LEN, env + total - ENVELOPE_TAG_LEN);
		if (EnvelopeParse(env, total, &v) != NULL ||
			!open_all(&v, dek, digest, a) || memcmp(a, copy, len) != 0)
			__builtin_trap();
		/* sealed by aesgcm.c (a pending value under the session key, a value under the key's schedule): every implementation opens it */
		if (schedule.set)
		{
			struct varlena *sealed = EnvelopeSeal(ENV_BYTEA, 42, "contact", digest, dek, &schedule,
												  NULL, copy, len);
			struct varlena *pending = EnvelopePending(ENV_BYTEA, copy, len);
			uint8	   *p;

			if (EnvelopeParse((uint8 *) VARDATA(sealed), VARSIZE(sealed) - VARHDRSZ, &v) != NULL ||
				!open_all(&v, dek, digest, a) || memcmp(a, copy, len) != 0)
				__builtin_trap();
			if (EnvelopeParse((uint8 *) VARDATA(pending), VARSIZE(pending) - VARHDRSZ, &v) != NULL ||
				!EnvelopeAead(false, session_key, v.nonce, v.header, v.headerlen, NULL, 0,
							  v.ct, v.ctlen, a, (uint8 *) v.tag) ||
				memcmp(a, copy, len) != 0)
				__builtin_trap();
			p = EnvelopePendingOpen(&v);
			if (memcmp(p, copy, len) != 0)
				__builtin_trap();
			pfree(p);
			pfree(sealed);
			pfree(pending);
		}
		env[bit / 8] ^= 1 << (bit % 8);
		free(a);
		a = malloc(total);		/* the flipped header may describe a longer ciphertext */
		if (EnvelopeParse(env, total, &v) == NULL && v.version == ENVELOPE_VERSION &&
			open_all(&v, dek, digest, a))
			__builtin_trap();
		free(env);
		free(a);
	}

	/* the text form: base64 after "sealed1:" */
	{
		int			maxlen = pg_b64_dec_len(len);
		uint8	   *out = malloc(maxlen > 0 ? maxlen : 1);
		int			n = pg_b64_decode((const char *) copy, len, (char *) out, maxlen);

		if (n > maxlen)
			__builtin_trap();
		if (n > 0)
			(void) EnvelopeParse(out, n, &view);
		free(out);
	}
	free(copy);
	return 0;
}

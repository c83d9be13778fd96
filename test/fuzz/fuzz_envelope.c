/*-------------------------------------------------------------------------
 * test/fuzz/fuzz_envelope.c
 *	  libFuzzer harness for the envelope parser (src/envelope.c), built
 *	  outside the server: EnvelopeParse() takes bytes from a table or a
 *	  client, so it must never read outside them, and what it accepts must
 *	  describe the bytes exactly.  The text form's base64 decoding is
 *	  exercised on the same input.
 *-------------------------------------------------------------------------
 */
#include "../../src/envelope.c"

#include "common/base64.h"

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

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

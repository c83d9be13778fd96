/*-------------------------------------------------------------------------
 * test/fuzz/fuzz_keyring.c
 *	  libFuzzer harness for the keyring parser (src/keyring.c), built
 *	  outside the server: whatever a keyring file or command prints, the
 *	  parser must not read or write outside its buffers, must accept only
 *	  positive, distinct versions with 32-byte keys, and must never put key
 *	  material into its error message.
 *-------------------------------------------------------------------------
 */
#include "../../src/keyring.c"

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	size_t		len = Min(size, KEYRING_MAX_BYTES);
	char	   *text = malloc(len > 0 ? len : 1);
	MasterKey  *staging = malloc(sizeof(MasterKey) * KEYRING_MAX_VERSIONS);
	int			count;

	memcpy(text, data, len);
	ring_error[0] = '\0';
	count = keyring_parse(text, len, "fuzz", staging);
	if (count > KEYRING_MAX_VERSIONS)
		__builtin_trap();
	if (count < 0 && ring_error[0] == '\0')
		__builtin_trap();		/* a refusal always says why */
	for (int i = 0; i < count; i++)
	{
		if (staging[i].version <= 0)
			__builtin_trap();
		for (int j = 0; j < i; j++)
			if (staging[i].version == staging[j].version)
				__builtin_trap();
	}
	/* the reason names a line, never its content: no run of 16 hex digits */
	if (count < 0)
	{
		int			run = 0;

		for (const char *c = ring_error; *c; c++)
		{
			run = isxdigit((unsigned char) *c) ? run + 1 : 0;
			if (run >= 16)
				__builtin_trap();
		}
	}
	free(staging);
	free(text);
	return 0;
}

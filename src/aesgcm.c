/*-------------------------------------------------------------------------
 * src/aesgcm.c
 *	  AES-256-GCM with AES-NI and PCLMULQDQ, for short values under a
 *	  cached key's expanded schedule.
 *
 * A revealed value is a few dozen bytes under its subject's own key, so
 * the cost of opening it is latency, not throughput: libsodium's AES-NI
 * code runs the tag's block and each counter block through AES one after
 * another and reduces after every GHASH multiplication (~110 ns for an
 * e-mail address).  Here the tag's block and the first three counter
 * blocks go through AES together, and up to eight GHASH blocks are
 * multiplied by precomputed powers of H and reduced once (Gueron and
 * Kounavis, "Intel Carry-Less Multiplication Instruction and its Usage for
 * Computing the GCM Mode", 2014: the byte-reflected representation and
 * its shift-and-reduce).  The bytes are standard AES-256-GCM; the tag is
 * checked, in constant time, before any plaintext is written.
 *
 * Sealing works the same way (the counter blocks first, then GHASH over
 * the ciphertext); its nonces come from the caller, from the CSPRNG.  The
 * code is used when the CPU has both instructions and its self-test passes
 * (the GCM specification's test case 16, and a longer value against
 * OpenSSL: sealed, opened, and refused with its tag altered; a failure is
 * a WARNING, and OpenSSL does the work), and scripts/fuzz.sh opens every envelope
 * it makes with this code, libsodium and OpenSSL, and seals with this code
 * for OpenSSL to open, requiring them to agree.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "port/pg_bswap.h"

#include "aesgcm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AESGCM_X86 1
#endif

#ifdef AESGCM_X86

#include <cpuid.h>
#include <immintrin.h>

#define AESGCM_TARGET __attribute__((target("aes,pclmul,ssse3,sse4.1")))
#define AESGCM_PARALLEL 8		/* GHASH blocks reduced together */

static int	available = -1;		/* unknown, no, yes */

/* one step of the AES-256 key expansion: the next even round key */
#define EXPAND_EVEN(prev_even, prev_odd, rcon) \
	do { \
		__m128i		t_ = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev_odd, rcon), 0xff); \
		prev_even = _mm_xor_si128(prev_even, _mm_slli_si128(prev_even, 4)); \
		prev_even = _mm_xor_si128(prev_even, _mm_slli_si128(prev_even, 4)); \
		prev_even = _mm_xor_si128(prev_even, _mm_slli_si128(prev_even, 4)); \
		prev_even = _mm_xor_si128(prev_even, t_); \
	} while (0)

/* the next odd round key */
#define EXPAND_ODD(even, prev_odd) \
	do { \
		__m128i		t_ = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(even, 0), 0xaa); \
		prev_odd = _mm_xor_si128(prev_odd, _mm_slli_si128(prev_odd, 4)); \
		prev_odd = _mm_xor_si128(prev_odd, _mm_slli_si128(prev_odd, 4)); \
		prev_odd = _mm_xor_si128(prev_odd, _mm_slli_si128(prev_odd, 4)); \
		prev_odd = _mm_xor_si128(prev_odd, t_); \
	} while (0)

/* A 256-bit carry-less product, or a sum of them, before reduction. */
typedef struct GhashSum
{
	__m128i		lo;
	__m128i		mid;
	__m128i		hi;
} GhashSum;

AESGCM_TARGET static inline __m128i
bswap128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* sum += a * b, carry-less, unreduced */
AESGCM_TARGET static inline void
ghash_mul_add(GhashSum *sum, __m128i a, __m128i b)
{
	sum->lo = _mm_xor_si128(sum->lo, _mm_clmulepi64_si128(a, b, 0x00));
	sum->hi = _mm_xor_si128(sum->hi, _mm_clmulepi64_si128(a, b, 0x11));
	sum->mid = _mm_xor_si128(sum->mid,
							 _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10),
										   _mm_clmulepi64_si128(a, b, 0x01)));
}

/*
 * Reduce a sum of products modulo the GCM polynomial, in the byte-reflected
 * representation: shift the 256-bit value left by one bit, then fold the
 * low half into the high half.
 */
AESGCM_TARGET static inline __m128i
ghash_reduce(const GhashSum *sum)
{
	__m128i		lo = _mm_xor_si128(sum->lo, _mm_slli_si128(sum->mid, 8));
	__m128i		hi = _mm_xor_si128(sum->hi, _mm_srli_si128(sum->mid, 8));
	__m128i		t7,
				t8,
				t9,
				t2;

	/* the product of reflected operands is one bit short: shift left */
	t7 = _mm_srli_epi32(lo, 31);
	t8 = _mm_srli_epi32(hi, 31);
	lo = _mm_slli_epi32(lo, 1);
	hi = _mm_slli_epi32(hi, 1);
	t9 = _mm_srli_si128(t7, 12);
	t8 = _mm_slli_si128(t8, 4);
	t7 = _mm_slli_si128(t7, 4);
	lo = _mm_or_si128(lo, t7);
	hi = _mm_or_si128(hi, t8);
	hi = _mm_or_si128(hi, t9);

	/* reduce: x^128 = x^7 + x^2 + x + 1 */
	t7 = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
					   _mm_slli_epi32(lo, 25));
	t8 = _mm_srli_si128(t7, 4);
	t7 = _mm_slli_si128(t7, 12);
	lo = _mm_xor_si128(lo, t7);
	t2 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
					   _mm_srli_epi32(lo, 7));
	t2 = _mm_xor_si128(t2, t8);
	lo = _mm_xor_si128(lo, t2);
	return _mm_xor_si128(hi, lo);
}

AESGCM_TARGET static inline __m128i
ghash_mul(__m128i a, __m128i b)
{
	GhashSum	sum = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};

	ghash_mul_add(&sum, a, b);
	return ghash_reduce(&sum);
}

/* The GHASH state and up to AESGCM_PARALLEL blocks waiting to be folded in. */
typedef struct Ghash
{
	const __m128i *hpow;		/* H^1 .. H^AESGCM_PARALLEL */
	__m128i		y;
	__m128i		pending[AESGCM_PARALLEL];
	int			npending;
} Ghash;

/* y = (y + X1) H^n + X2 H^(n-1) + ... + Xn H, one reduction */
AESGCM_TARGET static inline void
ghash_flush(Ghash *g)
{
	GhashSum	sum = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
	int			n = g->npending;

	if (n == 0)
		return;
	ghash_mul_add(&sum, _mm_xor_si128(g->y, g->pending[0]), g->hpow[n - 1]);
	for (int i = 1; i < n; i++)
		ghash_mul_add(&sum, g->pending[i], g->hpow[n - 1 - i]);
	g->y = ghash_reduce(&sum);
	g->npending = 0;
}

AESGCM_TARGET static inline void
ghash_block(Ghash *g, __m128i reflected)
{
	if (g->npending == AESGCM_PARALLEL)
		ghash_flush(g);
	g->pending[g->npending++] = reflected;
}

/* Feed bytes, the last block padded with zeros. */
AESGCM_TARGET static inline void
ghash_bytes(Ghash *g, const uint8 *p, int len)
{
	for (; len >= 16; p += 16, len -= 16)
		ghash_block(g, bswap128(_mm_loadu_si128((const __m128i *) p)));
	if (len > 0)
	{
		uint8		last[16] = {0};

		memcpy(last, p, len);
		ghash_block(g, bswap128(_mm_loadu_si128((const __m128i *) last)));
	}
}

AESGCM_TARGET static inline __m128i
aes_encrypt1(const __m128i *rk, __m128i b)
{
	b = _mm_xor_si128(b, rk[0]);
	for (int r = 1; r < 14; r++)
		b = _mm_aesenc_si128(b, rk[r]);
	return _mm_aesenclast_si128(b, rk[14]);
}

/* Four blocks through AES together: their rounds overlap in the pipeline. */
AESGCM_TARGET static inline void
aes_encrypt4(const __m128i *rk, __m128i *b)
{
	b[0] = _mm_xor_si128(b[0], rk[0]);
	b[1] = _mm_xor_si128(b[1], rk[0]);
	b[2] = _mm_xor_si128(b[2], rk[0]);
	b[3] = _mm_xor_si128(b[3], rk[0]);
	for (int r = 1; r < 14; r++)
	{
		b[0] = _mm_aesenc_si128(b[0], rk[r]);
		b[1] = _mm_aesenc_si128(b[1], rk[r]);
		b[2] = _mm_aesenc_si128(b[2], rk[r]);
		b[3] = _mm_aesenc_si128(b[3], rk[r]);
	}
	b[0] = _mm_aesenclast_si128(b[0], rk[14]);
	b[1] = _mm_aesenclast_si128(b[1], rk[14]);
	b[2] = _mm_aesenclast_si128(b[2], rk[14]);
	b[3] = _mm_aesenclast_si128(b[3], rk[14]);
}

/* The counter block: the 96-bit nonce, then the 32-bit big-endian count. */
AESGCM_TARGET static inline __m128i
counter_block(__m128i nonce, uint32 count)
{
	return _mm_insert_epi32(nonce, (int) pg_hton32(count), 3);
}

/* XOR up to 16 bytes of keystream into out. */
AESGCM_TARGET static inline void
xor_block(uint8 *out, const uint8 *in, __m128i keystream, int len)
{
	if (len == 16)
		_mm_storeu_si128((__m128i *) out,
						 _mm_xor_si128(keystream, _mm_loadu_si128((const __m128i *) in)));
	else
	{
		uint8		ks[16];

		_mm_storeu_si128((__m128i *) ks, keystream);
		for (int i = 0; i < len; i++)
			out[i] = in[i] ^ ks[i];
		explicit_bzero(ks, sizeof(ks));
	}
}

AESGCM_TARGET static void
expand(uint8 *schedule, const uint8 *key)
{
	__m128i    *rk = (__m128i *) schedule;
	__m128i    *hpow = rk + 15;
	__m128i		even = _mm_loadu_si128((const __m128i *) key);
	__m128i		odd = _mm_loadu_si128((const __m128i *) (key + 16));
	__m128i		h;

	Assert(((uintptr_t) schedule & 15) == 0);
	rk[0] = even;
	rk[1] = odd;
	EXPAND_EVEN(even, odd, 0x01);
	rk[2] = even;
	EXPAND_ODD(even, odd);
	rk[3] = odd;
	EXPAND_EVEN(even, odd, 0x02);
	rk[4] = even;
	EXPAND_ODD(even, odd);
	rk[5] = odd;
	EXPAND_EVEN(even, odd, 0x04);
	rk[6] = even;
	EXPAND_ODD(even, odd);
	rk[7] = odd;
	EXPAND_EVEN(even, odd, 0x08);
	rk[8] = even;
	EXPAND_ODD(even, odd);
	rk[9] = odd;
	EXPAND_EVEN(even, odd, 0x10);
	rk[10] = even;
	EXPAND_ODD(even, odd);
	rk[11] = odd;
	EXPAND_EVEN(even, odd, 0x20);
	rk[12] = even;
	EXPAND_ODD(even, odd);
	rk[13] = odd;
	EXPAND_EVEN(even, odd, 0x40);
	rk[14] = even;

	/* H = AES(0), and its powers, byte-reflected */
	h = bswap128(aes_encrypt1(rk, _mm_setzero_si128()));
	hpow[0] = h;
	for (int i = 1; i < AESGCM_PARALLEL; i++)
		hpow[i] = ghash_mul(hpow[i - 1], h);
}

/*
 * The nonce as a counter block's first 96 bits, and the tag's block (J0)
 * and the first three counter blocks encrypted together into blocks.
 */
AESGCM_TARGET static pg_attribute_always_inline __m128i
first_blocks(const __m128i *rk, const uint8 *nonce_bytes, __m128i *blocks)
{
	uint8		nonce16[16] = {0};
	__m128i		nonce;

	memcpy(nonce16, nonce_bytes, 12);
	nonce = _mm_loadu_si128((const __m128i *) nonce16);
	blocks[0] = counter_block(nonce, 1);
	blocks[1] = counter_block(nonce, 2);
	blocks[2] = counter_block(nonce, 3);
	blocks[3] = counter_block(nonce, 4);
	aes_encrypt4(rk, blocks);
	return nonce;
}

/*
 * CTR mode: in XOR the keystream into out (len bytes), the first three
 * blocks from blocks[1..3] (first_blocks()), then four at a time.
 * blocks is overwritten.
 */
AESGCM_TARGET static pg_attribute_always_inline void
ctr_xor(const __m128i *rk, __m128i nonce, __m128i *blocks,
		const uint8 *in, int len, uint8 *out)
{
	int			done = 0;
	uint32		count = 5;

	for (int i = 1; i < 4 && done < len; i++, done += 16)
		xor_block(out + done, in + done, blocks[i], Min(16, len - done));
	while (done < len)
	{
		for (int i = 0; i < 4; i++)
			blocks[i] = counter_block(nonce, count++);
		aes_encrypt4(rk, blocks);
		for (int i = 0; i < 4 && done < len; i++, done += 16)
			xor_block(out + done, in + done, blocks[i], Min(16, len - done));
	}
}

/*
 * The tag: GHASH over the associated data, the ciphertext and their
 * lengths, masked by E(J0).  (These three helpers are forced inline: a
 * call each cost a reveal about 8% of its cipher time.)
 */
AESGCM_TARGET static pg_attribute_always_inline __m128i
ghash_tag(const __m128i *rk, const uint8 *ad, int adlen, const uint8 *ct, int len,
		  __m128i tag_mask)
{
	Ghash		g;
	__m128i		tag;

	g.hpow = rk + 15;
	g.y = _mm_setzero_si128();
	g.npending = 0;
	ghash_bytes(&g, ad, adlen);
	ghash_bytes(&g, ct, len);
	ghash_block(&g, _mm_set_epi64x((int64) adlen * 8, (int64) len * 8));
	ghash_flush(&g);
	tag = _mm_xor_si128(bswap128(g.y), tag_mask);
	explicit_bzero(&g, sizeof(g));
	return tag;
}

AESGCM_TARGET static bool
open_x86(const uint8 *schedule, const uint8 *nonce_bytes,
		 const uint8 *ad, int adlen, const uint8 *ct, int ctlen,
		 const uint8 *tag, uint8 *out)
{
	const __m128i *rk = (const __m128i *) schedule;
	__m128i		blocks[4];
	__m128i		nonce;
	uint8		expected[16];
	bool		ok;

	Assert(((uintptr_t) schedule & 15) == 0);
	nonce = first_blocks(rk, nonce_bytes, blocks);
	_mm_storeu_si128((__m128i *) expected, ghash_tag(rk, ad, adlen, ct, ctlen, blocks[0]));
	ok = CRYPTO_memcmp(expected, tag, 16) == 0;
	if (ok)
		ctr_xor(rk, nonce, blocks, ct, ctlen, out);
	explicit_bzero(blocks, sizeof(blocks));
	explicit_bzero(expected, sizeof(expected));
	return ok;
}

AESGCM_TARGET static void
seal_x86(const uint8 *schedule, const uint8 *nonce_bytes,
		 const uint8 *ad, int adlen, const uint8 *pt, int len,
		 uint8 *out, uint8 *tag)
{
	const __m128i *rk = (const __m128i *) schedule;
	__m128i		blocks[4];
	__m128i		nonce;
	__m128i		tag_mask;

	Assert(((uintptr_t) schedule & 15) == 0);
	nonce = first_blocks(rk, nonce_bytes, blocks);
	tag_mask = blocks[0];
	ctr_xor(rk, nonce, blocks, pt, len, out);
	_mm_storeu_si128((__m128i *) tag, ghash_tag(rk, ad, adlen, out, len, tag_mask));
	explicit_bzero(blocks, sizeof(blocks));
	explicit_bzero(&tag_mask, sizeof(tag_mask));
}

/*
 * The GCM specification's test case 16 (AES-256, 20 bytes of associated
 * data, 60 of plaintext): seals to its ciphertext and tag, opens to its
 * plaintext, and not with a bit of its tag changed.
 */
static bool
self_test(void)
{
	static const uint8 key[32] = {
		0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
		0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
	static const uint8 nonce[12] = {
		0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
	static const uint8 ad[20] = {
		0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef,
		0xab, 0xad, 0xda, 0xd2};
	static const uint8 plain[60] = {
		0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26, 0x9a,
		0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a, 0x72,
		0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6, 0xb5, 0x25,
		0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39};
	static const uint8 ct[60] = {
		0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07, 0xf4, 0x7f, 0x37, 0xa3, 0x2a, 0x84, 0x42, 0x7d,
		0x64, 0x3a, 0x8c, 0xdc, 0xbf, 0xe5, 0xc0, 0xc9, 0x75, 0x98, 0xa2, 0xbd, 0x25, 0x55, 0xd1, 0xaa,
		0x8c, 0xb0, 0x8e, 0x48, 0x59, 0x0d, 0xbb, 0x3d, 0xa7, 0xb0, 0x8b, 0x10, 0x56, 0x82, 0x88, 0x38,
		0xc5, 0xf6, 0x1e, 0x63, 0x93, 0xba, 0x7a, 0x0a, 0xbc, 0xc9, 0xf6, 0x62};
	static const uint8 tag[16] = {
		0x76, 0xfc, 0x6e, 0xce, 0x0f, 0x4e, 0x17, 0x68, 0xcd, 0xdf, 0x88, 0x53, 0xbb, 0x2d, 0x55, 0x1b};
	uint8		schedule[AESGCM_SCHEDULE_LEN] pg_attribute_aligned(16);
	uint8		out[60];
	uint8		bad[16];
	bool		ok;

	expand(schedule, key);
	seal_x86(schedule, nonce, ad, sizeof(ad), plain, sizeof(plain), out, bad);
	ok = memcmp(out, ct, sizeof(ct)) == 0 && memcmp(bad, tag, sizeof(tag)) == 0;
	ok = ok && open_x86(schedule, nonce, ad, sizeof(ad), ct, sizeof(ct), tag, out) &&
		memcmp(out, plain, sizeof(plain)) == 0;
	memcpy(bad, tag, sizeof(bad));
	bad[15] ^= 1;
	memset(out, 0, sizeof(out));
	ok = ok && !open_x86(schedule, nonce, ad, sizeof(ad), ct, sizeof(ct), bad, out);
	/* nothing was written for the forged tag */
	for (int i = 0; i < (int) sizeof(out); i++)
		ok = ok && out[i] == 0;
	return ok;
}

/*
 * The same against OpenSSL, for inputs longer than one GHASH batch: 150
 * bytes of associated data (ten blocks, so the first batch of eight
 * carries into the next) and 257 of plaintext (seventeen blocks, a
 * partial last one), both ways, and refused with a bit of the tag changed.
 */
static bool
self_test_openssl(void)
{
	uint8		key[32];
	uint8		nonce[12];
	uint8		ad[150];
	uint8		plain[257];
	uint8		ct[257];
	uint8		ours[257];
	uint8		tag[16];
	uint8		our_tag[16];
	uint8		schedule[AESGCM_SCHEDULE_LEN] pg_attribute_aligned(16);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			len;
	bool		ok;

	for (int i = 0; i < (int) sizeof(key); i++)
		key[i] = (uint8) (i * 7 + 1);
	for (int i = 0; i < (int) sizeof(nonce); i++)
		nonce[i] = (uint8) (0xa0 + i);
	for (int i = 0; i < (int) sizeof(ad); i++)
		ad[i] = (uint8) (i * 13);
	for (int i = 0; i < (int) sizeof(plain); i++)
		plain[i] = (uint8) (i * 31 + 5);
	ok = ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &len, ad, sizeof(ad)) == 1 &&
		EVP_EncryptUpdate(ctx, ct, &len, plain, sizeof(plain)) == 1 &&
		EVP_EncryptFinal_ex(ctx, ct + len, &len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return false;
	expand(schedule, key);
	seal_x86(schedule, nonce, ad, sizeof(ad), plain, sizeof(plain), ours, our_tag);
	ok = memcmp(ours, ct, sizeof(ct)) == 0 && memcmp(our_tag, tag, sizeof(tag)) == 0;
	ok = ok && open_x86(schedule, nonce, ad, sizeof(ad), ct, sizeof(ct), tag, ours) &&
		memcmp(ours, plain, sizeof(plain)) == 0;
	tag[0] ^= 0x80;
	ok = ok && !open_x86(schedule, nonce, ad, sizeof(ad), ct, sizeof(ct), tag, ours);
	explicit_bzero(schedule, sizeof(schedule));
	return ok;
}

/* Does this CPU have AES-NI and PCLMULQDQ, and does this code pass its test? */
bool
AesGcmAvailable(void)
{
	if (available < 0)
	{
		unsigned int eax,
					ebx,
					ecx,
					edx;

		available = 0;
		if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) &&
			(ecx & bit_AES) && (ecx & bit_PCLMUL) && (ecx & bit_SSE4_1) && (ecx & bit_SSSE3))
		{
			available = self_test() && self_test_openssl() ? 1 : 0;
			if (!available)
				ereport(WARNING,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("privacy_guard's AES-NI code failed its self-test: values are sealed and opened with OpenSSL"),
						 errhint("Report this with the CPU model (/proc/cpuinfo).")));
		}
	}
	return available == 1;
}

/* Expand key into schedule (AESGCM_SCHEDULE_LEN bytes, 16-byte aligned). */
void
AesGcmExpand(uint8 *schedule, const uint8 *key)
{
	Assert(AesGcmAvailable());
	expand(schedule, key);
}

/*
 * Open ct (ctlen bytes) into out under schedule; false, with nothing
 * written, when the tag does not authenticate nonce, ad and ct.
 */
bool
AesGcmOpen(const uint8 *schedule, const uint8 *nonce, const uint8 *ad, int adlen,
		   const uint8 *ct, int ctlen, const uint8 *tag, uint8 *out)
{
	Assert(AesGcmAvailable());
	return open_x86(schedule, nonce, ad, adlen, ct, ctlen, tag, out);
}

/*
 * Seal pt (len bytes) into out (len bytes) and tag (16) under schedule.
 * The nonce must never have been used with this key: callers take it from
 * the CSPRNG.
 */
void
AesGcmSeal(const uint8 *schedule, const uint8 *nonce, const uint8 *ad, int adlen,
		   const uint8 *pt, int len, uint8 *out, uint8 *tag)
{
	Assert(AesGcmAvailable());
	seal_x86(schedule, nonce, ad, adlen, pt, len, out, tag);
}

#else							/* !AESGCM_X86 */

bool
AesGcmAvailable(void)
{
	return false;
}

void
AesGcmExpand(uint8 *schedule, const uint8 *key)
{
	elog(ERROR, "AES-NI is not available");
}

bool
AesGcmOpen(const uint8 *schedule, const uint8 *nonce, const uint8 *ad, int adlen,
		   const uint8 *ct, int ctlen, const uint8 *tag, uint8 *out)
{
	elog(ERROR, "AES-NI is not available");
	return false;
}

void
AesGcmSeal(const uint8 *schedule, const uint8 *nonce, const uint8 *ad, int adlen,
		   const uint8 *pt, int len, uint8 *out, uint8 *tag)
{
	elog(ERROR, "AES-NI is not available");
}

#endif

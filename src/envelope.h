/*-------------------------------------------------------------------------
 * src/envelope.h
 *	  The AEAD byte format of a sealed value, and of a value not yet sealed.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_ENVELOPE_H
#define PGUARD_ENVELOPE_H

#include "postgres.h"

#include "aesgcm.h"

#define ENVELOPE_VERSION	1		/* a sealed value */
#define ENVELOPE_PENDING	0		/* plaintext waiting for the write path */
#define ENVELOPE_PENDING_BOUND 2	/* the same, bound to the category it was written for */
#define ENVELOPE_VERSION_TERM 3		/* a sealed value carrying its search term (0.2) */
#define ENVELOPE_VERSION_BOUND 4	/* ... and the term's binding to its data key */
#define ENVELOPE_NONCE_LEN	12
#define ENVELOPE_TAG_LEN	16
#define ENVELOPE_KEY_LEN	32
#define ENVELOPE_DIGEST_LEN 32
#define ENVELOPE_MAX_CATEGORY 63
#define ENVELOPE_TEXT_PREFIX "sealed1:"
/* a search term: the index key's id (8, big-endian) and a truncated HMAC */
#define ENVELOPE_TERM_HMAC_LEN 16
#define ENVELOPE_TERM_LEN	(8 + ENVELOPE_TERM_HMAC_LEN)
/* a term's binding: truncated HMAC of data key id, category and term */
#define ENVELOPE_BIND_LEN	16
/* what a searchable value's header carries after its category */
#define ENVELOPE_SEARCH_LEN (ENVELOPE_TERM_LEN + ENVELOPE_BIND_LEN)

/* Plaintext types; the number is part of the format. */
typedef enum EnvelopeType
{
	ENV_TEXT = 1,
	ENV_JSONB = 2,
	ENV_DATE = 3,
	ENV_NUMERIC = 4,
	ENV_BYTEA = 5
} EnvelopeType;

#define ENV_TYPE_MAX ENV_BYTEA

/* A parsed envelope: pointers into the bytes it was parsed from. */
typedef struct EnvelopeView
{
	uint8		version;
	uint8		type;
	int64		key_id;			/* data key, sealed values only */
	int			catlen;			/* 0: a pending value not bound to a category */
	const char *category;		/* not NUL-terminated */
	const uint8 *subject_digest;	/* a bound pending value's subject, or NULL */
	const uint8 *term;			/* a sealed value's search term (ENVELOPE_TERM_LEN), or NULL */
	const uint8 *bind;			/* its binding (ENVELOPE_BIND_LEN; version 4), or NULL */
	const uint8 *header;		/* authenticated header bytes */
	int			headerlen;
	const uint8 *nonce;
	const uint8 *ct;
	int			ctlen;
	const uint8 *tag;
} EnvelopeView;

/*
 * A data key's AES-256-GCM schedule, expanded once for a key the cache
 * keeps (aesgcm.c: the round keys and powers of H): opening a value then
 * costs the cipher alone.  Unset where the CPU lacks AES-NI or PCLMULQDQ,
 * or privacy_guard.cipher = openssl: OpenSSL opens with the key itself.
 * The same standard bytes either way.
 */
typedef struct EnvelopeSchedule
{
	bool		set;
	uint8		bytes[AESGCM_SCHEDULE_LEN + 15];	/* aligned at 16 within */
} EnvelopeSchedule;

extern const char *EnvelopeTypeName(int type);
extern const char *EnvelopeParse(const uint8 *data, int len, EnvelopeView *view);
extern struct varlena *EnvelopeSeal(EnvelopeType type, int64 key_id,
									const char *category,
									const uint8 *subject_digest,
									const uint8 *dek,
									const EnvelopeSchedule *schedule,
									const uint8 *search,
									const uint8 *plain, int plainlen);
extern bool EnvelopeOpen(const EnvelopeView *view, const uint8 *dek,
						 const uint8 *subject_digest, uint8 *out);
extern void EnvelopeScheduleSet(EnvelopeSchedule *schedule, const uint8 *dek);
extern void EnvelopeScheduleWipe(EnvelopeSchedule *schedule);
extern bool EnvelopeOpenScheduled(const EnvelopeView *view, const uint8 *dek,
								  const EnvelopeSchedule *schedule,
								  const uint8 *subject_digest, uint8 *out);
extern struct varlena *EnvelopePending(EnvelopeType type, const uint8 *plain, int plainlen);
extern uint8 *EnvelopePendingOpen(const EnvelopeView *view);
extern struct varlena *EnvelopePendingBind(const EnvelopeView *view, const char *category,
										   const uint8 *subject_digest);
extern bool EnvelopeCategoryIs(const EnvelopeView *view, const char *category);
extern void EnvelopeRandom(uint8 *buf, int len);
extern bool EnvelopeAead(bool encrypt, const uint8 *key,
						 const uint8 *nonce, const uint8 *aad1, int aad1len,
						 const uint8 *aad2, int aad2len,
						 const uint8 *in, int inlen, uint8 *out, uint8 *tag);
extern void EnvelopeForgetKeys(void);
extern void EnvelopeKeyGone(const uint8 *key);
extern void EnvelopeInit(void);

#endif

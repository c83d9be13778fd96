/*-------------------------------------------------------------------------
 * src/keycache.h
 *	  Per-subject data keys: create, wrap, cache, look up.
 *-------------------------------------------------------------------------
 */
#ifndef PGUARD_KEYCACHE_H
#define PGUARD_KEYCACHE_H

#include "postgres.h"
#include "lib/ilist.h"

#include "envelope.h"

/* One unwrapped data key in this backend's cache. */
typedef struct KeyEntry
{
	int64		key_id;			/* hash key */
	uint8		digest[ENVELOPE_DIGEST_LEN];	/* SHA-256 of the subject */
	uint8		dek[ENVELOPE_KEY_LEN];
	dlist_node	fifo;			/* eviction order */
} KeyEntry;

extern void KeycacheSubjectDigest(const char *subject, int len, uint8 *digest);
extern KeyEntry *KeycacheForSubject(const char *subject, int len);
extern KeyEntry *KeycacheForId(int64 key_id, bool allow_bulk);
extern bool KeycacheIndexKey(const char *category, uint8 *key, bool create);
extern void KeycacheInit(void);

#endif

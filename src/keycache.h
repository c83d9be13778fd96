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

/*
 * Hash of a data key id for simplehash tables: ids are dense (a sequence),
 * and rows usually follow their subjects' creation order, so the id itself
 * spreads well and keeps neighbouring rows in neighbouring slots.
 */
#define KEY_ID_HASH(key) ((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))

/* One unwrapped data key in this backend's cache. */
typedef struct KeyEntry
{
	int64		key_id;			/* hash key */
	uint8		digest[ENVELOPE_DIGEST_LEN];	/* SHA-256 of the subject */
	uint8		dek[ENVELOPE_KEY_LEN];
	dlist_node	fifo;			/* eviction order */
	EnvelopeSchedule schedule;	/* dek expanded once, for opening many values */
} KeyEntry;

/*
 * key id -> cached entry: simplehash, open addressing, inlined (dynahash
 * cost a quarter of reveal's time here).  Entries live apart from the
 * table so their addresses stay stable while the table grows.  Key ids are
 * dense (an identity column) and rows of a table usually follow their
 * subjects' creation order, so the id itself is the hash: neighbouring rows
 * hit neighbouring slots instead of a cache miss each.
 */
typedef struct KeySlot
{
	int64		key_id;
	KeyEntry   *entry;			/* NULL where the table is a set of ids */
	char		status;
} KeySlot;

#define SH_PREFIX keyslot
#define SH_ELEMENT_TYPE KeySlot
#define SH_KEY_TYPE int64
#define SH_KEY key_id
#define SH_HASH_KEY(tb, key) KEY_ID_HASH(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

extern void KeycacheSubjectDigest(const char *subject, int len, uint8 *digest);
extern KeyEntry *KeycacheForSubject(const char *subject, int len);
extern KeyEntry *KeycacheForId(int64 key_id, bool allow_bulk);
extern KeyEntry *KeycacheForIdChecked(int64 key_id, bool allow_bulk, bool *missing);
extern void KeycacheKeysChanged(void);
extern bool KeycacheOpen(const KeyEntry *key, const EnvelopeView *view, uint8 *out);
extern int64 KeycacheIndexKey(const char *category, uint8 *key, bool create);
extern bool KeycacheIndexSearch(const char *category, const uint8 *plain, int len, bool create,
								int64 data_key_id, uint8 *out);
extern bool KeycacheIndexBindValid(const EnvelopeView *view);
extern uint64 KeycacheGeneration(void);
extern int64 KeycacheIndexKeyEnsure(const char *category);
extern int64 KeycacheIndexTerm(const char *category, const uint8 *plain, int len,
							   bool create, uint8 *mac);
extern void KeycacheRetireIndexKey(const char *category, int64 key_id);
extern void KeycacheInit(void);

extern bool KeycacheKeysSubscribed(void);

#endif

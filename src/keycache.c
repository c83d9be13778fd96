/*-------------------------------------------------------------------------
 * src/keycache.c
 *	  Per-subject data keys: create, wrap, cache, look up.
 *
 * Each data subject has one random 256-bit data key, created the first time
 * something is sealed for it and stored in privacy_guard.keys only wrapped:
 * AES-256-GCM under the active master key, with the key's kind and name
 * (the subject) as associated data, so a wrapped key moved to another row
 * does not open.  Concurrent first seals for one subject meet at the
 * table's unique constraint and end with one key.
 *
 * Unwrapped keys are cached per backend in a bounded table
 * (privacy_guard.key_cache_size entries), evicted oldest first and wiped on
 * eviction, on invalidation and at exit.  A statement that misses the
 * cache repeatedly loads and unwraps keys in bulk, so revealing the data of
 * 100k subjects costs one catalog query, not 100k.  Deleting or changing
 * keys (erasure, rotation, TRUNCATE) invalidates every backend's cache: the
 * keys table's triggers invalidate its sequence's relcache entry, a signal
 * nothing else sends (KeycacheKeysChanged()).  The table's own relcache
 * invalidations do not flush the cache: VACUUM and ANALYZE send them, which
 * autovacuum runs as new subjects' keys accumulate, and every session's
 * next reveal would unwrap its keys again.
 *
 * Blind-index keys, one per category, live in the same table (kind
 * 'index') and a small cache of their own.
 *
 * Keys are read with the latest snapshot, not the transaction's: a key
 * destroyed (erasure) after a REPEATABLE READ transaction began must not
 * come back into this backend's cache from that transaction's view.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "catalog/namespace.h"
#include "catalog/pg_constraint.h"
#include "access/htup_details.h"
#include "catalog/index.h"
#include "utils/rel.h"
#include "utils/lsyscache.h"
#include "executor/executor.h"
#include "commands/sequence.h"
#include "catalog/pg_index.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/genam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"
#include "catalog.h"
#include "keycache.h"
#include "progress.h"
#include "keyring.h"


#define WRAPPED_LEN (ENVELOPE_NONCE_LEN + ENVELOPE_KEY_LEN + ENVELOPE_TAG_LEN)
#define BULK_AFTER_MISSES 8
#define MASTER_CHECK_LEN 16
#define ROTATION_WAIT_MS 30000

/*
 * subject digest -> cached entry: simplehash, as by_id.  The key points at
 * the entry's own digest.  Subject names are the application's, so the
 * hash is seeded per backend: nobody can choose names whose digests pile
 * up in one run of slots.
 */
typedef struct SubjectSlot
{
	const uint8 *digest;
	KeyEntry   *entry;
	uint32		hash;
	char		status;
} SubjectSlot;

static uint64 subject_hash_seed = 0;

static inline uint32
subject_hash(const uint8 *digest)
{
	return (uint32) hash_bytes_extended(digest, ENVELOPE_DIGEST_LEN, subject_hash_seed);
}

#define SH_PREFIX subjectslot
#define SH_ELEMENT_TYPE SubjectSlot
#define SH_KEY_TYPE const uint8 *
#define SH_KEY digest
#define SH_HASH_KEY(tb, key) subject_hash(key)
#define SH_EQUAL(tb, a, b) (memcmp(a, b, ENVELOPE_DIGEST_LEN) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* category -> blind-index key */
typedef struct IndexKeyEntry
{
	char		category[ENVELOPE_MAX_CATEGORY + 1];	/* hash key */
	int64		key_id;
	uint8		key[ENVELOPE_KEY_LEN];
	EVP_MAC_CTX *hmac;			/* HMAC-SHA-256 under key, made at its first term */
	EVP_MAC_CTX *bind;			/* ... under the key derived for bindings, at its first */
} IndexKeyEntry;

static EVP_MAC *hmac_algorithm = NULL;

static IndexKeyEntry *index_entry(const char *category, bool create);

/* Free an index key's HMAC context (OpenSSL wipes the key it holds). */
static void
index_key_forget(IndexKeyEntry *ie)
{
	OPENSSL_cleanse(ie->key, sizeof(ie->key));
	if (ie->hmac != NULL)
		EVP_MAC_CTX_free(ie->hmac);
	if (ie->bind != NULL)
		EVP_MAC_CTX_free(ie->bind);
	ie->hmac = NULL;
	ie->bind = NULL;
}

/*
 * The check values backends of this server have verified, per database and
 * master key version: the first backend to verify a version (against the
 * table, or by recording it) publishes it here, and the others compare
 * with it instead of the table.  So no backend waits on another's
 * uncommitted recording of the same version (which an application's
 * transaction left open could hold for as long as it likes).
 */
#define MASTER_CHECK_SLOTS 64

typedef struct MasterCheckSlot
{
	Oid			dbid;
	int32		version;
	uint8		check[MASTER_CHECK_LEN];
} MasterCheckSlot;

typedef struct MasterCheckShared
{
	slock_t		mutex;
	int			used;
	MasterCheckSlot slots[MASTER_CHECK_SLOTS];
} MasterCheckShared;

static MasterCheckShared *master_checks = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static int	key_cache_size = 131072;

#define KEY_ENTRY_BLOCK 64			/* entries allocated together */

static MemoryContext cache_cxt = NULL;
static keyslot_hash *by_id = NULL;
static subjectslot_hash *by_subject = NULL;
static HTAB *index_keys = NULL;
static dlist_head fifo = DLIST_STATIC_INIT(fifo);	/* cached entries, oldest first */
static dlist_head spare = DLIST_STATIC_INIT(spare);	/* wiped entries for reuse */
static long cached = 0;
static bool cache_stale = false;
static Oid	keys_relid = InvalidOid;
static Oid	keys_signal_relid = InvalidOid;	/* keys_key_id_seq: its invalidation says keys changed */
static bool keys_recheck = false;	/* the keys table's relcache entry was invalidated */
/* the keys table's UNIQUE (kind, name) index, found once a relcache generation */
static Oid	keys_name_index = InvalidOid;
static int	exit_hook_pid = 0;

/* per transaction: misses and whether a bulk load already ran */
static int	xact_misses = 0;
static bool xact_bulk_done = false;

/*
 * A key created in this transaction is cached before it commits: if the
 * transaction (or a subtransaction) rolls back, the cache must forget it,
 * or values would be sealed under a key the database never kept.
 */
static bool xact_created_key = false;

static EVP_MD *sha256 = NULL;

/* saved SPI plans */
static SPIPlanPtr plan_by_subject = NULL;
static SPIPlanPtr plan_by_id = NULL;
static SPIPlanPtr plan_bulk = NULL;
static SPIPlanPtr plan_range = NULL;
static int64 last_miss = 0;	/* the key id last missed, for range_load() */

static uint64 generation = 0;	/* flushes so far: entries of an earlier one are gone */

/* Wipe and drop every cached key. */
static void
keycache_flush(void)
{
	generation++;
	if (by_id != NULL)
	{
		dlist_iter	iter;

		dlist_foreach(iter, &fifo)
		{
			KeyEntry   *e = dlist_container(KeyEntry, fifo, iter.cur);

			EnvelopeKeyGone(e->dek);
			OPENSSL_cleanse(e->dek, sizeof(e->dek));
			EnvelopeScheduleWipe(&e->schedule);
		}
	}
	if (index_keys != NULL)
	{
		HASH_SEQ_STATUS status;
		IndexKeyEntry *e;

		hash_seq_init(&status, index_keys);
		while ((e = hash_seq_search(&status)) != NULL)
			index_key_forget(e);
	}
	if (cache_cxt != NULL)
		MemoryContextReset(cache_cxt);
	by_id = NULL;
	by_subject = NULL;
	index_keys = NULL;
	dlist_init(&fifo);
	dlist_init(&spare);
	cached = 0;
	cache_stale = false;
}

static void
keycache_exit(int code, Datum arg)
{
	keycache_flush();
}

/*
 * Keys were deleted or changed somewhere (or every cache was reset): flush
 * at the next safe point.  The keys table's own invalidation (VACUUM,
 * ANALYZE, an index built, the table dropped) only has the table looked up
 * again there (keycache_ensure()), its arbiter index too.
 */
static void
keycache_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || (OidIsValid(keys_signal_relid) && relid == keys_signal_relid))
	{
		cache_stale = true;
		keys_name_index = InvalidOid;
	}
	else if (OidIsValid(keys_relid) && relid == keys_relid)
	{
		keys_recheck = true;
		keys_name_index = InvalidOid;
	}
}

/*
 * The relations whose invalidations keycache_relcache_callback() watches,
 * looked up whenever the cache is made (keycache_ensure()).
 */
static void
keys_relations(void)
{
	keys_relid = CatalogRelid("keys");
	keys_signal_relid = CatalogRelid("keys_key_id_seq");
}

/*
 * The keys table's statement triggers (catalog_changed()): every session
 * flushes its cache when this transaction commits.
 */
void
KeycacheKeysChanged(void)
{
	CacheInvalidateRelcacheByRelid(CatalogRelid("keys_key_id_seq"));
}

/* does this database receive privacy_guard.keys by logical replication? -1: not looked up yet */
static int	keys_subscribed = -1;

static void
keycache_changed_elsewhere(void)
{
	/*
	 * Some catalog change committed (a role's, a consent's, the policy's):
	 * the keys' own changes empty the cache through their signal, which
	 * CatalogCheckChanges() has just read; the rest leave it be (any role
	 * can change its own password, or record a consent, as often as it
	 * likes, and every session would unwrap its keys again).
	 */
	keys_subscribed = -1;
}

static void
keycache_xact_callback(XactEvent event, void *arg)
{
	xact_misses = 0;
	xact_bulk_done = false;
	/*
	 * Keys this transaction made are forgotten if it aborts, and if it is
	 * prepared: ROLLBACK PREPARED, here or in another session, would leave
	 * them cached with no row behind them.
	 */
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
	{
		if (xact_created_key)
			cache_stale = true;
		xact_created_key = false;
	}
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		xact_created_key = false;
}

static void
keycache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && xact_created_key)
		cache_stale = true;
}

/* Create the hash tables on first use, flush if invalidated. */
static void
keycache_ensure(void)
{
	HASHCTL		ctl;

	if (exit_hook_pid != MyProcPid)
	{
		on_proc_exit(keycache_exit, (Datum) 0);
		exit_hook_pid = MyProcPid;
	}
	if (keys_recheck)
	{
		Oid			nsp = get_namespace_oid("privacy_guard", true);

		/* the table dropped, or dropped and made anew (its keys are not these) */
		keys_recheck = false;
		if (!OidIsValid(nsp) || get_relname_relid("keys", nsp) != keys_relid)
			cache_stale = true;
	}
	if (cache_stale)
		keycache_flush();
	if (by_id != NULL)
		return;
	keys_relations();
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext,
										  "privacy_guard key cache",
										  ALLOCSET_DEFAULT_SIZES);
	by_id = keyslot_create(cache_cxt, 1024, NULL);
	if (subject_hash_seed == 0)
		EnvelopeRandom((uint8 *) &subject_hash_seed, sizeof(subject_hash_seed));
	by_subject = subjectslot_create(cache_cxt, 1024, NULL);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ENVELOPE_MAX_CATEGORY + 1;
	ctl.entrysize = sizeof(IndexKeyEntry);
	ctl.hcxt = cache_cxt;
	index_keys = hash_create("privacy_guard blind-index keys", 16, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

void
KeycacheSubjectDigest(const char *subject, int len, uint8 *digest)
{
	unsigned int dlen = 0;

	if (sha256 == NULL)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (sha256 == NULL ||
		EVP_Digest(subject, len, digest, &dlen, sha256, NULL) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256")));
}

static bool key_unwrap(int64 key_id, const char *kind, const char *name,
					   int32 version, bytea *wrapped, uint8 *key, bool quiet);

/*
 * A master key version's check value: HMAC-SHA-256 of a fixed label under
 * the key, first MASTER_CHECK_LEN bytes.  It tells whether a keyring holds
 * the same key for a version as when the version was first used, and
 * nothing else about the key.
 */
static void
master_check_value(int32 version, uint8 *out)
{
	static const char label[] = "privacy_guard master key check value";
	uint8		md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	bool		ok;

	ok = HMAC(EVP_sha256(), KeyringGet(version), KEYRING_KEY_LEN,
			  (const uint8 *) label, sizeof(label) - 1, md, &mdlen) != NULL;
	if (ok)
		memcpy(out, md, MASTER_CHECK_LEN);
	OPENSSL_cleanse(md, sizeof(md));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a master key check value")));
}

/* The keyring's key for this version is not the one first used under it. */
static void
master_mismatch(int32 version)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("master key version %d in the keyring is not the key first used as version %d",
					version, version),
			 errdetail("Its key check value differs from the one recorded in privacy_guard.master_key_checks."),
			 errhint("Put the right key for version %d back in the keyring and reload the configuration; nothing is wrapped under a key that does not match.",
					 version)));
}

/*
 * The recorded check value of a version, compared with the keyring's key:
 * 1 matches, 0 none recorded, error if it differs.  SPI connected, as the
 * extension's owner.
 */
static int
master_compare(int32 version, const uint8 *check)
{
	Oid			types[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(version)};
	int			rc;

	if (CatalogExtensionPredatesGuard())
		return 0;
	PushActiveSnapshot(CatalogFreshSnapshot());
	rc = SPI_execute_with_args("SELECT check_value FROM privacy_guard.master_key_checks"
							   " WHERE master_version OPERATOR(pg_catalog.=) $1",
							   1, types, args, NULL, true, 1);
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read master key check values");
	if (SPI_processed == 0)
		return 0;
	{
		bool		isnull;
		bytea	   *stored = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull));

		if (isnull || VARSIZE_ANY_EXHDR(stored) != MASTER_CHECK_LEN ||
			CRYPTO_memcmp(VARDATA_ANY(stored), check, MASTER_CHECK_LEN) != 0)
			master_mismatch(version);
	}
	return 1;
}

/*
 * The check value published for this database and version: 1 it matches
 * check, 0 none is published; error if it differs.
 */
static int
master_published(int32 version, const uint8 *check)
{
	int			found = 0;

	if (master_checks == NULL)
		return 0;
	SpinLockAcquire(&master_checks->mutex);
	for (int i = 0; i < master_checks->used; i++)
	{
		MasterCheckSlot *slot = &master_checks->slots[i];

		if (slot->dbid == MyDatabaseId && slot->version == version)
		{
			found = CRYPTO_memcmp(slot->check, check, MASTER_CHECK_LEN) == 0 ? 1 : -1;
			break;
		}
	}
	SpinLockRelease(&master_checks->mutex);
	if (found < 0)
		master_mismatch(version);
	return found;
}

/* Publish a check value verified against this database's table. */
static void
master_publish(int32 version, const uint8 *check)
{
	if (master_checks == NULL)
		return;
	SpinLockAcquire(&master_checks->mutex);
	if (master_checks->used < MASTER_CHECK_SLOTS)
	{
		MasterCheckSlot *slot = &master_checks->slots[master_checks->used];
		bool		dup = false;

		for (int i = 0; i < master_checks->used; i++)
			dup |= master_checks->slots[i].dbid == MyDatabaseId &&
				master_checks->slots[i].version == version;
		if (!dup)
		{
			slot->dbid = MyDatabaseId;
			slot->version = version;
			memcpy(slot->check, check, MASTER_CHECK_LEN);
			master_checks->used++;
		}
	}
	SpinLockRelease(&master_checks->mutex);
}

/*
 * Before a master key version wraps a key: check it against the check value
 * recorded when the version was first used, and record it if it never was.
 * A version that already wraps keys but has no recorded value (keys made
 * before check values were) must first unwrap one of them.  SPI connected,
 * as the extension's owner.
 */
static void
master_verify(int32 version)
{
	uint8		check[MASTER_CHECK_LEN];
	Oid			types[2] = {INT4OID, BYTEAOID};
	Datum		args[2];
	bytea	   *value;
	int			rc;

	/* version 0.1, until ALTER EXTENSION UPDATE, records no check values */
	if (KeyringVerified(version) || CatalogExtensionPredatesGuard())
		return;
	master_check_value(version, check);
	if (master_published(version, check) == 1 || master_compare(version, check) == 1)
	{
		master_publish(version, check);
		KeyringSetVerified(version);
		return;
	}
	args[0] = Int32GetDatum(version);
	PushActiveSnapshot(CatalogFreshSnapshot());
	rc = SPI_execute_with_args("SELECT key_id, kind, name, wrapped FROM privacy_guard.keys"
							   " WHERE master_version OPERATOR(pg_catalog.=) $1 LIMIT 1",
							   1, types, args, NULL, true, 1);
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read privacy_guard.keys");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		uint8		key[ENVELOPE_KEY_LEN];
		bool		ok;

		ok = key_unwrap(DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)),
						TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull)),
						TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull)),
						version, DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull)),
						key, true);
		OPENSSL_cleanse(key, sizeof(key));
		if (!ok)
			master_mismatch(version);
	}
	value = palloc(VARHDRSZ + MASTER_CHECK_LEN);
	SET_VARSIZE(value, VARHDRSZ + MASTER_CHECK_LEN);
	memcpy(VARDATA(value), check, MASTER_CHECK_LEN);
	args[1] = PointerGetDatum(value);

	/*
	 * Another transaction recording the same version, still open, makes
	 * this insert wait for it: not longer than a few seconds (the caller's
	 * transaction is an application's write).  rotate_master_key() records
	 * the active version first, so this is the rare first key under a
	 * version added without rotating.
	 */
	{
		int			nest = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", "5s", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		rc = SPI_execute_with_args("INSERT INTO privacy_guard.master_key_checks (master_version, check_value)"
								   " VALUES ($1, $2) ON CONFLICT (master_version) DO NOTHING",
								   2, types, args, NULL, false, 0);
		AtEOXact_GUC(true, nest);
	}
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record a master key check value");
	/* another session recorded it first: it must match */
	if (SPI_processed == 0)
		master_compare(version, check);
	/*
	 * Other backends compare with it from now on; this one checks the
	 * table again until the value is committed.  Should this transaction
	 * roll back, the next one to find the table without it records it.
	 */
	master_publish(version, check);
}

/* Wrap a key under the active master key: out is WRAPPED_LEN bytes. */
static int32
key_wrap(const char *kind, const char *name, const uint8 *key, uint8 *out)
{
	int32		version = KeyringActiveVersion();

	master_verify(version);

	EnvelopeRandom(out, ENVELOPE_NONCE_LEN);
	EnvelopeAead(true, KeyringGet(version), out,
				 (const uint8 *) kind, strlen(kind) + 1,
				 (const uint8 *) name, strlen(name),
				 key, ENVELOPE_KEY_LEN,
				 out + ENVELOPE_NONCE_LEN,
				 out + ENVELOPE_NONCE_LEN + ENVELOPE_KEY_LEN);
	return version;
}

/* A new random key, into key, and its wrapped form under the active master key version. */
static bytea *
new_wrapped_key(const char *kind, const char *name, uint8 *key, int32 *version)
{
	bytea	   *wrapped = palloc(VARHDRSZ + WRAPPED_LEN);

	EnvelopeRandom(key, ENVELOPE_KEY_LEN);
	SET_VARSIZE(wrapped, VARHDRSZ + WRAPPED_LEN);
	*version = key_wrap(kind, name, key, (uint8 *) VARDATA(wrapped));
	return wrapped;
}

/*
 * Unwrap a stored key into key.  Errors if it was forged or its master key
 * version is gone, unless quiet, when it returns false instead.
 */
static bool
key_unwrap(int64 key_id, const char *kind, const char *name,
		   int32 version, bytea *wrapped, uint8 *key, bool quiet)
{
	const uint8 *w = (const uint8 *) VARDATA_ANY(wrapped);

	if (quiet && !KeyringHasVersion(version))
		return false;
	if (VARSIZE_ANY_EXHDR(wrapped) != WRAPPED_LEN ||
		!EnvelopeAead(false, KeyringGet(version), w,
					  (const uint8 *) kind, strlen(kind) + 1,
					  (const uint8 *) name, strlen(name),
					  w + ENVELOPE_NONCE_LEN, ENVELOPE_KEY_LEN, key,
					  (uint8 *) w + ENVELOPE_NONCE_LEN + ENVELOPE_KEY_LEN))
	{
		uint8		check[MASTER_CHECK_LEN];

		if (quiet)
			return false;
		/* the keyring's key for the version, rather than the row, may be wrong */
		master_check_value(version, check);
		master_compare(version, check);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wrapped data key %lld failed authentication", (long long) key_id),
				 errdetail("The row in privacy_guard.keys was altered, or was wrapped by a different master key of version %d.", version)));
	}
	return true;
}

static inline KeyEntry *
lookup(int64 key_id)
{
	KeySlot    *slot = keyslot_lookup(by_id, key_id);

	return slot ? slot->entry : NULL;
}

/*
 * Start fetching the entry of the key after key_id into the CPU's cache.
 * Rows of a table usually follow their subjects' creation order, so the
 * next row's key is often the next id; with a hundred thousand keys cached
 * its entry is otherwise a cache miss of several lines, met only when the
 * next value is opened (~40% of a reveal's time on a 2-core virtual
 * machine).  Fetched now, it arrives while this value is opened.  A wrong
 * guess costs a probe of the neighbouring slot.
 */
static inline void
prefetch_next(int64 key_id)
{
	KeyEntry   *next = lookup(key_id + 1);

	if (next != NULL)
		for (Size off = 0; off < sizeof(KeyEntry); off += 64)
			__builtin_prefetch((const char *) next + off);
}

/* Insert an unwrapped key into the cache, evicting the oldest if full. */
static KeyEntry *
cache_insert(int64 key_id, const uint8 *digest, const uint8 *dek)
{
	KeyEntry   *e;
	SubjectSlot *s;
	bool		found;

	KeySlot    *slot;

	while (cached >= key_cache_size && !dlist_is_empty(&fifo))
	{
		KeyEntry   *old = dlist_container(KeyEntry, fifo, dlist_pop_head_node(&fifo));

		EnvelopeKeyGone(old->dek);
		OPENSSL_cleanse(old->dek, sizeof(old->dek));
		EnvelopeScheduleWipe(&old->schedule);
		s = subjectslot_lookup(by_subject, old->digest);
		if (s != NULL && s->entry == old)
			subjectslot_delete_item(by_subject, s);
		keyslot_delete(by_id, old->key_id);
		dlist_push_head(&spare, &old->fifo);
		cached--;
	}
	slot = keyslot_insert(by_id, key_id, &found);
	if (!found)
	{
		if (dlist_is_empty(&spare))
		{
			/* a block at a time: an entry alone would be rounded up to 1 kB */
			KeyEntry   *block = MemoryContextAllocZero(cache_cxt, sizeof(KeyEntry) * KEY_ENTRY_BLOCK);

			for (int i = 0; i < KEY_ENTRY_BLOCK; i++)
				dlist_push_head(&spare, &block[i].fifo);
		}
		e = dlist_container(KeyEntry, fifo, dlist_pop_head_node(&spare));
		e->key_id = key_id;
		memcpy(e->digest, digest, ENVELOPE_DIGEST_LEN);
		memcpy(e->dek, dek, ENVELOPE_KEY_LEN);
		EnvelopeScheduleSet(&e->schedule, dek);
		dlist_push_tail(&fifo, &e->fifo);
		slot->entry = e;
		cached++;
		s = subjectslot_insert(by_subject, e->digest, &found);
		s->digest = e->digest;	/* the key lives in the entry it maps to */
		s->entry = e;
	}
	return slot->entry;
}

/* Open a value sealed under a cached key, with its expanded schedule. */
bool
KeycacheOpen(const KeyEntry *key, const EnvelopeView *view, uint8 *out)
{
	return EnvelopeOpenScheduled(view, key->dek, &key->schedule, key->digest, out);
}

/* Run a saved read-only plan with the latest snapshot. */
static int
read_latest(SPIPlanPtr plan, Datum *args, long count)
{
	int			rc;

	PushActiveSnapshot(CatalogFreshSnapshot());
	rc = SPI_execute_plan(plan, args, NULL, true, count);
	PopActiveSnapshot();
	return rc;
}

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/*
 * Unwrap a subject's key and cache it, under its digest (computed from the
 * name when digest is NULL).  With quiet, a key that does not unwrap is
 * NULL rather than an error.
 */
static KeyEntry *
cache_unwrapped(int64 key_id, const char *name, int32 version, bytea *wrapped,
				const uint8 *digest, bool quiet)
{
	uint8		computed[ENVELOPE_DIGEST_LEN];
	uint8		dek[ENVELOPE_KEY_LEN];
	KeyEntry   *e;

	if (!key_unwrap(key_id, "subject", name, version, wrapped, dek, quiet))
		return NULL;
	if (digest == NULL)
	{
		KeycacheSubjectDigest(name, strlen(name), computed);
		digest = computed;
	}
	e = cache_insert(key_id, digest, dek);
	OPENSSL_cleanse(dek, sizeof(dek));
	return e;
}

/*
 * Unwrap the key in row i of SPI_tuptable (key_id, name, version, wrapped)
 * and cache it.  With quiet, a key that does not unwrap is skipped (NULL):
 * a bulk load must not fail on a key nobody asked for.
 */
static KeyEntry *
cache_row(int i, bool quiet)
{
	HeapTuple	tup = SPI_tuptable->vals[i];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	int64		key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	Datum		d;
	char	   *name;
	int32		version;
	bytea	   *wrapped;
	KeyEntry   *e;

	e = lookup(key_id);
	if (e != NULL)
		return e;
	/* an erased subject's tombstone: the key is gone */
	d = SPI_getbinval(tup, desc, 4, &isnull);
	if (isnull)
		return NULL;
	wrapped = DatumGetByteaPP(d);
	name = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	version = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	return cache_unwrapped(key_id, name, version, wrapped, NULL, quiet);
}

/*
 * An erased subject keeps a tombstone in privacy_guard.keys (its key id and
 * name, no key), so that nothing is sealed for it again under a new key and
 * its access history still resolves.
 */
static void
subject_erased(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot seal personal data for an erased data subject"),
			 errdetail("The subject's data key was destroyed by an erasure request."),
			 errhint("An erased subject's id cannot be reused; give the person a new id."),
			 errhidestmt(true)));
}

/*
 * Does this database receive privacy_guard.keys by logical replication?
 * Then its keys are the publisher's: one made here would take a key id the
 * publisher gives another key (the sequence is each database's own), or a
 * subject the publisher later gives a key of its own, and the subscription
 * would stop at that row.  Cached; a change to pg_subscription_rel resets it.
 */
static void
subscription_rel_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	keys_subscribed = -1;
}

bool
KeycacheKeysSubscribed(void)
{
	if (keys_subscribed < 0)
		keys_subscribed = CatalogRelationSubscribed(CatalogRelid("keys")) ? 1 : 0;
	return keys_subscribed == 1;
}

static void
refuse_subscribed_key(const char *kind)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot create a %s key in a database that receives privacy_guard.keys by logical replication", kind),
			 errdetail("Its keys are the publisher's: one made here would collide with the publisher's key ids and subjects."),
			 errhint("Write the rows of new subjects, and the first value of a searchable category, on the publisher; their keys arrive with them.")));
}


static AttrNumber
attnum_of(Relation rel, const char *col)
{
	AttrNumber	a = get_attnum(RelationGetRelid(rel), col);

	if (a == InvalidAttrNumber)
		elog(ERROR, "privacy_guard.keys has no column \"%s\"", col);
	return a;
}

static void
set_column(TupleTableSlot *slot, Relation rel, const char *col, Datum value)
{
	AttrNumber	a = attnum_of(rel, col);

	slot->tts_values[a - 1] = value;
	slot->tts_isnull[a - 1] = false;
}

static Oid
name_index(Relation rel)
{
	ListCell   *lc;
	Oid			any = InvalidOid;

	if (OidIsValid(keys_name_index))
		return keys_name_index;
	/*
	 * The index of the table's UNIQUE (kind, name) constraint, as
	 * PostgreSQL infers an arbiter: valid, ready, live, immediate, whole
	 * columns (not one a concurrent REINDEX is building beside it).  While
	 * a REINDEX CONCURRENTLY swaps the constraint's index, another such
	 * index serves; and where none does, InvalidOid (the caller lets
	 * INSERT ... ON CONFLICT find its own).
	 */
	foreach(lc, RelationGetIndexList(rel))
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = idx->rd_index;

		if (form->indisunique && form->indisvalid && form->indisready && form->indislive &&
			form->indimmediate &&
			form->indnatts == 2 && form->indnkeyatts == 2 &&
			form->indkey.values[0] == attnum_of(rel, "kind") &&
			form->indkey.values[1] == attnum_of(rel, "name") &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL))
		{
			if (!OidIsValid(keys_name_index) && OidIsValid(get_index_constraint(lfirst_oid(lc))))
				keys_name_index = lfirst_oid(lc);
			else if (!OidIsValid(any))
				any = lfirst_oid(lc);
		}
		index_close(idx, AccessShareLock);
	}
	return OidIsValid(keys_name_index) ? keys_name_index : any;
}

/*
 * Insert a new subject's key row, as INSERT ... ON CONFLICT (kind, name) DO
 * NOTHING would, without the executor: a speculative insertion, so that a
 * subject given a key meanwhile by another session (or erased, its
 * tombstone there) is a conflict, not an error.  No trigger or rule runs
 * (the table has no row trigger; a subscriber is refused before this), and
 * every column is set here, the data key (into dek) made and wrapped only
 * for a row that may be inserted.  Returns the new key id; 0 on a conflict,
 * the conflicting row's TID in *found (the caller reads the row instead);
 * or -1 when no index can arbitrate at this moment (a REINDEX CONCURRENTLY
 * swapping the constraint's index: the caller inserts through SPI).  The
 * row is made here, so the table's CHECKs (kind, the tombstone's shape)
 * hold by construction and are not evaluated: a new customer's first write
 * in a COPY no longer parses and runs them, nor starts an executor, every
 * row.
 * SPI connected, as the extension's owner.
 */
static int64
insert_subject_key(const char *name, uint8 *dek, ItemPointer found)
{
	Relation	rel = table_open(CatalogRelid("keys"), RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	List	   *arbiter = list_make1_oid(name_index(rel));
	ItemPointerData conflict;
	int64		key_id = 0;
	bool		made = false;

	ItemPointerSetInvalid(found);
	if (!OidIsValid(linitial_oid(arbiter)))
	{
		/* no index to arbitrate by at this moment (a REINDEX CONCURRENTLY swapping it) */
		ExecDropSingleTupleTableSlot(slot);
		FreeExecutorState(estate);
		table_close(rel, NoLock);
		return -1;
	}
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, true);
	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
		slot->tts_isnull[i] = true;
	set_column(slot, rel, "kind", CStringGetTextDatum("subject"));
	set_column(slot, rel, "name", CStringGetTextDatum(name));
	set_column(slot, rel, "created_at", TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	/* (the key and its id, set below, are made only for a row that may be inserted) */
	set_column(slot, rel, "key_id", Int64GetDatum(0));
	ExecStoreVirtualTuple(slot);
	/*
	 * As ExecInsert() does for ON CONFLICT: a conflict found before the
	 * insertion is a row there (committed, or this transaction's), whose
	 * TID is returned; one found after it, another session inserting the
	 * same subject at the same time, makes the check run again, which
	 * waits for that session.
	 */
	while (ExecCheckIndexConstraints(rri, slot, estate, &conflict, arbiter))
	{
		uint32		token;
		bool		conflicted = false;
		List	   *recheck;

		if (!made)
		{
			int32		version;
			bytea	   *wrapped = new_wrapped_key("subject", name, dek, &version);

			set_column(slot, rel, "master_version", Int32GetDatum(version));
			set_column(slot, rel, "wrapped", PointerGetDatum(wrapped));
			made = true;
		}
		key_id = nextval_internal(CatalogRelid("keys_key_id_seq"), false);
		set_column(slot, rel, "key_id", Int64GetDatum(key_id));
		token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
		table_tuple_insert_speculative(rel, slot, GetCurrentCommandId(true), 0, NULL, token);
		recheck = ExecInsertIndexTuples(rri, slot, estate, false, true, &conflicted, arbiter);
		table_tuple_complete_speculative(rel, slot, token, !conflicted);
		SpeculativeInsertionLockRelease(GetCurrentTransactionId());
		list_free(recheck);
		if (!conflicted)
		{
			CommandCounterIncrement();
			break;
		}
		key_id = 0;
		CHECK_FOR_INTERRUPTS();
	}
	if (key_id == 0)
		*found = conflict;
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	return key_id;
}

/*
 * The key of a subject whose row insert_subject_key() found at tid: read
 * from that row on the latest snapshot, unwrapped and cached.  *read is
 * false when the row is no longer there to read (updated or deleted since:
 * the caller then looks the subject up by name); NULL with *read true is
 * an erased subject's tombstone.
 */
static KeyEntry *
cache_found(ItemPointer tid, const char *name, const uint8 *digest, bool *read)
{
	Relation	rel = table_open(CatalogRelid("keys"), AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	KeyEntry   *e = NULL;

	*read = false;
	PushActiveSnapshot(CatalogFreshSnapshot());
	if (table_tuple_fetch_row_version(rel, tid, GetActiveSnapshot(), slot))
	{
		bool		isnull;
		bool		kind_null;
		bool		name_null;
		Datum		kind = slot_getattr(slot, attnum_of(rel, "kind"), &kind_null);
		Datum		rowname = slot_getattr(slot, attnum_of(rel, "name"), &name_null);

		/* the row the unique index found for ('subject', name), checked all the same */
		if (!kind_null && !name_null &&
			strcmp(TextDatumGetCString(kind), "subject") == 0 &&
			strcmp(TextDatumGetCString(rowname), name) == 0)
		{
			int64		key_id = DatumGetInt64(slot_getattr(slot, attnum_of(rel, "key_id"), &isnull));
			Datum		wrapped = slot_getattr(slot, attnum_of(rel, "wrapped"), &isnull);

			*read = true;
			e = lookup(key_id);
			if (e == NULL && !isnull)
				e = cache_unwrapped(key_id, name,
									DatumGetInt32(slot_getattr(slot, attnum_of(rel, "master_version"), &isnull)),
									DatumGetByteaPP(wrapped), digest, false);
		}
	}
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	return e;
}

/*
 * insert_subject_key() through SPI, for the moment no index can arbitrate:
 * INSERT ... ON CONFLICT DO NOTHING, whose conflict with any unique index
 * is no error.  Returns the new key id, or 0 (the caller reads the row).
 */
static int64
insert_subject_key_spi(const char *name, uint8 *dek)
{
	Oid			types[3] = {TEXTOID, INT4OID, BYTEAOID};
	Datum		args[3];
	int32		version;
	int64		key_id = 0;
	bool		isnull;
	int			rc;

	args[2] = PointerGetDatum(new_wrapped_key("subject", name, dek, &version));
	args[0] = CStringGetTextDatum(name);
	args[1] = Int32GetDatum(version);
	rc = SPI_execute_with_args("INSERT INTO privacy_guard.keys (kind, name, master_version, wrapped)"
							   " VALUES ('subject', $1, $2, $3) ON CONFLICT DO NOTHING RETURNING key_id",
							   3, types, args, NULL, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not store a data key");
	if (SPI_processed == 1)
		key_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	CommandCounterIncrement();
	return key_id;
}

/*
 * The data key of a subject, created if it has none; an erased subject is
 * refused.  The returned entry stays valid until the next call into this
 * module.
 */
KeyEntry *
KeycacheForSubject(const char *subject, int len)
{
	uint8		digest[ENVELOPE_DIGEST_LEN];
	SubjectSlot *s;
	KeyEntry   *e = NULL;
	CatalogOwnerState owner;
	char	   *name;
	Datum		args[3];
	int			rc;

	keycache_ensure();
	KeycacheSubjectDigest(subject, len, digest);
	s = subjectslot_lookup(by_subject, digest);
	if (s != NULL)
		return s->entry;

	name = pnstrdup(subject, len);
	args[0] = CStringGetTextDatum(name);
	CatalogBecomeOwner(&owner);
	SPI_connect();
	if (plan_by_subject == NULL)
	{
		Oid			types[1] = {TEXTOID};

		plan_by_subject = keep_plan(
			"SELECT key_id, name, master_version, wrapped FROM privacy_guard.keys"
			" WHERE kind OPERATOR(pg_catalog.=) 'subject'"
			" AND name OPERATOR(pg_catalog.=) $1", 1, types);
	}

	/*
	 * A subject this backend has not met: most often a new one (a sign-up,
	 * an import), so its key is made and inserted at once.  A subject with
	 * a key already, or erased (its tombstone), conflicts in the unique
	 * index, and its row is read where the index found it: one index
	 * probe either way, and a key is made and wrapped only for a row that
	 * is inserted.
	 */
	{
		uint8		dek[ENVELOPE_KEY_LEN];
		bool		subscribed = KeycacheKeysSubscribed();
		int64		new_key_id = 0;
		ItemPointerData found;
		bool		read = false;

		ItemPointerSetInvalid(&found);
		if (!subscribed)
			new_key_id = insert_subject_key(name, dek, &found);
		if (new_key_id < 0)
			new_key_id = insert_subject_key_spi(name, dek);
		if (new_key_id != 0)
		{
			e = cache_insert(new_key_id, digest, dek);
			xact_created_key = true;
		}
		else if (ItemPointerIsValid(&found))
		{
			/* it has a key (this session or another made it), or was erased: its row */
			e = cache_found(&found, name, digest, &read);
			if (read && e == NULL)
				subject_erased();
		}
		if (e == NULL && !read)
		{
			/* the row moved meanwhile, or this database receives its keys: by name */
			rc = read_latest(plan_by_subject, args, 1);
			if (rc == SPI_OK_SELECT && SPI_processed == 1)
			{
				e = cache_row(0, false);
				if (e == NULL)
					subject_erased();
			}
			else if (subscribed)
				refuse_subscribed_key("subject");
		}
		OPENSSL_cleanse(dek, sizeof(dek));
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent data key creation"),
				 errhint("The transaction might succeed if retried.")));
	return e;
}

/* Load and unwrap up to key_cache_size subject keys in one query. */
static void
bulk_load(void)
{
	Datum		args[1];
	int			rc;

	if (plan_bulk == NULL)
	{
		Oid			types[1] = {INT8OID};

		plan_bulk = keep_plan(
			"SELECT key_id, name, master_version, wrapped FROM privacy_guard.keys"
			" WHERE kind OPERATOR(pg_catalog.=) 'subject' AND wrapped IS NOT NULL"
			" ORDER BY key_id DESC LIMIT $1", 1, types);
	}
	args[0] = Int64GetDatum((int64) key_cache_size);
	rc = read_latest(plan_bulk, args, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not load data keys: %s", SPI_result_code_string(rc));
	/*
	 * Cached oldest first: entries then lie in memory in the order of their
	 * ids, which a table's rows usually follow, and the oldest subjects are
	 * the first to be evicted.
	 */
	for (uint64 i = SPI_processed; i > 0; i--)
		(void) cache_row((int) (i - 1), true);
}

/*
 * Load and unwrap the subject keys with ids from key_id on, up to
 * RANGE_LOAD of them (a quarter of a small cache): after a bulk load, misses that come in a run (a
 * table whose rows follow their subjects' creation, past what the bulk
 * load held) cost one query a run, not one a row.
 */
#define RANGE_LOAD 256
#define RANGE_RUN_GAP 16

static void
range_load(int64 key_id)
{
	Datum		args[2];
	int			rc;
	/* a quarter of the cache at most: the keys loaded must not evict the one missed */
	int			n = Min(RANGE_LOAD, key_cache_size / 4);

	if (n < RANGE_RUN_GAP)
		return;

	if (plan_range == NULL)
	{
		Oid			types[2] = {INT8OID, INT8OID};

		plan_range = keep_plan(
			"SELECT key_id, name, master_version, wrapped FROM privacy_guard.keys"
			" WHERE key_id OPERATOR(pg_catalog.>=) $1 AND key_id OPERATOR(pg_catalog.<) $2"
			" AND kind OPERATOR(pg_catalog.=) 'subject' AND wrapped IS NOT NULL"
			" ORDER BY key_id", 2, types);
	}
	args[0] = Int64GetDatum(key_id);
	args[1] = Int64GetDatum(key_id + n);
	rc = read_latest(plan_range, args, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not load data keys: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
		(void) cache_row((int) i, true);
}

/*
 * The data key with this id, or NULL if no such key exists (the subject was
 * erased).  The returned entry stays valid until the next call into this
 * module.  allow_bulk lets repeated misses load every key at once: for
 * reveal, not for write checks that anyone with INSERT can drive.
 */
KeyEntry *
KeycacheForId(int64 key_id, bool allow_bulk)
{
	return KeycacheForIdChecked(key_id, allow_bulk, NULL);
}

/*
 * KeycacheForId(), and with missing, whether a NULL is a key id no subject
 * ever had (no row, not even an erased subject's tombstone): an envelope
 * altered, or copied from another database.
 */
KeyEntry *
KeycacheForIdChecked(int64 key_id, bool allow_bulk, bool *missing)
{
	KeyEntry   *e;
	CatalogOwnerState owner;
	Datum		args[1];
	int			rc;

	if (missing != NULL)
		*missing = false;
	keycache_ensure();
	e = lookup(key_id);
	if (e != NULL)
	{
		prefetch_next(key_id);
		return e;
	}

	CatalogBecomeOwner(&owner);
	SPI_connect();
	if (allow_bulk && ++xact_misses >= BULK_AFTER_MISSES)
	{
		if (!xact_bulk_done)
		{
			xact_bulk_done = true;
			bulk_load();
		}
		else if (key_id > last_miss && key_id - last_miss <= RANGE_RUN_GAP)
			range_load(key_id);
		e = lookup(key_id);
	}
	last_miss = key_id;
	if (e == NULL)
	{
		if (plan_by_id == NULL)
		{
			Oid			types[1] = {INT8OID};

			plan_by_id = keep_plan(
				"SELECT key_id, name, master_version, wrapped FROM privacy_guard.keys"
				" WHERE key_id OPERATOR(pg_catalog.=) $1"
				" AND kind OPERATOR(pg_catalog.=) 'subject'", 1, types);
		}
		args[0] = Int64GetDatum(key_id);
		rc = read_latest(plan_by_id, args, 1);
		if (rc == SPI_OK_SELECT && SPI_processed == 1)
			e = cache_row(0, false);
		else if (rc == SPI_OK_SELECT && missing != NULL)
			*missing = true;
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	return e;
}

/*
 * The blind-index key of a category, and its key id.  When the category has
 * none yet it is created if create is true; otherwise returns 0 (nothing
 * was indexed under the category yet, so no search term can match).
 */
int64
KeycacheIndexKey(const char *category, uint8 *key, bool create)
{
	IndexKeyEntry *ie = index_entry(category, create);

	if (ie == NULL)
		return 0;
	memcpy(key, ie->key, ENVELOPE_KEY_LEN);
	return ie->key_id;
}

/*
 * How many times the cache was emptied: a KeyEntry a caller holds stays
 * valid while this does not change.
 */
uint64
KeycacheGeneration(void)
{
	return generation;
}

/* An HMAC-SHA-256 context under a search key, kept to restart from. */
static EVP_MAC_CTX *
hmac_context(const uint8 *key)
{
	OSSL_PARAM	params[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	EVP_MAC_CTX *ctx;

	if (hmac_algorithm == NULL)
		hmac_algorithm = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = hmac_algorithm ? EVP_MAC_CTX_new(hmac_algorithm) : NULL;
	if (ctx == NULL || EVP_MAC_init(ctx, key, ENVELOPE_KEY_LEN, params) != 1)
	{
		EVP_MAC_CTX_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a search term")));
	}
	return ctx;
}

/*
 * The first len bytes of HMAC-SHA-256 of the parts under ctx's key, into
 * out; false if OpenSSL failed.
 */
static bool
hmac_parts(EVP_MAC_CTX *ctx, const uint8 *const *parts, const size_t *lens, int nparts,
		   uint8 *out, size_t len)
{
	uint8		full[EVP_MAX_MD_SIZE];
	size_t		outlen = 0;
	bool		ok = EVP_MAC_init(ctx, NULL, 0, NULL) == 1;	/* restarts from the key's state */

	for (int i = 0; ok && i < nparts; i++)
		ok = EVP_MAC_update(ctx, parts[i], lens[i]) == 1;
	ok = ok && EVP_MAC_final(ctx, full, &outlen, sizeof(full)) == 1 && outlen >= len;
	if (ok)
		memcpy(out, full, len);
	OPENSSL_cleanse(full, sizeof(full));
	return ok;
}

/*
 * The search term's HMAC of plain under a search key (its first
 * ENVELOPE_TERM_HMAC_LEN bytes into mac), with the key's HMAC context kept
 * beside it: ~0.2 µs a term, where a one-shot HMAC() took ~1 µs.
 */
static void
index_term(IndexKeyEntry *ie, const uint8 *plain, int len, uint8 *mac)
{
	const uint8 *parts[1] = {plain};
	size_t		lens[1] = {len};

	if (ie->hmac == NULL)
		ie->hmac = hmac_context(ie->key);
	if (!hmac_parts(ie->hmac, parts, lens, 1, mac, ENVELOPE_TERM_HMAC_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a search term")));
}

/* The same under the category's search key; its id, or 0 as KeycacheIndexKey() returns. */
int64
KeycacheIndexTerm(const char *category, const uint8 *plain, int len, bool create, uint8 *mac)
{
	IndexKeyEntry *ie = index_entry(category, create);

	if (ie == NULL)
		return 0;
	index_term(ie, plain, len, mac);
	return ie->key_id;
}

/*
 * The binding of a term to the data key a value is sealed under (into
 * bind, ENVELOPE_BIND_LEN bytes): HMAC-SHA-256 of the data key id (8,
 * big-endian), the category's length and name, and the term, under a key
 * derived from the category's search key for this use alone (so that no
 * binding is ever the term of some plaintext).  False when the term is
 * not under the category's current search key.
 */
static bool
index_bind(IndexKeyEntry *ie, int64 data_key_id, const char *category, int catlen,
		   const uint8 *term, uint8 *bind)
{
	uint8		id[8];
	uint8		len = (uint8) catlen;
	const uint8 *parts[4] = {id, &len, (const uint8 *) category, term};
	size_t		lens[4] = {8, 1, catlen, ENVELOPE_TERM_LEN};
	uint64		term_key = 0;

	for (int i = 0; i < 8; i++)
		term_key = (term_key << 8) | term[i];
	if (term_key != (uint64) ie->key_id)
		return false;
	if (ie->bind == NULL)
	{
		/* begins with a NUL byte, which no text has: never a term's input */
		static const char label[] = "\0privacy_guard search term binding";
		const uint8 *lparts[1] = {(const uint8 *) label};
		size_t		llens[1] = {sizeof(label) - 1};
		uint8		derived[ENVELOPE_KEY_LEN];

		if (ie->hmac == NULL)
			ie->hmac = hmac_context(ie->key);
		if (!hmac_parts(ie->hmac, lparts, llens, 1, derived, sizeof(derived)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not compute a search term")));
		ie->bind = hmac_context(derived);
		OPENSSL_cleanse(derived, sizeof(derived));
	}
	for (int i = 0; i < 8; i++)
		id[i] = (uint8) ((uint64) data_key_id >> (56 - 8 * i));
	if (!hmac_parts(ie->bind, parts, lens, 4, bind, ENVELOPE_BIND_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a search term")));
	return true;
}

/*
 * A searchable value's search field (out, ENVELOPE_SEARCH_LEN bytes): the
 * term of plain under the category's search key (the key's id, big-endian,
 * and the HMAC) and its binding to the data key the value is sealed under.
 * Returns false when the category has no key and create is false.
 */
bool
KeycacheIndexSearch(const char *category, const uint8 *plain, int len, bool create,
					int64 data_key_id, uint8 *out)
{
	IndexKeyEntry *ie = index_entry(category, create);
	bool		bound PG_USED_FOR_ASSERTS_ONLY;

	if (ie == NULL)
		return false;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8) ((uint64) ie->key_id >> (56 - 8 * i));
	index_term(ie, plain, len, out + 8);
	/* the term and its binding under the one key found */
	bound = index_bind(ie, data_key_id, category, strlen(category), out, out + ENVELOPE_TERM_LEN);
	Assert(bound);
	return true;
}

/*
 * Does a value's binding prove that its key id, category and term were
 * sealed together?  False when it carries none (version 3), when its term
 * is not under the category's current search key (the binding's key is
 * gone), or when the binding does not match.
 */
bool
KeycacheIndexBindValid(const EnvelopeView *view)
{
	char		category[ENVELOPE_MAX_CATEGORY + 1];
	uint8		expected[ENVELOPE_BIND_LEN];
	IndexKeyEntry *ie;
	bool		ok;

	if (view->bind == NULL || view->term == NULL)
		return false;
	memcpy(category, view->category, view->catlen);
	category[view->catlen] = '\0';
	ie = index_entry(category, false);
	ok = ie != NULL &&
		index_bind(ie, view->key_id, category, view->catlen, view->term, expected) &&
		CRYPTO_memcmp(expected, view->bind, ENVELOPE_BIND_LEN) == 0;
	OPENSSL_cleanse(expected, sizeof(expected));
	return ok;
}

/* Make sure the category has a search key (created if it has none); its id. */
int64
KeycacheIndexKeyEnsure(const char *category)
{
	return index_entry(category, true)->key_id;
}

/* The cache entry of a category's blind-index key, as KeycacheIndexKey() describes. */
static IndexKeyEntry *
index_entry(const char *category, bool create)
{
	IndexKeyEntry *ie;
	char		hkey[ENVELOPE_MAX_CATEGORY + 1];
	uint8		key[ENVELOPE_KEY_LEN];
	CatalogOwnerState owner;
	Datum		args[3];
	Oid			types[3] = {TEXTOID, INT4OID, BYTEAOID};
	bool		found = false;
	int64		key_id = 0;
	int			rc;

	keycache_ensure();
	memset(hkey, 0, sizeof(hkey));
	strlcpy(hkey, category, sizeof(hkey));
	ie = hash_search(index_keys, hkey, HASH_FIND, NULL);
	if (ie != NULL)
		return ie;

	args[0] = CStringGetTextDatum(category);
	CatalogBecomeOwner(&owner);
	SPI_connect();
	for (int attempt = 0; attempt < 2 && !found; attempt++)
	{
		PushActiveSnapshot(CatalogFreshSnapshot());
		rc = SPI_execute_with_args(
			"SELECT key_id, name, master_version, wrapped FROM privacy_guard.keys"
			" WHERE kind OPERATOR(pg_catalog.=) 'index'"
			" AND name OPERATOR(pg_catalog.=) $1", 1, types, args, NULL, true, 1);
		PopActiveSnapshot();
		if (rc == SPI_OK_SELECT && SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			key_unwrap(key_id, "index", category,
					   DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull)),
					   DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull)),
					   key, false);
			found = true;
		}
		else if (!create)
			break;
		else if (attempt == 0)
		{
			int32		version;

			if (KeycacheKeysSubscribed())
				refuse_subscribed_key("search");

			args[2] = PointerGetDatum(new_wrapped_key("index", category, key, &version));
			args[1] = Int32GetDatum(version);
			OPENSSL_cleanse(key, ENVELOPE_KEY_LEN);
			rc = SPI_execute_with_args(
				"INSERT INTO privacy_guard.keys (kind, name, master_version, wrapped)"
				" VALUES ('index', $1, $2, $3) ON CONFLICT (kind, name) DO NOTHING",
				3, types, args, NULL, false, 0);
			if (rc != SPI_OK_INSERT)
				elog(ERROR, "could not store blind-index key");
			xact_created_key = true;
		}
	}
	SPI_finish();
	CatalogRestoreUser(&owner);
	if (!found && !create)
		return NULL;
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent blind-index key creation"),
				 errhint("The transaction might succeed if retried.")));
	ie = hash_search(index_keys, hkey, HASH_ENTER, NULL);
	ie->key_id = key_id;
	memcpy(ie->key, key, ENVELOPE_KEY_LEN);
	OPENSSL_cleanse(key, sizeof(key));
	ie->hmac = NULL;
	ie->bind = NULL;
	return ie;
}

/*
 * Delete a category's search key (rotate_search_key(), which creates the
 * next one in the same transaction), and forget it here at once.
 */
void
KeycacheRetireIndexKey(const char *category, int64 key_id)
{
	IndexKeyEntry *ie;
	char		hkey[ENVELOPE_MAX_CATEGORY + 1];
	CatalogOwnerState owner;
	Datum		args[1] = {Int64GetDatum(key_id)};
	Oid			types[1] = {INT8OID};
	int			rc;

	keycache_ensure();
	memset(hkey, 0, sizeof(hkey));
	strlcpy(hkey, category, sizeof(hkey));
	ie = hash_search(index_keys, hkey, HASH_FIND, NULL);
	if (ie != NULL)
	{
		index_key_forget(ie);
		(void) hash_search(index_keys, hkey, HASH_REMOVE, NULL);
	}
	CatalogBecomeOwner(&owner);
	SPI_connect();
	rc = SPI_execute_with_args("DELETE FROM privacy_guard.keys WHERE key_id OPERATOR(pg_catalog.=) $1"
							   " AND kind OPERATOR(pg_catalog.=) 'index'", 1, types, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE || SPI_processed != 1)
		elog(ERROR, "could not delete search key " INT64_FORMAT, key_id);
	SPI_finish();
	CatalogRestoreUser(&owner);
}

/*
 * Re-wrap, under the active version, every key the latest snapshot shows
 * under another one; adds the count to *count.
 */
static void
rotate_pass(int32 active, int *count)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		a[1] = {Int32GetDatum(active)};
	Portal		portal;
	SPIPlanPtr	plan;

	plan = SPI_prepare("SELECT key_id, kind, name, master_version, wrapped"
					   " FROM privacy_guard.keys"
					   " WHERE master_version OPERATOR(pg_catalog.<>) $1"
					   " ORDER BY key_id FOR UPDATE", 1, &types[1]);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	portal = SPI_cursor_open(NULL, plan, a, NULL, false);
	for (;;)
	{
		SPITupleTable *batch;
		uint64		n;

		SPI_cursor_fetch(portal, true, 1000);
		n = SPI_processed;
		batch = SPI_tuptable;
		if (n == 0)
			break;
		{
			Datum	   *ids = palloc(sizeof(Datum) * n);
			Datum	   *versions = palloc(sizeof(Datum) * n);
			Datum	   *wraps = palloc(sizeof(Datum) * n);
			Oid			utypes[3] = {INT8ARRAYOID, INT4ARRAYOID, BYTEAARRAYOID};
			Datum		args[3];
			int			rc;

			for (uint64 i = 0; i < n; i++)
			{
				HeapTuple	tup = batch->vals[i];
				TupleDesc	desc = batch->tupdesc;
				bool		isnull;
				int64		key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
				char	   *kind = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
				char	   *name = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));
				int32		version = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
				bytea	   *wrapped = DatumGetByteaPP(SPI_getbinval(tup, desc, 5, &isnull));
				uint8		key[ENVELOPE_KEY_LEN];
				bytea	   *rewrapped = palloc(VARHDRSZ + WRAPPED_LEN);

				key_unwrap(key_id, kind, name, version, wrapped, key, false);
				SET_VARSIZE(rewrapped, VARHDRSZ + WRAPPED_LEN);
				versions[i] = Int32GetDatum(key_wrap(kind, name, key, (uint8 *) VARDATA(rewrapped)));
				OPENSSL_cleanse(key, sizeof(key));
				ids[i] = Int64GetDatum(key_id);
				wraps[i] = PointerGetDatum(rewrapped);
				pfree(kind);
				pfree(name);
			}
			/* one statement a batch: one catalog record a batch, not one a key */
			args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			args[1] = PointerGetDatum(construct_array(versions, n, INT4OID, 4, true, TYPALIGN_INT));
			args[2] = PointerGetDatum(construct_array(wraps, n, BYTEAOID, -1, false, TYPALIGN_INT));
			rc = SPI_execute_with_args("UPDATE privacy_guard.keys k"
									   " SET master_version = v.version, wrapped = v.wrapped"
									   " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3))"
									   "  AS v(key_id, version, wrapped)"
									   " WHERE k.key_id OPERATOR(pg_catalog.=) v.key_id",
									   3, utypes, args, NULL, false, 0);
			if (rc != SPI_OK_UPDATE || SPI_processed != n)
				elog(ERROR, "could not re-wrap data keys");
			(*count) += n;
			ProgressAdd(n);
			ProgressFlush();
			for (uint64 i = 0; i < n; i++)
				pfree(DatumGetPointer(wraps[i]));
			pfree(ids);
			pfree(versions);
			pfree(wraps);
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(portal);
}

PG_FUNCTION_INFO_V1(pguard_rotate_master_key);

/*
 * rotate_master_key(): re-wrap every key not yet under the active master key
 * version.  Table data is untouched: data keys themselves do not change.
 *
 * A key created by a transaction still open is invisible to a snapshot, so
 * one pass is not enough.  After the first pass (which takes no table lock:
 * first writes for new subjects go on), SHARE lock on privacy_guard.keys
 * waits for every transaction that created a key to end and holds off new
 * ones until commit; a second pass with a new snapshot then re-wraps what
 * they created.  Hence READ COMMITTED: a transaction snapshot would not see
 * them.
 */
Datum
pguard_rotate_master_key(PG_FUNCTION_ARGS)
{
	int32		active = KeyringActiveVersion();
	int			count = 0;
	int			quiet;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("rotate_master_key() must run at READ COMMITTED"),
				 errdetail("Keys created by transactions still open when it starts are re-wrapped only from a newer snapshot."),
				 errhint("Run it outside an explicit transaction, or in one at READ COMMITTED.")));
	quiet = CatalogQuietBegin();	/* keys are their parameters: nothing for pgaudit */
	SPI_connect();
	master_verify(active);
	/* privacy_guard.progress shows how many keys are left */
	{
		Oid			ctype = INT4OID;
		Datum		carg = Int32GetDatum(active);
		bool		isnull;
		int64		total = -1;

		if (SPI_execute_with_args("SELECT pg_catalog.count(*) FROM privacy_guard.keys"
								  " WHERE master_version OPERATOR(pg_catalog.<>) $1",
								  1, &ctype, &carg, NULL, true, 1) == SPI_OK_SELECT)
			total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		ProgressBegin("rotate_master_key", "re-wrapping data keys", CatalogRelid("keys"), total);
	}
	rotate_pass(active, &count);

	/*
	 * Wait for the transactions that created keys, without queueing for
	 * the lock: a queued SHARE request would hold up every later first
	 * write of a new customer behind a writer that keeps its transaction
	 * open.  Given up after a while: what was re-wrapped commits, and
	 * master_key_versions() counts what is left.
	 */
	for (int waited_ms = 0;; waited_ms += 10)
	{
		if (ConditionalLockRelationOid(CatalogRelid("keys"), ShareLock))
		{
			ProgressPhase("re-wrapping keys created meanwhile", -1);
			rotate_pass(active, &count);
			break;
		}
		if (waited_ms >= ROTATION_WAIT_MS)
		{
			ereport(WARNING,
					(errmsg("rotate_master_key() could not wait for the transactions that are creating keys"),
					 errdetail("Keys they create stay under an older master key version."),
					 errhint("Run it again, and check privacy_guard.master_key_versions() before removing a version from the keyring.")));
			break;
		}
		pg_usleep(10000L);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	CatalogQuietEnd(quiet);
	ProgressEnd();
	/* a rotation that rolls back re-wrapped nothing */
	AuditRecordAtCommit(GetUserId(), "key_rotation", "rotated",
						psprintf("%d keys re-wrapped under master key version %d", count, active), NULL);
	PG_RETURN_INT32(count);
}

PG_FUNCTION_INFO_V1(pguard_keyring_versions);

/* keyring_versions() -> int[]: the master key versions the keyring holds, ascending. */
Datum
pguard_keyring_versions(PG_FUNCTION_ARGS)
{
	int32		versions[256];
	Datum		elems[256];
	int			n = KeyringVersions(versions, lengthof(versions));

	for (int i = 0; i < n; i++)
		elems[i] = Int32GetDatum(versions[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

static void
keycache_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(MasterCheckShared)));
}

static void
keycache_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	master_checks = ShmemInitStruct("privacy_guard master key checks", sizeof(MasterCheckShared), &found);
	if (!found)
	{
		SpinLockInit(&master_checks->mutex);
		master_checks->used = 0;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
KeycacheInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = keycache_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = keycache_shmem_startup;
	DefineCustomIntVariable("privacy_guard.key_cache_size",
							"Unwrapped data keys each backend may cache.",
							"Each entry takes about 540 bytes (the key and its expanded AES-GCM schedule), about 620 with the hash tables at the bound; keys are wiped on eviction.",
							&key_cache_size, 131072, 16, 16 * 1024 * 1024,
							PGC_SUSET, 0, NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(keycache_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(SUBSCRIPTIONRELMAP, subscription_rel_changed, (Datum) 0);
	CatalogOnChange(keycache_changed_elsewhere);
	RegisterXactCallback(keycache_xact_callback, NULL);
	RegisterSubXactCallback(keycache_subxact_callback, NULL);
}

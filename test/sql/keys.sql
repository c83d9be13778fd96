-- Key hierarchy: one data key per subject, stored only wrapped, created on
-- first use; rotation with a single master key version.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
CREATE TABLE accounts (id text PRIMARY KEY, email text);
SELECT privacy_guard.protect('accounts', 'email', 'contact', 'id');
INSERT INTO accounts VALUES ('c-1', 'one@example.com'), ('c-2', 'two@example.com');

-- TESTS
-- one key per subject, however many values are sealed for it
INSERT INTO accounts SELECT 'c-' || g, g || '@example.com' FROM generate_series(3, 50) g;
UPDATE accounts SET email = 'again@example.com' WHERE id = 'c-1';
SELECT privacy_guard.seal('x'::text, 'contact', 'c-1') IS NOT NULL AS sealed_again;
SELECT count(*) AS subject_keys, count(DISTINCT name) AS subjects
  FROM privacy_guard.keys WHERE kind = 'subject';
-- a key made in a transaction that is prepared, then rolled back, is made
-- again by the next write (not kept in this backend with no row behind it)
BEGIN;
INSERT INTO accounts VALUES ('c-prepared', 'prepared@example.com');
PREPARE TRANSACTION 'keys_prepared';
ROLLBACK PREPARED 'keys_prepared';
INSERT INTO accounts VALUES ('c-prepared', 'after@example.com');
SELECT count(*) AS prepared_subject_keys FROM privacy_guard.keys WHERE kind = 'subject' AND name = 'c-prepared';
DELETE FROM accounts WHERE id = 'c-prepared';
-- keys are stored wrapped: 12-byte nonce, 32-byte key, 16-byte tag, under version 1
SELECT DISTINCT length(wrapped) AS wrapped_len, master_version FROM privacy_guard.keys;
-- no two wrapped keys are alike
SELECT count(DISTINCT wrapped) = count(*) AS all_distinct FROM privacy_guard.keys;
-- a key row altered in the table no longer unwraps, with a clear error
CREATE TABLE other (id text PRIMARY KEY, email text);
SELECT privacy_guard.protect('other', 'email', 'contact', 'id');
INSERT INTO other VALUES ('victim', 'victim@example.com'), ('thief', 'thief@example.com');
UPDATE privacy_guard.keys SET wrapped = (SELECT wrapped FROM privacy_guard.keys WHERE name = 'victim')
 WHERE name = 'thief';
SELECT privacy_guard.reveal(email, 'profile') FROM other WHERE id = 'thief';
-- the same subject in two tables shares its key
INSERT INTO other VALUES ('c-2', 'two-elsewhere@example.com');
SELECT count(*) FROM privacy_guard.keys WHERE name = 'c-2';
-- rotation with one master key version has nothing to re-wrap
SELECT privacy_guard.rotate_master_key();
-- the key cache size is a superuser setting
SHOW privacy_guard.key_cache_size;
SET ROLE app;
SET privacy_guard.key_cache_size = 100;
-- the keyring settings are not visible to ordinary roles
SHOW privacy_guard.keyring_file;
SELECT count(*) FROM pg_settings WHERE name LIKE 'privacy_guard.keyring%';
RESET ROLE;
-- a tiny cache still reveals everything (keys are evicted and reloaded in
-- bulk), and the bulk load skips the broken key nobody asked for
SET privacy_guard.key_cache_size = 16;
SELECT count(privacy_guard.reveal(email, 'profile')) FROM accounts;
RESET privacy_guard.key_cache_size;
-- many subjects read in key order through caches of every size: the bulk
-- load, then runs of misses loaded a range at a time (never more than a
-- quarter of the cache, so a range does not evict the key that missed),
-- and an erased subject in the middle of a range reveals NULL
CREATE TABLE many (id int PRIMARY KEY, email text);
SELECT privacy_guard.protect('many', 'email', 'contact', 'id') IS NOT NULL AS protected;
INSERT INTO many SELECT g, 'm' || g || '@example.com' FROM generate_series(1, 1200) g;
UPDATE privacy_guard.keys SET master_version = NULL, wrapped = NULL, erased_at = now() WHERE kind = 'subject' AND name = '600';
CREATE FUNCTION pg_temp.reveal_all(cache int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    PERFORM set_config('privacy_guard.key_cache_size', cache::text, true);
    SELECT count(*) FILTER (WHERE privacy_guard.reveal(email, 'profile') = 'm' || id || '@example.com')
           || ' revealed, ' ||
           count(*) FILTER (WHERE privacy_guard.reveal(email, 'profile') IS NULL) || ' erased'
      INTO result FROM (SELECT * FROM many ORDER BY id) m;
    RETURN result;
END $$;
SELECT cache, pg_temp.reveal_all(cache) FROM unnest(ARRAY[16, 100, 255, 300, 131072]) AS cache;
-- VACUUM and ANALYZE of the keys table (autovacuum runs them as new
-- subjects' keys accumulate) leave every session's key cache as it is:
-- only a change of keys (a DELETE as above, an erasure, a rotation, a
-- TRUNCATE) empties it
SELECT count(privacy_guard.reveal(email, 'profile')) AS revealed FROM many;
SELECT sum(total_bytes) AS cache_bytes FROM pg_backend_memory_contexts
 WHERE name = 'privacy_guard key cache' OR parent = 'privacy_guard key cache' \gset
INSERT INTO many SELECT g, 'm' || g || '@example.com' FROM generate_series(1201, 2400) g;
VACUUM ANALYZE privacy_guard.keys;
SELECT count(privacy_guard.reveal(email, 'profile')) AS revealed FROM many WHERE id = 1;
SELECT sum(total_bytes) >= :cache_bytes AS cache_kept FROM pg_backend_memory_contexts
 WHERE name = 'privacy_guard key cache' OR parent = 'privacy_guard key cache';
-- nor does a change of roles or consent (any role can change its own
-- password, or record a consent, as often as it likes)
CREATE ROLE keys_passing_role;
DROP ROLE keys_passing_role;
SELECT count(privacy_guard.reveal(email, 'profile')) AS revealed FROM many WHERE id = 2;
SELECT sum(total_bytes) >= :cache_bytes AS cache_kept_over_roles FROM pg_backend_memory_contexts
 WHERE name = 'privacy_guard key cache' OR parent = 'privacy_guard key cache';

-- CLEANUP
DROP TABLE accounts, other, many;

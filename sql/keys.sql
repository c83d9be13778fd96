-- sql/keys.sql (src/keyring.c, src/keycache.c)
--   The data keys: one per data subject and one blind-index key per
--   category, stored only wrapped by a master key from the keyring (which
--   never enters the database); master key rotation.

-- Data keys (kind 'subject', one per data subject) and blind-index keys
-- (kind 'index', one per category), stored only wrapped by a master key.  An erased subject
-- keeps a tombstone: its key id and name, no key (erased_at set), so that
-- its access history still resolves and nothing is sealed for it again.
CREATE SEQUENCE privacy_guard.keys_key_id_seq;
CREATE TABLE privacy_guard.keys (
    key_id         bigint PRIMARY KEY DEFAULT pg_catalog.nextval('privacy_guard.keys_key_id_seq'),
    kind           text NOT NULL CHECK (kind IN ('subject', 'index')),
    name           text NOT NULL,
    master_version integer,
    wrapped        bytea,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    erased_at      timestamptz,
    UNIQUE (kind, name),
    CONSTRAINT keys_tombstone CHECK (CASE WHEN erased_at IS NULL
                                          THEN wrapped IS NOT NULL AND master_version IS NOT NULL
                                          ELSE kind = 'subject' AND wrapped IS NULL AND master_version IS NULL END)
);
COMMENT ON TABLE privacy_guard.keys IS 'per-subject data keys and per-category blind-index keys, wrapped by the master key';
ALTER SEQUENCE privacy_guard.keys_key_id_seq OWNED BY privacy_guard.keys.key_id;
COMMENT ON SEQUENCE privacy_guard.keys_key_id_seq IS 'key ids; envelopes name their key by it';

-- Each master key version's check value, recorded the first time the
-- version wraps a key: HMAC-SHA-256 of a fixed label under the master key
-- (16 bytes), which tells a wrong key for a version from the right one and
-- nothing else.  A version whose key does not match wraps nothing.
CREATE TABLE privacy_guard.master_key_checks (
    master_version integer PRIMARY KEY CHECK (master_version > 0),
    check_value    bytea NOT NULL CHECK (pg_catalog.length(check_value) = 16),
    recorded_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE privacy_guard.master_key_checks IS
    'the check value of each master key version, recorded when it first wrapped a key';

-- Nobody but the extension's owner reads or writes them.
REVOKE ALL ON privacy_guard.master_key_checks FROM PUBLIC;
REVOKE ALL ON privacy_guard.keys FROM PUBLIC;
REVOKE ALL ON SEQUENCE privacy_guard.keys_key_id_seq FROM PUBLIC;

-- pg_dump keeps them (a dump without keys cannot be read back), and where
-- key ids continue after a restore.
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.keys', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.keys_key_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.master_key_checks', '');

-- Every backend caches unwrapped keys: a changed or removed key invalidates
-- them all.  New keys are routine, not events.
SELECT privacy_guard.watch_catalog('privacy_guard.keys', ARRAY['UPDATE', 'DELETE', 'TRUNCATE']);
-- (a new subject's key changes no cached one: its row empties no cache)
SELECT privacy_guard.watch_replicated('privacy_guard.keys', ARRAY['UPDATE', 'DELETE']);

-- Administration is for the owner and privacy_guard_admin.
CREATE FUNCTION privacy_guard.rotate_master_key() RETURNS integer
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pguard_rotate_master_key';
COMMENT ON FUNCTION privacy_guard.rotate_master_key() IS
    're-wrap every key under the highest master key version; table data is untouched';
REVOKE ALL ON FUNCTION privacy_guard.rotate_master_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.rotate_master_key() TO privacy_guard_admin;

-- A category's search key: replaced, and every value of its searchable
-- columns re-sealed with a term under the new one, in one transaction that
-- holds off writes to those tables (reads and searches go on); the old key
-- is deleted when it commits, so terms kept in copies and backups match no
-- search afterwards.  Returns how many values were re-sealed.
CREATE FUNCTION privacy_guard.rotate_search_key(category text) RETURNS bigint
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pguard_rotate_search_key';
COMMENT ON FUNCTION privacy_guard.rotate_search_key(text) IS
    're-seal a category''s searchable values with terms under a new search key and delete the old one; returns how many values';
REVOKE ALL ON FUNCTION privacy_guard.rotate_search_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.rotate_search_key(text) TO privacy_guard_admin;

-- The master key versions the keyring holds, ascending (no key material).
CREATE FUNCTION privacy_guard.keyring_versions() RETURNS integer[]
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pguard_keyring_versions';
COMMENT ON FUNCTION privacy_guard.keyring_versions() IS
    'the master key versions the keyring holds, ascending';
REVOKE ALL ON FUNCTION privacy_guard.keyring_versions() FROM PUBLIC;

-- Every master key version the keyring holds or a key is wrapped under:
-- how many keys each still wraps, and whether its line can be removed from
-- the keyring (not the active one, wrapping no key).
CREATE FUNCTION privacy_guard.master_key_versions(OUT master_version integer, OUT in_keyring boolean,
                                                  OUT active boolean, OUT keys bigint,
                                                  OUT check_recorded_at timestamptz,
                                                  OUT can_retire boolean)
RETURNS SETOF record
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    WITH ring AS (
        SELECT r.v, r.v OPERATOR(pg_catalog.=) pg_catalog.max(r.v) OVER () AS active
          FROM pg_catalog.unnest(privacy_guard.keyring_versions()) AS r(v)
    ), wrapping AS (
        SELECT k.master_version AS v, pg_catalog.count(*) AS n
          FROM privacy_guard.keys k
         WHERE k.master_version IS NOT NULL
         GROUP BY k.master_version
    ), versions AS (
        SELECT v FROM ring
        UNION SELECT v FROM wrapping
        UNION SELECT c.master_version FROM privacy_guard.master_key_checks c
    )
    SELECT v.v, r.v IS NOT NULL, coalesce(r.active, false), coalesce(w.n, 0),
           c.recorded_at,
           r.v IS NOT NULL AND NOT r.active AND coalesce(w.n, 0) OPERATOR(pg_catalog.=) 0
      FROM versions v
      LEFT JOIN ring r ON r.v OPERATOR(pg_catalog.=) v.v
      LEFT JOIN wrapping w ON w.v OPERATOR(pg_catalog.=) v.v
      LEFT JOIN privacy_guard.master_key_checks c ON c.master_version OPERATOR(pg_catalog.=) v.v
     ORDER BY v.v
$fn$;
COMMENT ON FUNCTION privacy_guard.master_key_versions() IS
    'each master key version: in the keyring, active, how many keys it still wraps, when its check value was recorded, whether its keyring line can be removed';
REVOKE ALL ON FUNCTION privacy_guard.master_key_versions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.master_key_versions() TO privacy_guard_admin;

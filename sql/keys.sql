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

-- Nobody but the extension's owner reads or writes them.
REVOKE ALL ON privacy_guard.keys FROM PUBLIC;
REVOKE ALL ON SEQUENCE privacy_guard.keys_key_id_seq FROM PUBLIC;

-- pg_dump keeps them (a dump without keys cannot be read back), and where
-- key ids continue after a restore.
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.keys', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.keys_key_id_seq', '');

-- Every backend caches unwrapped keys: a changed or removed key invalidates
-- them all.  New keys are routine, not events.
SELECT privacy_guard.watch_catalog('privacy_guard.keys', ARRAY['UPDATE', 'DELETE', 'TRUNCATE']);

-- Administration is for the owner and privacy_guard_admin.
CREATE FUNCTION privacy_guard.rotate_master_key() RETURNS integer
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pguard_rotate_master_key';
COMMENT ON FUNCTION privacy_guard.rotate_master_key() IS
    're-wrap every key under the highest master key version; table data is untouched';
REVOKE ALL ON FUNCTION privacy_guard.rotate_master_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.rotate_master_key() TO privacy_guard_admin;

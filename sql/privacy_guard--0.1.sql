/* privacy_guard 0.1: encrypted columns, per-subject keys, purpose-bound reveal */

\echo Use "CREATE EXTENSION privacy_guard" to load this file. \quit

-- Everything lives in schema privacy_guard (created by CREATE EXTENSION from
-- the control file).  Applications need USAGE to name the types and call
-- seal(), reveal(), blind_index() and the purpose functions; the tables are
-- readable by nobody but the extension's owner.
GRANT USAGE ON SCHEMA privacy_guard TO PUBLIC;

-- The role a DBA grants to policy owners: it may run the administrative
-- functions (define_*, allow, grant_purpose, protect, rotate_master_key).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'privacy_guard_admin') THEN
        CREATE ROLE privacy_guard_admin NOLOGIN;
    END IF;
END
$$;

------------------------------------------------------------------------------
-- Encrypted types
------------------------------------------------------------------------------

-- Input is STABLE, not IMMUTABLE: plaintext input makes a value sealed under
-- this session's key (random nonce every time).  PARALLEL RESTRICTED: a
-- parallel worker has another session key and no declared purpose.

CREATE TYPE privacy_guard.encrypted_text;
CREATE FUNCTION privacy_guard.encrypted_text_in(cstring) RETURNS privacy_guard.encrypted_text
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_text_in';
CREATE FUNCTION privacy_guard.encrypted_text_out(privacy_guard.encrypted_text) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_text_out';
CREATE FUNCTION privacy_guard.encrypted_text_recv(internal) RETURNS privacy_guard.encrypted_text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_text_recv';
CREATE FUNCTION privacy_guard.encrypted_text_send(privacy_guard.encrypted_text) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_text_send';
CREATE TYPE privacy_guard.encrypted_text (
    INPUT = privacy_guard.encrypted_text_in, OUTPUT = privacy_guard.encrypted_text_out,
    RECEIVE = privacy_guard.encrypted_text_recv, SEND = privacy_guard.encrypted_text_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external);

CREATE TYPE privacy_guard.encrypted_jsonb;
CREATE FUNCTION privacy_guard.encrypted_jsonb_in(cstring) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_in';
CREATE FUNCTION privacy_guard.encrypted_jsonb_out(privacy_guard.encrypted_jsonb) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_out';
CREATE FUNCTION privacy_guard.encrypted_jsonb_recv(internal) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_recv';
CREATE FUNCTION privacy_guard.encrypted_jsonb_send(privacy_guard.encrypted_jsonb) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_send';
CREATE TYPE privacy_guard.encrypted_jsonb (
    INPUT = privacy_guard.encrypted_jsonb_in, OUTPUT = privacy_guard.encrypted_jsonb_out,
    RECEIVE = privacy_guard.encrypted_jsonb_recv, SEND = privacy_guard.encrypted_jsonb_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external);

CREATE TYPE privacy_guard.encrypted_date;
CREATE FUNCTION privacy_guard.encrypted_date_in(cstring) RETURNS privacy_guard.encrypted_date
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_date_in';
CREATE FUNCTION privacy_guard.encrypted_date_out(privacy_guard.encrypted_date) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_date_out';
CREATE FUNCTION privacy_guard.encrypted_date_recv(internal) RETURNS privacy_guard.encrypted_date
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_date_recv';
CREATE FUNCTION privacy_guard.encrypted_date_send(privacy_guard.encrypted_date) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_date_send';
CREATE TYPE privacy_guard.encrypted_date (
    INPUT = privacy_guard.encrypted_date_in, OUTPUT = privacy_guard.encrypted_date_out,
    RECEIVE = privacy_guard.encrypted_date_recv, SEND = privacy_guard.encrypted_date_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external);

CREATE TYPE privacy_guard.encrypted_numeric;
CREATE FUNCTION privacy_guard.encrypted_numeric_in(cstring) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_in';
CREATE FUNCTION privacy_guard.encrypted_numeric_out(privacy_guard.encrypted_numeric) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_out';
CREATE FUNCTION privacy_guard.encrypted_numeric_recv(internal) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_recv';
CREATE FUNCTION privacy_guard.encrypted_numeric_send(privacy_guard.encrypted_numeric) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_send';
CREATE TYPE privacy_guard.encrypted_numeric (
    INPUT = privacy_guard.encrypted_numeric_in, OUTPUT = privacy_guard.encrypted_numeric_out,
    RECEIVE = privacy_guard.encrypted_numeric_recv, SEND = privacy_guard.encrypted_numeric_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external);

CREATE TYPE privacy_guard.encrypted_bytea;
CREATE FUNCTION privacy_guard.encrypted_bytea_in(cstring) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_in';
CREATE FUNCTION privacy_guard.encrypted_bytea_out(privacy_guard.encrypted_bytea) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_out';
CREATE FUNCTION privacy_guard.encrypted_bytea_recv(internal) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_recv';
CREATE FUNCTION privacy_guard.encrypted_bytea_send(privacy_guard.encrypted_bytea) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_send';
CREATE TYPE privacy_guard.encrypted_bytea (
    INPUT = privacy_guard.encrypted_bytea_in, OUTPUT = privacy_guard.encrypted_bytea_out,
    RECEIVE = privacy_guard.encrypted_bytea_recv, SEND = privacy_guard.encrypted_bytea_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external);

COMMENT ON TYPE privacy_guard.encrypted_text IS 'text sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_jsonb IS 'jsonb sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_date IS 'date sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_numeric IS 'numeric sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_bytea IS 'bytea sealed with AES-256-GCM under its subject''s key; prints as its envelope';

-- Assignment casts from the plaintext types, so that applications writing
-- typed parameters (text, varchar, jsonb, date, numeric, integers, bytea)
-- keep their SQL.  The result is a pending value that only the write path
-- seals.  There is deliberately no cast back, and no operator.
CREATE FUNCTION privacy_guard.encrypted_text(text) RETURNS privacy_guard.encrypted_text
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_text_from_plain';
CREATE FUNCTION privacy_guard.encrypted_jsonb(jsonb) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_from_plain';
CREATE FUNCTION privacy_guard.encrypted_date(date) RETURNS privacy_guard.encrypted_date
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_date_from_plain';
CREATE FUNCTION privacy_guard.encrypted_numeric(numeric) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_from_plain';
CREATE FUNCTION privacy_guard.encrypted_numeric(integer) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_int4_to_encrypted_numeric';
CREATE FUNCTION privacy_guard.encrypted_numeric(bigint) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_int8_to_encrypted_numeric';
CREATE FUNCTION privacy_guard.encrypted_bytea(bytea) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_from_plain';

CREATE CAST (text AS privacy_guard.encrypted_text) WITH FUNCTION privacy_guard.encrypted_text(text) AS ASSIGNMENT;
CREATE CAST (varchar AS privacy_guard.encrypted_text) WITH FUNCTION privacy_guard.encrypted_text(text) AS ASSIGNMENT;
CREATE CAST (jsonb AS privacy_guard.encrypted_jsonb) WITH FUNCTION privacy_guard.encrypted_jsonb(jsonb) AS ASSIGNMENT;
CREATE CAST (date AS privacy_guard.encrypted_date) WITH FUNCTION privacy_guard.encrypted_date(date) AS ASSIGNMENT;
CREATE CAST (numeric AS privacy_guard.encrypted_numeric) WITH FUNCTION privacy_guard.encrypted_numeric(numeric) AS ASSIGNMENT;
CREATE CAST (integer AS privacy_guard.encrypted_numeric) WITH FUNCTION privacy_guard.encrypted_numeric(integer) AS ASSIGNMENT;
CREATE CAST (bigint AS privacy_guard.encrypted_numeric) WITH FUNCTION privacy_guard.encrypted_numeric(bigint) AS ASSIGNMENT;
CREATE CAST (bytea AS privacy_guard.encrypted_bytea) WITH FUNCTION privacy_guard.encrypted_bytea(bytea) AS ASSIGNMENT;

------------------------------------------------------------------------------
-- Policy catalog
------------------------------------------------------------------------------

CREATE TABLE privacy_guard.categories (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    sensitivity text NOT NULL DEFAULT 'personal'
                CHECK (sensitivity IN ('personal', 'sensitive', 'prohibited')),
    mask        text NOT NULL DEFAULT 'redact'
                CHECK (mask IN ('redact', 'email', 'phone', 'name', 'address', 'card', 'year', 'round')),
    description text
);
COMMENT ON TABLE privacy_guard.categories IS 'kinds of personal data, their sensitivity and masking rule';

CREATE TABLE privacy_guard.purposes (
    name             text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    parent           text REFERENCES privacy_guard.purposes (name),
    requires_consent boolean NOT NULL DEFAULT false,
    third_party      boolean NOT NULL DEFAULT false,
    description      text,
    CHECK (requires_consent OR NOT third_party),
    CHECK (parent IS DISTINCT FROM name)
);
COMMENT ON TABLE privacy_guard.purposes IS 'what personal data may be used for; a tree';

CREATE TABLE privacy_guard.allowances (
    purpose  text NOT NULL REFERENCES privacy_guard.purposes (name) ON DELETE CASCADE,
    category text NOT NULL REFERENCES privacy_guard.categories (name) ON DELETE CASCADE,
    level    text NOT NULL DEFAULT 'full' CHECK (level IN ('full', 'masked')),
    PRIMARY KEY (purpose, category)
);
COMMENT ON TABLE privacy_guard.allowances IS 'which categories a purpose sees, in full or masked';

CREATE TABLE privacy_guard.purpose_grants (
    role       regrole NOT NULL,
    purpose    text NOT NULL REFERENCES privacy_guard.purposes (name) ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role, purpose)
);
COMMENT ON TABLE privacy_guard.purpose_grants IS 'roles that may act under a purpose (members included)';

CREATE TABLE privacy_guard.column_protection (
    tbl          regclass NOT NULL,
    col          name NOT NULL,
    category     text NOT NULL REFERENCES privacy_guard.categories (name),
    subject_col  name NOT NULL,
    index_col    name,                  -- the blind index, when searchable
    protected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tbl, col)
);
COMMENT ON TABLE privacy_guard.column_protection IS 'columns converted by protect()';

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

-- Nobody but the extension's owner reads or writes these tables.
REVOKE ALL ON privacy_guard.categories, privacy_guard.purposes, privacy_guard.allowances,
    privacy_guard.purpose_grants, privacy_guard.column_protection, privacy_guard.keys FROM PUBLIC;
REVOKE ALL ON SEQUENCE privacy_guard.keys_key_id_seq FROM PUBLIC;

-- pg_dump keeps their contents (a dump without keys cannot be read back).
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.categories', '');
-- built-in purposes come with the extension, not with the dump
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.purposes',
    'WHERE name OPERATOR(pg_catalog.<>) ALL (ARRAY[''subject_access'', ''incident_response''])');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.allowances', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.purpose_grants', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.column_protection', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.keys', '');
-- and where key ids continue after a restore
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.keys_key_id_seq', '');

-- Every backend caches the policy and the unwrapped keys: tell them all.
CREATE FUNCTION privacy_guard.catalog_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_catalog_changed';
REVOKE ALL ON FUNCTION privacy_guard.catalog_changed() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.catalog_changed() IS 'statement trigger: invalidates every backend''s policy or key cache';

-- One trigger per event, so each sees its rows (transition tables) and a
-- statement that changed nothing records nothing.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['categories', 'purposes', 'allowances', 'purpose_grants', 'keys'] LOOP
        IF t OPERATOR(pg_catalog.<>) 'keys' THEN    -- new keys are routine, not events
            EXECUTE pg_catalog.format('CREATE TRIGGER catalog_inserted AFTER INSERT ON privacy_guard.%I
                REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()', t);
        END IF;
        EXECUTE pg_catalog.format('CREATE TRIGGER catalog_updated AFTER UPDATE ON privacy_guard.%I
            REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER catalog_deleted AFTER DELETE ON privacy_guard.%I
            REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER catalog_truncated AFTER TRUNCATE ON privacy_guard.%I
            FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()', t);
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Policy functions
------------------------------------------------------------------------------

CREATE FUNCTION privacy_guard.define_category(name text, sensitivity text DEFAULT 'personal',
                                              mask text DEFAULT 'redact', description text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid category name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A category name is 1 to 63 lower-case letters, digits or underscores, starting with a letter.';
    END IF;
    IF sensitivity IS NULL OR sensitivity NOT IN ('personal', 'sensitive', 'prohibited') THEN
        RAISE EXCEPTION 'invalid sensitivity % for category "%"', coalesce(quote_literal(sensitivity), 'NULL'), name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Sensitivity is personal, sensitive or prohibited.';
    END IF;
    IF mask IS NULL OR mask NOT IN ('redact', 'email', 'phone', 'name', 'address', 'card', 'year', 'round') THEN
        RAISE EXCEPTION 'invalid masking rule % for category "%"', coalesce(quote_literal(mask), 'NULL'), name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Masking rules are redact, email, phone, name, address, card, year and round.';
    END IF;
    INSERT INTO privacy_guard.categories AS c (name, sensitivity, mask, description)
    VALUES (define_category.name, define_category.sensitivity, define_category.mask, define_category.description)
    ON CONFLICT ON CONSTRAINT categories_pkey DO UPDATE
        SET sensitivity = excluded.sensitivity, mask = excluded.mask, description = excluded.description;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.define_category(text, text, text, text) IS
    'define or redefine a category of personal data: sensitivity personal, sensitive or prohibited; masking rule';

CREATE FUNCTION privacy_guard.define_purpose(name text, parent text DEFAULT NULL,
                                             requires_consent boolean DEFAULT false,
                                             third_party boolean DEFAULT false,
                                             description text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    ancestor text := define_purpose.parent;
    depth int := 0;
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid purpose name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A purpose name is 1 to 63 lower-case letters, digits or underscores, starting with a letter.';
    END IF;
    IF name OPERATOR(pg_catalog.=) ANY (ARRAY['subject_access', 'incident_response'])
       OR parent OPERATOR(pg_catalog.=) ANY (ARRAY['subject_access', 'incident_response']) THEN
        RAISE EXCEPTION 'purpose "%" is built in: it cannot be redefined or have sub-purposes',
            CASE WHEN name OPERATOR(pg_catalog.=) ANY (ARRAY['subject_access', 'incident_response']) THEN name ELSE parent END
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF parent IS NOT NULL AND NOT EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) define_purpose.parent) THEN
        RAISE EXCEPTION 'parent purpose "%" does not exist', parent
            USING ERRCODE = 'undefined_object', HINT = 'Define the parent purpose first.';
    END IF;
    -- the tree must stay a tree
    WHILE ancestor IS NOT NULL LOOP
        IF ancestor OPERATOR(pg_catalog.=) name THEN
            RAISE EXCEPTION 'purpose "%" cannot have "%" as parent: that would make a cycle', name, parent
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT p.parent INTO ancestor FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) ancestor;
        depth := depth + 1;
        EXIT WHEN depth > 1000;
    END LOOP;
    INSERT INTO privacy_guard.purposes AS p (name, parent, requires_consent, third_party, description)
    VALUES (define_purpose.name, define_purpose.parent,
            coalesce(define_purpose.requires_consent, false) OR coalesce(define_purpose.third_party, false),
            coalesce(define_purpose.third_party, false), define_purpose.description)
    ON CONFLICT ON CONSTRAINT purposes_pkey DO UPDATE
        SET parent = excluded.parent, requires_consent = excluded.requires_consent,
            third_party = excluded.third_party, description = excluded.description;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.define_purpose(text, text, boolean, boolean, text) IS
    'define or redefine a purpose; purposes form a tree; third-party purposes always require consent';

CREATE FUNCTION privacy_guard.allow(purpose text, category text, level text DEFAULT 'full')
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) allow.purpose) THEN
        RAISE EXCEPTION 'purpose "%" does not exist', purpose
            USING ERRCODE = 'undefined_object', HINT = 'Define it with privacy_guard.define_purpose().';
    END IF;
    IF NOT EXISTS (SELECT FROM privacy_guard.categories c WHERE c.name OPERATOR(pg_catalog.=) allow.category) THEN
        RAISE EXCEPTION 'category "%" does not exist', category
            USING ERRCODE = 'undefined_object', HINT = 'Define it with privacy_guard.define_category().';
    END IF;
    IF EXISTS (SELECT FROM privacy_guard.categories c WHERE c.name OPERATOR(pg_catalog.=) allow.category
               AND c.sensitivity OPERATOR(pg_catalog.=) 'prohibited') THEN
        RAISE EXCEPTION 'category "%" is prohibited and cannot be allowed for any purpose', category
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF level IS NULL OR level NOT IN ('full', 'masked') THEN
        RAISE EXCEPTION 'invalid access level %', coalesce(quote_literal(level), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The level is full or masked.';
    END IF;
    INSERT INTO privacy_guard.allowances AS a (purpose, category, level)
    VALUES (allow.purpose, allow.category, allow.level)
    ON CONFLICT ON CONSTRAINT allowances_pkey DO UPDATE SET level = excluded.level;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.allow(text, text, text) IS
    'let a purpose (and its sub-purposes) see a category, in full or masked';

CREATE FUNCTION privacy_guard.grant_purpose(role regrole, purpose text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) grant_purpose.purpose) THEN
        RAISE EXCEPTION 'purpose "%" does not exist', purpose
            USING ERRCODE = 'undefined_object', HINT = 'Define it with privacy_guard.define_purpose().';
    END IF;
    INSERT INTO privacy_guard.purpose_grants (role, purpose) VALUES (grant_purpose.role, grant_purpose.purpose)
    ON CONFLICT DO NOTHING;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.grant_purpose(regrole, text) IS
    'let a role (and its members) act under a purpose and its sub-purposes';

CREATE FUNCTION privacy_guard.revoke_purpose(role regrole, purpose text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    DELETE FROM privacy_guard.purpose_grants g
     WHERE g.role OPERATOR(pg_catalog.=) revoke_purpose.role AND g.purpose OPERATOR(pg_catalog.=) revoke_purpose.purpose;
    IF NOT FOUND THEN
        RAISE NOTICE 'role "%" did not hold purpose "%"', role, purpose;
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.revoke_purpose(regrole, text) IS 'withdraw a grant made by grant_purpose()';

-- The session's purpose: checked against the role's grants at once.
CREATE FUNCTION privacy_guard.set_purpose(purpose text, justification text DEFAULT NULL) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_set_purpose';
COMMENT ON FUNCTION privacy_guard.set_purpose(text, text) IS
    'declare the purpose this session acts under; fails unless the role holds it';
CREATE FUNCTION privacy_guard.current_purpose() RETURNS text
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_current_purpose';
COMMENT ON FUNCTION privacy_guard.current_purpose() IS 'the purpose declared by set_purpose(), or NULL';
CREATE FUNCTION privacy_guard.reset_purpose() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_reset_purpose';
COMMENT ON FUNCTION privacy_guard.reset_purpose() IS 'clear the declared purpose';

------------------------------------------------------------------------------
-- Sealing, revealing, searching
------------------------------------------------------------------------------

CREATE FUNCTION privacy_guard.seal(value text, category text, subject text) RETURNS privacy_guard.encrypted_text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_text';
CREATE FUNCTION privacy_guard.seal(value jsonb, category text, subject text) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_jsonb';
CREATE FUNCTION privacy_guard.seal(value date, category text, subject text) RETURNS privacy_guard.encrypted_date
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_date';
CREATE FUNCTION privacy_guard.seal(value numeric, category text, subject text) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_numeric';
CREATE FUNCTION privacy_guard.seal(value bytea, category text, subject text) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_bytea';
COMMENT ON FUNCTION privacy_guard.seal(text, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(jsonb, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(date, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(numeric, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(bytea, text, text) IS 'seal a value for a subject under a category';

-- reveal() is not SECURITY DEFINER: it runs per row, and a SET clause would
-- cost more than the decryption.  It reads the catalog as the extension's
-- owner internally, with schema-qualified queries only.
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_text, purpose text DEFAULT NULL) RETURNS text
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_text';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_jsonb, purpose text DEFAULT NULL) RETURNS jsonb
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_jsonb';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_date, purpose text DEFAULT NULL) RETURNS date
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_date';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_numeric, purpose text DEFAULT NULL) RETURNS numeric
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_numeric';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_bytea, purpose text DEFAULT NULL) RETURNS bytea
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_bytea';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_text, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_jsonb, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_date, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_numeric, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_bytea, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';

CREATE FUNCTION privacy_guard.blind_index(value text, category text) RETURNS bytea
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_blind_index';
CREATE FUNCTION privacy_guard.index_term(value text, category text, create_key boolean) RETURNS bytea
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_blind_index';
REVOKE ALL ON FUNCTION privacy_guard.index_term(text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.index_term(text, text, boolean) IS
    'blind index as protect() computes it, creating the category''s key when asked';
COMMENT ON FUNCTION privacy_guard.blind_index(text, text) IS
    'search term for a searchable column: WHERE col_bidx = privacy_guard.blind_index(value, category)';

-- The CHECK constraint protect() adds: holds even when triggers do not fire.
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_text, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_jsonb, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_date, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_numeric, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_bytea, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_text, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_jsonb, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_date, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_numeric, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_bytea, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';

-- The sealing trigger protect() installs; it cannot be called directly.
CREATE FUNCTION privacy_guard.seal_row() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_seal_row';
REVOKE ALL ON FUNCTION privacy_guard.seal_row() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.seal_row() IS
    'BEFORE ROW trigger: seals plaintext written to protected columns and maintains blind indexes';


------------------------------------------------------------------------------
-- protect()
------------------------------------------------------------------------------

CREATE FUNCTION privacy_guard.register_protection(tbl regclass, col name, category text,
                                                  subject_col name, index_col name) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_register_protection';
REVOKE ALL ON FUNCTION privacy_guard.register_protection(regclass, name, text, name, name) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.register_protection(regclass, name, text, name, name) IS
    'protect()''s catalog step: checks the caller owns the table, records the column, returns the trigger arguments';

-- protect() runs with the caller's rights (SECURITY INVOKER): PostgreSQL
-- itself requires ownership of the table for the ALTERs, and the USING and
-- CHECK expressions never run with more rights than the caller has.  Only
-- register_protection() writes the catalog, as the extension's owner.
CREATE FUNCTION privacy_guard.protect(tbl regclass, col name, category text, subject_col name,
                                      searchable boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    rel record;
    att record;
    subj record;
    idx record;
    enc_type text;
    plain_type text;
    bidx name := col || '_bidx';
    names text;
    moved jsonb := '[]';
    m jsonb;
    trig_args text;
BEGIN
    IF tbl IS NULL OR col IS NULL OR category IS NULL OR subject_col IS NULL THEN
        RAISE EXCEPTION 'protect() needs a table, a column, a category and a subject column'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT c.relkind, c.relowner INTO rel FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
    IF rel.relkind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION '"%" is not an ordinary table', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Only ordinary tables can be protected.';
    END IF;
    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;

    SELECT a.attnum, a.atttypid, a.attgenerated, a.attidentity, t.typnamespace INTO att
      FROM pg_attribute a JOIN pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) col
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF att.typnamespace OPERATOR(pg_catalog.=) 'privacy_guard'::regnamespace THEN
        RAISE EXCEPTION 'column "%" of relation % is already protected', col, tbl USING ERRCODE = 'duplicate_object';
    END IF;
    IF att.attgenerated OPERATOR(pg_catalog.<>) '' OR att.attidentity OPERATOR(pg_catalog.<>) '' THEN
        RAISE EXCEPTION 'cannot protect generated or identity column "%"', col USING ERRCODE = 'feature_not_supported';
    END IF;
    CASE att.atttypid
        WHEN 'text'::regtype, 'varchar'::regtype, 'bpchar'::regtype THEN enc_type := 'encrypted_text'; plain_type := 'text';
        WHEN 'jsonb'::regtype, 'json'::regtype THEN enc_type := 'encrypted_jsonb'; plain_type := 'jsonb';
        WHEN 'date'::regtype THEN enc_type := 'encrypted_date'; plain_type := 'date';
        WHEN 'numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype THEN
            enc_type := 'encrypted_numeric'; plain_type := 'numeric';
        WHEN 'bytea'::regtype THEN enc_type := 'encrypted_bytea'; plain_type := 'bytea';
        ELSE
            RAISE EXCEPTION 'cannot protect column "%" of type %', col, format_type(att.atttypid, NULL)
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Protected columns hold text, varchar, char, json, jsonb, date, numeric, integers or bytea.';
    END CASE;
    IF searchable AND enc_type OPERATOR(pg_catalog.<>) 'encrypted_text' THEN
        RAISE EXCEPTION 'only text columns can be searchable' USING ERRCODE = 'feature_not_supported';
    END IF;
    IF octet_length(col) OPERATOR(pg_catalog.+) length('_sealed') OPERATOR(pg_catalog.>) 63 THEN
        RAISE EXCEPTION 'column name "%" is too long to protect', col
            USING ERRCODE = 'name_too_long',
                  HINT = 'protect() adds <column>_sealed and <column>_bidx; rename the column to 56 bytes or fewer.';
    END IF;

    SELECT a.attnum, a.atttypid INTO subj
      FROM pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) subject_col
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subject column "%" of relation % does not exist', subject_col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF subject_col OPERATOR(pg_catalog.=) col THEN
        RAISE EXCEPTION 'subject column "%" cannot itself be protected', subject_col
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The subject column identifies whose key seals the value; use an id, not personal data.';
    END IF;
    IF subj.atttypid NOT IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'int2'::regtype,
                             'int4'::regtype, 'int8'::regtype, 'uuid'::regtype) THEN
        RAISE EXCEPTION 'subject column "%" of relation % has type %', subject_col, tbl, format_type(subj.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'A subject column is text, varchar, char, smallint, integer, bigint or uuid: an id, not personal data.';
    END IF;
    IF searchable AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) tbl
                              AND a.attname OPERATOR(pg_catalog.=) bidx AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'column "%" already exists in relation %', bidx, tbl
            USING ERRCODE = 'duplicate_column', HINT = 'The blind index of a searchable column is named <column>_bidx.';
    END IF;

    -- Views would keep exposing the plaintext column's old type.
    SELECT string_agg(DISTINCT r.ev_class::regclass::text, ', ') INTO names
      FROM pg_depend d JOIN pg_rewrite r ON r.oid OPERATOR(pg_catalog.=) d.objid
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_rewrite'::regclass
       AND d.refclassid OPERATOR(pg_catalog.=) 'pg_class'::regclass
       AND d.refobjid OPERATOR(pg_catalog.=) tbl AND d.refobjsubid OPERATOR(pg_catalog.=) att.attnum
       AND r.ev_class OPERATOR(pg_catalog.<>) tbl;
    IF names IS NOT NULL THEN
        RAISE EXCEPTION 'cannot protect column "%" of relation %: views depend on it', col, tbl
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = format('Drop %s, protect the column, then recreate the view with privacy_guard.reveal() where plaintext is needed.', names);
    END IF;

    -- Foreign keys and CHECK constraints compare plaintext: they cannot follow.
    SELECT string_agg(c.conname::text, ', ') INTO names
      FROM pg_constraint c
     WHERE (c.contype OPERATOR(pg_catalog.=) 'f' AND
            ((c.conrelid OPERATOR(pg_catalog.=) tbl AND att.attnum OPERATOR(pg_catalog.=) ANY (c.conkey)) OR
             (c.confrelid OPERATOR(pg_catalog.=) tbl AND att.attnum OPERATOR(pg_catalog.=) ANY (c.confkey))))
        OR (c.contype OPERATOR(pg_catalog.=) 'c' AND c.conrelid OPERATOR(pg_catalog.=) tbl
            AND att.attnum OPERATOR(pg_catalog.=) ANY (c.conkey));
    IF names IS NOT NULL THEN
        RAISE EXCEPTION 'cannot protect column "%" of relation %: constraints % depend on it', col, tbl, names
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop those foreign key or CHECK constraints first; a protected column cannot be compared in plaintext.';
    END IF;

    -- Indexes and UNIQUE constraints move to the blind index, or refuse.
    SELECT string_agg(i.indexrelid::regclass::text, ', ') INTO names
      FROM pg_index i
     WHERE i.indrelid OPERATOR(pg_catalog.=) tbl
       AND (att.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::int2[])
            OR EXISTS (SELECT FROM pg_depend d
                        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass
                          AND d.objid OPERATOR(pg_catalog.=) i.indexrelid
                          AND d.refobjid OPERATOR(pg_catalog.=) tbl
                          AND d.refobjsubid OPERATOR(pg_catalog.=) att.attnum));
    IF names IS NOT NULL AND NOT searchable THEN
        RAISE EXCEPTION 'cannot protect column "%" of relation %: indexes % depend on it', col, tbl, names
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = format('Pass searchable => true to move %s to the blind-index column "%s", or drop them first.', names, bidx);
    END IF;
    FOR idx IN
        SELECT i.indexrelid, ic.relname AS idxname, i.indisunique, i.indisprimary, i.indnatts,
               i.indexprs IS NOT NULL OR i.indpred IS NOT NULL AS complex, am.amname,
               con.conname, con.contype
          FROM pg_index i
          JOIN pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
          JOIN pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam
          LEFT JOIN pg_constraint con ON con.conindid OPERATOR(pg_catalog.=) i.indexrelid
               AND con.conrelid OPERATOR(pg_catalog.=) tbl
         WHERE i.indrelid OPERATOR(pg_catalog.=) tbl
           AND (att.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::int2[])
                OR EXISTS (SELECT FROM pg_depend d
                            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass
                              AND d.objid OPERATOR(pg_catalog.=) i.indexrelid
                              AND d.refobjid OPERATOR(pg_catalog.=) tbl
                              AND d.refobjsubid OPERATOR(pg_catalog.=) att.attnum))
    LOOP
        IF idx.indisprimary OR idx.indnatts OPERATOR(pg_catalog.<>) 1 OR idx.complex
           OR idx.amname NOT IN ('btree', 'hash') OR idx.contype IN ('x') THEN
            RAISE EXCEPTION 'cannot move index "%" of column "%" to its blind index', idx.idxname, col
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'Only single-column btree or hash indexes and UNIQUE constraints move to the blind index; drop this one first.';
        END IF;
        moved := moved || jsonb_build_array(jsonb_build_object(
            'idxname', idx.idxname, 'unique', idx.indisunique, 'conname', idx.conname,
            'contype', idx.contype, 'amname', idx.amname));
        IF idx.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, idx.conname);
        ELSE
            EXECUTE format('DROP INDEX %s', idx.indexrelid::regclass);
        END IF;
    END LOOP;

    -- One rewrite: seal every row, fill the blind index from the old
    -- plaintext, and add the CHECK that refuses unsealed writes.  The table
    -- gets a new file; the old one, with the plaintext, is dropped at commit.
    IF searchable THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I bytea', tbl, bidx);
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE bytea USING privacy_guard.index_term(%I::text, %L, true), '
                       'ALTER COLUMN %I TYPE privacy_guard.%I USING privacy_guard.seal(%I::%s, %L, %I::text), '
                       'ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text))',
                       tbl, bidx, col, category,
                       col, enc_type, col, plain_type, category, subject_col,
                       col || '_sealed', col, category, subject_col);
    ELSE
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE privacy_guard.%I USING privacy_guard.seal(%I::%s, %L, %I::text), '
                       'ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text))',
                       tbl, col, enc_type, col, plain_type, category, subject_col,
                       col || '_sealed', col, category, subject_col);
    END IF;

    -- Record it (checks ownership and the category) and get the trigger's arguments.
    trig_args := privacy_guard.register_protection(tbl, col, category, subject_col,
                                                   CASE WHEN searchable THEN bidx END);

    IF searchable THEN
        FOR m IN SELECT e FROM jsonb_array_elements(moved) AS e LOOP
            IF m->>'contype' IS NOT DISTINCT FROM 'u' THEN
                EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (%I)', tbl, m->>'conname', bidx);
            ELSE
                EXECUTE format('CREATE %s INDEX %I ON %s USING %I (%I)',
                               CASE WHEN (m->>'unique')::boolean THEN 'UNIQUE' ELSE '' END,
                               m->>'idxname', tbl, m->>'amname', bidx);
            END IF;
        END LOOP;
        IF jsonb_array_length(moved) OPERATOR(pg_catalog.=) 0 THEN
            EXECUTE format('CREATE INDEX ON %s (%I)', tbl, bidx);
        END IF;
    END IF;

    -- One sealing trigger per table, listing every protected column.
    IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl
                  AND t.tgname OPERATOR(pg_catalog.=) 'zz_privacy_guard_seal') THEN
        EXECUTE format('DROP TRIGGER zz_privacy_guard_seal ON %s', tbl);
    END IF;
    EXECUTE format('CREATE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', tbl, trig_args);

    -- Erasure finds a subject's rows through an index on the subject column.
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
                    JOIN pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam
                    WHERE i.indrelid OPERATOR(pg_catalog.=) tbl AND i.indkey[0] OPERATOR(pg_catalog.=) subj.attnum
                      AND i.indpred IS NULL AND am.amname IN ('btree', 'hash')) THEN
        EXECUTE format('CREATE INDEX ON %s (%I)', tbl, subject_col);
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.protect(regclass, name, text, name, boolean) IS
    'convert a column to its encrypted type in place and seal every later write of plaintext';

-- A dropped table takes its protection records with it (an OID reused by a
-- later table must not inherit them).
CREATE FUNCTION privacy_guard.forget_dropped_tables() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    DELETE FROM privacy_guard.column_protection p
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid OPERATOR(pg_catalog.=) 0
       AND d.objid OPERATOR(pg_catalog.=) p.tbl::pg_catalog.oid;
    DELETE FROM privacy_guard.erasure_actions p
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid OPERATOR(pg_catalog.=) 0
       AND d.objid OPERATOR(pg_catalog.=) p.tbl::pg_catalog.oid;
    DELETE FROM privacy_guard.retention_rules p
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid OPERATOR(pg_catalog.=) 0
       AND d.objid OPERATOR(pg_catalog.=) p.tbl::pg_catalog.oid;
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.forget_dropped_tables() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.forget_dropped_tables() IS 'event trigger: forget the protection of dropped tables';
CREATE EVENT TRIGGER privacy_guard_forget_dropped_tables ON sql_drop
    EXECUTE FUNCTION privacy_guard.forget_dropped_tables();

-- The collection guard (src/collection.c): a new column whose name suggests
-- personal data, and that is not protected, gets a warning at commit, or
-- with privacy_guard.collection_guard = error is refused then (and at the
-- end of the command for the special categories the policy never collects).
-- New columns are seen as they are created; this trigger looks at them at
-- the end of each command, and at columns renamed or retyped.
CREATE FUNCTION privacy_guard.collection_guard() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_collection_guard';
REVOKE ALL ON FUNCTION privacy_guard.collection_guard() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.collection_guard() IS
    'event trigger: new columns whose names suggest personal data must be protected';
CREATE EVENT TRIGGER privacy_guard_collection_guard ON ddl_command_end
    EXECUTE FUNCTION privacy_guard.collection_guard();

CREATE VIEW privacy_guard.protected_columns AS
SELECT n.nspname AS table_schema, c.relname AS table_name, p.col AS column_name,
       p.category, p.subject_col AS subject_column, p.index_col IS NOT NULL AS searchable,
       p.index_col AS index_column,
       format_type(a.atttypid, a.atttypmod) AS column_type, p.protected_at
  FROM privacy_guard.column_protection p
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.tbl
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) p.tbl
       AND a.attname OPERATOR(pg_catalog.=) p.col
 WHERE pg_catalog.has_table_privilege(p.tbl, 'SELECT');
COMMENT ON VIEW privacy_guard.protected_columns IS 'protected columns of the tables the caller may read';
GRANT SELECT ON privacy_guard.protected_columns TO PUBLIC;

------------------------------------------------------------------------------
-- Discovery: personal data stored outside the rules
------------------------------------------------------------------------------

-- The classifiers (src/discover.c).  classify_value() labels a value email,
-- phone, card or iban; name_suggests() labels a column's name with one of
-- special_categories() or email, phone, address, birth, identity, payment.
CREATE FUNCTION privacy_guard.classify_value(value text) RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_classify_value';
COMMENT ON FUNCTION privacy_guard.classify_value(text) IS
    'what one whole value looks like: email, phone, card (issuer prefix and Luhn) or iban (mod 97), else NULL';
CREATE FUNCTION privacy_guard.name_suggests(col name) RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_name_suggests';
COMMENT ON FUNCTION privacy_guard.name_suggests(name) IS
    'the category a column''s name suggests (whole words of it), special categories first, else NULL';
CREATE FUNCTION privacy_guard.special_categories() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT ARRAY['health', 'religion', 'ethnicity', 'political_opinion', 'sexual_orientation',
                 'biometric', 'genetic', 'trade_union', 'national_id', 'criminal_record']::pg_catalog.text[]
$fn$;
COMMENT ON FUNCTION privacy_guard.special_categories() IS
    'the labels of name_suggests() that name data the shop never collects (special categories)';

-- scan()'s audit records, written as its caller (who may read the column):
-- names and counts, never a value.
CREATE FUNCTION privacy_guard.scan_audit_finding(tbl regclass, col name, suspected text, hits integer,
                                                 sampled integer, protected boolean) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_scan_audit_finding';
CREATE FUNCTION privacy_guard.scan_audit(sample_rows integer, tables integer, skipped integer,
                                         findings integer, unprotected integer) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_scan_audit';
COMMENT ON FUNCTION privacy_guard.scan_audit_finding(regclass, name, text, integer, integer, boolean) IS
    'audit one finding of scan(): a column the caller may read, its category and counts';
COMMENT ON FUNCTION privacy_guard.scan_audit(integer, integer, integer, integer, integer) IS
    'audit the end of a scan(): how many tables and findings';

-- Samples every table (and populated materialized view) the caller may
-- read, with the caller's rights: partitions and inheritance children on
-- their own, not the system's, the extension's, another session's
-- temporary tables or tables of other extensions.  About sample_rows rows
-- a table: TABLESAMPLE SYSTEM sized from pg_class statistics (twice the
-- rows, at least three pages), then LIMIT; the first rows of tables too
-- small or never analysed.  Text-like columns are classified value by
-- value, bigint and numeric ones for card numbers only; a label found in
-- at least half of a column's sampled non-null values, and at least three
-- of them (or all, when fewer), is reported with its counts.  Every
-- readable column's name is read too; a name finding has NULL counts, and
-- is not reported beside a value finding of the same column unless it is
-- a special category.  Encrypted columns are never sampled; protected is
-- true for them and for protected columns and their blind indexes.  Each
-- finding and the scan's counts are audited; a table locked for 2 s,
-- dropped meanwhile, or refused by row security is skipped and counted.
CREATE FUNCTION privacy_guard.scan(sample_rows integer DEFAULT 1000)
RETURNS TABLE (tbl regclass, col name, suspected text, hits integer, sampled integer, protected boolean)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s' SET row_security = off AS $fn$
DECLARE
    rel record;
    att record;
    res record;
    names name[];                   -- the readable columns
    prot boolean[];                 -- ... protected or encrypted
    scanned name[];                 -- the columns whose values are sampled
    sel text;
    vals text;
    sampling text;
    pct float8;
    rows_read integer;
    f_col name[];                   -- value findings of a table
    f_label text[];
    f_hits integer[];
    f_nonnull integer[];
    label text;
    n_tables integer := 0;
    n_unreadable integer := 0;
    n_failed integer := 0;
    n_findings integer := 0;
    n_unprotected integer := 0;
BEGIN
    IF sample_rows IS NULL OR sample_rows < 1 OR sample_rows > 100000 THEN
        RAISE EXCEPTION 'invalid sample size %', coalesce(sample_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'sample_rows is how many rows scan() reads from each table, from 1 to 100000.';
    END IF;
    FOR rel IN
        SELECT c.oid AS relid, c.reltuples::float8 AS reltuples, c.relpages, n.nspname, c.relname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'privacy_guard')
           AND n.nspname !~ '^pg_toast'
           AND (n.nspname !~ '^pg_temp_' OR c.relnamespace = pg_my_temp_schema())
           AND NOT EXISTS (SELECT FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
         ORDER BY n.nspname, c.relname
    LOOP
        IF has_any_column_privilege(rel.relid, 'SELECT') IS NOT TRUE THEN
            n_unreadable := n_unreadable + 1;
            CONTINUE;
        END IF;

        names := '{}';
        prot := '{}';
        scanned := '{}';
        sel := '';
        vals := '(0, '''')';                    -- k = 0: one value per row read
        FOR att IN
            SELECT a.attname,
                   a.atttypid IN ('privacy_guard.encrypted_text'::regtype, 'privacy_guard.encrypted_jsonb'::regtype,
                                  'privacy_guard.encrypted_date'::regtype, 'privacy_guard.encrypted_numeric'::regtype,
                                  'privacy_guard.encrypted_bytea'::regtype)
                   OR EXISTS (SELECT FROM privacy_guard.protected_columns p
                               WHERE p.table_schema = rel.nspname AND p.table_name = rel.relname
                                 AND a.attname IN (p.column_name, p.index_column)) AS is_protected,
                   b.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'int8'::regtype,
                             'numeric'::regtype) OR b.typname = 'citext' AS sample_values
              FROM pg_attribute a
              JOIN pg_type ty ON ty.oid = a.atttypid
              JOIN pg_type b ON b.oid = CASE ty.typtype WHEN 'd' THEN ty.typbasetype ELSE ty.oid END
             WHERE a.attrelid = rel.relid AND a.attnum > 0 AND NOT a.attisdropped
               AND has_column_privilege(rel.relid, a.attnum, 'SELECT')
             ORDER BY a.attnum
        LOOP
            names := names || att.attname;
            prot := prot || att.is_protected;
            IF att.sample_values AND NOT att.is_protected THEN
                scanned := scanned || att.attname;
                sel := sel || CASE WHEN cardinality(scanned) > 1 THEN ', ' ELSE '' END || format('%I', att.attname);
                vals := vals || format(', (%s, s.%I::pg_catalog.text)', cardinality(scanned), att.attname);
            END IF;
        END LOOP;

        -- sample about sample_rows rows; the k-th value of each row is scanned[k]
        f_col := '{}';
        f_label := '{}';
        f_hits := '{}';
        f_nonnull := '{}';
        IF cardinality(scanned) > 0 THEN
            IF rel.reltuples > 0 AND rel.relpages > 0 THEN
                pct := least(100, greatest(200.0::float8 * sample_rows / rel.reltuples, 300.0::float8 / rel.relpages));
            ELSE
                pct := 100;
            END IF;
            sampling := CASE WHEN pct < 100 THEN format(' TABLESAMPLE SYSTEM (%s)', pct) ELSE '' END;
            rows_read := 0;
            BEGIN
                LOOP
                    FOR res IN EXECUTE format(
                        'SELECT q.k, q.label, q.n, pg_catalog.sum(q.n) OVER (PARTITION BY q.k)::pg_catalog.int4 AS nonnull'
                        '  FROM (SELECT u.k, privacy_guard.classify_value(u.v) AS label,'
                        '               pg_catalog.count(*)::pg_catalog.int4 AS n'
                        '          FROM (SELECT %s FROM ONLY %s%s LIMIT %s) s'
                        '         CROSS JOIN LATERAL (VALUES %s) u(k, v)'
                        '         WHERE u.v IS NOT NULL GROUP BY 1, 2) q',
                        sel, rel.relid::regclass, sampling, sample_rows, vals)
                    LOOP
                        IF res.k = 0 THEN
                            rows_read := res.nonnull;
                        ELSIF res.label IS NOT NULL AND res.n >= least(3, res.nonnull) AND 2 * res.n >= res.nonnull THEN
                            f_col := f_col || scanned[res.k];
                            f_label := f_label || res.label;
                            f_hits := f_hits || res.n;
                            f_nonnull := f_nonnull || res.nonnull;
                        END IF;
                    END LOOP;
                    -- statistics promised rows that the sample did not meet: read the first rows
                    EXIT WHEN rows_read > 0 OR sampling = '';
                    sampling := '';
                END LOOP;
            EXCEPTION WHEN undefined_table OR undefined_column OR insufficient_privilege
                           OR lock_not_available OR object_not_in_prerequisite_state THEN
                -- dropped, altered or locked meanwhile, or refused by row security
                n_failed := n_failed + 1;
                CONTINUE;
            END;
        END IF;
        n_tables := n_tables + 1;

        -- report: values first, then names
        FOR i IN 1 .. cardinality(f_col) LOOP
            tbl := rel.relid;
            col := f_col[i];
            suspected := f_label[i];
            hits := f_hits[i];
            sampled := f_nonnull[i];
            protected := false;         -- sampled columns are not protected ones
            PERFORM privacy_guard.scan_audit_finding(tbl, col, suspected, hits, sampled, protected);
            n_findings := n_findings + 1;
            n_unprotected := n_unprotected + 1;
            RETURN NEXT;
        END LOOP;
        FOR i IN 1 .. cardinality(names) LOOP
            label := privacy_guard.name_suggests(names[i]);
            CONTINUE WHEN label IS NULL
                       OR (names[i] = ANY (f_col) AND label <> ALL (privacy_guard.special_categories()));
            tbl := rel.relid;
            col := names[i];
            suspected := label;
            hits := NULL;
            sampled := NULL;
            protected := prot[i];
            PERFORM privacy_guard.scan_audit_finding(tbl, col, suspected, hits, sampled, protected);
            n_findings := n_findings + 1;
            n_unprotected := n_unprotected + CASE WHEN protected THEN 0 ELSE 1 END;
            RETURN NEXT;
        END LOOP;
    END LOOP;

    IF n_unreadable > 0 THEN
        RAISE NOTICE 'scan skipped tables that role "%" cannot read: %', current_user, n_unreadable;
    END IF;
    IF n_failed > 0 THEN
        RAISE NOTICE 'scan skipped tables that were locked, dropped or altered meanwhile, or refused by row security: %', n_failed;
    END IF;
    PERFORM privacy_guard.scan_audit(sample_rows, n_tables, n_unreadable + n_failed, n_findings, n_unprotected);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.scan(integer) IS
    'columns that look like personal data (by sampled values or by name) in the tables the caller may read; audited';

------------------------------------------------------------------------------
-- Keys
------------------------------------------------------------------------------

CREATE FUNCTION privacy_guard.rotate_master_key() RETURNS integer
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pguard_rotate_master_key';
COMMENT ON FUNCTION privacy_guard.rotate_master_key() IS
    're-wrap every key under the highest master key version; table data is untouched';

------------------------------------------------------------------------------
-- Privileges: administration is for the owner and privacy_guard_admin
------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION privacy_guard.define_category(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.define_purpose(text, text, boolean, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.allow(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.grant_purpose(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.revoke_purpose(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.protect(regclass, name, text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.rotate_master_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.define_category(text, text, text, text),
    privacy_guard.define_purpose(text, text, boolean, boolean, text),
    privacy_guard.allow(text, text, text),
    privacy_guard.grant_purpose(regrole, text),
    privacy_guard.revoke_purpose(regrole, text),
    privacy_guard.protect(regclass, name, text, name, boolean),
    privacy_guard.register_protection(regclass, name, text, name, name),
    privacy_guard.index_term(text, text, boolean),
    privacy_guard.seal_row(),
    privacy_guard.rotate_master_key()
    TO privacy_guard_admin;

------------------------------------------------------------------------------
-- Audit trail
------------------------------------------------------------------------------

-- Auditors read the trail; nobody but the extension's writer writes it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'privacy_guard_auditor') THEN
        CREATE ROLE privacy_guard_auditor NOLOGIN;
    END IF;
END
$$;

-- Written only by the audit writer (a background worker), in transactions of
-- its own, so records outlive the ROLLBACK of the session they describe.
CREATE TABLE privacy_guard.audit_records (
    id                bigint PRIMARY KEY,
    at                timestamptz NOT NULL,
    database          text NOT NULL,
    session_user_name text NOT NULL,
    current_role_name text NOT NULL,
    event             text NOT NULL,
    purpose           text,
    category          text,
    table_name        text,
    column_name       text,
    subject           text,
    outcome           text,
    statement         text,
    queue_epoch       bigint,
    queue_seq         bigint,
    prev_hash         bytea NOT NULL,
    hash              bytea NOT NULL
);
COMMENT ON TABLE privacy_guard.audit_records IS 'the audit trail, a SHA-256 hash chain; written by the audit writer only';
REVOKE ALL ON privacy_guard.audit_records FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.audit_records', '');

-- The chain: each record's hash covers the previous hash and its content.
CREATE FUNCTION privacy_guard.audit_genesis() RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex') $$;
COMMENT ON FUNCTION privacy_guard.audit_genesis() IS 'the previous hash of the first audit record';

CREATE FUNCTION privacy_guard.audit_link(prev bytea, id bigint, at timestamptz, database text,
                                         session_user_name text, current_role_name text, event text,
                                         purpose text, category text, table_name text,
                                         column_name text, subject text, outcome text,
                                         statement text) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.sha256(prev OPERATOR(pg_catalog.||) pg_catalog.convert_to(pg_catalog.jsonb_build_array(
               id, pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), database,
               session_user_name, current_role_name, event, purpose, category, table_name, column_name,
               subject, outcome, statement)::text, 'UTF8'))
    $$;
COMMENT ON FUNCTION privacy_guard.audit_link(bytea, bigint, timestamptz, text, text, text, text, text, text, text, text, text, text, text) IS
    'hash of one audit record chained to the previous one';

CREATE VIEW privacy_guard.audit_log AS
SELECT id, at, database, session_user_name, current_role_name, event, purpose, category,
       table_name, column_name, subject, outcome, statement, prev_hash, hash
  FROM privacy_guard.audit_records;
COMMENT ON VIEW privacy_guard.audit_log IS 'who used what, when, for which purpose; readable by privacy_guard_auditor';
REVOKE ALL ON privacy_guard.audit_log FROM PUBLIC;
GRANT SELECT ON privacy_guard.audit_log TO privacy_guard_auditor;

-- The head the writer last committed, kept in a file of the data directory
-- (outside SQL's reach): records removed from the end, a TRUNCATE or a
-- dropped table show against it.
CREATE FUNCTION privacy_guard.audit_anchor(OUT table_oid oid, OUT last_id bigint, OUT last_hash bytea)
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_audit_anchor';
COMMENT ON FUNCTION privacy_guard.audit_anchor() IS 'the audit trail''s head as its writer last committed it';
REVOKE ALL ON FUNCTION privacy_guard.audit_anchor() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.audit_anchor() TO privacy_guard_auditor;

-- Recompute the chain.  Any record altered, removed or reordered, even by a
-- superuser, breaks it; the first broken link is reported.  Records removed
-- from the end, and an emptied or dropped trail, show against the anchor.
CREATE FUNCTION privacy_guard.verify_audit() RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    prev bytea := privacy_guard.audit_genesis();
    expected bigint := 1;
    r record;
    anchor record;
    anchor_hash bytea;
BEGIN
    -- the anchor first, then a snapshot taken after it: the table can only be ahead
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        RAISE EXCEPTION 'verify_audit() must run at READ COMMITTED'
            USING ERRCODE = 'invalid_transaction_state',
                  HINT = 'Under a transaction snapshot, records written since it began would look removed.';
    END IF;
    SELECT * INTO anchor FROM privacy_guard.audit_anchor();

    FOR r IN SELECT * FROM privacy_guard.audit_records ORDER BY id LOOP
        IF r.id OPERATOR(pg_catalog.<>) expected THEN
            RAISE WARNING 'audit trail broken at record %: record % is missing', r.id, expected;
            RETURN false;
        END IF;
        IF r.prev_hash OPERATOR(pg_catalog.<>) prev THEN
            RAISE WARNING 'audit trail broken at record %: it does not follow record %', r.id, expected OPERATOR(pg_catalog.-) 1;
            RETURN false;
        END IF;
        IF privacy_guard.audit_link(prev, r.id, r.at, r.database, r.session_user_name, r.current_role_name,
                                    r.event, r.purpose, r.category, r.table_name, r.column_name,
                                    r.subject, r.outcome, r.statement) OPERATOR(pg_catalog.<>) r.hash THEN
            RAISE WARNING 'audit trail broken at record %: its content was altered', r.id;
            RETURN false;
        END IF;
        -- the writer found the trail tampered with, or emptied, and said so
        IF r.event IN ('trail_tampered', 'trail_restarted') THEN
            RAISE WARNING 'audit trail broken at record %: %', r.id, r.statement;
            RETURN false;
        END IF;
        prev := r.hash;
        expected := expected OPERATOR(pg_catalog.+) 1;
    END LOOP;

    IF anchor.last_id IS NOT NULL THEN
        IF anchor.table_oid OPERATOR(pg_catalog.<>) 'privacy_guard.audit_records'::pg_catalog.regclass::pg_catalog.oid THEN
            RAISE WARNING 'audit trail replaced: the trail in table % ended at record %, and this one has nothing after it yet',
                anchor.table_oid, anchor.last_id;
            RETURN false;
        END IF;
        IF anchor.last_id OPERATOR(pg_catalog.>) (expected OPERATOR(pg_catalog.-) 1) THEN
            RAISE WARNING 'audit trail broken after record %: records % to % were removed',
                expected OPERATOR(pg_catalog.-) 1, expected, anchor.last_id;
            RETURN false;
        END IF;
        SELECT a.hash INTO anchor_hash FROM privacy_guard.audit_records a
         WHERE a.id OPERATOR(pg_catalog.=) anchor.last_id;
        IF anchor_hash OPERATOR(pg_catalog.<>) anchor.last_hash THEN
            RAISE WARNING 'audit trail broken at record %: it is not the record its writer committed', anchor.last_id;
            RETURN false;
        END IF;
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.verify_audit() IS
    'true if the audit hash chain is intact; false, with a warning naming the first broken record, if not';
REVOKE ALL ON FUNCTION privacy_guard.verify_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.verify_audit() TO privacy_guard_auditor;

CREATE FUNCTION privacy_guard.audit_flush() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_audit_flush';
COMMENT ON FUNCTION privacy_guard.audit_flush() IS
    'wait until every audit event queued before the call is committed to the trail';

-- The data keys each reveal group touched, in chunks, so that
-- access_history() answers exactly without scanning the trail.
CREATE TABLE privacy_guard.audit_subjects (
    queue_epoch bigint NOT NULL,
    group_seq   bigint NOT NULL,
    key_ids     bigint[] NOT NULL
);
CREATE INDEX audit_subjects_key_ids ON privacy_guard.audit_subjects USING gin (key_ids);
CREATE INDEX audit_records_queue ON privacy_guard.audit_records (queue_epoch, queue_seq);
COMMENT ON TABLE privacy_guard.audit_subjects IS 'data keys touched by each audited reveal group';
REVOKE ALL ON privacy_guard.audit_subjects FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.audit_subjects', '');

CREATE FUNCTION privacy_guard.access_history(subject text)
RETURNS TABLE (at timestamptz, session_user_name text, current_role_name text, event text,
               purpose text, category text, table_name text, column_name text, outcome text,
               statement text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT r.at, r.session_user_name, r.current_role_name, r.event, r.purpose, r.category,
           r.table_name, r.column_name, r.outcome, r.statement
      FROM privacy_guard.audit_records r
     WHERE r.database OPERATOR(pg_catalog.=) pg_catalog.current_database()
       AND (EXISTS (SELECT FROM privacy_guard.keys k
                      JOIN privacy_guard.audit_subjects s
                        ON s.key_ids OPERATOR(pg_catalog.@>) ARRAY[k.key_id]
                    WHERE k.kind OPERATOR(pg_catalog.=) 'subject'
                      AND k.name OPERATOR(pg_catalog.=) access_history.subject
                      AND s.queue_epoch OPERATOR(pg_catalog.=) r.queue_epoch
                      AND s.group_seq OPERATOR(pg_catalog.=) r.queue_seq)
            OR r.subject OPERATOR(pg_catalog.=) access_history.subject)
     ORDER BY r.id
$fn$;
COMMENT ON FUNCTION privacy_guard.access_history(text) IS
    'who accessed a subject''s data, when, under which purpose, with what outcome';
REVOKE ALL ON FUNCTION privacy_guard.access_history(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.access_history(text) TO privacy_guard_auditor;

------------------------------------------------------------------------------
-- Consent
------------------------------------------------------------------------------

-- Roles that record customers' consent (the application's sign-up and
-- preference pages).  Consent cannot be given by any role that can write.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'privacy_guard_consent') THEN
        CREATE ROLE privacy_guard_consent NOLOGIN;
    END IF;
END
$$;

-- Append-only: a grant and a withdrawal are both new rows; nothing is
-- overwritten.  The latest event of a (subject, purpose) decides.
CREATE TABLE privacy_guard.consent_events (
    id             bigserial PRIMARY KEY,
    subject        text NOT NULL,
    subject_digest bytea NOT NULL,       -- SHA-256 of subject, as reveal knows it
    purpose        text NOT NULL REFERENCES privacy_guard.purposes (name),
    action         text NOT NULL CHECK (action IN ('granted', 'withdrawn')),
    evidence       text,
    recorded_by    name NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX consent_events_subject ON privacy_guard.consent_events (subject, purpose, id);
CREATE INDEX consent_events_purpose ON privacy_guard.consent_events (purpose, subject_digest, id);
COMMENT ON TABLE privacy_guard.consent_events IS 'every consent given and withdrawn, never overwritten';
REVOKE ALL ON privacy_guard.consent_events FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.consent_events', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.consent_events_id_seq', '');
CREATE FUNCTION privacy_guard.consent_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_consent_changed';
REVOKE ALL ON FUNCTION privacy_guard.consent_changed() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.consent_changed() IS 'statement trigger: every backend forgets its consent cache';
CREATE TRIGGER consent_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy_guard.consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.consent_changed();

CREATE FUNCTION privacy_guard.grant_consent(subject text, purpose text, evidence text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_grant_consent';
CREATE FUNCTION privacy_guard.withdraw_consent(subject text, purpose text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_withdraw_consent';
CREATE FUNCTION privacy_guard.has_consent(subject text, purpose text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_has_consent';
COMMENT ON FUNCTION privacy_guard.grant_consent(text, text, text) IS
    'record a subject''s consent to a consent-bound purpose (and its sub-purposes), with evidence; audited';
COMMENT ON FUNCTION privacy_guard.withdraw_consent(text, text) IS
    'record the withdrawal of a subject''s consent; audited; the history is kept';
COMMENT ON FUNCTION privacy_guard.has_consent(text, text) IS
    'does the subject consent, now, to the purpose (or to one of its ancestors)?';
REVOKE ALL ON FUNCTION privacy_guard.grant_consent(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.withdraw_consent(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.has_consent(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.grant_consent(text, text, text),
    privacy_guard.withdraw_consent(text, text), privacy_guard.has_consent(text, text)
    TO privacy_guard_consent, privacy_guard_admin;

------------------------------------------------------------------------------
-- Restriction of processing
------------------------------------------------------------------------------

-- The built-in purpose under which a customer's own data is shown to them
-- (their right of access): it still sees a restricted subject's data.
INSERT INTO privacy_guard.purposes (name, description)
VALUES ('subject_access', 'the data subject''s own access to their data (built in)');

CREATE TABLE privacy_guard.restriction_events (
    id             bigserial PRIMARY KEY,
    subject        text NOT NULL,
    subject_digest bytea NOT NULL,
    action         text NOT NULL CHECK (action IN ('restricted', 'lifted')),
    reason         text,
    recorded_by    name NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX restriction_events_subject ON privacy_guard.restriction_events (subject, id);
COMMENT ON TABLE privacy_guard.restriction_events IS 'every restriction of processing and its lifting, never overwritten';
REVOKE ALL ON privacy_guard.restriction_events FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.restriction_events', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.restriction_events_id_seq', '');
CREATE TRIGGER restriction_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy_guard.restriction_events
    FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.consent_changed();

CREATE FUNCTION privacy_guard.restrict_processing(subject text, reason text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_restrict_processing';
CREATE FUNCTION privacy_guard.lift_restriction(subject text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_lift_restriction';
COMMENT ON FUNCTION privacy_guard.restrict_processing(text, text) IS
    'restrict processing of a subject''s data: reveal returns NULL except under subject_access; audited';
COMMENT ON FUNCTION privacy_guard.lift_restriction(text) IS 'lift a restriction; audited; the history is kept';
REVOKE ALL ON FUNCTION privacy_guard.restrict_processing(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.lift_restriction(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.restrict_processing(text, text), privacy_guard.lift_restriction(text)
    TO privacy_guard_consent, privacy_guard_admin;

------------------------------------------------------------------------------
-- The customer's right of access
------------------------------------------------------------------------------

-- subject_export()'s bracket: opens (and audits) the scope in which
-- subject_access reveals the one subject's values; closes it.
CREATE FUNCTION privacy_guard.export_scope(subject text, open boolean) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_export_scope';
COMMENT ON FUNCTION privacy_guard.export_scope(text, boolean) IS
    'subject_export()''s bracket: subject_access reveals only this subject, only while open';
REVOKE ALL ON FUNCTION privacy_guard.export_scope(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.export_scope(text, boolean) TO privacy_guard_consent, privacy_guard_admin;

-- Everything held on a subject, across the protected tables the caller can
-- read, decrypted under the built-in purpose subject_access: the caller
-- must hold that purpose, every value goes through reveal() (audited with
-- its table and column), and subject_access reveals nothing else, nor
-- outside this function.  Runs with the caller's rights, without row
-- security (a table owner's policies would run as the caller), and builds
-- the document column by column: built-in types as JSON, others through
-- their output function, protected and blind-index columns never as they
-- are stored.
CREATE FUNCTION privacy_guard.subject_export(subject text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET row_security = off AS $fn$
DECLARE
    t record;
    rows jsonb;
    data jsonb := '{}';
    pairs text[];
    parts text[];
BEGIN
    IF subject IS NULL OR subject OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'subject must not be null or empty' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM privacy_guard.export_scope(subject, true);
    BEGIN
        FOR t IN
            SELECT p.table_schema, p.table_name, p.subject_column,
                   array_agg(p.column_name::text) AS cols,
                   (SELECT array_agg(q.column_name::text) OPERATOR(pg_catalog.||)
                           array_remove(array_agg(q.index_column::text), NULL)
                      FROM privacy_guard.protected_columns q
                     WHERE q.table_schema OPERATOR(pg_catalog.=) p.table_schema
                       AND q.table_name OPERATOR(pg_catalog.=) p.table_name) AS hidden
              FROM privacy_guard.protected_columns p
             GROUP BY p.table_schema, p.table_name, p.subject_column
             ORDER BY p.table_schema, p.table_name, p.subject_column
        LOOP
            SELECT array_agg(CASE
                       WHEN a.attname::text OPERATOR(pg_catalog.=) ANY (t.cols)
                           THEN format('%L, privacy_guard.reveal(t.%I, ''subject_access'')', a.attname, a.attname)
                       WHEN a.atttypid OPERATOR(pg_catalog.<) 16384
                           THEN format('%L, to_jsonb(t.%I)', a.attname, a.attname)
                       ELSE format('%L, format(''%%s'', t.%I)', a.attname, a.attname)
                   END ORDER BY a.attnum)
              INTO pairs
              FROM pg_attribute a
             WHERE a.attrelid OPERATOR(pg_catalog.=) format('%I.%I', t.table_schema, t.table_name)::regclass
               AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
               AND (a.attname::text OPERATOR(pg_catalog.=) ANY (t.cols)
                    OR NOT a.attname::text OPERATOR(pg_catalog.=) ANY (t.hidden));
            -- jsonb_build_object takes at most 100 arguments: 40 pairs a call
            SELECT array_agg(format('jsonb_build_object(%s)', array_to_string(pairs[i:i + 39], ', ')))
              INTO parts FROM generate_series(1, array_length(pairs, 1), 40) AS i;
            EXECUTE format('SELECT COALESCE(jsonb_agg(%s), ''[]'') FROM %I.%I t'
                           ' WHERE t.%I::text OPERATOR(pg_catalog.=) $1',
                           array_to_string(parts, ' OPERATOR(pg_catalog.||) '),
                           t.table_schema, t.table_name, t.subject_column)
               INTO rows USING subject;
            IF jsonb_array_length(rows) OPERATOR(pg_catalog.>) 0 THEN
                data := data OPERATOR(pg_catalog.||)
                        jsonb_build_object(format('%I.%I', t.table_schema, t.table_name), rows);
            END IF;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        PERFORM privacy_guard.export_scope(subject, false);
        RAISE;
    END;
    PERFORM privacy_guard.export_scope(subject, false);
    RETURN jsonb_build_object('subject', subject, 'exported_at', now(), 'data', data);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.subject_export(text) IS
    'everything held on a subject, decrypted under subject_access; every value audited';
REVOKE ALL ON FUNCTION privacy_guard.subject_export(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.subject_export(text) TO privacy_guard_consent, privacy_guard_admin;

------------------------------------------------------------------------------
-- Incidents and lockdown
------------------------------------------------------------------------------

-- The built-in purpose of an investigation, the only one that reveals
-- during a lockdown.  What it sees is the policy's choice (allow()), who
-- may act under it a grant, like any purpose.
INSERT INTO privacy_guard.purposes (name, description)
VALUES ('incident_response', 'investigating a suspected leak; the only purpose that reveals during a lockdown (built in)');

-- Reported incidents and lockdowns, one row each; a lockdown's row closes
-- when it is lifted.
CREATE TABLE privacy_guard.incident_log (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('report', 'lockdown')),
    opened_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    opened_by   name NOT NULL,
    description text NOT NULL CHECK (description <> ''),
    subject     text CHECK (subject <> ''),
    closed_at   timestamptz,
    closed_by   name,
    resolution  text,
    CHECK ((closed_at IS NULL) = (closed_by IS NULL)),
    CHECK (kind = 'report' OR subject IS NULL)
);
-- at most one open lockdown
CREATE UNIQUE INDEX incident_log_lockdown ON privacy_guard.incident_log (kind)
    WHERE kind = 'lockdown' AND closed_at IS NULL;
COMMENT ON TABLE privacy_guard.incident_log IS 'reported incidents and lockdowns';
REVOKE ALL ON privacy_guard.incident_log FROM PUBLIC;
REVOKE ALL ON SEQUENCE privacy_guard.incident_log_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.incident_log', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.incident_log_id_seq', '');

-- The lockdown's state is in shared memory, not in a table (src/incident.c).
CREATE FUNCTION privacy_guard.lockdown_engage(detail text) RETURNS timestamptz
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_lockdown_engage';
CREATE FUNCTION privacy_guard.lockdown_release(detail text) RETURNS boolean
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_lockdown_release';
REVOKE ALL ON FUNCTION privacy_guard.lockdown_engage(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.lockdown_release(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.lockdown_engage(text) IS
    'lock this database down now, undone (and audited) if the transaction rolls back; returns when it began';
COMMENT ON FUNCTION privacy_guard.lockdown_release(text) IS
    'lift this database''s lockdown when the transaction commits, audited then; false if none is in force';

CREATE FUNCTION privacy_guard.lockdown_since() RETURNS timestamptz
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_lockdown_since';
COMMENT ON FUNCTION privacy_guard.lockdown_since() IS
    'when this database''s lockdown began, or NULL when none is in force';

CREATE FUNCTION privacy_guard.report_incident(description text, subject text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    incident bigint;
BEGIN
    IF description IS NULL OR btrim(description) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'an incident needs a description'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Say what was reported: what leaked, where, seen by whom.';
    END IF;
    IF subject OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'subject must not be empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass NULL when the incident concerns no one subject.';
    END IF;
    INSERT INTO privacy_guard.incident_log (kind, opened_by, description, subject)
    VALUES ('report', session_user, report_incident.description, report_incident.subject)
    RETURNING id INTO incident;
    -- the description stays in the table: it may quote personal data
    PERFORM privacy_guard.audit_event('incident', 'reported', pg_catalog.format('incident %s', incident),
                                      report_incident.subject);
    RETURN incident;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.report_incident(text, text) IS
    'record a suspected leak, about one subject or none; returns the incident''s id; audited';

CREATE FUNCTION privacy_guard.close_incident(incident bigint, resolution text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    k text;
BEGIN
    IF resolution IS NULL OR btrim(resolution) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'closing an incident needs a resolution'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Say what the investigation found and did.';
    END IF;
    SELECT i.kind INTO k FROM privacy_guard.incident_log i WHERE i.id OPERATOR(pg_catalog.=) incident FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident % does not exist', incident USING ERRCODE = 'no_data_found';
    END IF;
    IF k OPERATOR(pg_catalog.=) 'lockdown' THEN
        RAISE EXCEPTION 'incident % is a lockdown', incident
            USING ERRCODE = 'wrong_object_type', HINT = 'A lockdown ends with privacy_guard.lift_lockdown().';
    END IF;
    UPDATE privacy_guard.incident_log i
       SET closed_at = pg_catalog.now(), closed_by = session_user, resolution = close_incident.resolution
     WHERE i.id OPERATOR(pg_catalog.=) incident AND i.closed_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident % is already closed', incident USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM privacy_guard.audit_event('incident', 'closed', pg_catalog.format('incident %s', incident), NULL);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.close_incident(bigint, text) IS 'close a reported incident with what was found; audited';

-- Takes effect before it returns, in every session of this database, and
-- survives a restart; undone only if this transaction rolls back.
CREATE FUNCTION privacy_guard.lockdown(reason text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    since timestamptz;
    was_locked boolean;
    incident bigint;
BEGIN
    IF reason IS NULL OR btrim(reason) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'a lockdown needs a reason'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Name the incident that calls for it.';
    END IF;
    was_locked := privacy_guard.lockdown_since() IS NOT NULL;
    since := privacy_guard.lockdown_engage(reason);
    -- one lockdown() or lift_lockdown() at a time (the lockdown is in force
    -- meanwhile); then engage again: a lift that committed while this one
    -- waited must not leave it recorded but not in force
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('privacy_guard.lockdown'));
    was_locked := was_locked AND privacy_guard.lockdown_since() IS NOT NULL;
    since := privacy_guard.lockdown_engage(reason);
    SELECT i.id INTO incident FROM privacy_guard.incident_log i
     WHERE i.kind OPERATOR(pg_catalog.=) 'lockdown' AND i.closed_at IS NULL;
    IF FOUND THEN
        IF NOT was_locked THEN
            -- its row came back with a dump, or its lift rolled back: in force again now
            PERFORM privacy_guard.audit_event('lockdown', 'started', pg_catalog.format('incident %s: %s', incident, reason), NULL);
        END IF;
        RAISE NOTICE 'a lockdown is already in force (incident %)', incident;
        RETURN incident;
    END IF;
    INSERT INTO privacy_guard.incident_log (kind, opened_at, opened_by, description)
    VALUES ('lockdown', since, session_user, reason)
    RETURNING id INTO incident;
    PERFORM privacy_guard.audit_event('lockdown', 'started', pg_catalog.format('incident %s: %s', incident, reason), NULL);
    RETURN incident;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.lockdown(text) IS
    'refuse every reveal in every session at once, except under purpose incident_response; returns the lockdown''s incident id; audited';

-- Takes effect when the transaction commits.
CREATE FUNCTION privacy_guard.lift_lockdown(resolution text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    in_force boolean;
    incident bigint;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('privacy_guard.lockdown'));
    SELECT i.id INTO incident FROM privacy_guard.incident_log i
     WHERE i.kind OPERATOR(pg_catalog.=) 'lockdown' AND i.closed_at IS NULL;
    -- audited when it takes effect, at commit
    in_force := privacy_guard.lockdown_release(pg_catalog.format('incident %s', incident));
    IF NOT in_force AND incident IS NULL THEN
        RAISE NOTICE 'no lockdown is in force';
        RETURN false;
    END IF;
    UPDATE privacy_guard.incident_log i
       SET closed_at = pg_catalog.now(), closed_by = session_user, resolution = lift_lockdown.resolution
     WHERE i.id OPERATOR(pg_catalog.=) incident;
    IF NOT in_force THEN
        -- a lockdown recorded here but not in force (a restored dump): close it, audited now
        PERFORM privacy_guard.audit_event('lockdown', 'lifted', pg_catalog.format('incident %s', incident), NULL);
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.lift_lockdown(text) IS
    'end the lockdown when this transaction commits; false if none was in force; audited';

CREATE VIEW privacy_guard.incidents AS
SELECT i.id, i.kind, i.opened_at, i.opened_by, i.description, i.subject,
       CASE WHEN i.closed_at IS NOT NULL THEN CASE i.kind WHEN 'lockdown' THEN 'lifted' ELSE 'closed' END
            WHEN i.kind OPERATOR(pg_catalog.=) 'report' THEN 'open'
            WHEN privacy_guard.lockdown_since() IS NOT NULL THEN 'in force'
            ELSE 'not in force' END AS status,
       i.closed_at, i.closed_by, i.resolution
  FROM privacy_guard.incident_log i;
COMMENT ON VIEW privacy_guard.incidents IS
    'reported incidents and lockdowns: open, closed, in force or lifted; access_history(subject) starts the investigation';

REVOKE ALL ON FUNCTION privacy_guard.report_incident(text, text), privacy_guard.close_incident(bigint, text),
    privacy_guard.lockdown(text), privacy_guard.lift_lockdown(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.report_incident(text, text) TO privacy_guard_consent, privacy_guard_admin;
GRANT EXECUTE ON FUNCTION privacy_guard.close_incident(bigint, text), privacy_guard.lockdown(text),
    privacy_guard.lift_lockdown(text) TO privacy_guard_admin;
REVOKE ALL ON privacy_guard.incidents FROM PUBLIC;
GRANT SELECT ON privacy_guard.incidents TO privacy_guard_admin, privacy_guard_auditor;

------------------------------------------------------------------------------
-- Erasure: the right to be forgotten, within a deadline, by crypto-shredding
------------------------------------------------------------------------------

-- The C internals (src/erasure.c): the extension owner's only.
CREATE FUNCTION privacy_guard.pseudonym(subject text, scope text) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_pseudonym';
CREATE FUNCTION privacy_guard.caller_owns(tbl regclass) RETURNS boolean
    LANGUAGE C STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_caller_owns';
CREATE FUNCTION privacy_guard.run_as_owner(tbl regclass, query text, params text[]) RETURNS text[]
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_run_as_owner';
CREATE FUNCTION privacy_guard.audit_event(event text, outcome text, detail text, subject text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_audit_event';
REVOKE ALL ON FUNCTION privacy_guard.pseudonym(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.caller_owns(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.run_as_owner(regclass, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.audit_event(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.pseudonym(text, text) IS
    'HMAC of a subject under a random key that lives for one scope (an erasure request, a retention run)';
COMMENT ON FUNCTION privacy_guard.caller_owns(regclass) IS
    'does the calling role own the table (and is it an application table)?';
COMMENT ON FUNCTION privacy_guard.run_as_owner(regclass, text, text[]) IS
    'run a statement as the table''s owner, security-restricted; returns its rows'' first column';
COMMENT ON FUNCTION privacy_guard.audit_event(text, text, text, text) IS 'queue one audit record about a subject';

-- Where an erasure finds rows: the subject link of audit records too.
CREATE INDEX audit_records_subject ON privacy_guard.audit_records (subject) WHERE subject IS NOT NULL;

-- Policy-wide settings; absent means the default.
CREATE TABLE privacy_guard.policy_settings (
    setting text PRIMARY KEY CHECK (setting IN ('erasure_deadline')),
    value   text NOT NULL
);
COMMENT ON TABLE privacy_guard.policy_settings IS 'policy-wide settings: erasure_deadline (default 30 days)';

-- What erasure does to each table: delete the subject's rows (the default
-- for every protected table) or anonymise them.  subject_col names the
-- subject link of a table with no protected column.
CREATE TABLE privacy_guard.erasure_actions (
    tbl         regclass PRIMARY KEY,
    action      text NOT NULL CHECK (action IN ('delete', 'anonymise')),
    subject_col name,
    set_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE privacy_guard.erasure_actions IS 'per table: delete or anonymise an erased subject''s rows';

CREATE TABLE privacy_guard.erasures (
    id                 bigserial PRIMARY KEY,
    subject            text NOT NULL CHECK (subject <> ''),
    reason             text,
    requested_by       name NOT NULL,
    requested_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    due_at             timestamptz NOT NULL,
    completed_at       timestamptz,
    certificate        jsonb,
    certificate_sha256 text,
    attempts           integer NOT NULL DEFAULT 0,
    last_error         text,
    CHECK ((completed_at IS NULL) = (certificate IS NULL))
);
-- one open request per subject
CREATE UNIQUE INDEX erasures_pending ON privacy_guard.erasures (subject) WHERE completed_at IS NULL;
CREATE INDEX erasures_subject ON privacy_guard.erasures (subject, id);
COMMENT ON TABLE privacy_guard.erasures IS 'erasure requests, their processing and certificates';

CREATE TABLE privacy_guard.retention_rules (
    tbl      regclass PRIMARY KEY,
    time_col name NOT NULL,
    keep     interval NOT NULL CHECK (keep > '0'),
    action   text NOT NULL CHECK (action IN ('delete', 'anonymise')),
    set_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE privacy_guard.retention_rules IS 'per table: how long rows are kept, then deleted or anonymised';

REVOKE ALL ON privacy_guard.policy_settings, privacy_guard.erasure_actions, privacy_guard.erasures,
    privacy_guard.retention_rules FROM PUBLIC;
REVOKE ALL ON SEQUENCE privacy_guard.erasures_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.policy_settings', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.erasure_actions', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.erasures', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.erasures_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.retention_rules', '');

-- Policy changes are audited like the rest of the policy.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['policy_settings', 'erasure_actions', 'retention_rules'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER catalog_inserted AFTER INSERT ON privacy_guard.%I
            REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER catalog_updated AFTER UPDATE ON privacy_guard.%I
            REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER catalog_deleted AFTER DELETE ON privacy_guard.%I
            REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()', t);
    END LOOP;
END
$$;

CREATE FUNCTION privacy_guard.set_erasure_deadline(deadline interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF deadline IS NULL OR deadline <= '0' THEN
        RAISE EXCEPTION 'invalid erasure deadline %', coalesce(deadline::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The deadline is a positive interval, such as ''30 days''.';
    END IF;
    INSERT INTO privacy_guard.policy_settings AS s (setting, value) VALUES ('erasure_deadline', deadline::text)
    ON CONFLICT ON CONSTRAINT policy_settings_pkey DO UPDATE SET value = excluded.value;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.set_erasure_deadline(interval) IS
    'how long after a request its erasure is due (default 30 days)';

-- The cast that turns a subject into a value of its column's type: no
-- length modifier, so that nothing is truncated into another subject's id.
CREATE FUNCTION privacy_guard.subject_cast(typ regtype) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE typ WHEN 'text'::regtype THEN 'pg_catalog.text' WHEN 'varchar'::regtype THEN 'pg_catalog.varchar'
                    WHEN 'bpchar'::regtype THEN 'pg_catalog.bpchar' WHEN 'int2'::regtype THEN 'pg_catalog.int2'
                    WHEN 'int4'::regtype THEN 'pg_catalog.int4' WHEN 'int8'::regtype THEN 'pg_catalog.int8'
                    WHEN 'uuid'::regtype THEN 'pg_catalog.uuid' END
$fn$;

-- Can a row of a column of this type have this subject?  Its text form
-- must come back unchanged ('042' is not subject '42' of an integer column,
-- as column::text is what names a row's subject).
CREATE FUNCTION privacy_guard.subject_fits(subject text, typ regtype) RETURNS boolean
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    same boolean;
BEGIN
    EXECUTE format('SELECT $1::%s::pg_catalog.text OPERATOR(pg_catalog.=) $1', privacy_guard.subject_cast(typ))
       INTO same USING subject;
    RETURN coalesce(same, false);
EXCEPTION WHEN data_exception THEN
    RETURN false;
END
$fn$;

-- The pseudonym that replaces an anonymised row's subject link, as text of
-- the column's type: 'anon-' and 24 hex digits, a negative integer, or a
-- version-8 UUID.  apply_retention() recognises them by that shape.
CREATE FUNCTION privacy_guard.pseudonym_for(subject text, typ regtype, scope text) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    h bytea := privacy_guard.pseudonym(subject, scope);
BEGIN
    CASE typ
        WHEN 'text'::regtype, 'varchar'::regtype, 'bpchar'::regtype THEN
            RETURN 'anon-' || encode(substring(h FROM 1 FOR 12), 'hex');
        WHEN 'int8'::regtype THEN
            RETURN (-(('x' || encode(substring(h FROM 1 FOR 8), 'hex'))::bit(64)::bigint & 4611686018427387903) - 1)::text;
        WHEN 'int4'::regtype THEN
            RETURN (-(('x' || encode(substring(h FROM 1 FOR 4), 'hex'))::bit(32)::integer & 1073741823) - 1)::text;
        WHEN 'uuid'::regtype THEN
            h := set_byte(h, 6, (get_byte(h, 6) & 15) | 128);
            h := set_byte(h, 8, (get_byte(h, 8) & 63) | 128);
            RETURN encode(substring(h FROM 1 FOR 16), 'hex')::uuid::text;
        ELSE
            RAISE EXCEPTION 'a subject link of type % cannot hold a pseudonym', typ
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Anonymised links are text of 29 characters or more, integer, bigint or uuid; delete the rows instead.';
    END CASE;
END
$fn$;

-- SQL that is true for a link already replaced by a pseudonym.
CREATE FUNCTION privacy_guard.pseudonym_test(col name, typ regtype) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
                     THEN format('t.%I OPERATOR(pg_catalog.<) 0', col)
                WHEN typ OPERATOR(pg_catalog.=) 'uuid'::regtype
                     THEN format('pg_catalog.substr(t.%I::pg_catalog.text, 15, 1) OPERATOR(pg_catalog.=) ''8''', col)
                ELSE format('t.%I::pg_catalog.text OPERATOR(pg_catalog.~) ''^anon-[0-9a-f]{24}$''', col) END
$fn$;

-- Refuse a subject link whose rows cannot be anonymised, saying why.
CREATE FUNCTION privacy_guard.require_anonymisable(tbl regclass, subject_col name) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    att record;
    fk boolean;
    bad text;
    why text;
BEGIN
    SELECT a.attnum, a.atttypid, a.atttypmod, a.attnotnull INTO att
      FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = subject_col AND NOT a.attisdropped AND a.attnum > 0;
    fk := EXISTS (SELECT FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = tbl AND att.attnum = ANY (c.conkey));
    SELECT string_agg(format('"%s"', p.col), ', ' ORDER BY p.col) INTO bad
      FROM privacy_guard.column_protection p
      JOIN pg_attribute a ON a.attrelid = p.tbl AND a.attname = p.col
     WHERE p.tbl = require_anonymisable.tbl AND p.subject_col = require_anonymisable.subject_col AND a.attnotnull;
    why := CASE
        WHEN att.atttypid = 'int2'::regtype THEN
            format('subject column "%s" is a smallint, too small for a pseudonym', subject_col)
        WHEN att.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND att.atttypmod > 0 AND att.atttypmod - 4 < 29 AND NOT fk THEN
            format('subject column "%s" holds fewer than the 29 characters of a pseudonym', subject_col)
        WHEN fk AND att.attnotnull THEN
            format('subject column "%s" is a NOT NULL foreign key: anonymising sets it to NULL', subject_col)
        WHEN bad IS NOT NULL THEN
            format('protected columns %s are NOT NULL: anonymising sets them to NULL', bad)
    END;
    IF why IS NOT NULL THEN
        RAISE EXCEPTION 'cannot anonymise the rows of relation %: %', tbl, why
            USING ERRCODE = 'invalid_table_definition', HINT = 'Delete these rows instead, or change the column.';
    END IF;
END
$fn$;

-- The checks set_erasure_action() and set_retention() share: an ordinary
-- table that the calling role owns, and an action; returns the action
-- spelled as stored.
CREATE FUNCTION privacy_guard.check_rule(tbl regclass, action text, what text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    act text := CASE lower(action) WHEN 'anonymize' THEN 'anonymise' ELSE lower(action) END;
BEGIN
    IF (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl) IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION '"%" is not an ordinary table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT privacy_guard.caller_owns(tbl) THEN
        RAISE EXCEPTION 'must be owner of table %', tbl
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Erasure and retention act on application tables as their owner; their owner sets them.';
    END IF;
    IF act IS NULL OR act NOT IN ('delete', 'anonymise') THEN
        RAISE EXCEPTION 'invalid % action %', what, coalesce(quote_literal(action), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The action is delete or anonymise.';
    END IF;
    RETURN act;
END
$fn$;

CREATE FUNCTION privacy_guard.set_erasure_action(tbl regclass, action text, subject_col name DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    act text;
    typ oid;
    attnum int2;
    s name;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    act := privacy_guard.check_rule(tbl, action, 'erasure');
    IF subject_col IS NOT NULL THEN
        SELECT a.atttypid, a.attnum INTO typ, attnum FROM pg_attribute a
         WHERE a.attrelid = tbl AND a.attname = set_erasure_action.subject_col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', subject_col, tbl USING ERRCODE = 'undefined_column';
        END IF;
        IF privacy_guard.subject_cast(typ) IS NULL THEN
            RAISE EXCEPTION 'subject column "%" of relation % has type %', subject_col, tbl, format_type(typ, NULL)
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'A subject column is text, varchar, char, smallint, integer, bigint or uuid: an id, not personal data.';
        END IF;
    ELSIF NOT EXISTS (SELECT FROM privacy_guard.column_protection p WHERE p.tbl = set_erasure_action.tbl) THEN
        RAISE EXCEPTION 'relation % has no protected column, so its subject column is not known', tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the column that holds the data subject''s id: set_erasure_action(tbl, action, subject_col => ...).';
    END IF;
    IF act = 'anonymise' THEN
        FOR s IN SELECT DISTINCT p.subject_col FROM privacy_guard.column_protection p WHERE p.tbl = set_erasure_action.tbl
                 UNION SELECT set_erasure_action.subject_col WHERE set_erasure_action.subject_col IS NOT NULL LOOP
            PERFORM privacy_guard.require_anonymisable(tbl, s);
        END LOOP;
    END IF;
    INSERT INTO privacy_guard.erasure_actions AS e (tbl, action, subject_col)
    VALUES (set_erasure_action.tbl, act, set_erasure_action.subject_col)
    ON CONFLICT ON CONSTRAINT erasure_actions_pkey DO UPDATE SET action = excluded.action, subject_col = excluded.subject_col, set_at = pg_catalog.now();
    -- an erasure finds the subject's rows through an index, as its owner would build it
    IF subject_col IS NOT NULL AND NOT EXISTS (
            SELECT FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
             WHERE i.indrelid = tbl AND i.indkey[0] = attnum AND i.indpred IS NULL AND am.amname IN ('btree', 'hash')) THEN
        PERFORM privacy_guard.run_as_owner(tbl, format('CREATE INDEX ON %s (%I)', tbl, subject_col), NULL);
        RAISE NOTICE 'created an index on %(%) for erasure', tbl, subject_col;
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.set_erasure_action(regclass, text, name) IS
    'what erasure does to a table''s rows of the subject: delete (the default) or anonymise';

-- Every (table, subject link) an erasure visits, children before parents
-- (a table whose foreign keys point at another comes first).
CREATE FUNCTION privacy_guard.erasure_units()
RETURNS TABLE (ord integer, tbl oid, action text, subject_col name, subject_type regtype,
               protected_cols name[], fk_link boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    remaining oid[];
    ready oid[];
    ordered oid[] := '{}';
BEGIN
    SELECT array_agg(DISTINCT x.t) INTO remaining
      FROM (SELECT p.tbl::oid AS t FROM privacy_guard.column_protection p
            UNION SELECT a.tbl::oid FROM privacy_guard.erasure_actions a) x;
    WHILE cardinality(remaining) > 0 LOOP
        SELECT array_agg(r ORDER BY r) INTO ready FROM unnest(remaining) r
         WHERE NOT EXISTS (SELECT FROM pg_constraint c
                            WHERE c.contype = 'f' AND c.confrelid = r AND c.conrelid <> r
                              AND c.conrelid = ANY (remaining));
        IF ready IS NULL THEN       -- a cycle of foreign keys: the rest as they come
            ready := remaining;
        END IF;
        ordered := ordered || ready;
        remaining := ARRAY(SELECT r FROM unnest(remaining) r WHERE r <> ALL (ready));
    END LOOP;
    RETURN QUERY
    SELECT o.n::integer, o.t, coalesce(a.action, 'delete'), s.col, att.atttypid::regtype,
           coalesce((SELECT array_agg(p.col ORDER BY p.col) FROM privacy_guard.column_protection p
                      WHERE p.tbl = o.t AND p.subject_col = s.col), '{}'),
           EXISTS (SELECT FROM pg_constraint c
                    WHERE c.contype = 'f' AND c.conrelid = o.t AND att.attnum = ANY (c.conkey))
      FROM unnest(ordered) WITH ORDINALITY AS o(t, n)
      LEFT JOIN privacy_guard.erasure_actions a ON a.tbl = o.t
      CROSS JOIN LATERAL (SELECT p.subject_col AS col FROM privacy_guard.column_protection p WHERE p.tbl = o.t
                          UNION SELECT a.subject_col WHERE a.subject_col IS NOT NULL) s
      LEFT JOIN pg_attribute att ON att.attrelid = o.t AND att.attname = s.col AND NOT att.attisdropped
     ORDER BY o.n, s.col;
END
$fn$;

CREATE FUNCTION privacy_guard.request_erasure(subject text, reason text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    req record;
    id bigint;
    due timestamptz;
    u record;
    held boolean;
BEGIN
    IF subject IS NULL OR subject = '' THEN
        RAISE EXCEPTION 'subject must not be null or empty' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- one open request per subject; an erased subject stays erased
    PERFORM pg_advisory_xact_lock(hashtext('privacy_guard.erasure:' || subject));
    SELECT e.id, e.completed_at, e.due_at INTO req FROM privacy_guard.erasures e
     WHERE e.subject = request_erasure.subject ORDER BY e.completed_at IS NULL DESC, e.id DESC LIMIT 1;
    IF FOUND AND req.completed_at IS NULL THEN
        RAISE NOTICE 'subject "%" already has a pending erasure request, %', subject, req.id;
        RETURN req.id;
    END IF;
    IF FOUND AND EXISTS (SELECT FROM privacy_guard.keys k WHERE k.kind = 'subject' AND k.name = request_erasure.subject
                                                         AND k.erased_at IS NOT NULL) THEN
        RAISE NOTICE 'subject "%" was already erased, by request %', subject, req.id;
        RETURN req.id;
    END IF;
    -- the subject must be one the database holds data on, written as its
    -- column renders it: a request for '042' must not be certified while
    -- customer 42 stays
    IF NOT EXISTS (SELECT FROM privacy_guard.keys k WHERE k.kind = 'subject' AND k.name = request_erasure.subject) THEN
        held := false;
        FOR u IN SELECT * FROM privacy_guard.erasure_units() x WHERE x.subject_type IS NOT NULL LOOP
            CONTINUE WHEN NOT privacy_guard.subject_fits(subject, u.subject_type);
            held := cardinality(privacy_guard.run_as_owner(u.tbl,
                        format('SELECT 1 FROM ONLY %s t WHERE t.%I OPERATOR(pg_catalog.=) $1::%s LIMIT 1',
                               u.tbl::regclass, u.subject_col, privacy_guard.subject_cast(u.subject_type)),
                        ARRAY[subject])) > 0;
            EXIT WHEN held;
        END LOOP;
        IF NOT held THEN
            RAISE EXCEPTION 'no data is held on subject "%"', subject
                USING ERRCODE = 'no_data_found',
                      HINT = 'Write the subject as its column renders it (column::text): 42, not 042; a uuid in lower case.';
        END IF;
    END IF;
    due := now() + coalesce((SELECT s.value::interval FROM privacy_guard.policy_settings s
                              WHERE s.setting = 'erasure_deadline'), '30 days');
    INSERT INTO privacy_guard.erasures AS e (subject, reason, requested_by, due_at)
    VALUES (request_erasure.subject, request_erasure.reason, session_user, due)
    RETURNING e.id INTO id;
    PERFORM privacy_guard.audit_event('erasure_request', 'requested',
                                      format('erasure request %s, due %s', id, due), subject);
    RETURN id;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.request_erasure(text, text) IS
    'record a subject''s request to be erased; returns its id; due after the policy''s erasure deadline';

CREATE VIEW privacy_guard.erasure_requests AS
SELECT e.id, e.subject, e.requested_at, e.due_at, e.completed_at,
       CASE WHEN e.completed_at IS NULL THEN 'pending' ELSE 'completed' END AS status,
       e.completed_at IS NULL AND e.due_at < pg_catalog.now() AS overdue,
       e.reason, e.requested_by, e.attempts, e.last_error
  FROM privacy_guard.erasures e;
COMMENT ON VIEW privacy_guard.erasure_requests IS 'erasure requests: pending or completed, and which are overdue';

-- Carry out every pending request.  Each one runs in a subtransaction of
-- its own, in this order: the tables erasure visits are locked against
-- writes (SHARE ROW EXCLUSIVE, held until commit, so that no row of the subject is
-- being written meanwhile), the subject's data key is destroyed (its row in
-- privacy_guard.keys becomes a tombstone), then its rows are deleted or
-- anonymised table by table, children first, each statement as the
-- table's owner, then the certificate is stored and audited.  A failure
-- rolls the request back whole: no subject is ever left half erased, and
-- the next run starts it again.  A crash does the same.
CREATE FUNCTION privacy_guard.process_erasures() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET row_security = off AS $fn$
DECLARE
    units jsonb;
    r record;
    u record;
    key_id bigint;
    had_key boolean;
    tables jsonb;
    total bigint;
    n bigint;
    link text;
    q text;
    cert jsonb;
    digest text;
    finished timestamptz;
    done integer := 0;
    msg text;
    state text;
BEGIN
    -- each statement must see the rows committed before it, not a transaction's snapshot
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'process_erasures() must run at READ COMMITTED'
            USING ERRCODE = 'invalid_transaction_state',
                  HINT = 'Under a transaction snapshot, rows committed since it began would escape the erasure.';
    END IF;
    -- deferred foreign keys are checked where the owner's statements run
    SET CONSTRAINTS ALL IMMEDIATE;
    SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.ord, x.subject_col), '[]') INTO units
      FROM privacy_guard.erasure_units() x;
    FOR r IN SELECT e.id, e.subject, e.requested_at, e.due_at FROM privacy_guard.erasures e
              WHERE e.completed_at IS NULL ORDER BY e.id FOR UPDATE SKIP LOCKED LOOP
        BEGIN
            -- 0. no new rows while we erase: writers in flight commit first
            -- (their rows are erased too); later ones wait, then find the
            -- subject erased and fail
            FOR u IN SELECT DISTINCT x.tbl FROM jsonb_to_recordset(units) AS x(tbl oid) ORDER BY x.tbl LOOP
                EXECUTE format('LOCK TABLE ONLY %s IN SHARE ROW EXCLUSIVE MODE', u.tbl::regclass);
            END LOOP;
            -- 1. the key first: from here every copy of the ciphertext is unreadable
            SELECT k.wrapped IS NOT NULL INTO had_key FROM privacy_guard.keys k
             WHERE k.kind = 'subject' AND k.name = r.subject FOR UPDATE;
            INSERT INTO privacy_guard.keys AS k (kind, name, erased_at) VALUES ('subject', r.subject, clock_timestamp())
            ON CONFLICT (kind, name) DO UPDATE
               SET master_version = NULL, wrapped = NULL, erased_at = coalesce(k.erased_at, excluded.erased_at)
            RETURNING k.key_id INTO key_id;

            -- 2. the rows, children first, each statement as the table's owner
            tables := '[]';
            total := 0;
            FOR u IN SELECT * FROM jsonb_to_recordset(units) AS x(ord integer, tbl oid, action text, subject_col name,
                                                                  subject_type regtype, protected_cols name[], fk_link boolean) LOOP
                IF u.subject_type IS NULL THEN
                    RAISE EXCEPTION 'subject column "%" of relation % no longer exists', u.subject_col, u.tbl::regclass
                        USING ERRCODE = 'undefined_column',
                              HINT = 'Protect the table''s columns again, or set its erasure action with its new subject column.';
                END IF;
                CONTINUE WHEN NOT privacy_guard.subject_fits(r.subject, u.subject_type);
                IF u.action = 'delete' THEN
                    q := format('WITH d AS (DELETE FROM ONLY %s t WHERE t.%I OPERATOR(pg_catalog.=) $1::%s RETURNING 1) '
                                'SELECT pg_catalog.count(*) FROM d',
                                u.tbl::regclass, u.subject_col, privacy_guard.subject_cast(u.subject_type));
                    n := (privacy_guard.run_as_owner(u.tbl, q, ARRAY[r.subject]))[1]::bigint;
                    link := NULL;
                ELSE
                    PERFORM privacy_guard.require_anonymisable(u.tbl::regclass, u.subject_col);
                    link := CASE WHEN u.fk_link THEN NULL
                                 ELSE privacy_guard.pseudonym_for(r.subject, u.subject_type, 'erasure ' || r.id) END;
                    q := format('WITH a AS (UPDATE ONLY %s t SET %I = $2::%s%s WHERE t.%I OPERATOR(pg_catalog.=) $1::%s RETURNING 1) '
                                'SELECT pg_catalog.count(*) FROM a',
                                u.tbl::regclass, u.subject_col, privacy_guard.subject_cast(u.subject_type),
                                (SELECT coalesce(string_agg(format(', %I = NULL', c), ''), '') FROM unnest(u.protected_cols) c),
                                u.subject_col, privacy_guard.subject_cast(u.subject_type));
                    n := (privacy_guard.run_as_owner(u.tbl, q, ARRAY[r.subject, link]))[1]::bigint;
                END IF;
                tables := tables || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                    'table', u.tbl::regclass::text, 'subject_column', u.subject_col, 'action', u.action,
                    'link', CASE WHEN u.action = 'anonymise' THEN CASE WHEN u.fk_link THEN 'set to null' ELSE 'pseudonym' END END,
                    'shredded_columns', CASE WHEN u.action = 'anonymise' THEN to_jsonb(u.protected_cols) END,
                    'rows', n)));
                total := total + n;
            END LOOP;

            -- 3. the certificate, tied into the audit chain by its hash
            finished := clock_timestamp();
            cert := jsonb_build_object(
                'request', r.id, 'subject', r.subject,
                'requested_at', r.requested_at, 'due_at', r.due_at, 'completed_at', finished,
                'on_time', finished <= r.due_at,
                'data_key', jsonb_build_object('key_id', key_id,
                                               'destroyed', CASE WHEN had_key THEN 'destroyed' ELSE 'none existed' END),
                'tables', tables, 'rows', total, 'processed_by', session_user::text);
            digest := encode(sha256(convert_to(cert::text, 'UTF8')), 'hex');
            UPDATE privacy_guard.erasures e
               SET completed_at = finished, certificate = cert, certificate_sha256 = digest,
                   attempts = e.attempts + 1, last_error = NULL
             WHERE e.id = r.id;
            PERFORM privacy_guard.audit_event('erasure', 'completed',
                format('erasure request %s: data key %s %s, %s rows in %s tables; certificate sha256:%s',
                       r.id, key_id, CASE WHEN had_key THEN 'destroyed' ELSE 'never existed' END,
                       total, jsonb_array_length(tables), digest), r.subject);
            done := done + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
            UPDATE privacy_guard.erasures e SET attempts = e.attempts + 1, last_error = state || ': ' || msg
             WHERE e.id = r.id;
            PERFORM privacy_guard.audit_event('erasure', 'failed', format('erasure request %s: %s', r.id, msg), r.subject);
            RAISE WARNING 'erasure request % failed: %', r.id, msg
                USING HINT = 'Nothing of this request was applied; fix the cause and run process_erasures() again.';
        END;
    END LOOP;
    RETURN done;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.process_erasures() IS
    'carry out pending erasure requests: destroy the key, then delete or anonymise rows; returns how many completed';

CREATE FUNCTION privacy_guard.erasure_certificate(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    e record;
    rec record;
BEGIN
    SELECT x.id, x.subject, x.completed_at, x.certificate, x.certificate_sha256 INTO e
      FROM privacy_guard.erasures x WHERE x.id = request_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'erasure request % does not exist', coalesce(request_id::text, 'NULL')
            USING ERRCODE = 'no_data_found';
    END IF;
    IF e.completed_at IS NULL THEN
        RAISE EXCEPTION 'erasure request % is not completed', request_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'privacy_guard.process_erasures() carries out pending requests.';
    END IF;
    FOR i IN 1..2 LOOP
        SELECT a.id, a.at, a.hash INTO rec FROM privacy_guard.audit_records a
         WHERE a.subject = e.subject AND a.event = 'erasure' AND a.outcome = 'completed'
           AND a.statement LIKE '%certificate sha256:' || e.certificate_sha256
         ORDER BY a.id LIMIT 1;
        EXIT WHEN FOUND;
        PERFORM privacy_guard.audit_flush();
    END LOOP;
    RETURN jsonb_build_object(
        'certificate', e.certificate,
        'certificate_sha256', e.certificate_sha256,
        'audit_record', CASE WHEN rec.id IS NOT NULL THEN
            jsonb_build_object('id', rec.id, 'at', rec.at, 'hash', encode(rec.hash, 'hex')) END);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.erasure_certificate(bigint) IS
    'proof of a completed erasure: what, where, how many rows, when; its SHA-256 is in the audit chain';

------------------------------------------------------------------------------
-- Retention
------------------------------------------------------------------------------

CREATE FUNCTION privacy_guard.set_retention(tbl regclass, time_col name, keep interval, action text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    act text;
    typ oid;
    s name;
    subjects int := 0;
BEGIN
    IF tbl IS NULL OR time_col IS NULL THEN
        RAISE EXCEPTION 'set_retention() needs a table and a time column' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF keep IS NULL THEN
        PERFORM privacy_guard.check_rule(tbl, 'delete', 'retention');
        DELETE FROM privacy_guard.retention_rules r WHERE r.tbl = set_retention.tbl;
        RETURN;
    END IF;
    act := privacy_guard.check_rule(tbl, action, 'retention');
    IF keep <= '0' THEN
        RAISE EXCEPTION 'invalid retention period %', keep
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Keep rows for a positive interval; NULL removes the rule.';
    END IF;
    SELECT a.atttypid INTO typ FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = set_retention.time_col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', time_col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF typ NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
        RAISE EXCEPTION 'time column "%" of relation % has type %', time_col, tbl, format_type(typ, NULL)
            USING ERRCODE = 'datatype_mismatch', HINT = 'The time column is a timestamptz, timestamp or date.';
    END IF;
    IF act = 'anonymise' THEN
        FOR s IN SELECT u.subject_col FROM privacy_guard.erasure_units() u WHERE u.tbl = set_retention.tbl::oid LOOP
            subjects := subjects + 1;
            PERFORM privacy_guard.require_anonymisable(tbl, s);
        END LOOP;
        IF subjects = 0 THEN
            RAISE EXCEPTION 'relation % has no protected column, so its subject column is not known', tbl
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name it with set_erasure_action(tbl, action, subject_col => ...), or delete old rows instead.';
        END IF;
    END IF;
    INSERT INTO privacy_guard.retention_rules AS r (tbl, time_col, keep, action)
    VALUES (set_retention.tbl, set_retention.time_col, set_retention.keep, act)
    ON CONFLICT ON CONSTRAINT retention_rules_pkey DO UPDATE SET time_col = excluded.time_col, keep = excluded.keep,
                                    action = excluded.action, set_at = pg_catalog.now();
END
$fn$;
COMMENT ON FUNCTION privacy_guard.set_retention(regclass, name, interval, text) IS
    'keep a table''s rows for an interval after their time column, then delete or anonymise them; NULL keep removes the rule';

-- Delete or anonymise every row older than its table's retention period.
-- Anonymising a row replaces its subject link (by the subject's pseudonym,
-- or NULL where it is a foreign key) and sets its protected columns to
-- NULL; the subjects' keys live on (they are still customers).  Rows already
-- anonymised are left alone, so each run costs what is new.
CREATE FUNCTION privacy_guard.apply_retention() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET row_security = off AS $fn$
DECLARE
    r record;
    u record;
    cutoff timestamptz;
    subjects text[];
    links text[];
    n bigint;
    rule_rows bigint;
    total bigint := 0;
BEGIN
    FOR r IN SELECT x.tbl, x.time_col, x.keep, x.action FROM privacy_guard.retention_rules x ORDER BY x.tbl::oid LOOP
        cutoff := now() - r.keep;
        IF r.action = 'delete' THEN
            rule_rows := (privacy_guard.run_as_owner(r.tbl,
                format('WITH d AS (DELETE FROM ONLY %s t WHERE t.%I OPERATOR(pg_catalog.<) $1::pg_catalog.timestamptz RETURNING 1) '
                       'SELECT pg_catalog.count(*) FROM d', r.tbl, r.time_col), ARRAY[cutoff::text]))[1]::bigint;
        ELSE
            rule_rows := 0;
            FOR u IN SELECT * FROM privacy_guard.erasure_units() x WHERE x.tbl = r.tbl::oid LOOP
                -- the subjects of old rows not yet anonymised, as their owner sees them
                subjects := privacy_guard.run_as_owner(r.tbl,
                    format('SELECT DISTINCT t.%I::pg_catalog.text FROM ONLY %s t WHERE t.%I OPERATOR(pg_catalog.<) $1::pg_catalog.timestamptz'
                           ' AND t.%I IS NOT NULL AND (NOT (%s)%s)',
                           u.subject_col, r.tbl, r.time_col, u.subject_col, privacy_guard.pseudonym_test(u.subject_col, u.subject_type),
                           (SELECT coalesce(string_agg(format(' OR t.%I IS NOT NULL', c), ''), '') FROM unnest(u.protected_cols) c)),
                    ARRAY[cutoff::text]);
                CONTINUE WHEN cardinality(subjects) = 0;
                SELECT array_agg(CASE WHEN u.fk_link THEN NULL
                                      ELSE privacy_guard.pseudonym_for(s, u.subject_type, 'retention ' || txid_current()) END ORDER BY i)
                  INTO links FROM unnest(subjects) WITH ORDINALITY AS x(s, i);
                n := (privacy_guard.run_as_owner(r.tbl,
                    format('WITH a AS (UPDATE ONLY %s t SET %I = m.link::%s%s'
                           ' FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[])) AS m(subject, link)'
                           ' WHERE t.%I OPERATOR(pg_catalog.=) m.subject::%s AND t.%I OPERATOR(pg_catalog.<) $1::pg_catalog.timestamptz'
                           ' RETURNING 1) SELECT pg_catalog.count(*) FROM a',
                           r.tbl, u.subject_col, privacy_guard.subject_cast(u.subject_type),
                           (SELECT coalesce(string_agg(format(', %I = NULL', c), ''), '') FROM unnest(u.protected_cols) c),
                           u.subject_col, privacy_guard.subject_cast(u.subject_type), r.time_col),
                    ARRAY[cutoff::text, subjects::text, links::text]))[1]::bigint;
                rule_rows := rule_rows + n;
            END LOOP;
        END IF;
        IF rule_rows > 0 THEN
            PERFORM privacy_guard.audit_event('retention', CASE r.action WHEN 'delete' THEN 'deleted' ELSE 'anonymised' END,
                format('%s: %s rows older than %s (%s before %s)', r.tbl, rule_rows, r.keep, r.time_col, cutoff), NULL);
        END IF;
        total := total + rule_rows;
    END LOOP;
    RETURN total;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.apply_retention() IS
    'delete or anonymise rows older than their table''s retention period; returns how many rows';

------------------------------------------------------------------------------
-- Privileges of erasure and retention
------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION privacy_guard.set_erasure_deadline(interval), privacy_guard.subject_cast(regtype),
    privacy_guard.subject_fits(text, regtype), privacy_guard.pseudonym_for(text, regtype, text),
    privacy_guard.pseudonym_test(name, regtype), privacy_guard.require_anonymisable(regclass, name),
    privacy_guard.check_rule(regclass, text, text),
    privacy_guard.set_erasure_action(regclass, text, name), privacy_guard.erasure_units(),
    privacy_guard.request_erasure(text, text), privacy_guard.process_erasures(),
    privacy_guard.erasure_certificate(bigint), privacy_guard.set_retention(regclass, name, interval, text),
    privacy_guard.apply_retention() FROM PUBLIC;
REVOKE ALL ON privacy_guard.erasure_requests FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.set_erasure_deadline(interval),
    privacy_guard.set_erasure_action(regclass, text, name), privacy_guard.process_erasures(),
    privacy_guard.set_retention(regclass, name, interval, text), privacy_guard.apply_retention()
    TO privacy_guard_admin;
GRANT EXECUTE ON FUNCTION privacy_guard.request_erasure(text, text) TO privacy_guard_consent, privacy_guard_admin;
GRANT EXECUTE ON FUNCTION privacy_guard.erasure_certificate(bigint)
    TO privacy_guard_consent, privacy_guard_admin, privacy_guard_auditor;
GRANT SELECT ON privacy_guard.erasure_requests TO privacy_guard_consent, privacy_guard_admin, privacy_guard_auditor;

------------------------------------------------------------------------------
-- Policy as a document
------------------------------------------------------------------------------

-- The whole policy as one jsonb document, format "privacy_guard/1":
--
--   {"format": "privacy_guard/1",
--    "categories": [{"name", "sensitivity", "mask", "description"}, ...],
--    "purposes": [{"name", "parent", "requires_consent", "third_party",
--                  "description", "allow": [{"category", "level"}, ...]}, ...],
--    "grants": {"<role>": ["<purpose>", ...], ...},
--    "erasure_deadline": "30 days",
--    "retention": [{"table", "time_column", "keep", "action"}, ...],
--    "erasure_actions": [{"table", "action", "subject_column"}, ...]}
--
-- export_policy() writes it canonically: every key present, arrays sorted by
-- name or table (bytewise), intervals in IntervalStyle postgres, tables as
-- schema.table; so export, load, export gives the same text.  load_policy()
-- makes the catalog equal to a document, in one transaction, writing only
-- what differs: loading the same document twice changes and audits nothing.
-- Built-in purposes come with the extension: never in "purposes", but their
-- grants are in "grants".

-- The built-in purposes (the set another version may extend).
CREATE FUNCTION privacy_guard.policy_doc_builtins() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ARRAY['subject_access', 'incident_response']::pg_catalog.text[] $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_builtins() IS
    'purposes that come with the extension: a policy document grants them but never defines or removes them';

-- Raise "<path>: <message>" with its SQLSTATE, detail and hint (each only
-- when given: an empty DETAIL line would still print).
CREATE FUNCTION privacy_guard.policy_doc_error(path text, message text, state text DEFAULT '22023',
                                               hint text DEFAULT NULL, detail text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    msg text := CASE WHEN path IS NULL THEN message ELSE path OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) message END;
    h text := nullif(hint, '');
    d text := nullif(detail, '');
BEGIN
    IF h IS NULL AND d IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state;
    ELSIF d IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state, HINT = h;
    ELSIF h IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state, DETAIL = d;
    ELSE
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state, DETAIL = d, HINT = h;
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_error(text, text, text, text, text) IS
    'raise an error about a place in a policy document, named by its path';

-- Run one write of a load; its error comes back about the document's
-- place (and, for a removal, prefixed with what was being removed), with
-- its SQLSTATE, detail and hint.  The statement is built with %L and %s
-- of oids only.
CREATE FUNCTION privacy_guard.policy_doc_run(path text, statement text, what text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE statement;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    PERFORM privacy_guard.policy_doc_error(path, CASE WHEN what IS NULL THEN msg ELSE what OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) msg END,
                                           st, hnt, det);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_run(text, text, text) IS
    'run one write of load_policy(); its error names the place in the document';

-- "a string", "an array", ... for messages about JSON types.
CREATE FUNCTION privacy_guard.policy_doc_type(value jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT CASE pg_catalog.jsonb_typeof(value) WHEN 'null' THEN 'null' WHEN 'array' THEN 'an array'
                      WHEN 'object' THEN 'an object' ELSE 'a ' OPERATOR(pg_catalog.||) pg_catalog.jsonb_typeof(value) END $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_type(jsonb) IS 'the JSON type of a value, with its article, for messages';

-- An object of the document with only the keys it may have: a misspelt key
-- is an error, never silently ignored.  what: "a category", ...
CREATE FUNCTION privacy_guard.policy_doc_object(obj jsonb, path text, what text, keys text[])
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    bad text;
BEGIN
    IF jsonb_typeof(obj) IS DISTINCT FROM 'object' THEN
        PERFORM privacy_guard.policy_doc_error(path, format('must be a JSON object, not %s', privacy_guard.policy_doc_type(obj)));
    END IF;
    SELECT k INTO bad FROM jsonb_object_keys(obj) AS k WHERE k OPERATOR(pg_catalog.<>) ALL (keys) LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM privacy_guard.policy_doc_error(path, format('unknown key "%s"', bad), '22023',
            format('The keys of %s are %s and %s.', what,
                   array_to_string(keys[1:cardinality(keys) OPERATOR(pg_catalog.-) 1], ', '), keys[cardinality(keys)]));
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_object(jsonb, text, text, text[]) IS
    'check that a place in a policy document is an object with only the keys it may have';

-- The value of one key of an object, of the JSON type wanted ('string',
-- 'boolean', 'array', 'object'); NULL when absent, or when JSON null and
-- null_ok.
CREATE FUNCTION privacy_guard.policy_doc_field(obj jsonb, key text, want text, path text,
                                               required boolean DEFAULT false, null_ok boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v jsonb := obj OPERATOR(pg_catalog.->) key;
BEGIN
    IF v IS NULL THEN
        IF required THEN
            PERFORM privacy_guard.policy_doc_error(path, format('missing "%s"', key));
        END IF;
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) OPERATOR(pg_catalog.=) 'null' AND null_ok AND NOT required THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) OPERATOR(pg_catalog.<>) want THEN
        PERFORM privacy_guard.policy_doc_error(path, format('"%s" must be %s, not %s', key,
            CASE want WHEN 'array' THEN 'an array' WHEN 'object' THEN 'an object' ELSE 'a ' OPERATOR(pg_catalog.||) want END,
            privacy_guard.policy_doc_type(v)));
    END IF;
    RETURN v;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_field(jsonb, text, text, text, boolean, boolean) IS
    'one key of an object of a policy document, checked to be of the JSON type wanted';

-- A table named in a document, schema-qualified as export_policy() writes it.
CREATE FUNCTION privacy_guard.policy_doc_table(tblname text, path text) RETURNS oid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    parts text[];
    relid oid;
BEGIN
    BEGIN
        parts := parse_ident(tblname);
    EXCEPTION WHEN invalid_parameter_value THEN
        parts := NULL;
    END;
    IF cardinality(parts) IS DISTINCT FROM 2 THEN
        PERFORM privacy_guard.policy_doc_error(path, format('invalid table name "%s"', tblname), '22023',
            'A table is written with its schema, as export_policy() writes it: "public.orders".');
    END IF;
    SELECT c.oid INTO relid FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE n.nspname OPERATOR(pg_catalog.=) parts[1] AND c.relname OPERATOR(pg_catalog.=) parts[2];
    IF relid IS NULL THEN
        PERFORM privacy_guard.policy_doc_error(path, format('table "%s" does not exist', tblname), '42P01');
    END IF;
    RETURN relid;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_table(text, text) IS
    'the table a policy document names as schema.table';

-- A table as a document names it.
CREATE FUNCTION privacy_guard.policy_doc_table_name(relid oid) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
           WHERE c.oid OPERATOR(pg_catalog.=) relid $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_table_name(oid) IS 'a table as a policy document names it: schema.table';

-- The whole policy, canonically (one snapshot: one statement).
CREATE FUNCTION privacy_guard.export_policy() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres' AS $fn$
SELECT pg_catalog.jsonb_build_object(
    'format', 'privacy_guard/1',
    'categories', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                              'name', c.name, 'sensitivity', c.sensitivity, 'mask', c.mask,
                              'description', c.description) ORDER BY c.name COLLATE "C"), '[]')
                     FROM privacy_guard.categories c),
    'purposes', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'name', p.name, 'parent', p.parent, 'requires_consent', p.requires_consent,
                            'third_party', p.third_party, 'description', p.description,
                            'allow', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                                 'category', a.category, 'level', a.level) ORDER BY a.category COLLATE "C"), '[]')
                                        FROM privacy_guard.allowances a WHERE a.purpose OPERATOR(pg_catalog.=) p.name))
                          ORDER BY p.name COLLATE "C"), '[]')
                   FROM privacy_guard.purposes p
                  WHERE p.name OPERATOR(pg_catalog.<>) ALL (privacy_guard.policy_doc_builtins())
                     OR p.name OPERATOR(pg_catalog.=) 'incident_response'),
    -- grants of dropped roles are left out (and a load removes them)
    'grants', (SELECT COALESCE(pg_catalog.jsonb_object_agg(g.rolname, g.purposes), '{}')
                 FROM (SELECT r.rolname, pg_catalog.jsonb_agg(x.purpose ORDER BY x.purpose COLLATE "C") AS purposes
                         FROM privacy_guard.purpose_grants x
                         JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) x.role::pg_catalog.oid
                        GROUP BY r.rolname) g),
    'erasure_deadline', COALESCE((SELECT s.value::pg_catalog.interval::pg_catalog.text FROM privacy_guard.policy_settings s
                                              WHERE s.setting OPERATOR(pg_catalog.=) 'erasure_deadline'), '30 days'),
    'retention', (SELECT COALESCE(pg_catalog.jsonb_agg(r.rule ORDER BY (r.rule OPERATOR(pg_catalog.->>) 'table') COLLATE "C"), '[]')
                    FROM (SELECT pg_catalog.jsonb_build_object(
                                     'table', privacy_guard.policy_doc_table_name(x.tbl::pg_catalog.oid),
                                     'time_column', x.time_col, 'keep', x.keep::pg_catalog.text, 'action', x.action) AS rule
                            FROM privacy_guard.retention_rules x) r),
    'erasure_actions', (SELECT COALESCE(pg_catalog.jsonb_agg(e.act ORDER BY (e.act OPERATOR(pg_catalog.->>) 'table') COLLATE "C"), '[]')
                          FROM (SELECT pg_catalog.jsonb_build_object(
                                           'table', privacy_guard.policy_doc_table_name(x.tbl::pg_catalog.oid),
                                           'action', x.action, 'subject_column', x.subject_col) AS act
                                  FROM privacy_guard.erasure_actions x) e))
$fn$;
COMMENT ON FUNCTION privacy_guard.export_policy() IS
    'the whole policy as one canonical jsonb document (format privacy_guard/1), which load_policy() reads back';

-- Make the policy equal to a document, all or nothing.  First the whole
-- document is checked without writing anything: its shape, its JSON types,
-- names present and unique, references between its parts (parents,
-- categories, roles, purposes, tables), the purpose tree, and that nothing
-- absent from it is still in use.  Then what differs is written through the
-- functions that say each rule (define_category, define_purpose, allow,
-- grant_purpose, set_erasure_deadline, set_retention, set_erasure_action),
-- their errors re-raised with the path of the place in the document, and
-- what the document lacks is removed.  Returns what changed.
CREATE FUNCTION privacy_guard.load_policy(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres' AS $fn$
DECLARE
    builtins text[] := privacy_guard.policy_doc_builtins();
    doc_keys text[] := ARRAY['format', 'categories', 'purposes', 'grants', 'erasure_deadline', 'retention', 'erasure_actions'];
    -- the document, checked: name -> entry (with its index "i")
    cats jsonb := '{}';
    purps jsonb := '{}';
    allows jsonb := '[]';       -- [{i, j, purpose, category, level}]
    grants jsonb := '[]';       -- [{path, role (oid), rolname, purpose}]
    rules jsonb := '{}';        -- table oid -> {i, time_col, keep, action}
    acts jsonb := '{}';         -- table oid -> {i, action, subject_col}
    deadline text;              -- NULL: the default
    -- walking the document
    v jsonb;
    e jsonb;
    a jsonb;
    ae jsonb;
    idx bigint;
    jdx bigint;
    np bigint;
    pth text;
    apth text;
    nm text;
    cat text;
    lvl text;
    rc boolean;
    tp boolean;
    relid oid;
    roleid oid;
    ival interval;
    up text;
    steps int;
    r record;
    -- applying it
    added text[] := '{}';
    changed text[] := '{}';
    removed text[] := '{}';
    n int;
    st text;
    msg text;
    det text;
    hnt text;
    tbl_name text;
    cur_deadline text;
BEGIN
    IF doc IS NULL THEN
        RAISE EXCEPTION 'policy document must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- one load at a time, and no policy change meanwhile (reads go on)
    LOCK TABLE privacy_guard.categories, privacy_guard.purposes, privacy_guard.allowances, privacy_guard.purpose_grants,
               privacy_guard.policy_settings, privacy_guard.retention_rules, privacy_guard.erasure_actions
        IN SHARE ROW EXCLUSIVE MODE;

    ---- 1. Check the whole document; nothing is written yet.
    PERFORM privacy_guard.policy_doc_object(doc, 'policy document', 'a policy document', doc_keys);
    v := privacy_guard.policy_doc_field(doc, 'format', 'string', 'policy document', required => true);
    IF v OPERATOR(pg_catalog.#>>) '{}' OPERATOR(pg_catalog.<>) 'privacy_guard/1' THEN
        PERFORM privacy_guard.policy_doc_error('format', format('unsupported format %s', v), '22023',
                                               'This version of privacy_guard reads format "privacy_guard/1".');
    END IF;

    -- categories
    v := coalesce(privacy_guard.policy_doc_field(doc, 'categories', 'array', 'policy document'), '[]');
    FOR e, idx IN SELECT x.value, x.ordinality OPERATOR(pg_catalog.-) 1 FROM jsonb_array_elements(v) WITH ORDINALITY x LOOP
        pth := format('categories[%s]', idx);
        PERFORM privacy_guard.policy_doc_object(e, pth, 'a category', ARRAY['name', 'sensitivity', 'mask', 'description']);
        nm := privacy_guard.policy_doc_field(e, 'name', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}';
        IF cats OPERATOR(pg_catalog.?) nm THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('duplicate category "%s"', nm), '22023',
                format('It is already defined at categories[%s].', cats OPERATOR(pg_catalog.#>>) ARRAY[nm, 'i']));
        END IF;
        cats := cats OPERATOR(pg_catalog.||) jsonb_build_object(nm, jsonb_build_object(
            'i', idx,
            'sensitivity', coalesce(privacy_guard.policy_doc_field(e, 'sensitivity', 'string', pth) OPERATOR(pg_catalog.#>>) '{}', 'personal'),
            'mask', coalesce(privacy_guard.policy_doc_field(e, 'mask', 'string', pth) OPERATOR(pg_catalog.#>>) '{}', 'redact'),
            'description', privacy_guard.policy_doc_field(e, 'description', 'string', pth, null_ok => true)));
    END LOOP;

    -- purposes and their allowances
    v := coalesce(privacy_guard.policy_doc_field(doc, 'purposes', 'array', 'policy document'), '[]');
    FOR e, idx IN SELECT x.value, x.ordinality OPERATOR(pg_catalog.-) 1 FROM jsonb_array_elements(v) WITH ORDINALITY x LOOP
        pth := format('purposes[%s]', idx);
        PERFORM privacy_guard.policy_doc_object(e, pth, 'a purpose',
                                                ARRAY['name', 'parent', 'requires_consent', 'third_party', 'description', 'allow']);
        nm := privacy_guard.policy_doc_field(e, 'name', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}';
        -- incident_response is built in, but what it sees is the policy's: its
        -- entry sets its allowances and nothing else
        IF nm OPERATOR(pg_catalog.=) 'incident_response' THEN
            IF privacy_guard.policy_doc_field(e, 'parent', 'string', pth, null_ok => true) OPERATOR(pg_catalog.#>>) '{}' IS NOT NULL
               OR coalesce(privacy_guard.policy_doc_field(e, 'requires_consent', 'boolean', pth) OPERATOR(pg_catalog.#>>) '{}', 'false') OPERATOR(pg_catalog.<>) 'false'
               OR coalesce(privacy_guard.policy_doc_field(e, 'third_party', 'boolean', pth) OPERATOR(pg_catalog.#>>) '{}', 'false') OPERATOR(pg_catalog.<>) 'false'
               OR coalesce(privacy_guard.policy_doc_field(e, 'description', 'string', pth, null_ok => true) OPERATOR(pg_catalog.#>>) '{}',
                           (SELECT p.description FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) nm))
                  IS DISTINCT FROM (SELECT p.description FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) nm) THEN
                PERFORM privacy_guard.policy_doc_error(pth, format('purpose "%s" is built in: only its "allow" can be set', nm),
                    '42501', 'Leave its parent, consent flags and description as export_policy() writes them.');
            END IF;
        ELSIF nm OPERATOR(pg_catalog.=) ANY (builtins) THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('purpose "%s" is built in: a policy document cannot define it', nm),
                '42501', 'Built-in purposes come with the extension; a document only grants them, under "grants".');
        END IF;
        IF purps OPERATOR(pg_catalog.?) nm THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('duplicate purpose "%s"', nm), '22023',
                format('It is already defined at purposes[%s].', purps OPERATOR(pg_catalog.#>>) ARRAY[nm, 'i']));
        END IF;
        rc := (privacy_guard.policy_doc_field(e, 'requires_consent', 'boolean', pth)) OPERATOR(pg_catalog.#>>) '{}';
        tp := coalesce((privacy_guard.policy_doc_field(e, 'third_party', 'boolean', pth) OPERATOR(pg_catalog.#>>) '{}')::boolean, false);
        IF tp AND rc IS FALSE THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('third-party purpose "%s" cannot have "requires_consent": false', nm),
                '22023', 'A third-party purpose always requires consent: set "requires_consent" to true, or leave it out.');
        END IF;
        purps := purps OPERATOR(pg_catalog.||) jsonb_build_object(nm, jsonb_build_object(
            'i', idx,
            'parent', privacy_guard.policy_doc_field(e, 'parent', 'string', pth, null_ok => true),
            'requires_consent', coalesce(rc, false) OR tp,
            'third_party', tp,
            'description', privacy_guard.policy_doc_field(e, 'description', 'string', pth, null_ok => true))
            OPERATOR(pg_catalog.||) CASE WHEN nm OPERATOR(pg_catalog.=) ANY (builtins)
                                         THEN '{"builtin": true}'::jsonb ELSE '{}'::jsonb END);
        a := coalesce(privacy_guard.policy_doc_field(e, 'allow', 'array', pth), '[]');
        FOR ae, jdx IN SELECT x.value, x.ordinality OPERATOR(pg_catalog.-) 1 FROM jsonb_array_elements(a) WITH ORDINALITY x LOOP
            apth := format('%s.allow[%s]', pth, jdx);
            PERFORM privacy_guard.policy_doc_object(ae, apth, 'an allowance', ARRAY['category', 'level']);
            cat := privacy_guard.policy_doc_field(ae, 'category', 'string', apth, required => true) OPERATOR(pg_catalog.#>>) '{}';
            lvl := coalesce(privacy_guard.policy_doc_field(ae, 'level', 'string', apth) OPERATOR(pg_catalog.#>>) '{}', 'full');
            IF NOT cats OPERATOR(pg_catalog.?) cat THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('unknown category "%s"', cat), '42704',
                                                       'Define the category in the document''s "categories".');
            END IF;
            IF cats OPERATOR(pg_catalog.#>>) ARRAY[cat, 'sensitivity'] OPERATOR(pg_catalog.=) 'prohibited' THEN
                PERFORM privacy_guard.policy_doc_error(apth,
                    format('category "%s" is prohibited and cannot be allowed for any purpose', cat), '42501');
            END IF;
            SELECT x.j INTO steps FROM jsonb_to_recordset(allows) AS x(i bigint, j int, category text)
             WHERE x.i OPERATOR(pg_catalog.=) idx AND x.category OPERATOR(pg_catalog.=) cat;
            IF FOUND THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('duplicate category "%s"', cat), '22023',
                                                       format('It is already allowed at %s.allow[%s].', pth, steps));
            END IF;
            allows := allows OPERATOR(pg_catalog.||) jsonb_build_array(jsonb_build_object(
                'i', idx, 'j', jdx, 'purpose', nm, 'category', cat, 'level', lvl));
        END LOOP;
    END LOOP;
    -- the parents: purposes of the document (or built in), and a tree
    np := (SELECT count(*) FROM jsonb_object_keys(purps));
    FOR nm, e IN SELECT x.key, x.value FROM jsonb_each(purps) x ORDER BY (x.value OPERATOR(pg_catalog.->>) 'i')::int LOOP
        pth := format('purposes[%s]', e OPERATOR(pg_catalog.->>) 'i');
        up := e OPERATOR(pg_catalog.->>) 'parent';
        CONTINUE WHEN up IS NULL;
        IF NOT purps OPERATOR(pg_catalog.?) up
           AND NOT (up OPERATOR(pg_catalog.=) ANY (builtins)
                    AND EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) up)) THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('unknown parent purpose "%s"', up), '42704',
                                                   'Define the parent in the document''s "purposes".');
        END IF;
        steps := 0;
        WHILE up IS NOT NULL AND steps OPERATOR(pg_catalog.<=) np LOOP
            IF up OPERATOR(pg_catalog.=) nm THEN
                PERFORM privacy_guard.policy_doc_error(pth, format('purpose "%s" cannot have "%s" as parent: that would make a cycle',
                                                                   nm, e OPERATOR(pg_catalog.->>) 'parent'));
            END IF;
            up := purps OPERATOR(pg_catalog.#>>) ARRAY[up, 'parent'];
            steps := steps OPERATOR(pg_catalog.+) 1;
        END LOOP;
    END LOOP;

    -- grants: role -> purposes
    v := coalesce(privacy_guard.policy_doc_field(doc, 'grants', 'object', 'policy document'), '{}');
    FOR nm, e IN SELECT x.key, x.value FROM jsonb_each(v) x LOOP
        pth := format('grants[%s]', to_jsonb(nm));
        IF jsonb_typeof(e) OPERATOR(pg_catalog.<>) 'array' THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('must be an array of purpose names, not %s',
                                                               privacy_guard.policy_doc_type(e)));
        END IF;
        SELECT ro.oid INTO roleid FROM pg_roles ro WHERE ro.rolname OPERATOR(pg_catalog.=) nm;
        IF NOT FOUND THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('role "%s" does not exist', nm), '42704',
                                                   'Create the role before loading the document.');
        END IF;
        FOR ae, jdx IN SELECT x.value, x.ordinality OPERATOR(pg_catalog.-) 1 FROM jsonb_array_elements(e) WITH ORDINALITY x LOOP
            apth := format('%s[%s]', pth, jdx);
            IF jsonb_typeof(ae) OPERATOR(pg_catalog.<>) 'string' THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('must be a purpose name, not %s', privacy_guard.policy_doc_type(ae)));
            END IF;
            up := ae OPERATOR(pg_catalog.#>>) '{}';
            IF NOT purps OPERATOR(pg_catalog.?) up
               AND NOT (up OPERATOR(pg_catalog.=) ANY (builtins)
                        AND EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) up)) THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('unknown purpose "%s"', up), '42704',
                                                       'Define the purpose in the document''s "purposes".');
            END IF;
            IF grants OPERATOR(pg_catalog.@>) jsonb_build_array(jsonb_build_object('role', roleid, 'purpose', up)) THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('duplicate purpose "%s"', up));
            END IF;
            grants := grants OPERATOR(pg_catalog.||) jsonb_build_array(jsonb_build_object(
                'path', apth, 'role', roleid, 'rolname', nm, 'purpose', up));
        END LOOP;
    END LOOP;

    -- the erasure deadline: absent or null means the default
    v := privacy_guard.policy_doc_field(doc, 'erasure_deadline', 'string', 'policy document', null_ok => true);
    IF v IS NOT NULL THEN
        BEGIN
            deadline := (v OPERATOR(pg_catalog.#>>) '{}')::interval::text;
        EXCEPTION WHEN data_exception THEN
            PERFORM privacy_guard.policy_doc_error('erasure_deadline', format('invalid interval %s', v), '22023',
                                                   'The deadline is an interval, such as "30 days".');
        END;
    END IF;

    -- retention rules and erasure actions: one per table
    v := coalesce(privacy_guard.policy_doc_field(doc, 'retention', 'array', 'policy document'), '[]');
    FOR e, idx IN SELECT x.value, x.ordinality OPERATOR(pg_catalog.-) 1 FROM jsonb_array_elements(v) WITH ORDINALITY x LOOP
        pth := format('retention[%s]', idx);
        PERFORM privacy_guard.policy_doc_object(e, pth, 'a retention rule', ARRAY['table', 'time_column', 'keep', 'action']);
        tbl_name := privacy_guard.policy_doc_field(e, 'table', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}';
        relid := privacy_guard.policy_doc_table(tbl_name, pth);
        IF rules OPERATOR(pg_catalog.?) relid::text THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('duplicate table "%s"', tbl_name), '22023',
                format('Its rule is already at retention[%s].', rules OPERATOR(pg_catalog.#>>) ARRAY[relid::text, 'i']));
        END IF;
        nm := privacy_guard.policy_doc_field(e, 'time_column', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}';
        a := privacy_guard.policy_doc_field(e, 'keep', 'string', pth, required => true);
        BEGIN
            ival := (a OPERATOR(pg_catalog.#>>) '{}')::interval;
        EXCEPTION WHEN data_exception THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('invalid interval %s for "keep"', a), '22023',
                                                   'Rows are kept for an interval, such as "2 years".');
        END;
        rules := rules OPERATOR(pg_catalog.||) jsonb_build_object(relid::text, jsonb_build_object(
            'i', idx, 'time_col', nm, 'keep', ival::text,
            'action', privacy_guard.policy_doc_field(e, 'action', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}'));
    END LOOP;
    v := coalesce(privacy_guard.policy_doc_field(doc, 'erasure_actions', 'array', 'policy document'), '[]');
    FOR e, idx IN SELECT x.value, x.ordinality OPERATOR(pg_catalog.-) 1 FROM jsonb_array_elements(v) WITH ORDINALITY x LOOP
        pth := format('erasure_actions[%s]', idx);
        PERFORM privacy_guard.policy_doc_object(e, pth, 'an erasure action', ARRAY['table', 'action', 'subject_column']);
        tbl_name := privacy_guard.policy_doc_field(e, 'table', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}';
        relid := privacy_guard.policy_doc_table(tbl_name, pth);
        IF acts OPERATOR(pg_catalog.?) relid::text THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('duplicate table "%s"', tbl_name), '22023',
                format('Its action is already at erasure_actions[%s].', acts OPERATOR(pg_catalog.#>>) ARRAY[relid::text, 'i']));
        END IF;
        acts := acts OPERATOR(pg_catalog.||) jsonb_build_object(relid::text, jsonb_build_object(
            'i', idx,
            'action', privacy_guard.policy_doc_field(e, 'action', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}',
            'subject_col', privacy_guard.policy_doc_field(e, 'subject_column', 'string', pth, null_ok => true)));
    END LOOP;

    -- what the document leaves out must not be in use
    FOR r IN SELECT c.name, string_agg(format('%s.%I', privacy_guard.policy_doc_table_name(p.tbl::oid), p.col), ', '
                                       ORDER BY privacy_guard.policy_doc_table_name(p.tbl::oid), p.col) AS cols
               FROM privacy_guard.categories c JOIN privacy_guard.column_protection p ON p.category OPERATOR(pg_catalog.=) c.name
              WHERE NOT cats OPERATOR(pg_catalog.?) c.name
              GROUP BY c.name ORDER BY c.name LIMIT 1 LOOP
        PERFORM privacy_guard.policy_doc_error('categories',
            format('category "%s" is missing, but protected columns use it: %s', r.name, r.cols), '2BP01',
            'A protected column keeps its category: keep the category in the document.');
    END LOOP;
    FOR r IN SELECT p.name FROM privacy_guard.purposes p
              WHERE NOT purps OPERATOR(pg_catalog.?) p.name AND p.name OPERATOR(pg_catalog.<>) ALL (builtins)
                AND EXISTS (SELECT FROM privacy_guard.consent_events c WHERE c.purpose OPERATOR(pg_catalog.=) p.name)
              ORDER BY p.name LIMIT 1 LOOP
        PERFORM privacy_guard.policy_doc_error('purposes',
            format('purpose "%s" is missing, but customers'' consent records refer to it', r.name), '2BP01',
            'Consent history is kept for good: keep the purpose in the document (without grants it authorises nothing).');
    END LOOP;

    ---- 2. Write what differs.  The catalog's triggers audit each change;
    -- should a change fail, the load is rolled back whole and the trail
    -- says so after the changes it recorded.
    BEGIN
        -- categories
        FOR r IN SELECT x.key AS name, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i, x.value OPERATOR(pg_catalog.->>) 'sensitivity' AS sensitivity,
                        x.value OPERATOR(pg_catalog.->>) 'mask' AS mask, x.value OPERATOR(pg_catalog.->>) 'description' AS description,
                        c.name AS cur,
                        (c.sensitivity, c.mask, c.description) IS NOT DISTINCT FROM
                            (x.value OPERATOR(pg_catalog.->>) 'sensitivity', x.value OPERATOR(pg_catalog.->>) 'mask',
                             x.value OPERATOR(pg_catalog.->>) 'description') AS same
                   FROM jsonb_each(cats) x LEFT JOIN privacy_guard.categories c ON c.name OPERATOR(pg_catalog.=) x.key
                  ORDER BY 2 LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            PERFORM privacy_guard.policy_doc_run(format('categories[%s]', r.i),
                format('SELECT privacy_guard.define_category(%L, %L, %L, %L)', r.name, r.sensitivity, r.mask, r.description));
            IF r.cur IS NULL THEN
                added := added OPERATOR(pg_catalog.||) ('category ' OPERATOR(pg_catalog.||) r.name);
            ELSE
                changed := changed OPERATOR(pg_catalog.||) ('category ' OPERATOR(pg_catalog.||) r.name);
            END IF;
        END LOOP;

        -- purposes, parents before children
        FOR r IN WITH RECURSIVE d AS (
                     SELECT x.key AS name, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i, x.value OPERATOR(pg_catalog.->>) 'parent' AS parent,
                            (x.value OPERATOR(pg_catalog.->>) 'requires_consent')::boolean AS requires_consent,
                            (x.value OPERATOR(pg_catalog.->>) 'third_party')::boolean AS third_party,
                            x.value OPERATOR(pg_catalog.->>) 'description' AS description
                       FROM jsonb_each(purps) x
                      WHERE NOT x.value OPERATOR(pg_catalog.?) 'builtin'),
                 t AS (SELECT d.*, 0 AS depth FROM d WHERE d.parent IS NULL OR NOT purps OPERATOR(pg_catalog.?) d.parent
                       UNION ALL
                       SELECT d.*, t.depth OPERATOR(pg_catalog.+) 1 FROM d JOIN t ON d.parent OPERATOR(pg_catalog.=) t.name)
                 SELECT t.*, p.name AS cur,
                        (p.parent, p.requires_consent, p.third_party, p.description) IS NOT DISTINCT FROM
                            (t.parent, t.requires_consent, t.third_party, t.description) AS same
                   FROM t LEFT JOIN privacy_guard.purposes p ON p.name OPERATOR(pg_catalog.=) t.name
                  ORDER BY t.depth, t.i LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            PERFORM privacy_guard.policy_doc_run(format('purposes[%s]', r.i),
                format('SELECT privacy_guard.define_purpose(%L, %L, %L::boolean, %L::boolean, %L)',
                       r.name, r.parent, r.requires_consent, r.third_party, r.description));
            IF r.cur IS NULL THEN
                added := added OPERATOR(pg_catalog.||) ('purpose ' OPERATOR(pg_catalog.||) r.name);
            ELSE
                changed := changed OPERATOR(pg_catalog.||) ('purpose ' OPERATOR(pg_catalog.||) r.name);
            END IF;
        END LOOP;

        -- allowances of the document's purposes: exactly the document's
        FOR r IN DELETE FROM privacy_guard.allowances al
                  WHERE (purps OPERATOR(pg_catalog.?) al.purpose OR al.purpose OPERATOR(pg_catalog.=) 'incident_response')
                    AND NOT allows OPERATOR(pg_catalog.@>) jsonb_build_array(jsonb_build_object('purpose', al.purpose, 'category', al.category))
              RETURNING al.purpose, al.category LOOP
            removed := removed OPERATOR(pg_catalog.||) format('allowance %s: %s', r.purpose, r.category);
        END LOOP;
        FOR r IN SELECT x.*, al.level AS cur FROM jsonb_to_recordset(allows) AS x(i int, j int, purpose text, category text, level text)
                   LEFT JOIN privacy_guard.allowances al ON al.purpose OPERATOR(pg_catalog.=) x.purpose AND al.category OPERATOR(pg_catalog.=) x.category
                  ORDER BY x.i, x.j LOOP
            CONTINUE WHEN r.cur IS NOT DISTINCT FROM r.level;
            PERFORM privacy_guard.policy_doc_run(format('purposes[%s].allow[%s]', r.i, r.j),
                format('SELECT privacy_guard.allow(%L, %L, %L)', r.purpose, r.category, r.level));
            IF r.cur IS NULL THEN
                added := added OPERATOR(pg_catalog.||) format('allowance %s: %s', r.purpose, r.category);
            ELSE
                changed := changed OPERATOR(pg_catalog.||) format('allowance %s: %s', r.purpose, r.category);
            END IF;
        END LOOP;

        -- grants: exactly the document's (built-in purposes' too; grants of dropped roles go)
        FOR r IN DELETE FROM privacy_guard.purpose_grants g
                  WHERE NOT grants OPERATOR(pg_catalog.@>) jsonb_build_array(jsonb_build_object('role', g.role::oid, 'purpose', g.purpose))
              RETURNING g.role, g.purpose LOOP
            removed := removed OPERATOR(pg_catalog.||) format('grant %s: %s',
                coalesce((SELECT ro.rolname FROM pg_roles ro WHERE ro.oid OPERATOR(pg_catalog.=) r.role::oid), '(a dropped role)'), r.purpose);
        END LOOP;
        FOR r IN SELECT x.* FROM jsonb_to_recordset(grants) AS x(path text, role oid, rolname text, purpose text)
                  WHERE NOT EXISTS (SELECT FROM privacy_guard.purpose_grants g
                                     WHERE g.role OPERATOR(pg_catalog.=) x.role::regrole AND g.purpose OPERATOR(pg_catalog.=) x.purpose) LOOP
            PERFORM privacy_guard.policy_doc_run(r.path,
                format('SELECT privacy_guard.grant_purpose(%s::pg_catalog.oid::pg_catalog.regrole, %L)', r.role, r.purpose));
            added := added OPERATOR(pg_catalog.||) format('grant %s: %s', r.rolname, r.purpose);
        END LOOP;

        -- purposes and categories the document leaves out (their allowances and grants go with them)
        BEGIN
            FOR r IN DELETE FROM privacy_guard.purposes p
                      WHERE NOT purps OPERATOR(pg_catalog.?) p.name AND p.name OPERATOR(pg_catalog.<>) ALL (builtins)
                  RETURNING p.name LOOP
                removed := removed OPERATOR(pg_catalog.||) ('purpose ' OPERATOR(pg_catalog.||) r.name);
            END LOOP;
        EXCEPTION WHEN foreign_key_violation THEN
            GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL, tbl_name = TABLE_NAME;
            PERFORM privacy_guard.policy_doc_error('purposes',
                format('a purpose missing from the document is still referred to by privacy_guard.%s', tbl_name),
                '2BP01', 'Keep the purpose in the document.', det);
        END;
        BEGIN
            FOR r IN DELETE FROM privacy_guard.categories c WHERE NOT cats OPERATOR(pg_catalog.?) c.name RETURNING c.name LOOP
                removed := removed OPERATOR(pg_catalog.||) ('category ' OPERATOR(pg_catalog.||) r.name);
            END LOOP;
        EXCEPTION WHEN foreign_key_violation THEN
            GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL, tbl_name = TABLE_NAME;
            PERFORM privacy_guard.policy_doc_error('categories',
                format('a category missing from the document is still referred to by privacy_guard.%s', tbl_name),
                '2BP01', 'Keep the category in the document.', det);
        END;

        -- the erasure deadline (the default needs no row)
        SELECT s.value::interval::text INTO cur_deadline FROM privacy_guard.policy_settings s
         WHERE s.setting OPERATOR(pg_catalog.=) 'erasure_deadline';
        IF coalesce(deadline, '30 days') OPERATOR(pg_catalog.<>) coalesce(cur_deadline, '30 days') THEN
            IF deadline IS NULL THEN
                DELETE FROM privacy_guard.policy_settings s WHERE s.setting OPERATOR(pg_catalog.=) 'erasure_deadline';
            ELSE
                PERFORM privacy_guard.policy_doc_run('erasure_deadline',
                    format('SELECT privacy_guard.set_erasure_deadline(%L::pg_catalog.interval)', deadline));
            END IF;
            changed := changed OPERATOR(pg_catalog.||) 'erasure deadline'::text;
        END IF;

        -- retention rules: the caller must own each table whose rule changes
        FOR r IN SELECT x.key::oid AS tbl, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i,
                        x.value OPERATOR(pg_catalog.->>) 'time_col' AS time_col, x.value OPERATOR(pg_catalog.->>) 'keep' AS keep,
                        x.value OPERATOR(pg_catalog.->>) 'action' AS action, k.tbl AS cur,
                        -- the action spelled as check_rule() stores it
                        (k.time_col::text, k.keep::text, k.action) IS NOT DISTINCT FROM
                            (x.value OPERATOR(pg_catalog.->>) 'time_col', x.value OPERATOR(pg_catalog.->>) 'keep',
                             CASE lower(x.value OPERATOR(pg_catalog.->>) 'action') WHEN 'anonymize' THEN 'anonymise'
                                  ELSE lower(x.value OPERATOR(pg_catalog.->>) 'action') END) AS same
                   FROM jsonb_each(rules) x LEFT JOIN privacy_guard.retention_rules k ON k.tbl::oid OPERATOR(pg_catalog.=) x.key::oid
                  ORDER BY 2 LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            PERFORM privacy_guard.policy_doc_run(format('retention[%s]', r.i),
                format('SELECT privacy_guard.set_retention(%s::pg_catalog.oid::pg_catalog.regclass, %L, %L::pg_catalog.interval, %L)',
                       r.tbl, r.time_col, r.keep, r.action));
            IF r.cur IS NULL THEN
                added := added OPERATOR(pg_catalog.||) ('retention ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl));
            ELSE
                changed := changed OPERATOR(pg_catalog.||) ('retention ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl));
            END IF;
        END LOOP;
        FOR r IN SELECT k.tbl, k.time_col FROM privacy_guard.retention_rules k
                  WHERE NOT rules OPERATOR(pg_catalog.?) k.tbl::oid::text ORDER BY privacy_guard.policy_doc_table_name(k.tbl::oid) LOOP
            tbl_name := privacy_guard.policy_doc_table_name(r.tbl::oid);
            PERFORM privacy_guard.policy_doc_run('retention',
                format('SELECT privacy_guard.set_retention(%s::pg_catalog.oid::pg_catalog.regclass, %L, NULL, NULL)',
                       r.tbl::oid, r.time_col),
                format('cannot remove the rule of table %s', tbl_name));
            removed := removed OPERATOR(pg_catalog.||) ('retention ' OPERATOR(pg_catalog.||) tbl_name);
        END LOOP;

        -- erasure actions: likewise, by each table's owner
        FOR r IN SELECT x.key::oid AS tbl, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i,
                        x.value OPERATOR(pg_catalog.->>) 'action' AS action, x.value OPERATOR(pg_catalog.->>) 'subject_col' AS subject_col,
                        k.tbl AS cur,
                        (k.action, k.subject_col::text) IS NOT DISTINCT FROM
                            (CASE lower(x.value OPERATOR(pg_catalog.->>) 'action') WHEN 'anonymize' THEN 'anonymise'
                                  ELSE lower(x.value OPERATOR(pg_catalog.->>) 'action') END,
                             x.value OPERATOR(pg_catalog.->>) 'subject_col') AS same
                   FROM jsonb_each(acts) x LEFT JOIN privacy_guard.erasure_actions k ON k.tbl::oid OPERATOR(pg_catalog.=) x.key::oid
                  ORDER BY 2 LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            PERFORM privacy_guard.policy_doc_run(format('erasure_actions[%s]', r.i),
                format('SELECT privacy_guard.set_erasure_action(%s::pg_catalog.oid::pg_catalog.regclass, %L, %L)',
                       r.tbl, r.action, r.subject_col));
            IF r.cur IS NULL THEN
                added := added OPERATOR(pg_catalog.||) ('erasure action ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl));
            ELSE
                changed := changed OPERATOR(pg_catalog.||) ('erasure action ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl));
            END IF;
        END LOOP;
        FOR r IN SELECT k.tbl FROM privacy_guard.erasure_actions k
                  WHERE NOT acts OPERATOR(pg_catalog.?) k.tbl::oid::text ORDER BY privacy_guard.policy_doc_table_name(k.tbl::oid) LOOP
            tbl_name := privacy_guard.policy_doc_table_name(r.tbl::oid);
            PERFORM privacy_guard.policy_doc_run('erasure_actions',
                format('SELECT privacy_guard.check_rule(%s::pg_catalog.oid::pg_catalog.regclass, ''delete'', ''erasure'')', r.tbl::oid),
                format('cannot remove the action of table %s', tbl_name));
            DELETE FROM privacy_guard.erasure_actions k WHERE k.tbl OPERATOR(pg_catalog.=) r.tbl;
            removed := removed OPERATOR(pg_catalog.||) ('erasure action ' OPERATOR(pg_catalog.||) tbl_name);
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        PERFORM privacy_guard.audit_event('policy_load', 'failed',
            format('policy document not loaded, its changes rolled back: %s', msg), NULL);
        RAISE;
    END;

    n := cardinality(added) OPERATOR(pg_catalog.+) cardinality(changed) OPERATOR(pg_catalog.+) cardinality(removed);
    IF n OPERATOR(pg_catalog.>) 0 THEN
        PERFORM privacy_guard.audit_event('policy_load', 'loaded',
            format('policy document loaded: %s changes; the policy is now sha256:%s', n,
                   encode(sha256(convert_to(privacy_guard.export_policy()::text, 'UTF8')), 'hex')), NULL);
    END IF;
    RETURN jsonb_build_object('changes', n,
        'added', to_jsonb(ARRAY(SELECT x FROM unnest(added) x ORDER BY x COLLATE "C")),
        'changed', to_jsonb(ARRAY(SELECT x FROM unnest(changed) x ORDER BY x COLLATE "C")),
        'removed', to_jsonb(ARRAY(SELECT x FROM unnest(removed) x ORDER BY x COLLATE "C")));
END
$fn$;
COMMENT ON FUNCTION privacy_guard.load_policy(jsonb) IS
    'make the policy equal to a document (format privacy_guard/1), all or nothing; returns what changed';

REVOKE ALL ON FUNCTION privacy_guard.policy_doc_builtins(), privacy_guard.policy_doc_error(text, text, text, text, text),
    privacy_guard.policy_doc_type(jsonb), privacy_guard.policy_doc_object(jsonb, text, text, text[]),
    privacy_guard.policy_doc_field(jsonb, text, text, text, boolean, boolean), privacy_guard.policy_doc_table(text, text),
    privacy_guard.policy_doc_table_name(oid), privacy_guard.policy_doc_run(text, text, text),
    privacy_guard.export_policy(), privacy_guard.load_policy(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.export_policy(), privacy_guard.load_policy(jsonb) TO privacy_guard_admin;
GRANT EXECUTE ON FUNCTION privacy_guard.export_policy() TO privacy_guard_auditor;

-- The record of processing activities (GDPR Art. 30), read from what the
-- database enforces, so it is current whenever it is asked for: every
-- purpose with the categories it sees (the nearest allowance up its tree,
-- as reveal decides), the roles holding it (a grant of a purpose or of an
-- ancestor; members counted as those with the role's privileges), consent;
-- categories and where they are stored; retention and erasure; and the
-- technical measures in force, with the audit chain verified now.  No JIT:
-- the recursive queries' estimates would compile it, for a few rows.
CREATE FUNCTION privacy_guard.processing_record() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres'
    SET jit = off AS $fn$
DECLARE
    pol jsonb := privacy_guard.export_policy();
    intact boolean;
    rec jsonb;
BEGIN
    BEGIN
        intact := privacy_guard.verify_audit();
    EXCEPTION WHEN invalid_transaction_state THEN
        intact := NULL;         -- not at READ COMMITTED: reported as not verified
    END;
    WITH RECURSIVE
    -- each purpose with its ancestors, nearest first
    up AS (SELECT p.name AS purpose, p.name AS ancestor, 0 AS depth FROM privacy_guard.purposes p
           UNION ALL
           SELECT up.purpose, q.parent, up.depth OPERATOR(pg_catalog.+) 1
             FROM up JOIN privacy_guard.purposes q ON q.name OPERATOR(pg_catalog.=) up.ancestor
            WHERE q.parent IS NOT NULL AND up.depth OPERATOR(pg_catalog.<) 1000),
    nearest AS (SELECT DISTINCT ON (up.purpose, a.category) up.purpose, a.category, a.level,
                       CASE WHEN up.depth OPERATOR(pg_catalog.>) 0 THEN up.ancestor END AS inherited_from
                  FROM up JOIN privacy_guard.allowances a ON a.purpose OPERATOR(pg_catalog.=) up.ancestor
                 ORDER BY up.purpose, a.category, up.depth),
    -- subject_access sees every category in full, of its one subject, in subject_export()
    sees AS (SELECT n.* FROM nearest n WHERE n.purpose OPERATOR(pg_catalog.<>) 'subject_access'
             UNION ALL
             SELECT 'subject_access', c.name, 'full', NULL FROM privacy_guard.categories c
              WHERE c.sensitivity OPERATOR(pg_catalog.<>) 'prohibited'
                AND EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) 'subject_access')),
    holders AS (SELECT up.purpose, r.rolname, g.purpose AS granted,
                       (WITH RECURSIVE m AS (
                            SELECT am.member FROM pg_auth_members am JOIN pg_roles mr ON mr.oid OPERATOR(pg_catalog.=) am.member
                             WHERE am.roleid OPERATOR(pg_catalog.=) r.oid AND mr.rolinherit
                            UNION
                            SELECT am.member FROM m JOIN pg_auth_members am ON am.roleid OPERATOR(pg_catalog.=) m.member
                              JOIN pg_roles mr ON mr.oid OPERATOR(pg_catalog.=) am.member
                             WHERE mr.rolinherit)
                        SELECT count(*) FROM m) AS members
                  FROM up JOIN privacy_guard.purpose_grants g ON g.purpose OPERATOR(pg_catalog.=) up.ancestor
                  JOIN pg_roles r ON r.oid OPERATOR(pg_catalog.=) g.role::oid),
    consent AS (SELECT up.purpose, bool_or(p.requires_consent OR p.third_party) AS required
                  FROM up JOIN privacy_guard.purposes p ON p.name OPERATOR(pg_catalog.=) up.ancestor
                 GROUP BY up.purpose),
    stored AS (SELECT p.category, format('%s.%I', privacy_guard.policy_doc_table_name(p.tbl::oid), p.col) AS col,
                      p.index_col IS NOT NULL AS searchable, p.tbl
                 FROM privacy_guard.column_protection p)
    SELECT jsonb_build_object(
        'record', 'record of processing activities (GDPR Art. 30)',
        'database', current_database(),
        'generated_at', now(),
        'purposes', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'name', p.name, 'description', p.description, 'parent', p.parent,
                         'built_in', p.name OPERATOR(pg_catalog.=) ANY (privacy_guard.policy_doc_builtins()),
                         'requires_consent', c.required, 'third_party', p.third_party,
                         'categories', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                                  'category', s.category, 'level', s.level, 'inherited_from', s.inherited_from)
                                                  ORDER BY s.category COLLATE "C"), '[]')
                                          FROM sees s WHERE s.purpose OPERATOR(pg_catalog.=) p.name),
                         'roles', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                             'role', h.rolname, 'granted', h.granted, 'members', h.members)
                                             ORDER BY h.rolname COLLATE "C", h.granted COLLATE "C"), '[]')
                                     FROM holders h WHERE h.purpose OPERATOR(pg_catalog.=) p.name))
                         ORDER BY p.name COLLATE "C"), '[]')
                       FROM privacy_guard.purposes p JOIN consent c ON c.purpose OPERATOR(pg_catalog.=) p.name),
        'categories', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'name', c.name, 'sensitivity', c.sensitivity, 'mask', c.mask, 'description', c.description,
                           'stored_in', (SELECT coalesce(jsonb_agg(s.col ORDER BY s.col COLLATE "C"), '[]')
                                           FROM stored s WHERE s.category OPERATOR(pg_catalog.=) c.name),
                           'purposes', (SELECT coalesce(jsonb_agg(jsonb_build_object('purpose', s.purpose, 'level', s.level)
                                                                  ORDER BY s.purpose COLLATE "C"), '[]')
                                          FROM sees s WHERE s.category OPERATOR(pg_catalog.=) c.name))
                           ORDER BY c.name COLLATE "C"), '[]')
                         FROM privacy_guard.categories c WHERE c.sensitivity OPERATOR(pg_catalog.<>) 'prohibited'),
        'prohibited_categories', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                      'name', c.name, 'description', c.description,
                                      'stored_in', (SELECT coalesce(jsonb_agg(s.col ORDER BY s.col COLLATE "C"), '[]')
                                                      FROM stored s WHERE s.category OPERATOR(pg_catalog.=) c.name))
                                      ORDER BY c.name COLLATE "C"), '[]')
                                    FROM privacy_guard.categories c WHERE c.sensitivity OPERATOR(pg_catalog.=) 'prohibited'),
        'third_party_recipients', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                       'purpose', p.name, 'description', p.description,
                                       'categories', (SELECT coalesce(jsonb_agg(s.category ORDER BY s.category COLLATE "C"), '[]')
                                                        FROM sees s WHERE s.purpose OPERATOR(pg_catalog.=) p.name))
                                       ORDER BY p.name COLLATE "C"), '[]')
                                     FROM privacy_guard.purposes p WHERE p.third_party),
        'retention', pol OPERATOR(pg_catalog.->) 'retention',
        'erasure', jsonb_build_object(
            'deadline', pol OPERATOR(pg_catalog.->) 'erasure_deadline',
            'actions', pol OPERATOR(pg_catalog.->) 'erasure_actions',
            'default_action', 'delete',
            'requests', (SELECT jsonb_build_object(
                             'pending', count(*) FILTER (WHERE e.completed_at IS NULL),
                             'overdue', count(*) FILTER (WHERE e.completed_at IS NULL AND e.due_at OPERATOR(pg_catalog.<) now()),
                             'completed', count(*) FILTER (WHERE e.completed_at IS NOT NULL))
                           FROM privacy_guard.erasures e)),
        'technical_measures', jsonb_build_object(
            'encryption', jsonb_build_object(
                'cipher', 'AES-256-GCM',
                'keys', 'a 256-bit data key per data subject; the subject and category are authenticated with each value',
                'protected_columns', (SELECT count(*) FROM stored),
                'protected_tables', (SELECT count(DISTINCT s.tbl) FROM stored s)),
            'subject_keys', (SELECT jsonb_build_object(
                                 'live', count(*) FILTER (WHERE k.erased_at IS NULL),
                                 'erased', count(*) FILTER (WHERE k.erased_at IS NOT NULL))
                               FROM privacy_guard.keys k WHERE k.kind OPERATOR(pg_catalog.=) 'subject'),
            'key_wrapping', jsonb_build_object(
                'cipher', 'AES-256-GCM',
                'master_key_versions_in_use', (SELECT coalesce(jsonb_agg(DISTINCT k.master_version), '[]')
                                                 FROM privacy_guard.keys k WHERE k.master_version IS NOT NULL),
                'keyring', 'outside the database, in privacy_guard.keyring_file or keyring_command'),
            'blind_indexes', jsonb_build_object(
                'algorithm', 'HMAC-SHA256',
                'columns', (SELECT coalesce(jsonb_agg(s.col ORDER BY s.col COLLATE "C"), '[]') FROM stored s WHERE s.searchable)),
            'access_control', jsonb_build_object(
                'reveal', 'through reveal() only, under a declared purpose granted to the role and allowed the category, in full or masked',
                'superusers', (SELECT count(*) FROM pg_roles r WHERE r.rolsuper)),
            'audit_trail', jsonb_build_object(
                'records', (SELECT count(*) FROM privacy_guard.audit_records),
                'hash_chain', 'SHA-256',
                'intact', intact),
            'collection_guard', current_setting('privacy_guard.collection_guard'),
            'incidents', (SELECT jsonb_build_object(
                              'open', count(*) FILTER (WHERE i.kind OPERATOR(pg_catalog.=) 'report' AND i.closed_at IS NULL),
                              'closed', count(*) FILTER (WHERE i.kind OPERATOR(pg_catalog.=) 'report' AND i.closed_at IS NOT NULL),
                              'lockdown_since', privacy_guard.lockdown_since())
                            FROM privacy_guard.incident_log i)))
      INTO rec;
    RETURN rec;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.processing_record() IS
    'the record of processing activities (GDPR Art. 30), read from the policy and measures the database enforces';

-- The same record as plain text for a data protection officer: headings,
-- one line a fact.
CREATE FUNCTION privacy_guard.processing_record_text() RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    rec jsonb := privacy_guard.processing_record();
    t jsonb := rec OPERATOR(pg_catalog.->) 'technical_measures';
    er jsonb := rec OPERATOR(pg_catalog.->) 'erasure';
    lines text[];
    p jsonb;
    q jsonb;
    lst text;
BEGIN
    lines := ARRAY['RECORD OF PROCESSING ACTIVITIES (GDPR Art. 30)',
                   'database: ' OPERATOR(pg_catalog.||) (rec OPERATOR(pg_catalog.->>) 'database'),
                   'generated at: ' OPERATOR(pg_catalog.||) (rec OPERATOR(pg_catalog.->>) 'generated_at'),
                   'source: the policy and measures this database enforces, read when generated',
                   '', 'PURPOSES OF PROCESSING'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'purposes') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('purpose %s%s', p OPERATOR(pg_catalog.->>) 'name',
                                                      ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description'));
        IF (p OPERATOR(pg_catalog.->>) 'built_in')::boolean THEN
            lines := lines OPERATOR(pg_catalog.||) '  built in: yes'::text;
        END IF;
        IF p OPERATOR(pg_catalog.->>) 'parent' IS NOT NULL THEN
            lines := lines OPERATOR(pg_catalog.||) ('  part of: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'parent'));
        END IF;
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            '  consent required: ' OPERATOR(pg_catalog.||)
                CASE WHEN (p OPERATOR(pg_catalog.->>) 'requires_consent')::boolean THEN 'yes' ELSE 'no' END,
            '  transfer to third parties: ' OPERATOR(pg_catalog.||)
                CASE WHEN (p OPERATOR(pg_catalog.->>) 'third_party')::boolean THEN 'yes' ELSE 'no' END];
        FOR q IN SELECT z.value FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'categories') z LOOP
            lines := lines OPERATOR(pg_catalog.||) format('  category %s: %s%s', q OPERATOR(pg_catalog.->>) 'category',
                q OPERATOR(pg_catalog.->>) 'level',
                ' (from ' OPERATOR(pg_catalog.||) (q OPERATOR(pg_catalog.->>) 'inherited_from') OPERATOR(pg_catalog.||) ')');
        END LOOP;
        IF jsonb_array_length(p OPERATOR(pg_catalog.->) 'categories') OPERATOR(pg_catalog.=) 0 THEN
            lines := lines OPERATOR(pg_catalog.||) '  categories: none'::text;
        END IF;
        FOR q IN SELECT z.value FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'roles') z LOOP
            lines := lines OPERATOR(pg_catalog.||) format('  role %s: granted %s, %s member role%s', q OPERATOR(pg_catalog.->>) 'role',
                q OPERATOR(pg_catalog.->>) 'granted', q OPERATOR(pg_catalog.->>) 'members',
                CASE WHEN q OPERATOR(pg_catalog.->>) 'members' OPERATOR(pg_catalog.=) '1' THEN '' ELSE 's' END);
        END LOOP;
        IF jsonb_array_length(p OPERATOR(pg_catalog.->) 'roles') OPERATOR(pg_catalog.=) 0 THEN
            lines := lines OPERATOR(pg_catalog.||) '  roles: none'::text;
        END IF;
    END LOOP;

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'CATEGORIES OF PERSONAL DATA'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'categories') z LOOP
        SELECT string_agg(z.value OPERATOR(pg_catalog.#>>) '{}', ', ') INTO lst
          FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'stored_in') z;
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            format('category %s%s', p OPERATOR(pg_catalog.->>) 'name', ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description')),
            '  sensitivity: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'sensitivity'),
            '  masked as: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'mask'),
            '  stored in: ' OPERATOR(pg_catalog.||) coalesce(lst, 'no protected column')];
        SELECT string_agg(format('%s (%s)', z.value OPERATOR(pg_catalog.->>) 'purpose', z.value OPERATOR(pg_catalog.->>) 'level'), ', ')
          INTO lst FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'purposes') z;
        lines := lines OPERATOR(pg_catalog.||) ('  used for: ' OPERATOR(pg_catalog.||) coalesce(lst, 'no purpose'));
    END LOOP;

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'PROHIBITED CATEGORIES (never collected)'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'prohibited_categories') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('category %s%s', p OPERATOR(pg_catalog.->>) 'name',
                                                      ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description'));
        SELECT string_agg(z.value OPERATOR(pg_catalog.#>>) '{}', ', ') INTO lst
          FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'stored_in') z;
        IF lst IS NOT NULL THEN
            lines := lines OPERATOR(pg_catalog.||) ('  NEVERTHELESS STORED IN: ' OPERATOR(pg_catalog.||) lst);
        END IF;
    END LOOP;
    IF jsonb_array_length(rec OPERATOR(pg_catalog.->) 'prohibited_categories') OPERATOR(pg_catalog.=) 0 THEN
        lines := lines OPERATOR(pg_catalog.||) 'none declared'::text;
    END IF;

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'TRANSFERS TO THIRD PARTIES'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'third_party_recipients') z LOOP
        SELECT string_agg(z.value OPERATOR(pg_catalog.#>>) '{}', ', ') INTO lst
          FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'categories') z;
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            format('purpose %s%s', p OPERATOR(pg_catalog.->>) 'purpose', ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description')),
            '  only with the data subject''s consent: yes',
            '  categories: ' OPERATOR(pg_catalog.||) coalesce(lst, 'none')];
    END LOOP;
    IF jsonb_array_length(rec OPERATOR(pg_catalog.->) 'third_party_recipients') OPERATOR(pg_catalog.=) 0 THEN
        lines := lines OPERATOR(pg_catalog.||) 'none: no purpose transfers data to a third party'::text;
    END IF;

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'RETENTION'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'retention') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('table %s: rows kept %s after %s, then %s', p OPERATOR(pg_catalog.->>) 'table',
            p OPERATOR(pg_catalog.->>) 'keep', p OPERATOR(pg_catalog.->>) 'time_column',
            CASE p OPERATOR(pg_catalog.->>) 'action' WHEN 'delete' THEN 'deleted' ELSE 'anonymised' END);
    END LOOP;
    IF jsonb_array_length(rec OPERATOR(pg_catalog.->) 'retention') OPERATOR(pg_catalog.=) 0 THEN
        lines := lines OPERATOR(pg_catalog.||) 'no retention rule'::text;
    END IF;

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'ERASURE ON REQUEST',
        format('deadline: %s after the request', er OPERATOR(pg_catalog.->>) 'deadline'),
        'method: the data subject''s key is destroyed (crypto-shredding), then their rows are deleted or anonymised'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(er OPERATOR(pg_catalog.->) 'actions') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('table %s: rows %s', p OPERATOR(pg_catalog.->>) 'table',
            CASE p OPERATOR(pg_catalog.->>) 'action' WHEN 'delete' THEN 'deleted' ELSE 'anonymised' END);
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        'other protected tables: rows deleted',
        format('requests: %s pending, %s overdue, %s completed', er OPERATOR(pg_catalog.#>>) '{requests,pending}',
               er OPERATOR(pg_catalog.#>>) '{requests,overdue}', er OPERATOR(pg_catalog.#>>) '{requests,completed}')];

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'TECHNICAL AND ORGANISATIONAL MEASURES',
        format('encryption: %s, %s', t OPERATOR(pg_catalog.#>>) '{encryption,cipher}', t OPERATOR(pg_catalog.#>>) '{encryption,keys}'),
        format('protected columns: %s in %s tables', t OPERATOR(pg_catalog.#>>) '{encryption,protected_columns}',
               t OPERATOR(pg_catalog.#>>) '{encryption,protected_tables}'),
        format('data keys: %s live, %s destroyed by erasure', t OPERATOR(pg_catalog.#>>) '{subject_keys,live}',
               t OPERATOR(pg_catalog.#>>) '{subject_keys,erased}')];
    SELECT string_agg(z.value OPERATOR(pg_catalog.#>>) '{}', ', ') INTO lst
      FROM jsonb_array_elements(t OPERATOR(pg_catalog.#>) '{key_wrapping,master_key_versions_in_use}') z;
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        format('key wrapping: %s under the master key; versions in use: %s', t OPERATOR(pg_catalog.#>>) '{key_wrapping,cipher}',
               coalesce(lst, 'none yet')),
        'master keys: ' OPERATOR(pg_catalog.||) (t OPERATOR(pg_catalog.#>>) '{key_wrapping,keyring}')];
    SELECT string_agg(z.value OPERATOR(pg_catalog.#>>) '{}', ', ') INTO lst
      FROM jsonb_array_elements(t OPERATOR(pg_catalog.#>) '{blind_indexes,columns}') z;
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        format('blind indexes (%s): %s', t OPERATOR(pg_catalog.#>>) '{blind_indexes,algorithm}', coalesce(lst, 'none')),
        'access to plaintext: ' OPERATOR(pg_catalog.||) (t OPERATOR(pg_catalog.#>>) '{access_control,reveal}'),
        format('superusers: %s (they hold every purpose, and must still declare one)',
               t OPERATOR(pg_catalog.#>>) '{access_control,superusers}'),
        format('audit trail: %s records, %s hash chain, %s', t OPERATOR(pg_catalog.#>>) '{audit_trail,records}',
               t OPERATOR(pg_catalog.#>>) '{audit_trail,hash_chain}',
               CASE t OPERATOR(pg_catalog.#>>) '{audit_trail,intact}' WHEN 'true' THEN 'intact' WHEN 'false' THEN 'BROKEN'
                    ELSE 'not verified (verify_audit() runs at READ COMMITTED)' END),
        format('collection guard: %s on new columns whose names suggest personal data',
               t OPERATOR(pg_catalog.#>>) '{collection_guard}'),
        format('incidents: %s open, %s closed; %s', t OPERATOR(pg_catalog.#>>) '{incidents,open}',
               t OPERATOR(pg_catalog.#>>) '{incidents,closed}',
               CASE WHEN t OPERATOR(pg_catalog.#>>) '{incidents,lockdown_since}' IS NULL THEN 'no lockdown in force'
                    ELSE 'LOCKDOWN in force: only incident_response reveals' END)];
    RETURN array_to_string(lines, E'\n');
END
$fn$;
COMMENT ON FUNCTION privacy_guard.processing_record_text() IS
    'the record of processing activities as plain text for a data protection officer';

REVOKE ALL ON FUNCTION privacy_guard.processing_record(), privacy_guard.processing_record_text() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.processing_record(), privacy_guard.processing_record_text()
    TO privacy_guard_admin, privacy_guard_auditor;

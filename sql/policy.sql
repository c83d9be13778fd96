-- sql/policy.sql (src/policy.c)
--   The policy's catalog: categories of personal data, purposes (a tree),
--   allowances (which categories a purpose sees, in full or masked) and
--   grants (which roles act under a purpose); the functions that change
--   them, and the session's declared purpose.  Every backend caches the
--   policy; the catalog's triggers invalidate the caches and audit changes.

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
    purpose  text NOT NULL,      -- a purpose's name (see policy_references())
    category text NOT NULL,      -- a category's name
    level    text NOT NULL DEFAULT 'full' CHECK (level IN ('full', 'masked')),
    PRIMARY KEY (purpose, category)
);
COMMENT ON TABLE privacy_guard.allowances IS 'which categories a purpose sees, in full or masked';

CREATE TABLE privacy_guard.purpose_grants (
    role       regrole NOT NULL,
    purpose    text NOT NULL,    -- a purpose's name (see policy_references())
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role, purpose)
);
COMMENT ON TABLE privacy_guard.purpose_grants IS 'roles that may act under a purpose (members included)';

-- Nobody but the extension's owner reads or writes these tables.
REVOKE ALL ON privacy_guard.categories, privacy_guard.purposes, privacy_guard.allowances,
    privacy_guard.purpose_grants FROM PUBLIC;

-- pg_dump keeps their contents (a dump without keys cannot be read back).
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.categories', '');
-- built-in purposes come with the extension, not with the dump
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.purposes',
    'WHERE name OPERATOR(pg_catalog.<>) ALL (ARRAY[''subject_access'', ''incident_response''])');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.allowances', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.purpose_grants', '');

-- Every backend caches the policy and the unwrapped keys: tell them all,
-- and audit what changed.
CREATE FUNCTION privacy_guard.catalog_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_catalog_changed';
REVOKE ALL ON FUNCTION privacy_guard.catalog_changed() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.catalog_changed() IS 'statement trigger: invalidates every backend''s policy or key cache';

-- Puts catalog_changed() on one of the extension's catalog tables (the
-- policy here, the keys in keys.sql, erasure's settings in erasure.sql):
-- one trigger per event, so each sees its rows (transition tables) and a
-- statement that changed nothing records nothing.  They fire in replica
-- mode too (logical replication's apply, restores that skip triggers): a
-- change made there must reach every session all the same.
CREATE FUNCTION privacy_guard.watch_catalog(tbl regclass, events text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    ev text;
    trg name;
BEGIN
    FOREACH ev IN ARRAY events LOOP
        trg := CASE ev WHEN 'INSERT' THEN 'catalog_inserted' WHEN 'UPDATE' THEN 'catalog_updated'
                       WHEN 'DELETE' THEN 'catalog_deleted' WHEN 'TRUNCATE' THEN 'catalog_truncated' END;
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.catalog_changed()',
                       trg, ev, tbl,
                       CASE ev WHEN 'DELETE' THEN 'REFERENCING OLD TABLE AS changed'
                               WHEN 'TRUNCATE' THEN '' ELSE 'REFERENCING NEW TABLE AS changed' END);
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', tbl, trg);
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.watch_catalog(regclass, text[]) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.watch_catalog(regclass, text[]) IS
    'install-time helper: puts catalog_changed() triggers for the given events on an extension catalog table';

SELECT privacy_guard.watch_catalog(t, ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'])
  FROM pg_catalog.unnest(ARRAY['privacy_guard.categories', 'privacy_guard.purposes', 'privacy_guard.allowances',
                               'privacy_guard.purpose_grants']::pg_catalog.regclass[]) t;

-- Logical replication's apply fires row triggers only, never the statement
-- triggers above: on a subscriber, a change it applies to a catalog table
-- (the policy, the keys, consent) reaches every session through this row
-- trigger, enabled in replica mode only (elsewhere the statement triggers
-- do it, once a statement).
CREATE FUNCTION privacy_guard.catalog_replicated() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_catalog_replicated';
REVOKE ALL ON FUNCTION privacy_guard.catalog_replicated() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.catalog_replicated() IS
    'row trigger, replica mode: a change logical replication applied to a catalog table invalidates every backend''s caches';
CREATE FUNCTION privacy_guard.watch_replicated(tbl regclass, events text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    -- the statement triggers' events (watch_catalog()), TRUNCATE aside: it has no row trigger
    EXECUTE format('CREATE TRIGGER catalog_replicated AFTER %s ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION privacy_guard.catalog_replicated()',
                   array_to_string(events, ' OR '), tbl);
    EXECUTE format('ALTER TABLE %s ENABLE REPLICA TRIGGER catalog_replicated', tbl);
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.watch_replicated(regclass, text[]) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.watch_replicated(regclass, text[]) IS
    'install-time helper: puts the catalog_replicated() row trigger, replica mode only, on an extension catalog table';
SELECT privacy_guard.watch_replicated(t, ARRAY['INSERT', 'UPDATE', 'DELETE'])
  FROM pg_catalog.unnest(ARRAY['privacy_guard.categories', 'privacy_guard.purposes', 'privacy_guard.allowances',
                               'privacy_guard.purpose_grants']::pg_catalog.regclass[]) t;

-- References between the catalog's tables are kept by this trigger, not by
-- foreign keys: pg_restore -j loads each table's rows in a session of its
-- own, in no particular order, and a foreign key between two of the
-- extension's tables (created by CREATE EXTENSION, before any data) would
-- refuse allowances that arrive before their purposes.  The functions that
-- write the catalog check names as they write; this trigger does what the
-- keys did when a purpose or category goes: its allowances and grants go
-- with it, and one still referred to by consent history or a protected
-- column cannot go, nor be renamed.
CREATE FUNCTION privacy_guard.policy_referrer(what text, name text) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_policy_referrer';
REVOKE ALL ON FUNCTION privacy_guard.policy_referrer(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.policy_referrer(text, text) IS
    'the catalog table still referring to a purpose or category, read with the latest snapshot (as a foreign key checks)';

CREATE FUNCTION privacy_guard.policy_references() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    what text := CASE TG_TABLE_NAME WHEN 'purposes' THEN 'purpose' ELSE 'category' END;
    referrer text;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND NEW.name OPERATOR(pg_catalog.=) OLD.name THEN
        RETURN NULL;
    END IF;
    -- a name that goes takes its allowances and grants along
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        IF what OPERATOR(pg_catalog.=) 'purpose' THEN
            DELETE FROM privacy_guard.allowances a WHERE a.purpose OPERATOR(pg_catalog.=) OLD.name;
            DELETE FROM privacy_guard.purpose_grants g WHERE g.purpose OPERATOR(pg_catalog.=) OLD.name;
        ELSE
            DELETE FROM privacy_guard.allowances a WHERE a.category OPERATOR(pg_catalog.=) OLD.name;
        END IF;
    END IF;
    -- anything left, committed now (not only as this transaction saw it), keeps it
    referrer := privacy_guard.policy_referrer(what, OLD.name);
    IF referrer IS NOT NULL THEN
        RAISE EXCEPTION '% "%" is still referred to by privacy_guard.%', what, OLD.name, referrer
            USING ERRCODE = 'foreign_key_violation', TABLE = referrer,
                  DETAIL = format('Key (name)=(%s) is still referenced from table "%s".', OLD.name, referrer);
    END IF;
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.policy_references() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.policy_references() IS
    'trigger: a purpose or category that goes takes its allowances and grants along; one still in use stays';
CREATE TRIGGER policy_references AFTER DELETE OR UPDATE OF name ON privacy_guard.purposes
    FOR EACH ROW EXECUTE FUNCTION privacy_guard.policy_references();
CREATE TRIGGER policy_references AFTER DELETE OR UPDATE OF name ON privacy_guard.categories
    FOR EACH ROW EXECUTE FUNCTION privacy_guard.policy_references();

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
    -- the names' rows are locked as a foreign key would: neither can go meanwhile
    PERFORM FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) allow.purpose FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'purpose "%" does not exist', purpose
            USING ERRCODE = 'undefined_object', HINT = 'Define it with privacy_guard.define_purpose().';
    END IF;
    PERFORM FROM privacy_guard.categories c WHERE c.name OPERATOR(pg_catalog.=) allow.category FOR KEY SHARE;
    IF NOT FOUND THEN
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
    PERFORM FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) grant_purpose.purpose FOR KEY SHARE;
    IF NOT FOUND THEN
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

-- Administration is for the owner and privacy_guard_admin.
REVOKE ALL ON FUNCTION privacy_guard.define_category(text, text, text, text),
    privacy_guard.define_purpose(text, text, boolean, boolean, text),
    privacy_guard.allow(text, text, text),
    privacy_guard.grant_purpose(regrole, text),
    privacy_guard.revoke_purpose(regrole, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.define_category(text, text, text, text),
    privacy_guard.define_purpose(text, text, boolean, boolean, text),
    privacy_guard.allow(text, text, text),
    privacy_guard.grant_purpose(regrole, text),
    privacy_guard.revoke_purpose(regrole, text)
    TO privacy_guard_admin;

-- sql/consent.sql (src/consent.c)
--   The customer's rights short of erasure: consent with its evidence and
--   history, restriction of processing, and the export of everything held
--   on a subject (right of access).

-- Append-only: a grant and a withdrawal are both new rows; nothing is
-- overwritten.  The latest event of a (subject, purpose) decides.
CREATE TABLE privacy_guard.consent_events (
    id             bigserial PRIMARY KEY,
    subject        text NOT NULL,
    subject_digest bytea NOT NULL,       -- SHA-256 of subject, as reveal knows it
    purpose        text NOT NULL,        -- a purpose's name (see policy_references())
    action         text NOT NULL CHECK (action IN ('granted', 'withdrawn')),
    evidence       text,
    recorded_by    name NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX consent_events_subject ON privacy_guard.consent_events (subject, purpose, id);
CREATE INDEX consent_events_purpose ON privacy_guard.consent_events (purpose, subject_digest, id);
COMMENT ON TABLE privacy_guard.consent_events IS 'every consent given and withdrawn, never overwritten';
COMMENT ON SEQUENCE privacy_guard.consent_events_id_seq IS 'ids of consent events, in the order they were recorded';
REVOKE ALL ON privacy_guard.consent_events FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.consent_events', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.consent_events_id_seq', '');
CREATE FUNCTION privacy_guard.consent_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_consent_changed';
REVOKE ALL ON FUNCTION privacy_guard.consent_changed() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.consent_changed() IS 'statement trigger: every backend forgets its consent cache';
CREATE TRIGGER consent_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy_guard.consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.consent_changed();
-- in replica mode too: a change applied there must reach every session
ALTER TABLE privacy_guard.consent_events ENABLE ALWAYS TRIGGER consent_changed;

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
COMMENT ON SEQUENCE privacy_guard.restriction_events_id_seq IS 'ids of restriction events, in the order they were recorded';
REVOKE ALL ON privacy_guard.restriction_events FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.restriction_events', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.restriction_events_id_seq', '');
CREATE TRIGGER restriction_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy_guard.restriction_events
    FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.consent_changed();
ALTER TABLE privacy_guard.restriction_events ENABLE ALWAYS TRIGGER restriction_changed;
SELECT privacy_guard.watch_replicated(t, ARRAY['INSERT', 'UPDATE', 'DELETE'])
  FROM pg_catalog.unnest(ARRAY['privacy_guard.consent_events',
                               'privacy_guard.restriction_events']::pg_catalog.regclass[]) t;

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
-- their output function, protected columns never as they are stored.
CREATE FUNCTION privacy_guard.subject_export(subject text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET row_security = off AS $fn$
DECLARE
    t record;
    rows jsonb;
    data jsonb := '{}';
    pairs text[];
    parts text[];
    subject_type regtype;
    kind "char";
    retyped text;
BEGIN
    IF subject IS NULL OR subject OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'subject must not be null or empty' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM privacy_guard.export_scope(subject, true);
    BEGIN
        FOR t IN
            SELECT p.table_schema, p.table_name, p.subject_column,
                   array_agg(p.column_name::text) AS cols,
                   (SELECT array_agg(q.column_name::text)
                      FROM privacy_guard.protected_columns q
                     WHERE q.table_schema OPERATOR(pg_catalog.=) p.table_schema
                       AND q.table_name OPERATOR(pg_catalog.=) p.table_name) AS hidden
              FROM privacy_guard.protected_columns p
             GROUP BY p.table_schema, p.table_name, p.subject_column
             ORDER BY p.table_schema, p.table_name, p.subject_column
        LOOP
            -- Nothing the table's owner defined may run as the caller.  Locked
            -- first, so that it stays what is checked: still a table (a view's
            -- functions would run as the caller), its subject column, whose
            -- text form is compared, of a type whose cast to text only a
            -- superuser defines, its protected columns of their encrypted types
            -- (another type's cast would run to reach reveal()).  Any may have
            -- changed since protect().
            kind := privacy_guard.lock_relation(format('%I.%I', t.table_schema, t.table_name)::regclass,
                                                false, 'subject_export');
            SELECT a.atttypid INTO subject_type FROM pg_attribute a
             WHERE a.attrelid OPERATOR(pg_catalog.=) format('%I.%I', t.table_schema, t.table_name)::regclass
               AND a.attname OPERATOR(pg_catalog.=) t.subject_column AND NOT a.attisdropped;
            IF kind IS DISTINCT FROM 'r' THEN
                RAISE EXCEPTION 'relation %.% is no longer an ordinary table',
                                quote_ident(t.table_schema), quote_ident(t.table_name)
                    USING ERRCODE = 'wrong_object_type',
                          HINT = 'Its owner changed it after protect(); only tables are exported.';
            END IF;
            IF privacy_guard.subject_cast(subject_type) IS NULL THEN
                RAISE EXCEPTION 'subject column "%" of relation %.% has type %', t.subject_column,
                                quote_ident(t.table_schema), quote_ident(t.table_name), subject_type
                    USING ERRCODE = 'datatype_mismatch',
                          HINT = 'A subject column is text, varchar, char, smallint, integer, bigint or uuid; '
                                 'its type was changed after protect().';
            END IF;
            SELECT string_agg(format('"%s"', a.attname), ', ' ORDER BY a.attnum) INTO retyped
              FROM pg_attribute a
             WHERE a.attrelid OPERATOR(pg_catalog.=) format('%I.%I', t.table_schema, t.table_name)::regclass
               AND a.attname::text OPERATOR(pg_catalog.=) ANY (t.cols) AND NOT a.attisdropped
               AND a.atttypid::regtype OPERATOR(pg_catalog.<>) ALL (privacy_guard.encrypted_types());
            IF retyped IS NOT NULL THEN
                RAISE EXCEPTION 'protected columns % of relation %.% are no longer encrypted', retyped,
                                quote_ident(t.table_schema), quote_ident(t.table_name)
                    USING ERRCODE = 'datatype_mismatch',
                          HINT = 'Their type was changed after protect(); protect them again.';
            END IF;
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
                           ' WHERE t.%I::pg_catalog.text OPERATOR(pg_catalog.=) $1',
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

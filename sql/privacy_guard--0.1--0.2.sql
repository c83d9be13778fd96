/* privacy_guard 0.1 to 0.2: ALTER EXTENSION privacy_guard UPDATE TO '0.2' */

\echo Use "ALTER EXTENSION privacy_guard UPDATE TO '0.2'" to load this file. \quit

-- Released with 0.2 and never edited afterwards.  Four parts:
--   1. what 0.2 no longer has, or keeps in another shape;
--   2. every object 0.2 adds or defines anew, as 0.2's install script
--      defines it (written out from a fresh 0.2 installation's catalog);
--   3. the catalog of protected columns in its 0.2 shape;
--   4. the application's protected tables: 0.2's two sealing triggers, the
--      sealing CHECKs added after the data in dumps, and search terms moved
--      from 0.1's blind-index columns into the values, under new search keys.
-- test/t/017_upgrade.pl installs 0.1 with its own library, fills it, updates
-- it with this library, and compares the catalog with a fresh 0.2's.

-- Functions are created before the tables some of them read.
SET LOCAL check_function_bodies = off;

-- 1. What 0.2 no longer has, or keeps in another shape.

-- Searchable columns carry their terms in their values: no index_term(),
-- and register_protection() says whether a column is searchable.
DROP VIEW privacy_guard.protected_columns;
DROP FUNCTION privacy_guard.index_term(text, text, boolean);
DROP FUNCTION privacy_guard.register_protection(regclass, name, text, name, name);

-- References between the catalog's tables are kept by a trigger
-- (policy_references()), not by foreign keys, which pg_restore -j breaks.
ALTER TABLE privacy_guard.allowances
    DROP CONSTRAINT allowances_category_fkey,
    DROP CONSTRAINT allowances_purpose_fkey;
ALTER TABLE privacy_guard.column_protection DROP CONSTRAINT column_protection_category_fkey;
ALTER TABLE privacy_guard.consent_events DROP CONSTRAINT consent_events_purpose_fkey;
ALTER TABLE privacy_guard.purpose_grants DROP CONSTRAINT purpose_grants_purpose_fkey;

-- The role a hot standby's audit writer connects to the primary as.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'privacy_guard_standby') THEN
        CREATE ROLE privacy_guard_standby NOLOGIN;
    END IF;
END
$$;

-- subject_cast() names a cast; anyone may call it (it is created again
-- below, with no privileges of its own).
DROP FUNCTION privacy_guard.subject_cast(regtype);

-- The audit trail's reveal groups: found through the range of their key
-- ids (GiST, groups of many) or their one key id (btree), not a GIN index.
DROP INDEX privacy_guard.audit_subjects_key_ids;
ALTER TABLE privacy_guard.audit_subjects ADD COLUMN key_range int8range;
UPDATE privacy_guard.audit_subjects s
   SET key_range = (SELECT pg_catalog.int8range(pg_catalog.min(k.k), pg_catalog.max(k.k), '[]')
                      FROM pg_catalog.unnest(s.key_ids) AS k(k));
ALTER TABLE privacy_guard.audit_subjects ALTER COLUMN key_range SET NOT NULL;

-- The catalog of protected columns says whether a column is searchable
-- instead of naming its blind-index column: the 0.1 table is kept aside
-- until part 4 has read it (after the last statement 0.1's event trigger
-- forget_dropped_tables(), which reads it by name, sees).
ALTER TABLE privacy_guard.column_protection RENAME TO column_protection_0_1;
ALTER TABLE privacy_guard.column_protection_0_1 RENAME CONSTRAINT column_protection_pkey TO column_protection_0_1_pkey;

-- 2. What 0.2 adds or defines anew.

-- COMMENT FUNCTION encrypted_bytea_in(cstring)
COMMENT ON FUNCTION privacy_guard.encrypted_bytea_in(cstring) IS 'text input of encrypted_bytea: an envelope (sealed1:...) is checked and kept; anything else is plaintext that becomes a pending value only the write path seals';

-- COMMENT FUNCTION encrypted_bytea_out(privacy_guard.encrypted_bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_bytea_out(privacy_guard.encrypted_bytea) IS 'text output of encrypted_bytea: the envelope, never the plaintext; refuses a pending value';

-- encrypted_bytea_recv(internal) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.encrypted_bytea_recv(internal) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_bytea_recv';

-- COMMENT FUNCTION encrypted_bytea_recv(internal)
COMMENT ON FUNCTION privacy_guard.encrypted_bytea_recv(internal) IS 'binary input of encrypted_bytea: the envelope''s bytes';

-- COMMENT FUNCTION encrypted_bytea_send(privacy_guard.encrypted_bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_bytea_send(privacy_guard.encrypted_bytea) IS 'binary output of encrypted_bytea: the envelope''s bytes; refuses a pending value';

-- FUNCTION encrypted_typanalyze(internal)
CREATE FUNCTION privacy_guard.encrypted_typanalyze(internal) RETURNS boolean
    LANGUAGE c STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_typanalyze';

-- COMMENT FUNCTION encrypted_typanalyze(internal)
COMMENT ON FUNCTION privacy_guard.encrypted_typanalyze(internal) IS 'ANALYZE of an encrypted column: null fraction and width only, no values';

ALTER TYPE privacy_guard.encrypted_bytea SET (ANALYZE = privacy_guard.encrypted_typanalyze);

-- COMMENT FUNCTION encrypted_date_in(cstring)
COMMENT ON FUNCTION privacy_guard.encrypted_date_in(cstring) IS 'text input of encrypted_date: an envelope (sealed1:...) is checked and kept; anything else is plaintext that becomes a pending value only the write path seals';

-- COMMENT FUNCTION encrypted_date_out(privacy_guard.encrypted_date)
COMMENT ON FUNCTION privacy_guard.encrypted_date_out(privacy_guard.encrypted_date) IS 'text output of encrypted_date: the envelope, never the plaintext; refuses a pending value';

-- encrypted_date_recv(internal) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.encrypted_date_recv(internal) RETURNS privacy_guard.encrypted_date
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_date_recv';

-- COMMENT FUNCTION encrypted_date_recv(internal)
COMMENT ON FUNCTION privacy_guard.encrypted_date_recv(internal) IS 'binary input of encrypted_date: the envelope''s bytes';

-- COMMENT FUNCTION encrypted_date_send(privacy_guard.encrypted_date)
COMMENT ON FUNCTION privacy_guard.encrypted_date_send(privacy_guard.encrypted_date) IS 'binary output of encrypted_date: the envelope''s bytes; refuses a pending value';

ALTER TYPE privacy_guard.encrypted_date SET (ANALYZE = privacy_guard.encrypted_typanalyze);

-- COMMENT FUNCTION encrypted_jsonb_in(cstring)
COMMENT ON FUNCTION privacy_guard.encrypted_jsonb_in(cstring) IS 'text input of encrypted_jsonb: an envelope (sealed1:...) is checked and kept; anything else is plaintext that becomes a pending value only the write path seals';

-- COMMENT FUNCTION encrypted_jsonb_out(privacy_guard.encrypted_jsonb)
COMMENT ON FUNCTION privacy_guard.encrypted_jsonb_out(privacy_guard.encrypted_jsonb) IS 'text output of encrypted_jsonb: the envelope, never the plaintext; refuses a pending value';

-- encrypted_jsonb_recv(internal) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.encrypted_jsonb_recv(internal) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_jsonb_recv';

-- COMMENT FUNCTION encrypted_jsonb_recv(internal)
COMMENT ON FUNCTION privacy_guard.encrypted_jsonb_recv(internal) IS 'binary input of encrypted_jsonb: the envelope''s bytes';

-- COMMENT FUNCTION encrypted_jsonb_send(privacy_guard.encrypted_jsonb)
COMMENT ON FUNCTION privacy_guard.encrypted_jsonb_send(privacy_guard.encrypted_jsonb) IS 'binary output of encrypted_jsonb: the envelope''s bytes; refuses a pending value';

ALTER TYPE privacy_guard.encrypted_jsonb SET (ANALYZE = privacy_guard.encrypted_typanalyze);

-- COMMENT FUNCTION encrypted_numeric_in(cstring)
COMMENT ON FUNCTION privacy_guard.encrypted_numeric_in(cstring) IS 'text input of encrypted_numeric: an envelope (sealed1:...) is checked and kept; anything else is plaintext that becomes a pending value only the write path seals';

-- COMMENT FUNCTION encrypted_numeric_out(privacy_guard.encrypted_numeric)
COMMENT ON FUNCTION privacy_guard.encrypted_numeric_out(privacy_guard.encrypted_numeric) IS 'text output of encrypted_numeric: the envelope, never the plaintext; refuses a pending value';

-- encrypted_numeric_recv(internal) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.encrypted_numeric_recv(internal) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_numeric_recv';

-- COMMENT FUNCTION encrypted_numeric_recv(internal)
COMMENT ON FUNCTION privacy_guard.encrypted_numeric_recv(internal) IS 'binary input of encrypted_numeric: the envelope''s bytes';

-- COMMENT FUNCTION encrypted_numeric_send(privacy_guard.encrypted_numeric)
COMMENT ON FUNCTION privacy_guard.encrypted_numeric_send(privacy_guard.encrypted_numeric) IS 'binary output of encrypted_numeric: the envelope''s bytes; refuses a pending value';

ALTER TYPE privacy_guard.encrypted_numeric SET (ANALYZE = privacy_guard.encrypted_typanalyze);

-- COMMENT FUNCTION encrypted_text_in(cstring)
COMMENT ON FUNCTION privacy_guard.encrypted_text_in(cstring) IS 'text input of encrypted_text: an envelope (sealed1:...) is checked and kept; anything else is plaintext that becomes a pending value only the write path seals';

-- COMMENT FUNCTION encrypted_text_out(privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_text_out(privacy_guard.encrypted_text) IS 'text output of encrypted_text: the envelope, never the plaintext; refuses a pending value';

-- encrypted_text_recv(internal) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.encrypted_text_recv(internal) RETURNS privacy_guard.encrypted_text
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_text_recv';

-- COMMENT FUNCTION encrypted_text_recv(internal)
COMMENT ON FUNCTION privacy_guard.encrypted_text_recv(internal) IS 'binary input of encrypted_text: the envelope''s bytes';

-- COMMENT FUNCTION encrypted_text_send(privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_text_send(privacy_guard.encrypted_text) IS 'binary output of encrypted_text: the envelope''s bytes; refuses a pending value';

ALTER TYPE privacy_guard.encrypted_text SET (ANALYZE = privacy_guard.encrypted_typanalyze);

-- COMMENT FUNCTION encrypted_bytea(bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_bytea(bytea) IS 'assignment cast from bytea: a pending value that only the write path seals';

-- COMMENT CAST (bytea AS privacy_guard.encrypted_bytea)
COMMENT ON CAST (bytea AS privacy_guard.encrypted_bytea) IS 'lets applications write bytea into a protected column unchanged; the write path seals it';

-- COMMENT FUNCTION encrypted_date(date)
COMMENT ON FUNCTION privacy_guard.encrypted_date(date) IS 'assignment cast from date: a pending value that only the write path seals';

-- COMMENT CAST (date AS privacy_guard.encrypted_date)
COMMENT ON CAST (date AS privacy_guard.encrypted_date) IS 'lets applications write date into a protected column unchanged; the write path seals it';

-- COMMENT FUNCTION encrypted_numeric(integer)
COMMENT ON FUNCTION privacy_guard.encrypted_numeric(integer) IS 'assignment cast from integer: a pending value that only the write path seals';

-- COMMENT CAST (integer AS privacy_guard.encrypted_numeric)
COMMENT ON CAST (integer AS privacy_guard.encrypted_numeric) IS 'lets applications write integer into a protected column unchanged; the write path seals it';

-- COMMENT FUNCTION encrypted_numeric(bigint)
COMMENT ON FUNCTION privacy_guard.encrypted_numeric(bigint) IS 'assignment cast from bigint: a pending value that only the write path seals';

-- COMMENT CAST (bigint AS privacy_guard.encrypted_numeric)
COMMENT ON CAST (bigint AS privacy_guard.encrypted_numeric) IS 'lets applications write bigint into a protected column unchanged; the write path seals it';

-- COMMENT FUNCTION encrypted_jsonb(jsonb)
COMMENT ON FUNCTION privacy_guard.encrypted_jsonb(jsonb) IS 'assignment cast from jsonb: a pending value that only the write path seals';

-- COMMENT CAST (jsonb AS privacy_guard.encrypted_jsonb)
COMMENT ON CAST (jsonb AS privacy_guard.encrypted_jsonb) IS 'lets applications write jsonb into a protected column unchanged; the write path seals it';

-- COMMENT FUNCTION encrypted_numeric(numeric)
COMMENT ON FUNCTION privacy_guard.encrypted_numeric(numeric) IS 'assignment cast from numeric: a pending value that only the write path seals';

-- COMMENT CAST (numeric AS privacy_guard.encrypted_numeric)
COMMENT ON CAST (numeric AS privacy_guard.encrypted_numeric) IS 'lets applications write numeric into a protected column unchanged; the write path seals it';

-- COMMENT FUNCTION encrypted_text(text)
COMMENT ON FUNCTION privacy_guard.encrypted_text(text) IS 'assignment cast from text: a pending value that only the write path seals';

-- COMMENT CAST (text AS privacy_guard.encrypted_text)
COMMENT ON CAST (text AS privacy_guard.encrypted_text) IS 'lets applications write text into a protected column unchanged; the write path seals it';

-- COMMENT CAST (character varying AS privacy_guard.encrypted_text)
COMMENT ON CAST (character varying AS privacy_guard.encrypted_text) IS 'lets applications write varchar into a protected column unchanged; the write path seals it';

-- access_history(text) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.access_history(subject text) RETURNS TABLE(at timestamp with time zone, session_user_name text, current_role_name text, event text, purpose text, category text, table_name text, column_name text, outcome text, statement text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT r.at, r.session_user_name, r.current_role_name, r.event, r.purpose, r.category,
           r.table_name, r.column_name, r.outcome, r.statement
      FROM privacy_guard.audit_records r
     -- every record of this trail is this database's, under whatever name it
     -- had then (a rename, a restore under another name)
     WHERE (EXISTS (SELECT FROM privacy_guard.keys k
                      JOIN privacy_guard.audit_subjects s
                        ON s.key_ids[1] OPERATOR(pg_catalog.=) k.key_id
                       AND pg_catalog.cardinality(s.key_ids) OPERATOR(pg_catalog.=) 1
                    WHERE k.kind OPERATOR(pg_catalog.=) 'subject'
                      AND k.name OPERATOR(pg_catalog.=) access_history.subject
                      AND s.queue_epoch OPERATOR(pg_catalog.=) r.queue_epoch
                      AND s.group_seq OPERATOR(pg_catalog.=) r.queue_seq)
            OR EXISTS (SELECT FROM privacy_guard.keys k
                      JOIN privacy_guard.audit_subjects s
                        ON s.key_range OPERATOR(pg_catalog.@>) k.key_id
                       AND pg_catalog.cardinality(s.key_ids) OPERATOR(pg_catalog.>) 1
                       AND k.key_id OPERATOR(pg_catalog.=) ANY (s.key_ids)
                    WHERE k.kind OPERATOR(pg_catalog.=) 'subject'
                      AND k.name OPERATOR(pg_catalog.=) access_history.subject
                      AND s.queue_epoch OPERATOR(pg_catalog.=) r.queue_epoch
                      AND s.group_seq OPERATOR(pg_catalog.=) r.queue_seq)
            OR r.subject OPERATOR(pg_catalog.=) access_history.subject)
     ORDER BY r.id
$$;

-- allow(text, text, text) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.allow(purpose text, category text, level text DEFAULT 'full'::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

-- apply_retention() (changed)
CREATE OR REPLACE FUNCTION privacy_guard.apply_retention() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET row_security TO 'off'
    SET lock_timeout TO '10s'
    AS $_$
DECLARE
    r record;
    u record;
    cutoff timestamptz;
    subjects text[];
    links text[];
    n bigint;
    rule_rows bigint;
    total bigint := 0;
    state text;
BEGIN
    FOR r IN SELECT x.tbl, x.time_col, x.keep, x.action FROM privacy_guard.retention_rules x ORDER BY x.tbl::oid LOOP
      -- each table on its own: one that fails (its owner's trigger, a lock
      -- held too long) is reported and the others go on
      BEGIN
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
            PERFORM privacy_guard.audit_event_at_commit('retention', CASE r.action WHEN 'delete' THEN 'deleted' ELSE 'anonymised' END,
                format('%s: %s rows older than %s (%s before %s)', r.tbl, rule_rows, r.keep, r.time_col, cutoff), NULL);
        END IF;
        total := total + rule_rows;
      EXCEPTION WHEN OTHERS THEN
        -- the SQLSTATE only: the message may quote a value of the table or
        -- text its owner's code chose
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
        PERFORM privacy_guard.audit_event('retention', 'failed',
            format('%s: SQLSTATE %s; nothing of this table was changed', r.tbl, state), NULL);
        RAISE WARNING 'retention of relation % failed with SQLSTATE %', r.tbl, state
            USING HINT = 'Nothing of this table was changed; the other tables were processed.  '
                         'Run the rule''s statement as the table''s owner to see the cause.';
      END;
    END LOOP;
    RETURN total;
END
$_$;

-- FUNCTION audit_event_at_commit(text, text, text, text)
CREATE FUNCTION privacy_guard.audit_event_at_commit(event text, outcome text, detail text, subject text) RETURNS void
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_audit_event_at_commit';

-- COMMENT FUNCTION audit_event_at_commit(event text, outcome text, detail text, subject text)
COMMENT ON FUNCTION privacy_guard.audit_event_at_commit(event text, outcome text, detail text, subject text) IS 'queue one audit record about work that can roll back, when (and only if) the transaction doing it commits';

-- FUNCTION audit_forward(text, text[])
CREATE FUNCTION privacy_guard.audit_forward(standby text, events text[]) RETURNS bigint
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_audit_forward';

-- COMMENT FUNCTION audit_forward(standby text, events text[])
COMMENT ON FUNCTION privacy_guard.audit_forward(standby text, events text[]) IS 'a standby''s audit events, recorded in this database''s trail; for a standby''s audit writer (privacy_guard_standby)';

-- FUNCTION begin_plaintext(regclass, name)
CREATE FUNCTION privacy_guard.begin_plaintext(tbl regclass, col name) RETURNS bigint
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_begin_plaintext';

-- COMMENT FUNCTION begin_plaintext(tbl regclass, col name)
COMMENT ON FUNCTION privacy_guard.begin_plaintext(tbl regclass, col name) IS 'unprotect(to_plaintext)''s first step: the column''s values, the only ones plaintext_of() opens in this transaction (superusers)';

-- COMMENT FUNCTION blind_index(value text, category text) (changed)
COMMENT ON FUNCTION privacy_guard.blind_index(value text, category text) IS 'search term for a searchable column: WHERE col = privacy_guard.blind_index(value, category)';

-- FUNCTION check_policies(regclass)
CREATE FUNCTION privacy_guard.check_policies(tbl regclass) RETURNS void
    LANGUAGE c STABLE STRICT
    AS '$libdir/privacy_guard', 'pguard_check_policies';

-- COMMENT FUNCTION check_policies(tbl regclass)
COMMENT ON FUNCTION privacy_guard.check_policies(tbl regclass) IS 'refuse a table whose row-security policies call functions that are not built in';

-- COMMENT FUNCTION check_rule(tbl regclass, action text, what text)
COMMENT ON FUNCTION privacy_guard.check_rule(tbl regclass, action text, what text) IS 'the checks set_erasure_action() and set_retention() share; returns the action as stored';

-- FUNCTION check_sealed(privacy_guard.encrypted_text, text, text, boolean)
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_text, category text, subject text, searchable boolean) RETURNS boolean
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_check_sealed';

-- COMMENT FUNCTION check_sealed(value privacy_guard.encrypted_text, category text, subject text, searchable boolean)
COMMENT ON FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_text, category text, subject text, searchable boolean) IS 'CHECK on a searchable column: as check_sealed(value, category, subject), and the value carries its own search term';

-- FUNCTION encrypted_cmp(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_cmp(privacy_guard.encrypted_text, privacy_guard.encrypted_text) RETURNS integer
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_cmp';

-- COMMENT FUNCTION encrypted_cmp(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_cmp(privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'btree comparison of search terms (of plaintext too, checked as a search); refuses values that carry none';

-- FUNCTION encrypted_cmp_term(privacy_guard.encrypted_text, bytea)
CREATE FUNCTION privacy_guard.encrypted_cmp_term(privacy_guard.encrypted_text, bytea) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_cmp_term';

-- COMMENT FUNCTION encrypted_cmp_term(privacy_guard.encrypted_text, bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_cmp_term(privacy_guard.encrypted_text, bytea) IS 'btree comparison of search terms (of plaintext too, checked as a search); refuses values that carry none';

-- FUNCTION encrypted_cmp_term_first(bytea, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_cmp_term_first(bytea, privacy_guard.encrypted_text) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_cmp_term_first';

-- COMMENT FUNCTION encrypted_cmp_term_first(bytea, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_cmp_term_first(bytea, privacy_guard.encrypted_text) IS 'btree comparison of search terms (of plaintext too, checked as a search); refuses values that carry none';

-- FUNCTION encrypted_eq(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_eq(privacy_guard.encrypted_text, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_eq';

-- COMMENT FUNCTION encrypted_eq(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_eq(privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'search-term comparison =';

-- FUNCTION encrypted_eq_term(privacy_guard.encrypted_text, bytea)
CREATE FUNCTION privacy_guard.encrypted_eq_term(privacy_guard.encrypted_text, bytea) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_eq_term';

-- COMMENT FUNCTION encrypted_eq_term(privacy_guard.encrypted_text, bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_eq_term(privacy_guard.encrypted_text, bytea) IS 'search-term comparison =';

-- FUNCTION encrypted_eq_term_first(bytea, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_eq_term_first(bytea, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_eq_term_first';

-- COMMENT FUNCTION encrypted_eq_term_first(bytea, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_eq_term_first(bytea, privacy_guard.encrypted_text) IS 'search-term comparison =';

-- FUNCTION encrypted_ge(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_ge(privacy_guard.encrypted_text, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_ge';

-- COMMENT FUNCTION encrypted_ge(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_ge(privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'search-term comparison >=';

-- FUNCTION encrypted_ge_term(privacy_guard.encrypted_text, bytea)
CREATE FUNCTION privacy_guard.encrypted_ge_term(privacy_guard.encrypted_text, bytea) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_ge_term';

-- COMMENT FUNCTION encrypted_ge_term(privacy_guard.encrypted_text, bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_ge_term(privacy_guard.encrypted_text, bytea) IS 'search-term comparison >=';

-- FUNCTION encrypted_ge_term_first(bytea, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_ge_term_first(bytea, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_ge_term_first';

-- COMMENT FUNCTION encrypted_ge_term_first(bytea, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_ge_term_first(bytea, privacy_guard.encrypted_text) IS 'search-term comparison >=';

-- FUNCTION encrypted_gt(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_gt(privacy_guard.encrypted_text, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_gt';

-- COMMENT FUNCTION encrypted_gt(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_gt(privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'search-term comparison >';

-- FUNCTION encrypted_gt_term(privacy_guard.encrypted_text, bytea)
CREATE FUNCTION privacy_guard.encrypted_gt_term(privacy_guard.encrypted_text, bytea) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_gt_term';

-- COMMENT FUNCTION encrypted_gt_term(privacy_guard.encrypted_text, bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_gt_term(privacy_guard.encrypted_text, bytea) IS 'search-term comparison >';

-- FUNCTION encrypted_gt_term_first(bytea, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_gt_term_first(bytea, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_gt_term_first';

-- COMMENT FUNCTION encrypted_gt_term_first(bytea, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_gt_term_first(bytea, privacy_guard.encrypted_text) IS 'search-term comparison >';

-- FUNCTION encrypted_le(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_le(privacy_guard.encrypted_text, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_le';

-- COMMENT FUNCTION encrypted_le(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_le(privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'search-term comparison <=';

-- FUNCTION encrypted_le_term(privacy_guard.encrypted_text, bytea)
CREATE FUNCTION privacy_guard.encrypted_le_term(privacy_guard.encrypted_text, bytea) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_le_term';

-- COMMENT FUNCTION encrypted_le_term(privacy_guard.encrypted_text, bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_le_term(privacy_guard.encrypted_text, bytea) IS 'search-term comparison <=';

-- FUNCTION encrypted_le_term_first(bytea, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_le_term_first(bytea, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_le_term_first';

-- COMMENT FUNCTION encrypted_le_term_first(bytea, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_le_term_first(bytea, privacy_guard.encrypted_text) IS 'search-term comparison <=';

-- FUNCTION encrypted_lt(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_lt(privacy_guard.encrypted_text, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_lt';

-- COMMENT FUNCTION encrypted_lt(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_lt(privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'search-term comparison <';

-- FUNCTION encrypted_lt_term(privacy_guard.encrypted_text, bytea)
CREATE FUNCTION privacy_guard.encrypted_lt_term(privacy_guard.encrypted_text, bytea) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_lt_term';

-- COMMENT FUNCTION encrypted_lt_term(privacy_guard.encrypted_text, bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_lt_term(privacy_guard.encrypted_text, bytea) IS 'search-term comparison <';

-- FUNCTION encrypted_lt_term_first(bytea, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_lt_term_first(bytea, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_lt_term_first';

-- COMMENT FUNCTION encrypted_lt_term_first(bytea, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_lt_term_first(bytea, privacy_guard.encrypted_text) IS 'search-term comparison <';

-- FUNCTION encrypted_ne(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_ne(privacy_guard.encrypted_text, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_encrypted_ne';

-- COMMENT FUNCTION encrypted_ne(privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_ne(privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'search-term comparison <>';

-- FUNCTION encrypted_ne_term(privacy_guard.encrypted_text, bytea)
CREATE FUNCTION privacy_guard.encrypted_ne_term(privacy_guard.encrypted_text, bytea) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_ne_term';

-- COMMENT FUNCTION encrypted_ne_term(privacy_guard.encrypted_text, bytea)
COMMENT ON FUNCTION privacy_guard.encrypted_ne_term(privacy_guard.encrypted_text, bytea) IS 'search-term comparison <>';

-- FUNCTION encrypted_ne_term_first(bytea, privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.encrypted_ne_term_first(bytea, privacy_guard.encrypted_text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_encrypted_ne_term_first';

-- COMMENT FUNCTION encrypted_ne_term_first(bytea, privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.encrypted_ne_term_first(bytea, privacy_guard.encrypted_text) IS 'search-term comparison <>';

-- FUNCTION encrypted_types()
CREATE FUNCTION privacy_guard.encrypted_types() RETURNS regtype[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT ARRAY['privacy_guard.encrypted_text'::regtype, 'privacy_guard.encrypted_jsonb'::regtype,
                 'privacy_guard.encrypted_date'::regtype, 'privacy_guard.encrypted_numeric'::regtype,
                 'privacy_guard.encrypted_bytea'::regtype]
$$;

-- COMMENT FUNCTION encrypted_types()
COMMENT ON FUNCTION privacy_guard.encrypted_types() IS 'the encrypted types, by OID';

-- FUNCTION end_plaintext(regclass, name, text)
CREATE FUNCTION privacy_guard.end_plaintext(tbl regclass, col name, category text) RETURNS void
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_end_plaintext';

-- COMMENT FUNCTION end_plaintext(tbl regclass, col name, category text)
COMMENT ON FUNCTION privacy_guard.end_plaintext(tbl regclass, col name, category text) IS 'unprotect(to_plaintext)''s last step: records how many values were decrypted';

-- COMMENT FUNCTION erasure_units()
COMMENT ON FUNCTION privacy_guard.erasure_units() IS 'every table and subject link an erasure visits, children before parents';

-- grant_purpose(regrole, text) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.grant_purpose(role regrole, purpose text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

-- FUNCTION guard_dropped()
CREATE FUNCTION privacy_guard.guard_dropped() RETURNS event_trigger
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_guard_dropped';

-- COMMENT FUNCTION guard_dropped()
COMMENT ON FUNCTION privacy_guard.guard_dropped() IS 'event trigger: refuse dropping a protected or subject column, a _sealed CHECK or the sealing trigger as a dependency';

-- FUNCTION keep_schema_own()
CREATE FUNCTION privacy_guard.keep_schema_own() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    ext name;
BEGIN
    SELECT e.extname INTO ext
      FROM pg_catalog.pg_event_trigger_ddl_commands() c
      JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) c.objid
     WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND e.extnamespace OPERATOR(pg_catalog.=) 'privacy_guard'::pg_catalog.regnamespace
       AND e.extname OPERATOR(pg_catalog.<>) 'privacy_guard';
    IF FOUND THEN
        RAISE EXCEPTION 'extension "%" cannot be installed in schema "privacy_guard"', ext
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Schema privacy_guard holds only the extension privacy_guard; choose another schema.';
    END IF;
END
$$;

-- COMMENT FUNCTION keep_schema_own()
COMMENT ON FUNCTION privacy_guard.keep_schema_own() IS 'event trigger: refuses another extension in schema privacy_guard';

-- FUNCTION keyring_versions()
CREATE FUNCTION privacy_guard.keyring_versions() RETURNS integer[]
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_keyring_versions';

-- COMMENT FUNCTION keyring_versions()
COMMENT ON FUNCTION privacy_guard.keyring_versions() IS 'the master key versions the keyring holds, ascending';

-- lift_lockdown(text) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.lift_lockdown(resolution text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    in_force boolean;
    incident bigint;
BEGIN
    LOCK TABLE privacy_guard.lockdown_turn IN EXCLUSIVE MODE;   -- one lockdown() or lift at a time
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
$$;

-- load_policy(jsonb) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.load_policy(doc jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "IntervalStyle" TO 'postgres'
    AS $$
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
    msg text;
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
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'categories') x LOOP
        nm := privacy_guard.policy_doc_entry(e, pth, 'a category', ARRAY['name', 'sensitivity', 'mask', 'description']);
        PERFORM privacy_guard.policy_doc_unique(cats, nm, pth, format('duplicate category "%s"', nm),
                                                'It is already defined at categories[%s].');
        cats := cats OPERATOR(pg_catalog.||) jsonb_build_object(nm, jsonb_build_object(
            'i', idx,
            'sensitivity', coalesce(privacy_guard.policy_doc_field(e, 'sensitivity', 'string', pth) OPERATOR(pg_catalog.#>>) '{}', 'personal'),
            'mask', coalesce(privacy_guard.policy_doc_field(e, 'mask', 'string', pth) OPERATOR(pg_catalog.#>>) '{}', 'redact'),
            'description', privacy_guard.policy_doc_field(e, 'description', 'string', pth, null_ok => true)));
    END LOOP;
    -- purposes and their allowances
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'purposes') x LOOP
        nm := privacy_guard.policy_doc_entry(e, pth, 'a purpose',
                                             ARRAY['name', 'parent', 'requires_consent', 'third_party', 'description', 'allow']);
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
        PERFORM privacy_guard.policy_doc_unique(purps, nm, pth, format('duplicate purpose "%s"', nm),
                                                'It is already defined at purposes[%s].');
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
        FOR jdx, apth, ae IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(e, 'allow', pth) x LOOP
            cat := privacy_guard.policy_doc_entry(ae, apth, 'an allowance', ARRAY['category', 'level']);
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
        IF NOT privacy_guard.policy_doc_has_purpose(purps, up) THEN
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
            IF NOT privacy_guard.policy_doc_has_purpose(purps, up) THEN
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
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'retention') x LOOP
        tbl_name := privacy_guard.policy_doc_entry(e, pth, 'a retention rule', ARRAY['table', 'time_column', 'keep', 'action']);
        relid := privacy_guard.policy_doc_table(tbl_name, pth);
        PERFORM privacy_guard.policy_doc_unique(rules, relid::text, pth, format('duplicate table "%s"', tbl_name),
                                                'Its rule is already at retention[%s].');
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
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'erasure_actions') x LOOP
        tbl_name := privacy_guard.policy_doc_entry(e, pth, 'an erasure action', ARRAY['table', 'action', 'subject_column']);
        relid := privacy_guard.policy_doc_table(tbl_name, pth);
        PERFORM privacy_guard.policy_doc_unique(acts, relid::text, pth, format('duplicate table "%s"', tbl_name),
                                                'Its action is already at erasure_actions[%s].');
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
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('categories[%s]', r.i),
                format('SELECT privacy_guard.define_category(%L, %L, %L, %L)', r.name, r.sensitivity, r.mask, r.description),
                'category ' OPERATOR(pg_catalog.||) r.name, r.cur IS NULL, added, changed);
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
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('purposes[%s]', r.i),
                format('SELECT privacy_guard.define_purpose(%L, %L, %L::boolean, %L::boolean, %L)',
                       r.name, r.parent, r.requires_consent, r.third_party, r.description),
                'purpose ' OPERATOR(pg_catalog.||) r.name, r.cur IS NULL, added, changed);
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
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('purposes[%s].allow[%s]', r.i, r.j),
                format('SELECT privacy_guard.allow(%L, %L, %L)', r.purpose, r.category, r.level),
                format('allowance %s: %s', r.purpose, r.category), r.cur IS NULL, added, changed);
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
        removed := removed OPERATOR(pg_catalog.||) privacy_guard.policy_doc_remove('purposes', 'purpose', purps, builtins);
        removed := removed OPERATOR(pg_catalog.||) privacy_guard.policy_doc_remove('categories', 'category', cats, '{}');
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
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('retention[%s]', r.i),
                format('SELECT privacy_guard.set_retention(%s::pg_catalog.oid::pg_catalog.regclass, %L, %L::pg_catalog.interval, %L)',
                       r.tbl, r.time_col, r.keep, r.action),
                'retention ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl), r.cur IS NULL, added, changed);
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
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('erasure_actions[%s]', r.i),
                format('SELECT privacy_guard.set_erasure_action(%s::pg_catalog.oid::pg_catalog.regclass, %L, %L)',
                       r.tbl, r.action, r.subject_col),
                'erasure action ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl), r.cur IS NULL, added, changed);
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
        PERFORM privacy_guard.audit_event_at_commit('policy_load', 'loaded',
            format('policy document loaded: %s changes; the policy is now sha256:%s', n,
                   encode(sha256(convert_to(privacy_guard.export_policy()::text, 'UTF8')), 'hex')), NULL);
    END IF;
    RETURN jsonb_build_object('changes', n,
        'added', to_jsonb(ARRAY(SELECT x FROM unnest(added) x ORDER BY x COLLATE "C")),
        'changed', to_jsonb(ARRAY(SELECT x FROM unnest(changed) x ORDER BY x COLLATE "C")),
        'removed', to_jsonb(ARRAY(SELECT x FROM unnest(removed) x ORDER BY x COLLATE "C")));
END
$$;

-- FUNCTION lock_relation(regclass, boolean, text)
CREATE FUNCTION privacy_guard.lock_relation(tbl regclass, exclusive boolean, caller text) RETURNS "char"
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_lock_relation';

-- COMMENT FUNCTION lock_relation(tbl regclass, exclusive boolean, caller text)
COMMENT ON FUNCTION privacy_guard.lock_relation(tbl regclass, exclusive boolean, caller text) IS 'lock a table the caller may read (or owns, to lock it exclusively), at READ COMMITTED; its kind as locked';

-- lockdown(text) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.lockdown(reason text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
    LOCK TABLE privacy_guard.lockdown_turn IN EXCLUSIVE MODE;
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
    -- The lockdown is in force already, and outlives a crash before this
    -- transaction commits; its record must too (the incident row would
    -- not: the incidents view shows such a lockdown without one).
    BEGIN
        PERFORM privacy_guard.audit_flush();
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'the lockdown is in force, but its audit record is not written yet'
            USING HINT = 'It is written when the audit writer catches up.';
    END;
    RETURN incident;
END
$$;

-- FUNCTION master_key_versions()
CREATE FUNCTION privacy_guard.master_key_versions(OUT master_version integer, OUT in_keyring boolean, OUT active boolean, OUT keys bigint, OUT check_recorded_at timestamp with time zone, OUT can_retire boolean) RETURNS SETOF record
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

-- COMMENT FUNCTION master_key_versions(OUT master_version integer, OUT in_keyring boolean, OUT active boolean, OUT keys bigint, OUT check_recorded_at timestamp with time zone, OUT can_retire boolean)
COMMENT ON FUNCTION privacy_guard.master_key_versions(OUT master_version integer, OUT in_keyring boolean, OUT active boolean, OUT keys bigint, OUT check_recorded_at timestamp with time zone, OUT can_retire boolean) IS 'each master key version: in the keyring, active, how many keys it still wraps, when its check value was recorded, whether its keyring line can be removed';

-- FUNCTION plaintext_of(privacy_guard.encrypted_bytea)
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_bytea) RETURNS bytea
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_plaintext_of_bytea';

-- COMMENT FUNCTION plaintext_of(value privacy_guard.encrypted_bytea)
COMMENT ON FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_bytea) IS 'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';

-- FUNCTION plaintext_of(privacy_guard.encrypted_date)
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_date) RETURNS date
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_plaintext_of_date';

-- COMMENT FUNCTION plaintext_of(value privacy_guard.encrypted_date)
COMMENT ON FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_date) IS 'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';

-- FUNCTION plaintext_of(privacy_guard.encrypted_jsonb)
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_jsonb) RETURNS jsonb
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_plaintext_of_jsonb';

-- COMMENT FUNCTION plaintext_of(value privacy_guard.encrypted_jsonb)
COMMENT ON FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_jsonb) IS 'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';

-- FUNCTION plaintext_of(privacy_guard.encrypted_numeric)
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_numeric) RETURNS numeric
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_plaintext_of_numeric';

-- COMMENT FUNCTION plaintext_of(value privacy_guard.encrypted_numeric)
COMMENT ON FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_numeric) IS 'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';

-- FUNCTION plaintext_of(privacy_guard.encrypted_text)
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_text) RETURNS text
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_plaintext_of_text';

-- COMMENT FUNCTION plaintext_of(value privacy_guard.encrypted_text)
COMMENT ON FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_text) IS 'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';

-- FUNCTION policy_doc_entries(jsonb, text, text)
CREATE FUNCTION privacy_guard.policy_doc_entries(obj jsonb, list text, path text DEFAULT NULL::text) RETURNS TABLE(i bigint, entry_path text, entry jsonb)
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT x.ordinality OPERATOR(pg_catalog.-) 1,
                 pg_catalog.format('%s[%s]', pg_catalog.concat_ws('.', path, list), x.ordinality OPERATOR(pg_catalog.-) 1),
                 x.value
            FROM pg_catalog.jsonb_array_elements(COALESCE(privacy_guard.policy_doc_field(obj, list, 'array',
                                                              COALESCE(path, 'policy document')), '[]')) WITH ORDINALITY x $$;

-- COMMENT FUNCTION policy_doc_entries(obj jsonb, list text, path text)
COMMENT ON FUNCTION privacy_guard.policy_doc_entries(obj jsonb, list text, path text) IS 'the entries of a list of a policy document, each with its index and path';

-- FUNCTION policy_doc_entry(jsonb, text, text, text[])
CREATE FUNCTION privacy_guard.policy_doc_entry(entry jsonb, path text, what text, keys text[]) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM privacy_guard.policy_doc_object(entry, path, what, keys);
    RETURN privacy_guard.policy_doc_field(entry, keys[1], 'string', path, required => true) OPERATOR(pg_catalog.#>>) '{}';
END
$$;

-- COMMENT FUNCTION policy_doc_entry(entry jsonb, path text, what text, keys text[])
COMMENT ON FUNCTION privacy_guard.policy_doc_entry(entry jsonb, path text, what text, keys text[]) IS 'check an entry of a list of a policy document and return the name its first key gives it';

-- FUNCTION policy_doc_has_purpose(jsonb, text)
CREATE FUNCTION privacy_guard.policy_doc_has_purpose(purposes jsonb, purpose text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT purposes OPERATOR(pg_catalog.?) purpose
                 OR (purpose OPERATOR(pg_catalog.=) ANY (privacy_guard.policy_doc_builtins())
                     AND EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) purpose)) $$;

-- COMMENT FUNCTION policy_doc_has_purpose(purposes jsonb, purpose text)
COMMENT ON FUNCTION privacy_guard.policy_doc_has_purpose(purposes jsonb, purpose text) IS 'whether a purpose a policy document names is one it defines or a built-in one';

-- FUNCTION policy_doc_if_none(jsonb, text)
CREATE FUNCTION privacy_guard.policy_doc_if_none(list jsonb, line text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT CASE WHEN pg_catalog.jsonb_array_length(list) OPERATOR(pg_catalog.=) 0 THEN ARRAY[line] ELSE '{}' END $$;

-- COMMENT FUNCTION policy_doc_if_none(list jsonb, line text)
COMMENT ON FUNCTION privacy_guard.policy_doc_if_none(list jsonb, line text) IS 'the line saying that a list of the record of processing activities is empty, when it is';

-- FUNCTION policy_doc_join(jsonb)
CREATE FUNCTION privacy_guard.policy_doc_join(list jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT pg_catalog.string_agg(z.value OPERATOR(pg_catalog.#>>) '{}', ', ') FROM pg_catalog.jsonb_array_elements(list) z $$;

-- COMMENT FUNCTION policy_doc_join(list jsonb)
COMMENT ON FUNCTION privacy_guard.policy_doc_join(list jsonb) IS 'the values of a JSON array as text, joined by commas';

-- FUNCTION policy_doc_remove(text, text, jsonb, text[])
CREATE FUNCTION privacy_guard.policy_doc_remove(list text, what text, keep jsonb, spare text[]) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    removed text[] := '{}';
    nm text;
    det text;
    tbl text;
BEGIN
    FOR nm IN EXECUTE format('DELETE FROM privacy_guard.%I x WHERE NOT $1 OPERATOR(pg_catalog.?) x.name '
                             'AND x.name OPERATOR(pg_catalog.<>) ALL ($2) RETURNING x.name', list)
              USING keep, spare LOOP
        removed := removed OPERATOR(pg_catalog.||) (what OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) nm);
    END LOOP;
    RETURN removed;
EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL, tbl = TABLE_NAME;
    PERFORM privacy_guard.policy_doc_error(list,
        format('a %s missing from the document is still referred to by privacy_guard.%s', what, tbl),
        '2BP01', format('Keep the %s in the document.', what), det);
END
$_$;

-- COMMENT FUNCTION policy_doc_remove(list text, what text, keep jsonb, spare text[])
COMMENT ON FUNCTION privacy_guard.policy_doc_remove(list text, what text, keep jsonb, spare text[]) IS 'remove the categories or purposes a policy document leaves out; one still in use names the list';

-- FUNCTION policy_doc_unique(jsonb, text, text, text, text)
CREATE FUNCTION privacy_guard.policy_doc_unique(seen jsonb, name text, path text, message text, hint text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF seen OPERATOR(pg_catalog.?) name THEN
        PERFORM privacy_guard.policy_doc_error(path, message, '22023',
                                               format(hint, seen OPERATOR(pg_catalog.#>>) ARRAY[name, 'i']));
    END IF;
END
$$;

-- COMMENT FUNCTION policy_doc_unique(seen jsonb, name text, path text, message text, hint text)
COMMENT ON FUNCTION privacy_guard.policy_doc_unique(seen jsonb, name text, path text, message text, hint text) IS 'refuse an entry of a policy document named as one before it, with a hint saying where that one is';

-- FUNCTION policy_doc_write(text, text, text, boolean, text[], text[])
CREATE FUNCTION privacy_guard.policy_doc_write(path text, statement text, entry text, is_new boolean, INOUT added text[], INOUT changed text[]) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM privacy_guard.policy_doc_run(path, statement);
    IF is_new THEN
        added := added OPERATOR(pg_catalog.||) entry;
    ELSE
        changed := changed OPERATOR(pg_catalog.||) entry;
    END IF;
END
$$;

-- COMMENT FUNCTION policy_doc_write(path text, statement text, entry text, is_new boolean, INOUT added text[], INOUT changed text[])
COMMENT ON FUNCTION privacy_guard.policy_doc_write(path text, statement text, entry text, is_new boolean, INOUT added text[], INOUT changed text[]) IS 'run one write of load_policy() and note the entry it added or changed';

-- FUNCTION policy_references()
CREATE FUNCTION privacy_guard.policy_references() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

-- COMMENT FUNCTION policy_references()
COMMENT ON FUNCTION privacy_guard.policy_references() IS 'trigger: a purpose or category that goes takes its allowances and grants along; one still in use stays';

-- FUNCTION policy_referrer(text, text)
CREATE FUNCTION privacy_guard.policy_referrer(what text, name text) RETURNS text
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_policy_referrer';

-- COMMENT FUNCTION policy_referrer(what text, name text)
COMMENT ON FUNCTION privacy_guard.policy_referrer(what text, name text) IS 'the catalog table still referring to a purpose or category, read with the latest snapshot (as a foreign key checks)';

-- process_erasures() (changed)
CREATE OR REPLACE FUNCTION privacy_guard.process_erasures() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET row_security TO 'off'
    SET lock_timeout TO '10s'
    AS $_$
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
    state text;
    why text;           -- our own reason for a failure, which quotes no value
    at_table regclass;  -- the table being worked on when a failure came
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
    PERFORM privacy_guard.progress_begin('process_erasures', 'erasing subjects', NULL,
        (SELECT pg_catalog.count(*) FROM privacy_guard.erasures e WHERE e.completed_at IS NULL));
    FOR r IN SELECT e.id, e.subject, e.requested_at, e.due_at FROM privacy_guard.erasures e
              WHERE e.completed_at IS NULL ORDER BY e.id FOR UPDATE SKIP LOCKED LOOP
        why := NULL;
        at_table := NULL;
        BEGIN
            -- 0. no new rows while we erase: writers in flight commit first
            -- (their rows are erased too); later ones wait, then find the
            -- subject erased and fail.  A writer holding its transaction
            -- open past lock_timeout fails this request, not the run.
            FOR u IN SELECT DISTINCT x.tbl FROM jsonb_to_recordset(units) AS x(tbl oid) ORDER BY x.tbl LOOP
                at_table := u.tbl;
                EXECUTE format('LOCK TABLE ONLY %s IN SHARE ROW EXCLUSIVE MODE', u.tbl::regclass);
            END LOOP;
            at_table := NULL;
            -- the attempt is recorded now; its completion only if it commits
            PERFORM privacy_guard.audit_event('erasure', 'started', format('erasure request %s', r.id), r.subject);
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
                at_table := u.tbl;
                IF u.subject_type IS NULL THEN
                    why := format('subject column "%s" of relation %s no longer exists', u.subject_col, u.tbl::regclass);
                    RAISE EXCEPTION '%', why
                        USING ERRCODE = 'undefined_column',
                              HINT = 'Protect the table''s columns again, or set its erasure action with its new subject column.';
                END IF;
                CONTINUE WHEN NOT privacy_guard.subject_fits(r.subject, u.subject_type);
                -- a table without rows of the subject is left alone: its owner's
                -- statement triggers, broken or hostile, fail only its own
                -- subjects' erasures
                CONTINUE WHEN NOT privacy_guard.subject_has_rows(u.tbl, u.subject_col, u.subject_type, r.subject);
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
                -- the owner's BEFORE row trigger may have skipped rows (returned
                -- NULL): none of the subject's may remain, nor carry its link
                IF privacy_guard.subject_has_rows(u.tbl, u.subject_col, u.subject_type, r.subject) THEN
                    why := format('rows of the subject remain in relation %s after the erasure''s %s',
                                  u.tbl::regclass, CASE WHEN u.action = 'delete' THEN 'DELETE' ELSE 'UPDATE' END);
                    RAISE EXCEPTION '%', why
                        USING ERRCODE = 'triggered_action_exception',
                              HINT = 'A BEFORE row trigger of the table may skip them by returning NULL; '
                                     'let it pass the erasure''s statement.';
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
            PERFORM privacy_guard.audit_event_at_commit('erasure', 'completed',
                format('erasure request %s: data key %s %s, %s rows in %s tables; certificate sha256:%s',
                       r.id, key_id, CASE WHEN had_key THEN 'destroyed' ELSE 'never existed' END,
                       total, jsonb_array_length(tables), digest), r.subject);
            done := done + 1;
        EXCEPTION WHEN OTHERS THEN
            -- what went wrong, in our words: an error's message may quote a
            -- value of the table, or text its owner's trigger chose, and
            -- this goes to the erasures table, the audit trail and the log
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
            why := state || ': ' || coalesce(why,
                CASE WHEN state = '55P03' THEN format('relation %s is locked by a transaction that stays open', at_table)
                     WHEN at_table IS NOT NULL THEN format('error in relation %s (its message is not kept: it may quote the table''s data)', at_table)
                     ELSE 'error (its message is not kept: it may quote data)' END);
            UPDATE privacy_guard.erasures e SET attempts = e.attempts + 1, last_error = why
             WHERE e.id = r.id;
            PERFORM privacy_guard.audit_event('erasure', 'failed', format('erasure request %s: %s', r.id, why), r.subject);
            RAISE WARNING 'erasure request % failed: %', r.id, why
                USING HINT = 'Nothing of this request was applied; fix the cause and run process_erasures() again.';
        END;
        PERFORM privacy_guard.progress_add(1);
    END LOOP;
    PERFORM privacy_guard.progress_end();
    RETURN done;
END
$_$;

-- processing_record() (changed)
CREATE OR REPLACE FUNCTION privacy_guard.processing_record() RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "IntervalStyle" TO 'postgres'
    SET jit TO 'off'
    AS $$
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
                      p.searchable, p.tbl
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
                'algorithm', 'HMAC-SHA256, first 128 bits, carried in each value''s authenticated envelope',
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
$$;

-- processing_record_text() (changed)
CREATE OR REPLACE FUNCTION privacy_guard.processing_record_text() RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
        lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(p OPERATOR(pg_catalog.->) 'categories', '  categories: none');
        FOR q IN SELECT z.value FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'roles') z LOOP
            lines := lines OPERATOR(pg_catalog.||) format('  role %s: granted %s, %s member role%s', q OPERATOR(pg_catalog.->>) 'role',
                q OPERATOR(pg_catalog.->>) 'granted', q OPERATOR(pg_catalog.->>) 'members',
                CASE WHEN q OPERATOR(pg_catalog.->>) 'members' OPERATOR(pg_catalog.=) '1' THEN '' ELSE 's' END);
        END LOOP;
        lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(p OPERATOR(pg_catalog.->) 'roles', '  roles: none');
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'CATEGORIES OF PERSONAL DATA'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'categories') z LOOP
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            format('category %s%s', p OPERATOR(pg_catalog.->>) 'name', ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description')),
            '  sensitivity: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'sensitivity'),
            '  masked as: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'mask'),
            '  stored in: ' OPERATOR(pg_catalog.||)
                coalesce(privacy_guard.policy_doc_join(p OPERATOR(pg_catalog.->) 'stored_in'), 'no protected column')];
        SELECT string_agg(format('%s (%s)', z.value OPERATOR(pg_catalog.->>) 'purpose', z.value OPERATOR(pg_catalog.->>) 'level'), ', ')
          INTO lst FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'purposes') z;
        lines := lines OPERATOR(pg_catalog.||) ('  used for: ' OPERATOR(pg_catalog.||) coalesce(lst, 'no purpose'));
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'PROHIBITED CATEGORIES (never collected)'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'prohibited_categories') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('category %s%s', p OPERATOR(pg_catalog.->>) 'name',
                                                      ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description'));
        lst := privacy_guard.policy_doc_join(p OPERATOR(pg_catalog.->) 'stored_in');
        IF lst IS NOT NULL THEN
            lines := lines OPERATOR(pg_catalog.||) ('  NEVERTHELESS STORED IN: ' OPERATOR(pg_catalog.||) lst);
        END IF;
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(rec OPERATOR(pg_catalog.->) 'prohibited_categories', 'none declared');
    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'TRANSFERS TO THIRD PARTIES'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'third_party_recipients') z LOOP
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            format('purpose %s%s', p OPERATOR(pg_catalog.->>) 'purpose', ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description')),
            '  only with the data subject''s consent: yes',
            '  categories: ' OPERATOR(pg_catalog.||) coalesce(privacy_guard.policy_doc_join(p OPERATOR(pg_catalog.->) 'categories'), 'none')];
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(rec OPERATOR(pg_catalog.->) 'third_party_recipients',
                                                                           'none: no purpose transfers data to a third party');
    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'RETENTION'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'retention') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('table %s: rows kept %s after %s, then %s', p OPERATOR(pg_catalog.->>) 'table',
            p OPERATOR(pg_catalog.->>) 'keep', p OPERATOR(pg_catalog.->>) 'time_column',
            CASE p OPERATOR(pg_catalog.->>) 'action' WHEN 'delete' THEN 'deleted' ELSE 'anonymised' END);
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(rec OPERATOR(pg_catalog.->) 'retention', 'no retention rule');
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
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        format('key wrapping: %s under the master key; versions in use: %s', t OPERATOR(pg_catalog.#>>) '{key_wrapping,cipher}',
               coalesce(privacy_guard.policy_doc_join(t OPERATOR(pg_catalog.#>) '{key_wrapping,master_key_versions_in_use}'), 'none yet')),
        'master keys: ' OPERATOR(pg_catalog.||) (t OPERATOR(pg_catalog.#>>) '{key_wrapping,keyring}')];
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        format('blind indexes (%s): %s', t OPERATOR(pg_catalog.#>>) '{blind_indexes,algorithm}',
               coalesce(privacy_guard.policy_doc_join(t OPERATOR(pg_catalog.#>) '{blind_indexes,columns}'), 'none')),
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
$$;

-- FUNCTION progress_add(bigint)
CREATE FUNCTION privacy_guard.progress_add(n bigint) RETURNS void
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_progress_add';

-- COMMENT FUNCTION progress_add(n bigint)
COMMENT ON FUNCTION privacy_guard.progress_add(n bigint) IS 'this backend''s long work did n more units';

-- FUNCTION progress_begin(text, text, regclass, bigint)
CREATE FUNCTION privacy_guard.progress_begin(operation text, phase text, tbl regclass, total bigint) RETURNS void
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_progress_begin';

-- COMMENT FUNCTION progress_begin(operation text, phase text, tbl regclass, total bigint)
COMMENT ON FUNCTION privacy_guard.progress_begin(operation text, phase text, tbl regclass, total bigint) IS 'this backend''s long work begins (privacy_guard.progress shows it)';

-- FUNCTION progress_end()
CREATE FUNCTION privacy_guard.progress_end() RETURNS void
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_progress_end';

-- COMMENT FUNCTION progress_end()
COMMENT ON FUNCTION privacy_guard.progress_end() IS 'this backend''s long work ended';

-- FUNCTION progress_phase(text, bigint)
CREATE FUNCTION privacy_guard.progress_phase(phase text, total bigint) RETURNS void
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_progress_phase';

-- COMMENT FUNCTION progress_phase(phase text, total bigint)
COMMENT ON FUNCTION privacy_guard.progress_phase(phase text, total bigint) IS 'this backend''s long work enters a phase (total NULL: the counts stay)';

-- FUNCTION progress_report()
CREATE FUNCTION privacy_guard.progress_report(OUT pid integer, OUT datid oid, OUT usesysid oid, OUT operation text, OUT phase text, OUT relid oid, OUT done bigint, OUT total bigint, OUT started timestamp with time zone, OUT updated timestamp with time zone) RETURNS SETOF record
    LANGUAGE c PARALLEL RESTRICTED
    AS '$libdir/privacy_guard', 'pguard_progress_report';

-- COMMENT FUNCTION progress_report(OUT pid integer, OUT datid oid, OUT usesysid oid, OUT operation text, OUT phase text, OUT relid oid, OUT done bigint, OUT total bigint, OUT started timestamp with time zone, OUT updated timestamp with time zone)
COMMENT ON FUNCTION privacy_guard.progress_report(OUT pid integer, OUT datid oid, OUT usesysid oid, OUT operation text, OUT phase text, OUT relid oid, OUT done bigint, OUT total bigint, OUT started timestamp with time zone, OUT updated timestamp with time zone) IS 'long work under way in each backend: the caller''s roles'', or everyone''s for pg_read_all_stats';

-- protect(regclass, name, text, name, boolean) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.protect(tbl regclass, col name, category text, subject_col name, searchable boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    rel record;
    att record;
    subj record;
    idx record;
    enc_type text;
    plain_type text;
    names text;
    col_indexes oid[];
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
    -- Locked before it is looked at, until the rewrite: its owner cannot
    -- retype a column (whose cast the rewrite would run with the caller's
    -- rights) or add an inheritance child between the checks and the ALTERs.
    PERFORM privacy_guard.lock_relation(tbl, true, 'protect');
    -- The ALTERs would reach inheritance children, and check their
    -- constraints with the caller's rights; and a child's rows would be
    -- written past the parent's sealing trigger.
    IF EXISTS (SELECT FROM pg_inherits i
                WHERE i.inhparent OPERATOR(pg_catalog.=) tbl OR i.inhrelid OPERATOR(pg_catalog.=) tbl) THEN
        RAISE EXCEPTION 'cannot protect a column of relation %: it is part of an inheritance tree', tbl
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Protect tables that have no inheritance parents or children.';
    END IF;
    -- A rule rewrites the application's writes before any trigger sees them
    -- (and could send their plaintext to a column of another category).
    IF EXISTS (SELECT FROM pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) tbl) THEN
        RAISE EXCEPTION 'cannot protect a column of relation %: it has rules', tbl
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the rules first; the guard refuses new ones on a table with protected columns.';
    END IF;
    PERFORM privacy_guard.check_policies(tbl);
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
                  HINT = 'protect() adds the constraint <column>_sealed; rename the column to 56 bytes or fewer.';
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
    IF privacy_guard.subject_cast(subj.atttypid) IS NULL THEN
        RAISE EXCEPTION 'subject column "%" of relation % has type %', subject_col, tbl, format_type(subj.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'A subject column is text, varchar, char, smallint, integer, bigint or uuid: an id, not personal data.';
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
    -- Indexes and UNIQUE constraints of a searchable column are rebuilt on
    -- its search terms (the column's default operator class); otherwise
    -- they refuse.
    SELECT array_agg(i.indexrelid) INTO col_indexes
      FROM pg_index i
     WHERE i.indrelid OPERATOR(pg_catalog.=) tbl
       AND (att.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::int2[])
            OR EXISTS (SELECT FROM pg_depend d
                        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass
                          AND d.objid OPERATOR(pg_catalog.=) i.indexrelid
                          AND d.refobjid OPERATOR(pg_catalog.=) tbl
                          AND d.refobjsubid OPERATOR(pg_catalog.=) att.attnum));
    SELECT string_agg(x::regclass::text, ', ' ORDER BY n) INTO names FROM unnest(col_indexes) WITH ORDINALITY u(x, n);
    IF names IS NOT NULL AND NOT searchable THEN
        RAISE EXCEPTION 'cannot protect column "%" of relation %: indexes % depend on it', col, tbl, names
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = format('Pass searchable => true to keep %s on the column''s search terms, or drop them first.', names);
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
         WHERE i.indexrelid OPERATOR(pg_catalog.=) ANY (col_indexes)
    LOOP
        IF idx.indisprimary OR idx.indnatts OPERATOR(pg_catalog.<>) 1 OR idx.complex
           OR idx.amname NOT IN ('btree', 'hash') OR idx.contype IN ('x') THEN
            RAISE EXCEPTION 'cannot keep index "%" of column "%" on its search terms', idx.idxname, col
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'Only single-column btree or hash indexes and UNIQUE constraints are kept (as btree); drop this one first.';
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
    -- One rewrite: seal every row (with its search term when searchable)
    -- and add the CHECK that refuses unsealed writes.  The table gets a new
    -- file; the old one, with the plaintext, is dropped at commit.
    -- privacy_guard.progress counts the values sealed.
    PERFORM privacy_guard.progress_begin('protect', 'sealing values', tbl,
        (SELECT CASE WHEN c.reltuples OPERATOR(pg_catalog.>=) 0 THEN c.reltuples::bigint END
           FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl));
    IF searchable THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE privacy_guard.encrypted_text '
                       'USING privacy_guard.seal_searchable(%I::text, %L, %I::text), '
                       'ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text, true))',
                       tbl, col, col, category, subject_col,
                       col || '_sealed', col, category, subject_col);
    ELSE
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE privacy_guard.%I USING privacy_guard.seal(%I::%s, %L, %I::text), '
                       'ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text))',
                       tbl, col, enc_type, col, plain_type, category, subject_col,
                       col || '_sealed', col, category, subject_col);
    END IF;
    PERFORM privacy_guard.progress_phase('recreating indexes and triggers', NULL);
    -- Record it (checks ownership and the category) and get the trigger's arguments.
    trig_args := privacy_guard.register_protection(tbl, col, category, subject_col, searchable);
    -- The column's indexes and UNIQUE constraints, back under their names,
    -- on its search terms; a searchable column gets an index in any case.
    IF searchable THEN
        FOR m IN SELECT e FROM jsonb_array_elements(moved) AS e LOOP
            IF m->>'contype' IS NOT DISTINCT FROM 'u' THEN
                EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (%I)', tbl, m->>'conname', col);
            ELSE
                EXECUTE format('CREATE %s INDEX %I ON %s USING btree (%I)',
                               CASE WHEN (m->>'unique')::boolean THEN 'UNIQUE' ELSE '' END,
                               m->>'idxname', tbl, col);
            END IF;
        END LOOP;
        IF jsonb_array_length(moved) OPERATOR(pg_catalog.=) 0 THEN
            EXECUTE format('CREATE INDEX ON %s (%I)', tbl, col);
        END IF;
    END IF;
    -- Two triggers per table, each listing every protected column, as the
    -- catalog describes them (the guard lets them replace their
    -- predecessors).  BEFORE row triggers run in name order.  The binding
    -- trigger runs first: it binds the plaintext the statement wrote to its
    -- column's category before any other trigger sees it, so that none can
    -- move it into a column of another category.  The sealing trigger runs
    -- last, where no other can change the values it wrote.
    SELECT string_agg(pg_catalog.quote_ident(t.tgname), ', ' ORDER BY t.tgname) INTO names
      FROM pg_trigger t
     WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND NOT t.tgisinternal
       AND (t.tgname OPERATOR(pg_catalog.>) 'zz_privacy_guard_seal'::name
            OR t.tgname OPERATOR(pg_catalog.<) '!privacy_guard_bind'::name)
       AND (t.tgtype::int4 OPERATOR(pg_catalog.&) 3) OPERATOR(pg_catalog.=) 3       -- ROW, BEFORE
       AND (t.tgtype::int4 OPERATOR(pg_catalog.&) 20) OPERATOR(pg_catalog.<>) 0;    -- INSERT or UPDATE
    IF names IS NOT NULL THEN
        RAISE EXCEPTION 'cannot protect a column of relation %: triggers % would run before the binding trigger or after the sealing trigger', tbl, names
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'BEFORE row triggers run in name order; rename them to sort between "!privacy_guard_bind" and zz_privacy_guard_seal.';
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', '!privacy_guard_bind', tbl, trig_args);
    EXECUTE format('CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', tbl, trig_args);
    -- Erasure finds a subject's rows through an index on the subject column.
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
                    JOIN pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam
                    WHERE i.indrelid OPERATOR(pg_catalog.=) tbl AND i.indkey[0] OPERATOR(pg_catalog.=) subj.attnum
                      AND i.indpred IS NULL AND am.amname IN ('btree', 'hash')) THEN
        EXECUTE format('CREATE INDEX ON %s (%I)', tbl, subject_col);
    END IF;
    PERFORM privacy_guard.progress_end();
END
$$;

-- COMMENT FUNCTION pseudonym_for(subject text, typ regtype, scope text)
COMMENT ON FUNCTION privacy_guard.pseudonym_for(subject text, typ regtype, scope text) IS 'the pseudonym replacing an anonymised row''s subject link, as text of the link''s type';

-- COMMENT FUNCTION pseudonym_test(col name, typ regtype)
COMMENT ON FUNCTION privacy_guard.pseudonym_test(col name, typ regtype) IS 'SQL true for a subject link already replaced by a pseudonym';

-- FUNCTION register_protection(regclass, name, text, name, boolean)
CREATE FUNCTION privacy_guard.register_protection(tbl regclass, col name, category text, subject_col name, searchable boolean) RETURNS text
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_register_protection';

-- COMMENT FUNCTION register_protection(tbl regclass, col name, category text, subject_col name, searchable boolean)
COMMENT ON FUNCTION privacy_guard.register_protection(tbl regclass, col name, category text, subject_col name, searchable boolean) IS 'protect()''s catalog step: checks the caller owns the table, records the column, returns the trigger arguments';

-- request_erasure(text, text) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.request_erasure(subject text, reason text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
    -- one open request per subject (the unique index erasures_pending
    -- decides between concurrent ones: no lock another role could hold);
    -- an erased subject stays erased
    SELECT e.id, e.completed_at, e.due_at INTO req FROM privacy_guard.erasures e
     WHERE e.subject = request_erasure.subject ORDER BY e.completed_at IS NULL DESC, e.id DESC LIMIT 1;
    IF FOUND AND req.completed_at IS NULL THEN
        RAISE NOTICE 'this subject already has a pending erasure request, %', req.id;
        RETURN req.id;
    END IF;
    IF FOUND AND EXISTS (SELECT FROM privacy_guard.keys k WHERE k.kind = 'subject' AND k.name = request_erasure.subject
                                                         AND k.erased_at IS NOT NULL) THEN
        RAISE NOTICE 'this subject was already erased, by request %', req.id;
        RETURN req.id;
    END IF;
    -- the subject must be one the database holds data on, written as its
    -- column renders it: a request for '042' must not be certified while
    -- customer 42 stays
    IF NOT EXISTS (SELECT FROM privacy_guard.keys k WHERE k.kind = 'subject' AND k.name = request_erasure.subject) THEN
        held := false;
        FOR u IN SELECT * FROM privacy_guard.erasure_units() x WHERE x.subject_type IS NOT NULL LOOP
            CONTINUE WHEN NOT privacy_guard.subject_fits(subject, u.subject_type);
            held := privacy_guard.subject_has_rows(u.tbl, u.subject_col, u.subject_type, subject);
            EXIT WHEN held;
        END LOOP;
        IF NOT held THEN
            RAISE EXCEPTION 'no data is held on this subject'
                USING ERRCODE = 'no_data_found',
                      HINT = 'Write the subject as its column renders it (column::text): 42, not 042; a uuid in lower case.';
        END IF;
    END IF;
    due := now() + coalesce((SELECT s.value::interval FROM privacy_guard.policy_settings s
                              WHERE s.setting = 'erasure_deadline'), '30 days');
    INSERT INTO privacy_guard.erasures AS e (subject, reason, requested_by, due_at)
    VALUES (request_erasure.subject, request_erasure.reason, session_user, due)
    ON CONFLICT DO NOTHING              -- erasures_pending: a concurrent request won
    RETURNING e.id INTO id;
    IF id IS NULL THEN
        SELECT e.id INTO id FROM privacy_guard.erasures e
         WHERE e.subject = request_erasure.subject AND e.completed_at IS NULL;
        RAISE NOTICE 'this subject already has a pending erasure request, %', id;
        RETURN id;
    END IF;
    PERFORM privacy_guard.audit_event('erasure_request', 'requested',
                                      format('erasure request %s, due %s', id, due), subject);
    RETURN id;
END
$$;

-- COMMENT FUNCTION require_anonymisable(tbl regclass, subject_col name)
COMMENT ON FUNCTION privacy_guard.require_anonymisable(tbl regclass, subject_col name) IS 'refuses, saying why, a subject link whose rows cannot be anonymised';

-- FUNCTION rotate_search_key(text)
CREATE FUNCTION privacy_guard.rotate_search_key(category text) RETURNS bigint
    LANGUAGE c SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS '$libdir/privacy_guard', 'pguard_rotate_search_key';

-- COMMENT FUNCTION rotate_search_key(category text)
COMMENT ON FUNCTION privacy_guard.rotate_search_key(category text) IS 're-seal a category''s searchable values with terms under a new search key and delete the old one; returns how many values';

-- scan(integer) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.scan(sample_rows integer DEFAULT 1000) RETURNS TABLE(tbl regclass, col name, suspected text, hits integer, sampled integer, protected boolean)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET lock_timeout TO '2s'
    SET row_security TO 'off'
    AS $$
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
    kind "char";
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
        -- locked before it is looked at: its owner cannot make it a view, or
        -- retype a column, between the look and the sampling
        BEGIN
            kind := privacy_guard.lock_relation(rel.relid, false, 'scan');
        EXCEPTION WHEN lock_not_available OR undefined_table OR insufficient_privilege THEN
            -- insufficient_privilege: planning a query of it would run code
            -- another role wrote (an index's expression), with our rights
            n_failed := n_failed + 1;
            CONTINUE;
        END;
        IF kind IS DISTINCT FROM 'r' AND kind IS DISTINCT FROM 'm' THEN
            n_failed := n_failed + 1;
            CONTINUE;
        END IF;
        names := '{}';
        prot := '{}';
        scanned := '{}';
        sel := '';
        vals := '(0, '''')';                    -- k = 0: one value per row read
        FOR att IN
            SELECT a.attname,
                   a.atttypid::regtype = ANY (privacy_guard.encrypted_types())
                   OR EXISTS (SELECT FROM privacy_guard.protected_columns p
                               WHERE p.table_schema = rel.nspname AND p.table_name = rel.relname
                                 AND a.attname = p.column_name) AS is_protected,
                   b.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'int8'::regtype,
                             'numeric'::regtype)
                   -- citext: a base type (its I/O is C a superuser installed) whose cast
                   -- to text runs no function (binary-coercible casts are a superuser's too);
                   -- not any type of that name
                   OR (b.typname = 'citext' AND b.typtype = 'b'
                       AND EXISTS (SELECT FROM pg_cast k
                                    WHERE k.castsource = b.oid AND k.casttarget = 'text'::regtype
                                      AND k.castmethod = 'b')) AS sample_values
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
        RAISE NOTICE 'scan skipped tables that were locked, dropped or altered meanwhile, refused by row security, or whose indexes, statistics or constraints run code another role wrote: %', n_failed;
    END IF;
    PERFORM privacy_guard.scan_audit(sample_rows, n_tables, n_unreadable + n_failed, n_findings, n_unprotected);
END
$$;

-- COMMENT FUNCTION seal_row() (changed)
COMMENT ON FUNCTION privacy_guard.seal_row() IS 'BEFORE ROW trigger: seals plaintext written to protected columns, with search terms where searchable';

-- FUNCTION seal_searchable(text, text, text)
CREATE FUNCTION privacy_guard.seal_searchable(value text, category text, subject text) RETURNS privacy_guard.encrypted_text
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_seal_searchable';

-- COMMENT FUNCTION seal_searchable(value text, category text, subject text)
COMMENT ON FUNCTION privacy_guard.seal_searchable(value text, category text, subject text) IS 'seal a value with its search term, as protect() seals a searchable column''s rows';

-- FUNCTION sealed_only(privacy_guard.encrypted_bytea, text)
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_bytea, target text) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_sealed_only';

-- COMMENT FUNCTION sealed_only(value privacy_guard.encrypted_bytea, target text)
COMMENT ON FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_bytea, target text) IS 'the value if sealed; an unsealed value is refused (written where nothing seals it)';

-- FUNCTION sealed_only(privacy_guard.encrypted_date, text)
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_date, target text) RETURNS privacy_guard.encrypted_date
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_sealed_only';

-- COMMENT FUNCTION sealed_only(value privacy_guard.encrypted_date, target text)
COMMENT ON FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_date, target text) IS 'the value if sealed; an unsealed value is refused (written where nothing seals it)';

-- FUNCTION sealed_only(privacy_guard.encrypted_jsonb, text)
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_jsonb, target text) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_sealed_only';

-- COMMENT FUNCTION sealed_only(value privacy_guard.encrypted_jsonb, target text)
COMMENT ON FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_jsonb, target text) IS 'the value if sealed; an unsealed value is refused (written where nothing seals it)';

-- FUNCTION sealed_only(privacy_guard.encrypted_numeric, text)
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_numeric, target text) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_sealed_only';

-- COMMENT FUNCTION sealed_only(value privacy_guard.encrypted_numeric, target text)
COMMENT ON FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_numeric, target text) IS 'the value if sealed; an unsealed value is refused (written where nothing seals it)';

-- FUNCTION sealed_only(privacy_guard.encrypted_text, text)
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_text, target text) RETURNS privacy_guard.encrypted_text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS '$libdir/privacy_guard', 'pguard_sealed_only';

-- COMMENT FUNCTION sealed_only(value privacy_guard.encrypted_text, target text)
COMMENT ON FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_text, target text) IS 'the value if sealed; an unsealed value is refused (written where nothing seals it)';

-- set_erasure_action(regclass, text, name) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.set_erasure_action(tbl regclass, action text, subject_col name DEFAULT NULL::name) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
    -- a generated column goes with what it is computed from (DROP FUNCTION
    -- ... CASCADE), unseen by the guard, and anonymise cannot set it
    IF subject_col IS NOT NULL AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = tbl
                                              AND a.attname = set_erasure_action.subject_col AND a.attgenerated <> '') THEN
        RAISE EXCEPTION 'subject column "%" of relation % is a generated column', subject_col, tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name a stored column that holds the data subject''s id.';
    END IF;
    -- a subject is one exact string: equal under a collation is not the same subject
    IF subject_col IS NOT NULL AND EXISTS (SELECT FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
                                            WHERE a.attrelid = tbl AND a.attname = set_erasure_action.subject_col
                                              AND NOT c.collisdeterministic) THEN
        RAISE EXCEPTION 'subject column "%" of relation % has a nondeterministic collation', subject_col, tbl
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Erasure would take rows of subjects that are only equal under it ("hal" and "HAL") for one subject''s.',
                  HINT = 'Give the subject column a deterministic collation, such as COLLATE "C".';
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
$$;

-- FUNCTION subject_cast(regtype)
CREATE FUNCTION privacy_guard.subject_cast(typ regtype) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT CASE typ WHEN 'text'::regtype THEN 'pg_catalog.text' WHEN 'varchar'::regtype THEN 'pg_catalog.varchar'
                    WHEN 'bpchar'::regtype THEN 'pg_catalog.bpchar' WHEN 'int2'::regtype THEN 'pg_catalog.int2'
                    WHEN 'int4'::regtype THEN 'pg_catalog.int4' WHEN 'int8'::regtype THEN 'pg_catalog.int8'
                    WHEN 'uuid'::regtype THEN 'pg_catalog.uuid' END
$$;

-- COMMENT FUNCTION subject_cast(typ regtype)
COMMENT ON FUNCTION privacy_guard.subject_cast(typ regtype) IS 'the cast, without length modifier, that turns a subject into a value of a subject column''s type; NULL for other types';

-- subject_export(text) (changed)
CREATE OR REPLACE FUNCTION privacy_guard.subject_export(subject text) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET row_security TO 'off'
    AS $_$
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
$_$;

-- COMMENT FUNCTION subject_fits(subject text, typ regtype)
COMMENT ON FUNCTION privacy_guard.subject_fits(subject text, typ regtype) IS 'whether a subject, as text, survives a round trip through a subject column''s type unchanged';

-- FUNCTION subject_has_rows(oid, name, regtype, text)
CREATE FUNCTION privacy_guard.subject_has_rows(tbl oid, subject_col name, subject_type regtype, subject text) RETURNS boolean
    LANGUAGE c STRICT
    AS '$libdir/privacy_guard', 'pguard_subject_has_rows';

-- COMMENT FUNCTION subject_has_rows(tbl oid, subject_col name, subject_type regtype, subject text)
COMMENT ON FUNCTION privacy_guard.subject_has_rows(tbl oid, subject_col name, subject_type regtype, subject text) IS 'whether a table holds rows of a subject, read without running any of its owner''s code';

-- FUNCTION unprotect(regclass, name, boolean)
CREATE FUNCTION privacy_guard.unprotect(tbl regclass, col name, to_plaintext boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    rel record;
    r record;
    plain_type text;
    category text;
BEGIN
    IF tbl IS NULL OR col IS NULL OR to_plaintext IS NULL THEN
        RAISE EXCEPTION 'unprotect() needs a table and a column' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_plaintext AND NOT (SELECT ro.rolsuper FROM pg_catalog.pg_roles ro WHERE ro.rolname OPERATOR(pg_catalog.=) current_user) THEN
        RAISE EXCEPTION 'only a superuser may turn a protected column back into plaintext'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Every value of the column would be decrypted, whatever the purposes allow.',
                  HINT = 'Call privacy_guard.unprotect() without to_plaintext to remove the protection only.';
    END IF;
    SELECT c.relkind, c.relowner INTO rel FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
    IF rel.relkind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION '"%" is not an ordinary table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- held until commit: no write lands between this and what the owner
    -- does next in the same transaction (retype or drop the column)
    PERFORM privacy_guard.lock_relation(tbl, true, 'unprotect');
    IF to_plaintext THEN
        SELECT CASE a.atttypid
                 WHEN 'privacy_guard.encrypted_text'::pg_catalog.regtype THEN 'text'
                 WHEN 'privacy_guard.encrypted_jsonb'::pg_catalog.regtype THEN 'jsonb'
                 WHEN 'privacy_guard.encrypted_date'::pg_catalog.regtype THEN 'date'
                 WHEN 'privacy_guard.encrypted_numeric'::pg_catalog.regtype THEN 'numeric'
                 WHEN 'privacy_guard.encrypted_bytea'::pg_catalog.regtype THEN 'bytea' END,
               p.category
          INTO plain_type, category
          FROM pg_catalog.pg_attribute a
          JOIN privacy_guard.column_protection p
            ON p.tbl OPERATOR(pg_catalog.=) a.attrelid AND p.col OPERATOR(pg_catalog.=) a.attname
         WHERE a.attrelid OPERATOR(pg_catalog.=) unprotect.tbl AND a.attname OPERATOR(pg_catalog.=) unprotect.col
           AND NOT a.attisdropped;
        IF plain_type IS NULL THEN
            RAISE EXCEPTION 'column "%" of relation % is not protected', col, tbl
                USING ERRCODE = 'undefined_column',
                      HINT = 'privacy_guard.protected_columns lists the protected columns.';
        END IF;
    END IF;
    r := privacy_guard.unregister_protection(tbl, col);
    IF NOT r.protected THEN
        RETURN;         -- erasure's subject column: nothing else to undo
    END IF;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', tbl, col || '_sealed');
    IF r.trigger_args OPERATOR(pg_catalog.<>) '' THEN
        EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', '!privacy_guard_bind', tbl, r.trigger_args);
        EXECUTE format('CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', tbl, r.trigger_args);
    ELSE
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', '!privacy_guard_bind', tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS zz_privacy_guard_seal ON %s', tbl);
    END IF;
    IF to_plaintext THEN
        PERFORM privacy_guard.begin_plaintext(tbl, col);
        PERFORM privacy_guard.run_as_owner(tbl,
            format('ALTER TABLE %s ALTER COLUMN %I TYPE pg_catalog.%I USING privacy_guard.plaintext_of(%I)',
                   tbl, col, plain_type, col), NULL);
        PERFORM privacy_guard.end_plaintext(tbl, col, category);
    END IF;
END
$$;

-- COMMENT FUNCTION unprotect(tbl regclass, col name, to_plaintext boolean)
COMMENT ON FUNCTION privacy_guard.unprotect(tbl regclass, col name, to_plaintext boolean) IS 'remove a column''s protection (CHECK, trigger entry), audited; the column keeps its encrypted type and values, or, to_plaintext (superusers), becomes plaintext again';

-- FUNCTION unregister_protection(regclass, name)
CREATE FUNCTION privacy_guard.unregister_protection(tbl regclass, col name, OUT protected boolean, OUT trigger_args text) RETURNS record
    LANGUAGE c
    AS '$libdir/privacy_guard', 'pguard_unregister_protection';

-- COMMENT FUNCTION unregister_protection(tbl regclass, col name, OUT protected boolean, OUT trigger_args text)
COMMENT ON FUNCTION privacy_guard.unregister_protection(tbl regclass, col name, OUT protected boolean, OUT trigger_args text) IS 'unprotect()''s catalog step: checks the caller owns the table, forgets the column, audits, returns what the trigger becomes';

-- FUNCTION watch_catalog(regclass, text[])
CREATE FUNCTION privacy_guard.watch_catalog(tbl regclass, events text[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
$$;

-- COMMENT FUNCTION watch_catalog(tbl regclass, events text[])
COMMENT ON FUNCTION privacy_guard.watch_catalog(tbl regclass, events text[]) IS 'install-time helper: puts catalog_changed() triggers for the given events on an extension catalog table';

-- COMMENT FUNCTION withdraw_consent(subject text, purpose text) (changed)
COMMENT ON FUNCTION privacy_guard.withdraw_consent(subject text, purpose text) IS 'record the withdrawal of a subject''s consent; audited; the history is kept';

-- OPERATOR <
CREATE OPERATOR privacy_guard.< (
    FUNCTION = privacy_guard.encrypted_lt_term_first,
    LEFTARG = bytea,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.>),
    NEGATOR = OPERATOR(privacy_guard.>=),
    RESTRICT = scalarltsel,
    JOIN = scalarltjoinsel
);

-- COMMENT OPERATOR < (bytea, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.< (bytea, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <
CREATE OPERATOR privacy_guard.< (
    FUNCTION = privacy_guard.encrypted_lt_term,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = bytea,
    COMMUTATOR = OPERATOR(privacy_guard.>),
    NEGATOR = OPERATOR(privacy_guard.>=),
    RESTRICT = scalarltsel,
    JOIN = scalarltjoinsel
);

-- COMMENT OPERATOR < (privacy_guard.encrypted_text, bytea)
COMMENT ON OPERATOR privacy_guard.< (privacy_guard.encrypted_text, bytea) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <
CREATE OPERATOR privacy_guard.< (
    FUNCTION = privacy_guard.encrypted_lt,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.>),
    NEGATOR = OPERATOR(privacy_guard.>=),
    RESTRICT = scalarltsel,
    JOIN = scalarltjoinsel
);

-- COMMENT OPERATOR < (privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.< (privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <=
CREATE OPERATOR privacy_guard.<= (
    FUNCTION = privacy_guard.encrypted_le_term_first,
    LEFTARG = bytea,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.>=),
    NEGATOR = OPERATOR(privacy_guard.>),
    RESTRICT = scalarlesel,
    JOIN = scalarlejoinsel
);

-- COMMENT OPERATOR <= (bytea, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.<= (bytea, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <=
CREATE OPERATOR privacy_guard.<= (
    FUNCTION = privacy_guard.encrypted_le_term,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = bytea,
    COMMUTATOR = OPERATOR(privacy_guard.>=),
    NEGATOR = OPERATOR(privacy_guard.>),
    RESTRICT = scalarlesel,
    JOIN = scalarlejoinsel
);

-- COMMENT OPERATOR <= (privacy_guard.encrypted_text, bytea)
COMMENT ON OPERATOR privacy_guard.<= (privacy_guard.encrypted_text, bytea) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <=
CREATE OPERATOR privacy_guard.<= (
    FUNCTION = privacy_guard.encrypted_le,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.>=),
    NEGATOR = OPERATOR(privacy_guard.>),
    RESTRICT = scalarlesel,
    JOIN = scalarlejoinsel
);

-- COMMENT OPERATOR <= (privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.<= (privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <>
CREATE OPERATOR privacy_guard.<> (
    FUNCTION = privacy_guard.encrypted_ne_term_first,
    LEFTARG = bytea,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.<>),
    NEGATOR = OPERATOR(privacy_guard.=),
    RESTRICT = neqsel,
    JOIN = neqjoinsel
);

-- COMMENT OPERATOR <> (bytea, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.<> (bytea, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <>
CREATE OPERATOR privacy_guard.<> (
    FUNCTION = privacy_guard.encrypted_ne_term,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = bytea,
    COMMUTATOR = OPERATOR(privacy_guard.<>),
    NEGATOR = OPERATOR(privacy_guard.=),
    RESTRICT = neqsel,
    JOIN = neqjoinsel
);

-- COMMENT OPERATOR <> (privacy_guard.encrypted_text, bytea)
COMMENT ON OPERATOR privacy_guard.<> (privacy_guard.encrypted_text, bytea) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR <>
CREATE OPERATOR privacy_guard.<> (
    FUNCTION = privacy_guard.encrypted_ne,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.<>),
    NEGATOR = OPERATOR(privacy_guard.=),
    RESTRICT = neqsel,
    JOIN = neqjoinsel
);

-- COMMENT OPERATOR <> (privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.<> (privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR =
CREATE OPERATOR privacy_guard.= (
    FUNCTION = privacy_guard.encrypted_eq_term_first,
    LEFTARG = bytea,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.=),
    NEGATOR = OPERATOR(privacy_guard.<>),
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);

-- COMMENT OPERATOR = (bytea, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.= (bytea, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR =
CREATE OPERATOR privacy_guard.= (
    FUNCTION = privacy_guard.encrypted_eq_term,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = bytea,
    COMMUTATOR = OPERATOR(privacy_guard.=),
    NEGATOR = OPERATOR(privacy_guard.<>),
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);

-- COMMENT OPERATOR = (privacy_guard.encrypted_text, bytea)
COMMENT ON OPERATOR privacy_guard.= (privacy_guard.encrypted_text, bytea) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR =
CREATE OPERATOR privacy_guard.= (
    FUNCTION = privacy_guard.encrypted_eq,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.=),
    NEGATOR = OPERATOR(privacy_guard.<>),
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);

-- COMMENT OPERATOR = (privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.= (privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR >
CREATE OPERATOR privacy_guard.> (
    FUNCTION = privacy_guard.encrypted_gt_term_first,
    LEFTARG = bytea,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.<),
    NEGATOR = OPERATOR(privacy_guard.<=),
    RESTRICT = scalargtsel,
    JOIN = scalargtjoinsel
);

-- COMMENT OPERATOR > (bytea, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.> (bytea, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR >
CREATE OPERATOR privacy_guard.> (
    FUNCTION = privacy_guard.encrypted_gt_term,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = bytea,
    COMMUTATOR = OPERATOR(privacy_guard.<),
    NEGATOR = OPERATOR(privacy_guard.<=),
    RESTRICT = scalargtsel,
    JOIN = scalargtjoinsel
);

-- COMMENT OPERATOR > (privacy_guard.encrypted_text, bytea)
COMMENT ON OPERATOR privacy_guard.> (privacy_guard.encrypted_text, bytea) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR >
CREATE OPERATOR privacy_guard.> (
    FUNCTION = privacy_guard.encrypted_gt,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.<),
    NEGATOR = OPERATOR(privacy_guard.<=),
    RESTRICT = scalargtsel,
    JOIN = scalargtjoinsel
);

-- COMMENT OPERATOR > (privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.> (privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR >=
CREATE OPERATOR privacy_guard.>= (
    FUNCTION = privacy_guard.encrypted_ge_term_first,
    LEFTARG = bytea,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.<=),
    NEGATOR = OPERATOR(privacy_guard.<),
    RESTRICT = scalargesel,
    JOIN = scalargejoinsel
);

-- COMMENT OPERATOR >= (bytea, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.>= (bytea, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR >=
CREATE OPERATOR privacy_guard.>= (
    FUNCTION = privacy_guard.encrypted_ge_term,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = bytea,
    COMMUTATOR = OPERATOR(privacy_guard.<=),
    NEGATOR = OPERATOR(privacy_guard.<),
    RESTRICT = scalargesel,
    JOIN = scalargejoinsel
);

-- COMMENT OPERATOR >= (privacy_guard.encrypted_text, bytea)
COMMENT ON OPERATOR privacy_guard.>= (privacy_guard.encrypted_text, bytea) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR >=
CREATE OPERATOR privacy_guard.>= (
    FUNCTION = privacy_guard.encrypted_ge,
    LEFTARG = privacy_guard.encrypted_text,
    RIGHTARG = privacy_guard.encrypted_text,
    COMMUTATOR = OPERATOR(privacy_guard.<=),
    NEGATOR = OPERATOR(privacy_guard.<),
    RESTRICT = scalargesel,
    JOIN = scalargejoinsel
);

-- COMMENT OPERATOR >= (privacy_guard.encrypted_text, privacy_guard.encrypted_text)
COMMENT ON OPERATOR privacy_guard.>= (privacy_guard.encrypted_text, privacy_guard.encrypted_text) IS 'compares search terms (values of searchable columns, privacy_guard.blind_index())';

-- OPERATOR FAMILY encrypted_text_ops
CREATE OPERATOR FAMILY privacy_guard.encrypted_text_ops USING btree;
ALTER OPERATOR FAMILY privacy_guard.encrypted_text_ops USING btree ADD
    OPERATOR 1 privacy_guard.<(bytea,privacy_guard.encrypted_text) ,
    OPERATOR 1 privacy_guard.<(privacy_guard.encrypted_text,bytea) ,
    OPERATOR 2 privacy_guard.<=(bytea,privacy_guard.encrypted_text) ,
    OPERATOR 2 privacy_guard.<=(privacy_guard.encrypted_text,bytea) ,
    OPERATOR 3 privacy_guard.=(bytea,privacy_guard.encrypted_text) ,
    OPERATOR 3 privacy_guard.=(privacy_guard.encrypted_text,bytea) ,
    OPERATOR 4 privacy_guard.>=(privacy_guard.encrypted_text,bytea) ,
    OPERATOR 4 privacy_guard.>=(bytea,privacy_guard.encrypted_text) ,
    OPERATOR 5 privacy_guard.>(bytea,privacy_guard.encrypted_text) ,
    OPERATOR 5 privacy_guard.>(privacy_guard.encrypted_text,bytea) ,
    FUNCTION 1 (privacy_guard.encrypted_text, bytea) privacy_guard.encrypted_cmp_term(privacy_guard.encrypted_text,bytea) ,
    FUNCTION 1 (bytea, privacy_guard.encrypted_text) privacy_guard.encrypted_cmp_term_first(bytea,privacy_guard.encrypted_text);

-- COMMENT OPERATOR FAMILY encrypted_text_ops USING btree
COMMENT ON OPERATOR FAMILY privacy_guard.encrypted_text_ops USING btree IS 'search terms of encrypted_text values, and the bytea terms blind_index() returns';

-- OPERATOR CLASS encrypted_text_ops
CREATE OPERATOR CLASS privacy_guard.encrypted_text_ops
    DEFAULT FOR TYPE privacy_guard.encrypted_text USING btree FAMILY privacy_guard.encrypted_text_ops AS
    OPERATOR 1 privacy_guard.<(privacy_guard.encrypted_text,privacy_guard.encrypted_text) ,
    OPERATOR 2 privacy_guard.<=(privacy_guard.encrypted_text,privacy_guard.encrypted_text) ,
    OPERATOR 3 privacy_guard.=(privacy_guard.encrypted_text,privacy_guard.encrypted_text) ,
    OPERATOR 4 privacy_guard.>=(privacy_guard.encrypted_text,privacy_guard.encrypted_text) ,
    OPERATOR 5 privacy_guard.>(privacy_guard.encrypted_text,privacy_guard.encrypted_text) ,
    FUNCTION 1 (privacy_guard.encrypted_text, privacy_guard.encrypted_text) privacy_guard.encrypted_cmp(privacy_guard.encrypted_text,privacy_guard.encrypted_text);

-- COMMENT OPERATOR CLASS encrypted_text_ops USING btree
COMMENT ON OPERATOR CLASS privacy_guard.encrypted_text_ops USING btree IS 'orders values of searchable columns by search term; with blind_index()''s bytea in its family';

-- TABLE column_protection
CREATE TABLE privacy_guard.column_protection (
    tbl regclass NOT NULL,
    col name NOT NULL,
    category text NOT NULL,
    subject_col name NOT NULL,
    searchable boolean DEFAULT false NOT NULL,
    protected_at timestamp with time zone DEFAULT now() NOT NULL
);

-- COMMENT TABLE column_protection
COMMENT ON TABLE privacy_guard.column_protection IS 'columns converted by protect()';

-- COMMENT SEQUENCE consent_events_id_seq
COMMENT ON SEQUENCE privacy_guard.consent_events_id_seq IS 'ids of consent events, in the order they were recorded';

-- COMMENT SEQUENCE erasures_id_seq
COMMENT ON SEQUENCE privacy_guard.erasures_id_seq IS 'ids of erasure requests';

-- COMMENT SEQUENCE incident_log_id_seq
COMMENT ON SEQUENCE privacy_guard.incident_log_id_seq IS 'ids of incidents and lockdowns';

-- VIEW incidents (changed)
CREATE OR REPLACE VIEW privacy_guard.incidents AS
 SELECT i.id,
    i.kind,
    i.opened_at,
    i.opened_by,
    i.description,
    i.subject,
        CASE
            WHEN (i.closed_at IS NOT NULL) THEN
            CASE i.kind
                WHEN 'lockdown'::text THEN 'lifted'::text
                ELSE 'closed'::text
            END
            WHEN (i.kind = 'report'::text) THEN 'open'::text
            WHEN (privacy_guard.lockdown_since() IS NOT NULL) THEN 'in force'::text
            ELSE 'not in force'::text
        END AS status,
    i.closed_at,
    i.closed_by,
    i.resolution
   FROM privacy_guard.incident_log i
UNION ALL
 SELECT NULL::bigint AS id,
    'lockdown'::text AS kind,
    privacy_guard.lockdown_since() AS opened_at,
    NULL::name AS opened_by,
    'engaged by a lockdown() whose transaction did not commit; the audit trail has its reason'::text AS description,
    NULL::text AS subject,
    'in force'::text AS status,
    NULL::timestamp with time zone AS closed_at,
    NULL::name AS closed_by,
    NULL::text AS resolution
  WHERE ((privacy_guard.lockdown_since() IS NOT NULL) AND (NOT (EXISTS ( SELECT
           FROM privacy_guard.incident_log i
          WHERE ((i.kind = 'lockdown'::text) AND (i.closed_at IS NULL))))));

-- COMMENT SEQUENCE keys_key_id_seq
COMMENT ON SEQUENCE privacy_guard.keys_key_id_seq IS 'key ids; envelopes name their key by it';

-- TABLE lockdown_turn
CREATE TABLE privacy_guard.lockdown_turn (
);

-- COMMENT TABLE lockdown_turn
COMMENT ON TABLE privacy_guard.lockdown_turn IS 'empty; locked by lockdown() and lift_lockdown() so that they run one at a time';

-- TABLE master_key_checks
CREATE TABLE privacy_guard.master_key_checks (
    master_version integer NOT NULL,
    check_value bytea NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT master_key_checks_check_value_check CHECK ((length(check_value) = 16)),
    CONSTRAINT master_key_checks_master_version_check CHECK ((master_version > 0))
);

-- COMMENT TABLE master_key_checks
COMMENT ON TABLE privacy_guard.master_key_checks IS 'the check value of each master key version, recorded when it first wrapped a key';

-- VIEW progress
CREATE VIEW privacy_guard.progress AS
 SELECT p.pid,
    d.datname AS database,
    r.rolname AS role,
    p.operation,
    p.phase,
    (p.relid)::regclass AS relation,
    p.done,
    p.total,
        CASE
            WHEN (p.total > 0) THEN round(((100.0 * (p.done)::numeric) / (p.total)::numeric), 1)
            ELSE NULL::numeric
        END AS percent,
    p.started,
    p.updated
   FROM ((privacy_guard.progress_report() p(pid, datid, usesysid, operation, phase, relid, done, total, started, updated)
     LEFT JOIN pg_database d ON ((d.oid = p.datid)))
     LEFT JOIN pg_roles r ON ((r.oid = p.usesysid)));

-- COMMENT VIEW progress
COMMENT ON VIEW privacy_guard.progress IS 'long work under way (protect, key rotations, erasures): operation, phase, done of total';

-- VIEW protected_columns
CREATE VIEW privacy_guard.protected_columns AS
 SELECT n.nspname AS table_schema,
    c.relname AS table_name,
    p.col AS column_name,
    p.category,
    p.subject_col AS subject_column,
    p.searchable,
    format_type(a.atttypid, a.atttypmod) AS column_type,
    p.protected_at
   FROM (((privacy_guard.column_protection p
     JOIN pg_class c ON ((c.oid = (p.tbl)::oid)))
     JOIN pg_namespace n ON ((n.oid = c.relnamespace)))
     LEFT JOIN pg_attribute a ON (((a.attrelid = (p.tbl)::oid) AND (a.attname = p.col))))
  WHERE has_table_privilege((p.tbl)::oid, 'SELECT'::text);

-- COMMENT VIEW protected_columns
COMMENT ON VIEW privacy_guard.protected_columns IS 'protected columns of the tables the caller may read';

-- COMMENT SEQUENCE restriction_events_id_seq
COMMENT ON SEQUENCE privacy_guard.restriction_events_id_seq IS 'ids of restriction events, in the order they were recorded';

-- CONSTRAINT column_protection column_protection_pkey
ALTER TABLE ONLY privacy_guard.column_protection
    ADD CONSTRAINT column_protection_pkey PRIMARY KEY (tbl, col);

-- CONSTRAINT master_key_checks master_key_checks_pkey
ALTER TABLE ONLY privacy_guard.master_key_checks
    ADD CONSTRAINT master_key_checks_pkey PRIMARY KEY (master_version);

-- INDEX audit_subjects_key_range
CREATE INDEX audit_subjects_key_range ON privacy_guard.audit_subjects USING gist (key_range) WHERE (cardinality(key_ids) > 1);

-- INDEX audit_subjects_one
CREATE INDEX audit_subjects_one ON privacy_guard.audit_subjects USING btree ((key_ids[1])) WHERE (cardinality(key_ids) = 1);

ALTER TABLE privacy_guard.allowances ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.categories ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.erasure_actions ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.keys ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.policy_settings ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.purpose_grants ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.purposes ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.retention_rules ENABLE ALWAYS TRIGGER catalog_deleted;

ALTER TABLE privacy_guard.allowances ENABLE ALWAYS TRIGGER catalog_inserted;

ALTER TABLE privacy_guard.categories ENABLE ALWAYS TRIGGER catalog_inserted;

ALTER TABLE privacy_guard.erasure_actions ENABLE ALWAYS TRIGGER catalog_inserted;

ALTER TABLE privacy_guard.policy_settings ENABLE ALWAYS TRIGGER catalog_inserted;

ALTER TABLE privacy_guard.purpose_grants ENABLE ALWAYS TRIGGER catalog_inserted;

ALTER TABLE privacy_guard.purposes ENABLE ALWAYS TRIGGER catalog_inserted;

ALTER TABLE privacy_guard.retention_rules ENABLE ALWAYS TRIGGER catalog_inserted;

ALTER TABLE privacy_guard.allowances ENABLE ALWAYS TRIGGER catalog_truncated;

ALTER TABLE privacy_guard.categories ENABLE ALWAYS TRIGGER catalog_truncated;

ALTER TABLE privacy_guard.keys ENABLE ALWAYS TRIGGER catalog_truncated;

ALTER TABLE privacy_guard.purpose_grants ENABLE ALWAYS TRIGGER catalog_truncated;

ALTER TABLE privacy_guard.purposes ENABLE ALWAYS TRIGGER catalog_truncated;

ALTER TABLE privacy_guard.allowances ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.categories ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.erasure_actions ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.keys ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.policy_settings ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.purpose_grants ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.purposes ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.retention_rules ENABLE ALWAYS TRIGGER catalog_updated;

ALTER TABLE privacy_guard.consent_events ENABLE ALWAYS TRIGGER consent_changed;

-- TRIGGER categories policy_references
CREATE TRIGGER policy_references AFTER DELETE OR UPDATE OF name ON privacy_guard.categories FOR EACH ROW EXECUTE FUNCTION privacy_guard.policy_references();

-- TRIGGER purposes policy_references
CREATE TRIGGER policy_references AFTER DELETE OR UPDATE OF name ON privacy_guard.purposes FOR EACH ROW EXECUTE FUNCTION privacy_guard.policy_references();

ALTER TABLE privacy_guard.restriction_events ENABLE ALWAYS TRIGGER restriction_changed;

-- ACL FUNCTION audit_event_at_commit(event text, outcome text, detail text, subject text)
REVOKE ALL ON FUNCTION privacy_guard.audit_event_at_commit(event text, outcome text, detail text, subject text) FROM PUBLIC;

-- ACL FUNCTION audit_forward(standby text, events text[])
REVOKE ALL ON FUNCTION privacy_guard.audit_forward(standby text, events text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.audit_forward(standby text, events text[]) TO privacy_guard_standby;

-- ACL FUNCTION begin_plaintext(tbl regclass, col name)
REVOKE ALL ON FUNCTION privacy_guard.begin_plaintext(tbl regclass, col name) FROM PUBLIC;

-- ACL FUNCTION check_policies(tbl regclass)
REVOKE ALL ON FUNCTION privacy_guard.check_policies(tbl regclass) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.check_policies(tbl regclass) TO privacy_guard_admin;

-- ACL FUNCTION end_plaintext(tbl regclass, col name, category text)
REVOKE ALL ON FUNCTION privacy_guard.end_plaintext(tbl regclass, col name, category text) FROM PUBLIC;

-- ACL FUNCTION guard_dropped()
REVOKE ALL ON FUNCTION privacy_guard.guard_dropped() FROM PUBLIC;

-- ACL FUNCTION keep_schema_own()
REVOKE ALL ON FUNCTION privacy_guard.keep_schema_own() FROM PUBLIC;

-- ACL FUNCTION keyring_versions()
REVOKE ALL ON FUNCTION privacy_guard.keyring_versions() FROM PUBLIC;

-- ACL FUNCTION master_key_versions(OUT master_version integer, OUT in_keyring boolean, OUT active boolean, OUT keys bigint, OUT check_recorded_at timestamp with time zone, OUT can_retire boolean)
REVOKE ALL ON FUNCTION privacy_guard.master_key_versions(OUT master_version integer, OUT in_keyring boolean, OUT active boolean, OUT keys bigint, OUT check_recorded_at timestamp with time zone, OUT can_retire boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.master_key_versions(OUT master_version integer, OUT in_keyring boolean, OUT active boolean, OUT keys bigint, OUT check_recorded_at timestamp with time zone, OUT can_retire boolean) TO privacy_guard_admin;

-- ACL FUNCTION policy_doc_entries(obj jsonb, list text, path text)
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_entries(obj jsonb, list text, path text) FROM PUBLIC;

-- ACL FUNCTION policy_doc_entry(entry jsonb, path text, what text, keys text[])
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_entry(entry jsonb, path text, what text, keys text[]) FROM PUBLIC;

-- ACL FUNCTION policy_doc_has_purpose(purposes jsonb, purpose text)
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_has_purpose(purposes jsonb, purpose text) FROM PUBLIC;

-- ACL FUNCTION policy_doc_if_none(list jsonb, line text)
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_if_none(list jsonb, line text) FROM PUBLIC;

-- ACL FUNCTION policy_doc_join(list jsonb)
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_join(list jsonb) FROM PUBLIC;

-- ACL FUNCTION policy_doc_remove(list text, what text, keep jsonb, spare text[])
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_remove(list text, what text, keep jsonb, spare text[]) FROM PUBLIC;

-- ACL FUNCTION policy_doc_unique(seen jsonb, name text, path text, message text, hint text)
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_unique(seen jsonb, name text, path text, message text, hint text) FROM PUBLIC;

-- ACL FUNCTION policy_doc_write(path text, statement text, entry text, is_new boolean, INOUT added text[], INOUT changed text[])
REVOKE ALL ON FUNCTION privacy_guard.policy_doc_write(path text, statement text, entry text, is_new boolean, INOUT added text[], INOUT changed text[]) FROM PUBLIC;

-- ACL FUNCTION policy_references()
REVOKE ALL ON FUNCTION privacy_guard.policy_references() FROM PUBLIC;

-- ACL FUNCTION policy_referrer(what text, name text)
REVOKE ALL ON FUNCTION privacy_guard.policy_referrer(what text, name text) FROM PUBLIC;

-- ACL FUNCTION progress_add(n bigint)
REVOKE ALL ON FUNCTION privacy_guard.progress_add(n bigint) FROM PUBLIC;

-- ACL FUNCTION progress_begin(operation text, phase text, tbl regclass, total bigint)
REVOKE ALL ON FUNCTION privacy_guard.progress_begin(operation text, phase text, tbl regclass, total bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.progress_begin(operation text, phase text, tbl regclass, total bigint) TO privacy_guard_admin;

-- ACL FUNCTION progress_end()
REVOKE ALL ON FUNCTION privacy_guard.progress_end() FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.progress_end() TO privacy_guard_admin;

-- ACL FUNCTION progress_phase(phase text, total bigint)
REVOKE ALL ON FUNCTION privacy_guard.progress_phase(phase text, total bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.progress_phase(phase text, total bigint) TO privacy_guard_admin;

-- ACL FUNCTION register_protection(tbl regclass, col name, category text, subject_col name, searchable boolean)
REVOKE ALL ON FUNCTION privacy_guard.register_protection(tbl regclass, col name, category text, subject_col name, searchable boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.register_protection(tbl regclass, col name, category text, subject_col name, searchable boolean) TO privacy_guard_admin;

-- ACL FUNCTION rotate_search_key(category text)
REVOKE ALL ON FUNCTION privacy_guard.rotate_search_key(category text) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.rotate_search_key(category text) TO privacy_guard_admin;

-- ACL FUNCTION scan(sample_rows integer)
REVOKE ALL ON FUNCTION privacy_guard.scan(sample_rows integer) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.scan(sample_rows integer) TO privacy_guard_admin;
GRANT ALL ON FUNCTION privacy_guard.scan(sample_rows integer) TO privacy_guard_auditor;

-- ACL FUNCTION scan_audit(sample_rows integer, tables integer, skipped integer, findings integer, unprotected integer)
REVOKE ALL ON FUNCTION privacy_guard.scan_audit(sample_rows integer, tables integer, skipped integer, findings integer, unprotected integer) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.scan_audit(sample_rows integer, tables integer, skipped integer, findings integer, unprotected integer) TO privacy_guard_admin;
GRANT ALL ON FUNCTION privacy_guard.scan_audit(sample_rows integer, tables integer, skipped integer, findings integer, unprotected integer) TO privacy_guard_auditor;

-- ACL FUNCTION scan_audit_finding(tbl regclass, col name, suspected text, hits integer, sampled integer, protected boolean)
REVOKE ALL ON FUNCTION privacy_guard.scan_audit_finding(tbl regclass, col name, suspected text, hits integer, sampled integer, protected boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.scan_audit_finding(tbl regclass, col name, suspected text, hits integer, sampled integer, protected boolean) TO privacy_guard_admin;
GRANT ALL ON FUNCTION privacy_guard.scan_audit_finding(tbl regclass, col name, suspected text, hits integer, sampled integer, protected boolean) TO privacy_guard_auditor;

-- ACL FUNCTION seal_searchable(value text, category text, subject text)
REVOKE ALL ON FUNCTION privacy_guard.seal_searchable(value text, category text, subject text) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.seal_searchable(value text, category text, subject text) TO privacy_guard_admin;

-- ACL FUNCTION subject_has_rows(tbl oid, subject_col name, subject_type regtype, subject text)
REVOKE ALL ON FUNCTION privacy_guard.subject_has_rows(tbl oid, subject_col name, subject_type regtype, subject text) FROM PUBLIC;

-- ACL FUNCTION unprotect(tbl regclass, col name, to_plaintext boolean)
REVOKE ALL ON FUNCTION privacy_guard.unprotect(tbl regclass, col name, to_plaintext boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.unprotect(tbl regclass, col name, to_plaintext boolean) TO privacy_guard_admin;

-- ACL FUNCTION unregister_protection(tbl regclass, col name, OUT protected boolean, OUT trigger_args text)
REVOKE ALL ON FUNCTION privacy_guard.unregister_protection(tbl regclass, col name, OUT protected boolean, OUT trigger_args text) FROM PUBLIC;
GRANT ALL ON FUNCTION privacy_guard.unregister_protection(tbl regclass, col name, OUT protected boolean, OUT trigger_args text) TO privacy_guard_admin;

-- ACL FUNCTION watch_catalog(tbl regclass, events text[])
REVOKE ALL ON FUNCTION privacy_guard.watch_catalog(tbl regclass, events text[]) FROM PUBLIC;

-- ACL TABLE column_protection


-- ACL TABLE lockdown_turn


-- ACL TABLE master_key_checks


-- ACL TABLE progress
GRANT SELECT ON TABLE privacy_guard.progress TO PUBLIC;

-- ACL TABLE protected_columns
GRANT SELECT ON TABLE privacy_guard.protected_columns TO PUBLIC;

-- COMMENT EVENT TRIGGER privacy_guard_collection_guard
COMMENT ON EVENT TRIGGER privacy_guard_collection_guard IS 'the collection guard: judges new, renamed and retyped columns at the end of each command';

-- COMMENT EVENT TRIGGER privacy_guard_forget_dropped_tables
COMMENT ON EVENT TRIGGER privacy_guard_forget_dropped_tables IS 'forgets the protection, erasure action and retention rule of a dropped table';

-- EVENT TRIGGER privacy_guard_guard_dropped
CREATE EVENT TRIGGER privacy_guard_guard_dropped ON sql_drop
   EXECUTE FUNCTION privacy_guard.guard_dropped();

-- COMMENT EVENT TRIGGER privacy_guard_guard_dropped
COMMENT ON EVENT TRIGGER privacy_guard_guard_dropped IS 'refuses a DROP ... CASCADE that would take a protection or a subject column with it';

-- EVENT TRIGGER privacy_guard_keep_schema_own
CREATE EVENT TRIGGER privacy_guard_keep_schema_own ON ddl_command_end
         WHEN TAG IN ('CREATE EXTENSION', 'ALTER EXTENSION')
   EXECUTE FUNCTION privacy_guard.keep_schema_own();

-- COMMENT EVENT TRIGGER privacy_guard_keep_schema_own
COMMENT ON EVENT TRIGGER privacy_guard_keep_schema_own IS 'refuses another extension in schema privacy_guard';


-- 3. The catalog of protected columns in its 0.2 shape: the columns that
-- are still there, of an encrypted type (0.1 did not guard them; a
-- temporary table's row outlived it).  The others are left out, named in a
-- WARNING.

DO $upgrade$
DECLARE
    gone text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s.%s', p.tbl::pg_catalog.oid, p.col), ', ' ORDER BY p.tbl, p.col)
      INTO gone
      FROM privacy_guard.column_protection_0_1 p
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) p.tbl AND a.attname OPERATOR(pg_catalog.=) p.col
                          AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                          AND a.atttypid OPERATOR(pg_catalog.=) ANY (privacy_guard.encrypted_types()::pg_catalog.oid[]));
    IF gone IS NOT NULL THEN
        RAISE WARNING 'privacy_guard 0.1 recorded protected columns that no longer exist or are no longer encrypted: %', gone
            USING DETAIL = 'They are given as relation OID and column name; the update leaves them out of the catalog.';
        DELETE FROM privacy_guard.column_protection_0_1 p
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid OPERATOR(pg_catalog.=) p.tbl AND a.attname OPERATOR(pg_catalog.=) p.col
                              AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                              AND a.atttypid OPERATOR(pg_catalog.=) ANY (privacy_guard.encrypted_types()::pg_catalog.oid[]));
    END IF;
END
$upgrade$;

INSERT INTO privacy_guard.column_protection (tbl, col, category, subject_col, searchable, protected_at)
SELECT p.tbl, p.col, p.category, p.subject_col, p.index_col IS NOT NULL, p.protected_at
  FROM privacy_guard.column_protection_0_1 p;
-- Nobody but the extension's owner reads or writes the new tables.
REVOKE ALL ON privacy_guard.column_protection FROM PUBLIC;
REVOKE ALL ON privacy_guard.lockdown_turn FROM PUBLIC;
REVOKE ALL ON privacy_guard.master_key_checks FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.column_protection', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.master_key_checks', '');

-- 4. The application's protected tables.
--
-- First, what would stop the update half-way or lose a constraint: objects
-- built on a blind-index column other than the single-column indexes and
-- UNIQUE constraints protect() put there, which move to the column itself
-- (a view, a foreign key, a multi-column, partial, deferrable or exclusion
-- constraint, a primary key).  They are listed, and nothing is changed.
--
-- Then, for each table: 0.1's blind-index columns go (their UNIQUE
-- constraints and indexes are remembered), the sealing CHECKs come back
-- NOT VALID (pg_dump adds them after the data, which they need the keys to
-- check), and 0.2's binding and sealing triggers list every protected
-- column.  Then each searchable column is rewritten as its table's owner,
-- every value re-sealed with its term under a new search key (values of
-- erased subjects become NULL), and gets its CHECK and, under their old
-- names, the indexes and UNIQUE constraints its blind-index column had.
CREATE FUNCTION privacy_guard.upgrade_search_key(category text) RETURNS void
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pguard_upgrade_search_key';
REVOKE ALL ON FUNCTION privacy_guard.upgrade_search_key(text) FROM PUBLIC;
CREATE FUNCTION privacy_guard.upgrade_column(tbl regclass, col name) RETURNS bigint
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pguard_upgrade_column';
REVOKE ALL ON FUNCTION privacy_guard.upgrade_column(regclass, name) FROM PUBLIC;
-- called as each table's owner, only while this script runs, and only for
-- the values upgrade_column() read
CREATE FUNCTION privacy_guard.upgrade_term(value privacy_guard.encrypted_text, category text)
    RETURNS privacy_guard.encrypted_text
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pguard_upgrade_term';

DO $upgrade$
DECLARE
    t regclass;
    c record;
    ix record;
    kept jsonb := '[]';
    m jsonb;
    trig_args text;
    blockers text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s (on %s.%I)',
                                                   pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid),
                                                   p.tbl, p.index_col), '; ' ORDER BY p.tbl, p.index_col, d.objid)
      INTO blockers
      FROM privacy_guard.column_protection_0_1 p
      JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) p.tbl
       AND a.attname OPERATOR(pg_catalog.=) p.index_col AND NOT a.attisdropped
      JOIN pg_catalog.pg_depend d ON d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refobjid OPERATOR(pg_catalog.=) p.tbl AND d.refobjsubid OPERATOR(pg_catalog.=) a.attnum
       AND d.deptype OPERATOR(pg_catalog.<>) 'i'
     WHERE p.index_col IS NOT NULL
       -- its DEFAULT, if any, goes with it
       AND d.classid OPERATOR(pg_catalog.<>) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
       -- a single-column, whole-column btree or hash index, not part of a constraint
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_index i
                        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND i.indexrelid OPERATOR(pg_catalog.=) d.objid
                          AND i.indnatts OPERATOR(pg_catalog.=) 1 AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum
                          AND i.indexprs IS NULL AND i.indpred IS NULL AND NOT i.indisprimary
                          AND NOT i.indisexclusion AND i.indimmediate
                          AND (SELECT am.amname FROM pg_catalog.pg_class ic JOIN pg_catalog.pg_am am
                                   ON am.oid OPERATOR(pg_catalog.=) ic.relam
                                WHERE ic.oid OPERATOR(pg_catalog.=) i.indexrelid) IN ('btree', 'hash'))
       -- a UNIQUE constraint of that column alone, checked at once
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint con
                        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
                          AND con.oid OPERATOR(pg_catalog.=) d.objid AND con.contype OPERATOR(pg_catalog.=) 'u'
                          AND con.conkey OPERATOR(pg_catalog.=) ARRAY[a.attnum] AND NOT con.condeferrable);
    IF blockers IS NOT NULL THEN
        RAISE EXCEPTION 'cannot update privacy_guard: objects are built on blind-index columns of version 0.1'
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = blockers || '.  Version 0.2 drops the blind-index columns: search terms move into the values.',
                  HINT = 'Drop them, run ALTER EXTENSION privacy_guard UPDATE, then create them on the searchable column itself (it takes btree indexes and UNIQUE constraints on its search terms).';
    END IF;

    FOR t IN SELECT DISTINCT p.tbl FROM privacy_guard.column_protection_0_1 p ORDER BY 1 LOOP
        FOR c IN SELECT p.col, p.category, p.subject_col, p.index_col
                   FROM privacy_guard.column_protection_0_1 p
                  WHERE p.tbl OPERATOR(pg_catalog.=) t ORDER BY p.col LOOP
            EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', t, c.col OPERATOR(pg_catalog.||) '_sealed');
            IF c.index_col IS NULL THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text)) NOT VALID',
                                          t, c.col OPERATOR(pg_catalog.||) '_sealed', c.col, c.category, c.subject_col);
                CONTINUE;
            END IF;
            FOR ix IN
                SELECT ic.relname AS idxname, i.indisunique, con.conname, con.contype,
                       ic.relname OPERATOR(pg_catalog.=) pg_catalog.format('%s_%s_idx', tc.relname, c.index_col) AS auto
                  FROM pg_catalog.pg_index i
                  JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) t
                  JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
                  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) t
                   AND a.attname OPERATOR(pg_catalog.=) c.index_col
                  LEFT JOIN pg_catalog.pg_constraint con ON con.conindid OPERATOR(pg_catalog.=) i.indexrelid
                   AND con.conrelid OPERATOR(pg_catalog.=) t
                 WHERE i.indrelid OPERATOR(pg_catalog.=) t AND i.indnatts OPERATOR(pg_catalog.=) 1
                   AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum
                   AND i.indexprs IS NULL AND i.indpred IS NULL
                 ORDER BY ic.relname
            LOOP
                kept := kept OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'tbl', t::pg_catalog.oid, 'col', c.col, 'idxname', ix.idxname, 'unique', ix.indisunique,
                    'conname', ix.conname, 'contype', ix.contype, 'auto', ix.auto));
            END LOOP;
            EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN IF EXISTS %I', t, c.index_col);
        END LOOP;
        SELECT pg_catalog.string_agg(pg_catalog.format('%L, %L, %L, %L', p.col, p.category, p.subject_col,
                                                       CASE WHEN p.searchable THEN 'searchable' ELSE '' END),
                                     ', ' ORDER BY p.col)
          INTO trig_args
          FROM privacy_guard.column_protection p WHERE p.tbl OPERATOR(pg_catalog.=) t;
        EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s '
                                  'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', '!privacy_guard_bind', t, trig_args);
        EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON %s '
                                  'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', t, trig_args);
    END LOOP;

    -- New search keys, then each searchable column rewritten (a new file:
    -- no version without a term is left for the indexes below to read) as
    -- its table's owner, whose index expressions and constraints it runs.
    PERFORM privacy_guard.upgrade_search_key(k.category)
       FROM (SELECT DISTINCT p.category FROM privacy_guard.column_protection p WHERE p.searchable) k;
    FOR c IN SELECT p.tbl, p.col, p.category, p.subject_col
               FROM privacy_guard.column_protection p WHERE p.searchable ORDER BY p.tbl, p.col LOOP
        PERFORM privacy_guard.upgrade_column(c.tbl, c.col);
        PERFORM privacy_guard.run_as_owner(c.tbl,
            pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE privacy_guard.encrypted_text '
                              'USING privacy_guard.upgrade_term(%I, %L)', c.tbl, c.col, c.col, c.category),
            NULL);
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text, true)) NOT VALID',
                                  c.tbl, c.col OPERATOR(pg_catalog.||) '_sealed', c.col, c.category, c.subject_col);
        IF NOT pg_catalog.jsonb_path_exists(kept, '$[*] ? (@.tbl == $t && @.col == $c)',
                                            pg_catalog.jsonb_build_object('t', c.tbl::pg_catalog.oid, 'c', c.col)) THEN
            EXECUTE pg_catalog.format('CREATE INDEX ON %s (%I)', c.tbl, c.col);
        END IF;
    END LOOP;
    FOR m IN SELECT e FROM pg_catalog.jsonb_array_elements(kept) AS e LOOP
        IF m OPERATOR(pg_catalog.->>) 'contype' IS NOT DISTINCT FROM 'u' THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (%I)',
                                      (m OPERATOR(pg_catalog.->>) 'tbl')::pg_catalog.oid::pg_catalog.regclass,
                                      m OPERATOR(pg_catalog.->>) 'conname', m OPERATOR(pg_catalog.->>) 'col');
        ELSIF (m OPERATOR(pg_catalog.->>) 'auto')::boolean AND NOT (m OPERATOR(pg_catalog.->>) 'unique')::boolean THEN
            -- protect()'s own index, named by PostgreSQL after the column
            EXECUTE pg_catalog.format('CREATE INDEX ON %s (%I)',
                                      (m OPERATOR(pg_catalog.->>) 'tbl')::pg_catalog.oid::pg_catalog.regclass,
                                      m OPERATOR(pg_catalog.->>) 'col');
        ELSE
            EXECUTE pg_catalog.format('CREATE %s INDEX %I ON %s USING btree (%I)',
                                      CASE WHEN (m OPERATOR(pg_catalog.->>) 'unique')::boolean THEN 'UNIQUE' ELSE '' END,
                                      m OPERATOR(pg_catalog.->>) 'idxname',
                                      (m OPERATOR(pg_catalog.->>) 'tbl')::pg_catalog.oid::pg_catalog.regclass,
                                      m OPERATOR(pg_catalog.->>) 'col');
        END IF;
    END LOOP;
END
$upgrade$;

DROP FUNCTION privacy_guard.upgrade_search_key(text);
DROP FUNCTION privacy_guard.upgrade_column(regclass, name);
DROP FUNCTION privacy_guard.upgrade_term(privacy_guard.encrypted_text, text);
-- out of the extension first: that also takes it out of what pg_dump keeps
ALTER EXTENSION privacy_guard DROP TABLE privacy_guard.column_protection_0_1;
DROP TABLE privacy_guard.column_protection_0_1;

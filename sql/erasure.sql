-- sql/erasure.sql (src/erasure.c)
--   Erasure on request within a deadline, by destroying the subject's key
--   and deleting or anonymising their rows, with a certificate; retention
--   rules that delete or anonymise old rows.

-- The C internals (src/erasure.c): the extension owner's only.
CREATE FUNCTION privacy_guard.pseudonym(subject text, scope text) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_pseudonym';
CREATE FUNCTION privacy_guard.caller_owns(tbl regclass) RETURNS boolean
    LANGUAGE C STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_caller_owns';
CREATE FUNCTION privacy_guard.run_as_owner(tbl regclass, query text, params text[]) RETURNS text[]
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_run_as_owner';
CREATE FUNCTION privacy_guard.audit_event(event text, outcome text, detail text, subject text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_audit_event';
-- the same about work that can still roll back: queued only if it commits
CREATE FUNCTION privacy_guard.audit_event_at_commit(event text, outcome text, detail text, subject text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_audit_event_at_commit';
REVOKE ALL ON FUNCTION privacy_guard.audit_event_at_commit(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.audit_event_at_commit(text, text, text, text) IS
    'queue one audit record about work that can roll back, when (and only if) the transaction doing it commits';
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
COMMENT ON SEQUENCE privacy_guard.erasures_id_seq IS 'ids of erasure requests';

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
SELECT privacy_guard.watch_catalog(t, ARRAY['INSERT', 'UPDATE', 'DELETE'])
  FROM pg_catalog.unnest(ARRAY['privacy_guard.policy_settings', 'privacy_guard.erasure_actions',
                               'privacy_guard.retention_rules']::pg_catalog.regclass[]) t;
SELECT privacy_guard.watch_replicated(t, ARRAY['INSERT', 'UPDATE', 'DELETE'])
  FROM pg_catalog.unnest(ARRAY['privacy_guard.policy_settings', 'privacy_guard.erasure_actions',
                               'privacy_guard.retention_rules']::pg_catalog.regclass[]) t;

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
COMMENT ON FUNCTION privacy_guard.subject_cast(regtype) IS
    'the cast, without length modifier, that turns a subject into a value of a subject column''s type; NULL for other types';
-- It also says which types a subject column may have, for protect() and for
-- subject_export(), which runs as its caller: PUBLIC may execute it.

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
COMMENT ON FUNCTION privacy_guard.subject_fits(text, regtype) IS
    'whether a subject, as text, survives a round trip through a subject column''s type unchanged';

-- Does a table hold rows of the subject?  Read through the table's access
-- method (src/erasure.c), not a query: none of the owner's code runs, and
-- row security the owner forces on the table does not make the answer fail
-- (or lie) for subjects with no rows there.
CREATE FUNCTION privacy_guard.subject_has_rows(tbl oid, subject_col name, subject_type regtype, subject text)
RETURNS boolean LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'pguard_subject_has_rows';
COMMENT ON FUNCTION privacy_guard.subject_has_rows(oid, name, regtype, text) IS
    'whether a table holds rows of a subject, read without running any of its owner''s code';

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
COMMENT ON FUNCTION privacy_guard.pseudonym_for(text, regtype, text) IS
    'the pseudonym replacing an anonymised row''s subject link, as text of the link''s type';

-- SQL that is true for a link already replaced by a pseudonym.
CREATE FUNCTION privacy_guard.pseudonym_test(col name, typ regtype) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
                     THEN format('t.%I OPERATOR(pg_catalog.<) 0', col)
                WHEN typ OPERATOR(pg_catalog.=) 'uuid'::regtype
                     THEN format('pg_catalog.substr(t.%I::pg_catalog.text, 15, 1) OPERATOR(pg_catalog.=) ''8''', col)
                ELSE format('t.%I::pg_catalog.text OPERATOR(pg_catalog.~) ''^anon-[0-9a-f]{24}$''', col) END
$fn$;
COMMENT ON FUNCTION privacy_guard.pseudonym_test(name, regtype) IS
    'SQL true for a subject link already replaced by a pseudonym';

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
COMMENT ON FUNCTION privacy_guard.require_anonymisable(regclass, name) IS
    'refuses, saying why, a subject link whose rows cannot be anonymised';

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
COMMENT ON FUNCTION privacy_guard.check_rule(regclass, text, text) IS
    'the checks set_erasure_action() and set_retention() share; returns the action as stored';

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
COMMENT ON FUNCTION privacy_guard.erasure_units() IS
    'every table and subject link an erasure visits, children before parents';

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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET row_security = off
SET lock_timeout = '10s' AS $fn$
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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET row_security = off
SET lock_timeout = '10s' AS $fn$
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
$fn$;
COMMENT ON FUNCTION privacy_guard.apply_retention() IS
    'delete or anonymise rows older than their table''s retention period; returns how many rows';

------------------------------------------------------------------------------
-- Privileges of erasure and retention
------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION privacy_guard.set_erasure_deadline(interval),
    privacy_guard.subject_has_rows(oid, name, regtype, text),
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

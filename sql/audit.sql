-- sql/audit.sql (src/audit.c)
--   The audit trail: records written by the audit writer (a background
--   worker) outside the caller's transaction, chained by SHA-256 and
--   anchored outside SQL's reach; the auditors' view, verification, and
--   access history by subject.

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
    hash              bytea NOT NULL,
    -- a data key the record's group touched (a search's one subject),
    -- when the writer had it with the record; the others in audit_subjects
    subject_key       bigint
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
-- Each row holds up to 240 key ids, sorted, and the range they span: a
-- subject's groups are found through the range (one GiST entry a row, not
-- an index entry a subject), then confirmed in the row's few ids.
CREATE TABLE privacy_guard.audit_subjects (
    queue_epoch bigint NOT NULL,
    group_seq   bigint NOT NULL,
    key_ids     bigint[] NOT NULL,
    key_range   int8range NOT NULL
);
-- Most groups touch one subject (a search, a one-row reveal): a btree finds
-- those, at a fraction of a GiST insert's cost (its penalty function reads
-- every entry of a page); the GiST index holds only the groups of many.
CREATE INDEX audit_subjects_one ON privacy_guard.audit_subjects ((key_ids[1]))
    WHERE pg_catalog.cardinality(key_ids) OPERATOR(pg_catalog.=) 1;
CREATE INDEX audit_subjects_key_range ON privacy_guard.audit_subjects USING gist (key_range)
    WHERE pg_catalog.cardinality(key_ids) OPERATOR(pg_catalog.>) 1;
-- A group's records by queue position, for its subjects rows: only records
-- without subject_key have any (a record keeps its one subject there only
-- when it has all its group's subjects, src/audit.c), so a search's record
-- costs the writer no entry here.
CREATE INDEX audit_records_queue ON privacy_guard.audit_records (queue_epoch, queue_seq)
    WHERE subject_key IS NULL;
COMMENT ON TABLE privacy_guard.audit_subjects IS 'data keys touched by each audited reveal group';
REVOKE ALL ON privacy_guard.audit_subjects FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.audit_subjects', '');

-- A search's one subject, kept in its record (when the writer has both), is
-- indexed by the writer a run of records at a time (src/audit_runs.c): each
-- row a chunk of a run's (key, record id) pairs, sorted, with the range of
-- keys it holds; a btree entry a search, on a random page, would cost the
-- writer more than the rest of the record.
CREATE TABLE privacy_guard.audit_subject_runs (
    level     smallint NOT NULL,
    first_id  bigint NOT NULL,
    last_id   bigint NOT NULL,
    chunks    integer NOT NULL,   -- the rows the run was written in
    key_range int8range NOT NULL,
    pairs     bytea NOT NULL
) WITH (toast_tuple_target = 8160);
CREATE INDEX audit_subject_runs_key ON privacy_guard.audit_subject_runs USING gist (key_range);
CREATE INDEX audit_subject_runs_last ON privacy_guard.audit_subject_runs (last_id, first_id, level);
COMMENT ON TABLE privacy_guard.audit_subject_runs IS
    'the subjects audit records name, indexed by the audit writer a run of records at a time';
REVOKE ALL ON privacy_guard.audit_subject_runs FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.audit_subject_runs', '');

CREATE FUNCTION privacy_guard.audit_run_ids(pairs bytea, first_id bigint, key_id bigint) RETURNS bigint[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_audit_run_ids';
COMMENT ON FUNCTION privacy_guard.audit_run_ids(bytea, bigint, bigint) IS
    'the record ids a chunk of audit_subject_runs holds for a data key (for access_history)';
REVOKE ALL ON FUNCTION privacy_guard.audit_run_ids(bytea, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION privacy_guard.access_history(subject text)
RETURNS TABLE (at timestamptz, session_user_name text, current_role_name text, event text,
               purpose text, category text, table_name text, column_name text, outcome text,
               statement text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
-- (a few index look-ups: compiling them would cost more than running them,
-- and a merge or hash join would read the whole trail to join its few hits)
SET jit = off SET enable_mergejoin = off SET enable_hashjoin = off AS $fn$
    -- From the subject's key to the groups that touched it (through the
    -- subject sets' indexes), to their records (by queue position), and the
    -- records that name the subject: a look-up for each thing found, never
    -- a pass over the whole trail.  Every record of this trail is this
    -- database's, under whatever name it had then (a rename, a restore
    -- under another name).
    WITH k AS (
        SELECT k.key_id FROM privacy_guard.keys k
         WHERE k.kind OPERATOR(pg_catalog.=) 'subject'
           AND k.name OPERATOR(pg_catalog.=) access_history.subject
    ), grp AS (
        SELECT s.queue_epoch, s.group_seq
          FROM k JOIN privacy_guard.audit_subjects s
            ON s.key_ids[1] OPERATOR(pg_catalog.=) k.key_id
           AND pg_catalog.cardinality(s.key_ids) OPERATOR(pg_catalog.=) 1
        UNION
        SELECT s.queue_epoch, s.group_seq
          FROM k JOIN privacy_guard.audit_subjects s
            ON s.key_range OPERATOR(pg_catalog.@>) k.key_id
           AND pg_catalog.cardinality(s.key_ids) OPERATOR(pg_catalog.>) 1
           AND k.key_id OPERATOR(pg_catalog.=) ANY (s.key_ids)
    ), hit AS (
        -- (a look-up a group, in the partial index audit_records_queue:
        -- a queue position is one record's)
        SELECT r.id
          FROM grp CROSS JOIN LATERAL (
                SELECT r.id FROM privacy_guard.audit_records r
                 WHERE r.queue_epoch OPERATOR(pg_catalog.=) grp.queue_epoch
                   AND r.queue_seq OPERATOR(pg_catalog.=) grp.group_seq
                   AND r.subject_key IS NULL
                 LIMIT 1) r
        UNION
        SELECT r.id FROM privacy_guard.audit_records r
         WHERE r.subject OPERATOR(pg_catalog.=) access_history.subject
        UNION
        -- records naming the key themselves: found through the writer's
        -- runs, each checked to name it ...
        SELECT r.id
          FROM k JOIN privacy_guard.audit_subject_runs c
            ON c.key_range OPERATOR(pg_catalog.@>) k.key_id
         CROSS JOIN LATERAL pg_catalog.unnest(privacy_guard.audit_run_ids(c.pairs, c.first_id, k.key_id)) u(id)
          JOIN privacy_guard.audit_records r
            ON r.id OPERATOR(pg_catalog.=) u.id
           AND r.subject_key OPERATOR(pg_catalog.=) k.key_id
        UNION
        -- ... and, after the last run, read one by one
        SELECT r.id
          FROM k JOIN privacy_guard.audit_records r
            ON r.id OPERATOR(pg_catalog.>) (SELECT COALESCE(pg_catalog.max(c.last_id), 0)
                                              FROM privacy_guard.audit_subject_runs c)
           AND r.subject_key OPERATOR(pg_catalog.=) k.key_id
    )
    SELECT r.at, r.session_user_name, r.current_role_name, r.event, r.purpose, r.category,
           r.table_name, r.column_name, r.outcome, r.statement
      FROM hit JOIN privacy_guard.audit_records r ON r.id OPERATOR(pg_catalog.=) hit.id
     ORDER BY r.id
$fn$;
COMMENT ON FUNCTION privacy_guard.access_history(text) IS
    'who accessed a subject''s data, when, under which purpose, with what outcome';
REVOKE ALL ON FUNCTION privacy_guard.access_history(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.access_history(text) TO privacy_guard_auditor;

-- A hot standby's audit writer records its events here, on the primary
-- (src/forward.c), connected as a member of privacy_guard_standby: the
-- trail trusts that role to say what happened on its standby.
CREATE FUNCTION privacy_guard.audit_forward(standby text, events text[]) RETURNS bigint
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_audit_forward';
COMMENT ON FUNCTION privacy_guard.audit_forward(text, text[]) IS
    'a standby''s audit events, recorded in this database''s trail; for a standby''s audit writer (privacy_guard_standby)';
REVOKE ALL ON FUNCTION privacy_guard.audit_forward(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.audit_forward(text, text[]) TO privacy_guard_standby;

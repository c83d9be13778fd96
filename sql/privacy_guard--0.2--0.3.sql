/* privacy_guard 0.2 to 0.3: ALTER EXTENSION privacy_guard UPDATE TO '0.3' */

\echo Use "ALTER EXTENSION privacy_guard UPDATE TO '0.3'" to load this file. \quit

-- 0.3 is under development: every change to the extension's SQL objects
-- since the 0.2 release goes here as well as into sql/<concept>.sql, and
-- test/t/017_upgrade.pl checks that an installation updated through this
-- script has exactly the objects of a fresh one.

-- Logical replication (sql/replication.sql): what a publication of
-- protected tables must carry besides them, and what a subscriber must not
-- write itself.

-- A subscriber needs the publisher's keys (wrapped under the master key,
-- which both servers' keyrings hold) and the policy that governs them: the
-- catalog tables below, the built-in purposes excepted (CREATE EXTENSION
-- makes them on the subscriber too).  Never the audit trail (each database
-- keeps its own), the erasure requests (erasures run on the publisher and
-- reach the subscriber as shredded keys and rewritten rows), nor incidents
-- and lockdowns (each server's own).
CREATE FUNCTION privacy_guard.replicated_tables(OUT tbl regclass, OUT row_filter text) RETURNS SETOF record
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT v.tbl::pg_catalog.regclass, v.row_filter
      FROM (VALUES ('privacy_guard.keys', NULL),
                   ('privacy_guard.categories', NULL),
                   ('privacy_guard.purposes',
                    'name OPERATOR(pg_catalog.<>) ALL (ARRAY[''subject_access'', ''incident_response''])'),
                   ('privacy_guard.allowances', NULL),
                   ('privacy_guard.purpose_grants', NULL),
                   ('privacy_guard.column_protection', NULL),
                   ('privacy_guard.erasure_actions', NULL),
                   ('privacy_guard.retention_rules', NULL),
                   ('privacy_guard.policy_settings', NULL),
                   ('privacy_guard.consent_events', NULL),
                   ('privacy_guard.restriction_events', NULL)) AS v(tbl, row_filter)
$fn$;
COMMENT ON FUNCTION privacy_guard.replicated_tables() IS
    'the catalog tables a subscriber of protected tables needs, with the row filter of each';

-- In a database that receives them, those tables are written by the
-- subscription only: the publisher's rows, not this database's.
CREATE FUNCTION privacy_guard.local_write_check() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_local_write_check';
REVOKE ALL ON FUNCTION privacy_guard.local_write_check() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.local_write_check() IS
    'statement trigger: refuses local writes to a catalog table this database receives by logical replication';
-- (enabled for the origin only: the subscription's own workers write)
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT r.tbl FROM privacy_guard.replicated_tables() r LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER local_write_check BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION privacy_guard.local_write_check()', t);
    END LOOP;
END
$$;

-- Adds them to a publication of the protected tables; returns them.  A
-- publication FOR ALL TABLES or for the extension's schema would carry the
-- trail and the built-in purposes too; one that does not publish every
-- kind of change would not carry erasures (an UPDATE or DELETE of keys);
-- one whose owner is not a superuser could be narrowed by that owner
-- afterwards (ALTER PUBLICATION ... SET (publish = ...), DROP TABLE): all
-- refused.  Runs with the caller's rights: adding a table to a publication
-- takes owning both, so in practice the extension's owner calls it.
CREATE FUNCTION privacy_guard.publish(publication name) RETURNS SETOF regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    pub record;
    t record;
BEGIN
    SELECT p.oid, p.puballtables, r.rolname AS owner, r.rolsuper,
           p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate AS every_change
      INTO pub
      FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.pubowner
     WHERE p.pubname OPERATOR(pg_catalog.=) publish.publication;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'publication "%" does not exist', publication
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it first: CREATE PUBLICATION ... FOR TABLE <the protected tables>.';
    END IF;
    IF pub.puballtables OR EXISTS (SELECT FROM pg_catalog.pg_publication_namespace n
                                    WHERE n.pnpubid OPERATOR(pg_catalog.=) pub.oid
                                      AND n.pnnspid OPERATOR(pg_catalog.=) 'privacy_guard'::pg_catalog.regnamespace) THEN
        RAISE EXCEPTION 'publication "%" carries every table of privacy_guard', publication
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The audit trail is each database''s own, and the built-in purposes exist on both sides.',
                  HINT = 'Publish the protected tables by name (FOR TABLE), then call privacy_guard.publish().';
    END IF;
    IF NOT pub.every_change THEN
        RAISE EXCEPTION 'publication "%" does not publish every kind of change', publication
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'An erasure reaches a subscriber as an UPDATE or DELETE of privacy_guard.keys.',
                  HINT = pg_catalog.format('ALTER PUBLICATION %I SET (publish = ''insert, update, delete, truncate'').', publication);
    END IF;
    IF NOT pub.rolsuper THEN
        RAISE EXCEPTION 'publication "%" is owned by role "%", which is not a superuser', publication, pub.owner
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Its owner could later stop it carrying the keys'' changes, and with them erasures.',
                  HINT = pg_catalog.format('ALTER PUBLICATION %I OWNER TO a superuser first.', publication);
    END IF;
    FOR t IN SELECT r.tbl, r.row_filter FROM privacy_guard.replicated_tables() r LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_publication_rel r
                        WHERE r.prpubid OPERATOR(pg_catalog.=) pub.oid AND r.prrelid OPERATOR(pg_catalog.=) t.tbl) THEN
            EXECUTE pg_catalog.format('ALTER PUBLICATION %I ADD TABLE %s%s', publication, t.tbl,
                                      CASE WHEN t.row_filter IS NULL THEN ''
                                           ELSE ' WHERE (' OPERATOR(pg_catalog.||) t.row_filter OPERATOR(pg_catalog.||) ')' END);
        END IF;
        RETURN NEXT t.tbl;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.publish(name) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.publish(name) IS
    'add to a publication the keys and policy a subscriber of the protected tables needs; returns them';

-- Encrypted columns no protection covers get, from 0.3 on, a CHECK that
-- refuses unsealed values where the row is stored (src/guard.c adds it
-- after every statement that makes such a column, and judges a column
-- guarded by what a CHECK on it says).  The tables made under 0.2 get it
-- here, parents before their children (which inherit it); a column that
-- already holds an unsealed value is named in a WARNING and left without
-- it (its unsealed values are noise that nothing can read back: set them
-- to NULL, then ALTER the table, and the guard adds it).
DO $upgrade$
DECLARE
    c record;
    con_name text;
    base text;
    suffix text;
    n integer;
BEGIN
    FOR c IN
        WITH RECURSIVE depth(relid, d) AS (
            SELECT r.oid, 0 FROM pg_catalog.pg_class r
             WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhrelid OPERATOR(pg_catalog.=) r.oid)
            UNION ALL
            SELECT i.inhrelid, depth.d OPERATOR(pg_catalog.+) 1
              FROM pg_catalog.pg_inherits i JOIN depth ON i.inhparent OPERATOR(pg_catalog.=) depth.relid)
        SELECT a.attrelid::pg_catalog.regclass AS tbl, a.attrelid AS relid, a.attnum, a.attname AS col
          FROM pg_catalog.pg_attribute a
          JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) a.attrelid
          JOIN depth ON depth.relid OPERATOR(pg_catalog.=) a.attrelid
         WHERE r.relkind IN ('r', 'p') AND r.relpersistence OPERATOR(pg_catalog.<>) 't'
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
           AND r.relnamespace OPERATOR(pg_catalog.<>) 'privacy_guard'::pg_catalog.regnamespace
           AND a.atttypid OPERATOR(pg_catalog.=) ANY (privacy_guard.encrypted_types()::pg_catalog.oid[])
           AND NOT EXISTS (SELECT FROM privacy_guard.column_protection p
                            WHERE p.tbl OPERATOR(pg_catalog.=) a.attrelid AND p.col OPERATOR(pg_catalog.=) a.attname)
         GROUP BY a.attrelid, a.attnum, a.attname
         ORDER BY pg_catalog.max(depth.d), a.attrelid, a.attnum
    LOOP
        -- one there already (the library's guard made it, or a parent handled
        -- before passed it on): a validated CHECK of that column alone that
        -- calls sealed_only() (the guard judges its exact form at the next
        -- ALTER of the table, and adds its own if it is not)
        CONTINUE WHEN EXISTS (
            SELECT FROM pg_catalog.pg_constraint k
              JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
                   AND d.objid OPERATOR(pg_catalog.=) k.oid
                   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
              JOIN pg_catalog.pg_proc f ON f.oid OPERATOR(pg_catalog.=) d.refobjid
             WHERE k.conrelid OPERATOR(pg_catalog.=) c.relid AND k.contype OPERATOR(pg_catalog.=) 'c'
               AND k.conkey OPERATOR(pg_catalog.=) ARRAY[c.attnum] AND k.convalidated AND NOT k.connoinherit
               AND f.proname OPERATOR(pg_catalog.=) 'sealed_only'
               AND f.pronamespace OPERATOR(pg_catalog.=) 'privacy_guard'::pg_catalog.regnamespace);
        n := 0;
        LOOP
            base := c.col;
            suffix := '_sealed_only' OPERATOR(pg_catalog.||) CASE WHEN n OPERATOR(pg_catalog.=) 0 THEN '' ELSE n::text END;
            WHILE pg_catalog.octet_length(base OPERATOR(pg_catalog.||) suffix) OPERATOR(pg_catalog.>) 63 LOOP
                base := pg_catalog.left(base, -1);
            END LOOP;
            con_name := base OPERATOR(pg_catalog.||) suffix;
            EXIT WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_constraint k
                                   WHERE k.conrelid OPERATOR(pg_catalog.=) c.relid AND k.conname OPERATOR(pg_catalog.=) con_name);
            n := n OPERATOR(pg_catalog.+) 1;
        END LOOP;
        BEGIN
            EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IS NULL OR privacy_guard.sealed_only(%I, ''''::pg_catalog.text) IS NOT NULL)',
                                      c.tbl, con_name, c.col, c.col);
        EXCEPTION
            WHEN check_violation THEN
                RAISE WARNING 'column "%" of relation % holds unsealed values: it gets no CHECK against them', c.col, c.tbl
                    USING HINT = 'Set them to NULL, then run ALTER TABLE on the relation: the CHECK is added after it.';
            WHEN OTHERS THEN
                RAISE WARNING 'column "%" of relation % gets no CHECK against unsealed values: %', c.col, c.tbl, SQLERRM
                    USING HINT = 'Run ALTER TABLE on the relation once that is resolved: the CHECK is added after it.';
        END;
    END LOOP;
END
$upgrade$;

-- A search's data key, when the writer has it with the record, is kept in
-- the record, instead of a row and a btree entry of its own.
ALTER TABLE privacy_guard.audit_records ADD COLUMN subject_key bigint;
-- ... and then its record needs no entry by queue position: only records
-- without subject_key have subjects rows (src/audit.c).
DROP INDEX privacy_guard.audit_records_queue;
CREATE INDEX audit_records_queue ON privacy_guard.audit_records (queue_epoch, queue_seq)
    WHERE subject_key IS NULL;

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
-- The trail so far names no key in its records: one empty run covers it,
-- so that neither the writer nor access_history() reads it for them.
INSERT INTO privacy_guard.audit_subject_runs (level, first_id, last_id, chunks, key_range, pairs)
SELECT 2, 1, pg_catalog.max(id), 1, 'empty', '\x'
  FROM privacy_guard.audit_records HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0;

-- access_history() goes from the subject's key to its groups and their
-- records by index, instead of testing every record of the trail (seconds
-- for a few million records, and growing with the trail).
CREATE OR REPLACE FUNCTION privacy_guard.access_history(subject text)
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

-- Searches record the subjects of the rows they return (src/searchscan.c).
-- The search-term comparisons with blind_index()'s bytea become STABLE, as
-- the plaintext ones are: IMMUTABLE, they let a table's owner put a term in
-- a partial index's predicate, where the planner's proof removed a search's
-- comparison (no check, no record) and plaintext searches joining the
-- table failed.  And PARALLEL RESTRICTED, as the plaintext ones are: a
-- match names its subject in the statement's search group, under the
-- session's purpose, which a parallel worker knows neither of.  And an
-- index scan for col = ANY(ARRAY[terms]) sorts the terms with bytea's own
-- comparison.
DO $$
DECLARE
    sig text;
    args text[][] := ARRAY[
        ['_term', 'privacy_guard.encrypted_text, pg_catalog.bytea'],
        ['_term_first', 'pg_catalog.bytea, privacy_guard.encrypted_text']];
    ops text[] := ARRAY['cmp', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
BEGIN
    FOR i IN 1..2 LOOP
        FOR j IN 1..7 LOOP
            EXECUTE pg_catalog.format('ALTER FUNCTION privacy_guard.encrypted_%s%s(%s) STABLE PARALLEL RESTRICTED',
                                      ops[j], args[i][1], args[i][2]);
        END LOOP;
    END LOOP;
END
$$;
ALTER OPERATOR FAMILY privacy_guard.encrypted_text_ops USING btree ADD
    FUNCTION 1 (pg_catalog.bytea, pg_catalog.bytea) pg_catalog.byteacmp(pg_catalog.bytea, pg_catalog.bytea);

-- Logical replication's apply fires row triggers only, never the statement
-- triggers that tell every session of a change to the catalog: on a
-- subscriber, an applied erasure, key rotation, revoked grant or withdrawn
-- consent reached no session that had cached what it changed.  A row
-- trigger, enabled in replica mode only, does it there (sql/policy.sql).
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
                               'privacy_guard.purpose_grants',
                               'privacy_guard.policy_settings', 'privacy_guard.erasure_actions',
                               'privacy_guard.retention_rules', 'privacy_guard.consent_events',
                               'privacy_guard.restriction_events']::pg_catalog.regclass[]) t;
-- (a new subject's key changes no cached one: its row empties no cache)
SELECT privacy_guard.watch_replicated('privacy_guard.keys', ARRAY['UPDATE', 'DELETE']);

-- Plaintext an application typed text or varchar (a driver's parameter),
-- compared with an encrypted_text: the planner makes it the comparison
-- with the plaintext as an encrypted_text (the support function), which an
-- index of the column scans, checked and recorded as a search.  Only = and
-- <>, outside the operator family: nothing orders plaintext against terms.
CREATE FUNCTION privacy_guard.encrypted_plain_support(internal) RETURNS internal
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'pguard_encrypted_plain_support';
COMMENT ON FUNCTION privacy_guard.encrypted_plain_support(internal) IS
    'planner support: an encrypted_text compared with text becomes the comparison with privacy_guard.encrypted_text(text)';
DO $$
DECLARE
    sig text;
    -- varchar too: an operator of another schema made for it would otherwise
    -- be an exact match that ours (by varchar's implicit cast) is not
    args text[][] := ARRAY[
        ['_plain', 'privacy_guard.encrypted_text', 'pg_catalog.text'],
        ['_plain_first', 'pg_catalog.text', 'privacy_guard.encrypted_text'],
        ['_plain', 'privacy_guard.encrypted_text', 'pg_catalog.varchar'],
        ['_plain_first', 'pg_catalog.varchar', 'privacy_guard.encrypted_text']];
    ops text[][] := ARRAY[['eq', '=', '=', '<>', 'eqsel', 'eqjoinsel'], ['ne', '<>', '<>', '=', 'neqsel', 'neqjoinsel']];
BEGIN
    FOR i IN 1..4 LOOP
        sig := pg_catalog.format('%s, %s', args[i][2], args[i][3]);
        FOR j IN 1..2 LOOP
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION privacy_guard.encrypted_%s%s(%s) RETURNS boolean '
                'LANGUAGE C STABLE STRICT PARALLEL RESTRICTED SUPPORT privacy_guard.encrypted_plain_support AS %L, %L',
                ops[j][1], args[i][1], sig, 'MODULE_PATHNAME', 'pguard_encrypted_' || ops[j][1] || args[i][1]);
            EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.encrypted_%s%s(%s) IS %L',
                ops[j][1], args[i][1], sig, 'plaintext against a search term, checked as a search: ' || ops[j][2]);
            EXECUTE pg_catalog.format(
                'CREATE OPERATOR privacy_guard.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = privacy_guard.encrypted_%s%s, '
                'COMMUTATOR = OPERATOR(privacy_guard.%s), NEGATOR = OPERATOR(privacy_guard.%s), '
                'RESTRICT = pg_catalog.%s, JOIN = pg_catalog.%s)',
                ops[j][2], args[i][2], args[i][3], ops[j][1], args[i][1], ops[j][3], ops[j][4], ops[j][5], ops[j][6]);
            EXECUTE pg_catalog.format('COMMENT ON OPERATOR privacy_guard.%s (%s) IS %L', ops[j][2], sig,
                'plaintext (a text or varchar parameter) against a searchable column, checked and recorded as a search');
        END LOOP;
    END LOOP;
END
$$;

-- protect() of a column declared with an encrypted type but never protected
-- said "already protected": it now says what is wrong and what to do.
CREATE OR REPLACE FUNCTION privacy_guard.protect(tbl regclass, col name, category text, subject_col name,
                                      searchable boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
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
        IF EXISTS (SELECT FROM privacy_guard.protected_columns p
                     JOIN pg_catalog.pg_class c ON c.relname OPERATOR(pg_catalog.=) p.table_name
                     JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                    WHERE c.oid OPERATOR(pg_catalog.=) tbl AND n.nspname OPERATOR(pg_catalog.=) p.table_schema
                      AND p.column_name OPERATOR(pg_catalog.=) col) THEN
            RAISE EXCEPTION 'column "%" of relation % is already protected', col, tbl USING ERRCODE = 'duplicate_object';
        END IF;
        -- declared with an encrypted type (ALTER TABLE ... ADD COLUMN): no category or subject
        RAISE EXCEPTION 'column "%" of relation % has type % but is not protected', col, tbl,
                        format_type(att.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'protect() turns a column of plaintext type into a protected one: declare the column as text, jsonb, date, numeric or bytea, then protect it.';
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
$fn$;

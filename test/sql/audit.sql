-- The audit trail: what is recorded, that it survives ROLLBACK, who may read
-- it, and that verify_audit() catches tampering.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP: nothing beyond the fixture

-- TESTS
-- every policy change of the fixture is in the trail, in order, with the rows
SELECT privacy_guard.audit_flush();
SELECT id, event, outcome, statement FROM privacy_guard.audit_log
 WHERE statement LIKE '%purpose_grants%' OR statement LIKE '%health%' ORDER BY id;
-- a statement that changed nothing records nothing
SELECT count(*) AS before FROM privacy_guard.audit_log \gset
SELECT privacy_guard.revoke_purpose('courier', 'support');
SELECT privacy_guard.audit_flush();
SELECT count(*) - :before AS new_records FROM privacy_guard.audit_log;

-- a declared purpose and its justification outlive the transaction's ROLLBACK
SET ROLE support_agent;
BEGIN;
SELECT privacy_guard.set_purpose('support', 'ticket 4711: customer asked for a refund');
ROLLBACK;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT session_user_name = current_user AS by_session_user, current_role_name, event, purpose, outcome, statement
  FROM privacy_guard.audit_log WHERE event = 'set_purpose' ORDER BY id;
-- so does a policy change that was rolled back: the attempt is recorded
BEGIN;
SELECT privacy_guard.grant_purpose('analyst', 'delivery');
ROLLBACK;
SELECT privacy_guard.audit_flush();
SELECT event, outcome, statement FROM privacy_guard.audit_log ORDER BY id DESC LIMIT 1;
SELECT count(*) AS analyst_grants FROM privacy_guard.purpose_grants WHERE role = 'analyst'::regrole;
-- key rotation is recorded (nothing to re-wrap with one master key version)
SELECT privacy_guard.rotate_master_key();
SELECT privacy_guard.audit_flush();
SELECT event, outcome, statement FROM privacy_guard.audit_log ORDER BY id DESC LIMIT 1;

-- reveals: one record per statement, purpose, category and outcome, written
-- before any value is returned, and closed with counts at the statement's end
CREATE TABLE customers (id int PRIMARY KEY, email text, born date);
INSERT INTO customers SELECT g, 'customer' || g || '@example.com', date '1990-01-01' + g FROM generate_series(1, 30) g;
SELECT privacy_guard.protect('customers', 'email', 'contact', 'id');
SELECT privacy_guard.protect('customers', 'born', 'birth', 'id');
GRANT SELECT ON customers TO support_agent, marketer, analyst;
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support', 'complaint 17');
BEGIN;
SELECT count(privacy_guard.reveal(email)) AS emails, count(privacy_guard.reveal(born)) AS birthdays
  FROM customers WHERE id <= 20;
SELECT privacy_guard.reveal(email) FROM customers WHERE id = 7;
ROLLBACK;
RESET ROLE;
SET ROLE marketer;
SELECT count(privacy_guard.reveal(email, 'marketing')) AS consenting FROM customers;  -- no consent: NULLs
RESET ROLE;
SET ROLE analyst;
SELECT privacy_guard.reveal(email) FROM customers WHERE id = 7;   -- denied
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT event, current_role_name, purpose, category, table_name, column_name, outcome,
       regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event IN ('reveal', 'reveal_end') ORDER BY id;
-- the statement is recorded as pg_stat_statements shows it: every constant
-- (strings of every kind, numbers, bit strings, typed literals) a $n after
-- the statement's own parameters, comments dropped, so no value reaches the
-- trail; identifiers stay
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
SELECT count(privacy_guard.reveal(email)) /* ada@example.com asked */ FROM customers  -- +44 20 7946 0018
 WHERE id IN (7, -8, 9.5) AND email::text <> 'secret' AND E'esc\'aped' <> $$dollar$$ AND U&'\0061' <> B'101'::text
   AND X'1F'::text <> date '2024-01-01'::text AND "id" >= 1;
PREPARE by_id(int) AS SELECT privacy_guard.reveal(email) FROM customers WHERE id = $1 AND email::text <> 'x';
EXECUTE by_id(7);
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 2;
-- a statement with a backslash and double quotes in it (escaped in the
-- chain's JSON, which verify_audit() below recomputes)
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
SELECT count(privacy_guard.reveal(email)) AS "back\slash ""quoted""" FROM customers WHERE id = 7;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT count(*) AS escaped_statement FROM privacy_guard.audit_log
 WHERE event = 'reveal' AND strpos(statement, 'AS "back\slash ""quoted"""') > 0;
-- a cursor's reveals are recorded under its own statement, also when its
-- FETCHes come after other statements
BEGIN;
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
DECLARE fetched CURSOR FOR
  SELECT length(privacy_guard.reveal(email)) > 0 AS revealed FROM customers WHERE id IN (7, 9) ORDER BY id;
FETCH 1 FROM fetched;
SELECT 1 AS between_fetches;
FETCH 1 FROM fetched;
CLOSE fetched;
COMMIT;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 2;
-- so also with more cursors open than the session first keeps room for (8)
BEGIN;
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
DECLARE first_of_many CURSOR FOR
  SELECT length(privacy_guard.reveal(email)) > 0 AS first_of_many FROM customers WHERE id = 7;
DECLARE c2 CURSOR FOR SELECT 2;
DECLARE c3 CURSOR FOR SELECT 3;
DECLARE c4 CURSOR FOR SELECT 4;
DECLARE c5 CURSOR FOR SELECT 5;
DECLARE c6 CURSOR FOR SELECT 6;
DECLARE c7 CURSOR FOR SELECT 7;
DECLARE c8 CURSOR FOR SELECT 8;
DECLARE c9 CURSOR FOR SELECT 9;
DECLARE c10 CURSOR FOR SELECT 10;
FETCH 1 FROM first_of_many;
COMMIT;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 1;
-- each statement's own text, not another's of the same shape
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.reveal(email) AS first_alias FROM customers WHERE id = 7;
SELECT privacy_guard.reveal(email) AS second_alias FROM customers WHERE id = 7;
-- a SET earlier in the same query string does not change how the text is
-- read: what the parser read as one constant is never split into words
SET standard_conforming_strings = off \; SELECT count(privacy_guard.reveal(email)) FROM customers WHERE email::text <> 'a\' AND email::text <> $$' hidden@example.com --$$
  AND id = 7;
RESET standard_conforming_strings;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 3;
SELECT count(*) AS values_in_the_trail FROM privacy_guard.audit_log     -- (query ids are digits too)
 WHERE regexp_replace(statement, 'query -?[0-9]+', 'query') ~ '(ada@|7946|secret|aped|dollar|0061|101|1F|2024|9\.5|''x''|hidden)';
-- a prepared statement's records keep its text however many other
-- statements the session analyses before it runs again (an application's
-- hundreds; here 300, each its own text)
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
PREPARE kept_text AS SELECT privacy_guard.reveal(email) AS kept FROM customers WHERE id = 7;
DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format('SELECT %s AS other_statement_%s', i, i); END LOOP; END $$;
EXECUTE kept_text;
DEALLOCATE kept_text;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 1;
-- a statement that has hundreds of queries analysed before its first
-- record (dynamic SQL in a function) keeps its own text
CREATE FUNCTION pg_temp.flood(n int) RETURNS int LANGUAGE plpgsql AS
$$ BEGIN FOR i IN 1..n LOOP EXECUTE format('SELECT %s AS flood_%s', i, i); END LOOP; RETURN n; END $$;
SET ROLE support_agent;
SELECT pg_temp.flood(1200), privacy_guard.reveal(email) AS flooded FROM customers WHERE id = 7;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 1;
-- a literal is read as the parser read it, whichever query string came
-- before: with standard_conforming_strings off, '\' AS "..." -- ' is one
-- string, never a column alias and a comment
SET ROLE support_agent;
SET standard_conforming_strings = off;
-- (a query string that begins with a semicolon, right after the SET)
\;SELECT '\' AS "jane.doe@example.com" -- '
, privacy_guard.reveal(email) AS aliased FROM customers WHERE id = 7;
SELECT '\' AS "jane.doe@example.com" -- '
, privacy_guard.reveal(email) AS aliased FROM customers WHERE id = 7;
RESET ROLE;
RESET standard_conforming_strings;
SELECT privacy_guard.audit_flush();
SELECT count(*) AS literal_in_trail FROM privacy_guard.audit_log WHERE statement LIKE '%jane.doe%';
-- a reveal no executor of its own runs (a DO block's PL/pgSQL expression)
-- reads the policy again after a change: the extension's own queries are
-- nobody's statement, and its record never carries their text
SELECT privacy_guard.define_category('audit_probe') IS NOT NULL AS policy_changed;
SET ROLE support_agent;
DO $$ DECLARE v privacy_guard.encrypted_text; x text; BEGIN
    SELECT email INTO v FROM customers WHERE id = 9;
    x := privacy_guard.reveal(v);
END $$;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT statement ~ 'privacy_guard\.(purposes|categories|allowances|purpose_grants|keys|consent_events|restriction_events)'
       AS internal_text, regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 1;
-- nor under the block's query before it, nor the statement before an
-- EXECUTE whose argument reveals: under the DO block, the EXECUTE
SET ROLE support_agent;
SELECT 1 AS innocuous_lookup;
DO $$ DECLARE v privacy_guard.encrypted_text; x text; BEGIN
    SELECT email INTO v FROM customers WHERE id = 9;
    PERFORM 1 AS "nightly check";
    x := privacy_guard.reveal(v);
END $$;
SELECT email::text AS kept9 FROM customers WHERE id = 9 \gset
PREPARE measured(text) AS SELECT length($1) AS measured;
SELECT 1 AS innocuous_lookup;
EXECUTE measured(privacy_guard.reveal(:'kept9'::privacy_guard.encrypted_text));
DEALLOCATE measured;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 2;
-- nor under the query a row's trigger runs for a COPY FROM: under the COPY
-- (its trigger's text is its author's, not what the session sent)
CREATE TEMP TABLE inbox (id int);
CREATE FUNCTION pg_temp.inbox_reveal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM privacy_guard.reveal(email) AS "routine housekeeping" FROM customers WHERE id = NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER inbox_reveal AFTER INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION pg_temp.inbox_reveal();
GRANT INSERT ON inbox TO support_agent;
SET ROLE support_agent;
COPY inbox FROM STDIN;
7
9
\.
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement, count(*) AS records
  FROM privacy_guard.audit_log
 WHERE event = 'reveal' AND id > (SELECT max(id) FROM privacy_guard.audit_log WHERE statement ~ 'EXECUTE measured')
 GROUP BY 1;
DROP TABLE inbox;
-- where the value does not come straight from a column, table and column are not known
SELECT privacy_guard.reveal(privacy_guard.seal('x'::text, 'contact', '7'), 'profile');
SELECT privacy_guard.audit_flush();
SELECT event, table_name IS NULL AS no_table, column_name IS NULL AS no_column
  FROM privacy_guard.audit_log WHERE event = 'reveal' ORDER BY id DESC LIMIT 1;
-- who accessed customer 7's data: exactly the statements that touched it
SET ROLE auditor;
SELECT current_role_name, event, purpose, category, outcome FROM privacy_guard.access_history('7');
SELECT count(*) AS customer_25 FROM privacy_guard.access_history('25');
SELECT count(*) AS nobody FROM privacy_guard.access_history('no such customer');
RESET ROLE;
SET ROLE app;
SELECT * FROM privacy_guard.access_history('7');
RESET ROLE;
-- ... found by index, never by reading the whole trail (the planner is
-- told to read this small trail as it would a large one)
SELECT count(*) AS trail_records FROM privacy_guard.audit_records \gset
-- rows of the trail this backend read: by scans, and fetched through its indexes
\set trail_rows_read '(SELECT pg_stat_get_xact_tuples_returned(c.oid) + pg_stat_get_xact_tuples_fetched(c.oid) + (SELECT sum(pg_stat_get_xact_tuples_fetched(i.indexrelid)) FROM pg_index i WHERE i.indrelid = c.oid) FROM pg_class c WHERE c.oid = \'privacy_guard.audit_records\'::regclass)'
SET enable_seqscan = off;
BEGIN;    -- (these counts are not flushed within it)
SELECT :trail_rows_read AS rows_read \gset
SET LOCAL ROLE auditor;
SELECT count(*) AS customer_7 FROM privacy_guard.access_history('7');
RESET ROLE;
SELECT :trail_rows_read - :rows_read < :trail_records / 2 AS reads_a_fraction_of_the_trail;
COMMIT;
RESET enable_seqscan;

-- who may read it: auditors, not application roles, not policy owners
SELECT rolcanlogin FROM pg_roles WHERE rolname = 'privacy_guard_auditor';
SET ROLE auditor;
SELECT count(*) > 0 AS auditor_reads FROM privacy_guard.audit_log;
SELECT privacy_guard.verify_audit();
SELECT * FROM privacy_guard.audit_records;
RESET ROLE;
SET ROLE app;
SELECT count(*) FROM privacy_guard.audit_log;
SELECT count(*) FROM privacy_guard.audit_records;
SELECT privacy_guard.verify_audit();
RESET ROLE;
SET ROLE policy_owner;
SELECT count(*) FROM privacy_guard.audit_log;
RESET ROLE;
-- and nobody but the writer writes it
SET ROLE auditor;
INSERT INTO privacy_guard.audit_records (id, at, database, session_user_name, current_role_name, event, prev_hash, hash)
VALUES (1000, now(), 'x', 'x', 'x', 'forged', '\x00', '\x00');
DELETE FROM privacy_guard.audit_records;
RESET ROLE;

-- tampering, even by a superuser, is detected; the first broken link is named
SELECT privacy_guard.verify_audit() AS intact;
-- altered
UPDATE privacy_guard.audit_records SET statement = 'ticket 0000'
 WHERE statement = 'ticket 4711: customer asked for a refund';
SELECT privacy_guard.verify_audit() AS after_alteration;
UPDATE privacy_guard.audit_records SET statement = 'ticket 4711: customer asked for a refund'
 WHERE statement = 'ticket 0000';
SELECT privacy_guard.verify_audit() AS restored;
-- removed
CREATE TEMP TABLE saved AS SELECT * FROM privacy_guard.audit_records WHERE id = 3;
DELETE FROM privacy_guard.audit_records WHERE id = 3;
SELECT privacy_guard.verify_audit() AS after_removal;
INSERT INTO privacy_guard.audit_records SELECT * FROM saved;
-- reordered: records 4 and 5 swap places
UPDATE privacy_guard.audit_records SET id = -4 WHERE id = 4;
UPDATE privacy_guard.audit_records SET id = 4 WHERE id = 5;
UPDATE privacy_guard.audit_records SET id = 5 WHERE id = -4;
SELECT privacy_guard.verify_audit() AS after_reordering;
UPDATE privacy_guard.audit_records SET id = -4 WHERE id = 4;
UPDATE privacy_guard.audit_records SET id = 4 WHERE id = 5;
UPDATE privacy_guard.audit_records SET id = 5 WHERE id = -4;
-- the newest records removed: the chain that is left is intact, but the
-- anchor the writer keeps outside SQL remembers more
CREATE TEMP TABLE newest AS SELECT * FROM privacy_guard.audit_records ORDER BY id DESC LIMIT 2;
DELETE FROM privacy_guard.audit_records WHERE id IN (SELECT id FROM newest);
SELECT privacy_guard.verify_audit() AS after_removing_the_end;
INSERT INTO privacy_guard.audit_records SELECT * FROM newest;
SELECT privacy_guard.verify_audit() AS restored_again;
-- a forged record appended with a made-up hash
INSERT INTO privacy_guard.audit_records (id, at, database, session_user_name, current_role_name, event, prev_hash, hash)
SELECT max(id) + 1, now(), 'x', 'x', 'x', 'forged', '\x00', '\x00' FROM privacy_guard.audit_records;
SELECT privacy_guard.verify_audit() AS after_forgery;
DELETE FROM privacy_guard.audit_records WHERE event = 'forged';
SELECT privacy_guard.verify_audit() AS intact_again;
-- the writer continues the chain after all this
SELECT privacy_guard.define_category('after_tampering');
SELECT privacy_guard.audit_flush();
SELECT privacy_guard.verify_audit() AS still_intact;

-- The writer inserts the trail's rows itself, as COPY does, but only into
-- tables as the extension made them: triggers a DBA put on the trail (to
-- copy it elsewhere, say) see every record and every subjects row, as they
-- did when the writer inserted by statement.  The chain holds either way.
CREATE TABLE trail_copy (tbl text, id bigint, what text);
CREATE FUNCTION copy_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'audit_records' THEN
        INSERT INTO public.trail_copy VALUES ('records', NEW.id, NEW.event);
    ELSE
        INSERT INTO public.trail_copy VALUES ('subjects', NEW.group_seq, pg_catalog.cardinality(NEW.key_ids) || ' keys');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER copy_record AFTER INSERT ON privacy_guard.audit_records
    FOR EACH ROW EXECUTE FUNCTION copy_record();
CREATE TRIGGER copy_subjects BEFORE INSERT ON privacy_guard.audit_subjects
    FOR EACH ROW EXECUTE FUNCTION copy_record();
SELECT privacy_guard.define_category('copied_by_trigger');
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support', 'complaint 18');
SELECT count(privacy_guard.reveal(email)) AS revealed FROM customers WHERE id <= 3;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT c.tbl, c.what, c.tbl = 'subjects' OR a.id IS NOT NULL AS in_trail
  FROM trail_copy c LEFT JOIN privacy_guard.audit_records a ON c.tbl = 'records' AND a.id = c.id
 ORDER BY c.tbl, c.id;
DROP TRIGGER copy_record ON privacy_guard.audit_records;
DROP TRIGGER copy_subjects ON privacy_guard.audit_subjects;
SELECT max(id) AS before FROM privacy_guard.audit_records \gset
SET ROLE support_agent;
SELECT count(privacy_guard.reveal(email)) AS revealed FROM customers WHERE id <= 3;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT count(*) AS copies_after_drop FROM trail_copy;
SELECT event FROM privacy_guard.audit_records WHERE id > :before ORDER BY id;
SELECT privacy_guard.verify_audit() AS intact_with_triggers;
DROP TABLE trail_copy;
DROP FUNCTION copy_record();
-- nor is the trail attached to another table, whose ALTERs and partition
-- bounds it would take (refused from the other table's side too)
CREATE TABLE trail_parent (LIKE privacy_guard.audit_records) PARTITION BY RANGE (id);
ALTER TABLE trail_parent ATTACH PARTITION privacy_guard.audit_records FOR VALUES FROM (1) TO (20);
ALTER TABLE trail_parent ATTACH PARTITION privacy_guard.audit_subjects FOR VALUES FROM (1) TO (20);
DROP TABLE trail_parent;
-- nor the parent of another table, whose rows its readers would take for its own
CREATE TABLE trail_child () INHERITS (privacy_guard.audit_records);
CREATE TABLE keys_child (LIKE privacy_guard.keys);
ALTER TABLE keys_child INHERIT privacy_guard.keys;
DROP TABLE keys_child;

-- An event nobody waits for (a declared purpose) is written within moments
-- all the same: the writer gathers such events for a few milliseconds,
-- without being woken for each, and no flush is needed to see it
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support', 'complaint 19, not flushed');
RESET ROLE;
DO $$
BEGIN
    FOR i IN 1 .. 500 LOOP
        PERFORM FROM privacy_guard.audit_records WHERE statement = 'complaint 19, not flushed';
        IF FOUND THEN
            RAISE NOTICE 'written without a flush';
            RETURN;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RAISE NOTICE 'not written after 5 s';
END $$;

-- the trail is no notepad: a refused reveal of an envelope made up with a
-- category of the caller's choosing records no such category, and a loop
-- that catches the refusal records it once a statement, not once a try
SELECT max(id) AS before FROM privacy_guard.audit_log \gset
SET ROLE analyst;
DO $$
DECLARE
    forged privacy_guard.encrypted_text := ('sealed1:' || translate(encode(
        '\x0101'::bytea || '\x0000000000000001'::bytea || '\x18'::bytea
        || convert_to('ceo_password_is_hunter2_', 'UTF8') || decode(repeat('00', 28), 'hex'), 'base64'),
        E'\n', ''))::privacy_guard.encrypted_text;
BEGIN
    FOR i IN 1 .. 50 LOOP
        BEGIN
            PERFORM privacy_guard.reveal(forged);
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;
        END;
    END LOOP;
END $$;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT current_role_name, event, purpose, category, outcome, statement
  FROM privacy_guard.audit_log WHERE id > :before AND current_role_name = 'analyst';

-- nor can many different refusals flood it: past 16 kinds in a statement,
-- one record says that more were not recorded one by one (20 purposes the
-- role does not hold, each refused 50 times: 17 records, not 1,000)
SELECT count(privacy_guard.define_purpose('campaign_' || g)) AS purposes FROM generate_series(1, 20) g;
SELECT max(id) AS before FROM privacy_guard.audit_log \gset
SET ROLE analyst;
DO $$
DECLARE
    e privacy_guard.encrypted_text;
BEGIN
    SELECT email INTO e FROM customers WHERE id = 1;
    FOR i IN 1 .. 50 LOOP
        FOR p IN 1 .. 20 LOOP
            BEGIN
                PERFORM privacy_guard.reveal(e, 'campaign_' || p);
            EXCEPTION WHEN insufficient_privilege THEN
                NULL;
            END;
        END LOOP;
    END LOOP;
END $$;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT count(*) AS records, count(*) FILTER (WHERE statement LIKE 'more refusals%') AS summaries
  FROM privacy_guard.audit_log WHERE id > :before AND current_role_name = 'analyst';

-- refused searches alike: 1,000 searches without a declared purpose, one record
SELECT max(id) AS before FROM privacy_guard.audit_log \gset
SET ROLE analyst;
DO $$
BEGIN
    FOR i IN 1 .. 1000 LOOP
        BEGIN
            PERFORM privacy_guard.blind_index('x' || i, 'contact');
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;
        END;
    END LOOP;
END $$;
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT event, outcome, statement FROM privacy_guard.audit_log WHERE id > :before AND current_role_name = 'analyst';

-- a declared purpose is recorded once a call, but at most 16 times in one
-- statement, then once more to say so
SELECT max(id) AS before FROM privacy_guard.audit_log \gset
SET ROLE support_agent;
SELECT count(privacy_guard.set_purpose('support', repeat('x', 500))) AS declared FROM generate_series(1, 1000);
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT count(*) AS records, count(*) FILTER (WHERE statement LIKE 'more declarations%') AS summaries
  FROM privacy_guard.audit_log WHERE id > :before AND event = 'set_purpose';

-- A standby's events arrive through audit_forward() (test/t/015_standby.pl
-- runs a real standby): only a superuser or a member of
-- privacy_guard_standby forwards (REPLICATION alone is not enough), and a
-- malformed batch is refused whole, before anything is queued.
CREATE FUNCTION pg_temp.ev(kind int, epoch bigint, seq bigint, grp bigint DEFAULT 0,
                           at bigint DEFAULT ((extract(epoch FROM now()) - 946684800) * 1000000)::bigint,
                           event text DEFAULT 'reveal', keys text DEFAULT '', usr text DEFAULT 'ann')
RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY[kind::text, epoch::text, seq::text, grp::text, at::text, usr, 'ann', event, 'support', 'contact',
                 'customers', 'email', '', 'revealed', 'SELECT 1', keys]
$$;
CREATE ROLE forwarder REPLICATION;
SET ROLE policy_owner;
SELECT privacy_guard.audit_forward('forger', '{}');
RESET ROLE;
SET ROLE forwarder;
SELECT privacy_guard.audit_forward('forger', pg_temp.ev(0, 1, 1));
RESET ROLE;
GRANT privacy_guard_standby TO forwarder;
SET ROLE forwarder;
SELECT privacy_guard.audit_forward('s1', '{"0","1"}');
SELECT privacy_guard.audit_forward('s1', NULL);
SELECT privacy_guard.audit_forward('s1', ARRAY[ARRAY['a'], ARRAY['b']]);
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(7, 1, 1));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(0, 0, 1));
SELECT privacy_guard.audit_forward('s1', array_replace(pg_temp.ev(0, 1, 1), '1', 'x1'));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(0, 1, 1, at => 9223372036854775807));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(0, 1, 1, at => 0));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(0, 1, 1, event => 'trail_tampered'));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(1, 1, 2, 1, keys => (SELECT string_agg(g::text, ',') FROM generate_series(1, 241) g)));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(1, 1, 2, 1, keys => '5,3'));
-- the largest bigint would overflow its row's range of keys and stop the writer on every retry
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(1, 1, 2, 1, keys => '3,9223372036854775807'));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(1, 1, 2, 0, keys => '3'));
SELECT privacy_guard.audit_forward('s1', (SELECT array_agg(f) FROM generate_series(1, 1025) g, unnest(pg_temp.ev(0, 1, g)) f));
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(0, 1, 1) || pg_temp.ev(7, 1, 2));
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT count(*) AS nothing_queued FROM privacy_guard.audit_log WHERE statement LIKE 'on standby s1%';
-- a record and its subjects, under a negative epoch (this server's are
-- positive) made of the standby queue's and the forwarding role's; control
-- characters in a field become spaces
SELECT max(id) AS before FROM privacy_guard.audit_log \gset
SET ROLE forwarder;
SELECT privacy_guard.audit_forward('s1' || chr(10) || 'x', pg_temp.ev(0, 77, 1, usr => 'ann' || chr(10) || 'id=1')
                                                         || pg_temp.ev(1, 77, 2, 1, keys => '3,5')) AS forwarded;
RESET ROLE;
SELECT event, session_user_name, outcome, statement FROM privacy_guard.audit_log WHERE id > :before;
SELECT r.queue_epoch < 0 AS apart, r.queue_seq, s.key_ids FROM privacy_guard.audit_records r
  JOIN privacy_guard.audit_subjects s ON s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
 WHERE r.id > :before;
-- 240 subjects far apart take more than one row, and every one is kept;
-- no row spans more than 1024 key ids (a subject's look-up reads the rows
-- whose range holds its key: one row spanning subjects far apart would be
-- read for every key between them)
SET ROLE forwarder;
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(1, 77, 4, 1, keys => (SELECT string_agg((g * 1000003)::text, ',') FROM generate_series(1, 240) g))) AS forwarded;
RESET ROLE;
SELECT count(*) > 1 AS several_rows, sum(cardinality(s.key_ids)) AS subjects,
       bool_and(s.key_range @> s.key_ids[1] AND s.key_range @> s.key_ids[cardinality(s.key_ids)]) AS ranges_hold,
       bool_and(upper(s.key_range) - lower(s.key_range) <= 1025) AS narrow_ranges
  FROM privacy_guard.audit_records r
  JOIN privacy_guard.audit_subjects s ON s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
 WHERE r.id > :before AND s.key_ids[1] > 1000;
-- another standby's role cannot attach subjects to that record
CREATE ROLE forwarder2 IN ROLE privacy_guard_standby;
SET ROLE forwarder2;
SELECT privacy_guard.audit_forward('s2', pg_temp.ev(1, 77, 3, 1, keys => '9')) AS forwarded;
RESET ROLE;
SELECT s.key_ids FROM privacy_guard.audit_records r
  JOIN privacy_guard.audit_subjects s ON s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
 WHERE r.id > :before AND s.key_ids[1] < 1000;
DROP ROLE forwarder2;
-- a forwarded position never stands for one of this server's own: a record
-- forwarded under this server's epoch, far ahead, skips none of its events
SELECT queue_epoch AS own_epoch FROM privacy_guard.audit_records WHERE queue_epoch > 0 ORDER BY id DESC LIMIT 1 \gset
SET ROLE forwarder;
SELECT privacy_guard.audit_forward('s1', pg_temp.ev(0, :own_epoch, 9000000000000000000)) AS forwarded;
RESET ROLE;
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support', 'after the forged record');
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT event, statement FROM privacy_guard.audit_log WHERE id > :before AND statement NOT LIKE 'on standby%';
SELECT privacy_guard.verify_audit();
DROP ROLE forwarder;

-- The queue holds each event in the bytes it needs: events of every size,
-- twice the ring's size in all, come out whole and in order (the ring wraps
-- around, an event that would not fit before its end starts at its
-- beginning; the forwarded events above, with their packed subjects, came
-- through it too)
SELECT max(id) AS ring_before FROM privacy_guard.audit_log \gset
SELECT count(privacy_guard.audit_event('ring', 'recorded', repeat(chr(97 + g % 26), 1 + (g * 37) % 511), 'ring ' || g))
  FROM generate_series(1, 10000) g;
SELECT privacy_guard.audit_flush();
SELECT count(*) AS ring_events,
       bool_and(statement = repeat(chr(97 + (n % 26)::int), (1 + (n * 37) % 511)::int) AND subject = 'ring ' || n) AS ring_intact,
       sum(length(statement)) > 2 * 1024 * 1024 AS twice_the_ring
  FROM (SELECT statement, subject, row_number() OVER (ORDER BY id) AS n
          FROM privacy_guard.audit_log WHERE id > :ring_before AND event = 'ring') x;
SELECT privacy_guard.verify_audit();

-- A record names the role as it is called now: a session keeps the names
-- of the roles it recorded, and forgets them when a role changes
CREATE ROLE renamed_agent;
SELECT privacy_guard.grant_purpose('renamed_agent', 'support');
SET ROLE renamed_agent;
SELECT privacy_guard.set_purpose('support');
RESET ROLE;
ALTER ROLE renamed_agent RENAME TO agent_renamed;
SET ROLE agent_renamed;
SELECT privacy_guard.set_purpose('support');
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT current_role_name, event, outcome FROM privacy_guard.audit_log
 WHERE current_role_name IN ('renamed_agent', 'agent_renamed') ORDER BY id;
SELECT privacy_guard.revoke_purpose('agent_renamed', 'support');
DROP ROLE agent_renamed;

-- CLEANUP
DROP TABLE customers;

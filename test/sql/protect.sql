-- protect(): converting columns in place, and the write path afterwards.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP: a shop table as it exists before privacy_guard
CREATE TABLE customers (
    id      bigint PRIMARY KEY,
    name    text NOT NULL,
    email   varchar(200) UNIQUE,
    phone   text,
    born    date,
    spent   numeric(10,2),
    profile jsonb,
    photo   bytea,
    note    text
);
CREATE INDEX customers_phone_idx ON customers (phone);
INSERT INTO customers VALUES
    (1, 'Ada Lovelace', 'ada@example.com', '+44 20 7946 0018', '1815-12-10', 1234.50, '{"tier": "gold", "visits": 17}', '\x89504e47', 'first'),
    (2, 'Alan Turing', 'alan@example.com', '+44 20 7946 0999', '1912-06-23', 88.10, '{"tier": "silver"}', NULL, NULL),
    (3, 'Grace Hopper', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON customers TO app, courier, support_agent, marketer, analyst;

-- TESTS
-- refusals, each with a hint
SELECT privacy_guard.protect('customers', 'name', 'health', 'id');
SELECT privacy_guard.protect('customers', 'name', 'unused', 'id');
SELECT privacy_guard.protect('customers', 'name', 'nope', 'id');
SELECT privacy_guard.protect('customers', 'nope', 'identity', 'id');
SELECT privacy_guard.protect('customers', 'name', 'identity', 'nope');
SELECT privacy_guard.protect('customers', 'name', 'identity', 'name');
SELECT privacy_guard.protect('customers', 'id', 'identity', 'name');
SELECT privacy_guard.protect('customers', 'name', 'identity', NULL);
SELECT privacy_guard.protect('pg_class', 'relname', 'identity', 'oid');
-- a generated subject column: a dependency drop would remove it unseen
CREATE TABLE generated_subject (id int, ref int GENERATED ALWAYS AS (id + 0) STORED, v text);
SELECT privacy_guard.protect('generated_subject', 'v', 'identity', 'ref');
SELECT privacy_guard.protect('generated_subject', 'v', 'identity', 'id');   -- a stored one is accepted
DROP TABLE generated_subject;
-- an index on the column: refused unless searchable
SELECT privacy_guard.protect('customers', 'email', 'contact', 'id');
SELECT privacy_guard.protect('customers', 'phone', 'phone', 'id');
-- a view depends on the column: refused, hint names the view
CREATE VIEW customer_names AS SELECT id, name FROM customers;
SELECT privacy_guard.protect('customers', 'name', 'identity', 'id');
DROP VIEW customer_names;
-- a CHECK constraint compares plaintext: refused
ALTER TABLE customers ADD CONSTRAINT note_short CHECK (length(note) < 100);
SELECT privacy_guard.protect('customers', 'note', 'browsing', 'id');
ALTER TABLE customers DROP CONSTRAINT note_short;
-- a non-owner cannot protect someone else's table
SET ROLE policy_owner;
SELECT privacy_guard.protect('customers', 'name', 'identity', 'id');
RESET ROLE;
-- searchable only for text
SELECT privacy_guard.protect('customers', 'born', 'birth', 'id', searchable => true);

-- protect every column type; unique and plain indexes stay, on the search terms
SELECT privacy_guard.protect('customers', 'name', 'identity', 'id');
SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('customers', 'phone', 'phone', 'id', searchable => true);
SELECT privacy_guard.protect('customers', 'born', 'birth', 'id');
SELECT privacy_guard.protect('customers', 'spent', 'spend', 'id');
SELECT privacy_guard.protect('customers', 'profile', 'browsing', 'id');
SELECT privacy_guard.protect('customers', 'photo', 'document', 'id');
SELECT privacy_guard.protect('customers', 'name', 'identity', 'id');   -- twice
-- a column declared with an encrypted type has no category or subject: it
-- is not protected, and protect() says so (it said "already protected")
ALTER TABLE customers ADD COLUMN alias privacy_guard.encrypted_text;
SELECT privacy_guard.protect('customers', 'alias', 'identity', 'id');
SELECT count(*) AS listed FROM privacy_guard.protected_columns WHERE column_name = 'alias';
ALTER TABLE customers DROP COLUMN alias;
\d customers
SELECT table_name, column_name, category, subject_column, searchable, column_type
  FROM privacy_guard.protected_columns ORDER BY column_name;

-- existing rows were sealed in place: all columns print as envelopes
SELECT id, left(name::text, 8), left(email::text, 8), left(born::text, 8),
       left(spent::text, 8), left(profile::text, 8), left(photo::text, 8)
  FROM customers ORDER BY id;
-- and reveal to the purposes that may see them
SELECT id, privacy_guard.reveal(name, 'support') AS name, privacy_guard.reveal(email, 'support') AS email,
       privacy_guard.reveal(phone, 'support') AS phone, privacy_guard.reveal(born, 'support') AS born,
       privacy_guard.reveal(spent, 'support') AS spent, privacy_guard.reveal(profile, 'support') AS profile,
       privacy_guard.reveal(photo, 'support') AS photo
  FROM customers ORDER BY id;

-- the application's unchanged SQL: INSERT, UPDATE, upsert, COPY, typed parameters
SET ROLE app;
INSERT INTO customers (id, name, email, phone, born, spent, profile, photo)
VALUES (4, 'Katherine Johnson', 'kj@example.com', '+1 757 555 0100', '1918-08-26', 42, '{"tier": "bronze"}', '\x00ff');
UPDATE customers SET email = 'ada@lovelace.example' WHERE id = 1;
UPDATE customers SET note = 'unchanged protected columns stay as they were' WHERE id = 2;
INSERT INTO customers (id, name, email) VALUES (4, 'K. Johnson', 'katherine@example.com')
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email;
COPY customers (id, name, email, phone, born, spent) FROM stdin;
5	Hedy Lamarr	hedy@example.com	+1 310 555 0123	1914-11-09	7.25
\.
PREPARE ins(bigint, text, varchar, date, numeric, integer) AS
    INSERT INTO customers (id, name, email, born, spent) VALUES ($1, $2, $3, $4, $5), ($1 + 1, $2, NULL, NULL, $6);
EXECUTE ins(6, 'Margaret Hamilton', 'mh@example.com', '1936-08-17', 99.99, 12);
RESET ROLE;
SELECT id, privacy_guard.reveal(name, 'support') AS name, privacy_guard.reveal(email, 'support') AS email,
       privacy_guard.reveal(phone, 'support') AS phone, privacy_guard.reveal(born, 'support') AS born,
       privacy_guard.reveal(spent, 'support') AS spent, note
  FROM customers ORDER BY id;

-- search terms: a searchable column keeps its shape (no column added); its
-- values carry their terms, and equality search on the column itself is an
-- index scan (the operators live in privacy_guard: on the search path, or
-- OPERATOR(privacy_guard.=)); searching needs a declared purpose allowed
-- the category
SELECT privacy_guard.set_purpose('support');
SET search_path = public, privacy_guard;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM customers WHERE email = privacy_guard.blind_index('kj@example.com', 'contact');
RESET enable_seqscan;
SELECT id FROM customers WHERE email = privacy_guard.blind_index('katherine@example.com', 'contact');
SELECT id FROM customers WHERE email = privacy_guard.blind_index('kj@example.com', 'contact');
SELECT id FROM customers WHERE privacy_guard.blind_index('ada@lovelace.example', 'contact') = email;
SELECT id FROM customers WHERE phone OPERATOR(privacy_guard.=) privacy_guard.blind_index('+44 20 7946 0999', 'phone');
-- support sees phone numbers masked: a few distinct lookups an hour per
-- role (privacy_guard.masked_search_budget, across its sessions), not a
-- brute force of the digits the mask hides; past it a search is refused
-- and reported as an incident
SET privacy_guard.masked_search_budget = 3;
SET ROLE support_agent;
SET privacy_guard.masked_search_budget = 1000;   -- only a superuser sets it
SELECT privacy_guard.set_purpose('support');
SELECT count(*) FROM customers WHERE phone = privacy_guard.blind_index('+44 20 7946 0999', 'phone');
SELECT count(*) FROM customers WHERE phone = privacy_guard.blind_index('+44 20 7946 0999', 'phone');  -- the same value again: free
SELECT count(*) FROM customers WHERE phone = privacy_guard.blind_index('+44 20 7946 0998', 'phone');
SELECT count(*) FROM customers WHERE email = privacy_guard.blind_index('hedy@example.com', 'contact');
SELECT count(*) FROM customers c, generate_series(0, 99) n
 WHERE c.phone = privacy_guard.blind_index('+44 20 7946 09' || lpad(n::text, 2, '0'), 'phone');
SELECT count(*) FROM customers WHERE phone = privacy_guard.blind_index('+44 20 7946 0997', 'phone');
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT current_role_name, event, purpose, category, outcome, statement
  FROM privacy_guard.audit_log WHERE event = 'incident' OR (event = 'search' AND outcome = 'denied') ORDER BY id;
-- a new session does not refill it
\c -
SET search_path = public, privacy_guard;
SET privacy_guard.masked_search_budget = 3;
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
SELECT count(*) FROM customers WHERE phone = privacy_guard.blind_index('+44 20 7946 0996', 'phone');
-- a purpose allowed the category in full has no such budget; 0 allows no
-- masked search at all
RESET ROLE;
SET ROLE courier;
SELECT privacy_guard.set_purpose('delivery');
SELECT count(*) FROM customers c, generate_series(70, 99) n
 WHERE c.phone = privacy_guard.blind_index('+44 20 7946 09' || lpad(n::text, 2, '0'), 'phone');
RESET ROLE;
SET privacy_guard.masked_search_budget = 0;
SELECT privacy_guard.set_purpose('support');
\set VERBOSITY terse
SELECT count(*) FROM customers WHERE phone = privacy_guard.blind_index('+44 20 7946 0999', 'phone');
\set VERBOSITY default
RESET privacy_guard.masked_search_budget;
-- a term adds 40 bytes to a value (the key's id and 16 bytes of HMAC, and
-- the 16 bytes that bind it to the value's data key)
SELECT octet_length(decode(substr(email::text, 9), 'base64'))
     - octet_length(decode(substr(privacy_guard.seal(privacy_guard.reveal(email), 'contact', id::text)::text, 9), 'base64'))
       AS term_bytes
  FROM customers WHERE id = 5;
-- unique stays unique, ON CONFLICT (email) and excluded.email work as they did
\set VERBOSITY terse
INSERT INTO customers (id, name, email) VALUES (10, 'Copycat', 'hedy@example.com');
\set VERBOSITY default
INSERT INTO customers (id, name, email) VALUES (10, 'Copycat', 'hedy@example.com')
    ON CONFLICT (email) DO NOTHING;
INSERT INTO customers (id, name, email) VALUES (5, 'Hedy K.', 'hedy@example.com')
    ON CONFLICT (email) DO UPDATE SET name = excluded.name, email = excluded.email;
SELECT id, privacy_guard.reveal(name) FROM customers WHERE email = privacy_guard.blind_index('hedy@example.com', 'contact');
-- ... also when the conflicting row is another subject's (the conflict key
-- is not the subject): excluded's values, sealed from the statement's own
-- plaintext for the proposed row's subject, are sealed again for the row
-- they are written to
INSERT INTO customers (id, name, email) VALUES (4005, 'Lamarr Hedy', 'hedy@example.com')
    ON CONFLICT (email) DO UPDATE SET name = excluded.name, email = excluded.email;
SELECT id, privacy_guard.reveal(name) AS name, privacy_guard.reveal(email) AS email,
       privacy_guard.check_sealed(name, 'identity', id::text) AND privacy_guard.check_sealed(email, 'contact', id::text, true) AS sealed_for_the_row
  FROM customers WHERE email = privacy_guard.blind_index('hedy@example.com', 'contact');
SELECT count(*) AS proposed_rows FROM customers WHERE id = 4005;
-- an envelope the statement did not seal from plaintext is still refused
-- there: another subject's value copied through excluded
\set VERBOSITY terse
INSERT INTO customers (id, name, email)
SELECT 4006, c.name, 'hedy@example.com' FROM customers c WHERE c.id = 6
    ON CONFLICT (email) DO UPDATE SET name = excluded.name;
UPDATE customers SET name = (SELECT c.name FROM customers c WHERE c.id = 6) WHERE id = 5;
-- ... nor may code that runs within an INSERT (a trigger of the table's
-- owner, a function in RETURNING) move the value just sealed from the
-- application's plaintext into another subject's row: its UPDATE is a
-- query of its own, not the upsert's
CREATE FUNCTION move_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customers SET name = NEW.name WHERE id = 6;
    RETURN NEW;
END $$;
CREATE TRIGGER move_name AFTER INSERT ON customers FOR EACH ROW EXECUTE FUNCTION move_name();
INSERT INTO customers (id, name, email) VALUES (4007, 'Ida Victim', 'ida@example.com');
DROP TRIGGER move_name ON customers;
CREATE FUNCTION move_name_to_6(n privacy_guard.encrypted_text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customers SET name = n WHERE id = 6;
    RETURN 6;
END $$;
INSERT INTO customers (id, name, email) VALUES (4008, 'Ivo Victim', 'ivo@example.com')
    ON CONFLICT (email) DO UPDATE SET name = excluded.name RETURNING move_name_to_6(name);
-- ... also not by one query of the trigger's that both inserts the value
-- (for the new row's subject) and updates another row with it
CREATE FUNCTION relay_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NEW;
    END IF;
    WITH i AS (INSERT INTO customers (id, name) VALUES (NEW.id, NEW.name) RETURNING name)
    UPDATE customers SET name = (SELECT name FROM i) WHERE id = 6;
    DELETE FROM customers WHERE id = NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER relay_name BEFORE INSERT ON customers FOR EACH ROW WHEN (NEW.id = 4009)
    EXECUTE FUNCTION relay_name();
INSERT INTO customers (id, name, email) VALUES (4009, 'Una Victim', 'una@example.com');
DROP TRIGGER relay_name ON customers;
-- ... and an upsert on a table with a BEFORE ROW trigger of its owner's,
-- which could make the proposed row conflict with a row of its choosing,
-- seals nothing again
CREATE FUNCTION redirect_email() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.email := 'hedy@example.com';
    RETURN NEW;
END $$;
CREATE TRIGGER redirect_email BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION redirect_email();
INSERT INTO customers (id, name, email) VALUES (4010, 'Vera Victim', 'vera@example.com')
    ON CONFLICT (email) DO UPDATE SET name = excluded.name;
DROP TRIGGER redirect_email ON customers;
-- ... nor one whose conflict the statement's own values did not decide: an
-- arbiter that is not a searchable column holding the same value (here a
-- column the table's owner fills by default, under a constraint the
-- application names)
CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE, note text, grp text DEFAULT 'sock' UNIQUE);
INSERT INTO accounts VALUES (1, 'owner@example.com', 'owner''s note', 'sock'), (2, 'two@example.com', 'two', 'two');
SELECT privacy_guard.protect('accounts', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('accounts', 'note', 'contact', 'id');
INSERT INTO accounts (id, email, note) VALUES (3, 'victim@example.com', 'victim''s note')
    ON CONFLICT ON CONSTRAINT accounts_grp_key DO UPDATE SET email = excluded.email, note = excluded.note;
-- ... nor a searchable column the INSERT leaves to its default
CREATE TABLE accounts2 (id int PRIMARY KEY, email text UNIQUE, phone text, note text);
INSERT INTO accounts2 VALUES (1, 'owner@example.com', '+1 555 0000', 'owner''s note');
SELECT privacy_guard.protect('accounts2', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('accounts2', 'phone', 'phone', 'id', searchable => true);
SELECT privacy_guard.protect('accounts2', 'note', 'contact', 'id');
ALTER TABLE accounts2 ALTER COLUMN phone SET DEFAULT '+1 555 0000';
ALTER TABLE accounts2 ADD CONSTRAINT accounts2_phone_key UNIQUE (phone);
INSERT INTO accounts2 (id, email, note) VALUES (3, 'victim@example.com', 'victim''s note')
    ON CONFLICT ON CONSTRAINT accounts2_phone_key DO UPDATE SET email = excluded.email, note = excluded.note;
DROP TABLE accounts2;
-- the application's own key value chose the row: sealed again for it
INSERT INTO accounts (id, email, note) VALUES (4, 'two@example.com', 'a new note')
    ON CONFLICT (email) DO UPDATE SET note = excluded.note;
SELECT id, privacy_guard.check_sealed(note, 'contact', id::text) AS sealed_for_the_row
  FROM accounts ORDER BY id;
DROP TABLE accounts;
SELECT count(*) AS moved FROM customers WHERE id IN (4007, 4008, 4009, 4010);
DROP FUNCTION move_name(), move_name_to_6(privacy_guard.encrypted_text), relay_name(), redirect_email();
\set VERBOSITY default
-- the application's own filter: plaintext against the column is a search,
-- checked and audited once per distinct value and statement, an index scan
SELECT id FROM customers WHERE email = 'hedy@example.com';
SELECT id FROM customers WHERE 'katherine@example.com' = email;
SELECT id FROM customers WHERE email IN ('hedy@example.com', 'mh@example.com', 'nobody@example.com') ORDER BY id;
PREPARE by_email AS SELECT id FROM customers WHERE email = $1;
EXECUTE by_email('mh@example.com');
-- a search in a PL/pgSQL expression (no executor of its own) is recorded
-- under the statement that ran it, not the one before
DO $$
DECLARE term bytea;
BEGIN
    term := privacy_guard.blind_index('hedy@example.com', 'contact');
END $$;
SELECT privacy_guard.audit_flush();
SELECT regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'search' ORDER BY id DESC LIMIT 3;
SELECT count(*) AS searches_before FROM privacy_guard.audit_log WHERE event = 'search' \gset
SELECT count(*) FROM customers c, generate_series(1, 50) WHERE c.phone = '+44 20 7946 0999';
SELECT privacy_guard.audit_flush();
SELECT count(*) - :searches_before AS search_records FROM privacy_guard.audit_log WHERE event = 'search';
-- a parameter the application typed text or varchar (JDBC's setString,
-- PREPARE ... (text)) is plaintext too: the same index scan, checked and
-- recorded as a search; an array of them is compared value by value
SELECT privacy_guard.audit_flush();
SELECT count(*) AS searches_before FROM privacy_guard.audit_log WHERE event = 'search' \gset
PREPARE by_text_email(text) AS SELECT id FROM customers WHERE email = $1;
EXECUTE by_text_email('mh@example.com');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) EXECUTE by_text_email('mh@example.com');
RESET enable_seqscan;
PREPARE by_varchar_email(varchar) AS SELECT id FROM customers WHERE $1 = email;
EXECUTE by_varchar_email('mh@example.com');
SELECT id FROM customers WHERE email = ANY (ARRAY['mh@example.com', 'nobody@example.com']::text[]);
SELECT count(*) AS others FROM customers WHERE email <> 'mh@example.com'::text;
SELECT privacy_guard.audit_flush();
SELECT count(*) - :searches_before AS search_records FROM privacy_guard.audit_log WHERE event = 'search';
\set VERBOSITY terse
SELECT id FROM customers WHERE email < 'mh@example.com'::text;
SELECT privacy_guard.reset_purpose();
EXECUTE by_text_email('mh@example.com');
SELECT privacy_guard.set_purpose('support');
\set VERBOSITY default
DEALLOCATE by_text_email;
DEALLOCATE by_varchar_email;
-- the operators plaintext of either type takes are the extension's own,
-- exact matches: an operator another role makes for varchar in a schema
-- after the extension's on the search path is not one
SELECT oprright::regtype, oprnamespace::regnamespace
  FROM pg_operator
 WHERE oprname = '=' AND oprleft = 'privacy_guard.encrypted_text'::regtype
   AND oprright IN ('text'::regtype, 'varchar'::regtype)
 ORDER BY 1;
-- one search is one record: the planner's estimate is not a search, nor is
-- a plain EXPLAIN
SELECT privacy_guard.audit_flush();
SELECT count(*) AS searches_before FROM privacy_guard.audit_log WHERE event = 'search' \gset
SELECT id FROM customers WHERE email = privacy_guard.blind_index('alan@example.com', 'contact');
EXPLAIN (COSTS OFF) SELECT id FROM customers WHERE email = privacy_guard.blind_index('mh@example.com', 'contact');
SELECT privacy_guard.audit_flush();
SELECT count(*) - :searches_before AS search_records FROM privacy_guard.audit_log WHERE event = 'search';
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM customers WHERE email = 'alan@example.com';
SELECT id FROM customers WHERE email = 'alan@example.com';
-- an IN list on an index scan would sort plaintext against plaintext:
-- refused with a hint; ORs of equalities search each value
SET enable_bitmapscan = off;
SELECT id FROM customers WHERE email IN ('alan@example.com', 'mh@example.com');
RESET enable_bitmapscan;
SELECT id FROM customers WHERE email = 'alan@example.com' OR email = 'mh@example.com' ORDER BY id;
RESET enable_seqscan;
-- a search answers equality only: a query's ordering operators refuse
-- encrypted values (plaintext or not)
SELECT count(*) FROM customers WHERE email < 'm';
-- the subjects a search found are recorded with it: access_history() shows
-- who searched for customer 2's address
SELECT privacy_guard.audit_flush();
SELECT event, purpose, category, outcome FROM privacy_guard.access_history('2') WHERE event = 'search';
-- ... kept in the search's record itself when the writer has both in one
-- batch (a one-subject search), and then not in a subjects row too
SELECT count(*) > 0 AS subject_in_records
  FROM privacy_guard.keys k JOIN privacy_guard.audit_records r ON r.subject_key = k.key_id
 WHERE k.kind = 'subject' AND k.name = '2' AND r.event = 'search';
SELECT count(*) AS recorded_twice
  FROM privacy_guard.audit_records r JOIN privacy_guard.audit_subjects s
    ON s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
 WHERE r.subject_key = ANY (s.key_ids);
-- A search's record is queued with the subjects it found when its
-- statement ends: several go into a subjects row beside it (the record
-- keeps none itself) ...
SELECT count(*) AS alan_before FROM privacy_guard.access_history('2') WHERE event = 'search' \gset
SELECT count(*) AS mh_before FROM privacy_guard.access_history('6') WHERE event = 'search' \gset
SELECT id FROM customers WHERE email = privacy_guard.blind_index('alan@example.com', 'contact')
    OR email = privacy_guard.blind_index('mh@example.com', 'contact') ORDER BY id;
-- ... and a search whose record was queued before it ended (audit_flush()
-- within the statement) keeps no subject in the record either: the
-- subjects found after are in rows that name it, by its queue position
CREATE FUNCTION search_flush_search() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM customers WHERE email = privacy_guard.blind_index('alan@example.com', 'contact');
    PERFORM privacy_guard.audit_flush();
    PERFORM 1 FROM customers WHERE email = privacy_guard.blind_index('mh@example.com', 'contact');
    RETURN 2;
END
$$;
SELECT search_flush_search() AS searches;
SELECT privacy_guard.audit_flush();
SELECT (SELECT count(*) FROM privacy_guard.access_history('2') WHERE event = 'search') - :alan_before AS alan_found,
       (SELECT count(*) FROM privacy_guard.access_history('6') WHERE event = 'search') - :mh_before AS mh_found;
SELECT r.subject_key IS NULL AS no_key_in_record, cardinality(s.key_ids) AS subjects_in_row
  FROM privacy_guard.audit_records r JOIN privacy_guard.audit_subjects s
    ON s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
 WHERE r.event = 'search' AND r.statement LIKE '%privacy_guard.blind_index($1, $2)%OR%'
 ORDER BY r.id DESC LIMIT 1;
SELECT r.subject_key IS NULL AS no_key_in_record, count(s.*) AS subjects_rows
  FROM privacy_guard.audit_records r JOIN privacy_guard.audit_subjects s
    ON s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
 WHERE r.event = 'search' AND r.statement LIKE '%search_flush_search()%'
 GROUP BY r.id, r.subject_key ORDER BY r.id DESC LIMIT 1;
DROP FUNCTION search_flush_search();
-- only the rows a search returns name their subjects, not the index entries
-- it meets: an UPDATE rolled back leaves an entry under customer 7001's key
-- for customer 7002's address, and a role that can write the table must not
-- plant "searched for 7001" by it; by an index scan, with blind_index(), by
-- a bitmap scan and by an index-only scan (each scan marks the dead entry
-- for the next to skip: it is planted again before each)
CREATE TABLE planted (id int PRIMARY KEY, email text);
INSERT INTO planted VALUES (7001, 'victim@example.com'), (7002, 'target@example.com');
SELECT privacy_guard.protect('planted', 'email', 'contact', 'id', searchable => true);
VACUUM planted;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
BEGIN;
UPDATE planted SET email = 'target@example.com' WHERE id = 7001;
ROLLBACK;
SELECT id FROM planted WHERE email = 'target@example.com';
BEGIN;
UPDATE planted SET email = 'target@example.com' WHERE id = 7001;
ROLLBACK;
SELECT id FROM planted WHERE email = privacy_guard.blind_index('target@example.com', 'contact');
BEGIN;
UPDATE planted SET email = 'target@example.com' WHERE id = 7001;
ROLLBACK;
EXPLAIN (COSTS OFF) SELECT email IS NOT NULL AS found FROM planted WHERE email = 'target@example.com';
SELECT email IS NOT NULL AS found FROM planted WHERE email = 'target@example.com';
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = on;
BEGIN;
UPDATE planted SET email = 'target@example.com' WHERE id = 7001;
ROLLBACK;
EXPLAIN (COSTS OFF) SELECT id FROM planted WHERE email = 'target@example.com';
SELECT id FROM planted WHERE email = 'target@example.com';
RESET enable_seqscan;
RESET enable_indexscan;
RESET enable_indexonlyscan;
RESET enable_bitmapscan;
SELECT privacy_guard.audit_flush();
SELECT (SELECT count(*) FROM privacy_guard.access_history('7001') WHERE event = 'search') AS planted_searches,
       (SELECT count(*) FROM privacy_guard.access_history('7002') WHERE event = 'search') AS true_searches;
-- a parameter cast to the type is pending under a new nonce each time it
-- is evaluated (in the index scan's key, in its filter): still one search
-- of one value, one record
PREPARE by_param(text) AS SELECT id FROM planted WHERE email = $1::privacy_guard.encrypted_text;
SELECT max(id) AS before_param FROM privacy_guard.audit_records \gset
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXECUTE by_param('target@example.com');
RESET enable_seqscan;
RESET enable_bitmapscan;
DEALLOCATE by_param;
SELECT privacy_guard.audit_flush();
SELECT string_agg(event, ', ' ORDER BY id) AS records
  FROM privacy_guard.audit_records WHERE id > :before_param AND event LIKE 'search%';
-- the index scan checks its condition first: a condition of the query's
-- own that shows the row and rejects it (set_config(), an error message)
-- sees it only once the search has recorded it
SELECT count(*) AS found_before FROM privacy_guard.access_history('7002') WHERE event = 'search' \gset
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT 1 FROM planted WHERE email = 'target@example.com' AND set_config('probe.id', id::text, false) IS NULL;
SELECT 1 FROM planted WHERE email = 'target@example.com' AND ('id=' || id)::int > 0;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- every comparison but the index's own records what it matched: the
-- equality function called directly, a row comparison, with a term
SELECT id FROM planted
 WHERE privacy_guard.encrypted_eq_term(email, privacy_guard.blind_index('target@example.com', 'contact'));
SELECT id FROM planted
 WHERE (email, id) = (privacy_guard.blind_index('target@example.com', 'contact'), 7002);
-- a query compares encrypted values by = and <> alone: a range of terms
-- would find a value's rows with no comparison ever equal (no check, no
-- record), on a sequential scan or through the index
SELECT privacy_guard.blind_index('target@example.com', 'contact') AS range_term \gset
SELECT id FROM planted
 WHERE email > substring(:'range_term'::bytea for 23) AND email < :'range_term'::bytea || '\x00'::bytea;
SET enable_seqscan = off;
SELECT id FROM planted
 WHERE email > substring(:'range_term'::bytea for 23) AND email < :'range_term'::bytea || '\x00'::bytea;
RESET enable_seqscan;
SELECT id FROM planted WHERE privacy_guard.encrypted_cmp_term(email, :'range_term'::bytea) = 0;
SELECT id FROM planted
 WHERE (email, id) >= (:'range_term'::bytea, 0) AND (email, id) <= (:'range_term'::bytea, 9999);
-- what orders values by the support function itself still does: a sort,
-- DISTINCT, a merge join
SELECT count(*) AS sorted FROM (SELECT email FROM planted ORDER BY email) o;
SELECT count(*) AS distinct_values FROM (SELECT DISTINCT email FROM planted) d;
SET enable_hashjoin = off;
SET enable_nestloop = off;
SELECT count(*) AS merge_joined FROM planted a JOIN planted b ON a.email = b.email;
RESET enable_nestloop;
RESET enable_hashjoin;
-- plaintext answers equality only: the support function outside an index's
-- scan (called directly, a row comparison, an array comparison, a sort)
-- refuses it, as the ordering operators do
SELECT id FROM planted WHERE privacy_guard.encrypted_cmp(email, 'target@example.com') = 0;
SELECT id FROM planted
 WHERE (email, id) >= ('target@example.com', 0) AND (email, id) <= ('target@example.com', 9999);
SELECT id FROM planted
 WHERE ARRAY[email] <= ARRAY['target@example.com'::privacy_guard.encrypted_text]
   AND ARRAY[email] >= ARRAY['target@example.com'::privacy_guard.encrypted_text];
SELECT id FROM (SELECT id, email FROM planted
                UNION ALL SELECT 0, 'target@example.com'::privacy_guard.encrypted_text) s
 ORDER BY email LIMIT 1;
SELECT privacy_guard.audit_flush();
SELECT count(*) - :found_before AS recorded_searches
  FROM privacy_guard.access_history('7002') WHERE event = 'search';
-- a match names a subject only from a value the write path sealed: its key
-- id, category and term are bound together; anyone can write an envelope's
-- bytes into a value of the type (a literal, a column nobody protected).
-- Customer 7001's value under customer 7002's key id, in a table nobody
-- protected, is refused when a search matches it, and names no one
SELECT decode(substr(email::text, 9), 'base64') AS victim_bytes FROM planted WHERE id = 7001 \gset
SELECT decode(substr(email::text, 9), 'base64') AS target_bytes FROM planted WHERE id = 7002 \gset
CREATE TEMP TABLE decoy AS
SELECT ('sealed1:' || replace(encode(overlay(:'victim_bytes'::bytea
            placing substring(:'target_bytes'::bytea from 3 for 8) from 3 for 8), 'base64'), E'\n', ''))
       ::privacy_guard.encrypted_text AS e;
SELECT count(*) FROM decoy WHERE e = 'target@example.com';
SELECT count(*) FROM decoy WHERE e = 'victim@example.com';
SELECT count(*) FROM decoy WHERE e = privacy_guard.blind_index('victim@example.com', 'contact');
-- the same value with its own term's bytes (no search checked at all)
SELECT count(*) FROM decoy
 WHERE e = substring(:'victim_bytes'::bytea from 12 + get_byte(:'victim_bytes'::bytea, 10) for 24);
-- a term compared with the column is a search by that term, checked and
-- recorded like blind_index()'s: bytes read from each value's text form,
-- compared by a role with no purpose, are refused at the first match
-- rather than naming every row's subject it reads
GRANT SELECT ON planted TO analyst;
SET ROLE analyst;
\set VERBOSITY terse
SELECT count(*) FROM planted
 WHERE email = substring(decode(substr(email::text, 9), 'base64')
                         from 12 + get_byte(decode(substr(email::text, 9), 'base64'), 10) for 24);
\set VERBOSITY default
RESET ROLE;
REVOKE SELECT ON planted FROM analyst;
-- a made-up value around a held term, compared by = with the column (a
-- search with no check if it matched): refused, as not authentic
SELECT ('sealed1:' || replace(encode('\x0401'::bytea || int8send(987654321) || '\x07'::bytea
            || convert_to('contact', 'UTF8') || :'range_term'::bytea || decode(repeat('00', 16), 'hex')
            || decode(repeat('00', 29), 'hex'), 'base64'), E'\n', '')) AS wrapped_term \gset
SELECT id FROM planted WHERE email = :'wrapped_term'::privacy_guard.encrypted_text;
-- made-up envelopes, of a key that does not exist and a category of no
-- policy, in the formats of 0.2 (3) and 0.3 (4): they match, name no one
CREATE TEMP TABLE forged AS
SELECT ('sealed1:' || replace(encode(CASE WHEN k % 2 = 0 THEN '\x0401'::bytea ELSE '\x0301'::bytea END
            || int8send(987654321 + k) || '\x05'::bytea
            || convert_to('zzfak', 'UTF8') || '\x0000000000000001'::bytea || decode(repeat('ab', 16), 'hex')
            || CASE WHEN k % 2 = 0 THEN decode(repeat('00', 16), 'hex') ELSE '' END
            || decode(repeat('00', 29), 'hex'), 'base64'), E'\n', ''))::privacy_guard.encrypted_text AS e
  FROM generate_series(1, 10) k;
SELECT count(*) FROM forged WHERE e = '\x0000000000000001'::bytea || decode(repeat('ab', 16), 'hex');
SELECT privacy_guard.audit_flush();
SELECT count(*) - :found_before AS recorded_searches
  FROM privacy_guard.access_history('7002') WHERE event = 'search';
SELECT count(*) AS made_up_categories FROM privacy_guard.audit_log WHERE category = 'zzfak';
-- a parallel worker knows neither the session's purpose nor the statement's
-- search group: comparisons run in the leader (PARALLEL RESTRICTED), and
-- one that a function marked PARALLEL SAFE takes into a worker is refused
CREATE TABLE many (id int PRIMARY KEY, email text);
INSERT INTO many SELECT g, 'many' || g || '@example.com' FROM generate_series(80001, 81000) g;
SELECT privacy_guard.protect('many', 'email', 'contact', 'id', searchable => true);
ANALYZE many;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT id FROM many WHERE email = (SELECT privacy_guard.blind_index('many80007@example.com', 'contact'));
SELECT id FROM many WHERE email = (SELECT privacy_guard.blind_index('many80007@example.com', 'contact'));
SELECT privacy_guard.audit_flush();
SELECT purpose, statement LIKE '%FROM many WHERE email%' AS names_statement
  FROM privacy_guard.access_history('80007') WHERE event = 'search';
SELECT privacy_guard.blind_index('many80007@example.com', 'contact') AS target_term \gset
CREATE FUNCTION same_term(e privacy_guard.encrypted_text, t bytea) RETURNS boolean
    LANGUAGE plpgsql PARALLEL SAFE AS $$ BEGIN RETURN e OPERATOR(privacy_guard.=) t; END $$;
\set VERBOSITY terse
SELECT id FROM many WHERE same_term(email, :'target_term'::bytea);
-- plaintext too, before any check (a worker would refuse it for want of a
-- purpose, and record that)
CREATE FUNCTION same_plain(e privacy_guard.encrypted_text, t text) RETURNS boolean
    LANGUAGE plpgsql PARALLEL SAFE
    AS $$ BEGIN RETURN e OPERATOR(privacy_guard.=) t::privacy_guard.encrypted_text; END $$;
SELECT id FROM many WHERE same_plain(email, 'many80007@example.com');
\set VERBOSITY default
DROP FUNCTION same_plain(privacy_guard.encrypted_text, text);
DROP FUNCTION same_term(privacy_guard.encrypted_text, bytea);
DROP TABLE many;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
RESET enable_indexonlyscan;
RESET enable_bitmapscan;
RESET enable_indexscan;
-- a plaintext longer than the memo keeps whole is one searched value too
-- (kept by its digest): one record, no closing record counting values
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM planted WHERE email = repeat('long', 600)::privacy_guard.encrypted_text;
RESET enable_bitmapscan;
RESET enable_indexscan;
SELECT privacy_guard.audit_flush();
SELECT event, outcome FROM privacy_guard.audit_log WHERE statement LIKE '%email = repeat(%' ORDER BY id;
-- a search run by CREATE TABLE AS or DECLARE CURSOR is recorded under
-- that statement's text (its query has no id of its own)
CREATE TEMP TABLE found_by_ctas AS SELECT id FROM planted WHERE email = 'target@example.com';
BEGIN;
DECLARE found_by_cursor CURSOR FOR SELECT id FROM planted WHERE email = 'victim@example.com';
DECLARE found_by_cursor_2 CURSOR FOR SELECT id FROM planted WHERE email = 'target@example.com';
FETCH ALL FROM found_by_cursor;
FETCH ALL FROM found_by_cursor_2;
COMMIT;
-- and EXPLAIN ANALYZE after another statement in one query string
SELECT 1 AS first_of_two \; EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id AS found_by_explain FROM planted WHERE email = 'target@example.com';
SELECT privacy_guard.audit_flush();
SELECT substring(statement from ': (.*)$') AS statement FROM privacy_guard.audit_log
 WHERE event = 'search' AND (statement LIKE '%found_by_ctas%' OR statement LIKE '%found_by_cursor%'
                             OR statement LIKE '%found_by_explain%')
 ORDER BY id;
-- what the planner runs for a statement (an IMMUTABLE function it folds,
-- here revealing a constant) is recorded under that statement, not the one
-- before it
CREATE FUNCTION planned_reveal(customer int) RETURNS int IMMUTABLE LANGUAGE plpgsql
    AS $$ BEGIN RETURN (SELECT length(privacy_guard.reveal(email, 'support')) FROM planted WHERE id = customer); END $$;
SELECT 'a statement before it' AS before;
SELECT planned_reveal(7002) AS revealed_while_planned;
SELECT privacy_guard.audit_flush();
SELECT substring(statement from ': (.*)$') AS statement FROM privacy_guard.audit_log
 WHERE event = 'reveal' ORDER BY id DESC LIMIT 1;
DROP FUNCTION planned_reveal(int);
-- an index scan for several blind_index() terms sorts them
SET enable_seqscan = off;
SELECT id FROM planted
 WHERE email = ANY (ARRAY[privacy_guard.blind_index('target@example.com', 'contact'),
                          privacy_guard.blind_index('victim@example.com', 'contact')])
 ORDER BY id;
RESET enable_seqscan;
-- terms compare STABLE, like plaintext: not in an index's predicate, where
-- the planner's proof would drop a search's comparison
CREATE INDEX planted_by_term ON planted (id) WHERE email = '\x00'::bytea;
-- each evaluation of a search checks the role's purpose and a lockdown,
-- even within one statement's time: the statements of one query message,
-- of a DO block, a function called again in the transaction
\set VERBOSITY terse
SELECT privacy_guard.blind_index('target@example.com', 'contact') IS NOT NULL AS checked \; SELECT privacy_guard.reset_purpose() \; SELECT privacy_guard.blind_index('target@example.com', 'contact') IS NOT NULL AS unchecked;
SELECT privacy_guard.set_purpose('support');
DO $$
DECLARE n int;
BEGIN
    SELECT count(*) INTO n FROM planted WHERE email = privacy_guard.blind_index('target@example.com', 'contact');
    PERFORM privacy_guard.reset_purpose();
    SELECT count(*) INTO n FROM planted WHERE email = privacy_guard.blind_index('target@example.com', 'contact');
    RAISE NOTICE 'found % without a purpose', n;
END $$;
SELECT privacy_guard.set_purpose('support');
CREATE FUNCTION term_of(v text) RETURNS bytea LANGUAGE plpgsql
    AS $f$ BEGIN RETURN privacy_guard.blind_index(v, 'contact'); END $f$;
BEGIN;
SELECT term_of('target@example.com') IS NOT NULL AS checked;
SELECT privacy_guard.reset_purpose();
SELECT term_of('target@example.com') IS NOT NULL AS unchecked;
ROLLBACK;
\set VERBOSITY default
DROP FUNCTION term_of(text);
SELECT privacy_guard.set_purpose('support');
-- a kept term is forgotten when a lockdown begins (or the policy, the role
-- or its purpose changes): a statement that goes on searching a value it
-- searched before is refused, in the btree's own scan too (the count of an
-- absent value returns no row for the filter to check); the lockdown ends
-- with the block's error
SET enable_seqscan = off;
SET enable_bitmapscan = off;
\set VERBOSITY terse
DO $$
DECLARE n int;
BEGIN
    FOR i IN 1..2 LOOP
        IF i = 2 THEN
            PERFORM privacy_guard.lockdown('a statement searching on');
        END IF;
        SELECT count(*) INTO n FROM planted WHERE email = 'nobody@example.com';
        RAISE NOTICE 'pass %: % found', i, n;
    END LOOP;
END $$;
\set VERBOSITY default
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE planted;
-- a purpose changed within the statement, after the search's check, does
-- not hide the subjects the search then matches (a role holding a second
-- purpose, allowed the category too): they go to the search's record; a
-- purpose not allowed the category stops the search at once (each
-- comparison checks the role's purpose)
CREATE TABLE switched (id int PRIMARY KEY, email text);
INSERT INTO switched VALUES (1001, 'first@example.com');
INSERT INTO switched SELECT g, 'shared@example.com' FROM generate_series(1002, 3001) g;
SELECT privacy_guard.protect('switched', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.define_purpose('second_look');
SELECT privacy_guard.allow('second_look', 'contact');
SELECT privacy_guard.grant_purpose(current_user::regrole, 'second_look');
SELECT privacy_guard.define_purpose('third_look');
SELECT privacy_guard.grant_purpose(current_user::regrole, 'third_look');
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT (SELECT id FROM switched LIMIT 1) AS scanned_first;
SELECT privacy_guard.set_purpose('support');
SELECT count(*) AS matched FROM switched
 WHERE email = 'shared@example.com'
    OR (CASE WHEN id = 1001 THEN privacy_guard.set_purpose('second_look') END) = 'zz';
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.audit_flush();
SELECT count(*) AS subjects_found
  FROM privacy_guard.keys k
 WHERE k.kind = 'subject' AND k.name IN (SELECT g::text FROM generate_series(1002, 3001) g)
   AND EXISTS (SELECT 1 FROM privacy_guard.access_history(k.name) h WHERE h.event = 'search');
-- a search is its purpose's: the same value searched again in one
-- statement's time under another purpose is checked, charged and recorded
-- again, under that purpose
SELECT max(id) AS before_purposes FROM privacy_guard.audit_records \gset
SELECT count(*) AS under_support FROM switched WHERE email = privacy_guard.blind_index('first@example.com', 'contact') \; SELECT privacy_guard.set_purpose('second_look') \; SELECT count(*) AS under_second_look FROM switched WHERE email = privacy_guard.blind_index('first@example.com', 'contact');
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.audit_flush();
SELECT string_agg(purpose, ', ' ORDER BY id) AS searched_under
  FROM privacy_guard.audit_records WHERE id > :before_purposes AND event = 'search';
\set VERBOSITY terse
SELECT count(*) AS matched FROM switched
 WHERE email = 'shared@example.com'
    OR (CASE WHEN id = 1001 THEN privacy_guard.set_purpose('third_look') END) = 'zz';
\set VERBOSITY default
SELECT privacy_guard.set_purpose('support');
RESET enable_indexscan;
RESET enable_bitmapscan;
-- a cursor fetched after other statements: what it then matches is still
-- recorded (its first FETCH ran the check, in a statement whose search
-- group has ended), as a search of its own; each row its index scan returns
-- is compared again, checked: once its role has reset its purpose, the rest
-- of the search is refused (a FETCH reads its matches a leaf page at a
-- time: many rows, to reach past the first)
SET enable_bitmapscan = off;
SET enable_seqscan = off;
SELECT count(*) AS before_cursor FROM privacy_guard.access_history('2000') WHERE event = 'search' \gset
BEGIN;
DECLARE later CURSOR FOR
  SELECT id FROM switched WHERE email = privacy_guard.blind_index('shared@example.com', 'contact');
FETCH 2 FROM later;
SELECT 1 AS between_fetches;
MOVE FORWARD 1000 IN later;
SELECT privacy_guard.reset_purpose();
\set VERBOSITY terse
MOVE FORWARD ALL IN later;
\set VERBOSITY default
ROLLBACK;
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.audit_flush();
SELECT count(*) - :before_cursor AS found_by_a_later_fetch
  FROM privacy_guard.access_history('2000') WHERE event = 'search';
RESET enable_bitmapscan;
RESET enable_seqscan;
-- a search an IMMUTABLE function runs while the planner folds the call
-- into a constant is executed: checked and recorded like any (a term saved
-- from an earlier statement is a search again: without a purpose, refused)
SELECT encode(privacy_guard.blind_index('shared@example.com', 'contact'), 'hex') AS saved_term \gset
CREATE FUNCTION folded_search(t bytea) RETURNS bigint IMMUTABLE LANGUAGE plpgsql
    AS $f$ BEGIN RETURN (SELECT count(*) FROM switched WHERE email = t); END $f$;
SELECT privacy_guard.reset_purpose();
SELECT privacy_guard.audit_flush();
SELECT count(*) AS searches_before FROM privacy_guard.audit_log WHERE event = 'search' \gset
SELECT folded_search(decode(:'saved_term', 'hex')) AS folded;
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.audit_flush();
SELECT count(*) - :searches_before AS folded_searches_recorded
  FROM privacy_guard.audit_log WHERE event = 'search';
DROP FUNCTION folded_search(bytea);
DROP TABLE switched;
-- the subjects records name are indexed by the writer in runs (of 4 records
-- here: test/privacy_guard.conf), merged level by level; access_history()
-- finds every record naming a key, through the runs and after the last one
CREATE TABLE runs_probe (id int PRIMARY KEY, email text);
INSERT INTO runs_probe SELECT g, 'probe' || g || '@example.com' FROM generate_series(9001, 9020) g;
SELECT privacy_guard.protect('runs_probe', 'email', 'contact', 'id', searchable => true);
\set ECHO none
\o /dev/null
SELECT format('SELECT id FROM runs_probe WHERE email = %L', 'probe' || (g * 7) % 20 + 9001 || '@example.com')
  FROM generate_series(1, 300) g ORDER BY (g * 7919) % 300 \gexec
\o
\set ECHO all
SELECT privacy_guard.audit_flush();
SELECT max(level) >= 1 AS runs_merged, bool_and(first_id <= last_id) AS runs_ordered
  FROM privacy_guard.audit_subject_runs;
CREATE TEMP VIEW runs_found AS
SELECT count(*) AS probes, min(h) AS fewest_found, count(*) FILTER (WHERE h <> b) AS differ_from_the_trail
  FROM (SELECT (SELECT count(*) FROM privacy_guard.access_history(k.name) h
                 WHERE h.event = 'search' AND h.outcome = 'searched') AS h,
               (SELECT count(*) FROM privacy_guard.audit_records r
                 WHERE r.event = 'search' AND r.outcome = 'searched'
                   AND (r.subject_key = k.key_id
                        OR EXISTS (SELECT 1 FROM privacy_guard.audit_subjects s
                                    WHERE s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
                                      AND k.key_id = ANY (s.key_ids)))) AS b
          FROM privacy_guard.keys k
          JOIN runs_probe p ON k.kind = 'subject' AND k.name = p.id::text) t;
SELECT * FROM runs_found;
-- runs emptied under the writer (by a superuser) are written again from
-- the trail before the writer adds one
DELETE FROM privacy_guard.audit_subject_runs;
\set ECHO none
\o /dev/null
SELECT format('SELECT id FROM runs_probe WHERE email = %L', 'probe' || g || '@example.com')
  FROM generate_series(9001, 9010) g \gexec
\o
\set ECHO all
SELECT privacy_guard.audit_flush();
SELECT * FROM runs_found;
SELECT min(first_id) AS runs_from FROM privacy_guard.audit_subject_runs;
-- a damaged run is refused, never read past its end
SELECT privacy_guard.audit_run_ids('\x80', 1, 1);
SELECT privacy_guard.audit_run_ids('\x0102', 1, 1) AS one_pair;
DROP VIEW runs_found;
DROP TABLE runs_probe;
-- a search is checked when it runs, never folded into a plan: a prepared
-- comparison of constants is refused once the purpose is gone
SELECT email AS alan_email FROM customers WHERE id = 2 \gset
PREPARE folded AS SELECT :'alan_email'::privacy_guard.encrypted_text = 'alan@example.com'::privacy_guard.encrypted_text AS is_alan;
EXECUTE folded;
SELECT privacy_guard.reset_purpose();
\set VERBOSITY terse
EXECUTE folded;
\set VERBOSITY default
DEALLOCATE folded;
SELECT privacy_guard.set_purpose('support');
-- a value on its way to a protected column is not a search: code of the
-- table's owner that sees it between the binding and the sealing trigger
-- cannot compare it (and learn its term under another category)
CREATE FUNCTION spy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM NEW.name OPERATOR(privacy_guard.=) (SELECT c.email FROM customers c WHERE c.id = 2);
    RETURN NEW;
END $$;
CREATE TRIGGER m_spy BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION spy();
UPDATE customers SET name = 'Alan M. Turing' WHERE id = 2;
DROP TRIGGER m_spy ON customers;
DROP FUNCTION spy();
-- it needs what blind_index() needs: a declared purpose allowed the category
SELECT privacy_guard.reset_purpose();
\set VERBOSITY terse
SELECT id FROM customers WHERE email = 'hedy@example.com';
\set VERBOSITY default
SELECT privacy_guard.set_purpose('delivery');
SELECT id FROM customers WHERE email = 'hedy@example.com';
SELECT privacy_guard.set_purpose('support');
-- comparisons without terms are refused, with a hint: two plaintexts,
-- values of a column that is not searchable, plaintext against them
SELECT 'a'::privacy_guard.encrypted_text = 'a'::privacy_guard.encrypted_text;
SELECT count(*) FROM customers a JOIN customers b ON a.name = b.name;
SELECT id FROM customers WHERE name = 'Hedy K.';
RESET search_path;
-- terms come only from plaintext: a value sealed for a column that is not
-- searchable cannot be laundered into one of the same category (the write
-- path would compute its term), nor a term carried into a column that has none
CREATE TABLE launder (id int PRIMARY KEY, shown_masked text, searchable_copy text);
SELECT privacy_guard.protect('launder', 'shown_masked', 'phone', 'id');
SELECT privacy_guard.protect('launder', 'searchable_copy', 'phone', 'id', searchable => true);
INSERT INTO launder VALUES (1, '+44 20 7946 0111', '+44 20 7946 0222');
UPDATE launder SET searchable_copy = shown_masked WHERE id = 1;
UPDATE launder SET shown_masked = searchable_copy WHERE id = 1;
-- past the trigger, the CHECK refuses the same
SET session_replication_role = replica;
UPDATE launder SET searchable_copy = shown_masked WHERE id = 1;
RESET session_replication_role;
-- a forged term (the term is authenticated with the value)
SELECT searchable_copy AS launder_copy FROM launder WHERE id = 1 \gset
UPDATE launder SET searchable_copy = 'sealed1:' || translate(encode(
           set_byte(decode(substr(:'launder_copy', 9), 'base64'), 25,
                    get_byte(decode(substr(:'launder_copy', 9), 'base64'), 25) # 1), 'base64'), E'\n', '')
 WHERE id = 1;
-- the row's own value written back keeps its term (a restore, an application)
UPDATE launder SET searchable_copy = searchable_copy, shown_masked = shown_masked WHERE id = 1;
SELECT privacy_guard.reveal(searchable_copy, 'delivery') FROM launder;
DROP TABLE launder;
-- a category nothing was indexed under has no search term
SELECT privacy_guard.blind_index('x', 'identity') IS NULL AS no_term;
SELECT privacy_guard.blind_index('x', 'nope');
-- a purpose not allowed the category, a purpose that needs each subject's
-- consent, a role without the purpose, no purpose: refused
SET ROLE marketer;
SELECT privacy_guard.set_purpose('marketing');
SELECT privacy_guard.blind_index('hedy@example.com', 'contact');
RESET ROLE;
SET ROLE courier;
SELECT privacy_guard.set_purpose('delivery');
SELECT privacy_guard.blind_index('hedy@example.com', 'contact');
RESET ROLE;
SET ROLE analyst;
SELECT privacy_guard.blind_index('hedy@example.com', 'contact');
RESET ROLE;
SET ROLE app;
SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) privacy_guard.blind_index('hedy@example.com', 'contact');
RESET ROLE;

-- attacks on the write path
-- ciphertext copied to another subject's row
UPDATE customers SET email = (SELECT email FROM customers WHERE id = 1) WHERE id = 2;
UPDATE customers SET name = (SELECT name FROM customers WHERE id = 1) WHERE id = 2;
-- ciphertext copied to another category's column of the same subject
UPDATE customers SET note = NULL, phone = (SELECT email::text FROM customers WHERE id = 1)::privacy_guard.encrypted_text WHERE id = 1;
-- a forged envelope of the right subject and category: refused at once,
-- not discovered at the next reveal
SELECT email AS row1_email FROM customers WHERE id = 1 \gset
UPDATE customers SET email = 'sealed1:' || translate(encode(
           set_byte(decode(substr(:'row1_email', 9), 'base64'), 40,
                    get_byte(decode(substr(:'row1_email', 9), 'base64'), 40) # 1), 'base64'), E'\n', '')
 WHERE id = 1;
-- writing back the row's own envelope is accepted (a restore)
UPDATE customers SET email = (SELECT email FROM customers c WHERE c.id = 1) WHERE id = 1;
SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 1;
-- the subject changes but the sealed values do not
UPDATE customers SET id = 100 WHERE id = 1;
-- a null subject
INSERT INTO customers (id, name) VALUES (NULL, 'Nobody');
-- triggers bypassed: replica mode and disabled triggers are refused by the CHECK
SET session_replication_role = replica;
INSERT INTO customers (id, name) VALUES (20, 'Replica Plaintext');
INSERT INTO customers (id, name) VALUES (21, NULL);
RESET session_replication_role;
-- (the guard refuses to disable the trigger, see below; past it, as only a
-- superuser who edits privacy_guard's catalog gets, the CHECK still refuses)
CREATE TEMP TABLE lifted AS SELECT * FROM privacy_guard.column_protection;
DELETE FROM privacy_guard.column_protection;
ALTER TABLE customers DISABLE TRIGGER USER;
UPDATE customers SET name = 'Disabled Trigger' WHERE id = 2;
UPDATE customers SET name = (SELECT name FROM customers WHERE id = 1) WHERE id = 2;
ALTER TABLE customers ENABLE TRIGGER USER;
INSERT INTO privacy_guard.column_protection SELECT * FROM lifted;
DROP TABLE lifted;
SELECT count(*) FROM customers WHERE id IN (20, 21);
-- DELETE needs nothing
DELETE FROM customers WHERE id = 7;

-- subject columns are ids of built-in types: no user-defined cast, no
-- setting, decides whose key seals a value
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE odd_subjects (b boolean, m mood, ts timestamptz, v text);
SELECT privacy_guard.protect('odd_subjects', 'v', 'contact', 'b');
SELECT privacy_guard.protect('odd_subjects', 'v', 'contact', 'm');
SELECT privacy_guard.protect('odd_subjects', 'v', 'contact', 'ts');
DROP TABLE odd_subjects;
DROP TYPE mood;
-- names protect() derives must fit
CREATE TABLE long_names (id int, a_column_name_long_enough_to_leave_no_room_for_any_suffix_x text);
SELECT privacy_guard.protect('long_names', 'a_column_name_long_enough_to_leave_no_room_for_any_suffix_x', 'contact', 'id');
DROP TABLE long_names;
-- the table altered behind protect()'s back: writes fail cleanly
CREATE TABLE altered (id int, v text);
SELECT privacy_guard.protect('altered', 'v', 'contact', 'id');
-- (past the guard, as only a superuser who edits privacy_guard's catalog gets)
DELETE FROM privacy_guard.column_protection WHERE tbl = 'altered'::regclass;
ALTER TABLE altered DROP CONSTRAINT v_sealed;
ALTER TABLE altered ALTER COLUMN v TYPE int8 USING NULL;
INSERT INTO altered VALUES (1, 42);
ALTER TABLE altered DROP COLUMN v;
INSERT INTO altered VALUES (2);
DROP TABLE altered;
-- a policy owner protects a table of their own (protect() runs with their rights)
CREATE TABLE owned (id int, v text);
ALTER TABLE owned OWNER TO policy_owner;
GRANT CREATE ON SCHEMA public TO policy_owner;   -- for the index on the subject column
INSERT INTO owned VALUES (1, 'owned plaintext');
SET ROLE policy_owner;
SELECT privacy_guard.protect('owned', 'v', 'contact', 'id', searchable => true);
SELECT left(v::text, 8) FROM owned;
-- but cannot record a protection for a table they do not own
SELECT privacy_guard.register_protection('customers', 'note', 'contact', 'id', NULL);
RESET ROLE;
DROP TABLE owned;
REVOKE CREATE ON SCHEMA public FROM policy_owner;

-- a dropped table takes its protection records with it
CREATE TABLE dropped (id int, v text);
SELECT privacy_guard.protect('dropped', 'v', 'contact', 'id');
SELECT count(*) FROM privacy_guard.column_protection WHERE tbl::oid = 'dropped'::regclass::oid;
SELECT 'dropped'::regclass::oid AS dropped_oid \gset
DROP TABLE dropped;
SELECT count(*) FROM privacy_guard.column_protection WHERE tbl::oid = :dropped_oid;
-- admins compute index terms only for collectable categories
SELECT privacy_guard.seal_searchable('x', 'health', '1');
-- an inheritance tree is refused: the ALTERs would check a child's
-- constraints with the caller's rights, and a child's rows would be
-- written past the parent's trigger
CREATE TABLE family (id int, email text);
CREATE TABLE family_child (CHECK (email <> '')) INHERITS (family);
SELECT privacy_guard.protect('family', 'email', 'contact', 'id');
SELECT privacy_guard.protect('family_child', 'email', 'contact', 'id');
DROP TABLE family CASCADE;
-- a temporary table is refused: it goes with its session, which no event
-- trigger sees, and its row in the catalog would outlive it
CREATE TEMP TABLE passing (id int, email text);
SELECT privacy_guard.protect('passing', 'email', 'contact', 'id');
SELECT count(*) FROM privacy_guard.column_protection WHERE tbl = 'passing'::regclass;
DROP TABLE passing;
-- a default given to a protected column as migration tools write it (an
-- untyped literal) is read as text, and sealed when a row takes it
CREATE TABLE defaulted (id int PRIMARY KEY, email text);
SELECT privacy_guard.protect('defaulted', 'email', 'contact', 'id');
ALTER TABLE defaulted ALTER COLUMN email SET DEFAULT 'nobody@example.com';
SELECT pg_get_expr(adbin, adrelid) AS stored_default FROM pg_attrdef WHERE adrelid = 'defaulted'::regclass;
INSERT INTO defaulted (id) VALUES (1);
SELECT privacy_guard.reveal(email, 'support') AS email, email::text LIKE 'sealed1:%' AS sealed FROM defaulted;
-- (also from a function's cached statement, run twice)
CREATE FUNCTION set_defaulted() RETURNS void LANGUAGE plpgsql AS $$
BEGIN ALTER TABLE defaulted ALTER COLUMN email SET DEFAULT 'later@example.com'; END $$;
SELECT set_defaulted();
SELECT set_defaulted();
INSERT INTO defaulted (id) VALUES (2);
SELECT privacy_guard.reveal(email, 'support') AS email FROM defaulted WHERE id = 2;
DROP FUNCTION set_defaulted();
DROP TABLE defaulted;

-- COPY round trip of envelopes (what pg_dump does): accepted unchanged
SELECT name AS dumped_name FROM customers WHERE id = 2 \gset
DELETE FROM customers WHERE id = 2;
INSERT INTO customers (id, name) VALUES (2, :'dumped_name');
SELECT name::text = :'dumped_name' AS unchanged, privacy_guard.reveal(name, 'support') FROM customers WHERE id = 2;
-- and refused in another subject's row
INSERT INTO customers (id, name) VALUES (30, :'dumped_name');

-- The guard: DDL that would undo a protection is refused, for the table's
-- owner and for a superuser alike (2BP01), unless unprotect() goes first.
CREATE ROLE guard_owner;
GRANT CREATE ON SCHEMA public TO guard_owner;
SELECT privacy_guard.grant_purpose('guard_owner', 'profile');
SET ROLE guard_owner;
CREATE FUNCTION guard_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
-- a table's owner without privacy_guard_admin is told what it lacks
CREATE TABLE not_yet (id int, email text);
SELECT privacy_guard.protect('not_yet', 'email', 'contact', 'id');
DROP TABLE not_yet;
BEGIN;
CREATE TABLE guarded (id int, email text UNIQUE, phone text, note text);
CREATE TRIGGER early BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION guard_touch();
CREATE TABLE guard_parent (id int);
CREATE TABLE guard_parts (id int) PARTITION BY LIST (id);
CREATE TYPE guard_type AS (id int);
-- subject columns that depend on their owner's collations
CREATE COLLATION guard_coll FROM "C";
CREATE COLLATION guard_coll_erase FROM "C";
CREATE TABLE guard_by_coll (id text COLLATE guard_coll, v text);
CREATE TABLE guard_erase_by_coll (id text COLLATE guard_coll_erase, n int);
RESET ROLE;
SELECT privacy_guard.protect('guarded', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('guarded', 'phone', 'phone', 'id');
SELECT privacy_guard.protect('guard_by_coll', 'v', 'contact', 'id');
SELECT privacy_guard.set_erasure_action('guard_erase_by_coll', 'delete', 'id');
COMMIT;
INSERT INTO guarded VALUES (1, 'one@example.com', '+1 555 0101', 'first');
-- each statement's outcome: done, or its SQLSTATE and message
CREATE FUNCTION ddl_outcome(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'done';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a foreign table made to look like guarded (its columns and CHECKs), on a
-- server its owner may use
CREATE FOREIGN DATA WRAPPER guard_fdw;
CREATE SERVER guard_srv FOREIGN DATA WRAPPER guard_fdw;
GRANT USAGE ON FOREIGN SERVER guard_srv TO guard_owner;
SET ROLE guard_owner;
SELECT format('CREATE FOREIGN TABLE guard_foreign (%s%s) SERVER guard_srv',
              (SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum)
                 FROM pg_attribute WHERE attrelid = 'guarded'::regclass AND attnum > 0 AND NOT attisdropped),
              (SELECT string_agg(format(', CONSTRAINT %I %s', conname, pg_get_constraintdef(oid)), '' ORDER BY conname)
                 FROM pg_constraint WHERE conrelid = 'guarded'::regclass AND contype = 'c')) \gexec
RESET ROLE;
CREATE TABLE forbidden_ddl (n int, stmt text);
GRANT SELECT ON forbidden_ddl TO guard_owner;
INSERT INTO forbidden_ddl VALUES
    (1, 'ALTER TABLE guarded DISABLE TRIGGER zz_privacy_guard_seal'),
    (2, 'ALTER TABLE guarded DISABLE TRIGGER ALL'),
    (3, 'ALTER TABLE guarded DISABLE TRIGGER USER'),
    (4, 'ALTER TABLE guarded ENABLE REPLICA TRIGGER zz_privacy_guard_seal'),
    (5, 'DROP TRIGGER zz_privacy_guard_seal ON guarded'),
    (6, 'ALTER TRIGGER zz_privacy_guard_seal ON guarded RENAME TO sealing'),
    (7, 'CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON guarded FOR EACH ROW '
        'EXECUTE FUNCTION privacy_guard.seal_row(''phone'', ''phone'', ''id'', '''')'),
    (8, 'CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON guarded FOR EACH ROW '
        'WHEN (false) EXECUTE FUNCTION privacy_guard.seal_row(''email'', ''contact'', ''id'', ''searchable'', '
        '''phone'', ''phone'', ''id'', '''')'),
    (9, 'ALTER TRIGGER zz_privacy_guard_seal ON guarded DEPENDS ON EXTENSION plpgsql'),
    (10, 'CREATE TRIGGER zzz_late BEFORE UPDATE ON guarded FOR EACH ROW EXECUTE FUNCTION guard_touch()'),
    (11, 'ALTER TRIGGER early ON guarded RENAME TO zzz_late'),
    (12, 'ALTER TABLE guarded DROP CONSTRAINT email_sealed'),
    (13, 'ALTER TABLE guarded RENAME CONSTRAINT phone_sealed TO phone_checked'),
    (14, 'ALTER TABLE guarded ALTER COLUMN email TYPE text USING NULL'),
    (15, 'ALTER TABLE guarded ALTER COLUMN id TYPE bigint'),
    (17, 'ALTER TABLE guarded RENAME COLUMN phone TO mobile'),
    (18, 'ALTER TABLE guarded RENAME COLUMN id TO customer_id'),
    (20, 'ALTER TABLE guarded DROP COLUMN phone'),
    (21, 'ALTER TABLE guarded DROP COLUMN id CASCADE'),
    (23, 'ALTER TABLE guarded INHERIT guard_parent'),
    (24, 'ALTER TABLE guard_parent INHERIT guarded'),
    (25, 'CREATE TABLE guard_child () INHERITS (guarded)'),
    (26, 'ALTER TABLE guard_parts ATTACH PARTITION guarded FOR VALUES IN (1)'),
    (27, 'ALTER TABLE guarded OF guard_type'),
    -- renameatt() renames a table's column whatever kind of relation the
    -- statement names
    (28, 'ALTER VIEW guarded RENAME COLUMN email TO e2'),
    (29, 'ALTER VIEW guarded RENAME COLUMN id TO customer_id'),
    (30, 'ALTER MATERIALIZED VIEW guarded RENAME COLUMN phone TO mobile'),
    -- ALTER FOREIGN TABLE puts a table into an inheritance tree as ALTER TABLE does
    (32, 'ALTER FOREIGN TABLE guard_foreign INHERIT guarded'),
    -- the extension's schema: the guard leaves the extension's own tables alone
    (33, 'ALTER TABLE guarded SET SCHEMA privacy_guard'),
    -- a column dropped as a dependency: the subject of a protected column,
    -- erasure's subject column
    (34, 'DROP COLLATION guard_coll CASCADE'),
    (35, 'DROP COLLATION guard_coll_erase CASCADE'),
    -- the binding trigger, first of the BEFORE row triggers, and a rule
    -- that would rewrite writes before any trigger
    (36, 'ALTER TABLE guarded DISABLE TRIGGER "!privacy_guard_bind"'),
    (37, 'DROP TRIGGER "!privacy_guard_bind" ON guarded'),
    (38, 'CREATE TRIGGER " early" BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION guard_touch()'),
    (39, 'ALTER TRIGGER early ON guarded RENAME TO " early"'),
    (40, 'CREATE RULE guard_rule AS ON INSERT TO guarded DO INSTEAD NOTHING');
-- as the table's owner
SET ROLE guard_owner;
SELECT n, ddl_outcome(stmt) AS outcome FROM forbidden_ddl ORDER BY n;
RESET ROLE;
-- as a superuser
SELECT n, left(ddl_outcome(stmt), 5) AS sqlstate FROM forbidden_ddl ORDER BY n;
-- protect()'s catalog step alone does not make a column protected: it
-- needs the validated sealing CHECK protect() adds first
CREATE TABLE half_protected (id int, v privacy_guard.encrypted_text CONSTRAINT v_sealed CHECK (true));
SELECT privacy_guard.register_protection('half_protected', 'v', 'contact', 'id', NULL);
ALTER TABLE half_protected DROP CONSTRAINT v_sealed;
ALTER TABLE half_protected ADD CONSTRAINT v_sealed
    CHECK (privacy_guard.check_sealed(v, 'contact', id::text)) NOT VALID;
SELECT privacy_guard.register_protection('half_protected', 'v', 'contact', 'id', NULL);
ALTER TABLE half_protected DROP CONSTRAINT v_sealed;
ALTER TABLE half_protected ADD CONSTRAINT v_sealed
    CHECK (privacy_guard.check_sealed(v, 'phone', id::text));
SELECT privacy_guard.register_protection('half_protected', 'v', 'contact', 'id', NULL);
SELECT count(*) FROM privacy_guard.column_protection WHERE tbl::oid = 'half_protected'::regclass::oid;
DROP TABLE half_protected;
-- a protected table in the extension's schema that is not the extension's
-- own is guarded there too (past the SET SCHEMA refusal, as only a superuser
-- who edits privacy_guard's catalog gets)
CREATE TABLE privacy_guard.guard_moved (id int, v privacy_guard.encrypted_text CONSTRAINT v_sealed CHECK (true));
INSERT INTO privacy_guard.column_protection (tbl, col, category, subject_col)
VALUES ('privacy_guard.guard_moved', 'v', 'contact', 'id');
SELECT ddl_outcome('ALTER TABLE privacy_guard.guard_moved DROP CONSTRAINT v_sealed') AS drop_check,
       ddl_outcome('ALTER TABLE privacy_guard.guard_moved ALTER COLUMN v TYPE text USING NULL') AS retype;
DELETE FROM privacy_guard.column_protection WHERE tbl = 'privacy_guard.guard_moved'::regclass;
DROP TABLE privacy_guard.guard_moved;
-- the errors name what is refused and say what to do
ALTER TABLE guarded SET SCHEMA privacy_guard;
SET ROLE guard_owner;
ALTER TABLE guarded ALTER COLUMN id TYPE bigint;
ALTER TABLE guarded DISABLE TRIGGER USER;
-- what the planner evaluates for the table's readers, with the purpose they
-- declared: an index's expression or predicate, a statistics object's
-- expression may use built-in functions only (a function of the owner's
-- could reveal what the reader may see); the same on an existing table at
-- protect()
SET ROLE guard_owner;
CREATE FUNCTION guard_k() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN 0; END $$;
CREATE INDEX guarded_k ON guarded ((id + guard_k()));
CREATE INDEX guarded_k ON guarded (id) WHERE guard_k() = 0;
CREATE STATISTICS guarded_k ON (id + guard_k()), note FROM guarded;
ALTER TABLE guarded ADD CONSTRAINT guarded_k EXCLUDE USING btree ((id + guard_k()) WITH =);
-- a CHECK too: constraint exclusion folds it for a UNION ALL's members
ALTER TABLE guarded ADD CONSTRAINT guarded_k CHECK (guard_k() = 0);
-- and privacy_guard's functions that reveal, search or declare a purpose
-- (a CHECK runs them with the writer's purpose) are not the extension's
-- to lend: only its immutable ones and the sealing CHECK
ALTER TABLE guarded ADD CONSTRAINT guarded_k CHECK (privacy_guard.reveal(phone, 'delivery') IS NOT NULL OR true) NOT VALID;
ALTER TABLE guarded ADD CONSTRAINT guarded_k CHECK (privacy_guard.blind_index('x', 'contact') IS NOT NULL) NOT VALID;
ALTER TABLE guarded ADD CONSTRAINT guarded_k CHECK (privacy_guard.set_purpose('delivery') IS NOT NULL) NOT VALID;
ALTER TABLE guarded ADD CONSTRAINT guarded_class CHECK (privacy_guard.classify_value(note) IS DISTINCT FROM 'health') NOT VALID;
ALTER TABLE guarded DROP CONSTRAINT guarded_class;
-- CONCURRENTLY would commit the index before the check (and REINDEX make it valid)
CREATE INDEX CONCURRENTLY guarded_k ON guarded ((id + guard_k()));
CREATE INDEX CONCURRENTLY guarded_k ON guarded (id) WHERE guard_k() = 0;
SELECT count(*) AS leftover FROM pg_class WHERE relname = 'guarded_k';
CREATE INDEX guarded_lower ON guarded (lower(note)) WHERE id > 0;     -- built-in: accepted
CREATE STATISTICS guarded_stats ON (lower(note)), id FROM guarded;
DROP INDEX guarded_lower;
DROP STATISTICS guarded_stats;
RESET ROLE;
CREATE TABLE k_indexed (id int, v text);
CREATE INDEX ON k_indexed ((id + guard_k()));
SELECT privacy_guard.protect('k_indexed', 'v', 'contact', 'id');
DROP TABLE k_indexed;
-- ANALYZE of a table with searchable and other encrypted columns: null
-- fraction and width, no values of either (and no comparison of values that
-- have no search term)
ANALYZE guarded;
SELECT attname, null_frac, avg_width > 0 AS width, most_common_vals IS NULL AS no_values,
       histogram_bounds IS NULL AS no_histogram
  FROM pg_stats WHERE tablename = 'guarded' AND attname IN ('email', 'phone') ORDER BY 1;
DROP FUNCTION guard_k();
-- the rest stays the owner's: other columns, triggers that run before the
-- sealing trigger or after the row is written, the same trigger again
ALTER TABLE guarded ALTER COLUMN note TYPE varchar(100), ALTER COLUMN email SET DEFAULT NULL;
ALTER TABLE guarded RENAME COLUMN note TO remark;
CREATE TRIGGER zzz_after AFTER UPDATE ON guarded FOR EACH ROW EXECUTE FUNCTION guard_touch();
ALTER TRIGGER early ON guarded RENAME TO a_early;
ALTER TABLE guarded ENABLE ALWAYS TRIGGER zz_privacy_guard_seal;
RESET ROLE;
SELECT ddl_outcome('CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON guarded FOR EACH ROW '
                   'EXECUTE FUNCTION privacy_guard.seal_row(''email'', ''contact'', ''id'', ''searchable'', '
                   '''phone'', ''phone'', ''id'', '''')') AS same_trigger_again;
-- protect() refuses a table where a BEFORE row trigger would run after the
-- sealing trigger
CREATE TABLE late_trigger (id int, v text);
CREATE TRIGGER zzz_late BEFORE INSERT ON late_trigger FOR EACH ROW EXECUTE FUNCTION guard_touch();
SELECT privacy_guard.protect('late_trigger', 'v', 'contact', 'id');
DROP TRIGGER zzz_late ON late_trigger;
CREATE TRIGGER " early" BEFORE UPDATE ON late_trigger FOR EACH ROW EXECUTE FUNCTION guard_touch();
SELECT privacy_guard.protect('late_trigger', 'v', 'contact', 'id');
DROP TRIGGER " early" ON late_trigger;
CREATE RULE no_insert AS ON INSERT TO late_trigger DO INSTEAD NOTHING;
SELECT privacy_guard.protect('late_trigger', 'v', 'contact', 'id');
DROP TABLE late_trigger;

-- The application's plaintext is bound to its column's category before
-- the owner's triggers see it: one that moves it into a column of another
-- category (which the owner might be allowed to reveal) is refused; a
-- value a trigger makes itself is sealed as its column's.
SET ROLE guard_owner;
CREATE FUNCTION guard_move() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.phone := NEW.email; RETURN NEW; END $$;
CREATE TRIGGER mover BEFORE INSERT OR UPDATE ON guarded FOR EACH ROW EXECUTE FUNCTION guard_move();
INSERT INTO guarded VALUES (2, 'two@example.com', NULL, 'moved');
UPDATE guarded SET email = 'one.again@example.com' WHERE id = 1;
CREATE OR REPLACE FUNCTION guard_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO guard_by_coll VALUES ('2', NEW.email);   -- another table's column, same category
    NEW.phone := '+1 555 0202';
    RETURN NEW;
END $$;
INSERT INTO guarded VALUES (2, 'two@example.com', NULL, 'made');
SELECT id, phone IS NOT NULL AS has_phone FROM guarded WHERE id = 2;
SELECT count(*) FROM guard_by_coll WHERE id = '2';
-- nor into the row of another subject (one whose consent the owner
-- controls, or who will not be erased), nor keep it while changing the
-- row's subject
CREATE OR REPLACE FUNCTION guard_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO guard_by_coll VALUES ('someone else', NEW.email);
    RETURN NEW;
END $$;
INSERT INTO guarded VALUES (3, 'three@example.com', NULL, 'copied');
CREATE OR REPLACE FUNCTION guard_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.id := 4;
    RETURN NEW;
END $$;
INSERT INTO guarded VALUES (3, 'three@example.com', NULL, 'renumbered');
SELECT count(*) AS rows_3_or_4 FROM guarded WHERE id IN (3, 4);
DROP TRIGGER mover ON guarded;
DROP FUNCTION guard_move();
DELETE FROM guarded WHERE id = 2;
DELETE FROM guard_by_coll;
-- the owner's code may not receive the application's plaintext before it
-- is bound: no INSTEAD OF trigger or write rule on a view (or table) with
-- a column of an encrypted type
CREATE VIEW guarded_v AS SELECT * FROM guarded;
CREATE FUNCTION guard_instead() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_v FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE RULE guard_v_insert AS ON INSERT TO guarded_v DO INSTEAD
    INSERT INTO guarded (id, email, phone) VALUES (NEW.id, NEW.phone, NEW.email);
-- also through a domain over an encrypted type, or an encrypted column
-- added to a view that has such a trigger
CREATE DOMAIN guard_etext AS privacy_guard.encrypted_text;
CREATE VIEW guarded_d AS SELECT id, email::guard_etext AS email FROM guarded;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_d FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE VIEW guarded_w AS SELECT id FROM guarded;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_w FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE OR REPLACE VIEW guarded_w AS SELECT id, email FROM guarded;
-- also when a same-named relation in pg_temp comes first in the search
CREATE TEMP TABLE guarded_w (x int);
CREATE OR REPLACE VIEW public.guarded_w AS SELECT id, email FROM guarded;
SET search_path = public;
CREATE OR REPLACE VIEW guarded_w AS SELECT id, email FROM guarded;
RESET search_path;
DROP TABLE pg_temp.guarded_w;
-- nor when code the ALTER runs changes the search path before the check
CREATE TABLE guard_flipped (x int);
INSERT INTO guard_flipped VALUES (1);
CREATE VIEW guarded_f AS SELECT NULL::guard_flipped AS r;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_f FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE FUNCTION guard_flip() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('search_path', 'pg_catalog', false);
    RETURN true;
END $$;
SET search_path = public;
ALTER TABLE guard_flipped ADD COLUMN e privacy_guard.encrypted_text, ADD CONSTRAINT flip CHECK (guard_flip());
RESET search_path;
DROP VIEW guarded_f;
DROP TABLE guard_flipped;
DROP FUNCTION guard_flip();
-- nor when PostgreSQL makes a replaced view temporary (it reads a temporary table)
CREATE TEMP TABLE guard_tmp (e privacy_guard.encrypted_text);
CREATE TEMP VIEW guard_tv AS SELECT 1 AS x;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guard_tv FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE OR REPLACE VIEW guard_tv AS SELECT 1 AS x, e FROM guard_tmp;
DROP VIEW guard_tv;
DROP TABLE guard_tmp;
-- a composite field, an inheritance child, a typed table
CREATE TYPE guard_wrap AS (e privacy_guard.encrypted_text);
CREATE VIEW guarded_c AS SELECT id, ROW(email)::guard_wrap AS w FROM guarded;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_c FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE TABLE guard_par (id int);
CREATE TABLE guard_kid () INHERITS (guard_par);
CREATE RULE kid_insert AS ON INSERT TO guard_kid DO INSTEAD NOTHING;
ALTER TABLE guard_par ADD COLUMN e privacy_guard.encrypted_text;
CREATE TYPE guard_shape AS (id int);
CREATE TABLE guard_typed OF guard_shape;
CREATE RULE typed_insert AS ON INSERT TO guard_typed DO INSTEAD NOTHING;
ALTER TYPE guard_shape ADD ATTRIBUTE e privacy_guard.encrypted_text CASCADE;
-- deep in composites, arrays of domains over arrays, ranges
CREATE TYPE guard_c0 AS (e privacy_guard.encrypted_text);
DO $$ BEGIN
    FOR i IN 1 .. 10 LOOP
        EXECUTE format('CREATE TYPE guard_c%s AS (x guard_c%s)', i, i - 1);
    END LOOP;
END $$;
CREATE VIEW guarded_deep AS SELECT NULL::guard_c10 AS x;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_deep FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE DOMAIN guard_darr AS privacy_guard.encrypted_text[];
CREATE VIEW guarded_arr AS SELECT NULL::guard_darr[] AS x;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_arr FOR EACH ROW EXECUTE FUNCTION guard_instead();
CREATE TYPE guard_range AS RANGE (subtype = guard_c0);
CREATE VIEW guarded_range AS SELECT NULL::guard_range AS x;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_range FOR EACH ROW EXECUTE FUNCTION guard_instead();
DROP VIEW guarded_deep, guarded_arr, guarded_range;
DROP TYPE guard_range;
DROP DOMAIN guard_darr;
DO $$ BEGIN
    FOR i IN REVERSE 10 .. 0 LOOP
        EXECUTE format('DROP TYPE guard_c%s', i);
    END LOOP;
END $$;
-- an inheritance child's or a typed table's row type that a view uses,
-- given an encrypted column through its parent or its type
CREATE TABLE guard_par2 (a int);
CREATE TABLE guard_kid2 () INHERITS (guard_par2);
CREATE VIEW guarded_k AS SELECT NULL::guard_kid2 AS c;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_k FOR EACH ROW EXECUTE FUNCTION guard_instead();
ALTER TABLE guard_par2 ADD COLUMN e privacy_guard.encrypted_text;
CREATE TYPE guard_shape2 AS (a int);
CREATE TABLE guard_typed2 OF guard_shape2;
CREATE VIEW guarded_t AS SELECT NULL::guard_typed2 AS c;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_t FOR EACH ROW EXECUTE FUNCTION guard_instead();
ALTER TYPE guard_shape2 ADD ATTRIBUTE e privacy_guard.encrypted_text CASCADE;
-- and a typed table's inheritance child, whose row type follows its type
CREATE TYPE guard_shape3 AS (a int);
CREATE TABLE guard_typed3 OF guard_shape3;
CREATE TABLE guard_kid3 (s text) INHERITS (guard_typed3);
CREATE RULE kid3_insert AS ON INSERT TO guard_kid3 DO INSTEAD NOTHING;
ALTER TYPE guard_shape3 ADD ATTRIBUTE e privacy_guard.encrypted_text CASCADE;
DROP TABLE guard_kid3, guard_typed3;
DROP TYPE guard_shape3;
DROP VIEW guarded_k, guarded_t;
DROP TABLE guard_kid2, guard_par2, guard_typed2;
DROP TYPE guard_shape2;
-- a row type that a view's column uses, given an encrypted field later
CREATE TYPE guard_note AS (note text);
CREATE VIEW guarded_n AS SELECT 1 AS id, NULL::guard_note AS n;
CREATE TRIGGER guard_instead INSTEAD OF INSERT ON guarded_n FOR EACH ROW EXECUTE FUNCTION guard_instead();
ALTER TYPE guard_note ADD ATTRIBUTE secret privacy_guard.encrypted_text;
DROP VIEW guarded_n;
DROP TYPE guard_note;
DROP TABLE guard_kid, guard_par, guard_typed;
DROP TYPE guard_shape;
DROP VIEW guarded_d, guarded_w, guarded_c;
DROP TYPE guard_wrap;
DROP DOMAIN guard_etext;
-- a plain view writes through to the table, and its triggers
INSERT INTO guarded_v (id, email) VALUES (5, 'five@example.com');
SELECT count(*) AS via_view FROM guarded WHERE id = 5;
DELETE FROM guarded WHERE id = 5;
DROP VIEW guarded_v;
DROP FUNCTION guard_instead();
RESET ROLE;
-- a row-security policy runs as whoever reads or writes the table, with
-- their declared purpose: on a protected table it may use only built-in
-- functions and operators, and no view
SET ROLE guard_owner;
CREATE FUNCTION guard_peek(privacy_guard.encrypted_text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE POLICY peek ON guarded USING (guard_peek(email));
CREATE POLICY by_id ON guarded USING (id > 0);
ALTER POLICY by_id ON guarded USING (guard_peek(phone));
CREATE VIEW guard_ids AS SELECT 1 AS id;
CREATE POLICY via_view ON guarded USING (id IN (SELECT id FROM guard_ids));
-- nor through a built-in that runs SQL, a table read in a subquery (its own
-- policies, or a rule making it a view later), or a domain's CHECK
CREATE POLICY via_xml ON guarded USING (query_to_xml('SELECT 1', false, false, '') IS NOT NULL);
CREATE TABLE guard_gate (k int);
CREATE POLICY via_table ON guarded USING (EXISTS (SELECT 1 FROM guard_gate));
CREATE DOMAIN guard_checked AS int CHECK (VALUE > 0);
CREATE POLICY via_domain ON guarded USING ((id::guard_checked) IS NOT NULL);
CREATE TYPE guard_box AS (x guard_checked);
CREATE POLICY via_composite ON guarded USING (('(' || id || ')')::guard_box IS NOT NULL);
CREATE POLICY via_whole_row ON guarded USING (guarded::text IS NOT NULL);
CREATE POLICY via_set_config ON guarded USING (set_config('search_path', 'public, pg_catalog', false) IS NOT NULL);
CREATE POLICY via_record_in ON guarded USING (record_in('(1)'::cstring, 'guard_box'::regtype, -1) IS NOT NULL);
CREATE POLICY via_domain_in ON guarded USING (domain_in('1'::cstring, 'guard_checked'::regtype, -1) IS NOT NULL);
CREATE POLICY via_xact_id ON guarded USING (pg_current_xact_id() IS NOT NULL);
CREATE POLICY via_sql_builtin ON guarded USING (information_schema._pg_char_max_length(25, -1) IS NULL);
CREATE TYPE guard_mood AS ENUM ('ok');
CREATE POLICY via_cast_lookup ON guarded USING (to_jsonb('ok'::guard_mood) IS NOT NULL);
DROP TYPE guard_mood;
CREATE FUNCTION guard_ne(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT $1 <> $2 $$;
CREATE OPERATOR !== (leftarg = text, rightarg = text, function = guard_ne);
CREATE OPERATOR === (leftarg = text, rightarg = text, function = pg_catalog.texteq, negator = !==);
CREATE POLICY via_negator ON guarded USING (NOT (id::text === 'nobody'));
DROP OPERATOR === (text, text);
DROP OPERATOR !== (text, text);
DROP FUNCTION guard_ne(text, text);
-- ordinary expressions pass
CREATE POLICY plain_forms ON guarded USING (ROW(id) IS NOT NULL AND coalesce(id, 1) > 0 AND greatest(id, 1) > 0
                                            AND id IN (1, 2) AND CASE WHEN id > 0 THEN true ELSE false END
                                            AND ARRAY[id] @> ARRAY[current_setting('app.tenant', true)::int]
                                            AND 'tenant_' || id = current_setting('app.label', true)
                                            AND format('%s', id) <> '');
DROP POLICY plain_forms ON guarded;
DROP TYPE guard_box;
CREATE POLICY by_tenant ON guarded USING (id::text = current_setting('app.tenant', true) OR current_user = 'guard_owner');
DROP POLICY by_tenant ON guarded;
DROP TABLE guard_gate;
DROP DOMAIN guard_checked;
SELECT polname FROM pg_policy WHERE polrelid = 'guarded'::regclass;
DROP POLICY by_id ON guarded;
CREATE TABLE policed (id int, v text);
CREATE POLICY peek ON policed USING (guard_peek(NULL));
RESET ROLE;
SELECT privacy_guard.protect('policed', 'v', 'contact', 'id');
DROP TABLE policed;
DROP VIEW guard_ids;
DROP FUNCTION guard_peek(privacy_guard.encrypted_text);
-- a table erasure or retention visits keeps being a table: no rule on it
CREATE TABLE erased_only (customer_id int, total numeric);
ALTER TABLE erased_only OWNER TO guard_owner;
SELECT privacy_guard.set_erasure_action('erased_only', 'delete', 'customer_id');
SET ROLE guard_owner;
CREATE RULE "_RETURN" AS ON SELECT TO erased_only DO INSTEAD SELECT 1 AS customer_id, 1::numeric AS total;
RESET ROLE;
DROP TABLE erased_only;
-- a subject is one exact string: a nondeterministic collation would make
-- "hal" and "HAL" one subject to erasure
CREATE COLLATION guard_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE members (id text COLLATE guard_ci, email text);
SELECT privacy_guard.protect('members', 'email', 'contact', 'id');
SELECT privacy_guard.set_erasure_action('members', 'delete', 'id');
DROP TABLE members;
DROP COLLATION guard_ci;

-- unprotect(): for the table's owner holding privacy_guard_admin; refusals
SET ROLE guard_owner;
SELECT privacy_guard.unprotect('guarded', 'email');          -- not an admin
RESET ROLE;
SET ROLE policy_owner;
SELECT privacy_guard.unprotect('guarded', 'email');          -- not the owner
SELECT privacy_guard.unregister_protection('guarded', 'email');
RESET ROLE;
GRANT guard_owner TO policy_owner;
SET ROLE policy_owner;
SELECT privacy_guard.unprotect('guarded', NULL);
SELECT privacy_guard.unprotect('guarded', 'remark');         -- not protected
SELECT privacy_guard.unprotect('guarded', 'id');             -- the subject of protected columns
RESET ROLE;
SELECT privacy_guard.unprotect('pg_class', 'relname');
SELECT privacy_guard.unprotect('privacy_guard.keys', 'name');
-- the owner's admin unprotects one column: its CHECK and its trigger entry
-- go; the column keeps its type, its sealed values and their terms, its
-- index, and gets the CHECK of every encrypted column nothing seals
SET ROLE policy_owner;
SELECT privacy_guard.unprotect('guarded', 'email');
RESET ROLE;
SELECT column_name, category, subject_column, searchable FROM privacy_guard.protected_columns
 WHERE table_name = 'guarded';
SELECT conname FROM pg_constraint WHERE conrelid = 'guarded'::regclass ORDER BY 1;
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'guarded'::regclass ORDER BY 1;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'guarded'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT privacy_guard.reveal(email, 'profile') AS email FROM guarded;
-- audited, naming the table and the column, never a value
SELECT privacy_guard.audit_flush();
SET ROLE auditor;
SELECT current_role_name, event, category, table_name, column_name, outcome, statement
  FROM privacy_guard.audit_log WHERE event = 'unprotect' ORDER BY id;
RESET ROLE;
-- the other column stays protected: its plaintext is sealed; the unprotected
-- one takes sealed values as they are, and refuses plaintext, which nothing
-- would seal (unprotect() locks the table until commit: retype or drop the
-- column in the same transaction)
INSERT INTO guarded (id, phone, email) VALUES (2, '+1 555 0102', privacy_guard.seal('two@example.com'::text, 'contact', '2'));
SELECT id, left(phone::text, 8) AS phone, privacy_guard.reveal(phone, 'delivery') AS revealed,
       privacy_guard.reveal(email, 'profile') AS email FROM guarded ORDER BY id;
-- (refused before its UNIQUE index would compare the plaintext as a search)
\set VERBOSITY terse
INSERT INTO guarded (id, phone, email) VALUES (3, '+1 555 0103', 'three@example.com');
\set VERBOSITY default
SELECT email FROM guarded WHERE id = 3;
DELETE FROM guarded WHERE id = 3;
-- and what was refused before is the owner's again: the column, by a role
-- holding a purpose that sees it in full (each value audited)
SET ROLE guard_owner;
ALTER TABLE guarded ALTER COLUMN email TYPE text USING privacy_guard.reveal(email, 'profile');
ALTER TABLE guarded RENAME COLUMN email TO mail;
RESET ROLE;
SELECT id, mail FROM guarded ORDER BY id;
-- the trigger still guards the other column; protect() adds a column to it
SET ROLE guard_owner;
ALTER TABLE guarded DISABLE TRIGGER zz_privacy_guard_seal;
RESET ROLE;
SELECT privacy_guard.protect('guarded', 'remark', 'browsing', 'id');
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'guarded'::regclass AND tgname = 'zz_privacy_guard_seal';
-- the last protected column takes the trigger with it; erasure keeps
-- finding the table's rows through the subject column, which stays guarded
SET ROLE policy_owner;
SELECT privacy_guard.unprotect('guarded', 'remark');
SELECT privacy_guard.unprotect('guarded', 'phone');
RESET ROLE;
SELECT count(*) AS sealing_triggers FROM pg_trigger WHERE tgrelid = 'guarded'::regclass AND tgname = 'zz_privacy_guard_seal';
SELECT tbl, action, subject_col FROM privacy_guard.erasure_actions WHERE tbl = 'guarded'::regclass;
SET ROLE guard_owner;
ALTER TABLE guarded DISABLE TRIGGER USER;
ALTER TABLE guarded DROP COLUMN phone;
ALTER TABLE guarded ALTER COLUMN id TYPE bigint;
RESET ROLE;
SET ROLE policy_owner;
SELECT privacy_guard.unprotect('guarded', 'id');
RESET ROLE;
SELECT count(*) AS erasure_actions FROM privacy_guard.erasure_actions WHERE tbl = 'guarded'::regclass;
SET ROLE guard_owner;
ALTER TABLE guarded ALTER COLUMN id TYPE bigint;
CREATE TABLE guard_child () INHERITS (guarded);
RESET ROLE;
SELECT privacy_guard.audit_flush();
SET ROLE auditor;
SELECT column_name, category, statement FROM privacy_guard.audit_log WHERE event = 'unprotect' ORDER BY id;
RESET ROLE;
-- nothing of it is PUBLIC's
SELECT p.oid::regprocedure, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_run,
       has_function_privilege('privacy_guard_admin', p.oid, 'EXECUTE') AS admin_can_run
  FROM pg_proc p WHERE p.pronamespace = 'privacy_guard'::regnamespace
   AND p.proname IN ('unprotect', 'unregister_protection') ORDER BY 1;
REVOKE guard_owner FROM policy_owner;
DROP FOREIGN TABLE guard_foreign;
DROP SERVER guard_srv;
DROP FOREIGN DATA WRAPPER guard_fdw;
DROP TABLE guard_child, guarded, guard_parent, guard_parts, forbidden_ddl;
-- with its tables, a collation goes
DROP TABLE guard_by_coll, guard_erase_by_coll;
DROP COLLATION guard_coll;
DROP COLLATION guard_coll_erase;
DROP TYPE guard_type;
DROP FUNCTION guard_touch(), ddl_outcome(text);
REVOKE CREATE ON SCHEMA public FROM guard_owner;
SELECT privacy_guard.revoke_purpose('guard_owner', 'profile');
DROP ROLE guard_owner;

-- rotate_search_key() re-seals a table whose row holds two searchable
-- columns of the category: rewriting one checks the other, still under the
-- old key, until both are done
CREATE TABLE two_emails (id int PRIMARY KEY, email text, alt_email text);
INSERT INTO two_emails VALUES (1, 'one@example.com', 'uno@example.com');
SELECT privacy_guard.protect('two_emails', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('two_emails', 'alt_email', 'contact', 'id', searchable => true);
SELECT privacy_guard.rotate_search_key('contact') > 0 AS rotated;
SELECT privacy_guard.set_purpose('support');
SELECT id FROM two_emails
 WHERE alt_email OPERATOR(privacy_guard.=) 'uno@example.com'
   AND email OPERATOR(privacy_guard.=) 'one@example.com';
SELECT privacy_guard.reset_purpose();
-- a trigger of the table's owner that writes a value under the old key into
-- a column the rotation already re-sealed undoes the rotation, named
CREATE FUNCTION copy_old_email() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.email::text IS DISTINCT FROM OLD.email::text THEN
        NEW.alt_email := OLD.email;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER copy_old BEFORE UPDATE ON two_emails FOR EACH ROW EXECUTE FUNCTION copy_old_email();
\set VERBOSITY terse
SELECT privacy_guard.rotate_search_key('contact');
\set VERBOSITY default
DROP TRIGGER copy_old ON two_emails;
DROP FUNCTION copy_old_email();
SELECT privacy_guard.rotate_search_key('contact') > 0 AS rotated;
DROP TABLE two_emails;
-- making search terms outside a search (protect() of a searchable column,
-- seal_searchable() on its rows) is recorded, once a statement and
-- category, and refused during a lockdown: an administrator could
-- otherwise confirm values with no purpose and no trace
GRANT CREATE ON SCHEMA public TO policy_owner;
SET ROLE policy_owner;
SELECT privacy_guard.current_purpose() IS NULL AS no_purpose;
SELECT privacy_guard.seal_searchable(v, 'contact', 'guess') IS NOT NULL AS sealed
  FROM (VALUES ('guess1@example.com'), ('guess2@example.com')) AS g (v);
CREATE TABLE scratch_terms (id int PRIMARY KEY, v text);
INSERT INTO scratch_terms VALUES (1, 'guess3@example.com');
SELECT privacy_guard.protect('scratch_terms', 'v', 'contact', 'id', searchable => true);
RESET ROLE;
SELECT privacy_guard.audit_flush();
SELECT current_role_name, event, category, table_name, column_name, outcome,
       regexp_replace(statement, 'query -?[0-9]+', 'query <id>') AS statement
  FROM privacy_guard.audit_log WHERE event = 'protect' ORDER BY id DESC LIMIT 3;
SELECT privacy_guard.lockdown('terms test');
SET ROLE policy_owner;
\set VERBOSITY terse
SELECT privacy_guard.seal_searchable('guess4@example.com', 'contact', 'guess');
CREATE TABLE scratch_empty (id int PRIMARY KEY, v text);
SELECT privacy_guard.protect('scratch_empty', 'v', 'contact', 'id', searchable => true);
\set VERBOSITY default
-- protecting without a term is still allowed
SELECT privacy_guard.protect('scratch_empty', 'v', 'contact', 'id');
RESET ROLE;
SELECT privacy_guard.lift_lockdown('terms test done');
SELECT privacy_guard.audit_flush();
SELECT current_role_name, event, outcome, statement
  FROM privacy_guard.audit_log WHERE event = 'protect' ORDER BY id DESC LIMIT 3;
DROP TABLE scratch_terms, scratch_empty;
REVOKE CREATE ON SCHEMA public FROM policy_owner;

-- CLEANUP
DROP TABLE customers;

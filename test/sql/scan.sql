-- Discovery: classify_value() and name_suggests() label values and column
-- names; scan() samples the tables the caller may read and reports columns
-- that look like personal data, with few false positives; audited.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
-- discovery is for administrators and auditors: the analyst audits
GRANT privacy_guard_auditor TO analyst;
-- Other tests leave tables behind: everything scanned here lives in scan_test,
-- and found() keeps scan()'s rows about it, in a stable order.
CREATE SCHEMA scan_test;
CREATE FUNCTION scan_test.found(sample_rows integer DEFAULT 1000)
RETURNS TABLE (tbl text, col name, suspected text, hits integer, sampled integer, protected boolean)
LANGUAGE sql AS $$
    SELECT s.tbl::text, s.col, s.suspected, s.hits, s.sampled, s.protected
      FROM privacy_guard.scan(sample_rows) s
     WHERE s.tbl::oid IN (SELECT oid FROM pg_class WHERE relnamespace = 'scan_test'::regnamespace)
     ORDER BY 1, 2, 3
$$;
-- 16-digit numbers that are no card: ids, md5-derived (deterministic)
CREATE FUNCTION scan_test.id16(g integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT 1000000000000000 + ('x' || substr(md5(g::text), 1, 15))::bit(60)::bigint % 9000000000000000
$$;

-- TESTS
-- classify_value(): each of the four, in the shapes they come in
SELECT v AS value, privacy_guard.classify_value(v) AS label FROM (VALUES
    ('ada@example.com'), ('  Grace.Hopper+navy@mail.example.co.uk  '), ('o''brien@example.ie'),
    ('jörg@bücher.de'), ('x@xn--bcher-kva.de'),
    ('+49 30 1234567'), ('+4915112345678'), ('+1 (555) 123-4567'), ('(555) 123-4567'), ('555-123-4567'),
    ('555.123.4567'), ('030 1234567'), ('0151-12345678'), ('030/1234567'), ('06 12 34 56 78'),
    ('+33 6 12 34 56 78'), ('+49 (0)30 1234567'), ('0049 30 1234567'),
    ('4111 1111 1111 1111'), ('4111-1111-1111-1111'), ('4111111111111111'), ('5555555555554444'),
    ('2223003122003222'), ('378282246310005'), ('3782 822463 10005'), ('6011111111111117'),
    ('3530111333300000'), ('30569309025904'),
    ('DE89 3704 0044 0532 0130 00'), ('DE89370400440532013000'), ('de89 3704 0044 0532 0130 00'),
    ('DE98370400440000000042'), ('GB82 WEST 1234 5698 7654 32'), ('NL91ABNA0417164300'), ('FR14 2004 1010 0505 0001 3M02 606'),
    ('NO9386011117947')) t(v);
-- and what is none of them: nearly-right ones first
SELECT v AS value, privacy_guard.classify_value(v) AS label FROM (VALUES
    ('a@b'), ('a@b.c'), ('user@localhost'), ('a..b@example.com'), ('.a@example.com'), ('x@-a.com'),
    ('x@1.2.3.4'), ('a@b@example.com'), ('@example.com'), ('mail me at ada@example.com'),
    ('4111111111111112'),                   -- Luhn fails
    ('4111 1111-1111 1111'),                -- two kinds of separator
    ('41 11111111111111'),                  -- not card groups
    ('490154203237518'),                    -- an IMEI: Luhn holds, no issuer has it
    ('7000000000000005'),                   -- Luhn holds, no issuer prefix
    ('4222222222222'),                      -- a 13-digit Visa, no longer issued
    ('DE89 3704 0044 0532 0130 01'),        -- mod 97 fails
    ('DE8937040044053201300'),              -- one character short for DE
    ('XX89370400440532013000'),             -- no such country
    ('DE01370400440000000042'),             -- check digits 01 are never issued (98 is)
    ('NO9386011117948'),
    -- order totals, amounts, integers
    ('129.90'), ('-129.90'), ('1234567.89'), ('1.234.567'), ('12.345.678'), ('1 234 567'), ('1,234,567'),
    ('4915112345678'), ('-1234567'), ('0'),
    -- dates, times
    ('2024-01-15'), ('15.01.2024'), ('01/15/2024'), ('1/5/2024'), ('20240115'), ('2024-01-15 10:30:00'),
    ('2024-01-15T10:30:00Z'), ('10:30'), ('08:00-12:00'), ('0800 - 1200'),
    -- SKUs, ids, postcodes
    ('SKU-10023'), ('ORD-2024-000123'), ('2024-000123'), ('10115'), ('12345-6789'), ('12345-678'),
    ('123-4567'), ('SW1A 1AA'), ('123-45-6789'),
    -- uuids, addresses of machines, versions, ISBNs
    ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), ('12345678-1234-1234-1234-123456789012'),
    ('192.168.100.200'), ('10.0.0.1'), ('2001:db8::1'), ('1.2.3'), ('10.15.7.1234'), ('v2.10.3'),
    ('978-3-16-148410-0'),
    -- phones that are not quite
    ('+0 123 4567'), ('+12 345'), ('555 1234'), ('(555 123-4567'), ('555) 123-4567'), ('555-123-4567 ext 9'),
    -- nothing, unusual text
    ('N/A'), (''), ('   '), ('-'), ('１２３４５６７８９０'), ('٠١٥١ ١٢٣٤٥٦٧٨'), ('☎ +49 30 1234567')) t(v);
-- NULL in, NULL out; long values are refused without being read
SELECT privacy_guard.classify_value(NULL) IS NULL AS null_is_null;
SELECT privacy_guard.classify_value(repeat('a', 240) || '@example.com') AS long_local_part,
       privacy_guard.classify_value('ada@' || repeat('a', 250) || '.com') AS long_domain,
       privacy_guard.classify_value(repeat(' ', 100000) || 'ada@example.com') AS padded,
       privacy_guard.classify_value(repeat('4111 1111 1111 1111 ', 50000)) AS megabyte;
-- random 16-digit ids: about one in ten passes Luhn, fewer have an issuer too
SELECT count(*) FILTER (WHERE privacy_guard.classify_value(scan_test.id16(g)::text) = 'card') AS look_like_cards,
       count(*) FILTER (WHERE privacy_guard.classify_value(scan_test.id16(g)::text) IS NULL) AS not_cards
  FROM generate_series(1, 1000) g;

-- name_suggests(): words of the name, not substrings
SELECT n AS col, privacy_guard.name_suggests(n) AS label FROM unnest(ARRAY[
    'diagnosis', 'health_status', 'medical_notes', 'allergies', 'blood_type', 'disability',
    'religion', 'faith', 'ethnicity', 'race', 'political_party', 'party_affiliation',
    'sexual_orientation', 'gender_identity', 'fingerprint', 'face_id', 'retina_scan',
    'dna_sample', 'genome', 'union_member', 'trade_union', 'unionized',
    'ssn', 'customerSSN', 'social_security_number', 'national_id', 'passport_number', 'tax_id',
    'driver_license', 'criminal_record',
    'email', 'e_mail', 'eMail', 'emailAddress', 'mail', 'phone', 'phone_number', 'mobile_number', 'tel',
    'fax', 'address', 'billing_address', 'shipping_address_line2', 'zip', 'postal_code', 'street',
    'dob', 'date_of_birth', 'dateOfBirth', 'birthday', 'first_name', 'lastName', 'full_name', 'surname',
    'card_number', 'cc_number', 'credit_card', 'iban', 'cvv', 'bank_account']::name[]) n;
-- near misses: none of these suggests anything
SELECT n AS col, privacy_guard.name_suggests(n) AS label FROM unnest(ARRAY[
    'trace_id', 'races_won', 'race_results', 'adobe', 'partyline', 'party', 'party_size', 'orientation', 'image_orientation',
    'gender', 'sex', 'is_disabled', 'allergens', 'health_check_url', 'healthcheck', 'prescription_required',
    'key_fingerprint', 'device_fingerprint', 'sha256_fingerprint', 'face_value', 'typeface', 'retina_display',
    'iris', 'union_id', 'reunion', 'tax_rate', 'driver_id', 'passage', 'email_verified', 'email_verified_at',
    'has_email', 'mail_sent', 'mobile', 'is_mobile', 'phonetic_name', 'hotel', 'telemetry', 'ip_address',
    'ipv4_address', 'mac_address', 'address_id', 'zip_file', 'newborn', 'name', 'product_name', 'file_name',
    'username', 'card_type', 'card_id', 'gift_card_code', 'id', 'total', 'sku', 'created_at', 'notes', '',
    '_', '123']::name[]) n
 WHERE privacy_guard.name_suggests(n) IS NOT NULL;
SELECT count(*) AS near_misses_checked FROM unnest(ARRAY['trace_id', 'adobe', 'partyline']::name[]) n
 WHERE privacy_guard.name_suggests(n) IS NULL;
SELECT privacy_guard.name_suggests(NULL) IS NULL AS null_is_null;

-- special_categories(): the labels of data the shop never collects; each is
-- one name_suggests() gives, and the personal labels are not among them
SELECT privacy_guard.special_categories();
SELECT s AS special_label_never_suggested FROM unnest(privacy_guard.special_categories()) s
 WHERE s NOT IN (SELECT privacy_guard.name_suggests(n) FROM unnest(ARRAY['diagnosis', 'religion', 'race',
        'political_party', 'sexual_orientation', 'fingerprint', 'dna', 'union_member', 'ssn',
        'criminal_record']::name[]) n);
SELECT ARRAY['email', 'phone', 'address', 'birth', 'identity', 'payment'] && privacy_guard.special_categories()
       AS personal_listed_as_special;
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel, l.lanname
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'privacy_guard'::regnamespace
   AND p.proname IN ('classify_value', 'name_suggests', 'special_categories') ORDER BY 1;

-- scan(): the shop's tables, some personal data stored outside the rules
CREATE TABLE scan_test.customers (id int PRIMARY KEY, contact text, tel varchar(40), notes text,
                                  login_email text, birthday date);
INSERT INTO scan_test.customers
SELECT g, 'customer' || g || '@example.com', '+49 30 ' || (1000000 + g), 'prefers tea',
       'login' || g || '@example.net', date '1980-01-01' + g FROM generate_series(1, 40) g;
INSERT INTO scan_test.customers VALUES (41, 'canary.scan@example.com', NULL, NULL, NULL, NULL);
SELECT privacy_guard.protect('scan_test.customers', 'login_email', 'contact', 'id', searchable => true);
CREATE TABLE scan_test.payments (id bigint PRIMARY KEY, card text, card_as_number bigint, iban varchar(40),
                                 payer_account text);
INSERT INTO scan_test.payments
SELECT g, CASE g % 3 WHEN 0 THEN '4111 1111 1111 1111' WHEN 1 THEN '5555-5555-5555-4444' ELSE '378282246310005' END,
       CASE g % 2 WHEN 0 THEN 4111111111111111 ELSE 6011111111111117 END,
       CASE g % 2 WHEN 0 THEN 'DE89 3704 0044 0532 0130 00' ELSE 'GB82WEST12345698765432' END,
       CASE WHEN g <= 12 THEN 'NL91ABNA0417164300' ELSE 'internal' END   -- 12 of 20: over half
  FROM generate_series(1, 20) g;
CREATE TABLE scan_test.patients (id int, diagnosis text, remarks text);
INSERT INTO scan_test.patients VALUES (1, 'flu', 'call +44 20 7946 0958'), (2, 'cold', 'ok');
-- what is not personal data: of orders, only buyer may be reported
CREATE TABLE scan_test.orders (id bigint PRIMARY KEY, buyer text, total numeric(10, 2), amount text, sku text,
                               ref bigint, ref_text text, placed_on text, placed_at text, tracking text,
                               client_ip text, route_code text, app_version text, note text, status char(8));
INSERT INTO scan_test.orders
SELECT g, 'buyer' || g || '@example.com', g * 12.99, to_char(g * 1234.5, 'FM999999990.00'), 'SKU-' || (10000 + g), scan_test.id16(g),
       scan_test.id16(g + 100000)::text, (date '2024-01-01' + g)::text,
       (timestamp '2024-01-01 08:00' + g * interval '7 hours')::text,
       md5(g::text)::uuid::text, '10.0.' || (g % 250) || '.' || (g % 200 + 1), (10000 + g) || '-' || (1000 + g),
       '2.' || g || '.1', CASE WHEN g % 3 = 0 THEN 'ok' END, 'shipped'
  FROM generate_series(1, 300) g;
-- (each column's values, classified: a few ids pass for cards, far from half)
SELECT count(*) AS orders, count(privacy_guard.classify_value(total::text)) AS total,
       count(privacy_guard.classify_value(amount)) AS amount, count(privacy_guard.classify_value(sku)) AS sku,
       count(privacy_guard.classify_value(ref::text)) AS ref, count(privacy_guard.classify_value(ref_text)) AS ref_text,
       count(privacy_guard.classify_value(placed_on)) AS placed_on, count(privacy_guard.classify_value(placed_at)) AS placed_at,
       count(privacy_guard.classify_value(tracking)) AS tracking, count(privacy_guard.classify_value(client_ip)) AS client_ip,
       count(privacy_guard.classify_value(route_code)) AS route_code,
       count(privacy_guard.classify_value(app_version)) AS app_version, count(privacy_guard.classify_value(status)) AS status
  FROM scan_test.orders;
-- a column is judged on its non-null values: a (one e-mail address in four
-- values) is not a column of them, b (three in four) is, c (one value) is
CREATE TABLE scan_test.mixed (a text, b text, c text);
INSERT INTO scan_test.mixed VALUES ('x@example.com', 'y@example.com', 'z@example.com'),
    ('call me', 'y2@example.com', NULL), ('maybe', 'no', NULL), ('no', 'y3@example.com', NULL);
-- few rows: two values, all of them e-mail addresses, count; one of two does not
CREATE TABLE scan_test.tiny (a text, b text);
INSERT INTO scan_test.tiny VALUES ('p@example.com', 'q@example.com'), ('p2@example.com', 'maybe');
-- a copy in a materialized view, and a partitioned table's partitions
CREATE MATERIALIZED VIEW scan_test.mailing AS SELECT contact FROM scan_test.customers;
CREATE MATERIALIZED VIEW scan_test.mailing_later AS SELECT contact FROM scan_test.customers WITH NO DATA;
CREATE TABLE scan_test.events (at date NOT NULL, who text) PARTITION BY RANGE (at);
CREATE TABLE scan_test.events_2024 PARTITION OF scan_test.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE scan_test.events_2025 PARTITION OF scan_test.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO scan_test.events SELECT date '2024-06-01' + g * 3, 'visitor' || g || '@example.org' FROM generate_series(1, 100) g;

-- as a superuser: e-mail, phone, card (as text and as bigint), IBAN by value, with
-- counts; special and personal names with NULL counts; the protected column
-- and its blind index as protected; nothing of orders but buyer, mixed.a, tiny.b,
-- patients.remarks, mailing_later, or the partitioned parent
SELECT * FROM scan_test.found();
-- and the scan left only names and counts in the audit trail, never a value
SELECT privacy_guard.audit_flush();
SELECT event, category, table_name, column_name, outcome, statement
  FROM privacy_guard.audit_log
 WHERE event = 'scan_finding' AND table_name LIKE 'scan_test.%'
 ORDER BY table_name, column_name, category;
SELECT statement ~ '^sample_rows 1000: \d+ tables sampled, 0 not readable or skipped, \d+ findings, \d+ unprotected$'
       AS summary, outcome
  FROM privacy_guard.audit_log WHERE event = 'scan' ORDER BY id DESC LIMIT 1;
SELECT count(*) AS records_with_the_canary FROM privacy_guard.audit_records
 WHERE concat_ws(' ', category, table_name, column_name, subject, outcome, statement) LIKE '%canary%';
SELECT count(*) AS canary_in_the_table FROM scan_test.customers WHERE contact LIKE '%canary%';

-- a role reads only what it may: a table it cannot read is not sampled, nor
-- its columns' names read; of a table it may read some columns of, only those
CREATE TABLE scan_test.shared (email text);
INSERT INTO scan_test.shared SELECT 'shared' || g || '@example.com' FROM generate_series(1, 5) g;
CREATE TABLE scan_test.partial (email text, phone text, ssn text);
INSERT INTO scan_test.partial SELECT 'p' || g || '@example.com', '+1 555 123 45' || (10 + g), NULL FROM generate_series(1, 5) g;
GRANT USAGE ON SCHEMA scan_test TO analyst;
GRANT SELECT ON scan_test.shared TO analyst;
GRANT SELECT (email) ON scan_test.partial TO analyst;
SET ROLE analyst;
SET client_min_messages = warning;      -- the notice counts other tests' tables too
SELECT * FROM scan_test.found();
RESET client_min_messages;
SELECT privacy_guard.scan_audit_finding('scan_test.customers', 'contact', 'email', 1, 1, false);
SELECT privacy_guard.scan_audit_finding('scan_test.partial', 'phone', 'phone', 1, 1, false);
SELECT privacy_guard.scan_audit_finding('scan_test.partial', 'email', 'email', 5, 5, false);
-- the trail is no notepad: only scan()'s labels, and counts that make sense
SELECT privacy_guard.scan_audit_finding('scan_test.partial', 'email', 'alice@example.com', 5, 5, false);
SELECT privacy_guard.scan_audit_finding('scan_test.partial', 'email', 'email', 6, 5, false);
SELECT privacy_guard.scan_audit_finding('scan_test.partial', 'email', 'email', 5, NULL, false);
SELECT privacy_guard.scan_audit(1000, -1, 0, 0, 0);
RESET ROLE;
-- a role that is neither administrator nor auditor neither scans nor writes
-- scan records
SET ROLE app;
SELECT * FROM privacy_guard.scan(10);
SELECT privacy_guard.scan_audit_finding('pg_catalog.pg_class', 'relname', 'email', 5, 5, false);
SELECT privacy_guard.scan_audit(1000, 0, 0, 0, 0);
RESET ROLE;
-- the same tables as a superuser: all of them
SELECT * FROM scan_test.found() WHERE tbl IN ('scan_test.shared', 'scan_test.partial');
-- the skipped tables were counted (a notice says how many; the audit record too)
SELECT privacy_guard.audit_flush();
SELECT (regexp_match(statement, '(\d+) not readable'))[1]::int =
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'm') AND (c.relkind = 'r' OR c.relispopulated)
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'privacy_guard')
           AND n.nspname !~ '^pg_(toast|temp_)'
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
           AND NOT has_any_column_privilege('analyst', c.oid, 'SELECT')) AS unreadable_counted,
       (regexp_match(statement, '(\d+) not readable'))[1]::int >= 9 AS scan_test_skipped
  FROM privacy_guard.audit_log WHERE event = 'scan' AND current_role_name = 'analyst'
 ORDER BY id DESC LIMIT 1;
-- the role's findings, then the one it wrote itself above
SELECT current_role_name, category, table_name, column_name, statement FROM privacy_guard.audit_log
 WHERE event = 'scan_finding' AND current_role_name = 'analyst' AND table_name LIKE 'scan_test.%' ORDER BY id;

-- the caller's own temporary tables are scanned too
CREATE TEMP TABLE contacts_tmp AS SELECT 'tmp' || g || '@example.com' AS addr FROM generate_series(1, 5) g;
SELECT col, suspected, hits, sampled FROM privacy_guard.scan() WHERE tbl = 'contacts_tmp'::regclass;

-- a big table: about sample_rows rows are read, a few pages of thousands
CREATE TABLE scan_test.big (id bigint, email text, filler text) WITH (autovacuum_enabled = false);
INSERT INTO scan_test.big SELECT g, 'user' || g || '@example.org', repeat('x', 200) FROM generate_series(1, 200000) g;
ANALYZE scan_test.big;
SELECT relpages > 5000 AS many_pages, reltuples = 200000 AS analysed FROM pg_class WHERE oid = 'scan_test.big'::regclass;
SELECT pg_stat_force_next_flush();
SELECT heap_blks_read + heap_blks_hit AS blocks_before FROM pg_statio_user_tables
 WHERE relid = 'scan_test.big'::regclass \gset
SELECT col, suspected, hits = sampled AS all_hits, sampled <= 500 AS bounded, sampled >= 250 AS enough
  FROM scan_test.found(500) WHERE tbl = 'scan_test.big';
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT heap_blks_read + heap_blks_hit - :blocks_before < 200 AS few_blocks_read
  FROM pg_statio_user_tables WHERE relid = 'scan_test.big'::regclass;
-- never analysed: its first rows
CREATE TABLE scan_test.big_new (email text) WITH (autovacuum_enabled = false);
INSERT INTO scan_test.big_new SELECT 'new' || g || '@example.org' FROM generate_series(1, 50000) g;
SELECT col, suspected, hits, sampled FROM scan_test.found(300) WHERE tbl = 'scan_test.big_new';
SELECT col, suspected, hits, sampled FROM scan_test.found(1) WHERE tbl = 'scan_test.big_new';

-- a table locked by DDL in flight (here by a prepared transaction) is skipped
-- after 2 s, and counted; once free, it is sampled
CREATE TABLE scan_test.busy (email text);
INSERT INTO scan_test.busy VALUES ('busy@example.com');
BEGIN;
LOCK TABLE scan_test.busy IN ACCESS EXCLUSIVE MODE;
PREPARE TRANSACTION 'scan_busy';
SELECT * FROM scan_test.found() WHERE tbl = 'scan_test.busy';
COMMIT PREPARED 'scan_busy';
SELECT * FROM scan_test.found() WHERE tbl = 'scan_test.busy';

-- a table owner's row-security policy never runs with the scanning role's
-- rights: the table is skipped (a trap that would record who ran it)
CREATE ROLE scan_trapper;
GRANT CREATE, USAGE ON SCHEMA scan_test TO scan_trapper;
SET ROLE scan_trapper;
CREATE TABLE scan_test.trap_log (who name);
CREATE FUNCTION scan_test.trap() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scan_test.trap_log VALUES (current_user);
    RETURN true;
END $$;
CREATE TABLE scan_test.bait (phone text);
INSERT INTO scan_test.bait SELECT '+44 20 7946 000' || g FROM generate_series(1, 5) g;
ALTER TABLE scan_test.bait ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY bait ON scan_test.bait USING (scan_test.trap());
GRANT SELECT ON scan_test.bait TO PUBLIC;
GRANT INSERT ON scan_test.trap_log TO PUBLIC;
RESET ROLE;
SET ROLE analyst;
SET client_min_messages = warning;
SELECT * FROM scan_test.found() WHERE tbl = 'scan_test.bait';
RESET client_min_messages;
RESET ROLE;
SELECT count(*) AS trap_ran FROM scan_test.trap_log;
DROP TABLE scan_test.bait, scan_test.trap_log;
DROP FUNCTION scan_test.trap();
REVOKE ALL ON SCHEMA scan_test FROM scan_trapper;
DROP ROLE scan_trapper;

-- nor what the planner evaluates for whoever queries the table: an index's
-- expression or predicate, a statistics object's expression (an IMMUTABLE
-- function of the owner's, folded when the sample query is planned).  Each
-- table is skipped, and the trap never ran, though a superuser scanned.
CREATE ROLE scan_trapper;
GRANT CREATE, USAGE ON SCHEMA scan_test TO scan_trapper;
SET ROLE scan_trapper;
CREATE TABLE scan_test.trap_log (who name, superuser text);
GRANT INSERT ON scan_test.trap_log TO PUBLIC;
CREATE FUNCTION scan_test.trap() RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF current_user <> 'scan_trapper' THEN
        INSERT INTO scan_test.trap_log VALUES (current_user, current_setting('is_superuser'));
    END IF;
    RETURN '';
END $$;
CREATE TABLE scan_test.bait_index (phone text);
CREATE INDEX ON scan_test.bait_index ((phone || scan_test.trap()));
CREATE TABLE scan_test.bait_partial (phone text);
CREATE INDEX ON scan_test.bait_partial (phone) WHERE scan_test.trap() = '';
CREATE TABLE scan_test.bait_stats (phone text, n int);
CREATE STATISTICS scan_test.bait_stats_s ON (phone || scan_test.trap()), n FROM scan_test.bait_stats;
CREATE TABLE scan_test.bait_ok (phone text);
CREATE INDEX ON scan_test.bait_ok (lower(phone));
INSERT INTO scan_test.bait_index SELECT '+44 20 7946 000' || g FROM generate_series(1, 5) g;
INSERT INTO scan_test.bait_partial SELECT * FROM scan_test.bait_index;
INSERT INTO scan_test.bait_stats SELECT phone, 1 FROM scan_test.bait_index;
INSERT INTO scan_test.bait_ok SELECT * FROM scan_test.bait_index;
GRANT SELECT ON scan_test.bait_index, scan_test.bait_partial, scan_test.bait_stats, scan_test.bait_ok TO PUBLIC;
RESET ROLE;
SET client_min_messages = warning;
SELECT tbl, col, suspected FROM privacy_guard.scan(10) WHERE tbl::text LIKE 'scan_test.bait%' ORDER BY 1, 2;
RESET client_min_messages;
SELECT count(*) AS trap_ran FROM scan_test.trap_log;
DROP TABLE scan_test.bait_index, scan_test.bait_partial, scan_test.bait_stats, scan_test.bait_ok, scan_test.trap_log;
DROP FUNCTION scan_test.trap();
REVOKE ALL ON SCHEMA scan_test FROM scan_trapper;
DROP ROLE scan_trapper;

-- a type that is only named citext is not sampled: its cast to text is its
-- owner's code, which would run with the scanning role's rights (the cast
-- says whose rights it ran with); the citext extension's type is sampled
CREATE ROLE type_maker;
GRANT CREATE, USAGE ON SCHEMA scan_test TO type_maker;
SET ROLE type_maker;
CREATE TYPE scan_test.citext AS (v text);
CREATE FUNCTION scan_test.citext_text(scan_test.citext) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'the cast ran as %', current_user;
    RETURN ($1).v;
END $$;
CREATE CAST (scan_test.citext AS text) WITH FUNCTION scan_test.citext_text(scan_test.citext);
CREATE TABLE scan_test.fake_citext (contact scan_test.citext);
INSERT INTO scan_test.fake_citext SELECT ROW('user' || g || '@example.com')::scan_test.citext FROM generate_series(1, 5) g;
GRANT SELECT ON scan_test.fake_citext TO PUBLIC;
RESET ROLE;
-- nor when it was added to a citext extension (a trusted extension, which
-- any role with CREATE on the database installs and owns)
SELECT current_database() AS db \gset
GRANT CREATE ON DATABASE :"db" TO type_maker;
SET ROLE type_maker;
CREATE SCHEMA scan_ext;
CREATE EXTENSION citext SCHEMA scan_ext;
ALTER EXTENSION citext ADD TYPE scan_test.citext;
CREATE TABLE scan_test.real_citext (contact scan_ext.citext);
INSERT INTO scan_test.real_citext SELECT 'user' || g || '@example.com' FROM generate_series(1, 5) g;
GRANT SELECT ON scan_test.real_citext TO PUBLIC;
RESET ROLE;
SET ROLE analyst;
SET client_min_messages = warning;      -- the notice counts other tests' tables too
SELECT * FROM scan_test.found() WHERE tbl LIKE 'scan_test.%_citext';
RESET client_min_messages;
RESET ROLE;
DROP TABLE scan_test.fake_citext, scan_test.real_citext;
ALTER EXTENSION citext DROP TYPE scan_test.citext;
DROP SCHEMA scan_ext CASCADE;
REVOKE CREATE ON DATABASE :"db" FROM type_maker;
DROP CAST (scan_test.citext AS text);
DROP FUNCTION scan_test.citext_text(scan_test.citext);
DROP TYPE scan_test.citext;
REVOKE ALL ON SCHEMA scan_test FROM type_maker;
DROP ROLE type_maker;

-- sample_rows: from 1 to 100000, else 22023 with a hint
SELECT * FROM privacy_guard.scan(0);
SELECT * FROM privacy_guard.scan(-1);
SELECT * FROM privacy_guard.scan(NULL);
SELECT * FROM privacy_guard.scan(100001);
DO $$
DECLARE
    n integer;
BEGIN
    FOREACH n IN ARRAY ARRAY[0, -1, NULL, 100001, 2147483647] LOOP
        BEGIN
            PERFORM privacy_guard.scan(n);
            RAISE NOTICE 'sample_rows %: accepted', coalesce(n::text, 'NULL');
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'sample_rows %: %', coalesce(n::text, 'NULL'), SQLSTATE;
        END;
    END LOOP;
END $$;
SELECT count(*) > 0 AS accepted FROM privacy_guard.scan(100000);

-- CLEANUP
DROP SCHEMA scan_test CASCADE;

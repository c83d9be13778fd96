-- The privacy_guard demo: the shop of POLICY.md, told end to end.
-- Run by scripts/demo.sh (make demo) on a throwaway server, which passes
-- examples/shop_policy.json as :'policy'.
\pset footer off
\set QUIET on
\set SHOW_CONTEXT never
SET client_min_messages = warning;

\echo
\echo '== 1. The policy, loaded as one document (examples/shop_policy.json)'
CREATE EXTENSION privacy_guard;
CREATE ROLE courier;            -- delivers parcels
CREATE ROLE support_agent;      -- answers customers
CREATE ROLE marketer;           -- sends offers, to those who agreed
CREATE ROLE order_clerk;        -- checks orders
CREATE ROLE analyst;            -- has SELECT on everything, and no purpose
CREATE ROLE security_officer;   -- investigates incidents
CREATE ROLE shop_app IN ROLE privacy_guard_consent;   -- the shop's account pages
SELECT privacy_guard.load_policy(:'policy') \gset
SELECT name AS purpose, coalesce(parent, '') AS parent,
       CASE WHEN requires_consent THEN 'yes' ELSE '' END AS needs_consent,
       (SELECT string_agg(category || CASE WHEN level = 'masked' THEN ' (masked)' ELSE '' END, ', ' ORDER BY category)
          FROM privacy_guard.allowances a WHERE a.purpose = p.name) AS may_see
  FROM privacy_guard.purposes p ORDER BY name;
SELECT string_agg(name, ', ' ORDER BY name) AS "prohibited: never collected"
  FROM privacy_guard.categories WHERE sensitivity = 'prohibited';

\echo
\echo '== 2. The shop''s tables, with sample customers, orders and page views'
BEGIN;
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, phone text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers (id), sku text NOT NULL,
                     total numeric(10, 2) NOT NULL, address text, placed_at timestamptz NOT NULL);
CREATE TABLE page_views (customer_id int NOT NULL REFERENCES customers (id), url text NOT NULL, at timestamptz NOT NULL);
INSERT INTO customers VALUES
    (1, 'Ada Lovelace', 'ada@example.com', '+44 20 7946 0001'),
    (2, 'Alan Turing', 'alan@example.com', '+44 20 7946 0002'),
    (3, 'Grace Hopper', 'grace@example.com', '+1 202 555 0103'),
    (4, 'Edsger Dijkstra', 'edsger@example.com', '+31 20 555 0104');
INSERT INTO orders VALUES
    (101, 1, 'SKU-10023', 129.90, '12 St James''s Square, London SW1Y 4JH', now() - interval '3 days'),
    (102, 2, 'SKU-20417', 18.50, '2 Hampton Road, Teddington TW11 0JL', now() - interval '2 days'),
    (103, 2, 'SKU-10023', 129.90, '2 Hampton Road, Teddington TW11 0JL', now() - interval '1 day'),
    (104, 3, 'SKU-31100', 42.00, '1 Navy Yard, Arlington VA 22202', now() - interval '5 hours'),
    (105, 4, 'SKU-20417', 18.50, 'Plantage Muidergracht 24, Amsterdam', now() - interval '1 hour');
INSERT INTO page_views SELECT 1 + g % 4, '/product/' || (10000 + g * 7), now() - g * interval '1 hour'
  FROM generate_series(1, 12) g;
-- protect(): each column becomes encrypted in place, under each customer's own key
SELECT privacy_guard.protect('customers', 'name', 'identity', 'id'),
       privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true),
       privacy_guard.protect('customers', 'phone', 'phone', 'id'),
       privacy_guard.protect('orders', 'address', 'address', 'customer_id'),
       privacy_guard.protect('page_views', 'url', 'browsing', 'customer_id'),
       privacy_guard.set_erasure_action('orders', 'anonymise') \gset
COMMIT;
GRANT SELECT, INSERT, UPDATE ON customers, orders, page_views TO courier, support_agent, marketer, order_clerk,
    analyst, security_officer, shop_app;
SELECT table_name, column_name, category, subject_column, searchable FROM privacy_guard.protected_columns
 ORDER BY 1, 2;

\echo
\echo '== 3. Health data is irrelevant to shopping: the policy refuses to collect it'
SET client_min_messages = warning;
\set ON_ERROR_STOP off
ALTER TABLE customers ADD COLUMN allergies text;
SELECT privacy_guard.protect('customers', 'allergies', 'health', 'id');
SET privacy_guard.collection_guard = error;
ALTER TABLE customers ADD COLUMN diagnosis text;
RESET privacy_guard.collection_guard;
\set ON_ERROR_STOP on
ALTER TABLE customers DROP COLUMN allergies;

\echo
\echo '== 4. The application''s SQL is unchanged: a plain INSERT of plaintext is sealed before it is stored'
INSERT INTO customers (id, name, email, phone) VALUES (5, 'Barbara Liskov', 'barbara@example.com', '+1 617 555 0105');
SELECT id, left(name::text, 36) || '...' AS "name, as stored", left(email::text, 36) || '...' AS "email, as stored"
  FROM customers WHERE id = 5;

\echo
\echo '== 5. The table''s files on disk hold no plaintext (heap, TOAST and indexes, after CHECKPOINT)'
CHECKPOINT;
SELECT needle AS searched_for,
       CASE WHEN bool_or(position(convert_to(needle, 'UTF8') IN pg_read_binary_file(pg_relation_filepath(rel))) > 0)
            THEN 'FOUND' ELSE 'not found' END AS in_table_files
  FROM (VALUES ('Barbara Liskov'), ('barbara@example.com'), ('Ada Lovelace'), ('Teddington')) AS n(needle),
       (SELECT c.oid::regclass AS rel FROM pg_class c
         WHERE c.oid IN ('customers'::regclass, 'orders'::regclass)
            OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE oid IN ('customers'::regclass, 'orders'::regclass))
            OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ('customers'::regclass, 'orders'::regclass))) AS r
 GROUP BY needle;

\echo
\echo '== 6. The courier, acting for delivery, reads the address in full'
SET ROLE courier;
SELECT privacy_guard.set_purpose('delivery') \gset
SELECT id AS order_id, privacy_guard.reveal(address) AS address FROM orders ORDER BY id;
RESET ROLE;

\echo
\echo '== 7. The support agent sees the e-mail masked; looking a customer up by e-mail (the plaintext the caller gives) is an audited index scan on its search terms, within the hourly budget of a masked purpose'
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('customer_service') \gset
SELECT id, privacy_guard.reveal(name) AS name, privacy_guard.reveal(email) AS email
  FROM customers WHERE email OPERATOR(privacy_guard.=) 'grace@example.com';
RESET ROLE;

\echo
\echo '== 8. The marketer gets only the customers who consented'
SET ROLE shop_app;
SELECT privacy_guard.grant_consent('1', 'marketing', 'newsletter box ticked at checkout'),
       privacy_guard.grant_consent('3', 'marketing', 'preference page') \gset
RESET ROLE;
SET ROLE marketer;
SELECT privacy_guard.set_purpose('marketing') \gset
SELECT id, privacy_guard.reveal(name) AS name, privacy_guard.reveal(email) AS email
  FROM customers WHERE privacy_guard.reveal(email) IS NOT NULL ORDER BY id;
RESET ROLE;

\echo
\echo '== 9. An analyst with SELECT on the tables but no purpose sees envelopes, and is refused plaintext'
SET ROLE analyst;
SELECT id, left(email::text, 30) || '...' AS email FROM customers ORDER BY id LIMIT 2;
\set ON_ERROR_STOP off
SELECT privacy_guard.reveal(email) FROM customers;
SELECT privacy_guard.reveal(address, 'delivery') FROM orders;
\set ON_ERROR_STOP on
RESET ROLE;

\echo
\echo '== 10. The audit trail recorded all of it, outside the transactions, as a hash chain'
SELECT privacy_guard.audit_flush() \gset
SELECT id, current_role_name AS role, event, purpose, category, outcome,
       left(regexp_replace(statement, 'query -?[0-9]+: ?', ''), 70) AS what
  FROM privacy_guard.audit_log
 WHERE event IN ('set_purpose', 'reveal', 'search', 'consent') ORDER BY id;
SELECT privacy_guard.verify_audit() AS chain_intact;

\echo
\echo '== 11. Discovery: personal data kept outside the rules (a legacy import nobody protected)'
CREATE TABLE newsletter_import (signed_up date, contact text, mobile text, card text, note text);
INSERT INTO newsletter_import
SELECT current_date - g, 'reader' || g || '@example.org', '+44 7700 900' || lpad(g::text, 3, '0'),
       CASE g % 3 WHEN 0 THEN '4111 1111 1111 1111' WHEN 1 THEN '5555 5555 5555 4444' ELSE '4012 8888 8888 1881' END,
       'SKU-' || (10000 + g)
  FROM generate_series(1, 40) g;
SELECT tbl AS "table", col AS "column", suspected, hits, sampled, protected
  FROM privacy_guard.scan(1000) ORDER BY protected, tbl::text, col;
DROP TABLE newsletter_import;

\echo
\echo '== 12. Customer 2 exports their data, then asks to be forgotten'
CREATE TABLE customers_backup AS SELECT * FROM customers;   -- a copy made before the erasure
GRANT SELECT ON customers_backup TO support_agent;
SET ROLE shop_app;
SELECT privacy_guard.subject_export('2') AS export \gset
RESET ROLE;
SELECT t.key AS "exported from", jsonb_array_length(t.value) AS rows, t.value->0 AS "first row"
  FROM jsonb_each((:'export'::jsonb)->'data') t ORDER BY 1;
SET ROLE shop_app;
SELECT privacy_guard.request_erasure('2', 'asked by e-mail') AS request \gset
RESET ROLE;
SELECT id, subject, status, due_at::date AS due FROM privacy_guard.erasure_requests;

\echo
\echo '== 13. The erasure runs: the key of customer 2 is destroyed, their rows deleted or anonymised'
SELECT privacy_guard.process_erasures() AS completed;
SELECT id, sku, total, customer_id, address IS NULL AS address_gone FROM orders ORDER BY id;
\echo '   the copy made earlier still holds the ciphertext, and can no longer be read:'
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('customer_service') \gset
SELECT id, privacy_guard.reveal(name) AS name, privacy_guard.reveal(email) AS email
  FROM customers_backup ORDER BY id;
RESET ROLE;
\echo '   the certificate, tied into the audit chain:'
SELECT c #>> '{certificate,subject}' AS subject, c #>> '{certificate,data_key,destroyed}' AS data_key,
       c #>> '{certificate,on_time}' AS on_time, left(c ->> 'certificate_sha256', 16) || '...' AS sha256,
       c #>> '{audit_record,id}' AS audit_record
  FROM privacy_guard.erasure_certificate(:request) c;
SELECT t.* FROM privacy_guard.erasure_certificate(:request) c,
       jsonb_to_recordset(c #> '{certificate,tables}') AS t("table" text, action text, rows int);

\echo
\echo '== 14. Customer 4 reports a suspected leak: the investigation starts from the audit trail'
SET ROLE shop_app;
SELECT privacy_guard.report_incident('customer 4 says a stranger knew their last order', '4') AS incident \gset
RESET ROLE;
SELECT at::time(0) AS at, current_role_name AS role, event, purpose, category, table_name, outcome
  FROM privacy_guard.access_history('4') ORDER BY at;

\echo
\echo '== 15. Lockdown: every reveal in every session is refused at once, except the investigation''s'
SELECT privacy_guard.lockdown('incident ' || :incident || ': suspected leak') AS lockdown \gset
SET ROLE courier;
\set ON_ERROR_STOP off
SELECT privacy_guard.reveal(address, 'delivery') FROM orders WHERE id = 105;
\set ON_ERROR_STOP on
RESET ROLE;
SET ROLE security_officer;
SELECT id, privacy_guard.reveal(email, 'incident_response') AS email,
       privacy_guard.reveal(name, 'incident_response') AS name
  FROM customers WHERE id = 4;
RESET ROLE;
SELECT privacy_guard.lift_lockdown('no leak: the customer had shared the order page') \gset
SELECT privacy_guard.close_incident(:incident, 'no leak found') \gset
SELECT id, kind, status, description FROM privacy_guard.incidents ORDER BY id;

\echo
\echo '== 16. The record of processing activities, read from what the database enforces (excerpt)'
\pset format unaligned
\pset tuples_only on
WITH l AS (SELECT line, n FROM regexp_split_to_table(privacy_guard.processing_record_text(), E'\n')
                                WITH ORDINALITY AS l(line, n)),
     -- a part starts at each blank line, purpose and category
     p AS (SELECT line, n, count(*) FILTER (WHERE line = '' OR line ~ '^(purpose|category) ') OVER (ORDER BY n) AS part
             FROM l)
SELECT line FROM p
 WHERE n <= 4 OR part IN (SELECT part FROM p WHERE line LIKE 'purpose delivery:%'
                                               OR line = 'TECHNICAL AND ORGANISATIONAL MEASURES')
 ORDER BY n;
\pset tuples_only off
\pset format aligned

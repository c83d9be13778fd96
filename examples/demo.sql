-- The privacy_guard demo: the shop of POLICY.md.
-- Run by scripts/demo.sh (make demo) on a throwaway server.
\pset footer off
\set QUIET on
SET client_min_messages = warning;

\echo
\echo '== 1. The policy, declared once in the database'
\echo '   categories of personal data, the purposes that may use them, the employees who act under each'
CREATE EXTENSION privacy_guard;
CREATE ROLE courier;
CREATE ROLE support_agent;
CREATE ROLE analyst;
SELECT privacy_guard.define_category('identity', 'personal', 'name')
     , privacy_guard.define_category('contact', 'personal', 'email')
     , privacy_guard.define_category('address', 'personal', 'address')
     , privacy_guard.define_category('health', 'prohibited')
     , privacy_guard.define_purpose('order_fulfilment')
     , privacy_guard.define_purpose('delivery', parent => 'order_fulfilment')
     , privacy_guard.define_purpose('customer_service')
     , privacy_guard.allow('order_fulfilment', 'identity')
     , privacy_guard.allow('delivery', 'address')
     , privacy_guard.allow('customer_service', 'contact', 'masked')
     , privacy_guard.allow('customer_service', 'identity', 'masked')
     , privacy_guard.grant_purpose('courier', 'delivery')
     , privacy_guard.grant_purpose('support_agent', 'customer_service') \gset
SELECT name AS purpose, parent, (SELECT string_agg(category || ' (' || level || ')', ', ' ORDER BY category)
                                   FROM privacy_guard.allowances a WHERE a.purpose = p.name) AS may_see
  FROM privacy_guard.purposes p ORDER BY name;

\echo
\echo '== 2. The shop''s existing table, with plaintext in it'
CREATE TABLE customers (id int PRIMARY KEY, name text, email text UNIQUE, address text, health_note text);
INSERT INTO customers VALUES
    (1, 'Ada Lovelace', 'ada@example.com', '12 St James''s Square, London SW1Y 4JH', NULL),
    (2, 'Alan Turing', 'alan@example.com', '2 Hampton Road, Teddington TW11 0JL', NULL);
GRANT SELECT, INSERT, UPDATE ON customers TO courier, support_agent, analyst;
SELECT * FROM customers;

\echo
\echo '== 3. Health data is sensitive and irrelevant to shopping: the policy refuses to protect, and so to collect, it'
\set ON_ERROR_STOP off
SELECT privacy_guard.protect('customers', 'health_note', 'health', 'id');
\set ON_ERROR_STOP on
ALTER TABLE customers DROP COLUMN health_note;

\echo
\echo '== 4. protect(): each column becomes encrypted in place, rows sealed under each customer''s own key'
SELECT privacy_guard.protect('customers', 'name', 'identity', 'id')
     , privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true)
     , privacy_guard.protect('customers', 'address', 'address', 'id') \gset
\d customers

\echo
\echo '== 5. The application''s SQL is unchanged: a plain INSERT of plaintext is sealed before it is stored'
INSERT INTO customers (id, name, email, address)
VALUES (3, 'Grace Hopper', 'grace@example.com', '1 Navy Yard, Arlington VA 22202');
SELECT id, left(name::text, 40) || '...' AS name, left(email::text, 40) || '...' AS email FROM customers ORDER BY id;

\echo
\echo '== 6. The table''s files on disk hold no plaintext (heap, TOAST and index files searched after CHECKPOINT)'
CHECKPOINT;
SELECT needle AS searched_for,
       CASE WHEN bool_or(position(convert_to(needle, 'UTF8') IN pg_read_binary_file(pg_relation_filepath(rel))) > 0)
            THEN 'FOUND' ELSE 'not found' END AS in_table_files
  FROM (VALUES ('Grace Hopper'), ('grace@example.com'), ('Arlington'), ('Ada Lovelace'), ('Teddington')) AS n(needle),
       (SELECT oid::regclass AS rel FROM pg_class
         WHERE oid IN ('customers'::regclass, (SELECT reltoastrelid FROM pg_class WHERE oid = 'customers'::regclass))
            OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'customers'::regclass)) AS r
 GROUP BY needle;

\echo
\echo '== 7. The courier, acting for delivery, reads the address in full'
SET ROLE courier;
SELECT privacy_guard.set_purpose('delivery') \gset
SELECT id, privacy_guard.reveal(name) AS name, privacy_guard.reveal(address) AS address FROM customers ORDER BY id;
RESET ROLE;

\echo
\echo '== 8. The support agent, acting for customer service, sees the e-mail masked; search by e-mail uses the blind index'
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('customer_service') \gset
SELECT id, privacy_guard.reveal(name) AS name, privacy_guard.reveal(email) AS email
  FROM customers WHERE email_bidx = privacy_guard.blind_index('grace@example.com', 'contact');
RESET ROLE;

\echo
\echo '== 9. An analyst with SELECT on the table but no purpose sees envelopes, and is refused plaintext'
SET ROLE analyst;
SELECT id, left(address::text, 30) || '...' AS address FROM customers ORDER BY id;
\set ON_ERROR_STOP off
SELECT privacy_guard.reveal(address) FROM customers;
SELECT privacy_guard.reveal(address, 'delivery') FROM customers;
\set ON_ERROR_STOP on
RESET ROLE;

\echo
\echo '== 10. The audit trail recorded all of it, outside the transactions, as a hash chain'
SELECT privacy_guard.audit_flush() \gset
SELECT id, current_role_name AS role, event, purpose, category, outcome,
       left(regexp_replace(statement, 'query -?[0-9]+', 'query #'), 60) AS what
  FROM privacy_guard.audit_log
 WHERE event IN ('set_purpose', 'reveal', 'reveal_end', 'search', 'search_end') ORDER BY id;
SELECT privacy_guard.verify_audit() AS chain_intact;

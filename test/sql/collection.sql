-- The collection guard: a new column whose name suggests personal data
-- must be protected.  warn (the default) warns at commit unless protect()
-- converted it by then; error refuses then; a name suggesting a special
-- category (health, religion...) is flagged at once.  Only superusers
-- change the setting.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- TESTS
-- the suite's configuration turns it off; the default is warn
SELECT boot_val FROM pg_settings WHERE name = 'privacy_guard.collection_guard';
SET privacy_guard.collection_guard = warn;

-- warn: CREATE TABLE, ALTER TABLE ADD COLUMN, RENAME COLUMN, CREATE TABLE AS
CREATE TABLE members (id int PRIMARY KEY, email text, nickname text, created date);
ALTER TABLE members ADD COLUMN phone_number text, ADD COLUMN total numeric;
ALTER TABLE members RENAME COLUMN nickname TO last_name;
CREATE TABLE member_copy AS SELECT id, email FROM members;
SELECT id AS member_id, email INTO member_copy2 FROM members;
-- a special category: at once, and protect() refuses the prohibited category anyway
ALTER TABLE members ADD COLUMN diagnosis text;
SELECT privacy_guard.protect('members', 'diagnosis', 'health', 'id');
ALTER TABLE members DROP COLUMN diagnosis;
-- names that suggest nothing pass silently
CREATE TABLE products (sku text PRIMARY KEY, price numeric, trace_id uuid, created_at timestamptz);
-- protected in the same transaction: no warning at all (the blind index column included)
BEGIN;
CREATE TABLE accounts (id int PRIMARY KEY, email text, phone text);
SELECT privacy_guard.protect('accounts', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('accounts', 'phone', 'phone', 'id');
COMMIT;
-- a column dropped before commit is not reported
BEGIN;
ALTER TABLE products ADD COLUMN email text;
ALTER TABLE products DROP COLUMN email;
COMMIT;
-- a column declared with an encrypted type is protected already
CREATE TABLE notes (id int, email privacy_guard.encrypted_text);
-- a rolled-back CREATE TABLE reports nothing
BEGIN;
CREATE TABLE scratch (email text);
ROLLBACK;
-- the extension's own tables are not collection
CREATE TABLE privacy_guard.my_emails (email text);
DROP TABLE privacy_guard.my_emails;

-- other ways columns come into being, or stop being protected
CREATE MATERIALIZED VIEW member_emails AS SELECT id, email FROM members;
CREATE TYPE contact_card AS (nick text);
CREATE TABLE cards OF contact_card;
ALTER TYPE contact_card ADD ATTRIBUTE mobile_phone text CASCADE;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TABLE explained AS SELECT 1 AS id, 'x' AS email;
CREATE SCHEMA crm CREATE TABLE contacts (id int, phone_number text);
ALTER TABLE notes ALTER COLUMN email TYPE text USING NULL;
-- only the encrypted_* types protect; a bytea beside a protected column is no blind index
CREATE TABLE sneaky (id int, email privacy_guard.incident_log, phone_bidx bytea, phone text);
CREATE TABLE beside (id int, email_bidx text);
ALTER TABLE accounts ADD COLUMN phone_bidx text;
ALTER TABLE accounts ADD COLUMN email_bidx bytea;
DROP TABLE cards, explained, sneaky, beside;
DROP TYPE contact_card;
DROP SCHEMA crm CASCADE;
DROP MATERIALIZED VIEW member_emails;

-- error: refused at commit unless protected by then
SET privacy_guard.collection_guard = error;
CREATE TABLE leads (id int PRIMARY KEY, email text);
SELECT to_regclass('leads') IS NULL AS leads_not_created;
BEGIN;
CREATE TABLE leads (id int PRIMARY KEY, email text);
SELECT privacy_guard.protect('leads', 'email', 'contact', 'id');
COMMIT;
SELECT to_regclass('leads') IS NOT NULL AS leads_created;
ALTER TABLE leads ADD COLUMN mobile_phone text;
SELECT count(*) FROM pg_attribute WHERE attrelid = 'leads'::regclass AND attname = 'mobile_phone';
ALTER TABLE leads ADD COLUMN religion text;
CREATE TABLE surveys (id int, ethnicity text);
-- within a subtransaction too: the check is at the top-level commit
BEGIN;
SAVEPOINT s;
ALTER TABLE leads ADD COLUMN email_address text;
RELEASE SAVEPOINT s;
COMMIT;
SELECT count(*) FROM pg_attribute WHERE attrelid = 'leads'::regclass AND attname = 'email_address';
-- a prepared transaction is checked too
BEGIN;
ALTER TABLE leads ADD COLUMN home_address text;
PREPARE TRANSACTION 'collect';
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'collect';

-- off: nothing
SET privacy_guard.collection_guard = off;
CREATE TABLE legacy (email text, diagnosis text);
DROP TABLE legacy;
SET privacy_guard.collection_guard = warn;

-- only superusers change it
SET ROLE app;
SET privacy_guard.collection_guard = off;
SET privacy_guard.collection_guard = warn;
RESET ROLE;
SET privacy_guard.collection_guard = nonsense;
-- the event trigger cannot be called directly
SELECT privacy_guard.collection_guard();

-- a database without the extension is not guarded (the library is loaded everywhere)
\set here :DBNAME
CREATE DATABASE collection_elsewhere;
\c collection_elsewhere
SET privacy_guard.collection_guard = error;
CREATE TABLE newsletter (email text, diagnosis text);
SELECT count(*) AS created FROM pg_class WHERE relname = 'newsletter';
\c :here
DROP DATABASE collection_elsewhere;

-- CLEANUP
DROP TABLE members, member_copy, member_copy2, products, accounts, notes, leads;

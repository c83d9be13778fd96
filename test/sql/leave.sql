-- Leaving the extension: DROP EXTENSION (and every other way to drop its
-- types or schema) is refused while a column is protected; a superuser
-- turns each column back into plaintext with unprotect(..., to_plaintext),
-- audited; then the extension drops and the plaintext stays.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
CREATE ROLE shop_owner IN ROLE privacy_guard_admin;
GRANT CREATE ON SCHEMA public TO shop_owner;
SET ROLE shop_owner;
CREATE TABLE members (id int PRIMARY KEY, email text UNIQUE, born date, spend numeric);
INSERT INTO members VALUES (1, 'ada@example.com', '1990-05-01', 12.50),
                           (2, 'bob@example.com', '1985-01-02', 7),
                           (3, 'cy@example.com', NULL, NULL);
SELECT privacy_guard.protect('members', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('members', 'born', 'birth', 'id');
SELECT privacy_guard.protect('members', 'spend', 'spend', 'id');
-- a second table of envelopes, of another subject's key
CREATE TABLE vault (id int PRIMARY KEY, secret text);
INSERT INTO vault VALUES (9, 'the vault secret');
SELECT privacy_guard.protect('vault', 'secret', 'contact', 'id');
RESET ROLE;

-- TESTS
-- every way of dropping the extension's types is refused while columns are protected
\set VERBOSITY default
DROP EXTENSION privacy_guard CASCADE;
DROP EXTENSION IF EXISTS privacy_guard, hstore CASCADE;
DROP SCHEMA privacy_guard CASCADE;
DROP TYPE privacy_guard.encrypted_text CASCADE;
DROP DOMAIN IF EXISTS nothing_here, privacy_guard.encrypted_date CASCADE;
DROP OWNED BY CURRENT_USER CASCADE;
-- nor through a dependency: the cascade of another extension's drop, a
-- member taken out of the extension first
DROP EXTENSION plpgsql CASCADE;
ALTER EXTENSION privacy_guard DROP FUNCTION privacy_guard.encrypted_text_in(cstring);
ALTER EXTENSION privacy_guard DROP TABLE privacy_guard.keys;
\set VERBOSITY terse
-- nor by changing its own tables and types: the keys and the trail stay as
-- the extension made them
ALTER TABLE privacy_guard.keys DROP COLUMN wrapped;
ALTER TABLE privacy_guard.keys ALTER COLUMN wrapped SET DATA TYPE bytea USING ''::bytea;
ALTER TABLE privacy_guard.keys SET UNLOGGED;
ALTER TABLE privacy_guard.audit_records SET UNLOGGED;
ALTER TABLE privacy_guard.keys RENAME TO keys_old;
ALTER TABLE privacy_guard.keys RENAME COLUMN wrapped TO w;
ALTER TABLE privacy_guard.keys SET SCHEMA public;
TRUNCATE privacy_guard.keys;
ALTER TYPE privacy_guard.encrypted_text RENAME TO x;
ALTER TYPE privacy_guard.encrypted_text SET SCHEMA public;
SELECT count(*) > 0 AS keys_intact FROM privacy_guard.keys WHERE wrapped IS NOT NULL;
SELECT count(*) AS still_protected FROM privacy_guard.protected_columns;

-- to_plaintext is for superusers only: the owner holding privacy_guard_admin is refused
SET ROLE shop_owner;
\set VERBOSITY default
SELECT privacy_guard.unprotect('members', 'email', to_plaintext => true);
\set VERBOSITY terse
-- nor can anyone call the opening function outside unprotect()
SELECT privacy_guard.plaintext_of(secret) FROM vault;
RESET ROLE;
SELECT privacy_guard.plaintext_of(secret) FROM vault;
SELECT privacy_guard.unprotect('members', 'remark', to_plaintext => true);
SELECT privacy_guard.unprotect('members', 'email', to_plaintext => NULL);

-- a subject erased before: its values become NULL, the others plaintext
UPDATE privacy_guard.keys SET wrapped = NULL, master_version = NULL, erased_at = now()
 WHERE kind = 'subject' AND name = '2';
-- while a column is being turned into plaintext, only its own values
-- open (the owner's code that runs during the retype could pass any other)
BEGIN;
SELECT privacy_guard.begin_plaintext('members', 'email') AS values_to_open;
SELECT privacy_guard.plaintext_of(email) FROM members WHERE id = 1;
SELECT privacy_guard.plaintext_of(secret) FROM vault;
ROLLBACK;
-- and nothing after the transaction that read them
SELECT privacy_guard.plaintext_of(email) FROM members WHERE id = 1;
-- nor after a conversion that failed and was rolled back to a savepoint
SET ROLE shop_owner;
CREATE POLICY members_seen ON members USING (email IS NOT NULL);
RESET ROLE;
BEGIN;
SAVEPOINT before;
SELECT privacy_guard.unprotect('members', 'email', to_plaintext => true);
ROLLBACK TO before;
SELECT privacy_guard.plaintext_of(email) FROM members WHERE id = 1;
ROLLBACK;
SET ROLE shop_owner;
DROP POLICY members_seen ON members;
RESET ROLE;
SELECT privacy_guard.unprotect('members', 'email', to_plaintext => true);
SELECT privacy_guard.unprotect('members', 'born', to_plaintext => true);
SELECT privacy_guard.unprotect('members', 'spend', to_plaintext => true);
SELECT attname, atttypid::regtype FROM pg_attribute
 WHERE attrelid = 'members'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM members ORDER BY id;
-- the searchable column's UNIQUE index is a plain text index again, and holds
SELECT indexdef FROM pg_indexes WHERE tablename = 'members' ORDER BY indexname;
INSERT INTO members VALUES (4, 'ada@example.com', NULL, NULL);
-- the table is the owner's plain table: no trigger, no CHECK left
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'members'::regclass AND NOT tgisinternal;
SELECT count(*) AS checks FROM pg_constraint WHERE conrelid = 'members'::regclass AND contype = 'c';
-- each conversion is audited, with counts and never a value
SELECT privacy_guard.audit_flush();
SELECT event, outcome, table_name, column_name, statement FROM privacy_guard.audit_log
 WHERE event = 'unprotect' AND outcome = 'decrypted' ORDER BY id;
SELECT count(*) AS values_in_the_trail FROM privacy_guard.audit_log
 WHERE statement ~ '(ada@|bob@|1990|12\.5)';

-- still refused while vault.secret is protected; then the way out is clear
DROP EXTENSION privacy_guard CASCADE;
SELECT privacy_guard.unprotect('vault', 'secret', to_plaintext => true);
DROP EXTENSION privacy_guard CASCADE;
SELECT * FROM members ORDER BY id;
SELECT * FROM vault;

-- an extension installed by a superuser who also owns a protected table:
-- DROP OWNED BY them, even without CASCADE, would take the extension, its
-- keys and its trail with it
CREATE ROLE leave_dba SUPERUSER;
SET ROLE leave_dba;
CREATE EXTENSION privacy_guard;
SELECT privacy_guard.define_category('contact', 'personal', 'email'), privacy_guard.define_purpose('support'),
       privacy_guard.allow('support', 'contact');
CREATE TABLE owned_here (id int PRIMARY KEY, email text);
SELECT privacy_guard.protect('owned_here', 'email', 'contact', 'id');
BEGIN;
DROP OWNED BY leave_dba;
ROLLBACK;
SELECT count(*) AS owned_here_protected FROM privacy_guard.protected_columns WHERE table_name = 'owned_here';
DROP TABLE owned_here;
DROP EXTENSION privacy_guard;
RESET ROLE;

-- CLEANUP
DROP TABLE members, vault;
REVOKE CREATE ON SCHEMA public FROM shop_owner;
CREATE EXTENSION privacy_guard;
DROP ROLE shop_owner, leave_dba;

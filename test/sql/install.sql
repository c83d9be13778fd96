-- The install script: the regression suite runs on the script make
-- generates from sql/<concept>.sql, every object it creates is documented,
-- and the released 0.1 script stays as it was released.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP: the source tree (the directory above test/) and the installed script
\set top :abs_srcdir/..
SELECT setting || '/extension/' AS extdir FROM pg_config WHERE name = 'SHAREDIR' \gset
SELECT pg_read_file(:'top' || '/Makefile') AS makefile \gset
CREATE TEMP TABLE concepts AS
SELECT c AS concept, ord
  FROM regexp_split_to_table(
           substring(:'makefile' FROM E'\nSQL_CONCEPTS *= *((?:[^\n]*\\\\\n)*[^\n]*)'),
           E'[\\s\\\\]+') WITH ORDINALITY AS t(c, ord)
 WHERE c <> '';
CREATE TEMP VIEW undocumented AS
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS undocumented
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'privacy_guard')
   AND d.deptype = 'e'
   AND obj_description(d.objid, d.classid::regclass::name) IS NULL
 ORDER BY 1;

-- TESTS
-- the extension installed is the default version, the one being built
SELECT e.extversion, a.default_version, e.extversion = a.default_version AS is_default
  FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
 WHERE e.extname = 'privacy_guard';
-- every released version is still installable
SELECT version FROM pg_available_extension_versions WHERE name = 'privacy_guard' ORDER BY version;

-- the Makefile's order names every concept file in sql/, each once
SELECT count(*) AS concepts, count(DISTINCT concept) AS distinct_concepts FROM concepts;
SELECT f AS in_sql_not_in_order FROM pg_ls_dir(:'top' || '/sql') f
 WHERE f LIKE '%.sql' AND f NOT LIKE 'privacy_guard--%'
   AND f NOT IN (SELECT concept || '.sql' FROM concepts);
SELECT concept AS in_order_not_in_sql FROM concepts
 WHERE concept || '.sql' NOT IN (SELECT pg_ls_dir(:'top' || '/sql'));

-- the installed script is the header and the concept files, in that order
SELECT pg_read_file(:'extdir' || 'privacy_guard--' || extversion || '.sql') AS script
  FROM pg_extension WHERE extname = 'privacy_guard' \gset
SELECT string_agg(E'\n' || pg_read_file(:'top' || '/sql/' || concept || '.sql'), '' ORDER BY ord) AS body
  FROM concepts \gset
SELECT right(:'script', length(:'body')) = :'body' AS concepts_in_order,
       left(:'script', length(:'script') - length(:'body')) AS header;

-- every object of the extension has its COMMENT
SELECT * FROM undocumented;
-- (the check finds one: a comment removed is reported)
BEGIN;
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_text, text) IS NULL;
SELECT * FROM undocumented;
ROLLBACK;

-- the released 0.1 script is frozen: its bytes are those released
SELECT encode(sha256(pg_read_binary_file(:'top' || '/sql/privacy_guard--0.1.sql')), 'hex') =
       'b6958ec5071393c5ae6245af828b41aa23bbbdaa6f4fc160f3204f35e941ac93' AS released_0_1_unchanged;
-- and so are 0.2's, and its upgrade script from 0.1: a change to SQL objects
-- makes version 0.3 (default_version in privacy_guard.control), whose
-- upgrade script from 0.2 carries it (test/t/017_upgrade.pl checks the
-- upgraded objects are a fresh installation's)
SELECT encode(sha256(pg_read_binary_file(:'top' || '/sql/privacy_guard--0.2.sql')), 'hex') =
       '628be7e7e4008a53fac0ba2e41585c79054cff9ac64387906ae46fdb648853e5' AS released_0_2_unchanged;
SELECT encode(sha256(pg_read_binary_file(:'top' || '/sql/privacy_guard--0.1--0.2.sql')), 'hex') =
       'f27effb80e00bb316908ad15ec3c3e1c217b1772ad9fd7ab57f8bd98ee0a8f7e' AS released_0_1_0_2_unchanged;
-- every release updates to the version being built, one script at a time
SELECT source, target, path FROM pg_extension_update_paths('privacy_guard')
 WHERE path IS NOT NULL ORDER BY 1, 2;

-- The schema privacy_guard must be the extension's own.  A role with CREATE
-- on the database made it first and put an overload of an internal
-- function in it: refused.
DROP EXTENSION privacy_guard CASCADE;
DROP SCHEMA IF EXISTS privacy_guard;
CREATE ROLE schema_squatter;
SELECT current_database() AS db \gset
GRANT CREATE ON DATABASE :"db" TO schema_squatter;
SET ROLE schema_squatter;
CREATE SCHEMA privacy_guard;
CREATE FUNCTION privacy_guard.audit_event(text, text, text, text) RETURNS void
    LANGUAGE sql AS 'SELECT';
RESET ROLE;
CREATE EXTENSION privacy_guard;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'privacy_guard';
DROP SCHEMA privacy_guard CASCADE;
-- an empty schema a superuser made, as pg_dump writes it before CREATE
-- EXTENSION, is accepted
CREATE SCHEMA privacy_guard;
CREATE EXTENSION privacy_guard;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'privacy_guard';
DROP EXTENSION privacy_guard CASCADE;
-- but not one where another role may create objects
GRANT CREATE ON SCHEMA privacy_guard TO schema_squatter;
CREATE EXTENSION privacy_guard;
REVOKE CREATE ON SCHEMA privacy_guard FROM schema_squatter;
-- nor one that already holds an object
CREATE TABLE privacy_guard.audit_records ();
CREATE EXTENSION privacy_guard;
DROP TABLE privacy_guard.audit_records;
-- and once it is empty again, the extension installs
CREATE EXTENSION privacy_guard;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'privacy_guard';
-- Once installed, a role with CREATE on the database cannot put a trusted
-- extension's objects into the schema; elsewhere it can
SET ROLE schema_squatter;
CREATE EXTENSION hstore SCHEMA privacy_guard;
SELECT count(*) AS foreign_functions FROM pg_proc
 WHERE pronamespace = 'privacy_guard'::regnamespace AND proname LIKE 'hstore%';
CREATE SCHEMA squatter_own;
CREATE EXTENSION hstore SCHEMA squatter_own;
SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'hstore';
DROP EXTENSION hstore;
DROP SCHEMA squatter_own;
RESET ROLE;
REVOKE CREATE ON DATABASE :"db" FROM schema_squatter;
DROP ROLE schema_squatter;

-- This library under a 0.1 installation, before ALTER EXTENSION UPDATE: the guard
-- stands aside, since 0.1's protect() of a second column drops and
-- re-creates the sealing trigger, and 0.1 has no unprotect()
DROP EXTENSION privacy_guard CASCADE;
CREATE EXTENSION privacy_guard VERSION '0.1';
DO $$
BEGIN
    PERFORM privacy_guard.define_category('contact', 'personal', 'email');
    PERFORM privacy_guard.define_category('phone', 'personal', 'phone');
    PERFORM privacy_guard.define_purpose('support');
    PERFORM privacy_guard.allow('support', 'contact');
    PERFORM privacy_guard.allow('support', 'phone');
END $$;
CREATE TABLE legacy (id int, email text, phone text);
SELECT privacy_guard.protect('legacy', 'email', 'contact', 'id');
SELECT privacy_guard.protect('legacy', 'phone', 'phone', 'id');
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'legacy'::regclass ORDER BY 1;
DROP TABLE legacy;
-- and the default version installs again
DROP EXTENSION privacy_guard CASCADE;
CREATE EXTENSION privacy_guard;
SELECT extversion FROM pg_extension WHERE extname = 'privacy_guard';

-- Nothing readable on disk: after CHECKPOINT, the heap, TOAST and index
-- files of a protected table hold none of the plaintext.  A canary that is
-- stored in plaintext proves the search finds what is there.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
CREATE FUNCTION pg_temp.file_holds(rel regclass, needle text) RETURNS boolean
LANGUAGE sql AS $$
    SELECT position(convert_to(needle, 'UTF8') IN pg_read_binary_file(pg_relation_filepath(rel))) > 0
$$;
CREATE FUNCTION pg_temp.toast_of(rel regclass) RETURNS regclass
LANGUAGE sql AS $$ SELECT reltoastrelid::regclass FROM pg_class WHERE oid = rel $$;

CREATE TABLE shop (
    id      int PRIMARY KEY,
    email   text UNIQUE,
    letter  text,
    canary  text
);
ALTER TABLE shop ALTER COLUMN canary SET STORAGE EXTERNAL;
-- rows written before protect(), as plaintext
INSERT INTO shop VALUES (1, 'before-protect-mail@example.com', 'before-protect-letter ' || repeat('x', 5000),
                         'canary-in-heap');
SELECT pg_relation_filepath('shop') AS old_heap \gset
SELECT privacy_guard.protect('shop', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('shop', 'letter', 'browsing', 'id');
-- rows written after protect(), by the application's unchanged SQL
INSERT INTO shop VALUES (2, 'after-protect-mail@example.com', 'after-protect-letter ' || repeat('y', 5000),
                         'canary-in-toast ' || repeat('z', 5000));
UPDATE shop SET email = 'updated-mail@example.com' WHERE id = 1;
-- a plaintext literal is not stored in an unprotected encrypted column at all
CREATE TABLE careless (v privacy_guard.encrypted_text);
INSERT INTO careless VALUES ('careless-plaintext-value');
CHECKPOINT;

-- TESTS
-- the canaries are found: the search works
SELECT pg_temp.file_holds('shop', 'canary-in-heap') AS heap_canary_found,
       pg_temp.file_holds(pg_temp.toast_of('shop'), 'canary-in-toast') AS toast_canary_found;
-- the plaintext is not: heap, TOAST, every index
SELECT rel, needle, pg_temp.file_holds(rel, needle) AS found
  FROM (VALUES ('shop'::regclass), (pg_temp.toast_of('shop')), ('shop_pkey'::regclass),
               ('shop_email_key'::regclass)) AS r(rel),
       (VALUES ('before-protect-mail'), ('before-protect-letter'), ('after-protect-mail'),
               ('after-protect-letter'), ('updated-mail')) AS n(needle)
 WHERE pg_temp.file_holds(rel, needle);
SELECT count(*) AS files_searched FROM (VALUES ('shop'::regclass), (pg_temp.toast_of('shop')),
       ('shop_pkey'::regclass), ('shop_email_key'::regclass)) AS r(rel)
 WHERE (pg_stat_file(pg_relation_filepath(rel))).size > 0;
-- the pre-protect file was replaced by the rewrite and is gone or empty
SELECT :'old_heap' <> pg_relation_filepath('shop') AS rewritten,
       coalesce((pg_stat_file(:'old_heap', true)).size, 0) AS old_file_size;
-- the unprotected table holds nothing of it
SELECT pg_temp.file_holds('careless', 'careless-plaintext-value') AS careless_found,
       (SELECT count(*) FROM careless) AS careless_rows;
-- and the values are all there
SELECT id, privacy_guard.reveal(email, 'profile'), left(privacy_guard.reveal(letter, 'profile'), 22)
  FROM shop ORDER BY id;

-- CLEANUP
DROP TABLE shop, careless;

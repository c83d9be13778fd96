-- The encrypted types: text form, binary form, plaintext input, refusals.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
CREATE TABLE sealed (id int PRIMARY KEY, t privacy_guard.encrypted_text);
INSERT INTO sealed VALUES (1, privacy_guard.seal('alice@example.com'::text, 'contact', '1'));

-- TESTS
-- the text form is the printable, versioned envelope, never the plaintext
SELECT left(t::text, 8) AS prefix, t::text LIKE '%alice%' AS leaks FROM sealed;
-- two seals of the same plaintext differ (fresh nonce)
SELECT privacy_guard.seal('same'::text, 'contact', '1')::text
       <> privacy_guard.seal('same'::text, 'contact', '1')::text AS differ;
-- the text form is accepted back unchanged: by input (dump, COPY) and by
-- the text cast (an application writing back what it read)
SELECT t AS envelope FROM sealed \gset
SELECT :'envelope'::privacy_guard.encrypted_text::text = :'envelope' AS input_round_trip;
SELECT (t::text)::privacy_guard.encrypted_text::text = t::text AS cast_round_trip FROM sealed;
SELECT privacy_guard.reveal((t::text)::privacy_guard.encrypted_text, 'support') FROM sealed;
-- the binary form too: send is the envelope, and binary COPY (send and
-- receive) round-trips every type
SELECT privacy_guard.encrypted_text_send(t) = decode(substr(t::text, 9), 'base64') AS send_is_envelope FROM sealed;
CREATE TABLE every_type (id int, t privacy_guard.encrypted_text, j privacy_guard.encrypted_jsonb,
                         d privacy_guard.encrypted_date, n privacy_guard.encrypted_numeric,
                         b privacy_guard.encrypted_bytea);
INSERT INTO every_type VALUES (1, privacy_guard.seal('text'::text, 'contact', '1'),
    privacy_guard.seal('{"k": [1, 2]}'::jsonb, 'browsing', '1'), privacy_guard.seal('2000-02-29'::date, 'birth', '1'),
    privacy_guard.seal(-12.50::numeric, 'spend', '1'), privacy_guard.seal('\x00ff'::bytea, 'document', '1'));
\getenv abs_builddir PG_ABS_BUILDDIR
\set copyfile :abs_builddir '/results/every_type.bin'
COPY every_type TO :'copyfile' (FORMAT binary);
CREATE TABLE every_type_copy (LIKE every_type);
COPY every_type_copy FROM :'copyfile' (FORMAT binary);
SELECT a.t::text = b.t::text AND a.j::text = b.j::text AND a.d::text = b.d::text
       AND a.n::text = b.n::text AND a.b::text = b.b::text AS binary_round_trip,
       privacy_guard.reveal(b.t, 'profile') AS t, privacy_guard.reveal(b.j, 'profile') AS j,
       privacy_guard.reveal(b.d, 'profile') AS d, privacy_guard.reveal(b.n, 'profile') AS n,
       privacy_guard.reveal(b.b, 'profile') AS b
  FROM every_type a JOIN every_type_copy b USING (id);
-- binary receive checks the structure too: a text envelope in a date column
COPY (SELECT 1, t, j, t, n, b FROM every_type) TO :'copyfile' (FORMAT binary);
COPY every_type_copy FROM :'copyfile' (FORMAT binary);
DROP TABLE every_type, every_type_copy;
-- plaintext in binary form (a driver's binary parameter, binary COPY) is
-- written as it was before protect(): sealed by the write path
CREATE TABLE plain_rows (id int PRIMARY KEY, t text, j jsonb, d date, n numeric, b bytea);
INSERT INTO plain_rows VALUES (7, 'binary text', '{"k": [3]}', '1999-12-31', 0.125, '\x01ff00');
CREATE TABLE bin_rows (LIKE plain_rows INCLUDING ALL);
SELECT privacy_guard.protect('bin_rows', 't', 'contact', 'id'), privacy_guard.protect('bin_rows', 'j', 'browsing', 'id'),
       privacy_guard.protect('bin_rows', 'd', 'birth', 'id'), privacy_guard.protect('bin_rows', 'n', 'spend', 'id'),
       privacy_guard.protect('bin_rows', 'b', 'document', 'id');
COPY plain_rows TO :'copyfile' (FORMAT binary);
COPY bin_rows FROM :'copyfile' (FORMAT binary);
SELECT left(t::text, 8) AS sealed, privacy_guard.reveal(t, 'profile') AS t, privacy_guard.reveal(j, 'profile') AS j,
       privacy_guard.reveal(d, 'profile') AS d, privacy_guard.reveal(n, 'profile') AS n,
       privacy_guard.reveal(b, 'profile') AS b
  FROM bin_rows;
-- the protected rows' binary form is their envelopes, taken back as they are
COPY bin_rows TO :'copyfile' (FORMAT binary);
DELETE FROM bin_rows;
COPY bin_rows FROM :'copyfile' (FORMAT binary);
SELECT privacy_guard.reveal(t, 'profile') AS t, privacy_guard.reveal(b, 'profile') AS b FROM bin_rows;
-- and plaintext that is not valid in the column's type is refused as it was
COPY (SELECT 8, 'x'::text, '{}'::jsonb, '\x01'::bytea, 1::numeric, '\x00'::bytea) TO :'copyfile' (FORMAT binary);
COPY bin_rows FROM :'copyfile' (FORMAT binary);
DROP TABLE plain_rows, bin_rows;

-- every type seals and prints as an envelope of its own type
SELECT left(privacy_guard.seal('{"a": 1}'::jsonb, 'browsing', '1')::text, 8),
       left(privacy_guard.seal('2000-02-29'::date, 'birth', '1')::text, 8),
       left(privacy_guard.seal(12.5::numeric, 'spend', '1')::text, 8),
       left(privacy_guard.seal('\xdeadbeef'::bytea, 'document', '1')::text, 8);
-- an envelope of one type is refused by another
SELECT (SELECT t::text FROM sealed)::privacy_guard.encrypted_date;

-- garbage envelopes: clear errors that quote nothing of the input
SELECT 'sealed1:'::privacy_guard.encrypted_text;
SELECT 'sealed1:not base64 at all!'::privacy_guard.encrypted_text;
SELECT 'sealed1:AQ=='::privacy_guard.encrypted_text;
SELECT ('sealed1:' || encode('\x09010000000000000001076164647265737300000000000000000000000000000000000000000000000000'::bytea, 'base64'))::privacy_guard.encrypted_text;
SELECT ('sealed1:' || encode('\x01010000000000000000076164647265737300000000000000000000000000000000000000000000000000'::bytea, 'base64'))::privacy_guard.encrypted_text;
SELECT ('sealed1:' || encode('\x010100000000000000010741444452455353000000000000000000000000000000000000000000000000'::bytea, 'base64'))::privacy_guard.encrypted_text;
SELECT ('sealed1:' || encode('\x0101000000000000000150'::bytea, 'base64'))::privacy_guard.encrypted_text;

-- plaintext input becomes an unsealed value: it prints and sends as a fixed
-- placeholder (for EXPLAIN and the logging of parameters), never its
-- plaintext; it cannot be revealed, and the placeholder is not read back
SELECT 'secret'::privacy_guard.encrypted_text;
SELECT privacy_guard.encrypted_text_send('secret'::privacy_guard.encrypted_text);
SELECT 'secret'::privacy_guard.encrypted_text::text;
SELECT '<unsealed encrypted_text>'::privacy_guard.encrypted_text;
SELECT '<unsealed encrypted_text>'::text::privacy_guard.encrypted_text;
SELECT ('secret'::privacy_guard.encrypted_text::text)::privacy_guard.encrypted_text;
SELECT '<unsealed encrypted_date>'::text::privacy_guard.encrypted_text IS NOT NULL AS other_types_placeholder_is_plaintext;
SELECT convert_to('<unsealed encrypted_bytea>', 'UTF8')::privacy_guard.encrypted_bytea;
SELECT privacy_guard.reveal('secret'::privacy_guard.encrypted_text, 'support');
SELECT privacy_guard.reveal('secret'::text::privacy_guard.encrypted_text, 'support');
SELECT '2024-01-01'::privacy_guard.encrypted_date;
SELECT '{bad json'::privacy_guard.encrypted_jsonb;
SELECT 'abc'::privacy_guard.encrypted_numeric;
-- invalid plaintext is refused without quoting it
SELECT '1815-13-45'::privacy_guard.encrypted_date;
-- there is no operator that could compare plaintext
SELECT t = t FROM sealed;
SELECT t < t FROM sealed;
SELECT count(DISTINCT t) FROM sealed;

-- an unsealed value is stored nowhere but through a protected column's
-- sealing trigger: a table nobody protected refuses it, in every way in
\set VERBOSITY default
CREATE TABLE careless (id int PRIMARY KEY, v privacy_guard.encrypted_text, d privacy_guard.encrypted_date);
INSERT INTO careless VALUES (1, 'careless plaintext');
\set VERBOSITY terse
INSERT INTO careless (id, d) VALUES (2, '2024-02-29');
PREPARE careless_insert(int, text) AS INSERT INTO careless (id, v) VALUES ($1, $2);
EXECUTE careless_insert(3, 'careless parameter');
-- sealed values (seal(), an envelope copied) are stored as they are
INSERT INTO careless (id, v) SELECT 4, privacy_guard.seal('sealed by hand'::text, 'contact', '4');
INSERT INTO careless (id, v) SELECT 5, t FROM sealed;
UPDATE careless SET v = 'careless update' WHERE id = 4;
INSERT INTO careless (id, v) VALUES (4, NULL) ON CONFLICT (id) DO UPDATE SET v = 'careless upsert';
MERGE INTO careless c USING (VALUES (6)) s(id) ON c.id = s.id
 WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, 'careless merge');
WITH w AS (INSERT INTO careless (id, v) VALUES (7, 'careless cte') RETURNING id) SELECT * FROM w;
COPY careless (id, v) FROM stdin;
8	careless copy
\.
CREATE TABLE careless_copy AS SELECT 'careless ctas'::privacy_guard.encrypted_text AS v;
SELECT 'careless select into'::privacy_guard.encrypted_text AS v INTO careless_into;
CREATE MATERIALIZED VIEW careless_mv AS SELECT 'careless matview'::privacy_guard.encrypted_text AS v;
-- and where the row is stored, whatever the planner saw: each encrypted
-- column nothing seals has a CHECK, <col>_sealed_only, added with it
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'careless'::regclass AND contype = 'c' ORDER BY 1;
-- a BEFORE trigger that sets the column
CREATE FUNCTION careless_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.v := 'careless trigger'; RETURN NEW; END $$;
CREATE TRIGGER careless_default BEFORE INSERT ON careless FOR EACH ROW EXECUTE FUNCTION careless_default();
INSERT INTO careless (id) VALUES (10);
DROP TRIGGER careless_default ON careless;
DROP FUNCTION careless_default();
-- a DEFAULT: an unsealed constant is refused, and the CHECK is validated against a default
ALTER TABLE careless ADD COLUMN w privacy_guard.encrypted_text DEFAULT 'careless default';
CREATE TABLE careless_default (id int, v privacy_guard.encrypted_text DEFAULT 'careless default');
-- (pg_dump could not write that constant back); written as text, it is
-- converted when a row takes it, and refused there
CREATE TABLE careless_default (id int, v privacy_guard.encrypted_text DEFAULT 'careless default'::text);
INSERT INTO careless_default (id) VALUES (1);
-- (SET DEFAULT of an untyped literal, as migration tools write it, is read as text)
ALTER TABLE careless_default ALTER COLUMN v SET DEFAULT 'careless later';
DROP TABLE careless_default;
-- a rewrite with USING
CREATE TABLE careless_plain (v text);
INSERT INTO careless_plain VALUES ('careless rewrite');
ALTER TABLE careless_plain ALTER COLUMN v TYPE privacy_guard.encrypted_text USING v::privacy_guard.encrypted_text;
DROP TABLE careless_plain;
-- EXPLAIN ANALYZE of CREATE TABLE AS, and CREATE TABLE AS of a plan cached before
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TABLE careless_explained AS
    SELECT 'careless explain'::privacy_guard.encrypted_text AS v;
PREPARE careless_cached AS SELECT 'careless cached'::privacy_guard.encrypted_text AS v;
EXECUTE careless_cached;
CREATE TABLE careless_executed AS EXECUTE careless_cached;
DEALLOCATE careless_cached;
-- the CHECK dropped comes back at the end of the statement
ALTER TABLE careless DROP CONSTRAINT v_sealed_only;
SELECT count(*) AS v_sealed_only FROM pg_constraint WHERE conrelid = 'careless'::regclass AND conname = 'v_sealed_only';
-- when the column changes to a type that is not encrypted, it goes first
CREATE TABLE careless_retyped (v privacy_guard.encrypted_text);
ALTER TABLE careless_retyped ALTER COLUMN v TYPE text USING v::text;
SELECT count(*) AS constraints_left FROM pg_constraint WHERE conrelid = 'careless_retyped'::regclass;
DROP TABLE careless_retyped;
-- a constraint named like protect()'s does not stand in for it
CREATE TABLE careless_named (v privacy_guard.encrypted_text CONSTRAINT v_sealed CHECK (true));
INSERT INTO careless_named VALUES ('careless named');
DROP TABLE careless_named;
-- nor one named like the guard's, whatever it calls: a column counts as
-- guarded by what its CHECK says, and the guard's takes another name
CREATE TABLE careless_named (v privacy_guard.encrypted_text CONSTRAINT v_sealed_only CHECK (true),
    w privacy_guard.encrypted_text CONSTRAINT w_sealed_only CHECK (true OR privacy_guard.sealed_only(w, 'x') IS NOT NULL));
SELECT conname FROM pg_constraint WHERE conrelid = 'careless_named'::regclass ORDER BY 1;
INSERT INTO careless_named (v) SELECT NULL;
CREATE FUNCTION careless_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.v := 'careless named'; RETURN NEW; END $$;
CREATE TRIGGER careless_fill BEFORE INSERT OR UPDATE ON careless_named FOR EACH ROW EXECUTE FUNCTION careless_fill();
INSERT INTO careless_named (v) SELECT NULL;
DROP TABLE careless_named;
-- a column renamed keeps its CHECK (which follows its name), and a new
-- column under the old name gets one of its own
CREATE TABLE careless_renamed (id int, c privacy_guard.encrypted_text);
INSERT INTO careless_renamed VALUES (1, NULL);
ALTER TABLE careless_renamed RENAME COLUMN c TO old_c;
ALTER TABLE careless_renamed ADD COLUMN c privacy_guard.encrypted_text DEFAULT 'careless renamed'::text;
ALTER TABLE careless_renamed ADD COLUMN c privacy_guard.encrypted_text;
SELECT conname FROM pg_constraint WHERE conrelid = 'careless_renamed'::regclass ORDER BY 1;
DROP TABLE careless_renamed;
-- two long column names alike in their first 51 bytes: a CHECK each
CREATE TABLE careless_long (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_x privacy_guard.encrypted_text,
                            aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_y privacy_guard.encrypted_text);
SELECT count(*) AS checks FROM pg_constraint WHERE conrelid = 'careless_long'::regclass;
DROP TABLE careless_long;
-- the tables of a composite type that ALTER TYPE ... CASCADE changes
CREATE TYPE careless_shape AS (id int, c text);
CREATE TABLE careless_typed OF careless_shape;
INSERT INTO careless_typed VALUES (1, 'careless typed');
ALTER TYPE careless_shape ALTER ATTRIBUTE c TYPE privacy_guard.encrypted_text CASCADE;
ALTER TYPE careless_shape ADD ATTRIBUTE e privacy_guard.encrypted_text CASCADE;
SELECT conname FROM pg_constraint WHERE conrelid = 'careless_typed'::regclass ORDER BY 1;
ALTER TYPE careless_shape ALTER ATTRIBUTE e TYPE text CASCADE;
SELECT count(*) AS checks_left FROM pg_constraint WHERE conrelid = 'careless_typed'::regclass;
DROP TABLE careless_typed;
DROP TYPE careless_shape;
-- CREATE TABLE AS under a name pg_catalog or pg_temp has too: the new table is guarded
CREATE TABLE pg_proc AS SELECT 1 AS id, NULL::privacy_guard.encrypted_text AS c;
SELECT count(*) AS checks FROM pg_constraint WHERE conrelid = 'public.pg_proc'::regclass;
DROP TABLE public.pg_proc;
CREATE TEMP TABLE careless_shadow (id int);
PREPARE careless_cached2 AS SELECT 'careless shadowed'::privacy_guard.encrypted_text AS c;
CREATE TABLE public.careless_shadow AS EXECUTE careless_cached2;
DEALLOCATE careless_cached2;
DROP TABLE careless_shadow;
-- a materialized view made WITH NO DATA (as pg_dump writes it) is read when refreshed
CREATE MATERIALIZED VIEW careless_later AS SELECT 'careless later'::text::privacy_guard.encrypted_text AS v WITH NO DATA;
REFRESH MATERIALIZED VIEW careless_later;
DROP MATERIALIZED VIEW careless_later;
-- a partition made after its parent's column was renamed can be attached
CREATE TABLE careless_parts (id int, c privacy_guard.encrypted_text) PARTITION BY RANGE (id);
ALTER TABLE careless_parts RENAME COLUMN c TO cc;
CREATE TABLE careless_part1 (id int, cc privacy_guard.encrypted_text);
ALTER TABLE careless_parts ATTACH PARTITION careless_part1 FOR VALUES FROM (0) TO (10);
DROP TABLE careless_parts;
-- a parent's CHECK its children do not get (NO INHERIT) does not count
CREATE TABLE careless_parent (id int, c privacy_guard.encrypted_text);
CREATE TABLE careless_child () INHERITS (careless_parent);
ALTER TABLE careless_parent DROP CONSTRAINT c_sealed_only,
    ADD CONSTRAINT keep CHECK (c IS NULL OR privacy_guard.sealed_only(c, '') IS NOT NULL) NO INHERIT;
SELECT conrelid::regclass, conname, connoinherit FROM pg_constraint
 WHERE conrelid IN ('careless_parent'::regclass, 'careless_child'::regclass) ORDER BY 1, 2;
-- a child with its own copy of the CHECK: a retype of the parent's column reaches it
CREATE TABLE careless_own (id int, c privacy_guard.encrypted_text);
ALTER TABLE careless_own INHERIT careless_parent;
ALTER TABLE careless_parent ALTER COLUMN c TYPE text;
DROP TABLE careless_parent CASCADE;
-- protect()'s CHECK counts only validated, or on a column the catalog names
CREATE TABLE careless_nv (id int);
INSERT INTO careless_nv VALUES (1);
ALTER TABLE careless_nv ADD COLUMN c privacy_guard.encrypted_text DEFAULT 'careless not valid'::text,
    ADD CONSTRAINT x CHECK (privacy_guard.check_sealed(c, 'contact', 'nobody')) NOT VALID;
DROP TABLE careless_nv;
-- CREATE TABLE AS whose query renames the new table: guarded all the same
CREATE FUNCTION careless_rename(t text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass(t) IS NOT NULL THEN EXECUTE format('ALTER TABLE %I RENAME TO %I', t, t || '_x'); END IF;
    RETURN 1;
END $$;
PREPARE careless_renaming AS SELECT careless_rename('careless_ctas') AS id, 'careless renaming'::privacy_guard.encrypted_text AS c;
EXECUTE careless_renaming;
CREATE TABLE careless_ctas AS EXECUTE careless_renaming;
CREATE TABLE careless_ctas AS SELECT careless_rename('careless_ctas') AS id, NULL::privacy_guard.encrypted_text AS c;
SELECT conrelid::regclass, conname FROM pg_constraint WHERE conrelid = 'careless_ctas_x'::regclass;
DROP TABLE careless_ctas_x;
DEALLOCATE careless_renaming;
DROP FUNCTION careless_rename(text);
-- a type already used as a column cannot be given an encrypted field
-- (the refusal names the column's owner, who can change it)
CREATE ROLE careless_other;
CREATE TYPE careless_pair AS (a int);
CREATE TABLE careless_uses (id int, x careless_pair[]);
ALTER TABLE careless_uses OWNER TO careless_other;
ALTER TYPE careless_pair ADD ATTRIBUTE e privacy_guard.encrypted_text;
CREATE TABLE careless_row (a int);
CREATE TABLE careless_child_row () INHERITS (careless_row);
CREATE TABLE careless_uses_row (id int, x careless_child_row);
ALTER TABLE careless_uses_row OWNER TO careless_other;
ALTER TABLE careless_row ADD COLUMN e privacy_guard.encrypted_text;
CREATE VIEW careless_view AS SELECT 1 AS a;
CREATE TABLE careless_uses_view (id int, x careless_view);
ALTER TABLE careless_uses_view OWNER TO careless_other;
CREATE OR REPLACE VIEW careless_view AS SELECT 1 AS a, NULL::privacy_guard.encrypted_text AS e;
DROP TABLE careless_uses, careless_uses_row, careless_child_row, careless_row, careless_uses_view;
DROP VIEW careless_view;
DROP TYPE careless_pair;
DROP ROLE careless_other;
-- nor can a definition hold an unsealed constant, nor one inside an array or composite
CREATE TABLE careless_defs (id int, v privacy_guard.encrypted_text DEFAULT ('{"careless array"}'::privacy_guard.encrypted_text[])[1]);
CREATE VIEW careless_const AS SELECT 'careless view'::privacy_guard.encrypted_text AS v;
CREATE FUNCTION careless_body() RETURNS privacy_guard.encrypted_text BEGIN ATOMIC SELECT 'careless body'::privacy_guard.encrypted_text; END;
CREATE FUNCTION careless_arg(a privacy_guard.encrypted_text DEFAULT 'careless arg') RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TABLE careless_missing (id int);
INSERT INTO careless_missing VALUES (1);
ALTER TABLE careless_missing ADD COLUMN v privacy_guard.encrypted_text DEFAULT 'careless missing'::text;
ALTER TABLE careless_missing ADD COLUMN v privacy_guard.encrypted_text;
ALTER TABLE careless_missing ALTER COLUMN v SET DEFAULT 'careless missing'::text;
DROP TABLE careless_missing;
-- nor a partition's value for its rows, a statistics or partition key
-- expression, a domain's default; and nothing is partitioned by an
-- encrypted value (its bounds would be constants of the type)
CREATE TABLE careless_parted (id int) PARTITION BY RANGE (id);
CREATE TABLE careless_parted1 PARTITION OF careless_parted FOR VALUES FROM (0) TO (10);
ALTER TABLE careless_parted ADD COLUMN v privacy_guard.encrypted_text DEFAULT 'careless partition'::text;
CREATE TABLE careless_keyed (id int, v privacy_guard.encrypted_text)
    PARTITION BY LIST ((coalesce(v, 'careless key'::privacy_guard.encrypted_text) IS NULL));
CREATE TABLE careless_listed (id int, v privacy_guard.encrypted_text) PARTITION BY LIST (v);
CREATE TABLE careless_listed (id int, v privacy_guard.encrypted_text) PARTITION BY LIST (id);
CREATE TABLE careless_listed1 PARTITION OF careless_listed FOR VALUES IN (1);
CREATE TABLE careless_statted (id int, v privacy_guard.encrypted_text);
CREATE STATISTICS careless_stats ON (coalesce(v, 'careless stats'::privacy_guard.encrypted_text)), id FROM careless_statted;
CREATE DOMAIN careless_domain AS privacy_guard.encrypted_text DEFAULT 'careless domain';
DROP TABLE careless_parted, careless_listed, careless_statted;
-- EXPLAIN ANALYZE of CREATE TABLE AS gets the nested-type check too
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
    CREATE TABLE careless_nested AS SELECT ARRAY['careless nested'::privacy_guard.encrypted_text] AS v;
-- REFRESH ... CONCURRENTLY of a materialized view with an encrypted column
CREATE TABLE careless_src (id int PRIMARY KEY, t privacy_guard.encrypted_text);
INSERT INTO careless_src SELECT 1, t FROM sealed;
CREATE MATERIALIZED VIEW careless_mv2 AS SELECT * FROM careless_src;
CREATE UNIQUE INDEX ON careless_mv2 (id);
REFRESH MATERIALIZED VIEW CONCURRENTLY careless_mv2;
SELECT count(*) FROM careless_mv2;
DROP TABLE careless_src CASCADE;
-- a trigger named like the sealing trigger seals nothing: still refused
CREATE FUNCTION not_sealing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER zz_privacy_guard_seal BEFORE INSERT ON careless FOR EACH ROW
    EXECUTE FUNCTION not_sealing('v', 'contact', 'id', '');
INSERT INTO careless (id, v) VALUES (9, 'careless fake trigger');
DROP TRIGGER zz_privacy_guard_seal ON careless;
DROP FUNCTION not_sealing();
-- a generated encrypted column is computed as before
CREATE TABLE generated_enc (id int, v privacy_guard.encrypted_text GENERATED ALWAYS AS (NULL) STORED);
INSERT INTO generated_enc (id) VALUES (1);
SELECT id, v IS NULL AS v_null FROM generated_enc;
DROP TABLE generated_enc;
-- nor a column that would hold one inside an array, a domain or a composite
CREATE TABLE nested_array (v privacy_guard.encrypted_text[]);
CREATE DOMAIN enc_domain AS privacy_guard.encrypted_text;
CREATE TABLE nested_domain (v enc_domain);
CREATE TYPE enc_pair AS (a privacy_guard.encrypted_text, b int);
CREATE TABLE nested_composite (v enc_pair);
ALTER TABLE careless ADD COLUMN vs privacy_guard.encrypted_text[];
CREATE TABLE nested_ctas AS SELECT ARRAY[t] AS v FROM sealed;
DROP TYPE enc_pair;
DROP DOMAIN enc_domain;
-- a copy of sealed values is fine
CREATE TABLE sealed_copy AS SELECT t FROM sealed;
SELECT count(*) AS copied FROM sealed_copy;
SELECT id, privacy_guard.reveal(v, 'profile') AS v FROM careless ORDER BY id;
DROP TABLE careless, sealed_copy;
\set VERBOSITY default

-- NULL in, NULL out
SELECT privacy_guard.seal(NULL::text, 'contact', '1') IS NULL AS null_sealed;
SELECT privacy_guard.seal('x'::text, NULL, '1');
SELECT privacy_guard.seal('x'::text, 'contact', NULL);

-- '' and large values seal
SELECT length(privacy_guard.seal(''::text, 'contact', '1')::text) > 8 AS empty_ok;
SELECT length(privacy_guard.seal(repeat('x', 1000000), 'contact', '1')::text) > 1000000 AS large_ok;

-- seal refuses unknown, prohibited and purpose-less categories
SELECT privacy_guard.seal('x'::text, 'nope', '1');
SELECT privacy_guard.seal('diabetes'::text, 'health', '1');
SELECT privacy_guard.seal('x'::text, 'unused', '1');

DROP TABLE sealed;

-- statements that commit on their own way while the guard records what
-- they make (REINDEX CONCURRENTLY, a procedure's COMMIT): the guard's
-- record outlives those commits (it lived in the first transaction's
-- memory and crashed the server), and still refuses what it must
CREATE TABLE reindexed (a int PRIMARY KEY, b text);
CREATE INDEX reindexed_b ON reindexed (b);
INSERT INTO reindexed SELECT g, g::text FROM generate_series(1, 100) g;
REINDEX INDEX CONCURRENTLY reindexed_b;
REINDEX TABLE CONCURRENTLY reindexed;
REINDEX TABLE CONCURRENTLY reindexed;
REINDEX INDEX CONCURRENTLY reindexed_b;
SELECT count(*) AS rows_after_reindex FROM reindexed WHERE b = '42';
CREATE PROCEDURE make_in_steps() LANGUAGE plpgsql AS $$
BEGIN
    CREATE TABLE stepped (a int);
    COMMIT;
    CREATE VIEW stepped_view AS SELECT a FROM stepped;
    COMMIT;
    CREATE TABLE stepped_careless (v privacy_guard.encrypted_text DEFAULT 'plain default');
END $$;
CALL make_in_steps();
SELECT to_regclass('stepped') IS NOT NULL AS made, to_regclass('stepped_view') IS NOT NULL AS view_made,
       to_regclass('stepped_careless') IS NULL AS refused_not_made;
DROP PROCEDURE make_in_steps();
DROP VIEW stepped_view;
DROP TABLE stepped, reindexed;

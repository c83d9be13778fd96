-- Writes as a client sends them: tables for COPY (a plain one and a
-- protected searchable one, with a UNIQUE e-mail, as a shop has) and for
-- single-row INSERTs by pgbench (subjects numbered by an identity).
\set QUIET on
SET client_min_messages = warning;
CREATE TABLE copy_plain (id int PRIMARY KEY, email text UNIQUE);
CREATE TABLE copy_guarded (id int PRIMARY KEY, email text UNIQUE);
SELECT privacy_guard.protect('copy_guarded', 'email', 'contact', 'id', searchable => true) \gset
CREATE TABLE ins_plain (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text UNIQUE);
CREATE TABLE ins_guarded (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text UNIQUE);
SELECT privacy_guard.protect('ins_guarded', 'email', 'contact', 'id', searchable => true) \gset
-- The floor for COPY: what any design with a data key per subject writes,
-- however cheaply: the customers, and a key row per new customer in a table
-- shaped as privacy_guard.keys (its indexes too), both by COPY, without any
-- cryptography or trigger.
CREATE TABLE floor_keys (LIKE privacy_guard.keys INCLUDING ALL);
-- three files of new customers (no data key yet), one for each COPY run,
-- and the key rows the floor writes with each
\copy (SELECT 1000000 + id, 'writer' || id || '@shop-example.com' FROM plain ORDER BY id) TO 'customers1.csv' CSV
\copy (SELECT 2000000 + id, 'writer' || id || '@shop-example.com' FROM plain ORDER BY id) TO 'customers2.csv' CSV
\copy (SELECT 3000000 + id, 'writer' || id || '@shop-example.com' FROM plain ORDER BY id) TO 'customers3.csv' CSV
\copy (SELECT 'subject', 1000000 + id, 1, gen_random_bytes(60), now() FROM plain ORDER BY id) TO 'floorkeys1.csv' CSV
\copy (SELECT 'subject', 2000000 + id, 1, gen_random_bytes(60), now() FROM plain ORDER BY id) TO 'floorkeys2.csv' CSV
\copy (SELECT 'subject', 3000000 + id, 1, gen_random_bytes(60), now() FROM plain ORDER BY id) TO 'floorkeys3.csv' CSV

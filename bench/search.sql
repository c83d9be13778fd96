-- Search: a searchable copy of the customers (the same e-mails, each value
-- carrying its search term), and an index on the plain table's e-mail for
-- the plain lookup it is measured against.  What a term adds to a value.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE INDEX plain_email_idx ON plain (email);
-- the floor's record of each search
CREATE TABLE search_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL,
                         who text NOT NULL, what text NOT NULL);
-- the batched floors' records (bench/search/floor_batched.pgb, floor_minimal.pgb)
CREATE TABLE search_batch (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL,
                           session_user_name text NOT NULL, current_role_name text NOT NULL,
                           purpose text, category text, statement text, key_id bigint NOT NULL);
CREATE INDEX search_batch_key ON search_batch (key_id);
CREATE TABLE search_minimal (at timestamptz NOT NULL, key_id bigint NOT NULL);
CREATE INDEX search_minimal_key ON search_minimal (key_id);
CREATE TABLE searchable (id int PRIMARY KEY, email text UNIQUE);
INSERT INTO searchable SELECT * FROM plain;
SELECT privacy_guard.protect('searchable', 'email', 'contact', 'id', searchable => true) \gset
VACUUM ANALYZE plain, searchable;
SELECT round(avg(pg_column_size(s.email)) - avg(pg_column_size(g.email)), 1) AS term_bytes_per_value,
       round(avg(pg_column_size(g.email)) - avg(pg_column_size(p.email)), 1) AS envelope_bytes_per_value
  FROM searchable s JOIN guarded g USING (id) JOIN plain p USING (id);

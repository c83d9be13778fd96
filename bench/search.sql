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
CREATE TABLE searchable (id int PRIMARY KEY, email text UNIQUE);
INSERT INTO searchable SELECT * FROM plain;
SELECT privacy_guard.protect('searchable', 'email', 'contact', 'id', searchable => true) \gset
VACUUM ANALYZE plain, searchable;
SELECT round(avg(pg_column_size(s.email)) - avg(pg_column_size(g.email)), 1) AS term_bytes_per_value,
       round(avg(pg_column_size(g.email)) - avg(pg_column_size(p.email)), 1) AS envelope_bytes_per_value
  FROM searchable s JOIN guarded g USING (id) JOIN plain p USING (id);

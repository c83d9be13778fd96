-- protect() on a large existing table: how long it takes, and that no
-- plaintext is left in the table's files afterwards.
\set QUIET on
\pset footer off
CREATE TABLE big (id int PRIMARY KEY, email text);
INSERT INTO big SELECT g, 'bigcustomer' || g || '@shop-example.com' FROM generate_series(1, :protect_rows) g;
CHECKPOINT;
SELECT pg_relation_filepath('big') AS old_file \gset
SELECT clock_timestamp() AS t0 \gset
SELECT privacy_guard.protect('big', 'email', 'contact', 'id') \gset
SELECT :protect_rows AS rows, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1) AS protect_seconds;
CHECKPOINT;
-- search every segment of the new heap file for a few plaintexts
SELECT count(*) AS segments_searched,
       bool_or(position(convert_to('bigcustomer1@', 'UTF8') IN pg_read_binary_file(f)) > 0
            OR position(convert_to('bigcustomer' || (:protect_rows / 2) || '@', 'UTF8') IN pg_read_binary_file(f)) > 0
            OR position(convert_to('@shop-example.com', 'UTF8') IN pg_read_binary_file(f)) > 0) AS plaintext_found
  FROM (SELECT pg_relation_filepath('big') || CASE WHEN s = 0 THEN '' ELSE '.' || s END AS f
          FROM generate_series(0, (pg_relation_size('big') - 1) / (1024 * 1024 * 1024)) s) segs;
SELECT coalesce((pg_stat_file(:'old_file', true)).size, 0) AS old_file_bytes_left;

-- Discovery cost: scan(1000) on a table of :scan_rows rows (e-mails,
-- phones, card numbers, SKUs, totals), against reading the whole table
-- once (what a scan without sampling would cost at least).  The sample's
-- cost should follow sample_rows, not the table's size.
\set QUIET on
SET client_min_messages = warning;
SET privacy_guard.collection_guard = off;
DROP TABLE IF EXISTS s_import;
CREATE TABLE s_import (id bigint, contact text, mobile text, card text, sku text, total numeric);
INSERT INTO s_import
SELECT g, 'reader' || g || '@example.org', '+44 7700 ' || lpad((g % 1000000)::text, 6, '0'),
       '4111 1111 1111 1111', 'SKU-' || (10000 + g % 50000), (g % 10000) / 100.0
  FROM generate_series(1, :scan_rows) g;
VACUUM ANALYZE s_import;
-- the rest of the database stays out of the measurement
CREATE TEMP TABLE timings (what text, ms numeric);
DO $$
DECLARE
    t0 timestamptz;
    found int;
BEGIN
    FOR i IN 1..5 LOOP
        t0 := clock_timestamp();
        SELECT count(*) INTO found FROM privacy_guard.scan(1000) WHERE tbl = 's_import'::regclass;
        INSERT INTO timings VALUES ('scan(1000)', extract(epoch FROM clock_timestamp() - t0) * 1000);
        t0 := clock_timestamp();
        PERFORM count(contact) FROM s_import;
        INSERT INTO timings VALUES ('read the whole table', extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
    IF found <> 3 THEN
        RAISE EXCEPTION 'scan found % columns of s_import, expected 3 (contact, mobile, card)', found;
    END IF;
END $$;
SELECT what, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS median_ms
  FROM timings GROUP BY what ORDER BY what DESC;
SELECT round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timings WHERE what = 'scan(1000)')::numeric
           / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timings WHERE what = 'read the whole table')::numeric, 4)
       AS "scan / full read",
       pg_size_pretty(pg_relation_size('s_import')) AS table_size;
DROP TABLE s_import;

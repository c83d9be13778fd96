-- Erasure cost: time to erase one subject (request + process_erasures())
-- among :customers customers, each with two orders, against the plain
-- DELETE of the same rows.  The erasure destroys the key, anonymises the
-- orders (kept for accounting) and deletes the customer; its cost should
-- follow the subject's own rows, not the table sizes.
\set QUIET on
SET client_min_messages = warning;
DROP TABLE IF EXISTS e_orders, e_customers, p_orders, p_customers;
-- a previous run erased some of these ids for good: start afresh (benchmark only)
DELETE FROM privacy_guard.erasures;
DELETE FROM privacy_guard.keys WHERE kind = 'subject' AND erased_at IS NOT NULL;
CREATE TABLE p_customers (id int PRIMARY KEY, email text);
CREATE TABLE p_orders (id bigint PRIMARY KEY, customer_id int REFERENCES p_customers, total numeric, address text);
CREATE INDEX ON p_orders (customer_id);
INSERT INTO p_customers SELECT g, 'customer' || g || '@shop-example.com' FROM generate_series(1, :customers) g;
INSERT INTO p_orders SELECT g, 1 + g % :customers, g % 100, g || ' Main Street' FROM generate_series(1, 2 * :customers) g;
CREATE TABLE e_customers (LIKE p_customers INCLUDING ALL);
CREATE TABLE e_orders (LIKE p_orders INCLUDING ALL);
ALTER TABLE e_orders ADD FOREIGN KEY (customer_id) REFERENCES e_customers;
INSERT INTO e_customers SELECT * FROM p_customers;
INSERT INTO e_orders SELECT * FROM p_orders;
SELECT privacy_guard.protect('e_customers', 'email', 'contact', 'id') \gset
SELECT privacy_guard.protect('e_orders', 'address', 'contact', 'customer_id') \gset
SELECT privacy_guard.set_erasure_action('e_orders', 'anonymise') \gset
-- only this benchmark's tables take part
DELETE FROM privacy_guard.column_protection WHERE tbl NOT IN ('e_customers'::regclass, 'e_orders'::regclass);
VACUUM ANALYZE p_customers, p_orders, e_customers, e_orders;

CREATE TEMP TABLE timings (what text, ms numeric);
DO $$
DECLARE
    n int := (SELECT count(*) FROM p_customers);
    t0 timestamptz;
    s int;
BEGIN
    FOR i IN 1 .. 20 LOOP
        s := 1 + (i * 7919) % n;
        t0 := clock_timestamp();
        DELETE FROM p_orders WHERE customer_id = s;
        DELETE FROM p_customers WHERE id = s;
        INSERT INTO timings VALUES ('plain', extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
END $$;
-- one subject at a time: request, then process_erasures()
DO $$
DECLARE
    n int := (SELECT count(*) FROM e_customers);
    t0 timestamptz;
BEGIN
    FOR i IN 1 .. 20 LOOP
        t0 := clock_timestamp();
        PERFORM privacy_guard.request_erasure((1 + (i * 7919) % n)::text);
        PERFORM privacy_guard.process_erasures();
        INSERT INTO timings VALUES ('erasure', extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
END $$;
SELECT what, count(*) AS subjects, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS median_ms
  FROM timings GROUP BY what ORDER BY what;
SELECT round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timings WHERE what = 'erasure')::numeric /
             (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timings WHERE what = 'plain')::numeric, 1)
       AS erasure_vs_plain_delete,
       (SELECT count(*) FROM privacy_guard.erasure_requests WHERE status = 'completed') AS completed,
       (SELECT count(*) FROM e_orders WHERE customer_id IS NULL) AS orders_kept_anonymised;

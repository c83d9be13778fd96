-- Benchmark data: N customers, each its own data subject, one ~30-byte
-- e-mail each, stored three ways: plaintext, pgcrypto (AES-CBC, one key),
-- privacy_guard (AES-256-GCM, one key per subject).
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION pgcrypto;
CREATE EXTENSION privacy_guard;
SELECT privacy_guard.define_category('contact', 'personal', 'email'),
       privacy_guard.define_purpose('support'),
       privacy_guard.define_purpose('marketing'),
       privacy_guard.allow('support', 'contact', 'masked'),
       privacy_guard.allow('marketing', 'contact'),
       privacy_guard.grant_purpose(current_user::regrole, 'support'),
       privacy_guard.grant_purpose(current_user::regrole, 'marketing') \gset

CREATE TABLE plain (id int PRIMARY KEY, email text);
INSERT INTO plain SELECT g, 'customer' || g || '@shop-example.com' FROM generate_series(1, :rows) g;

CREATE TABLE crypto (id int PRIMARY KEY, email bytea);
INSERT INTO crypto SELECT id, encrypt_iv(convert_to(email, 'UTF8'), '\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'::bytea,
                                          '\x000102030405060708090a0b0c0d0e0f'::bytea, 'aes-cbc') FROM plain;

CREATE TABLE guarded (id int PRIMARY KEY, email text);
INSERT INTO guarded SELECT * FROM plain;
SELECT privacy_guard.protect('guarded', 'email', 'contact', 'id') \gset
-- empty copies for the write benchmark
CREATE TABLE plain2 (LIKE plain INCLUDING ALL);
CREATE TABLE crypto2 (LIKE crypto INCLUDING ALL);
CREATE TABLE guarded2 (id int PRIMARY KEY, email text);
SELECT privacy_guard.protect('guarded2', 'email', 'contact', 'id') \gset
VACUUM ANALYZE;

-- Time a query a few times; the median of the runs, in milliseconds.
CREATE FUNCTION bench(q text, runs int DEFAULT 5) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times numeric[] := '{}';
BEGIN
    FOR i IN 1 .. runs LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x);
END $$;

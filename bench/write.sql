-- Write cost: inserting N rows of plaintext that the trigger seals, for
-- subjects whose keys exist, against plain and pgcrypto inserts.
\set QUIET on
\pset footer off
SELECT count(*) AS rows FROM plain \gset
CREATE TEMP TABLE wresults AS
SELECT 'plain: INSERT ... SELECT' AS query,
       bench('TRUNCATE plain2; INSERT INTO plain2 SELECT * FROM plain', 3) AS ms
UNION ALL
SELECT 'pgcrypto: INSERT encrypt_iv(...)',
       bench($q$TRUNCATE crypto2; INSERT INTO crypto2 SELECT id, encrypt_iv(convert_to(email, 'UTF8'), '\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'::bytea, '\x000102030405060708090a0b0c0d0e0f'::bytea, 'aes-cbc') FROM plain$q$, 3)
UNION ALL
SELECT 'privacy_guard: INSERT plaintext, sealed by the trigger',
       bench('TRUNCATE guarded2; INSERT INTO guarded2 SELECT * FROM plain', 3);
SELECT query, round(ms, 1) AS ms, round(ms * 1e6 / :rows) AS ns_per_row,
       round(ms / (SELECT ms FROM wresults WHERE query LIKE 'plain%'), 2) AS x_plain,
       round(ms / (SELECT ms FROM wresults WHERE query LIKE 'pgcrypto%'), 2) AS x_pgcrypto
  FROM wresults;

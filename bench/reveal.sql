-- Reveal throughput: ns per row over the whole table, against a plain
-- scan and pgcrypto's decrypt_iv on the same rows, in the same run.
\set QUIET on
\pset footer off
SELECT count(*) AS rows FROM plain \gset

-- warm the key cache of this backend
SELECT count(privacy_guard.reveal(email, 'marketing')) FROM guarded \gset warm_

CREATE TEMP TABLE results AS
SELECT 'plain scan: length(email)' AS query,
       bench('SELECT count(length(email)) FROM plain') AS ms
UNION ALL
SELECT 'pgcrypto: decrypt_iv (aes-cbc, one key)',
       bench($q$SELECT count(length(decrypt_iv(email, '\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'::bytea, '\x000102030405060708090a0b0c0d0e0f'::bytea, 'aes-cbc'))) FROM crypto$q$)
UNION ALL
SELECT 'privacy_guard: reveal full (key per subject, warm cache)',
       bench($q$SELECT count(length(privacy_guard.reveal(email, 'marketing'))) FROM guarded$q$)
UNION ALL
SELECT 'privacy_guard: reveal masked (warm cache)',
       bench($q$SELECT count(length(privacy_guard.reveal(email, 'support'))) FROM guarded$q$)
UNION ALL
SELECT 'privacy_guard: reveal full, audit groups only (no subject sets)',
       bench($q$SET privacy_guard.audit_subjects = off;
                SELECT count(length(privacy_guard.reveal(email, 'marketing'))) FROM guarded;
                RESET privacy_guard.audit_subjects$q$);

SELECT query, round(ms, 1) AS ms, round(ms * 1e6 / :rows) AS ns_per_row,
       round(ms / (SELECT ms FROM results WHERE query LIKE 'plain%'), 2) AS x_plain,
       round(ms / (SELECT ms FROM results WHERE query LIKE 'pgcrypto%'), 2) AS x_pgcrypto,
       round((ms - (SELECT ms FROM results WHERE query LIKE 'plain%')) * 1e6 / :rows) AS ns_over_plain
  FROM results;

-- the audit trail's cost: full recording (groups + every subject, for
-- access_history) against the minimum (groups only)
SELECT round(100 * ((SELECT ms FROM results WHERE query LIKE '%reveal full (key%')
                   / (SELECT ms FROM results WHERE query LIKE '%groups only%') - 1), 1) AS audit_subjects_overhead_pct;

-- memory of the key cache holding every subject's key
SELECT 'privacy_guard key cache' AS memory, round(sum(total_bytes) / 1048576.0, 1) AS mib,
       round(sum(total_bytes) / :rows) AS bytes_per_key
  FROM pg_backend_memory_contexts
 WHERE name = 'privacy_guard key cache' OR parent = 'privacy_guard key cache';

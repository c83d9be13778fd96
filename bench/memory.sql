-- Memory of one backend revealing every value of the protect() benchmark's
-- table (each row its own subject): the key cache keeps at most
-- privacy_guard.key_cache_size keys, and a statement's audit state is
-- bounded; scripts/bench.sh samples the backend's private memory meanwhile.
\set QUIET on
\pset footer off
SET application_name = 'privacy_guard_bench_memory';
SELECT pg_sleep(0.5) \gset
SELECT clock_timestamp() AS t0 \gset
SELECT count(length(privacy_guard.reveal(email, 'marketing'))) AS revealed FROM big;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1) AS seconds;
SELECT current_setting('privacy_guard.key_cache_size')::int AS key_cache_size,
       round(sum(total_bytes) FILTER (WHERE name = 'privacy_guard key cache' OR parent = 'privacy_guard key cache') / 1048576.0, 1)
           AS key_cache_mib,
       round(sum(total_bytes) FILTER (WHERE name = 'privacy_guard key cache' OR parent = 'privacy_guard key cache')
             / current_setting('privacy_guard.key_cache_size')::numeric) AS bytes_per_cached_key,
       round(sum(total_bytes) / 1048576.0, 1) AS backend_contexts_mib
  FROM pg_backend_memory_contexts;
-- the backend's private memory after the statement, read by the backend
-- itself (a sample from outside may catch it exiting, its memory given back)
SELECT substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s+(\d+) kB')::bigint AS after_kb \gset
\echo after_kb :after_kb
SELECT pg_sleep(0.5) \gset

-- A new backend: the first statement loads and unwraps every key in bulk.
\set QUIET on
\pset footer off
SELECT count(*) AS rows FROM plain \gset
SELECT 'privacy_guard: reveal, cold cache (first statement of a backend)' AS query,
       round(bench($q$SELECT count(length(privacy_guard.reveal(email, 'marketing'))) FROM guarded$q$, 1), 1) AS ms;

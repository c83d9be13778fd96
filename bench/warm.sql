-- Bring a new server to the state of one that has run a while, before
-- anything is timed: every shared buffer's memory touched once (a fresh
-- server's first use of a buffer takes a page fault and zeroes the page,
-- which on a virtual machine costs more than the work it serves), and
-- WAL segments made and recycled (a fresh server creates and zero-fills
-- each new 16 MB segment; a running one renames an old one).  Both would
-- otherwise land on whichever timed section first writes: an audit
-- writer's records, a COPY.  A table of shared_buffers and a tenth is
-- written (logged, so its WAL fills segments), read into the buffers
-- (pg_prewarm reads without a ring), dropped; a checkpoint recycles its WAL.
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
SELECT setting::bigint * 11 / 10 * 9 AS warm_rows FROM pg_catalog.pg_settings WHERE name = 'shared_buffers' \gset
CREATE TABLE bench_warm AS SELECT g, repeat('x', 800) AS pad FROM generate_series(1, :warm_rows) g;
SELECT pg_prewarm('bench_warm') > 0 AS warmed;
DROP TABLE bench_warm;
CHECKPOINT;
DROP EXTENSION pg_prewarm;

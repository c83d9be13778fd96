-- sql/progress.sql (src/progress.c)
--   Progress of long work: protect() of a large table, rotate_master_key(),
--   rotate_search_key(), process_erasures(), one row per backend at work,
--   in the spirit of pg_stat_progress_create_index.

CREATE FUNCTION privacy_guard.progress_report(OUT pid integer, OUT datid oid, OUT usesysid oid,
                                              OUT operation text, OUT phase text, OUT relid oid,
                                              OUT done bigint, OUT total bigint,
                                              OUT started timestamptz, OUT updated timestamptz)
    RETURNS SETOF record LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_progress_report';
COMMENT ON FUNCTION privacy_guard.progress_report() IS
    'long work under way in each backend: the caller''s roles'', or everyone''s for pg_read_all_stats';

CREATE VIEW privacy_guard.progress AS
SELECT p.pid, d.datname AS database, r.rolname AS role, p.operation, p.phase,
       p.relid::pg_catalog.regclass AS relation, p.done, p.total,
       CASE WHEN p.total OPERATOR(pg_catalog.>) 0
            THEN pg_catalog.round(100.0 OPERATOR(pg_catalog.*) p.done OPERATOR(pg_catalog./) p.total, 1) END AS percent,
       p.started, p.updated
  FROM privacy_guard.progress_report() p
  LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) p.datid
  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.usesysid;
COMMENT ON VIEW privacy_guard.progress IS
    'long work under way (protect, key rotations, erasures): operation, phase, done of total';
GRANT SELECT ON privacy_guard.progress TO PUBLIC;

-- Reported by the extension's own functions.
CREATE FUNCTION privacy_guard.progress_begin(operation text, phase text, tbl regclass, total bigint) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_progress_begin';
CREATE FUNCTION privacy_guard.progress_phase(phase text, total bigint) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_progress_phase';
CREATE FUNCTION privacy_guard.progress_add(n bigint) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_progress_add';
CREATE FUNCTION privacy_guard.progress_end() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_progress_end';
COMMENT ON FUNCTION privacy_guard.progress_begin(text, text, regclass, bigint) IS
    'this backend''s long work begins (privacy_guard.progress shows it)';
COMMENT ON FUNCTION privacy_guard.progress_phase(text, bigint) IS 'this backend''s long work enters a phase (total NULL: the counts stay)';
COMMENT ON FUNCTION privacy_guard.progress_add(bigint) IS 'this backend''s long work did n more units';
COMMENT ON FUNCTION privacy_guard.progress_end() IS 'this backend''s long work ended';
REVOKE ALL ON FUNCTION privacy_guard.progress_begin(text, text, regclass, bigint),
    privacy_guard.progress_phase(text, bigint), privacy_guard.progress_add(bigint),
    privacy_guard.progress_end() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.progress_begin(text, text, regclass, bigint),
    privacy_guard.progress_phase(text, bigint), privacy_guard.progress_end() TO privacy_guard_admin;

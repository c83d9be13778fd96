-- sql/replication.sql (PL/pgSQL only; src/keycache.c refuses new keys on a subscriber)
--   Logical replication of protected tables: what a publication must carry
--   besides them so that a subscriber can read, check and erase their values.

-- A subscriber needs the publisher's keys (wrapped under the master key,
-- which both servers' keyrings hold) and the policy that governs them: the
-- catalog tables below, the built-in purposes excepted (CREATE EXTENSION
-- makes them on the subscriber too).  Never the audit trail (each database
-- keeps its own), the erasure requests (erasures run on the publisher and
-- reach the subscriber as shredded keys and rewritten rows), nor incidents
-- and lockdowns (each server's own).  A publication FOR ALL TABLES or for
-- the extension's schema would carry those too: refused.
--
-- Runs with the caller's rights: adding a table to a publication takes
-- owning both, so in practice the extension's owner calls it.  Returns the
-- tables the publication carries for the extension.
CREATE FUNCTION privacy_guard.publish(publication name) RETURNS SETOF regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    pub record;
    t record;
BEGIN
    SELECT p.oid, p.puballtables INTO pub FROM pg_catalog.pg_publication p
     WHERE p.pubname OPERATOR(pg_catalog.=) publish.publication;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'publication "%" does not exist', publication
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it first: CREATE PUBLICATION ... FOR TABLE <the protected tables>.';
    END IF;
    IF pub.puballtables OR EXISTS (SELECT FROM pg_catalog.pg_publication_namespace n
                                    WHERE n.pnpubid OPERATOR(pg_catalog.=) pub.oid
                                      AND n.pnnspid OPERATOR(pg_catalog.=) 'privacy_guard'::pg_catalog.regnamespace) THEN
        RAISE EXCEPTION 'publication "%" carries every table of privacy_guard', publication
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The audit trail is each database''s own, and the built-in purposes exist on both sides.',
                  HINT = 'Publish the protected tables by name (FOR TABLE), then call privacy_guard.publish().';
    END IF;
    FOR t IN
        SELECT v.tbl::pg_catalog.regclass AS tbl, v.row_filter
          FROM (VALUES ('privacy_guard.keys', NULL),
                       ('privacy_guard.categories', NULL),
                       ('privacy_guard.purposes',
                        'name OPERATOR(pg_catalog.<>) ALL (ARRAY[''subject_access'', ''incident_response''])'),
                       ('privacy_guard.allowances', NULL),
                       ('privacy_guard.purpose_grants', NULL),
                       ('privacy_guard.column_protection', NULL),
                       ('privacy_guard.erasure_actions', NULL),
                       ('privacy_guard.retention_rules', NULL),
                       ('privacy_guard.policy_settings', NULL),
                       ('privacy_guard.consent_events', NULL),
                       ('privacy_guard.restriction_events', NULL)) AS v(tbl, row_filter)
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_publication_rel r
                        WHERE r.prpubid OPERATOR(pg_catalog.=) pub.oid AND r.prrelid OPERATOR(pg_catalog.=) t.tbl) THEN
            EXECUTE pg_catalog.format('ALTER PUBLICATION %I ADD TABLE %s%s', publication, t.tbl,
                                      CASE WHEN t.row_filter IS NULL THEN ''
                                           ELSE ' WHERE (' OPERATOR(pg_catalog.||) t.row_filter OPERATOR(pg_catalog.||) ')' END);
        END IF;
        RETURN NEXT t.tbl;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.publish(name) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.publish(name) IS
    'add to a publication the keys and policy a subscriber of the protected tables needs; returns them';

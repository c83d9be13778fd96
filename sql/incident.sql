-- sql/incident.sql (src/incident.c)
--   Incidents and lockdown: reported incidents, and a lockdown that refuses
--   every reveal in the database at once except under incident_response.

-- The built-in purpose of an investigation, the only one that reveals
-- during a lockdown.  What it sees is the policy's choice (allow()), who
-- may act under it a grant, like any purpose.
INSERT INTO privacy_guard.purposes (name, description)
VALUES ('incident_response', 'investigating a suspected leak; the only purpose that reveals during a lockdown (built in)');

-- Reported incidents and lockdowns, one row each; a lockdown's row closes
-- when it is lifted.
CREATE TABLE privacy_guard.incident_log (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('report', 'lockdown')),
    opened_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    opened_by   name NOT NULL,
    description text NOT NULL CHECK (description <> ''),
    subject     text CHECK (subject <> ''),
    closed_at   timestamptz,
    closed_by   name,
    resolution  text,
    CHECK ((closed_at IS NULL) = (closed_by IS NULL)),
    CHECK (kind = 'report' OR subject IS NULL)
);
-- at most one open lockdown
CREATE UNIQUE INDEX incident_log_lockdown ON privacy_guard.incident_log (kind)
    WHERE kind = 'lockdown' AND closed_at IS NULL;
COMMENT ON TABLE privacy_guard.incident_log IS 'reported incidents and lockdowns';
COMMENT ON SEQUENCE privacy_guard.incident_log_id_seq IS 'ids of incidents and lockdowns';
REVOKE ALL ON privacy_guard.incident_log FROM PUBLIC;
REVOKE ALL ON SEQUENCE privacy_guard.incident_log_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.incident_log', '');
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.incident_log_id_seq', '');

-- lockdown() and lift_lockdown() take turns by locking this empty table,
-- which nothing else locks: not an advisory lock (any role can take one),
-- nor incident_log (report_incident(), open to the consent role, writes it).
CREATE TABLE privacy_guard.lockdown_turn ();
COMMENT ON TABLE privacy_guard.lockdown_turn IS
    'empty; locked by lockdown() and lift_lockdown() so that they run one at a time';
REVOKE ALL ON privacy_guard.lockdown_turn FROM PUBLIC;

-- The lockdown's state is in shared memory, not in a table (src/incident.c).
CREATE FUNCTION privacy_guard.lockdown_engage(detail text) RETURNS timestamptz
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_lockdown_engage';
CREATE FUNCTION privacy_guard.lockdown_release(detail text) RETURNS boolean
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_lockdown_release';
REVOKE ALL ON FUNCTION privacy_guard.lockdown_engage(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.lockdown_release(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.lockdown_engage(text) IS
    'lock this database down now, undone (and audited) if the transaction rolls back; returns when it began';
COMMENT ON FUNCTION privacy_guard.lockdown_release(text) IS
    'lift this database''s lockdown when the transaction commits, audited then; false if none is in force';

CREATE FUNCTION privacy_guard.lockdown_since() RETURNS timestamptz
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_lockdown_since';
COMMENT ON FUNCTION privacy_guard.lockdown_since() IS
    'when this database''s lockdown began, or NULL when none is in force';

CREATE FUNCTION privacy_guard.report_incident(description text, subject text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    incident bigint;
BEGIN
    IF description IS NULL OR btrim(description) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'an incident needs a description'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Say what was reported: what leaked, where, seen by whom.';
    END IF;
    IF subject OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'subject must not be empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass NULL when the incident concerns no one subject.';
    END IF;
    INSERT INTO privacy_guard.incident_log (kind, opened_by, description, subject)
    VALUES ('report', session_user, report_incident.description, report_incident.subject)
    RETURNING id INTO incident;
    -- the description stays in the table: it may quote personal data
    PERFORM privacy_guard.audit_event('incident', 'reported', pg_catalog.format('incident %s', incident),
                                      report_incident.subject);
    RETURN incident;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.report_incident(text, text) IS
    'record a suspected leak, about one subject or none; returns the incident''s id; audited';

CREATE FUNCTION privacy_guard.close_incident(incident bigint, resolution text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    k text;
BEGIN
    IF resolution IS NULL OR btrim(resolution) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'closing an incident needs a resolution'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Say what the investigation found and did.';
    END IF;
    SELECT i.kind INTO k FROM privacy_guard.incident_log i WHERE i.id OPERATOR(pg_catalog.=) incident FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident % does not exist', incident USING ERRCODE = 'no_data_found';
    END IF;
    IF k OPERATOR(pg_catalog.=) 'lockdown' THEN
        RAISE EXCEPTION 'incident % is a lockdown', incident
            USING ERRCODE = 'wrong_object_type', HINT = 'A lockdown ends with privacy_guard.lift_lockdown().';
    END IF;
    UPDATE privacy_guard.incident_log i
       SET closed_at = pg_catalog.now(), closed_by = session_user, resolution = close_incident.resolution
     WHERE i.id OPERATOR(pg_catalog.=) incident AND i.closed_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident % is already closed', incident USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM privacy_guard.audit_event('incident', 'closed', pg_catalog.format('incident %s', incident), NULL);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.close_incident(bigint, text) IS 'close a reported incident with what was found; audited';

-- Takes effect before it returns, in every session of this database, and
-- survives a restart; undone only if this transaction rolls back.
CREATE FUNCTION privacy_guard.lockdown(reason text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    since timestamptz;
    was_locked boolean;
    incident bigint;
BEGIN
    IF reason IS NULL OR btrim(reason) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'a lockdown needs a reason'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Name the incident that calls for it.';
    END IF;
    was_locked := privacy_guard.lockdown_since() IS NOT NULL;
    since := privacy_guard.lockdown_engage(reason);
    -- one lockdown() or lift_lockdown() at a time (the lockdown is in force
    -- meanwhile); then engage again: a lift that committed while this one
    -- waited must not leave it recorded but not in force
    LOCK TABLE privacy_guard.lockdown_turn IN EXCLUSIVE MODE;
    was_locked := was_locked AND privacy_guard.lockdown_since() IS NOT NULL;
    since := privacy_guard.lockdown_engage(reason);
    SELECT i.id INTO incident FROM privacy_guard.incident_log i
     WHERE i.kind OPERATOR(pg_catalog.=) 'lockdown' AND i.closed_at IS NULL;
    IF FOUND THEN
        IF NOT was_locked THEN
            -- its row came back with a dump, or its lift rolled back: in force again now
            PERFORM privacy_guard.audit_event('lockdown', 'started', pg_catalog.format('incident %s: %s', incident, reason), NULL);
        END IF;
        RAISE NOTICE 'a lockdown is already in force (incident %)', incident;
        RETURN incident;
    END IF;
    INSERT INTO privacy_guard.incident_log (kind, opened_at, opened_by, description)
    VALUES ('lockdown', since, session_user, reason)
    RETURNING id INTO incident;
    PERFORM privacy_guard.audit_event('lockdown', 'started', pg_catalog.format('incident %s: %s', incident, reason), NULL);
    -- The lockdown is in force already, and outlives a crash before this
    -- transaction commits; its record must too (the incident row would
    -- not: the incidents view shows such a lockdown without one).
    BEGIN
        PERFORM privacy_guard.audit_flush();
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'the lockdown is in force, but its audit record is not written yet'
            USING HINT = 'It is written when the audit writer catches up.';
    END;
    RETURN incident;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.lockdown(text) IS
    'refuse every reveal in every session at once, except under purpose incident_response; returns the lockdown''s incident id; audited';

-- Takes effect when the transaction commits.
CREATE FUNCTION privacy_guard.lift_lockdown(resolution text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    in_force boolean;
    incident bigint;
BEGIN
    LOCK TABLE privacy_guard.lockdown_turn IN EXCLUSIVE MODE;   -- one lockdown() or lift at a time
    SELECT i.id INTO incident FROM privacy_guard.incident_log i
     WHERE i.kind OPERATOR(pg_catalog.=) 'lockdown' AND i.closed_at IS NULL;
    -- audited when it takes effect, at commit
    in_force := privacy_guard.lockdown_release(pg_catalog.format('incident %s', incident));
    IF NOT in_force AND incident IS NULL THEN
        RAISE NOTICE 'no lockdown is in force';
        RETURN false;
    END IF;
    UPDATE privacy_guard.incident_log i
       SET closed_at = pg_catalog.now(), closed_by = session_user, resolution = lift_lockdown.resolution
     WHERE i.id OPERATOR(pg_catalog.=) incident;
    IF NOT in_force THEN
        -- a lockdown recorded here but not in force (a restored dump): close it, audited now
        PERFORM privacy_guard.audit_event('lockdown', 'lifted', pg_catalog.format('incident %s', incident), NULL);
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.lift_lockdown(text) IS
    'end the lockdown when this transaction commits; false if none was in force; audited';

CREATE VIEW privacy_guard.incidents AS
SELECT i.id, i.kind, i.opened_at, i.opened_by, i.description, i.subject,
       CASE WHEN i.closed_at IS NOT NULL THEN CASE i.kind WHEN 'lockdown' THEN 'lifted' ELSE 'closed' END
            WHEN i.kind OPERATOR(pg_catalog.=) 'report' THEN 'open'
            WHEN privacy_guard.lockdown_since() IS NOT NULL THEN 'in force'
            ELSE 'not in force' END AS status,
       i.closed_at, i.closed_by, i.resolution
  FROM privacy_guard.incident_log i
UNION ALL
-- a lockdown in force whose incident row never committed (its lockdown()
-- was cut off by a crash): in force all the same, until lift_lockdown()
SELECT NULL, 'lockdown', privacy_guard.lockdown_since(), NULL,
       'engaged by a lockdown() whose transaction did not commit; the audit trail has its reason',
       NULL, 'in force', NULL, NULL, NULL
 WHERE privacy_guard.lockdown_since() IS NOT NULL
   AND NOT EXISTS (SELECT FROM privacy_guard.incident_log i
                    WHERE i.kind OPERATOR(pg_catalog.=) 'lockdown' AND i.closed_at IS NULL);
COMMENT ON VIEW privacy_guard.incidents IS
    'reported incidents and lockdowns: open, closed, in force or lifted; access_history(subject) starts the investigation';

REVOKE ALL ON FUNCTION privacy_guard.report_incident(text, text), privacy_guard.close_incident(bigint, text),
    privacy_guard.lockdown(text), privacy_guard.lift_lockdown(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.report_incident(text, text) TO privacy_guard_consent, privacy_guard_admin;
GRANT EXECUTE ON FUNCTION privacy_guard.close_incident(bigint, text), privacy_guard.lockdown(text),
    privacy_guard.lift_lockdown(text) TO privacy_guard_admin;
REVOKE ALL ON privacy_guard.incidents FROM PUBLIC;
GRANT SELECT ON privacy_guard.incidents TO privacy_guard_admin, privacy_guard_auditor;

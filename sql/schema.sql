-- sql/schema.sql
--   The schema's privileges and the roles the policy names.  Everything
--   else lives in schema privacy_guard, which CREATE EXTENSION creates from
--   the control file.

-- Applications need USAGE to name the types and call seal(), reveal(),
-- blind_index() and the purpose functions; the tables are readable by
-- nobody but the extension's owner.
GRANT USAGE ON SCHEMA privacy_guard TO PUBLIC;

-- The roles a DBA grants (all NOLOGIN, kept when the extension is dropped):
--   privacy_guard_admin    policy owners: the administrative functions
--                          (define_*, allow, grant_purpose, protect,
--                          rotate_master_key, erasure, retention, lockdown)
--   privacy_guard_auditor  reads the audit trail; nobody but the
--                          extension's writer writes it
--   privacy_guard_consent  records customers' consent (the application's
--                          sign-up and preference pages); consent cannot be
--                          given by any role that can write
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['privacy_guard_admin', 'privacy_guard_auditor', 'privacy_guard_consent'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

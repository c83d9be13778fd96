-- sql/schema.sql
--   The schema's privileges and the roles the policy names.  Everything
--   else lives in schema privacy_guard, which CREATE EXTENSION creates from
--   the control file.

-- The schema must be the extension's own.  One that another role made
-- before CREATE EXTENSION could hold an object of theirs that our
-- privileged code would call (an overload that matches better than ours),
-- and one where another role may create objects could get one later.
-- CREATE EXTENSION makes the schema when it is missing; pg_dump writes
-- CREATE SCHEMA before CREATE EXTENSION, so an empty schema owned by a
-- superuser, on which nobody else may create, is accepted too.
DO $$
DECLARE
    s oid := pg_catalog.to_regnamespace('privacy_guard');
    why text;
BEGIN
    SELECT CASE WHEN NOT r.rolsuper THEN pg_catalog.format('It is owned by role "%s", which is not a superuser.', r.rolname)
                WHEN EXISTS (SELECT FROM pg_catalog.aclexplode(n.nspacl) a
                              WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
                                AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner)
                     THEN 'Roles other than its owner may create objects in it.'
                WHEN EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_type WHERE typnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_operator WHERE oprnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_opclass WHERE opcnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_opfamily WHERE opfnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_collation WHERE collnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_conversion WHERE connamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_ts_config WHERE cfgnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_ts_dict WHERE dictnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_ts_parser WHERE prsnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_ts_template WHERE tmplnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_statistic_ext WHERE stxnamespace OPERATOR(pg_catalog.=) s
                             UNION ALL SELECT FROM pg_catalog.pg_extension WHERE extnamespace OPERATOR(pg_catalog.=) s
                                                                             AND extname OPERATOR(pg_catalog.<>) 'privacy_guard'
                             UNION ALL SELECT FROM pg_catalog.pg_default_acl WHERE defaclnamespace OPERATOR(pg_catalog.=) s)
                     THEN 'It already holds objects.'
           END
      INTO why
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
     WHERE n.oid OPERATOR(pg_catalog.=) s;
    IF why IS NOT NULL THEN
        RAISE EXCEPTION 'schema "privacy_guard" already exists and is not the extension''s own'
            USING ERRCODE = 'duplicate_schema', DETAIL = why,
                  HINT = 'Look at what it holds, drop it, then run CREATE EXTENSION privacy_guard again.';
    END IF;
END
$$;

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
--   privacy_guard_standby  the role a hot standby's audit writer connects
--                          to the primary as: it records the standby's
--                          events in the primary's trail
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['privacy_guard_admin', 'privacy_guard_auditor', 'privacy_guard_consent',
                             'privacy_guard_standby'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- Once installed, the schema holds nothing but the extension's own objects.
-- Nobody else may create in it, but installing a trusted extension needs
-- only CREATE on the database, and its script runs as a superuser: its
-- functions, in our schema, could one day match a call of ours better than
-- our own.
CREATE FUNCTION privacy_guard.keep_schema_own() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    ext name;
BEGIN
    SELECT e.extname INTO ext
      FROM pg_catalog.pg_event_trigger_ddl_commands() c
      JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) c.objid
     WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND e.extnamespace OPERATOR(pg_catalog.=) 'privacy_guard'::pg_catalog.regnamespace
       AND e.extname OPERATOR(pg_catalog.<>) 'privacy_guard';
    IF FOUND THEN
        RAISE EXCEPTION 'extension "%" cannot be installed in schema "privacy_guard"', ext
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Schema privacy_guard holds only the extension privacy_guard; choose another schema.';
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.keep_schema_own() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.keep_schema_own() IS
    'event trigger: refuses another extension in schema privacy_guard';
CREATE EVENT TRIGGER privacy_guard_keep_schema_own ON ddl_command_end
    WHEN TAG IN ('CREATE EXTENSION', 'ALTER EXTENSION')
    EXECUTE FUNCTION privacy_guard.keep_schema_own();
COMMENT ON EVENT TRIGGER privacy_guard_keep_schema_own IS
    'refuses another extension in schema privacy_guard';

-- Lock a table of another role before looking at what it is (src/catalog.c):
-- scan(), subject_export() and protect() read or convert tables whose owner
-- could otherwise change them between the look and the statement.
CREATE FUNCTION privacy_guard.lock_relation(tbl regclass, exclusive boolean, caller text) RETURNS "char"
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_lock_relation';
COMMENT ON FUNCTION privacy_guard.lock_relation(regclass, boolean, text) IS
    'lock a table the caller may read (or owns, to lock it exclusively), at READ COMMITTED; its kind as locked';

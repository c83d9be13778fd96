-- sql/collection.sql (src/collection.c)
--   The collection guard's event trigger: new, unprotected columns whose
--   names suggest personal data are warned about or refused.

-- The collection guard (src/collection.c): a new column whose name suggests
-- personal data, and that is not protected, gets a warning at commit, or
-- with privacy_guard.collection_guard = error is refused then (and at the
-- end of the command for the special categories the policy never collects).
-- New columns are seen as they are created; this trigger looks at them at
-- the end of each command, and at columns renamed or retyped.
CREATE FUNCTION privacy_guard.collection_guard() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_collection_guard';
REVOKE ALL ON FUNCTION privacy_guard.collection_guard() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.collection_guard() IS
    'event trigger: new columns whose names suggest personal data must be protected';
CREATE EVENT TRIGGER privacy_guard_collection_guard ON ddl_command_end
    EXECUTE FUNCTION privacy_guard.collection_guard();
COMMENT ON EVENT TRIGGER privacy_guard_collection_guard IS
    'the collection guard: judges new, renamed and retyped columns at the end of each command';

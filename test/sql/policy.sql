-- Policy catalog: categories, purposes (a tree), allowances, grants,
-- the session purpose, and who may touch the catalog.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP done by the fixture; TESTS

-- the catalog as defined
SELECT name, sensitivity, mask FROM privacy_guard.categories ORDER BY name;
SELECT name, parent, requires_consent, third_party FROM privacy_guard.purposes ORDER BY name;

-- redefinition updates in place (idempotent)
SELECT privacy_guard.define_category('unused', 'sensitive', 'redact', 'changed');
SELECT sensitivity, description FROM privacy_guard.categories WHERE name = 'unused';

-- refusals: bad names, sensitivity, masks, levels, unknown references
SELECT privacy_guard.define_category('Bad Name');
SELECT privacy_guard.define_category(NULL);
SELECT privacy_guard.define_category('x', 'secret');
SELECT privacy_guard.define_category('x', 'personal', 'scramble');
SELECT privacy_guard.define_purpose('p1', parent => 'nope');
SELECT privacy_guard.allow('nope', 'contact');
SELECT privacy_guard.allow('support', 'nope');
SELECT privacy_guard.allow('support', 'contact', 'everything');
SELECT privacy_guard.allow('support', 'health');
SELECT privacy_guard.grant_purpose('support_agent', 'nope');
SELECT privacy_guard.grant_purpose('no_such_role', 'support');

-- references between the catalog's tables (kept by a trigger, not foreign
-- keys, which would fail pg_restore -j): a purpose that goes takes its
-- allowances and grants along; a name still referred to cannot be renamed
-- (nor go, with consent history or a protected column: policy_doc.sql)
SELECT privacy_guard.define_purpose('short_lived');
SELECT privacy_guard.allow('short_lived', 'contact');
SELECT privacy_guard.grant_purpose('support_agent', 'short_lived');
BEGIN;
DELETE FROM privacy_guard.purposes WHERE name = 'short_lived';
SELECT (SELECT count(*) FROM privacy_guard.allowances WHERE purpose = 'short_lived') AS allowances,
       (SELECT count(*) FROM privacy_guard.purpose_grants WHERE purpose = 'short_lived') AS grants;
ROLLBACK;
\set SHOW_CONTEXT never
UPDATE privacy_guard.purposes SET name = 'short_lived2' WHERE name = 'short_lived';
\echo :LAST_ERROR_SQLSTATE
UPDATE privacy_guard.categories SET name = 'contact2' WHERE name = 'contact';
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors
UPDATE privacy_guard.purposes SET description = 'kept' WHERE name = 'short_lived';
DELETE FROM privacy_guard.allowances WHERE purpose = 'short_lived';
DELETE FROM privacy_guard.purpose_grants WHERE purpose = 'short_lived';
DELETE FROM privacy_guard.purposes WHERE name = 'short_lived';

-- the tree stays a tree
SELECT privacy_guard.define_purpose('order_fulfilment', parent => 'delivery');
SELECT privacy_guard.define_purpose('delivery', parent => 'delivery');
SELECT parent FROM privacy_guard.purposes WHERE name = 'order_fulfilment';

-- third-party purposes always require consent
SELECT privacy_guard.define_purpose('partner_transfer', third_party => true);
SELECT requires_consent, third_party FROM privacy_guard.purposes WHERE name = 'partner_transfer';

-- set_purpose: granted directly, through role membership, through a parent
SET ROLE support_agent;
SELECT privacy_guard.current_purpose();
SELECT privacy_guard.set_purpose('support', 'ticket 4711');
SELECT privacy_guard.current_purpose();
SELECT privacy_guard.reset_purpose();
SELECT privacy_guard.current_purpose();
-- not granted, unknown, null
SELECT privacy_guard.set_purpose('delivery');
SELECT privacy_guard.set_purpose('no_such_purpose');
SELECT privacy_guard.set_purpose(NULL);
SELECT privacy_guard.current_purpose();
RESET ROLE;
SET ROLE courier;   -- member of dispatch, which holds delivery
SELECT privacy_guard.set_purpose('delivery');
SELECT privacy_guard.set_purpose('order_fulfilment');   -- the parent is not granted
RESET ROLE;
SET ROLE marketer;  -- holds order_fulfilment, so also its child delivery
SELECT privacy_guard.set_purpose('delivery');
RESET ROLE;

-- revoke takes effect at once, in this session too
SELECT privacy_guard.revoke_purpose('support_agent', 'support');
SELECT privacy_guard.revoke_purpose('support_agent', 'support');
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
RESET ROLE;
-- a change of the policy reaches every session when it commits, so it is
-- not left for another session to commit (test/specs/cached_plan.spec shows
-- it reaching a transaction that keeps running a cached plan)
BEGIN;
SELECT privacy_guard.grant_purpose('support_agent', 'support');
PREPARE TRANSACTION 'policy_change';
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid = 'policy_change';
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');     -- the grant rolled back
RESET ROLE;
SELECT privacy_guard.grant_purpose('support_agent', 'support');
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
RESET ROLE;

-- an application role cannot read or write the catalog or the keys
SET ROLE app;
SELECT * FROM privacy_guard.categories;
SELECT * FROM privacy_guard.purposes;
SELECT * FROM privacy_guard.allowances;
SELECT * FROM privacy_guard.purpose_grants;
SELECT * FROM privacy_guard.keys;
SELECT * FROM privacy_guard.column_protection;
INSERT INTO privacy_guard.purpose_grants VALUES ('app', 'support');
UPDATE privacy_guard.allowances SET level = 'full';
DELETE FROM privacy_guard.keys;
-- nor run the administrative functions
SELECT privacy_guard.define_category('sneaky');
SELECT privacy_guard.define_purpose('sneaky');
SELECT privacy_guard.allow('support', 'contact', 'full');
SELECT privacy_guard.grant_purpose('app', 'support');
SELECT privacy_guard.revoke_purpose('courier', 'delivery');
SELECT privacy_guard.rotate_master_key();
-- but may declare nothing it was not granted
SELECT privacy_guard.set_purpose('support');
RESET ROLE;

-- a member of privacy_guard_admin administers the policy
SET ROLE policy_owner;
SELECT privacy_guard.define_category('loyalty', 'personal', 'redact');
SELECT privacy_guard.allow('marketing', 'loyalty');
SELECT * FROM privacy_guard.categories;   -- but still cannot read tables directly
RESET ROLE;

-- every function that runs with the extension's rights, and every SQL or
-- PL/pgSQL body, pins its search_path (unqualified names then resolve in
-- pg_catalog only); C functions qualify every name in their queries
SELECT p.oid::regprocedure AS without_pinned_search_path
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'privacy_guard'::regnamespace
   AND (p.prosecdef OR l.lanname IN ('sql', 'plpgsql'))
   AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp'];
-- and the check can fail: a function without it is found
CREATE FUNCTION privacy_guard.canary() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT p.oid::regprocedure AS without_pinned_search_path
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'privacy_guard'::regnamespace
   AND (p.prosecdef OR l.lanname IN ('sql', 'plpgsql'))
   AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp'];
DROP FUNCTION privacy_guard.canary();
-- administrative functions are not executable by PUBLIC
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_run
  FROM pg_proc p
 WHERE p.pronamespace = 'privacy_guard'::regnamespace
   AND p.proname IN ('define_category', 'define_purpose', 'allow', 'grant_purpose',
                     'revoke_purpose', 'protect', 'rotate_master_key', 'seal_row',
                     'catalog_changed', 'seal_searchable', 'register_protection')
 ORDER BY 1;
-- no table of the extension is readable by PUBLIC
SELECT c.relname, has_table_privilege('public', c.oid, 'SELECT') AS public_can_read
  FROM pg_class c
 WHERE c.relnamespace = 'privacy_guard'::regnamespace AND c.relkind = 'r'
 ORDER BY 1;

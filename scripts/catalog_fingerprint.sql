-- One line per property of every object of extension privacy_guard in the
-- current database (functions with flags, ACLs and body digests, tables,
-- columns, constraints, indexes, triggers, views, casts, types, event
-- triggers, config dumps, comments): two installs compare with diff.
\pset format unaligned
\pset tuples_only on
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'privacy_guard'),
mem AS (SELECT classid, objid FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM ext) AND deptype = 'e')
SELECT 'proc ' || p.oid::regprocedure || ' ret=' || p.prorettype::regtype || ' lang=' || l.lanname || ' secdef=' || p.prosecdef
       || ' vol=' || p.provolatile::text || ' par=' || p.proparallel::text || ' strict=' || p.proisstrict || ' cfg=' || coalesce(p.proconfig::text, '')
       || ' acl=' || coalesce(p.proacl::text, '') || ' src=' || md5(p.prosrc) || ' bin=' || coalesce(p.probin, '') || ' defaults=' || coalesce(pg_get_expr(p.proargdefaults, 0), '')
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid IN (SELECT objid FROM mem WHERE classid = 'pg_proc'::regclass)
UNION ALL
SELECT 'rel ' || c.oid::regclass || ' kind=' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '') || ' persist=' || c.relpersistence::text
  FROM pg_class c WHERE c.oid IN (SELECT objid FROM mem WHERE classid = 'pg_class'::regclass)
UNION ALL
SELECT 'col ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' nn=' || a.attnotnull || ' def=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' acl=' || coalesce(a.attacl::text, '')
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid IN (SELECT objid FROM mem WHERE classid = 'pg_class'::regclass) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid IN (SELECT objid FROM mem WHERE classid = 'pg_class'::regclass)
UNION ALL
SELECT 'idx ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN (SELECT objid FROM mem WHERE classid = 'pg_class'::regclass)
UNION ALL
SELECT 'trg ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text FROM pg_trigger t WHERE t.tgrelid IN (SELECT objid FROM mem WHERE classid = 'pg_class'::regclass) AND NOT t.tgisinternal
UNION ALL
SELECT 'view ' || c.oid::regclass || ' ' || md5(pg_get_viewdef(c.oid)) FROM pg_class c WHERE c.relkind::text = 'v' AND c.oid IN (SELECT objid FROM mem WHERE classid = 'pg_class'::regclass)
UNION ALL
SELECT 'evt ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc || ' ' || evtenabled::text || ' ' || coalesce(evttags::text, '') FROM pg_event_trigger WHERE oid IN (SELECT objid FROM mem)
UNION ALL
SELECT 'cast ' || castsource::regtype || '->' || casttarget::regtype || ' ' || castfunc::regprocedure || ' ' || castcontext::text || castmethod::text FROM pg_cast WHERE oid IN (SELECT objid FROM mem WHERE classid = 'pg_cast'::regclass)
UNION ALL
SELECT 'type ' || t.oid::regtype || ' ' || t.typinput || ' ' || t.typoutput || ' ' || t.typreceive || ' ' || t.typsend || ' ' || t.typstorage::text || ' ' || t.typlen || ' ' || coalesce(t.typacl::text, '') FROM pg_type t WHERE t.oid IN (SELECT objid FROM mem WHERE classid = 'pg_type'::regclass)
UNION ALL
SELECT 'config ' || unnest(extconfig)::regclass || ' ' FROM pg_extension WHERE extname = 'privacy_guard'
UNION ALL
SELECT 'cond ' || unnest(extcondition) FROM pg_extension WHERE extname = 'privacy_guard'
UNION ALL
SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'privacy_guard'
UNION ALL
SELECT 'data purposes ' || string_agg(name || ':' || coalesce(description, ''), ',' ORDER BY name) FROM privacy_guard.purposes
UNION ALL
SELECT 'comment ' || pg_describe_object(classoid, objoid, objsubid) || ' = ' || description FROM pg_description
 WHERE (classoid, objoid) IN (SELECT classid, objid FROM mem)
ORDER BY 1;

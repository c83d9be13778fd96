-- The policy as a document: export_policy() and load_policy() round-trip,
-- replace the policy whole, refuse what would break something in use, all
-- or nothing; every malformed document is named by its path; and the record
-- of processing activities, read from the catalog, is current.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
-- an outcome in one line: what a load changed, or its SQLSTATE and message
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
    st text;
    msg text;
BEGIN
    EXECUTE q INTO res;
    RETURN coalesce(res, 'ok');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ' ' || msg;
END $$;
CREATE FUNCTION try_load(doc jsonb) RETURNS text LANGUAGE sql
    AS $$ SELECT try(format('SELECT privacy_guard.load_policy(%L)', doc)) $$;
-- a document without a category (and its allowances), or a purpose (and its grants)
CREATE FUNCTION without_category(doc jsonb, cat text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(doc, '{categories}',
               (SELECT jsonb_agg(c) FROM jsonb_array_elements(doc->'categories') c WHERE c->>'name' <> cat)),
           '{purposes}',
               (SELECT jsonb_agg(jsonb_set(p, '{allow}', coalesce((SELECT jsonb_agg(a) FROM jsonb_array_elements(p->'allow') a
                                                                    WHERE a->>'category' <> cat), '[]')))
                  FROM jsonb_array_elements(doc->'purposes') p)) $$;
CREATE FUNCTION without_purpose(doc jsonb, purpose text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(doc, '{purposes}',
               (SELECT jsonb_agg(p) FROM jsonb_array_elements(doc->'purposes') p WHERE p->>'name' <> purpose)),
           '{grants}',
               (SELECT coalesce(jsonb_object_agg(g.key, g.value - purpose), '{}') FROM jsonb_each(doc->'grants') g)) $$;
-- protected tables, so that a category is in use and rules have tables
CREATE TABLE customers (id int PRIMARY KEY, email text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, placed_at timestamptz NOT NULL, address text, note text);
SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('orders', 'address', 'address', 'customer_id');
INSERT INTO customers VALUES (1, 'ada@example.com'), (2, 'alan@example.com');
INSERT INTO orders VALUES (1, 1, now(), '12 St James''s Square, London');

-- TESTS
-- the fixture's policy as a document: its keys, then each entry
SELECT privacy_guard.export_policy() AS fx \gset
SELECT key, jsonb_typeof(value) AS type, CASE WHEN jsonb_typeof(value) = 'array' THEN jsonb_array_length(value) END AS entries
  FROM jsonb_each(:'fx'::jsonb);
SELECT value AS category FROM jsonb_array_elements(:'fx'::jsonb->'categories');
SELECT value AS purpose FROM jsonb_array_elements(:'fx'::jsonb->'purposes');
SELECT :'fx'::jsonb->'grants' AS grants, :'fx'::jsonb->'erasure_deadline' AS erasure_deadline;
-- built-in purposes are not in "purposes"
SELECT count(*) AS built_in_purposes_exported FROM jsonb_array_elements(:'fx'::jsonb->'purposes') p
 WHERE p->>'name' IN ('subject_access', 'incident_response');

-- export, load, export: the same text, and the load changed nothing
SELECT privacy_guard.load_policy(:'fx');
SELECT privacy_guard.export_policy()::text = :'fx' AS identical;

-- a load makes the catalog equal to the document: added, changed, removed
SELECT jsonb_set(jsonb_set(jsonb_set(without_purpose(:'fx', 'profile'),
           '{categories,10,description}', '"loyalty points"'),
           '{erasure_deadline}', '"14 days"'),
           '{grants,support_agent}', '["subject_access", "support"]') AS doc2 \gset
SELECT privacy_guard.audit_flush();
SELECT count(*) AS records_before FROM privacy_guard.audit_log \gset
SELECT privacy_guard.load_policy(:'doc2') AS summary \gset
SELECT jsonb_pretty(:'summary');
SELECT name FROM privacy_guard.purposes ORDER BY name;
SELECT description FROM privacy_guard.categories WHERE name = 'unused';
SELECT role, purpose FROM privacy_guard.purpose_grants ORDER BY role::text, purpose;
SELECT privacy_guard.export_policy() = :'doc2'::jsonb AS catalog_equals_document;
-- every change is audited, and the load with the policy's digest
SELECT privacy_guard.audit_flush();
SELECT count(*) > :records_before AS audited FROM privacy_guard.audit_log;
SELECT statement = format('policy document loaded: %s changes; the policy is now sha256:%s', :'summary'::jsonb->>'changes',
                          encode(sha256(convert_to(privacy_guard.export_policy()::text, 'UTF8')), 'hex')) AS load_audited
  FROM privacy_guard.audit_log WHERE event = 'policy_load' ORDER BY id DESC LIMIT 1;
-- the same document again: nothing changes, nothing is audited
SELECT count(*) AS records_before FROM privacy_guard.audit_log \gset
SELECT privacy_guard.load_policy(:'doc2');
SELECT privacy_guard.audit_flush();
SELECT count(*) - :records_before AS new_records FROM privacy_guard.audit_log;
-- and back: the fixture's policy, exactly; an erasure deadline left out is
-- the default (30 days), and needs no setting
SELECT privacy_guard.load_policy(:'fx'::jsonb - 'erasure_deadline');
SELECT count(*) AS deadline_settings FROM privacy_guard.policy_settings;
SELECT privacy_guard.export_policy()::text = :'fx' AS identical;
SELECT privacy_guard.load_policy(:'fx');

-- intervals are written the same whatever the session's IntervalStyle
SET intervalstyle = iso_8601;
SELECT privacy_guard.export_policy()::text = :'fx' AS identical;
SELECT try_load(jsonb_set(:'fx', '{erasure_deadline}', '"P14D"'));
RESET intervalstyle;
SELECT privacy_guard.export_policy()->'erasure_deadline' AS erasure_deadline;
SELECT try_load(:'fx');

-- a grant of a role dropped since is not exported, and a load removes it
CREATE ROLE leaver;
SELECT privacy_guard.grant_purpose('leaver', 'support');
DROP ROLE leaver;
SELECT privacy_guard.export_policy()::text = :'fx' AS identical;
SELECT try_load(:'fx');
SELECT count(*) AS grants FROM privacy_guard.purpose_grants;

-- a document written by hand loads in its canonical form: optional keys
-- left out (no parent, no description, level full, no allowance), and a
-- third-party purpose requires consent
SELECT try_load(jsonb_set(:'fx', '{purposes}', (:'fx'::jsonb->'purposes') || jsonb_build_array(
    jsonb_build_object('name', 'partner_offers', 'third_party', true, 'parent', 'marketing'),
    jsonb_build_object('name', 'newsletter', 'parent', 'marketing', 'allow', '[{"category": "contact"}]'::jsonb))));
SELECT value FROM jsonb_array_elements(privacy_guard.export_policy()->'purposes') WHERE value->>'parent' = 'marketing';
SELECT try_load(:'fx');

-- removing what is in use is refused, with a hint; what is not in use goes
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT privacy_guard.load_policy(without_category(:'fx', 'contact'));
SELECT try_load(without_category(:'fx', 'contact'));
SELECT try_load(without_category(:'fx', 'unused'));
SELECT try_load(:'fx');
SET ROLE signup;
SELECT privacy_guard.grant_consent('1', 'marketing', 'newsletter box ticked');
RESET ROLE;
SELECT privacy_guard.load_policy(without_purpose(:'fx', 'marketing'));
SELECT try_load(without_purpose(:'fx', 'marketing'));
SELECT privacy_guard.export_policy()::text = :'fx' AS unchanged;

-- all or nothing: a load that fails halfway (a category added, a grant
-- and a purpose removed, then a bad erasure deadline) leaves the catalog as
-- it was, and the trail says it was rolled back
SELECT jsonb_set(jsonb_insert(without_purpose(:'fx', 'profile'), '{categories,-1}', '{"name": "zz_loyalty"}', true),
                 '{erasure_deadline}', '"-1 day"') AS half \gset
SELECT try_load(:'half');
SELECT privacy_guard.export_policy()::text = :'fx' AS unchanged;
SELECT privacy_guard.audit_flush();
SELECT outcome, statement FROM privacy_guard.audit_log WHERE event = 'policy_load' ORDER BY id DESC LIMIT 1;

-- malformed documents: the path of the place, the SQLSTATE, the reason
-- the document as a whole
SELECT try_load(NULL);
SELECT try_load('[]');
SELECT try_load('"policy"');
SELECT try_load(:'fx'::jsonb || '{"categorie": []}');
SELECT privacy_guard.load_policy(:'fx'::jsonb || '{"categorie": []}');
SELECT try_load(:'fx'::jsonb - 'format');
SELECT try_load(:'fx'::jsonb || '{"format": 1}');
SELECT try_load(:'fx'::jsonb || '{"format": "privacy_guard/2"}');
SELECT try_load(:'fx'::jsonb || '{"categories": {}}');
SELECT try_load(:'fx'::jsonb || '{"purposes": null}');
SELECT try_load(:'fx'::jsonb || '{"grants": []}');
SELECT try_load(:'fx'::jsonb || '{"retention": "none"}');
SELECT try_load(:'fx'::jsonb || '{"erasure_actions": {}}');
-- categories
SELECT try_load(jsonb_set(:'fx', '{categories,1}', '"birth"'));
SELECT try_load(jsonb_set(:'fx', '{categories,1,sensitivty}', '"personal"'));
SELECT try_load(:'fx'::jsonb #- '{categories,1,name}');
SELECT try_load(jsonb_set(:'fx', '{categories,1,name}', '42'));
SELECT try_load(jsonb_set(:'fx', '{categories,1,name}', 'null'));
SELECT try_load(jsonb_insert(:'fx', '{categories,-1}', '{"name": "Bad Name"}', true));
SELECT try_load(jsonb_insert(:'fx', '{categories,-1}', '{"name": ""}', true));
SELECT try_load(jsonb_insert(:'fx', '{categories,-1}', '{"name": "contact"}', true));
SELECT try_load(jsonb_set(:'fx', '{categories,3,sensitivity}', '"secret"'));
SELECT try_load(jsonb_set(:'fx', '{categories,3,sensitivity}', 'true'));
SELECT try_load(jsonb_set(:'fx', '{categories,10,mask}', '"scramble"'));
SELECT try_load(jsonb_set(:'fx', '{categories,10,description}', '5'));
-- purposes
SELECT try_load(jsonb_set(:'fx', '{purposes,4}', '[]'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,requires_consnet}', 'true'));
SELECT try_load(:'fx'::jsonb #- '{purposes,4,name}');
SELECT try_load(jsonb_insert(:'fx', '{purposes,-1}', '{"name": "Bad Name"}', true));
SELECT try_load(jsonb_insert(:'fx', '{purposes,-1}', '{"name": "support"}', true));
SELECT try_load(jsonb_insert(:'fx', '{purposes,-1}', '{"name": "subject_access"}', true));
-- incident_response is built in: a document sets only what it sees
SELECT try_load(jsonb_set(:'fx', '{purposes,1,parent}', '"support"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,1,requires_consent}', 'true'));
SELECT try_load(jsonb_set(:'fx', '{purposes,1,description}', '"mine now"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,1,allow}', '[{"category": "contact", "level": "masked"}]'));
SELECT level FROM privacy_guard.allowances WHERE purpose = 'incident_response';
SELECT try_load(:'fx');
SELECT count(*) FROM privacy_guard.allowances WHERE purpose = 'incident_response';
SELECT try_load(jsonb_set(:'fx', '{purposes,4,parent}', '"nope"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,parent}', '["support"]'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,parent}', '"subject_access"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,parent}', '"profile"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,3,parent}', '"delivery"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,requires_consent}', '"yes"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,third_party}', 'true'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow}', '{}'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow,1}', '"browsing"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow,1,levle}', '"full"'));
SELECT try_load(:'fx'::jsonb #- '{purposes,4,allow,1,category}');
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow,1,category}', '"helth"'));
SELECT privacy_guard.load_policy(jsonb_set(:'fx', '{purposes,4,allow,1,category}', '"helth"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow,1,category}', '"health"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow,1,category}', '"birth"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow,1,level}', '"everything"'));
SELECT try_load(jsonb_set(:'fx', '{purposes,4,allow,1,level}', 'null'));
-- a category that becomes prohibited while a purpose allows it
SELECT try_load(jsonb_set(:'fx', '{categories,1,sensitivity}', '"prohibited"'));
-- grants
SELECT try_load(jsonb_set(:'fx', '{grants,marketer}', '"marketing"'));
SELECT try_load(jsonb_set(:'fx', '{grants,marketer,0}', '1'));
SELECT try_load(jsonb_set(:'fx', '{grants,nobody}', '["support"]'));
SELECT try_load(jsonb_set(:'fx', '{grants,marketer,0}', '"nope"'));
SELECT try_load(jsonb_set(:'fx', '{grants,marketer}', '["marketing", "profile", "marketing"]'));
-- the erasure deadline
SELECT try_load(jsonb_set(:'fx', '{erasure_deadline}', '30'));
SELECT try_load(jsonb_set(:'fx', '{erasure_deadline}', '"thirty days"'));
SELECT try_load(jsonb_set(:'fx', '{erasure_deadline}', '"-1 day"'));
-- retention rules and erasure actions
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "orders", "time_column": "placed_at", "keep": "1 year", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.nope", "time_column": "placed_at", "keep": "1 year", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "nope", "keep": "1 year", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "address", "keep": "1 year", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "placed_at", "keep": "forever", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "placed_at", "keep": "-1 year", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "placed_at", "keep": "1 year", "action": "archive"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "placed_at", "keep": "1 year"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "placed_at", "keep": "1 year", "action": "delete", "when": "now"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "placed_at", "keep": "1 year", "action": "delete"},
                                                  {"table": "public.ORDERS", "time_column": "placed_at", "keep": "2 years", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{retention}', '[{"table": "pg_catalog.pg_class", "time_column": "relname", "keep": "1 year", "action": "delete"}]'));
SELECT try_load(jsonb_set(:'fx', '{erasure_actions}', '[{"table": "public.orders", "action": "shred"}]'));
SELECT try_load(jsonb_set(:'fx', '{erasure_actions}', '[{"table": "public.orders", "action": "delete", "subject_column": "nope"}]'));
SELECT try_load(jsonb_set(:'fx', '{erasure_actions}', '[{"table": "public.orders", "action": "delete", "subject_column": 1}]'));
-- after all these, the policy is the fixture's
SELECT privacy_guard.export_policy()::text = :'fx' AS unchanged;

-- retention rules and erasure actions round-trip, in canonical spelling
SELECT jsonb_set(jsonb_set(:'fx', '{retention}', '[{"table": "public.orders", "time_column": "placed_at", "keep": "24 months", "action": "Anonymize"}]'),
                 '{erasure_actions}', '[{"table": "public.orders", "action": "anonymize"}]') AS rules \gset
SELECT try_load(:'rules');
SELECT privacy_guard.export_policy()->'retention' AS retention, privacy_guard.export_policy()->'erasure_actions' AS erasure_actions;
SELECT try_load(:'rules');
SELECT privacy_guard.export_policy() AS with_rules \gset
SELECT try_load(:'with_rules');
SELECT privacy_guard.export_policy()::text = :'with_rules' AS identical;

-- a policy owner may load what they may do: a change to a rule of a table
-- they do not own is refused, with the path; the same rules pass unchanged
SET ROLE policy_owner;
SELECT try_load(jsonb_set(:'with_rules', '{retention,0,keep}', '"1 year"'));
SELECT try_load(jsonb_set(:'with_rules', '{retention}', '[]'));
SELECT try_load(jsonb_set(:'with_rules', '{erasure_actions}', '[]'));
SELECT try_load(jsonb_set(:'with_rules', '{erasure_actions,0,action}', '"delete"'));
SELECT try_load(jsonb_set(:'with_rules', '{categories,10,description}', '"by the policy owner"'));
SELECT try_load(:'with_rules');
RESET ROLE;
-- the owner of the tables may
SELECT try_load(:'fx');
SELECT privacy_guard.export_policy()::text = :'fx' AS identical;

-- who may: admins export and load, auditors export and read the record,
-- nobody else (from here on, verify_audit()'s warnings about the trail
-- the fixture restarted are not shown: they name a table oid)
SET client_min_messages = error;
SET ROLE app;
SELECT try('SELECT privacy_guard.export_policy()');
SELECT try_load(:'fx');
SELECT try('SELECT privacy_guard.processing_record()');
SELECT try('SELECT privacy_guard.processing_record_text()');
RESET ROLE;
SET ROLE auditor;
SELECT try('SELECT privacy_guard.export_policy()::text') = :'fx' AS auditor_exports;
SELECT try_load(:'fx');
SELECT try('SELECT privacy_guard.processing_record()->>''record''');
RESET ROLE;
SET ROLE policy_owner;
SELECT try('SELECT privacy_guard.export_policy()::text') = :'fx' AS admin_exports;
SELECT try_load(:'fx');
SELECT try('SELECT privacy_guard.processing_record()->>''record''');
RESET ROLE;
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_run
  FROM pg_proc p
 WHERE p.pronamespace = 'privacy_guard'::regnamespace
   AND (p.proname LIKE 'policy_doc%' OR p.proname IN ('export_policy', 'load_policy', 'processing_record', 'processing_record_text'))
 ORDER BY 1;

-- the example policy of POLICY.md loads (its roles created first), and is
-- what export gives back
CREATE ROLE order_clerk;
CREATE ROLE security_officer;
CREATE ROLE shop_app;
\set shop `cat :abs_srcdir/../examples/shop_policy.json`
SELECT jsonb_pretty(privacy_guard.load_policy(:'shop')->'removed') AS removed;
SELECT privacy_guard.export_policy() = :'shop'::jsonb AS example_is_canonical;
SELECT privacy_guard.load_policy(privacy_guard.export_policy());
-- its prohibited categories cannot be protected, its third-party purpose is allowed nothing
SELECT privacy_guard.protect('orders', 'note', 'health', 'customer_id');
SELECT p FROM jsonb_array_elements(privacy_guard.export_policy()->'purposes') p WHERE p->>'third_party' = 'true';
SELECT privacy_guard.load_policy(:'fx')->'changes' AS changes;
SELECT privacy_guard.export_policy()::text = :'fx' AS identical;
DROP ROLE order_clerk, security_officer, shop_app;

-- the record of processing activities, for the fixture's policy
SELECT privacy_guard.audit_flush();
SELECT privacy_guard.processing_record() AS rec \gset
SELECT :'rec'::jsonb->>'record' AS record, :'rec'::jsonb->>'database' AS database,
       (:'rec'::jsonb->>'generated_at')::timestamptz BETWEEN now() - interval '1 minute' AND now() AS generated_now;
-- each purpose: what it sees (inherited allowances named), who holds it
-- (a grant of an ancestor counts; members counted), consent
SELECT p->>'name' AS purpose, p->>'parent' AS parent, p->>'built_in' AS built_in, p->>'requires_consent' AS consent,
       p->>'third_party' AS third_party
  FROM jsonb_array_elements(:'rec'::jsonb->'purposes') p;
SELECT p->>'name' AS purpose, c->>'category' AS category, c->>'level' AS level, c->>'inherited_from' AS inherited_from
  FROM jsonb_array_elements(:'rec'::jsonb->'purposes') p, jsonb_array_elements(p->'categories') c
 WHERE p->>'name' IN ('delivery', 'order_fulfilment', 'support');
SELECT p->>'name' AS purpose, r->>'role' AS role, r->>'granted' AS granted, r->>'members' AS members
  FROM jsonb_array_elements(:'rec'::jsonb->'purposes') p, jsonb_array_elements(p->'roles') r;
-- subject_access sees every category that can be stored, in full
SELECT jsonb_array_length(p->'categories') AS categories FROM jsonb_array_elements(:'rec'::jsonb->'purposes') p
 WHERE p->>'name' = 'subject_access';
-- categories: where stored, for which purposes; prohibited ones apart
SELECT c->>'name' AS category, c->>'sensitivity' AS sensitivity, c->'stored_in' AS stored_in, c->'purposes' AS purposes
  FROM jsonb_array_elements(:'rec'::jsonb->'categories') c WHERE c->>'name' IN ('address', 'contact', 'unused');
SELECT :'rec'::jsonb->'prohibited_categories' AS prohibited, :'rec'::jsonb->'third_party_recipients' AS third_party;
SELECT jsonb_pretty(:'rec'::jsonb->'erasure') AS erasure;
-- the measures in force
SELECT jsonb_pretty(:'rec'::jsonb->'technical_measures' #- '{audit_trail,records}' #- '{audit_trail,intact}'
                    #- '{access_control,superusers}') AS measures;
SELECT (:'rec'::jsonb#>>'{technical_measures,audit_trail,records}')::bigint = (SELECT count(*) FROM privacy_guard.audit_records) AS records_counted,
       (:'rec'::jsonb#>>'{technical_measures,audit_trail,intact}')::boolean = privacy_guard.verify_audit() AS chain_verified;

-- always current: a policy change, an erasure, a retention rule show at once
SELECT privacy_guard.define_purpose('partner_offers', 'marketing', third_party => true, description => 'offers of partner shops');
SELECT privacy_guard.set_erasure_deadline('14 days');
SELECT privacy_guard.set_retention('orders', 'placed_at', '2 years', 'delete');
SET ROLE signup;
SELECT privacy_guard.request_erasure('2', 'by e-mail') AS request \gset
RESET ROLE;
SELECT privacy_guard.process_erasures();
SELECT privacy_guard.processing_record() AS rec \gset
SELECT :'rec'::jsonb->'third_party_recipients' AS third_party, :'rec'::jsonb->'retention' AS retention;
SELECT :'rec'::jsonb#>'{erasure,deadline}' AS deadline, :'rec'::jsonb#>'{erasure,requests}' AS requests,
       :'rec'::jsonb#>'{technical_measures,subject_keys}' AS subject_keys;
-- a tampered trail shows as broken; at REPEATABLE READ it is not verified
UPDATE privacy_guard.audit_records SET statement = statement || ' (altered)' WHERE id = 1;
SELECT privacy_guard.processing_record()#>'{technical_measures,audit_trail,intact}' AS intact;
UPDATE privacy_guard.audit_records SET statement = left(statement, -10) WHERE id = 1;
SELECT (privacy_guard.processing_record()#>>'{technical_measures,audit_trail,intact}')::boolean = privacy_guard.verify_audit() AS restored;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT privacy_guard.processing_record()#>'{technical_measures,audit_trail,intact}' AS intact;
SELECT regexp_replace(line, '^audit trail: \d+ records', 'audit trail: N records') AS line
  FROM regexp_split_to_table(privacy_guard.processing_record_text(), E'\n') AS line WHERE line LIKE 'audit trail:%';
COMMIT;

-- the text for the data protection officer (volatile lines left out)
SELECT line AS processing_record
  FROM regexp_split_to_table(privacy_guard.processing_record_text(), E'\n') AS line
 WHERE line !~ '^(generated at|audit trail|superusers):';

-- CLEANUP
RESET client_min_messages;
DROP TABLE customers, orders;
DROP FUNCTION try_load(jsonb), try(text), without_category(jsonb, text), without_purpose(jsonb, text);

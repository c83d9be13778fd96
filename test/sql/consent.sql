-- Consent: given with evidence, withdrawn, never overwritten; a
-- consent-bound purpose reveals only the subjects who consent.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
CREATE TABLE customers (id int PRIMARY KEY, email text);
INSERT INTO customers SELECT g, 'customer' || g || '@example.com' FROM generate_series(1, 5) g;
SELECT privacy_guard.protect('customers', 'email', 'contact', 'id');
GRANT SELECT ON customers TO marketer;
SELECT privacy_guard.define_purpose('newsletter', parent => 'marketing');

-- TESTS
-- refusals
SET ROLE signup;
SELECT privacy_guard.grant_consent(NULL, 'marketing', 'form');
SELECT privacy_guard.grant_consent('', 'marketing', 'form');
SELECT privacy_guard.grant_consent('1', 'marketing', NULL);
SELECT privacy_guard.grant_consent('1', 'marketing', '');
SELECT privacy_guard.grant_consent('1', 'no_such_purpose', 'form');
SELECT privacy_guard.grant_consent('1', 'support', 'form');   -- needs no consent
RESET ROLE;
-- only consent collectors (and policy owners) record consent
SET ROLE app;
SELECT privacy_guard.grant_consent('2', 'marketing', 'forged');
SELECT privacy_guard.has_consent('2', 'marketing');
RESET ROLE;
SET ROLE marketer;
SELECT privacy_guard.grant_consent('2', 'marketing', 'forged');
RESET ROLE;

-- customers 1 and 3 consent to marketing; 4 only to the newsletter
SET ROLE signup;
SELECT privacy_guard.grant_consent('1', 'marketing', 'preferences page, 2026-11-25');
SELECT privacy_guard.grant_consent('3', 'marketing', 'checkout opt-in, order 991');
SELECT privacy_guard.grant_consent('4', 'newsletter', 'newsletter sign-up');
SELECT s, privacy_guard.has_consent(s, 'marketing') AS marketing,
       privacy_guard.has_consent(s, 'newsletter') AS newsletter
  FROM unnest(ARRAY['1', '2', '3', '4']) AS s;
RESET ROLE;

-- a bulk marketing query gets exactly the consenting customers
SET ROLE marketer;
SELECT privacy_guard.set_purpose('marketing');
SELECT id, privacy_guard.reveal(email) FROM customers ORDER BY id;
-- withdrawal takes effect at once, also in this session's cache
SET ROLE signup;
SELECT privacy_guard.withdraw_consent('1', 'marketing');
SELECT privacy_guard.withdraw_consent('1', 'marketing');   -- nothing left to withdraw
SET ROLE marketer;
SELECT id, privacy_guard.reveal(email) FROM customers ORDER BY id;
RESET ROLE;
-- and a new consent too
SET ROLE signup;
SELECT privacy_guard.grant_consent('5', 'marketing', 'phone call, agent 7');
SET ROLE marketer;
SELECT id FROM customers WHERE privacy_guard.reveal(email) IS NOT NULL ORDER BY id;
RESET ROLE;

-- the history is kept, never overwritten
SELECT subject, purpose, action, evidence, recorded_by FROM privacy_guard.consent_events ORDER BY id;
SET ROLE app;
SELECT * FROM privacy_guard.consent_events;
RESET ROLE;

-- consent changes are audited with their subject
SELECT privacy_guard.audit_flush();
SET ROLE auditor;
SELECT event, purpose, outcome, statement FROM privacy_guard.access_history('1') WHERE event = 'consent';
RESET ROLE;

-- a withdrawal covers the purposes below the one withdrawn, and a
-- withdrawal of a sub-purpose leaves the parent's consent standing
SET ROLE signup;
SELECT privacy_guard.withdraw_consent('3', 'newsletter');
SELECT privacy_guard.has_consent('3', 'marketing') AS marketing, privacy_guard.has_consent('3', 'newsletter') AS newsletter;
SELECT privacy_guard.withdraw_consent('4', 'marketing');   -- 4 consented to the newsletter only
SELECT privacy_guard.has_consent('4', 'newsletter') AS newsletter_after_withdrawing_marketing;
SELECT privacy_guard.grant_consent('3', 'newsletter', 'newsletter sign-up again');
SELECT privacy_guard.has_consent('3', 'newsletter') AS newsletter_again;
RESET ROLE;

-- restriction of processing: NULL for every purpose but the subject's own access
SELECT privacy_guard.allow('subject_access', 'contact');
SELECT privacy_guard.grant_purpose('signup', 'subject_access');   -- the customer's own page
GRANT SELECT ON customers TO signup;
SET ROLE signup;
SELECT privacy_guard.restrict_processing('3', NULL);
SELECT privacy_guard.restrict_processing('3', 'customer contests accuracy, ticket 4711');
SELECT privacy_guard.restrict_processing('3', 'again');   -- already restricted
SELECT privacy_guard.restrict_processing('03', 'not how the subject column renders it');
RESET ROLE;
SET ROLE app;
SELECT privacy_guard.restrict_processing('2', 'forged');
RESET ROLE;
SET ROLE marketer;
SELECT id, privacy_guard.reveal(email) FROM customers WHERE id IN (3, 5) ORDER BY id;
SELECT id, privacy_guard.reveal(email, 'profile') FROM customers WHERE id IN (2, 3) ORDER BY id;
SET ROLE signup;
-- the subject's own access still shows it, through subject_export() only
SELECT privacy_guard.subject_export('3') -> 'data' AS own_access;
SELECT id, privacy_guard.reveal(email, 'subject_access') FROM customers WHERE id = 3;
SELECT privacy_guard.lift_restriction('3');
SELECT privacy_guard.lift_restriction('3');   -- not restricted any more
SET ROLE marketer;
SELECT id, privacy_guard.reveal(email, 'profile') FROM customers WHERE id = 3;
RESET ROLE;
SELECT subject, action, reason, recorded_by FROM privacy_guard.restriction_events ORDER BY id;
SELECT privacy_guard.audit_flush();
SET ROLE auditor;
SELECT event, outcome FROM privacy_guard.access_history('3') WHERE event IN ('restriction', 'reveal') ORDER BY 1, 2;
RESET ROLE;

-- the customer's right of access: everything held on them, in one document,
-- each value revealed (and audited) under subject_access
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, shipping_address text, total numeric);
INSERT INTO orders VALUES (10, 5, '5 Harbour Road, Kiel', 20.5), (11, 5, '5 Harbour Road, Kiel', 7),
                          (12, 2, '2 Elsewhere', 1);
SELECT privacy_guard.protect('orders', 'shipping_address', 'address', 'customer');
GRANT SELECT ON orders TO signup;
SET ROLE signup;
SELECT jsonb_pretty(privacy_guard.subject_export('5') - 'exported_at');
SELECT privacy_guard.subject_export('no such customer') -> 'data' AS nothing;
SELECT privacy_guard.subject_export(NULL);
RESET ROLE;
-- not for application roles, and not for a role without subject_access
SET ROLE app;
SELECT privacy_guard.subject_export('5');
RESET ROLE;
GRANT SELECT ON customers, orders TO policy_owner;
SET ROLE policy_owner;
SELECT privacy_guard.subject_export('5');
RESET ROLE;
SELECT privacy_guard.audit_flush();
SET ROLE auditor;
SELECT current_role_name, purpose, table_name, column_name, outcome
  FROM privacy_guard.access_history('5') WHERE purpose = 'subject_access' ORDER BY table_name;
RESET ROLE;

-- subject_access is the subject's alone: no bulk reveal, no search, no redefinition
SET ROLE signup;
SELECT count(privacy_guard.reveal(email, 'subject_access')) FROM customers;
SELECT privacy_guard.set_purpose('subject_access');
SELECT privacy_guard.blind_index('customer5@example.com', 'contact');
RESET ROLE;
SELECT privacy_guard.define_purpose('subject_access', description => 'mine now');
SELECT privacy_guard.define_purpose('peek', parent => 'subject_access');
-- the export itself is in the trail, with its subject
SELECT event, purpose, outcome FROM privacy_guard.audit_log WHERE event = 'subject_export' AND subject = '5';

-- subject_export() runs as the consent role: it never evaluates a cast that
-- a table's owner defined.  The owner retyped the subject column after
-- protect() to a type whose cast to text would run as the exporting role
-- (it says whose rights it ran with): the export refuses the table instead.
CREATE ROLE loyalty_owner;
GRANT CREATE ON SCHEMA public TO loyalty_owner;
SET ROLE loyalty_owner;
CREATE TYPE member_id AS (v int);
CREATE FUNCTION member_text(member_id) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'the cast ran as %', current_user;
    RETURN ($1).v::text;
END $$;
CREATE CAST (member_id AS text) WITH FUNCTION member_text(member_id);
CREATE TABLE loyalty (member int, card text);
GRANT SELECT ON loyalty TO signup;
RESET ROLE;
SELECT privacy_guard.protect('loyalty', 'card', 'contact', 'member');
-- (the guard refuses these ALTERs; past it, as only a superuser who edits
-- privacy_guard's catalog gets, subject_export() still refuses the table)
CREATE TEMP TABLE lifted AS SELECT * FROM privacy_guard.column_protection WHERE tbl = 'loyalty'::regclass;
DELETE FROM privacy_guard.column_protection WHERE tbl = 'loyalty'::regclass;
SET ROLE loyalty_owner;
INSERT INTO loyalty VALUES (5, 'gold card of customer 5');
ALTER TABLE loyalty ALTER COLUMN member TYPE member_id USING row(member)::member_id;
RESET ROLE;
INSERT INTO privacy_guard.column_protection SELECT * FROM lifted;
SET ROLE signup;
SELECT privacy_guard.subject_export('5');
RESET ROLE;
DELETE FROM privacy_guard.column_protection WHERE tbl = 'loyalty'::regclass;
-- nor through a protected column retyped to a type whose implicit cast to
-- the encrypted type would run to reach reveal()
SET ROLE loyalty_owner;
ALTER TABLE loyalty ALTER COLUMN member TYPE int USING (member).v;
CREATE TYPE card_note AS (v text);
CREATE FUNCTION card_sealed(card_note) RETURNS privacy_guard.encrypted_text LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'the cast ran as %', current_user;
    RETURN NULL;
END $$;
CREATE CAST (card_note AS privacy_guard.encrypted_text) WITH FUNCTION card_sealed(card_note) AS IMPLICIT;
ALTER TABLE loyalty DROP CONSTRAINT card_sealed;
ALTER TABLE loyalty ALTER COLUMN card TYPE card_note USING NULL;
RESET ROLE;
INSERT INTO privacy_guard.column_protection SELECT * FROM lifted;
SET ROLE signup;
SELECT privacy_guard.subject_export('5');
RESET ROLE;
DROP TABLE loyalty, lifted;
DROP CAST (card_note AS privacy_guard.encrypted_text);
DROP FUNCTION card_sealed(card_note);
DROP TYPE card_note;
DROP CAST (member_id AS text);
DROP FUNCTION member_text(member_id);
DROP TYPE member_id;
REVOKE CREATE ON SCHEMA public FROM loyalty_owner;
DROP ROLE loyalty_owner;

-- CLEANUP
DROP TABLE customers, orders;

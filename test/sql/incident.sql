-- Incidents and lockdown: a reported leak is recorded and audited; a
-- lockdown refuses every reveal at once except under the built-in purpose
-- incident_response; lifting takes effect at commit; access_history()
-- answers who saw the subject's data.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
CREATE ROLE investigator;       -- the security team
CREATE TABLE customers (id int PRIMARY KEY, email text, address text);
INSERT INTO customers VALUES (1, 'ada@example.com', '1 Main Street'), (2, 'bob@example.com', '2 High Street');
SELECT privacy_guard.protect('customers', 'email', 'contact', 'id');
SELECT privacy_guard.protect('customers', 'address', 'address', 'id');
GRANT SELECT ON customers TO support_agent, courier, investigator, signup;
SELECT privacy_guard.grant_purpose('investigator', 'incident_response');
SELECT privacy_guard.allow('incident_response', 'contact', 'masked');
SELECT privacy_guard.audit_flush();

-- TESTS
-- incident_response is built in: it cannot be redefined or parent another purpose
SELECT privacy_guard.define_purpose('incident_response');
SELECT privacy_guard.define_purpose('forensics', parent => 'incident_response');
SELECT name, parent, requires_consent FROM privacy_guard.purposes WHERE name = 'incident_response';

-- no lockdown: everyone reveals as the policy says
SELECT privacy_guard.lockdown_since();
SET ROLE courier;
SELECT privacy_guard.reveal(address, 'delivery') FROM customers WHERE id = 1;
RESET ROLE;

-- report_incident(): refusals, then a report about subject 1
SELECT privacy_guard.report_incident(NULL);
SELECT privacy_guard.report_incident('  ');
SELECT privacy_guard.report_incident('leak', '');
SET ROLE app;
SELECT privacy_guard.report_incident('an app cannot report');
RESET ROLE;
SET ROLE signup;                -- the shop's customer-service channel
SELECT privacy_guard.report_incident('customer 1 received a stranger''s order confirmation', '1') AS report \gset
RESET ROLE;
SELECT kind, opened_by = session_user AS by_me, description, subject, status FROM privacy_guard.incidents WHERE id = :report;

-- lockdown(): only admins, with a reason
SELECT privacy_guard.lockdown(NULL);
SELECT privacy_guard.lockdown('');
SET ROLE support_agent;
SELECT privacy_guard.lockdown('not mine to call');
RESET ROLE;
SET ROLE policy_owner;
SELECT privacy_guard.lockdown('incident ' || :report || ': suspected leak of contact data') AS lockdown \gset
RESET ROLE;
SELECT privacy_guard.lockdown_since() IS NOT NULL AS locked_down;
SELECT kind, description, status, closed_at FROM privacy_guard.incidents WHERE id = :lockdown;

-- during the lockdown every reveal is refused, full or masked, whatever the purpose
SET ROLE courier;
SELECT privacy_guard.reveal(address, 'delivery') FROM customers WHERE id = 1;
RESET ROLE;
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.reveal(email) FROM customers WHERE id = 1;
SELECT id FROM customers WHERE privacy_guard.reveal(email) IS NOT NULL;
-- and every search: a search term confirms a value
SELECT privacy_guard.blind_index('customer1@example.com', 'contact') IS NOT NULL AS searched;
RESET ROLE;
-- the customer's own export too
SET ROLE signup;
SELECT privacy_guard.subject_export('1');
RESET ROLE;
-- except the investigation: what incident_response is allowed, and no more
SET ROLE investigator;
SELECT id, privacy_guard.reveal(email, 'incident_response') FROM customers ORDER BY id;
SELECT privacy_guard.reveal(address, 'incident_response') FROM customers WHERE id = 1;
RESET ROLE;
-- claiming incident_response without the grant does not help
SET ROLE support_agent;
SELECT privacy_guard.reveal(email, 'incident_response') FROM customers WHERE id = 1;
RESET ROLE;

-- a second lockdown() while one is in force returns the same incident
SET ROLE policy_owner;
SELECT privacy_guard.lockdown('again') = :lockdown AS same_lockdown;
RESET ROLE;

-- lift_lockdown() takes effect at commit: a rolled-back lift leaves it in force
BEGIN;
SET LOCAL ROLE policy_owner;
SELECT privacy_guard.lift_lockdown('rolled back');
SELECT privacy_guard.lockdown_since() IS NOT NULL AS still_locked_before_commit;
ROLLBACK;
SELECT privacy_guard.lockdown_since() IS NOT NULL AS still_locked_after_rollback;
SELECT status FROM privacy_guard.incidents WHERE id = :lockdown;

-- the investigation's first question: who saw subject 1's data?
SELECT privacy_guard.audit_flush();
SET ROLE auditor;
SELECT replace(current_role_name, session_user, 'SESSION_USER') AS role, event, purpose, category,
       table_name, column_name, outcome
  FROM privacy_guard.access_history('1') ORDER BY at;
RESET ROLE;

-- the lift, committed
SET ROLE policy_owner;
SELECT privacy_guard.lift_lockdown('no leak: the e-mail went to the right customer');
RESET ROLE;
SELECT privacy_guard.lockdown_since();
SELECT kind, status, closed_by = session_user AS by_me, resolution FROM privacy_guard.incidents WHERE id = :lockdown;
SET ROLE courier;
SELECT privacy_guard.reveal(address, 'delivery') FROM customers WHERE id = 1;
RESET ROLE;
-- nothing to lift any more
SET ROLE policy_owner;
SELECT privacy_guard.lift_lockdown();
RESET ROLE;

-- a lockdown rolled back with its transaction (or subtransaction) is undone
BEGIN;
SELECT privacy_guard.lockdown('rolled back') IS NOT NULL AS started;
SELECT privacy_guard.lockdown_since() IS NOT NULL AS locked_inside;
ROLLBACK;
SELECT privacy_guard.lockdown_since() IS NOT NULL AS locked_after_rollback;
DO $$
BEGIN
    BEGIN
        PERFORM privacy_guard.lockdown('in a subtransaction');
        RAISE EXCEPTION 'roll it back';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RAISE NOTICE 'locked after the subtransaction rolled back: %', privacy_guard.lockdown_since() IS NOT NULL;
END $$;
-- a lockdown and its lift in one transaction: lifted
BEGIN;
SELECT privacy_guard.lockdown('drill') IS NOT NULL AS started;
SELECT privacy_guard.lift_lockdown('drill over');
COMMIT;
SELECT privacy_guard.lockdown_since();
-- a lockdown cannot start in the transaction that lifts one
SELECT privacy_guard.lockdown('for the lift') IS NOT NULL AS started;
BEGIN;
SELECT privacy_guard.lift_lockdown('lifting');
SELECT privacy_guard.lockdown('and again');
ROLLBACK;
SELECT privacy_guard.lockdown_since() IS NOT NULL AS still_locked;
SELECT privacy_guard.lift_lockdown('done');
-- a prepared transaction cannot hold a lockdown
BEGIN;
SELECT privacy_guard.lockdown('prepared') IS NOT NULL AS started;
PREPARE TRANSACTION 'lockdown';
SELECT privacy_guard.lockdown_since();

-- close_incident(): reports only, once, with a resolution
SET ROLE policy_owner;
SELECT privacy_guard.close_incident(:report, NULL);
SELECT privacy_guard.close_incident(:lockdown, 'not a report');
SELECT privacy_guard.close_incident(-1, 'no such incident');
SELECT privacy_guard.close_incident(:report, 'the confirmation went to the right address');
SELECT privacy_guard.close_incident(:report, 'twice');
RESET ROLE;
SELECT kind, status, closed_by = session_user AS by_me, resolution FROM privacy_guard.incidents WHERE id = :report;

-- who may read the incidents, and call the internals
SET ROLE auditor;
SELECT count(*) > 0 AS auditor_reads FROM privacy_guard.incidents;
SELECT privacy_guard.lockdown('auditors do not lock down');
RESET ROLE;
SET ROLE app;
SELECT count(*) FROM privacy_guard.incidents;
SELECT privacy_guard.lockdown_engage('x');
SELECT privacy_guard.lockdown_release('x');
SELECT privacy_guard.lockdown_since();     -- anyone may ask
RESET ROLE;

-- all of it audited: reports, lockdowns, lifts, the refusals
SELECT privacy_guard.audit_flush();
SET ROLE auditor;
SELECT event, outcome, replace(current_role_name, session_user, 'SESSION_USER') AS role, purpose, category,
       regexp_replace(statement, 'incident \d+', 'incident N') AS detail
  FROM privacy_guard.audit_log
 WHERE event IN ('incident', 'lockdown') OR (event = 'reveal' AND outcome = 'denied')
 ORDER BY id;
RESET ROLE;

-- CLEANUP
DROP TABLE customers;
DROP OWNED BY investigator;
DROP ROLE investigator;

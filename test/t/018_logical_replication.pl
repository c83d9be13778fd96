# Logical replication of protected tables, set up as docs/operations.md
# says: the same master key in both keyrings, the roles on the subscriber,
# its schema from pg_dump --schema-only, a publication of the protected
# tables to which privacy_guard.publish() adds the keys and the policy.
# The subscriber then reads, searches and checks what arrives; an erasure
# on the publisher reaches sessions of the subscriber that had the key;
# the subscriber makes no key of its own (its ids would collide with the
# publisher's); and a table whose keys are not published fails its copy
# with a log line that names it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $ring = "1:" . ('6f' x 32) . "\n";
my ($pub) = keyring_node('publisher', $ring, allows_streaming => 'logical');
$pub->start;
my ($sub) = start_keyring_node('subscriber', $ring);

$pub->safe_psql('postgres', 'CREATE DATABASE shop');
create_policy($pub, 'shop', 'support', [ 'contact', [ 'birth', 'personal', 'year' ] ]);
$pub->safe_psql('shop', q{
	CREATE ROLE clerk LOGIN;
	SELECT privacy_guard.grant_purpose('clerk', 'support');
	CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE, born date);
	INSERT INTO customers SELECT g, 'c' || g || '@example.com', date '1980-01-01' + g FROM generate_series(1, 50) g;
	SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
	SELECT privacy_guard.protect('customers', 'born', 'birth', 'id');
	SELECT privacy_guard.set_erasure_action('customers', 'anonymise');
	GRANT SELECT, INSERT, UPDATE ON customers TO clerk;
	CREATE PUBLICATION shop FOR TABLE customers;
	CREATE PUBLICATION everything FOR ALL TABLES;
});
is($pub->safe_psql('shop', q{SELECT string_agg(t::text, ',' ORDER BY t::text) FROM privacy_guard.publish('shop') t}),
	'privacy_guard.allowances,privacy_guard.categories,privacy_guard.column_protection,privacy_guard.consent_events,'
	  . 'privacy_guard.erasure_actions,privacy_guard.keys,privacy_guard.policy_settings,privacy_guard.purpose_grants,'
	  . 'privacy_guard.purposes,privacy_guard.restriction_events,privacy_guard.retention_rules',
	'publish() adds the keys and the policy to the publication');
unlike($pub->safe_psql('shop', q{SELECT string_agg(tablename, ',') FROM pg_publication_tables WHERE pubname = 'shop'}),
	qr/audit_records|audit_subjects|erasures|incident_log/, 'never the trail, erasure requests or incidents');
my ($out, $err);
$pub->psql('shop', q{SELECT privacy_guard.publish('everything')}, stdout => \$out, stderr => \$err);
like($err, qr/publication "everything" carries every table of privacy_guard.*HINT:  Publish the protected tables by name/s,
	'a publication of every table is refused: it would carry the trail');
# one that would not carry erasures (UPDATEs and DELETEs of keys), or whose
# owner could make it stop carrying them, is refused too
$pub->safe_psql('shop', q{CREATE PUBLICATION inserts_only FOR TABLE customers WITH (publish = 'insert');
	CREATE ROLE pub_owner LOGIN; GRANT CREATE ON DATABASE shop TO pub_owner; ALTER TABLE customers OWNER TO pub_owner;});
# (the table's owner again: whoever runs the test)
$pub->safe_psql('shop', q{CREATE PUBLICATION theirs FOR TABLE customers}, extra_params => [ '-U', 'pub_owner' ]);
$pub->safe_psql('shop', q{ALTER TABLE customers OWNER TO CURRENT_USER});
$pub->psql('shop', q{SELECT privacy_guard.publish('inserts_only')}, stdout => \$out, stderr => \$err);
like($err, qr/publication "inserts_only" does not publish every kind of change/,
	'a publication that does not carry updates and deletes is refused');
$pub->psql('shop', q{SELECT privacy_guard.publish('theirs')}, stdout => \$out, stderr => \$err);
like($err, qr/publication "theirs" is owned by role "pub_owner", which is not a superuser/,
	'a publication another role owns (and could narrow) is refused');

# The subscriber: roles, then the schema.
$sub->safe_psql('postgres', 'CREATE DATABASE shop');
$sub->safe_psql('shop', 'CREATE ROLE clerk LOGIN; CREATE ROLE pub_owner LOGIN');
my ($schema) = run_command([ 'pg_dump', '--schema-only', '-d', $pub->connstr('shop') ]);
$sub->safe_psql('shop', $schema);
my $conninfo = $pub->connstr('shop') =~ s/'/''/gr;
$sub->safe_psql('shop', "CREATE SUBSCRIPTION shop CONNECTION '$conninfo' PUBLICATION shop");
$sub->wait_for_subscription_sync($pub, 'shop', 'shop');
is($sub->safe_psql('shop', q{SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
                              WHERE conrelid = 'customers'::regclass AND contype = 'c'}),
	'born_sealed,email_sealed', 'the subscriber\'s protected table has protect()\'s CHECKs alone, as the publisher\'s');

my $all = q{SELECT md5(string_agg(id || privacy_guard.reveal(email, 'support') || privacy_guard.reveal(born, 'support'), ',' ORDER BY id)) FROM customers};
is($sub->safe_psql('shop', $all), $pub->safe_psql('shop', $all), 'the subscriber reveals every value');
is(envelope_digest($sub, 'shop', 'customers', 'email'), envelope_digest($pub, 'shop', 'customers', 'email'),
	'the envelopes arrive as they are');
is(query_with_purpose($sub, 'shop', 'support', q{SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) 'c7@example.com'},
		extra_params => [ '-U', 'clerk' ]),
	'7', 'the subscriber searches under the purpose granted on the publisher');
is($sub->safe_psql('shop', q{SELECT name FROM privacy_guard.purposes ORDER BY name}),
	"incident_response\nsubject_access\nsupport", 'the policy arrives, the built-in purposes once');

# New rows and their keys arrive together.
$pub->safe_psql('shop', q{INSERT INTO customers VALUES (51, 'c51@example.com', '1999-01-01')}, extra_params => [ '-U', 'clerk' ]);
$pub->wait_for_catchup('shop');
is($sub->safe_psql('shop', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 51}),
	'c51@example.com', 'a new subject\'s row reveals on the subscriber');

# An erasure on the publisher reaches a subscriber session that holds the key.
my $session = $sub->background_psql('shop', extra_params => [ '-U', 'clerk' ]);
$session->query_safe(q{SELECT privacy_guard.set_purpose('support')});
# (the value kept as it was, as a dump or a client would keep it)
my $kept = $session->query_safe(q{SELECT email::text FROM customers WHERE id = 9});
is($session->query_safe(q{SELECT privacy_guard.reveal(email) FROM customers WHERE id = 9}), 'c9@example.com',
	'a subscriber session reveals (and caches the key)');
$pub->safe_psql('shop', q{SELECT privacy_guard.request_erasure('9'); SELECT privacy_guard.process_erasures()});
$pub->wait_for_catchup('shop');
is($session->query_safe(q{SELECT count(*) FROM customers WHERE privacy_guard.reveal(email) = 'c9@example.com'}), '0',
	'after the erasure is applied, the same session reveals nothing of the subject');
# apply fires row triggers only: the catalog's replica-mode row triggers tell the session
is($session->query_safe("SELECT privacy_guard.reveal('$kept'::privacy_guard.encrypted_text) IS NULL"), 't',
	'nor the value it kept from before: its cached key is gone');
$sub->safe_psql('shop', q{VACUUM ANALYZE privacy_guard.keys});
is($session->query_safe("SELECT privacy_guard.reveal('$kept'::privacy_guard.encrypted_text) IS NULL"), 't',
	'and it does not come back');
$pub->safe_psql('shop', q{SELECT privacy_guard.revoke_purpose('clerk', 'support')});
$pub->wait_for_catchup('shop');
$session->query_safe(q{CREATE FUNCTION pg_temp.try_reveal() RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		RETURN privacy_guard.reveal(email) FROM customers WHERE id = 10;
	EXCEPTION WHEN insufficient_privilege THEN
		RETURN 'refused';
	END $$});
is($session->query_safe(q{SELECT pg_temp.try_reveal()}), 'refused',
	'a grant revoked on the publisher: the subscriber session is refused, as on the publisher');
$pub->safe_psql('shop', q{SELECT privacy_guard.grant_purpose('clerk', 'support')});
$pub->wait_for_catchup('shop');
$session->quit;

# No key is made on the subscriber: ids and subjects are the publisher's.
$sub->psql('shop', q{INSERT INTO customers VALUES (1000, 'local@example.com', '2000-01-01')},
	stdout => \$out, stderr => \$err, extra_params => [ '-U', 'clerk' ]);
like($err, qr/cannot create a subject key in a database that receives privacy_guard.keys by logical replication.*HINT:  Write the rows of new subjects/s,
	'a new subject written on the subscriber is refused, saying where to write it');
$sub->safe_psql('shop', q{UPDATE customers SET email = 'new3@example.com' WHERE id = 3}, extra_params => [ '-U', 'clerk' ]);
is($sub->safe_psql('shop', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 3}), 'new3@example.com',
	'a subject whose key arrived can be written on the subscriber');
$pub->safe_psql('shop', q{INSERT INTO customers VALUES (52, 'c52@example.com', '1999-01-02')}, extra_params => [ '-U', 'clerk' ]);
$pub->wait_for_catchup('shop');
is($sub->safe_psql('shop', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 52}),
	'c52@example.com', 'replication goes on: no key id of the subscriber\'s collides with the publisher\'s');

# The policy, consent, restrictions, erasures and key rotations are the
# publisher's: written on the subscriber, they are refused (a local row
# would collide with the publisher's, and a local erasure would be undone
# by the publisher's next key rotation).
$sub->psql('shop', q{SELECT privacy_guard.restrict_processing('2', 'asked here')}, stdout => \$out, stderr => \$err);
like($err, qr/cannot change privacy_guard.restriction_events in a database that receives it by logical replication.*HINT:  Make the change on the publisher/s,
	'a restriction recorded on the subscriber is refused');
$sub->psql('shop', q{SELECT privacy_guard.define_purpose('local')}, stdout => \$out, stderr => \$err);
like($err, qr/cannot change privacy_guard.purposes in a database that receives it/, 'a policy change on the subscriber is refused');
$sub->psql('shop', q{SELECT privacy_guard.rotate_search_key('contact')}, stdout => \$out, stderr => \$err);
like($err, qr/cannot change privacy_guard.keys in a database that receives it/, 'a key rotation on the subscriber is refused');
$sub->safe_psql('shop', q{SELECT privacy_guard.request_erasure('11')});
$sub->psql('shop', q{SELECT privacy_guard.process_erasures()}, stdout => \$out, stderr => \$err);
is($sub->safe_psql('shop', q{SELECT count(*) FROM privacy_guard.keys WHERE name = '11' AND wrapped IS NULL}), '0',
	'an erasure processed on the subscriber shreds nothing there');
$pub->safe_psql('shop', q{INSERT INTO customers VALUES (53, 'c53@example.com', '1999-01-03')}, extra_params => [ '-U', 'clerk' ]);
$pub->wait_for_catchup('shop');
is($sub->safe_psql('shop', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 53}),
	'c53@example.com', 'and replication goes on');

# Publishing the protected table alone: the subscriber has no keys, its
# copy fails, and the log names the table (the error itself, which may
# quote a value, is kept out).
$pub->safe_psql('shop', 'CREATE PUBLICATION bare FOR TABLE customers');
$sub->safe_psql('postgres', 'CREATE DATABASE bare');
$sub->safe_psql('bare', $schema);
my $offset = -s $sub->logfile;
$sub->safe_psql('bare', "CREATE SUBSCRIPTION bare CONNECTION '$conninfo' PUBLICATION bare WITH (slot_name = bare)");
# (a log line of the server's, with its prefix: time and process)
$sub->wait_for_log(qr/\d\d:\d\d:\d\d[.\d]* \w+ \[\d+\] LOG:  privacy_guard: an error with SQLSTATE \w+ was not logged: its message may quote personal data \(relation "customers"\)/,
	$offset);
pass('the failed copy of a table without its keys names the table in a line of the server log');
unlike(slurp_file($sub->logfile, $offset), qr/\@example\.com/, 'and no value');
$sub->safe_psql('bare', 'DROP SUBSCRIPTION bare');

done_testing();

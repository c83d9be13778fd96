# pg_dump and restore: envelopes, keys and policy travel as they are (no
# re-encryption); the restored database reveals, and its sealing trigger
# and CHECK constraints work.  A dump restored without the key table
# cannot be read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

# every database has its own trail, the restored ones too
# (seven databases, each with its writer)
my ($node) = start_keyring_node('dump', "1:" . ('4c' x 32) . "\n",
	"max_worker_processes = 16\nprivacy_guard.max_databases = 12\n");

$node->safe_psql('postgres', 'CREATE DATABASE shop');
my $contact = [ 'contact', 'personal', 'email' ];
create_policy($node, 'shop', 'support', [$contact]);
create_protected_table($node, 'shop', 'customers', 'email', 'contact',
	unique => 1, searchable => 1,
	rows => q{SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 100) g});
my $envelopes = envelope_digest($node, 'shop', 'customers', 'email');
# a copy of sealed values in an encrypted column nothing seals (its CHECK
# against unsealed values is dumped with the table), and a materialized
# view of them (dumped WITH NO DATA, then refreshed)
$node->safe_psql('shop', q{CREATE TABLE copies AS SELECT id, email FROM customers;
	CREATE MATERIALIZED VIEW copies_view AS SELECT id, email FROM customers});
$node->safe_psql('shop', 'SELECT privacy_guard.audit_flush()');
my $old_trail = q{SELECT (SELECT count(*) FROM privacy_guard.audit_records WHERE database = 'shop') || ' records, head '
	|| (SELECT encode(hash, 'hex') FROM privacy_guard.audit_records WHERE database = 'shop' ORDER BY id DESC LIMIT 1)};
my $trail = $node->safe_psql('shop', $old_trail);

# The sealing CHECK is dumped after the data (NOT VALID): it reads the keys,
# which a parallel restore may load after the table.
like((run_command([ 'pg_dump', '--schema-only', '-d', $node->connstr('shop') ]))[0], qr/ADD CONSTRAINT email_sealed CHECK .* NOT VALID;/,
	'the sealing CHECK is added after the data');

# Every way an operator dumps and restores: a plain script through psql, the
# custom, directory and tar formats through pg_restore, and a restore in one
# transaction, and a parallel restore of the directory format.
my @ways = (
	[ 'plain', [ '-Fp' ], sub { [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $_[0], '-d', $_[1] ] } ],
	[ 'custom', [ '-Fc' ], sub { [ 'pg_restore', '--exit-on-error', '-d', $_[1], $_[0] ] } ],
	[ 'directory', [ '-Fd' ], sub { [ 'pg_restore', '--exit-on-error', '-d', $_[1], $_[0] ] } ],
	[ 'tar', [ '-Ft' ], sub { [ 'pg_restore', '--exit-on-error', '-d', $_[1], $_[0] ] } ],
	[ 'single_transaction', [ '-Fc' ], sub { [ 'pg_restore', '-1', '-d', $_[1], $_[0] ] } ],
	[ 'parallel', [ '-Fd' ], sub { [ 'pg_restore', '--exit-on-error', '-j', '4', '-d', $_[1], $_[0] ] } ]);
my $n = 100;
for my $way (@ways)
{
	my ($name, $dump_opts, $restore) = @$way;
	my $dump = $node->basedir . "/shop.$name";
	my $db = "restored_$name";
	$node->command_ok([ 'pg_dump', @$dump_opts, '-f', $dump, '-d', $node->connstr('shop') ], "$name: pg_dump");
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->command_ok($restore->($dump, $node->connstr($db)), "$name: restore");

	is(envelope_digest($node, $db, 'customers', 'email'),
		$envelopes, "$name: envelopes are restored byte for byte");
	is(envelope_digest($node, $db, 'copies', 'email') . ' ' . envelope_digest($node, $db, 'copies_view', 'email'),
		"$envelopes $envelopes", "$name: so are copies of them, in a table and a materialized view");
	is($node->safe_psql($db, q{SELECT string_agg(conname, ',') FROM pg_constraint WHERE conrelid = 'copies'::regclass}),
		'email_sealed_only', "$name: the copy keeps its one CHECK against unsealed values");
	is($node->safe_psql($db, q{SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
	                            WHERE conrelid = 'customers'::regclass AND contype = 'c'}),
		'email_sealed', "$name: the protected table has protect()'s CHECK alone");
	is($node->safe_psql($db, q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 42}),
		'c42@example.com', "$name: the restored database reveals");
	is(query_with_purpose($node, $db, 'support',
			q{SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) privacy_guard.blind_index('c7@example.com', 'contact')}),
		'7', "$name: the search terms survive, and search");
	is($node->safe_psql($db, q{
		SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger
		WHERE tgrelid = 'customers'::regclass AND NOT tgisinternal AND tgenabled = 'O'}),
		'!privacy_guard_bind,zz_privacy_guard_seal', "$name: the binding and sealing triggers are back, enabled");
	$n++;
	$node->safe_psql($db, qq{INSERT INTO customers VALUES ($n, 'new\@example.com')});
	is($node->safe_psql($db, qq{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = $n}),
		'new@example.com', "$name: new subjects get keys after the restore (no key id collision)");
	like($node->safe_psql($db, qq{SELECT email::text FROM customers WHERE id = $n}),
		qr/^sealed1:/, "$name: and their values are sealed");
	my ($out, $err);
	$node->psql($db, q{UPDATE customers SET email = (SELECT email FROM customers WHERE id = 1) WHERE id = 2},
		stdout => \$out, stderr => \$err);
	like($err, qr/does not belong to the row's subject/, "$name: the restored trigger refuses copied ciphertext");
	# the sealing CHECK comes after the data (it needs the keys), and holds
	$node->psql($db, q{SET session_replication_role = replica; INSERT INTO customers VALUES (999, 'plain@example.com')},
		stdout => \$out, stderr => \$err);
	like($err, qr/plaintext cannot be stored in a column protected for category "contact"/,
		"$name: the restored CHECK refuses plaintext written past the triggers");
	# the restored database's own trail: the old one whole, then what was
	# recorded during and after the restore, one chain
	$node->safe_psql($db, 'SELECT privacy_guard.audit_flush()');
	is($node->safe_psql($db, $old_trail), $trail, "$name: the old trail comes back whole");
	ok($node->safe_psql($db, qq{SELECT count(*) FROM privacy_guard.audit_log WHERE database = '$db'}) > 0,
		"$name: what the restored database records follows it");
	is($node->safe_psql($db, 'SELECT privacy_guard.verify_audit()'), 't', "$name: and the chain verifies");
}

# A parallel restore may load the policy and keys before the trail: forced
# here, everything but the trail first, its writer drained, then the trail.
# The restore's COPY of the policy writes no record of its own into the
# empty trail (the dumped trail holds them), so the trail loads whole.
{
	my $dump = $node->basedir . '/shop.order';
	$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('shop') ], 'order: pg_dump');
	my ($list) = run_command([ 'pg_restore', '-l', $dump ]);
	my @items = split /\n/, $list;
	my @trail = grep { /TABLE DATA privacy_guard audit_records / } @items;
	is(scalar @trail, 1, 'order: the trail is one item of the dump');
	my $before = $node->basedir . '/before.list';
	my $after = $node->basedir . '/after.list';
	PostgreSQL::Test::Utils::append_to_file($before, join("\n", grep { !/TABLE DATA privacy_guard audit_records / } @items) . "\n");
	PostgreSQL::Test::Utils::append_to_file($after, "$trail[0]\n");
	$node->safe_psql('postgres', 'CREATE DATABASE restored_order');
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-L', $before, '-d', $node->connstr('restored_order'), $dump ],
		'order: everything but the trail restores');
	$node->safe_psql('restored_order', 'SELECT privacy_guard.audit_flush()');
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-L', $after, '-d', $node->connstr('restored_order'), $dump ],
		'order: the trail restores after the policy and keys');
	$node->safe_psql('restored_order', 'SELECT privacy_guard.audit_flush()');
	is($node->safe_psql('restored_order', $old_trail), $trail, 'order: the old trail comes back whole');
	is($node->safe_psql('restored_order', 'SELECT privacy_guard.verify_audit()'), 't', 'order: and the chain verifies');
	# once the trail is there, a COPY into the policy is recorded like any change
	$node->safe_psql('restored_order', "COPY privacy_guard.purposes (name) FROM stdin;\ncopied_in\n\\.\n");
	$node->safe_psql('restored_order', 'SELECT privacy_guard.audit_flush()');
	like($node->safe_psql('restored_order',
			q{SELECT statement FROM privacy_guard.audit_log WHERE database = 'restored_order' AND event = 'policy' ORDER BY id DESC LIMIT 1}),
		qr/INSERT on privacy_guard\.purposes: 1 row.*copied_in/, 'order: a COPY into the policy after the restore is recorded');
}

my ($out, $err);
# The data without the keys: a dump of the table alone, into a database
# whose extension has no keys, loads envelopes nobody can open (the CHECK,
# added after the data, holds for what is written next).
my $tabledump = $node->basedir . '/table.sql';
$node->command_ok([ 'pg_dump', '-t', 'customers', '-f', $tabledump, '-d', $node->connstr('shop') ],
	'dump of the table alone');
$node->safe_psql('postgres', 'CREATE DATABASE nokeys');
# the same policy, nobody granted, no keys
create_policy($node, 'nokeys', 'support', [$contact]);
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $tabledump, '-d', $node->connstr('nokeys') ],
	'the table alone restores');
# (refused as a value naming a key that never existed, not NULL as an
# erased subject's would be: a restore that left the keys behind is told)
$node->psql('nokeys', q{SELECT count(privacy_guard.reveal(email, 'support')) FROM customers},
	stdout => \$out, stderr => \$err);
like($err, qr/ERROR:  sealed value names a data key that does not exist/, 'envelopes without their keys do not reveal');
$node->psql('nokeys', q{SET session_replication_role = replica; UPDATE customers SET email = (SELECT email FROM customers WHERE id = 1) WHERE id = 2},
	stdout => \$out, stderr => \$err);
like($err, qr/sealed value does not belong to this row/, 'and cannot be written anywhere, even past the triggers');

$node->stop;
done_testing();

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

# the audit writer fills the shop database's trail (reveals wait for it)
my ($node) = start_keyring_node('dump', "1:" . ('4c' x 32) . "\n",
	"privacy_guard.database = 'shop'");

$node->safe_psql('postgres', 'CREATE DATABASE shop');
my $contact = [ 'contact', 'personal', 'email' ];
create_policy($node, 'shop', 'support', [$contact]);
create_protected_table($node, 'shop', 'customers', 'email', 'contact',
	unique => 1, searchable => 1,
	rows => q{SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 100) g});
my $envelopes = envelope_digest($node, 'shop', 'customers', 'email');

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('shop') ], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore succeeds');

is(envelope_digest($node, 'restored', 'customers', 'email'),
	$envelopes, 'envelopes are restored byte for byte');
is($node->safe_psql('restored', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 42}),
	'c42@example.com', 'the restored database reveals');
is(query_with_purpose($node, 'restored', 'support',
		q{SELECT id FROM customers WHERE email_bidx = privacy_guard.blind_index('c7@example.com', 'contact')}),
	'7', 'the blind index survives');
$node->safe_psql('restored', q{INSERT INTO customers VALUES (101, 'new@example.com')});
is($node->safe_psql('restored', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 101}),
	'new@example.com', 'new subjects get keys after the restore (no key id collision)');
like($node->safe_psql('restored', q{SELECT email::text FROM customers WHERE id = 101}),
	qr/^sealed1:/, 'and their values are sealed');
my ($out, $err);
$node->psql('restored', q{UPDATE customers SET email = (SELECT email FROM customers WHERE id = 1) WHERE id = 2},
	stdout => \$out, stderr => \$err);
like($err, qr/does not belong to the row's subject/, 'the restored trigger refuses copied ciphertext');

# The data without the keys: a dump of the table alone, into a database
# whose extension has no keys, does not load (the CHECK refuses unknown keys).
my $tabledump = $node->basedir . '/table.sql';
$node->command_ok([ 'pg_dump', '-t', 'customers', '-f', $tabledump, '-d', $node->connstr('shop') ],
	'dump of the table alone');
$node->safe_psql('postgres', 'CREATE DATABASE nokeys');
# the same policy, nobody granted, no keys
create_policy($node, 'nokeys', 'support', [$contact], grant => 0);
$node->psql('nokeys', slurp_file($tabledump), stdout => \$out, stderr => \$err);
like($err, qr/sealed value does not belong to this row/,
	'envelopes without their keys are refused');
is($node->safe_psql('nokeys', q{SELECT count(*) FROM customers}), '0', 'and nothing was loaded');

$node->stop;
done_testing();

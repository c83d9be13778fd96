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

my ($node) = keyring_node('dump', "1:" . ('4c' x 32) . "\n");
# the audit writer fills the shop database's trail (reveals wait for it)
$node->append_conf('postgresql.conf', "privacy_guard.database = 'shop'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE shop;
});
$node->safe_psql('shop', q{
	CREATE EXTENSION privacy_guard;
	SELECT privacy_guard.define_category('contact', 'personal', 'email');
	SELECT privacy_guard.define_purpose('support');
	SELECT privacy_guard.allow('support', 'contact');
	SELECT privacy_guard.grant_purpose(current_user::regrole, 'support');
	CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE);
	INSERT INTO customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 100) g;
	SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
});
my $envelopes = $node->safe_psql('shop', q{SELECT md5(string_agg(email::text, ',' ORDER BY id)) FROM customers});

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('shop') ], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore succeeds');

is($node->safe_psql('restored', q{SELECT md5(string_agg(email::text, ',' ORDER BY id)) FROM customers}),
	$envelopes, 'envelopes are restored byte for byte');
is($node->safe_psql('restored', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 42}),
	'c42@example.com', 'the restored database reveals');
is($node->safe_psql('restored',
	q{DO $$ BEGIN PERFORM privacy_guard.set_purpose('support'); END $$; SELECT id FROM customers WHERE email_bidx = privacy_guard.blind_index('c7@example.com', 'contact')}),
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
$node->safe_psql('nokeys', q{
	CREATE EXTENSION privacy_guard;
	SELECT privacy_guard.define_category('contact', 'personal', 'email');
	SELECT privacy_guard.define_purpose('support');
	SELECT privacy_guard.allow('support', 'contact');
});
$node->psql('nokeys', slurp_file($tabledump), stdout => \$out, stderr => \$err);
like($err, qr/sealed value does not belong to this row/,
	'envelopes without their keys are refused');
is($node->safe_psql('nokeys', q{SELECT count(*) FROM customers}), '0', 'and nothing was loaded');

$node->stop;
done_testing();

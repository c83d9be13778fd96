# Every database where the extension is installed has its own audit trail,
# written there by its own writer, which one launcher starts: no setting
# per database, no restart.  access_history() and verify_audit() answer for
# their own database.  DROP DATABASE, RENAME and CREATE DATABASE ... TEMPLATE
# work while writers run; privacy_guard.max_databases caps the writers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node) = start_keyring_node('trails', "1:" . ('3e' x 32) . "\n",
	"privacy_guard.max_databases = 3\nlog_statement = none");
my $reveal = q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 1};

sub shop
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	create_policy($node, $db, 'support', [ 'contact' ]);
	create_protected_table($node, $db, 'customers', 'email', 'contact',
		rows => qq{VALUES (1, 'one\@$db.example'), (2, 'two\@$db.example')});
}

sub writers
{
	return $node->safe_psql('postgres', q{
		SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity
		 WHERE backend_type = 'privacy_guard audit writer'});
}

sub history
{
	my ($db, $subject) = @_;
	$node->safe_psql($db, q{SELECT privacy_guard.audit_flush()});
	return $node->safe_psql($db, qq{SELECT count(*) FROM privacy_guard.access_history('$subject')});
}

shop('shop_a');
shop('shop_b');
is(query_with_purpose($node, 'shop_b', 'support', $reveal), 'one@shop_b.example', 'a second database reveals');
ok(history('shop_b', '1') > 0, "its access_history('1') finds the reveal");
is(history('shop_a', '1'), '0', 'the other database\'s does not');
is($node->safe_psql('shop_b', q{SELECT string_agg(DISTINCT database, ',') FROM privacy_guard.audit_log}),
	'shop_b', 'its trail holds its own events only');
is($node->safe_psql('shop_b', q{SELECT privacy_guard.verify_audit()}), 't', 'and verifies');
is($node->safe_psql('shop_a', q{SELECT privacy_guard.verify_audit()}), 't', 'so does the first database\'s');
is(writers(), 'shop_a,shop_b', 'one writer per database, started without a setting or a restart');

# a role that may not drop, rename or copy a database cannot stop its writer
# (the statement checks its rights after the extension's hook)
sub writer_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT pid FROM pg_stat_activity WHERE backend_type = 'privacy_guard audit writer' AND datname = '$db'});
}
$node->safe_psql('postgres', 'CREATE ROLE outsider LOGIN');
my $pid = writer_pid('shop_a');
for my $attempt ('DROP DATABASE shop_a', 'ALTER DATABASE shop_a RENAME TO stolen',
	'CREATE DATABASE stolen TEMPLATE shop_a')
{
	my ($rc) = $node->psql('postgres', $attempt, extra_params => [ '-U', 'outsider' ]);
	isnt($rc, 0, "outsider: $attempt is refused");
}
is(writer_pid('shop_a'), $pid, 'and the writer kept running all along');

# statements that need a database without sessions work while its writer runs
$node->safe_psql('postgres', 'ALTER DATABASE shop_a RENAME TO shop_a2');
is(query_with_purpose($node, 'shop_a2', 'support', $reveal), 'one@shop_a.example', 'a renamed database reveals');
$node->safe_psql('shop_a2', q{SELECT privacy_guard.audit_flush()});
is($node->safe_psql('shop_a2', q{SELECT privacy_guard.verify_audit()}), 't', 'and its trail goes on and verifies');
$node->safe_psql('postgres', 'CREATE DATABASE shop_copy TEMPLATE shop_a2');
ok(1, 'CREATE DATABASE ... TEMPLATE of a database with a writer');
$node->safe_psql('postgres', 'DROP DATABASE shop_copy');
$node->safe_psql('postgres', 'DROP DATABASE shop_b');
ok(1, 'DROP DATABASE of a database with a writer');

# a plain CREATE DATABASE copies template1: its writer lets go of it too
$node->safe_psql('template1', q{CREATE EXTENSION privacy_guard; SELECT privacy_guard.define_category('contact')});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'privacy_guard audit writer' AND datname = 'template1'}),
	'template1 has a writer');
$node->safe_psql('postgres', 'CREATE DATABASE plain_copy');
ok(1, 'CREATE DATABASE from template1 with a writer');
$node->safe_psql('postgres', 'DROP DATABASE plain_copy');
$node->safe_psql('template1', 'DROP EXTENSION privacy_guard');   # its queue stays until its writer idles

# max_databases = 3: shop_a2 and template1 hold two queues, the dropped shop_b's is free again
shop('shop_c');
is(query_with_purpose($node, 'shop_c', 'support', $reveal), 'one@shop_c.example',
	'a dropped database\'s queue is given to another');
$node->safe_psql('postgres', 'CREATE DATABASE shop_d');
my ($rc, $out, $err) = $node->psql('shop_d',
	q{CREATE EXTENSION privacy_guard; SELECT privacy_guard.define_category('contact')});
isnt($rc, 0, 'past privacy_guard.max_databases a change that cannot be recorded is refused');
like($err, qr/no queue is free for database "shop_d".*HINT:.*max_databases/s, 'naming the setting');
is($node->safe_psql('shop_d', q{SELECT count(*) FROM privacy_guard.categories}), '0', 'and nothing changed');
is($node->safe_psql('shop_d', q{SELECT privacy_guard.audit_flush()}), '', 'audit_flush() takes no queue where nothing was queued');

# a restart keeps every trail whole
$node->restart;
for my $db ('shop_a2', 'shop_c')
{
	is(query_with_purpose($node, $db, 'support', $reveal), "one\@" . ($db eq 'shop_a2' ? 'shop_a' : $db) . ".example",
		"$db reveals after a restart");
	$node->safe_psql($db, q{SELECT privacy_guard.audit_flush()});
	is($node->safe_psql($db, q{SELECT privacy_guard.verify_audit()}), 't', "and its trail verifies");
}

$node->stop;
done_testing();

# A lockdown outlives the server: a restart, and a crash right after the
# lockdown's transaction committed, come back locked down.  A lift removes
# it for good.  Each database has its own lockdown.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node) = start_keyring_node('lockdown', "1:" . ('7c' x 32) . "\n", "restart_after_crash = on");
# the same policy and parcel in two databases
$node->safe_psql('postgres', 'CREATE DATABASE other');
for my $db ('postgres', 'other')
{
	create_policy($node, $db, 'delivery', [ 'address' ]);
	create_protected_table($node, $db, 'parcels', 'address', 'address',
		new_rows => q{VALUES (1, '1 Harbour Road')});
}

my $reveal = q{SELECT privacy_guard.reveal(address, 'delivery') FROM parcels};
sub refused
{
	my ($db) = @_;
	my ($rc, $out, $err) = $node->psql($db, $reveal);
	return $rc != 0 && $err =~ /lockdown in force/;
}

$node->safe_psql('postgres', q{SELECT privacy_guard.lockdown('addresses on a forum')});
ok(refused('postgres'), 'locked down');
is($node->safe_psql('other', $reveal), '1 Harbour Road', 'another database is not locked down');

$node->restart;
ok(refused('postgres'), 'still locked down after a restart');
like($node->safe_psql('postgres', q{SELECT status FROM privacy_guard.incidents WHERE kind = 'lockdown'}),
	qr/^in force$/, 'the incidents view agrees');

# crash: kill -9 a backend, the postmaster resets shared memory
my $session = $node->background_psql('other');
my $victim = $session->query_safe('SELECT pg_backend_pid()');
$session->query_safe(q{SELECT privacy_guard.lockdown('second database too')});
crash_backend($node, $session, $victim);
ok(refused('postgres'), 'locked down after a crash');
ok(refused('other'), 'a lockdown committed just before the crash holds too');

# a lift lasts
$node->safe_psql('postgres', q{SELECT privacy_guard.lift_lockdown('contained')});
is($node->safe_psql('postgres', $reveal), '1 Harbour Road', 'lifted');
$node->restart;
is($node->safe_psql('postgres', $reveal), '1 Harbour Road', 'a lifted lockdown stays lifted after a restart');
ok(refused('other'), 'the other database is still locked down');

# a lockdown whose transaction was cut off by the crash stays: it fails closed
$session = $node->background_psql('postgres');
$victim = $session->query_safe('SELECT pg_backend_pid()');
$session->query_safe('BEGIN');
$session->query_safe(q{SELECT privacy_guard.lockdown('cut off')});
crash_backend($node, $session, $victim);
ok(refused('postgres'), 'a lockdown cut off by a crash before its commit fails closed');
my $open = $node->safe_psql('postgres',
	q{SELECT count(*) FROM privacy_guard.incidents WHERE kind = 'lockdown' AND status <> 'lifted'});
is($open, '0', 'its incident row was rolled back with it');
is($node->safe_psql('postgres', q{SELECT privacy_guard.lift_lockdown('after the crash')}), 't',
	'lift_lockdown() lifts a lockdown that has no incident row');
is($node->safe_psql('postgres', $reveal), '1 Harbour Road', 'and reveals work again');

$node->safe_psql('other', q{SELECT privacy_guard.lift_lockdown()});
my @left = glob($node->data_dir . '/privacy_guard_lockdown_*');
is(scalar(@left), 0, 'no lockdown file is left');

$node->stop;
done_testing();

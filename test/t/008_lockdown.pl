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
	q{SELECT count(*) FROM privacy_guard.incidents WHERE kind = 'lockdown' AND status <> 'lifted' AND id IS NOT NULL});
is($open, '0', 'its incident row was rolled back with it');
is($node->safe_psql('postgres',
	q{SELECT status || ': ' || description FROM privacy_guard.incidents WHERE kind = 'lockdown' AND id IS NULL}),
	'in force: engaged by a lockdown() whose transaction did not commit; the audit trail has its reason',
	'the incidents view shows the lockdown in force all the same');
$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
like($node->safe_psql('postgres',
	q{SELECT statement FROM privacy_guard.audit_log WHERE event = 'lockdown' AND outcome = 'started' ORDER BY id DESC LIMIT 1}),
	qr/: cut off$/, 'and the trail has its start, written before the crash');
is($node->safe_psql('postgres', q{SELECT privacy_guard.lift_lockdown('after the crash')}), 't',
	'lift_lockdown() lifts a lockdown that has no incident row');
is($node->safe_psql('postgres', $reveal), '1 Harbour Road', 'and reveals work again');

# Nobody can hold these up: any role can take any advisory lock, so
# lockdown(), lift_lockdown() and request_erasure() take none.
$node->safe_psql('postgres', 'CREATE ROLE squatter LOGIN');
my $squatter = $node->background_psql('postgres', extra_params => [ '-U', 'squatter' ]);
$squatter->query_safe(q{SELECT pg_advisory_lock(hashtext('privacy_guard.lockdown')),
	pg_advisory_lock(hashtext('privacy_guard.erasure:1'))});
# nor a consent officer whose incident report stays uncommitted
$node->safe_psql('postgres', 'CREATE ROLE officer LOGIN IN ROLE privacy_guard_consent');
my $officer = $node->background_psql('postgres', extra_params => [ '-U', 'officer' ]);
$officer->query_safe(q{BEGIN; SELECT privacy_guard.report_incident('a report left open')});
my ($rc, $out, $err) = $node->psql('postgres', q{SET statement_timeout = '5s';
	SELECT privacy_guard.lockdown('squatted') > 0; SELECT privacy_guard.lift_lockdown('squatted');
	SELECT privacy_guard.request_erasure('1') > 0});
is($rc, 0, 'lockdown(), lift_lockdown() and request_erasure() wait neither for advisory locks nor for an open report');
$squatter->quit;
$officer->query_safe('ROLLBACK');
$officer->quit;

# A writer that keeps its transaction open fails the erasure it blocks, after
# process_erasures()' lock_timeout, not the whole run: the request stays
# pending, saying why.
my $writer = $node->background_psql('postgres');
$writer->query_safe(q{BEGIN; INSERT INTO parcels VALUES (2, '2 Harbour Road')});
($rc, $out, $err) = $node->psql('postgres', q{SET statement_timeout = '60s'; SELECT privacy_guard.process_erasures()});
is($out, '0', 'process_erasures() returns while a writer holds its table');
like($node->safe_psql('postgres', q{SELECT last_error FROM privacy_guard.erasure_requests WHERE subject = '1'}),
	qr/^55P03: relation public.parcels is locked by a transaction that stays open$/, 'the request says why it waits');
$writer->query_safe('ROLLBACK');
$writer->quit;
is($node->safe_psql('postgres', q{SELECT privacy_guard.process_erasures()}), '1', 'and completes once the writer is gone');

$node->safe_psql('other', q{SELECT privacy_guard.lift_lockdown()});
my @left = glob($node->data_dir . '/privacy_guard_lockdown_*');
is(scalar(@left), 0, 'no lockdown file is left');

$node->stop;
done_testing();

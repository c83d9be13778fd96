# Reveals on a hot standby: the standby cannot write, so its audit writer
# forwards every event (reveal, search, set_purpose) to the primary, which
# chains it into that database's trail naming the standby; a value leaves
# the standby only once the primary has committed its record.  Without its
# primary the standby refuses, saying why; promoted, it writes its own trail.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($primary) = keyring_node('primary', "1:" . ('5d' x 32) . "\n", allows_streaming => 1);
$primary->append_conf('postgresql.conf', "log_statement = none\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE DATABASE shop');
create_policy($primary, 'shop', 'support', [ 'contact' ]);
create_protected_table($primary, 'shop', 'customers', 'email', 'contact',
	unique => 1, searchable => 1,
	rows => q{SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 100) g});
$primary->safe_psql('shop', q{
	CREATE ROLE clerk LOGIN;
	GRANT SELECT ON customers TO clerk;
	SELECT privacy_guard.grant_purpose('clerk', 'support');
	SELECT privacy_guard.audit_flush()});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# (its cluster_name, which names it in the trail, is "standby")
$standby->append_conf('postgresql.conf', "privacy_guard.audit_wait_timeout = 3000\n");
$standby->start;
$primary->wait_for_catchup($standby);

my $reveal7 = q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 7};
my ($out, $err);
sub trail
{
	my ($node, $where) = @_;
	$node->safe_psql('shop', 'SELECT privacy_guard.audit_flush()');
	return $node->safe_psql('shop', qq{SELECT count(*) FROM privacy_guard.audit_log WHERE $where});
}

# A reveal on the standby: the value, and its record in the primary's trail
is($standby->safe_psql('shop', $reveal7, extra_params => [ '-U', 'clerk' ]), 'c7@example.com',
	'a reveal on the standby returns the value');
is(trail($primary, q{event = 'reveal' AND current_role_name = 'clerk' AND statement LIKE 'on standby standby (%): %'}),
	'1', "the primary's trail has the standby's reveal, naming the standby");
like($primary->safe_psql('shop', q{SELECT string_agg(purpose || '/' || outcome || '/' || statement, '; ') FROM privacy_guard.access_history('7')}),
	qr{support/revealed/on standby standby \(\w+, local\): query -?\d+: SELECT privacy_guard\.reveal\(email, \$1\) FROM customers WHERE id = \$2},
	"access_history('7') on the primary shows it, with the statement run on the standby");
is($primary->safe_psql('shop', 'SELECT privacy_guard.verify_audit()'), 't', 'and the chain verifies');

# a reveal of every row: its subjects reach the primary (access_history is exact)
is($standby->safe_psql('shop', q{SELECT count(privacy_guard.reveal(email, 'support')) FROM customers}), '100',
	'a bulk reveal on the standby');
# (the last of its subjects are queued there without waiting: they follow)
$primary->poll_query_until('shop', q{SELECT count(*) = 1 FROM privacy_guard.access_history('42') WHERE statement LIKE 'on standby%count%'});
is($primary->safe_psql('shop', q{SELECT count(*) FROM privacy_guard.access_history('42') WHERE statement LIKE 'on standby%count%'}),
	'1', "the primary's access_history finds every subject of the standby's bulk reveal");

# searches and declared purposes go the same way
is($standby->safe_psql('shop', q{
	SELECT privacy_guard.set_purpose('support', 'ticket 99');
	SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) 'c5@example.com'}), "support\n5", 'a search on the standby');
is(trail($primary, q{event = 'set_purpose' AND statement LIKE 'on standby standby%'}), '1',
	'its set_purpose() is in the primary\'s trail');
is(trail($primary, q{event = 'search' AND statement LIKE 'on standby standby%'}), '1',
	'and so is its search');
$primary->poll_query_until('shop', q{SELECT count(*) > 0 FROM privacy_guard.access_history('5') WHERE event = 'search' AND statement LIKE 'on standby%'});
like($primary->safe_psql('shop', q{SELECT string_agg(event, ',') FROM privacy_guard.access_history('5') WHERE statement LIKE 'on standby%'}),
	qr/search/, 'which access_history() finds under the subject it matched');

# A role named in another database's encoding (its name is not UTF-8 here):
# the standby forwards its events made valid text, as the primary's own
# writer records them.  The primary used to refuse the whole batch, on every
# retry, and the standby refused every reveal until it restarted.
$primary->safe_psql('postgres',
	q{CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$primary->safe_psql('latin', "SET client_encoding = 'LATIN1'; CREATE ROLE \"jos\xe9\" LOGIN IN ROLE clerk");
$primary->wait_for_catchup($standby);
$standby->psql('shop', $reveal7, extra_params => [ '-U', "jos\xe9" ], stdout => \$out, stderr => \$err);
is($out, 'c7@example.com', 'a role named in LATIN1 reveals on the standby') or diag($err);
is(trail($primary, q{event = 'reveal' AND session_user_name = 'jos?' AND statement LIKE 'on standby standby%'}), '1',
	'the primary\'s trail has the reveal, the name made valid text');
is($standby->safe_psql('shop', $reveal7, extra_params => [ '-U', 'clerk' ]), 'c7@example.com',
	'and the standby goes on revealing');

# the standby's own trail is the primary's, replicated: nothing written there
$primary->wait_for_catchup($standby);
is($standby->safe_psql('shop', q{SELECT count(*) FROM privacy_guard.audit_log WHERE statement LIKE 'on standby standby%'}),
	$primary->safe_psql('shop', q{SELECT count(*) FROM privacy_guard.audit_log WHERE statement LIKE 'on standby standby%'}),
	'the standby reads the same trail, replicated back');

# an erasure replayed reaches a transaction open on the standby across it
# (a cursor, a kept value): its cached key is gone at its next reveal
my $open = $standby->background_psql('shop');
$open->query_safe(q{SELECT privacy_guard.set_purpose('support')});
my $kept = $open->query_safe(q{SELECT email::text FROM customers WHERE id = 24});
$open->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ; DECLARE e CURSOR FOR
	SELECT id, privacy_guard.reveal(email) AS r FROM customers WHERE id BETWEEN 20 AND 30 ORDER BY id});
like($open->query_safe('FETCH 2 FROM e'), qr/c21\@example\.com/, 'a cursor on the standby reveals');
is($open->query_safe("SELECT privacy_guard.reveal('$kept'::privacy_guard.encrypted_text)"), 'c24@example.com',
	'and so does the transaction, the key of the value it kept (now cached)');
$primary->safe_psql('shop', q{SELECT privacy_guard.request_erasure('24'); SELECT privacy_guard.process_erasures()});
$primary->wait_for_catchup($standby);
unlike($open->query_safe('FETCH ALL FROM e'), qr/c24\@example/,
	'after the erasure replays, the open cursor does not reveal the erased subject');
is($open->query_safe("SELECT privacy_guard.reveal('$kept'::privacy_guard.encrypted_text) IS NULL"), 't',
	'nor does the same transaction reveal a value of it kept from before');
$open->query_safe('COMMIT');
$open->quit;

# a forwarded event cannot be forged: only a member of privacy_guard_standby forwards
$primary->psql('shop', q{SELECT privacy_guard.audit_forward('x', '{}')},
	extra_params => [ '-U', 'clerk' ], stdout => \$out, stderr => \$err);
like($err, qr/permission denied for function audit_forward/, 'an application role cannot forward events');

# A standby of the standby forwards to it, which forwards on: the record is
# the primary's, naming both, and its subjects find it
$standby->backup('cascade');
my $cascade = PostgreSQL::Test::Cluster->new('cascade');
$cascade->init_from_backup($standby, 'cascade', has_streaming => 1);
$cascade->start;
$standby->wait_for_catchup($cascade, 'replay', $primary->lsn('flush'));
is($cascade->safe_psql('shop', q{SELECT string_agg(privacy_guard.reveal(email, 'support'), ',' ORDER BY id) FROM customers WHERE id IN (61, 62)},
		extra_params => [ '-U', 'clerk' ]),
	'c61@example.com,c62@example.com', 'a reveal on a standby of the standby');
# (its subjects follow its record through both standbys, queued without
# waiting: audit_flush() on the primary cannot know of them yet)
$primary->poll_query_until('shop', q{SELECT count(*) > 0 FROM privacy_guard.access_history('62') WHERE statement LIKE '%on standby cascade%'});
like($primary->safe_psql('shop', q{SELECT privacy_guard.audit_flush(); SELECT string_agg(event || ': ' || statement, '; ') FROM privacy_guard.access_history('62')}),
	qr/reveal: on standby standby \(\w+, local\): on standby cascade \(\w+, local\): query -?\d+: SELECT string_agg/,
	"the primary's access_history finds it, through both standbys");
is($primary->safe_psql('shop', 'SELECT privacy_guard.verify_audit()'), 't', 'and the chain verifies');
$cascade->stop;

# One round trip: a reveal on the standby against one on the primary (best of 20)
sub best
{
	my ($node) = @_;
	my $best = 1e9;
	for my $i (1 .. 20)
	{
		my $t0 = time;
		$node->safe_psql('shop', $reveal7);
		my $t = time - $t0;
		$best = $t if $t < $best;
	}
	return $best * 1000;
}
my ($on_primary, $on_standby) = (best($primary), best($standby));
diag(sprintf('a reveal (one psql each): primary %.1f ms, standby %.1f ms', $on_primary, $on_standby));
cmp_ok($on_standby, '<', $on_primary + 50, 'a reveal on the standby costs about one round trip more');

# The primary down: the standby refuses (fails closed), and says why.  A
# cursor open meanwhile (eight reveals of one column a row: one group, a
# site being its table and column) stops within 64 subjects: what a standby
# revealed is not left in its memory for long.
my $cursor = $standby->background_psql('shop', on_error_stop => 0);
$cursor->query_safe(q{BEGIN; DECLARE c CURSOR FOR SELECT id, }
	  . join(', ', map { "privacy_guard.reveal(email, 'support') AS r$_" } 1 .. 8)
	  . q{ FROM customers ORDER BY id});
like($cursor->query_safe('FETCH 40 FROM c'), qr/c40\@example\.com/, 'a cursor on the standby fetches');
$primary->stop('fast');
my $more = $cursor->query('FETCH 40 FROM c');   # (past 64 subjects)
like($cursor->{stderr}, qr/this standby cannot reach its primary/,
	'the primary gone, the cursor stops within 64 subjects');
unlike($more, qr/c41\@example/, 'and returns nothing more');
$cursor->quit;
$standby->psql('shop', $reveal7, stdout => \$out, stderr => \$err);
like($err, qr/cannot record this access: this standby cannot reach its primary/,
	'without its primary, a reveal on the standby is refused');
unlike($out, qr/c7\@example/, 'and returns nothing');
like($err, qr/DETAIL:  could not connect to the primary/, 'a superuser is told what failed');
$standby->psql('shop', $reveal7, stdout => \$out, stderr => \$err, extra_params => [ '-U', 'clerk' ]);
like($err, qr/DETAIL:  The server log says why/, 'an application role is pointed to the server log');
unlike($err, qr/socket|port=|host=/, 'and not told where the primary is');
like(slurp_file($standby->logfile), qr/privacy_guard audit writer cannot reach the primary: could not connect to the primary/,
	'the server log says why');
$standby->psql('shop', q{SELECT privacy_guard.set_purpose('support')}, stdout => \$out, stderr => \$err);
like($err, qr/this standby cannot reach its primary/, 'nor can a purpose be declared');
# (restarting the standby now would lose what it queued: it says so)

# back: the events queued meanwhile reach the trail, and reveals work again
$primary->start;
ok($standby->poll_query_until('shop', qq{SELECT ($reveal7) = 'c7\@example.com'}),
	'with its primary back, the standby reveals again');
is(trail($primary, q{event = 'reveal' AND outcome = 'revealed' AND statement LIKE 'on standby standby%' AND statement LIKE '%id = \$2'}) >= 3 ? 'yes' : 'no',
	'yes', 'the refused attempt and the new reveal are both in the primary\'s trail');
is($primary->safe_psql('shop', 'SELECT privacy_guard.verify_audit()'), 't', 'which still verifies');

# Promotion: the standby writes its own trail, continuing the chain it has
$primary->wait_for_catchup($standby);
$primary->stop('fast');
$standby->promote;
is($standby->safe_psql('shop', $reveal7, extra_params => [ '-U', 'clerk' ]), 'c7@example.com',
	'promoted, it reveals');
is(trail($standby, q{event = 'reveal' AND current_role_name = 'clerk' AND statement NOT LIKE 'on standby%'}), '1',
	'and records the reveal in its own trail');
is($standby->safe_psql('shop', 'SELECT privacy_guard.verify_audit()'), 't',
	'whose chain, with the forwarded records, verifies');

$standby->stop;
done_testing();

# The trail says what happened, not what was tried: completions of work that
# rolls back are never recorded.  A process_erasures() cut short by
# statement_timeout or killed leaves "started" records and no "completed"
# one for a request still pending; a rolled-back load_policy() and master key
# rotation record no success; a rotation writes one catalog record a batch
# of keys, not one a key.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node, $keyfile) = start_keyring_node('truthful', "1:" . ('2b' x 32) . "\n", "log_statement = none");
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ] ]);
create_protected_table($node, 'postgres', 'customers', 'email', 'contact',
	rows => q{SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 2500) g});
# slow each deletion down, so that the run can be cut short in the middle
$node->safe_psql('postgres', q{
	CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN OLD; END $$;
	CREATE TRIGGER slow BEFORE DELETE ON customers FOR EACH ROW EXECUTE FUNCTION slow();
	SELECT count(privacy_guard.request_erasure(g::text)) FROM generate_series(1, 400) g;
});

sub counts
{
	$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
	return $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'erasure' AND outcome = 'completed')
		       || ' completed records, '
		       || (SELECT count(*) FROM privacy_guard.erasures WHERE completed_at IS NOT NULL) || ' completed requests'});
}

# statement_timeout over a long backlog: nothing completed, nothing said to be
my ($rc, $out, $err) = $node->psql('postgres', q{SET statement_timeout = '1s'; SELECT privacy_guard.process_erasures()});
like($err, qr/statement timeout/, 'process_erasures() was cut short by statement_timeout');
is(counts(), '0 completed records, 0 completed requests', 'and no completion is recorded');
ok($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'erasure' AND outcome = 'started'}) > 0,
	'its attempts are');

# killed in the middle
my $session = $node->background_psql('postgres');
my $pid = $session->query_safe('SELECT pg_backend_pid()');
$session->query_until(qr/started/, "\\echo started\nSELECT privacy_guard.process_erasures();\n");
sleep 2;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
eval { $session->quit };
is(counts(), '0 completed records, 0 completed requests', 'a killed run records no completion either');

# one that finishes: one completion a request
$node->safe_psql('postgres', 'DROP TRIGGER slow ON customers');
$node->safe_psql('postgres', 'SELECT privacy_guard.process_erasures()');
is(counts(), '400 completed records, 400 completed requests', 'a run that commits records every completion');

# a cursor that fetched every customer, then rolled back: every subject whose
# data left is in the trail, and the group is closed (at the end: also for
# 300,000 subjects, fetched a batch at a time, the last queued at the abort)
sub rolled_back_cursor
{
	my ($table, $fetch) = @_;
	my $n = $node->safe_psql('postgres', "SELECT count(*) FROM $table");
	my $mark = $node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush(); SELECT coalesce(max(id), 0) FROM privacy_guard.audit_records');
	$mark =~ s/^\s+//;
	my $fetched = $node->safe_psql('postgres', qq{
		BEGIN;
		DECLARE c CURSOR FOR SELECT privacy_guard.reveal(email, 'support') FROM $table;
		$fetch;
		ROLLBACK;
	});
	is(scalar(() = $fetched =~ /\@example\.com/g), $n, "$table: the cursor fetched $n values");
	$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
	is($node->safe_psql('postgres', qq{
		SELECT count(DISTINCT k) FROM privacy_guard.audit_records r
		  JOIN privacy_guard.audit_subjects s ON s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
		  CROSS JOIN unnest(s.key_ids) k
		 WHERE r.id > $mark AND r.event = 'reveal'}), $n, "$table: a rolled-back cursor's $n subjects are all recorded");
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM privacy_guard.audit_records WHERE id > $mark AND event = 'reveal_end'}),
		'1', "$table: and its group is closed");
}
rolled_back_cursor('customers', 'FETCH ALL FROM c');

# a load_policy() rolled back is not recorded as loaded
my $doc = $node->safe_psql('postgres', q{
	WITH d AS (SELECT privacy_guard.export_policy() AS d),
	     i AS (SELECT ord - 1 AS i FROM d, jsonb_array_elements(d.d->'purposes') WITH ORDINALITY e(v, ord)
	            WHERE v->>'name' = 'support')
	SELECT jsonb_set(d.d, ARRAY['purposes', i.i::text, 'description'], '"changed"')::text FROM d, i});
$node->safe_psql('postgres', qq{BEGIN; SELECT privacy_guard.load_policy('$doc'::jsonb); ROLLBACK;});
$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'policy_load' AND outcome = 'loaded'}),
	'0', 'a rolled-back load_policy() is not recorded as loaded');

# key rotation: rolled back, no success; committed, one catalog record a batch of keys
write_keyring($keyfile, "1:" . ('2b' x 32) . "\n2:" . ('2c' x 32) . "\n");
$node->reload;
$node->safe_psql('postgres', q{BEGIN; SELECT privacy_guard.rotate_master_key(); ROLLBACK;});
$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'key_rotation'}),
	'0', 'a rolled-back rotation records no rotation');
my $before = $node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'key'});
is($node->safe_psql('postgres', q{SELECT privacy_guard.rotate_master_key()}), '2100', 'a rotation re-wraps the 2,100 remaining keys');
$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
my $after = $node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'key'});
ok($after - $before <= 4, 'with one catalog record a batch of 1,000 keys (' . ($after - $before) . ')');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'key_rotation' AND outcome = 'rotated'}),
	'1', 'and one record of the rotation');

$node->safe_psql('postgres', q{
	CREATE TABLE members (id int PRIMARY KEY, email text);
	INSERT INTO members SELECT g, 'm' || g || '@example.com' FROM generate_series(1000001, 1300000) g;
	SELECT privacy_guard.protect('members', 'email', 'contact', 'id')});
rolled_back_cursor('members', 'FETCH 100000 FROM c; FETCH 100000 FROM c; FETCH 100000 FROM c');

$node->stop;
done_testing();

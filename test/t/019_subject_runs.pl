# The runs in which the audit writer indexes the subjects searches found
# (audit_subject_runs) are only an index of the trail: runs deleted by hand
# are indexed again from the trail when the writer next starts, a damaged
# run due for merging is rebuilt from the trail (the writer goes on), and a
# damaged run access_history() reads is refused with a hint saying how to
# repair it.  After each, access_history() finds exactly the records a scan
# of the trail finds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node) = start_keyring_node('runs', "1:" . ('3c' x 32) . "\n",
	"privacy_guard.audit_run_records = 8");
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ] ]);
create_protected_table($node, 'postgres', 'customers', 'email', 'contact',
	rows => q{SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 50) g},
	searchable => 1);

# $n searches, each its own statement committed to the trail before the
# next (a batch each: runs of a few records), of customers in a fixed order
my $round = 0;
sub search
{
	my ($n) = @_;
	$round++;
	query_with_purpose($node, 'postgres', 'support', qq{
		SET search_path = public, privacy_guard;
		SELECT format('SELECT id FROM customers WHERE email = %L', 'c' || (g * 7 + $round) % 50 + 1 || '\@example.com'),
		       'SELECT privacy_guard.audit_flush()'
		  FROM generate_series(1, $n) g \\gexec
	});
	$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
	return;
}

# subjects whose access_history() differs from a scan of the trail, and
# records naming a subject up to the last run's end that no run holds
sub differences
{
	return $node->safe_psql('postgres', q{
		WITH k AS (SELECT key_id, name FROM privacy_guard.keys
		            WHERE kind = 'subject' AND name IN (SELECT id::text FROM customers))
		SELECT count(*) FILTER (WHERE h <> b) || '/' || count(*)
		  FROM (SELECT (SELECT count(*) FROM privacy_guard.access_history(k.name) h WHERE h.event = 'search') AS h,
		               (SELECT count(*) FROM privacy_guard.audit_records r
		                 WHERE r.event = 'search'
		                   AND (r.subject_key = k.key_id
		                        OR EXISTS (SELECT 1 FROM privacy_guard.audit_subjects s
		                                    WHERE s.queue_epoch = r.queue_epoch AND s.group_seq = r.queue_seq
		                                      AND k.key_id = ANY (s.key_ids)))) AS b
		          FROM k) t});
}

sub restart_writer
{
	$node->safe_psql('postgres', q{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE backend_type = 'privacy_guard audit writer' AND datname = 'postgres'});
	return;
}

search(600);
is(differences(), '0/50', 'access_history() finds what a scan of the trail finds');
is($node->safe_psql('postgres', 'SELECT max(level) FROM privacy_guard.audit_subject_runs'), '2',
	'runs were merged up to the top level');

# A run in the middle deleted by hand: the writer indexes its records again
# when it next starts
my $gone = $node->safe_psql('postgres', q{
	DELETE FROM privacy_guard.audit_subject_runs
	 WHERE first_id = (SELECT min(first_id) FROM privacy_guard.audit_subject_runs WHERE level = 1)
	RETURNING first_id});
like($gone, qr/^\d+/, 'a run in the middle deleted');
isnt(differences(), '0/50', 'its records are missing from access_history()');
my $offset = -s $node->logfile;
restart_writer();
search(40);
is(differences(), '0/50', 'the restarted writer indexed them again');
like(slurp_file($node->logfile, $offset), qr/no subject run covers records \d+ to \d+; indexing them again from the trail/,
	'and said so in the server log');

# A damaged run due for merging: rebuilt from the trail, the writer goes on
# (runs of the first level are merged eight at a time: make one if none is left)
search(8) while $node->safe_psql('postgres', 'SELECT count(*) FROM privacy_guard.audit_subject_runs WHERE level = 0') eq '0';
my $damaged = $node->safe_psql('postgres', q{
	UPDATE privacy_guard.audit_subject_runs SET pairs = '\x0280'
	 WHERE first_id = (SELECT min(first_id) FROM privacy_guard.audit_subject_runs WHERE level = 0)
	RETURNING first_id || ' to ' || last_id});
like($damaged, qr/^\d+ to \d+$/, 'a run of the first level damaged');
$offset = -s $node->logfile;
search(200);
is(differences(), '0/50', 'a damaged run was rebuilt from the trail as it was merged');
like(slurp_file($node->logfile, $offset), qr/WARNING:  an audit subject run is damaged or incomplete: records \d+ to \d+ are indexed again from the trail/,
	'with a warning');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'privacy_guard audit writer'}),
	'1', 'and the writer kept running');

# A run of the first level deleted while the writer runs (not the last): the
# merge that would have covered its records with the others' rebuilds them
search(8) while $node->safe_psql('postgres', 'SELECT count(*) FROM privacy_guard.audit_subject_runs WHERE level = 0') lt '2';
$node->safe_psql('postgres', q{
	DELETE FROM privacy_guard.audit_subject_runs
	 WHERE first_id = (SELECT min(first_id) FROM privacy_guard.audit_subject_runs WHERE level = 0)});
$offset = -s $node->logfile;
search(64);
is(differences(), '0/50', 'a run deleted under the writer is rebuilt by the merge that covers it');
like(slurp_file($node->logfile, $offset), qr/an audit subject run is damaged or incomplete/, 'with a warning');

# A run missing one of its rows (a chunk deleted by hand; here its row
# claims two): dropped and indexed again when the writer starts
$node->safe_psql('postgres', q{
	UPDATE privacy_guard.audit_subject_runs SET chunks = 2
	 WHERE first_id = (SELECT min(first_id) FROM privacy_guard.audit_subject_runs WHERE level = 2)});
$offset = -s $node->logfile;
restart_writer();
search(8);
is(differences(), '0/50', 'an incomplete run is indexed again by the restarted writer');
like(slurp_file($node->logfile, $offset), qr/the subject run of records \d+ to \d+ is incomplete; dropping it/,
	'and the server log says so');

# A damaged run of the top level (never merged): access_history() refuses
# with a hint; deleting it and restarting the writer repairs it
my $first = $node->safe_psql('postgres', q{
	UPDATE privacy_guard.audit_subject_runs SET pairs = '\x80'
	 WHERE (first_id, lower(key_range)) = (SELECT first_id, lower(key_range) FROM privacy_guard.audit_subject_runs
	                                        WHERE level = 2 AND NOT isempty(key_range) ORDER BY first_id, key_range LIMIT 1)
	RETURNING lower(key_range)});
my ($ret, $out, $err) = $node->psql('postgres', qq{
	SELECT count(*) FROM privacy_guard.access_history((SELECT name FROM privacy_guard.keys WHERE key_id = $first))});
like($err, qr/ERROR:  an audit subject run is damaged.*HINT:  Delete the damaged row of privacy_guard.audit_subject_runs/s,
	'access_history() refuses a damaged run, saying how to repair it');
$node->safe_psql('postgres', q{DELETE FROM privacy_guard.audit_subject_runs WHERE pairs = '\x80'});
restart_writer();
search(20);
is(differences(), '0/50', 'deleted and indexed again by the restarted writer');

# every run was emptied by hand: indexed again before the writer adds one
$node->safe_psql('postgres', 'DELETE FROM privacy_guard.audit_subject_runs');
search(20);
is(differences(), '0/50', 'runs emptied under the writer are written again');
is($node->safe_psql('postgres', q{SELECT privacy_guard.verify_audit()}), 't', 'and the chain verifies');

$node->stop;
done_testing();

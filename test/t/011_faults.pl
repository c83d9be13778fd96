# Faults: a backend killed (SIGKILL, the server resets shared memory) or the
# server stopped in immediate mode in the middle of protect() on a large
# table, a master key rotation, process_erasures() with many requests and
# load_policy().  After recovery nothing is lost or half done, and running
# the operation again completes it.  Then a rotation under a pgbench load:
# no client error, the old version retired, every row read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $rows = 30000;
my ($k1, $k2, $k3) = ('a1' x 32, 'b2' x 32, 'c3' x 32);
my ($node, $keyfile) = start_keyring_node('faults', "1:$k1\n", "restart_after_crash = on\nmax_connections = 40");
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ] ]);
$node->safe_psql('postgres', qq{
	CREATE TABLE big (id int PRIMARY KEY, email text UNIQUE);
	INSERT INTO big SELECT g, 'user' || g || '\@example.com' FROM generate_series(1, $rows) g;
});
my $plain = $node->safe_psql('postgres', q{SELECT md5(string_agg(email::text, ',' ORDER BY id)) FROM big});
my $revealed = q{SELECT md5(string_agg(privacy_guard.reveal(email, 'support'), ',' ORDER BY id)) FROM big};

# Start $sql in a session of its own, kill its backend after $delay seconds
# (or stop the server in immediate mode), and wait for the server.
sub interrupt
{
	my ($sql, $delay, $how) = @_;
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/started/, "\\echo started\n$sql;\n");
	select(undef, undef, undef, $delay);
	if (($how // 'kill') eq 'kill')
	{
		crash_backend($node, $s, $pid);
	}
	else
	{
		$node->stop('immediate');
		eval { $s->quit; };    # its server is gone
		$node->start;
	}
	return;
}

# protect(): the table is either untouched or protected, never between.
my $shape = q{
	SELECT CASE
	  WHEN format_type(a.atttypid, NULL) = 'text'
	       AND NOT EXISTS (SELECT FROM privacy_guard.column_protection WHERE tbl = 'big'::regclass)
	       AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'big'::regclass)
	    THEN 'untouched'
	  WHEN format_type(a.atttypid, NULL) = 'privacy_guard.encrypted_text'
	       AND EXISTS (SELECT FROM privacy_guard.column_protection WHERE tbl = 'big'::regclass)
	       AND (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'big'::regclass) = 2
	       AND EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'big'::regclass AND conname = 'email_sealed')
	    THEN 'protected'
	  ELSE 'half' END
	FROM pg_attribute a WHERE a.attrelid = 'big'::regclass AND a.attname = 'email'};
my $protect = q{SELECT privacy_guard.protect('big', 'email', 'contact', 'id', searchable => true)};
for my $cut ([ 0.05, 'kill' ], [ 0.3, 'kill' ], [ 0.6, 'immediate' ])
{
	my ($delay, $how) = @$cut;
	interrupt($protect, $delay, $how);
	my $state = $node->safe_psql('postgres', $shape);
	ok($state eq 'untouched' || $state eq 'protected', "protect() cut off after ${delay}s ($how): $state, not half done");
	if ($state eq 'untouched')
	{
		is($node->safe_psql('postgres', q{SELECT md5(string_agg(email::text, ',' ORDER BY id)) FROM big}),
			$plain, "protect() cut off after ${delay}s ($how): every plaintext is still there");
	}
	else
	{
		is(query_with_purpose($node, 'postgres', 'support', $revealed), $plain,
			"protect() cut off after ${delay}s ($how): it had committed; every value reveals");
	}
}
$node->safe_psql('postgres', $protect) if $node->safe_psql('postgres', $shape) eq 'untouched';
is($node->safe_psql('postgres', $shape), 'protected', 'protect() run again completes');
is(query_with_purpose($node, 'postgres', 'support', $revealed), $plain, 'and every value reveals as it was written');

# Rotation: every key under one of the versions, all readable; run again, it
# completes, and the old version can go.
write_keyring($keyfile, "1:$k1\n2:$k2\n");
$node->reload;
for my $cut ([ 0.2, 'kill' ], [ 0.6, 'immediate' ])
{
	my ($delay, $how) = @$cut;
	interrupt('SELECT privacy_guard.rotate_master_key()', $delay, $how);
	is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.keys WHERE master_version NOT IN (1, 2)}),
		'0', "rotation cut off after ${delay}s ($how): every key is under version 1 or 2");
	is(query_with_purpose($node, 'postgres', 'support', $revealed), $plain,
		"rotation cut off after ${delay}s ($how): every value reveals");
}
$node->safe_psql('postgres', 'SELECT privacy_guard.rotate_master_key()');
is($node->safe_psql('postgres', q{SELECT keys || ':' || can_retire FROM privacy_guard.master_key_versions() WHERE master_version = 1}),
	'0:true', 'rotation run again completes: version 1 wraps nothing');
write_keyring($keyfile, "2:$k2\n");
$node->restart;
is(query_with_purpose($node, 'postgres', 'support', $revealed), $plain, 'version 1 retired: every value reveals');

# process_erasures() with many requests: each one is done whole or not at
# all (key, rows, certificate together); run again, all complete.
my $requests = 300;
$node->safe_psql('postgres', qq{SELECT privacy_guard.request_erasure(g::text) FROM generate_series(1, $requests) g});
my $whole = qq{
	SELECT count(*) FROM privacy_guard.erasures e
	  JOIN privacy_guard.keys k ON k.kind = 'subject' AND k.name = e.subject
	 WHERE e.subject::int BETWEEN 1 AND $requests
	   AND NOT ((e.completed_at IS NOT NULL AND k.erased_at IS NOT NULL AND e.certificate IS NOT NULL
	             AND NOT EXISTS (SELECT FROM big b WHERE b.id = e.subject::int))
	         OR (e.completed_at IS NULL AND k.erased_at IS NULL
	             AND EXISTS (SELECT FROM big b WHERE b.id = e.subject::int)))};
for my $cut ([ 0.3, 'kill' ], [ 0.8, 'immediate' ])
{
	my ($delay, $how) = @$cut;
	interrupt('SELECT privacy_guard.process_erasures()', $delay, $how);
	is($node->safe_psql('postgres', $whole), '0', "process_erasures() cut off after ${delay}s ($how): no request half done");
}
$node->safe_psql('postgres', 'SELECT privacy_guard.process_erasures()');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM privacy_guard.erasure_requests WHERE status = 'completed'}),
	$requests, 'process_erasures() run again completes every request');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM big WHERE id <= $requests}), '0', 'and their rows are gone');
is($node->safe_psql('postgres', 'SELECT privacy_guard.verify_audit()'), 't', 'the audit trail verifies');

# load_policy(): the policy is the old document or the new one.
my $before = $node->safe_psql('postgres', 'SELECT privacy_guard.export_policy()');
my $doc = $node->safe_psql('postgres', q{
	SELECT jsonb_set(privacy_guard.export_policy(), '{purposes}',
	       privacy_guard.export_policy()->'purposes' || (SELECT jsonb_agg(jsonb_build_object(
	           'name', 'campaign_' || g, 'parent', NULL, 'description', NULL, 'third_party', false,
	           'requires_consent', true, 'allow', jsonb_build_array(jsonb_build_object('category', 'contact', 'level', 'masked'))))
	         FROM generate_series(1, 400) g))});
my $after = $node->safe_psql('postgres', qq{BEGIN; SELECT privacy_guard.load_policy(\$d\$$doc\$d\$); }
	. q{SELECT privacy_guard.export_policy(); ROLLBACK;});
$after =~ s/^.*\n//;    # the load's result line
for my $delay (0.05, 0.2)
{
	interrupt("SELECT privacy_guard.load_policy(\$d\$$doc\$d\$)", $delay, 'kill');
	my $now = $node->safe_psql('postgres', 'SELECT privacy_guard.export_policy()');
	ok($now eq $before || $now eq $after, "load_policy() cut off after ${delay}s: the policy is the old or the new document");
}

# Rotation under load: new customers and reads go on (pgbench, zero client
# errors) while the master key is rotated; then the old version is retired
# and every row read.
write_keyring($keyfile, "2:$k2\n3:$k3\n");
$node->reload;
my $script = $node->basedir . '/load.sql';
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1000000, 2000000000)
INSERT INTO big VALUES (:id, 'new' || :id || '@example.com') ON CONFLICT DO NOTHING;
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.reveal(email) FROM big WHERE id = (SELECT max(id) FROM big WHERE id < 1000000);
};
close($fh);
my ($out, $err) = ('', '');
my $bench = IPC::Run::start([ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '6', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres' ], '>', \$out, '2>', \$err);
sleep(2);
my $rotated = $node->safe_psql('postgres', 'SELECT privacy_guard.rotate_master_key()');
IPC::Run::finish($bench);
is($? >> 8, 0, 'pgbench finished without a client error');
like($out, qr/number of failed transactions: 0 /, 'no transaction failed') if $out =~ /failed transactions/;
unlike($err, qr/ERROR/, 'no statement failed');
ok($rotated > 0, "rotation re-wrapped $rotated keys meanwhile");
$node->safe_psql('postgres', 'SELECT privacy_guard.rotate_master_key()');
is($node->safe_psql('postgres', q{SELECT keys FROM privacy_guard.master_key_versions() WHERE master_version = 2}),
	'0', 'after a second pass version 2 wraps nothing');
write_keyring($keyfile, "3:$k3\n");
$node->restart;
is(query_with_purpose($node, 'postgres', 'support',
		q{SELECT count(*) FILTER (WHERE privacy_guard.reveal(email) IS NOT NULL) = count(*) FROM big}),
	't', 'version 2 retired: every row reads, the new customers\' too');
unlike(slurp_file($node->logfile), qr/a1a1a1|b2b2b2|c3c3c3/, 'no key material in the server log');

$node->stop;
done_testing();

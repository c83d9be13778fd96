# The audit trail outside any one session: records of a session that is
# terminated before it commits, records across a restart (the chain goes
# on), and failing closed when the audit writer cannot write.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node) = start_keyring_node('audit', "1:" . ('5e' x 32) . "\n",
	"privacy_guard.audit_wait_timeout = 500\nrestart_after_crash = on");
create_policy($node, 'postgres', 'support', [ 'contact' ]);

# A session declares a purpose inside a transaction and is terminated
# before it commits: the declaration is in the trail all the same.
my $session = $node->background_psql('postgres');
$session->query_safe(q{BEGIN});
$session->query_safe(q{SELECT privacy_guard.set_purpose('support', 'terminated session')});
my $pid = $session->query_safe(q{SELECT pg_backend_pid()});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$session->quit;
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM privacy_guard.audit_log WHERE statement = 'terminated session'})
  or die 'the terminated session\'s record did not arrive';
ok(1, 'a terminated session\'s uncommitted declaration is in the trail');

# A value was returned, then the backend died (SIGKILL: the server resets
# shared memory): the reveal is in the trail, because reveal waited for its
# record before returning the value.
create_protected_table($node, 'postgres', 't', 'email', 'contact',
	rows => q{VALUES (1, 'killed@example.com')});
my $victim = $node->background_psql('postgres');
is($victim->query_safe(q{BEGIN; SELECT privacy_guard.reveal(email, 'support') FROM t}),
	'killed@example.com', 'the value was returned');
crash_backend($node, $victim, $victim->query_safe(q{SELECT pg_backend_pid()}));
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'reveal' AND outcome = 'revealed'}),
	'1', 'the reveal returned before SIGKILL is in the trail');

# A restart: the trail persists and the chain goes on from its head.
$node->restart;
$node->safe_psql('postgres', q{SELECT privacy_guard.set_purpose('support', 'after restart')});
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.audit_log WHERE statement IN ('terminated session', 'after restart')}),
	'2', 'records from before and after the restart');
is($node->safe_psql('postgres', q{SELECT privacy_guard.verify_audit()}), 't', 'the chain verifies across the restart');

# Tampering by a superuser is detected, naming the record.
$node->safe_psql('postgres', q{UPDATE privacy_guard.audit_records SET purpose = 'delivery' WHERE statement = 'after restart'});
my ($out, $err);
$node->psql('postgres', q{SELECT privacy_guard.verify_audit()}, stdout => \$out, stderr => \$err);
is($out, 'f', 'an altered record breaks the chain');
like($err, qr/audit trail broken at record \d+: its content was altered/, 'the first broken record is named');
$node->safe_psql('postgres', q{UPDATE privacy_guard.audit_records SET purpose = 'support' WHERE statement = 'after restart'});

# The whole trail emptied, or dropped with the extension, by a superuser:
# verify_audit() says so, and the next chain starts by naming the old end.
$node->safe_psql('postgres', q{DELETE FROM privacy_guard.audit_records});
$node->psql('postgres', q{SELECT privacy_guard.verify_audit()}, stdout => \$out, stderr => \$err);
is($out, 'f', 'an emptied trail does not verify');
like($err, qr/records 1 to \d+ were removed/, 'the removed records are named');
$node->safe_psql('postgres', q{SELECT privacy_guard.set_purpose('support', 'after truncate')});
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
like($node->safe_psql('postgres', q{SELECT statement FROM privacy_guard.audit_log WHERE id = 1}),
	qr/the previous trail \(table \d+\) ended at record \d+, hash [0-9a-f]{64}; it was emptied/,
	'the new chain begins by recording the old end');
$node->psql('postgres', q{SELECT privacy_guard.verify_audit()}, stdout => \$out, stderr => \$err);
is($out, 'f', 'and the trail stays marked as broken');
like($err, qr/audit trail broken at record 1: the previous trail/, 'naming the restart');

# The newest records deleted while the server runs: the writer notices
# before it appends, and the chain carries a trail_tampered record.
$node->safe_psql('postgres', q{DROP TABLE t; DROP EXTENSION privacy_guard CASCADE; CREATE EXTENSION privacy_guard});
$node->safe_psql('postgres', q{
	SELECT privacy_guard.define_category('contact');
	SELECT privacy_guard.define_purpose('support');
	SELECT privacy_guard.audit_flush();
});
$node->safe_psql('postgres', q{DELETE FROM privacy_guard.audit_records WHERE id = (SELECT max(id) FROM privacy_guard.audit_records)});
$node->safe_psql('postgres', q{SELECT privacy_guard.allow('support', 'contact'); SELECT privacy_guard.audit_flush()});
like($node->safe_psql('postgres', q{SELECT statement FROM privacy_guard.audit_log WHERE event = 'trail_tampered'}),
	qr/records \d+ to \d+ were removed/, 'the writer records the removal before it appends');
$node->psql('postgres', q{SELECT privacy_guard.verify_audit()}, stdout => \$out, stderr => \$err);
is($out, 'f', 'and verify_audit() reports it');
$node->safe_psql('postgres', q{DROP EXTENSION privacy_guard CASCADE; CREATE EXTENSION privacy_guard});
$node->psql('postgres', q{SELECT privacy_guard.verify_audit()}, stdout => \$out, stderr => \$err);
is($out, 'f', 'a dropped and recreated trail does not verify');
# before the new trail's first record: "replaced"; after it: the restart it records
like($err, qr/audit trail replaced|the previous trail \(table \d+\) ended at record \d+, hash \w+; it was dropped/,
	'and says it was replaced');

# A writer that does not move (stopped here with SIGSTOP): once the queue
# is full, every event fails after audit_wait_timeout instead of being
# dropped.
# the extension is the one recreated above, with no policy yet
create_policy($node, 'postgres', 'support', [ 'contact' ], extension => 0);
create_protected_table($node, 'postgres', 'r', 'v', 'contact',
	rows => q{VALUES (1, 'never-returned@example.com')});
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
my $writer = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'privacy_guard audit writer' AND datname = 'postgres'});
like($writer, qr/^\d+$/, 'the database has its audit writer');
kill 'STOP', $writer;
$node->psql('postgres', q{
	SELECT count(privacy_guard.audit_event('burst', 'recorded', 'burst ' || g, NULL)) FROM generate_series(1, 20000) g},
	stdout => \$out, stderr => \$err);
like($err, qr/privacy_guard audit trail is not keeping up: its queue is full/, 'a full queue fails closed');
like($err, qr/HINT:.*the audit writer of database "postgres"/, 'the hint names the database whose writer is behind');
$node->psql('postgres', q{SELECT privacy_guard.audit_flush()}, stdout => \$out, stderr => \$err);
like($err, qr/its writer did not confirm in time/, 'audit_flush() fails rather than pretend');
# a reveal that could not be recorded, retried in the same statement after
# catching the error, is refused again: no value without its record
$node->psql('postgres', q{
	DO $$
	DECLARE got text;
	BEGIN
		BEGIN
			got := (SELECT privacy_guard.reveal(v, 'support') FROM r);
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
		got := (SELECT privacy_guard.reveal(v, 'support') FROM r);
		RAISE NOTICE 'got %', got;
	END $$}, stdout => \$out, stderr => \$err);
like($err, qr/audit trail is not keeping up/, 'the retried reveal fails too');
unlike($err, qr/never-returned/, 'and returns nothing');
kill 'CONT', $writer;
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
# (the ring's last room kept for what transactions queue as they end; how
# many fit before depends on their sizes, at least 448 of the largest): the
# first N bursts, every one of them, and none after
is($node->safe_psql('postgres', q{
	SELECT count(*) BETWEEN 448 AND 19999 AND count(DISTINCT statement) = count(*)
	       AND max(substr(statement, 7)::int) = count(*)
	  FROM privacy_guard.audit_log WHERE event = 'burst'}),
	't', 'once it moves again, what was queued is written, and nothing that failed');

# A reveal whose opening record was queued but not confirmed in time
# returns nothing; the record may still be written once the writer moves,
# and its group's closing record then says nothing was delivered
kill 'STOP', $writer;
$node->psql('postgres', q{SELECT privacy_guard.reveal(v, 'support') FROM r},
	stdout => \$out, stderr => \$err);
like($err, qr/its writer did not confirm in time/, 'a reveal whose record is not confirmed in time fails');
unlike($out, qr/never-returned/, 'and returns nothing');
kill 'CONT', $writer;
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
is($node->safe_psql('postgres', q{
	SELECT string_agg(event || '/' || outcome, ',' ORDER BY id) FROM privacy_guard.audit_log
	 WHERE id > (SELECT max(id) FROM privacy_guard.audit_log WHERE event = 'burst')}),
	'reveal/revealed,reveal_end/not delivered', 'its group is closed as not delivered');

# The writer stopped, and its queue filled up to the room it keeps for what
# transactions queue as they end
sub stall_and_fill
{
	kill 'STOP', $writer;
	$node->psql('postgres', q{
		SELECT count(privacy_guard.audit_event('fill', 'recorded', 'fill ' || g, NULL)) FROM generate_series(1, 20000) g});
	return;
}

# The writer moving again, the queue emptied, then each session's next
# statement, which queues what it kept
sub resume_and_drain
{
	kill 'CONT', $writer;
	$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
	$_->query(q{SELECT 1}) foreach @_;
	$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
	return;
}

# How many of the subjects from..to have an event of this kind in their history
sub subjects_with
{
	my ($from, $to, $event, $times) = @_;
	my $cond = defined $times ? "= $times" : ">= 1";
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FROM generate_series($from, $to) g
		 WHERE (SELECT count(*) FROM privacy_guard.access_history(g::text) h WHERE h.event = '$event') $cond});
}

# A transaction that ends (here by an error) with the queue full, its
# room for finished transactions used up as well, cannot wait: the session
# keeps what it could not queue (a cursor's subjects, its group's closing
# record) and queues it before its next statement once there is room; none
# is dropped.  Subjects with key ids far apart, one event each, fill that
# room.
$node->safe_psql('postgres', q{
	DO $$ BEGIN
		FOR g IN 1000..2199 LOOP
			PERFORM setval('privacy_guard.keys_key_id_seq', nextval('privacy_guard.keys_key_id_seq') + 1100);
			INSERT INTO r VALUES (g, 'kept' || g || '@example.com');
		END LOOP;
	END $$});
my $fetcher = $node->background_psql('postgres', on_error_stop => 0);
$fetcher->query_safe(q{SELECT privacy_guard.set_purpose('support')});
$fetcher->query_safe(q{BEGIN});
$fetcher->query_safe(q{DECLARE c CURSOR FOR SELECT privacy_guard.reveal(v) FROM r WHERE id >= 1000 ORDER BY id});
is($fetcher->query_safe(q{FETCH 1 FROM c}), 'kept1000@example.com', 'a cursor returns its first value');
stall_and_fill();
my $log_at = -s $node->logfile;
$fetcher->query(q{FETCH ALL FROM c});
$fetcher->query(q{ROLLBACK});
my $log_now = substr(slurp_file($node->logfile), $log_at);
like($log_now, qr/statement: FETCH ALL FROM c\n.*\n.*ERROR:  privacy_guard audit trail is not keeping up: its queue is full/,
	'its next FETCH cannot queue its subjects: it fails');
like($log_now, qr/WARNING:  privacy_guard audit queue is full: this session keeps the events of its finished transaction/,
	'and the session keeps its transaction\'s events');
unlike($log_now, qr/was not recorded/, 'none dropped');
resume_and_drain($fetcher);
is(subjects_with(1000, 2199, 'reveal'), '1200', 'once the writer moves, the kept events are queued: every subject is recorded');
is($node->safe_psql('postgres', q{
	SELECT regexp_replace(statement, '^query -?[0-9]+', 'query') FROM privacy_guard.audit_log
	 WHERE event = 'reveal_end' ORDER BY id DESC LIMIT 1}),
	'query: 1200 values, 1200 subjects', 'and its group\'s closing record');
$fetcher->quit;

# A session that kept events once, then exits inside a transaction whose
# reveals' subjects are queued only at its end (a DO block's PL/pgSQL
# expressions, which run no query of their own), with
# the queue full: the transaction is aborted before the session's exit
# hook, not after it, so what that abort cannot queue is kept and queued as
# the session exits, once there is room
my $leaver = $node->background_psql('postgres', on_error_stop => 0);
$leaver->query_safe(q{SELECT privacy_guard.set_purpose('support')});
$leaver->query_safe(q{BEGIN});
$leaver->query_safe(q{DECLARE c CURSOR FOR SELECT privacy_guard.reveal(v) FROM r WHERE id >= 1000 ORDER BY id});
$leaver->query_safe(q{FETCH 1 FROM c});
stall_and_fill();
$leaver->query(q{FETCH ALL FROM c});
$leaver->query(q{ROLLBACK});
resume_and_drain($leaver);
$leaver->query(q{SET privacy_guard.audit_wait_timeout = 5000});
$leaver->query(q{BEGIN});
$leaver->query(q{
	DO $$ DECLARE all_v privacy_guard.encrypted_text[]; e privacy_guard.encrypted_text; got text; BEGIN
		SELECT array_agg(v ORDER BY id) INTO all_v FROM r WHERE id >= 1000;
		FOREACH e IN ARRAY all_v LOOP got := privacy_guard.reveal(e); END LOOP;
	END $$});
stall_and_fill();
system("(sleep 1.5; kill -CONT $writer) &");
$leaver->quit;
sleep(2);	# (the writer moves again after 1.5 s)
$node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND query LIKE '%DO $$ DECLARE all_v%'})
  or die 'the session did not exit';
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
is(subjects_with(1000, 2199, 'reveal', 3), '1200', 'a session exiting in a transaction, after it kept events once: its reveals are recorded as it exits');

# A search whose rows left before its statement failed, with the queue and
# its room for finished transactions full: its opening record (queued with
# its first subject when the run ends) and its other subjects are kept,
# and once queued the subjects name that record
create_protected_table($node, 'postgres', 'srch', 'email', 'contact', searchable => 1);
$node->safe_psql('postgres', q{
	DO $$ BEGIN
		FOR g IN 3000..3059 LOOP
			PERFORM setval('privacy_guard.keys_key_id_seq', nextval('privacy_guard.keys_key_id_seq') + 1100);
			INSERT INTO srch VALUES (g, 'shared@example.com');
		END LOOP;
	END $$});
my $filler = $node->background_psql('postgres', on_error_stop => 0);
my $searcher = $node->background_psql('postgres', on_error_stop => 0);
$filler->query_safe(q{SELECT privacy_guard.set_purpose('support')});
$filler->query_safe(q{BEGIN});
$filler->query_safe(q{DECLARE c CURSOR FOR SELECT privacy_guard.reveal(v) FROM r WHERE id >= 1000 ORDER BY id});
$filler->query_safe(q{FETCH 1 FROM c});
$searcher->query_safe(q{SELECT privacy_guard.set_purpose('support')});
stall_and_fill();
$filler->query(q{FETCH ALL FROM c});
$searcher->query(q{
	SELECT id, 1 / (id - 3059) FROM srch
	 WHERE email OPERATOR(privacy_guard.=) privacy_guard.blind_index('shared@example.com', 'contact') ORDER BY id});
$filler->query(q{ROLLBACK});
resume_and_drain($filler, $searcher);
is(subjects_with(3000, 3058, 'search'), '59', 'a kept search\'s subjects name its record once queued');
$filler->quit;
$searcher->quit;

# A session terminated while it waits to queue what it kept (its next event
# waits for room first): its exit queues them all the same
my $waiter = $node->background_psql('postgres', on_error_stop => 0);
$waiter->query_safe(q{SELECT privacy_guard.set_purpose('support')});
$waiter->query_safe(q{SET privacy_guard.audit_wait_timeout = 5000});
my $waiter_pid = $waiter->query_safe(q{SELECT pg_backend_pid()});
$waiter->query_safe(q{BEGIN});
$waiter->query_safe(q{
	DO $$ DECLARE all_v privacy_guard.encrypted_text[]; e privacy_guard.encrypted_text; got text; BEGIN
		SELECT array_agg(v ORDER BY id) INTO all_v FROM r WHERE id >= 1000;
		FOREACH e IN ARRAY all_v LOOP got := privacy_guard.reveal(e); END LOOP;
	END $$});
stall_and_fill();
$waiter->query(q{ROLLBACK});
$waiter->query_until(qr/started/, "\\echo started\nSELECT privacy_guard.set_purpose('support', 'waits for room');\n");
$node->poll_query_until('postgres',
	qq{SELECT wait_event IS NOT NULL FROM pg_stat_activity WHERE pid = $waiter_pid AND query LIKE '%waits for room%'})
  or die 'the session does not wait';
$node->safe_psql('postgres', "SELECT pg_terminate_backend($waiter_pid)");
kill 'CONT', $writer;
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $waiter_pid")
  or die 'the session did not exit';
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
is(subjects_with(1000, 2199, 'reveal', 5), '1200', 'a session terminated while it waited to queue what it kept: queued as it exits');
eval { $waiter->quit };	# (its psql ended with the connection)

# Audit log lines quote every name, and a name cannot forge a field: its
# quotes and line breaks become spaces
$node->safe_psql('postgres', q{ALTER SYSTEM SET privacy_guard.audit_log_lines = on; SELECT pg_reload_conf()});
$node->safe_psql('postgres', q{
	CREATE ROLE "x"" event=""forged
id=1";
	SELECT privacy_guard.grant_purpose('"x"" event=""forged
id=1"', 'support');
	SET ROLE "x"" event=""forged
id=1";
	SELECT privacy_guard.set_purpose('support', 'ticket 12');
	RESET ROLE;
	SELECT privacy_guard.audit_flush()});
my $log = slurp_file($node->logfile);
like($log, qr/privacy_guard audit: id=\d+ database="postgres" session_user="\w+" role="x  event= forged id=1" event="set_purpose" purpose="support" category="-" outcome="[^"]*" statement="ticket 12"/,
	'an audit log line quotes every name, with its quotes and line breaks made spaces');
unlike($log, qr/^id=1"/m, 'and a name starts no line of its own');

# Records removed from the end of a steady stream before the anchor caught
# up with them: the writer knows what it committed, and its next batch
# says so (the anchor alone, which lags, missed every such removal).
my $stream_script = $node->basedir . '/reveal_stream.sql';
PostgreSQL::Test::Utils::append_to_file($stream_script, "SELECT privacy_guard.reveal(v, 'support') FROM r;\n");
my $stream = IPC::Run::start(
	[ 'pgbench', '-n', '-T', '4', '-c', '2', '-f', $stream_script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \my $stream_out, '2>', \my $stream_err);
my ($cuts, $noticed) = (0, 0);
for (1 .. 25)
{
	my $markers = $node->safe_psql('postgres',
		q{SELECT count(*) FROM privacy_guard.audit_records WHERE event = 'trail_tampered'
		    AND statement ~ 'were removed \(this writer had committed them\)'});
	# the records the writer committed past the anchor (not its earlier markers)
	my $n = $node->safe_psql('postgres', q{
		BEGIN;
		LOCK TABLE privacy_guard.audit_records IN EXCLUSIVE MODE;
		WITH cut AS (DELETE FROM privacy_guard.audit_records
		              WHERE id > (SELECT last_id FROM privacy_guard.audit_anchor())
		                AND event <> 'trail_tampered' RETURNING 1)
		SELECT count(*) FROM cut;
		COMMIT;});
	next unless $n > 0;
	$cuts++;
	# the writer's next batch says so (a declared purpose makes one, should
	# the stream have ended just after the cut)
	for (1 .. 50)
	{
		$node->safe_psql('postgres', q{SELECT privacy_guard.set_purpose('support')});
		if ($node->safe_psql('postgres',
				q{SELECT count(*) FROM privacy_guard.audit_records WHERE event = 'trail_tampered'
				    AND statement ~ 'were removed \(this writer had committed them\)'}) > $markers)
		{
			$noticed++;
			last;
		}
		usleep(100_000);
	}
}
$stream->finish;
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
cmp_ok($cuts, '>', 0, 'records past the anchor were removed during the stream');
note("$cuts removals, $noticed noticed");
is($noticed, $cuts, 'each removal is recorded by the writer\'s next batch');
$node->psql('postgres', q{SELECT privacy_guard.verify_audit()}, stdout => \$out, stderr => \$err);
is($out, 'f', 'and verify_audit() reports the trail broken');

# A trigger on the trail makes the writer insert by statement (the trigger
# sees every row); the server log says why, once, not every batch
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.trail_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
	CREATE TRIGGER trail_noop AFTER INSERT ON privacy_guard.audit_records
		FOR EACH ROW EXECUTE FUNCTION public.trail_noop()});
my $log_offset = -s $node->logfile;
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', qq{
		SET ROLE "x"" event=""forged
id=1";
		SELECT privacy_guard.set_purpose('support', 'ticket 2$i');
		RESET ROLE;
		SELECT privacy_guard.audit_flush()});
}
my @said = (slurp_file($node->logfile, $log_offset) =~
	/privacy_guard audit writer inserts into "audit_records" by statement: it has triggers/g);
is(scalar(@said), 1, 'a trigger on the trail: the writer says once that it inserts by statement');
$node->safe_psql('postgres', q{DROP TRIGGER trail_noop ON privacy_guard.audit_records});

# What the trail says is on disk before anyone relies on it: with the WAL
# writer slowed down, an immediate stop (what a crash leaves on disk) keeps
# the records the anchor names, and the record of a value that was
# returned.  (A writer that committed batches nobody waits for without
# waiting for the disk fails both; docs/security.md, "Limits", says why it
# does not.)
$node->safe_psql('postgres', q{CREATE DATABASE durable});
create_policy($node, 'durable', 'support', [ 'contact' ]);
create_protected_table($node, 'durable', 't', 'email', 'contact',
	rows => q{VALUES (1, 'durable@example.com')});
$node->safe_psql('postgres', q{ALTER SYSTEM SET wal_writer_delay = '10s'});
$node->reload;
$node->safe_psql('durable', q{SELECT privacy_guard.set_purpose('support', 'anchored, then a crash')});
$node->poll_query_until('durable', q{
	SELECT a.last_id = (SELECT max(id) FROM privacy_guard.audit_records)
	   AND EXISTS (SELECT FROM privacy_guard.audit_records WHERE statement = 'anchored, then a crash')
	  FROM privacy_guard.audit_anchor() a})
  or die 'the anchor did not catch up';
$node->stop('immediate');
$node->start;
is($node->safe_psql('durable', q{SELECT count(*) FROM privacy_guard.audit_log WHERE statement = 'anchored, then a crash'}),
	'1', 'a record the anchor named survives a crash');
is($node->safe_psql('durable', q{SELECT privacy_guard.verify_audit()}), 't',
	'the anchor is never ahead of the trail on disk');
# (the anchor, written just before, is written again only 200 ms later: the
# reveal's record reaches the disk by the flush made for it, not that one)
my $reader = $node->background_psql('durable');
like($reader->query_safe(q{SELECT privacy_guard.set_purpose('support', 'anchored just before');
	SELECT privacy_guard.audit_flush(); SELECT privacy_guard.reveal(email, 'support') FROM t}),
	qr/durable\@example\.com/, 'a value is returned');
$node->stop('immediate');
$reader->quit;
$node->start;
is($node->safe_psql('durable', q{SELECT count(*) FROM privacy_guard.audit_log WHERE event = 'reveal' AND outcome = 'revealed'}),
	'1', 'its record was on disk before it left: it survives a crash right after');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET wal_writer_delay});
$node->reload;

$node->stop;
done_testing();

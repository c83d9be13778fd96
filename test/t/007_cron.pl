# Erasure and retention on a schedule: pg_cron runs process_erasures() and
# apply_retention() in background workers; a pending request is completed
# (and audited) and rows past their retention period are deleted, with no
# session of ours calling either.  pg_cron 1.4 schedules by the minute, so
# this waits for the next minute boundary (at most about a minute).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node) = keyring_node('cron', "1:" . ('7c' x 32) . "\n");
my $pkglibdir = $node->config_data('--pkglibdir');
plan skip_all => "pg_cron is not installed (no pg_cron.so in $pkglibdir; Debian: postgresql-15-cron)"
  unless -e "$pkglibdir/pg_cron.so";

$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'privacy_guard,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{CREATE EXTENSION privacy_guard; CREATE EXTENSION pg_cron});
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ], 'browsing' ],
	extension => 0);
create_protected_table($node, 'postgres', 'customers', 'email', 'contact',
	rows => q{VALUES (1, 'one@example.com'), (2, 'two@example.com')});
$node->safe_psql('postgres', q{
	CREATE TABLE page_views (customer_id int NOT NULL, url text, at timestamptz NOT NULL);
	INSERT INTO page_views VALUES (1, '/old', now() - interval '40 days'),
	                              (1, '/recent', now() - interval '1 day'),
	                              (2, '/two', now() - interval '1 day');
	SELECT privacy_guard.protect('page_views', 'url', 'browsing', 'customer_id');
	SELECT privacy_guard.set_retention('page_views', 'at', '30 days', 'delete');
});
my $request = $node->safe_psql('postgres', q{SELECT privacy_guard.request_erasure('2', 'scheduled')});

$node->safe_psql('postgres', q{
	SELECT cron.schedule('erasures', '* * * * *', 'SELECT privacy_guard.process_erasures()');
	SELECT cron.schedule('retention', '* * * * *', 'SELECT privacy_guard.apply_retention()');
});
is($node->safe_psql('postgres', q{SELECT string_agg(jobname || ' ' || schedule || ' ' || database, ',' ORDER BY jobname) FROM cron.job}),
	'erasures * * * * * postgres,retention * * * * * postgres', 'both jobs are scheduled every minute');

# Wait until each job has finished a run (pg_cron starts them at the next
# minute boundary), at most 100 seconds.
my $finished = q{
	SELECT count(DISTINCT d.jobid) FROM cron.job_run_details d
	 WHERE d.status IN ('succeeded', 'failed')};
my $deadline = time() + 100;
my $started = time();
while ($node->safe_psql('postgres', $finished) < 2)
{
	last if time() > $deadline;
	usleep(500_000);
}
note sprintf('the jobs finished after %d seconds', time() - $started);

is($node->safe_psql('postgres', q{
	SELECT string_agg(j.jobname || ':' || d.status, ',' ORDER BY j.jobname)
	  FROM cron.job j JOIN cron.job_run_details d ON d.jobid = j.jobid
	 WHERE d.runid IN (SELECT min(runid) FROM cron.job_run_details GROUP BY jobid)}),
	'erasures:succeeded,retention:succeeded', 'the first run of each job succeeded');

is($node->safe_psql('postgres', qq{SELECT status FROM privacy_guard.erasure_requests WHERE id = $request}),
	'completed', 'the erasure request was completed by pg_cron');
is($node->safe_psql('postgres', q{
	SELECT erased_at IS NOT NULL AND wrapped IS NULL FROM privacy_guard.keys WHERE kind = 'subject' AND name = '2'}),
	't', 'the subject\'s key is destroyed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customers WHERE id = 2}), '0', 'its customer row is deleted');
is($node->safe_psql('postgres', qq{
	SELECT c->'audit_record' IS NOT NULL FROM privacy_guard.erasure_certificate($request) c}),
	't', 'its certificate is in the audit chain');

is($node->safe_psql('postgres', q{SELECT string_agg(customer_id || ' ' || privacy_guard.reveal(url, 'support'), ',' ORDER BY at) FROM page_views}),
	'1 /recent', 'the page view past retention is deleted; the recent one stays; the erased subject\'s are gone');
$node->safe_psql('postgres', q{SELECT privacy_guard.audit_flush()});
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM privacy_guard.audit_log
	 WHERE event = 'retention' AND outcome = 'deleted' AND statement LIKE 'public.page_views: 1 rows older than 30 days %'}),
	'1', 'the scheduled retention is audited');
is($node->safe_psql('postgres', q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 1}),
	'one@example.com', 'the other customer is untouched');

$node->safe_psql('postgres', q{SELECT cron.unschedule('erasures'); SELECT cron.unschedule('retention')});
$node->stop;
done_testing();

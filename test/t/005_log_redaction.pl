# No plaintext in the server log: errors in statements that carried
# personal data are logged without their STATEMENT and CONTEXT lines, for
# errors of ours and of PostgreSQL itself, through INSERT, COPY and dynamic
# SQL.  A statement on an unprotected table still logs its text, which
# proves the log is being searched.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node) = start_keyring_node('redaction', "1:" . ('7a' x 32) . "\n", qq{
log_statement = none
log_min_error_statement = error
log_error_verbosity = default
log_lock_waits = on
restart_after_crash = on
deadlock_timeout = 200ms
privacy_guard.hide_error_statements = plaintext
});
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ], 'browsing' ]);
$node->safe_psql('postgres', q{
	CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE, profile jsonb);
	SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
	SELECT privacy_guard.protect('customers', 'profile', 'browsing', 'id');
	INSERT INTO customers VALUES (1, 'canary-one@example.com', '{}');
	CREATE TABLE plain_notes (id int PRIMARY KEY, note text);
	CREATE TABLE locks (id int PRIMARY KEY);
	INSERT INTO locks VALUES (1), (2);
});

my @attempts = (
	[ 'unique violation on the blind index',
	  q{INSERT INTO customers VALUES (2, 'canary-one@example.com', '{}')}, 'canary-one' ],
	[ 'bad value in an earlier column',
	  q{INSERT INTO customers VALUES ('not a number', 'canary-two@example.com', '{}')}, 'canary-two' ],
	[ 'malformed jsonb for a protected column',
	  q|INSERT INTO customers VALUES (3, 'x@example.com', '{"canary-three": ')|, 'canary-three' ],
	[ 'COPY with a malformed value',
	  qq|COPY customers FROM STDIN;\n4\tcanary-four\@example.com\t{"broken\n\\.\n|, 'canary-four' ],
	[ 'COPY with a duplicate',
	  qq|COPY customers FROM STDIN;\n5\tcanary-one\@example.com\t{"canary-five": 1}\n\\.\n|, 'canary-five' ],
	[ 'dynamic SQL',
	  q{DO $$ BEGIN EXECUTE format('INSERT INTO customers VALUES (6, %L, NULL)', 'canary-one@example.com'); END $$},
	  'canary-one' ],
	[ 'a reveal compared with a literal, refused',
	  q{SELECT id FROM customers WHERE privacy_guard.reveal(email, 'nope') = 'canary-six@example.com'}, 'canary-six' ],
);

# Run the attempts under a hiding mode; return the log they produced.
sub attempt
{
	my ($mode, @which) = @_;
	my $offset = -s $node->logfile;
	for my $a (@which)
	{
		my ($name, $sql) = @$a;
		my ($out, $err);
		$node->psql('postgres', "SET privacy_guard.hide_error_statements = $mode;\n$sql",
			stdout => \$out, stderr => \$err);
		isnt($err, '', "$name ($mode): fails");
	}
	# the control: an error on an unprotected table
	$node->psql('postgres', "SET privacy_guard.hide_error_statements = $mode;\n"
		. q{INSERT INTO plain_notes VALUES (1, 'control-note'), (1, 'control-note')});
	return substr(slurp_file($node->logfile), $offset);
}

# "plaintext": every path that handles personal data hides its statement;
# the control keeps its own, which proves the log is being searched.
my $bad_literal = splice(@attempts, 1, 1);
my $log = attempt('plaintext', @attempts);
for my $a (@attempts)
{
	my ($name, undef, $canary) = @$a;
	unlike($log, qr/\Q$canary\E/, "$name: no plaintext in the log");
}
like($log, qr/STATEMENT:.*control-note/, 'the control statement is logged, so the search works');

# A bad literal for an earlier column fails before anything knows the
# statement carries personal data: only "always" (the default) hides it.
$log = attempt('plaintext', $bad_literal);
like($log, qr/canary-two/, 'with "plaintext", a statement failing in parse analysis is logged (documented)');
$log = attempt('always', $bad_literal);
unlike($log, qr/canary-two/, 'with "always", it is not');
unlike($log, qr/control-note/, 'nor is any other statement\'s text');

# Messages that are not about the statement still carry it, or another
# session's, into the log.  Each scenario's victim writes a canary; the log
# must show the scenario happened, and never the canary.

# A deadlock's log detail quotes every process's statement: the attacker,
# whose own transaction handled no personal data, holds a row lock the
# victim needs, and is the one to detect the deadlock (it waits first).
my $offset = -s $node->logfile;
my $attacker = $node->background_psql('postgres');
my $victim = $node->background_psql('postgres');
$victim->query_safe(q{SET deadlock_timeout = '1min'; BEGIN; UPDATE locks SET id = id WHERE id = 1});
$attacker->query_safe(q{SET deadlock_timeout = '1s'; BEGIN; UPDATE locks SET id = id WHERE id = 2});
$attacker->query_until(qr/waiting/, "\\echo waiting\nUPDATE locks SET id = id WHERE id = 1;\n");
$victim->query_until(qr/waiting/, "\\echo waiting\n"
	. "WITH l AS (SELECT id FROM locks WHERE id = 2 FOR UPDATE) "
	. "INSERT INTO customers SELECT 7, 'canary-seven\@example.com', '{}' FROM l;\n");
$node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_locks WHERE NOT granted})
  or die 'the deadlock was not resolved';
eval { $attacker->quit };      # its psql exits on the deadlock error
$victim->quit;
my $log = substr(slurp_file($node->logfile), $offset);
like($log, qr/deadlock detected/, 'a deadlock was logged');
unlike($log, qr/canary-seven/, 'a deadlock detected by another session logs no statement of the victim');

# log_lock_waits: "still waiting" and "acquired" lines are logged at LOG,
# which log_min_error_statement = error follows with the statement.
$offset = -s $node->logfile;
my $holder = $node->background_psql('postgres');
$victim = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN; UPDATE locks SET id = id WHERE id = 2});
$victim->query_until(qr/waiting/, "\\echo waiting\n"
	. "WITH l AS (SELECT id FROM locks WHERE id = 2 FOR UPDATE) "
	. "INSERT INTO customers SELECT 8, 'canary-eight\@example.com', '{}' FROM l;\n");
$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_locks WHERE NOT granted})
  or die 'the victim did not wait';
sleep(1);                       # past deadlock_timeout: the wait is logged
$holder->query_safe('COMMIT');
$holder->quit;
$victim->quit;
$log = substr(slurp_file($node->logfile), $offset);
like($log, qr/still waiting for ShareLock/, 'a lock wait was logged');
unlike($log, qr/canary-eight/, 'a lock wait is logged without the waiting statement');

# A syntax error quotes the token where it failed, a literal here; only
# its SQLSTATE is logged (with "always": nothing can tell before parsing
# that the statement carries personal data).
$offset = -s $node->logfile;
$node->psql('postgres', q{SET privacy_guard.hide_error_statements = always;
	INSERT INTO customers VALUES (9 'canary-nine@example.com', '{}')});
$log = substr(slurp_file($node->logfile), $offset);
like($log, qr/SQLSTATE 42601 was not logged/, 'a syntax error was replaced by its SQLSTATE');
unlike($log, qr/canary-nine/, 'a syntax error quoting a literal is not logged');

# Statement logging prints the values of bind parameters after the
# statement: a write through pgbench's extended protocol, with every
# statement logged.  The statement is kept, the value is not.
$offset = -s $node->logfile;
my $script = $node->basedir . '/bind.sql';
open(my $fh, '>', $script) or die;
print $fh "INSERT INTO customers (id, email) VALUES (11, :email::text);\n";
close($fh);
{
	local $ENV{PGOPTIONS} = '-c log_min_duration_statement=0 -c log_statement=all';
	$node->command_ok([ 'pgbench', '-n', '-t', '1', '-M', 'prepared', '-f', $script,
		'-D', 'email=canary-eleven@example.com',
		'-h', $node->host, '-p', $node->port, 'postgres' ], 'pgbench writes through a bind parameter');
}
$log = substr(slurp_file($node->logfile), $offset);
like($log, qr/INSERT INTO customers \(id, email\) VALUES \(11, \$1::text\)/, 'the statement was logged');
like($log, qr/parameters: not logged by privacy_guard/, 'its parameters line was replaced');
unlike($log, qr/canary-eleven/, 'no bind parameter value is logged');

# The keyring goes missing: the backend logs why at LOG when it reloads,
# and that line too would carry the statement that needed a key.
$offset = -s $node->logfile;
my $keyfile = $node->basedir . '/keyring';
chmod(0644, $keyfile);
$node->reload;
$node->psql('postgres', q{INSERT INTO customers VALUES (10, 'canary-ten@example.com', '{}')});
chmod(0600, $keyfile);
$node->reload;
$log = substr(slurp_file($node->logfile), $offset);
like($log, qr/keyring is not available: keyring file/, 'the keyring outage was logged');
unlike($log, qr/canary-ten/, 'the keyring outage is logged without the statement that needed a key');

# More messages that carry a value past the STATEMENT line: each run in a
# mode, its log searched for its canary and for a sign it happened.
$node->safe_psql('postgres', q{
	INSERT INTO plain_notes VALUES (2, 'a note');
	CREATE VIEW recent_notes AS SELECT * FROM plain_notes WHERE id < 100 WITH CHECK OPTION;
});
my @more = (
	[ 'always', 'the QUERY line of dynamic SQL',
	  q{BEGIN READ ONLY; DO $$ BEGIN EXECUTE 'INSERT INTO plain_notes SELECT 9, ''canary-c1'''; END $$; ROLLBACK},
	  'canary-c1', qr/cannot execute INSERT in a read-only transaction/ ],
	# a value taken for a name, quoted as one in the message
	[ 'always', 'a value put into dynamic SQL as a name',
	  q{DO $$ BEGIN EXECUTE format('SELECT %I', 'canary-d1@example.com'); END $$},
	  'canary-d1', qr/SQLSTATE 42703 was not logged/ ],
	[ 'always', 'a value passed as a setting name',
	  q{SELECT current_setting('canary-d2@example.com')}, 'canary-d2', qr/SQLSTATE 42704 was not logged/ ],
	[ 'always', 'a value cast to regclass',
	  q{SELECT ('x.canary-d3@example.com'::text)::regclass}, 'canary-d3', qr/SQLSTATE 0A000 was not logged/ ],
	[ 'always', 'a value passed as a purpose',
	  q{SELECT privacy_guard.reveal(email, 'canary-d4@example.com') FROM customers},
	  'canary-d4', qr/SQLSTATE 42704 was not logged/ ],
	[ 'always', 'a WITH CHECK OPTION violation',
	  q{INSERT INTO recent_notes VALUES (500, 'canary-c2')}, 'canary-c2', qr/SQLSTATE 44000 was not logged/ ],
	[ 'always', 'a value written in double quotes',
	  q{INSERT INTO plain_notes VALUES (7, "canary-c3")}, 'canary-c3', qr/SQLSTATE 42703 was not logged/ ],
	# a query tree prints a text constant as its bytes, in decimal
	[ 'always', 'debug_print_parse',
	  q{SET debug_print_parse = on; SELECT 'canary-c4'::text},
	  join(' ', map { ord } split(//, 'canary-c4')), qr/not logged by privacy_guard/ ],
	[ 'plaintext', 'an error in a parallel worker of a transaction that handled personal data',
	  q{BEGIN; SELECT privacy_guard.seal('x'::text, 'contact', '1') IS NOT NULL;
		SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
		SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL parallel_leader_participation = off;
		SELECT id FROM plain_notes WHERE note = 'canary-c5' OR 1 / (id - id) = 0; ROLLBACK},
	  'canary-c5', qr/SQLSTATE 22012 was not logged/ ],
	[ 'plaintext', 'MERGE into a protected table',
	  q{MERGE INTO customers c USING (SELECT 12 AS id, 'canary-c6@example.com' AS e WHERE 1 / 0 = 0) s
		ON c.id = s.id WHEN NOT MATCHED THEN INSERT (id, email) VALUES (s.id, s.e)},
	  'canary-c6', qr/SQLSTATE 22012 was not logged/ ],
	# the stand-in names the relation of a logical replication worker's
	# error only; dynamic SQL's context, which quotes values, made to look
	# like one, is not read
	[ 'always', 'a value made to look like the name a stand-in gives',
	  q{DO $$ BEGIN EXECUTE format('INSERT INTO plain_notes VALUES (1, %L), (2 / 0, %L)',
			'for replication target relation "canary-c7', 'canary-c8'); END $$},
	  'canary-c', qr/SQLSTATE 22012 was not logged: its message may quote personal data\n/ ],
);
for my $m (@more)
{
	my ($mode, $name, $sql, $canary, $sign) = @$m;
	$offset = -s $node->logfile;
	$node->psql('postgres', "SET privacy_guard.hide_error_statements = $mode;\n$sql");
	$log = substr(slurp_file($node->logfile), $offset);
	like($log, $sign, "$name: logged");
	unlike($log, qr/\Q$canary\E/, "$name: without the value");
}

# The postmaster reports what a crashed backend was running.
$offset = -s $node->logfile;
my $doomed = $node->background_psql('postgres');
my $doomed_pid = $doomed->query_safe('SELECT pg_backend_pid()');
$doomed->query_until(qr/sleeping/, "\\echo sleeping\nSELECT pg_sleep(60), 'canary-c7'::text;\n");
$node->poll_query_until('postgres',
	"SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $doomed_pid")
  or die 'the backend did not start sleeping';
crash_backend($node, $doomed, $doomed_pid);
$log = substr(slurp_file($node->logfile), $offset);
like($log, qr/Failed process was running: \(not logged by privacy_guard\)/, 'a crash was logged');
unlike($log, qr/canary-c7/, 'without the statement the backend was running');

# The stand-in line of an error kept out of the log goes through the
# server's logging: with jsonlog it is a JSON record with its time, process,
# user and database, like any other.
$node->append_conf('postgresql.conf', "logging_collector = on\nlog_destination = 'stderr,jsonlog,csvlog'\nlog_directory = 'jlog'");
$node->restart;
$node->psql('postgres', q{SET privacy_guard.hide_error_statements = always; SELECT 'canary-j1@example.com'::regclass});
my $jdir = $node->data_dir . '/jlog';

# The collector's files of one format, once the stand-in line reached them.
sub collected
{
	my ($suffix) = @_;
	my $text = '';
	for my $try (1 .. 50)
	{
		opendir(my $dh, $jdir) or last;
		$text = join('', map { slurp_file("$jdir/$_") } grep { /\.$suffix$/ } readdir($dh));
		closedir($dh);
		last if $text =~ /was not logged/;
		sleep 0.1;
	}
	return $text;
}
my $json = collected('json');
like($json, qr/\{[^\n]*"timestamp":[^\n]*"user":"[^"]+","dbname":"postgres","pid":\d+[^\n]*"message":"privacy_guard: an error with SQLSTATE 3F000 was not logged/,
	'the stand-in is a jsonlog record with time, user, database and process');
unlike($json, qr/canary-j1/, 'and the value is not in it');
# and with csvlog, a CSV record: time, user, database, process id, ..., the message
my $csv = collected('csv');
like($csv, qr/^\d{4}-\d\d-\d\d [\d:.]+ \w+,"[^"]+","postgres",\d+,[^\n]*"privacy_guard: an error with SQLSTATE 3F000 was not logged/m,
	'the stand-in is a csvlog record with time, user, database and process');
unlike($csv, qr/canary-j1/, 'and the value is not in it either');

$node->stop;
done_testing();

# Real clients write through the binding and sealing triggers as they wrote
# plaintext before protect(): psycopg2 (client-side parameters, executemany,
# an upsert, COPY FROM STDIN, PREPARE/EXECUTE past the generic-plan
# threshold) and node-postgres (extended protocol, untyped and typed text
# parameters, a named prepared statement).  Both rewrite a row as they read
# it (accepted) and move its envelope to another subject (refused).
# Binary input too: node-postgres sends every Buffer as a binary parameter,
# and psycopg2 runs a binary COPY of plaintext rows; both are sealed, and an
# envelope read in binary goes back unchanged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $clients = "$FindBin::Bin/../clients";
# The test framework sets log_statement = all; PostgreSQL's default is none,
# and the clients run under it first; the last test turns the logging on.
my ($node) = start_keyring_node('clients', "1:" . ('5d' x 32) . "\n", "log_statement = none");
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ] ]);
create_protected_table($node, 'postgres', $_, 'email', 'contact', unique => 1, searchable => 1)
  for qw(py_customers js_customers js_logged);
$node->safe_psql('postgres', q{
	SELECT privacy_guard.define_category('document', 'personal', 'redact');
	SELECT privacy_guard.define_category('birth', 'personal', 'year');
	SELECT privacy_guard.allow('support', 'document');
	SELECT privacy_guard.allow('support', 'birth');
	CREATE TABLE js_docs (id int PRIMARY KEY, doc bytea);
	SELECT privacy_guard.protect('js_docs', 'doc', 'document', 'id');
	CREATE TABLE py_binary (id int PRIMARY KEY, email text, doc bytea, born date);
	SELECT privacy_guard.protect('py_binary', 'email', 'contact', 'id', searchable => true);
	SELECT privacy_guard.protect('py_binary', 'doc', 'document', 'id');
	SELECT privacy_guard.protect('py_binary', 'born', 'birth', 'id');
});

# Run a client; returns its output lines as a hash "name" => "result".
sub run_client
{
	my @cmd = @_;
	my ($out, $err) = run_command(\@cmd);
	note($err) if $err ne '';
	my %r = map { /^(.*?): (.*)$/ ? ($1, $2) : ($_, '') } split /\n/, $out;
	return \%r;
}

# Ids first .. last map to "<prefix><id>@example.com" except where $special says.
sub expected_reveals
{
	my ($first, $last, $prefix, $special) = @_;
	my %e;
	for my $id ($first .. $last)
	{
		my $p = ref($prefix) ? $prefix->($id) : $prefix;
		$e{"reveal $id"} = $special->{$id} // "$p$id\@example.com";
	}
	return %e;
}

my $refused = "23514 sealed value written to column \"email\" does not belong to the row's subject";

my $host = $node->host;
my $port = $node->port;
my $py = run_client('/usr/bin/python3', "$clients/psycopg2_writes.py",
	"host=$host port=$port dbname=postgres user=" . getpwuid($<), 'py_customers', 'email');
is_deeply($py, {
	rewrite => 'accepted',
	move => $refused,
	duplicate => '23505',
	expected_reveals(201, 230,
		sub { $_[0] <= 210 ? 'p' : $_[0] <= 220 ? 'copy' : 'prep' },
		{ 202 => 'changed@example.com', 203 => 'upserted@example.com' }),
}, 'psycopg2: every write path seals, a rewrite is accepted, a move refused');

$ENV{PGUSER} = getpwuid($<);
$ENV{NODE_PATH} = "$clients/node_modules";
my $js = run_client('node', "$clients/node_writes.js", $host, $port, 'postgres', 'js_customers', 'email');
is_deeply($js, {
	rewrite => 'accepted',
	move => $refused,
	search => '305',
	'typed search' => '307',
	'prepared search' => '306',
	'upsert across subjects' => 'accepted',
	expected_reveals(301, 312, 'n',
		{ 302 => 'changed@example.com', 303 => 'upserted@example.com', 312 => 'typed@example.com' }),
}, 'node-postgres: every write path seals, a rewrite is accepted, a move refused, a search by parameter finds its row');
# each search by a driver's parameter is one record naming the row it
# returned (an index scan checks its condition again on it: still one search)
$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM privacy_guard.access_history('305') WHERE event = 'search') || ',' ||
	       (SELECT count(*) FROM privacy_guard.access_history('306') WHERE event = 'search') || ',' ||
	       (SELECT count(*) FROM privacy_guard.audit_records WHERE event = 'search_end')}),
	'1,7,0', 'node-postgres: one search record a search by parameter, naming its row');

# binary parameters: a Buffer is plaintext bytes, sealed as text parameters are
my $jsb = run_client('node', "$clients/node_binary.js", $host, $port, 'postgres', 'js_docs');
is_deeply($jsb, {
	rewrite => 'unchanged',
	'reveal 1' => 'sealed1: 0001feff41',
	'reveal 2' => 'sealed1: 7f00',
	'reveal 3' => 'sealed1: ' . unpack('H*', 'upserted'),
	'reveal 4' => 'sealed1: ',
	'reveal 5' => 'sealed1: 01050000',
}, 'node-postgres: Buffers sent in binary are sealed, an envelope read back in binary is kept');

# binary COPY of plaintext rows
my $pyb = run_client('/usr/bin/python3', "$clients/psycopg2_binary_copy.py",
	"host=$host port=$port dbname=postgres user=" . getpwuid($<), 'py_binary');
is_deeply($pyb, {
	'bad row' => '08P01',
	'reveal 401' => 'sealed1: bin401@example.com 000102 1980-03-04',
	'reveal 402' => 'sealed1: bin402@example.com ff 2001-12-31',
}, 'psycopg2: a binary COPY of plaintext rows is sealed; a malformed field is refused');

# nothing the clients wrote stayed unsealed, nothing was half-written
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE email::text NOT LIKE 'sealed1:%'), count(*)
	FROM (SELECT email FROM py_customers UNION ALL SELECT email FROM js_customers) v}),
	'0|42', 'all 42 rows are sealed and no rolled-back row remains');

# Logging every statement prints an unsealed parameter as a placeholder
# (never its plaintext, never an error), so writes go on with it.
$node->append_conf('postgresql.conf', 'log_statement = all');
$node->reload;
my $log_offset = -s $node->logfile;
my $logged = run_client('node', "$clients/node_writes.js", $host, $port, 'postgres', 'js_logged', 'email');
is($logged->{'reveal 301'}, 'n301@example.com', 'node-postgres writes with log_statement = all');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/cannot output/, 'no parameter failed to print');

$node->stop;
done_testing();

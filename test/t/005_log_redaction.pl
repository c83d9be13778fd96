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
privacy_guard.hide_error_statements = plaintext
});
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ], 'browsing' ]);
$node->safe_psql('postgres', q{
	CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE, profile jsonb);
	SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
	SELECT privacy_guard.protect('customers', 'profile', 'browsing', 'id');
	INSERT INTO customers VALUES (1, 'canary-one@example.com', '{}');
	CREATE TABLE plain_notes (id int PRIMARY KEY, note text);
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

$node->stop;
done_testing();

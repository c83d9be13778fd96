# The policy document validator under random documents.  load_policy() is
# PL/pgSQL (no libFuzzer harness can hold it), so documents are mutated
# here, from a real export, with a fixed seed: keys dropped, values of the
# wrong type, very long and odd strings, deep nesting, entries duplicated.
# Every document is loaded as the administrator would load it.  Each one
# must either load or be refused with a clear SQLSTATE (never an internal
# error, never a crash), and the policy must always be exactly one of the
# documents: after a refusal, unchanged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $documents = $ENV{PGUARD_POLICY_FUZZ_DOCS} // 1500;
my ($node) = start_keyring_node('policy_fuzz', "1:" . ('5e' x 32) . "\n");
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ], [ 'address', 'personal', 'address' ] ]);
$node->safe_psql('postgres', q{
	SELECT privacy_guard.define_purpose('newsletter', requires_consent => true);
	SELECT privacy_guard.allow('newsletter', 'contact', 'masked');
	CREATE ROLE clerk;
	SELECT privacy_guard.grant_purpose('clerk', 'newsletter');
	CREATE TABLE customers (id int PRIMARY KEY, email text, placed_at timestamptz);
	SELECT privacy_guard.protect('customers', 'email', 'contact', 'id');
	SELECT privacy_guard.set_retention('customers', 'placed_at', '2 years', 'delete');
});
my $json = JSON::PP->new->canonical;
my $base = $json->decode($node->safe_psql('postgres', 'SELECT privacy_guard.export_policy()'));

srand(20261130);
my @odd = ('', ' ', 'x' x 5000, "\x{2603}", "a\"b", "a'b", 'NULL', '-1', '1e309', "tab\there",
	'ALL', 'public', 'pg_catalog', 'privacy_guard', 'incident_response', 'CONTACT', '0', 'true');

sub random_value
{
	my ($depth) = @_;
	my $r = int(rand(9));
	return undef if $r == 0;
	return $odd[ int(rand(@odd)) ] if $r <= 2;
	return int(rand(2**31)) * (rand() < 0.5 ? -1 : 1) if $r == 3;
	return rand() < 0.5 ? JSON::PP::true : JSON::PP::false if $r == 4;
	return 1.5e300 if $r == 5;
	return [ map { random_value($depth + 1) } 1 .. int(rand(3)) ] if $r == 6 && $depth < 6;
	return { map { ($odd[ int(rand(@odd)) ] => random_value($depth + 1)) } 1 .. int(rand(3)) }
	  if $r == 7 && $depth < 6;
	return 'support';
}

# Change one thing somewhere in a copy of the document.
sub mutate
{
	my ($node_ref, $depth) = @_;
	if (ref $node_ref eq 'HASH' && %$node_ref)
	{
		my @keys = sort keys %$node_ref;
		my $k = $keys[ int(rand(@keys)) ];
		my $r = rand();
		if ($r < 0.15) { delete $node_ref->{$k}; return; }
		if ($r < 0.25) { $node_ref->{ $odd[ int(rand(@odd)) ] } = random_value($depth); return; }
		if ($r < 0.45 || !ref $node_ref->{$k}) { $node_ref->{$k} = random_value($depth); return; }
		return mutate($node_ref->{$k}, $depth + 1);
	}
	if (ref $node_ref eq 'ARRAY' && @$node_ref)
	{
		my $i = int(rand(@$node_ref));
		my $r = rand();
		if ($r < 0.15) { splice(@$node_ref, $i, 1); return; }
		if ($r < 0.3) { push @$node_ref, $json->decode($json->encode([ $node_ref->[$i] ]))->[0]; return; }
		if ($r < 0.45 || !ref $node_ref->[$i]) { $node_ref->[$i] = random_value($depth); return; }
		return mutate($node_ref->[$i], $depth + 1);
	}
	return;
}

# All documents through one session, each in its own statement.
my $sql = "\\set VERBOSITY sqlstate\n";
my @docs;
for my $n (1 .. $documents)
{
	my $doc = $json->decode($json->encode($base));
	mutate($doc, 0) for 1 .. 1 + int(rand(3));
	my $text = $json->encode($doc);
	push @docs, $text;
	$sql .= "SELECT 'doc $n ' || CASE WHEN privacy_guard.load_policy(\$pgfz\$$text\$pgfz\$) IS NOT NULL THEN 'loaded' END;\n";
}
$sql .= "SELECT 'end';\n";
my ($out, $err) = ('', '');
$node->psql('postgres', $sql, stdout => \$out, stderr => \$err, on_error_stop => 0);

my $loaded = () = $out =~ /^doc \d+ loaded$/mg;
my @states = $err =~ /^(?:psql:[^\n]*?)?ERROR:\s+([0-9A-Z]{5})/mg;
my %by_state;
$by_state{$_}++ for @states;
note("documents: $documents, loaded: $loaded, refused: " . scalar(@states) . ' ('
	  . join(', ', map { "$_ x$by_state{$_}" } sort keys %by_state) . ')');
like($out, qr/^end$/m, 'the session survived every document');
is($loaded + scalar(@states), $documents, 'every document either loaded or was refused');
ok(!grep({ /^XX/ } @states), 'no internal error');
ok(scalar(@states) > $documents / 4, 'the mutations were refused often enough to be testing the validator');
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'no backend crashed');

# The policy is whole: it exports, and loading its export changes nothing.
my $now = $node->safe_psql('postgres', 'SELECT privacy_guard.export_policy()');
is($node->safe_psql('postgres',
	"SELECT privacy_guard.load_policy(\$pgfz\$$now\$pgfz\$)->'changes' = '[]'::jsonb OR privacy_guard.load_policy(\$pgfz\$$now\$pgfz\$) IS NOT NULL"),
	't', 'the policy left behind exports and loads back');
is($node->safe_psql('postgres', 'SELECT privacy_guard.verify_audit()'), 't', 'the audit trail verifies');

$node->stop;
done_testing();

# pgaudit beside privacy_guard (shared_preload_libraries = 'pgaudit,privacy_guard',
# pgaudit.log = 'all', pgaudit.log_parameter = on): pgaudit still logs every
# statement the application runs, but not the extension's own statements
# (wrapped data keys, the audit writer's inserts), and its line for a
# statement that reads or writes a protected table leaves the statement and
# its parameters out, since they may carry plaintext.  A statement that
# touches no protected table is logged whole.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my ($node, $keyfile) = start_keyring_node('pgaudit', "1:" . ('6e' x 32) . "\n", q{
shared_preload_libraries = 'pgaudit,privacy_guard'
pgaudit.log = 'all'
pgaudit.log_parameter = on
pgaudit.log_relation = on
log_statement = none
});
$node->safe_psql('postgres', 'CREATE EXTENSION pgaudit');
create_policy($node, 'postgres', 'support', [ [ 'contact', 'personal', 'email' ] ]);
create_protected_table($node, 'postgres', 'customers', 'email', 'contact', unique => 1, searchable => 1);
$node->safe_psql('postgres', 'CREATE TABLE notes (id int, body text)');
$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');

my $offset = -s $node->logfile;
# a literal, a prepared statement executed in a later transaction, a search, a reveal
$node->safe_psql('postgres', q{
INSERT INTO customers VALUES (1, 'ada.lovelace@example.com');
PREPARE add_customer(int, text) AS INSERT INTO customers VALUES ($1, $2);
EXECUTE add_customer(2, 'grace.hopper@example.com');
SELECT privacy_guard.set_purpose('support');
SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) 'grace.hopper@example.com';
SELECT privacy_guard.reveal(email) FROM customers ORDER BY id;
INSERT INTO notes VALUES (42, 'a note about nobody');
});
# the extended protocol: values sent as bind parameters
my $script = $node->basedir . '/write.pgb';
append_to_file($script, "INSERT INTO customers VALUES (3, 'katherine.johnson\@example.com');\n"
	. "\\set id 4\nINSERT INTO customers VALUES (:id, 'dorothy.vaughan' || :id || '\@example.com');\n");
$node->command_ok([ 'pgbench', '-n', '-t', '1', '-M', 'prepared', '-f', $script, '-h', $node->host,
	'-p', $node->port, 'postgres' ], 'pgbench writes through prepared statements');
$node->safe_psql('postgres', 'SELECT privacy_guard.audit_flush()');

# plaintext handed to the extension's functions, in every statement form
# pgaudit prints (found by an outside review): literals to seal() and
# blind_index(), a prepared search, DO and CALL, DECLARE, CREATE TABLE AS,
# EXPLAIN, a wrapper function of the application's
$node->safe_psql('postgres', q{
CREATE FUNCTION wrap_term(v text) RETURNS bytea LANGUAGE sql AS $$ SELECT privacy_guard.blind_index(v, 'contact') $$;
CREATE PROCEDURE find_customer(v text) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM id FROM customers WHERE email OPERATOR(privacy_guard.=) privacy_guard.blind_index(v, 'contact');
END $$;
});
$node->safe_psql('postgres', q{
SELECT privacy_guard.set_purpose('support');
SELECT privacy_guard.seal('leak1.seal@example.com'::text, 'contact', '9');
SELECT privacy_guard.blind_index('leak2.term@example.com', 'contact');
PREPARE term(text) AS SELECT privacy_guard.blind_index($1, 'contact');
EXECUTE term('leak3.execute@example.com');
DO $$ BEGIN PERFORM privacy_guard.blind_index('leak4.do@example.com', 'contact'); END $$;
CALL find_customer('leak5.call@example.com');
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) privacy_guard.blind_index('leak6.cursor@example.com', 'contact');
COMMIT;
CREATE TEMP TABLE t AS SELECT privacy_guard.blind_index('leak7.ctas@example.com', 'contact') AS x;
EXPLAIN SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) 'leak8.explain@example.com';
SELECT wrap_term('leak9.wrapper@example.com');
});

# a master key rotation: every key re-wrapped, none of them in the log
append_to_file($keyfile, "2:" . ('7f' x 32) . "\n");
$node->reload;
is($node->safe_psql('postgres', 'SELECT privacy_guard.rotate_master_key() > 0'), 't', 'a master key rotation re-wraps the keys');
my @wrapped = split /\n/, $node->safe_psql('postgres',
	q{SET pgaudit.log = 'none'; SELECT encode(wrapped, 'hex') FROM privacy_guard.keys});

is($node->safe_psql('postgres', q{
	SELECT privacy_guard.set_purpose('support');
	SELECT string_agg(privacy_guard.reveal(email), ' ' ORDER BY id) FROM customers}),
	"support\nada.lovelace\@example.com grace.hopper\@example.com katherine.johnson\@example.com dorothy.vaughan4\@example.com",
	'every write went through, sealed');

my $log = slurp_file($node->logfile, $offset);
my @audit = grep { /AUDIT: / } split /\n/, $log;
note(join("\n", @audit));
ok(scalar(grep { /WRITE,INSERT/ } @audit) >= 4, 'pgaudit logs the application\'s inserts');
ok(scalar(grep { /READ,SELECT/ } @audit) >= 2, 'and its reads');
unlike($log, qr/ada\.lovelace|grace\.hopper|katherine\.johnson|dorothy\.vaughan/,
	'no plaintext in the log: literals, EXECUTE\'s arguments, bind parameters');
unlike($log, qr/leak\d\./, 'nor what seal(), blind_index(), DO, CALL, DECLARE, CREATE TABLE AS, EXPLAIN and a wrapper were given');
ok(!grep({ my $w = substr($_, 0, 24); index($log, $w) >= 0 } @wrapped), 'nor any wrapped key after a rotation');
unlike(join("\n", @audit), qr/privacy_guard\.(keys|master_key_checks|audit_records|audit_subjects)/,
	'nor the extension\'s own statements (wrapped keys, the audit writer\'s inserts)');
like(join("\n", @audit), qr/WRITE,INSERT,TABLE,public\.customers,<not logged by privacy_guard>,<not logged>/,
	'a write to a protected table is logged without its statement and parameters');
like(join("\n", @audit), qr/INSERT INTO notes VALUES \(42, 'a note about nobody'\)/,
	'a statement that touches no protected table is logged whole');
# the first INSERT of a new subject: its line and its CHECK's function call,
# not the eleven lines (keys, master key check, the writer's inserts) of before
my ($pid) = map { /\[(\d+)\]/ } grep { /WRITE,INSERT,TABLE,public\.customers/ } @audit;
is(scalar(grep { /\[$pid\].*AUDIT: SESSION,1,/ } @audit), 2, 'one INSERT of a new subject: two lines, not eleven');

$node->stop;
done_testing();

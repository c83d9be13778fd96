# The keyring: refused files (permissions, owner, malformed lines, short
# keys, duplicate versions), a server that starts without a usable keyring,
# reload, keyring_command, and no key material in any log line or message.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $k1 = 'a1' x 32;
my $k2 = 'b2' x 32;

# A missing keyring (no keyring file yet) does not stop the server.
my ($node, $keyfile) = start_keyring_node('keyring', undef);
ok(1, 'server starts with a missing keyring');
like(slurp_file($node->logfile), qr/privacy_guard keyring is not available: could not open keyring file/,
	'the missing keyring is logged at start');

# sealing needs no grant: the purpose is granted below, with the table
create_policy($node, 'postgres', 'support', [ 'contact' ], grant => 0);

# Each broken keyring: the operation fails with the reason, never the key.
sub seal_error
{
	my ($stderr);
	$node->psql('postgres', q{SELECT privacy_guard.seal('x'::text, 'contact', 's1')},
		stderr => \$stderr);
	return $stderr;
}

sub reload_and_check
{
	my ($content, $mode, $pattern, $name) = @_;
	write_keyring($keyfile, $content, $mode);
	$node->reload;
	my $err = seal_error();
	like($err, $pattern, $name);
	unlike($err, qr/a1a1|b2b2|A1A1/i, "$name: no key material in the message");
}

reload_and_check("1:$k1\n", 0644, qr/group or world access/, 'a world-readable keyring is refused');
reload_and_check("1:$k1\n", 0640, qr/group or world access/, 'a group-readable keyring is refused');
reload_and_check("# comment\n1:$k1\n2\n", 0600, qr/keyring file ".*" line 3: expected VERSION:HEX/,
	'a malformed line is refused, naming the line');
reload_and_check("1:" . substr($k1, 0, 62) . "\n", 0600, qr/line 1: key must be 64 hexadecimal digits/,
	'a short key is refused');
reload_and_check("1:${k1}ff\n", 0600, qr/line 1: key must be 64 hexadecimal digits/,
	'a long key is refused');
reload_and_check("1:$k1\n1:$k2\n", 0600, qr/line 2: duplicate key version 1/,
	'a duplicate version is refused');
reload_and_check("1:" . ('zz' x 32) . "\n", 0600, qr/line 1: key is not hexadecimal/,
	'a non-hex key is refused');
reload_and_check("0:$k1\n", 0600, qr/line 1: version must be an integer/,
	'version 0 is refused');
reload_and_check("", 0600, qr/holds no keys/, 'an empty keyring is refused');
reload_and_check("1:$k1\n", 0600, qr/^$/, 'a good keyring is accepted after reload');

# The keyring is read again by a running session after a reload.
my $sealed = $node->safe_psql('postgres',
	q{SELECT privacy_guard.seal('kept secret'::text, 'contact', 's1')});
like($sealed, qr/^sealed1:/, 'sealing works with a good keyring');

# A second version: the highest one wraps new keys.
write_keyring($keyfile, "1:$k1\n2:$k2\n");
$node->reload;
$node->safe_psql('postgres', q{SELECT privacy_guard.seal('y'::text, 'contact', 's2')});
is($node->safe_psql('postgres',
	q{SELECT string_agg(name || '=' || master_version, ',' ORDER BY name) FROM privacy_guard.keys WHERE kind = 'subject'}),
	's1=1,s2=2', 'the highest version wraps new keys');

# Owned by another user: only testable as root, which the test never is.

# keyring_command supplies the same format; both settings together are refused.
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_command = 'cat $keyfile'});
$node->reload;
like(seal_error(), qr/both privacy_guard.keyring_file and privacy_guard.keyring_command are set/,
	'setting both is refused');
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_file = ''});
$node->reload;
is(seal_error(), '', 'keyring_command alone works');
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_command = 'false'});
$node->reload;
like(seal_error(), qr/keyring_command failed with exit status 1/, 'a failing command is reported');
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_command = 'echo 1:abc'});
$node->reload;
like(seal_error(), qr/keyring_command output line 1: key must be 64/, 'bad command output names the line');
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_command = 'yes 1:ffff'});
$node->reload;
like(seal_error(), qr/keyring_command printed more than 262144 bytes/,
	'a command printing too much is reported as such, not by its exit status');

# A command that hangs: killed after keyring_command_timeout, never in the
# way of the server's start, and a cancelled wait kills it at once.
$node->append_conf('postgresql.conf',
	qq{privacy_guard.keyring_command = 'sleep 3599'\nprivacy_guard.keyring_command_timeout = 1});
$node->reload;
like(seal_error(), qr/keyring_command did not finish within 1 seconds/,
	'a hanging command is killed after the timeout');
$node->restart;
ok(1, 'the server starts while the keyring command would hang');
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_command_timeout = 600});
$node->reload;
my $waiter = $node->background_psql('postgres', on_error_stop => 0);
$waiter->query_until(qr/started/, "\\echo started\nSELECT privacy_guard.seal('x'::text, 'contact', 's1');\n");
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'SELECT privacy_guard.seal(%'})
  or die 'the waiting session did not start';
sleep(1) until system('pgrep -f "sleep 359[9]" >/dev/null') == 0;
$node->safe_psql('postgres',
	q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT privacy_guard.seal(%'});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE 'SELECT privacy_guard.seal(%' AND state = 'active'})
  or die 'the cancelled session still waits';
ok(1, 'a session waiting for the keyring command can be cancelled');
my $gone = 0;
for (1 .. 50)
{
	if (system('pgrep -f "sleep 359[9]" >/dev/null') != 0) { $gone = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($gone, 'and the command it waited for was killed');
$waiter->quit;

# Ordinary roles cannot see the settings.
$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
my ($out, $err);
$node->psql('postgres', 'SHOW privacy_guard.keyring_command', extra_params => [ '-U', 'plain' ],
	stdout => \$out, stderr => \$err);
like($err, qr/permission denied|must be superuser|privileges of pg_read_all_settings/, 'SHOW is refused to ordinary roles');

# Only a superuser's session sees the reason, which names the keyring file:
# not an administrator in the extension's SECURITY DEFINER functions, nor
# one whose key lookup reads the keys as the extension's owner, nor a client
# asking for LOG messages.
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_command = ''\nprivacy_guard.keyring_file = '$keyfile'});
write_keyring($keyfile, "1:$k1\n", 0644);
$node->reload;
$node->safe_psql('postgres', 'CREATE ROLE keyadmin LOGIN IN ROLE privacy_guard_admin');
foreach my $call ('SELECT privacy_guard.rotate_master_key()',
	q{SELECT privacy_guard.seal('x'::text, 'contact', 's9')})
{
	$node->psql('postgres', "SET client_min_messages = log; $call",
		extra_params => [ '-U', 'keyadmin' ], stderr => \$err);
	like($err, qr/keyring is not available.*The server log has the reason/s,
		"$call: an administrator is told the keyring is not available");
	unlike($err, qr/\Q$keyfile\E|group or world access/, "$call: without the reason, which names the file");
}
write_keyring($keyfile, "1:$k1\n2:$k2\n");
$node->reload;

# Nor to another role's code that a superuser's session runs as that role:
# erasure runs a table owner's trigger (as the owner), which can read the
# detail of an error it caught.
$node->safe_psql('postgres', q{
	CREATE ROLE trapper;
	CREATE TABLE trap_rows (id text PRIMARY KEY, v text);
	CREATE TABLE trap_other (id text PRIMARY KEY, v text);
	CREATE TABLE trap_loot (detail text);
	SELECT privacy_guard.protect('trap_rows', 'v', 'contact', 'id');
	SELECT privacy_guard.protect('trap_other', 'v', 'contact', 'id');
	ALTER TABLE trap_rows OWNER TO trapper;
	ALTER TABLE trap_other OWNER TO trapper;
	ALTER TABLE trap_loot OWNER TO trapper;
	CREATE FUNCTION trap() RETURNS trigger LANGUAGE plpgsql AS $$
	DECLARE
		d text;
	BEGIN
		INSERT INTO public.trap_other VALUES ('someone new', 'y');
		RETURN OLD;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
		INSERT INTO public.trap_loot VALUES (d);
		RETURN OLD;
	END $$;
	ALTER FUNCTION trap() OWNER TO trapper;
	CREATE TRIGGER trap BEFORE DELETE ON trap_rows FOR EACH ROW EXECUTE FUNCTION trap();
	INSERT INTO trap_rows VALUES ('s7', 'to be erased');
	SELECT privacy_guard.request_erasure('s7');
});
write_keyring($keyfile, "1:$k1\n2:$k2\n", 0644);
$node->reload;
$node->safe_psql('postgres', 'SELECT privacy_guard.process_erasures()');
write_keyring($keyfile, "1:$k1\n2:$k2\n");
$node->reload;
my $loot = $node->safe_psql('postgres', 'SELECT string_agg(detail, \'; \') FROM trap_loot');
like($loot, qr/The server log has the reason/, 'the trigger caught the keyring error during the erasure');
unlike($loot, qr/\Q$keyfile\E|group or world access/, 'the owner\'s trigger did not read the keyring\'s path');

# A restart with a good keyring: sealed data still reveals.
$node->append_conf('postgresql.conf', qq{privacy_guard.keyring_command = ''\nprivacy_guard.keyring_file = '$keyfile'});
$node->reload;
$node->safe_psql('postgres', q{
	SELECT privacy_guard.grant_purpose(current_user::regrole, 'support');
	CREATE TABLE t (id text PRIMARY KEY, v text);
	SELECT privacy_guard.protect('t', 'v', 'contact', 'id');
	INSERT INTO t VALUES ('s1', 'survives restart');
});
$node->restart;
is($node->safe_psql('postgres', q{SELECT privacy_guard.reveal(v, 'support') FROM t}),
	'survives restart', 'sealed data reveals after a restart');

# Never a key in the server log.
my $log = slurp_file($node->logfile);
unlike($log, qr/a1a1a1|b2b2b2/i, 'no key material in the server log');

$node->stop;
done_testing();

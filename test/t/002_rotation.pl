# Master key rotation: re-wrap every data key under the newest version
# without touching table data; afterwards the old version can be removed
# from the keyring and everything still reveals.  Without rotation, removing
# the old version makes its keys unusable, with a clear error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $k1 = '11' x 32;
my $k2 = '22' x 32;
my ($node, $keyfile) = start_keyring_node('rotation', "1:$k1\n");
create_policy($node, 'postgres', 'support', [ 'contact' ]);
create_protected_table($node, 'postgres', 't', 'email', 'contact',
	unique => 1, searchable => 1,
	rows => q{SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 200) g});
my $before = envelope_digest($node, 'postgres', 't', 'email');

write_keyring($keyfile, "1:$k1\n2:$k2\n");
$node->reload;
is($node->safe_psql('postgres', 'SELECT privacy_guard.rotate_master_key()'), '201',
	'rotation re-wraps 200 data keys and 1 blind-index key');
is($node->safe_psql('postgres', 'SELECT privacy_guard.rotate_master_key()'), '0',
	'a second rotation has nothing left to do');
is(envelope_digest($node, 'postgres', 't', 'email'), $before, 'table data was not rewritten');

# Retire version 1.
write_keyring($keyfile, "2:$k2\n");
$node->reload;
$node->restart;    # no cached keys: everything is unwrapped again
is($node->safe_psql('postgres', q{SELECT count(privacy_guard.reveal(email, 'support')) FROM t}),
	'200', 'every value reveals with only version 2 in the keyring');
is(query_with_purpose($node, 'postgres', 'support',
		q{SELECT id FROM t WHERE email OPERATOR(privacy_guard.=) privacy_guard.blind_index('user7@example.com', 'contact')}),
	'7', 'the blind index still matches');

# A key still wrapped under a version that was removed fails clearly.
write_keyring($keyfile, "2:$k2\n3:" . ('33' x 32) . "\n");
$node->reload;
$node->safe_psql('postgres', q{INSERT INTO t VALUES (999, 'late@example.com')});
write_keyring($keyfile, "2:$k2\n");
$node->restart;
my ($out, $err);
$node->psql('postgres', q{SELECT privacy_guard.reveal(email, 'support') FROM t WHERE id = 999},
	stdout => \$out, stderr => \$err);
like($err, qr/master key version 3 is not in the keyring/, 'a retired version is named in the error');
unlike($err, qr/3333/, 'and no key material');

# Each version's key is checked against the check value recorded when the
# version first wrapped a key: a wrong key for a version (a typo, a vault
# returning another secret) wraps nothing and is named.
my $k3 = '33' x 32;
my $k4 = '44' x 32;
is($node->safe_psql('postgres',
	q{SELECT string_agg(master_version || ':' || keys || ':' || can_retire, ',') FROM privacy_guard.master_key_versions()}),
	'1:0:false,2:201:false,3:1:false', 'master_key_versions() counts the keys each version wraps');
write_keyring($keyfile, "2:$k2\n3:" . ('3f' x 32) . "\n");
$node->reload;
$node->psql('postgres', q{INSERT INTO t VALUES (1000, 'wrong-key@example.com')}, stderr => \$err);
like($err, qr/master key version 3 in the keyring is not the key first used as version 3/,
	'a wrong key for a known version wraps no new key');
unlike($err, qr/3f3f|3333/, 'and the error shows no key material');
$node->psql('postgres', q{SELECT privacy_guard.reveal(email, 'support') FROM t WHERE id = 999},
	stderr => \$err);
like($err, qr/master key version 3 in the keyring is not the key first used as version 3/,
	'a key it fails to unwrap is blamed on the keyring, naming the version');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.keys WHERE name = '1000'}),
	'0', 'no key was wrapped under the wrong key');
# a version that wrapped keys before check values existed must unwrap one first
$node->safe_psql('postgres', q{DELETE FROM privacy_guard.master_key_checks WHERE master_version = 3});
$node->restart;
$node->psql('postgres', q{INSERT INTO t VALUES (1000, 'wrong-key@example.com')}, stderr => \$err);
like($err, qr/master key version 3 in the keyring is not the key first used as version 3/,
	'without a recorded check value, a key the version wraps is the check');
write_keyring($keyfile, "2:$k2\n3:$k3\n");
$node->reload;
$node->safe_psql('postgres', q{INSERT INTO t VALUES (1000, 'right-key@example.com')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.master_key_checks WHERE master_version = 3}),
	'1', 'and its check value is recorded again once it matched');

# Rotation covers keys created by transactions still open when it starts:
# it waits for them, then re-wraps what they created.
$node->safe_psql('postgres', 'SELECT privacy_guard.rotate_master_key()');
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe(q{INSERT INTO t VALUES (1001, 'open@example.com')});
write_keyring($keyfile, "3:$k3\n4:$k4\n");
$node->reload;
my $rotator = $node->background_psql('postgres');
$rotator->query_until(qr/started/, "\\echo started\nSELECT privacy_guard.rotate_master_key();\n");
# it waits without queueing for the lock: a later first write does not wait
# behind it
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'SELECT privacy_guard.rotate_master_key()%'
	  AND state = 'active'})
  or die 'rotation did not start';
sleep(1);
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT privacy_guard.rotate_master_key()%' AND state = 'active'}),
	'1', 'rotation waits for the open transaction');
$node->safe_psql('postgres', q{SET statement_timeout = '5s'; INSERT INTO t VALUES (1002, 'meanwhile@example.com')});
ok(1, 'a new customer\'s first write meanwhile does not wait behind the rotation');
$open->query_safe('COMMIT');
$open->quit;
$rotator->quit;
is($node->safe_psql('postgres',
	q{SELECT keys || ':' || can_retire FROM privacy_guard.master_key_versions() WHERE master_version = 3}),
	'0:true', 'the open transaction\'s key was re-wrapped: version 3 can be retired');
write_keyring($keyfile, "4:$k4\n");
$node->restart;
is($node->safe_psql('postgres', q{SELECT privacy_guard.reveal(email, 'support') FROM t WHERE id = 1001}),
	'open@example.com', 'the key created during rotation reads under version 4 alone');

$node->stop;
done_testing();

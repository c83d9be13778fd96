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
		q{SELECT id FROM t WHERE email_bidx = privacy_guard.blind_index('user7@example.com', 'contact')}),
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

$node->stop;
done_testing();

# Helpers shared by the TAP tests: a node preloading privacy_guard with a
# keyring file the test controls.
package PrivacyGuardNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(keyring_node write_keyring);

# Write keyring content to a file with mode 0600 (or the mode given).
sub write_keyring
{
	my ($path, $content, $mode) = @_;
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh $content;
	close($fh);
	chmod($mode // 0600, $path);
}

# A node with privacy_guard preloaded and keyring_file pointing at
# basedir/keyring, written with the given content unless undef.
# Returns the node (not started) and the keyring's path.
sub keyring_node
{
	my ($name, $content) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $keyfile = $node->basedir . '/keyring';
	write_keyring($keyfile, $content) if defined $content;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'privacy_guard'
privacy_guard.keyring_file = '$keyfile'
});
	return ($node, $keyfile);
}

1;

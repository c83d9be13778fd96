# Helpers shared by the TAP tests: a node preloading privacy_guard with a
# keyring file the test controls, and the fixtures the tests build on it (a
# policy, a protected table), so that each test shows only what it tests.
package PrivacyGuardNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(
  keyring_node write_keyring start_keyring_node
  create_policy create_protected_table
  query_with_purpose envelope_digest crash_backend);

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
# Returns the node (not started) and the keyring's path.  %init goes to
# init() (allows_streaming => 1 for a primary).
sub keyring_node
{
	my ($name, $content, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	my $keyfile = $node->basedir . '/keyring';
	write_keyring($keyfile, $content) if defined $content;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'privacy_guard'
privacy_guard.keyring_file = '$keyfile'
});
	return ($node, $keyfile);
}

# keyring_node() plus the postgresql.conf lines given (if any), started.
sub start_keyring_node
{
	my ($name, $content, $conf) = @_;
	my ($node, $keyfile) = keyring_node($name, $content);
	$node->append_conf('postgresql.conf', $conf) if defined $conf;
	$node->start;
	return ($node, $keyfile);
}

# In $db: CREATE EXTENSION privacy_guard (unless extension => 0), define
# each category (a name, or an array of define_category()'s arguments),
# define $purpose, allow it each category in full, and grant it to the
# current user (unless grant => 0).
sub create_policy
{
	my ($node, $db, $purpose, $categories, %opts) = @_;
	my @names = map { ref($_) ? $_->[0] : $_ } @$categories;
	my $sql = '';

	$sql .= "CREATE EXTENSION privacy_guard;\n" if $opts{extension} // 1;
	$sql .= 'SELECT privacy_guard.define_category('
	  . join(', ', map { "'$_'" } ref($_) ? @$_ : ($_)) . ");\n"
	  for @$categories;
	$sql .= "SELECT privacy_guard.define_purpose('$purpose');\n";
	$sql .= "SELECT privacy_guard.allow('$purpose', '$_');\n" for @names;
	$sql .= "SELECT privacy_guard.grant_purpose(current_user::regrole, '$purpose');\n"
	  if $opts{grant} // 1;
	$node->safe_psql($db, $sql);
	return;
}

# In $db: CREATE TABLE $table (id int PRIMARY KEY, $column text), UNIQUE
# if unique => 1; insert rows => (a query or VALUES giving id and value),
# which protect() then seals in place; protect $column under $category with
# id as the subject (searchable if searchable => 1); insert new_rows =>
# afterwards, through the sealing trigger.
sub create_protected_table
{
	my ($node, $db, $table, $column, $category, %opts) = @_;
	my $unique = $opts{unique} ? ' UNIQUE' : '';
	my $searchable = $opts{searchable} ? ', searchable => true' : '';
	my $sql = "CREATE TABLE $table (id int PRIMARY KEY, $column text$unique);\n";

	$sql .= "INSERT INTO $table $opts{rows};\n" if defined $opts{rows};
	$sql .= "SELECT privacy_guard.protect('$table', '$column', '$category', 'id'$searchable);\n";
	$sql .= "INSERT INTO $table $opts{new_rows};\n" if defined $opts{new_rows};
	$node->safe_psql($db, $sql);
	return;
}

# safe_psql() of $sql in a session that first declared $purpose with
# set_purpose(); %params as for safe_psql() (extra_params => [ '-U', $role ]).
sub query_with_purpose
{
	my ($node, $db, $purpose, $sql, %params) = @_;
	return $node->safe_psql($db,
		"DO \$\$ BEGIN PERFORM privacy_guard.set_purpose('$purpose'); END \$\$; $sql",
		%params);
}

# The md5 of $table's $column as text (the envelopes), in id order: equal
# digests mean no envelope was rewritten.
sub envelope_digest
{
	my ($node, $db, $table, $column) = @_;
	return $node->safe_psql($db,
		"SELECT md5(string_agg(${column}::text, ',' ORDER BY id)) FROM $table");
}

# SIGKILL the backend $pid of background_psql() $session, then wait until
# the server has reset shared memory and accepts connections again.
sub crash_backend
{
	my ($node, $session, $pid) = @_;
	kill 'KILL', $pid;
	$session->quit;
	$node->poll_query_until('postgres', 'SELECT true')
	  or die 'the server did not come back';
	return;
}

1;

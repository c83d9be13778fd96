# Upgrading from 0.1, as a shop does it: the 0.1 release (its own library,
# built from the commit test/releases names) holds a protected, searchable
# table with a UNIQUE constraint, a trail and keys; then this version's
# package is installed over it, the server restarts, and ALTER EXTENSION
# privacy_guard UPDATE runs.  Until then 0.1's values still reveal and
# writes that need 0.2 are refused with a hint; afterwards every value
# reveals as before, the search terms live in the values (0.1's blind-index
# column and search key are gone), the trail goes on and verifies, and the
# extension's objects are exactly those of a fresh 0.2 installation.
use strict;
use warnings;
use File::Copy;
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $root = "$FindBin::Bin/../..";
my ($current) = PostgreSQL::Test::Utils::slurp_file("$root/privacy_guard.control") =~ /^default_version = '(.*)'$/m;
my %dir = map { $_ => (run_command([ 'pg_config', "--$_" ]))[0] =~ s/\s+$//r }
  qw(bindir pkglibdir sharedir);
my $top = $dir{bindir} =~ s{/bin$}{}r;
my ($out, $err);

# A node running a release: a PostgreSQL installation of the test's own
# (this one's, copied where the binaries find their files relative to
# themselves) with the release built from its source and installed, and a
# cluster preloading it.  Returns the node (started) and the installation.
sub release_node
{
	my ($version, $name) = @_;
	my $release = "$root/tmp_releases/$version";
	die "the $version release's source is not in $release: run the tests through scripts/test.sh (make test), which extracts it from git"
	  unless -f "$release/privacy_guard.control";
	my $tree = PostgreSQL::Test::Utils::tempdir("pg_$version");
	for my $d ($top, $dir{sharedir})
	{
		make_path("$tree$d");
		system('cp', '-a', "$d/.", "$tree$d") == 0 or die "could not copy $d";
	}
	symlink('/usr/include', "$tree/usr/include") unless -e "$tree/usr/include";
	unlink glob("$tree$dir{sharedir}/extension/privacy_guard*"), "$tree$dir{pkglibdir}/privacy_guard.so";
	my $build = PostgreSQL::Test::Utils::tempdir("src_$version");
	system('cp', '-a', "$release/.", $build) == 0 or die "could not copy $release";
	for my $target ('all', 'install')
	{
		my $ok = IPC::Run::run([ 'make', '-s', '-C', $build, "PG_CONFIG=$tree$dir{bindir}/pg_config", 'with_llvm=no', $target ],
			'>', \$out, '2>', \$err);
		ok($ok, "$version release: make $target") or diag($err);
	}
	my $node = PostgreSQL::Test::Cluster->new($name, install_path => "$tree$top");
	$node->init;
	my $keyfile = $node->basedir . '/keyring';
	write_keyring($keyfile, "1:" . ('3e' x 32) . "\n");
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'privacy_guard'
privacy_guard.keyring_file = '$keyfile'
});
	$node->start;
	return ($node, $tree);
}

# This version's package over a release's (new files, as a package manager
# writes them), then a restart: the library is preloaded.
sub install_package
{
	my ($node, $tree) = @_;
	$node->stop;
	for my $f (glob("$dir{sharedir}/extension/privacy_guard*"))
	{
		copy($f, "$tree$dir{sharedir}/extension/") or die "could not copy $f: $!";
	}
	copy("$dir{pkglibdir}/privacy_guard.so", "$tree$dir{pkglibdir}/privacy_guard.so.new") or die "copy: $!";
	rename("$tree$dir{pkglibdir}/privacy_guard.so.new", "$tree$dir{pkglibdir}/privacy_guard.so") or die "rename: $!";
	$node->start;
}

# The extension's objects, from a binary-upgrade dump (which includes every
# member), apart from OIDs, transaction ids and data; and what pg_dump keeps.
sub extension_objects
{
	my ($node, $dbname) = @_;
	my ($dump) = run_command([ 'pg_dump', '--binary-upgrade', '--schema-only', '-d', $node->connstr($dbname) ]);
	my %objs;
	my $key;
	for my $line (split /\n/, $dump)
	{
		if ($line =~ /^-- Name: (.*); Type: (.*); Schema: (.*); Owner/)
		{
			# the extension's schema and objects, and those in no schema (casts, event triggers)
			$key = ($3 eq 'privacy_guard' || ($3 eq '-' && ($2 ne 'SCHEMA' || $1 eq 'privacy_guard')))
			  && $2 ne 'SEQUENCE SET' ? "$2 $1" : undef;
			$objs{$key} = '' if defined $key;
			next;
		}
		next if !defined $key || $line =~ /^--|^\s*$|^\\(un)?restrict|relfrozenxid|^WHERE oid = |binary_upgrade_set_next_/;
		# the extension's member tables by name, not OID
		$line =~ s/binary_upgrade_create_empty_extension\(.*/binary_upgrade_create_empty_extension(...)/;
		$objs{$key} .= "$line\n";
	}
	$objs{'(kept by pg_dump)'} = $node->safe_psql($dbname,
		q{SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text) || ' / ' || array_to_string(extcondition, '|')
		    FROM pg_extension, unnest(extconfig) c WHERE extname = 'privacy_guard' GROUP BY extcondition});
	return \%objs;
}

# An installation updated to this version has exactly a fresh one's objects.
sub same_as_fresh
{
	my ($node, $db, $from) = @_;
	my $fresh_db = "fresh_$from" =~ s/\.//gr;
	$node->safe_psql('postgres', "CREATE DATABASE $fresh_db");
	$node->safe_psql($fresh_db, 'CREATE EXTENSION privacy_guard');
	my ($upgraded, $fresh) = (extension_objects($node, $db), extension_objects($node, $fresh_db));
	my @differ = grep { ($upgraded->{$_} // '(missing)') ne ($fresh->{$_} // '(missing)') }
	  sort(keys %$upgraded, grep { !exists $upgraded->{$_} } keys %$fresh);
	is(join("\n", @differ), '', "from $from: the updated extension's objects are a fresh $current installation's");
	diag("updated:\n" . ($upgraded->{$_} // '(missing)') . "fresh:\n" . ($fresh->{$_} // '(missing)'))
	  for @differ[0 .. ($#differ < 2 ? $#differ : 2)];
}

my ($node, $tree) = release_node('0.1', 'shop');
my $db = 'postgres';

# The shop under 0.1.
$node->safe_psql($db, q{CREATE EXTENSION privacy_guard VERSION '0.1'});
create_policy($node, $db, 'support', [ 'contact', [ 'birth', 'personal', 'year' ] ], extension => 0);
$node->safe_psql($db, q{
	CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE, born date, note text);
	INSERT INTO customers
	  SELECT g, 'c' || g || '@example.com', date '1980-01-01' + g, 'n' || g FROM generate_series(1, 100) g;
	SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
	SELECT privacy_guard.protect('customers', 'born', 'birth', 'id');
	INSERT INTO customers VALUES (101, 'new@example.com', '1999-09-09', 'x');
	CREATE ROLE clerk LOGIN;
	GRANT SELECT, INSERT, UPDATE ON customers TO clerk;
	SELECT privacy_guard.grant_purpose('clerk', 'support');
	-- an erased subject whose row stays: its value can never be opened again
	SELECT privacy_guard.set_erasure_action('customers', 'anonymise');
	SELECT privacy_guard.request_erasure('50');
	SELECT privacy_guard.process_erasures();
	-- a column of the same category that is not searchable
	CREATE TABLE alt_contacts (id int PRIMARY KEY, alt_email text);
	INSERT INTO alt_contacts SELECT g, 'alt' || g || '@example.com' FROM generate_series(1, 5) g;
	SELECT privacy_guard.protect('alt_contacts', 'alt_email', 'contact', 'id');
	-- an encrypted column nothing seals
	CREATE TABLE loose (id int, v privacy_guard.encrypted_text);
	GRANT INSERT ON loose TO clerk;
	-- the tables of another role, who plants code in them below
	CREATE ROLE mallory LOGIN;
	GRANT privacy_guard_admin TO mallory;
	CREATE SCHEMA mal AUTHORIZATION mallory;
	GRANT SELECT ON alt_contacts TO mallory;
});
$node->safe_psql($db, q{
	CREATE TABLE mal.m (id int PRIMARY KEY, email text UNIQUE);
	INSERT INTO mal.m VALUES (1, 'm1@example.com');
	SELECT privacy_guard.protect('mal.m', 'email', 'contact', 'id', searchable => true);
	CREATE TABLE mal.b (id int PRIMARY KEY, secret text);
	SELECT privacy_guard.protect('mal.b', 'secret', 'contact', 'id');
}, extra_params => [ '-U', 'mallory' ]);
# a temporary table protected under 0.1, gone with its session, whose row stays
$node->safe_psql($db, q{CREATE TEMP TABLE passing (id int, e text);
	SELECT privacy_guard.protect('passing', 'e', 'contact', 'id')});
my $alt = envelope_digest($node, $db, 'alt_contacts', 'alt_email');
is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'privacy_guard'}), '0.1',
	'the 0.1 release is installed');
my $plain = q{SELECT md5(string_agg(id || ':' || privacy_guard.reveal(email, 'support') || ':'
                                    || privacy_guard.reveal(born, 'support'), ',' ORDER BY id)) FROM customers};
my $revealed = $node->safe_psql($db, $plain);
is(query_with_purpose($node, $db, 'support',
		q{SELECT id FROM customers WHERE email_bidx = privacy_guard.blind_index('c7@example.com', 'contact')}),
	'7', '0.1 searches its blind-index column');
my $old_term = $node->safe_psql($db, q{SELECT encode(email_bidx, 'hex') FROM customers WHERE id = 7});
my $born = envelope_digest($node, $db, 'customers', 'born');
my $trail = q{SELECT count(*) || ' ' || encode(hash, 'hex') FROM privacy_guard.audit_records
               WHERE id = (SELECT max(id) FROM privacy_guard.audit_records) GROUP BY hash};
my $old_head = q{SELECT encode(hash, 'hex') FROM privacy_guard.audit_records ORDER BY id DESC LIMIT 1};
$node->safe_psql($db, 'SELECT privacy_guard.audit_flush()');
my $head01 = $node->safe_psql($db, $old_head);
my $count01 = $node->safe_psql($db, 'SELECT count(*) FROM privacy_guard.audit_records');
ok($count01 > 0, '0.1 keeps a trail');

# This version's package over it, and a restart.
install_package($node, $tree);

# Before ALTER EXTENSION UPDATE: 0.1's values reveal; a write to a table
# with a searchable column of 0.1 is refused, saying what to run.
is($node->safe_psql($db, $plain), $revealed, 'the new library reveals 0.1\'s values');
$node->psql($db, q{INSERT INTO customers VALUES (102, 'c102@example.com')}, stdout => \$out, stderr => \$err);
like($err, qr/was protected by privacy_guard 0\.1.*HINT:  Run ALTER EXTENSION privacy_guard UPDATE/s,
	'a write that needs 0.2 is refused until the update, with a hint');

$node->psql($db, q{INSERT INTO loose VALUES (1, 'plain@example.com')}, stdout => \$out, stderr => \$err,
	extra_params => [ '-U', 'clerk' ]);
like($err, qr/cannot write column "v" of relation "loose", an encrypted column nothing seals, under privacy_guard 0\.1.*HINT:  Run ALTER EXTENSION privacy_guard UPDATE/s,
	'plaintext written to an encrypted column nothing seals is refused until the update, not stored as noise');

# What the update refuses, changing nothing: objects built on a blind-index
# column (a view, a partial UNIQUE index) that would be lost or block it
# half-way, listed; and the code of a table's owner that the rewrite of its
# searchable column runs as that owner: it cannot have other values
# re-sealed with terms (an equality oracle for a column that is not
# searchable), and the guard holds for it.
my $update = sub {
	my ($plant, $drop) = @_;
	$node->safe_psql($db, $plant, extra_params => [ '-U', 'mallory' ]);
	$node->psql($db, 'ALTER EXTENSION privacy_guard UPDATE', stdout => \$out, stderr => \$err);
	$node->safe_psql($db, $drop, extra_params => [ '-U', 'mallory' ]);
	return $err;
};
like($update->(q{CREATE VIEW mal.v AS SELECT email_bidx FROM mal.m;
		CREATE UNIQUE INDEX m_partial ON mal.m (email_bidx) WHERE id > 0},
		q{DROP VIEW mal.v; DROP INDEX mal.m_partial}),
	qr/cannot update privacy_guard: objects are built on blind-index columns of version 0\.1\nDETAIL:  [^\n]*view mal\.v[^\n]*index mal\.m_partial[^\n]*\nHINT:  Drop them, run ALTER EXTENSION privacy_guard UPDATE/,
	'the update lists the objects built on blind-index columns and stops');
like($update->(q{CREATE FUNCTION mal.evil(v privacy_guard.encrypted_text) RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN
			IF to_regproc('privacy_guard.upgrade_term') IS NOT NULL THEN   -- while the update runs
				EXECUTE $q$SELECT privacy_guard.upgrade_term(a.alt_email, 'contact') FROM public.alt_contacts a$q$;
			END IF;
			RETURN true;
		END $$;
		ALTER TABLE mal.m ADD CONSTRAINT m_evil CHECK (mal.evil(email))},
		q{ALTER TABLE mal.m DROP CONSTRAINT m_evil}),
	qr/upgrade_term\(\) re-seals only the values of the column the update is rewriting/,
	'code of a table\'s owner cannot have values of another column re-sealed with terms');
like($update->(q{CREATE FUNCTION mal.rename(v privacy_guard.encrypted_text) RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN
			IF to_regproc('privacy_guard.upgrade_term') IS NOT NULL THEN
				EXECUTE 'ALTER TABLE mal.b RENAME COLUMN secret TO stolen';
			END IF;
			RETURN true;
		END $$;
		ALTER TABLE mal.m ADD CONSTRAINT m_rename CHECK (mal.rename(email))},
		q{ALTER TABLE mal.m DROP CONSTRAINT m_rename}),
	qr/cannot rename protected column "secret" of relation "b"/,
	'the guard holds for the code of a table\'s owner that the update runs');
is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'privacy_guard'}), '0.1',
	'each refused update changed nothing');

is($node->psql($db, 'ALTER EXTENSION privacy_guard UPDATE', stderr => \$err), 0, 'ALTER EXTENSION privacy_guard UPDATE')
  or diag($err);
like($err, qr/WARNING:  privacy_guard 0\.1 recorded protected columns that no longer exist or are no longer encrypted: \d+\.e/,
	'a protected table that is gone (a temporary one) is named, and left out');
is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'privacy_guard'}), $current,
	"the extension is at $current");
is(envelope_digest($node, $db, 'alt_contacts', 'alt_email'), $alt, 'a column of the same category that is not searchable is untouched');
is($node->safe_psql($db, q{SELECT count(*) FROM customers WHERE email IS NULL}), '1',
	'the value of the erased subject, which can never be opened, is NULL: it has no term to compare by');
is($node->safe_psql($db, q{SELECT string_agg(tbl::text || '.' || col, ',' ORDER BY tbl::text, col) FROM privacy_guard.column_protection}),
	'alt_contacts.alt_email,customers.born,customers.email,mal.b.secret,mal.m.email', 'the catalog names the protected columns that exist');

# Every value reveals as before; the non-searchable column was not rewritten.
is($node->safe_psql($db, $plain), $revealed, 'every value reveals as before the update');
is(envelope_digest($node, $db, 'customers', 'born'), $born, 'values of columns that are not searchable are untouched');

# The search terms are in the values: no blind-index column, a search on
# the column itself, the UNIQUE constraint on the column under its name.
is($node->safe_psql($db, q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'email_bidx'}),
	'0', 'the blind-index column is gone');
is(query_with_purpose($node, $db, 'support',
		q{SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) privacy_guard.blind_index('c7@example.com', 'contact')}),
	'7', 'a search finds the row by the term in its value');
is(query_with_purpose($node, $db, 'support', q{SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) 'c8@example.com'}),
	'8', 'and by plaintext');
isnt(query_with_purpose($node, $db, 'support', q{SELECT encode(privacy_guard.blind_index('c7@example.com', 'contact'), 'hex')}),
	$old_term, '0.1\'s search key is gone: its blind indexes, in old copies, match nothing');
$node->psql($db, q{INSERT INTO customers VALUES (102, 'c9@example.com')}, stdout => \$out, stderr => \$err,
	extra_params => [ '-U', 'clerk' ]);
like($err, qr/duplicate key value violates unique constraint "customers_email_key"/,
	'the UNIQUE constraint holds on the column itself, under its name');
$node->safe_psql($db, q{INSERT INTO customers VALUES (102, 'c102@example.com', '2001-01-01')}, extra_params => [ '-U', 'clerk' ]);
is(query_with_purpose($node, $db, 'support',
		q{SELECT privacy_guard.reveal(email) || ' ' || privacy_guard.reveal(born) FROM customers
		   WHERE email OPERATOR(privacy_guard.=) 'c102@example.com'}),
	'c102@example.com 2001-01-01', 'new rows are sealed and searchable');
$node->psql($db, q{SET session_replication_role = replica; INSERT INTO customers (id, email) VALUES (103, 'plain@example.com')},
	stdout => \$out, stderr => \$err);
like($err, qr/plaintext cannot be stored in a column protected for category "contact"/,
	'the sealing CHECK refuses plaintext written past the triggers');
like((run_command([ 'pg_dump', '--schema-only', '-t', 'customers', '-d', $node->connstr($db) ]))[0],
	qr/ADD CONSTRAINT email_sealed CHECK .*, true\)\) NOT VALID;.*CREATE TRIGGER "!privacy_guard_bind"/s,
	'pg_dump adds the sealing CHECK after the data, and the table has 0.2\'s binding trigger');

# The trail goes on from 0.1's, one chain.
$node->safe_psql($db, 'SELECT privacy_guard.audit_flush()');
is($node->safe_psql($db, qq{SELECT encode(hash, 'hex') FROM privacy_guard.audit_records WHERE id = $count01}),
	$head01, 'the trail of 0.1 is kept');
ok($node->safe_psql($db, 'SELECT count(*) FROM privacy_guard.audit_records') > $count01, 'and goes on');
is($node->safe_psql($db, 'SELECT privacy_guard.verify_audit()'), 't', 'the chain verifies');
like($node->safe_psql($db, q{SELECT string_agg(event, ',') FROM privacy_guard.access_history('7')}),
	qr/reveal/, 'a subject\'s access history reaches back into 0.1\'s trail');

same_as_fresh($node, $db, '0.1');

# From the 0.2 release, whose searchable columns carry their terms.
{
	my ($node2, $tree2) = release_node('0.2', 'shop02');
	# (the release commit builds the version after it too: 0.2 by name)
	$node2->safe_psql($db, q{CREATE EXTENSION privacy_guard VERSION '0.2'});
	create_policy($node2, $db, 'support', [ 'contact' ], extension => 0);
	create_protected_table($node2, $db, 'customers', 'email', 'contact', unique => 1, searchable => 1,
		rows => q{SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 50) g});
	# an encrypted column nothing seals, holding a copy
	$node2->safe_psql($db, q{CREATE TABLE copies AS SELECT id, email FROM customers});
	my $all = q{SELECT md5(string_agg(id || privacy_guard.reveal(email, 'support'), ',' ORDER BY id)) FROM customers};
	my $before = $node2->safe_psql($db, $all);
	install_package($node2, $tree2);
	is($node2->psql($db, 'ALTER EXTENSION privacy_guard UPDATE', stderr => \$err), 0, 'from 0.2: ALTER EXTENSION privacy_guard UPDATE')
	  or diag($err);
	is($node2->safe_psql($db, $all), $before, 'from 0.2: every value reveals as before');
	is(query_with_purpose($node2, $db, 'support', q{SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) 'c8@example.com'}),
		'8', 'from 0.2: and searches');
	# 0.2's values carry no binding of their term to their key: a search
	# that matches one opens it before naming its subject ...
	$node2->safe_psql($db, 'SELECT privacy_guard.audit_flush()');
	is($node2->safe_psql($db, q{SELECT count(*) FROM privacy_guard.access_history('8') WHERE event = 'search'}),
		'1', 'from 0.2: a search that matched a value of 0.2 names its subject');
	# ... so a copy of customer 8's value under customer 9's key id, in a
	# column nobody protects, names no one: it is refused
	$node2->safe_psql($db, q{
		UPDATE copies SET email = ('sealed1:' || replace(encode(overlay(decode(substr(c8.email::text, 9), 'base64')
		    placing substring(decode(substr(c9.email::text, 9), 'base64') from 3 for 8) from 3 for 8), 'base64'), E'\n', ''))
		    ::privacy_guard.encrypted_text
		  FROM customers c8, customers c9 WHERE c8.id = 8 AND c9.id = 9 AND copies.id = 8});
	is($node2->psql($db, q{DO $$ BEGIN PERFORM privacy_guard.set_purpose('support'); END $$;
		SELECT id FROM copies WHERE email OPERATOR(privacy_guard.=) 'c8@example.com'}, stderr => \$err), 3,
		'from 0.2: a value of 0.2 altered to name another subject is refused when a search matches it');
	like($err, qr/failed authentication/, 'from 0.2: saying it failed authentication');
	$node2->safe_psql($db, 'SELECT privacy_guard.audit_flush()');
	is($node2->safe_psql($db, q{SELECT count(*) FROM privacy_guard.access_history('9') WHERE event = 'search'}),
		'0', 'from 0.2: and customer 9 is not named');
	# rotate_search_key() gives every value the binding (format 4)
	$node2->safe_psql($db, q{SELECT privacy_guard.rotate_search_key('contact')});
	is($node2->safe_psql($db, q{SELECT DISTINCT get_byte(decode(substr(email::text, 9), 'base64'), 0) FROM customers}),
		'4', 'from 0.2: rotate_search_key() re-seals values with their term bound');
	is(query_with_purpose($node2, $db, 'support', q{SELECT id FROM customers WHERE email OPERATOR(privacy_guard.=) 'c8@example.com'}),
		'8', 'from 0.2: and they are searched as before');
	$node2->psql($db, q{INSERT INTO copies VALUES (99, 'plain@example.com')}, stdout => \$out, stderr => \$err);
	like($err, qr/cannot store an unsealed value/, 'from 0.2: an encrypted column nothing seals refuses plaintext');
	is($node2->safe_psql($db, q{SELECT conname FROM pg_constraint WHERE conrelid = 'copies'::regclass}), 'email_sealed_only',
		'from 0.2: and has the CHECK that refuses it where rows are stored');
	same_as_fresh($node2, $db, '0.2');
}

done_testing();

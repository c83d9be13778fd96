# Erasure under failure, and the limit of crypto-shredding.
#
# A crash in the middle of process_erasures() (after the subject's orders
# were anonymised and its key destroyed inside the transaction) leaves the
# request pending and the subject whole: key, rows and reveals; running it
# again completes it, once.
#
# Backup, erase, rotate, retire: a backup taken before the erasure still
# holds the subject's wrapped key, so restored next to the same keyring it
# still reveals the subject (the honest limit).  Once the master key has
# been rotated and its old version retired, that backup no longer opens
# with the current keyring, while a backup taken after the rotation does,
# for every subject but the erased one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::Bin;
use PrivacyGuardNode;

my $k1 = '61' x 32;
my $k2 = '62' x 32;
my ($node, $keyfile) = start_keyring_node('erasure', "1:$k1\n");
create_policy($node, 'postgres', 'support',
	[ [ 'contact', 'personal', 'email' ], [ 'address', 'personal', 'address' ] ]);
create_protected_table($node, 'postgres', 'customers', 'email', 'contact',
	rows => q{SELECT g, 'customer' || g || '@example.com' FROM generate_series(1, 4) g});
$node->safe_psql('postgres', q{
	CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers (id),
	                     total numeric NOT NULL, address text);
	-- customer 2 placed orders 1 and 5
	INSERT INTO orders SELECT g, 1 + g % 4, g * 10, g || ' Main Street' FROM generate_series(1, 8) g;
	SELECT privacy_guard.protect('orders', 'address', 'address', 'customer_id');
	SELECT privacy_guard.set_erasure_action('orders', 'anonymise');
	-- a copy made before the erasure: it keeps the ciphertext
	CREATE TABLE customers_copy AS SELECT * FROM customers;
});

# A backup taken before anything is erased.
my $dump_before = $node->basedir . '/before_erasure.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump_before, '-d', $node->connstr('postgres') ],
	'pg_dump before the erasure');

my $rows_sql = q{SELECT md5(string_agg(concat_ws('|', c.id, c.email::text), ',' ORDER BY c.id)) FROM customers c};
my $orders_sql = q{SELECT md5(string_agg(concat_ws('|', o.id, o.customer_id, o.total, o.address::text), ',' ORDER BY o.id)) FROM orders o};
my $customers_before = $node->safe_psql('postgres', $rows_sql);
my $orders_before = $node->safe_psql('postgres', $orders_sql);
my $reveal_2 = q{SELECT privacy_guard.reveal(email, 'support') FROM customers WHERE id = 2};
my $reveal_2_orders = q{SELECT string_agg(privacy_guard.reveal(address, 'support'), ',' ORDER BY id) FROM orders WHERE customer_id = 2};

############################################################################
# 1. A crash in the middle of process_erasures()
############################################################################

my $request = $node->safe_psql('postgres', q{SELECT privacy_guard.request_erasure('2', 'crash test')});
like($request, qr/^\d+$/, 'an erasure request for subject 2');

# Deleting a customer stalls: erasure visits orders (children) first, so by
# then the key row is a tombstone and the orders are anonymised, uncommitted.
$node->safe_psql('postgres', q{
	CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN PERFORM pg_sleep(600); RETURN OLD; END $$;
	CREATE TRIGGER slow_delete BEFORE DELETE ON customers FOR EACH ROW EXECUTE FUNCTION slow_delete();
});

my ($eraser_out, $eraser_err) = ('', '');
my $eraser = IPC::Run::start(
	[ $node->installed_command('psql'), '-XAtq', '-d', $node->connstr('postgres'),
	  '-c', 'SELECT privacy_guard.process_erasures()' ],
	'<', \undef, '>', \$eraser_out, '2>', \$eraser_err);
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE wait_event = 'PgSleep' AND query LIKE '%process_erasures%'})
  or die 'process_erasures() did not reach the slow trigger';
is($node->safe_psql('postgres', q{
	SELECT string_agg(l.relation::regclass::text, ',' ORDER BY l.relation::regclass::text)
	  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	 WHERE a.wait_event = 'PgSleep' AND l.mode = 'RowExclusiveLock'
	   AND l.relation IN ('orders'::regclass, 'privacy_guard.keys'::regclass, 'customers'::regclass)}),
	'customers,orders,privacy_guard.keys',
	'the stalled erasure has already written the key and the orders, and is deleting the customer');
my ($out, $err);
$node->psql('postgres',
	q{SELECT 1 FROM privacy_guard.keys WHERE kind = 'subject' AND name = '2' FOR UPDATE NOWAIT},
	stdout => \$out, stderr => \$err);
like($err, qr/could not obtain lock on row in relation "keys"/, 'the subject\'s key row is held by the stalled erasure');
$node->psql('postgres', q{SELECT 1 FROM orders WHERE id = 5 FOR UPDATE NOWAIT}, stdout => \$out, stderr => \$err);
like($err, qr/could not obtain lock on row in relation "orders"/, 'and so is its order, already anonymised');
$node->psql('postgres', q{SELECT 1 FROM orders WHERE id = 2 FOR UPDATE NOWAIT}, stdout => \$out, stderr => \$err);
is($err, '', 'but not another customer\'s order');

$node->stop('immediate');
$eraser->finish;
like($eraser_err, qr/server closed the connection|terminating connection/, 'the server crashed under process_erasures()');
is($eraser_out, '', 'which never returned');
$node->start;

is($node->safe_psql('postgres', qq{SELECT status FROM privacy_guard.erasure_requests WHERE id = $request}),
	'pending', 'after the crash the request is still pending');
is($node->safe_psql('postgres', $rows_sql), $customers_before, 'the customers are unchanged');
is($node->safe_psql('postgres', $orders_sql), $orders_before, 'the orders are unchanged (not anonymised)');
is($node->safe_psql('postgres', q{
	SELECT erased_at IS NULL AND wrapped IS NOT NULL AND master_version = 1
	  FROM privacy_guard.keys WHERE kind = 'subject' AND name = '2'}),
	't', 'the subject\'s key is intact');
is($node->safe_psql('postgres', $reveal_2), 'customer2@example.com', 'the subject still reveals');
is($node->safe_psql('postgres', $reveal_2_orders), '1 Main Street,5 Main Street',
	'and so do its orders\' addresses');

# Without the stall, the next run completes the request.
$node->safe_psql('postgres', q{DROP TRIGGER slow_delete ON customers});
is($node->safe_psql('postgres', q{SELECT privacy_guard.process_erasures()}), '1',
	'process_erasures() run again completes one request');
is($node->safe_psql('postgres', qq{SELECT status || ',' || attempts || ',' || coalesce(last_error, 'no error')
	FROM privacy_guard.erasure_requests WHERE id = $request}),
	'completed,1,no error', 'the request is completed on its first recorded attempt');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customers WHERE id = 2}), '0',
	'the customer row is deleted');
is($node->safe_psql('postgres', q{
	SELECT string_agg(concat_ws(':', id, coalesce(customer_id::text, 'null'), total, coalesce(address::text, 'null')), ',' ORDER BY id)
	  FROM orders WHERE id IN (1, 5)}),
	'1:null:10:null,5:null:50:null', 'the subject\'s orders are kept, unlinked and shredded');
is($node->safe_psql('postgres', q{SELECT count(*) FROM orders WHERE customer_id IS NOT NULL AND address IS NOT NULL}),
	'6', 'the other orders are untouched');
is($node->safe_psql('postgres', q{
	SELECT erased_at IS NOT NULL AND wrapped IS NULL AND master_version IS NULL
	  FROM privacy_guard.keys WHERE kind = 'subject' AND name = '2'}),
	't', 'the subject\'s key is a tombstone');
is($node->safe_psql('postgres', q{SELECT privacy_guard.reveal(email, 'support') IS NULL FROM customers_copy WHERE id = 2}),
	't', 'the copy made before the erasure reveals NULL for the subject');
is($node->safe_psql('postgres', q{SELECT privacy_guard.reveal(email, 'support') FROM customers_copy WHERE id = 3}),
	'customer3@example.com', 'and still reveals the others');
my $cert = $node->safe_psql('postgres', qq{
	SELECT concat_ws(',', c->'certificate'->>'rows', c->'certificate'->'data_key'->>'destroyed',
	                 c->'audit_record'->>'id' ~ '^[0-9]+\$')
	  FROM privacy_guard.erasure_certificate($request) c});
is($cert, '3,destroyed,t', 'the certificate counts 3 rows, a destroyed key and has an audit record');
is($node->safe_psql('postgres', q{SELECT privacy_guard.process_erasures()}), '0',
	'running it again does nothing');

############################################################################
# 2. Backup, erase, rotate, retire
############################################################################

# A fresh node with the given keyring and an empty database "restored"
# for a dump; its audit writer fills the trail of "postgres", as in
# 003_dump_restore.pl.
sub restore_target
{
	my ($name, $keyring) = @_;
	my ($n) = start_keyring_node($name, $keyring);
	$n->safe_psql('postgres', q{CREATE EXTENSION privacy_guard; CREATE DATABASE restored});
	return $n;
}

# The honest limit: the old backup holds the subject's key, wrapped under a
# master key version the keyring still has.
my $old_v1 = restore_target('old_backup_v1', "1:$k1\n");
$old_v1->command_ok([ 'pg_restore', '--exit-on-error', '-d', $old_v1->connstr('restored'), $dump_before ],
	'the backup from before the erasure restores next to the old keyring');
is($old_v1->safe_psql('restored', $reveal_2), 'customer2@example.com',
	'and still reveals the erased subject');
$old_v1->stop;

# Rotate the master key, then retire version 1.
write_keyring($keyfile, "1:$k1\n2:$k2\n");
$node->reload;
is($node->safe_psql('postgres', q{SELECT privacy_guard.rotate_master_key()}), '3',
	'rotation re-wraps the keys of the three remaining subjects, not the tombstone');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy_guard.keys WHERE master_version = 1}), '0',
	'no key is left under version 1');
write_keyring($keyfile, "2:$k2\n");
$node->reload;
$node->restart;    # no cached keys anywhere
is($node->safe_psql('postgres', q{SELECT string_agg(privacy_guard.reveal(email, 'support'), ',' ORDER BY id) FROM customers}),
	'customer1@example.com,customer3@example.com,customer4@example.com',
	'with only version 2 the live database reveals the other subjects');
is($node->safe_psql('postgres', q{SELECT privacy_guard.reveal(email, 'support') IS NULL FROM customers_copy WHERE id = 2}),
	't', 'and still nothing of the erased one');

my $dump_after = $node->basedir . '/after_rotation.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump_after, '-d', $node->connstr('postgres') ],
	'pg_dump after the rotation');

# The old backup next to the current keyring: version 1 is gone, and with
# it every key in that backup.  The envelopes load (the sealing CHECK is
# added after the data, NOT VALID, so that pg_restore -j works), and none
# of them opens.
my $old_v2 = restore_target('old_backup_v2', "2:$k2\n");
$old_v2->command_ok([ 'pg_restore', '--exit-on-error', '-d', $old_v2->connstr('restored'), $dump_before ],
	'the backup from before the erasure loads its envelopes next to the current keyring');
foreach my $t ([ 'customers', 'email' ], [ 'orders', 'address' ])
{
	$old_v2->psql('restored', qq{SELECT privacy_guard.reveal($t->[1], 'support') FROM $t->[0] LIMIT 1},
		stdout => \$out, stderr => \$err);
	like($err, qr/master key version 1 is not in the keyring/,
		"$t->[0]: nothing reveals, their master key version is gone");
	unlike($out . $err, qr/customer\d\@example|Main Street/, "$t->[0]: no plaintext in the errors");
}
$old_v2->psql('restored', q{UPDATE customers SET email = email WHERE id = 1}, stdout => \$out, stderr => \$err);
like($err, qr/master key version 1 is not in the keyring/, 'and no envelope of it can be written again');
$old_v2->psql('restored', q{SELECT privacy_guard.reveal(email, 'support') FROM customers_copy WHERE id = 2},
	stdout => \$out, stderr => \$err);
like($err, qr/master key version 1 is not in the keyring/,
	'the erased subject\'s envelope does not open with the current keyring');
unlike($out . $err, qr/customer2/, 'and no plaintext is returned');
$old_v2->stop;

# A backup taken after the rotation opens with the current keyring.
my $new_v2 = restore_target('new_backup_v2', "2:$k2\n");
$new_v2->command_ok([ 'pg_restore', '--exit-on-error', '-d', $new_v2->connstr('restored'), $dump_after ],
	'the backup from after the rotation restores next to the current keyring');
is($new_v2->safe_psql('restored', q{SELECT string_agg(privacy_guard.reveal(email, 'support'), ',' ORDER BY id) FROM customers}),
	'customer1@example.com,customer3@example.com,customer4@example.com',
	'a backup from after the rotation reveals the other subjects with the current keyring');
is($new_v2->safe_psql('restored', q{SELECT string_agg(privacy_guard.reveal(address, 'support'), ',' ORDER BY id) FROM orders WHERE customer_id = 3}),
	'2 Main Street,6 Main Street', 'and their orders');
is($new_v2->safe_psql('restored', q{SELECT privacy_guard.reveal(email, 'support') IS NULL FROM customers_copy WHERE id = 2}),
	't', 'and NULL for the erased subject');
$new_v2->stop;

$node->stop;
done_testing();

// Writes and reads of a protected table through node-postgres, as an
// application does them: extended-protocol parameters (sent untyped, in
// text), a named prepared statement past the generic-plan threshold, an
// upsert, a row written back as it was read, a transaction rolled back.
// Usage: node node_writes.js HOST PORT DATABASE TABLE COLUMN
// Prints one line per check, "name: result"; the TAP test compares them.
'use strict';
const { Client } = require('pg');

const [host, port, database, table, column] = process.argv.slice(2);
const ident = (s) => '"' + s.replace(/"/g, '""') + '"';
const t = ident(table);
const c = ident(column);
const report = (name, value) => console.log(`${name}: ${value}`);

async function main() {
	const client = new Client({ host, port: Number(port), database, user: process.env.PGUSER || 'postgres' });
	await client.connect();
	await client.query(`INSERT INTO ${t} (id, ${c}) VALUES ($1, $2)`, [301, 'n301@example.com']);
	for (let i = 302; i < 312; i++)
		await client.query({
			name: 'insert-customer',
			text: `INSERT INTO ${t} (id, ${c}) VALUES ($1, $2)`,
			values: [i, `n${i}@example.com`],
		});
	await client.query(`UPDATE ${t} SET ${c} = $1 WHERE id = $2`, ['changed@example.com', 302]);
	await client.query(
		`INSERT INTO ${t} (id, ${c}) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET ${c} = excluded.${c}`,
		[303, 'upserted@example.com']);
	// an upsert whose conflicting row is another subject's (the conflict key
	// is not the subject): the value is sealed again for that row
	try {
		await client.query(
			`INSERT INTO ${t} (id, ${c}) VALUES ($1, $2) ON CONFLICT (${c}) DO UPDATE SET ${c} = excluded.${c}`,
			[314, 'n304@example.com']);
		report('upsert across subjects', 'accepted');
	} catch (e) {
		report('upsert across subjects', `${e.code} ${e.message}`);
	}
	// a typed parameter: text assigned to the protected column
	await client.query(`INSERT INTO ${t} (id, ${c}) VALUES ($1, $2::text)`, [312, 'typed@example.com']);

	// an application rewriting a row it loaded: the envelope goes back unchanged
	const loaded = await client.query(`SELECT ${c}::text AS v FROM ${t} WHERE id = 301`);
	await client.query(`UPDATE ${t} SET ${c} = $1 WHERE id = 301`, [loaded.rows[0].v]);
	report('rewrite', 'accepted');
	try {
		await client.query(`UPDATE ${t} SET ${c} = $1 WHERE id = 304`, [loaded.rows[0].v]);
		report('move', 'accepted');
	} catch (e) {
		report('move', `${e.code} ${e.message}`);
	}
	await client.query('BEGIN');
	await client.query(`INSERT INTO ${t} (id, ${c}) VALUES ($1, $2)`, [313, 'rolledback@example.com']);
	await client.query('ROLLBACK');

	await client.query("SELECT privacy_guard.set_purpose('support')");
	// searches by driver parameters on the column's unique index, an unnamed
	// statement and a named one past the generic-plan threshold: each is one
	// search, naming the row it returns (the operators are the extension's:
	// an application puts its schema on the search_path)
	await client.query('SET search_path = public, privacy_guard');
	await client.query('SET enable_seqscan = off');
	const found = await client.query(`SELECT id FROM ${t} WHERE ${c} = $1`, ['n305@example.com']);
	report('search', found.rows.map((r) => r.id).join(','));
	// a parameter typed varchar (as JDBC's setString sends it)
	const typed = await client.query(`SELECT id FROM ${t} WHERE ${c} = $1::varchar`, ['n307@example.com']);
	report('typed search', typed.rows.map((r) => r.id).join(','));
	let again;
	for (let i = 0; i < 7; i++)
		again = await client.query({
			name: 'search-customer',
			text: `SELECT id FROM ${t} WHERE ${c} = $1`,
			values: ['n306@example.com'],
		});
	report('prepared search', again.rows.map((r) => r.id).join(','));
	await client.query('RESET enable_seqscan');
	await client.query('RESET search_path');
	const res = await client.query(
		`SELECT id, privacy_guard.reveal(${c}) AS v FROM ${t} WHERE id > 300 ORDER BY id`);
	for (const row of res.rows)
		report(`reveal ${row.id}`, row.v);
	await client.end();
}

main().catch((e) => {
	console.log(`error: ${e.code} ${e.message}`);
	process.exit(1);
});

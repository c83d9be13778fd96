// Binary parameters through node-postgres: a Buffer is sent in binary
// format, as node-postgres does for every Buffer value.  Writes one into a
// protected bytea column (new row, update, upsert), reads the values back
// with reveal(), and writes back the envelope it read as a Buffer.
// Usage: node node_binary.js HOST PORT DATABASE TABLE
// Prints one line per check, "name: result"; the TAP test compares them.
'use strict';
const { Client } = require('pg');

const [host, port, database, table] = process.argv.slice(2);
const t = '"' + table.replace(/"/g, '""') + '"';
const report = (name, value) => console.log(`${name}: ${value}`);

async function main() {
	const client = new Client({ host, port: Number(port), database, user: process.env.PGUSER || 'postgres' });
	await client.connect();
	const doc = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x41]);
	await client.query(`INSERT INTO ${t} (id, doc) VALUES ($1, $2)`, [1, doc]);
	await client.query(`INSERT INTO ${t} (id, doc) VALUES ($1, $2)`, [2, Buffer.from('plain words')]);
	await client.query(`UPDATE ${t} SET doc = $1 WHERE id = $2`, [Buffer.from([0x7f, 0x00]), 2]);
	await client.query(`INSERT INTO ${t} (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
		[3, Buffer.from('upserted')]);
	// an empty Buffer, and a Buffer that begins like an envelope but is not one
	await client.query(`INSERT INTO ${t} (id, doc) VALUES ($1, $2)`, [4, Buffer.alloc(0)]);
	await client.query(`INSERT INTO ${t} (id, doc) VALUES ($1, $2)`, [5, Buffer.from([0x01, 0x05, 0x00, 0x00])]);

	// the envelope as read in binary (node-postgres reads bytea as a Buffer),
	// written back to its own row: taken as it is, not sealed again
	const loaded = await client.query(`SELECT doc::text AS t FROM ${t} WHERE id = 1`);
	const envelope = Buffer.from(loaded.rows[0].t.slice('sealed1:'.length), 'base64');
	await client.query(`UPDATE ${t} SET doc = $1 WHERE id = 1`, [envelope]);
	const after = await client.query(`SELECT doc::text AS t FROM ${t} WHERE id = 1`);
	report('rewrite', after.rows[0].t === loaded.rows[0].t ? 'unchanged' : 'sealed again');

	await client.query("SELECT privacy_guard.set_purpose('support')");
	const res = await client.query(`SELECT id, privacy_guard.reveal(doc) AS v, left(doc::text, 8) AS form FROM ${t} ORDER BY id`);
	for (const row of res.rows)
		report(`reveal ${row.id}`, `${row.form} ${row.v === null ? 'NULL' : row.v.toString('hex')}`);
	await client.end();
}

main().catch((e) => { report('error', `${e.code} ${e.message}`); process.exit(0); });

#!/usr/bin/python3
"""Writes and reads of a protected table through psycopg2, as an application
does them: client-side parameters, executemany, an upsert, COPY FROM STDIN,
a server-side prepared statement past the generic-plan threshold, a row
written back as it was read.  Usage: psycopg2_writes.py DSN TABLE COLUMN.
Prints one line per check, "name: result"; the TAP test compares them."""
import sys

import psycopg2
from psycopg2 import sql

dsn, table, column = sys.argv[1:4]
conn = psycopg2.connect(dsn)
cur = conn.cursor()
t, c = sql.Identifier(table), sql.Identifier(column)


def q(text, *args):
    return sql.SQL(text).format(t=t, c=c, *args)


def report(name, value):
    print(f"{name}: {value}", flush=True)


cur.execute(q("INSERT INTO {t} (id, {c}) VALUES (%s, %s)"), (201, "p201@example.com"))
cur.executemany(q("INSERT INTO {t} (id, {c}) VALUES (%s, %s)"),
                [(i, f"p{i}@example.com") for i in range(202, 211)])
cur.execute(q("UPDATE {t} SET {c} = %s WHERE id = %s"), ("changed@example.com", 202))
cur.execute(q("INSERT INTO {t} (id, {c}) VALUES (%s, %s) "
              "ON CONFLICT (id) DO UPDATE SET {c} = excluded.{c}"), (203, "upserted@example.com"))
rows = "".join(f"{i}\tcopy{i}@example.com\n" for i in range(211, 221))
import io
# no column list: the table has the shape it had before protect()
cur.copy_expert(q("COPY {t} FROM STDIN"), io.StringIO(rows))
cur.execute(q("PREPARE ins (int, text) AS INSERT INTO {t} (id, {c}) VALUES ($1, $2)"))
for i in range(221, 231):
    cur.execute("EXECUTE ins (%s, %s)", (i, f"prep{i}@example.com"))
conn.commit()

# an application rewriting a row it loaded: the envelope goes back unchanged
cur.execute(q("SELECT {c}::text FROM {t} WHERE id = 201"))
envelope = cur.fetchone()[0]
cur.execute(q("UPDATE {t} SET {c} = %s WHERE id = 201"), (envelope,))
conn.commit()
report("rewrite", "accepted")
# the same envelope moved to another subject's row is refused
try:
    cur.execute(q("UPDATE {t} SET {c} = %s WHERE id = 204"), (envelope,))
    conn.commit()
    report("move", "accepted")
except psycopg2.Error as e:
    conn.rollback()
    report("move", f"{e.pgcode} {e.diag.message_primary}")
# a failed statement leaves nothing half-written
try:
    cur.execute(q("INSERT INTO {t} (id, {c}) VALUES (%s, %s), (%s, %s)"),
                (231, "x@example.com", 201, "dup@example.com"))
    conn.commit()
except psycopg2.Error as e:
    conn.rollback()
    report("duplicate", e.pgcode)

cur.execute("SELECT privacy_guard.set_purpose('support')")
cur.execute(q("SELECT id, privacy_guard.reveal({c}) FROM {t} WHERE id > 200 ORDER BY id"))
for i, v in cur.fetchall():
    report(f"reveal {i}", v)
conn.close()

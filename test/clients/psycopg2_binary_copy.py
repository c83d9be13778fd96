"""Binary COPY of plaintext rows into a protected table through psycopg2.

COPY ... FROM STDIN (FORMAT binary) with rows built as PostgreSQL's binary
COPY format (the file a `COPY ... TO (FORMAT binary)` of the plain table
writes): text, bytea and date fields in their binary send formats.
Usage: python3 psycopg2_binary_copy.py DSN TABLE
Prints one line per check, "name: result"; the TAP test compares them.
"""
import io
import struct
import sys
from datetime import date

import psycopg2
from psycopg2 import sql

dsn, table = sys.argv[1:3]


def field(b):
    return struct.pack('!i', len(b)) + b


def binary_copy(rows):
    out = io.BytesIO()
    out.write(b'PGCOPY\n\xff\r\n\0' + struct.pack('!ii', 0, 0))
    for rid, email, doc, born in rows:
        days = (born - date(2000, 1, 1)).days
        out.write(struct.pack('!h', 4))
        out.write(field(struct.pack('!i', rid)))
        out.write(field(email.encode('utf-8')))
        out.write(field(doc))
        out.write(field(struct.pack('!i', days)))
    out.write(struct.pack('!h', -1))
    out.seek(0)
    return out


conn = psycopg2.connect(dsn)
cur = conn.cursor()
rows = [(401, 'bin401@example.com', b'\x00\x01\x02', date(1980, 3, 4)),
        (402, 'bin402@example.com', b'\xff', date(2001, 12, 31))]
cur.copy_expert(sql.SQL('COPY {} (id, email, doc, born) FROM STDIN (FORMAT binary)').format(sql.Identifier(table)),
                binary_copy(rows))
conn.commit()
# a row that is not valid binary for its column type is refused, nothing half-written
try:
    bad = io.BytesIO(binary_copy([(403, 'x@example.com', b'', date(2000, 1, 1))]).getvalue().replace(
        struct.pack('!i', 4) + struct.pack('!i', (date(2000, 1, 1) - date(2000, 1, 1)).days),
        struct.pack('!i', 2) + b'\x00\x01'))
    cur.copy_expert(sql.SQL('COPY {} (id, email, doc, born) FROM STDIN (FORMAT binary)').format(sql.Identifier(table)),
                    bad)
    conn.commit()
    print('bad row: accepted')
except psycopg2.Error as e:
    conn.rollback()
    print('bad row: %s' % e.pgcode)
cur.execute("SELECT privacy_guard.set_purpose('support')")
cur.execute(sql.SQL('SELECT id, left(email::text, 8), privacy_guard.reveal(email), '
                    'encode(privacy_guard.reveal(doc), \'hex\'), privacy_guard.reveal(born) FROM {} ORDER BY id')
            .format(sql.Identifier(table)))
for rid, form, email, doc, born in cur.fetchall():
    print('reveal %d: %s %s %s %s' % (rid, form, email, doc, born))
conn.close()

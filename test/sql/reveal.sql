-- reveal(): the decision (purpose, grant, allowance, masking, erasure) and
-- the attacks on sealed values.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/fixture.psql

-- SETUP
CREATE TABLE people (
    id      int PRIMARY KEY,
    name    text,
    email   text,
    phone   text,
    address text,
    card    text,
    born    date,
    spent   numeric,
    prefs   jsonb,
    scan    bytea
);
INSERT INTO people VALUES
    (1, 'Ada King Lovelace', 'ada@example.com', '+44 20 7946 0018', '12 St James''s Square, London SW1Y 4JH',
     '4111 1111 1111 1111', '1815-12-10', 1234.56, '{"newsletter": true, "tags": ["math", "poetry"], "score": 87, "note": "likes engines"}', '\x0102'),
    (2, 'Émile Zola', 'e@example.fr', '0612345678', 'Paris', '5500-0000-0000-0004', '1840-04-02', 5, '"plain string"', '\x');
SELECT privacy_guard.protect('people', 'name', 'identity', 'id');
SELECT privacy_guard.protect('people', 'email', 'contact', 'id');
SELECT privacy_guard.protect('people', 'phone', 'phone', 'id');
SELECT privacy_guard.protect('people', 'address', 'address', 'id');
SELECT privacy_guard.protect('people', 'card', 'payment', 'id');
SELECT privacy_guard.protect('people', 'born', 'birth', 'id');
SELECT privacy_guard.protect('people', 'spent', 'spend', 'id');
SELECT privacy_guard.protect('people', 'prefs', 'browsing', 'id');
SELECT privacy_guard.protect('people', 'scan', 'document', 'id');
GRANT SELECT ON people TO app, courier, support_agent, marketer, analyst;
-- a second seven-letter category marketing may see, for the forged header below
SELECT privacy_guard.define_category('loyalty');
SELECT privacy_guard.allow('profile', 'loyalty');

-- TESTS
-- no purpose declared: refused, naming role and category, never the value
SET ROLE courier;
SELECT privacy_guard.reveal(address) FROM people WHERE id = 1;
-- the courier, for delivery: address and phone in full
SELECT privacy_guard.set_purpose('delivery');
SELECT id, privacy_guard.reveal(address) AS address, privacy_guard.reveal(phone) AS phone FROM people ORDER BY id;
-- and identity through the parent purpose's allowance
SELECT privacy_guard.reveal(name) FROM people WHERE id = 1;
-- but not the e-mail: the purpose is not allowed the category
SELECT privacy_guard.reveal(email) FROM people WHERE id = 1;
-- nor under a purpose the role was not granted, explicitly
SELECT privacy_guard.reveal(email, 'support') FROM people WHERE id = 1;
-- nor an unknown purpose
SELECT privacy_guard.reveal(email, 'no_such_purpose') FROM people WHERE id = 1;
RESET ROLE;

-- the declared purpose does not travel to another role
SET ROLE analyst;
SELECT privacy_guard.current_purpose();
SELECT privacy_guard.reveal(address) FROM people WHERE id = 1;
SELECT privacy_guard.reveal(address, 'delivery') FROM people WHERE id = 1;
-- a role with broad SELECT sees only envelopes
SELECT left(name::text, 8) = 'sealed1:' AS sealed FROM people WHERE id = 1;
RESET ROLE;
SELECT privacy_guard.reset_purpose();

-- support sees everything masked, each rule in the plaintext's own type
SET ROLE support_agent;
SELECT privacy_guard.set_purpose('support');
SELECT id, privacy_guard.reveal(name) AS name, privacy_guard.reveal(email) AS email,
       privacy_guard.reveal(phone) AS phone, privacy_guard.reveal(address) AS address,
       privacy_guard.reveal(card) AS card
  FROM people ORDER BY id;
SELECT id, privacy_guard.reveal(born) AS born, privacy_guard.reveal(spent) AS spent,
       privacy_guard.reveal(prefs) AS prefs, privacy_guard.reveal(scan) IS NULL AS scan_null
  FROM people ORDER BY id;
SELECT pg_typeof(privacy_guard.reveal(born)), pg_typeof(privacy_guard.reveal(spent)),
       pg_typeof(privacy_guard.reveal(prefs)), pg_typeof(privacy_guard.reveal(scan))
  FROM people WHERE id = 1;
RESET ROLE;

-- the profile purpose sees its categories in full, types preserved
SET ROLE marketer;
SELECT id, privacy_guard.reveal(email, 'profile') AS email, privacy_guard.reveal(born, 'profile') AS born,
       privacy_guard.reveal(spent, 'profile') AS spent, privacy_guard.reveal(prefs, 'profile') AS prefs,
       privacy_guard.reveal(scan, 'profile') AS scan
  FROM people ORDER BY id;
-- marketing requires consent, and none is recorded yet: NULL for every
-- customer, so a bulk marketing query gets no one's data
SELECT id, privacy_guard.reveal(email, 'marketing') IS NULL AS no_consent FROM people ORDER BY id;
-- payment is masked for order_fulfilment
SELECT privacy_guard.reveal(card, 'order_fulfilment') FROM people ORDER BY id;
RESET ROLE;

-- policy changes take effect at once
SELECT privacy_guard.allow('support', 'contact', 'full');
SET ROLE support_agent;
SELECT privacy_guard.reveal(email) FROM people WHERE id = 1;
RESET ROLE;
SELECT privacy_guard.revoke_purpose('support_agent', 'support');
SET ROLE support_agent;
SELECT privacy_guard.reveal(email) FROM people WHERE id = 1;
RESET ROLE;
SELECT privacy_guard.grant_purpose('support_agent', 'support');
-- so does role membership
REVOKE dispatch FROM courier;
SET ROLE courier;
SELECT privacy_guard.reveal(address, 'delivery') FROM people WHERE id = 1;
RESET ROLE;
GRANT dispatch TO courier;
SET ROLE courier;
SELECT privacy_guard.reveal(address, 'delivery') FROM people WHERE id = 1;
RESET ROLE;

-- attacks on sealed values
SELECT email AS ada_email FROM people WHERE id = 1 \gset
CREATE FUNCTION pg_temp.envelope(bytes bytea) RETURNS text LANGUAGE sql AS $$
    SELECT 'sealed1:' || translate(encode(bytes, 'base64'), E'\n', '') $$;
CREATE FUNCTION pg_temp.flip(env text, i int) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.envelope(set_byte(decode(substr(env, 9), 'base64'), i,
                                     get_byte(decode(substr(env, 9), 'base64'), i) # 1)) $$;
CREATE FUNCTION pg_temp.try_reveal(env text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN privacy_guard.reveal(env::privacy_guard.encrypted_text, 'profile');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SET ROLE marketer;
SELECT pg_temp.try_reveal(:'ada_email') AS untouched;
SELECT pg_temp.try_reveal(pg_temp.envelope(decode(substr(:'ada_email', 9), 'base64'))) AS rebuilt;
-- every single-bit change, at every offset, is refused; none reveals.
-- Header bytes: version (0), type (1), key id (2-9), category (10-17):
-- refused as malformed (22P02), as an unknown category (42501), or as a
-- key id that names no key (XX001: not NULL, as for an erased subject,
-- which would tell a tampered key id from an existing one).  Nonce,
-- ciphertext and tag changes fail authentication (XX001).
SELECT CASE WHEN i < 18 THEN 'header' ELSE 'nonce, ciphertext, tag' END AS region,
       pg_temp.try_reveal(pg_temp.flip(:'ada_email', i)) AS outcome, count(*)
  FROM generate_series(0, length(decode(substr(:'ada_email', 9), 'base64')) - 1) AS i
 GROUP BY 1, 2 ORDER BY 1, 2;
-- the header rewritten to another category the purpose may see: the tag
-- binds the category, so it fails authentication
SELECT pg_temp.try_reveal(pg_temp.envelope(overlay(decode(substr(:'ada_email', 9), 'base64')
                                                   PLACING convert_to('loyalty', 'UTF8') FROM 12 FOR 7)))
       AS category_forged;
-- a truncated envelope
SELECT privacy_guard.reveal(left(:'ada_email', 40)::privacy_guard.encrypted_text, 'profile');
RESET ROLE;
-- the same through OpenSSL alone: by default a cached key opens values with
-- its schedule expanded once by the extension's AES-NI code (src/aesgcm.c),
-- and both implementations open and refuse exactly the same bytes
SET privacy_guard.cipher = openssl;
SET ROLE marketer;
SELECT pg_temp.try_reveal(:'ada_email') AS untouched;
SELECT CASE WHEN i < 18 THEN 'header' ELSE 'nonce, ciphertext, tag' END AS region,
       pg_temp.try_reveal(pg_temp.flip(:'ada_email', i)) AS outcome, count(*)
  FROM generate_series(0, length(decode(substr(:'ada_email', 9), 'base64')) - 1) AS i
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT md5(string_agg(privacy_guard.reveal(email, 'profile'), ',' ORDER BY id)) AS openssl FROM people \gset
RESET ROLE;
RESET privacy_guard.cipher;
SET ROLE marketer;
SELECT md5(string_agg(privacy_guard.reveal(email, 'profile'), ',' ORDER BY id)) = :'openssl' AS same FROM people;
RESET ROLE;
SET ROLE marketer;
SET privacy_guard.cipher = openssl;
RESET ROLE;

-- values of every type and of every length from none to several AES
-- blocks (a searchable column's term lengthens the associated data),
-- sealed by the extension's AES-NI code (cipher auto) and by OpenSSL
-- (cipher openssl), each revealed by both: the same standard bytes
CREATE TABLE lengths (id int PRIMARY KEY, t text, b bytea, j jsonb, n numeric, d date);
SELECT privacy_guard.protect('lengths', 't', 'contact', 'id', searchable => true) IS NOT NULL AS t,
       privacy_guard.protect('lengths', 'b', 'document', 'id') IS NOT NULL AS b,
       privacy_guard.protect('lengths', 'j', 'browsing', 'id') IS NOT NULL AS j,
       privacy_guard.protect('lengths', 'n', 'spend', 'id') IS NOT NULL AS n,
       privacy_guard.protect('lengths', 'd', 'birth', 'id') IS NOT NULL AS d;
GRANT SELECT ON lengths TO marketer;
CREATE VIEW pg_temp.expected_lengths AS
    SELECT i AS id, repeat('é', i % 7) || repeat('x', i * 3) AS t, decode(repeat('a5', i * 2), 'hex') AS b,
           jsonb_build_object('k', repeat('y', i), 'i', i) AS j, i * 1.5 AS n, date '2000-01-01' + i AS d
      FROM generate_series(0, 199) AS i;
GRANT SELECT ON pg_temp.expected_lengths TO marketer;
RESET privacy_guard.cipher;
INSERT INTO lengths SELECT * FROM pg_temp.expected_lengths WHERE id < 100;
SET privacy_guard.cipher = openssl;
INSERT INTO lengths SELECT * FROM pg_temp.expected_lengths WHERE id >= 100;
SET ROLE marketer;
SELECT privacy_guard.set_purpose('profile');
-- OpenSSL opens both halves
SELECT count(*) FILTER (WHERE privacy_guard.reveal(l.t) = e.t AND privacy_guard.reveal(l.b) = e.b AND
                               privacy_guard.reveal(l.j) = e.j AND privacy_guard.reveal(l.n) = e.n AND
                               privacy_guard.reveal(l.d) = e.d) AS same, count(*) AS rows
  FROM lengths l JOIN pg_temp.expected_lengths e USING (id);
RESET ROLE;
RESET privacy_guard.cipher;
SET ROLE marketer;
-- and so does the AES-NI code
SELECT count(*) FILTER (WHERE privacy_guard.reveal(l.t) = e.t AND privacy_guard.reveal(l.b) = e.b AND
                               privacy_guard.reveal(l.j) = e.j AND privacy_guard.reveal(l.n) = e.n AND
                               privacy_guard.reveal(l.d) = e.d) AS same, count(*) AS rows
  FROM lengths l JOIN pg_temp.expected_lengths e USING (id);
-- a search finds a value sealed either way
SELECT id FROM lengths WHERE t OPERATOR(privacy_guard.=) privacy_guard.blind_index(repeat('é', 3) || repeat('x', 30), 'contact')
UNION ALL
SELECT id FROM lengths WHERE t OPERATOR(privacy_guard.=) privacy_guard.blind_index(repeat('é', 5) || repeat('x', 351), 'contact')
ORDER BY id;
RESET ROLE;

-- an erased subject (its data key destroyed) reveals NULL
UPDATE privacy_guard.keys SET master_version = NULL, wrapped = NULL, erased_at = now() WHERE kind = 'subject' AND name = '2';
SET ROLE marketer;
SELECT id, privacy_guard.reveal(email, 'profile') FROM people ORDER BY id;
RESET ROLE;
-- and its rows can no longer be written with sealed values of that key
UPDATE people SET email = email WHERE id = 2;
UPDATE people SET spent = 1 WHERE id = 2;

-- NULL reveals NULL
SELECT privacy_guard.reveal(NULL::privacy_guard.encrypted_text, 'profile');

-- a reveal above a parallel scan, with its caches to reload (a policy
-- change dropped them): the leader reloads them with the scan's snapshot
SELECT privacy_guard.define_category('birth', 'personal', 'year');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT id, privacy_guard.reveal(email, 'support') FROM people WHERE name IS NULL OR name IS NOT NULL ORDER BY id;
SELECT id, privacy_guard.reveal(email, 'support') FROM people WHERE name IS NULL OR name IS NOT NULL ORDER BY id;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- CLEANUP
DROP TABLE people;

-- sql/types.sql (src/types.c, src/envelope.c)
--   The encrypted types encrypted_text, encrypted_jsonb, encrypted_date,
--   encrypted_numeric and encrypted_bytea: their I/O functions (a sealed
--   value's text form is 'sealed1:' and base64) and the assignment casts
--   from the plaintext types; no cast back.  Values of searchable columns
--   compare by the search term their envelope carries: a btree operator
--   class on encrypted_text, with bytea (the term blind_index() returns) in
--   the same family.

-- Input is STABLE, not IMMUTABLE: plaintext input makes a value sealed under
-- this session's key (random nonce every time).  PARALLEL RESTRICTED: a
-- parallel worker has another session key and no declared purpose.

-- ANALYZE keeps the null fraction and width of encrypted columns, nothing
-- of their values (src/types.c)
CREATE FUNCTION privacy_guard.encrypted_typanalyze(internal) RETURNS boolean
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_typanalyze';
COMMENT ON FUNCTION privacy_guard.encrypted_typanalyze(internal) IS
    'ANALYZE of an encrypted column: null fraction and width only, no values';

CREATE TYPE privacy_guard.encrypted_text;
CREATE FUNCTION privacy_guard.encrypted_text_in(cstring) RETURNS privacy_guard.encrypted_text
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_text_in';
CREATE FUNCTION privacy_guard.encrypted_text_out(privacy_guard.encrypted_text) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_text_out';
CREATE FUNCTION privacy_guard.encrypted_text_recv(internal) RETURNS privacy_guard.encrypted_text
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_text_recv';
CREATE FUNCTION privacy_guard.encrypted_text_send(privacy_guard.encrypted_text) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_text_send';
CREATE TYPE privacy_guard.encrypted_text (
    INPUT = privacy_guard.encrypted_text_in, OUTPUT = privacy_guard.encrypted_text_out,
    RECEIVE = privacy_guard.encrypted_text_recv, SEND = privacy_guard.encrypted_text_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external, ANALYZE = privacy_guard.encrypted_typanalyze);

CREATE TYPE privacy_guard.encrypted_jsonb;
CREATE FUNCTION privacy_guard.encrypted_jsonb_in(cstring) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_in';
CREATE FUNCTION privacy_guard.encrypted_jsonb_out(privacy_guard.encrypted_jsonb) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_out';
CREATE FUNCTION privacy_guard.encrypted_jsonb_recv(internal) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_recv';
CREATE FUNCTION privacy_guard.encrypted_jsonb_send(privacy_guard.encrypted_jsonb) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_send';
CREATE TYPE privacy_guard.encrypted_jsonb (
    INPUT = privacy_guard.encrypted_jsonb_in, OUTPUT = privacy_guard.encrypted_jsonb_out,
    RECEIVE = privacy_guard.encrypted_jsonb_recv, SEND = privacy_guard.encrypted_jsonb_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external, ANALYZE = privacy_guard.encrypted_typanalyze);

CREATE TYPE privacy_guard.encrypted_date;
CREATE FUNCTION privacy_guard.encrypted_date_in(cstring) RETURNS privacy_guard.encrypted_date
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_date_in';
CREATE FUNCTION privacy_guard.encrypted_date_out(privacy_guard.encrypted_date) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_date_out';
CREATE FUNCTION privacy_guard.encrypted_date_recv(internal) RETURNS privacy_guard.encrypted_date
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_date_recv';
CREATE FUNCTION privacy_guard.encrypted_date_send(privacy_guard.encrypted_date) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_date_send';
CREATE TYPE privacy_guard.encrypted_date (
    INPUT = privacy_guard.encrypted_date_in, OUTPUT = privacy_guard.encrypted_date_out,
    RECEIVE = privacy_guard.encrypted_date_recv, SEND = privacy_guard.encrypted_date_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external, ANALYZE = privacy_guard.encrypted_typanalyze);

CREATE TYPE privacy_guard.encrypted_numeric;
CREATE FUNCTION privacy_guard.encrypted_numeric_in(cstring) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_in';
CREATE FUNCTION privacy_guard.encrypted_numeric_out(privacy_guard.encrypted_numeric) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_out';
CREATE FUNCTION privacy_guard.encrypted_numeric_recv(internal) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_recv';
CREATE FUNCTION privacy_guard.encrypted_numeric_send(privacy_guard.encrypted_numeric) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_send';
CREATE TYPE privacy_guard.encrypted_numeric (
    INPUT = privacy_guard.encrypted_numeric_in, OUTPUT = privacy_guard.encrypted_numeric_out,
    RECEIVE = privacy_guard.encrypted_numeric_recv, SEND = privacy_guard.encrypted_numeric_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external, ANALYZE = privacy_guard.encrypted_typanalyze);

CREATE TYPE privacy_guard.encrypted_bytea;
CREATE FUNCTION privacy_guard.encrypted_bytea_in(cstring) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_in';
CREATE FUNCTION privacy_guard.encrypted_bytea_out(privacy_guard.encrypted_bytea) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_out';
CREATE FUNCTION privacy_guard.encrypted_bytea_recv(internal) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_recv';
CREATE FUNCTION privacy_guard.encrypted_bytea_send(privacy_guard.encrypted_bytea) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_send';
CREATE TYPE privacy_guard.encrypted_bytea (
    INPUT = privacy_guard.encrypted_bytea_in, OUTPUT = privacy_guard.encrypted_bytea_out,
    RECEIVE = privacy_guard.encrypted_bytea_recv, SEND = privacy_guard.encrypted_bytea_send,
    INTERNALLENGTH = VARIABLE, STORAGE = external, ANALYZE = privacy_guard.encrypted_typanalyze);

COMMENT ON TYPE privacy_guard.encrypted_text IS 'text sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_jsonb IS 'jsonb sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_date IS 'date sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_numeric IS 'numeric sealed with AES-256-GCM under its subject''s key; prints as its envelope';
COMMENT ON TYPE privacy_guard.encrypted_bytea IS 'bytea sealed with AES-256-GCM under its subject''s key; prints as its envelope';

-- Assignment casts from the plaintext types, so that applications writing
-- typed parameters (text, varchar, jsonb, date, numeric, integers, bytea)
-- keep their SQL.  The result is a pending value that only the write path
-- seals.  There is deliberately no cast back.
CREATE FUNCTION privacy_guard.encrypted_text(text) RETURNS privacy_guard.encrypted_text
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_text_from_plain';
CREATE FUNCTION privacy_guard.encrypted_jsonb(jsonb) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_jsonb_from_plain';
CREATE FUNCTION privacy_guard.encrypted_date(date) RETURNS privacy_guard.encrypted_date
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_date_from_plain';
CREATE FUNCTION privacy_guard.encrypted_numeric(numeric) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_numeric_from_plain';
CREATE FUNCTION privacy_guard.encrypted_numeric(integer) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_int4_to_encrypted_numeric';
CREATE FUNCTION privacy_guard.encrypted_numeric(bigint) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_int8_to_encrypted_numeric';
CREATE FUNCTION privacy_guard.encrypted_bytea(bytea) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_encrypted_bytea_from_plain';

CREATE CAST (text AS privacy_guard.encrypted_text) WITH FUNCTION privacy_guard.encrypted_text(text) AS ASSIGNMENT;
CREATE CAST (varchar AS privacy_guard.encrypted_text) WITH FUNCTION privacy_guard.encrypted_text(text) AS ASSIGNMENT;
CREATE CAST (jsonb AS privacy_guard.encrypted_jsonb) WITH FUNCTION privacy_guard.encrypted_jsonb(jsonb) AS ASSIGNMENT;
CREATE CAST (date AS privacy_guard.encrypted_date) WITH FUNCTION privacy_guard.encrypted_date(date) AS ASSIGNMENT;
CREATE CAST (numeric AS privacy_guard.encrypted_numeric) WITH FUNCTION privacy_guard.encrypted_numeric(numeric) AS ASSIGNMENT;
CREATE CAST (integer AS privacy_guard.encrypted_numeric) WITH FUNCTION privacy_guard.encrypted_numeric(integer) AS ASSIGNMENT;
CREATE CAST (bigint AS privacy_guard.encrypted_numeric) WITH FUNCTION privacy_guard.encrypted_numeric(bigint) AS ASSIGNMENT;
CREATE CAST (bytea AS privacy_guard.encrypted_bytea) WITH FUNCTION privacy_guard.encrypted_bytea(bytea) AS ASSIGNMENT;

-- The I/O functions and casts of the five types are alike but for the type:
-- their comments are too.
DO $$
DECLARE
    t text;
    enc text;
BEGIN
    FOREACH t IN ARRAY ARRAY['text', 'jsonb', 'date', 'numeric', 'bytea'] LOOP
        enc := 'encrypted_' || t;
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.%I(pg_catalog.cstring) IS %L', enc || '_in',
            'text input of ' || enc || ': an envelope (sealed1:...) is checked and kept; anything else is plaintext '
            'that becomes a pending value only the write path seals');
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.%I(privacy_guard.%I) IS %L', enc || '_out', enc,
            'text output of ' || enc || ': the envelope, never the plaintext; refuses a pending value');
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.%I(pg_catalog.internal) IS %L', enc || '_recv',
            'binary input of ' || enc || ': the envelope''s bytes');
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.%I(privacy_guard.%I) IS %L', enc || '_send', enc,
            'binary output of ' || enc || ': the envelope''s bytes; refuses a pending value');
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.%I(pg_catalog.%I) IS %L', enc, t,
            'assignment cast from ' || t || ': a pending value that only the write path seals');
        EXECUTE pg_catalog.format('COMMENT ON CAST (pg_catalog.%I AS privacy_guard.%I) IS %L', t, enc,
            'lets applications write ' || t || ' into a protected column unchanged; the write path seals it');
    END LOOP;
END
$$;
COMMENT ON FUNCTION privacy_guard.encrypted_numeric(integer) IS
    'assignment cast from integer: a pending value that only the write path seals';
COMMENT ON FUNCTION privacy_guard.encrypted_numeric(bigint) IS
    'assignment cast from bigint: a pending value that only the write path seals';
COMMENT ON CAST (varchar AS privacy_guard.encrypted_text) IS
    'lets applications write varchar into a protected column unchanged; the write path seals it';
COMMENT ON CAST (integer AS privacy_guard.encrypted_numeric) IS
    'lets applications write integer into a protected column unchanged; the write path seals it';
COMMENT ON CAST (bigint AS privacy_guard.encrypted_numeric) IS
    'lets applications write bigint into a protected column unchanged; the write path seals it';

-- The five, for the SQL that must tell an encrypted column by its type's OID.
CREATE FUNCTION privacy_guard.encrypted_types() RETURNS regtype[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT ARRAY['privacy_guard.encrypted_text'::regtype, 'privacy_guard.encrypted_jsonb'::regtype,
                 'privacy_guard.encrypted_date'::regtype, 'privacy_guard.encrypted_numeric'::regtype,
                 'privacy_guard.encrypted_bytea'::regtype]
$fn$;
COMMENT ON FUNCTION privacy_guard.encrypted_types() IS 'the encrypted types, by OID';

-- Comparison by search term (src/types.c).  Only values of searchable
-- columns carry one; any other value (plaintext, a sealed value of another
-- column) refuses to compare.  The order is that of the terms: meaningless,
-- but a total order, so that btree indexes, UNIQUE constraints, ON CONFLICT,
-- DISTINCT and merge joins work on the column itself; equality is equality
-- of plaintext within the category.  A search compares with plaintext
-- (WHERE col = 'value' or = $1: the term of the plaintext under the stored
-- value's category, after the same checks as blind_index(), once per
-- statement), or with the bytea privacy_guard.blind_index(value, category)
-- returns.  A match names its subject in the statement's search group,
-- under the session's purpose, and plaintext is pending under this
-- backend's session key: all run in the leader only (PARALLEL RESTRICTED).  All
-- are STABLE, not IMMUTABLE: a search is checked and audited when it runs,
-- never folded into a plan, nor put in an index's predicate (where the
-- planner's proof would remove a search's comparison).  The ordering
-- operators refuse plaintext.
DO $$
DECLARE
    sig text;
    args text[][] := ARRAY[
        ['', 'privacy_guard.encrypted_text', 'privacy_guard.encrypted_text'],
        ['_term', 'privacy_guard.encrypted_text', 'pg_catalog.bytea'],
        ['_term_first', 'pg_catalog.bytea', 'privacy_guard.encrypted_text']];
    ops text[][] := ARRAY[['eq', '=', '=', '<>', 'eqsel', 'eqjoinsel'], ['ne', '<>', '<>', '=', 'neqsel', 'neqjoinsel'],
                          ['lt', '<', '>', '>=', 'scalarltsel', 'scalarltjoinsel'],
                          ['le', '<=', '>=', '>', 'scalarlesel', 'scalarlejoinsel'],
                          ['gt', '>', '<', '<=', 'scalargtsel', 'scalargtjoinsel'],
                          ['ge', '>=', '<=', '<', 'scalargesel', 'scalargejoinsel']];
BEGIN
    FOR i IN 1..3 LOOP
        sig := pg_catalog.format('%s, %s', args[i][2], args[i][3]);
        EXECUTE pg_catalog.format(
            'CREATE FUNCTION privacy_guard.encrypted_cmp%s(%s) RETURNS integer '
            'LANGUAGE C %s STRICT PARALLEL %s AS %L, %L',
            args[i][1], sig, 'STABLE',
            'RESTRICTED', 'MODULE_PATHNAME', 'pguard_encrypted_cmp' || args[i][1]);
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.encrypted_cmp%s(%s) IS %L', args[i][1], sig,
            'btree comparison of search terms (of plaintext too, checked as a search); refuses values that carry none');
        FOR j IN 1..6 LOOP
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION privacy_guard.encrypted_%s%s(%s) RETURNS boolean '
                'LANGUAGE C %s STRICT PARALLEL %s AS %L, %L',
                ops[j][1], args[i][1], sig, 'STABLE',
                'RESTRICTED', 'MODULE_PATHNAME', 'pguard_encrypted_' || ops[j][1] || args[i][1]);
            EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.encrypted_%s%s(%s) IS %L',
                ops[j][1], args[i][1], sig, 'search-term comparison ' || ops[j][2]);
            EXECUTE pg_catalog.format(
                'CREATE OPERATOR privacy_guard.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = privacy_guard.encrypted_%s%s, '
                'COMMUTATOR = OPERATOR(privacy_guard.%s), NEGATOR = OPERATOR(privacy_guard.%s), '
                'RESTRICT = pg_catalog.%s, JOIN = pg_catalog.%s)',
                ops[j][2], args[i][2], args[i][3], ops[j][1], args[i][1], ops[j][3], ops[j][4], ops[j][5], ops[j][6]);
            EXECUTE pg_catalog.format('COMMENT ON OPERATOR privacy_guard.%s (%s) IS %L', ops[j][2], sig,
                'compares search terms (values of searchable columns, privacy_guard.blind_index())');
        END LOOP;
    END LOOP;
END
$$;

CREATE OPERATOR CLASS privacy_guard.encrypted_text_ops
    DEFAULT FOR TYPE privacy_guard.encrypted_text USING btree AS
        OPERATOR 1 privacy_guard.< ,
        OPERATOR 2 privacy_guard.<= ,
        OPERATOR 3 privacy_guard.= ,
        OPERATOR 4 privacy_guard.>= ,
        OPERATOR 5 privacy_guard.> ,
        FUNCTION 1 privacy_guard.encrypted_cmp(privacy_guard.encrypted_text, privacy_guard.encrypted_text);
ALTER OPERATOR FAMILY privacy_guard.encrypted_text_ops USING btree ADD
    OPERATOR 1 privacy_guard.< (privacy_guard.encrypted_text, pg_catalog.bytea),
    OPERATOR 2 privacy_guard.<= (privacy_guard.encrypted_text, pg_catalog.bytea),
    OPERATOR 3 privacy_guard.= (privacy_guard.encrypted_text, pg_catalog.bytea),
    OPERATOR 4 privacy_guard.>= (privacy_guard.encrypted_text, pg_catalog.bytea),
    OPERATOR 5 privacy_guard.> (privacy_guard.encrypted_text, pg_catalog.bytea),
    FUNCTION 1 (privacy_guard.encrypted_text, pg_catalog.bytea)
        privacy_guard.encrypted_cmp_term(privacy_guard.encrypted_text, pg_catalog.bytea),
    OPERATOR 1 privacy_guard.< (pg_catalog.bytea, privacy_guard.encrypted_text),
    OPERATOR 2 privacy_guard.<= (pg_catalog.bytea, privacy_guard.encrypted_text),
    OPERATOR 3 privacy_guard.= (pg_catalog.bytea, privacy_guard.encrypted_text),
    OPERATOR 4 privacy_guard.>= (pg_catalog.bytea, privacy_guard.encrypted_text),
    OPERATOR 5 privacy_guard.> (pg_catalog.bytea, privacy_guard.encrypted_text),
    FUNCTION 1 (pg_catalog.bytea, privacy_guard.encrypted_text)
        privacy_guard.encrypted_cmp_term_first(pg_catalog.bytea, privacy_guard.encrypted_text),
    -- an index scan for col = ANY(ARRAY[terms]) sorts the terms
    FUNCTION 1 (pg_catalog.bytea, pg_catalog.bytea) pg_catalog.byteacmp(pg_catalog.bytea, pg_catalog.bytea);
COMMENT ON OPERATOR CLASS privacy_guard.encrypted_text_ops USING btree IS
    'orders values of searchable columns by search term; with blind_index()''s bytea in its family';
COMMENT ON OPERATOR FAMILY privacy_guard.encrypted_text_ops USING btree IS
    'search terms of encrypted_text values, and the bytea terms blind_index() returns';

-- Plaintext an application typed text or varchar (a driver's parameter),
-- compared with an encrypted_text: the planner makes it the comparison
-- with the plaintext as an encrypted_text (the support function), which an
-- index of the column scans, checked and recorded as a search.  Only = and
-- <>, outside the operator family: nothing orders plaintext against terms.
CREATE FUNCTION privacy_guard.encrypted_plain_support(internal) RETURNS internal
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'pguard_encrypted_plain_support';
COMMENT ON FUNCTION privacy_guard.encrypted_plain_support(internal) IS
    'planner support: an encrypted_text compared with text becomes the comparison with privacy_guard.encrypted_text(text)';
DO $$
DECLARE
    sig text;
    -- varchar too: an operator of another schema made for it would otherwise
    -- be an exact match that ours (by varchar's implicit cast) is not
    args text[][] := ARRAY[
        ['_plain', 'privacy_guard.encrypted_text', 'pg_catalog.text'],
        ['_plain_first', 'pg_catalog.text', 'privacy_guard.encrypted_text'],
        ['_plain', 'privacy_guard.encrypted_text', 'pg_catalog.varchar'],
        ['_plain_first', 'pg_catalog.varchar', 'privacy_guard.encrypted_text']];
    ops text[][] := ARRAY[['eq', '=', '=', '<>', 'eqsel', 'eqjoinsel'], ['ne', '<>', '<>', '=', 'neqsel', 'neqjoinsel']];
BEGIN
    FOR i IN 1..4 LOOP
        sig := pg_catalog.format('%s, %s', args[i][2], args[i][3]);
        FOR j IN 1..2 LOOP
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION privacy_guard.encrypted_%s%s(%s) RETURNS boolean '
                'LANGUAGE C STABLE STRICT PARALLEL RESTRICTED SUPPORT privacy_guard.encrypted_plain_support AS %L, %L',
                ops[j][1], args[i][1], sig, 'MODULE_PATHNAME', 'pguard_encrypted_' || ops[j][1] || args[i][1]);
            EXECUTE pg_catalog.format('COMMENT ON FUNCTION privacy_guard.encrypted_%s%s(%s) IS %L',
                ops[j][1], args[i][1], sig, 'plaintext against a search term, checked as a search: ' || ops[j][2]);
            EXECUTE pg_catalog.format(
                'CREATE OPERATOR privacy_guard.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = privacy_guard.encrypted_%s%s, '
                'COMMUTATOR = OPERATOR(privacy_guard.%s), NEGATOR = OPERATOR(privacy_guard.%s), '
                'RESTRICT = pg_catalog.%s, JOIN = pg_catalog.%s)',
                ops[j][2], args[i][2], args[i][3], ops[j][1], args[i][1], ops[j][3], ops[j][4], ops[j][5], ops[j][6]);
            EXECUTE pg_catalog.format('COMMENT ON OPERATOR privacy_guard.%s (%s) IS %L', ops[j][2], sig,
                'plaintext (a text or varchar parameter) against a searchable column, checked and recorded as a search');
        END LOOP;
    END LOOP;
END
$$;

-- An unsealed value (plaintext given to an encrypted type) is stored
-- nowhere but through a protected column's sealing trigger: the planner
-- wraps every value written to an encrypted column that nothing seals (and
-- CREATE TABLE AS's encrypted columns) in sealed_only(), which passes
-- envelopes and refuses the rest (src/unsealed.c).
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_text, target text) RETURNS privacy_guard.encrypted_text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_sealed_only';
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_jsonb, target text) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_sealed_only';
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_date, target text) RETURNS privacy_guard.encrypted_date
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_sealed_only';
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_numeric, target text) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_sealed_only';
CREATE FUNCTION privacy_guard.sealed_only(value privacy_guard.encrypted_bytea, target text) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_sealed_only';
COMMENT ON FUNCTION privacy_guard.sealed_only(privacy_guard.encrypted_text, text) IS
    'the value if sealed; an unsealed value is refused (written where nothing seals it)';
COMMENT ON FUNCTION privacy_guard.sealed_only(privacy_guard.encrypted_jsonb, text) IS
    'the value if sealed; an unsealed value is refused (written where nothing seals it)';
COMMENT ON FUNCTION privacy_guard.sealed_only(privacy_guard.encrypted_date, text) IS
    'the value if sealed; an unsealed value is refused (written where nothing seals it)';
COMMENT ON FUNCTION privacy_guard.sealed_only(privacy_guard.encrypted_numeric, text) IS
    'the value if sealed; an unsealed value is refused (written where nothing seals it)';
COMMENT ON FUNCTION privacy_guard.sealed_only(privacy_guard.encrypted_bytea, text) IS
    'the value if sealed; an unsealed value is refused (written where nothing seals it)';

-- sql/writepath.sql (src/writepath.c, src/guard.c)
--   The write path: protect() converts a column in place to its encrypted
--   type, with a CHECK constraint and a BEFORE trigger that seals every
--   later write of plaintext under the row's subject key; seal() for
--   explicit sealing; search terms for searchable columns; the catalog of
--   protected columns, its view, and forgetting dropped tables.

CREATE TABLE privacy_guard.column_protection (
    tbl          regclass NOT NULL,
    col          name NOT NULL,
    category     text NOT NULL,   -- a category's name (see policy_references())
    subject_col  name NOT NULL,
    searchable   boolean NOT NULL DEFAULT false,   -- its values carry search terms
    protected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tbl, col)
);
COMMENT ON TABLE privacy_guard.column_protection IS 'columns converted by protect()';
-- Nobody but the extension's owner reads or writes it; pg_dump keeps it.
REVOKE ALL ON privacy_guard.column_protection FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy_guard.column_protection', '');

-- Explicit sealing.
CREATE FUNCTION privacy_guard.seal(value text, category text, subject text) RETURNS privacy_guard.encrypted_text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_text';
CREATE FUNCTION privacy_guard.seal(value jsonb, category text, subject text) RETURNS privacy_guard.encrypted_jsonb
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_jsonb';
CREATE FUNCTION privacy_guard.seal(value date, category text, subject text) RETURNS privacy_guard.encrypted_date
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_date';
CREATE FUNCTION privacy_guard.seal(value numeric, category text, subject text) RETURNS privacy_guard.encrypted_numeric
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_numeric';
CREATE FUNCTION privacy_guard.seal(value bytea, category text, subject text) RETURNS privacy_guard.encrypted_bytea
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_bytea';
COMMENT ON FUNCTION privacy_guard.seal(text, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(jsonb, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(date, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(numeric, text, text) IS 'seal a value for a subject under a category';
COMMENT ON FUNCTION privacy_guard.seal(bytea, text, text) IS 'seal a value for a subject under a category';

-- Search terms.  A searchable column's values carry theirs, computed when
-- plaintext is sealed; blind_index() computes the same for a search, as a
-- use of the category (purpose, lockdown, audit).  seal_searchable() is
-- protect()'s way to seal a searchable column's existing rows.
CREATE FUNCTION privacy_guard.blind_index(value text, category text) RETURNS bytea
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_blind_index';
COMMENT ON FUNCTION privacy_guard.blind_index(text, text) IS
    'search term for a searchable column: WHERE col = privacy_guard.blind_index(value, category)';
CREATE FUNCTION privacy_guard.seal_searchable(value text, category text, subject text) RETURNS privacy_guard.encrypted_text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_seal_searchable';
REVOKE ALL ON FUNCTION privacy_guard.seal_searchable(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.seal_searchable(text, text, text) IS
    'seal a value with its search term, as protect() seals a searchable column''s rows';

-- The CHECK constraint protect() adds: holds even when triggers do not fire.
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_text, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_jsonb, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_date, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_numeric, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_bytea, category text, subject text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_text, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
CREATE FUNCTION privacy_guard.check_sealed(value privacy_guard.encrypted_text, category text, subject text,
                                           searchable boolean) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_check_sealed';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_text, text, text, boolean) IS
    'CHECK on a searchable column: as check_sealed(value, category, subject), and the value carries its own search term';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_jsonb, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_date, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_numeric, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';
COMMENT ON FUNCTION privacy_guard.check_sealed(privacy_guard.encrypted_bytea, text, text) IS
    'CHECK on a protected column: refuses plaintext and envelopes of another category or subject';

-- The sealing trigger protect() installs; it cannot be called directly.
CREATE FUNCTION privacy_guard.seal_row() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_seal_row';
REVOKE ALL ON FUNCTION privacy_guard.seal_row() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.seal_row() IS
    'BEFORE ROW trigger: seals plaintext written to protected columns, with search terms where searchable';

-- protect()'s catalog step, as the extension's owner.
CREATE FUNCTION privacy_guard.register_protection(tbl regclass, col name, category text,
                                                  subject_col name, searchable boolean) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_register_protection';
REVOKE ALL ON FUNCTION privacy_guard.register_protection(regclass, name, text, name, boolean) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.register_protection(regclass, name, text, name, boolean) IS
    'protect()''s catalog step: checks the caller owns the table, records the column, returns the trigger arguments';

-- Row-security policies of a table with protected columns may use only
-- built-in functions and operators (src/guard.c): a policy runs as whoever
-- reads or writes the table, with the purpose they declared.  protect()
-- checks a table's policies; the guard checks each policy created later.
CREATE FUNCTION privacy_guard.check_policies(tbl regclass) RETURNS void
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'pguard_check_policies';
REVOKE ALL ON FUNCTION privacy_guard.check_policies(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.check_policies(regclass) IS
    'refuse a table whose row-security policies call functions that are not built in';

-- protect() runs with the caller's rights (SECURITY INVOKER): PostgreSQL
-- itself requires ownership of the table for the ALTERs, and the USING and
-- CHECK expressions never run with more rights than the caller has.  The
-- table's own code that a rewrite runs (index expressions and predicates)
-- runs as the table's owner, as PostgreSQL builds every index.  Only
-- register_protection() writes the catalog, as the extension's owner.
CREATE FUNCTION privacy_guard.protect(tbl regclass, col name, category text, subject_col name,
                                      searchable boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    rel record;
    att record;
    subj record;
    idx record;
    enc_type text;
    plain_type text;
    names text;
    col_indexes oid[];
    moved jsonb := '[]';
    m jsonb;
    trig_args text;
BEGIN
    IF tbl IS NULL OR col IS NULL OR category IS NULL OR subject_col IS NULL THEN
        RAISE EXCEPTION 'protect() needs a table, a column, a category and a subject column'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT c.relkind, c.relowner INTO rel FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
    IF rel.relkind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION '"%" is not an ordinary table', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Only ordinary tables can be protected.';
    END IF;
    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Locked before it is looked at, until the rewrite: its owner cannot
    -- retype a column (whose cast the rewrite would run with the caller's
    -- rights) or add an inheritance child between the checks and the ALTERs.
    PERFORM privacy_guard.lock_relation(tbl, true, 'protect');
    -- The ALTERs would reach inheritance children, and check their
    -- constraints with the caller's rights; and a child's rows would be
    -- written past the parent's sealing trigger.
    IF EXISTS (SELECT FROM pg_inherits i
                WHERE i.inhparent OPERATOR(pg_catalog.=) tbl OR i.inhrelid OPERATOR(pg_catalog.=) tbl) THEN
        RAISE EXCEPTION 'cannot protect a column of relation %: it is part of an inheritance tree', tbl
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Protect tables that have no inheritance parents or children.';
    END IF;
    -- A rule rewrites the application's writes before any trigger sees them
    -- (and could send their plaintext to a column of another category).
    IF EXISTS (SELECT FROM pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) tbl) THEN
        RAISE EXCEPTION 'cannot protect a column of relation %: it has rules', tbl
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the rules first; the guard refuses new ones on a table with protected columns.';
    END IF;
    PERFORM privacy_guard.check_policies(tbl);

    SELECT a.attnum, a.atttypid, a.attgenerated, a.attidentity, t.typnamespace INTO att
      FROM pg_attribute a JOIN pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) col
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF att.typnamespace OPERATOR(pg_catalog.=) 'privacy_guard'::regnamespace THEN
        IF EXISTS (SELECT FROM privacy_guard.protected_columns p
                     JOIN pg_catalog.pg_class c ON c.relname OPERATOR(pg_catalog.=) p.table_name
                     JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                    WHERE c.oid OPERATOR(pg_catalog.=) tbl AND n.nspname OPERATOR(pg_catalog.=) p.table_schema
                      AND p.column_name OPERATOR(pg_catalog.=) col) THEN
            RAISE EXCEPTION 'column "%" of relation % is already protected', col, tbl USING ERRCODE = 'duplicate_object';
        END IF;
        -- declared with an encrypted type (ALTER TABLE ... ADD COLUMN): no category or subject
        RAISE EXCEPTION 'column "%" of relation % has type % but is not protected', col, tbl,
                        format_type(att.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'protect() turns a column of plaintext type into a protected one: declare the column as text, jsonb, date, numeric or bytea, then protect it.';
    END IF;
    IF att.attgenerated OPERATOR(pg_catalog.<>) '' OR att.attidentity OPERATOR(pg_catalog.<>) '' THEN
        RAISE EXCEPTION 'cannot protect generated or identity column "%"', col USING ERRCODE = 'feature_not_supported';
    END IF;
    CASE att.atttypid
        WHEN 'text'::regtype, 'varchar'::regtype, 'bpchar'::regtype THEN enc_type := 'encrypted_text'; plain_type := 'text';
        WHEN 'jsonb'::regtype, 'json'::regtype THEN enc_type := 'encrypted_jsonb'; plain_type := 'jsonb';
        WHEN 'date'::regtype THEN enc_type := 'encrypted_date'; plain_type := 'date';
        WHEN 'numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype THEN
            enc_type := 'encrypted_numeric'; plain_type := 'numeric';
        WHEN 'bytea'::regtype THEN enc_type := 'encrypted_bytea'; plain_type := 'bytea';
        ELSE
            RAISE EXCEPTION 'cannot protect column "%" of type %', col, format_type(att.atttypid, NULL)
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Protected columns hold text, varchar, char, json, jsonb, date, numeric, integers or bytea.';
    END CASE;
    IF searchable AND enc_type OPERATOR(pg_catalog.<>) 'encrypted_text' THEN
        RAISE EXCEPTION 'only text columns can be searchable' USING ERRCODE = 'feature_not_supported';
    END IF;
    IF octet_length(col) OPERATOR(pg_catalog.+) length('_sealed') OPERATOR(pg_catalog.>) 63 THEN
        RAISE EXCEPTION 'column name "%" is too long to protect', col
            USING ERRCODE = 'name_too_long',
                  HINT = 'protect() adds the constraint <column>_sealed; rename the column to 56 bytes or fewer.';
    END IF;

    SELECT a.attnum, a.atttypid INTO subj
      FROM pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) subject_col
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subject column "%" of relation % does not exist', subject_col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF subject_col OPERATOR(pg_catalog.=) col THEN
        RAISE EXCEPTION 'subject column "%" cannot itself be protected', subject_col
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The subject column identifies whose key seals the value; use an id, not personal data.';
    END IF;
    IF privacy_guard.subject_cast(subj.atttypid) IS NULL THEN
        RAISE EXCEPTION 'subject column "%" of relation % has type %', subject_col, tbl, format_type(subj.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'A subject column is text, varchar, char, smallint, integer, bigint or uuid: an id, not personal data.';
    END IF;

    -- Views would keep exposing the plaintext column's old type.
    SELECT string_agg(DISTINCT r.ev_class::regclass::text, ', ') INTO names
      FROM pg_depend d JOIN pg_rewrite r ON r.oid OPERATOR(pg_catalog.=) d.objid
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_rewrite'::regclass
       AND d.refclassid OPERATOR(pg_catalog.=) 'pg_class'::regclass
       AND d.refobjid OPERATOR(pg_catalog.=) tbl AND d.refobjsubid OPERATOR(pg_catalog.=) att.attnum
       AND r.ev_class OPERATOR(pg_catalog.<>) tbl;
    IF names IS NOT NULL THEN
        RAISE EXCEPTION 'cannot protect column "%" of relation %: views depend on it', col, tbl
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = format('Drop %s, protect the column, then recreate the view with privacy_guard.reveal() where plaintext is needed.', names);
    END IF;

    -- Foreign keys and CHECK constraints compare plaintext: they cannot follow.
    SELECT string_agg(c.conname::text, ', ') INTO names
      FROM pg_constraint c
     WHERE (c.contype OPERATOR(pg_catalog.=) 'f' AND
            ((c.conrelid OPERATOR(pg_catalog.=) tbl AND att.attnum OPERATOR(pg_catalog.=) ANY (c.conkey)) OR
             (c.confrelid OPERATOR(pg_catalog.=) tbl AND att.attnum OPERATOR(pg_catalog.=) ANY (c.confkey))))
        OR (c.contype OPERATOR(pg_catalog.=) 'c' AND c.conrelid OPERATOR(pg_catalog.=) tbl
            AND att.attnum OPERATOR(pg_catalog.=) ANY (c.conkey));
    IF names IS NOT NULL THEN
        RAISE EXCEPTION 'cannot protect column "%" of relation %: constraints % depend on it', col, tbl, names
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop those foreign key or CHECK constraints first; a protected column cannot be compared in plaintext.';
    END IF;

    -- Indexes and UNIQUE constraints of a searchable column are rebuilt on
    -- its search terms (the column's default operator class); otherwise
    -- they refuse.
    SELECT array_agg(i.indexrelid) INTO col_indexes
      FROM pg_index i
     WHERE i.indrelid OPERATOR(pg_catalog.=) tbl
       AND (att.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::int2[])
            OR EXISTS (SELECT FROM pg_depend d
                        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass
                          AND d.objid OPERATOR(pg_catalog.=) i.indexrelid
                          AND d.refobjid OPERATOR(pg_catalog.=) tbl
                          AND d.refobjsubid OPERATOR(pg_catalog.=) att.attnum));
    SELECT string_agg(x::regclass::text, ', ' ORDER BY n) INTO names FROM unnest(col_indexes) WITH ORDINALITY u(x, n);
    IF names IS NOT NULL AND NOT searchable THEN
        RAISE EXCEPTION 'cannot protect column "%" of relation %: indexes % depend on it', col, tbl, names
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = format('Pass searchable => true to keep %s on the column''s search terms, or drop them first.', names);
    END IF;
    FOR idx IN
        SELECT i.indexrelid, ic.relname AS idxname, i.indisunique, i.indisprimary, i.indnatts,
               i.indexprs IS NOT NULL OR i.indpred IS NOT NULL AS complex, am.amname,
               con.conname, con.contype
          FROM pg_index i
          JOIN pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
          JOIN pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam
          LEFT JOIN pg_constraint con ON con.conindid OPERATOR(pg_catalog.=) i.indexrelid
               AND con.conrelid OPERATOR(pg_catalog.=) tbl
         WHERE i.indexrelid OPERATOR(pg_catalog.=) ANY (col_indexes)
    LOOP
        IF idx.indisprimary OR idx.indnatts OPERATOR(pg_catalog.<>) 1 OR idx.complex
           OR idx.amname NOT IN ('btree', 'hash') OR idx.contype IN ('x') THEN
            RAISE EXCEPTION 'cannot keep index "%" of column "%" on its search terms', idx.idxname, col
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'Only single-column btree or hash indexes and UNIQUE constraints are kept (as btree); drop this one first.';
        END IF;
        moved := moved || jsonb_build_array(jsonb_build_object(
            'idxname', idx.idxname, 'unique', idx.indisunique, 'conname', idx.conname,
            'contype', idx.contype, 'amname', idx.amname));
        IF idx.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, idx.conname);
        ELSE
            EXECUTE format('DROP INDEX %s', idx.indexrelid::regclass);
        END IF;
    END LOOP;

    -- One rewrite: seal every row (with its search term when searchable)
    -- and add the CHECK that refuses unsealed writes.  The table gets a new
    -- file; the old one, with the plaintext, is dropped at commit.
    -- privacy_guard.progress counts the values sealed.
    PERFORM privacy_guard.progress_begin('protect', 'sealing values', tbl,
        (SELECT CASE WHEN c.reltuples OPERATOR(pg_catalog.>=) 0 THEN c.reltuples::bigint END
           FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl));
    IF searchable THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE privacy_guard.encrypted_text '
                       'USING privacy_guard.seal_searchable(%I::text, %L, %I::text), '
                       'ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text, true))',
                       tbl, col, col, category, subject_col,
                       col || '_sealed', col, category, subject_col);
    ELSE
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE privacy_guard.%I USING privacy_guard.seal(%I::%s, %L, %I::text), '
                       'ADD CONSTRAINT %I CHECK (privacy_guard.check_sealed(%I, %L, %I::text))',
                       tbl, col, enc_type, col, plain_type, category, subject_col,
                       col || '_sealed', col, category, subject_col);
    END IF;

    PERFORM privacy_guard.progress_phase('recreating indexes and triggers', NULL);

    -- Record it (checks ownership and the category) and get the trigger's arguments.
    trig_args := privacy_guard.register_protection(tbl, col, category, subject_col, searchable);

    -- The column's indexes and UNIQUE constraints, back under their names,
    -- on its search terms; a searchable column gets an index in any case.
    IF searchable THEN
        FOR m IN SELECT e FROM jsonb_array_elements(moved) AS e LOOP
            IF m->>'contype' IS NOT DISTINCT FROM 'u' THEN
                EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (%I)', tbl, m->>'conname', col);
            ELSE
                EXECUTE format('CREATE %s INDEX %I ON %s USING btree (%I)',
                               CASE WHEN (m->>'unique')::boolean THEN 'UNIQUE' ELSE '' END,
                               m->>'idxname', tbl, col);
            END IF;
        END LOOP;
        IF jsonb_array_length(moved) OPERATOR(pg_catalog.=) 0 THEN
            EXECUTE format('CREATE INDEX ON %s (%I)', tbl, col);
        END IF;
    END IF;

    -- Two triggers per table, each listing every protected column, as the
    -- catalog describes them (the guard lets them replace their
    -- predecessors).  BEFORE row triggers run in name order.  The binding
    -- trigger runs first: it binds the plaintext the statement wrote to its
    -- column's category before any other trigger sees it, so that none can
    -- move it into a column of another category.  The sealing trigger runs
    -- last, where no other can change the values it wrote.
    SELECT string_agg(pg_catalog.quote_ident(t.tgname), ', ' ORDER BY t.tgname) INTO names
      FROM pg_trigger t
     WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND NOT t.tgisinternal
       AND (t.tgname OPERATOR(pg_catalog.>) 'zz_privacy_guard_seal'::name
            OR t.tgname OPERATOR(pg_catalog.<) '!privacy_guard_bind'::name)
       AND (t.tgtype::int4 OPERATOR(pg_catalog.&) 3) OPERATOR(pg_catalog.=) 3       -- ROW, BEFORE
       AND (t.tgtype::int4 OPERATOR(pg_catalog.&) 20) OPERATOR(pg_catalog.<>) 0;    -- INSERT or UPDATE
    IF names IS NOT NULL THEN
        RAISE EXCEPTION 'cannot protect a column of relation %: triggers % would run before the binding trigger or after the sealing trigger', tbl, names
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'BEFORE row triggers run in name order; rename them to sort between "!privacy_guard_bind" and zz_privacy_guard_seal.';
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', '!privacy_guard_bind', tbl, trig_args);
    EXECUTE format('CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', tbl, trig_args);

    -- Erasure finds a subject's rows through an index on the subject column.
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
                    JOIN pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam
                    WHERE i.indrelid OPERATOR(pg_catalog.=) tbl AND i.indkey[0] OPERATOR(pg_catalog.=) subj.attnum
                      AND i.indpred IS NULL AND am.amname IN ('btree', 'hash')) THEN
        EXECUTE format('CREATE INDEX ON %s (%I)', tbl, subject_col);
    END IF;
    PERFORM privacy_guard.progress_end();
END
$fn$;
COMMENT ON FUNCTION privacy_guard.protect(regclass, name, text, name, boolean) IS
    'convert a column to its encrypted type in place and seal every later write of plaintext';

-- unprotect()'s catalog step, as the extension's owner.
CREATE FUNCTION privacy_guard.unregister_protection(tbl regclass, col name, OUT protected boolean,
                                                    OUT trigger_args text) RETURNS record
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_unregister_protection';
REVOKE ALL ON FUNCTION privacy_guard.unregister_protection(regclass, name) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.unregister_protection(regclass, name) IS
    'unprotect()''s catalog step: checks the caller owns the table, forgets the column, audits, returns what the trigger becomes';

-- The guard (src/guard.c) refuses, for every role, the DDL that would
-- undo a protection: the sealing trigger disabled, dropped, renamed or
-- replaced, a <col>_sealed CHECK dropped or renamed, a protected or
-- subject column retyped, renamed or dropped, the table put in an
-- inheritance tree.  unprotect() is the way past it, explicit and audited:
-- it removes the column from the catalog first, so that the guard lets its
-- own DDL through, then drops the CHECK and takes the column out of the
-- trigger (or drops the trigger with the last column).  The column keeps
-- its encrypted type and its sealed values (a searchable column's with
-- their terms, and its indexes): reveal() still reads them, and the
-- owner may retype the column (USING privacy_guard.reveal(col, purpose))
-- or drop it.  Like protect(), it runs with the caller's rights.
--
-- to_plaintext (superusers only: every value is decrypted, whatever the
-- purposes allow) then retypes the column to its plaintext type as the
-- table's owner, security-restricted, each value opened by plaintext_of()
-- (src/leave.c), a value of an erased subject NULL; one more audit record
-- says how many.  The way out before DROP EXTENSION, which the guard
-- refuses while a column is protected.
CREATE FUNCTION privacy_guard.begin_plaintext(tbl regclass, col name) RETURNS bigint
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_begin_plaintext';
CREATE FUNCTION privacy_guard.end_plaintext(tbl regclass, col name, category text) RETURNS void
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_end_plaintext';
REVOKE ALL ON FUNCTION privacy_guard.begin_plaintext(regclass, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.end_plaintext(regclass, name, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.begin_plaintext(regclass, name) IS
    'unprotect(to_plaintext)''s first step: the column''s values, the only ones plaintext_of() opens in this transaction (superusers)';
COMMENT ON FUNCTION privacy_guard.end_plaintext(regclass, name, text) IS
    'unprotect(to_plaintext)''s last step: records how many values were decrypted';
-- Callable by the table's owner, whose retype runs it; it opens nothing
-- outside that retype's transaction and column.
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_text) RETURNS text
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_plaintext_of_text';
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_jsonb) RETURNS jsonb
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_plaintext_of_jsonb';
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_date) RETURNS date
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_plaintext_of_date';
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_numeric) RETURNS numeric
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_plaintext_of_numeric';
CREATE FUNCTION privacy_guard.plaintext_of(value privacy_guard.encrypted_bytea) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_plaintext_of_bytea';
COMMENT ON FUNCTION privacy_guard.plaintext_of(privacy_guard.encrypted_text) IS
    'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';
COMMENT ON FUNCTION privacy_guard.plaintext_of(privacy_guard.encrypted_jsonb) IS
    'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';
COMMENT ON FUNCTION privacy_guard.plaintext_of(privacy_guard.encrypted_date) IS
    'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';
COMMENT ON FUNCTION privacy_guard.plaintext_of(privacy_guard.encrypted_numeric) IS
    'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';
COMMENT ON FUNCTION privacy_guard.plaintext_of(privacy_guard.encrypted_bytea) IS
    'unprotect(to_plaintext)''s retype: one value of the column being turned into plaintext; refused anywhere else';

CREATE FUNCTION privacy_guard.unprotect(tbl regclass, col name, to_plaintext boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    rel record;
    r record;
    plain_type text;
    category text;
BEGIN
    IF tbl IS NULL OR col IS NULL OR to_plaintext IS NULL THEN
        RAISE EXCEPTION 'unprotect() needs a table and a column' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_plaintext AND NOT (SELECT ro.rolsuper FROM pg_catalog.pg_roles ro WHERE ro.rolname OPERATOR(pg_catalog.=) current_user) THEN
        RAISE EXCEPTION 'only a superuser may turn a protected column back into plaintext'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Every value of the column would be decrypted, whatever the purposes allow.',
                  HINT = 'Call privacy_guard.unprotect() without to_plaintext to remove the protection only.';
    END IF;
    SELECT c.relkind, c.relowner INTO rel FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
    IF rel.relkind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION '"%" is not an ordinary table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- held until commit: no write lands between this and what the owner
    -- does next in the same transaction (retype or drop the column)
    PERFORM privacy_guard.lock_relation(tbl, true, 'unprotect');
    IF to_plaintext THEN
        SELECT CASE a.atttypid
                 WHEN 'privacy_guard.encrypted_text'::pg_catalog.regtype THEN 'text'
                 WHEN 'privacy_guard.encrypted_jsonb'::pg_catalog.regtype THEN 'jsonb'
                 WHEN 'privacy_guard.encrypted_date'::pg_catalog.regtype THEN 'date'
                 WHEN 'privacy_guard.encrypted_numeric'::pg_catalog.regtype THEN 'numeric'
                 WHEN 'privacy_guard.encrypted_bytea'::pg_catalog.regtype THEN 'bytea' END,
               p.category
          INTO plain_type, category
          FROM pg_catalog.pg_attribute a
          JOIN privacy_guard.column_protection p
            ON p.tbl OPERATOR(pg_catalog.=) a.attrelid AND p.col OPERATOR(pg_catalog.=) a.attname
         WHERE a.attrelid OPERATOR(pg_catalog.=) unprotect.tbl AND a.attname OPERATOR(pg_catalog.=) unprotect.col
           AND NOT a.attisdropped;
        IF plain_type IS NULL THEN
            RAISE EXCEPTION 'column "%" of relation % is not protected', col, tbl
                USING ERRCODE = 'undefined_column',
                      HINT = 'privacy_guard.protected_columns lists the protected columns.';
        END IF;
    END IF;

    r := privacy_guard.unregister_protection(tbl, col);
    IF NOT r.protected THEN
        RETURN;         -- erasure's subject column: nothing else to undo
    END IF;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', tbl, col || '_sealed');
    IF r.trigger_args OPERATOR(pg_catalog.<>) '' THEN
        EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', '!privacy_guard_bind', tbl, r.trigger_args);
        EXECUTE format('CREATE OR REPLACE TRIGGER zz_privacy_guard_seal BEFORE INSERT OR UPDATE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION privacy_guard.seal_row(%s)', tbl, r.trigger_args);
    ELSE
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', '!privacy_guard_bind', tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS zz_privacy_guard_seal ON %s', tbl);
    END IF;
    IF to_plaintext THEN
        PERFORM privacy_guard.begin_plaintext(tbl, col);
        PERFORM privacy_guard.run_as_owner(tbl,
            format('ALTER TABLE %s ALTER COLUMN %I TYPE pg_catalog.%I USING privacy_guard.plaintext_of(%I)',
                   tbl, col, plain_type, col), NULL);
        PERFORM privacy_guard.end_plaintext(tbl, col, category);
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.unprotect(regclass, name, boolean) IS
    'remove a column''s protection (CHECK, trigger entry), audited; the column keeps its encrypted type and values, or, to_plaintext (superusers), becomes plaintext again';

-- A dropped table takes its protection records with it (an OID reused by a
-- later table must not inherit them).
CREATE FUNCTION privacy_guard.forget_dropped_tables() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    DELETE FROM privacy_guard.column_protection p
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid OPERATOR(pg_catalog.=) 0
       AND d.objid OPERATOR(pg_catalog.=) p.tbl::pg_catalog.oid;
    DELETE FROM privacy_guard.erasure_actions p
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid OPERATOR(pg_catalog.=) 0
       AND d.objid OPERATOR(pg_catalog.=) p.tbl::pg_catalog.oid;
    DELETE FROM privacy_guard.retention_rules p
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid OPERATOR(pg_catalog.=) 0
       AND d.objid OPERATOR(pg_catalog.=) p.tbl::pg_catalog.oid;
END
$fn$;
REVOKE ALL ON FUNCTION privacy_guard.forget_dropped_tables() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.forget_dropped_tables() IS 'event trigger: forget the protection of dropped tables';
CREATE EVENT TRIGGER privacy_guard_forget_dropped_tables ON sql_drop
    EXECUTE FUNCTION privacy_guard.forget_dropped_tables();
COMMENT ON EVENT TRIGGER privacy_guard_forget_dropped_tables IS
    'forgets the protection, erasure action and retention rule of a dropped table';

-- The guard's second half (src/guard.c): a column, CHECK or sealing
-- trigger dropped as a dependency of something else (DROP DOMAIN, TYPE,
-- COLLATION or FUNCTION ... CASCADE) is refused as the ProcessUtility hook
-- refuses one dropped by name.  Event trigger functions run as the role
-- that ran the statement; the guard reads the catalog as the extension's
-- owner.
CREATE FUNCTION privacy_guard.guard_dropped() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pguard_guard_dropped';
REVOKE ALL ON FUNCTION privacy_guard.guard_dropped() FROM PUBLIC;
COMMENT ON FUNCTION privacy_guard.guard_dropped() IS
    'event trigger: refuse dropping a protected or subject column, a _sealed CHECK or the sealing trigger as a dependency';
CREATE EVENT TRIGGER privacy_guard_guard_dropped ON sql_drop
    EXECUTE FUNCTION privacy_guard.guard_dropped();
COMMENT ON EVENT TRIGGER privacy_guard_guard_dropped IS
    'refuses a DROP ... CASCADE that would take a protection or a subject column with it';

CREATE VIEW privacy_guard.protected_columns AS
SELECT n.nspname AS table_schema, c.relname AS table_name, p.col AS column_name,
       p.category, p.subject_col AS subject_column, p.searchable,
       format_type(a.atttypid, a.atttypmod) AS column_type, p.protected_at
  FROM privacy_guard.column_protection p
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.tbl
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) p.tbl
       AND a.attname OPERATOR(pg_catalog.=) p.col
 WHERE pg_catalog.has_table_privilege(p.tbl, 'SELECT');
COMMENT ON VIEW privacy_guard.protected_columns IS 'protected columns of the tables the caller may read';
GRANT SELECT ON privacy_guard.protected_columns TO PUBLIC;

-- Administration is for the owner and privacy_guard_admin.
REVOKE ALL ON FUNCTION privacy_guard.protect(regclass, name, text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION privacy_guard.unprotect(regclass, name, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.protect(regclass, name, text, name, boolean),
    privacy_guard.register_protection(regclass, name, text, name, boolean),
    privacy_guard.unprotect(regclass, name, boolean),
    privacy_guard.unregister_protection(regclass, name),
    privacy_guard.seal_searchable(text, text, text),
    privacy_guard.seal_row(),
    privacy_guard.check_policies(regclass)
    TO privacy_guard_admin;

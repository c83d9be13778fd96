-- sql/discover.sql (src/discover.c)
--   Discovery: scan() samples the tables the caller may read for personal
--   data stored outside the rules, with the classifiers it uses.

-- The classifiers (src/discover.c).  classify_value() labels a value email,
-- phone, card or iban; name_suggests() labels a column's name with one of
-- special_categories() or email, phone, address, birth, identity, payment.
CREATE FUNCTION privacy_guard.classify_value(value text) RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_classify_value';
COMMENT ON FUNCTION privacy_guard.classify_value(text) IS
    'what one whole value looks like: email, phone, card (issuer prefix and Luhn) or iban (mod 97), else NULL';
CREATE FUNCTION privacy_guard.name_suggests(col name) RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pguard_name_suggests';
COMMENT ON FUNCTION privacy_guard.name_suggests(name) IS
    'the category a column''s name suggests (whole words of it), special categories first, else NULL';
CREATE FUNCTION privacy_guard.special_categories() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT ARRAY['health', 'religion', 'ethnicity', 'political_opinion', 'sexual_orientation',
                 'biometric', 'genetic', 'trade_union', 'national_id', 'criminal_record']::pg_catalog.text[]
$fn$;
COMMENT ON FUNCTION privacy_guard.special_categories() IS
    'the labels of name_suggests() that name data the shop never collects (special categories)';

-- scan()'s audit records, written as its caller (who may read the column):
-- names and counts, never a value.
CREATE FUNCTION privacy_guard.scan_audit_finding(tbl regclass, col name, suspected text, hits integer,
                                                 sampled integer, protected boolean) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_scan_audit_finding';
CREATE FUNCTION privacy_guard.scan_audit(sample_rows integer, tables integer, skipped integer,
                                         findings integer, unprotected integer) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pguard_scan_audit';
COMMENT ON FUNCTION privacy_guard.scan_audit_finding(regclass, name, text, integer, integer, boolean) IS
    'audit one finding of scan(): a column the caller may read, its category and counts';
COMMENT ON FUNCTION privacy_guard.scan_audit(integer, integer, integer, integer, integer) IS
    'audit the end of a scan(): how many tables and findings';

-- Samples every table (and populated materialized view) the caller may
-- read, with the caller's rights: partitions and inheritance children on
-- their own, not the system's, the extension's, another session's
-- temporary tables or tables of other extensions.  About sample_rows rows
-- a table: TABLESAMPLE SYSTEM sized from pg_class statistics (twice the
-- rows, at least three pages), then LIMIT; the first rows of tables too
-- small or never analysed.  Text-like columns are classified value by
-- value, bigint and numeric ones for card numbers only; a label found in
-- at least half of a column's sampled non-null values, and at least three
-- of them (or all, when fewer), is reported with its counts.  Every
-- readable column's name is read too; a name finding has NULL counts, and
-- is not reported beside a value finding of the same column unless it is
-- a special category.  Encrypted columns are never sampled; protected is
-- true for them and for protected columns.  Each
-- finding and the scan's counts are audited; a table locked for 2 s,
-- dropped meanwhile, refused by row security, or whose planning would run
-- code another role wrote (an expression of one of its indexes, statistics
-- objects or CHECK constraints) is skipped and counted.
CREATE FUNCTION privacy_guard.scan(sample_rows integer DEFAULT 1000)
RETURNS TABLE (tbl regclass, col name, suspected text, hits integer, sampled integer, protected boolean)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s' SET row_security = off AS $fn$
DECLARE
    rel record;
    att record;
    res record;
    names name[];                   -- the readable columns
    prot boolean[];                 -- ... protected or encrypted
    scanned name[];                 -- the columns whose values are sampled
    sel text;
    vals text;
    sampling text;
    pct float8;
    rows_read integer;
    f_col name[];                   -- value findings of a table
    f_label text[];
    f_hits integer[];
    f_nonnull integer[];
    label text;
    kind "char";
    n_tables integer := 0;
    n_unreadable integer := 0;
    n_failed integer := 0;
    n_findings integer := 0;
    n_unprotected integer := 0;
BEGIN
    IF sample_rows IS NULL OR sample_rows < 1 OR sample_rows > 100000 THEN
        RAISE EXCEPTION 'invalid sample size %', coalesce(sample_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'sample_rows is how many rows scan() reads from each table, from 1 to 100000.';
    END IF;
    FOR rel IN
        SELECT c.oid AS relid, c.reltuples::float8 AS reltuples, c.relpages, n.nspname, c.relname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'privacy_guard')
           AND n.nspname !~ '^pg_toast'
           AND (n.nspname !~ '^pg_temp_' OR c.relnamespace = pg_my_temp_schema())
           AND NOT EXISTS (SELECT FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
         ORDER BY n.nspname, c.relname
    LOOP
        IF has_any_column_privilege(rel.relid, 'SELECT') IS NOT TRUE THEN
            n_unreadable := n_unreadable + 1;
            CONTINUE;
        END IF;
        -- locked before it is looked at: its owner cannot make it a view, or
        -- retype a column, between the look and the sampling
        BEGIN
            kind := privacy_guard.lock_relation(rel.relid, false, 'scan');
        EXCEPTION WHEN lock_not_available OR undefined_table OR insufficient_privilege THEN
            -- insufficient_privilege: planning a query of it would run code
            -- another role wrote (an index's expression), with our rights
            n_failed := n_failed + 1;
            CONTINUE;
        END;
        IF kind IS DISTINCT FROM 'r' AND kind IS DISTINCT FROM 'm' THEN
            n_failed := n_failed + 1;
            CONTINUE;
        END IF;

        names := '{}';
        prot := '{}';
        scanned := '{}';
        sel := '';
        vals := '(0, '''')';                    -- k = 0: one value per row read
        FOR att IN
            SELECT a.attname,
                   a.atttypid::regtype = ANY (privacy_guard.encrypted_types())
                   OR EXISTS (SELECT FROM privacy_guard.protected_columns p
                               WHERE p.table_schema = rel.nspname AND p.table_name = rel.relname
                                 AND a.attname = p.column_name) AS is_protected,
                   b.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'int8'::regtype,
                             'numeric'::regtype)
                   -- citext: a base type (its I/O is C a superuser installed) whose cast
                   -- to text runs no function (binary-coercible casts are a superuser's too);
                   -- not any type of that name
                   OR (b.typname = 'citext' AND b.typtype = 'b'
                       AND EXISTS (SELECT FROM pg_cast k
                                    WHERE k.castsource = b.oid AND k.casttarget = 'text'::regtype
                                      AND k.castmethod = 'b')) AS sample_values
              FROM pg_attribute a
              JOIN pg_type ty ON ty.oid = a.atttypid
              JOIN pg_type b ON b.oid = CASE ty.typtype WHEN 'd' THEN ty.typbasetype ELSE ty.oid END
             WHERE a.attrelid = rel.relid AND a.attnum > 0 AND NOT a.attisdropped
               AND has_column_privilege(rel.relid, a.attnum, 'SELECT')
             ORDER BY a.attnum
        LOOP
            names := names || att.attname;
            prot := prot || att.is_protected;
            IF att.sample_values AND NOT att.is_protected THEN
                scanned := scanned || att.attname;
                sel := sel || CASE WHEN cardinality(scanned) > 1 THEN ', ' ELSE '' END || format('%I', att.attname);
                vals := vals || format(', (%s, s.%I::pg_catalog.text)', cardinality(scanned), att.attname);
            END IF;
        END LOOP;

        -- sample about sample_rows rows; the k-th value of each row is scanned[k]
        f_col := '{}';
        f_label := '{}';
        f_hits := '{}';
        f_nonnull := '{}';
        IF cardinality(scanned) > 0 THEN
            IF rel.reltuples > 0 AND rel.relpages > 0 THEN
                pct := least(100, greatest(200.0::float8 * sample_rows / rel.reltuples, 300.0::float8 / rel.relpages));
            ELSE
                pct := 100;
            END IF;
            sampling := CASE WHEN pct < 100 THEN format(' TABLESAMPLE SYSTEM (%s)', pct) ELSE '' END;
            rows_read := 0;
            BEGIN
                LOOP
                    FOR res IN EXECUTE format(
                        'SELECT q.k, q.label, q.n, pg_catalog.sum(q.n) OVER (PARTITION BY q.k)::pg_catalog.int4 AS nonnull'
                        '  FROM (SELECT u.k, privacy_guard.classify_value(u.v) AS label,'
                        '               pg_catalog.count(*)::pg_catalog.int4 AS n'
                        '          FROM (SELECT %s FROM ONLY %s%s LIMIT %s) s'
                        '         CROSS JOIN LATERAL (VALUES %s) u(k, v)'
                        '         WHERE u.v IS NOT NULL GROUP BY 1, 2) q',
                        sel, rel.relid::regclass, sampling, sample_rows, vals)
                    LOOP
                        IF res.k = 0 THEN
                            rows_read := res.nonnull;
                        ELSIF res.label IS NOT NULL AND res.n >= least(3, res.nonnull) AND 2 * res.n >= res.nonnull THEN
                            f_col := f_col || scanned[res.k];
                            f_label := f_label || res.label;
                            f_hits := f_hits || res.n;
                            f_nonnull := f_nonnull || res.nonnull;
                        END IF;
                    END LOOP;
                    -- statistics promised rows that the sample did not meet: read the first rows
                    EXIT WHEN rows_read > 0 OR sampling = '';
                    sampling := '';
                END LOOP;
            EXCEPTION WHEN undefined_table OR undefined_column OR insufficient_privilege
                           OR lock_not_available OR object_not_in_prerequisite_state THEN
                -- dropped, altered or locked meanwhile, or refused by row security
                n_failed := n_failed + 1;
                CONTINUE;
            END;
        END IF;
        n_tables := n_tables + 1;

        -- report: values first, then names
        FOR i IN 1 .. cardinality(f_col) LOOP
            tbl := rel.relid;
            col := f_col[i];
            suspected := f_label[i];
            hits := f_hits[i];
            sampled := f_nonnull[i];
            protected := false;         -- sampled columns are not protected ones
            PERFORM privacy_guard.scan_audit_finding(tbl, col, suspected, hits, sampled, protected);
            n_findings := n_findings + 1;
            n_unprotected := n_unprotected + 1;
            RETURN NEXT;
        END LOOP;
        FOR i IN 1 .. cardinality(names) LOOP
            label := privacy_guard.name_suggests(names[i]);
            CONTINUE WHEN label IS NULL
                       OR (names[i] = ANY (f_col) AND label <> ALL (privacy_guard.special_categories()));
            tbl := rel.relid;
            col := names[i];
            suspected := label;
            hits := NULL;
            sampled := NULL;
            protected := prot[i];
            PERFORM privacy_guard.scan_audit_finding(tbl, col, suspected, hits, sampled, protected);
            n_findings := n_findings + 1;
            n_unprotected := n_unprotected + CASE WHEN protected THEN 0 ELSE 1 END;
            RETURN NEXT;
        END LOOP;
    END LOOP;

    IF n_unreadable > 0 THEN
        RAISE NOTICE 'scan skipped tables that role "%" cannot read: %', current_user, n_unreadable;
    END IF;
    IF n_failed > 0 THEN
        RAISE NOTICE 'scan skipped tables that were locked, dropped or altered meanwhile, refused by row security, or whose indexes, statistics or constraints run code another role wrote: %', n_failed;
    END IF;
    PERFORM privacy_guard.scan_audit(sample_rows, n_tables, n_unreadable + n_failed, n_findings, n_unprotected);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.scan(integer) IS
    'columns that look like personal data (by sampled values or by name) in the tables the caller may read; audited';

-- Discovery writes the audit trail: it is for administrators and auditors.
REVOKE ALL ON FUNCTION privacy_guard.scan(integer),
    privacy_guard.scan_audit_finding(regclass, name, text, integer, integer, boolean),
    privacy_guard.scan_audit(integer, integer, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.scan(integer),
    privacy_guard.scan_audit_finding(regclass, name, text, integer, integer, boolean),
    privacy_guard.scan_audit(integer, integer, integer, integer, integer)
    TO privacy_guard_admin, privacy_guard_auditor;

-- sql/policy_doc.sql (PL/pgSQL only)
--   The policy as one document (export_policy, load_policy) and the record
--   of processing activities read from the catalog (processing_record).

-- The whole policy as one jsonb document, format "privacy_guard/1":
--
--   {"format": "privacy_guard/1",
--    "categories": [{"name", "sensitivity", "mask", "description"}, ...],
--    "purposes": [{"name", "parent", "requires_consent", "third_party",
--                  "description", "allow": [{"category", "level"}, ...]}, ...],
--    "grants": {"<role>": ["<purpose>", ...], ...},
--    "erasure_deadline": "30 days",
--    "retention": [{"table", "time_column", "keep", "action"}, ...],
--    "erasure_actions": [{"table", "action", "subject_column"}, ...]}
--
-- export_policy() writes it canonically: every key present, arrays sorted by
-- name or table (bytewise), intervals in IntervalStyle postgres, tables as
-- schema.table; so export, load, export gives the same text.  load_policy()
-- makes the catalog equal to a document, in one transaction, writing only
-- what differs: loading the same document twice changes and audits nothing.
-- Built-in purposes come with the extension: never in "purposes", but their
-- grants are in "grants".

-- The built-in purposes (the set another version may extend).
CREATE FUNCTION privacy_guard.policy_doc_builtins() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ARRAY['subject_access', 'incident_response']::pg_catalog.text[] $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_builtins() IS
    'purposes that come with the extension: a policy document grants them but never defines or removes them';

-- Raise "<path>: <message>" with its SQLSTATE, detail and hint (each only
-- when given: an empty DETAIL line would still print).
CREATE FUNCTION privacy_guard.policy_doc_error(path text, message text, state text DEFAULT '22023',
                                               hint text DEFAULT NULL, detail text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    msg text := CASE WHEN path IS NULL THEN message ELSE path OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) message END;
    h text := nullif(hint, '');
    d text := nullif(detail, '');
BEGIN
    IF h IS NULL AND d IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state;
    ELSIF d IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state, HINT = h;
    ELSIF h IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state, DETAIL = d;
    ELSE
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = state, DETAIL = d, HINT = h;
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_error(text, text, text, text, text) IS
    'raise an error about a place in a policy document, named by its path';

-- Run one write of a load; its error comes back about the document's
-- place (and, for a removal, prefixed with what was being removed), with
-- its SQLSTATE, detail and hint.  The statement is built with %L and %s
-- of oids only.
CREATE FUNCTION privacy_guard.policy_doc_run(path text, statement text, what text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE statement;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    PERFORM privacy_guard.policy_doc_error(path, CASE WHEN what IS NULL THEN msg ELSE what OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) msg END,
                                           st, hnt, det);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_run(text, text, text) IS
    'run one write of load_policy(); its error names the place in the document';

-- "a string", "an array", ... for messages about JSON types.
CREATE FUNCTION privacy_guard.policy_doc_type(value jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT CASE pg_catalog.jsonb_typeof(value) WHEN 'null' THEN 'null' WHEN 'array' THEN 'an array'
                      WHEN 'object' THEN 'an object' ELSE 'a ' OPERATOR(pg_catalog.||) pg_catalog.jsonb_typeof(value) END $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_type(jsonb) IS 'the JSON type of a value, with its article, for messages';

-- An object of the document with only the keys it may have: a misspelt key
-- is an error, never silently ignored.  what: "a category", ...
CREATE FUNCTION privacy_guard.policy_doc_object(obj jsonb, path text, what text, keys text[])
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    bad text;
BEGIN
    IF jsonb_typeof(obj) IS DISTINCT FROM 'object' THEN
        PERFORM privacy_guard.policy_doc_error(path, format('must be a JSON object, not %s', privacy_guard.policy_doc_type(obj)));
    END IF;
    SELECT k INTO bad FROM jsonb_object_keys(obj) AS k WHERE k OPERATOR(pg_catalog.<>) ALL (keys) LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM privacy_guard.policy_doc_error(path, format('unknown key "%s"', bad), '22023',
            format('The keys of %s are %s and %s.', what,
                   array_to_string(keys[1:cardinality(keys) OPERATOR(pg_catalog.-) 1], ', '), keys[cardinality(keys)]));
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_object(jsonb, text, text, text[]) IS
    'check that a place in a policy document is an object with only the keys it may have';

-- The value of one key of an object, of the JSON type wanted ('string',
-- 'boolean', 'array', 'object'); NULL when absent, or when JSON null and
-- null_ok.
CREATE FUNCTION privacy_guard.policy_doc_field(obj jsonb, key text, want text, path text,
                                               required boolean DEFAULT false, null_ok boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v jsonb := obj OPERATOR(pg_catalog.->) key;
BEGIN
    IF v IS NULL THEN
        IF required THEN
            PERFORM privacy_guard.policy_doc_error(path, format('missing "%s"', key));
        END IF;
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) OPERATOR(pg_catalog.=) 'null' AND null_ok AND NOT required THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) OPERATOR(pg_catalog.<>) want THEN
        PERFORM privacy_guard.policy_doc_error(path, format('"%s" must be %s, not %s', key,
            CASE want WHEN 'array' THEN 'an array' WHEN 'object' THEN 'an object' ELSE 'a ' OPERATOR(pg_catalog.||) want END,
            privacy_guard.policy_doc_type(v)));
    END IF;
    RETURN v;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_field(jsonb, text, text, text, boolean, boolean) IS
    'one key of an object of a policy document, checked to be of the JSON type wanted';

-- A table named in a document, schema-qualified as export_policy() writes it.
CREATE FUNCTION privacy_guard.policy_doc_table(tblname text, path text) RETURNS oid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    parts text[];
    relid oid;
BEGIN
    BEGIN
        parts := parse_ident(tblname);
    EXCEPTION WHEN invalid_parameter_value THEN
        parts := NULL;
    END;
    IF cardinality(parts) IS DISTINCT FROM 2 THEN
        PERFORM privacy_guard.policy_doc_error(path, format('invalid table name "%s"', tblname), '22023',
            'A table is written with its schema, as export_policy() writes it: "public.orders".');
    END IF;
    SELECT c.oid INTO relid FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE n.nspname OPERATOR(pg_catalog.=) parts[1] AND c.relname OPERATOR(pg_catalog.=) parts[2];
    IF relid IS NULL THEN
        PERFORM privacy_guard.policy_doc_error(path, format('table "%s" does not exist', tblname), '42P01');
    END IF;
    RETURN relid;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_table(text, text) IS
    'the table a policy document names as schema.table';

-- A table as a document names it.
CREATE FUNCTION privacy_guard.policy_doc_table_name(relid oid) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
           WHERE c.oid OPERATOR(pg_catalog.=) relid $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_table_name(oid) IS 'a table as a policy document names it: schema.table';

-- The entries of a list of an object of the document (none when the list
-- is absent), each with its index and its path: "categories[3]", or below
-- the object's path, "purposes[4].allow[1]".  Only the list is checked
-- here; each entry is checked where it is read, in the document's order.
CREATE FUNCTION privacy_guard.policy_doc_entries(obj jsonb, list text, path text DEFAULT NULL)
RETURNS TABLE (i bigint, entry_path text, entry jsonb)
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT x.ordinality OPERATOR(pg_catalog.-) 1,
                 pg_catalog.format('%s[%s]', pg_catalog.concat_ws('.', path, list), x.ordinality OPERATOR(pg_catalog.-) 1),
                 x.value
            FROM pg_catalog.jsonb_array_elements(COALESCE(privacy_guard.policy_doc_field(obj, list, 'array',
                                                              COALESCE(path, 'policy document')), '[]')) WITH ORDINALITY x $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_entries(jsonb, text, text) IS
    'the entries of a list of a policy document, each with its index and path';

-- An entry of a list: an object with only the keys it may have, the first
-- of which is a string that must be there and names the entry (a
-- category's name, an allowance's category, a rule's table).  Returns that
-- name.  what: "a category", ...
CREATE FUNCTION privacy_guard.policy_doc_entry(entry jsonb, path text, what text, keys text[])
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM privacy_guard.policy_doc_object(entry, path, what, keys);
    RETURN privacy_guard.policy_doc_field(entry, keys[1], 'string', path, required => true) OPERATOR(pg_catalog.#>>) '{}';
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_entry(jsonb, text, text, text[]) IS
    'check an entry of a list of a policy document and return the name its first key gives it';

-- Refuse an entry named as one before it.  seen: the entries read so far,
-- by name, each with its index "i"; hint: where the first one is, %s
-- standing for its index.
CREATE FUNCTION privacy_guard.policy_doc_unique(seen jsonb, name text, path text, message text, hint text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF seen OPERATOR(pg_catalog.?) name THEN
        PERFORM privacy_guard.policy_doc_error(path, message, '22023',
                                               format(hint, seen OPERATOR(pg_catalog.#>>) ARRAY[name, 'i']));
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_unique(jsonb, text, text, text, text) IS
    'refuse an entry of a policy document named as one before it, with a hint saying where that one is';

-- Whether a purpose a document names will exist once it is loaded: one the
-- document defines (purposes: name -> entry), or a built-in one installed.
CREATE FUNCTION privacy_guard.policy_doc_has_purpose(purposes jsonb, purpose text) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT purposes OPERATOR(pg_catalog.?) purpose
                 OR (purpose OPERATOR(pg_catalog.=) ANY (privacy_guard.policy_doc_builtins())
                     AND EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) purpose)) $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_has_purpose(jsonb, text) IS
    'whether a purpose a policy document names is one it defines or a built-in one';

-- Run one write of a load (policy_doc_run) that adds an entry to the
-- catalog (is_new) or changes one, and note that entry, as "category
-- contact", among those added or those changed.
CREATE FUNCTION privacy_guard.policy_doc_write(path text, statement text, entry text, is_new boolean,
                                               INOUT added text[], INOUT changed text[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM privacy_guard.policy_doc_run(path, statement);
    IF is_new THEN
        added := added OPERATOR(pg_catalog.||) entry;
    ELSE
        changed := changed OPERATOR(pg_catalog.||) entry;
    END IF;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_write(text, text, text, boolean, text[], text[]) IS
    'run one write of load_policy() and note the entry it added or changed';

-- Remove the categories or purposes (list) that a document leaves out, but
-- those named in spare (the built-in purposes); their allowances and grants
-- go with them.  keep: the document's, name -> entry.  One still referred
-- to is an error about the list.  Returns what went, as "purpose marketing".
CREATE FUNCTION privacy_guard.policy_doc_remove(list text, what text, keep jsonb, spare text[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    removed text[] := '{}';
    nm text;
    det text;
    tbl text;
BEGIN
    FOR nm IN EXECUTE format('DELETE FROM privacy_guard.%I x WHERE NOT $1 OPERATOR(pg_catalog.?) x.name '
                             'AND x.name OPERATOR(pg_catalog.<>) ALL ($2) RETURNING x.name', list)
              USING keep, spare LOOP
        removed := removed OPERATOR(pg_catalog.||) (what OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) nm);
    END LOOP;
    RETURN removed;
EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL, tbl = TABLE_NAME;
    PERFORM privacy_guard.policy_doc_error(list,
        format('a %s missing from the document is still referred to by privacy_guard.%s', what, tbl),
        '2BP01', format('Keep the %s in the document.', what), det);
END
$fn$;
COMMENT ON FUNCTION privacy_guard.policy_doc_remove(text, text, jsonb, text[]) IS
    'remove the categories or purposes a policy document leaves out; one still in use names the list';

-- The whole policy, canonically (one snapshot: one statement).
CREATE FUNCTION privacy_guard.export_policy() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres' AS $fn$
SELECT pg_catalog.jsonb_build_object(
    'format', 'privacy_guard/1',
    'categories', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                              'name', c.name, 'sensitivity', c.sensitivity, 'mask', c.mask,
                              'description', c.description) ORDER BY c.name COLLATE "C"), '[]')
                     FROM privacy_guard.categories c),
    'purposes', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'name', p.name, 'parent', p.parent, 'requires_consent', p.requires_consent,
                            'third_party', p.third_party, 'description', p.description,
                            'allow', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                                 'category', a.category, 'level', a.level) ORDER BY a.category COLLATE "C"), '[]')
                                        FROM privacy_guard.allowances a WHERE a.purpose OPERATOR(pg_catalog.=) p.name))
                          ORDER BY p.name COLLATE "C"), '[]')
                   FROM privacy_guard.purposes p
                  WHERE p.name OPERATOR(pg_catalog.<>) ALL (privacy_guard.policy_doc_builtins())
                     OR p.name OPERATOR(pg_catalog.=) 'incident_response'),
    -- grants of dropped roles are left out (and a load removes them)
    'grants', (SELECT COALESCE(pg_catalog.jsonb_object_agg(g.rolname, g.purposes), '{}')
                 FROM (SELECT r.rolname, pg_catalog.jsonb_agg(x.purpose ORDER BY x.purpose COLLATE "C") AS purposes
                         FROM privacy_guard.purpose_grants x
                         JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) x.role::pg_catalog.oid
                        GROUP BY r.rolname) g),
    'erasure_deadline', COALESCE((SELECT s.value::pg_catalog.interval::pg_catalog.text FROM privacy_guard.policy_settings s
                                              WHERE s.setting OPERATOR(pg_catalog.=) 'erasure_deadline'), '30 days'),
    'retention', (SELECT COALESCE(pg_catalog.jsonb_agg(r.rule ORDER BY (r.rule OPERATOR(pg_catalog.->>) 'table') COLLATE "C"), '[]')
                    FROM (SELECT pg_catalog.jsonb_build_object(
                                     'table', privacy_guard.policy_doc_table_name(x.tbl::pg_catalog.oid),
                                     'time_column', x.time_col, 'keep', x.keep::pg_catalog.text, 'action', x.action) AS rule
                            FROM privacy_guard.retention_rules x) r),
    'erasure_actions', (SELECT COALESCE(pg_catalog.jsonb_agg(e.act ORDER BY (e.act OPERATOR(pg_catalog.->>) 'table') COLLATE "C"), '[]')
                          FROM (SELECT pg_catalog.jsonb_build_object(
                                           'table', privacy_guard.policy_doc_table_name(x.tbl::pg_catalog.oid),
                                           'action', x.action, 'subject_column', x.subject_col) AS act
                                  FROM privacy_guard.erasure_actions x) e))
$fn$;
COMMENT ON FUNCTION privacy_guard.export_policy() IS
    'the whole policy as one canonical jsonb document (format privacy_guard/1), which load_policy() reads back';

-- Make the policy equal to a document, all or nothing.  First the whole
-- document is checked without writing anything: its shape, its JSON types,
-- names present and unique, references between its parts (parents,
-- categories, roles, purposes, tables), the purpose tree, and that nothing
-- absent from it is still in use.  Then what differs is written through the
-- functions that say each rule (define_category, define_purpose, allow,
-- grant_purpose, set_erasure_deadline, set_retention, set_erasure_action),
-- their errors re-raised with the path of the place in the document, and
-- what the document lacks is removed.  Returns what changed.
CREATE FUNCTION privacy_guard.load_policy(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres' AS $fn$
DECLARE
    builtins text[] := privacy_guard.policy_doc_builtins();
    doc_keys text[] := ARRAY['format', 'categories', 'purposes', 'grants', 'erasure_deadline', 'retention', 'erasure_actions'];
    -- the document, checked: name -> entry (with its index "i")
    cats jsonb := '{}';
    purps jsonb := '{}';
    allows jsonb := '[]';       -- [{i, j, purpose, category, level}]
    grants jsonb := '[]';       -- [{path, role (oid), rolname, purpose}]
    rules jsonb := '{}';        -- table oid -> {i, time_col, keep, action}
    acts jsonb := '{}';         -- table oid -> {i, action, subject_col}
    deadline text;              -- NULL: the default
    -- walking the document
    v jsonb;
    e jsonb;
    a jsonb;
    ae jsonb;
    idx bigint;
    jdx bigint;
    np bigint;
    pth text;
    apth text;
    nm text;
    cat text;
    lvl text;
    rc boolean;
    tp boolean;
    relid oid;
    roleid oid;
    ival interval;
    up text;
    steps int;
    r record;
    -- applying it
    added text[] := '{}';
    changed text[] := '{}';
    removed text[] := '{}';
    n int;
    msg text;
    tbl_name text;
    cur_deadline text;
BEGIN
    IF doc IS NULL THEN
        RAISE EXCEPTION 'policy document must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- one load at a time, and no policy change meanwhile (reads go on)
    LOCK TABLE privacy_guard.categories, privacy_guard.purposes, privacy_guard.allowances, privacy_guard.purpose_grants,
               privacy_guard.policy_settings, privacy_guard.retention_rules, privacy_guard.erasure_actions
        IN SHARE ROW EXCLUSIVE MODE;

    ---- 1. Check the whole document; nothing is written yet.
    PERFORM privacy_guard.policy_doc_object(doc, 'policy document', 'a policy document', doc_keys);
    v := privacy_guard.policy_doc_field(doc, 'format', 'string', 'policy document', required => true);
    IF v OPERATOR(pg_catalog.#>>) '{}' OPERATOR(pg_catalog.<>) 'privacy_guard/1' THEN
        PERFORM privacy_guard.policy_doc_error('format', format('unsupported format %s', v), '22023',
                                               'This version of privacy_guard reads format "privacy_guard/1".');
    END IF;

    -- categories
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'categories') x LOOP
        nm := privacy_guard.policy_doc_entry(e, pth, 'a category', ARRAY['name', 'sensitivity', 'mask', 'description']);
        PERFORM privacy_guard.policy_doc_unique(cats, nm, pth, format('duplicate category "%s"', nm),
                                                'It is already defined at categories[%s].');
        cats := cats OPERATOR(pg_catalog.||) jsonb_build_object(nm, jsonb_build_object(
            'i', idx,
            'sensitivity', coalesce(privacy_guard.policy_doc_field(e, 'sensitivity', 'string', pth) OPERATOR(pg_catalog.#>>) '{}', 'personal'),
            'mask', coalesce(privacy_guard.policy_doc_field(e, 'mask', 'string', pth) OPERATOR(pg_catalog.#>>) '{}', 'redact'),
            'description', privacy_guard.policy_doc_field(e, 'description', 'string', pth, null_ok => true)));
    END LOOP;

    -- purposes and their allowances
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'purposes') x LOOP
        nm := privacy_guard.policy_doc_entry(e, pth, 'a purpose',
                                             ARRAY['name', 'parent', 'requires_consent', 'third_party', 'description', 'allow']);
        -- incident_response is built in, but what it sees is the policy's: its
        -- entry sets its allowances and nothing else
        IF nm OPERATOR(pg_catalog.=) 'incident_response' THEN
            IF privacy_guard.policy_doc_field(e, 'parent', 'string', pth, null_ok => true) OPERATOR(pg_catalog.#>>) '{}' IS NOT NULL
               OR coalesce(privacy_guard.policy_doc_field(e, 'requires_consent', 'boolean', pth) OPERATOR(pg_catalog.#>>) '{}', 'false') OPERATOR(pg_catalog.<>) 'false'
               OR coalesce(privacy_guard.policy_doc_field(e, 'third_party', 'boolean', pth) OPERATOR(pg_catalog.#>>) '{}', 'false') OPERATOR(pg_catalog.<>) 'false'
               OR coalesce(privacy_guard.policy_doc_field(e, 'description', 'string', pth, null_ok => true) OPERATOR(pg_catalog.#>>) '{}',
                           (SELECT p.description FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) nm))
                  IS DISTINCT FROM (SELECT p.description FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) nm) THEN
                PERFORM privacy_guard.policy_doc_error(pth, format('purpose "%s" is built in: only its "allow" can be set', nm),
                    '42501', 'Leave its parent, consent flags and description as export_policy() writes them.');
            END IF;
        ELSIF nm OPERATOR(pg_catalog.=) ANY (builtins) THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('purpose "%s" is built in: a policy document cannot define it', nm),
                '42501', 'Built-in purposes come with the extension; a document only grants them, under "grants".');
        END IF;
        PERFORM privacy_guard.policy_doc_unique(purps, nm, pth, format('duplicate purpose "%s"', nm),
                                                'It is already defined at purposes[%s].');
        rc := (privacy_guard.policy_doc_field(e, 'requires_consent', 'boolean', pth)) OPERATOR(pg_catalog.#>>) '{}';
        tp := coalesce((privacy_guard.policy_doc_field(e, 'third_party', 'boolean', pth) OPERATOR(pg_catalog.#>>) '{}')::boolean, false);
        IF tp AND rc IS FALSE THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('third-party purpose "%s" cannot have "requires_consent": false', nm),
                '22023', 'A third-party purpose always requires consent: set "requires_consent" to true, or leave it out.');
        END IF;
        purps := purps OPERATOR(pg_catalog.||) jsonb_build_object(nm, jsonb_build_object(
            'i', idx,
            'parent', privacy_guard.policy_doc_field(e, 'parent', 'string', pth, null_ok => true),
            'requires_consent', coalesce(rc, false) OR tp,
            'third_party', tp,
            'description', privacy_guard.policy_doc_field(e, 'description', 'string', pth, null_ok => true))
            OPERATOR(pg_catalog.||) CASE WHEN nm OPERATOR(pg_catalog.=) ANY (builtins)
                                         THEN '{"builtin": true}'::jsonb ELSE '{}'::jsonb END);
        FOR jdx, apth, ae IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(e, 'allow', pth) x LOOP
            cat := privacy_guard.policy_doc_entry(ae, apth, 'an allowance', ARRAY['category', 'level']);
            lvl := coalesce(privacy_guard.policy_doc_field(ae, 'level', 'string', apth) OPERATOR(pg_catalog.#>>) '{}', 'full');
            IF NOT cats OPERATOR(pg_catalog.?) cat THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('unknown category "%s"', cat), '42704',
                                                       'Define the category in the document''s "categories".');
            END IF;
            IF cats OPERATOR(pg_catalog.#>>) ARRAY[cat, 'sensitivity'] OPERATOR(pg_catalog.=) 'prohibited' THEN
                PERFORM privacy_guard.policy_doc_error(apth,
                    format('category "%s" is prohibited and cannot be allowed for any purpose', cat), '42501');
            END IF;
            SELECT x.j INTO steps FROM jsonb_to_recordset(allows) AS x(i bigint, j int, category text)
             WHERE x.i OPERATOR(pg_catalog.=) idx AND x.category OPERATOR(pg_catalog.=) cat;
            IF FOUND THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('duplicate category "%s"', cat), '22023',
                                                       format('It is already allowed at %s.allow[%s].', pth, steps));
            END IF;
            allows := allows OPERATOR(pg_catalog.||) jsonb_build_array(jsonb_build_object(
                'i', idx, 'j', jdx, 'purpose', nm, 'category', cat, 'level', lvl));
        END LOOP;
    END LOOP;
    -- the parents: purposes of the document (or built in), and a tree
    np := (SELECT count(*) FROM jsonb_object_keys(purps));
    FOR nm, e IN SELECT x.key, x.value FROM jsonb_each(purps) x ORDER BY (x.value OPERATOR(pg_catalog.->>) 'i')::int LOOP
        pth := format('purposes[%s]', e OPERATOR(pg_catalog.->>) 'i');
        up := e OPERATOR(pg_catalog.->>) 'parent';
        CONTINUE WHEN up IS NULL;
        IF NOT privacy_guard.policy_doc_has_purpose(purps, up) THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('unknown parent purpose "%s"', up), '42704',
                                                   'Define the parent in the document''s "purposes".');
        END IF;
        steps := 0;
        WHILE up IS NOT NULL AND steps OPERATOR(pg_catalog.<=) np LOOP
            IF up OPERATOR(pg_catalog.=) nm THEN
                PERFORM privacy_guard.policy_doc_error(pth, format('purpose "%s" cannot have "%s" as parent: that would make a cycle',
                                                                   nm, e OPERATOR(pg_catalog.->>) 'parent'));
            END IF;
            up := purps OPERATOR(pg_catalog.#>>) ARRAY[up, 'parent'];
            steps := steps OPERATOR(pg_catalog.+) 1;
        END LOOP;
    END LOOP;

    -- grants: role -> purposes
    v := coalesce(privacy_guard.policy_doc_field(doc, 'grants', 'object', 'policy document'), '{}');
    FOR nm, e IN SELECT x.key, x.value FROM jsonb_each(v) x LOOP
        pth := format('grants[%s]', to_jsonb(nm));
        IF jsonb_typeof(e) OPERATOR(pg_catalog.<>) 'array' THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('must be an array of purpose names, not %s',
                                                               privacy_guard.policy_doc_type(e)));
        END IF;
        SELECT ro.oid INTO roleid FROM pg_roles ro WHERE ro.rolname OPERATOR(pg_catalog.=) nm;
        IF NOT FOUND THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('role "%s" does not exist', nm), '42704',
                                                   'Create the role before loading the document.');
        END IF;
        FOR ae, jdx IN SELECT x.value, x.ordinality OPERATOR(pg_catalog.-) 1 FROM jsonb_array_elements(e) WITH ORDINALITY x LOOP
            apth := format('%s[%s]', pth, jdx);
            IF jsonb_typeof(ae) OPERATOR(pg_catalog.<>) 'string' THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('must be a purpose name, not %s', privacy_guard.policy_doc_type(ae)));
            END IF;
            up := ae OPERATOR(pg_catalog.#>>) '{}';
            IF NOT privacy_guard.policy_doc_has_purpose(purps, up) THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('unknown purpose "%s"', up), '42704',
                                                       'Define the purpose in the document''s "purposes".');
            END IF;
            IF grants OPERATOR(pg_catalog.@>) jsonb_build_array(jsonb_build_object('role', roleid, 'purpose', up)) THEN
                PERFORM privacy_guard.policy_doc_error(apth, format('duplicate purpose "%s"', up));
            END IF;
            grants := grants OPERATOR(pg_catalog.||) jsonb_build_array(jsonb_build_object(
                'path', apth, 'role', roleid, 'rolname', nm, 'purpose', up));
        END LOOP;
    END LOOP;

    -- the erasure deadline: absent or null means the default
    v := privacy_guard.policy_doc_field(doc, 'erasure_deadline', 'string', 'policy document', null_ok => true);
    IF v IS NOT NULL THEN
        BEGIN
            deadline := (v OPERATOR(pg_catalog.#>>) '{}')::interval::text;
        EXCEPTION WHEN data_exception THEN
            PERFORM privacy_guard.policy_doc_error('erasure_deadline', format('invalid interval %s', v), '22023',
                                                   'The deadline is an interval, such as "30 days".');
        END;
    END IF;

    -- retention rules and erasure actions: one per table
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'retention') x LOOP
        tbl_name := privacy_guard.policy_doc_entry(e, pth, 'a retention rule', ARRAY['table', 'time_column', 'keep', 'action']);
        relid := privacy_guard.policy_doc_table(tbl_name, pth);
        PERFORM privacy_guard.policy_doc_unique(rules, relid::text, pth, format('duplicate table "%s"', tbl_name),
                                                'Its rule is already at retention[%s].');
        nm := privacy_guard.policy_doc_field(e, 'time_column', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}';
        a := privacy_guard.policy_doc_field(e, 'keep', 'string', pth, required => true);
        BEGIN
            ival := (a OPERATOR(pg_catalog.#>>) '{}')::interval;
        EXCEPTION WHEN data_exception THEN
            PERFORM privacy_guard.policy_doc_error(pth, format('invalid interval %s for "keep"', a), '22023',
                                                   'Rows are kept for an interval, such as "2 years".');
        END;
        rules := rules OPERATOR(pg_catalog.||) jsonb_build_object(relid::text, jsonb_build_object(
            'i', idx, 'time_col', nm, 'keep', ival::text,
            'action', privacy_guard.policy_doc_field(e, 'action', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}'));
    END LOOP;
    FOR idx, pth, e IN SELECT x.i, x.entry_path, x.entry FROM privacy_guard.policy_doc_entries(doc, 'erasure_actions') x LOOP
        tbl_name := privacy_guard.policy_doc_entry(e, pth, 'an erasure action', ARRAY['table', 'action', 'subject_column']);
        relid := privacy_guard.policy_doc_table(tbl_name, pth);
        PERFORM privacy_guard.policy_doc_unique(acts, relid::text, pth, format('duplicate table "%s"', tbl_name),
                                                'Its action is already at erasure_actions[%s].');
        acts := acts OPERATOR(pg_catalog.||) jsonb_build_object(relid::text, jsonb_build_object(
            'i', idx,
            'action', privacy_guard.policy_doc_field(e, 'action', 'string', pth, required => true) OPERATOR(pg_catalog.#>>) '{}',
            'subject_col', privacy_guard.policy_doc_field(e, 'subject_column', 'string', pth, null_ok => true)));
    END LOOP;

    -- what the document leaves out must not be in use
    FOR r IN SELECT c.name, string_agg(format('%s.%I', privacy_guard.policy_doc_table_name(p.tbl::oid), p.col), ', '
                                       ORDER BY privacy_guard.policy_doc_table_name(p.tbl::oid), p.col) AS cols
               FROM privacy_guard.categories c JOIN privacy_guard.column_protection p ON p.category OPERATOR(pg_catalog.=) c.name
              WHERE NOT cats OPERATOR(pg_catalog.?) c.name
              GROUP BY c.name ORDER BY c.name LIMIT 1 LOOP
        PERFORM privacy_guard.policy_doc_error('categories',
            format('category "%s" is missing, but protected columns use it: %s', r.name, r.cols), '2BP01',
            'A protected column keeps its category: keep the category in the document.');
    END LOOP;
    FOR r IN SELECT p.name FROM privacy_guard.purposes p
              WHERE NOT purps OPERATOR(pg_catalog.?) p.name AND p.name OPERATOR(pg_catalog.<>) ALL (builtins)
                AND EXISTS (SELECT FROM privacy_guard.consent_events c WHERE c.purpose OPERATOR(pg_catalog.=) p.name)
              ORDER BY p.name LIMIT 1 LOOP
        PERFORM privacy_guard.policy_doc_error('purposes',
            format('purpose "%s" is missing, but customers'' consent records refer to it', r.name), '2BP01',
            'Consent history is kept for good: keep the purpose in the document (without grants it authorises nothing).');
    END LOOP;

    ---- 2. Write what differs.  The catalog's triggers audit each change;
    -- should a change fail, the load is rolled back whole and the trail
    -- says so after the changes it recorded.
    BEGIN
        -- categories
        FOR r IN SELECT x.key AS name, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i, x.value OPERATOR(pg_catalog.->>) 'sensitivity' AS sensitivity,
                        x.value OPERATOR(pg_catalog.->>) 'mask' AS mask, x.value OPERATOR(pg_catalog.->>) 'description' AS description,
                        c.name AS cur,
                        (c.sensitivity, c.mask, c.description) IS NOT DISTINCT FROM
                            (x.value OPERATOR(pg_catalog.->>) 'sensitivity', x.value OPERATOR(pg_catalog.->>) 'mask',
                             x.value OPERATOR(pg_catalog.->>) 'description') AS same
                   FROM jsonb_each(cats) x LEFT JOIN privacy_guard.categories c ON c.name OPERATOR(pg_catalog.=) x.key
                  ORDER BY 2 LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('categories[%s]', r.i),
                format('SELECT privacy_guard.define_category(%L, %L, %L, %L)', r.name, r.sensitivity, r.mask, r.description),
                'category ' OPERATOR(pg_catalog.||) r.name, r.cur IS NULL, added, changed);
        END LOOP;

        -- purposes, parents before children
        FOR r IN WITH RECURSIVE d AS (
                     SELECT x.key AS name, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i, x.value OPERATOR(pg_catalog.->>) 'parent' AS parent,
                            (x.value OPERATOR(pg_catalog.->>) 'requires_consent')::boolean AS requires_consent,
                            (x.value OPERATOR(pg_catalog.->>) 'third_party')::boolean AS third_party,
                            x.value OPERATOR(pg_catalog.->>) 'description' AS description
                       FROM jsonb_each(purps) x
                      WHERE NOT x.value OPERATOR(pg_catalog.?) 'builtin'),
                 t AS (SELECT d.*, 0 AS depth FROM d WHERE d.parent IS NULL OR NOT purps OPERATOR(pg_catalog.?) d.parent
                       UNION ALL
                       SELECT d.*, t.depth OPERATOR(pg_catalog.+) 1 FROM d JOIN t ON d.parent OPERATOR(pg_catalog.=) t.name)
                 SELECT t.*, p.name AS cur,
                        (p.parent, p.requires_consent, p.third_party, p.description) IS NOT DISTINCT FROM
                            (t.parent, t.requires_consent, t.third_party, t.description) AS same
                   FROM t LEFT JOIN privacy_guard.purposes p ON p.name OPERATOR(pg_catalog.=) t.name
                  ORDER BY t.depth, t.i LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('purposes[%s]', r.i),
                format('SELECT privacy_guard.define_purpose(%L, %L, %L::boolean, %L::boolean, %L)',
                       r.name, r.parent, r.requires_consent, r.third_party, r.description),
                'purpose ' OPERATOR(pg_catalog.||) r.name, r.cur IS NULL, added, changed);
        END LOOP;

        -- allowances of the document's purposes: exactly the document's
        FOR r IN DELETE FROM privacy_guard.allowances al
                  WHERE (purps OPERATOR(pg_catalog.?) al.purpose OR al.purpose OPERATOR(pg_catalog.=) 'incident_response')
                    AND NOT allows OPERATOR(pg_catalog.@>) jsonb_build_array(jsonb_build_object('purpose', al.purpose, 'category', al.category))
              RETURNING al.purpose, al.category LOOP
            removed := removed OPERATOR(pg_catalog.||) format('allowance %s: %s', r.purpose, r.category);
        END LOOP;
        FOR r IN SELECT x.*, al.level AS cur FROM jsonb_to_recordset(allows) AS x(i int, j int, purpose text, category text, level text)
                   LEFT JOIN privacy_guard.allowances al ON al.purpose OPERATOR(pg_catalog.=) x.purpose AND al.category OPERATOR(pg_catalog.=) x.category
                  ORDER BY x.i, x.j LOOP
            CONTINUE WHEN r.cur IS NOT DISTINCT FROM r.level;
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('purposes[%s].allow[%s]', r.i, r.j),
                format('SELECT privacy_guard.allow(%L, %L, %L)', r.purpose, r.category, r.level),
                format('allowance %s: %s', r.purpose, r.category), r.cur IS NULL, added, changed);
        END LOOP;

        -- grants: exactly the document's (built-in purposes' too; grants of dropped roles go)
        FOR r IN DELETE FROM privacy_guard.purpose_grants g
                  WHERE NOT grants OPERATOR(pg_catalog.@>) jsonb_build_array(jsonb_build_object('role', g.role::oid, 'purpose', g.purpose))
              RETURNING g.role, g.purpose LOOP
            removed := removed OPERATOR(pg_catalog.||) format('grant %s: %s',
                coalesce((SELECT ro.rolname FROM pg_roles ro WHERE ro.oid OPERATOR(pg_catalog.=) r.role::oid), '(a dropped role)'), r.purpose);
        END LOOP;
        FOR r IN SELECT x.* FROM jsonb_to_recordset(grants) AS x(path text, role oid, rolname text, purpose text)
                  WHERE NOT EXISTS (SELECT FROM privacy_guard.purpose_grants g
                                     WHERE g.role OPERATOR(pg_catalog.=) x.role::regrole AND g.purpose OPERATOR(pg_catalog.=) x.purpose) LOOP
            PERFORM privacy_guard.policy_doc_run(r.path,
                format('SELECT privacy_guard.grant_purpose(%s::pg_catalog.oid::pg_catalog.regrole, %L)', r.role, r.purpose));
            added := added OPERATOR(pg_catalog.||) format('grant %s: %s', r.rolname, r.purpose);
        END LOOP;

        -- purposes and categories the document leaves out (their allowances and grants go with them)
        removed := removed OPERATOR(pg_catalog.||) privacy_guard.policy_doc_remove('purposes', 'purpose', purps, builtins);
        removed := removed OPERATOR(pg_catalog.||) privacy_guard.policy_doc_remove('categories', 'category', cats, '{}');

        -- the erasure deadline (the default needs no row)
        SELECT s.value::interval::text INTO cur_deadline FROM privacy_guard.policy_settings s
         WHERE s.setting OPERATOR(pg_catalog.=) 'erasure_deadline';
        IF coalesce(deadline, '30 days') OPERATOR(pg_catalog.<>) coalesce(cur_deadline, '30 days') THEN
            IF deadline IS NULL THEN
                DELETE FROM privacy_guard.policy_settings s WHERE s.setting OPERATOR(pg_catalog.=) 'erasure_deadline';
            ELSE
                PERFORM privacy_guard.policy_doc_run('erasure_deadline',
                    format('SELECT privacy_guard.set_erasure_deadline(%L::pg_catalog.interval)', deadline));
            END IF;
            changed := changed OPERATOR(pg_catalog.||) 'erasure deadline'::text;
        END IF;

        -- retention rules: the caller must own each table whose rule changes
        FOR r IN SELECT x.key::oid AS tbl, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i,
                        x.value OPERATOR(pg_catalog.->>) 'time_col' AS time_col, x.value OPERATOR(pg_catalog.->>) 'keep' AS keep,
                        x.value OPERATOR(pg_catalog.->>) 'action' AS action, k.tbl AS cur,
                        -- the action spelled as check_rule() stores it
                        (k.time_col::text, k.keep::text, k.action) IS NOT DISTINCT FROM
                            (x.value OPERATOR(pg_catalog.->>) 'time_col', x.value OPERATOR(pg_catalog.->>) 'keep',
                             CASE lower(x.value OPERATOR(pg_catalog.->>) 'action') WHEN 'anonymize' THEN 'anonymise'
                                  ELSE lower(x.value OPERATOR(pg_catalog.->>) 'action') END) AS same
                   FROM jsonb_each(rules) x LEFT JOIN privacy_guard.retention_rules k ON k.tbl::oid OPERATOR(pg_catalog.=) x.key::oid
                  ORDER BY 2 LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('retention[%s]', r.i),
                format('SELECT privacy_guard.set_retention(%s::pg_catalog.oid::pg_catalog.regclass, %L, %L::pg_catalog.interval, %L)',
                       r.tbl, r.time_col, r.keep, r.action),
                'retention ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl), r.cur IS NULL, added, changed);
        END LOOP;
        FOR r IN SELECT k.tbl, k.time_col FROM privacy_guard.retention_rules k
                  WHERE NOT rules OPERATOR(pg_catalog.?) k.tbl::oid::text ORDER BY privacy_guard.policy_doc_table_name(k.tbl::oid) LOOP
            tbl_name := privacy_guard.policy_doc_table_name(r.tbl::oid);
            PERFORM privacy_guard.policy_doc_run('retention',
                format('SELECT privacy_guard.set_retention(%s::pg_catalog.oid::pg_catalog.regclass, %L, NULL, NULL)',
                       r.tbl::oid, r.time_col),
                format('cannot remove the rule of table %s', tbl_name));
            removed := removed OPERATOR(pg_catalog.||) ('retention ' OPERATOR(pg_catalog.||) tbl_name);
        END LOOP;

        -- erasure actions: likewise, by each table's owner
        FOR r IN SELECT x.key::oid AS tbl, (x.value OPERATOR(pg_catalog.->>) 'i')::int AS i,
                        x.value OPERATOR(pg_catalog.->>) 'action' AS action, x.value OPERATOR(pg_catalog.->>) 'subject_col' AS subject_col,
                        k.tbl AS cur,
                        (k.action, k.subject_col::text) IS NOT DISTINCT FROM
                            (CASE lower(x.value OPERATOR(pg_catalog.->>) 'action') WHEN 'anonymize' THEN 'anonymise'
                                  ELSE lower(x.value OPERATOR(pg_catalog.->>) 'action') END,
                             x.value OPERATOR(pg_catalog.->>) 'subject_col') AS same
                   FROM jsonb_each(acts) x LEFT JOIN privacy_guard.erasure_actions k ON k.tbl::oid OPERATOR(pg_catalog.=) x.key::oid
                  ORDER BY 2 LOOP
            CONTINUE WHEN r.cur IS NOT NULL AND r.same;
            SELECT * INTO added, changed FROM privacy_guard.policy_doc_write(format('erasure_actions[%s]', r.i),
                format('SELECT privacy_guard.set_erasure_action(%s::pg_catalog.oid::pg_catalog.regclass, %L, %L)',
                       r.tbl, r.action, r.subject_col),
                'erasure action ' OPERATOR(pg_catalog.||) privacy_guard.policy_doc_table_name(r.tbl), r.cur IS NULL, added, changed);
        END LOOP;
        FOR r IN SELECT k.tbl FROM privacy_guard.erasure_actions k
                  WHERE NOT acts OPERATOR(pg_catalog.?) k.tbl::oid::text ORDER BY privacy_guard.policy_doc_table_name(k.tbl::oid) LOOP
            tbl_name := privacy_guard.policy_doc_table_name(r.tbl::oid);
            PERFORM privacy_guard.policy_doc_run('erasure_actions',
                format('SELECT privacy_guard.check_rule(%s::pg_catalog.oid::pg_catalog.regclass, ''delete'', ''erasure'')', r.tbl::oid),
                format('cannot remove the action of table %s', tbl_name));
            DELETE FROM privacy_guard.erasure_actions k WHERE k.tbl OPERATOR(pg_catalog.=) r.tbl;
            removed := removed OPERATOR(pg_catalog.||) ('erasure action ' OPERATOR(pg_catalog.||) tbl_name);
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        PERFORM privacy_guard.audit_event('policy_load', 'failed',
            format('policy document not loaded, its changes rolled back: %s', msg), NULL);
        RAISE;
    END;

    n := cardinality(added) OPERATOR(pg_catalog.+) cardinality(changed) OPERATOR(pg_catalog.+) cardinality(removed);
    IF n OPERATOR(pg_catalog.>) 0 THEN
        PERFORM privacy_guard.audit_event_at_commit('policy_load', 'loaded',
            format('policy document loaded: %s changes; the policy is now sha256:%s', n,
                   encode(sha256(convert_to(privacy_guard.export_policy()::text, 'UTF8')), 'hex')), NULL);
    END IF;
    RETURN jsonb_build_object('changes', n,
        'added', to_jsonb(ARRAY(SELECT x FROM unnest(added) x ORDER BY x COLLATE "C")),
        'changed', to_jsonb(ARRAY(SELECT x FROM unnest(changed) x ORDER BY x COLLATE "C")),
        'removed', to_jsonb(ARRAY(SELECT x FROM unnest(removed) x ORDER BY x COLLATE "C")));
END
$fn$;
COMMENT ON FUNCTION privacy_guard.load_policy(jsonb) IS
    'make the policy equal to a document (format privacy_guard/1), all or nothing; returns what changed';

REVOKE ALL ON FUNCTION privacy_guard.policy_doc_builtins(), privacy_guard.policy_doc_error(text, text, text, text, text),
    privacy_guard.policy_doc_type(jsonb), privacy_guard.policy_doc_object(jsonb, text, text, text[]),
    privacy_guard.policy_doc_field(jsonb, text, text, text, boolean, boolean), privacy_guard.policy_doc_table(text, text),
    privacy_guard.policy_doc_table_name(oid), privacy_guard.policy_doc_run(text, text, text),
    privacy_guard.policy_doc_entries(jsonb, text, text), privacy_guard.policy_doc_entry(jsonb, text, text, text[]),
    privacy_guard.policy_doc_unique(jsonb, text, text, text, text), privacy_guard.policy_doc_has_purpose(jsonb, text),
    privacy_guard.policy_doc_write(text, text, text, boolean, text[], text[]),
    privacy_guard.policy_doc_remove(text, text, jsonb, text[]),
    privacy_guard.export_policy(), privacy_guard.load_policy(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.export_policy(), privacy_guard.load_policy(jsonb) TO privacy_guard_admin;
GRANT EXECUTE ON FUNCTION privacy_guard.export_policy() TO privacy_guard_auditor;

-- The values of a JSON array as text, joined by ", "; NULL when it has none.
CREATE FUNCTION privacy_guard.policy_doc_join(list jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.string_agg(z.value OPERATOR(pg_catalog.#>>) '{}', ', ') FROM pg_catalog.jsonb_array_elements(list) z $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_join(jsonb) IS 'the values of a JSON array as text, joined by commas';

-- The line that says a list of the record is empty: {line} when it is, no
-- line when it is not.
CREATE FUNCTION privacy_guard.policy_doc_if_none(list jsonb, line text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT CASE WHEN pg_catalog.jsonb_array_length(list) OPERATOR(pg_catalog.=) 0 THEN ARRAY[line] ELSE '{}' END $$;
COMMENT ON FUNCTION privacy_guard.policy_doc_if_none(jsonb, text) IS
    'the line saying that a list of the record of processing activities is empty, when it is';

-- The record of processing activities (GDPR Art. 30), read from what the
-- database enforces, so it is current whenever it is asked for: every
-- purpose with the categories it sees (the nearest allowance up its tree,
-- as reveal decides), the roles holding it (a grant of a purpose or of an
-- ancestor; members counted as those with the role's privileges), consent;
-- categories and where they are stored; retention and erasure; and the
-- technical measures in force, with the audit chain verified now.  No JIT:
-- the recursive queries' estimates would compile it, for a few rows.
CREATE FUNCTION privacy_guard.processing_record() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres'
    SET jit = off AS $fn$
DECLARE
    pol jsonb := privacy_guard.export_policy();
    intact boolean;
    rec jsonb;
BEGIN
    BEGIN
        intact := privacy_guard.verify_audit();
    EXCEPTION WHEN invalid_transaction_state THEN
        intact := NULL;         -- not at READ COMMITTED: reported as not verified
    END;
    WITH RECURSIVE
    -- each purpose with its ancestors, nearest first
    up AS (SELECT p.name AS purpose, p.name AS ancestor, 0 AS depth FROM privacy_guard.purposes p
           UNION ALL
           SELECT up.purpose, q.parent, up.depth OPERATOR(pg_catalog.+) 1
             FROM up JOIN privacy_guard.purposes q ON q.name OPERATOR(pg_catalog.=) up.ancestor
            WHERE q.parent IS NOT NULL AND up.depth OPERATOR(pg_catalog.<) 1000),
    nearest AS (SELECT DISTINCT ON (up.purpose, a.category) up.purpose, a.category, a.level,
                       CASE WHEN up.depth OPERATOR(pg_catalog.>) 0 THEN up.ancestor END AS inherited_from
                  FROM up JOIN privacy_guard.allowances a ON a.purpose OPERATOR(pg_catalog.=) up.ancestor
                 ORDER BY up.purpose, a.category, up.depth),
    -- subject_access sees every category in full, of its one subject, in subject_export()
    sees AS (SELECT n.* FROM nearest n WHERE n.purpose OPERATOR(pg_catalog.<>) 'subject_access'
             UNION ALL
             SELECT 'subject_access', c.name, 'full', NULL FROM privacy_guard.categories c
              WHERE c.sensitivity OPERATOR(pg_catalog.<>) 'prohibited'
                AND EXISTS (SELECT FROM privacy_guard.purposes p WHERE p.name OPERATOR(pg_catalog.=) 'subject_access')),
    holders AS (SELECT up.purpose, r.rolname, g.purpose AS granted,
                       (WITH RECURSIVE m AS (
                            SELECT am.member FROM pg_auth_members am JOIN pg_roles mr ON mr.oid OPERATOR(pg_catalog.=) am.member
                             WHERE am.roleid OPERATOR(pg_catalog.=) r.oid AND mr.rolinherit
                            UNION
                            SELECT am.member FROM m JOIN pg_auth_members am ON am.roleid OPERATOR(pg_catalog.=) m.member
                              JOIN pg_roles mr ON mr.oid OPERATOR(pg_catalog.=) am.member
                             WHERE mr.rolinherit)
                        SELECT count(*) FROM m) AS members
                  FROM up JOIN privacy_guard.purpose_grants g ON g.purpose OPERATOR(pg_catalog.=) up.ancestor
                  JOIN pg_roles r ON r.oid OPERATOR(pg_catalog.=) g.role::oid),
    consent AS (SELECT up.purpose, bool_or(p.requires_consent OR p.third_party) AS required
                  FROM up JOIN privacy_guard.purposes p ON p.name OPERATOR(pg_catalog.=) up.ancestor
                 GROUP BY up.purpose),
    stored AS (SELECT p.category, format('%s.%I', privacy_guard.policy_doc_table_name(p.tbl::oid), p.col) AS col,
                      p.searchable, p.tbl
                 FROM privacy_guard.column_protection p)
    SELECT jsonb_build_object(
        'record', 'record of processing activities (GDPR Art. 30)',
        'database', current_database(),
        'generated_at', now(),
        'purposes', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'name', p.name, 'description', p.description, 'parent', p.parent,
                         'built_in', p.name OPERATOR(pg_catalog.=) ANY (privacy_guard.policy_doc_builtins()),
                         'requires_consent', c.required, 'third_party', p.third_party,
                         'categories', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                                  'category', s.category, 'level', s.level, 'inherited_from', s.inherited_from)
                                                  ORDER BY s.category COLLATE "C"), '[]')
                                          FROM sees s WHERE s.purpose OPERATOR(pg_catalog.=) p.name),
                         'roles', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                             'role', h.rolname, 'granted', h.granted, 'members', h.members)
                                             ORDER BY h.rolname COLLATE "C", h.granted COLLATE "C"), '[]')
                                     FROM holders h WHERE h.purpose OPERATOR(pg_catalog.=) p.name))
                         ORDER BY p.name COLLATE "C"), '[]')
                       FROM privacy_guard.purposes p JOIN consent c ON c.purpose OPERATOR(pg_catalog.=) p.name),
        'categories', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'name', c.name, 'sensitivity', c.sensitivity, 'mask', c.mask, 'description', c.description,
                           'stored_in', (SELECT coalesce(jsonb_agg(s.col ORDER BY s.col COLLATE "C"), '[]')
                                           FROM stored s WHERE s.category OPERATOR(pg_catalog.=) c.name),
                           'purposes', (SELECT coalesce(jsonb_agg(jsonb_build_object('purpose', s.purpose, 'level', s.level)
                                                                  ORDER BY s.purpose COLLATE "C"), '[]')
                                          FROM sees s WHERE s.category OPERATOR(pg_catalog.=) c.name))
                           ORDER BY c.name COLLATE "C"), '[]')
                         FROM privacy_guard.categories c WHERE c.sensitivity OPERATOR(pg_catalog.<>) 'prohibited'),
        'prohibited_categories', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                      'name', c.name, 'description', c.description,
                                      'stored_in', (SELECT coalesce(jsonb_agg(s.col ORDER BY s.col COLLATE "C"), '[]')
                                                      FROM stored s WHERE s.category OPERATOR(pg_catalog.=) c.name))
                                      ORDER BY c.name COLLATE "C"), '[]')
                                    FROM privacy_guard.categories c WHERE c.sensitivity OPERATOR(pg_catalog.=) 'prohibited'),
        'third_party_recipients', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                       'purpose', p.name, 'description', p.description,
                                       'categories', (SELECT coalesce(jsonb_agg(s.category ORDER BY s.category COLLATE "C"), '[]')
                                                        FROM sees s WHERE s.purpose OPERATOR(pg_catalog.=) p.name))
                                       ORDER BY p.name COLLATE "C"), '[]')
                                     FROM privacy_guard.purposes p WHERE p.third_party),
        'retention', pol OPERATOR(pg_catalog.->) 'retention',
        'erasure', jsonb_build_object(
            'deadline', pol OPERATOR(pg_catalog.->) 'erasure_deadline',
            'actions', pol OPERATOR(pg_catalog.->) 'erasure_actions',
            'default_action', 'delete',
            'requests', (SELECT jsonb_build_object(
                             'pending', count(*) FILTER (WHERE e.completed_at IS NULL),
                             'overdue', count(*) FILTER (WHERE e.completed_at IS NULL AND e.due_at OPERATOR(pg_catalog.<) now()),
                             'completed', count(*) FILTER (WHERE e.completed_at IS NOT NULL))
                           FROM privacy_guard.erasures e)),
        'technical_measures', jsonb_build_object(
            'encryption', jsonb_build_object(
                'cipher', 'AES-256-GCM',
                'keys', 'a 256-bit data key per data subject; the subject and category are authenticated with each value',
                'protected_columns', (SELECT count(*) FROM stored),
                'protected_tables', (SELECT count(DISTINCT s.tbl) FROM stored s)),
            'subject_keys', (SELECT jsonb_build_object(
                                 'live', count(*) FILTER (WHERE k.erased_at IS NULL),
                                 'erased', count(*) FILTER (WHERE k.erased_at IS NOT NULL))
                               FROM privacy_guard.keys k WHERE k.kind OPERATOR(pg_catalog.=) 'subject'),
            'key_wrapping', jsonb_build_object(
                'cipher', 'AES-256-GCM',
                'master_key_versions_in_use', (SELECT coalesce(jsonb_agg(DISTINCT k.master_version), '[]')
                                                 FROM privacy_guard.keys k WHERE k.master_version IS NOT NULL),
                'keyring', 'outside the database, in privacy_guard.keyring_file or keyring_command'),
            'blind_indexes', jsonb_build_object(
                'algorithm', 'HMAC-SHA256, first 128 bits, carried in each value''s authenticated envelope',
                'columns', (SELECT coalesce(jsonb_agg(s.col ORDER BY s.col COLLATE "C"), '[]') FROM stored s WHERE s.searchable)),
            'access_control', jsonb_build_object(
                'reveal', 'through reveal() only, under a declared purpose granted to the role and allowed the category, in full or masked',
                'superusers', (SELECT count(*) FROM pg_roles r WHERE r.rolsuper)),
            'audit_trail', jsonb_build_object(
                'records', (SELECT count(*) FROM privacy_guard.audit_records),
                'hash_chain', 'SHA-256',
                'intact', intact),
            'collection_guard', current_setting('privacy_guard.collection_guard'),
            'incidents', (SELECT jsonb_build_object(
                              'open', count(*) FILTER (WHERE i.kind OPERATOR(pg_catalog.=) 'report' AND i.closed_at IS NULL),
                              'closed', count(*) FILTER (WHERE i.kind OPERATOR(pg_catalog.=) 'report' AND i.closed_at IS NOT NULL),
                              'lockdown_since', privacy_guard.lockdown_since())
                            FROM privacy_guard.incident_log i)))
      INTO rec;
    RETURN rec;
END
$fn$;
COMMENT ON FUNCTION privacy_guard.processing_record() IS
    'the record of processing activities (GDPR Art. 30), read from the policy and measures the database enforces';

-- The same record as plain text for a data protection officer: headings,
-- one line a fact.
CREATE FUNCTION privacy_guard.processing_record_text() RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    rec jsonb := privacy_guard.processing_record();
    t jsonb := rec OPERATOR(pg_catalog.->) 'technical_measures';
    er jsonb := rec OPERATOR(pg_catalog.->) 'erasure';
    lines text[];
    p jsonb;
    q jsonb;
    lst text;
BEGIN
    lines := ARRAY['RECORD OF PROCESSING ACTIVITIES (GDPR Art. 30)',
                   'database: ' OPERATOR(pg_catalog.||) (rec OPERATOR(pg_catalog.->>) 'database'),
                   'generated at: ' OPERATOR(pg_catalog.||) (rec OPERATOR(pg_catalog.->>) 'generated_at'),
                   'source: the policy and measures this database enforces, read when generated',
                   '', 'PURPOSES OF PROCESSING'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'purposes') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('purpose %s%s', p OPERATOR(pg_catalog.->>) 'name',
                                                      ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description'));
        IF (p OPERATOR(pg_catalog.->>) 'built_in')::boolean THEN
            lines := lines OPERATOR(pg_catalog.||) '  built in: yes'::text;
        END IF;
        IF p OPERATOR(pg_catalog.->>) 'parent' IS NOT NULL THEN
            lines := lines OPERATOR(pg_catalog.||) ('  part of: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'parent'));
        END IF;
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            '  consent required: ' OPERATOR(pg_catalog.||)
                CASE WHEN (p OPERATOR(pg_catalog.->>) 'requires_consent')::boolean THEN 'yes' ELSE 'no' END,
            '  transfer to third parties: ' OPERATOR(pg_catalog.||)
                CASE WHEN (p OPERATOR(pg_catalog.->>) 'third_party')::boolean THEN 'yes' ELSE 'no' END];
        FOR q IN SELECT z.value FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'categories') z LOOP
            lines := lines OPERATOR(pg_catalog.||) format('  category %s: %s%s', q OPERATOR(pg_catalog.->>) 'category',
                q OPERATOR(pg_catalog.->>) 'level',
                ' (from ' OPERATOR(pg_catalog.||) (q OPERATOR(pg_catalog.->>) 'inherited_from') OPERATOR(pg_catalog.||) ')');
        END LOOP;
        lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(p OPERATOR(pg_catalog.->) 'categories', '  categories: none');
        FOR q IN SELECT z.value FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'roles') z LOOP
            lines := lines OPERATOR(pg_catalog.||) format('  role %s: granted %s, %s member role%s', q OPERATOR(pg_catalog.->>) 'role',
                q OPERATOR(pg_catalog.->>) 'granted', q OPERATOR(pg_catalog.->>) 'members',
                CASE WHEN q OPERATOR(pg_catalog.->>) 'members' OPERATOR(pg_catalog.=) '1' THEN '' ELSE 's' END);
        END LOOP;
        lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(p OPERATOR(pg_catalog.->) 'roles', '  roles: none');
    END LOOP;

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'CATEGORIES OF PERSONAL DATA'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'categories') z LOOP
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            format('category %s%s', p OPERATOR(pg_catalog.->>) 'name', ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description')),
            '  sensitivity: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'sensitivity'),
            '  masked as: ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'mask'),
            '  stored in: ' OPERATOR(pg_catalog.||)
                coalesce(privacy_guard.policy_doc_join(p OPERATOR(pg_catalog.->) 'stored_in'), 'no protected column')];
        SELECT string_agg(format('%s (%s)', z.value OPERATOR(pg_catalog.->>) 'purpose', z.value OPERATOR(pg_catalog.->>) 'level'), ', ')
          INTO lst FROM jsonb_array_elements(p OPERATOR(pg_catalog.->) 'purposes') z;
        lines := lines OPERATOR(pg_catalog.||) ('  used for: ' OPERATOR(pg_catalog.||) coalesce(lst, 'no purpose'));
    END LOOP;

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'PROHIBITED CATEGORIES (never collected)'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'prohibited_categories') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('category %s%s', p OPERATOR(pg_catalog.->>) 'name',
                                                      ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description'));
        lst := privacy_guard.policy_doc_join(p OPERATOR(pg_catalog.->) 'stored_in');
        IF lst IS NOT NULL THEN
            lines := lines OPERATOR(pg_catalog.||) ('  NEVERTHELESS STORED IN: ' OPERATOR(pg_catalog.||) lst);
        END IF;
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(rec OPERATOR(pg_catalog.->) 'prohibited_categories', 'none declared');

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'TRANSFERS TO THIRD PARTIES'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'third_party_recipients') z LOOP
        lines := lines OPERATOR(pg_catalog.||) ARRAY[
            format('purpose %s%s', p OPERATOR(pg_catalog.->>) 'purpose', ': ' OPERATOR(pg_catalog.||) (p OPERATOR(pg_catalog.->>) 'description')),
            '  only with the data subject''s consent: yes',
            '  categories: ' OPERATOR(pg_catalog.||) coalesce(privacy_guard.policy_doc_join(p OPERATOR(pg_catalog.->) 'categories'), 'none')];
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(rec OPERATOR(pg_catalog.->) 'third_party_recipients',
                                                                           'none: no purpose transfers data to a third party');

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'RETENTION'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(rec OPERATOR(pg_catalog.->) 'retention') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('table %s: rows kept %s after %s, then %s', p OPERATOR(pg_catalog.->>) 'table',
            p OPERATOR(pg_catalog.->>) 'keep', p OPERATOR(pg_catalog.->>) 'time_column',
            CASE p OPERATOR(pg_catalog.->>) 'action' WHEN 'delete' THEN 'deleted' ELSE 'anonymised' END);
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) privacy_guard.policy_doc_if_none(rec OPERATOR(pg_catalog.->) 'retention', 'no retention rule');

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'ERASURE ON REQUEST',
        format('deadline: %s after the request', er OPERATOR(pg_catalog.->>) 'deadline'),
        'method: the data subject''s key is destroyed (crypto-shredding), then their rows are deleted or anonymised'];
    FOR p IN SELECT z.value FROM jsonb_array_elements(er OPERATOR(pg_catalog.->) 'actions') z LOOP
        lines := lines OPERATOR(pg_catalog.||) format('table %s: rows %s', p OPERATOR(pg_catalog.->>) 'table',
            CASE p OPERATOR(pg_catalog.->>) 'action' WHEN 'delete' THEN 'deleted' ELSE 'anonymised' END);
    END LOOP;
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        'other protected tables: rows deleted',
        format('requests: %s pending, %s overdue, %s completed', er OPERATOR(pg_catalog.#>>) '{requests,pending}',
               er OPERATOR(pg_catalog.#>>) '{requests,overdue}', er OPERATOR(pg_catalog.#>>) '{requests,completed}')];

    lines := lines OPERATOR(pg_catalog.||) ARRAY['', 'TECHNICAL AND ORGANISATIONAL MEASURES',
        format('encryption: %s, %s', t OPERATOR(pg_catalog.#>>) '{encryption,cipher}', t OPERATOR(pg_catalog.#>>) '{encryption,keys}'),
        format('protected columns: %s in %s tables', t OPERATOR(pg_catalog.#>>) '{encryption,protected_columns}',
               t OPERATOR(pg_catalog.#>>) '{encryption,protected_tables}'),
        format('data keys: %s live, %s destroyed by erasure', t OPERATOR(pg_catalog.#>>) '{subject_keys,live}',
               t OPERATOR(pg_catalog.#>>) '{subject_keys,erased}')];
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        format('key wrapping: %s under the master key; versions in use: %s', t OPERATOR(pg_catalog.#>>) '{key_wrapping,cipher}',
               coalesce(privacy_guard.policy_doc_join(t OPERATOR(pg_catalog.#>) '{key_wrapping,master_key_versions_in_use}'), 'none yet')),
        'master keys: ' OPERATOR(pg_catalog.||) (t OPERATOR(pg_catalog.#>>) '{key_wrapping,keyring}')];
    lines := lines OPERATOR(pg_catalog.||) ARRAY[
        format('blind indexes (%s): %s', t OPERATOR(pg_catalog.#>>) '{blind_indexes,algorithm}',
               coalesce(privacy_guard.policy_doc_join(t OPERATOR(pg_catalog.#>) '{blind_indexes,columns}'), 'none')),
        'access to plaintext: ' OPERATOR(pg_catalog.||) (t OPERATOR(pg_catalog.#>>) '{access_control,reveal}'),
        format('superusers: %s (they hold every purpose, and must still declare one)',
               t OPERATOR(pg_catalog.#>>) '{access_control,superusers}'),
        format('audit trail: %s records, %s hash chain, %s', t OPERATOR(pg_catalog.#>>) '{audit_trail,records}',
               t OPERATOR(pg_catalog.#>>) '{audit_trail,hash_chain}',
               CASE t OPERATOR(pg_catalog.#>>) '{audit_trail,intact}' WHEN 'true' THEN 'intact' WHEN 'false' THEN 'BROKEN'
                    ELSE 'not verified (verify_audit() runs at READ COMMITTED)' END),
        format('collection guard: %s on new columns whose names suggest personal data',
               t OPERATOR(pg_catalog.#>>) '{collection_guard}'),
        format('incidents: %s open, %s closed; %s', t OPERATOR(pg_catalog.#>>) '{incidents,open}',
               t OPERATOR(pg_catalog.#>>) '{incidents,closed}',
               CASE WHEN t OPERATOR(pg_catalog.#>>) '{incidents,lockdown_since}' IS NULL THEN 'no lockdown in force'
                    ELSE 'LOCKDOWN in force: only incident_response reveals' END)];
    RETURN array_to_string(lines, E'\n');
END
$fn$;
COMMENT ON FUNCTION privacy_guard.processing_record_text() IS
    'the record of processing activities as plain text for a data protection officer';

REVOKE ALL ON FUNCTION privacy_guard.policy_doc_join(jsonb), privacy_guard.policy_doc_if_none(jsonb, text),
    privacy_guard.processing_record(), privacy_guard.processing_record_text() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_guard.processing_record(), privacy_guard.processing_record_text()
    TO privacy_guard_admin, privacy_guard_auditor;

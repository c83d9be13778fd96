-- sql/reveal.sql (src/reveal.c, src/masking.c)
--   reveal(): the plaintext of a sealed value, or its mask, when the role
--   holds a purpose that the policy allows to see the value's category;
--   NULL without consent, under restriction or after erasure; always
--   audited.

-- reveal() is not SECURITY DEFINER: it runs per row, and a SET clause would
-- cost more than the decryption.  It reads the catalog as the extension's
-- owner internally, with schema-qualified queries only.
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_text, purpose text DEFAULT NULL) RETURNS text
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_text';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_jsonb, purpose text DEFAULT NULL) RETURNS jsonb
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_jsonb';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_date, purpose text DEFAULT NULL) RETURNS date
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_date';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_numeric, purpose text DEFAULT NULL) RETURNS numeric
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_numeric';
CREATE FUNCTION privacy_guard.reveal(value privacy_guard.encrypted_bytea, purpose text DEFAULT NULL) RETURNS bytea
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pguard_reveal_bytea';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_text, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_jsonb, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_date, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_numeric, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';
COMMENT ON FUNCTION privacy_guard.reveal(privacy_guard.encrypted_bytea, text) IS
    'plaintext (or its mask) when the purpose allows the category; NULL for an erased subject';

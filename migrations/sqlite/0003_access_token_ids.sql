-- Access tokens are found by hash through `access_token_ids`, a small index from a prefix of
-- the hash to the token's row, merged in batches instead of one random page per token
-- (src/store/sqlite/token_ids.rs). Tokens issued since the last merge are found through
-- an in-memory table of the same shape, rebuilt at start-up from the tokens after
-- `access_token_ids_merged.through_id`. So the table loses its unique index on the hash,
-- which took a random page of every commit for every token (README "Performance").

CREATE TABLE access_tokens_by_id (
    id              INTEGER PRIMARY KEY,
    token_hash      TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    fi_reference_id TEXT NOT NULL,
    psp_id          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    consent_id      TEXT,
    psu_account_id  TEXT,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);

INSERT INTO access_tokens_by_id (id, token_hash, code_hash, client_id, fi_reference_id,
    psp_id, scope, consent_id, psu_account_id, issued_at, expires_at, revoked_at)
SELECT id, token_hash, code_hash, client_id, fi_reference_id, psp_id, scope, consent_id,
    psu_account_id, issued_at, expires_at, revoked_at
FROM access_tokens ORDER BY id;

DROP TABLE access_tokens;
ALTER TABLE access_tokens_by_id RENAME TO access_tokens;
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- The first 12 hex digits (48 bits) of the hash: a lookup reads the few rows with the same
-- prefix and compares the whole hash there.
CREATE TABLE access_token_ids (
    hash_prefix TEXT NOT NULL,
    token_id    INTEGER NOT NULL,
    PRIMARY KEY (hash_prefix, token_id)
) WITHOUT ROWID;

INSERT INTO access_token_ids (hash_prefix, token_id)
SELECT substr(token_hash, 1, 12), id FROM access_tokens ORDER BY 1, 2;

-- Every token with an id up to `through_id` is in `access_token_ids`.
CREATE TABLE access_token_ids_merged (
    only       INTEGER PRIMARY KEY CHECK (only = 1),
    through_id INTEGER NOT NULL
);

INSERT INTO access_token_ids_merged (only, through_id)
SELECT 1, coalesce(max(id), 0) FROM access_tokens;

CREATE TRIGGER access_token_ids_forget AFTER DELETE ON access_tokens
BEGIN
    DELETE FROM access_token_ids
    WHERE hash_prefix = substr(old.token_hash, 1, 12) AND token_id = old.id;
END;

-- Access tokens in issue order: the table is keyed by rowid, so a new token appends to its
-- last page, and only the small unique index on the hash takes a random page per token.
-- The code row names the token issued from it, so a replay revokes that token through the
-- row it already reads (RFC 6749 §4.1.2) and access_tokens needs no index on code_hash.

ALTER TABLE auth_codes ADD COLUMN token_hash TEXT;

UPDATE auth_codes
SET token_hash = (SELECT a.token_hash FROM access_tokens a WHERE a.code_hash = auth_codes.code_hash)
WHERE redeemed_at IS NOT NULL;

CREATE TABLE access_tokens_in_issue_order (
    id              INTEGER PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
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

INSERT INTO access_tokens_in_issue_order (token_hash, code_hash, client_id, fi_reference_id,
    psp_id, scope, consent_id, psu_account_id, issued_at, expires_at, revoked_at)
SELECT token_hash, code_hash, client_id, fi_reference_id, psp_id, scope, consent_id,
    psu_account_id, issued_at, expires_at, revoked_at
FROM access_tokens ORDER BY issued_at;

DROP TABLE access_tokens;
ALTER TABLE access_tokens_in_issue_order RENAME TO access_tokens;
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

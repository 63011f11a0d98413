-- Only SHA-256 hashes of codes, tokens and secrets are stored (SPEC §6).
-- Times are Unix milliseconds.

CREATE TABLE api_consumers (
    client_id        TEXT PRIMARY KEY NOT NULL,
    secret_hash      TEXT NOT NULL,
    fi_reference_ids TEXT NOT NULL, -- JSON array of strings
    enabled          BOOLEAN NOT NULL
);

CREATE TABLE psps (
    psp_id        TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    redirect_uris TEXT NOT NULL, -- JSON array of strings
    active        BOOLEAN NOT NULL
);

CREATE TABLE ccg_tokens (
    token_hash      TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    fi_reference_id TEXT NOT NULL,
    psp_id          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT -- NULL: never expires (sandbox token)
);
CREATE INDEX ccg_tokens_expires_at ON ccg_tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE auth_codes (
    code_hash       TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    fi_reference_id TEXT NOT NULL,
    psp_id          TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    state           TEXT,
    consent_id      TEXT,
    psu_account_id  TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    redeemed_at     BIGINT
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE access_tokens (
    token_hash      TEXT PRIMARY KEY NOT NULL,
    code_hash       TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    fi_reference_id TEXT NOT NULL,
    psp_id          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    consent_id      TEXT,
    psu_account_id  TEXT,
    issued_at       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX access_tokens_code_hash ON access_tokens (code_hash);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

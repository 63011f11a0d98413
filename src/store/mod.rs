//! Storage behind one narrow trait, chosen once at start-up (STYLE principle 9).
//!
//! The trait speaks in domain records and hashes only: no backend type crosses it, so
//! SQLite and PostgreSQL implement the same contract and run the same test suite.
//! Single use of authorization codes is enforced here, atomically, not by the caller.

mod cached;
mod postgres;
mod rows;
mod sql;
mod sqlite;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use cached::CachedStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Unix time in milliseconds.
pub type Millis = i64;

/// A store failure. `Unavailable` answers 503 with `Retry-After`; `Internal` answers 500.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Internal(String),
    #[error("conflict: {0}")]
    Conflict(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An API consumer: whoever holds the Basic credentials (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub client_id: String,
    pub secret_hash: String,
    pub fi_reference_ids: Vec<String>,
    pub enabled: bool,
}

/// A PSP registered with the service (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PspRecord {
    pub psp_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub active: bool,
}

/// A client-credentials grant token, stored by hash. `expires_at` None never expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcgTokenRecord {
    pub token_hash: String,
    pub client_id: String,
    pub fi_reference_id: String,
    pub psp_id: String,
    pub scope: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
}

/// An authorization code, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCodeRecord {
    pub code_hash: String,
    pub client_id: String,
    pub fi_reference_id: String,
    pub psp_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub consent_id: Option<String>,
    pub psu_account_id: Option<String>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub redeemed_at: Option<Millis>,
}

/// An access token, stored by hash, with the code it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub token_hash: String,
    pub code_hash: String,
    pub client_id: String,
    pub fi_reference_id: String,
    pub psp_id: String,
    pub scope: String,
    pub consent_id: Option<String>,
    pub psu_account_id: Option<String>,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
}

/// What an attempt to claim a code and issue its token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was unclaimed: it is now redeemed and the token committed.
    Issued,
    /// The code had been redeemed already: the token issued from it is now revoked
    /// (RFC 6749 §4.1.2) and nothing new was issued.
    Replayed,
}

/// One redemption of a code, as the store runs it: what the code must match (SPEC §4:
/// the caller's FI, unexpired, the grant's PSP, the same redirect_uri — RFC 6749 §4.1.3) and
/// the token to issue from it. The token's scope, consent and PSU come from the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeClaim {
    pub code_hash: String,
    pub fi_reference_id: String,
    pub psp_id: String,
    pub redirect_uri: String,
    pub now: Millis,
    pub client_id: String,
    pub token_hash: String,
    pub token_expires_at: Millis,
}

impl CodeClaim {
    /// The code passes every check but single use.
    pub fn admits(&self, code: &AuthCodeRecord) -> bool {
        code.fi_reference_id == self.fi_reference_id
            && code.expires_at > self.now
            && code.psp_id == self.psp_id
            && code.redirect_uri == self.redirect_uri
    }

    /// The access token this claim issues from `code`.
    pub fn token_from(&self, code: &AuthCodeRecord) -> AccessTokenRecord {
        AccessTokenRecord {
            token_hash: self.token_hash.clone(),
            code_hash: code.code_hash.clone(),
            client_id: self.client_id.clone(),
            fi_reference_id: code.fi_reference_id.clone(),
            psp_id: code.psp_id.clone(),
            scope: code.scope.clone(),
            consent_id: code.consent_id.clone(),
            psu_account_id: code.psu_account_id.clone(),
            issued_at: self.now,
            expires_at: self.token_expires_at,
            revoked_at: None,
        }
    }
}

/// What a claim did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The code was admitted and unclaimed: it is now redeemed and its token committed.
    Issued(AuthCodeRecord),
    /// The code was admitted but redeemed already: the token issued from it is now revoked
    /// (RFC 6749 §4.1.2) and nothing new was issued.
    Replayed,
    /// The code is unknown (`None`) or failed a check; nothing was written.
    Refused(Option<AuthCodeRecord>),
}

/// How many rows a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub auth_codes: u64,
    pub ccg_tokens: u64,
    pub access_tokens: u64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the store answers a trivial query (readiness).
    async fn ping(&self) -> StoreResult<()>;

    async fn upsert_consumer(&self, consumer: &ConsumerRecord) -> StoreResult<()>;
    async fn find_consumer(&self, client_id: &str) -> StoreResult<Option<ConsumerRecord>>;
    async fn list_consumers(&self) -> StoreResult<Vec<ConsumerRecord>>;
    /// Returns false when there is no such consumer.
    async fn disable_consumer(&self, client_id: &str) -> StoreResult<bool>;

    async fn upsert_psp(&self, psp: &PspRecord) -> StoreResult<()>;
    async fn find_psp(&self, psp_id: &str) -> StoreResult<Option<PspRecord>>;
    async fn list_psps(&self) -> StoreResult<Vec<PspRecord>>;
    /// Returns false when there is no such PSP.
    async fn withdraw_psp(&self, psp_id: &str) -> StoreResult<bool>;

    /// Inserts a ccg token; an existing one with the same hash is left as it is.
    async fn insert_ccg_token(&self, token: &CcgTokenRecord) -> StoreResult<()>;
    async fn find_ccg_token(&self, token_hash: &str) -> StoreResult<Option<CcgTokenRecord>>;

    async fn insert_auth_code(&self, code: &AuthCodeRecord) -> StoreResult<()>;
    async fn find_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRecord>>;

    /// In one transaction: mark the code redeemed if it is not yet, and insert `token`;
    /// if it was redeemed already, revoke the token issued from it instead. Of any number
    /// of concurrent calls for one code, exactly one returns `Issued`.
    async fn redeem_auth_code(
        &self,
        token: &AccessTokenRecord,
        now: Millis,
    ) -> StoreResult<Redemption>;
    /// Revokes the token issued from an already-redeemed code (a replay seen before the claim).
    async fn revoke_tokens_of_code(&self, code_hash: &str, now: Millis) -> StoreResult<()>;

    /// The whole redemption of `claim.code_hash`: read the code, check it against the claim,
    /// then claim it and issue the token, or revoke the token of a code used twice. This
    /// default takes a read and a write; a store may do it in one step.
    async fn claim_code(&self, claim: CodeClaim) -> StoreResult<Claim> {
        let Some(code) = self.find_auth_code(&claim.code_hash).await? else {
            return Ok(Claim::Refused(None));
        };
        if !claim.admits(&code) {
            return Ok(Claim::Refused(Some(code)));
        }
        if code.redeemed_at.is_some() {
            self.revoke_tokens_of_code(&claim.code_hash, claim.now)
                .await?;
            return Ok(Claim::Replayed);
        }
        match self
            .redeem_auth_code(&claim.token_from(&code), claim.now)
            .await?
        {
            Redemption::Issued => Ok(Claim::Issued(code)),
            Redemption::Replayed => Ok(Claim::Replayed),
        }
    }

    async fn find_access_token(&self, token_hash: &str) -> StoreResult<Option<AccessTokenRecord>>;
    /// Revokes the token if it belongs to `fi_reference_id`; other FIs' tokens stay untouched.
    async fn revoke_access_token(
        &self,
        token_hash: &str,
        fi_reference_id: &str,
        now: Millis,
    ) -> StoreResult<()>;

    /// Deletes codes and tokens expired before `before`.
    async fn sweep_expired(&self, before: Millis) -> StoreResult<Swept>;
}

/// Connection pool limits: how many connections, how long a request waits for one before
/// it is answered 503, and how long reads may be served from the cache.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// How long consumers, ccg tokens and PSPs may be served from memory (the staleness
    /// bound across replicas); zero disables the cache.
    pub cache_ttl: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            cache_ttl: Duration::from_secs(1),
        }
    }
}

/// Opens the store a database URL names (`sqlite:` or `postgres:`), creating and migrating
/// it as needed. The backend is chosen here, once; nothing else branches on it.
pub async fn open(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    open_with(database_url, &PoolSettings::default()).await
}

pub async fn open_with(
    database_url: &str,
    settings: &PoolSettings,
) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if database_url.starts_with("sqlite:") {
        Arc::new(SqliteStore::open(database_url, settings).await?)
    } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        Arc::new(PostgresStore::open(database_url, settings).await?)
    } else {
        anyhow::bail!(
            "unsupported database URL (expected sqlite:… or postgres://…): {database_url}"
        )
    };
    if settings.cache_ttl.is_zero() {
        return Ok(store);
    }
    Ok(Arc::new(CachedStore::new(store, settings.cache_ttl)))
}

/// A token for the stores' tests, issued from `code_hash`: only its key, code and times vary.
#[cfg(test)]
fn sample_token(
    token_hash: &str,
    code_hash: &str,
    issued_at: Millis,
    expires_at: Millis,
) -> AccessTokenRecord {
    AccessTokenRecord {
        token_hash: token_hash.into(),
        code_hash: code_hash.into(),
        client_id: "client".into(),
        fi_reference_id: "fi".into(),
        psp_id: "psp".into(),
        scope: "accounts".into(),
        consent_id: None,
        psu_account_id: None,
        issued_at,
        expires_at,
        revoked_at: None,
    }
}

//! The writes of the token flow as values, so a backend can run them one transaction each
//! (PostgreSQL) or many to a transaction (SQLite's group commit), with the same SQL.

use super::{AccessTokenRecord, AuthCodeRecord, CcgTokenRecord, Claim, CodeClaim, Millis};
use super::{Redemption, StoreError, StoreResult};

/// One write of the flow.
#[derive(Debug, Clone)]
pub enum WriteOp {
    InsertCcgToken(CcgTokenRecord),
    InsertAuthCode(AuthCodeRecord),
    /// Claim the code and insert its token, or revoke the token of an already-claimed code.
    Redeem {
        token: AccessTokenRecord,
        now: Millis,
    },
    RevokeCodeTokens {
        code_hash: String,
        now: Millis,
    },
    RevokeAccessToken {
        token_hash: String,
        fi_reference_id: String,
        now: Millis,
    },
}

/// A write for a group commit: one of the flow's, or a whole redemption, the code read,
/// checked and claimed in one step (`Store::claim_code`), answered `Written::Claim`.
#[derive(Debug, Clone)]
pub enum GroupWrite {
    Flow(WriteOp),
    Claim(CodeClaim),
}

/// What a committed write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Done,
    Redemption(Redemption),
    /// What a whole claim did (a store that runs `claim_code` as one write).
    Claim(Box<Claim>),
}

impl Written {
    /// A redemption must report its outcome; anything else is a fault of the store.
    pub fn into_redemption(self) -> StoreResult<Redemption> {
        match self {
            Written::Redemption(outcome) => Ok(outcome),
            _ => Err(StoreError::Internal("redemption without outcome".into())),
        }
    }

    /// A claim must report what it did; anything else is a fault of the store.
    pub fn into_claim(self) -> StoreResult<Claim> {
        match self {
            Written::Claim(claim) => Ok(*claim),
            _ => Err(StoreError::Internal("claim without outcome".into())),
        }
    }
}

/// Defines `apply_write` (one write inside an open transaction) and `write_alone` (one
/// write in its own transaction) for the backend `$db`.
macro_rules! sql_writes {
    ($db:ty, $begin:literal) => {
        async fn apply_write(
            tx: &mut sqlx::Transaction<'static, $db>,
            op: &WriteOp,
        ) -> StoreResult<Written> {
            match op {
                WriteOp::InsertCcgToken(t) => insert_ccg_token(tx, t).await,
                WriteOp::InsertAuthCode(c) => insert_auth_code(tx, c).await,
                WriteOp::Redeem { token, now } => redeem(tx, token, *now).await,
                WriteOp::RevokeCodeTokens { code_hash, now } => {
                    revoke_code_tokens(tx, code_hash, *now).await
                }
                WriteOp::RevokeAccessToken { token_hash, fi_reference_id, now } => {
                    revoke_access_token(tx, token_hash, fi_reference_id, *now).await
                }
            }
        }

        async fn write_alone(pool: &sqlx::Pool<$db>, op: &WriteOp) -> StoreResult<Written> {
            let mut tx = pool.begin_with($begin).await.map_err(map_err)?;
            let written = apply_write(&mut tx, op).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(written)
        }

        async fn insert_ccg_token(
            tx: &mut sqlx::Transaction<'static, $db>,
            t: &CcgTokenRecord,
        ) -> StoreResult<Written> {
            sqlx::query(
                "INSERT INTO ccg_tokens (token_hash, client_id, fi_reference_id, psp_id, scope,
                   created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (token_hash) DO NOTHING",
            )
            .bind(&t.token_hash)
            .bind(&t.client_id)
            .bind(&t.fi_reference_id)
            .bind(&t.psp_id)
            .bind(&t.scope)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            Ok(Written::Done)
        }

        async fn insert_auth_code(
            tx: &mut sqlx::Transaction<'static, $db>,
            c: &AuthCodeRecord,
        ) -> StoreResult<Written> {
            let query = sqlx::query(
                "INSERT INTO auth_codes (code_hash, client_id, fi_reference_id, psp_id, redirect_uri,
                   scope, state, consent_id, psu_account_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            );
            bind_auth_code(query, c).execute(&mut **tx).await.map_err(map_err)?;
            Ok(Written::Done)
        }

        /// Binds the 11 columns of an `auth_codes` row, in table order.
        fn bind_auth_code<'q>(
            query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
            c: &'q AuthCodeRecord,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
            query
                .bind(&c.code_hash)
                .bind(&c.client_id)
                .bind(&c.fi_reference_id)
                .bind(&c.psp_id)
                .bind(&c.redirect_uri)
                .bind(&c.scope)
                .bind(&c.state)
                .bind(&c.consent_id)
                .bind(&c.psu_account_id)
                .bind(c.created_at)
                .bind(c.expires_at)
        }

        /// The conditional UPDATE is the claim: the database lets exactly one concurrent
        /// transaction see `redeemed_at IS NULL` (SPEC §4 atomic redemption).
        async fn redeem(
            tx: &mut sqlx::Transaction<'static, $db>,
            t: &AccessTokenRecord,
            now: Millis,
        ) -> StoreResult<Written> {
            let claimed = sqlx::query(
                "UPDATE auth_codes SET redeemed_at = $1, token_hash = $3
                 WHERE code_hash = $2 AND redeemed_at IS NULL",
            )
            .bind(now)
            .bind(&t.code_hash)
            .bind(&t.token_hash)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?
            .rows_affected();
            if claimed == 1 {
                insert_access_token(tx, t).await?;
                Ok(Written::Redemption(Redemption::Issued))
            } else {
                revoke_code_tokens(tx, &t.code_hash, now).await?;
                Ok(Written::Redemption(Redemption::Replayed))
            }
        }

        async fn insert_access_token(
            tx: &mut sqlx::Transaction<'static, $db>,
            t: &AccessTokenRecord,
        ) -> StoreResult<()> {
            let query = sqlx::query(
                "INSERT INTO access_tokens (token_hash, code_hash, client_id, fi_reference_id, psp_id,
                   scope, consent_id, psu_account_id, issued_at, expires_at, revoked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            );
            bind_access_token(query, t, None).execute(&mut **tx).await.map_err(map_err)?;
            Ok(())
        }

        /// Binds the 11 columns of an `access_tokens` row, in table order.
        fn bind_access_token<'q>(
            query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
            t: &'q AccessTokenRecord,
            revoked_at: Option<Millis>,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
            query
                .bind(&t.token_hash)
                .bind(&t.code_hash)
                .bind(&t.client_id)
                .bind(&t.fi_reference_id)
                .bind(&t.psp_id)
                .bind(&t.scope)
                .bind(&t.consent_id)
                .bind(&t.psu_account_id)
                .bind(t.issued_at)
                .bind(t.expires_at)
                .bind(revoked_at)
        }

        async fn revoke_code_tokens(
            tx: &mut sqlx::Transaction<'static, $db>,
            code_hash: &str,
            now: Millis,
        ) -> StoreResult<Written> {
            sqlx::query(
                "UPDATE access_tokens t SET revoked_at = $1
                 FROM auth_codes c
                 WHERE c.code_hash = $2 AND t.token_hash = c.token_hash AND t.revoked_at IS NULL",
            )
            .bind(now)
            .bind(code_hash)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            Ok(Written::Done)
        }

        async fn revoke_access_token(
            tx: &mut sqlx::Transaction<'static, $db>,
            token_hash: &str,
            fi_reference_id: &str,
            now: Millis,
        ) -> StoreResult<Written> {
            sqlx::query(
                "UPDATE access_tokens SET revoked_at = $1
                 WHERE token_hash = $2 AND fi_reference_id = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(token_hash)
            .bind(fi_reference_id)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            Ok(Written::Done)
        }
    };
}

pub(super) use sql_writes;

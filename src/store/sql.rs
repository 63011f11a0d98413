//! The store implementation shared by SQLite and PostgreSQL. The SQL is written once, in
//! the dialect both accept (`$n` placeholders, `ON CONFLICT`, `TRUE`/`FALSE`), and expanded
//! for each backend by `sql_store!`; only connecting, migrations and the statement that opens
//! a write transaction differ, and those live in each backend's module.

use super::{StoreError, StoreResult};

/// Maps a driver error: unreachable (→ 503 and retry) or a fault (→ 500).
pub(super) fn map_err(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
        // SQLSTATE class 08 (connection exception) and 57P0x (server shutting down).
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
        {
            StoreError::Unavailable(db.message().to_owned())
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

pub(super) fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).expect("a list of strings serializes")
}

pub(super) fn parse_list(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("bad stored list: {e}")))
}

/// Implements `Store` for `$store` (a struct with a `pool: sqlx::Pool<$db>` field).
/// `$begin` opens a write transaction.
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty, $begin:literal) => {
        use async_trait::async_trait;
        use sqlx::Row;

        use $crate::store::sql::{json_list, map_err, parse_list};
        use $crate::store::*;

        fn consumer_from(row: &$row) -> StoreResult<ConsumerRecord> {
            Ok(ConsumerRecord {
                client_id: row.get("client_id"),
                secret_hash: row.get("secret_hash"),
                fi_reference_ids: parse_list(row.get("fi_reference_ids"))?,
                enabled: row.get("enabled"),
            })
        }

        fn psp_from(row: &$row) -> StoreResult<PspRecord> {
            Ok(PspRecord {
                psp_id: row.get("psp_id"),
                name: row.get("name"),
                redirect_uris: parse_list(row.get("redirect_uris"))?,
                active: row.get("active"),
            })
        }

        fn ccg_from(row: &$row) -> CcgTokenRecord {
            CcgTokenRecord {
                token_hash: row.get("token_hash"),
                client_id: row.get("client_id"),
                fi_reference_id: row.get("fi_reference_id"),
                psp_id: row.get("psp_id"),
                scope: row.get("scope"),
                created_at: row.get("created_at"),
                expires_at: row.get("expires_at"),
            }
        }

        fn code_from(row: &$row) -> AuthCodeRecord {
            AuthCodeRecord {
                code_hash: row.get("code_hash"),
                client_id: row.get("client_id"),
                fi_reference_id: row.get("fi_reference_id"),
                psp_id: row.get("psp_id"),
                redirect_uri: row.get("redirect_uri"),
                scope: row.get("scope"),
                state: row.get("state"),
                consent_id: row.get("consent_id"),
                psu_account_id: row.get("psu_account_id"),
                created_at: row.get("created_at"),
                expires_at: row.get("expires_at"),
                redeemed_at: row.get("redeemed_at"),
            }
        }

        fn token_from(row: &$row) -> AccessTokenRecord {
            AccessTokenRecord {
                token_hash: row.get("token_hash"),
                code_hash: row.get("code_hash"),
                client_id: row.get("client_id"),
                fi_reference_id: row.get("fi_reference_id"),
                psp_id: row.get("psp_id"),
                scope: row.get("scope"),
                consent_id: row.get("consent_id"),
                psu_account_id: row.get("psu_account_id"),
                issued_at: row.get("issued_at"),
                expires_at: row.get("expires_at"),
                revoked_at: row.get("revoked_at"),
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn upsert_consumer(&self, c: &ConsumerRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_consumers (client_id, secret_hash, fi_reference_ids, enabled)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash,
                       fi_reference_ids = excluded.fi_reference_ids, enabled = excluded.enabled",
                )
                .bind(&c.client_id)
                .bind(&c.secret_hash)
                .bind(json_list(&c.fi_reference_ids))
                .bind(c.enabled)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn find_consumer(&self, client_id: &str) -> StoreResult<Option<ConsumerRecord>> {
                sqlx::query("SELECT * FROM api_consumers WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .as_ref()
                    .map(consumer_from)
                    .transpose()
            }

            async fn list_consumers(&self) -> StoreResult<Vec<ConsumerRecord>> {
                let rows = sqlx::query("SELECT * FROM api_consumers ORDER BY client_id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                rows.iter().map(consumer_from).collect()
            }

            async fn disable_consumer(&self, client_id: &str) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE api_consumers SET enabled = FALSE WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn upsert_psp(&self, p: &PspRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO psps (psp_id, name, redirect_uris, active) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (psp_id) DO UPDATE SET name = excluded.name,
                       redirect_uris = excluded.redirect_uris, active = excluded.active",
                )
                .bind(&p.psp_id)
                .bind(&p.name)
                .bind(json_list(&p.redirect_uris))
                .bind(p.active)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn find_psp(&self, psp_id: &str) -> StoreResult<Option<PspRecord>> {
                sqlx::query("SELECT * FROM psps WHERE psp_id = $1")
                    .bind(psp_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .as_ref()
                    .map(psp_from)
                    .transpose()
            }

            async fn list_psps(&self) -> StoreResult<Vec<PspRecord>> {
                let rows = sqlx::query("SELECT * FROM psps ORDER BY psp_id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                rows.iter().map(psp_from).collect()
            }

            async fn withdraw_psp(&self, psp_id: &str) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE psps SET active = FALSE WHERE psp_id = $1")
                    .bind(psp_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_ccg_token(&self, t: &CcgTokenRecord) -> StoreResult<()> {
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
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn find_ccg_token(&self, token_hash: &str) -> StoreResult<Option<CcgTokenRecord>> {
                let row = sqlx::query("SELECT * FROM ccg_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(row.as_ref().map(ccg_from))
            }

            async fn insert_auth_code(&self, c: &AuthCodeRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO auth_codes (code_hash, client_id, fi_reference_id, psp_id, redirect_uri,
                       scope, state, consent_id, psu_account_id, created_at, expires_at, redeemed_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)",
                )
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
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn find_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRecord>> {
                let row = sqlx::query("SELECT * FROM auth_codes WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(row.as_ref().map(code_from))
            }

            async fn redeem_auth_code(
                &self,
                t: &AccessTokenRecord,
                now: Millis,
            ) -> StoreResult<Redemption> {
                // The conditional UPDATE is the claim: the database lets exactly one concurrent
                // transaction see `redeemed_at IS NULL` (SPEC §4 atomic redemption).
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(map_err)?;
                let claimed = sqlx::query(
                    "UPDATE auth_codes SET redeemed_at = $1 WHERE code_hash = $2 AND redeemed_at IS NULL",
                )
                .bind(now)
                .bind(&t.code_hash)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
                let outcome = if claimed == 1 {
                    insert_access_token(&mut tx, t).await?;
                    Redemption::Issued
                } else {
                    revoke_code_tokens(&mut tx, &t.code_hash, now).await?;
                    Redemption::Replayed
                };
                tx.commit().await.map_err(map_err)?;
                Ok(outcome)
            }

            async fn revoke_tokens_of_code(&self, code_hash: &str, now: Millis) -> StoreResult<()> {
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(map_err)?;
                revoke_code_tokens(&mut tx, code_hash, now).await?;
                tx.commit().await.map_err(map_err)
            }

            async fn find_access_token(&self, token_hash: &str) -> StoreResult<Option<AccessTokenRecord>> {
                let row = sqlx::query("SELECT * FROM access_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(row.as_ref().map(token_from))
            }

            async fn revoke_access_token(
                &self,
                token_hash: &str,
                fi_reference_id: &str,
                now: Millis,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE access_tokens SET revoked_at = $1
                     WHERE token_hash = $2 AND fi_reference_id = $3 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(token_hash)
                .bind(fi_reference_id)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn sweep_expired(&self, before: Millis) -> StoreResult<Swept> {
                let mut swept = Swept::default();
                for (sql, count) in [
                    (
                        "DELETE FROM auth_codes WHERE expires_at < $1",
                        &mut swept.auth_codes,
                    ),
                    (
                        "DELETE FROM access_tokens WHERE expires_at < $1",
                        &mut swept.access_tokens,
                    ),
                    (
                        "DELETE FROM ccg_tokens WHERE expires_at < $1",
                        &mut swept.ccg_tokens,
                    ),
                ] {
                    let done = sqlx::query(sql)
                        .bind(before)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    *count = done.rows_affected();
                }
                Ok(swept)
            }
        }

        async fn insert_access_token(
            tx: &mut sqlx::Transaction<'static, $db>,
            t: &AccessTokenRecord,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO access_tokens (token_hash, code_hash, client_id, fi_reference_id, psp_id,
                   scope, consent_id, psu_account_id, issued_at, expires_at, revoked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
            )
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
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            Ok(())
        }

        async fn revoke_code_tokens(
            tx: &mut sqlx::Transaction<'static, $db>,
            code_hash: &str,
            now: Millis,
        ) -> StoreResult<()> {
            sqlx::query(
                "UPDATE access_tokens SET revoked_at = $1 WHERE code_hash = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(code_hash)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            Ok(())
        }
    };
}

pub(super) use sql_store;

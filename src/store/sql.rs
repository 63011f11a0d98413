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
/// `$begin` opens a write transaction. The struct also defines
/// `async fn write(&self, WriteOp) -> StoreResult<Written>`: how its writes reach the database.
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty, $begin:literal) => {
        use async_trait::async_trait;
        use sqlx::Row;

        use $crate::store::sql::{json_list, map_err, parse_list};
        use $crate::store::*;
        use $crate::store::writes::{WriteOp, Written};

        $crate::store::rows::sql_rows!($row);

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

            async fn find_ccg_token(&self, token_hash: &str) -> StoreResult<Option<CcgTokenRecord>> {
                let row = sqlx::query("SELECT * FROM ccg_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(row.as_ref().map(ccg_from))
            }

            async fn find_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRecord>> {
                let row = sqlx::query("SELECT * FROM auth_codes WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(row.as_ref().map(code_from))
            }

            async fn insert_ccg_token(&self, t: &CcgTokenRecord) -> StoreResult<()> {
                self.write(WriteOp::InsertCcgToken(t.clone())).await.map(drop)
            }

            async fn insert_auth_code(&self, c: &AuthCodeRecord) -> StoreResult<()> {
                self.write(WriteOp::InsertAuthCode(c.clone())).await.map(drop)
            }

            async fn redeem_auth_code(
                &self,
                t: &AccessTokenRecord,
                now: Millis,
            ) -> StoreResult<Redemption> {
                let op = WriteOp::Redeem { token: t.clone(), now };
                self.write(op).await?.into_redemption()
            }

            async fn revoke_tokens_of_code(&self, code_hash: &str, now: Millis) -> StoreResult<()> {
                let op = WriteOp::RevokeCodeTokens { code_hash: code_hash.to_owned(), now };
                self.write(op).await.map(drop)
            }

            async fn revoke_access_token(
                &self,
                token_hash: &str,
                fi_reference_id: &str,
                now: Millis,
            ) -> StoreResult<()> {
                let op = WriteOp::RevokeAccessToken {
                    token_hash: token_hash.to_owned(),
                    fi_reference_id: fi_reference_id.to_owned(),
                    now,
                };
                self.write(op).await.map(drop)
            }

            async fn find_access_token(&self, token_hash: &str) -> StoreResult<Option<AccessTokenRecord>> {
                let row = sqlx::query("SELECT * FROM access_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(row.as_ref().map(token_from))
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

        $crate::store::writes::sql_writes!($db, $begin);
    };
}

pub(super) use sql_store;

//! The PostgreSQL store, for many replicas on one database. Every invariant is enforced by
//! the database (row locks of the conditional UPDATE that claims a code), never by locks in
//! one process, so it holds across any number of `obie-tokens` processes (SPEC §8).

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use super::PoolSettings;
use super::sql::sql_store;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and migrates. Replicas starting together are safe: sqlx serialises
    /// migrations with an advisory lock.
    pub async fn open(database_url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(database_url)?.application_name("obie-tokens");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

// READ COMMITTED suffices: a second claim of one code waits on the first one's row lock,
// then re-reads `redeemed_at` and matches no row.
sql_store!(PostgresStore, sqlx::Postgres, PgRow, "BEGIN");

impl PostgresStore {
    /// One transaction per write: PostgreSQL commits concurrent transactions in parallel.
    async fn write(&self, op: WriteOp) -> StoreResult<Written> {
        write_alone(&self.pool, &op).await
    }
}

//! The PostgreSQL store, for many replicas on one database. Every invariant is enforced by
//! the database (row locks of the conditional UPDATE that claims a code), never by locks in
//! one process, so it holds across any number of `obie-tokens` processes (SPEC §8).
//!
//! The hot paths are batched (README "Performance"): the flow's writes go through a group
//! commit (`group`), which answers each caller only after the commit, so a 201 still means
//! durable (SPEC §6); there a group's code claims are checked, claimed and their tokens
//! inserted in one statement (`claims`). `find_auth_code` goes through a batched reader
//! (`reads`). Both run on connections of their own; every other read uses the pool.

mod claims;
mod delegate;
mod group;
mod reads;
mod statements;
#[cfg(test)]
mod tests;

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use tokio::sync::{mpsc, oneshot};

use super::PoolSettings;
use super::sql::sql_store;
use super::writes::GroupWrite;

pub struct PostgresStore {
    sql: SqlStore,
    reads: mpsc::UnboundedSender<reads::PendingRead>,
}

/// The shared SQL implementation, with writes routed to the group commit.
struct SqlStore {
    pool: PgPool,
    writes: mpsc::UnboundedSender<PendingWrite>,
}

/// A write waiting for its group's commit, and where to send what it did.
type PendingWrite = (GroupWrite, oneshot::Sender<StoreResult<Written>>);

impl PostgresStore {
    /// Connects and migrates. Replicas starting together are safe: sqlx serialises
    /// migrations with an advisory lock.
    pub async fn open(database_url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(database_url)?.application_name("obie-tokens");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // The pool pings a connection when it takes it back: checking again before each
            // use would add a round trip to every read.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        // The committer's and the reader's own connections, beside the pool (README
        // "Running many replicas": each process holds these on top of the pool's).
        let own_connections = |n: usize| {
            PgPoolOptions::new()
                .max_connections(n as u32)
                .acquire_timeout(settings.acquire_timeout)
                .connect_lazy_with(options.clone())
        };
        let (writes, pending_writes) = mpsc::unbounded_channel();
        group::start(own_connections(1), pool.clone(), pending_writes);
        let (reads, pending_reads) = mpsc::unbounded_channel();
        tokio::spawn(reads::serve_reads(own_connections(1), pending_reads));
        let sql = SqlStore { pool, writes };
        Ok(PostgresStore { sql, reads })
    }

    /// Queues a lookup of one code for the next batch and waits for its answer.
    async fn find_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRecord>> {
        let (done, found) = oneshot::channel();
        self.reads
            .send((code_hash.to_owned(), done))
            .map_err(|_| StoreError::Unavailable("the read queue is closed".into()))?;
        found
            .await
            .map_err(|_| StoreError::Unavailable("the read queue stopped".into()))?
    }
}

impl SqlStore {
    /// Queues `op` for the next group commit and waits until it is committed.
    async fn write(&self, op: WriteOp) -> StoreResult<Written> {
        self.commit(GroupWrite::Flow(op)).await
    }

    /// Queues a whole claim for the next group commit and waits until it is committed.
    async fn claim(&self, claim: CodeClaim) -> StoreResult<Claim> {
        self.commit(GroupWrite::Claim(claim)).await?.into_claim()
    }

    async fn commit(&self, write: GroupWrite) -> StoreResult<Written> {
        let (done, written) = oneshot::channel();
        self.writes
            .send((write, done))
            .map_err(|_| StoreError::Unavailable("the write queue is closed".into()))?;
        written
            .await
            .map_err(|_| StoreError::Unavailable("the write queue stopped".into()))?
    }
}

/// The same error, for each caller that shares it.
fn copy_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Internal(m) => StoreError::Internal(m.clone()),
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
    }
}

// READ COMMITTED suffices: a second claim of one code waits on the first one's row lock,
// then re-reads `redeemed_at` and matches no row.
sql_store!(SqlStore, sqlx::Postgres, PgRow, "BEGIN");

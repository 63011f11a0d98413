//! The embedded SQLite store: one file, WAL journal, `synchronous=FULL` so a committed
//! transaction survives a crash or power loss (SPEC §6 durability).
//!
//! SQLite has one writer at a time and pays one fsync per commit, so the flow's writes go
//! through a group commit: one task takes every write waiting, runs them all in one
//! transaction, commits once, and only then answers each caller. Under load hundreds of
//! redemptions share an fsync; alone, a write commits at once. Reads use the pool, beside.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use tokio::sync::{mpsc, oneshot};

mod group;

use super::PoolSettings;
use super::sql::sql_store;

pub struct SqliteStore {
    pool: SqlitePool,
    writes: mpsc::UnboundedSender<PendingWrite>,
}

/// A write waiting for its group's commit, and where to send what it did.
type PendingWrite = (WriteOp, oneshot::Sender<StoreResult<Written>>);

impl SqliteStore {
    /// Opens (creating file and folder as needed) and migrates the database.
    pub async fn open(database_url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(folder) = options.get_filename().parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder)?;
        }
        // Each connection to `:memory:` is its own database: keep one.
        let in_memory = options.get_filename().as_os_str() == ":memory:";
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory {
                1
            } else {
                settings.max_connections
            })
            .acquire_timeout(settings.acquire_timeout)
            // A local file cannot drop a connection the way a network can: skip the ping
            // before each use, which would double the thread hand-offs of every query.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let (writes, pending) = mpsc::unbounded_channel();
        tokio::spawn(group::commit_groups(pool.clone(), pending));
        Ok(SqliteStore { pool, writes })
    }

    /// Queues `op` for the next group commit and waits until it is durable.
    async fn write(&self, op: WriteOp) -> StoreResult<Written> {
        let (done, written) = oneshot::channel();
        self.writes
            .send((op, done))
            .map_err(|_| StoreError::Unavailable("the write queue is closed".into()))?;
        written
            .await
            .map_err(|_| StoreError::Unavailable("the write queue stopped".into()))?
    }
}

// BEGIN IMMEDIATE takes the write lock up front, so concurrent redemptions queue on the
// busy timeout instead of failing on a read-to-write lock upgrade.
sql_store!(SqliteStore, sqlx::Sqlite, SqliteRow, "BEGIN IMMEDIATE");

//! The embedded SQLite store: one file, WAL journal, `synchronous=FULL` so a committed
//! transaction survives a crash or power loss (SPEC §6 durability).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::PoolSettings;
use super::sql::sql_store;

pub struct SqliteStore {
    pool: SqlitePool,
}

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
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

// BEGIN IMMEDIATE takes the write lock up front, so concurrent redemptions queue on the
// busy timeout instead of failing on a read-to-write lock upgrade.
sql_store!(SqliteStore, sqlx::Sqlite, SqliteRow, "BEGIN IMMEDIATE");

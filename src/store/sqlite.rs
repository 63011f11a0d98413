//! The embedded SQLite store: one file, WAL journal, and every write answered only once it
//! is on disk, so it survives a crash or power loss (SPEC §6 durability).
//!
//! One connection, owned by one thread (`engine`), does all the work. SQLite has one writer
//! at a time anyway, and a single connection keeps its page cache across transactions,
//! where every connection of a pool would drop its cache whenever another one committed.
//! The flow's writes go through the engine's group commit: under load hundreds of
//! redemptions share one transaction and one fsync, and each caller is answered only after
//! the commit.

mod checkpoint;
mod engine;
mod merged_filter;
mod migrate;
mod reads;
mod syncer;
mod token_ids;
mod wal_writes;
mod writes;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::writes::WriteOp;
use super::*;
use checkpoint::{CatchUp, Checkpointer};
use engine::Engine;
use syncer::Durability;

/// Page cache of the one connection, in KiB. It fills as the tables grow and then stays:
/// 8 MiB keeps that within `make soak`'s RSS growth bound (16 MiB measured 20,306 and
/// 18,527 exchanges/s against 19,863 and 15,672 for 8 MiB, README "Performance").
const CACHE_KIB: i64 = 8 * 1024;
pub struct SqliteStore {
    engine: Engine,
    _checkpointer: Option<Checkpointer>,
}

impl SqliteStore {
    /// Opens (creating file and folder as needed) and migrates the database. The pool
    /// settings do not apply: there is one connection.
    pub async fn open(database_url: &str, _settings: &PoolSettings) -> anyhow::Result<Self> {
        let path = path_of(database_url)?;
        let durability = match &path {
            Some(file) => Durability::for_file(file)?,
            None => Durability::Memory,
        };
        let file = path.clone();
        let (connection, recent) = tokio::task::spawn_blocking(move || {
            let connection = connect(file)?;
            let recent = token_ids::RecentIds::load(&connection)?;
            anyhow::Ok((connection, recent))
        })
        .await??;
        let catch_up = CatchUp::default();
        Ok(SqliteStore {
            engine: Engine::start(connection, recent, durability, catch_up.clone())?,
            _checkpointer: path
                .map(|file| Checkpointer::start(file, catch_up))
                .transpose()?,
        })
    }
}

/// `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`; a query string is not supported.
fn path_of(database_url: &str) -> anyhow::Result<Option<PathBuf>> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .ok_or_else(|| anyhow::anyhow!("not a sqlite: URL: {database_url}"))?;
    anyhow::ensure!(
        !rest.contains('?'),
        "options in a sqlite: URL are not supported: {database_url}"
    );
    anyhow::ensure!(!rest.is_empty(), "the sqlite: URL names no file");
    Ok((rest != ":memory:").then(|| PathBuf::from(rest)))
}

/// Opens the one connection (`None`: in memory) and brings its schema up to date.
fn connect(path: Option<PathBuf>) -> anyhow::Result<Connection> {
    let mut connection = match &path {
        None => Connection::open_in_memory()?,
        Some(path) => {
            if let Some(folder) = path.parent()
                && !folder.as_os_str().is_empty()
            {
                std::fs::create_dir_all(folder)?;
            }
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            // The only connection that writes WAL frames gathers them (`wal_writes`).
            wal_writes::register()?;
            Connection::open_with_flags_and_vfs(path, flags, wal_writes::VFS_NAME)?
        }
    };
    if path.is_some() {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // Checkpoints run on their own thread (`checkpoint`), never inside a commit.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    // The sync thread makes each commit durable before its callers hear of it (`syncer`).
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    connection.pragma_update(None, "cache_size", -CACHE_KIB)?;
    // Temporary b-trees (a sort, say) stay in memory, off the disk the WAL syncs to.
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    // Another process (the onboarding CLI) may hold the write lock for a moment.
    connection.busy_timeout(Duration::from_secs(5))?;
    connection.set_prepared_statement_cache_capacity(64);
    migrate::migrate(&mut connection)?;
    Ok(connection)
}

/// Maps a driver error: the database busy or its disk failing (→ 503 and retry), a
/// duplicate key (→ conflict), or a fault (→ 500).
fn map_err(err: rusqlite::Error) -> StoreError {
    let code = err.sqlite_error_code();
    match code {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly,
        ) => StoreError::Unavailable(err.to_string()),
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(err.to_string()),
        _ => StoreError::Internal(err.to_string()),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.engine.run(reads::ping).await
    }

    async fn upsert_consumer(&self, consumer: &ConsumerRecord) -> StoreResult<()> {
        let consumer = consumer.clone();
        self.engine
            .run_durably(move |c| reads::upsert_consumer(c, &consumer))
            .await
    }

    async fn find_consumer(&self, client_id: &str) -> StoreResult<Option<ConsumerRecord>> {
        let client_id = client_id.to_owned();
        self.engine
            .run(move |c| reads::find_consumer(c, &client_id))
            .await
    }

    async fn list_consumers(&self) -> StoreResult<Vec<ConsumerRecord>> {
        self.engine.run(reads::list_consumers).await
    }

    async fn disable_consumer(&self, client_id: &str) -> StoreResult<bool> {
        let client_id = client_id.to_owned();
        self.engine
            .run_durably(move |c| reads::disable_consumer(c, &client_id))
            .await
    }

    async fn upsert_psp(&self, psp: &PspRecord) -> StoreResult<()> {
        let psp = psp.clone();
        self.engine
            .run_durably(move |c| reads::upsert_psp(c, &psp))
            .await
    }

    async fn find_psp(&self, psp_id: &str) -> StoreResult<Option<PspRecord>> {
        let psp_id = psp_id.to_owned();
        self.engine.run(move |c| reads::find_psp(c, &psp_id)).await
    }

    async fn list_psps(&self) -> StoreResult<Vec<PspRecord>> {
        self.engine.run(reads::list_psps).await
    }

    async fn withdraw_psp(&self, psp_id: &str) -> StoreResult<bool> {
        let psp_id = psp_id.to_owned();
        self.engine
            .run_durably(move |c| reads::withdraw_psp(c, &psp_id))
            .await
    }

    async fn insert_ccg_token(&self, token: &CcgTokenRecord) -> StoreResult<()> {
        let op = WriteOp::InsertCcgToken(token.clone());
        self.engine.write(op).await.map(drop)
    }

    async fn find_ccg_token(&self, token_hash: &str) -> StoreResult<Option<CcgTokenRecord>> {
        let token_hash = token_hash.to_owned();
        self.engine
            .run(move |c| reads::find_ccg_token(c, &token_hash))
            .await
    }

    async fn insert_auth_code(&self, code: &AuthCodeRecord) -> StoreResult<()> {
        let op = WriteOp::InsertAuthCode(code.clone());
        self.engine.write(op).await.map(drop)
    }

    async fn find_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRecord>> {
        let code_hash = code_hash.to_owned();
        self.engine
            .run(move |c| reads::find_auth_code(c, &code_hash))
            .await
    }

    async fn redeem_auth_code(
        &self,
        token: &AccessTokenRecord,
        now: Millis,
    ) -> StoreResult<Redemption> {
        let op = WriteOp::Redeem {
            token: token.clone(),
            now,
        };
        self.engine.write(op).await?.into_redemption()
    }

    /// One request to the store thread, where the default takes two.
    async fn claim_code(&self, claim: CodeClaim) -> StoreResult<Claim> {
        self.engine.claim(claim).await?.into_claim()
    }

    async fn revoke_tokens_of_code(&self, code_hash: &str, now: Millis) -> StoreResult<()> {
        let code_hash = code_hash.to_owned();
        let op = WriteOp::RevokeCodeTokens { code_hash, now };
        self.engine.write(op).await.map(drop)
    }

    async fn find_access_token(&self, token_hash: &str) -> StoreResult<Option<AccessTokenRecord>> {
        let token_hash = token_hash.to_owned();
        self.engine
            .run_with_ids(move |c, recent| reads::find_access_token(c, recent, &token_hash))
            .await
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
        self.engine.write(op).await.map(drop)
    }

    /// In steps of `SWEEP_STEP` rows, so the flow's requests interleave with a large sweep
    /// instead of waiting for all of it.
    async fn sweep_expired(&self, before: Millis) -> StoreResult<Swept> {
        let mut counts = [0u64; 3];
        for (table, count) in reads::SWEPT_TABLES.into_iter().zip(&mut counts) {
            loop {
                let deleted = self
                    .engine
                    .run_with_ids(move |c, recent| reads::sweep_step(c, recent, table, before))
                    .await?;
                *count += deleted;
                if deleted < reads::SWEEP_STEP as u64 {
                    break;
                }
            }
        }
        let [auth_codes, access_tokens, ccg_tokens] = counts;
        Ok(Swept {
            auth_codes,
            ccg_tokens,
            access_tokens,
        })
    }
}

/// An in-memory database at the current schema, for the store's tests.
#[cfg(test)]
fn migrated_in_memory() -> Connection {
    let mut connection = Connection::open_in_memory().unwrap();
    migrate::migrate(&mut connection).unwrap();
    connection
}

/// The hash of the token that claimed `code_hash`, or `None` while it is unclaimed, for the
/// store's tests.
#[cfg(test)]
fn redeemed_by(connection: &Connection, code_hash: &str) -> Option<String> {
    connection
        .query_row(
            "SELECT token_hash FROM auth_codes WHERE code_hash = ?1",
            [code_hash],
            |row| row.get(0),
        )
        .unwrap()
}

/// A code for the store's tests: only its key and expiry vary.
#[cfg(test)]
fn sample_code(code_hash: &str, expires_at: Millis) -> AuthCodeRecord {
    AuthCodeRecord {
        code_hash: code_hash.into(),
        client_id: "client".into(),
        fi_reference_id: "fi".into(),
        psp_id: "psp".into(),
        redirect_uri: "https://example.com".into(),
        scope: "accounts".into(),
        state: None,
        consent_id: None,
        psu_account_id: None,
        created_at: 1,
        expires_at,
        redeemed_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[tokio::test]
    async fn a_sweep_larger_than_one_step_removes_every_expired_row() {
        let store = SqliteStore::open("sqlite::memory:", &PoolSettings::default())
            .await
            .unwrap();
        let expired = 2 * reads::SWEEP_STEP as usize + 5;
        for n in 0..expired {
            store
                .insert_auth_code(&sample_code(&format!("code-{n}"), 10))
                .await
                .unwrap();
        }
        let live = sample_code("live", 1_000);
        store.insert_auth_code(&live).await.unwrap();
        let swept = store.sweep_expired(100).await.unwrap();
        assert_eq!(swept.auth_codes, expired as u64);
        assert!(
            store
                .find_auth_code(&live.code_hash)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn sqlite_urls_name_a_file_or_memory() {
        let file = path_of("sqlite://./data/obie-tokens.db").unwrap();
        assert_eq!(file, Some(PathBuf::from("./data/obie-tokens.db")));
        assert_eq!(
            path_of("sqlite:/tmp/x.db").unwrap(),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(path_of("sqlite::memory:").unwrap(), None);
        assert!(path_of("sqlite://x.db?mode=ro").is_err());
        assert!(path_of("sqlite://").is_err());
    }

    /// `.cargo/config.toml` builds the bundled SQLite without its global page-cache and
    /// allocation-statistics mutexes (README "Performance"); a build that misses it (run
    /// from outside the repository, say) fails here rather than silently slowing down.
    #[test]
    fn the_bundled_sqlite_is_built_without_global_memory_mutexes() {
        let connection = Connection::open_in_memory().unwrap();
        let mut statement = connection.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }
}

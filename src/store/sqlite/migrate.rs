//! Applies `migrations/sqlite` on the store's own connection, keeping the same
//! `_sqlx_migrations` history the PostgreSQL store keeps, so a database created by an earlier
//! release is recognised and only the newer migrations run.

use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, params};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

const HISTORY: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";

/// Runs every migration not yet applied, each in its own transaction. A migration whose
/// file changed after it was applied, or one that failed half-way, stops start-up: the
/// schema is not what this build expects.
pub(super) fn migrate(connection: &mut Connection) -> anyhow::Result<()> {
    connection.execute_batch(HISTORY)?;
    for migration in MIGRATIONS.iter() {
        if migration.migration_type.is_down_migration() {
            continue;
        }
        let applied: Option<(Vec<u8>, bool)> = connection
            .query_row(
                "SELECT checksum, success FROM _sqlx_migrations WHERE version = ?1",
                [migration.version],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match applied {
            Some((_, false)) => anyhow::bail!(
                "migration {} failed earlier; repair the database before starting",
                migration.version
            ),
            Some((checksum, true)) if checksum != *migration.checksum => anyhow::bail!(
                "migration {} was applied but its file has changed since",
                migration.version
            ),
            Some(_) => continue,
            None => {}
        }
        let started = Instant::now();
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration.sql.as_str())?;
        transaction.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            params![
                migration.version,
                migration.description.as_ref(),
                migration.checksum.as_ref(),
                i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX)
            ],
        )?;
        transaction.commit()?;
    }
    Ok(())
}

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
    migrate_up_to(connection, i64::MAX)
}

/// Runs the migrations up to version `last` (all of them in service; fewer in tests, to
/// build a database as an earlier release left it).
fn migrate_up_to(connection: &mut Connection, last: i64) -> anyhow::Result<()> {
    connection.execute_batch(HISTORY)?;
    for migration in MIGRATIONS.iter() {
        if migration.migration_type.is_down_migration() || migration.version > last {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::redeemed_by;

    const CODE: &str = "INSERT INTO auth_codes (code_hash, client_id, fi_reference_id, psp_id,
        redirect_uri, scope, created_at, expires_at, redeemed_at)
        VALUES (?1, 'c', 'fi', 'psp', 'https://x', 'accounts', 1, 9, ?2)";
    const TOKEN: &str = "INSERT INTO access_tokens (token_hash, code_hash, client_id,
        fi_reference_id, psp_id, scope, issued_at, expires_at) VALUES (?1, ?2, 'c', 'fi', 'psp',
        'accounts', ?3, 99)";

    /// A database as the first release left it: one redeemed code with its token, one
    /// code still unclaimed.
    fn first_release_database() -> Connection {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate_up_to(&mut connection, 1).unwrap();
        connection.execute(CODE, params!["used", 5]).unwrap();
        connection
            .execute(CODE, params!["fresh", None::<i64>])
            .unwrap();
        connection
            .execute(TOKEN, params!["t-late", "other", 7])
            .unwrap();
        connection
            .execute(TOKEN, params!["t-used", "used", 6])
            .unwrap();
        connection
    }

    #[test]
    fn upgrading_keeps_every_token_and_links_it_to_its_code() {
        let mut connection = first_release_database();
        migrate(&mut connection).unwrap();
        assert_eq!(redeemed_by(&connection, "used").as_deref(), Some("t-used"));
        assert_eq!(redeemed_by(&connection, "fresh"), None);
        let mut tokens = connection
            .prepare("SELECT token_hash FROM access_tokens ORDER BY id")
            .unwrap();
        let in_issue_order: Vec<String> = tokens
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(in_issue_order, ["t-used", "t-late"]);
    }

    #[test]
    fn a_code_minted_before_the_room_was_made_is_claimed_once_all_the_same() {
        use crate::store::sample_token;
        use crate::store::sqlite::writes::mark_redeemed;
        let mut connection = first_release_database();
        migrate(&mut connection).unwrap();
        let token = sample_token(&format!("{:064x}", 1), "fresh", 5, 99);
        assert_eq!(mark_redeemed(&connection, &token, 5).unwrap(), 1);
        let second = sample_token(&format!("{:064x}", 2), "fresh", 5, 99);
        assert_eq!(mark_redeemed(&connection, &second, 5).unwrap(), 0);
        assert_eq!(redeemed_by(&connection, "fresh"), Some(token.token_hash));
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut connection = first_release_database();
        migrate(&mut connection).unwrap();
        migrate(&mut connection).unwrap();
        let applied: i64 = connection
            .query_row("SELECT COUNT(*) FROM _sqlx_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied, MIGRATIONS.iter().count() as i64);
    }

    #[test]
    fn a_migration_edited_after_it_ran_stops_start_up() {
        let mut connection = first_release_database();
        connection
            .execute(
                "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1",
                [],
            )
            .unwrap();
        let err = migrate(&mut connection).unwrap_err();
        assert!(err.to_string().contains("has changed"), "{err}");
    }

    #[test]
    fn a_migration_that_failed_half_way_stops_start_up() {
        let mut connection = first_release_database();
        connection
            .execute(
                "UPDATE _sqlx_migrations SET success = FALSE WHERE version = 1",
                [],
            )
            .unwrap();
        assert!(migrate(&mut connection).is_err());
    }
}

//! PostgreSQL test databases. The tests that need one run when `OBIE_TEST_POSTGRES_URL`
//! names a server (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); each test creates
//! its own database there and drops it afterwards. Without the variable they are skipped,
//! saying so; CI sets it, so there they are mandatory.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

pub const URL_VARIABLE: &str = "OBIE_TEST_POSTGRES_URL";

/// A database created for one test, dropped when this is dropped.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    /// `None` (and a message naming the variable) when no server is configured; a failure
    /// when one is configured but cannot be reached.
    pub async fn create() -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var(URL_VARIABLE) else {
            eprintln!("skipped: PostgreSQL tests need {URL_VARIABLE}=postgres://USER@HOST:PORT/DB");
            return None;
        };
        let name = format!("obie_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{URL_VARIABLE} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let url = replace_database(&admin_url, &name);
        Some(TestDatabase {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on a future: use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .map(|_| ())
            })
        });
        if let Ok(Err(err)) = dropped.join() {
            eprintln!("could not drop test database {}: {err}", self.name);
        }
    }
}

/// The same server URL with another database name.
fn replace_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a postgres:// URL");
    parsed.set_path(database);
    parsed.to_string()
}

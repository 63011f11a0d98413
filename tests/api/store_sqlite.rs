//! The store suite on the embedded SQLite backend, one fresh database file per test.

use crate::store_suite::TestStore;

/// Opens a fresh SQLite store in a temporary folder removed when the test ends.
pub async fn fresh_sqlite() -> Option<TestStore> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = obie_tokens::store::open(&url).await.unwrap();
    Some(TestStore {
        store,
        _guard: Box::new(dir),
    })
}

crate::store_suite!(sqlite, crate::store_sqlite::fresh_sqlite());

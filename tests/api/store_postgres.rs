//! The store suite on PostgreSQL, one fresh database per test (see `pg.rs`).

use crate::pg::TestDatabase;
use crate::store_suite::TestStore;

pub async fn fresh_postgres() -> Option<TestStore> {
    let database = TestDatabase::create().await?;
    let store = obie_tokens::store::open(&database.url).await.unwrap();
    Some(TestStore {
        store,
        _guard: Box::new(database),
    })
}

crate::store_suite!(postgres, crate::store_postgres::fresh_postgres());

//! The group commit against a real server, one fresh database per test. They run when
//! `OBIE_TEST_POSTGRES_URL` names a server (as the integration tests do) and pass, saying
//! they were skipped, otherwise.

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgPoolOptions};

use super::PostgresStore;
use super::group::{Connections, commit_group};
use crate::store::writes::{WriteOp, Written};
use crate::store::{
    AccessTokenRecord, AuthCodeRecord, PoolSettings, Redemption, Store, StoreError, StoreResult,
};

const NOW: i64 = 1_000;

/// A database created for one test, dropped when this is dropped.
struct TestDatabase {
    admin_url: String,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on a future: use a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            runtime.expect("a runtime").block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .map(drop)
            })
        })
        .join();
    }
}

/// A fresh store and the committer connections to drive groups by hand.
async fn fresh() -> Option<(TestDatabase, PostgresStore, Connections)> {
    let Ok(admin_url) = std::env::var("OBIE_TEST_POSTGRES_URL") else {
        eprintln!("skipped: PostgreSQL tests need OBIE_TEST_POSTGRES_URL");
        return None;
    };
    let name = format!("obie_unit_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .expect("the server answers");
    let create = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let database = TestDatabase { admin_url, name };
    let store = PostgresStore::open(url.as_str(), &PoolSettings::default())
        .await
        .unwrap();
    let writers = PgPoolOptions::new().connect(url.as_str()).await.unwrap();
    let connections = Connections::new(writers, store.sql.pool.clone());
    Some((database, store, connections))
}

fn code(code_hash: &str) -> AuthCodeRecord {
    AuthCodeRecord {
        code_hash: code_hash.into(),
        client_id: "client".into(),
        fi_reference_id: "fi".into(),
        psp_id: "psp".into(),
        redirect_uri: "https://psp.example/callback".into(),
        scope: "accounts".into(),
        state: None,
        consent_id: Some("consent".into()),
        psu_account_id: None,
        created_at: NOW,
        expires_at: NOW + 60_000,
        redeemed_at: None,
    }
}

fn redeem(token_hash: &str, code_hash: &str) -> WriteOp {
    let token = AccessTokenRecord {
        token_hash: token_hash.into(),
        code_hash: code_hash.into(),
        client_id: "client".into(),
        fi_reference_id: "fi".into(),
        psp_id: "psp".into(),
        scope: "accounts".into(),
        consent_id: Some("consent".into()),
        psu_account_id: None,
        issued_at: NOW,
        expires_at: NOW + 60_000,
        revoked_at: None,
    };
    WriteOp::Redeem { token, now: NOW }
}

async fn commit(connections: &mut Connections, ops: &[WriteOp]) -> Vec<StoreResult<Written>> {
    commit_group(connections, &ops.iter().collect::<Vec<_>>()).await
}

async fn revoked(store: &PostgresStore, token_hash: &str) -> bool {
    let token = store.find_access_token(token_hash).await.unwrap();
    token.expect("the token exists").revoked_at.is_some()
}

fn outcomes(results: &[StoreResult<Written>]) -> Vec<Option<Redemption>> {
    let outcome = |result: &StoreResult<Written>| match result {
        Ok(Written::Redemption(r)) => Some(r.clone()),
        _ => None,
    };
    results.iter().map(outcome).collect()
}

const ISSUED: Option<Redemption> = Some(Redemption::Issued);
const REPLAYED: Option<Redemption> = Some(Redemption::Replayed);

#[tokio::test]
async fn a_second_redemption_in_the_same_group_is_a_replay_and_revokes_the_first_token() {
    let Some((_db, store, mut connections)) = fresh().await else {
        return;
    };
    store.insert_auth_code(&code("x")).await.unwrap();

    let results = commit(&mut connections, &[redeem("t1", "x"), redeem("t2", "x")]).await;

    assert_eq!(outcomes(&results), [ISSUED, REPLAYED]);
    assert!(
        revoked(&store, "t1").await,
        "RFC 6749 §4.1.2: the replay revokes the token"
    );
    assert!(store.find_access_token("t2").await.unwrap().is_none());
}

#[tokio::test]
async fn a_code_claimed_by_an_earlier_group_is_a_replay_that_revokes_its_token() {
    let Some((_db, store, mut connections)) = fresh().await else {
        return;
    };
    store.insert_auth_code(&code("x")).await.unwrap();
    store.insert_auth_code(&code("y")).await.unwrap();
    commit(&mut connections, &[redeem("t1", "x")]).await;

    let results = commit(&mut connections, &[redeem("t2", "x"), redeem("t3", "y")]).await;

    assert_eq!(outcomes(&results), [REPLAYED, ISSUED]);
    assert!(revoked(&store, "t1").await);
    assert!(!revoked(&store, "t3").await);
}

#[tokio::test]
async fn a_failing_code_insert_does_not_fail_the_rest_of_its_group() {
    let Some((_db, store, mut connections)) = fresh().await else {
        return;
    };
    store.insert_auth_code(&code("taken")).await.unwrap();
    store.insert_auth_code(&code("z")).await.unwrap();
    let group = [
        WriteOp::InsertAuthCode(code("taken")),
        WriteOp::InsertAuthCode(code("new")),
        redeem("t1", "z"),
    ];

    let results = commit(&mut connections, &group).await;

    assert!(matches!(results[0], Err(StoreError::Conflict(_))));
    assert!(matches!(results[1], Ok(Written::Done)));
    assert_eq!(outcomes(&results[2..]), [ISSUED]);
    assert!(store.find_auth_code("new").await.unwrap().is_some());
}

#[tokio::test]
async fn a_failing_redemption_does_not_fail_the_others_of_its_group() {
    let Some((_db, store, mut connections)) = fresh().await else {
        return;
    };
    for c in ["a", "b", "c"] {
        store.insert_auth_code(&code(c)).await.unwrap();
    }
    commit(&mut connections, &[redeem("taken", "a")]).await;

    // The token hash of "b" is taken already: only that redemption can fail.
    let results = commit(&mut connections, &[redeem("taken", "b"), redeem("t", "c")]).await;

    assert!(matches!(results[0], Err(StoreError::Conflict(_))));
    assert_eq!(outcomes(&results[1..]), [ISSUED]);
    let b = store.find_auth_code("b").await.unwrap().unwrap();
    assert_eq!(b.redeemed_at, None, "the failed claim was rolled back");
}

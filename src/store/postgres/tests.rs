//! The group commit against a real server, one fresh database per test. They run when
//! `OBIE_TEST_POSTGRES_URL` names a server (as the integration tests do) and pass, saying
//! they were skipped, otherwise.

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};

use super::group::{Connections, commit_group};
use super::{PostgresStore, insert_access_token, insert_auth_code};
use crate::store::writes::{GroupWrite, WriteOp, Written};
use crate::store::{
    AccessTokenRecord, AuthCodeRecord, Claim, CodeClaim, PoolSettings, Redemption, Store,
    StoreError, StoreResult,
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

/// An empty database for one test, and its URL; `None` when no server is named.
async fn new_database() -> Option<(TestDatabase, String)> {
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
    Some((TestDatabase { admin_url, name }, url.into()))
}

/// The store on the database at `url`, and the committer connections to drive groups by
/// hand.
async fn open(url: &str) -> (PostgresStore, Connections) {
    let store = PostgresStore::open(url, &PoolSettings::default())
        .await
        .unwrap();
    let writers = PgPoolOptions::new().connect(url).await.unwrap();
    let connections = Connections::new(writers, store.sql.pool.clone());
    (store, connections)
}

/// A fresh store holding a sample code (`code`) for each of `codes`, and the committer
/// connections to drive groups by hand.
async fn fresh(codes: &[&str]) -> Option<(TestDatabase, PostgresStore, Connections)> {
    let (database, url) = new_database().await?;
    let (store, connections) = open(&url).await;
    for code_hash in codes {
        store.insert_auth_code(&code(code_hash)).await.unwrap();
    }
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

fn token(token_hash: &str, code_hash: &str) -> AccessTokenRecord {
    AccessTokenRecord {
        consent_id: Some("consent".into()),
        ..crate::store::sample_token(token_hash, code_hash, NOW, NOW + 60_000)
    }
}

fn redeem(token_hash: &str, code_hash: &str) -> WriteOp {
    let token = token(token_hash, code_hash);
    WriteOp::Redeem { token, now: NOW }
}

async fn commit(connections: &mut Connections, ops: &[WriteOp]) -> Vec<StoreResult<Written>> {
    let writes: Vec<GroupWrite> = ops.iter().cloned().map(GroupWrite::Flow).collect();
    commit_group(connections, &writes.iter().collect::<Vec<_>>()).await
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
    let Some((_db, store, mut connections)) = fresh(&["x"]).await else {
        return;
    };

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
    let Some((_db, store, mut connections)) = fresh(&["x", "y"]).await else {
        return;
    };
    commit(&mut connections, &[redeem("t1", "x")]).await;

    let results = commit(&mut connections, &[redeem("t2", "x"), redeem("t3", "y")]).await;

    assert_eq!(outcomes(&results), [REPLAYED, ISSUED]);
    assert!(revoked(&store, "t1").await);
    assert!(!revoked(&store, "t3").await);
}

#[tokio::test]
async fn a_failing_code_insert_does_not_fail_the_rest_of_its_group() {
    let Some((_db, store, mut connections)) = fresh(&["taken", "z"]).await else {
        return;
    };
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
    let Some((_db, store, mut connections)) = fresh(&["a", "b", "c"]).await else {
        return;
    };
    commit(&mut connections, &[redeem("taken", "a")]).await;

    // The token hash of "b" is taken already: only that redemption can fail.
    let results = commit(&mut connections, &[redeem("taken", "b"), redeem("t", "c")]).await;

    assert!(matches!(results[0], Err(StoreError::Conflict(_))));
    assert_eq!(outcomes(&results[1..]), [ISSUED]);
    let b = store.find_auth_code("b").await.unwrap().unwrap();
    assert_eq!(b.redeemed_at, None, "the failed claim was rolled back");
}

fn claim(code_hash: &str, token_hash: &str) -> CodeClaim {
    CodeClaim {
        code_hash: code_hash.into(),
        fi_reference_id: "fi".into(),
        psp_id: "psp".into(),
        redirect_uri: "https://psp.example/callback".into(),
        now: NOW + 1,
        client_id: "client".into(),
        token_hash: token_hash.into(),
        token_expires_at: NOW + 90_000,
    }
}

/// Commits `claims` as one group; returns what each did, or its error's message.
async fn claim_group(connections: &mut Connections, claims: &[CodeClaim]) -> Vec<String> {
    let writes: Vec<GroupWrite> = claims.iter().cloned().map(GroupWrite::Claim).collect();
    let results = commit_group(connections, &writes.iter().collect::<Vec<_>>()).await;
    let outcome = |result: StoreResult<Written>| match result {
        Ok(Written::Claim(claim)) => match *claim {
            Claim::Issued(code) => format!("issued {}", code.code_hash),
            Claim::Replayed => "replayed".into(),
            Claim::Refused(None) => "unknown".into(),
            Claim::Refused(Some(code)) => format!("refused {}", code.code_hash),
        },
        other => format!("unexpected {other:?}"),
    };
    results.into_iter().map(outcome).collect()
}

#[tokio::test]
async fn a_group_of_claims_issues_refuses_and_replays_as_if_one_after_another() {
    let Some((_db, store, mut connections)) = fresh(&["a", "b", "c", "d"]).await else {
        return;
    };
    let expired = AuthCodeRecord {
        expires_at: NOW + 1,
        ..code("old")
    };
    store.insert_auth_code(&expired).await.unwrap();
    let wrong_redirect = CodeClaim {
        redirect_uri: "https://elsewhere.example/".into(),
        ..claim("b", "t-wrong")
    };

    let outcomes = claim_group(
        &mut connections,
        &[
            claim("a", "t-a"),
            claim("a", "t-a2"),
            wrong_redirect,
            claim("b", "t-b"),
            claim("unknown", "t-u"),
            claim("old", "t-old"),
        ],
    )
    .await;

    assert_eq!(
        outcomes,
        [
            "issued a",
            "replayed",
            "refused b",
            "issued b",
            "unknown",
            "refused old"
        ]
    );
    let token = store.find_access_token("t-a").await.unwrap().unwrap();
    assert_eq!(
        (
            token.code_hash.as_str(),
            token.client_id.as_str(),
            token.issued_at
        ),
        ("a", "client", NOW + 1)
    );
    assert_eq!(
        (token.expires_at, token.consent_id.as_deref()),
        (NOW + 90_000, Some("consent"))
    );
    assert!(
        token.revoked_at.is_some(),
        "RFC 6749 §4.1.2: the replay revoked it"
    );
    assert!(!revoked(&store, "t-b").await);
    for never in ["t-a2", "t-wrong", "t-u", "t-old"] {
        assert!(store.find_access_token(never).await.unwrap().is_none());
    }
    let a = store.find_auth_code("a").await.unwrap().unwrap();
    assert_eq!(a.redeemed_at, Some(NOW + 1));
    for unclaimed in ["old", "c", "d"] {
        let code = store.find_auth_code(unclaimed).await.unwrap().unwrap();
        assert_eq!(code.redeemed_at, None, "{unclaimed}");
    }
}

#[tokio::test]
async fn a_claim_of_a_code_claimed_in_an_earlier_group_or_by_the_store_is_a_replay() {
    let Some((_db, store, mut connections)) = fresh(&["x", "y"]).await else {
        return;
    };
    assert_eq!(
        claim_group(&mut connections, &[claim("x", "t1")]).await,
        ["issued x"]
    );
    assert!(matches!(
        store.claim_code(claim("y", "t2")).await,
        Ok(Claim::Issued(_))
    ));

    let outcomes = claim_group(&mut connections, &[claim("x", "t3"), claim("y", "t4")]).await;

    assert_eq!(outcomes, ["replayed", "replayed"]);
    assert!(revoked(&store, "t1").await && revoked(&store, "t2").await);
}

#[tokio::test]
async fn concurrent_claims_of_one_code_through_the_store_issue_exactly_one_token() {
    let Some((_db, store, _connections)) = fresh(&["x"]).await else {
        return;
    };
    let store = std::sync::Arc::new(store);

    let claims = (0..16).map(|n| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_code(claim("x", &format!("t{n}"))).await })
    });
    let outcomes = futures::future::join_all(claims).await;

    let issued = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Ok(Claim::Issued(_)))))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Ok(Claim::Replayed))))
        .count();
    assert_eq!((issued, replayed), (1, 15), "{outcomes:?}");
}

/// Waits until a session of this database waits for a row lock (bounded: ten seconds).
async fn until_a_session_waits_for_a_lock(pool: &PgPool) {
    for _ in 0..1_000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no session waited for the lock");
}

/// The transactions that claimed `codes`, as text (`xmin`), distinct.
async fn claiming_transactions(pool: &PgPool, codes: &[&str]) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT DISTINCT xmin::text FROM auth_codes
         WHERE code_hash = ANY($1) AND redeemed_at IS NOT NULL",
    )
    .bind(codes)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn claims_queued_while_a_group_commits_wait_for_it_then_commit_as_one_group() {
    let later = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let Some((_db, store, _connections)) = fresh(&[&["held"][..], &later].concat()).await else {
        return;
    };
    let pool = store.sql.pool.clone();
    // The test's own transaction holds the row of "held": the group claiming it waits in
    // the database until that transaction ends.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM auth_codes WHERE code_hash = 'held' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mut first = store.claim_code(claim("held", "t-held"));
    assert!(futures::poll!(first.as_mut()).is_pending());
    until_a_session_waits_for_a_lock(&pool).await;

    // Polled once, each claim is in the queue.
    let mut queued: Vec<_> = later
        .iter()
        .map(|c| store.claim_code(claim(c, &format!("t-{c}"))))
        .collect();
    for claim in &mut queued {
        assert!(futures::poll!(claim.as_mut()).is_pending());
    }
    assert_eq!(
        claiming_transactions(&pool, &later).await,
        Vec::<String>::new()
    );

    holder.commit().await.unwrap();
    assert!(matches!(first.await, Ok(Claim::Issued(_))));
    for outcome in futures::future::join_all(queued).await {
        assert!(matches!(outcome, Ok(Claim::Issued(_))), "{outcome:?}");
    }
    let groups = claiming_transactions(&pool, &later).await;
    assert_eq!(
        groups.len(),
        1,
        "one transaction claimed them all: {groups:?}"
    );
    assert_ne!(groups, claiming_transactions(&pool, &["held"]).await);
}

#[tokio::test]
async fn a_failing_claim_does_not_fail_the_others_of_its_group() {
    let Some((_db, store, mut connections)) = fresh(&["a", "b", "c"]).await else {
        return;
    };
    claim_group(&mut connections, &[claim("a", "taken")]).await;

    // The token hash of "b" is taken already: only that claim can fail.
    let outcomes = claim_group(&mut connections, &[claim("b", "taken"), claim("c", "t")]).await;

    assert!(outcomes[0].contains("Conflict"), "{outcomes:?}");
    assert_eq!(outcomes[1], "issued c");
    let b = store.find_auth_code("b").await.unwrap().unwrap();
    assert_eq!(b.redeemed_at, None, "the failed claim was rolled back");
}

/// The collation of each hash column, as `table.column collation`.
async fn hash_collations(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name || '.' || column_name || ' ' || coalesce(collation_name, 'default')
         FROM information_schema.columns
         WHERE column_name IN ('token_hash', 'code_hash') AND table_schema = 'public'
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_database_of_an_earlier_schema_upgrades_with_its_codes_and_tokens_intact() {
    let Some((_db, url)) = new_database().await else {
        return;
    };
    // The schema before the hashes were compared bytewise (migration 3) and before a code
    // named its token (migration 4), holding a claimed code with its token and an unclaimed
    // code, written by this store's own inserts and that release's claim.
    let pool = PgPoolOptions::new().connect(&url).await.unwrap();
    sqlx::migrate!("migrations/postgres")
        .run_to(2, &pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    insert_auth_code(&mut tx, &code("old")).await.unwrap();
    insert_auth_code(&mut tx, &code("unclaimed")).await.unwrap();
    sqlx::query("UPDATE auth_codes SET redeemed_at = $1 WHERE code_hash = 'old'")
        .bind(NOW)
        .execute(&mut *tx)
        .await
        .unwrap();
    insert_access_token(&mut tx, &token("old-token", "old"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        hash_collations(&pool).await,
        [
            "access_tokens.code_hash default",
            "access_tokens.token_hash default",
            "auth_codes.code_hash default",
            "ccg_tokens.token_hash default",
        ]
    );

    let (store, mut connections) = open(&url).await;

    assert_eq!(
        hash_collations(&pool).await,
        [
            "access_tokens.code_hash C",
            "access_tokens.token_hash C",
            "auth_codes.code_hash C",
            "auth_codes.token_hash C", // migration 4
            "ccg_tokens.token_hash C",
        ]
    );
    assert!(
        store
            .find_access_token("old-token")
            .await
            .unwrap()
            .is_some()
    );
    let outcomes = claim_group(
        &mut connections,
        &[claim("old", "t1"), claim("unclaimed", "t2")],
    )
    .await;
    assert_eq!(outcomes, ["replayed", "issued unclaimed"]);
    assert!(
        revoked(&store, "old-token").await,
        "named by its code since the upgrade"
    );
    assert!(!revoked(&store, "t2").await);
}

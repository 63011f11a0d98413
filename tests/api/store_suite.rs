//! The store contract, written once against `dyn Store` and run on every backend.

use std::sync::Arc;

use obie_tokens::store::{
    AccessTokenRecord, AuthCodeRecord, CcgTokenRecord, Claim, CodeClaim, ConsumerRecord, PspRecord,
    Redemption, Store,
};

/// A store under test and whatever must live as long as it (a temporary folder, a database).
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub _guard: Box<dyn std::any::Any + Send>,
}

fn code(hash: &str, expires_at: i64) -> AuthCodeRecord {
    AuthCodeRecord {
        code_hash: hash.into(),
        client_id: "consumer".into(),
        fi_reference_id: "FI-1".into(),
        psp_id: "PSP-1".into(),
        redirect_uri: "https://psp.example/cb".into(),
        scope: "accounts".into(),
        state: Some("s".into()),
        consent_id: None,
        psu_account_id: Some("acc".into()),
        created_at: 1_000,
        expires_at,
        redeemed_at: None,
    }
}

fn token(hash: &str, code_hash: &str, expires_at: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        token_hash: hash.into(),
        code_hash: code_hash.into(),
        client_id: "consumer".into(),
        fi_reference_id: "FI-1".into(),
        psp_id: "PSP-1".into(),
        scope: "accounts".into(),
        consent_id: None,
        psu_account_id: Some("acc".into()),
        issued_at: 2_000,
        expires_at,
        revoked_at: None,
    }
}

pub async fn consumers_round_trip_and_disable(store: Arc<dyn Store>) {
    let consumer = ConsumerRecord {
        client_id: "agg".into(),
        secret_hash: "h".into(),
        fi_reference_ids: vec!["FI-1".into(), "FI-2".into()],
        enabled: true,
    };
    store.upsert_consumer(&consumer).await.unwrap();
    assert_eq!(
        store.find_consumer("agg").await.unwrap(),
        Some(consumer.clone())
    );
    assert!(store.disable_consumer("agg").await.unwrap());
    assert!(!store.disable_consumer("nobody").await.unwrap());
    let listed = store.list_consumers().await.unwrap();
    assert_eq!(
        listed,
        vec![ConsumerRecord {
            enabled: false,
            ..consumer
        }]
    );
}

pub async fn psps_round_trip_and_withdraw(store: Arc<dyn Store>) {
    let psp = PspRecord {
        psp_id: "PSP-1".into(),
        name: "A PSP".into(),
        redirect_uris: vec![
            "https://a.example".into(),
            "https://b.example/cb?x=1".into(),
        ],
        active: true,
    };
    store.upsert_psp(&psp).await.unwrap();
    assert_eq!(store.find_psp("PSP-1").await.unwrap(), Some(psp.clone()));
    assert!(store.withdraw_psp("PSP-1").await.unwrap());
    assert!(!store.find_psp("PSP-1").await.unwrap().unwrap().active);
    assert_eq!(store.list_psps().await.unwrap().len(), 1);
    assert_eq!(store.find_psp("PSP-2").await.unwrap(), None);
}

pub async fn inserting_a_ccg_token_twice_keeps_the_first(store: Arc<dyn Store>) {
    let first = CcgTokenRecord {
        token_hash: "t".into(),
        client_id: "c".into(),
        fi_reference_id: "FI-1".into(),
        psp_id: "PSP-1".into(),
        scope: "accounts".into(),
        created_at: 1,
        expires_at: None,
    };
    store.insert_ccg_token(&first).await.unwrap();
    store
        .insert_ccg_token(&CcgTokenRecord {
            scope: "payments".into(),
            ..first.clone()
        })
        .await
        .unwrap();
    assert_eq!(store.find_ccg_token("t").await.unwrap(), Some(first));
}

pub async fn a_code_is_redeemed_once_and_a_replay_revokes_its_token(store: Arc<dyn Store>) {
    store.insert_auth_code(&code("c1", i64::MAX)).await.unwrap();
    let issued = store
        .redeem_auth_code(&token("t1", "c1", i64::MAX), 5_000)
        .await
        .unwrap();
    assert_eq!(issued, Redemption::Issued);
    assert_eq!(
        store
            .find_auth_code("c1")
            .await
            .unwrap()
            .unwrap()
            .redeemed_at,
        Some(5_000)
    );
    assert_eq!(
        store
            .find_access_token("t1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );

    let replay = store
        .redeem_auth_code(&token("t2", "c1", i64::MAX), 6_000)
        .await
        .unwrap();

    assert_eq!(replay, Redemption::Replayed);
    assert_eq!(
        store.find_access_token("t2").await.unwrap(),
        None,
        "nothing new issued"
    );
    assert_eq!(
        store
            .find_access_token("t1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(6_000)
    );
}

pub async fn concurrent_redemptions_of_one_code_issue_exactly_once(store: Arc<dyn Store>) {
    for round in 0..10 {
        let code_hash = format!("race-{round}");
        store
            .insert_auth_code(&code(&code_hash, i64::MAX))
            .await
            .unwrap();
        let attempts = (0..16).map(|i| {
            let store = store.clone();
            let record = token(&format!("{code_hash}-t{i}"), &code_hash, i64::MAX);
            tokio::spawn(async move { store.redeem_auth_code(&record, 7_000).await.unwrap() })
        });
        let outcomes = futures::future::join_all(attempts).await;
        let issued = outcomes
            .iter()
            .filter(|o| *o.as_ref().unwrap() == Redemption::Issued)
            .count();
        assert_eq!(issued, 1, "round {round}");
    }
}

/// A claim of `code_hash` that matches `code(..)`, issuing `token_hash`.
fn claim(code_hash: &str, token_hash: &str) -> CodeClaim {
    CodeClaim {
        code_hash: code_hash.into(),
        fi_reference_id: "FI-1".into(),
        psp_id: "PSP-1".into(),
        redirect_uri: "https://psp.example/cb".into(),
        now: 5_000,
        client_id: "consumer".into(),
        token_hash: token_hash.into(),
        token_expires_at: 9_000,
    }
}

pub async fn a_claim_issues_once_from_the_code_and_a_second_revokes(store: Arc<dyn Store>) {
    let code = code("c1", 10_000);
    store.insert_auth_code(&code).await.unwrap();
    assert_eq!(
        store.claim_code(claim("c1", "t1")).await.unwrap(),
        Claim::Issued(code)
    );
    let issued = store.find_access_token("t1").await.unwrap().unwrap();
    assert_eq!(
        (
            issued.scope.as_str(),
            issued.psu_account_id.as_deref(),
            issued.issued_at
        ),
        ("accounts", Some("acc"), 5_000)
    );
    assert_eq!(issued.revoked_at, None);
    assert_eq!(
        store.claim_code(claim("c1", "t2")).await.unwrap(),
        Claim::Replayed
    );
    assert!(store.find_access_token("t2").await.unwrap().is_none());
    let revoked = store.find_access_token("t1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(5_000));
}

pub async fn a_refused_claim_writes_nothing_and_leaves_the_code_redeemable(store: Arc<dyn Store>) {
    store.insert_auth_code(&code("c1", 10_000)).await.unwrap();
    let mismatches = [
        CodeClaim {
            fi_reference_id: "FI-2".into(),
            ..claim("c1", "t")
        },
        CodeClaim {
            psp_id: "PSP-2".into(),
            ..claim("c1", "t")
        },
        CodeClaim {
            redirect_uri: "https://psp.example/cb/".into(),
            ..claim("c1", "t")
        },
        CodeClaim {
            now: 10_000,
            ..claim("c1", "t")
        },
    ];
    for mismatch in mismatches {
        let shown = format!("{mismatch:?}");
        let refused = store.claim_code(mismatch).await.unwrap();
        assert!(matches!(refused, Claim::Refused(Some(_))), "{shown}");
    }
    assert_eq!(
        store.claim_code(claim("unknown", "t")).await.unwrap(),
        Claim::Refused(None)
    );
    assert!(store.find_access_token("t").await.unwrap().is_none());
    let code = store.find_auth_code("c1").await.unwrap().unwrap();
    assert_eq!(code.redeemed_at, None);
    assert!(matches!(
        store.claim_code(claim("c1", "t")).await.unwrap(),
        Claim::Issued(_)
    ));
}

/// A claim is all or nothing: when its token cannot be written (here its hash is taken),
/// the code it was claiming stays unclaimed and redeemable.
pub async fn a_claim_whose_token_cannot_be_written_leaves_its_code_unclaimed(
    store: Arc<dyn Store>,
) {
    store.insert_auth_code(&code("c1", 10_000)).await.unwrap();
    store.insert_auth_code(&code("c2", 10_000)).await.unwrap();
    assert!(matches!(
        store.claim_code(claim("c1", "t1")).await.unwrap(),
        Claim::Issued(_)
    ));
    let failed = store.claim_code(claim("c2", "t1")).await;
    assert!(failed.is_err(), "{failed:?}");
    let code = store.find_auth_code("c2").await.unwrap().unwrap();
    assert_eq!(code.redeemed_at, None);
    assert!(matches!(
        store.claim_code(claim("c2", "t2")).await.unwrap(),
        Claim::Issued(_)
    ));
    let first = store.find_access_token("t1").await.unwrap().unwrap();
    assert_eq!((first.code_hash.as_str(), first.revoked_at), ("c1", None));
}

pub async fn concurrent_claims_of_one_code_issue_exactly_once(store: Arc<dyn Store>) {
    for round in 0..10 {
        let code_hash = format!("race-{round}");
        store
            .insert_auth_code(&code(&code_hash, 10_000))
            .await
            .unwrap();
        let attempts = (0..16).map(|i| {
            let store = store.clone();
            let claim = claim(&code_hash, &format!("{code_hash}-t{i}"));
            tokio::spawn(async move { store.claim_code(claim).await.unwrap() })
        });
        let outcomes = futures::future::join_all(attempts).await;
        let issued: Vec<_> = outcomes
            .into_iter()
            .map(Result::unwrap)
            .filter(|o| matches!(o, Claim::Issued(_)))
            .collect();
        assert_eq!(issued.len(), 1, "round {round}");
    }
}

pub async fn revoking_leaves_other_fis_tokens_untouched(store: Arc<dyn Store>) {
    store.insert_auth_code(&code("c2", i64::MAX)).await.unwrap();
    store
        .redeem_auth_code(&token("t3", "c2", i64::MAX), 1)
        .await
        .unwrap();

    store
        .revoke_access_token("t3", "FI-OTHER", 10)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_access_token("t3")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );

    store.revoke_access_token("t3", "FI-1", 11).await.unwrap();
    store.revoke_access_token("t3", "FI-1", 12).await.unwrap();
    assert_eq!(
        store
            .find_access_token("t3")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(11)
    );
}

pub async fn sweeping_deletes_only_what_expired(store: Arc<dyn Store>) {
    store.insert_auth_code(&code("old", 100)).await.unwrap();
    store.insert_auth_code(&code("new", 10_000)).await.unwrap();
    store
        .redeem_auth_code(&token("old-t", "old", 100), 50)
        .await
        .unwrap();
    store
        .redeem_auth_code(&token("new-t", "new", 10_000), 50)
        .await
        .unwrap();

    let swept = store.sweep_expired(1_000).await.unwrap();

    assert_eq!((swept.auth_codes, swept.access_tokens), (1, 1));
    assert!(store.find_auth_code("old").await.unwrap().is_none());
    assert!(store.find_auth_code("new").await.unwrap().is_some());
    assert!(store.find_access_token("old-t").await.unwrap().is_none());
    assert!(store.find_access_token("new-t").await.unwrap().is_some());
}

/// Instantiates every case of the suite for one backend.
#[macro_export]
macro_rules! store_suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use $crate::store_suite as suite;
            $crate::store_case!($open, consumers_round_trip_and_disable);
            $crate::store_case!($open, psps_round_trip_and_withdraw);
            $crate::store_case!($open, inserting_a_ccg_token_twice_keeps_the_first);
            $crate::store_case!(
                $open,
                a_code_is_redeemed_once_and_a_replay_revokes_its_token
            );
            $crate::store_case!($open, concurrent_redemptions_of_one_code_issue_exactly_once);
            $crate::store_case!(
                $open,
                a_claim_issues_once_from_the_code_and_a_second_revokes
            );
            $crate::store_case!(
                $open,
                a_refused_claim_writes_nothing_and_leaves_the_code_redeemable
            );
            $crate::store_case!(
                $open,
                a_claim_whose_token_cannot_be_written_leaves_its_code_unclaimed
            );
            $crate::store_case!($open, concurrent_claims_of_one_code_issue_exactly_once);
            $crate::store_case!($open, revoking_leaves_other_fis_tokens_untouched);
            $crate::store_case!($open, sweeping_deletes_only_what_expired);
        }
    };
}

#[macro_export]
macro_rules! store_case {
    ($open:expr, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let Some(backend) = $open.await else { return };
            suite::$case(backend.store.clone()).await;
        }
    };
}

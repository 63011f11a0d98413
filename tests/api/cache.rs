//! The read cache's staleness bound: a PSP withdrawn or a consumer disabled behind the
//! service's back (another replica, the CLI) stops working within the cache lifetime.

use std::time::{Duration, Instant};

use obie_tokens::domain::sandbox;
use obie_tokens::store::PoolSettings;

use crate::helpers::{Options, TestApp};

const BOUND: Duration = Duration::from_millis(300);

async fn spawn_with_cache() -> TestApp {
    let pool = PoolSettings {
        cache_ttl: BOUND,
        ..PoolSettings::default()
    };
    TestApp::spawn_with(Options {
        pool,
        ..Options::default()
    })
    .await
}

/// Polls `status` until it differs from `before`; returns when the last request that
/// still saw `before` was sent. The bound is a promise about requests sent after it: on a
/// loaded machine an earlier request may be answered late, and that proves nothing.
async fn last_stale_request<F, Fut>(before: u16, status: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let started = Instant::now();
    let mut last_stale = Duration::ZERO;
    loop {
        let sent = started.elapsed();
        if status().await != before {
            return last_stale;
        }
        last_stale = sent;
        assert!(
            started.elapsed() < BOUND * 4,
            "the change took longer than the bound"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_psp_withdrawn_elsewhere_is_refused_within_the_cache_lifetime() {
    let app = spawn_with_cache().await;
    let code_request = || async {
        let body = serde_json::json!({"redirect_uri": "https://www.google.com"});
        app.post_with_ccg("/v1/obie/authorization_codes")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(code_request().await, 201, "warms the cache");

    app.store()
        .await
        .withdraw_psp(sandbox::PSP_ID)
        .await
        .unwrap();

    let stale = last_stale_request(201, code_request).await;
    assert!(stale <= BOUND + Duration::from_millis(100), "{stale:?}");
    assert_eq!(code_request().await, 403);
}

#[tokio::test]
async fn a_consumer_disabled_elsewhere_is_refused_within_the_cache_lifetime() {
    let app = spawn_with_cache().await;
    let introspect = || async {
        let body = serde_json::json!({"access_token": "x"});
        app.post("/v1/obie/tokens/introspection")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(introspect().await, 200, "warms the cache");

    app.store()
        .await
        .disable_consumer(sandbox::CONSUMER_ID)
        .await
        .unwrap();

    let stale = last_stale_request(200, introspect).await;
    assert!(stale <= BOUND + Duration::from_millis(100), "{stale:?}");
    assert_eq!(introspect().await, 401);
}

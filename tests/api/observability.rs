//! `/metrics` and the per-client-id brute-force limit.

use base64::Engine;
use obie_tokens::domain::sandbox;
use serde_json::json;

use crate::helpers::{Options, TestApp, error_codes};

fn basic(client_id: &str, secret: &str) -> String {
    let pair = format!("{client_id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_tokens_redemptions_replays_and_auth_failures() {
    let app = TestApp::spawn().await;
    let code = app.new_code().await;
    assert_eq!(
        app.exchange(&code, "https://www.google.com").await.status(),
        201
    );
    assert_eq!(
        app.exchange(&code, "https://www.google.com").await.status(),
        400
    );
    let wrong = basic(sandbox::CONSUMER_ID, "wrong");
    let refused = app
        .post_as(&wrong, sandbox::FI_REFERENCE_ID, "/v1/obie/tokens")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let text = metrics_text(&app).await;

    assert!(
        text.contains(r#"obie_issued_total{kind="auth_code"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"obie_issued_total{kind="access_token"} 1"#));
    assert!(text.contains("obie_codes_redeemed_total 1"));
    assert!(text.contains("obie_code_replays_total 1"));
    assert!(text.contains(r#"obie_auth_failures_total{code="authentication_failed"} 1"#));
    assert!(text.contains(r#"route="/v1/obie/tokens",status="201"} 1"#));
    assert!(
        text.contains(r#"obie_http_request_duration_seconds_count{route="/v1/obie/tokens"} 3"#)
    );
}

#[tokio::test]
async fn wrong_secrets_for_one_client_id_block_it_while_others_carry_on() {
    let app = TestApp::spawn_with(Options {
        client_failure_limit: 3,
        ..Options::default()
    })
    .await;
    let other = app
        .add_consumer("other-consumer", &[sandbox::FI_REFERENCE_ID])
        .await;
    let wrong = basic(sandbox::CONSUMER_ID, "guess");
    for _ in 0..3 {
        let response = app
            .post_as(
                &wrong,
                sandbox::FI_REFERENCE_ID,
                "/v1/obie/tokens/introspection",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }

    let victim = app
        .post("/v1/obie/tokens/introspection")
        .json(&json!({"access_token": "x"}))
        .send()
        .await
        .unwrap();
    assert!(victim.headers().contains_key("retry-after"));
    assert_eq!(error_codes(victim, 429).await, ["rate_limited"]);
    let bystander = app
        .post_as(
            &other,
            sandbox::FI_REFERENCE_ID,
            "/v1/obie/tokens/introspection",
        )
        .body(r#"{"access_token": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bystander.status(), 200, "other client ids are unaffected");
    assert!(
        metrics_text(&app)
            .await
            .contains("obie_rate_limited_total 1")
    );
}

//! The errors of the HTTP edge (SPEC §3, §5): routing, content type, body size, the
//! failed-authentication limit and the request id every response carries.

use obie_tokens::domain::sandbox;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Options, TestApp, error_codes, header};

#[tokio::test]
async fn an_unknown_path_is_not_found_in_the_envelope() {
    let app = TestApp::spawn().await;

    let get = app.raw(Method::GET, "/nowhere").send().await.unwrap();
    let post = app
        .post("/v1/obie/nowhere")
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    assert_eq!(error_codes(get, 404).await, ["not_found"]);
    assert_eq!(error_codes(post, 404).await, ["not_found"]);
}

#[tokio::test]
async fn a_wrong_method_is_method_not_allowed_with_allow() {
    let app = TestApp::spawn().await;
    let cases = [
        (Method::GET, "/v1/obie/tokens", "POST"),
        (Method::PUT, "/v1/oauth2/tokens", "POST"),
        (Method::DELETE, "/healthz", "GET"),
        (Method::POST, "/docs/errors", "GET"),
    ];

    for (method, path, allowed) in cases {
        let response = app.raw(method.clone(), path).send().await.unwrap();

        assert_eq!(
            header(&response, "allow").as_deref(),
            Some(allowed),
            "{method} {path}"
        );
        assert_eq!(error_codes(response, 405).await, ["method_not_allowed"]);
    }
}

#[tokio::test]
async fn too_many_failed_authentications_are_rate_limited() {
    // Arrange: a limit of 3, reached with wrong secrets.
    let app = TestApp::spawn_with(Options {
        auth_failure_limit: 3,
        ..Options::default()
    })
    .await;
    let attempt = |authorization: &'static str| {
        app.post_as(authorization, sandbox::FI_REFERENCE_ID, "/v1/oauth2/tokens")
            .json(&json!({"grant_type": "client_credentials", "psp_id": sandbox::PSP_ID}))
            .send()
    };
    let wrong = "Basic YXBpLWNvbnN1bWVyLWlkOndyb25n"; // api-consumer-id:wrong
    for _ in 0..3 {
        assert_eq!(attempt(wrong).await.unwrap().status(), 401);
    }

    // Act: even good credentials are refused now.
    let limited = attempt(sandbox::AUTHORIZATION).await.unwrap();
    let health = app.raw(Method::GET, "/healthz").send().await.unwrap();

    // Assert
    let retry_after: u64 = header(&limited, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(error_codes(limited, 429).await, ["rate_limited"]);
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_valid_caller_request_id_is_echoed_in_the_header_and_every_error() {
    let app = TestApp::spawn().await;
    let id = "caller-id-0001";

    let error = app
        .raw(Method::POST, "/v1/obie/tokens")
        .header("Authorization", sandbox::AUTHORIZATION)
        .header("version", "9")
        .header("x-request-id", id)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let success = app
        .raw(Method::GET, "/healthz")
        .header("x-request-id", id)
        .send()
        .await
        .unwrap();

    assert_eq!(header(&error, "x-request-id").as_deref(), Some(id));
    // error_codes checks that each of the three objects carries the header's id.
    let codes = error_codes(error, 400).await;
    assert_eq!(
        codes,
        ["header_missing", "version_unsupported", "header_missing"]
    );
    assert_eq!(header(&success, "x-request-id").as_deref(), Some(id));
}

#[tokio::test]
async fn an_invalid_caller_request_id_is_replaced_by_a_fresh_uuid() {
    let app = TestApp::spawn().await;
    let too_long = "r".repeat(200);

    for id in [too_long.as_str(), "has space", ""] {
        let response = app
            .raw(Method::GET, "/nowhere")
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();

        let echoed = header(&response, "x-request-id").expect("x-request-id");
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed}");
        assert_eq!(error_codes(response, 404).await, ["not_found"]);
    }
}

#[tokio::test]
async fn every_response_gets_its_own_request_id() {
    let app = TestApp::spawn().await;

    let first = app.raw(Method::GET, "/healthz").send().await.unwrap();
    let second = app.raw(Method::GET, "/healthz").send().await.unwrap();

    let (a, b) = (
        header(&first, "x-request-id"),
        header(&second, "x-request-id"),
    );
    assert!(a.is_some() && b.is_some());
    assert_ne!(a, b);
}

#[tokio::test]
async fn a_missing_or_other_content_type_is_content_type_unsupported() {
    let app = TestApp::spawn().await;
    let body = r#"{"grant_type":"client_credentials","psp_id":"PSDGB-FCA-123456"}"#;

    let missing = app
        .post_bare("/v1/oauth2/tokens")
        .body(body)
        .send()
        .await
        .unwrap();
    let text = app
        .post_bare("/v1/oauth2/tokens")
        .header("Content-Type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_codes(missing, 415).await,
        ["content_type_unsupported"]
    );
    assert_eq!(error_codes(text, 415).await, ["content_type_unsupported"]);
}

/// A JSON introspection body of exactly `len` bytes.
fn body_of(len: usize) -> String {
    let prefix = r#"{"access_token":"x","padding":""#;
    format!("{prefix}{}\"}}", "p".repeat(len - prefix.len() - 2))
}

#[tokio::test]
async fn a_body_over_16_kib_is_payload_too_large() {
    let app = TestApp::spawn().await;
    let (limit, over) = (body_of(16 * 1024), body_of(16 * 1024 + 1));
    assert_eq!((limit.len(), over.len()), (16384, 16385));

    let at_limit = app
        .post("/v1/obie/tokens/introspection")
        .body(limit)
        .send()
        .await
        .unwrap();
    let too_large = app
        .post("/v1/obie/tokens/introspection")
        .body(over)
        .send()
        .await
        .unwrap();

    assert_eq!(at_limit.status(), 200);
    assert_eq!(error_codes(too_large, 413).await, ["payload_too_large"]);
}
